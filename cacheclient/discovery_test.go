package cacheclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"go.uber.org/goleak"

	"github.com/cachetier/cachetier/internal/dnstest"
	"github.com/cachetier/cachetier/ring"
)

// discWatch runs a Discoverer's Watch on its own goroutine and collects what
// it reports.
type discWatch struct {
	updates chan Membership
	errs    chan error
	done    chan error
	cancel  context.CancelFunc
}

// newDiscWatch returns a discWatch whose onError can be wired into a Discoverer
// before start.
func newDiscWatch() *discWatch {
	return &discWatch{
		updates: make(chan Membership, 100),
		errs:    make(chan error, 1000),
		done:    make(chan error, 1),
	}
}

func startDiscWatch(t *testing.T, d Discoverer) *discWatch {
	t.Helper()
	return newDiscWatch().start(t, d)
}

// start runs d.Watch until the test ends (or stop).
func (w *discWatch) start(t *testing.T, d Discoverer) *discWatch {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	go func() {
		w.done <- d.Watch(ctx, func(m Membership) { w.updates <- m })
	}()
	t.Cleanup(func() { w.stop(t) })
	return w
}

// onError is an OnError hook feeding w.errs (never blocks).
func (w *discWatch) onError(err error) {
	select {
	case w.errs <- err:
	default:
	}
}

func (w *discWatch) next(t *testing.T) Membership {
	t.Helper()
	select {
	case m := <-w.updates:
		return m
	case err := <-w.done:
		t.Fatalf("Watch returned early: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("no membership update within 10s")
	}
	return Membership{}
}

func (w *discWatch) nextErr(t *testing.T) error {
	t.Helper()
	select {
	case err := <-w.errs:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("no OnError call within 10s")
	}
	return nil
}

// noUpdate fails if an update is pending.
func (w *discWatch) noUpdate(t *testing.T) {
	t.Helper()
	select {
	case m := <-w.updates:
		t.Fatalf("unexpected update %v", m.Addrs)
	default:
	}
}

func (w *discWatch) stop(t *testing.T) error {
	t.Helper()
	w.cancel()
	select {
	case err := <-w.done:
		w.done <- err // keep it for a second stop
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Watch did not return after cancel")
	}
	return nil
}

// discCheckLeaks fails the test if goroutines it started outlive it. Call it
// first: cleanups run last-registered first, so the check runs after the
// test's servers and watchers have been stopped. Goroutines that existed
// before the test (other tests' in the package) are ignored.
func discCheckLeaks(t *testing.T) {
	t.Helper()
	opt := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, opt) })
}

func discWaitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestDiscJoinOrder(t *testing.T) {
	for _, tc := range []struct {
		prev, cur, want []string
	}{
		{nil, []string{"c", "a", "b"}, []string{"a", "b", "c"}},
		{[]string{"c", "a"}, []string{"a", "b", "c"}, []string{"c", "a", "b"}},
		{[]string{"a", "b", "c"}, []string{"c", "a"}, []string{"a", "c"}},
		{[]string{"b", "c"}, []string{"z", "c", "a", "b"}, []string{"b", "c", "a", "z"}},
		{[]string{"a"}, []string{"b"}, []string{"b"}},
		{[]string{"a", "b"}, []string{"b", "a", "b"}, []string{"a", "b"}},
	} {
		if got := discJoinOrder(tc.prev, tc.cur); !slices.Equal(got, tc.want) {
			t.Errorf("discJoinOrder(%v, %v) = %v, want %v", tc.prev, tc.cur, got, tc.want)
		}
	}
}

func TestStaticDiscoverer(t *testing.T) {
	discCheckLeaks(t)
	w := startDiscWatch(t, Static("b:1", "a:1", "", "b:1", "c:1"))
	m := w.next(t)
	if want := []string{"b:1", "a:1", "c:1"}; !slices.Equal(m.Addrs, want) || m.Ring != nil {
		t.Fatalf("Static reported %v (ring %v), want %v", m.Addrs, m.Ring, want)
	}
	if err := w.stop(t); !errors.Is(err, context.Canceled) {
		t.Fatalf("Watch returned %v, want context.Canceled", err)
	}
	w.noUpdate(t)

	empty := startDiscWatch(t, Static())
	if m := empty.next(t); len(m.Addrs) != 0 {
		t.Fatalf("Static() reported %v", m.Addrs)
	}
	empty.stop(t)

	var f DiscovererFunc = func(ctx context.Context, update func(Membership)) error {
		update(Membership{Addrs: []string{"x:1"}})
		return errors.New("done")
	}
	if err := f.Watch(context.Background(), func(m Membership) {}); err == nil {
		t.Fatal("DiscovererFunc lost its error")
	}
}

