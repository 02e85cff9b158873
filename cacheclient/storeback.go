package cacheclient

import (
	"context"
	"time"
)

// storeBack is the stage that writes entries to both levels: it turns TTLs
// into envelope headers (T1, T2), caps the L1 copy's freshness at L1.TTL, and
// hands the L2 copy to the tier, which applies the node-side TTL rules.
type storeBack struct {
	l1   *l1 // nil when disabled
	tier *tier
	co   *coherence
	st   *counters

	ttl, staleTTL, negativeTTL, l1TTL time.Duration
}

func newStoreBack(cfg *Config, l *l1, t *tier, st *counters) *storeBack {
	return &storeBack{l1: l, tier: t, co: t.co, st: st, ttl: cfg.TTL, staleTTL: cfg.StaleTTL, negativeTTL: cfg.NegativeTTL, l1TTL: cfg.L1.TTL}
}

// value writes val to both levels, fresh for ttl from now (0 = Config.TTL)
// and then servable stale for StaleTTL. L1 is written even when the L2 write
// fails; that error is returned.
func (s *storeBack) value(ctx context.Context, key string, val []byte, ttl time.Duration, now int64) error {
	return s.put(ctx, key, s.valueHeader(ttl, now), val, now)
}

// valueHeader is the header of a value written at now, fresh for ttl (0 =
// Config.TTL) and then servable stale for StaleTTL.
func (s *storeBack) valueHeader(ttl time.Duration, now int64) header {
	if ttl <= 0 {
		ttl = s.ttl
	}
	t1 := now + msCeil(ttl)
	return header{t1: t1, t2: t1 + msCeil(s.staleTTL)}
}

// negative writes a "not found" entry for key to both levels, fresh for
// NegativeTTL and never stale; nothing when negative caching is off.
func (s *storeBack) negative(ctx context.Context, key string, now int64) {
	if h, ok := s.negativeHeader(now); ok {
		_ = s.put(ctx, key, h, nil, now)
	}
}

// negativeHeader is the header of a "not found" entry written at now; ok is
// false when negative caching is off.
func (s *storeBack) negativeHeader(now int64) (h header, ok bool) {
	if s.negativeTTL <= 0 {
		return header{}, false
	}
	t1 := now + msCeil(s.negativeTTL)
	return header{flags: flagNegative, t1: t1, t2: t1}, true
}

// put writes the entry (h, val) to L2, then to L1 (even when the L2 write
// failed): after, so that the short freshness of an untracked copy
// (untrackedL1TTL) is not spent on the L2 write of a big value.
func (s *storeBack) put(ctx context.Context, key string, h header, val []byte, now int64) error {
	err := s.tier.set(ctx, key, h, val, now)
	s.fillL1(key, h, val, now, untracked)
	return err
}

// fillL1 writes an entry to L1 alone, its fresh window capped by L1.TTL. m
// is the mark of the tracked L2 read it comes from, or untracked (an entry
// this client wrote, or read by other means): see coherence.go. An entry
// from a tracked read is removed again at once if an invalidation or a
// flush came after its mark; an untracked one is fresh for at most
// untrackedL1TTL when its node is coherent, else flagged incoherent.
func (s *storeBack) fillL1(key string, h header, val []byte, now int64, m readMark) {
	if s.l1 == nil {
		return
	}
	capTo := func(d time.Duration) {
		if d > 0 {
			if capT1 := now + msCeil(d); capT1 < h.t1 {
				h.t1 = capT1
			}
		}
	}
	capTo(s.l1TTL)
	h.flags &^= flagFailover | flagIncoherent
	gen, fresh := m.gen, time.Duration(0)
	if !m.tracked {
		gen = s.co.curGen()
		if nd, _ := s.tier.route(key); nd != nil { // with no node there is nothing to be coherent with
			if s.co.enabled && nd.coherent.Load() {
				fresh = untrackedL1TTL
			} else {
				h.flags |= flagIncoherent
				s.st.incoherentFills.Add(1)
			}
		}
	}
	s.l1.set(key, h, val, gen, fresh)
	if m.tracked && s.co.moved(m) {
		s.l1.del(key)
		s.st.raceDropped.Add(1)
	}
}

// delete removes key from L1 and from its live owner.
func (s *storeBack) delete(ctx context.Context, key string) error {
	if s.l1 != nil {
		s.l1.del(key)
	}
	return s.tier.delete(ctx, key)
}
