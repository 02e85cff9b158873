package loadtest

import (
	"bytes"
	"context"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// syntheticSummary is a tierdown-shaped summary for report tests that do
// not need a real run.
func syntheticSummary() *Summary {
	s := &Summary{Scenario: "tierdown", Nodes: 3, Procs: 2, Concurrency: 32, Keys: 1000, DurationMS: 10000,
		OriginLimitRPS: 200, OriginBurst: 20, OriginPeakRPS: 190, Requests: 20000, Shed: 300, StaleServed: 120,
		Config: RunConfig{Rate: 1000, IntervalMS: 500, OriginLatency: 20, TTLMS: 5000}}
	s.Events = []Event{{0, "start"}, {2500, "node 1 killed"}, {4500, "all nodes killed"}, {7000, "nodes restarting"}, {7300, "nodes back"}, {10000, "stop"}}
	for i := 0; i < 20; i++ {
		t := float64(i) * 500
		p := Point{TMS: t, Requests: 1000, L1Hits: 800, L2Hits: 150, P50MS: 0.05, P99MS: 2 + float64(i%3), NodesUp: 3}
		if t >= 4500 && t < 7000 {
			p.L2Hits, p.Shed, p.StaleServed, p.P99MS, p.NodesUp = 0, 60, 20, 40, 0
		}
		s.Series = append(s.Series, p)
	}
	for i := 1; i <= 100; i++ {
		s.OriginRate = append(s.OriginRate, RatePt{TMS: float64(i) * 100, RPS: 100 + 80*math.Sin(float64(i)/10)})
	}
	s.Phases = []Phase{{Name: "healthy", EndMS: 2500}, {Name: "one node down", StartMS: 2500, EndMS: 4500},
		{Name: "tier down", StartMS: 4500, EndMS: 7300}, {Name: "recovered", StartMS: 7300, EndMS: 10000}}
	return s
}

func TestReportIsSelfContained(t *testing.T) {
	var b bytes.Buffer
	if err := syntheticSummary().WriteReport(&b); err != nil {
		t.Fatal(err)
	}
	html := b.String()
	if n := strings.Count(html, `<svg class="chart"`); n != 4 {
		t.Fatalf("%d charts, want 4", n)
	}
	for _, bad := range []string{"http://", "https://", "<link", "src="} {
		if strings.Contains(html, bad) {
			t.Errorf("report refers to something outside itself: contains %q", bad)
		}
	}
	for _, want := range []string{"node 1 killed", "limit 200/s", "tier down", "190/s / 200/s", "within the limit"} {
		if !strings.Contains(html, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

// chromium renders a page headless, returning its DOM after scripts ran and
// the browser's stderr; it takes a screenshot to png when png != "".
func chromium(t *testing.T, page, png string) (dom, logs string) {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium not installed (Debian: apt-get install chromium); skipping the headless rendering check")
	}
	args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir(), "--enable-logging=stderr", "--v=0", "--dump-dom",
		"--window-size=1400,2000"}
	if png != "" {
		args = append(args, "--screenshot="+png)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append(args, "file://"+page)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, errb.String())
	}
	return out.String(), errb.String()
}

var consoleLine = regexp.MustCompile(`(?m)^.*:CONSOLE[:(].*$`)

func TestReportRendersInChromium(t *testing.T) {
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	f, err := os.Create(page)
	if err != nil {
		t.Fatal(err)
	}
	if err := syntheticSummary().WriteReport(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	shot := filepath.Join(dir, "report.png")
	dom, logs := chromium(t, page, shot)
	if !strings.Contains(dom, `data-report="rendered:4"`) {
		t.Errorf("the page's script did not mark 4 rendered charts; DOM starts %.300q", dom)
	}
	if m := consoleLine.FindAllString(logs, -1); len(m) > 0 {
		t.Errorf("console output while rendering the report (it logs nothing when healthy):\n%s", strings.Join(m, "\n"))
	}
	pf, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer pf.Close()
	img, err := png.Decode(pf)
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 1000 || b.Dy() < 1000 {
		t.Fatalf("screenshot is %v", b)
	}
}

// The console check above must be able to fail: a page with a script error
// is caught.
func TestChromiumCheckCatchesScriptErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	page := filepath.Join(t.TempDir(), "bad.html")
	if err := os.WriteFile(page, []byte(`<!DOCTYPE html><html><body><script>noSuchFunction();</script></body></html>`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, logs := chromium(t, page, "")
	if m := consoleLine.FindAllString(logs, -1); len(m) == 0 || !strings.Contains(strings.Join(m, ""), "noSuchFunction") {
		t.Fatalf("a script error went unnoticed; chromium stderr:\n%s", logs)
	}
}
