package store

import "sync"

// Idle time (OBJECT IDLETIME). An entry's LRU stamp is the store's logical
// clock at its last access; the clock counts writes (see lru) and is also
// ticked once a second by the expiry goroutine, so a stamp changes with time
// even when nothing is written. To turn a stamp back into a time, the store
// keeps checkpoints (clock value, time) at three resolutions: every second
// for the last 10 minutes, every minute for the last day and every hour for
// the last 194 days (Redis's LRU clock wraps after 194 days too), about
// 6,700 checkpoints (107 KB) in all. A key's last access lies between the
// last checkpoint before it and the first after it; the idle time is
// measured from their midpoint, so it is within half a second for the last
// 10 minutes, half a minute for the last day, half an hour beyond.

// idleLevels are the checkpoint resolutions (milliseconds) and how many of
// each are kept.
var idleLevels = [...]struct {
	every int64
	keep  int
}{
	{1000, 600},
	{60 * 1000, 24 * 60},
	{3600 * 1000, 194 * 24},
}

type checkpoint struct {
	at    int64 // Unix milliseconds
	clock uint32
}

// checkpointRing holds the most recent checkpoints of one resolution.
type checkpointRing struct {
	cps  []checkpoint // ring; the newest is at next-1
	next int
	n    int
	last int64 // time of the newest checkpoint
}

func (r *checkpointRing) add(cp checkpoint) {
	r.cps[r.next] = cp
	r.next = (r.next + 1) % len(r.cps)
	r.n = min(r.n+1, len(r.cps))
	r.last = cp.at
}

// idleHistory is the store's set of checkpoint rings.
type idleHistory struct {
	mu     sync.Mutex
	levels [len(idleLevels)]checkpointRing
}

func (h *idleHistory) init(cp checkpoint) {
	for i := range h.levels {
		h.levels[i].cps = make([]checkpoint, idleLevels[i].keep)
		h.levels[i].add(cp)
	}
}

// tickClock advances the LRU clock and records a checkpoint if a second has
// passed since the last one. The expiry goroutine calls it every cycle.
func (s *Store) tickClock() {
	now := s.nowMs()
	h := &s.idle
	h.mu.Lock()
	defer h.mu.Unlock()
	if now-h.levels[0].last < idleLevels[0].every {
		return
	}
	cp := checkpoint{at: now, clock: s.clock.Add(1)}
	for i := range h.levels {
		if now-h.levels[i].last >= idleLevels[i].every {
			h.levels[i].add(cp)
		}
	}
}

// accessedAt estimates when the clock stood at stamp: between the last
// checkpoint taken before that (tA) and the first taken after it (tB), so
// it returns their midpoint; (tA+now)/2 if no checkpoint came after; tB if
// the history does not reach back that far. Stamps are compared wrap-safely.
func (s *Store) accessedAt(stamp uint32, now int64) int64 {
	h := &s.idle
	h.mu.Lock()
	defer h.mu.Unlock()
	tA, tB := int64(-1), now+1
	for i := range h.levels {
		r := &h.levels[i]
		for k := 1; k <= r.n; k++ {
			cp := r.cps[(r.next-k+len(r.cps))%len(r.cps)]
			if int32(cp.clock-stamp) <= 0 { // taken before the access
				tA = max(tA, cp.at)
				break // so are all older ones of this level
			}
			tB = min(tB, cp.at)
		}
	}
	switch {
	case tA < 0:
		return tB
	case tB > now:
		return tA + (now-tA)/2
	}
	return tA + (tB-tA)/2
}

// IdleTime returns the time in milliseconds since key was last accessed
// (OBJECT IDLETIME), within half the resolution of the checkpoints covering
// that time (a second for the last 10 minutes, a minute for the last day, an
// hour beyond). Like Peek it counts no hit or miss and does not mark the key as
// used.
func (s *Store) IdleTime(key []byte) (ms int64, ok bool) {
	sh, tag := s.locate(s.hash(key))
	sh.mu.Lock()
	i, b := s.lookupReadLocked(sh, tag, key)
	if i < 0 {
		sh.maybeCompactLocked(s)
		sh.mu.Unlock()
		return 0, false
	}
	stamp := entryLRU(b)
	sh.mu.Unlock()
	now := s.nowMs()
	return max(now-s.accessedAt(stamp, now), 0), true
}
