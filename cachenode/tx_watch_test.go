// Tests of WATCH.

package cachenode

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestWatchOptimisticIncrement: go-redis's Watch helper (WATCH, GET, MULTI,
// SET, EXEC, retried on TxFailedErr) run by several clients at once loses
// no increment. Without WATCH's check the GET-then-SET races lose updates.
func TestWatchOptimisticIncrement(t *testing.T) {
	s, cl, ctx := startWithClient(t, &redis.Options{PoolSize: 8})
	const workers, each = 4, 150
	incr := func() error {
		for {
			err := cl.Watch(ctx, func(tx *redis.Tx) error {
				n, err := tx.Get(ctx, "w:counter").Int()
				if err != nil && !errors.Is(err, redis.Nil) {
					return err
				}
				_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
					p.Set(ctx, "w:counter", n+1, 0)
					return nil
				})
				return err
			}, "w:counter")
			if !errors.Is(err, redis.TxFailedErr) {
				return err
			}
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if err := incr(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	n, err := cl.Get(ctx, "w:counter").Int()
	if err != nil {
		t.Fatal(err)
	}
	if n != workers*each {
		t.Fatalf("counter = %d after %d watched increments: updates were lost", n, workers*each)
	}
	waitNoWatchers(t, s)
}

// waitNoWatchers waits until no connection watches a key (go-redis's Watch
// ends with UNWATCH or EXEC; closed connections drop their keys).
func waitNoWatchers(t *testing.T, s *Server) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for s.watch.active.Load() != 0 || s.watchedKeys() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections still watch %d keys", s.watch.active.Load(), s.watchedKeys())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (s *Server) watchedKeys() int {
	s.watch.mu.Lock()
	defer s.watch.mu.Unlock()
	return len(s.watch.keys)
}

// TestWatchCases: what makes EXEC fail after WATCH, and what does not,
// with a second client doing the modifying.
func TestWatchCases(t *testing.T) {
	s := startServer(t, Config{})
	a := dialRaw(t, s.Addr().String())
	b := dialRaw(t, s.Addr().String())
	const null = "*-1\r\n"
	tx := func(want string) {
		t.Helper()
		for _, cmd := range [][]string{{"MULTI"}, {"SET", "out", "1"}} {
			if r := a.do(cmd...); r != "+OK\r\n" && r != "+QUEUED\r\n" {
				t.Fatalf("%v: %q", cmd, r)
			}
		}
		if r := a.do("EXEC"); r != want {
			t.Fatalf("EXEC = %q, want %q", r, want)
		}
	}
	ran := "*1\r\n+OK\r\n"
	cases := []struct {
		name   string
		setup  [][]string // run by b before a's WATCH
		watch  []string
		modify [][]string // run by b between WATCH and EXEC
		sleep  time.Duration
		want   string
	}{
		{"untouched", [][]string{{"SET", "k", "1"}}, []string{"k"}, [][]string{{"SET", "other", "1"}}, 0, ran},
		{"set by another client", [][]string{{"SET", "k", "1"}}, []string{"k"}, [][]string{{"SET", "k", "2"}}, 0, null},
		{"created", nil, []string{"k"}, [][]string{{"SET", "k", "2"}}, 0, null},
		{"deleted", [][]string{{"SET", "k", "1"}}, []string{"k"}, [][]string{{"DEL", "k"}}, 0, null},
		{"one of several", nil, []string{"x", "k", "y"}, [][]string{{"INCR", "k"}}, 0, null},
		{"mset names it", nil, []string{"k"}, [][]string{{"MSET", "z", "1", "k", "1"}}, 0, null},
		{"rename target", [][]string{{"SET", "src", "1"}}, []string{"k"}, [][]string{{"RENAME", "src", "k"}}, 0, null},
		{"expire set", [][]string{{"SET", "k", "1"}}, []string{"k"}, [][]string{{"EXPIRE", "k", "100"}}, 0, null},
		{"expired meanwhile", [][]string{{"SET", "k", "1", "PX", "30"}}, []string{"k"}, nil, 80 * time.Millisecond, null},
		{"flushall, key existed", [][]string{{"SET", "k", "1"}}, []string{"k"}, [][]string{{"FLUSHALL"}}, 0, null},
		{"flushall, key missing", nil, []string{"k"}, [][]string{{"FLUSHALL"}}, 0, ran},
		{"read only", [][]string{{"SET", "k", "1"}}, []string{"k"}, [][]string{{"GET", "k"}, {"EXISTS", "k"}}, 0, ran},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b.do("FLUSHALL")
			for _, cmd := range c.setup {
				b.do(cmd...)
			}
			if r := a.do(append([]string{"WATCH"}, c.watch...)...); r != "+OK\r\n" {
				t.Fatalf("WATCH = %q", r)
			}
			for _, cmd := range c.modify {
				if r := b.do(cmd...); r[0] == '-' {
					t.Fatalf("%v: %q", cmd, r)
				}
			}
			time.Sleep(c.sleep)
			tx(c.want)
			if s.watch.active.Load() != 0 {
				t.Fatal("EXEC left keys watched")
			}
		})
	}

	// The client's own write counts too.
	b.do("FLUSHALL")
	a.do("WATCH", "k")
	a.do("SET", "k", "mine")
	tx(null)
	// UNWATCH, DISCARD and RESET forget the keys.
	for _, forget := range [][]string{{"UNWATCH"}, {"MULTI"}, {"RESET"}} {
		a.do("WATCH", "k")
		if forget[0] == "MULTI" {
			a.do("MULTI")
			forget = []string{"DISCARD"}
		}
		if r := a.do(forget...); r[0] != '+' {
			t.Fatalf("%v: %q", forget, r)
		}
		b.do("SET", "k", "theirs")
		tx(ran)
	}
	// WATCH inside MULTI is refused and does not spoil the transaction.
	a.do("MULTI")
	if r := a.do("WATCH", "k"); r != "-ERR WATCH inside MULTI is not allowed\r\n" {
		t.Fatalf("WATCH in MULTI = %q", r)
	}
	a.do("SET", "out", "1")
	if r := a.do("EXEC"); r != ran {
		t.Fatalf("EXEC = %q", r)
	}
	// RESP3: the failed EXEC is a null.
	a.do("HELLO", "3")
	a.do("WATCH", "k")
	b.do("SET", "k", "x")
	tx("_\r\n")

	// A closed connection's keys are forgotten.
	c := dialRaw(t, s.Addr().String())
	c.do("WATCH", "k", "k2")
	if s.watchedKeys() != 2 {
		t.Fatalf("%d keys watched, want 2", s.watchedKeys())
	}
	c.nc.Close()
	waitNoWatchers(t, s)
}

