package loadtest

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"
)

// Event is something the scenario did, at a time since the start.
type Event struct {
	// TMS is the time since the start, in milliseconds.
	TMS float64 `json:"t_ms"`
	// What describes the event, e.g. "node 1 killed".
	What string `json:"what"`
}

// Summary is the result of a run; its JSON form (WriteJSON) is the contract
// documented in docs/loadtest.md ("The JSON summary"). Counts are over all
// client processes; origin figures are what the origin simulator saw.
type Summary struct {
	// Scenario is the scenario's name.
	Scenario string `json:"scenario"`
	// Nodes is the tier's size at the start; Procs, Concurrency and Keys
	// are the run's settings.
	Nodes       int `json:"nodes"`
	Procs       int `json:"procs"`
	Concurrency int `json:"concurrency"`
	Keys        int `json:"keys"`
	// DurationMS is how long the clients ran.
	DurationMS float64 `json:"duration_ms"`
	// Interrupted is set when the run was canceled (Ctrl-C) before its end.
	Interrupted bool `json:"interrupted,omitempty"`

	// Requests counts every key read (each key of a batch); each ended as
	// exactly one of an error, a shed, or a value (from L1, L2 or an origin
	// load).
	Requests int64 `json:"requests"`
	// Batch is the keys per request (Config.Batch; 0: one).
	Batch int `json:"batch,omitempty"`
	// Calls counts requests: Get calls, or GetMany calls with Batch.
	Calls int64 `json:"calls"`
	// CallsPerSec is Calls per second of the run (requests/s; with Batch,
	// ThroughputRPS is the keys/s).
	CallsPerSec float64 `json:"calls_per_sec"`
	// Errors counts failures other than shed.
	Errors int64 `json:"errors"`
	// Shed counts calls the client refused to protect the origin.
	Shed int64 `json:"shed"`
	// L1Hits and L2Hits count values served from the in-process cache and
	// from the tier (stale values served from L1 included).
	L1Hits int64 `json:"l1_hits"`
	L2Hits int64 `json:"l2_hits"`
	// OriginCalls is the number of calls the origin received.
	OriginCalls int64 `json:"origin_calls"`
	// Coalesced counts calls that shared another caller's load.
	Coalesced int64 `json:"coalesced"`
	// StaleServed counts expired values served because the origin failed
	// or was shed.
	StaleServed int64 `json:"stale_served"`
	// ClientLoads counts requests answered by an origin load (own or shared).
	ClientLoads int64 `json:"client_loads"`
	// BadValues counts values that were not the key's value (must be 0).
	BadValues int64 `json:"bad_values"`
	// ErrorsWithStaleCopy counts errors for keys the same process had
	// already served (so a stale copy could have been served).
	ErrorsWithStaleCopy int64 `json:"errors_with_stale_copy"`
	// ErrorsWithoutCopy counts errors for keys never served before.
	ErrorsWithoutCopy int64 `json:"errors_without_copy"`

	// ThroughputRPS is Requests (keys read) per second of the run.
	ThroughputRPS float64 `json:"throughput_rps"`
	// HitRatio is (L1Hits+L2Hits)/Requests; L1HitRatio and L2HitRatio are
	// its two parts.
	HitRatio   float64 `json:"hit_ratio"`
	L1HitRatio float64 `json:"l1_hit_ratio"`
	L2HitRatio float64 `json:"l2_hit_ratio"`
	// P50MS, P99MS and MaxMS are latency percentiles of all requests.
	P50MS float64 `json:"p50_ms"`
	P99MS float64 `json:"p99_ms"`
	MaxMS float64 `json:"max_ms"`

	// OriginFailed counts origin calls answered with an error status.
	OriginFailed int64 `json:"origin_failed"`
	// OriginPeakRPS is the busiest 1s window at the origin (slid by 100ms).
	OriginPeakRPS float64 `json:"origin_peak_rps"`
	// OriginLimitRPS is the origin limit summed over processes (0: none);
	// OriginBurst is the limiters' burst, summed.
	OriginLimitRPS float64 `json:"origin_limit_rps"`
	OriginBurst    int     `json:"origin_burst"`
	// OriginPeakConcurrency is the most calls in progress at the origin.
	OriginPeakConcurrency int64 `json:"origin_peak_concurrency"`
	// OriginKeys is the number of distinct keys the origin was asked for;
	// OriginMaxCallsPerKey and OriginCallsPerKey the most and the mean
	// calls for one of them.
	OriginKeys           int     `json:"origin_keys"`
	OriginMaxCallsPerKey int64   `json:"origin_max_calls_per_key"`
	OriginCallsPerKey    float64 `json:"origin_calls_per_key"`

	// KeysMovedFraction (scaleout) is the fraction of the run's keys whose
	// owner changed when the node joined; IdealMovedFraction is 1/(N+1).
	KeysMovedFraction  float64 `json:"keys_moved_fraction"`
	IdealMovedFraction float64 `json:"ideal_moved_fraction"`
	// OriginRPSBeforeJoin and OriginPeakRPSAfterJoin (scaleout) show the
	// miss spike: the origin's mean rate over the 2s before the join and
	// its busiest 1s window in the 3s after it.
	OriginRPSBeforeJoin    float64 `json:"origin_rps_before_join,omitempty"`
	OriginPeakRPSAfterJoin float64 `json:"origin_peak_rps_after_join,omitempty"`
	// Move (scaleout, nodekill) is what the keys whose owner changed (moved
	// to the new node, or lost with the dead one) cost the origin after the
	// event.
	Move *MoveFigures `json:"move,omitempty"`
	// Hotkey (hotkey) is the nodes' reads, counted on the nodes, after the
	// warm-up: each node's share and the busiest node's ratio to the mean.
	Hotkey *HotkeyFigures `json:"hotkey,omitempty"`
	// RecoveryMS is, for scaleout, the time from the join until the hit
	// ratio is back to its level before; for origindown, from the origin's
	// return until an interval without errors; -1 if it never recovered.
	RecoveryMS float64 `json:"recovery_ms,omitempty"`
	// DetectMS (tierdown) is the time from the first kill until the clients
	// reported a node down; RecoverMS until all nodes were up again after
	// the restart. -1 if never; absent if the client cannot tell.
	DetectMS  float64 `json:"detect_ms,omitempty"`
	RecoverMS float64 `json:"recover_ms,omitempty"`

	// Coherence (coherence scenario): CoherenceWrites is the writer's Sets;
	// CoherenceTransitions the newer versions readers observed (per reader
	// goroutine and key); StaleAfterWrite{P50,P99,Max}MS how long after a
	// write a reader still saw the previous version, per transition (0 when
	// it never did); CoherenceStaleReads the reads of an older version made
	// after the newer one's write, CoherenceOverBound those more than
	// CoherenceBoundMS (50) after it; CoherenceSkipped the transitions that
	// skipped versions (measured from the newest write: lower bounds).
	CoherenceWrites      int64     `json:"coherence_writes,omitempty"`
	CoherenceTransitions int64     `json:"coherence_transitions,omitempty"`
	StaleAfterWriteP50MS float64   `json:"stale_after_write_p50_ms,omitempty"`
	StaleAfterWriteP99MS float64   `json:"stale_after_write_p99_ms,omitempty"`
	StaleAfterWriteMaxMS float64   `json:"stale_after_write_max_ms,omitempty"`
	CoherenceStaleReads  int64     `json:"coherence_stale_reads,omitempty"`
	CoherenceOverBound   int64     `json:"coherence_over_bound,omitempty"`
	CoherenceSkipped     int64     `json:"coherence_skipped,omitempty"`
	CoherenceBoundMS     float64   `json:"coherence_bound_ms,omitempty"`
	StaleAfterWriteHist  []HistBin `json:"stale_after_write_hist,omitempty"`

	// LatencyHist is the latency distribution of all requests: the
	// non-empty histogram buckets, each with its upper bound.
	LatencyHist []HistBin `json:"latency_hist"`
	// OriginReloads counts the origin calls for keys the origin had served
	// before in the run (see RollFigures).
	OriginReloads int64 `json:"origin_reloads"`
	// Roll is what the rolling scenario's roll cost the origin;
	// RollBaseline the same for the baseline roll without snapshots run
	// first in the same invocation (with --snapshots, unless NoBaseline),
	// and RollCostRatio is Roll.Reloads over RollBaseline.Reloads (nil
	// when there is no baseline or it reloaded nothing; the goal is at
	// most 0.10, rollGoal).
	Roll          *RollFigures `json:"roll,omitempty"`
	RollBaseline  *RollFigures `json:"roll_baseline,omitempty"`
	RollCostRatio *float64     `json:"roll_cost_ratio,omitempty"`
	// Events are what the scenario did, in order.
	Events []Event `json:"events"`
	// Phases aggregate the run between events.
	Phases []Phase `json:"phases"`
	// Series has one point per reporting interval.
	Series []Point `json:"series"`
	// OriginRate is the origin's 1s sliding-window rate every 100ms.
	OriginRate []RatePt `json:"origin_rate"`
	// ErrorSample holds a few distinct error messages.
	ErrorSample []string `json:"error_sample,omitempty"`
	// Config records the run's settings.
	Config RunConfig `json:"config"`
}

