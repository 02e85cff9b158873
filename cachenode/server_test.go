// Server tests: commands via go-redis, limits, timeouts, shutdown, metrics.

package cachenode

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cachetier/cachetier/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// waitFor polls cond until it holds or 15 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestNewValidates(t *testing.T) {
	for _, cfg := range []Config{
		{MaxMemoryPolicy: "allkeys-lfu-"},
		{MaxMemoryPolicy: "bogus"},
		{MaxMemory: -1},
		{MaxClients: -1},
		{Timeout: -time.Second},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
	s, err := New(Config{MaxMemoryPolicy: "NoEviction"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Addr() != nil || s.MetricsAddr() != nil {
		t.Error("addresses set before listening")
	}
	s.Close()
}

func TestParseSize(t *testing.T) {
	good := map[string]int64{"0": 0, "123": 123, "1k": 1000, "1kb": 1024, "1KB": 1024, "100mb": 100 << 20,
		"2gb": 2 << 30, "1m": 1000000, "3G": 3000000000, "5b": 5}
	for in, want := range good {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "mb", "-1", "+1", "1x", "1.5mb", "99999999999999999999", "9999999999gb"} {
		if _, err := ParseSize(in); !errors.Is(err, ErrInvalidSize) {
			t.Errorf("ParseSize(%q) = %v, want ErrInvalidSize", in, err)
		}
	}
}

// TestCommandsGoRedis exercises every command through go-redis, over RESP2
// and RESP3.
func TestCommandsGoRedis(t *testing.T) {
	s := startServer(t, Config{})
	for _, proto := range []int{2, 3} {
		t.Run(fmt.Sprintf("RESP%d", proto), func(t *testing.T) {
			ctx := ctxT(t)
			rdb := newClient(t, s.Addr().String(), &redis.Options{Protocol: proto})
			check := func(what string, got, want any) {
				t.Helper()
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("%s: got %v, want %v", what, got, want)
				}
			}
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			must(rdb.FlushAll(ctx).Err())
			check("ping", rdb.Ping(ctx).Val(), "PONG")
			check("echo", rdb.Echo(ctx, "hi").Val(), "hi")
			must(rdb.Set(ctx, "k", "v", 0).Err())
			check("get", rdb.Get(ctx, "k").Val(), "v")
			if err := rdb.Get(ctx, "missing").Err(); err != redis.Nil {
				t.Errorf("get missing: %v", err)
			}
			must(rdb.Set(ctx, "", "", 0).Err())
			check("empty key", rdb.Exists(ctx, "").Val(), 1)
			bin := "a\x00b\r\n\xff"
			must(rdb.Set(ctx, bin, bin, 0).Err())
			check("binary", rdb.Get(ctx, bin).Val(), bin)
			check("set nx", rdb.SetNX(ctx, "k", "x", 0).Val(), false)
			check("set xx", rdb.SetXX(ctx, "k", "w", time.Minute).Val(), true)
			check("ttl", rdb.TTL(ctx, "k").Val(), time.Minute)
			check("set keepttl", rdb.SetArgs(ctx, "k", "z", redis.SetArgs{KeepTTL: true}).Val(), "OK")
			check("ttl kept", rdb.TTL(ctx, "k").Val() > 50*time.Second, true)
			check("set get", rdb.SetArgs(ctx, "k", "y", redis.SetArgs{Get: true}).Val(), "z")
			check("set exat", rdb.SetArgs(ctx, "e", "1", redis.SetArgs{ExpireAt: time.Now().Add(time.Hour)}).Val(), "OK")
			check("expiretime", rdb.ExpireTime(ctx, "e").Val() > 0, true)
			check("setex", rdb.SetEx(ctx, "se", "1", 10*time.Second).Val(), "OK")
			check("pttl", rdb.PTTL(ctx, "se").Val() > 9*time.Second, true)
			check("getset", rdb.GetSet(ctx, "k", "g").Val(), "y")
			check("getdel", rdb.GetDel(ctx, "k").Val(), "g")
			check("getdel gone", rdb.Exists(ctx, "k").Val(), 0)
			must(rdb.Set(ctx, "gx", "1", 0).Err())
			check("getex", rdb.GetEx(ctx, "gx", 5*time.Second).Val(), "1")
			check("getex ttl", rdb.TTL(ctx, "gx").Val() > 0, true)
			check("getex persist", rdb.GetEx(ctx, "gx", 0).Val(), "1")
			check("mset", rdb.MSet(ctx, "a", "1", "b", "2").Val(), "OK")
			check("mget", rdb.MGet(ctx, "a", "nope", "b").Val(), []any{"1", nil, "2"})
			check("msetnx", rdb.MSetNX(ctx, "a", "1", "c", "3").Val(), false)
			check("msetnx new", rdb.MSetNX(ctx, "c", "3", "d", "4").Val(), true)
			check("append", rdb.Append(ctx, "a", "23").Val(), 3)
			check("strlen", rdb.StrLen(ctx, "a").Val(), 3)
			check("getrange", rdb.GetRange(ctx, "a", 1, -1).Val(), "23")
			check("setrange", rdb.SetRange(ctx, "sr", 2, "x").Val(), 3)
			check("setrange value", rdb.Get(ctx, "sr").Val(), "\x00\x00x")
			check("incr", rdb.Incr(ctx, "n").Val(), 1)
			check("incrby", rdb.IncrBy(ctx, "n", 10).Val(), 11)
			check("decr", rdb.Decr(ctx, "n").Val(), 10)
			check("decrby", rdb.DecrBy(ctx, "n", 3).Val(), 7)
			check("incrbyfloat", rdb.IncrByFloat(ctx, "f", 1.5).Val(), 1.5)
			if err := rdb.Incr(ctx, "sr").Err(); err == nil || err.Error() != "ERR value is not an integer or out of range" {
				t.Errorf("incr non-int: %v", err)
			}
			check("del", rdb.Del(ctx, "a", "b", "zz").Val(), 2)
			check("unlink", rdb.Unlink(ctx, "c").Val(), 1)
			check("exists", rdb.Exists(ctx, "d", "d", "x").Val(), 2)
			check("type", rdb.Type(ctx, "d").Val(), "string")
			check("type none", rdb.Type(ctx, "x").Val(), "none")
			check("touch", rdb.Touch(ctx, "d", "x").Val(), 1)
			check("expire", rdb.Expire(ctx, "d", time.Minute).Val(), true)
			check("expire nx", rdb.ExpireNX(ctx, "d", time.Hour).Val(), false)
			check("expire gt", rdb.ExpireGT(ctx, "d", time.Hour).Val(), true)
			check("expire lt", rdb.ExpireLT(ctx, "d", time.Minute).Val(), true)
			check("expire xx", rdb.ExpireXX(ctx, "d", 2*time.Minute).Val(), true)
			check("pexpire", rdb.PExpire(ctx, "d", time.Minute).Val(), true)
			check("expireat", rdb.ExpireAt(ctx, "d", time.Now().Add(time.Hour)).Val(), true)
			check("pexpireat", rdb.PExpireAt(ctx, "d", time.Now().Add(time.Hour)).Val(), true)
			check("pexpiretime", rdb.PExpireTime(ctx, "d").Val() > 0, true)
			check("persist", rdb.Persist(ctx, "d").Val(), true)
			check("ttl none", rdb.TTL(ctx, "d").Val(), time.Duration(-1))
			check("ttl missing", rdb.TTL(ctx, "nokey").Val(), time.Duration(-2))
			must(rdb.FlushDB(ctx).Err())
			for i := 0; i < 50; i++ {
				must(rdb.Set(ctx, fmt.Sprintf("key:%02d", i), i, 0).Err())
			}
			must(rdb.Set(ctx, "other", 1, 0).Err())
			check("keys", len(rdb.Keys(ctx, "key:*").Val()), 50)
			check("keys ?", len(rdb.Keys(ctx, "key:0?").Val()), 10)
			seen := map[string]bool{}
			iter := rdb.Scan(ctx, 0, "key:*", 7).Iterator()
			for iter.Next(ctx) {
				seen[iter.Val()] = true
			}
			must(iter.Err())
			check("scan", len(seen), 50)
			keys, cur, err := rdb.ScanType(ctx, 0, "*", 1000, "hash").Result()
			must(err)
			check("scan type hash", len(keys), 0)
			_ = cur
			check("randomkey", rdb.RandomKey(ctx).Val() != "", true)
			check("rename", rdb.Rename(ctx, "other", "moved").Val(), "OK")
			check("renamenx", rdb.RenameNX(ctx, "moved", "key:01").Val(), false)
			if err := rdb.Rename(ctx, "nokey", "x").Err(); err == nil || err.Error() != "ERR no such key" {
				t.Errorf("rename missing: %v", err)
			}
			check("dbsize", rdb.DBSize(ctx).Val(), 51)
			check("flushall async", rdb.FlushAllAsync(ctx).Val(), "OK")
			check("dbsize 0", rdb.DBSize(ctx).Val(), 0)
			tm, err := rdb.Time(ctx).Result()
			must(err)
			if d := time.Since(tm); d < -time.Minute || d > time.Minute {
				t.Errorf("time off by %v", d)
			}
			must(rdb.Do(ctx, "SELECT", 0).Err())
			check("select 1", rdb.Do(ctx, "SELECT", 1).Err(), "ERR DB index is out of range")
			check("client setname", rdb.Do(ctx, "CLIENT", "SETNAME", "tester").Val(), "OK")
			check("client getname", rdb.Do(ctx, "CLIENT", "GETNAME").Val(), "tester")
			check("client id", rdb.ClientID(ctx).Val() > 0, true)
			check("client setinfo", rdb.Do(ctx, "CLIENT", "SETINFO", "LIB-NAME", "x").Val(), "OK")
			list := rdb.ClientList(ctx).Val()
			if !strings.Contains(list, "name=tester") || !strings.Contains(list, "lib-name=x") {
				t.Errorf("client list: %q", list)
			}
			info, err := rdb.ClientInfo(ctx).Result()
			must(err)
			check("client info name", info.Name, "tester")
			cfg := rdb.ConfigGet(ctx, "maxmemory*").Val()
			check("config get", cfg["maxmemory-policy"], DefaultMaxMemoryPolicy)
			check("config set", rdb.ConfigSet(ctx, "maxmemory", "100mb").Val(), "OK")
			check("config get set", rdb.ConfigGet(ctx, "maxmemory").Val()["maxmemory"], strconv.Itoa(100<<20))
			must(rdb.ConfigSet(ctx, "maxmemory", "0").Err())
			check("command count", rdb.Do(ctx, "COMMAND", "COUNT").Val().(int64) > 50, true)
			cmds, err := rdb.Command(ctx).Result()
			must(err)
			check("command get", cmds["get"].Arity, 2)
			check("command set flags", cmds["set"].ReadOnly, false)
			docs, err := rdb.Do(ctx, "COMMAND", "DOCS", "get").Result()
			must(err)
			if docs == nil {
				t.Error("command docs empty")
			}
			infoTxt := rdb.Info(ctx, "all").Val()
			for _, f := range []string{"redis_version:7.", "connected_clients:", "used_memory:", "used_memory_rss:", "maxmemory_policy:" + DefaultMaxMemoryPolicy, "keyspace_hits:", "keyspace_misses:", "evicted_keys:", "expired_keys:", "total_commands_processed:", "cmdstat_get:calls="} {
				if !strings.Contains(infoTxt, f) {
					t.Errorf("INFO lacks %q", f)
				}
			}
			must(rdb.Set(ctx, "ks", "1", time.Hour).Err())
			if ks := rdb.Info(ctx, "keyspace").Val(); !strings.Contains(ks, "db0:keys=1,expires=1,avg_ttl=") {
				t.Errorf("INFO keyspace: %q", ks)
			}
			if err := rdb.Do(ctx, "HSET", "h", "f", "v").Err(); err == nil || !strings.HasPrefix(err.Error(), "ERR unknown command 'HSET'") {
				t.Errorf("hset: %v", err)
			}
		})
	}
}

func TestGoRedisDefaultsConnect(t *testing.T) {
	// go-redis's default handshake: HELLO 3 and CLIENT SETINFO in a pipeline.
	s := startServer(t, Config{RequirePass: "secret"})
	rdb := redis.NewClient(&redis.Options{Addr: s.Addr().String(), Password: "secret", ClientName: "svc"})
	defer rdb.Close()
	ctx := ctxT(t)
	if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if got := rdb.Do(ctx, "CLIENT", "GETNAME").Val(); got != "svc" {
		t.Errorf("name %v", got)
	}
	if got := rdb.Do(ctx, "CLIENT", "INFO").Val(); !strings.Contains(fmt.Sprint(got), "resp=3") || !strings.Contains(fmt.Sprint(got), "lib-name=go-redis") {
		t.Errorf("client info %v", got)
	}
	bad := redis.NewClient(&redis.Options{Addr: s.Addr().String(), Password: "wrong", MaxRetries: -1})
	defer bad.Close()
	if err := bad.Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Errorf("wrong password: %v", err)
	}
}

