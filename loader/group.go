package loader

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
)

// Group coalesces concurrent loads of one key (golang.org/x/sync/singleflight
// inside). T is the type of a flight's result, shared by all its waiters:
// [Result] for a plain origin load, or whatever a caller needs to carry with
// the value (cacheclient carries where the value came from).
//
// Do runs fn at most once at a time per key; every caller that arrives while
// that run is in flight waits for it and gets its result. fn gets a context of
// its own, detached from every caller: it carries none of the first caller's
// values, deadline or cancellation (its parent is context.Background()), and is
// bounded only by the timeout passed to Do. So one impatient caller cannot fail
// the load for the others, one caller's request-scoped values (a trace span, a
// user identity, a deadline) do not leak into a load whose result everyone
// shares, and a hanging origin cannot hold anybody past the timeout. A caller
// that wants something carried into the load passes it in fn's closure.
//
// The zero value is ready to use. A Group must not be copied after first use.
//
// Goroutines: every flight runs on a goroutine of its own and ends by itself,
// when fn returns or, if timeout > 0, when the timeout expires (fn should
// honour its context; if it does not, its goroutine lives on until fn returns,
// but nobody waits for it, and a new flight for the key may start meanwhile;
// a [Limiter] released when fn returns still counts such a stuck load).
// [Group.Wait] waits until all of them are gone.
type Group[T any] struct {
	sf      singleflight.Group
	waiting atomic.Int64 // Do callers waiting for a flight

	mu sync.Mutex // protects the fields below
	// flying counts running flight functions per key (normally 0 or 1; a
	// forgotten flight may overlap with a new one).
	flying map[string]int
	// refreshing holds the keys that have a DoAsync waiter goroutine.
	refreshing map[string]struct{}
	// running counts goroutines owned by the group: flight functions, fn
	// runners and DoAsync waiters.
	running int
	// idle is closed when running drops to 0; nil when no Wait is pending.
	idle chan struct{}
}

// PanicError is the error a waiter gets when fn panicked. The panic is
// recovered so that one bad load does not crash the service; Stack says where
// it happened.
type PanicError struct {
	// Value is the value passed to panic.
	Value any
	// Stack is the stack trace of the panicking goroutine.
	Stack []byte
}

// Error implements error.
func (p *PanicError) Error() string {
	return fmt.Sprintf("loader: load panicked: %v\n\n%s", p.Value, p.Stack)
}

// Unwrap returns the panic value if it is an error.
func (p *PanicError) Unwrap() error {
	err, _ := p.Value.(error)
	return err
}

// Do loads key through fn, sharing a load already in flight for key. It
// returns fn's result, whether the result was shared with other callers, and
// fn's error.
//
// fn runs on its own goroutine with a context detached from ctx (none of its
// values, deadline or cancellation) and bounded by timeout (0 = no bound). If ctx ends
// before the result is ready, Do returns ctx.Err() at once while the flight
// continues for the other waiters. If the timeout expires first, every waiter
// gets an error wrapping context.DeadlineExceeded, even if fn ignores its
// context. If fn panics, waiters get a *PanicError.
//
// Do with an already ended ctx returns ctx.Err() without starting a flight.
func (g *Group[T]) Do(ctx context.Context, key string, timeout time.Duration,
	fn func(ctx context.Context) (T, error)) (res T, shared bool, err error) {
	if err := ctx.Err(); err != nil {
		return res, false, err
	}
	ch := g.sf.DoChan(key, g.flight(context.Background(), key, timeout, fn))
	g.waiting.Add(1)
	defer g.waiting.Add(-1)
	select {
	case r := <-ch:
		res, _ = r.Val.(T)
		return res, r.Shared, r.Err
	case <-ctx.Done():
		// ch has a buffer of one: the flight never blocks on us.
		return res, false, ctx.Err()
	}
}

