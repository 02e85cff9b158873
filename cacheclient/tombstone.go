package cacheclient

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"

	"github.com/cachetier/cachetier/ring"
)

// maxTombstones bounds the tombstones a client keeps. When full, the oldest
// one is dropped (its owner's copy is then served again when the owner
// returns, as without tombstones).
const maxTombstones = 4096

// tomb records that a key was deleted or overwritten while its owner was
// down: the owner's own copy, if it comes back, is out of date.
type tomb struct {
	owner   string // the key's usual owner (base ring)
	expires int64  // Unix ms
	seq     uint64 // insertion order, for dropping the oldest
}

// tombstones is the bounded set of keys whose owner holds a copy that must
// not be served when it returns. Per process: a client only knows about its
// own writes.
type tombstones struct {
	n   atomic.Int64 // len(m), read without the lock on the read path
	mu  sync.Mutex   // protects m and seq
	m   map[string]tomb
	seq uint64
}

// add records key (owned by owner) until expires.
func (ts *tombstones) add(key, owner string, expires int64) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.m == nil {
		ts.m = make(map[string]tomb)
	}
	if _, ok := ts.m[key]; !ok && len(ts.m) >= maxTombstones {
		// Drop the oldest (all tombstones live equally long, so it is also
		// the first to expire). O(maxTombstones), only when full.
		var oldK string
		oldSeq := ^uint64(0)
		for k, t := range ts.m {
			if t.seq < oldSeq {
				oldK, oldSeq = k, t.seq
			}
		}
		delete(ts.m, oldK)
	}
	ts.seq++
	ts.m[key] = tomb{owner: owner, expires: expires, seq: ts.seq}
	ts.n.Store(int64(len(ts.m)))
}

// take removes and reports key's live tombstone for owner.
func (ts *tombstones) take(key, owner string, now int64) bool {
	if ts.n.Load() == 0 {
		return false
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	t, ok := ts.m[key]
	if !ok || t.owner != owner {
		return false
	}
	delete(ts.m, key)
	ts.n.Store(int64(len(ts.m)))
	return t.expires > now
}

// drop forgets key's tombstone (a newer value was written to its owner).
func (ts *tombstones) drop(key string) {
	if ts.n.Load() == 0 {
		return
	}
	ts.mu.Lock()
	delete(ts.m, key)
	ts.n.Store(int64(len(ts.m)))
	ts.mu.Unlock()
}

// forOwner returns the live keys tombstoned for owner, dropping expired
// tombstones on the way.
func (ts *tombstones) forOwner(owner string, now int64) []string {
	if ts.n.Load() == 0 {
		return nil
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	var keys []string
	for k, t := range ts.m {
		switch {
		case t.expires <= now:
			delete(ts.m, k)
		case t.owner == owner:
			keys = append(keys, k)
		}
	}
	ts.n.Store(int64(len(ts.m)))
	return keys
}

// removeIf drops key's tombstone for owner unless a newer one replaced it
// (seq > before).
func (ts *tombstones) removeIf(key, owner string, before uint64) {
	ts.mu.Lock()
	if t, ok := ts.m[key]; ok && t.owner == owner && t.seq <= before {
		delete(ts.m, key)
		ts.n.Store(int64(len(ts.m)))
	}
	ts.mu.Unlock()
}

// current returns the latest sequence number handed out.
func (ts *tombstones) current() uint64 {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.seq
}

// tombBatch is how many DELs one flush request carries (one pipeline, one
// Tier.Timeout).
const tombBatch = 128

// flushTombstones deletes from nd, which has just come back up, the keys that
// were deleted or overwritten while it was down. Tombstones whose DEL fails
// stay, for the read path or the next return.
func (t *tier) flushTombstones(ctx context.Context, nd *node) {
	seq := t.tombs.current()
	keys := t.tombs.forOwner(nd.addr, preciseMs())
	for len(keys) > 0 {
		batch := keys[:min(len(keys), tombBatch)]
		keys = keys[len(batch):]
		err := t.do(ctx, nd, 0, func(ctx context.Context) error {
			_, err := nd.client().Pipelined(ctx, func(p redis.Pipeliner) error {
				for _, k := range batch {
					p.Del(ctx, k)
				}
				return nil
			})
			return err
		})
		if err != nil {
			t.log.Warn("cacheclient: deleting stale copies from a returning node failed", "node", nd.addr, "err", err)
			return
		}
		for _, k := range batch {
			t.tombs.removeIf(k, nd.addr, seq)
		}
		t.st.tombstonesFlushed.Add(uint64(len(batch)))
	}
}

// noteWrite records, for a Set or Delete of key, whether the key's usual
// owner missed it (it is down): if so, a tombstone until the owner's copy
// would have expired anyway (TTL+StaleTTL, the T2 of entries this client
// writes); if not, any older tombstone is void.
func (t *tier) noteWrite(key string) {
	tp := t.topo.Load()
	if len(tp.nodes) == 0 {
		return
	}
	h := ring.HashKey(key)
	base, ok := tp.base.OwnerHash(h)
	if !ok {
		return
	}
	if live, ok := tp.live.OwnerHash(h); ok && live == base {
		t.tombs.drop(key)
		return
	}
	t.tombs.add(key, base, preciseMs()+msCeil(t.tombLife))
}
