package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// The scenario tests run real scenarios at a small scale: the parent (this
// test process, under -race when the suite is) plus client processes and
// nodes re-executed from the binary that TestMain built. They assert on the
// JSON summary, as users' scripts would.

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.b.Len() > 1<<20 {
		return len(p), nil
	}
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runScenario runs cfg with the test binary and returns the summary as
// decoded from its JSON form.
func runScenario(t *testing.T, cfg Config) map[string]any {
	t.Helper()
	cfg.Exe = needExe(t)
	if !builtinNode && cfg.NodeBin == "" {
		bin, err := exec.LookPath("redis-server")
		if err != nil {
			t.Skip("no cachenode in this build and redis-server not installed")
		}
		cfg.NodeBin = bin
	}
	logs := &syncBuffer{}
	cfg.Log = logs
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s, err := Run(ctx, cfg)
	if err != nil {
		t.Fatalf("Run: %v\nchild output:\n%s", err, logs.String())
	}
	var tbl strings.Builder
	s.WriteTable(&tbl)
	t.Logf("summary:\n%s", tbl.String())
	var b bytes.Buffer
	if err := s.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"scenario", "requests", "errors", "shed", "l1_hits", "l2_hits", "origin_calls",
		"coalesced", "stale_served", "p50_ms", "p99_ms", "max_ms", "origin_peak_rps", "origin_limit_rps",
		"keys_moved_fraction", "ideal_moved_fraction", "events"} {
		if _, ok := m[f]; !ok {
			t.Errorf("JSON summary lacks contract field %q", f)
		}
	}
	if m["bad_values"].(float64) != 0 {
		t.Errorf("%v wrong values served", m["bad_values"])
	}
	var rep bytes.Buffer
	if err := s.WriteReport(&rep); err != nil || !strings.Contains(rep.String(), "<svg") {
		t.Errorf("report: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("child output:\n%s", logs.String())
		}
	})
	return m
}

func num(t *testing.T, m map[string]any, field string) float64 {
	t.Helper()
	v, ok := m[field].(float64)
	if !ok {
		t.Fatalf("summary field %q = %v, not a number", field, m[field])
	}
	return v
}

// TestScenarioHerd: 4 client OS processes × 500 goroutines on 2 cold keys.
// With leases (the default) the whole tier costs the origin one call per key,
// over cachenode and over redis-server; without, at most one per process.
func TestScenarioHerd(t *testing.T) {
	const procs, keys = 4, 2
	for _, tc := range []struct {
		name    string
		redis   bool
		noLease bool
	}{{"leases", false, false}, {"leases-redis", true, false}, {"no-leases", false, true}} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{Scenario: "herd", Nodes: 3, Procs: procs, Concurrency: 500, Keys: keys,
				Origin: OriginConfig{Latency: 50 * time.Millisecond}, Client: ClientConfig{DisableLeases: tc.noLease}}
			if tc.redis {
				bin, err := exec.LookPath("redis-server")
				if err != nil {
					t.Skip("redis-server not installed")
				}
				cfg.NodeBin = bin
			}
			m := runScenario(t, cfg)
			if got, want := num(t, m, "requests"), float64(procs*500*keys); got != want {
				t.Fatalf("requests = %v, want %v (every goroutine of every process asks every key once)", got, want)
			}
			if e := num(t, m, "errors"); e != 0 {
				t.Fatalf("errors = %v, want 0", e)
			}
			maxPerKey, want := float64(1), "1 for the whole tier"
			if tc.noLease {
				maxPerKey, want = procs, fmt.Sprintf("1..%d (one per process at most)", procs)
			}
			if c := num(t, m, "origin_max_calls_per_key"); c > maxPerKey || c < 1 {
				t.Fatalf("origin saw up to %v calls for one key, want %s", c, want)
			}
			if c, k := num(t, m, "origin_calls"), num(t, m, "origin_keys"); k != keys || c > maxPerKey*keys {
				t.Fatalf("origin calls %v for %v keys", c, k)
			}
		})
	}
}

