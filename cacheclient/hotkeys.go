package cacheclient

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
)

// Hot keys.
//
// A key read far more often than others loads its owner more than the ring's
// even share: with one key taking 40% of the reads of a three-node tier, its
// owner serves 60% of them. The client finds its hottest keys among its L2
// reads with a Space-Saving top-K sketch (hotKeys), and with Replicas ≥ 2
// reads a hot key from the less loaded of two of its live owners, by the
// requests each has outstanding from this client (the "power of two
// choices"): the key's load spreads over its replicas, each holding a copy
// written with every write of the key.
//
//	read of hot key k, live owners A (owner) and B (replica)
//	pick the one with fewer requests in flight (a coin toss when they
//	differ by one or less): B
//	GET k on B → fresh entry: answer it
//	           → anything else (nothing, stale, leased, an error): GET k on A,
//	             and go on as for any read of A
//
// Only a fresh entry on a replica answers: a miss, a stale or leased entry,
// or an error there falls back to the owner, where leases and fills happen
// as for any key. A replica that missed a write (it was down, or the write
// to it failed) holds a tombstone in the writer's client (tombstone.go)
// and is cleaned by the writer's health loop; until then another process
// may read the older value from it, within that value's own T1, as it may
// from a failover owner.
//
// The sketch counts single-key L2 reads (the fast path: calls that missed
// L1); GetMany's pipelined reads are neither counted nor spread. Its
// counts decay: every hotWindow reads, they are halved, so a key is hot
// for what it is read now.

// Hot-key sketch parameters.
const (
	hotCounters = 128      // Space-Saving counters: keys above 1/128 of the reads always hold one
	hotWindow   = 64 << 10 // reads between two halvings of the counts
	hotMinReads = 16       // a key is not hot below this many reads in the window
	hotNamed    = 4        // a counter keeps its key's name from this many reads on
	hotStats    = 10       // hot keys reported in Stats and metrics

	// hotTieBand is the difference in outstanding requests within which two
	// replicas count as equally loaded (a coin toss picks one): a node
	// with one request more in flight is not a busier node, and preferring
	// the other on so thin a signal would pile the hot key onto it.
	hotTieBand = 1
)

// defaultHotShare is the default of HotKeysConfig.MinShare.
const defaultHotShare = 0.01

// hotKeys finds the most-read keys with the Space-Saving algorithm (Metwally,
// Agrawal, El Abbadi, 2005): hotCounters counters; a key without one takes
// the counter of the least counted key and inherits its count (plus one),
// remembering that count as its possible overestimate. Every key read more
// than total/hotCounters times holds a counter, and a counter's count is at
// most its key's true count plus its error.
//
// Counters are found by the key's hash; a counter copies its key's name
// only once that key has been counted hotNamed times itself, so that an
// observation of a key read once allocates nothing. An observation costs a
// map lookup and a heap fix under one mutex: callers observe L2 reads
// only, which cost a round trip anyway.
type hotKeys struct {
	minShare float64

	mu     sync.Mutex // protects the fields below
	byHash map[uint64]*hotCounter
	heap   []*hotCounter // a min-heap on count
	total  uint64        // reads observed in the window (halved with the counts)
}

// hotCounter is one Space-Saving counter.
type hotCounter struct {
	h     uint64 // the key's hash (ring.HashKey)
	key   string // the key, once counted hotNamed times; "" before
	count uint64
	err   uint64 // the count inherited when the key took the counter over
	i     int    // index in the heap
}

// HotKey is one of the keys a client reads most from the tier.
type HotKey struct {
	// Key is the key.
	Key string
	// Reads is the estimated number of L2 reads of Key in the recent window
	// (counts are halved every 65,536 reads): at least the true number,
	// at most the true number plus Error.
	Reads uint64
	// Error bounds the overestimate of Reads.
	Error uint64
	// Share is Reads over all of the window's L2 reads.
	Share float64
}

func newHotKeys(minShare float64) *hotKeys {
	return &hotKeys{minShare: minShare, byHash: make(map[uint64]*hotCounter, hotCounters)}
}

