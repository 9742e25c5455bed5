#!/usr/bin/env bash
# Every flag and config key that the shipped deployment files use must be
# one the programs accept:
#   docs/examples/<program>.conf   (keys, including commented-out ones)
#   docker/compose.yaml            (each sluice service's command:)
#   docs/systemd/*.service         (ExecStart= lines)
#   docker/healthcheck.sh          (the sluice CLI flags it passes)
#
# Two checks, each of which fails when a key is wrong:
#   static   every name is in the program's `--help` table (the same table
#            the parser uses), so the FAIL line names the bad key;
#   dynamic  the program really starts with that config file or argument
#            list: run for 3 s with the network addresses and paths pointed
#            at local, unused ports and temporary files (flags override the
#            file), it must still be running when stopped (timeout's 124).
#            A parse error exits 2 at once, a bad value (e.g. `fsync = sometimes`)
#            too, and a failed start 1.
# A self-test first shows both checks catch a wrong key.
#
# Needs no server (capture, apply and the caches are pointed at ports where
# nothing listens, and the programs wait for them). Prints PASS/FAIL lines;
# exit status 1 when anything failed.
set -u
cd "$(dirname "$0")/../.."
TOP=$(pwd)
FREEPORT=$TOP/build/freeport
failed=0

pass() { echo "PASS config_flags:$*"; }
fail() { echo "FAIL config_flags:$*"; failed=1; }

for p in sluice-broker sluice-capture sluice-apply sluice; do
    if [ ! -x "bin/$p" ]; then
        fail "setup: bin/$p is missing (run make)"
        exit 1
    fi
done
[ -x "$FREEPORT" ] || { fail "setup: build/freeport is missing (run make)"; exit 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/sluice-config-flags.XXXXXX") || exit 1
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$TMP/secret"
chmod 600 "$TMP/secret"

# known_flags PROGRAM: the option names of PROGRAM's --help table, one a line
# (underscores read as dashes, as the parser does).
declare -A KNOWN
for p in sluice-broker sluice-capture sluice-apply sluice; do
    KNOWN[$p]=" $(bin/$p --help | sed -n 's/^  --\([A-Za-z0-9_-]*\).*/\1/p' | tr '_\n' '- ') "
    if [ "${KNOWN[$p]}" = "  " ]; then
        fail "setup: could not read the option table of $p --help"
        exit 1
    fi
done

# static_check WHERE PROGRAM NAME...: every NAME must be in PROGRAM's table.
static_check() {
    local where=$1 prog=$2 name bad=''
    shift 2
    for name in "$@"; do
        name=${name//_/-}
        [[ ${KNOWN[$prog]} == *" $name "* ]] || bad="$bad --$name"
    done
    if [ -z "$bad" ]; then
        pass "static:$where: $# names accepted by $prog"
    else
        fail "static:$where: $prog does not accept:$bad"
    fi
}

# flag_names ARG...: the names of the --flags in an argument list.
flag_names() {
    local a
    for a in "$@"; do
        case $a in --?*) a=${a#--}; echo "${a%%=*}" ;; esac
    done
}

# conf_keys FILE [commented]: the keys of a key = value file (or of its
# commented-out `# key = value` example lines).
conf_keys() {
    if [ "${2:-}" = commented ]; then
        sed -n 's/^[#;] \{0,1\}\([a-z][a-z0-9_-]*\)[[:space:]]*=.*/\1/p' "$1"
    else
        sed -n 's/^[[:space:]]*\([A-Za-z0-9_-][A-Za-z0-9_-]*\)[[:space:]]*=.*/\1/p' "$1"
    fi
}

# overrides PROGRAM: flags that point a program at local unused ports and
# temporary paths (they replace the same flags in the arguments under test
# and override the config file's keys).
overrides() {
    local n=$((++RUN)) dead
    dead=127.0.0.1:$("$FREEPORT")  # Nothing listens there: clients wait.
    case $1 in
    sluice-broker)
        OVR=(--listen "127.0.0.1:$("$FREEPORT")" --data "$TMP/broker-$n"
             --broker-secret-file "$TMP/secret") ;;
    sluice-capture)
        OVR=(--source "mysql://sluice@$dead" --password-file "$TMP/secret"
             --broker "$dead" --broker-secret-file "$TMP/secret"
             --stats-listen "127.0.0.1:$("$FREEPORT")") ;;
    sluice-apply)
        OVR=(--broker "$dead" --broker-secret-file "$TMP/secret"
             --target-password-file "$TMP/secret"
             --keys "$TOP/docs/examples/apply-keys.txt"
             --stats-file "$TMP/apply-$n.stats")
        # Caches and target only when the arguments under test use them.
        local a
        for a in "$@"; do
            case $a in
            --target|--target=*|target) OVR+=(--target "mysql://sluice@$dead/sluice_meta") ;;
            --redis|--redis=*|redis) OVR+=(--redis "$dead") ;;
            --memcached|--memcached=*|memcached) OVR+=(--memcached "$dead") ;;
            esac
        done ;;
    *) OVR=() ;;
    esac
}
RUN=0

