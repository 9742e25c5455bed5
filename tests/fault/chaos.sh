#!/usr/bin/env bash
# The chaos test (docs/chaos.md): a seeded mixed workload on the source
# while a controller kill -9s and restarts capture, broker and apply at
# random moments (also in quick succession, and all three at once), stops
# them for a while (SIGSTOP), kills the replication connection on the
# server (KILL of the Binlog Dump thread), restarts the target and the
# source (cleanly or by kill -9) and rotates the source's binlog. Then
# everything is restarted once more, and once caught up (bounded wait):
# target tables equal source tables, every partition equals the source's
# binlog as the offline decoder reads it (in commit order, no gap, no
# duplicate), every transaction the workload saw committed is in the target
# and the broker, and nothing exited by itself. Last, a deterministic cut of
# the stream inside a 300,000-row transaction (--scenario alone runs it).
#
#   tests/fault/chaos.sh [--seconds N] [--seed S] [--rate TRX_PER_S]
#                        [--kinds K,K,...] [--big yes|no]
#   tests/fault/chaos.sh --scenario cut-in-transaction [--rows N]
#
# Without --seconds it is the short form the integration runner runs
# (about two minutes). It needs the harness's servers (SL_* variables):
# `make chaos CHAOS_SECONDS=600 CHAOS_SEED=42` provides them, as does
# tests/run-integration.sh. Prints "# ..." progress lines and one PASS or
# FAIL line per check; exits non-zero on any failure.
set -u
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$TOP" || exit 1
# shellcheck source=../harness/harness.sh
. tests/harness/harness.sh

ALL_KINDS=capture,broker,apply,dump,target,rotate,all,flap,stall,source
usage() {
    echo "usage: $0 [--seconds N] [--seed S] [--rate TRX_PER_S]" >&2
    echo "          [--kinds K,K,...] [--big yes|no]" >&2
    echo "       $0 --scenario cut-in-transaction [--rows N]" >&2
    echo "  kinds: $ALL_KINDS" >&2
    exit 2
}

seconds= seed= rate= kinds= big= scenario= cut_rows=300000
while [ $# -gt 0 ]; do
    case $1 in
    --seconds) [ $# -ge 2 ] || usage; seconds=$2; shift 2 ;;
    --seed) [ $# -ge 2 ] || usage; seed=$2; shift 2 ;;
    --rate) [ $# -ge 2 ] || usage; rate=$2; shift 2 ;;
    --kinds) [ $# -ge 2 ] || usage; kinds=$2; shift 2 ;;
    --big) [ $# -ge 2 ] || usage; big=$2; shift 2 ;;
    --scenario) [ $# -ge 2 ] || usage; scenario=$2; shift 2 ;;
    --rows) [ $# -ge 2 ] || usage; cut_rows=$2; shift 2 ;;
    -h|--help) usage ;;
    *) usage ;;
    esac
done
for v in "$seconds" "$seed" "$rate"; do
    case $v in ''|*[!0-9]*) [ -z "$v" ] || usage ;; esac
done
case $big in ''|yes|no) ;; *) usage ;; esac
case $scenario in ''|cut-in-transaction) ;; *) usage ;; esac
case $cut_rows in ''|*[!0-9]*) usage ;; esac
for k in ${kinds//,/ }; do
    case ",$ALL_KINDS," in *",$k,"*) ;; *) usage ;; esac
done

# The short form (no --seconds) is what `make test` runs.
short=0
if [ -z "$seconds" ]; then
    short=1
    seconds=75
fi
kinds=${kinds:-$ALL_KINDS}
big=${big:-yes}
# The seed is printed first, so any run can be repeated with --seed.
[ -n "$seed" ] || seed=$(( $(od -An -N4 -tu4 /dev/urandom) % 1000000 ))
rate=${rate:-120}

if [ -z "${SL_SOURCE_PORT:-}" ] || [ -z "${SL_TARGET_PORT:-}" ] ||
   [ -z "${SL_HARNESS_ROOT:-}" ]; then
    echo "SKIP chaos: needs the harness's servers (make chaos, or tests/run-integration.sh)"
    exit 0
fi
TOOL=$TOP/build/tests/fault/chaos_tool
for p in "$TOOL" "$SL_BIN/sluice-broker" "$SL_BIN/sluice-capture" "$SL_BIN/sluice-apply"; do
    if [ ! -x "$p" ]; then
        echo "FAIL chaos: $p is missing (run make)"
        exit 1
    fi
