// Bitmap and LCS commands: what they signal to WATCH, and their edge cases.

package cachenode

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// TestBitCommandsWatch: a WATCHed key fails EXEC exactly when Redis says
// the command modified it: SETBIT or BITFIELD that leave every bit as it
// was, a BITOP that deletes a missing key or only reads the watched one,
// and empty SETRANGE do not; APPEND of nothing and BITOP rewriting the
// same value do.
func TestBitCommandsWatch(t *testing.T) {
	cmds := [][]string{
		{"SETBIT", "k", "0", "0"}, {"SETBIT", "k", "0", "1"}, {"SETBIT", "k", "100", "0"},
		{"BITFIELD", "k", "GET", "u8", "0"}, {"BITFIELD", "k", "SET", "u8", "0", "0"},
		{"BITFIELD", "k", "OVERFLOW", "FAIL", "INCRBY", "u1", "0", "5"}, {"BITFIELD", "k", "INCRBY", "u8", "0", "1"},
		{"BITFIELD_RO", "k", "GET", "u8", "0"}, {"BITFIELD", "k", "SET", "u8", "8", "0"},
		{"BITOP", "AND", "k", "nokey"}, {"BITOP", "AND", "d", "k"}, {"BITOP", "OR", "k", "k"},
		{"SETRANGE", "k", "0", ""}, {"APPEND", "k", ""}, {"LCS", "k", "k"}, {"GETBIT", "k", "0"},
	}
	fromRedis, fromNode := againstRedis(t, func(addr string) string {
		a, b := dialRaw(t, addr), dialRaw(t, addr)
		var out strings.Builder
		for _, cmd := range cmds {
			b.do("SET", "k", "\x00")
			a.do("WATCH", "k")
			out.WriteString(strings.Join(cmd, " ") + " -> " + b.do(cmd...))
			a.do("MULTI")
			a.do("PING")
			out.WriteString("  EXEC -> " + a.do("EXEC"))
		}
		return out.String()
	})
	if fromRedis != fromNode {
		t.Errorf("redis:\n%s\ncachenode:\n%s", fromRedis, fromNode)
	}
}

// TestDirtyCounts: INFO's rdb_changes_since_last_save grows by what Redis
// counts for each string and bitmap command: the keys it changed, nothing
// for a write that changed nothing or failed.
func TestDirtyCounts(t *testing.T) {
	cmds := [][]string{
		{"SET", "k", "v"}, {"SET", "k", "v", "NX"}, {"MSET", "a", "1", "b", "2"}, {"APPEND", "k", "x"}, {"APPEND", "k", ""},
		{"SETRANGE", "k", "0", ""}, {"SETRANGE", "k", "0", "y"}, {"INCR", "a"}, {"INCR", "k"}, {"INCRBYFLOAT", "a", "1.5"},
		{"SETBIT", "s", "0", "0"}, {"SETBIT", "s", "0", "0"}, {"SETBIT", "s", "0", "1"}, {"SETBIT", "s", "90", "0"},
		{"BITFIELD", "f", "SET", "i5", "0", "0"}, {"BITFIELD", "f", "SET", "i5", "0", "0"}, {"BITFIELD", "f", "INCRBY", "i5", "0", "1"},
		{"BITFIELD", "f", "GET", "u8", "0"}, {"BITFIELD", "f", "OVERFLOW", "FAIL", "INCRBY", "u1", "0", "5"},
		{"BITOP", "OR", "d", "k", "s"}, {"BITOP", "AND", "d", "nokey"}, {"BITOP", "AND", "d", "nokey"},
		{"GETDEL", "a"}, {"GETDEL", "a"}, {"GETSET", "b", "3"}, {"SETEX", "e", "100", "v"}, {"SETNX", "e", "w"},
	}
	fromRedis, fromNode := againstRedis(t, func(addr string) []string {
		c := dialRaw(t, addr)
		dirty := func() int {
			r := c.do("INFO", "persistence")
			i := strings.Index(r, "rdb_changes_since_last_save:")
			n, _ := strconv.Atoi(strings.Fields(r[i+len("rdb_changes_since_last_save:"):])[0])
			return n
		}
		var out []string
		for _, cmd := range cmds {
			before := dirty()
			c.do(cmd...)
			out = append(out, strings.Join(cmd, " ")+": +"+strconv.Itoa(dirty()-before))
		}
		return out
	})
	for i := range fromRedis {
		if fromRedis[i] != fromNode[i] {
			t.Errorf("redis %q, cachenode %q", fromRedis[i], fromNode[i])
		}
	}
}

