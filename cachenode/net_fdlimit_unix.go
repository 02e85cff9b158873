//go:build linux || darwin

// Raising the open-files limit for maxclients, as Redis does.

package cachenode

import "syscall"

// fitOpenFiles makes room in the process's open-files limit (RLIMIT_NOFILE)
// for clients connections plus reservedFDs, raising the limit if the
// operating system lets it, as Redis's adjustOpenFilesLimit does (trying
// lower values, 16 apart, down to the current limit). It returns the number
// of clients the limit then allows: clients, or fewer (possibly < 1) when
// the limit could not be raised far enough, and the limit.
func fitOpenFiles(clients int64) (allowed int64, limit uint64) {
	want := uint64(clients) + reservedFDs
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return clients, 0 // unknown: leave it to accept's EMFILE handling
	}
	if rl.Cur >= want {
		return clients, rl.Cur
	}
	for f := want; f > rl.Cur; f -= 16 {
		nl := syscall.Rlimit{Cur: f, Max: max(rl.Max, f)}
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &nl) == nil {
			rl.Cur = f
			break
		}
		if f < 16 {
			break
		}
	}
	if rl.Cur >= want {
		return clients, rl.Cur
	}
	return int64(rl.Cur) - reservedFDs, rl.Cur
}
