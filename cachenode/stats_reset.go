// CONFIG RESETSTAT: the base INFO's counters are reported from.

package cachenode

import "github.com/cachetier/cachetier/cachenode/internal/store"

// statBase holds the counter values at the last CONFIG RESETSTAT. INFO
// reports counters minus this base, so RESETSTAT resets what INFO shows
// while the underlying counters (and the Prometheus metrics built on them,
// which must never go backwards) keep counting.
type statBase struct {
	hits, misses, evicted, expired uint64
	conns, rejected, netIn, netOut uint64
	calls, failed, rejectedCmd     []uint64 // by command id
	sampled, nanos                 []uint64 // by command id
}

// resetStats records the current counters as the new base.
func (s *Server) resetStats() {
	var st store.Stats
	s.store.UpdateStats(&st)
	b := newStatBase(len(s.stats.byCmd))
	b.hits, b.misses, b.evicted, b.expired = st.Hits, st.Misses, st.Evicted, st.Expired
	b.conns, b.rejected = s.stats.connsTotal.Load(), s.stats.rejected.Load()
	b.netIn, b.netOut = s.netTotals()
	for id := range s.stats.byCmd {
		b.calls[id], b.failed[id], b.rejectedCmd[id] = s.counts(id)
		b.sampled[id], b.nanos[id] = s.stats.byCmd[id].sampled.Load(), s.stats.byCmd[id].nanos.Load()
	}
	s.stats.base.Store(b)
	s.stats.errors.reset()
}

// newStatBase returns a base of zeros, sized for the command table.
func newStatBase(n int) *statBase {
	return &statBase{calls: make([]uint64, n), failed: make([]uint64, n), rejectedCmd: make([]uint64, n),
		sampled: make([]uint64, n), nanos: make([]uint64, n)}
}

// since returns cur-base, or 0 if a counter is behind its base (never
// expected; counters only grow).
func since(cur, base uint64) uint64 {
	if cur < base {
		return 0
	}
	return cur - base
}
