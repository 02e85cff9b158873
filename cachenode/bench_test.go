// Benchmarks of the command path and the connection loop.

package cachenode

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// fakeConn is an in-memory net.Conn: Read serves in repeatedly (rounds
// times, then io.EOF), Write discards and counts.
type fakeConn struct {
	in      []byte
	off     int
	rounds  int
	written int64
}

func (f *fakeConn) Read(p []byte) (int, error) {
	if f.off == len(f.in) {
		if f.rounds == 0 {
			return 0, io.EOF
		}
		f.rounds--
		f.off = 0
	}
	n := copy(p, f.in[f.off:])
	f.off += n
	return n, nil
}
func (f *fakeConn) Write(p []byte) (int, error)      { f.written += int64(len(p)); return len(p), nil }
func (f *fakeConn) Close() error                     { return nil }
func (f *fakeConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (f *fakeConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (f *fakeConn) SetDeadline(time.Time) error      { return nil }
func (f *fakeConn) SetReadDeadline(time.Time) error  { return nil }
func (f *fakeConn) SetWriteDeadline(time.Time) error { return nil }

func benchServer(b *testing.B) *Server {
	s, err := New(Config{Logger: discardLogger()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

func argv(s ...string) [][]byte {
	out := make([][]byte, len(s))
	for i, a := range s {
		out[i] = []byte(a)
	}
	return out
}

// benchCommand runs args b.N times on one connection: the command path
// alone (lookup, checks, store, reply encoding, stats).
func benchCommand(b *testing.B, s *Server, args [][]byte) *conn {
	c := newConn(s, &fakeConn{})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.out = c.out[:0]
		c.exec(args)
	}
	return c
}

// BenchmarkCommandGet measures the command path of a GET hit: it must not
// allocate.
func BenchmarkCommandGet(b *testing.B) {
	s := benchServer(b)
	newConn(s, &fakeConn{}).exec(argv("SET", "key:000000001", strings.Repeat("v", 64)))
	c := benchCommand(b, s, argv("GET", "key:000000001"))
	if string(c.out[:4]) != "$64\r" {
		b.Fatalf("reply %q", c.out)
	}
}

func BenchmarkCommandGetMiss(b *testing.B) {
	benchCommand(b, benchServer(b), argv("GET", "nokey"))
}

func BenchmarkCommandSet(b *testing.B) {
	benchCommand(b, benchServer(b), argv("SET", "key:000000001", strings.Repeat("v", 64)))
}

// benchServe runs the whole connection loop (read, parse, execute, one
// write per batch) over b.N copies of batch, one op per batch, and returns
// the connection's socket.
func benchServe(b *testing.B, s *Server, batch []byte) *fakeConn {
	fc := &fakeConn{in: batch, off: len(batch), rounds: b.N}
	c := newTestConn(s, fc)
	b.ReportAllocs()
	b.SetBytes(int64(len(batch)))
	b.ResetTimer()
	c.serve()
	b.StopTimer()
	return fc
}

// BenchmarkPipelineGet16 runs batches of 16 pipelined GETs, like
// redis-benchmark -P 16.
func BenchmarkPipelineGet16(b *testing.B) {
	s := benchServer(b)
	newConn(s, &fakeConn{}).exec(argv("SET", "key:000000001", strings.Repeat("v", 64)))
	fc := benchServe(b, s, []byte(strings.Repeat(encode("GET", "key:000000001"), 16)))
	if want := int64(b.N) * 16 * int64(len("$64\r\n\r\n")+64); fc.written != want {
		b.Fatalf("wrote %d bytes, want %d", fc.written, want)
	}
}

// recConn is a fakeConn that records what the server writes.
type recConn struct {
	fakeConn
	out bytes.Buffer
}

func (r *recConn) Write(p []byte) (int, error) { return r.out.Write(p) }

type byteReader struct {
	*bufio.Reader
	b *bytes.Reader
}

func (r byteReader) Len() int { return r.b.Len() + r.Reader.Buffered() }

func bytesReader(b []byte) byteReader {
	br := bytes.NewReader(b)
	return byteReader{Reader: bufio.NewReader(br), b: br}
}

// BenchmarkPipelineSet16 is BenchmarkPipelineGet16 for SETs of 64-byte
// values over a keyspace of 100k keys (like redis-benchmark -r).
func BenchmarkPipelineSet16(b *testing.B) {
	var batch strings.Builder
	val := strings.Repeat("v", 64)
	for i := 0; i < 16; i++ {
		batch.WriteString(encode("SET", fmt.Sprintf("key:%012d", i*6151%100000), val))
	}
	benchServe(b, benchServer(b), []byte(batch.String()))
}

// BenchmarkCommandGetParallel runs GET hits from one connection per
// goroutine (shared store and counters).
func BenchmarkCommandGetParallel(b *testing.B) {
	s := benchServer(b)
	setup := newConn(s, &fakeConn{})
	for i := 0; i < 1000; i++ {
		setup.exec(argv("SET", fmt.Sprintf("key:%09d", i), strings.Repeat("v", 64)))
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		c := newConn(s, &fakeConn{})
		keys := make([][][]byte, 1000)
		for i := range keys {
			keys[i] = argv("GET", fmt.Sprintf("key:%09d", i))
		}
		i := 0
		for pb.Next() {
			c.out = c.out[:0]
			c.exec(keys[i%len(keys)])
			i++
		}
	})
}
