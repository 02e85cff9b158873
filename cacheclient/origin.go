package cacheclient

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cachetier/cachetier/loader"
	"github.com/cachetier/cachetier/ring"
)

// origin is the stage that calls loaders: the key's error backoff, the one
// limiter, the load with its timeout, and the counting.
type origin struct {
	lim     *loader.Limiter
	backoff *backoffTable // nil when disabled
	timeout time.Duration // OriginConfig.LoadTimeout
	st      *counters
	metrics *metrics
}

func newOrigin(cfg *OriginConfig, st *counters, m *metrics) *origin {
	o := &origin{lim: cfg.limiter(), timeout: cfg.LoadTimeout, st: st, metrics: m}
	if cfg.ErrorBackoff > 0 {
		o.backoff = newBackoffTable(cfg.ErrorBackoff, cfg.ErrorBackoffMax)
	}
	return o
}

// loadStatus is how an origin load ended.
type loadStatus uint8

const (
	loaded     loadStatus = iota // the loader returned a value
	notFound                     // the loader returned loader.ErrNotFound
	failed                       // the loader failed (err)
	suppressed                   // not called: the key is in error backoff (err)
	refused                      // not called: the limiter refused
)

// load calls l for key unless the key is in error backoff or the limiter
// refuses; now is the time the caller's flight started. A failure (or panic)
// opens or extends the key's backoff window, a value or a not-found closes
// it. A panic in l returns the limiter's permit and goes on up to the flight,
// which hands its waiters a *loader.PanicError.
func (o *origin) load(ctx context.Context, key string, l loader.Loader, now int64) (loader.Result, loadStatus, error) {
	var kh uint64
	if o.backoff != nil {
		kh = ring.HashKey(key)
		if lastErr, fails, left, in := o.backoff.check(kh, now); in {
			o.st.backoffSuppressed.Add(1)
			return loader.Result{}, suppressed, fmt.Errorf("%w after %d consecutive failures (next try in %v): %w",
				ErrOriginBackoff, fails, left, lastErr)
		}
	}
	release, ok := o.lim.TryAcquire()
	if !ok {
		o.st.limiterRefused.Add(1)
		return loader.Result{}, refused, nil
	}
	res, err := func() (loader.Result, error) {
		defer func() {
			release()
			if v := recover(); v != nil {
				if o.backoff != nil {
					o.backoff.failed(kh, preciseMs(), fmt.Errorf("loader panicked: %v", v))
				}
				panic(v)
			}
		}()
		return o.call(ctx, key, l)
	}()
	notFoundErr := errors.Is(err, loader.ErrNotFound)
	if o.backoff != nil {
		if err != nil && !notFoundErr {
			o.backoff.failed(kh, preciseMs(), err)
		} else {
			o.backoff.succeeded(kh)
		}
	}
	switch {
	case err == nil:
		return res, loaded, nil
	case notFoundErr:
		return loader.Result{}, notFound, nil
	}
	return loader.Result{}, failed, err
}

// call calls the loader, bounded by LoadTimeout, and records it.
func (o *origin) call(ctx context.Context, key string, l loader.Loader) (res loader.Result, err error) {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	o.st.originLoads.Add(1)
	start := time.Now()
	defer func() {
		o.metrics.originLatency.Observe(time.Since(start).Seconds())
		if err != nil && !errors.Is(err, loader.ErrNotFound) {
			o.st.originErrors.Add(1)
		}
	}()
	return l.Load(ctx, key)
}

// forgive ends key's error backoff: a value for it is at hand (a Set).
func (o *origin) forgive(key string) {
	if o.backoff != nil {
		o.backoff.succeeded(ring.HashKey(key))
	}
}
