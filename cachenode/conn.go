// A client connection: its state, its read loop and waking a blocked read.

package cachenode

import (
	"errors"
	"net"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/cachetier/cachetier/internal/resp"
)

// conn is one client connection, served by one goroutine (serve), which
// owns every field unless its group says otherwise. The groups hold one
// concern each; they are values, so reaching a field costs no indirection.
type conn struct {
	s    *Server
	st   *stripe // this connection's share of the server's counters
	id   int64   // CLIENT ID; immutable
	ncmd uint64  // commands run, for latency sampling

	connIO              // socket, request reader, reply buffer, scratch space
	info   clientInfo   // identity, authentication and what CLIENT LIST shows
	reply  replyMode    // CLIENT REPLY ON|OFF|SKIP
	tx     txState      // MULTI queue and WATCH (tx_multi.go)
	mod    modifiedKeys // keys the running write command says it changed (command_exec.go)
	trk    *tracking    // CLIENT TRACKING options, nil when off; under Server.trk.mu (tracking.go)
	inbox  inbox        // messages other connections queue for this one, and its wake-up (push.go)
	wait   waitState    // a WAIT in progress (block_wait.go)
	mon    monitorState // MONITOR (push_monitor.go)
}

// connIO is a connection's network side: the socket, the request reader and
// the reply buffer, with the scratch space commands use. Only the
// connection's goroutine touches it.
type connIO struct {
	nc net.Conn
	rd *resp.Reader
	io *rawIO // raw socket I/O (Linux TCP and Unix sockets); nil: use nc

	out     []byte   // pending replies, written by flush
	outMark int      // where the current command's reply starts in out
	proto   int      // RESP version of the replies: 2 or 3 (HELLO)
	quit    bool     // close once the pending replies are written
	rdl     bool     // a read deadline is set
	wdl     bool     // a write deadline is set
	scratch []byte   // buffer for values read from the store
	ends    []int    // MGET's value offsets in scratch
	lower   [32]byte // a command name in lower case, for lookups
}

// clientInfo is who the client is and what CLIENT LIST and CLIENT INFO
// show of it. The atomics are set by the connection's goroutine and read by
// others; the rest is immutable, except authed, which only the
// connection's goroutine touches.
type clientInfo struct {
	created time.Time
	addr    string
	laddr   string
	authed  bool // AUTH or HELLO AUTH succeeded, or no password is required

	name       atomic.Pointer[string]
	libName    atomic.Pointer[string]
	libVer     atomic.Pointer[string]
	lastActive atomic.Int64 // unix nanoseconds of the last read from the client
	lastCmd    atomic.Pointer[command]
	protoSeen  atomic.Int32 // proto, for other connections' CLIENT LIST
	noEvict    atomic.Bool  // CLIENT NO-EVICT on (shown in CLIENT LIST)
	noTouch    atomic.Bool  // CLIENT NO-TOUCH on: reads do not update the LRU clock
}

// replyMode is CLIENT REPLY's setting: replies are dropped while off, and
// for the current command when skip (set for the command after CLIENT
// REPLY SKIP, from skipNext). endReply applies it.
type replyMode struct {
	off, skip, skipNext bool
}

func newConn(s *Server, nc net.Conn) *conn {
	c := &conn{
		s:      s,
		id:     s.net.nextID.Add(1),
		connIO: connIO{nc: nc, proto: 2},
		info: clientInfo{
			created: time.Now(),
			addr:    nc.RemoteAddr().String(),
			laddr:   nc.LocalAddr().String(),
		},
	}
	c.st = &s.stats.stripes[c.id%statStripes]
	c.info.authed = *s.settings.requirePass.Load() == ""
	c.io = newRawIO(nc)
	c.rd = resp.NewReader(c)
	c.rd.Unauthenticated = !c.info.authed
	c.info.lastActive.Store(c.info.created.UnixNano())
	c.info.protoSeen.Store(2)
	return c
}

// Read reads from the network connection, counting bytes for INFO.
func (c *conn) Read(p []byte) (int, error) {
	var n int
	var err error
	if c.io != nil {
		n, err = c.io.read(p)
	} else {
		n, err = c.nc.Read(p)
	}
	c.st.netIn.Add(uint64(n))
	return n, err
}

// interrupt wakes a connection blocked reading so it notices Shutdown.
func (c *conn) interrupt() { _ = c.nc.SetReadDeadline(time.Now()) }

// authRequired reports whether the client must still authenticate.
func (c *conn) authRequired() bool {
	return !c.info.authed && *c.s.settings.requirePass.Load() != ""
}

