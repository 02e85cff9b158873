// Compatibility with client tools and libraries: redis-cli, ioredis, node-redis.

package cachenode_test

// Compatibility with clients that are not go-redis: ioredis and node-redis
// (through test/clients/run.mjs) and redis-cli, both in its interactive mode
// (which sends COMMAND DOCS for its hints and help) and one command at a time.
// Each check runs against an in-process cachenode and, when redis-server is
// installed, against stock Redis too, which proves the expectations right.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cachetier/cachetier/cachenode"
	"github.com/cachetier/cachetier/internal/redistest"
	"github.com/redis/go-redis/v9"
)

const testPassword = "compat-s3cret"

// clientTarget is a server under test: an in-process cachenode or a redis-server.
type clientTarget struct {
	name     string
	addr     string
	port     int
	password string
}

// startClientsNode runs a cachenode on a free loopback port until the test ends.
func startClientsNode(t *testing.T, password string) clientTarget {
	t.Helper()
	s, err := cachenode.New(cachenode.Config{
		Addr:        "127.0.0.1:0",
		RequirePass: password,
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatalf("cachenode.New: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	for deadline := time.Now().Add(10 * time.Second); s.Addr() == nil; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("cachenode did not start serving within 10s")
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, cachenode.ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	addr := s.Addr().(*net.TCPAddr)
	return clientTarget{name: "cachenode", addr: addr.String(), port: addr.Port, password: password}
}

// startClientsRedis runs a stock redis-server (the test skips when it is absent).
func startClientsRedis(t *testing.T, password string) clientTarget {
	t.Helper()
	s := redistest.Start(t)
	if password != "" {
		// redistest waits for an unauthenticated PING, so the password is
		// set once the server is up.
		rdb := redis.NewClient(&redis.Options{Addr: s.Addr})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := rdb.ConfigSet(ctx, "requirepass", password).Err()
		cancel()
		rdb.Close()
		if err != nil {
			t.Fatalf("CONFIG SET requirepass: %v", err)
		}
	}
	return clientTarget{name: "redis-server", addr: s.Addr, port: s.Port, password: password}
}

// eachClientTarget runs fn in a subtest per server: cachenode, then redis-server.
func eachClientTarget(t *testing.T, password string, fn func(t *testing.T, tg clientTarget)) {
	for _, srv := range []struct {
		name  string
		start func(*testing.T, string) clientTarget
	}{{"cachenode", startClientsNode}, {"redis-server", startClientsRedis}} {
		t.Run(srv.name, func(t *testing.T) { fn(t, srv.start(t, password)) })
	}
}

// ---------------------------------------------------------------------------
// ioredis and node-redis

// clientsDir returns test/clients, skipping the test when node or the npm
// packages are not installed.
func clientsDir(t *testing.T) (node, dir string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed; skipping the ioredis/node-redis checks (install Node.js 20+, then run `npm ci --prefix test/clients`)")
	}
	dir, err = filepath.Abs(filepath.Join("..", "test", "clients"))
	if err != nil {
		t.Fatal(err)
	}
	for _, pkg := range []string{"ioredis", "ioredis6", "redis", "redis6"} {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", pkg, "package.json")); err != nil {
			t.Skipf("npm packages not installed in %s; run `npm ci --prefix test/clients` to enable the ioredis/node-redis checks", dir)
		}
	}
	return node, dir
}

var summaryLine = regexp.MustCompile(`(?m)^(\d+) passed, (\d+) failed$`)

// runNodeClients runs run.mjs against tg (env added to its environment) and
// fails the test, with the script's output, unless every check passed.
func runNodeClients(t *testing.T, tg clientTarget, env ...string) {
	out, err := nodeClients(t, tg, env...)
	m := summaryLine.FindAllStringSubmatch(out, -1)
	switch {
	case err != nil || len(m) == 0:
		t.Fatalf("node run.mjs %s: %v\n%s", tg.addr, err, out)
	case m[len(m)-1][2] != "0":
		t.Fatalf("node run.mjs %s: %s failed\n%s", tg.addr, m[len(m)-1][2], out)
	case m[len(m)-1][1] == "0":
		t.Fatalf("node run.mjs %s: no check ran\n%s", tg.addr, out)
	}
	t.Logf("%s: %s", tg.name, m[len(m)-1][0])
	if testing.Verbose() {
		t.Log(out)
	}
}

// nodeClients runs run.mjs against tg, with env added to the environment,
// and returns its output and exit error.
func nodeClients(t *testing.T, tg clientTarget, env ...string) (string, error) {
	node, dir := clientsDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	args := []string{"run.mjs", tg.addr}
	if tg.password != "" {
		args = append(args, tg.password)
	}
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "CLIENTS_TIMEOUT_MS=150000"), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func TestNodeClients(t *testing.T) {
	clientsDir(t)
	eachClientTarget(t, "", func(t *testing.T, tg clientTarget) { runNodeClients(t, tg) })
}

// TestNodeClientsRequirePass checks each library's AUTH handshake, WRONGPASS
// and NOAUTH; the command suite is cut short (TestNodeClients runs it whole).
func TestNodeClientsRequirePass(t *testing.T) {
	clientsDir(t)
	eachClientTarget(t, testPassword, func(t *testing.T, tg clientTarget) { runNodeClients(t, tg, "CLIENTS_SUITE=short") })
}

// TestNodeClientsSeeSwallowedErrors checks that run.mjs fails when the
// server refuses a handshake command whose error the library swallows:
// ioredis skips its INFO ready check, with only a console warning, when INFO
// is refused with NOPERM.
func TestNodeClientsSeeSwallowedErrors(t *testing.T) {
	clientsDir(t)
	tg := startClientsRedis(t, "")
	rdb := goRedis(t, tg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := rdb.Do(ctx, "ACL", "SETUSER", "default", "-info").Err(); err != nil {
		t.Fatalf("ACL SETUSER default -info: %v", err)
	}
	out, err := nodeClients(t, tg, "CLIENTS_ONLY=^ioredis 5")
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("run.mjs exited with %v, want exit status 1\n%s", err, out)
	}
	for _, want := range []string{
		"FAIL ioredis 5 (RESP2): connect: AssertionError: error replies to the connection handshake",
		"info -> -NOPERM this user has no permissions to run the 'info' command",
		"FAIL no warnings printed by the libraries",
		"Skipping the ready check because INFO command fails",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if m := summaryLine.FindAllStringSubmatch(out, -1); len(m) == 0 || m[len(m)-1][2] == "0" {
		t.Errorf("no failure counted in the summary line:\n%s", out)
	}
}

// ---------------------------------------------------------------------------
// redis-cli

// redisCLI returns the path of redis-cli, skipping the test when it is absent.
func redisCLI(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Skip("redis-cli not installed (apt-get install -y redis-tools); skipping the redis-cli checks")
	}
	return p
}

// cliEnv is a small, predictable environment for redis-cli: no rc file, no
// history file, no REDISCLI_AUTH from the caller.
func cliEnv(t *testing.T, term string) []string {
	home := t.TempDir()
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"TERM=" + term,
		"SHELL=/bin/sh",
		"REDISCLI_HISTFILE=" + filepath.Join(home, "history"),
		"REDISCLI_RCFILE=" + filepath.Join(home, "redisclirc"),
	}
}

