package loadtest

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCLIContract runs the built binary with the flags documented in
// DESIGN.md and checks the files it writes, then redraws the report.
func TestCLIContract(t *testing.T) {
	exe := needExe(t)
	dir := t.TempDir()
	js, html := filepath.Join(dir, "herd.json"), filepath.Join(dir, "herd.html")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, "herd", "--nodes", "2", "--procs", "2", "--concurrency", "50",
		"--keys", "3", "--duration", "30s", "--origin-rps", "50", "--json", js, "--report", html)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("loadtest herd: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "origin ") || !strings.Contains(string(out), "report\t"+html) {
		t.Errorf("summary table missing from the output:\n%s", out)
	}
	var s Summary
	b, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	if s.Scenario != "herd" || s.Nodes != 2 || s.Procs != 2 || s.Concurrency != 50 || s.Keys != 3 ||
		s.Requests != 2*50*3 || s.OriginLimitRPS != 100 {
		t.Fatalf("summary does not reflect the flags: %+v", s)
	}
	if h, err := os.ReadFile(html); err != nil || !strings.Contains(string(h), "the herd cost") {
		t.Fatalf("report: %v", err)
	}
	again := filepath.Join(dir, "again.html")
	if out, err := exec.Command(exe, "render", js, again).CombinedOutput(); err != nil {
		t.Fatalf("loadtest render: %v\n%s", err, out)
	}
	if h, err := os.ReadFile(again); err != nil || !strings.Contains(string(h), "the herd cost") {
		t.Fatalf("rendered report: %v", err)
	}
	if out, err := exec.Command(exe, "nosuch").CombinedOutput(); err == nil || !strings.Contains(string(out), "unknown scenario") {
		t.Fatalf("unknown scenario: err %v, output %s", err, out)
	}
}
