package store

import (
	"bytes"
	"slices"
	"sync"
	"sync/atomic"
	"unsafe"
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
	tabMem int64    // bytes accounted for table and old

	// During an incremental resize, the previous table: its slots from mig
	// on have not been moved to table yet (nil when no resize is going on).
	old        []uint64
	oldN       int
	oldMem     int64 // bytes of old still accounted
	mig        int
	oldDropped int // bytes at the start of old already given back to the OS

	chunks [][]byte // small-entry chunks; offset>>chunkBits indexes it
	pos    uint32   // next write offset in the address space of chunks
	arena  int64    // bytes written to chunks since the last compaction (live+dead)
	live   int64    // bytes of live small entries
	ahead  uint32   // bytes past pos in the current chunk prefaulted (and accounted)

	large     [][]byte // entries larger than maxSmall or grown by Edit, each in its own mapping
	largeFree []uint32 // free indexes in large
	largeMem  int64    // bytes held by large

	mem int64 // total bytes accounted to the store's used counter

	hits, misses uint64 // keyspace stats, under mu
	writes       uint32 // write count, to advance the store's LRU clock
	expCursor    int    // active expiry sweep position
	sketch       sketch // access frequencies, under the TinyLFU policies

	nkeys atomic.Int64 // keys, readable without mu
	nvol  atomic.Int64 // keys with a TTL, readable without mu

	_ [64]byte // keep hot shards on separate cache lines
}

// shardOverhead is the fixed cost accounted per shard for its struct.
const shardOverhead = 256

func (sh *shard) home(tag uint32) int { return homeIn(tag, sh.n) }

// homeIn is a tag's home position in a table with n home positions.
func homeIn(tag uint32, n int) int { return int((uint64(tag) * uint64(n)) >> 32) }

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

// findLocked returns the slot index of key in sh.table, or -1. During an
// incremental resize it also looks in the previous table, and moves the key
// to the current one if it is there; either way it moves a few more slots
// (migrateLocked), so lookups too move a resize forward. Moving only fills
// empty slots of sh.table, so other indexes into it stay valid, unless
// moving fails and the table is rebuilt (a probe running off the end of the
// table: pathological); callers look keys up again after any call that may
// change the table, as they do after inserts and lazy expiry.
func (sh *shard) findLocked(tag uint32, key []byte, s *Store) int {
	if sh.old != nil {
		sh.migrateLocked(lookupMigrateStep, s)
	}
	if i := sh.findIn(sh.table, sh.n, 0, tag, key); i >= 0 || sh.old == nil {
		return i
	}
	j := sh.findIn(sh.old, sh.oldN, sh.mig, tag, key)
	if j < 0 {
		return -1
	}
	sl := sh.old[j]
	deleteIn(sh.old, sh.oldN, j)
	if i := placeIn(sh.table, sh.n, sl); i >= 0 {
		return i
	}
	sh.resizeLocked(sh.n*3/2+8, s, sl)
	return sh.findIn(sh.table, sh.n, 0, tag, key)
}

