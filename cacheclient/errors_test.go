package cacheclient

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/cachetier/cachetier/loader"
)

// TestErrorTable checks each row of the error table in the package
// documentation with errors.Is and errors.As.
func TestErrorTable(t *testing.T) {
	ctx := context.Background()
	asLoadError := func(err error) *LoadError {
		var le *LoadError
		if errors.As(err, &le) {
			return le
		}
		return nil
	}

	t.Run("ErrNotFound", func(t *testing.T) {
		c := newClient(t, Config{})
		origin := &countingLoader{}
		origin.notFound.Store(true)
		for _, l := range []loader.Loader{origin, nil} {
			_, info, err := c.GetInfo(ctx, "missing", l)
			if !errors.Is(err, loader.ErrNotFound) || !info.Negative || asLoadError(err) != nil {
				t.Fatalf("loader %v: %+v %v, want loader.ErrNotFound itself", l, info, err)
			}
		}
	})

	t.Run("ErrShed", func(t *testing.T) {
		lim := loader.NewLimiter(1, 0, 0)
		release, _ := lim.TryAcquire() // the only permit, held elsewhere
		c := newClient(t, Config{Origin: OriginConfig{Limiter: lim}})
		origin := &countingLoader{}
		_, err := c.Get(ctx, "k", origin)
		if !errors.Is(err, ErrShed) || asLoadError(err) != nil {
			t.Fatalf("err = %v, want ErrShed, not a LoadError", err)
		}
		// A refusal is a shed, not an origin failure: no backoff follows.
		if s := c.Stats(); s.Shed != 1 || s.LimiterRefused != 1 || s.OriginErrors != 0 || origin.calls.Load() != 0 {
			t.Fatalf("stats %+v, origin calls %d", s, origin.calls.Load())
		}
		release()
		if v, err := c.Get(ctx, "k", origin); err != nil || string(v) != "v:k" {
			t.Fatalf("after the permit is back: %q %v", v, err)
		}
	})

	t.Run("LoadError", func(t *testing.T) {
		c := newClient(t, Config{})
		origin := &countingLoader{}
		origin.fail.Store(true)
		_, err := c.Get(ctx, "k", origin)
		le := asLoadError(err)
		if le == nil || le.Key != "k" || !errors.Is(err, errOrigin) || errors.Is(err, ErrOriginBackoff) {
			t.Fatalf("err = %v, want *LoadError{k, origin error}", err)
		}
		if got, want := err.Error(), `cacheclient: load "k": origin down`; got != want {
			t.Fatalf("message %q, want %q", got, want)
		}

		// The key is now in error backoff: the origin is not called.
		_, err = c.Get(ctx, "k", origin)
		if asLoadError(err) == nil || !errors.Is(err, ErrOriginBackoff) || !errors.Is(err, errOrigin) {
			t.Fatalf("in backoff: err = %v, want *LoadError wrapping ErrOriginBackoff and the origin error", err)
		}
		if n := origin.calls.Load(); n != 1 {
			t.Fatalf("origin calls %d, want 1", n)
		}
	})

	t.Run("panic", func(t *testing.T) {
		c := newClient(t, Config{})
		boom := loader.Func(func(ctx context.Context, key string) (loader.Result, error) { panic("boom") })
		_, err := c.Get(ctx, "p", boom)
		var pe *loader.PanicError
		if asLoadError(err) == nil || !errors.As(err, &pe) || pe.Value != "boom" {
			t.Fatalf("err = %v, want *LoadError wrapping *loader.PanicError", err)
		}
	})

	t.Run("LoadTimeout", func(t *testing.T) {
		c := newClient(t, Config{Origin: OriginConfig{LoadTimeout: 20 * time.Millisecond}})
		honours := loader.Func(func(ctx context.Context, key string) (loader.Result, error) {
			<-ctx.Done()
			return loader.Result{}, ctx.Err()
		})
		stuck := make(chan struct{})
		defer close(stuck)
		ignores := loader.Func(func(ctx context.Context, key string) (loader.Result, error) {
			<-stuck // ignores its context: the flight's own timeout ends the wait
			return loader.Result{}, nil
		})
		for name, l := range map[string]loader.Loader{"honours ctx": honours, "ignores ctx": ignores} {
			_, err := c.Get(ctx, name, l)
			if asLoadError(err) == nil || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("%s: err = %v, want *LoadError wrapping context.DeadlineExceeded", name, err)
			}
		}
	})

	t.Run("ctx", func(t *testing.T) {
		c := newClient(t, Config{})
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := c.Get(cctx, "k", &countingLoader{})
		if !errors.Is(err, context.Canceled) || asLoadError(err) != nil {
			t.Fatalf("err = %v, want context.Canceled itself", err)
		}
	})

	t.Run("ErrClosed", func(t *testing.T) {
		c, err := New(Config{})
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		l := &countingLoader{}
		_, err1 := c.Get(ctx, "k", l)
		_, _, err2 := c.GetInfo(ctx, "k", l)
		_, _, err3 := c.AppendGet(ctx, nil, "k", l)
		err4 := c.Set(ctx, "k", nil, 0)
		err5 := c.Delete(ctx, "k")
		_, err6 := NewTyped[int](c, nil).Get(ctx, "k", nil)
		for i, err := range []error{err1, err2, err3, err4, err5, err6} {
			if !errors.Is(err, ErrClosed) {
				t.Errorf("call %d after Close: %v, want ErrClosed", i+1, err)
			}
		}
	})

	t.Run("node error", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close() // nothing listens there now
		c := newClient(t, Config{Tier: TierConfig{Addrs: []string{addr}, Timeout: 200 * time.Millisecond},
			Health: HealthConfig{Interval: time.Hour}})
		err = c.Set(ctx, "k", []byte("v"), 0)
		if err == nil || !strings.HasPrefix(err.Error(), "cacheclient: node "+addr+": ") || asLoadError(err) != nil {
			t.Fatalf("Set: %v, want the node's error", err)
		}
		if v, info, err := c.GetInfo(ctx, "k", nil); err != nil || string(v) != "v" || info.Source != SourceL1 {
			t.Fatalf("L1 not written: %q %+v %v", v, info, err)
		}
	})

	t.Run("configuration", func(t *testing.T) {
		if _, err := New(Config{Origin: OriginConfig{Limiter: loader.NewLimiter(1, 0, 0), MaxConcurrent: 8}}); err == nil ||
			!strings.Contains(err.Error(), "Origin.Limiter") {
			t.Fatalf("Limiter with MaxConcurrent: %v, want an error naming Origin.Limiter", err)
		}
		if _, err := New(Config{Tier: TierConfig{Timeout: -1}}); err == nil || !strings.Contains(err.Error(), "Tier.Timeout") {
			t.Fatalf("negative Tier.Timeout: %v", err)
		}
		c := newClient(t, Config{})
		if err := c.Set(ctx, "k", nil, -time.Second); err == nil {
			t.Fatal("negative Set ttl accepted")
		}
	})

	t.Run("codec", func(t *testing.T) {
		c := newClient(t, Config{})
		if err := c.Set(ctx, "junk", []byte("{not json"), 0); err != nil {
			t.Fatal(err)
		}
		_, err := NewTyped[map[string]int](c, nil).Get(ctx, "junk", nil)
		var se *json.SyntaxError
		if !errors.As(err, &se) || !strings.HasPrefix(err.Error(), `cacheclient: decode "junk": `) {
			t.Fatalf("err = %v, want the codec's error wrapped", err)
		}
	})
}

