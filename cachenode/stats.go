// The server's counters: per command, striped by connection.

package cachenode

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// serverStats are the server's counters, for INFO and the Prometheus
// metrics: atomics, updated without locks on the command path, or types
// with their own lock.
type serverStats struct {
	byCmd         []cmdStats          // sampled execution times, indexed by command id; last: unknown commands
	stripes       [statStripes]stripe // calls and bytes, striped by connection
	connsTotal    atomic.Uint64
	rejected      atomic.Uint64            // connections refused for maxclients
	lastRejectLog atomic.Int64             // unix second of the last "max number of clients" warning
	maxOut        atomic.Int64             // largest reply batch written (INFO client_recent_max_output_buffer)
	blocked       atomic.Int64             // connections in WAIT (INFO blocked_clients)
	base          atomic.Pointer[statBase] // counters at the last CONFIG RESETSTAT (zeros before)
	inst          instMetrics              // INFO's instantaneous rates and memory peak (stats_instant.go)
	errors        errorStats               // INFO errorstats
	panics        atomic.Uint64            // panics recovered while serving a client (each closed its connection)
}

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
	dirty         atomic.Uint64 // keys changed by write commands (INFO rdb_changes_since_last_save)
	_             [32]byte
}

// cmdCount counts one command's calls in one stripe.
type cmdCount struct {
	calls    atomic.Uint64 // executed
	failed   atomic.Uint64 // executed, replied with an error
	rejected atomic.Uint64 // refused before execution (arity, NOAUTH, OOM, ...)
}

// counts sums command id's counters over the stripes.
func (s *Server) counts(id int) (calls, failed, rejected uint64) {
	for i := range s.stats.stripes {
		c := &s.stats.stripes[i].cmd[id]
		calls += c.calls.Load()
		failed += c.failed.Load()
		rejected += c.rejected.Load()
	}
	return calls, failed, rejected
}

// dirty sums the keys changed by write commands since the server started.
func (s *Server) dirty() uint64 {
	var n uint64
	for i := range s.stats.stripes {
		n += s.stats.stripes[i].dirty.Load()
	}
	return n
}

// netTotals sums the bytes read from and written to clients.
func (s *Server) netTotals() (in, out uint64) {
	for i := range s.stats.stripes {
		in += s.stats.stripes[i].netIn.Load()
		out += s.stats.stripes[i].netOut.Load()
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
