package loadtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachetier/cachetier/cachenode"
)

// ReplayConfig configures a trace replay (loadtest replay): the same trace,
// cache-aside (GET, and SET on a miss), against each target at each
// maxmemory, one server process at a time.
type ReplayConfig struct {
	// Trace is a generated class (one of TraceClasses) or a trace file's
	// path. Default "zipf".
	Trace string
	// Format of a trace file: "text" (one key per line, optional size) or
	// "oracle" (libCacheSim oracleGeneral). Default "text".
	Format string
	// Requests bounds the requests replayed (a file's first ones).
	// Default 400,000.
	Requests int
	// Keys is the number of objects of a generated trace. Default 200,000.
	Keys int
	// ZipfS is the Zipf exponent of a generated trace (> 0). Default 0.9.
	ZipfS float64
	// ScanShare is the share of a generated scan trace's requests that
	// scans make up, in (0, 1). Default DefaultScanShare (0.3).
	ScanShare float64
	// MaxMemory lists the cache sizes, as for --maxmemory. Default 8mb,
	// 16mb, 32mb.
	MaxMemory []string
	// Targets lists what to replay against, as SERVER:POLICY with SERVER
	// node or redis (e.g. node:allkeys-lru). Default the node's default
	// policy, redis:allkeys-lru and redis:allkeys-lfu.
	Targets []string
	// RedisBin is the redis-server binary. Default "redis-server" on PATH.
	RedisBin string
	// Exe is the loadtest binary re-executed as a node. Default this
	// process's executable.
	Exe string
	// NodeBin, when set, is run for the node targets instead of Exe: a
	// cachenode binary, so that its resident memory is the shipped
	// binary's, not the loadtest binary's (which carries the node too).
	NodeBin string
	// Pipeline is how many GETs go in one round trip (their SETs on miss
	// in the next). Default 32.
	Pipeline int
	// Rate, when positive, paces the replay at this many requests per
	// second (a batch waits until its first request is due); 0 replays as
	// fast as the server answers. Wall-clock policies depend on the pace:
	// redis' LRU clock ticks once a second and its LFU counters decay per
	// minute, so a fast replay leaves them coarser than the same requests
	// spread over a production day would.
	Rate float64
	// Warmup is the fraction of the requests, from the start, not counted
	// in the miss ratio. Default 0.2.
	Warmup float64
	// Seed makes generated traces reproducible. Default 1.
	Seed uint64
	// Progress, when set, receives a line per run.
	Progress io.Writer
	// Log receives the servers' output. Default io.Discard.
	Log io.Writer
}

// ReplayRun is the result of one target at one cache size.
type ReplayRun struct {
	Target     string  `json:"target"`
	MaxMemory  int64   `json:"maxmemory"`
	Requests   int     `json:"requests"` // counted (after warm-up)
	Misses     int     `json:"misses"`
	MissRatio  float64 `json:"miss_ratio"`
	UsedMemory int64   `json:"used_memory"`
	RSS        int64   `json:"rss"` // used_memory_rss at the end
	Keys       int64   `json:"keys"`
	Evicted    int64   `json:"evicted_keys"`
	Seconds    float64 `json:"seconds"`
}

// ReplayResult is the outcome of a replay.
type ReplayResult struct {
	Trace    string      `json:"trace"`
	Requests int         `json:"requests"`
	Objects  int         `json:"objects"` // distinct
	Bytes    int64       `json:"bytes"`   // sum of the distinct objects' sizes
	Warmup   float64     `json:"warmup"`
	Pipeline int         `json:"pipeline"`
	Rate     float64     `json:"rate,omitempty"` // requests per second; 0: unpaced
	Runs     []ReplayRun `json:"runs"`
	Date     string      `json:"date"`
}

