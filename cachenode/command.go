package cachenode

import (
	"strings"
	"time"

	"github.com/cachetier/cachetier/internal/resp"
)

// cmdFlag describes a command, as in Redis's command table.
type cmdFlag uint32

const (
	flagWrite cmdFlag = 1 << iota
	flagReadonly
	flagDenyOOM
	flagAdmin
	flagNoAuth
	flagFast
	flagLoading
	flagStale
	flagNoScript
	flagAllowBusy
	flagNoMulti
	flagProtected // refused, as Redis refuses DEBUG by default (enable-debug-command no)
)

var flagNames = []struct {
	f    cmdFlag
	name string
}{
	{flagWrite, "write"}, {flagReadonly, "readonly"}, {flagDenyOOM, "denyoom"}, {flagAdmin, "admin"},
	{flagNoScript, "noscript"}, {flagLoading, "loading"}, {flagStale, "stale"}, {flagFast, "fast"},
	{flagNoAuth, "no_auth"}, {flagNoMulti, "no_multi"}, {flagAllowBusy, "allow_busy"}, {flagProtected, "protected"},
}

// command is one entry of the command table. The table is built once at
// init and never modified.
type command struct {
	id       int
	name     string // full lowercase name: "get", "client|setname"
	arity    int    // Redis arity: exact if > 0, minimum if < 0 (name included)
	flags    cmdFlag
	fn       func(c *conn, args [][]byte)
	firstKey int
	lastKey  int
	step     int
	acl      string // ACL categories, space separated, e.g. "@read @string @fast"
	group    string // COMMAND DOCS group: string, generic, connection, server
	since    string
	summary  string
	complex  string

	// txControl: runs at once inside MULTI instead of being queued (EXEC,
	// DISCARD, MULTI, QUIT, RESET, as in Redis).
	txControl bool

	subs    map[string]*command // subcommands of a container (CLIENT, CONFIG, COMMAND)
	subList []*command
	parent  *command
}

var (
	commandList []*command          // every command and subcommand; index = id
	commands    map[string]*command // top-level commands by lowercase name
	// unknownStats is the stats slot for commands not in the table.
	unknownID int
)

const (
	errSyntax   = "ERR syntax error"
	errNotInt   = "ERR value is not an integer or out of range"
	errNotFloat = "ERR value is not a valid float"
	errNoKey    = "ERR no such key"
	errOverflow = "ERR increment or decrement would overflow"
	errNoAuth   = "NOAUTH Authentication required."
	// errDebugDisabled is Redis 7's answer to DEBUG with its default
	// enable-debug-command no; cachenode has no setting to enable it.
	errDebugDisabled = "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server."
	errWrongPass     = "WRONGPASS invalid username-password pair or user is disabled."
	errOOM           = "OOM command not allowed when used memory > 'maxmemory'."
	errStringLimit   = "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
	maxStringLen     = resp.DefaultMaxBulk
)

// def is a compact constructor for the table below.
func def(name string, arity int, flags cmdFlag, first, last, step int, acl, group, since, summary, complexity string, fn func(*conn, [][]byte)) *command {
	return &command{name: name, arity: arity, flags: flags, firstKey: first, lastKey: last, step: step,
		acl: acl, group: group, since: since, summary: summary, complex: complexity, fn: fn}
}

// container builds a command with subcommands; fn, if not nil, runs when
// the command is called without a subcommand (COMMAND).
func container(name string, arity int, flags cmdFlag, acl, group, since, summary string, fn func(*conn, [][]byte), subs ...*command) *command {
	c := def(name, arity, flags, 0, 0, 0, acl, group, since, summary, "Depends on subcommand.", fn)
	c.subs = make(map[string]*command, len(subs))
	for _, s := range subs {
		s.parent = c
		short := s.name
		s.name = name + "|" + short
		c.subs[short] = s
		c.subList = append(c.subList, s)
	}
	return c
}

