package cacheclient

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachetier/cachetier/loader"
)

// perKeyOrigin counts calls per key and fails while down is set.
type perKeyOrigin struct {
	down  atomic.Bool
	delay time.Duration // with down: hang this long (or until ctx ends)
	mu    sync.Mutex
	calls map[string]int
}

func (o *perKeyOrigin) Load(ctx context.Context, key string) (loader.Result, error) {
	o.mu.Lock()
	if o.calls == nil {
		o.calls = map[string]int{}
	}
	o.calls[key]++
	o.mu.Unlock()
	if o.down.Load() {
		if o.delay > 0 {
			select {
			case <-time.After(o.delay):
			case <-ctx.Done():
				return loader.Result{}, ctx.Err()
			}
		}
		return loader.Result{}, errOrigin
	}
	return loader.Result{Value: []byte("v:" + key)}, nil
}

func (o *perKeyOrigin) count(key string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.calls[key]
}

// maxBackoffCalls is the most origin calls one key can make in d with
// backoff base and cap: one, plus one per window that fits in d, every window
// taken at its shortest (jitter takes off up to 25%).
func maxBackoffCalls(d, base, capd time.Duration) int {
	calls, w, sum := 1, base, time.Duration(0)
	for {
		sum += w * 3 / 4
		if sum > d {
			return calls
		}
		calls++
		w = min(2*w, capd)
	}
}

// hammer runs g goroutines calling GetInfo on keys for d (and at most 20000
// calls each), passing every answer to check.
func hammer(t *testing.T, c *Client, l loader.Loader, keys []string, g int, d time.Duration,
	check func(key string, v []byte, info Info, err error)) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for i := range g {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < 20000 && time.Now().Before(deadline); n++ {
				k := keys[(i+n)%len(keys)]
				v, info, err := c.GetInfo(ctx, k, l)
				check(k, v, info, err)
			}
		}()
	}
	wg.Wait()
}

