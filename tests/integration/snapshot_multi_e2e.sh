#!/usr/bin/env bash
# A snapshot of several tables end to end (issue 17, early starts): the
# initial snapshot of four source tables (a, b, c keyed and read in chunks;
# k keyless, copied in one read with --snapshot-copy keyless) while a
# writer changes all four, so that b, c and k get changes long before
# their turn, applied into an empty target with --drift stop. Capture
# opens every table's window when the snapshot starts, so none of those
# changes is drift; before that, the first change of b stopped the
# partition. Capture is killed with -9 right after the windows opened and
# again during the snapshot of b. At the end the target equals the source
# table by table (row hashes, duplicates counted for k), no partition
# stopped, no window is left open and each table had one snapshot id.
# Then the same for an ad-hoc snapshot (`sluice-capture snapshot`) of two
# tables whose target tables were emptied, with writes to the second
# while the first is read.
# Scaled down for CI (4,000 rows per chunked table at 1,000 rows/s).
set -u
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$TOP" || exit 1
# shellcheck source=../harness/harness.sh
. tests/harness/harness.sh

NAME=snapshot_multi_e2e
failed=0
pass() { echo "PASS $NAME:$*"; }
fail() { echo "FAIL $NAME:$*"; failed=1; }

if [ -z "${SL_SOURCE_PORT:-}" ] || [ -z "${SL_TARGET_PORT:-}" ]; then
    echo "SKIP $NAME: no source or target mariadbd (run under tests/run-integration.sh)"
    exit 0
fi
for p in sluice-broker sluice-capture sluice-apply; do
    [ -x "bin/$p" ] || { fail "setup: bin/$p is missing (run make)"; exit 1; }
done
if ! bin/sluice-capture --help 2>&1 | grep -q -- '--snapshot-copy'; then
    echo "SKIP $NAME: this sluice-capture has no --snapshot-copy"
    exit 0
fi
sl_h_init || { fail "setup: harness"; exit 1; }
D=$SL_HARNESS_ROOT
ROWS=4000
src_root() { mariadb --no-defaults -uroot --socket="$SL_SOURCE_SOCKET" -N -B "$@"; }
tsql() {
    mariadb --no-defaults -h 127.0.0.1 -P "$SL_TARGET_PORT" \
        -u "${SL_TARGET_USER:-sluice}" -p"$(cat "$SL_TARGET_PASSWORD_FILE")" \
        -N -B -e "$1"
}
HASH="SELECT COUNT(*), COALESCE(SUM(CRC32(CONCAT_WS('|',id,v,pad))),0) FROM"
# The target table sm_dst.$1's row count and hash once it equals want
# ($2), or when apply stopped a partition, or after 120 s: the last read.
target_hash() {
    local got=
    for _ in $(seq 1 600); do
        got=$(tsql "$HASH sm_dst.$1")
        [ "$got" = "$2" ] && break
        grep -q 'partition stopped' "$ALOG" && break
        sleep 0.2
    done
    printf '%s\n' "$got"
}
TABLES="a b c k"

setup_src="DROP DATABASE IF EXISTS sm_src; CREATE DATABASE sm_src; USE sm_src;"
setup_dst="DROP DATABASE IF EXISTS sm_dst; DROP DATABASE IF EXISTS sm_meta;
    CREATE DATABASE sm_dst; CREATE DATABASE sm_meta;"
for t in $TABLES; do
    key="PRIMARY KEY" n=$ROWS
    [ "$t" = k ] && key="" n=$((ROWS / 2))
    setup_src="$setup_src CREATE TABLE $t (id BIGINT $key, v BIGINT, pad VARCHAR(40));
        INSERT INTO $t SELECT seq, seq * 7, CONCAT('seed-', seq) FROM seq_1_to_$n;"
    setup_dst="$setup_dst CREATE TABLE sm_dst.$t (id BIGINT $key, v BIGINT, pad VARCHAR(40));"
done
src_root -e "$setup_src" || { fail "setup: source tables"; exit 1; }
tsql "$setup_dst" || { fail "setup: target tables"; exit 1; }

BPORT=$(sl_h_freeport)
BROKER=127.0.0.1:$BPORT
bin/sluice-broker --listen "$BROKER" --data "$D/broker" --fsync never \
    --kafka-listen off > "$D/broker.log" 2>&1 &
sl_h_record_pid BROKER $!
sl_h_wait_for broker 20 bash -c "exec 3<>/dev/tcp/127.0.0.1/$BPORT" ||
    { fail "setup: the broker did not start"; exit 1; }

# Batches of random changes to every table, written from the snapshot's
# start on.
seed=0
for t in $TABLES; do
    n=$ROWS seed=$((seed + 1))
    [ "$t" = k ] && n=$((ROWS / 2))
    python3 tests/integration/snapshot_writes.py "sm_src.$t" "$n" 40 6 "$seed" |
        csplit -s -z -f "$D/w$t." - '/^-- batch$/+1' '{*}'
