#!/usr/bin/env bash
# A table without a primary key seeded end to end (issue 17): capture's
# one-shot consistent copy (--snapshot-copy keyless: MariaDB's
# Binlog_snapshot_file/position) joined with the stream at that position,
# while a writer inserts, updates and deletes rows of it (duplicates
# included), through a real sluice-broker into a target table that holds
# stale rows beforehand (the copy's snapshot_start says "reset": apply
# empties the table first), applied by sluice-apply killed with -9 once on
# the way. At the end the target equals the source row for row (sorted,
# so duplicate rows count). Run into MariaDB, then into PostgreSQL when
# PostgreSQL 15 is installed. Scaled down for CI (3,000 rows).
set -u
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$TOP" || exit 1
# shellcheck source=../harness/harness.sh
. tests/harness/harness.sh

NAME=snapshot_keyless_e2e
failed=0
pass() { echo "PASS $NAME:$*"; }
fail() { echo "FAIL $NAME:$*"; failed=1; }

if [ -z "${SL_SOURCE_PORT:-}" ] || [ -z "${SL_TARGET_PORT:-}" ]; then
    echo "SKIP $NAME: no source or target mariadbd (run under tests/run-integration.sh)"
    exit 0
fi
for p in sluice-broker sluice-capture sluice-apply; do
    [ -x "bin/$p" ] || { fail "setup: bin/$p is missing (run make)"; exit 1; }
done
sl_h_init || { fail "setup: harness"; exit 1; }
D=$SL_HARNESS_ROOT
src_root() { mariadb --no-defaults -uroot --socket="$SL_SOURCE_SOCKET" -N -B "$@"; }
# The target, as the case sets it: SQL in, tab-separated rows out.
tsql() {
    if [ "$T" = pg ]; then
        PGPASSWORD=$(cat "$PGDIR/password") psql -X -q -At -F $'\t' -h 127.0.0.1 \
            -p "$PGPORT" -U sluice sluice -v ON_ERROR_STOP=1 -c "$1"
    else
        mariadb --no-defaults -h 127.0.0.1 -P "$SL_TARGET_PORT" \
            -u "${SL_TARGET_USER:-sluice}" -p"$(cat "$SL_TARGET_PASSWORD_FILE")" \
            -N -B -e "$1"
    fi
}
ROWS="SELECT a, b FROM"
ORDER="ORDER BY a, b"

