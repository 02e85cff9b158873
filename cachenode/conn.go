package cachenode

import (
	"errors"
	"net"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachetier/cachetier/internal/resp"
)

// conn is one client connection, served by one goroutine (serve). Fields
// without a comment are owned by that goroutine; the atomics are also read
// by other connections (CLIENT LIST) and the server.
type conn struct {
	s  *Server
	st *stripe // this connection's share of the server's counters
	nc net.Conn
	rd *resp.Reader
	io *rawIO // raw socket I/O (Linux TCP and Unix sockets); nil: use nc

	out     []byte // pending replies, written by flush
	scratch []byte // buffer for values read from the store
	ends    []int  // MGET's value offsets in scratch
	lower   [32]byte
	proto   int
	authed  bool
	quit    bool
	ncmd    uint64 // commands executed, for latency sampling
	rdl     bool   // a read deadline is set
	wdl     bool   // a write deadline is set

	// CLIENT REPLY: replies are dropped while replyOff, and for the current
	// command when replySkip (set for the command after CLIENT REPLY SKIP,
	// from replySkipNext). outMark is where the current command's reply
	// starts in out.
	replyOff, replySkip, replySkipNext bool
	outMark                            int

	id      int64
	created time.Time
	addr    string
	laddr   string

	name       atomic.Pointer[string]
	libName    atomic.Pointer[string]
	libVer     atomic.Pointer[string]
	lastActive atomic.Int64 // unix nanoseconds of the last read from the client
	lastCmd    atomic.Pointer[command]
	protoSeen  atomic.Int32 // proto, for other connections' CLIENT LIST
	noEvict    atomic.Bool  // CLIENT NO-EVICT on (shown in CLIENT LIST)
	noTouch    atomic.Bool  // CLIENT NO-TOUCH on: reads do not update the LRU clock

	tx          *transaction // MULTI in progress; nil otherwise
	watch       *watchState  // WATCH in effect; nil otherwise (see watcher)
	inExec      bool         // EXEC is running the queued commands
	modSet      bool         // the running write command reported the keys it changed (changed, unchanged)
	modKeys     [][]byte     // those keys
	trk         *tracking    // CLIENT TRACKING options; nil when off (see tracker)
	pushMu      sync.Mutex   // protects pushBuf and pushDead
	pushBuf     []byte       // invalidation messages (and MONITOR lines) queued by other connections
	pushDead    bool         // pushBuf overflowed: the connection is being closed
	pushPending atomic.Bool  // pushBuf is not empty
	wakeMu      sync.Mutex   // orders wake's read deadline and woken
	woken       atomic.Bool  // wake set the read deadline to now

	blockPending bool         // WAIT ran: block before the next command
	blockUntil   time.Time    // the WAIT's deadline; zero: none
	blockState   atomic.Int32 // blockNone, blockWaiting, or how CLIENT UNBLOCK ended the wait

	monitoring  atomic.Bool // MONITOR is on (see monitors)
	monReplyOff atomic.Bool // replyOff, for the connections feeding this monitor
	monLine     []byte      // the MONITOR line of this connection's command
	redact      uint64      // arguments of the running command MONITOR shows as "(redacted)" (AUTH)
}

func newConn(s *Server, nc net.Conn) *conn {
	c := &conn{
		s:       s,
		nc:      nc,
		proto:   2,
		id:      s.nextID.Add(1),
		created: time.Now(),
		addr:    nc.RemoteAddr().String(),
		laddr:   nc.LocalAddr().String(),
	}
	c.st = &s.stripes[c.id%statStripes]
	c.authed = *s.requirePass.Load() == ""
	c.io = newRawIO(nc)
	c.rd = resp.NewReader(c)
	c.rd.Unauthenticated = !c.authed
	c.lastActive.Store(c.created.UnixNano())
	c.protoSeen.Store(2)
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
	return !c.authed && *c.s.requirePass.Load() != ""
}

func (c *conn) serve() {
	defer c.rd.Release() // last: nothing reads the buffer after serve
	defer c.s.removeConn(c)
	defer c.nc.Close()
	defer c.io.close() // before the Close: it ends rawIO's open read
	defer func() {
		if r := recover(); r != nil {
			c.s.log.Error("cachenode: panic serving client; connection closed",
				"client", c.addr, "panic", r, "stack", string(debug.Stack()))
		}
	}()
	for {
		args, err := c.rd.Next()
		if err == nil {
			c.outMark = len(c.out)
			c.exec(args)
			c.endReply()
			if c.blockPending && !c.block() {
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
			c.s.log.Debug("cachenode: protocol error; closing client", "client", c.addr, "err", err)
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
		if c.s.shuttingDown.Load() {
			return
		}
		timeout := time.Duration(c.s.timeout.Load())
		if c.monitoring.Load() {
			timeout = 0 // as in Redis, the idle timeout spares monitors (they only read)
		}
		woken := false
		if timeout > 0 {
			woken = c.armRead(time.Now().Add(timeout))
		} else if c.rdl {
			woken = c.armRead(time.Time{})
		}
		if c.s.shuttingDown.Load() { // Shutdown may have set a deadline we just replaced
			return
		}
		if c.rd.Unauthenticated && !c.authRequired() {
			c.rd.Unauthenticated = false // requirepass was removed with CONFIG SET
		}
		if (woken || c.woken.Load()) && c.takeWake(timeout) {
			continue // write the invalidation messages first
		}
		err = c.rd.Fill()
		// takeWake locks before it looks at woken: a wake may have moved the
		// deadline and not yet set woken.
		if err != nil && isTimeout(err) && !c.s.shuttingDown.Load() && c.takeWake(timeout) {
			continue // another connection queued invalidation messages (CLIENT TRACKING)
		}
		c.lastActive.Store(time.Now().UnixNano())
		if err != nil {
			var ne net.Error
			switch {
			case errors.Is(err, resp.ErrQueryBufferLimit):
				c.s.log.Warn("cachenode: closing client that reached max query buffer length",
					"client", c.addr, "limit", c.rd.MaxQueryBuffer)
			case errors.As(err, &ne) && ne.Timeout() && !c.s.shuttingDown.Load():
				c.s.log.Debug("cachenode: closing idle client", "client", c.addr, "timeout", timeout)
			}
			return
		}
	}
}

// wake makes the connection's goroutine return from a blocking read, to
// write messages that another connection queued for it.
func (c *conn) wake() {
	c.wakeMu.Lock()
	_ = c.nc.SetReadDeadline(time.Now())
	c.woken.Store(true)
	c.wakeMu.Unlock()
}

// armRead sets the read deadline for the next wait for input (zero: none),
// unless a wake is pending, and reports whether one is. It holds wakeMu, so
// it never replaces the deadline a concurrent wake has just set.
func (c *conn) armRead(d time.Time) (woken bool) {
	c.wakeMu.Lock()
	defer c.wakeMu.Unlock()
	if c.woken.Load() {
		return true
	}
	_ = c.nc.SetReadDeadline(d)
	c.rdl = !d.IsZero()
	return false
}

// takeWake reports whether wake was called since the last takeWake and, if
// so, puts back the read deadline serve uses (timeout, or none). A read that
// timed out while woken is false hit serve's own deadline: wake changes the
// deadline and sets woken under wakeMu, and takeWake restores the deadline
// and clears woken under it.
func (c *conn) takeWake(timeout time.Duration) bool {
	c.wakeMu.Lock()
	defer c.wakeMu.Unlock()
	if !c.woken.Load() {
		return false
	}
	c.woken.Store(false)
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
