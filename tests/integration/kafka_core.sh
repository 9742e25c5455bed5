#!/usr/bin/env bash
# The Kafka listener's core (issue 15) against real clients: kcat
# (librdkafka 2.0) and kafka-python, plus raw sockets for bad input. Starts
# its own brokers on free ports; the checks are in kafka_core.py:
#   names    topics put through the text protocol, listed by kcat -L with
#            their Kafka names and partition counts (docs/kafka.md, Names);
#   create   kafka-python's admin client creates topics (3 partitions,
#            errors, validate-only), read back through the text protocol;
#   hostile  bad sizes, truncated and malformed requests, unknown APIs and
#            versions, a crowd of connections: an error reply or a clean
#            close, counted in stats, other clients unaffected;
#   conns    the shared max-connections limit;
#   sasl     SASL/PLAIN with the broker secret (kcat, kafka-python), and
#            nothing but ApiVersions and SASL before it;
#   mockdiff librdkafka's mock cluster beside the broker: the same kcat
#            commands, the same observable results (kafka_mockdiff.py).
#   meta     keys and headers kcat produced, read with the text protocol's
#            get meta=1 byte for byte and by sluice tail %k %h
#            (kafka_meta.py).
# Then the listener's address rules: a busy kafka-listen given by the user
# is fatal, a busy default only a warning, `off` disables it.
set -u
cd "$(dirname "$0")/../.."
TOP=$(pwd)
PY=/usr/bin/python3
failed=0
pass() { echo "PASS kafka_core:$*"; }
fail() { echo "FAIL kafka_core:$*"; failed=1; }

for need in bin/sluice-broker build/freeport; do
    [ -x "$need" ] || { fail "setup: $need is missing (run make)"; exit 1; }
done
if ! command -v kcat > /dev/null || ! $PY -c 'import kafka' 2> /dev/null; then
    fail "setup: kcat and python3-kafka are needed (make deps installs them)"
    exit 1
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/sluice-kafka-core.XXXXXX") || exit 1
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2> /dev/null; done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_broker NAME ARGS...: starts a broker on free ports (TPORT, KPORT),
# waits until both listeners accept; 1 when it did not come up.
start_broker() {
    local name=$1
    shift
    TPORT=$(build/freeport) KPORT=$(build/freeport)
    mkdir -p "$TMP/$name"
    bin/sluice-broker --data "$TMP/$name/data" --listen "127.0.0.1:$TPORT" \
        --kafka-listen "127.0.0.1:$KPORT" "$@" > "$TMP/$name/log" 2>&1 &
    BPID=$!
    PIDS+=("$BPID")
    local i
    for i in $(seq 1 200); do
        if (: < "/dev/tcp/127.0.0.1/$TPORT") 2> /dev/null &&
            (: < "/dev/tcp/127.0.0.1/$KPORT") 2> /dev/null; then
            return 0
        fi
        kill -0 "$BPID" 2> /dev/null || break
        sleep 0.05
    done
    fail "$name: the broker did not start: $(tail -n 3 "$TMP/$name/log")"
    return 1
}

stop_broker() {
    kill -TERM "$BPID" 2> /dev/null
    wait "$BPID" 2> /dev/null
}

run_mode() {
    $PY tests/integration/kafka_core.py "$@" || failed=1
}

for mode in names create hostile; do
    if start_broker "$mode"; then
        run_mode "$mode" "$TPORT" "$KPORT"
        stop_broker
    fi
done
# librdkafka's mock cluster as a differential reference: the same kcat
# commands against both give the same records, offsets and group resume
# (kafka_mockdiff.py, which hosts the mock itself).
if start_broker mockdiff; then
    $PY tests/integration/kafka_mockdiff.py "$TPORT" "$KPORT" || failed=1
    stop_broker
fi
if start_broker meta; then
    $PY tests/integration/kafka_meta.py "$TPORT" "$KPORT" || failed=1
    stop_broker
fi
if start_broker no_auto_create --auto-create no; then
    run_mode no_auto_create "$TPORT" "$KPORT"
    stop_broker
fi
if start_broker advertised --kafka-advertised localhost; then
    run_mode advertised "$TPORT" "$KPORT"
    stop_broker
fi
if start_broker budget --max-request 512KiB --max-message 512KiB \
    --max-memory 4MiB; then
    run_mode budget "$TPORT" "$KPORT"
    stop_broker
