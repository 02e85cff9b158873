package store_test

import (
	"cmp"
	"container/heap"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/cachetier/cachetier/cachenode/internal/store"
	"github.com/cachetier/cachetier/loadtest"
)

// BenchmarkOracleMissRatio puts the store's miss ratio on the traces of
// BenchmarkReplayMissRatio (same environment variables, same traces,
// value sizes and cache-aside replay, the first 20% of the requests not
// measured) next to bounds on what any policy could reach at the same
// sizes and to idealised policies, all in one invocation:
//
//   - node-miss: the store's miss ratio (STORE_BENCH_POLICY), as
//     BenchmarkReplayMissRatio reports it; keys: the keys it holds,
//     averaged over the measured requests.
//   - compulsory-miss: the share of the measured requests that are their
//     object's first, which every cache misses.
//   - static-miss: the static oracle, the classic bound for independent
//     requests, with hindsight: the cache holds from the start the objects
//     with the most measured requests (not counting each one's first, a
//     compulsory miss) per byte that fit, picked greedily, and never
//     admits another. (Not a strict bound: the space it keeps for an
//     object before its first request could serve others meanwhile.)
//   - lfu-miss: a perfect LFU, an online policy with unbounded memory: exact
//     counts of every object's requests since the start, the held objects
//     ranked by count per byte, a missed object admitted only if it
//     outranks every object it would evict. Its counts are not charged.
//   - a0-miss (zipf and scan traces): the same ranked by the objects'
//     popularity in the generator instead of their counts (0 for scan
//     keys): A0, the optimal online policy for independent requests of
//     objects of one size, what an online policy could expect if it knew
//     the popularity exactly. Unlike static-miss it cannot know which of
//     the many objects of equal popularity the trace will repeat, and
//     unlike the static caches it holds no object before its first
//     request.
//   - min-miss: Belady's MIN with every object the same size and room for
//     as many objects as the store holds (keys): a missed object is
//     admitted only if it is requested again before some held one, which
//     then goes. It bounds what an online policy can do only as far as
//     the store's key count stands for its memory (sizes vary 3.2×).
//   - pfoo-miss: a lower bound for any policy, offline ones included, with
//     the objects' real sizes (PFOO-L, Berger et al., SIGMETRICS 2018):
//     a hit on an object costs its size times the requests since its
//     previous one (it had to stay cached all that time), and the cache
//     offers its size times the trace's length; the cheapest hits are
//     counted until that is spent.
//
// All but the store charge an object store.EntryCost (its entry and one
// index slot, the least the store accounts for it) against the limit
// less the store's fixed overhead (its used memory when empty), and no
// memory for their policy. The -zipf metrics are the same over the
// measured requests for the N Zipf objects only: for the scan trace, all
// but the scans, which are requested once and miss under every policy. No
// bound holds a scan key, so the static, A0 and MIN figures are also
// those of the trace without its scans; PFOO-L's nearly so (its
// intervals and budget would shrink with the scans' share of the
// requests). scan-share is the share of the measured requests that are
// scans. Run it with -benchtime=1x:
//
//	go test -run '^$' -bench OracleMissRatio -benchtime=1x ./cachenode/internal/store
func BenchmarkOracleMissRatio(b *testing.B) {
	env := replayEnvironment(b)
	for _, class := range env.classes {
		trace, err := loadtest.GenerateTrace(class, 3*env.keys, env.keys, 0.9, env.share, 1)
		if err != nil {
			b.Fatal(err)
		}
		var buf []byte
		tr := newOracleTrace(trace, env.keys, func(id uint64) int64 {
			buf = appendReplayKey(buf[:0], id)
			return int64(store.EntryCost(len(buf), replayValueSize(id)))
		})
		var pop []float64 // the objects' popularity, for the classes that keep it
		if class == "zipf" || class == "scan" {
			if pop, err = zipfPopularity(tr, env.keys); err != nil {
				b.Fatal(err)
			}
		}
		for _, mb := range env.sizes {
			b.Run(fmt.Sprintf("%s/%dMB", class, mb), func(b *testing.B) {
				for range b.N {
					s := store.New(store.Config{MaxMemory: mb << 20})
					fixed := s.UsedMemory()
					s.Close()
					capacity := mb<<20 - fixed

					node := replayStore(env.policy, trace, mb<<20, env.pipe, env.keys)
					b.ReportMetric(node.ratio, "node-miss")
					b.ReportMetric(node.zipfRatio, "node-zipf-miss")
					b.ReportMetric(node.meanLen, "keys")
					b.ReportMetric(tr.scanShare(), "scan-share")
					type bound struct {
						name string
						hits []bool
					}
					bounds := []bound{
						{"compulsory", tr.repeatHits()},
						{"static", tr.staticHits(capacity, tr.gains())},
						{"min", tr.minHits(int(math.Round(node.meanLen)))},
						{"pfoo", tr.pfooHits(capacity)},
						{"lfu", tr.rankedHits(capacity, tr.countPerByte)},
					}
					if pop != nil {
						bounds = append(bounds, bound{"a0", tr.rankedHits(capacity, func(o int32, _ float64) float64 {
							return pop[o] / float64(tr.cost[o])
						})})
					}
					for _, bound := range bounds {
						all, zipf := tr.missRatios(bound.hits)
						b.ReportMetric(all, bound.name+"-miss")
						b.ReportMetric(zipf, bound.name+"-zipf-miss")
					}
				}
			})
		}
	}
}