func TestRESP3Replies(t *testing.T) {
	s := startServer(t, Config{})
	c := dialRaw(t, s.Addr().String())
	hello := c.do("HELLO", "3", "SETNAME", "r3")
	if !strings.HasPrefix(hello, "%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n") || !strings.Contains(hello, "$5\r\nproto\r\n:3\r\n") {
		t.Errorf("HELLO 3: %q", hello)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"GET", "nokey"}, "_\r\n"},
		{[]string{"MGET", "nokey"}, "*1\r\n_\r\n"},
		{[]string{"CONFIG", "GET", "databases"}, "%1\r\n$9\r\ndatabases\r\n$1\r\n1\r\n"},
		{[]string{"CLIENT", "GETNAME"}, "$2\r\nr3\r\n"},
		{[]string{"COMMAND", "INFO", "nosuch"}, "*1\r\n_\r\n"},
	} {
		if got := c.do(tc.args...); got != tc.want {
			t.Errorf("%v: got %q, want %q", tc.args, got, tc.want)
		}
	}
	if got := c.do("INFO", "server"); !strings.HasPrefix(got, "=") || !strings.Contains(got, "txt:# Server") {
		t.Errorf("INFO in RESP3 is not verbatim: %.60q", got)
	}
	if got := c.do("HELLO", "2"); !strings.HasPrefix(got, "*14\r\n") {
		t.Errorf("HELLO 2: %.40q", got)
	}
	if got := c.do("GET", "nokey"); got != "$-1\r\n" {
		t.Errorf("GET after HELLO 2: %q", got)
	}
}

