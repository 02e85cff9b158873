package cacheclient

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachetier/cachetier/loader"
)

// Leases: the tier as the place where misses meet.
//
// Without leases every process coalesces its own misses, so a herd that
// reaches P processes costs the origin P loads per key. With leases, the first
// process to miss a key writes a lease marker into the key itself on the
// key's live owner; the other processes find the marker and wait for the
// holder's value instead of loading. The marker lives in the key (a leased
// envelope, version 2, envelope.go), not beside it, so that any write to the
// key anywhere — our Set or Delete, a redis-cli SET or DEL, expiry, eviction —
// voids the lease: the holder's write-back is a compare-and-set that only
// succeeds while the key still holds the holder's own token.
//
// Commands (all plain Redis 7 commands, served by redis-server and cachenode
// alike):
//
//	cold miss   GET key → nil
//	            SET key <lease tok, exp> NX GET PX leaseTTL    1 extra round trip
//	              nil reply          → this process holds the lease: load
//	              leased envelope    → another process holds it: wait
//	              value envelope     → a value arrived meanwhile: use it
//	stale entry GET key → stale value (past T1), no StaleWhileRevalidate
//	            WATCH key; GET key; MULTI; SET key <lease tok, exp, stale value> KEEPTTL; EXEC
//	              EXEC ok            → this process holds the lease: load
//	              aborted/changed    → look again at what the key holds now
//	write-back  WATCH key; GET key; (our token?) MULTI; SET key <value> PX T2; EXEC
//	              not our token, or EXEC aborted → the lease was voided: a
//	              "voided set"; nothing is written, the loaded value goes to
//	              this process's callers only (not even to its L1: the newer
//	              state in L2 wins)
//	release     (the load failed or was shed) the same CAS, writing the
//	            stale value back (SET ... KEEPTTL) or DEL when there was none
//	waiting     GET key every 1, 2, 4, 4, ... ms (pause) until a value
//	            envelope appears (answer), the key is gone or holds an expired
//	            lease (take it over: SET NX GET, or the CAS, counted as a
//	            takeover), or the flight's context ends
//
// One herd, two processes A and B, key k on node N:
//
//	A                          N                          B
//	GET k ───────────────────▶ nil
//	                           nil ◀────────────────────── GET k
//	SET k L(a) NX GET PX ────▶ nil (A holds the lease)
//	                           L(a) ◀──────── SET k L(b) NX GET PX
//	origin load ...                                        GET k (1 ms) → L(a)
//	                                                       GET k (2 ms) → L(a)
//	WATCH k, GET k → L(a) ok
//	MULTI SET k V PX EXEC ───▶ V
//	                           V ◀─────────────────────── GET k (4 ms)
//	answer V                                               answer V
//
// The write-back CAS is WATCH/MULTI/EXEC, not a Lua script: a script would be
// one round trip instead of three on redis-server, but cachenode has no EVAL,
// and the CAS follows an origin load, which dwarfs two extra round trips on
// loopback or in a data centre. Taking a cold lease costs one round trip (SET
// NX GET, Redis 7.0+); marking a stale entry leased costs three (WATCH, GET,
// MULTI/SET/EXEC), because the entry must be replaced only if it is still the
// one that was read.
//
// Race cases:
//
//   - Two processes SET NX at once: the node serialises them; one gets nil
//     (holds the lease), the other gets the lease and waits.
//   - The holder's value and a waiter's poll cross: the waiter's next GET,
//     at most 4 ms later, sees the value.
//   - Set or Delete (from any process, or any tool) during the load: the key
//     no longer holds the holder's token, so the CAS writes nothing (a voided
//     set). After a Delete, a waiter finds the key gone and takes a new lease:
//     a second load, for the state after the delete, which is correct.
//   - The holder dies or hangs: the lease's expiry passes (a cold lease also
//     vanishes with its PX); the first waiter to notice takes the lease over
//     (SET NX or CAS: one wins) and loads. The key costs at most two loads;
//     a late CAS from the old holder fails on the token.
//   - The owner is down or slow, or any lease request fails: the flight falls
//     back to a load of its own, as without leases (the error still feeds the
//     node's health). A lease is never waited for when it cannot be taken.
//   - The owner changes during a load (a node marked down or up): the CAS
//     goes to the key's live owner at write-back time, which does not hold
//     the token: a voided set, and the next miss loads again.
//   - Lease expiry is judged on wall clocks (the holder's expiry against a
//     waiter's clock), like T1 and T2: clocks should be reasonably in sync.
//
// The wait is a poll with backoff (pause), the one place where a wake-up
// from the node (a CLIENT TRACKING invalidation of the key) can replace it.