// goRedis returns a go-redis client for tg, closed when the test ends.
func goRedis(t *testing.T, tg clientTarget) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: tg.addr, Password: tg.password})
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// docsSummary returns the summary the server's COMMAND DOCS gives for cmd.
func docsSummary(t *testing.T, rdb *redis.Client, cmd string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, err := rdb.Do(ctx, "COMMAND", "DOCS", cmd).Result()
	if err != nil {
		t.Fatalf("COMMAND DOCS %s: %v", cmd, err)
	}
	var find func(v any) (string, bool)
	find = func(v any) (string, bool) {
		switch v := v.(type) {
		case map[any]any:
			if s, ok := v["summary"].(string); ok {
				return s, true
			}
			for _, e := range v {
				if s, ok := find(e); ok {
					return s, true
				}
			}
		case []any:
			for i, e := range v {
				if e == "summary" && i+1 < len(v) {
					if s, ok := v[i+1].(string); ok {
						return s, true
					}
				}
				if s, ok := find(e); ok {
					return s, true
				}
			}
		}
		return "", false
	}
	s, ok := find(v)
	if !ok {
		t.Fatalf("COMMAND DOCS %s: no summary in %#v", cmd, v)
	}
	return s
}

// commandStat returns the INFO commandstats line of cmd ("command|docs"), or "".
func commandStat(t *testing.T, rdb *redis.Client, cmd string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	info, err := rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		t.Fatalf("INFO commandstats: %v", err)
	}
	for _, line := range strings.Split(info, "\n") {
		if strings.HasPrefix(line, "cmdstat_"+cmd+":") {
			return strings.TrimSpace(line)
		}
	}
	return ""
}

