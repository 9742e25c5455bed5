#!/usr/bin/env bash
# The real-server test harness, shell side. Source it from bash:
#
#   . tests/harness/harness.sh
#   sl_h_init                      # temp root, cleanup on exit/interrupt
#   sl_h_start_mariadb SOURCE 1    # exports SL_SOURCE_PORT, ... (see harness.h)
#   sl_h_start_mariadb TARGET 2
#   sl_h_start_redis               # exports SL_REDIS_PORT, SL_REDIS_PID
#   sl_h_start_memcached           # exports SL_MEMCACHED_PORT, SL_MEMCACHED_PID
#   sl_h_stop SOURCE / sl_h_restart SOURCE / sl_h_stop_all
#
# Everything listens on 127.0.0.1 only, on ports the kernel reported free,
# with data in a temporary directory. Every process started is recorded in
# $SL_HARNESS_ROOT/pids and stopped by PID (TERM, then KILL after a bounded
# wait) when the shell exits, fails or is interrupted; the directory is
# then removed. Set SL_HARNESS_KEEP=1 to keep it for a post-mortem.
#
# Run as a command instead, it starts a whole suite and execs a command in
# that environment:  tests/harness/harness.sh run CMD ARGS...

SL_H_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SL_H_FREEPORT="$SL_H_TOP/build/freeport"

sl_h_log() { echo "harness: $*" >&2; }

sl_h_init() {
    if [ -n "${SL_HARNESS_ROOT:-}" ] && [ -d "$SL_HARNESS_ROOT" ] && [ -n "${SL_H_OWNER:-}" ]; then
        return 0
    fi
    SL_HARNESS_ROOT=$(mktemp -d "${TMPDIR:-/tmp}/sluice-harness.XXXXXX") || return 1
    export SL_HARNESS_ROOT
    SL_H_OWNER=$$
    : > "$SL_HARNESS_ROOT/pids"
    # Benchmarks compare builds by pointing SL_BIN at another bin/.
    export SL_BIN="${SL_BIN:-$SL_H_TOP/bin}"
    trap 'sl_h_cleanup' EXIT
    trap 'sl_h_log "interrupted"; exit 130' INT TERM
    if [ ! -x "$SL_H_FREEPORT" ]; then
        sl_h_log "build/freeport is missing; run make first"
        return 1
    fi
}

sl_h_cleanup() {
    [ "${SL_H_OWNER:-}" = "$$" ] || return 0
    sl_h_stop_all
    if [ -n "${SL_HARNESS_KEEP:-}" ]; then
        sl_h_log "kept $SL_HARNESS_ROOT"
    else
        rm -rf "$SL_HARNESS_ROOT"
    fi
    SL_H_OWNER=
}

sl_h_freeport() { "$SL_H_FREEPORT"; }

# sl_h_wait_pid_gone PID SECONDS: waits until PID has exited.
sl_h_wait_pid_gone() {
    local pid=$1 tries=$(( $2 * 10 ))
    while [ $tries -gt 0 ] && kill -0 "$pid" 2>/dev/null; do
        # Reap it if it is our child so it does not linger as a zombie.
        wait "$pid" 2>/dev/null
        sleep 0.1
        tries=$((tries - 1))
    done
    ! kill -0 "$pid" 2>/dev/null
}

# sl_h_kill PID: TERM, up to 30 s, then KILL.
sl_h_kill() {
    local pid=$1
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null
    if ! sl_h_wait_pid_gone "$pid" 30; then
        sl_h_log "pid $pid ignored SIGTERM; killing"
        kill -KILL "$pid" 2>/dev/null
        sl_h_wait_pid_gone "$pid" 10
    fi
}

# The kernel's start time of a process (field 22 of /proc/PID/stat, after
# the command name, which may hold spaces), or nothing when it is gone.
sl_h_starttime() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
    set -- ${stat##*) }
    echo "${20}"
}

# Records a process to stop at cleanup, with its start time: a pid can be
# reused by an unrelated process once ours has exited, and cleanup must
# never signal someone else's.
sl_h_record_pid() {
    echo "$1 $2 $(sl_h_starttime "$2")" >> "$SL_HARNESS_ROOT/pids"
}

sl_h_stop_all() {
    [ -f "${SL_HARNESS_ROOT:-/nonexistent}/pids" ] || return 0
    local name pid start
    # Newest first, so dependants stop before what they depend on.
    tac "$SL_HARNESS_ROOT/pids" | while read -r name pid start; do
        [ -n "$start" ] && [ "$(sl_h_starttime "$pid")" != "$start" ] &&
            continue
        sl_h_kill "$pid"
    done
    : > "$SL_HARNESS_ROOT/pids"
}

# sl_h_wait_for DESC SECONDS CMD...: retries CMD every 0.1 s.
sl_h_wait_for() {
    local desc=$1 tries=$(( $2 * 10 ))
    shift 2
    while [ $tries -gt 0 ]; do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
        tries=$((tries - 1))
    done
    sl_h_log "timed out waiting for $desc"
    return 1
}

