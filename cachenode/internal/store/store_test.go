package store

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newTestStore(t testing.TB, cfg Config) (*Store, *fakeClock) {
	t.Helper()
	clk := newFakeClock()
	if cfg.Now == nil {
		cfg.Now = clk.Now
	}
	s := New(cfg)
	t.Cleanup(func() { s.Close() })
	return s, clk
}

func TestSetGetBinarySafe(t *testing.T) {
	s, _ := newTestStore(t, Config{})
	cases := []struct{ k, v string }{
		{"", "empty key"}, {"empty value", ""}, {"nul\x00key", "nul\x00val\xff"},
		{"k", string(make([]byte, 200))}, {"big", string(make([]byte, 3*maxSmall))},
	}
	for _, c := range cases {
		if _, _, w := s.Set([]byte(c.k), []byte(c.v), SetArgs{}, nil); !w {
			t.Fatalf("Set(%q) not written", c.k)
		}
	}
	for _, c := range cases {
		v, ok := s.Get([]byte("prefix"), []byte(c.k))
		if !ok || string(v) != "prefix"+c.v {
			t.Fatalf("Get(%q) = %q,%v", c.k, v, ok)
		}
	}
	if s.Len() != len(cases) {
		t.Fatalf("Len = %d want %d", s.Len(), len(cases))
	}
}

func TestSetOptions(t *testing.T) {
	s, clk := newTestStore(t, Config{})
	k := []byte("k")
	now := clk.ms.Load()
	if _, had, w := s.Set(k, []byte("a"), SetArgs{XX: true}, nil); had || w {
		t.Fatal("XX on missing key wrote")
	}
	if _, had, w := s.Set(k, []byte("a"), SetArgs{NX: true, ExpireAt: now + 1000}, nil); had || !w {
		t.Fatal("NX on missing key did not write")
	}
	prev, had, w := s.Set(k, []byte("b"), SetArgs{NX: true, Get: true}, nil)
	if string(prev) != "a" || !had || w {
		t.Fatalf("SET NX GET on existing = %q,%v,%v", prev, had, w)
	}
	prev, had, w = s.Set(k, []byte("c"), SetArgs{XX: true, Get: true, KeepTTL: true}, []byte("x"))
	if string(prev) != "xa" || !had || !w {
		t.Fatalf("SET XX GET KEEPTTL = %q,%v,%v", prev, had, w)
	}
	if v, exp, ok := s.Peek(nil, k); string(v) != "c" || exp != now+1000 || !ok {
		t.Fatalf("after KEEPTTL: %q %d %v", v, exp, ok)
	}
	s.Set(k, []byte("d"), SetArgs{}, nil) // plain SET clears the TTL
	if _, exp, _ := s.Peek(nil, k); exp != 0 {
		t.Fatalf("plain SET kept TTL %d", exp)
	}
	// An expiry time in the past deletes the key, like SET ... PXAT <past>.
	if _, had, w := s.Set(k, []byte("e"), SetArgs{ExpireAt: now - 1}, nil); !had || !w {
		t.Fatal("SET with past PXAT")
	}
	if s.Exists(k) {
		t.Fatal("key with past expiry exists")
	}
}

