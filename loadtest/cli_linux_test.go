//go:build linux

package loadtest

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCLIInterrupt sends SIGINT to a running loadtest (what Ctrl-C does):
// it must stop its nodes and client processes, print the partial summary
// and exit with 130.
func TestCLIInterrupt(t *testing.T) {
	exe := needExe(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, "steady", "--nodes", "2", "--procs", "2", "--concurrency", "4",
		"--rate", "200", "--duration", "60s")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stdout strings.Builder
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The first progress line means nodes and clients are running.
	sc := bufio.NewScanner(stderr)
	if !sc.Scan() {
		t.Fatalf("no progress line: %v", sc.Err())
	}
	kids := children(cmd.Process.Pid)
	if len(kids) != 4 {
		t.Errorf("%d child processes, want 2 nodes + 2 clients: %v", len(kids), kids)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	go func() {
		for sc.Scan() {
		}
	}()
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Errorf("exit: %v, want status 130", err)
	}
	if !strings.Contains(stdout.String(), "INTERRUPTED") {
		t.Errorf("no partial summary:\n%s", stdout.String())
	}
	for _, pid := range kids {
		if syscall.Kill(pid, 0) == nil {
			t.Errorf("child %d still running after loadtest exited", pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// children lists the PIDs whose parent is pid (Linux /proc).
func children(pid int) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so cut after ')'.
		s := string(b)
		if i := strings.LastIndexByte(s, ')'); i >= 0 {
			f := strings.Fields(s[i+1:])
			if len(f) > 1 && f[1] == strconv.Itoa(pid) {
				out = append(out, p)
			}
		}
	}
	return out
}
