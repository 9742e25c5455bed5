#!/usr/bin/env bash
# Static group membership (group.instance.id, KIP-345) of sluice-broker's
# Kafka listener against kcat -G (librdkafka 2.0): a member killed -9 and
# restarted within its session gets its partitions back without a
# rebalance of the other member, a duplicate instance id fences the older
# process, and a member whose session ends is removed (kafka_static.py).
# Prints PASS/FAIL/SKIP lines. Runs alone or under tests/run-integration.sh.
set -u
cd "$(dirname "$0")/../.."
. tests/harness/harness.sh
sl_h_init || { echo "FAIL kafka_static_setup: harness"; exit 1; }
py=/usr/bin/python3
if ! command -v kcat > /dev/null; then
    echo "SKIP kafka_static: kcat is not installed (docker/packages.txt)"
    exit 0
fi
if ! "$py" -c 'import kafka' 2> /dev/null; then
    echo "SKIP kafka_static: python3-kafka is not installed"
    exit 0
fi
dir=$(mktemp -d "$SL_HARNESS_ROOT/kstatic.XXXXXX")
bport=$(build/freeport)
kport=$(build/freeport)
mkdir -p "$dir/broker"
bin/sluice-broker --listen "127.0.0.1:$bport" --kafka-listen "127.0.0.1:$kport" \
    --data "$dir/broker" > "$dir/broker.log" 2>&1 &
broker_pid=$!
sl_h_record_pid kafka-static-broker $broker_pid
if ! sl_h_wait_for broker 20 bash -c "exec 3<>/dev/tcp/127.0.0.1/$kport"; then
    echo "FAIL kafka_static_setup: broker did not start"
    exit 1
fi
TMPDIR=$dir timeout 600 "$py" tests/integration/kafka_static.py "$bport" "$kport" \
    2> "$dir/py.err"
rc=$?
[ $rc = 0 ] || tail -n 20 "$dir/py.err"
kill -0 $broker_pid 2> /dev/null ||
    { echo "FAIL kafka_static_broker_stays_up: $(tail -n 3 "$dir/broker.log")"; rc=1; }
sl_h_kill $broker_pid
exit $rc
