package store

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"
)

// Config configures a Store. The zero value is a usable, unbounded store
// with the allkeys-lru policy.
type Config struct {
	// MaxMemory bounds the memory the store holds, in bytes, counting keys,
	// values and the per-key overhead of the index. 0 means unlimited.
	MaxMemory int64
	// Policy is the eviction policy applied by EnsureMemory. Default AllKeysLRU.
	Policy Policy
	// Shards is the number of independently locked shards. Default 256.
	Shards int
	// ExpireInterval is the period of the active expiry cycle, which removes
	// expired keys that are never read. Default 100ms.
	ExpireInterval time.Duration
	// Now is the clock, for tests. Default time.Now.
	Now func() time.Time
}

// Op is the decision returned by an Update callback.
type Op int

// The Update decisions.
const (
	// Keep leaves the key as it is.
	Keep Op = iota
	// Put stores the returned value and expiry time.
	Put
	// Delete removes the key (a no-op if it does not exist).
	Delete
)

// SetArgs are the options of SET.
type SetArgs struct {
	// ExpireAt is the new absolute expiry time in Unix milliseconds; 0 for none.
	ExpireAt int64
	// KeepTTL keeps the current TTL of the key (SET ... KEEPTTL); it takes
	// precedence over ExpireAt.
	KeepTTL bool
	// NX writes only if the key does not exist.
	NX bool
	// XX writes only if the key exists.
	XX bool
	// Get returns the previous value (SET ... GET).
	Get bool
}

// Stats is a snapshot of the store's counters, filled by UpdateStats.
type Stats struct {
	// Keys is the number of keys (INFO keyspace keys=).
	Keys uint64
	// Expires is the number of keys with a TTL (INFO keyspace expires=).
	Expires uint64
	// Hits and Misses count key lookups by reads (keyspace_hits/misses).
	Hits, Misses uint64
	// Evicted counts keys removed by eviction (evicted_keys).
	Evicted uint64
	// Expired counts keys removed because their TTL passed (expired_keys).
	Expired uint64
	// UsedMemory is the memory the store accounts for, in bytes (used_memory).
	UsedMemory int64
	// MaxMemory is the configured limit; 0 means unlimited (maxmemory).
	MaxMemory int64
}

