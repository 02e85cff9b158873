// COMMAND and its subcommands: the table described as Redis describes its own.

package cachenode

import (
	"strings"

	"github.com/cachetier/cachetier/cachenode/internal/cmddocs"
	"github.com/cachetier/cachetier/cachenode/internal/store"
)

// introspectionCommands is COMMAND and its subcommands.
var introspectionCommands = []*command{
	{
		name: "command", arity: -1, flags: flagLoading | flagStale,
		acl: "@slow @connection", run: cmdCommandAll,
		doc: docMeta{group: "server", since: "2.8.13", complexity: "Depends on subcommand.",
			summary: "Returns detailed information about all commands."},
		subs: []*command{
			{
				name: "command|count", arity: 2, flags: flagLoading | flagStale,
				acl: "@slow @connection", run: cmdCommandCount,
				doc: docMeta{group: "server", since: "2.8.13", complexity: "O(1)",
					summary: "Returns a count of commands."},
			},
			{
				name: "command|docs", arity: -2, flags: flagLoading | flagStale,
				acl: "@slow @connection", run: cmdCommandDocs,
				doc: docMeta{group: "server", since: "7.0.0", complexity: "O(N) where N is the number of commands to look up",
					summary: "Returns documentary information about one, multiple or all commands."},
			},
			{
				name: "command|info", arity: -2, flags: flagLoading | flagStale,
				acl: "@slow @connection", run: cmdCommandInfo,
				doc: docMeta{group: "server", since: "2.8.13", complexity: "O(N) where N is the number of commands to look up",
					summary: "Returns information about one, multiple or all commands."},
			},
			{
				name: "command|list", arity: -2, flags: flagLoading | flagStale,
				acl: "@slow @connection", run: cmdCommandList,
				doc: docMeta{group: "server", since: "7.0.0", complexity: "O(N) where N is the total number of Redis commands",
					summary: "Returns a list of command names."},
			},
			{
				name: "command|getkeys", arity: -4, flags: flagLoading | flagStale,
				acl: "@slow @connection", run: cmdCommandGetKeys,
				doc: docMeta{group: "server", since: "2.8.13", complexity: "O(N) where N is the number of arguments to the command",
					summary: "Extracts the key names from an arbitrary command."},
			},
			{
				name: "command|getkeysandflags", arity: -4, flags: flagLoading | flagStale,
				acl: "@slow @connection", run: cmdCommandGetKeysAndFlags,
				doc: docMeta{group: "server", since: "7.0.0", complexity: "O(N) where N is the number of arguments to the command",
					summary: "Extracts the key names and access flags for an arbitrary command."},
			},
			{
				name: "command|help", arity: 2, flags: flagLoading | flagStale,
				acl: "@slow @connection", run: cmdCommandHelp,
				doc: docMeta{group: "server", since: "5.0.0", complexity: "O(1)",
					summary: "Returns helpful text about the different subcommands."},
			},
		},
	},
}

func topCommands() []*command {
	l := make([]*command, 0, len(commands))
	for _, cmd := range commandList {
		if cmd.parent == nil {
			l = append(l, cmd)
		}
	}
	return l
}

// findCommand looks a command up by name or "container|sub" full name.
func findCommand(name []byte) *command {
	var scratch [32]byte
	if i := strings.IndexByte(string(name), '|'); i >= 0 {
		parent := lookupName(commands, name[:i], &scratch)
		if parent == nil || parent.subByName == nil {
			return nil
		}
		return lookupName(parent.subByName, name[i+1:], &scratch)
	}
	return lookupName(commands, name, &scratch)
}

func cmdCommandAll(c *conn, _ [][]byte) {
	l := topCommands()
	c.array(len(l))
	for _, cmd := range l {
		c.commandInfo(cmd)
	}
}

func cmdCommandCount(c *conn, _ [][]byte) { c.int(int64(len(commands))) }

func cmdCommandInfo(c *conn, args [][]byte) {
	if len(args) == 2 {
		cmdCommandAll(c, args)
		return
	}
	c.array(len(args) - 2)
	for _, name := range args[2:] {
		if cmd := findCommand(name); cmd != nil {
			c.commandInfo(cmd)
		} else {
			c.null()
		}
	}
}

func (c *conn) commandInfo(cmd *command) {
	if rec, ok := cmddocs.Info()[cmd.name]; ok {
		c.array(10)
		for _, e := range rec.Elems[:9] {
			c.out = e.Append(c.out, c.proto)
		}
		c.subcommandsInfo(cmd)
		return
	}
	c.array(10)
	c.bulkStr(cmd.name)
	c.int(int64(cmd.arity))
	appendFlags(c, cmd.flags)
	c.int(int64(cmd.keys.first))
	c.int(int64(cmd.keys.last))
	c.int(int64(cmd.keys.step))
	cats := strings.Fields(cmd.acl)
	c.setLen(len(cats))
	for _, cat := range cats {
		c.simple(cat)
	}
	c.setLen(0) // tips
	if cmd.keys.first > 0 {
		c.keySpec(cmd)
	} else {
		c.array(0)
	}
	c.subcommandsInfo(cmd)
}

