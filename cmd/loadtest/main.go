// Command loadtest replays the situations a cache exists for against a
// local cachetier tier (or a running one) and reports what the origin saw.
//
//	loadtest SCENARIO [flags]
//
// Scenarios: herd, steady, scaleout, tierdown, origindown, coherence, rolling,
// nodekill, hotkey. See
// loadtest -h and docs/loadtest.md.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/cachetier/cachetier/loadtest"
)

func main() {
	if code, ok := loadtest.ChildMain(os.Args); ok {
		os.Exit(code)
	}
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) > 0 && args[0] == "replay" {
		return replay(args[1:])
	}
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	var (
		cfg       loadtest.Config
		addrs     string
		jsonPath  string
		report    string
		quiet     bool
		verbose   bool
		originLat time.Duration
	)
	fs.IntVar(&cfg.Nodes, "nodes", 3, "start `N` local nodes")
	fs.StringVar(&addrs, "addrs", "", "use a running tier: comma-separated host:port list (herd, steady, origindown, coherence, hotkey)")
	fs.IntVar(&cfg.Procs, "procs", 1, "client OS `processes`, each with its own L1")
	fs.IntVar(&cfg.Concurrency, "concurrency", 0, "goroutines per process (default 500 for herd, 32 otherwise)")
	fs.IntVar(&cfg.Keys, "keys", 0, "distinct keys (default 1 for herd, 1000 otherwise)")
	fs.DurationVar(&cfg.Duration, "duration", 0, "run length (default herd 30s limit, steady 10s, scaleout 15s, tierdown 20s, origindown 15s, coherence 10s, rolling 30s, nodekill 15s, hotkey 10s)")
	fs.Float64Var(&cfg.OriginRPS, "origin-rps", 0, "each client process's origin limit in calls/s (0: none)")
	fs.Float64Var(&cfg.Rate, "rate", 0, "requests/s per process (default 1000; -1: unpaced)")
	fs.DurationVar(&cfg.Timeout, "timeout", 5*time.Second, "bound on one request")
	fs.Int64Var(&cfg.MaxRequests, "max-requests", 0, "cap on keys read per process (0: none)")
	fs.IntVar(&cfg.Batch, "batch", 0, "keys per request: readers use GetMany (default 1: single Gets; not for coherence)")
	fs.Float64Var(&cfg.ZipfS, "zipf", 1.1, "Zipf exponent of key popularity (> 1)")
	fs.Float64Var(&cfg.HotShare, "hot-share", 0, "hotkey: fraction of reads that go to the hot key, the others uniform over the other keys (default 0.4)")
	fs.DurationVar(&originLat, "origin-latency", 20*time.Millisecond, "origin median latency")
	fs.IntVar(&cfg.Origin.Capacity, "origin-capacity", 64, "concurrent calls the origin serves at full speed (503 beyond twice that)")
	fs.Float64Var(&cfg.OriginErrorRate, "origin-error-rate", 0, "fraction of origin calls that fail with 500 (failure injection)")
	fs.IntVar(&cfg.Origin.ValueSize, "value-size", 64, "value size in bytes")
	fs.DurationVar(&cfg.Client.TTL, "ttl", 0, "cache TTL (default 5s, origindown 1s, scaleout, rolling, nodekill and hotkey 5m)")
	fs.DurationVar(&cfg.Client.L1TTL, "l1-ttl", 0, "cap on how long an L1 copy is fresh, so reads reach the tier (default none; scaleout, rolling and nodekill 500ms)")
	fs.DurationVar(&cfg.Client.StaleTTL, "stale-ttl", 0, "how long past TTL a stale value may be served (default 1m)")
	fs.IntVar(&cfg.Client.L1Bytes, "l1-bytes", 0, "L1 size per process in bytes (default 32 MiB; hotkey: L1 off)")
	fs.BoolVar(&cfg.Client.DisableLeases, "no-leases", false, "turn the client's tier-wide leases off (each process coalesces only its own misses)")
	fs.BoolVar(&cfg.Client.DisableWarmup, "no-warmup", false, "turn the client's warm-up reads off (a key that moved is loaded again on its new owner)")
	fs.IntVar(&cfg.Client.Replicas, "replicas", 0, "nodes that hold each key (the client's Tier.Replicas; default 1)")
	fs.DurationVar(&cfg.Interval, "interval", 500*time.Millisecond, "reporting interval of the time series")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "random seed for key choice")
	fs.StringVar(&cfg.NodeBin, "node-bin", "", "run this binary as each node instead of the built-in cachenode (e.g. redis-server)")
	fs.StringVar(&cfg.MaxMemory, "maxmemory", "64mb", "--maxmemory for each node")
	fs.BoolVar(&cfg.Snapshots, "snapshots", false, "run the nodes with snapshots on: each saves on SIGTERM and loads on start (rolling)")
	fs.BoolVar(&cfg.NoBaseline, "no-baseline", false, "rolling --snapshots: skip the baseline roll without snapshots that runs first (it doubles the run time)")
	fs.StringVar(&jsonPath, "json", "", "write the JSON summary to `FILE`")
	fs.StringVar(&report, "report", "", "write the HTML report to `FILE`")
	fs.BoolVar(&quiet, "quiet", false, "no progress line")
	fs.BoolVar(&verbose, "v", false, "show the nodes' and client processes' stderr")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: loadtest SCENARIO [flags]\n       loadtest replay [flags]\n       loadtest render SUMMARY.json REPORT.html\n\nscenarios: %s\n\nflags:\n", strings.Join(loadtest.Scenarios, ", "))
		fs.PrintDefaults()
	}
	if len(args) == 3 && args[0] == "render" {
		return render(args[1], args[2])
	}
	// The scenario may come before or after the flags.
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cfg.Scenario, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if cfg.Scenario == "" && fs.NArg() > 0 {
		cfg.Scenario = fs.Arg(0)
	} else if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "loadtest: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if cfg.Scenario == "" {
		fs.Usage()
		return 2
	}
	if addrs != "" {
		cfg.Addrs = strings.Split(addrs, ",")
	}
	cfg.Origin.Latency = originLat
	if verbose {
		cfg.Log = os.Stderr
	}
	if !quiet {
		cfg.Progress = os.Stderr
		if fi, err := os.Stderr.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			cfg.IsTTY = true
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sum, err := loadtest.Run(ctx, cfg)
	if err != nil {
		msg := err.Error()
		if !strings.HasPrefix(msg, "loadtest:") {
			msg = "loadtest: " + msg
		}
		fmt.Fprintln(os.Stderr, msg)
		return 1
	}
	sum.WriteTable(os.Stdout)
	code := 0
	if jsonPath != "" {
		if err := writeFile(jsonPath, sum.WriteJSON); err != nil {
			fmt.Fprintln(os.Stderr, "loadtest:", err)
			code = 1
		}
	}
	if report != "" {
		if err := writeFile(report, sum.WriteReport); err != nil {
			fmt.Fprintln(os.Stderr, "loadtest:", err)
			code = 1
		} else {
			fmt.Printf("report\t%s\n", report)
		}
	}
	if sum.Interrupted && code == 0 {
		code = 130
	}
	return code
}

