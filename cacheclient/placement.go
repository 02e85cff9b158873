package cacheclient

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cachetier/cachetier/ring"
)

// Placement: which node owns a key. The client builds its ring from slots,
// so that every process that sees the same live nodes places every key on
// the same node, whatever order and history it met them in:
//
//  1. a slot the node reports itself (CONFIG GET slot, asked when the node
//     joins and each time it comes back up: cachenode --slot N|auto);
//  2. else the slot the discovery source names (Membership.Slots: Static
//     "addr=slot", the ordinal of an SRV target's hostname);
//  3. else none: the node is placed by order, and the client warns.
//
// A SlotFile's table (Membership.Ring) is used as it is.

// placement is the tier's record of what it has logged about placement, so
// that each warning and conflict is logged and counted once. Guarded by
// tier.mu.
type placement struct {
	noted map[string]struct{}
}

// once reports whether key is new, and records it.
func (p *placement) once(key string) bool {
	if p.noted == nil {
		p.noted = map[string]struct{}{}
	}
	if _, ok := p.noted[key]; ok {
		return false
	}
	p.noted[key] = struct{}{}
	return true
}

// memberAddrs returns the addresses of m: Addrs, then the nodes of m.Ring
// not in Addrs.
func memberAddrs(m Membership) []string {
	out := discDedupe(m.Addrs)
	for _, a := range m.Ring.Nodes() {
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// normalize splits "addr=slot" entries of m.Addrs (TierConfig.Addrs takes
// the same form as Static) into Addrs and Slots. An entry with a bad slot
// keeps its address, without a slot, and is logged.
func (t *tier) normalize(m Membership) Membership {
	if !slices.ContainsFunc(m.Addrs, func(a string) bool { return strings.Contains(a, "=") }) {
		return m
	}
	addrs := make([]string, 0, len(m.Addrs))
	slots := make(map[string]int, len(m.Addrs))
	for a, s := range m.Slots {
		slots[a] = s
	}
	for _, e := range m.Addrs {
		a, s, err := splitAddrSlot(e)
		if err != nil {
			t.log.Error("cacheclient: node address ignored", "err", err)
			continue
		}
		if _, ok := slots[a]; !ok && s >= 0 {
			slots[a] = s
		}
		addrs = append(addrs, a)
	}
	m.Addrs, m.Slots = discDedupe(addrs), slots
	return m
}

// readSlot asks nd for its slot, bounded by 2×Timeout+DialTimeout (a
// first request dials). It stores nothing.
func (t *tier) readSlot(nd *node) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*t.cfg.Timeout+t.cfg.DialTimeout)
	defer cancel()
	return nd.readSlot(ctx)
}

// readSlots asks every node of nds for its slot, in parallel, and stores
// the answers (slotUnknown for a node that did not answer); it returns the
// nodes that did not answer. Such a node stays a member (placed by order
// when no node has a slot, else left out of the ring until it answers) and
// is asked again (scheduleSlotRetry).
func (t *tier) readSlots(nds []*node) (silent []*node) {
	var wg sync.WaitGroup
	errs := make([]error, len(nds))
	for i, nd := range nds {
		wg.Go(func() {
			s, err := t.readSlot(nd)
			nd.slot.Store(int32(s))
			errs[i] = err
		})
	}
	wg.Wait()
	for i, nd := range nds {
		if errs[i] != nil {
			silent = append(silent, nd)
			t.log.Debug("cacheclient: node did not answer CONFIG GET slot", "node", nd.addr, "err", errs[i])
		}
	}
	return silent
}

