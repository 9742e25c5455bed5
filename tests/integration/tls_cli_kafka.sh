#!/usr/bin/env bash
# sluice produce --kafka over TLS (issue 19): the CLI's --broker-tls
# options reach librdkafka (security.protocol=SSL, ssl.ca.location,
# ssl.certificate.location, ssl.key.location, the certificate and name
# verified unless --broker-tls-insecure), against sluice-broker's Kafka
# listener with certificates made by openssl (tests/harness/tls_certs.sh:
# a test CA, a server certificate for 127.0.0.1 and localhost, another
# CA, a client certificate). Checks:
#   - a produce with --broker-ca, by address and by name, is read back by
#     kcat over TLS with its key and header;
#   - the wrong CA, and the system's trust store (--broker-tls alone: the
#     test CA is not in it), are refused saying why, and
#     --broker-tls-insecure skips the check;
#   - a plaintext produce against the TLS listener fails;
#   - a listener with --tls-client-ca refuses a client without a
#     certificate and serves one with a certificate from that CA;
#   - --broker-tls-insecure with --broker-ca is bad usage (exit 2).
# Failures end within --timeout (5s for them here). Prints PASS/FAIL lines.
set -u
cd "$(dirname "$0")/../.." || exit 1
if [ -z "${SL_HARNESS_ROOT:-}" ] || ! command -v openssl > /dev/null ||
    ! command -v kcat > /dev/null; then
    echo "SKIP tls_cli_kafka: needs the harness environment, openssl and kcat"
    exit 0
fi
# shellcheck source=../harness/harness.sh
. tests/harness/harness.sh
# shellcheck source=../harness/tls_certs.sh
. tests/harness/tls_certs.sh
failed=0
pass() { echo "PASS tls_cli_kafka:$1"; }
fail() { echo "FAIL tls_cli_kafka:$1: $2"; failed=1; }

dir=$(mktemp -d "$SL_HARNESS_ROOT/tlsck.XXXXXX")
sl_h_tls_certs "$dir" ||
    { fail setup "openssl could not make certificates"; exit 1; }

# start_broker NAME [ARGS...]: a broker whose listeners speak TLS; sets
# kport_NAME to its Kafka listener's port.
start_broker() {
    local name=$1
    shift
    local port kport
    port=$(build/freeport) kport=$(build/freeport)
    mkdir -p "$dir/$name"
    bin/sluice-broker --listen "127.0.0.1:$port" --kafka-listen "127.0.0.1:$kport" \
        --data "$dir/$name" --tls-cert "$dir/server.pem" \
        --tls-key "$dir/server.key" "$@" > "$dir/$name.log" 2>&1 &
    sl_h_record_pid "tlsck-$name" $!
    sl_h_wait_for "broker $name" 10 grep -q "broker started" "$dir/$name.log" ||
        { fail setup "broker $name did not start"; exit 1; }
    eval "kport_$name=$kport"
}
start_broker good
start_broker mtls --tls-client-ca "$dir/ca.pem"

# produce NAME ADDR [ARGS...]: one line "NAME" into topic t partition 0
# with key and header NAME, within --timeout $tmo (30s unless set: the
# cases that must fail set 5s); stdout and stderr in $dir/NAME.out,
# status in $rc.
produce() {
    local name=$1 addr=$2
    shift 2
    echo "$name" | timeout 90 bin/sluice produce --kafka "$addr" \
        --timeout "${tmo:-30s}" -k "$name" -H "h=$name" "$@" t 0 > "$dir/$name.out" 2>&1
    rc=$?
}
# kcat_read PORT: the records of t/0 as KEY|HEADERS|VALUE lines.
kcat_read() {
    timeout 60 kcat -b "127.0.0.1:$1" -X security.protocol=SSL \
        -X "ssl.ca.location=$dir/ca.pem" -C -t t -p 0 -o beginning -e -q \
        -f '%k|%h|%s\n' 2> "$dir/kcat.err"
}

# shellcheck disable=SC2154 # set by start_broker's eval.
kg=$kport_good
# 1. Verified against the test CA, by address and by name.
produce byaddr "127.0.0.1:$kg" --broker-ca "$dir/ca.pem"
rc1=$rc
produce byname "localhost:$kg" --broker-ca "$dir/ca.pem"
rc2=$rc
got=$(kcat_read "$kg")
if [ $rc1 = 0 ] && [ $rc2 = 0 ] && [ "$got" = "byaddr|h=byaddr|byaddr
byname|h=byname|byname" ]; then
    pass produce_with_ca_kcat_reads_key_and_header
else
    fail produce_with_ca_kcat_reads_key_and_header \
        "status $rc1 $rc2, kcat read '$got': $(cat "$dir/byaddr.out" "$dir/byname.out" "$dir/kcat.err")"
fi

# 2. The wrong CA and the system's trust store are refused, saying why.
for c in "wrongca --broker-ca $dir/other.pem" "systemstore --broker-tls"; do
    read -r name flags <<< "$c"
    # shellcheck disable=SC2086 # one or two words of flags.
    tmo=5s produce "$name" "127.0.0.1:$kg" $flags
    if [ $rc != 0 ] && grep -q "certificate verify failed" "$dir/$name.out"; then
        pass "${name}_refused"
    else
        fail "${name}_refused" "status $rc: $(tail -n 5 "$dir/$name.out")"
    fi
done
# ... and --broker-tls-insecure skips the check.
produce insecure "127.0.0.1:$kg" --broker-tls-insecure
if [ $rc = 0 ] && kcat_read "$kg" | grep -qx 'insecure|h=insecure|insecure'; then
    pass insecure_skips_verification
else
    fail insecure_skips_verification "status $rc: $(tail -n 5 "$dir/insecure.out")"
fi

# 3. Plaintext against the TLS listener: nothing is delivered.
tmo=5s produce plain "127.0.0.1:$kg"
if [ $rc != 0 ] && ! kcat_read "$kg" | grep -q '^plain|'; then
    pass plaintext_fails
else
    fail plaintext_fails "status $rc: $(tail -n 5 "$dir/plain.out")"
fi

# 4. Client certificates: refused without, served with one from the CA.
# shellcheck disable=SC2154 # set by start_broker's eval.
km=$kport_mtls
tmo=5s produce nocert "127.0.0.1:$km" --broker-ca "$dir/ca.pem"
rc1=$rc
produce withcert "127.0.0.1:$km" --broker-ca "$dir/ca.pem" \
    --broker-cert "$dir/client.pem" --broker-key "$dir/client.key"
rc2=$rc
if [ $rc1 != 0 ] && [ $rc2 = 0 ]; then
    pass client_certificate_required
else
    fail client_certificate_required \
        "status $rc1 $rc2: $(tail -n 3 "$dir/nocert.out" "$dir/withcert.out")"
fi

# 5. Contradicting options are bad usage, said before connecting.
produce bad "127.0.0.1:$kg" --broker-tls-insecure --broker-ca "$dir/ca.pem"
if [ $rc = 2 ] && grep -q "broker-tls-insecure skips" "$dir/bad.out"; then
    pass contradicting_options_exit_2
else
    fail contradicting_options_exit_2 "status $rc: $(cat "$dir/bad.out")"
fi
exit $failed
