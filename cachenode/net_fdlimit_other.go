//go:build !linux && !darwin

// The open-files limit elsewhere: left as it is.

package cachenode

// fitOpenFiles leaves the open-files limit alone where cachenode does not
// manage it (see fdlimit_unix.go).
func fitOpenFiles(clients int64) (allowed int64, limit uint64) { return clients, 0 }