func TestMembershipBuildMovesOnlyChangedNodes(t *testing.T) {
	if r := (Membership{Addrs: []string{"a:1", "b:1"}}).Build(nil); !r.Equal(ring.New("a:1", "b:1")) {
		t.Fatalf("Build(nil) = %s", r)
	}
	given := ring.New("x:1", "y:1")
	if r := (Membership{Addrs: []string{"x:1", "y:1"}, Ring: given}).Build(ring.New("q:1")); r != given {
		t.Fatal("Build ignored the membership's ring")
	}

	prev := ring.New("a:1", "b:1", "c:1", "d:1").WithDown("d:1")
	// b vanishes, e appears: e takes b's slot, nobody else moves.
	next := Membership{Addrs: []string{"a:1", "c:1", "d:1", "e:1"}}.Build(prev)
	if !next.IsDown("d:1") {
		t.Fatal("down mark of a surviving node lost")
	}
	if next.Has("b:1") || !next.Has("e:1") {
		t.Fatalf("next ring %s", next)
	}
	moved := 0
	const keys = 20000
	for i := range keys {
		k := fmt.Sprintf("key:%d", i)
		was, _ := prev.Owner(k)
		now, _ := next.Owner(k)
		switch {
		case was == "b:1":
			if now != "e:1" {
				t.Fatalf("%s: b's key went to %s, want e (its replacement)", k, now)
			}
			moved++
		case was != now:
			t.Fatalf("%s moved %s → %s although its node stayed", k, was, now)
		}
	}
	if moved == 0 {
		t.Fatal("no key of b moved: test is not exercising anything")
	}

	// Rebuilding from scratch in list order would have moved more keys.
	scratch := ring.New("a:1", "c:1", "d:1", "e:1").WithDown("d:1")
	extra := 0
	for i := range keys {
		k := fmt.Sprintf("key:%d", i)
		was, _ := prev.Owner(k)
		now, _ := scratch.Owner(k)
		if was != "b:1" && was != now {
			extra++
		}
	}
	t.Logf("Build moved %d keys (b's); ring.New from scratch would also move %d others", moved, extra)
}

func TestDNSARecords(t *testing.T) {
	discCheckLeaks(t)
	srv := dnstest.Start(t)
	srv.SetA("nodes.cachetier.test", "127.0.0.2", "127.0.0.1")
	d := &DNS{Name: "nodes.cachetier.test", Port: 7000, Interval: 20 * time.Millisecond, Resolver: srv.Resolver()}
	w := startDiscWatch(t, d)

	if got, want := w.next(t).Addrs, []string{"127.0.0.1:7000", "127.0.0.2:7000"}; !slices.Equal(got, want) {
		t.Fatalf("initial set %v, want %v (sorted)", got, want)
	}
	// Unchanged answers (even in another order) do not update.
	srv.SetA("nodes.cachetier.test", "127.0.0.1", "127.0.0.2")
	q := srv.Queries()
	discWaitFor(t, "several more lookups", func() bool { return srv.Queries() >= q+6 })
	w.noUpdate(t)

	// A new node is appended even though it sorts first.
	srv.SetA("nodes.cachetier.test", "127.0.0.2", "127.0.0.1", "127.0.0.0")
	if got, want := w.next(t).Addrs, []string{"127.0.0.1:7000", "127.0.0.2:7000", "127.0.0.0:7000"}; !slices.Equal(got, want) {
		t.Fatalf("after scale-out %v, want %v", got, want)
	}
	// A vanished node is removed; the others keep their order.
	srv.SetA("nodes.cachetier.test", "127.0.0.0", "127.0.0.2")
	if got, want := w.next(t).Addrs, []string{"127.0.0.2:7000", "127.0.0.0:7000"}; !slices.Equal(got, want) {
		t.Fatalf("after scale-in %v, want %v", got, want)
	}
	// Two at once are appended sorted.
	srv.SetA("nodes.cachetier.test", "127.0.0.9", "127.0.0.2", "127.0.0.0", "127.0.0.5")
	if got, want := w.next(t).Addrs, []string{"127.0.0.2:7000", "127.0.0.0:7000", "127.0.0.5:7000", "127.0.0.9:7000"}; !slices.Equal(got, want) {
		t.Fatalf("after adding two %v, want %v", got, want)
	}
	if err := w.stop(t); !errors.Is(err, context.Canceled) {
		t.Fatalf("Watch returned %v", err)
	}
}

