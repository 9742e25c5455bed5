#!/usr/bin/env bash
# Both transports run the same pipeline test (issue 16): apply_e2e's whole
# pipeline (source MariaDB -> sluice-capture -> broker -> sluice-apply ->
# target MariaDB, Redis, memcached; target equals source by row hash, every
# changed key deleted) once more with SL_TEST_TRANSPORT=kafka, where
# capture and apply reach sluice-broker through its Kafka listener
# (--broker kafka://HOST:PORT, lib/stream_kafka*.c over librdkafka).
# The text-protocol run is apply_e2e itself.
#
# Then, against a broker of its own: kcat reads the tables' topics that
# capture wrote through kafka:// and gets the change events, with the
# record headers (sluice.src: the event's binlog coordinates) and each
# row's primary key as the record key;
# kafka-python consumes them in a consumer group; and bad
# input gets clear errors with nothing skipped: unreachable bootstrap
# servers, a topic with fewer partitions than key:N needs, a refused SASL
# login, a record in capture's checkpoint topic that does not parse.
#
# Runs under tests/run-integration.sh (the suite's servers); prints
# PASS/FAIL/SKIP lines; exit status 1 when anything failed.
set -u
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$TOP" || exit 1
NAME=kafka_transport
if [ -z "${SL_SOURCE_PORT:-}" ]; then
    echo "SKIP $NAME: no source mariadbd (run under tests/run-integration.sh)"
    exit 0
fi
prog=build/tests/integration/apply_e2e
[ -x "$prog" ] || { echo "FAIL $NAME: $prog is missing (run make)"; exit 1; }
out=$(SL_TEST_TRANSPORT=kafka "$prog" apply_e2e_capture_broker_apply 2>&1)
rc=$?
# The program's own lines, renamed so both runs show apart.
printf '%s\n' "$out" | sed -nE 's/^(PASS|FAIL|SKIP) /\1 kafka:/p'
failed=0
pass() { echo "PASS $NAME:$*"; }
fail() { echo "FAIL $NAME:$*"; failed=1; }
if [ $rc -ne 0 ] || ! printf '%s\n' "$out" | grep -q '^PASS '; then
    printf '%s\n' "$out" | tail -n 30 >&2
    fail "pipeline: the pipeline over kafka:// failed (status $rc)"
fi

# shellcheck source=../harness/harness.sh
. tests/harness/harness.sh
command -v kcat > /dev/null || { fail "setup: kcat is missing (make deps)"; exit 1; }
src_root() { mariadb --no-defaults -uroot --socket="$SL_SOURCE_SOCKET" "$@"; }
sl_h_init || { fail "setup: harness"; exit 1; }
dir=$SL_HARNESS_ROOT/kafka_transport
rm -rf "$dir"
mkdir -p "$dir/broker" "$dir/sbroker"
src_root -e "
    DROP DATABASE IF EXISTS ktr;
    CREATE DATABASE ktr;
    CREATE TABLE ktr.users (id INT PRIMARY KEY, name VARCHAR(20));
    CREATE TABLE ktr.orders (id INT PRIMARY KEY, amount INT);" ||
    { fail "setup: cannot create the tables"; exit 1; }
start=$(src_root -N -e "FLUSH BINARY LOGS; SHOW MASTER STATUS" | awk '{ print $1 ":" $2 }')
tport=$(build/freeport) kport=$(build/freeport)
bin/sluice-broker --listen "127.0.0.1:$tport" --kafka-listen "127.0.0.1:$kport" \
    --data "$dir/broker" > "$dir/broker.log" 2>&1 &
sl_h_record_pid ktr-broker $!
# The same with a secret: Kafka clients must log in with SASL/PLAIN.
echo "right-secret" > "$dir/secret"
echo "wrong-secret" > "$dir/wrong"
stport=$(build/freeport) skport=$(build/freeport)
bin/sluice-broker --listen "127.0.0.1:$stport" --kafka-listen "127.0.0.1:$skport" \
    --auth-file "$dir/secret" --data "$dir/sbroker" > "$dir/sbroker.log" 2>&1 &
