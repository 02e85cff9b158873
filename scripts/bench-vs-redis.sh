#!/usr/bin/env bash
# Side-by-side comparison of cachenode and redis-server 7 on this machine.
#
# 1. Throughput and p99: redis-benchmark -c 50 -d 64 -r 1000000 -t set,get -n N,
#    with -P 1 and -P 16, against a cachenode and a redis-server started side by
#    side on free loopback ports (same maxmemory, each with its POLICY, redis
#    persistence off), alternating servers, ROUNDS rounds; the server not being measured is
#    stopped (SIGSTOP) meanwhile so its background work does not steal the CPU;
#    prints per-case medians of rps and p99, the ratios cachenode/redis, the
#    median of the per-round p99 ratios (runs paired within a round), and
#    redis-benchmark's own CPU use (near 100%: the client sets the pace).
# 2. Memory: 1M keys with 64-byte values loaded (pipelined, redis-cli --pipe)
#    into a fresh process of each; prints VmRSS of each (and redis's
#    used_memory_rss) and the ratio.
#
# 3. Bound: each server started with --maxmemory FILL_MAXMEMORY (its policy) and
#    filled by redis-benchmark with 4x that much data, value sizes 64 B, 1 KB,
#    16 KB; prints the peak VmRSS sampled during the fill against the limit.
#
# Usage: scripts/bench-vs-redis.sh [--no-throughput] [--no-memory] [--no-bound]
# Environment: N (requests per run, default 200000), ROUNDS (default 7),
# TESTS (set, get or set,get: redis-benchmark -t; default set,get), PIPELINES (the -P
# values, default "1 16"),
# KEYS (memory test keys, default 1000000), MAXMEMORY (default 2gb),
# POLICY (redis-server's, default allkeys-lru), CN_POLICY (cachenode's,
# default allkeys-tinylfu, its own default), FILL_MAXMEMORY (default 100mb), PIN (1: run
# both servers on CPU 0 and redis-benchmark on CPU 1 with taskset, so the client
# does not steal the server's CPU and both servers get one core, as redis's
# single command thread uses; 0: no pinning; default 1 when taskset exists and
# there are at least 2 CPUs), CACHENODE_BIN (skip the build, use this binary).
# Every process it starts is stopped on exit (by PID); every run has a time limit.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-200000}
ROUNDS=${ROUNDS:-7}
TESTS=${TESTS:-set,get}
PIPELINES=${PIPELINES:-1 16}
KEYS=${KEYS:-1000000}
MAXMEMORY=${MAXMEMORY:-2gb}
POLICY=${POLICY:-allkeys-lru}
CN_POLICY=${CN_POLICY:-allkeys-tinylfu}
RUN_TIMEOUT=${RUN_TIMEOUT:-300} # seconds, per redis-benchmark run
do_throughput=1
do_memory=1
do_bound=1
FILL_MAXMEMORY=${FILL_MAXMEMORY:-100mb}
for a in "$@"; do
	case "$a" in
	--no-throughput) do_throughput=0 ;;
	--no-memory) do_memory=0 ;;
	--no-bound) do_bound=0 ;;
	-h | --help)
		sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "bench-vs-redis: unknown argument $a (try --help)" >&2
		exit 2
		;;
	esac
done

missing=()
for tool in redis-server redis-benchmark redis-cli; do
	command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ "${#missing[@]}" -gt 0 ]; then
	echo "bench-vs-redis: ${missing[*]} not installed; install Debian's redis-server and redis-tools (apt-get install -y redis-server redis-tools)" >&2
	exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/bench-vs-redis.XXXXXX")
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -CONT "$p" 2>/dev/null || true; done # a stopped process cannot exit
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PIN=${PIN:-auto}
if [ "$PIN" = auto ]; then
	if command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -ge 2 ]; then PIN=1; else PIN=0; fi
fi
srv_pin=()
cli_pin=()
if [ "$PIN" = 1 ]; then
	srv_pin=(taskset -c 0)
	cli_pin=(taskset -c 1)
fi

if [ -n "${CACHENODE_BIN:-}" ]; then
	bin=$CACHENODE_BIN
else
	bin=$work/cachenode
	go build -o "$bin" ./cmd/cachenode
fi

free_port() {
	# A port on 127.0.0.1 that nothing listens on (best effort, like the tests).
	local p
	for _ in $(seq 1 50); do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	echo "bench-vs-redis: no free port found" >&2
	exit 1
}

