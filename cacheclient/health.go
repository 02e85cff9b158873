package cacheclient

import (
	"context"
	"math/rand/v2"
	"time"
)

// healthLoop PINGs the nodes until ctx ends: every up node each
// Health.Interval (a failed PING counts like a failed request), and each down
// node on its own jittered exponential backoff (Interval doubling up to
// 8×Interval); one successful PING marks a down node up.
func (t *tier) healthLoop(ctx context.Context) {
	timer := time.NewTimer(jitter(t.health.Interval))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		t.probeAll(ctx)
		timer.Reset(jitter(t.health.Interval))
	}
}

// probeAll runs one round of health checks, PINGing the due nodes in
// parallel and waiting for all of them (each PING is bounded by
// Tier.Timeout).
func (t *tier) probeAll(ctx context.Context) {
	now := time.Now()
	var due []*node
	t.mu.Lock()
	for _, nd := range t.topo.Load().nodes {
		if nd.down.Load() {
			if now.Before(nd.nextProbe) {
				continue
			}
			nd.backoff = min(2*nd.backoff, 8*t.health.Interval)
			nd.nextProbe = now.Add(jitter(nd.backoff))
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
// marked up, after the keys written while it was down are deleted from it.
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
			t.flushTombstones(ctx, nd)
		} else {
			t.nodeOK(nd)
		}
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
