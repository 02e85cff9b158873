// Bitmap commands: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD, BITFIELD_RO.

package cachenode

import (
	"math"
	"math/bits"

	"github.com/cachetier/cachetier/cachenode/internal/store"
	"github.com/cachetier/cachetier/internal/resp"
)

// bitCommands are the bitmap commands, which read and write strings as
// arrays of bits: bit 0 is the most significant bit of the first byte.
var bitCommands = []*command{
	{
		name: "setbit", arity: 4, flags: flagWrite | flagDenyOOM, keys: keySpec{1, 1, 1},
		acl: "@write @bitmap @slow", run: cmdSetBit,
		doc: docMeta{group: "bitmap", since: "2.2.0", complexity: "O(1)",
			summary: "Sets or clears the bit at offset of the string value. Creates the key if it doesn't exist."},
	},
	{
		name: "getbit", arity: 3, flags: flagReadonly | flagFast, keys: keySpec{1, 1, 1},
		acl: "@read @bitmap @fast", run: cmdGetBit,
		doc: docMeta{group: "bitmap", since: "2.2.0", complexity: "O(1)",
			summary: "Returns a bit value by offset."},
	},
	{
		name: "bitcount", arity: -2, flags: flagReadonly, keys: keySpec{1, 1, 1},
		acl: "@read @bitmap @slow", run: cmdBitCount,
		doc: docMeta{group: "bitmap", since: "2.6.0", complexity: "O(N)",
			summary: "Counts the number of set bits (population counting) in a string."},
	},
	{
		name: "bitpos", arity: -3, flags: flagReadonly, keys: keySpec{1, 1, 1},
		acl: "@read @bitmap @slow", run: cmdBitPos,
		doc: docMeta{group: "bitmap", since: "2.8.7", complexity: "O(N)",
			summary: "Finds the first set (1) or clear (0) bit in a string."},
	},
	{
		name: "bitop", arity: -4, flags: flagWrite | flagDenyOOM, keys: keySpec{2, -1, 1},
		acl: "@write @bitmap @slow", run: cmdBitOp,
		doc: docMeta{group: "bitmap", since: "2.6.0", complexity: "O(N)",
			summary: "Performs bitwise operations on multiple strings, and stores the result."},
	},
	{
		name: "bitfield", arity: -2, flags: flagWrite | flagDenyOOM, keys: keySpec{1, 1, 1},
		acl: "@write @bitmap @slow", run: cmdBitField,
		doc: docMeta{group: "bitmap", since: "3.2.0", complexity: "O(1) for each subcommand specified",
			summary: "Performs arbitrary bitfield integer operations on strings."},
	},
	{
		name: "bitfield_ro", arity: -2, flags: flagReadonly | flagFast, keys: keySpec{1, 1, 1},
		acl: "@read @bitmap @fast", run: cmdBitFieldRO,
		doc: docMeta{group: "bitmap", since: "6.0.0", complexity: "O(1) for each subcommand specified",
			summary: "Performs arbitrary read-only bitfield integer operations on strings."},
	},
}

const errBitOffset = "ERR bit offset is not an integer or out of range"

// view calls fn with key's value, uncopied, and reports whether the key
// exists: a read that counts a hit or a miss and, unless the client turned
// CLIENT NO-TOUCH on, marks the key as used.
func (c *conn) view(key []byte, fn func(v []byte)) bool {
	return c.s.store.View(key, !c.info.noTouch.Load(), fn)
}

// bitOffsetArg parses a bit offset like Redis's getBitOffsetFromArgument:
// with hash and width > 0, "#N" means N*width. The offset must address a
// byte below proto-max-bulk-len. It answers the error itself.
func (c *conn) bitOffsetArg(arg []byte, hash bool, width int) (uint64, bool) {
	useHash := hash && width > 0 && len(arg) > 0 && arg[0] == '#'
	if useHash {
		arg = arg[1:]
	}
	n, ok := resp.ParseInt(arg)
	if !ok {
		c.err(errBitOffset)
		return 0, false
	}
	if useHash {
		n *= int64(width) // wraps as in Redis; a negative result is refused below
	}
	if n < 0 || n>>3 >= c.s.settings.protoMaxBulk.Load() {
		c.err(errBitOffset)
		return 0, false
	}
	return uint64(n), true
}

