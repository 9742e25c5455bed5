#!/usr/bin/env bash
# Runs bench/kafka: the broker's Kafka listener driven by librdkafka beside
# the native protocol, in one run on one broker (fsync=always). The program
# starts its own sluice-broker on free 127.0.0.1 ports in a temporary
# directory and stops it by pid; this driver only locates the binaries.
set -eu
cd "$(dirname "$0")/.."
export SL_BIN=${SL_BIN:-$PWD/bin}
exec build/bench/kafka "$@"
