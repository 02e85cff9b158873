// String commands: GET, SET and variants, MGET/MSET, APPEND, ranges, counters.

package cachenode

import (
	"bytes"
	"math"
	"math/big"
	"strconv"
	"strings"

	"github.com/cachetier/cachetier/cachenode/internal/store"
	"github.com/cachetier/cachetier/internal/resp"
)

// stringCommands are the string commands.
var stringCommands = []*command{
	{
		name: "get", arity: 2, flags: flagReadonly | flagFast, keys: keySpec{1, 1, 1},
		acl: "@read @string @fast", run: cmdGet,
		doc: docMeta{group: "string", since: "1.0.0", complexity: "O(1)",
			summary: "Returns the string value of a key."},
	},
	{
		name: "set", arity: -3, flags: flagWrite | flagDenyOOM, keys: keySpec{1, 1, 1},
		acl: "@write @string @slow", run: cmdSet,
		doc: docMeta{group: "string", since: "1.0.0", complexity: "O(1)",
			summary: "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist."},
	},
	{
		name: "setnx", arity: 3, flags: flagWrite | flagDenyOOM | flagFast, keys: keySpec{1, 1, 1},
		acl: "@write @string @fast", run: cmdSetNX,
		doc: docMeta{group: "string", since: "1.0.0", complexity: "O(1)",
			summary: "Set the string value of a key only when the key doesn't exist."},
	},
	{
		name: "setex", arity: 4, flags: flagWrite | flagDenyOOM, keys: keySpec{1, 1, 1},
		acl: "@write @string @slow", run: cmdSetEX,
		doc: docMeta{group: "string", since: "2.0.0", complexity: "O(1)",
			summary: "Sets the string value and expiration time of a key. Creates the key if it doesn't exist."},
	},
	{
		name: "psetex", arity: 4, flags: flagWrite | flagDenyOOM, keys: keySpec{1, 1, 1},
		acl: "@write @string @slow", run: cmdPSetEX,
		doc: docMeta{group: "string", since: "2.6.0", complexity: "O(1)",
			summary: "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist."},
	},
	{
		name: "getset", arity: 3, flags: flagWrite | flagDenyOOM | flagFast, keys: keySpec{1, 1, 1},
		acl: "@write @string @fast", run: cmdGetSet,
		doc: docMeta{group: "string", since: "1.0.0", complexity: "O(1)",
			summary: "Returns the previous string value of a key after setting it to a new value."},
	},
	{
		name: "getdel", arity: 2, flags: flagWrite | flagFast, keys: keySpec{1, 1, 1},
		acl: "@write @string @fast", run: cmdGetDel,
		doc: docMeta{group: "string", since: "6.2.0", complexity: "O(1)",
			summary: "Returns the string value of a key after deleting the key."},
	},
	{
		name: "getex", arity: -2, flags: flagWrite | flagFast, keys: keySpec{1, 1, 1},
		acl: "@write @string @fast", run: cmdGetEX,
		doc: docMeta{group: "string", since: "6.2.0", complexity: "O(1)",
			summary: "Returns the string value of a key after setting its expiration time."},
	},
	{
		name: "mget", arity: -2, flags: flagReadonly | flagFast, keys: keySpec{1, -1, 1},
		acl: "@read @string @fast", run: cmdMGet,
		doc: docMeta{group: "string", since: "1.0.0", complexity: "O(N) where N is the number of keys to retrieve.",
			summary: "Atomically returns the string values of one or more keys."},
	},
	{
		name: "mset", arity: -3, flags: flagWrite | flagDenyOOM, keys: keySpec{1, -1, 2},
		acl: "@write @string @slow", run: cmdMSet,
		doc: docMeta{group: "string", since: "1.0.1", complexity: "O(N) where N is the number of keys to set.",
			summary: "Atomically creates or modifies the string values of one or more keys."},
	},
	{
		name: "msetnx", arity: -3, flags: flagWrite | flagDenyOOM, keys: keySpec{1, -1, 2},
		acl: "@write @string @slow", run: cmdMSetNX,
		doc: docMeta{group: "string", since: "1.0.1", complexity: "O(N) where N is the number of keys to set.",
			summary: "Atomically modifies the string values of one or more keys only when all keys don't exist."},
	},
	{
		name: "append", arity: 3, flags: flagWrite | flagDenyOOM | flagFast, keys: keySpec{1, 1, 1},
		acl: "@write @string @fast", run: cmdAppend,
		doc: docMeta{group: "string", since: "2.0.0", complexity: "O(1)",
			summary: "Appends a string to the value of a key. Creates the key if it doesn't exist."},
	},
	{
		name: "strlen", arity: 2, flags: flagReadonly | flagFast, keys: keySpec{1, 1, 1},
		acl: "@read @string @fast", run: cmdStrlen,
		doc: docMeta{group: "string", since: "2.2.0", complexity: "O(1)",
			summary: "Returns the length of a string value."},
	},
	{
		name: "getrange", arity: 4, flags: flagReadonly, keys: keySpec{1, 1, 1},
		acl: "@read @string @slow", run: cmdGetRange,
		doc: docMeta{group: "string", since: "2.4.0", complexity: "O(N) where N is the length of the returned string.",
			summary: "Returns a substring of the string stored at a key."},
	},
	{
		name: "substr", arity: 4, flags: flagReadonly, keys: keySpec{1, 1, 1},
		acl: "@read @string @slow", run: cmdGetRange,
		doc: docMeta{group: "string", since: "1.0.0", complexity: "O(N) where N is the length of the returned string.",
			summary: "Returns a substring from a string value."},
	},
	{
		name: "lcs", arity: -3, flags: flagReadonly, keys: keySpec{1, 2, 1},
		acl: "@read @string @slow", run: cmdLCS,
		doc: docMeta{group: "string", since: "7.0.0", complexity: "O(N*M) where N and M are the lengths of s1 and s2, respectively",
			summary: "Finds the longest common substring."},
	},
	{
		name: "setrange", arity: 4, flags: flagWrite | flagDenyOOM, keys: keySpec{1, 1, 1},
		acl: "@write @string @slow", run: cmdSetRange,
		doc: docMeta{group: "string", since: "2.2.0", complexity: "O(1), not counting the time taken to copy the new string in place.",
			summary: "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist."},
	},
	{
		name: "incr", arity: 2, flags: flagWrite | flagDenyOOM | flagFast, keys: keySpec{1, 1, 1},
		acl: "@write @string @fast", run: cmdIncr,
		doc: docMeta{group: "string", since: "1.0.0", complexity: "O(1)",
			summary: "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist."},
	},
	{
		name: "decr", arity: 2, flags: flagWrite | flagDenyOOM | flagFast, keys: keySpec{1, 1, 1},
		acl: "@write @string @fast", run: cmdDecr,
		doc: docMeta{group: "string", since: "1.0.0", complexity: "O(1)",
			summary: "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist."},
	},
	{
		name: "incrby", arity: 3, flags: flagWrite | flagDenyOOM | flagFast, keys: keySpec{1, 1, 1},
		acl: "@write @string @fast", run: cmdIncrBy,
		doc: docMeta{group: "string", since: "1.0.0", complexity: "O(1)",
			summary: "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist."},
	},
	{
		name: "decrby", arity: 3, flags: flagWrite | flagDenyOOM | flagFast, keys: keySpec{1, 1, 1},
		acl: "@write @string @fast", run: cmdDecrBy,
		doc: docMeta{group: "string", since: "1.0.0", complexity: "O(1)",
			summary: "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist."},
	},
	{
		name: "incrbyfloat", arity: 3, flags: flagWrite | flagDenyOOM | flagFast, keys: keySpec{1, 1, 1},
		acl: "@write @string @fast", run: cmdIncrByFloat,
		doc: docMeta{group: "string", since: "2.6.0", complexity: "O(1)",
			summary: "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist."},
	},
}

