#!/usr/bin/env bash
# Cache sinks with several group members (issue 16): capture writes four
# tables' topics into sluice-broker's Kafka listener (kafka://); apply A and
# B, each with a Redis (and, when the harness has one, memcached) cache
# sink, share group ktc; A is killed with -9 mid-load and C joins late,
# while the source keeps changing. Before anything changes, the test
# stores every key the workload will invalidate: the key template
# c:ktc:<table>:{id}:{v} gives each insert its own key and each update a
# key of its own too (its after image; the template runs on both images),
# so a key is deleted only by the change event it names. At the end:
#   - every one of those keys is gone from Redis (and memcached): no
#     change's invalidation was missed (duplicates are allowed: the cache
#     sinks are at least once, docs/kafka.md);
#   - the PUBLISH stream of --redis-channel saw every key (and says how
#     many deletes were repeated after a handover, for the record);
#   - each member applied some partitions, C after joining late, and the
#     survivors took over every partition;
#   - no partition was ever read by two members at once: from the members'
#     logs, per partition, a member's span runs from its "partition
#     resumed" to its "partition released" (or A's kill, or the end), and
#     no two spans overlap (one machine, one clock, so the log times
#     compare);
#   - no member stopped a partition.
# Scaled down for CI: 8 rounds of 20 rows per table over 4 tables.
# Runs under tests/run-integration.sh; prints PASS/FAIL/SKIP lines.
set -u
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$TOP" || exit 1
# shellcheck source=../harness/harness.sh
. tests/harness/harness.sh
NAME=kafka_transport_cache
failed=0
pass() { echo "PASS $NAME:$*"; }
fail() { echo "FAIL $NAME:$*"; failed=1; }
if [ -z "${SL_SOURCE_PORT:-}" ] || [ -z "${SL_REDIS_PORT:-}" ]; then
    echo "SKIP $NAME: no source mariadbd or redis-server (run under tests/run-integration.sh)"
    exit 0
fi
for p in bin/sluice-capture bin/sluice-apply bin/sluice-broker; do
    [ -x "$p" ] || { fail "setup: $p is missing (run make)"; exit 1; }
done
src_root() { mariadb --no-defaults -uroot --socket="$SL_SOURCE_SOCKET" "$@"; }
rc() { redis-cli -h 127.0.0.1 -p "$SL_REDIS_PORT" "$@"; }
sl_h_init || { fail "setup: harness"; exit 1; }
dir=$SL_HARNESS_ROOT/$NAME
rm -rf "$dir"
mkdir -p "$dir/broker"
ROUNDS=8 PER=20
TABLES="t1 t2 t3 t4"
CHANNEL=ktc-invalidated

ddl="DROP DATABASE IF EXISTS ktc; CREATE DATABASE ktc;"
: > "$dir/keys"
for t in $TABLES; do
    ddl="$ddl CREATE TABLE ktc.$t (id INT PRIMARY KEY, v INT);"
    echo "ktc.$t c:ktc:$t:{id}:{v}" >> "$dir/keys"
done
src_root -e "$ddl" || { fail "setup: source tables"; exit 1; }

# Every key the workload will invalidate: round r's row k of each table is
# inserted with v = k (key ...:ID:k), and a quarter of them updated to
# v = k + 1 (key ...:ID:k+1).
: > "$dir/expected"
for r in $(seq 0 $ROUNDS); do
    for k in $(seq 1 $PER); do
        id=$((r * 1000 + k))
        for t in $TABLES; do echo "c:ktc:$t:$id:$k"; done
        echo "c:ktc:t$((k % 4 + 1)):$id:$((k + 1))"
    done
done >> "$dir/expected"
nkeys=$(wc -l < "$dir/expected")
rc --scan --pattern 'c:ktc:*' | xargs -r -n 100 redis-cli -h 127.0.0.1 \
    -p "$SL_REDIS_PORT" DEL > /dev/null
sed 's/^/SET /; s/$/ stale/' "$dir/expected" | rc > /dev/null
n=$(rc --scan --pattern 'c:ktc:*' | wc -l)
[ "$n" = "$nkeys" ] || { fail "setup: $n of $nkeys keys stored in Redis"; exit 1; }
# memcached: the same keys, through its text protocol.
mc() { # mc set|count: stores every expected key, or counts those left
    /usr/bin/python3 - "$SL_MEMCACHED_PORT" "$1" "$dir/expected" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=30)
