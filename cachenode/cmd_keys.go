// Generic key commands (DEL, EXPIRE, TTL, SCAN, RENAME...) and OBJECT.

package cachenode

import (
	"bytes"
	"math"
	"strconv"

	"github.com/cachetier/cachetier/cachenode/internal/store"
	"github.com/cachetier/cachetier/internal/resp"
)

// keyCommands are the generic key commands, OBJECT included.
var keyCommands = []*command{
	{
		name: "del", arity: -2, flags: flagWrite, keys: keySpec{1, -1, 1},
		acl: "@keyspace @write @slow", run: cmdDel,
		doc: docMeta{group: "generic", since: "1.0.0", complexity: "O(N) where N is the number of keys that will be removed.",
			summary: "Deletes one or more keys."},
	},
	{
		name: "unlink", arity: -2, flags: flagWrite | flagFast, keys: keySpec{1, -1, 1},
		acl: "@keyspace @write @fast", run: cmdDel,
		doc: docMeta{group: "generic", since: "4.0.0", complexity: "O(1) for each key removed regardless of its size.",
			summary: "Asynchronously deletes one or more keys."},
	},
	{
		name: "exists", arity: -2, flags: flagReadonly | flagFast, keys: keySpec{1, -1, 1},
		acl: "@keyspace @read @fast", run: cmdExists,
		doc: docMeta{group: "generic", since: "1.0.0", complexity: "O(N) where N is the number of keys to check.",
			summary: "Determines whether one or more keys exist."},
	},
	{
		name: "type", arity: 2, flags: flagReadonly | flagFast, keys: keySpec{1, 1, 1},
		acl: "@keyspace @read @fast", run: cmdType,
		doc: docMeta{group: "generic", since: "1.0.0", complexity: "O(1)",
			summary: "Determines the type of value stored at a key."},
	},
	{
		name: "touch", arity: -2, flags: flagReadonly | flagFast, keys: keySpec{1, -1, 1},
		acl: "@keyspace @read @fast", run: cmdTouch,
		doc: docMeta{group: "generic", since: "3.2.1", complexity: "O(N) where N is the number of keys that will be touched.",
			summary: "Returns the number of existing keys out of those specified after updating the time they were last accessed."},
	},
	{
		name: "expire", arity: -3, flags: flagWrite | flagFast, keys: keySpec{1, 1, 1},
		acl: "@keyspace @write @fast", run: cmdExpire,
		doc: docMeta{group: "generic", since: "1.0.0", complexity: "O(1)",
			summary: "Sets the expiration time of a key in seconds."},
	},
	{
		name: "pexpire", arity: -3, flags: flagWrite | flagFast, keys: keySpec{1, 1, 1},
		acl: "@keyspace @write @fast", run: cmdPExpire,
		doc: docMeta{group: "generic", since: "2.6.0", complexity: "O(1)",
			summary: "Sets the expiration time of a key in milliseconds."},
	},
	{
		name: "expireat", arity: -3, flags: flagWrite | flagFast, keys: keySpec{1, 1, 1},
		acl: "@keyspace @write @fast", run: cmdExpireAt,
		doc: docMeta{group: "generic", since: "1.2.0", complexity: "O(1)",
			summary: "Sets the expiration time of a key to a Unix timestamp."},
	},
	{
		name: "pexpireat", arity: -3, flags: flagWrite | flagFast, keys: keySpec{1, 1, 1},
		acl: "@keyspace @write @fast", run: cmdPExpireAt,
		doc: docMeta{group: "generic", since: "2.6.0", complexity: "O(1)",
			summary: "Sets the expiration time of a key to a Unix milliseconds timestamp."},
	},
	{
		name: "ttl", arity: 2, flags: flagReadonly | flagFast, keys: keySpec{1, 1, 1},
		acl: "@keyspace @read @fast", run: cmdTTL,
		doc: docMeta{group: "generic", since: "1.0.0", complexity: "O(1)",
			summary: "Returns the expiration time in seconds of a key."},
	},
	{
		name: "pttl", arity: 2, flags: flagReadonly | flagFast, keys: keySpec{1, 1, 1},
		acl: "@keyspace @read @fast", run: cmdPTTL,
		doc: docMeta{group: "generic", since: "2.6.0", complexity: "O(1)",
			summary: "Returns the expiration time in milliseconds of a key."},
	},
	{
		name: "expiretime", arity: 2, flags: flagReadonly | flagFast, keys: keySpec{1, 1, 1},
		acl: "@keyspace @read @fast", run: cmdExpireTime,
		doc: docMeta{group: "generic", since: "7.0.0", complexity: "O(1)",
			summary: "Returns the expiration time of a key as a Unix timestamp."},
	},
	{
		name: "pexpiretime", arity: 2, flags: flagReadonly | flagFast, keys: keySpec{1, 1, 1},
		acl: "@keyspace @read @fast", run: cmdPExpireTime,
		doc: docMeta{group: "generic", since: "7.0.0", complexity: "O(1)",
			summary: "Returns the expiration time of a key as a Unix milliseconds timestamp."},
	},
	{
		name: "persist", arity: 2, flags: flagWrite | flagFast, keys: keySpec{1, 1, 1},
		acl: "@keyspace @write @fast", run: cmdPersist,
		doc: docMeta{group: "generic", since: "2.2.0", complexity: "O(1)",
			summary: "Removes the expiration time of a key."},
	},
	{
		name: "keys", arity: 2, flags: flagReadonly,
		acl: "@keyspace @read @slow @dangerous", run: cmdKeys,
		doc: docMeta{group: "generic", since: "1.0.0", complexity: "O(N) with N being the number of keys in the database",
			summary: "Returns all key names that match a pattern."},
	},
	{
		name: "scan", arity: -2, flags: flagReadonly,
		acl: "@keyspace @read @slow", run: cmdScan,
		doc: docMeta{group: "generic", since: "2.8.0", complexity: "O(1) for every call. O(N) for a complete iteration.",
			summary: "Iterates over the key names in the database."},
	},
	{
		name: "randomkey", arity: 1, flags: flagReadonly,
		acl: "@keyspace @read @slow", run: cmdRandomKey,
		doc: docMeta{group: "generic", since: "1.0.0", complexity: "O(1)",
			summary: "Returns a random key name from the database."},
	},
	{
		name: "rename", arity: 3, flags: flagWrite, keys: keySpec{1, 2, 1},
		acl: "@keyspace @write @slow", run: cmdRename,
		doc: docMeta{group: "generic", since: "1.0.0", complexity: "O(1)",
			summary: "Renames a key and overwrites the destination."},
	},
	{
		name: "object", arity: -2,
		acl: "@slow",
		doc: docMeta{group: "generic", since: "2.2.3", complexity: "Depends on subcommand.",
			summary: "A container for object introspection commands."},
		subs: []*command{
			{
				name: "object|encoding", arity: 3, flags: flagReadonly, keys: keySpec{2, 2, 1},
				acl: "@keyspace @read @slow", run: cmdObjectEncoding,
				doc: docMeta{group: "generic", since: "2.2.3", complexity: "O(1)",
					summary: "Returns the internal encoding of a Redis object."},
			},
			{
				name: "object|freq", arity: 3, flags: flagReadonly, keys: keySpec{2, 2, 1},
				acl: "@keyspace @read @slow", run: cmdObjectFreq,
				doc: docMeta{group: "generic", since: "4.0.0", complexity: "O(1)",
					summary: "Returns the logarithmic access frequency counter of a Redis object."},
			},
			{
				name: "object|idletime", arity: 3, flags: flagReadonly, keys: keySpec{2, 2, 1},
				acl: "@keyspace @read @slow", run: cmdObjectIdleTime,
				doc: docMeta{group: "generic", since: "2.2.3", complexity: "O(1)",
					summary: "Returns the time since the last access to a Redis object."},
			},
			{
				name: "object|refcount", arity: 3, flags: flagReadonly, keys: keySpec{2, 2, 1},
				acl: "@keyspace @read @slow", run: cmdObjectRefCount,
				doc: docMeta{group: "generic", since: "2.2.3", complexity: "O(1)",
					summary: "Returns the reference count of a value of a key."},
			},
			{
				name: "object|help", arity: 2, flags: flagLoading | flagStale,
				acl: "@keyspace @slow", run: cmdObjectHelp,
				doc: docMeta{group: "generic", since: "6.2.0", complexity: "O(1)",
					summary: "Returns helpful text about the different subcommands."},
			},
		},
	},
	{
		name: "renamenx", arity: 3, flags: flagWrite | flagFast, keys: keySpec{1, 2, 1},
		acl: "@keyspace @write @fast", run: cmdRenameNX,
		doc: docMeta{group: "generic", since: "1.0.0", complexity: "O(1)",
			summary: "Renames a key only when the target key name doesn't exist."},
	},
}

