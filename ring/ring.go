package ring

import "slices"

// MaxSlots is the largest number of slots a Ring holds. Constructors and
// Join stop adding slots there; Parse rejects larger tables.
const MaxSlots = 1 << 16

// Node is a node address with a weight: the node owns Weight slots of the
// table. A Weight below 1 counts as 1.
type Node struct {
	Addr   string
	Weight int
}

// Ring is an immutable slot table with a set of down nodes. The zero value
// and the nil *Ring are empty rings: every lookup reports no owner. A Ring
// is safe for concurrent use.
type Ring struct {
	slots     []string            // slot → owner address; "" = vacant. Shared between rings, never written after build.
	dead      []bool              // slot → vacant or owner down
	live      []int32             // live slot numbers, ascending (rendezvous fallback)
	addrs     []string            // distinct addresses, in order of first slot
	down      []string            // down addresses, in order of first slot
	downSet   map[string]struct{} // the same set, for IsDown
	members   map[string]struct{} // the addrs set, for Has
	liveAddrs int                 // number of distinct live addresses
	n         int                 // slots the jump hash ranges over: len(slots), or up to the last live one when trim
	trim      bool                // built by FromClaims: dead slots after the last live one do not count
}

// build returns a ring over slots (owned by the ring from now on) with the
// addresses in down marked dead. Addresses in down that own no slot are
// ignored.
func build(slots []string, down map[string]struct{}) *Ring {
	seen := make(map[string]struct{}, len(slots))
	r := &Ring{slots: slots, dead: make([]bool, len(slots)), members: seen, n: len(slots)}
	for i, a := range slots {
		if a == "" {
			r.dead[i] = true
			continue
		}
		_, isDown := down[a]
		if isDown {
			r.dead[i] = true
		} else {
			r.live = append(r.live, int32(i))
		}
		if _, ok := seen[a]; ok {
			continue
		}
		seen[a] = struct{}{}
		r.addrs = append(r.addrs, a)
		if isDown {
			r.down = append(r.down, a)
		} else {
			r.liveAddrs++
		}
	}
	if len(r.down) > 0 {
		r.downSet = make(map[string]struct{}, len(r.down))
		for _, a := range r.down {
			r.downSet[a] = struct{}{}
		}
	}
	return r
}

// rebuild is build for a ring derived from r: it keeps r's trim rule.
func (r *Ring) rebuild(slots []string, down map[string]struct{}) *Ring {
	nr := build(slots, down)
	if r != nil && r.trim {
		nr.setTrim()
	}
	return nr
}

// setTrim makes lookups range over the slots up to the last live one.
func (r *Ring) setTrim() {
	r.trim = true
	r.n = 0
	if k := len(r.live); k > 0 {
		r.n = int(r.live[k-1]) + 1
	}
}

// New builds a ring whose slot table is addrs in join order, one slot
// (weight 1) each. An address listed twice owns two slots; an empty string
// or "-" makes a vacant slot. Slots past MaxSlots are dropped. When every
// entry is "-" or an address valid in the text form, New(addrs...) equals
// Parse(strings.Join(addrs, ",")).
func New(addrs ...string) *Ring {
	n := min(len(addrs), MaxSlots)
	slots := make([]string, n)
	for i, a := range addrs[:n] {
		if a != "-" {
			slots[i] = a
		}
	}
	return build(slots, nil)
}

// NewWeighted builds a ring whose slot table is nodes in join order, each
// node owning Weight consecutive slots (at least 1). Slots past MaxSlots are
// dropped.
func NewWeighted(nodes ...Node) *Ring {
	var slots []string
	for _, nd := range nodes {
		a := nd.Addr
		if a == "-" {
			a = ""
		}
		w := max(nd.Weight, 1)
		for k := 0; k < w && len(slots) < MaxSlots; k++ {
			slots = append(slots, a)
		}
	}
	return build(slots, nil)
}

// Nodes returns the distinct addresses in the table, in slot order, down
// ones included. The slice is the caller's.
func (r *Ring) Nodes() []string {
	if r == nil {
		return nil
	}
	return slices.Clone(r.addrs)
}

// Down returns the addresses marked down, in slot order. The slice is the
// caller's.
func (r *Ring) Down() []string {
	if r == nil {
		return nil
	}
	return slices.Clone(r.down)
}

// IsDown reports whether addr is in the table and marked down.
func (r *Ring) IsDown(addr string) bool {
	if r == nil {
		return false
	}
	_, ok := r.downSet[addr]
	return ok
}

// Has reports whether addr owns at least one slot.
func (r *Ring) Has(addr string) bool {
	if r == nil || addr == "" {
		return false
	}
	_, ok := r.members[addr]
	return ok
}

// Len returns the number of slots, vacant ones included.
func (r *Ring) Len() int {
	if r == nil {
		return 0
	}
	return len(r.slots)
}

// Live returns the number of distinct live addresses: the most Owners can
// return.
func (r *Ring) Live() int {
	if r == nil {
		return 0
	}
	return r.liveAddrs
}

// Slots returns the slot table: the owner address of each slot, "" for a
// vacant slot. The slice is the caller's.
func (r *Ring) Slots() []string {
	if r == nil {
		return nil
	}
	return slices.Clone(r.slots)
}

// Equal reports whether r and o have the same slot table and the same down
// set, and so place every key on the same node.
func (r *Ring) Equal(o *Ring) bool {
	var a, b []string
	var da, db []string
	if r != nil {
		a, da = r.slots, r.down
	}
	if o != nil {
		b, db = o.slots, o.down
	}
	return slices.Equal(a, b) && slices.Equal(da, db) && r.trimmed() == o.trimmed()
}

