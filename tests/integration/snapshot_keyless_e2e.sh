#!/usr/bin/env bash
# A table without a primary key seeded end to end (issue 17): capture's
# one-shot consistent copy (--snapshot-copy keyless: MariaDB's
# Binlog_snapshot_file/position) joined with the stream at that position,
# while a writer inserts, updates and deletes rows of it (duplicates
# included), through a real sluice-broker into a target table that holds
# stale rows beforehand (the copy's snapshot_start says "reset": apply
# empties the table first), applied by sluice-apply killed with -9 once on
# the way. At the end the target equals the source by row hash (a sum, so
# duplicate rows count). Scaled down for CI (3,000 rows).
set -u
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$TOP" || exit 1
# shellcheck source=../harness/harness.sh
. tests/harness/harness.sh

NAME=snapshot_keyless_e2e
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
sl_h_init || { fail "setup: harness"; exit 1; }
D=$SL_HARNESS_ROOT
src_root() { mariadb --no-defaults -uroot --socket="$SL_SOURCE_SOCKET" -N -B "$@"; }
tsql() {
    mariadb --no-defaults -h 127.0.0.1 -P "$SL_TARGET_PORT" \
        -u "${SL_TARGET_USER:-sluice}" -p"$(cat "$SL_TARGET_PASSWORD_FILE")" \
        -N -B -e "$1"
}
HASH="SELECT COUNT(*), COALESCE(SUM(CRC32(CONCAT_WS('|',a,b))),0) FROM"

src_root -e "DROP DATABASE IF EXISTS sk_src; CREATE DATABASE sk_src;
    USE sk_src; CREATE TABLE k (a INT, b VARCHAR(20));
    INSERT INTO k SELECT seq % 500, 'seed' FROM seq_1_to_3000" ||
    { fail "setup: source table"; exit 1; }
tsql "DROP DATABASE IF EXISTS sk_dst; DROP DATABASE IF EXISTS sk_meta;
    CREATE DATABASE sk_dst; CREATE DATABASE sk_meta;
    CREATE TABLE sk_dst.k (a INT, b VARCHAR(20));
    INSERT INTO sk_dst.k VALUES (1, 'stale'), (1, 'seed'), (7, 'stale')" ||
    { fail "setup: target table"; exit 1; }

BPORT=$(sl_h_freeport)
BROKER=127.0.0.1:$BPORT
bin/sluice-broker --listen "$BROKER" --data "$D/broker" --fsync never \
    > "$D/broker.log" 2>&1 &
sl_h_record_pid BROKER $!
sl_h_wait_for broker 20 bash -c "exec 3<>/dev/tcp/127.0.0.1/$BPORT" ||
    { fail "setup: the broker did not start"; exit 1; }

# The writer starts before capture, so that the copy is decided, opened
# and joined while rows change.
writer() {
    for b in $(seq 1 40); do
        {
            for i in $(seq 1 15); do
                r=$(( (b * 37 + i * 11) % 520 ))
                case $((i % 3)) in
                0) echo "INSERT INTO sk_src.k VALUES ($r, 'ins');" ;;
                1) echo "UPDATE sk_src.k SET b = 'upd$b' WHERE a = $r LIMIT 1;" ;;
                2) echo "DELETE FROM sk_src.k WHERE a = $r LIMIT 1;" ;;
                esac
            done
        } | src_root || echo "writer: batch $b failed" >&2
        sleep 0.1
    done
}
writer 2> "$D/writer.err" &
WRITER=$!
CLOG=$D/capture.log
bin/sluice-capture --source "mysql://${SL_SOURCE_REPL_USER:-repl}@127.0.0.1:$SL_SOURCE_PORT" \
    --password-file "$SL_SOURCE_PASSWORD_FILE" --broker "$BROKER" \
    --topic sk --name sk1 --server-id 3182 --include 'sk_src\.k' \
    --snapshot initial --snapshot-copy keyless \
    --checkpoint-interval 50ms --heartbeat 200ms > "$CLOG" 2>&1 &
sl_h_record_pid CAPTURE $!

ALOG=$D/apply.log
start_apply() {
    bin/sluice-apply --broker "$BROKER" --topic sk --group gk --workers 1 \
        --target "mysql://${SL_TARGET_USER:-sluice}@127.0.0.1:$SL_TARGET_PORT/sk_meta" \
        --target-password-file "$SL_TARGET_PASSWORD_FILE" --map sk_src=sk_dst \
        --group-rows 100 --poll 200ms >> "$ALOG" 2>&1 &
    APPLY=$!
    sl_h_record_pid APPLY "$APPLY"
}
start_apply
sl_h_wait_for "the copy" 60 grep -q 'snapshot complete' "$CLOG" ||
    fail "capture did not copy the table: $(grep -v stats "$CLOG" | tail -n 3 | tr '\n' ' ')"
kill -9 "$APPLY" 2> /dev/null
wait "$APPLY" 2> /dev/null
start_apply
wait "$WRITER"
[ -s "$D/writer.err" ] && fail "writer: $(head -n 2 "$D/writer.err" | tr '\n' ' ')"
grep -q 'snapshot copy: read view open' "$CLOG" &&
    pass "capture copied the keyless table in one read view" ||
    fail "no read view in the capture log"
want=$(src_root -e "$HASH sk_src.k")
got=
for _ in $(seq 1 600); do
    got=$(tsql "$HASH sk_dst.k")
    [ "$got" = "$want" ] && break
    grep -q 'partition stopped' "$ALOG" && break
    sleep 0.2
done
[ "$got" = "$want" ] && pass "target equals the source ($(echo "$want" | tr '\t' ' ') rows/hash), its stale rows gone" ||
    fail "target $got, source $want: $(grep -E 'stopped|error' "$ALOG" | head -n 2 | tr '\n' ' ')"
sl_h_kill "$APPLY"
src_root -e "DROP DATABASE sk_src" > /dev/null 2>&1
tsql "DROP DATABASE sk_dst; DROP DATABASE sk_meta" > /dev/null 2>&1
exit $failed
