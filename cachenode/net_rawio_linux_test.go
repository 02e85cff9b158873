//go:build linux

// Tests of raw socket I/O on Linux.

package cachenode

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		client.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// TestRawIO checks raw reads and writes over real TCP: a write larger than
// the socket buffers completes (waiting for writability) and arrives intact,
// reads see EOF after the peer closes, and read deadlines time out like
// net.Conn's.
func TestRawIO(t *testing.T) {
	client, server := tcpPair(t)
	r := newRawIO(server)
	if r == nil {
		t.Fatal("newRawIO returned nil for a TCP connection")
	}
	defer r.close() // ends the coroutine of its open read
	if newRawIO(struct{}{}) != nil {
		t.Fatal("newRawIO accepted a value without a file descriptor")
	}

	// A write of 8 MiB with a reader that starts late and reads slowly.
	want := make([]byte, 8<<20)
	for i := range want {
		want[i] = byte(i * 7)
	}
	got := make(chan []byte, 1)
	go func() {
		time.Sleep(100 * time.Millisecond)
		b, _ := io.ReadAll(io.LimitReader(client, int64(len(want))))
		got <- b
	}()
	n, err := r.write(want)
	if err != nil || n != len(want) {
		t.Fatalf("write = %d, %v; want %d, nil", n, err, len(want))
	}
	if b := <-got; !bytes.Equal(b, want) {
		t.Fatalf("peer received %d bytes, not the %d written", len(b), len(want))
	}

	// Reads return what the peer sent, then a timeout, then EOF.
	if _, err := client.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	var acc []byte
	for len(acc) < 5 {
		n, err := r.read(buf)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		acc = append(acc, buf[:n]...)
	}
	if string(acc) != "hello" {
		t.Fatalf("read %q", acc)
	}
	// After a read that drained the socket the next one waits for
	// readiness without reading first: data sent later must still arrive.
	// A read that fills the buffer reads again at once: the rest is there.
	for i, chunk := range []string{"later", strings.Repeat("x", 100)} {
		go func() {
			time.Sleep(20 * time.Millisecond)
			_, _ = client.Write([]byte(chunk))
		}()
		acc = acc[:0]
		for len(acc) < len(chunk) {
			n, err := r.read(buf)
			if err != nil {
				t.Fatalf("read %d: %v", i, err)
			}
			acc = append(acc, buf[:n]...)
		}
		if string(acc) != chunk {
			t.Fatalf("read %d: %q, want %q", i, acc, chunk)
		}
	}
	_ = server.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	var ne net.Error
	if _, err := r.read(buf); !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read past the deadline: %v; want a timeout", err)
	}
	_ = server.SetReadDeadline(time.Time{})
	client.Close()
	if n, err := r.read(buf); n != 0 || err != io.EOF {
		t.Fatalf("read after the peer closed = %d, %v; want 0, EOF", n, err)
	}
	server.Close()
	if _, err := r.write([]byte("x")); err == nil {
		t.Fatal("write on a closed connection succeeded")
	}
}
