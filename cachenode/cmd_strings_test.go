// Atomicity tests of MSETNX and MGET.

package cachenode

import (
	"context"
	"strconv"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
)

// TestMSetNXRace has several clients race MSETNX on the same keys, over
// real connections: in every round exactly one must get 1, and every key
// must then hold the winner's value (MSETNX is atomic, as in Redis).
func TestMSetNXRace(t *testing.T) {
	_, cl, ctx := startWithClient(t, nil)
	const clients = 4
	var pairs [clients][]any
	keys := []string{"k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8"}
	for c := range pairs {
		for _, k := range keys {
			pairs[c] = append(pairs[c], k, strconv.Itoa(c))
		}
	}
	for r := 0; r < 100; r++ {
		won := make([]bool, clients)
		errs := make([]error, clients)
		var wg sync.WaitGroup
		for c := 0; c < clients; c++ {
			wg.Add(1)
			go func(c int) {
				defer wg.Done()
				won[c], errs[c] = cl.MSetNX(ctx, pairs[c]...).Result()
			}(c)
		}
		wg.Wait()
		winner := -1
		for c := range won {
			if errs[c] != nil {
				t.Fatal(errs[c])
			}
			if won[c] {
				if winner >= 0 {
					t.Fatalf("round %d: clients %d and %d both got 1", r, winner, c)
				}
				winner = c
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: no client got 1", r)
		}
		vals, err := cl.MGet(ctx, keys...).Result()
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range vals {
			if v != strconv.Itoa(winner) {
				t.Fatalf("round %d: %s = %v, winner %d", r, keys[i], v, winner)
			}
		}
		if err := cl.Del(ctx, keys...).Err(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestMGetAtomic has writers MSET a group of keys to one value per write
// while a reader MGETs them: as in Redis, every MGET reply must hold the
// values of a single MSET, never a mix of two.
func TestMGetAtomic(t *testing.T) {
	_, cl, ctx := startWithClient(t, nil)
	keys := make([]string, 32)
	for i := range keys {
		keys[i] = "atomic:" + strconv.Itoa(i)
	}
	mset := func(cl interface {
		MSet(context.Context, ...any) *redis.StatusCmd
	}, v string) error {
		pairs := make([]any, 0, 2*len(keys))
		for _, k := range keys {
			pairs = append(pairs, k, v)
		}
		return cl.MSet(ctx, pairs...).Err()
	}
	if err := mset(cl, "w0-0"); err != nil {
		t.Fatal(err)
	}
	const writers, writes, reads = 2, 3000, 3000
	done := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 1; w <= writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < writes; n++ {
				select {
				case <-done:
					return
				default:
				}
				if err := mset(cl, "w"+strconv.Itoa(w)+"-"+strconv.Itoa(n)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	defer wg.Wait()
	defer close(done)
	for r := 0; r < reads; r++ {
		vals, err := cl.MGet(ctx, keys...).Result()
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range vals {
			if v != vals[0] {
				t.Fatalf("read %d: MGET mixed two MSETs: %s = %v, %s = %v", r, keys[0], vals[0], keys[i], v)
			}
		}
		select {
		case err := <-errs:
			t.Fatal(err)
		default:
		}
	}
}
