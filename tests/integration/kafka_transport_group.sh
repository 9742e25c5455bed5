#!/usr/bin/env bash
# Several sluice-apply processes share one topic set through Kafka
# consumer-group membership (issue 16): capture writes four tables' topics
# into sluice-broker's Kafka listener (kafka://); apply A and B join group
# ktg, A is killed with -9 mid-load and C started, while the source keeps
# changing. At the end:
#   - the target equals the source by row hash;
#   - every source row change was applied exactly once: a BEFORE INSERT
#     trigger on the target notes (id, v) of every insert the sink runs
#     (inserts and updates both run as INSERT ... ON DUPLICATE KEY UPDATE,
#     and a re-run fires it again; a rolled-back target transaction takes
#     its notes back); every source change has its own (id, v), so the
#     notes are all distinct and as many as the changes only when no
#     change was applied twice or lost;
#   - the group shared the partitions (A and B each applied some before
#     the kill; B joined after A applied every partition, so A released
#     some: its worker rolled back their open target transactions first), the survivors took A's over (every partition resumed by
#     B or C after it), and no apply ever met another one writing the same
#     partition (sl_mysql_sink_begin()'s sluice_offsets check) or stopped
#     a partition;
#   - sluice_offsets holds one row per partition for the group.
# Scaled down for CI: 8 rounds of 20 transactions over 4 tables.
# Runs under tests/run-integration.sh; prints PASS/FAIL/SKIP lines.
set -u
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$TOP" || exit 1
# shellcheck source=../harness/harness.sh
. tests/harness/harness.sh
NAME=kafka_transport_group
failed=0
pass() { echo "PASS $NAME:$*"; }
fail() { echo "FAIL $NAME:$*"; failed=1; }
if [ -z "${SL_SOURCE_PORT:-}" ] || [ -z "${SL_TARGET_PORT:-}" ]; then
    echo "SKIP $NAME: no source/target mariadbd (run under tests/run-integration.sh)"
    exit 0
fi
for p in bin/sluice-capture bin/sluice-apply bin/sluice-broker; do
    [ -x "$p" ] || { fail "setup: $p is missing (run make)"; exit 1; }
done
src_root() { mariadb --no-defaults -uroot --socket="$SL_SOURCE_SOCKET" "$@"; }
dst() {
    mariadb --no-defaults -h 127.0.0.1 -P "$SL_TARGET_PORT" -u "${SL_TARGET_USER:-sluice}" \
        -p"$(cat "$SL_TARGET_PASSWORD_FILE")" "$@"
}
sl_h_init || { fail "setup: harness"; exit 1; }
dir=$SL_HARNESS_ROOT/kafka_transport_group
rm -rf "$dir"
mkdir -p "$dir/broker"
ROUNDS=8 PER=20
TABLES="t1 t2 t3 t4"

ddl_src="DROP DATABASE IF EXISTS ktg; CREATE DATABASE ktg;"
ddl_dst="DROP DATABASE IF EXISTS ktg_dst; DROP DATABASE IF EXISTS ktg_meta;
    CREATE DATABASE ktg_dst; CREATE DATABASE ktg_meta;
    CREATE TABLE ktg_dst.audit (t VARCHAR(8), id INT, v INT);"
for t in $TABLES; do
    ddl_src="$ddl_src CREATE TABLE ktg.$t (id INT PRIMARY KEY, v INT);"
    ddl_dst="$ddl_dst CREATE TABLE ktg_dst.$t (id INT PRIMARY KEY, v INT);
        CREATE TRIGGER ktg_dst.${t}_ins BEFORE INSERT ON ktg_dst.$t
            FOR EACH ROW INSERT INTO ktg_dst.audit VALUES ('$t', NEW.id, NEW.v);"
done
src_root -e "$ddl_src" || { fail "setup: source tables"; exit 1; }
dst -e "$ddl_dst" || { fail "setup: target tables (triggers need SUPER or log_bin_trust_function_creators?)"; exit 1; }
start=$(src_root -N -e "FLUSH BINARY LOGS; SHOW MASTER STATUS" | awk '{ print $1 ":" $2 }')

tport=$(build/freeport) kport=$(build/freeport)
bin/sluice-broker --listen "127.0.0.1:$tport" --kafka-listen "127.0.0.1:$kport" \
    --data "$dir/broker" > "$dir/broker.log" 2>&1 &
sl_h_record_pid ktg-broker $!
sl_h_wait_for broker 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$kport" ||
    { fail "setup: broker did not start"; exit 1; }

bin/sluice-capture --source "mysql://${SL_SOURCE_REPL_USER:-sluice}@127.0.0.1:$SL_SOURCE_PORT" \
    --password-file "$SL_SOURCE_PASSWORD_FILE" --broker "kafka://127.0.0.1:$kport" \
    --topic src --name ktg --server-id 7191 --start "$start" --snapshot never \
    --include 'ktg\..*' --heartbeat 200ms > "$dir/capture.log" 2>&1 &
