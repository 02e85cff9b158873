package loader

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// origin is a tiny HTTP origin on loopback that serves /items/<key>.
type origin struct {
	mu    sync.Mutex
	paths []string // escaped paths requested
	hdrs  []http.Header
}

func (o *origin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	o.paths = append(o.paths, r.URL.EscapedPath())
	o.hdrs = append(o.hdrs, r.Header.Clone())
	o.mu.Unlock()
	seg, ok := strings.CutPrefix(r.URL.EscapedPath(), "/items/")
	if !ok {
		http.Error(w, "bad prefix", http.StatusBadRequest)
		return
	}
	key, err := url.PathUnescape(seg)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	switch {
	case key == "missing":
		http.NotFound(w, r)
	case key == "broken":
		http.Error(w, "database on fire", http.StatusInternalServerError)
	case key == "busy":
		w.WriteHeader(http.StatusServiceUnavailable)
	case key == "slow":
		select {
		case <-r.Context().Done():
		case <-time.After(30 * time.Second):
		}
	case key == "big":
		w.Header().Set("Content-Length", "2000")
		w.Write(make([]byte, 2000))
	case key == "big-chunked":
		for range 20 {
			w.Write(make([]byte, 100))
			w.(http.Flusher).Flush()
		}
	case key == "cached":
		w.Header().Set("Cache-Control", "public, max-age=60")
		w.Header().Set("Age", "10")
		fmt.Fprint(w, "cached-value")
	case key == "empty":
		// 200 with an empty body
	default:
		fmt.Fprintf(w, "value of %s", key)
	}
}

func newOrigin(t *testing.T) (*origin, *httptest.Server) {
	t.Helper()
	o := &origin{}
	srv := httptest.NewServer(o)
	t.Cleanup(srv.Close)
	return o, srv
}

func TestHTTPResponses(t *testing.T) {
	_, srv := newOrigin(t)
	h := &HTTP{Base: srv.URL + "/items/", Client: srv.Client(), MaxBytes: 1000}
	ctx := context.Background()

	res, err := h.Load(ctx, "alpha")
	if err != nil || string(res.Value) != "value of alpha" || res.TTL != 0 {
		t.Fatalf("alpha: %q ttl %v err %v", res.Value, res.TTL, err)
	}
	res, err = h.Load(ctx, "cached")
	if err != nil || string(res.Value) != "cached-value" || res.TTL != 50*time.Second {
		t.Fatalf("cached: %q ttl %v err %v (want max-age 60 minus Age 10)", res.Value, res.TTL, err)
	}
	res, err = h.Load(ctx, "empty")
	if err != nil || len(res.Value) != 0 {
		t.Fatalf("empty: %q %v", res.Value, err)
	}
	if _, err := h.Load(ctx, "missing"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing: %v, want ErrNotFound", err)
	}
	for key, code := range map[string]int{"broken": 500, "busy": 503} {
		_, err := h.Load(ctx, key)
		var se *StatusError
		if !errors.As(err, &se) || se.Code != code {
			t.Fatalf("%s: %v, want *StatusError %d", key, err, code)
		}
		if errors.Is(err, ErrNotFound) {
			t.Fatalf("%s: a server error must not look like not-found", key)
		}
		if key == "broken" && (!strings.Contains(se.Body, "database on fire") || !strings.Contains(err.Error(), "500")) {
			t.Fatalf("broken: error lacks status/body: %v", err)
		}
	}
	for _, key := range []string{"big", "big-chunked"} {
		if _, err := h.Load(ctx, key); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("%s: %v, want ErrTooLarge", key, err)
		}
	}
	unlimited := &HTTP{Base: h.Base, Client: srv.Client(), MaxBytes: -1}
	if res, err := unlimited.Load(ctx, "big-chunked"); err != nil || len(res.Value) != 2000 {
		t.Fatalf("unlimited big-chunked: %d bytes, %v", len(res.Value), err)
	}
}

