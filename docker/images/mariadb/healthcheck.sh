#!/bin/sh
# The subset of the official mariadb image's healthcheck.sh that
# docker/compose.yaml uses: --connect (the server answers over its socket)
# and --innodb_initialized (InnoDB reports itself up). Runs as root inside
# the container, which authenticates over the socket.
set -eu
sock=/run/mysqld/mysqld.sock
for arg in "$@"; do
    case $arg in
    --connect)
        mariadb-admin --socket="$sock" -uroot ping > /dev/null 2>&1 || exit 1 ;;
    --innodb_initialized)
        v=$(mariadb --socket="$sock" -uroot -N -e \
            "SELECT 1 FROM information_schema.ENGINES WHERE ENGINE='InnoDB' AND SUPPORT IN ('YES','DEFAULT')" 2>/dev/null) || exit 1
        [ "$v" = 1 ] || exit 1 ;;
    *) echo "healthcheck.sh: unknown option $arg" >&2; exit 2 ;;
    esac
done
exit 0