func init() {
	const (
		w   = flagWrite
		ro  = flagReadonly
		oom = flagDenyOOM
		f   = flagFast
	)
	conn := flagNoScript | flagLoading | flagStale
	top := []*command{
		// connection and server
		def("ping", -1, f|flagStale, 0, 0, 0, "@fast @connection", "connection", "1.0.0", "Returns the server's liveliness response.", "O(1)", cmdPing),
		def("echo", 2, f|flagLoading|flagStale, 0, 0, 0, "@fast @connection", "connection", "1.0.0", "Returns the given string.", "O(1)", cmdEcho),
		def("quit", -1, flagAllowBusy|conn|f|flagNoAuth, 0, 0, 0, "@fast @connection", "connection", "1.0.0", "Closes the connection.", "O(1)", cmdQuit),
		def("auth", -2, conn|f|flagNoAuth|flagAllowBusy, 0, 0, 0, "@fast @connection", "connection", "1.0.0", "Authenticates the connection.", "O(N) where N is the number of passwords defined for the user", cmdAuth),
		def("hello", -1, conn|f|flagNoAuth|flagAllowBusy, 0, 0, 0, "@fast @connection", "connection", "6.0.0", "Handshakes with the Redis server.", "O(1)", cmdHello),
		def("select", 2, flagLoading|flagStale|f, 0, 0, 0, "@fast @connection", "connection", "1.0.0", "Changes the selected database.", "O(1)", cmdSelect),
		container("client", -2, 0, "@slow", "connection", "2.4.0", "A container for client connection commands.", nil,
			def("id", 2, conn, 0, 0, 0, "@slow @connection", "connection", "5.0.0", "Returns the unique client ID of the connection.", "O(1)", cmdClientID),
			def("setname", 3, conn, 0, 0, 0, "@slow @connection", "connection", "2.6.9", "Sets the connection name.", "O(1)", cmdClientSetName),
			def("getname", 2, conn, 0, 0, 0, "@slow @connection", "connection", "2.6.9", "Returns the name of the connection.", "O(1)", cmdClientGetName),
			def("setinfo", 4, conn, 0, 0, 0, "@slow @connection", "connection", "7.2.0", "Sets information specific to the client or connection.", "O(1)", cmdClientSetInfo),
			def("list", -2, flagAdmin|conn, 0, 0, 0, "@admin @slow @dangerous @connection", "connection", "2.4.0", "Lists open connections.", "O(N) where N is the number of client connections", cmdClientList),
			def("info", 2, conn, 0, 0, 0, "@slow @connection", "connection", "6.2.0", "Returns information about the connection.", "O(1)", cmdClientInfo),
			def("kill", -3, flagAdmin|conn, 0, 0, 0, "@admin @slow @dangerous @connection", "connection", "2.4.0", "Terminates open connections.", "O(N) where N is the number of client connections", cmdClientKill),
			def("no-evict", 3, flagAdmin|conn, 0, 0, 0, "@admin @slow @dangerous @connection", "connection", "7.0.0", "Sets the client eviction mode of the connection.", "O(1)", cmdClientNoEvict),
			def("pause", -3, flagAdmin|conn, 0, 0, 0, "@admin @slow @dangerous @connection", "connection", "3.0.0", "Suspends commands processing.", "O(1)", cmdClientPause),
			def("unpause", 2, flagAdmin|conn, 0, 0, 0, "@admin @slow @dangerous @connection", "connection", "6.2.0", "Resumes processing commands from paused clients.", "O(N) Where N is the number of paused clients", cmdClientUnpause),
			def("tracking", -3, conn, 0, 0, 0, "@slow @connection", "connection", "6.0.0", "Controls server-assisted client-side caching for the connection.", "O(1). Some options may introduce additional complexity.", cmdClientTracking),
			def("caching", 3, conn, 0, 0, 0, "@slow @connection", "connection", "6.0.0", "Instructs the server whether to track the keys in the next request.", "O(1)", cmdClientCaching),
			def("getredir", 2, conn, 0, 0, 0, "@slow @connection", "connection", "6.0.0", "Returns the client ID to which the connection's tracking notifications are redirected.", "O(1)", cmdClientGetRedir),
			def("trackinginfo", 2, conn, 0, 0, 0, "@slow @connection", "connection", "6.2.0", "Returns information about server-assisted client-side caching for the connection.", "O(1)", cmdClientTrackingInfo),
			def("reply", 3, conn, 0, 0, 0, "@slow @connection", "connection", "3.2.0", "Instructs the server whether to reply to commands.", "O(1)", cmdClientReply),
			def("unblock", -3, flagAdmin|conn, 0, 0, 0, "@admin @slow @dangerous @connection", "connection", "5.0.0", "Unblocks a client blocked by a blocking command from a different connection.", "O(log N) where N is the number of client connections", cmdClientUnblock),
			def("no-touch", 3, flagNoScript|flagLoading|flagStale, 0, 0, 0, "@slow @connection", "connection", "7.2.0", "Controls whether commands sent by the client affect the LRU/LFU of accessed keys.", "O(1)", cmdClientNoTouch),
			def("help", 2, flagLoading|flagStale, 0, 0, 0, "@slow @connection", "connection", "5.0.0", "Returns helpful text about the different subcommands.", "O(1)", cmdClientHelp),
		),
		def("multi", 1, flagNoScript|flagLoading|flagStale|f|flagAllowBusy, 0, 0, 0, "@fast @transaction", "transactions", "1.2.0", "Starts a transaction.", "O(1)", cmdMulti),
		def("exec", 1, flagNoScript|flagLoading|flagStale, 0, 0, 0, "@slow @transaction", "transactions", "1.2.0", "Executes all commands in a transaction.", "Depends on commands in the transaction", cmdExec),
		def("discard", 1, flagNoScript|flagLoading|flagStale|f|flagAllowBusy, 0, 0, 0, "@fast @transaction", "transactions", "2.0.0", "Discards a transaction.", "O(N), when N is the number of queued commands", cmdDiscard),
		def("reset", 1, conn|f|flagNoAuth|flagAllowBusy, 0, 0, 0, "@fast @connection", "connection", "6.2.0", "Resets the connection.", "O(1)", cmdReset),
		def("watch", -2, flagNoScript|flagLoading|flagStale|f|flagAllowBusy, 1, -1, 1, "@fast @transaction", "transactions", "2.2.0", "Monitors changes to keys to determine the execution of a transaction.", "O(1) for every key.", cmdWatch),
		def("unwatch", 1, flagNoScript|flagLoading|flagStale|f|flagAllowBusy, 0, 0, 0, "@fast @transaction", "transactions", "2.2.0", "Forgets about watched keys of a transaction.", "O(1)", cmdUnwatch),
		def("readonly", 1, flagLoading|flagStale|f, 0, 0, 0, "@fast @connection", "cluster", "3.0.0", "Enables read-only queries for a connection to a Redis Cluster replica node.", "O(1)", cmdClusterDisabled),
		def("readwrite", 1, flagLoading|flagStale|f, 0, 0, 0, "@fast @connection", "cluster", "3.0.0", "Enables read-write queries for a connection to a Redis Cluster replica node.", "O(1)", cmdClusterDisabled),
		clusterCommand(),
		container("command", -1, flagLoading|flagStale, "@slow @connection", "server", "2.8.13", "Returns detailed information about all commands.", cmdCommandAll,
			def("count", 2, flagLoading|flagStale, 0, 0, 0, "@slow @connection", "server", "2.8.13", "Returns a count of commands.", "O(1)", cmdCommandCount),
			def("docs", -2, flagLoading|flagStale, 0, 0, 0, "@slow @connection", "server", "7.0.0", "Returns documentary information about one, multiple or all commands.", "O(N) where N is the number of commands to look up", cmdCommandDocs),
			def("info", -2, flagLoading|flagStale, 0, 0, 0, "@slow @connection", "server", "2.8.13", "Returns information about one, multiple or all commands.", "O(N) where N is the number of commands to look up", cmdCommandInfo),
			def("list", -2, flagLoading|flagStale, 0, 0, 0, "@slow @connection", "server", "7.0.0", "Returns a list of command names.", "O(N) where N is the total number of Redis commands", cmdCommandList),
			def("getkeys", -4, flagLoading|flagStale, 0, 0, 0, "@slow @connection", "server", "2.8.13", "Extracts the key names from an arbitrary command.", "O(N) where N is the number of arguments to the command", cmdCommandGetKeys),
			def("getkeysandflags", -4, flagLoading|flagStale, 0, 0, 0, "@slow @connection", "server", "7.0.0", "Extracts the key names and access flags for an arbitrary command.", "O(N) where N is the number of arguments to the command", cmdCommandGetKeysAndFlags),
			def("help", 2, flagLoading|flagStale, 0, 0, 0, "@slow @connection", "server", "5.0.0", "Returns helpful text about the different subcommands.", "O(1)", cmdCommandHelp),
		),
		container("config", -2, 0, "@slow", "server", "2.0.0", "A container for server configuration commands.", nil,
			def("get", -3, flagAdmin|conn, 0, 0, 0, "@admin @slow @dangerous", "server", "2.0.0", "Returns the effective values of configuration parameters.", "O(N) when N is the number of configuration parameters provided", cmdConfigGet),
			def("set", -4, flagAdmin|flagNoScript|flagLoading|flagStale, 0, 0, 0, "@admin @slow @dangerous", "server", "2.0.0", "Sets configuration parameters in-flight.", "O(N) when N is the number of configuration parameters provided", cmdConfigSet),
			def("resetstat", 2, flagAdmin|conn, 0, 0, 0, "@admin @slow @dangerous", "server", "2.0.0", "Resets the server's statistics.", "O(1)", cmdConfigResetStat),
			def("rewrite", 2, flagAdmin|flagNoScript|flagLoading|flagStale, 0, 0, 0, "@admin @slow @dangerous", "server", "2.8.0", "Persists the effective configuration to file.", "O(1)", cmdConfigRewrite),
			def("help", 2, flagLoading|flagStale, 0, 0, 0, "@slow", "server", "5.0.0", "Returns helpful text about the different subcommands.", "O(1)", cmdConfigHelp),
		),
		def("info", -1, flagLoading|flagStale, 0, 0, 0, "@slow @dangerous", "server", "1.0.0", "Returns information and statistics about the server.", "O(1)", cmdInfo),
		def("dbsize", 1, ro|f, 0, 0, 0, "@keyspace @read @fast", "server", "1.0.0", "Returns the number of keys in the database.", "O(1)", cmdDBSize),
		def("flushdb", -1, w, 0, 0, 0, "@keyspace @write @slow @dangerous", "server", "1.0.0", "Removes all keys from the current database.", "O(N) where N is the number of keys in the selected database", cmdFlush),
		def("flushall", -1, w, 0, 0, 0, "@keyspace @write @slow @dangerous", "server", "1.0.0", "Removes all keys from all databases.", "O(N) where N is the total number of keys in all databases", cmdFlush),
		def("time", 1, flagLoading|flagStale|f, 0, 0, 0, "@fast", "server", "2.6.0", "Returns the server time.", "O(1)", cmdTime),
		def("shutdown", -1, flagAdmin|flagNoScript|flagLoading|flagStale|flagNoMulti|flagAllowBusy, 0, 0, 0, "@admin @slow @dangerous", "server", "1.0.0", "Synchronously saves the database(s) to disk and shuts down the Redis server.", "O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)", cmdShutdown),
		def("wait", 3, flagNoScript, 0, 0, 0, "@slow @connection", "generic", "3.0.0", "Blocks until the asynchronous replication of all preceding write commands sent by the connection is completed.", "O(1)", cmdWait),
		def("debug", -2, flagAdmin|conn|flagProtected, 0, 0, 0, "@admin @slow @dangerous", "server", "1.0.0", "A container for debugging commands.", "Depends on subcommand.", cmdDebug),
		def("monitor", 1, flagAdmin|conn, 0, 0, 0, "@admin @slow @dangerous", "server", "1.0.0", "Listens for all requests received by the server in real-time.", "O(1)", cmdMonitor),
		def("lastsave", 1, flagLoading|flagStale|f, 0, 0, 0, "@admin @fast @dangerous", "server", "1.0.0", "Returns the Unix timestamp of the last successful save to disk.", "O(1)", cmdLastSave),
		def("role", 1, flagNoScript|flagLoading|flagStale|f, 0, 0, 0, "@admin @fast @dangerous", "server", "2.8.12", "Returns the replication role.", "O(1)", cmdRole),
		container("memory", -2, 0, "@slow", "server", "4.0.0", "A container for memory diagnostics commands.", nil,
			def("doctor", 2, 0, 0, 0, 0, "@slow", "server", "4.0.0", "Outputs a memory problems report.", "O(1)", cmdMemoryDoctor),
			def("malloc-stats", 2, 0, 0, 0, 0, "@slow", "server", "4.0.0", "Returns the allocator statistics.", "Depends on how much memory is allocated, could be slow", cmdMemoryMallocStats),
			def("purge", 2, 0, 0, 0, 0, "@slow", "server", "4.0.0", "Asks the allocator to release memory.", "Depends on how much memory is allocated, could be slow", cmdMemoryPurge),
			def("stats", 2, 0, 0, 0, 0, "@slow", "server", "4.0.0", "Returns details about memory usage.", "O(1)", cmdMemoryStats),
			def("usage", -3, ro, 2, 2, 1, "@read @slow", "server", "4.0.0", "Estimates the memory usage of a key.", "O(N) where N is the number of samples.", cmdMemoryUsage),
			def("help", 2, flagLoading|flagStale, 0, 0, 0, "@slow", "server", "4.0.0", "Returns helpful text about the different subcommands.", "O(1)", cmdMemoryHelp),
		),
		container("slowlog", -2, 0, "@slow", "server", "2.2.12", "A container for slow log commands.", nil,
			def("get", -2, flagAdmin|flagLoading|flagStale, 0, 0, 0, "@admin @slow @dangerous", "server", "2.2.12", "Returns the slow log's entries.", "O(N) where N is the number of entries returned", cmdSlowlogGet),
			def("len", 2, flagAdmin|flagLoading|flagStale, 0, 0, 0, "@admin @slow @dangerous", "server", "2.2.12", "Returns the number of entries in the slow log.", "O(1)", cmdSlowlogLen),
			def("reset", 2, flagAdmin|flagLoading|flagStale, 0, 0, 0, "@admin @slow @dangerous", "server", "2.2.12", "Clears all entries from the slow log.", "O(N) where N is the number of entries in the slowlog", cmdSlowlogReset),
			def("help", 2, flagLoading|flagStale, 0, 0, 0, "@slow", "server", "6.2.0", "Show helpful text about the different subcommands", "O(1)", cmdSlowlogHelp),
		),
		container("latency", -2, 0, "@slow", "server", "2.8.13", "A container for latency diagnostics commands.", nil,
			def("doctor", 2, flagAdmin|conn, 0, 0, 0, "@admin @slow @dangerous", "server", "2.8.13", "Returns a human-readable latency analysis report.", "O(1)", cmdLatencyDoctor),
			def("graph", 3, flagAdmin|conn, 0, 0, 0, "@admin @slow @dangerous", "server", "2.8.13", "Returns a latency graph for an event.", "O(1)", cmdLatencyGraph),
			def("history", 3, flagAdmin|conn, 0, 0, 0, "@admin @slow @dangerous", "server", "2.8.13", "Returns timestamp-latency samples for an event.", "O(1)", cmdLatencyEmpty),
			def("latest", 2, flagAdmin|conn, 0, 0, 0, "@admin @slow @dangerous", "server", "2.8.13", "Returns the latest latency samples for all events.", "O(1)", cmdLatencyEmpty),
			def("reset", -2, flagAdmin|conn, 0, 0, 0, "@admin @slow @dangerous", "server", "2.8.13", "Resets the latency data for one or more events.", "O(1)", cmdLatencyReset),
			def("help", 2, flagLoading|flagStale, 0, 0, 0, "@slow", "server", "2.8.13", "Returns helpful text about the different subcommands.", "O(1)", cmdLatencyHelp),
		),

		// strings
		def("get", 2, ro|f, 1, 1, 1, "@read @string @fast", "string", "1.0.0", "Returns the string value of a key.", "O(1)", cmdGet),
		def("set", -3, w|oom, 1, 1, 1, "@write @string @slow", "string", "1.0.0", "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.", "O(1)", cmdSet),
		def("setnx", 3, w|oom|f, 1, 1, 1, "@write @string @fast", "string", "1.0.0", "Set the string value of a key only when the key doesn't exist.", "O(1)", cmdSetNX),
		def("setex", 4, w|oom, 1, 1, 1, "@write @string @slow", "string", "2.0.0", "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.", "O(1)", cmdSetEX),
		def("psetex", 4, w|oom, 1, 1, 1, "@write @string @slow", "string", "2.6.0", "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.", "O(1)", cmdPSetEX),
		def("getset", 3, w|oom|f, 1, 1, 1, "@write @string @fast", "string", "1.0.0", "Returns the previous string value of a key after setting it to a new value.", "O(1)", cmdGetSet),
		def("getdel", 2, w|f, 1, 1, 1, "@write @string @fast", "string", "6.2.0", "Returns the string value of a key after deleting the key.", "O(1)", cmdGetDel),
		def("getex", -2, w|f, 1, 1, 1, "@write @string @fast", "string", "6.2.0", "Returns the string value of a key after setting its expiration time.", "O(1)", cmdGetEX),
		def("mget", -2, ro|f, 1, -1, 1, "@read @string @fast", "string", "1.0.0", "Atomically returns the string values of one or more keys.", "O(N) where N is the number of keys to retrieve.", cmdMGet),
		def("mset", -3, w|oom, 1, -1, 2, "@write @string @slow", "string", "1.0.1", "Atomically creates or modifies the string values of one or more keys.", "O(N) where N is the number of keys to set.", cmdMSet),
		def("msetnx", -3, w|oom, 1, -1, 2, "@write @string @slow", "string", "1.0.1", "Atomically modifies the string values of one or more keys only when all keys don't exist.", "O(N) where N is the number of keys to set.", cmdMSetNX),
		def("append", 3, w|oom|f, 1, 1, 1, "@write @string @fast", "string", "2.0.0", "Appends a string to the value of a key. Creates the key if it doesn't exist.", "O(1)", cmdAppend),
		def("strlen", 2, ro|f, 1, 1, 1, "@read @string @fast", "string", "2.2.0", "Returns the length of a string value.", "O(1)", cmdStrlen),
		def("getrange", 4, ro, 1, 1, 1, "@read @string @slow", "string", "2.4.0", "Returns a substring of the string stored at a key.", "O(N) where N is the length of the returned string.", cmdGetRange),
		def("setrange", 4, w|oom, 1, 1, 1, "@write @string @slow", "string", "2.2.0", "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.", "O(1), not counting the time taken to copy the new string in place.", cmdSetRange),
		def("incr", 2, w|oom|f, 1, 1, 1, "@write @string @fast", "string", "1.0.0", "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", "O(1)", cmdIncr),
		def("decr", 2, w|oom|f, 1, 1, 1, "@write @string @fast", "string", "1.0.0", "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", "O(1)", cmdDecr),
		def("incrby", 3, w|oom|f, 1, 1, 1, "@write @string @fast", "string", "1.0.0", "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.", "O(1)", cmdIncrBy),
		def("decrby", 3, w|oom|f, 1, 1, 1, "@write @string @fast", "string", "1.0.0", "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.", "O(1)", cmdDecrBy),
		def("incrbyfloat", 3, w|oom|f, 1, 1, 1, "@write @string @fast", "string", "2.6.0", "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.", "O(1)", cmdIncrByFloat),

		// keys
		def("del", -2, w, 1, -1, 1, "@keyspace @write @slow", "generic", "1.0.0", "Deletes one or more keys.", "O(N) where N is the number of keys that will be removed.", cmdDel),
		def("unlink", -2, w|f, 1, -1, 1, "@keyspace @write @fast", "generic", "4.0.0", "Asynchronously deletes one or more keys.", "O(1) for each key removed regardless of its size.", cmdDel),
		def("exists", -2, ro|f, 1, -1, 1, "@keyspace @read @fast", "generic", "1.0.0", "Determines whether one or more keys exist.", "O(N) where N is the number of keys to check.", cmdExists),
		def("type", 2, ro|f, 1, 1, 1, "@keyspace @read @fast", "generic", "1.0.0", "Determines the type of value stored at a key.", "O(1)", cmdType),
		def("touch", -2, ro|f, 1, -1, 1, "@keyspace @read @fast", "generic", "3.2.1", "Returns the number of existing keys out of those specified after updating the time they were last accessed.", "O(N) where N is the number of keys that will be touched.", cmdTouch),
		def("expire", -3, w|f, 1, 1, 1, "@keyspace @write @fast", "generic", "1.0.0", "Sets the expiration time of a key in seconds.", "O(1)", cmdExpire),
		def("pexpire", -3, w|f, 1, 1, 1, "@keyspace @write @fast", "generic", "2.6.0", "Sets the expiration time of a key in milliseconds.", "O(1)", cmdPExpire),
		def("expireat", -3, w|f, 1, 1, 1, "@keyspace @write @fast", "generic", "1.2.0", "Sets the expiration time of a key to a Unix timestamp.", "O(1)", cmdExpireAt),
		def("pexpireat", -3, w|f, 1, 1, 1, "@keyspace @write @fast", "generic", "2.6.0", "Sets the expiration time of a key to a Unix milliseconds timestamp.", "O(1)", cmdPExpireAt),
		def("ttl", 2, ro|f, 1, 1, 1, "@keyspace @read @fast", "generic", "1.0.0", "Returns the expiration time in seconds of a key.", "O(1)", cmdTTL),
		def("pttl", 2, ro|f, 1, 1, 1, "@keyspace @read @fast", "generic", "2.6.0", "Returns the expiration time in milliseconds of a key.", "O(1)", cmdPTTL),
		def("expiretime", 2, ro|f, 1, 1, 1, "@keyspace @read @fast", "generic", "7.0.0", "Returns the expiration time of a key as a Unix timestamp.", "O(1)", cmdExpireTime),
		def("pexpiretime", 2, ro|f, 1, 1, 1, "@keyspace @read @fast", "generic", "7.0.0", "Returns the expiration time of a key as a Unix milliseconds timestamp.", "O(1)", cmdPExpireTime),
		def("persist", 2, w|f, 1, 1, 1, "@keyspace @write @fast", "generic", "2.2.0", "Removes the expiration time of a key.", "O(1)", cmdPersist),
		def("keys", 2, ro, 0, 0, 0, "@keyspace @read @slow @dangerous", "generic", "1.0.0", "Returns all key names that match a pattern.", "O(N) with N being the number of keys in the database", cmdKeys),
		def("scan", -2, ro, 0, 0, 0, "@keyspace @read @slow", "generic", "2.8.0", "Iterates over the key names in the database.", "O(1) for every call. O(N) for a complete iteration.", cmdScan),
		def("randomkey", 1, ro, 0, 0, 0, "@keyspace @read @slow", "generic", "1.0.0", "Returns a random key name from the database.", "O(1)", cmdRandomKey),
		def("rename", 3, w, 1, 2, 1, "@keyspace @write @slow", "generic", "1.0.0", "Renames a key and overwrites the destination.", "O(1)", cmdRename),
		container("object", -2, 0, "@slow", "generic", "2.2.3", "A container for object introspection commands.", nil,
			def("encoding", 3, ro, 2, 2, 1, "@keyspace @read @slow", "generic", "2.2.3", "Returns the internal encoding of a Redis object.", "O(1)", cmdObjectEncoding),
			def("freq", 3, ro, 2, 2, 1, "@keyspace @read @slow", "generic", "4.0.0", "Returns the logarithmic access frequency counter of a Redis object.", "O(1)", cmdObjectFreq),
			def("idletime", 3, ro, 2, 2, 1, "@keyspace @read @slow", "generic", "2.2.3", "Returns the time since the last access to a Redis object.", "O(1)", cmdObjectIdleTime),
			def("refcount", 3, ro, 2, 2, 1, "@keyspace @read @slow", "generic", "2.2.3", "Returns the reference count of a value of a key.", "O(1)", cmdObjectRefCount),
			def("help", 2, flagLoading|flagStale, 0, 0, 0, "@keyspace @slow", "generic", "6.2.0", "Returns helpful text about the different subcommands.", "O(1)", cmdObjectHelp),
		),
		def("renamenx", 3, w|f, 1, 2, 1, "@keyspace @write @fast", "generic", "1.0.0", "Renames a key only when the target key name doesn't exist.", "O(1)", cmdRenameNX),
	}
	commands = make(map[string]*command, len(top))
	for _, c := range top {
		commands[c.name] = c
		c.id = len(commandList)
		commandList = append(commandList, c)
		for _, s := range c.subList {
			s.id = len(commandList)
			commandList = append(commandList, s)
		}
	}
	unknownID = len(commandList)
	cmdGetEntry, cmdSetEntry = commands["get"], commands["set"]
	clientCachingCmd = commands["client"].subs["caching"]
	execCmd = commands["exec"]
	for _, n := range []string{"exec", "discard", "multi", "quit", "reset", "watch"} {
		commands[n].txControl = true
	}
}

