package cacheclient

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachetier/cachetier/loader"
)

// keyLoader is an origin that counts its calls per key. gate, when set, is
// called at the start of every load (to block or delay it); value names the
// value loaded for a key.
type keyLoader struct {
	mu           sync.Mutex
	calls        map[string]int
	total        atomic.Int64
	delay        time.Duration
	gate         func(n int64) // n: this call's number, from 1
	err          error         // returned instead of a value when set
	ver          atomic.Int64  // value version: "v<ver>:key"
	lastReturned atomic.Int64  // UnixNano of the last load's return
}

func (o *keyLoader) Load(ctx context.Context, key string) (loader.Result, error) {
	o.mu.Lock()
	if o.calls == nil {
		o.calls = map[string]int{}
	}
	o.calls[key]++
	o.mu.Unlock()
	n := o.total.Add(1)
	if o.gate != nil {
		o.gate(n)
	}
	if o.delay > 0 {
		select {
		case <-time.After(o.delay):
		case <-ctx.Done():
			return loader.Result{}, ctx.Err()
		}
	}
	defer o.lastReturned.Store(time.Now().UnixNano())
	if o.err != nil {
		return loader.Result{}, o.err
	}
	return loader.Result{Value: []byte(fmt.Sprintf("v%d:%s", o.ver.Load(), key))}, nil
}

func (o *keyLoader) perKey() map[string]int {
	o.mu.Lock()
	defer o.mu.Unlock()
	m := make(map[string]int, len(o.calls))
	for k, v := range o.calls {
		m[k] = v
	}
	return m
}

// countingTimeout is Tier.Timeout for the tests that count origin loads: a
// request that times out on a loaded machine makes its fill fall back to a
// load of its own (as it should), which those counts are not about.
const countingTimeout = 2 * time.Second

// newClients returns n clients over the same nodes, each with its own L1:
// for the lease protocol, separate processes.
func newClients(t *testing.T, n int, cfg Config) []*Client {
	cs := make([]*Client, n)
	for i := range cs {
		cs[i] = newClient(t, cfg)
	}
	return cs
}

func sumStats(cs []*Client) Stats {
	var s Stats
	for _, c := range cs {
		x := c.Stats()
		s.OriginLoads += x.OriginLoads
		s.LeasesWon += x.LeasesWon
		s.LeaseWaits += x.LeaseWaits
		s.LeaseWaitTime += x.LeaseWaitTime
		s.LeaseTakeovers += x.LeaseTakeovers
		s.LeaseVoided += x.LeaseVoided
		s.LeaseFallbacks += x.LeaseFallbacks
		s.StaleServed += x.StaleServed
	}
	return s
}

// herd makes every client's goroutines (perClient each) Get every key at
// the same moment, and returns the errors and wrong values seen.
func herd(cs []*Client, perClient int, keys []string, l loader.Loader,
	check func(key string, v []byte, info Info, err error) error) []error {
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		mu    sync.Mutex
		errs  []error
	)
	for _, c := range cs {
		for range perClient {
			for _, k := range keys {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					v, info, err := c.GetInfo(context.Background(), k, l)
					if e := check(k, v, info, err); e != nil {
						mu.Lock()
						errs = append(errs, e)
						mu.Unlock()
					}
				}()
			}
		}
	}
	close(start)
	wg.Wait()
	return errs
}

func wantValue(ver int) func(string, []byte, Info, error) error {
	return func(k string, v []byte, info Info, err error) error {
		if want := fmt.Sprintf("v%d:%s", ver, k); err != nil || string(v) != want {
			return fmt.Errorf("Get(%s) = %q, %+v, %v; want %q", k, v, info, err, want)
		}
		return nil
	}
}

