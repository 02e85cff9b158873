package cacheclient

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/redis/go-redis/v9"

	"github.com/cachetier/cachetier/loader"
)

// Item is one key's answer from GetMany: what Get would have returned for
// it, and the Info GetInfo would have given.
type Item struct {
	// Value is the key's value (the caller's), nil on an error.
	Value []byte
	// Info says how the answer was obtained.
	Info Info
	// Err is the key's error, one of those Get returns (loader.ErrNotFound,
	// ErrShed, *LoadError, the context's error, ErrClosed).
	Err error
}

// Entry is one key and value for SetMany.
type Entry struct {
	// Key is the key to write.
	Key string
	// Value is its value (not retained after SetMany returns).
	Value []byte
}

// batchWindow is how long the keys a GetMany needs from the origin wait for
// the call's other flights after the last key arrived (flights that wait for
// another process's lease, or that another caller started) before their
// batch goes to the origin without them.
const batchWindow = 10 * time.Millisecond

// GetMany is Get for many keys at once: one Item per key, in the order of
// keys (a repeated key gets the same answer). Each key is answered as Get
// would answer it, with the same guarantees, at the cost of far fewer round
// trips:
//
//   - L1 first, key by key.
//   - The L1 misses grouped by the node that serves them, one pipelined
//     round trip per node (all nodes at once), each bounded by Tier.Timeout.
//     A node that fails fails only its own keys' reads; they go on to the
//     origin as with Get.
//   - The keys still without a fresh answer each join their key's flight,
//     so they coalesce with concurrent Gets and other GetMany calls of this
//     process (and, with leases, across the tier): one origin load per key.
//     The keys this call's own flights load from the origin are gathered
//     into LoadMany calls (normally one: keys whose flight waits elsewhere
//     are not waited for longer than a millisecond).
//
// Failures are per key: an origin error serves a stale copy where there is
// one and a *LoadError (or ErrShed) elsewhere; a not-found is
// loader.ErrNotFound (cached for NegativeTTL). With l nil, keys in neither
// level are loader.ErrNotFound and nothing is loaded. The origin limiter
// counts each key of a batch as one load.
func (c *Client) GetMany(ctx context.Context, keys []string, l loader.BatchLoader) []Item {
	items := make([]Item, len(keys))
	if c.closed.Load() {
		for i := range items {
			items[i].Err = ErrClosed
		}
		return items
	}
	// One slot per distinct key; dup[i] >= 0 points a repeat at its first.
	dup := repeats(keys)
	var single loader.Loader // l for one key (background refreshes)
	if l != nil {
		single = loader.Single(l)
	}

	// L1.
	var stale [][]byte                // a stale L1 value to fall back on
	todo := make([]int, 0, len(keys)) // indexes of the keys past L1
	var now int64                     // the whole call's L1 judged at one precise instant
	if c.l1 != nil {
		stale = make([][]byte, len(keys))
		now = preciseMs()
	}
	for i, k := range keys {
		if dup != nil && dup[i] >= 0 {
			continue
		}
		if c.l1 == nil {
			todo = append(todo, i)
			continue
		}
		out, info, err, done, haveStale := c.l1Answer(nil, 0, k, single, now)
		if done {
			items[i] = Item{Value: okValue(out, err), Info: info, Err: err}
			continue
		}
		if haveStale {
			stale[i] = out
		}
		todo = append(todo, i)
	}

	// L2: one pipeline per node.
	var miss []int
	if len(todo) > 0 {
		reads := c.tier.readMany(ctx, &c.reads, keys, todo)
		// The values found go to one buffer, each item a full slice of its
		// own part (appending to one cannot reach the next).
		size := 0
		for j := range reads {
			if n := len(reads[j].env) - envHdrLen; reads[j].found && n > 0 {
				size += n
			}
		}
		buf := make([]byte, 0, size)
		for j, i := range todo {
			n := len(buf)
			out, info, err, ok := c.l2Answer(ctx, buf, n, keys[i], &reads[j], true)
			if ok {
				var v []byte
				if err == nil {
					v, buf = out[n:len(out):len(out)], out
				}
				items[i] = Item{Value: v, Info: info, Err: err}
				continue
			}
			miss = append(miss, i)
			reads[len(miss)-1] = reads[j]
		}
		// The flights, all at once.
		var b *batchFill
		if l != nil {
			b = &batchFill{c: c, bl: l, ctx: ctx}
		}
		bks := make([]*batchKey, len(miss))
		if b != nil {
			for j, i := range miss {
				bks[j] = &batchKey{b: b}
				// A flight already running elsewhere will not call this
				// call's Load: not waited for.
				if c.flights.loads.Running(keys[i]) {
					bks[j].counted.Store(true)
				} else {
					b.pending++ // before any flight can reach Load
				}
			}
		}
		var wg sync.WaitGroup
		for j, i := range miss {
			r, bk := reads[j], bks[j]
			wg.Go(func() {
				var kl loader.Loader
				if bk != nil {
					kl = bk
				}
				var st []byte
				if stale != nil {
					st = stale[i]
				}
				out, info, err := c.miss(ctx, st, 0, keys[i], kl, st != nil, r, true)
				if bk != nil {
					bk.settle()
				}
				items[i] = Item{Value: okValue(out, err), Info: info, Err: err}
			})
		}
		wg.Wait()
	}

	for i := range dup {
		if j := dup[i]; j >= 0 {
			items[i] = items[j]
			if items[j].Value != nil {
				items[i].Value = append([]byte(nil), items[j].Value...)
			}
		}
	}
	return items
}