func TestScenarioScaleout(t *testing.T) {
	m := runScenario(t, Config{Scenario: "scaleout", Nodes: 4, Procs: 1, Concurrency: 8, Keys: 20000,
		Duration: 4 * time.Second, Rate: 400})
	moved, ideal := num(t, m, "keys_moved_fraction"), num(t, m, "ideal_moved_fraction")
	if ideal != 0.2 {
		t.Fatalf("ideal moved fraction %v, want 0.2 for 4 → 5 nodes", ideal)
	}
	if math.Abs(moved-ideal)/ideal > 0.05 {
		t.Fatalf("moved fraction %.4f, want within 5%% of %.2f", moved, ideal)
	}
	if num(t, m, "nodes") != 4 || num(t, m, "requests") == 0 || num(t, m, "errors") != 0 {
		t.Fatalf("nodes %v requests %v errors %v", m["nodes"], m["requests"], m["errors"])
	}
	warm, reloaded := moveFigures(t, m)
	// Warm-up reads (on by default) keep the moved keys' reloads near
	// zero; measured here, asserted loosely (a read of the previous owner
	// that times out on a loaded machine goes to the origin).
	t.Logf("moved keys read after the join: %v, loaded again: %v", warm, reloaded)
	if reloaded > warm/2 {
		t.Fatalf("%v of %v warm moved keys loaded again with warm-up reads on", reloaded, warm)
	}
}

// moveFigures returns a scaleout or nodekill summary's warm moved keys read
// after the event and how many of them were loaded again, after checking
// that the figures are there and consistent.
func moveFigures(t *testing.T, m map[string]any) (warm, reloaded float64) {
	t.Helper()
	mv, ok := m["move"].(map[string]any)
	if !ok {
		t.Fatalf("no move figures: %v", m["move"])
	}
	warm, reloaded = num(t, mv, "warm_read"), num(t, mv, "reloaded")
	if num(t, mv, "moved") == 0 || warm == 0 || reloaded > warm {
		t.Fatalf("move figures %v", mv)
	}
	return warm, reloaded
}

// TestScenarioNodekill: node 1 is SIGKILLed under load; with two replicas
// its warm keys are read from their new owner, not loaded again.
func TestScenarioNodekill(t *testing.T) {
	m := runScenario(t, Config{Scenario: "nodekill", Nodes: 3, Procs: 1, Concurrency: 8, Keys: 300,
		Duration: 4 * time.Second, Rate: 400, Client: ClientConfig{Replicas: 2}})
	if e := num(t, m, "errors"); e != 0 {
		t.Fatalf("callers saw %v errors (samples: %v)", e, m["error_sample"])
	}
	warm, reloaded := moveFigures(t, m)
	// Measured here, asserted loosely (a loaded machine can fail a read of
	// the replica, which then goes to the origin).
	t.Logf("dead node's warm keys read after the kill: %v, loaded again: %v", warm, reloaded)
	if reloaded > warm/2 {
		t.Fatalf("%v of %v warm keys of the dead node loaded again with 2 replicas", reloaded, warm)
	}
}

func TestScenarioTierdown(t *testing.T) {
	const procs, perProc = 2, 100.0
	m := runScenario(t, Config{Scenario: "tierdown", Nodes: 3, Procs: procs, Concurrency: 16, Keys: 2000,
		Duration: 8 * time.Second, Rate: 500, OriginRPS: perProc, Client: ClientConfig{TTL: time.Second}})
	limit := num(t, m, "origin_limit_rps")
	if limit != procs*perProc {
		t.Fatalf("origin_limit_rps = %v, want %v", limit, procs*perProc)
	}
	// origin_peak_rps is the busiest 1 s window, slid in steps of the
	// origin's 100 ms counting bucket; the slack is one such bucket at the
	// limit (it covers the limiter's burst of limit/50 and HTTP jitter).
	slack := limit * float64(100*time.Millisecond) / float64(time.Second)
	if peak := num(t, m, "origin_peak_rps"); peak > limit+slack {
		t.Fatalf("origin peak %.1f/s above its limit %.0f/s + %.0f slack", peak, limit, slack)
	}
	if e := num(t, m, "errors"); e != 0 {
		t.Fatalf("callers saw %v errors; want only values or ErrShed (samples: %v)", e, m["error_sample"])
	}
	if num(t, m, "shed") == 0 {
		t.Logf("nothing was shed (the L1 absorbed the outage)")
	}
}