func cmdDel(c *conn, args [][]byte) {
	var n int64
	c.unchanged()
	for _, k := range args[1:] {
		if c.s.store.Delete(k) {
			c.changed(k)
			n++
		}
	}
	c.int(n)
}

func cmdExists(c *conn, args [][]byte) {
	var n int64
	for _, k := range args[1:] {
		if c.s.store.Exists(k) {
			n++
		}
	}
	c.int(n)
}

func cmdTouch(c *conn, args [][]byte) {
	var n int64
	for _, k := range args[1:] {
		if c.s.store.Touch(k) {
			n++
		}
	}
	c.int(n)
}

func cmdType(c *conn, args [][]byte) {
	if c.s.store.Exists(args[1]) {
		c.simple("string")
	} else {
		c.simple("none")
	}
}

// EXPIRE option flags.
const (
	expNX = 1 << iota
	expXX
	expGT
	expLT
)

func expireGeneric(c *conn, args [][]byte, seconds, absolute bool, name string) {
	var flags int
	for _, a := range args[3:] {
		switch {
		case eq(a, "nx"):
			flags |= expNX
		case eq(a, "xx"):
			flags |= expXX
		case eq(a, "gt"):
			flags |= expGT
		case eq(a, "lt"):
			flags |= expLT
		default:
			c.err("ERR Unsupported option " + string(a))
			return
		}
	}
	if flags&expNX != 0 && flags&(expXX|expGT|expLT) != 0 {
		c.err("ERR NX and XX, GT or LT options at the same time are not compatible")
		return
	}
	if flags&expGT != 0 && flags&expLT != 0 {
		c.err("ERR GT and LT options at the same time are not compatible")
		return
	}
	when, ok := resp.ParseInt(args[2])
	if !ok {
		c.err(errNotInt)
		return
	}
	if seconds {
		if when > math.MaxInt64/1000 || when < math.MinInt64/1000 {
			c.err("ERR invalid expire time in '" + name + "' command")
			return
		}
		when *= 1000
	}
	now := nowMs()
	if !absolute {
		if when > math.MaxInt64-now {
			c.err("ERR invalid expire time in '" + name + "' command")
			return
		}
		when += now
	}
	var set bool
	c.s.store.Update(args[1], func(cur []byte, exp int64, exists bool) ([]byte, int64, store.Op) {
		if !exists {
			return nil, 0, store.Keep
		}
		switch {
		case flags&expNX != 0 && exp != 0,
			flags&expXX != 0 && exp == 0,
			flags&expGT != 0 && (exp == 0 || when <= exp),
			flags&expLT != 0 && exp != 0 && when >= exp:
			return nil, 0, store.Keep
		}
		set = true
		if when <= now {
			return nil, 0, store.Delete
		}
		return cur, when, store.Put
	})
	if !set {
		c.unchanged() // missing, or NX, XX, GT or LT said no
	}
	c.bool01(set)
}