// observe counts one L2 read of key (hash h) and reports whether key is
// hot: read at least hotMinReads times and at least minShare of the reads
// in the window, counting only the reads since it took its counter (a lower
// bound of its true count).
func (hk *hotKeys) observe(key string, h uint64) (hot bool) {
	hk.mu.Lock()
	defer hk.mu.Unlock()
	hk.total++
	c, ok := hk.byHash[h]
	switch {
	case ok:
		c.count++
		hk.down(c.i)
	case len(hk.heap) < hotCounters:
		c = &hotCounter{h: h, count: 1, i: len(hk.heap)}
		hk.heap = append(hk.heap, c)
		hk.byHash[h] = c
		hk.up(c.i)
	default:
		c = hk.heap[0] // the least counted: take its counter over
		delete(hk.byHash, c.h)
		c.h, c.key, c.err = h, "", c.count
		c.count++
		hk.byHash[h] = c
		hk.down(0)
	}
	own := c.count - c.err
	if c.key == "" && own >= hotNamed {
		c.key = strings.Clone(key)
	}
	hot = own >= hotMinReads && float64(own) >= hk.minShare*float64(hk.total)
	if hk.total >= hotWindow {
		hk.halve()
	}
	return hot
}

// halve halves every count, error and the total: the heap order holds
// (halving keeps a ≤ b).
func (hk *hotKeys) halve() {
	hk.total /= 2
	for _, c := range hk.heap {
		c.count /= 2
		c.err /= 2
	}
}

// top returns up to n named counters, most read first.
func (hk *hotKeys) top(n int) []HotKey {
	hk.mu.Lock()
	out := make([]HotKey, 0, len(hk.heap))
	total := float64(max(hk.total, 1))
	for _, c := range hk.heap {
		if c.key != "" {
			out = append(out, HotKey{Key: c.key, Reads: c.count, Error: c.err, Share: float64(c.count) / total})
		}
	}
	hk.mu.Unlock()
	slices.SortFunc(out, func(a, b HotKey) int {
		switch {
		case a.Reads > b.Reads:
			return -1
		case a.Reads < b.Reads:
			return 1
		}
		return strings.Compare(a.Key, b.Key)
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}

func (hk *hotKeys) less(i, j int) bool { return hk.heap[i].count < hk.heap[j].count }

func (hk *hotKeys) swap(i, j int) {
	hk.heap[i], hk.heap[j] = hk.heap[j], hk.heap[i]
	hk.heap[i].i, hk.heap[j].i = i, j
}

func (hk *hotKeys) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !hk.less(i, p) {
			return
		}
		hk.swap(i, p)
		i = p
	}
}

func (hk *hotKeys) down(i int) {
	n := len(hk.heap)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && hk.less(r, l) {
			m = r
		}
		if !hk.less(m, i) {
			return
		}
		hk.swap(i, m)
		i = m
	}
}

// hotReplica returns the node to read the hot key (hash h) from instead of
// its live owner nd: of two of its Replicas live owners picked at random,
// the one with fewer requests outstanding from this client, a coin toss
// when they differ by hotTieBand or less; nil when that is nd.
func (t *tier) hotReplica(h uint64, nd *node) *node {
	tp := t.topo.Load()
	var buf [maxReplicas]string
	owners := tp.live.OwnersHash(h, t.cfg.Replicas, buf[:0])
	if len(owners) < 2 {
		return nil
	}
	i, j := 0, 1
	if len(owners) > 2 {
		i = rand.IntN(len(owners))
		j = (i + 1 + rand.IntN(len(owners)-1)) % len(owners)
	}
	a, b := tp.nodes[owners[i]], tp.nodes[owners[j]]
	if a == nil || b == nil {
		return nil
	}
	pick := a
	switch na, nb := a.inflight.Load(), b.inflight.Load(); {
	case na-nb > hotTieBand:
		pick = b
	case nb-na > hotTieBand:
	case rand.IntN(2) == 1:
		pick = b
	}
	if pick == nd {
		return nil
	}
	return pick
}

// readReplica reads hot key (hash h) from the replica rep: r holds the
// read when it found a fresh entry there (ok); anything else is the owner's
// to answer.
func (t *tier) readReplica(ctx context.Context, rep *node, key string, r *l2Read) (ok bool) {
	rr := *r
	rr.asked, rr.mark = true, t.co.mark(key, rep)
	rr.env, rr.found, rr.err = t.getString(ctx, rep, key, r.now)
	if !rr.freshHit() {
		return false
	}
	t.st.hotReplicaReads.Add(1)
	*r = rr
	return true
}
