// Tests of CLIENT TRACKING.

package cachenode

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachetier/cachetier/internal/redistest"
)

// inv is the raw RESP3 invalidation push for keys (none: the null of a flush).
func inv(keys ...string) string {
	if len(keys) == 0 {
		return ">2\r\n$10\r\ninvalidate\r\n_\r\n"
	}
	s := ">2\r\n$10\r\ninvalidate\r\n*" + strconv.Itoa(len(keys)) + "\r\n"
	for _, k := range keys {
		s += "$" + strconv.Itoa(len(k)) + "\r\n" + k + "\r\n"
	}
	return s
}

// expectNoPush checks that nothing arrives on r within d.
func expectNoPush(t *testing.T, r *rawConn, d time.Duration) {
	t.Helper()
	_ = r.nc.SetReadDeadline(time.Now().Add(d))
	if b, err := r.br.Peek(1); err == nil {
		line, _ := readReply(r.br)
		t.Fatalf("unexpected message %q (first byte %q)", line, b)
	}
}

// trackingPair starts a server and returns a RESP3 connection to it that has
// CLIENT TRACKING on (default mode) and a second, plain one for writes.
func trackingPair(t *testing.T) (tr, w *rawConn) {
	t.Helper()
	s := startServer(t, Config{})
	tr = dialRaw(t, s.Addr().String())
	w = dialRaw(t, s.Addr().String())
	if r := tr.do("HELLO", "3"); !strings.HasPrefix(r, "%") {
		t.Fatalf("HELLO 3: %q", r)
	}
	if r := tr.do("CLIENT", "TRACKING", "on"); r != "+OK\r\n" {
		t.Fatalf("CLIENT TRACKING on: %q", r)
	}
	return tr, w
}

// TestTrackingDefaultMode: a RESP3 client that read a key gets one
// invalidation push when another client writes it, when it expires, when
// it is evicted or deleted, and a null one on FLUSHALL; the push reaches a
// client that is idle, waiting for a request.
func TestTrackingDefaultMode(t *testing.T) {
	tr, w := trackingPair(t)
	w.do("SET", "k", "1")
	if r := tr.do("GET", "k"); r != "$1\r\n1\r\n" {
		t.Fatalf("GET k: %q", r)
	}
	// Another client writes: the idle tracking client is told at once.
	w.do("SET", "k", "2")
	if r := tr.reply(); r != inv("k") {
		t.Fatalf("after SET by another client: %q, want %q", r, inv("k"))
	}
	// Only once: the key is forgotten until read again.
	w.do("SET", "k", "3")
	expectNoPush(t, tr, 100*time.Millisecond)
	tr.do("GET", "k")
	w.do("DEL", "k")
	if r := tr.reply(); r != inv("k") {
		t.Fatalf("after DEL: %q", r)
	}
	// MGET tracks every key; MSET invalidates those it writes.
	tr.do("MGET", "a", "b")
	w.do("MSET", "b", "1", "c", "1")
	if r := tr.reply(); r != inv("b") {
		t.Fatalf("after MSET: %q", r)
	}
	// Expiry by the server (lazy here: the writer reads it after its TTL).
	w.do("SET", "e", "1", "PX", "50")
	tr.do("GET", "e")
	time.Sleep(120 * time.Millisecond)
	if r := w.do("GET", "e"); r != "$-1\r\n" {
		t.Fatalf("GET e after its TTL: %q", r)
	}
	if r := tr.reply(); r != inv("e") {
		t.Fatalf("after expiry: %q", r)
	}
	// Own writes are reported too (no NOLOOP), after the reply.
	tr.do("GET", "own")
	if r := tr.do("SET", "own", "1"); r != "+OK\r\n" {
		t.Fatalf("SET own: %q", r)
	}
	if r := tr.reply(); r != inv("own") {
		t.Fatalf("own write: %q", r)
	}
	// FLUSHALL: a null invalidation.
	w.do("FLUSHALL")
	if r := tr.reply(); r != inv() {
		t.Fatalf("after FLUSHALL: %q", r)
	}
	// INFO and CLIENT LIST show the tracking client.
	info := w.do("INFO", "clients")
	if !strings.Contains(info, "tracking_clients:1\r\n") {
		t.Errorf("INFO clients: %q", info)
	}
	list := w.do("CLIENT", "LIST")
	if !strings.Contains(list, " flags=t ") {
		t.Errorf("CLIENT LIST has no tracking client: %q", list)
	}
	// Off: no more messages.
	tr.do("GET", "k2")
	tr.do("CLIENT", "TRACKING", "off")
	w.do("SET", "k2", "1")
	expectNoPush(t, tr, 100*time.Millisecond)
	if r := tr.do("CLIENT", "GETREDIR"); r != ":-1\r\n" {
		t.Errorf("CLIENT GETREDIR with tracking off: %q", r)
	}
}

