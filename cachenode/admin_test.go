// Tests of the admin commands: MEMORY, OBJECT, CLIENT, CONFIG, COMMAND, pause.

package cachenode

import (
	"bufio"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cachetier/cachetier/cachenode/internal/cmddocs"
	"github.com/cachetier/cachetier/cachenode/internal/store"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"
)

// infoField returns the integer value of field in an INFO reply.
func infoField(t *testing.T, info, field string) int64 {
	t.Helper()
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatalf("INFO %s: %q", field, v)
			}
			return n
		}
	}
	t.Fatalf("INFO has no %s", field)
	return 0
}

// Sizes of the store's entry layout (cachenode/internal/store/entry.go) that
// TestMemoryUsage checks MEMORY USAGE against: the page size entries larger
// than 64 KiB are rounded to, the expiry time of a key with a TTL, and the
// index slot of a key.
const (
	entryPage = 4096
	entryTTL  = 8
	indexSlot = store.KeyIndexBytes
)

func TestMemoryUsage(t *testing.T) {
	s := startServer(t, Config{})
	rdb := newClient(t, s.Addr().String(), nil)
	ctx := ctxT(t)
	if err := rdb.MemoryUsage(ctx, "nokey").Err(); err != redis.Nil {
		t.Fatalf("MEMORY USAGE of a missing key: %v, want nil reply", err)
	}
	// Used memory without the pages prefaulted ahead of writes, which move
	// it in 16 KiB steps rather than entry by entry.
	written := func() int64 {
		var st store.Stats
		s.store.UpdateStats(&st)
		return st.UsedMemory - st.Prefaulted
	}
	for _, size := range []int{0, 10, 100, 1000, 70 << 10, 1 << 20} {
		key := "key:" + strconv.Itoa(size)
		before := written()
		if err := rdb.Set(ctx, key, strings.Repeat("v", size), 0).Err(); err != nil {
			t.Fatal(err)
		}
		delta := written() - before
		got, err := rdb.MemoryUsage(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		if min := int64(len(key) + size); got < min || got > min+entryPage+64 {
			t.Errorf("MEMORY USAGE of a %d-byte value = %d, want %d..%d", size, got, min, min+entryPage+64)
		}
		// The store's accounting moved by the entry (plus, at most, an index
		// table that grew): MEMORY USAGE must agree with it.
		if got > delta+indexSlot || delta > got+32<<10 {
			t.Errorf("MEMORY USAGE %d, but used memory grew by %d", got, delta)
		}
		withSamples, err := rdb.MemoryUsage(ctx, key, 0).Result()
		if err != nil || withSamples != got {
			t.Errorf("MEMORY USAGE SAMPLES 0 = %d, %v; want %d", withSamples, err, got)
		}
	}
	// A TTL costs its 8 bytes, as in the store's entry header.
	rdb.Set(ctx, "t", "v", 0)
	a, _ := rdb.MemoryUsage(ctx, "t").Result()
	rdb.Expire(ctx, "t", time.Hour)
	b, _ := rdb.MemoryUsage(ctx, "t").Result()
	if b != a+entryTTL {
		t.Errorf("MEMORY USAGE with TTL %d, without %d: want a difference of %d", b, a, entryTTL)
	}
	// MEMORY USAGE counts neither hits nor misses (Redis uses dictFind).
	info, _ := rdb.Info(ctx, "stats").Result()
	if h, m := infoField(t, info, "keyspace_hits"), infoField(t, info, "keyspace_misses"); h != 0 || m != 0 {
		t.Errorf("MEMORY USAGE counted keyspace hits/misses: %d/%d", h, m)
	}
}

func TestMemoryStatsAndDoctor(t *testing.T) {
	s := startServer(t, Config{})
	for _, proto := range []int{2, 3} {
		rdb := newClient(t, s.Addr().String(), &redis.Options{Protocol: proto})
		ctx := ctxT(t)
		rdb.Set(ctx, "k", strings.Repeat("x", 1000), 0)
		st, err := rdb.Do(ctx, "MEMORY", "STATS").Result()
		if err != nil {
			t.Fatal(err)
		}
		fields := map[string]any{}
		switch v := st.(type) {
		case map[any]any: // RESP3
			for k, x := range v {
				fields[k.(string)] = x
			}
		case []any: // RESP2: a flat list of name, value
			for i := 0; i+1 < len(v); i += 2 {
				fields[v[i].(string)] = v[i+1]
			}
		default:
			t.Fatalf("RESP%d MEMORY STATS: %T", proto, st)
		}
		if n, ok := fields["keys.count"].(int64); !ok || n != 1 {
			t.Errorf("RESP%d MEMORY STATS keys.count = %v", proto, fields["keys.count"])
		}
		if n, ok := fields["dataset.bytes"].(int64); !ok || n != s.store.UsedMemory() {
			t.Errorf("RESP%d MEMORY STATS dataset.bytes = %v, store uses %d", proto, fields["dataset.bytes"], s.store.UsedMemory())
		}
		doc, err := rdb.Do(ctx, "MEMORY", "DOCTOR").Text()
		if err != nil || !strings.HasPrefix(doc, "Hi Sam") {
			t.Errorf("RESP%d MEMORY DOCTOR: %q, %v", proto, doc, err)
		}
	}
}

func TestObjectEncoding(t *testing.T) {
	cases := map[string]string{
		"0": "int", "-1": "int", "9223372036854775807": "int", "9223372036854775808": "embstr",
		"01": "embstr", "1.5": "embstr", "": "embstr", " 1": "embstr",
		strings.Repeat("a", 44): "embstr", strings.Repeat("a", 45): "raw",
	}
	for v, want := range cases {
		if got := stringEncoding([]byte(v)); got != want {
			t.Errorf("stringEncoding(%q) = %s, want %s", v, got, want)
		}
	}
	s := startServer(t, Config{MaxMemory: 10 << 20}) // allkeys-lru with maxmemory: integers are not shared
	rdb := newClient(t, s.Addr().String(), nil)
	ctx := ctxT(t)
	rdb.Set(ctx, "n", "5", 0)
	if enc, err := rdb.ObjectEncoding(ctx, "n").Result(); err != nil || enc != "int" {
		t.Errorf("OBJECT ENCODING n = %q, %v", enc, err)
	}
	if rc, err := rdb.ObjectRefCount(ctx, "n").Result(); err != nil || rc != 1 {
		t.Errorf("OBJECT REFCOUNT with maxmemory and allkeys-lru = %d, %v; want 1 (no shared integers)", rc, err)
	}
	rdb.ConfigSet(ctx, "maxmemory-policy", "noeviction")
	if rc, err := rdb.ObjectRefCount(ctx, "n").Result(); err != nil || rc != sharedRefcount {
		t.Errorf("OBJECT REFCOUNT with noeviction = %d, %v; want %d (shared integer)", rc, err, sharedRefcount)
	}
	if _, err := rdb.ObjectFreq(ctx, "n").Result(); err == nil || !strings.HasPrefix(err.Error(), "ERR An LFU maxmemory policy is not selected") {
		t.Errorf("OBJECT FREQ: %v", err)
	}
}

func TestClusterDisabled(t *testing.T) {
	s := startServer(t, Config{})
	rdb := newClient(t, s.Addr().String(), nil)
	ctx := ctxT(t)
	for _, err := range []error{rdb.ClusterInfo(ctx).Err(), rdb.ClusterSlots(ctx).Err(), rdb.ReadOnly(ctx).Err(), rdb.ReadWrite(ctx).Err(), rdb.ClusterKeySlot(ctx, "k").Err()} {
		if err == nil || err.Error() != errClusterDisabled {
			t.Errorf("got %v, want %q", err, errClusterDisabled)
		}
	}
}

func TestReset(t *testing.T) {
	s := startServer(t, Config{RequirePass: "pw"})
	c := dialRaw(t, s.Addr().String())
	if r := c.do("HELLO", "3", "AUTH", "default", "pw", "SETNAME", "n1"); r[0] != '%' {
		t.Fatalf("HELLO 3: %q", r)
	}
	c.do("CLIENT", "NO-EVICT", "on")
	c.do("CLIENT", "NO-TOUCH", "on")
	if r := c.do("CLIENT", "INFO"); !strings.Contains(r, " flags=eT ") || !strings.Contains(r, " name=n1 ") {
		t.Errorf("CLIENT INFO before RESET: %q", r)
	}
	if r := c.do("RESET"); r != "+RESET\r\n" {
		t.Fatalf("RESET: %q", r)
	}
	if r := c.do("GET", "k"); r != "-"+errNoAuth+"\r\n" {
		t.Errorf("GET after RESET with requirepass: %q, want NOAUTH", r)
	}
	c.do("AUTH", "pw")
	if r := c.do("GET", "k"); r != "$-1\r\n" {
		t.Errorf("GET after RESET: %q, want a RESP2 null", r)
	}
	if r := c.do("CLIENT", "INFO"); !strings.Contains(r, " flags=N ") || !strings.Contains(r, " name= ") || !strings.Contains(r, " resp=2 ") {
		t.Errorf("CLIENT INFO after RESET: %q", r)
	}
}

func TestClientKill(t *testing.T) {
	s := startServer(t, Config{})
	me := dialRaw(t, s.Addr().String())
	a := dialRaw(t, s.Addr().String())
	b := dialRaw(t, s.Addr().String())
	c := dialRaw(t, s.Addr().String())
	for _, r := range []*rawConn{me, b, c} { // a round trip: the server has registered them
		if got := r.do("PING"); got != "+PONG\r\n" {
			t.Fatalf("PING: %q", got)
		}
	}
	idOf := func(r *rawConn) string {
		return strings.TrimSuffix(strings.TrimPrefix(r.do("CLIENT", "ID"), ":"), "\r\n")
	}

	if r := me.do("CLIENT", "KILL", "ID", idOf(a)); r != ":1\r\n" {
		t.Fatalf("CLIENT KILL ID: %q", r)
	}
	if !a.closed() {
		t.Error("the client killed by ID is still connected")
	}
	if r := me.do("CLIENT", "KILL", b.nc.LocalAddr().String()); r != "+OK\r\n" {
		t.Fatalf("CLIENT KILL ip:port: %q", r)
	}
	if !b.closed() {
		t.Error("the client killed by address is still connected")
	}
	if r := me.do("CLIENT", "KILL", b.nc.LocalAddr().String()); r != "-ERR No such client\r\n" {
		t.Errorf("CLIENT KILL of a gone client: %q", r)
	}
	// SKIPME yes (default): every other client of user default; me survives.
	if r := me.do("CLIENT", "KILL", "USER", "default", "LADDR", s.Addr().String()); r != ":1\r\n" {
		t.Errorf("CLIENT KILL USER default LADDR: %q, want 1 (c)", r)
	}
	if !c.closed() {
		t.Error("client c is still connected")
	}
	if r := me.do("PING"); r != "+PONG\r\n" {
		t.Errorf("PING after SKIPME yes: %q", r)
	}
	// Killing itself: the reply comes first, then the connection closes.
	if r := me.do("CLIENT", "KILL", "ADDR", me.nc.LocalAddr().String(), "SKIPME", "no"); r != ":1\r\n" {
		t.Errorf("self CLIENT KILL: %q", r)
	}
	if !me.closed() {
		t.Error("the client that killed itself is still connected")
	}
	// go-redis's helper and the server's view.
	rdb := newClient(t, s.Addr().String(), &redis.Options{PoolSize: 1})
	ctx := ctxT(t)
	if n, err := rdb.ClientKillByFilter(ctx, "TYPE", "pubsub").Result(); err != nil || n != 0 {
		t.Errorf("CLIENT KILL TYPE pubsub = %d, %v", n, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		list, _ := rdb.ClientList(ctx).Result()
		if strings.Count(list, "\n") == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("killed clients still listed:\n%s", list)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestClientNoTouch(t *testing.T) {
	s := startServer(t, Config{})
	rdb := newClient(t, s.Addr().String(), &redis.Options{PoolSize: 1})
	ctx := ctxT(t)
	rdb.Set(ctx, "k", "v", 0)
	if err := rdb.Do(ctx, "CLIENT", "NO-TOUCH", "on").Err(); err != nil {
		t.Fatal(err)
	}
	if v, err := rdb.Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Errorf("GET with NO-TOUCH: %q, %v", v, err)
	}
	if err := rdb.Do(ctx, "CLIENT", "NO-TOUCH", "maybe").Err(); err == nil || err.Error() != errSyntax {
		t.Errorf("CLIENT NO-TOUCH maybe: %v", err)
	}
	info, _ := rdb.Info(ctx, "stats").Result()
	if infoField(t, info, "keyspace_hits") != 1 {
		t.Errorf("a GET with NO-TOUCH must still count a hit:\n%s", info)
	}
}

func TestConfigResetStat(t *testing.T) {
	s := startServer(t, Config{})
	rdb := newClient(t, s.Addr().String(), &redis.Options{PoolSize: 1})
	ctx := ctxT(t)
	rdb.Set(ctx, "k", "v", 0)
	for range 5 {
		rdb.Get(ctx, "k")
		rdb.Get(ctx, "nokey")
	}
	info, _ := rdb.Info(ctx, "stats", "commandstats").Result()
	if infoField(t, info, "keyspace_hits") != 5 || infoField(t, info, "keyspace_misses") != 5 || !strings.Contains(info, "cmdstat_get:calls=10,") {
		t.Fatalf("before RESETSTAT:\n%s", info)
	}
	if err := rdb.ConfigResetStat(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	rdb.Get(ctx, "k")
	info, _ = rdb.Info(ctx, "stats", "commandstats").Result()
	for field, want := range map[string]int64{"keyspace_hits": 1, "keyspace_misses": 0, "total_connections_received": 0, "total_commands_processed": 2} {
		if got := infoField(t, info, field); got != want {
			t.Errorf("after RESETSTAT %s = %d, want %d", field, got, want)
		}
	}
	if !strings.Contains(info, "cmdstat_get:calls=1,") || strings.Contains(info, "cmdstat_set:") {
		t.Errorf("commandstats not reset:\n%s", info)
	}
	// The Prometheus counters keep counting: they must never go backwards.
	mfs, err := s.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	if v := counterValue(mfs, "cachenode_keyspace_hits_total"); v != 6 {
		t.Errorf("cachenode_keyspace_hits_total = %v after RESETSTAT, want 6", v)
	}
}

func counterValue(mfs []*dto.MetricFamily, name string) float64 {
	for _, mf := range mfs {
		if mf.GetName() == name {
			var sum float64
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
			return sum
		}
	}
	return -1
}

func TestCommandTableConsistency(t *testing.T) {
	s := startServer(t, Config{})
	c := dialRaw(t, s.Addr().String())
	count := c.do("COMMAND", "COUNT")
	list := c.do("COMMAND", "LIST")
	if want := ":" + strconv.Itoa(strings.Count(list, "\r\n$")) + "\r\n"; count != want {
		t.Errorf("COMMAND COUNT %q, COMMAND LIST has %q entries", count, want)
	}
	// Every command and subcommand has Redis's recorded docs and info,
	// except the ones redis-server 7.0 (which recorded them) lacks.
	newer := map[string]bool{"client|no-touch": true, "client|setinfo": true, "cluster|myshardid": true}
	for _, cmd := range commandList {
		_, hasDocs := cmddocs.Docs()[cmd.name]
		_, hasInfo := cmddocs.Info()[cmd.name]
		if (!hasDocs || !hasInfo) && !newer[cmd.name] {
			t.Errorf("%s: recorded docs %v, info %v; regenerate with CACHENODE_GEN_DOCS=1", cmd.name, hasDocs, hasInfo)
		}
	}
	for _, name := range []string{"memory|usage", "object|encoding", "client|kill", "cluster|info", "reset", "role", "slowlog|get"} {
		r := c.do("COMMAND", "DOCS", name)
		if _, err := cmddocs.Parse(bufio.NewReader(strings.NewReader(r))); err != nil || !strings.Contains(r, name) || !strings.Contains(r, "summary") {
			t.Errorf("COMMAND DOCS %s: %q", name, r)
		}
		if r := c.do("COMMAND", "INFO", name); strings.HasPrefix(r, "*1\r\n*-1") || !strings.Contains(r, name) {
			t.Errorf("COMMAND INFO %s: %q", name, r)
		}
	}
}

func TestClientPause(t *testing.T) {
	s := startServer(t, Config{})
	admin := dialRaw(t, s.Addr().String())
	reader := dialRaw(t, s.Addr().String())
	writer := dialRaw(t, s.Addr().String())

	// WRITE: reads go on, writes wait until CLIENT UNPAUSE.
	if r := admin.do("CLIENT", "PAUSE", "600000", "WRITE"); r != "+OK\r\n" {
		t.Fatalf("CLIENT PAUSE: %q", r)
	}
	writer.send(encode("SET", "k", "v"))
	if r := reader.do("GET", "k"); r != "$-1\r\n" {
		t.Errorf("GET during a WRITE pause: %q (the SET must not have run)", r)
	}
	if r := admin.do("CLIENT", "UNPAUSE"); r != "+OK\r\n" {
		t.Fatalf("CLIENT UNPAUSE: %q", r)
	}
	if r := writer.reply(); r != "+OK\r\n" {
		t.Errorf("SET after UNPAUSE: %q", r)
	}
	if r := reader.do("GET", "k"); r != "$1\r\nv\r\n" {
		t.Errorf("GET after UNPAUSE: %q", r)
	}

	// ALL: every command waits for the timeout; a pipeline's earlier
	// replies are written before waiting.
	start := time.Now()
	admin.do("CLIENT", "PAUSE", "300")
	reader.send(encode("GET", "k"))
	if r := reader.reply(); r != "$1\r\nv\r\n" {
		t.Errorf("GET after an ALL pause: %q", r)
	}
	if el := time.Since(start); el < 250*time.Millisecond {
		t.Errorf("GET answered %v into a 300 ms ALL pause", el)
	}

	// Close ends a pause: the blocked client's goroutine must not leak
	// (goleak checks at the end of the package's tests).
	admin.do("CLIENT", "PAUSE", "600000", "ALL")
	writer.send(encode("GET", "k"))
	deadline := time.Now().Add(10 * time.Second)
	for s.pause.state.Load() == nil && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	done := make(chan struct{})
	go func() { s.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Close did not end a CLIENT PAUSE")
	}
}

// TestObjectIdleTime: OBJECT IDLETIME counts the seconds since a key was last
// read or written; a read resets it, except from a client with NO-TOUCH on,
// and OBJECT IDLETIME itself does not touch the key.
func TestObjectIdleTime(t *testing.T) {
	s := startServer(t, Config{})
	rdb := newClient(t, s.Addr().String(), nil)
	noTouch := newClient(t, s.Addr().String(), &redis.Options{PoolSize: 1})
	ctx := ctxT(t)
	rdb.Set(ctx, "old", "v", 0)
	rdb.Set(ctx, "read", "v", 0)
	rdb.Set(ctx, "peeked", "v", 0)
	if err := noTouch.Do(ctx, "CLIENT", "NO-TOUCH", "on").Err(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2600 * time.Millisecond)
	rdb.Get(ctx, "read")
	noTouch.Get(ctx, "peeked")
	noTouch.MGet(ctx, "peeked")
	for key, want := range map[string][2]time.Duration{
		"old":    {time.Second, 4 * time.Second}, // 2.6 s, ± checkpoint spacing on a loaded machine
		"read":   {0, 0},
		"peeked": {time.Second, 4 * time.Second},
	} {
		for range 2 { // asking twice: OBJECT IDLETIME does not touch
			got, err := rdb.ObjectIdleTime(ctx, key).Result()
			if err != nil || got < want[0] || got > want[1] {
				t.Errorf("OBJECT IDLETIME %s = %v, %v; want %v to %v", key, got, err, want[0], want[1])
			}
		}
	}
	if err := rdb.ObjectIdleTime(ctx, "nokey").Err(); err != redis.Nil {
		t.Errorf("OBJECT IDLETIME nokey: %v, want nil", err)
	}
}

// TestClientPauseExpiry: during a pause keys are neither expired (lazily or
// by the active cycle) nor evicted: an expired key reads as missing but is
// still counted, and expired_keys does not move until the pause ends.
func TestClientPauseExpiry(t *testing.T) {
	s := startServer(t, Config{})
	rdb := newClient(t, s.Addr().String(), nil)
	ctx := ctxT(t)
	rdb.Set(ctx, "gone", "v", 100*time.Millisecond)
	rdb.Set(ctx, "read", "v", 100*time.Millisecond)
	if err := rdb.Do(ctx, "CLIENT", "PAUSE", "5000", "WRITE").Err(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(400 * time.Millisecond) // several active expiry cycles
	if err := rdb.Get(ctx, "read").Err(); err != redis.Nil {
		t.Errorf("GET of an expired key during a pause: %v, want nil", err)
	}
	if n, _ := rdb.DBSize(ctx).Result(); n != 2 {
		t.Errorf("DBSIZE during the pause = %d, want 2 (nothing removed)", n)
	}
	info, _ := rdb.Info(ctx, "stats").Result()
	if infoField(t, info, "expired_keys") != 0 {
		t.Errorf("keys expired during the pause:\n%s", info)
	}
	if err := rdb.Do(ctx, "CLIENT", "UNPAUSE").Err(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if n, _ := rdb.DBSize(ctx).Result(); n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("expired keys not removed after the pause ended")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
