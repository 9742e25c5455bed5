#!/usr/bin/env bash
# bench/apply_pg: sluice-apply into PostgreSQL beside sluice-apply into
# MariaDB for the same events, and beside pgloader copying the final
# tables from MariaDB into PostgreSQL, in one run on the harness servers.
#
# Workload (as bench/apply): ROWS row changes (default 1,000,000) on the
# source MariaDB in transactions of 10 rows, inserts then updates then
# deletes (5:3:2), over 1 table, then over 8 tables (transaction i on table
# i mod 8); table tN (id BIGINT PRIMARY KEY, a INT, b VARCHAR(32),
# c DECIMAL(12,2)). sluice-capture publishes it to a broker first (not
# timed). Then, each from empty tables:
#
#   - sluice-apply into the target MariaDB (innodb_flush_log_at_trx_commit=1
#     as MariaDB ships it), one worker per table;
#   - sluice-apply into PostgreSQL 15 (synchronous_commit on, as shipped),
#     one worker per table;
#   - pgloader (Debian's package; installed here when missing) copying the
#     final source tables into PostgreSQL: the one-shot tool a user would
#     otherwise reach for (its rows/s counts the rows it copied).
#
# Each apply run is timed from start until every row is counted in
# sluice_offsets. Prints rows/s and the ratio PostgreSQL / MariaDB; asserts
# nothing. Argument: ROWS (BENCH_ROWS overrides); BENCH_LAYOUTS="1 8".
set -u
cd "$(dirname "$0")/.."
top=$(pwd)
rows=${BENCH_ROWS:-${1:-1000000}}
layouts=${BENCH_LAYOUTS:-"1 8"}
. tests/harness/harness.sh
sl_h_init
sl_h_start_mariadb SOURCE 1
sl_h_start_mariadb TARGET 2
if ! command -v pgloader > /dev/null; then
    echo "bench: installing pgloader" >&2
    sudo=
    [ "$(id -u)" = 0 ] || sudo=sudo
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
        --no-install-recommends pgloader > /dev/null
fi
pgdir=$(mktemp -d /tmp/sluice-pg.XXXXXX)
read -r pgport _ < <(tests/harness/pg.sh start "$pgdir")
trap 'tests/harness/pg.sh stop "$pgdir"; rm -rf "$pgdir"; sl_h_cleanup' EXIT
pgpw=$(cat "$pgdir/password")
psqlc() { psql -X -q -t -A -h "$pgdir" -p "$pgport" -U sluice -d sluice "$@"; }
my() { mariadb --no-defaults -uroot --socket="$SL_HARNESS_ROOT/$1/sock" -N -B "${@:2}"; }
spw=$(cat "$SL_SOURCE_PASSWORD_FILE")
now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.${2:-0}f\", $1 }"; }

# The workload as a procedure: transaction j works on table t(j mod L).
my SOURCE <<'SQL'
DROP DATABASE IF EXISTS pgb_util;
CREATE DATABASE pgb_util;
DELIMITER //
CREATE PROCEDURE pgb_util.load(db VARCHAR(64), l INT, r INT)
BEGIN
  DECLARE j INT DEFAULT 0;
  DECLARE ntrx INT DEFAULT r DIV 20;
  WHILE j < ntrx DO
    EXECUTE IMMEDIATE CONCAT('INSERT INTO ', db, '.t', j MOD l,
      ' SELECT ', j, '*10+seq, seq, ''row'', 1.50 FROM seq_0_to_9');
    SET j = j + 1;
  END WHILE;
  SET j = 0;
  WHILE j < r * 3 DIV 100 DO
    EXECUTE IMMEDIATE CONCAT('UPDATE ', db, '.t', j MOD l,
      ' SET a = a + 1, b = ''updated'', c = c * 2 WHERE id BETWEEN ', j*10,
      ' AND ', j*10+9);
    SET j = j + 1;
  END WHILE;
  SET j = 0;
  WHILE j < r * 2 DIV 100 DO
    EXECUTE IMMEDIATE CONCAT('DELETE FROM ', db, '.t', (ntrx - 1 - j) MOD l,
      ' WHERE id BETWEEN ', (ntrx-1-j)*10, ' AND ', (ntrx-1-j)*10+9);
    SET j = j + 1;
  END WHILE;
END//
DELIMITER ;
SQL

