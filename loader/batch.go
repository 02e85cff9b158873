package loader

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
)

// KeyResult is one key's outcome in a batch load: a Result, or Err for this
// key alone (ErrNotFound, possibly wrapped, when the origin does not have it).
type KeyResult struct {
	Result
	// Err is nil when Result holds the key's value.
	Err error
}

// BatchLoader loads many keys from the origin in one call: a multi-get
// endpoint, a SQL query with IN (...), [Parallel] over a single-key
// [Loader], or [HTTPBatch].
//
// LoadMany returns one KeyResult per key, in the order of keys (the same
// length; keys are distinct). A key's failure goes in its KeyResult.Err; an
// error return fails every key of the call (the origin was unreachable, the
// response unreadable). It must respect ctx.
type BatchLoader interface {
	LoadMany(ctx context.Context, keys []string) ([]KeyResult, error)
}

// BatchFunc adapts a function to BatchLoader.
type BatchFunc func(ctx context.Context, keys []string) ([]KeyResult, error)

// LoadMany calls f(ctx, keys).
func (f BatchFunc) LoadMany(ctx context.Context, keys []string) ([]KeyResult, error) {
	return f(ctx, keys)
}

// DefaultParallel is the bound of [Parallel] when n ≤ 0.
const DefaultParallel = 8

// Parallel turns a single-key Loader into a BatchLoader that loads the keys
// of a call with at most n loads running at a time (n ≤ 0:
// DefaultParallel). A load that panics fails its key with a *PanicError;
// the others go on.
func Parallel(l Loader, n int) BatchLoader {
	if n <= 0 {
		n = DefaultParallel
	}
	return parallel{l: l, n: n}
}

type parallel struct {
	l Loader
	n int
}

func (p parallel) LoadMany(ctx context.Context, keys []string) ([]KeyResult, error) {
	res := make([]KeyResult, len(keys))
	if len(keys) == 1 {
		res[0] = loadOne(ctx, p.l, keys[0])
		return res, nil
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, p.n)
	for i, k := range keys {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		// Checked after the select too: when a slot and the cancellation
		// are both ready, select may take the slot.
		if err := ctx.Err(); err != nil {
			for j := i; j < len(keys); j++ {
				res[j].Err = err
			}
			wg.Wait()
			return res, nil
		}
		wg.Go(func() {
			defer func() { <-sem }()
			res[i] = loadOne(ctx, p.l, k)
		})
	}
	wg.Wait()
	return res, nil
}

// loadOne runs one Load, turning a panic into a *PanicError.
func loadOne(ctx context.Context, l Loader, key string) (kr KeyResult) {
	defer func() {
		if v := recover(); v != nil {
			kr = KeyResult{Err: &PanicError{Value: v, Stack: debug.Stack()}}
		}
	}()
	r, err := l.Load(ctx, key)
	return KeyResult{Result: r, Err: err}
}

// Single turns a BatchLoader into a Loader that loads one key per call
// (for code paths that load a single key, such as a background refresh).
func Single(b BatchLoader) Loader {
	return Func(func(ctx context.Context, key string) (Result, error) {
		rs, err := b.LoadMany(ctx, []string{key})
		if err != nil {
			return Result{}, err
		}
		if len(rs) != 1 {
			return Result{}, fmt.Errorf("loader: LoadMany returned %d results for 1 key", len(rs))
		}
		return rs[0].Result, rs[0].Err
	})
}
