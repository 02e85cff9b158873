package loadtest

import (
	"context"
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/cachetier/cachetier/ring"
)

// The hotkey scenario: one key (key 0) takes Config.HotShare of the reads,
// the others share the rest uniformly, L1 is off so that every read reaches
// the tier, and the nodes themselves count what they serve. With one copy
// of each key the hot key's owner serves its whole share; with replicas a
// client can spread the hot key's reads over the nodes that hold it.

// hotGoal is the hotkey goal with replicas: the busiest node serves at most
// this many times the mean of the nodes' reads.
const hotGoal = 1.5

// hotWarmFrac is the part of the run, from the start, that the hotkey
// measurement leaves out (the sweep that loads every key, the first loads).
const hotWarmFrac = 0.25

// HotkeyFigures (hotkey) are the nodes' reads, counted on the nodes: each
// node's GET calls (INFO commandstats, cmdstat_get; cachenode and
// redis-server alike) from the end of the warm-up to the end of the run.
// Against a running tier (Config.Addrs) they include any other client's
// reads.
type HotkeyFigures struct {
	// HotKey is the hot key; HotShare the fraction of reads sent to it.
	HotKey   string  `json:"hot_key"`
	HotShare float64 `json:"hot_share"`
	// FromMS and ToMS bound the measurement, in ms since the start.
	FromMS float64 `json:"from_ms"`
	ToMS   float64 `json:"to_ms"`
	// ColdKeys counts the run's keys the origin had not yet served when the
	// measurement began (0: every key was warm; their first loads add
	// reads of the lease path to their nodes).
	ColdKeys int `json:"cold_keys"`
	// Reads is the nodes' reads summed; ClientReads the keys the client
	// processes read in the same window (their reporting intervals from
	// the mark on). Each L2 hit is at most one node read (a process's
	// concurrent reads of one key share one); a miss adds the lease's
	// reads.
	Reads       int64 `json:"reads"`
	ClientReads int64 `json:"client_reads"`
	// Nodes has one entry per node, in the order of the tier's addresses.
	Nodes []NodeReads `json:"nodes"`
	// MeanReads is Reads over the number of nodes.
	MeanReads float64 `json:"mean_reads"`
	// Busiest is the address of the node with the most reads;
	// BusiestRatio its reads over MeanReads (1: perfectly even).
	Busiest      string  `json:"busiest"`
	BusiestRatio float64 `json:"busiest_ratio"`
	// ExpectedRatioOneCopy is the busiest node's ratio with one copy of
	// each key, from the run's placement (the hot key's owner serves
	// HotShare, each node its keys' part of the rest): about
	// 1 + HotShare×(N−1). Local tiers only (0 against Config.Addrs).
	ExpectedRatioOneCopy float64 `json:"expected_ratio_one_copy,omitempty"`
	// Goal is the most BusiestRatio may be with replicas (1.5); GoalMet
	// says whether it is met, set only when the clients kept 2 or more
	// copies of each key (--replicas).
	Goal    float64 `json:"goal"`
	GoalMet *bool   `json:"goal_met,omitempty"`
	// HotKeyOriginCalls counts the origin's calls for the hot key over the
	// whole run (1: it was loaded once).
	HotKeyOriginCalls int64 `json:"hot_key_origin_calls"`
}

// NodeReads is one node's part of HotkeyFigures.
type NodeReads struct {
	// Addr is the node's address.
	Addr string `json:"addr"`
	// Reads counts the GET calls the node served in the measurement.
	Reads int64 `json:"reads"`
	// Share is Reads over all nodes' reads; Ratio Reads over their mean.
	Share float64 `json:"share"`
	Ratio float64 `json:"ratio"`
	// HoldsHotKey says the node held the hot key at the end of the run.
	HoldsHotKey bool `json:"holds_hot_key"`
	// ExpectedShareOneCopy is the node's share with one copy of each key,
	// from the run's placement (local tiers only).
	ExpectedShareOneCopy float64 `json:"expected_share_one_copy,omitempty"`
}

// hotState is what the hotkey scenario records when the measurement begins.
type hotState struct {
	at   time.Duration // since t0
	gets []int64       // per node of startAddrs
	cold int
}

// hotSteps returns the hotkey scenario's step: the measurement begins at
// the first interval boundary after hotWarmFrac of the run, so that the
// client processes' intervals and the nodes' counts cover the same time.
// It connects to the nodes now, so that the mark takes no dial.
func (r *run) hotSteps() []step {
	r.hotNodes = hotClients(r.startAddrs)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, c := range r.hotNodes {
		_ = c.Ping(ctx).Err() // a failure shows at the mark
	}
	iv, d := r.cfg.Interval, r.cfg.Duration
	at := max(iv, (time.Duration(float64(d)*hotWarmFrac)+iv-1)/iv*iv)
	return []step{{float64(at) / float64(d), "measuring", r.hotMark}}
}

// hotKey is the run's hot key.
func (r *run) hotKey() string { return r.prefix + "0" }

