package cacheclient

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachetier/cachetier/ring"
)

// tier is the L2 stage: the member nodes with one go-redis client each, which
// of them are up, and which node serves a key. Every L2 request goes through
// it, bounded by TierConfig.Timeout and feeding the node's health; its health
// loop (health.go) probes the nodes, and its tombstones (tombstone.go) keep
// writes made while a key's owner was down from being undone when it returns.
type tier struct {
	cfg      TierConfig
	health   HealthConfig
	tombLife time.Duration // how long a tombstone lasts: the T2 of entries this client writes
	st       *counters
	metrics  *metrics
	log      *slog.Logger

	topo atomic.Pointer[topology]
	// mu serialises topology changes and protects closed and the nodes'
	// probe schedule (node.nextProbe, node.backoff, node.firstBackoff,
	// node.upAt).
	mu     sync.Mutex
	closed bool
	// probeKick wakes the health loop when a node is marked down.
	probeKick chan struct{}

	tombs tombstones // keys written while their owner was down

	pl        placement      // placement warnings and conflicts already logged (placement.go); guarded by mu
	slotRetry *time.Timer    // asks again the nodes that have not told their slot; guarded by mu
	retryWG   sync.WaitGroup // the slotRetry run in progress, waited for by close

	co *coherence // invalidation state (coherence.go)

	hot *hotKeys // the most-read keys (hotkeys.go); nil when HotKeys.Disabled

	dones doneClock // the Done channels of the requests' contexts (reqctx.go)
}

// topology is an immutable snapshot of the tier: swapped atomically, never
// modified.
type topology struct {
	base    *ring.Ring       // every member, none down: who owns a key normally
	live    *ring.Ring       // base with the down nodes marked: who serves it now
	nodes   map[string]*node // by address (nodes not yet placed included)
	m       Membership       // the membership base was built from
	slotted bool             // base was built from slots (or is an operator's table)

	// prev is the live ring before the last ownership change (a join, a
	// node back up), for warm-up reads until warmUntil (Unix ms;
	// warmup.go). nil: none.
	prev      *ring.Ring
	warmUntil int64
}

// withLive returns a copy of tp with live rebuilt from base and the nodes'
// down marks.
func (tp *topology) withLive() *topology {
	nt := *tp
	nt.live = liveRing(nt.base, nt.nodes)
	return &nt
}

func emptyTopology() *topology {
	return &topology{base: ring.New(), live: ring.New(), nodes: map[string]*node{}}
}

func newTier(cfg *Config, st *counters, m *metrics, co *coherence) *tier {
	t := &tier{cfg: cfg.Tier, health: cfg.Health, tombLife: cfg.TTL + cfg.StaleTTL, st: st, metrics: m, log: cfg.Logger, co: co,
		probeKick: make(chan struct{}, 1)}
	if !cfg.Tier.HotKeys.Disabled {
		t.hot = newHotKeys(cfg.Tier.HotKeys.MinShare)
	}
	t.topo.Store(emptyTopology())
	t.dones.step = doneStep(cfg.Tier.Timeout)
	return t
}

// route returns the node that serves key now (nil if none is live) and
// whether it is a failover owner (the key's usual owner is down).
func (t *tier) route(key string) (nd *node, failover bool) {
	return t.routeHash(ring.HashKey(key))
}

// routeHash is route for the key whose hash (ring.HashKey) is h.
func (t *tier) routeHash(h uint64) (nd *node, failover bool) {
	tp := t.topo.Load()
	if len(tp.nodes) == 0 {
		return nil, false
	}
	addr, ok := tp.live.OwnerHash(h)
	if !ok {
		return nil, false
	}
	if base, ok := tp.base.OwnerHash(h); ok && base != addr {
		failover = true
	}
	return tp.nodes[addr], failover
}

// get reads key's envelope from its live owner: env is nil on a miss. asked is
// false when no node is live (no request was made). A key tombstoned for its
// owner (written elsewhere while the owner was down) is deleted there instead
// of read, and reads as a miss.
func (t *tier) get(ctx context.Context, key string, now int64) (env []byte, asked bool, err error) {
	env, asked, _, err = t.getMarked(ctx, key, now)
	return env, asked, err
}

// getMarked is get that also returns the coherence mark taken before the
// read (coherence.go), for installing the entry in L1.
func (t *tier) getMarked(ctx context.Context, key string, now int64) (env []byte, asked bool, m readMark, err error) {
	nd, _ := t.route(key)
	if nd == nil {
		return nil, false, untracked, nil
	}
	m = t.co.mark(key, nd)
	env, asked, err = t.getFrom(ctx, nd, key, now)
	return env, asked, m, err
}