func TestMaxClients(t *testing.T) {
	s := startServer(t, Config{MaxClients: 2})
	a, b := dialRaw(t, s.Addr().String()), dialRaw(t, s.Addr().String())
	a.do("PING")
	b.do("PING")
	c := dialRaw(t, s.Addr().String())
	if got := c.reply(); got != "-ERR max number of clients reached\r\n" {
		t.Fatalf("third client got %q", got)
	}
	if !c.closed() {
		t.Fatal("rejected client not closed")
	}
	a.nc.Close()
	waitFor(t, "a slot to free up", func() bool {
		s.net.mu.Lock()
		defer s.net.mu.Unlock()
		return len(s.net.conns) < 2
	})
	if got := dialRaw(t, s.Addr().String()).do("PING"); got != "+PONG\r\n" {
		t.Fatalf("after a client left: %q", got)
	}
	if s.stats.rejected.Load() != 1 {
		t.Errorf("rejected = %d", s.stats.rejected.Load())
	}
}

func TestIdleTimeout(t *testing.T) {
	s := startServer(t, Config{Timeout: 200 * time.Millisecond})
	c := dialRaw(t, s.Addr().String())
	c.do("PING")
	if !c.closed() {
		t.Fatal("idle client not closed")
	}
	// CONFIG SET timeout 0 disables it for new reads.
	d := dialRaw(t, s.Addr().String())
	if got := d.do("CONFIG", "SET", "timeout", "0"); got != "+OK\r\n" {
		t.Fatal(got)
	}
	time.Sleep(500 * time.Millisecond)
	if got := d.do("PING"); got != "+PONG\r\n" {
		t.Fatalf("client closed despite timeout 0: %q", got)
	}
}

