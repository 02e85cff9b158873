// Tests of errorstats and commandstats against redis-server.

package cachenode

import (
	"slices"
	"strings"
	"testing"
)

// TestErrorStatsMatchRedis replays commands that fail in different ways
// (arity, unknown command, wrong type of value, syntax, NOAUTH-free errors,
// an error inside EXEC, EXECABORT) against redis-server and cachenode and
// requires the same errorstats, total_error_replies and commandstats
// counters (calls, rejected_calls, failed_calls) for the commands involved.
func TestErrorStatsMatchRedis(t *testing.T) {
	script := [][]string{
		{"GET"}, {"NOPE", "x"}, {"SET", "s", "v"}, {"INCR", "s"}, {"SET", "k", "v", "EX", "0"},
		{"EXPIRE", "k", "10", "NX", "XX"}, {"SELECT", "0"}, {"GETRANGE", "s", "a", "1"},
		{"MULTI"}, {"INCR", "s"}, {"SET", "t", "1"}, {"EXEC"},
		{"MULTI"}, {"SET"}, {"EXEC"}, {"EXEC"}, {"CLIENT", "NOSUCH"}, {"DEBUG", "SLEEP", "0"},
		{"WAIT", "x", "0"}, {"WAIT", "0", "0"},
	}
	type stats struct{ errs, cmds string }
	want, got := againstRedis(t, func(addr string) stats {
		c := dialRaw(t, addr)
		c.do("CONFIG", "RESETSTAT")
		for _, cmd := range script {
			c.do(cmd...)
		}
		var e, m []string
		for _, line := range strings.Split(c.do("INFO", "everything"), "\r\n") {
			switch {
			case strings.HasPrefix(line, "errorstat_"), strings.HasPrefix(line, "total_error_replies:"):
				e = append(e, line)
			case strings.HasPrefix(line, "cmdstat_") && !strings.HasPrefix(line, "cmdstat_info:") && !strings.HasPrefix(line, "cmdstat_config|"):
				name, rest, _ := strings.Cut(line, ":")
				f := strings.Split(rest, ",") // calls, usec, usec_per_call, rejected_calls, failed_calls
				m = append(m, name+":"+f[0]+","+f[3]+","+f[4])
			}
		}
		slices.Sort(m)
		return stats{strings.Join(e, "\n"), strings.Join(m, "\n")}
	})
	if want.errs != got.errs {
		t.Errorf("errorstats differ:\nredis-server:\n%s\ncachenode:\n%s", want.errs, got.errs)
	}
	if want.cmds != got.cmds {
		t.Errorf("commandstats differ:\nredis-server:\n%s\ncachenode:\n%s", want.cmds, got.cmds)
	}
}
