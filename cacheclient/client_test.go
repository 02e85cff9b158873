package cacheclient

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cachetier/cachetier/cachenode"
	"github.com/cachetier/cachetier/loader"
)

func TestReadPathLevels(t *testing.T) {
	eachNodeKind(t, func(t *testing.T, startN func(testing.TB, int) []*testNode) {
		nodes := startN(t, 2)
		origin := &countingLoader{}
		ctx := context.Background()
		c1 := newClient(t, Config{Tier: TierConfig{Addrs: addrsOf(nodes)}})

		v, info, err := c1.GetInfo(ctx, "user:1", origin)
		if err != nil || string(v) != "v:user:1" || info.Source != SourceOrigin || info.Stale || info.Negative {
			t.Fatalf("first Get = %q, %+v, %v; want origin value", v, info, err)
		}
		v, info, err = c1.GetInfo(ctx, "user:1", origin)
		if err != nil || string(v) != "v:user:1" || info.Source != SourceL1 {
			t.Fatalf("second Get = %q, %+v, %v; want L1 hit", v, info, err)
		}
		// A second process (its own L1) finds the value in L2.
		c2 := newClient(t, Config{Tier: TierConfig{Addrs: addrsOf(nodes)}})
		v, info, err = c2.GetInfo(ctx, "user:1", origin)
		if err != nil || string(v) != "v:user:1" || info.Source != SourceL2 {
			t.Fatalf("other client Get = %q, %+v, %v; want L2 hit", v, info, err)
		}
		if n := origin.calls.Load(); n != 1 {
			t.Fatalf("origin calls = %d, want 1", n)
		}
		s1, s2 := c1.Stats(), c2.Stats()
		if s1.L1Hits != 1 || s1.OriginLoads != 1 || s2.L2Hits != 1 || s2.OriginLoads != 0 {
			t.Fatalf("stats c1 %+v c2 %+v", s1, s2)
		}
	})
}

func TestGetInfoAppendsToDst(t *testing.T) {
	c := newClient(t, Config{})
	origin := &countingLoader{}
	dst := []byte("head:")
	v, _, err := c.AppendGet(context.Background(), dst, "k", origin)
	if err != nil || string(v) != "head:v:k" {
		t.Fatalf("origin: %q %v", v, err)
	}
	v, info, err := c.AppendGet(context.Background(), []byte("head:"), "k", origin)
	if err != nil || string(v) != "head:v:k" || info.Source != SourceL1 {
		t.Fatalf("L1: %q %+v %v", v, info, err)
	}
	origin.fail.Store(true)
	v, _, err = c.AppendGet(context.Background(), []byte("head:"), "other", origin)
	if err == nil || string(v) != "head:" {
		t.Fatalf("error path must return dst unchanged: %q %v", v, err)
	}
}

func TestHerdOneOriginCall(t *testing.T) {
	eachNodeKind(t, func(t *testing.T, startN func(testing.TB, int) []*testNode) {
		nodes := startN(t, 1)
		origin := &countingLoader{delay: 50 * time.Millisecond}
		c := newClient(t, Config{Tier: TierConfig{Addrs: addrsOf(nodes), Timeout: time.Second}})
		const herd = 1000
		var (
			wg     sync.WaitGroup
			start  = make(chan struct{})
			errs   = make(chan error, herd)
			shared int64
			mu     sync.Mutex
		)
		for i := 0; i < herd; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				v, info, err := c.GetInfo(context.Background(), "cold", origin)
				if err == nil && string(v) != "v:cold" {
					err = errors.New("wrong value " + string(v))
				}
				if err != nil {
					errs <- err
				}
				if info.Shared {
					mu.Lock()
					shared++
					mu.Unlock()
				}
			}()
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if n := origin.calls.Load(); n != 1 {
			t.Fatalf("origin calls = %d, want exactly 1", n)
		}
		s := c.Stats()
		if l2Reads := s.L2Hits + s.L2Misses; l2Reads != 1 {
			t.Fatalf("L2 reads = %d, want exactly 1 (stats %+v)", l2Reads, s)
		}
		if shared == 0 || s.Coalesced == 0 {
			t.Fatalf("no caller reported a shared load (shared=%d, stats %+v)", shared, s)
		}
		if s.L1Hits+s.Coalesced < herd-1 {
			t.Fatalf("L1 hits %d + coalesced %d < %d", s.L1Hits, s.Coalesced, herd-1)
		}
	})
}

