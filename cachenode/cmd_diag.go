// Diagnostics: MEMORY, SLOWLOG and LATENCY.

package cachenode

import (
	"runtime/debug"

	"github.com/cachetier/cachetier/cachenode/internal/store"
	"github.com/cachetier/cachetier/internal/resp"
)

// diagCommands are the diagnostics containers MEMORY, SLOWLOG and LATENCY.
var diagCommands = []*command{
	{
		name: "memory", arity: -2,
		acl: "@slow",
		doc: docMeta{group: "server", since: "4.0.0", complexity: "Depends on subcommand.",
			summary: "A container for memory diagnostics commands."},
		subs: []*command{
			{
				name: "memory|doctor", arity: 2,
				acl: "@slow", run: cmdMemoryDoctor,
				doc: docMeta{group: "server", since: "4.0.0", complexity: "O(1)",
					summary: "Outputs a memory problems report."},
			},
			{
				name: "memory|malloc-stats", arity: 2,
				acl: "@slow", run: cmdMemoryMallocStats,
				doc: docMeta{group: "server", since: "4.0.0", complexity: "Depends on how much memory is allocated, could be slow",
					summary: "Returns the allocator statistics."},
			},
			{
				name: "memory|purge", arity: 2,
				acl: "@slow", run: cmdMemoryPurge,
				doc: docMeta{group: "server", since: "4.0.0", complexity: "Depends on how much memory is allocated, could be slow",
					summary: "Asks the allocator to release memory."},
			},
			{
				name: "memory|stats", arity: 2,
				acl: "@slow", run: cmdMemoryStats,
				doc: docMeta{group: "server", since: "4.0.0", complexity: "O(1)",
					summary: "Returns details about memory usage."},
			},
			{
				name: "memory|usage", arity: -3, flags: flagReadonly, keys: keySpec{2, 2, 1},
				acl: "@read @slow", run: cmdMemoryUsage,
				doc: docMeta{group: "server", since: "4.0.0", complexity: "O(N) where N is the number of samples.",
					summary: "Estimates the memory usage of a key."},
			},
			{
				name: "memory|help", arity: 2, flags: flagLoading | flagStale,
				acl: "@slow", run: cmdMemoryHelp,
				doc: docMeta{group: "server", since: "4.0.0", complexity: "O(1)",
					summary: "Returns helpful text about the different subcommands."},
			},
		},
	},
	{
		name: "slowlog", arity: -2,
		acl: "@slow",
		doc: docMeta{group: "server", since: "2.2.12", complexity: "Depends on subcommand.",
			summary: "A container for slow log commands."},
		subs: []*command{
			{
				name: "slowlog|get", arity: -2, flags: flagAdmin | flagLoading | flagStale,
				acl: "@admin @slow @dangerous", run: cmdSlowlogGet,
				doc: docMeta{group: "server", since: "2.2.12", complexity: "O(N) where N is the number of entries returned",
					summary: "Returns the slow log's entries."},
			},
			{
				name: "slowlog|len", arity: 2, flags: flagAdmin | flagLoading | flagStale,
				acl: "@admin @slow @dangerous", run: cmdSlowlogLen,
				doc: docMeta{group: "server", since: "2.2.12", complexity: "O(1)",
					summary: "Returns the number of entries in the slow log."},
			},
			{
				name: "slowlog|reset", arity: 2, flags: flagAdmin | flagLoading | flagStale,
				acl: "@admin @slow @dangerous", run: cmdSlowlogReset,
				doc: docMeta{group: "server", since: "2.2.12", complexity: "O(N) where N is the number of entries in the slowlog",
					summary: "Clears all entries from the slow log."},
			},
			{
				name: "slowlog|help", arity: 2, flags: flagLoading | flagStale,
				acl: "@slow", run: cmdSlowlogHelp,
				doc: docMeta{group: "server", since: "6.2.0", complexity: "O(1)",
					summary: "Show helpful text about the different subcommands"},
			},
		},
	},
	{
		name: "latency", arity: -2,
		acl: "@slow",
		doc: docMeta{group: "server", since: "2.8.13", complexity: "Depends on subcommand.",
			summary: "A container for latency diagnostics commands."},
		subs: []*command{
			{
				name: "latency|doctor", arity: 2, flags: flagAdmin | flagNoScript | flagLoading | flagStale,
				acl: "@admin @slow @dangerous", run: cmdLatencyDoctor,
				doc: docMeta{group: "server", since: "2.8.13", complexity: "O(1)",
					summary: "Returns a human-readable latency analysis report."},
			},
			{
				name: "latency|graph", arity: 3, flags: flagAdmin | flagNoScript | flagLoading | flagStale,
				acl: "@admin @slow @dangerous", run: cmdLatencyGraph,
				doc: docMeta{group: "server", since: "2.8.13", complexity: "O(1)",
					summary: "Returns a latency graph for an event."},
			},
			{
				name: "latency|history", arity: 3, flags: flagAdmin | flagNoScript | flagLoading | flagStale,
				acl: "@admin @slow @dangerous", run: cmdLatencyEmpty,
				doc: docMeta{group: "server", since: "2.8.13", complexity: "O(1)",
					summary: "Returns timestamp-latency samples for an event."},
			},
			{
				name: "latency|latest", arity: 2, flags: flagAdmin | flagNoScript | flagLoading | flagStale,
				acl: "@admin @slow @dangerous", run: cmdLatencyEmpty,
				doc: docMeta{group: "server", since: "2.8.13", complexity: "O(1)",
					summary: "Returns the latest latency samples for all events."},
			},
			{
				name: "latency|reset", arity: -2, flags: flagAdmin | flagNoScript | flagLoading | flagStale,
				acl: "@admin @slow @dangerous", run: cmdLatencyReset,
				doc: docMeta{group: "server", since: "2.8.13", complexity: "O(1)",
					summary: "Resets the latency data for one or more events."},
			},
			{
				name: "latency|help", arity: 2, flags: flagLoading | flagStale,
				acl: "@slow", run: cmdLatencyHelp,
				doc: docMeta{group: "server", since: "2.8.13", complexity: "O(1)",
					summary: "Returns helpful text about the different subcommands."},
			},
		},
	},
}