f = s.makefile("rb")
left = 0
for key in open(sys.argv[3]).read().split():
    if sys.argv[2] == "set":
        s.sendall(b"set %s 0 0 5\r\nstale\r\n" % key.encode())
        if f.readline() != b"STORED\r\n":
            sys.exit("memcached refused " + key)
    else:
        s.sendall(b"get %s\r\n" % key.encode())
        line = f.readline()
        if line.startswith(b"VALUE"):
            left += 1
            f.readline()
            line = f.readline()
        if line != b"END\r\n":
            sys.exit("memcached answered " + repr(line))
print(left)
PY
}
mcopt=()
if [ -n "${SL_MEMCACHED_PORT:-}" ]; then
    if mc set > /dev/null; then
        mcopt=(--memcached "127.0.0.1:$SL_MEMCACHED_PORT")
    else
        fail "setup: keys could not be stored in memcached"
    fi
fi

# Every invalidation the members publish, as redis-cli prints it.
rc SUBSCRIBE "$CHANNEL" > "$dir/published" 2>&1 &
sub=$!
sl_h_record_pid ktc-subscriber $sub
sl_h_wait_for "subscriber" 20 grep -q "$CHANNEL" "$dir/published" ||
    { fail "setup: redis-cli SUBSCRIBE"; exit 1; }

start=$(src_root -N -e "FLUSH BINARY LOGS; SHOW MASTER STATUS" | awk '{ print $1 ":" $2 }')
tport=$(build/freeport) kport=$(build/freeport)
bin/sluice-broker --listen "127.0.0.1:$tport" --kafka-listen "127.0.0.1:$kport" \
    --data "$dir/broker" > "$dir/broker.log" 2>&1 &
sl_h_record_pid ktc-broker $!
sl_h_wait_for broker 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$kport" ||
    { fail "setup: broker did not start"; exit 1; }
bin/sluice-capture --source "mysql://${SL_SOURCE_REPL_USER:-sluice}@127.0.0.1:$SL_SOURCE_PORT" \
    --password-file "$SL_SOURCE_PASSWORD_FILE" --broker "kafka://127.0.0.1:$kport" \
    --topic src --name ktc --server-id 7193 --start "$start" --snapshot never \
    --include 'ktc\..*' --heartbeat 200ms > "$dir/capture.log" 2>&1 &
cpid=$!
sl_h_record_pid ktc-capture $cpid
apply() { # apply NAME: one member of group ktc, its log in NAME.log
    bin/sluice-apply --broker "kafka://127.0.0.1:$kport" --topic src --group ktc \
        --workers 2 --kafka-opt session.timeout.ms=6000 \
        --redis "127.0.0.1:$SL_REDIS_PORT" --redis-channel "$CHANNEL" \
        "${mcopt[@]}" --keys "$dir/keys" --poll 200ms > "$dir/$1.log" 2>&1 &
    apid=$!
    sl_h_record_pid "ktc-apply-$1" $apid
}
workload() { # workload ROUND: PER rows into every table, a quarter updated
    local sql="" k
    for k in $(seq 1 $PER); do
        local id=$(($1 * 1000 + k))
        for t in $TABLES; do
            sql="$sql INSERT INTO ktc.$t VALUES ($id, $k);"
        done
        sql="$sql UPDATE ktc.t$((k % 4 + 1)) SET v = v + 1 WHERE id = $id;"
    done
    src_root -e "$sql" || fail "workload round $1"
}
now() { date -u +%Y-%m-%dT%H:%M:%S.%3NZ; }
workload 0
apply A
pa=$apid
apply B
pb=$apid
both=0
for r in $(seq 1 $ROUNDS); do
    if [ "$r" = 3 ]; then
        sl_h_wait_for "both members applying" 60 bash -c \
            "grep -q 'partition resumed' '$dir/A.log' && grep -q 'partition resumed' '$dir/B.log'" &&
            both=1
    fi
    workload "$r"
    if [ "$r" = 3 ]; then
        # A dies while it applies this round: what it deleted but did not
        # commit is deleted again by its successor.
        killed_at=$(now)
        kill -9 $pa 2> /dev/null
        wait $pa 2> /dev/null
    fi
    if [ "$r" = 5 ]; then
        apply C
        pc=$apid
    fi
    sleep 0.5
