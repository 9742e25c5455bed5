#!/usr/bin/env bash
# --log-format json in every program (issue 19, part 4): each line a JSON
# object with ts, level and msg, the key=value tail as members (a quoted
# value with spaces unescaped, numbers as numbers); a bad format refused.
# Needs no database: the broker starts and stops, apply and capture log
# their retries against a broker and source that are not there.
# Prints PASS/FAIL lines; exit status 1 when anything failed.
set -u
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$TOP" || exit 1
# shellcheck source=../harness/harness.sh
. tests/harness/harness.sh

NAME=log_json
failed=0
pass() { echo "PASS $NAME:$*"; }
fail() { echo "FAIL $NAME:$*"; failed=1; }
unset SL_HARNESS_ROOT
sl_h_init || { fail "setup: harness"; exit 1; }
D=$SL_HARNESS_ROOT/logjson
mkdir -p "$D"

# every_line FILE MSG KEY VALUE: every line of FILE is a JSON object with
# ts, level and msg, and one has msg MSG with member KEY equal to VALUE
# (compared as JSON: "5" and 5 differ).
every_line() {
    python3 - "$@" << 'PY'
import json, sys
path, msg, key, value = sys.argv[1:5]
want = json.loads(value)
found = False
lines = open(path, encoding="utf-8").read().splitlines()
for line in lines:
    obj = json.loads(line)
    assert {"ts", "level", "msg"} <= obj.keys(), line
    if obj["msg"] == msg and obj.get(key) == want:
        found = True
sys.exit(0 if found and lines else 1)
PY
}

BP=$(sl_h_freeport)
bin/sluice-broker --log-format json --listen "127.0.0.1:$BP" --kafka-listen off \
    --data "$D/broker" 2> "$D/broker.log" &
B=$!
sl_h_record_pid broker $B
sl_h_wait_for broker 20 grep -q 'broker started' "$D/broker.log"
sl_h_kill $B
if every_line "$D/broker.log" "broker started" listen "\"127.0.0.1:$BP\""; then
    pass "broker"
else
    fail "broker: $(head -c 600 "$D/broker.log")"
fi

DEAD=$(sl_h_freeport) # Nothing listens there.
SLUICE_TARGET_PASSWORD=x bin/sluice-apply --log-format json \
    --broker "127.0.0.1:$DEAD" --topic t \
    --target "mysql://u@127.0.0.1:$DEAD/db" 2> "$D/apply.log" &
A=$!
sl_h_record_pid apply $A
sl_h_wait_for "apply retry line" 20 grep -q 'broker unavailable' "$D/apply.log"
sl_h_kill $A
# Its error value has a space and is not quoted by the caller: it still
# reads as one value.
if every_line "$D/apply.log" "broker unavailable; retrying" error '"connection failed"'; then
    pass "apply"
else
    fail "apply: $(head -c 600 "$D/apply.log")"
fi

echo secret > "$D/pw"
bin/sluice-capture --log-format json --source "mysql://u@127.0.0.1:$DEAD" \
    --password-file "$D/pw" --broker "127.0.0.1:$DEAD" 2> "$D/capture.log" &
C=$!
sl_h_record_pid capture $C
sl_h_wait_for "capture retry line" 20 grep -q 'unreachable' "$D/capture.log"
sl_h_kill $C
# The error holds spaces and quotes: logfmt quoted it, JSON carries it.
if python3 - "$D/capture.log" << 'PY'
import json, sys
objs = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
sys.exit(0 if any(" " in str(o.get("error", "")) for o in objs) else 1)
PY
then
    pass "capture: a quoted value with spaces"
else
    fail "capture: $(head -c 600 "$D/capture.log")"
fi

if bin/sluice --log-format json --broker "127.0.0.1:$DEAD" partitions \
    2> "$D/cli.err"; then
    fail "cli: partitions against no broker succeeded"
elif grep -q 'log-format' "$D/cli.err"; then
    fail "cli: --log-format json refused: $(cat "$D/cli.err")"
else
    pass "cli: --log-format json accepted"
fi
for p in sluice-broker sluice-capture sluice-apply sluice; do
    arg=
    [ $p = sluice ] && arg=stats
    out=$(bin/$p --log-format yaml $arg 2>&1)
    if [ $? = 2 ] && [[ $out == *log-format* ]]; then
        pass "$p: bad --log-format refused"
    else
        fail "$p: bad --log-format refused (got: ${out:0:200})"
    fi
done
exit $failed