// TestLeaseHerdOneLoadPerKey: 16 clients (processes) × 8 goroutines × 6 cold
// keys at once cost one origin load per key for the whole tier, and every
// caller gets the value.
func TestLeaseHerdOneLoadPerKey(t *testing.T) {
	eachNodeKind(t, func(t *testing.T, startN func(testing.TB, int) []*testNode) {
		nodes := startN(t, 3)
		origin := &keyLoader{delay: 50 * time.Millisecond}
		cs := newClients(t, 16, Config{Tier: TierConfig{Addrs: addrsOf(nodes), Timeout: countingTimeout}})
		keys := []string{"herd:a", "herd:b", "herd:c", "herd:d", "herd:e", "herd:f"}
		var lastAnswer atomic.Int64 // UnixNano
		check := func(k string, v []byte, info Info, err error) error {
			now := time.Now().UnixNano()
			for {
				p := lastAnswer.Load()
				if now <= p || lastAnswer.CompareAndSwap(p, now) {
					break
				}
			}
			return wantValue(0)(k, v, info, err)
		}
		for _, err := range herd(cs, 8, keys, origin, check) {
			t.Error(err)
		}
		// Measured, not asserted (a loaded machine stretches it): from the
		// last load's return to the last caller's answer, which includes
		// the holder's write-back (three round trips) and one poll pause.
		t.Logf("last answer %v after the last load returned", time.Duration(lastAnswer.Load()-origin.lastReturned.Load()))
		for _, k := range keys {
			if n := origin.perKey()[k]; n != 1 {
				t.Errorf("origin loads of %s = %d, want 1", k, n)
			}
		}
		s := sumStats(cs)
		if s.LeasesWon != uint64(len(keys)) || s.LeaseVoided != 0 || s.LeaseFallbacks != 0 {
			t.Errorf("stats: won %d (want %d), voided %d, fallbacks %d", s.LeasesWon, len(keys), s.LeaseVoided, s.LeaseFallbacks)
		}
		if s.LeaseWaits == 0 {
			t.Errorf("no process waited for a lease")
		}
		t.Logf("waits %d, mean wait %v", s.LeaseWaits, s.LeaseWaitTime/time.Duration(max(s.LeaseWaits, 1)))
	})
}

// TestLeaseWriteDuringLoadVoids: a Set or Delete of the key (from another
// process) while the lease holder loads voids the lease: the holder's caller
// gets the loaded value, but L2 keeps the newer state and the holder's L1 does
// not install the older value.
func TestLeaseWriteDuringLoadVoids(t *testing.T) {
	eachNodeKind(t, func(t *testing.T, startN func(testing.TB, int) []*testNode) {
		for _, tc := range []struct{ from, write string }{
			{"cold", "set"}, {"cold", "delete"}, {"stale", "set"}, {"stale", "delete"},
		} {
			t.Run(tc.from+"/"+tc.write, func(t *testing.T) {
				write := tc.write
				nodes := startN(t, 2)
				// The cold key's first load is gated; the stale key's
				// first load fills it, its second (the reload) is gated.
				gated := int64(1)
				if tc.from == "stale" {
					gated = 2
				}
				started, release := make(chan struct{}), make(chan struct{})
				origin := &keyLoader{gate: func(n int64) {
					if n == gated {
						close(started)
						<-release
					}
				}}
				cs := newClients(t, 2, Config{Tier: TierConfig{Addrs: addrsOf(nodes), Timeout: countingTimeout}, TTL: 100 * time.Millisecond})
				holder, writer := cs[0], cs[1]
				ctx := context.Background()
				if tc.from == "stale" {
					if _, err := holder.Get(ctx, "k", origin); err != nil {
						t.Fatal(err)
					}
					time.Sleep(150 * time.Millisecond) // past T1
					origin.ver.Store(1)
				}
				want := fmt.Sprintf("v%d:k", gated-1)
				got := make(chan error, 1)
				go func() {
					v, err := holder.Get(ctx, "k", origin)
					if err == nil && string(v) != want {
						err = fmt.Errorf("holder got %q, want the loaded %s", v, want)
					}
					got <- err
				}()
				<-started
				var err error
				if write == "set" {
					err = writer.Set(ctx, "k", []byte("newer"), 0)
				} else {
					err = writer.Delete(ctx, "k")
				}
				if err != nil {
					t.Fatal(err)
				}
				close(release)
				if err := <-got; err != nil {
					t.Fatal(err)
				}
				if s := holder.Stats(); s.LeaseVoided != 1 {
					t.Errorf("LeaseVoided = %d, want 1", s.LeaseVoided)
				}
				// A third process, without L1, sees the newer state in L2.
				reader := newClient(t, Config{Tier: TierConfig{Addrs: addrsOf(nodes)}, L1: L1Config{Bytes: -1}})
				v, err := reader.Get(ctx, "k", nil)
				switch {
				case write == "set" && (err != nil || string(v) != "newer"):
					t.Errorf("L2 after set: %q, %v; want newer", v, err)
				case write == "delete" && !errors.Is(err, loader.ErrNotFound):
					t.Errorf("L2 after delete: %q, %v; want nothing", v, err)
				}
				// The holder's L1 did not keep the older value.
				if write == "set" {
					v, info, err := holder.GetInfo(ctx, "k", nil)
					if err != nil || string(v) != "newer" || info.Source != SourceL2 {
						t.Errorf("holder after set: %q, %+v, %v; want newer from L2", v, info, err)
					}
				}
				// No lease is left behind on any node.
				for _, nd := range nodes {
					rdb := redis.NewClient(&redis.Options{Addr: nd.Addr})
					n, err := rdb.Exists(ctx, sideKey("k")).Result()
					rdb.Close()
					if err != nil || n != 0 {
						t.Errorf("side key on %s: %d, %v; want none", nd.Addr, n, err)
					}
				}
			})
		}
	})
}