// cmdMemoryUsage: MEMORY USAGE key [SAMPLES n]. Strings have no nested
// values, so SAMPLES is validated like Redis and otherwise unused. The key is
// looked up without counting a hit or a miss and without touching its LRU
// clock, like Redis's dictFind.
func cmdMemoryUsage(c *conn, args [][]byte) {
	for j := 3; j < len(args); j++ {
		if !eq(args[j], "samples") || j+1 >= len(args) {
			c.err(errSyntax)
			return
		}
		n, ok := resp.ParseInt(args[j+1])
		if !ok {
			c.err(errNotInt)
			return
		}
		if n < 0 {
			c.err(errSyntax)
			return
		}
		j++
	}
	n, ok := c.s.store.KeyMemory(args[2])
	if !ok {
		c.null()
		return
	}
	c.int(n)
}

// cmdMemoryStats answers a subset of Redis's MEMORY STATS fields, from the
// store's accounting (the store's memory is Redis's "dataset") and the
// process's resident size.
func cmdMemoryStats(c *conn, _ [][]byte) {
	var st store.Stats
	c.s.store.UpdateStats(&st)
	r := rss()
	c.s.net.mu.Lock()
	clients := len(c.s.net.conns)
	c.s.net.mu.Unlock()
	perKey := int64(0)
	if st.Keys > 0 {
		perKey = st.UsedMemory / int64(st.Keys)
	}
	frag := 0.0
	if st.UsedMemory > 0 {
		frag = float64(r) / float64(st.UsedMemory)
	}
	c.mapLen(12)
	c.bulkStr("total.allocated")
	c.int(st.UsedMemory)
	c.bulkStr("replication.backlog")
	c.int(0)
	c.bulkStr("clients.slaves")
	c.int(0)
	c.bulkStr("clients.normal")
	c.int(int64(clients) * idleClientBytes)
	c.bulkStr("aof.buffer")
	c.int(0)
	c.bulkStr("db.0")
	c.mapLen(2)
	c.bulkStr("overhead.hashtable.main")
	c.int(int64(st.Keys) * store.KeyIndexBytes)
	c.bulkStr("overhead.hashtable.expires")
	c.int(0)
	c.bulkStr("keys.count")
	c.int(int64(st.Keys))
	c.bulkStr("keys.bytes-per-key")
	c.int(perKey)
	c.bulkStr("dataset.bytes")
	c.int(st.UsedMemory)
	c.bulkStr("allocator.resident")
	c.int(r)
	c.bulkStr("fragmentation")
	c.out = resp.AppendDouble(c.out, frag, c.proto)
	c.bulkStr("fragmentation.bytes")
	c.int(r - st.UsedMemory)
}

