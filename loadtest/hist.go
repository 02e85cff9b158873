package loadtest

import (
	"math"
	"math/bits"
	"time"
)

// hist is a log-linear latency histogram over microseconds with 16
// sub-buckets per power of two (relative error under ~6%). It is not safe
// for concurrent use; each recorder owns one and the owner merges them.
type hist struct {
	counts [histBuckets]uint64
	n      uint64
	maxUS  uint64
}

const (
	histLinear  = 32 // values below this many µs get one bucket each
	histSub     = 16 // sub-buckets per power of two above that
	histBuckets = histLinear + 40*histSub
)

func histIndex(us uint64) int {
	if us < histLinear {
		return int(us)
	}
	e := bits.Len64(us) - 5 // us>>e is in [16, 31]
	i := histLinear + (e-1)*histSub + int(us>>uint(e)) - histSub
	if i >= histBuckets {
		i = histBuckets - 1
	}
	return i
}

// histValue returns the midpoint, in µs, of bucket i.
func histValue(i int) float64 {
	if i < histLinear {
		return float64(i)
	}
	e := (i-histLinear)/histSub + 1
	lo := uint64(histSub+(i-histLinear)%histSub) << uint(e)
	return float64(lo) + float64(uint64(1)<<uint(e))/2
}

func (h *hist) record(d time.Duration) {
	us := uint64(0)
	if d > 0 {
		us = uint64(d / time.Microsecond)
	}
	h.counts[histIndex(us)]++
	h.n++
	if us > h.maxUS {
		h.maxUS = us
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
	if o.maxUS > h.maxUS {
		h.maxUS = o.maxUS
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
		return float64(h.maxUS) / 1000
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			v := histValue(i)
			if v > float64(h.maxUS) {
				v = float64(h.maxUS)
			}
			return v / 1000
		}
	}
	return float64(h.maxUS) / 1000
}

func (h *hist) maxMS() float64 { return float64(h.maxUS) / 1000 }

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

// addSparse adds buckets in wire form; maxUS is the sender's maximum.
// Out-of-range indexes (a corrupt line) are ignored.
func (h *hist) addSparse(b [][2]uint64, maxUS uint64) {
	for _, p := range b {
		if p[0] >= histBuckets {
			continue
		}
		h.counts[p[0]] += p[1]
		h.n += p[1]
	}
	if maxUS > h.maxUS {
		h.maxUS = maxUS
	}
}

func (h *hist) reset() { *h = hist{} }
