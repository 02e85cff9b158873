// Snapshots exchanged with a real redis-server 7, both ways.

package cachenode

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cachetier/cachetier/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// interopKeys are string keys of every kind a file may hold: int-encoded
// values, a value that looks numeric but is not canonical, long
// compressible values (which redis-server writes LZF-compressed), binary,
// empty; "ttl:" keys get a TTL.
func interopKeys() map[string]string {
	m := map[string]string{
		"int8": "12", "int16": "-1234", "int32": "2147483647", "int64": "9223372036854775807",
		"lead0": "007", "empty": "", "bin\x00\xff": "\x00\x01\xfe", "ttl:a": "with ttl",
		"long": strings.Repeat("compress me ", 500), "ttl:long": strings.Repeat("z", 100000),
	}
	for i := 0; i < 500; i++ {
		m[fmt.Sprintf("key:%d", i)] = fmt.Sprintf("value-%d-%s", i, strings.Repeat("x", i%150))
	}
	return m
}

// TestSnapshotToRedis: a file cachenode saves is loaded by redis-server,
// with every key, value and TTL.
func TestSnapshotToRedis(t *testing.T) {
	if redistest.Binary() == "" {
		t.Skip("redis-server not installed (apt-get install -y redis-server); skipping the interoperability test")
	}
	ctx := context.Background()
	dir := t.TempDir()
	s := startServer(t, Config{Dir: dir})
	c := newClient(t, s.Addr().String(), nil)
	keys := interopKeys()
	for k, v := range keys {
		ttl := time.Duration(0)
		if strings.HasPrefix(k, "ttl:") {
			ttl = time.Hour
		}
		if err := c.Set(ctx, k, v, ttl).Err(); err != nil {
			t.Fatal(err)
		}
	}
	c.Set(ctx, "gone", "x", 50*time.Millisecond)
	time.Sleep(100 * time.Millisecond) // expired, not yet removed: not saved
	if err := c.Save(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	rs := redistest.Start(t, "--dir", dir, "--dbfilename", "dump.rdb")
	r := newClient(t, rs.Addr, nil)
	if n := r.DBSize(ctx).Val(); n != int64(len(keys)) {
		t.Fatalf("redis-server loaded %d keys, want %d", n, len(keys))
	}
	for k, v := range keys {
		got, err := r.Get(ctx, k).Result()
		if err != nil || got != v {
			t.Fatalf("redis GET %q: %.40q %v, want %.40q", k, got, err, v)
		}
		ttl := r.PTTL(ctx, k).Val()
		if strings.HasPrefix(k, "ttl:") != (ttl > 59*time.Minute && ttl <= time.Hour) {
			t.Fatalf("redis PTTL %q = %v", k, ttl)
		}
	}
	// redis-server reads int-encoded values back as integers.
	if enc := r.ObjectEncoding(ctx, "int16").Val(); enc != "int" {
		t.Errorf("OBJECT ENCODING int16 = %q, want int", enc)
	}
}

// TestSnapshotFromRedis: a file redis-server saves is loaded by cachenode:
// its string keys with their TTLs; lists, hashes, sets, sorted sets and
// streams are skipped, with their count in the log.
func TestSnapshotFromRedis(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	rs := redistest.Start(t, "--dir", dir, "--dbfilename", "dump.rdb")
	r := newClient(t, rs.Addr, nil)
	keys := interopKeys()
	for k, v := range keys {
		ttl := time.Duration(0)
		if strings.HasPrefix(k, "ttl:") {
			ttl = time.Hour
		}
		if err := r.Set(ctx, k, v, ttl).Err(); err != nil {
			t.Fatal(err)
		}
	}
	r.RPush(ctx, "list", "a", "b")
	r.HSet(ctx, "hash", "f", "v")
	r.SAdd(ctx, "set", "m")
	r.SAdd(ctx, "intset", 1, 2, 3)
	r.Do(ctx, "zadd", "zset", 1, "a")
	r.Do(ctx, "xadd", "stream", "*", "f", "v")
	for i := 0; i < 200; i++ { // encodings past the listpack limits
		r.RPush(ctx, "biglist", strings.Repeat("l", 100))
		r.HSet(ctx, "bighash", fmt.Sprint(i), strings.Repeat("h", 100))
		r.Do(ctx, "zadd", "bigzset", i, strings.Repeat("z", 70)+fmt.Sprint(i))
	}
	db1 := newClient(t, rs.Addr, &redis.Options{DB: 1}) // another database: skipped
	db1.Set(ctx, "in-db1", "v", 0)
	if err := r.Save(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	var logs redistest.Buffer
	s := startServer(t, Config{Dir: dir, Logger: logTo(&logs)})
	c := newClient(t, s.Addr().String(), nil)
	if n := c.DBSize(ctx).Val(); n != int64(len(keys)) {
		t.Fatalf("cachenode loaded %d keys, want %d; log:\n%s", n, len(keys), logs.String())
	}
	for k, v := range keys {
		got, err := c.Get(ctx, k).Result()
		if err != nil || got != v {
			t.Fatalf("GET %q: %.40q %v, want %.40q", k, got, err, v)
		}
		ttl := c.PTTL(ctx, k).Val()
		if strings.HasPrefix(k, "ttl:") != (ttl > 59*time.Minute && ttl <= time.Hour) {
			t.Fatalf("PTTL %q = %v", k, ttl)
		}
	}
	l := logs.String()
	for _, want := range []string{"snapshot loaded", "list:2", "hash:2", "set:2", "zset:2", "stream:1", "other_db_skipped=1", "written_by_redis_ver=7."} {
		if !strings.Contains(l, want) {
			t.Errorf("load log lacks %q:\n%s", want, l)
		}
	}
}

// TestRestartKeepsKeys: a node restarted on its own snapshot (Shutdown with
// save points) has its keys back, without those that expired meanwhile.
func TestRestartKeepsKeys(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := New(Config{Dir: dir, Save: []SavePoint{{3600, 1}}, Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := s.listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	for s.Addr() == nil {
		time.Sleep(time.Millisecond)
	}
	c := newClient(t, s.Addr().String(), nil)
	for i := 0; i < 1000; i++ {
		c.Set(ctx, fmt.Sprint(i), i, 0)
	}
	c.Set(ctx, "soon", "x", 200*time.Millisecond)
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	<-done
	if _, err := os.Stat(filepath.Join(dir, "dump.rdb")); err != nil {
		t.Fatalf("no snapshot after Shutdown with save points: %v", err)
	}
	time.Sleep(300 * time.Millisecond)
	s2 := startServer(t, Config{Dir: dir})
	c2 := newClient(t, s2.Addr().String(), nil)
	if n := c2.DBSize(ctx).Val(); n != 1000 {
		t.Fatalf("%d keys after restart, want 1000", n)
	}
	if v := c2.Get(ctx, "999").Val(); v != "999" {
		t.Fatalf("999 = %q", v)
	}
}
