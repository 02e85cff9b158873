package cacheclient

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachetier/cachetier/loader"
	"github.com/cachetier/cachetier/ring"
)

// ErrShed is returned when a value could be served neither from L1 (fresh or
// stale) nor by an origin load, because the origin limiter refused the load.
// It is returned at once: requests are shed, never queued.
var ErrShed = errors.New("cacheclient: load shed")

// ErrClosed is returned by calls made after Close.
var ErrClosed = errors.New("cacheclient: closed")

// Source says where a value came from.
type Source uint8

const (
	// SourceNone means no value was obtained (an error, or a shed request).
	SourceNone Source = iota
	// SourceL1 is the in-process cache.
	SourceL1
	// SourceL2 is the node tier.
	SourceL2
	// SourceOrigin is the loader.
	SourceOrigin
)

// String returns "none", "l1", "l2" or "origin".
func (s Source) String() string {
	switch s {
	case SourceL1:
		return "l1"
	case SourceL2:
		return "l2"
	case SourceOrigin:
		return "origin"
	}
	return "none"
}

// Info reports how GetInfo obtained its answer.
type Info struct {
	// Source is where the value (or the negative answer) came from.
	Source Source
	// Stale is true when the value is past its fresh window (T1) but inside
	// its stale window (T2): served because the origin failed or was shed,
	// or because StaleWhileRevalidate is on.
	Stale bool
	// Shared is true when this call waited on a load (L2 request and/or
	// origin call) together with other callers for the same key.
	Shared bool
	// Negative is true when the answer is a cached or fresh "not found".
	Negative bool
}

// topology is an immutable snapshot of the tier: swapped atomically, never
// modified.
type topology struct {
	base  *ring.Ring       // every member, none down: who owns a key normally
	live  *ring.Ring       // base with the down nodes marked: who serves it now
	nodes map[string]*node // by address
}

// Client is a two-level cache client. It is safe for concurrent use; create
// one per process with New and Close it when done.
type Client struct {
	cfg      Config
	l1       *l1          // nil when disabled
	group    loader.Group // flights of calls with a loader
	lookups  loader.Group // flights of calls without one (nil Loader)
	lim      *loader.Limiter
	backoff  *backoffTable // nil when ErrorBackoff < 0
	tombs    tombstones    // keys written while their owner was down
	flightTO time.Duration // bound on one flight: L2 read + origin load + L2 write
	log      *slog.Logger

	topo atomic.Pointer[topology]
	// mu serialises topology changes and protects the nodes' probe schedule
	// (node.nextProbe, node.backoff).
	mu sync.Mutex

	closed atomic.Bool
	stop   context.CancelFunc // ends the background goroutines
	bg     sync.WaitGroup     // health loop and discovery watcher

	st      counters
	metrics *metrics
}

// New returns a client for cfg and starts its background goroutines (health
// checks, discovery). It fails only on an invalid Config.
func New(cfg Config) (*Client, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	c := &Client{
		cfg:      cfg,
		flightTO: cfg.LoadTimeout + 2*cfg.L2Timeout,
		log:      cfg.Logger,
		metrics:  newMetrics(),
	}
	if cfg.L1Bytes > 0 {
		c.l1 = newL1(cfg.L1Bytes)
	}
	maxConc := cfg.OriginMaxConcurrent
	if maxConc < 0 {
		maxConc = 0
	}
	c.lim = loader.NewLimiter(maxConc, cfg.OriginRate, cfg.OriginBurst)
	if cfg.ErrorBackoff > 0 {
		c.backoff = newBackoffTable(cfg.ErrorBackoff, cfg.ErrorBackoffMax)
	}
	c.topo.Store(&topology{base: ring.New(), live: ring.New(), nodes: map[string]*node{}})

	ctx, stop := context.WithCancel(context.Background())
	c.stop = stop
	sharedClock.acquire()
	if cfg.Discovery != nil {
		first := make(chan error, 1)
		c.bg.Add(1)
		go c.watch(ctx, cfg.Discovery, first)
		// Wait briefly for the first node set (or a configuration error),
		// so that the first requests already have a tier.
		select {
		case err := <-first:
			if err != nil {
				c.stop()
				c.bg.Wait()
				sharedClock.release()
				return nil, fmt.Errorf("cacheclient: discovery: %w", err)
			}
		case <-time.After(discoveryWait):
			c.log.Warn("cacheclient: no node set from discovery yet; serving from L1 and the origin meanwhile")
		}
	} else if len(cfg.Addrs) > 0 {
		c.setMembership(Membership{Addrs: cfg.Addrs}) // Build dedupes: a repeated address is not extra weight
	}
	c.bg.Add(1)
	go c.healthLoop(ctx)
	return c, nil
}