func cmdExpire(c *conn, args [][]byte)    { expireGeneric(c, args, true, false, "expire") }
func cmdPExpire(c *conn, args [][]byte)   { expireGeneric(c, args, false, false, "pexpire") }
func cmdExpireAt(c *conn, args [][]byte)  { expireGeneric(c, args, true, true, "expireat") }
func cmdPExpireAt(c *conn, args [][]byte) { expireGeneric(c, args, false, true, "pexpireat") }

// ttlGeneric answers TTL, PTTL, EXPIRETIME and PEXPIRETIME like Redis's
// ttlGenericCommand: -2 for a missing key, -1 without TTL.
func ttlGeneric(c *conn, key []byte, ms, absolute bool) {
	var exp int64
	var exists bool
	c.s.store.Update(key, func(_ []byte, e int64, ok bool) ([]byte, int64, store.Op) {
		exp, exists = e, ok
		return nil, 0, store.Keep
	})
	switch {
	case !exists:
		c.int(-2)
	case exp == 0:
		c.int(-1)
	default:
		ttl := exp
		if !absolute {
			ttl = exp - nowMs()
		}
		if ttl < 0 {
			ttl = 0
		}
		if !ms {
			ttl = (ttl + 500) / 1000
		}
		c.int(ttl)
	}
}

