package store

import (
	"math/rand/v2"
	"strconv"
	"testing"
)

// TestIncrementalResize grows one shard from empty to 30k keys with
// incremental resizes (from 64 slots on), with lookups, overwrites, deletes,
// SCANs, RANDOMKEY and expiry sweeps between the inserts, and checks every
// step against a map, that resizes really were spread over operations, and
// that the index memory is accounted.
func TestIncrementalResize(t *testing.T) {
	s, _ := newTestStore(t, Config{Shards: 1})
	s.syncResizeMax = 64
	sh := &s.shards[0]
	r := rand.New(rand.NewPCG(3, 4))
	want := map[string]string{}
	var keys []string
	migrating := 0
	for i := 0; len(want) < 30000; i++ {
		k := "k" + strconv.Itoa(i)
		v := strconv.Itoa(r.IntN(1 << 20))
		s.Set([]byte(k), []byte(v), SetArgs{}, nil)
		want[k] = v
		keys = append(keys, k)
		if sh.old != nil {
			migrating++
		}
		switch i % 8 {
		case 0, 1, 2: // read a random earlier key
			k := keys[r.IntN(len(keys))]
			got, ok := s.Get(nil, []byte(k))
			w, had := want[k]
			if ok != had || string(got) != w {
				t.Fatalf("insert %d: Get(%s) = %q,%v, want %q,%v (migrating: %v)", i, k, got, ok, w, had, sh.old != nil)
			}
		case 3: // delete one
			k := keys[r.IntN(len(keys))]
			_, had := want[k]
			if got := s.Delete([]byte(k)); got != had {
				t.Fatalf("insert %d: Delete(%s) = %v, want %v", i, k, got, had)
			}
			delete(want, k)
		case 4: // overwrite one
			k := keys[r.IntN(len(keys))]
			if _, had := want[k]; had {
				s.Set([]byte(k), []byte("o"+k), SetArgs{}, nil)
				want[k] = "o" + k
			}
		}
		if i%997 == 0 {
			if _, ok := s.RandomKey(nil); !ok {
				t.Fatalf("insert %d: RandomKey found nothing", i)
			}
		}
		if i%499 == 0 {
			seen := map[string]bool{}
			for c := uint64(0); ; {
				c = s.Scan(c, 100, func(key []byte, _ int64) { seen[string(key)] = true })
				if c == 0 {
					break
				}
			}
			for k := range want {
				if !seen[k] {
					t.Fatalf("insert %d: SCAN missed %s (migrating: %v)", i, k, sh.old != nil)
				}
			}
			s.sweepShard(sh)
		}
	}
	if migrating < 1000 {
		t.Fatalf("only %d inserts saw an incremental resize going on", migrating)
	}
	if got := s.Len(); got != len(want) {
		t.Fatalf("Len = %d, want %d", got, len(want))
	}
	for k, v := range want {
		if got, ok := s.Get(nil, []byte(k)); !ok || string(got) != v {
			t.Fatalf("Get(%s) = %q,%v, want %q", k, got, ok, v)
		}
	}
	// Reads alone finish a resize that inserts started.
	for sh.old != nil {
		s.Get(nil, []byte("absent"))
	}
	wantTab := int64(len(sh.table) * 8)
	if len(sh.table)*8 >= tableOffheapMin {
		wantTab = int64((len(sh.table)*8 + pageSize - 1) &^ (pageSize - 1))
	}
	if sh.tabMem != wantTab {
		t.Fatalf("index accounted %d bytes, table holds %d", sh.tabMem, wantTab)
	}
}

// TestIncrementalResizeEviction fills a store under maxmemory with small
// incremental-resize thresholds, so eviction (sampling, batches, shrinking,
// compaction) runs while resizes are going on; every key must then be
// absent or hold its value, the index must be consistent and used memory
// within the limit.
func TestIncrementalResizeEviction(t *testing.T) {
	s, clk := newTestStore(t, Config{Shards: 4, MaxMemory: 1 << 20})
	s.syncResizeMax = 32
	want := map[string]string{}
	migrations := 0
	for i := 0; i < 40000; i++ {
		if err := s.EnsureMemory(); err != nil {
			t.Fatal(err)
		}
		k, v := "key:"+strconv.Itoa(i), strconv.Itoa(i*7)
		s.Set([]byte(k), []byte(v), SetArgs{}, nil)
		want[k] = v
		for j := range s.shards {
			if s.shards[j].old != nil {
				migrations++
			}
		}
		if i%3 == 0 { // reads keep old keys alive and move resizes forward
			k := "key:" + strconv.Itoa(i/2)
			if got, ok := s.Get(nil, []byte(k)); ok && string(got) != want[k] {
				t.Fatalf("Get(%s) = %q, want %q", k, got, want[k])
			}
		}
	}
	var st Stats
	s.UpdateStats(&st)
	if migrations < 100 || st.Evicted == 0 {
		t.Fatalf("resizes seen %d times, %d keys evicted: the test did not exercise both", migrations, st.Evicted)
	}
	m := &model{m: map[string]modelEntry{}, clk: clk}
	for k, v := range want {
		if got, ok := s.Get(nil, []byte(k)); ok {
			if string(got) != v {
				t.Fatalf("Get(%s) = %q, want %q", k, got, v)
			}
			m.m[k] = modelEntry{val: v}
		}
	}
	checkInvariants(t, s, m, 0)
	if used := s.UsedMemory(); used > 1<<20+64<<10 {
		t.Fatalf("used memory %d, maxmemory %d", used, 1<<20)
	}
}