wait_ping() { # port
	for _ in $(seq 1 200); do
		if [ "$(redis-cli -p "$1" ping 2>/dev/null)" = PONG ]; then return 0; fi
		sleep 0.05
	done
	echo "bench-vs-redis: server on port $1 did not answer PING" >&2
	exit 1
}

start_cachenode() { # port [maxmemory] -> sets last_pid
	"${srv_pin[@]}" "$bin" --port "$1" --bind 127.0.0.1 --maxmemory "${2:-$MAXMEMORY}" --maxmemory-policy "${3:-$CN_POLICY}" \
		--loglevel warning >"$work/cachenode-$1.log" 2>&1 &
	last_pid=$!
	pids+=("$last_pid")
	wait_ping "$1"
}

start_redis() { # port [maxmemory] -> sets last_pid
	"${srv_pin[@]}" redis-server --port "$1" --bind 127.0.0.1 --save "" --appendonly no --daemonize no \
		--dir "$work" --maxmemory "${2:-$MAXMEMORY}" --maxmemory-policy "$POLICY" \
		--loglevel warning --logfile "$work/redis-$1.log" &
	last_pid=$!
	pids+=("$last_pid")
	wait_ping "$1"
}

stop_pid() { # pid: stop one process this script started, and forget it
	kill -TERM "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
	local keep=() p
	for p in "${pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
	pids=("${keep[@]}")
}

vmrss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

median() { # values on stdin -> median
	sort -g | awk '{v[NR]=$1} END {if (NR==0) {print "nan"} else if (NR%2) {print v[(NR+1)/2]} else {printf "%.3f\n", (v[NR/2]+v[NR/2+1])/2}}'
}

client_cpu() { # times-before times-after wall-before wall-after -> % of one core used by the children in between
	awk -v w0="$3" -v w1="$4" '
		function sec(s) { split(s, a, "m"); return a[1] * 60 + a[2] }
		FNR == 2 { c[FILENAME == ARGV[1]] = sec($1) + sec($2) }
		END { if (w1 > w0) printf "%.1f\n", 100 * (c[0] - c[1]) / (w1 - w0); else print "nan" }' "$1" "$2"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b+0 == 0) print "n/a"; else printf "%.2f\n", a/b }'; }

cpu_model=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || echo unknown)
echo "# bench-vs-redis $(date -u +%Y-%m-%dT%H:%MZ)"
echo "# machine: $(nproc) CPUs ($cpu_model), $(awk '/^MemTotal/ {printf "%.0f GB", $2/1048576}' /proc/meminfo) RAM, $(uname -sr)"
echo "# $(redis-server --version | cut -d' ' -f1-3); $("$bin" --version); $(go version | cut -d' ' -f3)"
echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews every figure)"
trap 'echo "# load average at end: $(cut -d" " -f1-3 /proc/loadavg)"; cleanup' EXIT

