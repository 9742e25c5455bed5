#!/usr/bin/env bash
# Runs bench/broker: sluice-broker throughput and ack latency, and the same
# load against Redis Streams. The benchmark program itself starts its own
# sluice-broker and redis-server on free 127.0.0.1 ports in a temporary
# directory and stops them by pid; this driver only locates the binaries.
set -eu
cd "$(dirname "$0")/.."
export SL_BIN=${SL_BIN:-$PWD/bin}
if ! command -v redis-server >/dev/null; then
    echo "bench/broker: redis-server not installed; the Redis comparison is skipped"
fi
exec build/bench/broker "$@"
