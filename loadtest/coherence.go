package loadtest

import (
	"context"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The coherence scenario: process 0 writes, the others read.
//
// The writer rewrites the run's keys round robin, each key every
// CoherenceWriteEvery (200ms), through the client's Set (so through its
// node); each value is "key|v=N|t=NS|": a per-key version N and the write's
// wall-clock time in Unix ns (the processes share the machine's clock).
// Readers Get random keys through L1 (a reader never writes). For each reader
// goroutine and key, when a read returns a newer version M than the last one
// seen, the write of M happened at t(M); the reads of older versions that
// this goroutine made after t(M) were stale. The scenario reports, per such
// transition, how long after the write the goroutine last saw an older
// version (0 if never), and counts the stale reads older than
// CoherenceBound. A transition that skips versions (M > last+1) is measured
// from t(M), so the figures are lower bounds in that case (rare: keys are
// rewritten much more slowly than they are read).

// CoherenceWriteEvery is how often the coherence writer rewrites each key.
const CoherenceWriteEvery = 200 * time.Millisecond

// CoherenceBound is the staleness target the coherence scenario counts
// against (docs/design.md: a write is seen by every L1 within 50ms p99).
const CoherenceBound = 50 * time.Millisecond

// Writer is implemented by Clients that can write (the coherence scenario's
// writer process needs one).
type Writer interface {
	// Set stores value under key in the cache (both levels).
	Set(ctx context.Context, key string, value []byte) error
}

// cohReport is a coherence process's result, sent with its "done" report.
type cohReport struct {
	Writes      int64       `json:"writes,omitempty"`
	Transitions int64       `json:"transitions,omitempty"` // newer versions observed by readers
	StaleReads  int64       `json:"stale_reads,omitempty"` // reads of an older version after the newer one's write
	OverBound   int64       `json:"over_bound,omitempty"`  // of those, reads more than CoherenceBound after it
	Skipped     int64       `json:"skipped,omitempty"`     // transitions that skipped versions
	H           [][2]uint64 `json:"h,omitempty"`           // delay per transition
	MaxNS       uint64      `json:"max_ns,omitempty"`
}

// cohValue builds the writer's value for version n written at ns.
func cohValue(key string, n int64, ns int64) []byte {
	return []byte(key + "|v=" + strconv.FormatInt(n, 10) + "|t=" + strconv.FormatInt(ns, 10) + "|")
}

// parseCohValue returns the version and write time of a writer's value;
// ok is false for anything else (an origin value: version 0).
func parseCohValue(key string, v []byte) (n, ns int64, ok bool) {
	s := string(v)
	if !strings.HasPrefix(s, key+"|v=") {
		return 0, 0, false
	}
	parts := strings.Split(s[len(key)+1:], "|")
	if len(parts) < 2 || !strings.HasPrefix(parts[1], "t=") {
		return 0, 0, false
	}
	n, err1 := strconv.ParseInt(parts[0][2:], 10, 64)
	ns, err2 := strconv.ParseInt(parts[1][2:], 10, 64)
	return n, ns, err1 == nil && err2 == nil
}

// cohState is what one process gathers; the goroutines merge into it.
type cohState struct {
	mu  sync.Mutex
	rep cohReport
	h   hist
}

func (c *cohState) report() *cohReport {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.rep
	r.H, r.MaxNS = c.h.sparse(), c.h.maxNS
	return &r
}

// cohWrite is the writer goroutine g's loop: keys g, g+C, g+2C, ... round
// robin, each every CoherenceWriteEvery.
func (w *worker) cohWrite(ctx context.Context, g int, s *shard, keys []string) {
	wr, ok := w.client.(Writer)
	if !ok {
		w.noteErr(errNoWriter)
		return
	}
	var mine []string
	for i := g; i < len(keys); i += w.cfg.Concurrency {
		mine = append(mine, keys[i])
	}
	if len(mine) == 0 {
		return
	}
	ver := make([]int64, len(mine))
	gap := CoherenceWriteEvery / time.Duration(len(mine))
	next := time.Now()
	for i := 0; ; i = (i + 1) % len(mine) {
		next = next.Add(gap)
		if d := time.Until(next); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		} else if ctx.Err() != nil {
			return
		}
		ver[i]++
		rctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
		start := time.Now()
		err := wr.Set(rctx, mine[i], cohValue(mine[i], ver[i], start.UnixNano()))
		lat := time.Since(start)
		cancel()
		if ctx.Err() != nil {
			return
		}
		s.mu.Lock()
		s.c.Requests++
		s.h.record(lat)
		if err != nil {
			s.c.Errors++
		}
		s.mu.Unlock()
		if err != nil {
			w.noteErr(err)
			continue
		}
		w.coh.mu.Lock()
		w.coh.rep.Writes++
		w.coh.mu.Unlock()
	}
}

// cohKey is a reader goroutine's view of one key.
type cohKey struct {
	ver   int64
	reads []int64 // times (Unix ns) of the latest reads of ver, at most cohReads
}

const cohReads = 256

// cohRead is a reader goroutine's loop: uniform random keys, as fast as
// the rate allows.
func (w *worker) cohRead(ctx context.Context, g int, s *shard, keys []string, lim interface{ Wait(context.Context) error }) {
	seed := w.cfg.Seed*1_000_003 + uint64(w.cfg.ID)*10_007 + uint64(g)
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	view := make([]cohKey, len(keys))
	buf := make([]byte, 0, 256)
	bound := int64(CoherenceBound)
	for {
		if ctx.Err() != nil {
			return
		}
		if lim != nil && lim.Wait(ctx) != nil {
			return
		}
		ki := r.IntN(len(keys))
		key := keys[ki]
		r, ok := w.read(ctx, key, buf)
		if !ok {
			return
		}
		s.mu.Lock()
		shed := s.countLocked(w, r)
		s.mu.Unlock()
		if r.err != nil {
			if !shed {
				w.noteErr(r.err)
			}
			continue
		}
		v, start := r.v, r.start
		n, wt, _ := parseCohValue(key, v)
		now := start.UnixNano() // the read's start: its value was current then at the latest
		k := &view[ki]
		switch {
		case n == k.ver:
			if len(k.reads) == cohReads {
				copy(k.reads, k.reads[1:])
				k.reads = k.reads[:cohReads-1]
			}
			k.reads = append(k.reads, now)
		case n > k.ver:
			var delay int64
			var stale, over int64
			for _, t := range k.reads {
				if t > wt {
					stale++
					delay = max(delay, t-wt)
					if t-wt > bound {
						over++
					}
				}
			}
			first := k.ver == 0 && len(k.reads) == 0
			skipped := k.ver > 0 && n > k.ver+1
			k.ver, k.reads = n, append(k.reads[:0], now)
			if first || wt == 0 {
				continue // the first look at the key: no transition seen
			}
			w.coh.mu.Lock()
			w.coh.rep.Transitions++
			w.coh.rep.StaleReads += stale
			w.coh.rep.OverBound += over
			if skipped {
				w.coh.rep.Skipped++
			}
			w.coh.h.record(time.Duration(delay))
			w.coh.mu.Unlock()
		}
	}
}

var errNoWriter = errorString("loadtest: the client cannot write (it does not implement loadtest.Writer)")

type errorString string

func (e errorString) Error() string { return string(e) }
