#!/usr/bin/env bash
# `make bench`: runs every benchmark driver bench/*.sh in turn. Each one
# prints its figures beside its peer's, measured in the same run.
set -u
cd "$(dirname "$0")/.."
status=0
for driver in bench/*.sh; do
    [ "$driver" = bench/run.sh ] && continue
    [ -x "$driver" ] || continue
    echo "=== $driver"
    "$driver" || status=1
done
exit $status