// TestBitsRandomAgainstRedis replays the same pseudo-random sequence of
// string and bitmap commands (small keys and offsets, so that they meet)
// against redis-server and cachenode; every reply must be identical.
func TestBitsRandomAgainstRedis(t *testing.T) {
	const steps = 4000
	keys := []string{"a", "b", "c"}
	gen := func(r *rand.Rand) []string {
		k := keys[r.IntN(len(keys))]
		num := func(lo, hi int) string { return strconv.Itoa(lo + r.IntN(hi-lo+1)) }
		types := []string{"i1", "u1", "i3", "u5", "i8", "u8", "i13", "u16", "i32", "u63", "i64"}
		typ := func() string { return types[r.IntN(len(types))] }
		unit := []string{"BIT", "BYTE"}[r.IntN(2)]
		switch r.IntN(14) {
		case 0:
			return []string{"SETBIT", k, num(0, 200), num(0, 1)}
		case 1:
			return []string{"GETBIT", k, num(0, 220)}
		case 2:
			return []string{"BITCOUNT", k, num(-30, 30), num(-30, 30), unit}
		case 3:
			return []string{"BITPOS", k, num(0, 1), num(-30, 30), num(-30, 30), unit}
		case 4:
			return []string{"BITPOS", k, num(0, 1), num(-30, 30)}
		case 5:
			return []string{"BITOP", []string{"AND", "OR", "XOR"}[r.IntN(3)], keys[r.IntN(3)], k, keys[r.IntN(3)]}
		case 6:
			return []string{"BITOP", "NOT", keys[r.IntN(3)], k}
		case 7:
			return []string{"BITFIELD", k, "OVERFLOW", []string{"WRAP", "SAT", "FAIL"}[r.IntN(3)],
				"INCRBY", typ(), num(0, 150), num(-300, 300), "GET", typ(), num(0, 150)}
		case 8:
			return []string{"BITFIELD", k, "SET", typ(), "#" + num(0, 5), num(-200, 200), "GET", typ(), num(0, 100)}
		case 9:
			return []string{"BITFIELD_RO", k, "GET", typ(), num(0, 200)}
		case 10:
			return []string{"SETRANGE", k, num(0, 30), []string{"x", "\xff\x00", "hello"}[r.IntN(3)]}
		case 11:
			return []string{"LCS", k, keys[r.IntN(3)], "IDX", "MINMATCHLEN", num(0, 3), "WITHMATCHLEN"}
		case 12:
			return []string{"GETRANGE", k, num(-20, 20), num(-20, 20)}
		}
		return []string{"APPEND", k, string(rune('a' + r.IntN(26)))}
	}
	fromRedis, fromNode := againstRedis(t, func(addr string) []string {
		c := dialRaw(t, addr)
		r := rand.New(rand.NewPCG(1, 2))
		out := make([]string, 0, steps)
		for i := 0; i < steps; i++ {
			cmd := gen(r)
			out = append(out, strings.Join(cmd, " ")+" -> "+c.do(cmd...))
		}
		return out
	})
	fails := 0
	for i := range fromRedis {
		if fromRedis[i] != fromNode[i] {
			t.Errorf("step %d:\n redis:     %q\n cachenode: %q", i, fromRedis[i], fromNode[i])
			if fails++; fails == 5 {
				t.FailNow()
			}
		}
	}
}
