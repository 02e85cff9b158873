package cacheclient_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cachetier/cachetier/cacheclient"
	"github.com/cachetier/cachetier/loader"
)

// A client with no nodes is an in-process cache that coalesces and limits
// origin loads. Add Config.Tier.Addrs (or Config.Discovery) to share a node
// tier.
func Example() {
	c, err := cacheclient.New(cacheclient.Config{
		TTL:         time.Minute,
		StaleTTL:    10 * time.Minute,
		NegativeTTL: 5 * time.Second,
	})
	if err != nil {
		panic(err)
	}
	defer c.Close()

	// The origin: a database, a service... here a map.
	db := map[string]string{"user:1": "Ann", "user:2": "Bob"}
	origin := loader.Func(func(ctx context.Context, key string) (loader.Result, error) {
		v, ok := db[key]
		if !ok {
			return loader.Result{}, loader.ErrNotFound
		}
		return loader.Result{Value: []byte(v)}, nil
	})

	ctx := context.Background()
	for i := 0; i < 2; i++ {
		v, info, err := c.GetInfo(ctx, "user:1", origin)
		fmt.Println(string(v), info.Source, err)
	}
	_, err = c.Get(ctx, "user:3", origin)
	fmt.Println(errors.Is(err, loader.ErrNotFound))
	// Output:
	// Ann origin <nil>
	// Ann l1 <nil>
	// true
}

// When the origin fails, a stale value inside its window is served instead of
// the error.
func ExampleClient_GetInfo_stale() {
	c, _ := cacheclient.New(cacheclient.Config{TTL: 10 * time.Millisecond, StaleTTL: time.Hour})
	defer c.Close()
	up := true
	origin := loader.Func(func(ctx context.Context, key string) (loader.Result, error) {
		if !up {
			return loader.Result{}, errors.New("database down")
		}
		return loader.Result{Value: []byte("42")}, nil
	})
	ctx := context.Background()
	_, _ = c.Get(ctx, "answer", origin)
	up = false
	time.Sleep(100 * time.Millisecond) // past the fresh window
	v, info, err := c.GetInfo(ctx, "answer", origin)
	fmt.Println(string(v), info.Stale, err)
	_, err = c.Get(ctx, "question", origin)
	fmt.Println(err)
	// Output:
	// 42 true <nil>
	// cacheclient: load "question": database down
}

// Typed stores Go values through a codec (JSON by default).
func ExampleTyped() {
	type User struct {
		Name string `json:"name"`
	}
	c, _ := cacheclient.New(cacheclient.Config{})
	defer c.Close()
	users := cacheclient.NewTyped[User](c, nil)
	u, err := users.Get(context.Background(), "user:1",
		func(ctx context.Context, key string) (User, time.Duration, error) {
			return User{Name: "Ann"}, time.Minute, nil
		})
	fmt.Println(u.Name, err)
	// Output: Ann <nil>
}

// After an origin failure, loads of the key do not reach the origin for a
// while (Config.ErrorBackoff): without a stale value they fail at once.
func ExampleConfig_errorBackoff() {
	c, err := cacheclient.New(cacheclient.Config{Origin: cacheclient.OriginConfig{ErrorBackoff: time.Minute}})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	errDown := errors.New("database down")
	calls := 0
	origin := loader.Func(func(ctx context.Context, key string) (loader.Result, error) {
		calls++
		return loader.Result{}, errDown
	})
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		_, err := c.Get(ctx, "user:1", origin)
		fmt.Println(errors.Is(err, errDown), errors.Is(err, cacheclient.ErrOriginBackoff))
	}
	fmt.Println("origin calls:", calls, "suppressed:", c.Stats().BackoffSuppressed)
	// Output:
	// true false
	// true true
	// true true
	// origin calls: 1 suppressed: 2
}

// AppendGet appends the value to a buffer the caller reuses: an L1 hit then
// allocates nothing.
func ExampleClient_AppendGet() {
	c, _ := cacheclient.New(cacheclient.Config{})
	defer c.Close()
	ctx := context.Background()
	_ = c.Set(ctx, "greeting", []byte("hello"), time.Minute)

	buf := make([]byte, 0, 256) // room for the value and its 19-byte header
	for i := 0; i < 2; i++ {
		v, info, err := c.AppendGet(ctx, buf[:0], "greeting", nil)
		fmt.Println(string(v), info.Source, err)
	}
	// Output:
	// hello l1 <nil>
	// hello l1 <nil>
}

