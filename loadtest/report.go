package loadtest

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"
)

// The HTML report is one self-contained file: inline CSS and SVG charts
// drawn here in Go, and a few lines of inline script that only mark the page
// as rendered (tests read the marker). No network, no external assets.

type chartSeries struct {
	name  string
	color string
	xs    []float64 // seconds since start
	ys    []float64
	dash  bool
	area  bool
}

type hline struct {
	y     float64
	label string
	color string
}

type chart struct {
	title  string
	unit   string
	xmax   float64
	ymax   float64 // 0: from the data
	logY   bool
	pct    bool
	series []chartSeries
	hlines []hline
}

const (
	chW, chH               = 1280, 250
	padL, padR, padT, padB = 64, 24, 34, 34
)

// niceStep returns a round step giving about n ticks over span.
func niceStep(span float64, n int) float64 {
	if span <= 0 {
		return 1
	}
	raw := span / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if raw <= m*mag {
			return m * mag
		}
	}
	return 10 * mag
}

func fmtNum(v float64) string {
	switch {
	case v == 0:
		return "0"
	case math.Abs(v) >= 1e6:
		return fmt.Sprintf("%.3gM", v/1e6)
	case math.Abs(v) >= 1e4:
		return fmt.Sprintf("%.3gk", v/1e3)
	case math.Abs(v) >= 10 || v == math.Trunc(v):
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 1:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2g", v)
	}
}

func esc(s string) string { return template.HTMLEscapeString(s) }

