package cachenode

import (
	"strings"
	"time"
)

// exec runs one command and appends its reply to c.out. The checks come in
// Redis's order: unknown command, arity, authentication, pause, memory; a
// command rejected inside MULTI makes the transaction fail at EXEC, and one
// accepted is queued.
func (c *conn) exec(args [][]byte) {
	if c.monitoring.Load() {
		c.takePushes() // the MONITOR lines of commands that ran before this one go first
		c.outMark = len(c.out)
	}
	cmd := fastLookup(args[0])
	if cmd == nil {
		cmd = lookupName(commands, args[0], &c.lower)
	}
	if cmd == nil {
		c.unknownCommand(args)
		c.st.cmd[unknownID].rejected.Add(1)
		c.flagTransaction()
		return
	}
	if cmd.subByName != nil && len(args) >= 2 {
		sub := lookupName(cmd.subByName, args[1], &c.lower)
		if sub == nil {
			c.err("ERR unknown subcommand '" + trunc(args[1], 128) + "'. Try " + strings.ToUpper(cmd.name) + " HELP.")
			c.st.cmd[unknownID].rejected.Add(1) // as Redis: not the container's rejected_calls
			c.flagTransaction()
			return
		}
		cmd = sub
	}
	if (cmd.arity > 0 && len(args) != cmd.arity) || len(args) < -cmd.arity {
		c.err("ERR wrong number of arguments for '" + cmd.name + "' command")
		c.st.cmd[cmd.id].rejected.Add(1)
		c.flagTransaction()
		return
	}
	if cmd.flags&flagProtected != 0 { // before the auth check, as in Redis
		c.err(errDebugDisabled)
		c.st.cmd[cmd.id].rejected.Add(1)
		c.flagTransaction()
		return
	}
	if cmd.flags&flagNoAuth == 0 && c.authRequired() {
		c.err(errNoAuth)
		c.st.cmd[cmd.id].rejected.Add(1)
		c.flagTransaction()
		return
	}
	if c.tx != nil && cmd.flags&flagNoMulti != 0 {
		c.err("ERR Command not allowed inside a transaction")
		c.st.cmd[cmd.id].rejected.Add(1)
		c.flagTransaction()
		return
	}
	if c.monitoring.Load() && cmd.flags&(flagWrite|flagReadonly) != 0 {
		c.err(errMonitorKeyspace)
		c.st.cmd[cmd.id].rejected.Add(1)
		c.flagTransaction()
		return
	}
	// A paused command waits before the memory check: eviction is paused
	// too, and must run for it once the pause is over. EXEC of a
	// transaction that writes counts as a write.
	write := cmd.flags&flagWrite != 0 || (cmd == execCmd && c.tx != nil && c.tx.writes)
	if p := c.s.pause.Load(); p != nil && (p.all || write) {
		c.waitPause(write)
	}
	if cmd.flags&flagDenyOOM != 0 && c.s.maxMemory.Load() > 0 {
		if err := c.s.store.EnsureMemory(); err != nil {
			c.err(errOOM)
			c.st.cmd[cmd.id].rejected.Add(1)
			c.flagTransaction()
			return
		}
	}
	if c.tx != nil && !cmd.txControl {
		c.queue(cmd, args)
		return
	}
	if cmd == execCmd {
		cmdExec(c, args) // takes the exclusive side of the lock itself
		if c.s.mon.n.Load() != 0 {
			c.feedMonitors(args) // after the transaction's commands, as Redis
		}
		return
	}
	c.runShared(cmd, args)
}

// runShared runs cmd under the read side of its stripe of the transaction
// lock. The deferred unlock matters: a command that panics (the connection
// is then closed) must not leave EXEC waiting forever.
func (c *conn) runShared(cmd *command, args [][]byte) {
	l := &c.s.execLock.stripes[c.id%statStripes]
	l.RLock()
	defer l.RUnlock()
	c.run(cmd, args)
}

// run executes an accepted command: tracking, the command itself, stats.
func (c *conn) run(cmd *command, args [][]byte) {
	tracking := c.s.trk.active.Load() != 0
	if tracking {
		c.trackBefore(cmd, args)
	}
	mark := len(c.out)
	// Reading the clock costs as much as a GET on some VMs (kvm-clock), so
	// execution time is measured on a sample: one command in latencySample
	// per connection, starting with the first.
	c.ncmd++
	if c.ncmd%latencySample == 1 {
		start := time.Now()
		cmd.run(c, args)
		c.s.stats[cmd.id].sample(time.Since(start))
	} else {
		cmd.run(c, args)
	}
	if tracking {
		c.trackAfter(cmd, args)
	}
	failed := len(c.out) > mark && c.out[mark] == '-'
	if cmd.flags&flagWrite != 0 {
		if notify := tracking || c.s.watch.active.Load() != 0; notify || c.modSet {
			c.signalModified(cmd, args, failed, notify)
		}
	}
	cc := &c.st.cmd[cmd.id]
	cc.calls.Add(1)
	if failed {
		cc.failed.Add(1)
	}
	if c.lastCmd.Load() != cmd {
		c.lastCmd.Store(cmd)
	}
	if c.s.mon.n.Load() != 0 && cmd.flags&flagAdmin == 0 {
		c.feedMonitors(args)
	}
	if c.redact != 0 {
		c.redact = 0
	}
}

// signalModified tells the trackers and watchers of the keys the write
// command changed (Server.keyModified). As in Redis, where a write signals
// only what it actually modified: a command that failed (an error reply)
// changed nothing, and one that may leave keys unchanged (SET NX, DEL of a
// missing key, EXPIRE GT...) reports what it changed with changed or
// unchanged. Otherwise every key the command names changed. notify: some
// connection tracks or watches keys; the report is cleared either way.
func (c *conn) signalModified(cmd *command, args [][]byte, failed, notify bool) {
	if notify {
		switch {
		case c.modSet:
			for _, k := range c.modKeys {
				c.s.keyModified(k, c)
			}
		case !failed:
			forKeys(cmd, args, func(k []byte) { c.s.keyModified(k, c) })
		}
	}
	if c.modSet {
		clear(c.modKeys)
		c.modKeys = c.modKeys[:0]
		c.modSet = false
	}
}

// changed reports that the running write command changed key, which must
// stay valid until the command returns (an argument); see signalModified.
func (c *conn) changed(key []byte) {
	c.modSet = true
	c.modKeys = append(c.modKeys, key)
}

// unchanged reports that the running write command changed no key other
// than those passed to changed; see signalModified.
func (c *conn) unchanged() { c.modSet = true }

// latencySample: one command in this many has its execution time measured.
const latencySample = 16

// unknownCommand replies exactly as Redis 7 does to a command it does not know.
func (c *conn) unknownCommand(args [][]byte) {
	var b strings.Builder
	for _, a := range args[1:] {
		if b.Len() >= 128 {
			break
		}
		n := 128 - b.Len()
		b.WriteByte('\'')
		b.WriteString(trunc(a, n))
		b.WriteString("' ")
	}
	c.err("ERR unknown command '" + trunc(args[0], 128) + "', with args beginning with: " + b.String())
}
