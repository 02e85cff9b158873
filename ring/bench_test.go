package ring

import (
	"crypto/md5"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strconv"
	"testing"

	"github.com/cespare/xxhash/v2"
)

// This file holds the two placements the ring was chosen over, so that the
// choice stays justified by numbers measured in this repository:
//
//   - ketama: the consistent-hash ring of libketama / most memcached clients,
//     160 points per node (40 MD5 digests × 4), looked up by binary search.
//     A dead node is handled the ketama way, by rebuilding the ring without it.
//   - rendezvous (highest random weight): score every live node, take the max.
//
// All three hash the key with HashKey, so the comparison is of placement, not
// of hash functions (libketama itself hashes keys with MD5, which is slower).

type ketama struct {
	points []uint32 // sorted
	owners []int32  // owner node of each point
	addrs  []string
}

func newKetama(addrs []string, dead map[string]bool) *ketama {
	k := &ketama{addrs: addrs}
	type pt struct {
		p uint32
		o int32
	}
	var pts []pt
	for i, a := range addrs {
		if dead[a] {
			continue
		}
		for j := range 40 {
			d := md5.Sum([]byte(a + "-" + strconv.Itoa(j)))
			for q := range 4 {
				pts = append(pts, pt{binary.LittleEndian.Uint32(d[4*q:]), int32(i)})
			}
		}
	}
	slices.SortFunc(pts, func(a, b pt) int {
		if a.p != b.p {
			if a.p < b.p {
				return -1
			}
			return 1
		}
		return int(a.o - b.o)
	})
	for _, p := range pts {
		k.points = append(k.points, p.p)
		k.owners = append(k.owners, p.o)
	}
	return k
}

func (k *ketama) ownerHash(h uint64) string {
	x := uint32(h)
	lo, hi := 0, len(k.points)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if k.points[m] < x {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == len(k.points) {
		lo = 0
	}
	return k.addrs[k.owners[lo]]
}

func (k *ketama) Owner(key string) string { return k.ownerHash(HashKey(key)) }

type rendezvousRing struct {
	seeds []uint64
	dead  []bool
	addrs []string
}

func newRendezvous(addrs []string, dead map[string]bool) *rendezvousRing {
	r := &rendezvousRing{addrs: addrs}
	for _, a := range addrs {
		r.seeds = append(r.seeds, xxhash.Sum64String(a))
		r.dead = append(r.dead, dead[a])
	}
	return r
}

func (r *rendezvousRing) ownerHash(h uint64) string {
	best, bestScore := -1, uint64(0)
	for i, s := range r.seeds {
		if r.dead[i] {
			continue
		}
		if sc := mix(h ^ s); best < 0 || sc > bestScore {
			best, bestScore = i, sc
		}
	}
	return r.addrs[best]
}

func (r *rendezvousRing) Owner(key string) string { return r.ownerHash(HashKey(key)) }

// deadSet marks every tenth node dead (pct = 10) or none.
func deadSet(as []string, pct int) map[string]bool {
	m := map[string]bool{}
	if pct == 0 {
		return m
	}
	step := 100 / pct
	for i := step / 2; i < len(as); i += step {
		m[as[i]] = true
	}
	return m
}

func benchKeys() []string {
	keys := make([]string, 1<<12)
	for i := range keys {
		keys[i] = "user:" + strconv.Itoa(i*7919)
	}
	return keys
}

// BenchmarkOwner compares lookup (hash included) of the jump ring with
// ketama and rendezvous at 10, 100 and 1000 nodes, with none and 10% dead.
func BenchmarkOwner(b *testing.B) {
	keys := benchKeys()
	mask := len(keys) - 1
	for _, n := range []int{10, 100, 1000} {
		for _, pct := range []int{0, 10} {
			as := addrs(n)
			dead := deadSet(as, pct)
			r := New(as...)
			for a := range dead {
				r = r.WithDown(a)
			}
			k := newKetama(as, dead)
			rv := newRendezvous(as, dead)
			prefix := fmt.Sprintf("nodes=%d/dead=%d%%/", n, pct)
			b.Run(prefix+"jump", func(b *testing.B) {
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					r.Owner(keys[i&mask])
					i++
				}
			})
			b.Run(prefix+"ketama160", func(b *testing.B) {
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					k.Owner(keys[i&mask])
					i++
				}
			})
			b.Run(prefix+"rendezvous", func(b *testing.B) {
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					rv.Owner(keys[i&mask])
					i++
				}
			})
		}
	}
}

func BenchmarkOwnerBytes(b *testing.B) {
	keys := benchKeys()
	bkeys := make([][]byte, len(keys))
	for i, k := range keys {
		bkeys[i] = []byte(k)
	}
	r := New(addrs(100)...)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		r.OwnerBytes(bkeys[i&(len(bkeys)-1)])
		i++
	}
}

