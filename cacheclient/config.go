package cacheclient

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cachetier/cachetier/loader"
)

// Config configures a Client. The zero value works: a client with an L1 and no
// nodes, which coalesces and limits origin loads but shares nothing between
// processes. Each field's comment gives its default; New fills them in.
type Config struct {
	// Tier is the node tier (L2): where the nodes are and how to talk to
	// them. Default: no nodes.
	Tier TierConfig
	// Discovery, when set, supplies the node list and its changes; it
	// overrides Tier.Addrs. The client runs its Watch on a goroutine it owns
	// and stops it in Close; New waits up to 2 seconds for the first node
	// set, and fails if Watch fails before reporting one. Default: nil
	// (Tier.Addrs, fixed).
	Discovery Discoverer
	// L1 is the in-process cache. Default: 64 MiB.
	L1 L1Config
	// Origin is how the client calls loaders: timeout, limiter, error
	// backoff. Default: at most 64 loads in flight, no rate cap.
	Origin OriginConfig
	// Health is how node failures are detected and recoveries noticed.
	// Default: a node is down after 3 failed requests; PING every 500ms.
	Health HealthConfig

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
	// StaleWhileRevalidate answers a request for a stale entry (past T1,
	// before T2) at once with the stale value and refreshes the key in the
	// background, once per key at a time. Default: false (a stale entry is
	// reloaded in the foreground and served only if the origin fails).
	StaleWhileRevalidate bool

	// Logger receives node up/down transitions, membership changes and
	// origin failures served stale. Default: discard.
	Logger *slog.Logger
}

// TierConfig configures the node tier (L2).
type TierConfig struct {
	// Addrs is the static list of nodes (host:port), in join order: append
	// new nodes at the end. Ignored when Config.Discovery is set. Default:
	// none (L1 and origin only).
	Addrs []string
	// Password is sent with AUTH (HELLO) on every node connection. Default:
	// none.
	Password string
	// DialTimeout bounds connecting to a node. Every L2 request is also
	// bounded by Timeout, dial included. Default: 100ms.
	DialTimeout time.Duration
	// Timeout bounds every single L2 request (GET, SET, DEL, PING): what a
	// dead or black-holed node can cost a request before it is marked down.
	// Writes get 10ns per byte more (about 100 MB/s); reads do not, so make
	// Timeout cover reading the largest value you cache. Default: 50ms.
	Timeout time.Duration
	// PoolSize is the number of connections per node. Default: go-redis's
	// default, 10 per GOMAXPROCS.
	PoolSize int
	// FailoverTTL caps the Redis TTL of entries written to a failover owner
	// (a key's owner is marked down), so that their copies vanish soon after
	// the real owner returns. Default: 10 seconds.
	FailoverTTL time.Duration
	// Leases make the key's node the place where misses meet, so that a
	// herd on a cold (or stale) key costs one origin load for the whole
	// tier rather than one per process (see the package documentation,
	// "Leases"). Default: on, with a lease TTL of Origin.LoadTimeout plus
	// 4×Timeout.
	Leases LeaseConfig
	// Replicas is how many nodes hold each key: its live owner and the
	// next Replicas-1 live owners in its ring sequence, the nodes that take
	// it over when the ones before them are down. Every write goes to all
	// of them; reads go to the live owner, so a node's death leaves its
	// keys warm on their new owner (see the package documentation,
	// "Replicas"). Default: 1 (no copies); 2 is the usual choice against
	// node loss, at twice the memory and write traffic. At most 8.
	Replicas int
	// Warmup makes a miss on a key whose owner just changed (a node joined
	// or came back) read the key's previous owner before the origin, and
	// copy what it finds (see the package documentation, "Warm-up").
	// Default: on, for one minute after each change.
	Warmup WarmupConfig
	// HotKeys finds the keys this client reads most from the tier (reported
	// in Stats.HotKeys and the metrics) and, with Replicas ≥ 2, spreads the
	// reads of each hot key over its replicas (see the package
	// documentation, "Hot keys"). Default: on, a key being hot from 1% of
	// the reads.
	HotKeys HotKeysConfig
}

// HotKeysConfig configures hot-key detection. The zero value means on, with
// the default share.
type HotKeysConfig struct {
	// Disabled turns hot-key detection off: no sketch, no Stats.HotKeys,
	// and every read goes to the key's live owner. Default: false.
	Disabled bool
	// MinShare is the share of this client's recent L2 reads from which a
	// key counts as hot (and, with Replicas ≥ 2, is read from the less
	// loaded of its replicas). Default: 0.01.
	MinShare float64
}