// ttySession drives an interactive program through the pseudo-terminal that
// script(1) from util-linux allocates: it types lines and waits for output.
type ttySession struct {
	t     *testing.T
	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan struct{} // closed when the program has exited
	err   error         // the program's exit status, set before done closes

	mu      sync.Mutex // protects out, answers and cursor, and serializes writes to stdin
	out     []byte     // everything the terminal showed
	answers int        // cursor-position queries answered
	cursor  int        // where the next expect starts looking
}

// startTTY runs shellCmd (a /bin/sh command line) on a new pseudo-terminal.
// It skips the test when script(1) from util-linux is not installed.
func startTTY(t *testing.T, env []string, shellCmd string) *ttySession {
	t.Helper()
	script, err := exec.LookPath("script")
	if err != nil {
		t.Skip("script (util-linux) not installed; skipping the interactive redis-cli check")
	}
	if v, err := exec.Command(script, "--version").CombinedOutput(); err != nil || !bytes.Contains(v, []byte("util-linux")) {
		t.Skipf("%s is not util-linux script (%q); skipping the interactive redis-cli check", script, v)
	}
	// -q: no banner, -f: flush as output comes, -e: exit with the child's
	// status, -c: the command; the typescript goes to /dev/null.
	s := &ttySession{t: t, done: make(chan struct{})}
	s.cmd = exec.Command(script, "-qfec", shellCmd, "/dev/null")
	s.cmd.Env = env
	if s.stdin, err = s.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s.cmd.Stderr = s.cmd.Stdout
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start script: %v", err)
	}
	go s.read(stdout)
	t.Cleanup(func() {
		// Normally the session has ended (wait); after a failed expect it
		// has not, and is killed (by PID) at once.
		select {
		case <-s.done:
		default:
			_ = s.cmd.Process.Kill()
			<-s.done
		}
	})
	return s
}

func (s *ttySession) read(r io.Reader) {
	buf := make([]byte, 4096)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			s.mu.Lock()
			s.out = append(s.out, buf[:n]...)
			// A terminal answers "where is the cursor?" (ESC [ 6 n); linenoise
			// asks when it cannot get the width with an ioctl.
			for q := bytes.Count(s.out, []byte("\x1b[6n")); s.answers < q; s.answers++ {
				_, _ = io.WriteString(s.stdin, "\x1b[1;80R")
			}
			s.mu.Unlock()
		}
		if err != nil {
			break
		}
	}
	s.err = s.cmd.Wait()
	close(s.done)
}

func (s *ttySession) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.out)
}

// send types text (use "\r" for Enter, as a terminal sends it).
func (s *ttySession) send(text string) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := io.WriteString(s.stdin, text); err != nil {
		s.t.Fatalf("type %q: %v", text, err)
	}
}

