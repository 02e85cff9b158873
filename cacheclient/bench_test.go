package cacheclient

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/fastcache"
	"github.com/dgraph-io/ristretto/v2"
	"github.com/redis/go-redis/v9"

	"github.com/cachetier/cachetier/loader"
)

func benchValue(n int) []byte {
	v := make([]byte, n)
	for i := range v {
		v[i] = byte('a' + i%26)
	}
	return v
}

// BenchmarkL1Hit is a fresh L1 hit with a caller buffer (AppendGet): the target
// is ~100-200 ns and 0 allocations.
func BenchmarkL1Hit(b *testing.B) {
	for _, size := range []int{16, 128, 1024} {
		b.Run(fmt.Sprintf("value=%d", size), func(b *testing.B) {
			c, err := New(Config{TTL: time.Hour})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			ctx := context.Background()
			if err := c.Set(ctx, "bench:key", benchValue(size), 0); err != nil {
				b.Fatal(err)
			}
			buf := make([]byte, 0, size+envHdrLen)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				v, _, err := c.AppendGet(ctx, buf[:0], "bench:key", nil)
				if err != nil || len(v) != size {
					b.Fatal("miss")
				}
			}
		})
	}
}

// benchKeys returns n keys, bench:0 to bench:n-1.
func benchKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("bench:%d", i)
	}
	return keys
}

// benchParallelHits runs get from all Ps, each goroutine walking keys from a
// random start with its own 256-byte buffer, for a 128-byte value per op.
func benchParallelHits(b *testing.B, keys []string, get func(key string, buf []byte)) {
	b.SetBytes(128)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, 0, 256)
		i := rand.IntN(len(keys))
		for pb.Next() {
			i++
			get(keys[i%len(keys)], buf)
		}
	})
}