// Phase aggregates the part of a run between two scenario events. Its
// fields mean what the Summary fields of the same name mean, over the phase.
type Phase struct {
	// Name says what the phase is (the event that started it).
	Name string `json:"name"`
	// StartMS and EndMS bound the phase, in ms since the start of the run.
	StartMS float64 `json:"start_ms"`
	EndMS   float64 `json:"end_ms"`
	// Requests, Errors, Shed and StaleServed count the phase's calls.
	Requests    int64 `json:"requests"`
	Errors      int64 `json:"errors"`
	Shed        int64 `json:"shed"`
	StaleServed int64 `json:"stale_served"`
	// HitRatio is the share of the phase's requests served from L1 or L2.
	HitRatio float64 `json:"hit_ratio"`
	// OriginCalls, OriginRPS and OriginPeakRPS are what the origin saw:
	// calls, mean rate, and busiest 1s window.
	OriginCalls   int64   `json:"origin_calls"`
	OriginRPS     float64 `json:"origin_rps"`
	OriginPeakRPS float64 `json:"origin_peak_rps"`
	// OriginReloads counts the phase's origin calls for keys the origin had
	// served before in the run.
	OriginReloads int64 `json:"origin_reloads"`
	// P50MS and P99MS are latency percentiles of the phase's requests.
	P50MS float64 `json:"p50_ms"`
	P99MS float64 `json:"p99_ms"`
}

