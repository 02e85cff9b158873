// Tests of WAIT and CLIENT UNBLOCK.

package cachenode

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestWaitUnblockMatchesRedis runs a blocked WAIT scenario with two
// connections against redis-server and cachenode and requires the same
// replies: CLIENT LIST and INFO show the blocked client, CLIENT UNBLOCK ends
// the wait as its timeout would (or with -UNBLOCKED), a pipelined command
// runs after the WAIT, and a client that is not blocked gets 0.
func TestWaitUnblockMatchesRedis(t *testing.T) {
	want, got := againstRedis(t, func(addr string) string { return waitTranscript(t, addr) })
	t.Logf("cachenode:\n%s", got)
	if got != want {
		t.Errorf("blocked WAIT differs from redis-server:\ncachenode:\n%s\nredis:\n%s", got, want)
	}
}

var (
	listFlags   = regexp.MustCompile(`flags=\S+|cmd=\S+`)
	infoBlocked = regexp.MustCompile(`blocked_clients:\d+`)
)

func waitTranscript(t *testing.T, addr string) string {
	t.Helper()
	a, b := dialRaw(t, addr), dialRaw(t, addr)
	id := strings.TrimSpace(strings.TrimPrefix(a.do("CLIENT", "ID"), ":"))
	var out strings.Builder
	note := func(who, s string) { out.WriteString(who + ": " + s) }
	// blocked reports whether a is listed as blocked (both servers get
	// there at their own pace).
	blocked := func() bool {
		return strings.Contains(b.do("CLIENT", "LIST", "ID", id), "flags=b ")
	}
	waitBlocked := func() {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !blocked(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("WAIT did not block")
			}
		}
	}

	a.send("WAIT 1 0\r\nPING\r\n")
	waitBlocked()
	note("list", strings.Join(listFlags.FindAllString(b.do("CLIENT", "LIST", "ID", id), -1), " ")+"\n")
	note("info", infoBlocked.FindString(b.do("INFO", "clients"))+"\n")
	note("b", b.do("CLIENT", "UNBLOCK", id))
	note("a", a.reply())
	note("a", a.reply())
	note("info", infoBlocked.FindString(b.do("INFO", "clients"))+"\n")
	note("b", b.do("CLIENT", "UNBLOCK", id))

	a.send("WAIT 3 0\r\n")
	waitBlocked()
	note("b", b.do("CLIENT", "UNBLOCK", id, "ERROR"))
	note("a", a.reply())
	note("list", strings.Join(listFlags.FindAllString(b.do("CLIENT", "LIST", "ID", id), -1), " ")+"\n")

	a.send("WAIT 1 0\r\n")
	waitBlocked()
	note("b", b.do("CLIENT", "UNBLOCK", id, "TIMEOUT"))
	note("a", a.reply())
	return out.String()
}

// TestWait checks on cachenode alone what the differential test cannot
// compare: the timeout's length, input buffered while blocked, the blocked
// client leaving, and Shutdown ending a wait that has no timeout.
func TestWait(t *testing.T) {
	s := startServer(t, Config{})
	c := dialRaw(t, s.Addr().String())
	start := time.Now()
	c.send("WAIT 1 200\r\n")
	time.Sleep(50 * time.Millisecond)
	c.send("SET k v\r\nGET k\r\n") // buffered while blocked, run after
	if r := c.reply(); r != ":0\r\n" {
		t.Fatalf("WAIT 1 200: %q", r)
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("WAIT 1 200 answered after %v", d)
	}
	if r := c.reply() + c.reply(); r != "+OK\r\n$1\r\nv\r\n" {
		t.Errorf("commands sent during WAIT: %q", r)
	}

	// A blocked client that leaves frees its slot.
	gone := dialRaw(t, s.Addr().String())
	gone.send("WAIT 1 0\r\n")
	for deadline := time.Now().Add(10 * time.Second); s.stats.blocked.Load() != 1; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("WAIT did not block")
		}
	}
	gone.nc.Close()
	conns := func() int {
		s.net.mu.Lock()
		defer s.net.mu.Unlock()
		return len(s.net.conns)
	}
	for deadline := time.Now().Add(10 * time.Second); s.stats.blocked.Load() != 0 || conns() != 1; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("blocked client that closed still counted: blocked %d, connections %d", s.stats.blocked.Load(), conns())
		}
	}

	// Shutdown does not wait for a WAIT without a timeout.
	c.send("WAIT 1 0\r\n")
	for deadline := time.Now().Add(10 * time.Second); s.stats.blocked.Load() != 1; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("WAIT did not block")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start = time.Now()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown with a client in WAIT: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Shutdown took %v with a client in WAIT", d)
	}
	if !c.closed() {
		t.Error("blocked client not closed by Shutdown")
	}
}
