package store

import "slices"

// Snapshots: copying the keys out for a save, and putting them back on
// load. A save copies one shard at a time under its lock (CopyShard) and
// writes the copy with no lock held, so a client waits at most for the copy
// of one shard (about 1/256 of the data with the default shard count); each
// shard's copy is a point-in-time view of that shard, taken at a different
// moment than the others.

// ShardCount returns the number of shards, the range of CopyShard's index.
func (s *Store) ShardCount() int { return len(s.shards) }

// ShardCopy holds the live entries of one shard copied by CopyShard, in
// the store's entry encoding. A ShardCopy can be reused for the next shard.
type ShardCopy struct {
	data    []byte
	offs    []uint32 // scratch: the entries' offsets, sorted
	keys    int
	expires int
}

// Len returns the number of keys in the copy.
func (c *ShardCopy) Len() int { return c.keys }

// Expires returns the number of keys with a TTL in the copy.
func (c *ShardCopy) Expires() int { return c.expires }

// Bytes returns the size of the copy's entries (keys, values and headers).
func (c *ShardCopy) Bytes() int { return len(c.data) }

// Each calls fn for each key of the copy with its value and absolute expiry
// time (Unix ms, 0 for none), stopping at the first error, which it
// returns. key and val are valid until the copy is reused.
func (c *ShardCopy) Each(fn func(key, val []byte, expireAt int64) error) error {
	for p := 0; p < len(c.data); {
		b := c.data[p:]
		k, v, size := entryKV(b)
		if err := fn(k, v, entryExp(b)); err != nil {
			return err
		}
		p += size
	}
	return nil
}

// CopyShard replaces c's contents with a copy of the live keys of shard i
// (0 <= i < ShardCount()), their values and expiry times, taken under the
// shard's lock: the copy is the shard's state at one moment. Keys already
// expired are left out (not removed). It counts no hit or miss and marks no
// key as used. The shard's clients wait for the copy, a memory copy of the
// shard's live entries.
func (s *Store) CopyShard(i int, c *ShardCopy) {
	c.data, c.keys, c.expires = c.data[:0], 0, 0
	sh := &s.shards[i]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if need := int(sh.live + sh.largeMem); cap(c.data) < need {
		c.data = make([]byte, 0, need) // live bytes of small entries plus an upper bound for large ones
	}
	now := s.nowMs()
	// Copy in address order: the chunks are read sequentially instead of
	// in hash order, several times faster on a large shard.
	offs := c.offs[:0]
	for _, sl := range sh.table {
		if sl != 0 {
			offs = append(offs, slotOff(sl))
		}
	}
	if sh.old != nil {
		for _, sl := range sh.old[sh.mig:] {
			if sl != 0 {
				offs = append(offs, slotOff(sl))
			}
		}
	}
	slices.Sort(offs)
	for _, off := range offs {
		b := sh.entry(off)
		exp := entryExp(b)
		if exp != 0 && now > exp {
			continue
		}
		_, _, size := entryKV(b)
		c.data = append(c.data, b[:size]...)
		c.keys++
		if exp != 0 {
			c.expires++
		}
	}
	c.offs = offs[:0]
}

// Restore stores key=val with the absolute expiry time expireAt (Unix ms,
// 0 for none), replacing any current value, as loading a snapshot does. A
// key whose expiry time has passed is not stored (and a current value of
// it is removed); Restore reports whether it stored the key. It counts no
// hit or miss and does not evict: the caller calls EnsureMemory as it sees
// fit.
func (s *Store) Restore(key, val []byte, expireAt int64) bool {
	_, _, written := s.Set(key, val, SetArgs{ExpireAt: expireAt}, nil)
	return written && (expireAt == 0 || s.nowMs() <= expireAt)
}
