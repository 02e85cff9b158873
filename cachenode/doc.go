// Package cachenode is a cache server that speaks the Redis protocol (RESP2
// and RESP3), so redis-cli, redis-benchmark and Redis client libraries such as
// go-redis work against it unchanged.
//
// A Server holds Redis strings in an in-memory store bounded by
// Config.MaxMemory, with Redis's TTL semantics and eviction policies. It
// implements the connection, server, string and key commands a cache needs
// (see "Supported commands" in docs/cachenode.md) with Redis 7's reply types and error
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
//
// # Data path
//
//  1. Read: conn.serve (conn.go) parses the commands buffered on the socket
//     with the RESP reader of internal/resp.
//  2. Dispatch and check: conn.exec (command_exec.go) finds the command in
//     the table (command.go); conn.check makes Redis's checks in Redis's
//     order (arity, authentication, pause, memory...), conn.reject answers
//     a refused command, and inside MULTI an accepted one is queued
//     (tx_multi.go).
//  3. Run on the store: conn.run calls the command's handler (cmd_*.go and
//     the feature files), which reads or writes the store (internal/store)
//     and appends its reply to the connection's buffer (conn_reply.go); run
//     then tells tracking and WATCH what a write changed, counts the call
//     and feeds MONITOR.
//  4. Write the reply: conn.flush (conn_reply.go) writes the batch's replies,
//     with the messages other connections queued (push.go), in one write.
//
// # Files
//
// Files are grouped by concern, by name:
//
//	server*.go        Server, New, Shutdown and Close
//	config.go         Config and its defaults; the settings CONFIG SET changes
//	net_*.go          listener and accept loop, raw socket I/O (Linux), deferred closes
//	conn*.go          a connection: its state, read loop, reply helpers and writer
//	command*.go       the command table, its registry and dispatcher; COMMAND
//	cmd_*.go          command groups, each declaring its part of the table:
//	                  connection, client, server, config, info, diag, cluster,
//	                  reset, strings (and lcs), bits, keys
//	tx_*.go           MULTI/EXEC and WATCH
//	tracking*.go      CLIENT TRACKING: the tracking table, invalidation, commands
//	push*.go          messages pushed to a connection by others, MONITOR
//	block_*.go        commands that hold a connection: CLIENT PAUSE, WAIT
//	stats*.go         counters, INFO rates and errorstats, RESETSTAT, Prometheus
//	persist*.go       snapshots: SAVE, BGSAVE, save points, the save on
//	                  shutdown, the load on start; CONFIG dir/dbfilename/save
//	internal/store    the sharded, bounded store with TTLs and eviction
//	internal/rdb      Redis's RDB file format: the snapshot writer and reader
//	internal/cmddocs  Redis's recorded COMMAND DOCS and COMMAND INFO
package cachenode
