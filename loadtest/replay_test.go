package loadtest

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestReplayShort replays a small trace file against the node (two
// policies) and redis-server at two cache sizes, and checks the figures and
// the outputs.
func TestReplayShort(t *testing.T) {
	exe := needExe(t)
	targets := []string{"node:allkeys-tinylfu", "node:allkeys-lru"}
	if _, err := exec.LookPath("redis-server"); err == nil {
		targets = append(targets, "redis:allkeys-lru")
	} else {
		t.Log("redis-server not installed: node targets only")
	}
	reqs, err := GenerateTrace("scan", 30_000, 8_000, 0.9, 0, 3)
	if err != nil {
		t.Fatal(err)
	}
	for i := range reqs { // oracleGeneral records carry sizes; 0 would be skipped
		reqs[i].Size = uint32(300 + reqs[i].ID%700)
	}
	path := filepath.Join(t.TempDir(), "trace.bin")
	if err := os.WriteFile(path, AppendOracleGeneral(nil, reqs), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := Replay(ctx, ReplayConfig{Trace: path, Format: "oracle", MaxMemory: []string{"2mb", "4mb"},
		Targets: targets, Exe: exe})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Runs) != 2*len(targets) || res.Requests != len(reqs) {
		t.Fatalf("%d runs of %d requests", len(res.Runs), res.Requests)
	}
	for _, r := range res.Runs {
		if r.MissRatio <= 0 || r.MissRatio >= 1 || r.Evicted == 0 || r.RSS <= 0 || r.Keys <= 0 {
			t.Fatalf("implausible run: %+v", r)
		}
		if r.UsedMemory > r.MaxMemory*11/10 {
			t.Fatalf("%s used %d of maxmemory %d", r.Target, r.UsedMemory, r.MaxMemory)
		}
	}
	for _, tg := range targets { // a bigger cache misses less
		small, _ := res.run(tg, 2<<20)
		big, _ := res.run(tg, 4<<20)
		if big.MissRatio >= small.MissRatio {
			t.Fatalf("%s: miss ratio %.4f at 4mb, %.4f at 2mb", tg, big.MissRatio, small.MissRatio)
		}
	}
	var html, table bytes.Buffer
	if err := WriteReplayReport(&html, []*ReplayResult{res}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(html.String(), "<polyline") || !strings.Contains(html.String(), "node:allkeys-tinylfu") {
		t.Fatal("report has no chart")
	}
	if err := WriteReplayTable(&table, []*ReplayResult{res}); err != nil || !strings.Contains(table.String(), "2.0 MiB") {
		t.Fatalf("table: %v\n%s", err, table.String())
	}
	if _, err := Replay(ctx, ReplayConfig{Trace: "nope", Exe: exe}); err == nil {
		t.Fatal("missing trace file accepted")
	}
	if _, err := Replay(ctx, ReplayConfig{Targets: []string{"memcached:lru"}, Exe: exe}); err == nil {
		t.Fatal("bad target accepted")
	}
}

// TestReplayNodeBin: with NodeBin the node targets run that binary, not
// the built-in node. redis-server stands in for a cachenode build here: it
// refuses cachenode's own policy, which the built-in node accepts.
func TestReplayNodeBin(t *testing.T) {
	exe := needExe(t)
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := ReplayConfig{Trace: "zipf", Requests: 2000, Keys: 1000, MaxMemory: []string{"2mb"},
		Targets: []string{"node:allkeys-tinylfu"}, Exe: exe, NodeBin: bin}
	if _, err := Replay(ctx, cfg); err == nil || !strings.Contains(err.Error(), "node:allkeys-tinylfu") {
		t.Fatalf("redis-server as the node accepted allkeys-tinylfu (err %v): NodeBin not used", err)
	}
	cfg.Targets = []string{"node:allkeys-lru"}
	res, err := Replay(ctx, cfg)
	if err != nil || len(res.Runs) != 1 || res.Runs[0].Keys <= 0 {
		t.Fatalf("redis-server as the node, allkeys-lru: %v", err)
	}
}

// TestReplayRate: a paced replay takes at least its requests over the rate
// (a batch waits for its first request's turn), and a bad rate is refused.
func TestReplayRate(t *testing.T) {
	exe := needExe(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := ReplayConfig{Trace: "zipf", Requests: 4000, Keys: 1000, MaxMemory: []string{"2mb"},
		Targets: []string{"node:allkeys-lru"}, Exe: exe, Pipeline: 100, Rate: 10_000}
	res, err := Replay(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// The last batch starts at request 3900: 0.39 s after the start.
	if len(res.Runs) != 1 || res.Runs[0].Seconds < 0.39 || res.Rate != 10_000 {
		t.Fatalf("paced at 10,000/s: %+v, rate %v; want at least 0.39 s", res.Runs, res.Rate)
	}
	var table, html bytes.Buffer
	if err := WriteReplayTable(&table, []*ReplayResult{res}); err != nil || !strings.Contains(table.String(), "at 10000 requests/s") {
		t.Fatalf("table lacks the pace: %v\n%s", err, table.String())
	}
	if err := WriteReplayReport(&html, []*ReplayResult{res}); err != nil || !strings.Contains(html.String(), "at 10000 requests/s") {
		t.Fatalf("report lacks the pace: %v", err)
	}
	cfg.Rate = -1
	if _, err := Replay(ctx, cfg); err == nil || !strings.Contains(err.Error(), "rate") {
		t.Fatalf("rate -1: %v", err)
	}
}
