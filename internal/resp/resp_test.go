package resp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// readAll parses every command in input, feeding the reader through r.
func readAll(rd io.Reader, unauth bool) ([][]string, error) {
	r := NewReader(rd)
	r.Unauthenticated = unauth
	var out [][]string
	for {
		args, err := r.Next()
		if err == ErrIncomplete {
			if err := r.Fill(); err != nil {
				if err == io.EOF {
					return out, nil
				}
				return out, err
			}
			continue
		}
		if err != nil {
			return out, err
		}
		cmd := make([]string, len(args))
		for i, a := range args {
			cmd[i] = string(a)
		}
		out = append(out, cmd)
	}
}

func TestReaderCommands(t *testing.T) {
	tests := []struct {
		name, in string
		want     string // commands joined: args by '|', commands by ';'
	}{
		{"multibulk", "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", "GET|k"},
		{"pipeline", "*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$0\r\n\r\n", "PING;ECHO|"},
		{"binary", "*2\r\n$3\r\nGET\r\n$4\r\na\r\nb\r\n", "GET|a\r\nb"},
		{"inline", "SET k v\r\nGET k\n", "SET|k|v;GET|k"},
		{"inline quotes", "SET \"a b\" 'c d'\r\n", "SET|a b|c d"},
		{"inline escapes", `ECHO "x\n\x41\"" 'it\'s'` + "\r\n", "ECHO|x\nA\"|it's"},
		{"empty lines", "\r\n\n  \r\nPING\r\n", "PING"},
		{"negative multibulk", "*-10\r\n*0\r\nPING\r\n", "PING"},
		{"no crlf check after bulk", "*1\r\n$4\r\nPINGxx*1\r\n$4\r\nPING\r\n", "PING;PING"},
		{"empty quoted", "SET k \"\"\r\n", "SET|k|"},
		{"nul ends inline", "PING\x00junk\r\n", "PING"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, mode := range []string{"whole", "onebyte"} {
				var rd io.Reader = strings.NewReader(tt.in)
				if mode == "onebyte" {
					rd = iotest.OneByteReader(rd)
				}
				cmds, err := readAll(rd, false)
				if err != nil {
					t.Fatalf("%s: error %v", mode, err)
				}
				var parts []string
				for _, c := range cmds {
					parts = append(parts, strings.Join(c, "|"))
				}
				if got := strings.Join(parts, ";"); got != tt.want {
					t.Fatalf("%s: got %q, want %q", mode, got, tt.want)
				}
			}
		})
	}
}

func TestReaderProtocolErrors(t *testing.T) {
	long := strings.Repeat("a", InlineMaxSize+10)
	tests := []struct {
		name, in string
		unauth   bool
		want     string
		cmds     int // commands parsed before the error
	}{
		{"bad multibulk", "*x\r\n", false, "Protocol error: invalid multibulk length", 0},
		{"huge multibulk", "*3000000000\r\n", false, "Protocol error: invalid multibulk length", 0},
		{"plus sign", "*+1\r\n", false, "Protocol error: invalid multibulk length", 0},
		{"bad bulk", "*1\r\n$x\r\n", false, "Protocol error: invalid bulk length", 0},
		{"negative bulk", "*1\r\n$-1\r\n", false, "Protocol error: invalid bulk length", 0},
		{"too big bulk", "*1\r\n$536870913\r\n", false, "Protocol error: invalid bulk length", 0},
		{"expected dollar", "*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n", false, "Protocol error: expected '$', got 'f'", 0},
		{"after good command", "PING\r\n*1\r\n:1\r\n", false, "Protocol error: expected '$', got ':'", 1},
		{"unbalanced", "SET \"k v\r\n", false, "Protocol error: unbalanced quotes in request", 0},
		{"quote then char", "SET \"k\"v\r\n", false, "Protocol error: unbalanced quotes in request", 0},
		{"too big inline", long, false, "Protocol error: too big inline request", 0},
		{"too big mbulk count", "*" + long, false, "Protocol error: too big mbulk count string", 0},
		{"too big bulk count", "*1\r\n$" + long, false, "Protocol error: too big bulk count string", 0},
		{"unauth count", "*11\r\n", true, "Protocol error: unauthenticated multibulk length", 0},
		{"unauth bulk", "*1\r\n$16385\r\n", true, "Protocol error: unauthenticated bulk length", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmds, err := readAll(strings.NewReader(tt.in), tt.unauth)
			var pe *ProtocolError
			if !errors.As(err, &pe) {
				t.Fatalf("got err %v, want protocol error", err)
			}
			if pe.Error() != tt.want {
				t.Fatalf("got %q, want %q", pe.Error(), tt.want)
			}
			if len(cmds) != tt.cmds {
				t.Fatalf("parsed %d commands before the error, want %d", len(cmds), tt.cmds)
			}
		})
	}
	// Authenticated clients may send what unauthenticated ones may not.
	in := "*11\r\n" + strings.Repeat("$1\r\na\r\n", 11) + "*1\r\n$16385\r\n" + strings.Repeat("b", 16385) + "\r\n"
	cmds, err := readAll(strings.NewReader(in), false)
	if err != nil || len(cmds) != 2 {
		t.Fatalf("got %d commands, err %v", len(cmds), err)
	}
}