// lookupName finds the command named by b, ASCII case-insensitively,
// without allocating.
func lookupName(m map[string]*command, b []byte, scratch *[32]byte) *command {
	if len(b) > len(scratch) {
		return nil
	}
	for i, ch := range b {
		if ch >= 'A' && ch <= 'Z' {
			ch += 'a' - 'A'
		}
		scratch[i] = ch
	}
	return m[string(scratch[:len(b)])]
}

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
	if cmd.subs != nil && len(args) >= 2 {
		sub := lookupName(cmd.subs, args[1], &c.lower)
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
		cmd.fn(c, args)
		c.s.stats[cmd.id].sample(time.Since(start))
	} else {
		cmd.fn(c, args)
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

var cmdGetEntry, cmdSetEntry *command

// fastLookup resolves GET and SET, the bulk of a cache's traffic, without a
// map lookup.
func fastLookup(name []byte) *command {
	if len(name) != 3 || name[1]|0x20 != 'e' || name[2]|0x20 != 't' {
		return nil
	}
	switch name[0] | 0x20 {
	case 'g':
		return cmdGetEntry
	case 's':
		return cmdSetEntry
	}
	return nil
}

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

// trunc returns b as a string of at most n bytes, cut at a NUL byte like
// C's %.*s.
func trunc(b []byte, n int) string {
	if n < 0 {
		n = 0
	}
	if len(b) > n {
		b = b[:n]
	}
	for i, ch := range b {
		if ch == 0 {
			b = b[:i]
			break
		}
	}
	return string(b)
}

// Reply helpers.

func (c *conn) ok()               { c.out = append(c.out, "+OK\r\n"...) }
func (c *conn) err(msg string)    { c.out = resp.AppendError(c.out, msg); c.s.errStats.count(msg) }
func (c *conn) int(n int64)       { c.out = resp.AppendInt(c.out, n) }
func (c *conn) bulk(b []byte)     { c.out = resp.AppendBulk(c.out, b) }
func (c *conn) bulkStr(s string)  { c.out = resp.AppendBulkString(c.out, s) }
func (c *conn) simple(s string)   { c.out = resp.AppendSimple(c.out, s) }
func (c *conn) null()             { c.out = resp.AppendNull(c.out, c.proto) }
func (c *conn) array(n int)       { c.out = resp.AppendArrayLen(c.out, n) }
func (c *conn) mapLen(n int)      { c.out = resp.AppendMapLen(c.out, n, c.proto) }
func (c *conn) setLen(n int)      { c.out = resp.AppendSetLen(c.out, n, c.proto) }
func (c *conn) verbatim(s []byte) { c.out = resp.AppendVerbatim(c.out, "txt", s, c.proto) }
func (c *conn) bool01(b bool) {
	if b {
		c.int(1)
	} else {
		c.int(0)
	}
}

// eq reports whether b equals the lowercase ASCII word s, ignoring case.
func eq(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		ch := b[i]
		if ch >= 'A' && ch <= 'Z' {
			ch += 'a' - 'A'
		}
		if ch != s[i] {
			return false
		}
	}
	return true
}
