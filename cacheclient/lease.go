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
// process to miss a key takes a lease on it on the key's live owner; the
// other processes find the lease and wait for the holder's value instead of
// loading. The holder's write-back is a compare-and-set: it succeeds only while
// the key is still in the state the lease was taken on, so that any write to
// the key anywhere — our Set or Delete, a redis-cli SET or DEL, expiry,
// eviction — voids the lease.
//
// Where the lease lives:
//
//   - A key with no value (a cold miss) holds the lease itself: a leased
//     envelope (version 2, envelope.go) with the holder's token and the
//     lease's expiry. The write-back requires the key to still hold that
//     token.
//   - A key whose entry is stale (past T1, or expired but still present)
//     keeps its entry, which others may serve; the lease goes to its side key
//     ("cachetier\x00lease\x00" + key, on the key's owner, routed by the
//     key), holding the same leased envelope. The write-back requires the key
//     to still hold the very stale entry the lease was taken on, and, in the
//     same transaction, leaves a "done" lease (expiry 0) in the side key until
//     the new entry's T1 (at most sideDoneTTL): a process that read the
//     stale entry just before the write-back and asks for the side lease just
//     after it finds it taken, looks again, and answers the new value rather
//     than loading it a second time.
//
// Commands (all plain Redis 7 commands, served by redis-server and cachenode
// alike):
//
//	cold miss   GET key → nil
//	            SET key <lease> NX GET PX leaseTTL          1 extra round trip
//	              nil reply          → this process holds the lease: load
//	              leased envelope    → another process holds it: wait
//	              value envelope     → a value arrived meanwhile: use it
//	stale entry GET key → stale entry S (no StaleWhileRevalidate, or the
//	            background refresh)
//	            SET side <lease> NX GET PX leaseTTL         1 extra round trip
//	              nil reply          → this process holds the lease: load
//	              leased envelope    → another process holds it: wait
//	write-back  WATCH key; GET key; (our token, or still S?)
//	            MULTI; SET key <value> PX T2; [SET side <done> PX d]; EXEC
//	              not ours, or EXEC aborted → the lease was voided: a
//	              "voided set"; nothing is written, the loaded value goes to
//	              this process's callers only (not even to its L1: the newer
//	              state in L2 wins); a side lease is then released
//	release     (the load failed or was shed) WATCH; GET; MULTI; DEL; EXEC of
//	            the key (cold) or the side key (stale), if it holds our token
//	waiting     GET key (and GET side, in the same round trip, for a side
//	            lease) every 1, 2, 4, 4, ... ms (pause) until a value
//	            envelope appears (answer), the key is gone (take a cold
//	            lease), or the lease is gone or expired (take it over: SET NX
//	            GET, or a CAS of an expired cold lease; counted as a
//	            takeover), or the flight's context ends
//
// One herd, two processes A and B, cold key k on node N:
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
// loopback or in a data centre. Taking a lease costs one round trip on either
// path (SET NX GET, Redis 7.0+), so a miss without contention pays one round
// trip before its origin load starts.
//
// Race cases:
//
//   - Two processes SET NX at once (on the key or the side key): the node
//     serialises them; one gets nil (holds the lease), the other gets the
//     lease and waits.
//   - The holder's value and a waiter's poll cross: the waiter's next GET,
//     at most 4 ms later, sees the value.
//   - Set or Delete (from any process, or any tool) during the load: the key
//     no longer holds the holder's token or stale entry, so the CAS writes
//     nothing (a voided set). After a Delete, a waiter finds the key gone
//     and takes a new lease: a second load, for the state after the delete,
//     which is correct.
//   - The holder dies or hangs: the lease's PX runs out (or, for a cold lease
//     read after its expiry on a skewed clock, the CAS replaces it); the
//     first waiter to notice takes the lease over (SET NX or CAS: one wins)
//     and loads. The key costs at most two loads; a late CAS from the old
//     holder fails on the token, or on the stale entry the taker replaced.
//   - The holder's load fails: it releases the lease at once, so a waiter
//     takes it and tries the origin itself (or answers stale when its own
//     flight's context ends) instead of waiting out the lease.
//   - The owner is down or slow, or any lease request fails: the flight falls
//     back to a load of its own, as without leases (the error still feeds the
//     node's health). A lease is never waited for when it cannot be taken.
//   - The owner changes during a load (a node marked down or up): the CAS
//     goes to the key's live owner at write-back time, which does not hold
//     the token or the stale entry: a voided set, and the next miss loads
//     again.
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
		// sideExp is the expiry of the side lease last seen held by
		// another process on the stale entry sideOn: until then, looks
		// at the key that find it unchanged do not ask for the lease
		// again.
		sideExp int64
		sideOn  []byte
	)
	defer func() {
		if !waitStart.IsZero() {
			d := time.Since(waitStart)
			c.st.leaseWaitNs.Add(uint64(d))
			c.metrics.leaseWait.Observe(d.Seconds())
		}
	}()
	// wait pauses, then reads the key again (and its side key, when
	// waiting on a side lease); ok is false when the flight must end
	// (giving up: res, err) or fall back (handled false).
	wait := func() (ok bool, res fillResult, err error, handled bool) {
		if waitStart.IsZero() {
			waitStart = time.Now()
			c.st.leaseWaits.Add(1)
		}
		if !lz.pause(ctx, attempt) {
			err := ctx.Err()
			if err == nil {
				err = ErrClosed
			}
			res, err, handled = c.leaseGiveUp(key, cand, candSrc, err)
			return false, res, err, handled
		}
		attempt++
		if sideOn != nil {
			var side []byte
			env, side, err = c.tier.getWithSide(ctx, key)
			if err == nil {
				// Released or expired: ask for it at the next look
				// (if the entry is still the stale one).
				sideExp = 0
				if lh, ok := parseLease(side); ok {
					sideExp = lh.expiry
				}
			}
		} else {
			var asked bool
			env, asked, err = c.tier.get(ctx, key, preciseMs())
			if !asked {
				err = errNoLiveNode
			}
		}
		if err != nil {
			c.st.leaseFallbacks.Add(1)
			return false, fillResult{}, nil, false
		}
		return true, fillResult{}, nil, true
	}
	for {
		now := preciseMs()
		tok := lz.next()
		var (
			held     heldLease
			takeover bool
		)
		if env == nil {
			// Absent: take a cold lease in the key.
			prev, err := c.tier.leaseNew(ctx, key, appendLease(nil, tok, now+msCeil(lz.ttl)), lz.ttl)
			if err != nil {
				c.st.leaseFallbacks.Add(1)
				return fillResult{}, nil, false
			}
			if prev != nil {
				env = prev
				continue
			}
			held = heldLease{tok: tok}
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
			}
			// Stale (or expired but still present): take the side lease
			// on it, unless another process holds it.
			if sideOn != nil && sideExp > now && bytes.Equal(env, sideOn) {
				if ok, res, err, handled := wait(); !ok {
					return res, err, handled
				}
				continue
			}
			prev, err := c.tier.leaseSide(ctx, key, appendLease(nil, tok, now+msCeil(lz.ttl)), lz.ttl)
			if err != nil {
				c.st.leaseFallbacks.Add(1)
				return fillResult{}, nil, false
			}
			if prev != nil {
				lh, ok := parseLease(prev)
				if !ok {
					// Not a lease (written by another tool): no lease.
					c.st.leaseFallbacks.Add(1)
					return fillResult{}, nil, false
				}
				sideExp, sideOn = lh.expiry, env
				if ok, res, err, handled := wait(); !ok {
					return res, err, handled
				}
				continue
			}
			held = heldLease{tok: tok, on: env}
			takeover = sideOn != nil
		} else if lh, ok := parseLease(env); ok {
			if lh.expiry > now {
				// Held by another process: wait, then look again.
				if ok, res, err, handled := wait(); !ok {
					return res, err, handled
				}
				continue
			}
			// The lease expired: its holder died or hangs. Take it over.
			cur, ok, err := c.tier.leaseSwap(ctx, key, env, appendLease(nil, tok, now+msCeil(lz.ttl)), lz.ttl)
			if err != nil {
				c.st.leaseFallbacks.Add(1)
				return fillResult{}, nil, false
			}
			if !ok {
				env = cur
				continue
			}
			held, takeover = heldLease{tok: tok}, true
		} else {
			// Not our envelope (written by another tool): no lease; the
			// load overwrites it, as without leases.
			return fillResult{}, nil, false
		}
		c.st.leasesWon.Add(1)
		// A lease won after waiting for another's is a takeover too: the
		// other's lease vanished (its PX ran out, or the key was deleted).
		if takeover || !waitStart.IsZero() {
			c.st.leaseTakeovers.Add(1)
		}
		res, err := c.leaseLoad(ctx, key, l, held, cand, candSrc)
		return res, err, true
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