done

CLOG=$D/capture.log
# Held to 1,000 rows/s: a takes about 4 s, and b, c and k wait their turn
# while the writer changes them.
start_capture() {
    SLUICE_SNAPSHOT_TEST_PAUSE_MS=20 bin/sluice-capture \
        --source "mysql://${SL_SOURCE_REPL_USER:-repl}@127.0.0.1:$SL_SOURCE_PORT" \
        --password-file "$SL_SOURCE_PASSWORD_FILE" --broker "$BROKER" \
        --topic sm --name sm1 --server-id 3191 --include 'sm_src\..*' \
        --snapshot initial --snapshot-copy keyless --snapshot-chunk 250 \
        --snapshot-chunk-min 250 --snapshot-chunk-max 250 \
        --snapshot-rate 1000 --checkpoint-interval 50ms \
        --heartbeat 200ms >> "$CLOG" 2>&1 &
    CAPTURE=$!
    sl_h_record_pid CAPTURE "$CAPTURE"
}
kill_capture() {
    kill -9 "$CAPTURE" 2> /dev/null && ckills=$((ckills + 1))
    wait "$CAPTURE" 2> /dev/null
}
ckills=0
start_capture
sl_h_wait_for "the windows opened" 60 grep -q 'snapshot windows opened' "$CLOG" ||
    fail "capture published no early starts: $(grep -v stats "$CLOG" | tail -n 3 | tr '\n' ' ')"

(
    for i in $(seq -w 0 39); do
        for t in $TABLES; do
            f=$D/w$t.$i
            [ -f "$f" ] && { src_root -D sm_src < "$f" || echo "writer: $f failed" >&2; }
        done
        grep -q 'snapshot of a table starts.*table=sm_src.b' "$CLOG" ||
            echo "$i" >> "$D/before_b"
        sleep 0.1
    done
) 2> "$D/writer.err" &
WRITER=$!
# kill -9 right after the windows opened (before, during or after the
# checkpoint that follows the starts), and again during b's snapshot.
kill_capture
start_capture

ALOG=$D/apply.log
bin/sluice-apply --broker "$BROKER" --topic sm --group gm --workers 1 \
    --target "mysql://${SL_TARGET_USER:-sluice}@127.0.0.1:$SL_TARGET_PORT/sm_meta" \
    --target-password-file "$SL_TARGET_PASSWORD_FILE" --map sm_src=sm_dst \
    --drift stop --group-rows 200 --poll 200ms >> "$ALOG" 2>&1 &
APPLY=$!
sl_h_record_pid APPLY "$APPLY"

sl_h_wait_for "b's turn" 60 grep -q 'snapshot of a table starts.*table=sm_src.b' "$CLOG" ||
    fail "capture never reached b: $(grep -v stats "$CLOG" | tail -n 3 | tr '\n' ' ')"
sleep 0.3
kill_capture
start_capture
wait "$WRITER"
[ -s "$D/writer.err" ] && fail "writer: $(head -n 2 "$D/writer.err" | tr '\n' ' ')"
before=$(cat "$D/before_b" 2> /dev/null | wc -l)
[ "$before" -ge 3 ] && pass "$before of 40 batches of writes to b, c and k ran before b's turn" ||
    fail "only $before batches of writes came before b's turn: nothing was tested"
# A copy is published at a commit: after the writer, transactions on a
# table capture does not publish keep commits coming.
src_root -e "CREATE DATABASE IF NOT EXISTS sm_tick;
    CREATE TABLE IF NOT EXISTS sm_tick.t (id INT AUTO_INCREMENT PRIMARY KEY)"
(
    while ! grep -q 'snapshot complete' "$CLOG"; do
        src_root -e "INSERT INTO sm_tick.t VALUES ()" || break
        sleep 0.2
    done
) &
TICKER=$!
sl_h_wait_for "snapshot complete" 120 grep -q 'snapshot complete' "$CLOG" ||
    fail "capture did not complete its snapshot: $(grep -v stats "$CLOG" | tail -n 3 | tr '\n' ' ')"
kill "$TICKER" 2> /dev/null
wait "$TICKER" 2> /dev/null
[ "$ckills" -ge 2 ] && pass "capture killed with -9 $ckills times during the snapshot" ||
    fail "capture was killed $ckills times"
for t in $TABLES; do
    want=$(src_root -e "$HASH sm_src.$t")
    got=$(target_hash "$t" "$want")
    [ "$got" = "$want" ] && pass "$t: target equals the source ($(echo "$want" | tr '\t' ' ') rows/hash)" ||
        fail "$t: target $got, source $want: $(grep -E 'stopped|drift|error' "$ALOG" | head -n 2 | tr '\n' ' ')"
