// WATCH and UNWATCH: the watched-keys table.

package cachenode

import (
	"sync"
	"sync/atomic"
)

// WATCH and UNWATCH: optimistic locking for MULTI/EXEC, as in Redis. A
// connection watches keys; when one of them is modified before its EXEC (by
// any client, itself included), EXEC runs nothing and answers a null array.
// Modified means: changed by a write command (conn.signalModified: as in
// Redis, SET NX on an existing key, DEL of a missing one or a command that
// failed changes nothing), removed by expiry or eviction (the store's
// remove hook), or existing when FLUSHALL/FLUSHDB ran. A watched key whose
// TTL ran out before EXEC also fails it, even if nothing removed it yet
// (during CLIENT PAUSE expired keys are hidden, not removed): a key that
// existed at WATCH and is gone at EXEC was modified. As in Redis, a key
// already expired at WATCH does not fail EXEC by staying so.

// watchCommands are WATCH and UNWATCH.
var watchCommands = []*command{
	{
		name: "watch", arity: -2, flags: flagFast | flagNoScript | flagLoading | flagStale | flagAllowBusy, keys: keySpec{1, -1, 1}, txControl: true,
		acl: "@fast @transaction", run: cmdWatch,
		doc: docMeta{group: "transactions", since: "2.2.0", complexity: "O(1) for every key.",
			summary: "Monitors changes to keys to determine the execution of a transaction."},
	},
	{
		name: "unwatch", arity: 1, flags: flagFast | flagNoScript | flagLoading | flagStale | flagAllowBusy,
		acl: "@fast @transaction", run: cmdUnwatch,
		doc: docMeta{group: "transactions", since: "2.2.0", complexity: "O(1)",
			summary: "Forgets about watched keys of a transaction."},
	},
}

// watcher is the server's table of watched keys.
type watcher struct {
	active atomic.Int32 // connections watching keys: the command path skips everything at 0
	mu     sync.Mutex
	keys   map[string]map[*conn]struct{}
}

// watchState is a connection's WATCH state.
type watchState struct {
	keys    []string    // watched keys, in the order given (duplicates dropped)
	existed []bool      // keys[i] existed just after WATCH registered it
	dirty   atomic.Bool // one was modified: EXEC must fail (set by other connections)
}

// expireDue removes key if its TTL has run out: reading it does that (the
// store expires keys lazily), and the removal goes through the remove hook.
func (c *conn) expireDue(key []byte) {
	c.scratch, _, _ = c.s.store.Peek(c.scratch[:0], key)
}

// watch adds keys to c's watched keys. A key already expired is removed
// first, so its removal does not count. Whether each new key exists is read
// after it is registered, so a change in between marks it.
func (w *watcher) watch(c *conn, keys [][]byte) {
	for _, k := range keys {
		c.expireDue(k)
	}
	first := 0
	if c.tx.watch != nil {
		first = len(c.tx.watch.keys)
	}
	w.register(c, keys)
	for i := first; i < len(c.tx.watch.keys); i++ {
		var ok bool
		c.scratch, _, ok = c.s.store.Peek(c.scratch[:0], []byte(c.tx.watch.keys[i]))
		c.tx.watch.existed = append(c.tx.watch.existed, ok)
	}
}

func (w *watcher) register(c *conn, keys [][]byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.keys == nil {
		w.keys = make(map[string]map[*conn]struct{})
	}
	if c.tx.watch == nil {
		c.tx.watch = &watchState{}
		w.active.Add(1)
	}
	for _, k := range keys {
		conns := w.keys[string(k)]
		if _, ok := conns[c]; ok {
			continue
		}
		if conns == nil {
			conns = make(map[*conn]struct{})
			w.keys[string(k)] = conns
		}
		conns[c] = struct{}{}
		c.tx.watch.keys = append(c.tx.watch.keys, string(k))
	}
}

// unwatch forgets every key c watches (UNWATCH, EXEC, DISCARD, RESET, and
// a closed connection).
func (w *watcher) unwatch(c *conn) {
	if c.tx.watch == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, k := range c.tx.watch.keys {
		conns := w.keys[k]
		delete(conns, c)
		if len(conns) == 0 {
			delete(w.keys, k)
		}
	}
	c.tx.watch = nil
	w.active.Add(-1)
}

// touch marks the connections watching key: their EXEC will fail.
func (w *watcher) touch(key []byte) {
	if w.active.Load() == 0 {
		return
	}
	w.mu.Lock()
	for c := range w.keys[string(key)] {
		c.tx.watch.dirty.Store(true)
	}
	w.mu.Unlock()
}

// beforeFlush marks the connections watching a key that exists: FLUSHALL
// and FLUSHDB modify those keys (and, as in Redis, no others).
func (w *watcher) beforeFlush(s *Server) {
	if w.active.Load() == 0 {
		return
	}
	w.mu.Lock()
	keys := make([]string, 0, len(w.keys))
	for k := range w.keys {
		keys = append(keys, k)
	}
	w.mu.Unlock()
	for _, k := range keys {
		// The store's locks are taken outside w.mu: its remove hook takes
		// w.mu under them.
		if _, _, ok := s.store.Peek(nil, []byte(k)); ok {
			w.touch([]byte(k))
		}
	}
}

// failed reports whether c's transaction must not run: a watched key was
// modified, or existed at WATCH and is gone now (expired: reading it
// removes it, or hides it during CLIENT PAUSE).
func (w *watcher) failed(c *conn) bool {
	if c.tx.watch == nil {
		return false
	}
	for i, k := range c.tx.watch.keys {
		var ok bool
		c.scratch, _, ok = c.s.store.Peek(c.scratch[:0], []byte(k)) // removes it if expired
		if c.tx.watch.existed[i] && !ok {
			return true // deleted or expired; hidden, not removed, during CLIENT PAUSE
		}
	}
	return c.tx.watch.dirty.Load()
}

// WATCH key [key ...]
func cmdWatch(c *conn, args [][]byte) {
	if c.tx.multi != nil {
		c.err("ERR WATCH inside MULTI is not allowed")
		return
	}
	c.s.watch.watch(c, args[1:])
	c.ok()
}

// UNWATCH
func cmdUnwatch(c *conn, _ [][]byte) {
	c.s.watch.unwatch(c)
	c.ok()
}