func TestReaderQueryBufferLimit(t *testing.T) {
	r := NewReader(strings.NewReader("*1\r\n$100000\r\n" + strings.Repeat("x", 100000)))
	r.MaxQueryBuffer = 64 * 1024
	for {
		_, err := r.Next()
		if err != ErrIncomplete {
			t.Fatalf("Next: %v", err)
		}
		if err := r.Fill(); err != nil {
			if err != ErrQueryBufferLimit {
				t.Fatalf("Fill: %v, want ErrQueryBufferLimit", err)
			}
			return
		}
	}
}

func TestParseInt(t *testing.T) {
	good := map[string]int64{"0": 0, "1": 1, "-1": -1, "9223372036854775807": 1<<63 - 1, "-9223372036854775808": -1 << 63}
	for s, want := range good {
		if got, ok := ParseInt([]byte(s)); !ok || got != want {
			t.Errorf("ParseInt(%q) = %d, %v", s, got, ok)
		}
	}
	for _, s := range []string{"", "-", "+1", "01", "-0", " 1", "1 ", "1a", "9223372036854775808", "-9223372036854775809", "99999999999999999999"} {
		if _, ok := ParseInt([]byte(s)); ok {
			t.Errorf("ParseInt(%q) accepted", s)
		}
	}
}

func TestAppend(t *testing.T) {
	tests := []struct {
		got, want string
	}{
		{string(AppendSimple(nil, "OK")), "+OK\r\n"},
		{string(AppendError(nil, "ERR a\r\nb")), "-ERR a  b\r\n"},
		{string(AppendInt(nil, -42)), ":-42\r\n"},
		{string(AppendBulk(nil, []byte("hi"))), "$2\r\nhi\r\n"},
		{string(AppendBulk(nil, nil)), "$0\r\n\r\n"},
		{string(AppendBulkInt(nil, 12)), "$2\r\n12\r\n"},
		{string(AppendNull(nil, 2)), "$-1\r\n"},
		{string(AppendNull(nil, 3)), "_\r\n"},
		{string(AppendNullArray(nil, 2)), "*-1\r\n"},
		{string(AppendMapLen(nil, 2, 2)), "*4\r\n"},
		{string(AppendMapLen(nil, 2, 3)), "%2\r\n"},
		{string(AppendSetLen(nil, 2, 3)), "~2\r\n"},
		{string(AppendDouble(nil, 1.5, 3)), ",1.5\r\n"},
		{string(AppendDouble(nil, 1.5, 2)), "$3\r\n1.5\r\n"},
		{string(AppendBool(nil, true, 3)), "#t\r\n"},
		{string(AppendBool(nil, false, 2)), ":0\r\n"},
		{string(AppendVerbatim(nil, "txt", []byte("hi"), 3)), "=6\r\ntxt:hi\r\n"},
		{string(AppendVerbatim(nil, "txt", []byte("hi"), 2)), "$2\r\nhi\r\n"},
	}
	for i, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%d: got %q, want %q", i, tt.got, tt.want)
		}
	}
}