// BenchmarkL1HitParallel is BenchmarkL1Hit from all Ps over 1000 keys.
func BenchmarkL1HitParallel(b *testing.B) {
	c, err := New(Config{TTL: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	keys := benchKeys(1000)
	for _, k := range keys {
		_ = c.Set(ctx, k, benchValue(128), 0)
	}
	benchParallelHits(b, keys, func(key string, buf []byte) {
		if _, _, err := c.AppendGet(ctx, buf[:0], key, nil); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkFastcacheBaseline is the floor under BenchmarkL1Hit: a bare
// fastcache lookup of the same 128-byte value, no envelope, no clock, no
// counters.
func BenchmarkFastcacheBaseline(b *testing.B) {
	fc := fastcache.New(32 << 20)
	k := []byte("bench:key")
	fc.Set(k, benchValue(128))
	buf := make([]byte, 0, 256)
	b.SetBytes(128)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if v, ok := fc.HasGet(buf[:0], k); !ok || len(v) != 128 {
			b.Fatal("miss")
		}
	}
}

// BenchmarkL2Hit is a hit on one node on loopback (L1 disabled): a
// redis-server process, or an in-process cachenode.
func BenchmarkL2Hit(b *testing.B) {
	for _, kind := range nodeKinds {
		b.Run(kind, func(b *testing.B) { benchL2Hit(b, kind) })
	}
}

func benchL2Hit(b *testing.B, kind string) {
	nodes := startNodes(b, kind, 1)
	c, err := New(Config{Tier: TierConfig{Addrs: addrsOf(nodes), Timeout: time.Second}, L1: L1Config{Bytes: -1}, TTL: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if err := c.Set(ctx, "bench:key", benchValue(128), 0); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 256)
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			v, info, err := c.AppendGet(ctx, buf[:0], "bench:key", nil)
			if err != nil || info.Source != SourceL2 || len(v) != 128 {
				b.Fatalf("%v %+v", err, info)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			buf := make([]byte, 0, 256)
			for pb.Next() {
				if _, _, err := c.AppendGet(ctx, buf[:0], "bench:key", nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}

// BenchmarkZipfMix is a parallel read-through mix over 20k keys with a Zipf
// (s=1.1) popularity, against one redis-server node that already holds the
// even-numbered keys (as if other processes had loaded them): a fresh client
// gets L1 hits, L2 hits and origin loads. It reports the share of each.
func BenchmarkZipfMix(b *testing.B) {
	nodes := startNodes(b, "redis", 1)
	const nkeys = 20_000
	keys := make([]string, nkeys)
	for i := range keys {
		keys[i] = fmt.Sprintf("zipf:%d", i)
	}
	val := benchValue(256)
	ctx := context.Background()
	// Pre-load L2 with a pipeline of enveloped values.
	rdb := redis.NewClient(&redis.Options{Addr: nodes[0].Addr, DisableIdentity: true})
	now := time.Now().UnixMilli()
	env := append(appendHeader(nil, header{t1: now + 3_600_000, t2: now + 7_200_000}), val...)
	pipe := rdb.Pipeline()
	for i := 0; i < nkeys; i += 2 {
		pipe.Set(ctx, keys[i], env, 2*time.Hour)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		b.Fatal(err)
	}
	rdb.Close()

	c, err := New(Config{Tier: TierConfig{Addrs: addrsOf(nodes), Timeout: time.Second}, Origin: OriginConfig{MaxConcurrent: -1}, TTL: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	origin := loader.Func(func(ctx context.Context, key string) (loader.Result, error) {
		return loader.Result{Value: val}, nil
	})
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		z := rand.NewZipf(rand.New(rand.NewPCG(rand.Uint64(), 1)), 1.1, 1, nkeys-1)
		buf := make([]byte, 0, 512)
		for pb.Next() {
			if _, _, err := c.AppendGet(ctx, buf[:0], keys[z.Uint64()], origin); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.StopTimer()
	s := c.Stats()
	if total := float64(s.L1Hits + s.L1Misses); total > 0 {
		b.ReportMetric(float64(s.L1Hits)/total, "l1-ratio")
		b.ReportMetric(float64(s.L2Hits)/total, "l2-ratio")
		b.ReportMetric(float64(s.OriginLoads)/total, "origin-ratio")
	}
}

// newRistretto returns a ristretto cache sized like the default L1, holding
// 1000 keys of 128 bytes with a TTL (as the client's entries have one).
func newRistretto(b *testing.B, keys []string) *ristretto.Cache[string, []byte] {
	rc, err := ristretto.NewCache(&ristretto.Config[string, []byte]{
		NumCounters: 1e6, MaxCost: 64 << 20, BufferItems: 64,
	})
	if err != nil {
		b.Fatal(err)
	}
	for _, k := range keys {
		rc.SetWithTTL(k, benchValue(128), 128, time.Hour)
	}
	rc.Wait()
	return rc
}

// BenchmarkRistrettoHit is the comparison for BenchmarkL1Hit/value=128: a
// ristretto (v2) hit copied into the caller's buffer, in the same file, on
// the same machine.
func BenchmarkRistrettoHit(b *testing.B) {
	rc := newRistretto(b, []string{"bench:key"})
	defer rc.Close()
	buf := make([]byte, 0, 256)
	b.SetBytes(128)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		v, ok := rc.Get("bench:key")
		if !ok {
			b.Fatal("miss")
		}
		buf = append(buf[:0], v...)
	}
}

// BenchmarkRistrettoHitParallel is the comparison for BenchmarkL1HitParallel.
func BenchmarkRistrettoHitParallel(b *testing.B) {
	keys := benchKeys(1000)
	rc := newRistretto(b, keys)
	defer rc.Close()
	benchParallelHits(b, keys, func(key string, buf []byte) {
		if v, ok := rc.Get(key); ok { // ristretto may drop sets under contention
			_ = append(buf[:0], v...)
		}
	})
}

// BenchmarkL2HitVsRedis measures, in one run and interleaved op by op, an L2
// hit through the client (L1 off, AppendGet into a caller buffer) and a bare
// go-redis GET of the same key on the same node (Get(...).Bytes() appended
// to the same kind of buffer), on one connection each. It reports both
// sides' ns/op and allocs/op and their ratio (client/redis); ns/op and
// allocs/op of the benchmark itself are the sum of both sides.
func BenchmarkL2HitVsRedis(b *testing.B) {
	for _, kind := range nodeKinds {
		b.Run(kind, func(b *testing.B) { benchL2HitVsRedis(b, kind) })
	}
}

func benchL2HitVsRedis(b *testing.B, kind string) {
	nodes := startNodes(b, kind, 1)
	c, err := New(Config{Tier: TierConfig{Addrs: addrsOf(nodes), Timeout: time.Second}, L1: L1Config{Bytes: -1}, TTL: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	rdb := redis.NewClient(&redis.Options{Addr: nodes[0].Addr, DisableIdentity: true})
	defer rdb.Close()
	ctx := context.Background()
	key := strings.Clone("bench:key") // not a constant: go-redis boxes it, as a caller's key
	if err := c.Set(ctx, key, benchValue(128), 0); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 256)
	viaClient := func() {
		v, info, err := c.AppendGet(ctx, buf[:0], key, nil)
		if err != nil || info.Source != SourceL2 || len(v) != 128 {
			b.Fatalf("client: %v %+v", err, info)
		}
	}
	bare := func() {
		v, err := rdb.Get(ctx, key).Bytes()
		if err != nil || len(v) != 128+envHdrLen {
			b.Fatalf("go-redis: %v", err)
		}
		_ = append(buf[:0], v...)
	}
	viaClient() // connections dialled before timing
	bare()
	b.ReportAllocs()
	b.ResetTimer()
	var tc, tr time.Duration
	for i := 0; i < b.N; i++ {
		first, second, tf, ts := viaClient, bare, &tc, &tr
		if i%2 == 1 { // alternate the order: neither side always follows the other
			first, second, tf, ts = bare, viaClient, &tr, &tc
		}
		t0 := time.Now()
		first()
		t1 := time.Now()
		second()
		*tf += t1.Sub(t0)
		*ts += time.Since(t1)
	}
	b.StopTimer()
	b.ReportMetric(float64(tc.Nanoseconds())/float64(b.N), "client-ns/op")
	b.ReportMetric(float64(tr.Nanoseconds())/float64(b.N), "redis-ns/op")
	b.ReportMetric(float64(tc)/float64(tr), "client/redis")
	b.ReportMetric(testing.AllocsPerRun(200, viaClient), "client-allocs/op")
	b.ReportMetric(testing.AllocsPerRun(200, bare), "redis-allocs/op")
}

// BenchmarkGetManyVsPipeline measures, in one run and interleaved op by op,
// GetMany of 100 keys over 3 nodes (L1 off, every key an L2 hit) and a
// hand-written go-redis equivalent: the same keys grouped by node, one
// pipeline of GETs per node, the nodes in parallel. It reports both sides'
// ns per 100 keys and their ratio (many/pipeline), and, for contrast, 100
// sequential AppendGets of the same keys (seq-ns/op, seq/pipeline).
func BenchmarkGetManyVsPipeline(b *testing.B) {
	for _, kind := range nodeKinds {
		b.Run(kind, func(b *testing.B) { benchGetManyVsPipeline(b, kind) })
	}
}

func benchGetManyVsPipeline(b *testing.B, kind string) {
	nodes := startNodes(b, kind, 3)
	c, err := New(Config{Tier: TierConfig{Addrs: addrsOf(nodes), Timeout: time.Second}, L1: L1Config{Bytes: -1}, TTL: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	keys := benchKeys(100)
	entries := make([]Entry, len(keys))
	for i, k := range keys {
		entries[i] = Entry{Key: k, Value: benchValue(128)}
	}
	if err := c.SetMany(ctx, entries, 0); err != nil {
		b.Fatal(err)
	}
	// The hand-written side: one go-redis client per node, keys grouped by
	// the client's own routing.
	rdbs := map[string]*redis.Client{}
	for _, nd := range nodes {
		rdb := redis.NewClient(&redis.Options{Addr: nd.Addr, DisableIdentity: true})
		defer rdb.Close()
		rdbs[nd.Addr] = rdb
	}
	type group struct {
		rdb  *redis.Client
		keys []string
		off  int // into vals
	}
	var groups []*group
	byAddr := map[string]*group{}
	for _, k := range keys {
		nd, _ := c.tier.route(k)
		g := byAddr[nd.addr]
		if g == nil {
			g = &group{rdb: rdbs[nd.addr]}
			byAddr[nd.addr] = g
			groups = append(groups, g)
		}
		g.keys = append(g.keys, k)
	}
	off := 0
	for _, g := range groups {
		g.off = off
		off += len(g.keys)
	}
	vals := make([][]byte, len(keys))
	viaMany := func() {
		for i, it := range c.GetMany(ctx, keys, nil) {
			if it.Err != nil || len(it.Value) != 128 {
				b.Fatalf("GetMany %s: %v %+v", keys[i], it.Err, it.Info)
			}
		}
	}
	pipeline := func() {
		var wg sync.WaitGroup
		for gi, g := range groups {
			run := func() {
				cmds := make([]*redis.StringCmd, len(g.keys))
				_, err := g.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
					for x, k := range g.keys {
						cmds[x] = p.Get(ctx, k)
					}
					return nil
				})
				if err != nil {
					b.Error(err)
					return
				}
				for x, cmd := range cmds {
					v, _ := cmd.Bytes()
					vals[g.off+x] = v // a value per key, as GetMany hands back
				}
			}
			if gi == len(groups)-1 {
				run()
			} else {
				wg.Go(run)
			}
		}
		wg.Wait()
	}
	sequential := func() {
		for _, k := range keys {
			if v, err := c.Get(ctx, k, nil); err != nil || len(v) != 128 {
				b.Fatalf("Get %s: %v", k, err)
			}
		}
	}
	viaMany()
	pipeline()
	b.ReportAllocs()
	b.ResetTimer()
	var tm, tp, ts time.Duration
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if i%2 == 0 {
			viaMany()
			t1 := time.Now()
			pipeline()
			tm += t1.Sub(t0)
			tp += time.Since(t1)
		} else {
			pipeline()
			t1 := time.Now()
			viaMany()
			tp += t1.Sub(t0)
			tm += time.Since(t1)
		}
		if i%10 == 0 { // the sequential contrast, on every tenth op
			t2 := time.Now()
			sequential()
			ts += time.Since(t2)
		}
	}
	b.StopTimer()
	seqN := (b.N + 9) / 10
	b.ReportMetric(float64(tm.Nanoseconds())/float64(b.N), "many-ns/op")
	b.ReportMetric(float64(tp.Nanoseconds())/float64(b.N), "pipeline-ns/op")
	b.ReportMetric(float64(tm)/float64(tp), "many/pipeline")
	b.ReportMetric(float64(ts.Nanoseconds())/float64(seqN), "seq-ns/op")
	b.ReportMetric((float64(ts)/float64(seqN))/(float64(tp)/float64(b.N)), "seq/pipeline")
	b.ReportMetric(testing.AllocsPerRun(20, viaMany), "many-allocs/op")
	b.ReportMetric(testing.AllocsPerRun(20, pipeline), "pipeline-allocs/op")
}

// BenchmarkL1HitVsFastcache measures, in one run, an L1 hit of a 128-byte
// value (AppendGet into a caller buffer) and a bare fastcache HasGet of the
// same value in a cache of the same size, alternating in blocks of 1024 ops
// (each block timed, so that reading the clock costs nothing per op). It
// reports both sides' ns/op and their ratio (l1/fastcache); ns/op of the
// benchmark itself is the sum of both sides.
func BenchmarkL1HitVsFastcache(b *testing.B) {
	c, err := New(Config{TTL: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	key := strings.Clone("bench:key")
	if err := c.Set(ctx, key, benchValue(128), 0); err != nil {
		b.Fatal(err)
	}
	fc := fastcache.New(64 << 20) // the default L1.Bytes
	fk := []byte(key)
	fc.Set(fk, benchValue(128))
	buf := make([]byte, 0, 256)
	const block = 1024
	b.ReportAllocs()
	b.ResetTimer()
	var tl, tf time.Duration
	for n := 0; n < b.N; n += block {
		t0 := time.Now()
		for range block {
			if v, _, err := c.AppendGet(ctx, buf[:0], key, nil); err != nil || len(v) != 128 {
				b.Fatal("L1 miss")
			}
		}
		t1 := time.Now()
		for range block {
			if v, ok := fc.HasGet(buf[:0], fk); !ok || len(v) != 128 {
				b.Fatal("fastcache miss")
			}
		}
		tl += t1.Sub(t0)
		tf += time.Since(t1)
	}
	b.StopTimer()
	ops := float64((b.N + block - 1) / block * block)
	b.ReportMetric(float64(tl.Nanoseconds())/ops, "l1-ns/op")
	b.ReportMetric(float64(tf.Nanoseconds())/ops, "fastcache-ns/op")
	b.ReportMetric(float64(tl)/float64(tf), "l1/fastcache")
}