// svg draws the chart with the run's phases shaded and events marked.
func (c *chart) svg(s *Summary) template.HTML {
	var b strings.Builder
	pw, ph := float64(chW-padL-padR), float64(chH-padT-padB)
	ymax := c.ymax
	ymin := 0.0
	if ymax == 0 {
		for _, se := range c.series {
			for _, y := range se.ys {
				ymax = math.Max(ymax, y)
			}
		}
		for _, h := range c.hlines {
			ymax = math.Max(ymax, h.y)
		}
		ymax *= 1.1
	}
	if c.logY {
		ymin = math.Inf(1)
		for _, se := range c.series {
			for _, y := range se.ys {
				if y > 0 {
					ymin = math.Min(ymin, y)
				}
			}
		}
		if math.IsInf(ymin, 1) {
			ymin = 0.1
		}
		ymin = math.Pow(10, math.Floor(math.Log10(ymin)))
		ymax = math.Pow(10, math.Ceil(math.Log10(math.Max(ymax, ymin*10))))
	}
	if ymax <= ymin {
		ymax = ymin + 1
	}
	xmax := math.Max(c.xmax, 0.001)
	X := func(x float64) float64 { return padL + pw*x/xmax }
	Y := func(y float64) float64 {
		if c.logY {
			y = math.Max(y, ymin)
			return padT + ph*(1-(math.Log10(y)-math.Log10(ymin))/(math.Log10(ymax)-math.Log10(ymin)))
		}
		return padT + ph*(1-(y-ymin)/(ymax-ymin))
	}
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="%s">`, chW, chH, chW, chH, esc(c.title))
	fmt.Fprintf(&b, `<text x="%d" y="20" class="ct">%s</text>`, padL, esc(c.title))
	// Phase bands.
	for _, p := range s.Phases {
		class := ""
		switch {
		case strings.Contains(p.Name, "down"):
			class = "band-bad"
		case p.Name == "after join" || p.Name == "origin back" || p.Name == "recovered":
			class = "band-after"
		}
		if class != "" {
			fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%.1f" class="%s"><title>%s</title></rect>`,
				X(p.StartMS/1000), padT, math.Max(0, X(math.Min(p.EndMS/1000, xmax))-X(p.StartMS/1000)), ph, class, esc(p.Name))
		}
	}
	// Grid and y ticks.
	if c.logY {
		for v := ymin; v <= ymax*1.0001; v *= 10 {
			fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" class="grid"/><text x="%d" y="%.1f" class="yt">%s%s</text>`,
				padL, chW-padR, Y(v), Y(v), padL-6, Y(v)+4, fmtNum(v), esc(c.unit))
		}
	} else {
		step := niceStep(ymax-ymin, 4)
		for v := ymin; v <= ymax+step/1e6; v += step {
			label := fmtNum(v) + c.unit
			if c.pct {
				label = fmt.Sprintf("%.0f%%", v*100)
			}
			fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" class="grid"/><text x="%d" y="%.1f" class="yt">%s</text>`,
				padL, chW-padR, Y(v), Y(v), padL-6, Y(v)+4, esc(label))
		}
	}
	// X ticks (seconds).
	xs := niceStep(xmax, 10)
	for v := 0.0; v <= xmax+xs/1e6; v += xs {
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" class="xt">%ss</text>`, X(v), chH-padB+16, fmtNum(v))
	}
	fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" class="axis"/>`, padL, chW-padR, Y(ymin), Y(ymin))
	// Horizontal reference lines (limits).
	for _, h := range c.hlines {
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="%s" class="ref"/><text x="%d" y="%.1f" class="rl" fill="%s">%s</text>`,
			padL, chW-padR, Y(h.y), Y(h.y), h.color, chW-padR-4, Y(h.y)-5, h.color, esc(h.label))
	}
	// Series.
	for _, se := range c.series {
		if len(se.xs) == 0 {
			continue
		}
		var pts strings.Builder
		for i := range se.xs {
			fmt.Fprintf(&pts, "%.1f,%.1f ", X(se.xs[i]), Y(se.ys[i]))
		}
		if se.area {
			fmt.Fprintf(&b, `<polygon points="%.1f,%.1f %s%.1f,%.1f" fill="%s" fill-opacity="0.15" stroke="none"/>`,
				X(se.xs[0]), Y(ymin), pts.String(), X(se.xs[len(se.xs)-1]), Y(ymin), se.color)
		}
		dash := ""
		if se.dash {
			dash = ` stroke-dasharray="6 4"`
		}
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"%s><title>%s</title></polyline>`, pts.String(), se.color, dash, esc(se.name))
		if len(se.xs) == 1 {
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="4" fill="%s"/>`, X(se.xs[0]), Y(se.ys[0]), se.color)
		}
	}
	// Events.
	k := 0
	for _, e := range s.Events {
		if e.What == "start" || e.What == "stop" {
			continue
		}
		k++
		x := X(e.TMS / 1000)
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%.1f" class="ev"/><text x="%.1f" y="%d" class="el">%s</text>`,
			x, x, padT-4, Y(ymin), x+4, padT+10+13*((k-1)%3), esc(e.What))
	}
	// Legend, right-aligned above the plot.
	lw := 0.0
	for _, se := range c.series {
		lw += 30 + 7*float64(len(se.name))
	}
	lx := float64(chW-padR) - lw
	for _, se := range c.series {
		fmt.Fprintf(&b, `<rect x="%.1f" y="11" width="14" height="4" fill="%s"/><text x="%.1f" y="18" class="lg">%s</text>`, lx, se.color, lx+18, esc(se.name))
		lx += 30 + 7*float64(len(se.name))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// rollGoal is the most a roll with snapshots may cost the origin, as a
// fraction of what the same roll costs without them (reloads).
const rollGoal = 0.10

// moveGoal is the scaleout goal: the warm moved keys read after the join
// that the origin loads again, as a fraction of them (warm-up reads).
const moveGoal = 0.05

// onOff names a switch's state.
func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}

// card is a headline figure at the top of the report.
type card struct {
	Label, Value, Note string
	Good, Bad          bool
}

type reportData struct {
	S        *Summary
	Title    string
	Verdicts []card
	Cards    []card
	Charts   []template.HTML
	Fields   [][2]string
}

