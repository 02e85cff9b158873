package store

import "encoding/binary"

// An entry is stored as
//
//	flags   1 byte (flagTTL, flagEdited, flagNew, flagBurst; high nibble: the access count)
//	lru     4 bytes, little endian: the LRU clock at the last access
//	expire  8 bytes, little endian, only if flags&flagTTL: Unix ms
//	klen    uvarint
//	vlen    uvarint
//	key     klen bytes
//	value   vlen bytes
//
// so a key without TTL costs 7 bytes of header for keys and values under 128 bytes.
const (
	flagTTL  = 1
	hdrFixed = 5
	// flagNew marks, under the TinyLFU policies, a probationary entry:
	// written for a key the sketch knew at most once (a key new to it since
	// its last halving) and not read since. Probationary entries are evicted
	// first, oldest first; a read hit clears the flag.
	flagNew = 4
	// flagBurst marks, with flagNew, a probationary entry written while
	// its shard's sketch judged it flooded (mostly one-off keys, as in a
	// scan): burst entries are evicted before any other, oldest first; a
	// read hit clears the flag.
	flagBurst = 8
	// countShift is where an entry's access count starts in its flags
	// byte: under the TinyLFU policies, the high nibble (0-countMax) holds
	// the key's reads since it was written, starting from the sketch's
	// estimate then and halved with its shard's sketch, so that a cached
	// key's frequency is counted exactly, not estimated. An overwrite
	// keeps it.
	countShift = 4
	countMax   = 15
)

// entryCount returns the entry's access count (see countShift).
func entryCount(b []byte) uint64 { return uint64(b[0] >> countShift) }

// setEntryCount sets the entry's access count to c, at most countMax.
func setEntryCount(b []byte, c uint64) {
	b[0] = b[0]&(1<<countShift-1) | byte(min(c, countMax))<<countShift
}

func uvarintLen(x int) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// entrySize returns the encoded size of an entry.
func entrySize(klen, vlen int, ttl bool) int {
	n := hdrFixed + uvarintLen(klen) + uvarintLen(vlen) + klen + vlen
	if ttl {
		n += 8
	}
	return n
}

// writeEntry encodes an entry at the start of b, which must be large enough.
// val may overlap b (an in-place rewrite of the same entry's value): it is
// moved with copy, which handles overlap, after the header and key, which
// never reach past the old value's start when the new entry is not larger.
func writeEntry(b, key, val []byte, exp int64, lru uint32) int {
	voff := writeEntryHeader(b, key, len(val), exp, lru)
	copy(b[voff:], val)
	return voff + len(val)
}

// entryExp returns the expiry time of the entry at b (0 for none).
func entryExp(b []byte) int64 {
	if b[0]&flagTTL == 0 {
		return 0
	}
	return int64(binary.LittleEndian.Uint64(b[5:]))
}

func entryLRU(b []byte) uint32 { return binary.LittleEndian.Uint32(b[1:]) }

func setEntryLRU(b []byte, lru uint32) { binary.LittleEndian.PutUint32(b[1:], lru) }

// entryKV returns the key and value of the entry at b, and its encoded size.
func entryKV(b []byte) (key, val []byte, size int) {
	i := hdrFixed
	if b[0]&flagTTL != 0 {
		i += 8
	}
	kl, n := binary.Uvarint(b[i:])
	i += n
	vl, n := binary.Uvarint(b[i:])
	i += n
	k := i + int(kl)
	v := k + int(vl)
	return b[i:k:k], b[k:v:v], v
}

// entryKey returns the key of the entry at b.
func entryKey(b []byte) []byte {
	i := hdrFixed
	if b[0]&flagTTL != 0 {
		i += 8
	}
	kl, n := binary.Uvarint(b[i:])
	i += n
	_, n = binary.Uvarint(b[i:])
	i += n
	return b[i : i+int(kl)]
}
