#!/usr/bin/env bash
# A target that runs out of disk space (issue 12, item 17): its errors
# (InnoDB's 1114 "table is full", 3/1030 with errno 28, ...) are transient.
# sluice-apply, run with --dead-letter, must keep retrying the transaction
# with backoff and say so in its log, must never move an event to the
# dead-letter topic (the target would silently diverge), and must apply
# every row exactly once after space is freed.
#
# The target is a dedicated mariadbd, started with the harness helpers,
# whose datadir is a small tmpfs (mounting needs root; the test skips
# without it). The disk is filled with a filler file after a first
# transaction has been applied; removing the file frees the space.
#
# Prints PASS/FAIL/SKIP lines; exit status 1 when anything failed.
set -u
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$TOP" || exit 1
# shellcheck source=../harness/harness.sh
. tests/harness/harness.sh

NAME=apply_target_full
failed=0
pass() { echo "PASS $NAME:$*"; }
fail() { echo "FAIL $NAME:$*"; failed=1; }

if [ "$(id -u)" != 0 ]; then
    echo "SKIP $NAME: mounting a tmpfs needs root"
    exit 0
fi
if ! command -v mariadbd > /dev/null; then
    echo "SKIP $NAME: no mariadbd"
    exit 0
fi
for p in sluice-broker sluice-apply sluice; do
    [ -x "bin/$p" ] || { fail "setup: bin/$p is missing (run make)"; exit 1; }
done

sl_h_init || { fail "setup: harness"; exit 1; }
MNT=
# Stop the processes before unmounting, and unmount before the harness
# removes its directory (rm cannot remove a mount point).
trap 'sl_h_stop_all; [ -n "$MNT" ] && umount "$MNT" 2>/dev/null; sl_h_cleanup' EXIT

# The target: binary logging off (its own disk-full handling would make
# mariadbd wait instead of failing the statement) and a small redo log so
# that the datadir fits a small tmpfs.
if ! sl_h_start_mariadb FULL 7 --skip-log-bin --innodb-log-file-size=8M; then
    fail "setup: the target mariadbd did not start"
    exit 1
fi
DIR=$SL_HARNESS_ROOT/FULL
# Move its datadir onto a tmpfs: stop, copy, restart on the same port.
sl_h_stop FULL
used_kb=$(du -sk "$DIR/data" | cut -f1)
size_kb=$((used_kb + 48 * 1024))
mv "$DIR/data" "$DIR/data.disk"
mkdir "$DIR/data"
if ! mount -t tmpfs -o "size=${size_kb}k,mode=0700" tmpfs "$DIR/data"; then
    echo "SKIP $NAME: cannot mount a tmpfs here"
    exit 0
fi
MNT=$DIR/data
cp -a "$DIR/data.disk/." "$DIR/data/"
rm -rf "$DIR/data.disk"
if ! sl_h_start_mariadb FULL 7; then
    fail "setup: the target mariadbd did not restart on the tmpfs"
    exit 1
fi
TPORT=$(cat "$DIR/port")
sql() { sl_h_mysql_root FULL -N -B -e "$1"; }
sql "CREATE DATABASE fs_dst; CREATE DATABASE fs_meta;
     CREATE TABLE fs_dst.items (id INT PRIMARY KEY, pad VARCHAR(3000))" ||
    { fail "setup: creating the target tables"; exit 1; }

# The broker.
BPORT=$(sl_h_freeport)
BROKER=127.0.0.1:$BPORT
bin/sluice-broker --listen "$BROKER" --data "$SL_HARNESS_ROOT/broker" \
    --fsync never > "$SL_HARNESS_ROOT/broker.log" 2>&1 &
sl_h_record_pid BROKER $!
sl_h_wait_for broker 20 bash -c "exec 3<>/dev/tcp/127.0.0.1/$BPORT" ||
    { fail "setup: the broker did not start"; exit 1; }

PART=fs_src.items
PAD=$(head -c 2500 /dev/zero | tr '\0' x)
# publish SEQ FIRST_ID N: one source transaction of N inserts.
publish() {
    local seq=$1 first=$2 n=$3 i src trx
    src="\"src\":{\"file\":\"b.1\",\"pos\":$seq,\"end_pos\":$seq,\"server_id\":1,\"ts\":1}"
    trx="\"trx\":{\"seq\":$seq,\"id\":\"0-1-$seq\"}"
    {
        echo "{\"kind\":\"begin\",$src,$trx}"
        for ((i = first; i < first + n; i++)); do
            echo "{\"kind\":\"row\",\"op\":\"insert\",\"before\":null,\"after\":{\"id\":$i,\"pad\":\"$PAD\"},\"db\":\"fs_src\",\"table\":\"items\",\"row\":$((i - first)),\"pk\":[\"id\"],$src,$trx}"
        done
        echo "{\"kind\":\"commit\",\"rows\":$n,$src,$trx}"
    } | bin/sluice --broker "$BROKER" put shop "$PART" > /dev/null
}
# latest: the partition's next offset in the broker.
latest() {
    bin/sluice --broker "$BROKER" offsets shop "$PART" 2>/dev/null |
        sed -n 's/.*latest[=: ]*\([0-9][0-9]*\).*/\1/p' | head -n 1
}
applied() { sql "SELECT next_offset FROM fs_meta.sluice_offsets WHERE part='$PART'" 2>/dev/null; }
# wait_applied N SECONDS: until sluice_offsets says N.
wait_applied() {
    local tries=$(($2 * 10))
    while [ $tries -gt 0 ]; do
        [ "$(applied)" = "$1" ] && return 0
        sleep 0.1
        tries=$((tries - 1))
    done
    return 1
}
# dead_letters: how many messages the dead-letter topic holds (0 when it
# does not exist).
dead_letters() {
    bin/sluice --broker "$BROKER" partitions dlq 2>/dev/null |
        awk '$1 == "dlq" { n += $4 - $3 } END { print n + 0 }'
}