func TestScenarioOrigindown(t *testing.T) {
	m := runScenario(t, Config{Scenario: "origindown", Nodes: 2, Procs: 1, Concurrency: 16, Keys: 200,
		Duration: 6 * time.Second, Rate: 500, Client: ClientConfig{TTL: 500 * time.Millisecond}})
	if s := num(t, m, "stale_served"); s == 0 {
		t.Fatal("no stale values served while the origin was down")
	}
	if e := num(t, m, "errors_with_stale_copy"); e != 0 {
		t.Fatalf("%v errors for keys that had a stale copy (samples: %v)", e, m["error_sample"])
	}
}

func TestScenarioSteady(t *testing.T) {
	m := runScenario(t, Config{Scenario: "steady", Nodes: 2, Procs: 2, Concurrency: 8, Keys: 500,
		Duration: 3 * time.Second, Rate: 300})
	if num(t, m, "errors") != 0 || num(t, m, "requests") < 500 {
		t.Fatalf("errors %v requests %v", m["errors"], m["requests"])
	}
	if num(t, m, "origin_calls") > num(t, m, "requests") {
		t.Fatal("more origin calls than requests")
	}
}

// TestScenarioCoherence: one writer process rewrites 10 keys, two reader
// processes read them through L1; readers see new versions (transitions) and
// stop seeing old ones within the bound (asserted generously: a loaded CI
// machine; the real figures are in BENCHMARKS.md), and the report has the
// distribution.
func TestScenarioCoherence(t *testing.T) {
	m := runScenario(t, Config{Scenario: "coherence", Nodes: 2, Procs: 3, Concurrency: 2, Keys: 10,
		Duration: 2 * time.Second, Rate: 4000})
	if num(t, m, "coherence_writes") == 0 || num(t, m, "coherence_transitions") == 0 {
		t.Fatalf("no writes or no transitions seen: %v writes, %v transitions", m["coherence_writes"], m["coherence_transitions"])
	}
	if p99 := num(t, m, "stale_after_write_p99_ms"); p99 > 500 {
		t.Errorf("stale after a write p99 %.1fms", p99)
	}
	if _, ok := m["stale_after_write_hist"]; !ok {
		t.Error("no stale_after_write_hist")
	}
	if m["errors"].(float64) != 0 {
		t.Errorf("%v errors", m["errors"])
	}
}

func TestCohValue(t *testing.T) {
	v := cohValue("k1", 42, 1234567)
	n, ns, ok := parseCohValue("k1", v)
	if !ok || n != 42 || ns != 1234567 {
		t.Fatalf("parse %q = %d %d %v", v, n, ns, ok)
	}
	if _, _, ok := parseCohValue("k1", []byte("k1|origin")); ok {
		t.Fatal("origin value parsed as versioned")
	}
}

