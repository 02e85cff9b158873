package loadtest

import (
	"fmt"
	"io"
	"time"
)

// Scenarios lists the scenario names Run accepts.
var Scenarios = []string{"herd", "steady", "scaleout", "tierdown", "origindown", "coherence", "rolling", "nodekill", "hotkey"}

// Config configures one run. Zero fields take the defaults documented on
// each field; several defaults depend on the scenario.
type Config struct {
	// Scenario is one of Scenarios.
	Scenario string
	// Snapshots runs the local nodes with snapshots on (a --dir each and
	// save points, so a node saves on SIGTERM and loads on start): the
	// rolling scenario's warm restarts. Default off: a restarted node
	// starts empty.
	Snapshots bool
	// NoBaseline skips the rolling scenario's baseline: with Snapshots,
	// rolling first runs the same roll without snapshots and reports both
	// (Summary.RollBaseline, Summary.RollCostRatio), which takes twice the
	// Duration. Default: the baseline runs.
	NoBaseline bool
	// Nodes is how many local nodes to start. Default 3 (scaleout adds one).
	Nodes int
	// Addrs, when set, targets a running tier instead of starting nodes.
	// The scenarios that kill or add nodes (tierdown, scaleout) need a
	// local tier and refuse Addrs.
	Addrs []string
	// Procs is the number of client OS processes, each with its own L1. Default 1.
	Procs int
	// Concurrency is the number of goroutines per client process.
	// Default 500 for herd, 32 otherwise.
	Concurrency int
	// Keys is the number of distinct keys. Default 1 for herd, 1000 otherwise.
	Keys int
	// HotShare (hotkey) is the fraction of reads, in (0, 1), that go to the
	// hot key (key 0); the others spread uniformly over the other keys.
	// Default 0.4.
	HotShare float64
	// Duration is the length of the run (herd: the time limit for the herd
	// to finish). Default: herd 30s, steady 10s, scaleout 15s, tierdown
	// 20s, origindown 15s, coherence 10s, rolling 30s, nodekill 15s, hotkey
	// 10s. Scenario events happen at fixed fractions of it.
	Duration time.Duration
	// Rate is the request rate of each client process, per second, spread
	// over its goroutines; negative means unpaced (closed loop). Default
	// 1000 (herd: unpaced, every goroutine requests every key once).
	Rate float64
	// MaxRequests caps the keys read by each client process (0: no cap).
	MaxRequests int64
	// Batch, when above 1, makes the readers of the steady, scaleout,
	// tierdown, origindown and herd scenarios read Batch keys per request
	// (the client's GetMany; see BatchGetter). Rate then paces requests, not
	// keys. Default 1: one key per request.
	Batch int
	// ZipfS is the Zipf exponent of key popularity (> 1). Default 1.1.
	ZipfS float64
	// OriginRPS is each client process's origin rate limit, per second
	// (0: the client's default, unlimited unless it has one; negative: 0).
	// The limiter's burst is a fiftieth of it (at least 1), so that the
	// origin's busiest second stays well within the limit plus one 100 ms
	// counting bucket.
	OriginRPS float64
	// Origin configures the origin simulator.
	Origin OriginConfig
	// OriginErrorRate makes this fraction (0..1) of origin calls fail with
	// 500 for the whole run (failure injection on top of the scenario's).
	OriginErrorRate float64
	// Client configures the cache client in every client process. Zero
	// fields take loadtest's defaults: L1 32 MiB (hotkey: off, whatever is
	// set, so that every read reaches the tier), TTL 5s (origindown 1s;
	// scaleout, rolling, nodekill and hotkey 5m), L1TTL none (scaleout,
	// rolling and nodekill 500ms, so that reads reach the tier and the join
	// shows at the origin), StaleTTL 1m, LoadTimeout 2s, HealthInterval
	// 250ms, L2Timeout 200ms.
	Client ClientConfig
	// Interval is the reporting interval of the time series. Default 500ms.
	Interval time.Duration
	// Timeout bounds one Get. Default 5s.
	Timeout time.Duration
	// Seed makes key choices reproducible. Default 1.
	Seed uint64
	// Exe is the binary re-executed for client processes (ClientArg) and
	// nodes (NodeArg). Default: this process's executable.
	Exe string
	// NodeBin, when set, is run for each node instead of Exe with NodeArg;
	// it must accept redis-server's --port/--bind/--maxmemory flags (e.g.
	// redis-server itself, or a cachenode binary).
	NodeBin string
	// MaxMemory is passed to each node as --maxmemory (e.g. "64mb").
	// Default "64mb".
	MaxMemory string
	// Progress, when set, receives a progress line every second. IsTTY
	// makes it a single line redrawn in place.
	Progress io.Writer
	// IsTTY says Progress is a terminal.
	IsTTY bool
	// Log receives the children's stderr and diagnostics. Default io.Discard.
	Log io.Writer
}

