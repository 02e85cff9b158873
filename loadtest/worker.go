package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// NewClientFunc builds the Client a client process drives.
type NewClientFunc func(ClientSetup) (Client, error)

// RunClientProcess is the body of a client process: it reads commands from
// in (JSON lines written by the parent), drives the Client that newClient
// builds with the configured number of goroutines, and writes per-interval
// results to out. It returns when the parent says stop, when the work is
// done (herd, request cap, deadline), or when in closes (the parent died).
func RunClientProcess(in io.Reader, out io.Writer, newClient NewClientFunc) error {
	lw := newLineWriter(out)
	sc := newLineScanner(in)
	var cfg *workerConfig
	for cfg == nil {
		if !sc.Scan() {
			return errors.New("loadtest: client process: no config on stdin")
		}
		var cmd command
		if err := json.Unmarshal(sc.Bytes(), &cmd); err != nil {
			return fmt.Errorf("loadtest: client process: bad command: %w", err)
		}
		if cmd.Op == "config" && cmd.Config != nil {
			cfg = cmd.Config
		}
	}
	w := &worker{cfg: *cfg, lw: lw}
	w.cfg.init()
	c, err := newClient(cfg.Setup)
	if err != nil {
		_ = lw.write(report{Type: "fatal", ID: cfg.ID, Msg: err.Error()})
		return err
	}
	defer c.Close()
	w.client = c

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	startc := make(chan time.Time, 1)
	// Commands after the config: start, addrs, stop. EOF means the parent is gone.
	go func() {
		defer cancel()
		for sc.Scan() {
			var cmd command
			if json.Unmarshal(sc.Bytes(), &cmd) != nil {
				continue
			}
			switch cmd.Op {
			case "start":
				select {
				case startc <- time.Unix(0, cmd.T0):
				default:
				}
			case "addrs":
				if err := c.SetAddrs(cmd.Addrs); err != nil {
					w.noteErr(fmt.Errorf("set addrs: %w", err))
				}
			case "mark":
				w.marked.Store(true)
			case "stop":
				return
			}
		}
	}()
	if err := lw.write(report{Type: "ready", ID: cfg.ID}); err != nil {
		return err
	}
	var t0 time.Time
	select {
	case t0 = <-startc:
	case <-ctx.Done():
		return nil
	}
	w.run(ctx, t0)
	done := report{Type: "done", ID: cfg.ID, Errs: w.sampleErrs(), NodesUp: c.NodesUp()}
	for i := range w.readAfter {
		if w.readAfter[i].Load() {
			done.ReadAfter = append(done.ReadAfter, i)
		}
	}
	if cfg.Scenario == "coherence" {
		done.Coh = w.coh.report()
	}
	return lw.write(done)
}

func (c *workerConfig) init() {
	orDefault(&c.Concurrency, 1)
	orDefault(&c.Keys, 1)
	if c.ZipfS <= 1 {
		c.ZipfS = defaultZipfS
	}
	orDefault(&c.Interval, defaultInterval)
	orDefault(&c.Timeout, defaultTimeout)
	orDefault(&c.Deadline, 5*time.Minute)
}

// worker drives one client process's goroutines.
type worker struct {
	cfg     workerConfig
	lw      *lineWriter
	client  Client
	shards  []*shard
	hadCopy []atomic.Bool // per key: this process has served a value for it
	issued  atomic.Int64

	marked    atomic.Bool   // the parent sent "mark"
	readAfter []atomic.Bool // per key: read after the mark

	errMu sync.Mutex
	errs  []string // first distinct error messages, for the summary

	coh cohState // coherence scenario
}

// shard is one goroutine's counters; the ticker swaps them out.
type shard struct {
	mu sync.Mutex // protects c and h
	c  counters
	h  hist
}

func (w *worker) key(i int) string { return w.cfg.KeyPrefix + strconv.Itoa(i) }

func (w *worker) run(ctx context.Context, t0 time.Time) {
	ctx, cancel := context.WithDeadline(ctx, t0.Add(w.cfg.Deadline))
	defer cancel()
	w.hadCopy = make([]atomic.Bool, w.cfg.Keys)
	w.readAfter = make([]atomic.Bool, w.cfg.Keys)
	keys := make([]string, w.cfg.Keys)
	for i := range keys {
		keys[i] = w.key(i)
	}
	var lim *rate.Limiter
	if w.cfg.Rate > 0 && !w.cfg.Herd {
		lim = rate.NewLimiter(rate.Limit(w.cfg.Rate), max(1, int(w.cfg.Rate/50)))
	}
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for g := 0; g < w.cfg.Concurrency; g++ {
		s := &shard{}
		w.shards = append(w.shards, s)
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			switch {
			case w.cfg.Scenario == "coherence" && w.cfg.Writer:
				w.cohWrite(ctx, g, s, keys)
			case w.cfg.Scenario == "coherence":
				var l interface{ Wait(context.Context) error }
				if lim != nil {
					l = lim
				}
				w.cohRead(ctx, g, s, keys, l)
			default:
				w.loop(ctx, g, s, keys, lim)
			}
		}()
	}
	tickDone := make(chan struct{})
	tickStop := make(chan struct{})
	go func() {
		defer close(tickDone)
		w.ticker(t0, tickStop)
	}()
	if d := time.Until(t0); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	close(gate) // every goroutine starts at the same instant
	wg.Wait()
	close(tickStop)
	<-tickDone
}

