package store

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// TestConcurrentOps hammers the store from several goroutines with every
// operation while eviction and active expiry run, then checks the internal
// invariants. Run it under -race.
func TestConcurrentOps(t *testing.T) {
	t.Run("default", func(t *testing.T) { testConcurrentOps(t, 0) })
	// Incremental resizes from 16 slots: moves in progress under every kind
	// of concurrent operation.
	t.Run("incremental-resize", func(t *testing.T) { testConcurrentOps(t, 16) })
}

func testConcurrentOps(t *testing.T, syncResizeMax int) {
	s := New(Config{MaxMemory: 2 << 20, ExpireInterval: 5 * time.Millisecond, Shards: 16})
	defer s.Close()
	s.compactMin = 1 << 10
	if syncResizeMax > 0 {
		s.syncResizeMax = syncResizeMax // before any goroutine uses the store
	}
	const workers = 6
	ops := 20_000
	if raceEnabled {
		ops = 5_000
	}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 99))
			var buf []byte
			for i := 0; i < ops; i++ {
				k := fmt.Appendf(nil, "k%d", r.IntN(3000))
				switch r.IntN(12) {
				case 0, 1, 2:
					buf, _ = s.Get(buf[:0], k)
				case 3, 4:
					if s.EnsureMemory() == nil {
						var exp int64
						if r.IntN(3) == 0 {
							exp = time.Now().Add(time.Duration(r.IntN(50)) * time.Millisecond).UnixMilli()
						}
						s.Set(k, make([]byte, r.IntN(2000)), SetArgs{ExpireAt: exp, Get: r.IntN(2) == 0}, nil)
					}
				case 5:
					s.Delete(k)
				case 6:
					s.Update(k, func(cur []byte, exp int64, ok bool) ([]byte, int64, Op) {
						return append(cur, 'x'), exp, Put
					})
				case 7:
					s.Rename(k, fmt.Appendf(nil, "k%d", r.IntN(3000)), r.IntN(2) == 0)
				case 8:
					s.Scan(uint64(r.IntN(16))<<32, 50, func(key []byte, _ int64) { _ = s.Exists(key) })
				case 9:
					s.RandomKey(nil)
				case 10:
					s.Touch(k)
				case 11:
					if r.IntN(500) == 0 {
						s.Flush()
					}
					var st Stats
					s.UpdateStats(&st)
				}
			}
		}(w)
	}
	wg.Wait()
	checkInvariants(t, s, &model{m: map[string]modelEntry{}, clk: newFakeClock()}, -1)
	if used, limit := s.UsedMemory(), int64(2<<20); used > limit+64<<10 {
		t.Fatalf("used %d well above maxmemory %d", used, limit)
	}
}

// TestScanGuaranteeUnderChurn checks SCAN's guarantee while other keys are
// added and removed (forcing index resizes and compactions) between calls.
func TestScanGuaranteeUnderChurn(t *testing.T) {
	s, _ := newTestStore(t, Config{Shards: 8})
	s.compactMin = 0
	const stable = 5000
	for i := 0; i < stable; i++ {
		s.Set(fmt.Appendf(nil, "stable:%d", i), []byte("v"), SetArgs{}, nil)
	}
	seen := make(map[string]bool, stable)
	cur, step := uint64(0), 0
	for {
		cur = s.Scan(cur, 37, func(k []byte, _ int64) { seen[string(k)] = true })
		// Churn: grow by thousands of keys, then delete them, alternately.
		base := step % 4
		for i := 0; i < 800; i++ {
			k := fmt.Appendf(nil, "churn:%d:%d", base, i)
			if step%8 < 4 {
				s.Set(k, make([]byte, 50), SetArgs{}, nil)
			} else {
				s.Delete(k)
			}
		}
		step++
		if cur == 0 {
			break
		}
	}
	for i := 0; i < stable; i++ {
		if k := fmt.Sprintf("stable:%d", i); !seen[k] {
			t.Fatalf("SCAN missed %q, present for the whole iteration (%d steps)", k, step)
		}
	}
	t.Logf("full SCAN in %d steps with churn", step)
}
