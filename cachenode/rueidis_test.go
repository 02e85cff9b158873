package cachenode

import (
	"testing"

	"github.com/redis/rueidis"
)

// TestRueidis: rueidis, a Go client that turns client-side caching on by
// default (RESP3, CLIENT TRACKING ON OPTIN at connect), connects to
// cachenode with its default options and runs commands. Its cached reads
// (DoCache) wrap the read in MULTI/EXEC, which cachenode does not
// implement: they fail with an error, never with a stale value.
func TestRueidis(t *testing.T) {
	s := startServer(t, Config{})
	cl, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{s.Addr().String()}, DisableRetry: true})
	if err != nil {
		t.Fatalf("rueidis.NewClient (CLIENT TRACKING at connect): %v", err)
	}
	defer cl.Close()
	ctx := ctxT(t)
	if err := cl.Do(ctx, cl.B().Set().Key("rk").Value("v1").Build()).Error(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	if v, err := cl.Do(ctx, cl.B().Get().Key("rk").Build()).ToString(); err != nil || v != "v1" {
		t.Fatalf("GET: %q, %v", v, err)
	}
	if v, err := cl.DoCache(ctx, cl.B().Get().Key("rk").Cache(), 60e9).ToString(); err == nil {
		t.Fatalf("DoCache succeeded (%q): cachenode has no MULTI/EXEC; update this test and the README", v)
	}
}
