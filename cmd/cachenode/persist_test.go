// Warm restarts of the cachenode process: --dir, --save, SIGTERM.

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestWarmRestart: with save points, SIGTERM saves the snapshot and exits
// 0; the next process on the same --dir has the keys before it answers,
// without those that expired meanwhile. Without save points SIGTERM saves
// nothing.
func TestWarmRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	n := startNode(t, "--dir", dir, "--save", "3600 1")
	c := redis.NewClient(&redis.Options{Addr: n.addr, DisableIdentity: true})
	defer c.Close()
	for i := 0; i < 5000; i++ {
		if err := c.Set(ctx, fmt.Sprintf("k%d", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	c.Set(ctx, "ttl", "x", time.Hour)
	c.Set(ctx, "soon", "x", 300*time.Millisecond)
	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := n.waitExit(t, 30*time.Second); code != 0 {
		t.Fatalf("exit %d; output:\n%s", code, n.out.String())
	}
	if out := n.out.String(); !strings.Contains(out, "snapshot saved") {
		t.Fatalf("SIGTERM did not save:\n%s", out)
	}
	time.Sleep(400 * time.Millisecond)

	n2 := startNode(t, "--dir", dir)
	c2 := redis.NewClient(&redis.Options{Addr: n2.addr, DisableIdentity: true})
	defer c2.Close()
	if got := c2.DBSize(ctx).Val(); got != 5001 {
		t.Fatalf("DBSIZE %d after restart, want 5001; output:\n%s", got, n2.out.String())
	}
	if v := c2.Get(ctx, "k4999").Val(); v != "4999" {
		t.Fatalf("k4999 = %q", v)
	}
	if ttl := c2.TTL(ctx, "ttl").Val(); ttl < 59*time.Minute {
		t.Fatalf("TTL %v after restart", ttl)
	}
	if out := n2.out.String(); !strings.Contains(out, "snapshot loaded") || !strings.Contains(out, "expired_skipped=1") {
		t.Fatalf("load not logged:\n%s", out)
	}
	// No save points: SIGTERM leaves the file as it was.
	before, _ := os.Stat(filepath.Join(dir, "dump.rdb"))
	c2.Set(ctx, "new", "x", 0)
	n2.cmd.Process.Signal(syscall.SIGTERM)
	n2.waitExit(t, 30*time.Second)
	after, _ := os.Stat(filepath.Join(dir, "dump.rdb"))
	if !after.ModTime().Equal(before.ModTime()) || strings.Contains(n2.out.String(), "snapshot saved") {
		t.Fatal("SIGTERM without save points wrote the snapshot")
	}
}

// TestCorruptSnapshotStartsEmpty: a node whose snapshot is damaged starts
// empty and serves, with the file kept aside and an error in its log.
func TestCorruptSnapshotStartsEmpty(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "cache.rdb"), []byte("REDIS0010\xfa\x09redis-ver"), 0o644); err != nil {
		t.Fatal(err)
	}
	n := startNode(t, "--dir", dir, "--dbfilename", "cache.rdb")
	if got := cli(t, n, "DBSIZE"); got != "0" {
		t.Fatalf("DBSIZE %s", got)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || !strings.HasPrefix(entries[0].Name(), "cache.rdb.corrupt-") {
		t.Fatalf("dir holds %v", entries)
	}
	if out := n.out.String(); !strings.Contains(out, "level=ERROR") || !strings.Contains(out, "truncated") || !strings.Contains(out, "kept_as=") {
		t.Fatalf("log:\n%s", out)
	}
	// SHUTDOWN SAVE writes a new, valid file; SHUTDOWN NOSAVE does not.
	cli(t, n, "SET", "k", "v")
	if err := shutdownSave(n, "SAVE"); err != nil {
		t.Fatal(err)
	}
	n.waitExit(t, 30*time.Second)
	n2 := startNode(t, "--dir", dir, "--dbfilename", "cache.rdb")
	if got := cli(t, n2, "GET", "k"); got != "v" {
		t.Fatalf("GET k after SHUTDOWN SAVE and restart: %q", got)
	}
	cli(t, n2, "SET", "k", "changed")
	if err := shutdownSave(n2, "NOSAVE"); err != nil {
		t.Fatal(err)
	}
	n2.waitExit(t, 30*time.Second)
	n3 := startNode(t, "--dir", dir, "--dbfilename", "cache.rdb")
	if got := cli(t, n3, "GET", "k"); got != "v" {
		t.Fatalf("GET k after SHUTDOWN NOSAVE and restart: %q, want the saved v", got)
	}
}

// shutdownSave sends SHUTDOWN with mode and expects the connection to close.
func shutdownSave(n *node, mode string) error {
	c := redis.NewClient(&redis.Options{Addr: n.addr, DisableIdentity: true, MaxRetries: -1})
	defer c.Close()
	err := c.Do(context.Background(), "shutdown", mode).Err()
	if err != nil && !strings.Contains(err.Error(), "EOF") {
		return fmt.Errorf("SHUTDOWN %s: %v", mode, err)
	}
	return nil
}

// TestSnapshotFlagErrors: bad --save, --dir and --dbfilename values are
// usage errors (status 2) with a message naming the flag.
func TestSnapshotFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--save", "abc"}, `invalid value "abc" for --save`},
		{[]string{"--save", "10"}, `invalid value "10" for --save`},
		{[]string{"--dir", filepath.Join(t.TempDir(), "missing")}, "is not a directory that exists"},
		{[]string{"--dir", t.TempDir(), "--dbfilename", "a/b.rdb"}, "want a file name, not a path"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		out, err := exec.CommandContext(ctx, binary, tc.args...).CombinedOutput()
		cancel()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), tc.want) {
			t.Errorf("%q: %v, output %q; want status 2 and %q", tc.args, err, out, tc.want)
		}
	}
}
