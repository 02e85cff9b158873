package cacheclient

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestReprobeSchedule: a node marked down is first re-probed after
// Interval/8 (jittered ±25%), and the health loop is woken to wait for that;
// a node marked down again soon after it came up (flapping) starts its down
// spell at twice the last first delay, up to 8×Interval; once it has stayed
// up for 8×Interval the quick first re-probe applies again.
func TestReprobeSchedule(t *testing.T) {
	const iv = 800 * time.Millisecond
	tr := &tier{health: HealthConfig{Interval: iv}, probeKick: make(chan struct{}, 1)}
	nd := &node{}
	now := time.Now()
	check := func(what string, wantFirst time.Duration) {
		t.Helper()
		tr.scheduleReprobe(nd, now)
		if nd.firstBackoff != wantFirst || nd.backoff != wantFirst {
			t.Fatalf("%s: first delay %v (backoff %v), want %v", what, nd.firstBackoff, nd.backoff, wantFirst)
		}
		lo, hi := now.Add(wantFirst*3/4), now.Add(wantFirst*5/4)
		if nd.nextProbe.Before(lo) || !nd.nextProbe.Before(hi) {
			t.Fatalf("%s: next probe %v after marking down, want in [%v, %v)", what, nd.nextProbe.Sub(now), wantFirst*3/4, wantFirst*5/4)
		}
		select {
		case <-tr.probeKick:
		default:
			t.Fatalf("%s: the health loop was not woken", what)
		}
	}
	check("first down", iv/8)
	want := iv / 8
	for i := 0; i < 8; i++ {
		nd.upAt = now // came back, failed again at once
		now = now.Add(time.Millisecond)
		want = min(2*want, 8*iv)
		check(fmt.Sprintf("flap %d", i+1), want)
	}
	if want != 8*iv {
		t.Fatalf("flapping delay stopped at %v, want the cap %v", want, 8*iv)
	}
	nd.upAt = now
	now = now.Add(8 * iv)
	check("down after staying up 8×Interval", iv/8)
}

// TestQuickReturn: a node that is down only briefly (killed, then restarted
// at once on its port) is marked up again by the first quick re-probe, long
// before a whole Interval has passed (the earliest a schedule starting at
// Interval could find it, 0.75×Interval with the jitter).
func TestQuickReturn(t *testing.T) {
	eachNodeKind(t, func(t *testing.T, startN func(testing.TB, int) []*testNode) {
		const iv = 4 * time.Second
		nodes := startN(t, 2)
		c := newClient(t, Config{
			Tier:   TierConfig{Addrs: addrsOf(nodes)},
			L1:     L1Config{Bytes: -1},
			Health: HealthConfig{FailureThreshold: 1, Interval: iv},
		})
		origin := &countingLoader{}
		victim := nodes[0]
		victim.Kill()
		for i := 0; nodeUp(c, victim.Addr); i++ {
			if i == 10000 {
				t.Fatal("the killed node was not marked down")
			}
			if _, err := c.Get(context.Background(), fmt.Sprintf("key:%d", i), origin); err != nil {
				t.Fatalf("Get: %v", err)
			}
		}
		down := time.Now()
		victim.Restart()
		waitFor(t, iv*3/4, "the restarted node marked up", func() bool { return nodeUp(c, victim.Addr) })
		t.Logf("marked up %v after marked down", time.Since(down).Round(time.Millisecond))
	})
}
