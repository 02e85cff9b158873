// Shared test helpers: servers, clients, raw connections.

package cachenode

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cachetier/cachetier/internal/redistest"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// startServer runs a Server on a free loopback port until the test ends.
func startServer(t testing.TB, cfg Config) *Server {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = discardLogger()
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ln, err := s.listen("127.0.0.1:0") // as ListenAndServe: the raw accept path on Linux
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	for deadline := time.Now().Add(10 * time.Second); s.Addr() == nil; {
		if time.Now().After(deadline) {
			t.Fatal("server did not start serving")
		}
		time.Sleep(time.Millisecond)
	}
	t.Cleanup(func() {
		s.Close()
		if err := <-done; err != ErrServerClosed {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return s
}

// newClient returns a go-redis client for s, closed when the test ends.
func newClient(t testing.TB, addr string, opt *redis.Options) *redis.Client {
	t.Helper()
	if opt == nil {
		opt = &redis.Options{}
	}
	opt.Addr = addr
	if opt.Protocol == 0 {
		opt.Protocol = 2
	}
	opt.DisableIdentity = true
	if opt.ReadTimeout == 0 {
		opt.ReadTimeout = 30 * time.Second // a loaded machine under -race
		opt.WriteTimeout = 30 * time.Second
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// startWithClient starts a Server with default settings and returns it, a
// go-redis client for it (opt as for newClient) and a context that ends
// with the test.
func startWithClient(t *testing.T, opt *redis.Options) (*Server, *redis.Client, context.Context) {
	t.Helper()
	s := startServer(t, Config{})
	return s, newClient(t, s.Addr().String(), opt), ctxT(t)
}

// againstRedis runs script against a fresh redis-server (the test is
// skipped when redis-server is not installed), then against a fresh
// cachenode with default settings, and returns what it returned for each.
func againstRedis[T any](t *testing.T, script func(addr string) T) (fromRedis, fromNode T) {
	t.Helper()
	rs := redistest.Start(t)
	s := startServer(t, Config{})
	fromRedis = script(rs.Addr)
	return fromRedis, script(s.Addr().String())
}

// rawConn is a raw RESP connection for protocol-level tests.
type rawConn struct {
	t  testing.TB
	nc net.Conn
	br *bufio.Reader
}

func dialRaw(t testing.TB, addr string) *rawConn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawConn{t: t, nc: nc, br: bufio.NewReader(nc)}
}

func (r *rawConn) send(s string) {
	r.t.Helper()
	_ = r.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := r.nc.Write([]byte(s)); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

// do sends a command (multibulk) and returns the raw reply.
func (r *rawConn) do(args ...string) string {
	r.t.Helper()
	r.send(encode(args...))
	return r.reply()
}

// reply reads one complete RESP reply and returns its raw text.
func (r *rawConn) reply() string {
	r.t.Helper()
	_ = r.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	s, err := readReply(r.br)
	if err != nil {
		r.t.Fatalf("read reply: %v (so far %q)", err, s)
	}
	return s
}

// closed reports whether the server closed the connection (EOF) within 10s.
func (r *rawConn) closed() bool {
	_ = r.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := r.br.ReadByte()
	return err == io.EOF || err != nil && strings.Contains(err.Error(), "reset")
}

func encode(args ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b.String()
}

func readReply(br *bufio.Reader) (string, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return line, err
	}
	if len(line) < 3 {
		return line, fmt.Errorf("short line %q", line)
	}
	body := line[1 : len(line)-2]
	switch line[0] {
	case '+', '-', ':', '_', ',', '#', '(':
		return line, nil
	case '$', '=', '!':
		n, err := strconv.Atoi(body)
		if err != nil || n < 0 {
			return line, err
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(br, buf); err != nil {
			return line, err
		}
		return line + string(buf), nil
	case '*', '~', '%', '>':
		n, err := strconv.Atoi(body)
		if err != nil {
			return line, err
		}
		if line[0] == '%' {
			n *= 2
		}
		out := line
		for i := 0; i < n; i++ {
			s, err := readReply(br)
			out += s
			if err != nil {
				return out, err
			}
		}
		return out, nil
	}
	return line, fmt.Errorf("unknown reply type %q", line)
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }

func bytesContains(s, sub string) bool { return strings.Contains(s, sub) }

// newTestConn returns a connection of s over nc, registered as accept
// registers one, for tests that run its serve loop themselves (serve
// removes it when it returns).
func newTestConn(s *Server, nc net.Conn) *conn {
	c := newConn(s, nc)
	s.life.connWG.Add(1)
	s.net.mu.Lock()
	s.net.conns[c] = struct{}{}
	s.net.mu.Unlock()
	return c
}

// waitNoConns waits until the server has no client connections left.
func waitNoConns(t *testing.T, s *Server) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		s.net.mu.Lock()
		n := len(s.net.conns)
		s.net.mu.Unlock()
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections still open", n)
		}
		time.Sleep(time.Millisecond)
	}
}

// serveOn starts a Server with default settings on the listener
// ListenAndServe would use for addr; err is the listen error. stop closes
// the server and returns Serve's result; the caller must call it.
func serveOn(t *testing.T, addr string) (s *Server, ln net.Listener, stop func() error, err error) {
	t.Helper()
	s, err = New(Config{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ln, err = s.listen(addr)
	if err != nil {
		return nil, nil, nil, err
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	return s, ln, func() error { s.Close(); return <-done }, nil
}