func writeReport(w io.Writer, s *Summary) error {
	d := reportData{S: s, Title: "cachetier loadtest: " + s.Scenario}
	d.Cards, d.Verdicts = headline(s)
	if s.Scenario == "herd" {
		d.Charts = herdCharts(s)
	} else {
		d.Charts = charts(s)
	}
	if s.Hotkey != nil && len(s.Hotkey.Nodes) > 0 {
		d.Charts = append([]template.HTML{hotChart(s.Hotkey)}, d.Charts...)
	}
	d.Fields = [][2]string{
		{"requests", fmt.Sprint(s.Requests)}, {"errors", fmt.Sprint(s.Errors)}, {"shed", fmt.Sprint(s.Shed)},
		{"stale_served", fmt.Sprint(s.StaleServed)}, {"l1_hits", fmt.Sprint(s.L1Hits)}, {"l2_hits", fmt.Sprint(s.L2Hits)},
		{"coalesced", fmt.Sprint(s.Coalesced)}, {"origin_calls", fmt.Sprint(s.OriginCalls)},
		{"origin_peak_rps", fmt.Sprintf("%.1f", s.OriginPeakRPS)}, {"origin_limit_rps", fmt.Sprintf("%.1f", s.OriginLimitRPS)},
		{"origin_peak_concurrency", fmt.Sprint(s.OriginPeakConcurrency)},
		{"p50_ms / p99_ms / max_ms", fmt.Sprintf("%.2f / %.2f / %.2f", s.P50MS, s.P99MS, s.MaxMS)},
		{"throughput_rps", fmt.Sprintf("%.0f", s.ThroughputRPS)}, {"bad_values", fmt.Sprint(s.BadValues)},
	}
	if s.Scenario == "scaleout" {
		d.Fields = append(d.Fields, [2]string{"keys_moved_fraction / ideal", fmt.Sprintf("%.4f / %.4f", s.KeysMovedFraction, s.IdealMovedFraction)})
	}
	return reportTmpl.Execute(w, d)
}

