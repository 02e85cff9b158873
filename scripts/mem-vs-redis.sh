#!/usr/bin/env bash
# Resident memory of cachenode vs redis-server 7 holding the same 1M keys with
# 64-byte values (KEYS=... to change the count): the memory half of
# bench-vs-redis.sh on its own.
exec "$(dirname "$0")/bench-vs-redis.sh" --no-throughput "$@"
