package cachenode

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cachetier/cachetier/internal/redistest"
)

// The LFU policies against redis-server (TestDifferentialAgainstRedis):
// with lfu-log-factor 0 every access raises the counter by one, and with
// lfu-decay-time 0 it never decays, so OBJECT FREQ is exact. The case puts
// the policy and parameters back as the other cases expect them.
func init() {
	diffCases["lfu"] = []string{"CONFIG|SET|lfu-log-factor|0", "CONFIG|SET|lfu-decay-time|0", "CONFIG|GET|lfu-log-factor", "CONFIG|GET|lfu-decay-time", "CONFIG|SET|maxmemory-policy|allkeys-lfu", "CONFIG|GET|maxmemory-policy",
		"SET|k|hello", "OBJECT|FREQ|k", "GET|k", "GET|k", "GET|k", "OBJECT|FREQ|k", "SET|k|world", "OBJECT|FREQ|k", "EXISTS|k", "TTL|k", "TYPE|k", "OBJECT|FREQ|k", "SET|k|x|NX", "OBJECT|FREQ|k",
		"TOUCH|k", "MGET|k|nokey", "APPEND|k|!", "OBJECT|FREQ|k",
		"SETRANGE|k|1|y", "OBJECT|FREQ|k", "SETBIT|k|3|1", "OBJECT|FREQ|k", "BITFIELD|k|SET|u8|0|5", "OBJECT|FREQ|k", "GETBIT|k|1", "BITCOUNT|k", "BITPOS|k|1", "OBJECT|FREQ|k",
		"APPEND|a|x", "OBJECT|FREQ|a", "APPEND|a|y", "OBJECT|FREQ|a", "SETBIT|b|7|1", "OBJECT|FREQ|b", "OBJECT|IDLETIME|k", "OBJECT|IDLETIME|nokey", "OBJECT|FREQ|nokey",
		"RENAME|k|k2", "OBJECT|FREQ|k2", "SET|k3|z", "RENAME|k2|k3", "OBJECT|FREQ|k3", "GET|k3", "OBJECT|FREQ|k3",
		"CONFIG|SET|maxmemory-policy|VOLATILE-LFU", "CONFIG|GET|maxmemory-policy", "SET|t|x|EX|100", "GET|t", "OBJECT|FREQ|t",
		"CONFIG|SET|lfu-log-factor|-1", "CONFIG|SET|lfu-log-factor|abc", "CONFIG|SET|lfu-log-factor|2147483648", "CONFIG|SET|lfu-decay-time|-1", "CONFIG|SET|lfu-decay-time|x",
		"CONFIG|SET|lfu-log-factor|2147483647", "CONFIG|GET|lfu-log-factor", "CONFIG|SET|lfu-log-factor|10", "CONFIG|SET|lfu-decay-time|1", "CONFIG|GET|lfu-log-factor", "CONFIG|GET|lfu-decay-time",
		"CONFIG|SET|maxmemory-policy|allkeys-lru", "OBJECT|FREQ|k", "~OBJECT|IDLETIME|k"}
	// The read commands that touch a key (STRLEN, GETEX, GETSET and the
	// other string reads) raise its counter as Redis's lookupKeyRead does;
	// GETSET and SET ... GET also look the key up for writing, and so do
	// INCR, DECRBY and INCRBYFLOAT failing on the value they found.
	diffCases["lfu-touch"] = []string{"CONFIG|SET|lfu-log-factor|0", "CONFIG|SET|lfu-decay-time|0", "CONFIG|SET|maxmemory-policy|allkeys-lfu",
		"SET|k|hello", "OBJECT|FREQ|k", "STRLEN|k", "OBJECT|FREQ|k", "STRLEN|nokey", "GETEX|k", "OBJECT|FREQ|k", "GETEX|k|EX|100", "OBJECT|FREQ|k",
		"GETEX|k|PERSIST", "OBJECT|FREQ|k", "GETEX|nokey", "GETSET|k|v2", "OBJECT|FREQ|k", "GETSET|n|v", "OBJECT|FREQ|n", "SET|n|w|GET", "OBJECT|FREQ|n",
		"GETRANGE|n|0|1", "OBJECT|FREQ|n", "SUBSTR|n|0|0", "OBJECT|FREQ|n", "LCS|k|n", "OBJECT|FREQ|k", "OBJECT|FREQ|n",
		"SET|c|1.5", "INCRBYFLOAT|c|1.5", "OBJECT|FREQ|c", "APPEND|c|0", "OBJECT|FREQ|c", "INCRBYFLOAT|c|1", "OBJECT|FREQ|c",
		"SETNX|k|z", "OBJECT|FREQ|k", "MSETNX|k|z|m|z", "OBJECT|FREQ|k", "GETDEL|k", "OBJECT|FREQ|k",
		"SET|e|abc", "INCR|e", "OBJECT|FREQ|e", "DECRBY|e|2", "OBJECT|FREQ|e", "INCRBY|e|x", "OBJECT|FREQ|e", "INCRBYFLOAT|e|1", "OBJECT|FREQ|e",
		"INCRBYFLOAT|c|x", "OBJECT|FREQ|c", "SET|big|9223372036854775807", "INCR|big", "OBJECT|FREQ|big", "DECRBY|big|-1", "OBJECT|FREQ|big",
		"INCRBYFLOAT|c|inf", "OBJECT|FREQ|c", "INCR|nokey2|x", "INCRBYFLOAT|nokey2|x", "EXISTS|nokey2",
		"CONFIG|SET|lfu-log-factor|10", "CONFIG|SET|lfu-decay-time|1", "CONFIG|SET|maxmemory-policy|allkeys-lru"}
}

