package cacheclient

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachetier/cachetier/ring"
)

func observe(hk *hotKeys, key string) bool { return hk.observe(key, ring.HashKey(key)) }

// TestHotKeysGuarantees: on a Zipf stream shorter than the decay window,
// every key read more than total/hotCounters times holds a counter, every
// counter's count lies within [true, true+err], and the top keys come out
// in order.
func TestHotKeysGuarantees(t *testing.T) {
	const n = hotWindow - 1
	hk := newHotKeys(defaultHotShare)
	r := rand.New(rand.NewPCG(1, 2))
	z := rand.NewZipf(rand.New(rand.NewPCG(3, 4)), 1.2, 1, 100_000)
	truth := map[string]uint64{}
	for range n {
		key := fmt.Sprint(z.Uint64())
		if r.IntN(10) == 0 { // noise: one-off keys
			key = fmt.Sprintf("once:%d", r.Uint64())
		}
		truth[key]++
		observe(hk, key)
	}
	counted := map[string]HotKey{}
	for _, h := range hk.top(hotCounters) {
		counted[h.Key] = h
	}
	for key, c := range truth {
		h, ok := counted[key]
		if c > n/hotCounters && !ok {
			t.Errorf("%s read %d times (> %d) holds no named counter", key, c, n/hotCounters)
		}
		if ok && (h.Reads < c || h.Reads > c+h.Error) {
			t.Errorf("%s: reads %d error %d, true %d", key, h.Reads, h.Error, c)
		}
	}
	top := hk.top(3)
	if len(top) != 3 || top[0].Key != "0" || top[0].Reads < top[1].Reads || top[1].Reads < top[2].Reads {
		t.Errorf("top 3 = %+v; want key 0 first, in count order", top)
	}
	if s := top[0].Share; s < 0.1 || s > 1 {
		t.Errorf("share of the top key = %v", s)
	}
}

// TestHotKeysHot: a key is hot from hotMinReads reads and MinShare of the
// window on; uniform traffic has no hot key; a key that stops being read
// stops being hot once the window's halvings bring its share down.
func TestHotKeysHot(t *testing.T) {
	hk := newHotKeys(0.05)
	hot := 0
	for i := range 20_000 {
		if observe(hk, fmt.Sprint("cold:", i%5000)) {
			t.Fatalf("cold key %d hot", i%5000)
		}
		if i%10 == 0 && observe(hk, "hot") { // 1 read in 11: 9% of the reads
			hot++
		}
	}
	if want := 2000 - (hotMinReads - 1); hot != want {
		t.Errorf("hot key found hot on %d of 2000 reads, want %d (from its read %d on)", hot, want, hotMinReads)
	}
	if top := hk.top(1); len(top) != 1 || top[0].Key != "hot" {
		t.Errorf("top = %+v", top)
	}
	// Now only cold keys: after a few windows the hot key is no longer hot.
	for i := range 4 * hotWindow {
		observe(hk, fmt.Sprint("cold:", i%5000))
	}
	if observe(hk, "hot") {
		t.Error("a key not read for 4 windows is still hot")
	}
}

// TestHotKeysAllocs: observing keys read once allocates nothing once the
// counters are in place.
func TestHotKeysAllocs(t *testing.T) {
	hk := newHotKeys(defaultHotShare)
	keys := make([]string, 10_000)
	for i := range keys {
		keys[i] = fmt.Sprint("k", i)
		observe(hk, keys[i])
	}
	i := 0
	if a := testing.AllocsPerRun(1000, func() {
		observe(hk, keys[i%len(keys)])
		i++
	}); a != 0 {
		t.Errorf("%v allocations per observation", a)
	}
}

