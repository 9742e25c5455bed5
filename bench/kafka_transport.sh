#!/usr/bin/env bash
# bench/kafka_transport: the same pipeline on both transports (issue 16),
# in one run on the harness servers: sluice-capture into sluice-broker
# through the text protocol and through its Kafka listener (--broker
# kafka://..., lib/stream_kafka*.c over librdkafka), capture throughput
# (bench/capture), and the whole pipeline through each (bench/e2e: the
# sustained rate until the target holds every row, which is apply's rate
# from that transport, and commit-to-apply latency p50/p99 at RATE rows/s),
# with the peak memory of capture and apply.
#
# Arguments: CAPTURE_ROWS E2E_ROWS RATE SECONDS (defaults 1000000 500000
# 10000 10; docs/performance.md has the figures and the sizes they used).
set -eu
cd "$(dirname "$0")/.."
crows=${1:-1000000} erows=${2:-500000} rate=${3:-10000} secs=${4:-10}
for t in text kafka; do
    echo "=== transport: $t"
    if [ $t = kafka ]; then export SL_BENCH_TRANSPORT=kafka; else unset SL_BENCH_TRANSPORT; fi
    tests/harness/harness.sh run build/bench/capture "$crows" "$rate" "$secs"
    tests/harness/harness.sh run build/bench/e2e "$erows" "$rate" "$secs"
done