// Close stops the background goroutines, waits (up to the load timeout) for
// loads in flight, and closes the node connections. Calls made after Close
// return ErrClosed. Close is idempotent.
func (c *Client) Close() error {
	if !c.closed.CompareAndSwap(false, true) {
		return nil
	}
	c.stop()
	c.bg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), c.flightTO+time.Second)
	defer cancel()
	werr := errors.Join(c.group.Wait(ctx), c.lookups.Wait(ctx))
	sharedClock.release()
	c.mu.Lock()
	t := c.topo.Load()
	c.topo.Store(&topology{base: ring.New(), live: ring.New(), nodes: map[string]*node{}})
	c.mu.Unlock()
	var errs []error
	if werr != nil {
		errs = append(errs, fmt.Errorf("cacheclient: close: loads still running: %w", werr))
	}
	for _, nd := range t.nodes {
		if err := nd.rdb.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Get returns the value of key: from L1 when fresh there, else from the key's
// node, else from l (at most one load per key at a time in this process;
// with l nil, a miss is loader.ErrNotFound and nothing is cached),
// storing what it loaded in both levels. A key the origin does not have
// returns loader.ErrNotFound (cached for NegativeTTL). With the origin
// failing, a stale value inside its window is returned instead of the error;
// without one, the error is returned wrapped. ErrShed means the origin limiter
// refused the load and no stale value was at hand.
//
// The returned slice is the caller's.
func (c *Client) Get(ctx context.Context, key string, l loader.Loader) ([]byte, error) {
	v, _, err := c.GetInfo(ctx, key, l, nil)
	return v, err
}

// GetInfo is Get that appends the value to dst (which it may grow) and reports
// how the answer was obtained. On an error dst is returned unchanged. An L1
// hit allocates nothing when dst has spare capacity of at least
// len(value)+19 bytes (the envelope header is read into it and stripped in
// place).
func (c *Client) GetInfo(ctx context.Context, key string, l loader.Loader, dst []byte) ([]byte, Info, error) {
	if c.closed.Load() {
		return dst, Info{}, ErrClosed
	}
	n := len(dst)
	haveStale := false
	if c.l1 != nil {
		out, h, ok := c.l1.get(dst, key)
		if ok {
			switch h.stateAt(c.nowMs()) {
			case stateFresh:
				if h.flags&flagNegative != 0 {
					c.st.negativeHits.Add(1)
					return out[:n], Info{Source: SourceL1, Negative: true}, loader.ErrNotFound
				}
				c.st.l1Hits.Add(1)
				return out, Info{Source: SourceL1}, nil
			case stateStale:
				if h.flags&flagNegative == 0 {
					if c.cfg.StaleWhileRevalidate {
						c.st.staleServed.Add(1)
						c.revalidate(key, l)
						return out, Info{Source: SourceL1, Stale: true}, nil
					}
					haveStale = true
					dst = out
				}
			}
		}
		c.st.l1Misses.Add(1)
	}

	g := &c.group
	if l == nil {
		// A lookup without a loader must not hand its "not found" to
		// callers that have one: it has flights of its own.
		g = &c.lookups
	}
	res, shared, err := g.Do(ctx, key, c.flightTO, func(fctx context.Context) (loader.Result, error) {
		return c.fill(fctx, key, l, false)
	})
	if shared {
		c.st.coalesced.Add(1)
	}
	if err != nil {
		if cerr := ctx.Err(); cerr != nil && errors.Is(err, cerr) {
			return dst[:n], Info{Shared: shared}, err
		}
		var le *loadError
		if haveStale && !errors.As(err, &le) && !errors.Is(err, ErrShed) {
			// The flight failed in a way it could not cover itself (it
			// timed out or panicked): the L1 stale copy is still good.
			// (A loadError or ErrShed means the flight already judged the
			// stale candidates, with the precise clock, and found none.)
			c.st.staleServed.Add(1)
			return dst, Info{Source: SourceL1, Stale: true, Shared: shared}, nil
		}
		if errors.Is(err, ErrShed) {
			c.st.shed.Add(1)
		}
		return dst[:n], Info{Shared: shared}, err
	}
	meta, val := decodeFlight(res)
	info := Info{Source: Source(meta & metaSource), Stale: meta&metaStale != 0,
		Negative: meta&metaNegative != 0, Shared: shared}
	if info.Negative {
		if info.Source != SourceNone { // SourceNone: a lookup without loader
			c.st.negativeHits.Add(1)
		}
		return dst[:n], info, loader.ErrNotFound
	}
	if info.Stale {
		c.st.staleServed.Add(1)
		if c.cfg.StaleWhileRevalidate && info.Source == SourceL2 {
			c.revalidate(key, l)
		}
	}
	return append(dst[:n], val...), info, nil
}

// loadError is an origin failure with no stale value to fall back on.
type loadError struct {
	key string
	err error
}

func (e *loadError) Error() string { return fmt.Sprintf("cacheclient: load %q: %v", e.key, e.err) }
func (e *loadError) Unwrap() error { return e.err }

// The result of a flight travels to every waiter as a loader.Result: the
// value in Value, shared read-only by the waiters (each copies it into its own
// dst), and these meta bits in TTL, which a flight's result does not otherwise
// use. Nothing is copied or allocated for it.
const (
	metaSource   = 0x03 // a Source
	metaStale    = 0x04
	metaNegative = 0x08
)

func encodeFlight(src Source, stale, negative bool, val []byte) loader.Result {
	m := byte(src)
	if stale {
		m |= metaStale
	}
	if negative {
		m |= metaNegative
	}
	return loader.Result{Value: val, TTL: time.Duration(m)}
}

func decodeFlight(r loader.Result) (meta byte, val []byte) {
	return byte(r.TTL), r.Value
}

// revalidate refreshes key in the background unless a load of it is already
// running (stale-while-revalidate).
func (c *Client) revalidate(key string, l loader.Loader) {
	if l == nil || c.closed.Load() {
		return
	}
	if c.group.DoAsync(key, c.flightTO, func(ctx context.Context) (loader.Result, error) {
		return c.fill(ctx, key, l, true)
	}) {
		c.st.refreshes.Add(1)
	}
}

// fill is the body of a flight: L1 again, then L2, then the origin. With
// refresh set (a background revalidation) a stale entry is not an answer.
func (c *Client) fill(ctx context.Context, key string, l loader.Loader, refresh bool) (loader.Result, error) {
	now := c.preciseMs()
	var cand []byte // a stale value to fall back on
	candSrc := SourceNone

	// L1 again: a flight that ended just before this one started may have
	// filled it.
	if c.l1 != nil {
		if v, h, ok := c.l1.get(nil, key); ok {
			switch h.stateAt(now) {
			case stateFresh:
				return encodeFlight(SourceL1, false, h.flags&flagNegative != 0, v), nil
			case stateStale:
				if h.flags&flagNegative == 0 {
					cand, candSrc = v, SourceL1
				}
			}
		}
	}

	// L2: the key's live owner.
	if nd, failover := c.route(key); nd != nil {
		var env []byte
		var err error
		if !failover && c.tombs.take(key, nd.addr, now) {
			// Deleted or overwritten while this owner was down: its copy is
			// out of date. Delete it instead of reading it.
			err = c.l2Do(ctx, nd, func(ctx context.Context) error {
				return nd.rdb.Del(ctx, key).Err()
			})
			if err != nil {
				c.tombs.add(key, nd.addr, now+msCeil(c.cfg.TTL+c.cfg.StaleTTL))
			}
		} else {
			env, err = c.l2Get(ctx, nd, key)
		}
		switch {
		case err != nil:
			// Counted in l2Get; go on to the origin.
		case env == nil:
			c.st.l2Misses.Add(1)
		default:
			h, ok := parseHeader(env)
			if !ok {
				c.st.l2Misses.Add(1)
				break
			}
			val := env[envHdrLen:]
			neg := h.flags&flagNegative != 0
			switch h.stateAt(now) {
			case stateFresh:
				c.st.l2Hits.Add(1)
				c.setL1(key, h, val, now)
				return encodeFlight(SourceL2, false, neg, val), nil
			case stateStale:
				c.st.l2Misses.Add(1)
				if !neg {
					c.setL1(key, h, val, now)
					if candSrc == SourceNone {
						cand, candSrc = val, SourceL2
					}
					if c.cfg.StaleWhileRevalidate && !refresh {
						return encodeFlight(SourceL2, true, false, val), nil
					}
				}
			default:
				c.st.l2Misses.Add(1)
			}
		}
	}

	if l == nil {
		// No loader: a plain lookup. Not found, and nothing to cache.
		return encodeFlight(SourceNone, false, true, nil), nil
	}

	// Origin, unless the key is in error backoff...
	var kh uint64
	if c.backoff != nil {
		kh = ring.HashKey(key)
		if lastErr, fails, left, in := c.backoff.check(kh, now); in {
			c.st.backoffSuppressed.Add(1)
			if candSrc != SourceNone {
				return encodeFlight(candSrc, true, false, cand), nil
			}
			return loader.Result{}, &loadError{key: key, err: fmt.Errorf("%w after %d consecutive failures (next try in %v): %w",
				ErrOriginBackoff, fails, left, lastErr)}
		}
	}
	// ...and if the limiter allows.
	release, ok := c.lim.TryAcquire()
	if !ok {
		c.st.limiterRefused.Add(1)
		if candSrc != SourceNone {
			return encodeFlight(candSrc, true, false, cand), nil
		}
		return loader.Result{}, ErrShed
	}
	res, err := func() (loader.Result, error) {
		// A panicking loader (recovered by the flight, which hands the
		// waiters a *loader.PanicError) must still return its limiter
		// permit, and counts as a failure for the backoff.
		defer func() {
			release()
			if v := recover(); v != nil {
				if c.backoff != nil {
					c.backoff.failed(kh, c.preciseMs(), fmt.Errorf("loader panicked: %v", v))
				}
				panic(v)
			}
		}()
		return c.load(ctx, key, l)
	}()
	now = c.preciseMs()
	if c.backoff != nil {
		if err != nil && !errors.Is(err, loader.ErrNotFound) {
			c.backoff.failed(kh, now, err)
		} else {
			c.backoff.succeeded(kh)
		}
	}
	if err != nil {
		if errors.Is(err, loader.ErrNotFound) {
			if c.cfg.NegativeTTL > 0 {
				t1 := now + msCeil(c.cfg.NegativeTTL)
				c.store(ctx, key, header{flags: flagNegative, t1: t1, t2: t1}, nil, now)
			}
			return encodeFlight(SourceOrigin, false, true, nil), nil
		}
		if candSrc != SourceNone {
			c.log.Warn("cacheclient: origin failed, serving stale", "key", key, "err", err)
			return encodeFlight(candSrc, true, false, cand), nil
		}
		return loader.Result{}, &loadError{key: key, err: err}
	}
	ttl := res.TTL
	if ttl <= 0 {
		ttl = c.cfg.TTL
	}
	t1 := now + msCeil(ttl)
	c.store(ctx, key, header{t1: t1, t2: t1 + msCeil(c.cfg.StaleTTL)}, res.Value, now)
	return encodeFlight(SourceOrigin, false, false, res.Value), nil
}

// load calls the origin, bounded by LoadTimeout, and records it.
func (c *Client) load(ctx context.Context, key string, l loader.Loader) (res loader.Result, err error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.LoadTimeout)
	defer cancel()
	c.st.originLoads.Add(1)
	start := time.Now()
	defer func() {
		c.metrics.originLatency.Observe(time.Since(start).Seconds())
		if err != nil && !errors.Is(err, loader.ErrNotFound) {
			c.st.originErrors.Add(1)
		}
	}()
	return l.Load(ctx, key)
}