// TestScenarioRolling: every node is restarted in turn under load, with
// snapshots; the same invocation first runs the same roll without snapshots
// (the baseline). Each node restarts once, the phases before, roll and after
// are reported, no wrong value is served (runScenario), and both rolls'
// figures are in the summary with their setting: the roll without snapshots
// reloads keys (its restarted nodes come back empty), and the reloads add up
// over their attribution. The figures (reloads with snapshots against
// without) are in BENCHMARKS.md, not asserted.
func TestScenarioRolling(t *testing.T) {
	if !builtinNode {
		t.Skip("needs the built-in cachenode (snapshots)")
	}
	m := runScenario(t, Config{Scenario: "rolling", Nodes: 2, Concurrency: 8, Keys: 200,
		Duration: 6 * time.Second, Snapshots: true})
	var restarted int
	for _, e := range m["events"].([]any) {
		if w := e.(map[string]any)["what"].(string); strings.HasSuffix(w, " back") {
			restarted++
		}
	}
	if restarted != 2 {
		t.Errorf("%d node restarts, want 2", restarted)
	}
	var names []string
	for _, p := range m["phases"].([]any) {
		names = append(names, p.(map[string]any)["name"].(string))
	}
	if strings.Join(names, ",") != "before,roll,after" {
		t.Errorf("phases %v", names)
	}
	if got := m["config"].(map[string]any)["snapshots"]; got != true {
		t.Errorf("config.snapshots %v", got)
	}
	for _, c := range []struct {
		field     string
		snapshots bool
	}{{"roll", true}, {"roll_baseline", false}} {
		f, ok := m[c.field].(map[string]any)
		if !ok {
			t.Errorf("summary lacks %q", c.field)
			continue
		}
		if f["snapshots"] != c.snapshots {
			t.Errorf("%s.snapshots %v, want %v", c.field, f["snapshots"], c.snapshots)
		}
		n := func(k string) float64 { return f[k].(float64) }
		if sum := n("reloads_owner_restarting") + n("reloads_owner_back") + n("reloads_other"); sum != n("reloads") {
			t.Errorf("%s: reloads %v, attributed %v", c.field, n("reloads"), sum)
		}
		var byNode float64
		for _, v := range f["reloads_by_node"].([]any) {
			byNode += v.(float64)
		}
		if byNode != n("reloads") || len(f["reloads_by_node"].([]any)) != 2 {
			t.Errorf("%s: reloads %v, by node %v", c.field, n("reloads"), f["reloads_by_node"])
		}
		if n("reloads") > n("origin_calls") {
			t.Errorf("%s: %v reloads among %v origin calls", c.field, n("reloads"), n("origin_calls"))
		}
	}
	if b, ok := m["roll_baseline"].(map[string]any); ok && b["reloads"].(float64) == 0 {
		t.Errorf("the roll without snapshots reloaded nothing: %v", b)
	} else if _, ok := m["roll_cost_ratio"].(float64); !ok {
		t.Errorf("summary lacks roll_cost_ratio")
	}
}

// hotkeyRun runs the hotkey scenario small (3 nodes, one key taking
// hotShare of the reads, L1 off) with replicas copies of each key, checks
// what holds whatever the client does, and returns the summary and its
// hotkey figures.
func hotkeyRun(t *testing.T, replicas int) (m, hk map[string]any) {
	t.Helper()
	const nodes, keys, hotShare = 3, 500, 0.4
	m = runScenario(t, Config{Scenario: "hotkey", Nodes: nodes, Procs: 1, Concurrency: 32, Keys: keys,
		Duration: 4 * time.Second, Rate: 600, HotShare: hotShare, Client: ClientConfig{Replicas: replicas}})
	if e := num(t, m, "errors"); e != 0 {
		t.Fatalf("callers saw %v errors (samples: %v)", e, m["error_sample"])
	}
	if l1 := num(t, m, "l1_hits"); l1 != 0 {
		t.Fatalf("%v L1 hits with L1 off", l1)
	}
	hk, ok := m["hotkey"].(map[string]any)
	if !ok {
		t.Fatalf("no hotkey figures: %v (errors: %v)", m["hotkey"], m["error_sample"])
	}
	// The hot key is loaded once for the whole run (TTL 5 min, leases),
	// and each other key about once. Asserted with a little room: on a
	// stalled machine a client can mark a node down (L2 timeouts) and
	// load some of its keys once more on their failover owner.
	if c := num(t, hk, "hot_key_origin_calls"); c < 1 || c > 2 {
		t.Errorf("the hot key was loaded %v times, want 1", c)
	}
	if c := num(t, m, "origin_calls"); c < keys || c > keys*1.25 {
		t.Errorf("%v origin calls for %d keys, want about one per key", c, keys)
	}
	// The per-node figures add up to the node-side totals.
	list, _ := hk["nodes"].([]any)
	if len(list) != nodes {
		t.Fatalf("%d nodes in the hotkey figures, want %d: %v", len(list), nodes, hk["nodes"])
	}
	var sum, shares, busiest float64
	for _, v := range list {
		nd := v.(map[string]any)
		sum += num(t, nd, "reads")
		shares += num(t, nd, "share")
		if num(t, nd, "reads") > busiest {
			busiest = num(t, nd, "reads")
		}
	}
	reads, client := num(t, hk, "reads"), num(t, hk, "client_reads")
	if sum != reads || math.Abs(shares-1) > 1e-9 {
		t.Fatalf("nodes' reads add up to %v of %v, shares to %v", sum, reads, shares)
	}
	if got, want := num(t, hk, "busiest_ratio"), busiest/(reads/nodes); math.Abs(got-want) > 1e-9 {
		t.Fatalf("busiest_ratio %v, want the busiest node's reads over the mean: %v", got, want)
	}
	// Every node read is one of the clients' reads in the window (give or
	// take the requests in flight at its ends), and the clients' reads reach
	// the nodes but for those that shared a concurrent read of the same key
	// (the client's read group): the nodes' counts are the reads.
	if reads > client*1.05+32 || reads < client*0.7 {
		t.Fatalf("the nodes served %v GETs in the window, the clients read %v keys", reads, client)
	}
	return m, hk
}

