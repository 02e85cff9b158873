// Server commands: DBSIZE, FLUSH*, TIME, SHUTDOWN, DEBUG, SAVE, BGSAVE, LASTSAVE, ROLE.

package cachenode

import (
	"errors"
	"time"

	"github.com/cachetier/cachetier/internal/resp"
)

// serverCommands are the server commands other than CONFIG, COMMAND and
// the diagnostics; INFO is in cmd_info.go, WAIT in block_wait.go, MONITOR
// in push_monitor.go.
var serverCommands = []*command{
	{
		name: "info", arity: -1, flags: flagLoading | flagStale,
		acl: "@slow @dangerous", run: cmdInfo,
		doc: docMeta{group: "server", since: "1.0.0", complexity: "O(1)",
			summary: "Returns information and statistics about the server."},
	},
	{
		name: "dbsize", arity: 1, flags: flagReadonly | flagFast,
		acl: "@keyspace @read @fast", run: cmdDBSize,
		doc: docMeta{group: "server", since: "1.0.0", complexity: "O(1)",
			summary: "Returns the number of keys in the database."},
	},
	{
		name: "flushdb", arity: -1, flags: flagWrite,
		acl: "@keyspace @write @slow @dangerous", run: cmdFlush,
		doc: docMeta{group: "server", since: "1.0.0", complexity: "O(N) where N is the number of keys in the selected database",
			summary: "Removes all keys from the current database."},
	},
	{
		name: "flushall", arity: -1, flags: flagWrite,
		acl: "@keyspace @write @slow @dangerous", run: cmdFlush,
		doc: docMeta{group: "server", since: "1.0.0", complexity: "O(N) where N is the total number of keys in all databases",
			summary: "Removes all keys from all databases."},
	},
	{
		name: "time", arity: 1, flags: flagFast | flagLoading | flagStale,
		acl: "@fast", run: cmdTime,
		doc: docMeta{group: "server", since: "2.6.0", complexity: "O(1)",
			summary: "Returns the server time."},
	},
	{
		name: "shutdown", arity: -1, flags: flagAdmin | flagNoScript | flagLoading | flagStale | flagAllowBusy | flagNoMulti,
		acl: "@admin @slow @dangerous", run: cmdShutdown,
		doc: docMeta{group: "server", since: "1.0.0", complexity: "O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)",
			summary: "Synchronously saves the database(s) to disk and shuts down the Redis server."},
	},
	{
		name: "wait", arity: 3, flags: flagNoScript,
		acl: "@slow @connection", run: cmdWait,
		doc: docMeta{group: "generic", since: "3.0.0", complexity: "O(1)",
			summary: "Blocks until the asynchronous replication of all preceding write commands sent by the connection is completed."},
	},
	{
		name: "debug", arity: -2, flags: flagAdmin | flagNoScript | flagLoading | flagStale | flagProtected,
		acl: "@admin @slow @dangerous", run: cmdDebug,
		doc: docMeta{group: "server", since: "1.0.0", complexity: "Depends on subcommand.",
			summary: "A container for debugging commands."},
	},
	{
		name: "monitor", arity: 1, flags: flagAdmin | flagNoScript | flagLoading | flagStale,
		acl: "@admin @slow @dangerous", run: cmdMonitor,
		doc: docMeta{group: "server", since: "1.0.0", complexity: "O(1)",
			summary: "Listens for all requests received by the server in real-time."},
	},
	{
		name: "lastsave", arity: 1, flags: flagFast | flagLoading | flagStale,
		acl: "@admin @fast @dangerous", run: cmdLastSave,
		doc: docMeta{group: "server", since: "1.0.0", complexity: "O(1)",
			summary: "Returns the Unix timestamp of the last successful save to disk."},
	},
	{
		name: "save", arity: 1, flags: flagAdmin | flagNoScript | flagNoMulti,
		acl: "@admin @slow @dangerous", run: cmdSave,
		doc: docMeta{group: "server", since: "1.0.0", complexity: "O(N) where N is the total number of keys in all databases",
			summary: "Synchronously saves the database(s) to disk."},
	},
	{
		name: "bgsave", arity: -1, flags: flagAdmin | flagNoScript,
		acl: "@admin @slow @dangerous", run: cmdBgsave,
		doc: docMeta{group: "server", since: "1.0.0", complexity: "O(1)",
			summary: "Asynchronously saves the database(s) to disk."},
	},
	{
		name: "role", arity: 1, flags: flagFast | flagNoScript | flagLoading | flagStale,
		acl: "@admin @fast @dangerous", run: cmdRole,
		doc: docMeta{group: "server", since: "2.8.12", complexity: "O(1)",
			summary: "Returns the replication role."},
	},
}

