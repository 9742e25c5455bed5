#!/usr/bin/env bash
# sluice-capture --format debezium / maxwell / canal through the broker,
# read by a Kafka client (issue 19): kcat -C reads the table's topic and
# every record is the producer's JSON (Debezium's envelope with op c/u/d
# and the after image; Maxwell's type/data/commit; Canal's FlatMessage),
# with no begin/commit marker records among them. sluice-apply given
# such a topic stops with its clear "not a sluice change event" error.
# Captures writing through the broker's Kafka listener (--broker
# kafka://) give each Debezium record Debezium's record key ({"id":N},
# and with --debezium-schemas the {"schema":...,"payload":...} form), and
# a sluice-format record its documented key ([N]); kcat -f '%k' reads them.
# Debezium-format captures writing through the text protocol give the
# same keys (put klen=, keyed mput items): kcat reads the same keys from
# both runs, and `sluice tail -f '%k'` reads them through the text
# protocol. (The sluice format's derived [N] key is Kafka's only: see
# docs/kafka.md.) A text capture killed with -9 and restarted resends from
# its checkpoint with keys present: every row once, in order, each with
# its key.
#
# Uses the harness's source mariadbd (SL_SOURCE_*; skips without it),
# starts its own broker and one capture per format. Prints PASS/FAIL/SKIP
# lines; exit status 1 when anything failed.
set -u
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$TOP" || exit 1
# shellcheck source=../harness/harness.sh
. tests/harness/harness.sh

NAME=kafka_formats
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
src_root() { mariadb --no-defaults -uroot --socket="$SL_SOURCE_SOCKET" "$@"; }
sl_h_init || { fail "setup: harness"; exit 1; }
dir=$SL_HARNESS_ROOT/kafka_formats
rm -rf "$dir"
mkdir -p "$dir/broker"

src_root -e "
    DROP DATABASE IF EXISTS kfmt;
    CREATE DATABASE kfmt;
    CREATE TABLE kfmt.t (id INT PRIMARY KEY, name VARCHAR(20), d DATE);" ||
    { fail "setup: cannot create the table"; exit 1; }

tport=$(build/freeport) kport=$(build/freeport)
bin/sluice-broker --listen "127.0.0.1:$tport" --kafka-listen "127.0.0.1:$kport" \
    --data "$dir/broker" > "$dir/broker.log" 2>&1 &
sl_h_record_pid kfmt-broker $!
sl_h_wait_for broker 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$kport" ||
    { fail "setup: broker did not start"; exit 1; }

common=(--source "mysql://${SL_SOURCE_USER:-sluice}@127.0.0.1:$SL_SOURCE_PORT"
    --password-file "$SL_SOURCE_PASSWORD_FILE" --broker "127.0.0.1:$tport"
    --heartbeat 200ms --start end --snapshot never --include 'kfmt\.t')
pids=()
sid=7161
for f in debezium maxwell canal; do
    bin/sluice-capture "${common[@]}" --topic "$f" --name "kfmt-$f" \
        --server-id $sid --format "$f" > "$dir/$f.log" 2>&1 &
    pids+=($!)
    sl_h_record_pid "kfmt-$f" $!
    sid=$((sid + 1))
done
# Through the text protocol, beside the Kafka runs below: keys too.
start_text() { # name format flag server-id; the pid in $tpid
    # shellcheck disable=SC2086 # $3 is zero or one flag.
    bin/sluice-capture "${common[@]}" --topic "$1" --name "kfmt-$1" \
        --server-id "$4" --format "$2" $3 >> "$dir/$1.log" 2>&1 &
    tpid=$!
    pids+=("$tpid")
    sl_h_record_pid "kfmt-$1" $tpid
}
start_text tdbzs debezium --debezium-schemas $sid
tdbzs_sid=$sid tdbzs_pid=$tpid
sid=$((sid + 1))
# Through the Kafka listener: records with keys (name format [flags]).
kcaps=("kdbz debezium" "kdbzs debezium --debezium-schemas" "ksl sluice")
kcommon=("${common[@]}")
kcommon[5]="kafka://127.0.0.1:$kport"
for c in "${kcaps[@]}"; do
    read -r t f extra <<< "$c"
    # shellcheck disable=SC2086 # extra is zero or one flag.
    bin/sluice-capture "${kcommon[@]}" --topic "$t" --name "kfmt-$t" \
        --server-id $sid --format "$f" $extra > "$dir/$t.log" 2>&1 &
    pids+=($!)
    sl_h_record_pid "kfmt-$t" $!
    sid=$((sid + 1))
done
for f in debezium maxwell canal kdbz kdbzs ksl tdbzs; do
    sl_h_wait_for "capture ($f)" 30 grep -q replicating "$dir/$f.log" ||
        { fail "setup: capture $f did not start: $(tail -n 2 "$dir/$f.log")"; exit 1; }
done

src_root -e "
    INSERT INTO kfmt.t VALUES (1, 'ann', '2020-01-02'), (2, 'bob', NULL);
    UPDATE kfmt.t SET name = 'cy' WHERE id = 1;
    DELETE FROM kfmt.t WHERE id = 2;"