func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// render rewrites the HTML report of a run from its JSON summary.
func render(jsonPath, htmlPath string) int {
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		return 1
	}
	var sum loadtest.Summary
	if err := json.Unmarshal(b, &sum); err != nil {
		fmt.Fprintf(os.Stderr, "loadtest: %s: %v\n", jsonPath, err)
		return 1
	}
	if err := writeFile(htmlPath, sum.WriteReport); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		return 1
	}
	return 0
}

// replay runs `loadtest replay`: a trace replayed against cachenode and
// redis-server at several cache sizes (loadtest.Replay).
func replay(args []string) int {
	fs := flag.NewFlagSet("loadtest replay", flag.ContinueOnError)
	var (
		cfg                    loadtest.ReplayConfig
		traces, sizes, targets string
		jsonPath, report       string
		quiet, verbose         bool
	)
	fs.StringVar(&traces, "trace", "zipf,scan,shift", "comma-separated generated classes (zipf, scan, shift) or trace `files`")
	fs.StringVar(&cfg.Format, "format", "text", "trace file format: text (KEY [SIZE] per line) or oracle (libCacheSim oracleGeneral)")
	fs.IntVar(&cfg.Requests, "requests", 400_000, "requests replayed per trace (a file's first ones)")
	fs.IntVar(&cfg.Keys, "keys", 200_000, "objects of a generated trace")
	fs.Float64Var(&cfg.ZipfS, "zipf", 0.9, "Zipf exponent of a generated trace")
	fs.Float64Var(&cfg.ScanShare, "scan-share", loadtest.DefaultScanShare, "share of the scan trace's requests made by its scans")
	fs.StringVar(&sizes, "maxmemory", "8mb,16mb,32mb", "comma-separated cache `sizes`")
	fs.StringVar(&targets, "targets", "", "comma-separated SERVER:POLICY, SERVER node or redis (default: node's default policy, redis:allkeys-lru, redis:allkeys-lfu)")
	fs.StringVar(&cfg.RedisBin, "redis-server", "redis-server", "redis-server `binary`")
	fs.StringVar(&cfg.NodeBin, "node-bin", "", "run this cachenode `binary` for the node targets instead of the built-in one (its RSS is then the shipped binary's)")
	fs.IntVar(&cfg.Pipeline, "pipeline", 32, "GETs per round trip")
	fs.Float64Var(&cfg.Rate, "rate", 0, "pace the replay at this many requests per second (0: as fast as the server answers)")
	fs.Float64Var(&cfg.Warmup, "warmup", 0.2, "fraction of the requests, from the start, not counted")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "random seed of generated traces")
	fs.StringVar(&jsonPath, "json", "", "write the results as JSON to `FILE`")
	fs.StringVar(&report, "report", "", "write the HTML report to `FILE`")
	fs.BoolVar(&quiet, "quiet", false, "no progress lines")
	fs.BoolVar(&verbose, "v", false, "show the servers' output")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "loadtest: unexpected arguments %q\n", fs.Args())
		return 2
	}
	cfg.MaxMemory = strings.Split(sizes, ",")
	if targets != "" {
		cfg.Targets = strings.Split(targets, ",")
	}
	if !quiet {
		cfg.Progress = os.Stderr
	}
	if verbose {
		cfg.Log = os.Stderr
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var results []*loadtest.ReplayResult
	code := 0
	for _, tr := range strings.Split(traces, ",") {
		c := cfg
		c.Trace = tr
		res, err := loadtest.Replay(ctx, c)
		if res != nil {
			results = append(results, res)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
			break
		}
	}
	_ = loadtest.WriteReplayTable(os.Stdout, results)
	if jsonPath != "" {
		if err := writeFile(jsonPath, func(w io.Writer) error { return loadtest.WriteReplayJSON(w, results) }); err != nil {
			fmt.Fprintln(os.Stderr, "loadtest:", err)
			code = 1
		}
	}
	if report != "" {
		if err := writeFile(report, func(w io.Writer) error { return loadtest.WriteReplayReport(w, results) }); err != nil {
			fmt.Fprintln(os.Stderr, "loadtest:", err)
			code = 1
		} else {
			fmt.Printf("report\t%s\n", report)
		}
	}
	return code
}