// heldLease is a lease this flight holds: tok in the key itself (a cold
// lease, on == nil), or tok in the key's side key on the stale entry on.
type heldLease struct {
	tok leaseToken
	on  []byte
}

// leaseLoad loads key from the origin while holding the lease hl, and writes
// the result back only if the lease still stands. cand/candSrc is the stale
// value to serve if the load fails.
func (c *Client) leaseLoad(ctx context.Context, key string, l loader.Loader, hl heldLease,
	cand []byte, candSrc Source) (fillResult, error) {
	// The key's previous owner first, if it just moved (warmup.go): its
	// entry is written back under the lease like a loaded value.
	if h, val, ok := c.tier.warmRead(ctx, key); ok {
		c.leaseStore(ctx, key, hl, h, val, preciseMs())
		return fillResult{val: val, src: SourceL2, negative: h.flags&flagNegative != 0}, nil
	}
	res, status, err := c.origin.load(ctx, key, l, preciseMs())
	switch status {
	case loaded:
		now := preciseMs()
		h := c.store.valueHeader(res.TTL, now)
		c.leaseStore(ctx, key, hl, h, res.Value, now)
		return fillResult{val: res.Value, src: SourceOrigin}, nil
	case notFound:
		now := preciseMs()
		if h, ok := c.store.negativeHeader(now); ok {
			c.leaseStore(ctx, key, hl, h, nil, now)
		} else {
			_ = c.tier.leaseEnd(ctx, key, hl)
		}
		return fillResult{src: SourceOrigin, negative: true}, nil
	}
	// Failed, in backoff, or shed: hand the lease back so that a waiter
	// need not wait out the lease.
	_ = c.tier.leaseEnd(ctx, key, hl)
	return c.noValue(key, status, err, cand, candSrc)
}

