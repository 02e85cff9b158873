package main

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachetier/cachetier/internal/redistest"
)

// TestRunTier runs scripts/run-tier.sh (what `make run` runs) on three free
// ports with the binary TestMain built: every node answers, a node stopped
// alone with SHUTDOWN leaves the other two serving and the script running,
// and a Ctrl-C (SIGINT to the script's process group, as a terminal sends
// it) stops the rest with one signal each and ends the script with status 0.
func TestRunTier(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash not installed; skipping the make run script")
	}
	script, err := filepath.Abs(filepath.Join("..", "..", "scripts", "run-tier.sh"))
	if err != nil {
		t.Fatal(err)
	}
	var ports []string
	for len(ports) < 3 {
		p := strconv.Itoa(redistest.FreePort(t))
		if !slices.Contains(ports, p) {
			ports = append(ports, p)
		}
	}
	// Output goes to a file: with a pipe, Wait would also wait for every
	// process holding its write end (the nodes).
	out, err := os.CreateTemp(t.TempDir(), "run-tier-*.log")
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd := exec.Command(bash, append([]string{script}, ports...)...)
	cmd.Env = append(os.Environ(), "CACHENODE_BIN="+binary, "CACHENODE_FLAGS=--loglevel info")
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its own group, like a terminal's foreground job
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pgid := cmd.Process.Pid
	done := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(done) }()
	logs := func() string {
		b, _ := os.ReadFile(out.Name())
		return string(b)
	}
	defer func() {
		select {
		case <-done:
			if t.Failed() { // nodes may outlive a broken script: end the group it started
				_ = syscall.Kill(-pgid, syscall.SIGKILL)
			}
		default: // the test failed with the tier still up
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-done
		}
	}()

	nodes := make([]*node, len(ports))
	for i, p := range ports {
		nodes[i] = &node{addr: net.JoinHostPort("127.0.0.1", p), done: done}
		if !waitAnswer(nodes[i], 30*time.Second) {
			t.Fatalf("node on port %s did not come up; script output:\n%s", p, logs())
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i, n := range nodes {
		rdb := redis.NewClient(&redis.Options{Addr: n.addr, MaxRetries: -1})
		key, val := "k"+strconv.Itoa(i), "v"+strconv.Itoa(i)
		if err := rdb.Set(ctx, key, val, 0).Err(); err != nil {
			t.Fatalf("SET on %s: %v", n.addr, err)
		}
		if got, err := rdb.Get(ctx, key).Result(); err != nil || got != val {
			t.Fatalf("GET on %s = %q, %v; want %q", n.addr, got, err, val)
		}
		rdb.Close()
	}

	// One node stopped alone: the others keep serving, the script keeps running.
	if err := shutdownCommand(nodes[1]); err != nil {
		t.Fatal(err)
	}
	if !waitRefused(nodes[1].addr, 15*time.Second) {
		t.Fatalf("node %s still accepts connections after SHUTDOWN", nodes[1].addr)
	}
	for _, n := range []*node{nodes[0], nodes[2]} {
		if !waitAnswer(n, 5*time.Second) {
			t.Fatalf("node %s stopped with its neighbour; script output:\n%s", n.addr, logs())
		}
	}
	select { // a script that ends with its first node would have done so by now
	case <-done:
		t.Fatalf("script ended when one node stopped: %v; output:\n%s", waitErr, logs())
	case <-time.After(time.Second):
	}

	// Ctrl-C: the whole foreground group gets SIGINT.
	if err := syscall.Kill(-pgid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("script still running 20s after SIGINT; output:\n%s", logs())
	}
	if waitErr != nil {
		t.Errorf("script ended with %v after SIGINT, want status 0; output:\n%s", waitErr, logs())
	}
	for _, n := range nodes {
		if !waitRefused(n.addr, 5*time.Second) {
			t.Errorf("node %s still accepts connections after the script ended", n.addr)
		}
	}
	log := logs()
	if !strings.Contains(log, "tier up on ports "+strings.Join(ports, " ")) {
		t.Errorf("script did not announce the tier; output:\n%s", log)
	}
	if strings.Contains(log, "second signal") { // a node signalled twice skips its drain
		t.Errorf("a node got a second signal from one Ctrl-C; output:\n%s", log)
	}
	if got := strings.Count(log, "stopped"); got < 3 {
		t.Errorf("%d nodes logged a clean stop, want 3; output:\n%s", got, log)
	}
}

// waitRefused polls until nothing accepts connections on addr.
func waitRefused(addr string, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if errors.Is(err, syscall.ECONNREFUSED) {
			return true
		}
		if err == nil {
			c.Close()
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}