// TestSlowReaderBounded pipelines requests for 64 MB of replies without
// reading any: the server must stop reading and hold at most one flush
// threshold plus one reply of output, not all of it.
func TestSlowReaderBounded(t *testing.T) {
	s := startServer(t, Config{})
	ctx := ctxT(t)
	rdb := newClient(t, s.Addr().String(), nil)
	const size = 1 << 20
	if err := rdb.Set(ctx, "big", strings.Repeat("x", size), 0).Err(); err != nil {
		t.Fatal(err)
	}
	c := dialRaw(t, s.Addr().String())
	const n = 64
	c.send(strings.Repeat(encode("GET", "big"), n))
	time.Sleep(300 * time.Millisecond) // let the server fill the socket buffers and block
	if peak := s.stats.maxOut.Load(); peak > flushThreshold+size+1024 {
		t.Fatalf("server buffered %d bytes of replies for a client that reads nothing", peak)
	}
	for i := 0; i < n; i++ {
		if r := c.reply(); len(r) != size+len("$1048576\r\n\r\n") {
			t.Fatalf("reply %d has %d bytes", i, len(r))
		}
	}
	if peak := s.stats.maxOut.Load(); peak > flushThreshold+size+1024 {
		t.Fatalf("peak output buffer %d", peak)
	}
}