cpid=$!
sl_h_record_pid ktg-capture $cpid
apply() { # apply NAME: one member of group ktg, its log in NAME.log
    bin/sluice-apply --broker "kafka://127.0.0.1:$kport" --topic src --group ktg \
        --workers 2 --kafka-opt session.timeout.ms=6000 \
        --target "mysql://${SL_TARGET_USER:-sluice}@127.0.0.1:$SL_TARGET_PORT/ktg_meta" \
        --target-password-file "$SL_TARGET_PASSWORD_FILE" --map ktg=ktg_dst \
        --poll 200ms --group-rows 30 > "$dir/$1.log" 2>&1 &
    apid=$!
    sl_h_record_pid "ktg-apply-$1" $apid
}
workload() { # workload ROUND: PER transactions over every table
    local sql="" k
    for k in $(seq 1 $PER); do
        local id=$(($1 * 1000 + k))
        for t in $TABLES; do
            sql="$sql INSERT INTO ktg.$t VALUES ($id, $k);"
        done
        sql="$sql UPDATE ktg.t$((k % 4 + 1)) SET v = v + 1 WHERE id = $id;"
    done
    src_root -e "$sql" || fail "workload round $1"
}
# Some rows before the members join, more while they come and go.
workload 0
apply A
pa=$apid
# B joins once A applies every table's partition, so the group must take
# partitions back from A (the revocation path) to give B its share. (A
# gets the topics that exist when it joins at its first listing, the
# others at its next metadata refresh: waiting for one is not enough.)
sl_h_wait_for "A applying every table" 60 bash -c \
    "[ \$(grep -o 'partition resumed part=[^ ]*' '$dir/A.log' | sort -u | wc -l) -ge 4 ]"
apply B
pb=$apid
shared=0
for r in $(seq 1 $ROUNDS); do
    workload "$r"
    sleep 0.5
    if [ "$r" = 4 ]; then
        # Both members have applied partitions before the kill.
        sl_h_wait_for "both members applying" 60 bash -c \
            "grep -q 'partition resumed' '$dir/A.log' && grep -q 'partition resumed' '$dir/B.log'" &&
            shared=1
        kill -9 $pa 2> /dev/null
        wait $pa 2> /dev/null
        apply C
        pc=$apid
    fi
done
rows=$(((ROUNDS + 1) * PER))

hash() { "$@" -N -e "SELECT CONCAT(COUNT(*), ':', MD5(GROUP_CONCAT(CONCAT_WS('|', id, v) ORDER BY id SEPARATOR ';'))) FROM $TB"; }
equal=0
for _ in $(seq 1 600); do
    equal=1
    for t in $TABLES; do
        TB=ktg.$t; a=$(hash src_root); TB=ktg_dst.$t; b=$(hash dst 2> /dev/null)
        [ "$a" = "$b" ] || { equal=0; break; }
    done
    [ $equal = 1 ] && break
    sleep 0.2
done
if [ $equal = 1 ]; then
    pass "target_equals_source (4 tables x $rows rows, a member killed -9 and one started mid-load)"
else
    fail "target_equals_source: $t: source $a, target $b; $(tail -n 5 "$dir"/*.log)"
fi

# Each table: its inserts, and a quarter of the rows updated once.
changes=$((rows + rows / 4))
audit=$(dst -N -e "SELECT t, COUNT(*), COUNT(DISTINCT id, v) FROM ktg_dst.audit GROUP BY t ORDER BY t")
want=$(for t in $TABLES; do printf '%s\t%s\t%s\n' "$t" "$changes" "$changes"; done)
if [ "$audit" = "$want" ]; then
    pass "every_row_applied_once"
else
    fail "every_row_applied_once: per table (applied, distinct) $(echo "$audit" | tr '\n\t' '; ') want $changes each"
fi

if [ $shared = 1 ]; then
    pass "group_shared_the_partitions"
else
    fail "group_shared_the_partitions: A and B did not both apply before the kill"
fi
if grep -q 'partition released' "$dir/A.log"; then
    pass "revoked_partitions_released_before_handover"
else
    fail "revoked_partitions_released_before_handover: A never released a partition for B"
fi
# After the kill, B and C between them resumed every table's partition.
took=0
for t in $TABLES; do
    grep -h 'partition resumed' "$dir/B.log" "$dir/C.log" | grep -q "part=ktg\.$t " &&
        took=$((took + 1))
done
if [ $took = 4 ]; then
    pass "survivors_took_over_every_partition"
else
    fail "survivors_took_over_every_partition: $took of 4 resumed by B or C"
fi
if grep -l 'another apply process is writing\|partition stopped' "$dir"/[ABC].log > /dev/null; then
    fail "one_member_per_partition: $(grep -h 'another apply process\|partition stopped' "$dir"/[ABC].log | head -3)"
else
    pass "one_member_per_partition"
fi
n=$(dst -N -e "SELECT COUNT(*) FROM ktg_meta.sluice_offsets WHERE group_name = 'ktg'")
if [ "$n" = 4 ]; then
    pass "one_offsets_row_per_partition"
else
    fail "one_offsets_row_per_partition: $n rows"
fi

kill -TERM $cpid $pb $pc 2> /dev/null
sl_h_wait_pid_gone $cpid 20
sl_h_wait_pid_gone $pb 20
sl_h_wait_pid_gone $pc 20
exit $failed