# strip_overridden ARG...: ARGS gets ARG... without the flags (and their
# values) that OVR sets: a flag that is not repeatable may be given only
# once, so the overrides replace those flags instead of repeating them.
strip_overridden() {
    local names=' ' a n skip=0
    for a in "${OVR[@]}"; do
        case $a in --*) n=${a#--}; names+="${n//_/-} " ;; esac
    done
    ARGS=()
    for a in "$@"; do
        if [ $skip = 1 ]; then
            skip=0
            continue
        fi
        case $a in
        --*=*) n=${a%%=*}; n=${n#--}; [[ $names == *" ${n//_/-} "* ]] && continue ;;
        --*) n=${a#--}
             if [[ $names == *" ${n//_/-} "* ]]; then
                 skip=1
                 continue
             fi ;;
        esac
        ARGS+=("$a")
    done
}

# dynamic_check WHERE PROGRAM ARG...: PROGRAM ARG... plus the overrides
# must start and keep running for 3 s.
dynamic_check() {
    local where=$1 prog=$2 rc
    shift 2
    local keys=("$@")
    [ "${1:-}" = --config ] && mapfile -t keys < <(conf_keys "$2")
    overrides "$prog" "${keys[@]}"
    strip_overridden "$@"
    timeout -k 5 3 "bin/$prog" "${ARGS[@]}" "${OVR[@]}" > "$TMP/out" 2> "$TMP/err" &
    local pid=$!
    PIDS+=("$pid")
    wait "$pid"
    rc=$?
    if [ $rc = 124 ]; then
        pass "dynamic:$where: $prog starts with it"
    else
        fail "dynamic:$where: $prog exited with status $rc: $(grep -v '^ts=' "$TMP/err" | head -n 3 | tr '\n' ' ')$(grep 'level=error' "$TMP/err" | head -n 2 | tr '\n' ' ')"
    fi
}

# --- Self-test: a wrong key must fail both checks.
cp docs/examples/broker.conf "$TMP/bad.conf"
echo "fsync-mode = always" >> "$TMP/bad.conf"
selftest=$( (
    failed=0
    # shellcheck disable=SC2046
    static_check selftest sluice-broker $(conf_keys "$TMP/bad.conf")
    dynamic_check selftest sluice-broker --config "$TMP/bad.conf"
    static_check selftest sluice-capture $(flag_names --topic t --includes x)
) )
if [ "$(grep -c '^FAIL ' <<< "$selftest")" = 3 ] &&
    grep -q 'fsync-mode' <<< "$selftest" && grep -q -- '--includes' <<< "$selftest"; then
    pass "selftest: a wrong key fails the static and the dynamic check"
else
    fail "selftest: a wrong key was not caught: $(tr '\n' ' ' <<< "$selftest")"
fi