// idleClientBytes is the measured memory of an idle connection (see
// TestIdleConnectionMemory), reported as MEMORY STATS clients.normal.
const idleClientBytes = 13 << 10

// Redis's MEMORY DOCTOR texts for the two cases cachenode can tell apart.
const (
	doctorEmpty = "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting."
	doctorOK    = "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base."
	doctorMinB  = 5 << 20 // Redis: below 5 MB the detector does not run
)

func cmdMemoryDoctor(c *conn, _ [][]byte) {
	msg := doctorOK
	if c.s.store.UsedMemory() < doctorMinB {
		msg = doctorEmpty
	}
	c.verbatim([]byte(msg))
}

// cmdMemoryMallocStats answers like Redis built without jemalloc: the Go
// runtime's allocator has no such report.
func cmdMemoryMallocStats(c *conn, _ [][]byte) {
	c.verbatim([]byte("Stats not supported for the current allocator"))
}

// cmdMemoryPurge returns freed Go heap memory to the operating system (the
// store's own memory is returned as it is freed).
func cmdMemoryPurge(c *conn, _ [][]byte) {
	debug.FreeOSMemory()
	c.ok()
}

func cmdMemoryHelp(c *conn, _ [][]byte) {
	c.helpReply("MEMORY",
		"DOCTOR", "    Return memory problems reports.",
		"MALLOC-STATS", "    Return internal statistics report from the memory allocator.",
		"PURGE", "    Attempt to purge dirty pages for reclamation by the allocator.",
		"STATS", "    Return information about the memory usage of the server.",
		"USAGE <key> [SAMPLES <count>]", "    Return memory in bytes used by <key> and its value. Nested values are",
		"    sampled up to <count> times (default: 5, 0 means sample all).",
	)
}

// SLOWLOG: cachenode keeps no slow log (execution time is only sampled, one
// command in latencySample), so the log is always empty.

func cmdSlowlogGet(c *conn, args [][]byte) {
	if len(args) > 3 {
		c.err(errSubcommandArgs(args[1], "SLOWLOG"))
		return
	}
	if len(args) == 3 {
		n, ok := resp.ParseInt(args[2])
		if !ok || n < -1 {
			c.err("ERR count should be greater than or equal to -1")
			return
		}
	}
	c.array(0)
}

func cmdSlowlogLen(c *conn, _ [][]byte)   { c.int(0) }
func cmdSlowlogReset(c *conn, _ [][]byte) { c.ok() }

func cmdSlowlogHelp(c *conn, _ [][]byte) {
	c.helpReply("SLOWLOG",
		"GET [<count>]", "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
		"    Entries are made of:",
		"    id, timestamp, time in microseconds, arguments array, client IP and port,",
		"    client name",
		"LEN", "    Return the length of the slowlog.",
		"RESET", "    Reset the slowlog.",
	)
}

// LATENCY: the latency monitor is off (Redis's default
// latency-monitor-threshold 0) and cannot be turned on, so there are no
// events. Per-command latency is in INFO commandstats and the
// cachenode_command_duration_seconds histogram.

func cmdLatencyEmpty(c *conn, _ [][]byte) { c.array(0) }

func cmdLatencyReset(c *conn, _ [][]byte) { c.int(0) }

func cmdLatencyGraph(c *conn, args [][]byte) {
	c.err("ERR No samples available for event '" + trunc(args[2], len(args[2])) + "'")
}

func cmdLatencyDoctor(c *conn, _ [][]byte) {
	c.verbatim([]byte(`I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use "CONFIG SET latency-monitor-threshold <milliseconds>." in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.` + "\n"))
}

func cmdLatencyHelp(c *conn, _ [][]byte) {
	c.helpReply("LATENCY",
		"DOCTOR", "    Return a human readable latency analysis report.",
		"GRAPH <event>", "    Return an ASCII latency graph for the <event> class.",
		"HISTORY <event>", "    Return time-latency samples for the <event> class.",
		"LATEST", "    Return the latest latency samples for all events.",
		"RESET [<event> ...]", "    Reset latency data of one or more <event> classes.",
		"    (default: reset all data for all event classes)",
	)
}
