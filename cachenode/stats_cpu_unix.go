//go:build unix

// CPU time of the process, for INFO.

package cachenode

import (
	"syscall"
	"time"
)

// cpuTimes returns the system and user CPU time the process has used
// (getrusage(RUSAGE_SELF), as Redis's used_cpu_sys and used_cpu_user).
func cpuTimes() (sys, user time.Duration, ok bool) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0, 0, false
	}
	return time.Duration(ru.Stime.Nano()), time.Duration(ru.Utime.Nano()), true
}