// expect waits until want appears after the previous match and moves past it.
func (s *ttySession) expect(want string) {
	s.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		s.mu.Lock()
		i := bytes.Index(s.out[s.cursor:], []byte(want))
		if i >= 0 {
			s.cursor += i + len(want)
		}
		s.mu.Unlock()
		if i >= 0 {
			return
		}
		select {
		case <-s.done:
			s.t.Fatalf("program exited (%v) before showing %q. Terminal:\n%s", s.err, want, s.output())
		default:
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%q did not show within 20s. Terminal:\n%s", want, s.output())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// wait waits for the program to exit and returns its exit error.
func (s *ttySession) wait() error {
	s.t.Helper()
	select {
	case <-s.done:
		_ = s.stdin.Close()
		return s.err
	case <-time.After(20 * time.Second):
		s.t.Fatalf("program did not exit within 20s. Terminal:\n%s", s.output())
		return nil
	}
}

// ansi matches the terminal control sequences redis-cli and linenoise write.
var ansi = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]`)

// testInteractiveCLI types into redis-cli's interactive mode and checks the
// replies, its help (built from COMMAND DOCS) and that COMMAND DOCS succeeded.
func testInteractiveCLI(t *testing.T, tg clientTarget, flags ...string) {
	cli := redisCLI(t)
	rdb := goRedis(t, tg)
	summary := docsSummary(t, rdb, "get")

	line := fmt.Sprintf("stty cols 200 rows 50 && exec %s -h 127.0.0.1 -p %d %s", cli, tg.port, strings.Join(flags, " "))
	if tg.password != "" {
		line += " --no-auth-warning -a " + tg.password
	}
	s := startTTY(t, cliEnv(t, "xterm"), line)
	prompt := fmt.Sprintf("127.0.0.1:%d> ", tg.port)
	s.expect(prompt)
	s.send("set k v\r")
	s.expect("\nOK")
	s.expect(prompt)
	s.send("get k\r")
	s.expect("\n\"v\"")
	s.expect(prompt)
	s.send("help get\r")
	s.expect("summary:")
	s.expect(" " + summary)
	s.expect(prompt)
	s.send("quit\r")
	if err := s.wait(); err != nil {
		t.Fatalf("redis-cli exited with %v. Terminal:\n%s", err, s.output())
	}
	out := ansi.ReplaceAllString(s.output(), "")
	for _, bad := range []string{"ERR", "(error)", "Error", "Unknown"} {
		if strings.Contains(out, bad) {
			t.Errorf("terminal shows %q:\n%s", bad, out)
		}
	}
	// The argument syntax redis-cli shows comes from the "arguments" of
	// each COMMAND DOCS entry.
	t.Run("arguments from COMMAND DOCS", func(t *testing.T) {
		// help shows the syntax.
		if !strings.Contains(strings.ReplaceAll(out, "\r", ""), "\n  GET key\n") {
			t.Errorf("help get does not show the syntax %q:\n%q", "GET key", out)
		}
		// While "set k " is typed, the rest of SET's syntax shows as a hint.
		// (Redis 7.2+ spells the alternatives "[NX | XX]".)
		if !regexp.MustCompile(`set k value \[NX ?\| ?XX\]`).MatchString(out) {
			t.Errorf("no hint for SET (want %q) in the terminal:\n%q", "set k value [NX|XX]", out)
		}
	})
	// redis-cli builds its help and hints from COMMAND DOCS when it starts.
	st := commandStat(t, rdb, "command|docs")
	if !regexp.MustCompile(`calls=[1-9]\d*,.*rejected_calls=0,failed_calls=0$`).MatchString(st) {
		t.Errorf("COMMAND DOCS stats %q, want at least one call and no failures", st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if v, err := rdb.Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Errorf("GET k after the session = %q, %v; want \"v\"", v, err)
	}
}

func TestRedisCLIInteractive(t *testing.T) {
	redisCLI(t)
	eachClientTarget(t, "", func(t *testing.T, tg clientTarget) { testInteractiveCLI(t, tg) })
}

func TestRedisCLIInteractiveRequirePass(t *testing.T) {
	redisCLI(t)
	eachClientTarget(t, testPassword, func(t *testing.T, tg clientTarget) { testInteractiveCLI(t, tg) })
}

// TestRedisCLIInteractiveRESP3 is the interactive session after HELLO 3:
// COMMAND DOCS then comes back as maps.
func TestRedisCLIInteractiveRESP3(t *testing.T) {
	redisCLI(t)
	eachClientTarget(t, "", func(t *testing.T, tg clientTarget) { testInteractiveCLI(t, tg, "-3") })
}

// cliCase is one redis-cli run: arguments after -h/-p, optional standard
// input, and anchored regular expressions for its standard output and error.
type cliCase struct {
	args    []string
	stdin   string
	want    string // regexp for stdout, anchored at both ends
	wantErr string // regexp for stderr, anchored at both ends
	sorted  bool   // sort stdout's lines first (SCAN order is unspecified)
	exact   bool   // want is the exact stdout, not a regexp (binary output)
}

func runCLICases(t *testing.T, tg clientTarget, cases []cliCase) {
	cli := redisCLI(t)
	env := cliEnv(t, "dumb")
	for i, c := range cases {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		args := append([]string{"-h", "127.0.0.1", "-p", strconv.Itoa(tg.port)}, c.args...)
		cmd := exec.CommandContext(ctx, cli, args...)
		cmd.Env = env
		cmd.Stdin = strings.NewReader(c.stdin)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		cancel()
		got := stdout.String()
		if c.sorted {
			lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
			sort.Strings(lines)
			got = strings.Join(lines, "\n") + "\n"
		}
		name := fmt.Sprintf("#%d redis-cli %s", i, strings.Join(c.args, " "))
		if err != nil {
			t.Errorf("%s: %v (stderr %q)", name, err, stderr.String())
			continue
		}
		if c.exact && got != c.want || !c.exact && !regexp.MustCompile(`\A(?:`+c.want+`)\z`).MatchString(got) {
			t.Errorf("%s:\n got stdout %q\nwant /%s/", name, got, c.want)
		}
		if !regexp.MustCompile(`\A(?:` + c.wantErr + `)\z`).MatchString(stderr.String()) {
			t.Errorf("%s:\n got stderr %q\nwant /%s/", name, stderr.String(), c.wantErr)
		}
	}
}

func TestRedisCLI(t *testing.T) {
	redisCLI(t)
	var scanIn strings.Builder
	var scanAll, scan1 []string
	for i := 1; i <= 25; i++ {
		fmt.Fprintf(&scanIn, "set scan:%d x\n", i)
		scanAll = append(scanAll, fmt.Sprintf("scan:%d", i))
		if strings.HasPrefix(strconv.Itoa(i), "1") {
			scan1 = append(scan1, fmt.Sprintf("scan:%d", i))
		}
	}
	sort.Strings(scanAll)
	sort.Strings(scan1)
	lines := func(keys []string) string { return regexp.QuoteMeta(strings.Join(keys, "\n") + "\n") }
	binValue := "a\x00b\xff\r\n\x00"
	var pipe strings.Builder
	for i := 0; i < 100; i++ {
		k, v := fmt.Sprintf("pipe:%d", i), strconv.Itoa(i)
		fmt.Fprintf(&pipe, "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", len(k), k, len(v), v)
	}
	pipeIn := pipe.String()
	q := regexp.QuoteMeta
	cases := []cliCase{
		{args: []string{"--no-raw", "set", "k", "v"}, want: `OK\n`},
		{args: []string{"--no-raw", "get", "k"}, want: `"v"\n`},
		{args: []string{"--no-raw", "get", "nokey"}, want: `\(nil\)\n`},
		{args: []string{"--no-raw", "incr", "n"}, want: `\(integer\) 1\n`},
		{args: []string{"--no-raw", "incr", "k"}, want: q("(error) ERR value is not an integer or out of range\n")},
		{args: []string{"incr", "k"}, want: q("ERR value is not an integer or out of range\n\n")},
		{args: []string{"--no-raw", "mset", "a", "1", "b", "2"}, want: `OK\n`},
		{args: []string{"--no-raw", "mget", "a", "nokey", "b"}, want: q("1) \"1\"\n2) (nil)\n3) \"2\"\n")},
		{args: []string{"--no-raw", "set", "t", "v", "ex", "100"}, want: `OK\n`},
		{args: []string{"--no-raw", "ttl", "t"}, want: `\(integer\) (100|[1-9]\d)\n`},
		{args: []string{"--no-raw", "incrbyfloat", "f", "1.5"}, want: `"1\.5"\n`},
		{args: []string{"--no-raw", "set", "esc", "a\"b\n\xff"}, want: `OK\n`},
		{args: []string{"--no-raw", "get", "esc"}, want: q(`"a\"b\n\xff"` + "\n")},
		{args: []string{"--no-raw", "exists", "k", "nokey", "a"}, want: `\(integer\) 2\n`},
		{args: []string{"--no-raw", "del", "a", "nokey"}, want: `\(integer\) 1\n`},
		{args: []string{"--no-raw", "scan", "0", "match", "zz*", "count", "1000"}, want: q("1) \"0\"\n2) (empty array)\n")},
		{args: []string{"--no-raw", "wrongcmd", "x"}, want: q("(error) ERR unknown command 'wrongcmd', with args beginning with: 'x' \n")},
		{args: []string{"--no-raw", "get"}, want: q("(error) ERR wrong number of arguments for 'get' command\n")},
		// RESP3
		{args: []string{"-3", "--no-raw", "ping"}, want: `PONG\n`},
		{args: []string{"-3", "--no-raw", "get", "k"}, want: `"v"\n`},
		{args: []string{"-3", "--no-raw", "mget", "b", "nokey"}, want: q("1) \"2\"\n2) (nil)\n")},
		{args: []string{"-3", "--no-raw", "incrbyfloat", "f", "1"}, want: `"2\.5"\n`},
		{args: []string{"-3", "--no-raw", "config", "get", "maxmemory"}, want: q(`1# "maxmemory" => "0"` + "\n")},
		{args: []string{"-3", "--no-raw", "set", "k", "v2", "get"}, want: `"v"\n`},
		{args: []string{"-3", "--no-raw", "ttl", "nokey"}, want: `\(integer\) -2\n`},
		{args: []string{"-3", "--no-raw", "exists", "k"}, want: `\(integer\) 1\n`},
		{args: []string{"-3", "--no-raw", "incr", "k"}, want: q("(error) ERR value is not an integer or out of range\n")},
		{args: []string{"-3", "--no-raw", "scan", "0", "match", "zz*", "count", "1000"}, want: q("1) \"0\"\n2) (empty array)\n")},
		{args: []string{"-3", "--no-raw", "hello", "3"}, want: `1# "server" => "redis"\n2# "version" => "\d+\.\d+\.\d+"\n3# "proto" => \(integer\) 3\n4# "id" => \(integer\) \d+\n5# "mode" => "standalone"\n6# "role" => "master"\n7# "modules" => \(empty array\)\n`},
		// commands on standard input, then --scan
		{stdin: scanIn.String(), want: strings.Repeat(`OK\n`, 25)},
		{args: []string{"--scan", "--pattern", "scan:*"}, want: lines(scanAll), sorted: true},
		{args: []string{"--scan", "--pattern", "scan:1*"}, want: lines(scan1), sorted: true},
		// k, n, b, t, f, esc and 25 scan:N
		{args: []string{"--no-raw", "dbsize"}, want: `\(integer\) 31\n`},
		{args: []string{"info", "keyspace"}, want: `# Keyspace\r\ndb0:keys=31,expires=1,avg_ttl=\d+(,\w+=\d+)*\r\n\n?`},
		{args: []string{"-3", "--no-raw", "info", "keyspace"}, want: `# Keyspace\r\ndb0:keys=31,expires=1,avg_ttl=\d+(,\w+=\d+)*\r\n\n?`},
		// --bigkeys: SCAN, TYPE and STRLEN over the keyspace; esc is the longest.
		{args: []string{"--bigkeys"}, want: `(?s).*\nBiggest string found '"esc"' has 5 bytes\n.*\n31 strings with \d+ bytes \(100\.00% of keys, avg size \d+\.\d+\)\n.*`},
		// -r repeats a command.
		{args: []string{"-r", "3", "--no-raw", "incr", "rep"}, want: q("(integer) 1\n(integer) 2\n(integer) 3\n")},
		// -x takes the last argument from standard input, byte for byte.
		{args: []string{"-x", "set", "binx"}, stdin: binValue, want: `OK\n`},
		{args: []string{"--raw", "get", "binx"}, want: binValue + "\n", exact: true},
		{args: []string{"--no-raw", "strlen", "binx"}, want: fmt.Sprintf(`\(integer\) %d\n`, len(binValue))},
		// --pipe: mass insertion from RESP on standard input, then an ECHO to
		// find the last reply.
		{args: []string{"--pipe"}, stdin: pipeIn, want: q("All data transferred. Waiting for the last reply...\nLast reply received from server.\nerrors: 0, replies: 100\n")},
		{args: []string{"--no-raw", "get", "pipe:99"}, want: `"99"\n`},
	}
	eachClientTarget(t, "", func(t *testing.T, tg clientTarget) { runCLICases(t, tg, cases) })
}

