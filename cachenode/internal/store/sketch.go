package store

import (
	"math/bits"
	"slices"
)

// A sketch is a shard's count-min sketch of the accesses to keys it does
// not hold, for the TinyLFU policies, after Caffeine's FrequencySketch:
// four counters per key (one per hash function, each in its own word, all
// four in one 64-byte block), an estimate being the least of the four. An
// increment raises only the key's counters that equal that least value
// (conservative update), so collisions inflate estimates less. The
// counters have 3 bits (21 to a uint64, counting to 7), not Caffeine's 4:
// the keys they count are those not cached, mostly read a few times per
// window, and at a keyspace many times the cache a third more counters in
// the same memory overestimate them less (NOTES.md). A cached key counts
// its own reads exactly, in its entry (countShift), and leaves its count
// to the sketch when it is removed (spill); its read hits do not touch the
// sketch, whose counters then carry only the misses and the removed keys'
// counts. After sketchResetMult reads per key of capacity, hits included,
// every counter is halved, and so are the shard's entries' counts, so what
// was frequent long ago counts for less than what is frequent now.
//
// In front of the counters, a doorkeeper (a Bloom filter with two bits per
// key in one word, cleared at each halving, as in TinyLFU) takes a key's
// first access since the last halving: one-off keys, such as a scan's, then
// never reach the counters and do not crowd out the others. An estimate
// adds one for a key the doorkeeper holds. It has 16 bits per key of
// capacity, against about 2.6 counters (2 bytes against 1): the keys of a
// keyspace many times the cache's fill it up, and a full doorkeeper takes
// one-off keys for known ones, which then escape probation; bits there are
// worth more than counters.
//
// A flood is a run of reads that are mostly misses of keys new to the
// sketch, such as a scan: the sketch counts, per window of floodWindow
// reads, the probationary writes that follow their key's read miss (entries
// written for keys it knew at most once, as cache-aside fills them) and
// judges the shard flooded for the next window when they reach
// floodShare of the reads. While flooded, a key's first access is not
// recorded (neither in the doorkeeper nor towards the halving), so a scan
// does not age the counters or fill the doorkeeper, and the keys written
// are marked flagBurst, to be evicted before any other.
//
// Keys are identified by their 32-bit slot tag (the hash's high half; the
// shard is the low half), so the sketch remembers keys that are no longer
// cached, which is what lets a returning key compete with its real
// frequency. For a capacity of nextPow2(keys) keys the counters take
// capacity/8 words and the doorkeeper capacity/4: 3 to 6 bytes per key of
// the shard, accounted in used memory. It grows (and starts over) when the
// shard's keys outgrow it, which happens while the cache fills.
type sketch struct {
	table   []uint64
	door    []uint64 // doorkeeper: a key's first access since the last halving sets its bits only
	adds    int      // reads counted since the last halving
	limit   int      // reads that trigger a halving
	halving uint64   // halvings so far (INFO tinylfu_sketch_halvings)
	reads   int32    // reads in the current flood window
	news    int32    // probationary writes in the current flood window
	flood   bool     // the last window's probationary writes reached floodShare of its reads
	// misses holds 1<<32 | the tag of the shard's last few read misses (0
	// once written), next the slot for the next one: a probationary write
	// counts towards a flood only after its key's miss. Several, because a
	// pipelined client asks for a batch of keys before it writes the
	// missing ones.
	misses [floodMisses]uint64
	next   uint8
}

const (
	sketchMinKeys  = 128 // smallest capacity: 16 words of counters, 32 of doorkeeper
	sketchKeysWord = 8   // keys of capacity per word of counters
	sketchDoorBits = 16  // doorkeeper bits per key of capacity
	// sketchResetMult is how many reads per key of capacity trigger a
	// halving. Caffeine halves after 10 x the cache's size; a longer
	// window here tells the keys at the edge of the cache apart (in a Zipf
	// popularity they are read a few times per window, below the
	// counters' 7), while a hot set that moves faster is the ranking
	// duel's concern (duel.go). NOTES.md has the measurements.
	sketchResetMult = 32
	// sketchBits is a counter's width, sketchCounters how many fit in a
	// word, sketchMax the most one counts.
	sketchBits     = 3
	sketchCounters = 64 / sketchBits
	sketchMax      = 1<<sketchBits - 1
	// sketchHalfMask keeps, of a word shifted right by one, the low
	// sketchBits-1 bits of each counter: the halved counters. It is
	// sketchMax>>1 repeated in each counter's place, the sum of a
	// geometric series of ratio 2^sketchBits.
	sketchHalfMask = (1<<(sketchBits*sketchCounters) - 1) / sketchMax * (sketchMax >> 1)
)