sl_h_mariadb_template() {
    local tpl="$SL_HARNESS_ROOT/.mariadb-template"
    [ -d "$tpl" ] && return 0
    local user_opt=()
    [ "$(id -u)" = 0 ] && user_opt=(--user=root)
    # A private TMPDIR: install-db runs of concurrent suites in one /tmp
    # collide on temporary file names.
    mkdir -p "$SL_HARNESS_ROOT/tmp"
    TMPDIR="$SL_HARNESS_ROOT/tmp" \
    mariadb-install-db --no-defaults --datadir="$tpl.tmp" "${user_opt[@]}" \
        --auth-root-authentication-method=normal --skip-test-db \
        --skip-name-resolve > "$SL_HARNESS_ROOT/install-db.log" 2>&1 || {
        sl_h_log "mariadb-install-db failed:"; cat "$SL_HARNESS_ROOT/install-db.log" >&2
        return 1
    }
    mv "$tpl.tmp" "$tpl"
}

# sl_h_mariadb_args ROLE: the mariadbd command line for a role's directory.
sl_h_mariadb_args() {
    local role=$1 dir="$SL_HARNESS_ROOT/$1"
    local server_id port
    server_id=$(cat "$dir/server_id") port=$(cat "$dir/port")
    SL_H_ARGS=(mariadbd --no-defaults)
    [ "$(id -u)" = 0 ] && SL_H_ARGS+=(--user=root)
    mkdir -p "$dir/tmp"
    SL_H_ARGS+=(--datadir="$dir/data" --socket="$dir/sock" --port="$port"
        --tmpdir="$dir/tmp"
        --bind-address=127.0.0.1 --pid-file="$dir/mariadbd.pid"
        --log-error="$dir/error.log" --skip-name-resolve
        --server-id="$server_id" --log-bin="$dir/data/binlog"
        --binlog-format=ROW --binlog-row-image=FULL --binlog-row-metadata=FULL
        --gtid-strict-mode=ON --gtid-domain-id=0
        --innodb-buffer-pool-size=128M --innodb-flush-log-at-trx-commit=2
        --sync-binlog=0 --max-allowed-packet=1G --max-connections=500
        --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci
        --skip-log-bin-compress --log-slave-updates)
    [ -f "$dir/extra" ] && mapfile -t -O "${#SL_H_ARGS[@]}" SL_H_ARGS < "$dir/extra"
    return 0
}

sl_h_mysql_root() { mariadb --no-defaults -uroot --socket="$SL_HARNESS_ROOT/$1/sock" "${@:2}"; }

# sl_h_start_mariadb ROLE SERVER_ID [extra mariadbd options...]
# Starts (or, when the role's directory exists, restarts) a mariadbd. On the
# first start it also creates the users the tests connect as.
sl_h_start_mariadb() {
    local role=$1 server_id=$2
    shift 2
    local dir="$SL_HARNESS_ROOT/$role" attempt
    if [ ! -d "$dir" ]; then
        sl_h_mariadb_template || return 1
        mkdir -p "$dir"
        cp -a "$SL_HARNESS_ROOT/.mariadb-template" "$dir/data"
        echo "$server_id" > "$dir/server_id"
        printf '%s\n' "$@" | grep -v '^$' > "$dir/extra"
        head -c 18 /dev/urandom | base64 | tr -d '/+=\n' > "$dir/password"
        chmod 600 "$dir/password"
    fi
    for attempt in 1 2 3; do
        # A restart keeps its port so clients can reconnect; a fresh start, or
        # a retry after losing a port race, takes a new one.
        if [ ! -f "$dir/port" ] || [ $attempt -gt 1 ]; then
            sl_h_freeport > "$dir/port"
        fi
        [ -f "$dir/error.log" ] && cat "$dir/error.log" >> "$dir/error.log.old"
        : > "$dir/error.log"
        sl_h_mariadb_args "$role"
        "${SL_H_ARGS[@]}" >> "$dir/stdout.log" 2>&1 &
        local pid=$!
        echo "$pid" > "$dir/pid"
        sl_h_record_pid "$role" "$pid"
        if sl_h_wait_for "$role mariadbd" 60 sl_h_mariadb_ready "$role" "$pid"; then
            break
        fi
        sl_h_kill "$pid"
        if [ $attempt = 3 ] || ! grep -q 'already in use' "$dir/error.log"; then
            sl_h_log "$role mariadbd did not start; its error log:"
            tail -n 30 "$dir/error.log" >&2
            return 1
        fi
    done
    if [ ! -f "$dir/users-created" ]; then
        local pw
        pw=$(cat "$dir/password")
        sl_h_mysql_root "$role" -e "
            CREATE USER 'sluice'@'127.0.0.1' IDENTIFIED BY '$pw';
            GRANT ALL PRIVILEGES ON *.* TO 'sluice'@'127.0.0.1' WITH GRANT OPTION;
            CREATE USER 'repl'@'127.0.0.1' IDENTIFIED BY '$pw';
            GRANT REPLICATION SLAVE, REPLICATION CLIENT, SELECT, RELOAD, BINLOG MONITOR
                ON *.* TO 'repl'@'127.0.0.1';
            GRANT CREATE, INSERT, UPDATE ON sluice.* TO 'repl'@'127.0.0.1';
            FLUSH PRIVILEGES;" || return 1
        touch "$dir/users-created"
    fi
    sl_h_export_mariadb "$role"
}

