#!/bin/bash
# Container health checks for the sluice programs (installed in the image
# as /usr/local/bin/sluice-healthcheck; used by docker/compose.yaml).
#
#   sluice-healthcheck broker [HOST:PORT] [SECRET_FILE]
#       `sluice stats` against the broker answers.
#   sluice-healthcheck capture [HOST:PORT]
#       capture's --stats-listen endpoint answers `stats` with STAT lines.
#   sluice-healthcheck apply STATS_FILE [MAX_AGE_SECONDS]
#       apply's --stats-file was rewritten within MAX_AGE_SECONDS (default
#       60) and names no stopped partition.
#
# Exit 0 when healthy, 1 otherwise (with the reason on stderr).
set -u
what=${1:-}
case $what in
broker)
    addr=${2:-127.0.0.1:8123}
    if [ -n "${3:-}" ]; then
        exec sluice --broker "$addr" --broker-secret-file "$3" --timeout 5s stats > /dev/null
    fi
    exec sluice --broker "$addr" --timeout 5s stats > /dev/null
    ;;
capture)
    addr=${2:-127.0.0.1:8124}
    host=${addr%:*} port=${addr##*:}
    exec 3<>"/dev/tcp/$host/$port" || { echo "capture stats endpoint $addr does not answer" >&2; exit 1; }
    printf 'stats\r\n' >&3
    read -r -t 5 line <&3 || { echo "no reply from $addr" >&2; exit 1; }
    case $line in STAT*) exit 0 ;; esac
    echo "unexpected reply from $addr: $line" >&2
    exit 1
    ;;
apply)
    file=${2:?usage: sluice-healthcheck apply STATS_FILE [MAX_AGE_SECONDS]}
    max=${3:-60}
    [ -f "$file" ] || { echo "$file does not exist yet" >&2; exit 1; }
    age=$(( $(date +%s) - $(stat -c %Y "$file") ))
    [ "$age" -le "$max" ] || { echo "$file is ${age}s old" >&2; exit 1; }
    if grep -q '^STAT part:.*:error ' "$file"; then
        grep '^STAT part:.*:error ' "$file" >&2
        exit 1
    fi
    exit 0
    ;;
*)
    echo "usage: sluice-healthcheck broker|capture|apply ..." >&2
    exit 2
    ;;
esac
