package store

import (
	"bytes"
	"slices"
	"sync"
	"sync/atomic"
)

// A shard is one independently locked part of the keyspace: an
// open-addressing index over entries packed in chunks.
//
// The index is a table of uint64 slots, tag<<32 | (offset+1), 0 meaning
// empty, where tag is the high 32 bits of the key's hash and offset locates
// the entry. It holds no pointers, so the GC never scans it. A key's home
// position is tag*n>>32, which is monotonic in tag; collisions probe
// linearly forward, without wrapping: the table has overflow slots past n and
// grows if a probe runs off its end. Deletion shifts later slots back (no
// tombstones). Because positions follow tag order, the keys with tags in a
// range can be enumerated from the current table whatever happened since a
// previous call, which is what makes Scan's guarantee hold across resizes.
type shard struct {
	mu sync.Mutex // protects everything below except the atomics

	table  []uint64 // index slots; len = n + overflow
	n      int      // home positions are in [0, n)
	tabMem int64    // bytes accounted for table

	chunks [][]byte // small-entry chunks; offset>>chunkBits indexes it
	pos    uint32   // next write offset in the address space of chunks
	arena  int64    // bytes written to chunks since the last compaction (live+dead)
	live   int64    // bytes of live small entries
	ahead  uint32   // bytes past pos in the current chunk prefaulted (and accounted)

	large     [][]byte // entries larger than maxSmall, each in its own mapping
	largeFree []uint32 // free indexes in large
	largeMem  int64    // bytes held by large

	mem int64 // total bytes accounted to the store's used counter

	hits, misses uint64 // keyspace stats, under mu
	writes       uint32 // write count, to advance the store's LRU clock
	expCursor    int    // active expiry sweep position

	nkeys atomic.Int64 // keys, readable without mu
	nvol  atomic.Int64 // keys with a TTL, readable without mu

	_ [64]byte // keep hot shards on separate cache lines
}

// shardOverhead is the fixed cost accounted per shard for its struct.
const shardOverhead = 256

func (sh *shard) home(tag uint32) int { return int((uint64(tag) * uint64(sh.n)) >> 32) }

// entry returns the bytes of the entry at off; they extend past the entry.
func (sh *shard) entry(off uint32) []byte {
	if off&largeFlag != 0 {
		return sh.large[off&^largeFlag]
	}
	return sh.chunks[off>>chunkBits][off&chunkMask:]
}

func slotOff(sl uint64) uint32 { return uint32(sl) - 1 }
func slotTag(sl uint64) uint32 { return uint32(sl >> 32) }
func mkSlot(tag, off uint32) uint64 {
	return uint64(tag)<<32 | uint64(off+1)
}

// findLocked returns the slot index of key, or -1.
func (sh *shard) findLocked(tag uint32, key []byte) int {
	t := sh.table
	if len(t) == 0 {
		return -1
	}
	for i := sh.home(tag); i < len(t); i++ {
		sl := t[i]
		if sl == 0 {
			return -1
		}
		if slotTag(sl) == tag && bytes.Equal(entryKey(sh.entry(slotOff(sl))), key) {
			return i
		}
	}
	return -1
}

// findSlotLocked returns the index of the slot whose value is exactly sl, or -1.
func (sh *shard) findSlotLocked(sl uint64) int {
	t := sh.table
	if len(t) == 0 {
		return -1
	}
	for i := sh.home(slotTag(sl)); i < len(t) && t[i] != 0; i++ {
		if t[i] == sl {
			return i
		}
	}
	return -1
}

func overflowFor(n int) int { return 16 + n/16 }

// insertSlotLocked adds sl to the index, growing it as needed. The key must not be present.
func (sh *shard) insertSlotLocked(sl uint64, s *Store) {
	if need := int(sh.nkeys.Load()) + 1; sh.n == 0 || need > sh.n*4/5 {
		sh.resizeLocked(max(8, need*5/4+1, sh.n*3/2), s)
	}
	for !sh.placeLocked(sl) {
		sh.resizeLocked(sh.n*3/2+8, s)
	}
}

// placeLocked puts sl in the first free slot from its home; false if none.
func (sh *shard) placeLocked(sl uint64) bool {
	t := sh.table
	for i := sh.home(slotTag(sl)); i < len(t); i++ {
		if t[i] == 0 {
			t[i] = sl
			return true
		}
	}
	return false
}

