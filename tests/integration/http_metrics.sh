#!/usr/bin/env bash
# The HTTP endpoint of the three programs (issue 19, part 1), with the real
# tools: promtool checks each program's /metrics (text format and
# OpenMetrics) and the alert rules of docs/monitoring/; a real prometheus
# server on 127.0.0.1 scrapes capture, broker and apply of a running
# pipeline, and its HTTP API reports every target up and a lag series.
# /healthz and /readyz: ready while the pipeline runs, 503 from capture
# while its source is down and from apply while the broker is down, ready
# again after. http-listen on a non-loopback address is refused unless
# http-allow-remote.
#
# Starts its own source mariadbd (it is stopped and restarted here), uses
# the harness's target mariadbd (SL_TARGET_*; skips without it).
# Prints PASS/FAIL/SKIP lines; exit status 1 when anything failed.
set -u
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$TOP" || exit 1
# shellcheck source=../harness/harness.sh
. tests/harness/harness.sh

NAME=http_metrics
failed=0
pass() { echo "PASS $NAME:$*"; }
fail() { echo "FAIL $NAME:$*"; failed=1; }
check() { if "${@:2}"; then pass "$1"; else fail "$1"; fi; }

if [ -z "${SL_TARGET_PORT:-}" ] || [ -z "${SL_TARGET_PASSWORD_FILE:-}" ]; then
    echo "SKIP $NAME: no target mariadbd (run under tests/run-integration.sh)"
    exit 0
fi
for p in sluice-broker sluice-capture sluice-apply; do
    [ -x "bin/$p" ] || { fail "setup: bin/$p is missing (run make)"; exit 1; }
done
for t in promtool prometheus curl; do
    command -v $t > /dev/null || { fail "setup: $t is missing (make deps)"; exit 1; }
done
TPWF=$SL_TARGET_PASSWORD_FILE TPORT=$SL_TARGET_PORT
# This test's own harness root and its own source server.
unset SL_HARNESS_ROOT
sl_h_init || { fail "setup: harness"; exit 1; }
D=$SL_HARNESS_ROOT/http
mkdir -p "$D"
sl_h_start_mariadb HSRC 7301 || { fail "setup: source mariadbd"; exit 1; }
src() { sl_h_mysql_root HSRC -N -B -e "$1"; }
tgt() {
    mariadb --no-defaults -h 127.0.0.1 -P "$TPORT" -u sluice -p"$(cat "$TPWF")" \
        -N -B -e "$1"
}
src "CREATE DATABASE hm; CREATE TABLE hm.t (id INT PRIMARY KEY, v INT)" ||
    { fail "setup: source tables"; exit 1; }
tgt "DROP DATABASE IF EXISTS hm; DROP DATABASE IF EXISTS hm_meta;
     CREATE DATABASE hm; CREATE DATABASE hm_meta;
     CREATE TABLE hm.t (id INT PRIMARY KEY, v INT)" ||
    { fail "setup: target tables"; exit 1; }

BPORT=$(sl_h_freeport) BH=$(sl_h_freeport) CH=$(sl_h_freeport) AH=$(sl_h_freeport)
start_broker() {
    bin/sluice-broker --listen "127.0.0.1:$BPORT" --kafka-listen off \
        --data "$D/broker" --http-listen "127.0.0.1:$BH" >> "$D/broker.log" 2>&1 &
    BPID=$!
    sl_h_record_pid broker $BPID
    sl_h_wait_for broker 20 bash -c "exec 3<>/dev/tcp/127.0.0.1/$BPORT"
}
start_broker || { fail "setup: broker did not start"; exit 1; }
bin/sluice-capture --source "mysql://repl@127.0.0.1:$SL_HSRC_PORT" \
    --password-file "$SL_HSRC_PASSWORD_FILE" --broker "127.0.0.1:$BPORT" \
    --topic hm --server-id 7302 --start end --heartbeat 200ms --timeout 2s \
    --include 'hm\.t' --http-listen "127.0.0.1:$CH" > "$D/capture.log" 2>&1 &
sl_h_record_pid capture $!
sl_h_wait_for capture 30 grep -q replicating "$D/capture.log" ||
    { fail "setup: capture did not start: $(tail -n 3 "$D/capture.log")"; exit 1; }
bin/sluice-apply --broker "127.0.0.1:$BPORT" --topic hm --group hm \
    --target "mysql://sluice@127.0.0.1:$TPORT/hm_meta" \
    --target-password-file "$TPWF" --workers 1 --poll 200ms \
    --http-listen "127.0.0.1:$AH" > "$D/apply.log" 2>&1 &
sl_h_record_pid apply $!

