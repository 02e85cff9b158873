// COMMAND GETKEYS and GETKEYSANDFLAGS, from the recorded key specifications.

package cachenode

import "github.com/cachetier/cachetier/cachenode/internal/cmddocs"

// COMMAND GETKEYS and GETKEYSANDFLAGS: the keys of a full command line, found
// as Redis 7 finds them, from the command's key specifications (recorded
// from redis-server with the rest of COMMAND INFO), each with its access
// flags.

func cmdCommandGetKeys(c *conn, args [][]byte)         { c.getKeys(args, false) }
func cmdCommandGetKeysAndFlags(c *conn, args [][]byte) { c.getKeys(args, true) }

// keyRef is one key argument: its position in the command line and the
// flags of the key specification that found it ("RW", "access", ...).
type keyRef struct {
	pos   int
	flags []string
}

func (c *conn) getKeys(args [][]byte, withFlags bool) {
	line := args[2:]
	cmd := lookupName(commands, line[0], &c.lower)
	if cmd != nil && cmd.subByName != nil && len(line) > 1 {
		cmd = lookupName(cmd.subByName, line[1], &c.lower)
	}
	switch {
	case cmd == nil:
		c.err("ERR Invalid command specified")
		return
	case cmd.keys.first == 0:
		c.err("ERR The command has no key arguments")
		return
	case (cmd.arity > 0 && len(line) != cmd.arity) || len(line) < -cmd.arity:
		c.err("ERR Invalid number of arguments specified for command")
		return
	}
	keys := commandKeys(cmd, line)
	if len(keys) == 0 {
		c.err("ERR Invalid arguments specified for command")
		return
	}
	c.array(len(keys))
	for _, k := range keys {
		if !withFlags {
			c.bulk(line[k.pos])
			continue
		}
		c.array(2)
		c.bulk(line[k.pos])
		c.setLen(len(k.flags))
		for _, f := range k.flags {
			c.simple(f)
		}
	}
}

// commandKeys returns the key arguments of line, a full command line for
// cmd, in the order of cmd's key specifications. SET's flags depend on its
// GET option, as Redis's setGetKeys decides them. A command without a
// recorded specification uses its first/last/step key positions with no
// flags.
func commandKeys(cmd *command, line [][]byte) []keyRef {
	if cmd.name == "set" {
		flags := []string{"OW", "update"}
		for _, a := range line[3:] {
			if eq(a, "get") {
				flags = []string{"RW", "access", "update"}
				break
			}
		}
		return []keyRef{{pos: 1, flags: flags}}
	}
	if cmd.name == "bitfield" {
		return []keyRef{{pos: 1, flags: bitfieldKeyFlags(line)}}
	}
	rec, ok := cmddocs.Info()[cmd.name]
	if !ok {
		return keyRange(cmd.keys.first, cmd.keys.last, cmd.keys.step, 0, len(line), nil)
	}
	var keys []keyRef
	for _, spec := range rec.Elems[8].Elems {
		var flags []string
		for _, f := range spec.Field("flags").Elems {
			flags = append(flags, f.Str)
		}
		bs, fk := spec.Field("begin_search"), spec.Field("find_keys")
		if bs.Field("type").Str != "index" || fk.Field("type").Str != "range" {
			continue // cachenode's commands use no other kind
		}
		first := bs.Field("spec").Field("index").Int()
		r := fk.Field("spec")
		keys = append(keys, keyRange(first, r.Field("lastkey").Int(), r.Field("keystep").Int(),
			r.Field("limit").Int(), len(line), flags)...)
	}
	return keys
}

// keyRange returns the positions a "range" key specification finds in a
// command line of argc arguments, as Redis's getKeysUsingKeySpecs does: from
// first to lastkey (relative to first when not negative, else counted from
// the end, or dividing the rest by limit), every step.
func keyRange(first, lastkey, step, limit, argc int, flags []string) []keyRef {
	if first <= 0 || first >= argc || step <= 0 {
		return nil
	}
	last := first + lastkey
	switch {
	case lastkey < 0 && limit == 0:
		last = argc + lastkey
	case lastkey < 0:
		last = first + (argc-first)/limit + lastkey
	}
	var keys []keyRef
	for i := first; i <= last && i < argc; i += step {
		keys = append(keys, keyRef{pos: i, flags: flags})
	}
	return keys
}

// bitfieldKeyFlags are BITFIELD's key flags, as Redis's bitfieldGetKeys
// decides them: read-only when every subcommand is a GET or OVERFLOW, else
// (a SET, an INCRBY or a syntax error) read-write.
func bitfieldKeyFlags(line [][]byte) []string {
	for i := 2; i < len(line); i++ {
		more := len(line) - i - 1
		switch {
		case eq(line[i], "get") && more >= 2:
			i += 2
		case eq(line[i], "overflow") && more >= 1:
			i++
		default:
			return []string{"RW", "access", "update"}
		}
	}
	return []string{"RO", "access"}
}
