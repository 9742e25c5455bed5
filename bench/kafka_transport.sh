#!/usr/bin/env bash
# bench/kafka_transport: the same pipeline on both transports (issue 16),
# on the harness servers: sluice-capture into sluice-broker through the
# text protocol and through its Kafka listener (--broker kafka://...,
# lib/stream_kafka*.c over librdkafka), capture throughput (bench/capture),
# and the whole pipeline through each (bench/e2e: the sustained rate until
# the target holds every row, which is apply's rate from that transport,
# and commit-to-apply latency p50/p99 at RATE rows/s), with the peak memory
# of capture and apply.
#
# Each round starts one harness suite and runs both transports back to
# back in it (each program with a new broker and empty data directory),
# text first in odd rounds and Kafka first in even ones, so
# neither always meets the warmer (or the more loaded) machine. The summary
# gives, per figure, the median over the rounds and the range, with the
# load average before and after; the raw output of every program is kept
# in the round logs (their paths are printed).
#
# Arguments: CAPTURE_ROWS E2E_ROWS RATE SECONDS ROUNDS (defaults 1000000
# 500000 10000 10 3; docs/performance.md has the figures and the sizes
# they used). Asserts nothing.
set -eu
cd "$(dirname "$0")/.."
crows=${1:-1000000} erows=${2:-500000} rate=${3:-10000} secs=${4:-10}
rounds=${5:-3}
out=$(mktemp -d "${TMPDIR:-/tmp}/kafka_transport.XXXXXX")
load0=$(cut -d' ' -f1-3 /proc/loadavg)
echo "bench/kafka_transport: $rounds rounds of capture $crows rows and e2e" \
    "$erows rows + $rate rows/s for $secs s, per transport; logs in $out"
for r in $(seq 1 "$rounds"); do
    if [ $((r % 2)) -eq 1 ]; then order="text kafka"; else order="kafka text"; fi
    echo "=== round $r ($order), load average $(cut -d' ' -f1-3 /proc/loadavg)"
    # One suite per round; the transport switch is read by
    # sl_harness_start_broker() in each bench program.
    tests/harness/harness.sh run bash -c '
        for t in '"$order"'; do
            if [ $t = kafka ]; then export SL_BENCH_TRANSPORT=kafka
            else unset SL_BENCH_TRANSPORT; fi
            # Each program keeps its broker under the suite root: a fresh
            # one per transport, or the second would start on the first
            # one'"'"'s records (capture on Kafka then reads back through
            # all of them looking for its own sequence headers).
            rm -rf "$SL_HARNESS_ROOT/bench-capture" "$SL_HARNESS_ROOT/bench-e2e"
            # ... and apply a target without the other run'"'"'s offsets.
            mariadb --no-defaults -uroot --socket="$SL_TARGET_SOCKET" \
                -e "DROP DATABASE IF EXISTS sluice"
            build/bench/capture '"$crows $rate $secs"' > '"$out"'/r'"$r"'.$t.capture 2>&1 || true
            build/bench/e2e '"$erows $rate $secs"' > '"$out"'/r'"$r"'.$t.e2e 2>&1 || true
        done' > "$out/r$r.harness" 2>&1 || true
    for t in $order; do
        echo "--- $t"
        grep -hE "throughput|latency|sustained|peak RSS|did not|cannot" \
            "$out/r$r.$t.capture" "$out/r$r.$t.e2e" || true
    done
done
load1=$(cut -d' ' -f1-3 /proc/loadavg)

# One figure per round and transport, from the programs' own lines.
fig() { # fig TRANSPORT FILE-SUFFIX AWK-PROGRAM
    for r in $(seq 1 "$rounds"); do
        awk "$3" "$out/r$r.$1.$2" 2>/dev/null | head -1
    done
}
# median, min and max of the numbers on stdin: "MEDIAN (MIN-MAX)".
stat() {
    sort -g | awk '{v[NR] = $1} END {
        if (NR == 0) { print "n/a"; exit }
        m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "%s (%s-%s)", m, v[1], v[NR] }'
}
median() { sort -g | awk '{v[NR] = $1} END {
    if (NR) print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
cap_rate='/throughput:/ { for (i = 1; i <= NF; i++) if ($i == "rows/s") { print $(i - 1); exit } }'
cap_rss='/throughput:/ { for (i = 1; i <= NF; i++) if ($i == "KiB)") { printf "%.0f\n", $(i - 1) / 1024; exit } }'
e2e_rate='/sustained:/ { for (i = 1; i <= NF; i++) if ($i == "rows/s" && $(i + 1) == "end") { print $(i - 1); exit } }'
lat_p() { echo '/commit-to-apply/ { for (i = 1; i <= NF; i++) if ($i == "'"$1"'") { print $(i + 1); exit } }'; }
rss_of() { echo '/peak RSS:/ { for (i = 1; i <= NF; i++) if ($i == "'"$1"'") { printf "%.0f\n", $(i + 1) / 1024; exit } }'; }
ratio() { # ratio KAFKA-MEDIAN TEXT-MEDIAN
    awk -v k="$1" -v t="$2" 'BEGIN { if (k != "" && t > 0) printf "%.2fx", k / t; else print "n/a" }'
}
row() { # row LABEL AWK SUFFIX [ratio]
    local tx kx
    tx=$(fig text "$3" "$2" | stat)
    kx=$(fig kafka "$3" "$2" | stat)
    local rt=""
    if [ "${4:-}" = ratio ]; then
        rt=$(ratio "$(fig kafka "$3" "$2" | median)" "$(fig text "$3" "$2" | median)")
    fi
    printf '| %s | %s | %s | %s |\n' "$1" "$tx" "$kx" "$rt"
}
echo
echo "summary: median (min-max) of $rounds rounds; load average $load0 before, $load1 after"
echo "| figure | text protocol | Kafka listener | Kafka/text (medians) |"
echo "|---|---|---|---|"
row "capture, binlog -> broker, rows/s ($crows rows)" "$cap_rate" capture ratio
row "apply = end-to-end sustained, rows/s ($erows rows)" "$e2e_rate" e2e ratio
row "commit-to-apply p50 at $rate rows/s, ms" "$(lat_p p50)" e2e
row "commit-to-apply p99 at $rate rows/s, ms" "$(lat_p p99)" e2e
row "peak RSS capture, MiB (bench/capture)" "$cap_rss" capture
row "peak RSS capture, MiB (bench/e2e)" "$(rss_of sluice-capture)" e2e
row "peak RSS apply, MiB (bench/e2e)" "$(rss_of sluice-apply)" e2e
