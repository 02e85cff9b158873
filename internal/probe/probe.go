// Package probe checks whether a RESP server (cachenode or redis-server) on
// loopback is up, for code that starts such servers: test helpers and
// loadtest's tier.
package probe

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// ErrExited is returned by WaitPing when the process it waits for has exited.
var ErrExited = errors.New("probe: process exited before answering PING")

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// Ping sends one inline PING to addr and reports nil when the server answers
// +PONG, or -NOAUTH (a server with a password is up all the same).
func Ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 300*time.Millisecond)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if reply := strings.TrimSpace(line); reply != "+PONG" && !strings.HasPrefix(reply, "-NOAUTH") {
		return fmt.Errorf("probe: unexpected reply %q", line)
	}
	return nil
}

// WaitPing polls addr with Ping until it answers, exited is closed (nil: never),
// or timeout passes; it returns the last error then.
func WaitPing(addr string, exited <-chan struct{}, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return ErrExited
		default:
		}
		if err = Ping(addr); err == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return err
}
