package cacheclient

import (
	"errors"
	"fmt"
)

// ErrShed is returned when a value could be served neither from the cache
// (fresh or stale) nor by an origin load, because the origin limiter refused
// the load. It is returned at once: requests are shed, never queued.
var ErrShed = errors.New("cacheclient: load shed")

// ErrClosed is returned by calls made after Close.
var ErrClosed = errors.New("cacheclient: closed")

// ErrOriginBackoff is wrapped, inside a *LoadError and together with the
// origin's last error, in the error a load returns while its key is in origin
// error backoff and no stale value is at hand: the origin was not called. See
// OriginConfig.ErrorBackoff.
var ErrOriginBackoff = errors.New("cacheclient: origin backoff")

// LoadError is the error for a key whose origin load failed when no stale
// value was at hand to serve instead: the loader's error, a load that ran past
// OriginConfig.LoadTimeout, a loader that panicked (Err is then a
// *loader.PanicError), or a key in error backoff (Err wraps ErrOriginBackoff
// and the last failure). errors.Is and errors.As see through it to Err.
//
// A loader's loader.ErrNotFound is not a failure and is returned as itself;
// nor are ErrShed and the caller's own context error.
type LoadError struct {
	// Key is the key that could not be loaded.
	Key string
	// Err is the cause.
	Err error
}

// Error returns `cacheclient: load "key": ` followed by Err's message.
func (e *LoadError) Error() string { return fmt.Sprintf("cacheclient: load %q: %v", e.Key, e.Err) }

// Unwrap returns Err.
func (e *LoadError) Unwrap() error { return e.Err }
