package store

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cachetier/cachetier/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// rssBytes returns the resident set size of this process.
func rssBytes(t testing.TB) int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Skipf("no /proc/self/statm (%v): RSS is measured on Linux only", err)
	}
	f := strings.Fields(string(b))
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

func settle() {
	runtime.GC()
	debug.FreeOSMemory()
}

// memKey writes the i-th benchmark key, "key:NNNNNNN", into buf.
func memKey(buf []byte, i int) []byte {
	buf = append(buf[:0], "key:"...)
	n := len(buf)
	buf = strconv.AppendInt(buf, int64(10_000_000+i), 10)
	buf[n] = '0' // "key:" + 7 digits
	return buf
}

type memResult struct {
	rssPerKey, heapPerKey, usedPerKey float64
}

// loadStore fills a fresh store with n keys of vlen-byte values and reports
// the process RSS and Go heap growth per key, and used memory per key.
func loadStore(t testing.TB, n, vlen int) memResult {
	settle()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	heap0, rss0 := int64(ms.HeapInuse), rssBytes(t)
	s := New(Config{})
	defer s.Close()
	val := bytes.Repeat([]byte("v"), vlen)
	var key []byte
	for i := 0; i < n; i++ {
		key = memKey(key, i)
		s.Set(key, val, SetArgs{}, nil)
	}
	settle()
	runtime.ReadMemStats(&ms)
	rss1 := rssBytes(t)
	if s.Len() != n {
		t.Fatalf("Len %d", s.Len())
	}
	return memResult{
		rssPerKey:  float64(rss1-rss0) / float64(n),
		heapPerKey: float64(int64(ms.HeapInuse)-heap0) / float64(n),
		usedPerKey: float64(s.UsedMemory()) / float64(n),
	}
}

// BenchmarkMemory1M loads 1M keys ("key:NNNNNNN", 64-byte values) and
// reports the process's resident memory growth per key.
func BenchmarkMemory1M(b *testing.B) {
	var r memResult
	for i := 0; i < b.N; i++ {
		r = loadStore(b, 1_000_000, 64)
	}
	b.ReportMetric(r.rssPerKey, "rss-bytes/key")
	b.ReportMetric(r.heapPerKey, "goheap-bytes/key")
	b.ReportMetric(r.usedPerKey, "used-bytes/key")
}

// redisLoad fills redis-server with the same keys through pipelines and
// returns its RSS growth per key (INFO memory used_memory_rss).
func redisLoad(t testing.TB, n, vlen int) (rssPerKey, usedPerKey float64) {
	srv := redistest.Start(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rss0, _ := redisMem(t, ctx, c)
	val := bytes.Repeat([]byte("v"), vlen)
	var key []byte
	for i := 0; i < n; {
		p := c.Pipeline()
		for j := 0; j < 10_000 && i < n; j, i = j+1, i+1 {
			key = memKey(key, i)
			p.Set(ctx, string(key), val, 0)
		}
		if _, err := p.Exec(ctx); err != nil {
			t.Fatalf("redis pipeline: %v", err)
		}
	}
	rss1, used := redisMem(t, ctx, c)
	return float64(rss1-rss0) / float64(n), float64(used) / float64(n)
}

func redisMem(t testing.TB, ctx context.Context, c *redis.Client) (rss, used int64) {
	info, err := c.Info(ctx, "memory").Result()
	if err != nil {
		t.Fatalf("INFO memory: %v", err)
	}
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		k, v, _ := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		switch k {
		case "used_memory_rss":
			rss, _ = strconv.ParseInt(v, 10, 64)
		case "used_memory":
			used, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	return rss, used
}

// BenchmarkMemory1MRedis is BenchmarkMemory1M for redis-server (skipped
// when it is not installed), for the side-by-side comparison.
func BenchmarkMemory1MRedis(b *testing.B) {
	var rss, used float64
	for i := 0; i < b.N; i++ {
		rss, used = redisLoad(b, 1_000_000, 64)
	}
	b.ReportMetric(rss, "rss-bytes/key")
	b.ReportMetric(used, "used-bytes/key")
}

// TestMemoryVsRedis checks the bar: the store needs no more resident
// memory than redis-server 7 for the same keys. It skips without
// redis-server; under -race or -short it loads 200k keys instead of 1M.
func TestMemoryVsRedis(t *testing.T) {
	if redistest.Binary() == "" {
		t.Skip("redis-server not installed (apt-get install -y redis-server); skipping memory comparison with Redis")
	}
	n := 1_000_000
	if raceEnabled || testing.Short() {
		n = 200_000
	}
	ours := loadStore(t, n, 64)
	theirs, theirsUsed := redisLoad(t, n, 64)
	msg := fmt.Sprintf("%d keys of 64 bytes: store RSS %.1f B/key (Go heap %.1f, used_memory %.1f); redis-server RSS %.1f B/key (used_memory %.1f)",
		n, ours.rssPerKey, ours.heapPerKey, ours.usedPerKey, theirs, theirsUsed)
	t.Log(msg)
	if raceEnabled {
		// The race detector's own memory distorts this process's RSS: compare
		// the store's accounting with Redis's RSS instead.
		if ours.usedPerKey > theirs {
			t.Fatalf("store accounts more memory than redis-server's RSS: %s", msg)
		}
		return
	}
	if ours.rssPerKey > theirs {
		t.Fatalf("store needs more memory than redis-server: %s", msg)
	}
	// Used memory accounting must not under-count what the process holds.
	if ours.rssPerKey > ours.usedPerKey*1.05+2 {
		t.Fatalf("RSS per key exceeds accounted used memory by more than 5%%: %s", msg)
	}
}
