package cacheclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/cachetier/cachetier/loader"
)

// batchOrigin is a BatchLoader that counts its calls and its loads per key.
// Keys in fail fail; keys in missing are not found; the others are "v:"+key.
type batchOrigin struct {
	mu      sync.Mutex
	calls   int
	perKey  map[string]int
	fail    map[string]bool
	missing map[string]bool
	delay   time.Duration
}

func (o *batchOrigin) LoadMany(ctx context.Context, keys []string) ([]loader.KeyResult, error) {
	o.mu.Lock()
	o.calls++
	if o.perKey == nil {
		o.perKey = map[string]int{}
	}
	res := make([]loader.KeyResult, len(keys))
	for i, k := range keys {
		o.perKey[k]++
		switch {
		case o.fail[k]:
			res[i].Err = errOrigin
		case o.missing[k]:
			res[i].Err = loader.ErrNotFound
		default:
			res[i].Value = []byte("v:" + k)
		}
	}
	o.mu.Unlock()
	if o.delay > 0 {
		select {
		case <-time.After(o.delay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return res, nil
}

func (o *batchOrigin) stats() (calls int, perKey map[string]int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	m := map[string]int{}
	for k, n := range o.perKey {
		m[k] = n
	}
	return o.calls, m
}

func manyKeys(prefix string, n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("%s:%d", prefix, i)
	}
	return keys
}

func nodeRequests(c *Client) map[string]uint64 {
	m := map[string]uint64{}
	for _, n := range c.Stats().Nodes {
		m[n.Addr] = n.Requests
	}
	return m
}

// TestGetManyAcrossNodes: 30 keys over 3 nodes, 10 of them already in L2:
// those come from L2 in one pipelined request per node, the 20 others from
// the origin in one LoadMany, a repeated key gets the same answer, and the
// next call is all L1.
func TestGetManyAcrossNodes(t *testing.T) {
	eachNodeKind(t, func(t *testing.T, startN func(testing.TB, int) []*testNode) {
		nodes := startN(t, 3)
		cfg := Config{Tier: TierConfig{Addrs: addrsOf(nodes)}, TTL: time.Hour}
		writer := newClient(t, cfg)
		ctx := context.Background()
		keys := manyKeys("many", 30)
		for _, k := range keys[:10] {
			if err := writer.Set(ctx, k, []byte("set:"+k), 0); err != nil {
				t.Fatal(err)
			}
		}
		// L2 only: each node gets one request for all its keys.
		l2only := newClient(t, Config{Tier: cfg.Tier, TTL: time.Hour, L1: L1Config{Bytes: -1}})
		before := nodeRequests(l2only)
		for i, it := range l2only.GetMany(ctx, keys[:10], nil) {
			if it.Err != nil || string(it.Value) != "set:"+keys[i] || it.Info.Source != SourceL2 {
				t.Errorf("%s: %q %+v %v", keys[i], it.Value, it.Info, it.Err)
			}
		}
		for addr, n := range nodeRequests(l2only) {
			if d := n - before[addr]; d > 1 {
				t.Errorf("node %s: %d requests for one GetMany, want at most 1", addr, d)
			}
		}

		c := newClient(t, cfg)
		o := &batchOrigin{}
		req := append(append([]string{}, keys...), keys[3], keys[20]) // two repeats
		items := c.GetMany(ctx, req, o)
		if len(items) != len(req) {
			t.Fatalf("%d items for %d keys", len(items), len(req))
		}
		for i, it := range items {
			k := req[i]
			want, src := "v:"+k, SourceOrigin
			if i < 10 || k == keys[3] {
				want, src = "set:"+k, SourceL2
			}
			if it.Err != nil || string(it.Value) != want || it.Info.Source != src {
				t.Errorf("%s: %q %+v %v; want %q from %v", k, it.Value, it.Info, it.Err, want, src)
			}
		}
		// Normally one LoadMany; a flight that falls batchWindow behind the
		// others (a loaded machine) goes in a later one.
		calls, perKey := o.stats()
		if calls < 1 || calls > 3 {
			t.Errorf("%d LoadMany calls for 20 keys, want 1 (at most 3)", calls)
		}
		for _, k := range keys[10:] {
			if perKey[k] != 1 {
				t.Errorf("origin loads of %s = %d, want 1", k, perKey[k])
			}
		}
		if s := c.Stats(); s.OriginBatches != uint64(calls) || s.OriginLoads != 20 {
			t.Errorf("stats: %d batches, %d loads; want %d, 20", s.OriginBatches, s.OriginLoads, calls)
		}
		// Cached now: from L1, or from L2 where the copy this client wrote
		// is no longer fresh in L1 (coherence: untrackedL1TTL).
		for i, it := range c.GetMany(ctx, keys, o) {
			if it.Err != nil || (it.Info.Source != SourceL1 && it.Info.Source != SourceL2) {
				t.Errorf("second call %s: %+v %v, want a cache hit", keys[i], it.Info, it.Err)
			}
		}
		if calls2, _ := o.stats(); calls2 != calls {
			t.Errorf("%d LoadMany calls after an all-cached call, want %d", calls2, calls)
		}
	})
}

// TestGetManyNodeDown: with one of 3 nodes killed, only its keys go to the
// origin (from their failover owners' view); the others are L2 hits.
func TestGetManyNodeDown(t *testing.T) {
	eachNodeKind(t, func(t *testing.T, startN func(testing.TB, int) []*testNode) {
		nodes := startN(t, 3)
		cfg := Config{Tier: TierConfig{Addrs: addrsOf(nodes)}, TTL: time.Hour, L1: L1Config{Bytes: -1},
			Health: HealthConfig{FailureThreshold: 1, Interval: time.Hour}}
		c := newClient(t, cfg)
		ctx := context.Background()
		keys := manyKeys("down", 30)
		for _, k := range keys {
			if err := c.Set(ctx, k, []byte("set:"+k), 0); err != nil {
				t.Fatal(err)
			}
		}
		onDead := map[string]bool{}
		for _, k := range keys {
			if nd, _ := c.tier.route(k); nd.addr == nodes[1].Addr {
				onDead[k] = true
			}
		}
		if len(onDead) == 0 || len(onDead) == len(keys) {
			t.Fatalf("%d of %d keys on the node to kill", len(onDead), len(keys))
		}
		nodes[1].Kill()
		o := &batchOrigin{}
		for i, it := range c.GetMany(ctx, keys, o) {
			k := keys[i]
			want, src := "set:"+k, SourceL2
			if onDead[k] {
				want, src = "v:"+k, SourceOrigin
			}
			if it.Err != nil || string(it.Value) != want || it.Info.Source != src {
				t.Errorf("%s: %q %+v %v; want %q from %v", k, it.Value, it.Info, it.Err, want, src)
			}
		}
		_, perKey := o.stats()
		for _, k := range keys {
			want := 0
			if onDead[k] {
				want = 1
			}
			if perKey[k] != want {
				t.Errorf("origin loads of %s = %d, want %d", k, perKey[k], want)
			}
		}
		if nodeUp(c, nodes[1].Addr) {
			t.Error("killed node still up after a failed pipeline")
		}
	})
}

// TestGetManyPartialFailure: the origin fails for some keys: those with a
// stale copy get it, the others a *LoadError; keys the origin does not have
// are loader.ErrNotFound, and the negative entries answer the next call.
func TestGetManyPartialFailure(t *testing.T) {
	eachNodeKind(t, func(t *testing.T, startN func(testing.TB, int) []*testNode) {
		nodes := startN(t, 2)
		c := newClient(t, Config{Tier: TierConfig{Addrs: addrsOf(nodes)}, TTL: 50 * time.Millisecond,
			StaleTTL: time.Hour, NegativeTTL: time.Hour, Origin: OriginConfig{ErrorBackoff: -1}})
		ctx := context.Background()
		o := &batchOrigin{missing: map[string]bool{"gone:1": true, "gone:2": true}}
		warm := []string{"warm:1", "warm:2", "warm:3"}
		for i, it := range c.GetMany(ctx, append(append([]string{}, warm...), "gone:1"), o) {
			if i < 3 && it.Err != nil {
				t.Fatalf("warm-up: %v", it.Err)
			}
		}
		time.Sleep(100 * time.Millisecond) // the warm keys go stale
		o.mu.Lock()
		o.fail = map[string]bool{"warm:1": true, "warm:2": true, "cold:1": true}
		o.mu.Unlock()
		keys := []string{"warm:1", "warm:2", "warm:3", "cold:1", "cold:2", "gone:1", "gone:2"}
		items := c.GetMany(ctx, keys, o)
		check := func(k string, it Item) {
			switch k {
			case "warm:1", "warm:2":
				if it.Err != nil || string(it.Value) != "v:"+k || !it.Info.Stale {
					t.Errorf("%s: %q %+v %v; want the stale copy", k, it.Value, it.Info, it.Err)
				}
			case "warm:3", "cold:2":
				if it.Err != nil || string(it.Value) != "v:"+k || it.Info.Stale || it.Info.Source != SourceOrigin {
					t.Errorf("%s: %q %+v %v; want a fresh load", k, it.Value, it.Info, it.Err)
				}
			case "cold:1":
				var le *LoadError
				if !errors.As(it.Err, &le) || !errors.Is(it.Err, errOrigin) || it.Value != nil {
					t.Errorf("%s: %q %v; want a *LoadError wrapping the origin's", k, it.Value, it.Err)
				}
			case "gone:1", "gone:2":
				if !errors.Is(it.Err, loader.ErrNotFound) || !it.Info.Negative {
					t.Errorf("%s: %+v %v; want loader.ErrNotFound", k, it.Info, it.Err)
				}
			}
		}
		for i, it := range items {
			check(keys[i], it)
		}
		_, perKey := o.stats()
		if perKey["gone:1"] != 1 || perKey["gone:2"] != 1 {
			t.Errorf("not-found keys loaded %d and %d times, want 1 and 1 (gone:1 cached as negative)", perKey["gone:1"], perKey["gone:2"])
		}
		// The negative entries answer without the origin.
		for _, it := range c.GetMany(ctx, []string{"gone:1", "gone:2"}, o) {
			if !errors.Is(it.Err, loader.ErrNotFound) {
				t.Errorf("cached negative: %v", it.Err)
			}
		}
		if _, perKey := o.stats(); perKey["gone:1"] != 1 || perKey["gone:2"] != 1 {
			t.Errorf("negative entries not used: %v", perKey)
		}
	})
}

// TestGetManyCoalescesWithGet: GetMany calls and single Gets for the same
// cold keys at the same moment cost one origin load per key.
func TestGetManyCoalescesWithGet(t *testing.T) {
	eachNodeKind(t, func(t *testing.T, startN func(testing.TB, int) []*testNode) {
		nodes := startN(t, 3)
		c := newClient(t, Config{Tier: TierConfig{Addrs: addrsOf(nodes)}, TTL: time.Hour})
		ctx := context.Background()
		keys := manyKeys("herd", 20)
		bo := &batchOrigin{delay: 50 * time.Millisecond}
		single := &countingLoader{delay: 50 * time.Millisecond}
		var wg sync.WaitGroup
		start := make(chan struct{})
		var mu sync.Mutex
		var errs []string
		for g := range 4 {
			wg.Go(func() {
				<-start
				for i, it := range c.GetMany(ctx, keys[g*2:], bo) {
					k := keys[g*2+i]
					if it.Err != nil || (string(it.Value) != "v:"+k) {
						mu.Lock()
						errs = append(errs, fmt.Sprintf("GetMany %s: %q %v", k, it.Value, it.Err))
						mu.Unlock()
					}
				}
			})
		}
		for _, k := range keys {
			wg.Go(func() {
				<-start
				if v, err := c.Get(ctx, k, single); err != nil || string(v) != "v:"+k {
					mu.Lock()
					errs = append(errs, fmt.Sprintf("Get %s: %q %v", k, v, err))
					mu.Unlock()
				}
			})
		}
		close(start)
		wg.Wait()
		for _, e := range errs {
			t.Error(e)
		}
		_, perKey := bo.stats()
		total := 0
		for _, n := range perKey {
			total += n
		}
		if got := total + int(single.calls.Load()); got != len(keys) {
			t.Errorf("%d origin loads (%d batched, %d single) for %d keys, want one per key", got, total, single.calls.Load(), len(keys))
		}
		for k, n := range perKey {
			if n != 1 {
				t.Errorf("batch loads of %s = %d", k, n)
			}
		}
	})
}

// TestGetManyClosed: every key of a call on a closed client is ErrClosed.
func TestGetManyClosed(t *testing.T) {
	c := newClient(t, Config{})
	_ = c.Close()
	for _, it := range c.GetMany(context.Background(), []string{"a", "b"}, nil) {
		if !errors.Is(it.Err, ErrClosed) {
			t.Errorf("err %v, want ErrClosed", it.Err)
		}
	}
}

// TestTypedGetMany: typed values through GetMany, a not-found key among
// them, and a cached value that does not decode.
func TestTypedGetMany(t *testing.T) {
	nodes := startNodes(t, "cachenode", 2)
	c := newClient(t, Config{Tier: TierConfig{Addrs: addrsOf(nodes)}, TTL: time.Hour})
	type user struct{ Name string }
	tc := NewTyped[user](c, nil)
	ctx := context.Background()
	if err := c.Set(ctx, "u:bad", []byte("not json"), 0); err != nil {
		t.Fatal(err)
	}
	var calls int
	load := func(ctx context.Context, keys []string) ([]TypedResult[user], error) {
		calls++
		res := make([]TypedResult[user], len(keys))
		for i, k := range keys {
			if k == "u:none" {
				res[i].Err = loader.ErrNotFound
				continue
			}
			res[i].Value = user{Name: "name-" + k}
		}
		return res, nil
	}
	keys := []string{"u:1", "u:none", "u:2", "u:bad"}
	for round := range 2 {
		items := tc.GetMany(ctx, keys, load)
		if items[0].Err != nil || items[0].Value.Name != "name-u:1" || items[2].Value.Name != "name-u:2" {
			t.Errorf("round %d: %+v %+v", round, items[0], items[2])
		}
		if !errors.Is(items[1].Err, loader.ErrNotFound) {
			t.Errorf("round %d: u:none err %v", round, items[1].Err)
		}
		if items[3].Err == nil {
			t.Errorf("round %d: u:bad decoded without error", round)
		}
	}
	if calls != 1 {
		t.Errorf("%d loader calls over two rounds, want 1", calls)
	}
}

// TestSetManyDeleteMany: SetMany writes both levels with one request per
// node; another client reads the values from L2; DeleteMany removes them
// from both levels, again with one request per node.
func TestSetManyDeleteMany(t *testing.T) {
	eachNodeKind(t, func(t *testing.T, startN func(testing.TB, int) []*testNode) {
		nodes := startN(t, 3)
		cfg := Config{Tier: TierConfig{Addrs: addrsOf(nodes)}, TTL: time.Hour}
		w := newClient(t, cfg)
		r := newClient(t, Config{Tier: cfg.Tier, TTL: time.Hour, L1: L1Config{Bytes: -1}})
		ctx := context.Background()
		keys := manyKeys("sm", 30)
		entries := make([]Entry, len(keys))
		for i, k := range keys {
			entries[i] = Entry{Key: k, Value: []byte("val:" + k)}
		}
		before := nodeRequests(w)
		if err := w.SetMany(ctx, entries, 0); err != nil {
			t.Fatal(err)
		}
		for addr, n := range nodeRequests(w) {
			if d := n - before[addr]; d != 1 {
				t.Errorf("SetMany: node %s got %d requests, want 1", addr, d)
			}
		}
		for i, it := range r.GetMany(ctx, keys, nil) {
			if it.Err != nil || string(it.Value) != "val:"+keys[i] || it.Info.Source != SourceL2 {
				t.Errorf("%s after SetMany: %q %+v %v", keys[i], it.Value, it.Info, it.Err)
			}
		}
		if v, info, err := w.GetInfo(ctx, keys[0], nil); err != nil || string(v) != "val:"+keys[0] || info.Source != SourceL1 {
			t.Errorf("writer's own read: %q %+v %v, want an L1 hit", v, info, err)
		}
		if err := w.SetMany(ctx, entries[:1], -time.Second); err == nil {
			t.Error("SetMany with a negative ttl: no error")
		}

		before = nodeRequests(w)
		if err := w.DeleteMany(ctx, keys); err != nil {
			t.Fatal(err)
		}
		for addr, n := range nodeRequests(w) {
			if d := n - before[addr]; d != 1 {
				t.Errorf("DeleteMany: node %s got %d requests, want 1", addr, d)
			}
		}
		for i, it := range r.GetMany(ctx, keys, nil) {
			if !errors.Is(it.Err, loader.ErrNotFound) {
				t.Errorf("%s after DeleteMany (other client): %q %v", keys[i], it.Value, it.Err)
			}
		}
		for i, it := range w.GetMany(ctx, keys, nil) {
			if !errors.Is(it.Err, loader.ErrNotFound) {
				t.Errorf("%s after DeleteMany (writer, L1): %q %+v %v", keys[i], it.Value, it.Info, it.Err)
			}
		}
	})
}

// TestGetManyLeasesAcrossClients: four clients (processes) GetMany the same
// cold keys at once; with leases, the tier loads each key once.
func TestGetManyLeasesAcrossClients(t *testing.T) {
	eachNodeKind(t, func(t *testing.T, startN func(testing.TB, int) []*testNode) {
		nodes := startN(t, 3)
		cs := newClients(t, 4, Config{Tier: TierConfig{Addrs: addrsOf(nodes), Timeout: countingTimeout}, TTL: time.Hour})
		keys := manyKeys("tier", 20)
		o := &batchOrigin{delay: 50 * time.Millisecond}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for _, c := range cs {
			wg.Go(func() {
				<-start
				for i, it := range c.GetMany(context.Background(), keys, o) {
					if it.Err != nil || string(it.Value) != "v:"+keys[i] {
						t.Errorf("%s: %q %+v %v", keys[i], it.Value, it.Info, it.Err)
					}
				}
			})
		}
		close(start)
		wg.Wait()
		_, perKey := o.stats()
		for _, k := range keys {
			if perKey[k] != 1 {
				t.Errorf("origin loads of %s = %d, want 1 for the tier", k, perKey[k])
			}
		}
		if s := sumStats(cs); s.LeaseWaits == 0 {
			t.Errorf("no client waited for another's lease: %+v", s)
		}
	})
}

// TestGetManyHTTPBatch: GetMany over an HTTP multi-get origin (loader.HTTPBatch):
// the cold keys in one POST, a null member cached as not found.
func TestGetManyHTTPBatch(t *testing.T) {
	var mu sync.Mutex
	var posts [][]string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Keys []string `json:"keys"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		posts = append(posts, req.Keys)
		mu.Unlock()
		out := map[string]any{}
		for _, k := range req.Keys {
			if k == "item:none" {
				out[k] = nil
			} else {
				out[k] = map[string]string{"id": k}
			}
		}
		_ = json.NewEncoder(w).Encode(out)
	}))
	defer srv.Close()
	nodes := startNodes(t, "cachenode", 2)
	c := newClient(t, Config{Tier: TierConfig{Addrs: addrsOf(nodes)}, TTL: time.Hour, NegativeTTL: time.Hour})
	o := &loader.HTTPBatch{URL: srv.URL}
	keys := []string{"item:1", "item:none", "item:2"}
	for round := range 2 {
		items := c.GetMany(context.Background(), keys, o)
		if string(items[0].Value) != `{"id":"item:1"}` || string(items[2].Value) != `{"id":"item:2"}` {
			t.Errorf("round %d: values %q, %q", round, items[0].Value, items[2].Value)
		}
		if !errors.Is(items[1].Err, loader.ErrNotFound) {
			t.Errorf("round %d: item:none err %v", round, items[1].Err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(posts) != 1 || len(posts[0]) != 3 {
		t.Errorf("origin requests %v, want one POST of the 3 keys", posts)
	}
}
