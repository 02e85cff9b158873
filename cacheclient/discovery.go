package cacheclient

import (
	"context"
	"errors"
	"slices"
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

// Membership is a node set: either plain addresses in join order, or a full ring.
//
// Addrs lists each node once. Its order is the join order: a ring built as
// ring.New(Addrs...) gives slot i to Addrs[i], so where a node sits in the
// list decides which keys it owns. Use [Membership.Build] to turn successive
// memberships into rings with the least key movement.
type Membership struct {
	// Addrs are the node addresses ("host:port"), each once, in join order.
	// With a Ring, they are Ring.Nodes().
	Addrs []string
	// Ring is the complete slot table (with operator-marked down nodes)
	// when the source provides one (SlotFile); nil otherwise.
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
func Static(addrs ...string) Discoverer {
	return staticDisc(discDedupe(addrs))
}

type staticDisc []string

func (s staticDisc) Watch(ctx context.Context, update func(Membership)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	update(Membership{Addrs: slices.Clone(s)})
	<-ctx.Done()
	return ctx.Err()
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