// TestTrackingActiveExpiryAndEviction: keys removed by the server itself,
// without any client touching them, are invalidated too.
func TestTrackingActiveExpiryAndEviction(t *testing.T) {
	// LRU: "old", read once, goes before keys never read; a TinyLFU
	// policy would rank it above them and keep it.
	s := startServer(t, Config{MaxMemory: 4 << 20, MaxMemoryPolicy: "allkeys-lru"})
	tr := dialRaw(t, s.Addr().String())
	tr.do("HELLO", "3")
	tr.do("CLIENT", "TRACKING", "on")
	w := newClient(t, s.Addr().String(), nil)
	ctx := ctxT(t)
	w.Set(ctx, "ttl", "v", 100*time.Millisecond)
	tr.do("GET", "ttl")
	if r := tr.reply(); r != inv("ttl") { // the active expiry cycle, within a few 100 ms cycles
		t.Fatalf("after active expiry: %q", r)
	}
	w.Set(ctx, "old", "v", 0)
	tr.do("GET", "old")
	val := strings.Repeat("x", 1000)
	for i := 0; i < 20000; i++ { // 20 MB into 4 MB: "old" is evicted
		w.Set(ctx, "fill:"+strconv.Itoa(i), val, 0)
	}
	if r := tr.reply(); r != inv("old") {
		t.Fatalf("after eviction: %q", r)
	}
}