fi
if start_broker conns --max-connections 20; then
    run_mode conns "$TPORT" "$KPORT"
    stop_broker
fi
SECRET=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s\n' "$SECRET" > "$TMP/secret"
chmod 600 "$TMP/secret"
if start_broker sasl --auth-file "$TMP/secret"; then
    run_mode sasl "$TPORT" "$KPORT" "$SECRET"
    stop_broker
fi

# A kafka-listen address the user gave that is busy: fatal, exit 1.
if start_broker busy_holder; then
    HELD=$KPORT
    P2=$(build/freeport)
    timeout 20 bin/sluice-broker --data "$TMP/busy2" --listen "127.0.0.1:$P2" \
        --kafka-listen "127.0.0.1:$HELD" > "$TMP/busy2.log" 2>&1
    rc=$?
    if [ $rc = 1 ] && grep -q "cannot listen on kafka-listen" "$TMP/busy2.log"; then
        pass "busy_configured_is_fatal"
    else
        fail "busy_configured_is_fatal: exit $rc: $(tail -n 2 "$TMP/busy2.log")"
    fi
    stop_broker
fi

# The default address busy (held here, or by another broker): a warning,
# and the text protocol still serves.
$PY -c '
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", 9092)); s.listen(1)
except OSError:
    pass
sys.stdout.write("ready\n"); sys.stdout.flush()
time.sleep(60)
' > "$TMP/hold.out" &
HOLDER=$!
disown "$HOLDER" # No "Killed" line when it is stopped below.
PIDS+=("$HOLDER")
for i in $(seq 1 100); do grep -q ready "$TMP/hold.out" && break; sleep 0.05; done
P3=$(build/freeport)
bin/sluice-broker --data "$TMP/dflt" --listen "127.0.0.1:$P3" > "$TMP/dflt.log" 2>&1 &
DPID=$!
PIDS+=("$DPID")
up=0
for i in $(seq 1 200); do
    if (: < "/dev/tcp/127.0.0.1/$P3") 2> /dev/null; then up=1; break; fi
    kill -0 "$DPID" 2> /dev/null || break
    sleep 0.05
done
if [ $up = 1 ] && grep -q "Kafka listener not started" "$TMP/dflt.log"; then
    pass "busy_default_warns_and_runs"
else
    fail "busy_default_warns_and_runs: $(tail -n 3 "$TMP/dflt.log")"
fi
kill -TERM "$DPID" 2> /dev/null
wait "$DPID" 2> /dev/null
kill -KILL "$HOLDER" 2> /dev/null

# off: no Kafka listener.
P4=$(build/freeport)
bin/sluice-broker --data "$TMP/off" --listen "127.0.0.1:$P4" --kafka-listen off \
    > "$TMP/off.log" 2>&1 &
OPID=$!
PIDS+=("$OPID")
for i in $(seq 1 200); do
    (: < "/dev/tcp/127.0.0.1/$P4") 2> /dev/null && break
    sleep 0.05
done
if grep -q "kafka=off" "$TMP/off.log"; then
    pass "off_disables"
else
    fail "off_disables: $(tail -n 2 "$TMP/off.log")"
fi
kill -TERM "$OPID" 2> /dev/null
wait "$OPID" 2> /dev/null

# Exposure: the same rules as --listen; and a wildcard address needs the
# address to advertise.
P5=$(build/freeport)
timeout 20 bin/sluice-broker --data "$TMP/exp" --listen "127.0.0.1:$P5" \
    --kafka-listen "0.0.0.0:$P5" --kafka-advertised 127.0.0.1 \
    > "$TMP/exp.log" 2>&1
rc=$?
if [ $rc = 2 ] && grep -q "kafka-listen) without --allow-remote" "$TMP/exp.log"; then
    pass "remote_needs_allow_remote"
else
    fail "remote_needs_allow_remote: exit $rc: $(tail -n 2 "$TMP/exp.log")"
fi
timeout 20 bin/sluice-broker --data "$TMP/exp" --listen "127.0.0.1:$P5" \
    --kafka-listen "0.0.0.0:$P5" --allow-remote-insecure > "$TMP/exp2.log" 2>&1
rc=$?
if [ $rc = 2 ] && grep -q "needs --kafka-advertised" "$TMP/exp2.log"; then
    pass "wildcard_needs_advertised"
else
    fail "wildcard_needs_advertised: exit $rc: $(tail -n 2 "$TMP/exp2.log")"
fi
exit $failed
