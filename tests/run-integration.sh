#!/usr/bin/env bash
# Runs every integration and fault test program against one set of real
# servers (source and target mariadbd, redis-server, memcached) started by
# the harness, then stops them. With an argument, runs only the programs
# whose name contains it. Prints each program's PASS/FAIL/SKIP lines and
# closes with "integration: N passed, N failed, N skipped".
set -u
cd "$(dirname "$0")/.."
. tests/harness/harness.sh
filter=${1:-}

sl_h_log "starting servers"
if ! sl_h_start_suite; then
    echo "FAIL harness_start: could not start the test servers"
    echo "integration: 0 passed, 1 failed, 0 skipped"
    exit 1
fi

passed=0 failed=0 skipped=0
log="$SL_HARNESS_ROOT/itest.out"
# C programs built from tests/{integration,fault}/*.c, and shell tests
# tests/{integration,fault}/*.sh (run with the same environment; they print
# PASS/FAIL lines like the C ones).
# build/tests-asan/: some of the same programs built with ASan and UBSan
# (their lines are prefixed "asan:").
for prog in build/tests/integration/* build/tests/fault/* \
    tests/integration/*.sh tests/fault/*.sh build/tests-asan/*/*; do
    [ -x "$prog" ] || continue
    case $prog in *.d|*.o) continue ;; esac
    name=$(basename "$prog")
    case $prog in build/tests-asan/*) name=asan:$name ;; esac
    [ -n "$filter" ] && [[ $name != *"$filter"* ]] && continue
    # Each program gets 15 minutes at most, so a hang fails instead of
    # stalling the run.
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:halt_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        timeout -k 10 900 "$prog" > "$log" 2>"$log.err"
    rc=$?
    case $prog in
    build/tests-asan/*) sed -i -E 's/^(PASS|FAIL|SKIP) /\1 asan:/' "$log" ;;
    esac
    cat "$log"
    p=$(grep -c '^PASS ' "$log") f=$(grep -c '^FAIL ' "$log") s=$(grep -c '^SKIP ' "$log")
    if [ $rc -ne 0 ] && [ "$f" = 0 ]; then
        echo "FAIL $name: exited with status $rc"
        f=1
    fi
    if [ "$f" != 0 ] || [ $rc -ne 0 ]; then
        echo "--- stderr of $name (last 40 lines):"
        tail -n 40 "$log.err"
    fi
    passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
done
echo "integration: $passed passed, $failed failed, $skipped skipped"
[ $failed = 0 ]
