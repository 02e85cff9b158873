package cachenode

import (
	"errors"
	"net"
	"time"

	"github.com/cachetier/cachetier/cachenode/internal/store"
)

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
