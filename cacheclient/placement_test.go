package cacheclient

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cachetier/cachetier/cachenode"
	"github.com/cachetier/cachetier/internal/dnstest"
	"github.com/cachetier/cachetier/internal/redistest"
)

// placementKeys is how many keys the placement tests compare owners of.
const placementKeys = 4000

// slotNode is a cachenode server run in-process with --slot.
type slotNode struct {
	Addr string
	slot int
	t    testing.TB

	mu   sync.Mutex
	srv  *cachenode.Server
	done chan struct{}
}

// startSlotNode starts a cachenode on a free loopback port that reports
// slot (none when slot < 0); it is stopped when the test ends.
func startSlotNode(t testing.TB, slot int) *slotNode {
	t.Helper()
	nd := &slotNode{t: t, slot: slot}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nd.Addr = ln.Addr().String()
	nd.serve(ln)
	t.Cleanup(nd.Kill)
	return nd
}

func (nd *slotNode) serve(ln net.Listener) {
	nd.t.Helper()
	srv, err := cachenode.New(cachenode.Config{Addr: nd.Addr, Slot: max(nd.slot, 0), HasSlot: nd.slot >= 0, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		ln.Close()
		nd.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = srv.Serve(ln); close(done) }()
	nd.mu.Lock()
	nd.srv, nd.done = srv, done
	nd.mu.Unlock()
}

// Kill stops the node (every connection closed at once).
func (nd *slotNode) Kill() {
	nd.mu.Lock()
	srv, done := nd.srv, nd.done
	nd.srv = nil
	nd.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
		<-done
	}
}

