#!/usr/bin/env bash
# Runs bench/kafka: sluice-broker's Kafka listener under librdkafka beside
# the native protocol and Redis Streams, in the same run (see bench/kafka.c).
# The benchmark program starts its own sluice-broker and redis-server on
# free 127.0.0.1 ports in a temporary directory and stops them by pid;
# this driver only locates the binaries.
# BENCH_SECONDS (per case, default 2) and BENCH_ROUNDS (default 3) shorten
# or lengthen it.
set -eu
cd "$(dirname "$0")/.."
export SL_BIN=${SL_BIN:-$PWD/bin}
if ! command -v redis-server >/dev/null; then
    echo "bench/kafka: redis-server not installed; the Redis comparison is skipped"
fi
exec build/bench/kafka "$@"