done
grep -q 'partition stopped' "$ALOG" &&
    fail "apply stopped a partition: $(grep 'partition stopped' "$ALOG" | head -n 1)"
n=$(tsql "SELECT COUNT(*) FROM sm_meta.sluice_snapshots")
[ "$n" = 0 ] && pass "no snapshot window left open" ||
    fail "sluice_snapshots holds $n rows after the snapshot"
for t in $TABLES; do
    ids=$(grep 'snapshot window opened' "$ALOG" | grep "table=$t " |
        sed 's/.*snapshot=//' | sort -u | wc -l)
    [ "$ids" = 1 ] && pass "$t: one snapshot id" ||
        fail "$t: $ids snapshot ids opened windows"
done

# An ad-hoc snapshot of two tables whose target tables were emptied (a
# target re-seeded by hand): `sluice-capture snapshot` opens both windows
# at the signal's commit, so writes to c while b is read are no drift.
sl_h_kill "$APPLY"
tsql "TRUNCATE sm_dst.b; TRUNCATE sm_dst.c" || fail "truncating the target"
done_before=$(grep -c 'snapshot complete' "$CLOG")
bin/sluice-capture snapshot \
    --source "mysql://${SL_SOURCE_REPL_USER:-repl}@127.0.0.1:$SL_SOURCE_PORT" \
    --password-file "$SL_SOURCE_PASSWORD_FILE" --name sm1 sm_src.b sm_src.c \
    > "$D/signal.log" 2>&1 || fail "sluice-capture snapshot: $(tail -n 2 "$D/signal.log" | tr '\n' ' ')"
sl_h_wait_for "the ad-hoc windows" 60 grep -q 'snapshot requested.*table=sm_src.c' "$CLOG" ||
    fail "capture did not take the request: $(grep -v stats "$CLOG" | tail -n 3 | tr '\n' ' ')"
: > "$D/before_c"
c_before=$(grep -c 'snapshot of a table starts.*table=sm_src.c' "$CLOG")
for i in $(seq 20 39); do
    for t in b c; do
        src_root -D sm_src < "$D/w$t.$i" || echo "writer: $t $i failed" >&2
    done
    [ "$(grep -c 'snapshot of a table starts.*table=sm_src.c' "$CLOG")" -gt "$c_before" ] ||
        echo "$i" >> "$D/before_c"
    sleep 0.1
done 2> "$D/writer2.err"
[ -s "$D/writer2.err" ] && fail "writer: $(head -n 2 "$D/writer2.err" | tr '\n' ' ')"
before=$(wc -l < "$D/before_c")
[ "$before" -ge 3 ] && pass "ad hoc: $before of 20 batches of writes to c ran before its turn" ||
    fail "ad hoc: only $before batches of writes came before c's turn"
bin/sluice-apply --broker "$BROKER" --topic sm --group gm --workers 1 \
    --target "mysql://${SL_TARGET_USER:-sluice}@127.0.0.1:$SL_TARGET_PORT/sm_meta" \
    --target-password-file "$SL_TARGET_PASSWORD_FILE" --map sm_src=sm_dst \
    --drift stop --group-rows 200 --poll 200ms >> "$ALOG" 2>&1 &
APPLY=$!
sl_h_record_pid APPLY "$APPLY"
sl_h_wait_for "the ad-hoc snapshot" 120 bash -c \
    "[ \$(grep -c 'snapshot complete' '$CLOG') -gt $done_before ]" ||
    fail "the ad-hoc snapshot did not complete"
for t in b c; do
    want=$(src_root -e "$HASH sm_src.$t")
    got=$(target_hash "$t" "$want")
    [ "$got" = "$want" ] && pass "ad hoc: emptied $t equals the source again" ||
        fail "ad hoc: $t: target $got, source $want: $(grep -E 'stopped|drift' "$ALOG" | head -n 2 | tr '\n' ' ')"
done
grep -q 'partition stopped' "$ALOG" &&
    fail "ad hoc: apply stopped a partition: $(grep 'partition stopped' "$ALOG" | head -n 1)"
n=$(tsql "SELECT COUNT(*) FROM sm_meta.sluice_snapshots")
[ "$n" = 0 ] && pass "ad hoc: no snapshot window left open" ||
    fail "ad hoc: sluice_snapshots holds $n rows"
sl_h_kill "$CAPTURE"
sl_h_kill "$APPLY"
src_root -e "DROP DATABASE sm_src; DROP DATABASE sm_tick" > /dev/null 2>&1
tsql "DROP DATABASE sm_dst; DROP DATABASE sm_meta" > /dev/null 2>&1
exit $failed