const (
	// floodWindow is the number of a shard's reads over which the sketch
	// judges a flood (256 shards: 8k requests of the store).
	floodWindow = 16
	// floodShareNum/floodShareDen is the share of the window's reads
	// followed by a probationary write that makes a flood (7/8). Steady
	// Zipf traffic stays far below it (BenchmarkReplayMissRatio's zipf
	// trace: a probationary write after about a quarter of the reads at
	// 64 MiB); a scan writes after every read.
	floodShareNum, floodShareDen = 7, 8
	// floodMisses is how many of a shard's latest read misses a write may
	// follow and still count as their fill.
	floodMisses = 4
)

var sketchSeeds = [4]uint64{0xc3a5c85c97cb3127, 0xb492b66fbe98f273, 0x9ae16a3b2f90404f, 0xcbf29ce484222325}

// ensureLocked sizes sk for the keys of sh plus one, accounting the bytes.
func (sk *sketch) ensureLocked(sh *shard, s *Store) {
	keys := int(sh.nkeys.Load()) + 1
	if len(sk.table)*sketchKeysWord >= keys { // the capacity it was sized for
		return
	}
	n := max(sketchMinKeys, 1<<bits.Len(uint(keys-1)))
	words, door := n/sketchKeysWord, n*sketchDoorBits/64
	s.account(sh, int64(8*(words+door-len(sk.table)-len(sk.door))))
	sk.table = make([]uint64, words)
	sk.door = make([]uint64, door)
	sk.adds = 0
	sk.limit = sketchResetMult * n
}

// releaseLocked drops the table and its accounting.
func (sk *sketch) releaseLocked(sh *shard, s *Store) {
	if sk.table != nil {
		s.account(sh, -sk.bytes())
	}
	*sk = sketch{halving: sk.halving}
}

// bytes returns the table's size.
func (sk *sketch) bytes() int64 { return int64(8 * (len(sk.table) + len(sk.door))) }

// doorBits returns the doorkeeper word of h and its two bits there (a
// blocked Bloom filter: one cache line per access).
func (sk *sketch) doorBits(h uint64) (int, uint64) {
	x := h * sketchSeeds[1]
	return int(x>>40) & (len(sk.door) - 1), 1<<(x&63) | 1<<(x>>6&63)
}

func (sk *sketch) inDoor(h uint64) bool {
	w, m := sk.doorBits(h)
	return sk.door[w]&m == m
}

// spread mixes a tag into 64 bits.
func spread(tag uint32) uint64 {
	h := uint64(tag) * 0x9e3779b97f4a7c15
	return h ^ h>>29
}

// slot returns the word index and bit shift of the key's i-th counter. A
// key's four counters lie in one 64-byte block of the table (eight words,
// one cache line), as in Caffeine's current FrequencySketch: the i-th in
// word 2i or 2i+1 of the block, at a position from the key's hash, so an
// access costs one cache miss, not four.
func (sk *sketch) slot(h uint64, i int) (int, uint) {
	block := int(h>>32) & (len(sk.table)/8 - 1)
	x := (h * sketchSeeds[0]) >> (i << 3) // 8 bits per counter: 1 for the word, 7 for the position
	return block<<3 + i<<1 + int(x&1), uint((x>>1&0x7f)*sketchCounters>>7) * sketchBits
}

