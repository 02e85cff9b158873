package cachenode

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// cmdStats are one command's counters, updated lock-free by connections and
// read by INFO commandstats and the Prometheus collector.
type cmdStats struct {
	sampled atomic.Uint64 // executions whose duration was measured
	nanos   atomic.Uint64 // total duration of the measured executions
	hist    atomic.Pointer[prometheus.Observer]
	name    string
	vec     *prometheus.HistogramVec
}

// statStripes: the call and byte counters are striped by connection so
// that connections running on different cores rarely update the same
// cache line; readers sum the stripes.
const statStripes = 8

// stripe is one stripe of the server's counters.
type stripe struct {
	cmd           []cmdCount // indexed by command id; last: unknown commands
	netIn, netOut atomic.Uint64
	_             [40]byte
}

// cmdCount counts one command's calls in one stripe.
type cmdCount struct {
	calls    atomic.Uint64 // executed
	failed   atomic.Uint64 // executed, replied with an error
	rejected atomic.Uint64 // refused before execution (arity, NOAUTH, OOM, ...)
}

// counts sums command id's counters over the stripes.
func (s *Server) counts(id int) (calls, failed, rejected uint64) {
	for i := range s.stripes {
		c := &s.stripes[i].cmd[id]
		calls += c.calls.Load()
		failed += c.failed.Load()
		rejected += c.rejected.Load()
	}
	return calls, failed, rejected
}

// netTotals sums the bytes read from and written to clients.
func (s *Server) netTotals() (in, out uint64) {
	for i := range s.stripes {
		in += s.stripes[i].netIn.Load()
		out += s.stripes[i].netOut.Load()
	}
	return in, out
}

func (st *cmdStats) sample(d time.Duration) {
	st.sampled.Add(1)
	st.nanos.Add(uint64(d))
	h := st.hist.Load()
	if h == nil {
		o := st.vec.WithLabelValues(st.name)
		st.hist.Store(&o)
		h = &o
	}
	(*h).Observe(d.Seconds())
}