func TestOriginErrorBackoff(t *testing.T) {
	const base, capd = 200 * time.Millisecond, 800 * time.Millisecond
	ctx := context.Background()
	origin := &perKeyOrigin{}
	c := newClient(t, Config{Origin: OriginConfig{ErrorBackoff: base, ErrorBackoffMax: capd}, TTL: time.Minute, StaleTTL: time.Minute})

	// Keys with a stale value, and keys with nothing cached.
	var staleKeys, coldKeys, all []string
	for i := range 4 {
		staleKeys = append(staleKeys, fmt.Sprintf("stale%d", i))
		coldKeys = append(coldKeys, fmt.Sprintf("cold%d", i))
		if err := c.Set(ctx, staleKeys[i], []byte("old"), time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	all = append(append(all, staleKeys...), coldKeys...)
	time.Sleep(10 * time.Millisecond) // the Set values are past T1

	origin.down.Store(true)
	var bad atomic.Value
	var staleOK, errFast atomic.Int64
	start := time.Now()
	hammer(t, c, origin, all, 8, 1500*time.Millisecond, func(k string, v []byte, info Info, err error) {
		switch {
		case k[0] == 's' && err == nil && info.Stale && string(v) == "old":
			staleOK.Add(1)
		case k[0] == 'c' && errors.Is(err, errOrigin):
			if errors.Is(err, ErrOriginBackoff) {
				errFast.Add(1)
			}
		default:
			bad.Store(fmt.Sprintf("%s: %q %+v %v", k, v, info, err))
		}
	})
	elapsed := time.Since(start)
	if b := bad.Load(); b != nil {
		t.Fatalf("unexpected answer while the origin is down: %v", b)
	}
	limit := maxBackoffCalls(elapsed, base, capd)
	for _, k := range all {
		if n := origin.count(k); n < 1 || n > limit {
			t.Errorf("origin saw %d calls for %s in %v, want 1..%d", n, k, elapsed, limit)
		}
	}
	s := c.Stats()
	if staleOK.Load() == 0 || errFast.Load() == 0 || s.BackoffSuppressed == 0 || s.StaleServed == 0 {
		t.Fatalf("stale answers %d, fast errors %d, stats %+v", staleOK.Load(), errFast.Load(), s)
	}
	t.Logf("%v: %d stale answers, %d fast errors, %d loads suppressed, origin calls for %s: %d (limit %d)",
		elapsed.Round(time.Millisecond), staleOK.Load(), errFast.Load(), s.BackoffSuppressed, all[0], origin.count(all[0]), limit)

	// The origin comes back: every key is loaded fresh within the cap.
	origin.down.Store(false)
	recovered := time.Now()
	for _, k := range all {
		waitFor(t, capd+5*time.Second, "recovery of "+k, func() bool {
			v, info, err := c.GetInfo(ctx, k, origin)
			return err == nil && !info.Stale && string(v) == "v:"+k
		})
	}
	t.Logf("all keys fresh %v after the origin returned", time.Since(recovered).Round(time.Millisecond))
}

// Without the backoff the same load stampedes the origin: this is what the
// test above guards against (and shows that it can fail).
func TestOriginErrorBackoffDisabled(t *testing.T) {
	const d = 500 * time.Millisecond
	origin := &perKeyOrigin{}
	origin.down.Store(true)
	c := newClient(t, Config{Origin: OriginConfig{ErrorBackoff: -1}})
	hammer(t, c, origin, []string{"k"}, 4, d, func(string, []byte, Info, error) {})
	if n, limit := origin.count("k"), maxBackoffCalls(d, 500*time.Millisecond, 10*time.Second); n <= limit {
		t.Fatalf("origin saw %d calls with backoff disabled, expected far more than %d", n, limit)
	}
	if s := c.Stats(); s.BackoffSuppressed != 0 {
		t.Fatalf("BackoffSuppressed = %d with backoff disabled", s.BackoffSuppressed)
	}
}

// A load that times out counts as a failure.
func TestOriginErrorBackoffOnTimeout(t *testing.T) {
	const base = 200 * time.Millisecond
	origin := &perKeyOrigin{delay: 10 * time.Second}
	origin.down.Store(true)
	c := newClient(t, Config{Origin: OriginConfig{LoadTimeout: 50 * time.Millisecond, ErrorBackoff: base, ErrorBackoffMax: base}})
	start := time.Now()
	hammer(t, c, origin, []string{"k"}, 4, 700*time.Millisecond, func(_ string, _ []byte, _ Info, err error) {
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want a wrapped deadline", err)
		}
	})
	// Each window opens after a 50ms timeout: at most one call per window.
	if n, limit := origin.count("k"), maxBackoffCalls(time.Since(start), base, base); n < 1 || n > limit {
		t.Fatalf("origin saw %d calls, want 1..%d", n, limit)
	}
}

func TestBackoffTable(t *testing.T) {
	b := newBackoffTable(100*time.Millisecond, 400*time.Millisecond)
	errX := errors.New("x")
	const h = 12345
	if _, _, _, in := b.check(h, 0); in {
		t.Fatal("fresh table: key in backoff")
	}
	now := int64(1_000_000)
	for i, want := range []int64{100, 200, 400, 400} {
		b.failed(h, now, errX)
		err, fails, left, in := b.check(h, now)
		if !in || err != errX || fails != i+1 {
			t.Fatalf("failure %d: in=%v err=%v fails=%d", i+1, in, err, fails)
		}
		if got := left.Milliseconds(); got > want || got < want*3/4 {
			t.Fatalf("failure %d: window %dms, want %d jittered down by at most 25%%", i+1, got, want)
		}
		if _, _, _, in := b.check(h, now+want); in {
			t.Fatalf("failure %d: still in backoff after %dms", i+1, want)
		}
		now += want
	}
	b.succeeded(h)
	if _, _, _, in := b.check(h, now); in {
		t.Fatal("in backoff after a success")
	}
	b.failed(h, now, errX)
	if _, fails, _, _ := b.check(h, now); fails != 1 {
		t.Fatalf("after a success: fails = %d, want 1", fails)
	}
	// Failures further apart than the cap are not consecutive.
	b.failed(h, now+10_000, errX)
	if _, fails, _, _ := b.check(h, now+10_000); fails != 1 {
		t.Fatalf("after a long pause: fails = %d, want 1", fails)
	}

	// Bounded: many failing keys replace the entries whose windows end
	// first (up to jitter); the latest keys are remembered.
	var mult uint64 = 0x9E3779B97F4A7C15
	for i := uint64(1); i <= 100_000; i++ {
		b.failed(i*mult, now+int64(i), errX)
	}
	kept := 0
	for i := uint64(100_000 - 49); i <= 100_000; i++ { // windows of >= 75ms still open
		if _, _, _, in := b.check(i*mult, now+100_000); in {
			kept++
		}
	}
	if kept < 48 {
		t.Fatalf("%d of the 50 latest failing keys remembered, want nearly all", kept)
	}
}

// A panicking loader returns its limiter permit and enters backoff.
func TestPanickingLoaderReleasesPermit(t *testing.T) {
	var calls atomic.Int64
	boom := loader.Func(func(ctx context.Context, key string) (loader.Result, error) {
		calls.Add(1)
		panic("boom")
	})
	c := newClient(t, Config{Origin: OriginConfig{MaxConcurrent: 1, ErrorBackoff: time.Hour}})
	ctx := context.Background()
	var pe *loader.PanicError
	if _, err := c.Get(ctx, "p", boom); !errors.As(err, &pe) {
		t.Fatalf("err = %v, want a PanicError", err)
	}
	if _, err := c.Get(ctx, "p", boom); !errors.Is(err, ErrOriginBackoff) || calls.Load() != 1 {
		t.Fatalf("second Get: %v after %d calls, want backoff after 1", err, calls.Load())
	}
	// With a single permit, a leaked one would shed this load.
	if v, err := c.Get(ctx, "q", &countingLoader{}); err != nil || string(v) != "v:q" {
		t.Fatalf("Get after a panic: %q %v", v, err)
	}
}