// get reads key for GET-like commands: a hit or miss is counted and the
// key's LRU clock updated unless the client turned CLIENT NO-TOUCH on.
func (c *conn) get(dst, key []byte) ([]byte, bool) {
	if c.info.noTouch.Load() {
		v, _, ok := c.s.store.Lookup(dst, key, false)
		return v, ok
	}
	return c.s.store.Get(dst, key)
}

func cmdGet(c *conn, args [][]byte) {
	v, ok := c.get(c.scratch[:0], args[1])
	if !ok {
		c.null()
		return
	}
	c.bulk(v)
	c.keepScratch(v)
}

// Option flags of SET and GETEX (Redis's OBJ_* flags).
const (
	optNX = 1 << iota
	optXX
	optGet
	optKeepTTL
	optPersist
	optEX
	optPX
	optEXAT
	optPXAT
	optExpire = optEX | optPX | optEXAT | optPXAT
)

// parseExpireOpts parses SET's (isSet) or GETEX's options from args like
// Redis's parseExtendedStringArgumentsOrReply and returns the flags and the
// absolute expiry in unix milliseconds (0 when none). ok is false when an
// error reply was written.
func (c *conn) parseExpireOpts(args [][]byte, isSet bool, name string) (flags int, expireAt int64, ok bool) {
	var expArg []byte
	for j := 0; j < len(args); j++ {
		opt := args[j]
		exp := expireOption(opt)
		switch {
		case isSet && eq(opt, "nx") && flags&optXX == 0:
			flags |= optNX
		case isSet && eq(opt, "xx") && flags&optNX == 0:
			flags |= optXX
		case isSet && eq(opt, "get"):
			flags |= optGet
		case isSet && eq(opt, "keepttl") && flags&(optPersist|optExpire) == 0:
			flags |= optKeepTTL
		case !isSet && eq(opt, "persist") && flags&(optExpire|optKeepTTL) == 0:
			flags |= optPersist
		case exp != 0 && flags&(optKeepTTL|optPersist|optExpire&^exp) == 0 && j+1 < len(args):
			// Not after KEEPTTL, PERSIST or another expire option; the same
			// one again replaces its value, as in Redis.
			flags |= exp
			j++
			expArg = args[j]
		default:
			c.err(errSyntax)
			return 0, 0, false
		}
	}
	if flags&optExpire == 0 {
		return flags, 0, true
	}
	expireAt, ok = c.expireArg(expArg, flags&(optEX|optEXAT) != 0, flags&(optEX|optPX) != 0, name)
	return flags, expireAt, ok
}

