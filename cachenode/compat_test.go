// The compatibility corpus (testdata/compat), against redis-server.

package cachenode_test

// Differential test: replays the command scripts in testdata/compat against a
// fresh redis-server and a fresh in-process cachenode, over raw RESP2 and again
// over RESP3 (after HELLO 3), and requires byte-identical replies.
//
// Corpus format (testdata/compat/*.txt): one command per line, split like
// redis-cli splits its input (whitespace separates arguments; "double quotes"
// understand \n \r \t \b \a \\ \" and \xHH; 'single quotes' understand \').
// Lines starting with # are comments. Lines starting with #! are directives:
//
//	#!config NAME VALUE   (file header) start both servers with this setting:
//	                      requirepass, maxmemory, maxmemory-policy, timeout, maxclients
//	#!sort                next reply is an aggregate; compare its elements
//	                      (pairs for a map) as a multiset, ignoring order
//	#!type-only           next reply: compare only its RESP type (and for an
//	                      error, its first word, e.g. ERR or NOAUTH) — for
//	                      volatile replies (TIME, INFO, CLIENT ID/LIST ...)
//	#!approx N            next reply is an integer; equal within ±N (TTL, PTTL)
//	#!scan                next line is a SCAN with cursor 0: iterate it to the end
//	                      on each server and compare the sorted, deduplicated
//	                      union of keys (cursors and orders are volatile)
//	#!ignore              run the next line on both servers, do not compare
//	#!expect REPLY        next line: cachenode must reply exactly REPLY (quoted,
//	                      escapes as above); redis's reply is not compared. For
//	                      Redis ≥7.2 behaviour that the redis-server 7.0 used
//	                      here lacks (CLIENT SETINFO). Use sparingly.
//	#!resp2 / #!resp3     next line runs only in that protocol variant
//	#!raw STRING          send STRING's bytes verbatim (inline commands,
//	                      protocol errors) and compare the one reply
//	#!rawrep PREFIX N S [SUFFIX]  send PREFIX, S repeated N times, SUFFIX
//	                      (oversized lines) and compare the one reply
//	#!replies N           the next raw step reads N replies (a pipeline)
//	#!closed              both servers must have closed the connection; then
//	                      reconnect (fresh, unauthenticated connection)
//	#!reconnect           close the connection and open a fresh one
//	#!sleep MS            wait MS milliseconds (lazy/active expiry)
//
// COMPAT_DUMP=1 logs every line with redis's reply (run with -v).
// COMPAT_SELF_CHECK=1 replays the corpus against two redis-servers instead,
// to check that a corpus edit masks every volatile reply.
//
// A line whose replies differ because cachenode is wrong stays in the corpus;
// while the server is being fixed it may be listed in knownDiffs (file name
// and line text) with the reason, and is then logged instead of failing.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cachetier/cachetier/cachenode"
	"github.com/cachetier/cachetier/internal/redistest"
)

// knownDiffs lists corpus lines (file name + ": " + line text exactly as in
// the file) where cachenode is known to answer differently from redis-server,
// with the reason. Those lines are logged, not failed. Keep it short and fix
// the server instead of growing it.
var knownDiffs = map[string]string{}

// replyTimeout bounds the wait for any single reply; generous for a loaded
// shared machine.
const replyTimeout = 10 * time.Second

