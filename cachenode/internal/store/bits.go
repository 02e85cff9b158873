package store

import "encoding/binary"

// flagEdited marks an entry whose value Edit changed in place or extended,
// in the entry's flags byte (next to flagTTL); writeEntry clears it.
const flagEdited = 2

// Edit changes a value in place, for the commands that rewrite part of a
// string (SETRANGE, APPEND, SETBIT, BITFIELD): no copy of the whole value
// goes through the caller.
//
// Under the key's lock, size is called with the current value (nil and
// exists false if the key does not exist; it must not be modified or kept)
// and returns the length the value must have, or -1 to leave the key
// alone. A value shorter than that is extended with zero bytes (a missing
// key is created, without TTL); a longer one keeps its length. Then edit
// is called with the value's bytes, which it may change in place; they are
// valid only during the call. grown reports whether the value was created
// or extended. Neither function may call the Store. The key's TTL is kept
// and it counts as written (LRU). The entry is then marked edited (see
// Edited) until a write replaces its value.
func (s *Store) Edit(key []byte, size func(cur []byte, exists bool) int, edit func(val []byte, grown bool)) {
	sh, tag := s.locate(s.hash(key))
	sh.mu.Lock()
	defer sh.mu.Unlock()
	defer sh.maybeCompactLocked(s)
	i, b := s.lookupReadLocked(sh, tag, key)
	var cur []byte
	if i >= 0 {
		_, cur, _ = entryKV(b)
	}
	n := size(cur, i >= 0)
	if n < 0 {
		return
	}
	if i < 0 {
		i, b = s.lookupLocked(sh, tag, key) // removes a hidden expired entry: -1
	}
	if i >= 0 && n <= len(cur) {
		setEntryLRU(b, s.writeStampLocked(sh, tag, b))
		b[0] |= flagEdited
		edit(cur, false)
		return
	}
	var exp int64
	if i >= 0 {
		exp = entryExp(b)
		if v, ok := growInPlace(sh, i, cur, n); ok {
			setEntryLRU(b, s.writeStampLocked(sh, tag, b))
			b[0] |= flagEdited
			edit(v, true)
			return
		}
	}
	need := entrySize(len(key), n, exp != 0)
	var off uint32
	var nb []byte
	if i >= 0 && n >= growLargeMin {
		off, nb = s.allocGrowingLocked(sh, need) // moves nothing: cur stays valid
	} else {
		off, nb = sh.allocLocked(need, s) // moves nothing: cur stays valid
	}
	var old []byte
	if i >= 0 {
		old = b
	}
	voff := writeEntryHeader(nb, key, n, exp, s.writeStampLocked(sh, tag, old))
	nb[0] |= flagEdited
	if old != nil {
		setEntryCount(nb, entryCount(old))
	} else if Policy(s.policy.Load()).TinyLFU() {
		setEntryCount(nb, sh.sketch.estimate(tag)) // as putLocked starts a new key
	}
	val := nb[voff : voff+n : voff+n]
	clear(val[copy(val, cur):])
	if i < 0 {
		sh.insertSlotLocked(mkSlot(tag, off), s)
		sh.nkeys.Add(1)
	} else {
		_, _, oldSize := entryKV(b)
		sh.freeLocked(slotOff(sh.table[i]), oldSize, s)
		sh.table[i] = mkSlot(tag, off)
	}
	edit(val, true)
}

// Values that Edit extends grow geometrically, as Redis's strings do
// (sdsMakeRoomFor): building a bitmap bit by bit, or a string by APPENDs,
// would otherwise copy the whole value at each step. A value extended to
// growLargeMin bytes or more moves to an entry of its own mapping with room
// to spare (as much again, at most growSlackMax more), and grows in place
// until that room is used up. The spare room counts in used memory; it is
// given only while it fits under maxmemory (untouched, it is not resident).
const (
	growLargeMin = 1 << 10
	growSlackMax = 1 << 20
)

// allocGrowingLocked allocates an entry of need bytes in its own mapping,
// with room to grow, and returns its offset and bytes (need of them).
func (s *Store) allocGrowingLocked(sh *shard, need int) (uint32, []byte) {
	size := need + min(need, growSlackMax)
	if limit := s.maxMemory.Load(); limit > 0 && s.used.Load()+int64(size) > limit {
		size = need
	}
	b := allocLarge(size)
	return sh.addLargeLocked(b, s), b[:need]
}