func (c *ReplayConfig) init() error {
	if c.Trace == "" {
		c.Trace = "zipf"
	}
	if c.Format == "" {
		c.Format = "text"
	}
	if c.Format != "text" && c.Format != "oracle" {
		return fmt.Errorf("loadtest: replay: unknown trace format %q (want text or oracle)", c.Format)
	}
	orDefault(&c.Requests, 400_000)
	orDefault(&c.Keys, 200_000)
	if c.ZipfS <= 0 {
		c.ZipfS = 0.9
	}
	if len(c.MaxMemory) == 0 {
		c.MaxMemory = []string{"8mb", "16mb", "32mb"}
	}
	for _, m := range c.MaxMemory {
		if n, err := cachenode.ParseSize(m); err != nil || n <= 0 {
			return fmt.Errorf("loadtest: replay: bad maxmemory %q", m)
		}
	}
	if len(c.Targets) == 0 {
		c.Targets = []string{"node:" + cachenode.DefaultMaxMemoryPolicy, "redis:allkeys-lru", "redis:allkeys-lfu"}
	}
	for _, t := range c.Targets {
		srv, pol, ok := strings.Cut(t, ":")
		if !ok || (srv != "node" && srv != "redis") || pol == "" {
			return fmt.Errorf("loadtest: replay: bad target %q (want node:POLICY or redis:POLICY)", t)
		}
	}
	if c.RedisBin == "" {
		c.RedisBin = "redis-server"
	}
	orDefault(&c.Pipeline, 32)
	if c.Rate < 0 || math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0) {
		return fmt.Errorf("loadtest: replay: bad rate %v (want requests per second, 0 for unpaced)", c.Rate)
	}
	if c.Warmup <= 0 || c.Warmup >= 1 {
		c.Warmup = 0.2
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	return nil
}

// loadTrace generates or reads the configured trace.
func (c *ReplayConfig) loadTrace() ([]TraceRequest, error) {
	for _, cl := range TraceClasses {
		if c.Trace == cl {
			return GenerateTrace(cl, c.Requests, c.Keys, c.ZipfS, c.ScanShare, c.Seed)
		}
	}
	f, err := os.Open(c.Trace)
	if err != nil {
		return nil, fmt.Errorf("loadtest: replay: %w (a trace is a file or one of %v)", err, TraceClasses)
	}
	defer f.Close()
	if c.Format == "oracle" {
		return ReadOracleGeneral(f, c.Requests)
	}
	return ReadTextTrace(f, c.Requests)
}

// Value sizes for objects whose trace gives none: 300 to 1,000 bytes,
// fixed per object (the same in every run).
const (
	replayMinValue = 300
	replayMaxValue = 1000
)

func objectSize(q TraceRequest) int {
	if q.Size > 0 {
		return int(q.Size)
	}
	x := q.ID + 0x9e3779b97f4a7c15 // splitmix64: the same size for an object in every run
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	x ^= x >> 31
	return replayMinValue + int(x%(replayMaxValue-replayMinValue+1))
}

// Replay runs the trace against every target at every cache size and
// returns the miss ratios, one server process at a time.
func Replay(ctx context.Context, cfg ReplayConfig) (*ReplayResult, error) {
	if err := cfg.init(); err != nil {
		return nil, err
	}
	if cfg.Exe == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, err
		}
		cfg.Exe = exe
	}
	for _, t := range cfg.Targets {
		if strings.HasPrefix(t, "redis:") {
			p, err := exec.LookPath(cfg.RedisBin)
			if err != nil {
				return nil, fmt.Errorf("loadtest: replay: %s needs redis-server: %w", t, err)
			}
			cfg.RedisBin = p
			break
		}
	}
	trace, err := cfg.loadTrace()
	if err != nil {
		return nil, err
	}
	if len(trace) == 0 {
		return nil, fmt.Errorf("%w: no requests", ErrTrace)
	}
	res := &ReplayResult{Trace: cfg.Trace, Requests: len(trace), Warmup: cfg.Warmup, Pipeline: cfg.Pipeline, Rate: cfg.Rate,
		Date: time.Now().UTC().Format(time.RFC3339)}
	seen := map[uint64]bool{}
	for _, q := range trace {
		if !seen[q.ID] {
			seen[q.ID] = true
			res.Bytes += int64(objectSize(q))
		}
	}
	res.Objects = len(seen)
	for _, mm := range cfg.MaxMemory {
		for _, tg := range cfg.Targets {
			if err := ctx.Err(); err != nil {
				return res, err
			}
			run, err := replayOne(ctx, &cfg, trace, tg, mm)
			if err != nil {
				return res, err
			}
			res.Runs = append(res.Runs, run)
			if cfg.Progress != nil {
				fmt.Fprintf(cfg.Progress, "replay %s %-24s maxmemory %-6s miss ratio %.4f  rss %s  (%.1fs)\n",
					cfg.Trace, tg, mm, run.MissRatio, humanSize(run.RSS), run.Seconds)
			}
		}
	}
	return res, nil
}

