// Package store is cachenode's storage engine: a sharded, memory-bounded map
// of binary-safe Redis strings with TTLs, active and lazy expiry, Redis's
// maxmemory eviction policies and keyspace statistics.
//
// Every method is safe for concurrent use. Values returned to the caller are
// copies appended to a caller-owned buffer (the dst argument, as in
// fastcache's Get(dst, k)), so a caller can reuse its buffers and a Get does
// not allocate.
//
// Expiry times are absolute Unix times in milliseconds; 0 means no TTL. A key
// whose expiry time is in the past (now > expireAt, as in Redis) does not
// exist for any method.
package store
