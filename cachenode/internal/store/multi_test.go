package store

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// snapshot reads keys atomically: it locks their shards in index order, as
// SetMulti does, and returns their values (nil for a missing key).
func snapshot(s *Store, keys [][]byte) [][]byte {
	var idx []int
	for _, k := range keys {
		idx = append(idx, s.shardIndex(s.hash(k)))
	}
	slices.Sort(idx)
	idx = slices.Compact(idx)
	for _, i := range idx {
		s.shards[i].mu.Lock()
	}
	vals := make([][]byte, len(keys))
	for j, k := range keys {
		sh, tag := s.locate(s.hash(k))
		if i, b := s.lookupLocked(sh, tag, k); i >= 0 {
			_, v, _ := entryKV(b)
			vals[j] = bytes.Clone(v)
		}
	}
	for _, i := range idx {
		s.shards[i].mu.Unlock()
	}
	return vals
}

// TestSetMultiAtomic runs concurrent SetMulti calls writing the same keys
// (spread over many shards) with a generation number per call, while a reader
// takes atomic snapshots of the keys: every snapshot must show the values of
// a single call. With per-key locking the reader sees mixes quickly.
func TestSetMultiAtomic(t *testing.T) {
	s := New(Config{Shards: 64})
	defer s.Close()
	const nkeys = 24
	keys := make([][]byte, nkeys)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "key:%d", i)
	}
	shards := map[int]bool{}
	for _, k := range keys {
		shards[s.shardIndex(s.hash(k))] = true
	}
	if len(shards) < 8 {
		t.Fatalf("keys cover only %d shards", len(shards))
	}
	const writers = 4
	rounds := 2000
	if raceEnabled {
		rounds = 400
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			kv := make([][]byte, 0, 2*nkeys)
			for r := 0; r < rounds; r++ {
				gen := strconv.Itoa(w*rounds + r)
				kv = kv[:0]
				for i, k := range keys {
					// Values of different lengths, so that overwrites
					// both fit in place and move entries.
					v := gen + ":" + string(bytes.Repeat([]byte("x"), (i*7+r)%40))
					kv = append(kv, k, []byte(v))
				}
				s.SetMulti(kv, false)
			}
		}(w)
	}
	var readerErr error
	var snaps int
	var rg sync.WaitGroup
	rg.Add(1)
	go func() {
		defer rg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			vals := snapshot(s, keys)
			snaps++
			if vals[0] == nil {
				for _, v := range vals {
					if v != nil {
						readerErr = fmt.Errorf("partial MSET visible: %q", vals)
						return
					}
				}
				continue
			}
			gen, _, _ := bytes.Cut(vals[0], []byte(":"))
			for i, v := range vals {
				g, _, _ := bytes.Cut(v, []byte(":"))
				if !bytes.Equal(g, gen) {
					readerErr = fmt.Errorf("key %d has generation %q, key 0 has %q", i, g, gen)
					return
				}
			}
		}
	}()
	wg.Wait()
	close(stop)
	rg.Wait()
	if readerErr != nil {
		t.Fatal(readerErr)
	}
	if snaps == 0 {
		t.Fatal("the reader took no snapshot")
	}
	checkInvariants(t, s, &model{m: map[string]modelEntry{}}, 0)
}

