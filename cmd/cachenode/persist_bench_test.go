// The snapshot figures of BENCHMARKS.md: loading 1M keys, cachenode next to
// redis-server on the same file, and the longest client wait during BGSAVE.

package main

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachetier/cachetier/internal/redistest"
)

// proc is a server process started by startProc.
type proc struct {
	addr string
	cmd  *exec.Cmd
	done chan struct{}
}

// startProc runs argv (with --port appended) and returns once the server
// answers PING with +PONG (redis-server answers -LOADING while it loads),
// with the time that took.
func startProc(tb testing.TB, argv ...string) (*proc, time.Duration) {
	tb.Helper()
	port := redistest.FreePort(tb)
	p := &proc{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), done: make(chan struct{})}
	start := time.Now()
	p.cmd = exec.Command(argv[0], append(argv[1:], "--port", strconv.Itoa(port))...)
	if err := p.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	tb.Cleanup(func() { p.cmd.Process.Kill(); <-p.done })
	for deadline := time.Now().Add(5 * time.Minute); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		c, err := net.Dial("tcp", p.addr)
		if err != nil {
			continue
		}
		c.Write([]byte("PING\r\n"))
		line, _ := bufio.NewReader(c).ReadString('\n')
		c.Close()
		if line == "+PONG\r\n" {
			return p, time.Since(start)
		}
	}
	tb.Fatalf("%s did not answer", argv[0])
	return nil, 0
}

// fill writes n keys key:NNNNNNN with random 100-byte values.
func fill(tb testing.TB, addr string, n int) {
	c := redis.NewClient(&redis.Options{Addr: addr, DisableIdentity: true})
	defer c.Close()
	ctx := context.Background()
	val := make([]byte, 100)
	for i := 0; i < n; i += 1000 {
		pipe := c.Pipeline()
		for j := i; j < min(i+1000, n); j++ {
			for k := range val {
				val[k] = byte('a' + rand.IntN(26))
			}
			pipe.Set(ctx, fmt.Sprintf("key:%07d", j), string(val), 0)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			tb.Fatal(err)
		}
	}
}

// BenchmarkSnapshotLoad1M: the time from process start to the first +PONG
// for cachenode and for redis-server 7 loading the same file of 1M keys
// with 100-byte random values (written by cachenode's SAVE; redis-server
// loads it as its own). Metrics: cachenode-s, redis-s.
//
//	go test -run '^$' -bench SnapshotLoad1M -benchtime 1x ./cmd/cachenode
func BenchmarkSnapshotLoad1M(b *testing.B) {
	redisBin := redistest.Binary()
	dir := b.TempDir()
	src, _ := startProc(b, binary, "--dir", dir)
	fill(b, src.addr, 1_000_000)
	c := redis.NewClient(&redis.Options{Addr: src.addr, DisableIdentity: true})
	if err := c.Save(context.Background()).Err(); err != nil {
		b.Fatal(err)
	}
	c.Close()
	src.cmd.Process.Kill()
	<-src.done
	fi, _ := os.Stat(filepath.Join(dir, "dump.rdb"))
	b.Logf("file: %d bytes", fi.Size())
	b.ResetTimer()
	var node, red time.Duration
	for i := 0; i < b.N; i++ {
		p, d := startProc(b, binary, "--dir", dir)
		node += d
		p.cmd.Process.Kill()
		<-p.done
		if redisBin != "" {
			p, d := startProc(b, redisBin, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
				"--dir", dir, "--dbfilename", "dump.rdb", "--logfile", "")
			red += d
			p.cmd.Process.Kill()
			<-p.done
		}
	}
	b.ReportMetric(node.Seconds()/float64(b.N), "cachenode-s")
	if redisBin != "" {
		b.ReportMetric(red.Seconds()/float64(b.N), "redis-s")
	}
}

// BenchmarkBgsaveStall1M: the longest GET latency seen by 8 clients (one
// GET at a time each) on a node holding 1M keys of 100 bytes, during a
// BGSAVE and, as the baseline, during as long a time without one.
// Metrics: bgsave-max-ms, baseline-max-ms, bgsave-s (the save's duration),
// lock-max-us (the longest shard copy, INFO rdb_last_save_max_lock_usec).
//
//	go test -run '^$' -bench BgsaveStall1M -benchtime 1x ./cmd/cachenode
func BenchmarkBgsaveStall1M(b *testing.B) {
	dir := b.TempDir()
	p, _ := startProc(b, binary, "--dir", dir)
	fill(b, p.addr, 1_000_000)
	ctx := context.Background()
	admin := redis.NewClient(&redis.Options{Addr: p.addr, DisableIdentity: true})
	defer admin.Close()
	// measure runs the clients until stop is closed and returns the longest GET.
	measure := func(stop chan struct{}) time.Duration {
		var worst atomic.Int64
		var wg sync.WaitGroup
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := redis.NewClient(&redis.Options{Addr: p.addr, DisableIdentity: true, PoolSize: 1})
				defer c.Close()
				for {
					select {
					case <-stop:
						return
					default:
					}
					t := time.Now()
					c.Get(ctx, fmt.Sprintf("key:%07d", rand.IntN(1_000_000)))
					if d := int64(time.Since(t)); d > worst.Load() {
						worst.Store(d)
					}
				}
			}()
		}
		<-stop
		wg.Wait()
		return time.Duration(worst.Load())
	}
	b.ResetTimer()
	var saveMax, baseMax, saveDur time.Duration
	var lockMax int64
	for i := 0; i < b.N; i++ {
		stop := make(chan struct{})
		res := make(chan time.Duration, 1)
		go func() { res <- measure(stop) }()
		time.Sleep(200 * time.Millisecond)
		start := time.Now()
		if err := admin.BgSave(ctx).Err(); err != nil {
			b.Fatal(err)
		}
		for strings.Contains(admin.Info(ctx, "persistence").Val(), "rdb_bgsave_in_progress:1") {
			time.Sleep(10 * time.Millisecond)
		}
		d := time.Since(start)
		close(stop)
		saveMax = max(saveMax, <-res)
		saveDur += d
		info := admin.Info(ctx, "persistence").Val()
		for _, l := range strings.Split(info, "\r\n") {
			if v, ok := strings.CutPrefix(l, "rdb_last_save_max_lock_usec:"); ok {
				n, _ := strconv.ParseInt(v, 10, 64)
				lockMax = max(lockMax, n)
			}
		}
		stop = make(chan struct{})
		go func() { res <- measure(stop) }()
		time.Sleep(200*time.Millisecond + d)
		close(stop)
		baseMax = max(baseMax, <-res)
	}
	b.ReportMetric(float64(saveMax.Microseconds())/1000, "bgsave-max-ms")
	b.ReportMetric(float64(baseMax.Microseconds())/1000, "baseline-max-ms")
	b.ReportMetric(saveDur.Seconds()/float64(b.N), "bgsave-s")
	b.ReportMetric(float64(lockMax), "lock-max-us")
}
