// Deferred, batched close(2) of disconnected clients' sockets.

package cachenode

import (
	"io"
	"sync"
	"time"
)

// closeDelay is how long a disconnected client's socket descriptor is kept
// before it is released (see deferredCloser).
const closeDelay = time.Second

// closeBatchMax bounds the descriptors held: the connection that finds this
// many waiting releases them all at once, so a client that reconnects for
// every command cannot pile them up. A low open-files limit lowers the bound
// (newDeferredCloser), and accept releases them all when the process runs
// out of descriptors.
const closeBatchMax = 256

// deferredCloser releases closed connections' descriptors in batches, about
// a closeDelay after the first of a batch was closed (a timer, no goroutine
// while waiting). The connection itself is finished at once (rawListener's
// sockConn shuts the socket down with a raw system call, so the peer sees
// the close and a blocked reader or writer returns);
// only the close(2) of the descriptor waits. close(2) is an ordinary system
// call, and the first ordinary system call after the process was idle puts
// the runtime's monitor thread into 20µs polling for several milliseconds,
// which on a server pinned to one CPU delays the replies of whatever comes
// next. A client that reconnects at once (a pool replacing a connection,
// redis-benchmark opening its clients after its configuration query) comes
// next, so closing later keeps that burst clear of it; closes also batch.
type deferredCloser struct {
	mu      sync.Mutex
	max     int // closeBatchMax or less
	pending []io.Closer
	timer   *time.Timer    // armed while pending is waiting for it; nil otherwise
	stopped bool           // stopAndFlush ran: close at once
	firing  sync.WaitGroup // timers that were armed and not stopped
}

// newDeferredCloser returns a closer that holds at most closeBatchMax
// descriptors, or an eighth of fdLimit (the open-files limit; 0: unknown)
// if that is less.
func newDeferredCloser(fdLimit uint64) *deferredCloser {
	m := closeBatchMax
	if fdLimit > 0 && fdLimit/8 < uint64(m) {
		m = max(int(fdLimit/8), 1)
	}
	return &deferredCloser{max: m}
}

// add queues c to be closed, or closes it now once the closer is stopped.
func (d *deferredCloser) add(c io.Closer) {
	d.mu.Lock()
	if d.stopped {
		d.mu.Unlock()
		c.Close()
		return
	}
	d.pending = append(d.pending, c)
	if len(d.pending) >= d.max {
		batch := d.pending
		d.pending = nil
		d.mu.Unlock()
		closeAll(batch) // the armed timer will find nothing
		return
	}
	if d.timer == nil {
		d.firing.Add(1)
		d.timer = time.AfterFunc(closeDelay, d.fire)
	}
	d.mu.Unlock()
}

// fire closes what is queued when the timer set by add goes off.
func (d *deferredCloser) fire() {
	defer d.firing.Done()
	d.mu.Lock()
	batch := d.pending
	d.pending = nil
	d.timer = nil
	d.mu.Unlock()
	closeAll(batch)
}

// flush closes every queued descriptor now and returns how many.
func (d *deferredCloser) flush() int {
	d.mu.Lock()
	batch := d.pending
	d.pending = nil
	d.mu.Unlock()
	closeAll(batch)
	return len(batch)
}

func closeAll(batch []io.Closer) {
	for _, c := range batch {
		c.Close()
	}
}

// stopAndFlush closes every queued descriptor, waits for a timer that has
// already gone off, and makes later adds close at once. It is safe to call
// more than once.
func (d *deferredCloser) stopAndFlush() {
	d.mu.Lock()
	d.stopped = true
	if d.timer != nil && d.timer.Stop() {
		d.firing.Done() // it will not fire
	}
	d.timer = nil
	batch := d.pending
	d.pending = nil
	d.mu.Unlock()
	closeAll(batch)
	d.firing.Wait()
}
