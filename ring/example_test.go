package ring_test

import (
	"fmt"
	"sync/atomic"

	"github.com/cachetier/cachetier/ring"
)

func Example() {
	// The configured list is the join order: keep it, append new nodes.
	r := ring.New("10.0.0.1:7001", "10.0.0.2:7001", "10.0.0.3:7001")

	// Publish the current ring; lookups take no lock.
	var current atomic.Pointer[ring.Ring]
	current.Store(r)

	addr, ok := current.Load().Owner("user:42")
	fmt.Println(ok, r.Has(addr))

	// A node fails: only its keys move, and they come back when it does.
	down := r.WithDown("10.0.0.2:7001")
	current.Store(down)
	fmt.Println(down)
	back := down.WithUp("10.0.0.2:7001")
	fmt.Println(back.Equal(r))
	// Output:
	// true true
	// 10.0.0.1:7001,10.0.0.2:7001,10.0.0.3:7001 down=10.0.0.2:7001
	// true
}

func ExampleRing_Owners() {
	r := ring.New("a:7001", "b:7001", "c:7001")
	owners := r.Owners("session:9", 2, nil)
	// The second owner is where the key goes if the first fails.
	next, _ := r.WithDown(owners[0]).Owner("session:9")
	fmt.Println(len(owners), owners[1] == next)
	// Output:
	// 2 true
}

func ExampleRing_Join() {
	r := ring.New("a:7001", "b:7001", "c:7001", "d:7001")
	grown := r.Join("e:7001", 1)
	fmt.Println(grown)

	// Every key that moves, moves to the new node.
	moved, wrong := 0, 0
	for i := range 10000 {
		key := fmt.Sprint("key:", i)
		before, _ := r.Owner(key)
		after, _ := grown.Owner(key)
		if before != after {
			moved++
			if after != "e:7001" {
				wrong++
			}
		}
	}
	fmt.Println(moved > 1800 && moved < 2200, wrong)
	// Output:
	// a:7001,b:7001,c:7001,d:7001,e:7001
	// true 0
}

func ExampleRing_Replace() {
	r := ring.New("a:7001", "b:7001", "c:7001").WithDown("b:7001")
	// b's replacement takes its slot, so b's keys come back to it.
	fmt.Println(r.Replace("b:7001", "b2:7001"))
	// Output:
	// a:7001,b2:7001,c:7001
}

func ExampleParse() {
	r, err := ring.Parse(`
		# slot table, in join order
		10.0.0.1:7001, 10.0.0.2:7001*2   # weight 2
		-                                # vacant: 10.0.0.3 left
		10.0.0.4:7001
		down=10.0.0.4:7001`)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.Len(), r.Nodes(), r.Down())
	fmt.Println(r)
	_, err = ring.Parse("a:7001,,b:7001")
	fmt.Println(err)
	// Output:
	// 5 [10.0.0.1:7001 10.0.0.2:7001 10.0.0.4:7001] [10.0.0.4:7001]
	// 10.0.0.1:7001,10.0.0.2:7001*2,-,10.0.0.4:7001 down=10.0.0.4:7001
	// ring: syntax error: empty slot entry (write - for a vacant slot)
}

func ExampleHashKey() {
	// Keys with the same {hashtag} share a node, as in Redis Cluster.
	fmt.Println(ring.HashKey("{user:1}:profile") == ring.HashKey("{user:1}:friends"))
	fmt.Println(ring.HashKey("{}user:1") == ring.HashKey("user:1"))
	// Output:
	// true
	// false
}

func ExampleRing_Leave() {
	r := ring.New("a:7001", "b:7001", "c:7001", "d:7001")
	// The last node's slot is dropped; a middle node's slot becomes vacant
	// and the next node to join takes it over.
	fmt.Println(r.Leave("d:7001"))
	fmt.Println(r.Leave("b:7001"))
	fmt.Println(r.Leave("b:7001").Join("e:7001", 1))
	// Output:
	// a:7001,b:7001,c:7001
	// a:7001,-,c:7001,d:7001
	// a:7001,e:7001,c:7001,d:7001
}

func ExampleRing_WithNodes() {
	r := ring.New("a:7001", "b:7001", "c:7001").WithDown("c:7001")
	// Discovery now reports b, c and d: a leaves, d joins its vacant slot,
	// c stays down.
	fmt.Println(r.WithNodes("b:7001", "c:7001", "d:7001"))
	// Output:
	// d:7001,b:7001,c:7001 down=c:7001
}

func ExampleNewWeighted() {
	r := ring.NewWeighted(
		ring.Node{Addr: "small:7001", Weight: 1},
		ring.Node{Addr: "big:7001", Weight: 3},
	)
	fmt.Println(r, r.Len())
	// Output:
	// small:7001,big:7001*3 4
}

func ExampleFromClaims() {
	// Nodes that know their slots, met in any order; slot 1 has no node.
	r, lost := ring.FromClaims(
		ring.Claim{Addr: "cache-3:7000", Slot: 3},
		ring.Claim{Addr: "cache-0:7000", Slot: 0},
		ring.Claim{Addr: "cache-2:7000", Slot: 2},
	)
	fmt.Println(r, len(lost))
	same, _ := ring.FromClaims(
		ring.Claim{Addr: "cache-0:7000", Slot: 0},
		ring.Claim{Addr: "cache-2:7000", Slot: 2},
		ring.Claim{Addr: "cache-3:7000", Slot: 3},
	)
	fmt.Println(same.Equal(r))
	// The ordinal rule of StatefulSet pods, shared with cachenode --slot auto.
	n, _ := ring.SlotFromHostname("cache-3.cache.prod.svc.cluster.local")
	fmt.Println(n)
	// Output:
	// cache-0:7000,-,cache-2:7000,cache-3:7000 0
	// true
	// 3
}
