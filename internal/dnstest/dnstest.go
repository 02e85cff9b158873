// Package dnstest runs an in-process authoritative DNS server on loopback for
// tests: A, AAAA and SRV records that a test can change between lookups, and
// a *net.Resolver that asks only this server.
package dnstest

import (
	"context"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// SRV is one SRV record's data.
type SRV struct {
	Target   string
	Port     uint16
	Priority uint16
	Weight   uint16
}

// Server is a DNS server on a loopback UDP and TCP port (the same port number).
type Server struct {
	// Addr is the server's "127.0.0.1:port".
	Addr string

	udp, tcp *dns.Server
	queries  atomic.Int64

	mu   sync.Mutex // protects the fields below
	a    map[string][]net.IP
	aaaa map[string][]net.IP
	srv  map[string][]SRV
	fail int // rcode to answer every query with; 0 = answer normally
}

// Start starts a server on loopback and stops it when the test ends. Names
// with no records get NXDOMAIN.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{
		a:    map[string][]net.IP{},
		aaaa: map[string][]net.IP{},
		srv:  map[string][]SRV{},
	}
	var pc net.PacketConn
	var ln net.Listener
	for attempt := 0; ; attempt++ {
		var err error
		pc, err = net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("dnstest: %v", err)
		}
		ln, err = net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			break
		}
		pc.Close()
		if attempt == 20 {
			t.Fatalf("dnstest: no port free for both UDP and TCP: %v", err)
		}
	}
	s.Addr = pc.LocalAddr().String()
	h := dns.HandlerFunc(s.serve)
	s.udp = &dns.Server{PacketConn: pc, Handler: h}
	s.tcp = &dns.Server{Listener: ln, Handler: h}
	for _, srv := range []*dns.Server{s.udp, s.tcp} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go srv.ActivateAndServe()
		select {
		case <-started:
		case <-time.After(10 * time.Second):
			t.Fatal("dnstest: server did not start")
		}
	}
	t.Cleanup(s.Close)
	return s
}

// Close stops the server and waits for its goroutines.
func (s *Server) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s.udp.ShutdownContext(ctx)
	s.tcp.ShutdownContext(ctx)
}

// SetA replaces the A records of name (no records: NXDOMAIN unless other
// types exist).
func (s *Server) SetA(name string, ips ...string) {
	s.set(s.a, name, ips)
}

// SetAAAA replaces the AAAA records of name.
func (s *Server) SetAAAA(name string, ips ...string) {
	s.set(s.aaaa, name, ips)
}

func (s *Server) set(m map[string][]net.IP, name string, ips []string) {
	parsed := make([]net.IP, 0, len(ips))
	for _, ip := range ips {
		p := net.ParseIP(ip)
		if p == nil {
			panic("dnstest: bad IP " + ip)
		}
		parsed = append(parsed, p)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m[dns.CanonicalName(name)] = parsed
}

// SetSRV replaces the SRV records of name.
func (s *Server) SetSRV(name string, recs ...SRV) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.srv[dns.CanonicalName(name)] = append([]SRV(nil), recs...)
}

// SetFail makes the server answer every query with rcode (for example
// dns.RcodeServerFailure); 0 restores normal answers.
func (s *Server) SetFail(rcode int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = rcode
}

// Queries reports how many queries the server has received.
func (s *Server) Queries() int {
	return int(s.queries.Load())
}

// Resolver returns a resolver that sends every query to this server.
func (s *Server) Resolver() *net.Resolver {
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			c, err := d.DialContext(ctx, network, s.Addr)
			if err == nil {
				// The resolver does not close its connection when a lookup
				// is abandoned; close it so no read outlives the lookup.
				context.AfterFunc(ctx, func() { c.Close() })
			}
			return c, err
		},
	}
}

func (s *Server) serve(w dns.ResponseWriter, req *dns.Msg) {
	s.queries.Add(1)
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	s.mu.Lock()
	if s.fail != 0 {
		m.Rcode = s.fail
	} else {
		for _, q := range req.Question {
			name := dns.CanonicalName(q.Name)
			hdr := dns.RR_Header{Name: q.Name, Class: dns.ClassINET, Ttl: 1}
			switch q.Qtype {
			case dns.TypeA:
				hdr.Rrtype = dns.TypeA
				for _, ip := range s.a[name] {
					m.Answer = append(m.Answer, &dns.A{Hdr: hdr, A: ip.To4()})
				}
			case dns.TypeAAAA:
				hdr.Rrtype = dns.TypeAAAA
				for _, ip := range s.aaaa[name] {
					m.Answer = append(m.Answer, &dns.AAAA{Hdr: hdr, AAAA: ip})
				}
			case dns.TypeSRV:
				hdr.Rrtype = dns.TypeSRV
				for _, r := range s.srv[name] {
					m.Answer = append(m.Answer, &dns.SRV{Hdr: hdr, Priority: r.Priority, Weight: r.Weight,
						Port: r.Port, Target: dns.Fqdn(r.Target)})
				}
			}
			if len(m.Answer) == 0 && !s.knownLocked(name) {
				m.Rcode = dns.RcodeNameError
			}
		}
	}
	s.mu.Unlock()
	if _, isUDP := w.RemoteAddr().(*net.UDPAddr); isUDP {
		size := dns.MinMsgSize
		if o := req.IsEdns0(); o != nil {
			size = int(o.UDPSize())
		}
		m.Truncate(size) // sets TC if needed; the resolver retries over TCP
	}
	w.WriteMsg(m)
}

// knownLocked reports whether name has records of any type.
func (s *Server) knownLocked(name string) bool {
	return len(s.a[name]) > 0 || len(s.aaaa[name]) > 0 || len(s.srv[name]) > 0 ||
		strings.TrimSpace(name) == "" // the root exists
}
