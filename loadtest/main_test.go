package loadtest

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"

	"github.com/cachetier/cachetier/internal/redistest"
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
	exe := filepath.Join(dir, "loadtest")
	if err := redistest.GoBuild(exe, "../cmd/loadtest"); err != nil {
		return "", err
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
