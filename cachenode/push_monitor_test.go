// Tests of MONITOR, against redis-server and under load.

package cachenode

import (
	"fmt"
	"log/slog"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cachetier/cachetier/internal/redistest"
)

// TestMonitorMatchesRedis sends the same commands to redis-server and to
// cachenode, each with a MONITOR connection open, and requires the same
// monitor stream (times and client ports masked): which commands are shown
// (not rejected or administrative ones; a transaction's at EXEC), the
// quoting of binary arguments, AUTH's redaction, and the monitoring
// connection's own commands (the keyspace refused, CLIENT REPLY, RESET).
func TestMonitorMatchesRedis(t *testing.T) {
	want, got := againstRedis(t, func(addr string) string { return monitorTranscript(t, addr) })
	if got != want {
		gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
		for i := 0; i < len(gl) || i < len(wl); i++ {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Errorf("monitor stream differs from redis-server's at line %d:\ncachenode: %q\nredis:     %q", i+1, g, w)
				break
			}
		}
		t.Logf("cachenode's stream:\n%s\nredis-server's:\n%s", got, want)
	}
}

// monitorLine is a MONITOR line: time, database, client, arguments.
var monitorLine = regexp.MustCompile(`^\+(\d+)\.(\d{6}) \[0 ([^\]]+)\] (.*)\r\n$`)

// monitorTranscript runs the command sequence against addr and returns what
// the monitoring connection received, with each line's time checked and
// masked and client addresses named M (the monitor) and C (the other).
func monitorTranscript(t *testing.T, addr string) string {
	t.Helper()
	m := dialRaw(t, addr)
	if r := m.do("MONITOR"); r != "+OK\r\n" {
		t.Fatalf("MONITOR: %q", r)
	}
	c := dialRaw(t, addr)
	names := map[string]string{m.nc.LocalAddr().String(): "M", c.nc.LocalAddr().String(): "C"}
	steps := []struct {
		in      string
		replies int
	}{
		{"PING\r\n", 1},
		{encode("SET", "a", "q\"\\\n\r\t\a\b\x01\xff\x7f ~"), 1},
		{"get a\r\nnosuch x y\r\nget\r\nincr a\r\n", 4},
		{"auth foo\r\nauth a b\r\nauth a b c\r\n", 3},
		{"hello 2 auth default x\r\nhello 3\r\nhello 2 setname nn\r\n", 3},
		{"hello 3 foo auth default x\r\nhello 3 auth default x foo\r\nhello 4 auth default x\r\n", 3},
		{"client setname foo\r\nclient list\r\nclient id\r\nclient info\r\nclient nosuch\r\nclient kill id 999999\r\n", 6},
		{"client no-evict on\r\nclient tracking on\r\nclient tracking off\r\nclient getname\r\nclient pause 1\r\nclient unpause\r\n", 6},
		{"config get maxmemory\r\nconfig set timeout 0\r\nconfig resetstat\r\n", 3},
		{"multi\r\nset b 1\r\nincr b\r\nnosuch\r\nexec\r\n", 5},
		{"multi\r\nset b 1\r\nincr b\r\nexec\r\nexec\r\n", 5},
		{"multi\r\nping\r\ndiscard\r\nwatch b\r\nunwatch\r\n", 5},
		{"select 0\r\ndbsize\r\ninfo server\r\ncommand count\r\ncommand docs get\r\ncommand getkeys set k v\r\ntime\r\n", 7},
		{"client reply skip\r\nping\r\nclient reply off\r\nping\r\nclient reply on\r\n", 1},
		{"reset\r\necho \"a b\"\r\nset 123 456\r\nset 0123 -0\r\n", 4},
		{"flushall\r\nflushdb\r\nlastsave\r\nrole\r\nslowlog len\r\nlatency latest\r\nmemory usage a\r\nobject encoding a\r\n", 8},
		{"keys *\r\nscan 0\r\nexpire a 100\r\nttl a\r\npersist a\r\ntype a\r\ndel a\r\nunlink a\r\n", 8},
		{"mset x 1 y 2\r\nmget x y\r\ngetex x ex 10\r\nsetex z 10 v\r\n", 4},
		{"multi\r\nmonitor\r\nexec\r\nshutdown abort\r\n\r\n  \r\n", 4},
		{"echo end-of-client-commands\r\n", 1},
	}
	for _, st := range steps {
		c.send(st.in)
		for i := 0; i < st.replies; i++ {
			c.reply()
		}
	}
	var out strings.Builder
	read := func(until func(line string) bool) {
		t.Helper()
		for {
			_ = m.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
			line, err := m.br.ReadString('\n')
			if err != nil {
				t.Fatalf("reading the monitor stream: %v; so far:\n%s", err, out.String())
			}
			if g := monitorLine.FindStringSubmatch(line); g != nil {
				sec, _ := strconv.ParseInt(g[1], 10, 64)
				if d := time.Since(time.Unix(sec, 0)); d < -time.Minute || d > time.Minute {
					t.Errorf("monitor line time %s.%s is %v away from now", g[1], g[2], d)
				}
				name, ok := names[g[3]]
				if !ok {
					name = "?" + g[3]
				}
				line = "+TIME [0 " + name + "] " + g[4] + "\r\n"
			}
			out.WriteString(line)
			if until(line) {
				return
			}
		}
	}
	read(func(line string) bool { return strings.Contains(line, `"end-of-client-commands"`) })

	// The monitoring connection's own commands.
	m.send("PING\r\nGET a\r\nSET a 1\r\nMULTI\r\nPING\r\nEXEC\r\nMONITOR\r\n" +
		"CLIENT REPLY SKIP\r\nPING\r\nCLIENT REPLY OFF\r\nPING\r\nCLIENT REPLY ON\r\nRESET\r\n")
	read(func(line string) bool { return line == "+RESET\r\n" })
	// No longer monitoring: the next command of C is not shown.
	c.send("PING\r\n")
	c.reply()
	m.send("ECHO end\r\n")
	read(func(line string) bool { return line == "end\r\n" })
	return out.String()
}

