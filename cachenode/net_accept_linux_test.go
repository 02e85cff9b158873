//go:build linux

// Tests of the Linux raw listener.

package cachenode

import (
	"bufio"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// openFDs counts the test process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// churn opens n connections to s, each sending a PING, then closes them all
// and waits until the server has let them go.
func churn(t *testing.T, s *Server, addr string, n int) {
	t.Helper()
	conns := make([]*rawConn, n)
	for i := range conns {
		conns[i] = dialRaw(t, addr)
		conns[i].do("PING")
	}
	for _, c := range conns {
		c.nc.Close()
	}
	waitNoConns(t, s)
}

// clientField returns field's value in a CLIENT INFO line.
func clientField(info, field string) string {
	for _, f := range strings.Fields(info) {
		if v, ok := strings.CutPrefix(f, field+"="); ok {
			return v
		}
	}
	return ""
}

// TestRawListener checks the raw accept path ListenAndServe uses: accepted
// connections are sockConns with the addresses net would report, a closed
// connection reaches the peer at once (QUIT, CLIENT KILL), and the
// descriptors held back by the deferredCloser are all released, after
// closeDelay, at closeBatchMax, and when the server closes.
func TestRawListener(t *testing.T) {
	s := startServer(t, Config{})
	addr := s.Addr().String()

	c := dialRaw(t, addr)
	if r := c.do("PING"); r != "+PONG\r\n" {
		t.Fatalf("PING: %q", r)
	}
	s.net.mu.Lock()
	for cn := range s.net.conns {
		if _, ok := cn.nc.(*sockConn); !ok {
			t.Errorf("accepted connection is a %T, want *sockConn", cn.nc)
		}
	}
	s.net.mu.Unlock()
	info := c.do("CLIENT", "INFO")
	if got, want := clientField(info, "addr"), c.nc.LocalAddr().String(); got != want {
		t.Errorf("CLIENT INFO addr=%s, want %s", got, want)
	}
	if got, want := clientField(info, "laddr"), c.nc.RemoteAddr().String(); got != want {
		t.Errorf("CLIENT INFO laddr=%s, want %s", got, want)
	}

	// The peer sees the close at once (well before closeDelay), though the
	// descriptor is kept.
	closedSoon := func(c *rawConn) bool {
		_ = c.nc.SetReadDeadline(time.Now().Add(closeDelay / 2))
		_, err := c.br.ReadByte()
		return err != nil && !isTimeout(err)
	}
	if r := c.do("QUIT"); r != "+OK\r\n" {
		t.Fatalf("QUIT: %q", r)
	}
	if !closedSoon(c) {
		t.Error("connection still open after QUIT")
	}
	victim, killer := dialRaw(t, addr), dialRaw(t, addr)
	id := strings.TrimSpace(strings.TrimPrefix(victim.do("CLIENT", "ID"), ":"))
	if r := killer.do("CLIENT", "KILL", "ID", id); r != ":1\r\n" {
		t.Fatalf("CLIENT KILL: %q", r)
	}
	if !closedSoon(victim) {
		t.Error("killed connection still open")
	}
	victim.nc.Close()
	killer.nc.Close()
	waitNoConns(t, s)

	// Every descriptor is released within closeDelay (and a bit).
	s.net.closer.flush()
	base := openFDs(t)
	churn(t, s, addr, 20)
	for deadline := time.Now().Add(closeDelay + 5*time.Second); openFDs(t) > base; {
		if time.Now().After(deadline) {
			t.Fatalf("%d descriptors still open %v after the clients left (base %d)", openFDs(t), closeDelay+5*time.Second, base)
		}
		time.Sleep(10 * time.Millisecond)
	}

	// No more than the bound (closeBatchMax here) are ever held.
	churn(t, s, addr, s.net.closer.max+20)
	if held := openFDs(t) - base; held >= s.net.closer.max {
		t.Errorf("%d descriptors held, want fewer than the closer's bound (%d)", held, s.net.closer.max)
	}
}

// TestRawListenerCloseReleases checks that Close releases the descriptors
// the deferredCloser still holds, and the listening socket.
func TestRawListenerCloseReleases(t *testing.T) {
	base := openFDs(t)
	s, ln, stop, err := serveOn(t, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	churn(t, s, ln.Addr().String(), 5)
	held := openFDs(t) > base
	if err := stop(); err != ErrServerClosed {
		t.Errorf("Serve returned %v, want ErrServerClosed", err)
	}
	if !held {
		t.Skip("the closer released the descriptors before the check (slow machine): nothing left to test")
	}
	if n := openFDs(t); n > base {
		t.Errorf("%d descriptors open after Close, %d before the server started", n, base)
	}
}

// TestRawListenerAddrs checks the addresses of IPv6 and dual-stack
// connections against what net reports (skipped without IPv6).
func TestRawListenerAddrs(t *testing.T) {
	_, ln, stop, err := serveOn(t, "[::]:0")
	if err != nil {
		t.Skipf("no IPv6 listener: %v", err)
	}
	defer stop()
	port := ln.Addr().(*net.TCPAddr).Port
	for _, host := range []string{"127.0.0.1", "::1"} {
		nc, err := net.DialTimeout("tcp", net.JoinHostPort(host, strconv.Itoa(port)), 5*time.Second)
		if err != nil {
			t.Logf("dial %s: %v (skipped)", host, err)
			continue
		}
		c := &rawConn{t: t, nc: nc, br: bufio.NewReader(nc)}
		info := c.do("CLIENT", "INFO")
		nc.Close()
		if got, want := clientField(info, "addr"), nc.LocalAddr().String(); got != want {
			t.Errorf("%s: CLIENT INFO addr=%s, want %s", host, got, want)
		}
		if got, want := clientField(info, "laddr"), nc.RemoteAddr().String(); got != want {
			t.Errorf("%s: CLIENT INFO laddr=%s, want %s", host, got, want)
		}
	}
}
