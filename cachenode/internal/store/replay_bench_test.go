package store_test

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/cachetier/cachetier/cachenode/internal/store"
	"github.com/cachetier/cachetier/loadtest"
)

// BenchmarkReplayMissRatio replays loadtest's generated traces (zipf, scan,
// shift; 3N requests over N objects of 300-1,000 bytes, seed 1, as in
// BENCHMARKS.md) cache-aside against the store alone (no server) and
// reports the miss ratio of the last 80% of the requests (miss-ratio) and
// the share of bytes missed (byte-miss-ratio): a quick way to compare
// eviction policies in one process. Environment: STORE_BENCH_POLICY picks
// the policy (default allkeys-tinylfu), STORE_BENCH_KEYS is N (default
// 400000), STORE_BENCH_MB the cache sizes in MiB (default 16,32,64),
// STORE_BENCH_TRACES the classes (default all), STORE_BENCH_SCAN_SHARE the
// scan trace's scan share (default 0.3), STORE_BENCH_PIPELINE how many
// reads go before the writes of their misses (default 1; loadtest replay
// pipelines 32). Run it with -benchtime=1x:
//
//	go test -run '^$' -bench ReplayMissRatio -benchtime=1x ./cachenode/internal/store
func BenchmarkReplayMissRatio(b *testing.B) {
	pol, err := store.ParsePolicy(envOr("STORE_BENCH_POLICY", "allkeys-tinylfu"))
	if err != nil {
		b.Fatal(err)
	}
	keys, err := strconv.Atoi(envOr("STORE_BENCH_KEYS", "400000"))
	if err != nil || keys <= 0 {
		b.Fatalf("STORE_BENCH_KEYS: %v", err)
	}
	requests := 3 * keys
	var sizes []int64
	for _, f := range strings.Split(envOr("STORE_BENCH_MB", "16,32,64"), ",") {
		mb, err := strconv.ParseInt(f, 10, 64)
		if err != nil || mb <= 0 {
			b.Fatalf("STORE_BENCH_MB: %q", f)
		}
		sizes = append(sizes, mb)
	}
	share, err := strconv.ParseFloat(envOr("STORE_BENCH_SCAN_SHARE", "0.3"), 64)
	if err != nil {
		b.Fatalf("STORE_BENCH_SCAN_SHARE: %v", err)
	}
	pipe, err := strconv.Atoi(envOr("STORE_BENCH_PIPELINE", "1"))
	if err != nil || pipe <= 0 {
		b.Fatalf("STORE_BENCH_PIPELINE: %q", os.Getenv("STORE_BENCH_PIPELINE"))
	}
	classes := loadtest.TraceClasses
	if c := os.Getenv("STORE_BENCH_TRACES"); c != "" {
		classes = strings.Split(c, ",")
	}
	for _, class := range classes {
		trace, err := loadtest.GenerateTrace(class, requests, keys, 0.9, share, 1)
		if err != nil {
			b.Fatal(err)
		}
		for _, mb := range sizes {
			b.Run(fmt.Sprintf("%s/%dMB", class, mb), func(b *testing.B) {
				for range b.N {
					ratio, byteRatio := replayStore(pol, trace, mb<<20, pipe)
					b.ReportMetric(ratio, "miss-ratio")
					b.ReportMetric(byteRatio, "byte-miss-ratio")
				}
			})
		}
	}
}

// replayStore replays trace cache-aside against a store of policy pol and
// maxmemory limit, writing the misses of every pipe reads after them, and
// returns the miss ratio and byte miss ratio of the requests after the
// first 20%.
func replayStore(pol store.Policy, trace []loadtest.TraceRequest, limit int64, pipe int) (float64, float64) {
	s := store.New(store.Config{MaxMemory: limit, Policy: pol})
	defer s.Close()
	val := make([]byte, 1000)
	warm := len(trace) / 5
	var misses, bytes, missed int
	var key []byte
	var pend []uint64 // ids read and missed, written after every pipe reads
	for i, q := range trace {
		key = strconv.AppendUint(append(key[:0], "o:"...), q.ID, 10)
		size := replayValueSize(q.ID)
		_, ok := s.Get(nil, key)
		if i >= warm {
			bytes += size
			if !ok {
				misses++
				missed += size
			}
		}
		if !ok {
			pend = append(pend, q.ID)
		}
		if (i+1)%pipe == 0 || i == len(trace)-1 {
			for _, id := range pend {
				key = strconv.AppendUint(append(key[:0], "o:"...), id, 10)
				_ = s.EnsureMemory()
				s.Set(key, val[:replayValueSize(id)], store.SetArgs{}, nil)
			}
			pend = pend[:0]
		}
	}
	return float64(misses) / float64(len(trace)-warm), float64(missed) / float64(bytes)
}

// replayValueSize is loadtest replay's value size for an object whose
// trace gives none: 300-1,000 bytes from a splitmix64 hash of its id.
func replayValueSize(id uint64) int {
	x := id + 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	x ^= x >> 31
	return 300 + int(x%701)
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
