package cacheclient

import (
	"sync"
	"sync/atomic"
	"time"
)

// coarseClock is a clock for the L1 hit path: Unix milliseconds in an atomic,
// advanced every millisecond by one goroutine and by every precise read.
// Reading the system clock costs 100-200 ns on some virtual machines
// (kvm-clock), as much as the rest of an L1 hit.
//
// One clock serves every Client in the process: the first New starts its
// goroutine and the last Close stops it (and waits for it).
type coarseClock struct {
	now atomic.Int64

	mu   sync.Mutex // protects refs, stop and done
	refs int
	stop chan struct{}
	done chan struct{}
}

var sharedClock coarseClock

// acquire registers a user, starting the goroutine for the first one.
func (k *coarseClock) acquire() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.refs == 0 {
		k.precise()
		k.stop, k.done = make(chan struct{}), make(chan struct{})
		go k.run(k.stop, k.done)
	}
	k.refs++
}

// release unregisters a user, stopping the goroutine after the last one.
func (k *coarseClock) release() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.refs--; k.refs == 0 {
		close(k.stop)
		<-k.done
	}
}

func (k *coarseClock) run(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
			k.precise()
		}
	}
}

// coarse returns the clock's time in Unix milliseconds. It lags the real time
// by up to a millisecond, more when the clock goroutine is starved of CPU.
func (k *coarseClock) coarse() int64 { return k.now.Load() }

// precise reads the system clock and advances the coarse clock with it.
func (k *coarseClock) precise() int64 {
	ms := time.Now().UnixMilli()
	for {
		cur := k.now.Load()
		if ms <= cur || k.now.CompareAndSwap(cur, ms) {
			return ms
		}
	}
}

// coarseMs returns the coarse current time in Unix milliseconds: the L1 hit
// path's clock.
func coarseMs() int64 { return sharedClock.coarse() }

// preciseMs reads the system clock: the slow paths' clock.
func preciseMs() int64 { return sharedClock.precise() }
