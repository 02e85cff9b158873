// The dispatcher: look up, check, reject, queue or run a command.

package cachenode

import (
	"strings"
	"time"
)

// exec runs one command and appends its reply to c.out: check resolves
// and checks it, reject answers it if it is refused; inside MULTI an
// accepted command is queued, otherwise it runs.
func (c *conn) exec(args [][]byte) {
	if c.mon.on.Load() {
		c.takePushes() // the MONITOR lines of commands that ran before this one go first
		c.outMark = len(c.out)
	}
	cmd, refusal := c.check(args)
	if refusal != "" {
		c.reject(cmd, refusal)
		return
	}
	if c.tx.multi != nil && !cmd.txControl {
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

// check resolves args to a command (a container's subcommand included)
// and makes the checks Redis makes before it runs or queues one, in Redis's
// order: unknown command, unknown subcommand, arity, protected (DEBUG),
// authentication, not allowed in MULTI, a keyspace command from a monitor;
// then a paused command waits for the pause to end, and a command that may
// grow memory is refused when eviction cannot make room. It returns the
// command (nil when the name or subcommand is unknown) and the error reply
// of the first check that failed, or "" when the command may run.
func (c *conn) check(args [][]byte) (cmd *command, refusal string) {
	cmd = fastLookup(args[0])
	if cmd == nil {
		if cmd = lookupName(commands, args[0], &c.lower); cmd == nil {
			return nil, unknownCommandError(args)
		}
	}
	if cmd.subByName != nil && len(args) >= 2 {
		sub := lookupName(cmd.subByName, args[1], &c.lower)
		if sub == nil {
			return nil, "ERR unknown subcommand '" + trunc(args[1], 128) + "'. Try " + strings.ToUpper(cmd.name) + " HELP."
		}
		cmd = sub
	}
	switch {
	case (cmd.arity > 0 && len(args) != cmd.arity) || len(args) < -cmd.arity:
		return cmd, "ERR wrong number of arguments for '" + cmd.name + "' command"
	case cmd.flags&flagProtected != 0:
		return cmd, errDebugDisabled
	case cmd.flags&flagNoAuth == 0 && c.authRequired():
		return cmd, errNoAuth
	case c.tx.multi != nil && cmd.flags&flagNoMulti != 0:
		return cmd, "ERR Command not allowed inside a transaction"
	case c.mon.on.Load() && cmd.flags&(flagWrite|flagReadonly) != 0:
		return cmd, errMonitorKeyspace
	}
	// A paused command waits before the memory check: eviction is paused
	// too, and must run for it once the pause is over. EXEC of a
	// transaction that writes counts as a write.
	write := cmd.flags&flagWrite != 0 || (cmd == execCmd && c.tx.multi != nil && c.tx.multi.writes)
	if p := c.s.pause.state.Load(); p != nil && (p.all || write) {
		c.waitPause(write)
	}
	if cmd.flags&flagDenyOOM != 0 && c.s.settings.maxMemory.Load() > 0 && c.s.store.EnsureMemory() != nil {
		return cmd, errOOM
	}
	return cmd, ""
}

// reject answers a command that check refused with msg: the error reply, a
// rejected call in cmd's stats (for an unknown command or subcommand, in
// unknownID's, as Redis does not count it against the container), and a
// transaction in progress fails at EXEC.
func (c *conn) reject(cmd *command, msg string) {
	c.err(msg)
	id := unknownID
	if cmd != nil {
		id = cmd.id
	}
	c.st.cmd[id].rejected.Add(1)
	c.flagTransaction()
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
		c.s.stats.byCmd[cmd.id].sample(time.Since(start))
	} else {
		cmd.run(c, args)
	}
	if tracking {
		c.trackAfter(cmd, args)
	}
	failed := len(c.out) > mark && c.out[mark] == '-'
	if cmd.flags&flagWrite != 0 {
		if n := c.dirtyKeys(cmd, len(args), failed); n > 0 {
			c.st.dirty.Add(n)
		}
		if notify := tracking || c.s.watch.active.Load() != 0; notify || c.mod.set {
			c.signalModified(cmd, args, failed, notify)
		}
	}
	cc := &c.st.cmd[cmd.id]
	cc.calls.Add(1)
	if failed {
		cc.failed.Add(1)
	}
	if c.info.lastCmd.Load() != cmd {
		c.info.lastCmd.Store(cmd)
	}
	if c.s.mon.n.Load() != 0 && cmd.flags&flagAdmin == 0 {
		c.feedMonitors(args)
	}
	if c.mon.redact != 0 {
		c.mon.redact = 0
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
		case c.mod.set:
			for _, k := range c.mod.keys {
				c.s.keyModified(k, c)
			}
		case !failed:
			forKeys(cmd, args, func(k []byte) { c.s.keyModified(k, c) })
		}
	}
	if c.mod.set {
		clear(c.mod.keys)
		c.mod.keys = c.mod.keys[:0]
		c.mod.set = false
	}
}

// dirtyKeys is how many keys the write command that just ran changed, for
// INFO's rdb_changes_since_last_save: the keys it reported (see
// signalModified), else every key it names unless it failed. (Redis counts
// some commands differently, e.g. FLUSHALL; the count of keys each string
// command changes matches.)
func (c *conn) dirtyKeys(cmd *command, nargs int, failed bool) uint64 {
	switch {
	case c.mod.set:
		return uint64(len(c.mod.keys))
	case failed || cmd.keys.first <= 0 || cmd.keys.step <= 0:
		return 0
	}
	last := cmd.keys.last
	if last < 0 {
		last += nargs
	}
	last = min(last, nargs-1)
	if last < cmd.keys.first {
		return 0
	}
	return uint64((last-cmd.keys.first)/cmd.keys.step + 1)
}

// modifiedKeys is what the running write command reported it changed (see
// signalModified): set says it reported (changed or unchanged), keys are
// the keys it changed.
type modifiedKeys struct {
	set  bool
	keys [][]byte
}

// changed reports that the running write command changed key, which must
// stay valid until the command returns (an argument); see signalModified.
func (c *conn) changed(key []byte) {
	c.mod.set = true
	c.mod.keys = append(c.mod.keys, key)
}

// unchanged reports that the running write command changed no key other
// than those passed to changed; see signalModified.
func (c *conn) unchanged() { c.mod.set = true }

// latencySample: one command in this many has its execution time measured.
const latencySample = 16

// unknownCommandError is Redis 7's reply to a command it does not know.
func unknownCommandError(args [][]byte) string {
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
	return "ERR unknown command '" + trunc(args[0], 128) + "', with args beginning with: " + b.String()
}
