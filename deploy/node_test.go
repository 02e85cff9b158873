package deploy

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestStatefulSetCommandLine builds cachenode from this repository and runs
// it with the StatefulSet's command line (only the addresses changed to free
// loopback ports), as pod cache-1 would: in a UTS namespace whose hostname is
// cache-1, where unshare -u is allowed, else with --slot=1 appended. The node
// must start, report slot 1, and answer the probes' paths.
func TestStatefulSetCommandLine(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs cachenode")
	}
	m := loadManifests(t)
	sts := m.statefulSets["cache"]
	if sts == nil {
		t.Fatal("no StatefulSet cache")
	}
	c := sts.Spec.Template.Spec.Containers[0]

	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "cachenode")
	build := exec.Command(goTool, "build", "-o", bin, "./cmd/cachenode")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/cachenode: %v\n%s", err, out)
	}

	port, mport := freePort(t), freePort(t)
	// A flag given twice takes its last value: move the node to loopback.
	args := append(append([]string{}, c.Args...), "--bind=127.0.0.1", "--port="+port, "--metrics-addr=127.0.0.1:"+mport)
	argv := append([]string{bin}, args...)
	if exec.Command("unshare", "-u", "true").Run() == nil {
		argv = append([]string{"unshare", "-u", "sh", "-c", `hostname cache-1 && exec "$@"`, "sh"}, argv...)
	} else {
		t.Logf("unshare -u not allowed here: running with --slot=1 instead of deriving it from a hostname")
		argv = append(argv, "--slot=1")
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	var out strings.Builder
	var mu sync.Mutex
	cmd.Stdout, cmd.Stderr = lockedWriter{&mu, &out}, lockedWriter{&mu, &out}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}()
	output := func() string { mu.Lock(); defer mu.Unlock(); return out.String() }

	addr := net.JoinHostPort("127.0.0.1", port)
	var reply string
	for deadline := time.Now().Add(15 * time.Second); ; {
		reply, err = configGetSlot(addr)
		if err == nil {
			break
		}
		select {
		case err := <-done:
			done <- err
			t.Fatalf("cachenode %q exited: %v\n%s", args, err, output())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("cachenode did not answer: %v\n%s", err, output())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if reply != "1" {
		t.Errorf("CONFIG GET slot = %q, want 1\n%s", reply, output())
	}
	// The probes' paths, on the node's metrics port (TestManifests checks
	// the probes use the metrics port).
	for _, path := range []string{c.ReadinessProbe.HTTPGet.Path, c.LivenessProbe.HTTPGet.Path, "/metrics"} {
		resp, err := http.Get("http://" + net.JoinHostPort("127.0.0.1", mport) + path)
		if err != nil {
			t.Errorf("GET %s: %v", path, err)
			continue
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %s", path, resp.Status)
		}
	}
}

// configGetSlot sends CONFIG GET slot and returns the value.
func configGetSlot(addr string) (string, error) {
	nc, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := nc.Write([]byte("*3\r\n$6\r\nCONFIG\r\n$3\r\nGET\r\n$4\r\nslot\r\n")); err != nil {
		return "", err
	}
	br := bufio.NewReader(nc)
	var lines []string
	for len(lines) < 5 {
		l, err := br.ReadString('\n')
		if err != nil {
			return "", err
		}
		lines = append(lines, strings.TrimRight(l, "\r\n"))
		if lines[0] != "*2" {
			return "", fmt.Errorf("CONFIG GET slot: %q", lines)
		}
	}
	return lines[4], nil
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *strings.Builder
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