// leasePollMax is the longest pause between two looks at a leased key, so
// that a waiter sees the holder's value at most this long (plus one round
// trip) after it was written.
const leasePollMax = 4 * time.Millisecond

// errNoLiveNode says that no node is live to take a lease on.
var errNoLiveNode = errors.New("cacheclient: no live node")

// leases is the client's lease state: its id and the token counter.
type leases struct {
	ttl     time.Duration   // LeaseConfig.TTL
	id      [8]byte         // random, per Client
	seq     atomic.Uint64   // the token counter
	closing <-chan struct{} // closed by Client.Close: waits end at once
}

func newLeases(ttl time.Duration) *leases {
	lz := &leases{ttl: ttl}
	_, _ = crand.Read(lz.id[:]) // never fails (Go 1.24+)
	return lz
}

// next returns a new lease token.
func (lz *leases) next() leaseToken {
	var t leaseToken
	copy(t[:], lz.id[:])
	binary.BigEndian.PutUint64(t[8:], lz.seq.Add(1))
	return t
}

// pause waits before the next look at a key another process holds a lease
// on: 1 ms, then doubling up to leasePollMax. It returns false if ctx ended
// or the client was closed first. This is the hook for a wake-up from the
// node (CLIENT TRACKING): it will return as soon as the key is invalidated.
func (lz *leases) pause(ctx context.Context, attempt int) bool {
	d := leasePollMax
	if attempt < 2 {
		d = time.Millisecond << attempt
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-ctx.Done():
		return false
	case <-lz.closing:
		return false
	}
}

// leaseFill runs the lease protocol for a fill of key whose L2 read (this
// flight's) returned env (nil: absent). cand and candSrc are the stale value
// found so far. It returns handled=false when the protocol could not run (an
// L2 error, no live node, a value not in our envelope): the caller then loads
// on its own, as without leases.
func (c *Client) leaseFill(ctx context.Context, key string, l loader.Loader, env []byte,
	cand []byte, candSrc Source, refresh bool) (res fillResult, err error, handled bool) {
	lz := c.leases
	var (
		waitStart time.Time
		attempt   int
	)
	defer func() {
		if !waitStart.IsZero() {
			d := time.Since(waitStart)
			c.st.leaseWaitNs.Add(uint64(d))
			c.metrics.leaseWait.Observe(d.Seconds())
		}
	}()
	for {
		now := preciseMs()
		tok := lz.next()
		var (
			won      bool
			takeover bool
			stale    header // the stale entry the lease carries (t2 == 0: none)
			staleVal []byte
		)
		if env == nil {
			// Absent: take a cold lease.
			prev, err := c.tier.leaseNew(ctx, key, appendLease(nil, tok, now+msCeil(lz.ttl), header{}, nil), lz.ttl)
			if err != nil {
				c.st.leaseFallbacks.Add(1)
				return fillResult{}, nil, false
			}
			if prev == nil {
				won = true
			} else {
				env = prev
				continue
			}
		} else if h, ok := parseHeader(env); ok {
			val := env[envHdrLen:]
			neg := h.flags&flagNegative != 0
			st := h.stateAt(now)
			if st == stateFresh {
				c.st.l2Hits.Add(1)
				c.store.fillL1(key, h, val, now, untracked)
				return fillResult{val: val, src: SourceL2, negative: neg}, nil, true
			}
			if st == stateStale && !neg {
				cand, candSrc = val, SourceL2
				if c.cfg.StaleWhileRevalidate && !refresh {
					c.store.fillL1(key, h, val, now, untracked)
					return fillResult{val: val, src: SourceL2, stale: true}, nil, true
				}
				stale, staleVal = h, val
			}
			// Stale (or expired but still present): mark it leased in place.
			lease := appendLease(nil, tok, now+msCeil(lz.ttl), stale, staleVal)
			cur, ok, err := c.tier.leaseSwap(ctx, key, env, lease, lz.ttl, stale.t2 != 0)
			if err != nil {
				c.st.leaseFallbacks.Add(1)
				return fillResult{}, nil, false
			}
			if !ok {
				env = cur
				continue
			}
			won = true
		} else if lh, val, ok := parseLease(env); ok {
			if lh.hasStale() {
				stale, staleVal = lh.stale, val
				if lh.stale.stateAt(now) == stateStale {
					cand, candSrc = val, SourceL2
					if c.cfg.StaleWhileRevalidate && !refresh {
						// Another process refreshes; answer stale at once.
						c.store.fillL1(key, lh.stale, val, now, untracked)
						return fillResult{val: val, src: SourceL2, stale: true}, nil, true
					}
				}
			}
			if lh.expiry > now {
				// Held by another process: wait, then look again.
				if waitStart.IsZero() {
					waitStart = time.Now()
					c.st.leaseWaits.Add(1)
				}
				if !lz.pause(ctx, attempt) {
					err := ctx.Err()
					if err == nil {
						err = ErrClosed
					}
					return c.leaseGiveUp(key, cand, candSrc, err)
				}
				attempt++
				var asked bool
				env, asked, err = c.tier.get(ctx, key, preciseMs())
				if !asked || err != nil {
					c.st.leaseFallbacks.Add(1)
					return fillResult{}, nil, false
				}
				continue
			}
			// The lease expired: its holder died or hangs. Take it over.
			lease := appendLease(nil, tok, now+msCeil(lz.ttl), stale, staleVal)
			cur, ok, err := c.tier.leaseSwap(ctx, key, env, lease, lz.ttl, stale.t2 != 0)
			if err != nil {
				c.st.leaseFallbacks.Add(1)
				return fillResult{}, nil, false
			}
			if !ok {
				env = cur
				continue
			}
			won, takeover = true, true
		} else {
			// Not our envelope (written by another tool): no lease; the
			// load overwrites it, as without leases.
			return fillResult{}, nil, false
		}
		if won {
			c.st.leasesWon.Add(1)
			// A lease won after waiting for another's is a takeover too:
			// the other's lease vanished (its PX ran out, or the key was
			// deleted).
			if takeover || !waitStart.IsZero() {
				c.st.leaseTakeovers.Add(1)
			}
			res, err := c.leaseLoad(ctx, key, l, tok, stale, staleVal, cand, candSrc)
			return res, err, true
		}
	}
}

