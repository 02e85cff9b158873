package loadtest

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cachetier/cachetier/ring"
)

// TestRollFigures: reloads are counted from the roll's start and attributed
// to their key's owner and its state (restarting, back, neither); origin
// calls and errors add up over the phases from the roll's start.
func TestRollFigures(t *testing.T) {
	o, err := StartOrigin(OriginConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	addrs := []string{"127.0.0.1:1", "127.0.0.1:2"}
	rg := ring.New(addrs...)
	owned := map[string]string{} // a key owned by each node
	for i := 0; len(owned) < 2; i++ {
		k := fmt.Sprint("k", i)
		if a, _ := rg.Owner(k); owned[a] == "" {
			owned[a] = k
		}
	}
	k1, k2 := owned[addrs[0]], owned[addrs[1]]
	r := &run{cfg: Config{Scenario: "rolling", Snapshots: true}, origin: o, startAddrs: addrs, t0: o.Start().Add(time.Second)}
	s := &Summary{
		Events: []Event{{TMS: 0, What: "start"}, {TMS: 1000, What: "roll started"},
			{TMS: 1000, What: "node 1 restarting"}, {TMS: 1100, What: "node 1 back"},
			{TMS: 2000, What: "node 2 restarting"}, {TMS: 2050, What: "node 2 back"}, {TMS: 3000, What: "roll done"}},
		Phases: []Phase{{Name: "before", StartMS: 0, EndMS: 1000, OriginCalls: 5, Errors: 1},
			{Name: "roll", StartMS: 1000, EndMS: 3000, OriginCalls: 10, Errors: 2},
			{Name: "after", StartMS: 3000, EndMS: 4000, OriginCalls: 2}},
	}
	at := func(ms int) time.Duration { return time.Second + time.Duration(ms)*time.Millisecond } // since the origin's start
	reloads := []Reload{
		{At: at(500), Key: k1},  // before the roll: not counted
		{At: at(1050), Key: k1}, // owner restarting
		{At: at(1250), Key: k1}, // owner back 150 ms before
		{At: at(1500), Key: k2}, // owner not restarting yet
		{At: at(2010), Key: k2}, // owner restarting
	}
	f := r.rollFigures(s, reloads)
	got := *f
	got.ReloadsAfterBack = nil
	want := RollFigures{Snapshots: true, OriginCalls: 12, Reloads: 4, ReloadsOwnerRestarting: 2,
		ReloadsOwnerBack: 1, ReloadsOther: 1, ReloadsByNode: []int64{2, 2}, Errors: 2}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("rollFigures = %+v\nwant %+v", got, want)
	}
	if want := []HistBin{{50, 0}, {250, 1}, {1000, 0}, {5000, 0}, {-1, 0}}; !reflect.DeepEqual(f.ReloadsAfterBack, want) {
		t.Fatalf("reloads after back %+v, want %+v (one 150 ms after)", f.ReloadsAfterBack, want)
	}
	if r.rollFigures(&Summary{}, reloads) != nil {
		t.Fatal("figures for a run without a roll")
	}
}

// TestRollReport: the text table names both rolls' reloads and their ratio,
// and the HTML report's verdict holds the ratio against the goal.
func TestRollReport(t *testing.T) {
	for _, c := range []struct {
		with, without int64
		good          bool
	}{{4, 100, true}, {20, 100, false}} {
		s := &Summary{Scenario: "rolling",
			Roll:         &RollFigures{Snapshots: true, Reloads: c.with, ReloadsByNode: []int64{c.with}},
			RollBaseline: &RollFigures{Reloads: c.without, ReloadsByNode: []int64{c.without}},
		}
		ratio := float64(c.with) / float64(c.without)
		s.RollCostRatio = &ratio
		var tbl strings.Builder
		s.WriteTable(&tbl)
		for _, want := range []string{fmt.Sprintf("snapshots on: 0 origin calls from the roll's start, %d of them reloads", c.with),
			fmt.Sprintf("snapshots off: 0 origin calls from the roll's start, %d of them reloads", c.without),
			fmt.Sprintf("roll cost  %.3f×", ratio)} {
			if !strings.Contains(tbl.String(), want) {
				t.Errorf("table lacks %q:\n%s", want, tbl.String())
			}
		}
		_, verdicts := headline(s)
		var found bool
		for _, v := range verdicts {
			if v.Label == "roll cost with snapshots" {
				found = true
				if v.Good != c.good || v.Bad == c.good {
					t.Errorf("ratio %.2f: verdict %+v, want good=%v", ratio, v, c.good)
				}
			}
		}
		if !found {
			t.Errorf("no roll cost verdict in %+v", verdicts)
		}
	}
}
