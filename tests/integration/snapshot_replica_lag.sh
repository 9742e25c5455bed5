#!/usr/bin/env bash
# The snapshot's replica-lag pause (--snapshot-max-replica-lag, issue 17):
# capture reads from a replica of the harness source (a third mariadbd,
# replicating with MASTER_DELAY so that Seconds_Behind_Master grows while
# the source writes). While the replica lags more than the limit, the
# snapshot waits before each chunk ("snapshot paused: the source is busy",
# with the lag seen) and reads nothing; once the delay is lifted and the
# replica catches up, it resumes and completes, and every row of the table
# was read.
set -u
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$TOP" || exit 1
# shellcheck source=../harness/harness.sh
. tests/harness/harness.sh

NAME=snapshot_replica_lag
failed=0
pass() { echo "PASS $NAME:$*"; }
fail() { echo "FAIL $NAME:$*"; failed=1; }

if [ -z "${SL_SOURCE_PORT:-}" ]; then
    echo "SKIP $NAME: no source mariadbd (run under tests/run-integration.sh)"
    exit 0
fi
for p in sluice-broker sluice-capture; do
    [ -x "bin/$p" ] || { fail "setup: bin/$p is missing (run make)"; exit 1; }
done
if ! bin/sluice-capture --help 2>&1 | grep -q -- '--snapshot-max-replica-lag'; then
    echo "SKIP $NAME: this sluice-capture has no --snapshot-max-replica-lag"
    exit 0
fi
sl_h_init || { fail "setup: harness"; exit 1; }
D=$SL_HARNESS_ROOT
src_root() { mariadb --no-defaults -uroot --socket="$SL_SOURCE_SOCKET" -N -B "$@"; }

# The replica: its own GTID domain for what it writes itself, so that the
# source's transactions (domain 0) replicate in order under strict mode.
sl_h_start_mariadb REPLICA 3197 --gtid-domain-id=7 ||
    { fail "setup: the replica mariadbd did not start"; exit 1; }
rep_root() { sl_h_mysql_root REPLICA -N -B "$@"; }
slave_field() {
    sl_h_mysql_root REPLICA -E -e "SHOW SLAVE STATUS" | sed -n "s/^ *$1: //p"
}
pos=$(src_root -e "SELECT @@gtid_binlog_pos")
rep_root -e "RESET MASTER; SET GLOBAL gtid_slave_pos = '$pos';
    CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = $SL_SOURCE_PORT,
        MASTER_USER = 'repl', MASTER_PASSWORD = '$(cat "$SL_SOURCE_PASSWORD_FILE")',
        MASTER_USE_GTID = slave_pos;
    START SLAVE" || { fail "setup: replication"; exit 1; }
src_root -e "DROP DATABASE IF EXISTS rl; CREATE DATABASE rl; USE rl;
    CREATE TABLE t (id BIGINT PRIMARY KEY, v BIGINT);
    CREATE TABLE w (id BIGINT AUTO_INCREMENT PRIMARY KEY, at DATETIME(3));
    INSERT INTO t SELECT seq, seq * 3 FROM seq_1_to_3000" ||
    { fail "setup: source tables"; exit 1; }
sl_h_wait_for "the replica's copy" 60 bash -c \
    "[ \"\$(mariadb --no-defaults -uroot --socket='$SL_REPLICA_SOCKET' -N -B \
        -e 'SELECT COUNT(*) FROM rl.t' 2> /dev/null)\" = 3000 ]" ||
    { fail "setup: the replica did not replicate: $(slave_field Last_SQL_Error)$(slave_field Last_IO_Error)"; exit 1; }

# Lag: every event waits 4 s on the replica while the source writes on.
rep_root -e "STOP SLAVE; CHANGE MASTER TO MASTER_DELAY = 4; START SLAVE" ||
    { fail "setup: MASTER_DELAY"; exit 1; }
(
    while [ ! -f "$D/stop-writer" ]; do
        src_root -e "INSERT INTO rl.w (at) VALUES (NOW(3))" || break
        sleep 0.2
    done
) &
WRITER=$!
lag_over() { l=$(slave_field Seconds_Behind_Master); [ -n "$l" ] && [ "$l" != NULL ] && [ "$l" -ge 2 ]; }
sl_h_wait_for "the replica's lag" 60 lag_over ||
    { fail "setup: the replica never lagged (Seconds_Behind_Master $(slave_field Seconds_Behind_Master))"; exit 1; }

