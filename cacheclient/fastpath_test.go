package cacheclient

import (
	"bytes"
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// gateProxy is a TCP proxy in front of one node whose replies can be held:
// requests pass at once, and while the gate is closed the node's replies on
// the connections open at the time wait in the proxy (connections made
// later are not held).
type gateProxy struct {
	ln     net.Listener
	target string
	gets   atomic.Int64 // GET commands seen (counted in whole reads only)

	mu    sync.Mutex
	open  *sync.Cond   // signalled on release
	held  map[int]bool // connections whose replies wait
	conns []net.Conn
	wg    sync.WaitGroup
}

func newGateProxy(t testing.TB, target string) *gateProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &gateProxy{ln: ln, target: target, held: map[int]bool{}}
	p.open = sync.NewCond(&p.mu)
	p.wg.Go(p.accept)
	t.Cleanup(p.close)
	return p
}

func (p *gateProxy) addr() string { return p.ln.Addr().String() }

func (p *gateProxy) accept() {
	for id := 0; ; id++ {
		cn, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			cn.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, cn, up)
		p.mu.Unlock()
		p.wg.Go(func() { p.requests(up, cn); up.Close() })
		p.wg.Go(func() { p.replies(id, cn, up); cn.Close() })
	}
}

// requests copies the client's requests to the node, counting GETs.
func (p *gateProxy) requests(up, cn net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := cn.Read(buf)
		if n > 0 {
			p.gets.Add(int64(bytes.Count(buf[:n], []byte("$3\r\nget\r\n"))))
			if _, werr := up.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// replies copies the node's replies to the client, waiting while the
// connection is held.
func (p *gateProxy) replies(id int, cn, up net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := up.Read(buf)
		if n > 0 {
			p.mu.Lock()
			for p.held[id] {
				p.open.Wait()
			}
			p.mu.Unlock()
			if _, werr := cn.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// hold makes the replies on the connections open now wait; release lets
// them through.
func (p *gateProxy) hold() {
	p.mu.Lock()
	for id := range len(p.conns) / 2 {
		p.held[id] = true
	}
	p.mu.Unlock()
}

func (p *gateProxy) release() {
	p.mu.Lock()
	clear(p.held)
	p.open.Broadcast()
	p.mu.Unlock()
}

func (p *gateProxy) close() {
	p.release()
	p.ln.Close()
	p.mu.Lock()
	for _, cn := range p.conns {
		cn.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// TestL2MissCountedGetJoinsBatch: a Get's own L2 read of a cold key is
// held at the node while a GetMany of the key reads it (on another
// connection), misses and starts loading it; then the Get's read misses
// too and the Get joins the GetMany's flight. Both reads are counted as
// misses; one origin load serves both.
func TestL2MissCountedGetJoinsBatch(t *testing.T) {
	nodes := startNodes(t, "redis", 1)
	px := newGateProxy(t, nodes[0].Addr)
	c := newClient(t, Config{Tier: TierConfig{Addrs: []string{px.addr()}}, L1: L1Config{Bytes: -1}})
	ctx := context.Background()
	if _, err := c.Get(ctx, "warm", nil); err == nil { // one pooled connection
		t.Fatal("warm: want not found")
	}
	base := c.Stats()
	gets := px.gets.Load()
	origin := &countingLoader{}
	bo := &batchOrigin{delay: 500 * time.Millisecond}
	px.hold()
	var (
		err  error
		info Info
		wg   sync.WaitGroup
	)
	wg.Go(func() { _, info, err = c.GetInfo(ctx, "k", origin) })
	waitFor(t, 5*time.Second, "the Get's read at the node", func() bool { return px.gets.Load()-gets >= 1 })
	var items []Item
	wg.Go(func() { items = c.GetMany(ctx, []string{"k"}, bo) })
	waitFor(t, 5*time.Second, "the GetMany's load", func() bool { calls, _ := bo.stats(); return calls == 1 })
	px.release()
	wg.Wait()
	if err != nil || !info.Shared || items[0].Err != nil {
		t.Fatalf("Get: %+v %v; GetMany: %v", info, err, items[0].Err)
	}
	if calls, _ := bo.stats(); calls != 1 || origin.calls.Load() != 0 {
		t.Fatalf("origin: %d batch calls, %d loads; want 1 and 0", calls, origin.calls.Load())
	}
	s := c.Stats()
	if got := s.L2Misses - base.L2Misses; got != 2 {
		t.Fatalf("L2Misses +%d, want +2", got)
	}
}

// TestL2MissCountedJoiningFlight: a GetMany whose L2 read of a key misses
// while a Get of that key is loading joins the Get's flight; its miss is
// counted like the Get's.
func TestL2MissCountedJoiningFlight(t *testing.T) {
	eachNodeKind(t, func(t *testing.T, start func(testing.TB, int) []*testNode) {
		nodes := start(t, 1)
		c := newClient(t, Config{Tier: TierConfig{Addrs: addrsOf(nodes)}, L1: L1Config{Bytes: -1}})
		ctx := context.Background()
		origin := &countingLoader{delay: 300 * time.Millisecond}
		base := c.Stats()
		done := make(chan error, 1)
		go func() { _, err := c.Get(ctx, "k", origin); done <- err }()
		waitFor(t, 5*time.Second, "the Get's load", func() bool { return origin.calls.Load() == 1 })
		bo := &batchOrigin{}
		items := c.GetMany(ctx, []string{"k"}, bo)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if items[0].Err != nil || string(items[0].Value) != "v:k" || !items[0].Info.Shared {
			t.Fatalf("GetMany: %q %+v %v", items[0].Value, items[0].Info, items[0].Err)
		}
		if calls, _ := bo.stats(); calls != 0 || origin.calls.Load() != 1 {
			t.Fatalf("origin: %d batch calls, %d loads; want 0 and 1", calls, origin.calls.Load())
		}
		if got := c.Stats().L2Misses - base.L2Misses; got != 2 {
			t.Fatalf("L2Misses +%d, want +2", got)
		}
	})
}
