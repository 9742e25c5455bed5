#!/usr/bin/env bash
# sluice-capture over TLS: a second source mariadbd with a certificate
# signed by a test CA, and a replication user that REQUIRES SSL. Capture
# with --tls-ca replicates; without --tls it is refused; with the wrong CA
# the certificate does not verify and capture stops with that error (it
# does not retry for ever); --tls alone verifies against the system trust
# store, --tls-insecure skips it. The snapshot's sessions use the same TLS
# settings. Apply's --target-tls options against the
# same server (issue 19), and apply --reset-to over a TLS broker with
# --broker-ca. Prints PASS/FAIL lines.
set -u
cd "$(dirname "$0")/../.."
if [ -z "${SL_HARNESS_ROOT:-}" ] || ! command -v openssl >/dev/null; then
    echo "SKIP capture_tls: needs the harness environment and openssl"
    exit 0
fi
. tests/harness/harness.sh
failed=0
pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; failed=1; }

dir=$(mktemp -d "$SL_HARNESS_ROOT/tls.XXXXXX")
( cd "$dir" &&
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem \
      -days 2 -subj "/CN=sluice test CA" &&
  openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other.pem \
      -days 2 -subj "/CN=another CA" &&
  openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr \
      -subj "/CN=127.0.0.1" &&
  printf 'subjectAltName=IP:127.0.0.1\n' > ext &&
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key \
      -CAcreateserial -out server.pem -days 2 -extfile ext ) >/dev/null 2>&1 ||
    { fail capture_tls_setup "openssl could not make certificates"; exit 1; }

sl_h_start_mariadb TLSSRC 7 --ssl-ca="$dir/ca.pem" \
    --ssl-cert="$dir/server.pem" --ssl-key="$dir/server.key" ||
    { fail capture_tls_setup "the TLS mariadbd did not start"; exit 1; }
pw=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s\n' "$pw" > "$dir/pw"
sl_h_mysql_root TLSSRC -e "
    CREATE USER 'tlsrepl'@'127.0.0.1' IDENTIFIED BY '$pw' REQUIRE SSL;
    GRANT REPLICATION SLAVE, REPLICATION CLIENT, SELECT ON *.* TO 'tlsrepl'@'127.0.0.1';
    CREATE DATABASE tlsdb; CREATE TABLE tlsdb.t (id INT PRIMARY KEY, v VARCHAR(20));"

bport=$(build/freeport)
mkdir -p "$dir/broker"
bin/sluice-broker --listen "127.0.0.1:$bport" --data "$dir/broker" \
    > "$dir/broker.log" 2>&1 &
bpid=$!
sl_h_record_pid tls-broker $bpid
sl_h_wait_for broker 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$bport" ||
    { fail capture_tls_setup "broker did not start"; exit 1; }

src="mysql://tlsrepl@127.0.0.1:$SL_TLSSRC_PORT"
common=(--source "$src" --password-file "$dir/pw" --broker "127.0.0.1:$bport"
    --topic tls --server-id 7001 --heartbeat 200ms --snapshot never)

# 1. Without TLS the server refuses the user: capture exits 1 and says so.
timeout 60 bin/sluice-capture "${common[@]}" > "$dir/plain.log" 2>&1
rc=$?
if [ $rc = 1 ] && grep -q "Access denied" "$dir/plain.log"; then
    pass capture_tls_required_by_server
else
    fail capture_tls_required_by_server "rc=$rc: $(tail -n 2 "$dir/plain.log")"
fi

# 2. With the wrong CA the certificate does not verify: exit 1, no retry loop.
timeout 60 bin/sluice-capture "${common[@]}" --tls-ca "$dir/other.pem" \
    > "$dir/badca.log" 2>&1
rc=$?
if [ $rc = 1 ] && grep -qi "ssl\|tls\|certificate" "$dir/badca.log"; then
    pass capture_tls_wrong_ca_is_fatal
else
    fail capture_tls_wrong_ca_is_fatal "rc=$rc: $(tail -n 2 "$dir/badca.log")"
fi

