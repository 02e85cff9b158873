package cacheclient

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachetier/cachetier/loader"
)

// warmClients returns n clients (separate processes) on the memberships of
// their own chanDisc, with L1 off, long TTLs and no health probes.
func warmClients(t *testing.T, n int, first Membership, mod func(*Config)) ([]*Client, []chanDisc) {
	t.Helper()
	cs := make([]*Client, n)
	ds := make([]chanDisc, n)
	for i := range cs {
		ds[i] = make(chanDisc, 1)
		ds[i] <- first
		cfg := Config{Discovery: ds[i], L1: L1Config{Bytes: -1}, TTL: time.Hour,
			Tier: TierConfig{Timeout: countingTimeout}}
		if mod != nil {
			mod(&cfg)
		}
		cs[i] = placementClient(t, cfg, nil)
		waitFor(t, 5*time.Second, "first membership", func() bool {
			up, _ := cs[i].Nodes()
			return len(up) == len(first.Addrs)
		})
	}
	return cs, ds
}

// setMembers sends m to every client and waits until each has it.
func setMembers(t *testing.T, cs []*Client, ds []chanDisc, m Membership) {
	t.Helper()
	for i, c := range cs {
		ds[i] <- m
		waitFor(t, 5*time.Second, "the new membership", func() bool {
			up, down := c.Nodes()
			return len(up)+len(down) == len(m.Addrs)
		})
	}
}

// loadThenMove loads n keys through cs[0], then sends every client the
// membership to, and returns the keys, their owners before the change and
// the keys that moved.
func loadThenMove(t *testing.T, cs []*Client, ds []chanDisc, origin *keyLoader, n int, to Membership) (keys []string, before map[string]string, moved []string) {
	t.Helper()
	keys = warmKeys(n)
	getAll(t, cs[0], keys, origin)
	before = owners(cs[0], keys)
	setMembers(t, cs, ds, to)
	return keys, before, movedKeys(keys, before, cs[0])
}

// getAll reads every key through c.
func getAll(t *testing.T, c *Client, keys []string, l loader.Loader) {
	t.Helper()
	for _, k := range keys {
		if _, err := c.Get(context.Background(), k, l); err != nil {
			t.Fatal(err)
		}
	}
}

func warmKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("warm:%d", i)
	}
	return keys
}

// movedKeys returns the keys whose owner differs between two snapshots of
// c's placement (Owner before and after).
func movedKeys(keys []string, before map[string]string, c *Client) []string {
	var moved []string
	for _, k := range keys {
		if c.Owner(k) != before[k] {
			moved = append(moved, k)
		}
	}
	return moved
}

func owners(c *Client, keys []string) map[string]string {
	m := make(map[string]string, len(keys))
	for _, k := range keys {
		m[k] = c.Owner(k)
	}
	return m
}

// TestWarmupScaleOut: after a node joins, the keys that moved to it are read
// from their previous owners and copied, not loaded: the origin sees nothing,
// for one process and for a herd of processes (leases on), and each moved
// key is on its new owner afterwards.
func TestWarmupScaleOut(t *testing.T) {
	eachNodeKind(t, func(t *testing.T, startN func(testing.TB, int) []*testNode) {
		nodes := startN(t, 3)
		addrs := addrsOf(nodes)
		cs, ds := warmClients(t, 4, Membership{Addrs: addrs[:2]}, nil)
		ctx := context.Background()
		origin := &keyLoader{}
		keys, _, moved := loadThenMove(t, cs, ds, origin, 300, Membership{Addrs: addrs})
		if len(moved) < 30 {
			t.Fatalf("%d of %d keys moved, want about a third", len(moved), len(keys))
		}
		loads := origin.total.Load()
		// Every process misses every moved key at once.
		for _, err := range herd(cs, 2, moved, origin, wantValue(0)) {
			t.Error(err)
		}
		if n := origin.total.Load() - loads; n != 0 {
			t.Errorf("origin loads for %d moved keys = %d, want 0", len(moved), n)
		}
		var hits uint64
		for _, c := range cs {
			hits += c.Stats().WarmupHits
		}
		if hits != uint64(len(moved)) {
			t.Errorf("warm-up hits = %d, want one per moved key (%d)", hits, len(moved))
		}
		rdb := redis.NewClient(&redis.Options{Addr: addrs[2], DisableIdentity: true})
		defer rdb.Close()
		if n, err := rdb.Exists(ctx, moved...).Result(); err != nil || n != int64(len(moved)) {
			t.Errorf("new owner holds %d of the %d moved keys (%v)", n, len(moved), err)
		}
	})
}

