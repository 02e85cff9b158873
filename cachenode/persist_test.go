// Tests of snapshots: SAVE, BGSAVE, LASTSAVE, INFO persistence, SHUTDOWN
// SAVE/NOSAVE, the load on start, and files exchanged with redis-server.

package cachenode

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cachetier/cachetier/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// logTo returns a logger writing Info and above to buf.
func logTo(buf *redistest.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// TestSaveAndLoad: SAVE writes the keys with their expiry times; a node
// started on the file has them, without the keys that expired meanwhile;
// LASTSAVE and INFO persistence follow.
func TestSaveAndLoad(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s := startServer(t, Config{Dir: dir})
	rdb := newClient(t, s.Addr().String(), nil)
	info := rdb.Info(ctx, "persistence").Val()
	if infoField(t, info, "rdb_saves") != 0 || infoField(t, info, "rdb_last_save_time") != s.start.Unix() {
		t.Fatalf("before any save:\n%s", info)
	}
	for i := 0; i < 1000; i++ {
		rdb.Set(ctx, fmt.Sprintf("k%d", i), strings.Repeat("v", i), 0)
	}
	rdb.Set(ctx, "ttl", "x", time.Hour)
	rdb.Set(ctx, "short", "x", 300*time.Millisecond)
	rdb.Set(ctx, "n", "12345", 0)
	if n := infoField(t, rdb.Info(ctx, "persistence").Val(), "rdb_changes_since_last_save"); n != 1003 {
		t.Fatalf("rdb_changes_since_last_save %d, want 1003", n)
	}
	before := time.Now().Unix()
	if err := rdb.Save(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if ls := rdb.LastSave(ctx).Val(); ls < before || ls > time.Now().Unix() {
		t.Fatalf("LASTSAVE %d, want the save's time (%d..)", ls, before)
	}
	info = rdb.Info(ctx, "persistence").Val()
	if infoField(t, info, "rdb_changes_since_last_save") != 0 || infoField(t, info, "rdb_saves") != 1 ||
		!strings.Contains(info, "rdb_last_bgsave_status:ok") {
		t.Fatalf("after SAVE:\n%s", info)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 || entries[0].Name() != "dump.rdb" {
		t.Fatalf("dir holds %v, want only dump.rdb (no temporary file left)", entries)
	}
	s.Close()
	time.Sleep(400 * time.Millisecond) // "short" expires

	var logs redistest.Buffer
	s2 := startServer(t, Config{Dir: dir, Logger: logTo(&logs)})
	c2 := newClient(t, s2.Addr().String(), nil)
	if n := c2.DBSize(ctx).Val(); n != 1002 {
		t.Fatalf("DBSIZE %d after load, want 1002", n)
	}
	for i := 0; i < 1000; i += 97 {
		if v := c2.Get(ctx, fmt.Sprintf("k%d", i)).Val(); v != strings.Repeat("v", i) {
			t.Fatalf("k%d = %q", i, v)
		}
	}
	if v := c2.Get(ctx, "n").Val(); v != "12345" {
		t.Fatalf("n = %q", v)
	}
	if ttl := c2.PTTL(ctx, "ttl").Val(); ttl < 59*time.Minute || ttl > time.Hour {
		t.Fatalf("PTTL ttl %v after load", ttl)
	}
	if c2.Exists(ctx, "short").Val() != 0 {
		t.Fatal("a key expired before the load was loaded")
	}
	info = c2.Info(ctx, "persistence").Val()
	if infoField(t, info, "rdb_last_load_keys_loaded") != 1002 || infoField(t, info, "rdb_last_load_keys_expired") != 1 {
		t.Fatalf("after load:\n%s", info)
	}
	if !strings.Contains(logs.String(), "snapshot loaded") || !strings.Contains(logs.String(), "keys=1002") {
		t.Fatalf("load not logged:\n%s", logs.String())
	}
}

// TestLoadBadFile: a missing file starts the node empty; a corrupt or
// truncated one too, logged as an error and kept aside for inspection.
func TestLoadBadFile(t *testing.T) {
	// A valid file to damage.
	src := t.TempDir()
	s := startServer(t, Config{Dir: src})
	rdb := newClient(t, s.Addr().String(), nil)
	for i := 0; i < 100; i++ {
		rdb.Set(context.Background(), fmt.Sprintf("k%d", i), "value", 0)
	}
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(filepath.Join(src, "dump.rdb"))
	if err != nil {
		t.Fatal(err)
	}
	flipped := append([]byte(nil), good...)
	flipped[len(flipped)/2] ^= 0xff
	for _, tc := range []struct {
		name, want string
		data       []byte
	}{
		{"truncated", "truncated", good[:len(good)-20]},
		{"flipped byte", "corrupt", flipped},
		{"not rdb", "no REDIS magic", []byte("hello, world\n")},
		{"empty", "truncated", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "dump.rdb"), tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			var logs redistest.Buffer
			s := startServer(t, Config{Dir: dir, Logger: logTo(&logs)})
			if n := s.store.Len(); n != 0 {
				t.Fatalf("%d keys after loading a bad file", n)
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 1 || !strings.HasPrefix(entries[0].Name(), "dump.rdb.corrupt-") {
				t.Fatalf("dir holds %v, want the file renamed dump.rdb.corrupt-<time>", entries)
			}
			kept, _ := os.ReadFile(filepath.Join(dir, entries[0].Name()))
			if string(kept) != string(tc.data) {
				t.Fatal("the file kept aside differs from the bad file")
			}
			if l := logs.String(); !strings.Contains(l, "level=ERROR") || !strings.Contains(l, "snapshot file unreadable") || !strings.Contains(l, tc.want) {
				t.Fatalf("log does not report the bad file (%q):\n%s", tc.want, l)
			}
			// The node works and saves a new file.
			if err := s.Save(); err != nil {
				t.Fatal(err)
			}
		})
	}
	t.Run("missing", func(t *testing.T) {
		var logs redistest.Buffer
		s := startServer(t, Config{Dir: t.TempDir(), Logger: logTo(&logs)})
		if s.store.Len() != 0 || !strings.Contains(logs.String(), "no snapshot file") {
			t.Fatalf("keys %d, log:\n%s", s.store.Len(), logs.String())
		}
	})
}

// TestBgsave: BGSAVE answers at once and saves in the background while
// clients write; a second BGSAVE or a SAVE meanwhile gets Redis's error.
func TestBgsave(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s := startServer(t, Config{Dir: dir})
	rdb := newClient(t, s.Addr().String(), nil)
	for i := 0; i < 20000; i++ {
		rdb.Set(ctx, fmt.Sprintf("k%d", i), "v", 0)
	}
	// Hold the save lock so the background save waits and stays in progress.
	s.persist.saveMu.Lock()
	if v, err := rdb.BgSave(ctx).Result(); err != nil || v != "Background saving started" {
		t.Fatalf("BGSAVE: %q %v", v, err)
	}
	if err := rdb.BgSave(ctx).Err(); err == nil || err.Error() != "ERR Background save already in progress" {
		t.Errorf("second BGSAVE: %v", err)
	}
	if err := rdb.Save(ctx).Err(); err == nil || err.Error() != "ERR Background save already in progress" {
		t.Errorf("SAVE during BGSAVE: %v", err)
	}
	if infoField(t, rdb.Info(ctx, "persistence").Val(), "rdb_bgsave_in_progress") != 1 {
		t.Error("rdb_bgsave_in_progress not 1")
	}
	// Writers run during the save.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			c := newClient(t, s.Addr().String(), nil)
			for i := 0; ; i++ {
				select {
				case <-stop:
					errs <- nil
					return
				default:
				}
				if err := c.Set(ctx, fmt.Sprintf("w%d:%d", w, i%5000), i, 0).Err(); err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	s.persist.saveMu.Unlock()
	for deadline := time.Now().Add(30 * time.Second); s.persist.bgInProgress.Load(); {
		if time.Now().After(deadline) {
			t.Fatal("BGSAVE still running after 30 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	for w := 0; w < 4; w++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	info := rdb.Info(ctx, "persistence").Val()
	if !strings.Contains(info, "rdb_last_bgsave_status:ok") || infoField(t, info, "rdb_last_bgsave_time_sec") < 0 || infoField(t, info, "rdb_saves") != 1 {
		t.Fatalf("after BGSAVE:\n%s", info)
	}
	// The file is valid and holds at least the keys written before BGSAVE.
	s2 := startServer(t, Config{Dir: dir})
	if n := s2.store.Len(); n < 20000 {
		t.Fatalf("%d keys loaded from the BGSAVE file, want at least 20000", n)
	}
}

// TestShutdownSaveNoSave: SHUTDOWN SAVE writes the snapshot, SHUTDOWN
// NOSAVE does not, a plain SHUTDOWN saves only with save points, and
// Shutdown saves again what was written after SHUTDOWN's save.
func TestShutdownSaveNoSave(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []any
		save  []SavePoint
		saved bool
	}{
		{"SAVE", []any{"shutdown", "save"}, nil, true},
		{"NOSAVE", []any{"shutdown", "nosave"}, []SavePoint{{3600, 1}}, false},
		{"default without save points", []any{"shutdown"}, nil, false},
		{"default with save points", []any{"shutdown"}, []SavePoint{{3600, 1}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ctx := context.Background()
			s := startServer(t, Config{Dir: dir, Save: tc.save})
			rdb := newClient(t, s.Addr().String(), &redis.Options{MaxRetries: -1})
			rdb.Set(ctx, "k", "v", 0)
			if err := rdb.Do(ctx, tc.args...).Err(); err != nil && err != redis.Nil && !strings.Contains(err.Error(), "EOF") {
				t.Fatalf("%v: %v", tc.args, err)
			}
			<-s.life.closed
			if err := s.Shutdown(ctx); err != nil {
				t.Fatal(err)
			}
			_, err := os.Stat(filepath.Join(dir, "dump.rdb"))
			if saved := err == nil; saved != tc.saved {
				t.Fatalf("file saved %v, want %v", saved, tc.saved)
			}
			if tc.saved {
				if s2 := startServer(t, Config{Dir: dir}); s2.store.Len() != 1 {
					t.Fatalf("%d keys loaded", s2.store.Len())
				}
			}
		})
	}
	t.Run("failing save", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		s := startServer(t, Config{Dir: dir})
		rdb := newClient(t, s.Addr().String(), &redis.Options{MaxRetries: -1})
		ctx := context.Background()
		if err := os.Remove(dir); err != nil { // saves now fail, even as root
			t.Fatal(err)
		}
		if err := rdb.ShutdownSave(ctx).Err(); err == nil || err.Error() != "ERR Errors trying to SHUTDOWN. Check logs." {
			t.Fatalf("SHUTDOWN SAVE into a read-only dir: %v", err)
		}
		if err := rdb.Ping(ctx).Err(); err != nil {
			t.Fatalf("server gone after a failed SHUTDOWN SAVE: %v", err)
		}
		if err := rdb.Save(ctx).Err(); err == nil || err.Error() != "ERR" {
			t.Fatalf("SAVE into a read-only dir: %v", err)
		}
		if !strings.Contains(rdb.Info(ctx, "persistence").Val(), "rdb_last_bgsave_status:err") {
			t.Fatal("rdb_last_bgsave_status not err after a failed save")
		}
	})
	t.Run("writes after SHUTDOWN's save", func(t *testing.T) {
		dir := t.TempDir()
		s := startServer(t, Config{Dir: dir})
		ctx := context.Background()
		rdb := newClient(t, s.Addr().String(), nil)
		rdb.Set(ctx, "a", "1", 0)
		if !s.saveForShutdown(true, false) {
			t.Fatal("save failed")
		}
		s.persist.shutdownMode.Store(shutdownSave)
		rdb.Set(ctx, "b", "2", 0) // lands after the save, before the connections close
		if err := s.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		if s2 := startServer(t, Config{Dir: dir}); s2.store.Len() != 2 {
			t.Fatalf("%d keys loaded, want 2: the write after SHUTDOWN's save is lost", s2.store.Len())
		}
	})
}

// TestSavePoints: a save point starts a background save once reached.
func TestSavePoints(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s := startServer(t, Config{Dir: dir})
	rdb := newClient(t, s.Addr().String(), nil)
	if v := rdb.ConfigGet(ctx, "save").Val()["save"]; v != "" {
		t.Fatalf("CONFIG GET save %q", v)
	}
	if err := rdb.ConfigSet(ctx, "save", "1 2").Err(); err != nil {
		t.Fatal(err)
	}
	if v := rdb.ConfigGet(ctx, "save").Val()["save"]; v != "1 2" {
		t.Fatalf("CONFIG GET save %q", v)
	}
	rdb.Set(ctx, "a", "1", 0)
	time.Sleep(2500 * time.Millisecond)
	if _, err := os.Stat(filepath.Join(dir, "dump.rdb")); err == nil {
		t.Fatal("saved after 1 change with save point 1 2")
	}
	rdb.Set(ctx, "b", "1", 0)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(dir, "dump.rdb")); err == nil && !s.persist.bgInProgress.Load() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no save 20 s after the save point was reached")
		}
	}
	if n := infoField(t, rdb.Info(ctx, "persistence").Val(), "rdb_changes_since_last_save"); n != 0 {
		t.Fatalf("rdb_changes_since_last_save %d after the save", n)
	}
}

// TestPersistAgainstRedis compares the replies of the snapshot commands
// with redis-server's, where they apply.
func TestPersistAgainstRedis(t *testing.T) {
	ctx := context.Background()
	rs := redistest.Start(t)
	s := startServer(t, Config{Dir: t.TempDir()})
	script := func(addr string) []string {
		c := newClient(t, addr, nil)
		var out []string
		add := func(cmd *redis.Cmd) {
			v, err := cmd.Result()
			out = append(out, fmt.Sprintf("%v %T | %v", cmd.Args(), v, err))
		}
		add(c.Do(ctx, "set", "k", "v"))
		add(c.Do(ctx, "save"))
		add(c.Do(ctx, "save", "x"))
		add(c.Do(ctx, "bgsave", "foo"))
		add(c.Do(ctx, "bgsave", "schedule", "x"))
		add(c.Do(ctx, "config", "set", "dir", "/tmp"))
		add(c.Do(ctx, "config", "set", "dbfilename", "x.rdb"))
		add(c.Do(ctx, "config", "set", "save", "abc"))
		add(c.Do(ctx, "config", "set", "save", "10"))
		add(c.Do(ctx, "config", "set", "save", "3600 1 300 100"))
		add(c.Do(ctx, "config", "get", "save"))
		add(c.Do(ctx, "config", "get", "dbfilename"))
		add(c.Do(ctx, "shutdown", "save", "nosave"))
		add(c.Do(ctx, "shutdown", "abort"))
		// Pipelined, the second BGSAVE meets the first in progress (redis
		// reaps its child later, at the earliest at its next cron tick).
		pipe := c.Pipeline()
		a, b := pipe.BgSave(ctx), pipe.BgSave(ctx)
		pipe.Exec(ctx)
		out = append(out, a.Val()+"|"+fmt.Sprint(a.Err()), "second: "+fmt.Sprint(b.Err()))
		lastSave := c.LastSave(ctx).Val()
		if d := time.Now().Unix() - lastSave; d < 0 || d > 5 {
			out = append(out, fmt.Sprintf("LASTSAVE %d s ago", d))
		}
		for i := 0; ; i++ { // wait for the background save to end
			if !strings.Contains(c.Info(ctx, "persistence").Val(), "rdb_bgsave_in_progress:1") || i > 200 {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		return out
	}
	r, n := script(rs.Addr), script(s.Addr().String())
	for i := range r {
		if i >= len(n) || r[i] != n[i] {
			t.Errorf("redis: %s\n     node: %s", r[i], n[min(i, len(n)-1)])
		}
	}
	// INFO persistence: every field redis-server has, cachenode has.
	fields := func(addr string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(newClient(t, addr, nil).Info(ctx, "persistence").Val(), "\r\n") {
			if k, _, ok := strings.Cut(l, ":"); ok {
				m[k] = true
			}
		}
		return m
	}
	nf := fields(s.Addr().String())
	for f := range fields(rs.Addr) {
		if !nf[f] {
			t.Errorf("INFO persistence lacks redis-server's field %s", f)
		}
	}
}

// TestLoadOverMaxMemory: a snapshot larger than maxmemory is loaded within
// it: evicting as writes do, or, under noeviction, skipping what does not
// fit; the log counts either.
func TestLoadOverMaxMemory(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, Config{Dir: dir})
	c := newClient(t, s.Addr().String(), nil)
	ctx := context.Background()
	val := strings.Repeat("v", 1000)
	for i := 0; i < 4000; i++ {
		c.Set(ctx, fmt.Sprintf("k%d", i), val, 0)
	}
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	const limit = 2 << 20
	for _, tc := range []struct{ policy, want string }{{"allkeys-lru", "evicted_maxmemory="}, {"noeviction", "over_maxmemory_skipped="}} {
		var logs redistest.Buffer
		s2 := startServer(t, Config{Dir: dir, MaxMemory: limit, MaxMemoryPolicy: tc.policy, Logger: logTo(&logs)})
		n := s2.store.Len()
		if n == 0 || n >= 4000 || s2.store.UsedMemory() > limit+limit/4 {
			t.Errorf("%s: %d keys, used memory %d, limit %d", tc.policy, n, s2.store.UsedMemory(), limit)
		}
		if !strings.Contains(logs.String(), tc.want) {
			t.Errorf("%s: log lacks %s:\n%s", tc.policy, tc.want, logs.String())
		}
	}
}