// store writes an entry to L1 and L2.
func (c *Client) store(ctx context.Context, key string, h header, val []byte, now int64) error {
	c.setL1(key, h, val, now)
	return c.setL2(ctx, key, h, val, now)
}

// setL1 writes an entry to L1, its fresh window capped by L1TTL.
func (c *Client) setL1(key string, h header, val []byte, now int64) {
	if c.l1 == nil {
		return
	}
	if c.cfg.L1TTL > 0 {
		if capT1 := now + msCeil(c.cfg.L1TTL); capT1 < h.t1 {
			h.t1 = capT1
		}
	}
	h.flags &^= flagFailover
	c.l1.set(key, h, val)
}

// setL2 writes an entry to the key's live owner with a Redis TTL of T2 (or
// FailoverTTL if shorter and the owner is a failover owner).
func (c *Client) setL2(ctx context.Context, key string, h header, val []byte, now int64) error {
	nd, failover := c.route(key)
	if nd == nil {
		return nil
	}
	ttl := time.Duration(h.t2-now) * time.Millisecond
	if failover {
		h.flags |= flagFailover
		ttl = min(ttl, c.cfg.FailoverTTL)
	}
	if ttl < time.Millisecond {
		return nil
	}
	bp := envPool.Get().(*[]byte)
	env := append(appendHeader((*bp)[:0], h), val...)
	// A big value gets time to travel (about 100 MB/s on top of L2Timeout),
	// so that its size alone cannot mark a healthy node down.
	extra := time.Duration(len(env)) * 10 * time.Nanosecond
	err := c.l2DoExtra(ctx, nd, extra, func(ctx context.Context) error {
		return nd.rdb.Set(ctx, key, env, ttl).Err()
	})
	if cap(env) <= 64*1024 {
		*bp = env[:0]
		envPool.Put(bp)
	}
	return err
}