// place returns the ring for membership m over nodes, given the topology
// in use before (for the order-based fallback), and whether it was built
// from slots (or is an operator's table). Called with t.mu held.
//
// A node with neither a reported nor a source slot that has not answered
// yet (slotUnknown) is left out of a ring built from slots, and placed once
// it tells its slot.
// When no node has a slot, the ring is the order-based one of
// Membership.Build, every node included.
func (t *tier) place(m Membership, nodes map[string]*node, prev *topology) (*ring.Ring, bool) {
	if m.Ring != nil {
		table := m.Ring.Slots()
		for _, a := range m.Ring.Nodes() {
			nd := nodes[a]
			if nd == nil {
				continue
			}
			if s := int(nd.slot.Load()); s >= 0 && (s >= len(table) || table[s] != a) {
				t.conflict(fmt.Sprintf("table %s %d", a, s), "cacheclient: node reports a slot the slot table does not give it; the table is used",
					"node", a, "reported", s, "table", m.Ring.SlotOf(a))
			}
		}
		return m.Ring, true
	}
	var claims, free []ring.Claim
	var none []string
	anySlot := false
	for _, a := range m.Addrs {
		nd := nodes[a]
		if nd == nil {
			continue
		}
		rep := int(nd.slot.Load())
		src, hasSrc := m.Slots[a]
		if hasSrc && (src < 0 || src >= ring.MaxSlots) {
			hasSrc = false
		}
		switch {
		case rep >= 0:
			if hasSrc && src != rep {
				t.conflict(fmt.Sprintf("source %s %d %d", a, rep, src), "cacheclient: node reports a slot other than the one discovery names; the node's slot is used",
					"node", a, "reported", rep, "discovery", src)
			}
			claims = append(claims, ring.Claim{Addr: a, Slot: rep})
			anySlot = true
		case hasSrc:
			claims = append(claims, ring.Claim{Addr: a, Slot: src})
			anySlot = true
		case rep == slotUnknown:
			free = append(free, ring.Claim{Addr: a, Slot: slotUnknown})
		default:
			free = append(free, ring.Claim{Addr: a, Slot: slotNone})
			none = append(none, a)
		}
	}
	if !anySlot {
		t.unslotted(none)
		var before *ring.Ring
		if prev != nil && !prev.slotted {
			before = prev.base
		}
		return Membership{Addrs: m.Addrs}.Build(before), false
	}
	// Nodes without a slot fill the holes in address order, so that
	// processes that see the same nodes agree; not-yet-answered ones wait.
	slices.SortFunc(free, func(x, y ring.Claim) int { return strings.Compare(x.Addr, y.Addr) })
	for _, c := range free {
		if c.Slot == slotNone {
			claims = append(claims, ring.Claim{Addr: c.Addr, Slot: -1})
		}
	}
	t.unslotted(none)
	r, lost := ring.FromClaims(claims...)
	for _, c := range lost {
		t.conflict(fmt.Sprintf("dup %s %d", c.Addr, c.Slot), "cacheclient: two nodes claim one slot; the lower address keeps it, the other is placed as a node without a slot",
			"slot", c.Slot, "node", c.Addr, "kept by", r.Slots()[c.Slot])
	}
	return r, true
}

// conflict logs and counts a placement conflict the first time key is seen.
func (t *tier) conflict(key, msg string, args ...any) {
	if t.pl.once("conflict " + key) {
		t.st.slotConflicts.Add(1)
		t.log.Warn(msg, args...)
	}
}

// unslotted logs and counts, once per address, the nodes placed without a
// slot.
func (t *tier) unslotted(addrs []string) {
	for _, a := range addrs {
		if t.pl.once("unslotted " + a) {
			t.st.unslottedNodes.Add(1)
			t.log.Warn("cacheclient: node has no slot (it reports none and discovery names none); it is placed by order, and processes that met the nodes in another order may place keys differently: run cachenode --slot, or name slots in discovery (Static \"addr=slot\", SRV with StatefulSet hostnames, SlotFile)",
				"node", a)
		}
	}
}

// scheduleSlotRetry arranges for the nodes that have not told their slot
// yet to be asked again after about Health.Interval, when there are such
// nodes and no retry is pending. Called with t.mu held.
func (t *tier) scheduleSlotRetry() {
	if t.closed || t.slotRetry != nil {
		return
	}
	for _, nd := range t.topo.Load().nodes {
		if nd.slot.Load() == slotUnknown {
			t.retryWG.Add(1)
			t.slotRetry = time.AfterFunc(jitter(t.health.Interval), t.retrySlots)
			return
		}
	}
}

// retrySlots asks the nodes that have not told their slot yet, and places
// those that answer.
func (t *tier) retrySlots() {
	defer t.retryWG.Done()
	t.mu.Lock()
	t.slotRetry = nil
	var ask []*node
	for _, nd := range t.topo.Load().nodes {
		if nd.slot.Load() == slotUnknown {
			ask = append(ask, nd)
		}
	}
	closed := t.closed
	t.mu.Unlock()
	if closed {
		return
	}
	silent := t.readSlots(ask)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	if len(silent) < len(ask) {
		tp := t.topo.Load()
		nt := *tp
		nt.base, nt.slotted = t.place(tp.m, tp.nodes, tp)
		if !nt.base.Equal(tp.base) {
			t.topo.Store(nt.withLive())
			t.co.flush() // keys may have changed owner
			t.log.Info("cacheclient: membership", "nodes", nt.base.String())
		} else {
			t.topo.Store(&nt)
		}
	}
	t.scheduleSlotRetry()
}

// Owner returns the address of the node that serves key now: its owner in
// the ring, or the failover owner while that node is down. It returns ""
// when no node is live. Every process that sees the same live nodes (with
// their slots) returns the same address.
func (c *Client) Owner(key string) string {
	a, _ := c.tier.topo.Load().live.Owner(key)
	return a
}

// Ring returns the ring the client places keys with now: each member at its
// slot, the nodes marked down dead. Ring.Owners(key, 2, nil) gives a key's
// owner and the node that takes it over if the owner goes down. Nodes that
// have not yet told their slot are not in it. The Ring is immutable.
func (c *Client) Ring() *ring.Ring {
	return c.tier.topo.Load().live
}
