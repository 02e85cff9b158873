package cacheclient

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cachetier/cachetier/ring"
)

// TestDiscoveryWiring feeds node sets through a Discoverer while traffic runs:
// the client swaps rings and node clients, and callers see no error.
func TestDiscoveryWiring(t *testing.T) {
	eachNodeKind(t, func(t *testing.T, startN func(testing.TB, int) []*testNode) {
		nodes := startN(t, 3)
		addrs := addrsOf(nodes)
		updates := make(chan Membership)
		disc := DiscovererFunc(func(ctx context.Context, update func(Membership)) error {
			update(Membership{Addrs: addrs[:2]})
			for {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case m := <-updates:
					update(m)
				}
			}
		})
		origin := &countingLoader{}
		c := newClient(t, Config{Tier: TierConfig{Addrs: []string{"ignored:1"}}, Discovery: disc, L1: L1Config{Bytes: -1}, Origin: OriginConfig{MaxConcurrent: -1}})
		if up, _ := c.Nodes(); !slices.Equal(up, addrs[:2]) {
			t.Fatalf("first node set: %v, want %v", up, addrs[:2])
		}

		stop := make(chan struct{})
		var wg sync.WaitGroup
		errs := make(chan error, 10)
		var requests atomic.Int64
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 100000; i++ {
					select {
					case <-stop:
						return
					default:
					}
					key := fmt.Sprintf("d:%d", (i*4+w)%100)
					v, err := c.Get(context.Background(), key, origin)
					requests.Add(1)
					if err != nil || string(v) != "v:"+key {
						select {
						case errs <- fmt.Errorf("%s: %q %v", key, v, err):
						default:
						}
					}
				}
			}()
		}
		for _, set := range [][]string{addrs, addrs[:1], addrs[1:], addrs} {
			updates <- Membership{Addrs: set}
			waitFor(t, 5*time.Second, "node set applied", func() bool {
				up, _ := c.Nodes()
				slices.Sort(up)
				want := slices.Clone(set)
				slices.Sort(want)
				return slices.Equal(up, want)
			})
			before := requests.Load()
			waitFor(t, 10*time.Second, "traffic on this node set", func() bool { return requests.Load() >= before+300 })
		}
		close(stop)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if s := c.Stats(); s.L2Hits == 0 {
			t.Fatalf("no L2 hits through discovered nodes: %+v", s)
		}
	})
}

func TestDiscoveryError(t *testing.T) {
	bad := DiscovererFunc(func(ctx context.Context, update func(Membership)) error {
		return errors.New("no such name")
	})
	if c, err := New(Config{Discovery: bad}); err == nil {
		c.Close()
		t.Fatal("New accepted a failing Discoverer")
	} else if !strings.Contains(err.Error(), "no such name") {
		t.Fatalf("err = %v", err)
	}
}

func TestCollector(t *testing.T) {
	eachNodeKind(t, func(t *testing.T, startN func(testing.TB, int) []*testNode) {
		nodes := startN(t, 1)
		c := newClient(t, Config{Tier: TierConfig{Addrs: addrsOf(nodes)}})
		origin := &countingLoader{}
		ctx := context.Background()
		_, _ = c.Get(ctx, "a", origin)
		_, _ = c.Get(ctx, "a", origin)
		reg := prometheus.NewPedanticRegistry()
		if err := reg.Register(c.Collector()); err != nil {
			t.Fatal(err)
		}
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]float64{}
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				switch {
				case m.GetCounter() != nil:
					got[mf.GetName()] += m.GetCounter().GetValue()
				case m.GetGauge() != nil:
					got[mf.GetName()] += m.GetGauge().GetValue()
				case m.GetHistogram() != nil:
					got[mf.GetName()] += float64(m.GetHistogram().GetSampleCount())
				}
			}
		}
		for name, want := range map[string]float64{
			"cachetier_client_l1_hits_total":          1,
			"cachetier_client_origin_loads_total":     1,
			"cachetier_client_node_up":                1,
			"cachetier_client_origin_load_seconds":    1,
			"cachetier_client_l2_requests_total":      3, // GET miss + SET NX GET (lease) + CAS write-back
			"cachetier_client_l2_request_seconds":     3,
			"cachetier_client_leases_won_total":       1,
			"cachetier_client_lease_waits_total":      0,
			"cachetier_client_lease_takeovers_total":  0,
			"cachetier_client_lease_voided_total":     0,
			"cachetier_client_lease_fallbacks_total":  0,
			"cachetier_client_lease_wait_seconds":     0,
			"cachetier_client_shed_total":             0,
			"cachetier_client_stale_served_total":     0,
			"cachetier_client_negative_hits_total":    0,
			"cachetier_client_coalesced_total":        0,
			"cachetier_client_node_marked_down_total": 0,
		} {
			if v, ok := got[name]; !ok || v != want {
				t.Errorf("%s = %v (present %v), want %v", name, v, ok, want)
			}
		}
		if got["cachetier_client_l1_entries"] < 1 || got["cachetier_client_l1_bytes"] <= 0 {
			t.Errorf("L1 gauges: %v %v", got["cachetier_client_l1_entries"], got["cachetier_client_l1_bytes"])
		}
	})
}

// TestOperatorDownStaysDown: a node marked down in the discovered slot table
// gets no traffic and is not marked up by the health checks, though it
// answers PING.
func TestOperatorDownStaysDown(t *testing.T) {
	nodes := startNodes(t, "cachenode", 2)
	addrs := addrsOf(nodes)
	r := ring.New(addrs...).WithDown(addrs[0])
	disc := DiscovererFunc(func(ctx context.Context, update func(Membership)) error {
		update(Membership{Addrs: r.Nodes(), Ring: r})
		<-ctx.Done()
		return ctx.Err()
	})
	c := newClient(t, Config{
		Discovery: disc,
		L1:        L1Config{Bytes: -1},
		Health:    HealthConfig{Interval: 10 * time.Millisecond, FailureThreshold: 1},
	})
	origin := &countingLoader{}
	// Let the node fail its PINGs and come back: the health checks mark it
	// down and up again, which must not undo the operator's mark.
	nodes[0].Kill()
	waitFor(t, 10*time.Second, "failed PINGs noticed", func() bool {
		for _, n := range c.Stats().Nodes {
			if n.Addr == addrs[0] && n.MarkedDown > 0 {
				return true
			}
		}
		return false
	})
	nodes[0].Restart()
	probesDone := time.Now().Add(300 * time.Millisecond) // well past the backoff of a few probes
	for i := 0; time.Now().Before(probesDone) || i < 50; i++ {
		if _, err := c.Get(context.Background(), fmt.Sprintf("op:%d", i), origin); err != nil {
			t.Fatal(err)
		}
	}
	up, down := c.Nodes()
	if !slices.Equal(up, addrs[1:]) || !slices.Equal(down, addrs[:1]) {
		t.Fatalf("Nodes() = %v, %v; want up %v, down %v", up, down, addrs[1:], addrs[:1])
	}
	for _, n := range c.Stats().Nodes {
		if n.Addr == addrs[0] && n.Requests != 0 {
			t.Fatalf("operator-down node got %d requests", n.Requests)
		}
	}
}
