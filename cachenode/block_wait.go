// WAIT, the one blocking command, and CLIENT UNBLOCK.

package cachenode

import (
	"sync/atomic"
	"time"

	"github.com/cachetier/cachetier/internal/resp"
)

// WAIT is the one command that blocks. A node has no replicas, so no write
// is ever acknowledged by one: WAIT 0 answers 0 at once and a positive count
// waits out its timeout (0: for ever) and answers 0, as redis-server without
// replicas does. The wait happens in the connection's goroutine after the
// command has run (block), outside the locks commands run under; CLIENT
// UNBLOCK, Shutdown and the client leaving end it early.

// Values of conn.wait.state.
const (
	blockNone         int32 = iota // not blocked
	blockWaiting                   // in WAIT
	blockUnblockTime               // CLIENT UNBLOCK id [TIMEOUT]: answer as at the timeout
	blockUnblockError              // CLIENT UNBLOCK id ERROR: answer -UNBLOCKED
)

// waitState is a connection's WAIT: set by cmdWait, waited out by block
// in the connection's goroutine; state is also changed by CLIENT UNBLOCK
// from other connections.
type waitState struct {
	pending bool         // WAIT ran: block before the next command
	until   time.Time    // the WAIT's deadline; zero: none
	state   atomic.Int32 // blockNone, blockWaiting, or how CLIENT UNBLOCK ended the wait
}

func cmdWait(c *conn, args [][]byte) {
	n, ok := resp.ParseInt(args[1])
	if !ok {
		c.err(errNotInt)
		return
	}
	ms, ok := c.timeoutMs(args[2])
	if !ok {
		return
	}
	now := time.Now()
	if ms > 0 && ms > 1<<63-1-now.UnixMilli() { // Redis's check: now + timeout would overflow
		c.err("ERR timeout is out of range")
		return
	}
	if n <= 0 || c.tx.inExec { // nothing to wait for; EXEC never blocks, as in Redis
		c.int(0)
		return
	}
	c.wait.pending = true
	c.wait.until = time.Time{}
	if ms > 0 && ms <= int64(maxPause/time.Millisecond) { // longer: for ever, the same in practice
		c.wait.until = now.Add(time.Duration(ms) * time.Millisecond)
	}
}

// block holds the connection's goroutine while its WAIT waits: until the
// deadline, CLIENT UNBLOCK, Shutdown or the client leaving. The replies
// before it go out first; input that arrives meanwhile is read into the
// buffer and runs after it, as in Redis; tracking and MONITOR messages are
// still written. It reports false when the connection must close.
func (c *conn) block() bool {
	c.wait.pending = false
	if !c.flush() {
		return false
	}
	c.s.stats.blocked.Add(1) // taken off by whoever ends the wait: endBlock or unblock
	c.wait.state.Store(blockWaiting)
	for {
		if c.s.life.shuttingDown.Load() {
			c.endBlock()
			return false
		}
		st := c.wait.state.Load()
		if st == blockWaiting && !c.wait.until.IsZero() && !time.Now().Before(c.wait.until) {
			st = blockUnblockTime // the timeout
		}
		if st != blockWaiting {
			if c.endBlock() == blockUnblockError {
				c.err("UNBLOCKED client unblocked via CLIENT UNBLOCK")
			} else {
				c.int(0) // no replica acknowledged
			}
			return true
		}
		if c.armRead(c.wait.until) {
			c.takeWake(0)
			if !c.flush() {
				c.endBlock()
				return false
			}
			continue
		}
		if c.s.life.shuttingDown.Load() { // Shutdown's deadline may have been replaced
			continue
		}
		err := c.rd.Fill()
		if err == nil {
			c.info.lastActive.Store(time.Now().UnixNano())
		} else if !isTimeout(err) {
			c.endBlock()
			return false
		}
	}
}

// endBlock ends c's wait from its own goroutine and returns how it ended:
// blockWaiting (timeout, or the connection closing) or CLIENT UNBLOCK's mode.
func (c *conn) endBlock() int32 {
	st := c.wait.state.Swap(blockNone)
	if st == blockWaiting {
		c.s.stats.blocked.Add(-1)
	}
	return st
}

// unblock is CLIENT UNBLOCK's effect on c: it ends c's WAIT with mode
// (blockUnblockTime or blockUnblockError) and reports whether c was blocked.
func (c *conn) unblock(mode int32) bool {
	if !c.wait.state.CompareAndSwap(blockWaiting, mode) {
		return false
	}
	c.s.stats.blocked.Add(-1)
	c.wake()
	return true
}

// cmdClientUnblock is CLIENT UNBLOCK id [TIMEOUT|ERROR]: it ends a client's
// WAIT (the only blocking command) as its timeout would, or with an
// -UNBLOCKED error, and answers 1; 0 for a client that is not blocked.
func cmdClientUnblock(c *conn, args [][]byte) {
	if len(args) > 4 {
		c.err(errSubcommandArgs(args[1], "CLIENT"))
		return
	}
	if len(args) == 4 && !eq(args[3], "timeout") && !eq(args[3], "error") {
		c.err("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
		return
	}
	id, ok := resp.ParseInt(args[2])
	if !ok {
		c.err(errNotInt)
		return
	}
	mode := blockUnblockTime
	if len(args) == 4 && eq(args[3], "error") {
		mode = blockUnblockError
	}
	var target *conn
	c.s.net.mu.Lock()
	for cl := range c.s.net.conns {
		if cl.id == id {
			target = cl
			break
		}
	}
	c.s.net.mu.Unlock()
	if target != nil && target.unblock(mode) {
		c.int(1)
		return
	}
	c.int(0)
}
