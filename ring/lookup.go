package ring

import (
	"bytes"
	"cmp"
	"slices"
	"strings"

	"github.com/cespare/xxhash/v2"
	jump "github.com/dgryski/go-jump"
)

// maxTries is the number of remixed jumps tried after the first one before a
// key falls back to rendezvous over the live slots. With a fraction d of the
// slots dead, a key falls back with probability d^33: never in practice
// unless most of the tier is down, when the fallback scan is short anyway.
const maxTries = 32

const golden = 0x9e3779b97f4a7c15 // 2^64 / phi, the splitmix64 increment

// mix is the splitmix64 finalizer: a bijective 64-bit mixer.
func mix(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// HashKey returns the hash that places key: xxhash64 of the whole key, or,
// when the key contains a "{...}" with at least one byte inside, of the part
// between the first '{' and the first '}' after it (the Redis Cluster hash
// tag rule). So "{user:1}:profile" and "{user:1}:friends" share a node.
func HashKey(key string) uint64 {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	return xxhash.Sum64String(key)
}

// hashKeyBytes is HashKey for a []byte key.
func hashKeyBytes(key []byte) uint64 {
	if i := bytes.IndexByte(key, '{'); i >= 0 {
		if j := bytes.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	return xxhash.Sum64(key)
}

// Owner returns the live owner of key; ok is false only when no slot is
// live.
func (r *Ring) Owner(key string) (addr string, ok bool) {
	if r == nil || len(r.live) == 0 {
		return "", false
	}
	return r.slots[r.slotOf(HashKey(key))], true
}

// OwnerBytes is Owner for a []byte key. It does not retain key.
func (r *Ring) OwnerBytes(key []byte) (addr string, ok bool) {
	if r == nil || len(r.live) == 0 {
		return "", false
	}
	return r.slots[r.slotOf(hashKeyBytes(key))], true
}

// OwnerHash is Owner for a hash computed with HashKey.
func (r *Ring) OwnerHash(h uint64) (addr string, ok bool) {
	if r == nil || len(r.live) == 0 {
		return "", false
	}
	return r.slots[r.slotOf(h)], true
}

// slotOf returns the first live slot in h's probe sequence. The ring must
// have a live slot.
func (r *Ring) slotOf(h uint64) int {
	n := r.n
	if b := jump.Hash(h, n); !r.dead[b] {
		return int(b)
	}
	s := h
	for range maxTries {
		s += golden
		if b := jump.Hash(mix(s), n); !r.dead[b] {
			return int(b)
		}
	}
	return r.rendezvous(h, nil)
}

// score is the rendezvous weight of slot i for hash h.
func score(h uint64, i int32) uint64 {
	return mix(h ^ mix(uint64(i)^0x5bd1e9955bd1e995))
}

// rendezvous returns the live slot with the highest score for h among those
// whose address is not in skip.
func (r *Ring) rendezvous(h uint64, skip []string) int {
	best, bestScore := -1, uint64(0)
	for _, i := range r.live {
		if len(skip) > 0 && contains(skip, r.slots[i]) {
			continue
		}
		if sc := score(h, i); best < 0 || sc > bestScore {
			best, bestScore = int(i), sc
		}
	}
	return best
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Owners appends to dst up to n distinct live owners of key and returns the
// extended slice; the first is Owner(key). The owners come from the key's
// probe sequence, so the second owner is the node that Owner returns once
// the first is marked down, the third once the first two are, and so on
// (for a ring from FromClaims too, where each is found by a lookup that
// treats the ones before it as dead).
// It returns fewer than n when fewer live nodes exist (see Live). With
// room in dst it allocates nothing, except when more than 4 owners must come
// from the rendezvous fallback (long lists in small or mostly dead rings),
// where it sorts the live slots once.
func (r *Ring) Owners(key string, n int, dst []string) []string {
	return r.OwnersHash(HashKey(key), n, dst)
}

// OwnersHash is Owners for a hash computed with HashKey.
func (r *Ring) OwnersHash(h uint64, n int, dst []string) []string {
	if r == nil || n <= 0 || len(r.live) == 0 {
		return dst
	}
	n = min(n, r.liveAddrs)
	if r.trim {
		return r.ownersTrimmed(h, n, dst)
	}
	start, slots := len(dst), r.n
	s := h
	for try := 0; try <= maxTries && len(dst)-start < n; try++ {
		var b int32
		if try == 0 {
			b = jump.Hash(h, slots)
		} else {
			s += golden
			b = jump.Hash(mix(s), slots)
		}
		if a := r.slots[b]; !r.dead[b] && !contains(dst[start:], a) {
			dst = append(dst, a)
		}
	}
	if n-(len(dst)-start) > 4 {
		return r.rendezvousAll(h, n, dst, start)
	}
	for len(dst)-start < n {
		dst = append(dst, r.slots[r.rendezvous(h, dst[start:])])
	}
	return dst
}

// rendezvousAll appends to dst the live addresses not in dst[start:], by
// descending rendezvous score, until dst[start:] holds n. It is the
// rendezvous loop of OwnersHash for long owner lists: O(live·log live)
// instead of a scan per owner.
func (r *Ring) rendezvousAll(h uint64, n int, dst []string, start int) []string {
	chosen := make(map[string]struct{}, n)
	for _, a := range dst[start:] {
		chosen[a] = struct{}{}
	}
	type cand struct {
		score uint64
		slot  int32
	}
	cands := make([]cand, 0, len(r.live))
	for _, i := range r.live {
		if _, ok := chosen[r.slots[i]]; !ok {
			cands = append(cands, cand{score(h, i), i})
		}
	}
	slices.SortFunc(cands, func(a, b cand) int {
		if a.score != b.score {
			return cmp.Compare(b.score, a.score)
		}
		return cmp.Compare(a.slot, b.slot)
	})
	for _, c := range cands {
		if len(dst)-start == n {
			break
		}
		if a := r.slots[c.slot]; !inSet(chosen, a) {
			chosen[a] = struct{}{}
			dst = append(dst, a)
		}
	}
	return dst
}

func inSet(set map[string]struct{}, s string) bool {
	_, ok := set[s]
	return ok
}

// ownersTrimmed is OwnersHash for a ring from FromClaims, where marking a
// node down may shorten the range the jump hash covers: each next owner is
// the owner once the owners before it are marked down, found by a lookup
// that treats them as dead.
func (r *Ring) ownersTrimmed(h uint64, n int, dst []string) []string {
	start := len(dst)
	for len(dst)-start < n {
		skip := dst[start:]
		dead := func(b int32) bool { return r.dead[b] || contains(skip, r.slots[b]) }
		slots := 0
		for i := len(r.live) - 1; i >= 0; i-- {
			if !contains(skip, r.slots[r.live[i]]) {
				slots = int(r.live[i]) + 1
				break
			}
		}
		b := jump.Hash(h, slots)
		for s, try := h, 0; dead(b) && try < maxTries; try++ {
			s += golden
			b = jump.Hash(mix(s), slots)
		}
		if dead(b) {
			b = int32(r.rendezvous(h, skip))
		}
		dst = append(dst, r.slots[b])
	}
	return dst
}