// route returns the node that serves key now (nil if none is live) and
// whether it is a failover owner (the key's usual owner is down).
func (c *Client) route(key string) (nd *node, failover bool) {
	t := c.topo.Load()
	if len(t.nodes) == 0 {
		return nil, false
	}
	h := ring.HashKey(key)
	addr, ok := t.live.OwnerHash(h)
	if !ok {
		return nil, false
	}
	if base, ok := t.base.OwnerHash(h); ok && base != addr {
		failover = true
	}
	return t.nodes[addr], failover
}

// l2Get reads key's envelope from nd; nil, nil on a miss.
func (c *Client) l2Get(ctx context.Context, nd *node, key string) ([]byte, error) {
	var b []byte
	err := c.l2Do(ctx, nd, func(ctx context.Context) error {
		var err error
		b, err = nd.rdb.Get(ctx, key).Bytes()
		return err
	})
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	return b, err
}

// l2Do runs one L2 request under L2Timeout, records it, and feeds the node's
// health.
func (c *Client) l2Do(parent context.Context, nd *node, fn func(ctx context.Context) error) error {
	return c.l2DoExtra(parent, nd, 0, fn)
}

// l2DoExtra is l2Do with extra time on top of L2Timeout.
func (c *Client) l2DoExtra(parent context.Context, nd *node, extra time.Duration, fn func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(parent, c.cfg.L2Timeout+extra)
	defer cancel()
	start := time.Now()
	err := fn(ctx)
	nd.requests.Add(1)
	nd.latency.Observe(time.Since(start).Seconds())
	if err == nil || errors.Is(err, redis.Nil) {
		c.nodeOK(nd)
		return err
	}
	c.st.l2Errors.Add(1)
	nd.errors.Add(1)
	if isNodeFailure(err) && parent.Err() == nil { // not the caller giving up
		c.nodeFailed(nd, err)
	}
	return fmt.Errorf("cacheclient: node %s: %w", nd.addr, err)
}