// expireOption returns the flag of an expire option of SET or GETEX (EX,
// PX, EXAT, PXAT), or 0.
func expireOption(opt []byte) int {
	switch {
	case eq(opt, "ex"):
		return optEX
	case eq(opt, "px"):
		return optPX
	case eq(opt, "exat"):
		return optEXAT
	case eq(opt, "pxat"):
		return optPXAT
	}
	return 0
}

// expireArg converts a positive SET-style expire argument to absolute unix
// milliseconds, replying with Redis's errors when it is invalid.
func (c *conn) expireArg(arg []byte, seconds, relative bool, name string) (int64, bool) {
	ms, ok := resp.ParseInt(arg)
	if !ok {
		c.err(errNotInt)
		return 0, false
	}
	if ms <= 0 || (seconds && ms > math.MaxInt64/1000) {
		c.err("ERR invalid expire time in '" + name + "' command")
		return 0, false
	}
	if seconds {
		ms *= 1000
	}
	if relative {
		ms += nowMs() // wraps negative on overflow, caught below
	}
	if ms <= 0 {
		c.err("ERR invalid expire time in '" + name + "' command")
		return 0, false
	}
	return ms, true
}

func cmdSet(c *conn, args [][]byte) {
	flags, exp, ok := c.parseExpireOpts(args[3:], true, "set")
	if !ok {
		return
	}
	a := store.SetArgs{ExpireAt: exp, KeepTTL: flags&optKeepTTL != 0, NX: flags&optNX != 0, XX: flags&optXX != 0, Get: flags&optGet != 0, NoTouch: c.info.noTouch.Load()}
	prev, had, written := c.s.store.Set(args[1], args[2], a, c.scratch[:0])
	if !written {
		c.unchanged() // NX or XX said no
	}
	switch {
	case a.Get:
		if had {
			c.bulk(prev)
		} else {
			c.null()
		}
		c.keepScratch(prev)
	case written:
		c.ok()
	default:
		c.null()
	}
}

