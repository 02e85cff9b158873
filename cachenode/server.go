package cachenode

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachetier/cachetier/cachenode/internal/store"
	"github.com/prometheus/client_golang/prometheus"
)

// ErrServerClosed is returned by Serve and ListenAndServe after Shutdown or
// Close, or once a client's SHUTDOWN command has started the server's
// shutdown (call Shutdown to wait for it to finish).
var ErrServerClosed = errors.New("cachenode: server closed")

// Server is a Redis-protocol cache server. Create it with New, run it with
// ListenAndServe or Serve, stop it with Shutdown or Close.
type Server struct {
	cfg   Config
	log   *slog.Logger
	store *store.Store
	start time.Time
	runID string

	// Settings changeable with CONFIG SET.
	maxMemory   atomic.Int64
	policy      atomic.Int64 // store.Policy
	maxClients  atomic.Int64
	timeout     atomic.Int64 // time.Duration
	requirePass atomic.Pointer[string]

	stats    []cmdStats  // indexed by command.id
	inst     instMetrics // INFO's instantaneous rates and memory peak (instant.go)
	metrics  *metrics
	registry *prometheus.Registry

	nextID        atomic.Int64
	connsTotal    atomic.Uint64
	rejected      atomic.Uint64
	stripes       [statStripes]stripe
	lastRejectLog atomic.Int64
	maxOut        atomic.Int64             // largest reply batch written (INFO client_recent_max_output_buffer)
	base          atomic.Pointer[statBase] // counters at the last CONFIG RESETSTAT (zeros before)

	// Safe for concurrent use on their own (own locks, atomics, channels).
	closer         *deferredCloser // releases disconnected clients' sockets (Linux)
	idleWorkers    chan *conn      // connection goroutines waiting for a new connection (worker)
	workerWG       sync.WaitGroup  // connection goroutines
	workersStarted atomic.Int64    // for tests
	trk            tracker         // CLIENT TRACKING
	mon            monitors        // MONITOR
	blocked        atomic.Int64    // connections in WAIT (INFO blocked_clients)
	watch          watcher         // WATCH
	errStats       errorStats      // INFO errorstats
	execLock       execLock        // MULTI/EXEC: commands read-lock a stripe, EXEC write-locks all
	connWG         sync.WaitGroup
	serveWG        sync.WaitGroup
	closeOnce      sync.Once

	mu        sync.Mutex // protects the fields below
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	addr      net.Addr
	httpSrv   *http.Server
	httpLn    net.Listener
	closing   bool

	shuttingDown atomic.Bool   // mirrors closing for lock-free reads
	closed       chan struct{} // closed when closing is set: ends CLIENT PAUSE waits

	pauseMu sync.Mutex                 // serialises CLIENT PAUSE / UNPAUSE
	pause   atomic.Pointer[pauseState] // the CLIENT PAUSE in effect, nil if none
}

// New validates cfg, fills its defaults and returns a Server with an empty
// store. It returns an error for a bad policy name or negative limits. Like
// redis-server, on Linux and macOS it raises the process's open-files limit
// (ulimit -n) to MaxClients+32 if it is lower and the system allows it, and
// otherwise lowers MaxClients to fit (with a warning in the log); an error
// if the limit leaves no room for a client.
func New(cfg Config) (*Server, error) {
	c, pol, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	allowed, fdLimit := fitOpenFiles(int64(c.MaxClients))
	if allowed < int64(c.MaxClients) {
		if allowed < 1 {
			return nil, fmt.Errorf("cachenode: the open files limit (ulimit -n) of %d is not enough to serve clients; raise it to at least %d", fdLimit, reservedFDs+1)
		}
		c.Logger.Warn("cachenode: maxclients reduced to fit the open files limit; raise 'ulimit -n' for more clients",
			"requested_maxclients", c.MaxClients, "maxclients", allowed, "open_files_limit", fdLimit, "reserved_fds", reservedFDs)
		c.MaxClients = int(allowed)
	}
	var id [20]byte
	_, _ = rand.Read(id[:])
	s := &Server{
		cfg:         c,
		log:         c.Logger,
		start:       time.Now(),
		runID:       hex.EncodeToString(id[:]),
		listeners:   make(map[net.Listener]struct{}),
		closer:      newDeferredCloser(fdLimit),
		idleWorkers: make(chan *conn),
		conns:       make(map[*conn]struct{}),
		closed:      make(chan struct{}),
	}
	s.maxMemory.Store(c.MaxMemory)
	s.policy.Store(int64(pol))
	s.maxClients.Store(int64(c.MaxClients))
	s.timeout.Store(int64(c.Timeout))
	pw := c.RequirePass
	s.requirePass.Store(&pw)
	s.stats = make([]cmdStats, len(commandList)+1) // last: unknown commands
	s.base.Store(newStatBase(len(s.stats)))
	for i := range s.stripes {
		s.stripes[i].cmd = make([]cmdCount, len(commandList)+1)
	}
	s.store = store.New(store.Config{MaxMemory: c.MaxMemory, Policy: pol, Tick: s.sampleStats})
	s.trk.init()
	s.store.SetRemoveHook(func(key []byte) { s.keyModified(key, nil) }) // expired, evicted
	s.registry = prometheus.NewRegistry()
	s.metrics = newMetrics(s)
	s.registry.MustRegister(s.metrics)
	s.inst.ready.Store(true) // after s.store is set: sampleStats reads it
	return s, nil
}

