package loader

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestLimiterConcurrencyNeverExceeded(t *testing.T) {
	const max = 4
	lim := NewLimiter(max, 0, 0)
	var active, peak, granted, refused atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 2000 {
				release, ok := lim.TryAcquire()
				if !ok {
					refused.Add(1)
					runtime.Gosched()
					continue
				}
				granted.Add(1)
				n := active.Add(1)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
				runtime.Gosched()
				active.Add(-1)
				release()
				release() // extra calls are ignored
			}
		}()
	}
	wg.Wait()
	if p := peak.Load(); p > max || p < 1 {
		t.Fatalf("peak concurrency %d, limit %d", p, max)
	}
	if lim.InFlight() != 0 {
		t.Fatalf("InFlight = %d after all released", lim.InFlight())
	}
	if granted.Load()+refused.Load() != 16*2000 {
		t.Fatal("lost attempts")
	}
	if uint64(refused.Load()) != lim.Refused() {
		t.Fatalf("Refused() = %d, counted %d", lim.Refused(), refused.Load())
	}
	t.Logf("peak %d, granted %d, refused %d", peak.Load(), granted.Load(), refused.Load())
}

func TestLimiterRateNeverExceeded(t *testing.T) {
	const rate, burst = 200.0, 5
	lim := NewLimiter(0, rate, burst)
	var granted atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Since(start) < 300*time.Millisecond {
				if release, ok := lim.TryAcquire(); ok {
					granted.Add(1)
					release()
				}
				runtime.Gosched()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	allowed := float64(burst) + rate*elapsed.Seconds()
	if g := float64(granted.Load()); g > allowed+1 {
		t.Fatalf("granted %v in %v, limit allows %.1f", g, elapsed, allowed)
	}
	if granted.Load() < burst {
		t.Fatalf("granted only %d, burst is %d", granted.Load(), burst)
	}
	if r, b := lim.Rate(); r != rate || b != burst {
		t.Fatalf("Rate() = %v, %v", r, b)
	}
	t.Logf("granted %d in %v (limit %.1f)", granted.Load(), elapsed, allowed)
}

func TestLimiterBothDimensions(t *testing.T) {
	lim := NewLimiter(1, 0.01, 10) // one token per 100 s: no refill during the test
	r1, ok := lim.TryAcquire()
	if !ok {
		t.Fatal("first acquire refused")
	}
	if _, ok := lim.TryAcquire(); ok {
		t.Fatal("second concurrent acquire granted with max 1")
	}
	r1()
	// Rate exhausted: the burst of 10 is spent one at a time (concurrency 1).
	n := 1
	for range 100 {
		r, ok := lim.TryAcquire()
		if !ok {
			break
		}
		n++
		r()
	}
	if n != 10 {
		t.Fatalf("granted %d with burst 10 (a concurrency refusal must not spend a token)", n)
	}
	if lim.InFlight() != 0 {
		t.Fatalf("a rate refusal kept a concurrency slot: InFlight = %d", lim.InFlight())
	}
}

func TestLimiterDefaultsAndNil(t *testing.T) {
	var nilLim *Limiter
	if r, ok := nilLim.TryAcquire(); !ok || r == nil {
		t.Fatal("nil limiter refused")
	}
	if nilLim.InFlight() != 0 || nilLim.Refused() != 0 || nilLim.MaxConcurrent() != 0 {
		t.Fatal("nil limiter counters")
	}
	unl := NewLimiter(0, 0, 0)
	var rel []func()
	for range 1000 {
		r, ok := unl.TryAcquire()
		if !ok {
			t.Fatal("unlimited limiter refused")
		}
		rel = append(rel, r)
	}
	if unl.InFlight() != 1000 {
		t.Fatalf("InFlight = %d, want 1000", unl.InFlight())
	}
	for _, r := range rel {
		r()
	}
	if unl.InFlight() != 0 {
		t.Fatalf("InFlight = %d after release", unl.InFlight())
	}
	// burst <= 0 with a rate means strictly paced: one immediate grant.
	paced := NewLimiter(0, 0.001, 0)
	if _, ok := paced.TryAcquire(); !ok {
		t.Fatal("paced limiter refused its first load")
	}
	if _, ok := paced.TryAcquire(); ok {
		t.Fatal("paced limiter granted a second load at once")
	}
}

func BenchmarkLimiterTryAcquire(b *testing.B) {
	for _, tc := range []struct {
		name string
		lim  *Limiter
	}{
		{"unlimited", NewLimiter(0, 0, 0)},
		{"concurrency", NewLimiter(1<<20, 0, 0)},
		{"rate", NewLimiter(0, 1e12, 1<<30)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if r, ok := tc.lim.TryAcquire(); ok {
						r()
					}
				}
			})
		})
	}
}

// The pattern cacheclient uses: coalesce per key, then ask the limiter. The
// origin never sees more than the limit, and every waiter of a refused
// flight gets the refusal at once.
func TestGroupWithLimiter(t *testing.T) {
	const keys, perKey, max = 40, 25, 3
	lim := NewLimiter(max, 0, 0)
	errRefused := errors.New("refused")
	var active, peak, calls atomic.Int64
	origin := Func(func(ctx context.Context, key string) (Result, error) {
		calls.Add(1)
		n := active.Add(1)
		defer active.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(time.Millisecond)
		return Result{Value: []byte(key)}, nil
	})
	var g Group[Result]
	var ok, limited atomic.Int64
	var wg sync.WaitGroup
	for k := range keys {
		for range perKey {
			wg.Add(1)
			go func() {
				defer wg.Done()
				key := string(rune('A' + k))
				res, _, err := g.Do(context.Background(), key, 10*time.Second, func(ctx context.Context) (Result, error) {
					release, granted := lim.TryAcquire()
					if !granted {
						return Result{}, errRefused
					}
					defer release()
					return origin.Load(ctx, key)
				})
				switch {
				case err == nil && string(res.Value) == key:
					ok.Add(1)
				case errors.Is(err, errRefused):
					limited.Add(1)
				default:
					t.Errorf("key %s: %q, %v", key, res.Value, err)
				}
			}()
		}
	}
	wg.Wait()
	if p := peak.Load(); p > max {
		t.Fatalf("origin saw %d concurrent loads, limit %d", p, max)
	}
	if calls.Load() > keys*perKey || ok.Load() == 0 {
		t.Fatalf("calls %d, ok %d", calls.Load(), ok.Load())
	}
	if err := g.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Logf("origin calls %d (peak %d), served %d, limited %d", calls.Load(), peak.Load(), ok.Load(), limited.Load())
}
