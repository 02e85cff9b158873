package store

import (
	"math/rand/v2"
	"slices"
)

// Eviction works per shard, in batches. EnsureMemory picks a victim shard
// (the one holding the oldest, or soonest-expiring, of a few sampled entries
// from a few random shards, as Redis samples keys), sorts that shard's
// candidates by the policy (idle time for LRU, expiry time for
// volatile-ttl, random otherwise), evicts them in order until enough bytes
// are freed (at least an eighth of the shard, so the cost of the
// compaction that follows is amortised), and compacts the shard so the
// freed bytes really return. Used memory therefore drops as soon as a batch
// completes, and the store never holds much dead space.

const (
	victimShards  = 4 // shards sampled to choose a victim
	victimSamples = 5 // entries sampled per shard (Redis's maxmemory-samples)
	maxBatches    = 1 << 16
)

// EnsureMemory evicts keys per the policy until used memory is within the
// limit. It returns ErrOOM when it cannot: with noeviction, or when no key
// is eligible (a volatile-* policy with no key that has a TTL, or an empty
// store whose fixed overhead already exceeds the limit). The server calls
// it before executing a command that may grow memory, as Redis does.
func (s *Store) EnsureMemory() error {
	limit := s.maxMemory.Load()
	if limit <= 0 || s.used.Load() <= limit || s.expiryPaused() {
		return nil // nothing to do, or paused: no eviction (Redis's CLIENT PAUSE)
	}
	p := Policy(s.policy.Load())
	if p == NoEviction {
		return ErrOOM
	}
	return s.evictFor(p, 0)
}

// evictFor evicts per policy p until used memory plus n is within the
// limit; ErrOOM when no eligible key is left or maxBatches did not do.
func (s *Store) evictFor(p Policy, n int64) error {
	s.evictMu.Lock()
	defer s.evictMu.Unlock()
	s.rankRecency = p.TinyLFU() && s.duel.recency.Load()
	for k := 0; k < maxBatches; k++ {
		over := s.used.Load() + n - s.maxMemory.Load()
		if over <= 0 {
			return nil
		}
		sh := s.pickVictim(p)
		if sh == nil {
			return ErrOOM
		}
		s.evictBatch(sh, p, over)
	}
	return ErrOOM
}

func eligible(sh *shard, p Policy) bool {
	if p.volatile() {
		return sh.nvol.Load() > 0
	}
	return sh.nkeys.Load() > 0
}

// pickVictim returns the shard to evict from, or nil if no key is eligible.
func (s *Store) pickVictim(p Policy) *shard {
	var best *shard
	var bestScore uint64
	for k := 0; k < victimShards; k++ {
		sh := s.randomShard(func(sh *shard) bool { return eligible(sh, p) })
		if sh == nil {
			return nil
		}
		sh.mu.Lock()
		score := s.sampleScoreLocked(sh, p)
		sh.mu.Unlock()
		if best == nil || score > bestScore {
			best, bestScore = sh, score
		}
	}
	return best
}

// sampleScoreLocked samples a few entries of sh and returns how good a
// victim the shard is: higher is better.
func (s *Store) sampleScoreLocked(sh *shard, p Policy) uint64 {
	if p == AllKeysRandom || p == VolatileRandom {
		return uint64(sh.mem) // random policies: balance memory across shards
	}
	best := s.sampleIn(sh, sh.table, p)
	if sh.old != nil { // during a resize, sample what is left of the previous table too
		best = max(best, s.sampleIn(sh, sh.old[sh.mig:], p))
	}
	return best
}

// sampleIn is sampleScoreLocked for the slots t.
func (s *Store) sampleIn(sh *shard, t []uint64, p Policy) uint64 {
	if len(t) == 0 {
		return 0
	}
	var best uint64
	clk, now := s.clock.Load(), s.nowMs()
	r := rand.IntN(len(t))
	seen := 0
	for k := 0; k < len(t) && seen < victimSamples; k++ {
		sl := t[(r+k)%len(t)]
		if sl == 0 {
			continue
		}
		b := sh.entry(slotOff(sl))
		if p.volatile() && b[0]&flagTTL == 0 {
			continue
		}
		seen++
		if sc := s.evictScore(sh, b, p, clk, now); sc > best {
			best = sc
		}
	}
	return best
}

