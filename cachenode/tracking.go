// CLIENT TRACKING: the tracking table, invalidation, the hooks around a command.

package cachenode

import (
	"bytes"
	"math"
	"sync"
	"sync/atomic"

	"github.com/cachetier/cachetier/internal/resp"
)

// Server-assisted client-side caching (CLIENT TRACKING), as in Redis 7:
//
//   - Default mode: the keys a tracking client reads (read-only commands;
//     with OPTIN only after CLIENT CACHING yes, with OPTOUT unless after
//     CLIENT CACHING no) are remembered; when one is modified, expired or
//     evicted, each client that read it gets one invalidation message and
//     is forgotten for that key until it reads it again.
//   - BCAST: no keys are remembered; every key modified under one of the
//     client's prefixes (all keys without PREFIX) is sent.
//   - NOLOOP: no messages about the client's own writes.
//   - FLUSHALL/FLUSHDB send every tracking client a null invalidation.
//
// Messages are RESP3 pushes: >2 "invalidate" [key] (or null). RESP2
// connections receive them only through REDIRECT to a RESP3 connection;
// Redis's other RESP2 route, a connection subscribed to
// __redis__:invalidate, needs pub/sub, which cachenode does not have.
//
// Invalidation happens after a write command has run, for the keys it
// changed (conn.signalModified: as in Redis, a write that changed nothing,
// such as SET NX on an existing key, invalidates nothing). A read's keys are
// remembered both before and after it runs, so a write racing with the read
// on another connection either lands before the read (and the read returns
// the new value) or invalidates it.

// trackingMaxKeys is the default of tracking-table-max-keys (CONFIG
// GET/SET, as in Redis), the tracking table's bound: beyond it, keys are
// dropped from the table and their clients told to invalidate them.
const trackingMaxKeys = 1_000_000

// tracking holds a connection's CLIENT TRACKING options. It is created and
// changed by the connection's goroutine with the tracker locked, and read
// by others with the tracker locked.
type tracking struct {
	bcast, optin, optout, noloop bool
	redirect                     int64
	brokenRedir                  bool
	prefixes                     []string
	caching                      bool // CLIENT CACHING was given for the next command
}

// tracker is the server's tracking state.
type tracker struct {
	active atomic.Int32 // connections with tracking on: the fast path skips everything at 0

	mu      sync.Mutex
	keys    map[string]map[int64]struct{} // default mode: key -> IDs of clients that read it
	items   int                           // sum of the sizes of keys' sets
	bcast   map[string]map[int64]struct{} // BCAST prefix -> client IDs ("" = every key)
	clients map[int64]*conn               // every connection, for IDs and redirects
}

func (t *tracker) init() {
	t.keys = make(map[string]map[int64]struct{})
	t.bcast = make(map[string]map[int64]struct{})
	t.clients = make(map[int64]*conn)
}

// maxKeys is the tracking table's bound: tracking-table-max-keys (0: none),
// and with a maxmemory at most one key per KiB of it (at least 1000), since
// the table's memory (~150 bytes a key) is outside the store's accounting.
func (t *tracker) maxKeys(s *Server) int {
	lim := s.settings.trackingMaxKeys.Load()
	if lim <= 0 {
		lim = math.MaxInt64
	}
	if m := s.settings.maxMemory.Load(); m > 0 {
		lim = min(lim, max(1000, m>>10))
	}
	return int(lim)
}

// sizes reports the tracking table for INFO: keys, (key, client) pairs and
// BCAST prefixes.
func (t *tracker) sizes() (keys, items, prefixes int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.keys), t.items, len(t.bcast)
}

func (t *tracker) addConn(c *conn) {
	t.mu.Lock()
	t.clients[c.id] = c
	t.mu.Unlock()
}

// removeConn forgets a closed connection. Its IDs left in the key table are
// dropped when those keys are invalidated, as in Redis.
func (t *tracker) removeConn(c *conn) {
	t.mu.Lock()
	t.disableLocked(c)
	delete(t.clients, c.id)
	t.mu.Unlock()
}

func (t *tracker) disable(c *conn) {
	t.mu.Lock()
	t.disableLocked(c)
	t.mu.Unlock()
}

func (t *tracker) disableLocked(c *conn) {
	tr := c.trk
	if tr == nil {
		return
	}
	for _, p := range tr.prefixes {
		if set := t.bcast[p]; set != nil {
			delete(set, c.id)
			if len(set) == 0 {
				delete(t.bcast, p)
			}
		}
	}
	c.trk = nil
	t.active.Add(-1)
}

// enable turns tracking on for c with tr's options, or changes them if it
// is on already (the caller has checked that the modes are compatible).
func (t *tracker) enable(c *conn, tr *tracking) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if c.trk != nil {
		// Redis adds new prefixes to the old ones (cmdClientTracking has
		// rejected any that overlap, so there are no duplicates).
		tr.prefixes = append(append([]string(nil), c.trk.prefixes...), tr.prefixes...)
		t.disableLocked(c)
	}
	if tr.bcast {
		if len(tr.prefixes) == 0 {
			tr.prefixes = []string{""}
		}
		for _, p := range tr.prefixes {
			set := t.bcast[p]
			if set == nil {
				set = make(map[int64]struct{})
				t.bcast[p] = set
			}
			set[c.id] = struct{}{}
		}
	}
	c.trk = tr
	t.active.Add(1)
}

