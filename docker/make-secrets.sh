#!/bin/sh
# Creates the secrets docker/compose.yaml reads (docker/secrets/*.txt):
# random passwords for the source and target `sluice` users and the
# broker's shared secret. Existing files are kept, so running it again is
# harmless. The directory is 0700; the files are 0644 because compose
# (outside swarm) bind-mounts them with their host permissions and the
# containers read them as a non-root user.
set -eu
dir=$(dirname "$0")/secrets
mkdir -p "$dir"
chmod 700 "$dir"
for name in source_password target_password broker_secret; do
    f=$dir/$name.txt
    [ -s "$f" ] && continue
    # Hex only: safe inside SQL string literals and shell words.
    od -An -N24 -tx1 /dev/urandom | tr -d ' \n' > "$f"
    chmod 644 "$f"
    echo "created $f"
done
