#!/usr/bin/env bash
# Kafka consumer groups of sluice-broker against real clients nobody here
# wrote (docs/kafka.md, "Consumer groups"):
#   - kcat -G (librdkafka 2.0): consume, commit, stop; produce more; a new
#     kcat -G of the same group resumes where the first committed;
#   - kafka-python: offsets committed through the text protocol are what
#     OffsetFetch reads and the other way round (xproto.py); a group of
#     three members rebalancing while a producer keeps producing
#     (group3.py); raw requests: a member dying with its JoinGroup held,
#     a follower syncing after the leader, malformed requests (hostile.py);
#   - OffsetCommit on a full disk (a broker on a small tmpfs): refused with
#     a retriable error, `committed` agrees, commits resume (nospace.py);
#   - kafkajs (npm, installed into build/node): producer, consumer group,
#     commits fetched back, resume (kafkajs_group.js);
#   - the group counters of the broker's stats.
# Prints PASS/FAIL/SKIP lines. Runs alone or under tests/run-integration.sh.
set -u
cd "$(dirname "$0")/../.."
. tests/harness/harness.sh
sl_h_init || { echo "FAIL kafka_groups_setup: harness"; exit 1; }
here=tests/integration/kafka_groups
py=/usr/bin/python3
failed=0
pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; failed=1; }

dir=$(mktemp -d "$SL_HARNESS_ROOT/kgroups.XXXXXX")
bport=$(build/freeport)
kport=$(build/freeport)
start_broker() {
    bin/sluice-broker --listen "127.0.0.1:$bport" \
        --kafka-listen "127.0.0.1:$kport" --data "$dir/broker" \
        >> "$dir/broker.log" 2>&1 &
    broker_pid=$!
    sl_h_record_pid kafka-groups-broker $broker_pid
    sl_h_wait_for broker 20 bash -c "exec 3<>/dev/tcp/127.0.0.1/$kport"
}
mkdir -p "$dir/broker"
start_broker || { fail kafka_groups_setup "broker did not start"; exit 1; }

# A text-protocol command, its reply line on stdout.
text() {
    "$py" - "$bport" "$@" <<'EOF'
import sys
sys.path.insert(0, "tests/integration/kafka_groups")
from common import Text
t = Text(int(sys.argv[1]))
if sys.argv[2] == "put":
    for v in sys.argv[5:]:
        t.put(sys.argv[3], sys.argv[4], v)
else:
    print(t.committed(*sys.argv[3:6]))
EOF
}

# ---- kcat -G: commit, stop, produce more, resume ------------------------
if command -v kcat > /dev/null; then
    text put kc '#0' a0 a1 a2 a3 a4 a5 a6 a7 a8 a9
    kc=(kcat -b "127.0.0.1:$kport" -G kcg -X auto.offset.reset=earliest
        -X enable.partition.eof=true -e -q -f '%s\n' kc)
    timeout 120 "${kc[@]}" > "$dir/kc1.out" 2> "$dir/kc1.err"
    rc=$?
    if [ $rc = 0 ] && [ "$(tr '\n' ' ' < "$dir/kc1.out")" = \
        "a0 a1 a2 a3 a4 a5 a6 a7 a8 a9 " ]; then
        pass kafka_groups_kcat_group_consumes
    else
        fail kafka_groups_kcat_group_consumes \
            "rc=$rc out=$(head -c 200 "$dir/kc1.out") err=$(tail -n 3 "$dir/kc1.err")"
    fi
    got=$(text committed kcg kc '#0')
    [ "$got" = 10 ] && pass kafka_groups_kcat_commit_visible_to_text ||
        fail kafka_groups_kcat_commit_visible_to_text "committed=$got"
    text put kc '#0' b0 b1 b2
    # The broker restarts in between: group state is in memory, committed
    # offsets are durable.
    sl_h_kill $broker_pid
    start_broker || { fail kafka_groups_setup "broker did not restart"; exit 1; }
    timeout 120 "${kc[@]}" > "$dir/kc2.out" 2> "$dir/kc2.err"
    rc=$?
    if [ $rc = 0 ] && [ "$(tr '\n' ' ' < "$dir/kc2.out")" = "b0 b1 b2 " ]; then
        pass kafka_groups_kcat_resumes_at_commit_after_restart
    else
        fail kafka_groups_kcat_resumes_at_commit_after_restart \
            "rc=$rc out=$(head -c 200 "$dir/kc2.out" | tr '\n' ' ') err=$(tail -n 3 "$dir/kc2.err")"
    fi