sl_h_mariadb_ready() {
    kill -0 "$2" 2>/dev/null || return 2
    mariadb-admin --no-defaults -uroot --socket="$SL_HARNESS_ROOT/$1/sock" ping
}

sl_h_export_mariadb() {
    local role=$1 dir="$SL_HARNESS_ROOT/$1"
    export "SL_${role}_PORT=$(cat "$dir/port")"
    export "SL_${role}_SOCKET=$dir/sock"
    export "SL_${role}_DATADIR=$dir/data"
    export "SL_${role}_PID=$(cat "$dir/pid")"
    export "SL_${role}_USER=sluice"
    export "SL_${role}_REPL_USER=repl"
    export "SL_${role}_PASSWORD_FILE=$dir/password"
}

# sl_h_stop ROLE: stops a server started by this harness (data kept).
sl_h_stop() {
    local dir="$SL_HARNESS_ROOT/$1"
    [ -f "$dir/pid" ] && sl_h_kill "$(cat "$dir/pid")"
    return 0
}

# sl_h_restart ROLE: stops and starts it again on the same port and data.
sl_h_restart() {
    local role=$1
    sl_h_stop "$role"
    case $role in
    REDIS) sl_h_start_redis ;;
    MEMCACHED) sl_h_start_memcached ;;
    *) sl_h_start_mariadb "$role" "$(cat "$SL_HARNESS_ROOT/$role/server_id")" ;;
    esac
}

sl_h_start_redis() {
    local dir="$SL_HARNESS_ROOT/REDIS" attempt
    mkdir -p "$dir"
    for attempt in 1 2 3; do
        if [ ! -f "$dir/port" ] || [ $attempt -gt 1 ]; then
            sl_h_freeport > "$dir/port"
        fi
        local port
        port=$(cat "$dir/port")
        redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" \
            --save '' --appendonly no --daemonize no --protected-mode yes \
            --logfile "$dir/redis.log" &
        local pid=$!
        echo "$pid" > "$dir/pid"
        sl_h_record_pid REDIS "$pid"
        if sl_h_wait_for redis-server 20 redis-cli -h 127.0.0.1 -p "$port" ping; then
            export SL_REDIS_PORT=$port SL_REDIS_PID=$pid
            return 0
        fi
        sl_h_kill "$pid"
    done
    sl_h_log "redis-server did not start:"; tail -n 20 "$dir/redis.log" >&2
    return 1
}

sl_h_memcached_ready() {
    local reply
    exec 9<>"/dev/tcp/127.0.0.1/$1" || return 1
    printf 'version\r\n' >&9
    read -r -t 2 reply <&9
    exec 9>&-
    case $reply in VERSION*) return 0 ;; esac
    return 1
}

sl_h_start_memcached() {
    local dir="$SL_HARNESS_ROOT/MEMCACHED" attempt
    mkdir -p "$dir"
    local user_opt=()
    [ "$(id -u)" = 0 ] && user_opt=(-u root)
    for attempt in 1 2 3; do
        if [ ! -f "$dir/port" ] || [ $attempt -gt 1 ]; then
            sl_h_freeport > "$dir/port"
        fi
        local port
        port=$(cat "$dir/port")
        memcached -l 127.0.0.1 -p "$port" -U 0 -m 64 -c 1024 "${user_opt[@]}" \
            > "$dir/memcached.log" 2>&1 &
        local pid=$!
        echo "$pid" > "$dir/pid"
        sl_h_record_pid MEMCACHED "$pid"
        if sl_h_wait_for memcached 20 sl_h_memcached_ready "$port"; then
            export SL_MEMCACHED_PORT=$port SL_MEMCACHED_PID=$pid
            return 0
        fi
        sl_h_kill "$pid"
    done
    sl_h_log "memcached did not start:"; cat "$dir/memcached.log" >&2
    return 1
}

# sl_h_start_suite: the standard set used by the integration tests.
sl_h_start_suite() {
    sl_h_init || return 1
    sl_h_start_mariadb SOURCE 1 || return 1
    sl_h_start_mariadb TARGET 2 || return 1
    sl_h_start_redis || return 1
    sl_h_start_memcached || return 1
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    case ${1:-} in
    run)
        shift
        sl_h_start_suite || exit 1
        "$@"
        exit $?
        ;;
    *)
        echo "usage: $0 run COMMAND [ARGS...]   (or source it from bash)" >&2
        exit 2
        ;;
    esac
fi
