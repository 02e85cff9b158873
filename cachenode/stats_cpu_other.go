//go:build !unix && !windows

// CPU time elsewhere: unknown.

package cachenode

import "time"

// cpuTimes reports that the process's CPU time is not available on this
// platform; INFO then omits used_cpu_sys and used_cpu_user.
func cpuTimes() (sys, user time.Duration, ok bool) { return 0, 0, false }
