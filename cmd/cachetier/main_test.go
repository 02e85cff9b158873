package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachetier/cachetier/cacheclient"
	"github.com/cachetier/cachetier/cachenode"
	"github.com/cachetier/cachetier/internal/redistest"
)

// binary is the path of the cachetier binary built by TestMain.
var binary string

func TestMain(m *testing.M) { redistest.MainWithBinary(m, "cachetier", ".", &binary) }

// node is a cachenode server running in the test process on a loopback
// port, with a slot.
type node struct {
	addr string
	srv  *cachenode.Server
	done chan error
}

// startNode serves a cachenode with the given slot until the test ends.
func startNode(t *testing.T, slot int) *node {
	t.Helper()
	srv, err := cachenode.New(cachenode.Config{Slot: slot, HasSlot: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n := &node{addr: ln.Addr().String(), srv: srv, done: make(chan error, 1)}
	go func() { n.done <- srv.Serve(ln) }()
	t.Cleanup(n.kill)
	return n
}

// kill closes the node's listener and connections and waits until Serve
// has returned; a second call does nothing.
func (n *node) kill() {
	if n.done == nil {
		return
	}
	_ = n.srv.Close()
	<-n.done
	n.done = nil
}

// tierCmd runs "cachetier args..." and returns its stdout, stderr and exit
// code.
func tierCmd(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("cachetier: %v", err)
	}
	return out.String(), errb.String(), code
}

// fillAndRead writes n keys to addr and reads them back, plus one miss.
func fillAndRead(t *testing.T, addr string, n int) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, DisableIdentity: true})
	defer c.Close()
	ctx := context.Background()
	for i := range n {
		if err := c.Set(ctx, fmt.Sprintf("k%d", i), "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
		if err := c.Get(ctx, fmt.Sprintf("k%d", i)).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Get(ctx, "absent").Err(); err != redis.Nil {
		t.Fatalf("GET absent: %v", err)
	}
}

// TestTierCommand: cachetier over cachenode servers with slots (slot 1 a
// hole), one of them stopped before it could tell its slot (so not placed:
// slot 3 is a hole too), and a stock redis-server named
// with addr=slot: the table and the JSON show each slot, its node, up/down,
// keys, memory and hit ratio; --key gives the owner and failover owner a
// client with the same discovery uses.
func TestTierCommand(t *testing.T) {
	n0, n2, n3 := startNode(t, 0), startNode(t, 2), startNode(t, 3)
	rs, gone := redistest.Start(t), redistest.Start(t)
	fillAndRead(t, n0.addr, 3)
	fillAndRead(t, n2.addr, 5)
	n3.kill()
	gone.Stop() // named slot 5 by the list: placed, and down
	static := strings.Join([]string{n3.addr, rs.Addr + "=4", n2.addr, gone.Addr + "=5", n0.addr}, ",")

	out, errOut, code := tierCmd(t, "--static", static, "--key", "user:1", "--timeout", "500ms")
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, errOut)
	}
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if len(line) >= 80 {
			t.Errorf("line wider than 79 columns: %q", line)
		}
	}
	rows := map[string][]string{}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) >= 3 {
			rows[f[0]] = f
		}
	}
	check := func(slot, addr, state, keys, hits string) {
		t.Helper()
		f := rows[slot]
		if len(f) < 3 || f[1] != addr || f[2] != state || (keys != "" && f[3] != keys) || (hits != "" && f[5] != hits) {
			t.Errorf("slot %s row %q, want %s %s keys %s hits %s; output:\n%s", slot, f, addr, state, keys, hits, out)
		}
	}
	check("0", n0.addr, "up", "3", "75%") // 3 hits, 1 miss
	check("1", "(vacant)", "hole", "", "")
	check("2", n2.addr, "up", "5", "83%")
	check("3", "(vacant)", "hole", "", "") // n3 never told its slot: not placed
	check("-", n3.addr, "down", "-", "-")
	check("4", rs.Addr, "up", "0", "-")
	check("5", gone.Addr, "down", "-", "-")
	if !strings.Contains(out, "placement: from the nodes' slots") || !strings.Contains(out, n3.addr+": ") {
		t.Errorf("output lacks the placement line or the down node's error:\n%s", out)
	}

	js, errOut, code := tierCmd(t, "--static", static, "--key", "user:1", "--json", "--timeout", "500ms")
	if code != 0 {
		t.Fatalf("--json exit %d; stderr:\n%s", code, errOut)
	}
	var v struct {
		Placement string
		Ring      string
		Nodes     []struct {
			Slot       *int
			Addr       string
			Up         bool
			Keys       *int64
			UsedMemory *int64   `json:"used_memory"`
			HitRatio   *float64 `json:"hit_ratio"`
			Slots      int
		}
		Key struct{ Key, Owner, Failover string }
	}
	if err := json.Unmarshal([]byte(js), &v); err != nil {
		t.Fatalf("JSON: %v\n%s", err, js)
	}
	if v.Placement != "slots" || len(v.Nodes) != 7 || v.Nodes[0].Keys == nil || *v.Nodes[0].Keys != 3 || v.Nodes[0].UsedMemory == nil || *v.Nodes[0].UsedMemory <= 0 ||
		v.Nodes[0].HitRatio == nil || *v.Nodes[0].HitRatio != 0.75 || v.Nodes[5].Up || v.Nodes[6].Up || v.Nodes[6].Slot != nil || !v.Nodes[4].Up || v.Nodes[1].Addr != "" || v.Nodes[3].Addr != "" {
		t.Fatalf("JSON view %+v", v)
	}
	// The same owner and failover owner as a client with this discovery,
	// once it has marked the stopped redis-server down.
	c, err := cacheclient.New(cacheclient.Config{
		Discovery: cacheclient.Static(strings.Split(static, ",")...),
		Tier:      cacheclient.TierConfig{Timeout: time.Second, DialTimeout: time.Second},
		Health:    cacheclient.HealthConfig{Interval: 20 * time.Millisecond, FailureThreshold: 1},
		L1:        cacheclient.L1Config{Bytes: -1},
		Logger:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer waitDialRetriesGone(t)
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for !c.Ring().IsDown(gone.Addr) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	owners := c.Ring().Owners("user:1", 2, nil)
	if v.Key.Key != "user:1" || v.Key.Owner != c.Owner("user:1") || v.Key.Owner != owners[0] || v.Key.Failover != owners[1] {
		t.Fatalf("key %+v; client: owner %s, owners %v, ring %s", v.Key, c.Owner("user:1"), owners, c.Ring())
	}
	if v.Ring != c.Ring().String() {
		t.Fatalf("ring %q, client's %q", v.Ring, c.Ring().String())
	}
	if !strings.Contains(out, "owner     "+owners[0]) || !strings.Contains(out, "failover  "+owners[1]) {
		t.Fatalf("table lacks owner %s / failover %s:\n%s", owners[0], owners[1], out)
	}
}

// TestTierCommandNoSlots: stock redis-server nodes listed without slots
// are shown placed by order, with the warning line.
func TestTierCommandNoSlots(t *testing.T) {
	a, b := redistest.Start(t), redistest.Start(t)
	out, errOut, code := tierCmd(t, "--static", a.Addr+","+b.Addr)
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, errOut)
	}
	if !strings.Contains(out, "placement: by order") || !strings.Contains(out, "0            "+a.Addr) || !strings.Contains(out, "1            "+b.Addr) {
		t.Fatalf("output:\n%s", out)
	}
}

