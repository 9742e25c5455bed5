#!/bin/sh
# Builds a Debian 12 base image from Debian's own repositories with
# debootstrap and imports it into the local Docker engine, for machines
# that reach no image registry (scripts/docker-test.sh calls it when
# `docker pull debian:12` fails).
#
#   docker/images/base.sh [TAG]        (default sluice-debian:12; root)
#
# The image is a `minbase` bookworm: dpkg, apt and the essential packages,
# with apt's sources pointing at deb.debian.org and its security archive,
# the same as the official debian:12 image. An existing image with that
# tag is kept, so running it again costs nothing.
set -eu
tag=${1:-sluice-debian:12}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
if docker image inspect "$tag" > /dev/null 2>&1; then
    exit 0
fi
command -v debootstrap > /dev/null || {
    echo "base.sh: debootstrap is missing (apt-get install debootstrap)" >&2
    exit 1
}
root=$(mktemp -d "${TMPDIR:-/tmp}/sluice-debootstrap.XXXXXX")
trap 'rm -rf "$root"' EXIT
echo "base.sh: debootstrap bookworm into $root (a few minutes)"
debootstrap --variant=minbase bookworm "$root" "$mirror" > "$root.log" 2>&1 || {
    tail -n 20 "$root.log" >&2
    rm -f "$root.log"
    exit 1
}
rm -f "$root.log"
cat > "$root/etc/apt/sources.list" <<SOURCES
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
SOURCES
# What the official image does to keep layers small: no apt caches, no
# docs beyond copyright files.
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin \
    "$root"/var/cache/apt/archives/*.deb
tar -C "$root" -c . | docker import \
    --change 'CMD ["bash"]' --change 'ENV LANG=C.UTF-8' - "$tag" > /dev/null
echo "base.sh: imported $tag"
