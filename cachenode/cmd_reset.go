// RESET, which returns every per-connection state to a new connection's.

package cachenode

// resetCommands is RESET.
var resetCommands = []*command{
	{
		name: "reset", arity: 1, flags: flagNoAuth | flagFast | flagNoScript | flagLoading | flagStale | flagAllowBusy, txControl: true,
		acl: "@fast @connection", run: cmdReset,
		doc: docMeta{group: "connection", since: "6.2.0", complexity: "O(1)",
			summary: "Resets the connection."},
	},
}

// cmdReset resets the connection's state like Redis's RESET: protocol back
// to RESP2, name cleared, CLIENT NO-EVICT and NO-TOUCH off and, when a
// password is required, the connection unauthenticated again.
func cmdReset(c *conn, _ [][]byte) {
	c.proto = 2
	c.info.protoSeen.Store(2)
	c.info.name.Store(nil)
	c.info.noEvict.Store(false)
	c.info.noTouch.Store(false)
	c.reply.off, c.reply.skipNext = false, false // as Redis: a pending skip still drops this reply
	c.mon.replyOff.Store(false)
	c.s.mon.remove(c)
	if c.trk != nil {
		c.s.trk.disable(c)
	}
	c.tx.multi = nil // RESET discards a transaction
	c.s.watch.unwatch(c)
	if *c.s.settings.requirePass.Load() != "" {
		c.info.authed = false
		c.rd.Unauthenticated = true
	}
	c.simple("RESET")
}
