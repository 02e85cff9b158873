package loadtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachetier/cachetier/ring"
)

// Run runs one scenario and returns its summary. It starts the origin
// simulator, the local tier (unless cfg.Addrs is set) and cfg.Procs client
// processes, plays the scenario's events, and stops everything it started
// before returning, also when ctx is canceled (the summary then covers the
// time until the cancel and has Interrupted set).
func Run(ctx context.Context, cfg Config) (*Summary, error) {
	if err := cfg.init(); err != nil {
		return nil, err
	}
	if cfg.Scenario == "rolling" && cfg.Snapshots && !cfg.NoBaseline {
		return runRollingWithBaseline(ctx, cfg)
	}
	if cfg.Exe == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("loadtest: find own executable: %w", err)
		}
		cfg.Exe = exe
	}
	r := &run{cfg: cfg, prefix: runPrefix()}
	defer r.cleanup()

	var err error
	if r.origin, err = StartOrigin(cfg.Origin); err != nil {
		return nil, fmt.Errorf("loadtest: origin: %w", err)
	}
	r.origin.SetErrorRate(cfg.OriginErrorRate)
	if cfg.Scenario == "rolling" {
		r.origin.KeepReloads() // for RollFigures
	}
	addrs := cfg.Addrs
	if len(addrs) == 0 {
		r.tier = &tier{exe: cfg.Exe, nodeBin: cfg.NodeBin, maxmemory: cfg.MaxMemory, logw: cfg.Log}
		if cfg.Snapshots {
			d, err := os.MkdirTemp("", "loadtest-snapshots-")
			if err != nil {
				return nil, err
			}
			defer os.RemoveAll(d)
			r.tier.snapDir = d
		}
		for i := 0; i < cfg.Nodes; i++ {
			if _, err := r.tier.add(); err != nil {
				return nil, err
			}
		}
		addrs = r.tier.addrs()
	}
	r.startAddrs = addrs
	if err := r.startProcs(ctx, addrs); err != nil {
		return nil, err
	}
	return r.play(ctx)
}

// runPrefix returns a key prefix unique to this run, so that keys are cold
// even against a running tier.
func runPrefix() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "lt" + hex.EncodeToString(b[:]) + ":"
}

// run is the parent's state for one Run.
type run struct {
	cfg        Config
	prefix     string
	origin     *Origin
	tier       *tier
	procs      []*proc
	startAddrs []string
	t0         time.Time

	mu        sync.Mutex // protects the fields below
	series    []interval
	events    []Event
	errs      []string
	movedFrac float64
	idealFrac float64
	joined    *joinState   // scaleout, nodekill: the keys whose owner changed and the origin's counts then
	readAfter map[int]bool // keys read after the mark, merged from the processes' "done"
	move      *MoveFigures // scaleout, nodekill: computed after the run
	coh       cohReport    // merged from the processes' "done" (coherence)
	cohH      hist
	hotNodes  []*redis.Client // hotkey: one per starting node, for INFO and EXISTS
	hot       *hotState       // hotkey: the counts when the measurement began
	hotFig    *HotkeyFigures  // hotkey: computed after the run
}

// interval is the merged client-side view of one reporting interval.
type interval struct {
	c       counters
	h       hist
	nodesUp int // smallest count any process reported; -1 unknown
	seen    int // reports merged
}

// proc is one client process.
type proc struct {
	id     int
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lw     *lineWriter
	ready  chan error // one value: nil when ready
	done   chan struct{}
	exited chan struct{}
}

