#!/usr/bin/env bash
# A source transaction whose end never arrives (issue 12, item 18): the row
# events of a transaction are published without its commit event. Holding
# them is right (applying part of a transaction breaks its atomicity);
# silence is not. sluice-apply, run with --open-trx-warn 1s, must log a
# warning naming the transaction, its first offset and the wait, repeat it,
# show the transaction in its stats file, and apply nothing; once the
# commit arrives, every row is applied and the warning stops.
#
# Uses the harness's target mariadbd (SL_TARGET_*; skips without it),
# starts its own broker, and publishes with the real `sluice put`.
# Prints PASS/FAIL/SKIP lines; exit status 1 when anything failed.
set -u
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$TOP" || exit 1
# shellcheck source=../harness/harness.sh
. tests/harness/harness.sh

NAME=apply_open_trx
failed=0
pass() { echo "PASS $NAME:$*"; }
fail() { echo "FAIL $NAME:$*"; failed=1; }

if [ -z "${SL_TARGET_PORT:-}" ] || [ -z "${SL_TARGET_PASSWORD_FILE:-}" ]; then
    echo "SKIP $NAME: no target mariadbd (run under tests/run-integration.sh)"
    exit 0
fi
for p in sluice-broker sluice-apply sluice; do
    [ -x "bin/$p" ] || { fail "setup: bin/$p is missing (run make)"; exit 1; }
done
TPORT=$SL_TARGET_PORT
PWF=$SL_TARGET_PASSWORD_FILE
sl_h_init || { fail "setup: harness"; exit 1; }

sql() {
    mariadb --no-defaults -h 127.0.0.1 -P "$TPORT" -u "${SL_TARGET_USER:-sluice}" \
        -p"$(cat "$PWF")" -N -B -e "$1"
}
sql "DROP DATABASE IF EXISTS ot_dst; DROP DATABASE IF EXISTS ot_meta;
     CREATE DATABASE ot_dst; CREATE DATABASE ot_meta;
     CREATE TABLE ot_dst.items (id INT PRIMARY KEY, v INT)" ||
    { fail "setup: creating the target tables"; exit 1; }

BPORT=$(sl_h_freeport)
BROKER=127.0.0.1:$BPORT
bin/sluice-broker --listen "$BROKER" --data "$SL_HARNESS_ROOT/broker" \
    --fsync never > "$SL_HARNESS_ROOT/broker.log" 2>&1 &
sl_h_record_pid BROKER $!
sl_h_wait_for broker 20 bash -c "exec 3<>/dev/tcp/127.0.0.1/$BPORT" ||
    { fail "setup: the broker did not start"; exit 1; }

PART=ot_src.items
SRC='"src":{"file":"b.1","pos":7,"end_pos":7,"server_id":1,"ts":1}'
TRX='"trx":{"seq":7,"id":"0-1-4242"}'
ROWS=2000
# A committed transaction first (offsets 0..2), so the open one starts at 3.
{
    echo "{\"kind\":\"begin\",$SRC,\"trx\":{\"seq\":6,\"id\":\"0-1-4241\"}}"
    echo "{\"kind\":\"row\",\"op\":\"insert\",\"before\":null,\"after\":{\"id\":0,\"v\":0},\"db\":\"ot_src\",\"table\":\"items\",\"row\":0,\"pk\":[\"id\"],$SRC,\"trx\":{\"seq\":6,\"id\":\"0-1-4241\"}}"
    echo "{\"kind\":\"commit\",\"rows\":1,$SRC,\"trx\":{\"seq\":6,\"id\":\"0-1-4241\"}}"
    echo "{\"kind\":\"begin\",$SRC,$TRX}"
    for ((i = 1; i <= ROWS; i++)); do
        echo "{\"kind\":\"row\",\"op\":\"insert\",\"before\":null,\"after\":{\"id\":$i,\"v\":$i},\"db\":\"ot_src\",\"table\":\"items\",\"row\":$((i - 1)),\"pk\":[\"id\"],$SRC,$TRX}"
    done
} | bin/sluice --broker "$BROKER" put shop "$PART" > /dev/null ||
    { fail "setup: sluice put failed"; exit 1; }

LOG=$SL_HARNESS_ROOT/apply.log
STATS=$SL_HARNESS_ROOT/apply.stats
bin/sluice-apply --broker "$BROKER" --topic shop --group g --workers 1 \
    --target "mysql://${SL_TARGET_USER:-sluice}@127.0.0.1:$TPORT/ot_meta" \
    --target-password-file "$PWF" --map ot_src=ot_dst --poll 200ms \
    --open-trx-warn 1s --stats-interval 500ms --stats-file "$STATS" \
    > "$LOG" 2>&1 &
