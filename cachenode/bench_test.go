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

// BenchmarkCommandGet measures the command path of a GET hit (lookup,
// store read, reply encoding, stats): it must not allocate.
func BenchmarkCommandGet(b *testing.B) {
	s := benchServer(b)
	c := newConn(s, &fakeConn{})
	c.exec(argv("SET", "key:000000001", strings.Repeat("v", 64)))
	args := argv("GET", "key:000000001")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.out = c.out[:0]
		c.exec(args)
	}
	if string(c.out[:4]) != "$64\r" {
		b.Fatalf("reply %q", c.out)
	}
}

func BenchmarkCommandGetMiss(b *testing.B) {
	s := benchServer(b)
	c := newConn(s, &fakeConn{})
	args := argv("GET", "nokey")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		c.out = c.out[:0]
		c.exec(args)
	}
}

func BenchmarkCommandSet(b *testing.B) {
	s := benchServer(b)
	c := newConn(s, &fakeConn{})
	args := argv("SET", "key:000000001", strings.Repeat("v", 64))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		c.out = c.out[:0]
		c.exec(args)
	}
}

// BenchmarkPipelineGet16 runs the whole connection loop (read, parse,
// execute, one write per batch) over batches of 16 pipelined GETs, like
// redis-benchmark -P 16. One op is one batch.
func BenchmarkPipelineGet16(b *testing.B) {
	s := benchServer(b)
	setup := newConn(s, &fakeConn{})
	setup.exec(argv("SET", "key:000000001", strings.Repeat("v", 64)))
	batch := []byte(strings.Repeat(encode("GET", "key:000000001"), 16))
	fc := &fakeConn{in: batch, off: len(batch), rounds: b.N}
	c := newConn(s, fc)
	s.life.connWG.Add(1)
	s.net.mu.Lock()
	s.net.conns[c] = struct{}{}
	s.net.mu.Unlock()
	b.ReportAllocs()
	b.SetBytes(int64(len(batch)))
	b.ResetTimer()
	c.serve()
	b.StopTimer()
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
	s := benchServer(b)
	var batch strings.Builder
	val := strings.Repeat("v", 64)
	for i := 0; i < 16; i++ {
		batch.WriteString(encode("SET", fmt.Sprintf("key:%012d", i*6151%100000), val))
	}
	in := []byte(batch.String())
	fc := &fakeConn{in: in, off: len(in), rounds: b.N}
	c := newConn(s, fc)
	s.life.connWG.Add(1)
	s.net.mu.Lock()
	s.net.conns[c] = struct{}{}
	s.net.mu.Unlock()
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	b.ResetTimer()
	c.serve()
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
