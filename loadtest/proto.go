package loadtest

import (
	"bufio"
	"encoding/json"
	"io"
	"sync"
	"time"
)

// The parent and each client process talk in JSON lines: the parent writes
// commands to the child's stdin, the child writes reports to its stdout.
// A child exits when its stdin closes, so it never outlives its parent.

// command is a parent → child line.
type command struct {
	Op     string        `json:"op"` // "config", "start", "addrs", "mark", "stop"
	Config *workerConfig `json:"config,omitempty"`
	T0     int64         `json:"t0,omitempty"` // start instant, Unix ns
	Addrs  []string      `json:"addrs,omitempty"`
}

// report is a child → parent line.
type report struct {
	Type    string      `json:"type"` // "ready", "tick", "done", "fatal"
	ID      int         `json:"id"`
	I       int         `json:"i,omitempty"` // interval index since t0
	C       *counters   `json:"c,omitempty"`
	H       [][2]uint64 `json:"h,omitempty"`
	MaxNS   uint64      `json:"max_ns,omitempty"`
	NodesUp int         `json:"nodes_up,omitempty"`
	Errs    []string    `json:"errs,omitempty"`
	Msg     string      `json:"msg,omitempty"`
	Coh     *cohReport  `json:"coh,omitempty"` // coherence scenario, with "done"
	// ReadAfter lists, with "done", the indexes of the keys read after the
	// parent's "mark" (nodekill).
	ReadAfter []int `json:"read_after,omitempty"`
}

// workerConfig is everything a client process needs for one run.
type workerConfig struct {
	ID          int           `json:"id"`
	Scenario    string        `json:"scenario"`
	KeyPrefix   string        `json:"key_prefix"`
	Keys        int           `json:"keys"`
	Herd        bool          `json:"herd"`
	Writer      bool          `json:"writer,omitempty"` // coherence: this process writes
	Concurrency int           `json:"concurrency"`
	Rate        float64       `json:"rate"` // requests/s for the process, 0 = unpaced
	ZipfS       float64       `json:"zipf_s"`
	Seed        uint64        `json:"seed"`
	Interval    time.Duration `json:"interval"`
	Timeout     time.Duration `json:"timeout"`      // per request
	MaxRequests int64         `json:"max_requests"` // per process, 0 = none
	Deadline    time.Duration `json:"deadline"`     // hard stop after t0
	ValueSize   int           `json:"value_size"`
	Batch       int           `json:"batch,omitempty"` // keys per request (0, 1: single Gets)
	// HotShare (hotkey), when above 0, makes each goroutine first read its
	// part of the keys once (the sweep: every key warm), then read key 0
	// with this probability and the other keys uniformly.
	HotShare float64     `json:"hot_share,omitempty"`
	Setup    ClientSetup `json:"setup"`
}

// counters are the per-interval outcome counts of one client process.
type counters struct {
	Requests    int64 `json:"requests"` // keys read: each key of a batch counts
	Calls       int64 `json:"calls"`    // requests: Get or GetMany calls
	Errors      int64 `json:"errors"`   // failures other than shed
	Shed        int64 `json:"shed"`
	L1Hits      int64 `json:"l1_hits"`
	L2Hits      int64 `json:"l2_hits"`
	Loads       int64 `json:"loads"` // served by an origin load (own or shared)
	Coalesced   int64 `json:"coalesced"`
	Stale       int64 `json:"stale"`
	BadValues   int64 `json:"bad_values"`     // a value that is not the key's value
	ErrsWithCpy int64 `json:"errs_with_copy"` // errors for keys this process had served before
}

func (c *counters) add(o *counters) {
	c.Requests += o.Requests
	c.Calls += o.Calls
	c.Errors += o.Errors
	c.Shed += o.Shed
	c.L1Hits += o.L1Hits
	c.L2Hits += o.L2Hits
	c.Loads += o.Loads
	c.Coalesced += o.Coalesced
	c.Stale += o.Stale
	c.BadValues += o.BadValues
	c.ErrsWithCpy += o.ErrsWithCpy
}

// lineWriter writes JSON lines, safe for concurrent use.
type lineWriter struct {
	mu  sync.Mutex
	enc *json.Encoder
	err error
}

func newLineWriter(w io.Writer) *lineWriter { return &lineWriter{enc: json.NewEncoder(w)} }

func (lw *lineWriter) write(v any) error {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	if lw.err == nil {
		lw.err = lw.enc.Encode(v)
	}
	return lw.err
}

// newLineScanner returns a scanner for JSON lines of up to 1 MiB.
func newLineScanner(r io.Reader) *bufio.Scanner {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	return sc
}