// repeats returns nil when the keys are distinct, else dup with dup[i] the
// index of keys[i]'s first occurrence for each repeated key and -1 for the
// others. An open-addressing table of indexes, on the stack for up to 128
// keys.
func repeats(keys []string) (dup []int) {
	if len(keys) < 2 {
		return nil
	}
	size := 4
	for size < 2*len(keys) {
		size <<= 1
	}
	var small [256]int32
	tab := small[:0]
	if size <= len(small) {
		tab = small[:size]
	} else {
		tab = make([]int32, size)
	}
	mask := uint64(size - 1)
	for i, k := range keys {
		for s := xxhash.Sum64String(k) & mask; ; s = (s + 1) & mask {
			e := tab[s] // index+1 of the key there, 0: empty
			if e == 0 {
				tab[s] = int32(i + 1)
				break
			}
			if keys[e-1] == k {
				if dup == nil {
					dup = make([]int, len(keys))
					for x := range dup {
						dup[x] = -1
					}
				}
				dup[i] = int(e - 1)
				break
			}
		}
	}
	return dup
}

// okValue is out when err is nil (an empty value is not nil), else nil.
func okValue(out []byte, err error) []byte {
	if err != nil {
		return nil
	}
	if out == nil {
		return []byte{}
	}
	return out
}

// readMany reads keys[i] for every i in idx from their live owners, one
// pipeline per node, the nodes in parallel: reads[j] is the read of
// keys[idx[j]], as tier.read would make it.
func (t *tier) readMany(ctx context.Context, g *readGroup, keys []string, idx []int) []l2Read {
	reads := make([]l2Read, len(idx))
	now := preciseMs()
	// Route every key: at[j] is the index in nodes of reads[j]'s node, -1
	// when none is asked.
	var (
		nodeBuf [8]*node
		nodes   = nodeBuf[:0]
		at      = make([]int32, len(idx))
		asked   int
	)
	for j, i := range idx {
		k := keys[i]
		r := &reads[j]
		r.made, r.now, r.fillEpoch = true, now, g.epoch(k)
		at[j] = -1
		nd, _ := t.route(k)
		if nd == nil {
			continue // asked false
		}
		r.asked = true
		r.mark = t.co.mark(k, nd)
		if tombed, err := t.tombstoned(ctx, nd, k, now); tombed {
			r.err = err
			continue
		}
		x := len(nodes) - 1
		for ; x >= 0 && nodes[x] != nd; x-- {
		}
		if x < 0 {
			x = len(nodes)
			nodes = append(nodes, nd)
		}
		at[j] = int32(x)
		asked++
	}
	if asked == 0 {
		return reads
	}
	// The positions of each node's reads, node by node in one array.
	var offBuf [9]int
	off := offBuf[:0]
	if len(nodes)+1 > len(offBuf) {
		off = make([]int, 0, len(nodes)+1)
	}
	off = off[:len(nodes)+1]
	for _, x := range at {
		if x >= 0 {
			off[x+1]++
		}
	}
	for x := range nodes {
		off[x+1] += off[x]
	}
	pos := make([]int32, asked)
	fill := make([]int, len(nodes))
	copy(fill, off)
	for j, x := range at {
		if x >= 0 {
			pos[fill[x]] = int32(j)
			fill[x]++
		}
	}
	cmds := make([]*getCmd, asked)
	var wg sync.WaitGroup
	for x, nd := range nodes {
		ps, cs := pos[off[x]:off[x+1]], cmds[off[x]:off[x+1]]
		read := func() { t.pipeGet(ctx, nd, keys, idx, reads, ps, cs) }
		if x == len(nodes)-1 {
			read() // the last one on this goroutine
		} else {
			wg.Go(read)
		}
	}
	wg.Wait()
	return reads
}