func headline(s *Summary) (cards, verdicts []card) {
	pct := func(f float64) string { return fmt.Sprintf("%.1f%%", 100*f) }
	if s.Batch > 1 {
		cards = append(cards,
			card{Label: "requests", Value: fmtNum(float64(s.Calls)), Note: fmt.Sprintf("%s/s, %d keys each; %d procs × %d goroutines", fmtNum(s.CallsPerSec), s.Batch, s.Procs, s.Concurrency)},
			card{Label: "keys read", Value: fmtNum(float64(s.Requests)), Note: fmtNum(s.ThroughputRPS) + " keys/s"})
	} else {
		cards = append(cards,
			card{Label: "requests", Value: fmtNum(float64(s.Requests)), Note: fmt.Sprintf("%s/s; %d procs × %d goroutines", fmtNum(s.ThroughputRPS), s.Procs, s.Concurrency)})
	}
	cards = append(cards,
		card{Label: "origin calls", Value: fmtNum(float64(s.OriginCalls)), Note: fmt.Sprintf("%d keys, max %d per key", s.OriginKeys, s.OriginMaxCallsPerKey)},
	)
	limit := "no limit"
	if s.OriginLimitRPS > 0 {
		limit = "limit " + fmtNum(s.OriginLimitRPS) + "/s"
	}
	cards = append(cards,
		card{Label: "origin peak", Value: fmtNum(s.OriginPeakRPS) + "/s", Note: limit + fmt.Sprintf(", peak concurrency %d", s.OriginPeakConcurrency)},
		card{Label: "hit ratio", Value: pct(s.HitRatio), Note: fmt.Sprintf("L1 %s, L2 %s", pct(s.L1HitRatio), pct(s.L2HitRatio))},
		card{Label: "latency p50 / p99", Value: fmtMS(s.P50MS) + " / " + fmtMS(s.P99MS), Note: "max " + fmtMS(s.MaxMS)},
		card{Label: "errors", Value: fmtNum(float64(s.Errors)), Note: fmt.Sprintf("shed %d, stale served %d", s.Shed, s.StaleServed), Bad: s.Errors > 0, Good: s.Errors == 0},
	)
	v := func(ok bool, label, value, note string) {
		verdicts = append(verdicts, card{Label: label, Value: value, Note: note, Good: ok, Bad: !ok})
	}
	switch s.Scenario {
	case "herd":
		per := "call"
		if s.OriginMaxCallsPerKey != 1 {
			per = "calls"
		}
		goal, ok := "goal with leases: 1 per key for the whole tier", s.OriginMaxCallsPerKey <= 1
		if !s.Config.Leases {
			goal, ok = "leases off: goal ≤ 1 per process", s.OriginMaxCallsPerKey <= int64(s.Procs)
		}
		v(ok, "the herd cost",
			fmt.Sprintf("%d origin %s per key", s.OriginMaxCallsPerKey, per),
			fmt.Sprintf("for %s simultaneous requests per key from %d processes (%s)",
				fmtNum(float64(s.Requests/int64(max(1, s.Keys)))), s.Procs, goal))
		cards[2] = card{Label: "origin peak concurrency", Value: fmt.Sprint(s.OriginPeakConcurrency), Note: "calls in progress at once at the origin"}
		cards[3] = card{Label: "coalesced", Value: fmtNum(float64(s.Coalesced)), Note: "requests that waited on a shared load"}
	case "tierdown", "steady", "scaleout", "origindown", "nodekill", "hotkey":
		if s.OriginLimitRPS > 0 {
			ok := s.OriginPeakRPS <= s.OriginLimitRPS*1.1
			note := "busiest 1 s at the origin: within the limit (+ one 100 ms bucket)"
			if !ok {
				note = "busiest 1 s at the origin: ABOVE the limit (+ one 100 ms bucket)"
			}
			v(ok, "origin peak / limit", fmt.Sprintf("%s/s / %s/s", fmtNum(s.OriginPeakRPS), fmtNum(s.OriginLimitRPS)), note)
		}
	}
	switch s.Scenario {
	case "tierdown":
		v(s.Errors == 0, "callers saw", fmt.Sprintf("%d errors", s.Errors), fmt.Sprintf("only values (%d stale) or shed (%d)", s.StaleServed, s.Shed))
		if s.DetectMS != 0 {
			cards = append(cards, card{Label: "failure detected", Value: durStr(s.DetectMS), Note: "recovery seen in " + durStr(s.RecoverMS)})
		}
	case "origindown":
		v(s.ErrorsWithStaleCopy == 0, "errors with a stale copy", fmt.Sprint(s.ErrorsWithStaleCopy),
			fmt.Sprintf("%d stale values served; %d errors for keys never loaded", s.StaleServed, s.ErrorsWithoutCopy))
		cards = append(cards, card{Label: "recovered", Value: durStr(s.RecoveryMS), Note: "after the origin came back"})
	case "coherence":
		v(s.StaleAfterWriteP99MS <= s.CoherenceBoundMS, "stale after a write, p99", fmtMS(s.StaleAfterWriteP99MS),
			fmt.Sprintf("goal ≤ %s; p50 %s, max %s, over %d transitions seen by readers", fmtMS(s.CoherenceBoundMS),
				fmtMS(s.StaleAfterWriteP50MS), fmtMS(s.StaleAfterWriteMaxMS), s.CoherenceTransitions))
		v(s.CoherenceOverBound == 0, "reads older than the bound", fmt.Sprint(s.CoherenceOverBound),
			fmt.Sprintf("of %d reads of a previous version after a write (%d writes)", s.CoherenceStaleReads, s.CoherenceWrites))
	case "rolling":
		if r, b := s.Roll, s.RollBaseline; r != nil && b != nil && s.RollCostRatio != nil {
			v(*s.RollCostRatio <= rollGoal, "roll cost with snapshots", pct(*s.RollCostRatio)+" of without",
				fmt.Sprintf("%d reloads with snapshots, %d in the same roll without (run first); goal ≤ %s", r.Reloads, b.Reloads, pct(rollGoal)))
		}
		if r := s.Roll; r != nil {
			cards = append(cards, card{Label: "roll reloads", Value: fmtNum(float64(r.Reloads)),
				Note: fmt.Sprintf("owner restarting %d, back %d, other %d", r.ReloadsOwnerRestarting, r.ReloadsOwnerBack, r.ReloadsOther)})
		}
	case "nodekill":
		if m := s.Move; m != nil && m.WarmRead > 0 {
			note := fmt.Sprintf("%d of the %d warm keys of the dead node read after the kill went to the origin again", m.Reloaded, m.WarmRead)
			if s.Config.Replicas >= 2 {
				v(m.ReloadFraction <= moveGoal, "dead node's keys reloaded", pct(m.ReloadFraction),
					fmt.Sprintf("%s; goal ≤ %s with %d replicas", note, pct(moveGoal), s.Config.Replicas))
			} else {
				cards = append(cards, card{Label: "dead node's keys reloaded", Value: pct(m.ReloadFraction),
					Note: note + " (no replicas: --replicas 2 keeps them warm)"})
			}
		}
	case "hotkey":
		if f := s.Hotkey; f != nil {
			note := fmt.Sprintf("reads of the busiest node (%s) over the mean node's, counted on the nodes; the hot key takes %s of reads",
				f.Busiest, pct(f.HotShare))
			if f.ExpectedRatioOneCopy > 0 {
				note += fmt.Sprintf("; one copy of each key gives %.2f×", f.ExpectedRatioOneCopy)
			}
			value := fmt.Sprintf("%.2f× the mean", f.BusiestRatio)
			if f.GoalMet != nil {
				v(*f.GoalMet, "busiest node", value, fmt.Sprintf("%s; goal ≤ %.1f× with %d replicas", note, f.Goal, s.Config.Replicas))
			} else {
				cards = append(cards, card{Label: "busiest node", Value: value,
					Note: fmt.Sprintf("%s; the goal ≤ %.1f× applies with --replicas 2 or more", note, f.Goal)})
			}
			cards = append(cards, card{Label: "hot key origin loads", Value: fmt.Sprint(f.HotKeyOriginCalls),
				Note: fmt.Sprintf("%d keys still cold when the measurement began", f.ColdKeys), Bad: f.HotKeyOriginCalls > 1})
		}
	case "scaleout":
		rel := math.Abs(s.KeysMovedFraction-s.IdealMovedFraction) / math.Max(s.IdealMovedFraction, 1e-9)
		v(rel <= 0.05, "keys moved", pct(s.KeysMovedFraction), "ideal "+pct(s.IdealMovedFraction)+" = 1/(N+1)")
		cards = append(cards, card{Label: "hit ratio recovered", Value: durStr(s.RecoveryMS), Note: "after the join"})
		cards = append(cards, card{Label: "origin miss spike", Value: fmtNum(s.OriginPeakRPSAfterJoin) + "/s",
			Note: "busiest second after the join; " + fmtNum(s.OriginRPSBeforeJoin) + "/s before"})
		if m := s.Move; m != nil && m.WarmRead > 0 {
			v(m.ReloadFraction <= moveGoal, "moved keys reloaded", pct(m.ReloadFraction),
				fmt.Sprintf("%d of the %d warm moved keys read after the join went to the origin again; goal ≤ %s (warm-up reads %s)",
					m.Reloaded, m.WarmRead, pct(moveGoal), onOff(s.Config.Warmup)))
		}
	}
	if s.BadValues > 0 {
		v(false, "wrong values", fmt.Sprint(s.BadValues), "values that were not the key's value")
	}
	return cards, verdicts
}