// resizeLocked rebuilds the index with n home positions.
func (sh *shard) resizeLocked(n int, s *Store) {
	for {
		old := sh.table
		t, mem := allocTable(n + overflowFor(n))
		sh.table, sh.n = t, n
		ok := true
		for _, sl := range old {
			if sl != 0 && !sh.placeLocked(sl) {
				ok = false
				break
			}
		}
		if ok {
			freeTable(old)
			s.account(sh, mem-sh.tabMem)
			sh.tabMem = mem
			return
		}
		// Pathological clustering at the end: retry bigger.
		freeTable(t)
		sh.table = old
		n = n*3/2 + 8
	}
}

// deleteSlotLocked removes slot i, shifting later slots of its run back.
func (sh *shard) deleteSlotLocked(i int) {
	t := sh.table
	for j := i + 1; j < len(t) && t[j] != 0; j++ {
		if sh.home(slotTag(t[j])) <= i {
			t[i] = t[j]
			i = j
		}
	}
	t[i] = 0
}

// reserveLocked reserves size (<= maxSmall) bytes in the chunks and returns
// their offset, or false when the shard's address space is exhausted. When
// the current chunk cannot hold the entry it moves to the next chunk
// (appending one if needed); the unused tail of the current chunk is
// counted as written (dead) bytes.
func (sh *shard) reserveLocked(size int, s *Store) (uint32, bool) {
	in := int(sh.pos & chunkMask)
	ci := int(sh.pos >> chunkBits)
	if ci >= len(sh.chunks) || in+size > chunkSize {
		next := ci
		if ci < len(sh.chunks) {
			next = ci + 1
			waste := int64(chunkSize - in)
			sh.arena += waste
			s.account(sh, waste-int64(sh.ahead)) // the prefaulted bytes are part of the waste
			sh.ahead = 0
		}
		if next >= maxChunks {
			return 0, false
		}
		if next == len(sh.chunks) {
			sh.chunks = append(sh.chunks, getChunk())
		}
		sh.pos = uint32(next) << chunkBits
	}
	off := sh.pos
	sh.pos += uint32(size)
	sh.arena += int64(size)
	sh.live += int64(size)
	delta := int64(size)
	if uint32(size) <= sh.ahead {
		sh.ahead -= uint32(size)
		delta = 0
	} else {
		delta -= int64(sh.ahead)
		resident := off&chunkMask + sh.ahead // the entry's bytes from here on are not
		sh.ahead = 0
		delta += int64(sh.prefaultLocked(s, resident))
	}
	s.account(sh, delta)
	return off, true
}

// prefaultLocked makes the pages of the current chunk from offset from (in
// the chunk) up to the first multiple of the store's prefault window past
// the write position resident in one call, instead of one page fault per
// page as writes reach them: a fault costs several times more (~12 us
// against ~1-3 us per page on the VM this was measured on). The prefaulted
// bytes ahead of the write position are counted in used memory, so resident
// memory never runs ahead of it. It returns how many bytes are now ahead (0
// when prefaulting is off).
func (sh *shard) prefaultLocked(s *Store, from uint32) uint32 {
	w := uint32(s.prefaultWindow())
	if w == 0 {
		return 0
	}
	in := sh.pos & chunkMask
	end := min((in/w+1)*w, chunkSize)
	if end <= in {
		return 0 // the chunk is full
	}
	populate(sh.chunks[sh.pos>>chunkBits][from&^(pageSize-1) : end])
	sh.ahead = end - in
	return sh.ahead
}

// allocLocked reserves size bytes for a new entry and returns its offset and bytes.
func (sh *shard) allocLocked(size int, s *Store) (uint32, []byte) {
	if size <= maxSmall {
		if off, ok := sh.reserveLocked(size, s); ok {
			in := int(off & chunkMask)
			return off, sh.chunks[off>>chunkBits][in : in+size]
		}
	}
	b := allocLarge(size)
	var idx uint32
	if n := len(sh.largeFree); n > 0 {
		idx = sh.largeFree[n-1]
		sh.largeFree = sh.largeFree[:n-1]
		sh.large[idx] = b
	} else {
		idx = uint32(len(sh.large))
		sh.large = append(sh.large, b)
	}
	sh.largeMem += int64(cap(b))
	s.account(sh, int64(cap(b)))
	return idx | largeFlag, b
}

