package cacheclient

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachetier/cachetier/loader"
)

// Client is a two-level cache client. It is safe for concurrent use; create
// one per process with New and Close it when done.
type Client struct {
	// A read goes through the stages in turn: L1 (l1.go), then on a miss
	// one flight per key (flights, flight.go) that reads the tier (tier.go),
	// calls the origin (origin.go) and writes back to both levels
	// (storeback.go).
	cfg     Config
	l1      *l1 // nil when disabled
	tier    *tier
	origin  *origin
	store   *storeBack
	flights flights
	reads   readGroup // the fast path's L2 reads in progress
	leases  *leases   // nil when Tier.Leases.Disabled
	log     *slog.Logger

	closed atomic.Bool
	stop   context.CancelFunc // ends the background goroutines
	bg     sync.WaitGroup     // health loop and discovery watcher

	st      counters
	metrics *metrics
}

// New returns a client for cfg and starts its background goroutines (health
// checks, discovery). It fails only on an invalid Config or, with
// Config.Discovery, when the Discoverer fails before reporting a node set.
func New(cfg Config) (*Client, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, log: cfg.Logger, metrics: newMetrics()}
	if cfg.L1.Bytes > 0 {
		c.l1 = newL1(cfg.L1.Bytes)
	}
	c.tier = newTier(&cfg, &c.st, c.metrics, newCoherence(!cfg.L1.Coherence.Disabled, c.l1, &c.st))
	c.origin = newOrigin(&cfg.Origin, &c.st, c.metrics)
	c.store = newStoreBack(&cfg, c.l1, c.tier, &c.st)
	c.flights.timeout = cfg.Origin.LoadTimeout + 2*cfg.Tier.Timeout
	if !cfg.Tier.Leases.Disabled {
		c.leases = newLeases(cfg.Tier.Leases.TTL)
		// A fill may wait out a whole lease, then take it over: its own
		// lease request, load and write-back (three round trips).
		c.flights.timeout += cfg.Tier.Leases.TTL + 4*cfg.Tier.Timeout
	}

	ctx, stop := context.WithCancel(context.Background())
	c.stop = stop
	if c.leases != nil {
		c.leases.closing = ctx.Done() // Close ends lease waits at once
	}
	sharedClock.acquire()
	if cfg.Discovery != nil {
		first := make(chan error, 1)
		c.bg.Go(func() { c.tier.watch(ctx, cfg.Discovery, first) })
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
	} else if len(cfg.Tier.Addrs) > 0 {
		c.tier.setMembership(Membership{Addrs: cfg.Tier.Addrs}) // Build dedupes: a repeated address is not extra weight
	}
	c.bg.Go(func() { c.tier.healthLoop(ctx) })
	return c, nil
}

