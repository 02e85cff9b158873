package store

import "time"

// Active expiry, like Redis's activeExpireCycle: every ExpireInterval a
// background goroutine sweeps the index of shards that have keys with a
// TTL, a step of sweepStep slots at a time from a per-shard cursor, and
// removes the expired entries it finds. While a step finds more than 10%
// of the TTL keys it examines expired, it keeps sweeping that shard. A
// cycle stops after a quarter of the interval (Redis's 25% CPU budget) and
// resumes where it stopped, so every key is examined within a few cycles.

const sweepStep = 512

func (s *Store) expireLoop(every time.Duration, tick func()) {
	defer close(s.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			if tick != nil {
				tick()
			}
			s.tickClock()
			if !s.expiryPaused() {
				s.expireCycle(every / 4)
			}
		}
	}
}

// expireCycle runs one active expiry cycle within budget.
func (s *Store) expireCycle(budget time.Duration) {
	start := time.Now()
	n := len(s.shards)
	for k := 0; k < n; k++ {
		idx := (s.expShard + k) % n
		sh := &s.shards[idx]
		if sh.nvol.Load() == 0 {
			continue
		}
		for {
			examined, expired := s.sweepShard(sh)
			if examined == 0 || expired*10 <= examined {
				break
			}
			if time.Since(start) > budget {
				s.expShard = idx
				return
			}
		}
		if time.Since(start) > budget {
			s.expShard = (idx + 1) % n
			return
		}
	}
}

// sweepShard examines up to sweepStep slots of sh from its cursor, removing
// expired keys. It returns how many keys with a TTL it examined and expired.
func (s *Store) sweepShard(sh *shard) (examined, expired int) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.old != nil {
		// Move a resize forward, so keys left in the previous table (which
		// the sweep does not look at) are swept soon even without traffic.
		sh.migrateLocked(sweepStep, s)
	}
	now := s.nowMs()
	i := sh.expCursor
	if i >= len(sh.table) {
		i = 0
	}
	for steps := 0; steps < sweepStep && i < len(sh.table); steps++ {
		sl := sh.table[i]
		if sl == 0 {
			i++
			continue
		}
		b := sh.entry(slotOff(sl))
		if b[0]&flagTTL == 0 {
			i++
			continue
		}
		examined++
		if now > entryExp(b) {
			s.notifyRemoved(b)
			s.removeAtLocked(sh, i, b) // a later slot may shift into i: look at i again
			expired++
			continue
		}
		i++
	}
	sh.expCursor = i
	if expired > 0 {
		s.expired.Add(uint64(expired))
		sh.maybeCompactLocked(s)
	}
	return examined, expired
}
