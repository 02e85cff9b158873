package redistest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"go.uber.org/goleak"
)

// GoBuild builds the Go package pkg (a path as for go build, relative to
// the test's directory) into the binary out, with the go tool of the Go
// that runs the test (or the one on PATH). End-to-end tests call it from
// TestMain to run a command as a process.
func GoBuild(out, pkg string) error {
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(gobin); err != nil {
		if gobin, err = exec.LookPath("go"); err != nil {
			return fmt.Errorf("no go tool to build %s: %w", pkg, err)
		}
	}
	if b, err := exec.Command(gobin, "build", "-o", out, pkg).CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
	}
	return nil
}

// MainWithBinary is the TestMain of an end-to-end test package: it builds
// pkg as name into a temporary directory, sets *bin to its path, runs the
// tests under goleak and removes the directory. A failed build ends the
// test binary with status 1.
func MainWithBinary(m *testing.M, name, pkg string, bin *string) {
	dir, err := os.MkdirTemp("", name+"-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	*bin = filepath.Join(dir, name)
	if err := GoBuild(*bin, pkg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) { os.RemoveAll(dir) }))
}