// hotClients returns one small client per starting node, for INFO and
// EXISTS (made once, closed by run.cleanup).
func hotClients(addrs []string) []*redis.Client {
	out := make([]*redis.Client, len(addrs))
	for i, a := range addrs {
		out[i] = redis.NewClient(&redis.Options{Addr: a, MaxRetries: -1, PoolSize: 1,
			DialTimeout: 2 * time.Second, ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second,
			DisableIdentity:          true,
			MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}})
	}
	return out
}

// nodeGets returns the GET calls every node has served (INFO
// commandstats), asked of all nodes at once.
func nodeGets(ctx context.Context, nodes []*redis.Client) ([]int64, error) {
	gets := make([]int64, len(nodes))
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, c := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			info, err := c.Info(ctx, "commandstats").Result()
			if err != nil {
				errs[i] = fmt.Errorf("node %s: INFO commandstats: %w", c.Options().Addr, err)
				return
			}
			gets[i] = getCalls(info)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return gets, nil
}

// getCalls returns the calls of cmdstat_get in an INFO commandstats reply
// (0 when the node has served no GET).
func getCalls(info string) int64 {
	for _, line := range strings.Split(info, "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_get:")
		if !ok {
			continue
		}
		for _, f := range strings.Split(rest, ",") {
			if v, ok := strings.CutPrefix(f, "calls="); ok {
				n, _ := strconv.ParseInt(v, 10, 64)
				return n
			}
		}
	}
	return 0
}

// hotMark begins the measurement: the nodes' GET counts now, and how many of
// the run's keys are still cold.
func (r *run) hotMark() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	at := time.Since(r.t0)
	gets, err := nodeGets(ctx, r.hotNodes)
	if err != nil {
		return err
	}
	cold := r.cfg.Keys - r.origin.Stats().Keys
	r.mu.Lock()
	r.hot = &hotState{at: at, gets: gets, cold: max(cold, 0)}
	r.mu.Unlock()
	return nil
}

// hotFigures ends the measurement after the clients stopped and computes
// the HotkeyFigures (all but ClientReads, which summarize fills).
func (r *run) hotFigures() {
	r.mu.Lock()
	hs := r.hot
	r.mu.Unlock()
	if hs == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	to := time.Since(r.t0)
	gets, err := nodeGets(ctx, r.hotNodes)
	if err != nil {
		r.noteErr("hotkey: " + err.Error())
		return
	}
	key := r.hotKey()
	f := &HotkeyFigures{HotKey: key, HotShare: r.cfg.HotShare, FromMS: ms(hs.at), ToMS: ms(to), ColdKeys: hs.cold,
		Goal: hotGoal, HotKeyOriginCalls: r.origin.CallsPerKey()[key]}
	for i, a := range r.startAddrs {
		n := gets[i] - hs.gets[i]
		if n < 0 {
			r.noteErr(fmt.Sprintf("hotkey: node %s: GET count went down (CONFIG RESETSTAT or a restart?)", a))
			return
		}
		holds, err := r.hotNodes[i].Exists(ctx, key).Result()
		if err != nil {
			r.noteErr(fmt.Sprintf("hotkey: node %s: EXISTS: %v", a, err))
		}
		f.Nodes = append(f.Nodes, NodeReads{Addr: a, Reads: n, HoldsHotKey: holds == 1})
		f.Reads += n
	}
	if r.tier != nil {
		// As the clients place keys on a local tier (nodes without slots:
		// by order), as nodekill does.
		exp := oneCopyShares(ring.New(r.startAddrs...), r.startAddrs, r.prefix, r.cfg.Keys, r.cfg.HotShare)
		for i := range f.Nodes {
			f.Nodes[i].ExpectedShareOneCopy = exp[i]
			f.ExpectedRatioOneCopy = math.Max(f.ExpectedRatioOneCopy, exp[i]*float64(len(exp)))
		}
	}
	f.MeanReads = float64(f.Reads) / float64(max(len(f.Nodes), 1))
	for i := range f.Nodes {
		nd := &f.Nodes[i]
		if f.Reads > 0 {
			nd.Share = float64(nd.Reads) / float64(f.Reads)
			nd.Ratio = float64(nd.Reads) / f.MeanReads
		}
		if nd.Ratio > f.BusiestRatio || f.Busiest == "" {
			f.Busiest, f.BusiestRatio = nd.Addr, nd.Ratio
		}
	}
	if reps := max(r.cfg.Client.Replicas, 1); reps >= 2 {
		met := f.BusiestRatio <= hotGoal
		f.GoalMet = &met
	}
	r.mu.Lock()
	r.hotFig = f
	r.mu.Unlock()
}