// evictScore rates entry b, of sh, as an eviction candidate at
// LRU clock clk and time now: higher goes first. Scores fit in 32 bits.
func (s *Store) evictScore(sh *shard, b []byte, p Policy, clk uint32, now int64) uint64 {
	switch p {
	case AllKeysLRU, VolatileLRU:
		return uint64(clk - entryLRU(b)) // idle time, wrap-safe
	case AllKeysLFU, VolatileLFU:
		return uint64(255 - s.lfuDecr(entryLRU(b), now))
	case AllKeysTinyLFU, VolatileTinyLFU:
		idle := clk - entryLRU(b)
		_, _, size := entryKV(b)
		if sc, ok := tinyOrderScore(b[0], s.rankRecency, s.probationFirst, idle, size); ok {
			return sc
		}
		return tinyLFUScore(entryCount(b), s.idleRequests(sh, idle), uint64(sh.sketch.limit)*uint64(len(s.shards)), idle, size)
	case VolatileTTL:
		rel := entryExp(b) - now
		rel = min(max(rel, 0), 1<<32-1)
		return uint64(1<<32 - 1 - rel)
	default:
		return uint64(rand.Uint32())
	}
}

// evictBatch evicts about an eighth of the eligible entries of sh, in
// policy order, then compacts it. An eighth keeps the copying done by
// compaction to about seven bytes per byte evicted while evicting, at any
// time, at most a small fraction (1/8 of 1/Shards) of the cache early. If
// the shard's dead space alone covers over, it only compacts.
func (s *Store) evictBatch(sh *shard, p Policy, over int64) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.finishResizeLocked(s)
	if sh.dead() >= over {
		sh.compactLocked(s)
		return
	}
	target := max((sh.live+sh.largeMem)/8, 1)
	cands, slots := s.scratch[:0], s.slots[:0]
	clk, now := s.clock.Load(), s.nowMs()
	s.probationFirst = p.TinyLFU() && !s.rankRecency && sh.probationBytesLocked()*tinyProbationShare >= sh.live+sh.largeMem
	defer func() { s.probationFirst = false }()
	for _, sl := range sh.table {
		if sl == 0 {
			continue
		}
		b := sh.entry(slotOff(sl))
		if p.volatile() && b[0]&flagTTL == 0 {
			continue
		}
		sc := uint64(1<<32-1) - s.evictScore(sh, b, p, clk, now)
		cands = append(cands, sc<<32|uint64(len(slots)))
		slots = append(slots, sl)
	}
	// A batch takes about an eighth of the shard: only the lowest quarter
	// of the candidates is sorted, the rest only if that does not do.
	sorted := min(len(cands), len(cands)/4+1)
	selectLowest(cands, sorted)
	slices.Sort(cands[:sorted])
	var freed int64
	for k := 0; k < len(cands) && freed < target; k++ {
		if k == sorted {
			slices.Sort(cands[k:])
			sorted = len(cands)
		}
		c := cands[k]
		i := sh.findSlotLocked(slots[uint32(c)])
		if i < 0 {
			continue
		}
		b := sh.entry(slotOff(sh.table[i]))
		_, _, size := entryKV(b)
		if off := slotOff(sh.table[i]); off&largeFlag != 0 {
			freed += int64(cap(sh.large[off&^largeFlag]))
		} else {
			freed += int64(size)
		}
		if p.TinyLFU() && entryCount(b) <= 1 {
			s.evictedCold.Add(1)
		}
		s.notifyRemoved(b)
		s.removeAtLocked(sh, i, b)
		s.evicted.Add(1)
	}
	if sh.dead() > 0 {
		sh.compactLocked(s)
	}
	if n := int(sh.nkeys.Load()); sh.n > 16 && n < sh.n*3/8 {
		sh.resizeLocked(n*3/2+1, s, 0) // give back index memory too
	}
	sh.maybeCompactLocked(s)
	if cap(cands) <= 1<<16 { // keep moderate scratch buffers for next time
		s.scratch, s.slots = cands[:0], slots[:0]
	}
}

