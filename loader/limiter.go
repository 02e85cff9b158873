package loader

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Limiter bounds origin loads: at most MaxConcurrent in flight and/or Rate per
// second (burst Burst), golang.org/x/time/rate inside. TryAcquire never waits
// (load shedding, no queue).
//
// Protecting the origin is the point: whatever the offered load, the origin
// sees at most maxConcurrent loads at once and, over any interval of t
// seconds, at most burst + rate*t loads. A refused caller should serve a stale
// value or fail fast; it must not retry in a loop.
//
// A Limiter is applied by the code that calls the origin, around each load
// (cacheclient applies the one its Config names, so several clients can
// share one). A Limiter is safe for concurrent use. A nil *Limiter allows
// everything.
type Limiter struct {
	max int64 // max concurrent loads; 0 = unlimited

	// rmu serialises rate decisions. rate.Limiter.Allow reads the clock
	// before taking its lock; under contention an older timestamp can be
	// processed after a newer one, which moves the limiter's "last" time
	// backwards and credits the same interval twice (measured here: 67
	// grants where 65 were allowed). Reading the clock under rmu keeps the
	// timestamps monotonic, so the bound burst + rate*t holds.
	rmu      sync.Mutex
	rl       *rate.Limiter // nil = no rate limit
	inFlight atomic.Int64
	refused  atomic.Uint64
}

// NewLimiter returns a limiter allowing at most maxConcurrent loads in flight
// and at most perSecond loads per second with bursts of up to burst. 0 (or a
// negative value) means unlimited for that dimension: NewLimiter(0, 0, 0)
// limits nothing but still counts loads in flight. With perSecond > 0, burst <= 0
// means a burst of 1 (strictly rate-paced); an infinite rate means unlimited.
func NewLimiter(maxConcurrent int, perSecond float64, burst int) *Limiter {
	l := &Limiter{}
	if maxConcurrent > 0 {
		l.max = int64(maxConcurrent)
	}
	if perSecond > 0 && !math.IsInf(perSecond, 1) && !math.IsNaN(perSecond) {
		if burst <= 0 {
			burst = 1
		}
		l.rl = rate.NewLimiter(rate.Limit(perSecond), burst)
	}
	return l
}

// TryAcquire asks for permission to make one origin load. If granted, it
// returns ok and a release function that the caller must call exactly once
// when the load has finished (extra calls are ignored); if not, it returns
// ok == false at once and a nil release. A load that is refused for its rate
// does not hold a concurrency slot.
func (l *Limiter) TryAcquire() (release func(), ok bool) {
	if l == nil {
		return func() {}, true
	}
	if !l.acquire() {
		l.refused.Add(1)
		return nil, false
	}
	var released atomic.Bool
	return func() {
		if released.CompareAndSwap(false, true) {
			l.inFlight.Add(-1)
		}
	}, true
}

// acquire takes a concurrency slot and a rate token, or neither.
func (l *Limiter) acquire() bool {
	if l.max > 0 {
		for {
			n := l.inFlight.Load()
			if n >= l.max {
				return false
			}
			if l.inFlight.CompareAndSwap(n, n+1) {
				break
			}
		}
	} else {
		l.inFlight.Add(1)
	}
	if l.rl != nil && !l.allowRate() {
		l.inFlight.Add(-1)
		return false
	}
	return true
}

// allowRate takes one rate token if available.
func (l *Limiter) allowRate() bool {
	l.rmu.Lock()
	defer l.rmu.Unlock()
	return l.rl.AllowN(time.Now(), 1)
}

// InFlight reports the number of granted loads not yet released.
func (l *Limiter) InFlight() int {
	if l == nil {
		return 0
	}
	return int(l.inFlight.Load())
}

// Refused reports how many TryAcquire calls have been refused so far.
func (l *Limiter) Refused() uint64 {
	if l == nil {
		return 0
	}
	return l.refused.Load()
}

// MaxConcurrent reports the concurrency limit (0 = unlimited).
func (l *Limiter) MaxConcurrent() int {
	if l == nil {
		return 0
	}
	return int(l.max)
}

// Rate reports the rate limit in loads per second and its burst (0, 0 =
// unlimited).
func (l *Limiter) Rate() (perSecond float64, burst int) {
	if l == nil || l.rl == nil {
		return 0, 0
	}
	return float64(l.rl.Limit()), l.rl.Burst()
}