func cmdSetNX(c *conn, args [][]byte) {
	_, _, written := c.s.store.Set(args[1], args[2], store.SetArgs{NX: true}, nil)
	if !written {
		c.unchanged()
	}
	c.bool01(written)
}

func setex(c *conn, args [][]byte, seconds bool, name string) {
	exp, ok := c.expireArg(args[2], seconds, true, name)
	if !ok {
		return
	}
	c.s.store.Set(args[1], args[3], store.SetArgs{ExpireAt: exp}, nil)
	c.ok()
}

func cmdSetEX(c *conn, args [][]byte)  { setex(c, args, true, "setex") }
func cmdPSetEX(c *conn, args [][]byte) { setex(c, args, false, "psetex") }

func cmdGetSet(c *conn, args [][]byte) {
	prev, had, _ := c.s.store.Set(args[1], args[2], store.SetArgs{Get: true, NoTouch: c.info.noTouch.Load()}, c.scratch[:0])
	if had {
		c.bulk(prev)
	} else {
		c.null()
	}
	c.keepScratch(prev)
}

func cmdGetDel(c *conn, args [][]byte) {
	var found bool
	c.s.store.Update(args[1], func(cur []byte, _ int64, exists bool) ([]byte, int64, store.Op) {
		if !exists {
			return nil, 0, store.Keep
		}
		found = true
		c.bulk(cur)
		return nil, 0, store.Delete
	})
	if !found {
		c.unchanged()
		c.null()
	}
}

func cmdGetEX(c *conn, args [][]byte) {
	flags, exp, ok := c.parseExpireOpts(args[2:], false, "getex")
	if !ok {
		return
	}
	var found, changed bool
	now := nowMs()
	c.s.store.Access(args[1], !c.info.noTouch.Load(), func(cur []byte, oldExp int64, exists bool) ([]byte, int64, store.Op) {
		if !exists {
			return nil, 0, store.Keep
		}
		found = true
		c.bulk(cur)
		changed = true
		switch {
		case flags&optExpire != 0 && exp <= now:
			return nil, 0, store.Delete
		case flags&optExpire != 0:
			return cur, exp, store.Put
		case flags&optPersist != 0 && oldExp != 0:
			return cur, 0, store.Put
		}
		changed = false
		return nil, 0, store.Keep
	})
	if !changed {
		c.unchanged() // missing, or no option that changes the TTL
	}
	if !found {
		c.null()
	}
}

// cmdMGet reads all the keys under their shards' locks at once, so that, as
// in Redis, the reply never mixes values from before and after another
// client's MSET.
func cmdMGet(c *conn, args [][]byte) {
	keys := args[1:]
	if cap(c.ends) < len(keys) {
		c.ends = make([]int, len(keys))
	}
	ends := c.ends[:len(keys)]
	buf := c.s.store.GetMulti(c.scratch[:0], keys, !c.info.noTouch.Load(), ends)
	c.array(len(keys))
	start := 0
	for _, end := range ends {
		if end < 0 {
			c.null()
			continue
		}
		c.bulk(buf[start:end])
		start = end
	}
	c.keepScratch(buf)
	if cap(c.ends) > keepOutCap/8 {
		c.ends = nil
	}
}

func cmdMSet(c *conn, args [][]byte) {
	if len(args)%2 != 1 {
		c.err("ERR wrong number of arguments for 'mset' command")
		return
	}
	c.s.store.SetMulti(args[1:], false)
	c.ok()
}

// cmdMSetNX sets the keys only if none exists. Like MSET it is atomic: the
// existence check and the writes happen under the locks of all the keys.
func cmdMSetNX(c *conn, args [][]byte) {
	if len(args)%2 != 1 {
		c.err("ERR wrong number of arguments for 'msetnx' command")
		return
	}
	if c.s.store.SetMulti(args[1:], true) {
		c.int(1)
	} else {
		c.unchanged()
		c.int(0)
	}
}

