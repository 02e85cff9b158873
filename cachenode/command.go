// The command table: its types, the registry of the groups' tables, lookups.

package cachenode

import "strings"

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

// command is one entry of the command table: a command, or a subcommand of
// a container such as CLIENT. Each command group declares its part of the
// table as data next to its handlers (connectionCommands in
// cmd_connection.go, stringCommands in cmd_strings.go, ...);
// registerCommands links them once at init, and nothing changes them after.
type command struct {
	// Read for every command (exec), so kept together at the start.
	id        int                          // index in commandList and the stats; set by registerCommands
	arity     int                          // Redis arity: exact if > 0, minimum if < 0 (name included)
	flags     cmdFlag                      // Redis's command flags: write, readonly, denyoom...
	txControl bool                         // runs at once inside MULTI instead of being queued, as in Redis
	run       func(c *conn, args [][]byte) // nil for containers whose arity requires a subcommand
	keys      keySpec                      // where the key arguments are; zero: none
	subByName map[string]*command          // a container's subcommands by short name; set by registerCommands

	name   string     // full lowercase name: "get", "client|setname"
	acl    string     // ACL categories, space separated, e.g. "@read @string @fast"
	doc    docMeta    // COMMAND DOCS entry when Redis's recorded docs lack the command
	subs   []*command // a container's subcommands, in COMMAND's order
	parent *command   // the container of a subcommand; set by registerCommands
}

// keySpec gives a command's key arguments as Redis's first, last, step
// triple: first is the position of the first key (0: no keys), last the
// last one (negative: counted from the end), step the distance between keys
// (MSET: 2). Tracking, WATCH and COMMAND INFO/GETKEYS read it.
type keySpec struct{ first, last, step int }

// docMeta is a command's COMMAND DOCS entry, answered when Redis's recorded
// docs (internal/cmddocs) lack the command.
type docMeta struct {
	group      string // string, generic, connection, server, transactions, cluster
	since      string // the Redis version that introduced the command
	complexity string
	summary    string
}

var (
	commandList []*command          // every command and subcommand; index = id
	commands    map[string]*command // top-level commands by lowercase name
	// unknownID is the stats slot for commands not in the table.
	unknownID int

	// Commands the dispatcher and the tracking hooks compare against.
	cmdGetEntry, cmdSetEntry, execCmd, clientCachingCmd *command
)

func init() {
	// The order of the groups is the order of the ids: COMMAND, COMMAND
	// DOCS, COMMAND LIST and INFO commandstats list commands by id.
	registerCommands(connectionCommands, clientCommands, multiCommands, resetCommands, watchCommands,
		clusterCommands, introspectionCommands, configCommands, serverCommands, diagCommands,
		stringCommands, bitCommands, keyCommands)
}

// registerCommands builds commandList and commands from the groups'
// tables: ids in order, each command followed by its subcommands, whose
// full names ("client|id") must start with their container's.
func registerCommands(tables ...[]*command) {
	commands = make(map[string]*command)
	add := func(c *command) {
		c.id = len(commandList)
		commandList = append(commandList, c)
	}
	for _, table := range tables {
		for _, c := range table {
			if commands[c.name] != nil {
				panic("cachenode: command " + c.name + " declared twice")
			}
			commands[c.name] = c
			add(c)
			if c.subs == nil {
				continue
			}
			c.subByName = make(map[string]*command, len(c.subs))
			for _, s := range c.subs {
				parent, short, ok := strings.Cut(s.name, "|")
				if !ok || parent != c.name || c.subByName[short] != nil {
					panic("cachenode: bad or repeated subcommand " + s.name + " of " + c.name)
				}
				s.parent = c
				c.subByName[short] = s
				add(s)
			}
		}
	}
	unknownID = len(commandList)
	cmdGetEntry, cmdSetEntry = commands["get"], commands["set"]
	execCmd = commands["exec"]
	clientCachingCmd = commands["client"].subByName["caching"]
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
	if cmd.keys.first <= 0 || cmd.keys.step <= 0 {
		return
	}
	last := cmd.keys.last
	if last < 0 {
		last = len(args) + last
	}
	for i := cmd.keys.first; i <= last && i < len(args); i += cmd.keys.step {
		fn(args[i])
	}
}