func cmdSetBit(c *conn, args [][]byte) {
	off, ok := c.bitOffsetArg(args[2], false, 0)
	if !ok {
		return
	}
	on, ok := resp.ParseInt(args[3])
	if !ok || on&^1 != 0 {
		c.err("ERR bit is not an integer or out of range")
		return
	}
	key := args[1]
	size := int64(off>>3) + 1
	if !c.roomFor(key, size-c.valueLen(key)) {
		return
	}
	var old byte
	changed := false
	c.s.store.Edit(key, func([]byte, bool) int { return int(size) }, func(v []byte, grown bool) {
		i, mask := off>>3, byte(1)<<(7-off&7)
		old = v[i] & mask
		if grown || (old != 0) != (on == 1) {
			changed = true
			v[i] = v[i]&^mask | byte(on)<<(7-off&7)
		}
	})
	if !changed {
		c.unchanged()
	}
	c.bool01(old != 0)
}

func cmdGetBit(c *conn, args [][]byte) {
	off, ok := c.bitOffsetArg(args[2], false, 0)
	if !ok {
		return
	}
	var bit byte
	c.view(args[1], func(v []byte) {
		if i := off >> 3; i < uint64(len(v)) {
			bit = v[i] & (1 << (7 - off&7))
		}
	})
	c.bool01(bit != 0)
}

// bitRange is a BITCOUNT or BITPOS range resolved to bytes, as Redis
// resolves it: [start, end] inclusive, with masks of the bits of the first
// and last bytes that lie outside a BIT range.
type bitRange struct {
	start, end          int64
	firstMask, lastMask byte
}

// resolveBitRange clamps start and end (negative: from the end) to a string of n
// bytes, counted in bits if isBit, and converts a bit range to bytes.
func resolveBitRange(start, end, n int64, isBit bool) bitRange {
	total := n
	if isBit {
		total <<= 3
	}
	if start < 0 {
		start += total
	}
	if end < 0 {
		end += total
	}
	start, end = max(start, 0), max(end, 0)
	if end >= total {
		end = total - 1
	}
	r := bitRange{start: start, end: end}
	if isBit && start <= end {
		r.firstMask = ^byte((1 << (8 - start&7)) - 1)
		r.lastMask = byte((1 << (7 - end&7)) - 1)
		r.start, r.end = start>>3, end>>3
	}
	return r
}

// bitUnitArg parses BIT or BYTE; it answers a syntax error for anything else.
func (c *conn) bitUnitArg(arg []byte) (isBit, ok bool) {
	switch {
	case eq(arg, "bit"):
		return true, true
	case eq(arg, "byte"):
		return false, true
	}
	c.err(errSyntax)
	return false, false
}

func cmdBitCount(c *conn, args [][]byte) {
	found := c.view(args[1], func(v []byte) {
		r := bitRange{start: 0, end: int64(len(v)) - 1}
		switch len(args) {
		case 2:
		case 4, 5:
			start, ok1 := resp.ParseInt(args[2])
			end, ok2 := resp.ParseInt(args[3])
			if !ok1 || !ok2 {
				c.err(errNotInt)
				return
			}
			if start < 0 && end < 0 && start > end {
				c.int(0)
				return
			}
			isBit := false
			if len(args) == 5 {
				var ok bool
				if isBit, ok = c.bitUnitArg(args[4]); !ok {
					return
				}
			}
			r = resolveBitRange(start, end, int64(len(v)), isBit)
		default:
			c.err(errSyntax)
			return
		}
		if r.start > r.end {
			c.int(0)
			return
		}
		n := popcount(v[r.start : r.end+1])
		n -= bits.OnesCount8(v[r.start]&r.firstMask) + bits.OnesCount8(v[r.end]&r.lastMask)
		c.int(int64(n))
	})
	if !found {
		c.int(0)
	}
}

func popcount(p []byte) int {
	n := 0
	for len(p) >= 8 {
		n += bits.OnesCount64(uint64(p[0]) | uint64(p[1])<<8 | uint64(p[2])<<16 | uint64(p[3])<<24 |
			uint64(p[4])<<32 | uint64(p[5])<<40 | uint64(p[6])<<48 | uint64(p[7])<<56)
		p = p[8:]
	}
	for _, b := range p {
		n += bits.OnesCount8(b)
	}
	return n
}

// bitpos is Redis's redisBitpos: the position of the first bit equal to
// bit in p; when there is none, -1 for a 1, and len(p)*8 for a 0 (the
// string counts as padded with zeros on the right).
func bitpos(p []byte, bit int64) int64 {
	skip := byte(0)
	if bit == 0 {
		skip = 0xff
	}
	for i, b := range p {
		if b == skip {
			continue
		}
		if bit == 0 {
			b = ^b
		}
		return int64(i)*8 + int64(bits.LeadingZeros8(b))
	}
	if bit == 1 {
		return -1
	}
	return int64(len(p)) * 8
}

