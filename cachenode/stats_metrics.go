// The Prometheus collector and the metrics HTTP server.

package cachenode

import (
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/cachetier/cachetier/cachenode/internal/store"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics is the Prometheus collector of one Server (no global state). It
// reads the server's and the store's counters at scrape time.
type metrics struct {
	s       *Server
	latency *prometheus.HistogramVec

	commands, hits, misses, evicted, expired, keys, expires *prometheus.Desc
	memUsed, memMax, memRSS, clients, connsTotal, rejected  *prometheus.Desc
	netIn, netOut, up                                       *prometheus.Desc
}

func newMetrics(s *Server) *metrics {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("cachenode_"+name, help, labels, nil)
	}
	m := &metrics{
		s: s,
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "cachenode_command_duration_seconds",
			Help:    "Time spent executing commands, by command, excluding network I/O; measured on a sample of one command in 16 per connection.",
			Buckets: prometheus.ExponentialBuckets(10e-6, 4, 9), // 10µs .. 655ms
		}, []string{"cmd"}),
		commands:   d("commands_total", "Commands received, by command and result (ok, error). Unknown commands count as cmd=\"unknown\".", "cmd", "result"),
		hits:       d("keyspace_hits_total", "Successful key lookups by read commands."),
		misses:     d("keyspace_misses_total", "Failed key lookups by read commands."),
		evicted:    d("evicted_keys_total", "Keys evicted because of the maxmemory limit."),
		expired:    d("expired_keys_total", "Keys removed because their TTL passed."),
		keys:       d("keys", "Keys in the store."),
		expires:    d("keys_with_expiry", "Keys in the store that have a TTL."),
		memUsed:    d("memory_used_bytes", "Memory held by the store as it accounts it (INFO used_memory)."),
		memMax:     d("memory_max_bytes", "The maxmemory limit; 0 means unlimited."),
		memRSS:     d("memory_rss_bytes", "Resident set size of the process."),
		clients:    d("connected_clients", "Client connections currently open."),
		connsTotal: d("connections_total", "Client connections accepted, including rejected ones."),
		rejected:   d("rejected_connections_total", "Connections refused because of maxclients."),
		netIn:      d("net_input_bytes_total", "Bytes read from clients."),
		netOut:     d("net_output_bytes_total", "Bytes written to clients."),
		up:         d("ready", "1 while the server is listening and not shutting down."),
	}
	for i := range s.stats.byCmd {
		s.stats.byCmd[i].vec = m.latency
		if i < len(commandList) {
			s.stats.byCmd[i].name = commandList[i].name
		} else {
			s.stats.byCmd[i].name = "unknown"
		}
	}
	return m
}

// Describe implements prometheus.Collector.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	m.latency.Describe(ch)
	for _, d := range []*prometheus.Desc{m.commands, m.hits, m.misses, m.evicted, m.expired, m.keys, m.expires,
		m.memUsed, m.memMax, m.memRSS, m.clients, m.connsTotal, m.rejected, m.netIn, m.netOut, m.up} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	m.latency.Collect(ch)
	s := m.s
	for i := range s.stats.byCmd {
		st := &s.stats.byCmd[i]
		calls, failed, rej := s.counts(i)
		if calls == 0 && rej == 0 {
			continue
		}
		ch <- prometheus.MustNewConstMetric(m.commands, prometheus.CounterValue, float64(calls-failed), st.name, "ok")
		ch <- prometheus.MustNewConstMetric(m.commands, prometheus.CounterValue, float64(failed+rej), st.name, "error")
	}
	var ss store.Stats
	s.store.UpdateStats(&ss)
	counter := func(d *prometheus.Desc, v uint64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	counter(m.hits, ss.Hits)
	counter(m.misses, ss.Misses)
	counter(m.evicted, ss.Evicted)
	counter(m.expired, ss.Expired)
	gauge(m.keys, float64(ss.Keys))
	gauge(m.expires, float64(ss.Expires))
	gauge(m.memUsed, float64(ss.UsedMemory))
	gauge(m.memMax, float64(uint64(s.settings.maxMemory.Load())))
	gauge(m.memRSS, float64(rss()))
	s.net.mu.Lock()
	n := len(s.net.conns)
	s.net.mu.Unlock()
	gauge(m.clients, float64(n))
	counter(m.connsTotal, s.stats.connsTotal.Load())
	counter(m.rejected, s.stats.rejected.Load())
	in, out := s.netTotals()
	counter(m.netIn, in)
	counter(m.netOut, out)
	ready := 0.0
	if s.ready() {
		ready = 1
	}
	gauge(m.up, ready)
}

// metricsHandler serves /metrics, /healthz (the process is up) and /readyz
// (listening and not shutting down).
func (s *Server) metricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !s.ready() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	return mux
}

func (s *Server) serveMetrics(ln net.Listener) error {
	s.net.mu.Lock()
	defer s.net.mu.Unlock()
	if s.net.closing {
		ln.Close()
		return ErrServerClosed
	}
	s.net.httpLn = ln
	s.net.httpSrv = &http.Server{Handler: s.metricsHandler(), ReadHeaderTimeout: 10 * time.Second}
	srv := s.net.httpSrv
	s.life.serveWG.Add(1)
	go func() {
		defer s.life.serveWG.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("cachenode: metrics server stopped", "err", err)
		}
	}()
	return nil
}
