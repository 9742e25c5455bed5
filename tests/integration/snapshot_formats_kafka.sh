#!/usr/bin/env bash
# Snapshot read rows in the debezium format through the broker's Kafka
# listener (--broker kafka://; issues 17 and 19), read back with kcat:
# each read row (op "r") carries Debezium's record key exactly as a
# stream row does -- {"id":N,"k":"..."} with the primary-key columns in
# key order, and with --debezium-schemas the JSON converter's
# {"schema":{... "name":"SERVER.DB.TABLE.Key"},"payload":{...}}, its
# fields in table order as the stream's key schema has them -- and
# the stream's insert after the snapshot has the same key form. The
# values themselves are checked against the binlog path in
# snapshot_formats.c.
#
# Uses the harness's source mariadbd (SL_SOURCE_*; skips without it) and
# starts its own broker. Prints PASS/FAIL/SKIP lines; exit status 1 when
# anything failed.
set -u
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$TOP" || exit 1
# shellcheck source=../harness/harness.sh
. tests/harness/harness.sh

NAME=snapshot_formats_kafka
PY=/usr/bin/python3
failed=0
pass() { echo "PASS $NAME:$*"; }
fail() { echo "FAIL $NAME:$*"; failed=1; }

if [ -z "${SL_SOURCE_PORT:-}" ] || [ -z "${SL_SOURCE_PASSWORD_FILE:-}" ]; then
    echo "SKIP $NAME: no source mariadbd (run under tests/run-integration.sh)"
    exit 0
fi
for p in sluice-broker sluice-capture; do
    [ -x "bin/$p" ] || { fail "setup: bin/$p is missing (run make)"; exit 1; }
done
command -v kcat > /dev/null || { fail "setup: kcat is missing (make deps)"; exit 1; }
src_root() { mariadb --no-defaults -uroot --socket="$SL_SOURCE_SOCKET" "$@"; }
sl_h_init || { fail "setup: harness"; exit 1; }
dir=$SL_HARNESS_ROOT/snapshot_formats_kafka
rm -rf "$dir"
mkdir -p "$dir/broker"

# A composite key whose columns are not in table order.
src_root -e "
    DROP DATABASE IF EXISTS ksf;
    CREATE DATABASE ksf;
    CREATE TABLE ksf.t (v VARCHAR(20), k VARCHAR(10), id INT,
                        PRIMARY KEY (id, k));
    INSERT INTO ksf.t VALUES ('one', 'a', 1), ('two', 'b\"q', 2);" ||
    { fail "setup: cannot create the table"; exit 1; }

kport=$(build/freeport) tport=$(build/freeport)
bin/sluice-broker --listen "127.0.0.1:$tport" --kafka-listen "127.0.0.1:$kport" \
    --data "$dir/broker" > "$dir/broker.log" 2>&1 &
sl_h_record_pid ksf-broker $!
sl_h_wait_for broker 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$kport" ||
    { fail "setup: broker did not start"; exit 1; }

pids=()
sid=7291
for c in "ksfd" "ksfs --debezium-schemas"; do
    read -r t extra <<< "$c"
    # shellcheck disable=SC2086 # extra is zero or one flag.
    bin/sluice-capture --source "mysql://${SL_SOURCE_USER:-sluice}@127.0.0.1:$SL_SOURCE_PORT" \
        --password-file "$SL_SOURCE_PASSWORD_FILE" --broker "kafka://127.0.0.1:$kport" \
        --heartbeat 200ms --snapshot initial --include 'ksf\.t' --topic "$t" \
        --name "ksf-$t" --server-id $sid --format debezium $extra \
        > "$dir/$t.log" 2>&1 &
    pids+=($!)
    sl_h_record_pid "ksf-$t" $!
    sid=$((sid + 1))
done
for t in ksfd ksfs; do
    sl_h_wait_for "snapshot ($t)" 30 grep -q 'snapshot complete' "$dir/$t.log" ||
        { fail "setup: capture $t did not snapshot: $(tail -n 2 "$dir/$t.log")"; exit 1; }
done
src_root -e "INSERT INTO ksf.t VALUES ('three', 'c', 3);"

for t in ksfd ksfs; do
    for _ in $(seq 1 100); do
        timeout 20 kcat -b "127.0.0.1:$kport" -C -t "$t.ksf.t" -o beginning -e \
            -f '%k\t%s\n' > "$dir/$t.out" 2> "$dir/$t.kcat.err"
        [ "$(grep -c '"op":"' "$dir/$t.out")" -ge 3 ] && break
        sleep 0.2
    done
    if why=$($PY - "$t" "$dir/$t.out" 2>&1 << 'EOF'
import json, sys
t, path = sys.argv[1], sys.argv[2]
lines = [l.rstrip("\n").split("\t", 1) for l in open(path, encoding="utf-8") if l.strip()]
assert len(lines) == 3, "%d records" % len(lines)
want = [(1, "a", "r"), (2, 'b"q', "r"), (3, "c", "c")]
for (k, v), (i, kk, op) in zip(lines, want):
    key, val = json.loads(k), json.loads(v)
    payload = {"id": i, "k": kk}
    if t == "ksfd":
        assert key == payload and list(key) == ["id", "k"], key
        p = val
    else:
        assert key == {"schema": {"type": "struct", "fields": [
            {"type": "string", "optional": False, "field": "k"},
            {"type": "int32", "optional": False, "field": "id"}],
            "optional": False, "name": "ksfs.ksf.t.Key"},
            "payload": payload}, key
        assert val["schema"]["name"] == "ksfs.ksf.t.Envelope"
        p = val["payload"]
    assert p["op"] == op, p["op"]
    assert p["after"]["id"] == i and p["after"]["k"] == kk
    assert p["before"] is None
    snap = p["source"]["snapshot"]
    assert snap == ("incremental" if op == "r" else "false"), snap
EOF
    ); then
        pass "read_rows_have_the_record_key_$t"
    else
        fail "read_rows_have_the_record_key_$t: $why $(tail -n 3 "$dir/$t.out") $(head -c 300 "$dir/$t.kcat.err") $(tail -n 3 "$dir/$t.log")"
    fi
done

kill -TERM "${pids[@]}" 2> /dev/null
for p in "${pids[@]}"; do sl_h_wait_pid_gone "$p" 20; done
src_root -e "DROP DATABASE ksf;"
exit $failed