func cmdBitPos(c *conn, args [][]byte) {
	bit, ok := resp.ParseInt(args[2])
	if !ok {
		c.err(errNotInt)
		return
	}
	if bit != 0 && bit != 1 {
		c.err("ERR The bit argument must be 1 or 0.")
		return
	}
	found := c.view(args[1], func(p []byte) {
		n := int64(len(p))
		r := bitRange{start: 0, end: n - 1}
		endGiven := false
		switch len(args) {
		case 3:
		case 4, 5, 6:
			start, ok := resp.ParseInt(args[3])
			if !ok {
				c.err(errNotInt)
				return
			}
			isBit := false
			if len(args) == 6 {
				if isBit, ok = c.bitUnitArg(args[5]); !ok {
					return
				}
			}
			end := n - 1
			if len(args) >= 5 {
				if end, ok = resp.ParseInt(args[4]); !ok {
					c.err(errNotInt)
					return
				}
				endGiven = true
			}
			r = resolveBitRange(start, end, n, isBit)
		default:
			c.err(errSyntax)
			return
		}
		if r.start > r.end {
			c.int(-1) // an empty range holds neither a 0 nor a 1
			return
		}
		c.int(bitposIn(p, r, bit, endGiven))
	})
	if !found {
		// A missing key is an infinite run of 0 bits.
		if bit == 1 {
			c.int(-1)
		} else {
			c.int(0)
		}
	}
}

// bitposIn is BITPOS over the non-empty range r of p, as Redis computes
// it: the masked first byte, the whole bytes, then the masked last byte.
func bitposIn(p []byte, r bitRange, bit int64, endGiven bool) int64 {
	start, bytes := r.start, r.end-r.start+1
	// masked applies mask to b so that the bits it covers never match bit.
	masked := func(b, mask byte) byte {
		if bit == 1 {
			return b &^ mask
		}
		return b | mask
	}
	var pos int64
	if r.firstMask != 0 {
		b := masked(p[start], r.firstMask)
		if r.lastMask != 0 && bytes == 1 {
			b = masked(b, r.lastMask)
		}
		pos = bitpos([]byte{b}, bit)
		if bytes == 1 || (pos != -1 && pos != 8) {
			goto result
		}
		start++
		bytes--
	}
	if cur := bytes - int64(min(r.lastMask, 1)); cur > 0 {
		pos = bitpos(p[start:start+cur], bit)
		if bytes == cur || (pos != -1 && pos != cur<<3) {
			goto result
		}
		start += cur
		bytes -= cur
	}
	pos = bitpos([]byte{masked(p[r.end], r.lastMask)}, bit)
result:
	// Looking for a 0 in an explicit range: the bits right of the range do
	// not count as zero padding.
	if endGiven && bit == 0 && pos == bytes<<3 {
		return -1
	}
	if pos != -1 {
		pos += start << 3
	}
	return pos
}

func cmdBitOp(c *conn, args [][]byte) {
	op := args[1]
	var fn func(a, b byte) byte
	switch {
	case eq(op, "and"):
		fn = func(a, b byte) byte { return a & b }
	case eq(op, "or"):
		fn = func(a, b byte) byte { return a | b }
	case eq(op, "xor"):
		fn = func(a, b byte) byte { return a ^ b }
	case eq(op, "not"):
		if len(args) != 4 {
			c.err("ERR BITOP NOT must be called with a single source key.")
			return
		}
	default:
		c.err(errSyntax)
		return
	}
	dest := args[2]
	srcs := make([][]byte, len(args)-3)
	maxLen := 0
	for i, k := range args[3:] {
		srcs[i], _ = c.s.store.Get(nil, k)
		maxLen = max(maxLen, len(srcs[i]))
	}
	if maxLen == 0 {
		if c.s.store.Delete(dest) {
			c.changed(dest)
		} else {
			c.unchanged()
		}
		c.int(0)
		return
	}
	if !c.roomFor(dest, int64(maxLen)-c.valueLen(dest)) {
		return
	}
	res := make([]byte, maxLen)
	copy(res, srcs[0])
	if fn == nil {
		for j := range res {
			res[j] = ^res[j]
		}
	} else {
		for _, s := range srcs[1:] {
			for j := range res {
				var b byte
				if j < len(s) {
					b = s[j]
				}
				res[j] = fn(res[j], b)
			}
		}
	}
	// A "raw" string whatever it holds, as Redis's BITOP makes.
	c.s.store.Set(dest, res, store.SetArgs{Raw: true}, nil)
	c.changed(dest) // the sources are keys of the command too, and unchanged
	c.int(int64(maxLen))
}

