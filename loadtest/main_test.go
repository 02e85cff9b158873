package loadtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"go.uber.org/goleak"
)

// testExe is the loadtest binary built by TestMain for the scenario tests
// (client processes and nodes are re-executions of it); "" if the build failed.
var (
	testExe      string
	testBuildErr error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "loadtest-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testExe, testBuildErr = buildLoadtest(dir)
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) { _ = os.RemoveAll(dir) }))
}

func buildLoadtest(dir string) (string, error) {
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(gobin); err != nil {
		if gobin, err = exec.LookPath("go"); err != nil {
			return "", fmt.Errorf("no go tool to build cmd/loadtest: %w", err)
		}
	}
	exe := filepath.Join(dir, "loadtest")
	cmd := exec.Command(gobin, "build", "-o", exe, "../cmd/loadtest")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ../cmd/loadtest: %v\n%s", err, out)
	}
	return exe, nil
}

// needExe returns the built binary or fails the test.
func needExe(t *testing.T) string {
	t.Helper()
	if testBuildErr != nil {
		t.Fatalf("building the loadtest binary: %v", testBuildErr)
	}
	return testExe
}