func charts(s *Summary) []template.HTML {
	iv := s.Config.IntervalMS / 1000
	xmax := s.DurationMS / 1000
	// Leave out the sliver of an interval after the stop: a handful of
	// requests that would draw a misleading last point.
	series := s.Series
	for len(series) > 1 && series[len(series)-1].TMS+s.Config.IntervalMS/2 > s.DurationMS {
		series = series[:len(series)-1]
	}
	mid := func(p Point) float64 { return p.TMS/1000 + iv/2 }
	var out []template.HTML

	oc := chart{title: "origin calls/s (1 s sliding window, as counted by the origin)", xmax: xmax}
	var ox, oy []float64
	for _, p := range s.OriginRate {
		if p.TMS/1000 <= xmax {
			ox, oy = append(ox, p.TMS/1000), append(oy, p.RPS)
		}
	}
	oc.series = append(oc.series, chartSeries{name: "origin calls/s", color: "#d9480f", xs: ox, ys: oy, area: true})
	if s.OriginLimitRPS > 0 {
		oc.hlines = append(oc.hlines, hline{y: s.OriginLimitRPS, label: "limit " + fmtNum(s.OriginLimitRPS) + "/s", color: "#c92a2a"})
	}
	out = append(out, oc.svg(s))

	hc := chart{title: "hit ratio per interval", xmax: xmax, ymax: 1, pct: true}
	var hx, l1, all []float64
	for _, p := range series {
		if p.Requests == 0 {
			continue
		}
		hx = append(hx, mid(p))
		l1 = append(l1, float64(p.L1Hits)/float64(p.Requests))
		all = append(all, float64(p.L1Hits+p.L2Hits)/float64(p.Requests))
	}
	hc.series = []chartSeries{
		{name: "L1 + L2", color: "#2b8a3e", xs: hx, ys: all, area: true},
		{name: "L1", color: "#1971c2", xs: hx, ys: l1},
	}
	out = append(out, hc.svg(s))

	lc := chart{title: "latency per interval (log scale)", unit: "ms", xmax: xmax, logY: true}
	var lx, p50, p99 []float64
	for _, p := range series {
		if p.Requests == 0 {
			continue
		}
		lx = append(lx, mid(p))
		p50 = append(p50, math.Max(p.P50MS, 0.001))
		p99 = append(p99, math.Max(p.P99MS, 0.001))
	}
	lc.series = []chartSeries{
		{name: "p50", color: "#1971c2", xs: lx, ys: p50},
		{name: "p99", color: "#862e9c", xs: lx, ys: p99},
	}
	out = append(out, lc.svg(s))

	ec := chart{title: "errors, shed and stale values served per second", unit: "/s", xmax: xmax}
	var ex, er, sh, st []float64
	for _, p := range series {
		ex = append(ex, mid(p))
		er = append(er, float64(p.Errors)/iv)
		sh = append(sh, float64(p.Shed)/iv)
		st = append(st, float64(p.StaleServed)/iv)
	}
	ec.series = []chartSeries{
		{name: "errors", color: "#e03131", xs: ex, ys: er},
		{name: "shed", color: "#f08c00", xs: ex, ys: sh},
		{name: "stale served", color: "#5f3dc4", xs: ex, ys: st},
	}
	if ec.ymax == 0 {
		m := 0.0
		for _, v := range append(append(append([]float64{}, er...), sh...), st...) {
			m = math.Max(m, v)
		}
		if m == 0 {
			ec.ymax = 1
		}
	}
	out = append(out, ec.svg(s))
	if s.Scenario == "coherence" && len(s.StaleAfterWriteHist) > 0 {
		out = append(out, distChart(s.StaleAfterWriteHist, "stale after a write",
			fmt.Sprintf("how long after a write a reader still saw the previous version (per transition; 0 = never; p50 %s, p99 %s, max %s)",
				fmtMS(s.StaleAfterWriteP50MS), fmtMS(s.StaleAfterWriteP99MS), fmtMS(s.StaleAfterWriteMaxMS)), "transitions"))
	}
	return out
}

