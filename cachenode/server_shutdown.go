// Shutdown and Close, and the shutdown a SHUTDOWN command starts.

package cachenode

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// lifecycle is the server's shutdown state and the goroutines Shutdown and
// Close wait for.
type lifecycle struct {
	shuttingDown atomic.Bool    // netState.closing, for lock-free reads; set under netState.mu
	closed       chan struct{}  // closed with shuttingDown set: ends CLIENT PAUSE waits and idle workers
	connWG       sync.WaitGroup // registered connections
	serveWG      sync.WaitGroup // Serve loops and the metrics server
	closeOnce    sync.Once      // closeStore
}

// commandShutdownGrace bounds how long SHUTDOWN lets the other connections
// finish the commands they have received before they are closed.
const commandShutdownGrace = 5 * time.Second

// shutdownByCommand starts a graceful shutdown in the background (the
// calling connection is one of those it waits for). Shutdown may run more
// than once, so a shutdown already under way needs no check.
func (s *Server) shutdownByCommand() {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), commandShutdownGrace)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			s.Close()
		}
	}()
}

// beginClose stops accepting: marks the server closing and closes its
// listeners. It returns the connections open at that moment.
func (s *Server) beginClose() (conns []*conn, first bool) {
	s.net.mu.Lock()
	defer s.net.mu.Unlock()
	first = !s.net.closing
	if first {
		close(s.life.closed)
	}
	s.net.closing = true
	s.life.shuttingDown.Store(true)
	for ln := range s.net.listeners {
		ln.Close()
	}
	conns = make([]*conn, 0, len(s.net.conns))
	for c := range s.net.conns {
		conns = append(conns, c)
	}
	return conns, first
}

// Shutdown stops the server gracefully: it stops accepting connections,
// lets each connection finish the commands it has already received, writes
// their replies and closes it, then stops the metrics server and the store.
// If ctx ends first, the remaining connections are closed and ctx's error is
// returned. Before stopping the store it writes a snapshot, as redis-server
// does, when Config.Dir is set and there are save points (Config.Save) or a
// client sent SHUTDOWN SAVE, and not after SHUTDOWN NOSAVE; the save runs
// to its end whatever ctx says (see Server.Save).
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
		s.life.connWG.Wait()
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
	s.net.mu.Lock()
	srv := s.net.httpSrv
	s.net.mu.Unlock()
	if srv != nil {
		if e := srv.Shutdown(ctx); e != nil {
			srv.Close()
		}
	}
	s.life.serveWG.Wait()
	s.workers.wg.Wait() // idle connection goroutines end when the server closes
	s.stopPersist()
	s.saveOnShutdown()
	s.closeStore()
	return err
}

// Close stops the server immediately: it closes the listeners, every client
// connection and the metrics server, waits for their goroutines and stops
// the store. Replies not yet written are lost.
func (s *Server) Close() error {
	s.beginClose()
	s.closeConns()
	s.life.connWG.Wait()
	s.net.mu.Lock()
	srv := s.net.httpSrv
	s.net.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
	s.life.serveWG.Wait()
	s.workers.wg.Wait() // idle connection goroutines end when the server closes
	s.closeStore()
	return nil
}

func (s *Server) closeConns() {
	s.net.mu.Lock()
	defer s.net.mu.Unlock()
	for c := range s.net.conns {
		c.kill()
	}
}

func (s *Server) closeStore() {
	s.stopPersist() // a background save still running finishes first
	s.life.closeOnce.Do(func() {
		s.net.closer.stopAndFlush()
		s.store.Close()
	})
}
