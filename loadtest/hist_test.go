package loadtest

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestHistQuantiles(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var h hist
	var vals []float64
	for i := 0; i < 20000; i++ {
		d := time.Duration(math.Exp(r.NormFloat64()*1.5+8)) * time.Microsecond // ~3ms median, wide
		h.record(d)
		vals = append(vals, float64(d/time.Microsecond)/1000)
	}
	slices.Sort(vals)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		want := vals[int(math.Ceil(q*float64(len(vals))))-1]
		got := h.quantileMS(q)
		if rel := math.Abs(got-want) / want; rel > 0.07 {
			t.Errorf("q%.3f = %.3fms, exact %.3fms (rel err %.3f)", q, got, want, rel)
		}
	}
	if got, want := h.maxMS(), vals[len(vals)-1]; got != want {
		t.Errorf("max = %v, want %v", got, want)
	}
}

func TestHistMergeAndWire(t *testing.T) {
	var a, b, c hist
	for i := 0; i < 1000; i++ {
		a.record(time.Duration(i) * time.Microsecond)
		b.record(time.Duration(i) * time.Millisecond)
	}
	c.addSparse(a.sparse(), a.maxNS)
	c.addSparse(b.sparse(), b.maxNS)
	a.merge(&b)
	if a != c {
		t.Fatalf("merge and wire round trip differ: n %d vs %d, max %d vs %d", a.n, c.n, a.maxNS, c.maxNS)
	}
	if a.n != 2000 || a.maxMS() != 999 {
		t.Fatalf("n=%d max=%vms, want 2000 and 999", a.n, a.maxMS())
	}
	// Corrupt indexes from a child are ignored, not a panic.
	c.addSparse([][2]uint64{{histBuckets + 5, 1}, {1 << 60, 3}}, 0)
	if c.n != 2000 {
		t.Fatalf("out-of-range buckets were counted")
	}
	var empty hist
	if empty.quantileMS(0.99) != 0 {
		t.Fatal("empty histogram has a non-zero quantile")
	}
}

func TestHistIndexMonotonic(t *testing.T) {
	prev := -1
	for us := uint64(0); us < 1<<42; us = us*11/10 + 1 {
		i := histIndex(us)
		if i < prev || i >= histBuckets {
			t.Fatalf("histIndex(%d) = %d after %d", us, i, prev)
		}
		if mid := histValue(i); i >= histLinear && math.Abs(mid-float64(us))/float64(us) > 0.07 {
			t.Fatalf("bucket %d midpoint %.0f too far from %d", i, mid, us)
		}
		prev = i
	}
}

func BenchmarkHistRecord(b *testing.B) {
	b.ReportAllocs()
	var h hist
	for i := 0; i < b.N; i++ {
		h.record(time.Duration(i&0xffff) * time.Microsecond)
	}
}

func TestHistUpperBounds(t *testing.T) {
	for _, ns := range []uint64{0, 1, 31, 32, 33, 63, 64, 1000, 123456, 1 << 33} {
		i := histIndex(ns)
		if up := histUpper(i); float64(ns) >= up || (i > 0 && float64(ns) < histUpper(i-1)) {
			t.Errorf("%dns in bucket %d with bounds [%v, %v)", ns, i, histUpper(i-1), up)
		}
	}
}