func cmdAppend(c *conn, args [][]byte) {
	key, add := args[1], args[2]
	var (
		cur    int64
		exists bool
	)
	c.s.store.Update(key, func(v []byte, _ int64, ok bool) ([]byte, int64, store.Op) {
		cur, exists = int64(len(v)), ok
		return nil, 0, store.Keep
	})
	if cur > 0 && !c.checkStringLength(cur, int64(len(add))) {
		return
	}
	if !c.roomFor(key, int64(len(add))) {
		return
	}
	// A new key holds the argument as SET would store it, as in Redis. An
	// existing one is extended by Edit alone, which marks it used once (a SET
	// NX that finds the key would mark it too).
	if !exists {
		if _, _, written := c.s.store.Set(key, add, store.SetArgs{NX: true}, nil); written {
			c.int(int64(len(add)))
			return
		}
	}
	var n int64
	tooBig := false
	c.s.store.Edit(key, func(v []byte, exists bool) int {
		if exists && !c.fitsString(int64(len(v)), int64(len(add))) {
			tooBig = true // grew since valueLen
			return -1
		}
		n = int64(len(v) + len(add))
		return len(v) + len(add)
	}, func(v []byte, _ bool) {
		copy(v[len(v)-len(add):], add)
	})
	if tooBig {
		c.err(errStringLimit)
		return
	}
	c.int(n)
}

func cmdStrlen(c *conn, args [][]byte) {
	var n int
	c.view(args[1], func(v []byte) { n = len(v) })
	c.int(int64(n))
}

// cmdGetRange is GETRANGE and SUBSTR. The range is copied out of the value
// under its lock, not the whole value.
func cmdGetRange(c *conn, args [][]byte) {
	start, ok1 := resp.ParseInt(args[2])
	end, ok2 := resp.ParseInt(args[3])
	if !ok1 || !ok2 {
		c.err(errNotInt)
		return
	}
	found := c.view(args[1], func(v []byte) {
		n := int64(len(v))
		if start < 0 && end < 0 && start > end {
			c.bulk(nil)
			return
		}
		if start < 0 {
			start += n
		}
		if end < 0 {
			end += n
		}
		start, end = max(start, 0), max(end, 0)
		if end >= n {
			end = n - 1
		}
		if start > end || n == 0 {
			c.bulk(nil)
			return
		}
		c.bulk(v[start : end+1])
	})
	if !found {
		c.bulk(nil)
	}
}

func cmdSetRange(c *conn, args [][]byte) {
	off, ok := resp.ParseInt(args[2])
	if !ok {
		c.err(errNotInt)
		return
	}
	if off < 0 {
		c.err("ERR offset is out of range")
		return
	}
	key, val := args[1], args[3]
	if len(val) == 0 {
		c.unchanged() // as Redis: setting nothing modifies nothing
		c.int(c.valueLen(key))
		return
	}
	if !c.checkStringLength(off, int64(len(val))) {
		return
	}
	end := off + int64(len(val)) // fits: at most proto-max-bulk-len
	if !c.roomFor(key, end-c.valueLen(key)) {
		return
	}
	var n int64
	c.s.store.Edit(key, func(cur []byte, _ bool) int {
		n = max(int64(len(cur)), end)
		return int(end)
	}, func(v []byte, _ bool) {
		copy(v[off:], val)
	})
	c.int(n)
}

// incrBy adds delta to key's integer value. A value that is not an integer,
// or an overflow, fails the command but still counts as an access of the
// key (store.Touch), as Redis's lookupKeyWrite before the check does.
func incrBy(c *conn, key []byte, delta int64) {
	var res int64
	var errMsg string
	c.s.store.Update(key, func(cur []byte, exp int64, exists bool) ([]byte, int64, store.Op) {
		var v int64
		if exists {
			var ok bool
			if v, ok = resp.ParseInt(cur); !ok {
				errMsg = errNotInt
				return nil, 0, store.Touch
			}
		}
		if (delta < 0 && v < 0 && delta < math.MinInt64-v) || (delta > 0 && v > 0 && delta > math.MaxInt64-v) {
			errMsg = errOverflow
			return nil, 0, store.Touch
		}
		res = v + delta
		nv := strconv.AppendInt(c.scratch[:0], res, 10)
		return nv, exp, store.Put
	})
	if errMsg != "" {
		c.err(errMsg)
		return
	}
	c.int(res)
}

