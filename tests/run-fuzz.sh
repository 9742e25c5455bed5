#!/usr/bin/env bash
# tests/run-fuzz.sh SECONDS FUZZER...: runs each libFuzzer target for
# SECONDS (with ASan and UBSan), starting from its corpus directory
# tests/fuzz/corpus/NAME when there is one. A crash fails the run and
# leaves the input as build/fuzz-artifacts/NAME/crash-* (a hang: timeout-*,
# the -timeout below; memory: oom-*). A UBSan report counts as a crash.
#
# fuzz_capture_ddl and fuzz_capture_ddl_names (same input format) also
# start from the live DDL corpus: the statements scripts/ddl-corpus.py
# extracts from the fixture binlogs and MariaDB's test suite (the
# mariadb-test package), written as seeds into build/fuzz-seeds/NAME at
# each run and never committed. The
# extraction is skipped, saying so, when python3 or the sources are missing.
#
# Each target's line reports libFuzzer's final figures, parsed from its
# log build/fuzz-artifacts/NAME.log: executions (stat::number_of_executed_
# units), coverage "cov" (code edges reached) and "ft" (features) of the
# last status line, and the size of the corpus it ended with. The long run
# the hardening issue asks for is `make fuzz FUZZ_SECONDS=600`.
set -u
cd "$(dirname "$0")/.."
# The fuzz objects are built with recoverable UBSan checks: without this a
# UBSan report is printed and the run still passes.
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
seconds=$1
shift
passed=0 failed=0

# Prints "execs N, cov N, ft N, corpus N" from a libFuzzer log.
figures() {
    local log=$1 execs cov ft corp
    execs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$log" | tail -n 1)
    local status
    status=$(grep -E '^#[0-9]+[[:space:]].* cov: [0-9]+' "$log" | tail -n 1)
    cov=$(echo "$status" | sed -nE 's/.* cov: ([0-9]+).*/\1/p')
    ft=$(echo "$status" | sed -nE 's/.* ft: ([0-9]+).*/\1/p')
    corp=$(echo "$status" | sed -nE 's/.* corp: ([0-9]+).*/\1/p')
    [ -n "$execs" ] || execs=$(echo "$status" | sed -nE 's/^#([0-9]+).*/\1/p')
    echo "execs ${execs:-?}, cov ${cov:-?}, ft ${ft:-?}, corpus ${corp:-?}"
}

# Writes the DDL corpus seeds for target $1; prints their directory, or
# nothing.
ddl_corpus_seeds() {
    local dir=build/fuzz-seeds/$1
    rm -rf "$dir"
    mkdir -p "$dir"
    # As many statements as the run has time for (100 a second, 1000 to
    # 6000): a short run still gets past the seeds to fuzzing.
    local max=$((seconds * 100))
    [ $max -lt 1000 ] && max=1000
    [ $max -gt 6000 ] && max=6000
    if python3 scripts/ddl-corpus.py --max "${DDL_CORPUS_SEEDS:-$max}" \
        --fuzz-seeds "$dir" build/fuzz-seeds/ddl-corpus.txt >&2 &&
        [ -n "$(ls -A "$dir")" ]; then
        echo "$dir"
    else
        echo "fuzz: no DDL corpus seeds (python3, mariadb-test or the" \
            "fixtures missing)" >&2
    fi
}

for fuzzer in "$@"; do
    name=$(basename "$fuzzer")
    work="build/fuzz-corpus/$name"
    art="build/fuzz-artifacts/$name"
    log="build/fuzz-artifacts/$name.log"
    mkdir -p "$work" "$art"
    seeds=()
    [ -d "tests/fuzz/corpus/$name" ] && seeds=("tests/fuzz/corpus/$name")
    case $name in
    fuzz_capture_ddl | fuzz_capture_ddl_names)
        extra=$(ddl_corpus_seeds "$name")
        [ -n "$extra" ] && seeds+=("$extra")
        ;;
    esac
    if timeout -k 10 $((seconds + 120)) "$fuzzer" -max_total_time="$seconds" \
        -timeout=30 -artifact_prefix="$art/" -print_final_stats=1 \
        "$work" "${seeds[@]}" > "$log" 2>&1; then
        echo "PASS $name (${seconds}s): $(figures "$log")"
        passed=$((passed + 1))
    else
        echo "FAIL $name (${seconds}s): $(figures "$log"); see $log"
        tail -n 30 "$log"
        failed=$((failed + 1))
    fi
done
echo "fuzz: $passed passed, $failed failed, 0 skipped"
[ $failed = 0 ]