func TestDNSAAAAAndNetwork(t *testing.T) {
	discCheckLeaks(t)
	srv := dnstest.Start(t)
	srv.SetAAAA("v6.cachetier.test", "::2", "::1")
	srv.SetA("dual.cachetier.test", "127.0.0.1")
	srv.SetAAAA("dual.cachetier.test", "::1")
	for _, tc := range []struct {
		name, network string
		want          []string
	}{
		{"v6.cachetier.test", "", []string{"[::1]:7000", "[::2]:7000"}},
		{"dual.cachetier.test", "", []string{"127.0.0.1:7000", "[::1]:7000"}},
		{"dual.cachetier.test", "ip4", []string{"127.0.0.1:7000"}},
		{"dual.cachetier.test", "ip6", []string{"[::1]:7000"}},
	} {
		t.Run(tc.name+"/"+tc.network, func(t *testing.T) {
			w := startDiscWatch(t, &DNS{Name: tc.name, Port: 7000, Network: tc.network,
				Interval: time.Hour, Resolver: srv.Resolver()})
			if got := w.next(t).Addrs; !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			w.stop(t)
		})
	}
	// A changing AAAA set.
	w := startDiscWatch(t, &DNS{Name: "v6.cachetier.test", Port: 7000, Interval: 20 * time.Millisecond, Resolver: srv.Resolver()})
	w.next(t)
	srv.SetAAAA("v6.cachetier.test", "::2", "::3")
	if got, want := w.next(t).Addrs, []string{"[::2]:7000", "[::3]:7000"}; !slices.Equal(got, want) {
		t.Fatalf("after change %v, want %v", got, want)
	}
	w.stop(t)
}

func TestDNSSRVRecords(t *testing.T) {
	discCheckLeaks(t)
	srv := dnstest.Start(t)
	name := "_redis._tcp.cachenode.cachetier.test"
	srv.SetSRV(name,
		dnstest.SRV{Target: "node-b.cachetier.test", Port: 7001, Priority: 10, Weight: 5},
		dnstest.SRV{Target: "node-a.cachetier.test", Port: 7002, Priority: 0, Weight: 50})
	w := startDiscWatch(t, &DNS{Name: name, SRV: true, Interval: 20 * time.Millisecond, Resolver: srv.Resolver()})
	if got, want := w.next(t).Addrs, []string{"node-a.cachetier.test:7002", "node-b.cachetier.test:7001"}; !slices.Equal(got, want) {
		t.Fatalf("initial SRV set %v, want %v", got, want)
	}
	// Same targets with another port are other nodes; a new target is appended.
	srv.SetSRV(name,
		dnstest.SRV{Target: "node-a.cachetier.test", Port: 7002},
		dnstest.SRV{Target: "node-b.cachetier.test", Port: 7003},
		dnstest.SRV{Target: "node-0.cachetier.test", Port: 7001})
	if got, want := w.next(t).Addrs, []string{"node-a.cachetier.test:7002", "node-0.cachetier.test:7001", "node-b.cachetier.test:7003"}; !slices.Equal(got, want) {
		t.Fatalf("changed SRV set %v, want %v", got, want)
	}
	w.stop(t)
}

func TestDNSFailuresKeepLastSet(t *testing.T) {
	discCheckLeaks(t)
	srv := dnstest.Start(t)
	const name = "flaky.cachetier.test"
	srv.SetFail(dns.RcodeServerFailure)
	w := newDiscWatch()
	d := &DNS{Name: name, Port: 7000, Interval: 30 * time.Millisecond,
		Timeout: 2 * time.Second, Resolver: srv.Resolver(), OnError: w.onError}
	w.start(t, d)

	// The first lookups fail: errors are reported, nothing is published.
	if err := w.nextErr(t); err == nil || !strings.Contains(err.Error(), name) {
		t.Fatalf("OnError got %v", err)
	}
	w.noUpdate(t)
	// Recovery publishes the first set promptly.
	srv.SetA(name, "127.0.0.1")
	srv.SetFail(0)
	if got := w.next(t).Addrs; !slices.Equal(got, []string{"127.0.0.1:7000"}) {
		t.Fatalf("first set %v", got)
	}

	// Server failure, NXDOMAIN and an empty answer all keep the last set.
	drain := func() {
		for len(w.errs) > 0 {
			<-w.errs
		}
	}
	srv.SetFail(dns.RcodeServerFailure)
	drain()
	w.nextErr(t)
	w.nextErr(t)
	srv.SetFail(0)
	srv.SetA(name) // no records at all: NXDOMAIN
	drain()
	err := w.nextErr(t)
	w.nextErr(t)
	var dnsErr *net.DNSError
	if !errors.As(err, &dnsErr) || !dnsErr.IsNotFound {
		t.Fatalf("NXDOMAIN reported as %v", err)
	}
	w.noUpdate(t)

	srv.SetA(name, "127.0.0.1", "127.0.0.3")
	if got := w.next(t).Addrs; !slices.Equal(got, []string{"127.0.0.1:7000", "127.0.0.3:7000"}) {
		t.Fatalf("after recovery %v", got)
	}
	w.stop(t)
}