// findIn looks key up in table t with n home positions, probing from its
// home or from position from, whichever is later.
func (sh *shard) findIn(t []uint64, n, from int, tag uint32, key []byte) int {
	if len(t) == 0 {
		return -1
	}
	for i := max(homeIn(tag, n), from); i < len(t); i++ {
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

// findSlotLocked returns the index of the slot whose value is exactly sl, or
// -1. No resize may be going on.
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

// Incremental resizing. Rebuilding a table of thousands of slots at once
// stalls every client of the shard for hundreds of microseconds (more on a
// VM, where touching fresh memory is slow), so, like Redis's incremental
// rehashing, growth past Store.syncResizeMax slots is spread over later
// operations: every insert moves insertMigrateStep slots of the previous
// table and every lookup lookupMigrateStep. With growth x1.5 at load 0.8
// the new table starts at load 0.53, and the previous table (n*17/16+16
// slots) is emptied well before the new one reaches 0.8 (after about n/7
// inserts). Compaction, eviction batches, RANDOMKEY and rebuilds (resizeLocked,
// shrinking included) finish the move first; SCAN and eviction sampling read
// both tables, and each active-expiry step moves sweepStep slots.
const (
	syncResizeMax     = 1024 // Store.syncResizeMax's default
	insertMigrateStep = 8
	lookupMigrateStep = 2
)

// insertSlotLocked adds sl to the index, growing it as needed. The key must not be present.
func (sh *shard) insertSlotLocked(sl uint64, s *Store) {
	if sh.old != nil {
		sh.migrateLocked(insertMigrateStep, s)
	}
	if need := int(sh.nkeys.Load()) + 1; sh.n == 0 || need > sh.n*4/5 {
		sh.growLocked(max(8, need*5/4+1, sh.n*3/2), s)
	}
	for !sh.placeLocked(sl) {
		sh.resizeLocked(sh.n*3/2+8, s, 0)
	}
}

// growLocked gives the index n home positions: at once for small tables,
// else by starting an incremental resize.
func (sh *shard) growLocked(n int, s *Store) {
	if sh.old != nil || len(sh.table) < s.syncResizeMax {
		sh.resizeLocked(n, s, 0)
		return
	}
	t, mem := allocTable(n + overflowFor(n))
	sh.old, sh.oldN, sh.oldMem, sh.mig = sh.table, sh.n, sh.tabMem, 0
	sh.table, sh.n = t, n
	sh.tabMem += mem
	s.account(sh, mem)
}

// migrateLocked moves up to k slots of the previous table to the current
// one, and ends the resize when none is left.
func (sh *shard) migrateLocked(k int, s *Store) {
	for ; k > 0 && sh.mig < len(sh.old); k-- {
		sl := sh.old[sh.mig]
		if sl != 0 && !sh.placeLocked(sl) {
			sh.resizeLocked(sh.n*3/2+8, s, 0) // takes the rest of old too
			return
		}
		sh.mig++
	}
	if sh.old == nil {
		return
	}
	if sh.mig < len(sh.old) {
		sh.releaseMovedLocked(s)
		return
	}
	freeTable(sh.old)
	s.account(sh, -sh.oldMem)
	sh.tabMem -= sh.oldMem
	sh.old, sh.oldN, sh.oldMem, sh.mig, sh.oldDropped = nil, 0, 0, 0, 0
}

// releaseMovedLocked gives the pages of an off-heap previous table that the
// move has gone past back to the OS, a few at a time: releasing a whole
// table at once at the end costs up to ~0.2 ms on a VM. Nothing reads the
// previous table below mig.
func (sh *shard) releaseMovedLocked(s *Store) {
	const batch = 4 * pageSize
	if len(sh.old)*8 < tableOffheapMin {
		return // on the Go heap
	}
	upTo := sh.mig * 8 &^ (pageSize - 1)
	if upTo-sh.oldDropped < batch {
		return
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(&sh.old[0])), len(sh.old)*8)
	dropPages(b[sh.oldDropped:upTo])
	n := int64(upTo - sh.oldDropped)
	sh.oldDropped = upTo
	sh.oldMem -= n
	sh.tabMem -= n
	s.account(sh, -n)
}

// finishResizeLocked completes an incremental resize, if one is going on,
// for operations that walk the whole index.
func (sh *shard) finishResizeLocked(s *Store) {
	if sh.old != nil {
		sh.migrateLocked(len(sh.old), s)
	}
}

// placeLocked puts sl in the first free slot from its home; false if none.
func (sh *shard) placeLocked(sl uint64) bool { return placeIn(sh.table, sh.n, sl) >= 0 }

// placeIn puts sl in the first free slot of t (with n home positions) from
// its home and returns its index, or -1 if there is none.
func placeIn(t []uint64, n int, sl uint64) int {
	for i := homeIn(slotTag(sl), n); i < len(t); i++ {
		if t[i] == 0 {
			t[i] = sl
			return i
		}
	}
	return -1
}

// resizeLocked rebuilds the index at once with n home positions, from the
// current table, what is left of the previous one during an incremental
// resize, and extra (if not 0).
func (sh *shard) resizeLocked(n int, s *Store, extra uint64) {
	for {
		t, mem := allocTable(n + overflowFor(n))
		ok := extra == 0 || placeIn(t, n, extra) >= 0
		for _, sl := range sh.table {
			if !ok {
				break
			}
			ok = sl == 0 || placeIn(t, n, sl) >= 0
		}
		if sh.old != nil {
			for _, sl := range sh.old[sh.mig:] {
				if !ok {
					break
				}
				ok = sl == 0 || placeIn(t, n, sl) >= 0
			}
		}
		if ok {
			freeTable(sh.table)
			if sh.old != nil {
				freeTable(sh.old)
			}
			s.account(sh, mem-sh.tabMem)
			sh.table, sh.n, sh.tabMem = t, n, mem
			sh.old, sh.oldN, sh.oldMem, sh.mig, sh.oldDropped = nil, 0, 0, 0, 0
			return
		}
		// Pathological clustering at the end: retry bigger.
		freeTable(t)
		n = n*3/2 + 8
	}
}

// deleteSlotLocked removes slot i, shifting later slots of its run back.
func (sh *shard) deleteSlotLocked(i int) { deleteIn(sh.table, sh.n, i) }

// deleteIn removes slot i of t (with n home positions), shifting later slots
// of its run back.
func deleteIn(t []uint64, n, i int) {
	for j := i + 1; j < len(t) && t[j] != 0; j++ {
		if homeIn(slotTag(t[j]), n) <= i {
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
	return sh.addLargeLocked(b, s), b
}

// addLargeLocked registers b, a mapping of its own, as a large entry of sh
// (accounting its whole capacity) and returns its offset.
func (sh *shard) addLargeLocked(b []byte, s *Store) uint32 {
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
	return idx | largeFlag
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
		sh.resizeLocked(max(8, n*3/2), s, 0)
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
	sh.finishResizeLocked(s) // it rewrites the offsets of all the slots
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
	if sh.old != nil {
		freeTable(sh.old)
		sh.old, sh.oldN, sh.oldMem, sh.mig, sh.oldDropped = nil, 0, 0, 0, 0
	}
	sh.chunks, sh.pos, sh.arena, sh.live, sh.ahead = nil, 0, 0, 0, 0
	sh.table, sh.n, sh.tabMem = nil, 0, 0
	for _, b := range sh.large {
		if b != nil {
			freeLarge(b)
		}
	}
	sh.large, sh.largeFree, sh.largeMem = nil, nil, 0
	sh.expCursor = 0
	sh.sketch = sketch{} // accounted in sh.mem, released below
	sh.nkeys.Store(0)
	sh.nvol.Store(0)
	s.account(sh, shardOverhead-sh.mem)
}
