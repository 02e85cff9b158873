package cacheclient

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/cespare/xxhash/v2"
)

// readGroup coalesces the fast path's L2 reads (Client.l2): while one
// caller reads a key from its node, the other callers that miss the key in
// L1 wait for that read instead of sending their own, so a herd of any size
// costs one L2 request per key per process, as a flight would, without a
// flight's goroutines and timers on every L2 hit.
//
// It also keeps per-key fill epochs: a read taken before a fill of its key
// ended (a value stored meanwhile) is too old to stand for the next fill's
// own read (fillStale).
type readGroup struct {
	shards [readShards]readShard
	fills  [1 << fillBits]atomic.Uint32 // bumped when a fill of a key hashing there ends
}

const (
	readShards = 64
	fillBits   = 12
)

// fillSlot is key's index in fills, from its hash.
func fillSlot(h uint64) uint32 { return uint32(h>>32) & (1<<fillBits - 1) }

// filled records that a fill of key ended.
func (g *readGroup) filled(key string) {
	g.fills[fillSlot(xxhash.Sum64String(key))].Add(1)
}

// fillStale reports whether a fill of r's key ended since r was read (or
// one hashing alike did: then the key is only read again).
func (g *readGroup) fillStale(key string, r *l2Read) bool {
	return g.fills[fillSlot(xxhash.Sum64String(key))].Load() != r.fillEpoch
}

// epoch returns key's fill epoch, to be taken before reading key.
func (g *readGroup) epoch(key string) uint32 {
	return g.fills[fillSlot(xxhash.Sum64String(key))].Load()
}

// shardOf returns key's shard.
func (g *readGroup) shardOf(key string) *readShard {
	return &g.shards[xxhash.Sum64String(key)%readShards]
}

type readShard struct {
	mu     sync.Mutex
	m      map[string]*readCall
	flying map[string]int    // callers in a flight of the key (Client.miss)
	missed map[string]l2Read // the last read (a miss) that sent its reader to the key's flight, while any caller is in one
	_      [24]byte          // one shard per cache line
}

// readCall is one read in progress. done is made by the first caller that
// waits for it (a read nobody waits for allocates nothing: its readCall goes
// back to readCalls); r is set before done is closed.
type readCall struct {
	done chan struct{}
	r    l2Read
	ctx  context.Context // the reader's
}

var readCalls = sync.Pool{New: func() any { return new(readCall) }}

// read returns key's L2 read: its own (made with ctx), or the one another
// caller had in progress (shared). ok is false when ctx ended while waiting
// for another caller's read. When callers are in a flight of key already,
// the read is the one that sent a caller there (shared), or none; when a
// shared read failed because its reader's context ended, there is no read:
// ok is true, r is the zero l2Read and shared false, and the caller joins
// the flight (which reads for itself if it has to start one).
func (g *readGroup) read(ctx context.Context, t *tier, key string) (r l2Read, shared, ok bool) {
	h := xxhash.Sum64String(key)
	s := &g.shards[h%readShards]
	s.mu.Lock()
	if len(s.flying) > 0 && s.flying[key] > 0 {
		// Callers are in the key's flight: join it with the read that sent
		// them there, if there is one, so that whoever leads the flight
		// has a read at hand and does not read again (the fill judges its
		// age: readGroup.fillStale).
		r, ok := s.missed[key]
		s.mu.Unlock()
		return r, ok, true
	}
	if c, busy := s.m[key]; busy {
		if c.done == nil {
			c.done = make(chan struct{})
		}
		done := c.done
		s.mu.Unlock()
		select {
		case <-done:
		case <-ctx.Done():
			return l2Read{}, false, false
		}
		if c.r.err != nil && c.ctx.Err() != nil {
			return l2Read{}, false, true
		}
		return c.r, true, true
	}
	c := readCalls.Get().(*readCall)
	c.ctx = ctx
	if s.m == nil {
		s.m = make(map[string]*readCall)
	}
	s.m[key] = c
	s.mu.Unlock()

	ep := g.fills[fillSlot(h)].Load()
	r = t.read(ctx, key)
	r.fillEpoch = ep
	// A read that is no fresh hit sends its reader to the key's flight:
	// the reader enters it (fly) before the read is gone from m, so that a
	// caller arriving in between joins the flight instead of reading again.
	flown := !r.freshHit()
	s.mu.Lock()
	delete(s.m, key)
	done := c.done
	if done != nil {
		c.r = r
	}
	if flown {
		if s.flying == nil {
			s.flying = make(map[string]int)
		}
		s.flying[key]++
		if r.err == nil {
			if s.missed == nil {
				s.missed = make(map[string]l2Read)
			}
			s.missed[key] = r
		}
	}
	s.mu.Unlock()
	if done != nil {
		close(done) // c is the waiters' now
	} else {
		c.ctx = nil
		readCalls.Put(c)
	}
	r.flown = flown
	return r, false, true
}

// fly records a caller entering a flight of key; land, one leaving it. (A
// reader whose own read was no fresh hit is entered by read: l2Read.flown.)
// While any is in one, read sends no request for key: the callers that
// miss it join the flight, as they would have before it read L2.
func (g *readGroup) fly(key string) {
	s := g.shardOf(key)
	s.mu.Lock()
	if s.flying == nil {
		s.flying = make(map[string]int)
	}
	s.flying[key]++
	s.mu.Unlock()
}

func (g *readGroup) land(key string) {
	s := g.shardOf(key)
	s.mu.Lock()
	if s.flying[key]--; s.flying[key] <= 0 {
		delete(s.flying, key)
		delete(s.missed, key)
	}
	s.mu.Unlock()
}