BPORT=$(sl_h_freeport)
BROKER=127.0.0.1:$BPORT
bin/sluice-broker --listen "$BROKER" --data "$D/broker" --fsync never \
    --kafka-listen off > "$D/broker.log" 2>&1 &
sl_h_record_pid BROKER $!
sl_h_wait_for broker 20 bash -c "exec 3<>/dev/tcp/127.0.0.1/$BPORT" ||
    { fail "setup: the broker did not start"; exit 1; }
CLOG=$D/capture.log
start_capture() {
    bin/sluice-capture --source "mysql://repl@127.0.0.1:$SL_REPLICA_PORT" \
        --password-file "$SL_REPLICA_PASSWORD_FILE" --broker "$BROKER" \
        --topic rl --name rl1 --server-id 3198 --include 'rl\.t' \
        --snapshot initial --snapshot-chunk 500 --snapshot-max-replica-lag 1s \
        --heartbeat 200ms >> "$CLOG" 2>&1 &
    CAPTURE=$!
    sl_h_record_pid CAPTURE "$CAPTURE"
}
# Without the privilege to read the lag, the limit is not skipped: capture
# stops saying what to grant.
start_capture
sl_h_wait_for "capture's stop" 60 bash -c "! kill -0 $CAPTURE" ||
    fail "capture did not stop although it cannot read the replica's lag"
grep -q 'SLAVE MONITOR' "$CLOG" &&
    pass "without SLAVE MONITOR capture stops: $(grep -o 'snapshot: reading[^(]*' "$CLOG" | head -n 1)" ||
    fail "capture's stop does not name the privilege: $(grep -v stats "$CLOG" | tail -n 2 | tr '\n' ' ')"
grep -q '"op":"read"\|snapshot of a table done' "$CLOG" &&
    fail "the snapshot read rows it had no lag for"
rep_root -e "GRANT SLAVE MONITOR ON *.* TO 'repl'@'127.0.0.1'" ||
    fail "GRANT SLAVE MONITOR"
start_capture
sl_h_wait_for "the pause" 60 grep -q 'snapshot paused: the source is busy' "$CLOG" ||
    fail "capture did not pause: $(grep -v stats "$CLOG" | tail -n 3 | tr '\n' ' ')"
seen=$(grep -m1 'snapshot paused' "$CLOG" | sed -n 's/.*replica_lag_s=\([0-9-]*\).*/\1/p')
[ -n "$seen" ] && [ "$seen" -ge 2 ] && pass "the snapshot paused while the replica lagged ${seen}s (limit 1s)" ||
    fail "the pause saw a lag of '$seen'"
# Still lagging: nothing is read.
sleep 2
grep -q 'snapshot of a table done\|snapshot complete' "$CLOG" &&
    fail "the snapshot went on while the replica lagged"
grep -q 'snapshot resumed' "$CLOG" &&
    fail "the snapshot resumed while the replica lagged"
# The delay lifted: the replica catches up, the snapshot resumes and ends.
touch "$D/stop-writer"
wait "$WRITER"
rep_root -e "STOP SLAVE; CHANGE MASTER TO MASTER_DELAY = 0; START SLAVE" ||
    fail "MASTER_DELAY = 0"
sl_h_wait_for "the resume" 60 grep -q 'snapshot resumed' "$CLOG" ||
    fail "the snapshot did not resume: $(grep -v stats "$CLOG" | tail -n 3 | tr '\n' ' ')"
sl_h_wait_for "the snapshot's end" 60 grep -q 'snapshot complete' "$CLOG" ||
    fail "the snapshot did not complete: $(grep -v stats "$CLOG" | tail -n 3 | tr '\n' ' ')"
rows=$(grep -m1 'snapshot of a table done' "$CLOG" | sed -n 's/.* rows=\([0-9]*\).*/\1/p')
[ "$rows" = 3000 ] && pass "after the lag the snapshot resumed and read all 3000 rows" ||
    fail "the snapshot read '$rows' rows, not 3000"
sl_h_kill "$CAPTURE"
rep_root -e "STOP SLAVE" > /dev/null 2>&1
src_root -e "DROP DATABASE rl" > /dev/null 2>&1
exit $failed