// TestGetFamily: Get, GetInfo and AppendGet give the same answer; AppendGet
// appends, and an L1 hit with room in dst allocates nothing.
func TestGetFamily(t *testing.T) {
	ctx := context.Background()
	c := newClient(t, Config{})
	origin := &countingLoader{}
	v1, err1 := c.Get(ctx, "k", origin)
	v2, info2, err2 := c.GetInfo(ctx, "k", origin)
	v3, info3, err3 := c.AppendGet(ctx, []byte("x:"), "k", origin)
	if err1 != nil || err2 != nil || err3 != nil || string(v1) != "v:k" || string(v2) != "v:k" || string(v3) != "x:v:k" {
		t.Fatalf("%q %v / %q %v / %q %v", v1, err1, v2, err2, v3, err3)
	}
	if info2 != info3 || info2.Source != SourceL1 {
		t.Fatalf("GetInfo %+v, AppendGet %+v, want the same L1 answer", info2, info3)
	}
	v2[0] = 'X' // the caller's own copy
	if v, _ := c.Get(ctx, "k", origin); string(v) != "v:k" {
		t.Fatalf("a returned slice shares memory with the cache: %q", v)
	}
	buf := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() { _, _, _ = c.AppendGet(ctx, buf[:0], "k", origin) }); n != 0 {
		t.Fatalf("L1 hit through AppendGet: %v allocations, want 0", n)
	}
}

// TestSharedLimiter: clients given one Limiter share its budget.
func TestSharedLimiter(t *testing.T) {
	ctx := context.Background()
	lim := loader.NewLimiter(0, 0.001, 2) // two loads, then none for a long while
	a := newClient(t, Config{Origin: OriginConfig{Limiter: lim}})
	b := newClient(t, Config{Origin: OriginConfig{Limiter: lim}})
	origin := &countingLoader{}
	var shed int
	for i, c := range []*Client{a, b, a, b} {
		if _, err := c.Get(ctx, "k"+string(rune('0'+i)), origin); errors.Is(err, ErrShed) {
			shed++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if n := origin.calls.Load(); n != 2 || shed != 2 {
		t.Fatalf("origin calls %d, shed %d; want 2 and 2 across both clients", n, shed)
	}
}
