package loader

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitGroupIdle fails the test if g still owns goroutines after a generous
// deadline.
func waitGroupIdle[T any](t *testing.T, g *Group[T]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := g.Wait(ctx); err != nil {
		t.Fatalf("Group.Wait: %v", err)
	}
}

// gatedLoad returns a flight function that counts its calls and returns
// value once release is closed, or its context's error if that comes first.
func gatedLoad(calls *atomic.Int64, release <-chan struct{}, value string) func(context.Context) (Result, error) {
	return func(ctx context.Context) (Result, error) {
		calls.Add(1)
		select {
		case <-release:
			return Result{Value: []byte(value)}, nil
		case <-ctx.Done():
			return Result{}, ctx.Err()
		}
	}
}

// pollUntil polls cond every few milliseconds until it holds or a generous
// deadline passes.
func pollUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestGroupHerdOneCall(t *testing.T) {
	const herd = 1000
	var g Group[Result]
	var calls atomic.Int64
	fn := func(ctx context.Context) (Result, error) {
		calls.Add(1)
		// Hold the flight open until the whole herd is waiting on it, so
		// the assertion below cannot depend on scheduling luck.
		for g.Waiting() < herd {
			select {
			case <-ctx.Done():
				return Result{}, ctx.Err()
			case <-time.After(time.Millisecond):
			}
		}
		return Result{Value: []byte("v"), TTL: time.Minute}, nil
	}
	var wg sync.WaitGroup
	var sharedN atomic.Int64
	errs := make(chan error, herd)
	for range herd {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, shared, err := g.Do(context.Background(), "cold", 30*time.Second, fn)
			if err != nil {
				errs <- err
				return
			}
			if string(res.Value) != "v" || res.TTL != time.Minute {
				errs <- fmt.Errorf("got %q ttl %v", res.Value, res.TTL)
				return
			}
			if shared {
				sharedN.Add(1)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("origin calls = %d, want 1", n)
	}
	if n := sharedN.Load(); n != herd {
		t.Fatalf("shared reported by %d callers, want %d", n, herd)
	}
	waitGroupIdle(t, &g)
	if n := g.InFlight(); n != 0 {
		t.Fatalf("InFlight after herd = %d", n)
	}
}

func TestGroupDistinctKeysDoNotCoalesce(t *testing.T) {
	var g Group[Result]
	var calls atomic.Int64
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprintf("k%d", i)
			res, _, err := g.Do(context.Background(), key, time.Minute, func(context.Context) (Result, error) {
				calls.Add(1)
				return Result{Value: []byte(key)}, nil
			})
			if err != nil || string(res.Value) != key {
				t.Errorf("Do(%s) = %q, %v", key, res.Value, err)
			}
		}()
	}
	wg.Wait()
	if n := calls.Load(); n != 20 {
		t.Fatalf("calls = %d, want 20", n)
	}
	waitGroupIdle(t, &g)
}