func cmdIncr(c *conn, args [][]byte) { incrBy(c, args[1], 1) }
func cmdDecr(c *conn, args [][]byte) { incrBy(c, args[1], -1) }

func cmdIncrBy(c *conn, args [][]byte) {
	d, ok := resp.ParseInt(args[2])
	if !ok {
		c.err(errNotInt)
		return
	}
	incrBy(c, args[1], d)
}

func cmdDecrBy(c *conn, args [][]byte) {
	d, ok := resp.ParseInt(args[2])
	if !ok {
		c.err(errNotInt)
		return
	}
	if d == math.MinInt64 {
		c.err("ERR decrement would overflow")
		return
	}
	incrBy(c, args[1], -d)
}

// Redis does INCRBYFLOAT in C long double, the x87 80-bit format on amd64:
// a 64-bit mantissa. big.Float with 64 bits of precision and round-to-even
// gives the same sums, so replies match Redis digit for digit.
const (
	ldPrec   = 64
	ldMaxExp = 16384 // |x| >= 2^16384 overflows a long double
)

// parseLD parses a number like Redis's string2ld (strtold): no leading
// blank, no trailing bytes, no NaN, no overflow; "inf" is accepted.
func parseLD(b []byte) (*big.Float, bool) {
	if len(b) == 0 || len(b) >= 5*1024 || isBlank(b[0]) {
		return nil, false
	}
	s := string(b)
	base := 10
	if body := strings.TrimLeft(s, "+-"); len(s)-len(body) <= 1 && len(body) > 2 && body[0] == '0' &&
		body[1]|0x20 == 'x' && !strings.Contains(body, "_") {
		base = 0 // strtold reads C99 hex floats: 0x10, 0x1.8p3
	}
	f, _, err := big.ParseFloat(s, base, ldPrec, big.ToNearestEven)
	if err != nil {
		switch strings.ToLower(strings.TrimLeft(s, "+-")) {
		case "inf", "infinity":
			return new(big.Float).SetInf(s[0] == '-'), true
		}
		return nil, false
	}
	if !f.IsInf() && f.MantExp(nil) > ldMaxExp {
		return nil, false
	}
	return f, true
}

func isBlank(ch byte) bool {
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f'
}

// formatLD formats f like Redis's ld2string(LD_STR_HUMAN): "%.17Lf" with
// trailing zeros (and a trailing '.') removed, "-0" as "0".
func formatLD(dst []byte, f *big.Float) []byte {
	start := len(dst)
	dst = f.Append(dst, 'f', 17)
	if bytes.IndexByte(dst[start:], '.') >= 0 {
		for dst[len(dst)-1] == '0' {
			dst = dst[:len(dst)-1]
		}
		if dst[len(dst)-1] == '.' {
			dst = dst[:len(dst)-1]
		}
	}
	if string(dst[start:]) == "-0" {
		dst = append(dst[:start], '0')
	}
	return dst
}

// cmdIncrByFloat adds a long double increment to the key's value; like
// incrBy, an error after the key's lookup still counts as its access.
func cmdIncrByFloat(c *conn, args [][]byte) {
	var res []byte
	var errMsg string
	c.s.store.Update(args[1], func(cur []byte, exp int64, exists bool) ([]byte, int64, store.Op) {
		v := new(big.Float).SetPrec(ldPrec)
		if exists {
			var ok bool
			if v, ok = parseLD(cur); !ok {
				errMsg = errNotFloat
				return nil, 0, store.Touch
			}
		}
		incr, ok := parseLD(args[2])
		if !ok {
			errMsg = errNotFloat
			return nil, 0, store.Touch
		}
		if v.IsInf() || incr.IsInf() {
			errMsg = "ERR increment would produce NaN or Infinity"
			return nil, 0, store.Touch
		}
		sum := new(big.Float).SetPrec(ldPrec).SetMode(big.ToNearestEven).Add(v, incr)
		if sum.MantExp(nil) > ldMaxExp {
			errMsg = "ERR increment would produce NaN or Infinity"
			return nil, 0, store.Touch
		}
		res = formatLD(c.scratch[:0], sum)
		return res, exp, store.Put
	})
	if errMsg != "" {
		c.err(errMsg)
		return
	}
	c.bulk(res)
}
