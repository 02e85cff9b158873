package cacheclient

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

// quietLogger drops go-redis's internal log lines (dial failures while the
// tests kill nodes on purpose).
type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

func TestMain(m *testing.M) {
	redis.SetLogger(quietLogger{})
	if addr := os.Getenv(leaseChildEnv); addr != "" {
		leaseChild(addr) // a client process for TestLeaseHolderProcessKilled; never returns
	}
	goleak.VerifyTestMain(m)
}

func TestHeaderRoundTrip(t *testing.T) {
	for _, h := range []header{
		{},
		{flags: flagNegative, t1: 5, t2: 5},
		{flags: flagFailover | flagBig, t1: time.Now().UnixMilli(), t2: time.Now().UnixMilli() + 1000},
	} {
		b := appendHeader([]byte("x"), h)
		if len(b) != 1+envHdrLen {
			t.Fatalf("len = %d", len(b))
		}
		got, ok := parseHeader(b[1:])
		if !ok || got != h {
			t.Fatalf("parseHeader(appendHeader(%+v)) = %+v, %v", h, got, ok)
		}
	}
	bad := [][]byte{
		nil,
		[]byte("plain redis value"),
		appendHeader(nil, header{t1: 10, t2: 5}), // T2 < T1
		append([]byte{envMagic, 2}, make([]byte, 17)...),       // future version
		append([]byte{envMagic, 1, 0x80}, make([]byte, 16)...), // unknown flag
	}
	for i, b := range bad {
		if _, ok := parseHeader(b); ok {
			t.Errorf("bad[%d] accepted", i)
		}
	}
}

func TestHeaderState(t *testing.T) {
	h := header{t1: 100, t2: 200}
	for _, tc := range []struct {
		now  int64
		want state
	}{{0, stateFresh}, {99, stateFresh}, {100, stateStale}, {199, stateStale}, {200, stateExpired}} {
		if got := h.stateAt(tc.now); got != tc.want {
			t.Errorf("stateAt(%d) = %v, want %v", tc.now, got, tc.want)
		}
	}
}

func FuzzParseHeader(f *testing.F) {
	f.Add(appendHeader(nil, header{t1: 1, t2: 2}))
	f.Add(appendHeader(nil, header{flags: flagNegative, t1: 1 << 40, t2: 1 << 41}))
	f.Add([]byte("hello"))
	f.Add([]byte{envMagic, envVersion, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, ok := parseHeader(b)
		if !ok {
			return
		}
		if h.t2 < h.t1 || h.t1 < 0 || h.flags&^knownFlags != 0 {
			t.Fatalf("accepted invalid header %+v", h)
		}
		if re := appendHeader(nil, h); !bytes.Equal(re, b[:envHdrLen]) {
			t.Fatalf("re-encoding differs: %x vs %x", re, b[:envHdrLen])
		}
	})
}

func TestL1SmallAndBig(t *testing.T) {
	// 256 MiB: 8 fastcache chunks per bucket, so a 1 MiB value's 17 pieces
	// cannot evict one another (fastcache maps memory lazily).
	l := newL1(256 << 20)
	h := header{t1: 1000, t2: 2000}
	sizes := []int{0, 1, 100, 64*1024 - 100, 64 * 1024, 200 * 1024, 1 << 20}
	for _, size := range sizes {
		key := "k" + string(rune('a'+size%26))
		val := make([]byte, size)
		for i := range val {
			val[i] = byte(rand.IntN(256))
		}
		l.set(key, h, val, 0, 0)
		prefix := []byte("prefix")
		got, gh, ok := l.get(prefix, key)
		if !ok {
			t.Fatalf("size %d: miss", size)
		}
		if gh != h {
			t.Fatalf("size %d: header %+v, want %+v", size, gh, h)
		}
		if !bytes.Equal(got[:6], prefix) || !bytes.Equal(got[6:], val) {
			t.Fatalf("size %d: value differs (len %d)", size, len(got)-6)
		}
		// Overwrite a big value with a small one and back.
		l.set(key, h, []byte("small"), 0, 0)
		if got, _, ok := l.get(nil, key); !ok || string(got) != "small" {
			t.Fatalf("size %d: overwrite with small: %q %v", size, got, ok)
		}
		l.del(key)
		if _, _, ok := l.get(nil, key); ok {
			t.Fatalf("size %d: hit after del", size)
		}
	}
}

func TestL1MissLeavesDst(t *testing.T) {
	l := newL1(32 << 20)
	dst := []byte("abc")
	got, _, ok := l.get(dst, "nope")
	if ok || string(got) != "abc" {
		t.Fatalf("miss: %q %v", got, ok)
	}
	// A foreign record under the key (not an envelope) reads as a miss.
	l.c.Set([]byte("raw"), []byte("not an envelope"))
	got, _, ok = l.get(dst, "raw")
	if ok || string(got) != "abc" {
		t.Fatalf("foreign record: %q %v", got, ok)
	}
}

func TestL1GetNoAlloc(t *testing.T) {
	l := newL1(32 << 20)
	l.set("key", header{t1: 1, t2: 2}, bytes.Repeat([]byte("v"), 100), 0, 0)
	buf := make([]byte, 0, 256)
	allocs := testing.AllocsPerRun(100, func() {
		if _, _, ok := l.get(buf[:0], "key"); !ok {
			t.Fatal("miss")
		}
	})
	if allocs != 0 {
		t.Fatalf("l1.get allocates %v times per call", allocs)
	}
}

// FuzzL1RoundTrip stores arbitrary keys and values (sizes around fastcache's
// 64 KiB limit included) and reads them back.
func FuzzL1RoundTrip(f *testing.F) {
	l := newL1(256 << 20)
	f.Add("k", []byte("v"), uint16(0))
	f.Add("", []byte{}, uint16(0))
	f.Add(bigKeyPrefix+"k", []byte("x"), uint16(65000))
	f.Add("k2", []byte("y"), uint16(65535))
	f.Fuzz(func(t *testing.T, key string, val []byte, pad uint16) {
		val = append(val, bytes.Repeat([]byte{7}, int(pad))...)
		h := header{t1: 1, t2: 2}
		l.set(key, h, val, 0, 0)
		got, gh, ok := l.get([]byte("p"), key)
		if len(key) > maxL1Key {
			if ok {
				t.Fatal("hit for a key too long for L1")
			}
			return
		}
		if !ok {
			t.Fatalf("miss (key len %d, value len %d)", len(key), len(val))
		}
		if gh != h || !bytes.Equal(got[1:], val) || got[0] != 'p' {
			t.Fatalf("round trip differs (key len %d, value len %d)", len(key), len(val))
		}
	})
}