func TestCompatCorpus(t *testing.T) {
	if redistest.Binary() == "" {
		t.Skip("redis-server not installed (apt-get install -y redis-server); skipping the differential test against Redis")
	}
	files, err := filepath.Glob(filepath.Join("testdata", "compat", "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no corpus files in testdata/compat")
	}
	for _, f := range files {
		script, err := parseScript(f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, proto := range []int{2, 3} {
			t.Run(fmt.Sprintf("%s/resp%d", filepath.Base(f), proto), func(t *testing.T) {
				t.Parallel() // each script has its own pair of servers
				runScript(t, script, proto)
			})
		}
	}
}

// step is one corpus line with the directives that preceded it.
type step struct {
	line     int
	text     string   // the line as written, for messages and knownDiffs
	args     []string // command arguments (nil for raw/control steps)
	raw      []byte   // #!raw bytes
	control  string   // "closed", "reconnect", "sleep"
	sleep    time.Duration
	sort     bool
	typeOnly bool
	approx   int64 // -1: exact
	scan     bool
	ignore   bool
	expect   []byte // non-nil: cachenode must reply exactly this
	onlyRESP int    // 0: both
	replies  int    // replies to read for a raw step (default 1)
}

type script struct {
	name   string
	config map[string]string
	steps  []step
}

func parseScript(path string) (*script, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s := &script{name: filepath.Base(path), config: map[string]string{}}
	pending := step{approx: -1}
	for i, line := range strings.Split(string(data), "\n") {
		n := i + 1
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "#!") {
			fields, err := splitArgs(line[2:])
			if err != nil || len(fields) == 0 {
				return nil, fmt.Errorf("line %d: bad directive %q: %v", n, line, err)
			}
			name, rest := strings.ToLower(fields[0]), fields[1:]
			argc := func(want int) error {
				if len(rest) != want {
					return fmt.Errorf("line %d: #!%s takes %d argument(s)", n, name, want)
				}
				return nil
			}
			switch name {
			case "config":
				if err := argc(2); err != nil {
					return nil, err
				}
				s.config[strings.ToLower(rest[0])] = rest[1]
			case "sort":
				pending.sort = true
			case "type-only":
				pending.typeOnly = true
			case "approx":
				if err := argc(1); err != nil {
					return nil, err
				}
				v, err := strconv.ParseInt(rest[0], 10, 64)
				if err != nil || v < 0 {
					return nil, fmt.Errorf("line %d: bad #!approx", n)
				}
				pending.approx = v
			case "scan":
				pending.scan = true
			case "ignore":
				pending.ignore = true
			case "expect":
				if err := argc(1); err != nil {
					return nil, err
				}
				pending.expect = []byte(rest[0])
			case "replies":
				if err := argc(1); err != nil {
					return nil, err
				}
				v, err := strconv.Atoi(rest[0])
				if err != nil || v < 0 {
					return nil, fmt.Errorf("line %d: bad #!replies", n)
				}
				pending.replies = v
			case "resp2":
				pending.onlyRESP = 2
			case "resp3":
				pending.onlyRESP = 3
			case "raw":
				if err := argc(1); err != nil {
					return nil, err
				}
				pending.line, pending.text, pending.raw = n, line, []byte(rest[0])
				s.steps = append(s.steps, pending)
				pending = step{approx: -1}
			case "rawrep":
				if len(rest) != 3 && len(rest) != 4 {
					return nil, fmt.Errorf("line %d: #!rawrep takes PREFIX N S [SUFFIX]", n)
				}
				reps, err := strconv.Atoi(rest[1])
				if err != nil || reps < 0 || reps > 64<<20 {
					return nil, fmt.Errorf("line %d: bad #!rawrep count", n)
				}
				pending.line, pending.text = n, line
				pending.raw = append([]byte(rest[0]), bytes.Repeat([]byte(rest[2]), reps)...)
				if len(rest) == 4 {
					pending.raw = append(pending.raw, rest[3]...)
				}
				s.steps = append(s.steps, pending)
				pending = step{approx: -1}
			case "closed", "reconnect":
				s.steps = append(s.steps, step{line: n, text: line, control: name, approx: -1})
			case "sleep":
				if err := argc(1); err != nil {
					return nil, err
				}
				ms, err := strconv.Atoi(rest[0])
				if err != nil {
					return nil, fmt.Errorf("line %d: bad #!sleep", n)
				}
				s.steps = append(s.steps, step{line: n, text: line, control: "sleep", sleep: time.Duration(ms) * time.Millisecond, approx: -1})
			default:
				return nil, fmt.Errorf("line %d: unknown directive #!%s", n, name)
			}
			continue
		}
		if strings.HasPrefix(line, "#") {
			continue
		}
		args, err := splitArgs(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", n, err)
		}
		if len(args) == 0 {
			return nil, fmt.Errorf("line %d: empty command", n)
		}
		pending.line, pending.text, pending.args = n, line, args
		if pending.scan && (len(args) < 2 || !strings.EqualFold(args[0], "scan") || args[1] != "0") {
			return nil, fmt.Errorf("line %d: #!scan needs a line 'SCAN 0 ...'", n)
		}
		s.steps = append(s.steps, pending)
		pending = step{approx: -1}
	}
	return s, nil
}

