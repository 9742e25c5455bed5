#!/usr/bin/env bash
# bench/replay: replaying one binlog file three ways, in the same run, on
# servers started by the harness (docs/replay.md, docs/performance.md):
#
#   replay   sluice-capture --from-file FILE --broker ...   (rows/s)
#   live     sluice-capture --source ... from the same file's start
#            (rows/s until the broker holds all of it)
#   pipe     mariadb-binlog FILE | mariadb   into the target (rows/s)
#
# The file holds only inserts of 1,000-row transactions into one table
# (id, 200-byte text, bigint), written while nothing captured them.
# Arguments: BYTES of binlog to write (default 1GiB, e.g. 64MiB for a quick
# run). Prints one line per way and a summary line.
set -eu
cd "$(dirname "$0")/.."
if [ -z "${SL_SOURCE_PORT:-}" ]; then
    make -s bin/sluice-capture bin/sluice-broker bin/sluice >/dev/null
    exec tests/harness/harness.sh run bench/replay.sh "$@"
fi
want=${1:-1GiB}
case $want in
*GiB) bytes=$((${want%GiB} * 1024 * 1024 * 1024)) ;;
*MiB) bytes=$((${want%MiB} * 1024 * 1024)) ;;
*) bytes=$want ;;
esac
root=$SL_HARNESS_ROOT/bench-replay
mkdir -p "$root"
pw() { cat "$1"; }
src() { mariadb -h127.0.0.1 -P"$SL_SOURCE_PORT" -u"$SL_SOURCE_USER" -p"$(pw "$SL_SOURCE_PASSWORD_FILE")" -N -B "$@"; }
dst() { mariadb -h127.0.0.1 -P"$SL_TARGET_PORT" -u"$SL_TARGET_USER" -p"$(pw "$SL_TARGET_PASSWORD_FILE")" -N -B "$@"; }
now() { date +%s.%N; }

# The binlog: one file of about BYTES, starting after the table's DDL.
src -e "SET GLOBAL max_binlog_size = 1073741824"
src -e "DROP DATABASE IF EXISTS rb; CREATE DATABASE rb; CREATE TABLE rb.t (id BIGINT PRIMARY KEY, pad VARCHAR(255), n BIGINT)"
dst -e "DROP DATABASE IF EXISTS rb; CREATE DATABASE rb; CREATE TABLE rb.t (id BIGINT PRIMARY KEY, pad VARCHAR(255), n BIGINT)"
src -e "FLUSH BINARY LOGS"
read -r file start < <(src -e "SHOW MASTER STATUS" | awk '{print $1, $2}')
path=$SL_SOURCE_DATADIR/$file
echo "writing ${want} of binlog into $file" >&2
id=0
# Each round adds about 11 MiB; stopping a round short of BYTES keeps the
# file below max_binlog_size (1 GiB at most), so it does not rotate.
while [ $(($(stat -c %s "$path") + 12 * 1024 * 1024)) -lt "$bytes" ]; do
    sql=""
    for _ in $(seq 50); do
        sql="$sql INSERT INTO rb.t SELECT seq, REPEAT(CHAR(97 + seq % 26), 200), seq * 3 FROM rb.seq_$((id + 1))_to_$((id + 1000));"
        id=$((id + 1000))
    done
    src -e "$sql"
done
src -e "FLUSH BINARY LOGS"
rows=$id
size=$(stat -c %s "$path")
[ "$(src -e "SHOW MASTER STATUS" | awk '{print $1}')" != "$file" ] || exit 1
n=$(src -e "SHOW BINARY LOGS" | awk -v f="$file" '$1 > f' | wc -l)
[ "$n" = 1 ] || { echo "the rows span more than $file" >&2; exit 1; }
echo "binlog: $file $size bytes, $rows rows" >&2

# A broker for the two captures.
bport=$(build/freeport)
bin/sluice-broker --listen 127.0.0.1:$bport --data "$root/broker" --kafka-listen off --fsync interval >"$root/broker.log" 2>&1 &
bpid=$!
cpid=
trap 'kill $bpid $cpid 2>/dev/null || true' EXIT
for _ in $(seq 100); do bin/sluice --broker 127.0.0.1:$bport stats >/dev/null 2>&1 && break; sleep 0.1; done
msgs() { bin/sluice --broker 127.0.0.1:$bport partitions "$1" | awk '{s += $4} END {print s + 0}'; }

# 1. Replay.
t0=$(now)
bin/sluice-capture --from-file "$path" --start-position "$start" --broker 127.0.0.1:$bport \
    --topic replay --progress no --log-level warn 2>"$root/replay.log"
t1=$(now)
replay_s=$(echo "$t1 - $t0" | bc)
total=$(msgs replay)
echo "replay: $rows rows in ${replay_s}s: $(echo "$rows / $replay_s" | bc) rows/s ($total messages)"

# 2. Live capture of the same file, until the broker holds as many messages.
t0=$(now)
bin/sluice-capture --source "mysql://$SL_SOURCE_REPL_USER@127.0.0.1:$SL_SOURCE_PORT" \
    --password-file "$SL_SOURCE_PASSWORD_FILE" --broker 127.0.0.1:$bport --topic live \
    --start "$file:$start" --server-id 7717 --log-level warn --schema-check no >"$root/live.log" 2>&1 &
cpid=$!
while [ "$(msgs live)" -lt "$total" ]; do
    kill -0 $cpid 2>/dev/null || { echo "live capture exited; see $root/live.log" >&2; exit 1; }
    sleep 0.05
done
t1=$(now)
kill $cpid; wait $cpid || true
cpid=
live_s=$(echo "$t1 - $t0" | bc)
echo "live: $rows rows in ${live_s}s: $(echo "$rows / $live_s" | bc) rows/s"

# 3. mariadb-binlog FILE | mariadb into the target.
t0=$(now)
mariadb-binlog --start-position="$start" "$path" |
    mariadb -h127.0.0.1 -P"$SL_TARGET_PORT" -u"$SL_TARGET_USER" -p"$(pw "$SL_TARGET_PASSWORD_FILE")"
t1=$(now)
pipe_s=$(echo "$t1 - $t0" | bc)
got=$(dst -e "SELECT COUNT(*) FROM rb.t")
[ "$got" = "$rows" ] || { echo "pipe: target has $got rows, want $rows" >&2; exit 1; }
echo "pipe: $rows rows in ${pipe_s}s: $(echo "$rows / $pipe_s" | bc) rows/s"
echo "summary: binlog ${size} bytes, ${rows} rows; replay $(echo "$rows / $replay_s" | bc) rows/s, live capture $(echo "$rows / $live_s" | bc) rows/s, mariadb-binlog|mariadb $(echo "$rows / $pipe_s" | bc) rows/s"
