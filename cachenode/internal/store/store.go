package store

import (
	"hash/maphash"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// maxShards bounds Config.Shards.
const maxShards = 1 << 16

// Config configures a Store. The zero value is a usable, unbounded store
// with the allkeys-lru policy.
type Config struct {
	// MaxMemory bounds the memory the store holds, in bytes, as enforced by
	// EnsureMemory. It counts keys, values, entry headers, the index and
	// unreclaimed space of deleted entries. 0 means unlimited.
	MaxMemory int64
	// Policy is the eviction policy applied by EnsureMemory. Default AllKeysLRU.
	Policy Policy
	// Shards is the number of independently locked shards. Default 256, at
	// most 65536.
	Shards int
	// ExpireInterval is the period of the active expiry cycle, which removes
	// expired keys that are never read. Default 100ms.
	ExpireInterval time.Duration
	// Now is the clock, for tests. Default time.Now.
	Now func() time.Time
	// Tick, if set, is called by the expiry goroutine every ExpireInterval,
	// before the cycle (cachenode samples its INFO rates there, as Redis
	// does in serverCron). It must return quickly.
	Tick func()
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
	// Touch leaves the value as it is but counts the write's lookup of an
	// existing key as an access, as a write would (an LRU stamp, Redis's
	// LFU counter update): Redis's lookupKeyWrite does that before a command
	// fails on the value it found (INCR on a value that is not an integer).
	Touch
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
	// NoTouch: Get's read does not mark the key as used (CLIENT NO-TOUCH).
	NoTouch bool
	// Raw marks the value written as built by the command, as Edit's are
	// (Edited reports it: Redis gives BITOP's result the "raw" encoding
	// whatever it holds).
	Raw bool
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
	// EvictedCold counts the evicted keys whose TinyLFU access count was
	// at most one (keys evicted before proving useful: TinyLFU's refused
	// admissions). 0 under other policies.
	EvictedCold uint64
	// SketchBytes is the memory held by the TinyLFU sketches (counted in
	// UsedMemory); SketchHalvings counts their agings.
	SketchBytes    int64
	SketchHalvings uint64
	// RankRecency says that the TinyLFU policies currently rank eviction
	// candidates by recency rather than frequency (the ranking duel's
	// verdict); RankSwitches counts the verdicts that changed it;
	// DuelBytes is the memory of the duel's simulations (counted in
	// UsedMemory).
	RankRecency  bool
	RankSwitches uint64
	DuelBytes    int64
	// Prefaulted is the part of UsedMemory made resident ahead of writes
	// (chunk pages prefaulted, not yet written): used memory moves in
	// steps of the prefault window, not entry by entry.
	Prefaulted int64
}

// Store is the storage engine. Create it with New and stop it with Close.
type Store struct {
	shards []shard
	// probationFirst, under evictMu, says that the eviction batch under way
	// takes the shard's probationary entries first (TinyLFU).
	probationFirst bool
	// rankRecency, under evictMu, says that the eviction under way ranks
	// TinyLFU candidates by recency (the duel's verdict when it began).
	rankRecency bool
	duel        duel // picks the TinyLFU ranking (duel.go)
	now         func() time.Time
	seed        maphash.Seed // random per store: clients cannot aim keys at one shard or slot

	maxMemory atomic.Int64
	policy    atomic.Int64
	used      atomic.Int64
	clock     atomic.Uint32 // logical LRU clock, advanced by writes

	lfuLogFactor, lfuDecayTime atomic.Int64 // lfu-log-factor, lfu-decay-time

	evicted, expired, compactions atomic.Uint64
	evictedCold                   atomic.Uint64 // Stats.EvictedCold

	evictMu sync.Mutex // serialises eviction and protects the scratch buffers
	scratch []uint64
	slots   []uint64

	expShard int // next shard of the active expiry cycle; owned by expireLoop

	compactMin int64 // a shard with fewer dead bytes is not compacted (tests lower it)

	stop chan struct{}
	done chan struct{}
	once sync.Once

	idle idleHistory // clock checkpoints for IdleTime

	syncResizeMax int // tables smaller than this are resized at once; tests lower it

	onRemove atomic.Pointer[func(key []byte)] // SetRemoveHook

	pausedUntil atomic.Int64 // PauseExpiry: Unix ms; 0 = not paused
}

// PauseExpiry stops expiry and eviction until the Unix time untilMs (0:
// resume now), as Redis does during CLIENT PAUSE so that the data set stays
// static: the active cycle and eviction do nothing, and read operations
// report expired keys missing without removing them. Writes still remove
// an expired key they meet.
func (s *Store) PauseExpiry(untilMs int64) { s.pausedUntil.Store(untilMs) }

func (s *Store) expiryPaused() bool {
	u := s.pausedUntil.Load()
	return u != 0 && s.nowMs() < u
}

// SetRemoveHook makes the store call fn with the key of every entry it
// removes by itself: expired (found by a lookup or by the active cycle) or
// evicted. The server uses it to invalidate clients' caches (CLIENT
// TRACKING). fn runs with a shard locked: it must be quick and must not call
// the Store; the key is valid only during the call. nil removes the hook.
func (s *Store) SetRemoveHook(fn func(key []byte)) {
	if fn == nil {
		s.onRemove.Store(nil)
		return
	}
	s.onRemove.Store(&fn)
}

// notifyRemoved calls the remove hook, if any, for entry b, which the
// caller is about to remove.
func (s *Store) notifyRemoved(b []byte) {
	if fn := s.onRemove.Load(); fn != nil {
		(*fn)(entryKey(b))
	}
}

// New returns a store configured by cfg and starts its active expiry
// goroutine; Close stops it.
func New(cfg Config) *Store {
	if cfg.Shards <= 0 {
		cfg.Shards = 256
	}
	cfg.Shards = min(cfg.Shards, maxShards)
	if cfg.ExpireInterval <= 0 {
		cfg.ExpireInterval = 100 * time.Millisecond
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Store{
		shards: make([]shard, cfg.Shards),
		now:    cfg.Now,
		seed:   maphash.MakeSeed(),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),

		compactMin:    16 << 10,
		syncResizeMax: syncResizeMax,
	}
	for i := range s.shards {
		s.account(&s.shards[i], shardOverhead)
	}
	s.maxMemory.Store(cfg.MaxMemory)
	s.policy.Store(int64(cfg.Policy))
	s.lfuLogFactor.Store(DefaultLFULogFactor)
	s.lfuDecayTime.Store(DefaultLFUDecayTime)
	s.idle.init(checkpoint{at: s.nowMs()})
	go s.expireLoop(cfg.ExpireInterval, cfg.Tick)
	return s
}

// Close stops the background goroutine and releases the store's memory. It
// is safe to call more than once; the store is empty afterwards and should
// not be used again.
func (s *Store) Close() error {
	s.once.Do(func() {
		close(s.stop)
		<-s.done
		s.Flush()
	})
	return nil
}

// account adds delta bytes to the shard's and the store's used memory.
func (s *Store) account(sh *shard, delta int64) {
	sh.mem += delta
	s.used.Add(delta)
}

func (s *Store) nowMs() int64 { return s.now().UnixMilli() }

// hash returns the key's hash, seeded per store (hash/maphash), so that
// clients cannot craft keys that pile up in one shard or probe sequence.
func (s *Store) hash(key []byte) uint64 { return maphash.Bytes(s.seed, key) }

// shardIndex returns the shard of a key hash: its low 32 bits, scaled.
func (s *Store) shardIndex(h uint64) int {
	return int((uint64(uint32(h)) * uint64(len(s.shards))) >> 32)
}

// locate returns the shard and tag (the high 32 bits) of a key hash.
func (s *Store) locate(h uint64) (*shard, uint32) {
	return &s.shards[s.shardIndex(h)], uint32(h >> 32)
}

// lru returns the LRU stamp for a write in sh, advancing the clock every
// few writes per shard (so writes on different shards rarely contend on it).
func (s *Store) lru(sh *shard) uint32 {
	sh.writes++
	if sh.writes&3 == 0 {
		return s.clock.Add(1)
	}
	return s.clock.Load()
}

func isExpired(b []byte, s *Store) bool {
	return b[0]&flagTTL != 0 && s.nowMs() > entryExp(b)
}

// lookupLocked returns the slot index and entry of key, or -1 if it does not
// exist. It deletes the key if it expired (lazy expiry).
func (s *Store) lookupLocked(sh *shard, tag uint32, key []byte) (int, []byte) {
	return s.lookupFor(sh, tag, key, false)
}

// lookupReadLocked is lookupLocked for read-only operations: while expiry
// is paused (PauseExpiry), an expired key is reported missing but kept.
func (s *Store) lookupReadLocked(sh *shard, tag uint32, key []byte) (int, []byte) {
	return s.lookupFor(sh, tag, key, true)
}

func (s *Store) lookupFor(sh *shard, tag uint32, key []byte, read bool) (int, []byte) {
	i := sh.findLocked(tag, key, s)
	if i < 0 {
		return -1, nil
	}
	b := sh.entry(slotOff(sh.table[i]))
	if isExpired(b, s) {
		if read && s.expiryPaused() {
			return -1, nil
		}
		s.notifyRemoved(b)
		s.removeAtLocked(sh, i, b)
		s.expired.Add(1)
		return -1, nil
	}
	return i, b
}

// removeAtLocked deletes the key in slot i, whose entry is b. Under the
// TinyLFU policies its access count goes to the sketch, which counts the
// key's accesses from then on.
func (s *Store) removeAtLocked(sh *shard, i int, b []byte) {
	if Policy(s.policy.Load()).TinyLFU() {
		sh.sketch.spill(slotTag(sh.table[i]), entryCount(b))
	}
	off := slotOff(sh.table[i])
	_, _, size := entryKV(b)
	if b[0]&flagTTL != 0 {
		sh.nvol.Add(-1)
	}
	sh.deleteSlotLocked(i)
	sh.freeLocked(off, size, s)
	sh.nkeys.Add(-1)
}

// putLocked stores key=val with expiry exp. i and old are the key's current
// slot and entry (i < 0 if absent). val may alias old's value.
func (s *Store) putLocked(sh *shard, tag uint32, i int, old []byte, key, val []byte, exp int64) {
	size := entrySize(len(key), len(val), exp != 0)
	lru := s.writeStampLocked(sh, tag, old)
	if i < 0 {
		off, b := sh.allocLocked(size, s)
		writeEntry(b, key, val, exp, lru)
		if Policy(s.policy.Load()).TinyLFU() {
			est := sh.sketch.estimate(tag)
			setEntryCount(b, est)
			if est <= 1 {
				b[0] |= flagNew // probationary until read
				if sh.sketch.newWrite(tag) {
					b[0] |= flagBurst // written in a flood: evicted first
				}
			}
			s.duelWriteLocked(tag, size, est, b[0]&(flagNew|flagBurst))
		}
		sh.insertSlotLocked(mkSlot(tag, off), s)
		sh.nkeys.Add(1)
		if exp != 0 {
			sh.nvol.Add(1)
		}
		return
	}
	if exp != 0 && old[0]&flagTTL == 0 {
		sh.nvol.Add(1)
	} else if exp == 0 && old[0]&flagTTL != 0 {
		sh.nvol.Add(-1)
	}
	off := slotOff(sh.table[i])
	_, _, oldSize := entryKV(old)
	count := entryCount(old)
	if size <= oldSize && (off&largeFlag == 0 || size > oldSize/2) {
		writeEntry(old, key, val, exp, lru)
		setEntryCount(old, count)
		sh.shrinkEntryLocked(off, oldSize-size)
		return
	}
	noff, b := sh.allocLocked(size, s) // moves nothing, so val stays valid
	writeEntry(b, key, val, exp, lru)
	setEntryCount(b, count)
	sh.freeLocked(off, oldSize, s)
	sh.table[i] = mkSlot(tag, noff)
}

// Get appends the value of key to dst. It counts a hit or a miss and marks
// the key as recently used. It does not allocate when dst has room.
func (s *Store) Get(dst, key []byte) (val []byte, ok bool) {
	sh, tag := s.locate(s.hash(key))
	sh.mu.Lock()
	i, b := s.lookupReadLocked(sh, tag, key)
	if i < 0 {
		s.missLocked(sh, tag)
		sh.maybeCompactLocked(s)
		sh.mu.Unlock()
		return dst, false
	}
	s.touchLocked(sh, tag, b)
	_, v, _ := entryKV(b)
	dst = append(dst, v...)
	sh.hits++
	sh.mu.Unlock()
	return dst, true
}

// Lookup is Get for commands with Redis's LOOKUP_NOTOUCH semantics (TTL,
// PTTL, TYPE, EXPIRETIME): it counts a hit or a miss, marks the key as used
// only if touch is set, and also returns the key's expiry time.
func (s *Store) Lookup(dst, key []byte, touch bool) (val []byte, expireAt int64, ok bool) {
	sh, tag := s.locate(s.hash(key))
	sh.mu.Lock()
	i, b := s.lookupReadLocked(sh, tag, key)
	if i < 0 {
		if touch {
			s.missLocked(sh, tag)
		} else {
			sh.misses++
		}
		sh.maybeCompactLocked(s)
		sh.mu.Unlock()
		return dst, 0, false
	}
	if touch {
		s.touchLocked(sh, tag, b)
	}
	_, v, _ := entryKV(b)
	dst = append(dst, v...)
	expireAt = entryExp(b)
	sh.hits++
	sh.mu.Unlock()
	return dst, expireAt, true
}

// Peek appends the value of key to dst and returns its expiry time, without
// counting a hit or a miss and without marking the key as used.
func (s *Store) Peek(dst, key []byte) (val []byte, expireAt int64, ok bool) {
	sh, tag := s.locate(s.hash(key))
	sh.mu.Lock()
	defer sh.mu.Unlock()
	i, b := s.lookupReadLocked(sh, tag, key)
	if i < 0 {
		sh.maybeCompactLocked(s)
		return dst, 0, false
	}
	_, v, _ := entryKV(b)
	return append(dst, v...), entryExp(b), true
}

// Set implements SET's semantics. With a.Get, prev is the old value appended
// to dst (otherwise prev is dst), and the read counts a hit or a miss and,
// unless a.NoTouch, marks the key as used, as Redis's GETSET and SET ... GET
// do before the write. hadPrev reports whether the key existed.
// written reports whether the command took effect (false when NX or XX
// prevented it). An expiry time already in the past deletes the key.
func (s *Store) Set(key, val []byte, a SetArgs, dst []byte) (prev []byte, hadPrev, written bool) {
	sh, tag := s.locate(s.hash(key))
	sh.mu.Lock()
	defer sh.mu.Unlock()
	i, b := s.lookupLocked(sh, tag, key)
	prev = dst
	if i >= 0 {
		hadPrev = true
		if a.Get {
			_, v, _ := entryKV(b)
			prev = append(prev, v...)
		}
	}
	if a.Get { // a read first, as Redis's getGenericCommand: a hit or a miss, and a touch
		switch {
		case i >= 0 && !a.NoTouch:
			s.touchLocked(sh, tag, b)
			sh.hits++
		case i >= 0:
			sh.hits++
		case !a.NoTouch:
			s.missLocked(sh, tag)
		default:
			sh.misses++
		}
	}
	if (a.NX && i >= 0) || (a.XX && i < 0) {
		if i >= 0 { // Redis's lookupKeyWrite touches the key all the same
			s.touchLocked(sh, tag, b)
		}
		sh.maybeCompactLocked(s)
		return prev, hadPrev, false
	}
	exp := a.ExpireAt
	if a.KeepTTL {
		exp = 0
		if i >= 0 {
			exp = entryExp(b)
		}
	}
	if exp != 0 && s.nowMs() > exp {
		if i >= 0 {
			s.removeAtLocked(sh, i, b)
		}
	} else {
		s.putLocked(sh, tag, i, b, key, val, exp)
		if a.Raw {
			if j := sh.findLocked(tag, key, s); j >= 0 {
				sh.entry(slotOff(sh.table[j]))[0] |= flagEdited
			}
		}
	}
	sh.maybeCompactLocked(s)
	return prev, hadPrev, true
}

// Update runs fn under the key's lock with the current value and expiry time
// (exists false and cur nil if the key does not exist), and applies fn's
// decision atomically: Keep, Put (newVal with newExpireAt, 0 meaning no TTL),
// Delete or Touch. cur is valid only during fn and must not be modified or kept;
// appending to it copies. newVal may alias cur. fn must not call the Store.
// A Put with newExpireAt in the past deletes the key; a Put of cur itself
// (only the expiry changes) keeps the value's Edited mark.
func (s *Store) Update(key []byte, fn func(cur []byte, expireAt int64, exists bool) (newVal []byte, newExpireAt int64, op Op)) {
	s.update(key, false, false, fn)
}

// Access is Update for commands that read the key as Redis's lookupKeyRead
// does (STRLEN, GETEX): it counts a hit or a miss, like Get, and, if touch
// is set, marks the key as used (an LRU stamp, an LFU counter update, a
// TinyLFU access) before calling fn. A Put that follows keeps the key's
// mark as the read left it: the write is not a second access.
func (s *Store) Access(key []byte, touch bool, fn func(cur []byte, expireAt int64, exists bool) (newVal []byte, newExpireAt int64, op Op)) {
	s.update(key, true, touch, fn)
}

func (s *Store) update(key []byte, read, touch bool, fn func(cur []byte, expireAt int64, exists bool) (newVal []byte, newExpireAt int64, op Op)) {
	sh, tag := s.locate(s.hash(key))
	sh.mu.Lock()
	defer sh.mu.Unlock()
	// A read first (TTL and other read-only callers return Keep): during an
	// expiry pause an expired key then stays; it is removed only if fn
	// writes, by the write lookup below.
	i, b := s.lookupReadLocked(sh, tag, key)
	var cur []byte
	var exp int64
	if i >= 0 {
		_, cur, _ = entryKV(b)
		exp = entryExp(b)
	}
	if read {
		switch {
		case i >= 0 && touch:
			s.touchLocked(sh, tag, b)
			sh.hits++
		case i >= 0:
			sh.hits++
		case touch:
			s.missLocked(sh, tag)
		default:
			sh.misses++
		}
	}
	nv, nexp, op := fn(cur, exp, i >= 0)
	if op != Keep && i < 0 {
		i, b = s.lookupLocked(sh, tag, key) // removes a hidden expired entry: -1
	}
	switch op {
	case Put:
		// A Put of the very value fn was given (EXPIRE, PERSIST, GETEX:
		// only the expiry changes) keeps its "raw" mark, as Redis keeps
		// the object.
		var edited byte
		if i >= 0 && len(nv) == len(cur) && (len(nv) == 0 || &nv[0] == &cur[0]) {
			edited = b[0] & flagEdited
		}
		if nexp != 0 && s.nowMs() > nexp {
			if i >= 0 {
				s.removeAtLocked(sh, i, b)
			}
		} else if i >= 0 {
			stamp := entryLRU(b)
			s.putLocked(sh, tag, i, b, key, nv, nexp)
			ne := sh.entry(slotOff(sh.table[i]))
			if read {
				setEntryLRU(ne, stamp)
			}
			ne[0] |= edited
		} else {
			s.putLocked(sh, tag, i, b, key, nv, nexp)
		}
	case Delete:
		if i >= 0 {
			s.removeAtLocked(sh, i, b)
		}
	case Touch:
		if i >= 0 {
			setEntryLRU(b, s.writeStampLocked(sh, tag, b))
		}
	}
	sh.maybeCompactLocked(s)
}

// Delete removes key and reports whether it existed.
func (s *Store) Delete(key []byte) bool {
	sh, tag := s.locate(s.hash(key))
	sh.mu.Lock()
	defer sh.mu.Unlock()
	i, b := s.lookupLocked(sh, tag, key)
	if i >= 0 {
		s.removeAtLocked(sh, i, b)
	}
	sh.maybeCompactLocked(s)
	return i >= 0
}

// Exists reports whether key exists. Like Redis's EXISTS it counts a hit or
// a miss but does not mark the key as used.
func (s *Store) Exists(key []byte) bool {
	_, _, ok := s.Lookup(nil, key, false)
	return ok
}

// Touch marks key as recently used (TOUCH) and reports whether it exists.
// Like Redis it counts a hit or a miss.
func (s *Store) Touch(key []byte) bool {
	sh, tag := s.locate(s.hash(key))
	sh.mu.Lock()
	defer sh.mu.Unlock()
	i, b := s.lookupReadLocked(sh, tag, key)
	if i < 0 {
		s.missLocked(sh, tag)
		sh.maybeCompactLocked(s)
		return false
	}
	s.touchLocked(sh, tag, b)
	sh.hits++
	return true
}

// Rename atomically moves src to dst, keeping its value and TTL (RENAME);
// with nx it does nothing if dst exists (RENAMENX). srcExists reports
// whether src existed, renamed whether the move happened. Renaming a key to
// itself succeeds without change, except with nx (dst exists), as in Redis.
func (s *Store) Rename(src, dst []byte, nx bool) (srcExists, renamed bool) {
	ha, hb := s.hash(src), s.hash(dst)
	a, ta := s.locate(ha)
	b, tb := s.locate(hb)
	if a == b {
		a.mu.Lock()
		defer a.mu.Unlock()
	} else {
		first, second := a, b
		if s.shardIndex(ha) > s.shardIndex(hb) {
			first, second = b, a
		}
		first.mu.Lock()
		defer first.mu.Unlock()
		second.mu.Lock()
		defer second.mu.Unlock()
	}
	defer a.maybeCompactLocked(s)
	defer b.maybeCompactLocked(s)
	if i, _ := s.lookupLocked(a, ta, src); i < 0 {
		return false, false
	}
	j, _ := s.lookupLocked(b, tb, dst) // may shift a's slots: look src up again below
	if nx && j >= 0 {
		return true, false
	}
	if string(src) == string(dst) {
		return true, true
	}
	i := a.findLocked(ta, src, s)
	e := a.entry(slotOff(a.table[i]))
	_, v, _ := entryKV(e)
	var old []byte
	if j = b.findLocked(tb, dst, s); j >= 0 { // finding src may have moved slots
		old = b.entry(slotOff(b.table[j]))
	}
	stamp, count, edited := entryLRU(e), entryCount(e), e[0]&flagEdited
	s.putLocked(b, tb, j, old, dst, v, entryExp(e))
	if j = b.findLocked(tb, dst, s); j >= 0 {
		// The key keeps its LRU stamp, LFU counter or access count,
		// touched once, and its "raw" mark, as Redis's RENAME does
		// (lookupKeyWrite on the source, then the same object under the
		// new name).
		ne := b.entry(slotOff(b.table[j]))
		setEntryLRU(ne, stamp)
		setEntryCount(ne, count)
		ne[0] |= edited
		s.touchLocked(b, tb, ne)
	}
	if i = a.findLocked(ta, src, s); i >= 0 { // b's insert may have resized a's table
		s.removeAtLocked(a, i, a.entry(slotOff(a.table[i])))
	}
	return true, true
}

// Len returns the number of keys (DBSIZE), including expired keys that were
// not yet removed, as Redis does.
func (s *Store) Len() int {
	var n int64
	for i := range s.shards {
		n += s.shards[i].nkeys.Load()
	}
	return int(n)
}

// Flush removes every key (FLUSHALL) and releases their memory.
func (s *Store) Flush() {
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		sh.releaseLocked(s)
		sh.mu.Unlock()
	}
	s.resetDuel()
}