func (c *Config) init() error {
	known := false
	for _, s := range Scenarios {
		known = known || s == c.Scenario
	}
	if !known {
		return fmt.Errorf("loadtest: unknown scenario %q (want one of %v)", c.Scenario, Scenarios)
	}
	herd := c.Scenario == "herd"
	if len(c.Addrs) > 0 && (c.Scenario == "tierdown" || c.Scenario == "scaleout" || c.Scenario == "rolling" || c.Scenario == "nodekill") {
		return fmt.Errorf("loadtest: %s kills or adds nodes and needs a local tier; drop --addrs", c.Scenario)
	}
	if c.Batch > 1 && c.Scenario == "coherence" {
		return fmt.Errorf("loadtest: --batch does not apply to the coherence scenario")
	}
	if c.HotShare != 0 && c.Scenario != "hotkey" {
		return fmt.Errorf("loadtest: --hot-share applies to the hotkey scenario only")
	}
	if c.Scenario == "hotkey" {
		if c.HotShare < 0 || c.HotShare >= 1 {
			return fmt.Errorf("loadtest: --hot-share %v: want a fraction in (0, 1)", c.HotShare)
		}
		if c.Client.L1Bytes > 0 {
			return fmt.Errorf("loadtest: hotkey runs with L1 off (every read reaches the tier); drop --l1-bytes")
		}
		if c.Keys == 1 {
			return fmt.Errorf("loadtest: hotkey needs at least 2 keys (the hot one and the others)")
		}
		if c.HotShare == 0 {
			c.HotShare = defaultHotShare
		}
		c.Client.L1Bytes = -1 // cacheclient: a negative L1.Bytes turns L1 off
	}
	orDefault(&c.Nodes, 3)
	orDefault(&c.Procs, 1)
	if c.Scenario == "coherence" {
		c.Procs = max(c.Procs, 2) // one writer, at least one reader
		orDefault(&c.Concurrency, 4)
		orDefault(&c.Keys, 20)
	}
	if herd {
		orDefault(&c.Concurrency, 500)
		orDefault(&c.Keys, 1)
	}
	orDefault(&c.Concurrency, 32)
	orDefault(&c.Keys, 1000)
	orDefault(&c.Duration, map[string]time.Duration{
		"herd": 30 * time.Second, "steady": 10 * time.Second, "scaleout": 15 * time.Second,
		"tierdown": 20 * time.Second, "origindown": 15 * time.Second, "coherence": 10 * time.Second,
		"rolling": 30 * time.Second, "nodekill": 15 * time.Second, "hotkey": 10 * time.Second,
	}[c.Scenario])
	if c.Rate == 0 && c.Scenario == "coherence" {
		c.Rate = 20000 // each reader goroutine looks at each key every few ms
	}
	if c.Rate == 0 && !herd {
		c.Rate = 1000
	}
	if c.Rate < 0 {
		c.Rate = 0
	}
	if c.ZipfS <= 1 {
		c.ZipfS = defaultZipfS
	}
	orDefault(&c.Interval, defaultInterval)
	orDefault(&c.Timeout, defaultTimeout)
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.MaxMemory == "" {
		c.MaxMemory = "64mb"
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	cc := &c.Client
	if cc.L1Bytes == 0 {
		cc.L1Bytes = 32 << 20
	}
	if cc.TTL == 0 {
		cc.TTL = 5 * time.Second
		if c.Scenario == "origindown" {
			cc.TTL = time.Second
		}
		if c.Scenario == "rolling" || c.Scenario == "scaleout" || c.Scenario == "nodekill" || c.Scenario == "hotkey" {
			cc.TTL = 5 * time.Minute // outlives the run: what the roll, join or kill costs is not expiry; hotkey loads each key once
		}
	}
	if cc.L1TTL == 0 && (c.Scenario == "scaleout" || c.Scenario == "rolling" || c.Scenario == "nodekill") {
		cc.L1TTL = 500 * time.Millisecond
	}
	if cc.StaleTTL == 0 {
		cc.StaleTTL = time.Minute
	}
	if cc.LoadTimeout == 0 {
		cc.LoadTimeout = 2 * time.Second
	}
	if cc.HealthInterval == 0 {
		cc.HealthInterval = 250 * time.Millisecond
	}
	if cc.L2Timeout == 0 {
		cc.L2Timeout = 200 * time.Millisecond
	}
	if c.OriginRPS > 0 {
		cc.OriginRPS = c.OriginRPS
		if cc.OriginBurst == 0 {
			cc.OriginBurst = max(1, int(c.OriginRPS/50))
		}
	}
	c.Origin.init()
	return nil
}

// Defaults shared by Config and the client processes' workerConfig.
const (
	defaultZipfS    = 1.1
	defaultHotShare = 0.4
	defaultInterval = 500 * time.Millisecond
	defaultTimeout  = 5 * time.Second
)

// orDefault sets *v to def when *v is zero or negative (unset).
func orDefault[T int | int64 | float64 | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}