// pipeGet GETs the keys of reads[j] for every j in pos from nd in one
// pipeline bounded by Timeout, one request for the node's health and
// counters, and sets those reads' env, found and err (the pipeline's error,
// when it failed as a whole). cmds (len(pos)) is for the pipeline's
// commands (pooled, node.get).
func (t *tier) pipeGet(ctx context.Context, nd *node, keys []string, idx []int, reads []l2Read, pos []int32, cmds []*getCmd) {
	for x, j := range pos {
		cmds[x] = getCmds.Get().(*getCmd)
		cmds[x].key = keys[idx[j]]
	}
	start := time.Now()
	rctx, rc := t.reqCtx(ctx, start, 0)
	_, perr := nd.client().Pipelined(rctx, func(p redis.Pipeliner) error {
		for _, g := range cmds {
			_ = p.Process(rctx, g.cmd)
		}
		return nil
	})
	endReq(rc)
	if errors.Is(perr, redis.Nil) {
		perr = nil // some key missing: not a failure
		for _, g := range cmds {
			if err := g.cmd.Err(); err != nil && !errors.Is(err, redis.Nil) {
				perr = err
				break
			}
		}
	}
	werr := t.record(ctx, nd, start, perr)
	for x, j := range pos {
		r := &reads[j]
		v, err := cmds[x].cmd.Result()
		putGetCmd(cmds[x])
		switch {
		case err == nil:
			r.env, r.found = v, true
		case errors.Is(err, redis.Nil):
		case werr != nil:
			r.err = werr
		default:
			r.err = fmt.Errorf("cacheclient: node %s: %w", nd.addr, err)
		}
	}
}

// batchFill gathers the origin loads of one GetMany's flights into LoadMany
// calls. pending counts the call's flights not yet accounted for: neither
// waiting in Load nor finished without loading. When it reaches zero, or
// batchWindow after the last key started waiting, the waiting keys go to
// the origin in one call.
type batchFill struct {
	c   *Client
	bl  loader.BatchLoader
	ctx context.Context // the GetMany caller's: its values go to LoadMany

	mu      sync.Mutex
	pending int
	queue   []*batchWait
	timer   *time.Timer
}

// batchWait is one key waiting in Load for its batch.
type batchWait struct {
	key  string
	done chan struct{}
	res  loader.KeyResult
}

// batchKey is the Loader one flight of a GetMany uses: its Load joins the
// call's next batch.
type batchKey struct {
	b       *batchFill
	counted atomic.Bool
}

// Load implements loader.Loader.
func (k *batchKey) Load(ctx context.Context, key string) (loader.Result, error) {
	w := &batchWait{key: key, done: make(chan struct{})}
	k.b.add(w, k)
	select {
	case <-w.done:
		return w.res.Result, w.res.Err
	case <-ctx.Done():
		return loader.Result{}, ctx.Err()
	}
}

// settle accounts for a flight that finished, or that the caller stopped
// waiting for, without its Load having been counted.
func (k *batchKey) settle() {
	if !k.counted.CompareAndSwap(false, true) {
		return
	}
	b := k.b
	b.mu.Lock()
	b.pending--
	q := b.takeLocked(false)
	b.mu.Unlock()
	b.run(q)
}

