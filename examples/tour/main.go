// Command tour is the client program of the README's five-minute tour: it
// reads one key twice through cacheclient over the tier that `make run`
// starts on 127.0.0.1:7001-7003, and prints where each answer came from.
package main

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/cachetier/cachetier/cacheclient"
	"github.com/cachetier/cachetier/loader"
)

func main() {
	c, err := cacheclient.New(cacheclient.Config{
		Tier: cacheclient.TierConfig{
			Addrs: []string{"127.0.0.1:7001", "127.0.0.1:7002", "127.0.0.1:7003"}, // join order
		},
		TTL: time.Minute, // fresh for a minute, then servable stale for StaleTTL (default 5m)
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	// The origin the cache protects: a database query, an HTTP call...
	users := loader.Func(func(ctx context.Context, key string) (loader.Result, error) {
		return loader.Result{Value: []byte("Ann")}, nil
	})

	ctx := context.Background()
	for range 2 {
		v, info, err := c.GetInfo(ctx, "user:42", users)
		fmt.Println(string(v), info.Source, err)
	}
}