// TestTrackingModes: OPTIN, OPTOUT, NOLOOP, BCAST with prefixes, REDIRECT,
// and Redis's error replies.
func TestTrackingModes(t *testing.T) {
	s := startServer(t, Config{})
	w := dialRaw(t, s.Addr().String())
	t.Run("optin", func(t *testing.T) {
		c := dialRaw(t, s.Addr().String())
		c.do("HELLO", "3")
		if r := c.do("CLIENT", "CACHING", "yes"); r != "-ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled\r\n" {
			t.Errorf("CLIENT CACHING without tracking: %q", r)
		}
		c.do("CLIENT", "TRACKING", "on", "OPTIN")
		if r := c.do("CLIENT", "CACHING", "no"); r != "-ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.\r\n" {
			t.Errorf("CLIENT CACHING no in OPTIN mode: %q", r)
		}
		c.do("GET", "in1") // not tracked
		c.do("CLIENT", "CACHING", "yes")
		c.do("GET", "in2") // tracked
		c.do("GET", "in3") // not tracked: CACHING lasts one command
		w.do("MSET", "in1", "1", "in2", "1", "in3", "1")
		if r := c.reply(); r != inv("in2") {
			t.Fatalf("OPTIN: %q", r)
		}
		expectNoPush(t, c, 100*time.Millisecond)
		if r := c.do("CLIENT", "TRACKING", "on", "OPTOUT"); r != "-ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.\r\n" {
			t.Errorf("switch to OPTOUT: %q", r)
		}
	})
	t.Run("optout+noloop", func(t *testing.T) {
		c := dialRaw(t, s.Addr().String())
		c.do("HELLO", "3")
		c.do("CLIENT", "TRACKING", "on", "OPTOUT", "NOLOOP")
		c.do("CLIENT", "CACHING", "no")
		c.do("GET", "out1") // not tracked
		c.do("GET", "out2") // tracked
		c.do("SET", "out2", "mine")
		expectNoPush(t, c, 100*time.Millisecond) // NOLOOP: not told of its own write
		c.do("GET", "out2")
		w.do("MSET", "out1", "1", "out2", "1")
		if r := c.reply(); r != inv("out2") {
			t.Fatalf("OPTOUT: %q", r)
		}
		info := c.do("CLIENT", "TRACKINGINFO")
		if !strings.Contains(info, "$6\r\noptout\r\n") || !strings.Contains(info, "$6\r\nnoloop\r\n") {
			t.Errorf("CLIENT TRACKINGINFO: %q", info)
		}
	})
	t.Run("bcast", func(t *testing.T) {
		c := dialRaw(t, s.Addr().String())
		c.do("HELLO", "3")
		if r := c.do("CLIENT", "TRACKING", "on", "PREFIX", "user:"); r != "-ERR PREFIX option requires BCAST mode to be enabled\r\n" {
			t.Errorf("PREFIX without BCAST: %q", r)
		}
		if r := c.do("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "user:", "PREFIX", "us"); r != "-ERR Prefix 'user:' overlaps with another provided prefix 'us'. Prefixes for a single client must not overlap.\r\n" {
			t.Errorf("overlapping prefixes: %q", r)
		}
		if r := c.do("CLIENT", "TRACKING", "on", "BCAST", "OPTIN"); r != "-ERR OPTIN and OPTOUT are not compatible with BCAST\r\n" {
			t.Errorf("BCAST OPTIN: %q", r)
		}
		c.do("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "user:", "PREFIX", "item:")
		w.do("SET", "user:1", "x") // never read: BCAST reports every write under the prefixes
		if r := c.reply(); r != inv("user:1") {
			t.Fatalf("BCAST user:1: %q", r)
		}
		w.do("SET", "other", "x")
		w.do("SET", "item:9", "x")
		if r := c.reply(); r != inv("item:9") {
			t.Fatalf("BCAST item:9: %q", r)
		}
		if r := c.do("CLIENT", "TRACKING", "on"); r != "-ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.\r\n" {
			t.Errorf("switch off BCAST: %q", r)
		}
		list := w.do("CLIENT", "LIST")
		if !strings.Contains(list, " flags=tB ") {
			t.Errorf("CLIENT LIST has no BCAST client: %q", list)
		}
	})
	t.Run("redirect", func(t *testing.T) {
		sink := dialRaw(t, s.Addr().String())
		sink.do("HELLO", "3")
		id := strings.TrimSuffix(strings.TrimPrefix(sink.do("CLIENT", "ID"), ":"), "\r\n")
		c := dialRaw(t, s.Addr().String()) // RESP2: messages go to the sink
		if r := c.do("CLIENT", "TRACKING", "on", "REDIRECT", "999999"); r != "-ERR The client ID you want redirect to does not exist\r\n" {
			t.Errorf("REDIRECT to no client: %q", r)
		}
		if r := c.do("CLIENT", "TRACKING", "on", "REDIRECT", id); r != "+OK\r\n" {
			t.Fatalf("REDIRECT: %q", r)
		}
		if r := c.do("CLIENT", "GETREDIR"); r != ":"+id+"\r\n" {
			t.Errorf("CLIENT GETREDIR: %q", r)
		}
		c.do("GET", "r1")
		w.do("SET", "r1", "x")
		if r := sink.reply(); r != inv("r1") {
			t.Fatalf("redirected: %q", r)
		}
	})
}

// TestTrackingManyClients: invalidations under concurrent reads and writes
// from several go-redis clients never leave a tracking reader with a stale
// view: after the writers stop, every key a reader read last and was not
// told about holds the value it read.
func TestTrackingManyClients(t *testing.T) {
	s := startServer(t, Config{})
	ctx := ctxT(t)
	w := newClient(t, s.Addr().String(), &redis.Options{PoolSize: 4})
	r := dialRaw(t, s.Addr().String())
	r.do("HELLO", "3")
	r.do("CLIENT", "TRACKING", "on")
	const keys = 20
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 2000; i++ {
			w.Set(ctx, "m"+strconv.Itoa(i%keys), strconv.Itoa(i), 0)
		}
	}()
	cache := map[string]string{}
	read := func(k string) {
		r.send(encode("GET", k))
		for {
			rep := r.reply()
			if strings.HasPrefix(rep, ">") {
				for ck := range cache {
					if rep == inv(ck) {
						delete(cache, ck)
					}
				}
				continue
			}
			if strings.HasPrefix(rep, "$") && rep != "$-1\r\n" {
				cache[k] = rep
			}
			return
		}
	}
	for i := 0; ; i++ {
		select {
		case <-done:
		default:
			read("m" + strconv.Itoa(i%keys))
			continue
		}
		break
	}
	// Drain the messages still queued: every write has returned, so its
	// invalidation is queued for r, and r's queue is written right after
	// the reply of its next command. So after two PING round trips all of
	// it has been read (no timing involved).
	for range 2 {
		r.send(encode("PING"))
		for {
			rep := r.reply()
			if rep == "+PONG\r\n" {
				break
			}
			for ck := range cache {
				if rep == inv(ck) {
					delete(cache, ck)
				}
			}
		}
	}
	for k, v := range cache {
		got, err := w.Get(ctx, k).Result()
		if err != nil || "$"+strconv.Itoa(len(got))+"\r\n"+got+"\r\n" != v {
			t.Errorf("%s: cached %q without an invalidation, server has %q (%v)", k, v, got, err)
		}
	}
}

// TestTrackingTableBound: past its bound (here one key per KiB of a 1 MiB
// maxmemory), the tracking table drops keys and tells their clients.
func TestTrackingTableBound(t *testing.T) {
	s := startServer(t, Config{MaxMemory: 1 << 20})
	c := dialRaw(t, s.Addr().String())
	c.do("HELLO", "3")
	c.do("CLIENT", "TRACKING", "on")
	pushes := 0
	for i := 0; i < 1100; i++ {
		c.send(encode("GET", "b"+strconv.Itoa(i)))
		for {
			r := c.reply()
			if strings.HasPrefix(r, ">") {
				pushes++
				continue
			}
			break
		}
	}
	// Pushes queued by the last GETs come after its reply.
	_ = c.nc.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	for {
		if _, err := readReply(c.br); err != nil {
			break
		}
		pushes++
	}
	if pushes != 1100-1024 {
		t.Errorf("%d invalidations for keys dropped from the table, want %d", pushes, 1100-1024)
	}
	w := dialRaw(t, s.Addr().String())
	if info := w.do("INFO", "stats"); !strings.Contains(info, "tracking_total_keys:1024\r\n") {
		t.Errorf("INFO stats: %q", info)
	}
}

