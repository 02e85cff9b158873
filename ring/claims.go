package ring

import (
	"cmp"
	"slices"
)

// Claim is a node address and the slot it claims. A negative Slot, or one
// at or above MaxSlots, claims none.
type Claim struct {
	Addr string
	Slot int
}

// FromClaims builds the ring of a tier whose nodes know their slots: each
// address owns the slot it claims, and a slot below the highest claimed one
// that nobody claims is vacant (a dead bucket: its keys remix to live slots,
// as when its node is down). So the table depends only on the set of
// claims, never on the order in which they were met.
//
// Addresses that claim no slot fill the vacant slots, lowest first, in the
// order given, then are appended; their place does depend on that order
// (and on which slots are vacant). When several addresses claim one slot,
// the lowest address (in string order) keeps it and the others are placed
// as claiming none; lost returns their claims, in address order. Empty
// addresses, "-" and repeated addresses (after the first) are ignored.
//
// Dead slots after the last live one do not count in lookups of the
// returned ring and of the rings derived from it (WithDown, WithUp, Join,
// Leave, Replace, WithNodes): keys are placed as if the table ended at the
// last live slot. Two such rings therefore place every key on the same node
// whenever their live slots have the same owners, whether a slot that is
// not live is vacant, down or beyond the end of the table. The price: when
// the last live slot goes down while the slots before it are already dead,
// keys that had failed over from those slots are spread again; keys whose
// own node is live never move.
func FromClaims(claims ...Claim) (r *Ring, lost []Claim) {
	seen := make(map[string]struct{}, len(claims))
	var slotted, free []Claim
	for _, c := range claims {
		if c.Addr == "" || c.Addr == "-" {
			continue
		}
		if _, dup := seen[c.Addr]; dup {
			continue
		}
		seen[c.Addr] = struct{}{}
		if c.Slot < 0 || c.Slot >= MaxSlots {
			free = append(free, Claim{Addr: c.Addr, Slot: -1})
			continue
		}
		slotted = append(slotted, c)
	}
	slices.SortFunc(slotted, func(a, b Claim) int {
		return cmp.Or(cmp.Compare(a.Slot, b.Slot), cmp.Compare(a.Addr, b.Addr))
	})
	var slots []string
	for i, c := range slotted {
		if i > 0 && slotted[i-1].Slot == c.Slot {
			lost = append(lost, c)
			continue
		}
		for len(slots) < c.Slot {
			slots = append(slots, "")
		}
		slots = append(slots, c.Addr)
	}
	slices.SortFunc(lost, func(a, b Claim) int { return cmp.Compare(a.Addr, b.Addr) })
	for _, c := range lost {
		free = append(free, Claim{Addr: c.Addr, Slot: -1})
	}
	next := 0
	for _, c := range free {
		for next < len(slots) && slots[next] != "" {
			next++
		}
		if next < len(slots) {
			slots[next] = c.Addr
		} else if len(slots) < MaxSlots {
			slots = append(slots, c.Addr)
		}
	}
	r = build(slots, nil)
	r.setTrim()
	return r, lost
}

// SlotOf returns the first slot addr owns, or -1 when it owns none.
func (r *Ring) SlotOf(addr string) int {
	if !r.Has(addr) {
		return -1
	}
	return slices.Index(r.slots, addr)
}
