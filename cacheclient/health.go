package cacheclient

import (
	"context"
	"math/rand/v2"
	"time"
)

// A node marked down is PINGed again quickly, so that a restart of a few
// tens of milliseconds (a warm restart from a snapshot) keeps its keys on
// their failover owners, where they are misses, for about as long, not for
// a whole Interval: the first re-probe comes after Interval/firstProbeDiv,
// and each further one after twice the previous delay, up to
// maxProbeMul×Interval. A node that fails again within maxProbeMul×Interval
// of coming back up (it answers PINGs but not requests, or restarts over
// and over) starts its next down spell where the last one started, doubled,
// so that it is not marked up and down at the quick pace.
const (
	firstProbeDiv = 8
	maxProbeMul   = 8
)

// healthLoop PINGs the nodes until ctx ends: every up node each
// Health.Interval (a failed PING counts like a failed request), and each down
// node on its own jittered exponential backoff (see firstProbeDiv); one
// successful PING marks a down node up. nodeFailed wakes the loop (probeKick)
// so that it can wait for the first re-probe of a node just marked down.
func (t *tier) healthLoop(ctx context.Context) {
	nextRound := time.Now().Add(jitter(t.health.Interval))
	timer := time.NewTimer(time.Until(nextRound))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-t.probeKick:
		}
		round := !time.Now().Before(nextRound)
		t.probeAll(ctx, round)
		if round {
			nextRound = time.Now().Add(jitter(t.health.Interval))
		}
		wake := nextRound
		if p, ok := t.nextDownProbe(); ok && p.Before(wake) {
			wake = p
		}
		timer.Reset(time.Until(wake))
	}
}

// nextDownProbe returns when the earliest re-probe of a down node is due;
// ok is false when no node is down.
func (t *tier) nextDownProbe() (at time.Time, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, nd := range t.topo.Load().nodes {
		if nd.down.Load() && (!ok || nd.nextProbe.Before(at)) {
			at, ok = nd.nextProbe, true
		}
	}
	return at, ok
}

// scheduleReprobe sets the probe schedule of nd, which is being marked down
// at now: the first re-probe after Interval/firstProbeDiv, or, when nd came
// up less than maxProbeMul×Interval ago, after twice the first delay of its
// last down spell (capped at maxProbeMul×Interval). It wakes the health loop.
// The caller holds t.mu.
func (t *tier) scheduleReprobe(nd *node, now time.Time) {
	iv := t.health.Interval
	first := max(iv/firstProbeDiv, time.Millisecond)
	if nd.firstBackoff > 0 && !nd.upAt.IsZero() && now.Sub(nd.upAt) < maxProbeMul*iv {
		first = min(max(first, 2*nd.firstBackoff), maxProbeMul*iv)
	}
	nd.firstBackoff, nd.backoff = first, first
	nd.nextProbe = now.Add(jitter(first))
	select {
	case t.probeKick <- struct{}{}:
	default:
	}
}

// probeAll runs one round of health checks, PINGing the due nodes in
// parallel and waiting for all of them (each PING is bounded by
// Tier.Timeout): the down nodes whose re-probe is due, and the up nodes
// too when ups is set.
func (t *tier) probeAll(ctx context.Context, ups bool) {
	now := time.Now()
	var due []*node
	t.mu.Lock()
	for _, nd := range t.topo.Load().nodes {
		if nd.down.Load() {
			if now.Before(nd.nextProbe) {
				continue
			}
			nd.backoff = min(2*nd.backoff, maxProbeMul*t.health.Interval)
			nd.nextProbe = now.Add(jitter(nd.backoff))
		} else if !ups {
			continue
		}
		due = append(due, nd)
	}
	t.mu.Unlock()
	done := make(chan struct{}, len(due))
	for _, nd := range due {
		go func() {
			defer func() { done <- struct{}{} }()
			t.probe(ctx, nd)
		}()
	}
	for range due {
		<-done
	}
}

// probe PINGs one node and records the outcome. A down node that answers is
// marked up. A node that answers then loses the copies this client voided
// on it (tombstone.go): keys written while it was down, or whose write to
// it failed.
func (t *tier) probe(ctx context.Context, nd *node) {
	wasDown := nd.down.Load()
	pctx, cancel := context.WithTimeout(ctx, t.cfg.Timeout)
	err := nd.client().Ping(pctx).Err()
	cancel()
	if ctx.Err() != nil {
		return // closing
	}
	if err == nil {
		if wasDown {
			t.markUp(nd)
		} else {
			t.nodeOK(nd)
		}
		t.flushTombstones(ctx, nd) // writes it missed while down, or that failed on it
		return
	}
	if !wasDown && isNodeFailure(err) {
		nd.errors.Add(1)
		t.nodeFailed(nd, err)
	}
}

// jitter returns d scaled by a random factor in [0.75, 1.25).
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return d
	}
	return time.Duration(float64(d) * (0.75 + rand.Float64()/2))
}
