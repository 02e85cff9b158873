// Bitmap and LCS commands: what they signal to WATCH, and their edge cases.

package cachenode

import (
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