done

left=$nkeys
for _ in $(seq 1 600); do
    left=$(rc --scan --pattern 'c:ktc:*' | wc -l)
    [ "$left" = 0 ] && break
    sleep 0.2
done
if [ "$left" = 0 ]; then
    pass "every_changed_key_invalidated_in_redis ($nkeys keys, a member killed -9, one joining late)"
else
    fail "every_changed_key_invalidated_in_redis: $left of $nkeys left, e.g. $(rc --scan --pattern 'c:ktc:*' | head -3 | tr '\n' ' ')"
fi
if [ ${#mcopt[@]} -gt 0 ]; then
    mleft=$(mc count)
    [ "$mleft" = 0 ] && pass "every_changed_key_invalidated_in_memcached" ||
        fail "every_changed_key_invalidated_in_memcached: $mleft of $nkeys left"
else
    echo "SKIP $NAME:every_changed_key_invalidated_in_memcached: no memcached"
fi

# redis-cli prints a message as three lines: "message", channel, key.
awk -v ch="$CHANNEL" 'prev2 == "message" && prev1 == ch { print } { prev2 = prev1; prev1 = $0 }' \
    "$dir/published" | sort > "$dir/published.keys"
missing=$(sort -u "$dir/published.keys" | comm -13 - <(sort "$dir/expected") | wc -l)
# Without redelivery each key is published once, and an updated row's
# insert key once more (the update's before image).
once=$(($(wc -l < "$dir/expected") + (ROUNDS + 1) * PER))
again=$(($(wc -l < "$dir/published.keys") - once))
if [ "$missing" = 0 ]; then
    pass "every_invalidation_published ($again deletes again after a handover: at least once)"
else
    fail "every_invalidation_published: $missing expected keys never published"
fi

if [ $both = 1 ] && grep -q 'partition resumed' "$dir/C.log"; then
    pass "every_member_applied (A and B before the kill, C after joining late)"
else
    fail "every_member_applied: both=$both, C resumed $(grep -c 'partition resumed' "$dir/C.log")"
fi
took=0
for t in $TABLES; do
    grep -h 'partition resumed' "$dir/B.log" "$dir/C.log" | grep -q "part=ktc\.$t " &&
        took=$((took + 1))
done
[ $took = 4 ] && pass "survivors_took_over_every_partition" ||
    fail "survivors_took_over_every_partition: $took of 4 resumed by B or C"

# Spans per partition and member; any overlap is a partition read by two
# members at once.
end=$(now)
overlap=$(for m in A B C; do
    last=$end
    [ $m = A ] && last=$killed_at
    awk -v m=$m -v last="$last" '
        { ts = ""; part = ""
          for (i = 1; i <= NF; i++) {
              if ($i ~ /^ts=/) ts = substr($i, 4)
              if ($i ~ /^part=/) part = substr($i, 6)
          } }
        /partition resumed/ { open[part] = ts }
        /partition released/ && (part in open) {
            print part, open[part], ts, m; delete open[part] }
        END { for (p in open) print p, open[p], last, m }' "$dir/$m.log"
done | sort -k1,1 -k2,2 | awk '
    $1 != p { p = $1; e = ""; m = "" }
    e != "" && $2 < e { print "part " $1 ": " m " until " e ", " $4 " from " $2 }
    $3 > e { e = $3; m = $4 }')
spans=$(cat "$dir"/[ABC].log | grep -c 'partition resumed')
if [ -z "$overlap" ] && [ "$spans" -ge 4 ]; then
    pass "one_member_per_partition_at_a_time ($spans spans)"
else
    fail "one_member_per_partition_at_a_time: ${overlap:-only $spans spans} "
fi
if grep -q 'partition stopped' "$dir"/[ABC].log; then
    fail "no_partition_stopped: $(grep -h 'partition stopped' "$dir"/[ABC].log | head -3)"
else
    pass "no_partition_stopped"
fi

kill -TERM $cpid $pb $pc $sub 2> /dev/null
sl_h_wait_pid_gone $cpid 20
sl_h_wait_pid_gone $pb 20
sl_h_wait_pid_gone $pc 20
exit $failed
