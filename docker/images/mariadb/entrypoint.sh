#!/bin/bash
# Entry point of docker/images/mariadb: initialises the data directory on
# the first start (running /docker-entrypoint-initdb.d on a temporary
# server bound to no network), then runs mariadbd in the foreground with
# the command's options. See the Dockerfile for the interface.
set -eu
datadir=/var/lib/mysql
sock=/run/mysqld/mysqld.sock
install -d -o mysql -g mysql -m 0755 /run/mysqld

docker_process_sql() {
    mariadb --protocol=socket --socket="$sock" -uroot "$@"
}

if [ ! -d "$datadir/mysql" ]; then
    echo "entrypoint: initialising $datadir"
    mariadb-install-db --user=mysql --datadir="$datadir" \
        --auth-root-authentication-method=socket --skip-test-db > /dev/null
    mariadbd --user=mysql --datadir="$datadir" --skip-networking \
        --socket="$sock" --log-bin=0 &
    pid=$!
    for _ in $(seq 1 60); do
        mariadb-admin --socket="$sock" -uroot ping > /dev/null 2>&1 && break
        sleep 1
    done
    mariadb-admin --socket="$sock" -uroot ping > /dev/null
    if [ -n "${MARIADB_RANDOM_ROOT_PASSWORD:-}" ]; then
        # Root from the network gets a password nobody knows; root over
        # the socket inside the container (the health check) keeps
        # unix_socket authentication.
        pw=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
        docker_process_sql <<SQL
ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD('$pw');
SQL
        unset pw
    fi
    for f in /docker-entrypoint-initdb.d/*; do
        case $f in
        *.sh) echo "entrypoint: sourcing $f"; . "$f" ;;
        *.sql) echo "entrypoint: running $f"; docker_process_sql < "$f" ;;
        esac
    done
    mariadb-admin --socket="$sock" -uroot shutdown
    wait "$pid" || true
    echo "entrypoint: initialised"
fi
exec mariadbd --user=mysql --datadir="$datadir" --socket="$sock" \
    --bind-address=0.0.0.0 "$@"
