// INFO and its sections.

package cachenode

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/cachetier/cachetier/cachenode/internal/store"
)

var infoDefault = []string{"server", "clients", "memory", "persistence", "stats", "replication", "cpu", "errorstats", "cluster", "keyspace"}
var infoAll = []string{"server", "clients", "memory", "persistence", "stats", "replication", "cpu", "commandstats", "errorstats", "cluster", "keyspace", "eviction"}

func cmdInfo(c *conn, args [][]byte) {
	want := map[string]bool{}
	if len(args) == 1 {
		for _, s := range infoDefault {
			want[s] = true
		}
	}
	for _, a := range args[1:] {
		switch n := strings.ToLower(string(a)); n {
		case "default":
			for _, s := range infoDefault {
				want[s] = true
			}
		case "all", "everything":
			for _, s := range infoAll {
				want[s] = true
			}
		default:
			want[n] = true
		}
	}
	c.verbatim(c.s.info(want))
}

// humanBytes formats n like Redis's bytesToHuman ("1.50M").
func humanBytes(n int64) string {
	d := float64(n)
	switch {
	case n < 1024:
		return strconv.FormatInt(n, 10) + "B"
	case n < 1<<20:
		return fmt.Sprintf("%.2fK", d/(1<<10))
	case n < 1<<30:
		return fmt.Sprintf("%.2fM", d/(1<<20))
	case n < 1<<40:
		return fmt.Sprintf("%.2fG", d/(1<<30))
	case n < 1<<50:
		return fmt.Sprintf("%.2fT", d/(1<<40))
	case n < 1<<60:
		return fmt.Sprintf("%.2fP", d/(1<<50))
	default:
		return strconv.FormatInt(n, 10) + "B"
	}
}

// humanBytesU is humanBytes for a value that may exceed 2^63-1 (a
// maxmemory set that high), which Redis's bytesToHuman prints in bytes.
func humanBytesU(n uint64) string {
	if n > math.MaxInt64 {
		return strconv.FormatUint(n, 10) + "B"
	}
	return humanBytes(int64(n))
}

