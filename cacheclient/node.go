package cacheclient

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/cachetier/cachetier/ring"
)

// node is one L2 node: its go-redis client, health state and counters.
type node struct {
	addr string
	opt  redis.Options                // for the clients resetPool builds
	pool atomic.Pointer[redis.Client] // the current client (client())

	// Coherence (coherence.go). coherent is true while the channel is up
	// and pool redirects its tracking to it.
	ch       *channel // nil when coherence is off
	coherent atomic.Bool
	mu       sync.Mutex             // protects retired
	retired  map[*redis.Client]bool // replaced clients not yet closed

	// Health. fails counts consecutive failures; down is set when it reaches
	// the threshold and cleared by a successful probe.
	fails atomic.Int32
	down  atomic.Bool

	// Probe schedule for a down node (health.go), guarded by tier.mu:
	// the next re-probe, the current delay between re-probes, the first
	// delay of the current down spell, and when the node was last marked up.
	nextProbe    time.Time
	backoff      time.Duration
	firstBackoff time.Duration
	upAt         time.Time

	// slot is the slot the node reported (CONFIG GET slot) when it last
	// connected: slotNone if it reports none, slotUnknown before it answered.
	slot atomic.Int32

	// inflight counts this client's requests to the node in progress (hot
	// keys read from the less loaded replica: hotkeys.go).
	inflight atomic.Int64

	// Counters.
	requests  atomic.Uint64
	errors    atomic.Uint64
	downMarks atomic.Uint64

	latency prometheus.Observer // L2 request latency, seconds
}

func newNode(addr string, cfg *TierConfig, lat prometheus.Observer) *node {
	opt := &redis.Options{
		Addr:          addr,
		Password:      cfg.Password,
		DialTimeout:   cfg.DialTimeout,
		DialerRetries: 1,
		// Every call carries a context deadline (Timeout, more for big
		// writes); these are only a backstop.
		ReadTimeout:     cfg.Timeout + time.Second,
		WriteTimeout:    cfg.Timeout + time.Second,
		MaxRetries:      -1, // a retry would double the cost of a dead node
		PoolSize:        cfg.PoolSize,
		PoolTimeout:     cfg.Timeout,
		DisableIdentity: true, // no CLIENT SETINFO: keep the handshake minimal
		// ContextTimeoutEnabled makes go-redis honour the per-call deadline
		// set from Timeout, dial included.
		ContextTimeoutEnabled: true,
		MaintNotificationsConfig: &maintnotifications.Config{
			Mode: maintnotifications.ModeDisabled,
		},
	}
	nd := &node{addr: addr, opt: *opt, latency: lat}
	nd.slot.Store(slotUnknown)
	nd.pool.Store(redis.NewClient(opt))
	return nd
}

// Values of node.slot besides a slot number.
const (
	slotNone    = -1 // the node reports no slot
	slotUnknown = -2 // the node has not answered yet
)