func (r *run) startProcs(ctx context.Context, addrs []string) error {
	for i := 0; i < r.cfg.Procs; i++ {
		p, err := r.startProc(i, addrs)
		if err != nil {
			return err
		}
		r.procs = append(r.procs, p)
	}
	timeout := time.NewTimer(60 * time.Second)
	defer timeout.Stop()
	for _, p := range r.procs {
		select {
		case err := <-p.ready:
			if err != nil {
				return fmt.Errorf("loadtest: client process %d: %w", p.id, err)
			}
		case <-timeout.C:
			return fmt.Errorf("loadtest: client process %d not ready after 60s", p.id)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (r *run) startProc(id int, addrs []string) (*proc, error) {
	cmd := exec.Command(r.cfg.Exe, ClientArg)
	cmd.Stderr = r.cfg.Log
	cmd.SysProcAttr = childAttr()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("loadtest: start client process: %w", err)
	}
	p := &proc{id: id, cmd: cmd, stdin: stdin, lw: newLineWriter(stdin),
		ready: make(chan error, 1), done: make(chan struct{}), exited: make(chan struct{})}
	go func() {
		r.readReports(p, stdout)
		_ = cmd.Wait()
		close(p.exited)
	}()
	wc := &workerConfig{
		ID: id, Scenario: r.cfg.Scenario, KeyPrefix: r.prefix, Keys: r.cfg.Keys,
		Herd: r.cfg.Scenario == "herd", Writer: r.cfg.Scenario == "coherence" && id == 0, Concurrency: r.cfg.Concurrency, Rate: r.cfg.Rate,
		ZipfS: r.cfg.ZipfS, Seed: r.cfg.Seed, Interval: r.cfg.Interval, Timeout: r.cfg.Timeout,
		MaxRequests: r.cfg.MaxRequests, Deadline: r.cfg.Duration + 10*time.Second,
		ValueSize: r.cfg.Origin.ValueSize, Batch: r.cfg.Batch, HotShare: r.cfg.HotShare,
		Setup: ClientSetup{Addrs: addrs, OriginURL: r.origin.URL(), Config: r.cfg.Client},
	}
	if err := p.lw.write(command{Op: "config", Config: wc}); err != nil {
		return nil, fmt.Errorf("loadtest: configure client process: %w", err)
	}
	return p, nil
}

// readReports merges a child's reports until its stdout closes.
func (r *run) readReports(p *proc, stdout io.Reader) {
	sc := newLineScanner(stdout)
	readied, finished := false, false
	defer func() {
		if !readied {
			p.ready <- errors.New("exited before it was ready (see its stderr)")
		}
		if !finished {
			close(p.done)
		}
	}()
	for sc.Scan() {
		var rep report
		if json.Unmarshal(sc.Bytes(), &rep) != nil {
			continue
		}
		switch rep.Type {
		case "ready":
			if !readied {
				readied = true
				p.ready <- nil
			}
		case "fatal":
			if !readied {
				readied = true
				p.ready <- errors.New(rep.Msg)
			}
		case "tick":
			r.mergeTick(&rep)
		case "done":
			r.mu.Lock()
			for _, i := range rep.ReadAfter {
				if r.readAfter == nil {
					r.readAfter = map[int]bool{}
				}
				r.readAfter[i] = true
			}
			if c := rep.Coh; c != nil {
				r.coh.Writes += c.Writes
				r.coh.Transitions += c.Transitions
				r.coh.StaleReads += c.StaleReads
				r.coh.OverBound += c.OverBound
				r.coh.Skipped += c.Skipped
				r.cohH.addSparse(c.H, c.MaxNS)
			}
			for _, e := range rep.Errs {
				if len(r.errs) < 6 {
					r.errs = append(r.errs, fmt.Sprintf("process %d: %s", p.id, e))
				}
			}
			r.mu.Unlock()
			if !finished {
				finished = true
				close(p.done)
			}
		}
	}
}

func (r *run) mergeTick(rep *report) {
	// A child's line must not make the parent allocate without bound.
	maxI := int((r.cfg.Duration+time.Minute)/max(r.cfg.Interval, time.Millisecond)) + 1
	if rep.I < 0 || rep.I > maxI || rep.C == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(r.series) <= rep.I {
		r.series = append(r.series, interval{nodesUp: -1})
	}
	iv := &r.series[rep.I]
	iv.c.add(rep.C)
	iv.h.addSparse(rep.H, rep.MaxNS)
	if rep.NodesUp >= 0 && (iv.nodesUp < 0 || rep.NodesUp < iv.nodesUp) {
		iv.nodesUp = rep.NodesUp
	}
	iv.seen++
}

// event records a scenario event at the current time.
func (r *run) event(what string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, Event{TMS: ms(time.Since(r.t0)), What: what})
}

func (r *run) broadcast(cmd command) {
	for _, p := range r.procs {
		_ = p.lw.write(cmd)
	}
}

// step is a scenario action at a fraction of the run's duration.
type step struct {
	at   float64
	what string
	do   func() error
}

func (r *run) steps() []step {
	switch r.cfg.Scenario {
	case "scaleout":
		return []step{{0.4, "node joined", r.scaleOut}}
	case "nodekill":
		return []step{{0.4, "node 1 killed", r.nodeKill}}
	case "hotkey":
		return r.hotSteps()
	case "tierdown":
		return []step{
			{0.20, "node 1 killed", func() error { r.tier.kill(0); return nil }},
			{0.40, "all nodes killed", func() error {
				for i := 1; i < len(r.tier.addrs()); i++ {
					r.tier.kill(i)
				}
				return nil
			}},
			{0.60, "nodes restarting", func() error {
				for i := range r.tier.addrs() {
					if err := r.tier.restart(i); err != nil {
						return err
					}
				}
				r.event("nodes back")
				return nil
			}},
		}
	case "rolling":
		// Restart every node in turn between 30% and 75% of the run.
		n := len(r.tier.addrs())
		steps := []step{{0.30, "roll started", func() error { return nil }}}
		for i := 0; i < n; i++ {
			steps = append(steps, step{0.30 + 0.45*float64(i)/float64(n), fmt.Sprintf("node %d restarting", i+1),
				func() error {
					if err := r.tier.roll(i); err != nil {
						return err
					}
					r.event(fmt.Sprintf("node %d back", i+1)) // answering PING again, its snapshot loaded
					return nil
				}})
		}
		return append(steps, step{0.75, "roll done", func() error { return nil }})
	case "origindown":
		return []step{
			{0.35, "origin down", func() error { r.origin.SetDown(true); return nil }},
			{0.70, "origin back", func() error { r.origin.SetDown(false); return nil }},
		}
	}
	return nil
}

func (r *run) scaleOut() error {
	before := r.tier.addrs()
	addr, err := r.tier.add()
	if err != nil {
		return err
	}
	keys := make([]string, r.cfg.Keys)
	for i := range keys {
		keys[i] = r.prefix + fmt.Sprint(i)
	}
	moved := movedKeys(keys, before, addr)
	set := make(map[string]bool, len(moved))
	for _, k := range moved {
		set[k] = true
	}
	r.markEvent(func(k string) bool { return set[k] })
	r.mu.Lock()
	r.movedFrac, r.idealFrac = float64(len(moved))/float64(max(len(keys), 1)), 1/float64(len(before)+1)
	r.mu.Unlock()
	r.broadcast(command{Op: "addrs", Addrs: r.tier.addrs()})
	return nil
}

// nodeKill SIGKILLs node 1 (nodekill) after marking its keys, as the
// clients place them (ring.New of the starting nodes, in order).
func (r *run) nodeKill() error {
	victim := r.startAddrs[0]
	rg := ring.New(r.startAddrs...)
	r.markEvent(func(k string) bool { o, _ := rg.Owner(k); return o == victim })
	r.tier.kill(0)
	return nil
}

// play starts the clients at one instant, runs the scenario's steps, stops
// the clients and builds the summary.
func (r *run) play(ctx context.Context) (*Summary, error) {
	r.t0 = time.Now().Add(300 * time.Millisecond)
	r.broadcast(command{Op: "start", T0: r.t0.UnixNano()})
	r.mu.Lock()
	r.events = append(r.events, Event{TMS: 0, What: "start"})
	r.mu.Unlock()
	end := r.t0.Add(r.cfg.Duration)

	allDone := make(chan struct{})
	go func() {
		for _, p := range r.procs {
			<-p.done
		}
		close(allDone)
	}()
	progDone := make(chan struct{})
	progStop := make(chan struct{})
	go func() { defer close(progDone); r.progress(progStop) }()

	var stepErr error
	interrupted := false
	steps := r.steps()
	wait := func(until time.Time) bool { // false: stop early
		t := time.NewTimer(time.Until(until))
		defer t.Stop()
		select {
		case <-t.C:
			return true
		case <-ctx.Done():
			interrupted = true
			return false
		case <-allDone:
			return false
		}
	}
	ok := true
	for _, s := range steps {
		if ok = wait(r.t0.Add(time.Duration(s.at * float64(r.cfg.Duration)))); !ok {
			break
		}
		r.event(s.what)
		if err := s.do(); err != nil {
			stepErr = fmt.Errorf("loadtest: %s: %w", s.what, err)
			break
		}
	}
	if ok && stepErr == nil {
		wait(end)
	}
	r.event("stop")
	r.broadcast(command{Op: "stop"})
	grace := time.NewTimer(r.cfg.Timeout + 10*time.Second)
	select {
	case <-allDone:
	case <-grace.C:
		r.logf("loadtest: client processes did not finish in time; killing them")
	}
	grace.Stop()
	close(progStop)
	<-progDone
	elapsed := time.Since(r.t0)
	if stepErr != nil {
		return nil, stepErr
	}
	r.moveFigures()
	r.hotFigures()
	s := r.summarize(elapsed)
	s.Interrupted = interrupted
	return s, nil
}

func (r *run) logf(format string, args ...any) {
	fmt.Fprintf(r.cfg.Log, format+"\n", args...)
}

// cleanup stops the client processes (stdin EOF, then SIGKILL), the tier
// and the origin.
func (r *run) cleanup() {
	for _, p := range r.procs {
		_ = p.stdin.Close()
	}
	for _, p := range r.procs {
		t := time.NewTimer(5 * time.Second)
		select {
		case <-p.exited:
		case <-t.C:
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
		t.Stop()
	}
	for _, c := range r.hotNodes {
		_ = c.Close()
	}
	if r.tier != nil {
		r.tier.close()
	}
	if r.origin != nil {
		_ = r.origin.Close()
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
