//go:build linux

// The Linux listener with a raw accept path, and its connections (sockConn).

package cachenode

import (
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// rawListener is the TCP listener ListenAndServe uses on Linux. It accepts
// without the runtime's syscall bookkeeping, for the reason rawIO gives:
// net's accept path makes several ordinary system calls per connection
// (accept4, setsockopt, getsockname), and after the process has been idle
// the first of them wakes the runtime's monitor thread, which then polls
// every 20µs for the next milliseconds. On a server pinned to one CPU each
// of its wakeups takes the CPU from the serving thread, so a burst of new
// connections (a benchmark's start, a client pool's reconnect) would have
// its first replies delayed. For the same reason its connections (sockConn)
// leave the close(2) of their descriptor to a deferredCloser.
//
// It waits in the runtime's network poller (syscall.RawConn.Read of the
// listening socket held as an *os.File, since net's listeners do not
// support RawConn.Read) and calls accept4, setsockopt and getsockname raw;
// none of them blocks on a non-blocking socket. An accepted socket is
// registered with the poller by os.NewFile, which on Linux makes no
// ordinary system call either.
type rawListener struct {
	f      *os.File
	rc     syscall.RawConn
	addr   net.Addr
	closer *deferredCloser // releases the accepted sockets' descriptors

	mu    sync.Mutex // one Accept at a time: the fields below
	fn    func(fd uintptr) bool
	nfd   int
	errno syscall.Errno
	rsa   syscall.RawSockaddrAny
	rlen  uint32
}

// listen listens on the TCP address addr; see rawListener.
func (s *Server) listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	tl := ln.(*net.TCPListener)
	f, err := tl.File() // a duplicate of the socket, non-blocking like it
	tl.Close()          // the socket stays open through f
	if err != nil {
		return nil, err
	}
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	l := &rawListener{f: f, rc: rc, addr: tl.Addr(), closer: s.net.closer}
	l.fn = func(fd uintptr) bool {
		for {
			l.rlen = uint32(unsafe.Sizeof(l.rsa))
			n, _, e := syscall.RawSyscall6(syscall.SYS_ACCEPT4, fd,
				uintptr(unsafe.Pointer(&l.rsa)), uintptr(unsafe.Pointer(&l.rlen)),
				syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0, 0)
			switch e {
			case syscall.EINTR, syscall.ECONNABORTED:
				continue // as net: the peer reset before we accepted; take the next
			case syscall.EAGAIN:
				return false // wait in the poller, then call again
			}
			l.nfd, l.errno = int(n), e
			return true
		}
	}
	return l, nil
}

// Addr returns the listener's address.
func (l *rawListener) Addr() net.Addr { return l.addr }

// Close stops the listener; a blocked Accept returns net.ErrClosed.
func (l *rawListener) Close() error { return l.f.Close() }

// Accept returns the next connection. Its errors are those of
// net.TCPListener.Accept: net.ErrClosed (wrapped) once the listener is
// closed, otherwise the accept4 error (EMFILE and the like). On EMFILE or
// ENFILE it first releases the descriptors the deferredCloser holds and, if
// there were any, tries once more.
func (l *rawListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for retried := false; ; retried = true {
		l.nfd, l.errno = -1, 0
		if err := l.rc.Read(l.fn); err != nil {
			// No deadline is ever set on f, so the wait ends only when it closes.
			return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.addr, Err: net.ErrClosed}
		}
		if (l.errno == syscall.EMFILE || l.errno == syscall.ENFILE) && !retried && l.closer.flush() > 0 {
			continue // released some: try again at once
		}
		break
	}
	if l.errno != 0 {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.addr, Err: os.NewSyscallError("accept4", l.errno)}
	}
	fd := l.nfd
	// As net does for accepted TCP connections: no Nagle delay, and
	// keepalive probes after 15s idle, every 15s, 9 of them.
	setsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
	setsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_KEEPALIVE, 1)
	setsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE, int(defaultKeepAlive/time.Second))
	setsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL, int(defaultKeepAlive/time.Second))
	setsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_KEEPCNT, defaultKeepAliveCount)
	raddr := sockaddrTCP(&l.rsa)
	var lsa syscall.RawSockaddrAny
	llen := uint32(unsafe.Sizeof(lsa))
	_, _, _ = syscall.RawSyscall(syscall.SYS_GETSOCKNAME, uintptr(fd),
		uintptr(unsafe.Pointer(&lsa)), uintptr(unsafe.Pointer(&llen)))
	laddr := sockaddrTCP(&lsa)
	f := os.NewFile(uintptr(fd), "tcp")
	rc, err := f.SyscallConn()
	if err != nil { // cannot happen for a file from NewFile
		f.Close()
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.addr, Err: err}
	}
	return &sockConn{f: f, rc: rc, closer: l.closer, laddr: laddr, raddr: raddr}, nil
}

