// Size and memory limits on the values commands build.

package cachenode

import (
	"strconv"
	"strings"
	"testing"
)

// TestProtoMaxBulkLenArgument: CONFIG SET proto-max-bulk-len also bounds
// the bulk arguments clients send, with Redis's protocol error, on a
// connection opened before the change too.
func TestProtoMaxBulkLenArgument(t *testing.T) {
	fromRedis, fromNode := againstRedis(t, func(addr string) []string {
		c, admin := dialRaw(t, addr), dialRaw(t, addr)
		out := []string{c.do("PING"), admin.do("CONFIG", "SET", "proto-max-bulk-len", "1mb")}
		out = append(out, c.do("SET", "k", strings.Repeat("x", 1<<20)))
		c.send("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1048577\r\n") // the server answers the length line
		out = append(out, c.reply())
		out = append(out, strconv.FormatBool(c.closed()))
		return out
	})
	if strings.Join(fromRedis, "") != strings.Join(fromNode, "") {
		t.Errorf("redis: %q\ncachenode: %q", fromRedis, fromNode)
	}
	if fromNode[len(fromNode)-1] != "true" {
		t.Errorf("connection not closed after an oversized argument: %q", fromNode)
	}
}

// TestGrowthChecksMaxMemory: a command that grows a value makes room for
// the growth under maxmemory before it allocates it: it evicts other keys
// per the policy, and answers OOM when the growth cannot fit (noeviction,
// or larger than maxmemory itself).
func TestGrowthChecksMaxMemory(t *testing.T) {
	const limit = 8 << 20
	s := startServer(t, Config{MaxMemory: limit})
	c := dialRaw(t, s.Addr().String())
	val := strings.Repeat("v", 1000)
	for i := 0; i < 2000; i++ {
		c.do("SET", "key:"+strconv.Itoa(i), val)
	}
	before := c.do("DBSIZE")
	if r := c.do("SETRANGE", "big", strconv.Itoa(6<<20), "x"); r != ":"+strconv.Itoa(6<<20+1)+"\r\n" {
		t.Fatalf("SETRANGE 6mb under allkeys-lru: %q", r)
	}
	if used := s.store.UsedMemory(); used > limit {
		t.Errorf("used memory %d after SETRANGE, maxmemory %d", used, limit)
	}
	if after := c.do("DBSIZE"); after == before {
		t.Errorf("SETRANGE evicted nothing: DBSIZE %q", after)
	}
	for _, cmd := range [][]string{
		{"SETRANGE", "k2", strconv.Itoa(limit), "x"},
		{"APPEND", "big", strings.Repeat("a", limit)},
	} {
		if r := c.do(cmd...); r != "-"+errOOM+"\r\n" {
			t.Errorf("%s past maxmemory: %.80q, want OOM", cmd[0], r)
		}
	}
	c.do("CONFIG", "SET", "maxmemory-policy", "noeviction")
	if r := c.do("SETRANGE", "k3", strconv.Itoa(4<<20), "x"); r != "-"+errOOM+"\r\n" {
		t.Errorf("SETRANGE under noeviction: %q, want OOM", r)
	}
	if r := c.do("EXISTS", "k2", "k3"); r != ":0\r\n" {
		t.Errorf("a refused growth created keys: EXISTS %q", r)
	}
}
