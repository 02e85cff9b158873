package cacheclient

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachetier/cachetier/ring"
)

// TestNodeKilledMidTraffic kills one of three nodes under load: callers must
// see no error, the node must be marked down, and back up once it restarts on
// the same port.
func TestNodeKilledMidTraffic(t *testing.T) {
	eachNodeKind(t, func(t *testing.T, startN func(testing.TB, int) []*testNode) {
		nodes := startN(t, 3)
		origin := &countingLoader{}
		c := newClient(t, Config{
			Tier:   TierConfig{Addrs: addrsOf(nodes), Timeout: 300 * time.Millisecond},
			L1:     L1Config{Bytes: -1}, // every request goes to L2
			Origin: OriginConfig{MaxConcurrent: -1},
			Health: HealthConfig{FailureThreshold: 2, Interval: 50 * time.Millisecond},
		})
		victim := nodes[0]

		var (
			stop     = make(chan struct{})
			wg       sync.WaitGroup
			requests atomic.Int64
			errs     = make(chan error, 100)
		)
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 200000; i++ {
					select {
					case <-stop:
						return
					default:
					}
					key := fmt.Sprintf("key:%d", (i*8+w)%300)
					v, err := c.Get(context.Background(), key, origin)
					requests.Add(1)
					if err == nil && string(v) != "v:"+key {
						err = fmt.Errorf("%s: wrong value %q", key, v)
					}
					if err != nil {
						select {
						case errs <- err:
						default:
						}
					}
				}
			}()
		}
		waitFor(t, 10*time.Second, "warm-up traffic", func() bool { return requests.Load() > 500 })

		victim.Kill()
		waitFor(t, 10*time.Second, "victim marked down", func() bool { return !nodeUp(c, victim.Addr) })
		up, down := c.Nodes()
		if len(up) != 2 || len(down) != 1 || down[0] != victim.Addr {
			t.Fatalf("Nodes() = %v, %v", up, down)
		}
		before := requests.Load()
		waitFor(t, 10*time.Second, "traffic on the survivors", func() bool { return requests.Load() > before+500 })

		victim.Restart()
		waitFor(t, 10*time.Second, "victim marked up", func() bool { return nodeUp(c, victim.Addr) })
		before = requests.Load()
		waitFor(t, 10*time.Second, "traffic after recovery", func() bool { return requests.Load() > before+500 })
		close(stop)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("caller saw an error: %v", err)
		}
		var vs NodeStats
		for _, n := range c.Stats().Nodes {
			if n.Addr == victim.Addr {
				vs = n
			}
		}
		if vs.MarkedDown == 0 || !vs.Up {
			t.Fatalf("victim stats %+v", vs)
		}
	})
}

