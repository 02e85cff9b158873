package cacheclient

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// copies counts the nodes that hold key.
func copies(t *testing.T, nodes []*testNode, key string) int {
	t.Helper()
	n := 0
	for _, nd := range nodes {
		rdb := redis.NewClient(&redis.Options{Addr: nd.Addr, DisableIdentity: true, MaxRetries: -1})
		c, err := rdb.Exists(context.Background(), key).Result()
		rdb.Close()
		if err == nil {
			n += int(c)
		}
	}
	return n
}

// TestReplicasNodeLoss: with Replicas 2, the keys of a node killed under
// load are found warm on their new owner: no origin load. With Replicas 1
// each of them is loaded again.
func TestReplicasNodeLoss(t *testing.T) {
	eachNodeKind(t, func(t *testing.T, startN func(testing.TB, int) []*testNode) {
		for _, r := range []int{1, 2} {
			t.Run(fmt.Sprintf("replicas=%d", r), func(t *testing.T) {
				nodes := startN(t, 3)
				c := newClient(t, Config{
					Tier:   TierConfig{Addrs: addrsOf(nodes), Timeout: countingTimeout, Replicas: r},
					Health: HealthConfig{FailureThreshold: 1, Interval: 50 * time.Millisecond},
					L1:     L1Config{Bytes: -1},
					TTL:    time.Hour,
				})
				ctx := context.Background()
				origin := &keyLoader{}
				keys := warmKeys(200)
				getAll(t, c, keys, origin)
				for _, k := range keys[:20] {
					if n := copies(t, nodes, k); n != r {
						t.Fatalf("%s is on %d nodes, want %d", k, n, r)
					}
				}
				victim := nodes[0]
				var lost []string
				for _, k := range keys {
					if c.Owner(k) == victim.Addr {
						lost = append(lost, k)
					}
				}
				victim.Kill()
				waitFor(t, 10*time.Second, "the dead node marked down", func() bool { return !nodeUp(c, victim.Addr) })
				loads := origin.total.Load()
				for _, k := range lost {
					if v, err := c.Get(ctx, k, origin); err != nil || string(v) != "v0:"+k {
						t.Fatalf("Get %s after the kill: %q, %v", k, v, err)
					}
				}
				n := origin.total.Load() - loads
				want := int64(len(lost))
				if r == 2 {
					want = 0
				}
				if len(lost) == 0 || n != want {
					t.Errorf("origin loads for the %d keys of the dead node = %d, want %d", len(lost), n, want)
				}
			})
		}
	})
}

// TestReplicasWrites: Set, Delete, SetMany and DeleteMany reach every
// replica; Replicas larger than the tier writes every live node, without
// error.
func TestReplicasWrites(t *testing.T) {
	nodes := startNodes(t, "cachenode", 3)
	ctx := context.Background()
	for _, r := range []int{2, 5} {
		t.Run(fmt.Sprintf("replicas=%d", r), func(t *testing.T) {
			c := newClient(t, Config{Tier: TierConfig{Addrs: addrsOf(nodes), Replicas: r}, L1: L1Config{Bytes: -1}})
			want := min(r, len(nodes))
			key := fmt.Sprintf("rep:%d", r)
			if err := c.Set(ctx, key, []byte("v"), 0); err != nil {
				t.Fatal(err)
			}
			if n := copies(t, nodes, key); n != want {
				t.Errorf("after Set: %d copies, want %d", n, want)
			}
			if err := c.Delete(ctx, key); err != nil {
				t.Fatal(err)
			}
			if n := copies(t, nodes, key); n != 0 {
				t.Errorf("after Delete: %d copies, want 0", n)
			}
			entries := []Entry{{Key: key + ":a", Value: []byte("a")}, {Key: key + ":b", Value: []byte("b")}}
			if err := c.SetMany(ctx, entries, 0); err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				if n := copies(t, nodes, e.Key); n != want {
					t.Errorf("after SetMany: %s has %d copies, want %d", e.Key, n, want)
				}
			}
			if err := c.DeleteMany(ctx, []string{entries[0].Key, entries[1].Key}); err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				if n := copies(t, nodes, e.Key); n != 0 {
					t.Errorf("after DeleteMany: %s has %d copies, want 0", e.Key, n)
				}
			}
			// A loaded value under a lease reaches the replicas too.
			if _, err := c.Get(ctx, key+":loaded", &keyLoader{}); err != nil {
				t.Fatal(err)
			}
			if n := copies(t, nodes, key+":loaded"); n != want {
				t.Errorf("after a load: %d copies, want %d", n, want)
			}
		})
	}
	if _, err := New(Config{Tier: TierConfig{Replicas: maxReplicas + 1}}); err == nil {
		t.Error("Replicas above the maximum accepted")
	}
}
