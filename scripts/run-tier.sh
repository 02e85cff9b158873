#!/usr/bin/env bash
# Starts one cachenode per port given (default 7001 7002 7003) on 127.0.0.1 in the foreground.
# Ctrl-C (or SIGTERM) stops every node it started, by PID, and waits for them. A
# node stopped alone (SHUTDOWN, kill) leaves the others running.
# Environment: CACHENODE_FLAGS (extra flags for every node, e.g. "--maxmemory 64mb"),
# CACHENODE_BIN (run this binary instead of building bin/cachenode).
set -euo pipefail
cd "$(dirname "$0")/.."
ports=("$@")
[ "${#ports[@]}" -gt 0 ] || ports=(7001 7002 7003)

bin=${CACHENODE_BIN:-}
if [ -z "$bin" ]; then
	mkdir -p bin
	go build -o bin/cachenode ./cmd/cachenode
	bin=./bin/cachenode
fi

# Each node runs in a session of its own (setsid, where available), so that a
# Ctrl-C reaches only this script, which then sends every node one SIGTERM:
# a node that also got the terminal's SIGINT would take the TERM as a second
# signal and skip its graceful drain.
detach=()
command -v setsid >/dev/null 2>&1 && detach=(setsid)

pids=()
stop() {
	trap - INT TERM
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	exit 0
}
trap stop INT TERM

for port in "${ports[@]}"; do
	${detach[@]+"${detach[@]}"} "$bin" --port "$port" --bind 127.0.0.1 ${CACHENODE_FLAGS:-} &
	pids+=("$!")
done
echo "tier up on ports ${ports[*]} (Ctrl-C stops it)"
# A node stopped on its own (redis-cli SHUTDOWN, a kill, a crash) leaves the
# others running, as a real tier would; the script ends when all have.
for p in "${pids[@]}"; do wait "$p" || true; done