// oneCopyShares returns each node's expected share of the reads with one
// copy of each key placed by rg: the hot key's (key 0) owner gets hot, and
// each node its part of the other keys' uniform 1-hot.
func oneCopyShares(rg *ring.Ring, addrs []string, prefix string, keys int, hot float64) []float64 {
	out := make([]float64, len(addrs))
	idx := make(map[string]int, len(addrs))
	for i, a := range addrs {
		idx[a] = i
	}
	for k := 0; k < keys; k++ {
		o, ok := rg.Owner(prefix + strconv.Itoa(k))
		if !ok {
			continue
		}
		if k == 0 {
			out[idx[o]] += hot
		} else {
			out[idx[o]] += (1 - hot) / float64(keys-1)
		}
	}
	return out
}

// noteErr adds msg to the run's error sample.
func (r *run) noteErr(msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.errs) < 8 {
		r.errs = append(r.errs, msg)
	}
}

// tableLines returns the hotkey figures' lines of WriteTable.
func (f *HotkeyFigures) tableLines(s *Summary) []string {
	var b strings.Builder
	lines := []string{fmt.Sprintf("hot key\t%s takes %.0f%% of reads (L1 off, %d replicas); loaded %d times by the origin; %d keys cold when measuring began",
		f.HotKey, 100*f.HotShare, s.Config.Replicas, f.HotKeyOriginCalls, f.ColdKeys)}
	for _, n := range f.Nodes {
		b.Reset()
		fmt.Fprintf(&b, "node\t%s  %d GETs  %5.1f%%  %.2f× the mean", n.Addr, n.Reads, 100*n.Share, n.Ratio)
		if n.ExpectedShareOneCopy > 0 {
			fmt.Fprintf(&b, "  (one copy: %.1f%%)", 100*n.ExpectedShareOneCopy)
		}
		if n.HoldsHotKey {
			b.WriteString("  holds the hot key")
		}
		lines = append(lines, b.String())
	}
	b.Reset()
	fmt.Fprintf(&b, "busiest\t%.2f× the mean node (%d GETs on the nodes, %d reads by the clients, %.1fs from %.1fs)",
		f.BusiestRatio, f.Reads, f.ClientReads, (f.ToMS-f.FromMS)/1000, f.FromMS/1000)
	if f.ExpectedRatioOneCopy > 0 {
		fmt.Fprintf(&b, "; one copy: %.2f×", f.ExpectedRatioOneCopy)
	}
	switch {
	case f.GoalMet == nil:
		fmt.Fprintf(&b, "; goal ≤ %.1f× with --replicas 2 or more", f.Goal)
	case *f.GoalMet:
		fmt.Fprintf(&b, "; goal ≤ %.1f×: met", f.Goal)
	default:
		fmt.Fprintf(&b, "; goal ≤ %.1f×: NOT MET", f.Goal)
	}
	return append(lines, b.String())
}

// hotChart draws the nodes' shares of the reads as horizontal bars, with
// the mean and the goal (1.5× the mean) marked.
func hotChart(f *HotkeyFigures) template.HTML {
	var b strings.Builder
	n := len(f.Nodes)
	rowH := 40.0
	h := int(60 + rowH*float64(n) + 30)
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="reads per node">`, chW, h, chW, h)
	fmt.Fprintf(&b, `<text x="%d" y="20" class="ct">reads per node, counted on the nodes (GET calls from %.1fs to %.1fs)</text>`,
		padL, f.FromMS/1000, f.ToMS/1000)
	x0, pw := 260.0, float64(chW-padR)-260-330
	xn := x0 + pw + 24 // the figures' column, right of the bars
	top := 0.0
	for _, nd := range f.Nodes {
		top = math.Max(top, nd.Share)
	}
	mean := 1 / float64(max(n, 1))
	top = math.Max(math.Max(top, mean*hotGoal), 1e-9) * 1.05
	X := func(share float64) float64 { return x0 + pw*share/top }
	y0 := 40.0
	for i, nd := range f.Nodes {
		y := y0 + float64(i)*rowH
		color := "#1971c2"
		if nd.HoldsHotKey {
			color = "#d9480f"
		}
		label := nd.Addr
		if nd.HoldsHotKey {
			label += " (holds the hot key)"
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" class="yt">%s</text>`, x0-10, y+19, esc(label))
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="26" fill="%s"><title>%d GETs</title></rect>`,
			x0, y, math.Max(X(nd.Share)-x0, 2), color, nd.Reads)
		note := fmt.Sprintf("%.1f%%  %.2f× the mean", 100*nd.Share, nd.Ratio)
		if nd.ExpectedShareOneCopy > 0 {
			note += fmt.Sprintf("  (one copy: %.1f%%)", 100*nd.ExpectedShareOneCopy)
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" class="lg">%s</text>`, xn, y+18, esc(note))
	}
	yb := y0 + rowH*float64(n)
	for _, m := range []struct {
		share float64
		label string
		color string
	}{{mean, "mean", "#495057"}, {mean * hotGoal, fmt.Sprintf("goal %.1f× the mean", hotGoal), "#2b8a3e"}} {
		x := X(m.share)
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="%s" class="ref"/><text x="%.1f" y="%.1f" class="rl" fill="%s" style="text-anchor:middle">%s</text>`,
			x, x, y0-6, yb, m.color, x, yb+16, m.color, esc(m.label))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