// readSlot asks the node for its slot with CONFIG GET slot, the question a
// client asks once when a node joins and each time it comes back up.
// cachenode answers its --slot ("" without one); stock redis-server answers
// an empty array, and a server that refuses the command (an error reply,
// e.g. CONFIG renamed away) reports no slot either: both give slotNone. An
// answer that is not a slot number also counts as none. A network failure
// or timeout returns slotUnknown and the error.
//
// The question goes over a connection of its own, closed after it, so
// that the pool's connections are only those dialled for requests (with
// coherence, tracked ones).
func (nd *node) readSlot(ctx context.Context) (int, error) {
	opt := nd.opt
	opt.PoolSize, opt.MinIdleConns, opt.MaxIdleConns = 1, 0, 0
	cl := redis.NewClient(&opt)
	defer cl.Close()
	m, err := cl.ConfigGet(ctx, "slot").Result()
	if err != nil {
		if isNodeFailure(err) {
			return slotUnknown, err
		}
		return slotNone, nil
	}
	v, ok := m["slot"]
	if !ok || v == "" {
		return slotNone, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n >= ring.MaxSlots {
		return slotNone, nil
	}
	return n, nil
}

// client returns the node's current go-redis client.
func (nd *node) client() *redis.Client { return nd.pool.Load() }

// getCmd is a reusable GET: a go-redis StringCmd and its arguments, the key
// given by pointer (go-redis writes a *string argument as the string), so
// that a GET allocates neither the command, nor its argument slice, nor a
// boxed key. node.get takes one from getCmds for each request and puts it
// back when it has read the result (go-redis keeps no reference to a
// command once Process has returned).
type getCmd struct {
	key  string
	args [2]any
	cmd  *redis.StringCmd
}

var getCmds = sync.Pool{New: func() any {
	g := new(getCmd)
	g.args = [2]any{"get", &g.key}
	g.cmd = redis.NewStringCmd(context.Background(), g.args[:]...)
	return g
}}

// get is client().Get(ctx, key).Result() with a pooled command: the reply
// string is its only allocation of its own.
func (nd *node) get(ctx context.Context, key string) (string, error) {
	g := getCmds.Get().(*getCmd)
	g.key = key
	_ = nd.client().Process(ctx, g.cmd)
	v, err := g.cmd.Result()
	putGetCmd(g)
	return v, err
}

// putGetCmd resets g and puts it back in getCmds.
func putGetCmd(g *getCmd) {
	g.key = ""
	g.cmd.SetVal("")
	g.cmd.SetErr(nil)
	getCmds.Put(g)
}

// retireDelay is how long (at least) a replaced client stays open for the
// requests still using it.
const retireDelay = 2 * time.Second

// resetPool replaces the node's client with one whose connections run
// CLIENT TRACKING ON REDIRECT id NOLOOP as they are dialled (NOLOOP: a
// connection's own writes, such as a lease write-back after its WATCH GET,
// do not invalidate this client's fresh copy). A connection on which
// tracking is refused makes the node incoherent (counted), flushes L1 and
// redials the channel. The old client is closed after retireDelay.
func (nd *node) resetPool(t *tier, id int64) {
	opt := nd.opt
	sid := strconv.FormatInt(id, 10)
	opt.OnConnect = func(ctx context.Context, cn *redis.Conn) error {
		if err := cn.Do(ctx, "CLIENT", "TRACKING", "ON", "REDIRECT", sid, "NOLOOP").Err(); err != nil {
			t.st.trackingRefused.Add(1)
			if nd.coherent.CompareAndSwap(true, false) {
				t.log.Warn("cacheclient: CLIENT TRACKING refused; L1 entries from this node are not coherent", "node", nd.addr, "err", err)
				t.co.flush()
				if nd.ch != nil {
					nd.ch.kick()
				}
			}
		}
		return nil // the connection still serves plain reads
	}
	old := nd.pool.Swap(redis.NewClient(&opt))
	nd.mu.Lock()
	if nd.retired == nil {
		nd.retired = map[*redis.Client]bool{}
	}
	nd.retired[old] = true
	nd.mu.Unlock()
	// Long enough for a request that took the old client just before the
	// swap (each is bounded by Timeout, dial included).
	time.AfterFunc(max(retireDelay, 2*t.cfg.Timeout+t.cfg.DialTimeout), func() {
		nd.mu.Lock()
		ok := nd.retired[old]
		delete(nd.retired, old)
		nd.mu.Unlock()
		if ok {
			_ = old.Close()
		}
	})
}

// close stops the channel and closes every client of the node.
func (nd *node) close() error {
	if nd.ch != nil {
		nd.ch.close()
	}
	nd.mu.Lock()
	var errs []error
	for old := range nd.retired {
		_ = old.Close()
	}
	nd.retired = nil
	nd.mu.Unlock()
	if err := nd.client().Close(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// isNodeFailure reports whether err says something about the node's health
// (network error, timeout) rather than about the request (a miss, a Redis
// error reply such as OOM, the caller giving up, the client being closed).
func isNodeFailure(err error) bool {
	if err == nil || errors.Is(err, redis.Nil) || errors.Is(err, redis.ErrClosed) {
		return false
	}
	var re redis.Error
	if errors.As(err, &re) {
		return false
	}
	return true
}
