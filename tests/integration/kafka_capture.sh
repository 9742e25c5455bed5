#!/usr/bin/env bash
# Records written by sluice-capture through the text protocol, seen by a
# Kafka client (issue 15): one Kafka topic per table, Debezium style
# (<topic>.<db>.<table>, encoded as docs/kafka.md says), with key:N
# partitions as partitions 0..N-1 of that topic. kcat -L lists them; when
# the broker serves Fetch, kcat -C reads every row's event back.
#
# Uses the harness's source mariadbd (SL_SOURCE_*; skips without it),
# starts its own broker and two captures (table mode and key:4).
# Prints PASS/FAIL/SKIP lines; exit status 1 when anything failed.
set -u
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$TOP" || exit 1
# shellcheck source=../harness/harness.sh
. tests/harness/harness.sh

NAME=kafka_capture
PY=/usr/bin/python3
failed=0
pass() { echo "PASS $NAME:$*"; }
fail() { echo "FAIL $NAME:$*"; failed=1; }

if [ -z "${SL_SOURCE_PORT:-}" ] || [ -z "${SL_SOURCE_PASSWORD_FILE:-}" ]; then
    echo "SKIP $NAME: no source mariadbd (run under tests/run-integration.sh)"
    exit 0
fi
for p in sluice-broker sluice-capture sluice; do
    [ -x "bin/$p" ] || { fail "setup: bin/$p is missing (run make)"; exit 1; }
done
command -v kcat > /dev/null || { fail "setup: kcat is missing (make deps)"; exit 1; }
# The suite's source, as root over its socket (sl_h_init below makes this
# test's own harness root, for its own processes).
src_root() { mariadb --no-defaults -uroot --socket="$SL_SOURCE_SOCKET" "$@"; }
sl_h_init || { fail "setup: harness"; exit 1; }
dir=$SL_HARNESS_ROOT/kafka_capture
rm -rf "$dir"
mkdir -p "$dir/broker"