// readShares reads hot (reads of it: hotReads) and cold keys from several
// goroutines, interleaved, and returns each node's share of the L2
// requests the reads made (from Stats.Nodes) and the client's stats after.
func readShares(t *testing.T, c *Client, hot string, hotReads int, cold []string) (map[string]float64, Stats) {
	t.Helper()
	ctx := context.Background()
	before := map[string]uint64{}
	for _, n := range c.Stats().Nodes {
		before[n.Addr] = n.Requests
	}
	const workers = 8
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < hotReads; i += workers {
				if v, err := c.Get(ctx, hot, nil); err != nil || string(v) != "hot" {
					t.Errorf("Get %s: %q %v", hot, v, err)
					return
				}
				k := cold[i%len(cold)]
				if i%2 == 0 {
					if _, err := c.Get(ctx, k, nil); err != nil {
						t.Errorf("Get %s: %v", k, err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	st := c.Stats()
	shares := map[string]float64{}
	var total float64
	for _, n := range st.Nodes {
		shares[n.Addr] = float64(n.Requests - before[n.Addr])
		total += shares[n.Addr]
	}
	for a := range shares {
		shares[a] /= total
	}
	return shares, st
}

// TestHotKeyReplicaReads: a key taking most reads is found hot and, with
// Replicas 2, read from both its owners: the busiest node carries at most
// 1.5× the mean (against 1.7-1.9× here with one copy, or with hot keys
// off: the hot key's concurrent reads coalesce).
// Its replica copy missing, reads fall back to the owner: no origin load.
func TestHotKeyReplicaReads(t *testing.T) {
	eachNodeKind(t, func(t *testing.T, startN func(testing.TB, int) []*testNode) {
		nodes := startN(t, 3)
		ctx := context.Background()
		// Cold keys owned evenly (20 per node), so that the shares show
		// the hot key's spread.
		r := ring.New(addrsOf(nodes)...)
		per := map[string]int{}
		var cold []string
		for i := 0; len(cold) < 60; i++ {
			k := fmt.Sprint("cold:", i)
			if o, _ := r.Owner(k); per[o] < 20 {
				per[o]++
				cold = append(cold, k)
			}
		}
		const hot, hotReads = "hot:key", 2000
		for _, tc := range []struct {
			replicas int
			off      bool
		}{{2, false}, {1, false}, {2, true}} {
			t.Run(fmt.Sprintf("replicas=%d,hotkeys-off=%v", tc.replicas, tc.off), func(t *testing.T) {
				c := newClient(t, Config{
					Tier: TierConfig{Addrs: addrsOf(nodes), Replicas: tc.replicas, HotKeys: HotKeysConfig{Disabled: tc.off}},
					L1:   L1Config{Bytes: -1}, TTL: time.Hour,
				})
				if err := c.Set(ctx, hot, []byte("hot"), 0); err != nil {
					t.Fatal(err)
				}
				for _, k := range cold {
					if err := c.Set(ctx, k, []byte("cold"), 0); err != nil {
						t.Fatal(err)
					}
				}
				shares, st := readShares(t, c, hot, hotReads, cold)
				busiest := 0.0
				for _, s := range shares {
					busiest = max(busiest, s)
				}
				ratio := busiest * float64(len(shares))
				t.Logf("node shares %v: busiest %.2f× the mean; hot replica reads %d; hot keys %+v", shares, ratio, st.HotReplicaReads, st.HotKeys)
				if tc.off {
					if len(st.HotKeys) != 0 || st.HotReplicaReads != 0 {
						t.Errorf("hot keys off: HotKeys %v, HotReplicaReads %d", st.HotKeys, st.HotReplicaReads)
					}
				} else if len(st.HotKeys) == 0 || st.HotKeys[0].Key != hot {
					t.Errorf("HotKeys = %+v, want %s first", st.HotKeys, hot)
				}
				if tc.replicas == 2 && !tc.off {
					if ratio > 1.5 {
						t.Errorf("busiest node carries %.2f× the mean, want ≤ 1.5", ratio)
					}
				} else if ratio <= 1.5 || st.HotReplicaReads != 0 {
					t.Errorf("one reader node for the hot key: busiest %.2f× the mean (want > 1.5), %d replica reads", ratio, st.HotReplicaReads)
				}
				if tc.replicas == 2 && !tc.off {
					// The replica loses its copy: reads fall back to the owner.
					var buf [2]string
					owners := c.Ring().Owners(hot, 2, buf[:0])
					rep := redis.NewClient(&redis.Options{Addr: owners[1], DisableIdentity: true})
					defer rep.Close()
					if err := rep.Del(ctx, hot).Err(); err != nil {
						t.Fatal(err)
					}
					origin := &keyLoader{}
					for range 200 {
						if v, err := c.Get(ctx, hot, origin); err != nil || string(v) != "hot" {
							t.Fatalf("Get %s with its replica copy gone: %q %v", hot, v, err)
						}
					}
					if n := origin.total.Load(); n != 0 {
						t.Errorf("%d origin loads with the owner's copy at hand", n)
					}
				}
			})
		}
	})
}

// TestHotKeyCoherence: a hot key's L1 copy read from its replica is
// invalidated by a write elsewhere like one read from its owner: the
// writer's Set reaches the replica, which pushes the invalidation.
func TestHotKeyCoherence(t *testing.T) {
	eachNodeKind(t, func(t *testing.T, startN func(testing.TB, int) []*testNode) {
		nodes := startN(t, 2)
		cs := newCoherentClients(t, 2, addrsOf(nodes), func(cfg *Config) { cfg.Tier.Replicas = 2 })
		writer, reader := cs[0], cs[1]
		ctx := context.Background()
		const key = "hot:coherent"
		for i := range 200 {
			want := fmt.Sprint("v", i)
			if err := writer.Set(ctx, key, []byte(want), 0); err != nil {
				t.Fatal(err)
			}
			// Each write drops reader's L1 copy; its next Get reads L2,
			// where the key becomes hot and is read from either copy.
			waitFor(t, generous, "the reader sees "+want, func() bool {
				v, err := reader.Get(ctx, key, nil)
				return err == nil && string(v) == want
			})
			if v := warmTracked(t, reader, key); v != want {
				t.Fatalf("reader's L1 holds %q, want %s", v, want)
			}
		}
		st := reader.Stats()
		if st.HotReplicaReads == 0 {
			t.Fatalf("no read went to the replica (hot keys %+v)", st.HotKeys)
		}
		if st.InvalidatedDropped < 150 {
			t.Errorf("%d L1 copies dropped by invalidations over 200 writes", st.InvalidatedDropped)
		}
		t.Logf("hot replica reads %d, invalidated %d", st.HotReplicaReads, st.InvalidatedDropped)
	})
}
