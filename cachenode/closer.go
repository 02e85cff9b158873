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
// every command cannot pile them up. Accept releases them too when the
// process runs out of descriptors.
const closeBatchMax = 256

// deferredCloser releases closed connections' descriptors in batches, a
// closeDelay after they were closed. The connection itself is finished at
// once (rawAccepter's sockConn shuts the socket down with a raw system
// call, so the peer sees the close and a blocked reader or writer returns);
// only the close(2) of the descriptor waits. close(2) is an ordinary system
// call, and the first ordinary system call after the process was idle puts
// the runtime's monitor thread into 20µs polling for several milliseconds,
// which on a server pinned to one CPU delays the replies of whatever comes
// next. A client that reconnects at once (a pool replacing a connection,
// redis-benchmark opening its clients after its configuration query) comes
// next, so closing later keeps that burst clear of it; closes also batch.
type deferredCloser struct {
	mu      sync.Mutex
	pending []io.Closer
	running bool          // run's goroutine exists
	stop    chan struct{} // closed by stopAndFlush
	done    chan struct{} // closed when run returns after stop
}

func newDeferredCloser() *deferredCloser {
	return &deferredCloser{stop: make(chan struct{}), done: make(chan struct{})}
}

// add queues c to be closed, or closes it now once the closer is stopped.
func (d *deferredCloser) add(c io.Closer) {
	d.mu.Lock()
	select {
	case <-d.stop:
		d.mu.Unlock()
		c.Close()
		return
	default:
	}
	d.pending = append(d.pending, c)
	if len(d.pending) >= closeBatchMax {
		batch := d.pending
		d.pending = nil
		d.mu.Unlock()
		closeAll(batch)
		return
	}
	start := !d.running
	d.running = true
	d.mu.Unlock()
	if start {
		go d.run()
	}
}

// flush closes every queued descriptor now.
func (d *deferredCloser) flush() {
	d.mu.Lock()
	batch := d.pending
	d.pending = nil
	d.mu.Unlock()
	closeAll(batch)
}

func closeAll(batch []io.Closer) {
	for _, c := range batch {
		c.Close()
	}
}

// run closes the queued descriptors every closeDelay and returns once a
// round finds none (add starts it again) or the closer is stopped.
func (d *deferredCloser) run() {
	t := time.NewTimer(closeDelay)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-d.stop:
		}
		d.mu.Lock()
		batch := d.pending
		d.pending = nil
		stopped := false
		select {
		case <-d.stop: // stopAndFlush saw running and waits for done
			stopped = true
		default:
		}
		if len(batch) == 0 && !stopped {
			d.running = false
			d.mu.Unlock()
			return
		}
		d.mu.Unlock()
		closeAll(batch)
		if stopped {
			close(d.done)
			return
		}
		t.Reset(closeDelay)
	}
}

// stopAndFlush closes every queued descriptor, waits for run to return, and
// makes later adds close at once. It is safe to call more than once.
func (d *deferredCloser) stopAndFlush() {
	d.mu.Lock()
	select {
	case <-d.stop:
		d.mu.Unlock()
		return
	default:
	}
	close(d.stop)
	running := d.running
	batch := d.pending
	d.pending = nil
	d.mu.Unlock()
	closeAll(batch)
	if running {
		<-d.done
	}
}
