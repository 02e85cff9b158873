// Fuzzing the connection loop with arbitrary input.

package cachenode

import (
	"bytes"
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
		if bytes.Contains(logs.Bytes(), []byte("panic")) {
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
