#!/usr/bin/env bash
# Runs bench/decode: sluice-capture --from-file vs mariadb-binlog on the
# same 1,000,000-row binlog, and sluice-capture's peak RSS on one 1 GiB
# transaction. Starts a harness MariaDB source (tests/harness/harness.sh)
# and stops it on exit. BENCH_ROWS and BENCH_BIG_MB scale the run.
set -eu
cd "$(dirname "$0")/.."
# A private TMPDIR: mariadbd (and its bootstrap) put temporary tables
# there, and other harness servers starting at the same time in a shared
# /tmp can collide on their names.
SL_BENCH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench-decode.XXXXXX")
export TMPDIR=$SL_BENCH_TMP
. tests/harness/harness.sh
sl_h_init
sl_h_start_mariadb SOURCE 1 --max-binlog-size=1073741824 --binlog-cache-size=1048576
status=0
build/bench/decode || status=$?
sl_h_stop_all
rm -rf "$SL_BENCH_TMP"
exit $status
