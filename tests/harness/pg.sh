#!/usr/bin/env bash
# A real PostgreSQL server for the tests (the PostgreSQL target of
# sluice-apply), next to harness.sh's mariadbd:
#
#   tests/harness/pg.sh start DIR   # initdb on first use, then start;
#                                   # prints "PORT PID" on success
#   tests/harness/pg.sh stop DIR    # fast shutdown, by the PID it wrote
#
# DIR holds data/, the unix socket, port, password (of role sluice, which
# owns database sluice) and log. The server listens on 127.0.0.1:PORT (a
# port build/freeport reported free; kept across restarts) and on the socket
# in DIR; TCP logins need the password (scram-sha-256), socket logins are
# trusted. synchronous_commit and fsync stay on, as shipped.
#
# initdb and postgres refuse to run as root. As root (CI), both run as the
# Debian package's "postgres" user through setpriv (which execs, so the
# PID is the server's own), and DIR is handed to that user; DIR must then be
# somewhere postgres can reach (the caller makes it under /tmp).
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cmd=${1:-} dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: pg.sh start|stop DIR" >&2; exit 2; }

bindir=/usr/lib/postgresql/15/bin
[ -x "$bindir/postgres" ] || bindir=$(dirname "$(command -v postgres 2>/dev/null || echo /nonexistent/x)")
if [ ! -x "$bindir/postgres" ] || [ ! -x "$bindir/initdb" ]; then
    echo "pg.sh: PostgreSQL 15 is not installed (Debian package postgresql)" >&2
    exit 3
fi

as_pg() {
    if [ "$(id -u)" = 0 ]; then
        setpriv --reuid=postgres --regid=postgres --init-groups --reset-env -- "$@"
    else
        "$@"
    fi
}

pid_of() { head -n 1 "$dir/data/postmaster.pid" 2>/dev/null; }

case $cmd in
start)
    mkdir -p "$dir" || exit 1
    chmod 755 "$dir"
    [ "$(id -u)" = 0 ] && chown postgres: "$dir"
    if [ ! -d "$dir/data" ]; then
        head -c 18 /dev/urandom | base64 | tr -d '/+=\n' > "$dir/password"
        chmod 644 "$dir/password"
        as_pg "$bindir/initdb" -D "$dir/data" -U sluice --pwfile="$dir/password" \
            --auth-local=trust --auth-host=scram-sha-256 -E UTF8 \
            --locale=C.UTF-8 > "$dir/initdb.log" 2>&1 || {
            echo "pg.sh: initdb failed:" >&2
            tail -n 20 "$dir/initdb.log" >&2
            exit 1
        }
    fi
    [ -f "$dir/port" ] || "$top/build/freeport" > "$dir/port"
    port=$(cat "$dir/port")
    # Own session, so a test's process group signals do not reach it.
    setsid bash -c '
        dir=$1 port=$2 bindir=$3 root=$4
        run() { if [ "$root" = 0 ]; then exec setpriv --reuid=postgres --regid=postgres --init-groups --reset-env -- "$@"; else exec "$@"; fi; }
        run "$bindir/postgres" -D "$dir/data" -p "$port" -k "$dir" \
            -c listen_addresses=127.0.0.1 -c max_connections=100 \
            -c logging_collector=off >> "$dir/log" 2>&1
    ' _ "$dir" "$port" "$bindir" "$(id -u)" < /dev/null &
    for _ in $(seq 1 600); do
        if "$bindir/pg_isready" -q -h "$dir" -p "$port" -U sluice -d postgres 2>/dev/null; then
            if [ ! -f "$dir/db-created" ]; then
                "$bindir/psql" -X -q -h "$dir" -p "$port" -U sluice -d postgres \
                    -c "CREATE DATABASE sluice" >> "$dir/log" 2>&1 || exit 1
                touch "$dir/db-created"
            fi
            echo "$port $(pid_of)"
            exit 0
        fi
        sleep 0.1
    done
    echo "pg.sh: postgres did not start; its log:" >&2
    tail -n 20 "$dir/log" >&2
    exit 1
    ;;
stop)
    pid=$(pid_of)
    [ -n "$pid" ] || exit 0
    kill -INT "$pid" 2>/dev/null || exit 0
    for _ in $(seq 1 300); do
        kill -0 "$pid" 2>/dev/null || exit 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
    exit 0
    ;;
*)
    echo "usage: pg.sh start|stop DIR" >&2
    exit 2
    ;;
esac