// WarmupConfig configures warm-up reads after an ownership change. The zero
// value means on, with the default window.
type WarmupConfig struct {
	// Disabled turns warm-up reads off: a moved key's first miss on its new
	// owner goes to the origin. Default: false.
	Disabled bool
	// Window is how long after an ownership change misses read the previous
	// owner (and writes delete the key there too). Default: 1 minute.
	Window time.Duration
}

// LeaseConfig configures tier-wide leases. The zero value means leases on,
// with the default TTL.
type LeaseConfig struct {
	// Disabled turns leases off: each process then coalesces only its own
	// misses (one origin load per key per process), as before leases.
	// Default: false.
	Disabled bool
	// TTL is how long a lease holds the key against other processes: past
	// it, a process waiting for the holder's value takes the lease over and
	// loads itself. It should cover the holder's origin load and its write
	// back. Default: Origin.LoadTimeout + 4×Tier.Timeout.
	TTL time.Duration
}

// L1Config configures the in-process cache.
type L1Config struct {
	// Bytes bounds the in-process cache (fastcache; it rounds anything
	// below 32 MiB up to 32 MiB). Default: 64 MiB. A negative value disables
	// L1. fastcache splits memory into 512 buckets that each hold Bytes/512
	// and are recycled whole; values of tens of KiB and more (big values are
	// stored in ~64 KiB pieces) stay in L1 reliably only with a few pieces'
	// worth per bucket: use 256 MiB or more for MiB-sized values. A partly
	// evicted big value is an L1 miss, served from L2.
	Bytes int
	// TTL, when shorter than an entry's TTL, caps how long the L1 copy is
	// fresh whatever happens. With coherence on, writes elsewhere reach L1
	// through invalidations; TTL bounds entries that no invalidation
	// channel covers. Default: 0 (the entry's TTL).
	TTL time.Duration
	// Coherence keeps L1 coherent with the nodes (CLIENT TRACKING): a
	// write to a key anywhere drops every client's L1 copy within
	// milliseconds. Default: on.
	Coherence CoherenceConfig
}

// CoherenceConfig configures L1 coherence. The zero value means on.
type CoherenceConfig struct {
	// Disabled turns coherence off: no invalidation channels, no tracking;
	// an L1 copy is fresh for its TTL (capped by L1.TTL) whatever happens
	// elsewhere, and its hits count as Stats.IncoherentHits. Default:
	// false.
	Disabled bool
}

// OriginConfig configures how the client calls loaders. The client applies
// one limiter to every load: Limiter if set, else one it builds from
// MaxConcurrent, Rate and Burst. A load the limiter refuses is shed (a stale
// value is served, else ErrShed), never counted as an origin failure.
type OriginConfig struct {
	// LoadTimeout bounds one origin load. The load runs detached from the
	// callers that wait for it, so one caller giving up does not fail it for
	// the others. Default: 5 seconds.
	LoadTimeout time.Duration
	// MaxConcurrent caps origin loads in flight from this client. Default:
	// 64. A negative value removes the cap.
	MaxConcurrent int
	// Rate caps origin loads per second from this client (token bucket).
	// Default: 0, no rate cap.
	Rate float64
	// Burst is the token bucket's size when Rate is set. Default: 1.
	Burst int
	// Limiter, when set, is the limiter the client applies instead of
	// building one; several Clients given the same Limiter share its
	// budget. MaxConcurrent, Rate and Burst must then be zero. Default: nil.
	Limiter *loader.Limiter
	// ErrorBackoff is how long, after an origin load of a key fails (an
	// error, a timeout or a panic; loader.ErrNotFound is an answer, not a
	// failure), further loads of that key do not reach the origin: they are
	// answered with a stale value if one is inside its window (Info.Stale),
	// else at once with a *LoadError wrapping ErrOriginBackoff and the
	// origin's last error. The window doubles with each consecutive failure
	// of the key up to ErrorBackoffMax, is jittered down by up to 25%, and
	// ends at the first success or a Set of the key. State is kept for at
	// most 8192 keys (a fixed table: with more failing keys, some are retried
	// early). Default: 500ms. A negative value disables the backoff: every
	// miss retries the origin (still one load per key at a time).
	ErrorBackoff time.Duration
	// ErrorBackoffMax caps the backoff window. Default: 10 seconds (or
	// ErrorBackoff if larger).
	ErrorBackoffMax time.Duration
}

// HealthConfig configures node failure detection.
type HealthConfig struct {
	// FailureThreshold is the number of consecutive failed L2 requests
	// (network errors, timeouts) after which a node is marked down and its
	// keys go to their failover owners. Default: 3.
	FailureThreshold int
	// Interval is how often up nodes are PINGed. A down node is probed
	// with jittered exponential backoff starting at Interval/8 (so that a
	// node away only for a restart is found again quickly) and capped at
	// 8×Interval; a node marked down again within 8×Interval of coming up
	// starts at twice its last starting delay instead. One successful PING
	// marks it up. Default: 500ms.
	Interval time.Duration
}

