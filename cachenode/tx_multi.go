// MULTI, EXEC and DISCARD, and the transaction lock.

package cachenode

import (
	"sync"

	"github.com/cachetier/cachetier/internal/resp"
)

// Transactions: MULTI, EXEC, DISCARD, as in Redis.
// Inside MULTI, commands are checked (unknown command, arity,
// authentication, memory) and queued; one rejected makes EXEC fail with
// EXECABORT. EXEC runs the queue atomically: every command runs under the
// read side of the server's execLock (the stripe of its connection), and
// EXEC takes the write side of every stripe, so no other client's command
// runs in between. A command that fails inside EXEC (a wrong type of value,
// say) leaves its error in EXEC's reply and the others run, as in Redis.

// multiCommands are the transaction commands; WATCH is in tx_watch.go.
var multiCommands = []*command{
	{
		name: "multi", arity: 1, flags: flagFast | flagNoScript | flagLoading | flagStale | flagAllowBusy, txControl: true,
		acl: "@fast @transaction", run: cmdMulti,
		doc: docMeta{group: "transactions", since: "1.2.0", complexity: "O(1)",
			summary: "Starts a transaction."},
	},
	{
		name: "exec", arity: 1, flags: flagNoScript | flagLoading | flagStale, txControl: true,
		acl: "@slow @transaction", run: cmdExec,
		doc: docMeta{group: "transactions", since: "1.2.0", complexity: "Depends on commands in the transaction",
			summary: "Executes all commands in a transaction."},
	},
	{
		name: "discard", arity: 1, flags: flagFast | flagNoScript | flagLoading | flagStale | flagAllowBusy, txControl: true,
		acl: "@fast @transaction", run: cmdDiscard,
		doc: docMeta{group: "transactions", since: "2.0.0", complexity: "O(N), when N is the number of queued commands",
			summary: "Discards a transaction."},
	},
}

// execLock is the server's transaction lock, striped so that ordinary
// commands of different connections rarely share a cache line.
type execLock struct {
	stripes [statStripes]struct {
		sync.RWMutex
		_ [40]byte
	}
}

func (l *execLock) lockAll() {
	for i := range l.stripes {
		l.stripes[i].Lock()
	}
}

func (l *execLock) unlockAll() {
	for i := range l.stripes {
		l.stripes[i].Unlock()
	}
}

// txState is a connection's transaction state: the MULTI queue and the
// WATCHed keys. Only the connection's goroutine changes it; it sets and
// clears watch under Server.watch.mu, which other connections hold to mark
// watch.dirty.
type txState struct {
	multi  *transaction // MULTI in progress; nil otherwise
	watch  *watchState  // WATCH in effect; nil otherwise (see watcher)
	inExec bool         // EXEC is running the queued commands
}

// transaction is a connection's MULTI state.
type transaction struct {
	queued []queuedCmd
	dirty  bool // a command was rejected: EXEC answers EXECABORT
	writes bool // a queued command writes (a WRITE pause holds EXEC)
}

type queuedCmd struct {
	cmd  *command
	args [][]byte
}

// flagTransaction marks the transaction, if any, as failed (Redis's
// flagTransaction).
func (c *conn) flagTransaction() {
	if c.tx.multi != nil {
		c.tx.multi.dirty = true
	}
}

// queue copies a command into the transaction (args point into the read
// buffer) and answers QUEUED.
func (c *conn) queue(cmd *command, args [][]byte) {
	n := 0
	for _, a := range args {
		n += len(a)
	}
	buf := make([]byte, 0, n)
	cp := make([][]byte, len(args))
	for i, a := range args {
		start := len(buf)
		buf = append(buf, a...)
		cp[i] = buf[start:len(buf):len(buf)]
	}
	c.tx.multi.queued = append(c.tx.multi.queued, queuedCmd{cmd, cp})
	c.tx.multi.writes = c.tx.multi.writes || cmd.flags&flagWrite != 0
	c.simple("QUEUED")
}

func cmdMulti(c *conn, _ [][]byte) {
	if c.tx.multi != nil {
		c.err("ERR MULTI calls can not be nested")
		return
	}
	c.tx.multi = &transaction{}
	c.ok()
}

func cmdDiscard(c *conn, _ [][]byte) {
	if c.tx.multi == nil {
		c.err("ERR DISCARD without MULTI")
		return
	}
	c.tx.multi = nil
	c.s.watch.unwatch(c)
	c.ok()
}

// cmdExec runs the queued commands with every other command held off.
func cmdExec(c *conn, _ [][]byte) {
	// Counted like any command (COMMANDSTATS): a call, failed when the
	// reply is an error.
	cc := &c.st.cmd[execCmd.id]
	cc.calls.Add(1)
	tx := c.tx.multi
	if tx == nil {
		c.err("ERR EXEC without MULTI")
		cc.failed.Add(1)
		return
	}
	c.tx.multi = nil
	defer c.s.watch.unwatch(c)
	if tx.dirty {
		c.err("EXECABORT Transaction discarded because of previous errors.")
		cc.failed.Add(1)
		return
	}
	c.s.execLock.lockAll()
	defer c.s.execLock.unlockAll()
	if c.s.watch.failed(c) { // checked under the lock: no write can come in between
		c.out = resp.AppendNullArray(c.out, c.proto)
		return
	}
	c.array(len(tx.queued))
	c.tx.inExec = true
	for _, q := range tx.queued {
		c.run(q.cmd, q.args)
	}
	c.tx.inExec = false
	if c.trk != nil && c.trk.caching { // CLIENT CACHING covered the whole transaction
		c.s.trk.mu.Lock()
		c.trk.caching = false
		c.s.trk.mu.Unlock()
	}
}
