// Tests of INFO's CPU figures.

package cachenode

import (
	"regexp"
	"runtime"
	"testing"
	"time"
)

func TestCPUSeconds(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                                   "0.000000",
		1500 * time.Microsecond:             "0.001500",
		3*time.Second + 42*time.Microsecond: "3.000042",
		time.Hour + 999*time.Nanosecond:     "3600.000000",
	} {
		if got := cpuSeconds(d); got != want {
			t.Errorf("cpuSeconds(%v) = %q, want %q", d, got, want)
		}
	}
}

// TestInfoCPU checks INFO cpu's used_cpu_sys and used_cpu_user, which come
// from getrusage on unix and GetProcessTimes on Windows.
func TestInfoCPU(t *testing.T) {
	if runtime.GOOS != "windows" && !isUnix() {
		t.Skipf("no process CPU times on %s", runtime.GOOS)
	}
	s := startServer(t, Config{})
	rdb := newClient(t, s.Addr().String(), nil)
	// Burn a little CPU so that user time is not zero.
	deadline := time.Now().Add(50 * time.Millisecond)
	for x := 0; time.Now().Before(deadline); x++ {
		_ = x * x
	}
	info, err := rdb.Info(ctxT(t), "cpu").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"used_cpu_sys", "used_cpu_user"} {
		m := regexp.MustCompile(`\r\n` + f + `:(\d+\.\d{6})\r\n`).FindStringSubmatch(info)
		if m == nil {
			t.Fatalf("INFO cpu has no %s in the Redis format:\n%s", f, info)
		}
		if f == "used_cpu_user" && m[1] == "0.000000" {
			t.Errorf("used_cpu_user is 0 after burning CPU")
		}
	}
}

func isUnix() bool {
	switch runtime.GOOS {
	case "aix", "android", "darwin", "dragonfly", "freebsd", "hurd", "illumos", "ios", "linux", "netbsd", "openbsd", "solaris":
		return true
	}
	return false
}
