#!/usr/bin/env bash
# make demo: the whole sluice pipeline on throwaway local servers.
#
# Starts a source and a target mariadbd, redis-server (tests/harness/harness.sh:
# 127.0.0.1 only, free ports, a temporary directory), then sluice-broker,
# sluice-capture and sluice-apply; runs a mixed workload on the source for
# DEMO_SECONDS (default 25) while printing progress; waits until apply has
# caught up; then compares every table of source and target by a hash of
# its rows in primary-key order and checks the Redis keys of every changed
# row are gone while the keys of untouched rows are still there.
#
# Exit status: 0 when the verdict is good, 1 otherwise (the reason is
# printed, with the tail of the logs). Everything started is stopped by PID
# on exit and on Ctrl-C, and the temporary directory removed (set
# SL_HARNESS_KEEP=1 to keep it, logs included).
#
# Environment: DEMO_SECONDS (workload length, 5..120), DEMO_RATE (target
# source transactions per second, default 60; each is ~10 row changes).
set -u
cd "$(dirname "$0")/.."
TOP=$(pwd)
. tests/harness/harness.sh

DEMO_SECONDS=${DEMO_SECONDS:-25}
DEMO_RATE=${DEMO_RATE:-60}
case $DEMO_SECONDS in ''|*[!0-9]*) echo "demo: DEMO_SECONDS must be a number" >&2; exit 2 ;; esac
case $DEMO_RATE in ''|*[!0-9]*) echo "demo: DEMO_RATE must be a number" >&2; exit 2 ;; esac
[ "$DEMO_SECONDS" -ge 5 ] && [ "$DEMO_SECONDS" -le 120 ] || { echo "demo: DEMO_SECONDS must be 5..120" >&2; exit 2; }
[ "$DEMO_RATE" -ge 1 ] && [ "$DEMO_RATE" -le 1000 ] || { echo "demo: DEMO_RATE must be 1..1000" >&2; exit 2; }

for p in sluice-broker sluice-capture sluice-apply sluice; do
    if [ ! -x "bin/$p" ]; then
        echo "demo: bin/$p is missing; run make demo (or make) first" >&2
        exit 1
    fi
done

T0=$EPOCHSECONDS
say() { printf '[%3ss] %s\n' "$(( $EPOCHSECONDS - T0 ))" "$*"; }
TTY=0
[ -t 1 ] && TTY=1