// Addr returns the address of the first listener being served, or nil until
// the server listens.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// MetricsAddr returns the address of the metrics HTTP listener, or nil when
// metrics are off or not listening yet.
func (s *Server) MetricsAddr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.httpLn == nil {
		return nil
	}
	return s.httpLn.Addr()
}

// Registry returns the server's own Prometheus registry (no global state),
// for embedding its metrics in another HTTP mux.
func (s *Server) Registry() *prometheus.Registry { return s.registry }

// ListenAndServe listens on Config.Addr and, when Config.MetricsAddr is set,
// serves metrics on it, then serves clients until Shutdown or Close. It
// always returns a non-nil error: ErrServerClosed after Shutdown or Close.
// On Linux its listener accepts and closes connections without ordinary
// system calls, which keeps the Go runtime's monitor thread from competing
// for the CPU when a burst of connections arrives; Serve uses any listener
// as given.
func (s *Server) ListenAndServe() error {
	if s.shuttingDown.Load() {
		return ErrServerClosed
	}
	ln, err := s.listen(s.cfg.Addr)
	if err != nil {
		return err
	}
	if s.cfg.MetricsAddr != "" {
		mln, err := net.Listen("tcp", s.cfg.MetricsAddr)
		if err != nil {
			ln.Close()
			return err
		}
		if err := s.serveMetrics(mln); err != nil {
			ln.Close()
			return err
		}
	}
	return s.Serve(ln)
}

// Serve accepts connections on ln and serves each in its own goroutine
// until Shutdown or Close; ln is closed when Serve returns. It always returns
// a non-nil error: ErrServerClosed after Shutdown or Close.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	if s.addr == nil {
		s.addr = ln.Addr()
	}
	s.serveWG.Add(1)
	s.mu.Unlock()
	defer s.serveWG.Done()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
		ln.Close()
	}()

	s.log.Info("cachenode listening",
		"addr", ln.Addr().String(),
		"maxmemory", s.maxMemory.Load(),
		"maxmemory_policy", store.Policy(s.policy.Load()).String(),
		"maxclients", s.maxClients.Load(),
		"timeout", time.Duration(s.timeout.Load()).String(),
		"requirepass", *s.requirePass.Load() != "",
		"metrics_addr", s.cfg.MetricsAddr)

	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.shuttingDown.Load() {
				return ErrServerClosed
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			// EMFILE, ECONNABORTED and the like: back off and retry, as net/http does.
			if delay == 0 {
				delay = 5 * time.Millisecond
			} else if delay *= 2; delay > time.Second {
				delay = time.Second
			}
			s.log.Warn("cachenode: accept error; retrying", "err", err, "delay", delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		s.accept(nc)
	}
}

// accept registers nc and starts its goroutine, or rejects it when the
// server is full or closing.
func (s *Server) accept(nc net.Conn) {
	s.connsTotal.Add(1)
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		nc.Close()
		return
	}
	if int64(len(s.conns)) >= s.maxClients.Load() {
		s.mu.Unlock()
		s.rejected.Add(1)
		s.logRejected(nc)
		// Like Redis: best-effort error reply, then close.
		_ = nc.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = nc.Write([]byte("-ERR max number of clients reached\r\n"))
		nc.Close()
		return
	}
	c := newConn(s, nc)
	s.conns[c] = struct{}{}
	s.trk.addConn(c)
	s.connWG.Add(1)
	s.mu.Unlock()
	select {
	case s.idleWorkers <- c: // a goroutine that served a closed connection takes it
	default:
		s.workerWG.Add(1)
		s.workersStarted.Add(1)
		go s.worker(c)
	}
}