// TestTierCommandSlotFile reads a slot file in the "addr=slot" form.
func TestTierCommandSlotFile(t *testing.T) {
	n := startNode(t, 1)
	path := filepath.Join(t.TempDir(), "slots")
	if err := os.WriteFile(path, []byte(n.addr+"=1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := tierCmd(t, "--slot-file", path, "--json")
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, errOut)
	}
	if !strings.Contains(out, `"placement": "table"`) || !strings.Contains(out, `"ring": "-,`+n.addr+`"`) {
		t.Fatalf("output:\n%s", out)
	}
}

func TestTierCommandUsage(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"--static", "a:1", "--dns", "b:2"},
		{"--dns", "nameonly"},
		{"--static", "a:1", "--timeout", "0s"},
		{"--static", "a:1", "extra"},
		{"--bogus"},
	} {
		_, errOut, code := tierCmd(t, args...)
		if code != 2 || !strings.Contains(errOut, "cachetier: ") {
			t.Errorf("cachetier %q: exit %d, stderr %q; want 2 and a usage message", args, code, errOut)
		}
	}
	if _, errOut, code := tierCmd(t, "--static", "a:1=99999"); code != 1 || !strings.Contains(errOut, "a:1=99999") {
		t.Errorf("bad slot: exit %d, stderr %q", code, errOut)
	}
	if _, errOut, code := tierCmd(t, "--help"); code != 0 || !strings.Contains(errOut, "--slot-file") {
		t.Errorf("--help: exit %d, stderr %q", code, errOut)
	}
}

// waitDialRetriesGone waits (up to 10s) until no go-redis pool goroutine
// is retrying a failed dial: after a client is closed, such a goroutine
// ends only when its 1s sleep does, and TestMain's leak check must not see
// it.
func waitDialRetriesGone(t *testing.T) {
	t.Helper()
	buf := make([]byte, 1<<20)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if n := runtime.Stack(buf, true); !bytes.Contains(buf[:n], []byte("(*ConnPool).tryDial")) {
			return
		}
	}
	t.Error("a go-redis dial retry goroutine outlived its closed client by 10s")
}
