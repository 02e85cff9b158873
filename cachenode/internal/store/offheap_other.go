//go:build !linux

package store

// offheap reports whether chunks and large tables live outside the Go heap.
// Off Linux they are ordinary Go memory (accounting stays honest, but the
// process's resident memory includes the Go heap's overhead).
const offheap = false

// mmapBytes returns n bytes of zeroed Go memory.
func mmapBytes(n int) ([]byte, error) { return make([]byte, n), nil }

// munmapBytes lets the garbage collector reclaim b.
func munmapBytes(b []byte) {}

// dropPages zeroes b, as MADV_DONTNEED does on Linux.
func dropPages(b []byte) { clear(b) }

// canPopulate reports whether populate does anything: not off Linux.
func canPopulate() bool { return false }

// populate does nothing off Linux.
func populate(b []byte) {}