# On any failure: say why, show the end of each log, exit 1 (the harness's
# EXIT trap then stops everything).
fail() {
    [ $TTY = 1 ] && printf '\n'
    echo "demo: FAILED: $*" >&2
    local f
    for f in "${DEMO_DIR:-/nonexistent}"/*.log; do
        [ -f "$f" ] || continue
        echo "--- last lines of $(basename "$f"):" >&2
        tail -n 15 "$f" >&2
    done
    exit 1
}

sl_h_init || fail "could not set up the harness"
# The harness's traps stop what it recorded and remove its directory; a
# message on Ctrl-C says what is happening.
trap 'sl_h_log "interrupted"; [ $TTY = 1 ] && printf "\n"; echo "demo: interrupted; stopping everything" >&2; exit 130' INT TERM
DEMO_DIR=$SL_HARNESS_ROOT/demo
mkdir -p "$DEMO_DIR"

say "starting source and target MariaDB and Redis (temporary, 127.0.0.1 only)"
sl_h_start_mariadb SOURCE 1 || fail "the source mariadbd did not start"
sl_h_start_mariadb TARGET 2 || fail "the target mariadbd did not start"
sl_h_start_redis || fail "redis-server did not start"

src() { sl_h_mysql_root SOURCE --batch --skip-column-names "$@"; }
dst() { sl_h_mysql_root TARGET --batch --skip-column-names "$@"; }

# --- Schema: the same tables and seed rows on both sides (apply does not
# replay DDL by default; capture starts after the seed), a workload
# procedure on the source.
SCHEMA="
CREATE DATABASE demo;
CREATE TABLE demo.users (
  id INT UNSIGNED NOT NULL PRIMARY KEY,
  email VARCHAR(100) NOT NULL,
  name VARCHAR(100) CHARACTER SET utf8mb4 NOT NULL,
  balance DECIMAL(12,2) NOT NULL DEFAULT 0,
  version INT UNSIGNED NOT NULL DEFAULT 0,
  note TEXT NULL,
  updated DATETIME(6) NOT NULL
) ENGINE=InnoDB;
CREATE TABLE demo.orders (
  id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
  user_id INT UNSIGNED NOT NULL,
  amount DECIMAL(12,2) NOT NULL,
  status ENUM('new','paid','shipped','cancelled') NOT NULL DEFAULT 'new',
  created DATETIME(6) NOT NULL,
  KEY (user_id)
) ENGINE=InnoDB;
CREATE TABLE demo.ledger (
  user_id INT UNSIGNED NOT NULL,
  seq INT UNSIGNED NOT NULL,
  delta DECIMAL(12,2) NOT NULL,
  reason VARCHAR(40) NOT NULL,
  PRIMARY KEY (user_id, seq)
) ENGINE=InnoDB;
INSERT INTO demo.users (id, email, name, balance, updated)
  SELECT seq, CONCAT('user', seq, '@example.com'), CONCAT('User ', seq, ' é'),
         1000, '2026-01-01 00:00:00'
  FROM demo.seq_1_to_1000;"
src -e "$SCHEMA" || fail "could not create the source schema"
dst -e "$SCHEMA" || fail "could not create the target schema"

# The workload runs inside the source server, paced with SLEEP so one
# client connection produces DEMO_RATE transactions per second. Users 1..1000
# are seeded; only users 1..500 are ever changed, so the Redis keys of
# 501..1000 must survive while those of changed rows are deleted.
src <<'SQL' || fail "could not create the workload procedure"
CREATE DATABASE demo_driver;
DELIMITER //
CREATE PROCEDURE demo_driver.workload(secs INT, rate INT)
BEGIN
  DECLARE stop_at DATETIME(6) DEFAULT NOW(6) + INTERVAL secs SECOND;
  DECLARE i INT DEFAULT 0;
  DECLARE u INT;
  DECLARE next_order BIGINT DEFAULT 1;
  DECLARE next_user INT DEFAULT 100001;
  DECLARE pause DOUBLE DEFAULT 1.0 / rate;
  WHILE NOW(6) < stop_at DO
    SET i = i + 1;
    SET u = 1 + FLOOR(RAND() * 500);
    -- A multi-table transaction: orders, a ledger entry, the user's balance.
    START TRANSACTION;
    INSERT INTO demo.orders VALUES
      (next_order,     u, ROUND(RAND() * 100, 2), 'new', NOW(6)),
      (next_order + 1, u, ROUND(RAND() * 100, 2), 'new', NOW(6)),
      (next_order + 2, 1 + FLOOR(RAND() * 500), ROUND(RAND() * 100, 2), 'new', NOW(6)),
      (next_order + 3, 1 + FLOOR(RAND() * 500), ROUND(RAND() * 100, 2), 'new', NOW(6));
    INSERT INTO demo.ledger
      SELECT u, COALESCE(MAX(seq), 0) + 1, 12.5, CONCAT('order ', next_order)
      FROM demo.ledger WHERE user_id = u;
    UPDATE demo.users SET balance = balance - 12.5, version = version + 1,
      updated = NOW(6) WHERE id = u;
    COMMIT;
    SET next_order = next_order + 4;
    -- Single-statement updates and deletes.
    UPDATE demo.orders SET status = 'paid' WHERE id = next_order - 8 AND next_order > 8;
    UPDATE demo.orders SET status = 'shipped' WHERE id BETWEEN next_order - 24 AND next_order - 21 AND status = 'paid';
    IF i MOD 5 = 0 THEN
      DELETE FROM demo.orders WHERE id = next_order - 40 + FLOOR(RAND() * 4);
    END IF;
    IF i MOD 7 = 0 THEN
      UPDATE demo.users SET note = CONCAT('note ', i, ' ', REPEAT('x', i MOD 50)),
        version = version + 1, updated = NOW(6) WHERE id = 1 + FLOOR(RAND() * 500);
    END IF;
    -- A primary-key change: the row moves to a new id (both keys go).
    IF i MOD 50 = 0 THEN
      UPDATE demo.users SET id = next_user, version = version + 1, updated = NOW(6)
        WHERE id = (SELECT MIN(id) FROM demo.users WHERE id BETWEEN 1 + FLOOR(RAND() * 500) AND 500);
      SET next_user = next_user + 1;
    END IF;
    IF i MOD 60 = 0 THEN
      DELETE FROM demo.users WHERE id = 1 + FLOOR(RAND() * 500);
    END IF;
    DO SLEEP(pause);
  END WHILE;
END //
DELIMITER ;
SQL

# Capture starts from here (the seed rows are on both sides already, so
# it runs with --snapshot never: nothing to copy).
src -e "FLUSH BINARY LOGS" || fail "FLUSH BINARY LOGS failed"
START=$(src -e "SHOW MASTER STATUS" | awk 'NR == 1 { print $1 ":" $2 }')
[ -n "$START" ] || fail "SHOW MASTER STATUS returned nothing (is log_bin on?)"

# Every seeded user has a cached entry in Redis.
for i in $(seq 1 1000); do printf 'SET user:%d cached\n' "$i"; done |
    redis-cli -h 127.0.0.1 -p "$SL_REDIS_PORT" > /dev/null ||
    fail "could not seed Redis"

# --- The pipeline.
BROKER_PORT=$(sl_h_freeport)
STATS_PORT=$(sl_h_freeport)
BROKER=127.0.0.1:$BROKER_PORT
cat > "$DEMO_DIR/keys" <<'EOF'
# db.table      key templates
demo.users      user:{id} user:email:{email}
demo.orders     order:{id}
EOF

say "starting sluice-broker on $BROKER"
bin/sluice-broker --listen "$BROKER" --data "$DEMO_DIR/broker-data" \
    --fsync "interval 100" > "$DEMO_DIR/broker.log" 2>&1 &
sl_h_record_pid broker $!
sl_h_wait_for "sluice-broker" 20 bin/sluice --broker "$BROKER" --timeout 2s stats ||
    fail "sluice-broker did not start"

say "starting sluice-capture from $START (stats on 127.0.0.1:$STATS_PORT)"
bin/sluice-capture --source "mysql://$SL_SOURCE_REPL_USER@127.0.0.1:$SL_SOURCE_PORT" \
    --password-file "$SL_SOURCE_PASSWORD_FILE" --server-id 4242 \
    --broker "$BROKER" --topic demo --include 'demo\..*' --start "$START" \
    --snapshot never --stats-listen "127.0.0.1:$STATS_PORT" --heartbeat 500ms \
    > "$DEMO_DIR/capture.log" 2>&1 &
CAPTURE_PID=$!
sl_h_record_pid capture $CAPTURE_PID

say "starting sluice-apply into the target and Redis"
bin/sluice-apply --broker "$BROKER" --topic demo --group demo --workers 2 \
    --target "mysql://$SL_TARGET_USER@127.0.0.1:$SL_TARGET_PORT/sluice" \
    --target-password-file "$SL_TARGET_PASSWORD_FILE" \
    --redis "127.0.0.1:$SL_REDIS_PORT" --keys "$DEMO_DIR/keys" \
    --poll 200ms --drift stop --stats-interval 1s \
    --stats-file "$DEMO_DIR/apply.stats" > "$DEMO_DIR/apply.log" 2>&1 &
APPLY_PID=$!
sl_h_record_pid apply $APPLY_PID
dst -e "CREATE DATABASE IF NOT EXISTS sluice" || fail "could not create the offsets database"

# --- Progress figures.
# capture_stat NAME: one figure from capture's stats endpoint (empty when
# it does not answer).
capture_stats() {
    local line
    CAP_ROWS='' CAP_BEHIND='' CAP_FILE='' CAP_POS=''
    { exec 8<>"/dev/tcp/127.0.0.1/$STATS_PORT"; } 2>/dev/null || return 1
    printf 'stats\r\n' >&8
    while read -r -t 2 line <&8; do
        line=${line%$'\r'}
        case $line in
        END) break ;;
        'STAT rows '*) CAP_ROWS=${line#STAT rows } ;;
        'STAT seconds_behind '*) CAP_BEHIND=${line#STAT seconds_behind } ;;
        'STAT file '*) CAP_FILE=${line#STAT file } ;;
        'STAT pos '*) CAP_POS=${line#STAT pos } ;;
        esac
    done
    exec 8>&-
    return 0
}

# apply_stats: sums apply's per-partition STAT lines.
apply_stats() {
    APP_ROWS=0 APP_INV=0 APP_BEHIND=0 APP_LAG=0 APP_PARTS=0 APP_ERR=''
    [ -f "$DEMO_DIR/apply.stats" ] || return 1
    eval "$(awk '
        $1 != "STAT" || $2 !~ /^part:/ { next }
        { n = split($2, a, ":"); fig = a[n] }
        fig == "rows" { rows += $3; parts++ }
        fig == "invalidated" { inv += $3 }
        fig == "lag" { lag += $3 }
        fig == "behind_s" && $3 > behind { behind = $3 }
        fig == "error" { err = err " " $2 }
        END { printf "APP_ROWS=%d APP_INV=%d APP_LAG=%d APP_BEHIND=%d APP_PARTS=%d APP_ERR=\"%s\"\n",
              rows, inv, lag, behind, parts, err }' "$DEMO_DIR/apply.stats")"
}

progress() {
    local phase=$1
    capture_stats
    apply_stats
    local line lag=$APP_BEHIND
    # Lag: seconds between a source commit and its application, the larger
    # of capture's (source to broker) and apply's (source to target).
    [ -n "$CAP_BEHIND" ] && [ "$CAP_BEHIND" -gt "$lag" ] 2>/dev/null && lag=$CAP_BEHIND
    # Short enough for an 80-column terminal (the updating line must not wrap).
    line=$(printf '%-8s rows captured %6s  applied %6s  keys invalidated %6s  lag %ss' \
        "$phase" "${CAP_ROWS:-0}" "$APP_ROWS" "$APP_INV" "$lag")
    if [ $TTY = 1 ]; then
        printf '\r\033[K%s' "$line"
    else
        say "$line"
    fi
}

alive() {
    kill -0 "$CAPTURE_PID" 2>/dev/null || fail "sluice-capture exited (see capture.log)"
    kill -0 "$APPLY_PID" 2>/dev/null || fail "sluice-apply exited (see apply.log)"
    [ -z "${APP_ERR:-}" ] || fail "sluice-apply stopped partitions:$APP_ERR"
}

# --- Workload.
say "running the workload: ~$DEMO_RATE transactions/s for ${DEMO_SECONDS}s (inserts, updates, a primary-key change every 50, deletes, multi-table transactions)"
sl_h_mysql_root SOURCE -e "CALL demo_driver.workload($DEMO_SECONDS, $DEMO_RATE)" \
    > "$DEMO_DIR/workload.log" 2>&1 &
WORK_PID=$!
sl_h_record_pid workload $WORK_PID
deadline=$(( $EPOCHSECONDS + DEMO_SECONDS + 30 ))
while kill -0 "$WORK_PID" 2>/dev/null; do
    [ "$EPOCHSECONDS" -lt "$deadline" ] || fail "the workload did not finish in time"
    alive
    progress workload
    sleep 1
done
wait "$WORK_PID" || fail "the workload failed: $(cat "$DEMO_DIR/workload.log")"
[ $TTY = 1 ] && printf '\n'

# --- Catch up: capture reaches the source's end, then apply the broker's.
END_POS=$(src -e "SHOW MASTER STATUS" | awk 'NR == 1 { print $1 " " $2 }')
say "workload done; waiting for capture to reach $END_POS and apply to catch up"
deadline=$(( $EPOCHSECONDS + 60 ))
caught=0
while [ "$EPOCHSECONDS" -lt "$deadline" ]; do
    alive
    progress catch-up
    if [ "$CAP_FILE $CAP_POS" = "$END_POS" ] && [ "$APP_LAG" = 0 ] &&
        [ "$APP_PARTS" -gt 0 ]; then
        caught=1
        break
    fi
    sleep 0.5
done
[ $TTY = 1 ] && printf '\n'
[ $caught = 1 ] || fail "apply did not catch up within 60 s (capture at $CAP_FILE $CAP_POS, apply lag $APP_LAG messages)"
# The STAT file is rewritten each --stats-interval; one more period makes
# sure its figures cover the last transaction.
sleep 1.2
apply_stats

# --- Verdict 1: tables equal by a hash of their rows in primary-key order.
table_hash() { # SIDE TABLE COLUMNS KEY
    "$1" -e "SET SESSION group_concat_max_len = 1073741824;
        SELECT CONCAT(COUNT(*), ' rows, sha256 ', SHA2(GROUP_CONCAT(
            CONCAT_WS('|', $3) ORDER BY $4 SEPARATOR '\n'), 256))
        FROM demo.$2"
}
ok=1
check_table() { # TABLE COLUMNS KEY
    local s d tries=0
    s=$(table_hash src "$@") || fail "could not hash source demo.$1"
    # Equal at once when caught up; a short bounded retry covers a target
    # commit that the STAT file reported a moment early.
    while :; do
        d=$(table_hash dst "$@") || fail "could not hash target demo.$1"
        [ "$s" = "$d" ] && break
        tries=$((tries + 1))
        [ $tries -lt 10 ] || break
        sleep 0.5
    done
    if [ "$s" = "$d" ]; then
        say "demo.$1 equal: $s"
    else
        say "demo.$1 DIFFERS: source $s, target $d"
        ok=0
    fi
}
check_table users "id, email, name, balance, version, IFNULL(note, '<null>'), updated" id
check_table orders "id, user_id, amount, status, created" id
check_table ledger "user_id, seq, delta, reason" "user_id, seq"

# --- Verdict 2: the keys of changed users are gone, the others are there.
# A seeded user is unchanged when its row still has id <= 1000 and version 0.
src -e "SELECT id FROM demo.users WHERE id <= 1000 AND version = 0" | sort > "$DEMO_DIR/untouched"
seq 1 1000 | sort | comm -23 - "$DEMO_DIR/untouched" > "$DEMO_DIR/touched"
n_touched=$(wc -l < "$DEMO_DIR/touched")
present_touched=$(sed 's/^/EXISTS user:/' "$DEMO_DIR/touched" |
    redis-cli -h 127.0.0.1 -p "$SL_REDIS_PORT" | grep -c '^1$')
n_untouched=$(wc -l < "$DEMO_DIR/untouched")
present_untouched=$(sed 's/^/EXISTS user:/' "$DEMO_DIR/untouched" |
    redis-cli -h 127.0.0.1 -p "$SL_REDIS_PORT" | grep -c '^1$')
if [ "$present_touched" = 0 ] && [ "$n_touched" -gt 0 ]; then
    say "Redis: the keys of all $n_touched changed users are gone"
else
    say "Redis: $present_touched of the $n_touched changed users' keys are still cached"
    ok=0
fi
if [ "$present_untouched" = "$n_untouched" ]; then
    say "Redis: the keys of the $n_untouched unchanged users are still cached"
else
    say "Redis: only $present_untouched of the $n_untouched unchanged users' keys are cached"
    ok=0
fi

rows_src=$(src -e "SELECT (SELECT COUNT(*) FROM demo.users) + (SELECT COUNT(*) FROM demo.orders) + (SELECT COUNT(*) FROM demo.ledger)")
elapsed=$(( $EPOCHSECONDS - T0 ))
if [ $ok = 1 ]; then
    echo
    echo "VERDICT: OK — source and target equal by row hash ($rows_src rows in 3 tables);"
    echo "         $CAP_ROWS row changes captured, $APP_ROWS applied, $APP_INV keys invalidated; ${elapsed}s in all."
    echo "         Stopping everything."
    exit 0
fi
fail "source and target differ, or Redis kept a changed key (see above)"