src_root -e "
    DROP DATABASE IF EXISTS kcap;
    CREATE DATABASE kcap;
    CREATE TABLE kcap.users (id INT PRIMARY KEY, name VARCHAR(20));
    CREATE TABLE kcap.\`café\` (id INT PRIMARY KEY, v INT);
    CREATE TABLE kcap.orders (id INT PRIMARY KEY, amount INT);" ||
    { fail "setup: cannot create the tables"; exit 1; }

tport=$(build/freeport) kport=$(build/freeport)
bin/sluice-broker --listen "127.0.0.1:$tport" --kafka-listen "127.0.0.1:$kport" \
    --data "$dir/broker" > "$dir/broker.log" 2>&1 &
sl_h_record_pid kcap-broker $!
sl_h_wait_for broker 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$kport" ||
    { fail "setup: broker did not start"; exit 1; }

common=(--source "mysql://${SL_SOURCE_USER:-sluice}@127.0.0.1:$SL_SOURCE_PORT"
    --password-file "$SL_SOURCE_PASSWORD_FILE" --broker "127.0.0.1:$tport"
    --heartbeat 200ms --start end --snapshot never)
bin/sluice-capture "${common[@]}" --topic src --name kcap-table \
    --server-id 7151 --include 'kcap\.(users|café)' > "$dir/table.log" 2>&1 &
cpid1=$!
sl_h_record_pid kcap-capture1 $cpid1
bin/sluice-capture "${common[@]}" --topic keyed --name kcap-keyed \
    --server-id 7152 --include 'kcap\.orders' --partition-by key:4 \
    > "$dir/keyed.log" 2>&1 &
cpid2=$!
sl_h_record_pid kcap-capture2 $cpid2
sl_h_wait_for "capture (table)" 30 grep -q replicating "$dir/table.log" &&
    sl_h_wait_for "capture (key:4)" 30 grep -q replicating "$dir/keyed.log" ||
    { fail "setup: capture did not start: $(tail -n 2 "$dir/table.log" "$dir/keyed.log")"; exit 1; }

rows=""
for i in $(seq 1 40); do rows="$rows${rows:+,}($i, $i)"; done
src_root -e "
    INSERT INTO kcap.users VALUES (1, 'ann'), (2, 'bob');
    INSERT INTO kcap.\`café\` VALUES (1, 10);
    INSERT INTO kcap.orders VALUES $rows;"

# The text protocol's view: wait until every row is stored.
parts() { bin/sluice --broker "127.0.0.1:$tport" partitions "$1" 2> /dev/null; }
sum_latest() { parts "$1" | awk -v p="$2" 'index($2, p) == 1 { s += $4 } END { print s + 0 }'; }
for _ in $(seq 1 200); do
    # Each row is one event and each transaction adds a commit event.
    [ "$(sum_latest src kcap.users)" -ge 3 ] &&
        [ "$(sum_latest src kcap.caf)" -ge 2 ] &&
        [ "$(sum_latest keyed kcap.orders)" -ge 41 ] &&
        # and both captures wrote a checkpoint (after the acks, so later).
        [ "$(parts __sluice_capture | awk '$2 == "kcap-keyed" || $2 == "kcap-table"' | wc -l)" -ge 2 ] && break
    sleep 0.1
done
keyed_max=$(parts keyed | awk '{ n = $2; sub(/.*#/, "", n); if (n + 0 > m) m = n + 0 } END { print m + 0 }')

json=$(timeout 60 kcat -b "127.0.0.1:$kport" -L -J 2> "$dir/kcat.err")
got=$(printf '%s' "$json" | $PY -c '
import json, sys
md = json.load(sys.stdin)
print(" ".join(sorted("%s=%d" % (t["topic"], len(t["partitions"]))
                      for t in md["topics"])))')
# Capture keeps its checkpoints and schema history in topic
# __sluice_capture, partitions NAME and NAME.schema: Kafka topics too.
want_internal="__sluice_capture.kcap-keyed.schema=1 __sluice_capture.kcap-keyed=1 __sluice_capture.kcap-table.schema=1 __sluice_capture.kcap-table=1"
want="$want_internal keyed.kcap.orders=$((keyed_max + 1)) src.kcap.caf-c3-a9=1 src.kcap.users=1"
if [ "$got" = "$want" ]; then
    pass "kcat_lists_one_topic_per_table"
else
    fail "kcat_lists_one_topic_per_table: got '$got', want '$want' $(head -c 300 "$dir/kcat.err")"
fi
# 40 keys over 4 buckets: every bucket is used.
if [ "$keyed_max" = 3 ]; then
    pass "key_n_partitions_are_0_to_n_minus_1"
else
    fail "key_n_partitions_are_0_to_n_minus_1: highest bucket $keyed_max"
fi

# Reading through Kafka, when this build serves Fetch (ApiVersions key 1).
has_fetch=$($PY - "$kport" << 'EOF'
import socket, struct, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
m = struct.pack(">hhih", 18, 0, 1, 1) + b"k"
s.sendall(struct.pack(">i", len(m)) + m)
d = b""
while len(d) < 4:
    d += s.recv(4 - len(d))
n = struct.unpack(">i", d)[0]
d = b""
while len(d) < n:
    d += s.recv(n - len(d))
cnt = struct.unpack(">i", d[6:10])[0]
keys = [struct.unpack(">h", d[10 + 6 * i:12 + 6 * i])[0] for i in range(cnt)]
print(1 if 1 in keys else 0)
EOF
)
if [ "$has_fetch" != 1 ]; then
    echo "SKIP $NAME:kcat_reads_capture_events: this build serves no Fetch"
else
    n=$(timeout 60 kcat -b "127.0.0.1:$kport" -C -t keyed.kcap.orders -o beginning -e \
        -f '%s\n' 2> "$dir/kcat-c.err" | grep -c '"amount"')
    if [ "$n" = 40 ]; then
        pass "kcat_reads_capture_events"
    else
        fail "kcat_reads_capture_events: $n of 40 row events $(head -c 300 "$dir/kcat-c.err")"
    fi
fi

kill -TERM $cpid1 $cpid2 2> /dev/null
sl_h_wait_pid_gone $cpid1 20
sl_h_wait_pid_gone $cpid2 20
exit $failed