// TestMonitorLineFormat checks the line format where redis-server is not
// at hand: time with microseconds, client, arguments quoted and escaped like
// Redis's sdscatrepr, redaction.
func TestMonitorLineFormat(t *testing.T) {
	now := time.Unix(1700000000, 42000)
	args := [][]byte{[]byte("AUTH"), []byte("secret"), []byte("x\"\\\n\r\t\a\b\x00\x7f\xff ~")}
	got := string(appendMonitorLine(nil, now, "127.0.0.1:5000", args, 1<<1))
	want := "+1700000000.000042 [0 127.0.0.1:5000] \"AUTH\" \"(redacted)\" \"x\\\"\\\\\\n\\r\\t\\a\\b\\x00\\x7f\\xff ~\"\r\n"
	if got != want {
		t.Errorf("line\n got %q\nwant %q", got, want)
	}
}

// TestMonitor checks MONITOR end to end on cachenode alone: lines arrive as
// other connections' commands run, an idle monitor outlives --timeout,
// CLIENT LIST shows the monitor (flag O), and a monitor that closes is
// dropped.
func TestMonitor(t *testing.T) {
	s := startServer(t, Config{Timeout: time.Second})
	m := dialRaw(t, s.Addr().String())
	if r := m.do("MONITOR"); r != "+OK\r\n" {
		t.Fatalf("MONITOR: %q", r)
	}
	// --timeout closes idle clients but, as in Redis, not monitors: they
	// only read. (The other client is dialled after the wait.)
	time.Sleep(1500 * time.Millisecond)
	c := dialRaw(t, s.Addr().String())
	if r := c.do("SET", "k", "v"); r != "+OK\r\n" {
		t.Fatalf("SET: %q", r)
	}
	line := m.reply()
	g := monitorLine.FindStringSubmatch(line)
	if g == nil || g[3] != c.nc.LocalAddr().String() || g[4] != `"SET" "k" "v"` {
		t.Fatalf("monitor line %q, want SET k v from %s", line, c.nc.LocalAddr())
	}
	list := c.do("CLIENT", "LIST")
	if !strings.Contains(list, "addr="+m.nc.LocalAddr().String()) || !regexp.MustCompile(`flags=O .* cmd=monitor `).MatchString(list) {
		t.Errorf("CLIENT LIST does not show the monitor (flags=O, cmd=monitor):\n%s", list)
	}
	m.nc.Close()
	for deadline := time.Now().Add(10 * time.Second); s.mon.n.Load() != 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("closed monitor still in the server's list")
		}
	}
	if r := c.do("GET", "k"); r != "$1\r\nv\r\n" {
		t.Errorf("GET after the monitor left: %q", r)
	}
}

