package cacheclient

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/cachetier/cachetier/cachenode"
	"github.com/cachetier/cachetier/internal/dnstest"
)

// listenSamePort listens on the same port of 127.0.0.1, 127.0.0.2, ... (all
// loopback on Linux), as the pods of a headless service share one port.
func listenSamePort(t *testing.T, n int) []net.Listener {
	t.Helper()
	for attempt := 0; attempt < 20; attempt++ {
		first, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := first.Addr().(*net.TCPAddr).Port
		lns := []net.Listener{first}
		for i := 2; i <= n; i++ {
			ln, err := net.Listen("tcp", net.JoinHostPort(fmt.Sprintf("127.0.0.%d", i), strconv.Itoa(port)))
			if err != nil {
				break
			}
			lns = append(lns, ln)
		}
		if len(lns) == n {
			return lns
		}
		for _, ln := range lns {
			ln.Close()
		}
	}
	t.Skip("cannot listen on one port of several 127.0.0.x addresses")
	return nil
}

// TestDNSDiscoveryEndToEnd runs the client over cachenode servers found
// through DNS A records (an in-process DNS server), as over a Kubernetes
// headless service, and changes the records under traffic.
func TestDNSDiscoveryEndToEnd(t *testing.T) {
	lns := listenSamePort(t, 3)
	port := lns[0].Addr().(*net.TCPAddr).Port
	var ips []string
	for _, ln := range lns {
		srv, err := cachenode.New(cachenode.Config{Addr: ln.Addr().String(), Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { _ = srv.Serve(ln); close(done) }()
		t.Cleanup(func() { srv.Close(); <-done })
		ips = append(ips, ln.Addr().(*net.TCPAddr).IP.String())
	}
	dns := dnstest.Start(t)
	const name = "cachenode.default.svc.cluster.local."
	dns.SetA(name, ips[:2]...)

	c := newClient(t, Config{
		Discovery: &DNS{Name: name, Port: port, Network: "ip4", Interval: 50 * time.Millisecond,
			Timeout: 2 * time.Second, Resolver: dns.Resolver()},
		L1: L1Config{Bytes: -1},
	})
	want := func(ips ...string) []string {
		var a []string
		for _, ip := range ips {
			a = append(a, net.JoinHostPort(ip, strconv.Itoa(port)))
		}
		slices.Sort(a)
		return a
	}
	nodesNow := func() []string {
		up, _ := c.Nodes()
		slices.Sort(up)
		return up
	}
	if got := nodesNow(); !slices.Equal(got, want(ips[:2]...)) {
		t.Fatalf("nodes after New = %v, want %v", got, want(ips[:2]...))
	}
	ctx := context.Background()
	origin := &countingLoader{}
	load := func() {
		t.Helper()
		for i := 0; i < 50; i++ {
			key := fmt.Sprintf("dns:%d", i)
			if v, err := c.Get(ctx, key, origin); err != nil || string(v) != "v:"+key {
				t.Fatalf("%s: %q %v", key, v, err)
			}
		}
	}
	load()
	dns.SetA(name, ips...)
	waitFor(t, 10*time.Second, "third node discovered", func() bool { return slices.Equal(nodesNow(), want(ips...)) })
	load()
	dns.SetA(name, ips[1:]...)
	waitFor(t, 10*time.Second, "first node gone", func() bool { return slices.Equal(nodesNow(), want(ips[1:]...)) })
	load()
	if s := c.Stats(); s.L2Hits == 0 || s.L2Errors != 0 {
		t.Fatalf("stats %+v", s)
	}
}