// leaseStore writes the loaded entry (h, val) to L2 if the lease hl still
// stands, and to L1 unless it was voided. On an L2 error L1 is written, as a
// plain store would.
func (c *Client) leaseStore(ctx context.Context, key string, hl heldLease, h header, val []byte, now int64) {
	ok, err := c.tier.leaseCommit(ctx, key, hl, h, val, now)
	if err == nil && !ok {
		// Voided: the key was written, deleted or expired meanwhile (or
		// its lease taken over). The newer state in L2 wins: the value
		// goes to this flight's callers only, not to L1.
		c.st.leaseVoided.Add(1)
		if hl.on != nil {
			_ = c.tier.leaseEnd(ctx, key, hl)
		}
		return
	}
	c.store.fillL1(key, h, val, now, untracked)
}

// holds reports whether cur is a leased envelope with token tok.
func holds(cur []byte, tok leaseToken) bool {
	lh, ok := parseLease(cur)
	return ok && lh.token == tok
}

// sidePrefix starts the name of a key's side key, which holds the lease on
// the key's stale entry: sidePrefix + key, on the key's owner.
const sidePrefix = "cachetier\x00lease\x00"

// sideDoneTTL bounds how long a side key says "done" after the write-back
// of the entry its lease was for: long enough for a request that crossed the
// write-back on the wire, short enough not to meet the next stale entry.
const sideDoneTTL = time.Second