// withDefaults returns cfg with zero fields filled in, or an error naming
// every field whose value makes no sense.
func (cfg Config) withDefaults() (Config, error) {
	var errs []error
	neg := func(name string, d time.Duration) {
		if d < 0 {
			errs = append(errs, fmt.Errorf("cacheclient: %s must not be negative, got %v", name, d))
		}
	}
	neg("Tier.DialTimeout", cfg.Tier.DialTimeout)
	neg("Tier.Timeout", cfg.Tier.Timeout)
	neg("Tier.FailoverTTL", cfg.Tier.FailoverTTL)
	neg("Tier.Leases.TTL", cfg.Tier.Leases.TTL)
	neg("Tier.Warmup.Window", cfg.Tier.Warmup.Window)
	if m := cfg.Tier.HotKeys.MinShare; m < 0 || m > 1 || m != m {
		errs = append(errs, fmt.Errorf("cacheclient: Tier.HotKeys.MinShare must be between 0 and 1, got %v", m))
	}
	if cfg.Tier.Replicas < 0 || cfg.Tier.Replicas > maxReplicas {
		errs = append(errs, fmt.Errorf("cacheclient: Tier.Replicas must be 0 to %d, got %d", maxReplicas, cfg.Tier.Replicas))
	}
	neg("L1.TTL", cfg.L1.TTL)
	neg("Origin.LoadTimeout", cfg.Origin.LoadTimeout)
	neg("Origin.ErrorBackoffMax", cfg.Origin.ErrorBackoffMax)
	neg("Health.Interval", cfg.Health.Interval)
	neg("TTL", cfg.TTL)
	if cfg.Origin.Rate < 0 {
		errs = append(errs, fmt.Errorf("cacheclient: Origin.Rate must not be negative, got %v", cfg.Origin.Rate))
	}
	if o := cfg.Origin; o.Limiter != nil && (o.MaxConcurrent != 0 || o.Rate != 0 || o.Burst != 0) {
		errs = append(errs, errors.New("cacheclient: Origin.Limiter is set, so Origin.MaxConcurrent, Rate and Burst must be zero "+
			"(they configure the limiter the client builds when Limiter is nil)"))
	}
	if len(errs) > 0 {
		return cfg, errors.Join(errs...)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&cfg.Tier.DialTimeout, 100*time.Millisecond)
	def(&cfg.Tier.Timeout, 50*time.Millisecond)
	def(&cfg.Tier.FailoverTTL, 10*time.Second)
	def(&cfg.Origin.LoadTimeout, 5*time.Second)
	def(&cfg.Tier.Leases.TTL, cfg.Origin.LoadTimeout+4*cfg.Tier.Timeout)
	def(&cfg.Tier.Warmup.Window, warmupWindow)
	if cfg.Tier.HotKeys.MinShare == 0 {
		cfg.Tier.HotKeys.MinShare = defaultHotShare
	}
	if cfg.Tier.Replicas == 0 {
		cfg.Tier.Replicas = 1
	}
	def(&cfg.Origin.ErrorBackoff, 500*time.Millisecond)
	def(&cfg.Origin.ErrorBackoffMax, 10*time.Second)
	def(&cfg.Health.Interval, 500*time.Millisecond)
	def(&cfg.TTL, time.Minute)
	def(&cfg.StaleTTL, 5*time.Minute)
	def(&cfg.NegativeTTL, 10*time.Second)
	if cfg.Origin.ErrorBackoff > 0 && cfg.Origin.ErrorBackoffMax < cfg.Origin.ErrorBackoff {
		cfg.Origin.ErrorBackoffMax = cfg.Origin.ErrorBackoff
	}
	if cfg.StaleTTL < 0 {
		cfg.StaleTTL = 0
	}
	if cfg.L1.Bytes == 0 {
		cfg.L1.Bytes = 64 << 20
	}
	if cfg.Origin.Limiter == nil {
		if cfg.Origin.MaxConcurrent == 0 {
			cfg.Origin.MaxConcurrent = 64
		}
		if cfg.Origin.Burst <= 0 {
			cfg.Origin.Burst = 1
		}
	}
	if cfg.Health.FailureThreshold <= 0 {
		cfg.Health.FailureThreshold = 3
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg, nil
}

// limiter returns the origin limiter cfg (with defaults) asks for.
func (o OriginConfig) limiter() *loader.Limiter {
	if o.Limiter != nil {
		return o.Limiter
	}
	return loader.NewLimiter(max(o.MaxConcurrent, 0), o.Rate, o.Burst)
}
