package cacheclient

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/cachetier/cachetier/loader"
)

// flights is the coalescing stage: a miss on a key runs one fill (L1 again,
// then L2, then the origin) at a time per key in this process, and every
// caller that misses the key meanwhile waits for that fill's result.
type flights struct {
	loads   loader.Group[fillResult] // fills for callers with a loader
	lookups loader.Group[fillResult] // fills for callers without one (nil Loader)
	timeout time.Duration            // bound on one fill: L2 read + origin load + L2 write
}

// group returns the flights a caller with loader l joins. A lookup without a
// loader must not hand its "not found" to callers that have one: it has
// flights of its own.
func (f *flights) group(l loader.Loader) *loader.Group[fillResult] {
	if l == nil {
		return &f.lookups
	}
	return &f.loads
}

// forget makes the next miss on key start a new fill instead of joining the
// one in flight (after a write of key, so that nobody gets an older value).
func (f *flights) forget(key string) {
	f.loads.Forget(key)
	f.lookups.Forget(key)
}

// wait waits for the fills in flight, or until ctx ends.
func (f *flights) wait(ctx context.Context) error {
	return errors.Join(f.loads.Wait(ctx), f.lookups.Wait(ctx))
}

// fillResult is the result of a fill, handed to every caller that shared the
// flight: the value (shared read-only by the waiters, each copies it into its
// own dst) and how it was obtained.
type fillResult struct {
	val      []byte
	src      Source
	stale    bool // a stale value (past T1), served for want of a fresh one
	negative bool // a "not found" answer (val is nil)
}