// sideKey returns the name of key's side key.
func sideKey(key string) string { return sidePrefix + key }

// leaseNew writes the cold lease env to key's live owner unless the key
// exists (SET NX GET PX ttl), returning what the key held (nil: the lease is
// ours).
func (t *tier) leaseNew(ctx context.Context, key string, env []byte, ttl time.Duration) (prev []byte, err error) {
	return t.setNXGet(ctx, key, key, env, ttl)
}

// leaseSide writes the lease env to the side key of key on key's live owner
// unless it exists (SET NX GET PX ttl), returning what the side key held
// (nil: the lease is ours).
func (t *tier) leaseSide(ctx context.Context, key string, env []byte, ttl time.Duration) (prev []byte, err error) {
	return t.setNXGet(ctx, key, sideKey(key), env, ttl)
}

// setNXGet runs SET target env NX GET PX ttl on key's live owner (the TTL
// capped on a failover owner) and returns the previous value of target (nil:
// absent, the SET happened).
func (t *tier) setNXGet(ctx context.Context, key, target string, env []byte, ttl time.Duration) (prev []byte, err error) {
	nd, failover := t.route(key)
	if nd == nil {
		return nil, errNoLiveNode
	}
	if failover {
		ttl = min(ttl, t.cfg.FailoverTTL)
	}
	err = t.do(ctx, nd, 0, func(ctx context.Context) error {
		v, err := nd.client().SetArgs(ctx, target, env, redis.SetArgs{Mode: "NX", Get: true, TTL: ttl}).Result()
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

// getWithSide reads key and its side key from key's live owner in one round
// trip (nil: absent).
func (t *tier) getWithSide(ctx context.Context, key string) (env, side []byte, err error) {
	nd, _ := t.route(key)
	if nd == nil {
		return nil, nil, errNoLiveNode
	}
	err = t.do(ctx, nd, 0, func(ctx context.Context) error {
		var ge, gs *redis.StringCmd
		_, err := nd.client().Pipelined(ctx, func(p redis.Pipeliner) error {
			ge, gs = p.Get(ctx, key), p.Get(ctx, sideKey(key))
			return nil
		})
		if err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		if env, err = ge.Bytes(); errors.Is(err, redis.Nil) {
			env, err = nil, nil
		}
		if err != nil {
			return err
		}
		if side, err = gs.Bytes(); errors.Is(err, redis.Nil) {
			side, err = nil, nil
		}
		return err
	})
	return env, side, err
}

// cas runs one compare-and-set of target on key's live owner: WATCH target,
// GET target, and, if want(current value) (nil: absent), MULTI, write, EXEC.
// done says whether the write happened; when it did not, cur is target's
// current value (read again if it changed between the GET and the EXEC).
func (t *tier) cas(ctx context.Context, key, target string, extra time.Duration, want func(cur []byte) bool,
	write func(p redis.Pipeliner, failover bool)) (cur []byte, done bool, err error) {
	nd, failover := t.route(key)
	if nd == nil {
		return nil, false, errNoLiveNode
	}
	err = t.do(ctx, nd, extra, func(ctx context.Context) error {
		return nd.client().Watch(ctx, func(tx *redis.Tx) error {
			b, err := tx.Get(ctx, target).Bytes()
			if err != nil && !errors.Is(err, redis.Nil) {
				return err
			}
			if !want(b) {
				cur = b
				return nil
			}
			_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				write(p, failover)
				return nil
			})
			if errors.Is(err, redis.TxFailedErr) {
				b, err = tx.Get(ctx, target).Bytes()
				if errors.Is(err, redis.Nil) {
					err = nil
				}
				cur = b
				return err
			}
			done = err == nil
			return err
		}, target)
	})
	return cur, done, err
}

// leaseSwap replaces key's expired cold lease seen with the cold lease
// lease (Redis TTL ttl). cur is what the key held instead when it no longer
// held seen.
func (t *tier) leaseSwap(ctx context.Context, key string, seen, lease []byte, ttl time.Duration) (cur []byte, ok bool, err error) {
	return t.cas(ctx, key, key, 0, func(b []byte) bool { return bytes.Equal(b, seen) },
		func(p redis.Pipeliner, failover bool) {
			if failover {
				ttl = min(ttl, t.cfg.FailoverTTL)
			}
			p.Set(ctx, key, lease, ttl)
		})
}

// leaseCommit writes the entry (h, val) to key's live owner, as set does
// (Redis TTL T2, capped and flagged on a failover owner), if the lease hl
// still stands: the key holds hl's token (a cold lease), or still holds the
// stale entry the side lease was taken on (whose side key it then deletes).
// ok is false when the lease was voided.
func (t *tier) leaseCommit(ctx context.Context, key string, hl heldLease, h header, val []byte, now int64) (ok bool, err error) {
	bp := envPool.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= 64*1024 {
			*bp = (*bp)[:0]
			envPool.Put(bp)
		}
	}()
	extra := time.Duration(len(val)+envHdrLen) * 10 * time.Nanosecond
	var (
		written  bool
		writeTTL time.Duration
	)
	_, ok, err = t.cas(ctx, key, key, extra, hl.stands,
		func(p redis.Pipeliner, failover bool) {
			ttl := time.Duration(h.t2-now) * time.Millisecond
			hh := h
			if failover {
				hh.flags |= flagFailover
				ttl = min(ttl, t.cfg.FailoverTTL)
			}
			if ttl < time.Millisecond {
				p.Del(ctx, key) // nothing left to keep: just end the lease
			} else {
				*bp = append(appendHeader((*bp)[:0], hh), val...)
				p.Set(ctx, key, *bp, ttl)
				written, writeTTL = true, ttl
			}
			if hl.on != nil {
				// The side key says "done" (a lease that expired at 0)
				// until the new entry's T1, at most sideDoneTTL: a process
				// that read the stale entry just before this write asks
				// for the side lease just after it, and must find it
				// taken, not free (it would load again).
				done := min(time.Duration(h.t1-now)*time.Millisecond, sideDoneTTL)
				if done >= time.Millisecond {
					p.Set(ctx, sideKey(key), appendLease(nil, hl.tok, 0), done)
				} else {
					p.Del(ctx, sideKey(key))
				}
			}
		})
	// The lease is the owner's; the replicas get the committed entry by a
	// plain write.
	if ok && written {
		if nd, _ := t.route(key); nd != nil {
			if reps := t.replicas(key, nd); len(reps) > 0 {
				t.setReplicas(ctx, reps, key, *bp, writeTTL, extra)
			}
		}
	}
	return ok, err
}

// stands reports whether the lease still stands on a key that holds cur.
func (hl heldLease) stands(cur []byte) bool {
	if hl.on != nil {
		return bytes.Equal(cur, hl.on)
	}
	return holds(cur, hl.tok)
}

// leaseEnd gives the lease hl on key back without a value: the key (a cold
// lease) or its side key is deleted if it still holds hl's token.
func (t *tier) leaseEnd(ctx context.Context, key string, hl heldLease) error {
	target := key
	if hl.on != nil {
		target = sideKey(key)
	}
	_, _, err := t.cas(ctx, key, target, 0, func(b []byte) bool { return holds(b, hl.tok) },
		func(p redis.Pipeliner, _ bool) { p.Del(ctx, target) })
	return err
}
