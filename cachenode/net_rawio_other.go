//go:build !linux

// Socket I/O elsewhere: net.Conn's.

package cachenode

// rawIO is only used on Linux; elsewhere connections use net.Conn directly.
type rawIO struct{}

func newRawIO(any) *rawIO { return nil }

func (*rawIO) read(p []byte) (int, error)  { panic("unreachable") }
func (*rawIO) write(p []byte) (int, error) { panic("unreachable") }

func (*rawIO) close() {}

// kill ends c from another goroutine.
func (c *conn) kill() { c.nc.Close() }
