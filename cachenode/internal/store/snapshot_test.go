package store

import (
	"fmt"
	"testing"
	"time"
)

func TestSnapshotCopyRestore(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_000)
	clock := func() time.Time { return now }
	src := New(Config{Shards: 8, Now: clock})
	defer src.Close()
	src.syncResizeMax = 16 // exercise copying during incremental resizes
	want := map[string]int64{}
	for i := 0; i < 3000; i++ {
		k := fmt.Sprintf("key:%d", i)
		var exp int64
		switch i % 3 {
		case 1:
			exp = now.UnixMilli() + int64(i)
		case 2:
			exp = now.UnixMilli() - 1 // expired: not copied
		}
		src.Set([]byte(k), []byte("v"+k), SetArgs{ExpireAt: exp}, nil)
		if i%3 != 2 {
			want[k] = exp
		}
	}
	big := make([]byte, 200<<10) // a large entry
	src.Set([]byte("big"), big, SetArgs{}, nil)
	want["big"] = 0

	dst := New(Config{Shards: 3, Now: clock})
	defer dst.Close()
	var c ShardCopy
	keys, expires := 0, 0
	for i := 0; i < src.ShardCount(); i++ {
		src.CopyShard(i, &c)
		keys += c.Len()
		expires += c.Expires()
		err := c.Each(func(k, v []byte, exp int64) error {
			if w, ok := want[string(k)]; !ok || w != exp {
				return fmt.Errorf("key %q exp %d: want present with exp %d (%v)", k, exp, w, ok)
			}
			if !dst.Restore(k, v, exp) {
				return fmt.Errorf("restore %q refused", k)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if keys != len(want) || dst.Len() != len(want) {
		t.Fatalf("copied %d keys, restored %d, want %d", keys, dst.Len(), len(want))
	}
	if expires != 1000 {
		t.Fatalf("expires %d, want 1000", expires)
	}
	for k, exp := range want {
		v, e, ok := dst.Peek(nil, []byte(k))
		if !ok || e != exp || (k != "big" && string(v) != "v"+k) || (k == "big" && len(v) != len(big)) {
			t.Fatalf("key %q: %q %d %v", k, v, e, ok)
		}
	}
	if dst.Restore([]byte("gone"), []byte("x"), now.UnixMilli()-1) || dst.Exists([]byte("gone")) {
		t.Fatal("an expired key was restored")
	}
}

// BenchmarkCopyShard measures the longest a save holds a shard's lock: the
// copy of one shard of a store of 1M keys with 100-byte values (256 shards).
func BenchmarkCopyShard(b *testing.B) {
	s := New(Config{})
	defer s.Close()
	v := make([]byte, 100)
	for i := 0; i < 1_000_000; i++ {
		s.Set([]byte(fmt.Sprintf("key:%07d", i)), v, SetArgs{}, nil)
	}
	var c ShardCopy
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.CopyShard(i%s.ShardCount(), &c)
	}
	b.SetBytes(int64(c.Bytes()))
}