// Overflow behaviours of BITFIELD.
const (
	overflowWrap = iota
	overflowSat
	overflowFail
)

// bitfieldOp is one GET, SET or INCRBY of a BITFIELD command.
type bitfieldOp struct {
	offset   uint64
	value    int64 // SET's value, INCRBY's increment
	op       byte  // 'g', 's', 'i'
	overflow int
	bits     int
	signed   bool
}

func cmdBitField(c *conn, args [][]byte)   { c.bitfield(args, false) }
func cmdBitFieldRO(c *conn, args [][]byte) { c.bitfield(args, true) }

// bitfield is BITFIELD, or BITFIELD_RO when readonly, as Redis's
// bitfieldGeneric: every operation is parsed (and refused) before any
// runs, then they run in order on the string grown to the farthest bit
// written.
func (c *conn) bitfield(args [][]byte, readonly bool) {
	var ops []bitfieldOp
	overflow := overflowWrap
	writes := false
	var highest uint64
	for j := 2; j < len(args); j++ {
		more := len(args) - j - 1
		var op byte
		switch sub := args[j]; {
		case eq(sub, "get") && more >= 2:
			op = 'g'
		case eq(sub, "set") && more >= 3:
			op = 's'
		case eq(sub, "incrby") && more >= 3:
			op = 'i'
		case eq(sub, "overflow") && more >= 1:
			j++
			switch {
			case eq(args[j], "wrap"):
				overflow = overflowWrap
			case eq(args[j], "sat"):
				overflow = overflowSat
			case eq(args[j], "fail"):
				overflow = overflowFail
			default:
				c.err("ERR Invalid OVERFLOW type specified")
				return
			}
			continue
		default:
			c.err(errSyntax)
			return
		}
		signed, width, ok := bitfieldType(args[j+1])
		if !ok {
			c.err("ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.")
			return
		}
		off, ok := c.bitOffsetArg(args[j+2], true, width)
		if !ok {
			return
		}
		var v int64
		if op != 'g' {
			writes = true
			highest = max(highest, off+uint64(width)-1)
			if v, ok = resp.ParseInt(args[j+3]); !ok {
				c.err(errNotInt)
				return
			}
			j++
		}
		ops = append(ops, bitfieldOp{offset: off, value: v, op: op, overflow: overflow, bits: width, signed: signed})
		j += 2
	}
	key := args[1]
	if !writes {
		if !readonly {
			c.unchanged() // BITFIELD with GETs only writes nothing
		}
		c.array(len(ops))
		if !c.view(key, func(v []byte) { c.bitfieldRun(v, ops, false) }) {
			c.bitfieldRun(nil, ops, false)
		}
		return
	}
	if readonly {
		c.err("ERR BITFIELD_RO only supports the GET subcommand")
		return
	}
	size := int64(highest>>3) + 1
	if !c.roomFor(key, size-c.valueLen(key)) {
		return
	}
	changes := 0
	c.array(len(ops))
	c.s.store.Edit(key, func([]byte, bool) int { return int(size) }, func(v []byte, grown bool) {
		changes = c.bitfieldRun(v, ops, grown)
	})
	if changes == 0 {
		c.unchanged()
	}
}

// bitfieldRun runs ops on p, answering each, and returns how many changed
// the string (or, when grown, wrote to it).
func (c *conn) bitfieldRun(p []byte, ops []bitfieldOp, grown bool) int {
	changes := 0
	for _, op := range ops {
		old := getBits(p, op.offset, op.bits)
		if op.op == 'g' {
			if op.signed {
				c.int(signExtend(old, op.bits))
			} else {
				c.int(int64(old))
			}
			continue
		}
		var nv, ret uint64
		var over int
		if op.signed {
			o := signExtend(old, op.bits)
			var n int64
			var wrapped int64
			if op.op == 'i' {
				wrapped, over = signedOverflow(o, op.value, op.bits, op.overflow)
				n = o + op.value
				if over != 0 {
					n = wrapped
				}
				ret = uint64(n)
			} else {
				n = op.value
				if wrapped, over = signedOverflow(n, 0, op.bits, op.overflow); over != 0 {
					n = wrapped
				}
				ret = uint64(o)
			}
			nv = uint64(n)
		} else {
			var wrapped uint64
			if op.op == 'i' {
				nv = old + uint64(op.value)
				if wrapped, over = unsignedOverflow(old, op.value, op.bits, op.overflow); over != 0 {
					nv = wrapped
				}
				ret = nv
			} else {
				nv = uint64(op.value)
				if wrapped, over = unsignedOverflow(nv, 0, op.bits, op.overflow); over != 0 {
					nv = wrapped
				}
				ret = old
			}
		}
		if over != 0 && op.overflow == overflowFail {
			c.null()
			continue
		}
		c.int(int64(ret))
		setBits(p, op.offset, op.bits, nv)
		if grown || getBits(p, op.offset, op.bits) != old {
			changes++
		}
	}
	return changes
}