// TestTierDownProtectsOrigin kills the whole tier: warm keys keep coming from
// L1, cold keys are loaded within the origin limit or shed fast, and the
// origin never sees more concurrent loads than the limit.
func TestTierDownProtectsOrigin(t *testing.T) {
	eachNodeKind(t, func(t *testing.T, startN func(testing.TB, int) []*testNode) {
		nodes := startN(t, 2)
		const limit = 2
		origin := &countingLoader{delay: 20 * time.Millisecond}
		c := newClient(t, Config{
			Tier:   TierConfig{Addrs: addrsOf(nodes), Timeout: 200 * time.Millisecond},
			Origin: OriginConfig{MaxConcurrent: limit},
			Health: HealthConfig{FailureThreshold: 2, Interval: 50 * time.Millisecond},
		})
		ctx := context.Background()
		const warm = 50
		for i := 0; i < warm; i++ {
			if _, err := c.Get(ctx, fmt.Sprintf("warm:%d", i), origin); err != nil {
				t.Fatal(err)
			}
		}
		for _, nd := range nodes {
			nd.Kill()
		}
		origin.peak.Store(0)
		callsBefore := origin.calls.Load()

		var (
			wg                       sync.WaitGroup
			served, shed, warmServed atomic.Int64
			maxShed                  atomic.Int64 // ns
			errs                     = make(chan error, 100)
			deadline                 = time.Now().Add(700 * time.Millisecond)
		)
		for w := 0; w < 32; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 10000 && time.Now().Before(deadline); i++ {
					key := fmt.Sprintf("warm:%d", i%warm)
					if i%2 == 1 {
						key = fmt.Sprintf("cold:%d:%d", w, i)
					}
					start := time.Now()
					v, err := c.Get(ctx, key, origin)
					switch {
					case errors.Is(err, ErrShed):
						shed.Add(1)
						if d := int64(time.Since(start)); d > maxShed.Load() {
							maxShed.Store(d)
						}
						if i%2 == 0 {
							select {
							case errs <- fmt.Errorf("warm key %s shed", key):
							default:
							}
						}
					case err != nil:
						select {
						case errs <- fmt.Errorf("%s: %w", key, err):
						default:
						}
					case string(v) != "v:"+key:
						errs <- fmt.Errorf("%s: wrong value %q", key, v)
					default:
						served.Add(1)
						if i%2 == 0 {
							warmServed.Add(1)
						}
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if p := origin.peak.Load(); p > limit {
			t.Fatalf("origin saw %d concurrent loads, limit %d", p, limit)
		}
		if shed.Load() == 0 || warmServed.Load() == 0 {
			t.Fatalf("served %d (warm %d), shed %d: the scenario did not exercise shedding", served.Load(), warmServed.Load(), shed.Load())
		}
		// Shedding is immediate: nothing waits for a load slot or an origin
		// timeout (LoadTimeout is 5s). The bound is generous for a slow machine.
		if d := time.Duration(maxShed.Load()); d > 2*time.Second {
			t.Fatalf("slowest shed took %v", d)
		}
		s := c.Stats()
		if s.Shed != uint64(shed.Load()) {
			t.Fatalf("Stats.Shed = %d, callers saw %d", s.Shed, shed.Load())
		}
		t.Logf("tier down: served %d (warm %d), shed %d, origin calls %d, peak %d, slowest shed %v",
			served.Load(), warmServed.Load(), shed.Load(), origin.calls.Load()-callsBefore, origin.peak.Load(), time.Duration(maxShed.Load()))
	})
}

// TestOriginRateLimit counts origin calls under a rate limit with the tier
// down: never more than burst + rate×elapsed.
func TestOriginRateLimit(t *testing.T) {
	origin := &countingLoader{}
	const rate, burst = 50.0, 5
	c := newClient(t, Config{Origin: OriginConfig{MaxConcurrent: -1, Rate: rate, Burst: burst}})
	start := time.Now()
	var wg sync.WaitGroup
	var shed atomic.Int64
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 5000 && time.Since(start) < 500*time.Millisecond; i++ {
				_, err := c.Get(context.Background(), fmt.Sprintf("k:%d:%d", w, i), origin)
				if errors.Is(err, ErrShed) {
					shed.Add(1)
				} else if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	allowed := float64(burst) + rate*elapsed.Seconds()
	if n := origin.calls.Load(); float64(n) > allowed+1 {
		t.Fatalf("origin calls %d in %v, limit allows %.1f", n, elapsed, allowed)
	}
	if shed.Load() == 0 {
		t.Fatal("nothing was shed")
	}
}

// TestShedServesStale: with the limiter refusing, a stale L1 entry is served.
func TestShedServesStale(t *testing.T) {
	origin := &countingLoader{}
	c := newClient(t, Config{Origin: OriginConfig{Rate: 0.001, Burst: 1}, TTL: 30 * time.Millisecond, StaleTTL: time.Minute})
	ctx := context.Background()
	if _, err := c.Get(ctx, "k", origin); err != nil { // uses the only token
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	v, info, err := c.GetInfo(ctx, "k", origin)
	if err != nil || string(v) != "v:k" || !info.Stale {
		t.Fatalf("%q %+v %v, want stale value", v, info, err)
	}
	if _, err := c.Get(ctx, "cold", origin); !errors.Is(err, ErrShed) {
		t.Fatalf("cold key: %v, want ErrShed", err)
	}
	if s := c.Stats(); s.LimiterRefused != 2 || s.Shed != 1 || s.StaleServed != 1 {
		t.Fatalf("stats %+v", s)
	}
}

// TestBlackholedNode: a node that accepts connections and never answers costs
// each request at most L2Timeout until it is marked down, and nothing after.
func TestBlackholedNode(t *testing.T) {
	addr := blackhole(t)
	origin := &countingLoader{}
	c, err := New(Config{
		Tier:   TierConfig{Addrs: []string{addr}, Timeout: 100 * time.Millisecond},
		Health: HealthConfig{FailureThreshold: 2, Interval: time.Hour}, // passive detection only
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		start := time.Now()
		v, err := c.Get(ctx, fmt.Sprintf("k%d", i), origin)
		if err != nil || string(v) != fmt.Sprintf("v:k%d", i) {
			t.Fatalf("Get: %q %v", v, err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("Get took %v with a black-holed node", d)
		}
	}
	s := c.Stats()
	if len(s.Nodes) != 1 || s.Nodes[0].Up {
		t.Fatalf("black-holed node not marked down: %+v", s.Nodes)
	}
	reqs := s.Nodes[0].Requests
	for i := 0; i < 5; i++ {
		_, _ = c.Get(ctx, fmt.Sprintf("more%d", i), origin)
	}
	if got := c.Stats().Nodes[0].Requests; got != reqs {
		t.Fatalf("requests to a down node: %d -> %d", reqs, got)
	}
}

// TestFailoverTTL: with a key's owner down, its entry goes to the failover
// owner with a Redis TTL capped at FailoverTTL, flagged in the envelope.
func TestFailoverTTL(t *testing.T) {
	eachNodeKind(t, func(t *testing.T, startN func(testing.TB, int) []*testNode) {
		nodes := startN(t, 3)
		addrs := addrsOf(nodes)
		c := newClient(t, Config{
			Tier: TierConfig{
				Addrs:       addrs,
				Timeout:     300 * time.Millisecond,
				FailoverTTL: 5 * time.Second,
			},
			Health: HealthConfig{FailureThreshold: 1, Interval: time.Hour},
			TTL:    time.Hour,
		})
		r := ring.New(addrs...)
		// A key owned by node 0.
		var key string
		for i := 0; ; i++ {
			key = fmt.Sprintf("fk%d", i)
			if o, _ := r.Owner(key); o == addrs[0] {
				break
			}
		}
		failoverAddr := r.WithDown(addrs[0]).Owners(key, 1, nil)[0]
		nodes[0].Kill()
		ctx := context.Background()
		origin := &countingLoader{}
		waitFor(t, 10*time.Second, "owner marked down", func() bool {
			_ = c.Delete(ctx, "probe:"+key) // traffic to notice the failure
			_, _ = c.Get(ctx, key, origin)
			return !nodeUp(c, addrs[0])
		})
		if err := c.Set(ctx, key, []byte("x"), 0); err != nil {
			t.Fatal(err)
		}
		rdb := redis.NewClient(&redis.Options{Addr: failoverAddr, DisableIdentity: true})
		defer rdb.Close()
		pttl, err := rdb.PTTL(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		if pttl <= 0 || pttl > 5*time.Second {
			t.Fatalf("PTTL on failover owner = %v, want (0, 5s]", pttl)
		}
		raw, err := rdb.Get(ctx, key).Bytes()
		if err != nil {
			t.Fatal(err)
		}
		if h, ok := parseHeader(raw); !ok || h.flags&flagFailover == 0 {
			t.Fatalf("envelope %x: failover flag missing", raw[:min(len(raw), envHdrLen)])
		}
	})
}
