#!/usr/bin/env bash
# Runs the unit tests built with AddressSanitizer and UBSan (leak checks
# on). Any sanitizer report aborts the program and fails the run.
set -u
cd "$(dirname "$0")/.."
# allocator_may_return_null: tests feed impossible sizes on purpose and
# expect SL_ENOMEM back, as a hostile length would in production.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:halt_on_error=1:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
out=$(mktemp)
./build/unit-tests-asan "$@" > "$out"
rc=$?
sed 's/^unit-tests-asan:/asan:/' "$out"
rm -f "$out"
[ $rc = 0 ]
