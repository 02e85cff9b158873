package cacheclient

import (
	"encoding/binary"
	"sync"
	"time"
)

// The envelope is the small header the client stores in front of every value,
// in L1 and in L2 alike, so that freshness survives the trip through a node
// that knows nothing about it (stock redis-server included). (L1 stores the
// same 19 bytes after the value instead: l1.go.)
//
// Layout, version 1 (19 bytes, integers big-endian):
//
//	offset size field
//	0      1    magic 0xC7
//	1      1    version (1)
//	2      1    flags (flagNegative, flagBig, flagFailover, flagIncoherent; other bits reserved, must be 0)
//	3      8    T1: end of the fresh window, Unix milliseconds (uint64)
//	11     8    T2: end of the servable-stale window, Unix milliseconds (uint64), T2 >= T1
//	19     ...  the value (empty for negative entries; in L1, empty for big values)
//
// Leased form, version 2 (43 bytes; lease.go), held by a key that has no
// value while its lease is out, or by the side key of a key whose stale entry
// is being reloaded:
//
//	offset size field
//	0      1    magic 0xC7
//	1      1    version (2)
//	2      17   reserved, zero
//	19     16   lease token: the holder client's random id (8) and a counter (8)
//	35     8    lease expiry, Unix milliseconds
//
// A leased envelope is never a value: a client that does not know version 2
// (older releases) reads it as "not ours", a miss, rather than as an empty
// value.
//
// A value in L2 is written with a Redis TTL of T2-now (PX), so the node drops it
// when even its stale window is over. A value that does not start with a valid
// header (written by another tool, or a future version) is treated as a miss and
// overwritten by the next load. T1 and T2 are wall-clock times: clients that
// share a tier should have reasonably synchronised clocks.
const (
	envMagic   = 0xC7
	envVersion = 1
	envHdrLen  = 19

	leaseVersion = 2
	leaseHdrLen  = envHdrLen + leaseTokenLen + 8

	// flagNegative marks a cached "not found" answer from the origin.
	flagNegative = 1 << 0
	// flagBig (L1 only) says the value is stored separately with SetBig.
	flagBig = 1 << 1
	// flagFailover marks an L2 copy written to a failover owner.
	flagFailover = 1 << 2

	// flagIncoherent (L1 only) marks an entry that no invalidation channel
	// covers (coherence.go): its hits are counted as served without
	// coherence.
	flagIncoherent = 1 << 3

	knownFlags = flagNegative | flagBig | flagFailover | flagIncoherent
)

// envPool holds buffers for building envelopes (L1 and L2 writes). Buffers
// that grew past 64 KiB are not put back.
var envPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// header is the decoded envelope header.
type header struct {
	flags  byte
	t1, t2 int64 // Unix milliseconds
}

// appendHeader appends the encoded header h to dst.
func appendHeader(dst []byte, h header) []byte {
	dst = append(dst, envMagic, envVersion, h.flags)
	dst = binary.BigEndian.AppendUint64(dst, uint64(h.t1))
	dst = binary.BigEndian.AppendUint64(dst, uint64(h.t2))
	return dst
}

// parseHeader decodes the header at the start of b. ok is false when b is too
// short, has the wrong magic or version, unknown flags, or T2 < T1.
func parseHeader(b []byte) (h header, ok bool) {
	if len(b) < envHdrLen || b[0] != envMagic || b[1] != envVersion || b[2]&^knownFlags != 0 {
		return header{}, false
	}
	h.flags = b[2]
	h.t1 = int64(binary.BigEndian.Uint64(b[3:]))
	h.t2 = int64(binary.BigEndian.Uint64(b[11:]))
	if h.t1 < 0 || h.t2 < h.t1 {
		return header{}, false
	}
	return h, true
}

// state is where an entry stands at a given instant.
type state uint8

const (
	stateExpired state = iota // past T2: unusable
	stateStale                // past T1, before T2: servable when nothing better is
	stateFresh                // before T1
)

// stateAt returns the entry's state at now (Unix milliseconds).
func (h header) stateAt(nowMs int64) state {
	switch {
	case nowMs < h.t1:
		return stateFresh
	case nowMs < h.t2:
		return stateStale
	default:
		return stateExpired
	}
}

// msCeil converts d to whole milliseconds, rounding up so that a positive
// duration never becomes zero.
func msCeil(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

// leaseTokenLen is the size of a lease token.
const leaseTokenLen = 16

// leaseToken names one lease: the holder client's random id and a counter.
type leaseToken [leaseTokenLen]byte

// leaseHeader is the decoded header of a leased envelope.
type leaseHeader struct {
	token  leaseToken
	expiry int64 // Unix milliseconds
}

// appendLease appends a leased envelope (token tok, expiring at expiry) to
// dst.
func appendLease(dst []byte, tok leaseToken, expiry int64) []byte {
	dst = append(dst, envMagic, leaseVersion, 0)
	var reserved [envHdrLen - 3]byte // offsets 3-18, reserved: zero
	dst = append(dst, reserved[:]...)
	dst = append(dst, tok[:]...)
	return binary.BigEndian.AppendUint64(dst, uint64(expiry))
}

// parseLease decodes a leased envelope. ok is false when b is not one.
func parseLease(b []byte) (lh leaseHeader, ok bool) {
	if len(b) != leaseHdrLen || b[0] != envMagic || b[1] != leaseVersion {
		return leaseHeader{}, false
	}
	copy(lh.token[:], b[envHdrLen:])
	lh.expiry = int64(binary.BigEndian.Uint64(b[envHdrLen+leaseTokenLen:]))
	if lh.expiry < 0 {
		return leaseHeader{}, false
	}
	return lh, true
}
