// CLIENT PAUSE and UNPAUSE: the pause state and the wait of a paused command.

package cachenode

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachetier/cachetier/internal/resp"
)

// pauseControl is the server's CLIENT PAUSE.
type pauseControl struct {
	mu    sync.Mutex                 // serialises CLIENT PAUSE / UNPAUSE
	state atomic.Pointer[pauseState] // the pause in effect, nil if none; read by every command
}

// pauseState is a CLIENT PAUSE in effect. It is immutable: a new PAUSE or
// an UNPAUSE replaces it and closes its changed channel, so waiting
// connections look again.
type pauseState struct {
	until   time.Time
	all     bool          // ALL: every command waits; else only write commands
	changed chan struct{} // closed when this state is replaced
}

// setPause replaces the pause in effect by p (nil: unpause). With merge, p
// takes the later end and the stronger mode of the pause it replaces.
func (s *Server) setPause(p *pauseState, merge bool) {
	s.pause.mu.Lock()
	defer s.pause.mu.Unlock()
	if old := s.pause.state.Load(); merge && old != nil {
		p.all = p.all || old.all
		if old.until.After(p.until) {
			p.until = old.until
		}
	}
	old := s.pause.state.Swap(p)
	if old != nil {
		close(old.changed)
	}
	if p == nil {
		s.store.PauseExpiry(0)
	} else {
		s.store.PauseExpiry(p.until.UnixMilli()) // like Redis: no expiry or eviction meanwhile
	}
}

// waitPause blocks the connection, as Redis postpones a paused client's
// command, until the pause ends (timeout or CLIENT UNPAUSE), no longer
// applies to cmd, or the server closes. Replies already pending are written
// first, so a pipeline's earlier replies are not held back.
func (c *conn) waitPause(write bool) {
	c.flush()
	for {
		p := c.s.pause.state.Load()
		if p == nil || !(p.all || write) {
			return
		}
		d := time.Until(p.until)
		if d <= 0 {
			c.s.setPauseExpired(p)
			return
		}
		t := time.NewTimer(d)
		select {
		case <-p.changed:
		case <-t.C:
		case <-c.s.life.closed:
			t.Stop()
			return
		}
		t.Stop()
	}
}

// setPauseExpired clears p if it is still the pause in effect.
func (s *Server) setPauseExpired(p *pauseState) {
	s.pause.mu.Lock()
	defer s.pause.mu.Unlock()
	if s.pause.state.CompareAndSwap(p, nil) {
		close(p.changed)
		s.store.PauseExpiry(0)
	}
}

// maxPause bounds a CLIENT PAUSE timeout so that the end time does not
// overflow (a longer WAIT waits for ever).
const maxPause = 100 * 365 * 24 * time.Hour

// timeoutMs parses a timeout in milliseconds (CLIENT PAUSE, WAIT) like
// Redis's getTimeoutFromObjectOrReply; on a bad one it replies the error and
// reports false.
func (c *conn) timeoutMs(arg []byte) (int64, bool) {
	ms, ok := resp.ParseInt(arg)
	if !ok {
		c.err("ERR timeout is not an integer or out of range")
		return 0, false
	}
	if ms < 0 {
		c.err("ERR timeout is negative")
		return 0, false
	}
	return ms, true
}

// cmdClientPause: CLIENT PAUSE timeout-ms [WRITE|ALL]. Like Redis, a pause
// while another is in effect keeps the later end and the stronger mode, and
// in ALL mode every command waits, CLIENT UNPAUSE included (the pause then
// ends at its timeout). Shutdown ends a pause.
func cmdClientPause(c *conn, args [][]byte) {
	if len(args) > 4 {
		c.err(errSubcommandArgs(args[1], "CLIENT"))
		return
	}
	all := true
	if len(args) == 4 {
		switch {
		case eq(args[3], "write"):
			all = false
		case eq(args[3], "all"):
		default:
			c.err("ERR CLIENT PAUSE mode must be WRITE or ALL")
			return
		}
	}
	ms, ok := c.timeoutMs(args[2])
	if !ok {
		return
	}
	d := time.Duration(min(ms, int64(maxPause/time.Millisecond))) * time.Millisecond
	p := &pauseState{until: time.Now().Add(d), all: all, changed: make(chan struct{})}
	c.s.setPause(p, true)
	c.ok()
}

func cmdClientUnpause(c *conn, _ [][]byte) {
	c.s.setPause(nil, false)
	c.ok()
}