func TestExpiryLazy(t *testing.T) {
	s, clk := newTestStore(t, Config{ExpireInterval: time.Hour})
	now := clk.ms.Load()
	s.Set([]byte("k"), []byte("v"), SetArgs{ExpireAt: now + 100}, nil)
	clk.Advance(100 * time.Millisecond) // now == expireAt: still alive, as in Redis (now > when)
	if _, ok := s.Get(nil, []byte("k")); !ok {
		t.Fatal("expired at exactly its expiry time")
	}
	clk.Advance(time.Millisecond)
	if _, ok := s.Get(nil, []byte("k")); ok {
		t.Fatal("alive after its expiry time")
	}
	var st Stats
	s.UpdateStats(&st)
	if st.Expired != 1 || st.Keys != 0 || st.Hits != 1 || st.Misses != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestUpdate(t *testing.T) {
	s, clk := newTestStore(t, Config{})
	k := []byte("counter")
	incr := func(cur []byte, exp int64, exists bool) ([]byte, int64, Op) {
		n := 0
		if exists {
			fmt.Sscan(string(cur), &n)
		}
		return fmt.Appendf(nil, "%d", n+1), exp, Put
	}
	for i := 0; i < 12; i++ {
		s.Update(k, incr)
	}
	if v, _ := s.Get(nil, k); string(v) != "12" {
		t.Fatalf("counter = %q", v)
	}
	// EXPIRE keeps the value, sets a TTL; PERSIST removes it.
	exp := clk.ms.Load() + 5000
	s.Update(k, func(cur []byte, _ int64, _ bool) ([]byte, int64, Op) { return cur, exp, Put })
	if v, e, _ := s.Peek(nil, k); string(v) != "12" || e != exp {
		t.Fatalf("after EXPIRE %q %d", v, e)
	}
	s.Update(k, func(cur []byte, _ int64, _ bool) ([]byte, int64, Op) { return cur, 0, Put })
	if _, e, _ := s.Peek(nil, k); e != 0 {
		t.Fatalf("after PERSIST %d", e)
	}
	// Appending to cur must not write into the store's memory.
	s.Set([]byte("a"), []byte("xy"), SetArgs{}, nil)
	s.Set([]byte("b"), []byte("zz"), SetArgs{}, nil)
	s.Update([]byte("a"), func(cur []byte, e int64, _ bool) ([]byte, int64, Op) {
		_ = append(cur, "!!!!"...)
		return nil, 0, Keep
	})
	if v, _ := s.Get(nil, []byte("b")); string(v) != "zz" {
		t.Fatalf("append to cur corrupted a neighbour: %q", v)
	}
	s.Update([]byte("a"), func([]byte, int64, bool) ([]byte, int64, Op) { return nil, 0, Delete })
	if s.Exists([]byte("a")) {
		t.Fatal("Delete op left the key")
	}
	// Keep on a missing key creates nothing.
	s.Update([]byte("nope"), func(_ []byte, _ int64, ex bool) ([]byte, int64, Op) {
		if ex {
			t.Fatal("missing key exists")
		}
		return []byte("x"), 0, Keep
	})
	if s.Exists([]byte("nope")) {
		t.Fatal("Keep created a key")
	}
}

func TestRename(t *testing.T) {
	s, clk := newTestStore(t, Config{})
	exp := clk.ms.Load() + 9000
	s.Set([]byte("a"), []byte("1"), SetArgs{ExpireAt: exp}, nil)
	s.Set([]byte("b"), []byte("2"), SetArgs{}, nil)
	if ok, r := s.Rename([]byte("zz"), []byte("a"), false); ok || r {
		t.Fatal("rename of a missing key")
	}
	if ok, r := s.Rename([]byte("a"), []byte("b"), true); !ok || r {
		t.Fatal("RENAMENX onto an existing key renamed")
	}
	if ok, r := s.Rename([]byte("a"), []byte("a"), false); !ok || !r {
		t.Fatal("rename to itself")
	}
	if ok, r := s.Rename([]byte("a"), []byte("b"), false); !ok || !r {
		t.Fatal("RENAME failed")
	}
	if s.Exists([]byte("a")) {
		t.Fatal("source still exists")
	}
	if v, e, _ := s.Peek(nil, []byte("b")); string(v) != "1" || e != exp {
		t.Fatalf("dst = %q %d", v, e)
	}
	// Many renames across shards, both lock orders.
	for i := 0; i < 200; i++ {
		src, dst := fmt.Appendf(nil, "s%d", i), fmt.Appendf(nil, "d%d", i)
		s.Set(src, src, SetArgs{}, nil)
		if _, r := s.Rename(src, dst, false); !r {
			t.Fatal("rename")
		}
		if v, _ := s.Get(nil, dst); string(v) != string(src) {
			t.Fatalf("%s = %q", dst, v)
		}
	}
}

func TestStatsCounting(t *testing.T) {
	s, clk := newTestStore(t, Config{})
	s.Set([]byte("a"), []byte("1"), SetArgs{ExpireAt: clk.ms.Load() + 1000}, nil)
	s.Get(nil, []byte("a"))           // hit
	s.Get(nil, []byte("b"))           // miss
	s.Exists([]byte("a"))             // hit (EXISTS counts in Redis)
	s.Touch([]byte("zz"))             // miss
	s.Lookup(nil, []byte("a"), false) // hit
	s.Peek(nil, []byte("a"))          // not counted
	var st Stats
	s.UpdateStats(&st)
	if st.Hits != 3 || st.Misses != 2 || st.Keys != 1 || st.Expires != 1 || st.UsedMemory <= 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestPolicyNames(t *testing.T) {
	for _, p := range []Policy{NoEviction, AllKeysLRU, VolatileLRU, AllKeysRandom, VolatileRandom, VolatileTTL} {
		got, err := ParsePolicy(p.String())
		if err != nil || got != p {
			t.Fatalf("ParsePolicy(%q) = %v, %v", p.String(), got, err)
		}
	}
	if p, _ := ParsePolicy("ALLKEYS-LRU"); p != AllKeysLRU {
		t.Fatal("case-insensitive")
	}
	for _, n := range []string{"allkeys-lfu-", "tinylfu", "lru", ""} {
		if _, err := ParsePolicy(n); !errors.Is(err, ErrUnknownPolicy) {
			t.Fatalf("ParsePolicy(%q) err = %v", n, err)
		}
	}
	var zero Config
	if zero.Policy != AllKeysLRU {
		t.Fatal("zero Policy is not allkeys-lru")
	}
}

func TestMatch(t *testing.T) {
	cases := []struct {
		pat, s string
		nocase bool
		want   bool
	}{
		{"*", "", false, true},
		{"*", "anything", false, true},
		{"h?llo", "hello", false, true},
		{"h?llo", "hllo", false, false},
		{"h*llo", "heeeello", false, true},
		{"h[ae]llo", "hallo", false, true},
		{"h[ae]llo", "hillo", false, false},
		{"h[^e]llo", "hallo", false, true},
		{"h[^e]llo", "hello", false, false},
		{"h[a-b]llo", "hbllo", false, true},
		{"h[b-a]llo", "hallo", false, true}, // reversed range
		{"h[a-b]llo", "hcllo", false, false},
		{"h\\*llo", "h*llo", false, true},
		{"h\\*llo", "hello", false, false},
		{"[\\]]", "]", false, true},
		{"[abc", "a", false, true}, // unterminated class
		{"[abc", "ab", false, false},
		{"HELLO", "hello", true, true},
		{"HELLO", "hello", false, false},
		{"[A-Z]", "q", true, true},
		{"a*b*c", "aXXbYYc", false, true},
		{"a*b*c", "aXXbYY", false, false},
		{"\\", "\\", false, true},
		{"a\\", "a\\", false, true},
		{"", "", false, true},
		{"", "a", false, false},
		{"a**", "a", false, true},
		{"**", "", false, false}, // Redis quirk: only a lone * matches the empty key
		{"?*", "", false, false},
		{"user:*:name", "user:42:name", false, true},
	}
	for _, c := range cases {
		if got := Match([]byte(c.pat), []byte(c.s), c.nocase); got != c.want {
			t.Errorf("Match(%q, %q, %v) = %v, want %v", c.pat, c.s, c.nocase, got, c.want)
		}
	}
	// Pathological patterns finish quickly (skipLongerMatches).
	pat := []byte("a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b")
	str := make([]byte, 4000)
	for i := range str {
		str[i] = 'a'
	}
	start := time.Now()
	if Match(pat, str, false) {
		t.Fatal("pathological pattern matched")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("pathological pattern took %v", d)
	}
}

func FuzzMatch(f *testing.F) {
	for _, s := range []string{"*", "h?llo", "[a-z]*", "[^x]", "\\*", "[", "[\\", "a*b*c"} {
		f.Add([]byte(s), []byte("hello"), false)
	}
	f.Fuzz(func(t *testing.T, pat, s []byte, nocase bool) {
		if len(pat) > 64 || len(s) > 256 {
			return
		}
		m := Match(pat, s, nocase)
		if len(pat) > 0 && pat[0] != '*' && !containsMeta(pat) && m != (string(pat) == string(s)) && !nocase {
			t.Fatalf("literal pattern %q vs %q: %v", pat, s, m)
		}
		if string(pat) == "*" && !m {
			t.Fatal("* did not match")
		}
	})
}

func containsMeta(p []byte) bool {
	for _, c := range p {
		switch c {
		case '*', '?', '[', '\\':
			return true
		}
	}
	return false
}
