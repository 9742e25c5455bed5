#!/usr/bin/env bash
# Compressed Kafka batches from kafka-python (an implementation independent
# of librdkafka, and the one that writes snappy in xerial's framing as the
# Java client does) are stored as produced and read back decompressed
# through the text protocol (`sluice tail`) and by kcat; the checks are in
# kafka_compress.py. kcat's own compressed batches are checked by
# kafka_data (kafka_data_codecs_both_protocols). Needs kcat, python3-kafka
# and the codec modules python3-snappy, python3-lz4, python3-zstandard.
set -u
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
fail() { echo "FAIL kafka_compress:$*"; exit 1; }

for need in bin/sluice-broker bin/sluice build/freeport; do
    [ -x "$need" ] || fail "setup: $need is missing (run make)"
done
command -v kcat > /dev/null || fail "setup: kcat is needed (make deps)"
$PY -c 'import kafka.codec as c; assert c.has_snappy() and c.has_lz4() and c.has_zstd()' 2> /dev/null ||
    fail "setup: python3-kafka with python3-snappy, python3-lz4 and python3-zstandard is needed (make deps)"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/sluice-kafka-compress.XXXXXX") || exit 1
BPID=
cleanup() {
    [ -n "$BPID" ] && kill -KILL "$BPID" 2> /dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

TPORT=$(build/freeport) KPORT=$(build/freeport)
bin/sluice-broker --data "$TMP/data" --listen "127.0.0.1:$TPORT" \
    --kafka-listen "127.0.0.1:$KPORT" > "$TMP/log" 2>&1 &
BPID=$!
up=0
for i in $(seq 1 200); do
    if (: < "/dev/tcp/127.0.0.1/$TPORT") 2> /dev/null &&
        (: < "/dev/tcp/127.0.0.1/$KPORT") 2> /dev/null; then
        up=1
        break
    fi
    kill -0 "$BPID" 2> /dev/null || break
    sleep 0.05
done
[ $up = 1 ] || fail "setup: the broker did not start: $(tail -n 3 "$TMP/log")"

$PY tests/integration/kafka_compress.py "$TPORT" "$KPORT"
rc=$?
kill -TERM "$BPID" 2> /dev/null
wait "$BPID" 2> /dev/null
BPID=
exit $rc