// estimate returns the key's estimated accesses since the last halvings
// (0 to sketchMax+1: the counters' least, plus one if the doorkeeper holds
// the key).
func (sk *sketch) estimate(tag uint32) uint64 {
	if len(sk.table) == 0 {
		return 0
	}
	h := spread(tag)
	m := uint64(sketchMax)
	for i := range sketchSeeds {
		w, sh := sk.slot(h, i)
		m = min(m, sk.table[w]>>sh&sketchMax)
	}
	if sk.inDoor(h) {
		m++
	}
	return m
}

// read records a read of the key, a hit (counted in the key's entry, so
// only towards the flood window and the halving) or a miss, and reports
// whether that aged the sketch (halved its counters). While the shard is
// flooded, a missed key's first access is not recorded.
func (sk *sketch) read(tag uint32, hit bool) (halved bool) {
	if len(sk.table) == 0 {
		return false
	}
	if sk.reads++; sk.reads >= floodWindow {
		sk.flood = sk.news*floodShareDen >= sk.reads*floodShareNum
		sk.reads, sk.news = 0, 0
	} else if sk.flood && (sk.reads-sk.news)*floodShareDen > floodWindow*(floodShareDen-floodShareNum) {
		sk.flood = false // this window cannot be a flood: over
		sk.reads, sk.news = 0, 0
	}
	if hit {
		return sk.count()
	}
	h := spread(tag)
	if w, m := sk.doorBits(h); sk.door[w]&m != m {
		if sk.flood {
			return false
		}
		sk.door[w] |= m
		return sk.count()
	}
	var ws [4]int
	var shs [4]uint
	m := uint64(sketchMax)
	for i := range sketchSeeds {
		ws[i], shs[i] = sk.slot(h, i)
		m = min(m, sk.table[ws[i]]>>shs[i]&sketchMax)
	}
	if m == sketchMax {
		return sk.count() // saturated: still a read towards the halving
	}
	for i := range ws {
		if sk.table[ws[i]]>>shs[i]&sketchMax == m {
			sk.table[ws[i]] += 1 << shs[i]
		}
	}
	return sk.count()
}

// spill leaves the access count c of a key leaving the cache to the
// sketch: the doorkeeper takes the key and its counters rise to at least
// c-1 (up to sketchMax), so that its estimate is at least c (up to
// sketchMax+1).
func (sk *sketch) spill(tag uint32, c uint64) {
	if len(sk.table) == 0 || c == 0 {
		return
	}
	h := spread(tag)
	w, m := sk.doorBits(h)
	sk.door[w] |= m
	c = min(c-1, sketchMax)
	for i := range sketchSeeds {
		wi, shi := sk.slot(h, i)
		if cur := sk.table[wi] >> shi & sketchMax; cur < c {
			sk.table[wi] += (c - cur) << shi
		}
	}
}

// count counts a read towards the next halving, halving when it is
// due, and reports whether it was.
func (sk *sketch) count() bool {
	if sk.adds++; sk.adds < sk.limit {
		return false
	}
	sk.halve()
	return true
}

// missed notes a read miss of the key, so that a write of it that follows
// is known as a cache-aside fill.
func (sk *sketch) missed(tag uint32) {
	sk.misses[sk.next%floodMisses] = 1<<32 | uint64(tag)
	sk.next++
}

// newWrite counts a probationary write of the key if it follows the key's
// read miss (one of the shard's last few; a write no read asked for is no scan's)
// and reports whether it is a burst entry (flagBurst): such a write in a
// flooded shard.
func (sk *sketch) newWrite(tag uint32) bool {
	i := slices.Index(sk.misses[:], 1<<32|uint64(tag))
	if i < 0 {
		return false
	}
	sk.misses[i] = 0
	if sk.news++; !sk.flood && sk.news*floodShareDen >= floodWindow*floodShareNum {
		sk.flood = true // this window is a flood already
		sk.reads, sk.news = 0, 0
	}
	return sk.flood
}

// halve ages the sketch: every counter is halved.
func (sk *sketch) halve() {
	for i, w := range sk.table {
		sk.table[i] = w >> 1 & sketchHalfMask
	}
	clear(sk.door)
	sk.adds /= 2
	sk.halving++
}