# One case: T is mysql or pg, N a number that keeps the case's names apart.
run_case() {
    T=$1 N=$2
    local tag="sk$N" dst="sk_dst$N" target
    src_root -e "DROP DATABASE IF EXISTS sk_src; CREATE DATABASE sk_src;
        USE sk_src; CREATE TABLE k (a INT, b VARCHAR(20));
        INSERT INTO k SELECT seq % 500, 'seed' FROM seq_1_to_3000" ||
        { fail "$T: setup: source table"; return; }
    if [ "$T" = pg ]; then
        tsql "DROP SCHEMA IF EXISTS $dst CASCADE; CREATE SCHEMA $dst;
            CREATE TABLE $dst.k (a int, b varchar(20));
            INSERT INTO $dst.k VALUES (1, 'stale'), (1, 'seed'), (7, 'stale')" ||
            { fail "$T: setup: target table"; return; }
        target="postgresql://sluice@127.0.0.1:$PGPORT/sluice"
        tpw=$PGDIR/password
    else
        tsql "DROP DATABASE IF EXISTS $dst; DROP DATABASE IF EXISTS sk_meta$N;
            CREATE DATABASE $dst; CREATE DATABASE sk_meta$N;
            CREATE TABLE $dst.k (a INT, b VARCHAR(20));
            INSERT INTO $dst.k VALUES (1, 'stale'), (1, 'seed'), (7, 'stale')" ||
            { fail "$T: setup: target table"; return; }
        target="mysql://${SL_TARGET_USER:-sluice}@127.0.0.1:$SL_TARGET_PORT/sk_meta$N"
        tpw=$SL_TARGET_PASSWORD_FILE
    fi

    local bport
    bport=$(sl_h_freeport)
    BROKER=127.0.0.1:$bport
    bin/sluice-broker --listen "$BROKER" --data "$D/broker$N" --fsync never \
        --kafka-listen off > "$D/broker$N.log" 2>&1 &
    sl_h_record_pid BROKER$N $!
    sl_h_wait_for broker 20 bash -c "exec 3<>/dev/tcp/127.0.0.1/$bport" ||
        { fail "$T: setup: the broker did not start"; return; }

    # The writer starts before capture, so that the copy is decided,
    # opened and joined while rows change.
    writer() {
        for b in $(seq 1 40); do
            {
                for i in $(seq 1 15); do
                    r=$(( (b * 37 + i * 11) % 520 ))
                    case $((i % 3)) in
                    0) echo "INSERT INTO sk_src.k VALUES ($r, 'ins');" ;;
                    1) echo "UPDATE sk_src.k SET b = 'upd$b' WHERE a = $r LIMIT 1;" ;;
                    2) echo "DELETE FROM sk_src.k WHERE a = $r LIMIT 1;" ;;
                    esac
                done
            } | src_root || echo "writer: batch $b failed" >&2
            sleep 0.1
        done
    }
    writer 2> "$D/writer$N.err" &
    local wpid=$!
    local clog=$D/capture$N.log alog=$D/apply$N.log
    bin/sluice-capture --source "mysql://${SL_SOURCE_REPL_USER:-repl}@127.0.0.1:$SL_SOURCE_PORT" \
        --password-file "$SL_SOURCE_PASSWORD_FILE" --broker "$BROKER" \
        --topic "$tag" --name "$tag" --server-id $((3182 + N)) --include 'sk_src\.k' \
        --snapshot initial --snapshot-copy keyless \
        --checkpoint-interval 50ms --heartbeat 200ms > "$clog" 2>&1 &
    local cpid=$!
    sl_h_record_pid CAPTURE$N $cpid

    start_apply() {
        bin/sluice-apply --broker "$BROKER" --topic "$tag" --group gk --workers 1 \
            --target "$target" --target-password-file "$tpw" --map sk_src=$dst \
            --group-rows 100 --poll 200ms >> "$alog" 2>&1 &
        APPLY=$!
        sl_h_record_pid APPLY$N "$APPLY"
    }
    start_apply
    sl_h_wait_for "the copy" 60 grep -q 'snapshot complete' "$clog" ||
        fail "$T: capture did not copy the table: $(grep -v stats "$clog" | tail -n 3 | tr '\n' ' ')"
    kill -9 "$APPLY" 2> /dev/null
    wait "$APPLY" 2> /dev/null
    start_apply
    wait "$wpid"
    [ -s "$D/writer$N.err" ] && fail "$T: writer: $(head -n 2 "$D/writer$N.err" | tr '\n' ' ')"
    grep -q 'snapshot copy: read view open' "$clog" &&
        pass "$T: capture copied the keyless table in one read view" ||
        fail "$T: no read view in the capture log"
    src_root -e "$ROWS sk_src.k $ORDER" > "$D/want$N"
    for _ in $(seq 1 600); do
        tsql "$ROWS $dst.k $ORDER" > "$D/got$N" 2> /dev/null
        cmp -s "$D/want$N" "$D/got$N" && break
        grep -q 'partition stopped' "$alog" && break
        sleep 0.2
    done
    if cmp -s "$D/want$N" "$D/got$N"; then
        pass "$T: target equals the source ($(wc -l < "$D/want$N") rows), its stale rows gone"
    else
        fail "$T: target ($(wc -l < "$D/got$N") rows) differs from the source ($(wc -l < "$D/want$N")): $(grep -E 'stopped|error' "$alog" | head -n 2 | tr '\n' ' ')"
    fi
    sl_h_kill "$APPLY"
    sl_h_kill "$cpid"
    if [ "$T" = pg ]; then
        tsql "DROP SCHEMA $dst CASCADE" > /dev/null 2>&1
    else
        tsql "DROP DATABASE $dst; DROP DATABASE sk_meta$N" > /dev/null 2>&1
    fi
}

T=mysql
run_case mysql 0
if [ -x /usr/lib/postgresql/15/bin/postgres ] && command -v psql > /dev/null; then
    PGDIR=$(mktemp -d /tmp/sluice-pg.XXXXXX)
    if read -r PGPORT _ < <(bash tests/harness/pg.sh start "$PGDIR"); then
        trap 'bash tests/harness/pg.sh stop "$PGDIR" > /dev/null 2>&1; rm -rf "$PGDIR"; sl_h_cleanup' EXIT
        run_case pg 1
    else
        fail "pg: setup: PostgreSQL did not start"
    fi
else
    echo "SKIP $NAME:pg: PostgreSQL 15 is not installed (Debian package postgresql)"
fi
src_root -e "DROP DATABASE sk_src" > /dev/null 2>&1
exit $failed