// rss returns the process's resident set size in bytes (Linux /proc), or
// the Go runtime's view of memory obtained from the OS elsewhere.
func rss() int64 {
	if b, err := os.ReadFile("/proc/self/statm"); err == nil {
		f := strings.Fields(string(b))
		if len(f) > 1 {
			if pages, err := strconv.ParseInt(f[1], 10, 64); err == nil {
				return pages * int64(os.Getpagesize())
			}
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.Sys)
}

// cpuSeconds formats a CPU time as Redis does: seconds with six decimals.
func cpuSeconds(d time.Duration) string {
	us := d.Microseconds()
	return fmt.Sprintf("%d.%06d", us/1e6, us%1e6)
}

// avgTTL estimates the mean remaining TTL (ms) of keys with a TTL by
// sampling random keys, as Redis's avg_ttl is an estimate too.
func (s *Server) avgTTL(st *store.Stats) int64 {
	if st.Expires == 0 {
		return 0
	}
	now := time.Now().UnixMilli()
	var sum, n int64
	var buf []byte
	for i := 0; i < 64 && n < 16; i++ {
		k, ok := s.store.RandomKey(buf[:0])
		if !ok {
			break
		}
		buf = k
		if _, exp, ok := s.store.Peek(nil, k); ok && exp > now {
			sum += exp - now
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return sum / n
}

func (s *Server) info(want map[string]bool) []byte {
	var b strings.Builder
	sections := 0
	section := func(name string) bool {
		if !want[strings.ToLower(name)] {
			return false
		}
		if sections > 0 {
			b.WriteString("\r\n")
		}
		sections++
		b.WriteString("# " + name + "\r\n")
		return true
	}
	kv := func(k string, v any) { fmt.Fprintf(&b, "%s:%v\r\n", k, v) }
	var st store.Stats
	s.store.UpdateStats(&st)
	now := time.Now()
	up := now.Sub(s.start)
	s.net.mu.Lock()
	clients := len(s.net.conns)
	s.net.mu.Unlock()

	if section("Server") {
		exe, _ := os.Executable()
		kv("redis_version", RedisVersion)
		kv("redis_git_sha1", "00000000")
		kv("redis_git_dirty", 0)
		kv("redis_build_id", "0")
		kv("redis_mode", "standalone")
		kv("cachenode", "1")
		if s.cfg.HasSlot {
			kv("slot", s.cfg.Slot) // the node's place in the ring; absent without one
		}
		kv("os", runtime.GOOS+" "+runtime.GOARCH)
		kv("arch_bits", strconv.Itoa(strconv.IntSize))
		kv("multiplexing_api", "go")
		kv("go_version", runtime.Version())
		kv("process_id", os.Getpid())
		kv("process_supervised", "no")
		kv("run_id", s.runID)
		kv("tcp_port", portOf(s))
		kv("server_time_usec", now.UnixMicro())
		kv("uptime_in_seconds", int64(up/time.Second))
		kv("uptime_in_days", int64(up/(24*time.Hour)))
		kv("executable", exe)
		kv("config_file", "")
		kv("hz", 10) // the expiry cycle and the INFO rate samples run every 100 ms
		kv("configured_hz", 10)
	}
	if section("Clients") {
		kv("connected_clients", clients)
		kv("cluster_connections", 0)
		kv("maxclients", s.settings.maxClients.Load())
		kv("client_recent_max_output_buffer", s.stats.maxOut.Load())
		kv("blocked_clients", s.stats.blocked.Load())
		kv("tracking_clients", s.trk.active.Load())
	}
	opsRate, inKbps, outKbps, peak := s.instant(st.UsedMemory)
	if section("Memory") {
		r := rss()
		kv("used_memory", st.UsedMemory)
		kv("used_memory_human", humanBytes(st.UsedMemory))
		kv("used_memory_rss", r)
		kv("used_memory_rss_human", humanBytes(r))
		kv("used_memory_peak", peak)
		kv("used_memory_peak_human", humanBytes(peak))
		peakPerc := 100.0
		if peak > 0 {
			peakPerc = float64(st.UsedMemory) * 100 / float64(peak)
		}
		kv("used_memory_peak_perc", strconv.FormatFloat(peakPerc, 'f', 2, 64)+"%")
		kv("maxmemory", s.settings.maxMemory.Load())
		kv("maxmemory_human", humanBytesU(uint64(s.settings.maxMemory.Load())))
		kv("maxmemory_policy", store.Policy(s.settings.policy.Load()).String())
		ratio := 0.0
		if st.UsedMemory > 0 {
			ratio = float64(r) / float64(st.UsedMemory)
		}
		kv("mem_fragmentation_ratio", strconv.FormatFloat(ratio, 'f', 2, 64))
		kv("mem_allocator", "go")
	}
	if section("Persistence") {
		s.infoPersistence(kv, now)
	}
	base := s.stats.base.Load()
	if section("Stats") {
		var calls uint64
		for i := range s.stats.byCmd {
			n, _, _ := s.counts(i)
			calls += since(n, base.calls[i])
		}
		kv("total_connections_received", since(s.stats.connsTotal.Load(), base.conns))
		kv("total_commands_processed", calls)
		kv("instantaneous_ops_per_sec", int64(opsRate))
		in, out := s.netTotals()
		kv("total_net_input_bytes", since(in, base.netIn))
		kv("total_net_output_bytes", since(out, base.netOut))
		kv("instantaneous_input_kbps", strconv.FormatFloat(inKbps, 'f', 2, 64))
		kv("instantaneous_output_kbps", strconv.FormatFloat(outKbps, 'f', 2, 64))
		kv("rejected_connections", since(s.stats.rejected.Load(), base.rejected))
		kv("expired_keys", since(st.Expired, base.expired))
		kv("evicted_keys", since(st.Evicted, base.evicted))
		kv("keyspace_hits", since(st.Hits, base.hits))
		kv("keyspace_misses", since(st.Misses, base.misses))
		kv("unexpected_error_replies", 0)
		kv("total_error_replies", s.stats.errors.total.Load())
		kv("pubsub_channels", 0)
		kv("pubsub_patterns", 0)
		keys, items, prefixes := s.trk.sizes()
		kv("tracking_total_keys", keys)
		kv("tracking_total_items", items)
		kv("tracking_total_prefixes", prefixes)
	}
	if section("Eviction") { // cachenode's own section (INFO eviction, INFO all)
		kv("maxmemory_policy", store.Policy(s.settings.policy.Load()).String())
		kv("evicted_keys", since(st.Evicted, base.evicted))
		kv("evicted_keys_cold", st.EvictedCold)
		kv("tinylfu_sketch_bytes", st.SketchBytes)
		kv("tinylfu_sketch_halvings", st.SketchHalvings)
		ranking := "frequency"
		if st.RankRecency {
			ranking = "recency"
		}
		kv("tinylfu_ranking", ranking)
		kv("tinylfu_ranking_switches", st.RankSwitches)
		kv("tinylfu_duel_bytes", st.DuelBytes)
	}
	if section("Replication") {
		kv("role", "master")
		kv("connected_slaves", 0)
		kv("master_replid", s.runID)
		kv("master_repl_offset", 0)
	}
	if section("CPU") {
		if sys, user, ok := cpuTimes(); ok {
			kv("used_cpu_sys", cpuSeconds(sys))
			kv("used_cpu_user", cpuSeconds(user))
		}
	}
	if section("Commandstats") {
		for _, cmd := range commandList {
			st := &s.stats.byCmd[cmd.id]
			id := cmd.id
			calls, failed, rejected := s.counts(id)
			calls, failed, rejected = since(calls, base.calls[id]), since(failed, base.failed[id]), since(rejected, base.rejectedCmd[id])
			if calls == 0 && failed == 0 && rejected == 0 {
				continue
			}
			per := 0.0 // estimated from sampled calls
			if n := since(st.sampled.Load(), base.sampled[id]); n > 0 {
				per = float64(since(st.nanos.Load(), base.nanos[id])) / float64(n) / 1000
			}
			fmt.Fprintf(&b, "cmdstat_%s:calls=%d,usec=%d,usec_per_call=%.2f,rejected_calls=%d,failed_calls=%d\r\n",
				cmd.name, calls, int64(per*float64(calls)), per, rejected, failed)
		}
	}
	if section("Errorstats") {
		s.stats.errors.appendInfo(&b)
	}
	if section("Cluster") {
		kv("cluster_enabled", 0)
	}
	if section("Keyspace") && st.Keys > 0 {
		fmt.Fprintf(&b, "db0:keys=%d,expires=%d,avg_ttl=%d\r\n", st.Keys, st.Expires, s.avgTTL(&st))
	}
	return []byte(b.String())
}
