//go:build !linux

// The listener elsewhere: net's.

package cachenode

import "net"

// listen listens on the TCP address addr. Only Linux has a listener with a
// raw accept path (see net_accept_linux.go).
func (s *Server) listen(addr string) (net.Listener, error) { return net.Listen("tcp", addr) }