# 2b. --tls alone verifies too, against the system's trust store, which
# does not know the test CA: refused the same way (issue 19).
timeout 60 bin/sluice-capture "${common[@]}" --tls > "$dir/sysca.log" 2>&1
rc=$?
if [ $rc = 1 ] && grep -qi "ssl\|tls\|certificate" "$dir/sysca.log"; then
    pass capture_tls_verifies_by_default
else
    fail capture_tls_verifies_by_default "rc=$rc: $(tail -n 2 "$dir/sysca.log")"
fi

# 2c. --tls-insecure skips the check: capture gets as far as replicating.
timeout 60 bin/sluice-capture "${common[@]}" --tls-insecure \
    > "$dir/insecure.log" 2>&1 &
ipid=$!
sl_h_record_pid tls-capture-insecure $ipid
if sl_h_wait_for "capture with --tls-insecure" 30 \
    grep -q replicating "$dir/insecure.log"; then
    pass capture_tls_insecure_skips_verification
else
    fail capture_tls_insecure_skips_verification "$(tail -n 2 "$dir/insecure.log")"
fi
kill -TERM $ipid 2>/dev/null
sl_h_wait_pid_gone $ipid 20

# 3. With the right CA, rows flow: the row that existed before capture
# started arrives through the snapshot's own sessions (the user REQUIRES
# SSL, so they are TLS too, verified against the CA like the binlog's),
# then the row inserted while streaming.
sl_h_mysql_root TLSSRC -e "
    GRANT CREATE, INSERT, UPDATE ON sluice.* TO 'tlsrepl'@'127.0.0.1';
    INSERT INTO tlsdb.t VALUES (0, 'snapshot tls')"
snapargs=()
for a in "${common[@]}"; do
    [ "$a" = never ] && a=initial
    snapargs+=("$a")
done
bin/sluice-capture "${snapargs[@]}" --tls-ca "$dir/ca.pem" > "$dir/tls.log" 2>&1 &
cpid=$!
sl_h_record_pid tls-capture $cpid
sl_h_wait_for "capture over TLS" 30 grep -q replicating "$dir/tls.log"
sl_h_mysql_root TLSSRC -e "INSERT INTO tlsdb.t VALUES (1, 'over tls')"
got=
for _ in $(seq 1 100); do
    got=$(bin/sluice --broker "127.0.0.1:$bport" tail tls tlsdb.t 2>/dev/null |
          grep -c '"over tls"')
    [ "$got" = 1 ] && break
    sleep 0.1
done
snap=$(bin/sluice --broker "127.0.0.1:$bport" tail tls tlsdb.t 2>/dev/null |
       grep '"snapshot tls"' | grep -c '"op":"read"')
if [ "$snap" = 1 ]; then
    pass capture_tls_snapshot_sessions
else
    fail capture_tls_snapshot_sessions "no read row: $(tail -n 3 "$dir/tls.log")"
fi
if [ "$got" = 1 ]; then
    pass capture_tls_replicates
else
    fail capture_tls_replicates "row not in the broker: $(tail -n 3 "$dir/tls.log")"
