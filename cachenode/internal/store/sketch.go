package store

import "math/bits"

// A sketch is a shard's count-min sketch of recent key accesses for the
// TinyLFU policies, as in Caffeine's FrequencySketch: 4-bit counters, 16 to
// a uint64, four counters per key (one per hash function, each in its own
// word), an estimate being the least of the four. An increment raises only
// the key's counters that equal that least value (conservative update), so
// collisions inflate estimates less. After 10 increments per key of
// capacity every counter is halved, so what was frequent long ago counts
// for less than what is frequent now: the sketch follows a shifting hot
// set within a few such periods.
//
// Keys are identified by their 32-bit slot tag (the hash's high half; the
// shard is the low half), so the sketch remembers keys that are no longer
// cached, which is what lets a returning key compete with its real
// frequency. The table holds nextPow2(keys)/4 words: 2 to 4 bytes per key
// of the shard, accounted in used memory. It grows (and starts over) when
// the shard's keys outgrow it.
type sketch struct {
	table   []uint64
	adds    int    // increments since the last halving
	limit   int    // increments that trigger a halving
	halving uint64 // halvings so far (INFO tinylfu_sketch_halvings)
}

const (
	sketchMinWords = 16 // smallest table: 128 bytes, 64 keys
	sketchKeysWord = 4  // keys per word of table
	// sketchResetMult is how many increments per key of capacity trigger
	// a halving (Caffeine's sample size is 10 x the cache's size).
	sketchResetMult = 10
)

var sketchSeeds = [4]uint64{0xc3a5c85c97cb3127, 0xb492b66fbe98f273, 0x9ae16a3b2f90404f, 0xcbf29ce484222325}

// ensureLocked sizes sk for the keys of sh plus one, accounting the bytes.
func (sk *sketch) ensureLocked(sh *shard, s *Store) {
	keys := int(sh.nkeys.Load()) + 1
	if len(sk.table)*sketchKeysWord >= keys {
		return
	}
	words := max(sketchMinWords, 1<<bits.Len(uint(keys-1))/sketchKeysWord)
	s.account(sh, int64(8*(words-len(sk.table))))
	sk.table = make([]uint64, words)
	sk.adds = 0
	sk.limit = sketchResetMult * words * sketchKeysWord
}

// releaseLocked drops the table and its accounting.
func (sk *sketch) releaseLocked(sh *shard, s *Store) {
	if sk.table != nil {
		s.account(sh, -int64(8*len(sk.table)))
	}
	*sk = sketch{halving: sk.halving}
}

// bytes returns the table's size.
func (sk *sketch) bytes() int64 { return int64(8 * len(sk.table)) }

// spread mixes a tag into 64 bits.
func spread(tag uint32) uint64 {
	h := uint64(tag) * 0x9e3779b97f4a7c15
	return h ^ h>>29
}

// slot returns the word index and bit shift of the key's i-th counter.
func (sk *sketch) slot(h uint64, i int) (int, uint) {
	x := (h + sketchSeeds[i]) * sketchSeeds[i]
	x += x >> 32
	start := uint(h&3) << 2 // each key uses 4 of the word's 16 counters, one per row
	return int(x & uint64(len(sk.table)-1)), (start + uint(i)) << 2
}

// estimate returns the key's estimated accesses since the last halvings (0-15).
func (sk *sketch) estimate(tag uint32) uint64 {
	if len(sk.table) == 0 {
		return 0
	}
	h := spread(tag)
	m := uint64(15)
	for i := range sketchSeeds {
		w, sh := sk.slot(h, i)
		m = min(m, sk.table[w]>>sh&15)
	}
	return m
}

// add records an access of the key.
func (sk *sketch) add(tag uint32) {
	if len(sk.table) == 0 {
		return
	}
	h := spread(tag)
	var ws [4]int
	var shs [4]uint
	m := uint64(15)
	for i := range sketchSeeds {
		ws[i], shs[i] = sk.slot(h, i)
		m = min(m, sk.table[ws[i]]>>shs[i]&15)
	}
	if m == 15 {
		return
	}
	for i := range ws {
		if sk.table[ws[i]]>>shs[i]&15 == m {
			sk.table[ws[i]] += 1 << shs[i]
		}
	}
	if sk.adds++; sk.adds >= sk.limit {
		sk.halve()
	}
}

// halve ages the sketch: every counter is halved.
func (sk *sketch) halve() {
	for i, w := range sk.table {
		sk.table[i] = w >> 1 & 0x7777777777777777
	}
	sk.adds /= 2
	sk.halving++
}
