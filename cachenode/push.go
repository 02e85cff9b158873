// Messages other connections queue for one (invalidations, MONITOR lines).

package cachenode

import (
	"sync"
	"sync/atomic"
)

// pushBufLimit bounds the invalidation messages queued for one client that
// does not read them; past it the client is closed, as Redis closes clients
// over their output buffer limit.
const pushBufLimit = 64 << 20

// inbox holds the messages other connections queue for a connection
// (invalidations, MONITOR lines) until its goroutine writes them, and the
// means to wake that goroutine from a blocking read to do so.
type inbox struct {
	mu      sync.Mutex  // protects buf and dead
	buf     []byte      // queued messages
	dead    bool        // buf overflowed: the connection is being closed
	pending atomic.Bool // buf is not empty

	wakeMu sync.Mutex  // orders wake's read deadline and woken
	woken  atomic.Bool // wake set the read deadline to now
}

// push queues a message for c's goroutine to write after its current reply,
// and wakes it if it is waiting for a request. self is the connection whose
// goroutine is calling: it writes its queue after the command anyway. Only
// the first message of a queue wakes c: the goroutine takes the whole queue
// once awake. what names the messages in the log when c is closed for not
// reading them.
func (c *conn) push(msg []byte, self *conn, what string) {
	c.inbox.mu.Lock()
	if c.inbox.dead {
		c.inbox.mu.Unlock()
		return // closed for not reading; its goroutine is on the way out
	}
	if len(c.inbox.buf)+len(msg) > c.s.cfg.pushLimit {
		c.inbox.dead = true
		c.inbox.buf = nil
		c.inbox.mu.Unlock()
		c.s.log.Warn("cachenode: closing client that does not read its "+what,
			"client", c.info.addr, "limit", c.s.cfg.pushLimit)
		c.kill()
		return
	}
	first := len(c.inbox.buf) == 0
	c.inbox.buf = append(c.inbox.buf, msg...)
	c.inbox.pending.Store(true)
	c.inbox.mu.Unlock()
	if first && c != self {
		c.wake()
	}
}

// takePushes moves the queued messages to the reply buffer.
func (c *conn) takePushes() {
	if !c.inbox.pending.Load() {
		return
	}
	c.inbox.mu.Lock()
	c.out = append(c.out, c.inbox.buf...)
	if cap(c.inbox.buf) > keepOutCap {
		c.inbox.buf = nil
	} else {
		c.inbox.buf = c.inbox.buf[:0]
	}
	c.inbox.pending.Store(false)
	c.inbox.mu.Unlock()
}