// Point is one reporting interval of the time series. Its counts mean what
// the Summary fields of the same name mean, over the interval.
type Point struct {
	// TMS is the interval's start, in ms since the start of the run.
	TMS float64 `json:"t_ms"`
	// Requests, Errors, Shed, StaleServed, L1Hits and L2Hits count the
	// interval's calls; OriginCalls the calls the origin received.
	Requests    int64 `json:"requests"`
	Errors      int64 `json:"errors"`
	Shed        int64 `json:"shed"`
	StaleServed int64 `json:"stale_served"`
	L1Hits      int64 `json:"l1_hits"`
	L2Hits      int64 `json:"l2_hits"`
	OriginCalls int64 `json:"origin_calls"`
	// P50MS and P99MS are latency percentiles of the interval's requests.
	P50MS float64 `json:"p50_ms"`
	P99MS float64 `json:"p99_ms"`
	// NodesUp is the fewest nodes any client process saw up; -1: unknown.
	NodesUp int `json:"nodes_up"`
}

// HistBin is one latency histogram bucket: Count requests took at most
// UpToMS (and more than the previous bucket's bound).
type HistBin struct {
	// UpToMS is the bucket's upper bound in milliseconds.
	UpToMS float64 `json:"up_to_ms"`
	// Count is the number of requests in the bucket.
	Count uint64 `json:"count"`
}

// RatePt is the origin's call rate over the 1s window ending at TMS.
type RatePt struct {
	// TMS is the window's end, in ms since the start of the run.
	TMS float64 `json:"t_ms"`
	// RPS is the number of calls in the window.
	RPS float64 `json:"rps"`
}