// TestShutdownFinishesInFlight checks that Shutdown lets a connection finish
// the commands it has received, replies to each, then closes it.
func TestShutdownFinishesInFlight(t *testing.T) {
	s, err := New(Config{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	idle := dialRaw(t, ln.Addr().String())
	idle.do("PING")
	const n = 20000
	var batch strings.Builder
	for i := 0; i < n; i++ {
		batch.WriteString(encode("SET", "k"+strconv.Itoa(i), "v"))
	}
	go func() { _, _ = nc.Write([]byte(batch.String())) }()
	br := bufio.NewReader(nc)
	_ = nc.SetReadDeadline(time.Now().Add(20 * time.Second))
	first, err := readReply(br)
	if err != nil || first != "+OK\r\n" {
		t.Fatalf("first reply %q, %v", first, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(ctx) }()
	oks := 1
	for {
		r, err := readReply(br)
		if err != nil {
			if err != io.EOF && !strings.Contains(err.Error(), "reset") {
				t.Fatalf("after %d replies: %v", oks, err)
			}
			if r != "" {
				t.Fatalf("partial reply %q at close", r)
			}
			break
		}
		if r != "+OK\r\n" {
			t.Fatalf("reply %q", r)
		}
		oks++
	}
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-served; err != ErrServerClosed {
		t.Fatalf("Serve returned %v", err)
	}
	if !idle.closed() {
		t.Error("idle connection not closed by Shutdown")
	}
	// Every command executed was answered, and every answer is a command
	// executed.
	if got, _, _ := s.counts(commands["set"].id); got != uint64(oks) {
		t.Errorf("server executed %d SETs, client got %d replies", got, oks)
	}
	if err := s.Serve(ln); err != ErrServerClosed {
		t.Errorf("Serve after Shutdown: %v", err)
	}
}

func TestShutdownContextExpires(t *testing.T) {
	s := startServer(t, Config{})
	ctx := ctxT(t)
	// A client that never reads, blocked in a write: Shutdown must give up
	// at its deadline and close it.
	rdb := newClient(t, s.Addr().String(), nil)
	if err := rdb.Set(ctx, "big", strings.Repeat("x", 1<<20), 0).Err(); err != nil {
		t.Fatal(err)
	}
	c := dialRaw(t, s.Addr().String())
	c.send(strings.Repeat(encode("GET", "big"), 64))
	time.Sleep(200 * time.Millisecond)
	sctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(sctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want deadline exceeded", err)
	}
}

func TestMaxMemoryNoEviction(t *testing.T) {
	s := startServer(t, Config{MaxMemory: 1 << 20, MaxMemoryPolicy: "noeviction"})
	ctx := ctxT(t)
	rdb := newClient(t, s.Addr().String(), nil)
	val := strings.Repeat("v", 1000)
	var err error
	for i := 0; i < 5000 && err == nil; i++ {
		err = rdb.Set(ctx, fmt.Sprint("k", i), val, 0).Err()
	}
	if err == nil || err.Error() != "OOM command not allowed when used memory > 'maxmemory'." {
		t.Fatalf("expected OOM, got %v", err)
	}
	if err := rdb.Get(ctx, "k1").Err(); err != nil {
		t.Errorf("GET while OOM: %v", err)
	}
	if err := rdb.Del(ctx, "k1", "k2", "k3").Err(); err != nil {
		t.Errorf("DEL while OOM: %v", err)
	}
	if err := rdb.ConfigSet(ctx, "maxmemory-policy", "allkeys-lru").Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Set(ctx, "after", val, 0).Err(); err != nil {
		t.Errorf("SET after switching to allkeys-lru: %v", err)
	}
}

func TestEvictionAndExpiry(t *testing.T) {
	s := startServer(t, Config{MaxMemory: 2 << 20})
	ctx := ctxT(t)
	rdb := newClient(t, s.Addr().String(), nil)
	val := strings.Repeat("v", 1000)
	pipe := rdb.Pipeline()
	for i := 0; i < 10000; i++ {
		pipe.Set(ctx, fmt.Sprint("k", i), val, 0)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	info := rdb.Info(ctx, "stats", "memory").Val()
	if strings.Contains(info, "evicted_keys:0\r\n") {
		t.Errorf("no eviction after writing 10 MB into 2 MB:\n%s", info)
	}
	if n := rdb.DBSize(ctx).Val(); n >= 10000 || n == 0 {
		t.Errorf("dbsize %d", n)
	}
	if err := rdb.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	// Keys with a short TTL vanish without being read.
	pipe = rdb.Pipeline()
	for i := 0; i < 5000; i++ {
		pipe.Set(ctx, fmt.Sprint("t", i), "1", 100*time.Millisecond)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "short-TTL keys to expire unread", func() bool { return rdb.DBSize(ctx).Val() == 0 })
	if info := rdb.Info(ctx, "stats").Val(); !strings.Contains(info, "expired_keys:") || strings.Contains(info, "expired_keys:0\r\n") {
		t.Errorf("expired_keys not counted:\n%s", info)
	}
}

func TestMetricsEndpoints(t *testing.T) {
	cfg := Config{
		Addr:        fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t)),
		MetricsAddr: fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t)),
		Logger:      discardLogger(),
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.ListenAndServe() }()
	waitFor(t, "listening", func() bool { return s.Addr() != nil && s.MetricsAddr() != nil })
	ctx := ctxT(t)
	rdb := newClient(t, s.Addr().String(), nil)
	rdb.Set(ctx, "k", "v", 0)
	rdb.Get(ctx, "k")
	rdb.Get(ctx, "nokey")
	rdb.Do(ctx, "GET")
	base := "http://" + s.MetricsAddr().String()
	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("/healthz %d", code)
	}
	if code, _ := get("/readyz"); code != 200 {
		t.Errorf("/readyz %d", code)
	}
	_, body := get("/metrics")
	for _, want := range []string{
		`cachenode_commands_total{cmd="get",result="ok"} 2`,
		`cachenode_commands_total{cmd="get",result="error"} 1`,
		`cachenode_commands_total{cmd="set",result="ok"} 1`,
		"cachenode_keyspace_hits_total 1",
		"cachenode_keyspace_misses_total 1",
		"cachenode_keys 1",
		"cachenode_memory_used_bytes",
		"cachenode_memory_max_bytes 0",
		"cachenode_connected_clients 1",
		"cachenode_connections_total",
		"cachenode_rejected_connections_total 0",
		"cachenode_evicted_keys_total 0",
		"cachenode_expired_keys_total 0",
		`cachenode_command_duration_seconds_bucket{cmd=`, // the first command of a connection is timed
		"cachenode_ready 1",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	if err := <-served; err != ErrServerClosed {
		t.Fatalf("ListenAndServe: %v", err)
	}
	if s.ready() {
		t.Error("ready after Shutdown")
	}
}