sl_h_record_pid ktr-sbroker $!
sl_h_wait_for broker 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$kport" &&
    sl_h_wait_for broker 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$skport" ||
    { fail "setup: brokers did not start"; exit 1; }
capture() { # capture NAME BROKER LOG ARGS...
    local name=$1 broker=$2 log=$3
    shift 3
    bin/sluice-capture --source "mysql://${SL_SOURCE_REPL_USER:-sluice}@127.0.0.1:$SL_SOURCE_PORT" \
        --password-file "$SL_SOURCE_PASSWORD_FILE" --broker "$broker" \
        --heartbeat 200ms --start "$start" --snapshot never --name "$name" \
        --server-id $((7170 + RANDOM % 100)) \
        "$@" > "$dir/$log" 2>&1 &
    cpid=$!
}

# kcat and kafka-python read what capture wrote through kafka://.
capture ktr "kafka://127.0.0.1:$kport" table.log --topic src --include 'ktr\.users'
src_root -e "INSERT INTO ktr.users VALUES (1, 'ann'), (2, 'bob'), (3, 'cy');
             UPDATE ktr.users SET name = 'bo' WHERE id = 2;"
n=0
for _ in $(seq 1 300); do
    n=$(timeout 20 kcat -b "127.0.0.1:$kport" -C -t src.ktr.users -o beginning -e \
        -f '%h %s\n' 2> "$dir/kcat.err" | grep -c 'sluice.seq=.*"kind":"row"')
    [ "$n" -ge 4 ] && break
    sleep 0.1
done
if [ "$n" = 4 ]; then
    pass "kcat_reads_table_topic_events_with_headers"
else
    fail "kcat_reads_table_topic_events_with_headers: $n of 4 row events $(head -c 300 "$dir/kcat.err") $(tail -n 3 "$dir/table.log")"
