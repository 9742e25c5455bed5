#!/usr/bin/env bash
# bench/apply: sluice-apply into MariaDB vs native MariaDB replication
# (slave_parallel_threads=0 and 4) on 1 and 8 tables, and cache
# invalidations vs raw pipelined deletes, on the harness servers.
# Argument: ROWS (default 1000000; BENCH_ROWS overrides).
set -eu
cd "$(dirname "$0")/.."
exec tests/harness/harness.sh run build/bench/apply "$@"