// TestTrackingNoOpWrites: as in Redis, a write that changes nothing (SET NX
// on an existing key, DEL of a missing one, a refused EXPIRE, an error) sends
// no invalidation; the next real change does, for exactly the keys changed.
func TestTrackingNoOpWrites(t *testing.T) {
	tr, w := trackingPair(t)
	w.do("SET", "k", "1")
	tr.do("MGET", "k", "missing")
	for _, cmd := range [][]string{
		{"SET", "k", "2", "NX"},
		{"SETNX", "k", "2"},
		{"SET", "missing", "1", "XX"},
		{"MSETNX", "k", "1", "missing", "1"},
		{"DEL", "missing"},
		{"GETDEL", "missing"},
		{"GETEX", "k"},
		{"PERSIST", "k"},
		{"EXPIRE", "k", "100", "XX"},
		{"RENAME", "k", "k"},
		{"SETRANGE", "k", "0", ""},
		{"INCR", "k2", "extra"},
		{"INCRBY", "k", "x"},
	} {
		w.do(cmd...)
	}
	expectNoPush(t, tr, 100*time.Millisecond)
	if r := w.do("DEL", "missing", "k"); r != ":1\r\n" {
		t.Fatalf("DEL: %q", r)
	}
	if r := tr.reply(); r != inv("k") {
		t.Fatalf("after DEL of k and a missing key: %q, want %q", r, inv("k"))
	}
	expectNoPush(t, tr, 100*time.Millisecond)
}

// TestTrackingTableMaxKeysVsRedis (differential): CONFIG GET/SET
// tracking-table-max-keys as in Redis 7, and with the bound at 2 a tracking
// client that reads a third key is told to drop one of the others, on both
// servers; INFO's tracking_total_keys stays within the bound.
func TestTrackingTableMaxKeysVsRedis(t *testing.T) {
	rs := redistest.Start(t)
	s := startServer(t, Config{})
	for _, srv := range []struct{ name, addr string }{{"redis", rs.Addr}, {"cachenode", s.Addr().String()}} {
		t.Run(srv.name, func(t *testing.T) {
			tr, w := dialRaw(t, srv.addr), dialRaw(t, srv.addr)
			if r := w.do("CONFIG", "GET", "tracking-table-max-keys"); r != "*2\r\n$23\r\ntracking-table-max-keys\r\n$7\r\n1000000\r\n" {
				t.Fatalf("CONFIG GET: %q", r)
			}
			if r := w.do("CONFIG", "SET", "tracking-table-max-keys", "x"); !strings.HasPrefix(r, "-ERR CONFIG SET failed (possibly related to argument 'tracking-table-max-keys')") {
				t.Fatalf("CONFIG SET x: %q", r)
			}
			if r := w.do("CONFIG", "SET", "tracking-table-max-keys", "2"); r != "+OK\r\n" {
				t.Fatalf("CONFIG SET 2: %q", r)
			}
			t.Cleanup(func() { w.do("CONFIG", "SET", "tracking-table-max-keys", "1000000") })
			tr.do("HELLO", "3")
			tr.do("CLIENT", "TRACKING", "on")
			var seen []string // every reply and push, in order
			for _, k := range []string{"a", "b", "c"} {
				w.do("SET", k, "1")
				seen = append(seen, tr.do("GET", k))
			}
			// Redis trims the table in its cron (10 Hz) as well as on a
			// tracked read; wait a moment, then read until a PING's reply.
			time.Sleep(250 * time.Millisecond)
			tr.send(encode("PING"))
			for len(seen) < 20 && seen[len(seen)-1] != "+PONG\r\n" {
				seen = append(seen, tr.reply())
			}
			found := false
			for _, r := range seen {
				found = found || strings.HasPrefix(r, ">2") && strings.Contains(r, "invalidate")
			}
			if !found {
				t.Fatalf("no invalidation for an overflowed key: %q", seen)
			}
			info := w.do("INFO", "stats")
			i := strings.Index(info, "tracking_total_keys:")
			if i < 0 {
				t.Fatalf("INFO has no tracking_total_keys")
			}
			n, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(info[i+len("tracking_total_keys:"):], "\r\n", 2)[0]))
			if n > 2 {
				t.Fatalf("tracking_total_keys = %d over the bound 2", n)
			}
		})
	}
}