fi
# Confirm the session really is encrypted, from the server's side.
cipher=$(sl_h_mysql_root TLSSRC -N -e "SELECT VARIABLE_VALUE FROM
    information_schema.SESSION_STATUS WHERE VARIABLE_NAME='Ssl_cipher'" 2>/dev/null)
ssl_users=$(sl_h_mysql_root TLSSRC -N -e "SELECT COUNT(*) FROM
    information_schema.PROCESSLIST WHERE USER='tlsrepl'")
if [ "${ssl_users:-0}" -ge 1 ]; then
    pass capture_tls_session_is_the_required_user
else
    fail capture_tls_session_is_the_required_user "no tlsrepl session: $cipher"
fi
kill -TERM $cpid 2>/dev/null
sl_h_wait_pid_gone $cpid 20

# 4. Apply's target over TLS (issue 19): a target user that REQUIRES SSL on
# the same server. --target-tls alone verifies against the system's trust
# store and is refused; with --target-tls-ca the row captured above is
# applied.
sl_h_mysql_root TLSSRC -e "
    CREATE USER 'tlsapply'@'127.0.0.1' IDENTIFIED BY '$pw' REQUIRE SSL;
    CREATE DATABASE tgtdb; CREATE DATABASE tlsmeta;
    CREATE TABLE tgtdb.t (id INT PRIMARY KEY, v VARCHAR(20));
    GRANT ALL ON tgtdb.* TO 'tlsapply'@'127.0.0.1';
    GRANT ALL ON tlsmeta.* TO 'tlsapply'@'127.0.0.1';"
acommon=(--broker "127.0.0.1:$bport" --topic tls --group tlsg --workers 1
    --target "mysql://tlsapply@127.0.0.1:$SL_TLSSRC_PORT/tlsmeta"
    --target-password-file "$dir/pw" --map tlsdb=tgtdb --poll 200ms)
timeout 15 bin/sluice-apply "${acommon[@]}" --target-tls \
    > "$dir/apply-sys.log" 2>&1
if grep -qi "certificate\|ssl connection error" "$dir/apply-sys.log" &&
    [ "$(sl_h_mysql_root TLSSRC -N -e "SELECT COUNT(*) FROM tgtdb.t")" = 0 ]
then
    pass apply_target_tls_verifies_by_default
else
    fail apply_target_tls_verifies_by_default "$(tail -n 2 "$dir/apply-sys.log")"
fi
bin/sluice-apply "${acommon[@]}" --target-tls-ca "$dir/ca.pem" \
    > "$dir/apply.log" 2>&1 &
apid=$!
sl_h_record_pid tls-apply $apid
got=
for _ in $(seq 1 300); do
    got=$(sl_h_mysql_root TLSSRC -N -e "SELECT v FROM tgtdb.t WHERE id = 1" \
          2>/dev/null)
    [ "$got" = "over tls" ] && break
    sleep 0.1
done
if [ "$got" = "over tls" ]; then
    pass apply_target_tls_applies
else
    fail apply_target_tls_applies "got '$got': $(tail -n 3 "$dir/apply.log")"
fi
kill -TERM $apid 2>/dev/null
sl_h_wait_pid_gone $apid 20

# 5. apply --reset-to takes the broker TLS options as apply's other broker
# connections do (issue 19): the broker restarted with TLS on the same
# data, the offsets are resolved over a verified TLS connection (shown,
# not moved: exit 2); without --broker-ca the plaintext connection is
# refused.
kill -TERM "$bpid" 2> /dev/null
sl_h_wait_pid_gone "$bpid" 20
bin/sluice-broker --listen "127.0.0.1:$bport" --kafka-listen off \
    --data "$dir/broker" --tls-cert "$dir/server.pem" \
    --tls-key "$dir/server.key" > "$dir/broker-tls.log" 2>&1 &
sl_h_record_pid tls-broker2 $!
sl_h_wait_for "TLS broker" 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$bport"
timeout 30 bin/sluice-apply "${acommon[@]}" --target-tls-ca "$dir/ca.pem" \
    --broker-ca "$dir/ca.pem" --reset-to earliest > "$dir/reset.log" 2>&1
rc=$?
if [ $rc = 2 ] && grep -q "nothing changed" "$dir/reset.log" &&
    grep -q "tlsdb" "$dir/reset.log"; then
    pass apply_reset_to_over_broker_tls
else
    fail apply_reset_to_over_broker_tls "rc $rc: $(tail -n 3 "$dir/reset.log")"
fi
timeout 30 bin/sluice-apply "${acommon[@]}" --target-tls-ca "$dir/ca.pem" \
    --reset-to earliest > "$dir/reset-plain.log" 2>&1
rc=$?
if [ $rc = 1 ] && ! grep -q "nothing changed" "$dir/reset-plain.log"; then
    pass apply_reset_to_plaintext_refused_by_tls_broker
else
    fail apply_reset_to_plaintext_refused_by_tls_broker "rc $rc: $(tail -n 3 "$dir/reset-plain.log")"
fi
sl_h_stop TLSSRC
exit $failed
