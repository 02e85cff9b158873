package cachenode

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

// forKeys calls fn for each key argument of cmd, from its key
// specification (first, last, step; a negative last counts from the end).
func forKeys(cmd *command, args [][]byte, fn func([]byte)) {
	if cmd.firstKey <= 0 || cmd.step <= 0 {
		return
	}
	last := cmd.lastKey
	if last < 0 {
		last = len(args) + last
	}
	for i := cmd.firstKey; i <= last && i < len(args); i += cmd.step {
		fn(args[i])
	}
}
