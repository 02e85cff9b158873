//go:build linux

package store

import (
	"sync/atomic"
	"syscall"
	"unsafe"
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

// madvPopulateWrite is MADV_POPULATE_WRITE (Linux 5.14): fault pages in,
// writable, in one call.
const madvPopulateWrite = 23

// populateOff is set once the kernel has rejected MADV_POPULATE_WRITE.
var populateOff atomic.Bool

// canPopulate reports whether populate does anything.
func canPopulate() bool { return !populateOff.Load() }

// populate makes the pages of b (which must start on a page boundary)
// resident and writable now, which costs far less than a page fault per
// page. Best effort: on failure the pages fault in when written, as
// without it; a kernel without MADV_POPULATE_WRITE turns it off.
func populate(b []byte) {
	if len(b) == 0 || populateOff.Load() {
		return
	}
	_, _, e := syscall.RawSyscall(syscall.SYS_MADVISE, uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)), madvPopulateWrite)
	if e == syscall.EINVAL {
		populateOff.Store(true)
	}
}
