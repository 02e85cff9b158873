package store

import (
	"math"
	"slices"
	"sync"
	"sync/atomic"
)

// Under the TinyLFU policies the store ranks eviction candidates in one of
// two ways: by frequency per byte, with probation and the idle
// cap (tinyLFUScore), which keeps a stable hot set through scans; or by
// idle time per byte (recencyScore), which follows a hot set that moves
// faster than the sketch forgets. A duel picks one, in the manner of set
// dueling in CPU caches and of miniature cache simulations (Waldspurger et
// al., USENIX ATC 2017): two small simulated caches, one per ranking, see
// the accesses of the same sample of keys (one in duelSample, by hash)
// with the sampled share of the store's memory limit, and the store ranks
// as the simulation that missed less lately. Both simulations see exactly
// the same requests, so workload noise does not sway the comparison as it
// sways a hill climber on the store's own hit ratio; a switch needs a
// difference of duelZ standard deviations of the requests on which the
// two disagreed.

const (
	// duelSample: one key in duelSample takes part in the simulations.
	duelSample = 32
	// duelPeriod is how many sampled reads pass between two verdicts; the
	// counts are halved at each, so a verdict weighs the last few periods.
	duelPeriod = 512
	// duelZ is the significance a verdict needs to switch.
	duelZ = 3
	// duelEntryBytes is what a simulated entry costs (the entry and its
	// map slot), accounted in used memory.
	duelEntryBytes = 28
)

// duel holds the two simulations and the verdict.
type duel struct {
	recency  atomic.Bool   // the store ranks by recency
	switches atomic.Uint64 // verdicts that changed the ranking
	bytes    atomic.Int64  // accounted in the store's used memory

	mu       sync.Mutex
	sims     [2]miniCache // 0: frequency ranking, 1: recency
	clock    uint32       // sampled reads so far
	reads    int          // sampled reads since the last verdict
	disagree float64      // sampled reads that only one simulation missed (halved at each verdict)
	window   uint64       // the sketch's window in requests, as last seen
	order    []uint64     // scratch for evict
	gone     []bool       // scratch for evict
}

// miniCache is a simulated cache of sampled keys: their sizes and access
// history, no data.
type miniCache struct {
	idx    map[uint32]int32 // key tag -> position in ents
	ents   []miniEntry
	bytes  int64
	misses float64 // halved at each verdict
}

type miniEntry struct {
	tag   uint32
	size  uint32 // the entry's bytes in the store
	stamp uint32 // duel clock of the last access
	freq  uint8  // the key's frequency at the last access (the store's access count or the sketch's estimate)
	flags byte   // flagNew and flagBurst, as the store's entry has them
}

// duelSampled reports whether the key with tag takes part in the duel.
func duelSampled(tag uint32) bool { return tag%duelSample == 0 }

// recencyScore is the eviction score of an entry of size bytes idle for
// idle clock ticks when the store ranks by recency: idle time per byte, so
// that of two entries idle as long the larger goes first (it frees room
// for more keys), as tinyLFUScore ranks by frequency per byte.
func recencyScore(idle uint32, size int) uint64 {
	return min(uint64(idle)*uint64(max(size, 1))>>9, tinyProbation-1)
}

// read records a sampled read of tag, a hit or a miss in each simulation;
// freq is the key's frequency after counting it (its access count if the
// store holds it, else the sketch's estimate), window the sketch's
// window in requests, limit the store's memory limit. size is the key's
// entry size if the store holds it (0 if the read missed): a simulation
// that misses such a key stores it, as the client's write after a miss
// would (a key the store misses comes back through write). It returns the
// change in the accounted bytes.
func (d *duel) read(tag uint32, freq uint8, window uint64, size int, limit int64) int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.clock++
	d.window = window
	var missed [2]bool
	for k := range d.sims {
		m := &d.sims[k]
		if i, ok := m.idx[tag]; ok {
			e := &m.ents[i]
			e.stamp, e.freq = d.clock, freq
			e.flags &^= flagNew | flagBurst // read: as touchLocked does
			continue
		}
		m.misses++
		missed[k] = true
		if size > 0 {
			d.storeLocked(k, tag, size, freq, 0, limit)
		}
	}
	if missed[0] != missed[1] {
		d.disagree++
	}
	if d.reads++; d.reads >= duelPeriod {
		d.verdictLocked()
	}
	return d.accountLocked()
}

// verdictLocked switches the ranking when the other simulation missed
// significantly less, then halves the counts.
func (d *duel) verdictLocked() {
	d.reads = 0
	f, r := d.sims[0].misses, d.sims[1].misses
	z := duelZ * math.Sqrt(d.disagree)
	switch rec := d.recency.Load(); {
	case !rec && f-r > z, rec && r-f > z:
		d.recency.Store(!rec)
		d.switches.Add(1)
	}
	d.disagree /= 2
	for k := range d.sims {
		d.sims[k].misses /= 2
	}
}