// splitArgs splits a line the way redis-cli does (sdssplitargs).
func splitArgs(line string) ([]string, error) {
	var args []string
	i := 0
	for {
		for i < len(line) && isSpace(line[i]) {
			i++
		}
		if i >= len(line) {
			return args, nil
		}
		var cur []byte
		inDQ, inSQ := false, false
		for {
			if inDQ {
				if i >= len(line) {
					return nil, errors.New("unbalanced double quotes")
				}
				c := line[i]
				switch {
				case c == '\\' && i+3 < len(line) && line[i+1] == 'x' && isHex(line[i+2]) && isHex(line[i+3]):
					v, _ := strconv.ParseUint(line[i+2:i+4], 16, 8)
					cur = append(cur, byte(v))
					i += 3
				case c == '\\' && i+1 < len(line):
					i++
					switch line[i] {
					case 'n':
						cur = append(cur, '\n')
					case 'r':
						cur = append(cur, '\r')
					case 't':
						cur = append(cur, '\t')
					case 'b':
						cur = append(cur, '\b')
					case 'a':
						cur = append(cur, '\a')
					default:
						cur = append(cur, line[i])
					}
				case c == '"':
					if i+1 < len(line) && !isSpace(line[i+1]) {
						return nil, errors.New("closing quote must be followed by a space")
					}
					inDQ = false
					i++
					goto done
				default:
					cur = append(cur, c)
				}
				i++
				continue
			}
			if inSQ {
				if i >= len(line) {
					return nil, errors.New("unbalanced single quotes")
				}
				c := line[i]
				switch {
				case c == '\\' && i+1 < len(line) && line[i+1] == '\'':
					cur = append(cur, '\'')
					i++
				case c == '\'':
					if i+1 < len(line) && !isSpace(line[i+1]) {
						return nil, errors.New("closing quote must be followed by a space")
					}
					inSQ = false
					i++
					goto done
				default:
					cur = append(cur, c)
				}
				i++
				continue
			}
			if i >= len(line) || isSpace(line[i]) {
				goto done
			}
			switch line[i] {
			case '"':
				inDQ = true
			case '\'':
				inSQ = true
			default:
				cur = append(cur, line[i])
			}
			i++
		}
	done:
		if cur == nil {
			cur = []byte{}
		}
		args = append(args, string(cur))
	}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}
func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// target is one server under test: where to dial and the current connection.
type target struct {
	name string
	addr string
	conn net.Conn
	r    *bufio.Reader
}

func (tg *target) dial(t *testing.T, proto int) {
	t.Helper()
	if tg.conn != nil {
		tg.conn.Close()
	}
	c, err := net.DialTimeout("tcp", tg.addr, replyTimeout)
	if err != nil {
		t.Fatalf("%s: dial: %v", tg.name, err)
	}
	tg.conn, tg.r = c, bufio.NewReader(c)
	t.Cleanup(func() { c.Close() })
}

func (tg *target) send(b []byte) error {
	_ = tg.conn.SetDeadline(time.Now().Add(replyTimeout))
	_, err := tg.conn.Write(b)
	return err
}

func (tg *target) do(args []string) ([]byte, error) {
	if err := tg.send(encodeCommand(args)); err != nil {
		return nil, err
	}
	return readReply(tg.r)
}

