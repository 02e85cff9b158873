// Examples of the package's API.

package cachenode_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/cachetier/cachetier/cachenode"
	"github.com/redis/go-redis/v9"
)

// A node serving on a loopback port, used with go-redis, then shut down.
func Example() {
	srv, err := cachenode.New(cachenode.Config{
		MaxMemory: 64 << 20, // or cachenode.ParseSize("64mb")
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		panic(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()

	rdb := redis.NewClient(&redis.Options{Addr: ln.Addr().String()})
	ctx := context.Background()
	rdb.Set(ctx, "greeting", "hello", time.Minute)
	fmt.Println(rdb.Get(ctx, "greeting").Val())
	fmt.Println(rdb.TTL(ctx, "greeting").Val())
	rdb.Close()

	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	fmt.Println(srv.Shutdown(ctx), <-done)
	// Output:
	// hello
	// 1m0s
	// <nil> cachenode: server closed
}

func ExampleParseSize() {
	for _, s := range []string{"100mb", "2gb", "1k", "1kb", "123"} {
		n, _ := cachenode.ParseSize(s)
		fmt.Println(s, n)
	}
	// Output:
	// 100mb 104857600
	// 2gb 2147483648
	// 1k 1000
	// 1kb 1024
	// 123 123
}
