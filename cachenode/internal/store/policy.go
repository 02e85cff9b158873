package store

import (
	"errors"
	"fmt"
	"strings"
)

// Policy is a maxmemory eviction policy, named as in redis.conf.
type Policy int

// The eviction policies. The zero value is AllKeysLRU, Redis's most common
// cache setting and cachenode's default.
const (
	// AllKeysLRU evicts the least recently used keys, among all keys.
	AllKeysLRU Policy = iota
	// NoEviction evicts nothing: writes fail with ErrOOM when memory is full.
	NoEviction
	// VolatileLRU evicts the least recently used keys among keys with a TTL.
	VolatileLRU
	// AllKeysRandom evicts random keys.
	AllKeysRandom
	// VolatileRandom evicts random keys among keys with a TTL.
	VolatileRandom
	// VolatileTTL evicts the keys with the nearest expire time.
	VolatileTTL
)

var policyNames = [...]string{
	AllKeysLRU:     "allkeys-lru",
	NoEviction:     "noeviction",
	VolatileLRU:    "volatile-lru",
	AllKeysRandom:  "allkeys-random",
	VolatileRandom: "volatile-random",
	VolatileTTL:    "volatile-ttl",
}

// ErrOOM is returned by EnsureMemory when used memory is above the limit and
// the policy cannot free enough (noeviction, or a volatile-* policy with no
// key that has a TTL). The server answers it with Redis's
// "-OOM command not allowed when used memory > 'maxmemory'." reply.
var ErrOOM = errors.New("store: out of memory")

// ErrUnknownPolicy is returned (wrapped) by ParsePolicy for a name it does not know.
var ErrUnknownPolicy = errors.New("store: unknown maxmemory policy")

// ParsePolicy returns the policy named as in redis.conf (case-insensitive),
// e.g. "allkeys-lru". The LFU policies ("allkeys-lfu", "volatile-lfu") are
// not implemented and return an error, as does any other name.
func ParsePolicy(name string) (Policy, error) {
	n := strings.ToLower(name)
	for p, s := range policyNames {
		if s == n {
			return Policy(p), nil
		}
	}
	if n == "allkeys-lfu" || n == "volatile-lfu" {
		return 0, fmt.Errorf("%w: %q (LFU policies are not supported)", ErrUnknownPolicy, name)
	}
	return 0, fmt.Errorf("%w: %q", ErrUnknownPolicy, name)
}

// String returns the redis.conf name of p.
func (p Policy) String() string {
	if p >= 0 && int(p) < len(policyNames) {
		return policyNames[p]
	}
	return fmt.Sprintf("Policy(%d)", int(p))
}

// volatile reports whether p only evicts keys that have a TTL.
func (p Policy) volatile() bool {
	return p == VolatileLRU || p == VolatileRandom || p == VolatileTTL
}
