//go:build linux

package store

import (
	"sync/atomic"
	"syscall"
	"unsafe"
)

// offheap reports whether chunks and large tables live outside the Go heap.
const offheap = true

// The memory calls below are raw system calls, like the Go runtime's own
// mmap and madvise: a regular one (syscall.Mmap and friends) wakes the
// runtime's monitor thread (sysmon) when the process was idle, and resets
// its polling to every 20 µs for the next milliseconds. On a server pinned to
// one CPU each of those wakeups preempts the serving thread, which showed as
// a longer p99 for SETs (which allocate chunks and grow indexes) and for the
// reads that follow them (which release the old index's pages).

// mmapBytes returns n bytes of zeroed anonymous memory outside the Go heap.
// Untouched pages cost no resident memory.
func mmapBytes(n int) ([]byte, error) {
	if n <= 0 {
		return nil, syscall.EINVAL
	}
	p, _, e := syscall.RawSyscall6(syscall.SYS_MMAP, 0, uintptr(n),
		syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE, ^uintptr(0), 0)
	if e != 0 {
		return nil, e
	}
	// The address comes back as a uintptr; reading it through a pointer is
	// the conversion go vet accepts (the memory is not Go-managed).
	return unsafe.Slice((*byte)(*(*unsafe.Pointer)(unsafe.Pointer(&p))), n), nil
}

// munmapBytes returns memory obtained from mmapBytes to the OS.
func munmapBytes(b []byte) {
	if len(b) == 0 {
		return
	}
	// Fails only for a range that is not mapped.
	_, _, _ = syscall.RawSyscall(syscall.SYS_MUNMAP, uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)), 0)
}

// dropPages releases the resident pages of b to the OS while keeping the
// mapping; they read back as zeros.
func dropPages(b []byte) {
	if len(b) == 0 {
		return
	}
	_, _, _ = syscall.RawSyscall(syscall.SYS_MADVISE, uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)), syscall.MADV_DONTNEED)
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
