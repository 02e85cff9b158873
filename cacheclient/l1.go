package cacheclient

import (
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/VictoriaMetrics/fastcache"
)

// l1 is the in-process level: a fastcache.Cache holding enveloped values,
// each stored as the value followed by its envelope header (a trailer, not
// a prefix as in L2: a hit appends the entry to the caller's buffer and only
// has to cut the trailer off, instead of moving the value over the header).
//
// fastcache has no TTL and silently drops any entry whose key plus value reach
// 64 KiB. Freshness therefore travels in the envelope header stored with the
// value, and a value too big for one fastcache entry is stored with SetBig
// under a derived key, while the entry under the key itself holds only the
// header, flagged flagBig. A big value that fastcache evicted in part, or one
// whose chunks were overwritten, is detected by GetBig's hash check and reads
// as a miss.
//
// With coherence on, each L1 copy records the L1 generation it was read
// under (coherence.go) in the top l1GenBits bits of its T2 field (no extra
// bytes: T2 in Unix milliseconds fits in 44 bits until the year 2527). A copy
// whose generation is not the current one (gen) reads as past T1: stale,
// servable only as a stale fallback, never as fresh.
type l1 struct {
	c   *fastcache.Cache
	gen atomic.Uint64 // the current generation (coherence.flush bumps it)
}

const (
	l1GenShift = 44
	l1GenBits  = 63 - l1GenShift // bit 63 stays clear: T2 stays a positive int64
	l1T2Mask   = 1<<l1GenShift - 1
	l1GenMask  = 1<<l1GenBits - 1
)

// l1MaxInline is the largest len(key)+len(envelope) stored inline: fastcache
// needs 4 bytes of lengths and a record shorter than its 64 KiB chunk.
const l1MaxInline = 64*1024 - 4 - 1

// bigKeyPrefix prefixes the fastcache key under which a big value's bytes live.
// A user key that happens to equal prefix+otherKey can only make both read as
// misses (the header check and GetBig's hash check reject the foreign record).
const bigKeyPrefix = "\x00cachetier:big\x00"

// maxL1Key is the longest key fastcache can store (SetBig's limit is lower
// than Set's); longer keys bypass L1.
const maxL1Key = 64*1024 - 16 - 4 - 1 - len(bigKeyPrefix)

func newL1(maxBytes int) *l1 {
	return &l1{c: fastcache.New(maxBytes)}
}

// bytesOf returns the bytes of s without copying. fastcache only reads keys.
func bytesOf(s string) []byte {
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// set stores value under key with header h (flagBig is managed here), read
// under generation gen. A positive fresh caps T1 at fresh from the moment
// the entry becomes visible (after a big value's bytes are stored).
func (l *l1) set(key string, h header, value []byte, gen uint64, fresh time.Duration) {
	if len(key) > maxL1Key {
		return
	}
	k := bytesOf(key)
	h.flags &^= flagBig
	h.t2 = h.t2&l1T2Mask | int64(gen&l1GenMask)<<l1GenShift
	capT1 := func() {
		if fresh > 0 {
			h.t1 = min(h.t1, preciseMs()+msCeil(fresh))
		}
	}
	if len(key)+envHdrLen+len(value) <= l1MaxInline {
		capT1()
		bp := envPool.Get().(*[]byte)
		buf := append((*bp)[:0], value...)
		buf = appendHeader(buf, h)
		l.c.Set(k, buf)
		if cap(buf) <= 64*1024 {
			*bp = buf[:0]
			envPool.Put(bp)
		}
		return
	}
	// Big value: bytes first, then the header that points at them, so a
	// reader that sees the new header finds the new bytes.
	l.c.SetBig([]byte(bigKeyPrefix+key), value)
	capT1()
	h.flags |= flagBig
	var hb [envHdrLen]byte
	l.c.Set(k, appendHeader(hb[:0], h))
}

// get appends the value stored under key to dst and returns it with its
// header. ok is false on a miss, a damaged entry or a partly evicted big
// value; dst is then returned unchanged. To avoid allocating, give dst spare
// capacity of len(value)+envHdrLen: the entry is read into dst and its
// header trailer cut off.
func (l *l1) get(dst []byte, key string) (out []byte, h header, ok bool) {
	if len(key) > maxL1Key {
		return dst, header{}, false
	}
	buf, found := l.c.HasGet(dst, bytesOf(key))
	return l.entry(buf, len(dst), found, key)
}

// entry is get past its lookup: buf and found as HasGet returned them for
// dst[:n].
func (l *l1) entry(buf []byte, n int, found bool, key string) (out []byte, h header, ok bool) {
	if !found {
		return buf, header{}, false
	}
	end := len(buf) - envHdrLen // where the value ends and the header starts
	if end < n {
		return buf[:n], header{}, false
	}
	h, ok = parseHeader(buf[end:])
	if !ok {
		return buf[:n], header{}, false
	}
	if uint64(h.t2)>>l1GenShift != l.gen.Load()&l1GenMask {
		h.t1 = 0 // read under an older generation: stale at best
	}
	h.t2 &= l1T2Mask
	if h.flags&flagBig == 0 {
		return buf[:end], h, true
	}
	if end != n {
		return buf[:n], header{}, false
	}
	buf = l.c.GetBig(buf[:n], []byte(bigKeyPrefix+key))
	if len(buf) == n {
		return buf, header{}, false
	}
	h.flags &^= flagBig
	return buf, h, true
}

// del removes key (and a big value's bytes).
func (l *l1) del(key string) {
	if len(key) > maxL1Key {
		return
	}
	l.c.Del(bytesOf(key))
	l.c.Del([]byte(bigKeyPrefix + key))
}

// stats returns the entry count and bytes used.
func (l *l1) stats() (entries, bytes uint64) {
	var s fastcache.Stats
	l.c.UpdateStats(&s)
	return s.EntriesCount, s.BytesSize
}
