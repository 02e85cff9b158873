package store_test

import (
	"math/rand/v2"
	"testing"

	"github.com/cachetier/cachetier/loadtest"
)

// TestOracleBounds checks BenchmarkOracleMissRatio's bounds on small
// random traces against an exhaustive search of every admission and
// eviction choice: with objects of one size MIN misses exactly as few as
// the best choices; with sizes of 1-3 the static oracle and LFU miss no
// fewer and PFOO-L no more.
func TestOracleBounds(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := range 400 {
		objects := 2 + r.IntN(5)
		trace := make([]loadtest.TraceRequest, 4+r.IntN(12))
		for i := range trace {
			trace[i].ID = uint64(r.IntN(objects))
		}
		sized := n%2 == 1
		size := func(id uint64) int64 {
			if sized {
				return 1 + int64(id*7%3)
			}
			return 1
		}
		k := 1 + r.IntN(3)
		if sized {
			k = 2 + r.IntN(4)
		}
		tr := newOracleTrace(trace, objects, size)
		tr.warm = 0
		opt := optMisses(tr, int64(k))
		static, pfoo, lfu := countMisses(tr.staticHits(int64(k), tr.gains())), countMisses(tr.pfooHits(int64(k))), countMisses(tr.rankedHits(int64(k), tr.countPerByte))
		belady := opt
		if !sized {
			belady = countMisses(tr.minHits(k))
		}
		if belady != opt || static < opt || pfoo > opt || lfu < opt {
			t.Fatalf("trace %d %v, sizes %v, room for %d: MIN %d, static %d, PFOO-L %d, LFU %d misses; the best choices miss %d",
				n, tr.obj, tr.cost, k, belady, static, pfoo, lfu, opt)
		}
	}
}

// TestOracleBoundsExact checks the bounds' miss counts on traces worked
// out by hand (objects a, b, c).
func TestOracleBoundsExact(t *testing.T) {
	for _, c := range []struct {
		trace                  string
		sizes                  [3]int64 // of a, b, c
		capacity               int64
		min, static, pfoo, lfu int
	}{
		// PFOO-L: each hit costs 3, 6 byte-requests buy two; MIN keeps a
		{"abcabc", [3]int64{1, 1, 1}, 1, 5, 5, 4, 5},
		{"abab", [3]int64{1, 1, 1}, 1, 3, 3, 2, 3},
		// LFU: b's second request outranks a (count 2 against 1), a's
		// second does not outrank b
		{"abbab", [3]int64{1, 1, 1}, 1, 3, 3, 3, 4},
		// b's two hits are worth its 3 bytes; a, requested once, is not
		// held (LFU holds it: b only reaches a's count per byte)
		{"abbb", [3]int64{1, 3, 1}, 3, -1, 2, 2, 4},
		// static, 4 bytes: b (2 hits per 2 bytes), then c (1 per 2 bytes),
		// a (2 per 3) passed over; PFOO-L, 32 byte-requests: hits costing
		// 2, 3, 4 and 6, not a's 18; LFU: b evicts a, c fits, a never
		// outranks c again
		{"abcbbcaa", [3]int64{3, 2, 2}, 4, -1, 5, 4, 5},
	} {
		trace := make([]loadtest.TraceRequest, len(c.trace))
		for i, ch := range c.trace {
			trace[i].ID = uint64(ch - 'a')
		}
		tr := newOracleTrace(trace, 3, func(id uint64) int64 { return c.sizes[id] })
		tr.warm = 0
		belady := -1
		if c.min >= 0 {
			belady = countMisses(tr.minHits(int(c.capacity)))
		}
		static, pfoo, lfu := countMisses(tr.staticHits(c.capacity, tr.gains())), countMisses(tr.pfooHits(c.capacity)), countMisses(tr.rankedHits(c.capacity, tr.countPerByte))
		if belady != c.min || static != c.static || pfoo != c.pfoo || lfu != c.lfu {
			t.Errorf("%s, sizes %v, capacity %d: MIN %d, static %d, PFOO-L %d, LFU %d misses, want %d, %d, %d, %d",
				c.trace, c.sizes, c.capacity, belady, static, pfoo, lfu, c.min, c.static, c.pfoo, c.lfu)
		}
	}
}

// optMisses returns the fewest misses of any cache of capacity bytes on
// tr, by trying every choice (tr has at most 16 objects).
func optMisses(tr *oracleTrace, capacity int64) int {
	memo := map[[2]int]int{}
	var best func(i, held int) int
	best = func(i, held int) int {
		if i == len(tr.obj) {
			return 0
		}
		if v, ok := memo[[2]int{i, held}]; ok {
			return v
		}
		bit := 1 << tr.obj[i]
		var v int
		if held&bit != 0 {
			v = best(i+1, held)
		} else {
			v = 1 + best(i+1, held) // not admitted
			// admitted, after evicting any set of held objects
			for ev := held; ; ev = (ev - 1) & held {
				if next := held&^ev | bit; bytesOf(tr, next) <= capacity {
					v = min(v, 1+best(i+1, next))
				}
				if ev == 0 {
					break
				}
			}
		}
		memo[[2]int{i, held}] = v
		return v
	}
	return best(0, 0)
}

// bytesOf returns the bytes of the objects in the set held.
func bytesOf(tr *oracleTrace, held int) int64 {
	var n int64
	for o := range tr.cost {
		if held&(1<<o) != 0 {
			n += tr.cost[o]
		}
	}
	return n
}

// countMisses counts the requests hits marks as misses.
func countMisses(hits []bool) int {
	m := 0
	for _, h := range hits {
		if !h {
			m++
		}
	}
	return m
}