// growInPlace extends the value cur of the entry in slot i to n bytes
// within the entry's own mapping when it has the room and the value's
// length keeps the size of its varint, and returns the value's new bytes.
func growInPlace(sh *shard, i int, cur []byte, n int) ([]byte, bool) {
	off := slotOff(sh.table[i])
	if off&largeFlag == 0 || uvarintLen(n) != uvarintLen(len(cur)) {
		return nil, false
	}
	m := sh.large[off&^largeFlag] // the entry starts the mapping
	at := hdrFixed
	if m[0]&flagTTL != 0 {
		at += 8
	}
	klen, kn := binary.Uvarint(m[at:])
	_, vn := binary.Uvarint(m[at+kn:])
	voff := at + kn + vn + int(klen)
	if voff+n > len(m) {
		return nil, false
	}
	binary.PutUvarint(m[at+kn:], uint64(n))
	v := m[voff : voff+n : voff+n]
	clear(v[len(cur):]) // a shorter value written in place may have left bytes here
	return v, true
}

// writeEntryHeader encodes the header and key of an entry whose value is
// vlen bytes long at the start of b, and returns the value's offset in b.
func writeEntryHeader(b, key []byte, vlen int, exp int64, lru uint32) int {
	i := hdrFixed
	if exp != 0 {
		b[0] = flagTTL
		binary.LittleEndian.PutUint64(b[5:], uint64(exp))
		i += 8
	} else {
		b[0] = 0
	}
	binary.LittleEndian.PutUint32(b[1:], lru)
	i += binary.PutUvarint(b[i:], uint64(len(key)))
	i += binary.PutUvarint(b[i:], uint64(vlen))
	copy(b[i:], key)
	return i + len(key)
}

// EnsureRoom is EnsureMemory for a command about to allocate n more bytes
// (a value that grows): it evicts per the policy until used memory plus n
// is within the limit, and returns ErrOOM when it cannot: with
// noeviction, when no eligible key is left, or when n does not fit even
// with every entry evicted (then it evicts nothing). Nothing is evicted
// while expiry is paused (PauseExpiry).
func (s *Store) EnsureRoom(n int64) error {
	limit := s.maxMemory.Load()
	if limit <= 0 || n <= 0 || s.used.Load()+n <= limit || s.expiryPaused() {
		return nil
	}
	p := Policy(s.policy.Load())
	if p == NoEviction || n > limit-s.fixedMemory() {
		return ErrOOM
	}
	return s.evictFor(p, n)
}

// fixedMemory is the part of used memory that evicting every entry would
// not free: shard structures, indexes, prefaulted pages.
func (s *Store) fixedMemory() int64 {
	var entries int64
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		entries += sh.arena + sh.largeMem
		sh.mu.Unlock()
	}
	return s.used.Load() - entries
}

// View calls fn with the value of key under the key's lock, without
// copying it, and reports whether the key exists (fn is not called when it
// does not). Like Get it counts a hit or a miss; it marks the key as used
// only if touch is set. val is valid only during fn and must not be
// modified; fn must not call the Store.
func (s *Store) View(key []byte, touch bool, fn func(val []byte)) bool {
	sh, tag := s.locate(s.hash(key))
	sh.mu.Lock()
	defer sh.mu.Unlock()
	i, b := s.lookupReadLocked(sh, tag, key)
	if i < 0 {
		if touch {
			s.missLocked(sh, tag)
		} else {
			sh.misses++
		}
		sh.maybeCompactLocked(s)
		return false
	}
	if touch {
		s.touchLocked(sh, tag, b)
	}
	sh.hits++
	_, v, _ := entryKV(b)
	fn(v)
	return true
}

// Edited reports whether key exists and its value was last changed by Edit
// or written by a Set with SetArgs.Raw (Redis gives such values the "raw"
// encoding, whatever they hold). It
// counts no hit or miss and does not mark the key as used.
func (s *Store) Edited(key []byte) bool {
	sh, tag := s.locate(s.hash(key))
	sh.mu.Lock()
	defer sh.mu.Unlock()
	i, b := s.lookupReadLocked(sh, tag, key)
	return i >= 0 && b[0]&flagEdited != 0
}
