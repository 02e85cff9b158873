package cacheclient

import (
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"
)

// Coherent L1 (server-assisted client-side caching, CLIENT TRACKING).
//
// Connections. Per node, one invalidation channel (channel.go): a dedicated
// RESP3 connection (HELLO 3, CLIENT ID) owned by a goroutine that the tier
// starts with the node and stops when the node leaves or the client closes.
// The node's pooled L2 connections run CLIENT TRACKING ON REDIRECT <id of the
// channel> in go-redis' OnConnect hook: default mode (not OPTIN), so the
// plain GET of an L2 hit is tracked with no extra command or round trip.
// When the channel (re)connects, it gets a new client ID, so the node's
// go-redis client is replaced (node.resetPool) and every pooled connection
// registers its redirect again as it is dialled.
//
// Messages. The node pushes >2 "invalidate" [key ...] on the channel when a
// key a pooled connection read is written (by anyone: another client, a
// redis-cli SET or DEL), expires, is evicted, or is dropped from a full
// tracking table; FLUSHALL/FLUSHDB send a null key list.
//
// What drops what:
//
//	keys pushed                  → those keys' L1 entries (fastcache Del), their epochs bumped
//	null push (FLUSHALL)         → flush
//	channel lost or reconnected  → flush; the node is incoherent until the channel
//	                               is up again with a fresh pool
//	tracking refused (OnConnect) → flush; node incoherent, channel redialled
//	node marked down or up,
//	membership change            → flush (keys change owner)
//
// A flush bumps the L1 generation: every entry read under an older one reads
// as past T1 (l1.go), so it is never served fresh again, but it is still a
// stale fallback when the origin fails or sheds (a tier that dies must not
// pass every warm key to the origin). A flush covers the whole L1, not only
// the entries read from one node: recording the node in each entry would
// add a lookup to the L1 hit path, which must stay as fast as without
// coherence. These events are rare (a channel blip, a failover, a membership
// change); the cost is one L2 read per key afterwards.
//
// The in-flight race, with epochs. A fill that reads key from L2 first takes
// a mark (coherence.mark): the L1 generation and the key's epoch, one of
// 16384 uint32 counters indexed by the key's hash (bumped by every
// invalidation of a key with that hash). After the reply it installs the
// entry in L1 under the mark's generation (so a flush in between leaves it
// stale), then compares the key's epoch with the mark and deletes the entry
// again if it moved. An invalidation bumps
// the epoch before it deletes the key, so either the fill sees the bump
// (and deletes its entry) or the invalidation's delete comes after the
// install. Collisions only cause extra misses. The table costs 64 KiB per
// Client, whatever the number of entries.
//
// Bytes per L1 entry: none. An entry read through a coherent node carries
// nothing more than before but its generation, in spare bits of its T2; an entry that cannot be kept coherent (the node's
// channel is down, tracking is refused, or Coherence.Disabled) carries the L1-
// only flag flagIncoherent in the existing flags byte, so that its hits are
// counted (Stats.IncoherentHits), and keeps today's lifetime (its TTL, capped
// by L1.TTL). An entry this client wrote itself (Set, an origin load written
// back, a value obtained through a lease) is not tracked by the node (a write
// does not register a key), so its L1 copy is fresh for at most
// untrackedL1TTL; the next read after that is a tracked GET.

// untrackedL1TTL caps the L1 freshness of an entry this client wrote to a
// coherent node (no read has registered the key for tracking yet): the 50 ms
// bound itself, so that a write by another process reaches even this copy
// within the bound; it is counted from when the copy becomes visible.
const untrackedL1TTL = 50 * time.Millisecond

// epochBits sizes the per-key epoch table (2^epochBits uint32 counters).
const epochBits = 14

// coherence is the client's invalidation state, shared by the tier (which
// feeds it from the channels) and the fills (which take marks).
type coherence struct {
	enabled bool
	l1      *l1 // nil when L1 is disabled
	st      *counters

	epochs [1 << epochBits]atomic.Uint32 // bumped by every invalidation of a key hashing there
}

func newCoherence(enabled bool, l *l1, st *counters) *coherence {
	return &coherence{enabled: enabled && l != nil, l1: l, st: st}
}

// curGen returns the current L1 generation (0 without L1).
func (co *coherence) curGen() uint64 {
	if co.l1 == nil {
		return 0
	}
	return co.l1.gen.Load()
}

// readMark is what a fill records before its L2 read, to be checked after
// the entry is installed in L1.
type readMark struct {
	tracked bool   // the read goes through a coherent node: the node tracks the key
	gen     uint64 // the L1 generation at the mark
	epoch   uint32 // the key's epoch at the mark
	slot    uint32
}

// untracked is the mark of an entry no tracked read stands behind.
var untracked = readMark{}

func epochSlot(key string) uint32 {
	return uint32(xxhash.Sum64String(key) & (1<<epochBits - 1))
}

// mark returns the mark for a read of key through nd.
func (co *coherence) mark(key string, nd *node) readMark {
	if !co.enabled || nd == nil || !nd.coherent.Load() {
		return untracked
	}
	s := epochSlot(key)
	return readMark{tracked: true, gen: co.curGen(), epoch: co.epochs[s].Load(), slot: s}
}

// moved reports whether an invalidation of m's key happened since m was
// taken. (A flush since m needs no check: the entry is installed under m's
// generation, which is then no longer current.)
func (co *coherence) moved(m readMark) bool {
	return co.epochs[m.slot].Load() != m.epoch
}

// invalidate drops key from L1 (a key pushed by a node).
func (co *coherence) invalidate(key string) {
	co.epochs[epochSlot(key)].Add(1)
	co.st.invalidations.Add(1)
	if co.l1 != nil && len(key) <= maxL1Key {
		if co.l1.c.Has(bytesOf(key)) {
			co.st.invalidatedDropped.Add(1)
		}
		co.l1.del(key)
	}
}

// flush makes every L1 entry stale (a null push, a lost channel, a topology
// change): no longer served fresh, still a stale fallback when the origin
// fails or sheds.
func (co *coherence) flush() {
	if !co.enabled {
		return
	}
	co.l1.gen.Add(1)
	co.st.l1Flushes.Add(1)
}