func (t *tier) getFrom(ctx context.Context, nd *node, key string, now int64) (env []byte, asked bool, err error) {
	s, found, err := t.getString(ctx, nd, key, now)
	if found {
		env = []byte(s)
	}
	return env, true, err
}

// getString is getFrom returning the envelope as go-redis read it (a string:
// no copy); found is false on a miss or an error.
func (t *tier) getString(ctx context.Context, nd *node, key string, now int64) (env string, found bool, err error) {
	if tombed, err := t.tombstoned(ctx, nd, key, now); tombed {
		return "", false, err
	}
	start := time.Now()
	rctx, rc := t.reqCtx(ctx, start, 0)
	nd.inflight.Add(1)
	env, err = nd.get(rctx, key)
	nd.inflight.Add(-1)
	endReq(rc)
	if err = t.record(ctx, nd, start, err); err != nil {
		if errors.Is(err, redis.Nil) {
			err = nil
		}
		return "", false, err
	}
	return env, true, nil
}

// tombstoned deletes key from nd instead of reading it when it is
// tombstoned for nd (written elsewhere while nd was down, or a write to nd
// failed): tombed is then true, and the read is a miss (or err).
func (t *tier) tombstoned(ctx context.Context, nd *node, key string, now int64) (tombed bool, err error) {
	if !t.tombs.take(key, nd.addr, now) {
		return false, nil
	}
	if err := t.del(ctx, nd, key); err != nil {
		t.tombs.add(key, nd.addr, now+msCeil(t.tombLife))
		return true, err
	}
	return true, nil
}

// l2Read is a key's L2 read made by a caller before it joins the key's
// flight (Client.AppendGet's fast path): the fill that flight runs uses it
// instead of reading again.
type l2Read struct {
	made  bool     // the read was made (the zero l2Read: no read at hand)
	env   string   // the envelope when found
	found bool     // the node had the key
	asked bool     // a node was asked (false: no live node)
	mark  readMark // coherence mark taken before the read
	err   error    // the request failed (counted by the tier)
	now   int64    // Unix milliseconds when the read started

	fillEpoch uint32 // the key's fill epoch before the read (readGroup)
	flown     bool   // readGroup entered the reader in the key's flight (fly): it must land
}

// freshHit reports whether r found a fresh entry: the read answers the
// caller without a flight.
func (r *l2Read) freshHit() bool {
	if r.err != nil || !r.found {
		return false
	}
	h, ok := parseHeader(bytesOf(r.env))
	return ok && h.stateAt(r.now) == stateFresh
}

// read reads key's envelope from its live owner, as getMarked does, bounded
// by Timeout and by ctx (the caller's own context). A hot key (hotkeys.go)
// may be read from one of its replicas instead.
func (t *tier) read(ctx context.Context, key string) (r l2Read) {
	r.made, r.now = true, preciseMs()
	h := ring.HashKey(key)
	nd, _ := t.routeHash(h)
	if nd == nil {
		r.mark = untracked
		return r
	}
	if t.hot != nil && t.hot.observe(key, h) && t.cfg.Replicas > 1 {
		if rep := t.hotReplica(h, nd); rep != nil && t.readReplica(ctx, rep, key, &r) {
			return r
		}
	}
	r.asked = true
	r.mark = t.co.mark(key, nd)
	r.env, r.found, r.err = t.getString(ctx, nd, key, r.now)
	return r
}

// reqCtx bounds one L2 request that starts at start by Timeout plus extra:
// parent itself when its own deadline comes sooner or it has ended, else a
// pooled reqCtx (reqctx.go: the deadline without a context.WithTimeout's
// allocations), to be handed back with endReq when the request is over.
func (t *tier) reqCtx(parent context.Context, start time.Time, extra time.Duration) (context.Context, *reqCtx) {
	dl := start.Add(t.cfg.Timeout + extra)
	if pd, ok := parent.Deadline(); (ok && !pd.After(dl)) || parent.Err() != nil {
		return parent, nil
	}
	r := reqCtxs.Get().(*reqCtx)
	r.parent, r.deadline, r.done = parent, dl, t.dones.done(dl)
	return r, r
}

// endReq hands back r, the context of a request that is over (nil: none).
func endReq(r *reqCtx) {
	if r != nil {
		*r = reqCtx{}
		reqCtxs.Put(r)
	}
}