# --- docs/examples/*.conf
found=0
for f in docs/examples/*.conf; do
    [ -f "$f" ] || continue
    base=$(basename "$f" .conf)
    prog=sluice-$base
    [ "$base" = sluice ] && prog=sluice
    if [ -z "${KNOWN[$prog]:-}" ]; then
        fail "$f: no program $prog for this example (name it broker.conf, capture.conf or apply.conf)"
        continue
    fi
    found=$((found + 1))
    mapfile -t keys < <(conf_keys "$f")
    if [ ${#keys[@]} = 0 ]; then
        fail "$f: no key = value lines found"
        continue
    fi
    static_check "$f" "$prog" "${keys[@]}"
    mapfile -t keys < <(conf_keys "$f" commented)
    [ ${#keys[@]} -gt 0 ] && static_check "$f(commented)" "$prog" "${keys[@]}"
    dynamic_check "$f" "$prog" --config "$f"
done
[ $found -ge 3 ] || fail "docs/examples: expected broker.conf, capture.conf and apply.conf, found $found"

# --- docker/compose.yaml: each service's `command:` flow sequence of quoted
# words. A sluice program missing from the file is a failure too, so the
# check cannot pass by finding nothing.
compose=docker/compose.yaml
if [ ! -f "$compose" ]; then
    fail "$compose is missing"
else
    awk '
        /^  [A-Za-z0-9_.-]+:[[:space:]]*$/ { svc = $1; sub(/:$/, "", svc) }
        /^    command:[[:space:]]*\[/ { cmd = 1; buf = "" }
        cmd { buf = buf " " $0; if ($0 ~ /\][[:space:]]*$/) { cmd = 0; print svc "\t" buf } }
    ' "$compose" > "$TMP/commands"
    seen=''
    while IFS=$'\t' read -r svc buf; do
        words=()
        while IFS= read -r tok; do
            case $tok in
            \"*) tok=${tok#\"}; tok=${tok%\"}
                 if [[ $tok == *\\* ]]; then
                     fail "$compose: service $svc: backslash in a double-quoted word ($tok); use single quotes"
                 fi ;;
            \'*) tok=${tok#\'}; tok=${tok%\'} ;;
            esac
            words+=("$tok")
        done < <(grep -oE "\"[^\"]*\"|'[^']*'" <<< "${buf#*command:}")
        prog=${words[0]:-}
        case $prog in
        sluice-broker|sluice-capture|sluice-apply|sluice)
            seen="$seen $prog"
            # shellcheck disable=SC2046
            static_check "$compose:$svc" "$prog" $(flag_names "${words[@]:1}")
            dynamic_check "$compose:$svc" "$prog" "${words[@]:1}" ;;
        --*)
            # The mariadb image passes a command of options to mariadbd.
            # mariadbd parses and range-checks them with --help --verbose
            # without starting (same major version as Debian 12's, 10.11).
            if ! command -v mariadbd > /dev/null; then
                echo "SKIP config_flags:$compose:$svc: no local mariadbd to check its options"
            elif mariadbd --no-defaults "${words[@]}" --help --verbose > /dev/null 2> "$TMP/err"; then
                pass "mariadbd:$compose:$svc: mariadbd accepts its ${#words[@]} options"
            else
                fail "mariadbd:$compose:$svc: $(grep ERROR "$TMP/err" | head -n 2 | tr '\n' ' ')"
            fi ;;
        esac
    done < "$TMP/commands"
    for p in sluice-broker sluice-capture sluice-apply; do
        [[ " $seen " == *" $p "* ]] || fail "$compose: no service runs $p (or its command: is not a one-line flow sequence)"
    done
fi

# --- docs/systemd/*.service: ExecStart lines; a --config there must name a
# file whose example is in docs/examples/.
units=0
for f in docs/systemd/*.service; do
    [ -f "$f" ] || continue
    line=$(sed -n 's/^ExecStart=-\{0,1\}//p' "$f")
    if [ -z "$line" ]; then
        fail "$f: no ExecStart= line"
        continue
    fi
    units=$((units + 1))
    read -r -a words <<< "$line"
    prog=$(basename "${words[0]}")
    if [ -z "${KNOWN[$prog]:-}" ]; then
        fail "$f: ExecStart runs $prog, not a sluice program"
        continue
    fi
    # shellcheck disable=SC2046
    static_check "$f" "$prog" $(flag_names "${words[@]:1}")
    # Run it with the matching example in place of /etc/sluice/X.conf.
    args=()
    for ((i = 1; i < ${#words[@]}; i++)); do
        w=${words[i]}
        if [ "$w" = --config ]; then
            i=$((i + 1))
            ex=docs/examples/$(basename "${words[i]}")
            if [ ! -f "$ex" ]; then
                fail "$f: its config ${words[i]} has no example $ex"
                continue 2
            fi
            args+=(--config "$ex")
        else
            args+=("$w")
        fi
    done
    dynamic_check "$f" "$prog" "${args[@]}"
done
[ $units -ge 3 ] || fail "docs/systemd: expected a unit per program, found $units"

# --- docker/healthcheck.sh: the sluice CLI flags it uses.
if [ -f docker/healthcheck.sh ]; then
    # shellcheck disable=SC2046
    static_check docker/healthcheck.sh sluice $(grep -E '^[[:space:]]*exec sluice ' docker/healthcheck.sh |
        grep -oE -- '--[a-z][a-z0-9-]*' | sed 's/^--//' | sort -u)
fi

# --- An option that is not repeatable, given twice, is a usage error in
# every program (issue 12: a second --memcached silently replaced the
# first): twice on the command line (any spelling), twice in a config
# file, or --config twice. Repeatable options and a flag overriding the
# file's key are covered by the dynamic checks above.
# twice_check WHERE WANT PROGRAM ARG...: exit status 2 and a message
# naming WANT and saying "twice".
twice_check() {
    local where=$1 want=$2 prog=$3 rc
    shift 3
    timeout -k 5 10 "bin/$prog" "$@" > "$TMP/out" 2> "$TMP/err"
    rc=$?
    if [ $rc = 2 ] && grep -q -- "$want" "$TMP/err" && grep -q twice "$TMP/err"; then
        pass "twice:$where: $prog refuses it ($(head -n 1 "$TMP/err"))"
    else
        fail "twice:$where: $prog exited $rc: $(head -n 3 "$TMP/err" | tr '\n' ' ')"
    fi
}
twice_check broker-flag --listen sluice-broker --listen 127.0.0.1:1 \
    --data "$TMP/b" --listen=127.0.0.1:2
twice_check capture-flag --topic sluice-capture --topic a --topic=b \
    --source mysql://u@127.0.0.1:1
twice_check apply-flag --dead-letter sluice-apply --topic t \
    --redis 127.0.0.1:1 --dead-letter a --dead_letter b
twice_check cli-flag --broker sluice --broker 127.0.0.1:1 \
    --broker=127.0.0.1:2 stats
printf 'listen = 127.0.0.1:1\ndata = %s/b\nlisten = 127.0.0.1:2\n' "$TMP" \
    > "$TMP/twice.conf"
twice_check broker-file "listen" sluice-broker --config "$TMP/twice.conf"
printf 'data = %s/b\n' "$TMP" > "$TMP/once.conf"
twice_check broker-config-twice --config sluice-broker \
    --config "$TMP/once.conf" --config "$TMP/once.conf"

# --- A broker secret that the protocol's `auth` line cannot carry (a
# space, a non-ASCII byte) is refused by every program at start, exit 2,
# with a message that names the secret's source and never prints it;
# before, the clients only learnt of it when the broker refused the auth
# line (issue 12 item 8). Each program gets it from a file and from
# SLUICE_BROKER_SECRET; the clients point at a port where nothing listens,
# so only the start-up check can end them within the timeout.
MARK=$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf 'open sesame-%s\n' "$MARK" > "$TMP/secret-space"
printf 'caf\303\251-%s\n' "$MARK" > "$TMP/secret-utf8"
chmod 600 "$TMP/secret-space" "$TMP/secret-utf8"
# secret_check WHERE WANT PROGRAM ARG...: exit 2, a message with "secret"
# and WANT (the kind of byte), and no trace of the secret in the output.
secret_check() {
    local where=$1 want=$2 prog=$3 rc
    shift 3
    timeout -k 5 20 "$@" > "$TMP/out" 2> "$TMP/err"
    rc=$?
    if [ $rc = 2 ] && grep -q 'secret' "$TMP/err" && grep -q -- "$want" "$TMP/err" &&
        ! grep -q "$MARK" "$TMP/err" "$TMP/out"; then
        pass "secret:$where: $prog refuses it ($(head -n 1 "$TMP/err"))"
    else
        fail "secret:$where: $prog exited $rc: $(head -n 3 "$TMP/err" | tr '\n' ' ')"
    fi
}
# with_secret PROGRAM FILE: ARGS gets PROGRAM's example config and the
# overrides, with FILE as its broker secret (or, for FILE "env", no secret
# file at all: the variable is the source).
with_secret() {
    local prog=$1 file=$2 conf flag i
    conf=docs/examples/${prog#sluice-}.conf
    overrides "$prog" redis
    flag=--broker-secret-file
    ARGS=(--config "$conf")
    for ((i = 0; i < ${#OVR[@]}; i++)); do
        if [ "${OVR[i]}" = "$flag" ]; then
            i=$((i + 1))
            continue
        fi
        ARGS+=("${OVR[i]}")
    done
    if [ "$file" = env ]; then
        # The example files name a secret file, which would win over the
        # variable: use a copy of the example without that key.
        grep -v -E '^(broker-secret-file|auth-file)[[:space:]]*=' "$conf" > "$TMP/nosecret.conf"
        ARGS[1]=$TMP/nosecret.conf
    else
        ARGS+=("$flag" "$file")
    fi
}
for prog in sluice-capture sluice-apply sluice-broker; do
    with_secret "$prog" "$TMP/secret-space"
    secret_check "$prog-file-space" space "$prog" "bin/$prog" "${ARGS[@]}"
    with_secret "$prog" "$TMP/secret-utf8"
    secret_check "$prog-file-utf8" non-ASCII "$prog" "bin/$prog" "${ARGS[@]}"
    with_secret "$prog" env
    secret_check "$prog-env-space" space "$prog" \
        env "SLUICE_BROKER_SECRET=open sesame-$MARK" "bin/$prog" "${ARGS[@]}"
done
dead=127.0.0.1:$("$FREEPORT")
secret_check sluice-file-space space sluice \
    bin/sluice --broker "$dead" --auth-file "$TMP/secret-space" stats
secret_check sluice-file-utf8 non-ASCII sluice \
    bin/sluice --broker "$dead" --auth-file "$TMP/secret-utf8" stats
secret_check sluice-env-space space sluice \
    env "SLUICE_BROKER_SECRET=open sesame-$MARK" bin/sluice --broker "$dead" stats

# --- docs/broker.md "Limits and options" is the broker's whole option
# table: every option of `sluice-broker --help` has a row there (`--name`
# in the first column), and every row names an option the broker has.
doc_opts=$(sed -n '/^## Limits and options/,/^## /p' docs/broker.md |
    sed -n 's/^| `--\([a-z0-9-]*\)[` ].*/\1/p' | sort -u)
help_opts=$(bin/sluice-broker --help | sed -n 's/^  --\([a-z0-9-]*\).*/\1/p' |
    grep -v -x -e help -e version | sort -u)
if [ -z "$doc_opts" ] || [ -z "$help_opts" ]; then
    fail "docs:broker.md: could not read the option rows ($(wc -w <<< "$doc_opts")) or --help ($(wc -w <<< "$help_opts"))"
else
    missing=$(comm -13 <(echo "$doc_opts") <(echo "$help_opts") | tr '\n' ' ')
    stale=$(comm -23 <(echo "$doc_opts") <(echo "$help_opts") | tr '\n' ' ')
    if [ -z "$missing$stale" ]; then
        pass "docs:broker.md: Limits and options lists all $(wc -l <<< "$help_opts") options of sluice-broker --help"
    else
        fail "docs:broker.md: Limits and options lacks: ${missing:-none}; lists options the broker does not have: ${stale:-none}"
    fi
fi

exit $failed
