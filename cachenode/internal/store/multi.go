package store

import "slices"

// SetMulti writes several keys atomically (MSET, MSETNX): kv holds
// alternating keys and values, and must have even length. Every key is
// stored without a TTL, and a key given twice takes its last value, as in
// Redis. With nx, nothing is written if any of the keys exists (MSETNX),
// and the first existing key is marked as used (Redis's lookupKeyWrite).
// It reports whether the keys were written. All the shards involved are
// locked, in index order, for the whole operation, so concurrent readers and
// writers see either none or all of the writes.
func (s *Store) SetMulti(kv [][]byte, nx bool) bool {
	if len(kv)%2 != 0 {
		panic("store: SetMulti with an odd number of arguments")
	}
	var buf [16]int
	idx := s.lockKeys(buf[:0], kv, 2)
	written := s.setMultiLocked(kv, nx)
	s.unlockShards(idx)
	return written
}

// GetMulti reads several keys atomically (MGET): no write by another caller
// lands between two of its lookups. It appends the value of each key found
// to dst and returns dst; ends must have len(keys) elements and receives, for
// key i, the end offset of its value in the returned slice (the value starts
// where the previous found key's value ends, or at len(dst) on entry), or -1
// if the key does not exist. Like Get it counts a hit or a miss per key and,
// if touch is set, marks the keys found as used.
func (s *Store) GetMulti(dst []byte, keys [][]byte, touch bool, ends []int) []byte {
	var buf [16]int
	idx := s.lockKeys(buf[:0], keys, 1)
	for i, k := range keys {
		sh, tag := s.locate(s.hash(k))
		j, b := s.lookupReadLocked(sh, tag, k)
		if j < 0 {
			if touch {
				s.missLocked(sh, tag)
			} else {
				sh.misses++
			}
			ends[i] = -1
			continue
		}
		if touch {
			s.touchLocked(sh, tag, b)
		}
		_, v, _ := entryKV(b)
		dst = append(dst, v...)
		sh.hits++
		ends[i] = len(dst)
	}
	s.unlockShards(idx)
	return dst
}

// lockKeys locks the shards of keys[0], keys[step], keys[2*step], ... in
// index order (the order every multi-shard operation uses, so they cannot
// deadlock), each once, and returns their indexes appended to idx.
func (s *Store) lockKeys(idx []int, keys [][]byte, step int) []int {
	for i := 0; i < len(keys); i += step {
		idx = append(idx, s.shardIndex(s.hash(keys[i])))
	}
	slices.Sort(idx)
	idx = slices.Compact(idx)
	for _, i := range idx {
		s.shards[i].mu.Lock()
	}
	return idx
}

// unlockShards compacts, if due, and unlocks the shards lockKeys locked.
func (s *Store) unlockShards(idx []int) {
	for _, i := range idx {
		sh := &s.shards[i]
		sh.maybeCompactLocked(s)
		sh.mu.Unlock()
	}
}

// setMultiLocked is SetMulti with every involved shard locked. Keys are
// looked up one at a time just before being written, because inserting a key
// may resize its shard's table and move other keys' slots.
func (s *Store) setMultiLocked(kv [][]byte, nx bool) bool {
	if nx {
		for i := 0; i < len(kv); i += 2 {
			sh, tag := s.locate(s.hash(kv[i]))
			if j, b := s.lookupLocked(sh, tag, kv[i]); j >= 0 {
				s.touchLocked(sh, tag, b) // Redis's lookupKeyWrite touches it
				return false
			}
		}
	}
	for i := 0; i < len(kv); i += 2 {
		sh, tag := s.locate(s.hash(kv[i]))
		j, b := s.lookupLocked(sh, tag, kv[i])
		s.putLocked(sh, tag, j, b, kv[i], kv[i+1], 0)
	}
	return true
}

// KeyMemory returns the bytes the store accounts for key (MEMORY USAGE): its
// entry (header, key and value; a large entry's page-rounded mapping) and its
// share of the index, one slot at the table's maximum load. ok is false if
// the key does not exist. Like Peek it counts no hit or miss and does not
// mark the key as used.
func (s *Store) KeyMemory(key []byte) (n int64, ok bool) {
	sh, tag := s.locate(s.hash(key))
	sh.mu.Lock()
	defer sh.mu.Unlock()
	i, b := s.lookupReadLocked(sh, tag, key)
	if i < 0 {
		sh.maybeCompactLocked(s)
		return 0, false
	}
	off := slotOff(sh.table[i])
	if off&largeFlag != 0 {
		n = int64(cap(sh.large[off&^largeFlag]))
	} else {
		_, _, size := entryKV(b)
		n = int64(size)
	}
	return n + KeyIndexBytes, true
}

// KeyIndexBytes is the index cost KeyMemory attributes to each key: one
// 8-byte slot (the table's load factor and overflow slots are shared
// overhead, not attributed).
const KeyIndexBytes = 8
