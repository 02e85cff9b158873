package store

import (
	"bytes"
	"errors"
	"strconv"
	"testing"
	"time"
)

// TestEdit: a missing key is created zero-filled, a value is extended with
// zeros and keeps its TTL, an edit that does not grow is done in place, -1
// leaves the key alone; small and large (own mapping) entries alike.
func TestEdit(t *testing.T) {
	s, clk := newTestStore(t, Config{})
	for _, n := range []int{5, 3 * maxSmall} {
		key := []byte("k" + strconv.Itoa(n))
		var sawExists, sawGrown bool
		s.Edit(key, func(cur []byte, exists bool) int { sawExists = exists; return n },
			func(v []byte, grown bool) { sawGrown = grown; v[n-1] = 'x' })
		want := append(make([]byte, n-1), 'x')
		if v, ok := s.Get(nil, key); !ok || !bytes.Equal(v, want) || sawExists || !sawGrown {
			t.Fatalf("n=%d: created %q %v (exists %v grown %v)", n, v, ok, sawExists, sawGrown)
		}
		s.Update(key, func(cur []byte, _ int64, _ bool) ([]byte, int64, Op) {
			return cur, clk.Now().Add(time.Hour).UnixMilli(), Put
		})
		s.Edit(key, func(cur []byte, exists bool) int { sawExists = exists; return len(cur) + 2 },
			func(v []byte, grown bool) { sawGrown = grown; v[0] = 'a' })
		want = append(append([]byte{'a'}, want[1:]...), 0, 0)
		v, exp, ok := s.Peek(nil, key)
		if !ok || !bytes.Equal(v, want) || exp == 0 || !sawExists || !sawGrown {
			t.Fatalf("n=%d: extended %q exp %d (exists %v grown %v)", n, v, exp, sawExists, sawGrown)
		}
		s.Edit(key, func(cur []byte, _ bool) int { return 1 }, func(v []byte, grown bool) { sawGrown = grown; v[0] = 'b' })
		want[0] = 'b'
		if v, _, _ := s.Peek(nil, key); !bytes.Equal(v, want) || sawGrown {
			t.Fatalf("n=%d: in place %q (grown %v)", n, v, sawGrown)
		}
		called := false
		s.Edit(key, func(cur []byte, _ bool) int { return -1 }, func([]byte, bool) { called = true })
		if called {
			t.Fatalf("n=%d: edit called after -1", n)
		}
	}
	if s.Len() != 2 {
		t.Fatalf("%d keys, want 2", s.Len())
	}
}

// TestEnsureRoom: room for a value that grows is made by eviction, and
// refused when the growth alone exceeds the limit or the policy is
// noeviction.
func TestEnsureRoom(t *testing.T) {
	s, _ := newTestStore(t, Config{MaxMemory: 1 << 20, Shards: 4})
	val := make([]byte, 1000)
	for i := 0; i < 800; i++ {
		s.Set([]byte("k"+strconv.Itoa(i)), val, SetArgs{}, nil)
	}
	if err := s.EnsureMemory(); err != nil {
		t.Fatal(err)
	}
	grow := int64(256 << 10)
	if err := s.EnsureRoom(grow); err != nil {
		t.Fatalf("EnsureRoom(%d): %v", grow, err)
	}
	if used := s.UsedMemory(); used+grow > 1<<20 {
		t.Errorf("used %d + %d over the limit after EnsureRoom", used, grow)
	}
	if err := s.EnsureRoom(2 << 20); !errors.Is(err, ErrOOM) {
		t.Errorf("EnsureRoom past the limit: %v, want ErrOOM", err)
	}
	s.SetPolicy(NoEviction)
	if err := s.EnsureRoom(1 << 20); !errors.Is(err, ErrOOM) {
		t.Errorf("EnsureRoom with noeviction: %v, want ErrOOM", err)
	}
}

// TestEditGrowth: a value extended a byte at a time (a bitmap built bit by
// bit, APPENDs) keeps every byte, keeps its TTL, and its spare room keeps
// used memory within twice the value plus a page or so.
func TestEditGrowth(t *testing.T) {
	s, clk := newTestStore(t, Config{Shards: 1})
	key := []byte("bits")
	base := s.UsedMemory()
	const n = 300 << 10
	for i := 0; i < n; i++ {
		s.Edit(key, func(cur []byte, _ bool) int { return len(cur) + 1 }, func(v []byte, _ bool) { v[len(v)-1] = byte(i % 251) })
		if i == 10 {
			s.Update(key, func(cur []byte, _ int64, _ bool) ([]byte, int64, Op) {
				return cur, clk.Now().Add(time.Hour).UnixMilli(), Put
			})
		}
	}
	v, exp, ok := s.Peek(nil, key)
	if !ok || len(v) != n || exp == 0 {
		t.Fatalf("len %d exp %d ok %v", len(v), exp, ok)
	}
	for i, b := range v {
		if b != byte(i%251) {
			t.Fatalf("byte %d = %d, want %d", i, b, i%251)
		}
	}
	if used := s.UsedMemory() - base; used > 2*n+2*pageSize+1024 {
		t.Errorf("used memory grew by %d for a %d-byte value", used, n)
	}
	s.Set(key, []byte("short"), SetArgs{}, nil) // a SET replaces it: nothing of the old value shows
	s.Edit(key, func(cur []byte, _ bool) int { return 10 }, func([]byte, bool) {})
	if v, _ := s.Get(nil, key); string(v) != "short\x00\x00\x00\x00\x00" {
		t.Errorf("after SET and growth: %q", v)
	}
}