// SetMaxMemory changes the memory limit (CONFIG SET maxmemory); 0 = unlimited.
// It takes effect at the next EnsureMemory.
func (s *Store) SetMaxMemory(n int64) { s.maxMemory.Store(n) }

// SetPolicy changes the eviction policy (CONFIG SET maxmemory-policy).
// Leaving a TinyLFU policy releases the shards' sketches and the ranking
// duel's simulations.
func (s *Store) SetPolicy(p Policy) {
	s.policy.Store(int64(p))
	if p.TinyLFU() {
		return
	}
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		sh.sketch.releaseLocked(sh, s)
		sh.mu.Unlock()
	}
	s.resetDuel()
}

// UsedMemory returns the bytes the store accounts for (see Config.MaxMemory).
func (s *Store) UsedMemory() int64 { return s.used.Load() }

// UpdateStats overwrites st with the current counters (fastcache style: the
// caller owns st and may reuse it).
func (s *Store) UpdateStats(st *Stats) {
	*st = Stats{}
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		st.Hits += sh.hits
		st.Misses += sh.misses
		st.Prefaulted += int64(sh.ahead)
		st.SketchBytes += sh.sketch.bytes()
		st.SketchHalvings += sh.sketch.halving
		sh.mu.Unlock()
		st.Keys += uint64(sh.nkeys.Load())
		st.Expires += uint64(sh.nvol.Load())
	}
	st.Evicted = s.evicted.Load()
	st.EvictedCold = s.evictedCold.Load()
	st.RankRecency = s.duel.recency.Load()
	st.RankSwitches = s.duel.switches.Load()
	st.DuelBytes = s.duel.bytes.Load()
	st.Expired = s.expired.Load()
	st.UsedMemory = s.used.Load()
	st.MaxMemory = s.maxMemory.Load()
}

