package store

import "sync"

// Scan cursors are shardIndex<<32 | tag: the iteration visits shards in
// order and, within a shard, keys in increasing order of their tag (the
// high 32 bits of their hash), a range of tags per step. Since the range of
// tags still to visit does not depend on the index's layout, keys present
// for the whole iteration are returned at least once whatever resizes,
// deletions and compactions happen between calls; keys sharing a tag are
// always returned by the same step.

type scanItem struct {
	end int // end of the key in the buffer
	exp int64
}

// scanBuf holds the keys collected by one step of Scan.
type scanBuf struct {
	keys  []byte
	items []scanItem
}

var scanPool = sync.Pool{New: func() any { return new(scanBuf) }}

// Scan visits keys starting at cursor (0 starts an iteration) and returns
// the cursor to continue from, 0 when the iteration is complete. count is a
// hint of how many keys to visit (default 10). As with Redis's SCAN, every
// key present for the whole iteration is visited at least once; keys added
// or removed meanwhile may or may not be, and a key may be visited twice.
// Expired keys are skipped. fn runs without locks held and may call the
// Store; its key is valid only during the call.
func (s *Store) Scan(cursor uint64, count int, fn func(key []byte, expireAt int64)) (next uint64) {
	if count <= 0 {
		count = 10
	}
	count = min(count, 1<<20)
	si, tag := cursor>>32, cursor&(1<<32-1)
	if si >= uint64(len(s.shards)) {
		return 0
	}
	sb := scanPool.Get().(*scanBuf)
	defer func() {
		if cap(sb.keys) <= 1<<20 {
			scanPool.Put(sb)
		}
	}()
	buf, items := sb.keys, sb.items
	defer func() { sb.keys, sb.items = buf[:0], items[:0] }()
	for visited := 0; visited < count; {
		sh := &s.shards[si]
		end := uint64(1 << 32)
		buf, items = buf[:0], items[:0]
		sh.mu.Lock()
		if nk := uint64(sh.nkeys.Load()); nk > 0 {
			w := max(uint64(count-visited)<<32/nk, 1)
			end = min(tag+w, 1<<32)
			buf, items = s.collectLocked(sh, tag, end, buf, items)
		}
		sh.mu.Unlock()
		start := 0
		for _, it := range items {
			fn(buf[start:it.end:it.end], it.exp)
			start = it.end
		}
		visited += len(items)
		if end == 1<<32 {
			si, tag = si+1, 0
			if si == uint64(len(s.shards)) {
				return 0
			}
		} else {
			tag = end
		}
	}
	return si<<32 | tag
}

// collectLocked appends the live keys of sh with tags in [lo, hi) to buf:
// from the current table and, during an incremental resize, from what is
// left of the previous one (each key is in exactly one of them).
func (s *Store) collectLocked(sh *shard, lo, hi uint64, buf []byte, items []scanItem) ([]byte, []scanItem) {
	buf, items = s.collectIn(sh, sh.table, sh.n, 0, lo, hi, buf, items)
	if sh.old != nil {
		buf, items = s.collectIn(sh, sh.old, sh.oldN, sh.mig, lo, hi, buf, items)
	}
	return buf, items
}

// collectIn is collectLocked for table t with n home positions, from
// position from on.
func (s *Store) collectIn(sh *shard, t []uint64, n, from int, lo, hi uint64, buf []byte, items []scanItem) ([]byte, []scanItem) {
	if len(t) == 0 {
		return buf, items
	}
	last := homeIn(uint32(hi-1), n)
	now := s.nowMs()
	for i := max(homeIn(uint32(lo), n), from); i < len(t); i++ {
		sl := t[i]
		if sl == 0 {
			if i > last {
				break
			}
			continue
		}
		if tg := uint64(slotTag(sl)); tg < lo || tg >= hi {
			continue
		}
		b := sh.entry(slotOff(sl))
		exp := entryExp(b)
		if exp != 0 && now > exp {
			continue
		}
		buf = append(buf, entryKey(b)...)
		items = append(items, scanItem{len(buf), exp})
	}
	return buf, items
}