func TestNegativeCaching(t *testing.T) {
	eachNodeKind(t, func(t *testing.T, startN func(testing.TB, int) []*testNode) {
		nodes := startN(t, 1)
		origin := &countingLoader{}
		origin.notFound.Store(true)
		ctx := context.Background()
		c := newClient(t, Config{Tier: TierConfig{Addrs: addrsOf(nodes)}, NegativeTTL: time.Minute})
		for i := 0; i < 3; i++ {
			_, info, err := c.GetInfo(ctx, "missing", origin)
			if !errors.Is(err, loader.ErrNotFound) || !info.Negative {
				t.Fatalf("Get %d: %+v %v, want loader.ErrNotFound, negative", i, info, err)
			}
		}
		if n := origin.calls.Load(); n != 1 {
			t.Fatalf("origin calls = %d, want 1 (negative entry cached)", n)
		}
		// Another process sees the negative entry in L2.
		c2 := newClient(t, Config{Tier: TierConfig{Addrs: addrsOf(nodes)}})
		_, info, err := c2.GetInfo(ctx, "missing", origin)
		if !errors.Is(err, loader.ErrNotFound) || info.Source != SourceL2 || !info.Negative {
			t.Fatalf("other client: %+v %v", info, err)
		}
		if n := origin.calls.Load(); n != 1 {
			t.Fatalf("origin calls = %d, want 1", n)
		}

		// Negative caching disabled: every Get asks the origin.
		c3 := newClient(t, Config{NegativeTTL: -1})
		for i := 0; i < 2; i++ {
			if _, err := c3.Get(ctx, "gone", origin); !errors.Is(err, loader.ErrNotFound) {
				t.Fatalf("err = %v", err)
			}
		}
		if n := origin.calls.Load(); n != 3 {
			t.Fatalf("origin calls = %d, want 3", n)
		}

		// A short negative TTL expires.
		c4 := newClient(t, Config{NegativeTTL: 30 * time.Millisecond})
		_, _ = c4.Get(ctx, "x", origin)
		time.Sleep(100 * time.Millisecond)
		origin.notFound.Store(false)
		if v, err := c4.Get(ctx, "x", origin); err != nil || string(v) != "v:x" {
			t.Fatalf("after negative TTL: %q %v", v, err)
		}
	})
}

// noCoherence turns L1 coherence off, for tests of other things whose L1
// entries must outlive coherence's 50 ms cap on a copy the client wrote.
var noCoherence = CoherenceConfig{Disabled: true}

func TestBigValues(t *testing.T) {
	eachNodeKind(t, func(t *testing.T, startN func(testing.TB, int) []*testNode) {
		nodes := startN(t, 1)
		ctx := context.Background()
		big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
		// See Config.L1Bytes: MiB-sized values need a few pieces' room per bucket.
		// Coherence off: what is tested is where a big value is found, and
		// a copy this client wrote would be fresh in L1 for 50 ms only.
		c := newClient(t, Config{Tier: TierConfig{Addrs: addrsOf(nodes), Timeout: 2 * time.Second}, L1: L1Config{Bytes: 256 << 20, Coherence: noCoherence}})
		if err := c.Set(ctx, "big", big, time.Minute); err != nil {
			t.Fatal(err)
		}
		v, info, err := c.GetInfo(ctx, "big", nil)
		if err != nil || info.Source != SourceL1 || !bytes.Equal(v, big) {
			t.Fatalf("L1: len %d %+v %v", len(v), info, err)
		}
		c2 := newClient(t, Config{Tier: TierConfig{Addrs: addrsOf(nodes), Timeout: 2 * time.Second}, L1: L1Config{Bytes: 256 << 20, Coherence: noCoherence}})
		v, info, err = c2.GetInfo(ctx, "big", nil)
		if err != nil || info.Source != SourceL2 || !bytes.Equal(v, big) {
			t.Fatalf("L2: len %d %+v %v", len(v), info, err)
		}
		v, info, err = c2.GetInfo(ctx, "big", nil)
		if err != nil || info.Source != SourceL1 || !bytes.Equal(v, big) {
			t.Fatalf("L1 after L2 fill: len %d %+v %v", len(v), info, err)
		}
		// Loaded from the origin, too.
		origin := loader.Func(func(ctx context.Context, key string) (loader.Result, error) {
			return loader.Result{Value: big}, nil
		})
		c3 := newClient(t, Config{L1: L1Config{Bytes: 256 << 20, Coherence: noCoherence}})
		for _, want := range []Source{SourceOrigin, SourceL1} {
			v, info, err = c3.GetInfo(ctx, "big2", origin)
			if err != nil || info.Source != want || !bytes.Equal(v, big) {
				t.Fatalf("origin big: len %d %+v %v, want source %v", len(v), info, err, want)
			}
		}
	})
}