func TestHTTPEscapesKeys(t *testing.T) {
	o, srv := newOrigin(t)
	h := &HTTP{Base: srv.URL + "/items/", Client: srv.Client()}
	keys := []string{"a/b", "with space", "q?x=1&y=2", "frag#ment", "100%", "ünïcödé/键", "..", "a+b"}
	for _, key := range keys {
		res, err := h.Load(context.Background(), key)
		if err != nil {
			t.Fatalf("%q: %v", key, err)
		}
		if want := "value of " + key; string(res.Value) != want {
			t.Fatalf("%q: origin saw key %q", key, strings.TrimPrefix(string(res.Value), "value of "))
		}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for i, p := range o.paths {
		if strings.Count(p, "/") != 2 {
			t.Errorf("key %q reached the origin as path %q (not one segment)", keys[i], p)
		}
	}
}

func TestHTTPTimeoutAndCancel(t *testing.T) {
	_, srv := newOrigin(t)
	h := &HTTP{Base: srv.URL + "/items/", Client: srv.Client()}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := h.Load(ctx, "slow")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("slow: %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("load took %v past its deadline", d)
	}
	// Client.Timeout works too.
	c := srv.Client()
	c.Timeout = 100 * time.Millisecond
	h2 := &HTTP{Base: h.Base, Client: c}
	if _, err := h2.Load(context.Background(), "slow"); err == nil {
		t.Fatal("Client.Timeout ignored")
	}
}

func TestHTTPDefaultClientHeadersAndBadBase(t *testing.T) {
	o, srv := newOrigin(t)
	defer http.DefaultClient.CloseIdleConnections()
	h := &HTTP{Base: srv.URL + "/items/", Header: http.Header{"Authorization": {"Bearer t0k"}}}
	if _, err := h.Load(context.Background(), "x"); err != nil {
		t.Fatal(err)
	}
	o.mu.Lock()
	got := o.hdrs[0].Get("Authorization")
	o.mu.Unlock()
	if got != "Bearer t0k" {
		t.Fatalf("Authorization header = %q", got)
	}
	bad := &HTTP{Base: "http://[::1"}
	if _, err := bad.Load(context.Background(), "x"); err == nil {
		t.Fatal("bad base URL accepted")
	}
	// Nothing listens on a just-closed port: a connection error, not ErrNotFound.
	down := httptest.NewServer(http.NotFoundHandler())
	addr := down.URL
	down.Close()
	_, err := (&HTTP{Base: addr + "/"}).Load(context.Background(), "x")
	if err == nil || errors.Is(err, ErrNotFound) {
		t.Fatalf("origin down: %v", err)
	}
}

func TestCacheTTL(t *testing.T) {
	for _, tc := range []struct {
		cc, age string
		want    time.Duration
	}{
		{"", "", 0},
		{"max-age=30", "", 30 * time.Second},
		{"public, max-age=30", "5", 25 * time.Second},
		{"max-age=30", "40", 0},
		{"max-age=0", "", 0},
		{"max-age=60, s-maxage=10", "", 10 * time.Second},
		{`max-age="20"`, "", 20 * time.Second},
		{"MAX-AGE=7", "", 7 * time.Second},
		{"no-store, max-age=60", "", 0},
		{"no-cache", "", 0},
		{"max-age=abc", "", 0},
		{"max-age=-5", "", 0},
		{"max-age=99999999999999999999", "", 0},
		{"max-age=9999999999999", "", time.Duration(int64(1<<63-1)/int64(time.Second)) * time.Second},
		{"private, max-age=15", "junk", 15 * time.Second},
	} {
		h := http.Header{}
		if tc.cc != "" {
			h.Set("Cache-Control", tc.cc)
		}
		if tc.age != "" {
			h.Set("Age", tc.age)
		}
		if got := cacheTTL(h); got != tc.want {
			t.Errorf("Cache-Control %q Age %q: TTL %v, want %v", tc.cc, tc.age, got, tc.want)
		}
	}
}

func FuzzCacheTTL(f *testing.F) {
	for _, s := range []string{"max-age=30", "s-maxage=5, max-age=1", "no-store", `max-age="1"`, ",,=,", "max-age=9223372036"} {
		f.Add(s, "3")
	}
	f.Fuzz(func(t *testing.T, cc, age string) {
		h := http.Header{}
		h.Set("Cache-Control", cc)
		h.Set("Age", age)
		if d := cacheTTL(h); d < 0 {
			t.Fatalf("negative TTL %v for %q / %q", d, cc, age)
		}
	})
}

func BenchmarkHTTPLoad(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Write(make([]byte, 256))
	}))
	defer srv.Close()
	h := &HTTP{Base: srv.URL + "/", Client: srv.Client()}
	b.ReportAllocs()
	b.SetBytes(256)
	for b.Loop() {
		if _, err := h.Load(context.Background(), "key"); err != nil {
			b.Fatal(err)
		}
	}
}