// noNext is oracleTrace.next for an object's last request.
const noNext = math.MaxInt32

// An oracleTrace is a trace prepared for the offline bounds.
type oracleTrace struct {
	obj  []int32  // per request: its object, numbered from 0 in order of first request
	next []int32  // per request: the index of its object's next request, or noNext
	scan []bool   // per request: a scan key's (an object from the trace's key count on)
	cost []int64  // per object: the memory it takes in the cache
	id   []uint64 // per object: its trace id
	warm int      // the requests before it are not measured
}

// newOracleTrace prepares trace, whose objects from keys on are scan keys,
// with an object's memory given by cost; the first 20% of the requests
// are not measured.
func newOracleTrace(trace []loadtest.TraceRequest, keys int, cost func(id uint64) int64) *oracleTrace {
	tr := &oracleTrace{
		obj:  make([]int32, len(trace)),
		next: make([]int32, len(trace)),
		scan: make([]bool, len(trace)),
		warm: len(trace) / 5,
	}
	num := make(map[uint64]int32)
	for i, q := range trace {
		o, ok := num[q.ID]
		if !ok {
			o = int32(len(tr.cost))
			num[q.ID] = o
			tr.cost = append(tr.cost, cost(q.ID))
			tr.id = append(tr.id, q.ID)
		}
		tr.obj[i] = o
		tr.scan[i] = q.ID >= uint64(keys)
	}
	last := make([]int32, len(tr.cost))
	for o := range last {
		last[o] = noNext
	}
	for i := len(trace) - 1; i >= 0; i-- {
		tr.next[i] = last[tr.obj[i]]
		last[tr.obj[i]] = int32(i)
	}
	return tr
}

// missRatios returns the miss ratio of the measured requests that are not
// hits, and that of those among them that are not scans.
func (tr *oracleTrace) missRatios(hits []bool) (all, zipf float64) {
	var n, misses, nz, zmisses int
	for i := tr.warm; i < len(hits); i++ {
		n++
		if !tr.scan[i] {
			nz++
		}
		if !hits[i] {
			misses++
			if !tr.scan[i] {
				zmisses++
			}
		}
	}
	return float64(misses) / float64(max(n, 1)), float64(zmisses) / float64(max(nz, 1))
}

// scanShare returns the share of the measured requests that are scans.
func (tr *oracleTrace) scanShare() float64 {
	n := 0
	for _, s := range tr.scan[tr.warm:] {
		if s {
			n++
		}
	}
	return float64(n) / float64(max(len(tr.scan)-tr.warm, 1))
}