// FuzzReader checks that no input panics the reader, that the arguments it
// returns are consistent, and that parsing does not depend on how the input
// is split across reads.
func FuzzReader(f *testing.F) {
	for _, s := range []string{
		"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", "PING\r\n", "SET \"a\\x41\" 'b'\r\n", "*-1\r\n", "*1\r\n$-1\r\n",
		"*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n", "\"unbalanced\r\n", "*1\r\n$4\r\nPI", "\r\n\r\n",
		"*1\r\n$0\r\n\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n",
	} {
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, in []byte, unauth bool) {
		a, errA := readAll(bytes.NewReader(in), unauth)
		b, errB := readAll(iotest.OneByteReader(bytes.NewReader(in)), unauth)
		if fmt.Sprint(a) != fmt.Sprint(b) || fmt.Sprint(errA) != fmt.Sprint(errB) {
			t.Fatalf("split-dependent parse: %q/%v vs %q/%v", a, errA, b, errB)
		}
		for _, c := range a {
			if len(c) == 0 {
				t.Fatal("empty command returned")
			}
		}
	})
}

func BenchmarkReaderPipeline(b *testing.B) {
	cmd := "*3\r\n$3\r\nSET\r\n$16\r\nkey:000000000001\r\n$64\r\n" + strings.Repeat("v", 64) + "\r\n"
	in := []byte(strings.Repeat(cmd, 100))
	rd := bytes.NewReader(in)
	r := NewReader(rd)
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for i := 0; i < b.N; i++ {
		rd.Reset(in)
		r.Reset(rd)
		n := 0
		for {
			_, err := r.Next()
			if err == ErrIncomplete {
				if r.Fill() != nil {
					break
				}
				continue
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != 100 {
			b.Fatalf("parsed %d", n)
		}
	}
}

func BenchmarkAppendBulk(b *testing.B) {
	v := []byte(strings.Repeat("v", 64))
	buf := make([]byte, 0, 128)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf = AppendBulk(buf[:0], v)
	}
}

// TestReaderRelease: a released Reader's buffer is reused by the next
// Reader, which sees only its own input.
func TestReaderRelease(t *testing.T) {
	a := NewReader(strings.NewReader("*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$3\r\nabc\r\n"))
	if err := a.Fill(); err != nil {
		t.Fatal(err)
	}
	if args, err := a.Next(); err != nil || string(args[0]) != "PING" {
		t.Fatalf("first reader: %q, %v", args, err)
	}
	a.Release() // with unparsed input left in the buffer
	a.Release() // twice is harmless
	b := NewReader(strings.NewReader("*1\r\n$4\r\nECHO\r\n"))
	if err := b.Fill(); err != nil {
		t.Fatal(err)
	}
	args, err := b.Next()
	if err != nil || len(args) != 1 || string(args[0]) != "ECHO" {
		t.Fatalf("reader after a release: %q, %v", args, err)
	}
	if _, err := b.Next(); err != ErrIncomplete {
		t.Fatalf("reader after a release saw more input: %v", err)
	}
}

// TestReaderBusyBuffer: a client whose read fills the default buffer (a
// pipeline of larger values) gets a busyBufSize buffer from the next Fill
// on, and every command still parses; one whose reads never fill it (a
// byte at a time) keeps the default size.
func TestReaderBusyBuffer(t *testing.T) {
	var in bytes.Buffer
	val := strings.Repeat("v", 650)
	for i := range 40 {
		fmt.Fprintf(&in, "*3\r\n$3\r\nSET\r\n$%d\r\nk%d\r\n$%d\r\n%s\r\n", len(fmt.Sprint("k", i)), i, len(val), val)
	}
	for _, tc := range []struct {
		name string
		rd   io.Reader
		size int
	}{
		{"pipeline", bytes.NewReader(in.Bytes()), busyBufSize},
		{"byte at a time", iotest.OneByteReader(bytes.NewReader(in.Bytes())), defaultBufSize},
	} {
		r := NewReader(tc.rd)
		n := 0
		for {
			args, err := r.Next()
			if err == ErrIncomplete {
				if err := r.Fill(); err == io.EOF {
					break
				} else if err != nil {
					t.Fatalf("%s: Fill: %v", tc.name, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s: Next: %v", tc.name, err)
			}
			if len(args) != 3 || string(args[1]) != fmt.Sprint("k", n) || string(args[2]) != val {
				t.Fatalf("%s: command %d: %q", tc.name, n, args)
			}
			n++
		}
		if n != 40 || len(r.buf) != tc.size {
			t.Fatalf("%s: %d commands, buffer %d bytes; want 40, %d", tc.name, n, len(r.buf), tc.size)
		}
	}
}
