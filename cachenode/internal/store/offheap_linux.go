//go:build linux

package store

import (
	"syscall"
)

// offheap reports whether chunks and large tables live outside the Go heap.
const offheap = true

// mmapBytes returns n bytes of zeroed anonymous memory outside the Go heap.
// Untouched pages cost no resident memory.
func mmapBytes(n int) ([]byte, error) {
	return syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
}

// munmapBytes returns memory obtained from mmapBytes to the OS.
func munmapBytes(b []byte) {
	_ = syscall.Munmap(b) // fails only for a range that is not mapped
}

// dropPages releases the resident pages of b to the OS while keeping the
// mapping; they read back as zeros.
func dropPages(b []byte) {
	_ = syscall.Madvise(b, syscall.MADV_DONTNEED)
}
