package cacheclient

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachetier/cachetier/loader"
	"github.com/cachetier/cachetier/ring"
)

func TestTombstonesBounded(t *testing.T) {
	var ts tombstones
	for i := range maxTombstones + 10 {
		ts.add(fmt.Sprint(i), "a", 1000)
	}
	if n := ts.n.Load(); n != maxTombstones {
		t.Fatalf("%d tombstones, want %d", n, maxTombstones)
	}
	if ts.take("0", "a", 0) {
		t.Fatal("the oldest tombstone was not dropped")
	}
	if ts.take("20", "b", 0) {
		t.Fatal("tombstone taken for another owner")
	}
	if !ts.take("20", "a", 0) || ts.take("20", "a", 0) {
		t.Fatal("take: want one true, then false")
	}
	if ts.take("21", "a", 1000) {
		t.Fatal("expired tombstone taken")
	}
	if keys := ts.forNode("a", 1000); len(keys) != 0 || ts.n.Load() != 0 {
		t.Fatalf("expired tombstones kept: %d, %d", len(keys), ts.n.Load())
	}
}

// TestWritesWhileOwnerDown: a Delete or Set made while a key's owner is down
// does not bring the owner's old copy back when it returns, for this client
// nor for another process's client, which never heard of the write. With
// warm-up reads (the default), the value Set meanwhile comes back from the
// failover owner; without, it is loaded again.
func TestWritesWhileOwnerDown(t *testing.T) {
	for _, warm := range []bool{true, false} {
		t.Run(fmt.Sprintf("warmup=%v", warm), func(t *testing.T) { testWritesWhileOwnerDown(t, warm) })
	}
}

func testWritesWhileOwnerDown(t *testing.T, warm bool) {
	nodes := startNodes(t, "redis", 2) // CLIENT PAUSE: the owner stops answering but keeps its data
	addrs := addrsOf(nodes)
	ctx := context.Background()
	var version atomic.Value
	version.Store("v1")
	origin := loader.Func(func(ctx context.Context, key string) (loader.Result, error) {
		return loader.Result{Value: []byte(version.Load().(string) + ":" + key)}, nil
	})
	cfg := Config{
		Tier:   TierConfig{Addrs: addrs, Timeout: 150 * time.Millisecond, Warmup: WarmupConfig{Disabled: !warm}},
		L1:     L1Config{Bytes: -1},
		Health: HealthConfig{FailureThreshold: 1, Interval: 100 * time.Millisecond},
		TTL:    time.Hour,
	}
	c := newClient(t, cfg)
	other := newClient(t, cfg) // another process: L2 only, no tombstones

	r := ring.New(addrs...)
	var keys []string // owned by node 0
	for i := 0; len(keys) < 2; i++ {
		if k := fmt.Sprintf("k%d", i); func() bool { o, _ := r.Owner(k); return o == addrs[0] }() {
			keys = append(keys, k)
		}
	}
	kDel, kSet := keys[0], keys[1]
	for _, k := range keys {
		if v, err := c.Get(ctx, k, origin); err != nil || string(v) != "v1:"+k {
			t.Fatalf("Get %s: %q %v", k, v, err)
		}
	}

	admin := redis.NewClient(&redis.Options{Addr: addrs[0], DisableIdentity: true})
	defer admin.Close()
	if err := admin.Do(ctx, "CLIENT", "PAUSE", "2500", "ALL").Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "owner marked down", func() bool {
		_, _ = c.Get(ctx, "probe:"+kDel, nil)
		return !nodeUp(c, addrs[0])
	})
	if err := c.Delete(ctx, kDel); err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, kSet, []byte("new"), 0); err != nil {
		t.Fatal(err)
	}
	version.Store("v2")

	waitFor(t, 20*time.Second, "owner back and stale copies deleted", func() bool {
		return nodeUp(c, addrs[0]) && c.Stats().TombstonesFlushed == 2
	})
	if n, err := admin.Exists(ctx, kDel, kSet).Result(); err != nil || n != 0 {
		t.Fatalf("owner still holds %d of the keys written while it was down (%v)", n, err)
	}
	waitFor(t, 20*time.Second, "other client sees the owner up", func() bool { return nodeUp(other, addrs[0]) })
	for _, cl := range []*Client{other, c} {
		for _, k := range keys {
			want := "v2:" + k
			if warm && k == kSet {
				want = "new" // from the failover owner, where Set wrote it
			}
			if v, err := cl.Get(ctx, k, origin); err != nil || string(v) != want {
				t.Fatalf("Get %s after the owner returned: %q %v, want %q", k, v, err, want)
			}
		}
	}
}
