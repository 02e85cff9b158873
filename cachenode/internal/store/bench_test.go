package store

import (
	"math/rand/v2"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
)

const benchKeys = 1 << 16

// benchPolicy is the policy of the benchmarks' stores: STORE_BENCH_POLICY
// (e.g. allkeys-tinylfu), to compare policies in one run; default the zero
// Config's.
func benchPolicy(b *testing.B) Policy {
	n := os.Getenv("STORE_BENCH_POLICY")
	if n == "" {
		return AllKeysLRU
	}
	p, err := ParsePolicy(n)
	if err != nil {
		b.Fatal(err)
	}
	return p
}

func benchStore(b *testing.B, n, vlen int) (*Store, [][]byte) {
	s := New(Config{Policy: benchPolicy(b)})
	b.Cleanup(func() { s.Close() })
	keys := make([][]byte, n)
	val := make([]byte, vlen)
	for i := range keys {
		keys[i] = []byte("key:" + strconv.Itoa(i))
		s.Set(keys[i], val, SetArgs{}, nil)
	}
	return s, keys
}

func BenchmarkGet(b *testing.B) {
	s, keys := benchStore(b, benchKeys, 64)
	buf := make([]byte, 0, 128)
	b.ReportAllocs()
	b.SetBytes(64)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var ok bool
		if buf, ok = s.Get(buf[:0], keys[i&(benchKeys-1)]); !ok {
			b.Fatal("miss")
		}
	}
}

func BenchmarkGetMiss(b *testing.B) {
	s, _ := benchStore(b, benchKeys, 64)
	key := []byte("missing-key")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, ok := s.Get(nil, key); ok {
			b.Fatal("hit")
		}
	}
}

func BenchmarkSet(b *testing.B) {
	s, keys := benchStore(b, benchKeys, 64)
	val := make([]byte, 64)
	b.ReportAllocs()
	b.SetBytes(64)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.Set(keys[i&(benchKeys-1)], val, SetArgs{}, nil)
	}
}

// BenchmarkSetEvict writes new keys into a store at its memory limit, so
// every write pays for eviction.
func BenchmarkSetEvict(b *testing.B) {
	s := New(Config{MaxMemory: 8 << 20, Policy: benchPolicy(b)})
	b.Cleanup(func() { s.Close() })
	val := make([]byte, 64)
	var key []byte
	b.ReportAllocs()
	b.SetBytes(64)
	for i := 0; i < b.N; i++ {
		key = strconv.AppendInt(append(key[:0], "key:"...), int64(i), 10)
		if err := s.EnsureMemory(); err != nil {
			b.Fatal(err)
		}
		s.Set(key, val, SetArgs{}, nil)
	}
}

func benchMixed(b *testing.B, writePct int) {
	s, keys := benchStore(b, benchKeys, 64)
	var seed atomic.Uint64
	b.ReportAllocs()
	b.SetBytes(64)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r := rand.New(rand.NewPCG(seed.Add(1), 7))
		buf := make([]byte, 0, 128)
		val := make([]byte, 64)
		for pb.Next() {
			k := keys[r.IntN(benchKeys)]
			if r.IntN(100) < writePct {
				s.Set(k, val, SetArgs{}, nil)
			} else {
				buf, _ = s.Get(buf[:0], k)
			}
		}
	})
}

func BenchmarkParallelGet(b *testing.B)        { benchMixed(b, 0) }
func BenchmarkParallelMixed90_10(b *testing.B) { benchMixed(b, 10) }
func BenchmarkParallelMixed50_50(b *testing.B) { benchMixed(b, 50) }

func BenchmarkScan(b *testing.B) {
	s, _ := benchStore(b, benchKeys, 16)
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i++ {
		cur := uint64(0)
		for {
			cur = s.Scan(cur, 100, func([]byte, int64) { n++ })
			if cur == 0 {
				break
			}
		}
	}
	if n != b.N*benchKeys {
		b.Fatalf("scanned %d keys, want %d", n, b.N*benchKeys)
	}
}

func TestGetDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	s, _ := newTestStore(t, Config{})
	key, val := []byte("key"), make([]byte, 64)
	s.Set(key, val, SetArgs{}, nil)
	buf := make([]byte, 0, 128)
	if n := testing.AllocsPerRun(1000, func() { buf, _ = s.Get(buf[:0], key) }); n != 0 {
		t.Fatalf("Get allocates %.1f times per call", n)
	}
	if n := testing.AllocsPerRun(1000, func() { s.Set(key, val, SetArgs{}, nil) }); n != 0 {
		t.Fatalf("overwriting Set allocates %.1f times per call", n)
	}
}

// BenchmarkSetRandom1M writes 64-byte values to random keys of a 1M
// keyspace (redis-benchmark -t set -r 1000000): mostly new keys at first,
// then overwrites, with the index growing as it fills.
func BenchmarkSetRandom1M(b *testing.B) {
	const space = 1 << 20
	s := New(Config{})
	b.Cleanup(func() { s.Close() })
	val := make([]byte, 64)
	r := rand.New(rand.NewPCG(1, 2))
	key := make([]byte, 0, 32)
	b.ReportAllocs()
	b.SetBytes(64)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		key = strconv.AppendInt(append(key[:0], "key:"...), int64(r.IntN(space)), 10)
		s.Set(key, val, SetArgs{}, nil)
	}
}

// BenchmarkEditAppend extends a value by one byte per operation (SETBIT at
// increasing offsets, APPEND): amortised constant time, not a copy of the
// value each time.
func BenchmarkEditAppend(b *testing.B) {
	s := New(Config{})
	defer s.Close()
	key := []byte("k")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if i%(1<<20) == 0 {
			s.Delete(key) // keep the value at most 1 MiB
		}
		s.Edit(key, func(cur []byte, _ bool) int { return len(cur) + 1 }, func(v []byte, _ bool) { v[len(v)-1] = 1 })
	}
}

// BenchmarkSketchAdd is the TinyLFU policies' added work per read: one
// sketch increment (with its estimate) in a shard's sketch for 1,000 keys
// (in cache) and for 4M keys (32 MiB: each access a cache miss, as for a
// large shard or many shards).
func BenchmarkSketchAdd(b *testing.B) {
	b.Run("1k", func(b *testing.B) { benchSketchAdd(b, 1000) })
	b.Run("4M", func(b *testing.B) { benchSketchAdd(b, 4<<20) })
}

func benchSketchAdd(b *testing.B, keys int) {
	s := New(Config{Shards: 1, Policy: AllKeysTinyLFU})
	b.Cleanup(func() { s.Close() })
	sh := &s.shards[0]
	sh.nkeys.Store(int64(keys))
	sh.sketch.ensureLocked(sh, s)
	tags := make([]uint32, 4096)
	r := rand.New(rand.NewPCG(1, 1))
	for i := range tags {
		tags[i] = r.Uint32() % uint32(2*keys)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sh.sketch.read(tags[i&4095], false)
	}
}
