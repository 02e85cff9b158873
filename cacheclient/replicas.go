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
// in that order, when the ones before them are down. Reads are unchanged:
// they go to the live owner. So when a node dies, its keys' new live owner
// is the replica that already holds them: a warm hit, not an origin load.
// Writes to the replicas follow the owner's and do not decide the call's
// outcome (their errors feed the replicas' health only); a replica that
// missed a write (down, or failing) may answer an older value once it
// becomes the live owner, within that value's own T1, as a failover owner
// does without replicas.

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
// parallel; errors feed the replicas' health only.
func (t *tier) setReplicas(ctx context.Context, reps []*node, key string, env []byte, ttl, extra time.Duration) {
	_ = eachNode(len(reps), func(g int) error {
		r := reps[g]
		return t.do(ctx, r, extra, func(ctx context.Context) error {
			return r.client().Set(ctx, key, env, ttl).Err()
		})
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