// subcommandsInfo writes the last element of cmd's COMMAND INFO entry: its
// subcommands' entries, or, as Redis writes it for a command without
// subcommands, an empty set.
func (c *conn) subcommandsInfo(cmd *command) {
	if cmd.subs == nil {
		c.setLen(0)
		return
	}
	c.array(len(cmd.subs))
	for _, s := range cmd.subs {
		c.commandInfo(s)
	}
}

// keySpec writes one Redis 7 key specification for cmd's key range.
func (c *conn) keySpec(cmd *command) {
	c.array(1)
	flags := "RO"
	if cmd.flags&flagWrite != 0 {
		flags = "RW"
	}
	c.mapLen(3)
	c.bulkStr("flags")
	c.setLen(1)
	c.simple(flags)
	c.bulkStr("begin_search")
	c.mapLen(2)
	c.bulkStr("type")
	c.bulkStr("index")
	c.bulkStr("spec")
	c.mapLen(1)
	c.bulkStr("index")
	c.int(int64(cmd.keys.first))
	c.bulkStr("find_keys")
	c.mapLen(2)
	c.bulkStr("type")
	c.bulkStr("range")
	c.bulkStr("spec")
	c.mapLen(3)
	last := cmd.keys.last
	if last > 0 {
		last -= cmd.keys.first
	}
	c.bulkStr("lastkey")
	c.int(int64(last))
	c.bulkStr("keystep")
	c.int(int64(cmd.keys.step))
	c.bulkStr("limit")
	c.int(0)
}

func appendFlags(c *conn, f cmdFlag) {
	n := 0
	for _, fl := range flagNames {
		if f&fl.f != 0 {
			n++
		}
	}
	c.setLen(n)
	for _, fl := range flagNames {
		if f&fl.f != 0 {
			c.simple(fl.name)
		}
	}
}

func cmdCommandDocs(c *conn, args [][]byte) {
	var l []*command
	if len(args) == 2 {
		l = topCommands()
	} else {
		for _, name := range args[2:] {
			if cmd := findCommand(name); cmd != nil {
				l = append(l, cmd)
			}
		}
	}
	c.mapLen(len(l))
	for _, cmd := range l {
		c.bulkStr(cmd.name)
		c.commandDocs(cmd)
	}
}

// commandDocs writes cmd's COMMAND DOCS entry: Redis's recorded docs when
// there are some (with arguments, for redis-cli's hints), else the built-in
// summary. Subcommands are the ones cachenode implements.
func (c *conn) commandDocs(cmd *command) {
	rec, ok := cmddocs.Docs()[cmd.name]
	var fields []cmddocs.Value
	if ok {
		for i := 0; i+1 < len(rec.Elems); i += 2 {
			if rec.Elems[i].Str != "subcommands" {
				fields = append(fields, rec.Elems[i], rec.Elems[i+1])
			}
		}
	} else {
		str := func(s string) cmddocs.Value { return cmddocs.Value{Kind: '$', Str: s} }
		fields = []cmddocs.Value{str("summary"), str(cmd.doc.summary), str("since"), str(cmd.doc.since),
			str("group"), str(cmd.doc.group), str("complexity"), str(cmd.doc.complexity)}
	}
	n := len(fields) / 2
	if cmd.subs != nil {
		n++
	}
	c.mapLen(n)
	for _, f := range fields {
		c.out = f.Append(c.out, c.proto)
	}
	if cmd.subs != nil {
		c.bulkStr("subcommands")
		c.mapLen(len(cmd.subs))
		for _, s := range cmd.subs {
			c.bulkStr(s.name)
			c.commandDocs(s)
		}
	}
}

func cmdCommandList(c *conn, args [][]byte) {
	l := topCommands()
	var keep func(*command) bool
	switch {
	case len(args) == 2:
	case len(args) == 5 && eq(args[2], "filterby"):
		arg := args[4]
		switch {
		case eq(args[3], "module"):
			keep = func(*command) bool { return false }
		case eq(args[3], "aclcat"):
			keep = func(cmd *command) bool {
				for _, cat := range strings.Fields(cmd.acl) {
					if strings.EqualFold(cat[1:], string(arg)) {
						return true
					}
				}
				return false
			}
		case eq(args[3], "pattern"):
			keep = func(cmd *command) bool { return store.Match(arg, []byte(cmd.name), true) }
		default:
			c.err(errSyntax)
			return
		}
	default:
		c.err(errSyntax)
		return
	}
	var names []string
	for _, cmd := range l {
		if keep == nil || keep(cmd) {
			names = append(names, cmd.name)
		}
		for _, s := range cmd.subs {
			if keep != nil && keep(s) {
				names = append(names, s.name)
			}
		}
	}
	c.array(len(names))
	for _, n := range names {
		c.bulkStr(n)
	}
}

func cmdCommandHelp(c *conn, _ [][]byte) {
	c.helpReply("COMMAND",
		"(no subcommand)", "    Return details about all commands.",
		"COUNT", "    Return the total number of commands in this server.",
		"LIST", "    Return a list of all commands in this server.",
		"INFO [<command-name> ...]", "    Return details about multiple commands.",
		"DOCS [<command-name> ...]", "    Return documentation details about multiple commands.",
		"GETKEYS <full-command>", "    Return the keys from a full command.",
		"GETKEYSANDFLAGS <full-command>", "    Return the keys and the access flags from a full command.",
	)
}
