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
#             mariadb on a second target database (the way a user does it
#             by hand), then sluice-capture from the dump's position and
#             sluice-apply: timed until apply has caught up the same way.
#
# Fair to both sides: the same source, target server (and its settings),
# broker and writer; the point-query probe runs during both; each side's
# processes are stopped before the other side starts; the order alternates
# between rounds (the side read second may find the table in cache). Each
# side is checked against the source by row hash (the writer paused) before
# its processes stop.
#
# The summary gives, per round and as medians with ranges: seconds to
# consistent and live for both and their ratio; sluice's read rows/s by
# stage (the source's SELECTs, capture's publishing, apply's writing);
# CPU seconds per process; the point-query probe's p50/p99 without a
# snapshot, during sluice's snapshot and during the dump; the load
# average.
#
# BENCH_ROWS, BENCH_WRITES_PER_S (default 200), BENCH_ROUNDS (default 3)
# scale the run; BENCH_CAPTURE_FLAGS adds capture flags and
# BENCH_CAPTURE_BIN names another sluice-capture build for sluice's side
# (to compare builds within one run).
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
ROUNDS=${BENCH_ROUNDS:-3}
D=$SL_HARNESS_ROOT
src() { mariadb --no-defaults -uroot --socket="$SL_SOURCE_SOCKET" -N -B "$@"; }
tgt() { mariadb --no-defaults -uroot --socket="$SL_TARGET_SOCKET" -N -B "$@"; }
now() { date +%s.%N; }
calc() { echo "$*" | bc -l; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
# CPU seconds a process has used so far.
cpu() { awk '{ printf "%.2f", ($14 + $15) / 100 }' "/proc/$1/stat" 2> /dev/null || echo 0; }
HASH="SELECT COUNT(*), COALESCE(SUM(CRC32(CONCAT_WS('|',id,v,pad))),0) FROM"

echo "seeding $ROWS rows"
src -e "CREATE DATABASE bs; USE bs;
    CREATE TABLE t (id BIGINT PRIMARY KEY, v BIGINT, pad VARCHAR(200));
    INSERT INTO t SELECT seq, seq, REPEAT(CHAR(65 + seq % 26), 160)
        FROM seq_1_to_$ROWS"
SPID=$(cat "$D/SOURCE/pid")
TPID=$(cat "$D/TARGET/pid")

# The probe: point lookups on one connection for SECONDS, or until
# STOPFILE exists (READYFILE is made once it runs); latencies in
# microseconds.
probe() { # SECONDS OUTFILE [STOPFILE READYFILE]
    python3 - "$1" "$2" "$SL_SOURCE_SOCKET" "$ROWS" "${3:-}" "${4:-}" << 'EOF'
import os, random, subprocess, sys, time
secs, out, sock, rows, stop, ready = (float(sys.argv[1]), sys.argv[2],
                                      sys.argv[3], int(sys.argv[4]),
                                      sys.argv[5], sys.argv[6])
p = subprocess.Popen(["mariadb", "--no-defaults", "-uroot", "--socket=" + sock,
                      "-N", "-B", "--unbuffered"], stdin=subprocess.PIPE,
                     stdout=subprocess.PIPE, text=True, bufsize=1)
lat = []
end = time.time() + secs
while time.time() < end and not (stop and os.path.exists(stop)):
    k = random.randint(1, rows)
    t0 = time.perf_counter()
    p.stdin.write("SELECT v FROM bs.t WHERE id = %d;\n" % k)
    p.stdin.flush()
    p.stdout.readline()
    lat.append((time.perf_counter() - t0) * 1e6)
    if ready and len(lat) == 1:
        open(ready, "w").close()
p.stdin.close()
p.wait()
lat.sort()
with open(out, "w") as f:
    if lat:
        f.write("%d %.0f %.0f\n" % (len(lat), lat[len(lat) // 2],
                                     lat[int(len(lat) * 0.99)]))
    else:
        f.write("0 0 0\n")
EOF
}

# The steady writer (pausable, for the hash checks).
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
probe 10 "$D/probe-idle"

BPORT=$(sl_h_freeport)
bin/sluice-broker --listen "127.0.0.1:$BPORT" --data "$D/broker" \
    > "$D/broker.log" 2>&1 &
BPID=$!
sl_h_record_pid BROKER $BPID
sl_h_wait_for broker 20 bash -c "exec 3<>/dev/tcp/127.0.0.1/$BPORT"
SRCURL="mysql://$SL_SOURCE_REPL_USER@127.0.0.1:$SL_SOURCE_PORT"
TGTURL() { echo "mysql://$SL_TARGET_USER@127.0.0.1:$SL_TARGET_PORT/$1"; }
latest() { # TOPIC
    bin/sluice --broker "127.0.0.1:$BPORT" offsets "$1" bs.t 2> /dev/null |
        awk '/latest/ { print $2 }' || true
}
applied() { # META
    tgt -e "SELECT COALESCE(MAX(next_offset),0) FROM $1.sluice_offsets" 2> /dev/null || true
}
# Samples "seconds latest applied" every 0.5 s into FILE until the
# snapshot (when LOG is given) is complete and apply has caught up.
follow() { # T0 TOPIC META FILE [CAPTURE_LOG]
    local t l a done=0
    [ -n "${5:-}" ] || done=1
    : > "$4"
    while :; do
        t=$(calc "$(now) - $1")
        l=$(latest "$2")
        a=$(applied "$3")
        echo "$t ${l:-0} ${a:-0}" >> "$4"
        [ $done = 1 ] || ! grep -q 'snapshot complete' "$5" || done=1
        if [ $done = 1 ] && [ -n "$l" ] && [ -n "$a" ] && [ "$a" -ge "$l" ]; then
            break
        fi
        sleep 0.5
    done
}
# The writer paused, waits for the side's apply to catch up, then compares
# the target table with the source.
check() { # TOPIC META DB
    touch "$D/pause-writer"
    until [ -f "$D/writer-paused" ]; do sleep 0.1; done
    sleep 2
    local want got= l a
    want=$(src -e "$HASH bs.t")
    for _ in $(seq 1 600); do
        l=$(latest "$1")
        a=$(applied "$2")
        if [ -n "$l" ] && [ -n "$a" ] && [ "$a" -ge "$l" ]; then
            got=$(tgt -e "$HASH $3.t")
            [ "$got" = "$want" ] && break
        fi
        sleep 0.5
    done
    [ "$got" = "$want" ] || echo "MISMATCH $3: $got, source $want"
    rm -f "$D/pause-writer"
}
stop_pids() { for p in "$@"; do sl_h_kill "$p"; done; }
# The time of a capture log line's ts= (epoch seconds).
log_ts() { # LOG PATTERN
    local ts
    ts=$(grep -m1 "$2" "$1" | sed -E 's/^ts=([^ ]+) .*/\1/')
    [ -n "$ts" ] && date -d "$ts" +%s.%N
}

# Starts the probe (until the side ends) and notes the CPU counters.
begin_side() { # NAME
    rm -f "$D/probe-stop" "$D/probe-ready"
    probe 600 "$D/probe-$1" "$D/probe-stop" "$D/probe-ready" &
    PROBE=$!
    sl_h_wait_for probe 60 test -f "$D/probe-ready"
    CPU0="$(cpu "$SPID") $(cpu "$TPID") $(cpu "$BPID")"
}
# Stops the probe; res-NAME gets: seconds, CPU seconds of source, target,
# broker, capture, apply, then EXTRA.
end_side() { # NAME SECONDS [EXTRA]
    touch "$D/probe-stop"
    wait "$PROBE"
    local cs0 ct0 cb0
    read -r cs0 ct0 cb0 <<< "$CPU0"
    echo "$2 $(calc "$(cpu "$SPID") - $cs0") $(calc "$(cpu "$TPID") - $ct0")" \
        "$(calc "$(cpu "$BPID") - $cb0") $(cpu "$CAP") $(cpu "$APP") ${3:-}" > "$D/res-$1"
}
# Starts capture (BIN with FLAGS, topic and name NAME) and apply into
# target database DB; CAP and APP get their pids.
start_pair() { # NAME BIN DB FLAGS...
    local n=$1 bin=$2 db=$3
    shift 3
    "$bin" --source "$SRCURL" --password-file "$SL_SOURCE_PASSWORD_FILE" \
        --broker "127.0.0.1:$BPORT" --topic "$n" --name "$n" \
        --include 'bs\.t' "$@" > "$D/capture-$n.log" 2>&1 &
    CAP=$!
    sl_h_record_pid "CAP$n" $CAP
    bin/sluice-apply --broker "127.0.0.1:$BPORT" --topic "$n" --group "g$n" \
        --target "$(TGTURL "meta_$n")" --target-password-file "$SL_TARGET_PASSWORD_FILE" \
        --map "bs=$db" > "$D/apply-$n.log" 2>&1 &
    APP=$!
    sl_h_record_pid "APP$n" $APP
}

sluice_side() { # ROUND
    local r=$1 n=snap$1 t0 t_end
    tgt -e "DROP DATABASE IF EXISTS bs_snap; CREATE DATABASE bs_snap;
        CREATE DATABASE meta_$n;
        CREATE TABLE bs_snap.t (id BIGINT PRIMARY KEY, v BIGINT, pad VARCHAR(200))"
    local log="$D/capture-$n.log"
    begin_side "$n"
    t0=$(now)
    # shellcheck disable=SC2086
    start_pair "$n" "${BENCH_CAPTURE_BIN:-bin/sluice-capture}" bs_snap \
        --server-id $((9100 + r)) --snapshot initial --log-level debug \
        ${BENCH_CAPTURE_FLAGS:-}
    follow "$t0" "$n" "meta_$n" "$D/follow-$n" "$log"
    t_end=$(calc "$(now) - $t0")
    end_side "$n" "$t_end"
    # Stages: the source's SELECTs (rows over the sum of their read
    # times), capture (first chunk to the last published), apply (first
    # applied offset to caught up).
    local ta tb rows readms apply_from
    ta=$(log_ts "$log" 'snapshot of a table starts')
    tb=$(log_ts "$log" 'snapshot complete')
    rows=$(grep -m1 'snapshot complete' "$log" | sed -E 's/.* rows=([0-9]+).*/\1/')
    readms=$(grep 'snapshot chunk published' "$log" |
        sed -E 's/.* read_ms=([0-9.]+).*/\1/' | awk '{ s += $1 } END { print s + 0 }')
    apply_from=$(awk '$3 > 0 { print $1; exit }' "$D/follow-$n")
    echo "$rows $(calc "$rows * 1000 / ($readms + 0.001)")" \
        "$(calc "$rows / ($tb - $ta + 0.001)")" \
        "$(calc "$rows / ($t_end - ${apply_from:-0} + 0.001)")" > "$D/stages-s$r"
    check "$n" "meta_$n" bs_snap
    stop_pids "$CAP" "$APP"
    mv "$D/res-$n" "$D/res-s$r"
    mv "$D/probe-$n" "$D/probe-s$r"
}

dump_side() { # ROUND
    local r=$1 n=dump$1 t0 t1 t_end pos
    tgt -e "DROP DATABASE IF EXISTS bs_dump; CREATE DATABASE bs_dump;
        CREATE DATABASE meta_$n"
    begin_side "$n"
    t0=$(now)
    # Piped, as a user does it; tee keeps the head of the dump for the
    # position (-p: the head's reader may leave early). The subshell's
    # `times` gives the clients' CPU seconds (user and system).
    (
        mariadb-dump --no-defaults -uroot --socket="$SL_SOURCE_SOCKET" \
            --single-transaction --master-data=2 bs t |
            tee -p >(head -c 65536 > "$D/dump-head-$r") |
            tgt bs_dump
        times > "$D/times-$r"
    )
    t1=$(calc "$(now) - $t0")
    local clients
    clients=$(awk 'NR == 2 { for (i = 1; i <= NF; i++) { split($i, a, "m"); sub("s", "", a[2]);
        t += a[1] * 60 + a[2] } } END { print t + 0 }' "$D/times-$r")
    pos=$(grep -m1 -aoE "MASTER_LOG_FILE='[^']+', MASTER_LOG_POS=[0-9]+" "$D/dump-head-$r" |
        sed -E "s/MASTER_LOG_FILE='([^']+)', MASTER_LOG_POS=([0-9]+)/\1:\2/")
    start_pair "$n" bin/sluice-capture bs_dump \
        --server-id $((9200 + r)) --snapshot never --start "$pos"
    # The stream since the dump's position: caught up once apply has
    # everything capture published and capture has published something.
    follow "$t0" "$n" "meta_$n" "$D/follow-$n"
    t_end=$(calc "$(now) - $t0")
    end_side "$n" "$t_end" "$t1 $clients"
    check "$n" "meta_$n" bs_dump
    stop_pids "$CAP" "$APP"
    mv "$D/res-$n" "$D/res-d$r"
    mv "$D/probe-$n" "$D/probe-d$r"
}

for r in $(seq 1 "$ROUNDS"); do
    echo "round $r, load average $(load)"
    if [ $((r % 2)) = 1 ]; then
        sluice_side "$r"
        dump_side "$r"
    else
        dump_side "$r"
        sluice_side "$r"
    fi
    load > "$D/load-$r"
done
touch "$D/stop-writer"
wait "$WRITER" 2> /dev/null || true

# The summary.
med() { sort -g | awk '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
    printf "%.1f [%.1f-%.1f]", m, v[1], v[NR] }'; }
medi() { sort -g | awk '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
    printf "%.0f [%.0f-%.0f]", m, v[1], v[NR] }'; }
col() { # FILEPREFIX COLUMN
    for r in $(seq 1 "$ROUNDS"); do awk -v c="$2" '{ print $c }' "$D/$1$r"; done
}
printf 'bench/snapshot: %d rows, about %d writes/s, %d rounds\n' "$ROWS" "$WPS" "$ROUNDS"
for r in $(seq 1 "$ROUNDS"); do
    read -r ts _ < "$D/res-s$r"
    read -r td _ _ _ _ _ tl _ < "$D/res-d$r"
    printf '  round %d (%s first; load average after: %s): sluice %.1f s, dump-and-load %.1f s (dump | load %.1f s), dump/sluice %.2f\n' \
        "$r" "$([ $((r % 2)) = 1 ] && echo sluice || echo dump)" "$(cat "$D/load-$r")" \
        "$ts" "$td" "$tl" "$(calc "$td / $ts")"
    echo "$(calc "$td / $ts")" > "$D/ratio-$r"
done
echo "  seconds to consistent and live, median [range]:"
echo "    sluice snapshot (stream never stopped): $(col res-s 1 | med) s"
echo "    mariadb-dump | mariadb, then replication: $(col res-d 1 | med) s (of it dump | load: $(col res-d 7 | med) s)"
printf '    ratio dump/sluice: %s (above 1: sluice faster)\n' \
    "$(for r in $(seq 1 "$ROUNDS"); do cat "$D/ratio-$r"; done | sort -g |
        awk '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
            printf "%.2f [%.2f-%.2f]", m, v[1], v[NR] }')"