func cmdTTL(c *conn, args [][]byte)         { ttlGeneric(c, args[1], false, false) }
func cmdPTTL(c *conn, args [][]byte)        { ttlGeneric(c, args[1], true, false) }
func cmdExpireTime(c *conn, args [][]byte)  { ttlGeneric(c, args[1], false, true) }
func cmdPExpireTime(c *conn, args [][]byte) { ttlGeneric(c, args[1], true, true) }

func cmdPersist(c *conn, args [][]byte) {
	var done bool
	c.s.store.Update(args[1], func(cur []byte, exp int64, exists bool) ([]byte, int64, store.Op) {
		if !exists || exp == 0 {
			return nil, 0, store.Keep
		}
		done = true
		return cur, 0, store.Put
	})
	if !done {
		c.unchanged()
	}
	c.bool01(done)
}

// allMatch reports whether pattern is "*", which matches every key.
func allMatch(p []byte) bool { return len(p) == 1 && p[0] == '*' }

func cmdKeys(c *conn, args [][]byte) {
	pattern := args[1]
	all := allMatch(pattern)
	var body []byte
	n := 0
	var cursor uint64
	for {
		cursor = c.s.store.Scan(cursor, 1024, func(k []byte, _ int64) {
			if all || store.Match(pattern, k, false) {
				body = resp.AppendBulk(body, k)
				n++
			}
		})
		if cursor == 0 {
			break
		}
	}
	c.array(n)
	c.out = append(c.out, body...)
}

func cmdScan(c *conn, args [][]byte) {
	cursor, ok := parseCursor(args[1])
	if !ok {
		c.err("ERR invalid cursor")
		return
	}
	count := int64(10)
	var pattern []byte
	var typ []byte
	for j := 2; j < len(args); j++ {
		more := len(args) - j - 1
		switch {
		case eq(args[j], "count") && more >= 1:
			n, ok := resp.ParseInt(args[j+1])
			if !ok {
				c.err(errNotInt)
				return
			}
			if n < 1 {
				c.err(errSyntax)
				return
			}
			count = n
			j++
		case eq(args[j], "match") && more >= 1:
			pattern = args[j+1]
			if allMatch(pattern) {
				pattern = nil
			}
			j++
		case eq(args[j], "type") && more >= 1:
			typ = args[j+1]
			j++
		default:
			c.err(errSyntax)
			return
		}
	}
	if count > 1<<20 {
		count = 1 << 20
	}
	// Only strings exist here: any other TYPE filters every key out.
	skipAll := typ != nil && !eq(typ, "string")
	var body []byte
	n := 0
	// The store may visit fewer keys than asked per call (one shard at a
	// time); keep going until count keys were visited or the end.
	visited := int64(0)
	next := cursor
	for next <= math.MaxInt64 { // larger cursors are never issued: the scan is over
		next = c.s.store.Scan(next, int(count-visited), func(k []byte, _ int64) {
			visited++
			if skipAll || (pattern != nil && !store.Match(pattern, k, false)) {
				return
			}
			body = resp.AppendBulk(body, k)
			n++
		})
		if next == 0 || visited >= count {
			break
		}
	}
	if next > math.MaxInt64 {
		next = 0
	}
	c.array(2)
	var tmp [20]byte
	c.bulk(strconv.AppendUint(tmp[:0], next, 10))
	c.array(n)
	c.out = append(c.out, body...)
}

func cmdRandomKey(c *conn, _ [][]byte) {
	k, ok := c.s.store.RandomKey(c.scratch[:0])
	if !ok {
		c.null()
		return
	}
	c.bulk(k)
	c.keepScratch(k)
}

func renameGeneric(c *conn, args [][]byte, nx bool) {
	src, dst := args[1], args[2]
	if bytes.Equal(src, dst) {
		c.unchanged() // as Redis: renaming a key to itself modifies nothing
		switch {
		case !c.s.store.Exists(src):
			c.err(errNoKey)
		case nx:
			c.int(0)
		default:
			c.ok()
		}
		return
	}
	exists, renamed := c.s.store.Rename(src, dst, nx)
	switch {
	case !exists:
		c.err(errNoKey)
	case nx:
		if !renamed {
			c.unchanged()
		}
		c.bool01(renamed)
	default:
		c.ok()
	}
}

