package cacheclient

import (
	"context"
	"time"

	"github.com/cachetier/cachetier/ring"
)

// Replicas (TierConfig.Replicas = R > 1): every write of a key — a Set, a
// loaded value written back (with or without a lease), a warm-up copy, a
// Delete — goes to the key's live owner and to its next R-1 live owners in
// the key's ring sequence (ring.Owners), the nodes that take the key over,
// in that order, when the ones before them are down. Reads go to the live
// owner, or for a hot key to the less loaded of two of its live owners
// (hotkeys.go). So when a node dies, its keys' new live owner is the
// replica that already holds them: a warm hit, not an origin load.
//
// Writes to the replicas follow the owner's and do not decide the call's
// outcome. A node that misses a write — down when it is made (noteWrite),
// or failing it (voidCopy), owner or replica — gets a tombstone in the
// writing client: the client deletes the key there before reading it, and
// its health loop deletes it at the next round the node answers
// (flushTombstones). Until then another process may read the node's older
// copy, within that copy's own T1, as it may from a failover owner without
// replicas.

// maxReplicas bounds TierConfig.Replicas.
const maxReplicas = 8

// replicas returns the nodes, other than nd (the key's live owner), that
// hold copies of key: its next Replicas-1 live owners; nil when Replicas is
// 1.
func (t *tier) replicas(key string, nd *node) []*node {
	if t.cfg.Replicas <= 1 {
		return nil
	}
	tp := t.topo.Load()
	var buf [maxReplicas]string
	owners := tp.live.OwnersHash(ring.HashKey(key), t.cfg.Replicas, buf[:0])
	var out []*node
	for _, a := range owners {
		if r := tp.nodes[a]; r != nil && r != nd {
			out = append(out, r)
		}
	}
	return out
}

// setReplicas writes env (Redis TTL ttl) under key to each of reps, in
// parallel. Their errors are not the caller's: each feeds the replica's
// health, and voids its copy (voidCopy).
func (t *tier) setReplicas(ctx context.Context, reps []*node, key string, env []byte, ttl, extra time.Duration) {
	_ = eachNode(len(reps), func(g int) error {
		r := reps[g]
		err := t.do(ctx, r, extra, func(ctx context.Context) error {
			return r.client().Set(ctx, key, env, ttl).Err()
		})
		if err != nil {
			t.voidCopy(key, r, true)
		}
		return nil
	})
}

// byReplica groups the indexes of keys by the replicas that hold copies of
// each (see replicas), with whether the key's write goes to a failover owner
// (so that replicas get the same envelope and TTL cap as the owner).
func (t *tier) byReplica(keys []string) (nodes []*node, idx [][]int, failover [][]bool) {
	if t.cfg.Replicas <= 1 {
		return nil, nil, nil
	}
	for i, k := range keys {
		nd, fo := t.route(k)
		if nd == nil {
			continue
		}
		for _, r := range t.replicas(k, nd) {
			g := 0
			for g < len(nodes) && nodes[g] != r {
				g++
			}
			if g == len(nodes) {
				nodes, idx, failover = append(nodes, r), append(idx, nil), append(failover, nil)
			}
			idx[g] = append(idx[g], i)
			failover[g] = append(failover[g], fo)
		}
	}
	return nodes, idx, failover
}

// voidFailed voids the copies (voidCopy) of the keys at idx[g] on nodes[g]
// for every group g whose write failed (errs[g]); the groups from owners on
// are replicas.
func (t *tier) voidFailed(nodes []*node, idx [][]int, keys []string, errs []error, owners int) {
	for g, err := range errs {
		if err == nil {
			continue
		}
		for _, i := range idx[g] {
			t.voidCopy(keys[i], nodes[g], g >= owners)
		}
	}
}
