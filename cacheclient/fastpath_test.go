package cacheclient

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachetier/cachetier/loader"
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
	c := newClient(t, Config{
		Tier:   TierConfig{Addrs: []string{px.addr()}},
		L1:     L1Config{Bytes: -1},
		Health: HealthConfig{Interval: time.Hour}, // no PINGs on the pooled connection
	})
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

// TestHungNodeBoundedByTimeout: a node that stops answering (a redis-server
// stopped with SIGSTOP: connections still accepted and written to, nothing
// read back; or a listener that accepts and never answers) fails each L2
// request after about Tier.Timeout, whether the request had a pooled
// connection, waited for one (PoolSize 1, the connection busy with another
// hung request) or needed a new one. The socket backstop (Timeout + 1s)
// would take far longer.
func TestHungNodeBoundedByTimeout(t *testing.T) {
	const timeout = 100 * time.Millisecond
	check := func(t *testing.T, what string, d time.Duration) {
		t.Helper()
		t.Logf("%s: failed after %v (Timeout %v)", what, d, timeout)
		if d < timeout*9/10 || d > timeout+800*time.Millisecond {
			t.Errorf("%s: failed after %v, want about %v", what, d, timeout)
		}
	}
	newHungClient := func(t *testing.T, addr string) *Client {
		return newClient(t, Config{
			Tier:   TierConfig{Addrs: []string{addr}, Timeout: timeout, PoolSize: 1},
			Health: HealthConfig{FailureThreshold: 1000, Interval: time.Hour}, // stays up: every Get asks it
			L1:     L1Config{Bytes: -1},
		})
	}
	get := func(c *Client, ctx context.Context, key string) (time.Duration, error) {
		start := time.Now()
		_, _, err := c.GetInfo(ctx, key, nil)
		return time.Since(start), err
	}

	t.Run("stopped", func(t *testing.T) {
		nodes := startNodes(t, "redis", 1)
		c := newHungClient(t, nodes[0].Addr)
		ctx := context.Background()
		if _, err := c.Get(ctx, "warm", nil); !errors.Is(err, loader.ErrNotFound) {
			t.Fatalf("warm: %v", err)
		}
		nodes[0].mu.Lock()
		proc := nodes[0].cmd.Process
		nodes[0].mu.Unlock()
		if err := proc.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		defer proc.Signal(syscall.SIGCONT)
		errs0 := c.Stats().L2Errors
		// Two at once: one on the pooled connection, one waiting for it.
		var wg sync.WaitGroup
		ds := make([]time.Duration, 2)
		for i := range ds {
			wg.Go(func() { ds[i], _ = get(c, ctx, fmt.Sprintf("k%d", i)) })
		}
		wg.Wait()
		check(t, "pooled connection or pool wait", ds[0])
		check(t, "pooled connection or pool wait", ds[1])
		// A caller deadline later than Timeout does not extend it.
		dctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		d, _ := get(c, dctx, "k3")
		check(t, "caller deadline of a minute", d)
		// A caller deadline sooner than Timeout is the bound.
		sctx, cancel := context.WithTimeout(ctx, timeout/4)
		defer cancel()
		start := time.Now()
		_, _, err := c.GetInfo(sctx, "k4", nil)
		d = time.Since(start)
		t.Logf("caller deadline of %v: %v after %v", timeout/4, err, d)
		if d < timeout/4*9/10 || d >= timeout {
			t.Errorf("caller deadline of %v: failed after %v", timeout/4, d)
		}
		if got := c.Stats().L2Errors - errs0; got < 3 {
			t.Errorf("L2Errors +%d, want at least 3", got)
		}
	})

	t.Run("never answers", func(t *testing.T) {
		c := newHungClient(t, blackhole(t))
		defer c.Close()
		for i := range 3 {
			d, _ := get(c, context.Background(), fmt.Sprintf("k%d", i))
			check(t, "new connection", d)
		}
	})
}

// TestReqCtx: a request's context carries its exact deadline, its Done
// closes no earlier than that and at most one step later, requests with
// nearby deadlines share one channel, and Err reports the caller's
// cancellation first.
func TestReqCtx(t *testing.T) {
	tr := &tier{cfg: TierConfig{Timeout: 80 * time.Millisecond}}
	tr.dones.step = doneStep(tr.cfg.Timeout)
	type key struct{}
	parent, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "v"))
	defer cancel()
	start := time.Now()
	ctx, rc := tr.reqCtx(parent, start, 0)
	ctx2, rc2 := tr.reqCtx(parent, start.Add(time.Millisecond), 0)
	if rc == nil || rc2 == nil {
		t.Fatal("no request context made")
	}
	if dl, ok := ctx.Deadline(); !ok || !dl.Equal(start.Add(80*time.Millisecond)) {
		t.Fatalf("deadline %v %v", dl, ok)
	}
	if ctx.Done() != ctx2.Done() {
		t.Error("deadlines 1 ms apart do not share a Done channel")
	}
	if ctx.Value(key{}) != "v" || ctx.Err() != nil {
		t.Fatalf("value %v, err %v", ctx.Value(key{}), ctx.Err())
	}
	<-ctx.Done()
	if d := time.Since(start); d < 80*time.Millisecond {
		t.Fatalf("Done closed after %v, before the deadline", d)
	}
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("err after Done: %v", ctx.Err())
	}
	cancel()
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Fatalf("err after the caller's cancel: %v", ctx.Err())
	}
	endReq(rc)
	endReq(rc2)
	// A caller that has ended, or whose deadline comes first, is the
	// request's context itself.
	if ctx, rc := tr.reqCtx(parent, time.Now(), 0); ctx != parent || rc != nil {
		t.Error("ended caller: a new context")
	}
	sctx, scancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer scancel()
	if ctx, rc := tr.reqCtx(sctx, time.Now(), 0); ctx != sctx || rc != nil {
		t.Error("sooner caller deadline: a new context")
	}
}

