// Bitmap and LCS commands: what they signal to WATCH, and their edge cases.

package cachenode

import (
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
