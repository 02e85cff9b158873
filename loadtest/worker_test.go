package loadtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var errFakeShed = errors.New("fake: shed")

// fakeClient counts calls per key and fails or sheds on demand.
type fakeClient struct {
	mu     sync.Mutex
	calls  map[string]int
	addrs  []string
	closed bool
	fail   func(key string, n int) error // n: calls so far for key, this one included
	delay  time.Duration
}

func (f *fakeClient) Get(ctx context.Context, key string, dst []byte) ([]byte, Outcome, error) {
	f.mu.Lock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[key]++
	n := f.calls[key]
	f.mu.Unlock()
	if f.delay > 0 {
		select {
		case <-time.After(f.delay):
		case <-ctx.Done():
			return dst, Outcome{}, ctx.Err()
		}
	}
	if f.fail != nil {
		if err := f.fail(key, n); err != nil {
			return dst, Outcome{}, err
		}
	}
	src := SourceL1
	if n == 1 {
		src = SourceOrigin
	}
	return append(dst, Value(key, 16)...), Outcome{Source: src, Stale: n%5 == 0}, nil
}
func (f *fakeClient) IsShed(err error) bool { return errors.Is(err, errFakeShed) }
func (f *fakeClient) SetAddrs(a []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.addrs = a
	return nil
}
func (f *fakeClient) NodesUp() int { return 3 }
func (f *fakeClient) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	return nil
}

// childHarness runs RunClientProcess in-process over pipes.
type childHarness struct {
	t     *testing.T
	in    *io.PipeWriter
	lw    *lineWriter
	lines chan report
	done  chan error
}

func startChild(t *testing.T, fc *fakeClient, wc workerConfig) *childHarness {
	t.Helper()
	return startChildClient(t, fc, wc)
}

// startChildClient is startChild with any Client.
func startChildClient(t *testing.T, fc Client, wc workerConfig) *childHarness {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	h := &childHarness{t: t, in: inW, lw: newLineWriter(inW), lines: make(chan report, 1000), done: make(chan error, 1)}
	go func() {
		err := RunClientProcess(inR, outW, func(ClientSetup) (Client, error) { return fc, nil })
		_ = outW.Close()
		_ = inR.Close()
		h.done <- err
	}()
	go func() {
		defer close(h.lines)
		sc := newLineScanner(outR)
		for sc.Scan() {
			var r report
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Errorf("bad report line %q: %v", sc.Text(), err)
				continue
			}
			h.lines <- r
		}
	}()
	if err := h.lw.write(command{Op: "config", Config: &wc}); err != nil {
		t.Fatal(err)
	}
	if r := h.next("ready"); r.ID != wc.ID {
		t.Fatalf("ready from id %d, want %d", r.ID, wc.ID)
	}
	return h
}

// next returns the next report of the given type, merging ticks on the way.
func (h *childHarness) next(typ string) report {
	h.t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case r, ok := <-h.lines:
			if !ok {
				h.t.Fatalf("child output closed while waiting for %q", typ)
			}
			if r.Type == typ {
				return r
			}
		case <-timeout:
			h.t.Fatalf("no %q report after 30s", typ)
		}
	}
}

// collect reads reports until "done" and returns the summed counters.
func (h *childHarness) collect() (counters, hist, report) {
	h.t.Helper()
	var c counters
	var hh hist
	timeout := time.After(30 * time.Second)
	for {
		select {
		case r, ok := <-h.lines:
			if !ok {
				h.t.Fatal("child output closed before done")
			}
			switch r.Type {
			case "tick":
				c.add(r.C)
				hh.addSparse(r.H, r.MaxNS)
			case "done":
				return c, hh, r
			}
		case <-timeout:
			h.t.Fatal("no done report after 30s")
		}
	}
}

func (h *childHarness) wait() {
	h.t.Helper()
	select {
	case err := <-h.done:
		if err != nil {
			h.t.Fatalf("RunClientProcess: %v", err)
		}
	case <-time.After(30 * time.Second):
		h.t.Fatal("RunClientProcess did not return")
	}
}

func TestClientProcessHerd(t *testing.T) {
	fc := &fakeClient{delay: 5 * time.Millisecond}
	h := startChild(t, fc, workerConfig{ID: 7, KeyPrefix: "h:", Keys: 3, Herd: true, Concurrency: 50, Interval: 50 * time.Millisecond, ValueSize: 16})
	_ = h.lw.write(command{Op: "start", T0: time.Now().Add(20 * time.Millisecond).UnixNano()})
	c, hh, _ := h.collect()
	h.wait()
	if c.Requests != 150 || hh.n != 150 {
		t.Fatalf("requests %d (hist %d), want 50 goroutines × 3 keys = 150", c.Requests, hh.n)
	}
	fc.mu.Lock()
	defer fc.mu.Unlock()
	for _, k := range []string{"h:0", "h:1", "h:2"} {
		if fc.calls[k] != 50 {
			t.Errorf("key %s requested %d times, want 50", k, fc.calls[k])
		}
	}
	if c.Loads != 3 || c.L1Hits != 147 || c.BadValues != 0 || c.Errors != 0 {
		t.Fatalf("counters %+v", c)
	}
	if !fc.closed {
		t.Fatal("client not closed")
	}
}

