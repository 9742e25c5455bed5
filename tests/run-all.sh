#!/usr/bin/env bash
# What `make test` runs after building: unit tests, integration and fault
# tests against real servers, the unit tests again under ASan/UBSan, and a
# short run of every fuzz target. Each stage prints its own lines; the last
# line sums them: "total: N passed, N failed, N skipped".
set -u
cd "$(dirname "$0")/.."
passed=0 failed=0 skipped=0 stages_failed=""

stage() {
    local name=$1
    shift
    local out
    out=$(mktemp)
    echo "=== $name"
    "$@" 2>&1 | tee "$out"
    local rc=${PIPESTATUS[0]}
    local line
    line=$(grep -E '^[a-z-]+: [0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
    if [ -n "$line" ]; then
        local p f s
        p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/')
        f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
        s=$(echo "$line" | sed -nE 's/.* ([0-9]+) skipped.*/\1/p')
        passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + ${s:-0}))
    fi
    if [ "$rc" != 0 ]; then
        stages_failed="$stages_failed $name"
        # A stage that died without counting its failure still fails the run.
        [ -z "$line" ] || [ "$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')" = 0 ] &&
            failed=$((failed + 1))
    fi
    rm -f "$out"
}

stage unit ./build/unit-tests
stage integration tests/run-integration.sh
stage asan tests/run-asan.sh
fuzzers=$(ls build/fuzzers/* 2>/dev/null | grep -v '\.d$')
if [ -n "$fuzzers" ]; then
    stage fuzz tests/run-fuzz.sh "${FUZZ_SMOKE_SECONDS:-10}" $fuzzers
fi

[ -n "$stages_failed" ] && echo "failed stages:$stages_failed"
echo "total: $passed passed, $failed failed, $skipped skipped"
[ $failed = 0 ] && [ -z "$stages_failed" ]
