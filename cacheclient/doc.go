// Package cacheclient is cachetier's two-level cache client, the part a
// service embeds.
//
// A Client layers an in-process cache (L1, fastcache, bounded in bytes) over
// a tier of cache nodes (L2: cachenode or stock redis-server, one go-redis
// client per node, keys placed with package ring), and loads misses from the
// origin through a loader.Loader:
//
//	L1 fresh hit → answer; else the key's node → fill L1; else the loader → write L2 and L1.
//
// Reads: Get returns the value, GetInfo the value and an Info saying where it
// came from, AppendGet the same appended to a caller's buffer (no allocation
// on an L1 hit), GetMany many keys at once (L1, one pipelined round trip
// per node, one loader.BatchLoader call for the keys the origin must
// supply). Typed wraps a Client for Go values through a Codec. Writes: Set
// and Delete, in both levels, and SetMany and DeleteMany (one round trip per
// node).
//
// It is built for the bad days:
//
//   - Coalescing: concurrent misses for one key in one process make at most
//     one origin load; every waiter gets the result. Each caller reads the
//     key's node once on its own (a fresh L2 hit is answered there, without
//     the coalescing machinery); what is not a fresh hit joins the key's one
//     flight. A waiter whose context ends returns at once; the load goes on
//     for the others, bounded by Origin.LoadTimeout.
//   - Leases: across processes, the key's node is where misses meet: the
//     first process to miss a cold or stale key takes a lease on it and loads;
//     the others wait for its value. A herd of any number of processes costs
//     one origin load per key (see Leases below). On by default
//     (Tier.Leases).
//   - Coherence: a write anywhere (another process's Set or Delete, any
//     Redis client, a key expiring or evicted on its node, FLUSHALL) drops
//     every process's L1 copy within milliseconds, through CLIENT TRACKING
//     (one invalidation channel per node; see coherence.go and
//     docs/client.md). A lost channel or a topology change makes L1 entries
//     stale. On by default (L1.Coherence).
//   - Stale on failure: every entry is fresh until T1 and servable stale
//     until T2 = T1+StaleTTL, in L1 and in L2 alike (see the envelope below).
//     When the origin fails, or the limiter refuses a load, a stale value is
//     served (Info.Stale) instead of the error. With StaleWhileRevalidate, a
//     stale entry is served at once and refreshed in the background, once per
//     key.
//   - Node failure: every L2 request has a tight timeout (Tier.Timeout);
//     after Health.FailureThreshold consecutive failures a node is marked
//     down and its keys go to their failover owners (entries written there
//     get Tier.FailoverTTL); a down node is PINGed again after
//     Health.Interval/8, then with jittered exponential backoff, and marked up
//     on success.
//   - Tier outage and origin protection: origin loads pass one limiter
//     (Origin.MaxConcurrent and Origin.Rate, or a shared Origin.Limiter) that
//     never queues. With the tier down, L1 keeps serving; a request that can
//     be served neither from L1 nor by a permitted load fails fast with
//     ErrShed. The origin never sees more than the configured limit.
//   - Origin error backoff: after a key's load fails, its next loads wait
//     out a growing window (Origin.ErrorBackoff) instead of calling the
//     origin again.
//   - Negative caching: a loader returning loader.ErrNotFound is remembered
//     for NegativeTTL.
//
// # Errors
//
// Every error a Client returns is one of these; test with errors.Is and
// errors.As, not by comparing messages:
//
//	error                          returned by              meaning
//	loader.ErrNotFound             Get, GetInfo, AppendGet  the origin does not have the key (answered by the
//	                                                        loader or a cached negative entry), or, with a nil
//	                                                        loader, the key is in neither level; Info.Negative
//	ErrShed                        Get, GetInfo, AppendGet  the origin limiter refused the load and no stale
//	                                                        value was at hand; returned at once, never queued
//	*LoadError                     Get, GetInfo, AppendGet  the origin load failed and no stale value was at
//	                                                        hand; Key and Err say which and why, e.g.:
//	  wrapping ErrOriginBackoff    Get, GetInfo, AppendGet  the key is in error backoff: the origin was not
//	                                                        called; errors.Is also matches the last failure
//	  wrapping *loader.PanicError  Get, GetInfo, AppendGet  the loader panicked (errors.As finds it)
//	  wrapping a deadline          Get, GetInfo, AppendGet  the load ran past Origin.LoadTimeout: errors.Is
//	                                                        matches context.DeadlineExceeded
//	ctx.Err()                      Get, GetInfo, AppendGet  the caller's context ended; the load goes on for
//	                                                        the other callers waiting for it
//	ErrClosed                      every method             the Client was closed
//	node error, wrapped            Set, Delete              the node write failed ("cacheclient: node
//	                                                        host:port: ..."); L1 was still written
//	configuration error            New, Set                 an invalid Config field (named in the message) or
//	                                                        a negative Set ttl
//	discovery error                New                      Config.Discovery failed before any node set
//	codec error, wrapped           Typed.Get, Typed.GetInfo decoding a cached value failed ("cacheclient:
//	                                                        decode ..."); an encoding failure is an origin
//	                                                        failure (a *LoadError)
//
// A failing origin is not an error while a stale value is inside its window:
// the stale value is returned with Info.Stale set. ErrDiscoveryEmpty is not
// returned by a Client: DNS and SlotFile pass it to their OnError when a
// source names no node.
//
// # Leases
//
// A lease is a marker on the key's live owner: a leased envelope (version 2,
// a random token and an expiry) written into the key itself when it has no
// value, or into its side key ("cachetier\x00lease\x00" + key) when its entry
// is stale and must stay servable. The write-back is a compare-and-set on the
// key (still our token, or still the stale entry the lease was taken on), so
// that any write to the key — a Set or Delete from any process, a redis-cli
// SET or DEL, expiry, eviction — voids the lease. Plain Redis 7 commands, so
// stock redis-server and cachenode both serve it:
//
//	cold miss    GET key → nil; SET key <lease> NX GET PX Tier.Leases.TTL
//	             (nil: ours, load; a lease: wait; a value: use it)
//	stale entry  GET key → stale; SET side <lease> NX GET PX Tier.Leases.TTL
//	             (nil: ours, load; a lease: wait)
//	write-back   WATCH key; GET key; still ours? MULTI; SET key <value> PX T2; [SET side <done>]; EXEC
//	             (else a "voided set": the value goes to this load's callers only)
//	waiting      GET key (and GET side) after 1, 2, 4, 4, ... ms until a value
//	             appears, or the lease expired or vanished (then take it over, once)
//
//	process A                   owner node                process B
//	GET k ────────────────────▶ nil ◀──────────────────── GET k
//	SET k L(a) NX GET PX ─────▶ nil: A holds the lease
//	                            L(a) ◀────── SET k L(b) NX GET PX: B waits
//	origin load ...                                        GET k → L(a) (1, 2, 4 ms ...)
//	WATCH/GET/MULTI SET k V/EXEC ▶ V ◀─────────────────── GET k → V
//	answer V                                               answer V
//
// Costs: a fresh hit is one GET, as without leases; a cold miss or a stale
// entry one extra round trip (SET NX GET) before the origin load; the
// write-back three (WATCH/MULTI/EXEC rather than a Lua script, which
// cachenode does not serve: after an origin load the difference does not
// matter). A waiter sees
// the value at most 4 ms (plus a round trip) after it was written; the wait
// is a poll, to be replaced by a wake-up from the node (CLIENT TRACKING).
//
// Failures: a holder that dies or hangs loses its lease after
// Tier.Leases.TTL (default Origin.LoadTimeout + 4×Tier.Timeout) and one
// waiter takes it over, so a key costs at most two loads and no waiter gets
// an error for it (the in-process flight timeout covers a whole lease wait
// and a takeover load); the old holder's late write-back fails on its
// token. A holder whose load fails or is shed hands the lease back (the
// stale value restored, or the key deleted). Any L2 error while taking,
// polling or writing back a lease, or no live node, makes the flight load
// on its own at once, as without leases. With StaleWhileRevalidate, callers
// that find another process's lease on a stale entry answer stale at once:
// one refresh per key for the whole tier. Leases are taken on the key's live
// owner (the failover owner while the owner is down); FailoverTTL still caps
// what is written there. The protocol, its race cases and the choice of
// commands are described next to the code in lease.go.
//
// # Warm-up
//
// For Tier.Warmup.Window (default one minute) after a key's owner changes —
// a node joins, or a node marked down comes back — a fill that finds
// nothing fresh on the key's owner reads the key's previous owner first and
// copies a fresh entry from there (with its envelope and remaining TTL), so
// that the move does not reach the origin. Off when the previous owner left
// or is down. A Set or Delete in the window also deletes the key on the
// previous owner, so that no later miss brings back an older value. See
// warmup.go and docs/client.md, "Warm-up after a move".
//
// # Replicas
//
// With Tier.Replicas = R > 1, every write of a key (a Set, a loaded value
// written back, a warm-up copy, a Delete) goes to its live owner and to its
// next R-1 live owners in the key's ring sequence: the nodes that take the
// key over, in that order, when the ones before them are down. Reads go to
// the live owner (hot keys excepted, below), so a node's death leaves its
// keys warm on their new owner instead of sending them to the origin. The
// owner's answer is the call's. A node that misses a write (it is down, or
// the write to it fails) gets a tombstone in the writer, which deletes the
// node's older copy before reading it there and at its next health round;
// until then, other processes may read that copy, within its own T1. See
// replicas.go and docs/client.md, "Replicas".
//
// # Hot keys
//
// The client finds the keys it reads most from the tier with a Space-Saving
// top-K sketch (Stats.HotKeys) and, with R ≥ 2, reads a hot key from the
// less loaded of two of its live owners (power of two choices on the
// requests outstanding to each), falling back to the owner when the
// replica has no fresh copy. See hotkeys.go.
//
// # Envelope
//
// Values are stored in both levels behind a 19-byte header: magic 0xC7,
// version 1, a flags byte (1 = negative entry, 2 = L1 big value, 4 = written
// to a failover owner), then T1 and T2 as big-endian uint64 Unix milliseconds.
// The L2 copy is written with a Redis TTL of T2 (PX). A lease is version 2 of
// the envelope (the same 19 bytes with the stale value's flags, T1 and T2,
// then a 16-byte token and an 8-byte expiry, then the stale value); a client
// that knows only version 1 reads it as a miss. Values of 64 KiB and
// more, which fastcache would silently drop, are kept in L1 with
// fastcache's SetBig.
//
// # Observability
//
// Stats returns a snapshot of the counters; Collector returns a Prometheus
// collector to register.
package cacheclient