// TestRepeats: GetMany's duplicate detection, with the table on the stack
// (up to 128 keys) and on the heap.
func TestRepeats(t *testing.T) {
	for _, n := range []int{0, 1, 2, 50, 128, 129, 1000} {
		keys := make([]string, n)
		for i := range keys {
			keys[i] = fmt.Sprintf("k%d", i)
		}
		if dup := repeats(keys); dup != nil {
			t.Fatalf("%d distinct keys: repeats %v", n, dup)
		}
		if n < 2 {
			continue
		}
		keys = append(keys, keys[n-1], keys[0], keys[n-1])
		dup := repeats(keys)
		want := make([]int, len(keys))
		for i := range want {
			want[i] = -1
		}
		want[n], want[n+1], want[n+2] = n-1, 0, n-1
		if fmt.Sprint(dup) != fmt.Sprint(want) {
			t.Fatalf("%d keys and 3 repeats: %v", n, dup[n:])
		}
	}
}

// TestPooledGetCmds: GETs with pooled commands (node.get, and GetMany's
// pipelines) from many goroutines at once, over keys that are present,
// absent or of the wrong type, each get their own key's answer: a reused
// command carries nothing over from its last use.
func TestPooledGetCmds(t *testing.T) {
	eachNodeKind(t, func(t *testing.T, start func(testing.TB, int) []*testNode) {
		nodes := start(t, 1)
		c := newClient(t, Config{Tier: TierConfig{Addrs: addrsOf(nodes)}, L1: L1Config{Bytes: -1}})
		ctx := context.Background()
		nd, _ := c.tier.route("x")
		const nkeys = 60
		keys := make([]string, nkeys)
		noLists := false
		for i := range keys {
			keys[i] = fmt.Sprintf("pool:%d", i)
			switch i % 3 {
			case 0:
				if err := nd.client().Set(ctx, keys[i], "v:"+keys[i], 0).Err(); err != nil {
					t.Fatal(err)
				}
			case 1: // a list where the node has lists, else a second kind of value
				if err := nd.client().RPush(ctx, keys[i], "x").Err(); err != nil {
					noLists = true
					if err := nd.client().Set(ctx, keys[i], "w:"+keys[i], 0).Err(); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
		check := func(i int, v string, err error) error {
			switch i % 3 {
			case 0:
				if err != nil || v != "v:"+keys[i] {
					return fmt.Errorf("%s: %q %v", keys[i], v, err)
				}
			case 1:
				if noLists {
					if err != nil || v != "w:"+keys[i] {
						return fmt.Errorf("%s: %q %v", keys[i], v, err)
					}
				} else if err == nil || errors.Is(err, redis.Nil) || v != "" {
					return fmt.Errorf("%s (a list): %q %v, want WRONGTYPE", keys[i], v, err)
				}
			case 2:
				if !errors.Is(err, redis.Nil) || v != "" {
					return fmt.Errorf("%s (absent): %q %v", keys[i], v, err)
				}
			}
			return nil
		}
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for w := range 8 {
			wg.Go(func() {
				for n := range 300 {
					i := (w*31 + n*7) % nkeys
					v, err := nd.get(ctx, keys[i])
					if err := check(i, v, err); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		for range 2 {
			wg.Go(func() {
				reads := make([]l2Read, nkeys)
				pos := make([]int32, nkeys)
				idx := make([]int, nkeys)
				for i := range pos {
					pos[i], idx[i] = int32(i), i
				}
				for range 30 {
					clear(reads)
					c.tier.pipeGet(ctx, nd, keys, idx, reads, pos, make([]*getCmd, nkeys))
					for i, r := range reads {
						var err error
						switch {
						case r.err != nil:
							err = r.err
						case !r.found:
							err = redis.Nil
						}
						if err := check(i, r.env, err); err != nil {
							errs <- fmt.Errorf("pipeline: %w", err)
							return
						}
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
}

// TestL2HitsCountReads: L2Hits counts reads, not callers: with L1 off and
// every key fresh on its node, the hits equal the GETs the node served,
// and every call is either a hit of its own read or coalesced onto
// another caller's.
func TestL2HitsCountReads(t *testing.T) {
	nodes := startNodes(t, "cachenode", 1)
	c := newClient(t, Config{Tier: TierConfig{Addrs: addrsOf(nodes), Timeout: countingTimeout},
		L1: L1Config{Bytes: -1}, TTL: time.Hour})
	ctx := context.Background()
	keys := warmKeys(4)
	for _, k := range keys {
		if err := c.Set(ctx, k, []byte("v"), 0); err != nil {
			t.Fatal(err)
		}
	}
	before := c.Stats()
	const workers, each = 16, 200
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				if _, err := c.Get(ctx, keys[(w+i)%len(keys)], nil); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	st := c.Stats()
	hits, coalesced := st.L2Hits-before.L2Hits, st.Coalesced-before.Coalesced
	reqs := st.Nodes[0].Requests - before.Nodes[0].Requests
	if hits != reqs || st.L2Misses != before.L2Misses {
		t.Errorf("L2Hits +%d, L2Misses +%d, node requests +%d: want hits = requests, no misses", hits, st.L2Misses-before.L2Misses, reqs)
	}
	if hits+coalesced != workers*each {
		t.Errorf("hits %d + coalesced %d = %d calls, want %d", hits, coalesced, hits+coalesced, workers*each)
	}
	t.Logf("%d calls: %d reads, %d coalesced", workers*each, hits, coalesced)
}
