package store_test

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/cachetier/cachetier/cachenode/internal/store"
)

func Example() {
	s := store.New(store.Config{MaxMemory: 64 << 20}) // allkeys-lru by default
	defer s.Close()

	// SET greeting hello EX 60
	exp := time.Now().Add(time.Minute).UnixMilli()
	s.Set([]byte("greeting"), []byte("hello"), store.SetArgs{ExpireAt: exp}, nil)

	// GET greeting, appending to a reusable buffer.
	buf := make([]byte, 0, 64)
	buf, ok := s.Get(buf[:0], []byte("greeting"))
	fmt.Println(string(buf), ok)

	// SET greeting hi NX GET: not written, returns the old value.
	prev, hadPrev, written := s.Set([]byte("greeting"), []byte("hi"), store.SetArgs{NX: true, Get: true}, nil)
	fmt.Println(string(prev), hadPrev, written)

	// INCR counter, twice, with Update.
	incr := func(cur []byte, expireAt int64, exists bool) ([]byte, int64, store.Op) {
		n, _ := strconv.ParseInt(string(cur), 10, 64)
		return strconv.AppendInt(nil, n+1, 10), expireAt, store.Put
	}
	s.Update([]byte("counter"), incr)
	s.Update([]byte("counter"), incr)
	v, _ := s.Get(nil, []byte("counter"))
	fmt.Println(string(v))

	// Before a write command, the server makes room (or refuses with -OOM).
	if err := s.EnsureMemory(); errors.Is(err, store.ErrOOM) {
		fmt.Println("OOM")
	}
	fmt.Println(s.Len())
	// Output:
	// hello true
	// hello true false
	// 2
	// 2
}

func ExampleStore_Scan() {
	s := store.New(store.Config{})
	defer s.Close()
	for _, k := range []string{"user:1", "user:2", "order:7"} {
		s.Set([]byte(k), []byte("x"), store.SetArgs{}, nil)
	}
	// SCAN 0 MATCH user:* COUNT 10, until the cursor comes back to 0.
	n := 0
	for cursor := uint64(0); ; {
		cursor = s.Scan(cursor, 10, func(key []byte, expireAt int64) {
			if store.Match([]byte("user:*"), key, false) {
				n++
			}
		})
		if cursor == 0 {
			break
		}
	}
	fmt.Println(n)
	// Output: 2
}

func ExampleParsePolicy() {
	p, err := store.ParsePolicy("volatile-ttl")
	fmt.Println(p, err)
	_, err = store.ParsePolicy("lfu")
	fmt.Println(err)
	// Output:
	// volatile-ttl <nil>
	// store: unknown maxmemory policy: "lfu"
}