parts() { bin/sluice --broker "127.0.0.1:$tport" partitions "$1" 2> /dev/null; }
sum_latest() { parts "$1" | awk -v p="$2" 'index($2, p) == 1 { s += $4 } END { print s + 0 }'; }
for f in debezium maxwell canal; do
    # Four rows, and no marker records: exactly four.
    for _ in $(seq 1 200); do
        [ "$(sum_latest "$f" kfmt.t)" -ge 4 ] && break
        sleep 0.1
    done
done
sleep 0.5

for f in debezium maxwell canal; do
    n=$(sum_latest "$f" kfmt.t)
    if [ "$n" != 4 ]; then
        fail "${f}_four_records: $n records in $f.kfmt.t (markers must not be published)"
        continue
    fi
    timeout 60 kcat -b "127.0.0.1:$kport" -C -t "$f.kfmt.t" -o beginning -e \
        -f '%s\n' > "$dir/$f.out" 2> "$dir/$f.kcat.err"
    if why=$($PY - "$f" "$dir/$f.out" 2>&1 << 'EOF'
import json, sys
fmt, path = sys.argv[1], sys.argv[2]
evs = [json.loads(l) for l in open(path, encoding="utf-8") if l.strip()]
assert len(evs) == 4, "%d records" % len(evs)
if fmt == "debezium":
    assert [e["op"] for e in evs] == ["c", "c", "u", "d"], [e["op"] for e in evs]
    assert evs[0]["after"] == {"id": 1, "name": "ann", "d": 18263}, evs[0]["after"]
    assert evs[1]["after"]["d"] is None
    assert evs[2]["before"]["name"] == "ann" and evs[2]["after"]["name"] == "cy"
    assert evs[3]["after"] is None and evs[3]["before"]["id"] == 2
    for e in evs:
        s = e["source"]
        assert s["connector"] == "mysql" and s["name"] == "debezium", s
        assert s["db"] == "kfmt" and s["table"] == "t", s
        assert isinstance(e["ts_ms"], int)
elif fmt == "maxwell":
    assert [e["type"] for e in evs] == ["insert", "insert", "update", "delete"]
    assert evs[0]["data"] == {"id": 1, "name": "ann", "d": "2020-01-02"}
    assert "commit" not in evs[0] and evs[1]["commit"] is True
    assert evs[2]["old"] == {"name": "ann"} and evs[2]["commit"] is True
    assert evs[0]["xid"] == evs[1]["xid"] != evs[2]["xid"]
else:
    assert [e["type"] for e in evs] == ["INSERT", "INSERT", "UPDATE", "DELETE"]
    assert evs[0]["data"] == [{"id": "1", "name": "ann", "d": "2020-01-02"}]
    assert evs[2]["old"] == [{"name": "ann"}]
    assert all(e["isDdl"] is False and e["pkNames"] == ["id"] for e in evs)
EOF
    ); then
        pass "kcat_reads_${f}_records"
    else
        fail "kcat_reads_${f}_records: $why $(tail -n 3 "$dir/$f.out") $(head -c 300 "$dir/$f.kcat.err")"
    fi
done

