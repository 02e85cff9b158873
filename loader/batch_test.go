package loader

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestParallelBoundsAndOrder(t *testing.T) {
	var inFlight, peak atomic.Int64
	l := Func(func(ctx context.Context, key string) (Result, error) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(5 * time.Millisecond)
		switch key {
		case "missing":
			return Result{}, ErrNotFound
		case "boom":
			panic("boom")
		case "bad":
			return Result{}, errors.New("origin failed")
		}
		return Result{Value: []byte("v:" + key), TTL: time.Minute}, nil
	})
	keys := []string{"a", "missing", "b", "boom", "c", "bad", "d", "e", "f", "g"}
	res, err := Parallel(l, 3).LoadMany(context.Background(), keys)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != len(keys) {
		t.Fatalf("%d results for %d keys", len(res), len(keys))
	}
	for i, k := range keys {
		r := res[i]
		switch k {
		case "missing":
			if !errors.Is(r.Err, ErrNotFound) {
				t.Errorf("%s: err %v, want ErrNotFound", k, r.Err)
			}
		case "boom":
			var pe *PanicError
			if !errors.As(r.Err, &pe) {
				t.Errorf("%s: err %v, want *PanicError", k, r.Err)
			}
		case "bad":
			if r.Err == nil || errors.Is(r.Err, ErrNotFound) {
				t.Errorf("%s: err %v, want the origin's failure", k, r.Err)
			}
		default:
			if r.Err != nil || string(r.Value) != "v:"+k || r.TTL != time.Minute {
				t.Errorf("%s: %q %v %v", k, r.Value, r.TTL, r.Err)
			}
		}
	}
	if p := peak.Load(); p > 3 || p < 2 {
		t.Errorf("peak parallel loads %d, want 2..3 (bound 3)", p)
	}
}

func TestParallelCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var calls atomic.Int64
	l := Func(func(ctx context.Context, key string) (Result, error) {
		calls.Add(1)
		cancel()
		<-ctx.Done()
		return Result{}, ctx.Err()
	})
	keys := []string{"a", "b", "c", "d"}
	res, err := Parallel(l, 1).LoadMany(ctx, keys)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if !errors.Is(r.Err, context.Canceled) {
			t.Errorf("key %s: err %v, want context.Canceled", keys[i], r.Err)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("%d loads after cancellation, want 1", n)
	}
}

func TestSingle(t *testing.T) {
	var got [][]string
	b := BatchFunc(func(ctx context.Context, keys []string) ([]KeyResult, error) {
		got = append(got, keys)
		if keys[0] == "gone" {
			return []KeyResult{{Err: ErrNotFound}}, nil
		}
		if keys[0] == "short" {
			return nil, nil
		}
		return []KeyResult{{Result: Result{Value: []byte("x")}}}, nil
	})
	l := Single(b)
	if r, err := l.Load(context.Background(), "k"); err != nil || string(r.Value) != "x" {
		t.Errorf("Load(k) = %q, %v", r.Value, err)
	}
	if _, err := l.Load(context.Background(), "gone"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Load(gone) err %v, want ErrNotFound", err)
	}
	if _, err := l.Load(context.Background(), "short"); err == nil {
		t.Error("Load(short) with no result: no error")
	}
	if len(got) != 3 || len(got[0]) != 1 {
		t.Errorf("calls %v", got)
	}
}

// batchOrigin serves POST /many: {"keys": [...]} → a JSON object keyed by key.
type batchOrigin struct {
	mu       sync.Mutex
	requests [][]string
	status   int
}

func (o *batchOrigin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/many" || r.Header.Get("Content-Type") != "application/json" {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	var req struct {
		Keys []string `json:"keys"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	o.mu.Lock()
	o.requests = append(o.requests, req.Keys)
	status := o.status
	o.mu.Unlock()
	if status != 0 {
		http.Error(w, "origin overloaded", status)
		return
	}
	out := map[string]any{}
	for _, k := range req.Keys {
		switch k {
		case "null":
			out[k] = nil
		case "absent":
		default:
			out[k] = map[string]string{"id": k}
		}
	}
	w.Header().Set("Cache-Control", "max-age=60")
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

func TestHTTPBatch(t *testing.T) {
	o := &batchOrigin{}
	srv := httptest.NewServer(o)
	defer srv.Close()
	h := &HTTPBatch{URL: srv.URL + "/many", MaxKeys: 2}
	keys := []string{"a", "null", "b/c d", "absent", "e"}
	res, err := h.LoadMany(context.Background(), keys)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != len(keys) {
		t.Fatalf("%d results for %d keys", len(res), len(keys))
	}
	for i, k := range keys {
		r := res[i]
		if k == "null" || k == "absent" {
			if !errors.Is(r.Err, ErrNotFound) {
				t.Errorf("%s: err %v, want ErrNotFound", k, r.Err)
			}
			continue
		}
		if want := fmt.Sprintf(`{"id":%q}`, k); r.Err != nil || string(r.Value) != want || r.TTL != time.Minute {
			t.Errorf("%s: %s %v %v, want %s 1m0s", k, r.Value, r.TTL, r.Err, want)
		}
	}
	if len(o.requests) != 3 || len(o.requests[0]) != 2 || len(o.requests[2]) != 1 {
		t.Errorf("requests %v, want 3 of at most 2 keys", o.requests)
	}

	o.status = http.StatusServiceUnavailable
	_, err = h.LoadMany(context.Background(), []string{"a"})
	var se *StatusError
	if !errors.As(err, &se) || se.Code != http.StatusServiceUnavailable {
		t.Errorf("err %v, want a *StatusError 503", err)
	}
}

func TestHTTPBatchNotAnObject(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`["a"]`))
	}))
	defer srv.Close()
	if _, err := (&HTTPBatch{URL: srv.URL}).LoadMany(context.Background(), []string{"a"}); err == nil {
		t.Error("a JSON array answer: no error")
	}
}