func TestRedisCLIRequirePass(t *testing.T) {
	redisCLI(t)
	pw := testPassword
	wrongPass := regexp.QuoteMeta("AUTH failed: WRONGPASS invalid username-password pair or user is disabled.\n")
	cases := []cliCase{
		{args: []string{"ping"}, want: regexp.QuoteMeta("NOAUTH Authentication required.\n\n")},
		{args: []string{"--no-raw", "get", "k"}, want: regexp.QuoteMeta("(error) NOAUTH Authentication required.\n")},
		{args: []string{"-a", pw, "--no-auth-warning", "ping"}, want: `PONG\n`},
		{args: []string{"-a", pw, "ping"}, want: `PONG\n`, wantErr: `Warning: Using a password with '-a' or '-u' option on the command line interface may not be safe\.\n`},
		{args: []string{"-a", pw + "x", "--no-auth-warning", "ping"}, want: regexp.QuoteMeta("NOAUTH Authentication required.\n\n"), wantErr: wrongPass},
		{args: []string{"-a", pw, "--no-auth-warning", "--no-raw", "set", "p:1", "x"}, want: `OK\n`},
		{args: []string{"--user", "default", "--pass", pw, "--no-auth-warning", "--no-raw", "get", "p:1"}, want: `"x"\n`},
		{args: []string{"-a", pw, "--no-auth-warning", "-3", "--no-raw", "mget", "p:1", "nokey"}, want: regexp.QuoteMeta("1) \"x\"\n2) (nil)\n")},
		{args: []string{"-a", pw, "--no-auth-warning", "--scan", "--pattern", "p:*"}, want: `p:1\n`},
		{args: []string{"-a", pw, "--no-auth-warning", "info", "keyspace"}, want: `# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl=0(,\w+=\d+)*\r\n\n?`},
	}
	eachClientTarget(t, pw, func(t *testing.T, tg clientTarget) { runCLICases(t, tg, cases) })
}
