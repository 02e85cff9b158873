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
	// AllKeysLFU evicts the least frequently used keys, among all keys, by
	// Redis's 8-bit logarithmic access counter with decay (lfu-log-factor,
	// lfu-decay-time).
	AllKeysLFU
	// VolatileLFU is AllKeysLFU among keys with a TTL.
	VolatileLFU
	// AllKeysTinyLFU, cachenode's own policy, evicts the keys with the
	// lowest access frequency as estimated by a per-shard count-min sketch
	// that also remembers keys no longer cached (TinyLFU), the least
	// recently used first among equal frequencies. It resists scans and
	// follows a shifting hot set; see the package's NOTES.md.
	AllKeysTinyLFU
	// VolatileTinyLFU is AllKeysTinyLFU among keys with a TTL.
	VolatileTinyLFU
)

var policyNames = [...]string{
	AllKeysLRU:     "allkeys-lru",
	NoEviction:     "noeviction",
	VolatileLRU:    "volatile-lru",
	AllKeysRandom:  "allkeys-random",
	VolatileRandom: "volatile-random",
	VolatileTTL:    "volatile-ttl",
	AllKeysLFU:     "allkeys-lfu",
	VolatileLFU:    "volatile-lfu",

	AllKeysTinyLFU:  "allkeys-tinylfu",
	VolatileTinyLFU: "volatile-tinylfu",
}

// PolicyNames lists the policy names ParsePolicy accepts: Redis's, in the
// order of its CONFIG SET error message, then cachenode's own.
const PolicyNames = "volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction, allkeys-tinylfu, volatile-tinylfu"

// ErrOOM is returned by EnsureMemory when used memory is above the limit and
// the policy cannot free enough (noeviction, or a volatile-* policy with no
// key that has a TTL). The server answers it with Redis's
// "-OOM command not allowed when used memory > 'maxmemory'." reply.
var ErrOOM = errors.New("store: out of memory")

// ErrUnknownPolicy is returned (wrapped) by ParsePolicy for a name it does not know.
var ErrUnknownPolicy = errors.New("store: unknown maxmemory policy")

// ParsePolicy returns the policy named as in redis.conf (case-insensitive),
// e.g. "allkeys-lru". An unknown name returns an error wrapping
// ErrUnknownPolicy.
func ParsePolicy(name string) (Policy, error) {
	n := strings.ToLower(name)
	for p, s := range policyNames {
		if s == n {
			return Policy(p), nil
		}
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
	return p == VolatileLRU || p == VolatileRandom || p == VolatileTTL || p == VolatileLFU || p == VolatileTinyLFU
}

// LFU reports whether p is one of Redis's LFU policies, under which an
// entry's clock field holds Redis's access counter and the minute of its
// last decrement instead of an LRU stamp (OBJECT FREQ works, OBJECT
// IDLETIME does not, as in Redis).
func (p Policy) LFU() bool { return p == AllKeysLFU || p == VolatileLFU }

// TinyLFU reports whether p is one of cachenode's TinyLFU policies.
func (p Policy) TinyLFU() bool { return p == AllKeysTinyLFU || p == VolatileTinyLFU }
