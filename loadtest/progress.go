package loadtest

import (
	"fmt"
	"time"
)

// progress writes a status line every second until stop closes: elapsed
// time, phase, requests/s, hit ratio, origin calls/s, errors and shed. On a
// terminal the line is redrawn in place; otherwise one line per report.
func (r *run) progress(stop <-chan struct{}) {
	w := r.cfg.Progress
	if w == nil {
		return
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var lastReq, lastOrigin int64
	var lastCalls counters
	lastT := time.Now()
	for {
		select {
		case <-stop:
			if r.cfg.IsTTY {
				fmt.Fprint(w, "\r\x1b[K")
			}
			return
		case <-tick.C:
		}
		now := time.Now()
		if now.Before(r.t0) {
			continue
		}
		r.mu.Lock()
		var c counters
		for i := range r.series {
			c.add(&r.series[i].c)
		}
		phase, _ := phaseNames(r.cfg.Scenario)
		_, next := phaseNames(r.cfg.Scenario)
		for _, e := range r.events {
			if n, ok := next[e.What]; ok {
				phase = n
			}
		}
		r.mu.Unlock()
		oc := r.origin.Stats().Calls
		dt := now.Sub(lastT).Seconds()
		req := c.Requests - lastReq
		hits := (c.L1Hits + c.L2Hits) - (lastCalls.L1Hits + lastCalls.L2Hits)
		hr := 0.0
		if req > 0 {
			hr = float64(hits) / float64(req)
		}
		unit := "req/s"
		if r.cfg.Batch > 1 {
			unit = "keys/s" // Requests counts keys
		}
		line := fmt.Sprintf("%5.1fs  %-14s %8.0f %s  hit %5.1f%%  origin %6.0f/s  errors %d  shed %d  stale %d",
			now.Sub(r.t0).Seconds(), phase, float64(req)/dt, unit, 100*hr, float64(oc-lastOrigin)/dt, c.Errors, c.Shed, c.Stale)
		if r.cfg.IsTTY {
			fmt.Fprint(w, "\r\x1b[K"+line)
		} else {
			fmt.Fprintln(w, line)
		}
		lastReq, lastOrigin, lastCalls, lastT = c.Requests, oc, c, now
	}
}
