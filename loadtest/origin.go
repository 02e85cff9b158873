package loadtest

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// OriginConfig configures the origin simulator. The zero value works.
type OriginConfig struct {
	// Latency is the median service time of one call. Default 20ms.
	Latency time.Duration
	// Jitter is the sigma of the log-normal latency distribution around
	// Latency (0.3 gives p99 ≈ 2×median). Default 0.3; negative means none.
	Jitter float64
	// Capacity is how many concurrent calls the origin serves at full speed.
	// Beyond it, latency grows in proportion to the overload; beyond
	// 2×Capacity calls are refused with 503. Default 64.
	Capacity int
	// ValueSize is the size in bytes of each value served. Default 64.
	ValueSize int
	// Bucket is the granularity of the per-time call counts. Default 100ms.
	Bucket time.Duration
}

func (c *OriginConfig) init() {
	orDefault(&c.Latency, 20*time.Millisecond)
	if c.Jitter == 0 {
		c.Jitter = 0.3
	}
	if c.Jitter < 0 {
		c.Jitter = 0
	}
	orDefault(&c.Capacity, 64)
	orDefault(&c.ValueSize, 64)
	orDefault(&c.Bucket, 100*time.Millisecond)
}

// OriginPath is the URL path prefix under which the origin serves keys:
// GET {URL}{key} returns the key's value.
const OriginPath = "/k/"

// Origin is a simulated origin (the database or service behind the cache):
// an HTTP server on loopback. It counts every call per key and per time
// bucket and tracks its peak concurrency, so what it reports is the truth
// about the load that reached it.
type Origin struct {
	cfg   OriginConfig
	ln    net.Listener
	srv   *http.Server
	start time.Time
	url   string

	down      atomic.Bool
	errRate   atomic.Uint64 // math.Float64bits of the injected error rate
	inflight  atomic.Int64
	peakConc  atomic.Int64
	calls     atomic.Int64
	failed    atomic.Int64
	serveDone chan struct{}

	mu        sync.Mutex       // protects perKey, buckets, failBkt, reloadBkt, reloads
	perKey    map[string]int64 // calls per key
	buckets   []int64          // calls per Bucket since start
	failBkt   []int64          // failed (5xx) calls per Bucket since start
	reloadBkt []int64          // calls per Bucket for keys called before
	logReload bool             // keep reloads (KeepReloads)
	reloads   []Reload         // calls for keys called before, in order (with logReload)
}

// StartOrigin starts an origin simulator on a free 127.0.0.1 port.
func StartOrigin(cfg OriginConfig) (*Origin, error) {
	cfg.init()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	o := &Origin{
		cfg:       cfg,
		ln:        ln,
		start:     time.Now(),
		url:       "http://" + ln.Addr().String() + OriginPath,
		perKey:    make(map[string]int64),
		serveDone: make(chan struct{}),
	}
	mux := http.NewServeMux()
	mux.HandleFunc(OriginPath, o.serveKey)
	o.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		defer close(o.serveDone)
		_ = o.srv.Serve(ln)
	}()
	return o, nil
}

// URL returns the base URL of the origin; a key's value is at URL()+key.
func (o *Origin) URL() string { return o.url }

// Start returns the time the origin started; per-time counts are relative to it.
func (o *Origin) Start() time.Time { return o.start }

// SetDown makes every call fail at once with 503 (down=true) or restores
// normal service.
func (o *Origin) SetDown(down bool) { o.down.Store(down) }

// SetErrorRate makes a random fraction p (0..1) of calls fail with 500.
func (o *Origin) SetErrorRate(p float64) { o.errRate.Store(math.Float64bits(p)) }

// Value returns the value the origin serves for key: the key, a '|', then
// filler up to size bytes. Clients check values against it.
func Value(key string, size int) []byte {
	b := make([]byte, 0, max(size, len(key)+1))
	b = append(b, key...)
	b = append(b, '|')
	for len(b) < size {
		b = append(b, byte('a'+len(b)%26))
	}
	return b
}