func TestSetDelete(t *testing.T) {
	eachNodeKind(t, func(t *testing.T, startN func(testing.TB, int) []*testNode) {
		nodes := startN(t, 2)
		ctx := context.Background()
		origin := &countingLoader{}
		c := newClient(t, Config{Tier: TierConfig{Addrs: addrsOf(nodes)}})
		if err := c.Set(ctx, "k", []byte("set"), 0); err != nil {
			t.Fatal(err)
		}
		if v, err := c.Get(ctx, "k", origin); err != nil || string(v) != "set" {
			t.Fatalf("after Set: %q %v", v, err)
		}
		c2 := newClient(t, Config{Tier: TierConfig{Addrs: addrsOf(nodes)}})
		if v, info, err := c2.GetInfo(ctx, "k", origin); err != nil || string(v) != "set" || info.Source != SourceL2 {
			t.Fatalf("other client after Set: %q %+v %v", v, info, err)
		}
		if err := c.Delete(ctx, "k"); err != nil {
			t.Fatal(err)
		}
		if v, info, err := c.GetInfo(ctx, "k", origin); err != nil || string(v) != "v:k" || info.Source != SourceOrigin {
			t.Fatalf("after Delete: %q %+v %v", v, info, err)
		}
		if err := c.Set(ctx, "k", nil, -time.Second); err == nil {
			t.Fatal("negative ttl accepted")
		}
	})
}

func TestContextCancellation(t *testing.T) {
	release := make(chan struct{})
	var calls sync.WaitGroup
	calls.Add(1)
	origin := loader.Func(func(ctx context.Context, key string) (loader.Result, error) {
		defer calls.Done()
		select {
		case <-release:
			return loader.Result{Value: []byte("late")}, nil
		case <-ctx.Done():
			return loader.Result{}, ctx.Err()
		}
	})
	c := newClient(t, Config{Origin: OriginConfig{LoadTimeout: 30 * time.Second}})

	patient := make(chan error, 1)
	go func() {
		v, err := c.Get(context.Background(), "slow", origin)
		if err == nil && string(v) != "late" {
			err = errors.New("wrong value " + string(v))
		}
		patient <- err
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Get(ctx, "slow", origin)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("impatient caller: err = %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("impatient caller waited %v", d)
	}
	close(release) // the load continues for the patient caller
	if err := <-patient; err != nil {
		t.Fatalf("patient caller: %v", err)
	}
	calls.Wait()

	// An already cancelled context fails at once.
	cctx, ccancel := context.WithCancel(context.Background())
	ccancel()
	if _, err := c.Get(cctx, "other", origin); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled ctx: %v", err)
	}
}

func TestHangingOriginBoundedByLoadTimeout(t *testing.T) {
	origin := loader.Func(func(ctx context.Context, key string) (loader.Result, error) {
		<-ctx.Done()
		return loader.Result{}, ctx.Err()
	})
	c := newClient(t, Config{Origin: OriginConfig{LoadTimeout: 100 * time.Millisecond}})
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Get(context.Background(), "hang", origin); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("err = %v, want DeadlineExceeded", err)
			}
		}()
	}
	wg.Wait()
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("waiters held %v by a hanging origin", d)
	}
}

func TestStaleOnOriginFailure(t *testing.T) {
	for _, tc := range []struct {
		name, kind string
		l1         int
	}{{"L1", "redis", 0}, {"L2 only", "redis", -1}, {"L2 only", "cachenode", -1}} {
		t.Run(tc.name+"/"+tc.kind, func(t *testing.T) {
			nodes := startNodes(t, tc.kind, 1)
			ctx := context.Background()
			origin := &countingLoader{}
			const ttl, staleTTL = 100 * time.Millisecond, 1500 * time.Millisecond
			c := newClient(t, Config{Tier: TierConfig{Addrs: addrsOf(nodes)}, L1: L1Config{Bytes: tc.l1}, TTL: ttl, StaleTTL: staleTTL})
			loaded := time.Now() // T1, T2 are at least ttl, ttl+staleTTL after this
			if _, err := c.Get(ctx, "k", origin); err != nil {
				t.Fatal(err)
			}
			stored := time.Now() // ... and at most that after this
			origin.fail.Store(true)
			time.Sleep(ttl + 50*time.Millisecond) // past T1
			v, info, err := c.GetInfo(ctx, "k", origin)
			if time.Since(loaded) < ttl+staleTTL-200*time.Millisecond {
				if err != nil || string(v) != "v:k" || !info.Stale {
					t.Fatalf("inside stale window: %q %+v %v, want stale value", v, info, err)
				}
				if s := c.Stats(); s.StaleServed == 0 || s.OriginErrors == 0 {
					t.Fatalf("stats %+v", s)
				}
			}
			time.Sleep(time.Until(stored.Add(ttl + staleTTL + 50*time.Millisecond))) // past T2
			_, _, err = c.GetInfo(ctx, "k", origin)
			if !errors.Is(err, errOrigin) || !strings.HasPrefix(err.Error(), "cacheclient:") {
				t.Fatalf("past stale window: err = %v, want wrapped origin error", err)
			}
		})
	}
}