done

RANDOM=$seed
W=$SL_HARNESS_ROOT/chaos-$$
mkdir -p "$W/broker"
T0=$(date +%s.%N)
elapsed() { awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
note() { echo "# [$(elapsed)s] $*"; echo "[$(elapsed)s] $*" >> "$W/chaos.log"; }
# rnd_ms LO HI: MS = a random number of milliseconds in [LO, HI), from the
# seeded stream (a variable, not output: $(...) would run in a subshell,
# whose RANDOM does not advance ours).
rnd_ms() { MS=$(( $1 + (RANDOM * 32768 + RANDOM) % ($2 - $1) )); }
sleep_ms() { sleep "$(awk -v m="$1" 'BEGIN { printf "%.3f", m / 1000 }')"; }

fails=0
pass() { echo "PASS chaos_$1"; }
fail() { echo "FAIL chaos_$1: $2"; fails=$((fails + 1)); }

src_sql() { sl_h_mysql_root SOURCE -N -B "$@"; }
dst_sql() { sl_h_mysql_root TARGET -N -B "$@"; }

# ---- The cut-in-transaction scenario: a deterministic check of capture's
# resume inside a transaction (the chaos run found capture stopping with a
# 409 there, losing rows, and duplicating before its first checkpoint; see
# docs/chaos.md). One table, one big transaction, the replication stream cut
# by a KILL of the dump thread while capture is in the middle of it; once
# capture's checkpoint is the source's end, the partition must hold every
# row and the commit, once, and capture must not have exited. Run twice:
# before capture wrote any checkpoint, and after one. Runs after the chaos
# checks, or alone with --scenario cut-in-transaction.
cut_pids=()
cut_q() { sl_h_mysql_root SOURCE -N -B -e "$1"; }
cut_latest() {
    "$SL_BIN/sluice" --broker "$1" offsets "$2" "$3" 2>/dev/null |
        awk '/latest/ { print $2 }'
}
start_cut_capture() {
    "$SL_BIN/sluice-capture" --snapshot never \
        --source "mysql://$SL_SOURCE_REPL_USER@127.0.0.1:$SL_SOURCE_PORT" \
        --password-file "$SL_SOURCE_PASSWORD_FILE" --server-id 7302 \
        --broker "$cut_broker" --topic "$cut_db" --start "$cut_file:$cut_pos" \
        --include "$cut_db\\..*" --checkpoint-interval 100ms \
        >> "$CUT_DIR/$cut_db-capture.log" 2>&1 &
    cut_cap=$!
    cut_pids+=($cut_cap)
    sl_h_record_pid chaos-capture $cut_cap
}
run_cut_scenario() {
    CUT_DIR=$SL_HARNESS_ROOT/chaos-cut-$$
    mkdir -p "$CUT_DIR"
    local variant port expect at cut_at i n id ins ef ep exited cp got detail
    for variant in before-first-checkpoint after-a-checkpoint; do
        cut_db=cut_${variant//-/_}
        cut_q "DROP DATABASE IF EXISTS $cut_db; CREATE DATABASE $cut_db;
           CREATE TABLE $cut_db.t (id INT PRIMARY KEY, pad CHAR(100));
           FLUSH BINARY LOGS"
        read -r cut_file cut_pos _ < <(cut_q "SHOW MASTER STATUS")
        port=$(sl_h_freeport) cut_broker=127.0.0.1:$port
        mkdir -p "$CUT_DIR/$cut_db"
        "$SL_BIN/sluice-broker" --listen "$cut_broker" --data "$CUT_DIR/$cut_db" \
            > "$CUT_DIR/$cut_db-broker.log" 2>&1 &
        cut_pids+=($!); sl_h_record_pid chaos-broker $!
        sl_h_wait_for broker 20 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port"
        start_cut_capture
        expect=$((cut_rows + 1))
        if [ $variant = after-a-checkpoint ]; then
            cut_q "INSERT INTO $cut_db.t VALUES (0, 'first')"
            expect=$((expect + 2))
            sleep 1.5
        fi
        cut_q "INSERT INTO $cut_db.t SELECT seq, REPEAT('x', 100)
               FROM $cut_db.seq_1_to_$cut_rows" &
        ins=$!
        at=$((cut_rows / 6)) cut_at=
        for ((i = 0; i < 3000; i++)); do
            n=$(cut_latest "$cut_broker" "$cut_db" "$cut_db.t")
            if [ -n "$n" ] && [ "$n" -gt "$at" ]; then
                for id in $(cut_q "SELECT ID FROM information_schema.PROCESSLIST
                               WHERE COMMAND LIKE 'Binlog Dump%'"); do
                    cut_q "KILL $id" 2>/dev/null
                done
                cut_at=$n
                break
            fi
            sleep 0.05
        done
        wait $ins
        read -r ef ep _ < <(cut_q "SHOW MASTER STATUS")
        exited= cp=
        for ((i = 0; i < 900; i++)); do
            if ! kill -0 $cut_cap 2>/dev/null; then
                wait $cut_cap; exited="$exited status-$?"
                start_cut_capture
            fi
            n=$(cut_latest "$cut_broker" __sluice_capture "$cut_db")
            [ -n "$n" ] && [ "$n" -gt 0 ] &&
                cp=$("$SL_BIN/sluice" --broker "$cut_broker" tail __sluice_capture \
                     "$cut_db" --from $((n - 1)) 2>/dev/null | head -n 1)
            case $cp in *"\"file\":\"$ef\",\"pos\":$ep,"*) break ;; esac
            sleep 0.2
        done
        got=$(cut_latest "$cut_broker" "$cut_db" "$cut_db.t")
        detail="stream cut when the partition held ${cut_at:-?} messages; capture exits:${exited:- none}; checkpoint ${cp:-none}; partition holds ${got:-?} messages, the binlog has $expect"
        if [ -n "$cut_at" ] && [ "$got" = "$expect" ] && [ -z "$exited" ]; then
            pass "cut_in_transaction_$variant"
            echo "# $detail"
        else
            fail "cut_in_transaction_$variant" "$detail (logs in $CUT_DIR)"
        fi
        kill -TERM $cut_cap 2>/dev/null
        cut_q "DROP DATABASE $cut_db"
    done
}
if [ -n "$scenario" ]; then
    trap 'for p in "${cut_pids[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done' EXIT
    run_cut_scenario
    [ $fails = 0 ]
    exit
fi

# ---- settings drawn from the seed, so that runs also cover small segments
# (rollover and recovery across files), frequent broker checkpoints (a kill
# during one), the fsync modes, a small in-flight window (capture drains
# inside transactions), and small fetches, groups and batches in apply.
# pick WORD...: PICKED = one of the words, from the seeded stream.
pick() { local a=("$@"); PICKED=${a[RANDOM % ${#a[@]}]}; }
pick always "interval 50" never; B_FSYNC=$PICKED
pick 5s 250ms; B_CKPT=$PICKED
pick 1GiB 4MiB; B_SEGMENT=$PICKED
pick 64MiB 256KiB; C_INFLIGHT=$PICKED
pick 100ms 1s; C_CKPT=$PICKED
pick 1 3; A_WORKERS=$PICKED
pick 1MiB 32KiB; A_FETCH=$PICKED
pick 5000 20; A_GROUP=$PICKED
pick 512KiB 8KiB; A_BATCH=$PICKED
SETTINGS="broker --fsync '$B_FSYNC' --checkpoint-interval $B_CKPT --segment-size $B_SEGMENT; capture --max-inflight $C_INFLIGHT --checkpoint-interval $C_CKPT; apply --workers $A_WORKERS --fetch-bytes $A_FETCH --group-rows $A_GROUP --batch-bytes $A_BATCH"

# ---- our processes: started here, recorded with the harness, reaped here.
BPORT=$(sl_h_freeport)
BROKER=127.0.0.1:$BPORT
declare -A PID=()
declare -A DOWN=()
unexpected=""

# start_broker [nowait]: nowait returns at once (a flap kills it while it
# may still be recovering its log).
start_broker() {
    "$SL_BIN/sluice-broker" --listen "$BROKER" --data "$W/broker" \
        --fsync "$B_FSYNC" --checkpoint-interval "$B_CKPT" \
        --segment-size "$B_SEGMENT" >> "$W/broker.log" 2>&1 &
    PID[broker]=$!
    sl_h_record_pid chaos-broker "${PID[broker]}"
    [ "${1:-}" = nowait ] && return 0
    sl_h_wait_for "chaos broker" 20 bash -c "exec 3<>/dev/tcp/127.0.0.1/$BPORT"
}

start_capture() {
    "$SL_BIN/sluice-capture" --snapshot never \
        --source "mysql://$SL_SOURCE_REPL_USER@127.0.0.1:$SL_SOURCE_PORT" \
        --password-file "$SL_SOURCE_PASSWORD_FILE" --server-id 7301 \
        --broker "$BROKER" --topic chaos --start "$START_FILE:$START_POS" \
        --include 'chaos\..*' --heartbeat 500ms --timeout 5s \
        --checkpoint-interval "$C_CKPT" --max-inflight "$C_INFLIGHT" \
        --report-interval 10s >> "$W/capture.log" 2>&1 &
    PID[capture]=$!
    sl_h_record_pid chaos-capture "${PID[capture]}"
}

start_apply() {
    "$SL_BIN/sluice-apply" --broker "$BROKER" --topic chaos --group chaos \
        --workers "$A_WORKERS" --fetch-bytes "$A_FETCH" \
        --group-rows "$A_GROUP" --batch-bytes "$A_BATCH" \
        --target "mysql://$SL_TARGET_USER@127.0.0.1:$SL_TARGET_PORT/chaos_meta" \
        --target-password-file "$SL_TARGET_PASSWORD_FILE" \
        --map chaos=chaos_dst --drift stop --poll 200ms --grace 5s \
        --stats-interval 10s >> "$W/apply.log" 2>&1 &
    PID[apply]=$!
    sl_h_record_pid chaos-apply "${PID[apply]}"
}

start() { "start_$1" "${@:2}" || return 1; DOWN[$1]=; }

# Notes a program that exited without being killed (a crash or a give-up
# is a finding), and starts it again so the run goes on.
check_alive() {
    local p status
    for p in broker capture apply; do
        [ -n "${DOWN[$p]:-}" ] && continue
        if ! kill -0 "${PID[$p]}" 2>/dev/null; then
            wait "${PID[$p]}"
            status=$?
            note "$p exited by itself with status $status"
            unexpected="$unexpected $p(status $status at $(elapsed)s)"
            start "$p"
        fi
    done
}

kill9() {
    local p=$1
    kill -KILL "${PID[$p]}" 2>/dev/null
    wait "${PID[$p]}" 2>/dev/null
    DOWN[$p]=1
}

stop_ours() {
    local p
    for p in apply capture broker; do
        [ -n "${PID[$p]:-}" ] || continue
        kill -KILL "${PID[$p]}" 2>/dev/null
        wait "${PID[$p]}" 2>/dev/null
    done
    for p in "${cut_pids[@]}"; do
        kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    [ -n "${WL_PID:-}" ] && kill -KILL "$WL_PID" 2>/dev/null
    [ -n "${WL_PID:-}" ] && wait "$WL_PID" 2>/dev/null
    # Our entries in the harness's list are dead now; drop them so the
    # suite's cleanup never signals a recycled pid.
    # The same for the servers restarted here: only their current pid stays.
    local pids=$SL_HARNESS_ROOT/pids tcur scur
    tcur=$(cat "$SL_HARNESS_ROOT/TARGET/pid" 2>/dev/null)
    scur=$(cat "$SL_HARNESS_ROOT/SOURCE/pid" 2>/dev/null)
    if [ -f "$pids" ]; then
        awk -v t="$tcur" -v s="$scur" '$1 !~ /^chaos-/ &&
                !($1 == "TARGET" && $2 != t) && !($1 == "SOURCE" && $2 != s)' \
            "$pids" > "$pids.chaos" && cat "$pids.chaos" > "$pids"
        rm -f "$pids.chaos"
    fi
}
trap 'stop_ours' EXIT
trap 'note "interrupted"; exit 130' INT TERM

# ---- the schema, on both sides, and where capture starts.
echo "# chaos: seed $seed, $seconds s of faults under load (${rate} trx/s, big transactions: $big), work dir $W"
echo "# faults: $kinds"
echo "# settings: $SETTINGS"
if [ $short = 1 ]; then
    echo "# repeat with: tests/harness/harness.sh run tests/fault/chaos.sh --seed $seed"
else
    echo "# repeat with: tests/harness/harness.sh run tests/fault/chaos.sh --seconds $seconds --seed $seed --rate $rate --kinds $kinds --big $big"
fi
DDL="
CREATE TABLE acct (id INT PRIMARY KEY, owner VARCHAR(40) NOT NULL UNIQUE,
  bal DECIMAL(14,2) NOT NULL, note VARCHAR(200), ts DATETIME(6) NOT NULL);
CREATE TABLE item (id BIGINT PRIMARY KEY, acct INT NOT NULL, qty INT NOT NULL,
  tag VARCHAR(20), body TEXT, KEY (acct));
CREATE TABLE pair (a INT, b BIGINT, v BIGINT, PRIMARY KEY (a, b));
CREATE TABLE bag (k INT, v VARCHAR(16));
CREATE TABLE ledger (trx BIGINT PRIMARY KEY, worker INT, kind INT,
  ts DATETIME(6));"
if ! src_sql -e "DROP DATABASE IF EXISTS chaos; CREATE DATABASE chaos;
        USE chaos; $DDL FLUSH BINARY LOGS;" ||
   ! dst_sql -e "DROP DATABASE IF EXISTS chaos_dst; DROP DATABASE IF EXISTS chaos_meta;
        CREATE DATABASE chaos_dst; CREATE DATABASE chaos_meta; USE chaos_dst; $DDL"; then
    echo "FAIL chaos_setup: could not create the schema"
    exit 1
fi
read -r START_FILE START_POS _ < <(src_sql -e "SHOW MASTER STATUS")

start broker || { echo "FAIL chaos_setup: broker did not start"; exit 1; }
start capture
start apply

# ---- the workload, in the background for $seconds.
CHAOS_MODE=workload CHAOS_DIR=$W CHAOS_SEED=$seed CHAOS_SECONDS=$seconds \
    CHAOS_RATE=$rate CHAOS_WORKERS=3 CHAOS_DB=chaos CHAOS_BIG=$([ "$big" = yes ] && echo 1 || echo 0) \
    "$TOOL" chaos_tool > "$W/workload.out" 2> "$W/workload.err" &
WL_PID=$!

# ---- the faults. Kinds come in shuffled rounds (every kind once per
# round), so even the short form injects each several times.
read -r -a KINDS <<< "${kinds//,/ }"
declare -A COUNT=()
for k in "${KINDS[@]}"; do COUNT[$k]=0; done
dumps_killed=0 target_crashes=0 source_crashes=0
round=()
new_round() {
    round=("${KINDS[@]}")
    local i j t
    for ((i = ${#round[@]} - 1; i > 0; i--)); do
        j=$((RANDOM % (i + 1)))
        t=${round[i]} round[i]=${round[j]} round[j]=$t
    done
}

inject() {
    local kind=$1 down
    rnd_ms 0 1500
    down=$MS
    case $kind in
    capture|broker|apply)
        kill9 "$kind"
        note "kill -9 $kind, down ${down} ms"
        sleep_ms "$down"
        start "$kind" || note "$kind did not come back"
        ;;
    all)
        kill9 apply; kill9 capture; kill9 broker
        note "kill -9 broker, capture and apply, down ${down} ms"
        sleep_ms "$down"
        # Back in a seeded order: each may find the others still down.
        local order=(broker capture apply) i j t
        for ((i = 2; i > 0; i--)); do
            j=$((RANDOM % (i + 1)))
            t=${order[i]} order[i]=${order[j]} order[j]=$t
        done
        for p in "${order[@]}"; do start "$p"; rnd_ms 0 500; sleep_ms $MS; done
        ;;
    dump)
        local ids n=0 id
        ids=$(src_sql -e "SELECT ID FROM information_schema.PROCESSLIST
                WHERE COMMAND LIKE 'Binlog Dump%' AND USER = '$SL_SOURCE_REPL_USER'")
        for id in $ids; do
            src_sql -e "KILL $id" 2>/dev/null && n=$((n + 1))
        done
        dumps_killed=$((dumps_killed + n))
        note "KILL of $n Binlog Dump thread(s) on the source"
        ;;
    target)
        if [ $((RANDOM % 2)) = 0 ]; then
            note "target: restart (clean shutdown)"
            sl_h_restart TARGET > "$W/target-restart.log" 2>&1 ||
                note "target did not come back"
        else
            note "target: kill -9, down ${down} ms, restart"
            local tpid
            tpid=$(cat "$SL_HARNESS_ROOT/TARGET/pid")
            kill -KILL "$tpid" 2>/dev/null
            sl_h_wait_pid_gone "$tpid" 30
            sleep_ms "$down"
            sl_h_start_mariadb TARGET 2 > "$W/target-restart.log" 2>&1 ||
                note "target did not come back"
            target_crashes=$((target_crashes + 1))
        fi
        ;;
    rotate)
        src_sql -e "FLUSH BINARY LOGS"
        note "FLUSH BINARY LOGS on the source"
        ;;
    flap)
        # Killed again and again soon after each start: during the
        # broker's log recovery, capture's resume, apply's start-up.
        local who n i life
        pick broker capture apply
        who=$PICKED
        n=$((3 + RANDOM % 4))
        note "flap: $who killed $n times, each 20-400 ms after its start"
        for ((i = 0; i < n; i++)); do
            kill9 "$who"
            rnd_ms 20 400
            life=$MS
            start "$who" nowait
            sleep_ms "$life"
        done
        kill9 "$who"
        start "$who"
        ;;
    stall)
        # SIGSTOP: a process that hangs (swapping, a debugger, a VM pause)
        # instead of dying; its peers' timeouts and retries take over.
        local who pid ms
        pick broker capture apply target
        who=$PICKED
        rnd_ms 500 4000
        ms=$MS
        if [ "$who" = target ]; then
            pid=$(cat "$SL_HARNESS_ROOT/TARGET/pid")
        else
            pid=${PID[$who]}
        fi
        note "stall: SIGSTOP $who for $ms ms"
        kill -STOP "$pid" 2>/dev/null
        sleep_ms "$ms"
        kill -CONT "$pid" 2>/dev/null
        ;;
    source)
        # The source itself: the workload's connections break (an
        # uncertain COMMIT is settled by its ledger row) and capture must
        # resume on the restarted server.
        if [ $((RANDOM % 2)) = 0 ]; then
            note "source: restart (clean shutdown)"
            sl_h_restart SOURCE > "$W/source-restart.log" 2>&1 ||
                note "source did not come back"
        else
            note "source: kill -9, down ${down} ms, restart"
            local spid
            spid=$(cat "$SL_HARNESS_ROOT/SOURCE/pid")
            kill -KILL "$spid" 2>/dev/null
            sl_h_wait_pid_gone "$spid" 30
            sleep_ms "$down"
            sl_h_start_mariadb SOURCE 1 > "$W/source-restart.log" 2>&1 ||
                note "source did not come back"
            source_crashes=$((source_crashes + 1))
        fi
        ;;
    esac
    COUNT[$kind]=$((COUNT[$kind] + 1))
}

if [ $short = 1 ]; then gap_lo=200 gap_hi=1500; else gap_lo=300 gap_hi=4000; fi
sleep_ms 1000
# fewest_faults: FEWEST = how often the least injected kind ran.
fewest_faults() {
    local k
    FEWEST=999999
    for k in "${KINDS[@]}"; do
        [ "${COUNT[$k]}" -lt $FEWEST ] && FEWEST=${COUNT[$k]}
    done
}
# The short form promises every kind three times: on a slow machine the
# round that completes it may run while the pipeline catches up after the
# load (bounded: 90 s more at most).
more_faults() {
    kill -0 "$WL_PID" 2>/dev/null && return 0
    [ $short = 1 ] || return 1
    fewest_faults
    [ $FEWEST -lt 3 ] && [ "${SECONDS}" -lt $((seconds + 90)) ]
}
SECONDS=0
while more_faults; do
    check_alive
    [ ${#round[@]} = 0 ] && new_round
    kind=${round[0]}
    round=("${round[@]:1}")
    inject "$kind"
    rnd_ms $gap_lo $gap_hi
    sleep_ms $MS
done
wait "$WL_PID"
wl_status=$?
WL_PID=
check_alive
grep '^# ' "$W/workload.out"
# Failed transactions (deadlocks between the workers are possible) are
# retried as new ones; they are shown, not failures.
head -n 5 "$W/workload.err" | sed 's/^/# /'
read -r _ committed rolled failed rows < <(grep '^WORKLOAD ' "$W/workload.out" |
    sed -E 's/[a-z_]+=//g')
summary=""
for k in "${KINDS[@]}"; do summary="$summary $k=${COUNT[$k]}"; done
note "faults:$summary (dump threads killed $dumps_killed, target kill -9 $target_crashes, source kill -9 $source_crashes)"
if [ "$wl_status" != 0 ] || [ -z "${committed:-}" ]; then
    fail workload "the workload exited with status $wl_status: $(tail -n 3 "$W/workload.err" | tr '\n' ' ')"
fi

# ---- the end: everything killed and restarted once more, then checked.
kill9 apply; kill9 capture; kill9 broker
note "final kill -9 of broker, capture and apply; restarting them"
start broker; start capture; start apply
CHAOS_MODE=verify CHAOS_DIR=$W CHAOS_BROKER=$BROKER CHAOS_START_FILE=$START_FILE \
    CHAOS_START_POS=$START_POS CHAOS_WORKERS=3 CHAOS_WAIT=$([ $short = 1 ] && echo 60 || echo 300) \
    timeout -k 5 900 "$TOOL" chaos_tool > "$W/verify.out" 2> "$W/verify.err"
verify_status=$?
check_alive
while read -r _ verdict name detail; do
    if [ "$verdict" = ok ]; then
        pass "$name"
        echo "# $name: $detail"
    else
        fail "$name" "$detail"
    fi
done < <(grep '^CHECK ' "$W/verify.out")
# Multi-line details (the first differing message) follow their CHECK line.
grep -v -e '^CHECK ' -e '^VERIFY ' -e '^PASS ' -e '^chaos_tool: ' "$W/verify.out" |
    sed 's/^/# /'
if ! grep -q '^CHECK ' "$W/verify.out" ||
   { [ "$verify_status" != 0 ] && ! grep -q '^CHECK fail' "$W/verify.out"; }; then
    fail verify "the verifier exited with status $verify_status: $(grep '^FAIL' "$W/verify.out") $(tail -n 3 "$W/verify.err" | tr '\n' ' ')"
fi
read -r _ messages brows commits acked < <(grep '^VERIFY ' "$W/verify.out" |
    sed -E 's/[a-z_]+=//g')

# Faults: every kind several times in the short form, at least once in a
# long one; a KILL that found no dump thread does not count.
need=$([ $short = 1 ] && echo 3 || echo 1)
missing_kinds=""
for k in "${KINDS[@]}"; do
    [ "${COUNT[$k]}" -ge "$need" ] || missing_kinds="$missing_kinds $k=${COUNT[$k]}"
done
case ",$kinds," in *,dump,*)
    [ "$dumps_killed" -ge "$need" ] || missing_kinds="$missing_kinds dump-threads-killed=$dumps_killed" ;;
esac
if [ -z "$missing_kinds" ]; then
    pass faults_injected
else
    fail faults_injected "fewer than $need of:$missing_kinds"
fi

if [ -z "$unexpected" ]; then
    pass no_unexpected_exits
else
    fail no_unexpected_exits "exited without being killed:$unexpected (logs in $W)"
fi

# A clean stop: SIGTERM makes capture and apply exit 0.
clean=""
for p in apply capture broker; do
    kill -TERM "${PID[$p]}" 2>/dev/null
    if sl_h_wait_pid_gone "${PID[$p]}" 40; then
        wait "${PID[$p]}"
        status=$?
        [ $status = 0 ] || clean="$clean $p:status-$status"
    else
        clean="$clean $p:still-running"
    fi
    DOWN[$p]=1
done
if [ -z "$clean" ]; then pass clean_shutdown; else fail clean_shutdown "$clean"; fi

run_cut_scenario

note "seed $seed: ${committed:-?} transactions committed (${rolled:-?} rolled back, ${failed:-?} failed), ${rows:-?} rows changed; broker ${messages:-?} messages (${brows:-?} rows, ${commits:-?} commit events); faults:$summary"
if [ $fails -gt 0 ]; then
    keep=${CHAOS_KEEP:-/tmp}/sluice-chaos-$seed-$(date +%Y%m%d%H%M%S)
    cp -a "$W" "$keep" 2>/dev/null && echo "# logs and data kept in $keep"
    [ -d "${CUT_DIR:-}" ] && cp -a "$CUT_DIR" "$keep/cut-in-transaction" 2>/dev/null
    for f in capture apply broker; do
        echo "--- last lines of $f.log" >&2
        tail -n 15 "$W/$f.log" >&2
    done
    exit 1
fi
exit 0