// freeLocked releases the entry of size bytes at off.
func (sh *shard) freeLocked(off uint32, size int, s *Store) {
	if off&largeFlag != 0 {
		idx := off &^ largeFlag
		c := int64(cap(sh.large[idx]))
		freeLarge(sh.large[idx])
		sh.large[idx] = nil
		sh.largeFree = append(sh.largeFree, idx)
		sh.largeMem -= c
		s.account(sh, -c)
		return
	}
	sh.live -= int64(size)
}

// shrinkEntryLocked records that an entry at off rewritten in place lost delta bytes.
func (sh *shard) shrinkEntryLocked(off uint32, delta int) {
	if off&largeFlag == 0 {
		sh.live -= int64(delta)
	}
}

// dead returns the bytes of chunks that compaction would reclaim.
func (sh *shard) dead() int64 { return sh.arena - sh.live }

// maybeCompactLocked compacts the shard when a quarter of its chunk bytes are
// dead, and shrinks an index that became sparse.
func (sh *shard) maybeCompactLocked(s *Store) {
	if d := sh.dead(); (d > s.compactMin && d > sh.arena/4) || (d > 0 && sh.live == 0) {
		sh.compactLocked(s)
	}
	if n := int(sh.nkeys.Load()); sh.n > 64 && n < sh.n/8 {
		sh.resizeLocked(max(8, n*3/2), s)
	}
}

// compactPool recycles the scratch slices of compactLocked.
var compactPool = sync.Pool{New: func() any { return new([]uint64) }}

// compactLocked reclaims the dead space of deleted and overwritten entries
// by sliding the live small entries, in address order, towards the start
// of the shard's chunks (each entry moves to a lower or equal offset, so
// moving in address order never overwrites a live entry), then returns
// chunks no longer needed to the pool and drops the resident pages past
// the new end.
func (sh *shard) compactLocked(s *Store) {
	sp := compactPool.Get().(*[]uint64)
	ents := (*sp)[:0]
	for i, sl := range sh.table {
		if sl != 0 && slotOff(sl)&largeFlag == 0 {
			ents = append(ents, uint64(slotOff(sl))<<32|uint64(i))
		}
	}
	slices.Sort(ents)
	oldPos, oldAhead := sh.pos, sh.ahead
	s.account(sh, -sh.arena-int64(sh.ahead))
	sh.pos, sh.arena, sh.live, sh.ahead = 0, 0, 0, 0
	for _, e := range ents {
		off, i := uint32(e>>32), int(uint32(e))
		b := sh.chunks[off>>chunkBits][off&chunkMask:]
		_, _, size := entryKV(b)
		noff, ok := sh.reserveLocked(size, s)
		if !ok {
			panic("store: compaction ran out of address space") // cannot happen: offsets only decrease
		}
		in := int(noff & chunkMask)
		copy(sh.chunks[noff>>chunkBits][in:in+size], b[:size])
		sh.table[i] = mkSlot(slotTag(sh.table[i]), noff)
	}
	*sp = ents[:0]
	compactPool.Put(sp)

	keep := int((sh.pos + chunkMask) >> chunkBits)
	for _, c := range sh.chunks[keep:] {
		putChunk(c)
	}
	clear(sh.chunks[keep:])
	sh.chunks = sh.chunks[:keep]
	if keep > 0 {
		// Drop the pages of the last chunk past the new end that held data. The
		// page holding the new end stays resident with stale bytes past it:
		// up to one page per shard that used memory does not count.
		last := keep - 1
		from := int(sh.pos-uint32(last)<<chunkBits+sh.ahead+pageSize-1) &^ (pageSize - 1)
		to := chunkSize
		if int(oldPos>>chunkBits) == last {
			to = int(oldPos&chunkMask+oldAhead+pageSize-1) &^ (pageSize - 1)
		}
		if from < to {
			dropPages(sh.chunks[last][from:to])
		}
	}
	s.compactions.Add(1)
}

// releaseLocked drops every entry and all memory of the shard.
func (sh *shard) releaseLocked(s *Store) {
	for _, c := range sh.chunks {
		putChunk(c)
	}
	freeTable(sh.table)
	sh.chunks, sh.pos, sh.arena, sh.live, sh.ahead = nil, 0, 0, 0, 0
	sh.table, sh.n, sh.tabMem = nil, 0, 0
	for _, b := range sh.large {
		if b != nil {
			freeLarge(b)
		}
	}
	sh.large, sh.largeFree, sh.largeMem = nil, nil, 0
	sh.expCursor = 0
	sh.nkeys.Store(0)
	sh.nvol.Store(0)
	s.account(sh, shardOverhead-sh.mem)
}
