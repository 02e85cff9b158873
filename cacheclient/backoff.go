package cacheclient

import (
	"math/rand/v2"
	"sync"
	"time"
)

// Origin error backoff table geometry: backoffShards shards of backoffSlots
// slots, a key probing backoffWays consecutive slots of its shard. The table
// never grows: when all of a key's slots are taken, the entry whose window
// ends first is replaced (an expired one if any). A key that loses its entry
// that way is loaded again at once: with more failing keys than the table
// holds, some loads go through early, never fewer than without the table.
const (
	backoffShards = 64
	backoffSlots  = 128 // per shard: 8192 keys in all (~320 KiB)
	backoffWays   = 4
)

// backoffEntry is the backoff state of one key, identified by its 64-bit
// hash (0 = empty slot; two keys with the same hash would share an entry).
type backoffEntry struct {
	hash  uint64
	until int64  // Unix ms: no origin load of the key before this
	fails uint32 // consecutive failures
	err   error  // the last failure, returned while in backoff
}

// backoffShard is one lock's worth of the table.
type backoffShard struct {
	mu    sync.Mutex // protects slots
	slots [backoffSlots]backoffEntry
}

// backoffTable remembers, per key, consecutive origin load failures and the
// window during which the key's loads must not reach the origin. Fixed size.
type backoffTable struct {
	base, max int64 // window after the first failure, and its cap (ms)
	shards    [backoffShards]backoffShard
}

func newBackoffTable(base, max time.Duration) *backoffTable {
	b := &backoffTable{base: msCeil(base), max: msCeil(max)}
	if b.max < b.base {
		b.max = b.base
	}
	return b
}

// locate returns h's shard, the index of its first slot and h as stored (0
// marks an empty slot, so hash 0 is stored as 1).
func (b *backoffTable) locate(h uint64) (*backoffShard, int, uint64) {
	if h == 0 {
		h = 1
	}
	return &b.shards[h%backoffShards], int((h / backoffShards) % backoffSlots), h
}

// find returns h's entry in s (s.mu held), or nil.
func (s *backoffShard) findLocked(h uint64, i int) *backoffEntry {
	for w := 0; w < backoffWays; w++ {
		if e := &s.slots[(i+w)%backoffSlots]; e.hash == h {
			return e
		}
	}
	return nil
}

// check reports whether h is inside a backoff window at now; if so, the last
// error, the number of consecutive failures and the time left.
func (b *backoffTable) check(h uint64, now int64) (err error, fails int, left time.Duration, in bool) {
	s, i, h := b.locate(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.findLocked(h, i)
	if e == nil || now >= e.until {
		return nil, 0, 0, false
	}
	return e.err, int(e.fails), time.Duration(e.until-now) * time.Millisecond, true
}

// failed records a failed load of h at now and opens its next window: base
// doubled per consecutive failure, capped at max, scaled by a random factor
// in [0.75, 1] so that keys that failed together are not retried together.
// Failures more than max apart are not consecutive: the count restarts.
func (b *backoffTable) failed(h uint64, now int64, err error) {
	s, i, h := b.locate(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.findLocked(h, i)
	if e == nil {
		// Take the slot whose window ends first (empty slots have until 0).
		e = &s.slots[i]
		for w := 1; w < backoffWays; w++ {
			if c := &s.slots[(i+w)%backoffSlots]; c.until < e.until {
				e = c
			}
		}
		*e = backoffEntry{hash: h}
	}
	if e.fails > 0 && now-e.until > b.max {
		e.fails = 0
	}
	e.fails++
	w := b.base
	for n := uint32(1); n < e.fails && w < b.max; n++ {
		w *= 2
	}
	w = min(w, b.max)
	w -= int64(rand.Float64() * float64(w) / 4)
	e.until = now + max(w, 1)
	e.err = err
}

// succeeded forgets h's failures.
func (b *backoffTable) succeeded(h uint64) {
	s, i, h := b.locate(h)
	s.mu.Lock()
	if e := s.findLocked(h, i); e != nil {
		*e = backoffEntry{}
	}
	s.mu.Unlock()
}
