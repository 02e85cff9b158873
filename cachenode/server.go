// Server, New and the state the server holds.

package cachenode

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/cachetier/cachetier/cachenode/internal/store"
	"github.com/cachetier/cachetier/internal/resp"
	"github.com/prometheus/client_golang/prometheus"
)

// ErrServerClosed is returned by Serve and ListenAndServe after Shutdown or
// Close, or once a client's SHUTDOWN command has started the server's
// shutdown (call Shutdown to wait for it to finish).
var ErrServerClosed = errors.New("cachenode: server closed")

// Server is a Redis-protocol cache server. Create it with New, run it with
// ListenAndServe or Serve, stop it with Shutdown or Close.
//
// Its state is grouped by concern; each group says what protects it.
type Server struct {
	cfg   Config // as given to New, defaults filled in; immutable
	log   *slog.Logger
	store *store.Store
	start time.Time
	runID string

	settings settings    // what CONFIG SET changes (config.go)
	net      netState    // listeners and client connections (net_listen.go)
	workers  workerPool  // connection goroutines, reused between clients (net_listen.go)
	life     lifecycle   // shutdown and the goroutines it waits for (server_shutdown.go)
	stats    serverStats // counters for INFO and the metrics (stats.go)
	metrics  *metrics    // Prometheus collector over stats and the store (stats_metrics.go)
	registry *prometheus.Registry

	// State the connections share for the commands that span them, each
	// with its own lock or atomics.
	execLock execLock     // MULTI/EXEC: commands read-lock a stripe, EXEC write-locks all (tx_multi.go)
	watch    watcher      // WATCH (tx_watch.go)
	trk      tracker      // CLIENT TRACKING (tracking.go)
	mon      monitors     // MONITOR (push_monitor.go)
	pause    pauseControl // CLIENT PAUSE (block_pause.go)

	persist persistState // snapshots: SAVE, BGSAVE, save points, load (persist.go)
}

// New validates cfg, fills its defaults and returns a Server whose store
// holds the snapshot file's keys when Config.Dir is set and the file exists
// (see Server.Save), else empty. It returns an error for a bad policy name or negative limits. Like
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
		cfg:   c,
		log:   c.Logger,
		start: time.Now(),
		runID: hex.EncodeToString(id[:]),
		net: netState{
			listeners: make(map[net.Listener]struct{}),
			conns:     make(map[*conn]struct{}),
			closer:    newDeferredCloser(fdLimit),
		},
		workers: workerPool{idle: make(chan *conn)},
		life:    lifecycle{closed: make(chan struct{})},
	}
	s.settings.maxMemory.Store(c.MaxMemory)
	s.settings.policy.Store(int64(pol))
	s.settings.lfuLogFactor.Store(store.DefaultLFULogFactor)
	s.settings.lfuDecayTime.Store(store.DefaultLFUDecayTime)
	s.settings.maxClients.Store(int64(c.MaxClients))
	s.settings.trackingMaxKeys.Store(trackingMaxKeys)
	s.settings.timeout.Store(int64(c.Timeout))
	s.settings.protoMaxBulk.Store(resp.DefaultMaxBulk)
	pw := c.RequirePass
	s.settings.requirePass.Store(&pw)
	s.stats.byCmd = make([]cmdStats, len(commandList)+1) // last: unknown commands
	s.stats.base.Store(newStatBase(len(s.stats.byCmd)))
	for i := range s.stats.stripes {
		s.stats.stripes[i].cmd = make([]cmdCount, len(commandList)+1)
	}
	s.store = store.New(store.Config{MaxMemory: c.MaxMemory, Policy: pol, Tick: s.sampleStats})
	s.trk.init()
	s.store.SetRemoveHook(func(key []byte) { s.keyModified(key, nil) }) // expired, evicted
	s.registry = prometheus.NewRegistry()
	s.metrics = newMetrics(s)
	s.registry.MustRegister(s.metrics)
	s.initPersist()
	s.stats.inst.ready.Store(true) // after s.store is set: sampleStats reads it
	return s, nil
}

// Addr returns the address of the first listener being served, or nil until
// the server listens.
func (s *Server) Addr() net.Addr {
	s.net.mu.Lock()
	defer s.net.mu.Unlock()
	return s.net.addr
}

// MetricsAddr returns the address of the metrics HTTP listener, or nil when
// metrics are off or not listening yet.
func (s *Server) MetricsAddr() net.Addr {
	s.net.mu.Lock()
	defer s.net.mu.Unlock()
	if s.net.httpLn == nil {
		return nil
	}
	return s.net.httpLn.Addr()
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

// ready reports whether the server is listening and not shutting down.
func (s *Server) ready() bool {
	s.net.mu.Lock()
	defer s.net.mu.Unlock()
	return !s.net.closing && len(s.net.listeners) > 0
}
