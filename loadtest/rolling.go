package loadtest

import (
	"context"
	"fmt"

	"github.com/cachetier/cachetier/ring"
)

// RollFigures is what a rolling restart cost the origin, from the roll's
// start to the end of the run. A reload is an origin call for a key the
// origin had served before in the run: a value the tier had held and did
// not have at hand again. The keyspace outlives the run (TTL 5 min, no
// writes), so reloads are the roll's cost (the before phase, with no roll,
// has next to none: its OriginReloads shows them), and first loads (the cold
// tail of the Zipf keyspace, which a run without a roll loads too) are not.
// Each reload is attributed to its key's owner (the ring of the starting
// nodes): while the owner was restarting (from its "node N restarting" to
// its "node N back" event: the clients read the key from a failover owner,
// or failed to read the owner), after it was back (a client still had it
// marked down, or the restarted node did not have the key), or neither (a
// node other than the one restarting).
type RollFigures struct {
	// Snapshots says whether the nodes ran with snapshots.
	Snapshots bool `json:"snapshots"`
	// OriginCalls counts every origin call from the roll's start on.
	OriginCalls int64 `json:"origin_calls"`
	// Reloads counts the reloads among them: the roll's cost.
	Reloads int64 `json:"reloads"`
	// ReloadsOwnerRestarting, ReloadsOwnerBack and ReloadsOther split
	// Reloads by the state of the key's owner at the call.
	ReloadsOwnerRestarting int64 `json:"reloads_owner_restarting"`
	ReloadsOwnerBack       int64 `json:"reloads_owner_back"`
	ReloadsOther           int64 `json:"reloads_other"`
	// ReloadsByNode counts Reloads by the key's owner, in start order.
	ReloadsByNode []int64 `json:"reloads_by_node"`
	// ReloadsAfterBack splits ReloadsOwnerBack by time since their owner
	// was back: one bin per bound of rollAfterBackMS (up to 50 ms, 250 ms,
	// 1 s, 5 s), the last bin (UpToMS -1) beyond them.
	ReloadsAfterBack []HistBin `json:"reloads_after_back"`
	// Errors counts the requests that failed from the roll's start on.
	Errors int64 `json:"errors"`
}

// rollAfterBackMS are the bounds, in ms, of RollFigures.ReloadsAfterBack.
var rollAfterBackMS = []float64{50, 250, 1000, 5000}

// rollBounds returns, for each starting node, the times (ms since the
// start of the run) of its "node N restarting" and "node N back" events
// (-1 when absent).
func rollBounds(evs []Event, nodes int) (restart, back []float64) {
	restart, back = make([]float64, nodes), make([]float64, nodes)
	for i := range restart {
		restart[i], back[i] = -1, -1
	}
	for _, e := range evs {
		var i int
		var what string
		if n, _ := fmt.Sscanf(e.What, "node %d %s", &i, &what); n != 2 || i < 1 || i > nodes {
			continue
		}
		switch what {
		case "restarting":
			restart[i-1] = e.TMS
		case "back":
			back[i-1] = e.TMS
		}
	}
	return restart, back
}

// rollFigures computes the RollFigures of a rolling run from the origin's
// reloads (times relative to the origin's start) and the summary's events
// and phases.
func (r *run) rollFigures(s *Summary, reloads []Reload) *RollFigures {
	from := eventTime(s.Events, "roll started")
	if from < 0 {
		return nil
	}
	f := &RollFigures{Snapshots: r.cfg.Snapshots, ReloadsByNode: make([]int64, len(r.startAddrs))}
	for _, p := range s.Phases {
		if p.StartMS >= from {
			f.OriginCalls += p.OriginCalls
			f.Errors += p.Errors
		}
	}
	restart, back := rollBounds(s.Events, len(r.startAddrs))
	idx := make(map[string]int, len(r.startAddrs))
	for i, a := range r.startAddrs {
		idx[a] = i
	}
	rg := ring.New(r.startAddrs...)
	off := r.t0.Sub(r.origin.Start())
	f.ReloadsAfterBack = make([]HistBin, len(rollAfterBackMS)+1)
	for i, b := range rollAfterBackMS {
		f.ReloadsAfterBack[i].UpToMS = b
	}
	f.ReloadsAfterBack[len(rollAfterBackMS)].UpToMS = -1
	for _, rl := range reloads {
		t := ms(rl.At - off)
		if t < from {
			continue
		}
		f.Reloads++
		owner, _ := rg.Owner(rl.Key)
		i, ok := idx[owner]
		switch {
		case !ok:
			f.ReloadsOther++
		case restart[i] >= 0 && t >= restart[i] && (back[i] < 0 || t < back[i]):
			f.ReloadsOwnerRestarting++
		case back[i] >= 0 && t >= back[i]:
			f.ReloadsOwnerBack++
			j := 0
			for j < len(rollAfterBackMS) && t-back[i] > rollAfterBackMS[j] {
				j++
			}
			f.ReloadsAfterBack[j].Count++
		default:
			f.ReloadsOther++
		}
		if ok {
			f.ReloadsByNode[i]++
		}
	}
	return f
}

// runRollingWithBaseline runs the rolling scenario twice in one invocation:
// first the same roll without snapshots (the baseline), then the roll with
// them, and returns the second summary with the baseline's figures and the
// ratio of the two costs.
func runRollingWithBaseline(ctx context.Context, cfg Config) (*Summary, error) {
	bcfg := cfg
	bcfg.Snapshots, bcfg.NoBaseline = false, true
	fmt.Fprintln(cfg.Log, "loadtest: rolling: the baseline roll, without snapshots")
	base, err := Run(ctx, bcfg)
	if err != nil {
		return nil, fmt.Errorf("loadtest: rolling baseline: %w", err)
	}
	if base.Interrupted {
		return base, nil
	}
	fmt.Fprintln(cfg.Log, "loadtest: rolling: the roll with snapshots")
	cfg.NoBaseline = true
	s, err := Run(ctx, cfg)
	if err != nil {
		return nil, err
	}
	s.RollBaseline = base.Roll
	if s.Roll != nil && base.Roll != nil && base.Roll.Reloads > 0 {
		ratio := float64(s.Roll.Reloads) / float64(base.Roll.Reloads)
		s.RollCostRatio = &ratio
	}
	return s, nil
}

// rollLine is the text report's line for a roll's figures.
func rollLine(f *RollFigures) string {
	snap := "off"
	if f.Snapshots {
		snap = "on"
	}
	return fmt.Sprintf("snapshots %s: %d origin calls from the roll's start, %d of them reloads (owner restarting %d, owner back %d, other %d; by node %v)",
		snap, f.OriginCalls, f.Reloads, f.ReloadsOwnerRestarting, f.ReloadsOwnerBack, f.ReloadsOther, f.ReloadsByNode)
}
