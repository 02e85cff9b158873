// Package loader is the origin side of cachetier's client: the [Loader]
// interface a service implements to fetch a key from its database or backend
// service, adapters ([Func], [HTTP]), its batch form ([BatchLoader]: many keys
// in one call, with [BatchFunc], [Parallel] over a Loader and [HTTPBatch]),
// miss coalescing ([Group]) and origin protection ([Limiter]).
//
// A cache exists to keep load off the origin, so everything here is about
// bounding what the origin sees:
//
//   - [Group] makes concurrent misses for one key share a single load (a
//     thundering herd of a thousand goroutines costs one origin call), detaches
//     that load from any one caller's cancellation and bounds it with a timeout.
//   - [Limiter] caps origin loads by concurrency and/or rate and never queues:
//     [Limiter.TryAcquire] refuses a load beyond the limit at once, so the
//     caller can serve a stale value or shed the request.
//
// The package does no caching itself; cacheclient combines these pieces with
// its two cache levels.
package loader

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned by a Loader when the key does not exist at the origin;
// cacheclient caches it as a negative entry.
var ErrNotFound = errors.New("loader: not found")

// Result is what a load produced. TTL 0 means "use the client's default".
//
// Value is owned by the caller once Load returns; a Loader must not modify it
// afterwards.
type Result struct {
	// Value is the loaded value; it may be empty.
	Value []byte
	// TTL is how long the value stays fresh; 0 means the client's default.
	TTL time.Duration
}

// Loader loads one key from the origin.
//
// Load returns ErrNotFound (possibly wrapped) when the key does not exist, and
// any other error when the origin failed. It must respect ctx: a load that
// outlives its context only ties up origin capacity.
type Loader interface {
	Load(ctx context.Context, key string) (Result, error)
}

// Func adapts a function to Loader.
type Func func(ctx context.Context, key string) (Result, error)

// Load calls f(ctx, key).
func (f Func) Load(ctx context.Context, key string) (Result, error) {
	return f(ctx, key)
}