// TestScenarioHotkey: with one copy of each key, the hot key's owner serves
// the hot key's whole share: hotShare + (1-hotShare)/N of the reads, about
// 1 + hotShare×(N-1) = 1.8 times the mean node's.
func TestScenarioHotkey(t *testing.T) {
	_, hk := hotkeyRun(t, 1)
	ratio, exp := num(t, hk, "busiest_ratio"), num(t, hk, "expected_ratio_one_copy")
	t.Logf("busiest node: %.2f× the mean (this run's placement gives %.2f×)", ratio, exp)
	var holders []string
	for _, v := range hk["nodes"].([]any) {
		if nd := v.(map[string]any); nd["holds_hot_key"] == true {
			holders = append(holders, nd["addr"].(string))
		}
	}
	// One copy, on the busiest node; a second one when a client marked the
	// owner down for a moment (a stalled machine) and failed over.
	if !slices.Contains(holders, hk["busiest"].(string)) || len(holders) > 2 {
		t.Fatalf("the hot key is on %v, the busiest node is %v: want it on the busiest node", holders, hk["busiest"])
	}
	if len(holders) > 1 {
		t.Logf("the hot key is on %v: a client failed over", holders)
	}
	// 1.8 from the parameters; the placement of the other keys moves it by
	// a few hundredths, reads of the hot key that share a concurrent read
	// lower it a little.
	if ratio < 1.6 || ratio > exp+0.15 {
		t.Fatalf("busiest node %.2f× the mean, want about %.2f× (at least 1.6)", ratio, exp)
	}
	if _, ok := hk["goal_met"]; ok {
		t.Fatalf("goal_met present with one copy: %v", hk["goal_met"])
	}
}

// TestScenarioHotkeyReplicas: with two copies of each key the client spreads
// the hot key's reads over both, and the busiest node serves at most 1.5
// times the mean node's reads (the goal of issue 21).
func TestScenarioHotkeyReplicas(t *testing.T) {
	_, hk := hotkeyRun(t, 2)
	var holders int
	for _, v := range hk["nodes"].([]any) {
		if v.(map[string]any)["holds_hot_key"] == true {
			holders++
		}
	}
	if holders < 2 {
		t.Fatalf("%d nodes hold the hot key, want 2", holders)
	}
	ratio := num(t, hk, "busiest_ratio")
	t.Logf("busiest node: %.2f× the mean with 2 replicas", ratio)
	if met, _ := hk["goal_met"].(bool); !met || ratio > 1.5 {
		t.Fatalf("busiest node %.2f× the mean with 2 replicas (goal_met %v), want at most 1.5×", ratio, hk["goal_met"])
	}
}
