#!/usr/bin/env bash
# Both transports run the same pipeline test (issue 16): apply_e2e's whole
# pipeline (source MariaDB -> sluice-capture -> broker -> sluice-apply ->
# target MariaDB, Redis, memcached; target equals source by row hash, every
# changed key deleted) once more with SL_TEST_TRANSPORT=kafka, where
# capture and apply reach sluice-broker through its Kafka listener
# (--broker kafka://HOST:PORT, lib/stream_kafka*.c over librdkafka).
# The text-protocol run is apply_e2e itself.
#
# Runs under tests/run-integration.sh (the suite's servers); prints
# PASS/FAIL/SKIP lines; exit status 1 when anything failed.
set -u
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$TOP" || exit 1
NAME=kafka_transport
if [ -z "${SL_SOURCE_PORT:-}" ]; then
    echo "SKIP $NAME: no source mariadbd (run under tests/run-integration.sh)"
    exit 0
fi
prog=build/tests/integration/apply_e2e
[ -x "$prog" ] || { echo "FAIL $NAME: $prog is missing (run make)"; exit 1; }
out=$(SL_TEST_TRANSPORT=kafka "$prog" apply_e2e_capture_broker_apply 2>&1)
rc=$?
# The program's own lines, renamed so both runs show apart.
printf '%s\n' "$out" | sed -nE 's/^(PASS|FAIL|SKIP) /\1 kafka:/p'
if [ $rc -ne 0 ] || ! printf '%s\n' "$out" | grep -q '^PASS '; then
    printf '%s\n' "$out" | tail -n 30 >&2
    echo "FAIL $NAME: the pipeline over kafka:// failed (status $rc)"
    exit 1
fi
exit 0
