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

// keyOwnedBy returns a key (other than the test's) that c places on addr.
func keyOwnedBy(c *Client, addr string) string {
	for i := 0; ; i++ {
		if k := fmt.Sprint("probe:", i); c.Owner(k) == addr {
			return k
		}
	}
}

// refuseWrites makes the node at addr answer every write with an OOM error
// (maxmemory 1, noeviction), or, with on false, accept writes again.
func refuseWrites(t *testing.T, addr string, on bool) {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: addr, DisableIdentity: true, MaxRetries: -1})
	defer rdb.Close()
	ctx := context.Background()
	mem := "0"
	if on {
		mem = "1"
	}
	if err := rdb.ConfigSet(ctx, "maxmemory-policy", "noeviction").Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.ConfigSet(ctx, "maxmemory", mem).Err(); err != nil {
		t.Fatal(err)
	}
}

// valueOn returns key's value on the node at addr, without the envelope
// header ("" when absent).
func valueOn(t *testing.T, addr, key string) string {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: addr, DisableIdentity: true, MaxRetries: -1})
	defer rdb.Close()
	v, err := rdb.Get(context.Background(), key).Result()
	if err == redis.Nil {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return v[envHdrLen:]
}

// TestReplicaMissesWrite: a Set whose write to a replica fails (an OOM
// reply) succeeds for the caller, is counted, and voids the replica's older
// copy: the writer's health loop deletes it there, so that when the owner
// dies no process, the writer or another, reads the older value from the
// replica. With the health loop too slow to have run, the writer itself
// still deletes the copy before reading it.
func TestReplicaMissesWrite(t *testing.T) {
	eachNodeKind(t, func(t *testing.T, startN func(testing.TB, int) []*testNode) {
		for _, flush := range []bool{true, false} {
			t.Run(fmt.Sprintf("health-flush=%v", flush), func(t *testing.T) {
				nodes := startN(t, 2)
				interval := 50 * time.Millisecond
				if !flush {
					interval = time.Hour
				}
				cfg := Config{
					Tier:   TierConfig{Addrs: addrsOf(nodes), Timeout: countingTimeout, Replicas: 2, HotKeys: HotKeysConfig{Disabled: true}},
					Health: HealthConfig{FailureThreshold: 1, Interval: interval},
					L1:     L1Config{Bytes: -1},
					TTL:    time.Hour,
				}
				c, other := newClient(t, cfg), newClient(t, cfg)
				ctx := context.Background()
				const key = "rep:missed"
				if err := c.Set(ctx, key, []byte("v1"), 0); err != nil {
					t.Fatal(err)
				}
				owner := c.Owner(key)
				var rep, ownerNode *testNode
				for _, nd := range nodes {
					if nd.Addr == owner {
						ownerNode = nd
					} else {
						rep = nd
					}
				}
				if got := valueOn(t, rep.Addr, key); got != "v1" {
					t.Fatalf("replica holds %q, want v1", got)
				}
				refuseWrites(t, rep.Addr, true)
				if err := c.Set(ctx, key, []byte("v2"), 0); err != nil {
					t.Fatalf("Set with a replica refusing: %v (the owner's answer is the call's)", err)
				}
				refuseWrites(t, rep.Addr, false)
				if n := c.Stats().ReplicaWriteErrors; n != 1 {
					t.Errorf("ReplicaWriteErrors = %d, want 1", n)
				}
				if got := valueOn(t, owner, key); got != "v2" {
					t.Fatalf("owner holds %q, want v2", got)
				}
				if flush {
					waitFor(t, 10*time.Second, "the replica's older copy deleted by the health loop", func() bool {
						return valueOn(t, rep.Addr, key) == ""
					})
					if n := c.Stats().TombstonesFlushed; n != 1 {
						t.Errorf("TombstonesFlushed = %d, want 1", n)
					}
				} else if got := valueOn(t, rep.Addr, key); got != "v1" {
					t.Fatalf("replica holds %q before any flush, want the older v1", got)
				}

				ownerNode.Kill()
				readers := []*Client{c, other}
				if !flush {
					readers = []*Client{c} // another process has no way to know: within v1's T1 it may read it
				}
				probe := keyOwnedBy(c, owner)
				for _, cl := range readers {
					waitFor(t, 10*time.Second, "the owner marked down", func() bool {
						_, _ = cl.Get(ctx, probe, nil) // fails on the dead owner (FailureThreshold 1)
						return !nodeUp(cl, owner)
					})
					origin := &keyLoader{}
					v, err := cl.Get(ctx, key, origin)
					if err != nil || string(v) == "v1" {
						t.Fatalf("Get after the owner died: %q %v; the replica's older copy was served", v, err)
					}
				}
			})
		}
	})
}

