#!/usr/bin/env bash
# bench/snapshot.sh: seeding a target from a source table that already
# holds BENCH_ROWS rows (default 5,000,000, about 1 GB with the 160-byte
# pad) while a steady write workload runs, two ways in the same run:
#
#   sluice    sluice-capture --snapshot initial -> sluice-broker ->
#             sluice-apply: the stream never stops; timed until the
#             snapshot is complete and apply has caught up with what
#             capture published (consistent and live).
#   dump      mariadb-dump --single-transaction --master-data=2 piped into
#             mariadb on a second target database, then sluice-capture from
#             the dump's position and sluice-apply (the way a user does it
#             by hand): timed until apply has caught up the same way.
#
# Both targets are then compared with the source by row hash (the writer
# paused). Also the source's cost: the p99 latency of a point-query probe
# (one connection, primary-key lookups) without and with the snapshot
# running. Figures go to stdout; docs/performance.md keeps them.
#
# BENCH_ROWS, BENCH_WRITES_PER_S (default 200) scale the run.
set -eu
cd "$(dirname "$0")/.."
SL_BENCH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench-snapshot.XXXXXX")
export TMPDIR=$SL_BENCH_TMP
. tests/harness/harness.sh
sl_h_init
sl_h_start_mariadb SOURCE 1 --max-binlog-size=1073741824
sl_h_start_mariadb TARGET 2 --max-binlog-size=1073741824
trap 'sl_h_stop_all; rm -rf "$SL_BENCH_TMP"' EXIT
ROWS=${BENCH_ROWS:-5000000}
WPS=${BENCH_WRITES_PER_S:-200}
D=$SL_HARNESS_ROOT
src() { mariadb --no-defaults -uroot --socket="$SL_SOURCE_SOCKET" -N -B "$@"; }
tgt() { mariadb --no-defaults -uroot --socket="$SL_TARGET_SOCKET" -N -B "$@"; }
now() { date +%s.%N; }
HASH="SELECT COUNT(*), COALESCE(SUM(CRC32(CONCAT_WS('|',id,v,pad))),0) FROM"

echo "seeding $ROWS rows"
src -e "CREATE DATABASE bs; USE bs;
    CREATE TABLE t (id BIGINT PRIMARY KEY, v BIGINT, pad VARCHAR(200));
    INSERT INTO t SELECT seq, seq, REPEAT(CHAR(65 + seq % 26), 160)
        FROM seq_1_to_$ROWS"
tgt -e "CREATE DATABASE bs_snap; CREATE DATABASE bs_dump;
    CREATE DATABASE bs_meta1; CREATE DATABASE bs_meta2;
    CREATE TABLE bs_snap.t (id BIGINT PRIMARY KEY, v BIGINT, pad VARCHAR(200))"

