package loadtest

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/cachetier/cachetier/ring"
)

func TestGetCalls(t *testing.T) {
	for _, tc := range []struct {
		name, info string
		want       int64
	}{
		{"cachenode", "# Commandstats\r\ncmdstat_set:calls=7,usec=3,usec_per_call=0.43,rejected_calls=0,failed_calls=0\r\n" +
			"cmdstat_get:calls=1234,usec=99,usec_per_call=0.08,rejected_calls=0,failed_calls=0\r\n", 1234},
		{"redis", "# Commandstats\r\ncmdstat_getex:calls=5,usec=1,usec_per_call=0.20,rejected_calls=0,failed_calls=0\r\n" +
			"cmdstat_get:calls=42,usec=10,usec_per_call=0.24,rejected_calls=0,failed_calls=0\r\ncmdstat_ping:calls=3,usec=0\r\n", 42},
		{"no GET yet", "# Commandstats\r\ncmdstat_ping:calls=3,usec=0,usec_per_call=0.00\r\n", 0},
	} {
		if got := getCalls(tc.info); got != tc.want {
			t.Errorf("%s: getCalls = %d, want %d", tc.name, got, tc.want)
		}
	}
}

// TestOneCopyShares: the shares add up to 1, the hot key's owner has the
// hot share plus its part of the rest, and with evenly placed keys the
// busiest ratio is about 1 + hot×(N-1).
func TestOneCopyShares(t *testing.T) {
	addrs := []string{"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"}
	rg := ring.New(addrs...)
	const keys, hot = 30000, 0.4
	sh := oneCopyShares(rg, addrs, "p:", keys, hot)
	owner, _ := rg.Owner("p:0")
	var sum, top float64
	for i, s := range sh {
		sum += s
		top = math.Max(top, s)
		if addrs[i] == owner && s < hot {
			t.Errorf("the hot key's owner has %.3f, less than the hot share", s)
		}
	}
	if math.Abs(sum-1) > 1e-9 {
		t.Fatalf("shares add up to %v", sum)
	}
	if r := top * 3; math.Abs(r-(1+hot*2)) > 0.05 {
		t.Fatalf("busiest ratio %.3f, want about %.2f", r, 1+hot*2)
	}
}

// TestHotkeyReport: the table and the report show the nodes' shares and
// the verdict against 1.5× with replicas.
func TestHotkeyReport(t *testing.T) {
	s := syntheticSummary()
	s.Scenario, s.Config.Replicas = "hotkey", 2
	met := false
	s.Hotkey = &HotkeyFigures{HotKey: "lt1:0", HotShare: 0.4, FromMS: 2500, ToMS: 10000, Reads: 3000, ClientReads: 3050,
		MeanReads: 1000, Busiest: "127.0.0.1:2", BusiestRatio: 1.8, ExpectedRatioOneCopy: 1.81, Goal: hotGoal, GoalMet: &met,
		HotKeyOriginCalls: 1, Nodes: []NodeReads{
			{Addr: "127.0.0.1:1", Reads: 600, Share: 0.2, Ratio: 0.6, HoldsHotKey: true},
			{Addr: "127.0.0.1:2", Reads: 1800, Share: 0.6, Ratio: 1.8, HoldsHotKey: true},
			{Addr: "127.0.0.1:3", Reads: 600, Share: 0.2, Ratio: 0.6}}}
	var tbl bytes.Buffer
	s.WriteTable(&tbl)
	for _, want := range []string{"1.80× the mean node", "goal ≤ 1.5×: NOT MET", "127.0.0.1:2  1800 GETs"} {
		if !strings.Contains(tbl.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, tbl.String())
		}
	}
	var b bytes.Buffer
	if err := s.WriteReport(&b); err != nil {
		t.Fatal(err)
	}
	html := b.String()
	if n := strings.Count(html, `<svg class="chart"`); n != 5 {
		t.Errorf("%d charts, want 5 (reads per node first)", n)
	}
	for _, want := range []string{"reads per node", "goal 1.5× the mean", "60.0%", "card bad", "1.80× the mean"} {
		if !strings.Contains(html, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

func TestHotkeyConfig(t *testing.T) {
	c := Config{Scenario: "hotkey"}
	if err := c.init(); err != nil {
		t.Fatal(err)
	}
	if c.HotShare != 0.4 || c.Client.L1Bytes >= 0 || c.Client.TTL != 5*time.Minute || c.Duration != 10*time.Second || c.Keys != 1000 {
		t.Fatalf("hotkey defaults: hot share %v, L1 bytes %d, TTL %v, duration %v, keys %d",
			c.HotShare, c.Client.L1Bytes, c.Client.TTL, c.Duration, c.Keys)
	}
	for _, bad := range []Config{
		{Scenario: "hotkey", HotShare: 1},
		{Scenario: "hotkey", HotShare: -0.1},
		{Scenario: "hotkey", Keys: 1},
		{Scenario: "hotkey", Client: ClientConfig{L1Bytes: 64 << 20}},
		{Scenario: "steady", HotShare: 0.5},
	} {
		if err := bad.init(); err == nil {
			t.Errorf("%s with hot share %v, keys %d, L1 bytes %d: no error", bad.Scenario, bad.HotShare, bad.Keys, bad.Client.L1Bytes)
		}
	}
}
