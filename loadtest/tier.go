package loadtest

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cachetier/cachetier/internal/probe"
)

// NodeArg is the hidden first argument that makes the loadtest binary run
// as a cache node (see NodeMain).
const NodeArg = "__node"

// ClientArg is the hidden first argument that makes the loadtest binary run
// as a client process (see RunClientProcess).
const ClientArg = "__client"

// tier is a set of local node processes on loopback ports. Killing a node
// is a real SIGKILL of its process.
type tier struct {
	exe       string // binary re-executed with NodeArg
	nodeBin   string // if set, run this instead (redis-server-compatible flags)
	maxmemory string
	logw      io.Writer
	snapDir   string // if set, each node saves its snapshot in snapDir/<port> (rolling)

	mu    sync.Mutex // protects nodes
	nodes []*node
}

type node struct {
	port  int
	addr  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan struct{}
}

func (t *tier) addrs() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]string, len(t.nodes))
	for i, n := range t.nodes {
		out[i] = n.addr
	}
	return out
}

// add starts one more node on a free port and returns its address.
func (t *tier) add() (string, error) {
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := probe.FreePort()
		if err != nil {
			return "", err
		}
		n, err := t.start(port)
		if err != nil {
			lastErr = err
			continue
		}
		t.mu.Lock()
		t.nodes = append(t.nodes, n)
		t.mu.Unlock()
		return n.addr, nil
	}
	return "", lastErr
}

func (t *tier) start(port int) (*node, error) {
	var cmd *exec.Cmd
	p := strconv.Itoa(port)
	if t.nodeBin != "" {
		args := []string{"--port", p, "--bind", "127.0.0.1"}
		if strings.Contains(filepath.Base(t.nodeBin), "redis-server") {
			args = append(args, "--save", "", "--appendonly", "no", "--loglevel", "warning")
		}
		if t.maxmemory != "" {
			args = append(args, "--maxmemory", t.maxmemory)
		}
		if d, err := t.nodeDir(port); err != nil {
			return nil, err
		} else if d != "" {
			args = append(args, "--dir", d, "--save", "3600 1") // after --save "": the last one counts
		}
		cmd = exec.Command(t.nodeBin, args...)
	} else {
		args := []string{NodeArg, "--port", p, "--bind", "127.0.0.1"}
		if t.maxmemory != "" {
			args = append(args, "--maxmemory", t.maxmemory)
		}
		if d, err := t.nodeDir(port); err != nil {
			return nil, err
		} else if d != "" {
			args = append(args, "--dir", d, "--save", "3600 1")
		}
		cmd = exec.Command(t.exe, args...)
	}
	cmd.Stdout, cmd.Stderr = t.logw, t.logw
	cmd.SysProcAttr = childAttr()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("loadtest: start node: %w", err)
	}
	n := &node{port: port, addr: net.JoinHostPort("127.0.0.1", p), cmd: cmd, stdin: stdin, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(n.done) }()
	if err := probe.WaitPing(n.addr, n.done, 15*time.Second); err != nil {
		n.kill()
		return nil, fmt.Errorf("loadtest: node on port %d did not come up: %w", port, err)
	}
	return n, nil
}

// kill ends node i with SIGKILL, as a crash would, and waits for it.
func (t *tier) kill(i int) {
	t.mu.Lock()
	n := t.nodes[i]
	t.mu.Unlock()
	n.kill()
}

// restart starts node i again, empty, on its old port.
func (t *tier) restart(i int) error {
	return t.replace(i, (*node).kill)
}

// replace ends node i with end and starts it again on its old port.
func (t *tier) replace(i int, end func(*node)) error {
	t.mu.Lock()
	old := t.nodes[i]
	t.mu.Unlock()
	end(old)
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		var n *node
		if n, err = t.start(old.port); err == nil {
			t.mu.Lock()
			t.nodes[i] = n
			t.mu.Unlock()
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return err
}

// nodeDir returns (creating it) the snapshot directory of the node on
// port, "" without snapshots.
func (t *tier) nodeDir(port int) (string, error) {
	if t.snapDir == "" {
		return "", nil
	}
	d := filepath.Join(t.snapDir, strconv.Itoa(port))
	return d, os.MkdirAll(d, 0o755)
}

// roll stops node i gracefully (SIGINT: it drains and, with snapshots,
// saves) and starts it again on its old port (with snapshots, it loads
// what it saved before it answers).
func (t *tier) roll(i int) error {
	return t.replace(i, (*node).stop)
}

// close stops every node: SIGTERM, then SIGKILL after 3s.
func (t *tier) close() {
	t.mu.Lock()
	nodes := t.nodes
	t.nodes = nil
	t.mu.Unlock()
	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Add(1)
		go func() { defer wg.Done(); n.stop() }()
	}
	wg.Wait()
}

func (n *node) kill() {
	select {
	case <-n.done:
		return
	default:
	}
	_ = n.cmd.Process.Kill()
	<-n.done
}

func (n *node) stop() {
	select {
	case <-n.done:
		return
	default:
	}
	_ = n.cmd.Process.Signal(os.Interrupt)
	_ = n.stdin.Close()
	t := time.NewTimer(3 * time.Second)
	defer t.Stop()
	select {
	case <-n.done:
	case <-t.C:
		n.kill()
	}
}
