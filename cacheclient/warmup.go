package cacheclient

import (
	"context"
	"time"

	"github.com/cachetier/cachetier/ring"
)

// Warm-up reads on ownership change.
//
// When a key's owner changes — a node joins (scale-out), a node marked down
// comes back, a slot moves — the key's entry stays on its previous owner and
// the new owner starts without it: every moved key would be one origin load.
// For Tier.Warmup.Window after such a change, a fill that finds nothing on
// the key's owner first reads the key's previous owner (the owner in the
// live ring just before the change) and, if that holds a fresh entry, copies
// it to the new owner with its envelope (T1, T2, flags) and remaining TTL,
// and answers it: the origin is not asked.
//
//	fill of k, owner B (k owned by A before the change, A still live)
//	GET k on B → nil
//	(lease on B, as for any miss: the warm read happens under it)
//	GET k on A → fresh entry E
//	SET k E PX T2-now on B (the lease's write-back CAS, or a plain SET)
//	answer E
//
// Off when there is no previous owner for the key (it did not move), the
// previous owner is no longer a live member (it left or is down: a node that
// died takes its keys with it), or the window is over. Only the most recent
// change is remembered: a second change within the window replaces the
// previous ring.
//
// Writes during the window: a Set or Delete (and SetMany, DeleteMany) of a
// key also deletes the key on its previous owner, so that a later warm read
// cannot bring back a value older than the write (read-your-writes). Every
// process that sees the same membership change does the same; writes by other
// tools (redis-cli) to the new owner alone are not propagated, as for any
// copy this client keeps. A value a lease write-back installs on the new
// owner is not propagated either: the previous owner's copy then is older
// but still within its own T1, which is what any reader may be served.
//
// Costs: one more round trip for each miss of a moved key during the
// window (to the previous owner), and one DEL for each write of one.

// warmSource returns the node that owned key just before the last
// ownership change, when that change is less than Warmup.Window old, the
// node is still a live member, and it is not the key's owner now; else nil.
func (t *tier) warmSource(key string, now int64) *node {
	tp := t.topo.Load()
	if tp.prev == nil || now >= tp.warmUntil {
		return nil
	}
	h := ring.HashKey(key)
	was, ok := tp.prev.OwnerHash(h)
	if !ok {
		return nil
	}
	if cur, ok := tp.live.OwnerHash(h); !ok || cur == was {
		return nil
	}
	nd := tp.nodes[was]
	if nd == nil || nd.down.Load() {
		return nil
	}
	return nd
}

// markWarm records, in the topology nt being installed, that ownership
// changed from the live ring prev: warm reads from prev for Warmup.Window.
func (t *tier) markWarm(nt *topology, prev *ring.Ring) {
	if t.cfg.Warmup.Disabled || prev == nil || len(prev.Nodes()) == 0 {
		return
	}
	nt.prev = prev
	nt.warmUntil = preciseMs() + msCeil(t.cfg.Warmup.Window)
}

// warmRead reads key from its previous owner (warmSource) and returns the
// entry there when it is fresh (h, val; val is a copy). ok is false when
// there is no previous owner to ask, or it holds nothing fresh.
func (t *tier) warmRead(ctx context.Context, key string) (h header, val []byte, ok bool) {
	now := preciseMs()
	src := t.warmSource(key, now)
	if src == nil {
		return header{}, nil, false
	}
	// A copy tombstoned on the previous owner (it missed a write) is
	// deleted there instead of read: a warm-up miss, not an older value.
	env, found, err := t.getString(ctx, src, key, now)
	if err != nil || !found {
		t.st.warmupMisses.Add(1)
		return header{}, nil, false
	}
	h, ok = parseHeader([]byte(env[:min(len(env), envHdrLen)]))
	if !ok || h.stateAt(now) != stateFresh {
		t.st.warmupMisses.Add(1)
		return header{}, nil, false
	}
	h.flags &^= flagFailover // tier.set flags it again if the new owner is a failover owner
	t.st.warmupHits.Add(1)
	return h, []byte(env[envHdrLen:]), true
}

// warmActive reports whether a warm-up window is open.
func (t *tier) warmActive() bool {
	tp := t.topo.Load()
	return tp.prev != nil && preciseMs() < tp.warmUntil
}

// warmForget deletes keys, just written, from their previous owners during
// the warm-up window (see above), one DEL per node; errors are ignored (the
// copy there then lives until its own T2, as a copy on a node that was down
// does).
func (t *tier) warmForget(ctx context.Context, keys ...string) {
	if !t.warmActive() {
		return
	}
	now := preciseMs()
	var (
		nodes []*node
		ks    [][]string
	)
	for _, k := range keys {
		nd := t.warmSource(k, now)
		if nd == nil {
			continue
		}
		g := 0
		for g < len(nodes) && nodes[g] != nd {
			g++
		}
		if g == len(nodes) {
			nodes, ks = append(nodes, nd), append(ks, nil)
		}
		ks[g] = append(ks[g], k)
	}
	_ = eachNode(len(nodes), func(g int) error {
		nd := nodes[g]
		return t.do(ctx, nd, 0, func(ctx context.Context) error {
			return nd.client().Del(ctx, ks[g]...).Err()
		})
	})
}

// warmFill answers a fill of key that found nothing on the key's owner from
// the key's previous owner, copying the entry to the owner (a plain write:
// no lease is held). ok is false when the previous owner had nothing.
func (c *Client) warmFill(ctx context.Context, key string) (res fillResult, ok bool) {
	h, val, ok := c.tier.warmRead(ctx, key)
	if !ok {
		return fillResult{}, false
	}
	_ = c.store.put(ctx, key, h, val, preciseMs())
	return fillResult{val: val, src: SourceL2, negative: h.flags&flagNegative != 0}, true
}

// warmupWindow is the default of WarmupConfig.Window.
const warmupWindow = time.Minute
