package cacheclient

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// node is one L2 node: its go-redis client, health state and counters.
type node struct {
	addr string
	rdb  *redis.Client

	// Health. fails counts consecutive failures; down is set when it reaches
	// the threshold and cleared by a successful probe.
	fails atomic.Int32
	down  atomic.Bool

	// Probe schedule for a down node, used only by the health goroutine.
	nextProbe time.Time
	backoff   time.Duration

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
	return &node{addr: addr, rdb: redis.NewClient(opt), latency: lat}
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