// Restart starts the node again on its address.
func (nd *slotNode) Restart() {
	nd.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ln, err := net.Listen("tcp", nd.Addr)
		if err == nil {
			nd.serve(ln)
			return
		}
		if time.Now().After(deadline) {
			nd.t.Fatalf("restart %s: %v", nd.Addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// chanDisc is a Discoverer whose memberships a test sends.
type chanDisc chan Membership

func (d chanDisc) Watch(ctx context.Context, update func(Membership)) error {
	for {
		select {
		case m := <-d:
			update(m)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// placementClient is newClient for placement tests: no health probes (they
// would mark nodes in or out on their own schedule) unless the test sets
// them, logs into buf when buf is not nil.
func placementClient(t *testing.T, cfg Config, buf *syncBuffer) *Client {
	t.Helper()
	if cfg.Health.Interval == 0 {
		cfg.Health.Interval = time.Hour
	}
	if buf != nil {
		cfg.Logger = slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return newClient(t, cfg)
}

// syncBuffer is a bytes.Buffer safe for the client's concurrent logging.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// ownersOf returns the owner of placementKeys keys under c.
func ownersOf(c *Client) []string {
	out := make([]string, placementKeys)
	for i := range out {
		out[i] = c.Owner("key:" + strconv.Itoa(i))
	}
	return out
}

// sameOwnersAll fails unless every client places every key on the same
// node, and that node is one of live.
func sameOwnersAll(t *testing.T, what string, live []string, cs ...*Client) {
	t.Helper()
	want := ownersOf(cs[0])
	for i, a := range want {
		if !slices.Contains(live, a) {
			t.Fatalf("%s: key %d owned by %q, not a live node (%v)", what, i, a, live)
		}
	}
	for j, c := range cs[1:] {
		got := ownersOf(c)
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("%s: key %d: client 0 (ring %s) picks %s, client %d (ring %s) picks %s",
					what, i, cs[0].Ring(), want[i], j+1, c.Ring(), got[i])
			}
		}
	}
}

// waitRing waits until c's ring has exactly the live nodes want.
func waitRing(t *testing.T, c *Client, want ...string) {
	t.Helper()
	want = slices.Sorted(slices.Values(want))
	waitFor(t, 10*time.Second, fmt.Sprintf("live nodes %v", want), func() bool {
		r := c.Ring()
		var live []string
		for _, a := range r.Nodes() {
			if !r.IsDown(a) {
				live = append(live, a)
			}
		}
		slices.Sort(live)
		return slices.Equal(live, want)
	})
}

func shuffled(rng *rand.Rand, s []string) []string {
	s = slices.Clone(s)
	rng.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
	return s
}

// TestPlacementStaticSlotsShuffled: stock redis-server nodes named with
// "addr=slot" in Static, listed in different orders by different clients,
// place every key alike, and no node is unslotted. Without the slots the
// same lists disagree, and the client says so (logged, counted, metric).
func TestPlacementStaticSlotsShuffled(t *testing.T) {
	nodes := startNodes(t, "redis", 4)
	addrs := addrsOf(nodes)
	rng := rand.New(rand.NewPCG(3, 4))
	var cs []*Client
	for range 4 {
		var entries []string
		for _, i := range rng.Perm(len(addrs)) {
			entries = append(entries, fmt.Sprintf("%s=%d", addrs[i], i))
		}
		c := placementClient(t, Config{Discovery: Static(entries...), L1: L1Config{Bytes: -1}}, nil)
		if s := c.Stats(); s.UnslottedNodes != 0 || s.SlotConflicts != 0 {
			t.Fatalf("Static %v: unslotted %d, conflicts %d", entries, s.UnslottedNodes, s.SlotConflicts)
		}
		cs = append(cs, c)
	}
	sameOwnersAll(t, "Static addr=slot, shuffled", addrs, cs...)
	for i, a := range addrs {
		if got := cs[0].Ring().SlotOf(a); got != i {
			t.Fatalf("%s at slot %d, want %d", a, got, i)
		}
	}
	// TierConfig.Addrs takes the same form.
	var entries []string
	for i, a := range addrs {
		entries = append(entries, fmt.Sprintf("%s=%d", a, i))
	}
	slices.Reverse(entries)
	c := placementClient(t, Config{Tier: TierConfig{Addrs: entries}, L1: L1Config{Bytes: -1}}, nil)
	sameOwnersAll(t, "Tier.Addrs addr=slot", addrs, cs[0], c)

	// No slot anywhere: order decides, and the client warns.
	var logs syncBuffer
	plain := placementClient(t, Config{Discovery: Static(addrs...), L1: L1Config{Bytes: -1}}, &logs)
	reversed := slices.Clone(addrs)
	slices.Reverse(reversed)
	rev := placementClient(t, Config{Discovery: Static(reversed...), L1: L1Config{Bytes: -1}}, nil)
	if s := plain.Stats(); s.UnslottedNodes != uint64(len(addrs)) {
		t.Fatalf("UnslottedNodes = %d, want %d", s.UnslottedNodes, len(addrs))
	}
	if got := strings.Count(logs.String(), "placement may disagree") + strings.Count(logs.String(), "may place keys differently"); got != len(addrs) {
		t.Fatalf("warnings logged %d times, want once per node (%d):\n%s", got, len(addrs), logs.String())
	}
	if got := metricValue(t, plain, "cachetier_client_unslotted_nodes_total"); got != float64(len(addrs)) {
		t.Fatalf("cachetier_client_unslotted_nodes_total = %v, want %d", got, len(addrs))
	}
	differ := 0
	a, b := ownersOf(plain), ownersOf(rev)
	for i := range a {
		if a[i] != b[i] {
			differ++
		}
	}
	if differ == 0 {
		t.Fatal("reversed unslotted lists place every key alike; the fallback is order-dependent and the test cannot tell")
	}
	// A membership change does not log again for known nodes.
	before := plain.Stats().UnslottedNodes
	plain.tier.setMembership(Membership{Addrs: addrs[:3]})
	if s := plain.Stats(); s.UnslottedNodes != before {
		t.Fatalf("UnslottedNodes %d -> %d after a membership change with no new node", before, s.UnslottedNodes)
	}
}

func metricValue(t *testing.T, c *Client, name string) float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c.Collector()); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			var v float64
			for _, m := range mf.GetMetric() {
				v += m.GetCounter().GetValue()
			}
			return v
		}
	}
	t.Fatalf("metric %s not exported", name)
	return 0
}

// startSlotNodes starts cachenodes reporting slots 0..n-1.
func startSlotNodes(t *testing.T, n int) ([]*slotNode, []string) {
	var nodes []*slotNode
	var addrs []string
	for i := range n {
		nd := startSlotNode(t, i)
		nodes = append(nodes, nd)
		addrs = append(addrs, nd.Addr)
	}
	return nodes, addrs
}

// TestPlacementNodeReportedSlots: clients over cachenodes started with
// --slot, given plain addresses, agree on every owner whatever order and
// history of joins and leaves they saw; scale-out moves about 1/(n+1) of
// the keys, all to the new node; a node that leaves and comes back takes
// back exactly its keys.
func TestPlacementNodeReportedSlots(t *testing.T) {
	_, addrs := startSlotNodes(t, 6)
	rng := rand.New(rand.NewPCG(5, 6))
	const n = 5 // the first five are the tier; the sixth is the scale-out
	tierAddrs := addrs[:n]

	// One client per shuffled order, and two that reach the same set
	// through different histories.
	var cs []*Client
	for range 3 {
		cs = append(cs, placementClient(t, Config{Discovery: Static(shuffled(rng, tierAddrs)...), L1: L1Config{Bytes: -1}}, nil))
	}
	histA, histB := make(chanDisc, 1), make(chanDisc, 1)
	histA <- Membership{Addrs: []string{addrs[4], addrs[5]}}
	histB <- Membership{Addrs: []string{addrs[2]}}
	a := placementClient(t, Config{Discovery: histA, L1: L1Config{Bytes: -1}}, nil)
	b := placementClient(t, Config{Discovery: histB, L1: L1Config{Bytes: -1}}, nil)
	for _, step := range [][]string{{addrs[5], addrs[0], addrs[4]}, {addrs[3], addrs[0], addrs[1]}, shuffled(rng, tierAddrs)} {
		histA <- Membership{Addrs: step}
		waitRing(t, a, step...)
	}
	for _, step := range [][]string{{addrs[2], addrs[1], addrs[3], addrs[4], addrs[0], addrs[5]}, {addrs[4], addrs[3]}, shuffled(rng, tierAddrs)} {
		histB <- Membership{Addrs: step}
		waitRing(t, b, step...)
	}
	cs = append(cs, a, b)
	sameOwnersAll(t, "node-reported slots", tierAddrs, cs...)
	for _, c := range cs {
		if s := c.Stats(); s.UnslottedNodes != 0 || s.SlotConflicts != 0 {
			t.Fatalf("unslotted %d, conflicts %d", s.UnslottedNodes, s.SlotConflicts)
		}
	}
	if got, want := a.Ring().String(), strings.Join(tierAddrs, ","); got != want {
		t.Fatalf("ring %s, want %s", got, want)
	}

	// Scale-out n -> n+1.
	before := ownersOf(a)
	histA <- Membership{Addrs: addrs}
	waitRing(t, a, addrs...)
	after := ownersOf(a)
	moved := 0
	for i := range before {
		if before[i] != after[i] {
			moved++
			if after[i] != addrs[n] {
				t.Fatalf("scale-out: key %d moved %s -> %s, not to the new node", i, before[i], after[i])
			}
		}
	}
	frac, want := float64(moved)/placementKeys, 1.0/(n+1)
	if tol := 5 * math.Sqrt(want*(1-want)/placementKeys); math.Abs(frac-want) > tol {
		t.Fatalf("scale-out %d -> %d moved %.3f of the keys, want %.3f ± %.3f", n, n+1, frac, want, tol)
	}
	t.Logf("scale-out %d -> %d moved %.4f of %d keys (1/(n+1) = %.4f)", n, n+1, frac, placementKeys, want)

	// A node in the middle leaves and comes back.
	leaving := addrs[2]
	histA <- Membership{Addrs: slices.DeleteFunc(slices.Clone(addrs), func(x string) bool { return x == leaving })}
	waitRing(t, a, slices.DeleteFunc(slices.Clone(addrs), func(x string) bool { return x == leaving })...)
	gone := ownersOf(a)
	for i := range after {
		if (after[i] != gone[i]) != (after[i] == leaving) {
			t.Fatalf("%s left: key %d moved %s -> %s", leaving, i, after[i], gone[i])
		}
	}
	histA <- Membership{Addrs: shuffled(rng, addrs)}
	waitRing(t, a, addrs...)
	if back := ownersOf(a); !slices.Equal(back, after) {
		t.Fatalf("%s came back: placement differs from before it left", leaving)
	}
}

// TestPlacementDownOrAbsent: a client that has a node marked down (it was
// killed) and one that never saw it place every key alike, the node being
// the last slot; when the node comes back with its slot it takes back
// exactly its keys.
func TestPlacementDownOrAbsent(t *testing.T) {
	nodes, addrs := startSlotNodes(t, 4)
	health := HealthConfig{Interval: 50 * time.Millisecond, FailureThreshold: 1}
	full := placementClient(t, Config{Discovery: Static(addrs...), L1: L1Config{Bytes: -1}, Health: health}, nil)
	before := ownersOf(full)
	for _, k := range []int{3, 1} {
		nodes[k].Kill()
		waitFor(t, 10*time.Second, "node marked down", func() bool { return !nodeUp(full, addrs[k]) })
		rest := slices.Delete(slices.Clone(addrs), k, k+1)
		absent := placementClient(t, Config{Discovery: Static(shuffled(rand.New(rand.NewPCG(uint64(k), 1)), rest)...), L1: L1Config{Bytes: -1}}, nil)
		sameOwnersAll(t, fmt.Sprintf("slot %d down vs absent", k), rest, full, absent)
		down := ownersOf(full)
		for i := range before {
			if (before[i] != down[i]) != (before[i] == addrs[k]) {
				t.Fatalf("slot %d down: key %d moved %s -> %s", k, i, before[i], down[i])
			}
		}
		nodes[k].Restart()
		waitFor(t, 10*time.Second, "node marked up", func() bool { return nodeUp(full, addrs[k]) })
		if back := ownersOf(full); !slices.Equal(back, before) {
			t.Fatalf("slot %d back: placement differs from before", k)
		}
	}
}

// TestPlacementSilentNodePlacedLater: a cachenode that does not answer when
// the client starts is left out of the ring (the others have slots) and
// placed at its slot once it answers.
func TestPlacementSilentNodePlacedLater(t *testing.T) {
	nodes, addrs := startSlotNodes(t, 3)
	nodes[1].Kill()
	c := placementClient(t, Config{Discovery: Static(addrs...), L1: L1Config{Bytes: -1}, Health: HealthConfig{Interval: 50 * time.Millisecond}}, nil)
	if c.Ring().Has(addrs[1]) {
		t.Fatalf("silent node in the ring %s", c.Ring())
	}
	ref := placementClient(t, Config{Discovery: Static(addrs[0], addrs[2]), L1: L1Config{Bytes: -1}}, nil)
	sameOwnersAll(t, "silent node left out", []string{addrs[0], addrs[2]}, c, ref)
	nodes[1].Restart()
	waitFor(t, 10*time.Second, "silent node placed", func() bool { return c.Ring().SlotOf(addrs[1]) == 1 && !c.Ring().IsDown(addrs[1]) })
	if s := c.Stats(); s.UnslottedNodes != 0 {
		t.Fatalf("UnslottedNodes = %d", s.UnslottedNodes)
	}
}

// TestPlacementConflicts: two nodes claiming one slot, and a node whose
// reported slot differs from the one Static names, are logged once and
// counted; the node's own slot wins over the source's.
func TestPlacementConflicts(t *testing.T) {
	a, b, c := startSlotNode(t, 0), startSlotNode(t, 1), startSlotNode(t, 1)
	var logs syncBuffer
	cl := placementClient(t, Config{Discovery: Static(a.Addr+"=5", b.Addr, c.Addr), L1: L1Config{Bytes: -1}}, &logs)
	s := cl.Stats()
	if s.SlotConflicts != 2 {
		t.Fatalf("SlotConflicts = %d, want 2 (a's slot, b and c on slot 1):\n%s", s.SlotConflicts, logs.String())
	}
	if got := metricValue(t, cl, "cachetier_client_slot_conflicts_total"); got != 2 {
		t.Fatalf("cachetier_client_slot_conflicts_total = %v", got)
	}
	r := cl.Ring()
	low, high := min(b.Addr, c.Addr), max(b.Addr, c.Addr)
	if r.SlotOf(a.Addr) != 0 || r.SlotOf(low) != 1 || r.SlotOf(high) != 2 {
		t.Fatalf("ring %s: want a at 0 (its own slot), %s at 1, %s at 2", r, low, high)
	}
	// Installing the same membership again logs and counts nothing new.
	cl.tier.setMembership(Membership{Addrs: []string{a.Addr, b.Addr, c.Addr}, Slots: map[string]int{a.Addr: 5}})
	if got := cl.Stats().SlotConflicts; got != 2 {
		t.Fatalf("SlotConflicts = %d after the same membership again", got)
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != 2 {
		t.Fatalf("%d warnings, want 2:\n%s", n, logs.String())
	}
}

// TestPlacementDNSAgree: clients discovering cachenodes (--slot) through
// DNS A records, one from the start and one that saw the answers grow and
// shrink in another order, agree on every owner.
func TestPlacementDNSAgree(t *testing.T) {
	lns := listenSamePort(t, 4)
	port := lns[0].Addr().(*net.TCPAddr).Port
	var ips []string
	for i, ln := range lns {
		srv, err := cachenode.New(cachenode.Config{Addr: ln.Addr().String(), Slot: 3 - i, HasSlot: true, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { _ = srv.Serve(ln); close(done) }()
		t.Cleanup(func() { srv.Close(); <-done })
		ips = append(ips, ln.Addr().(*net.TCPAddr).IP.String())
	}
	hostPorts := func(ips ...string) []string {
		var a []string
		for _, ip := range ips {
			a = append(a, net.JoinHostPort(ip, strconv.Itoa(port)))
		}
		return a
	}
	srvA, srvB := dnstest.Start(t), dnstest.Start(t)
	const name = "cachenode.default.svc.cluster.local."
	srvA.SetA(name, ips[3], ips[0])
	srvB.SetA(name, ips[2])
	dnsCfg := func(s *dnstest.Server) Config {
		return Config{Discovery: &DNS{Name: name, Port: port, Network: "ip4", Interval: 20 * time.Millisecond, Timeout: 2 * time.Second, Resolver: s.Resolver()},
			L1: L1Config{Bytes: -1}}
	}
	a := placementClient(t, dnsCfg(srvA), nil)
	b := placementClient(t, dnsCfg(srvB), nil)
	srvA.SetA(name, ips[3], ips[0], ips[1])
	waitRing(t, a, hostPorts(ips[3], ips[0], ips[1])...)
	srvB.SetA(name, ips[2], ips[1], ips[0], ips[3])
	waitRing(t, b, hostPorts(ips...)...)
	srvB.SetA(name, ips[1], ips[0])
	waitRing(t, b, hostPorts(ips[1], ips[0])...)
	srvA.SetA(name, ips[0], ips[1], ips[2])
	srvB.SetA(name, ips[2], ips[1], ips[0])
	waitRing(t, a, hostPorts(ips[:3]...)...)
	waitRing(t, b, hostPorts(ips[:3]...)...)
	late := placementClient(t, dnsCfg(srvB), nil)
	sameOwnersAll(t, "DNS", hostPorts(ips[:3]...), a, b, late)
	// Slot 0 (ips[3]) is a hole: the ring is built from the nodes' slots.
	if r := a.Ring(); r.SlotOf(hostPorts(ips[0])[0]) != 3 || r.Slots()[0] != "" {
		t.Fatalf("ring %s: want a hole at slot 0 and %s at slot 3", r, ips[0])
	}
}

// TestPlacementSRVOrdinals: over SRV, stock redis-server nodes (no slot of
// their own) are placed at their target's StatefulSet ordinal, so clients
// that saw the targets in different orders and histories agree. The
// targets do not resolve here: placement needs no connection.
func TestPlacementSRVOrdinals(t *testing.T) {
	srvA, srvB := dnstest.Start(t), dnstest.Start(t)
	const name = "_redis._tcp.cache.ns.svc.invalid."
	target := func(i int) dnstest.SRV {
		return dnstest.SRV{Target: fmt.Sprintf("cache-%d.cache.ns.svc.invalid.", i), Port: 6379}
	}
	addr := func(is ...int) []string {
		var a []string
		for _, i := range is {
			a = append(a, fmt.Sprintf("cache-%d.cache.ns.svc.invalid:6379", i))
		}
		return a
	}
	srvA.SetSRV(name, target(2), target(0))
	srvB.SetSRV(name, target(3))
	cfg := func(s *dnstest.Server) Config {
		return Config{Discovery: &DNS{Name: name, SRV: true, Interval: 20 * time.Millisecond, Timeout: 2 * time.Second, Resolver: s.Resolver()},
			L1: L1Config{Bytes: -1}, Tier: TierConfig{Timeout: 50 * time.Millisecond, DialTimeout: 50 * time.Millisecond}}
	}
	a := placementClient(t, cfg(srvA), nil)
	b := placementClient(t, cfg(srvB), nil)
	srvA.SetSRV(name, target(2), target(0), target(1), target(3))
	waitRing(t, a, addr(0, 1, 2, 3)...)
	srvB.SetSRV(name, target(1), target(3), target(0), target(2))
	waitRing(t, b, addr(0, 1, 2, 3)...)
	srvA.SetSRV(name, target(0), target(2), target(3))
	srvB.SetSRV(name, target(3), target(2), target(0))
	waitRing(t, a, addr(0, 2, 3)...)
	waitRing(t, b, addr(0, 2, 3)...)
	sameOwnersAll(t, "SRV ordinals", addr(0, 2, 3), a, b)
	if r := a.Ring(); r.String() != strings.Join([]string{addr(0)[0], "-", addr(2)[0], addr(3)[0]}, ",") {
		t.Fatalf("ring %s, want slot i at cache-i", r)
	}
	if s := a.Stats(); s.UnslottedNodes != 0 {
		t.Fatalf("UnslottedNodes = %d", s.UnslottedNodes)
	}
}

// TestPlacementSlotFile: two clients reading slot files that write one
// table differently (positional with "-", or "addr=slot") agree.
func TestPlacementSlotFile(t *testing.T) {
	_, addrs := startSlotNodes(t, 3)
	dir := t.TempDir()
	p1, p2 := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	if err := os.WriteFile(p1, []byte(addrs[0]+", -, "+addrs[2]+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p2, []byte("# slots\n"+addrs[2]+"=2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a := placementClient(t, Config{Discovery: &SlotFile{Path: p1}, L1: L1Config{Bytes: -1}}, nil)
	b := placementClient(t, Config{Discovery: &SlotFile{Path: p2}, L1: L1Config{Bytes: -1}}, nil)
	// b's file lacks slot 0: its table is "-,-,c". Make it say the same.
	if err := os.WriteFile(p2, []byte(addrs[0]+"=0\n"+addrs[2]+"=2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitRing(t, b, addrs[0], addrs[2])
	sameOwnersAll(t, "slot files", []string{addrs[0], addrs[2]}, a, b)
	if s := a.Stats(); s.UnslottedNodes != 0 || s.SlotConflicts != 0 {
		t.Fatalf("unslotted %d conflicts %d", s.UnslottedNodes, s.SlotConflicts)
	}
	// A table that puts a node elsewhere than its --slot: counted, the
	// table wins.
	if err := os.WriteFile(p1, []byte(addrs[1]+", "+addrs[0]+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitRing(t, a, addrs[1], addrs[0])
	if r := a.Ring(); r.SlotOf(addrs[1]) != 0 {
		t.Fatalf("ring %s: the slot table is not used as written", r)
	}
	if s := a.Stats(); s.SlotConflicts != 2 {
		t.Fatalf("SlotConflicts = %d, want 2", s.SlotConflicts)
	}
}

func TestStaticSlots(t *testing.T) {
	for _, bad := range []string{"a:1=x", "a:1=-1", "a:1=65536", "a:1=01", "=3", "a:1=2=3"} {
		err := Static("b:1", bad).Watch(context.Background(), func(Membership) { t.Fatal("update") })
		if err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("Static(%q): Watch = %v, want an error naming it", bad, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var got Membership
	_ = Static("a:1=2", "b:1", "a:1=5", "", "c:1=0").Watch(ctx, func(m Membership) { got = m; cancel() })
	if !slices.Equal(got.Addrs, []string{"a:1", "b:1", "c:1"}) || len(got.Slots) != 2 || got.Slots["a:1"] != 2 || got.Slots["c:1"] != 0 {
		t.Fatalf("membership %+v", got)
	}
}

func TestDiscHostSlots(t *testing.T) {
	got := discHostSlots([]string{"cache-3.cache.ns.svc:7000", "10.0.0.3:7000", "[::1]:7000", "cache:7000", "cache-03.x:1", "web-12:80"})
	want := map[string]int{"cache-3.cache.ns.svc:7000": 3, "web-12:80": 12}
	if len(got) != len(want) || got["cache-3.cache.ns.svc:7000"] != 3 || got["web-12:80"] != 12 {
		t.Fatalf("discHostSlots = %v, want %v", got, want)
	}
	if discHostSlots([]string{"10.0.0.1:1"}) != nil {
		t.Fatal("IP addresses name a slot")
	}
}

// TestOwner: Owner names the live owner, which moves to the failover owner
// (Ring().Owners' second) while the owner is down; "" with no live node.
func TestOwner(t *testing.T) {
	if c := placementClient(t, Config{L1: L1Config{Bytes: -1}}, nil); c.Owner("k") != "" {
		t.Fatal("Owner without nodes")
	}
	nodes, addrs := startSlotNodes(t, 3)
	c := placementClient(t, Config{Discovery: Static(addrs...), L1: L1Config{Bytes: -1}, Health: HealthConfig{Interval: 50 * time.Millisecond, FailureThreshold: 1}}, nil)
	owners := c.Ring().Owners("user:1", 2, nil)
	if len(owners) != 2 || c.Owner("user:1") != owners[0] {
		t.Fatalf("Owner %q, Owners %v", c.Owner("user:1"), owners)
	}
	// The owner serves the key: a write through the client lands there.
	ctx := context.Background()
	if err := c.Set(ctx, "user:1", []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	for i, nd := range nodes {
		n, err := redisDBSize(nd.Addr)
		if err != nil {
			t.Fatal(err)
		}
		if (n == 1) != (addrs[i] == owners[0]) {
			t.Fatalf("node %s holds %d keys; owner is %s", addrs[i], n, owners[0])
		}
	}
	for i, a := range addrs {
		if a == owners[0] {
			nodes[i].Kill()
		}
	}
	waitFor(t, 10*time.Second, "owner marked down", func() bool { return !nodeUp(c, owners[0]) })
	if got := c.Owner("user:1"); got != owners[1] {
		t.Fatalf("Owner with %s down = %s, want the failover owner %s", owners[0], got, owners[1])
	}
}

// redisDBSize returns DBSIZE of the node at addr.
func redisDBSize(addr string) (int, error) {
	if err := redistest.WaitPing(addr, 5*time.Second); err != nil {
		return 0, err
	}
	cn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return 0, err
	}
	defer cn.Close()
	_ = cn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := cn.Write([]byte("DBSIZE\r\n")); err != nil {
		return 0, err
	}
	buf := make([]byte, 64)
	n, err := cn.Read(buf)
	if err != nil {
		return 0, err
	}
	line := strings.TrimSpace(string(buf[:n]))
	return strconv.Atoi(strings.TrimPrefix(line, ":"))
}