// Set stores value under key in L1 and on the key's node, fresh for ttl (0 =
// Config.TTL) and then servable stale for StaleTTL. L1 is written even when
// the node write fails; that error is returned. Loads of key already in flight
// are forgotten, so later callers do not receive their older result.
func (c *Client) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if c.closed.Load() {
		return ErrClosed
	}
	if ttl < 0 {
		return fmt.Errorf("cacheclient: Set %q: negative ttl %v", key, ttl)
	}
	if ttl == 0 {
		ttl = c.cfg.TTL
	}
	c.group.Forget(key)
	c.lookups.Forget(key)
	c.tombstoneWrite(key)
	if c.backoff != nil {
		c.backoff.succeeded(ring.HashKey(key)) // a value is at hand: no reason to wait
	}
	now := c.preciseMs()
	t1 := now + msCeil(ttl)
	return c.store(ctx, key, header{t1: t1, t2: t1 + msCeil(c.cfg.StaleTTL)}, value, now)
}

// Delete removes key from L1 and from its node. Other processes' L1 copies
// live on until their (L1TTL-capped) fresh window ends. If the key's owner is
// marked down, the copy on the failover owner is deleted and a tombstone is
// kept so that the owner's own copy is deleted when it comes back (Set does
// the same).
func (c *Client) Delete(ctx context.Context, key string) error {
	if c.closed.Load() {
		return ErrClosed
	}
	c.group.Forget(key)
	c.lookups.Forget(key)
	c.tombstoneWrite(key)
	if c.l1 != nil {
		c.l1.del(key)
	}
	nd, _ := c.route(key)
	if nd == nil {
		return nil
	}
	return c.l2Do(ctx, nd, func(ctx context.Context) error {
		return nd.rdb.Del(ctx, key).Err()
	})
}