// tinyOrderScore is the TinyLFU eviction score of an entry with the given
// flags, idle for idle clock ticks, of size bytes, when something other
// than its frequency decides it: burst entries first (flagBurst), oldest
// first; then, when the store ranks by recency, idle time per byte
// (recencyScore); otherwise probationary entries (flagNew) first, oldest
// first, when probFirst. ok is false when tinyLFUScore decides. The
// store's eviction and the ranking duel's simulations both rank with it.
func tinyOrderScore(flags byte, recency, probFirst bool, idle uint32, size int) (sc uint64, ok bool) {
	switch {
	case flags&flagBurst != 0:
		return tinyBurst | uint64(min(idle, tinyBurst-tinyProbation-1)), true
	case recency:
		return recencyScore(idle, size), true
	case probFirst && flags&flagNew != 0:
		return tinyProbation | uint64(min(idle, tinyBurst-tinyProbation-1)), true
	}
	return 0, false
}

// tinyLFUScore orders TinyLFU eviction candidates other than probationary
// ones: the lowest frequency per byte first, the longest idle first among
// equals (idle time counts up to 2^20 clock ticks, about 4M writes). freq
// is the entry's access count, aged over about window requests; an entry
// idle for idleReq requests cannot have been read more often than once
// per idleReq lately, so its frequency is capped at
// tinyRateCap x window/idleReq: an entry that was frequent but is no longer
// read loses its place, while one read at its usual pace keeps it. The
// density (2 x freq + 1) x 1024 / size (size: the entry's bytes) ranks a
// large entry below a small one of the same frequency, since evicting it
// frees room for more keys (NOTES.md has the measurements).
func tinyLFUScore(freq, idleReq, window uint64, idle uint32, size int) uint64 {
	if idleReq > 0 {
		freq = min(freq, tinyRateCap*window/idleReq)
	}
	d := min((2*freq+1)<<10/uint64(max(size, 1)), tinyDensityMax)
	return (tinyDensityMax-d)<<20 | uint64(min(idle, 1<<20-1))
}

const (
	// tinyRateCap is the factor of tinyLFUScore's cap.
	tinyRateCap = 2
	// tinyDensityMax bounds tinyLFUScore's density (11 bits).
	tinyDensityMax = 1<<11 - 1
	// tinyProbation is the lowest score of a probationary entry (flagNew)
	// in a batch where they go first, above every tinyLFUScore.
	tinyProbation = 1 << 31
	// tinyBurst is the lowest score of a burst entry (flagBurst, written
	// during a flood of new keys), above every other: burst entries go
	// first, oldest first, whatever the probationary share.
	tinyBurst = tinyProbation | 1<<30
	// tinyProbationShare: probationary entries go first in a shard's
	// eviction batch when they hold at least 1/tinyProbationShare of its
	// live bytes (large entries included); below that they rank by frequency like the others, so a
	// new key has time for a second read (S3-FIFO's small queue holds
	// 10% of the cache for the same reason).
	tinyProbationShare = 4
)

// idleRequests estimates how many requests the store served during idle
// clock ticks, from sh's hit ratio: the clock advances once per 4 writes,
// and a write follows each miss.
func (s *Store) idleRequests(sh *shard, idle uint32) uint64 {
	return uint64(float64(idle) * 4 * float64(sh.hits+sh.misses+1) / float64(sh.misses+1))
}

// probationBytesLocked returns the bytes of sh's probationary entries
// (flagNew).
func (sh *shard) probationBytesLocked() int64 {
	var n int64
	for _, sl := range sh.table {
		if sl == 0 {
			continue
		}
		if b := sh.entry(slotOff(sl)); b[0]&flagNew != 0 {
			_, _, size := entryKV(b)
			n += int64(size)
		}
	}
	return n
}

// selectLowest reorders a so that its k lowest values come first, in no
// particular order (quickselect, median-of-three pivots).
func selectLowest(a []uint64, k int) {
	lo, hi := 0, len(a)-1
	for k > 0 && k < len(a) && lo < hi {
		m := lo + (hi-lo)/2
		if a[m] < a[lo] {
			a[m], a[lo] = a[lo], a[m]
		}
		if a[hi] < a[lo] {
			a[hi], a[lo] = a[lo], a[hi]
		}
		if a[hi] < a[m] {
			a[hi], a[m] = a[m], a[hi]
		}
		pivot := a[m]
		i, j := lo, hi
		for i <= j {
			for a[i] < pivot {
				i++
			}
			for a[j] > pivot {
				j--
			}
			if i <= j {
				a[i], a[j] = a[j], a[i]
				i++
				j--
			}
		}
		switch { // a[lo:j+1] <= pivot <= a[i:hi+1]
		case k-1 <= j:
			hi = j
		case k-1 >= i:
			lo = i
		default:
			return
		}
	}
}
