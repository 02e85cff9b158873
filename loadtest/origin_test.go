package loadtest

import (
	"bytes"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"
)

func get(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

func TestOriginServesAndCounts(t *testing.T) {
	o, err := StartOrigin(OriginConfig{Latency: time.Millisecond, Jitter: -1, ValueSize: 32})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	for i := 0; i < 3; i++ {
		code, b := get(t, o.URL()+"a")
		if code != 200 || !bytes.Equal(b, Value("a", 32)) {
			t.Fatalf("GET a = %d %q", code, b)
		}
	}
	get(t, o.URL()+"b")
	o.SetDown(true)
	if code, _ := get(t, o.URL()+"b"); code != http.StatusServiceUnavailable {
		t.Fatalf("down origin answered %d, want 503", code)
	}
	o.SetDown(false)
	o.SetErrorRate(1)
	if code, _ := get(t, o.URL()+"c"); code != http.StatusInternalServerError {
		t.Fatalf("error rate 1 answered %d, want 500", code)
	}
	o.SetErrorRate(0)

	st := o.Stats()
	if st.Calls != 6 || st.Failed != 2 || st.Keys != 3 || st.MaxCallsPerKey != 3 {
		t.Fatalf("stats = %+v, want 6 calls, 2 failed, 3 keys, max 3 per key", st)
	}
	if pk := o.CallsPerKey(); pk["a"] != 3 || pk["b"] != 2 || pk["c"] != 1 {
		t.Fatalf("per key = %v", pk)
	}
	_, calls, failed, reloads := o.Timeline()
	var n, f, rl int64
	for i := range calls {
		n, f, rl = n+calls[i], f+failed[i], rl+reloads[i]
	}
	if n != 6 || f != 2 || rl != 3 {
		t.Fatalf("timeline sums: %d calls %d failed %d reloads, want 6, 2 and 3 (a twice, b once)", n, f, rl)
	}
	if got := o.Reloads(); len(got) != 0 {
		t.Fatalf("reloads kept before KeepReloads: %v", got)
	}
	o.KeepReloads()
	get(t, o.URL()+"d")
	get(t, o.URL()+"a")
	if got := o.Reloads(); len(got) != 1 || got[0].Key != "a" || got[0].At <= 0 {
		t.Fatalf("reloads kept = %v, want one of a", got)
	}
}

func TestOriginCapacity(t *testing.T) {
	o, err := StartOrigin(OriginConfig{Latency: 300 * time.Millisecond, Jitter: -1, Capacity: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	const n = 8 // > 2×capacity: some must be refused
	codes := make(chan int, n)
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 0}}
	defer client.CloseIdleConnections()
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Get(o.URL() + "k")
			if err != nil {
				codes <- 0
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	wg.Wait()
	close(codes)
	var ok, refused int
	for c := range codes {
		switch c {
		case 200:
			ok++
		case 503:
			refused++
		default:
			t.Errorf("unexpected status %d", c)
		}
	}
	if st := o.Stats(); st.PeakConcurrency < 5 {
		// All 8 arrive within the 300ms service time of the first.
		t.Logf("peak concurrency only %d (slow machine?)", st.PeakConcurrency)
	} else if refused == 0 {
		t.Fatalf("peak concurrency %d > 2×capacity but nothing refused (ok=%d)", st.PeakConcurrency, ok)
	}
	if ok < 2 {
		t.Fatalf("only %d calls served, want at least capacity (2)", ok)
	}
}

func TestValue(t *testing.T) {
	v := Value("key", 10)
	if string(v) != "key|efghij" || !validValue("key", v, 10) || validValue("kex", v, 10) {
		t.Fatalf("Value = %q", v)
	}
	if v := Value("longkey", 3); string(v) != "longkey|" || !validValue("longkey", v, 0) {
		t.Fatalf("short Value = %q", v)
	}
}