// TestLeaseHolderHung: the holder's load blocks past its lease (ignoring its
// context); a waiter takes the lease over and loads. The key costs two loads,
// no waiter gets an error, and the holder's late write-back is refused.
func TestLeaseHolderHung(t *testing.T) {
	eachNodeKind(t, func(t *testing.T, startN func(testing.TB, int) []*testNode) {
		for _, from := range []string{"cold", "stale"} {
			t.Run(from, func(t *testing.T) { testLeaseHolderHung(t, startN, from == "stale") })
		}
	})
}

func testLeaseHolderHung(t *testing.T, startN func(testing.TB, int) []*testNode, stale bool) {
	nodes := startN(t, 2)
	gated := int64(1)
	if stale {
		gated = 2
	}
	started, release := make(chan struct{}), make(chan struct{})
	origin := &keyLoader{gate: func(n int64) {
		if n == gated {
			close(started)
			<-release // hangs, whatever its context says
		}
	}}
	// TTL 1 s: the taker's value stays fresh while every waiter, however
	// slow the machine, looks at the key again.
	cfg := Config{
		Tier:   TierConfig{Addrs: addrsOf(nodes), Timeout: countingTimeout, Leases: LeaseConfig{TTL: 300 * time.Millisecond}},
		Origin: OriginConfig{LoadTimeout: 200 * time.Millisecond},
		TTL:    time.Second,
	}
	cs := newClients(t, 5, cfg)
	holder, waiters := cs[0], cs[1:]
	if stale {
		if _, err := holder.Get(context.Background(), "hung", origin); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1050 * time.Millisecond) // past T1
	}
	holderDone := make(chan struct{})
	go func() {
		defer close(holderDone)
		_, _ = holder.Get(context.Background(), "hung", origin) // its own caller may fail
	}()
	<-started
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
		<-holderDone
	})
	start := time.Now()
	for _, err := range herd(waiters, 10, []string{"hung"}, origin, wantValue(0)) {
		t.Error(err)
	}
	t.Logf("waiters answered after %v", time.Since(start))
	if n := origin.total.Load(); n != gated+1 {
		t.Errorf("origin loads = %d, want %d (the hung one and one takeover)", n, gated+1)
	}
	if s := sumStats(waiters); s.LeaseTakeovers != 1 {
		t.Errorf("takeovers = %d, want 1", s.LeaseTakeovers)
	}
	close(release)
	<-holderDone
	waitFor(t, 5*time.Second, "the holder's late write-back to be refused", func() bool {
		return holder.Stats().LeaseVoided == 1
	})
}

// TestLeaseHolderGone: a lease whose holder died (its expiry has passed, the
// key still holds it) is taken over by one waiter: one load, no errors.
func TestLeaseHolderGone(t *testing.T) {
	eachNodeKind(t, func(t *testing.T, startN func(testing.TB, int) []*testNode) {
		nodes := startN(t, 1)
		rdb := redis.NewClient(&redis.Options{Addr: nodes[0].Addr})
		defer rdb.Close()
		ctx := context.Background()
		dead := newLeases(time.Second).next()
		lease := appendLease(nil, dead, time.Now().UnixMilli()+200)
		if err := rdb.Set(ctx, "gone", lease, 10*time.Second).Err(); err != nil {
			t.Fatal(err)
		}
		origin := &keyLoader{}
		cs := newClients(t, 4, Config{Tier: TierConfig{Addrs: addrsOf(nodes), Timeout: countingTimeout}})
		for _, err := range herd(cs, 10, []string{"gone"}, origin, wantValue(0)) {
			t.Error(err)
		}
		if n := origin.total.Load(); n != 1 {
			t.Errorf("origin loads = %d, want 1", n)
		}
		if s := sumStats(cs); s.LeaseTakeovers != 1 || s.LeaseWaits == 0 {
			t.Errorf("takeovers %d (want 1), waits %d (want > 0)", s.LeaseTakeovers, s.LeaseWaits)
		}
	})
}

