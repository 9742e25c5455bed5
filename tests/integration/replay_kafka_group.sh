#!/usr/bin/env bash
# `sluice groups` and `sluice groups reset` (docs/replay.md) with a Kafka
# consumer group of a real client (kcat -G, librdkafka): while kcat is a
# member, the group lists one live member and a reset is refused (the
# committed offset stays); once kcat has left, the reset by time moves the
# offset to the first message stored at or after that time, and the next
# kcat -G of the group starts there.
# Prints PASS/FAIL/SKIP lines. Runs alone or under tests/run-integration.sh.
set -u
cd "$(dirname "$0")/../.."
. tests/harness/harness.sh
sl_h_init || { echo "FAIL replay_kafka_group_setup: harness"; exit 1; }
command -v kcat > /dev/null || {
    echo "SKIP replay_kafka_group: kcat is not installed (docker/packages.txt)"
    exit 0
}
failed=0
pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; failed=1; }

dir=$(mktemp -d "$SL_HARNESS_ROOT/kreset.XXXXXX")
bport=$(build/freeport)
kport=$(build/freeport)
mkdir -p "$dir/broker"
bin/sluice-broker --listen "127.0.0.1:$bport" --kafka-listen "127.0.0.1:$kport" \
    --data "$dir/broker" >> "$dir/broker.log" 2>&1 &
broker_pid=$!
sl_h_record_pid replay-kafka-broker $broker_pid
sl_h_wait_for broker 20 bash -c "exec 3<>/dev/tcp/127.0.0.1/$kport" ||
    { fail replay_kafka_group_setup "broker did not start"; exit 1; }
sl=(bin/sluice --broker "127.0.0.1:$bport")

printf 'early0\nearly1\nearly2\n' | "${sl[@]}" put kr '#0' 2> /dev/null
sleep 0.05
at=$(date +%s%3N)
sleep 0.05
printf 'late0\nlate1\n' | "${sl[@]}" put kr '#0' 2> /dev/null

# kcat -G stays in the group (no -e) until it is stopped.
kcat -b "127.0.0.1:$kport" -G krg -X auto.offset.reset=earliest \
    -X enable.auto.commit=true -X auto.commit.interval.ms=100 -q -f '%s\n' kr \
    > "$dir/k1.out" 2> "$dir/k1.err" &
kpid=$!
sl_h_record_pid replay-kafka-kcat $kpid
# Consumed and committed: the group lists its offset with one member.
sl_h_wait_for "kcat commit" 60 bash -c \
    "${sl[*]} groups krg | grep -q 'krg *kr *#0 *5 .* 1\$'"
line=$("${sl[@]}" groups krg | grep krg)
if [[ $line =~ krg\ +kr\ +\#0\ +5\ +5\ +0\ +1$ ]]; then
    pass replay_kafka_group_lists_live_member
else
    fail replay_kafka_group_lists_live_member "line='$line'"
fi
out=$("${sl[@]}" groups reset krg --to "@${at}ms" 2>&1)
rc=$?
got=$("${sl[@]}" offsets kr '#0' --group krg | awk '/committed/ {print $2}')
if [ $rc = 1 ] && [[ $out == *"live member"* ]] && [ "$got" = 5 ]; then
    pass replay_kafka_group_reset_refused_with_member
else
    fail replay_kafka_group_reset_refused_with_member "rc=$rc out='$out' committed=$got"
fi
kill -INT $kpid
wait $kpid 2> /dev/null

out=$("${sl[@]}" groups reset krg --to "@${at}ms" 2>&1)
rc=$?
got=$("${sl[@]}" offsets kr '#0' --group krg | awk '/committed/ {print $2}')
if [ $rc = 0 ] && [ "$got" = 3 ] && [[ $out == *"idempotent"* ]]; then
    pass replay_kafka_group_reset_by_time
else
    fail replay_kafka_group_reset_by_time "rc=$rc out='$out' committed=$got"
fi
timeout 60 kcat -b "127.0.0.1:$kport" -G krg -X auto.offset.reset=earliest \
    -X enable.partition.eof=true -e -q -f '%s\n' kr > "$dir/k2.out" 2> "$dir/k2.err"
if [ "$(tr '\n' ' ' < "$dir/k2.out")" = "late0 late1 " ]; then
    pass replay_kafka_group_consumer_rewound
else
    fail replay_kafka_group_consumer_rewound "got '$(tr '\n' ' ' < "$dir/k2.out")' err=$(tail -n 3 "$dir/k2.err")"
fi
sl_h_kill $broker_pid
exit $failed
