package cacheclient

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/cachetier/cachetier/loader"
)

// Codec turns T values into bytes and back for Typed.
type Codec[T any] interface {
	// Marshal appends the encoding of v to dst.
	Marshal(dst []byte, v T) ([]byte, error)
	// Unmarshal decodes data into a T.
	Unmarshal(data []byte) (T, error)
}

// JSON is the default Codec: encoding/json.
type JSON[T any] struct{}

// Marshal appends the JSON encoding of v to dst.
func (JSON[T]) Marshal(dst []byte, v T) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return dst, err
	}
	return append(dst, b...), nil
}

// Unmarshal decodes JSON data into a T.
func (JSON[T]) Unmarshal(data []byte) (T, error) {
	var v T
	err := json.Unmarshal(data, &v)
	return v, err
}

// Typed is a view of a Client that stores T values through a Codec. Values
// share the client's key space, levels, coalescing and origin protection.
type Typed[T any] struct {
	c     *Client
	codec Codec[T]
}

// NewTyped returns a typed view of c; codec nil means JSON[T].
func NewTyped[T any](c *Client, codec Codec[T]) *Typed[T] {
	if codec == nil {
		codec = JSON[T]{}
	}
	return &Typed[T]{c: c, codec: codec}
}

// TypedLoader loads a T for key from the origin; it may return
// loader.ErrNotFound. ttl 0 means the client's default.
type TypedLoader[T any] func(ctx context.Context, key string) (v T, ttl time.Duration, err error)

// Get is Client.Get for T values: the loader's value is encoded before it is
// cached, and the cached bytes are decoded on the way out.
func (t *Typed[T]) Get(ctx context.Context, key string, load TypedLoader[T]) (T, error) {
	v, _, err := t.GetInfo(ctx, key, load)
	return v, err
}

// GetInfo is Client.GetInfo for T values.
func (t *Typed[T]) GetInfo(ctx context.Context, key string, load TypedLoader[T]) (T, Info, error) {
	var zero T
	var l loader.Loader
	if load != nil {
		l = loader.Func(func(ctx context.Context, key string) (loader.Result, error) {
			v, ttl, err := load(ctx, key)
			if err != nil {
				return loader.Result{}, err
			}
			b, err := t.codec.Marshal(nil, v)
			if err != nil {
				return loader.Result{}, fmt.Errorf("cacheclient: encode %q: %w", key, err)
			}
			return loader.Result{Value: b, TTL: ttl}, nil
		})
	}
	b, info, err := t.c.GetInfo(ctx, key, l)
	if err != nil {
		return zero, info, err
	}
	v, err := t.codec.Unmarshal(b)
	if err != nil {
		return zero, info, fmt.Errorf("cacheclient: decode %q: %w", key, err)
	}
	return v, info, nil
}

// Set encodes v and stores it like Client.Set.
func (t *Typed[T]) Set(ctx context.Context, key string, v T, ttl time.Duration) error {
	b, err := t.codec.Marshal(nil, v)
	if err != nil {
		return fmt.Errorf("cacheclient: encode %q: %w", key, err)
	}
	return t.c.Set(ctx, key, b, ttl)
}

// Delete removes key like Client.Delete.
func (t *Typed[T]) Delete(ctx context.Context, key string) error {
	return t.c.Delete(ctx, key)
}

// TypedResult is one key's outcome of a TypedBatchLoader: a value and its
// TTL (0: the client's default), or Err (loader.ErrNotFound when the origin
// does not have the key).
type TypedResult[T any] struct {
	// Value is the key's value when Err is nil.
	Value T
	// TTL is how long it stays fresh; 0 means the client's default.
	TTL time.Duration
	// Err is the key's failure, or loader.ErrNotFound.
	Err error
}

// TypedBatchLoader loads many keys from the origin in one call: one
// TypedResult per key, in the order of keys. An error return fails every
// key.
type TypedBatchLoader[T any] func(ctx context.Context, keys []string) ([]TypedResult[T], error)

// TypedItem is one key's answer from Typed.GetMany.
type TypedItem[T any] struct {
	// Value is the decoded value, the zero T on an error.
	Value T
	// Info says how the answer was obtained.
	Info Info
	// Err is the key's error, as for Item, or a decoding error.
	Err error
}

// GetMany is Client.GetMany for T values: the loader's values are encoded
// before they are cached, and every cached value decoded on the way out (a
// value that does not decode is that key's error).
func (t *Typed[T]) GetMany(ctx context.Context, keys []string, load TypedBatchLoader[T]) []TypedItem[T] {
	var bl loader.BatchLoader
	if load != nil {
		bl = loader.BatchFunc(func(ctx context.Context, keys []string) ([]loader.KeyResult, error) {
			vs, err := load(ctx, keys)
			if err != nil {
				return nil, err
			}
			res := make([]loader.KeyResult, len(vs))
			for i, v := range vs {
				if v.Err != nil {
					res[i].Err = v.Err
					continue
				}
				b, err := t.codec.Marshal(nil, v.Value)
				if err != nil {
					res[i].Err = fmt.Errorf("cacheclient: encode %q: %w", keys[i], err)
					continue
				}
				res[i].Result = loader.Result{Value: b, TTL: v.TTL}
			}
			return res, nil
		})
	}
	items := t.c.GetMany(ctx, keys, bl)
	out := make([]TypedItem[T], len(items))
	for i, it := range items {
		out[i].Info, out[i].Err = it.Info, it.Err
		if it.Err != nil {
			continue
		}
		v, err := t.codec.Unmarshal(it.Value)
		if err != nil {
			out[i].Err = fmt.Errorf("cacheclient: decode %q: %w", keys[i], err)
			continue
		}
		out[i].Value = v
	}
	return out
}
