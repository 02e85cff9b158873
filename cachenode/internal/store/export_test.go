package store

// EntryCost returns the least memory the store accounts for a key of klen
// bytes holding a value of vlen bytes, without TTL: its encoded entry and
// one 8-byte index slot. It is a floor: the index keeps more slots than
// keys (load at most 4/5, plus overflow slots), and deleted entries'
// bytes stay accounted until their chunk is compacted.
func EntryCost(klen, vlen int) int { return entrySize(klen, vlen, false) + 8 }
