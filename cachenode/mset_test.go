package cachenode

import (
	"strconv"
	"sync"
	"testing"
)

// TestMSetNXRace has several clients race MSETNX on the same keys, over
// real connections: in every round exactly one must get 1, and every key
// must then hold the winner's value (MSETNX is atomic, as in Redis).
func TestMSetNXRace(t *testing.T) {
	s := startServer(t, Config{})
	const clients = 4
	ctx := ctxT(t)
	var pairs [clients][]any
	keys := []string{"k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8"}
	for c := range pairs {
		for _, k := range keys {
			pairs[c] = append(pairs[c], k, strconv.Itoa(c))
		}
	}
	cl := newClient(t, s.Addr().String(), nil)
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
