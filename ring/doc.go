// Package ring places cache keys on nodes so that every client process
// sends a key to the same node and a change of membership moves as few keys
// as possible.
//
// # Slot table
//
// A Ring is a table of slots. Slot i is owned by a node address, or is
// vacant (a tombstone left by a node that left the middle of the table).
// Slots are never renumbered: a key is first placed on a slot number, and
// the slot's address is the key's node. A node of weight w owns w slots.
//
// Nodes that know their slot (cachenode --slot, a StatefulSet ordinal, an
// operator's "addr=slot") make the table with FromClaims: each node at its
// slot, unclaimed slots vacant, so the table depends only on which nodes
// claim which slots, never on the order they were met in. Dead slots after
// the last live one do not count in its lookups, so a node that is down and
// one that is absent place keys alike. SlotFromHostname is the ordinal rule
// that nodes and clients share.
//
// A configured list of addresses becomes a table in list order: New("a",
// "b", "c") gives slot 0 to a, 1 to b, 2 to c. That order is the join order,
// so keep it: appending a node at the end of the list is a scale-out that
// moves only the keys the new node takes; reordering the list moves most
// keys. The table has a compact text form (see String and Parse) that
// operators can keep in a config file or a discovery record, e.g.
//
//	10.0.0.1:7001,10.0.0.2:7001*2,-,10.0.0.4:7001 down=10.0.0.4:7001
//
// where an entry may also name its slot: "10.0.0.1:7001=0,10.0.0.4:7001=3".
//
// # Lookup
//
// A key is hashed with xxhash64 (only its {hashtag} part, when it has one,
// by the Redis Cluster rule, so related keys can share a node). Jump
// consistent hash (Lamping & Veach, 2014) maps the hash to a slot. A slot is
// dead when it is vacant or its node is marked down; while the chosen slot
// is dead, the hash is remixed (splitmix64) and jumped again. After 32
// remixes the key falls back to rendezvous hashing over the live slots.
//
// The slots a key tries form a fixed sequence that depends only on the key
// and the number of slots, and the key's owner is the first live slot in it.
// So placement depends only on which slots are dead, never on the order in
// which they died: clients that detect failures independently agree. Marking
// a node down moves only that node's keys, spread evenly over the
// survivors; marking it up again moves exactly those keys back. Owners
// returns the next distinct live nodes of the same sequence, so a key's
// second owner is the node that takes it over if the first fails.
//
// # Membership changes
//
// A Ring is immutable: Join, Leave, Replace, WithDown and WithUp return a
// new Ring (or the receiver when nothing changes). Callers publish the
// current ring with an atomic.Pointer; lookups take no lock and allocate
// nothing.
//
//   - Join fills the lowest vacant slot first, else appends a slot. Adding a
//     node to N occupied slots moves about 1/(N+1) of the keys, all of them
//     to the new node.
//   - Replace gives a failed node's slots to a new address, so the keys the
//     failed node owned go to its replacement and no other key moves.
//   - Leave drops the node's trailing slots (if it is live) or tombstones
//     them; either way only its keys move, spread over the survivors.
package ring