// DoAsync starts fn in the background unless a flight for key is already
// running (for stale-while-revalidate: "refresh once per key"); returns
// whether it started one.
//
// fn runs as in [Group.Do], with context.Background() as the parent of its
// context. The result is discarded (fn should store what it loaded), but it is
// shared with any Do caller for key that arrives while the refresh is in
// flight, so a foreground miss does not load the key a second time.
//
// DoAsync returns false when a Do flight or another DoAsync for key is in
// progress. In the narrow window where a flight's fn has returned but its
// waiters are still being served, DoAsync may return true without a new load
// (it receives that flight's fresh result).
func (g *Group[T]) DoAsync(key string, timeout time.Duration,
	fn func(ctx context.Context) (T, error)) bool {
	g.mu.Lock()
	if _, ok := g.refreshing[key]; ok || g.flying[key] > 0 {
		g.mu.Unlock()
		return false
	}
	if g.refreshing == nil {
		g.refreshing = make(map[string]struct{})
	}
	g.refreshing[key] = struct{}{}
	g.running++
	g.mu.Unlock()

	ch := g.sf.DoChan(key, g.flight(context.Background(), key, timeout, fn))
	go func() {
		<-ch
		g.mu.Lock()
		delete(g.refreshing, key)
		g.doneLocked()
		g.mu.Unlock()
	}()
	return true
}

// Forget makes the next Do or DoAsync for key start a new flight instead of
// joining the one in progress (use it after writing a newer value for key, so
// that nobody receives the older load's result). The forgotten flight still
// completes for its current waiters.
func (g *Group[T]) Forget(key string) {
	g.sf.Forget(key)
}

// InFlight reports the number of flights in progress. A flight whose timeout
// expired is over, even if its fn has not returned yet.
func (g *Group[T]) InFlight() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for _, c := range g.flying {
		n += c
	}
	return n
}

// Waiting reports the number of Do callers currently waiting for a flight
// (the one that started it included).
func (g *Group[T]) Waiting() int {
	return int(g.waiting.Load())
}

// Wait blocks until every goroutine started by the group has ended (flights,
// including fn calls that outlived their timeout, and DoAsync refreshes), or
// ctx ends, in which case it returns ctx.Err(). Loads started while Wait is
// pending are waited for too. Use it on shutdown and in tests.
func (g *Group[T]) Wait(ctx context.Context) error {
	g.mu.Lock()
	if g.running == 0 {
		g.mu.Unlock()
		return nil
	}
	if g.idle == nil {
		g.idle = make(chan struct{})
	}
	idle := g.idle
	g.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// doneLocked records that an owned goroutine ended. g.mu must be held.
func (g *Group[T]) doneLocked() {
	g.running--
	if g.running == 0 && g.idle != nil {
		close(g.idle)
		g.idle = nil
	}
}

// outcome carries fn's result from its runner goroutine to the flight.
type outcome[T any] struct {
	res T
	err error
}

// flight returns the function singleflight runs for one flight of key.
func (g *Group[T]) flight(parent context.Context, key string, timeout time.Duration,
	fn func(ctx context.Context) (T, error)) func() (any, error) {
	return func() (any, error) {
		g.mu.Lock()
		if g.flying == nil {
			g.flying = make(map[string]int)
		}
		g.flying[key]++
		g.running++
		g.mu.Unlock()
		defer func() {
			g.mu.Lock()
			if g.flying[key]--; g.flying[key] <= 0 {
				delete(g.flying, key)
			}
			g.doneLocked()
			g.mu.Unlock()
		}()

		if timeout <= 0 {
			return protect(parent, fn)
		}
		ctx, cancel := context.WithTimeout(parent, timeout)
		defer cancel()
		done := make(chan outcome[T], 1) // buffered: an abandoned runner never blocks
		g.mu.Lock()
		g.running++
		g.mu.Unlock()
		go func() {
			defer func() {
				g.mu.Lock()
				g.doneLocked()
				g.mu.Unlock()
			}()
			res, err := protect(ctx, fn)
			done <- outcome[T]{res, err}
		}()
		select {
		case o := <-done:
			return o.res, o.err
		case <-ctx.Done():
			// Prefer fn's own answer if it arrived at the same moment.
			select {
			case o := <-done:
				return o.res, o.err
			default:
			}
			var zero T
			return zero, fmt.Errorf("loader: load timed out after %v: %w", timeout, ctx.Err())
		}
	}
}

// protect calls fn, turning a panic into a *PanicError.
func protect[T any](ctx context.Context, fn func(ctx context.Context) (T, error)) (res T, err error) {
	defer func() {
		if v := recover(); v != nil {
			var zero T
			res, err = zero, &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	return fn(ctx)
}

// Running reports whether a flight for key is in progress (a Do or DoAsync
// arriving now would most likely join it rather than run fn).
func (g *Group[T]) Running(key string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	_, refreshing := g.refreshing[key]
	return g.flying[key] > 0 || refreshing
}