func TestLargeValues(t *testing.T) {
	s := startServer(t, Config{})
	ctx := ctxT(t)
	rdb := newClient(t, s.Addr().String(), nil)
	for _, size := range []int{0, 1, 16 << 10, 1 << 20, 8 << 20} {
		v := strings.Repeat("x", size)
		if err := rdb.Set(ctx, "big", v, 0).Err(); err != nil {
			t.Fatalf("SET %d bytes: %v", size, err)
		}
		if got, err := rdb.Get(ctx, "big").Result(); err != nil || got != v {
			t.Fatalf("GET %d bytes: len %d, %v", size, len(got), err)
		}
		if n := rdb.Append(ctx, "big", "y").Val(); n != int64(size+1) {
			t.Fatalf("APPEND to %d bytes: %d", size, n)
		}
	}
}

// TestConcurrentClients runs mixed traffic from many connections while
// others list clients, read INFO and change the configuration (race test).
func TestConcurrentClients(t *testing.T) {
	s := startServer(t, Config{MaxMemory: 4 << 20})
	ctx := ctxT(t)
	rdb := newClient(t, s.Addr().String(), &redis.Options{PoolSize: 16})
	errc := make(chan error, 20)
	for w := 0; w < 16; w++ {
		go func(w int) {
			var err error
			for i := 0; i < 300 && err == nil; i++ {
				k := fmt.Sprintf("k%d", (w*7919+i)%500)
				switch i % 6 {
				case 0:
					err = rdb.Set(ctx, k, strings.Repeat("v", 100+i), time.Minute).Err()
				case 1:
					err = rdb.Get(ctx, k).Err()
				case 2:
					err = rdb.Incr(ctx, "counter").Err()
				case 3:
					err = rdb.MGet(ctx, k, "counter", "x").Err()
				case 4:
					err = rdb.Expire(ctx, k, time.Hour).Err()
				case 5:
					err = rdb.Del(ctx, k).Err()
				}
				if err == redis.Nil {
					err = nil
				}
			}
			errc <- err
		}(w)
	}
	for w := 0; w < 4; w++ {
		go func(w int) {
			var err error
			for i := 0; i < 30 && err == nil; i++ {
				switch w {
				case 0:
					err = rdb.ClientList(ctx).Err()
				case 1:
					err = rdb.Info(ctx, "all").Err()
				case 2:
					err = rdb.ConfigSet(ctx, "maxmemory", strconv.Itoa((4+i%3)<<20)).Err()
				case 3:
					err = rdb.Scan(ctx, 0, "*", 100).Err()
				}
			}
			errc <- err
		}(w)
	}
	for i := 0; i < 20; i++ {
		if err := <-errc; err != nil {
			t.Error(err)
		}
	}
	if got := rdb.Get(ctx, "counter").Val(); got != "800" {
		t.Errorf("counter = %s, want 800 (16 workers x 50 INCR)", got)
	}
}

