package store

import (
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
)

// churn runs a mixed workload against a store with a memory limit: sets of
// small, medium and large (off-chunk) values, TTLs, overwrites, appends,
// deletes and reads over a key space much larger than what fits. It returns
// the peak growth of process RSS seen, relative to the limit.
func churn(t testing.TB, limit int64, ops int) (peakRatio float64, st Stats) {
	settle()
	rss0 := rssBytes(t)
	s := New(Config{MaxMemory: limit})
	defer s.Close()
	r := rand.New(rand.NewPCG(3, 4))
	big := make([]byte, 200<<10)
	var peak int64
	var k []byte
	for i := 0; i < ops; i++ {
		k = strconv.AppendInt(append(k[:0], "key:"...), int64(r.IntN(2_000_000)), 10)
		switch x := r.IntN(100); {
		case x < 55:
			var n int
			switch y := r.IntN(100); {
			case y < 70:
				n = 16 + r.IntN(200)
			case y < 97:
				n = 200 + r.IntN(8<<10)
			default:
				n = maxSmall + r.IntN(100<<10)
			}
			var exp int64
			if r.IntN(4) == 0 {
				exp = time.Now().Add(time.Duration(r.IntN(2000)) * time.Millisecond).UnixMilli()
			}
			if s.EnsureMemory() == nil {
				s.Set(k, big[:n], SetArgs{ExpireAt: exp}, nil)
			}
		case x < 75:
			s.Get(nil, k)
		case x < 85:
			s.Delete(k)
		default:
			if s.EnsureMemory() == nil {
				s.Update(k, func(cur []byte, exp int64, ok bool) ([]byte, int64, Op) {
					if !ok || len(cur) > 32<<10 {
						return nil, 0, Keep
					}
					return append(cur, big[:r.IntN(300)]...), exp, Put
				})
			}
		}
		if i%5000 == 0 {
			if d := rssBytes(t) - rss0; d > peak {
				peak = d
			}
		}
	}
	s.UpdateStats(&st)
	return float64(peak) / float64(limit), st
}

// TestRSSWithinMaxMemory measures how far process RSS grows past maxmemory
// under a churning mixed workload (the ratio is logged for NOTES.md). The
// bound asserted leaves room for the Go runtime and the workload's own
// garbage, which the store does not account for. Under -race, whose shadow
// memory distorts RSS, it checks the accounting only.
func TestRSSWithinMaxMemory(t *testing.T) {
	limit, ops := int64(64<<20), 150_000
	if raceEnabled || testing.Short() {
		limit, ops = 32<<20, 60_000
	}
	ratio, st := churn(t, limit, ops)
	t.Logf("maxmemory %d MiB, %d ops: peak RSS growth %.3f x maxmemory; used %d, keys %d, evicted %d, expired %d",
		limit>>20, ops, ratio, st.UsedMemory, st.Keys, st.Evicted, st.Expired)
	if st.Evicted == 0 {
		t.Fatal("workload never reached maxmemory")
	}
	if st.UsedMemory > limit+200<<10 {
		t.Fatalf("used memory %d exceeds maxmemory %d by more than one entry", st.UsedMemory, limit)
	}
	if !raceEnabled && ratio > 1.2 {
		t.Fatalf("peak RSS growth %.2f x maxmemory, above the 1.2 bound", ratio)
	}
}

// BenchmarkChurnRSS reports the peak RSS growth of the churn workload as a
// multiple of maxmemory (64 MiB).
func BenchmarkChurnRSS(b *testing.B) {
	var ratio float64
	for i := 0; i < b.N; i++ {
		ratio, _ = churn(b, 64<<20, 150_000)
	}
	b.ReportMetric(ratio, "rss/maxmemory")
}
