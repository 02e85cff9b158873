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
// It is built for the bad days:
//
//   - Coalescing: concurrent misses for one key in one process make one L2
//     request and at most one origin load; every waiter gets the result. A
//     waiter whose context ends returns at once; the load goes on for the
//     others, bounded by LoadTimeout.
//   - Stale on failure: every entry is fresh until T1 and servable stale
//     until T2 = T1+StaleTTL, in L1 and in L2 alike (see the envelope below).
//     When the origin fails, or the limiter refuses a load, a stale value is
//     served (Info.Stale) instead of the error. With StaleWhileRevalidate, a
//     stale entry is served at once and refreshed in the background, once per
//     key.
//   - Node failure: every L2 request has a tight timeout (L2Timeout); after
//     FailureThreshold consecutive failures a node is marked down and its keys
//     go to their failover owners (entries written there get FailoverTTL); a
//     down node is PINGed with jittered backoff and marked up on success.
//   - Tier outage and origin protection: origin loads pass a limiter
//     (OriginMaxConcurrent, OriginRate) that never queues. With the tier down,
//     L1 keeps serving; a request that can be served neither from L1 nor by a
//     permitted load fails fast with ErrShed. The origin never sees more than
//     the configured limit.
//   - Negative caching: a loader returning loader.ErrNotFound is remembered
//     for NegativeTTL.
//
// # Envelope
//
// Values are stored in both levels behind a 19-byte header: magic 0xC7,
// version 1, a flags byte (1 = negative entry, 2 = L1 big value, 4 = written
// to a failover owner), then T1 and T2 as big-endian uint64 Unix milliseconds.
// The L2 copy is written with a Redis TTL of T2 (PX). Values of 64 KiB and
// more, which fastcache would silently drop, are kept in L1 with
// fastcache's SetBig.
//
// # Observability
//
// Stats returns a snapshot of the counters; Collector returns a Prometheus
// collector to register.
package cacheclient