# The first transaction is large enough (2.5 MB) for the table's tablespace
# to span several extents: InnoDB then keeps free extents in reserve for
# rolling back the statement that fails. (Filled while the table is under
# one extent, InnoDB 10.11 cannot roll back the failed insert and aborts
# with "Error (Out of disk space) in rollback".)
publish 1 1 1000
first_end=$(latest)
[ -n "$first_end" ] || { fail "setup: cannot read the partition's offsets"; exit 1; }

PWF=$DIR/password
APPLY_LOG=$SL_HARNESS_ROOT/apply.log
bin/sluice-apply --broker "$BROKER" --topic shop --group g --workers 1 \
    --target "mysql://sluice@127.0.0.1:$TPORT/fs_meta" \
    --target-password-file "$PWF" --map fs_src=fs_dst --drift stop \
    --dead-letter dlq --poll 200ms --stats-interval 1s \
    --stats-file "$SL_HARNESS_ROOT/apply.stats" > "$APPLY_LOG" 2>&1 &
APPLY=$!
sl_h_record_pid APPLY "$APPLY"

if wait_applied "$first_end" 60; then
    pass "first transaction applied before the disk fills"
else
    fail "first transaction not applied (sluice_offsets: $(applied)); log: $(tail -n 5 "$APPLY_LOG" | tr '\n' ' ')"
    exit 1
fi

# Fill the target's disk, then publish 3 x 800 rows of 2.5 KB (about 6 MB).
dd if=/dev/zero of="$DIR/data/filler" bs=64k > /dev/null 2>&1
avail=$(df -k --output=avail "$DIR/data" | tail -n 1 | tr -d ' ')
[ "$avail" -lt 64 ] || fail "setup: the tmpfs is not full ($avail KiB free)"
publish 2 1001 800
publish 3 1801 800
publish 4 2601 800
end=$(latest)

# The target fails with an out-of-space error; apply retries (the same
# error logged at least three times), dead-letters nothing and keeps
# running.
retries=0
for _ in $(seq 1 1200); do
    retries=$(grep -c 'target transaction redone.*\(error 1114\|error 1021\|errno: 28\|Errcode: 28\|Got error 28\|is full\)' "$APPLY_LOG")
    [ "$retries" -ge 3 ] && break
    kill -0 "$APPLY" 2>/dev/null || break
    sleep 0.1
done
if [ "$retries" -ge 3 ]; then
    pass "out-of-space error retried ($retries times so far) and logged"
else
    fail "no repeated out-of-space retry in the log: $(grep -v 'partition stats' "$APPLY_LOG" | tail -n 5 | tr '\n' ' ')"
fi
if grep -q 'dead-letter topic\|partition stopped' "$APPLY_LOG"; then
    fail "an event was dead-lettered or the partition stopped: $(grep 'dead-letter topic\|partition stopped' "$APPLY_LOG" | head -n 2 | tr '\n' ' ')"
else
    pass "no event dead-lettered, no partition stopped while full"
fi
n=$(dead_letters)
[ "$n" = 0 ] && pass "dead-letter topic empty while full" ||
    fail "dead-letter topic holds $n messages"
kill -0 "$APPLY" 2>/dev/null && pass "apply still running while full" ||
    fail "apply exited while the target was full"
rows=$(sql "SELECT COUNT(*) FROM fs_dst.items")
[ "$rows" = 1000 ] && pass "nothing partial committed while full" ||
    fail "target holds $rows rows while full (expected 1000)"

# Free the space: every row lands, once.
rm -f "$DIR/data/filler"
if wait_applied "$end" 180; then
    pass "applied to the end ($end) after space was freed"
else
    fail "not applied after space was freed (sluice_offsets $(applied), end $end): $(tail -n 5 "$APPLY_LOG" | tr '\n' ' ')"
fi
got=$(sql "SELECT CONCAT(COUNT(*), ' ', COUNT(DISTINCT id), ' ', MIN(id), ' ', MAX(id), ' ', SUM(LENGTH(pad) = 2500)) FROM fs_dst.items")
[ "$got" = "3400 3400 1 3400 3400" ] && pass "every row applied exactly once" ||
    fail "target rows (count distinct min max full-pad): $got, expected 3400 3400 1 3400 3400"
n=$(dead_letters)
[ "$n" = 0 ] && pass "dead-letter topic still empty" ||
    fail "dead-letter topic holds $n messages"
if grep -q 'partition stopped' "$APPLY_LOG"; then
    fail "a partition stopped: $(grep 'partition stopped' "$APPLY_LOG" | head -n 1)"
fi
exit $failed