// TestReplicaDownDuringWrite: a replica that is down (paused: it keeps its
// data) when a key is written misses the write; the key's next live owner
// gets the copy instead. When the replica comes back, the writer deletes
// its older copy, so that after the owner's death nobody reads it there.
func TestReplicaDownDuringWrite(t *testing.T) {
	nodes := startNodes(t, "redis", 3) // CLIENT PAUSE ALL: down but keeping its data
	cfg := Config{
		Tier:   TierConfig{Addrs: addrsOf(nodes), Timeout: 150 * time.Millisecond, Replicas: 2, HotKeys: HotKeysConfig{Disabled: true}},
		Health: HealthConfig{FailureThreshold: 1, Interval: 100 * time.Millisecond},
		L1:     L1Config{Bytes: -1},
		TTL:    time.Hour,
	}
	c, other := newClient(t, cfg), newClient(t, cfg)
	ctx := context.Background()
	const key = "rep:down"
	if err := c.Set(ctx, key, []byte("v1"), 0); err != nil {
		t.Fatal(err)
	}
	var buf [3]string
	seq := c.Ring().Owners(key, 3, buf[:0]) // owner, replica, then the node that stands in
	owner, rep, third := seq[0], seq[1], seq[2]
	if valueOn(t, rep, key) != "v1" || valueOn(t, third, key) != "" {
		t.Fatal("v1 not on exactly the owner and its replica")
	}
	admin := redis.NewClient(&redis.Options{Addr: rep, DisableIdentity: true})
	defer admin.Close()
	if err := admin.Do(ctx, "CLIENT", "PAUSE", "2000", "ALL").Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the replica marked down", func() bool { return !nodeUp(c, rep) })
	if err := c.Set(ctx, key, []byte("v2"), 0); err != nil {
		t.Fatalf("Set with the replica down: %v", err)
	}
	if got := valueOn(t, third, key); got != "v2" {
		t.Fatalf("the stand-in replica holds %q, want v2", got)
	}
	waitFor(t, 20*time.Second, "the replica back and its older copy deleted", func() bool {
		return nodeUp(c, rep) && c.Stats().TombstonesFlushed == 1
	})
	if got := valueOn(t, rep, key); got != "" {
		t.Fatalf("the replica still holds %q", got)
	}
	for _, nd := range nodes {
		if nd.Addr == owner {
			nd.Kill()
		}
	}
	for _, cl := range []*Client{c, other} {
		waitFor(t, 10*time.Second, "the owner marked down", func() bool {
			_, _ = cl.Get(ctx, "probe", nil)
			return !nodeUp(cl, owner) && nodeUp(cl, rep)
		})
		if v, err := cl.Get(ctx, key, &keyLoader{}); err != nil || string(v) == "v1" {
			t.Fatalf("Get after the owner died: %q %v; the older copy came back", v, err)
		}
	}
}

// TestReplicasMoreThanNodes: Replicas above the number of live nodes
// writes every live node without error and serves every key after a
// node's death without an origin load.
func TestReplicasMoreThanNodes(t *testing.T) {
	nodes := startNodes(t, "cachenode", 3)
	c := newClient(t, Config{
		Tier:   TierConfig{Addrs: addrsOf(nodes), Timeout: countingTimeout, Replicas: 5, HotKeys: HotKeysConfig{Disabled: true}},
		Health: HealthConfig{FailureThreshold: 1, Interval: 50 * time.Millisecond},
		L1:     L1Config{Bytes: -1},
		TTL:    time.Hour,
	})
	ctx := context.Background()
	nodes[0].Kill()
	waitFor(t, 10*time.Second, "node 0 marked down", func() bool {
		_, _ = c.Get(ctx, "probe", nil)
		return !nodeUp(c, nodes[0].Addr)
	})
	origin := &keyLoader{}
	keys := warmKeys(50)
	getAll(t, c, keys, origin)
	for _, k := range keys[:10] {
		if n := copies(t, nodes[1:], k); n != 2 {
			t.Fatalf("%s on %d of the 2 live nodes", k, n)
		}
	}
	nodes[1].Kill()
	waitFor(t, 10*time.Second, "node 1 marked down", func() bool {
		_, _ = c.Get(ctx, "probe", nil)
		return !nodeUp(c, nodes[1].Addr)
	})
	loads := origin.total.Load()
	getAll(t, c, keys, origin)
	if n := origin.total.Load() - loads; n != 0 {
		t.Errorf("%d origin loads with every key on the last live node", n)
	}
	if st := c.Stats(); st.ReplicaWriteErrors != 0 {
		t.Errorf("ReplicaWriteErrors = %d with the down nodes skipped", st.ReplicaWriteErrors)
	}
}