// TestWatchEviction: a watched key evicted to make room fails the
// transaction (the store's remove hook).
func TestWatchEviction(t *testing.T) {
	s := startServer(t, Config{MaxMemory: 2 << 20})
	ctx := ctxT(t)
	cl := newClient(t, s.Addr().String(), nil)
	if err := cl.Set(ctx, "victim", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	a := dialRaw(t, s.Addr().String())
	a.do("WATCH", "victim")
	val := make([]byte, 1000)
	for i := 0; i < 20000; i++ { // 20 MB through a 2 MB cache: the victim goes
		if err := cl.Set(context.Background(), "fill:"+strconv.Itoa(i), val, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := cl.Exists(ctx, "victim").Result(); n != 0 {
		t.Fatal("the watched key survived 10x its cache's size of writes; the test needs it evicted")
	}
	a.do("MULTI")
	a.do("SET", "out", "1")
	if r := a.do("EXEC"); r != "*-1\r\n" {
		t.Fatalf("EXEC after the watched key was evicted = %q, want a null array", r)
	}
}

// TestExecCommandStats: every EXEC counts as a call in COMMANDSTATS, and the
// error ones (no MULTI, EXECABORT) as failed, as in Redis; an EXEC that a
// WATCH stopped is a call, not a failure.
func TestExecCommandStats(t *testing.T) {
	s := startServer(t, Config{})
	a := dialRaw(t, s.Addr().String())
	for _, cmd := range [][]string{
		{"EXEC"},
		{"MULTI"}, {"NOPE"}, {"EXEC"},
		{"MULTI"}, {"SET", "a", "1"}, {"EXEC"},
		{"WATCH", "a"}, {"SET", "a", "2"}, {"MULTI"}, {"PING"}, {"EXEC"},
	} {
		a.do(cmd...)
	}
	cl := newClient(t, s.Addr().String(), nil)
	info, err := cl.Info(ctxT(t), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	_, got, _ := strings.Cut(info, "cmdstat_exec:")
	got, _, _ = strings.Cut(got, "\r\n")
	if !strings.HasPrefix(got, "calls=4,") || !strings.HasSuffix(got, ",rejected_calls=0,failed_calls=2") {
		t.Fatalf("%q, want 4 calls of which 2 failed (redis-server 7.0.15 reports the same)", got)
	}
}

// TestWatchExpiryDuringPause replays, against redis-server and cachenode, a
// watched key expiring during CLIENT PAUSE WRITE (expired keys are then
// hidden, not removed) and a key already expired when it was watched, and
// requires the same EXEC replies.
func TestWatchExpiryDuringPause(t *testing.T) {
	want, got := againstRedis(t, func(addr string) []string {
		a, b := dialRaw(t, addr), dialRaw(t, addr)
		var out []string
		do := func(c *rawConn, args ...string) { out = append(out, c.do(args...)) }
		do(a, "FLUSHALL")
		do(a, "SET", "k", "1", "PX", "300")
		do(a, "SET", "gone", "1", "PX", "100")
		do(a, "SET", "stays", "1")
		do(b, "CLIENT", "PAUSE", "3000", "WRITE")
		time.Sleep(150 * time.Millisecond)
		// gone has expired (hidden) before WATCH; k expires after it.
		do(a, "WATCH", "k")
		time.Sleep(300 * time.Millisecond)
		do(a, "MULTI")
		do(a, "GET", "stays")
		do(a, "EXEC")
		do(a, "WATCH", "gone", "stays")
		do(a, "MULTI")
		do(a, "GET", "stays")
		do(a, "EXEC")
		do(b, "CLIENT", "UNPAUSE")
		return out
	})
	if !slices.Equal(want, got) {
		t.Fatalf("replies differ:\nredis-server: %q\ncachenode:    %q", want, got)
	}
	if want[8] != "*-1\r\n" {
		t.Errorf("redis-server ran the transaction whose watched key expired: %q", want[8])
	}
}