// TestLeaseStaleHolderGone: a stale entry whose side lease is held by a
// process that died is taken over by one waiter once the lease expires: one
// load, no errors.
func TestLeaseStaleHolderGone(t *testing.T) {
	eachNodeKind(t, func(t *testing.T, startN func(testing.TB, int) []*testNode) {
		nodes := startN(t, 1)
		rdb := redis.NewClient(&redis.Options{Addr: nodes[0].Addr})
		defer rdb.Close()
		ctx := context.Background()
		now := time.Now().UnixMilli()
		stale := append(appendHeader(nil, header{t1: now - 1000, t2: now + 60_000}), "old"...)
		if err := rdb.Set(ctx, "sgone", stale, time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		dead := newLeases(time.Second).next()
		if err := rdb.Set(ctx, sideKey("sgone"), appendLease(nil, dead, now+200), 200*time.Millisecond).Err(); err != nil {
			t.Fatal(err)
		}
		origin := &keyLoader{}
		cs := newClients(t, 4, Config{Tier: TierConfig{Addrs: addrsOf(nodes), Timeout: countingTimeout}})
		for _, err := range herd(cs, 10, []string{"sgone"}, origin, wantValue(0)) {
			t.Error(err)
		}
		if n := origin.total.Load(); n != 1 {
			t.Errorf("origin loads = %d, want 1", n)
		}
		if s := sumStats(cs); s.LeaseTakeovers != 1 || s.LeaseWaits == 0 {
			t.Errorf("takeovers %d (want 1), waits %d (want > 0)", s.LeaseTakeovers, s.LeaseWaits)
		}
		// The side key holds a done lease (expiry 0), or nothing.
		if b, err := rdb.Get(ctx, sideKey("sgone")).Bytes(); !errors.Is(err, redis.Nil) {
			if lh, ok := parseLease(b); err != nil || !ok || lh.expiry != 0 {
				t.Errorf("side key after the reload: %+v, %v, %v; want a done lease or none", lh, ok, err)
			}
		}
	})
}

// TestLeaseStaleCrossedWriteBack: a process that read the stale entry just
// before another's write-back, and asks for the side lease just after it,
// finds the done lease, looks again and answers the new value: no second
// load.
func TestLeaseStaleCrossedWriteBack(t *testing.T) {
	eachNodeKind(t, func(t *testing.T, startN func(testing.TB, int) []*testNode) {
		nodes := startN(t, 1)
		rdb := redis.NewClient(&redis.Options{Addr: nodes[0].Addr})
		defer rdb.Close()
		ctx := context.Background()
		cs := newClients(t, 2, Config{Tier: TierConfig{Addrs: addrsOf(nodes), Timeout: countingTimeout}, TTL: 300 * time.Millisecond})
		a, b := cs[0], cs[1]
		origin := &keyLoader{}
		if _, err := a.Get(ctx, "x", origin); err != nil {
			t.Fatal(err)
		}
		time.Sleep(350 * time.Millisecond)     // past T1
		seen, err := rdb.Get(ctx, "x").Bytes() // b's read of the stale entry
		if err != nil {
			t.Fatal(err)
		}
		origin.ver.Store(1)
		if v, err := a.Get(ctx, "x", origin); err != nil || string(v) != "v1:x" { // a's reload and write-back
			t.Fatalf("a's reload: %q, %v", v, err)
		}
		res, err, handled := b.leaseFill(ctx, "x", origin, seen, nil, SourceNone, false)
		if err != nil || !handled || string(res.val) != "v1:x" || res.src != SourceL2 {
			t.Errorf("b after the crossed write-back: %q from %v, %v, handled %v; want v1:x from L2", res.val, res.src, err, handled)
		}
		if n := origin.total.Load(); n != 2 {
			t.Errorf("origin loads = %d, want 2 (the fill and one reload)", n)
		}
	})
}

// TestLeaseMissRoundTrips: a miss without contention sends one command
// before the origin load starts besides the read itself (a cold key: SET NX
// GET on the key; a stale entry: SET NX GET on its side key), and a fresh hit
// sends the read alone. Counted on the node (INFO commandstats).
func TestLeaseMissRoundTrips(t *testing.T) {
	eachNodeKind(t, func(t *testing.T, startN func(testing.TB, int) []*testNode) {
		nodes := startN(t, 1)
		rdb := redis.NewClient(&redis.Options{Addr: nodes[0].Addr})
		defer rdb.Close()
		ctx := context.Background()
		calls := func() int {
			info, err := rdb.Info(ctx, "commandstats").Result()
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, line := range strings.Split(info, "\n") {
				name, rest, ok := strings.Cut(strings.TrimSpace(line), ":calls=")
				if !ok {
					continue
				}
				switch strings.TrimPrefix(name, "cmdstat_") {
				case "get", "set", "del", "watch", "unwatch", "multi", "exec", "eval", "evalsha":
					c, _ := strconv.Atoi(rest[:strings.IndexByte(rest, ',')])
					n += c
				}
			}
			return n
		}
		var atLoad int
		origin := &keyLoader{gate: func(int64) { atLoad = calls() }}
		c := newClient(t, Config{Tier: TierConfig{Addrs: addrsOf(nodes)}, L1: L1Config{Bytes: -1}, TTL: 300 * time.Millisecond})
		if err := c.Set(ctx, "warm-the-pool", []byte("x"), 0); err != nil {
			t.Fatal(err)
		}
		for _, step := range []struct {
			what string
			wait time.Duration
			want int // commands before the load; -1: no load
		}{
			{"cold miss", 0, 2},
			{"fresh hit", 0, -1},
			{"stale entry", 350 * time.Millisecond, 2},
		} {
			time.Sleep(step.wait)
			atLoad = -1
			before := calls()
			loads := origin.total.Load()
			if _, err := c.Get(ctx, "rt", origin); err != nil {
				t.Fatalf("%s: %v", step.what, err)
			}
			after := calls()
			switch {
			case step.want < 0 && (origin.total.Load() != loads || after-before != 1):
				t.Errorf("%s: %d loads, %d commands; want none and 1 (GET)", step.what, origin.total.Load()-loads, after-before)
			case step.want >= 0 && atLoad-before != step.want:
				t.Errorf("%s: %d commands before the load, want %d", step.what, atLoad-before, step.want)
			}
		}
	})
}

// TestLeaseOwnerUnwritableFallsBack: the owner answers reads but not writes
// (CLIENT PAUSE WRITE): the lease cannot be taken, so each process loads on
// its own at once instead of blocking.
func TestLeaseOwnerUnwritableFallsBack(t *testing.T) {
	eachNodeKind(t, func(t *testing.T, startN func(testing.TB, int) []*testNode) {
		nodes := startN(t, 1)
		rdb := redis.NewClient(&redis.Options{Addr: nodes[0].Addr})
		defer rdb.Close()
		ctx := context.Background()
		if err := rdb.Do(ctx, "CLIENT", "PAUSE", "3000", "WRITE").Err(); err != nil {
			t.Fatal(err)
		}
		defer rdb.Do(ctx, "CLIENT", "UNPAUSE")
		origin := &keyLoader{}
		cs := newClients(t, 2, Config{
			Tier:   TierConfig{Addrs: addrsOf(nodes), Timeout: 100 * time.Millisecond},
			Health: HealthConfig{FailureThreshold: 100},
		})
		start := time.Now()
		for _, err := range herd(cs, 5, []string{"paused"}, origin, wantValue(0)) {
			t.Error(err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("herd took %v with the owner unwritable; want a prompt fallback", d)
		}
		if n := origin.total.Load(); n != 2 {
			t.Errorf("origin loads = %d, want 2 (one per process)", n)
		}
		if s := sumStats(cs); s.LeaseFallbacks != 2 {
			t.Errorf("fallbacks = %d, want 2", s.LeaseFallbacks)
		}
	})
}

// TestLeaseOwnerDownFallsBack: with the only node dead, every process loads
// on its own, without waiting and without errors.
func TestLeaseOwnerDownFallsBack(t *testing.T) {
	nodes := startNodes(t, "cachenode", 1)
	nodes[0].Kill()
	origin := &keyLoader{}
	cs := newClients(t, 3, Config{Tier: TierConfig{Addrs: addrsOf(nodes), Timeout: 100 * time.Millisecond}})
	start := time.Now()
	for _, err := range herd(cs, 5, []string{"down"}, origin, wantValue(0)) {
		t.Error(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("herd took %v with the node down", d)
	}
	if n := origin.total.Load(); n != 3 {
		t.Errorf("origin loads = %d, want 3 (one per process)", n)
	}
}

// TestLeaseNegative: a herd on a key the origin does not have costs one load;
// every caller gets loader.ErrNotFound, and the negative entry is cached.
func TestLeaseNegative(t *testing.T) {
	eachNodeKind(t, func(t *testing.T, startN func(testing.TB, int) []*testNode) {
		nodes := startN(t, 2)
		origin := &keyLoader{delay: 30 * time.Millisecond, err: loader.ErrNotFound}
		cs := newClients(t, 8, Config{Tier: TierConfig{Addrs: addrsOf(nodes), Timeout: countingTimeout}})
		notFound := func(k string, v []byte, info Info, err error) error {
			if !errors.Is(err, loader.ErrNotFound) || !info.Negative {
				return fmt.Errorf("Get(%s) = %q, %+v, %v; want not found", k, v, info, err)
			}
			return nil
		}
		for _, err := range herd(cs, 5, []string{"nope"}, origin, notFound) {
			t.Error(err)
		}
		if n := origin.total.Load(); n != 1 {
			t.Errorf("origin loads = %d, want 1", n)
		}
		other := newClient(t, Config{Tier: TierConfig{Addrs: addrsOf(nodes)}})
		if _, info, err := other.GetInfo(context.Background(), "nope", origin); !errors.Is(err, loader.ErrNotFound) || info.Source != SourceL2 {
			t.Errorf("later Get: %+v, %v; want the negative entry from L2", info, err)
		}
	})
}

// TestLeaseStale: a stale entry is reloaded once for the whole tier. With
// StaleWhileRevalidate every caller answers stale at once while one process
// refreshes; without it, callers wait for the one reload.
func TestLeaseStale(t *testing.T) {
	eachNodeKind(t, func(t *testing.T, startN func(testing.TB, int) []*testNode) {
		for _, swr := range []bool{true, false} {
			t.Run(fmt.Sprintf("swr=%v", swr), func(t *testing.T) {
				nodes := startN(t, 2)
				origin := &keyLoader{delay: 30 * time.Millisecond}
				cs := newClients(t, 8, Config{Tier: TierConfig{Addrs: addrsOf(nodes), Timeout: countingTimeout}, TTL: 200 * time.Millisecond, StaleWhileRevalidate: swr})
				ctx := context.Background()
				for _, c := range cs { // v0 in L2 and in every L1
					if v, err := c.Get(ctx, "s", origin); err != nil || string(v) != "v0:s" {
						t.Fatalf("warm-up: %q, %v", v, err)
					}
				}
				time.Sleep(250 * time.Millisecond) // past T1: stale everywhere
				origin.ver.Store(1)
				before := origin.total.Load()
				check := wantValue(1)
				if swr {
					check = func(k string, v []byte, info Info, err error) error {
						// Or the refreshed v1: once a process's refresh is
						// written, the others' L1 copies are invalidated
						// (coherence) and they read v1 from L2.
						if err == nil && string(v) == "v1:s" && !info.Stale {
							return nil
						}
						if err != nil || string(v) != "v0:s" || !info.Stale {
							return fmt.Errorf("SWR Get = %q, %+v, %v; want stale v0 at once", v, info, err)
						}
						return nil
					}
				}
				for _, err := range herd(cs, 5, []string{"s"}, origin, check) {
					t.Error(err)
				}
				if swr {
					// Every process ends up with the refreshed value.
					for _, c := range cs {
						waitFor(t, 5*time.Second, "the refreshed value", func() bool {
							v, info, err := c.GetInfo(ctx, "s", origin)
							return err == nil && string(v) == "v1:s" && !info.Stale
						})
					}
				}
				if n := origin.total.Load() - before; n != 1 {
					t.Errorf("reloads of the stale key = %d, want 1 for the tier", n)
				}
			})
		}
	})
}

// TestLeasesDisabled: with Tier.Leases.Disabled each process loads on its
// own, as before leases.
func TestLeasesDisabled(t *testing.T) {
	nodes := startNodes(t, "cachenode", 1)
	origin := &keyLoader{delay: 100 * time.Millisecond}
	cs := newClients(t, 4, Config{Tier: TierConfig{Addrs: addrsOf(nodes), Leases: LeaseConfig{Disabled: true}}})
	for _, err := range herd(cs, 5, []string{"off"}, origin, wantValue(0)) {
		t.Error(err)
	}
	if n := origin.total.Load(); n < 2 {
		t.Errorf("origin loads = %d, want one per process (4)", n)
	}
	if s := sumStats(cs); s.LeasesWon != 0 || s.LeaseWaits != 0 {
		t.Errorf("leases used while disabled: %+v", s)
	}
}

func TestLeaseEnvelopeRoundTrip(t *testing.T) {
	tok := newLeases(time.Second).next()
	b := appendLease(nil, tok, 12345)
	lh, ok := parseLease(b)
	if !ok || lh.token != tok || lh.expiry != 12345 || len(b) != leaseHdrLen {
		t.Errorf("round trip: %+v %v (%d bytes)", lh, ok, len(b))
	}
	// A client that knows only version 1 sees no value in it.
	if _, ok := parseHeader(b); ok {
		t.Errorf("parseHeader accepted a leased envelope")
	}
	if _, ok := parseLease(appendHeader(nil, header{t1: 1, t2: 2})); ok {
		t.Errorf("parseLease accepted a value envelope")
	}
	if a, b := newLeases(time.Second), newLeases(time.Second); a.next() == b.next() {
		t.Errorf("two clients made the same token")
	}
}

// leaseChildEnv, set to a node address, makes the test binary a client
// process that takes the lease on "killed" and hangs in its load.
const leaseChildEnv = "CACHECLIENT_LEASE_CHILD"

// leaseChild is the child process of TestLeaseHolderProcessKilled: it takes
// the lease on key "killed" (1 s), says "loading" on stdout, and hangs
// until it is killed.
func leaseChild(addr string) {
	c, err := New(Config{Tier: TierConfig{Addrs: []string{addr}, Timeout: time.Second,
		Leases: LeaseConfig{TTL: time.Second}}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	_, _ = c.Get(context.Background(), "killed", loader.Func(func(ctx context.Context, key string) (loader.Result, error) {
		fmt.Println("loading")
		select {} // hang until killed
	}))
	os.Exit(3)
}

// TestLeaseHolderProcessKilled: a real client process takes the lease and is
// killed (SIGKILL) mid-load. The other processes' callers take the lease over
// once it expires: one more load, no errors.
func TestLeaseHolderProcessKilled(t *testing.T) {
	eachNodeKind(t, func(t *testing.T, startN func(testing.TB, int) []*testNode) {
		nodes := startN(t, 1)
		exe, err := os.Executable()
		if err != nil {
			t.Skip(err)
		}
		// The clients are ready before the child takes its lease, so that
		// the herd starts well within the lease's second.
		origin := &keyLoader{}
		cs := newClients(t, 4, Config{Tier: TierConfig{Addrs: addrsOf(nodes), Timeout: countingTimeout}})
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), leaseChildEnv+"="+nodes[0].Addr)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(out).ReadString('\n')
		if err != nil || line != "loading\n" {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("child said %q, %v", line, err)
		}
		_ = cmd.Process.Kill() // mid-load, lease held
		_ = cmd.Wait()

		start := time.Now()
		for _, err := range herd(cs, 10, []string{"killed"}, origin, wantValue(0)) {
			t.Error(err)
		}
		t.Logf("answered %v after the kill", time.Since(start))
		if n := origin.total.Load(); n != 1 {
			t.Errorf("origin loads after the kill = %d, want 1 (the killed holder's was the other)", n)
		}
		if s := sumStats(cs); s.LeaseWaits == 0 || s.LeaseTakeovers != 1 {
			t.Errorf("waits %d (want > 0), takeovers %d (want 1)", s.LeaseWaits, s.LeaseTakeovers)
		}
	})
}

// TestLeaseOriginFailingServesStale: with the origin failing, callers in
// every process get the stale value, as without leases, and the failing
// holder hands its lease back rather than leaving the others waiting.
func TestLeaseOriginFailingServesStale(t *testing.T) {
	eachNodeKind(t, func(t *testing.T, startN func(testing.TB, int) []*testNode) {
		nodes := startN(t, 1)
		cs := newClients(t, 4, Config{Tier: TierConfig{Addrs: addrsOf(nodes)}, TTL: 100 * time.Millisecond})
		ctx := context.Background()
		good := &keyLoader{}
		if _, err := cs[0].Get(ctx, "f", good); err != nil {
			t.Fatal(err)
		}
		time.Sleep(150 * time.Millisecond) // stale
		bad := &keyLoader{delay: 20 * time.Millisecond, err: errOrigin}
		start := time.Now()
		stale := func(k string, v []byte, info Info, err error) error {
			if err != nil || string(v) != "v0:f" || !info.Stale {
				return fmt.Errorf("Get = %q, %+v, %v; want the stale v0:f", v, info, err)
			}
			return nil
		}
		for _, err := range herd(cs, 5, []string{"f"}, bad, stale) {
			t.Error(err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("herd took %v: waiters waited out the failing holder's lease", d)
		}
		if n := bad.total.Load(); n < 1 || n > 4 {
			t.Errorf("origin calls = %d, want 1..4 (at most one per process)", n)
		}
	})
}

// TestLeaseCloseEndsWait: Close does not wait for another process's lease
// to end: a fill waiting for one returns at once.
func TestLeaseCloseEndsWait(t *testing.T) {
	nodes := startNodes(t, "cachenode", 1)
	rdb := redis.NewClient(&redis.Options{Addr: nodes[0].Addr})
	defer rdb.Close()
	ctx := context.Background()
	other := newLeases(time.Minute).next()
	if err := rdb.Set(ctx, "held", appendLease(nil, other, time.Now().UnixMilli()+60_000), time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	c, err := New(Config{Tier: TierConfig{Addrs: addrsOf(nodes), Timeout: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		_, err := c.Get(ctx, "held", &keyLoader{})
		got <- err
	}()
	waitFor(t, 5*time.Second, "the fill to wait for the lease", func() bool { return c.Stats().LeaseWaits == 1 })
	start := time.Now()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Close took %v with a fill waiting for a lease", d)
	}
	if err := <-got; !errors.Is(err, ErrClosed) {
		t.Errorf("the waiting Get returned %v, want an error wrapping ErrClosed", err)
	}
}

// TestLeaseWaiterLag measures (logs, does not assert: timing on a shared
// machine) how soon after the holder's Get returns — its write-back done — a
// waiter in another process answers: one poll pause (at most 4 ms) and a GET.
func TestLeaseWaiterLag(t *testing.T) {
	nodes := startNodes(t, "cachenode", 1)
	origin := &keyLoader{delay: 20 * time.Millisecond}
	holder, waiter := newClient(t, Config{Tier: TierConfig{Addrs: addrsOf(nodes)}}), newClient(t, Config{Tier: TierConfig{Addrs: addrsOf(nodes)}})
	ctx := context.Background()
	var lags []time.Duration
	for i := range 20 {
		key := fmt.Sprintf("lag:%d", i)
		held := make(chan time.Time, 1)
		go func() {
			_, _ = holder.Get(ctx, key, origin)
			held <- time.Now()
		}()
		waitFor(t, 5*time.Second, "the holder's load", func() bool { return origin.perKey()[key] == 1 })
		if _, err := waiter.Get(ctx, key, origin); err != nil {
			t.Fatal(err)
		}
		answered := time.Now()
		lags = append(lags, answered.Sub(<-held))
	}
	slices.Sort(lags)
	t.Logf("waiter answered after the holder: median %v, max %v (20 keys)", lags[len(lags)/2], lags[len(lags)-1])
	if n := origin.total.Load(); n != 20 {
		t.Errorf("origin loads = %d, want 20 (one per key)", n)
	}
}

// TestLeaseFailoverOwner: with a key's owner down, the lease is taken on its
// failover owner: one load for the tier, and the value written there keeps
// the failover flag and the FailoverTTL cap.
func TestLeaseFailoverOwner(t *testing.T) {
	eachNodeKind(t, func(t *testing.T, startN func(testing.TB, int) []*testNode) {
		nodes := startN(t, 2)
		cfg := Config{
			Tier:   TierConfig{Addrs: addrsOf(nodes), Timeout: 200 * time.Millisecond, FailoverTTL: 2 * time.Second},
			Health: HealthConfig{FailureThreshold: 1, Interval: 50 * time.Millisecond},
		}
		cs := newClients(t, 4, cfg)
		key := ""
		for i := 0; key == ""; i++ {
			if k := fmt.Sprintf("fo:%d", i); func() bool { nd, _ := cs[0].tier.route(k); return nd.addr == nodes[0].Addr }() {
				key = k
			}
		}
		nodes[0].Kill()
		for _, c := range cs {
			waitFor(t, 5*time.Second, "the owner marked down", func() bool { return !nodeUp(c, nodes[0].Addr) })
		}
		origin := &keyLoader{delay: 30 * time.Millisecond}
		for _, err := range herd(cs, 5, []string{key}, origin, wantValue(0)) {
			t.Error(err)
		}
		if n := origin.total.Load(); n != 1 {
			t.Errorf("origin loads = %d, want 1", n)
		}
		rdb := redis.NewClient(&redis.Options{Addr: nodes[1].Addr})
		defer rdb.Close()
		ctx := context.Background()
		env, err := rdb.Get(ctx, key).Bytes()
		if err != nil {
			t.Fatal(err)
		}
		h, ok := parseHeader(env)
		if !ok || h.flags&flagFailover == 0 {
			t.Errorf("failover copy: header %+v ok %v, want the failover flag", h, ok)
		}
		if ttl := rdb.PTTL(ctx, key).Val(); ttl <= 0 || ttl > 2*time.Second {
			t.Errorf("failover copy's TTL = %v, want ≤ FailoverTTL (2s)", ttl)
		}
	})
}