APPLY=$!
sl_h_record_pid APPLY "$APPLY"

# The warning, twice (it repeats), naming the transaction and its first
# offset (3: after the committed transaction's three events).
want='msg="source transaction not ended; its changes are held" part=ot_src.items trx=0-1-4242 first_offset=3 rows=2000'
n=0
for _ in $(seq 1 300); do
    n=$(grep -c -F "$want" "$LOG")
    [ "$n" -ge 2 ] && break
    kill -0 "$APPLY" 2>/dev/null || break
    sleep 0.1
done
if [ "$n" -ge 2 ]; then
    pass "warning logged and repeated ($n times): $(grep -F "$want" "$LOG" | tail -n 1 | sed 's/^ts=[^ ]* //')"
else
    fail "no repeated warning naming trx 0-1-4242 and first_offset=3: $(grep -v 'partition stats' "$LOG" | tail -n 4 | tr '\n' ' ')"
fi
grep -F "$want" "$LOG" | tail -n 1 | grep -q 'waited_s=[1-9]' &&
    pass "the warning says how long it waited" ||
    fail "no waited_s >= 1 in: $(grep -F "$want" "$LOG" | tail -n 1)"
# The stats file names it too (it is rewritten every 500 ms).
ok=0
for _ in $(seq 1 100); do
    if grep -q "^STAT part:$PART:open_trx 0-1-4242$" "$STATS" 2>/dev/null &&
        grep -q "^STAT part:$PART:open_trx_first 3$" "$STATS" &&
        grep -q "^STAT part:$PART:open_trx_wait_s [1-9]" "$STATS"; then
        ok=1
        break
    fi
    sleep 0.1
done
[ $ok = 1 ] && pass "stats file shows the open transaction" ||
    fail "stats file lacks the open transaction: $(grep open_trx "$STATS" 2>/dev/null | tr '\n' ' ')"
rows=$(sql "SELECT COUNT(*) FROM ot_dst.items WHERE id >= 1")
[ "$rows" = 0 ] && pass "nothing of the open transaction applied" ||
    fail "target holds $rows rows of the open transaction (expected 0)"
# The committed transaction before it shared its target transaction (apply
# groups source transactions); once the open one is reported, it is
# committed on its own: its row and the position just before the open
# transaction (offset 3).
ok=0
for _ in $(seq 1 100); do
    if [ "$(sql "SELECT COUNT(*) FROM ot_dst.items WHERE id = 0")" = 1 ] &&
        [ "$(sql "SELECT next_offset FROM ot_meta.sluice_offsets WHERE part='$PART'")" = 3 ]; then
        ok=1
        break
    fi
    sleep 0.1
done
[ $ok = 1 ] && pass "the transaction before the open one is applied" ||
    fail "the committed transaction waits with the open one: $(sql "SELECT COUNT(*) FROM ot_dst.items") rows, sluice_offsets $(sql "SELECT next_offset FROM ot_meta.sluice_offsets WHERE part='$PART'" 2>&1)"
rows=$(sql "SELECT COUNT(*) FROM ot_dst.items WHERE id >= 1")
[ "$rows" = 0 ] && pass "still nothing of the open transaction applied" ||
    fail "target holds $rows rows of the open transaction (expected 0)"

# Its commit arrives: all rows applied, the warning stops.
echo "{\"kind\":\"commit\",\"rows\":$ROWS,$SRC,$TRX}" |
    bin/sluice --broker "$BROKER" put shop "$PART" > /dev/null
rows=
for _ in $(seq 1 300); do
    rows=$(sql "SELECT COUNT(*) FROM ot_dst.items")
    [ "$rows" = $((ROWS + 1)) ] && break
    sleep 0.1
done
[ "$rows" = $((ROWS + 1)) ] && pass "applied once the commit arrived" ||
    fail "target holds $rows rows after the commit (expected $((ROWS + 1)))"
ok=0
for _ in $(seq 1 100); do
    if grep -q "^STAT part:$PART:open_trx_wait_s 0$" "$STATS" 2>/dev/null &&
        ! grep -q "^STAT part:$PART:open_trx " "$STATS"; then
        ok=1
        break
    fi
    sleep 0.1
done
[ $ok = 1 ] && pass "stats show no open transaction after the commit" ||
    fail "stats still show an open transaction: $(grep open_trx "$STATS" | tr '\n' ' ')"
before=$(grep -c -F 'source transaction not ended' "$LOG")
sleep 2.5
after=$(grep -c -F 'source transaction not ended' "$LOG")
[ "$before" = "$after" ] && pass "the warning stopped after the commit" ||
    fail "warnings went on after the commit ($before, then $after)"
sql "DROP DATABASE ot_dst; DROP DATABASE ot_meta" > /dev/null 2>&1
exit $failed