func TestStaleWhileRevalidate(t *testing.T) {
	origin := &countingLoader{delay: 20 * time.Millisecond}
	ctx := context.Background()
	c := newClient(t, Config{TTL: 50 * time.Millisecond, StaleTTL: time.Minute, StaleWhileRevalidate: true})
	if _, err := c.Get(ctx, "k", origin); err != nil {
		t.Fatal(err)
	}
	time.Sleep(120 * time.Millisecond)
	for i := 0; i < 20; i++ {
		v, info, err := c.GetInfo(ctx, "k", origin)
		if err != nil || string(v) != "v:k" {
			t.Fatalf("%q %v", v, err)
		}
		if !info.Stale && info.Source != SourceL1 {
			t.Fatalf("unexpected %+v", info)
		}
	}
	waitFor(t, 5*time.Second, "background refresh", func() bool {
		_, info, _ := c.GetInfo(ctx, "k", origin)
		return !info.Stale
	})
	if n := origin.calls.Load(); n != 2 {
		t.Fatalf("origin calls = %d, want 2 (one load, one refresh)", n)
	}
	if s := c.Stats(); s.Refreshes != 1 || s.StaleServed == 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestPerEntryTTLFromLoader(t *testing.T) {
	origin := &countingLoader{ttl: 30 * time.Millisecond}
	c := newClient(t, Config{TTL: time.Hour})
	ctx := context.Background()
	_, _ = c.Get(ctx, "k", origin)
	time.Sleep(100 * time.Millisecond)
	if _, info, err := c.GetInfo(ctx, "k", origin); err != nil || info.Source != SourceOrigin {
		t.Fatalf("entry should have expired by the loader's TTL: %+v %v", info, err)
	}
}

func TestConfigValidation(t *testing.T) {
	for _, cfg := range []Config{{TTL: -1}, {Tier: TierConfig{Timeout: -time.Second}}, {Origin: OriginConfig{Rate: -1}}} {
		if c, err := New(cfg); err == nil {
			c.Close()
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}

func TestClosed(t *testing.T) {
	c, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := c.Get(context.Background(), "k", &countingLoader{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Get after Close: %v", err)
	}
	if err := c.Set(context.Background(), "k", nil, 0); !errors.Is(err, ErrClosed) {
		t.Fatalf("Set after Close: %v", err)
	}
}

func TestTyped(t *testing.T) {
	type user struct {
		Name string
		Age  int
	}
	c := newClient(t, Config{})
	users := NewTyped[user](c, nil)
	ctx := context.Background()
	calls := 0
	load := func(ctx context.Context, key string) (user, time.Duration, error) {
		calls++
		if key == "nobody" {
			return user{}, 0, loader.ErrNotFound
		}
		return user{Name: key, Age: 42}, 0, nil
	}
	for i := 0; i < 2; i++ {
		u, err := users.Get(ctx, "ann", load)
		if err != nil || u != (user{"ann", 42}) {
			t.Fatalf("%+v %v", u, err)
		}
	}
	if calls != 1 {
		t.Fatalf("calls = %d", calls)
	}
	if _, err := users.Get(ctx, "nobody", load); !errors.Is(err, loader.ErrNotFound) {
		t.Fatalf("err = %v", err)
	}
	if err := users.Set(ctx, "bob", user{"bob", 7}, 0); err != nil {
		t.Fatal(err)
	}
	if u, info, err := users.GetInfo(ctx, "bob", load); err != nil || u.Age != 7 || info.Source != SourceL1 {
		t.Fatalf("%+v %+v %v", u, info, err)
	}
	if err := c.Set(ctx, "junk", []byte("{not json"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := users.Get(ctx, "junk", load); err == nil {
		t.Fatal("decoding junk succeeded")
	}
}

func TestNilLoaderIsLookupOnly(t *testing.T) {
	c := newClient(t, Config{})
	ctx := context.Background()
	if _, info, err := c.GetInfo(ctx, "k", nil); !errors.Is(err, loader.ErrNotFound) || info.Source != SourceNone {
		t.Fatalf("lookup miss: %+v %v", info, err)
	}
	// The miss was not cached as a negative entry.
	origin := &countingLoader{}
	if v, err := c.Get(ctx, "k", origin); err != nil || string(v) != "v:k" {
		t.Fatalf("Get with loader after lookup miss: %q %v", v, err)
	}
	if s := c.Stats(); s.OriginLoads != 1 {
		t.Fatalf("origin loads %d", s.OriginLoads)
	}
}

func TestStaleWhileRevalidateFromL2(t *testing.T) {
	eachNodeKind(t, func(t *testing.T, startN func(testing.TB, int) []*testNode) {
		nodes := startN(t, 1)
		origin := &countingLoader{}
		ctx := context.Background()
		c := newClient(t, Config{
			Tier:                 TierConfig{Addrs: addrsOf(nodes)},
			L1:                   L1Config{Bytes: -1},
			TTL:                  50 * time.Millisecond,
			StaleTTL:             time.Minute,
			StaleWhileRevalidate: true,
		})
		if _, err := c.Get(ctx, "k", origin); err != nil {
			t.Fatal(err)
		}
		time.Sleep(120 * time.Millisecond)
		v, info, err := c.GetInfo(ctx, "k", origin)
		if err != nil || string(v) != "v:k" || !info.Stale || info.Source != SourceL2 {
			t.Fatalf("%q %+v %v, want stale from L2", v, info, err)
		}
		waitFor(t, 5*time.Second, "background refresh", func() bool { return origin.calls.Load() == 2 })
		waitFor(t, 5*time.Second, "fresh entry in L2", func() bool {
			_, info, err := c.GetInfo(ctx, "k", origin)
			return err == nil && !info.Stale && info.Source == SourceL2
		})
	})
}

func TestL1TTLCapsL1Freshness(t *testing.T) {
	eachNodeKind(t, func(t *testing.T, startN func(testing.TB, int) []*testNode) {
		nodes := startN(t, 1)
		origin := &countingLoader{}
		ctx := context.Background()
		// Coherence off: an entry this client wrote would otherwise be
		// fresh in L1 for at most 50 ms (coherence.go), whatever L1.TTL.
		c := newClient(t, Config{Tier: TierConfig{Addrs: addrsOf(nodes), Timeout: time.Second},
			L1: L1Config{TTL: 300 * time.Millisecond, Coherence: noCoherence}, TTL: time.Hour})
		if _, err := c.Get(ctx, "k", origin); err != nil {
			t.Fatal(err)
		}
		if _, info, _ := c.GetInfo(ctx, "k", origin); info.Source != SourceL1 {
			t.Fatalf("right after load: %+v, want L1", info)
		}
		time.Sleep(400 * time.Millisecond)
		// The L1 copy is past L1TTL: the value is re-read, fresh, from L2.
		if v, info, err := c.GetInfo(ctx, "k", origin); err != nil || string(v) != "v:k" || info.Source != SourceL2 || info.Stale {
			t.Fatalf("after L1TTL: %q %+v %v, want fresh from L2", v, info, err)
		}
		if n := origin.calls.Load(); n != 1 {
			t.Fatalf("origin calls %d", n)
		}
	})
}

func TestPassword(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := cachenode.New(cachenode.Config{Addr: ln.Addr().String(), RequirePass: "s3cret",
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = srv.Serve(ln); close(done) }()
	defer func() { srv.Close(); <-done }()
	ctx := context.Background()
	origin := &countingLoader{}

	c := newClient(t, Config{Tier: TierConfig{Addrs: []string{ln.Addr().String()}, Password: "s3cret"}})
	if err := c.Set(ctx, "k", []byte("v"), 0); err != nil {
		t.Fatalf("Set with password: %v", err)
	}
	c2 := newClient(t, Config{Tier: TierConfig{Addrs: []string{ln.Addr().String()}, Password: "s3cret"}})
	if v, info, err := c2.GetInfo(ctx, "k", origin); err != nil || string(v) != "v" || info.Source != SourceL2 {
		t.Fatalf("Get with password: %q %+v %v", v, info, err)
	}
	// A wrong password is an L2 error: the client still answers, from the origin.
	bad := newClient(t, Config{Tier: TierConfig{Addrs: []string{ln.Addr().String()}, Password: "wrong"}})
	if v, info, err := bad.GetInfo(ctx, "k", origin); err != nil || string(v) != "v:k" || info.Source != SourceOrigin {
		t.Fatalf("wrong password: %q %+v %v", v, info, err)
	}
	if s := bad.Stats(); s.L2Errors == 0 {
		t.Fatalf("wrong password not counted as an L2 error: %+v", s)
	}
}
