package cachenode

import (
	"strings"
	"testing"
)

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
	want(c.do("INFO", "memory")[:1], "$")
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}
