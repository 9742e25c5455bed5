#!/usr/bin/env bash
# bench/e2e: the whole pipeline, source to target, on one machine.
# Arguments: ROWS RATE SECONDS (defaults 500000 10000 10).
set -eu
cd "$(dirname "$0")/.."
exec tests/harness/harness.sh run build/bench/e2e "$@"
