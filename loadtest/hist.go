package loadtest

import (
	"math"
	"math/bits"
	"time"
)

// hist is a log-linear latency histogram over nanoseconds with 16
// sub-buckets per power of two (relative error under ~6%). It is not safe
// for concurrent use; each recorder owns one and the owner merges them.
type hist struct {
	counts [histBuckets]uint64
	n      uint64
	maxNS  uint64
}

const (
	histLinear  = 32                      // values below this many ns get one bucket each
	histSub     = 16                      // sub-buckets per power of two above that
	histBuckets = histLinear + 40*histSub // up to 2^44 ns ≈ 4.9 hours
)

func histIndex(ns uint64) int {
	if ns < histLinear {
		return int(ns)
	}
	e := bits.Len64(ns) - 5 // ns>>e is in [16, 31]
	i := histLinear + (e-1)*histSub + int(ns>>uint(e)) - histSub
	if i >= histBuckets {
		i = histBuckets - 1
	}
	return i
}

// histValue returns the midpoint, in ns, of bucket i.
func histValue(i int) float64 {
	if i < histLinear {
		return float64(i)
	}
	e := (i-histLinear)/histSub + 1
	lo := uint64(histSub+(i-histLinear)%histSub) << uint(e)
	return float64(lo) + float64(uint64(1)<<uint(e))/2
}

func (h *hist) record(d time.Duration) {
	ns := uint64(0)
	if d > 0 {
		ns = uint64(d)
	}
	h.counts[histIndex(ns)]++
	h.n++
	if ns > h.maxNS {
		h.maxNS = ns
	}
}

func (h *hist) merge(o *hist) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	if o.maxNS > h.maxNS {
		h.maxNS = o.maxNS
	}
}

// quantileMS returns the q-quantile (0..1) in milliseconds, 0 when empty.
// The top quantile reports the exact maximum rather than a bucket midpoint.
func (h *hist) quantileMS(q float64) float64 {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	if rank < 1 {
		rank = 1
	}
	if rank >= h.n {
		return float64(h.maxNS) / 1e6
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			v := histValue(i)
			if v > float64(h.maxNS) {
				v = float64(h.maxNS)
			}
			return v / 1e6
		}
	}
	return float64(h.maxNS) / 1e6
}

func (h *hist) maxMS() float64 { return float64(h.maxNS) / 1e6 }

// sparse returns the non-empty buckets as [index, count] pairs (the wire form).
func (h *hist) sparse() [][2]uint64 {
	var out [][2]uint64
	for i, c := range h.counts {
		if c != 0 {
			out = append(out, [2]uint64{uint64(i), c})
		}
	}
	return out
}

// addSparse adds buckets in wire form; maxNS is the sender's maximum.
// Out-of-range indexes (a corrupt line) are ignored.
func (h *hist) addSparse(b [][2]uint64, maxNS uint64) {
	for _, p := range b {
		if p[0] >= histBuckets {
			continue
		}
		h.counts[p[0]] += p[1]
		h.n += p[1]
	}
	if maxNS > h.maxNS {
		h.maxNS = maxNS
	}
}

func (h *hist) reset() { *h = hist{} }

// histUpper returns the exclusive upper bound, in ns, of bucket i.
func histUpper(i int) float64 {
	if i < histLinear {
		return float64(i + 1)
	}
	e := (i-histLinear)/histSub + 1
	lo := uint64(histSub+(i-histLinear)%histSub) << uint(e)
	return float64(lo + uint64(1)<<uint(e))
}
