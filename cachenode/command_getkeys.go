package cachenode

import (
	"strconv"
	"strings"
)

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
	rec, ok := recordedInfo()[cmd.name]
	if !ok {
		return keyRange(cmd.keys.first, cmd.keys.last, cmd.keys.step, 0, len(line), nil)
	}
	var keys []keyRef
	for _, spec := range rec.elems[8].elems {
		var flags []string
		for _, f := range field(spec, "flags").elems {
			flags = append(flags, f.str)
		}
		bs, fk := field(spec, "begin_search"), field(spec, "find_keys")
		if field(bs, "type").str != "index" || field(fk, "type").str != "range" {
			continue // cachenode's commands use no other kind
		}
		first := atoiValue(field(field(bs, "spec"), "index"))
		r := field(fk, "spec")
		keys = append(keys, keyRange(first, atoiValue(field(r, "lastkey")), atoiValue(field(r, "keystep")),
			atoiValue(field(r, "limit")), len(line), flags)...)
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

// field returns the value under name in a recorded RESP3 map.
func field(m value, name string) value {
	for i := 0; i+1 < len(m.elems); i += 2 {
		if strings.EqualFold(m.elems[i].str, name) {
			return m.elems[i+1]
		}
	}
	return value{}
}

func atoiValue(v value) int {
	n, _ := strconv.Atoi(v.str)
	return n
}
