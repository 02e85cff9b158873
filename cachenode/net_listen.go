// Listening and accepting: Serve, ListenAndServe, the connection goroutines.

package cachenode

import (
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachetier/cachetier/cachenode/internal/store"
)

// netState is the server's listeners and client connections. mu protects
// every field but the atomics and closer; accept and beginClose both hold
// it, so no connection is registered after Shutdown took the list.
type netState struct {
	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	addr      net.Addr     // the first listener's
	httpSrv   *http.Server // metrics, /healthz, /readyz
	httpLn    net.Listener
	closing   bool // Shutdown or Close began: no new listener or connection

	nextID atomic.Int64    // the last client ID given
	closer *deferredCloser // releases disconnected clients' sockets (Linux)
}

// workerPool is the goroutines that serve connections: one per
// connection, kept for a while after its client leaves to serve the next.
type workerPool struct {
	idle    chan *conn     // goroutines waiting for a new connection (worker)
	wg      sync.WaitGroup // every connection goroutine
	started atomic.Int64   // goroutines started, for tests
}

// ListenAndServe listens on Config.Addr and, when Config.MetricsAddr is set,
// serves metrics on it, then serves clients until Shutdown or Close. It
// always returns a non-nil error: ErrServerClosed after Shutdown or Close.
// On Linux its listener accepts and closes connections without ordinary
// system calls, which keeps the Go runtime's monitor thread from competing
// for the CPU when a burst of connections arrives; Serve uses any listener
// as given.
func (s *Server) ListenAndServe() error {
	if s.life.shuttingDown.Load() {
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
	s.net.mu.Lock()
	if s.net.closing {
		s.net.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.net.listeners[ln] = struct{}{}
	if s.net.addr == nil {
		s.net.addr = ln.Addr()
	}
	s.life.serveWG.Add(1)
	s.net.mu.Unlock()
	defer s.life.serveWG.Done()
	defer func() {
		s.net.mu.Lock()
		delete(s.net.listeners, ln)
		s.net.mu.Unlock()
		ln.Close()
	}()

	s.log.Info("cachenode listening",
		"addr", ln.Addr().String(),
		"maxmemory", s.settings.maxMemory.Load(),
		"maxmemory_policy", store.Policy(s.settings.policy.Load()).String(),
		"maxclients", s.settings.maxClients.Load(),
		"timeout", time.Duration(s.settings.timeout.Load()).String(),
		"requirepass", *s.settings.requirePass.Load() != "",
		"metrics_addr", s.cfg.MetricsAddr)

	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.life.shuttingDown.Load() {
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
	s.stats.connsTotal.Add(1)
	s.net.mu.Lock()
	if s.net.closing {
		s.net.mu.Unlock()
		nc.Close()
		return
	}
	if int64(len(s.net.conns)) >= s.settings.maxClients.Load() {
		s.net.mu.Unlock()
		s.stats.rejected.Add(1)
		s.logRejected(nc)
		// Like Redis: best-effort error reply, then close.
		_ = nc.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = nc.Write([]byte("-ERR max number of clients reached\r\n"))
		nc.Close()
		return
	}
	c := newConn(s, nc)
	s.net.conns[c] = struct{}{}
	s.trk.addConn(c)
	s.life.connWG.Add(1)
	s.net.mu.Unlock()
	select {
	case s.workers.idle <- c: // a goroutine that served a closed connection takes it
	default:
		s.workers.wg.Add(1)
		s.workers.started.Add(1)
		go s.worker(c)
	}
}

// removeConn unregisters c when its goroutine is done with it.
func (s *Server) removeConn(c *conn) {
	s.mon.remove(c)
	s.trk.removeConn(c)
	s.watch.unwatch(c)
	s.net.mu.Lock()
	delete(s.net.conns, c)
	s.net.mu.Unlock()
	s.life.connWG.Done()
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
	defer s.workers.wg.Done()
	for {
		c.serve()
		t := time.NewTimer(workerIdle)
		select {
		case c = <-s.workers.idle:
			t.Stop()
			continue
		case <-t.C:
		case <-s.life.closed:
			t.Stop()
		}
		return
	}
}

func (s *Server) logRejected(nc net.Conn) {
	now := time.Now().Unix()
	if last := s.stats.lastRejectLog.Load(); last != now && s.stats.lastRejectLog.CompareAndSwap(last, now) {
		s.log.Warn("cachenode: max number of clients reached; rejecting connections",
			"remote", nc.RemoteAddr().String(), "maxclients", s.settings.maxClients.Load())
	}
}