// RunConfig records the settings a run used.
type RunConfig struct {
	// Rate is each client process's request rate per second (0: unpaced).
	Rate float64 `json:"rate"`
	// IntervalMS is the reporting interval.
	IntervalMS float64 `json:"interval_ms"`
	// OriginLatency is the origin's median service time, in ms.
	OriginLatency float64 `json:"origin_latency_ms"`
	// OriginCapacity is the origin's concurrency at full speed.
	OriginCapacity int `json:"origin_capacity"`
	// TTLMS and StaleTTLMS are the clients' fresh and stale windows.
	TTLMS      float64 `json:"ttl_ms"`
	StaleTTLMS float64 `json:"stale_ttl_ms"`
	// L1Bytes is each client process's L1 size.
	L1Bytes int `json:"l1_bytes"`
	// Addrs are the tier's node addresses at the start.
	Addrs []string `json:"addrs"`
	// Leases says whether the clients used tier-wide leases (the default;
	// off with --no-leases).
	Leases bool `json:"leases"`
	// Warmup says whether the clients made warm-up reads after an ownership
	// change (the default; off with --no-warmup).
	Warmup bool `json:"warmup"`
	// Replicas is how many nodes held each key (--replicas; 1 by default).
	Replicas int `json:"replicas"`
	// Snapshots says the local nodes ran with snapshots on (--snapshots).
	Snapshots bool `json:"snapshots,omitempty"`
}

// WriteJSON writes the summary as indented JSON.
func (s *Summary) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}

// phaseNames names the phases that the scenario's events delimit.
func phaseNames(scenario string) (first string, after map[string]string) {
	switch scenario {
	case "scaleout":
		return "before join", map[string]string{"node joined": "after join"}
	case "nodekill":
		return "healthy", map[string]string{"node 1 killed": "node 1 dead"}
	case "hotkey":
		return "warm-up", map[string]string{"measuring": "measured"}
	case "tierdown":
		return "healthy", map[string]string{"node 1 killed": "one node down", "all nodes killed": "tier down", "nodes back": "recovered"}
	case "origindown":
		return "healthy", map[string]string{"origin down": "origin down", "origin back": "origin back"}
	case "rolling":
		return "before", map[string]string{"roll started": "roll", "roll done": "after"}
	}
	return scenario, nil
}