# The probe: point lookups on one connection, latencies in microseconds.
probe() { # SECONDS OUTFILE
    python3 - "$1" "$2" "$SL_SOURCE_SOCKET" "$ROWS" << 'EOF'
import random, subprocess, sys, time
secs, out, sock, rows = float(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
p = subprocess.Popen(["mariadb", "--no-defaults", "-uroot", "--socket=" + sock,
                      "-N", "-B", "--unbuffered"], stdin=subprocess.PIPE,
                     stdout=subprocess.PIPE, text=True, bufsize=1)
lat = []
end = time.time() + secs
while time.time() < end:
    k = random.randint(1, rows)
    t0 = time.perf_counter()
    p.stdin.write("SELECT v FROM bs.t WHERE id = %d;\n" % k)
    p.stdin.flush()
    p.stdout.readline()
    lat.append((time.perf_counter() - t0) * 1e6)
p.stdin.close()
p.wait()
lat.sort()
with open(out, "w") as f:
    f.write("%d %.0f %.0f\n" % (len(lat), lat[len(lat) // 2],
                                 lat[int(len(lat) * 0.99)]))
EOF
}
probe 10 "$D/probe-idle"

# The steady writer.
(
    i=0
    while [ ! -f "$D/stop-writer" ]; do
        [ -f "$D/pause-writer" ] && { touch "$D/writer-paused"; sleep 0.1; continue; }
        rm -f "$D/writer-paused"
        k=$(( (RANDOM * 32768 + RANDOM) % ROWS + 1 ))
        echo "UPDATE bs.t SET v = v + 1 WHERE id = $k;"
        i=$((i + 1))
        [ $((i % WPS)) = 0 ] && sleep 1
    done
) | src --unbuffered &
WRITER=$!
sl_h_record_pid WRITER $WRITER

BPORT=$(sl_h_freeport)
bin/sluice-broker --listen "127.0.0.1:$BPORT" --data "$D/broker" \
    > "$D/broker.log" 2>&1 &
sl_h_record_pid BROKER $!
sl_h_wait_for broker 20 bash -c "exec 3<>/dev/tcp/127.0.0.1/$BPORT"
SRCURL="mysql://$SL_SOURCE_REPL_USER@127.0.0.1:$SL_SOURCE_PORT"
TGTURL() { echo "mysql://$SL_TARGET_USER@127.0.0.1:$SL_TARGET_PORT/$1"; }
caught_up() { # TOPIC PART META
    local latest applied
    latest=$(bin/sluice --broker "127.0.0.1:$BPORT" offsets "$1" "$2" 2> /dev/null |
        awk '/latest/ { print $2 }')
    applied=$(tgt -e "SELECT COALESCE(MAX(next_offset),0) FROM $3.sluice_offsets" 2> /dev/null)
    [ -n "$latest" ] && [ -n "$applied" ] && [ "$applied" -ge "$latest" ]
}

# 1. sluice's snapshot.
t0=$(now)
bin/sluice-capture --source "$SRCURL" --password-file "$SL_SOURCE_PASSWORD_FILE" \
    --broker "127.0.0.1:$BPORT" --topic snap --name snap --server-id 9101 \
    --include 'bs\.t' --snapshot initial > "$D/capture1.log" 2>&1 &
CAP1=$!
sl_h_record_pid CAP1 $CAP1
bin/sluice-apply --broker "127.0.0.1:$BPORT" --topic snap --group g1 \
    --target "$(TGTURL bs_meta1)" --target-password-file "$SL_TARGET_PASSWORD_FILE" \
    --map bs=bs_snap > "$D/apply1.log" 2>&1 &
APP1=$!
sl_h_record_pid APP1 $APP1
probe 10 "$D/probe-snapshot" &
PROBE=$!
until grep -q 'snapshot complete' "$D/capture1.log"; do sleep 0.5; done
until caught_up snap bs.t bs_meta1; do sleep 0.5; done
t_snap=$(echo "$(now) - $t0" | bc)
wait $PROBE

# 2. dump and load, then replication from the dump's position.
t0=$(now)
mariadb-dump --no-defaults -uroot --socket="$SL_SOURCE_SOCKET" \
    --single-transaction --master-data=2 bs t > "$D/dump.sql"
pos=$(grep -m1 -oE "MASTER_LOG_FILE='[^']+', MASTER_LOG_POS=[0-9]+" "$D/dump.sql" |
    sed -E "s/MASTER_LOG_FILE='([^']+)', MASTER_LOG_POS=([0-9]+)/\1:\2/")
tgt bs_dump < "$D/dump.sql"
bin/sluice-capture --source "$SRCURL" --password-file "$SL_SOURCE_PASSWORD_FILE" \
    --broker "127.0.0.1:$BPORT" --topic dump --name dump --server-id 9102 \
    --include 'bs\.t' --snapshot never --start "$pos" > "$D/capture2.log" 2>&1 &
CAP2=$!
sl_h_record_pid CAP2 $CAP2
bin/sluice-apply --broker "127.0.0.1:$BPORT" --topic dump --group g2 \
    --target "$(TGTURL bs_meta2)" --target-password-file "$SL_TARGET_PASSWORD_FILE" \
    --map bs=bs_dump > "$D/apply2.log" 2>&1 &
APP2=$!
sl_h_record_pid APP2 $APP2
sleep 2
until caught_up dump bs.t bs_meta2; do sleep 0.5; done
t_dump=$(echo "$(now) - $t0" | bc)

# Both targets against the source, the writer paused.
touch "$D/pause-writer"
until [ -f "$D/writer-paused" ]; do sleep 0.1; done
sleep 2
want=$(src -e "$HASH bs.t")
for db in bs_snap bs_dump; do
    got=
    for _ in $(seq 1 300); do
        got=$(tgt -e "$HASH $db.t")
        [ "$got" = "$want" ] && break
        sleep 0.5
    done
    [ "$got" = "$want" ] || echo "MISMATCH $db: $got, source $want"
done
touch "$D/stop-writer"
kill "$CAP1" "$CAP2" "$APP1" "$APP2" 2> /dev/null || true
wait "$WRITER" 2> /dev/null || true
read -r n1 p50i p99i < "$D/probe-idle"
read -r n2 p50s p99s < "$D/probe-snapshot"
printf 'bench/snapshot: %d rows, about %d writes/s during both runs\n' "$ROWS" "$WPS"
printf '  sluice snapshot (stream never stopped): %.1f s to consistent and live\n' "$t_snap"
printf '  mariadb-dump | mariadb, then replication: %.1f s to consistent and live\n' "$t_dump"
printf '  point-query probe p50/p99: %s/%s us idle, %s/%s us during the snapshot (%s and %s queries)\n' \
    "$p50i" "$p99i" "$p50s" "$p99s" "$n1" "$n2"
