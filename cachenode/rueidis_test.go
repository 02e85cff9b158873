// Test with rueidis's client-side cache.

package cachenode

import (
	"testing"
	"time"

	"github.com/redis/rueidis"
)

// TestRueidisClientSideCache: rueidis, a Go client that turns client-side
// caching on by default (RESP3, CLIENT TRACKING ON OPTIN at connect; cached
// reads as CLIENT CACHING yes + MULTI PTTL GET EXEC), works against
// cachenode unchanged: a repeated cached GET is served locally, and another
// client's write reaches it as an invalidation.
func TestRueidisClientSideCache(t *testing.T) {
	s := startServer(t, Config{})
	cl, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{s.Addr().String()}, DisableRetry: true})
	if err != nil {
		t.Fatalf("rueidis.NewClient (CLIENT TRACKING at connect): %v", err)
	}
	defer cl.Close()
	other := newClient(t, s.Addr().String(), nil)
	ctx := ctxT(t)
	if err := other.Set(ctx, "rk", "v1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	get := func() rueidis.RedisResult {
		return cl.DoCache(ctx, cl.B().Get().Key("rk").Cache(), time.Minute)
	}
	if v, err := get().ToString(); err != nil || v != "v1" {
		t.Fatalf("first cached GET: %q, %v", v, err)
	}
	r := get()
	if v, err := r.ToString(); err != nil || v != "v1" || !r.IsCacheHit() {
		t.Fatalf("second cached GET: %q, %v, cache hit %v", v, err, r.IsCacheHit())
	}
	if err := other.Set(ctx, "rk", "v2", 0).Err(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		v, err := get().ToString()
		if err == nil && v == "v2" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still %q, %v 5 s after another client wrote v2: no invalidation", v, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