// write records a sampled write of a key new to the store, with tag, entry
// size, the sketch's estimate freq and the entry's flagNew and flagBurst,
// under the store's memory limit: each simulation stores it. It returns
// the change in the accounted bytes.
func (d *duel) write(tag uint32, size int, freq uint8, flags byte, limit int64) int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	for k := range d.sims {
		d.storeLocked(k, tag, size, freq, flags, limit)
	}
	return d.accountLocked()
}

// storeLocked stores tag in simulation k, which then evicts down to its
// share of the store's memory limit.
func (d *duel) storeLocked(k int, tag uint32, size int, freq uint8, flags byte, limit int64) {
	m := &d.sims[k]
	if m.idx == nil {
		m.idx = make(map[uint32]int32)
	}
	if i, ok := m.idx[tag]; ok {
		e := &m.ents[i]
		m.bytes += int64(size) - int64(e.size)
		e.size, e.stamp = uint32(size), d.clock
	} else {
		m.idx[tag] = int32(len(m.ents))
		m.ents = append(m.ents, miniEntry{tag: tag, size: uint32(size), stamp: d.clock, freq: freq, flags: flags})
		m.bytes += int64(size)
	}
	if capacity := limit / duelSample; m.bytes > capacity {
		d.evictLocked(m, k == 1, capacity-capacity/16)
	}
}

// accountLocked updates the accounted bytes and returns the change.
func (d *duel) accountLocked() int64 {
	n := int64(len(d.sims[0].ents)+len(d.sims[1].ents)) * duelEntryBytes
	return n - d.bytes.Swap(n)
}

// evictLocked removes m's entries in its ranking's order until it holds
// at most target bytes, as the store's eviction batches do.
func (d *duel) evictLocked(m *miniCache, recency bool, target int64) {
	var prob int64
	for i := range m.ents {
		if m.ents[i].flags&flagNew != 0 {
			prob += int64(m.ents[i].size)
		}
	}
	probFirst := !recency && prob*tinyProbationShare >= m.bytes
	order := d.order[:0]
	for i := range m.ents {
		e := &m.ents[i]
		idle := d.clock - e.stamp
		sc, ok := tinyOrderScore(e.flags, recency, probFirst, idle, int(e.size))
		if !ok {
			sc = tinyLFUScore(uint64(e.freq), uint64(idle)*duelSample, d.window, idle, int(e.size))
		}
		order = append(order, (1<<32-1-sc)<<32|uint64(i))
	}
	slices.Sort(order)
	gone := slices.Grow(d.gone[:0], len(m.ents))[:len(m.ents)]
	clear(gone)
	for _, o := range order {
		if m.bytes <= target {
			break
		}
		i := uint32(o)
		gone[i] = true
		m.bytes -= int64(m.ents[i].size)
		delete(m.idx, m.ents[i].tag)
	}
	kept := m.ents[:0]
	for i, e := range m.ents {
		if !gone[i] {
			m.idx[e.tag] = int32(len(kept))
			kept = append(kept, e)
		}
	}
	m.ents = kept
	d.order, d.gone = order, gone
}

// reset empties the simulations (FLUSHALL, or leaving the TinyLFU
// policies) and returns the change in the accounted bytes. The verdict
// stays.
func (d *duel) reset() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.sims = [2]miniCache{}
	d.order, d.gone = nil, nil
	d.reads, d.disagree = 0, 0
	return -d.bytes.Swap(0)
}

// duelReadLocked passes a read of the key with tag in sh (already counted
// in its sketch; b: its entry if held, else nil) to the duel if the key is
// sampled. It inlines, so that an unsampled read costs one test.
func (s *Store) duelReadLocked(sh *shard, tag uint32, b []byte) {
	if duelSampled(tag) {
		s.duelRead(sh, tag, b)
	}
}

// duelRead is duelReadLocked for a sampled key, when memory is bounded.
func (s *Store) duelRead(sh *shard, tag uint32, b []byte) {
	limit := s.maxMemory.Load()
	if limit <= 0 {
		return
	}
	size, freq := 0, sh.sketch.estimate(tag)
	if b != nil {
		_, _, size = entryKV(b)
		freq = entryCount(b)
	}
	s.used.Add(s.duel.read(tag, uint8(freq), uint64(sh.sketch.limit)*uint64(len(s.shards)), size, limit))
}

// duelWriteLocked passes a write of a new key with tag (size: its entry's
// bytes; est: the sketch's estimate; flags: its flagNew and flagBurst) to
// the duel if the key is sampled and memory is bounded.
func (s *Store) duelWriteLocked(tag uint32, size int, est uint64, flags byte) {
	if limit := s.maxMemory.Load(); duelSampled(tag) && limit > 0 {
		s.used.Add(s.duel.write(tag, size, uint8(est), flags, limit))
	}
}

// resetDuel empties the duel's simulations and gives back their bytes.
func (s *Store) resetDuel() { s.used.Add(s.duel.reset()) }