// leaseGiveUp answers a fill whose wait for another process's lease ended
// with the flight's context or the client's Close: the stale value if there
// is one, else a *LoadError.
func (c *Client) leaseGiveUp(key string, cand []byte, candSrc Source, err error) (fillResult, error, bool) {
	if candSrc != SourceNone {
		return fillResult{val: cand, src: candSrc, stale: true}, nil, true
	}
	return fillResult{}, &LoadError{Key: key, Err: err}, true
}

// leaseLoad loads key from the origin while holding the lease tok, and writes
// the result back only if the key still holds tok. stale/staleVal are the
// stale entry the lease carries (restored if the load fails); cand/candSrc
// the stale value to serve if it does.
func (c *Client) leaseLoad(ctx context.Context, key string, l loader.Loader, tok leaseToken,
	stale header, staleVal []byte, cand []byte, candSrc Source) (fillResult, error) {
	res, status, err := c.origin.load(ctx, key, l, preciseMs())
	switch status {
	case loaded:
		now := preciseMs()
		h := c.store.valueHeader(res.TTL, now)
		c.leaseStore(ctx, key, tok, h, res.Value, now)
		return fillResult{val: res.Value, src: SourceOrigin}, nil
	case notFound:
		now := preciseMs()
		if h, ok := c.store.negativeHeader(now); ok {
			c.leaseStore(ctx, key, tok, h, nil, now)
		} else {
			c.leaseRelease(ctx, key, tok, stale, staleVal)
		}
		return fillResult{src: SourceOrigin, negative: true}, nil
	}
	// Failed, in backoff, or shed: hand the key back so that a waiter
	// need not wait out the lease.
	c.leaseRelease(ctx, key, tok, stale, staleVal)
	return c.noValue(key, status, err, cand, candSrc)
}

// leaseStore writes the loaded entry (h, val) to L2 if key still holds tok,
// and to L1 unless the lease was voided. On an L2 error L1 is written, as a
// plain store would.
func (c *Client) leaseStore(ctx context.Context, key string, tok leaseToken, h header, val []byte, now int64) {
	ok, err := c.tier.leaseCommit(ctx, key, tok, h, val, now)
	if err == nil && !ok {
		// Voided: the key was written, deleted or expired meanwhile (or
		// its lease taken over). The newer state in L2 wins: the value
		// goes to this flight's callers only, not to L1.
		c.st.leaseVoided.Add(1)
		return
	}
	c.store.fillL1(key, h, val, now, untracked)
}

// leaseRelease gives the lease tok on key back: the stale entry it carries is
// written back (with its Redis TTL kept), or the key deleted if it carries
// none. Nothing happens if key no longer holds tok.
func (c *Client) leaseRelease(ctx context.Context, key string, tok leaseToken, stale header, staleVal []byte) {
	_ = c.tier.leaseEnd(ctx, key, tok, stale, staleVal)
}

// holds reports whether cur is a leased envelope with token tok.
func holds(cur []byte, tok leaseToken) bool {
	lh, _, ok := parseLease(cur)
	return ok && lh.token == tok
}