func (r *run) summarize(elapsed time.Duration) *Summary {
	r.mu.Lock()
	defer r.mu.Unlock()
	cfg := r.cfg
	iv := cfg.Interval
	s := &Summary{
		Scenario: cfg.Scenario, Nodes: len(r.startAddrs), Procs: cfg.Procs, Concurrency: cfg.Concurrency,
		Keys: cfg.Keys, DurationMS: ms(elapsed), Events: append([]Event(nil), r.events...),
		KeysMovedFraction: r.movedFrac, IdealMovedFraction: r.idealFrac, ErrorSample: r.errs,
		Config: RunConfig{Rate: cfg.Rate, IntervalMS: ms(iv), OriginLatency: ms(cfg.Origin.Latency),
			OriginCapacity: cfg.Origin.Capacity, TTLMS: ms(cfg.Client.TTL), StaleTTLMS: ms(cfg.Client.StaleTTL),
			L1Bytes: cfg.Client.L1Bytes, Addrs: r.startAddrs, Leases: !cfg.Client.DisableLeases, Warmup: !cfg.Client.DisableWarmup, Replicas: max(cfg.Client.Replicas, 1), Snapshots: cfg.Snapshots},
		Move: r.move,
	}
	if cfg.Scenario == "coherence" {
		s.CoherenceWrites, s.CoherenceTransitions = r.coh.Writes, r.coh.Transitions
		s.CoherenceStaleReads, s.CoherenceOverBound, s.CoherenceSkipped = r.coh.StaleReads, r.coh.OverBound, r.coh.Skipped
		s.StaleAfterWriteP50MS, s.StaleAfterWriteP99MS = r.cohH.quantileMS(0.5), r.cohH.quantileMS(0.99)
		s.StaleAfterWriteMaxMS, s.CoherenceBoundMS = r.cohH.maxMS(), ms(CoherenceBound)
		for i, c := range r.cohH.counts {
			if c != 0 {
				s.StaleAfterWriteHist = append(s.StaleAfterWriteHist, HistBin{UpToMS: histUpper(i) / 1e6, Count: c})
			}
		}
	}
	if cfg.Client.OriginRPS > 0 {
		s.OriginLimitRPS = cfg.Client.OriginRPS * float64(cfg.Procs)
		s.OriginBurst = cfg.Client.OriginBurst * cfg.Procs
	}

	// Origin: per-bucket calls relative to t0, 1s sliding-window rate.
	bucket, calls, failed, reloadBkt := r.origin.Timeline()
	off := int(r.t0.Sub(r.origin.Start()) / bucket) // bucket index of t0
	win := max(1, int(time.Second/bucket))
	var total int64
	rateAt := make([]float64, len(calls)) // window ending with bucket i
	for i := range calls {
		total += calls[i]
		if i >= win {
			total -= calls[i-win]
		}
		rateAt[i] = float64(total) / (float64(win) * bucket.Seconds())
		if i >= off {
			s.OriginRate = append(s.OriginRate, RatePt{TMS: ms(time.Duration(i-off+1) * bucket), RPS: rateAt[i]})
		}
		s.OriginPeakRPS = math.Max(s.OriginPeakRPS, rateAt[i])
	}
	originIn := func(from, to time.Duration) (n int64, peak float64) {
		for i := range calls {
			t := time.Duration(i-off) * bucket
			if t >= from && t < to {
				n += calls[i]
				if t+bucket > from+time.Second || i-off+1 >= win { // full window
					peak = math.Max(peak, rateAt[i])
				}
			}
		}
		return n, peak
	}
	_ = failed
	// Reloads per phase: from the origin's own log when it kept one
	// (rolling: exact times, as RollFigures counts them), else per bucket.
	kept, t0Off := r.origin.Reloads(), r.t0.Sub(r.origin.Start())
	keptLog := cfg.Scenario == "rolling" // Run called KeepReloads
	reloadsIn := func(from, to time.Duration) (n int64) {
		if keptLog {
			for _, rl := range kept {
				if t := rl.At - t0Off; t >= from && t < to {
					n++
				}
			}
			return n
		}
		for i, c := range reloadBkt {
			if t := time.Duration(i-off) * bucket; t >= from && t < to {
				n += c
			}
		}
		return n
	}
	for _, c := range reloadBkt {
		s.OriginReloads += c
	}
	ost := r.origin.Stats()
	s.OriginCalls, s.OriginFailed, s.OriginPeakConcurrency = ost.Calls, ost.Failed, ost.PeakConcurrency
	s.OriginKeys, s.OriginMaxCallsPerKey = ost.Keys, ost.MaxCallsPerKey
	if ost.Keys > 0 {
		s.OriginCallsPerKey = float64(ost.Calls) / float64(ost.Keys)
	}

	// Client side: totals, series.
	var all counters
	var h hist
	for i := range r.series {
		p := &r.series[i]
		all.add(&p.c)
		h.merge(&p.h)
		oc, _ := originIn(time.Duration(i)*iv, time.Duration(i+1)*iv)
		s.Series = append(s.Series, Point{
			TMS: ms(time.Duration(i) * iv), Requests: p.c.Requests, Errors: p.c.Errors, Shed: p.c.Shed,
			StaleServed: p.c.Stale, L1Hits: p.c.L1Hits, L2Hits: p.c.L2Hits, OriginCalls: oc,
			P50MS: p.h.quantileMS(0.5), P99MS: p.h.quantileMS(0.99), NodesUp: p.nodesUp,
		})
	}
	s.Requests, s.Errors, s.Shed = all.Requests, all.Errors, all.Shed
	s.Calls, s.Batch = all.Calls, r.cfg.Batch
	s.L1Hits, s.L2Hits, s.Coalesced, s.StaleServed = all.L1Hits, all.L2Hits, all.Coalesced, all.Stale
	s.ClientLoads, s.BadValues = all.Loads, all.BadValues
	s.ErrorsWithStaleCopy, s.ErrorsWithoutCopy = all.ErrsWithCpy, all.Errors-all.ErrsWithCpy
	s.P50MS, s.P99MS, s.MaxMS = h.quantileMS(0.5), h.quantileMS(0.99), h.maxMS()
	for i, c := range h.counts {
		if c > 0 {
			s.LatencyHist = append(s.LatencyHist, HistBin{UpToMS: histUpper(i) / 1e6, Count: c})
		}
	}
	if secs := elapsed.Seconds(); secs > 0 {
		s.ThroughputRPS = float64(all.Requests) / secs
		s.CallsPerSec = float64(all.Calls) / secs
	}
	if all.Requests > 0 {
		s.L1HitRatio = float64(all.L1Hits) / float64(all.Requests)
		s.L2HitRatio = float64(all.L2Hits) / float64(all.Requests)
		s.HitRatio = s.L1HitRatio + s.L2HitRatio
	}

	// Phases between scenario events.
	first, next := phaseNames(cfg.Scenario)
	bounds := []Phase{{Name: first, StartMS: 0}}
	for _, e := range r.events {
		if name, ok := next[e.What]; ok {
			bounds[len(bounds)-1].EndMS = e.TMS
			bounds = append(bounds, Phase{Name: name, StartMS: e.TMS})
		}
	}
	bounds[len(bounds)-1].EndMS = ms(elapsed)
	for _, ph := range bounds {
		var c counters
		var phH hist
		for i := range r.series {
			t := ms(time.Duration(i) * iv)
			if t >= ph.StartMS-ms(iv)/2 && t < ph.EndMS-ms(iv)/2 {
				c.add(&r.series[i].c)
				phH.merge(&r.series[i].h)
			}
		}
		from, to := time.Duration(ph.StartMS*1e6), time.Duration(ph.EndMS*1e6)
		ph.OriginCalls, ph.OriginPeakRPS = originIn(from, to)
		ph.OriginReloads = reloadsIn(from, to)
		if d := (to - from).Seconds(); d > 0 {
			ph.OriginRPS = float64(ph.OriginCalls) / d
		}
		ph.Requests, ph.Errors, ph.Shed, ph.StaleServed = c.Requests, c.Errors, c.Shed, c.Stale
		if c.Requests > 0 {
			ph.HitRatio = float64(c.L1Hits+c.L2Hits) / float64(c.Requests)
		}
		ph.P50MS, ph.P99MS = phH.quantileMS(0.5), phH.quantileMS(0.99)
		s.Phases = append(s.Phases, ph)
	}
	if at := eventTime(s.Events, "node joined"); at >= 0 {
		j := time.Duration(at * 1e6)
		n, _ := originIn(max(0, j-2*time.Second), j)
		s.OriginRPSBeforeJoin = float64(n) / math.Min(2, j.Seconds()+1e-9)
		_, s.OriginPeakRPSAfterJoin = originIn(j, j+3*time.Second)
	}
	r.scenarioFigures(s)
	if r.hotFig != nil {
		f := *r.hotFig
		f.Nodes = append([]NodeReads(nil), f.Nodes...)
		// Every interval from the mark on, the last partial one included
		// (the phases leave it out).
		for i := range r.series {
			if t := time.Duration(i) * iv; t >= r.hot.at-iv/2 {
				f.ClientReads += r.series[i].c.Requests
			}
		}
		s.Hotkey = &f
	}
	if cfg.Scenario == "rolling" {
		s.Roll = r.rollFigures(s, kept)
	}
	return s
}

