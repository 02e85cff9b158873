package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"sync/atomic"
	"testing"
	"time"
)

// modelSeed is the hash seed of the stores runModel creates.
var modelSeed = maphash.MakeSeed()

// fakeClock is a manually advanced clock for Config.Now.
type fakeClock struct{ ms atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ms.Store(1_700_000_000_000)
	return c
}

func (c *fakeClock) Now() time.Time          { return time.UnixMilli(c.ms.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ms.Add(d.Milliseconds()) }

type modelEntry struct {
	val string
	exp int64
}

// model is the reference: a plain map with Redis string semantics.
type model struct {
	m   map[string]modelEntry
	clk *fakeClock
}

func (m *model) get(k string) (modelEntry, bool) {
	e, ok := m.m[k]
	if ok && e.exp != 0 && m.clk.ms.Load() > e.exp {
		delete(m.m, k)
		return modelEntry{}, false
	}
	return e, ok
}

func (m *model) live() map[string]modelEntry {
	out := map[string]modelEntry{}
	for k := range m.m {
		if e, ok := m.get(k); ok {
			out[k] = e
		}
	}
	return out
}

// opReader decodes an operation sequence from fuzz bytes.
type opReader struct{ b []byte }

func (r *opReader) byte() byte {
	if len(r.b) == 0 {
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *opReader) key() []byte {
	// A small key space so operations collide; a few long keys too.
	c := r.byte()
	if c&0x80 != 0 {
		return bytes.Repeat([]byte{'L', c & 7}, 100+int(c&7))
	}
	if c == 0x7f {
		return []byte{}
	}
	return []byte(fmt.Sprintf("k%d", c%24))
}

func (r *opReader) val() []byte {
	c := r.byte()
	switch {
	case c < 200:
		return bytes.Repeat([]byte{c}, int(c%40))
	case c < 250:
		return bytes.Repeat([]byte{c}, 300+int(c)*7)
	default:
		return bytes.Repeat([]byte{c}, maxSmall+int(c)) // a large entry
	}
}

func (r *opReader) exp(now int64) int64 {
	c := r.byte()
	switch {
	case c < 128:
		return 0
	case c < 200:
		return now + int64(c-128)*10
	default:
		return now - int64(c-200) // already past (or now)
	}
}

// runModel applies the operations encoded in data to a store and the model
// and fails on any difference.
func runModel(t *testing.T, data []byte, shards int) {
	clk := newFakeClock()
	s := New(Config{Shards: shards, Now: clk.Now, ExpireInterval: time.Hour})
	defer s.Close()
	s.seed = modelSeed   // same layout for the same input: fuzzing needs deterministic coverage
	s.syncResizeMax = 16 // exercise incremental resizes with small tables
	if len(data) > 0 {
		s.compactMin = int64(data[0]) * 64 // also exercise compaction
	}
	m := &model{m: map[string]modelEntry{}, clk: clk}
	r := &opReader{b: data}
	var dst []byte
	for step := 0; len(r.b) > 0; step++ {
		op := r.byte() % 14
		now := clk.ms.Load()
		switch op {
		case 0: // SET with options
			k, v := r.key(), r.val()
			flags := r.byte()
			a := SetArgs{ExpireAt: r.exp(now), KeepTTL: flags&1 != 0, NX: flags&2 != 0, XX: flags&4 != 0 && flags&2 == 0, Get: flags&8 != 0}
			old, had := m.get(string(k))
			prev, hadPrev, written := s.Set(k, v, a, dst[:0])
			wantWritten := !(a.NX && had) && !(a.XX && !had)
			if hadPrev != had || written != wantWritten || (a.Get && had && string(prev) != old.val) {
				t.Fatalf("step %d: Set(%q,%+v) = %q,%v,%v; model had=%v old=%q", step, k, a, prev, hadPrev, written, had, old.val)
			}
			if wantWritten {
				exp := a.ExpireAt
				if a.KeepTTL {
					exp = old.exp
					if !had {
						exp = 0
					}
				}
				if exp != 0 && now > exp {
					delete(m.m, string(k))
				} else {
					m.m[string(k)] = modelEntry{string(v), exp}
				}
			}
		case 1: // GET
			k := r.key()
			e, had := m.get(string(k))
			got, ok := s.Get(dst[:0], k)
			if ok != had || string(got) != e.val {
				t.Fatalf("step %d: Get(%q) = %q,%v want %q,%v", step, k, got, ok, e.val, had)
			}
		case 2: // MGET of 1-4 keys, maybe repeated or expired
			keys := make([][]byte, 1+int(r.byte()%4))
			for i := range keys {
				keys[i] = r.key()
			}
			ends := make([]int, len(keys))
			got := s.GetMulti(dst[:0], keys, true, ends)
			start := 0
			for i, k := range keys {
				e, had := m.get(string(k))
				if (ends[i] >= 0) != had {
					t.Fatalf("step %d: GetMulti key %d %q found=%v, model %v", step, i, k, ends[i] >= 0, had)
				}
				if had {
					if v := string(got[start:ends[i]]); v != e.val {
						t.Fatalf("step %d: GetMulti key %d %q = %q, want %q", step, i, k, v, e.val)
					}
					start = ends[i]
				}
			}
		case 3: // DEL
			k := r.key()
			_, had := m.get(string(k))
			delete(m.m, string(k))
			if got := s.Delete(k); got != had {
				t.Fatalf("step %d: Delete(%q) = %v want %v", step, k, got, had)
			}
		case 4: // Update: append / expire / delete / keep
			k, v := r.key(), r.val()
			kind := r.byte() % 4
			nexp := r.exp(now)
			e, had := m.get(string(k))
			if kind == 0 && len(e.val)+len(v) > 256<<10 {
				kind = 3 // bound value growth: repeated appends would make runs quadratic
			}
			s.Update(k, func(cur []byte, expireAt int64, exists bool) ([]byte, int64, Op) {
				if exists != had || string(cur) != e.val || expireAt != e.exp {
					t.Fatalf("step %d: Update(%q) saw %q,%d,%v want %q,%d,%v", step, k, cur, expireAt, exists, e.val, e.exp, had)
				}
				switch kind {
				case 0:
					return append(cur, v...), expireAt, Put
				case 1:
					return cur, nexp, Put // EXPIRE-like: same value, new TTL
				case 2:
					return nil, 0, Delete
				}
				return nil, 0, Keep
			})
			switch kind {
			case 0:
				if e.exp != 0 && now > e.exp {
					delete(m.m, string(k))
				} else {
					m.m[string(k)] = modelEntry{e.val + string(v), e.exp}
				}
			case 1:
				if nexp != 0 && now > nexp {
					delete(m.m, string(k))
				} else {
					m.m[string(k)] = modelEntry{e.val, nexp}
				}
			case 2:
				delete(m.m, string(k))
			}
		case 5: // RENAME / RENAMENX
			src, dk := r.key(), r.key()
			nx := r.byte()&1 != 0
			e, had := m.get(string(src))
			_, dhad := m.get(string(dk))
			srcOK, renamed := s.Rename(src, dk, nx)
			want := had && !(nx && dhad)
			if srcOK != had || renamed != want {
				t.Fatalf("step %d: Rename(%q,%q,%v) = %v,%v want %v,%v", step, src, dk, nx, srcOK, renamed, had, want)
			}
			if want && string(src) != string(dk) {
				delete(m.m, string(src))
				m.m[string(dk)] = e
			}
		case 6: // time passes
			clk.Advance(time.Duration(r.byte()%50) * time.Millisecond)
		case 7: // Peek / Lookup / Exists
			k := r.key()
			e, had := m.get(string(k))
			got, exp, ok := s.Peek(dst[:0], k)
			if ok != had || string(got) != e.val || exp != e.exp {
				t.Fatalf("step %d: Peek(%q) = %q,%d,%v want %q,%d,%v", step, k, got, exp, ok, e.val, e.exp, had)
			}
			if s.Exists(k) != had {
				t.Fatalf("step %d: Exists(%q) != %v", step, k, had)
			}
		case 8: // Scan completeness
			want := m.live()
			seen := map[string]bool{}
			cur := uint64(0)
			count := int(r.byte()%7) + 1
			for i := 0; ; i++ {
				cur = s.Scan(cur, count, func(key []byte, exp int64) {
					seen[string(key)] = true
					if e, ok := want[string(key)]; !ok || e.exp != exp {
						t.Fatalf("step %d: Scan returned %q exp %d, model %v %v", step, key, exp, e, ok)
					}
				})
				if cur == 0 {
					break
				}
				if i > 100000 {
					t.Fatal("Scan does not terminate")
				}
			}
			for k := range want {
				if !seen[k] {
					t.Fatalf("step %d: Scan missed %q", step, k)
				}
			}
		case 9: // Flush (rarely)
			if r.byte() < 16 {
				s.Flush()
				m.m = map[string]modelEntry{}
			}
		case 10: // RandomKey
			k, ok := s.RandomKey(dst[:0])
			live := m.live()
			if ok != (len(live) > 0) {
				t.Fatalf("step %d: RandomKey ok=%v with %d live keys", step, ok, len(live))
			}
			if _, in := live[string(k)]; ok && !in {
				t.Fatalf("step %d: RandomKey returned %q, not live", step, k)
			}
		case 11: // Touch
			k := r.key()
			_, had := m.get(string(k))
			if s.Touch(k) != had {
				t.Fatalf("step %d: Touch(%q) != %v", step, k, had)
			}
		case 12: // active expiry step
			for i := range s.shards {
				s.sweepShard(&s.shards[i])
			}
		case 13: // many keys, to grow the index
			base := int(r.byte())
			for i := 0; i < 40; i++ {
				k := []byte(fmt.Sprintf("bulk%d-%d", base%8, i))
				if base&8 == 0 {
					s.Set(k, k, SetArgs{}, nil)
					m.m[string(k)] = modelEntry{string(k), 0}
				} else {
					s.Delete(k)
					delete(m.m, string(k))
				}
			}
		}
		if step%8 == 0 || len(r.b) == 0 {
			checkInvariants(t, s, m, step)
		}
	}
}

func checkInvariants(t *testing.T, s *Store, m *model, step int) {
	t.Helper()
	var mem, keys, vol int64
	// All shards locked at once: the active expiry goroutine (which may
	// compact, or finish an index move) must not change one between the
	// sums below.
	for i := range s.shards {
		s.shards[i].mu.Lock()
	}
	unlocked := false
	unlockAll := func() {
		if !unlocked {
			unlocked = true
			for i := range s.shards {
				s.shards[i].mu.Unlock()
			}
		}
	}
	defer unlockAll() // also when a check fails (t.Fatalf)
	for i := range s.shards {
		sh := &s.shards[i]
		mem += sh.mem
		var live int64
		var n, nv int64
		// The current table and, during an incremental resize, the part of
		// the previous one not moved yet.
		check := func(tab []uint64, tn, from int) {
			for j := from; j < len(tab); j++ {
				sl := tab[j]
				if sl == 0 {
					continue
				}
				n++
				b := sh.entry(slotOff(sl))
				if b[0]&flagTTL != 0 {
					nv++
				}
				key, _, size := entryKV(b)
				h := s.hash(key)
				if s.shardIndex(h) != i || uint32(h>>32) != slotTag(sl) {
					t.Fatalf("step %d: key %q in wrong shard or tag", step, key)
				}
				if hm := homeIn(slotTag(sl), tn); hm > j {
					t.Fatalf("step %d: slot %d before its home %d", step, j, hm)
				}
				for k := max(homeIn(slotTag(sl), tn), from); k < j; k++ {
					if tab[k] == 0 {
						t.Fatalf("step %d: hole between home and slot", step)
					}
				}
				if slotOff(sl)&largeFlag == 0 {
					live += int64(size)
				}
			}
		}
		check(sh.table, sh.n, 0)
		if sh.old != nil {
			check(sh.old, sh.oldN, sh.mig)
		}
		if live != sh.live || n != sh.nkeys.Load() || nv != sh.nvol.Load() {
			t.Fatalf("step %d: shard %d live %d/%d keys %d/%d vol %d/%d", step, i, live, sh.live, n, sh.nkeys.Load(), nv, sh.nvol.Load())
		}
		want := sh.arena + int64(sh.ahead) + sh.largeMem + sh.tabMem + sh.sketch.bytes() + shardOverhead
		if sh.mem != want {
			t.Fatalf("step %d: shard %d mem %d, parts sum to %d", step, i, sh.mem, want)
		}
		keys += n
		vol += nv
	}
	used := s.used.Load()
	unlockAll()
	if duel := s.duel.bytes.Load(); mem+duel != used {
		t.Fatalf("step %d: used %d, shards sum to %d, the ranking duel holds %d", step, used, mem, duel)
	}
	// Every key of the model is in the store (expired ones may linger in the store).
	for k, e := range m.live() {
		v, exp, ok := s.Peek(nil, []byte(k))
		if !ok || string(v) != e.val || exp != e.exp {
			t.Fatalf("step %d: key %q = %q,%d,%v want %q,%d", step, k, v, exp, ok, e.val, e.exp)
		}
	}
}

// seedOps builds a deterministic pseudo-random op sequence.
func seedOps(seed uint64, n int) []byte {
	b := make([]byte, n)
	x := seed*0x9E3779B97F4A7C15 + 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
	return b
}

func TestModelRandom(t *testing.T) {
	seeds := uint64(12)
	if raceEnabled || testing.Short() {
		seeds = 4
	}
	for seed := uint64(1); seed <= seeds; seed++ {
		for _, shards := range []int{1, 3, 16} {
			t.Run(fmt.Sprintf("seed%d/shards%d", seed, shards), func(t *testing.T) {
				runModel(t, seedOps(seed, 3000), shards)
			})
		}
	}
}

func FuzzModel(f *testing.F) {
	for seed := uint64(100); seed < 108; seed++ {
		f.Add(seedOps(seed, 600))
	}
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], 42)
	f.Add(b[:])
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 4096 {
			t.Skip("long op sequences make slow runs, not new cases")
		}
		runModel(t, data, 1+int(len(data)%5))
	})
}

// TestMmapFailureFallsBack runs the model with every mmap failing: the store
// must degrade to Go heap memory, not crash.
func TestMmapFailureFallsBack(t *testing.T) {
	mmapFn = func(int) ([]byte, error) { return nil, errors.New("simulated ENOMEM") }
	defer func() { mmapFn = mmapBytes }()
	chunkPool.mu.Lock()
	saved := chunkPool.free
	chunkPool.free = nil
	chunkPool.mu.Unlock()
	defer func() {
		chunkPool.mu.Lock()
		chunkPool.free = append(chunkPool.free, saved...)
		chunkPool.mu.Unlock()
	}()
	runModel(t, seedOps(7, 3000), 2)
	osHeap.mu.Lock()
	n := len(osHeap.m)
	osHeap.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d heap fallback allocations still registered after Close", n)
	}
}