for l in $layouts; do
    db=pgb$l
    my SOURCE -e "DROP DATABASE IF EXISTS $db; CREATE DATABASE $db; CREATE TABLE $db.done (id INT PRIMARY KEY)"
    my TARGET -e "DROP DATABASE IF EXISTS $db; CREATE DATABASE $db; CREATE TABLE $db.done (id INT PRIMARY KEY); DROP DATABASE IF EXISTS ${db}_meta; CREATE DATABASE ${db}_meta"
    psqlc -c "DROP SCHEMA IF EXISTS $db CASCADE" -c "CREATE SCHEMA $db" \
        -c "CREATE TABLE $db.done (id integer PRIMARY KEY)" \
        -c "DELETE FROM sluice_offsets WHERE topic = '$db'" 2>/dev/null ||
        psqlc -c "CREATE SCHEMA IF NOT EXISTS $db" -c "CREATE TABLE IF NOT EXISTS $db.done (id integer PRIMARY KEY)"
    for ((t = 0; t < l; t++)); do
        my SOURCE -e "CREATE TABLE $db.t$t (id BIGINT PRIMARY KEY, a INT, b VARCHAR(32), c DECIMAL(12,2))"
        my TARGET -e "CREATE TABLE $db.t$t (id BIGINT PRIMARY KEY, a INT, b VARCHAR(32), c DECIMAL(12,2))"
        psqlc -c "CREATE TABLE $db.t$t (id bigint PRIMARY KEY, a integer, b text, c numeric(12,2))"
    done
    my SOURCE -e "FLUSH BINARY LOGS"
    start=$(my SOURCE -e "SHOW MASTER STATUS" | awk '{print $1 ":" $2}')
    t0=$(now)
    my SOURCE -e "CALL pgb_util.load('$db', $l, $rows); INSERT INTO $db.done VALUES (1)"
    t1=$(now)
    echo "layout $l tables: source workload $rows row changes in $(calc "$t1 - $t0" 2) s" >&2

    run=$SL_HARNESS_ROOT/$db
    mkdir -p "$run/broker"
    bport=$(sl_h_freeport)
    bin/sluice-broker --listen 127.0.0.1:$bport --data "$run/broker" --fsync never > "$run/broker.log" 2>&1 &
    bpid=$!
    sl_h_record_pid broker "$bpid"
    until bin/sluice --broker 127.0.0.1:$bport stats > /dev/null 2>&1; do sleep 0.1; done
    bin/sluice-capture --source "mysql://repl@127.0.0.1:$SL_SOURCE_PORT" \
        --password-file "$SL_SOURCE_PASSWORD_FILE" --broker 127.0.0.1:$bport \
        --topic $db --server-id 4900 --start "$start" --include "$db\\..*" \
        > "$run/capture.log" 2>&1 &
    cpid=$!
    sl_h_record_pid capture "$cpid"
    # Published when the sentinel row (written last) is there.
    until bin/sluice --broker 127.0.0.1:$bport tail $db $db.done 2>/dev/null | grep -q '"kind":"row"'; do sleep 0.2; done
    total=$((rows + 1))

    # sluice-apply into MariaDB, as shipped (redo log flushed per commit).
    my TARGET -e "SET GLOBAL innodb_flush_log_at_trx_commit = 1"
    t0=$(now)
    bin/sluice-apply --broker 127.0.0.1:$bport --topic $db --group bench --workers $l \
        --target "mysql://sluice@127.0.0.1:$SL_TARGET_PORT/${db}_meta" \
        --target-password-file "$SL_TARGET_PASSWORD_FILE" --poll 50ms \
        > "$run/apply-mysql.log" 2>&1 &
    apid=$!
    until [ "$(my TARGET -e "SELECT COALESCE(SUM(rows_applied),0) FROM ${db}_meta.sluice_offsets" 2>/dev/null || echo 0)" -ge $total ]; do sleep 0.05; done
    t1=$(now)
    kill -TERM $apid; wait $apid || true
    my TARGET -e "SET GLOBAL innodb_flush_log_at_trx_commit = 2"
    mysql_rate=$(calc "$total / ($t1 - $t0)")

    # sluice-apply into PostgreSQL (synchronous_commit on).
    t0=$(now)
    SLUICE_TARGET_PASSWORD=$pgpw bin/sluice-apply --broker 127.0.0.1:$bport --topic $db \
        --group bench --workers $l \
        --target "postgresql://sluice@127.0.0.1:$pgport/sluice" --poll 50ms \
        > "$run/apply-pg.log" 2>&1 &
    apid=$!
    until [ "$(psqlc -c "SELECT COALESCE(SUM(rows_applied),0) FROM sluice_offsets WHERE topic = '$db'" 2>/dev/null || echo 0)" -ge $total ]; do sleep 0.05; done
    t1=$(now)
    kill -TERM $apid; wait $apid || true
    pg_rate=$(calc "$total / ($t1 - $t0)")

    # The final tables must agree (a benchmark of wrong results is none).
    for ((t = 0; t < l; t++)); do
        a=$(my SOURCE -e "SELECT COUNT(*), COALESCE(SUM(a),0), COALESCE(SUM(c),0) FROM $db.t$t" | tr '\t' ' ')
        b=$(psqlc -F ' ' -c "SELECT count(*), coalesce(sum(a),0), coalesce(sum(c),0) FROM $db.t$t")
        [ "$a" = "$b" ] || echo "bench: $db.t$t differs: MariaDB '$a' PostgreSQL '$b'" >&2
    done

    # pgloader copying the final tables into a fresh schema.
    final=0
    for ((t = 0; t < l; t++)); do final=$((final + $(my SOURCE -e "SELECT COUNT(*) FROM $db.t$t"))); done
    psqlc -c "DROP SCHEMA IF EXISTS ${db}_pgloader CASCADE" > /dev/null
    t0=$(now)
    # pgloader names the PostgreSQL schema after the MySQL database: renamed
    # so that it does not meet the schema sluice-apply wrote.
    cat > "$run/pgloader.load" <<LOAD
LOAD DATABASE
  FROM mysql://sluice:$spw@127.0.0.1:$SL_SOURCE_PORT/$db
  INTO postgresql://sluice:$pgpw@127.0.0.1:$pgport/sluice
  WITH include drop, create tables, create indexes, workers = 4, concurrency = 1
  ALTER SCHEMA '$db' RENAME TO '${db}_pgloader';
LOAD
    pgloader --quiet "$run/pgloader.load" > "$run/pgloader.log" 2>&1 ||
        echo "bench: pgloader failed (see $run/pgloader.log)" >&2
    t1=$(now)
    pgl_rate=$(calc "$final / ($t1 - $t0)")
    kill -TERM $cpid $bpid 2>/dev/null || true
    wait $cpid $bpid 2>/dev/null || true

    echo "$l table(s), $total row changes: sluice-apply into PostgreSQL $pg_rate rows/s | into MariaDB $mysql_rate rows/s | ratio $(calc "$pg_rate / $mysql_rate" 2)x | pgloader $final final rows in $(calc "$t1 - $t0" 2) s = $pgl_rate rows/s"
done