if [ "$do_throughput" = 1 ]; then
	cport=$(free_port)
	start_cachenode "$cport"
	cpid=$last_pid
	rport=$(free_port)
	while [ "$rport" = "$cport" ]; do rport=$(free_port); done
	start_redis "$rport"
	rpid=$last_pid
	echo "# throughput: redis-benchmark -c 50 -d 64 -r 1000000 -t $TESTS -n $N -P {$PIPELINES}, $ROUNDS rounds, servers alternating"
	if [ "$PIN" = 1 ]; then pinning="servers pinned to CPU 0, redis-benchmark to CPU 1"; else pinning="no CPU pinning"; fi
	echo "# $pinning; maxmemory $MAXMEMORY, policy cachenode $CN_POLICY, redis $POLICY; cachenode pid $cpid port $cport, redis pid $rpid port $rport"
	results=$work/results.csv # server,P,test,rps,p99,round
	: >"$results"
	for round in $(seq 1 "$ROUNDS"); do
		if [ $((round % 2)) = 1 ]; then order="cachenode redis"; else order="redis cachenode"; fi
		for P in $PIPELINES; do
			for server in $order; do
				if [ "$server" = cachenode ]; then port=$cport idle=$rpid; else port=$rport idle=$cpid; fi
				# The other server is stopped (SIGSTOP) during the run: idle, it still
				# does background work (redis's serverCron rehashing and expiry,
				# cachenode's expiry cycle and GC) on the same CPU.
				kill -STOP "$idle"
				times >"$work/times0" # CPU of this shell's finished children: redis-benchmark's below
				wall0=$(date +%s.%N)
				if ! out=$(timeout "$RUN_TIMEOUT" "${cli_pin[@]}" redis-benchmark -h 127.0.0.1 -p "$port" -c 50 -d 64 \
					-r 1000000 -t "$TESTS" -n "$N" -P "$P" --csv 2>&1); then
					echo "bench-vs-redis: redis-benchmark against $server failed or timed out:" >&2
					echo "$out" >&2
					exit 1
				fi
				wall1=$(date +%s.%N)
				times >"$work/times1"
				kill -CONT "$idle"
				cpu=$(client_cpu "$work/times0" "$work/times1" "$wall0" "$wall1")
				# "SET","123.45","avg","min","p50","p95","p99","max"
				echo "$out" | tr -d '"' | awk -F, -v s="$server" -v p="$P" -v c="$cpu" \
					-v r="$round" '$1=="SET" || $1=="GET" {print s","p","$1","$2","$7","r","c}' >>"$results"
				echo "round $round P=$P $server: $(echo "$out" | tr -d '"' | awk -F, '$1=="SET"||$1=="GET" {printf "%s %s rps p99 %s ms; ", $1, $2, $7}')" >&2
			done
		done
	done
	printf '\n%-12s %14s %14s %7s %12s %12s %7s %8s %9s %11s\n' case "cachenode rps" "redis rps" ratio "cn p99 ms" "redis p99" ratio \
		"paired" "cn lower" "client cpu"
	for P in $PIPELINES; do
		for test in $(echo "$TESTS" | tr 'a-z,' 'A-Z '); do
			c_rps=$(awk -F, -v p="$P" -v t="$test" '$1=="cachenode" && $2==p && $3==t {print $4}' "$results" | median)
			r_rps=$(awk -F, -v p="$P" -v t="$test" '$1=="redis" && $2==p && $3==t {print $4}' "$results" | median)
			c_p99=$(awk -F, -v p="$P" -v t="$test" '$1=="cachenode" && $2==p && $3==t {print $5}' "$results" | median)
			r_p99=$(awk -F, -v p="$P" -v t="$test" '$1=="redis" && $2==p && $3==t {print $5}' "$results" | median)
			# Each round's cachenode p99 over redis's in the same round: the machine's
			# load drifts over an invocation, and rounds pair runs made close together.
			paired=$(awk -F, -v p="$P" -v t="$test" '$2==p && $3==t {v[$6","$1]=$5; r[$6]=1}
				END {for (k in r) if (v[k",redis"]+0 > 0) printf "%.4f\n", v[k",cachenode"]/v[k",redis"]}' "$results")
			p_med=$(echo "$paired" | median)
			p_low=$(echo "$paired" | awk '$1 != "" {n++; if ($1 <= 1) k++} END {printf "%d/%d", k, n}')
			ccpu=$(awk -F, -v p="$P" -v t="$test" '$2==p && $3==t {print $7}' "$results" | median)
			printf '%-12s %14.0f %14.0f %7s %12.3f %12.3f %7s %8.2f %9s %10.0f%%\n' "$test -P $P" "$c_rps" "$r_rps" "$(ratio "$c_rps" "$r_rps")" \
				"$c_p99" "$r_p99" "$(ratio "$c_p99" "$r_p99")" "$p_med" "$p_low" "$ccpu"
		done
	done
	echo "(rps ratio > 1: cachenode faster; p99 ratio < 1: cachenode's tail lower; medians of $ROUNDS runs;"
	echo " paired: median over rounds of cachenode's p99 / redis's in the same round; cn lower: rounds where"
	echo " cachenode's p99 was at most redis's; client cpu: redis-benchmark's CPU use during the runs, median,"
	echo " in % of one core: near 100% the client, not the server, sets the pace, for both servers)"
	stop_pid "$cpid"
	stop_pid "$rpid"
fi

if [ "$do_memory" = 1 ]; then
	echo
	echo "# memory: $KEYS keys (key:%012d), 64-byte values, loaded with redis-cli --pipe into fresh processes"
	gen() { # RESP SET commands for KEYS keys with 64-byte values
		awk -v n="$KEYS" 'BEGIN {
			v = "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv"
			for (i = 0; i < n; i++) {
				k = sprintf("key:%012d", i)
				printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$64\r\n%s\r\n", length(k), k, v
			}
		}'
	}
	printf '%-10s %10s %12s %14s %14s\n' server keys "VmRSS MB" "used_memory MB" "rss before MB"
	declare -A rss
	for server in redis cachenode; do
		port=$(free_port)
		if [ "$server" = cachenode ]; then start_cachenode "$port"; else start_redis "$port"; fi
		pid=$last_pid
		before=$(vmrss_kb "$pid")
		if ! gen | timeout "$RUN_TIMEOUT" redis-cli -p "$port" --pipe >"$work/pipe-$server.log" 2>&1; then
			echo "bench-vs-redis: loading $server failed:" >&2
			cat "$work/pipe-$server.log" >&2
			exit 1
		fi
		sleep 1 # let background work (lazy frees, GC) settle
		n=$(redis-cli -p "$port" dbsize)
		used=$(redis-cli -p "$port" info memory | tr -d '\r' | awk -F: '$1=="used_memory" {printf "%.1f", $2/1048576}')
		kb=$(vmrss_kb "$pid")
		rss[$server]=$kb
		printf '%-10s %10s %12.1f %14s %14.1f\n' "$server" "$n" "$(awk -v k="$kb" 'BEGIN{print k/1024}')" "$used" \
			"$(awk -v k="$before" 'BEGIN{print k/1024}')"
		if [ "$server" = redis ]; then
			echo "           (redis INFO used_memory_rss: $(redis-cli -p "$port" info memory | tr -d '\r' | awk -F: '$1=="used_memory_rss" {printf "%.1f MB", $2/1048576}'))"
		fi
		if [ "$n" != "$KEYS" ]; then
			echo "bench-vs-redis: $server holds $n keys, expected $KEYS (evictions? raise MAXMEMORY)" >&2
		fi
		stop_pid "$pid"
	done
	echo "VmRSS ratio cachenode/redis: $(ratio "${rss[cachenode]}" "${rss[redis]}") (< 1: cachenode smaller)"