// RandomKey appends a random existing key to dst (RANDOMKEY). ok is false
// when the store is empty.
func (s *Store) RandomKey(dst []byte) ([]byte, bool) {
	paused := s.expiryPaused()
	skipped := 0
	for {
		sh := s.randomShard(func(sh *shard) bool { return sh.nkeys.Load() > 0 })
		if sh == nil {
			return dst, false
		}
		sh.mu.Lock()
		sh.finishResizeLocked(s)
		t := sh.table
		if len(t) == 0 {
			sh.mu.Unlock()
			continue
		}
		i := randomSlot(t)
		if i < 0 {
			sh.mu.Unlock()
			continue
		}
		b := sh.entry(slotOff(t[i]))
		if isExpired(b, s) {
			switch {
			case !paused:
				s.notifyRemoved(b)
				s.removeAtLocked(sh, i, b)
				s.expired.Add(1)
				sh.maybeCompactLocked(s)
				sh.mu.Unlock()
				continue
			case skipped < randomKeyPausedTries:
				// CLIENT PAUSE holds expiry: skip the key but keep it, as
				// Redis does. When (nearly) every key is logically expired,
				// return one after some tries rather than loop, as Redis
				// does on a replica.
				skipped++
				sh.mu.Unlock()
				continue
			}
		}
		dst = append(dst, entryKey(b)...)
		sh.mu.Unlock()
		return dst, true
	}
}