// overlaps reports whether one of a and b is a prefix of the other.
func overlaps(a, b string) bool {
	n := min(len(a), len(b))
	return a[:n] == b[:n]
}

// remember records that c read the keys of a read-only command.
func (t *tracker) remember(c *conn, cmd *command, args [][]byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	tr := c.trk
	if tr == nil || tr.bcast || (tr.optin && !tr.caching) || (tr.optout && tr.caching) {
		return
	}
	forKeys(cmd, args, func(k []byte) {
		set := t.keys[string(k)]
		if set == nil {
			set = make(map[int64]struct{}, 1)
			t.keys[string(k)] = set
		}
		if _, ok := set[c.id]; !ok {
			set[c.id] = struct{}{}
			t.items++
		}
	})
	// Over the bound: drop random keys (map order is random), but not one
	// this command names, which it would register again right away.
	for len(t.keys) > t.maxKeys(c.s) {
		dropped := false
		for k := range t.keys {
			if !namesKey(cmd, args, k) {
				t.invalidateLocked([]byte(k), nil)
				dropped = true
				break
			}
		}
		if !dropped {
			break // the command alone names more keys than the bound
		}
	}
}

// namesKey reports whether k is one of cmd's key arguments.
func namesKey(cmd *command, args [][]byte, k string) bool {
	found := false
	forKeys(cmd, args, func(a []byte) { found = found || string(a) == k })
	return found
}

// invalidate tells the clients tracking key that it changed. modifier is
// the connection whose command changed it (nil for expiry and eviction).
func (t *tracker) invalidate(key []byte, modifier *conn) {
	if t.active.Load() == 0 {
		return
	}
	t.mu.Lock()
	t.invalidateLocked(key, modifier)
	t.mu.Unlock()
}

func (t *tracker) invalidateLocked(key []byte, modifier *conn) {
	if set, ok := t.keys[string(key)]; ok {
		delete(t.keys, string(key))
		t.items -= len(set)
		for id := range set {
			c := t.clients[id]
			if c == nil || c.trk == nil || c.trk.bcast || (c.trk.noloop && c == modifier) {
				continue
			}
			t.sendLocked(c, key, modifier)
		}
	}
	for p, set := range t.bcast {
		if !bytes.HasPrefix(key, []byte(p)) {
			continue
		}
		for id := range set {
			c := t.clients[id]
			if c == nil || c.trk == nil || (c.trk.noloop && c == modifier) {
				continue
			}
			t.sendLocked(c, key, modifier)
		}
	}
}

// invalidateAll sends every tracking client a null invalidation
// (FLUSHALL, FLUSHDB) and empties the key table.
func (t *tracker) invalidateAll(modifier *conn) {
	if t.active.Load() == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.keys = make(map[string]map[int64]struct{})
	t.items = 0
	for _, c := range t.clients {
		if c.trk != nil && !(c.trk.noloop && c == modifier) {
			t.sendLocked(c, nil, modifier)
		}
	}
}

// sendLocked queues an invalidation of key (nil: everything) for c, or for
// the connection c redirects to.
func (t *tracker) sendLocked(c *conn, key []byte, modifier *conn) {
	to := c
	if r := c.trk.redirect; r != 0 {
		to = t.clients[r]
		if to == nil {
			c.trk.brokenRedir = true
			if c.info.protoSeen.Load() > 2 {
				msg := resp.AppendPushLen(nil, 2)
				msg = resp.AppendBulkString(msg, "tracking-redir-broken")
				msg = resp.AppendInt(msg, r)
				c.push(msg, modifier, "invalidation messages")
			}
			return
		}
	}
	if to.info.protoSeen.Load() < 3 {
		return // RESP2 without pub/sub: nowhere to send it (see above)
	}
	msg := resp.AppendPushLen(nil, 2)
	msg = resp.AppendBulkString(msg, "invalidate")
	if key == nil {
		msg = resp.AppendNull(msg, 3)
	} else {
		msg = resp.AppendArrayLen(msg, 1)
		msg = resp.AppendBulk(msg, key)
	}
	to.push(msg, modifier, "invalidation messages")
}

// Tracking hooks around a command's execution.

// trackBefore remembers a tracking client's read before it runs.
func (c *conn) trackBefore(cmd *command, args [][]byte) {
	if c.trk != nil && cmd.flags&flagReadonly != 0 {
		c.s.trk.remember(c, cmd, args)
	}
}

// trackAfter remembers the read again and ends a CLIENT CACHING for this
// command. (Keys a write named are invalidated by run, see keyModified.)
func (c *conn) trackAfter(cmd *command, args [][]byte) {
	if c.trk != nil && cmd.flags&flagReadonly != 0 {
		c.s.trk.remember(c, cmd, args)
	}
	if c.trk != nil && c.trk.caching && cmd.parent != clientCachingCmd.parent && c.tx.multi == nil && !c.tx.inExec {
		// Like Redis, any command but a CLIENT subcommand ends it, except
		// inside a transaction: then it lasts until EXEC is done.
		c.s.trk.mu.Lock()
		if c.trk != nil {
			c.trk.caching = false
		}
		c.s.trk.mu.Unlock()
	}
}
