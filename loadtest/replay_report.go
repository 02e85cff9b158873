package loadtest

import (
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
)

// The replay's outputs: a table, a JSON document and an HTML report with,
// per trace, a chart of miss ratio against cache size (a line per target)
// and a table of the figures, resident memory included.

// WriteReplayTable writes the results as a plain-text table, one row per
// trace and cache size, a miss-ratio column per target.
func WriteReplayTable(w io.Writer, results []*ReplayResult) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	for _, r := range results {
		targets, sizes := replayAxes(r)
		fmt.Fprintf(tw, "trace %s: %d requests, %d objects (%s), first %.0f%% not counted, %s\n", r.Trace, r.Requests, r.Objects, humanSize(r.Bytes), 100*r.Warmup, paceText(r.Rate))
		fmt.Fprintf(tw, "maxmemory\t%s\t%s\n", strings.Join(targets, "\t"), strings.Join(prefixAll("rss ", targets), "\t"))
		for _, mm := range sizes {
			var ratios, rss []string
			for _, tg := range targets {
				if run, ok := r.run(tg, mm); ok {
					ratios = append(ratios, fmt.Sprintf("%.4f", run.MissRatio))
					rss = append(rss, humanSize(run.RSS))
				} else {
					ratios, rss = append(ratios, "-"), append(rss, "-")
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", humanSize(mm), strings.Join(ratios, "\t"), strings.Join(rss, "\t"))
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// WriteReplayJSON writes the results as a JSON array.
func WriteReplayJSON(w io.Writer, results []*ReplayResult) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(results)
}

func prefixAll(p string, s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = p + v
	}
	return out
}

// replayAxes returns the targets, in first-run order, and the cache sizes,
// ascending, of r.
func replayAxes(r *ReplayResult) (targets []string, sizes []int64) {
	for _, run := range r.Runs {
		if !slices.Contains(targets, run.Target) {
			targets = append(targets, run.Target)
		}
		if !slices.Contains(sizes, run.MaxMemory) {
			sizes = append(sizes, run.MaxMemory)
		}
	}
	slices.Sort(sizes)
	return targets, sizes
}

func (r *ReplayResult) run(target string, mm int64) (ReplayRun, bool) {
	for _, run := range r.Runs {
		if run.Target == target && run.MaxMemory == mm {
			return run, true
		}
	}
	return ReplayRun{}, false
}

var replayColors = []string{"#1f77b4", "#d62728", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b"}

// replayChart draws miss ratio against cache size for r: x on a log2
// scale of maxmemory, a line and dots per target.
func replayChart(r *ReplayResult) template.HTML {
	const w, h, l, rt, t, bt = 720, 300, 64, 200, 34, 40
	targets, sizes := replayAxes(r)
	ymax := 0.0
	for _, run := range r.Runs {
		ymax = math.Max(ymax, run.MissRatio)
	}
	ymax = math.Min(1, math.Ceil(ymax*1.1*20)/20)
	if ymax <= 0 {
		ymax = 1
	}
	lx := func(v int64) float64 { return math.Log2(float64(max(v, 1))) }
	x0, x1 := lx(sizes[0]), lx(sizes[len(sizes)-1])
	if x1 <= x0 {
		x0, x1 = x0-1, x1+1
	}
	pw, ph := float64(w-l-rt), float64(h-t-bt)
	X := func(v int64) float64 { return l + pw*(lx(v)-x0)/(x1-x0) }
	Y := func(y float64) float64 { return t + ph*(1-y/ymax) }
	var b strings.Builder
	title := "miss ratio vs cache size: " + r.Trace
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="%s">`, w, h, w, h, esc(title))
	fmt.Fprintf(&b, `<text x="%d" y="20" class="ct">%s</text>`, l, esc(title))
	for i := 0; i <= 5; i++ {
		y := ymax * float64(i) / 5
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" class="grid"/><text x="%d" y="%.1f" class="tick" text-anchor="end">%.2f</text>`,
			l, w-rt, Y(y), Y(y), l-6, Y(y)+4, y)
	}
	for _, s := range sizes {
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" class="tick" text-anchor="middle">%s</text>`, X(s), h-bt+16, esc(humanSize(s)))
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" class="tick" text-anchor="middle">maxmemory</text>`, l+int(pw/2), h-6)
	for i, tg := range targets {
		col := replayColors[i%len(replayColors)]
		var pts []string
		for _, s := range sizes {
			if run, ok := r.run(tg, s); ok {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", X(s), Y(run.MissRatio)))
				fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"><title>%s %s: %.4f</title></circle>`, X(s), Y(run.MissRatio), col, esc(tg), esc(humanSize(s)), run.MissRatio)
			}
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`, col, strings.Join(pts, " "))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="14" height="4" fill="%s"/><text x="%d" y="%d" class="tick">%s</text>`, w-rt+12, t+10+i*20, col, w-rt+32, t+15+i*20, esc(tg))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

var replayPage = template.Must(template.New("replay").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>cachetier trace replay</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222}
.chart{display:block;margin:8px 0 4px;max-width:100%;height:auto}
.ct{font-weight:600;font-size:14px}.tick{font-size:11px;fill:#555}.grid{stroke:#e5e5e5}
table{border-collapse:collapse;margin:4px 0 24px}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}th{background:#f5f5f5}
</style></head><body>
<h1>Trace replay: miss ratio by cache size</h1>
<p>Cache-aside (GET, SET on a miss, {{.Pipeline}} GETs per round trip), the same trace against each server at each <code>--maxmemory</code>, one server process at a time. Miss ratio over the requests after the first {{.Warmup}}. Replayed {{.Pace}}: redis-server's LRU clock ticks once a second and its LFU counters decay per minute, so its figures depend on the pace (<code>--rate</code>); the node's do not.</p>
{{range .Traces}}
<h2>{{.R.Trace}}</h2>
<p>{{.R.Requests}} requests, {{.R.Objects}} objects ({{.Bytes}}); run {{.R.Date}}.</p>
{{.Chart}}
<table><tr><th>maxmemory</th><th>target</th><th>miss ratio</th><th>vs best redis</th><th>RSS</th><th>used_memory</th><th>keys</th><th>evicted</th></tr>
{{range .Rows}}<tr><td>{{.Size}}</td><td style="text-align:left">{{.Run.Target}}</td><td>{{printf "%.4f" .Run.MissRatio}}</td><td>{{.Versus}}</td><td>{{.RSS}}</td><td>{{.Used}}</td><td>{{.Run.Keys}}</td><td>{{.Run.Evicted}}</td></tr>
{{end}}</table>
{{end}}
<script>document.body.dataset.rendered="1"</script>
</body></html>
`))

// WriteReplayReport writes the HTML report of one or more replays.
func WriteReplayReport(w io.Writer, results []*ReplayResult) error {
	type row struct {
		Size, RSS, Used, Versus string
		Run                     ReplayRun
	}
	type trace struct {
		R     *ReplayResult
		Bytes string
		Chart template.HTML
		Rows  []row
	}
	var d struct {
		Pipeline     int
		Warmup, Pace string
		Traces       []trace
	}
	for _, r := range results {
		if len(r.Runs) == 0 {
			continue
		}
		d.Pipeline, d.Warmup, d.Pace = r.Pipeline, fmt.Sprintf("%.0f%%", 100*r.Warmup), paceText(r.Rate)
		tr := trace{R: r, Bytes: humanSize(r.Bytes), Chart: replayChart(r)}
		targets, sizes := replayAxes(r)
		for _, s := range sizes {
			best := math.Inf(1)
			for _, tg := range targets {
				if run, ok := r.run(tg, s); ok && strings.HasPrefix(tg, "redis:") {
					best = math.Min(best, run.MissRatio)
				}
			}
			for _, tg := range targets {
				run, ok := r.run(tg, s)
				if !ok {
					continue
				}
				vs := "-"
				if !math.IsInf(best, 1) && best > 0 && !strings.HasPrefix(tg, "redis:") {
					vs = fmt.Sprintf("%+.1f%%", 100*(run.MissRatio/best-1))
				}
				tr.Rows = append(tr.Rows, row{Size: humanSize(s), RSS: humanSize(run.RSS), Used: humanSize(run.UsedMemory), Versus: vs, Run: run})
			}
		}
		d.Traces = append(d.Traces, tr)
	}
	return replayPage.Execute(w, d)
}

// paceText describes a replay's pace.
func paceText(rate float64) string {
	if rate <= 0 {
		return "unpaced (as fast as the server answers)"
	}
	return fmt.Sprintf("at %.0f requests/s", rate)
}
