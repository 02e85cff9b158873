// Package cachenode is a cache server that speaks the Redis protocol (RESP2
// and RESP3), so redis-cli, redis-benchmark and Redis client libraries such as
// go-redis work against it unchanged.
//
// A Server holds Redis strings in an in-memory store bounded by
// Config.MaxMemory, with Redis's TTL semantics and eviction policies. It
// implements the connection, server, string and key commands a cache needs
// (see the README's "Supported commands" table) with Redis 7's reply types and error
// strings, and exposes Prometheus metrics, /healthz and /readyz on an optional
// HTTP address.
//
// Use it like net/http:
//
//	srv, err := cachenode.New(cachenode.Config{Addr: "127.0.0.1:7001", MaxMemory: 100 << 20})
//	if err != nil { ... }
//	go srv.ListenAndServe()
//	...
//	srv.Shutdown(ctx)
//
// Each connection is served by one goroutine that reads every command already
// buffered, executes them in order and writes all replies with one write
// (pipelining). Replies are written synchronously: while a client does not
// read its replies the server stops reading its commands, so a slow reader
// costs at most one flush threshold (64 KiB) plus the largest single reply of
// output buffer; with Config.Timeout set, a client that reads nothing for that
// long is disconnected.
package cachenode
