#!/usr/bin/env bash
# Snapshot end to end into PostgreSQL (issue 17): a source table with
# existing rows is seeded into an empty PostgreSQL table by sluice-capture's
# snapshot while a writer updates, deletes, inserts and moves keys in it,
# through a real sluice-broker, applied by sluice-apply with --drift stop
# (so a row the tolerant window failed to cover stops the partition) and
# killed with -9 twice on the way. At the end the target equals the source
# row for row, no partition stopped and no window is left open in the
# target's sluice_snapshots. The MySQL/MariaDB twin is snapshot_e2e.sh.
# Scaled down for CI (8,000 rows). Skips without PostgreSQL 15.
set -u
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$TOP" || exit 1
# shellcheck source=../harness/harness.sh
. tests/harness/harness.sh

NAME=snapshot_pg
failed=0
pass() { echo "PASS $NAME:$*"; }
fail() { echo "FAIL $NAME:$*"; failed=1; }

if [ -z "${SL_SOURCE_PORT:-}" ]; then
    echo "SKIP $NAME: no source mariadbd (run under tests/run-integration.sh)"
    exit 0
fi
if [ ! -x /usr/lib/postgresql/15/bin/postgres ] || ! command -v psql > /dev/null; then
    echo "SKIP $NAME: PostgreSQL 15 is not installed (Debian package postgresql)"
    exit 0
fi
for p in sluice-broker sluice-capture sluice-apply; do
    [ -x "bin/$p" ] || { fail "setup: bin/$p is missing (run make)"; exit 1; }
done
sl_h_init || { fail "setup: harness"; exit 1; }
D=$SL_HARNESS_ROOT
ROWS=8000
PGDIR=$(mktemp -d /tmp/sluice-pg.XXXXXX)
read -r PGPORT PGPID < <(bash tests/harness/pg.sh start "$PGDIR") ||
    { fail "setup: PostgreSQL did not start"; exit 1; }
stop_pg() { bash tests/harness/pg.sh stop "$PGDIR" > /dev/null 2>&1; rm -rf "$PGDIR"; }
trap 'stop_pg; sl_h_cleanup' EXIT
src_root() { mariadb --no-defaults -uroot --socket="$SL_SOURCE_SOCKET" -N -B "$@"; }
psq() { PGPASSWORD=$(cat "$PGDIR/password") psql -X -q -At -h 127.0.0.1 -p "$PGPORT" -U sluice sluice -v ON_ERROR_STOP=1 -c "$1"; }
ROWSQL="SELECT id, v, pad FROM"

src_root -e "DROP DATABASE IF EXISTS sp_src; CREATE DATABASE sp_src;
    CREATE TABLE sp_src.t (id BIGINT PRIMARY KEY, v BIGINT, pad VARCHAR(40));
    USE sp_src;
    INSERT INTO sp_src.t SELECT seq, seq * 7, CONCAT('seed-', seq)
        FROM seq_1_to_$ROWS" || { fail "setup: source table"; exit 1; }
psq "CREATE SCHEMA sp_dst; CREATE TABLE sp_dst.t (id bigint PRIMARY KEY, v bigint, pad varchar(40))" ||
    { fail "setup: target table"; exit 1; }

BPORT=$(sl_h_freeport)
BROKER=127.0.0.1:$BPORT
bin/sluice-broker --listen "$BROKER" --data "$D/broker" --fsync never \
    --kafka-listen off > "$D/broker.log" 2>&1 &
sl_h_record_pid BROKER $!
sl_h_wait_for broker 20 bash -c "exec 3<>/dev/tcp/127.0.0.1/$BPORT" ||
    { fail "setup: the broker did not start"; exit 1; }

CLOG=$D/capture.log
# Held to 1,000 rows/s (about 8 s) with each chunk's window kept open
# 50 ms after its read (capture's test hook), so that writes meet it.
SLUICE_SNAPSHOT_TEST_PAUSE_MS=50 bin/sluice-capture --source "mysql://${SL_SOURCE_REPL_USER:-repl}@127.0.0.1:$SL_SOURCE_PORT" \
    --password-file "$SL_SOURCE_PASSWORD_FILE" --broker "$BROKER" \
    --topic sp --name sp1 --server-id 3191 --include 'sp_src\.t' \
    --snapshot initial --snapshot-chunk 200 --snapshot-rate 1000 \
    --checkpoint-interval 50ms --heartbeat 200ms > "$CLOG" 2>&1 &