func cmdTime(c *conn, _ [][]byte) {
	now := time.Now()
	c.array(2)
	c.out = resp.AppendBulkInt(c.out, now.Unix())
	c.out = resp.AppendBulkInt(c.out, int64(now.Nanosecond()/1000))
}

func cmdDBSize(c *conn, _ [][]byte) { c.int(int64(c.s.store.Len())) }

func cmdFlush(c *conn, args [][]byte) {
	if len(args) > 2 || (len(args) == 2 && !eq(args[1], "async") && !eq(args[1], "sync")) {
		c.err(errSyntax)
		return
	}
	c.s.watch.beforeFlush(c.s)
	c.s.store.Flush()
	c.s.trk.invalidateAll(c)
	c.ok()
}

// cmdLastSave answers the Unix time of the last successful save (SAVE,
// BGSAVE, save point, SHUTDOWN SAVE), or the server's start time before the
// first one, as Redis does.
func cmdLastSave(c *conn, _ [][]byte) { c.int(c.s.persist.lastSave.Load()) }

// cmdSave writes the snapshot before answering (persist.go). Other
// clients go on meanwhile: the store is copied one shard at a time.
func cmdSave(c *conn, _ [][]byte) {
	if c.s.persist.bgInProgress.Load() {
		c.err(errBgsaveInProgress)
		return
	}
	switch err := c.s.Save(); {
	case errors.Is(err, ErrSnapshotsOff):
		c.err("ERR snapshots are off: the node has no dir (start it with --dir)")
	case err != nil:
		c.err("ERR") // as Redis; the log says why
	default:
		c.ok()
	}
}

// cmdBgsave is BGSAVE [SCHEDULE]: the snapshot is written by a goroutine
// while the node serves clients (persist.go).
func cmdBgsave(c *conn, args [][]byte) {
	if len(args) > 2 || (len(args) == 2 && !eq(args[1], "schedule")) {
		c.err(errSyntax)
		return
	}
	if c.s.snapshotPath() == "" {
		c.err("ERR snapshots are off: the node has no dir (start it with --dir)")
		return
	}
	if !c.s.bgsave() {
		c.err(errBgsaveInProgress)
		return
	}
	c.simple("Background saving started")
}

// cmdRole: a master without replicas, replication offset 0.
func cmdRole(c *conn, _ [][]byte) {
	c.array(3)
	c.bulkStr("master")
	c.int(0)
	c.array(0)
}

// cmdDebug never runs: DEBUG is refused before it (flagProtected), as
// redis-server refuses it unless enable-debug-command allows it.
func cmdDebug(c *conn, _ [][]byte) { c.err(errDebugDisabled) }

// cmdShutdown is SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]. With SAVE,
// or without NOSAVE when there are save points, the snapshot is written
// first; if that fails the command answers Redis's error and the server
// keeps running, unless FORCE is given. Then the server shuts down as
// Shutdown does (the other connections finish what they have received, for
// up to commandShutdownGrace; if they wrote anything meanwhile, the
// snapshot is written again once they are closed), the caller's connection
// closes without a reply, as redis-server's does when it exits, and Serve
// and ListenAndServe return ErrServerClosed. NOW changes nothing (there are
// no replicas to wait for). The command needs authentication like any
// other.
func cmdShutdown(c *conn, args [][]byte) {
	var save, nosave, other, force, abort bool
	for _, a := range args[1:] {
		switch {
		case eq(a, "nosave"):
			nosave = true
		case eq(a, "save"):
			save = true
		case eq(a, "now"):
			other = true
		case eq(a, "force"):
			other, force = true, true
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
	default:
		mode := int32(shutdownDefault)
		if save {
			mode = shutdownSave
		} else if nosave {
			mode = shutdownNoSave
		}
		if mode == shutdownSave || (mode == shutdownDefault && len(*c.s.persist.savePoints.Load()) > 0) {
			if !c.s.saveForShutdown(save, force) {
				c.err("ERR Errors trying to SHUTDOWN. Check logs.")
				return
			}
		}
		c.s.persist.shutdownMode.Store(mode)
		c.s.log.Info("cachenode: SHUTDOWN received", "client", c.info.addr)
		c.quit = true // closed without a reply
		c.s.shutdownByCommand()
	}
}