// Every origin failure without a stale value to serve is a *LoadError; a
// shed request is ErrShed.
func ExampleLoadError() {
	c, _ := cacheclient.New(cacheclient.Config{})
	defer c.Close()
	errDown := errors.New("database down")
	origin := loader.Func(func(ctx context.Context, key string) (loader.Result, error) {
		return loader.Result{}, errDown
	})
	_, err := c.Get(context.Background(), "user:1", origin)
	var le *cacheclient.LoadError
	if errors.As(err, &le) {
		fmt.Println(le.Key, le.Err, errors.Is(err, errDown))
	}
	// Output:
	// user:1 database down true
}

// Clients that share one loader.Limiter share its budget: the origin sees at
// most its limit from all of them together. A refused load is shed.
func ExampleOriginConfig_limiter() {
	lim := loader.NewLimiter(1, 0, 0) // one origin load at a time, process-wide
	a, _ := cacheclient.New(cacheclient.Config{Origin: cacheclient.OriginConfig{Limiter: lim}})
	defer a.Close()
	b, _ := cacheclient.New(cacheclient.Config{Origin: cacheclient.OriginConfig{Limiter: lim}})
	defer b.Close()

	entered, release := make(chan struct{}), make(chan struct{})
	slow := loader.Func(func(ctx context.Context, key string) (loader.Result, error) {
		close(entered)
		<-release
		return loader.Result{Value: []byte("v")}, nil
	})
	done := make(chan error)
	go func() {
		_, err := a.Get(context.Background(), "k1", slow)
		done <- err
	}()
	<-entered // a's load holds the only permit
	_, err := b.Get(context.Background(), "k2", slow)
	fmt.Println(errors.Is(err, cacheclient.ErrShed))
	close(release)
	fmt.Println(<-done)
	// Output:
	// true
	// <nil>
}

// GetMany answers a page's keys at once: L1, then one pipelined round trip
// per node, then one LoadMany for the keys the origin must supply. Each key
// has its own answer and error.
func ExampleClient_GetMany() {
	c, err := cacheclient.New(cacheclient.Config{TTL: time.Minute, NegativeTTL: 5 * time.Second})
	if err != nil {
		panic(err)
	}
	defer c.Close()

	db := map[string]string{"user:1": "Ann", "user:2": "Bob"}
	var calls int
	origin := loader.BatchFunc(func(ctx context.Context, keys []string) ([]loader.KeyResult, error) {
		calls++
		res := make([]loader.KeyResult, len(keys))
		for i, k := range keys {
			if v, ok := db[k]; ok {
				res[i].Value = []byte(v)
			} else {
				res[i].Err = loader.ErrNotFound
			}
		}
		return res, nil
	})

	ctx := context.Background()
	keys := []string{"user:1", "user:2", "user:3"}
	for _, it := range c.GetMany(ctx, keys, origin) {
		fmt.Println(string(it.Value), it.Info.Source, it.Err)
	}
	for _, it := range c.GetMany(ctx, keys, origin) {
		fmt.Println(string(it.Value), it.Info.Source, errors.Is(it.Err, loader.ErrNotFound))
	}
	fmt.Println("origin calls:", calls)
	// Output:
	// Ann origin <nil>
	// Bob origin <nil>
	//  origin loader: not found
	// Ann l1 false
	// Bob l1 false
	//  l1 true
	// origin calls: 1
}

// A single-key Loader serves GetMany through loader.Parallel (at most n
// loads at a time).
func ExampleClient_GetMany_parallel() {
	c, _ := cacheclient.New(cacheclient.Config{TTL: time.Minute})
	defer c.Close()
	one := loader.Func(func(ctx context.Context, key string) (loader.Result, error) {
		return loader.Result{Value: []byte("v:" + key)}, nil
	})
	for _, it := range c.GetMany(context.Background(), []string{"a", "b"}, loader.Parallel(one, 4)) {
		fmt.Println(string(it.Value), it.Err)
	}
	// Output:
	// v:a <nil>
	// v:b <nil>
}
