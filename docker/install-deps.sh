#!/bin/sh
# Installs the Debian packages of docker/packages.txt that are missing.
#
#   docker/install-deps.sh          every package of the list
#   docker/install-deps.sh build    only what building the programs needs:
#                                   the lines before the "end of the build
#                                   packages" marker (docker/Dockerfile)
#
# Idempotent: when all are present it prints nothing, needs no network and
# no root. Otherwise it runs `apt-get update` once, then one non-interactive
# `apt-get install --no-install-recommends`. Used by `make deps` and by
# docker/Dockerfile, so the list lives in one place.
set -eu
here=$(dirname "$0")
case ${1:-all} in
all) list=$(cat "$here/packages.txt") ;;
build) list=$(sed -e '/^# -- end of the build packages/,$d' "$here/packages.txt") ;;
*) echo "install-deps.sh: unknown set '$1' (all or build)" >&2; exit 2 ;;
esac
packages=$(printf '%s\n' "$list" | sed -e 's/#.*//' | tr -s ' \n' ' ')
installed=$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' $packages 2>/dev/null |
    awk '$2 == "installed" { print $1 }' || true)
missing=
for p in $packages; do
    case " $(echo $installed) " in
    *" $p "*) ;;
    *) missing="$missing $p" ;;
    esac
done
[ -z "$missing" ] && exit 0
echo "deps: installing:$missing"
sudo=
[ "$(id -u)" = 0 ] || sudo=sudo
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# Debian's package scripts may try to start the servers they install; the
# tests start their own on free ports, so keep the system ones stopped.
if [ ! -e /usr/sbin/policy-rc.d ] && [ -z "$sudo" ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
$sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "deps: done"