func TestClientProcessErrorsShedAndStop(t *testing.T) {
	fc := &fakeClient{fail: func(key string, n int) error {
		switch {
		case key == "e:0" && n > 3: // served before: a stale copy existed
			return errors.New("origin down")
		case key == "e:1":
			return errors.New("never loaded")
		case key == "e:2" && n%2 == 0:
			return errFakeShed
		}
		return nil
	}}
	h := startChild(t, fc, workerConfig{ID: 1, KeyPrefix: "e:", Keys: 3, Concurrency: 4, Rate: 2000, ZipfS: 1.5, Interval: 50 * time.Millisecond, ValueSize: 16})
	_ = h.lw.write(command{Op: "start", T0: time.Now().UnixNano()})
	_ = h.lw.write(command{Op: "addrs", Addrs: []string{"a", "b"}})
	time.Sleep(300 * time.Millisecond)
	_ = h.lw.write(command{Op: "stop"})
	c, _, done := h.collect()
	h.wait()
	if c.Requests == 0 || c.Errors == 0 || c.Shed == 0 || c.ErrsWithCpy == 0 || c.ErrsWithCpy == c.Errors {
		t.Fatalf("counters %+v: want requests, errors with and without a copy, shed", c)
	}
	if c.Requests != c.Errors+c.Shed+c.L1Hits+c.L2Hits+c.Loads {
		t.Fatalf("outcomes do not add up: %+v", c)
	}
	if len(done.Errs) != 2 || !strings.Contains(strings.Join(done.Errs, ","), "never loaded") {
		t.Fatalf("sample errors %q, want the 2 distinct messages", done.Errs)
	}
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if len(fc.addrs) != 2 {
		t.Fatalf("addrs command not applied: %v", fc.addrs)
	}
}

// A client process whose parent dies (stdin closes) stops on its own.
func TestClientProcessExitsOnStdinEOF(t *testing.T) {
	fc := &fakeClient{}
	h := startChild(t, fc, workerConfig{ID: 2, KeyPrefix: "x:", Keys: 10, Concurrency: 2, Rate: 100, Interval: 50 * time.Millisecond})
	_ = h.lw.write(command{Op: "start", T0: time.Now().UnixNano()})
	time.Sleep(100 * time.Millisecond)
	_ = h.in.Close()
	h.collect()
	h.wait()
}

func TestClientProcessRequestCap(t *testing.T) {
	fc := &fakeClient{}
	h := startChild(t, fc, workerConfig{ID: 3, KeyPrefix: "m:", Keys: 10, Concurrency: 8, MaxRequests: 100, Interval: 50 * time.Millisecond, ValueSize: 16})
	_ = h.lw.write(command{Op: "start", T0: time.Now().UnixNano()})
	c, _, _ := h.collect()
	h.wait()
	if c.Requests != 100 {
		t.Fatalf("requests %d, want the cap of 100", c.Requests)
	}
}

// fakeBatchClient is fakeClient with GetMany (BatchGetter), counting calls.
type fakeBatchClient struct {
	*fakeClient
	manyCalls atomic.Int64
}

func (f *fakeBatchClient) GetMany(ctx context.Context, keys []string) ([][]byte, []Outcome, []error) {
	f.manyCalls.Add(1)
	vs, outs, errs := make([][]byte, len(keys)), make([]Outcome, len(keys)), make([]error, len(keys))
	for i, k := range keys {
		vs[i], outs[i], errs[i] = f.Get(ctx, k, nil)
	}
	return vs, outs, errs
}

// With Batch, a herd goroutine reads its 3 keys as a request of 2 and one
// of 1: keys are counted one by one, requests (and latencies) per call,
// through GetMany when the client has it and one Get per key when not.
func TestClientProcessBatch(t *testing.T) {
	for _, batchClient := range []bool{true, false} {
		t.Run(fmt.Sprintf("GetMany=%v", batchClient), func(t *testing.T) {
			fc := &fakeClient{}
			var cl Client = fc
			bc := &fakeBatchClient{fakeClient: fc}
			if batchClient {
				cl = bc
			}
			h := startChildClient(t, cl, workerConfig{ID: 4, KeyPrefix: "b:", Keys: 3, Herd: true, Concurrency: 50, Batch: 2, Interval: 50 * time.Millisecond, ValueSize: 16})
			_ = h.lw.write(command{Op: "start", T0: time.Now().Add(20 * time.Millisecond).UnixNano()})
			c, hh, _ := h.collect()
			h.wait()
			if c.Requests != 150 || c.Calls != 100 || hh.n != 100 {
				t.Fatalf("keys %d, requests %d (hist %d); want 150 keys in 100 requests", c.Requests, c.Calls, hh.n)
			}
			if c.Loads != 3 || c.L1Hits != 147 || c.BadValues != 0 || c.Errors != 0 {
				t.Fatalf("counters %+v", c)
			}
			if want := int64(0); batchClient {
				if n := bc.manyCalls.Load(); n != 100 {
					t.Errorf("GetMany calls %d, want 100", n)
				}
			} else if n := bc.manyCalls.Load(); n != want {
				t.Errorf("GetMany calls %d without BatchGetter", n)
			}
		})
	}
}