// eventTime returns the time of the first event named what, or -1.
func eventTime(evs []Event, what string) float64 {
	for _, e := range evs {
		if e.What == what {
			return e.TMS
		}
	}
	return -1
}

// scenarioFigures fills the recovery and detection times.
func (r *run) scenarioFigures(s *Summary) {
	ivMS := ms(r.cfg.Interval)
	hit := func(p Point) float64 {
		if p.Requests == 0 {
			return 0
		}
		return float64(p.L1Hits+p.L2Hits) / float64(p.Requests)
	}
	switch s.Scenario {
	case "scaleout":
		at := eventTime(s.Events, "node joined")
		if at < 0 {
			return
		}
		var base float64
		var n int
		for _, p := range s.Series {
			if p.TMS+ivMS <= at && p.TMS+3*ivMS > at-ivMS {
				base += hit(p)
				n++
			}
		}
		if n == 0 {
			return
		}
		base /= float64(n)
		// Recovered: the first interval after the join where the mean hit
		// ratio of it and the one before is back within 2 points of the
		// baseline (single intervals are too noisy on a busy machine).
		s.RecoveryMS = -1
		for i := 1; i < len(s.Series); i++ {
			p, q := s.Series[i], s.Series[i-1]
			if p.TMS >= at && p.Requests > 0 && q.Requests > 0 && (hit(p)+hit(q))/2 >= base-0.02 {
				s.RecoveryMS = math.Max(0, p.TMS+ivMS-at)
				break
			}
		}
	case "origindown":
		at := eventTime(s.Events, "origin back")
		if at < 0 {
			return
		}
		s.RecoveryMS = -1
		for _, p := range s.Series {
			if p.TMS >= at && p.Requests > 0 && p.Errors == 0 {
				s.RecoveryMS = p.TMS + ivMS - at
				break
			}
		}
	case "tierdown":
		kill, back := eventTime(s.Events, "node 1 killed"), eventTime(s.Events, "nodes back")
		known := false
		for _, p := range s.Series {
			known = known || p.NodesUp >= 0
		}
		if !known || kill < 0 {
			return
		}
		s.DetectMS = -1
		for _, p := range s.Series {
			if p.TMS+ivMS > kill && p.NodesUp >= 0 && p.NodesUp < s.Nodes {
				s.DetectMS = math.Max(0, p.TMS+ivMS-kill)
				break
			}
		}
		if back < 0 {
			return
		}
		s.RecoverMS = -1
		for _, p := range s.Series {
			if p.TMS >= back && p.NodesUp == s.Nodes {
				s.RecoverMS = p.TMS + ivMS - back
				break
			}
		}
	}
}