// gains returns, per object, its measured requests that can hit: all but
// its first request.
func (tr *oracleTrace) gains() []float64 {
	gain := make([]float64, len(tr.cost))
	seen := make([]bool, len(tr.cost))
	for i, o := range tr.obj {
		if seen[o] && i >= tr.warm {
			gain[o]++
		}
		seen[o] = true
	}
	return gain
}

// repeatHits returns the hits of an infinite cache: every request but
// each object's first.
func (tr *oracleTrace) repeatHits() []bool {
	hits := make([]bool, len(tr.obj))
	seen := make([]bool, len(tr.cost))
	for i, o := range tr.obj {
		hits[i] = seen[o]
		seen[o] = true
	}
	return hits
}

// staticHits returns the hits of a static cache of capacity bytes: it
// holds the objects of highest weight per byte of cost, taken greedily
// (an object that does not fit is passed over for smaller ones; objects
// of weight 0 are not held), each from its first request on.
func (tr *oracleTrace) staticHits(capacity int64, weight []float64) []bool {
	var order []int32
	for o, w := range weight {
		if w > 0 {
			order = append(order, int32(o))
		}
	}
	slices.SortFunc(order, func(a, b int32) int {
		// weight[a]/cost[a] > weight[b]/cost[b] first
		return cmp.Compare(weight[b]*float64(tr.cost[a]), weight[a]*float64(tr.cost[b]))
	})
	held := make([]bool, len(tr.cost))
	for _, o := range order {
		if tr.cost[o] <= capacity {
			held[o] = true
			capacity -= tr.cost[o]
		}
	}
	hits := make([]bool, len(tr.obj))
	seen := make([]bool, len(tr.cost))
	for i, o := range tr.obj {
		hits[i] = held[o] && seen[o]
		seen[o] = true
	}
	return hits
}

// zipfPopularity returns, per object of tr, its probability (not
// normalised) of being a Zipf request of a trace that loadtest.GenerateTrace
// made with seed 1, Zipf 0.9 and keys objects (0 for scan keys), by
// drawing the permutation of ranks as GenerateTrace draws it. It fails if
// the trace's three most requested objects are not those of ranks 1-3.
func zipfPopularity(tr *oracleTrace, keys int) ([]float64, error) {
	perm := rand.New(rand.NewPCG(1, 0x7ace)).Perm(keys)
	rank := make([]int, keys)
	for k, id := range perm {
		rank[id] = k
	}
	p := make([]float64, len(tr.cost))
	for o, id := range tr.id {
		if id < uint64(keys) {
			p[o] = math.Pow(float64(rank[id]+1), -0.9)
		}
	}
	count := make([]int, len(tr.cost))
	for _, o := range tr.obj {
		count[o]++
	}
	byCount := make([]int, len(tr.cost))
	for o := range byCount {
		byCount[o] = o
	}
	slices.SortFunc(byCount, func(a, b int) int { return cmp.Compare(count[b], count[a]) })
	for k := range min(3, keys, len(byCount)) {
		if id := tr.id[byCount[k]]; id >= uint64(keys) || rank[id] != k {
			return nil, fmt.Errorf("the trace's most requested objects are not where GenerateTrace's permutation puts ranks 1-3 (did it change?)")
		}
	}
	return p, nil
}

// minHits returns the hits of Belady's MIN with room for k objects of any
// size: a held object stays until a missed one is requested again sooner
// than it (the held object requested again latest goes); a missed object
// requested again later than every held one, or never, is not admitted,
// and a held object is dropped after its last request.
func (tr *oracleTrace) minHits(k int) []bool {
	h := newRankHeap(len(tr.cost)) // ranked by next request, latest first
	hits := make([]bool, len(tr.obj))
	for i, o := range tr.obj {
		nx := tr.next[i]
		rank := -float64(nx)
		if p := h.pos[o]; p >= 0 {
			hits[i] = true
			if nx == noNext {
				heap.Remove(h, int(p))
				continue
			}
			h.rank[o] = rank
			heap.Fix(h, int(p))
			continue
		}
		switch {
		case nx == noNext || k <= 0:
		case h.Len() < k:
			h.rank[o] = rank
			heap.Push(h, o)
		case h.rank[h.objs[0]] < rank:
			heap.Pop(h)
			h.rank[o] = rank
			heap.Push(h, o)
		}
	}
	return hits
}

