package cachenode

import (
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

// ready reports whether the server is listening and not shutting down.
func (s *Server) ready() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.closing && len(s.listeners) > 0
}