// WriteTable writes a short human-readable summary.
func (s *Summary) WriteTable(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	pct := func(f float64) string { return fmt.Sprintf("%.1f%%", 100*f) }
	fmt.Fprintf(tw, "scenario\t%s (%d nodes, %d procs × %d goroutines, %d keys, %.1fs)%s\n",
		s.Scenario, s.Nodes, s.Procs, s.Concurrency, s.Keys, s.DurationMS/1000, map[bool]string{true: " INTERRUPTED"}[s.Interrupted])
	if s.Batch > 1 {
		fmt.Fprintf(tw, "requests\t%d (%.0f/s) of %d keys: %d keys (%.0f keys/s)  errors %d  shed %d  stale served %d\n",
			s.Calls, s.CallsPerSec, s.Batch, s.Requests, s.ThroughputRPS, s.Errors, s.Shed, s.StaleServed)
	} else {
		fmt.Fprintf(tw, "requests\t%d (%.0f/s)  errors %d  shed %d  stale served %d\n", s.Requests, s.ThroughputRPS, s.Errors, s.Shed, s.StaleServed)
	}
	fmt.Fprintf(tw, "hits\tL1 %s  L2 %s  coalesced %d\n", pct(s.L1HitRatio), pct(s.L2HitRatio), s.Coalesced)
	fmt.Fprintf(tw, "latency\tp50 %s  p99 %s  max %s\n", fmtMS(s.P50MS), fmtMS(s.P99MS), fmtMS(s.MaxMS))
	limit := "no limit"
	if s.OriginLimitRPS > 0 {
		limit = fmt.Sprintf("limit %.0f/s", s.OriginLimitRPS)
	}
	fmt.Fprintf(tw, "origin\t%d calls (%d failed) for %d keys, max %d per key; peak %.0f/s (%s), peak concurrency %d\n",
		s.OriginCalls, s.OriginFailed, s.OriginKeys, s.OriginMaxCallsPerKey, s.OriginPeakRPS, limit, s.OriginPeakConcurrency)
	switch s.Scenario {
	case "herd":
		leases := "on"
		if !s.Config.Leases {
			leases = "off"
		}
		fmt.Fprintf(tw, "herd\t%d origin calls per key (max; mean %.2g) for the whole tier of %d client processes (leases %s)\n",
			s.OriginMaxCallsPerKey, s.OriginCallsPerKey, s.Procs, leases)
	case "scaleout":
		fmt.Fprintf(tw, "scale-out\t%s of keys moved (ideal %s); origin %.0f/s before the join, peak %.0f/s after; hit ratio recovered in %s\n",
			pct(s.KeysMovedFraction), pct(s.IdealMovedFraction), s.OriginRPSBeforeJoin, s.OriginPeakRPSAfterJoin, durStr(s.RecoveryMS))
		if m := s.Move; m != nil {
			fmt.Fprintf(tw, "moved\t%d keys; %d warm ones read after the join, %d of them loaded again (%s; warm-up reads %s)\n",
				m.Moved, m.WarmRead, m.Reloaded, pct(m.ReloadFraction), onOff(s.Config.Warmup))
		}
	case "nodekill":
		if m := s.Move; m != nil {
			fmt.Fprintf(tw, "node loss\t%d keys on the dead node; %d warm ones read after the kill, %d of them loaded again (%s; replicas %d)\n",
				m.Moved, m.WarmRead, m.Reloaded, pct(m.ReloadFraction), s.Config.Replicas)
		}
	case "hotkey":
		if s.Hotkey != nil {
			for _, l := range s.Hotkey.tableLines(s) {
				fmt.Fprintln(tw, l)
			}
		}
	case "tierdown":
		if s.DetectMS != 0 || s.RecoverMS != 0 {
			fmt.Fprintf(tw, "tier\tfailure detected in %s, recovery seen in %s\n", durStr(s.DetectMS), durStr(s.RecoverMS))
		}
	case "coherence":
		fmt.Fprintf(tw, "coherence\t%d writes, %d newer versions seen by readers; stale after a write p50 %s p99 %s max %s; %d stale reads, %d over %s\n",
			s.CoherenceWrites, s.CoherenceTransitions, fmtMS(s.StaleAfterWriteP50MS), fmtMS(s.StaleAfterWriteP99MS), fmtMS(s.StaleAfterWriteMaxMS),
			s.CoherenceStaleReads, s.CoherenceOverBound, fmtMS(s.CoherenceBoundMS))
	case "origindown":
		fmt.Fprintf(tw, "origin outage\terrors for keys with a stale copy %d, without %d; recovered in %s\n",
			s.ErrorsWithStaleCopy, s.ErrorsWithoutCopy, durStr(s.RecoveryMS))
	case "rolling":
		if s.RollBaseline != nil {
			fmt.Fprintf(tw, "roll\t%s\n", rollLine(s.RollBaseline))
		}
		if s.Roll != nil {
			fmt.Fprintf(tw, "roll\t%s\n", rollLine(s.Roll))
		}
		if s.RollCostRatio != nil {
			fmt.Fprintf(tw, "roll cost\t%.3f× the baseline's (reloads with snapshots over reloads without)\n", *s.RollCostRatio)
		}
	}
	if s.BadValues > 0 {
		fmt.Fprintf(tw, "WRONG VALUES\t%d\n", s.BadValues)
	}
	if len(s.Phases) > 1 {
		fmt.Fprintln(tw, "\t")
		fmt.Fprintln(tw, "phase\tfrom   requests  errors  shed  stale    hit  origin/s  peak/s  reloads       p50       p99")
		for _, p := range s.Phases {
			fmt.Fprintf(tw, "%s\t%5.1fs %9d %7d %5d %6d %6s %9.0f %7.0f %8d %9s %9s\n", p.Name, p.StartMS/1000,
				p.Requests, p.Errors, p.Shed, p.StaleServed, pct(p.HitRatio), p.OriginRPS, p.OriginPeakRPS, p.OriginReloads, fmtMS(p.P50MS), fmtMS(p.P99MS))
		}
	}
	for _, e := range s.ErrorSample {
		fmt.Fprintf(tw, "error\t%s\n", strings.TrimSpace(e))
	}
	_ = tw.Flush()
}

// fmtMS formats a latency given in milliseconds: µs below 0.1ms.
func fmtMS(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v < 0.1:
		return fmt.Sprintf("%.1fµs", v*1000)
	case v < 10:
		return fmt.Sprintf("%.2fms", v)
	}
	return fmt.Sprintf("%.1fms", v)
}

func durStr(msv float64) string {
	if msv < 0 {
		return "never"
	}
	return fmt.Sprintf("%.1fs", msv/1000)
}

// WriteReport writes the self-contained HTML report.
func (s *Summary) WriteReport(w io.Writer) error { return writeReport(w, s) }