// workerIdle is how long a connection goroutine waits for a new connection
// after its client left, before it exits.
const workerIdle = 30 * time.Second

// worker serves c and then, for up to workerIdle, the connections accept
// hands it, until the server closes. Reusing goroutines keeps their grown
// stacks: a new goroutine's stack starts at 2 KiB and grows by copying into
// memory that, while clients come and go, is often fresh and page-faulted
// in, at the moment a burst of new connections wants the CPU.
func (s *Server) worker(c *conn) {
	defer s.workerWG.Done()
	for {
		c.serve()
		t := time.NewTimer(workerIdle)
		select {
		case c = <-s.idleWorkers:
			t.Stop()
			continue
		case <-t.C:
		case <-s.closed:
			t.Stop()
		}
		return
	}
}

func (s *Server) logRejected(nc net.Conn) {
	now := time.Now().Unix()
	if last := s.lastRejectLog.Load(); last != now && s.lastRejectLog.CompareAndSwap(last, now) {
		s.log.Warn("cachenode: max number of clients reached; rejecting connections",
			"remote", nc.RemoteAddr().String(), "maxclients", s.maxClients.Load())
	}
}

// keyModified tells the clients tracking key (CLIENT TRACKING) and those
// watching it (WATCH) that it changed. modifier is the connection whose
// command changed it; nil for expiry and eviction (the store's remove hook).
func (s *Server) keyModified(key []byte, modifier *conn) {
	s.trk.invalidate(key, modifier)
	s.watch.touch(key)
}

func (s *Server) removeConn(c *conn) {
	s.mon.remove(c)
	s.trk.removeConn(c)
	s.watch.unwatch(c)
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.connWG.Done()
}

func (s *Server) serveMetrics(ln net.Listener) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		ln.Close()
		return ErrServerClosed
	}
	s.httpLn = ln
	s.httpSrv = &http.Server{Handler: s.metricsHandler(), ReadHeaderTimeout: 10 * time.Second}
	srv := s.httpSrv
	s.serveWG.Add(1)
	go func() {
		defer s.serveWG.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("cachenode: metrics server stopped", "err", err)
		}
	}()
	return nil
}

// ready reports whether the server is listening and not shutting down.
func (s *Server) ready() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.closing && len(s.listeners) > 0
}

// beginClose stops accepting: marks the server closing and closes its
// listeners. It returns the connections open at that moment.
func (s *Server) beginClose() (conns []*conn, first bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	first = !s.closing
	if first {
		close(s.closed)
	}
	s.closing = true
	s.shuttingDown.Store(true)
	for ln := range s.listeners {
		ln.Close()
	}
	conns = make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	return conns, first
}

// Shutdown stops the server gracefully: it stops accepting connections,
// lets each connection finish the commands it has already received, writes
// their replies and closes it, then stops the metrics server and the store.
// If ctx ends first, the remaining connections are closed and ctx's error is
// returned.
func (s *Server) Shutdown(ctx context.Context) error {
	conns, first := s.beginClose()
	if first {
		attrs := []any{"clients", len(conns)}
		if a := s.Addr(); a != nil { // several nodes may share one log (make run)
			attrs = append(attrs, "addr", a.String())
		}
		s.log.Info("cachenode shutting down", attrs...)
	}
	for _, c := range conns {
		c.interrupt()
	}
	done := make(chan struct{})
	go func() {
		s.connWG.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
		s.closeConns()
		<-done
	}
	s.mu.Lock()
	srv := s.httpSrv
	s.mu.Unlock()
	if srv != nil {
		if e := srv.Shutdown(ctx); e != nil {
			srv.Close()
		}
	}
	s.serveWG.Wait()
	s.workerWG.Wait() // idle connection goroutines end when the server closes
	s.closeStore()
	return err
}

// Close stops the server immediately: it closes the listeners, every client
// connection and the metrics server, waits for their goroutines and stops
// the store. Replies not yet written are lost.
func (s *Server) Close() error {
	s.beginClose()
	s.closeConns()
	s.connWG.Wait()
	s.mu.Lock()
	srv := s.httpSrv
	s.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
	s.serveWG.Wait()
	s.workerWG.Wait() // idle connection goroutines end when the server closes
	s.closeStore()
	return nil
}

func (s *Server) closeConns() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.kill()
	}
}

func (s *Server) closeStore() {
	s.closeOnce.Do(func() {
		s.closer.stopAndFlush()
		s.store.Close()
	})
}