// Close stops the background goroutines, waits (up to the flight timeout) for
// loads in flight, and closes the node connections. Calls made after Close
// return ErrClosed. Close is idempotent.
func (c *Client) Close() error {
	if !c.closed.CompareAndSwap(false, true) {
		return nil
	}
	c.stop()
	c.bg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), c.flights.timeout+time.Second)
	defer cancel()
	werr := c.flights.wait(ctx)
	sharedClock.release()
	var errs []error
	if werr != nil {
		errs = append(errs, fmt.Errorf("cacheclient: close: loads still running: %w", werr))
	}
	if err := c.tier.close(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Get returns the value of key: from L1 when fresh there, else from the key's
// node, else from l (at most one load per key at a time in this process),
// storing what it loaded in both levels. The returned slice is the caller's.
//
// A key the origin does not have returns loader.ErrNotFound (cached for
// NegativeTTL); with l nil, a miss is loader.ErrNotFound and nothing is
// cached. With the origin failing, a stale value inside its window is
// returned instead of the error; without one, a *LoadError. ErrShed means the
// origin limiter refused the load and no stale value was at hand. See the
// package documentation for every error.
func (c *Client) Get(ctx context.Context, key string, l loader.Loader) ([]byte, error) {
	v, _, err := c.AppendGet(ctx, nil, key, l)
	return v, err
}

// GetInfo is Get that also reports how the answer was obtained.
func (c *Client) GetInfo(ctx context.Context, key string, l loader.Loader) ([]byte, Info, error) {
	return c.AppendGet(ctx, nil, key, l)
}

// AppendGet is GetInfo that appends the value to dst (which it may grow) and
// returns the extended slice; on an error, or a not-found, it returns dst
// unchanged. An L1 hit allocates nothing when dst has spare capacity of at
// least len(value)+19 bytes (the L1 entry, the value and its envelope
// header, is read into it and the header cut off).
func (c *Client) AppendGet(ctx context.Context, dst []byte, key string, l loader.Loader) ([]byte, Info, error) {
	if c.closed.Load() {
		return dst, Info{}, ErrClosed
	}
	if c.l1 == nil {
		return c.l2(ctx, dst, len(dst), key, l, false)
	}
	now := coarseMs()
	if len(key) > maxL1Key {
		return c.appendGetL1(ctx, dst, len(dst), header{}, false, key, l, now)
	}
	// The L1 hit: l1.get and l1Judge's common case (a fresh value read
	// under the current generation), by hand, with no call but HasGet's.
	buf, found := c.l1.c.HasGet(dst, bytesOf(key))
	if end := len(buf) - envHdrLen; found && end >= len(dst) {
		if h, ok := parseHeader(buf[end:]); ok && now < h.t1 && h.flags&(flagNegative|flagIncoherent|flagBig) == 0 &&
			uint64(h.t2)>>l1GenShift == c.l1.gen.Load()&l1GenMask {
			c.st.l1Hits.Add(1)
			return buf[:end], Info{Source: SourceL1}, nil
		}
	}
	out, h, ok := c.l1.entry(buf, len(dst), found, key)
	return c.appendGetL1(ctx, out, len(dst), h, ok, key, l, now)
}

// appendGetL1 is AppendGet past its L1 lookup (out, h and ok as l1.get
// returned them for dst[:n]) when that found no fresh value: the rest of
// l1Judge, then L2.
func (c *Client) appendGetL1(ctx context.Context, out []byte, n int, h header, ok bool, key string, l loader.Loader, now int64) ([]byte, Info, error) {
	out, info, err, done, haveStale := c.l1Judge(out, n, h, ok, key, l, now)
	if done {
		return out, info, err
	}
	return c.l2(ctx, out, n, key, l, haveStale)
}

// l1Answer looks key up in L1 and answers when it can: a fresh entry, or a
// stale one with StaleWhileRevalidate (refreshed through l in the
// background), judged at now (Unix milliseconds). Otherwise done is false
// and the lookup is counted as a miss; haveStale then says that out[n:]
// holds a stale value to fall back on.
func (c *Client) l1Answer(dst []byte, n int, key string, l loader.Loader, now int64) (out []byte, info Info, err error, done, haveStale bool) {
	out, h, ok := c.l1.get(dst, key)
	return c.l1Judge(out, n, h, ok, key, l, now)
}

// l1Judge is l1Answer for the lookup already made: out, h and ok as l1.get
// returned them for dst[:n].
func (c *Client) l1Judge(out []byte, n int, h header, ok bool, key string, l loader.Loader, now int64) (_ []byte, info Info, err error, done, haveStale bool) {
	if ok {
		switch h.stateAt(now) {
		case stateFresh:
			if h.flags&flagNegative != 0 {
				c.st.negativeHits.Add(1)
				return out[:n], Info{Source: SourceL1, Negative: true}, loader.ErrNotFound, true, false
			}
			c.st.l1Hits.Add(1)
			if h.flags&flagIncoherent != 0 {
				c.st.incoherentHits.Add(1)
			}
			return out, Info{Source: SourceL1}, nil, true, false
		case stateStale:
			if h.flags&flagNegative == 0 {
				if c.cfg.StaleWhileRevalidate {
					c.st.staleServed.Add(1)
					c.revalidate(key, l)
					return out, Info{Source: SourceL1, Stale: true}, nil, true, false
				}
				c.st.l1Misses.Add(1)
				return out, Info{}, nil, false, true
			}
		}
	}
	c.st.l1Misses.Add(1)
	return out[:n], Info{}, nil, false, false
}

// l2 is the fast path of a call that found no fresh L1 entry: one L2 read on
// the caller's goroutine, outside the flights (shared with the callers that
// miss the key meanwhile: readGroup). A fresh entry (a value or a negative
// one) is the answer; anything else (a miss, a stale or leased entry, an
// error, no live node) goes on to the key's flight, whose fill uses this
// read instead of making its own, so that misses still coalesce and leases
// still apply. dst[n:] holds the L1 copy's stale value when haveStale is
// set.
func (c *Client) l2(ctx context.Context, dst []byte, n int, key string, l loader.Loader, haveStale bool) ([]byte, Info, error) {
	r, shared, ok := c.reads.read(ctx, c.tier, key)
	if !ok {
		return dst[:n], Info{}, ctx.Err() // as a caller leaving a flight
	}
	if r.made {
		if out, info, err, ok := c.l2Answer(ctx, dst, n, key, &r, !shared); ok {
			if r.flown {
				c.reads.land(key) // answered after all: the caller's context ended
			}
			if shared && (err == nil || err != ctx.Err()) { // not a caller leaving
				c.st.coalesced.Add(1)
				info.Shared = true
			}
			return out, info, err
		}
	}
	return c.miss(ctx, dst, n, key, l, haveStale, r, !shared)
}

// l2Answer answers from the L2 read r of key when it can: a fresh entry (a
// value appended to dst[:n], or a negative one), or the caller's context
// ending during the read. ok is false when the key must go on to its flight.
// own says r is the caller's own read: a hit is counted once per read, not
// once per caller that shared it (those are counted as coalesced).
func (c *Client) l2Answer(ctx context.Context, dst []byte, n int, key string, r *l2Read, own bool) (out []byte, info Info, err error, ok bool) {
	if r.err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return dst[:n], Info{}, cerr, true // as a caller leaving a flight
		}
		return dst, Info{}, nil, false
	}
	if !r.found {
		return dst, Info{}, nil, false
	}
	h, hok := parseHeader(bytesOf(r.env))
	if !hok || h.stateAt(r.now) != stateFresh {
		return dst, Info{}, nil, false
	}
	val := r.env[envHdrLen:]
	if own {
		c.st.l2Hits.Add(1)
	}
	c.store.fillL1(key, h, bytesOf(val), r.now, r.mark)
	if h.flags&flagNegative != 0 {
		c.st.negativeHits.Add(1)
		return dst[:n], Info{Source: SourceL2, Negative: true}, loader.ErrNotFound, true
	}
	return append(dst[:n], val...), Info{Source: SourceL2}, nil, true
}

