package store

import (
	"strconv"
	"testing"
	"time"
)

// TestIdleTime checks IdleTime against the true idle time of keys over
// seconds, minutes and days, with writes advancing the clock in between and
// the checkpoints taken as the expiry goroutine takes them (here by hand,
// on a fake clock).
func TestIdleTime(t *testing.T) {
	s, clk := newTestStore(t, Config{ExpireInterval: time.Hour})
	step := func(d, every time.Duration) {
		for elapsed := time.Duration(0); elapsed < d; elapsed += every {
			clk.Advance(every)
			s.tickClock()
			// Some writes between ticks, so the clock also moves by writes.
			for i := 0; i < 8; i++ {
				s.Set([]byte("w"+strconv.Itoa(i)), []byte("v"), SetArgs{}, nil)
			}
		}
	}
	check := func(key string, want, tol time.Duration) {
		t.Helper()
		ms, ok := s.IdleTime([]byte(key))
		if !ok {
			t.Fatalf("IdleTime(%s): key missing", key)
		}
		if got := time.Duration(ms) * time.Millisecond; got < want-tol || got > want+tol {
			t.Errorf("IdleTime(%s) = %v, want %v ± %v", key, got, want, tol)
		}
	}
	if _, ok := s.IdleTime([]byte("nokey")); ok {
		t.Fatal("IdleTime of a missing key reported ok")
	}

	step(1300*time.Millisecond, 100*time.Millisecond)
	s.Set([]byte("a"), []byte("1"), SetArgs{}, nil)
	check("a", 0, 700*time.Millisecond)
	step(5*time.Second, 100*time.Millisecond)
	check("a", 5*time.Second, 700*time.Millisecond)

	// Reading a key makes it recent again; Peek and IdleTime do not.
	s.Set([]byte("b"), []byte("1"), SetArgs{}, nil)
	step(3*time.Second, 100*time.Millisecond)
	s.Peek(nil, []byte("b"))
	check("b", 3*time.Second, 700*time.Millisecond)
	s.Get(nil, []byte("b"))
	check("b", 0, 700*time.Millisecond)
	check("a", 8*time.Second, 700*time.Millisecond)

	// Minutes: beyond the per-second checkpoints (10 minutes), the
	// per-minute ones answer within half a minute.
	step(30*time.Minute, time.Second)
	check("a", 30*time.Minute+8*time.Second, 31*time.Second)
	s.Get(nil, []byte("b"))
	step(90*time.Second, time.Second)
	check("b", 90*time.Second, 700*time.Millisecond)

	// Days: hourly checkpoints, within half an hour.
	step(3*24*time.Hour, 5*time.Second)
	check("a", 3*24*time.Hour+31*time.Minute+38*time.Second, 31*time.Minute)
}