// rankedHits returns the hits of an online cache of capacity bytes that
// ranks objects by rank(object, its requests so far) and admits a missed
// object only if it outranks every object it has to evict (the lowest
// ranked first) to fit. The requests are counted from the start, for
// every object (unbounded memory, not charged).
func (tr *oracleTrace) rankedHits(capacity int64, rank func(o int32, count float64) float64) []bool {
	h := newRankHeap(len(tr.cost)) // lowest rank first
	count := make([]float64, len(tr.cost))
	hits := make([]bool, len(tr.obj))
	var used int64
	var out []int32 // victims taken out of h, put back if o is not admitted
	for i, o := range tr.obj {
		count[o]++
		r := rank(o, count[o])
		if p := h.pos[o]; p >= 0 {
			hits[i] = true
			h.rank[o] = r
			heap.Fix(h, int(p))
			continue
		}
		if tr.cost[o] > capacity {
			continue
		}
		out = out[:0]
		for used+tr.cost[o] > capacity && h.rank[h.objs[0]] < r {
			v := heap.Pop(h).(int32)
			out = append(out, v)
			used -= tr.cost[v]
		}
		if used+tr.cost[o] > capacity {
			for _, v := range out {
				heap.Push(h, v)
				used += tr.cost[v]
			}
			continue
		}
		h.rank[o] = r
		heap.Push(h, o)
		used += tr.cost[o]
	}
	return hits
}

// countPerByte is the perfect LFU's rank: an object's requests so far
// per byte of its cost.
func (tr *oracleTrace) countPerByte(o int32, count float64) float64 {
	return count / float64(tr.cost[o])
}

// rankHeap is a min-heap of held objects by rank, with each object's place
// in it (-1: not held).
type rankHeap struct {
	objs []int32
	pos  []int32   // per object
	rank []float64 // per object
}

func newRankHeap(objects int) *rankHeap {
	h := &rankHeap{pos: make([]int32, objects), rank: make([]float64, objects)}
	for o := range h.pos {
		h.pos[o] = -1
	}
	return h
}

func (h *rankHeap) Len() int           { return len(h.objs) }
func (h *rankHeap) Less(i, j int) bool { return h.rank[h.objs[i]] < h.rank[h.objs[j]] }
func (h *rankHeap) Swap(i, j int) {
	h.objs[i], h.objs[j] = h.objs[j], h.objs[i]
	h.pos[h.objs[i]] = int32(i)
	h.pos[h.objs[j]] = int32(j)
}
func (h *rankHeap) Push(x any) {
	o := x.(int32)
	h.pos[o] = int32(len(h.objs))
	h.objs = append(h.objs, o)
}
func (h *rankHeap) Pop() any {
	o := h.objs[len(h.objs)-1]
	h.objs = h.objs[:len(h.objs)-1]
	h.pos[o] = -1
	return o
}

// pfooHits returns the hits of PFOO-L's relaxation with capacity bytes:
// a hit at request j, whose object was requested last at i, needs the
// object held from i to j, cost(object) × (j-i) byte-requests, and all
// hits together fit in capacity × len(trace); the cheapest measured hits
// are taken. No policy hits more.
func (tr *oracleTrace) pfooHits(capacity int64) []bool {
	type interval struct {
		cost int64
		end  int32
	}
	var iv []interval
	for i, j := range tr.next {
		if j != noNext && int(j) >= tr.warm {
			iv = append(iv, interval{tr.cost[tr.obj[i]] * int64(int(j)-i), j})
		}
	}
	slices.SortFunc(iv, func(a, b interval) int { return cmp.Compare(a.cost, b.cost) })
	budget := capacity * int64(len(tr.obj))
	hits := make([]bool, len(tr.obj))
	for _, x := range iv {
		if x.cost > budget {
			break
		}
		budget -= x.cost
		hits[x.end] = true
	}
	return hits
}