// TestPolicyConfig checks CONFIG GET/SET maxmemory-policy with cachenode's
// own policies, the error listing every name, and OBJECT FREQ and IDLETIME
// under each kind of policy.
func TestPolicyConfig(t *testing.T) {
	s := startServer(t, Config{MaxMemoryPolicy: "allkeys-lru"})
	c := dialRaw(t, s.Addr().String())
	want := func(got, w string) {
		t.Helper()
		if got != w {
			t.Fatalf("got %q, want %q", got, w)
		}
	}
	want(c.do("SET", "k", "hello"), "+OK\r\n")
	want(c.do("OBJECT", "IDLETIME", "k"), ":0\r\n")
	for _, p := range []string{"allkeys-tinylfu", "volatile-tinylfu"} {
		want(c.do("CONFIG", "SET", "maxmemory-policy", strings.ToUpper(p)), "+OK\r\n")
		want(c.do("CONFIG", "GET", "maxmemory-policy"), "*2\r\n$16\r\nmaxmemory-policy\r\n$"+itoa(len(p))+"\r\n"+p+"\r\n")
	}
	c.do("GET", "k")
	c.do("GET", "k")
	if r := c.do("OBJECT", "FREQ", "k"); !strings.HasPrefix(r, ":") || r == ":0\r\n" {
		t.Fatalf("OBJECT FREQ under tinylfu after reads: %q", r)
	}
	want(c.do("OBJECT", "IDLETIME", "k"), ":0\r\n")
	r := c.do("CONFIG", "SET", "maxmemory-policy", "lru")
	if !strings.HasPrefix(r, "-ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) must be one of the following: volatile-lru, volatile-lfu,") ||
		!strings.Contains(r, "allkeys-tinylfu") {
		t.Fatalf("bad policy: %q", r)
	}
	info := c.do("INFO", "eviction")
	for _, f := range []string{"# Eviction\r\n", "maxmemory_policy:volatile-tinylfu\r\n", "evicted_keys:0\r\n", "evicted_keys_cold:0\r\n", "tinylfu_sketch_bytes:", "tinylfu_sketch_halvings:0\r\n", "tinylfu_ranking:frequency\r\n", "tinylfu_ranking_switches:0\r\n", "tinylfu_duel_bytes:"} {
		if !strings.Contains(info, f) {
			t.Fatalf("INFO eviction lacks %q:\n%s", f, info)
		}
	}
	if strings.Contains(c.do("INFO"), "# Eviction") {
		t.Fatal("the eviction section is in the default INFO")
	}
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

// TestVolatileFrequencyEviction runs the same writes against redis-server
// with volatile-lfu and cachenode with volatile-lfu and volatile-tinylfu, at
// the same maxmemory: keys without a TTL that fit, then keys with a TTL
// four times the limit (only those are evicted; every write succeeds),
// then, with no TTL key left, keys without a TTL until a write fails with
// redis-server's error.
func TestVolatileFrequencyEviction(t *testing.T) {
	const limit = 4 << 20
	rs := redistest.Start(t, "--maxmemory", fmt.Sprint(limit), "--maxmemory-policy", "volatile-lfu")
	targets := []struct{ name, addr string }{{"redis-server volatile-lfu", rs.Addr}}
	for _, p := range []string{"volatile-lfu", "volatile-tinylfu"} {
		s := startServer(t, Config{MaxMemory: limit, MaxMemoryPolicy: p})
		targets = append(targets, struct{ name, addr string }{"cachenode " + p, s.Addr().String()})
	}
	val := strings.Repeat("v", 1000)
	var redisErr string
	for _, tg := range targets {
		c := dialRaw(t, tg.addr)
		const keep, ttl = 1500, 4 * limit / 1000
		for i := range keep {
			if r := c.do("SET", fmt.Sprint("keep:", i), val); r != "+OK\r\n" {
				t.Fatalf("%s: SET keep:%d: %q", tg.name, i, r)
			}
		}
		for i := range ttl {
			if r := c.do("SET", fmt.Sprint("ttl:", i), val, "EX", "1000"); r != "+OK\r\n" {
				t.Fatalf("%s: SET ttl:%d: %q", tg.name, i, r)
			}
			if i%2 == 0 { // read some TTL keys, so that frequencies differ
				c.do("GET", fmt.Sprint("ttl:", i))
			}
		}
		for i := range keep {
			if r := c.do("EXISTS", fmt.Sprint("keep:", i)); r != ":1\r\n" {
				t.Fatalf("%s: keep:%d (no TTL) was evicted", tg.name, i)
			}
		}
		n := c.do("DBSIZE")
		info := c.do("INFO", "stats")
		if !strings.Contains(info, "evicted_keys:") || strings.Contains(info, "evicted_keys:0\r\n") {
			t.Fatalf("%s: nothing evicted (DBSIZE %s)", tg.name, strings.TrimSpace(n))
		}
		c.do("FLUSHALL")
		var failed string
		for i := 0; i < 2*limit/1000 && failed == ""; i++ {
			if r := c.do("SET", fmt.Sprint("keep:", i), val); r != "+OK\r\n" {
				failed = r
			}
		}
		if failed == "" {
			t.Fatalf("%s: no write failed with no key evictable", tg.name)
		}
		if redisErr == "" {
			redisErr = failed
		} else if failed != redisErr {
			t.Errorf("%s: %q, redis-server: %q", tg.name, failed, redisErr)
		}
		t.Logf("%s: DBSIZE %s after the TTL keys; then %q", tg.name, strings.TrimSpace(n), failed)
	}
}

// TestNoTouchReads: with CLIENT NO-TOUCH, the reads of STRLEN, GETEX and
// GETSET leave the LFU counter alone; GETSET's write still counts, as any
// write does.
func TestNoTouchReads(t *testing.T) {
	s := startServer(t, Config{MaxMemoryPolicy: "allkeys-lfu"})
	c := dialRaw(t, s.Addr().String())
	c.do("CONFIG", "SET", "lfu-log-factor", "0")
	c.do("CONFIG", "SET", "lfu-decay-time", "0")
	c.do("SET", "k", "hello")
	c.do("STRLEN", "k")
	if r := c.do("OBJECT", "FREQ", "k"); r != ":6\r\n" {
		t.Fatalf("after STRLEN: OBJECT FREQ %q, want 6", r)
	}
	c.do("CLIENT", "NO-TOUCH", "on")
	for _, cmd := range [][]string{{"STRLEN", "k"}, {"GETEX", "k"}, {"GETEX", "k", "EX", "100"}, {"SET", "k", "x", "GET", "KEEPTTL"}} {
		c.do(cmd...)
	}
	// The SET ... GET's write is the only access counted.
	if r := c.do("OBJECT", "FREQ", "k"); r != ":7\r\n" {
		t.Fatalf("NO-TOUCH reads: OBJECT FREQ %q, want 7", r)
	}
	c.do("GETSET", "k", "y")
	if r := c.do("OBJECT", "FREQ", "k"); r != ":8\r\n" {
		t.Fatalf("NO-TOUCH GETSET: OBJECT FREQ %q, want 8", r)
	}
}
