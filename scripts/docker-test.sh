#!/usr/bin/env bash
# `make docker-test`: builds the sluice image from docker/Dockerfile and runs
# the pipeline of docker/compose.yaml end to end with the demo's verdict
# (source and target tables equal by row hash, the changed rows' Redis keys
# invalidated, the others kept), then stops and removes everything it
# started. Not part of `make test`: it takes minutes.
#
# What it needs, and sets up when missing (as root, non-interactively):
#   - a Docker engine: Debian's docker.io, started here as
#     `dockerd --storage-driver=vfs` when none answers (vfs works where
#     overlay does not), and stopped again at the end;
#   - Compose: `docker compose` (v2) when the client has it, else Debian
#     12's docker-compose 1.29;
#   - images: with a reachable registry the official debian:12,
#     debian:12-slim, mariadb:10.11 and redis:7. Without one, a Debian 12
#     base built by debootstrap from Debian's repositories
#     (docker/images/base.sh) and MariaDB and Redis images built from
#     Debian's packages on it (docker/images/mariadb, docker/images/redis).
#
# It also checks that no secret entered any image layer: the secrets are
# made outside the repository (docker/make-secrets.sh) and every layer of
# the build stage and the final image is searched for their values.
#
# Prints the build time, the image size and the verdict; exit status 0 only
# when everything passed.
set -u
cd "$(dirname "$0")/.."
TOP=$(pwd)
T0=$EPOCHSECONDS
PROJECT=sluice-docker-test-$$
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sluice-docker-test.XXXXXX") || exit 1
DOCKERD_PID=
COMPOSE=()
ok=1

say() { printf 'docker-test: %s\n' "$*"; }
fail() {
    say "FAIL: $*"
    exit 1
}