func TestGroupWaiterCancelDoesNotCancelFlight(t *testing.T) {
	var g Group[Result]
	release := make(chan struct{})
	entered := make(chan struct{})
	var flightCtxErr atomic.Value
	fn := func(ctx context.Context) (Result, error) {
		close(entered)
		<-release
		flightCtxErr.Store(fmt.Sprint(ctx.Err()))
		return Result{Value: []byte("ok")}, nil
	}

	type reply struct {
		res Result
		err error
	}
	ctxA, cancelA := context.WithCancel(context.Background())
	aDone := make(chan reply, 1)
	go func() {
		res, _, err := g.Do(ctxA, "k", time.Minute, fn)
		aDone <- reply{res, err}
	}()
	<-entered
	bDone := make(chan reply, 1)
	go func() {
		res, _, err := g.Do(context.Background(), "k", time.Minute, fn)
		bDone <- reply{res, err}
	}()
	pollUntil(t, "both waiters", func() bool { return g.Waiting() == 2 })

	cancelA()
	select {
	case r := <-aDone:
		if !errors.Is(r.err, context.Canceled) {
			t.Fatalf("cancelled waiter got %v, want context.Canceled", r.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("cancelled waiter did not return")
	}
	select {
	case r := <-bDone:
		t.Fatalf("other waiter returned early: %v", r.err)
	default:
	}
	close(release)
	select {
	case r := <-bDone:
		if r.err != nil || string(r.res.Value) != "ok" {
			t.Fatalf("other waiter got %q, %v", r.res.Value, r.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("other waiter never got the result")
	}
	if got := flightCtxErr.Load(); got != "<nil>" {
		t.Fatalf("flight context was ended by a waiter's cancellation: %v", got)
	}
	waitGroupIdle(t, &g)
}

func TestGroupFirstCallerCancelStillLoadsForOthers(t *testing.T) {
	// The caller that starts the flight gives up immediately; the load must
	// finish anyway and serve a later caller that joins it.
	var g Group[Result]
	var calls atomic.Int64
	release := make(chan struct{})
	fn := gatedLoad(&calls, release, "x")
	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() {
		_, _, err := g.Do(ctx, "k", time.Minute, fn)
		first <- err
	}()
	pollUntil(t, "flight start", func() bool { return g.InFlight() == 1 })
	cancel()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Fatalf("first caller: %v", err)
	}
	second := make(chan error, 1)
	go func() {
		res, _, err := g.Do(context.Background(), "k", time.Minute, fn)
		if err == nil && string(res.Value) != "x" {
			err = fmt.Errorf("value %q", res.Value)
		}
		second <- err
	}()
	pollUntil(t, "second waiter", func() bool { return g.Waiting() == 1 })
	close(release)
	if err := <-second; err != nil {
		t.Fatal(err)
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("calls = %d, want 1", n)
	}
	waitGroupIdle(t, &g)
}

// The flight's context carries none of the first caller's values or
// deadline: only the Do timeout bounds it.
func TestGroupContextDetachedFromCaller(t *testing.T) {
	type ctxKey struct{}
	var g Group[Result]
	ctx, cancel := context.WithTimeout(context.WithValue(context.Background(), ctxKey{}, "trace-1"), time.Hour)
	defer cancel()
	res, _, err := g.Do(ctx, "k", time.Second, func(ctx context.Context) (Result, error) {
		if v := ctx.Value(ctxKey{}); v != nil {
			return Result{}, fmt.Errorf("caller's value %v leaked into the flight", v)
		}
		d, ok := ctx.Deadline()
		if !ok {
			return Result{}, errors.New("flight context has no deadline")
		}
		if time.Until(d) > 2*time.Second {
			return Result{}, fmt.Errorf("flight deadline %v is the caller's, not the timeout", time.Until(d))
		}
		return Result{Value: []byte("ok")}, nil
	})
	if err != nil || string(res.Value) != "ok" {
		t.Fatalf("got %q, %v", res.Value, err)
	}
	waitGroupIdle(t, &g)
}

// Group carries any result type.
func TestGroupTypedResult(t *testing.T) {
	type fill struct {
		val    string
		source int
	}
	var g Group[fill]
	res, _, err := g.Do(context.Background(), "k", time.Second, func(context.Context) (fill, error) {
		return fill{"v", 2}, nil
	})
	if err != nil || res != (fill{"v", 2}) {
		t.Fatalf("got %+v, %v", res, err)
	}
	waitGroupIdle(t, &g)
}

func TestGroupHangingFnBoundedByTimeout(t *testing.T) {
	var g Group[Result]
	unblock := make(chan struct{})
	// fn ignores its context entirely: the timeout must still free the waiters.
	fn := func(context.Context) (Result, error) {
		<-unblock
		return Result{Value: []byte("late")}, nil
	}
	const timeout = 100 * time.Millisecond
	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			_, _, err := g.Do(context.Background(), "hang", timeout, fn)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("err = %v, want DeadlineExceeded", err)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("waiter held %v past a %v timeout", d, timeout)
			}
		}()
	}
	wg.Wait()
	// The flight has ended (a new Do starts a new flight) although fn has not
	// returned; Wait still accounts for fn's goroutine.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := g.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait with fn still running = %v, want DeadlineExceeded", err)
	}
	close(unblock)
	waitGroupIdle(t, &g)
}