func TestDNSEmptyAnswerKeepsLastSet(t *testing.T) {
	discCheckLeaks(t)
	srv := dnstest.Start(t)
	const name = "srv.cachetier.test"
	srv.SetSRV(name, dnstest.SRV{Target: "n1.cachetier.test", Port: 7000})
	w := newDiscWatch()
	w.start(t, &DNS{Name: name, SRV: true, Interval: 20 * time.Millisecond, Resolver: srv.Resolver(), OnError: w.onError})
	w.next(t)
	// Only a "." target ("no service"): the answer names no node.
	srv.SetSRV(name, dnstest.SRV{Target: ".", Port: 0})
	for {
		err := w.nextErr(t)
		if errors.Is(err, ErrDiscoveryEmpty) {
			break
		}
	}
	w.noUpdate(t)
	w.stop(t)
}

func TestDNSConfigErrors(t *testing.T) {
	for _, d := range []*DNS{
		{Port: 7000},
		{Name: "x.test"},
		{Name: "x.test", Port: 70000},
		{Name: "x.test", Port: 1, Network: "tcp"},
	} {
		called := false
		err := d.Watch(context.Background(), func(Membership) { called = true })
		if err == nil || called || errors.Is(err, context.Canceled) {
			t.Errorf("%+v: Watch = %v (update called %v), want a config error", d, err, called)
		}
	}
}

func TestDNSWatchReturnsOnCancel(t *testing.T) {
	discCheckLeaks(t)
	srv := dnstest.Start(t)
	srv.SetA("n.cachetier.test", "127.0.0.1")
	w := startDiscWatch(t, &DNS{Name: "n.cachetier.test", Port: 1, Interval: time.Hour, Resolver: srv.Resolver()})
	w.next(t)
	start := time.Now()
	if err := w.stop(t); !errors.Is(err, context.Canceled) {
		t.Fatalf("Watch = %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Watch took %v to notice cancellation", d)
	}
	// Cancelled before any answer.
	srv.SetFail(dns.RcodeServerFailure)
	w2 := startDiscWatch(t, &DNS{Name: "n.cachetier.test", Port: 1, Interval: time.Hour, Resolver: srv.Resolver()})
	time.Sleep(20 * time.Millisecond)
	if err := w2.stop(t); !errors.Is(err, context.Canceled) {
		t.Fatalf("Watch = %v", err)
	}
	w2.noUpdate(t)
}

func TestDNSBlackHoleBoundedByTimeout(t *testing.T) {
	discCheckLeaks(t)
	// A UDP socket that never answers.
	hole, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hole.Close()
	res := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, "udp", hole.LocalAddr().String())
		if err == nil {
			// Go's resolver does not close its connection when an abandoned
			// lookup is cancelled; its reads would run on until the
			// resolv.conf timeout (5 s per attempt).
			context.AfterFunc(ctx, func() { c.Close() })
		}
		return c, err
	}}
	w := newDiscWatch()
	start := time.Now()
	w.start(t, &DNS{Name: "hole.cachetier.test", Port: 7000, Interval: time.Hour,
		Timeout: 100 * time.Millisecond, Resolver: res, OnError: w.onError})
	err = w.nextErr(t)
	if d := time.Since(start); d > 8*time.Second {
		t.Fatalf("first lookup failure reported after %v with a 100ms timeout", d)
	}
	t.Logf("black hole reported after %v: %v", time.Since(start), err)
	w.noUpdate(t)
	start = time.Now()
	if err := w.stop(t); !errors.Is(err, context.Canceled) {
		t.Fatalf("Watch = %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Watch took %v to stop", d)
	}
}