func BenchmarkOwnerParallel(b *testing.B) {
	keys := benchKeys()
	r := New(addrs(100)...)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			r.Owner(keys[i&(len(keys)-1)])
			i++
		}
	})
}

// BenchmarkOwners asks for 3 distinct owners (a primary and two replicas).
func BenchmarkOwners(b *testing.B) {
	keys := benchKeys()
	for _, pct := range []int{0, 10} {
		as := addrs(100)
		r := New(as...)
		for a := range deadSet(as, pct) {
			r = r.WithDown(a)
		}
		b.Run(fmt.Sprintf("nodes=100/dead=%d%%", pct), func(b *testing.B) {
			b.ReportAllocs()
			dst := make([]string, 0, 3)
			i := 0
			for b.Loop() {
				dst = r.Owners(keys[i&(len(keys)-1)], 3, dst[:0])
				i++
			}
		})
	}
}

func BenchmarkHashKey(b *testing.B) {
	for _, key := range []string{"user:1234", "{user:1234}:profile:settings"} {
		b.Run(strconv.Itoa(len(key)), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(key)))
			for b.Loop() {
				HashKey(key)
			}
		})
	}
}

// BenchmarkWithDown is the cost of a membership change at 1000 nodes (a new
// ring is built; lookups on the old one continue meanwhile).
func BenchmarkWithDown(b *testing.B) {
	as := addrs(1000)
	r := New(as...)
	b.ReportAllocs()
	for b.Loop() {
		r.WithDown(as[500])
	}
}

func BenchmarkParse(b *testing.B) {
	text := New(addrs(1000)...).WithDown(addrs(1000)[7]).String()
	b.ReportAllocs()
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		if _, err := Parse(text); err != nil {
			b.Fatal(err)
		}
	}
}

// quality measures balance and scale-out movement of a placement.
type quality struct {
	maxMean    float64 // max/mean keys per node at n nodes
	moved      float64 // fraction of keys moved from n to n+1 nodes
	movedToNew float64 // fraction of the moved keys that went to the new node
}

func measure(hs []uint64, n int, build func(as []string) func(uint64) string) quality {
	as := addrs(n + 1)
	before, after := build(as[:n]), build(as)
	counts := map[string]int{}
	moved, toNew := 0, 0
	for _, h := range hs {
		a, b := before(h), after(h)
		counts[a]++
		if a != b {
			moved++
			if b == as[n] {
				toNew++
			}
		}
	}
	return quality{
		maxMean:    maxOverMean(counts, as[:n]),
		moved:      float64(moved) / float64(len(hs)),
		movedToNew: float64(toNew) / math.Max(1, float64(moved)),
	}
}

// TestCompareStrategies measures balance and scale-out movement of the jump
// ring against ketama and rendezvous over the same keys, and checks the
// reason the jump ring was chosen: better balance than ketama with 160
// points, minimal movement like both.
func TestCompareStrategies(t *testing.T) {
	hs := keyHashes()[:300_000]
	jumpB := func(as []string) func(uint64) string {
		r := New(as...)
		return func(h uint64) string { a, _ := r.OwnerHash(h); return a }
	}
	ketamaB := func(as []string) func(uint64) string { return newKetama(as, nil).ownerHash }
	rendezvousB := func(as []string) func(uint64) string { return newRendezvous(as, nil).ownerHash }
	for _, n := range []int{10, 100} {
		j, k, rv := measure(hs, n, jumpB), measure(hs, n, ketamaB), measure(hs, n, rendezvousB)
		for name, q := range map[string]quality{"jump": j, "ketama160": k, "rendezvous": rv} {
			t.Logf("N=%d %-10s max/mean %.4f  moved %.5f (ideal %.5f), %.1f%% of them to the new node",
				n, name, q.maxMean, q.moved, 1/float64(n+1), 100*q.movedToNew)
			if q.movedToNew != 1 {
				t.Errorf("N=%d %s: keys moved between old nodes", n, name)
			}
		}
		if j.maxMean >= k.maxMean {
			t.Errorf("N=%d: jump max/mean %.4f not better than ketama's %.4f", n, j.maxMean, k.maxMean)
		}
	}
}

// BenchmarkOwnerMostlyDead shows how lookup degrades as most of a 100-node
// tier dies: the expected number of jumps is 1/(live fraction), capped at
// 33, after which the key falls back to a scan of the live slots.
func BenchmarkOwnerMostlyDead(b *testing.B) {
	keys := benchKeys()
	as := addrs(100)
	for _, dead := range []int{50, 90, 99} {
		r := New(as...)
		for i, a := range as {
			if i*7%100 < dead { // spread the dead over the table
				r = r.WithDown(a)
			}
		}
		b.Run(fmt.Sprintf("nodes=100/dead=%d%%", dead), func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				r.Owner(keys[i&(len(keys)-1)])
				i++
			}
		})
	}
}
