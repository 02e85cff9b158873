// Package loadtest replays the situations a cache tier exists for and
// reports what the origin saw: a thundering herd on cold keys, steady Zipf
// traffic, a node joining (scale-out), nodes or the whole tier dying, and
// the origin failing.
//
// Run starts everything a scenario needs on 127.0.0.1 and stops it again:
//
//   - the tier: cachenode processes (the loadtest binary re-executed with
//     NodeArg, see NodeMain), so that killing a node is a real SIGKILL; or
//     any redis-server-compatible binary (Config.NodeBin); or a running tier
//     (Config.Addrs);
//   - the origin: an HTTP server in the calling process (Origin) with a
//     latency distribution, a capacity beyond which it degrades and then
//     refuses, and failure injection; it counts every call per key and per
//     100 ms, and its counts are the truth of the summary;
//   - the clients: Config.Procs OS processes (the binary re-executed with
//     ClientArg, see RunClientProcess), each with its own cacheclient and
//     L1, driving Config.Concurrency goroutines. The parent talks to them in
//     JSON lines over stdin/stdout: a configuration, a start instant shared
//     by all (the barrier), membership changes, stop. They report counts and
//     a latency histogram every interval, and exit when their stdin closes,
//     so they never outlive the parent.
//
// The Summary has a JSON form (WriteJSON; the contract is in docs/loadtest.md,
// "The JSON summary"), a short table (WriteTable) and a self-contained HTML
// report with inline SVG charts (WriteReport). cmd/loadtest is the command-line front end; a binary
// that embeds Run must call ChildMain first thing in main.
package loadtest