func cmdRename(c *conn, args [][]byte)   { renameGeneric(c, args, false) }
func cmdRenameNX(c *conn, args [][]byte) { renameGeneric(c, args, true) }

// objectLookup looks key up for OBJECT like Redis (no LRU update, no hit or
// miss counted) and replies null when it does not exist.
func (c *conn) objectLookup(key []byte) ([]byte, bool) {
	v, _, ok := c.s.store.Peek(c.scratch[:0], key)
	c.keepScratch(v)
	if !ok {
		c.null()
	}
	return v, ok
}

// Redis's string encodings: values that parse as a 64-bit integer are
// stored as "int", short strings as "embstr" (object header and string in
// one allocation), longer ones as "raw".
const (
	embstrMax      = 44    // OBJ_ENCODING_EMBSTR_SIZE_LIMIT
	sharedInts     = 10000 // OBJ_SHARED_INTEGERS
	sharedRefcount = 1<<31 - 1
)

// stringEncoding returns the encoding Redis gives a string value set with
// SET: "int", "embstr" or "raw". (Values built in place by APPEND,
// SETRANGE, SETBIT or BITFIELD are "raw" whatever they hold, as in Redis;
// cmdObjectEncoding asks the store.)
func stringEncoding(v []byte) string {
	if len(v) <= 20 {
		if _, ok := resp.ParseInt(v); ok {
			return "int"
		}
	}
	if len(v) <= embstrMax {
		return "embstr"
	}
	return "raw"
}

func cmdObjectEncoding(c *conn, args [][]byte) {
	if v, ok := c.objectLookup(args[2]); ok {
		if c.s.store.Edited(args[2]) {
			c.bulkStr("raw") // built in place (SETRANGE, APPEND, SETBIT, BITFIELD), as Redis's
		} else {
			c.bulkStr(stringEncoding(v))
		}
	}
}

func cmdObjectRefCount(c *conn, args [][]byte) {
	v, ok := c.objectLookup(args[2])
	if !ok {
		return
	}
	// Redis shares the objects of the integers 0..9999 (refcount INT_MAX)
	// unless maxmemory is set with an LRU or LFU policy.
	pol := store.Policy(c.s.settings.policy.Load())
	noShared := pol == store.AllKeysLRU || pol == store.VolatileLRU || pol.LFU() || pol.TinyLFU()
	if n, isInt := resp.ParseInt(v); isInt && n >= 0 && n < sharedInts && (c.s.settings.maxMemory.Load() == 0 || !noShared) {
		c.int(sharedRefcount)
		return
	}
	c.int(1)
}

// cmdObjectIdleTime answers the seconds since the key was last read or
// written, from the store's clock checkpoints (exact to the second for the
// last 10 minutes, coarser beyond; see store.IdleTime). Under Redis's LFU
// policies it fails for an existing key, as in Redis.
func cmdObjectIdleTime(c *conn, args [][]byte) {
	ms, ok := c.s.store.IdleTime(args[2])
	if !ok {
		c.null()
		return
	}
	if store.Policy(c.s.settings.policy.Load()).LFU() {
		c.err("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
		return
	}
	c.int(ms / 1000)
}

// cmdObjectFreq answers the key's access counter under Redis's LFU policies
// (decayed, as Redis reports it) and its access count (0-15, by which
// eviction ranks it) under the TinyLFU policies; under other policies it fails
// for an existing key, as in Redis.
func cmdObjectFreq(c *conn, args [][]byte) {
	f, ok := c.s.store.Freq(args[2])
	if !ok {
		c.null()
		return
	}
	if p := store.Policy(c.s.settings.policy.Load()); !p.LFU() && !p.TinyLFU() {
		c.err("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
		return
	}
	c.int(int64(f))
}

func cmdObjectHelp(c *conn, _ [][]byte) {
	c.helpReply("OBJECT",
		"ENCODING <key>", "    Return the kind of internal representation used in order to store the value",
		"    associated with a <key>.",
		"FREQ <key>", "    Return the access frequency index of the <key>. The returned integer is",
		"    proportional to the logarithm of the recent access frequency of the key.",
		"IDLETIME <key>", "    Return the idle time of the <key>, that is the approximated number of",
		"    seconds elapsed since the last access to the key.",
		"REFCOUNT <key>", "    Return the number of references of the value associated with the specified",
		"    <key>.",
	)
}
