// Tests of the deferred closer.

package cachenode

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countCloser counts its Close calls.
type countCloser struct{ n *atomic.Int64 }

func (c countCloser) Close() error { c.n.Add(1); return nil }

// TestDeferredCloser: closes wait for the timer, a full batch is closed at
// once, and stopAndFlush closes everything exactly once even while adds
// race with it.
func TestDeferredCloser(t *testing.T) {
	for _, c := range []struct {
		limit uint64
		max   int
	}{{0, closeBatchMax}, {1 << 20, closeBatchMax}, {200, 25}, {4, 1}} {
		if got := newDeferredCloser(c.limit).max; got != c.max {
			t.Errorf("open-files limit %d: bound %d, want %d", c.limit, got, c.max)
		}
	}
	var n atomic.Int64
	d := newDeferredCloser(0)
	for i := 0; i < 10; i++ {
		d.add(countCloser{&n})
	}
	if got := n.Load(); got != 0 {
		t.Fatalf("%d closed at once, want them held", got)
	}
	for deadline := time.Now().Add(closeDelay + 5*time.Second); n.Load() != 10; {
		if time.Now().After(deadline) {
			t.Fatalf("%d of 10 closed %v later", n.Load(), closeDelay+5*time.Second)
		}
		time.Sleep(10 * time.Millisecond)
	}

	n.Store(0)
	for i := 0; i < closeBatchMax; i++ {
		d.add(countCloser{&n})
	}
	if got := n.Load(); got != closeBatchMax {
		t.Fatalf("after closeBatchMax adds %d were closed, want all %d", got, closeBatchMax)
	}
	d.add(countCloser{&n})
	d.flush()
	if got := n.Load(); got != closeBatchMax+1 {
		t.Fatalf("flush left %d unclosed", closeBatchMax+1-got)
	}

	n.Store(0)
	var wg sync.WaitGroup
	const workers, each = 8, 100
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				d.add(countCloser{&n})
			}
		}()
	}
	time.Sleep(time.Millisecond)
	d.stopAndFlush()
	wg.Wait()
	d.stopAndFlush()
	if got := n.Load(); got != workers*each {
		t.Fatalf("%d closes after stopAndFlush, want %d (each exactly once)", got, workers*each)
	}
}
