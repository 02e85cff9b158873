// Protocol-level tests against redis-server.

package cachenode

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/cachetier/cachetier/internal/redistest"
)

// transcript sends in to addr, then everything the server answers until it
// closes the connection.
func transcript(t *testing.T, addr, in string) string {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := nc.Write([]byte(in)); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(nc)
	if err != nil && !strings.Contains(err.Error(), "reset") {
		t.Fatalf("read: %v (got %q)", err, b)
	}
	return string(b)
}

const quit = "*1\r\n$4\r\nQUIT\r\n"

var protocolCases = []struct{ name, in string }{
	{"inline", "PING\r\nSET k \"a b\"\r\nGET k\nECHO 'it''s'\r\n" + quit},
	{"inline escapes", "SET k \"\\x41\\n\\\"\"\r\nGET k\r\n" + quit},
	{"empty lines", "\r\n\r\n   \r\nPING\r\n" + quit},
	{"pipeline", "*1\r\n$4\r\nPING\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n" + quit},
	{"negative multibulk", "*-10\r\n*0\r\nPING\r\n" + quit},
	{"invalid multibulk", "PING\r\n*x\r\nPING\r\n"},
	{"huge multibulk", "*3000000000\r\n"},
	{"invalid bulk", "*1\r\n$x\r\n"},
	{"negative bulk", "*2\r\n$3\r\nGET\r\n$-1\r\n"},
	{"bulk over limit", "*1\r\n$536870913\r\n"},
	{"expected dollar", "*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n"},
	{"unbalanced quotes", "SET \"k v\r\n"},
	{"quote then char", "SET 'k'v x\r\n"},
	{"too big inline", strings.Repeat("a", 70*1024)},
	{"too big mbulk count", "*" + strings.Repeat("1", 70*1024)},
	{"too big bulk count", "*1\r\n$" + strings.Repeat("1", 70*1024)},
	{"unknown then quit", "FOO bar\r\n" + quit},
	{"quit mid pipeline", "PING\r\n" + quit + "PING\r\n"},
}

func TestProtocolAgainstRedis(t *testing.T) {
	rs := redistest.Start(t)
	s := startServer(t, Config{})
	for _, tc := range protocolCases {
		t.Run(tc.name, func(t *testing.T) {
			want := transcript(t, rs.Addr, tc.in)
			got := transcript(t, s.Addr().String(), tc.in)
			if want != got {
				t.Errorf("input %.80q\n redis:     %.300q\n cachenode: %.300q", tc.in, want, got)
			}
		})
	}
}

// TestProtocolErrors checks the protocol error replies without redis-server.
func TestProtocolErrors(t *testing.T) {
	s := startServer(t, Config{})
	for _, tc := range []struct{ in, want string }{
		{"*x\r\n", "-ERR Protocol error: invalid multibulk length\r\n"},
		{"*1\r\n$x\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
		{"*1\r\n$536870913\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
		{"*1\r\n:1\r\n", "-ERR Protocol error: expected '$', got ':'\r\n"},
		{"SET \"k\r\n", "-ERR Protocol error: unbalanced quotes in request\r\n"},
		{strings.Repeat("a", 70*1024), "-ERR Protocol error: too big inline request\r\n"},
		{"PING\r\n*1\r\n$x\r\n", "+PONG\r\n-ERR Protocol error: invalid bulk length\r\n"},
	} {
		if got := transcript(t, s.Addr().String(), tc.in); got != tc.want {
			t.Errorf("%.40q: got %q, want %q", tc.in, got, tc.want)
		}
	}
}

var authCases = []struct{ name, in string }{
	{"noauth", encode("GET", "k") + encode("SET", "k", "v") + encode("AUTH", "bad") + encode("AUTH", "default", "bad") + encode("AUTH", "bob", "pw") + encode("AUTH", "pw") + encode("SET", "k", "v") + encode("GET", "k") + quit},
	{"unknown before noauth", encode("FOO") + encode("GET") + encode("PING") + encode("QUIT")},
	{"hello unauth", encode("HELLO", "2") + encode("HELLO", "2", "AUTH", "default", "bad") + encode("HELLO", "5") + encode("PING") + quit},
	{"auth syntax", encode("AUTH", "a", "b", "c") + encode("AUTH") + quit},
	{"unauth multibulk", encode("SET", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k")},
	{"unauth multibulk ok at 10", encode("SET", "a", "b", "c", "d", "e", "f", "g", "h", "i") + quit},
	{"unauth bulk", encode("SET", "k", strings.Repeat("x", 16385))},
	{"unauth bulk ok at 16384", encode("ECHO", strings.Repeat("x", 16384)) + quit},
	{"authed big", encode("AUTH", "pw") + encode("ECHO", strings.Repeat("x", 20000)) + encode("EXISTS", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k") + quit},
	{"inline auth", "AUTH pw\r\nPING\r\n" + quit},
}

func TestAuthAgainstRedis(t *testing.T) {
	rs := redistest.Start(t) // redistest's readiness PING cannot authenticate
	if r := dialRaw(t, rs.Addr).do("CONFIG", "SET", "requirepass", "pw"); r != "+OK\r\n" {
		t.Fatalf("CONFIG SET requirepass: %q", r)
	}
	s := startServer(t, Config{RequirePass: "pw"})
	for _, tc := range authCases {
		t.Run(tc.name, func(t *testing.T) {
			want := transcript(t, rs.Addr, tc.in)
			got := transcript(t, s.Addr().String(), tc.in)
			if want != got {
				t.Errorf("input %.80q\n redis:     %.400q\n cachenode: %.400q", tc.in, want, got)
			}
		})
	}
}