fi

if [ "$do_bound" = 1 ]; then
	echo
	limit_mb=$(awk -v s="$FILL_MAXMEMORY" 'BEGIN { n = s + 0; u = tolower(s); sub(/^[0-9]+/, "", u)
		m = (u == "kb") ? 1/1024 : (u == "mb") ? 1 : (u == "gb") ? 1024 : (u == "k") ? 1000/1048576 : (u == "m") ? 1000000/1048576 : (u == "g") ? 1e9/1048576 : 1/1048576
		printf "%.0f", n * m }')
	echo "# bound: --maxmemory $FILL_MAXMEMORY ($limit_mb MB), cachenode $CN_POLICY, redis $POLICY, filled with 4x that by redis-benchmark -t set -P 16 -c 20 -r 100000000"
	printf '%-10s %8s %12s %14s %14s %10s\n' server value "written MB" "peak VmRSS MB" "used_memory MB" "evicted"
	for size in 64 1024 16384; do
		n=$((limit_mb * 4 * 1048576 / (size + 20)))
		for server in redis cachenode; do
			port=$(free_port)
			if [ "$server" = cachenode ]; then start_cachenode "$port" "$FILL_MAXMEMORY"; else start_redis "$port" "$FILL_MAXMEMORY"; fi
			pid=$last_pid
			peakf=$work/peak-$server-$size
			echo 0 >"$peakf"
			(
				peak=0
				while kill -0 "$pid" 2>/dev/null; do
					r=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
					if [ "${r:-0}" -gt "$peak" ]; then peak=$r; echo "$peak" >"$peakf"; fi
					sleep 0.1
				done
			) &
			sampler=$!
			if ! timeout "$RUN_TIMEOUT" "${cli_pin[@]}" redis-benchmark -h 127.0.0.1 -p "$port" -t set -d "$size" -r 100000000 \
				-n "$n" -P 16 -c 20 -q >"$work/fill.log" 2>&1; then
				echo "bench-vs-redis: fill of $server failed or timed out:" >&2
				cat "$work/fill.log" >&2
				exit 1
			fi
			sleep 1
			r=$(vmrss_kb "$pid")
			[ "$r" -gt "$(cat "$peakf")" ] && echo "$r" >"$peakf"
			info=$(redis-cli -p "$port" info all | tr -d '\r')
			used=$(echo "$info" | awk -F: '$1=="used_memory" {printf "%.1f", $2/1048576}')
			evicted=$(echo "$info" | awk -F: '$1=="evicted_keys" {print $2}')
			printf '%-10s %8s %12.0f %14.1f %14s %10s\n' "$server" "$size" "$(awk -v n="$n" -v s="$size" 'BEGIN{print n*s/1048576}')" \
				"$(awk -v k="$(cat "$peakf")" 'BEGIN{print k/1024}')" "$used" "$evicted"
			stop_pid "$pid"
			wait "$sampler" 2>/dev/null || true
		done
	done
	echo "(peak VmRSS sampled every 0.1 s during the fill and once after; limit $limit_mb MB)"
fi