// set writes the entry (h, val) to key's live owner with a Redis TTL of T2
// (capped at FailoverTTL, and the envelope flagged, when the owner is a
// failover owner). Nothing is written when no node is live or the entry has
// less than a millisecond to live.
func (t *tier) set(ctx context.Context, key string, h header, val []byte, now int64) error {
	nd, failover := t.route(key)
	if nd == nil {
		return nil
	}
	ttl := time.Duration(h.t2-now) * time.Millisecond
	if failover {
		h.flags |= flagFailover
		ttl = min(ttl, t.cfg.FailoverTTL)
	}
	if ttl < time.Millisecond {
		return nil
	}
	bp := envPool.Get().(*[]byte)
	env := append(appendHeader((*bp)[:0], h), val...)
	// A big value gets time to travel (about 100 MB/s on top of Timeout),
	// so that its size alone cannot mark a healthy node down.
	extra := time.Duration(len(env)) * 10 * time.Nanosecond
	err := t.do(ctx, nd, extra, func(ctx context.Context) error {
		return nd.client().Set(ctx, key, env, ttl).Err()
	})
	if err != nil {
		t.voidCopy(key, nd, false)
	}
	if reps := t.replicas(key, nd); len(reps) > 0 {
		t.setReplicas(ctx, reps, key, env, ttl, extra)
	}
	if cap(env) <= 64*1024 {
		*bp = env[:0]
		envPool.Put(bp)
	}
	return err
}

// delete removes key from its live owner (and its replicas).
func (t *tier) delete(ctx context.Context, key string) error {
	nd, _ := t.route(key)
	if nd == nil {
		return nil
	}
	err := t.del(ctx, nd, key)
	if err != nil {
		t.voidCopy(key, nd, false)
	}
	for _, r := range t.replicas(key, nd) {
		// The owner's answer is the call's; a replica that fails is voided.
		if t.del(ctx, r, key) != nil {
			t.voidCopy(key, r, true)
		}
	}
	return err
}

// del removes key from nd.
func (t *tier) del(ctx context.Context, nd *node, key string) error {
	return t.do(ctx, nd, 0, func(ctx context.Context) error {
		return nd.client().Del(ctx, key).Err()
	})
}

// do runs one request to nd under Timeout plus extra, records it, and feeds
// the node's health.
func (t *tier) do(parent context.Context, nd *node, extra time.Duration, fn func(ctx context.Context) error) error {
	start := time.Now()
	ctx, rc := t.reqCtx(parent, start, extra)
	nd.inflight.Add(1)
	err := fn(ctx)
	nd.inflight.Add(-1)
	endReq(rc)
	return t.record(parent, nd, start, err)
}

// record accounts for a request to nd that started at start and ended with
// err: counters, latency, and the node's health. A failure is returned
// wrapped with the node's address; redis.Nil (a miss) as it is.
func (t *tier) record(parent context.Context, nd *node, start time.Time, err error) error {
	nd.requests.Add(1)
	nd.latency.Observe(time.Since(start).Seconds())
	if err == nil || errors.Is(err, redis.Nil) {
		t.nodeOK(nd)
		return err
	}
	t.st.l2Errors.Add(1)
	nd.errors.Add(1)
	if isNodeFailure(err) && parent.Err() == nil { // not the caller giving up
		t.nodeFailed(nd, err)
	}
	return fmt.Errorf("cacheclient: node %s: %w", nd.addr, err)
}

// nodeOK records a successful request to nd.
func (t *tier) nodeOK(nd *node) {
	if nd.fails.Load() != 0 {
		nd.fails.Store(0)
	}
}