// trimmed reports whether r was built by FromClaims.
func (r *Ring) trimmed() bool { return r != nil && r.trim }

// downWith returns r's down set as a fresh map, plus add, minus del.
func (r *Ring) downWith(add, del string) map[string]struct{} {
	m := make(map[string]struct{}, len(r.down)+1)
	for _, a := range r.down {
		m[a] = struct{}{}
	}
	if add != "" {
		m[add] = struct{}{}
	}
	delete(m, del)
	return m
}

// WithDown returns a ring with addr marked down: its slots are dead and its
// keys go to their next live owner. It returns r itself when addr owns no
// slot or is already down.
func (r *Ring) WithDown(addr string) *Ring {
	if !r.Has(addr) || r.IsDown(addr) {
		return r
	}
	return r.rebuild(r.slots, r.downWith(addr, ""))
}

// WithUp returns a ring with addr marked live again; placement is then
// exactly what it was before addr went down. It returns r itself when addr
// owns no slot or is not down.
func (r *Ring) WithUp(addr string) *Ring {
	if !r.IsDown(addr) {
		return r
	}
	return r.rebuild(r.slots, r.downWith("", addr))
}

// Join returns a ring with addr added as a live node owning weight slots (at
// least 1): it fills vacant slots first, lowest first, then appends slots
// (up to MaxSlots). Only keys that the new slots take move, all of them to
// addr. Join changes nothing and returns r when addr already owns a slot
// (membership and health are separate: use WithUp to mark a node live), or
// when addr is "" or "-".
func (r *Ring) Join(addr string, weight int) *Ring {
	if addr == "" || addr == "-" || r.Has(addr) {
		return r
	}
	weight = max(weight, 1)
	var slots []string
	var down map[string]struct{}
	if r != nil {
		slots = slices.Clone(r.slots)
		down = r.downWith("", "")
	}
	for i := range slots {
		if weight == 0 {
			break
		}
		if slots[i] == "" {
			slots[i] = addr
			weight--
		}
	}
	for ; weight > 0 && len(slots) < MaxSlots; weight-- {
		slots = append(slots, addr)
	}
	return r.rebuild(slots, down)
}

// Leave returns a ring without addr (scale-in). Only addr's keys move,
// spread evenly over the remaining live slots. If addr is live, its slots at
// the end of the table are dropped and the others become vacant; if addr is
// down, all its slots become vacant, so that keys which already moved when
// it went down stay where they are. It returns r when addr owns no slot.
func (r *Ring) Leave(addr string) *Ring {
	if !r.Has(addr) {
		return r
	}
	slots := slices.Clone(r.slots)
	if !r.IsDown(addr) {
		for len(slots) > 0 && slots[len(slots)-1] == addr {
			slots = slots[:len(slots)-1]
		}
	}
	for i, a := range slots {
		if a == addr {
			slots[i] = ""
		}
	}
	return r.rebuild(slots, r.downWith("", addr))
}

// Replace returns a ring in which new owns the slots old owned, so the keys
// placed on old are placed on new and no other key moves. old leaves the
// down set; new keeps its own state if it already owned slots, else it is
// live. It returns r when old owns no slot, new is "" or "-", or old == new.
func (r *Ring) Replace(old, new string) *Ring {
	if !r.Has(old) || new == "" || new == "-" || old == new {
		return r
	}
	slots := slices.Clone(r.slots)
	for i, a := range slots {
		if a == old {
			slots[i] = new
		}
	}
	return r.rebuild(slots, r.downWith("", old))
}

// WithNodes returns a ring whose node set is addrs, for discovery sources
// that report a list of addresses rather than changes. Nodes in r but not
// in addrs leave (as by Leave); addresses in addrs but not in r join with
// weight 1 in the order given (as by Join: vacant slots first, lowest
// first, then appended); nodes in both keep their slots and their down
// state. Empty strings, "-" and repeats in addrs are ignored. So a key
// moves only if its node left or it goes to a node that joined. It returns
// r when the node set is unchanged.
//
// The table, and so placement, depends on the history of changes: a process
// that started later and built its ring with New from the same addresses
// may order them differently. Clients that must agree key by key should
// share one table (a slot file written with String), not rebuild it.
func (r *Ring) WithNodes(addrs ...string) *Ring {
	want := make(map[string]struct{}, len(addrs))
	var joining []string
	for _, a := range addrs {
		if a == "" || a == "-" {
			continue
		}
		if _, dup := want[a]; dup {
			continue
		}
		want[a] = struct{}{}
		if !r.Has(a) {
			joining = append(joining, a)
		}
	}
	var slots []string
	var leaving bool
	if r != nil {
		slots = slices.Clone(r.slots)
		for _, a := range r.addrs {
			if _, ok := want[a]; !ok {
				leaving = true
			}
		}
	}
	if !leaving && len(joining) == 0 {
		return r
	}
	var down map[string]struct{}
	if r != nil {
		down = r.downWith("", "")
		gone := func(a string) bool { _, ok := want[a]; return a != "" && !ok }
		// Drop trailing slots of live leavers, then tombstone the rest.
		for len(slots) > 0 {
			a := slots[len(slots)-1]
			if _, isDown := down[a]; !gone(a) || isDown {
				break
			}
			slots = slots[:len(slots)-1]
		}
		for i, a := range slots {
			if gone(a) {
				slots[i] = ""
				delete(down, a)
			}
		}
		for a := range down {
			if gone(a) {
				delete(down, a)
			}
		}
	}
	next := 0
	for _, a := range joining {
		for next < len(slots) && slots[next] != "" {
			next++
		}
		if next < len(slots) {
			slots[next] = a
		} else if len(slots) < MaxSlots {
			slots = append(slots, a)
		}
	}
	return r.rebuild(slots, down)
}