echo "  sluice read rows/s by stage, median [range]:"
echo "    source SELECTs (rows / time the chunk reads took): $(col stages-s 2 | medi)"
echo "    capture (first chunk to last published): $(col stages-s 3 | medi)"
echo "    apply (first row applied to caught up): $(col stages-s 4 | medi)"
echo "  CPU seconds during each side, median [range]:"
echo "    sluice: source $(col res-s 2 | med), target $(col res-s 3 | med), broker $(col res-s 4 | med), capture $(col res-s 5 | med), apply $(col res-s 6 | med)"
echo "    dump:   source $(col res-d 2 | med), target $(col res-d 3 | med), mariadb-dump, tee and mariadb $(col res-d 8 | med), broker $(col res-d 4 | med), capture $(col res-d 5 | med), apply $(col res-d 6 | med)"
read -r n0 p50i p99i < "$D/probe-idle"
echo "  point-query probe p50/p99 us, median [range]:"
printf '    no snapshot: %s/%s (%s queries)\n' "$p50i" "$p99i" "$n0"
echo "    during sluice's snapshot: $(col probe-s 2 | medi) / $(col probe-s 3 | medi) ($(col probe-s 1 | medi) queries)"
echo "    during the dump: $(col probe-d 2 | medi) / $(col probe-d 3 | medi) ($(col probe-d 1 | medi) queries)"
echo "  load average at the end: $(load)"
