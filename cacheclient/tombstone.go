package cacheclient

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"

	"github.com/cachetier/cachetier/ring"
)

// maxTombstones bounds the tombstones a client keeps. When full, the oldest
// one is dropped (its owner's copy is then served again when the owner
// returns, as without tombstones).
const maxTombstones = 4096

// tomb records that a key was deleted or overwritten while a node that
// holds copies of it (its usual owner, or one of its replicas) was down, or
// that the write to that node failed: the node's own copy, if it comes back,
// is out of date.
type tomb struct {
	expires int64  // Unix ms
	seq     uint64 // insertion order, for dropping the oldest
}

// tombKey names a tombstone: a key on one node.
type tombKey struct {
	key, node string
}

// tombstones is the bounded set of keys whose copies on some node must not
// be served. Per process: a client only knows about its own writes.
type tombstones struct {
	n   atomic.Int64 // len(m), read without the lock on the read path
	mu  sync.Mutex   // protects m and seq
	m   map[tombKey]tomb
	seq uint64
}

// add records key's copy on node as out of date until expires.
func (ts *tombstones) add(key, node string, expires int64) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.m == nil {
		ts.m = make(map[tombKey]tomb)
	}
	k := tombKey{key, node}
	if _, ok := ts.m[k]; !ok && len(ts.m) >= maxTombstones {
		// Drop the oldest (all tombstones live equally long, so it is also
		// the first to expire). O(maxTombstones), only when full.
		var oldK tombKey
		oldSeq := ^uint64(0)
		for k, t := range ts.m {
			if t.seq < oldSeq {
				oldK, oldSeq = k, t.seq
			}
		}
		delete(ts.m, oldK)
	}
	ts.seq++
	ts.m[k] = tomb{expires: expires, seq: ts.seq}
	ts.n.Store(int64(len(ts.m)))
}

// take removes and reports key's live tombstone for node.
func (ts *tombstones) take(key, node string, now int64) bool {
	if ts.n.Load() == 0 {
		return false
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	k := tombKey{key, node}
	t, ok := ts.m[k]
	if !ok {
		return false
	}
	delete(ts.m, k)
	ts.n.Store(int64(len(ts.m)))
	return t.expires > now
}

// drop forgets key's tombstone for node (a newer value is being written
// there).
func (ts *tombstones) drop(key, node string) {
	if ts.n.Load() == 0 {
		return
	}
	ts.mu.Lock()
	delete(ts.m, tombKey{key, node})
	ts.n.Store(int64(len(ts.m)))
	ts.mu.Unlock()
}

// forNode returns the live keys tombstoned for node, dropping expired
// tombstones on the way.
func (ts *tombstones) forNode(node string, now int64) []string {
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
		case k.node == node:
			keys = append(keys, k.key)
		}
	}
	ts.n.Store(int64(len(ts.m)))
	return keys
}

// removeIf drops key's tombstone for node unless a newer one replaced it
// (seq > before).
func (ts *tombstones) removeIf(key, node string, before uint64) {
	ts.mu.Lock()
	k := tombKey{key, node}
	if t, ok := ts.m[k]; ok && t.seq <= before {
		delete(ts.m, k)
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

// flushTombstones deletes from nd the keys tombstoned for it: those deleted
// or overwritten while it was down (called when it comes back up) or whose
// write to it failed (called at each health round while it is up).
// Tombstones whose DEL fails stay, for the read path or the next round.
func (t *tier) flushTombstones(ctx context.Context, nd *node) {
	seq := t.tombs.current()
	keys := t.tombs.forNode(nd.addr, preciseMs())
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
			t.log.Warn("cacheclient: deleting out-of-date copies from a node failed", "node", nd.addr, "err", err)
			return
		}
		for _, k := range batch {
			t.tombs.removeIf(k, nd.addr, seq)
		}
		t.st.tombstonesFlushed.Add(uint64(len(batch)))
	}
}

// noteWrite records, for a Set or Delete of key, which of the nodes that
// normally hold copies of it (its usual owner and, with Replicas, its next
// Replicas-1 owners in the base ring) miss the write because they are down:
// a tombstone for each until its copy would have expired anyway
// (TTL+StaleTTL, the T2 of entries this client writes). The nodes the write
// goes to (the live owners) lose any older tombstone; a write to one that
// fails tombstones it again (voidCopy).
func (t *tier) noteWrite(key string) {
	tp := t.topo.Load()
	if len(tp.nodes) == 0 {
		return
	}
	r := max(t.cfg.Replicas, 1)
	h := ring.HashKey(key)
	var bb, lb [maxReplicas]string
	base := tp.base.OwnersHash(h, r, bb[:0])
	live := tp.live.OwnersHash(h, r, lb[:0])
	for _, a := range live {
		t.tombs.drop(key, a)
	}
	for _, a := range base {
		if !slices.Contains(live, a) {
			t.tombs.add(key, a, preciseMs()+msCeil(t.tombLife))
		}
	}
}

// voidCopy records that a write of key to nd failed (an error or a timeout:
// nd may or may not have applied it), so that nd's copy may be older than
// the write: a tombstone makes this client delete it before reading it
// there, and the health loop deletes it from nd at its next round
// (flushTombstones). replica says nd is not the key's live owner: the
// failure is counted in Stats.ReplicaWriteErrors.
func (t *tier) voidCopy(key string, nd *node, replica bool) {
	t.tombs.add(key, nd.addr, preciseMs()+msCeil(t.tombLife))
	if replica {
		t.st.replicaWriteErrors.Add(1)
	}
}