// replayOne starts the target's server at maxmemory mm, replays the trace
// and reads the server's memory and eviction figures.
func replayOne(ctx context.Context, cfg *ReplayConfig, trace []TraceRequest, target, mm string) (ReplayRun, error) {
	srv, pol, _ := strings.Cut(target, ":")
	t := &tier{exe: cfg.Exe, maxmemory: mm, logw: cfg.Log}
	switch {
	case srv == "redis":
		t.nodeBin = cfg.RedisBin
	case cfg.NodeBin != "":
		t.nodeBin = cfg.NodeBin
	}
	defer t.close()
	addr, err := t.add()
	if err != nil {
		return ReplayRun{}, err
	}
	rc := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second})
	defer rc.Close()
	if err := rc.ConfigSet(ctx, "maxmemory-policy", pol).Err(); err != nil {
		return ReplayRun{}, fmt.Errorf("loadtest: replay: %s: %w", target, err)
	}
	maxBytes, _ := cachenode.ParseSize(mm)
	run := ReplayRun{Target: target, MaxMemory: maxBytes}
	start := time.Now()
	val := make([]byte, maxTraceSize)
	for i := range val {
		val[i] = 'v'
	}
	warm := int(float64(len(trace)) * cfg.Warmup)
	gets := make([]*redis.StringCmd, 0, cfg.Pipeline)
	keys := make([]string, 0, cfg.Pipeline)
	for lo := 0; lo < len(trace); lo += cfg.Pipeline {
		batch := trace[lo:min(lo+cfg.Pipeline, len(trace))]
		if cfg.Rate > 0 {
			due := start.Add(time.Duration(float64(lo) / cfg.Rate * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				select {
				case <-time.After(d):
				case <-ctx.Done():
					return run, ctx.Err()
				}
			}
		}
		pipe := rc.Pipeline()
		gets, keys = gets[:0], keys[:0]
		for _, q := range batch {
			k := "o:" + strconv.FormatUint(q.ID, 10)
			keys = append(keys, k)
			gets = append(gets, pipe.Get(ctx, k))
		}
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return run, fmt.Errorf("loadtest: replay: %s: GET: %w", target, err)
		}
		sets := rc.Pipeline()
		n := 0
		for i, g := range gets {
			if !errors.Is(g.Err(), redis.Nil) {
				continue
			}
			if lo+i >= warm {
				run.Misses++
			}
			sets.Set(ctx, keys[i], val[:objectSize(batch[i])], 0)
			n++
		}
		if n > 0 {
			if _, err := sets.Exec(ctx); err != nil {
				return run, fmt.Errorf("loadtest: replay: %s: SET: %w", target, err)
			}
		}
	}
	run.Requests = len(trace) - warm
	run.MissRatio = float64(run.Misses) / float64(max(run.Requests, 1))
	run.Seconds = time.Since(start).Seconds()
	info, err := rc.Info(ctx, "memory", "stats", "keyspace").Result()
	if err != nil {
		return run, err
	}
	run.UsedMemory = infoInt(info, "used_memory")
	run.RSS = infoInt(info, "used_memory_rss")
	run.Evicted = infoInt(info, "evicted_keys")
	run.Keys = rc.DBSize(ctx).Val()
	return run, nil
}

// infoInt returns the integer field name of an INFO reply (0 if absent).
func infoInt(info, name string) int64 {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

func humanSize(n int64) string {
	return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MiB"
}