// Set stores value under key in L1 and on the key's node, fresh for ttl (0 =
// Config.TTL) and then servable stale for StaleTTL. L1 is written even when
// the node write fails; that error is returned. Loads of key already in flight
// are forgotten, so later callers do not receive their older result, and the
// key's origin error backoff ends.
func (c *Client) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if c.closed.Load() {
		return ErrClosed
	}
	if ttl < 0 {
		return fmt.Errorf("cacheclient: Set %q: negative ttl %v", key, ttl)
	}
	c.flights.forget(key)
	c.tier.noteWrite(key)
	c.origin.forgive(key) // a value is at hand: no reason to wait
	err := c.store.value(ctx, key, value, ttl, preciseMs())
	c.tier.warmForget(ctx, key)
	c.reads.filled(key) // reads from before are too old for a fill
	return err
}

// Delete removes key from L1 and from its node. Other processes drop their L1
// copies when the node's invalidation reaches them (L1.Coherence); without
// coherence they live on until their (L1.TTL-capped) fresh window ends. If the key's owner is
// marked down, the copy on the failover owner is deleted and a tombstone is
// kept so that the owner's own copy is deleted when it comes back (Set does
// the same).
func (c *Client) Delete(ctx context.Context, key string) error {
	if c.closed.Load() {
		return ErrClosed
	}
	c.flights.forget(key)
	c.tier.noteWrite(key)
	err := c.store.delete(ctx, key)
	c.tier.warmForget(ctx, key)
	c.reads.filled(key) // reads from before are too old for a fill
	return err
}

// Nodes returns the current members and which of them are marked down.
func (c *Client) Nodes() (up, down []string) {
	return c.tier.nodes()
}