# The record keys, read back with kcat through the Kafka listener: of the
# captures through the Kafka listener (k*) and through the text protocol
# (debezium, tdbzs).
for t in kdbz kdbzs ksl debezium tdbzs; do
    for _ in $(seq 1 100); do
        timeout 20 kcat -b "127.0.0.1:$kport" -C -t "$t.kfmt.t" -o beginning -e \
            -f '%k\t%s\n' > "$dir/$t.out" 2> "$dir/$t.kcat.err"
        [ "$(grep -c '"op":"' "$dir/$t.out")" -ge 4 ] && break
        sleep 0.2
    done
    if why=$($PY - "$t" "$dir/$t.out" 2>&1 << 'EOF'
import json, sys
t, path = sys.argv[1], sys.argv[2]
kind = {"debezium": "kdbz", "tdbzs": "kdbzs"}.get(t, t)
lines = [l.rstrip("\n").split("\t", 1) for l in open(path, encoding="utf-8") if l.strip()]
if kind == "ksl":  # the sluice format's commit events have no key
    assert all(k == "" for k, v in lines if json.loads(v)["kind"] == "commit")
    lines = [(k, v) for k, v in lines if json.loads(v)["kind"] == "row"]
assert len(lines) == 4, "%d records" % len(lines)
ids = [1, 2, 1, 2]  # insert 1, insert 2, update 1, delete 2 (its before image)
for (k, v), i in zip(lines, ids):
    key, val = json.loads(k), json.loads(v)
    if kind == "kdbz":
        assert key == {"id": i}, key
        assert (val["after"] or val["before"])["id"] == i
    elif kind == "kdbzs":
        # Debezium's JSON converter with schemas enabled, as its tutorial
        # shows a key: {"schema":{struct of the key columns, name
        # SERVER.DB.TABLE.Key},"payload":{"id":N}}.
        assert key == {"schema": {"type": "struct", "fields": [
            {"type": "int32", "optional": False, "field": "id"}],
            "optional": False, "name": t + ".kfmt.t.Key"},
            "payload": {"id": i}}, key
        assert val["schema"]["name"] == t + ".kfmt.t.Envelope"
        p = val["payload"]
        assert (p["after"] or p["before"])["id"] == i
    else:
        assert key == [i], key  # the sluice format's key is unchanged
        assert val["kind"] == "row"
EOF
    ); then
        pass "kcat_reads_${t}_record_keys"
    else
        fail "kcat_reads_${t}_record_keys: $why $(tail -n 3 "$dir/$t.out") $(head -c 300 "$dir/$t.kcat.err") $(tail -n 3 "$dir/$t.log")"
    fi
done
# The same keys whichever way capture wrote them (the schema's name holds
# the topic), in the same order.
keys_of() { cut -f 1 "$dir/$1.out" | sed "s/\"$1\.kfmt/\"T.kfmt/"; }
for pair in "kdbz debezium" "kdbzs tdbzs"; do
    read -r k t <<< "$pair"
    if [ -s "$dir/$k.out" ] && [ "$(keys_of "$k")" = "$(keys_of "$t")" ]; then
        pass "same_keys_${t}_text_and_kafka"
    else
        fail "same_keys_${t}_text_and_kafka: $(keys_of "$k" | head -3) / $(keys_of "$t" | head -3)"
    fi
done
# sluice tail reads the keys through the text protocol as kcat does.
tail_keys() {
    bin/sluice --broker "127.0.0.1:$tport" tail tdbzs kfmt.t -f '%k\t%s\n' 2>&1
}
if [ -s "$dir/tdbzs.out" ] && [ "$(tail_keys)" = "$(cat "$dir/tdbzs.out")" ]; then
    pass "sluice_tail_reads_text_keys"
else
    fail "sluice_tail_reads_text_keys: $(tail_keys | head -3)"
fi

# Exactly once with keys: kill -9 the text capture (tdbzs), restart it (it
# resends from its checkpoint; the broker drops what it holds), add a row:
# five records, each once, in order, with its key.
kill -9 "$tdbzs_pid" 2> /dev/null
sl_h_wait_pid_gone "$tdbzs_pid" 20
start_text tdbzs debezium --debezium-schemas "$tdbzs_sid"
sl_h_wait_for "capture (tdbzs restarted)" 30 bash -c \
    "[ \$(grep -c replicating '$dir/tdbzs.log') -ge 2 ]" ||
    fail "tdbzs_restart: $(tail -n 2 "$dir/tdbzs.log")"
src_root -e "INSERT INTO kfmt.t VALUES (3, 'dan', NULL);"
for _ in $(seq 1 100); do
    [ "$(tail_keys | grep -c '"op":"')" -ge 5 ] && break
    sleep 0.2
done
sleep 0.5 # A resent duplicate would have landed by now: none may.
tail_keys > "$dir/tdbzs2.out"
if why=$($PY - "$dir/tdbzs2.out" 2>&1 << 'EOF'
import json, sys
rows = []
for l in open(sys.argv[1], encoding="utf-8"):
    k, v = l.rstrip("\n").split("\t", 1)
    rows.append((json.loads(k)["payload"]["id"], json.loads(v)["payload"]["op"]))
want = [(1, "c"), (2, "c"), (1, "u"), (2, "d"), (3, "c")]
assert rows == want, rows
EOF
); then
    pass "text_keys_exactly_once_after_kill9"
else
    fail "text_keys_exactly_once_after_kill9: $why"
fi

# sluice-apply's cache sink on the debezium topic: a clear refusal.
if [ -n "${SL_REDIS_PORT:-}" ]; then
    echo 'kfmt.t user:{id}' > "$dir/keys"
    timeout 60 bin/sluice-apply --broker "127.0.0.1:$tport" --topic debezium \
        --group kfmt --redis "127.0.0.1:$SL_REDIS_PORT" --keys "$dir/keys" \
        > "$dir/apply.log" 2>&1 &
    apid=$!
    sl_h_record_pid kfmt-apply $apid
    for _ in $(seq 1 200); do
        grep -q 'not a sluice change event' "$dir/apply.log" && break
        kill -0 $apid 2> /dev/null || break
        sleep 0.1
    done
    if grep -q 'partition stopped.*not a sluice change event (no' "$dir/apply.log"; then
        pass "apply_refuses_debezium_events"
    else
        fail "apply_refuses_debezium_events: $(tail -n 3 "$dir/apply.log")"
    fi
    kill -TERM $apid 2> /dev/null
    sl_h_wait_pid_gone $apid 20
else
    echo "SKIP $NAME:apply_refuses_debezium_events: no redis-server"
fi

kill -TERM "${pids[@]}" 2> /dev/null
for p in "${pids[@]}"; do sl_h_wait_pid_gone "$p" 20; done
exit $failed
