package cacheclient

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cachetier/cachetier/ring"
)

// Discoverer reports the node set. Watch calls update with the initial set,
// then whenever it changes, until ctx ends; it returns when ctx ends. Implementations own no
// goroutine beyond Watch.
//
// update is called on Watch's goroutine, one call at a time; it owns the
// Membership it is given. Watch returns ctx.Err() when ctx ends, or another
// error at once (before any update) when the Discoverer is misconfigured.
// While the source is unreachable or broken, Watch keeps the last set it
// reported and retries; it never reports an empty set because of a failure.
type Discoverer interface {
	Watch(ctx context.Context, update func(Membership)) error
}

// DiscovererFunc adapts a function to Discoverer.
type DiscovererFunc func(ctx context.Context, update func(Membership)) error

// Watch calls f(ctx, update).
func (f DiscovererFunc) Watch(ctx context.Context, update func(Membership)) error {
	return f(ctx, update)
}

// ErrDiscoveryEmpty is reported (through OnError) when a DNS answer or a slot
// file names no node. The previous set is kept: an empty answer is far more
// often a transient fault (a rollout, a truncated file) than a real wish to
// drop every node.
var ErrDiscoveryEmpty = errors.New("cacheclient: discovery found no nodes")

// Membership is a node set: addresses, with the slots the source names for
// them, or a full ring.
//
// The client places keys by slot ("Placement" in docs/client.md): each
// node's slot comes from the node itself (CONFIG GET slot, answered by
// cachenode --slot), else from Slots; see also [Client.Owner]. Only when no node
// has a slot does the order of Addrs matter: it is then the join order, and
// a ring built as ring.New(Addrs...) gives slot i to Addrs[i]; use
// [Membership.Build] to turn successive memberships into rings with the
// least key movement.
type Membership struct {
	// Addrs are the node addresses ("host:port"), each once, in join order.
	// With a Ring, they are Ring.Nodes().
	Addrs []string
	// Slots, when not nil, maps addresses of Addrs to the slot the source
	// names for them: "addr=slot" in Static, the StatefulSet ordinal of an
	// SRV target's hostname in DNS. A slot the node reports itself takes
	// precedence.
	Slots map[string]int
	// Ring is the complete slot table (with operator-marked down nodes)
	// when the source provides one (SlotFile); nil otherwise. It is
	// authoritative: slots reported by the nodes do not change it.
	Ring *ring.Ring
}

// Build returns the ring for m given the ring in use before (nil at start).
//
// If m carries a Ring, that is the answer: the operator's slot table is
// authoritative. Otherwise Build returns prev.WithNodes(m.Addrs...), which
// applies the difference:
// nodes of prev missing from m.Addrs Leave (their slots become vacant or are
// dropped, so only their keys move) and nodes new in m.Addrs Join in list
// order (filling vacant slots first, so a node that comes back, or a
// replacement, takes over a departed node's keys instead of moving others).
// Down marks of nodes that stay are kept. With a nil or empty prev, Build
// returns ring.New(m.Addrs...) (duplicates dropped).
//
// Building ring.New(m.Addrs...) from scratch on every change would also work
// but, after a node in the middle of the list leaves, would shift every later
// node to another slot and move far more keys.
func (m Membership) Build(prev *ring.Ring) *ring.Ring {
	if m.Ring != nil {
		return m.Ring
	}
	if prev.Len() == 0 {
		return ring.New(discDedupe(m.Addrs)...)
	}
	return prev.WithNodes(m.Addrs...)
}

// Static returns a Discoverer for a fixed node list. Its Watch reports the
// addresses once (duplicates and empty strings removed, order kept) and then
// waits for ctx to end. An empty list is a valid membership: a client with
// no nodes runs on L1 and the origin alone.
//
// An entry "addr=slot" names the node's slot ("10.0.0.1:6379=0"), so that
// placement does not depend on the list's order; this is how stock
// redis-server nodes, which cannot report a slot, get one. A slot the node
// reports itself (cachenode --slot) takes precedence. An entry whose slot is
// not a number in 0..65535 makes Watch fail at once.
func Static(addrs ...string) Discoverer {
	var s staticDisc
	var clean []string
	for _, e := range addrs {
		a, slot, err := splitAddrSlot(e)
		if err != nil {
			s.err = err
			return s
		}
		if a == "" {
			continue
		}
		if slot >= 0 {
			if _, dup := s.slots[a]; !dup && !slices.Contains(clean, a) {
				if s.slots == nil {
					s.slots = map[string]int{}
				}
				s.slots[a] = slot
			}
		}
		clean = append(clean, a)
	}
	s.addrs = discDedupe(clean)
	return s
}

type staticDisc struct {
	addrs []string
	slots map[string]int
	err   error
}

func (s staticDisc) Watch(ctx context.Context, update func(Membership)) error {
	if s.err != nil {
		return s.err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	update(Membership{Addrs: slices.Clone(s.addrs), Slots: maps.Clone(s.slots)})
	<-ctx.Done()
	return ctx.Err()
}

// splitAddrSlot splits "addr=slot" into its parts; slot is -1 for a plain
// address. The slot must be a decimal number below ring.MaxSlots.
func splitAddrSlot(e string) (addr string, slot int, err error) {
	a, v, ok := strings.Cut(e, "=")
	if !ok {
		return e, -1, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n >= ring.MaxSlots || v != strconv.Itoa(n) {
		return "", -1, fmt.Errorf("cacheclient: node %q: slot %q is not a number 0-%d", e, v, ring.MaxSlots-1)
	}
	if a == "" {
		return "", -1, fmt.Errorf("cacheclient: node %q: no address before '='", e)
	}
	return a, n, nil
}

// discDedupe returns addrs without empty strings and repeats, first occurrence
// kept.
func discDedupe(addrs []string) []string {
	out := make([]string, 0, len(addrs))
	seen := make(map[string]struct{}, len(addrs))
	for _, a := range addrs {
		if _, ok := seen[a]; ok || a == "" {
			continue
		}
		seen[a] = struct{}{}
		out = append(out, a)
	}
	return out
}

// discJoinOrder returns the addresses of cur in join order relative to prev:
// those already in prev keep their relative order, vanished ones are gone,
// and new ones are appended, sorted (so that processes that saw the same
// sequence of answers agree on the order whatever order the answers came in).
func discJoinOrder(prev, cur []string) []string {
	in := make(map[string]struct{}, len(cur))
	for _, a := range cur {
		in[a] = struct{}{}
	}
	out := make([]string, 0, len(cur))
	kept := make(map[string]struct{}, len(prev))
	for _, a := range prev {
		if _, ok := in[a]; ok {
			if _, dup := kept[a]; !dup {
				out = append(out, a)
				kept[a] = struct{}{}
			}
		}
	}
	var added []string
	for _, a := range cur {
		if _, ok := kept[a]; !ok {
			kept[a] = struct{}{}
			added = append(added, a)
		}
	}
	slices.Sort(added)
	return append(out, added...)
}

// discSleep waits for d or until ctx ends; it reports whether d elapsed.
func discSleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// discRetryDelay is the wait before retry number n (0-based) of a first lookup
// that keeps failing: 100 ms doubling, capped at interval.
func discRetryDelay(n int, interval time.Duration) time.Duration {
	d := 100 * time.Millisecond
	for range min(n, 20) {
		d *= 2
	}
	return min(d, interval)
}
