package rdb

import (
	"bytes"
	"errors"
	"io"
	"os"
	"runtime"
	"testing"
)

// FuzzReader feeds arbitrary bytes to Reader: it must return string keys or
// an error, never panic, and allocate no more than a bound proportional to
// the input (a length field is trusted only as far as its data arrives).
// Seeds: a file written by redis-server 7.0.15 and one by Writer, with
// truncated and altered variants.
//
//	go test -run '^$' -fuzz FuzzReader ./cachenode/internal/rdb
func FuzzReader(f *testing.F) {
	seeds := [][]byte{writeFile(f, []kv{{"a", "1", 0}, {"key", "value", 1700000000000}, {"n", "-123456", 0}})}
	if b, err := os.ReadFile("testdata/redis-7.0.15.rdb"); err == nil {
		seeds = append(seeds, b, b[:len(b)/2])
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Add([]byte("REDIS0010\xfe\x00\xfb\x01\x00\x00\x03key\xc3\x02\x0a\x00a\xff\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		r := NewReader(bytes.NewReader(data))
		var keys int
		for {
			e, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupported) {
					t.Fatalf("error %v wraps neither ErrCorrupt nor ErrUnsupported", err)
				}
				break
			}
			if len(e.Value) > MaxStringLen || len(e.Key) > MaxStringLen {
				t.Fatalf("string over MaxStringLen")
			}
			keys++
		}
		runtime.ReadMemStats(&after)
		// The read buffer, plus per byte of input at most an LZF expansion
		// (132x) kept twice (scratch and value), plus per key small slices.
		limit := uint64(2*readChunk+(1<<20)) + uint64(len(data))*300 + uint64(keys)*64
		if got := after.TotalAlloc - before.TotalAlloc; got > limit {
			t.Fatalf("allocated %d bytes for %d bytes of input (limit %d)", got, len(data), limit)
		}
	})
}

// FuzzRoundTrip writes arbitrary keys and values with Writer and reads them
// back unchanged.
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte("k"), []byte("v"), int64(0))
	f.Add([]byte("n"), []byte("-2147483648"), int64(1700000000000))
	f.Add([]byte(""), []byte("0"), int64(-1))
	f.Fuzz(func(t *testing.T, k, v []byte, exp int64) {
		b := writeFile(t, []kv{{string(k), string(v), exp}, {"after", "x", 0}})
		got, _, err := readAll(t, b)
		if err != nil {
			t.Fatal(err)
		}
		if g := got[string(k)]; g.v != string(v) || g.exp != exp {
			t.Fatalf("got %q exp %d, want %q exp %d", g.v, g.exp, v, exp)
		}
	})
}
