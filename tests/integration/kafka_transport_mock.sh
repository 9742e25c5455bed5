#!/usr/bin/env bash
# The pipeline on a three-broker Kafka cluster that nobody here wrote
# (librdkafka's mock cluster, tests/tools/kafka_mock.c), replication
# factor 3, while the test moves partition leaders, takes brokers down
# and brings them back, and kill -9s sluice-capture 10 times and
# sluice-apply 5 times (issue 16). At the end: every committed row is in
# its topic-partition exactly once and in commit order (read back with
# kcat), and the target equals the source by row hash.
#
# Checkpoints every second, so that most kills leave records in the
# cluster past the checkpoint, which the restarted capture must find in
# the partitions' tails and not send again.
#
# Scaled down for CI: 12 rounds of 25 single-row transactions per table
# (600 row changes); the chaos is the same as at any size.
#
# The mock cluster has no CreateTopics: the topics are made by the test,
# as an operator would on a cluster that refuses creation, and capture
# checks them. Runs under tests/run-integration.sh; prints PASS/FAIL/SKIP.
set -u
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$TOP" || exit 1
# shellcheck source=../harness/harness.sh
. tests/harness/harness.sh
NAME=kafka_transport_mock
failed=0
pass() { echo "PASS $NAME:$*"; }
fail() { echo "FAIL $NAME:$*"; failed=1; }
if [ -z "${SL_SOURCE_PORT:-}" ] || [ -z "${SL_TARGET_PORT:-}" ]; then
    echo "SKIP $NAME: no source/target mariadbd (run under tests/run-integration.sh)"
    exit 0
fi
for p in bin/sluice-capture bin/sluice-apply build/tests/tools/kafka_mock; do
    [ -x "$p" ] || { fail "setup: $p is missing (run make)"; exit 1; }
done
command -v kcat > /dev/null || { fail "setup: kcat is missing (make deps)"; exit 1; }
src_root() { mariadb --no-defaults -uroot --socket="$SL_SOURCE_SOCKET" "$@"; }
dst() {
    mariadb --no-defaults -h 127.0.0.1 -P "$SL_TARGET_PORT" -u "${SL_TARGET_USER:-sluice}" \
        -p"$(cat "$SL_TARGET_PASSWORD_FILE")" "$@"
}
sl_h_init || { fail "setup: harness"; exit 1; }
dir=$SL_HARNESS_ROOT/kafka_transport_mock
rm -rf "$dir"
mkdir -p "$dir"
ROUNDS=12 PER=25

src_root -e "
    DROP DATABASE IF EXISTS ktm;
    CREATE DATABASE ktm;
    CREATE TABLE ktm.ins (id INT PRIMARY KEY, v VARCHAR(20));
    CREATE TABLE ktm.upd (id INT PRIMARY KEY, v INT);
    INSERT INTO ktm.upd VALUES (0, 0), (1, 0), (2, 0), (3, 0), (4, 0);" ||
    { fail "setup: source tables"; exit 1; }
dst -e "
    DROP DATABASE IF EXISTS ktm_dst; DROP DATABASE IF EXISTS ktm_meta;
    CREATE DATABASE ktm_dst; CREATE DATABASE ktm_meta;
    CREATE TABLE ktm_dst.ins (id INT PRIMARY KEY, v VARCHAR(20));
    CREATE TABLE ktm_dst.upd (id INT PRIMARY KEY, v INT);
    INSERT INTO ktm_dst.upd VALUES (0, 0), (1, 0), (2, 0), (3, 0), (4, 0);" ||
    { fail "setup: target tables"; exit 1; }
start=$(src_root -N -e "FLUSH BINARY LOGS; SHOW MASTER STATUS" | awk '{ print $1 ":" $2 }')

# The cluster, driven through a FIFO.
mkfifo "$dir/ctl"
build/tests/tools/kafka_mock 3 < "$dir/ctl" > "$dir/mock.out" 2> "$dir/mock.err" &
mock=$!
sl_h_record_pid kafka-mock $mock
exec 7> "$dir/ctl"
sl_h_wait_for "mock cluster" 20 grep -q '^bootstrap ' "$dir/mock.out" ||
    { fail "setup: mock cluster did not start: $(cat "$dir/mock.err")"; exit 1; }
boot=$(awk '/^bootstrap / { print $2; exit }' "$dir/mock.out")
nok=0
ctl() { # Sends a command and waits for its answer.
    echo "$*" >&7
    nok=$((nok + 1))
    sl_h_wait_for "mock: $*" 20 bash -c "[ \$(grep -c '^ok\|^error' '$dir/mock.out') -ge $nok ]"
}
for t in src.ktm.ins src.ktm.upd __sluice_capture.ktm __sluice_capture.ktm.schema; do
    ctl create "$t" 1 3
done
grep -q '^error' "$dir/mock.out" && { fail "setup: $(grep '^error' "$dir/mock.out")"; exit 1; }

capture() {
    bin/sluice-capture --source "mysql://${SL_SOURCE_REPL_USER:-sluice}@127.0.0.1:$SL_SOURCE_PORT" \
        --password-file "$SL_SOURCE_PASSWORD_FILE" --broker "kafka://$boot" \
        --kafka-opt sluice.replication.factor=3 \
        --topic src --name ktm --server-id 7161 --start "$start" --snapshot never \
        --include 'ktm\..*' --heartbeat 200ms --checkpoint-interval 1s \
        >> "$dir/capture.log" 2>&1 &
    cpid=$!
}
apply() {
    bin/sluice-apply --broker "kafka://$boot" --topic src --group ktm --workers 2 \
        --target "mysql://${SL_TARGET_USER:-sluice}@127.0.0.1:$SL_TARGET_PORT/ktm_meta" \
        --target-password-file "$SL_TARGET_PASSWORD_FILE" --map ktm=ktm_dst \
        --poll 200ms >> "$dir/apply.log" 2>&1 &
    apid=$!
}
capture
apply