// TestWarmupWritesDuringWindow: a Delete or Set of a moved key during the
// window deletes the previous owner's copy too, so that no later miss brings
// the older value back.
func TestWarmupWritesDuringWindow(t *testing.T) {
	nodes := startNodes(t, "cachenode", 3)
	addrs := addrsOf(nodes)
	cs, ds := warmClients(t, 1, Membership{Addrs: addrs[:2]}, nil)
	c := cs[0]
	ctx := context.Background()
	origin := &keyLoader{}
	_, before, moved := loadThenMove(t, cs, ds, origin, 100, Membership{Addrs: addrs})
	if len(moved) < 2 {
		t.Fatalf("only %d keys moved", len(moved))
	}
	kDel, kSet := moved[0], moved[1]
	if err := c.Delete(ctx, kDel); err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, kSet, []byte("newer"), 0); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{kDel, kSet} {
		rdb := redis.NewClient(&redis.Options{Addr: before[k], DisableIdentity: true})
		n, err := rdb.Exists(ctx, k).Result()
		rdb.Close()
		if err != nil || n != 0 {
			t.Errorf("previous owner %s still holds %s after the write (%d, %v)", before[k], k, n, err)
		}
	}
	// The new owner loses kSet (evicted, say): the next miss must not
	// find the pre-Set value on the previous owner.
	rdb := redis.NewClient(&redis.Options{Addr: c.Owner(kSet), DisableIdentity: true})
	defer rdb.Close()
	if err := rdb.Del(ctx, kSet).Err(); err != nil {
		t.Fatal(err)
	}
	origin.ver.Store(2)
	for _, k := range []string{kDel, kSet} {
		if v, err := c.Get(ctx, k, origin); err != nil || string(v) != "v2:"+k {
			t.Errorf("Get %s: %q, %v; want v2:%s from the origin", k, v, err, k)
		}
	}
}

// TestWarmupOff: no warm-up read when it is disabled, when the window is
// over, or when the previous owner left (scale-in): the moved keys are
// loaded.
func TestWarmupOff(t *testing.T) {
	nodes := startNodes(t, "cachenode", 3)
	addrs := addrsOf(nodes)
	for _, tc := range []struct {
		name   string
		mod    func(*Config)
		from   []string
		to     []string
		sleep  time.Duration
		loaded bool
	}{
		{"disabled", func(c *Config) { c.Tier.Warmup.Disabled = true }, addrs[:2], addrs, 0, true},
		{"window over", func(c *Config) { c.Tier.Warmup.Window = 100 * time.Millisecond }, addrs[:2], addrs, 200 * time.Millisecond, true},
		{"previous owner left", nil, addrs, addrs[:2], 0, true},
		{"control", nil, addrs[:2], addrs, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, nd := range nodes {
				rdb := redis.NewClient(&redis.Options{Addr: nd.Addr, DisableIdentity: true})
				_ = rdb.FlushAll(context.Background()).Err()
				rdb.Close()
			}
			cs, ds := warmClients(t, 1, Membership{Addrs: tc.from}, tc.mod)
			c := cs[0]
			ctx := context.Background()
			origin := &keyLoader{}
			keys, before, _ := loadThenMove(t, cs, ds, origin, 100, Membership{Addrs: tc.to})
			time.Sleep(tc.sleep)
			moved := movedKeys(keys, before, c)
			loads := origin.total.Load()
			for _, k := range moved {
				if _, err := c.Get(ctx, k, origin); err != nil {
					t.Fatal(err)
				}
			}
			want := int64(0)
			if tc.loaded {
				want = int64(len(moved))
			}
			if n := origin.total.Load() - loads; len(moved) == 0 || n != want {
				t.Errorf("origin loads for %d moved keys = %d, want %d", len(moved), n, want)
			}
		})
	}
}