func (o *Origin) serveKey(w http.ResponseWriter, r *http.Request) {
	key := strings.TrimPrefix(r.URL.Path, OriginPath)
	n := o.inflight.Add(1)
	defer o.inflight.Add(-1)
	for {
		p := o.peakConc.Load()
		if n <= p || o.peakConc.CompareAndSwap(p, n) {
			break
		}
	}
	o.calls.Add(1)
	o.count(key, false)

	fail := func(code int) {
		o.failed.Add(1)
		o.count("", true)
		w.Header().Set("Retry-After", "1")
		http.Error(w, http.StatusText(code), code)
	}
	if o.down.Load() {
		fail(http.StatusServiceUnavailable)
		return
	}
	capacity := int64(o.cfg.Capacity)
	if n > 2*capacity {
		fail(http.StatusServiceUnavailable)
		return
	}
	d := o.latency()
	if n > capacity {
		d = time.Duration(float64(d) * float64(n) / float64(capacity))
	}
	t := time.NewTimer(d)
	select {
	case <-t.C:
	case <-r.Context().Done():
		t.Stop()
		return
	}
	if p := math.Float64frombits(o.errRate.Load()); p > 0 && rand.Float64() < p {
		fail(http.StatusInternalServerError)
		return
	}
	v := Value(key, o.cfg.ValueSize)
	w.Header().Set("Content-Length", strconv.Itoa(len(v)))
	_, _ = w.Write(v)
}

func (o *Origin) latency() time.Duration {
	if o.cfg.Jitter == 0 {
		return o.cfg.Latency
	}
	f := math.Exp(rand.NormFloat64() * o.cfg.Jitter)
	return time.Duration(float64(o.cfg.Latency) * f)
}

// count records one call for key at the current time (failed: a failure
// for the current bucket; key is then ignored).
func (o *Origin) count(key string, failed bool) {
	i := int(time.Since(o.start) / o.cfg.Bucket)
	o.mu.Lock()
	defer o.mu.Unlock()
	if failed {
		for len(o.failBkt) <= i {
			o.failBkt = append(o.failBkt, 0)
		}
		o.failBkt[i]++
		return
	}
	reload := o.perKey[key] > 0
	o.perKey[key]++
	for len(o.buckets) <= i {
		o.buckets = append(o.buckets, 0)
		o.reloadBkt = append(o.reloadBkt, 0)
	}
	o.buckets[i]++
	if reload {
		o.reloadBkt[i]++
		if o.logReload {
			o.reloads = append(o.reloads, Reload{At: time.Since(o.start), Key: key})
		}
	}
}

// OriginStats is a snapshot of what the origin saw.
type OriginStats struct {
	// Calls is the number of calls received, failed ones included.
	Calls int64
	// Failed is the number of calls answered with an error status.
	Failed int64
	// PeakConcurrency is the largest number of calls in progress at once.
	PeakConcurrency int64
	// Keys is the number of distinct keys requested.
	Keys int
	// MaxCallsPerKey is the largest number of calls for a single key.
	MaxCallsPerKey int64
}

// Stats returns a snapshot of the origin's counters.
func (o *Origin) Stats() OriginStats {
	s := OriginStats{Calls: o.calls.Load(), Failed: o.failed.Load(), PeakConcurrency: o.peakConc.Load()}
	o.mu.Lock()
	defer o.mu.Unlock()
	s.Keys = len(o.perKey)
	for _, c := range o.perKey {
		s.MaxCallsPerKey = max(s.MaxCallsPerKey, c)
	}
	return s
}

// CallsPerKey returns a copy of the per-key call counts.
func (o *Origin) CallsPerKey() map[string]int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	m := make(map[string]int64, len(o.perKey))
	for k, v := range o.perKey {
		m[k] = v
	}
	return m
}

// Reload is an origin call for a key that had been called for before: a
// value the cache tier had held once and did not have at hand again.
type Reload struct {
	At  time.Duration // since Start
	Key string
}

// KeepReloads makes the origin keep every reload from now on, for Reloads
// (memory grows with each one; the per-bucket counts are always kept).
func (o *Origin) KeepReloads() {
	o.mu.Lock()
	o.logReload = true
	o.mu.Unlock()
}

// Reloads returns the calls for keys called before, in call order, since
// KeepReloads.
func (o *Origin) Reloads() []Reload {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]Reload(nil), o.reloads...)
}

// Timeline returns the calls, failed calls and reloads (calls for keys
// called before) per Bucket since Start.
func (o *Origin) Timeline() (bucket time.Duration, calls, failed, reloads []int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	calls = append([]int64(nil), o.buckets...)
	failed = append([]int64(nil), o.failBkt...)
	for len(failed) < len(calls) {
		failed = append(failed, 0)
	}
	reloads = append([]int64(nil), o.reloadBkt...)
	return o.cfg.Bucket, calls, failed, reloads
}

// Close stops the origin, waiting up to 5s for calls in progress.
func (o *Origin) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := o.srv.Shutdown(ctx)
	if err != nil {
		_ = o.srv.Close()
	}
	<-o.serveDone
	if errors.Is(err, context.DeadlineExceeded) {
		return nil
	}
	return err
}
