//go:build linux

// Raw socket reads and writes on Linux; ending a connection from elsewhere.

package cachenode

import (
	"io"
	"iter"
	"net"
	"os"
	"syscall"
	"unsafe"
)

// rawIO reads and writes a connection's non-blocking socket with raw system
// calls inside syscall.RawConn's Read and Write, which still wait for
// readiness in the runtime's network poller and honour deadlines. A raw call
// skips the runtime's syscall bookkeeping (entersyscall/exitsyscall): a read
// or write on a non-blocking socket never blocks, so handing the P to another
// thread is never useful, and on a server pinned to one CPU (GOMAXPROCS 1)
// the monitor thread that does the hand-off otherwise keeps waking up and
// taking the CPU from the serving thread. The functions passed to RawConn
// are built once per connection so a request allocates nothing.
type rawIO struct {
	rc      syscall.RawConn
	buf     []byte
	n       int
	errno   syscall.Errno
	readFn  func(fd uintptr) bool
	writeFn func(fd uintptr) bool

	// Reads run in one RawConn.Read that stays open between them, in a
	// coroutine (iter.Pull): see read.
	next      func() (error, bool)
	stop      func()
	yield     func(error) bool
	stopped   bool // yield returned false: the Read must end
	waitFirst bool // the last read drained the socket: wait for readiness before reading
}

// newRawIO returns nil when nc does not expose its file descriptor.
func newRawIO(nc any) *rawIO {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	r := &rawIO{rc: rc}
	r.readFn = func(fd uintptr) bool {
		for {
			if r.waitFirst {
				r.waitFirst = false
				return false // wait in the poller without a read that would fail
			}
			n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd,
				uintptr(unsafe.Pointer(unsafe.SliceData(r.buf))), uintptr(len(r.buf)))
			switch e {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return false // wait in the poller, then call again
			}
			r.n, r.errno = int(n), e
			if e != 0 || n == 0 {
				return true // error or EOF: Read returns
			}
			// Hand the data to the connection and stay in Read.
			short := int(n) < len(r.buf)
			if !r.yield(nil) {
				r.stopped = true
				return true
			}
			r.waitFirst = short
		}
	}
	r.writeFn = func(fd uintptr) bool {
		for len(r.buf) > 0 {
			n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd,
				uintptr(unsafe.Pointer(unsafe.SliceData(r.buf))), uintptr(len(r.buf)))
			switch e {
			case 0:
				r.n += int(n)
				r.buf = r.buf[n:]
			case syscall.EINTR:
			case syscall.EAGAIN:
				return false // socket buffer full: wait for writability
			default:
				r.errno = e
				return true
			}
		}
		return true
	}
	return r
}

// read reads into p. Go's poller forgets the socket's readiness at the
// start of every RawConn.Read, so a Read per call would have to try a read
// before each wait, and after a batch that read almost always fails with
// EAGAIN: one system call per batch (~1.3 µs on the development VM) that
// redis-server's event loop does not make. So the reads run inside one
// RawConn.Read that stays open between them, in a coroutine (iter.Pull):
// after a read that drained the socket, the next call waits for readiness
// without reading. The Read ends only on an error, EOF, a deadline, or close
// (stop); the next call then starts another. While it is open, closing the
// connection from another goroutine would wait for it, so other goroutines
// end a connection with kill (shutdown), never Close.
func (r *rawIO) read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if r.next == nil {
		r.next, r.stop = iter.Pull(r.reads)
	}
	r.buf, r.n, r.errno = p, 0, 0
	err, ok := r.next()
	r.buf = nil
	switch {
	case !ok:
		return 0, net.ErrClosed
	case err != nil:
		return 0, err
	}
	return r.n, nil
}

// reads is the sequence read pulls from: nil after each read that returned
// data (in r.n), else the error that ended a RawConn.Read.
func (r *rawIO) reads(yield func(error) bool) {
	r.yield = yield
	for {
		r.waitFirst = false // a new Read: readiness was reset, so read first
		err := r.rc.Read(r.readFn)
		if r.stopped {
			return
		}
		switch {
		case err != nil: // closed, or the deadline passed
		case r.errno != 0:
			err = os.NewSyscallError("read", r.errno)
		default:
			err = io.EOF
		}
		if !yield(err) {
			return
		}
	}
}

// close ends the open read, if any; the connection's goroutine calls it
// before it closes the socket.
func (r *rawIO) close() {
	if r != nil && r.stop != nil {
		r.stop()
	}
}

func (r *rawIO) write(p []byte) (int, error) {
	r.buf, r.n, r.errno = p, 0, 0
	err := r.rc.Write(r.writeFn)
	r.buf = nil
	if err == nil && r.errno != 0 {
		err = os.NewSyscallError("write", r.errno)
	}
	return r.n, err
}

// kill ends c from another goroutine: its socket is shut down, the peer sees
// it closed and c's goroutine wakes (to EOF or EPIPE) and closes it. A Close
// here would wait for that goroutine's open read (see rawIO.read).
func (c *conn) kill() {
	if sc, ok := c.nc.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil && shutdownRW(rc) == nil {
			return
		}
	}
	c.nc.Close()
}

// shutdownRW shuts the socket down both ways with a raw system call (as the
// rest of the connection I/O, so the runtime's monitor thread is not woken).
// It fails only once the descriptor is closed.
func shutdownRW(rc syscall.RawConn) error {
	return rc.Control(func(fd uintptr) {
		_, _, _ = syscall.RawSyscall(syscall.SYS_SHUTDOWN, fd, syscall.SHUT_RDWR, 0)
	})
}
