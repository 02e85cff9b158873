package loadtest

import (
	"context"
	"time"
)

// Source says where a client served a value from.
type Source uint8

// Sources of a value, from fastest to slowest.
const (
	SourceUnknown Source = iota
	SourceL1             // the client's in-process cache
	SourceL2             // the cache tier
	SourceOrigin         // a load from the origin
)

// Outcome describes how one Get was served.
type Outcome struct {
	// Source is where the value came from.
	Source Source
	// Stale is true when an expired value was served because the origin failed.
	Stale bool
	// Shared is true when the call waited on another caller's load (coalesced).
	Shared bool
}

// Client is the cache client that each client process drives. The loadtest
// binary uses DefaultClient (cacheclient); a program that embeds the client
// process (RunClientProcess) can drive another implementation.
type Client interface {
	// Get returns key's value, appended to dst.
	Get(ctx context.Context, key string, dst []byte) ([]byte, Outcome, error)
	// IsShed reports whether err means the client refused the call to
	// protect the origin (load shedding), as opposed to a failure.
	IsShed(err error) bool
	// SetAddrs changes the tier membership (e.g. a node joined).
	SetAddrs(addrs []string) error
	// NodesUp returns how many tier nodes the client considers healthy,
	// or -1 when it cannot tell.
	NodesUp() int
	// Close releases the client's connections and goroutines.
	Close() error
}

// BatchGetter is implemented by a Client that reads many keys in one call
// (Config.Batch). A Client without it reads a batch with one Get per key.
type BatchGetter interface {
	// GetMany returns each key's value, outcome and error, in the order of
	// keys.
	GetMany(ctx context.Context, keys []string) ([][]byte, []Outcome, []error)
}

// ClientConfig is the cache-client configuration each client process uses;
// DefaultClient maps each field to the cacheclient.Config field named in its
// comment. Zero fields take the client library's defaults.
type ClientConfig struct {
	// L1Bytes is the in-process cache size in bytes (L1.Bytes).
	L1Bytes int `json:"l1_bytes,omitempty"`
	// TTL is how long a loaded value is fresh (TTL).
	TTL time.Duration `json:"ttl,omitempty"`
	// L1TTL, when shorter than TTL, caps how long the L1 copy is fresh, so
	// that more reads reach the tier (L1.TTL).
	L1TTL time.Duration `json:"l1_ttl,omitempty"`
	// StaleTTL is how long past TTL a value may be served when the origin
	// fails (StaleTTL).
	StaleTTL time.Duration `json:"stale_ttl,omitempty"`
	// LoadTimeout bounds one origin load (Origin.LoadTimeout).
	LoadTimeout time.Duration `json:"load_timeout,omitempty"`
	// OriginRPS is this process's origin rate limit (Origin.Rate; 0: none).
	OriginRPS float64 `json:"origin_rps,omitempty"`
	// OriginBurst is the limiter's burst (Origin.Burst).
	OriginBurst int `json:"origin_burst,omitempty"`
	// OriginMaxConcurrent bounds concurrent origin loads
	// (Origin.MaxConcurrent; 0: client default).
	OriginMaxConcurrent int `json:"origin_max_concurrent,omitempty"`
	// HealthInterval is the client's active health-check period
	// (Health.Interval).
	HealthInterval time.Duration `json:"health_interval,omitempty"`
	// L2Timeout bounds one call to the tier (Tier.Timeout).
	L2Timeout time.Duration `json:"l2_timeout,omitempty"`
	// DisableLeases turns tier-wide leases off (Tier.Leases.Disabled), so
	// that each process coalesces only its own misses: the behaviour before
	// leases, for comparisons.
	DisableLeases bool `json:"disable_leases,omitempty"`
	// DisableWarmup turns warm-up reads after an ownership change off
	// (Tier.Warmup.Disabled): a moved key's first miss on its new owner
	// goes to the origin, for comparisons.
	DisableWarmup bool `json:"disable_warmup,omitempty"`
	// Replicas is Tier.Replicas: how many nodes hold each key (0: the
	// client's default, 1).
	Replicas int `json:"replicas,omitempty"`
}

// ClientSetup is what a client process knows when it builds its Client.
type ClientSetup struct {
	// Addrs are the tier's node addresses (host:port).
	Addrs []string
	// OriginURL is the origin's base URL; a key's value is at OriginURL+key.
	OriginURL string
	// Config is the client configuration chosen by the run.
	Config ClientConfig
}
