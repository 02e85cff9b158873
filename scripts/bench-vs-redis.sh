#!/usr/bin/env bash
# Side-by-side redis-benchmark comparison of cachenode and redis-server. Not written yet.
echo "bench-vs-redis: not implemented yet (see issue 2)" >&2
exit 1
