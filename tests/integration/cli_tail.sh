#!/usr/bin/env bash
# sluice tail/consume and produce against a real broker (issue 19, part
# 4): every kcat-style option checked for its output: -c, -e with
# --follow, -o earliest|latest|N|-N|s@MS, several partitions and a whole
# topic, -G consuming as a group (a second run goes on where the first
# committed), -f with every placeholder; produce refuses keys and headers
# the text protocol cannot store, and with --kafka stores them through the
# Kafka listener (read back with kcat); a bad -o is a usage error.
# Prints PASS/FAIL lines; exit status 1 when anything failed.
set -u
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$TOP" || exit 1
# shellcheck source=../harness/harness.sh
. tests/harness/harness.sh

NAME=cli_tail
failed=0
pass() { echo "PASS $NAME:$*"; }
fail() { echo "FAIL $NAME:$*"; failed=1; }
unset SL_HARNESS_ROOT
sl_h_init || { fail "setup: harness"; exit 1; }
D=$SL_HARNESS_ROOT/cli
mkdir -p "$D"
BP=$(sl_h_freeport) KP=$(sl_h_freeport)
bin/sluice-broker --listen "127.0.0.1:$BP" --kafka-listen "127.0.0.1:$KP" --fsync never \
    --data "$D/broker" > "$D/broker.log" 2>&1 &
sl_h_record_pid broker $!
sl_h_wait_for broker 20 bash -c "exec 3<>/dev/tcp/127.0.0.1/$BP" ||
    { fail "setup: broker did not start"; exit 1; }
s() { bin/sluice --broker "127.0.0.1:$BP" "$@"; }
# same NAME WANT CMD...: the command's stdout is exactly WANT.
same() {
    local name=$1 want=$2 got
    shift 2
    got=$("$@" 2> "$D/err")
    if [ "$got" = "$want" ]; then
        pass "$name"
    else
        fail "$name: want [$want] got [$got] $(head -c 300 "$D/err")"
    fi
}

seq 1 10 | s produce t a 2> /dev/null || fail "setup: produce a"
t0=$(date +%s%3N)
sleep 0.05 # The next messages are appended after t0 (ms resolution).
seq 11 15 | s put t b 2> /dev/null || fail "setup: put b"

same "-c stops after N" "$(seq 1 3)" s tail t a -c 3
same "whole topic, every partition" "$(seq 1 15)" \
    bash -c "bin/sluice --broker 127.0.0.1:$BP consume t | sort -n"
same "several partitions" "$(seq 1 15)" \
    bash -c "bin/sluice --broker 127.0.0.1:$BP tail t a -p b | sort -n"
same "-o latest reads nothing" "" s tail t a -o latest
same "-o N" "$(seq 9 10)" s tail t a -o 8
same "-o -N (before the end)" "$(seq 8 10)" s tail t a -o -3
same "-o -N beyond the start" "$(seq 1 10)" s tail t a -o -50
same "-o s@MS (by timestamp)" "$(seq 11 15)" s tail t a b -o "s@$t0"
same "-f placeholders" "t|a|9|2|10|%|" s tail t a -o 9 \
    -f '%t|%p|%o|%S|%s|%%|%k%h\n'
ts=$(s tail t b -c 1 -f '%T')
if [ "$ts" -ge "$t0" ] 2> /dev/null; then pass "-f %T is the append time"; else fail "-f %T ($ts < $t0)"; fi
same "-G first run" "$(seq 1 4)" s tail t a -G g1 -c 4
same "-G second run goes on" "$(seq 5 10)" s tail t a -G g1
same "-G commits the end" "$(printf 'earliest 0\nlatest 10\ncommitted 10\nlag 0')" \
    s offsets t a --group g1
# --follow waits for more; -e ends it at the end all the same.
same "-e with --follow exits at the end" "$(seq 11 15)" \
    bash -c "timeout 20 bin/sluice --broker 127.0.0.1:$BP tail t b --follow -e"
# From offset 1 (after the first message): no race with the produce below.
echo w | s produce t c 2> /dev/null
timeout 20 bin/sluice --broker "127.0.0.1:$BP" tail t c --follow -c 2 -o 1 \
    > "$D/follow.out" 2> "$D/follow.err" &
F=$!
printf 'x\ny\nz\n' | s produce t c 2> /dev/null
wait $F
rc=$?
if [ $rc = 0 ] && [ "$(cat "$D/follow.out")" = "$(printf 'x\ny')" ]; then
    pass "--follow -c gets new messages"
else
    fail "--follow -c gets new messages (rc $rc: $(cat "$D/follow.out" "$D/follow.err"))"
fi
# The text protocol keeps a record key (put klen=): tail's %k and kcat's
# read it back; a message without -k has a null key (%k writes nothing).
printf 'm1\nm2\n' | s produce t kk -k key1 2> /dev/null ||
    fail "produce -k through the text protocol"
echo m3 | s produce t kk 2> /dev/null
same "produce -k keeps the key (tail %k)" "$(printf 'key1|m1\nkey1|m2\n|m3')" \
    s tail t kk -f '%k|%s\n'
if command -v kcat > /dev/null; then
    same "produce -k keeps the key (kcat %k through the Kafka listener)" \
        "$(printf 'key1|4|m1\nkey1|4|m2\n|-1|m3')" \
        timeout 30 kcat -C -b "127.0.0.1:$KP" -t t.kk -p 0 -o beginning -e -q \
        -f '%k|%K|%s\n'
fi
out=$(echo m | s produce t a -H h=v 2>&1)
if [ $? = 2 ] && [[ $out == *"stores no headers"* ]]; then
    pass "produce -H refused"
else
    fail "produce -H refused (got: $out)"
fi
same "refused produce stored nothing" "$(seq 1 10)" s tail t a
printf 'v1\nv2\n' | s produce kt 0 -k key1 -H a=1 --header b=two \
    --kafka "127.0.0.1:$KP" 2> "$D/kp.err" ||
    fail "produce --kafka: $(cat "$D/kp.err")"
if command -v kcat > /dev/null; then
    same "produce --kafka keeps keys and headers (kcat reads them)" \
        "$(printf 'key1|a=1,b=two|v1\nkey1|a=1,b=two|v2')" \
        timeout 30 kcat -C -b "127.0.0.1:$KP" -t kt -p 0 -o beginning -e -q \
        -f '%k|%h|%s\n'
else
    fail "produce --kafka: kcat is missing (make deps)"
fi
out=$(echo m | s produce kt x -k k --kafka "127.0.0.1:$KP" 2>&1)
if [ $? = 2 ] && [[ $out == *"Kafka partition number"* ]]; then
    pass "produce --kafka needs a partition number"
else
    fail "produce --kafka needs a partition number (got: $out)"
fi
out=$(s tail t a -o yesterday 2>&1)
if [ $? = 2 ] && [[ $out == *"bad --from"* ]]; then
    pass "bad -o is a usage error"
else
    fail "bad -o is a usage error (got: $out)"
fi
exit $failed