// closed reports whether the peer has closed the connection (EOF or reset
// within the timeout).
func (tg *target) closed() bool {
	_ = tg.conn.SetReadDeadline(time.Now().Add(replyTimeout))
	_, err := tg.r.ReadByte()
	return err != nil && !isTimeout(err)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func encodeCommand(args []string) []byte {
	b := []byte("*" + strconv.Itoa(len(args)) + "\r\n")
	for _, a := range args {
		b = append(b, '$')
		b = strconv.AppendInt(b, int64(len(a)), 10)
		b = append(b, "\r\n"...)
		b = append(b, a...)
		b = append(b, "\r\n"...)
	}
	return b
}

// readReply reads exactly one RESP2/RESP3 reply and returns its raw bytes.
func readReply(r *bufio.Reader) ([]byte, error) {
	var out []byte
	return readReplyInto(r, out)
}

func readReplyInto(r *bufio.Reader, out []byte) ([]byte, error) {
	line, err := r.ReadBytes('\n')
	if err != nil {
		return append(out, line...), err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return append(out, line...), fmt.Errorf("malformed reply line %q", line)
	}
	out = append(out, line...)
	body := string(line[1 : len(line)-2])
	switch line[0] {
	case '+', '-', ':', ',', '#', '_', '(':
		return out, nil
	case '$', '=', '!':
		n, err := strconv.Atoi(body)
		if err != nil {
			return out, fmt.Errorf("bad bulk length %q", line)
		}
		if n < 0 {
			return out, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return append(out, buf...), err
		}
		return append(out, buf...), nil
	case '*', '~', '>', '%', '|':
		n, err := strconv.Atoi(body)
		if err != nil {
			return out, fmt.Errorf("bad aggregate length %q", line)
		}
		if line[0] == '%' || line[0] == '|' {
			n *= 2
		}
		for i := 0; i < n; i++ {
			if out, err = readReplyInto(r, out); err != nil {
				return out, err
			}
		}
		if line[0] == '|' { // an attribute precedes the actual reply
			return readReplyInto(r, out)
		}
		return out, nil
	}
	return out, fmt.Errorf("unknown reply type %q", line)
}

// elements splits a raw aggregate reply into its header line and the raw
// bytes of each element (for a map, each key+value pair is one element).
func elements(raw []byte) (header []byte, elems [][]byte, ok bool) {
	if len(raw) == 0 || !strings.ContainsRune("*~%>", rune(raw[0])) {
		return nil, nil, false
	}
	r := bufio.NewReader(bytes.NewReader(raw))
	header, _ = r.ReadBytes('\n')
	n, err := strconv.Atoi(string(header[1 : len(header)-2]))
	if err != nil || n < 0 {
		return header, nil, err == nil
	}
	per := 1
	if raw[0] == '%' {
		per = 2
	}
	for i := 0; i < n; i++ {
		var e []byte
		for j := 0; j < per; j++ {
			if e, err = readReplyInto(r, e); err != nil {
				return nil, nil, false
			}
		}
		elems = append(elems, e)
	}
	return header, elems, true
}

func sortedAggregate(raw []byte) []byte {
	h, el, ok := elements(raw)
	if !ok {
		return raw
	}
	slices.SortFunc(el, bytes.Compare)
	return append(h, bytes.Join(el, nil)...)
}

// shape is what #!type-only compares: the type byte, plus the error code for
// errors.
func shape(raw []byte) string {
	if len(raw) == 0 {
		return ""
	}
	if raw[0] == '-' || raw[0] == '!' {
		code, _, _ := strings.Cut(strings.TrimRight(string(raw[1:]), "\r\n"), " ")
		return "-" + code
	}
	return string(raw[:1])
}

// scanAll iterates SCAN from cursor 0 until the cursor is back at 0 and
// returns the sorted, deduplicated keys, or the raw reply if it was not a
// well-formed SCAN reply (an error, say).
func scanAll(tg *target, args []string) ([]byte, error) {
	seen := map[string]bool{}
	cur := "0"
	for iter := 0; iter < 100000; iter++ {
		a := slices.Clone(args)
		a[1] = cur
		raw, err := tg.do(a)
		if err != nil {
			return raw, err
		}
		_, el, ok := elements(raw)
		if !ok || len(el) != 2 {
			return raw, nil
		}
		cr := bufio.NewReader(bytes.NewReader(el[0]))
		line, _ := cr.ReadBytes('\n')
		if len(line) < 3 || line[0] != '$' {
			return raw, nil
		}
		c, _ := cr.ReadBytes('\n')
		cur = strings.TrimRight(string(c), "\r\n")
		_, keys, ok := elements(el[1])
		if !ok {
			return raw, nil
		}
		for _, k := range keys {
			seen[string(k)] = true
		}
		if cur == "0" {
			keys := make([]string, 0, len(seen))
			for k := range seen {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			return []byte("scan keys: " + strings.Join(keys, "")), nil
		}
	}
	return nil, errors.New("SCAN did not terminate")
}

// startCachenode runs an in-process cachenode on a loopback port with the
// corpus file's configuration.
func startCachenode(t *testing.T, conf map[string]string) string {
	t.Helper()
	cfg := cachenode.Config{Addr: "127.0.0.1:0"}
	for k, v := range conf {
		switch k {
		case "requirepass":
			cfg.RequirePass = v
		case "maxmemory":
			n, err := cachenode.ParseSize(v)
			if err != nil {
				t.Fatalf("maxmemory %q: %v", v, err)
			}
			cfg.MaxMemory = n
		case "maxmemory-policy":
			cfg.MaxMemoryPolicy = v
		case "timeout":
			n, err := strconv.Atoi(v)
			if err != nil {
				t.Fatalf("timeout %q: %v", v, err)
			}
			cfg.Timeout = time.Duration(n) * time.Second
		case "maxclients":
			n, err := strconv.Atoi(v)
			if err != nil {
				t.Fatalf("maxclients %q: %v", v, err)
			}
			cfg.MaxClients = n
		default:
			t.Fatalf("#!config %s: not supported by the harness", k)
		}
	}
	srv, err := cachenode.New(cfg)
	if err != nil {
		t.Fatalf("cachenode.New: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("cachenode Shutdown: %v", err)
			_ = srv.Close()
		}
		if err := <-done; !errors.Is(err, cachenode.ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return ln.Addr().String()
}

// startRedis starts a redis-server with the corpus file's configuration.
// requirepass is set after start-up (redistest pings the server unauthenticated).
func startRedis(t *testing.T, conf map[string]string) string {
	t.Helper()
	var args []string
	for k, v := range conf {
		if k != "requirepass" {
			args = append(args, "--"+k, v)
		}
	}
	rs := redistest.Start(t, args...)
	if pw, ok := conf["requirepass"]; ok {
		tg := &target{name: "redis", addr: rs.Addr}
		tg.dial(t, 2)
		defer tg.conn.Close()
		if raw, err := tg.do([]string{"CONFIG", "SET", "requirepass", pw}); err != nil || string(raw) != "+OK\r\n" {
			t.Fatalf("redis CONFIG SET requirepass: %q, %v", raw, err)
		}
	}
	return rs.Addr
}

func runScript(t *testing.T, s *script, proto int) {
	selfCheck := os.Getenv("COMPAT_SELF_CHECK") != ""
	dump := os.Getenv("COMPAT_DUMP") != ""
	targets := []*target{{name: "redis", addr: startRedis(t, s.config)}}
	if selfCheck {
		// Validate the corpus itself: replay it against two redis-servers.
		// Every line must then match, which checks that the directives mask
		// all volatile replies.
		targets = append(targets, &target{name: "redis#2", addr: startRedis(t, s.config)})
	} else {
		targets = append(targets, &target{name: "cachenode", addr: startCachenode(t, s.config)})
	}
	connect := func() {
		for _, tg := range targets {
			tg.dial(t, proto)
		}
		if proto == 3 {
			// The HELLO reply carries volatile fields (version, id): compare
			// its shape, and the whole reply when it is an error.
			var got [2][]byte
			for i, tg := range targets {
				raw, err := tg.do([]string{"HELLO", "3"})
				if err != nil {
					t.Fatalf("%s: HELLO 3: %v", tg.name, err)
				}
				got[i] = raw
			}
			if shape(got[0]) != shape(got[1]) || (got[0][0] == '-' && !bytes.Equal(got[0], got[1])) {
				t.Errorf("HELLO 3 on connect: redis %q, cachenode %q", got[0], got[1])
			}
		}
	}
	connect()

	failures := 0
	for _, st := range s.steps {
		if st.onlyRESP != 0 && st.onlyRESP != proto {
			continue
		}
		where := fmt.Sprintf("%s:%d: %s", s.name, st.line, st.text)
		switch st.control {
		case "sleep":
			time.Sleep(st.sleep)
			continue
		case "reconnect":
			connect()
			continue
		case "closed":
			for _, tg := range targets {
				if !tg.closed() {
					t.Errorf("%s: %s did not close the connection", where, tg.name)
				}
			}
			connect()
			continue
		}
		var got [2][]byte
		var errs [2]error
		for i, tg := range targets {
			switch {
			case st.raw != nil:
				if errs[i] = tg.send(st.raw); errs[i] == nil {
					for j := 0; j < max(st.replies, 1) && errs[i] == nil; j++ {
						got[i], errs[i] = readReplyInto(tg.r, got[i])
					}
				}
			case st.scan:
				got[i], errs[i] = scanAll(tg, st.args)
			default:
				got[i], errs[i] = tg.do(st.args)
			}
		}
		if errs[0] != nil {
			t.Fatalf("%s: redis: %v (reply so far %q); the corpus line is wrong", where, errs[0], got[0])
		}
		if dump {
			t.Logf("%s:%d: %-40.40s -> %s", s.name, st.line, st.text, clip(got[0]))
		}
		if st.ignore || (selfCheck && st.expect != nil) {
			continue
		}
		var diff string
		switch {
		case errs[1] != nil:
			diff = fmt.Sprintf("cachenode: %v (reply so far %s); redis replied %s", errs[1], clip(got[1]), clip(got[0]))
		case st.expect != nil:
			if !bytes.Equal(got[1], st.expect) {
				diff = fmt.Sprintf("cachenode replied %s, want %s", clip(got[1]), clip(st.expect))
			}
		case st.typeOnly:
			if shape(got[0]) != shape(got[1]) {
				diff = fmt.Sprintf("reply types differ: redis %s, cachenode %s", clip(got[0]), clip(got[1]))
			}
		case st.approx >= 0:
			if !approxEqual(got[0], got[1], st.approx) {
				diff = fmt.Sprintf("redis %s, cachenode %s (allowed ±%d)", clip(got[0]), clip(got[1]), st.approx)
			}
		case st.sort:
			if !bytes.Equal(sortedAggregate(got[0]), sortedAggregate(got[1])) {
				diff = fmt.Sprintf("(order ignored) redis %s, cachenode %s", clip(got[0]), clip(got[1]))
			}
		default:
			if !bytes.Equal(got[0], got[1]) {
				diff = fmt.Sprintf("redis %s, cachenode %s", clip(got[0]), clip(got[1]))
			}
		}
		if diff == "" {
			continue
		}
		if reason, ok := knownDiffs[s.name+": "+st.text]; ok {
			t.Logf("known difference (%s): %s: %s", reason, where, diff)
			continue
		}
		t.Errorf("%s: %s", where, diff)
		if errs[1] != nil {
			// The connection is in an unknown state: start afresh.
			connect()
		}
		if failures++; failures > 50 {
			t.Fatalf("too many differences; stopping this script")
		}
	}
}

// clip quotes a reply for a message, cut to a readable length.
func clip(b []byte) string {
	const max = 400
	if len(b) <= max {
		return strconv.Quote(string(b))
	}
	return strconv.Quote(string(b[:max])) + fmt.Sprintf("... (%d bytes)", len(b))
}

func approxEqual(a, b []byte, tol int64) bool {
	if len(a) < 3 || len(b) < 3 || a[0] != ':' || b[0] != ':' {
		return bytes.Equal(a, b)
	}
	x, err1 := strconv.ParseInt(string(a[1:len(a)-2]), 10, 64)
	y, err2 := strconv.ParseInt(string(b[1:len(b)-2]), 10, 64)
	if err1 != nil || err2 != nil {
		return false
	}
	d := x - y
	if (x < 0) != (y < 0) { // -1/-2 markers must match exactly
		return false
	}
	return d >= -tol && d <= tol
}

func TestSplitArgs(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{`set k v`, []string{"set", "k", "v"}},
		{`  set   "a b"  'c d'  `, []string{"set", "a b", "c d"}},
		{`set "" ''`, []string{"set", "", ""}},
		{`echo "\x00\xff\n\r\t\"\\"`, []string{"echo", "\x00\xff\n\r\t\"\\"}},
		{`echo 'it\'s' "\q"`, []string{"echo", "it's", "q"}},
		{`echo a"b c"`, []string{"echo", "ab c"}},
	}
	for _, tc := range tests {
		got, err := splitArgs(tc.in)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("splitArgs(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{`echo "abc`, `echo 'abc`, `echo "a"b`, `echo 'a'b`} {
		if _, err := splitArgs(bad); err == nil {
			t.Errorf("splitArgs(%q): no error", bad)
		}
	}
}

func TestReadReplyAndSort(t *testing.T) {
	raw := "*3\r\n$1\r\nb\r\n%1\r\n+k\r\n:1\r\n$-1\r\n"
	got, err := readReply(bufio.NewReader(strings.NewReader(raw + "+next\r\n")))
	if err != nil || string(got) != raw {
		t.Fatalf("readReply = %q, %v; want %q", got, err, raw)
	}
	a := sortedAggregate([]byte("*2\r\n$1\r\nb\r\n$1\r\na\r\n"))
	b := sortedAggregate([]byte("*2\r\n$1\r\na\r\n$1\r\nb\r\n"))
	if !bytes.Equal(a, b) {
		t.Errorf("sortedAggregate: %q != %q", a, b)
	}
	if !approxEqual([]byte(":99\r\n"), []byte(":100\r\n"), 1) || approxEqual([]byte(":-2\r\n"), []byte(":1\r\n"), 5) {
		t.Error("approxEqual wrong")
	}
	if shape([]byte("-ERR x y\r\n")) != "-ERR" || shape([]byte(":1\r\n")) != ":" {
		t.Error("shape wrong")
	}
}