// add queues w (the Load of k) and sends the queue to the origin if no
// flight of the call is left to wait for; else it makes sure a timer will.
func (b *batchFill) add(w *batchWait, k *batchKey) {
	b.mu.Lock()
	if k.counted.CompareAndSwap(false, true) {
		b.pending--
	}
	b.queue = append(b.queue, w)
	q := b.takeLocked(false)
	if q == nil {
		if b.timer == nil {
			b.timer = time.AfterFunc(batchWindow, func() {
				b.mu.Lock()
				q := b.takeLocked(true)
				b.mu.Unlock()
				b.run(q)
			})
		} else {
			b.timer.Reset(batchWindow)
		}
	}
	b.mu.Unlock()
	b.run(q)
}

// takeLocked returns the queue for sending (and empties it) when pending is
// zero or force is set. b.mu must be held.
func (b *batchFill) takeLocked(force bool) []*batchWait {
	if len(b.queue) == 0 || (b.pending > 0 && !force) {
		if force {
			b.timer = nil
		}
		return nil
	}
	q := b.queue
	b.queue = nil
	if b.timer != nil {
		b.timer.Stop()
		b.timer = nil
	}
	return q
}

// run sends the keys of q to the origin in one LoadMany and hands each
// waiter its result.
func (b *batchFill) run(q []*batchWait) {
	if len(q) == 0 {
		return
	}
	keys := make([]string, len(q))
	for i, w := range q {
		keys[i] = w.key
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(b.ctx), b.c.cfg.Origin.LoadTimeout)
	defer cancel()
	b.c.st.originBatches.Add(1)
	res, err := loadMany(ctx, b.bl, keys)
	for i, w := range q {
		switch {
		case err != nil:
			w.res.Err = err
		case i < len(res):
			w.res = res[i]
		default:
			w.res.Err = fmt.Errorf("cacheclient: LoadMany returned %d results for %d keys", len(res), len(keys))
		}
		close(w.done)
	}
}

