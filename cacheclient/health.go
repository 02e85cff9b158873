package cacheclient

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"
)

// healthLoop PINGs the nodes until ctx ends: every up node each
// HealthInterval (a failed PING counts like a failed request), and each down
// node on its own jittered exponential backoff (HealthInterval doubling up to
// 8×HealthInterval); one successful PING marks a down node up.
func (c *Client) healthLoop(ctx context.Context) {
	defer c.bg.Done()
	timer := time.NewTimer(jitter(c.cfg.HealthInterval))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		c.probeAll(ctx)
		timer.Reset(jitter(c.cfg.HealthInterval))
	}
}

// probeAll runs one round of health checks, PINGing the due nodes in
// parallel and waiting for all of them (each PING is bounded by L2Timeout).
func (c *Client) probeAll(ctx context.Context) {
	now := time.Now()
	var due []*node
	c.mu.Lock()
	for _, nd := range c.topo.Load().nodes {
		if nd.down.Load() {
			if now.Before(nd.nextProbe) {
				continue
			}
			nd.backoff = min(2*nd.backoff, 8*c.cfg.HealthInterval)
			nd.nextProbe = now.Add(jitter(nd.backoff))
		}
		due = append(due, nd)
	}
	c.mu.Unlock()
	done := make(chan struct{}, len(due))
	for _, nd := range due {
		go func() {
			defer func() { done <- struct{}{} }()
			c.probe(ctx, nd)
		}()
	}
	for range due {
		<-done
	}
}

// probe PINGs one node and records the outcome.
func (c *Client) probe(ctx context.Context, nd *node) {
	wasDown := nd.down.Load()
	pctx, cancel := context.WithTimeout(ctx, c.cfg.L2Timeout)
	err := nd.rdb.Ping(pctx).Err()
	cancel()
	if ctx.Err() != nil {
		return // closing
	}
	if err == nil {
		if wasDown {
			c.markUp(nd)
			c.flushTombstones(ctx, nd)
		} else {
			c.nodeOK(nd)
		}
		return
	}
	if !wasDown && isNodeFailure(err) {
		nd.errors.Add(1)
		c.nodeFailed(nd, err)
	}
}

// jitter returns d scaled by a random factor in [0.75, 1.25).
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return d
	}
	return time.Duration(float64(d) * (0.75 + rand.Float64()/2))
}

// discoveryWait is how long New waits for the Discoverer's first node set.
const discoveryWait = 2 * time.Second

// watch runs the Discoverer until ctx ends, installing each node set it
// reports. The first update, or Watch failing before any, is signalled on
// first (buffered).
func (c *Client) watch(ctx context.Context, d Discoverer, first chan<- error) {
	defer c.bg.Done()
	signalled := false
	err := d.Watch(ctx, func(m Membership) {
		c.setMembership(m)
		if !signalled {
			signalled = true
			first <- nil
		}
	})
	if !signalled {
		if err == nil {
			err = errors.New("Watch returned without a node set")
		}
		first <- err
		return
	}
	if err != nil && ctx.Err() == nil {
		c.log.Error("cacheclient: discovery stopped", "err", err)
	}
}