cleanup() {
    if [ ${#COMPOSE[@]} -gt 0 ]; then
        say "stopping the pipeline"
        "${COMPOSE[@]}" down -v --remove-orphans > "$WORK/down.log" 2>&1 ||
            tail -n 5 "$WORK/down.log"
    fi
    if [ -n "$DOCKERD_PID" ]; then
        say "stopping the Docker engine this test started (pid $DOCKERD_PID)"
        kill "$DOCKERD_PID" 2> /dev/null
        for _ in $(seq 1 30); do
            kill -0 "$DOCKERD_PID" 2> /dev/null || break
            sleep 1
        done
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- The engine and the tools.
need=()
command -v dockerd > /dev/null || need+=(docker.io)
command -v docker > /dev/null || need+=(docker.io)
command -v debootstrap > /dev/null || need+=(debootstrap)
if ! docker compose version > /dev/null 2>&1; then
    command -v docker-compose > /dev/null || need+=(docker-compose)
fi
if [ ${#need[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || fail "needs ${need[*]} (run as root to install them)"
    say "installing ${need[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" > "$WORK/apt.log" 2>&1 || {
        DEBIAN_FRONTEND=noninteractive apt-get update -qq > /dev/null 2>&1
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" > "$WORK/apt.log" 2>&1 ||
            { tail -n 5 "$WORK/apt.log"; fail "apt-get install ${need[*]} failed"; }
    }
fi
if ! docker info > /dev/null 2>&1; then
    [ "$(id -u)" = 0 ] || fail "no Docker engine answers, and starting one needs root"
    say "starting dockerd --storage-driver=vfs"
    dockerd --storage-driver=vfs > "$WORK/dockerd.log" 2>&1 &
    DOCKERD_PID=$!
    for _ in $(seq 1 60); do
        docker info > /dev/null 2>&1 && break
        kill -0 "$DOCKERD_PID" 2> /dev/null || { tail -n 5 "$WORK/dockerd.log"; fail "dockerd exited"; }
        sleep 1
    done
    docker info > /dev/null 2>&1 || fail "dockerd did not answer within 60 s"
fi
if docker compose version > /dev/null 2>&1; then
    COMPOSE_CMD=(docker compose)
else
    COMPOSE_CMD=(docker-compose)
fi
say "engine $(docker version -f '{{.Server.Version}}' 2> /dev/null), compose: ${COMPOSE_CMD[*]} $("${COMPOSE_CMD[@]}" version --short 2> /dev/null)"

# --- Images: official ones, or built from Debian's repositories.
if timeout 60 docker pull -q debian:12 > /dev/null 2>&1 &&
    timeout 120 docker pull -q debian:12-slim > /dev/null 2>&1 &&
    timeout 300 docker pull -q mariadb:10.11 > /dev/null 2>&1 &&
    timeout 120 docker pull -q redis:7 > /dev/null 2>&1; then
    say "a registry is reachable: using the official images"
    export SLUICE_BASE_IMAGE=debian:12 SLUICE_RUNTIME_BASE_IMAGE=debian:12-slim
    export SLUICE_MARIADB_IMAGE=mariadb:10.11 SLUICE_REDIS_IMAGE=redis:7
else
    say "no image registry reachable: building a Debian 12 base with debootstrap"
    t=$EPOCHSECONDS
    docker/images/base.sh sluice-debian:12 || fail "could not build the Debian base image"
    say "base image ready ($((EPOCHSECONDS - t)) s)"
    export SLUICE_BASE_IMAGE=sluice-debian:12 SLUICE_RUNTIME_BASE_IMAGE=sluice-debian:12
    export SLUICE_MARIADB_IMAGE=sluice-mariadb:10.11 SLUICE_REDIS_IMAGE=sluice-redis:7
    for svc in mariadb:10.11 redis:7; do
        t=$EPOCHSECONDS
        docker build -q --build-arg BASE=sluice-debian:12 -t "sluice-$svc" \
            "docker/images/${svc%%:*}" > "$WORK/build-${svc%%:*}.log" 2>&1 ||
            { tail -n 20 "$WORK/build-${svc%%:*}.log"; fail "could not build sluice-$svc"; }
        say "sluice-$svc built from Debian's packages ($((EPOCHSECONDS - t)) s)"
    done
fi

# --- Secrets, outside the repository and the build context.
eval "$(docker/make-secrets.sh "$WORK/secrets" 2> /dev/null)" || fail "docker/make-secrets.sh failed"
[ -s "$SLUICE_SECRETS_DIR/broker_secret.txt" ] || fail "no secrets in $SLUICE_SECRETS_DIR"

# --- The sluice image: the build stage and the final image.
t=$EPOCHSECONDS
docker build --build-arg BASE="$SLUICE_BASE_IMAGE" \
    --build-arg RUNTIME_BASE="$SLUICE_RUNTIME_BASE_IMAGE" \
    --target build -t sluice-build:docker-test -f docker/Dockerfile . > "$WORK/build-stage.log" 2>&1 ||
    { tail -n 30 "$WORK/build-stage.log"; fail "the build stage of docker/Dockerfile failed"; }
docker build --build-arg BASE="$SLUICE_BASE_IMAGE" \
    --build-arg RUNTIME_BASE="$SLUICE_RUNTIME_BASE_IMAGE" \
    -t sluice:latest -f docker/Dockerfile . > "$WORK/build.log" 2>&1 ||
    { tail -n 30 "$WORK/build.log"; fail "docker build of docker/Dockerfile failed"; }
build_s=$((EPOCHSECONDS - t))
size=$(docker image inspect -f '{{.Size}}' sluice:latest)
say "sluice:latest built in ${build_s} s; $((size / 1048576)) MiB (build stage $(( $(docker image inspect -f '{{.Size}}' sluice-build:docker-test) / 1048576 )) MiB)"

# No layer of either image holds a secret's value or the secrets folder.
for img in sluice-build:docker-test sluice:latest; do
    mkdir -p "$WORK/save"
    docker save "$img" | tar -x -C "$WORK/save" || fail "docker save $img failed"
    for layer in "$WORK"/save/*/layer.tar; do
        if tar -tf "$layer" | grep -q 'secrets/\|_password\.txt\|broker_secret'; then
            fail "$img: a layer holds a secrets file: $(tar -tf "$layer" | grep 'secrets/\|_password\.txt\|broker_secret' | head -n 3)"
        fi
        for f in "$SLUICE_SECRETS_DIR"/*.txt; do
            if tar -xOf "$layer" 2> /dev/null | grep -aqF "$(cat "$f")"; then
                fail "$img: a layer holds the value of $(basename "$f")"
            fi
        done
    done
    say "$img: no secret in any of its $(ls -d "$WORK"/save/*/ | wc -l) layers"
    rm -rf "$WORK/save"
done
# The build stage installs only what building needs.
for p in mariadb-server redis-server clang memcached; do
    if docker run --rm sluice-build:docker-test dpkg -s "$p" > /dev/null 2>&1; then
        fail "the build stage installs $p, which building does not need"
    fi
done
say "the build stage holds no test servers and no clang"

# --- The pipeline.
COMPOSE=("${COMPOSE_CMD[@]}" -p "$PROJECT" -f docker/compose.yaml)
# The broker is published on the host's 127.0.0.1:8123; a free port keeps
# the test from clashing with a broker already running here.
sed -e "s/\"127.0.0.1:8123:8123\"/\"127.0.0.1:$("$TOP/build/freeport" 2> /dev/null || echo 18123):8123\"/" \
    docker/compose.yaml > "$WORK/compose.yaml"
cp docker/initdb.sh "$WORK/initdb.sh"
mkdir -p "$WORK/docs/examples"
cp docs/examples/apply-keys.txt "$WORK/docs/examples/"
# The copy resolves `..` (the build context, the keys file) to $WORK; the
# images are built already, so nothing is built from there.
mkdir -p "$WORK/docker" && mv "$WORK/compose.yaml" "$WORK/initdb.sh" "$WORK/docker/"
COMPOSE=("${COMPOSE_CMD[@]}" -p "$PROJECT" -f "$WORK/docker/compose.yaml")
t=$EPOCHSECONDS
"${COMPOSE[@]}" up -d --no-build > "$WORK/up.log" 2>&1 ||
    { tail -n 20 "$WORK/up.log"; fail "compose up failed"; }

# Container ids once: `compose ps` is slow (a second or more under load).
declare -A CID
for s in source target redis broker capture apply; do
    CID[$s]=$("${COMPOSE[@]}" ps -q "$s")
done
health() { docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "${CID[$1]}" 2> /dev/null; }
all_healthy() {
    local s
    for s in source target redis broker capture apply; do
        [ "$(health $s)" = healthy ] || return 1
    done
}
deadline=$((EPOCHSECONDS + 360))
while [ $EPOCHSECONDS -lt $deadline ]; do
    all_healthy && break
    sleep 2
done
if ! all_healthy; then
    for s in source target redis broker capture apply; do
        say "$s: $(health $s)"
    done
    "${COMPOSE[@]}" logs --tail 20 > "$WORK/logs.txt" 2>&1
    tail -n 60 "$WORK/logs.txt"
    fail "the services did not all become healthy within 6 minutes"
fi
say "all six services healthy ($((EPOCHSECONDS - t)) s)"

src() { "${COMPOSE[@]}" exec -T source mariadb -uroot -N -B shop "$@"; }
dst() { "${COMPOSE[@]}" exec -T target mariadb -uroot -N -B shop "$@"; }
rcli() { "${COMPOSE[@]}" exec -T redis redis-cli "$@"; }
capture_stat() { # NAME: one value of capture's stats endpoint
    "${COMPOSE[@]}" exec -T capture bash -c '
        exec 3<>/dev/tcp/127.0.0.1/8124 || exit 1
        printf "stats\r\n" >&3
        while read -r -t 5 a b c <&3; do
            [ "${a%$'"'"'\r'"'"'}" = END ] && break
            [ "$b" = "$1" ] && printf "%s\n" "${c%$'"'"'\r'"'"'}"
        done' _ "$1"
}
# Capture starts at the source's end of binlog once connected; rows written
# before that would be (rightly) not captured, so wait for a position.
for _ in $(seq 1 60); do
    f=$(capture_stat file)
    [ -n "$f" ] && [ "$f" != - ] && break
    sleep 1
done
[ -n "$f" ] && [ "$f" != - ] || fail "capture never reported a binlog position"
say "capture is reading $f"

# Cached keys: those of the users and orders the workload writes, and
# keys of ids it never touches, which must survive.
{
    for i in $(seq 1 200); do echo "SET user:$i cached"; echo "SET user:$i:orders cached"; done
    for i in $(seq 1 400); do echo "SET order:$i cached"; done
    for i in $(seq 9001 9100); do echo "SET user:$i cached"; done
} | rcli > /dev/null || fail "could not seed Redis"

src -e "
    INSERT INTO users (id, email, name)
      SELECT seq, CONCAT('u', seq, '@example.com'), CONCAT('user ', seq) FROM seq_1_to_200;
    INSERT INTO orders (id, user_id, amount, status)
      SELECT seq, 1 + seq % 200, seq * 1.25, 'new' FROM seq_1_to_400;
    UPDATE users SET name = CONCAT(name, ' (renamed)') WHERE id % 2 = 0;
    UPDATE orders SET status = 'paid' WHERE id % 3 = 0;
    DELETE FROM orders WHERE id % 7 = 0;
    BEGIN; UPDATE users SET email = CONCAT('new', id, '@example.com') WHERE id <= 50;
           UPDATE orders SET amount = amount + 1 WHERE user_id <= 50; COMMIT;" ||
    fail "the workload failed on the source"

table_hash() { # SIDE TABLE COLUMNS
    "$1" -e "SET SESSION group_concat_max_len = 1073741824;
        SELECT CONCAT(COUNT(*), ' rows, sha256 ', SHA2(GROUP_CONCAT(
            CONCAT_WS('|', $3) ORDER BY id SEPARATOR '\n'), 256)) FROM shop.$2"
}
check_table() { # TABLE COLUMNS
    local s d
    s=$(table_hash src "$@")
    for _ in $(seq 1 120); do
        d=$(table_hash dst "$@")
        [ "$s" = "$d" ] && break
        sleep 1
    done
    if [ "$s" = "$d" ]; then
        say "shop.$1 equal: $s"
    else
        say "shop.$1 DIFFERS: source $s, target $d"
        ok=0
    fi
}
check_table users "id, email, name, updated"
check_table orders "id, user_id, amount, status"

touched=$(for i in $(seq 1 200); do echo "EXISTS user:$i"; done; for i in $(seq 1 400); do echo "EXISTS order:$i"; done)
untouched=$(for i in $(seq 9001 9100); do echo "EXISTS user:$i"; done)
n_left=0
for _ in $(seq 1 30); do
    n_left=$(rcli <<< "$touched" | grep -c '^1$')
    [ "$n_left" = 0 ] && break
    sleep 1
done
n_kept=$(rcli <<< "$untouched" | grep -c '^1$')
if [ "$n_left" = 0 ]; then
    say "Redis: the keys of all 200 written users and 400 written orders are gone"
else
    say "Redis: $n_left keys of written rows are still cached"
    ok=0
fi
if [ "$n_kept" = 100 ]; then
    say "Redis: the 100 keys of untouched users are still cached"
else
    say "Redis: only $n_kept of the 100 untouched users' keys are cached"
    ok=0
fi

if [ $ok = 1 ]; then
    echo
    echo "VERDICT: OK — the compose pipeline replicated source to target (equal by row hash)"
    echo "         and invalidated every written key; image built in ${build_s} s,"
    echo "         $((size / 1048576)) MiB; $((EPOCHSECONDS - T0)) s in all. Stopping everything."
    exit 0
fi
"${COMPOSE[@]}" logs --tail 30 capture apply > "$WORK/logs.txt" 2>&1
tail -n 60 "$WORK/logs.txt"
fail "source and target differ, or Redis kept a written key (see above)"
