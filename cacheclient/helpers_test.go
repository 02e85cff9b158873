package cacheclient

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachetier/cachetier/cachenode"
	"github.com/cachetier/cachetier/internal/redistest"
	"github.com/cachetier/cachetier/loader"
)

// testNode is one L2 node a test runs: a redis-server process (or, when the
// tier's own server is available, a cachenode) on a fixed loopback port, which
// the test can kill and restart on the same port.
type testNode struct {
	Addr string
	port int
	t    testing.TB
	kind string // "redis" or "cachenode"

	mu   sync.Mutex
	cmd  *exec.Cmd     // redis
	done chan struct{} // closed when the process or Serve has ended
	srv  *cachenode.Server
}

// nodeKinds are the two kinds of node the client must work over.
var nodeKinds = []string{"redis", "cachenode"}

// eachNodeKind runs fn as a subtest against stock redis-server nodes and
// against in-process cachenode servers.
func eachNodeKind(t *testing.T, fn func(t *testing.T, start func(t testing.TB, n int) []*testNode)) {
	for _, kind := range nodeKinds {
		t.Run(kind, func(t *testing.T) {
			fn(t, func(t testing.TB, n int) []*testNode { return startNodes(t, kind, n) })
		})
	}
}

// startNodes starts n nodes of the kind given on loopback, skipping the test
// when the kind is "redis" and redis-server is not installed.
func startNodes(t testing.TB, kind string, n int) []*testNode {
	t.Helper()
	if kind == "redis" && redistest.Binary() == "" {
		t.Skip("redis-server not installed (apt-get install -y redis-server); skipping test with real nodes")
	}
	nodes := make([]*testNode, n)
	for i := range nodes {
		nd := &testNode{t: t, kind: kind}
		var err error
		for attempt := 0; attempt < 3; attempt++ {
			nd.port = redistest.FreePort(t)
			nd.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(nd.port))
			if err = nd.start(); err == nil {
				break
			}
		}
		if err != nil {
			t.Fatalf("start %s node: %v", kind, err)
		}
		t.Cleanup(nd.Kill)
		nodes[i] = nd
	}
	return nodes
}

func (nd *testNode) start() error {
	if nd.kind == "cachenode" {
		ln, err := net.Listen("tcp", nd.Addr)
		if err != nil {
			return err
		}
		srv, err := cachenode.New(cachenode.Config{Addr: nd.Addr, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			ln.Close()
			return err
		}
		done := make(chan struct{})
		go func() { _ = srv.Serve(ln); close(done) }()
		nd.mu.Lock()
		nd.srv, nd.done = srv, done
		nd.mu.Unlock()
		return nil
	}
	cmd := exec.Command(redistest.Binary(), "--port", strconv.Itoa(nd.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", "",
		"--dir", os.TempDir())
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	if err := redistest.WaitPing(nd.Addr, 5*time.Second); err != nil {
		_ = cmd.Process.Kill()
		<-done
		return err
	}
	nd.mu.Lock()
	nd.cmd, nd.done = cmd, done
	nd.mu.Unlock()
	return nil
}

// Kill ends the node with SIGKILL (a crash) and waits for it.
func (nd *testNode) Kill() {
	nd.mu.Lock()
	cmd, done, srv := nd.cmd, nd.done, nd.srv
	nd.cmd, nd.srv = nil, nil
	nd.mu.Unlock()
	if srv != nil {
		_ = srv.Close() // listener and every connection closed at once
		<-done
		return
	}
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-done
}

// Restart starts the node again on the same port (empty).
func (nd *testNode) Restart() {
	nd.t.Helper()
	var err error
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if err = nd.start(); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	nd.t.Fatalf("restart node on %s: %v", nd.Addr, err)
}

func addrsOf(nodes []*testNode) []string {
	a := make([]string, len(nodes))
	for i, nd := range nodes {
		a[i] = nd.Addr
	}
	return a
}

// countingLoader is an origin that counts its calls and the peak number of
// calls in flight. value returns the value for a key; fail makes it fail.
type countingLoader struct {
	calls    atomic.Int64
	inFlight atomic.Int64
	peak     atomic.Int64
	delay    time.Duration
	fail     atomic.Bool
	notFound atomic.Bool
	ttl      time.Duration
}

var errOrigin = errors.New("origin down")

func (o *countingLoader) Load(ctx context.Context, key string) (loader.Result, error) {
	o.calls.Add(1)
	n := o.inFlight.Add(1)
	defer o.inFlight.Add(-1)
	for {
		p := o.peak.Load()
		if n <= p || o.peak.CompareAndSwap(p, n) {
			break
		}
	}
	if o.delay > 0 {
		select {
		case <-time.After(o.delay):
		case <-ctx.Done():
			return loader.Result{}, ctx.Err()
		}
	}
	if o.fail.Load() {
		return loader.Result{}, errOrigin
	}
	if o.notFound.Load() {
		return loader.Result{}, loader.ErrNotFound
	}
	return loader.Result{Value: []byte("v:" + key), TTL: o.ttl}, nil
}

// newClient creates a client and closes it when the test ends. Unless the
// test sets them, Tier.Timeout and Tier.DialTimeout are generous (1s): the
// defaults (tens of ms) would make tests flaky on a loaded machine.
func newClient(t testing.TB, cfg Config) *Client {
	t.Helper()
	if cfg.Tier.Timeout == 0 {
		cfg.Tier.Timeout = time.Second
	}
	if cfg.Tier.DialTimeout == 0 {
		cfg.Tier.DialTimeout = time.Second
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func nodeUp(c *Client, addr string) bool {
	for _, n := range c.Stats().Nodes {
		if n.Addr == addr {
			return n.Up
		}
	}
	return false
}

// blackhole starts a listener on loopback that accepts connections and
// never answers, closed (with its connections) when the test ends, and
// returns its address.
func blackhole(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	wg.Go(func() {
		for {
			cn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, cn)
			mu.Unlock()
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
		mu.Lock()
		for _, cn := range conns {
			cn.Close()
		}
		mu.Unlock()
	})
	return ln.Addr().String()
}
