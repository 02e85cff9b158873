package cachenode

import (
	"context"
	"time"
)

// commandShutdownGrace bounds how long SHUTDOWN lets the other connections
// finish the commands they have received before they are closed.
const commandShutdownGrace = 5 * time.Second

// cmdShutdown is SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]. cachenode
// keeps nothing on disk, so NOSAVE, NOW and FORCE change nothing and SAVE
// fails as a failed save does in Redis. Otherwise the server shuts down as
// Shutdown does (the other connections finish what they have received, for
// up to commandShutdownGrace), the caller's connection closes without a
// reply, as redis-server's does when it exits, and Serve and ListenAndServe
// return ErrServerClosed. The command needs authentication like any other.
func cmdShutdown(c *conn, args [][]byte) {
	var save, nosave, other, abort bool
	for _, a := range args[1:] {
		switch {
		case eq(a, "nosave"):
			nosave = true
		case eq(a, "save"):
			save = true
		case eq(a, "now"), eq(a, "force"):
			other = true
		case eq(a, "abort"):
			abort = true
		default:
			c.err(errSyntax)
			return
		}
	}
	switch {
	case abort && (save || nosave || other), save && nosave:
		c.err(errSyntax)
	case abort:
		c.err("ERR No shutdown in progress.") // a shutdown here is never left pending
	case save:
		c.s.log.Warn("cachenode: SHUTDOWN SAVE refused: cachenode keeps no data on disk", "client", c.addr)
		c.err("ERR Errors trying to SHUTDOWN. Check logs.")
	default:
		c.s.log.Info("cachenode: SHUTDOWN received", "client", c.addr)
		c.quit = true // closed without a reply
		c.s.shutdownByCommand()
	}
}

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