else
    echo "SKIP kafka_groups_kcat: kcat is not installed (docker/packages.txt)"
fi

# ---- kafka-python -------------------------------------------------------
if "$py" -c 'import kafka' 2>/dev/null; then
    (cd "$here" && timeout 300 "$py" xproto.py "$bport" "$kport") \
        2> "$dir/xproto.err" || { tail -n 20 "$dir/xproto.err"; failed=1; }
    (cd "$here" && timeout 600 "$py" group3.py "$bport" "$kport") \
        2> "$dir/group3.err" || { tail -n 20 "$dir/group3.err"; failed=1; }
    (cd "$here" && timeout 300 "$py" hostile.py "$bport" "$kport") \
        2> "$dir/hostile.err" || { tail -n 20 "$dir/hostile.err"; failed=1; }
else
    echo "SKIP kafka_groups_python: python3-kafka is not installed"
fi

# ---- OffsetCommit on a full disk: a second broker on a small tmpfs -------
mnt="$dir/small"
mkdir -p "$mnt"
if mount -t tmpfs -o size=6m tmpfs "$mnt" 2> /dev/null; then
    # Unmounted on any exit, before the harness removes the directory.
    trap 'umount "$mnt" 2> /dev/null; sl_h_cleanup' EXIT
    nb=$(build/freeport)
    nk=$(build/freeport)
    bin/sluice-broker --listen "127.0.0.1:$nb" --kafka-listen "127.0.0.1:$nk" \
        --data "$mnt/broker" --segment-size 1MiB \
        > "$dir/nospace-broker.log" 2>&1 &
    ns_pid=$!
    sl_h_record_pid kafka-groups-nospace-broker $ns_pid
    if sl_h_wait_for broker 20 bash -c "exec 3<>/dev/tcp/127.0.0.1/$nk"; then
        (cd "$here" && timeout 300 "$py" nospace.py "$nb" "$nk" \
            "$mnt/filler") 2> "$dir/nospace.err" ||
            { tail -n 20 "$dir/nospace.err"; failed=1; }
        kill -0 $ns_pid 2> /dev/null ||
            fail kafka_groups_nospace_broker_stays_up "$(tail -n 3 "$dir/nospace-broker.log")"
    else
        fail kafka_groups_nospace_setup "broker on tmpfs did not start"
    fi
    sl_h_kill $ns_pid
    umount "$mnt"
    trap 'sl_h_cleanup' EXIT
else
    echo "SKIP kafka_groups_nospace: mounting a tmpfs is not permitted here"
fi

# ---- kafkajs (from npm, into build/node) ---------------------------------
nodedir=build/node
# Debian's npm (and nodejs) when neither is there; a machine with another
# node distribution (nodesource's bundles npm) keeps its own.
if ! command -v npm > /dev/null && [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq \
        --no-install-recommends nodejs npm > "$dir/apt.log" 2>&1
fi
if [ ! -d "$nodedir/node_modules/kafkajs" ] && command -v npm > /dev/null; then
    timeout 300 npm install --prefix "$nodedir" --no-audit --no-fund \
        --silent kafkajs@2.2.4 > "$dir/npm.log" 2>&1
fi
if [ -d "$nodedir/node_modules/kafkajs" ] && command -v node > /dev/null; then
    NODE_PATH="$PWD/$nodedir/node_modules" timeout 600 \
        node "$here/kafkajs_group.js" "$kport" 2> "$dir/kafkajs.err" ||
        { tail -n 20 "$dir/kafkajs.err"; failed=1; }
else
    echo "SKIP kafka_groups_kafkajs: kafkajs could not be installed" \
        "(npm install --prefix build/node kafkajs@2.2.4: needs node, npm" \
        "and the npm registry; $(tail -n 1 "$dir/npm.log" 2>/dev/null))"
fi

# ---- stats ---------------------------------------------------------------
stats=$(bin/sluice --broker "127.0.0.1:$bport" stats 2>&1)
reb=$(printf '%s\n' "$stats" | awk '$2 == "kafka_group_rebalances" { print $3 }')
if [ -n "$reb" ] && [ "$reb" -gt 0 ]; then
    pass kafka_groups_stats_count_rebalances
else
    fail kafka_groups_stats_count_rebalances \
        "$(printf '%s\n' "$stats" | grep kafka_group | tr '\n' ' ')"
fi
exit $failed