for i in $(seq 1 20); do src "INSERT INTO hm.t VALUES ($i, $i)"; done
src "UPDATE hm.t SET v = v + 1 WHERE id <= 5; DELETE FROM hm.t WHERE id = 20"
applied() { [ "$(tgt "SELECT COUNT(*), SUM(v) FROM hm.t")" = "$(printf '19\t195')" ]; }
check "pipeline applies the rows" sl_h_wait_for "rows applied" 60 applied

# Each program's /metrics, as text format 0.0.4 and as OpenMetrics.
scrape() { curl -sf "http://127.0.0.1:$1/metrics" > "$D/$2.prom"; }
has() { grep -Eq "$2" "$D/$1.prom"; }
for pr in "capture $CH" "broker $BH" "apply $AH"; do
    set -- $pr
    # The figures are rendered once or twice a second: wait for the rows.
    case $1 in
    capture) want='^sluice_capture_rows_total\{database="hm",table="t",op="insert"\} 20$' ;;
    broker) want='^sluice_broker_partition_end_offset\{topic="hm",partition="hm.t"\} [1-9]' ;;
    apply) want='^sluice_apply_rows_applied_total\{op="delete"\} 1$' ;;
    esac
    check "$1: /metrics has its figures" sl_h_wait_for "$1 metrics" 20 \
        bash -c "curl -sf http://127.0.0.1:$2/metrics | grep -Eq '$want'"
    scrape "$2" "$1"
    if promtool check metrics < "$D/$1.prom" > "$D/$1.lint" 2>&1; then
        pass "$1: promtool check metrics"
    else
        fail "$1: promtool check metrics: $(head -n 5 "$D/$1.lint")"
    fi
    ctype=$(curl -sf -o "$D/$1.om" -w '%{content_type}' \
        -H 'Accept: application/openmetrics-text; version=1.0.0' \
        "http://127.0.0.1:$2/metrics")
    if [[ $ctype == application/openmetrics-text* ]] &&
        [ "$(tail -n 1 "$D/$1.om")" = "# EOF" ] &&
        ! grep -q '^# TYPE [a-z_]*_total counter' "$D/$1.om"; then
        pass "$1: OpenMetrics on Accept"
    else
        fail "$1: OpenMetrics on Accept (content type '$ctype')"
    fi
    check "$1: /healthz" test "$(curl -s "http://127.0.0.1:$2/healthz")" = ok
    check "$1: /readyz ready" sl_h_wait_for "$1 ready" 20 \
        curl -sf "http://127.0.0.1:$2/readyz"
    check "$1: unknown path is 404" test \
        "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$2/nope")" = 404
done
# Figures that settle a moment after the rows are applied (apply commits
# its broker offsets now and then): waited for, each rendered again.
eventually() {
    sl_h_wait_for "$2" 30 bash -c \
        "curl -sf http://127.0.0.1:$1/metrics | grep -Eq '$2'"
}
check "capture: checkpoint age" eventually $CH \
    '^sluice_capture_checkpoint_age_seconds [0-9]'
check "capture: reconnects by peer" eventually $CH \
    '^sluice_capture_reconnects_total\{peer="source"\} 0$'
check "broker: fsync histogram" eventually $BH \
    '^sluice_broker_fsync_duration_seconds_bucket\{le="\+Inf"\} [1-9]'
# Apply commits its broker offset at most once a second (the target's
# sluice_offsets row is its position of record), so the broker's lag of
# group hm may rest above 0: its series is there, with a value.
check "broker: group lag" eventually $BH \
    '^sluice_broker_group_lag\{group="hm",topic="hm",partition="hm.t"\} [0-9]+$'
# The figure is the broker's own: `sluice offsets --group` says the same.
cli_lag=$(bin/sluice --broker "127.0.0.1:$BPORT" offsets hm hm.t --group hm |
    sed -n 's/^lag //p')
metric_lag() {
    [ "$(curl -sf "http://127.0.0.1:$BH/metrics" |
        sed -n 's/^sluice_broker_group_lag{group="hm",topic="hm",partition="hm.t"} //p')" = "$cli_lag" ]
}
check "broker: group lag agrees with sluice offsets ($cli_lag)" \
    sl_h_wait_for "lag agrees" 10 metric_lag
check "broker: disk free" eventually $BH '^sluice_broker_disk_free_bytes [1-9]'
check "apply: lag series" eventually $AH \
    '^sluice_apply_lag_offsets\{topic="hm",partition="hm.t"\} 0$'
check "apply: commit latency histogram" eventually $AH \
    '^sluice_apply_target_commit_duration_seconds_count [1-9]'

if promtool check rules docs/monitoring/alerts.yml > "$D/rules.out" 2>&1; then
    pass "promtool check rules"
else
    fail "promtool check rules: $(cat "$D/rules.out")"