// herdCharts shows a herd, which lasts a fraction of a second: requests
// against origin calls per key, and the latency distribution.
func herdCharts(s *Summary) []template.HTML {
	var b strings.Builder
	perKey := float64(s.Requests) / float64(max(1, s.Keys))
	rows := []struct {
		label string
		v     float64
		color string
	}{
		{"requests per key", perKey, "#1971c2"},
		{"origin calls per key (max)", float64(s.OriginMaxCallsPerKey), "#d9480f"},
		{"origin calls per key (mean)", s.OriginCallsPerKey, "#f08c00"},
	}
	const h = 190
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="herd">`, chW, h, chW, h)
	fmt.Fprintf(&b, `<text x="%d" y="20" class="ct">what the herd cost the origin (linear scale)</text>`, padL)
	x0, pw := 260.0, float64(chW-padR)-260-80
	for i, r := range rows {
		y := 44 + float64(i)*44
		w := pw * r.v / math.Max(perKey, 1)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" class="yt">%s</text>`, x0-10, y+20, esc(r.label))
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="28" fill="%s"/>`, x0, y, math.Max(w, 2), r.color)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" class="ct">%s</text>`, x0+math.Max(w, 2)+8, y+20, fmtNum(r.v))
	}
	b.WriteString(`</svg>`)
	out := []template.HTML{template.HTML(b.String())}

	// Latency distribution, log-scaled buckets merged to 10 per decade.
	if len(s.LatencyHist) == 0 {
		return out
	}
	return append(out, distChart(s.LatencyHist, "latency distribution",
		fmt.Sprintf("latency distribution (requests per bucket, log-scale time axis; p50 %s, p99 %s)", fmtMS(s.P50MS), fmtMS(s.P99MS)), "requests"))
}

