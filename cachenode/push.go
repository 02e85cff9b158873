package cachenode

// pushBufLimit bounds the invalidation messages queued for one client that
// does not read them; past it the client is closed, as Redis closes clients
// over their output buffer limit.
const pushBufLimit = 64 << 20

// push queues a message for c's goroutine to write after its current reply,
// and wakes it if it is waiting for a request. self is the connection whose
// goroutine is calling: it writes its queue after the command anyway. Only
// the first message of a queue wakes c: the goroutine takes the whole queue
// once awake. what names the messages in the log when c is closed for not
// reading them.
func (c *conn) push(msg []byte, self *conn, what string) {
	c.pushMu.Lock()
	if c.pushDead {
		c.pushMu.Unlock()
		return // closed for not reading; its goroutine is on the way out
	}
	if len(c.pushBuf)+len(msg) > c.s.cfg.pushLimit {
		c.pushDead = true
		c.pushBuf = nil
		c.pushMu.Unlock()
		c.s.log.Warn("cachenode: closing client that does not read its "+what,
			"client", c.addr, "limit", c.s.cfg.pushLimit)
		c.kill()
		return
	}
	first := len(c.pushBuf) == 0
	c.pushBuf = append(c.pushBuf, msg...)
	c.pushPending.Store(true)
	c.pushMu.Unlock()
	if first && c != self {
		c.wake()
	}
}

// takePushes moves the queued messages to the reply buffer.
func (c *conn) takePushes() {
	if !c.pushPending.Load() {
		return
	}
	c.pushMu.Lock()
	c.out = append(c.out, c.pushBuf...)
	if cap(c.pushBuf) > keepOutCap {
		c.pushBuf = nil
	} else {
		c.pushBuf = c.pushBuf[:0]
	}
	c.pushPending.Store(false)
	c.pushMu.Unlock()
}
