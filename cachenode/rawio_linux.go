//go:build linux

package cachenode

import (
	"io"
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
			n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd,
				uintptr(unsafe.Pointer(unsafe.SliceData(r.buf))), uintptr(len(r.buf)))
			switch e {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return false // wait in the poller, then call again
			}
			r.n, r.errno = int(n), e
			return true
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

func (r *rawIO) read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r.buf, r.n, r.errno = p, 0, 0
	err := r.rc.Read(r.readFn)
	r.buf = nil
	switch {
	case err != nil:
		return 0, err // closed, or the deadline passed
	case r.errno != 0:
		return 0, os.NewSyscallError("read", r.errno)
	case r.n == 0:
		return 0, io.EOF
	}
	return r.n, nil
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