// loadMany calls bl, turning a panic into a *loader.PanicError.
func loadMany(ctx context.Context, bl loader.BatchLoader, keys []string) (res []loader.KeyResult, err error) {
	defer func() {
		if v := recover(); v != nil {
			res, err = nil, &loader.PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	return bl.LoadMany(ctx, keys)
}

// SetMany is Set for many entries: each key is stored in L1 and on its node,
// fresh for ttl (0 = Config.TTL), with one pipelined round trip per node
// (all nodes at once). L1 is written even where a node write fails; the
// nodes' errors are returned joined. As with Set, loads of these keys in
// flight are forgotten and their origin error backoff ends.
func (c *Client) SetMany(ctx context.Context, entries []Entry, ttl time.Duration) error {
	if c.closed.Load() {
		return ErrClosed
	}
	if ttl < 0 {
		return fmt.Errorf("cacheclient: SetMany: negative ttl %v", ttl)
	}
	for _, e := range entries {
		c.flights.forget(e.Key)
		c.tier.noteWrite(e.Key)
		c.origin.forgive(e.Key)
	}
	now := preciseMs()
	h := c.store.valueHeader(ttl, now)
	err := c.tier.setMany(ctx, entries, h, now)
	if c.tier.warmActive() {
		keys := make([]string, len(entries))
		for i, e := range entries {
			keys[i] = e.Key
		}
		c.tier.warmForget(ctx, keys...)
	}
	for _, e := range entries {
		c.store.fillL1(e.Key, h, e.Value, now, untracked)
		c.reads.filled(e.Key) // reads from before are too old for a fill
	}
	return err
}

// DeleteMany is Delete for many keys: removed from L1 and from their nodes,
// one DEL per node (all nodes at once). The nodes' errors are returned
// joined.
func (c *Client) DeleteMany(ctx context.Context, keys []string) error {
	if c.closed.Load() {
		return ErrClosed
	}
	for _, k := range keys {
		c.flights.forget(k)
		c.tier.noteWrite(k)
		if c.store.l1 != nil {
			c.store.l1.del(k)
		}
	}
	err := c.tier.deleteMany(ctx, keys)
	c.tier.warmForget(ctx, keys...)
	for _, k := range keys {
		c.reads.filled(k) // reads from before are too old for a fill
	}
	return err
}

// byNode groups the indexes of keys by the node that serves each now (keys
// with no live node are left out), with whether that node is the key's
// failover owner.
func (t *tier) byNode(keys []string) (nodes []*node, idx [][]int, failover [][]bool) {
	for i, k := range keys {
		nd, fo := t.route(k)
		if nd == nil {
			continue
		}
		g := -1
		for x, n := range nodes {
			if n == nd {
				g = x
				break
			}
		}
		if g < 0 {
			g = len(nodes)
			nodes = append(nodes, nd)
			idx = append(idx, nil)
			failover = append(failover, nil)
		}
		idx[g] = append(idx[g], i)
		failover[g] = append(failover[g], fo)
	}
	return nodes, idx, failover
}

// eachNode runs fn for every group, the last on this goroutine, and returns
// their errors joined.
func eachNode(n int, fn func(g int) error) error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for g := range n {
		if g == n-1 {
			errs[g] = fn(g)
		} else {
			wg.Go(func() { errs[g] = fn(g) })
		}
	}
	wg.Wait()
	return errors.Join(errs...)
}

// setMany writes the entries with header h, one pipeline per node, with the
// TTL rules of set (failover flag and FailoverTTL, nothing written with less
// than a millisecond to live).
func (t *tier) setMany(ctx context.Context, entries []Entry, h header, now int64) error {
	keys := make([]string, len(entries))
	for i, e := range entries {
		keys[i] = e.Key
	}
	nodes, idx, failover := t.byNode(keys)
	owners := len(nodes)
	rn, ri, rf := t.byReplica(keys) // replicas.go: their errors are not the call's
	nodes, idx, failover = append(nodes, rn...), append(idx, ri...), append(failover, rf...)
	errs := make([]error, len(nodes))
	_ = eachNode(len(nodes), func(g int) error {
		errs[g] = t.setGroup(ctx, nodes[g], idx[g], failover[g], entries, h, now)
		return nil
	})
	t.voidFailed(nodes, idx, keys, errs, owners)
	return errors.Join(errs[:owners]...)
}

// setGroup writes the entries at idx to nd in one pipeline (fo: whether each
// goes to a failover owner).
func (t *tier) setGroup(ctx context.Context, nd *node, idx []int, fo []bool, entries []Entry, h header, now int64) error {
	var size int
	for _, i := range idx {
		size += envHdrLen + len(entries[i].Value)
	}
	extra := time.Duration(size) * 10 * time.Nanosecond
	return t.do(ctx, nd, extra, func(ctx context.Context) error {
		_, err := nd.client().Pipelined(ctx, func(p redis.Pipeliner) error {
			for x, i := range idx {
				eh := h
				ttl := time.Duration(eh.t2-now) * time.Millisecond
				if fo[x] {
					eh.flags |= flagFailover
					ttl = min(ttl, t.cfg.FailoverTTL)
				}
				if ttl < time.Millisecond {
					continue
				}
				env := append(appendHeader(make([]byte, 0, envHdrLen+len(entries[i].Value)), eh), entries[i].Value...)
				p.Set(ctx, entries[i].Key, env, ttl)
			}
			return nil
		})
		return err
	})
}

// deleteMany removes keys from their live owners (and replicas), one DEL
// per node.
func (t *tier) deleteMany(ctx context.Context, keys []string) error {
	nodes, idx, _ := t.byNode(keys)
	owners := len(nodes)
	rn, ri, _ := t.byReplica(keys)
	nodes, idx = append(nodes, rn...), append(idx, ri...)
	errs := make([]error, len(nodes))
	_ = eachNode(len(nodes), func(g int) error {
		errs[g] = t.delGroup(ctx, nodes, idx, keys, g)
		return nil
	})
	t.voidFailed(nodes, idx, keys, errs, owners)
	return errors.Join(errs[:owners]...)
}

// delGroup deletes the keys at idx[g] from nodes[g].
func (t *tier) delGroup(ctx context.Context, nodes []*node, idx [][]int, keys []string, g int) error {
	nd := nodes[g]
	ks := make([]string, len(idx[g]))
	for x, i := range idx[g] {
		ks[x] = keys[i]
	}
	return t.do(ctx, nd, 0, func(ctx context.Context) error {
		return nd.client().Del(ctx, ks...).Err()
	})
}