sl_h_record_pid CAPTURE $!

python3 tests/integration/snapshot_writes.py sp_src.t "$ROWS" 40 20 7 > "$D/writes.sql"
sl_h_wait_for "the snapshot's start" 60 grep -q 'snapshot of a table starts' "$CLOG" ||
    fail "capture did not start its snapshot: $(tail -n 3 "$CLOG" | tr '\n' ' ')"
(
    csplit -s -z -f "$D/wb." "$D/writes.sql" '/^-- batch$/+1' '{*}'
    for f in "$D"/wb.*; do
        src_root < "$f" || echo "writer: batch $f failed" >&2
        grep -q 'snapshot complete' "$CLOG" || echo "$f" >> "$D/during"
        sleep 0.1
    done
) 2> "$D/writer.err" &
WRITER=$!

ALOG=$D/apply.log
start_apply() {
    bin/sluice-apply --broker "$BROKER" --topic sp --group gp --workers 1 \
        --target "postgresql://sluice@127.0.0.1:$PGPORT/sluice" \
        --target-password-file "$PGDIR/password" --map sp_src=sp_dst \
        --drift stop --poll 200ms >> "$ALOG" 2>&1 &
    APPLY=$!
    sl_h_record_pid APPLY "$APPLY"
}
off() { psq "SELECT COALESCE(MAX(next_offset),0) FROM sluice_offsets WHERE topic = 'sp'" 2> /dev/null; }
kills=0 prev=0
for round in 1 2; do
    start_apply
    for _ in $(seq 1 400); do
        cur=$(off)
        [ -n "$cur" ] && [ "$cur" -gt "$prev" ] && break
        sleep 0.05
    done
    kill -9 "$APPLY" 2> /dev/null && kills=$((kills + 1))
    wait "$APPLY" 2> /dev/null
    prev=$(off)
done
start_apply
wait "$WRITER"
during=$(cat "$D/during" 2> /dev/null | wc -l)
[ "$during" -ge 3 ] && pass "$during of 40 batches of writes ran while the snapshot read the table" ||
    fail "only $during batches of writes met the snapshot: nothing was tested at the seam"
[ -s "$D/writer.err" ] && fail "writer: $(head -n 2 "$D/writer.err" | tr '\n' ' ')"
sl_h_wait_for "snapshot complete" 120 grep -q 'snapshot complete' "$CLOG" ||
    fail "capture did not complete its snapshot: $(grep -v stats "$CLOG" | tail -n 3 | tr '\n' ' ')"
src_root -e "$ROWSQL sp_src.t ORDER BY id" > "$D/want"
for _ in $(seq 1 600); do
    psq "$ROWSQL sp_dst.t ORDER BY id" 2> /dev/null | tr '|' '\t' > "$D/got"
    cmp -s "$D/want" "$D/got" && break
    grep -q 'partition stopped' "$ALOG" && break
    sleep 0.2
done
if cmp -s "$D/want" "$D/got"; then
    pass "PostgreSQL equals the source ($(wc -l < "$D/want") rows) after the snapshot under writes and $kills apply kills"
else
    fail "target differs from the source ($(wc -l < "$D/got") against $(wc -l < "$D/want") rows; first: $(diff "$D/want" "$D/got" | sed -n 2p)): $(grep -E 'stopped|error' "$ALOG" | head -n 2 | tr '\n' ' ')"
fi
grep -q 'partition stopped' "$ALOG" &&
    fail "apply stopped a partition: $(grep 'partition stopped' "$ALOG" | head -n 1)"
n=$(psq "SELECT COUNT(*) FROM sluice_snapshots")
[ "$n" = 0 ] && pass "no snapshot window left open in sluice_snapshots" ||
    fail "sluice_snapshots holds $n rows after snapshot_done"
opened=$(grep -c 'snapshot window opened' "$ALOG")
[ "$opened" -ge 1 ] && pass "apply opened the snapshot window ($opened opening lines)" ||
    fail "apply never opened a snapshot window"
sl_h_kill "$APPLY"
src_root -e "DROP DATABASE sp_src" > /dev/null 2>&1
exit $failed