// Store is the storage engine. Create it with New and stop it with Close.
type Store struct {
	shards []shard
	now    func() time.Time

	maxMemory atomic.Int64
	policy    atomic.Int64
	used      atomic.Int64
	clock     atomic.Uint32 // logical LRU clock

	hits, misses, evicted, expired atomic.Uint64

	evictMu sync.Mutex // serialises eviction

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

type entry struct {
	val []byte
	exp int64
	lru uint32
}

const entryOverhead = 64

type shard struct {
	mu sync.Mutex // protects m
	m  map[string]*entry
	_  [40]byte
}

// New returns a store configured by cfg and starts its active expiry goroutine.
func New(cfg Config) *Store {
	if cfg.Shards <= 0 {
		cfg.Shards = 256
	}
	if cfg.ExpireInterval <= 0 {
		cfg.ExpireInterval = 100 * time.Millisecond
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Store{
		shards: make([]shard, cfg.Shards),
		now:    cfg.Now,
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	for i := range s.shards {
		s.shards[i].m = make(map[string]*entry)
	}
	s.maxMemory.Store(cfg.MaxMemory)
	s.policy.Store(int64(cfg.Policy))
	go s.expireLoop(cfg.ExpireInterval)
	return s
}

// Close stops the background goroutines. The store must not be used after.
func (s *Store) Close() error {
	s.once.Do(func() { close(s.stop) })
	<-s.done
	return nil
}

func (s *Store) nowMs() int64 { return s.now().UnixMilli() }

func (s *Store) shardOf(key []byte) *shard {
	h := xxhash.Sum64(key)
	return &s.shards[h%uint64(len(s.shards))]
}

func expired(exp, now int64) bool { return exp != 0 && now > exp }

// lookupLocked returns the live entry for key, deleting it if it expired.
func (s *Store) lookupLocked(sh *shard, key []byte) *entry {
	e := sh.m[string(key)]
	if e == nil {
		return nil
	}
	if e.exp != 0 && expired(e.exp, s.nowMs()) {
		s.removeLocked(sh, key, e)
		s.expired.Add(1)
		return nil
	}
	return e
}

func (s *Store) removeLocked(sh *shard, key []byte, e *entry) {
	delete(sh.m, string(key))
	s.used.Add(-int64(len(key) + len(e.val) + entryOverhead))
}

func (s *Store) putLocked(sh *shard, key, val []byte, exp int64) {
	if old := sh.m[string(key)]; old != nil {
		s.removeLocked(sh, key, old)
	}
	sh.m[string(key)] = &entry{val: append([]byte(nil), val...), exp: exp, lru: s.clock.Add(1)}
	s.used.Add(int64(len(key) + len(val) + entryOverhead))
}

// Get appends the value of key to dst. It counts a hit or a miss and marks
// the key as recently used.
func (s *Store) Get(dst, key []byte) (val []byte, ok bool) {
	sh := s.shardOf(key)
	sh.mu.Lock()
	e := s.lookupLocked(sh, key)
	if e == nil {
		sh.mu.Unlock()
		s.misses.Add(1)
		return dst, false
	}
	e.lru = s.clock.Load()
	dst = append(dst, e.val...)
	sh.mu.Unlock()
	s.hits.Add(1)
	return dst, true
}

// Lookup is Get for commands that read a key's metadata or value with
// Redis's LOOKUP_NOTOUCH semantics (TTL, TYPE, EXISTS): it counts a hit or a
// miss, and marks the key as recently used only if touch is set. It also
// returns the key's expiry time.
func (s *Store) Lookup(dst, key []byte, touch bool) (val []byte, expireAt int64, ok bool) {
	sh := s.shardOf(key)
	sh.mu.Lock()
	e := s.lookupLocked(sh, key)
	if e == nil {
		sh.mu.Unlock()
		s.misses.Add(1)
		return dst, 0, false
	}
	if touch {
		e.lru = s.clock.Load()
	}
	dst = append(dst, e.val...)
	exp := e.exp
	sh.mu.Unlock()
	s.hits.Add(1)
	return dst, exp, true
}

// Peek appends the value of key to dst and returns its expiry time, without
// counting a hit or miss and without marking the key as used.
func (s *Store) Peek(dst, key []byte) (val []byte, expireAt int64, ok bool) {
	sh := s.shardOf(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := s.lookupLocked(sh, key)
	if e == nil {
		return dst, 0, false
	}
	return append(dst, e.val...), e.exp, true
}

// Set implements SET's semantics. With a.Get, prev is the old value appended
// to dst (hadPrev reports whether the key existed). written reports whether
// val was stored (false when NX or XX prevented it). An ExpireAt already in
// the past deletes the key, as Redis does.
func (s *Store) Set(key, val []byte, a SetArgs, dst []byte) (prev []byte, hadPrev, written bool) {
	sh := s.shardOf(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := s.lookupLocked(sh, key)
	prev = dst
	if e != nil {
		hadPrev = true
		if a.Get {
			prev = append(prev, e.val...)
		}
	}
	if (a.NX && e != nil) || (a.XX && e == nil) {
		return prev, hadPrev, false
	}
	exp := a.ExpireAt
	if a.KeepTTL {
		exp = 0
		if e != nil {
			exp = e.exp
		}
	}
	if exp != 0 && expired(exp, s.nowMs()) {
		if e != nil {
			s.removeLocked(sh, key, e)
		}
		return prev, hadPrev, true
	}
	s.putLocked(sh, key, val, exp)
	return prev, hadPrev, true
}

// Update runs fn under the key's lock with the current value and expiry
// time, and applies fn's decision atomically: Keep, Put (newVal with
// newExpireAt; 0 means no TTL) or Delete. cur is valid only during fn and
// must not be modified; appending to it copies. newVal may alias cur. fn must
// not call the Store. A Put with newExpireAt in the past deletes the key.
func (s *Store) Update(key []byte, fn func(cur []byte, expireAt int64, exists bool) (newVal []byte, newExpireAt int64, op Op)) {
	sh := s.shardOf(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := s.lookupLocked(sh, key)
	var cur []byte
	var exp int64
	if e != nil {
		cur = e.val[:len(e.val):len(e.val)]
		exp = e.exp
	}
	nv, nexp, op := fn(cur, exp, e != nil)
	switch op {
	case Put:
		if nexp != 0 && expired(nexp, s.nowMs()) {
			if e != nil {
				s.removeLocked(sh, key, e)
			}
			return
		}
		s.putLocked(sh, key, nv, nexp)
	case Delete:
		if e != nil {
			s.removeLocked(sh, key, e)
		}
	}
}

// Delete removes key and reports whether it existed.
func (s *Store) Delete(key []byte) bool {
	sh := s.shardOf(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := s.lookupLocked(sh, key)
	if e == nil {
		return false
	}
	s.removeLocked(sh, key, e)
	return true
}

// Exists reports whether key exists. Like Redis's EXISTS it counts a hit or
// a miss but does not mark the key as used.
func (s *Store) Exists(key []byte) bool {
	sh := s.shardOf(key)
	sh.mu.Lock()
	e := s.lookupLocked(sh, key)
	sh.mu.Unlock()
	if e == nil {
		s.misses.Add(1)
		return false
	}
	s.hits.Add(1)
	return true
}

// Touch marks key as recently used (TOUCH) and reports whether it exists.
// Like Redis it counts a hit or a miss.
func (s *Store) Touch(key []byte) bool {
	sh := s.shardOf(key)
	sh.mu.Lock()
	e := s.lookupLocked(sh, key)
	if e != nil {
		e.lru = s.clock.Load()
	}
	sh.mu.Unlock()
	if e == nil {
		s.misses.Add(1)
		return false
	}
	s.hits.Add(1)
	return true
}

// Rename atomically moves src to dst, keeping its TTL (RENAME); with nx it
// does nothing if dst exists (RENAMENX). srcExists reports whether src
// existed, renamed whether the move happened. Renaming a key to itself
// succeeds without change (unless nx, as in Redis).
func (s *Store) Rename(src, dst []byte, nx bool) (srcExists, renamed bool) {
	a, b := s.shardOf(src), s.shardOf(dst)
	if a == b {
		a.mu.Lock()
		defer a.mu.Unlock()
	} else {
		first, second := a, b
		if s.shardIndex(a) > s.shardIndex(b) {
			first, second = b, a
		}
		first.mu.Lock()
		defer first.mu.Unlock()
		second.mu.Lock()
		defer second.mu.Unlock()
	}
	e := s.lookupLocked(a, src)
	if e == nil {
		return false, false
	}
	d := s.lookupLocked(b, dst)
	if nx && d != nil {
		return true, false
	}
	if string(src) == string(dst) {
		return true, true
	}
	s.removeLocked(a, src, e)
	s.putLocked(b, dst, e.val, e.exp)
	return true, true
}

func (s *Store) shardIndex(sh *shard) int {
	for i := range s.shards {
		if &s.shards[i] == sh {
			return i
		}
	}
	return -1
}

// Len returns the number of keys (DBSIZE), counting keys that expired but
// were not yet removed.
func (s *Store) Len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}

// Flush removes every key (FLUSHALL).
func (s *Store) Flush() {
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for k, e := range sh.m {
			s.removeLocked(sh, []byte(k), e)
		}
		sh.mu.Unlock()
	}
}

// Scan visits keys starting at cursor (0 starts an iteration) and returns
// the cursor to continue from, 0 when the iteration is complete. count is a
// hint of how many keys to visit. As with Redis's SCAN, every key present
// for the whole iteration is visited at least once; keys added or removed
// meanwhile may or may not be. fn's key is valid only during the call; fn
// may call the Store.
func (s *Store) Scan(cursor uint64, count int, fn func(key []byte, expireAt int64)) (next uint64) {
	// v1: one shard per call.
	i := int(cursor)
	if i >= len(s.shards) {
		return 0
	}
	type kv struct {
		k string
		e int64
	}
	var buf []kv
	sh := &s.shards[i]
	sh.mu.Lock()
	now := s.nowMs()
	for k, e := range sh.m {
		if !expired(e.exp, now) {
			buf = append(buf, kv{k, e.exp})
		}
	}
	sh.mu.Unlock()
	for _, x := range buf {
		fn([]byte(x.k), x.e)
	}
	if i+1 >= len(s.shards) {
		return 0
	}
	return uint64(i + 1)
}

// RandomKey appends a random existing key to dst (RANDOMKEY).
func (s *Store) RandomKey(dst []byte) ([]byte, bool) {
	n := len(s.shards)
	start := rand.IntN(n)
	for j := 0; j < n; j++ {
		sh := &s.shards[(start+j)%n]
		sh.mu.Lock()
		for k := range sh.m {
			if e := s.lookupLocked(sh, []byte(k)); e != nil {
				dst = append(dst, k...)
				sh.mu.Unlock()
				return dst, true
			}
		}
		sh.mu.Unlock()
	}
	return dst, false
}

// SetMaxMemory changes the memory limit (CONFIG SET maxmemory); 0 = unlimited.
func (s *Store) SetMaxMemory(n int64) { s.maxMemory.Store(n) }

// SetPolicy changes the eviction policy (CONFIG SET maxmemory-policy).
func (s *Store) SetPolicy(p Policy) { s.policy.Store(int64(p)) }

// EnsureMemory evicts keys per the policy until used memory is within the
// limit. It returns ErrOOM when it cannot: with noeviction, or with a
// volatile-* policy when no key has a TTL. The server calls it before
// executing a command that may grow memory, as Redis does.
func (s *Store) EnsureMemory() error {
	max := s.maxMemory.Load()
	if max <= 0 || s.used.Load() <= max {
		return nil
	}
	s.evictMu.Lock()
	defer s.evictMu.Unlock()
	p := Policy(s.policy.Load())
	for s.used.Load() > max {
		if p == NoEviction {
			return ErrOOM
		}
		if !s.evictOne(p) {
			return ErrOOM
		}
	}
	return nil
}

func (s *Store) evictOne(p Policy) bool {
	var bestSh *shard
	var bestKey string
	var bestScore int64 = -1 << 62
	now := s.clock.Load()
	for tries := 0; tries < 4*len(s.shards) && (bestSh == nil || tries < 16); tries++ {
		sh := &s.shards[rand.IntN(len(s.shards))]
		sh.mu.Lock()
		n := 0
		for k, e := range sh.m {
			if p.volatile() && e.exp == 0 {
				continue
			}
			var score int64
			switch p {
			case AllKeysLRU, VolatileLRU:
				score = int64(now - e.lru)
			case VolatileTTL:
				score = -e.exp
			default:
				score = rand.Int64()
			}
			if score > bestScore {
				bestScore, bestKey, bestSh = score, k, sh
			}
			if n++; n >= 5 {
				break
			}
		}
		sh.mu.Unlock()
	}
	if bestSh == nil {
		return false
	}
	bestSh.mu.Lock()
	if e := bestSh.m[bestKey]; e != nil {
		s.removeLocked(bestSh, []byte(bestKey), e)
		s.evicted.Add(1)
	}
	bestSh.mu.Unlock()
	return true
}

// UpdateStats adds nothing and overwrites st with the current counters.
func (s *Store) UpdateStats(st *Stats) {
	var keys, exps uint64
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		keys += uint64(len(sh.m))
		for _, e := range sh.m {
			if e.exp != 0 {
				exps++
			}
		}
		sh.mu.Unlock()
	}
	*st = Stats{
		Keys: keys, Expires: exps,
		Hits: s.hits.Load(), Misses: s.misses.Load(),
		Evicted: s.evicted.Load(), Expired: s.expired.Load(),
		UsedMemory: s.used.Load(), MaxMemory: s.maxMemory.Load(),
	}
}

func (s *Store) expireLoop(every time.Duration) {
	defer close(s.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			now := s.nowMs()
			for i := range s.shards {
				sh := &s.shards[i]
				sh.mu.Lock()
				for k, e := range sh.m {
					if expired(e.exp, now) {
						s.removeLocked(sh, []byte(k), e)
						s.expired.Add(1)
					}
				}
				sh.mu.Unlock()
			}
		}
	}
}
