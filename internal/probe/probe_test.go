package probe

import (
	"bufio"
	"errors"
	"net"
	"strconv"
	"testing"
	"time"
)

// serve answers every line received on ln with reply, until ln closes.
func serve(t *testing.T, reply string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if _, err := bufio.NewReader(c).ReadString('\n'); err == nil {
					_, _ = c.Write([]byte(reply))
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func TestPingReplies(t *testing.T) {
	for _, tc := range []struct {
		reply string
		ok    bool
	}{
		{"+PONG\r\n", true},
		{"-NOAUTH Authentication required.\r\n", true},
		{"-ERR nope\r\n", false},
	} {
		err := Ping(serve(t, tc.reply))
		if (err == nil) != tc.ok {
			t.Errorf("reply %q: err = %v, want ok=%v", tc.reply, err, tc.ok)
		}
	}
}

func TestWaitPing(t *testing.T) {
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	if err := WaitPing(addr, nil, 100*time.Millisecond); err == nil {
		t.Fatalf("WaitPing on a closed port succeeded")
	}
	exited := make(chan struct{})
	close(exited)
	if err := WaitPing(addr, exited, time.Second); !errors.Is(err, ErrExited) {
		t.Fatalf("WaitPing with exited process: %v, want ErrExited", err)
	}
	if err := WaitPing(serve(t, "+PONG\r\n"), nil, 2*time.Second); err != nil {
		t.Fatalf("WaitPing on a live server: %v", err)
	}
}
