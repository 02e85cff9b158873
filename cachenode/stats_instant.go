// INFO's instantaneous rates and memory peak, sampled every 100 ms.

package cachenode

import (
	"sync"
	"sync/atomic"
	"time"
)

// instSamples is how many samples an instantaneous rate averages, as Redis's
// STATS_METRIC_SAMPLES: 16 samples 100 ms apart, so INFO's
// instantaneous_ops_per_sec and instantaneous_input/output_kbps describe
// the last 1.6 s.
const instSamples = 16

// instMetric is one rate, sampled like Redis's trackInstantaneousMetric.
type instMetric struct {
	lastMs  int64 // when lastVal was taken; 0 before the first sample
	lastVal uint64
	samples [instSamples]float64 // per second
	next    int
}

func (m *instMetric) track(nowMs int64, v uint64) {
	if m.lastMs != 0 && nowMs > m.lastMs && v >= m.lastVal {
		m.samples[m.next] = float64(v-m.lastVal) * 1000 / float64(nowMs-m.lastMs)
		m.next = (m.next + 1) % instSamples
	}
	m.lastMs, m.lastVal = nowMs, v
}

func (m *instMetric) rate() float64 {
	var sum float64
	for _, v := range m.samples {
		sum += v
	}
	return sum / instSamples
}

// instMetrics holds the server's sampled rates and its peak memory.
type instMetrics struct {
	ready    atomic.Bool // New has finished: sampleStats may run
	mu       sync.Mutex
	ops      instMetric // commands processed
	in, out  instMetric // bytes from and to clients
	peakUsed int64      // used_memory_peak
}

// sampleStats is the store's Tick: every 100 ms it samples the command and
// network counters for the instantaneous rates and records the memory peak.
func (s *Server) sampleStats() {
	if !s.stats.inst.ready.Load() {
		return
	}
	var calls uint64
	for i := range s.stats.byCmd {
		n, _, _ := s.counts(i)
		calls += n
	}
	in, out := s.netTotals()
	used := s.store.UsedMemory()
	now := time.Now().UnixMilli()
	m := &s.stats.inst
	m.mu.Lock()
	m.ops.track(now, calls)
	m.in.track(now, in)
	m.out.track(now, out)
	m.peakUsed = max(m.peakUsed, used)
	m.mu.Unlock()
}

// instant returns the instantaneous rates (commands/s, input and output
// KiB/s) and the memory peak, updated with used, the current figure.
func (s *Server) instant(used int64) (ops, inKbps, outKbps float64, peak int64) {
	m := &s.stats.inst
	m.mu.Lock()
	defer m.mu.Unlock()
	m.peakUsed = max(m.peakUsed, used)
	return m.ops.rate(), m.in.rate() / 1024, m.out.rate() / 1024, m.peakUsed
}
