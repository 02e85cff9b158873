package loadtest

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestReadTextTrace(t *testing.T) {
	in := "# comment\nuser:1\nuser:2 730\n\n  user:1   12\nuser:3 9999999999\n"
	got, err := ReadTextTrace(strings.NewReader(in), 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []TraceRequest{{0, 0}, {1, 730}, {0, 12}, {2, maxTraceSize}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("request %d: got %v, want %v", i, got[i], want[i])
		}
	}
	if got, _ := ReadTextTrace(strings.NewReader(in), 2); len(got) != 2 {
		t.Fatalf("max 2: got %d requests", len(got))
	}
	for _, bad := range []string{"a b c\n", "a -1\n", "a 0\n", "a x\n", strings.Repeat("k", maxTraceLine+1)} {
		if _, err := ReadTextTrace(strings.NewReader(bad), 0); !errors.Is(err, ErrTrace) {
			t.Errorf("%.20q: err %v, want ErrTrace", bad, err)
		}
	}
}

func TestReadOracleGeneral(t *testing.T) {
	reqs := []TraceRequest{{7, 100}, {1 << 40, 2 << 20}, {7, 0}, {3, 5}}
	b := AppendOracleGeneral(nil, reqs)
	if len(b) != 24*len(reqs) {
		t.Fatalf("%d bytes for %d records", len(b), len(reqs))
	}
	got, err := ReadOracleGeneral(bytes.NewReader(b), 0)
	if err != nil {
		t.Fatal(err)
	}
	// The size-0 record is skipped, as libCacheSim does; sizes are clamped.
	want := []TraceRequest{{7, 100}, {1 << 40, maxTraceSize}, {3, 5}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("record %d: got %v, want %v", i, got[i], want[i])
		}
	}
	if _, err := ReadOracleGeneral(bytes.NewReader(b[:30]), 0); !errors.Is(err, ErrTrace) {
		t.Fatalf("partial record: err %v, want ErrTrace", err)
	}
}

func FuzzReadTextTrace(f *testing.F) {
	for _, s := range []string{"a\nb 10\n", "# c\n\n x  5 \n", "a b c", "k 0", "k 18446744073709551616", "\x00 1\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		reqs, err := ReadTextTrace(bytes.NewReader(b), 0)
		if err != nil {
			if !errors.Is(err, ErrTrace) {
				t.Fatalf("error %v does not wrap ErrTrace", err)
			}
			return
		}
		for _, q := range reqs {
			if q.Size > maxTraceSize || q.ID >= uint64(len(reqs)) {
				t.Fatalf("request %v out of range (%d requests)", q, len(reqs))
			}
		}
	})
}

func FuzzReadOracleGeneral(f *testing.F) {
	f.Add(AppendOracleGeneral(nil, []TraceRequest{{1, 10}, {2, 0}}))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		reqs, err := ReadOracleGeneral(bytes.NewReader(b), 0)
		if err != nil {
			if !errors.Is(err, ErrTrace) || len(b)%24 == 0 {
				t.Fatalf("%d bytes: error %v", len(b), err)
			}
			return
		}
		if len(b)%24 != 0 || len(reqs) > len(b)/24 {
			t.Fatalf("%d bytes: %d requests, no error", len(b), len(reqs))
		}
		for _, q := range reqs {
			if q.Size == 0 || q.Size > maxTraceSize {
				t.Fatalf("size %d", q.Size)
			}
		}
	})
}

func TestGenerateTrace(t *testing.T) {
	const n, keys = 20_000, 1_000
	for _, class := range TraceClasses {
		a, err := GenerateTrace(class, n, keys, 0.9, 0, 7)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := GenerateTrace(class, n, keys, 0.9, 0, 7)
		if len(a) != n || len(b) != n {
			t.Fatalf("%s: %d requests, want %d", class, len(a), n)
		}
		distinct := map[uint64]int{}
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("%s: not reproducible at %d", class, i)
			}
			distinct[a[i].ID]++
		}
		switch class {
		case "zipf":
			if len(distinct) > keys {
				t.Fatalf("zipf: %d objects over %d keys", len(distinct), keys)
			}
		case "scan": // one-off keys: 30% of the requests
			once := 0
			for id, c := range distinct {
				if id >= keys && c == 1 {
					once++
				}
			}
			if once < n*28/100 || once > n*32/100 {
				t.Fatalf("scan: %d one-off objects in %d requests, want 30%%", once, n)
			}
		case "shift": // the most requested key changes from the first tenth to the last
			first, last := map[uint64]int{}, map[uint64]int{}
			for i, q := range a {
				if q.ID >= keys {
					t.Fatalf("shift: key %d out of %d", q.ID, keys)
				}
				if i < n/10 {
					first[q.ID]++
				} else if i >= n*9/10 {
					last[q.ID]++
				}
			}
			top := func(m map[uint64]int) (k uint64) {
				for id, c := range m {
					if c > m[k] {
						k = id
					}
				}
				return k
			}
			if top(first) == top(last) {
				t.Fatalf("shift: key %d is the most requested at the start and at the end", top(first))
			}
		}
	}
	if _, err := GenerateTrace("nope", 10, 10, 1, 0, 1); err == nil {
		t.Fatal("unknown class accepted")
	}
	for _, bad := range []float64{-0.1, 1} {
		if _, err := GenerateTrace("scan", 10, 10, 1, bad, 1); err == nil {
			t.Fatalf("scan share %g accepted", bad)
		}
	}
	// A scan share of 0.1: one-off keys are 10% of the requests.
	a, err := GenerateTrace("scan", n, keys, 0.9, 0.1, 7)
	if err != nil {
		t.Fatal(err)
	}
	once := 0
	for _, q := range a {
		if q.ID >= keys {
			once++
		}
	}
	if once < n*8/100 || once > n*12/100 {
		t.Fatalf("scan share 0.1: %d one-off requests in %d", once, n)
	}
}
