//go:build windows

// CPU time of the process on Windows, for INFO.

package cachenode

import (
	"syscall"
	"time"
)

// cpuTimes returns the kernel and user CPU time the process has used
// (GetProcessTimes), reported as used_cpu_sys and used_cpu_user.
func cpuTimes() (sys, user time.Duration, ok bool) {
	h, err := syscall.GetCurrentProcess()
	if err != nil {
		return 0, 0, false
	}
	var creation, exit, kernel, usr syscall.Filetime
	if syscall.GetProcessTimes(h, &creation, &exit, &kernel, &usr) != nil {
		return 0, 0, false
	}
	// Kernel and user times are durations in 100 ns units, not dates, so
	// Filetime.Nanoseconds (which counts from 1601 to the Unix epoch) does
	// not apply.
	ft := func(f syscall.Filetime) time.Duration {
		return time.Duration(int64(f.HighDateTime)<<32|int64(f.LowDateTime)) * 100
	}
	return ft(kernel), ft(usr), true
}
