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
	env := replayEnvironment(b)
	for _, class := range env.classes {
		trace, err := loadtest.GenerateTrace(class, 3*env.keys, env.keys, 0.9, env.share, 1)
		if err != nil {
			b.Fatal(err)
		}
		for _, mb := range env.sizes {
			b.Run(fmt.Sprintf("%s/%dMB", class, mb), func(b *testing.B) {
				for range b.N {
					r := replayStore(env.policy, trace, mb<<20, env.pipe, env.keys)
					b.ReportMetric(r.ratio, "miss-ratio")
					b.ReportMetric(r.byteRatio, "byte-miss-ratio")
				}
			})
		}
	}
}

// replayEnv is the replay benchmarks' configuration, from the environment
// (see BenchmarkReplayMissRatio).
type replayEnv struct {
	policy  store.Policy
	keys    int     // N: objects; the traces have 3N requests
	sizes   []int64 // cache sizes, MiB
	share   float64 // the scan trace's scan share
	pipe    int     // reads before the writes of their misses
	classes []string
}

func replayEnvironment(b *testing.B) replayEnv {
	var env replayEnv
	var err error
	env.policy, err = store.ParsePolicy(envOr("STORE_BENCH_POLICY", "allkeys-tinylfu"))
	if err != nil {
		b.Fatal(err)
	}
	env.keys, err = strconv.Atoi(envOr("STORE_BENCH_KEYS", "400000"))
	if err != nil || env.keys <= 0 {
		b.Fatalf("STORE_BENCH_KEYS: %v", err)
	}
	for _, f := range strings.Split(envOr("STORE_BENCH_MB", "16,32,64"), ",") {
		mb, err := strconv.ParseInt(f, 10, 64)
		if err != nil || mb <= 0 {
			b.Fatalf("STORE_BENCH_MB: %q", f)
		}
		env.sizes = append(env.sizes, mb)
	}
	env.share, err = strconv.ParseFloat(envOr("STORE_BENCH_SCAN_SHARE", "0.3"), 64)
	if err != nil {
		b.Fatalf("STORE_BENCH_SCAN_SHARE: %v", err)
	}
	env.pipe, err = strconv.Atoi(envOr("STORE_BENCH_PIPELINE", "1"))
	if err != nil || env.pipe <= 0 {
		b.Fatalf("STORE_BENCH_PIPELINE: %q", os.Getenv("STORE_BENCH_PIPELINE"))
	}
	env.classes = loadtest.TraceClasses
	if c := os.Getenv("STORE_BENCH_TRACES"); c != "" {
		env.classes = strings.Split(c, ",")
	}
	return env
}

// replayResult is what replayStore measures over the requests after the
// first 20%.
type replayResult struct {
	ratio     float64 // miss ratio
	byteRatio float64 // share of the bytes requested that missed
	// zipfRatio is the miss ratio of the requests for objects below the
	// trace's key count (all but the scan trace's scan keys).
	zipfRatio float64
	meanLen   float64 // keys held, averaged over the requests
}

// replayStore replays trace cache-aside against a store of policy pol and
// maxmemory limit, writing the misses of every pipe reads after them, and
// measures the requests after the first 20%; keys is the trace's key count
// (objects from it on are scan keys).
func replayStore(pol store.Policy, trace []loadtest.TraceRequest, limit int64, pipe, keys int) replayResult {
	s := store.New(store.Config{MaxMemory: limit, Policy: pol})
	defer s.Close()
	val := make([]byte, 1000)
	warm := len(trace) / 5
	var misses, bytes, missed, zipf, zipfMissed, lens, samples int
	var key []byte
	var pend []uint64 // ids read and missed, written after every pipe reads
	for i, q := range trace {
		key = appendReplayKey(key[:0], q.ID)
		size := replayValueSize(q.ID)
		_, ok := s.Get(nil, key)
		if i >= warm {
			bytes += size
			if q.ID < uint64(keys) {
				zipf++
			}
			if !ok {
				misses++
				missed += size
				if q.ID < uint64(keys) {
					zipfMissed++
				}
			}
			if i%1024 == 0 {
				lens += s.Len()
				samples++
			}
		}
		if !ok {
			pend = append(pend, q.ID)
		}
		if (i+1)%pipe == 0 || i == len(trace)-1 {
			for _, id := range pend {
				key = appendReplayKey(key[:0], id)
				_ = s.EnsureMemory()
				s.Set(key, val[:replayValueSize(id)], store.SetArgs{}, nil)
			}
			pend = pend[:0]
		}
	}
	return replayResult{
		ratio:     float64(misses) / float64(len(trace)-warm),
		byteRatio: float64(missed) / float64(bytes),
		zipfRatio: float64(zipfMissed) / float64(max(zipf, 1)),
		meanLen:   float64(lens) / float64(max(samples, 1)),
	}
}

// appendReplayKey appends object id's key, as loadtest replay names it.
func appendReplayKey(dst []byte, id uint64) []byte {
	return strconv.AppendUint(append(dst, "o:"...), id, 10)
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