func (w *worker) loop(ctx context.Context, g int, s *shard, keys []string, lim *rate.Limiter) {
	seed := w.cfg.Seed*1_000_003 + uint64(w.cfg.ID)*10_007 + uint64(g)
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var z *rand.Zipf
	if !w.cfg.Herd && len(keys) > 1 {
		z = rand.NewZipf(r, w.cfg.ZipfS, 1, uint64(len(keys)-1))
	}
	// buf is only ever passed as dst; a returned slice is never reused,
	// since a client may return memory it shares with other callers.
	buf := make([]byte, 0, max(256, w.cfg.ValueSize))
	if w.cfg.HotShare > 0 {
		// The sweep: this goroutine's part of the keys, each read once
		// and unpaced, so that every key is warm before the measurement.
		for ki := g; ki < len(keys); ki += w.cfg.Concurrency {
			if ctx.Err() != nil || !w.readOne(ctx, s, ki, keys[ki], buf) {
				return
			}
		}
	}
	if w.cfg.Batch > 1 {
		w.batchLoop(ctx, g, s, keys, lim, r, z)
		return
	}
	for n := 0; ; n++ {
		if ctx.Err() != nil {
			return
		}
		var ki int
		switch {
		case w.cfg.Herd:
			if n >= len(keys) {
				return
			}
			ki = (g + n) % len(keys)
		default:
			ki = w.pick(r, z, len(keys))
		}
		if lim != nil && lim.Wait(ctx) != nil {
			return
		}
		if !w.readOne(ctx, s, ki, keys[ki], buf) {
			return
		}
	}
}

// readOne reads key (index ki) once and counts it; false when the run is
// over (the request cap reached, or the run ended under the call: not the
// client's failure, and not counted).
func (w *worker) readOne(ctx context.Context, s *shard, ki int, key string, buf []byte) bool {
	if w.cfg.MaxRequests > 0 && w.issued.Add(1) > w.cfg.MaxRequests {
		return false
	}
	r, ok := w.read(ctx, key, buf)
	if !ok {
		return false
	}
	s.mu.Lock()
	s.c.Calls++
	s.h.record(r.lat)
	s.mu.Unlock()
	w.count(s, ki, key, r)
	return true
}

// pick draws the index of the next key to read (not herd): with HotShare
// (hotkey), key 0 with that probability, else one of the others uniformly;
// otherwise from z (Zipf), or 0 when there is one key.
func (w *worker) pick(r *rand.Rand, z *rand.Zipf, n int) int {
	switch {
	case w.cfg.HotShare > 0 && n > 1:
		if r.Float64() < w.cfg.HotShare {
			return 0
		}
		return 1 + r.IntN(n-1)
	case z != nil:
		return int(z.Uint64())
	}
	return 0
}

// batchLoop is loop reading cfg.Batch keys per request: the latency
// recorded is the request's, the outcomes are counted per key.
func (w *worker) batchLoop(ctx context.Context, g int, s *shard, keys []string, lim *rate.Limiter, r *rand.Rand, z *rand.Zipf) {
	idx := make([]int, 0, w.cfg.Batch)
	names := make([]string, 0, w.cfg.Batch)
	for n := 0; ; {
		if ctx.Err() != nil {
			return
		}
		idx, names = idx[:0], names[:0]
		for len(idx) < w.cfg.Batch {
			ki := 0
			if w.cfg.Herd {
				if n >= len(keys) {
					break // every key asked once
				}
				ki = (g + n) % len(keys)
				n++
			} else {
				ki = w.pick(r, z, len(keys))
			}
			idx = append(idx, ki)
			names = append(names, keys[ki])
		}
		if len(idx) == 0 {
			return
		}
		if lim != nil && lim.Wait(ctx) != nil {
			return
		}
		if w.cfg.MaxRequests > 0 && w.issued.Add(int64(len(idx))) > w.cfg.MaxRequests {
			return
		}
		rs, ok := w.readMany(ctx, names)
		if !ok {
			return
		}
		s.mu.Lock()
		s.c.Calls++
		s.h.record(rs[0].lat)
		s.mu.Unlock()
		for j, r := range rs {
			w.count(s, idx[j], names[j], r)
		}
	}
}