fi
# Each row event's sluice.src header is its binlog event's coordinates,
# as the event's own "src" says (the binary sluice.producer/seq headers
# before it are passed over by the pattern).
srcs=$(timeout 20 kcat -b "127.0.0.1:$kport" -C -t src.ktr.users -o beginning -e \
    -f '%h %s\n' 2> /dev/null | /usr/bin/python3 -c '
import re, sys
data = sys.stdin.buffer.read()
pat = rb"sluice\.src=([^ ,]+) \{\"kind\":\"row\".*?\"src\":\{\"file\":\"([^\"]+)\",\"pos\":(\d+)"
good = bad = 0
for h, f, p in re.findall(pat, data):
    if h == f + b":" + p:
        good += 1
    else:
        bad += 1
print(good, bad)')
if [ "$srcs" = "4 0" ]; then
    pass "src_header_is_the_events_coordinates"
else
    fail "src_header_is_the_events_coordinates: (matching, differing) = $srcs of 4 row events"
fi
# Each row event's record key is its primary key.
keys=$(timeout 20 kcat -b "127.0.0.1:$kport" -C -t src.ktr.users -o beginning -e \
    -f '%k|%s\n' 2> /dev/null | grep '"kind":"row"' | cut -d'|' -f1 | tr '\n' ' ')
if [ "$keys" = "[1] [2] [3] [2] " ]; then
    pass "record_key_is_the_primary_key"
else
    fail "record_key_is_the_primary_key: keys '$keys'"
fi
got=$(timeout 120 /usr/bin/python3 - "$kport" << 'PYEOF' 2> "$dir/kpy.err"
import json, sys
from kafka import KafkaConsumer
c = KafkaConsumer("src.ktr.users", bootstrap_servers="127.0.0.1:" + sys.argv[1],
                  group_id="ktr-python", auto_offset_reset="earliest",
                  enable_auto_commit=False, consumer_timeout_ms=20000)
rows = []
for m in c:
    ev = json.loads(m.value)
    if ev.get("kind") == "row":
        rows.append("%s:%s" % (ev["op"], ev["after"]["id"]))
    if len(rows) == 4:
        break
c.commit()
c.close()
print(" ".join(rows))
PYEOF
)
if [ "$got" = "insert:1 insert:2 insert:3 update:2" ]; then
    pass "kafka_python_consumes_in_a_group"
else
    fail "kafka_python_consumes_in_a_group: got '$got' $(tail -n 2 "$dir/kpy.err")"
fi
kill -TERM $cpid; sl_h_wait_pid_gone $cpid 20

# Unreachable bootstrap servers: capture says so and waits (nothing is
# published, nothing skipped), and stops on SIGTERM.
closed=$(build/freeport)
capture ktr-unreach "kafka://127.0.0.1:$closed" unreach.log --topic src --include 'ktr\.users'
if sl_h_wait_for "unreachable warning" 30 grep -q 'broker unreachable; waiting' "$dir/unreach.log"; then
    pass "unreachable_bootstrap_is_reported"
else
    fail "unreachable_bootstrap_is_reported: $(tail -n 3 "$dir/unreach.log")"
fi
kill -TERM $cpid; sl_h_wait_pid_gone $cpid 20

# key:4 into a topic that exists with one partition (made through the
# text protocol): capture stops naming the topic and the counts.
printf 'x\n' | bin/sluice --broker "127.0.0.1:$tport" put keyed 'ktr.orders#0' > /dev/null
capture ktr-small "kafka://127.0.0.1:$kport" small.log --topic keyed \
    --include 'ktr\.orders' --partition-by key:4
sl_h_wait_for "capture start" 30 grep -q replicating "$dir/small.log"
src_root -e "INSERT INTO ktr.orders VALUES (1, 10), (2, 20), (3, 30), (4, 40);"
sl_h_wait_pid_gone $cpid 60
if grep -q 'keyed.ktr.orders has 1 partitions, 4 needed' "$dir/small.log"; then
    pass "too_few_partitions_stops_capture"
else
    fail "too_few_partitions_stops_capture: $(tail -n 3 "$dir/small.log")"
fi

# A refused SASL login: capture stops with the reason.
capture ktr-auth "kafka://127.0.0.1:$skport" auth.log --topic src --include 'ktr\.users' \
    --broker-secret-file "$dir/wrong" --kafka-opt security.protocol=SASL_PLAINTEXT \
    --kafka-opt sasl.mechanisms=PLAIN --kafka-opt sasl.username=sluice
sl_h_wait_pid_gone $cpid 60
if grep -q 'refused this client' "$dir/auth.log" && ! kill -0 $cpid 2> /dev/null; then
    pass "sasl_refusal_stops_capture"
else
    fail "sasl_refusal_stops_capture: $(tail -n 3 "$dir/auth.log")"
    kill -TERM $cpid 2> /dev/null
fi
if grep -q 'wrong-secret' "$dir/auth.log"; then
    fail "secret_never_logged: the password is in the log"
else
    pass "secret_never_logged"
fi

# A setting that would weaken the guarantees is refused at start.
timeout 60 bin/sluice-apply --broker "kafka://127.0.0.1:$kport" --topic src \
    --kafka-opt enable.auto.commit=true > "$dir/aopt.log" 2>&1
rc=$?
if [ $rc = 2 ] && grep -q 'enable.auto.commit=true would weaken' "$dir/aopt.log"; then
    pass "weakening_setting_refused"
else
    fail "weakening_setting_refused: status $rc $(tail -n 2 "$dir/aopt.log")"
fi

# A checkpoint record that does not parse: capture refuses to guess.
printf 'not a checkpoint\n' | bin/sluice --broker "127.0.0.1:$tport" put __sluice_capture ktr-bad > /dev/null
capture ktr-bad "kafka://127.0.0.1:$kport" bad.log --topic src --include 'ktr\.users'
sl_h_wait_pid_gone $cpid 60
if grep -q 'is not a checkpoint record' "$dir/bad.log"; then
    pass "unparsable_checkpoint_stops_capture"
else
    fail "unparsable_checkpoint_stops_capture: $(tail -n 3 "$dir/bad.log")"
fi
exit $failed