// TestIdleConnectionMemory measures what an idle client costs the server
// (buffers, goroutine stack) and bounds it.
func TestIdleConnectionMemory(t *testing.T) {
	s := startServer(t, Config{})
	const n = 300
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	conns := make([]*rawConn, n)
	for i := range conns {
		conns[i] = dialRaw(t, s.Addr().String())
		conns[i].do("PING")
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	// Both ends live in this process: the client side (a bufio.Reader of
	// 4 KB and a net.Conn per connection) is counted too.
	per := (int64(after.HeapInuse+after.StackInuse) - int64(before.HeapInuse+before.StackInuse)) / n
	t.Logf("idle connection: %d bytes (server and test client sides)", per)
	if per > 64<<10 {
		t.Errorf("an idle connection costs %d bytes", per)
	}
}

// TestWorkerReuse: connection goroutines outlive their clients and serve
// the next ones (keeping their grown stacks), and Close ends them.
func TestWorkerReuse(t *testing.T) {
	s, ln, stop, err := serveOn(t, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		c := dialRaw(t, ln.Addr().String())
		if r := c.do("PING"); r != "+PONG\r\n" {
			t.Fatalf("PING: %q", r)
		}
		c.nc.Close()
		waitNoConns(t, s) // its goroutine then waits for the next connection
		time.Sleep(5 * time.Millisecond)
	}
	if n := s.workers.started.Load(); n > 3 {
		t.Errorf("%d connection goroutines started for 20 clients one after another, want them reused", n)
	}
	if err := stop(); err != ErrServerClosed { // Close returns once every connection goroutine has ended
		t.Errorf("Serve returned %v", err)
	}
}