// readMany reads keys in one request (BatchGetter) or, for a client without
// it, one Get after another; each reading carries the whole request's
// latency. ok is as for read.
func (w *worker) readMany(ctx context.Context, keys []string) (rs []reading, ok bool) {
	bg, isBatch := w.client.(BatchGetter)
	if !isBatch {
		rctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
		defer cancel()
		start := time.Now()
		rs = make([]reading, len(keys))
		for i, k := range keys {
			rs[i].start = start
			rs[i].v, rs[i].out, rs[i].err = w.client.Get(rctx, k, nil)
		}
		for i := range rs {
			rs[i].lat = time.Since(start)
		}
		return rs, ctx.Err() == nil
	}
	rctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	start := time.Now()
	vs, outs, errs := bg.GetMany(rctx, keys)
	lat := time.Since(start)
	cancel()
	rs = make([]reading, len(keys))
	for i := range rs {
		rs[i] = reading{v: vs[i], out: outs[i], err: errs[i], start: start, lat: lat}
	}
	return rs, ctx.Err() == nil
}

// count counts one key's reading r (the request's latency is counted by the
// caller).
func (w *worker) count(s *shard, ki int, key string, r reading) {
	if w.marked.Load() && ki < len(w.readAfter) {
		w.readAfter[ki].Store(true)
	}
	{
		err := r.err
		s.mu.Lock()
		shed := s.countKeyLocked(w, r)
		switch {
		case err != nil && !shed:
			if w.hadCopy[ki].Load() {
				s.c.ErrsWithCpy++
			}
		case err == nil:
			if !validValue(key, r.v, w.cfg.ValueSize) {
				s.c.BadValues++
			}
		}
		s.mu.Unlock()
		if err != nil && !shed {
			w.noteErr(err)
		} else if err == nil {
			w.hadCopy[ki].Store(true)
		}
	}
}

// reading is one Get's answer with its start and latency.
type reading struct {
	v     []byte
	out   Outcome
	err   error
	start time.Time
	lat   time.Duration
}

// read is one Get of key into buf[:0], bounded by cfg.Timeout. ok is false
// when the run ended during the call: such a read is not the client's
// failure and is not counted.
func (w *worker) read(ctx context.Context, key string, buf []byte) (r reading, ok bool) {
	rctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	r.start = time.Now()
	r.v, r.out, r.err = w.client.Get(rctx, key, buf[:0])
	r.lat = time.Since(r.start)
	cancel()
	return r, ctx.Err() == nil
}

// countLocked counts one read in s (s.mu held): the request and its latency,
// then a shed, an error, or the value's source, sharing and staleness. It
// reports whether the read was shed.
func (s *shard) countLocked(w *worker, r reading) (shed bool) {
	s.c.Calls++
	s.h.record(r.lat)
	return s.countKeyLocked(w, r)
}

// countKeyLocked is countLocked for one key of a request whose latency is
// recorded on its own.
func (s *shard) countKeyLocked(w *worker, r reading) (shed bool) {
	s.c.Requests++
	switch {
	case r.err != nil && w.client.IsShed(r.err):
		s.c.Shed++
		return true
	case r.err != nil:
		s.c.Errors++
		return false
	}
	switch r.out.Source {
	case SourceL1:
		s.c.L1Hits++
	case SourceL2:
		s.c.L2Hits++
	case SourceOrigin:
		s.c.Loads++
	}
	if r.out.Shared {
		s.c.Coalesced++
	}
	if r.out.Stale {
		s.c.Stale++
	}
	return false
}

// validValue reports whether v is what the origin serves for key.
func validValue(key string, v []byte, size int) bool {
	if size > 0 {
		return bytes.Equal(v, Value(key, size))
	}
	return len(v) > len(key) && string(v[:len(key)]) == key && v[len(key)] == '|'
}

// ticker sends each interval's counts at the interval's end (aligned to t0)
// and a final partial interval when stop closes.
func (w *worker) ticker(t0 time.Time, stop <-chan struct{}) {
	iv := w.cfg.Interval
	for i := 0; ; i++ {
		next := t0.Add(time.Duration(i+1) * iv)
		t := time.NewTimer(time.Until(next))
		select {
		case <-t.C:
			w.flush(i)
		case <-stop:
			t.Stop()
			// What is counted since flush(i-1) is interval i's, even when
			// the stop comes after i's end but before its timer fired.
			w.flush(i)
			return
		}
	}
}

func (w *worker) flush(i int) {
	var c counters
	var h hist
	for _, s := range w.shards {
		s.mu.Lock()
		c.add(&s.c)
		h.merge(&s.h)
		s.c = counters{}
		s.h.reset()
		s.mu.Unlock()
	}
	_ = w.lw.write(report{Type: "tick", ID: w.cfg.ID, I: i, C: &c, H: h.sparse(), MaxNS: h.maxNS, NodesUp: w.client.NodesUp()})
}

func (w *worker) noteErr(err error) {
	msg := err.Error()
	w.errMu.Lock()
	defer w.errMu.Unlock()
	if len(w.errs) >= 3 {
		return
	}
	for _, e := range w.errs {
		if e == msg {
			return
		}
	}
	w.errs = append(w.errs, msg)
}

func (w *worker) sampleErrs() []string {
	w.errMu.Lock()
	defer w.errMu.Unlock()
	return append([]string(nil), w.errs...)
}
