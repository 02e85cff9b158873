package dnstest

import (
	"context"
	"errors"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestServerAnswersAndChanges(t *testing.T) {
	s := Start(t)
	r := s.Resolver()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	s.SetA("n.test", "127.0.0.1", "127.0.0.2")
	s.SetAAAA("n.test", "::1")
	ips, err := r.LookupIP(ctx, "ip", "n.test")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ip := range ips {
		got = append(got, ip.String())
	}
	slices.Sort(got)
	if want := []string{"127.0.0.1", "127.0.0.2", "::1"}; !slices.Equal(got, want) {
		t.Fatalf("LookupIP = %v, want %v", got, want)
	}

	s.SetSRV("_x._tcp.test", SRV{Target: "a.test", Port: 1}, SRV{Target: "b.test", Port: 2})
	_, srvs, err := r.LookupSRV(ctx, "", "", "_x._tcp.test")
	if err != nil || len(srvs) != 2 {
		t.Fatalf("LookupSRV = %v, %v", srvs, err)
	}

	s.SetA("n.test")
	s.SetAAAA("n.test")
	_, err = r.LookupIP(ctx, "ip", "n.test")
	var de *net.DNSError
	if !errors.As(err, &de) || !de.IsNotFound {
		t.Fatalf("removed name: %v, want not found", err)
	}

	s.SetA("n.test", "127.0.0.1")
	s.SetFail(dns.RcodeServerFailure)
	if _, err := r.LookupIP(ctx, "ip4", "n.test"); err == nil {
		t.Fatal("SERVFAIL not reported")
	}
	if s.Queries() == 0 {
		t.Fatal("no queries counted")
	}
}

func TestLargeAnswerFallsBackToTCP(t *testing.T) {
	s := Start(t)
	var ips []string
	for i := range 200 {
		ips = append(ips, net.IPv4(10, 0, byte(i/250), byte(i%250+1)).String())
	}
	s.SetA("big.test", ips...)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := s.Resolver().LookupIP(ctx, "ip4", "big.test")
	if err != nil || len(got) != 200 {
		t.Fatalf("got %d addresses, %v", len(got), err)
	}
}