// serve is the connection's read loop: it runs every command already
// buffered (exec), writes their replies once no more input is waiting
// (flush), then waits for input or for a wake-up. It returns when the
// connection must close, and unregisters it.
func (c *conn) serve() {
	defer c.rd.Release() // last: nothing reads the buffer after serve
	defer c.s.removeConn(c)
	defer c.nc.Close()
	defer c.io.close() // before the Close: it ends rawIO's open read
	defer func() {
		if r := recover(); r != nil {
			c.s.stats.panics.Add(1)
			c.s.log.Error("cachenode: panic serving client; connection closed",
				"client", c.info.addr, "panic", r, "stack", string(debug.Stack()))
		}
	}()
	for {
		args, err := c.rd.Next()
		if err == nil {
			c.outMark = len(c.out)
			c.exec(args)
			c.endReply()
			if c.wait.pending && !c.block() {
				return
			}
			if c.quit {
				c.flush()
				return
			}
			if len(c.out) >= flushThreshold && !c.flush() {
				return
			}
			continue
		}
		if err != resp.ErrIncomplete {
			// Protocol error: reply like Redis, then close.
			c.err("ERR " + err.Error())
			c.flush()
			c.s.log.Debug("cachenode: protocol error; closing client", "client", c.info.addr, "err", err)
			return
		}
		if len(c.out) > 0 {
			// Let the other connections that are ready run their commands
			// before this one's replies go out, as Redis's event loop does
			// (it answers everything it read in one pass before it polls
			// again). Replies then reach a client in bursts rather than a
			// trickle, and each connection waits about one pass: under
			// pipelined load this lowers the p99 (BENCHMARKS.md). Costs
			// ~0.2 µs when nothing else is runnable.
			runtime.Gosched()
		}
		if !c.flush() {
			return
		}
		if c.s.life.shuttingDown.Load() {
			return
		}
		timeout := time.Duration(c.s.settings.timeout.Load())
		if c.mon.on.Load() {
			timeout = 0 // as in Redis, the idle timeout spares monitors (they only read)
		}
		woken := false
		if timeout > 0 {
			woken = c.armRead(time.Now().Add(timeout))
		} else if c.rdl {
			woken = c.armRead(time.Time{})
		}
		if c.s.life.shuttingDown.Load() { // Shutdown may have set a deadline we just replaced
			return
		}
		if c.rd.Unauthenticated && !c.authRequired() {
			c.rd.Unauthenticated = false // requirepass was removed with CONFIG SET
		}
		c.rd.MaxBulk = c.s.settings.protoMaxBulk.Load() // CONFIG SET proto-max-bulk-len
		if (woken || c.inbox.woken.Load()) && c.takeWake(timeout) {
			continue // write the invalidation messages first
		}
		err = c.rd.Fill()
		// takeWake locks before it looks at woken: a wake may have moved the
		// deadline and not yet set woken.
		if err != nil && isTimeout(err) && !c.s.life.shuttingDown.Load() && c.takeWake(timeout) {
			continue // another connection queued invalidation messages (CLIENT TRACKING)
		}
		c.info.lastActive.Store(time.Now().UnixNano())
		if err != nil {
			var ne net.Error
			switch {
			case errors.Is(err, resp.ErrQueryBufferLimit):
				c.s.log.Warn("cachenode: closing client that reached max query buffer length",
					"client", c.info.addr, "limit", c.rd.MaxQueryBuffer)
			case errors.As(err, &ne) && ne.Timeout() && !c.s.life.shuttingDown.Load():
				c.s.log.Debug("cachenode: closing idle client", "client", c.info.addr, "timeout", timeout)
			}
			return
		}
	}
}

// wake makes the connection's goroutine return from a blocking read, to
// write messages that another connection queued for it.
func (c *conn) wake() {
	c.inbox.wakeMu.Lock()
	_ = c.nc.SetReadDeadline(time.Now())
	c.inbox.woken.Store(true)
	c.inbox.wakeMu.Unlock()
}

// armRead sets the read deadline for the next wait for input (zero: none),
// unless a wake is pending, and reports whether one is. It holds
// inbox.wakeMu, so it never replaces the deadline a concurrent wake has just
// set.
func (c *conn) armRead(d time.Time) (woken bool) {
	c.inbox.wakeMu.Lock()
	defer c.inbox.wakeMu.Unlock()
	if c.inbox.woken.Load() {
		return true
	}
	_ = c.nc.SetReadDeadline(d)
	c.rdl = !d.IsZero()
	return false
}

// takeWake reports whether wake was called since the last takeWake and, if
// so, puts back the read deadline serve uses (timeout, or none). A read that
// timed out while woken is false hit serve's own deadline: wake changes the
// deadline and sets woken under inbox.wakeMu, and takeWake restores the
// deadline and clears woken under it.
func (c *conn) takeWake(timeout time.Duration) bool {
	c.inbox.wakeMu.Lock()
	defer c.inbox.wakeMu.Unlock()
	if !c.inbox.woken.Load() {
		return false
	}
	c.inbox.woken.Store(false)
	if timeout > 0 {
		_ = c.nc.SetReadDeadline(time.Now().Add(timeout))
		c.rdl = true
	} else {
		_ = c.nc.SetReadDeadline(time.Time{})
		c.rdl = false
	}
	return true
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
