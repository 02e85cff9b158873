package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cachetier/cachetier/cachenode"
)

// TestSlotFlag runs the binary with --slot N, without --slot, and with bad
// values; the node reports its slot with CONFIG GET slot and logs it.
func TestSlotFlag(t *testing.T) {
	n := startNode(t, "--slot", "7")
	if got := configGet(t, n.addr, "slot"); got != "7" {
		t.Errorf("--slot 7: CONFIG GET slot = %q", got)
	}
	waitOutput(t, n, "slot=7")

	n = startNode(t)
	if got := configGet(t, n.addr, "slot"); got != "" {
		t.Errorf("no --slot: CONFIG GET slot = %q, want empty", got)
	}
	waitOutput(t, n, "slot=none")

	for _, v := range []string{"-1", "65536", "x", "3.0", "AUTO"} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		out, err := exec.CommandContext(ctx, binary, "--slot", v).CombinedOutput()
		cancel()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "--slot") {
			t.Errorf("--slot %q: %v, want exit status 2 naming --slot; output:\n%s", v, err, out)
		}
	}
}

// TestSlotAuto runs --slot auto on this machine: the slot is the hostname's
// ordinal when it has one, else startup fails with exit status 2 and a
// message naming the hostname. (parseSlot's test covers both with fake
// hostnames.)
func TestSlotAuto(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Skipf("no hostname: %v", err)
	}
	want, err := cachenode.SlotFromHostname(host)
	if err == nil {
		n := startNode(t, "--slot", "auto")
		if got := configGet(t, n.addr, "slot"); got != itoa(want) {
			t.Errorf("--slot auto on %q: CONFIG GET slot = %q, want %d", host, got, want)
		}
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, binary, "--slot", "auto", "--port", "0").CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "--slot auto") || !strings.Contains(string(out), host) {
		t.Errorf("--slot auto on %q: %v, want exit status 2 naming the hostname; output:\n%s", host, err, out)
	}
}

// TestSlotAutoStatefulSetHostname runs --slot auto in a UTS namespace of its
// own whose hostname is a StatefulSet pod's (cache-2): the node reports slot
// 2. It needs unshare(1) and the right to create the namespace (root).
func TestSlotAutoStatefulSetHostname(t *testing.T) {
	if err := exec.Command("unshare", "-u", "true").Run(); err != nil {
		t.Skipf("cannot create a UTS namespace to set the hostname (unshare -u: %v); TestParseSlot covers the rule", err)
	}
	wrapper := []string{"unshare", "-u", "sh", "-c", `hostname cache-2 && exec "$@"`, "sh"}
	n := startNodeWith(t, wrapper, "--slot", "auto")
	if got := configGet(t, n.addr, "slot"); got != "2" {
		t.Errorf("--slot auto as cache-2: CONFIG GET slot = %q, want 2", got)
	}
	waitOutput(t, n, "slot=2")
}

func TestParseSlot(t *testing.T) {
	host := func(h string) func() (string, error) { return func() (string, error) { return h, nil } }
	for _, tc := range []struct {
		v, host string
		slot    int
		ok      bool
		err     string
	}{
		{"", "cache-3", 0, false, ""},
		{"0", "x", 0, true, ""},
		{"65535", "x", 65535, true, ""},
		{"auto", "cache-3", 3, true, ""},
		{"auto", "cache-3.cache.prod.svc.cluster.local", 3, true, ""},
		{"auto", "laptop", 0, false, `--slot auto: hostname has no StatefulSet ordinal: "laptop"`},
		{"65536", "x", 0, false, "invalid value"},
		{" 1", "x", 0, false, "invalid value"},
	} {
		slot, ok, err := parseSlot(tc.v, host(tc.host))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("parseSlot(%q, %q) = %d, %v, %v; want error containing %q", tc.v, tc.host, slot, ok, err, tc.err)
			}
			continue
		}
		if err != nil || slot != tc.slot || ok != tc.ok {
			t.Errorf("parseSlot(%q, %q) = %d, %v, %v; want %d, %v", tc.v, tc.host, slot, ok, err, tc.slot, tc.ok)
		}
	}
	if _, _, err := parseSlot("auto", func() (string, error) { return "", errors.New("boom") }); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("parseSlot with a failing hostname: %v", err)
	}
}

// waitOutput waits until the node's output contains s.
func waitOutput(t *testing.T, n *node, s string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(n.out.String(), s); {
		if time.Now().After(deadline) {
			t.Fatalf("output lacks %q:\n%s", s, n.out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
