package cacheclient_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/cachetier/cachetier/cacheclient"
)

// A Discoverer reports the node set; Membership.Build turns each report into
// the ring to publish, moving as few keys as possible.
func ExampleStatic() {
	ctx, cancel := context.WithCancel(context.Background())
	d := cacheclient.Static("127.0.0.1:7001", "127.0.0.1:7002", "127.0.0.1:7003")
	_ = d.Watch(ctx, func(m cacheclient.Membership) {
		r := m.Build(nil)
		fmt.Println(m.Addrs, r)
		cancel() // a real client keeps watching until it closes
	})
	// Output:
	// [127.0.0.1:7001 127.0.0.1:7002 127.0.0.1:7003] 127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003
}

// Membership.Build applies a changed node list to the current ring: the node
// that left gives up only its own keys, and the newcomer takes its slot.
func ExampleMembership_Build() {
	before := cacheclient.Membership{Addrs: []string{"a:7000", "b:7000", "c:7000"}}.Build(nil)
	after := cacheclient.Membership{Addrs: []string{"a:7000", "c:7000", "d:7000"}}.Build(before)
	fmt.Println(before)
	fmt.Println(after)
	// Output:
	// a:7000,b:7000,c:7000
	// a:7000,d:7000,c:7000
}

// A SlotFile publishes the operator's slot table and reloads it on change.
func ExampleSlotFile() {
	dir, err := os.MkdirTemp("", "slots")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "slots.txt")
	os.WriteFile(path, []byte("# the tier, in join order\n127.0.0.1:7001, 127.0.0.1:7002*2\n"), 0o644)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sf := &cacheclient.SlotFile{Path: path, Interval: 10 * time.Millisecond}
	updates := 0
	sf.Watch(ctx, func(m cacheclient.Membership) {
		updates++
		fmt.Println(m.Addrs, m.Ring)
		if updates == 1 {
			// Operators replace the file atomically: write, then rename.
			os.WriteFile(path+".tmp", []byte("127.0.0.1:7001,127.0.0.1:7002*2,127.0.0.1:7003"), 0o644)
			os.Rename(path+".tmp", path)
			return
		}
		cancel()
	})
	// Output:
	// [127.0.0.1:7001 127.0.0.1:7002] 127.0.0.1:7001,127.0.0.1:7002*2
	// [127.0.0.1:7001 127.0.0.1:7002 127.0.0.1:7003] 127.0.0.1:7001,127.0.0.1:7002*2,127.0.0.1:7003
}
