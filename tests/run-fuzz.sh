#!/usr/bin/env bash
# tests/run-fuzz.sh SECONDS FUZZER...: runs each libFuzzer target for
# SECONDS (with ASan and UBSan), starting from its corpus directory
# tests/fuzz/corpus/NAME when there is one. A crash fails the run and
# leaves the input as build/fuzz-artifacts/NAME/crash-*.
set -u
cd "$(dirname "$0")/.."
seconds=$1
shift
passed=0 failed=0
for fuzzer in "$@"; do
    name=$(basename "$fuzzer")
    work="build/fuzz-corpus/$name"
    art="build/fuzz-artifacts/$name"
    mkdir -p "$work" "$art"
    seeds=()
    [ -d "tests/fuzz/corpus/$name" ] && seeds=("tests/fuzz/corpus/$name")
    if timeout -k 10 $((seconds + 60)) "$fuzzer" -max_total_time="$seconds" \
        -artifact_prefix="$art/" -print_final_stats=0 "$work" "${seeds[@]}" \
        > "build/fuzz-artifacts/$name.log" 2>&1; then
        echo "PASS $name (${seconds}s)"
        passed=$((passed + 1))
    else
        echo "FAIL $name: see build/fuzz-artifacts/$name.log"
        tail -n 30 "build/fuzz-artifacts/$name.log"
        failed=$((failed + 1))
    fi
done
echo "fuzz: $passed passed, $failed failed, 0 skipped"
[ $failed = 0 ]