ckills=0 akills=0 id=0 down=""
for r in $(seq 1 $ROUNDS); do
    sql=""
    for _ in $(seq 1 $PER); do
        id=$((id + 1))
        sql="$sql INSERT INTO ktm.ins VALUES ($id, 'r$id'); UPDATE ktm.upd SET v = v + 1 WHERE id = $((id % 5));"
    done
    src_root -e "$sql" || fail "workload round $r"
    # Let some of the round reach the cluster, then strike.
    sleep 0.$((RANDOM % 8 + 1))
    if [ -n "$down" ]; then
        ctl up "$down"
        down=""
    fi
    case $((r % 4)) in
    0) ctl leader src.ktm.ins 0 $((r % 3 + 1)); ctl leader src.ktm.upd 0 $(((r + 1) % 3 + 1)) ;;
    2) down=$(((r / 4) % 3 + 1)); ctl down "$down" ;;
    *) ctl leader __sluice_capture.ktm 0 $((r % 3 + 1)) ;;
    esac
    kill -9 $cpid 2> /dev/null; wait $cpid 2> /dev/null; ckills=$((ckills + 1))
    capture
    if [ $((r % 2)) = 0 ] && [ $akills -lt 5 ]; then
        kill -9 $apid 2> /dev/null; wait $apid 2> /dev/null; akills=$((akills + 1))
        apply
    fi
done
[ -n "$down" ] && ctl up "$down"
# Kills in the quiet too: capture between batches, apply when idle.
while [ $ckills -lt 10 ]; do
    sleep 0.5
    kill -9 $cpid 2> /dev/null; wait $cpid 2> /dev/null; ckills=$((ckills + 1))
    capture
done
rows=$id

# Converged: target equals source by row hash (bounded wait).
hash() { "$@" -N -e "SELECT CONCAT(COUNT(*), ':', MD5(GROUP_CONCAT(CONCAT_WS('|', id, v) ORDER BY id SEPARATOR ';'))) FROM $TB"; }
equal=0
for _ in $(seq 1 600); do
    TB=ktm.ins; a=$(hash src_root); TB=ktm_dst.ins; b=$(hash dst)
    TB=ktm.upd; c=$(hash src_root); TB=ktm_dst.upd; d=$(hash dst 2> /dev/null)
    if [ "$a" = "$b" ] && [ "$c" = "$d" ]; then equal=1; break; fi
    sleep 0.2
done
if [ $equal = 1 ]; then
    pass "target_equals_source_after_chaos ($rows rows, $ckills capture and $akills apply kills)"
else
    fail "target_equals_source_after_chaos: source $a / $c, target $b / $d; $(tail -n 3 "$dir/capture.log" "$dir/apply.log")"
fi

# Every committed row once and in order in its topic-partition.
for t in ins upd; do
    timeout 120 kcat -b "$boot" -C -t "src.ktm.$t" -p 0 -o beginning -e -f '%s\n' \
        > "$dir/$t.events" 2> "$dir/kcat-$t.err"
done
check=$(/usr/bin/python3 - "$dir" "$rows" << 'PYEOF'
import json, sys
d, rows = sys.argv[1], int(sys.argv[2])
out = []
ids = []
for line in open(d + "/ins.events"):
    try:
        ev = json.loads(line)
    except ValueError:
        continue
    if ev.get("kind") == "row" and ev.get("op") == "insert":
        ids.append(ev["after"]["id"])
if ids != list(range(1, rows + 1)):
    dup = len(ids) - len(set(ids))
    out.append("ins: %d events for %d rows, %d duplicates, in order: %s"
               % (len(ids), rows, dup, ids == sorted(ids)))
vals = {}
bad = 0
for line in open(d + "/upd.events"):
    try:
        ev = json.loads(line)
    except ValueError:
        continue
    if ev.get("kind") == "row" and ev.get("op") == "update":
        k, v = ev["after"]["id"], ev["after"]["v"]
        if v != vals.get(k, 0) + 1:
            bad += 1
        vals[k] = v
if bad or sum(vals.values()) != rows:
    out.append("upd: %d out of order or repeated, %d of %d updates"
               % (bad, sum(vals.values()), rows))
print("; ".join(out) if out else "ok")
PYEOF
)
if [ "$check" = ok ]; then
    pass "every_row_once_in_order_per_partition"
else
    fail "every_row_once_in_order_per_partition: $check"
fi
skipped=$(grep -c 'already stored; not sent again' "$dir/capture.log")
if grep -q 'partition tail read' "$dir/capture.log"; then
    pass "capture_read_partition_tails_on_restart ($skipped batches found stored)"
else
    fail "capture_read_partition_tails_on_restart: no tail read logged"
fi

kill -TERM $cpid $apid 2> /dev/null
sl_h_wait_pid_gone $cpid 20
sl_h_wait_pid_gone $apid 20
echo quit >&7
exec 7>&-
sl_h_wait_pid_gone $mock 20
exit $failed