// leaseNew writes the cold lease env to key's live owner unless the key
// exists (SET NX GET PX ttl), returning what the key held (nil: the lease is
// ours).
func (t *tier) leaseNew(ctx context.Context, key string, env []byte, ttl time.Duration) (prev []byte, err error) {
	nd, failover := t.route(key)
	if nd == nil {
		return nil, errNoLiveNode
	}
	if failover {
		ttl = min(ttl, t.cfg.FailoverTTL)
	}
	err = t.do(ctx, nd, 0, func(ctx context.Context) error {
		v, err := nd.client().SetArgs(ctx, key, env, redis.SetArgs{Mode: "NX", Get: true, TTL: ttl}).Result()
		if errors.Is(err, redis.Nil) {
			return nil
		}
		if err == nil {
			prev = []byte(v)
		}
		return err
	})
	return prev, err
}

// cas runs one compare-and-set on key's live owner: WATCH key, GET key, and,
// if want(current value) (nil: absent), MULTI, write, EXEC. done says whether
// the write happened; when it did not, cur is the key's current value (read
// again if the key changed between the GET and the EXEC).
func (t *tier) cas(ctx context.Context, key string, extra time.Duration, want func(cur []byte) bool,
	write func(p redis.Pipeliner, nd *node, failover bool)) (cur []byte, done bool, err error) {
	nd, failover := t.route(key)
	if nd == nil {
		return nil, false, errNoLiveNode
	}
	err = t.do(ctx, nd, extra, func(ctx context.Context) error {
		return nd.client().Watch(ctx, func(tx *redis.Tx) error {
			b, err := tx.Get(ctx, key).Bytes()
			if err != nil && !errors.Is(err, redis.Nil) {
				return err
			}
			if !want(b) {
				cur = b
				return nil
			}
			_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				write(p, nd, failover)
				return nil
			})
			if errors.Is(err, redis.TxFailedErr) {
				b, err = tx.Get(ctx, key).Bytes()
				if errors.Is(err, redis.Nil) {
					err = nil
				}
				cur = b
				return err
			}
			done = err == nil
			return err
		}, key)
	})
	return cur, done, err
}

// leaseSwap replaces key's value seen (a stale value or an expired lease)
// with the leased envelope lease, keeping the key's Redis TTL when the lease
// carries a stale value (keepTTL), else with a Redis TTL of ttl. cur is what
// the key held instead when it no longer held seen.
func (t *tier) leaseSwap(ctx context.Context, key string, seen, lease []byte, ttl time.Duration, keepTTL bool) (cur []byte, ok bool, err error) {
	return t.cas(ctx, key, 0, func(b []byte) bool { return bytes.Equal(b, seen) },
		func(p redis.Pipeliner, _ *node, failover bool) {
			switch {
			case keepTTL:
				p.Set(ctx, key, lease, redis.KeepTTL)
			case failover:
				p.Set(ctx, key, lease, min(ttl, t.cfg.FailoverTTL))
			default:
				p.Set(ctx, key, lease, ttl)
			}
		})
}

// leaseCommit writes the entry (h, val) to key's live owner, as set does
// (Redis TTL T2, capped and flagged on a failover owner), if the key still
// holds the lease tok. ok is false when it did not (the lease was voided).
func (t *tier) leaseCommit(ctx context.Context, key string, tok leaseToken, h header, val []byte, now int64) (ok bool, err error) {
	bp := envPool.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= 64*1024 {
			*bp = (*bp)[:0]
			envPool.Put(bp)
		}
	}()
	var env []byte
	extra := time.Duration(len(val)+envHdrLen) * 10 * time.Nanosecond
	_, ok, err = t.cas(ctx, key, extra, func(b []byte) bool { return holds(b, tok) },
		func(p redis.Pipeliner, _ *node, failover bool) {
			ttl := time.Duration(h.t2-now) * time.Millisecond
			hh := h
			if failover {
				hh.flags |= flagFailover
				ttl = min(ttl, t.cfg.FailoverTTL)
			}
			if ttl < time.Millisecond {
				p.Del(ctx, key) // nothing left to keep: just end the lease
				return
			}
			env = append(appendHeader((*bp)[:0], hh), val...)
			*bp = env
			p.Set(ctx, key, env, ttl)
		})
	return ok, err
}

// leaseEnd ends the lease tok on key: the stale entry (h, val) it carries is
// written back with the key's Redis TTL kept, or the key is deleted when it
// carries none. Nothing happens if the key no longer holds tok.
func (t *tier) leaseEnd(ctx context.Context, key string, tok leaseToken, h header, val []byte) error {
	_, _, err := t.cas(ctx, key, 0, func(b []byte) bool { return holds(b, tok) },
		func(p redis.Pipeliner, _ *node, _ bool) {
			if h.t2 == 0 {
				p.Del(ctx, key)
				return
			}
			p.Set(ctx, key, append(appendHeader(nil, h), val...), redis.KeepTTL)
		})
	return err
}