// TestMonitorSlowReader: a monitor that does not read its stream is closed
// once more than the push limit is queued for it, with a warning; the
// commands feeding it are not held up and other clients are unaffected.
func TestMonitorSlowReader(t *testing.T) {
	var logs redistest.Buffer
	s := startServer(t, Config{
		pushLimit: 64 << 10,
		Logger:    slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	d := net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) { // a small window: the server's writes stall soon
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	nc, err := d.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := nc.Write([]byte("MONITOR\r\n")); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); s.mon.n.Load() != 1; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("MONITOR did not register")
		}
	}
	c := dialRaw(t, s.Addr().String())
	val := strings.Repeat("v", 1024)
	batch := strings.Repeat(encode("SET", "k", val), 100)
	for i := 0; s.mon.n.Load() != 0; i++ {
		if i == 2000 { // 200k commands: ~200 MB of monitor lines
			t.Fatal("the monitor that does not read was not closed")
		}
		c.send(batch)
		for j := 0; j < 100; j++ {
			if r := c.reply(); r != "+OK\r\n" {
				t.Fatalf("SET: %q", r)
			}
		}
	}
	if !strings.Contains(logs.String(), "closing client that does not read its MONITOR output") {
		t.Errorf("no warning logged:\n%s", logs.String())
	}
	if r := dialRaw(t, s.Addr().String()).do("PING"); r != "+PONG\r\n" {
		t.Errorf("PING from another client: %q", r)
	}
}

// TestMonitorConcurrent: with several clients pipelining at once, the
// monitor sees every command exactly once, each client's in its order.
func TestMonitorConcurrent(t *testing.T) {
	s := startServer(t, Config{})
	m := dialRaw(t, s.Addr().String())
	if r := m.do("MONITOR"); r != "+OK\r\n" {
		t.Fatalf("MONITOR: %q", r)
	}
	const clients, perClient, batch = 4, 400, 50
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := 0; i < clients; i++ {
		c := dialRaw(t, s.Addr().String())
		wg.Add(1)
		go func(i int, c *rawConn) {
			defer wg.Done()
			for n := 0; n < perClient; n += batch {
				var b strings.Builder
				for j := n; j < n+batch; j++ {
					b.WriteString(encode("SET", "c"+strconv.Itoa(i), strconv.Itoa(j)))
				}
				if _, err := c.nc.Write([]byte(b.String())); err != nil {
					errs <- err
					return
				}
				for j := 0; j < batch; j++ {
					if r, err := readReply(c.br); err != nil || r != "+OK\r\n" {
						errs <- fmt.Errorf("client %d: %q %v", i, r, err)
						return
					}
				}
			}
		}(i, c)
	}
	next := make(map[string]int) // client key -> next value expected
	for seen := 0; seen < clients*perClient; seen++ {
		line := m.reply()
		g := monitorLine.FindStringSubmatch(line)
		if g == nil {
			t.Fatalf("not a monitor line: %q", line)
		}
		f := strings.Fields(g[4]) // "SET" "cN" "value"
		if len(f) != 3 || f[0] != `"SET"` {
			t.Fatalf("unexpected line %q", line)
		}
		key := strings.Trim(f[1], `"`)
		val, err := strconv.Atoi(strings.Trim(f[2], `"`))
		if err != nil {
			t.Fatalf("unexpected line %q", line)
		}
		if val != next[key] {
			t.Fatalf("%s: line for value %d, want %d (lines out of order or lost)", key, val, next[key])
		}
		next[key]++
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