// TestSetMultiNXExclusive races SetMulti with nx on the same keys: in every
// round exactly one caller must win, and every key must hold its values.
func TestSetMultiNXExclusive(t *testing.T) {
	s := New(Config{Shards: 32})
	defer s.Close()
	keys := [][]byte{[]byte("a"), []byte("b"), []byte("c"), []byte("d"), []byte("e"), []byte("f")}
	const callers = 4
	rounds := 300
	if raceEnabled {
		rounds = 100
	}
	for r := 0; r < rounds; r++ {
		var wg sync.WaitGroup
		won := make([]bool, callers)
		for c := 0; c < callers; c++ {
			wg.Add(1)
			go func(c int) {
				defer wg.Done()
				var kv [][]byte
				for _, k := range keys {
					kv = append(kv, k, []byte(strconv.Itoa(c)))
				}
				won[c] = s.SetMulti(kv, true)
			}(c)
		}
		wg.Wait()
		winner := -1
		for c, w := range won {
			if w {
				if winner >= 0 {
					t.Fatalf("round %d: callers %d and %d both won", r, winner, c)
				}
				winner = c
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: nobody won", r)
		}
		for _, k := range keys {
			if v, _ := s.Get(nil, k); string(v) != strconv.Itoa(winner) {
				t.Fatalf("round %d: %s = %q, winner %d", r, k, v, winner)
			}
			s.Delete(k)
		}
	}
}

func TestSetMulti(t *testing.T) {
	now := time.UnixMilli(1_000_000)
	s := New(Config{Now: func() time.Time { return now }})
	defer s.Close()
	b := func(s string) []byte { return []byte(s) }
	s.Set(b("ttl"), b("old"), SetArgs{ExpireAt: now.UnixMilli() + 10_000}, nil)
	// A key given twice takes its last value; MSET clears TTLs.
	if !s.SetMulti([][]byte{b("a"), b("1"), b("ttl"), b("new"), b("a"), b("2")}, false) {
		t.Fatal("SetMulti returned false")
	}
	for k, want := range map[string]string{"a": "2", "ttl": "new"} {
		v, exp, ok := s.Peek(nil, b(k))
		if !ok || string(v) != want || exp != 0 {
			t.Errorf("%s = %q exp %d ok %v, want %q without TTL", k, v, exp, ok, want)
		}
	}
	// NX: one existing key blocks all of them.
	if s.SetMulti([][]byte{b("x"), b("1"), b("a"), b("3")}, true) {
		t.Error("SetMulti nx wrote over an existing key")
	}
	if s.Exists(b("x")) {
		t.Error("SetMulti nx wrote x although a exists")
	}
	// An expired key does not count as existing.
	s.Set(b("gone"), b("v"), SetArgs{ExpireAt: now.UnixMilli() + 5}, nil)
	now = now.Add(time.Second)
	if !s.SetMulti([][]byte{b("gone"), b("back"), b("y"), b("1")}, true) {
		t.Error("SetMulti nx refused to replace an expired key")
	}
	if v, _ := s.Get(nil, b("gone")); string(v) != "back" {
		t.Errorf("gone = %q", v)
	}
	// Empty keys and values are fine, and an empty call does nothing.
	if !s.SetMulti([][]byte{b(""), b("")}, true) || !s.Exists(b("")) {
		t.Error("empty key")
	}
	if !s.SetMulti(nil, true) {
		t.Error("SetMulti(nil) = false")
	}
	checkInvariants(t, s, &model{m: map[string]modelEntry{}}, 0)
}

func TestKeyMemory(t *testing.T) {
	s := New(Config{})
	defer s.Close()
	if _, ok := s.KeyMemory([]byte("none")); ok {
		t.Error("KeyMemory of a missing key")
	}
	written := func() int64 { // used memory without the prefaulted bytes (16 KiB steps)
		var st Stats
		s.UpdateStats(&st)
		return st.UsedMemory - st.Prefaulted
	}
	for _, size := range []int{0, 100, maxSmall - 100, maxSmall + 1, 1 << 20} {
		key := []byte("k" + strconv.Itoa(size))
		before := written()
		s.Set(key, make([]byte, size), SetArgs{}, nil)
		grew := written() - before
		n, ok := s.KeyMemory(key)
		if !ok {
			t.Fatalf("KeyMemory(%s) missing", key)
		}
		want := int64(entrySize(len(key), size, false))
		if want > maxSmall {
			want = (want + pageSize - 1) &^ (pageSize - 1)
		}
		if n != want+KeyIndexBytes {
			t.Errorf("KeyMemory of a %d-byte value = %d, want %d", size, n, want+KeyIndexBytes)
		}
		// Growth also includes index resizes (and, for the first small
		// entry, nothing more: chunk bytes are counted as written).
		if grew < n-KeyIndexBytes || grew > n+64<<10 {
			t.Errorf("%d-byte value: KeyMemory %d, used memory grew %d", size, n, grew)
		}
		s.Delete(key)
	}
	s.Set([]byte("t"), []byte("v"), SetArgs{}, nil)
	a, _ := s.KeyMemory([]byte("t"))
	s.Set([]byte("t"), []byte("v"), SetArgs{ExpireAt: time.Now().Add(time.Hour).UnixMilli()}, nil)
	b, _ := s.KeyMemory([]byte("t"))
	if b != a+8 {
		t.Errorf("KeyMemory with TTL %d, without %d", b, a)
	}
	var st Stats
	s.UpdateStats(&st)
	if st.Hits != 0 || st.Misses != 0 {
		t.Errorf("KeyMemory counted hits/misses %d/%d", st.Hits, st.Misses)
	}
}
