package cacheclient

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// reqCtx is the context of one L2 request bounded by Tier.Timeout (tier.reqCtx):
// what context.WithTimeout of the caller's context would give go-redis,
// without allocating. go-redis (with ContextTimeoutEnabled) uses the
// deadline for the socket's read and write deadlines, to the nanosecond, and
// waits on Done only while waiting for a pooled connection or a dial. Done is
// a channel shared by the requests whose deadlines fall within a few
// milliseconds of each other (doneClock), closed at the deadline or up to
// one doneClock step after it; it does not follow the caller's cancellation
// (Err does): a caller that gives up while its request waits for a
// connection is answered when the request ends, within Timeout. A reqCtx is
// pooled: it must not be used after tier.endReq.
type reqCtx struct {
	parent   context.Context
	deadline time.Time
	done     <-chan struct{}
}

var reqCtxs = sync.Pool{New: func() any { return new(reqCtx) }}

// Deadline implements context.Context.
func (r *reqCtx) Deadline() (time.Time, bool) { return r.deadline, true }

// Done implements context.Context.
func (r *reqCtx) Done() <-chan struct{} { return r.done }

// Err implements context.Context: the caller's error first (its
// cancellation), then context.DeadlineExceeded once Done is closed.
func (r *reqCtx) Err() error {
	if err := r.parent.Err(); err != nil {
		return err
	}
	select {
	case <-r.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

// Value implements context.Context.
func (r *reqCtx) Value(key any) any { return r.parent.Value(key) }

// doneClock hands out the Done channels of reqCtx: one channel, closed by one
// timer, for all the requests whose deadlines fall within step of each other,
// so that a busy client makes one timer per step instead of one per request.
type doneClock struct {
	step time.Duration
	cur  atomic.Pointer[doneTick]
	mu   sync.Mutex // serialises making a new tick
}

// doneTick is a channel closed at (or just after) at.
type doneTick struct {
	at time.Time
	ch chan struct{}
}

// doneStep is the doneClock step for a request timeout d: an eighth of it,
// at least a millisecond.
func doneStep(d time.Duration) time.Duration { return max(d/8, time.Millisecond) }

// done returns a channel closed at a time in [d, d+step].
func (k *doneClock) done(d time.Time) <-chan struct{} {
	if tk := k.cur.Load(); tk != nil && tk.fits(d, k.step) {
		return tk.ch
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if tk := k.cur.Load(); tk != nil && tk.fits(d, k.step) {
		return tk.ch
	}
	tk := &doneTick{at: d.Add(k.step), ch: make(chan struct{})}
	time.AfterFunc(time.Until(tk.at), func() { close(tk.ch) })
	k.cur.Store(tk)
	return tk.ch
}

// fits reports whether tk closes in [d, d+step].
func (tk *doneTick) fits(d time.Time, step time.Duration) bool {
	return !tk.at.Before(d) && tk.at.Sub(d) <= step
}