// randomSlot returns a uniformly random occupied slot of t, or -1 if none
// is: random probes first, then a uniform choice among the occupied slots.
// (The first occupied slot after a random one would favour the keys after
// long runs of empty slots.)
func randomSlot(t []uint64) int {
	for try := 0; try < 16; try++ {
		if j := rand.IntN(len(t)); t[j] != 0 {
			return j
		}
	}
	n := 0
	for _, v := range t {
		if v != 0 {
			n++
		}
	}
	if n == 0 {
		return -1
	}
	k := rand.IntN(n)
	for j, v := range t {
		if v != 0 {
			if k == 0 {
				return j
			}
			k--
		}
	}
	return -1 // unreachable: t does not change under the shard's lock
}

// randomKeyPausedTries bounds how many logically expired keys RandomKey
// skips while expiry is paused.
const randomKeyPausedTries = 100

// randomShard returns a random shard for which ok holds, or nil if none does.
// Each such shard is equally likely: a few random picks first (enough when
// most shards qualify), then a uniform choice among those that do. (Taking
// the first qualifying shard after a random start instead would favour the
// shards after long runs of empty ones: with four keys in 256 shards, one
// could come up as rarely as 1 time in 30.)
func (s *Store) randomShard(ok func(*shard) bool) *shard {
	n := len(s.shards)
	for try := 0; try < 8; try++ {
		if sh := &s.shards[rand.IntN(n)]; ok(sh) {
			return sh
		}
	}
	count := 0
	for i := range s.shards {
		if ok(&s.shards[i]) {
			count++
		}
	}
	if count == 0 {
		return nil
	}
	k := rand.IntN(count)
	var last *shard
	for i := range s.shards {
		if sh := &s.shards[i]; ok(sh) {
			if k == 0 {
				return sh
			}
			k--
			last = sh
		}
	}
	return last // shards stopped qualifying between the passes: any that still does
}
