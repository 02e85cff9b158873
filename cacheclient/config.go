package cacheclient

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Config configures a Client. The zero value works: a client with an L1 and no
// nodes, which coalesces and limits origin loads but shares nothing between
// processes. Each field's comment gives its default.
type Config struct {
	// Addrs is the static list of nodes (host:port). Ignored when Discovery
	// is set. Default: none (L1 and origin only).
	Addrs []string
	// Discovery, when set, supplies the node list and its changes; it
	// overrides Addrs. The client runs its Watch on a goroutine it owns and
	// stops it in Close.
	Discovery Discoverer

	// Password is sent with AUTH (HELLO) on every node connection. Default: none.
	Password string
	// DialTimeout bounds connecting to a node. Default: 100ms. Every L2 call
	// is also bounded by L2Timeout, dial included.
	DialTimeout time.Duration
	// L2Timeout bounds every single L2 request (GET, SET, DEL, PING): what a
	// dead or black-holed node can cost a request before it is marked down.
	// Writes get 10ns per byte more (about 100 MB/s); reads do not, so make
	// L2Timeout cover reading the largest value you cache. Default: 50ms.
	L2Timeout time.Duration
	// PoolSize is the number of connections per node. Default: go-redis's
	// default, 10 per GOMAXPROCS.
	PoolSize int

	// L1Bytes bounds the in-process cache (fastcache; it rounds anything
	// below 32 MiB up to 32 MiB). Default: 64 MiB. A negative value disables
	// L1. fastcache splits memory into 512 buckets that each hold
	// L1Bytes/512 and are recycled whole; values of tens of KiB and more
	// (big values are stored in ~64 KiB pieces) stay in L1 reliably only with
	// a few pieces' worth per bucket: use 256 MiB or more for MiB-sized
	// values. A partly evicted big value is an L1 miss, served from L2.
	L1Bytes int
	// TTL is how long a loaded or Set value stays fresh (T1 = now+TTL) when
	// the loader does not say. Default: 1 minute.
	TTL time.Duration
	// StaleTTL is how long past T1 an entry may still be served stale
	// (T2 = T1+StaleTTL) when the origin fails or is shed, or with
	// StaleWhileRevalidate. It is also why the L2 copy's Redis TTL is T2.
	// Default: 5 minutes. A negative value disables stale serving.
	StaleTTL time.Duration
	// NegativeTTL is how long a loader.ErrNotFound answer is cached.
	// Default: 10 seconds. A negative value disables negative caching.
	NegativeTTL time.Duration
	// L1TTL, when shorter than an entry's TTL, caps how long the L1 copy is
	// fresh, so that values changed elsewhere (Set or Delete in another
	// process) are picked up from L2 sooner. Default: 0 (the entry's TTL).
	L1TTL time.Duration

	// LoadTimeout bounds one origin load. The load runs detached from the
	// callers that wait for it, so one caller giving up does not fail it for
	// the others. Default: 5 seconds.
	LoadTimeout time.Duration
	// StaleWhileRevalidate answers a request for a stale entry (past T1,
	// before T2) at once with the stale value and refreshes the key in the
	// background, once per key at a time. Default: false (a stale entry is
	// reloaded in the foreground and served only if the origin fails).
	StaleWhileRevalidate bool

	// OriginMaxConcurrent caps origin loads in flight from this client.
	// Default: 64. A negative value removes the cap.
	OriginMaxConcurrent int
	// OriginRate caps origin loads per second from this client (token
	// bucket). Default: 0, no rate cap.
	OriginRate float64
	// OriginBurst is the token bucket's size when OriginRate is set.
	// Default: 1.
	OriginBurst int
	// ErrorBackoff is how long, after an origin load of a key fails (an
	// error or a timeout; loader.ErrNotFound is an answer, not a failure),
	// further loads of that key do not reach the origin: they are answered
	// with a stale value if one is inside its window (Info.Stale), else at
	// once with the last error (wrapping ErrOriginBackoff and the origin's
	// error). The window doubles with each consecutive failure of the key up
	// to ErrorBackoffMax, is jittered down by up to 25%, and ends at the
	// first success. State is kept for at most 8192 keys (a fixed table; see
	// README). Default: 500ms. A negative value disables the backoff: every
	// miss retries the origin (still one load per key at a time).
	ErrorBackoff time.Duration
	// ErrorBackoffMax caps the backoff window. Default: 10 seconds (or
	// ErrorBackoff if larger).
	ErrorBackoffMax time.Duration

	// FailureThreshold is the number of consecutive failed L2 requests
	// (network errors, timeouts) after which a node is marked down and its
	// keys go to their failover owners. Default: 3.
	FailureThreshold int
	// HealthInterval is how often nodes are PINGed. A down node is probed
	// with jittered exponential backoff starting at HealthInterval and capped
	// at 8×HealthInterval; one successful PING marks it up. Default: 500ms.
	HealthInterval time.Duration
	// FailoverTTL caps the Redis TTL of entries written to a failover owner,
	// so that their copies vanish soon after the real owner returns.
	// Default: 10 seconds.
	FailoverTTL time.Duration

	// Logger receives node up/down transitions and origin failures.
	// Default: discard.
	Logger *slog.Logger
}

// withDefaults returns cfg with zero fields filled in, or an error for values
// that make no sense.
func (cfg Config) withDefaults() (Config, error) {
	var errs []error
	neg := func(name string, d time.Duration) {
		if d < 0 {
			errs = append(errs, fmt.Errorf("cacheclient: %s must not be negative, got %v", name, d))
		}
	}
	neg("DialTimeout", cfg.DialTimeout)
	neg("L2Timeout", cfg.L2Timeout)
	neg("TTL", cfg.TTL)
	neg("L1TTL", cfg.L1TTL)
	neg("LoadTimeout", cfg.LoadTimeout)
	neg("HealthInterval", cfg.HealthInterval)
	neg("FailoverTTL", cfg.FailoverTTL)
	neg("ErrorBackoffMax", cfg.ErrorBackoffMax)
	if cfg.OriginRate < 0 {
		errs = append(errs, fmt.Errorf("cacheclient: OriginRate must not be negative, got %v", cfg.OriginRate))
	}
	if len(errs) > 0 {
		return cfg, errors.Join(errs...)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&cfg.DialTimeout, 100*time.Millisecond)
	def(&cfg.L2Timeout, 50*time.Millisecond)
	def(&cfg.TTL, time.Minute)
	def(&cfg.StaleTTL, 5*time.Minute)
	def(&cfg.NegativeTTL, 10*time.Second)
	def(&cfg.LoadTimeout, 5*time.Second)
	def(&cfg.HealthInterval, 500*time.Millisecond)
	def(&cfg.FailoverTTL, 10*time.Second)
	def(&cfg.ErrorBackoff, 500*time.Millisecond)
	def(&cfg.ErrorBackoffMax, 10*time.Second)
	if cfg.ErrorBackoff > 0 && cfg.ErrorBackoffMax < cfg.ErrorBackoff {
		cfg.ErrorBackoffMax = cfg.ErrorBackoff
	}
	if cfg.StaleTTL < 0 {
		cfg.StaleTTL = 0
	}
	if cfg.L1Bytes == 0 {
		cfg.L1Bytes = 64 << 20
	}
	if cfg.OriginMaxConcurrent == 0 {
		cfg.OriginMaxConcurrent = 64
	}
	if cfg.OriginBurst <= 0 {
		cfg.OriginBurst = 1
	}
	if cfg.FailureThreshold <= 0 {
		cfg.FailureThreshold = 3
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg, nil
}