// Nodes returns the current members and which of them are marked down.
func (c *Client) Nodes() (up, down []string) {
	t := c.topo.Load()
	for _, a := range t.base.Nodes() {
		if t.live.IsDown(a) {
			down = append(down, a)
		} else {
			up = append(up, a)
		}
	}
	return up, down
}

// setMembership installs a new node set: a new ring, clients for new nodes,
// the down marks of the nodes that stay, and closes the clients of nodes that
// left (requests still using them see a closed client, i.e. an L2 miss).
func (c *Client) setMembership(m Membership) {
	c.mu.Lock()
	if c.closed.Load() {
		c.mu.Unlock()
		return
	}
	old := c.topo.Load()
	// Minimal leaves and joins from the current ring (or the operator's
	// table as given), so that only the keys of nodes that left or joined move.
	base := m.Build(old.base)
	nodes := make(map[string]*node, len(base.Nodes()))
	for _, a := range base.Nodes() {
		if nd, ok := old.nodes[a]; ok {
			nodes[a] = nd
		} else {
			nodes[a] = newNode(a, &c.cfg, c.metrics.l2Latency.WithLabelValues(a))
		}
	}
	c.topo.Store(&topology{base: base, live: liveRing(base, nodes), nodes: nodes})
	c.mu.Unlock()
	for a, nd := range old.nodes {
		if _, ok := nodes[a]; !ok {
			_ = nd.rdb.Close()
			c.metrics.l2Latency.DeleteLabelValues(a)
		}
	}
	c.log.Info("cacheclient: membership", "nodes", base.String())
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

// nodeOK records a successful request to nd.
func (c *Client) nodeOK(nd *node) {
	if nd.fails.Load() != 0 {
		nd.fails.Store(0)
	}
}

// nodeFailed records a failed request to nd and marks it down after
// FailureThreshold consecutive failures.
func (c *Client) nodeFailed(nd *node, err error) {
	if int(nd.fails.Add(1)) < c.cfg.FailureThreshold || nd.down.Load() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if nd.down.Load() {
		return
	}
	t := c.topo.Load()
	if t.nodes[nd.addr] != nd {
		return // no longer a member
	}
	nd.down.Store(true)
	nd.downMarks.Add(1)
	nd.backoff = c.cfg.HealthInterval
	nd.nextProbe = time.Now().Add(jitter(nd.backoff))
	c.topo.Store(&topology{base: t.base, live: liveRing(t.base, t.nodes), nodes: t.nodes})
	c.log.Warn("cacheclient: node down", "node", nd.addr, "err", err)
}

// markUp marks nd up after a successful probe.
func (c *Client) markUp(nd *node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.topo.Load()
	if !nd.down.Load() || t.nodes[nd.addr] != nd {
		return
	}
	nd.fails.Store(0)
	nd.down.Store(false)
	// Rebuilt from base: a node the operator marked down in a slot table
	// stays down whatever its PINGs say.
	c.topo.Store(&topology{base: t.base, live: liveRing(t.base, t.nodes), nodes: t.nodes})
	c.log.Info("cacheclient: node up", "node", nd.addr)
}

// snapshotNodes returns a copy of the current node map.
func (c *Client) snapshotNodes() map[string]*node {
	return maps.Clone(c.topo.Load().nodes)
}

// nowMs returns the coarse current time in Unix milliseconds (the L1 hit
// path's clock; see coarseClock).
func (c *Client) nowMs() int64 { return sharedClock.coarse() }

// preciseMs reads the system clock (the slow paths' clock).
func (c *Client) preciseMs() int64 { return sharedClock.precise() }