const (
	defaultKeepAlive      = 15 * time.Second
	defaultKeepAliveCount = 9
)

// setsockoptInt sets an integer socket option; errors are ignored, as net
// ignores them for the options above.
func setsockoptInt(fd, level, opt, v int) {
	v32 := int32(v)
	_, _, _ = syscall.RawSyscall6(syscall.SYS_SETSOCKOPT, uintptr(fd), uintptr(level), uintptr(opt),
		uintptr(unsafe.Pointer(&v32)), unsafe.Sizeof(v32), 0)
}

// sockaddrTCP converts an IPv4 or IPv6 socket address; anything else (an
// unset address after a failed call) is the zero TCP address.
func sockaddrTCP(rsa *syscall.RawSockaddrAny) *net.TCPAddr {
	switch rsa.Addr.Family {
	case syscall.AF_INET:
		sa := (*syscall.RawSockaddrInet4)(unsafe.Pointer(rsa))
		p := (*[2]byte)(unsafe.Pointer(&sa.Port))
		return net.TCPAddrFromAddrPort(netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(p[0])<<8|uint16(p[1])))
	case syscall.AF_INET6:
		sa := (*syscall.RawSockaddrInet6)(unsafe.Pointer(rsa))
		p := (*[2]byte)(unsafe.Pointer(&sa.Port))
		ip := netip.AddrFrom16(sa.Addr)
		if sa.Scope_id != 0 {
			ip = ip.WithZone(zoneName(sa.Scope_id))
		}
		return net.TCPAddrFromAddrPort(netip.AddrPortFrom(ip, uint16(p[0])<<8|uint16(p[1])))
	}
	return &net.TCPAddr{}
}

// zoneName names an IPv6 zone by interface, as net does, or by number.
func zoneName(idx uint32) string {
	if ifi, err := net.InterfaceByIndex(int(idx)); err == nil {
		return ifi.Name
	}
	return strconv.FormatUint(uint64(idx), 10)
}

// sockConn is an accepted TCP connection held as an *os.File, which gives it
// a poller registration, deadlines and a syscall.RawConn (used by rawIO for
// all its reads and writes).
type sockConn struct {
	f            *os.File
	rc           syscall.RawConn
	closer       *deferredCloser
	closed       atomic.Bool
	laddr, raddr net.Addr
}

func (c *sockConn) Read(p []byte) (int, error)         { return c.f.Read(p) }
func (c *sockConn) Write(p []byte) (int, error)        { return c.f.Write(p) }
func (c *sockConn) LocalAddr() net.Addr                { return c.laddr }
func (c *sockConn) RemoteAddr() net.Addr               { return c.raddr }
func (c *sockConn) SetDeadline(t time.Time) error      { return c.f.SetDeadline(t) }
func (c *sockConn) SetReadDeadline(t time.Time) error  { return c.f.SetReadDeadline(t) }
func (c *sockConn) SetWriteDeadline(t time.Time) error { return c.f.SetWriteDeadline(t) }

// SyscallConn gives rawIO the socket.
func (c *sockConn) SyscallConn() (syscall.RawConn, error) { return c.rc, nil }

// Close ends the connection at once with a raw shutdown(2): the peer sees
// it closed, and a goroutine waiting to read or write the socket wakes (to
// EOF or EPIPE). The descriptor is released later by the deferredCloser.
func (c *sockConn) Close() error {
	if !c.closed.CompareAndSwap(false, true) {
		return &net.OpError{Op: "close", Net: "tcp", Source: c.laddr, Addr: c.raddr, Err: net.ErrClosed}
	}
	_ = shutdownRW(c.rc)
	c.closer.add(c.f)
	return nil
}
