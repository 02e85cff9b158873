package loader_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachetier/cachetier/loader"
)

// A Func turns any function into a Loader; ErrNotFound marks a key the origin
// does not have (cacheclient caches that as a negative entry).
func ExampleFunc() {
	users := map[string]string{"42": "Ada"}
	l := loader.Func(func(ctx context.Context, key string) (loader.Result, error) {
		name, ok := users[key]
		if !ok {
			return loader.Result{}, loader.ErrNotFound
		}
		return loader.Result{Value: []byte(name), TTL: time.Minute}, nil
	})
	res, err := l.Load(context.Background(), "42")
	fmt.Println(string(res.Value), res.TTL, err)
	_, err = l.Load(context.Background(), "7")
	fmt.Println(errors.Is(err, loader.ErrNotFound))
	// Output:
	// Ada 1m0s <nil>
	// true
}

// A herd of concurrent misses for one key costs a single origin load.
func ExampleGroup() {
	var g loader.Group[loader.Result]
	var originCalls atomic.Int64
	release := make(chan struct{})
	load := func(ctx context.Context) (loader.Result, error) {
		originCalls.Add(1)
		<-release // a slow origin
		return loader.Result{Value: []byte("hot value")}, nil
	}

	var wg sync.WaitGroup
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g.Do(context.Background(), "hot-key", 5*time.Second, load)
		}()
	}
	for g.Waiting() < 100 { // wait until the whole herd shares the flight
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	fmt.Println("origin calls:", originCalls.Load())
	// Output:
	// origin calls: 1
}

// A Limiter sheds loads beyond the origin's capacity instead of queueing
// them: TryAcquire answers at once.
func ExampleLimiter() {
	lim := loader.NewLimiter(1, 0, 0) // one load at a time
	release, ok := lim.TryAcquire()
	fmt.Println("first load allowed:", ok)
	_, ok = lim.TryAcquire() // the origin is busy
	fmt.Println("second load allowed:", ok)
	release()
	_, ok = lim.TryAcquire()
	fmt.Println("after release:", ok, "refused so far:", lim.Refused())
	// Output:
	// first load allowed: true
	// second load allowed: false
	// after release: true refused so far: 1
}

// HTTP loads keys from an origin speaking HTTP; Cache-Control max-age sets the
// entry's TTL.
func ExampleHTTP() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.EscapedPath() == "/items/missing" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "max-age=30")
		fmt.Fprintf(w, "item at %s", r.URL.EscapedPath())
	}))
	defer srv.Close()

	h := &loader.HTTP{Base: srv.URL + "/items/", Client: srv.Client()}
	res, err := h.Load(context.Background(), "a/b")
	fmt.Println(string(res.Value), res.TTL, err)
	_, err = h.Load(context.Background(), "missing")
	fmt.Println(errors.Is(err, loader.ErrNotFound))
	// Output:
	// item at /items/a%2Fb 30s <nil>
	// true
}

// Parallel makes a BatchLoader of a single-key Loader: the keys of one call
// are loaded with at most n loads at a time, each key with its own outcome.
func ExampleParallel() {
	users := map[string]string{"1": "Ada", "2": "Grace"}
	one := loader.Func(func(ctx context.Context, key string) (loader.Result, error) {
		name, ok := users[key]
		if !ok {
			return loader.Result{}, loader.ErrNotFound
		}
		return loader.Result{Value: []byte(name)}, nil
	})
	res, _ := loader.Parallel(one, 4).LoadMany(context.Background(), []string{"1", "3", "2"})
	for _, r := range res {
		fmt.Printf("%q %v\n", r.Value, r.Err)
	}
	// Output:
	// "Ada" <nil>
	// "" loader: not found
	// "Grace" <nil>
}

// HTTPBatch POSTs the keys as {"keys": [...]} and reads a JSON object keyed
// by key; an absent or null member is loader.ErrNotFound.
func ExampleHTTPBatch() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=30")
		_, _ = w.Write([]byte(`{"user:1": {"name": "Ada"}, "user:2": null}`))
	}))
	defer srv.Close()
	l := &loader.HTTPBatch{URL: srv.URL + "/users/many"}
	res, err := l.LoadMany(context.Background(), []string{"user:1", "user:2"})
	fmt.Println(err)
	fmt.Println(string(res[0].Value), res[0].TTL)
	fmt.Println(res[1].Err)
	// Output:
	// <nil>
	// {"name": "Ada"} 30s
	// loader: not found
}
