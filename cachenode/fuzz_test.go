// Fuzzing the connection loop with arbitrary input.

package cachenode

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// FuzzCommands feeds arbitrary bytes through the whole connection loop
// (reader, command table, every command) over an in-memory connection. No
// input may panic (serve recovers panics, so the test checks the log), and
// every reply batch must be well-formed RESP.
func FuzzCommands(f *testing.F) {
	seeds := []string{
		encode("SET", "k", "v", "EX", "10", "GET"),
		encode("SET", "k", "1") + encode("INCRBYFLOAT", "k", "1e308") + encode("INCRBY", "k", "-9223372036854775808"),
		encode("SETRANGE", "k", "5", "x") + encode("GETRANGE", "k", "-100", "100"),
		encode("EXPIRE", "k", "10", "GT", "LT") + encode("PEXPIREAT", "k", "1"),
		encode("SCAN", "18446744073709551615", "COUNT", "1", "MATCH", "[a-") + encode("KEYS", "*\\"),
		encode("HELLO", "3", "AUTH", "default", "x", "SETNAME", "n") + encode("CLIENT", "LIST") + encode("CLIENT", "INFO"),
		encode("CONFIG", "SET", "maxmemory", "1", "maxmemory-policy", "noeviction") + encode("SET", "a", "b"),
		encode("COMMAND", "DOCS") + encode("COMMAND", "INFO", "client|list") + encode("INFO", "all"),
		encode("MSET", "a", "1", "b") + encode("MSETNX", "a", "1") + encode("RENAME", "a", "a") + encode("GETEX", "a", "PERSIST"),
		"SET k \"\\x41\"\r\nGET k\r\n*1\r\n$4\r\nPING\r\n",
		encode("CONFIG", "SET", "timeout", "1") + encode("FLUSHALL", "ASYNC") + encode("RANDOMKEY"),
		encode("MULTI") + encode("SET", "a", "1") + encode("NOPE") + encode("EXEC") + encode("MULTI") + encode("INCR", "a") + encode("EXEC") + encode("DISCARD"),
		encode("HELLO", "3") + encode("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "a") + encode("SET", "ab", "1") + encode("CLIENT", "TRACKINGINFO"),
		encode("CLIENT", "TRACKING", "on", "OPTIN") + encode("CLIENT", "CACHING", "yes") + encode("MULTI") + encode("GET", "k") + encode("EXEC") + encode("CLIENT", "PAUSE", "10", "WRITE"),
		encode("COMMAND", "GETKEYSANDFLAGS", "SET", "k", "v", "GET") + encode("COMMAND", "GETKEYS", "MSET", "a", "1", "b") + encode("COMMAND", "GETKEYS", "MEMORY", "USAGE"),
		encode("CLIENT", "REPLY", "SKIP") + encode("GET", "k") + encode("CLIENT", "REPLY", "OFF") + encode("NOPE") + encode("CLIENT", "REPLY", "ON") + encode("CLIENT", "UNBLOCK", "1", "ERROR"),
		encode("SHUTDOWN", "ABORT") + encode("MULTI") + encode("SHUTDOWN", "NOW") + encode("EXEC") + encode("SHUTDOWN", "SAVE") + encode("SHUTDOWN") + encode("PING"),
		encode("MONITOR") + encode("AUTH", "a", "b") + encode("GET", "k") + encode("CLIENT", "REPLY", "SKIP") + encode("PING") + encode("MONITOR") + encode("RESET") + encode("PING"),
		encode("MULTI") + encode("MONITOR") + encode("EXEC") + encode("HELLO", "3", "AUTH", "default", "x", "AUTH", "y"),
		encode("WAIT", "0", "0") + encode("MULTI") + encode("WAIT", "1", "0") + encode("EXEC") + encode("CLIENT", "UNBLOCK", "1", "ERROR") + encode("WAIT", "1", "5") + encode("PING"),
		encode("WATCH", "a", "b", "a") + encode("SET", "a", "1") + encode("MULTI") + encode("WATCH", "c") + encode("UNWATCH") + encode("EXEC") + encode("FLUSHALL") + encode("WATCH", "a") + encode("RESET"),
		encode("SETRANGE", "k", "9223372036854775807", "A") + encode("SETBIT", "k", "4294967295", "1") + encode("BITFIELD", "k", "SET", "i64", "#67108863", "1", "OVERFLOW", "FAIL", "INCRBY", "u63", "0", "-1"),
		encode("CONFIG", "SET", "proto-max-bulk-len", "1mb") + encode("APPEND", "k", "x") + encode("BITCOUNT", "k", "-9223372036854775808", "9223372036854775807", "BIT") + encode("BITPOS", "k", "0", "1", "-1", "BIT"),
		encode("BITOP", "NOT", "d", "k") + encode("LCS", "k", "d", "IDX", "MINMATCHLEN", "1", "WITHMATCHLEN") + encode("SUBSTR", "d", "-1", "9223372036854775807") + encode("BITFIELD_RO", "d", "GET", "i64", "#1"),
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var logs bytes.Buffer
		s, err := New(Config{Logger: newBufLogger(&logs)})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		fc := &recConn{fakeConn: fakeConn{in: in}}
		c := newTestConn(s, fc)
		done := make(chan struct{})
		go func() { c.serve(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Fatal("connection loop did not finish")
		}
		if n := s.stats.panics.Load(); n != 0 || bytes.Contains(logs.Bytes(), []byte("panic")) {
			t.Fatalf("panic serving %q: %s", in, logs.String())
		}
		br := bytesReader(fc.out.Bytes())
		for br.Len() > 0 {
			if _, err := readReply(br.Reader); err != nil {
				t.Fatalf("malformed reply stream %q: %v", fc.out.String(), err)
			}
		}
	})
}

// fuzzCommands are the commands FuzzCommandArgs draws from, with how many
// arguments at most follow the name.
var fuzzCommands = []struct {
	name string
	args int
}{
	{"GET", 1}, {"SET", 6}, {"SETRANGE", 3}, {"GETRANGE", 3}, {"SUBSTR", 3}, {"APPEND", 2}, {"STRLEN", 1},
	{"INCRBY", 2}, {"DECRBY", 2}, {"INCRBYFLOAT", 2}, {"GETEX", 3}, {"SETEX", 3}, {"PSETEX", 3},
	{"EXPIRE", 3}, {"PEXPIRE", 3}, {"EXPIREAT", 3}, {"PEXPIREAT", 3}, {"TTL", 1}, {"SCAN", 5},
	{"SETBIT", 3}, {"GETBIT", 2}, {"BITCOUNT", 4}, {"BITPOS", 5}, {"BITOP", 5},
	{"BITFIELD", 10}, {"BITFIELD_RO", 6}, {"LCS", 6}, {"OBJECT", 2}, {"MEMORY", 4}, {"SELECT", 1},
}

// fuzzWords are the arguments FuzzCommandArgs draws from besides raw
// fuzzed bytes: keys, options and numbers at the edges.
var fuzzWords = []string{
	"k", "b", "nokey", "0", "-1", "1", "7", "8", "63", "64", "9223372036854775807", "-9223372036854775808",
	"18446744073709551615", "536870911", "536870912", "4294967295", "4294967296", "1048576", "8388608",
	"#0", "#-1", "#9223372036854775807", "i8", "u8", "i64", "u63", "u64", "i1", "GET", "SET", "INCRBY",
	"OVERFLOW", "WRAP", "SAT", "FAIL", "BIT", "BYTE", "AND", "OR", "XOR", "NOT", "IDX", "LEN", "MINMATCHLEN",
	"WITHMATCHLEN", "EX", "PX", "EXAT", "PXAT", "KEEPTTL", "PERSIST", "NX", "XX", "GT", "LT", "COUNT", "MATCH",
	"ENCODING", "FREQ", "USAGE", "SAMPLES", "inf", "1e308", "",
}

// FuzzCommandArgs sends commands built from the fuzzed bytes (a command
// of fuzzCommands, arguments from fuzzWords or raw bytes) to a real server
// over a real connection. The connection must survive every command (a
// PING after them is answered) and no panic may reach the connection's
// recover.
func FuzzCommandArgs(f *testing.F) {
	f.Add([]byte("\x02\x00\x05\x01"))
	f.Add([]byte("\x13\x01\x05\x00\x0b\x16\x05"))
	f.Add([]byte("\x18\x05\x0e\x17\x01\x13\x18\x01\x1f\x21\x02\x01"))
	s := startServer(f, Config{MaxMemory: 64 << 20})
	dialRaw(f, s.Addr().String()).do("CONFIG", "SET", "proto-max-bulk-len", "1mb") // keeps the values the fuzzer builds small
	f.Fuzz(func(t *testing.T, in []byte) {
		c := dialRaw(t, s.Addr().String()) // one per input: a failure stays with its input
		for len(in) > 0 {
			fc := fuzzCommands[int(in[0])%len(fuzzCommands)]
			in = in[1:]
			args := []string{fc.name}
			for n := 0; n < fc.args && len(in) > 0; n++ {
				b := in[0]
				in = in[1:]
				if b&0x80 == 0 {
					args = append(args, fuzzWords[int(b)%len(fuzzWords)])
					continue
				}
				l := min(int(b&0x7f)%9, len(in)) // a raw argument of up to 8 fuzzed bytes
				args = append(args, string(in[:l]))
				in = in[l:]
			}
			if r := c.do(args...); strings.HasPrefix(r, "-ERR Protocol") {
				t.Fatalf("%q: %q", args, r)
			}
		}
		if r := c.do("PING"); r != "+PONG\r\n" {
			t.Fatalf("PING after the commands: %q", r)
		}
		if n := s.stats.panics.Load(); n != 0 {
			t.Fatalf("%d panics recovered serving the commands", n)
		}
	})
}