// miss answers a call that found no fresh entry in L1 or, by its read r, in
// L2: it joins or starts key's fill (which starts from r) and appends the
// value to dst[:n]. dst[n:] holds the L1 copy's stale value when haveStale
// is set. own says that r is the caller's own read, not one it shared with
// the caller that made it (readGroup): the caller then counts r's miss.
func (c *Client) miss(ctx context.Context, dst []byte, n int, key string, l loader.Loader, haveStale bool, r l2Read, own bool) ([]byte, Info, error) {
	if own && r.made && r.asked && r.err == nil {
		// The read found nothing fresh (l2Answer answers a fresh entry): an
		// L2 miss, counted here whichever flight the caller joins (a fill
		// counts only the reads it makes itself).
		c.st.l2Misses.Add(1)
	}
	if !r.flown {
		c.reads.fly(key)
	}
	res, shared, err := c.flights.group(l).Do(ctx, key, c.flights.timeout, func(fctx context.Context) (fillResult, error) {
		defer c.reads.filled(key)
		return c.fill(fctx, key, l, false, &r)
	})
	c.reads.land(key)
	if shared {
		c.st.coalesced.Add(1)
	}
	if err != nil {
		if cerr := ctx.Err(); cerr != nil && errors.Is(err, cerr) {
			return dst[:n], Info{Shared: shared}, err
		}
		if errors.Is(err, ErrShed) {
			c.st.shed.Add(1)
			return dst[:n], Info{Shared: shared}, err
		}
		var le *LoadError
		if !errors.As(err, &le) {
			// The fill failed in a way it could not judge itself: it ran
			// past its timeout or panicked. The L1 stale copy, if any, is
			// still good. (A LoadError or ErrShed means the fill already
			// judged the stale candidates, with the precise clock, and found
			// none.)
			if haveStale {
				c.st.staleServed.Add(1)
				return dst, Info{Source: SourceL1, Stale: true, Shared: shared}, nil
			}
			err = &LoadError{Key: key, Err: err}
		}
		return dst[:n], Info{Shared: shared}, err
	}
	val := res.val
	info := Info{Source: res.src, Stale: res.stale, Negative: res.negative, Shared: shared}
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

// revalidate refreshes key in the background unless a fill of it is already
// running (stale-while-revalidate).
func (c *Client) revalidate(key string, l loader.Loader) {
	if l == nil || c.closed.Load() {
		return
	}
	if c.flights.loads.DoAsync(key, c.flights.timeout, func(ctx context.Context) (fillResult, error) {
		defer c.reads.filled(key)
		return c.fill(ctx, key, l, true, nil)
	}) {
		c.st.refreshes.Add(1)
	}
}

// fill is the body of a flight: L1 again, then L2, then the origin, storing
// what the origin gave in both levels. With refresh set (a background
// revalidation) a stale entry is not an answer. pre, when not nil, is the L2
// read the caller that started the flight made just before: it stands for
// the fill's own unless a fill of the key ended since (then the key is read
// again). It returns a flight result, ErrShed, or a *LoadError.
func (c *Client) fill(ctx context.Context, key string, l loader.Loader, refresh bool, pre *l2Read) (fillResult, error) {
	now := preciseMs()
	var cand []byte // a stale value to fall back on
	candSrc := SourceNone

	// L1 again: a flight that ended just before this one started may have
	// filled it.
	if c.l1 != nil {
		if v, h, ok := c.l1.get(nil, key); ok {
			switch h.stateAt(now) {
			case stateFresh:
				return fillResult{val: v, src: SourceL1, negative: h.flags&flagNegative != 0}, nil
			case stateStale:
				if h.flags&flagNegative == 0 {
					cand, candSrc = v, SourceL1
				}
			}
		}
	}

	// L2: the key's live owner.
	var (
		env   []byte
		asked bool
		mark  readMark
		err   error
	)
	// l2Misses counts the misses of the fill's own read; a miss of pre was
	// counted by Client.miss.
	l2Misses := &c.st.l2Misses
	var preMisses atomic.Uint64 // counted by Client.miss already
	if pre != nil && pre.made && !c.reads.fillStale(key, pre) {
		if pre.found {
			env = []byte(pre.env)
		}
		asked, mark, err = pre.asked, pre.mark, pre.err
		l2Misses = &preMisses
	} else {
		env, asked, mark, err = c.tier.getMarked(ctx, key, now)
	}
	leasing := c.leases != nil && l != nil && asked && err == nil
	switch {
	case !asked || err != nil:
		// No live node, or the request failed (counted by the tier): on to
		// the origin.
	case env == nil:
		l2Misses.Add(1)
	default:
		h, ok := parseHeader(env)
		if !ok {
			l2Misses.Add(1)
			break
		}
		val := env[envHdrLen:]
		neg := h.flags&flagNegative != 0
		switch h.stateAt(now) {
		case stateFresh:
			c.st.l2Hits.Add(1)
			c.store.fillL1(key, h, val, now, mark)
			return fillResult{val: val, src: SourceL2, negative: neg}, nil
		case stateStale:
			l2Misses.Add(1)
			if !neg {
				c.store.fillL1(key, h, val, now, mark)
				if candSrc == SourceNone {
					cand, candSrc = val, SourceL2
				}
				if c.cfg.StaleWhileRevalidate && !refresh {
					return fillResult{val: val, src: SourceL2, stale: true}, nil
				}
			}
		default:
			l2Misses.Add(1)
		}
	}

	if l == nil {
		// No loader: a plain lookup. The key's previous owner, if it just
		// moved (warmup.go); else not found, and nothing to cache.
		if res, ok := c.warmFill(ctx, key); ok {
			return res, nil
		}
		return fillResult{src: SourceNone, negative: true}, nil
	}

	// The tier-wide lease (lease.go): load only if this process holds it,
	// else wait for the holder's value. Without one, a load of our own.
	if leasing {
		if res, err, ok := c.leaseFill(ctx, key, l, env, cand, candSrc, refresh); ok {
			return res, err
		}
	}

	// The key's previous owner, if it just moved (warmup.go); then the
	// origin, through its backoff and limiter.
	if res, ok := c.warmFill(ctx, key); ok {
		return res, nil
	}
	res, status, err := c.origin.load(ctx, key, l, now)
	switch status {
	case loaded:
		now = preciseMs()
		_ = c.store.value(ctx, key, res.Value, res.TTL, now)
		return fillResult{val: res.Value, src: SourceOrigin}, nil
	case notFound:
		c.store.negative(ctx, key, preciseMs())
		return fillResult{src: SourceOrigin, negative: true}, nil
	}
	return c.noValue(key, status, err, cand, candSrc)
}

// noValue answers a fill whose origin load gave no value (it failed, was
// suppressed by the key's error backoff, or was refused by the limiter): the
// stale candidate cand if there is one, else ErrShed for a refusal, else a
// *LoadError.
func (c *Client) noValue(key string, status loadStatus, err error, cand []byte, candSrc Source) (fillResult, error) {
	if candSrc != SourceNone {
		if status == failed {
			c.log.Warn("cacheclient: origin failed, serving stale", "key", key, "err", err)
		}
		return fillResult{val: cand, src: candSrc, stale: true}, nil
	}
	if status == refused {
		return fillResult{}, ErrShed
	}
	return fillResult{}, &LoadError{Key: key, Err: err}
}