// bitfieldType parses a BITFIELD type: i1 to i64, u1 to u63 (the sign
// letter lower case, the width as Redis's string2ll reads it, up to a NUL).
func bitfieldType(arg []byte) (signed bool, width int, ok bool) {
	if len(arg) == 0 || (arg[0] != 'i' && arg[0] != 'u') {
		return false, 0, false
	}
	signed = arg[0] == 'i'
	digits := arg[1:]
	for i, ch := range digits {
		if ch == 0 {
			digits = digits[:i]
			break
		}
	}
	n, ok := resp.ParseInt(digits)
	if !ok || n < 1 || (signed && n > 64) || (!signed && n > 63) {
		return false, 0, false
	}
	return signed, int(n), true
}

// getBits reads the width-bit unsigned integer at bit offset off of p,
// most significant bit first; bytes past the end of p read as zero.
func getBits(p []byte, off uint64, width int) uint64 {
	var v uint64
	for j := 0; j < width; j++ {
		var bit uint64
		if i := off >> 3; i < uint64(len(p)) {
			bit = uint64(p[i]>>(7-off&7)) & 1
		}
		v = v<<1 | bit
		off++
	}
	return v
}

// setBits writes the low width bits of v at bit offset off of p, which is
// long enough.
func setBits(p []byte, off uint64, width int, v uint64) {
	for j := 0; j < width; j++ {
		bit := byte(v>>(width-1-j)) & 1
		i, shift := off>>3, 7-off&7
		p[i] = p[i]&^(1<<shift) | bit<<shift
		off++
	}
}

// signExtend reads the low width bits of v as a two's complement integer.
func signExtend(v uint64, width int) int64 {
	if width < 64 && v&(1<<(width-1)) != 0 {
		v |= math.MaxUint64 << width
	}
	return int64(v)
}

// unsignedOverflow is Redis's checkUnsignedBitfieldOverflow: whether
// value+incr overflows (1) or underflows (-1) a width-bit unsigned integer,
// and the value to store instead (wrapped or saturated) per mode.
func unsignedOverflow(value uint64, incr int64, width, mode int) (limit uint64, over int) {
	maxV := uint64(1)<<width - 1
	maxIncr := int64(maxV - value)
	minIncr := -int64(value)
	switch {
	case value > maxV || (incr > 0 && incr > maxIncr):
		over, limit = 1, maxV
	case incr < 0 && incr < minIncr:
		over, limit = -1, 0
	default:
		return 0, 0
	}
	if mode == overflowWrap {
		limit = (value + uint64(incr)) &^ (math.MaxUint64 << width)
	}
	return limit, over
}

// signedOverflow is Redis's checkSignedBitfieldOverflow for a width-bit
// signed integer.
func signedOverflow(value, incr int64, width, mode int) (limit int64, over int) {
	maxV := int64(math.MaxInt64)
	if width < 64 {
		maxV = 1<<(width-1) - 1
	}
	minV := -maxV - 1
	maxIncr := int64(uint64(maxV) - uint64(value))
	minIncr := minV - value
	switch {
	case value > maxV || (width != 64 && incr > maxIncr) || (value >= 0 && incr > 0 && incr > maxIncr):
		over, limit = 1, maxV
	case value < minV || (width != 64 && incr < minIncr) || (value < 0 && incr < 0 && incr < minIncr):
		over, limit = -1, minV
	default:
		return 0, 0
	}
	if mode == overflowWrap {
		sum := uint64(value) + uint64(incr)
		if width < 64 {
			mask := uint64(math.MaxUint64) << width
			if sum&(1<<(width-1)) != 0 {
				sum |= mask
			} else {
				sum &^= mask
			}
		}
		limit = int64(sum)
	}
	return limit, over
}
