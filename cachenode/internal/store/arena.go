package store

import (
	"sync"
	"unsafe"
)

// Entries of up to maxSmall bytes are packed into chunks of chunkSize bytes,
// which are obtained with mmap (outside the Go heap, so the garbage
// collector never scans or copies them, and only pages actually written
// count as resident memory). Each shard's chunks form an address space in
// which an entry's offset is chunkIndex<<chunkBits | offsetInChunk.
const (
	chunkBits = 20
	chunkSize = 1 << chunkBits // 1 MiB
	chunkMask = chunkSize - 1
	// maxSmall is the largest entry stored in chunks; bigger entries get
	// their own mapping, rounded up to pages, unmapped when they die.
	maxSmall = 64 << 10
	// largeFlag marks an offset that indexes shard.large instead of chunks.
	largeFlag = 1 << 31
	// maxChunks bounds a shard's address space to 2 GiB of small entries;
	// past it, entries are stored as large ones.
	maxChunks = largeFlag >> chunkBits
	// pageSize is the accounting granularity of off-heap tables.
	pageSize = 4096
)

// chunkPool recycles chunks between shards and stores. Pooled chunks have
// had their pages dropped, so they cost address space but no memory.
var chunkPool struct {
	mu   sync.Mutex // protects free
	free [][]byte
}

func getChunk() []byte {
	chunkPool.mu.Lock()
	if n := len(chunkPool.free); n > 0 {
		c := chunkPool.free[n-1]
		chunkPool.free = chunkPool.free[:n-1]
		chunkPool.mu.Unlock()
		return c
	}
	chunkPool.mu.Unlock()
	return osAlloc(chunkSize)
}

func putChunk(c []byte) {
	if !offheap || osFreeIfHeap(c) {
		return // Go heap memory: the GC takes it back
	}
	dropPages(c)
	chunkPool.mu.Lock()
	chunkPool.free = append(chunkPool.free, c)
	chunkPool.mu.Unlock()
}

// osHeap records the allocations osAlloc had to make on the Go heap because
// mmap failed (out of memory, or vm.max_map_count reached): the store then
// degrades to heap memory instead of crashing.
var osHeap struct {
	mu sync.Mutex // protects m
	m  map[*byte]struct{}
}

// mmapFn is mmapBytes; tests replace it to simulate mmap failures.
var mmapFn = mmapBytes

// osAlloc returns n bytes of zeroed memory outside the Go heap when possible.
func osAlloc(n int) []byte {
	if !offheap {
		return make([]byte, n)
	}
	if b, err := mmapFn(n); err == nil {
		return b
	}
	b := make([]byte, n)
	osHeap.mu.Lock()
	if osHeap.m == nil {
		osHeap.m = make(map[*byte]struct{})
	}
	osHeap.m[unsafe.SliceData(b)] = struct{}{}
	osHeap.mu.Unlock()
	return b
}

// osFreeIfHeap forgets b and reports true if osAlloc made it on the Go heap.
func osFreeIfHeap(b []byte) bool {
	osHeap.mu.Lock()
	defer osHeap.mu.Unlock()
	p := unsafe.SliceData(b)
	if _, ok := osHeap.m[p]; ok {
		delete(osHeap.m, p)
		return true
	}
	return false
}

// osFree releases memory from osAlloc (b must be the whole allocation).
// Nothing may refer to it after.
func osFree(b []byte) {
	if offheap && !osFreeIfHeap(b) {
		munmapBytes(b)
	}
}

// tableOffheapMin is the table size (bytes) from which tables are mmapped
// rather than allocated on the Go heap.
const tableOffheapMin = 16 << 10

// allocTable returns a zeroed table of n slots and the bytes it accounts for.
func allocTable(n int) ([]uint64, int64) {
	if !offheap || n*8 < tableOffheapMin {
		return make([]uint64, n), int64(n * 8)
	}
	size := (n*8 + pageSize - 1) &^ (pageSize - 1)
	b := osAlloc(size)
	populate(b) // the table's pages are all about to be written
	return unsafe.Slice((*uint64)(unsafe.Pointer(&b[0])), n), int64(size)
}

func freeTable(t []uint64) {
	if !offheap || len(t)*8 < tableOffheapMin {
		return
	}
	size := (len(t)*8 + pageSize - 1) &^ (pageSize - 1)
	osFree(unsafe.Slice((*byte)(unsafe.Pointer(&t[0])), size))
}

// allocLarge returns memory for an entry of size > maxSmall bytes, or for a
// value Edit extends with room to grow (bits.go): its own page-rounded
// mapping, so freeing it returns the memory to the OS at once
// (a Go-heap allocation would wait for the GC, and GOGC lets the heap grow
// to twice its live size).
func allocLarge(size int) []byte {
	return osAlloc((size + pageSize - 1) &^ (pageSize - 1))
}

// freeLarge releases memory from allocLarge. Nothing may refer to it after.
func freeLarge(b []byte) { osFree(b) }

// maxPrefault is the largest chunk prefault window (see shard.prefaultLocked).
const maxPrefault = 16 << 10

// prefaultWindow returns the chunk prefault window in bytes: maxPrefault, or
// less with a small maxmemory, so that the windows of all the shards
// (resident ahead of the writes and counted in used memory) stay within
// 1/64 of it; 0 when prefaulting is off (the platform cannot, or the limit
// is too small for even one page per shard).
func (s *Store) prefaultWindow() int64 {
	if !canPopulate() {
		return 0
	}
	w := int64(maxPrefault)
	if m := s.maxMemory.Load(); m > 0 {
		w = min(w, m/int64(len(s.shards))/64&^(pageSize-1))
	}
	return w
}
