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
	c.protoSeen.Store(2)
	c.name.Store(nil)
	c.noEvict.Store(false)
	c.noTouch.Store(false)
	c.replyOff, c.replySkipNext = false, false // as Redis: a pending skip still drops this reply
	c.monReplyOff.Store(false)
	c.s.mon.remove(c)
	if c.trk != nil {
		c.s.trk.disable(c)
	}
	c.tx = nil // RESET discards a transaction
	c.s.watch.unwatch(c)
	if *c.s.requirePass.Load() != "" {
		c.authed = false
		c.rd.Unauthenticated = true
	}
	c.simple("RESET")
}
