#!/usr/bin/env bash
# Runs Redis's own Tcl test suites against a cachenode, and with --compare
# against a redis-server started the same way, and summarises the results.
#
# The suites come from a Redis source tree at the tag of the installed
# redis-server (REDIS_SRC, or a shallow clone of github.com/redis/redis
# cached under ~/.cache/cachetier). They run in Redis's external-server mode:
#   tclsh tests/test_helper.tcl --host 127.0.0.1 --port P --singledb --durable
#     --clients 1 --tags "-needs:repl -needs:debug" --single SUITE ...
# --singledb because cachenode has one database; --durable so that a test
# using a command cachenode lacks (a list, set or hash command) fails alone
# instead of aborting its file; tests that need replication or DEBUG are
# skipped (cachenode has neither). One harness line is adapted: the
# "r function flush" run before each file becomes "catch {r function flush}"
# (cachenode has no FUNCTION).
#
# The summary lists each failing test with its first error line, marked
# "other type" when it failed on an unknown command (a command of another
# data type). The exit status is 1 when a test failed on cachenode for any
# other reason (and, with --compare, passed on redis-server).
#
# Usage: scripts/redis-tcl.sh [--compare] [SUITE ...]
#   SUITE defaults to: unit/type/string unit/type/incr unit/expire
#   unit/protocol unit/bitops unit/bitfield
# Environment: REDIS_SRC (a Redis source tree; default: clone REDIS_TAG),
# REDIS_TAG (default: the installed redis-server's version, else 7.0.15),
# OUT (directory for the logs; default a temporary one, printed),
# CACHENODE_BIN (skip the build, use this binary), RUN_TIMEOUT (seconds for
# the whole run of one server, default 900).
# Every process it starts is stopped on exit (by PID).
set -euo pipefail
cd "$(dirname "$0")/.."

compare=0
suites=()
for a in "$@"; do
	case "$a" in
	--compare) compare=1 ;;
	-h | --help)
		sed -n '2,32p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	-*)
		echo "redis-tcl: unknown option $a (try --help)" >&2
		exit 2
		;;
	*) suites+=("$a") ;;
	esac
done
if [ "${#suites[@]}" -eq 0 ]; then
	suites=(unit/type/string unit/type/incr unit/expire unit/protocol unit/bitops unit/bitfield)
fi

for tool in tclsh redis-cli git; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "redis-tcl: $tool not installed (Debian: apt-get install -y tcl redis-tools git)" >&2
		exit 1
	fi
done
if [ "$compare" = 1 ] && ! command -v redis-server >/dev/null 2>&1; then
	echo "redis-tcl: --compare needs redis-server (apt-get install -y redis-server)" >&2
	exit 1
fi

if [ -z "${REDIS_TAG:-}" ]; then
	REDIS_TAG=7.0.15
	if command -v redis-server >/dev/null 2>&1; then
		REDIS_TAG=$(redis-server --version | sed -n 's/.*v=\([0-9.]*\).*/\1/p')
	fi
fi
if [ -z "${REDIS_SRC:-}" ]; then
	REDIS_SRC="${XDG_CACHE_HOME:-$HOME/.cache}/cachetier/redis-$REDIS_TAG"
	if [ ! -f "$REDIS_SRC/tests/test_helper.tcl" ]; then
		echo "redis-tcl: cloning redis $REDIS_TAG into $REDIS_SRC" >&2
		rm -rf "$REDIS_SRC"
		git clone --quiet --depth 1 --branch "$REDIS_TAG" https://github.com/redis/redis "$REDIS_SRC"
	fi
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/redis-tcl.XXXXXX")
OUT=${OUT:-$work/logs}
mkdir -p "$OUT"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$work/tree" "$work/cachenode"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$work/tree"
cp -r "$REDIS_SRC/tests" "$work/tree/"
sed -i 's/^\( *\)r function flush$/\1catch {r function flush}/' "$work/tree/tests/support/server.tcl"

bin=${CACHENODE_BIN:-}
if [ -z "$bin" ]; then
	bin="$work/cachenode"
	go build -o "$bin" ./cmd/cachenode
fi

free_port() {
	local p
	for _ in $(seq 1 50); do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	echo "redis-tcl: no free port found" >&2
	exit 1
}

wait_ping() { # port pid: 0 once the server answers, 1 if it exited or stayed silent
	for _ in $(seq 1 200); do
		if [ "$(redis-cli -p "$1" ping 2>/dev/null)" = PONG ]; then return 0; fi
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# start name command...: starts the server on a free port (its command
# line's PORT word replaced), retrying on another port if it does not come
# up (the port was taken meanwhile); sets port.
start() {
	local name=$1
	shift
	for _ in 1 2 3; do
		port=$(free_port)
		"${@/#PORT/$port}" >>"$OUT/$name-server.log" 2>&1 &
		local pid=$!
		pids+=("$pid")
		if wait_ping "$port" "$pid"; then return 0; fi
		kill -TERM "$pid" 2>/dev/null || true
	done
	echo "redis-tcl: $name did not come up (see $OUT/$name-server.log)" >&2
	exit 1
}

run_suites() { # name port
	local args=()
	for s in "${suites[@]}"; do args+=(--single "$s"); done
	(cd "$work/tree" && timeout "${RUN_TIMEOUT:-900}" tclsh tests/test_helper.tcl --host 127.0.0.1 --port "$2" \
		--singledb --durable --clients 1 --timeout 120 --tags "-needs:repl -needs:debug" "${args[@]}") \
		>"$OUT/$1.log" 2>&1 || true
	sed 's/\x1b\[[0-9;]*m//g' "$OUT/$1.log" >"$OUT/$1.txt"
}

# summarise name: counts, then each failure with its first error line.
summarise() {
	local txt="$OUT/$1.txt"
	echo "== $1: $(grep -c '^\[ok\]' "$txt" || true) passed, $(grep -c '^\[err\]' "$txt" || true) failed," \
		"$(grep -c '^\[ignore\]\|^\[skip\]' "$txt" || true) skipped (tags)"
	awk '
		/^\[err\]: / { name = substr($0, 8); getline detail; kind = "";
			if (detail ~ /^n command /) detail = "ERR unknow" detail; # the harness drops the first 10 characters
			if (detail ~ /unknown command /) kind = "other type: ";
			print "   " name "\n      " kind detail }
		/^\[exception\]/ { print "   EXCEPTION (aborted the run): " $0 }
	' "$txt" | grep -v '^\*\*\*' || true
}

start cachenode "$bin" --port PORT --bind 127.0.0.1
run_suites cachenode "$port"
if [ "$compare" = 1 ]; then
	start redis-server redis-server --port PORT --bind 127.0.0.1 --save "" --appendonly no --daemonize no \
		--logfile "" --dir "$work"
	run_suites redis-server "$port"
	summarise redis-server
fi
summarise cachenode
echo "logs: $OUT"

# Unexplained failures: not on an unknown command, and (with --compare) not
# failing on redis-server too.
status=0
while IFS= read -r name; do
	[ -z "$name" ] && continue
	if [ "$compare" = 1 ] && grep -qxF "[err]: $name" "$OUT/redis-server.txt"; then continue; fi
	status=1
done < <(awk '/^\[err\]: / { name = substr($0, 8); getline detail; if (detail !~ /(unknown|^n) command /) print name }' \
	"$OUT/cachenode.txt" | sort -u)
if grep -q '^\[exception\]' "$OUT/cachenode.txt"; then status=1; fi
exit "$status"
