package store

import "math/rand/v2"

// Redis's LFU (allkeys-lfu, volatile-lfu). Under these policies an entry's
// 32-bit clock field holds what Redis keeps in its 24-bit lru field: the
// time of the last decrement in minutes, modulo 2^16, in bits 8-23, and an
// 8-bit logarithmic access counter in bits 0-7, so LFU costs no memory per
// key. A new key starts at lfuInitVal; an access first decays the counter by
// one per lfu-decay-time minutes elapsed, then increments it with
// probability 1/((counter-lfuInitVal)*lfu-log-factor+1), as in Redis's
// evict.c (LFUDecrAndReturn, LFULogIncr). Switching between an LRU and an
// LFU policy reinterprets the field, as Redis does: the data adjusts as keys
// are accessed.

// lfuInitVal is the counter of a new key (Redis's LFU_INIT_VAL).
const lfuInitVal = 5

// Defaults of lfu-log-factor and lfu-decay-time, as in redis.conf.
const (
	DefaultLFULogFactor = 10
	DefaultLFUDecayTime = 1
)

// SetLFULogFactor sets lfu-log-factor (>= 0): how many accesses it takes to
// raise an LFU counter (0: every access increments it).
func (s *Store) SetLFULogFactor(n int64) { s.lfuLogFactor.Store(max(n, 0)) }

// SetLFUDecayTime sets lfu-decay-time (>= 0): the minutes after which an
// LFU counter loses one; 0 turns decay off.
func (s *Store) SetLFUDecayTime(n int64) { s.lfuDecayTime.Store(max(n, 0)) }

// lfuMinutes is Redis's LFUGetTimeInMinutes at time now (Unix ms).
func lfuMinutes(now int64) uint32 { return uint32(now/60000) & 0xffff }

// lfuStamp packs a minute and a counter as Redis's lru field does.
func lfuStamp(minutes uint32, counter uint32) uint32 { return minutes<<8 | counter }

// lfuDecr returns the counter of stamp decayed to time now (Redis's
// LFUDecrAndReturn): one less per decay period elapsed since its minute.
func (s *Store) lfuDecr(stamp uint32, now int64) uint32 {
	ldt, counter := stamp>>8&0xffff, stamp&0xff
	period := uint32(s.lfuDecayTime.Load())
	if period == 0 {
		return counter
	}
	nowMin := lfuMinutes(now)
	elapsed := nowMin - ldt
	if nowMin < ldt {
		elapsed = 65535 - ldt + nowMin
	}
	if n := elapsed / period; n > 0 {
		if n > counter {
			return 0
		}
		return counter - n
	}
	return counter
}

// lfuIncr is Redis's LFULogIncr.
func (s *Store) lfuIncr(counter uint32) uint32 {
	if counter == 255 {
		return 255
	}
	base := float64(counter) - lfuInitVal
	if base < 0 {
		base = 0
	}
	if rand.Float64() < 1/(base*float64(s.lfuLogFactor.Load())+1) {
		counter++
	}
	return counter
}

// lfuTouch returns the stamp of an entry stamped stamp after an access at
// time now (Redis's updateLFU).
func (s *Store) lfuTouch(stamp uint32, now int64) uint32 {
	return lfuStamp(lfuMinutes(now), s.lfuIncr(s.lfuDecr(stamp, now)))
}

// Freq returns key's LFU access counter, decayed to now, as OBJECT FREQ
// reports it under an LFU policy; under a TinyLFU policy, its access count
// (0-15: the sketch's estimate when it was written, plus its reads since,
// aged with the sketch), by which eviction ranks it. Like Peek it counts
// no hit or miss and does not mark the key as used.
func (s *Store) Freq(key []byte) (freq int, ok bool) {
	sh, tag := s.locate(s.hash(key))
	sh.mu.Lock()
	defer sh.mu.Unlock()
	i, b := s.lookupReadLocked(sh, tag, key)
	if i < 0 {
		sh.maybeCompactLocked(s)
		return 0, false
	}
	if Policy(s.policy.Load()).TinyLFU() {
		return int(entryCount(b)), true
	}
	return int(s.lfuDecr(entryLRU(b), s.nowMs())), true
}

// touchLocked marks entry b, of the key with tag in sh, as used by a read
// hit, per the policy: a new LRU stamp, Redis's LFU counter update, or (for
// TinyLFU) an LRU stamp, one more in its access count (the sketch counts
// the read towards its halving only) and the end of its probation (and
// burst).
func (s *Store) touchLocked(sh *shard, tag uint32, b []byte) {
	switch p := Policy(s.policy.Load()); {
	case p.LFU():
		setEntryLRU(b, s.lfuTouch(entryLRU(b), s.nowMs()))
	case p.TinyLFU():
		sh.recordLocked(s, tag, true)
		setEntryCount(b, entryCount(b)+1)
		s.duelReadLocked(sh, tag, b)
		setEntryLRU(b, s.clock.Load())
		b[0] &^= flagNew | flagBurst // read since written: no longer probationary
	default:
		setEntryLRU(b, s.clock.Load())
	}
}

// recordLocked records a read of the key with tag in sh's sketch (hit: the
// shard holds it) and, when that ages the sketch, ages the access counts
// of sh's entries with it: all are halved.
func (sh *shard) recordLocked(s *Store, tag uint32, hit bool) {
	sh.sketch.ensureLocked(sh, s)
	if !sh.sketch.read(tag, hit) {
		return
	}
	for _, t := range [2][]uint64{sh.table, sh.old[sh.mig:]} {
		for _, sl := range t {
			if sl != 0 {
				b := sh.entry(slotOff(sl))
				setEntryCount(b, entryCount(b)>>1)
			}
		}
	}
}

// missLocked counts a read miss of the key with tag in sh; under TinyLFU
// the sketch records the access, so a key that keeps being asked for is
// known as frequent when it is written, and the miss, so that the write
// that fills it counts towards a flood.
func (s *Store) missLocked(sh *shard, tag uint32) {
	sh.misses++
	if Policy(s.policy.Load()).TinyLFU() {
		sh.recordLocked(s, tag, false)
		sh.sketch.missed(tag)
		s.duelReadLocked(sh, tag, nil)
	}
}

// writeStampLocked returns the clock field for a write of the key with tag
// in sh whose current entry is old (nil if the key is new): an LRU stamp
// (advancing the clock every few writes); under LFU, Redis's counter, new
// (lfuInitVal) or updated as for an access (Redis's lookupKeyWrite touches
// the old value, and dbOverwrite keeps its counter). Under TinyLFU a write
// does not count as an access: in cache-aside use the read miss before it
// already did, and a one-off key counted twice would crowd the sketch.
func (s *Store) writeStampLocked(sh *shard, tag uint32, old []byte) uint32 {
	lru := s.lru(sh)
	switch p := Policy(s.policy.Load()); {
	case p.LFU():
		now := s.nowMs()
		if old == nil {
			return lfuStamp(lfuMinutes(now), lfuInitVal)
		}
		return s.lfuTouch(entryLRU(old), now)
	case p.TinyLFU():
		sh.sketch.ensureLocked(sh, s) // reads feed it; a write only sizes it
	}
	return lru
}
