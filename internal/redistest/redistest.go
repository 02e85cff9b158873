// Package redistest starts real redis-server processes on loopback for tests
// that compare cachetier against Redis or run the client over stock Redis.
//
// Tests that need redis-server call Start, which skips the test with a clear
// message when the binary is not installed (Debian: apt-get install redis-server).
// GoBuild builds one of cachetier's commands for tests that run it as a
// process.
package redistest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cachetier/cachetier/internal/probe"
)

// Server is a redis-server process started by Start. It is stopped (by PID)
// when the test that started it ends.
type Server struct {
	// Addr is the server's host:port on 127.0.0.1.
	Addr string
	// Port is the TCP port of Addr.
	Port int

	cmd  *exec.Cmd
	done chan struct{}
}

// Binary returns the path of redis-server, or "" when it is not installed.
func Binary() string {
	p, err := exec.LookPath("redis-server")
	if err != nil {
		return ""
	}
	return p
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	port, err := probe.FreePort()
	if err != nil {
		t.Fatalf("redistest: free port: %v", err)
	}
	return port
}

// Start runs redis-server on a free loopback port with persistence off and the
// extra arguments given (e.g. "--maxmemory", "10mb"). It skips the test when
// redis-server is not installed and fails it when the server does not come up.
func Start(t testing.TB, args ...string) *Server {
	t.Helper()
	bin := Binary()
	if bin == "" {
		t.Skip("redis-server not installed (apt-get install -y redis-server); skipping comparison with Redis")
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port := FreePort(t)
		full := append([]string{
			"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--daemonize", "no",
			"--dir", t.TempDir(), "--logfile", "",
		}, args...)
		cmd := exec.Command(bin, full...)
		logs := &tailBuffer{max: 8 << 10}
		cmd.Stdout, cmd.Stderr = logs, logs
		if err := cmd.Start(); err != nil {
			t.Fatalf("redistest: start redis-server: %v", err)
		}
		s := &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Port: port, cmd: cmd, done: make(chan struct{})}
		go func() { _ = cmd.Wait(); close(s.done) }()
		if lastErr = probe.WaitPing(s.Addr, s.done, 5*time.Second); lastErr == nil {
			t.Cleanup(s.Stop)
			return s
		}
		s.Stop()
		lastErr = fmt.Errorf("%w; redis-server output:\n%s", lastErr, logs.String())
	}
	t.Fatalf("redistest: redis-server did not come up: %v", lastErr)
	return nil
}

// Stop terminates the server (SIGTERM, then SIGKILL after 3s) and waits for it.
// It is safe to call more than once.
func (s *Server) Stop() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
	case <-time.After(3 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// Kill ends the server at once with SIGKILL, as a crash would, and waits for it.
func (s *Server) Kill() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Kill()
	<-s.done
}

// PID returns the server's process id.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// tailBuffer keeps the last max bytes written to it; redis-server's log goes
// there so that test output stays quiet unless the server fails to start.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// WaitPing polls addr with an inline PING until it answers +PONG or the
// timeout passes. It works for any RESP server (cachenode included).
func WaitPing(addr string, timeout time.Duration) error {
	return probe.WaitPing(addr, nil, timeout)
}