// discWriteFile replaces path's content the way operators should: a temporary
// file renamed over it.
func discWriteFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestSlotFileReloads(t *testing.T) {
	discCheckLeaks(t)
	path := filepath.Join(t.TempDir(), "slots")
	discWriteFile(t, path, "# the tier\n127.0.0.1:7001, 127.0.0.1:7002\n")
	w := newDiscWatch()
	w.start(t, &SlotFile{Path: path, Interval: 20 * time.Millisecond, OnError: w.onError})

	m := w.next(t)
	if want := ring.New("127.0.0.1:7001", "127.0.0.1:7002"); !m.Ring.Equal(want) {
		t.Fatalf("initial ring %s, want %s", m.Ring, want)
	}
	if !slices.Equal(m.Addrs, []string{"127.0.0.1:7001", "127.0.0.1:7002"}) {
		t.Fatalf("Addrs %v", m.Addrs)
	}

	// A scale-out with a weight and a down mark.
	discWriteFile(t, path, "127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003*2 down=127.0.0.1:7002")
	m = w.next(t)
	if m.Ring.String() != "127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003*2 down=127.0.0.1:7002" {
		t.Fatalf("reloaded ring %s", m.Ring)
	}
	if !slices.Equal(m.Addrs, []string{"127.0.0.1:7001", "127.0.0.1:7002", "127.0.0.1:7003"}) {
		t.Fatalf("Addrs %v", m.Addrs)
	}

	// Rewriting the same table (new mtime, same bytes) or a reformatted but
	// equal one does not publish.
	discWriteFile(t, path, "127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003*2 down=127.0.0.1:7002")
	discWriteFile(t, path, "127.0.0.1:7001,\n127.0.0.1:7002,\n127.0.0.1:7003, 127.0.0.1:7003\ndown=127.0.0.1:7002 # same\n")
	time.Sleep(150 * time.Millisecond)
	w.noUpdate(t)

	// Garbage, an empty file and a missing file keep the last ring.
	for i, bad := range []string{"127.0.0.1:7001*banana", "", "-,-", "<missing>"} {
		for len(w.errs) > 0 {
			<-w.errs
		}
		if bad == "<missing>" {
			os.Remove(path)
		} else {
			discWriteFile(t, path, bad)
		}
		err := w.nextErr(t)
		if !strings.Contains(err.Error(), path) {
			t.Fatalf("case %d: error does not name the file: %v", i, err)
		}
		w.noUpdate(t)
	}

	// Back to a good table.
	discWriteFile(t, path, "127.0.0.1:7009")
	if m := w.next(t); m.Ring.String() != "127.0.0.1:7009" {
		t.Fatalf("after recovery %s", m.Ring)
	}
	w.stop(t)
}

func TestSlotFileInPlaceWriteDetected(t *testing.T) {
	discCheckLeaks(t)
	path := filepath.Join(t.TempDir(), "slots")
	if err := os.WriteFile(path, []byte("a:1,b:1"), 0o644); err != nil {
		t.Fatal(err)
	}
	w := startDiscWatch(t, &SlotFile{Path: path, Interval: 10 * time.Millisecond})
	w.next(t)
	// Same size, same mtime (forced back): only the periodic content check
	// can see this change.
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("a:1,c:1"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, st.ModTime(), st.ModTime()); err != nil {
		t.Fatal(err)
	}
	if m := w.next(t); m.Ring.String() != "a:1,c:1" {
		t.Fatalf("got %s", m.Ring)
	}
	w.stop(t)
}

func TestSlotFileWaitsForFile(t *testing.T) {
	discCheckLeaks(t)
	path := filepath.Join(t.TempDir(), "later")
	w := newDiscWatch()
	w.start(t, &SlotFile{Path: path, Interval: time.Hour, OnError: w.onError})
	if err := w.nextErr(t); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file reported as %v", err)
	}
	discWriteFile(t, path, "127.0.0.1:7001")
	// Retries before the first success are much faster than Interval.
	if m := w.next(t); m.Ring.String() != "127.0.0.1:7001" {
		t.Fatalf("got %s", m.Ring)
	}
	w.stop(t)

	if err := (&SlotFile{}).Watch(context.Background(), func(Membership) {}); err == nil {
		t.Fatal("empty Path accepted")
	}
}

func TestDiscReadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	os.WriteFile(path, []byte("0123456789"), 0o644)
	if b, err := discReadFile(path, 10); err != nil || string(b) != "0123456789" {
		t.Fatalf("at the limit: %q %v", b, err)
	}
	if _, err := discReadFile(path, 9); err == nil {
		t.Fatal("oversized file accepted")
	}
}