// distChart draws a distribution of durations: log-scaled buckets merged to
// 10 per decade, counts of what (e.g. "requests") per bucket.
func distChart(bins []HistBin, label, title, what string) template.HTML {
	var b strings.Builder
	lo := math.Floor(math.Log10(math.Max(bins[0].UpToMS, 1e-4)))
	hi := math.Ceil(math.Log10(math.Max(bins[len(bins)-1].UpToMS, 1e-3)))
	if hi <= lo {
		hi = lo + 1
	}
	nb := int(10 * (hi - lo))
	counts := make([]float64, nb)
	for _, bin := range bins {
		i := int(10 * (math.Log10(math.Max(bin.UpToMS, 1e-4)) - lo))
		counts[min(max(i, 0), nb-1)] += float64(bin.Count)
	}
	var cmax float64
	for _, c := range counts {
		cmax = math.Max(cmax, c)
	}
	pw, ph := float64(chW-padL-padR), float64(chH-padT-padB)
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="%s">`, chW, chH, chW, chH, esc(label))
	fmt.Fprintf(&b, `<text x="%d" y="20" class="ct">%s</text>`, padL, esc(title))
	step := niceStep(cmax, 4)
	for v := 0.0; v <= cmax*1.1; v += step {
		y := padT + ph*(1-v/(cmax*1.1))
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" class="grid"/><text x="%d" y="%.1f" class="yt">%s</text>`, padL, chW-padR, y, y, padL-6, y+4, fmtNum(v))
	}
	for d := lo; d <= hi; d++ {
		for _, m := range []float64{1, 2, 5} {
			if v := math.Log10(m) + d; v <= hi {
				x := padL + pw*(v-lo)/(hi-lo)
				fmt.Fprintf(&b, `<text x="%.1f" y="%d" class="xt">%sms</text>`, x, chH-padB+16, fmtNum(m*math.Pow(10, d)))
			}
		}
	}
	bw := pw / float64(nb)
	for i, c := range counts {
		if c == 0 {
			continue
		}
		bh := ph * c / (cmax * 1.1)
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#1971c2"><title>%s %s ≤ %.3g ms</title></rect>`,
			padL+bw*float64(i)+1, padT+ph-bh, math.Max(bw-2, 1), bh, fmtNum(c), esc(what), math.Pow(10, lo+float64(i+1)/10))
	}
	fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" class="axis"/>`, padL, chW-padR, padT+ph, padT+ph)
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

var reportTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"divk": func(v float64) float64 { return v / 1000 },
	"pct":  func(v float64) float64 { return v * 100 },
	"ms":   fmtMS,
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px 40px;color:#212529;background:#fff}
h1{font-size:24px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.sub{color:#495057;margin-bottom:18px}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:10px 0}
.card{border:1px solid #dee2e6;border-radius:8px;padding:10px 16px;min-width:170px;background:#f8f9fa}
.card .l{font-size:12px;text-transform:uppercase;letter-spacing:.04em;color:#6c757d}
.card .v{font-size:24px;font-weight:600;margin:2px 0}
.card .n{font-size:12px;color:#495057}
.card.good{border-color:#2b8a3e;background:#ebfbee}.card.good .v{color:#2b8a3e}
.card.bad{border-color:#c92a2a;background:#fff5f5}.card.bad .v{color:#c92a2a}
.chart{display:block;margin:8px 0;max-width:100%;height:auto}
.ct{font-size:15px;font-weight:600;fill:#212529}.lg{font-size:12px;fill:#495057}
.grid{stroke:#e9ecef}.axis{stroke:#adb5bd}.yt{font-size:11px;fill:#6c757d;text-anchor:end}
.xt{font-size:11px;fill:#6c757d;text-anchor:middle}.band-bad{fill:#fff0f0}.band-after{fill:#f3f8ff}
.ev{stroke:#495057;stroke-dasharray:3 3}.el{font-size:11px;fill:#343a40}
.ref{stroke-dasharray:8 4;stroke-width:1.5}.rl{font-size:12px;text-anchor:end;font-weight:600}
table{border-collapse:collapse;font-size:13px}td,th{padding:4px 10px;border-bottom:1px solid #e9ecef;text-align:right}
th{background:#f8f9fa}td:first-child,th:first-child{text-align:left}
.err{color:#c92a2a;font-family:monospace;font-size:12px}
</style>
</head>
<body>
<h1>{{.Title}}</h1>
<div class="sub">{{.S.Nodes}} nodes · {{.S.Procs}} client processes × {{.S.Concurrency}} goroutines · {{.S.Keys}} keys ·
{{if eq .S.Scenario "herd"}}every goroutine asks every key once, all at the same instant{{else}}{{if eq .S.Config.Rate 0.0}}unpaced{{else}}{{printf "%.0f" .S.Config.Rate}} req/s per process{{end}} · TTL {{printf "%.1f" (divk .S.Config.TTLMS)}} s{{end}} ·
origin latency {{printf "%.0f" .S.Config.OriginLatency}} ms · ran {{printf "%.1f" (divk .S.DurationMS)}} s{{if .S.Interrupted}} · <b>interrupted</b>{{end}}</div>
{{if .Verdicts}}<div class="cards">{{range .Verdicts}}<div class="card{{if .Good}} good{{end}}{{if .Bad}} bad{{end}}"><div class="l">{{.Label}}</div><div class="v">{{.Value}}</div><div class="n">{{.Note}}</div></div>{{end}}</div>{{end}}
<div class="cards">{{range .Cards}}<div class="card{{if .Bad}} bad{{end}}"><div class="l">{{.Label}}</div><div class="v">{{.Value}}</div><div class="n">{{.Note}}</div></div>{{end}}</div>
<h2>{{if eq .S.Scenario "herd"}}The herd{{else}}Over time{{end}}</h2>
{{range .Charts}}{{.}}{{end}}
{{if gt (len .S.Phases) 1}}<h2>Phases</h2>
<table><tr><th>phase</th><th>from</th><th>to</th><th>requests</th><th>errors</th><th>shed</th><th>stale</th><th>hit ratio</th><th>origin calls/s</th><th>origin peak/s</th><th>p50</th><th>p99</th></tr>
{{range .S.Phases}}<tr><td>{{.Name}}</td><td>{{printf "%.1fs" (divk .StartMS)}}</td><td>{{printf "%.1fs" (divk .EndMS)}}</td><td>{{.Requests}}</td><td>{{.Errors}}</td><td>{{.Shed}}</td><td>{{.StaleServed}}</td><td>{{printf "%.1f%%" (pct .HitRatio)}}</td><td>{{printf "%.0f" .OriginRPS}}</td><td>{{printf "%.0f" .OriginPeakRPS}}</td><td>{{ms .P50MS}}</td><td>{{ms .P99MS}}</td></tr>
{{end}}</table>{{end}}
<h2>Events</h2>
<table><tr><th>time</th><th>event</th></tr>{{range .S.Events}}<tr><td>{{printf "%.2fs" (divk .TMS)}}</td><td>{{.What}}</td></tr>{{end}}</table>
<h2>Summary</h2>
<table>{{range .Fields}}<tr><td>{{index . 0}}</td><td>{{index . 1}}</td></tr>{{end}}</table>
{{if .S.ErrorSample}}<h2>Sample errors</h2>{{range .S.ErrorSample}}<div class="err">{{.}}</div>{{end}}{{end}}
<script>
document.documentElement.setAttribute("data-report", "rendered:" + document.querySelectorAll("svg.chart").length);
</script>
</body>
</html>
`))
