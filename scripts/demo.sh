#!/usr/bin/env bash
# make demo: replays a thundering herd and a tier outage, each against a
# fresh local tier (cachenode processes started and stopped by loadtest), and
# writes the summaries and HTML reports under reports/.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bin reports
go build -o bin/loadtest ./cmd/loadtest

echo "== herd: 4 client processes × 500 goroutines ask one cold key at the same instant"
./bin/loadtest herd --nodes 3 --procs 4 --concurrency 500 --keys 1 \
	--json reports/herd.json --report reports/herd.html
echo
echo "== tierdown: steady traffic; one node killed, then all; then they come back"
./bin/loadtest tierdown --nodes 3 --procs 2 --concurrency 32 --keys 500 \
	--duration 20s --origin-rps 100 --ttl 30s --l1-ttl 1s \
	--json reports/tierdown.json --report reports/tierdown.html
echo
echo "reports: reports/herd.html reports/tierdown.html (open them in a browser; they work offline)"