// nodeFailed records a failed request to nd and marks it down after
// FailureThreshold consecutive failures.
func (t *tier) nodeFailed(nd *node, err error) {
	if int(nd.fails.Add(1)) < t.health.FailureThreshold || nd.down.Load() {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if nd.down.Load() {
		return
	}
	tp := t.topo.Load()
	if tp.nodes[nd.addr] != nd {
		return // no longer a member
	}
	nd.down.Store(true)
	nd.downMarks.Add(1)
	t.scheduleReprobe(nd, time.Now())
	t.topo.Store(tp.withLive())
	t.co.flush() // its keys change owner
	t.log.Warn("cacheclient: node down", "node", nd.addr, "err", err)
}

// markUp marks nd up after a successful probe, once it has told its slot
// again (CONFIG GET slot): a node that came back with another slot, or
// that is placed for the first time, changes the ring.
func (t *tier) markUp(nd *node) {
	slot, err := t.readSlot(nd)
	if err != nil {
		return // not answering after all: the next probe asks again
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	tp := t.topo.Load()
	if !nd.down.Load() || tp.nodes[nd.addr] != nd {
		return
	}
	nd.fails.Store(0)
	nd.down.Store(false)
	nd.upAt = time.Now()
	if int(nd.slot.Swap(int32(slot))) != slot {
		nt := *tp
		nt.base, nt.slotted = t.place(tp.m, tp.nodes, tp)
		tp = &nt
	}
	// Rebuilt from base: a node the operator marked down in a slot table
	// stays down whatever its PINGs say.
	nt := tp.withLive()
	t.markWarm(nt, tp.live) // its keys come back from their failover owners
	t.topo.Store(nt)
	t.co.flush() // its keys come back to it
	t.log.Info("cacheclient: node up", "node", nd.addr)
}

// liveRing returns base with every down node marked.
func liveRing(base *ring.Ring, nodes map[string]*node) *ring.Ring {
	live := base
	for _, a := range base.Nodes() {
		if nd := nodes[a]; nd != nil && nd.down.Load() {
			live = live.WithDown(a)
		}
	}
	return live
}

// setMembership installs a new node set: clients for new nodes, which are
// asked for their slot first (placement.go), a new ring, the down marks of
// the nodes that stay, and closes the clients of nodes that left (requests
// still using them see a closed client, i.e. an L2 miss).
func (t *tier) setMembership(m Membership) {
	m = t.normalize(m)
	addrs := memberAddrs(m)
	old := t.topo.Load()
	var fresh []*node
	for _, a := range addrs {
		if _, ok := old.nodes[a]; !ok {
			fresh = append(fresh, newNode(a, &t.cfg, t.metrics.l2Latency.WithLabelValues(a)))
		}
	}
	t.readSlots(fresh)
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		for _, nd := range fresh {
			_ = nd.close()
		}
		return
	}
	old = t.topo.Load()
	nodes := make(map[string]*node, len(addrs))
	changed := len(addrs) != len(old.nodes)
	for _, nd := range fresh {
		if _, ok := old.nodes[nd.addr]; ok {
			_ = nd.close() // cannot happen: one watch goroutine
			continue
		}
		t.startChannel(nd)
		nodes[nd.addr] = nd
		changed = true
	}
	for _, a := range addrs {
		if nd, ok := old.nodes[a]; ok {
			nodes[a] = nd
		}
	}
	// Slots, or else minimal leaves and joins from the current ring (or the
	// operator's table as given), so that only the keys of nodes that left
	// or joined move.
	base, slotted := t.place(m, nodes, old)
	changed = changed || base.String() != old.base.String()
	tp := (&topology{base: base, nodes: nodes, m: m, slotted: slotted, prev: old.prev, warmUntil: old.warmUntil}).withLive()
	if changed {
		t.markWarm(tp, old.live)
	}
	t.topo.Store(tp)
	t.scheduleSlotRetry()
	if changed {
		t.co.flush() // keys may have changed owner
	}
	t.mu.Unlock()
	for a, nd := range old.nodes {
		if _, ok := nodes[a]; !ok {
			_ = nd.close()
			t.metrics.l2Latency.DeleteLabelValues(a)
		}
	}
	t.log.Info("cacheclient: membership", "nodes", base.String())
}

// discoveryWait is how long New waits for the Discoverer's first node set.
const discoveryWait = 2 * time.Second

// watch runs the Discoverer until ctx ends, installing each node set it
// reports. The first update, or Watch failing before any, is signalled on
// first (buffered).
func (t *tier) watch(ctx context.Context, d Discoverer, first chan<- error) {
	signalled := false
	err := d.Watch(ctx, func(m Membership) {
		t.setMembership(m)
		if !signalled {
			signalled = true
			first <- nil
		}
	})
	if !signalled {
		if err == nil {
			err = errors.New("Watch returned without a node set")
		}
		first <- err
		return
	}
	if err != nil && ctx.Err() == nil {
		t.log.Error("cacheclient: discovery stopped", "err", err)
	}
}

// nodes returns the current members and which of them are marked down.
func (t *tier) nodes() (up, down []string) {
	tp := t.topo.Load()
	for _, a := range tp.base.Nodes() {
		if tp.live.IsDown(a) {
			down = append(down, a)
		} else {
			up = append(up, a)
		}
	}
	return up, down
}

// nodeStats returns one NodeStats per member, sorted by address.
func (t *tier) nodeStats() []NodeStats {
	tp := t.topo.Load()
	var s []NodeStats
	for a, nd := range tp.nodes {
		s = append(s, NodeStats{
			Addr: a, Up: !tp.live.IsDown(a) && !nd.down.Load(), Slot: tp.base.SlotOf(a), Requests: nd.requests.Load(),
			Errors: nd.errors.Load(), MarkedDown: nd.downMarks.Load(),
		})
	}
	sort.Slice(s, func(i, j int) bool { return s[i].Addr < s[j].Addr })
	return s
}

// close empties the tier and closes every node client; later membership
// changes are ignored.
func (t *tier) close() error {
	t.mu.Lock()
	t.closed = true
	if t.slotRetry != nil && t.slotRetry.Stop() {
		t.retryWG.Done()
	}
	tp := t.topo.Load()
	t.topo.Store(emptyTopology())
	t.mu.Unlock()
	t.retryWG.Wait()
	var errs []error
	for _, nd := range tp.nodes {
		if err := nd.close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
