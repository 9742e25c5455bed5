#!/usr/bin/env bash
# bench/capture: capture throughput and commit-to-publish latency against a
# real MariaDB started by the harness. Arguments: ROWS RATE SECONDS.
set -eu
cd "$(dirname "$0")/.."
exec tests/harness/harness.sh run build/bench/capture "$@"