func TestGroupTimeoutHonouredByFn(t *testing.T) {
	var g Group[Result]
	_, _, err := g.Do(context.Background(), "k", 50*time.Millisecond, func(ctx context.Context) (Result, error) {
		<-ctx.Done()
		return Result{}, fmt.Errorf("origin: %w", ctx.Err())
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	waitGroupIdle(t, &g)
}

func TestGroupErrorSharedAndNotCached(t *testing.T) {
	var g Group[Result]
	boom := errors.New("origin down")
	var calls atomic.Int64
	fn := func(context.Context) (Result, error) {
		calls.Add(1)
		return Result{}, boom
	}
	for i := range 3 {
		if _, _, err := g.Do(context.Background(), "k", time.Second, fn); !errors.Is(err, boom) {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if n := calls.Load(); n != 3 {
		t.Fatalf("sequential calls = %d, want 3 (errors are not remembered)", n)
	}
	_, _, err := g.Do(context.Background(), "nf", time.Second, func(context.Context) (Result, error) {
		return Result{}, ErrNotFound
	})
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("ErrNotFound not passed through: %v", err)
	}
	waitGroupIdle(t, &g)
}

func TestGroupPanicBecomesError(t *testing.T) {
	var g Group[Result]
	for _, timeout := range []time.Duration{0, time.Second} {
		_, _, err := g.Do(context.Background(), "p", timeout, func(context.Context) (Result, error) {
			panic("kaboom")
		})
		var pe *PanicError
		if !errors.As(err, &pe) || pe.Value != "kaboom" || !strings.Contains(pe.Error(), "kaboom") {
			t.Fatalf("timeout %v: err = %v, want *PanicError", timeout, err)
		}
		if len(pe.Stack) == 0 {
			t.Fatal("PanicError without stack")
		}
	}
	waitGroupIdle(t, &g)
}

func TestGroupCancelledCtxStartsNothing(t *testing.T) {
	var g Group[Result]
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	called := false
	_, _, err := g.Do(ctx, "k", time.Second, func(context.Context) (Result, error) {
		called = true
		return Result{}, nil
	})
	if !errors.Is(err, context.Canceled) || called {
		t.Fatalf("err = %v, called = %v", err, called)
	}
}

func TestGroupDoAsyncOncePerKey(t *testing.T) {
	var g Group[Result]
	var calls atomic.Int64
	release := make(chan struct{})
	fn := gatedLoad(&calls, release, "fresh")
	if !g.DoAsync("k", time.Minute, fn) {
		t.Fatal("first DoAsync did not start a refresh")
	}
	for i := range 100 {
		if g.DoAsync("k", time.Minute, fn) {
			t.Fatalf("DoAsync #%d started a second refresh", i+2)
		}
	}
	// A foreground miss during the refresh joins it.
	got := make(chan Result, 1)
	go func() {
		res, shared, err := g.Do(context.Background(), "k", time.Minute, fn)
		if err != nil || !shared {
			t.Errorf("Do during refresh: shared=%v err=%v", shared, err)
		}
		got <- res
	}()
	pollUntil(t, "foreground waiter", func() bool { return g.Waiting() == 1 })
	// Another key is independent.
	if !g.DoAsync("other", time.Minute, func(context.Context) (Result, error) { return Result{}, nil }) {
		t.Fatal("DoAsync for another key refused")
	}
	close(release)
	if res := <-got; string(res.Value) != "fresh" {
		t.Fatalf("foreground got %q", res.Value)
	}
	waitGroupIdle(t, &g)
	if n := calls.Load(); n != 1 {
		t.Fatalf("calls = %d, want 1", n)
	}
	// Once finished, the key can be refreshed again.
	if !g.DoAsync("k", time.Minute, func(context.Context) (Result, error) { return Result{}, nil }) {
		t.Fatal("DoAsync after completion refused")
	}
	waitGroupIdle(t, &g)
}

func TestGroupDoAsyncRefusedDuringDo(t *testing.T) {
	var g Group[Result]
	release := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		g.Do(context.Background(), "k", time.Minute, func(context.Context) (Result, error) {
			<-release
			return Result{}, nil
		})
	}()
	pollUntil(t, "flight start", func() bool { return g.InFlight() == 1 })
	if g.DoAsync("k", time.Minute, func(context.Context) (Result, error) {
		t.Error("refresh ran during a foreground flight")
		return Result{}, nil
	}) {
		t.Error("DoAsync started a refresh while a Do flight was running")
	}
	close(release)
	<-done
	waitGroupIdle(t, &g)
}

func TestGroupDoAsyncHangingBounded(t *testing.T) {
	var g Group[Result]
	unblock := make(chan struct{})
	g.DoAsync("k", 50*time.Millisecond, func(context.Context) (Result, error) {
		<-unblock
		return Result{}, nil
	})
	// The refresh flight times out, so the key becomes refreshable again even
	// though fn is still stuck.
	pollUntil(t, "refresh slot freed", func() bool {
		return g.DoAsync("k", 50*time.Millisecond, func(context.Context) (Result, error) { return Result{}, nil })
	})
	close(unblock)
	waitGroupIdle(t, &g)
}

func TestGroupForget(t *testing.T) {
	var g Group[Result]
	release := make(chan struct{})
	var calls atomic.Int64
	slow := func(context.Context) (Result, error) {
		calls.Add(1)
		<-release
		return Result{Value: []byte("old")}, nil
	}
	first := make(chan Result, 1)
	go func() {
		res, _, _ := g.Do(context.Background(), "k", time.Minute, slow)
		first <- res
	}()
	pollUntil(t, "flight start", func() bool { return g.InFlight() == 1 })
	g.Forget("k")
	res, shared, err := g.Do(context.Background(), "k", time.Minute, func(context.Context) (Result, error) {
		calls.Add(1)
		return Result{Value: []byte("new")}, nil
	})
	if err != nil || shared || string(res.Value) != "new" {
		t.Fatalf("after Forget: %q shared=%v err=%v", res.Value, shared, err)
	}
	close(release)
	if r := <-first; string(r.Value) != "old" {
		t.Fatalf("forgotten flight's waiter got %q", r.Value)
	}
	if n := calls.Load(); n != 2 {
		t.Fatalf("calls = %d, want 2", n)
	}
	waitGroupIdle(t, &g)
}

func BenchmarkGroupDo(b *testing.B) {
	var g Group[Result]
	ctx := context.Background()
	val := Result{Value: []byte("value")}
	fn := func(context.Context) (Result, error) { return val, nil }
	b.Run("timeout=0", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := g.Do(ctx, "key", 0, fn); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("timeout=1s", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := g.Do(ctx, "key", time.Second, fn); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel-shared-key", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, _, err := g.Do(ctx, "key", time.Second, fn); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	if err := g.Wait(context.Background()); err != nil {
		b.Fatal(err)
	}
}