fi
# The dashboard's and the alerts' PromQL parse, and use only metrics the
# programs export (the scrapes above; tests/integration/monitoring_exprs.py).
python3 tests/integration/monitoring_exprs.py docs/monitoring/grafana-dashboard.json \
    docs/monitoring/alerts.yml "$D/capture.prom" "$D/broker.prom" "$D/apply.prom" ||
    failed=1

# A real prometheus server scrapes the three.
PPORT=$(sl_h_freeport)
cat > "$D/prometheus.yml" << YML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: sluice-capture
    static_configs: [{targets: ["127.0.0.1:$CH"]}]
  - job_name: sluice-broker
    static_configs: [{targets: ["127.0.0.1:$BH"]}]
  - job_name: sluice-apply
    static_configs: [{targets: ["127.0.0.1:$AH"]}]
YML
prometheus --config.file="$D/prometheus.yml" --storage.tsdb.path="$D/tsdb" \
    --web.listen-address="127.0.0.1:$PPORT" > "$D/prometheus.log" 2>&1 &
PROM=$!
sl_h_record_pid prometheus $PROM
api() { curl -sf "http://127.0.0.1:$PPORT/api/v1/$1"; }
all_up() {
    api targets | python3 -c '
import json, sys
t = json.load(sys.stdin)["data"]["activeTargets"]
sys.exit(0 if len(t) == 3 and all(x["health"] == "up" for x in t) else 1)'
}
lag_series() {
    api 'query?query=sluice_apply_lag_offsets' | python3 -c '
import json, sys
r = json.load(sys.stdin)["data"]["result"]
sys.exit(0 if any(x["metric"].get("partition") == "hm.t" for x in r) else 1)'
}
check "prometheus: every target up" sl_h_wait_for "targets up" 60 all_up
check "prometheus: lag series present" sl_h_wait_for "lag series" 30 lag_series
sl_h_kill $PROM

# Readiness follows the source and the broker.
code() { curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/$2"; }
is_code() { [ "$(code "$1" "$2")" = "$3" ]; }
sl_h_stop HSRC
check "capture: /readyz 503 while the source is down" \
    sl_h_wait_for "capture not ready" 30 is_code "$CH" readyz 503
check "capture: /healthz still 200" is_code "$CH" healthz 200
sl_h_start_mariadb HSRC 7301 || fail "setup: restarting the source"
check "capture: ready again once the source is back" \
    sl_h_wait_for "capture ready" 60 is_code "$CH" readyz 200
sl_h_kill $BPID
# Capture learns that the broker is gone when it has something to send.
src "INSERT INTO hm.t VALUES (100, 100)"
check "apply: /readyz 503 while the broker is down" \
    sl_h_wait_for "apply not ready" 30 is_code "$AH" readyz 503
check "capture: /readyz 503 while the broker is down" \
    sl_h_wait_for "capture not ready" 30 is_code "$CH" readyz 503
start_broker || fail "setup: broker did not restart"
check "apply: ready again once the broker is back" \
    sl_h_wait_for "apply ready" 60 is_code "$AH" readyz 200
check "capture: ready again once the broker is back" \
    sl_h_wait_for "capture ready" 60 is_code "$CH" readyz 200
check "broker: ready after its restart" \
    sl_h_wait_for "broker ready" 30 is_code "$BH" readyz 200

# A non-loopback address is refused unless http-allow-remote.
XP=$(sl_h_freeport)
refused() {
    local name=$1 out
    shift
    out=$(timeout 30 "$@" --http-listen "0.0.0.0:$XP" 2>&1)
    if [ $? -ne 0 ] && [[ $out == *"refusing to serve HTTP on 0.0.0.0:$XP"* ]]; then
        pass "$name: non-loopback http-listen refused"
    else
        fail "$name: non-loopback http-listen refused (got: ${out:0:300})"
    fi
}
refused broker bin/sluice-broker --listen "127.0.0.1:$(sl_h_freeport)" \
    --kafka-listen off --data "$D/broker2"
refused capture bin/sluice-capture --source "mysql://repl@127.0.0.1:1" \
    --password-file "$SL_HSRC_PASSWORD_FILE" --broker "127.0.0.1:1"
refused apply bin/sluice-apply --broker "127.0.0.1:1" --topic x \
    --target "mysql://sluice@127.0.0.1:$TPORT/hm_meta" \
    --target-password-file "$TPWF"
bin/sluice-broker --listen "127.0.0.1:$(sl_h_freeport)" --kafka-listen off \
    --data "$D/broker3" --http-listen "0.0.0.0:$XP" --http-allow-remote \
    > "$D/broker3.log" 2>&1 &
B3=$!
sl_h_record_pid broker3 $B3
check "broker: non-loopback allowed with http-allow-remote" \
    sl_h_wait_for "broker3 http" 20 is_code "$XP" healthz 200
sl_h_kill $B3

exit $failed
