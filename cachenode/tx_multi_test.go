// Tests of MULTI/EXEC atomicity.

package cachenode

import (
	"context"
	"strconv"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
)

// TestExecAtomic: go-redis transactions (MULTI/EXEC) writing two keys
// race readers using MGET and readers using a transaction of two GETs:
// no reader ever sees one key from one transaction and the other key from
// another.
func TestExecAtomic(t *testing.T) {
	_, cl, ctx := startWithClient(t, &redis.Options{PoolSize: 8})
	write := func(v string) error {
		_, err := cl.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, "tx:a", v, 0)
			p.Incr(ctx, "tx:n")
			p.Set(ctx, "tx:b", v, 0)
			return nil
		})
		return err
	}
	if err := write("0"); err != nil {
		t.Fatal(err)
	}
	const writes, reads = 2000, 2000
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < writes; i++ {
				if err := write(strconv.Itoa(w*writes + i)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	check := func(a, b any, how string, i int) {
		if a != b {
			t.Fatalf("read %d (%s): tx:a = %v, tx:b = %v: a transaction was seen half done", i, how, a, b)
		}
	}
	for i := 0; i < reads; i++ {
		vals, err := cl.MGet(ctx, "tx:a", "tx:b").Result()
		if err != nil {
			t.Fatal(err)
		}
		check(vals[0], vals[1], "MGET", i)
		var ga, gb *redis.StringCmd
		if _, err := cl.TxPipelined(ctx, func(p redis.Pipeliner) error {
			ga, gb = p.Get(ctx, "tx:a"), p.Get(ctx, "tx:b")
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		check(ga.Val(), gb.Val(), "MULTI GET GET EXEC", i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n, err := cl.Get(context.Background(), "tx:n").Int(); err != nil || n != 2*writes+1 {
		t.Fatalf("tx:n = %d, %v; want %d (every transaction ran once)", n, err, 2*writes+1)
	}
}
