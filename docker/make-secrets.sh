#!/bin/sh
# Creates the secrets docker/compose.yaml reads: random passwords for the
# source and target `sluice` users and the broker's shared secret, as
# SOURCE_PASSWORD.txt files in a directory OUTSIDE the repository, so they
# can never enter a Docker build context or an image layer:
#
#   eval "$(docker/make-secrets.sh)"       # sets SLUICE_SECRETS_DIR
#   docker/make-secrets.sh DIR             # or a directory of your choice
#
# The directory defaults to $XDG_CONFIG_HOME/sluice/compose-secrets
# (~/.config/...). Existing files are kept, so running it again is
# harmless. It prints the `export SLUICE_SECRETS_DIR=...` line compose
# needs on stdout, and what it created on stderr. The directory is 0700;
# the files are 0644 because compose (outside swarm) bind-mounts them with
# their host permissions and the containers read them as a non-root user.
set -eu
dir=${1:-${SLUICE_SECRETS_DIR:-${XDG_CONFIG_HOME:-$HOME/.config}/sluice/compose-secrets}}
repo=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
case $dir/ in
"$repo"/*)
    echo "make-secrets.sh: $dir is inside the repository (the build context); choose a directory outside it" >&2
    exit 1 ;;
esac
chmod 700 "$dir"
for name in source_password target_password broker_secret; do
    f=$dir/$name.txt
    [ -s "$f" ] && continue
    # Hex only: safe inside SQL string literals and shell words.
    od -An -N24 -tx1 /dev/urandom | tr -d ' \n' > "$f"
    chmod 644 "$f"
    echo "created $f" >&2
done
echo "export SLUICE_SECRETS_DIR='$dir'"
