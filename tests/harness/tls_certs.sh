# Test certificates made with openssl (Debian's openssl package), for the
# TLS tests (tests/integration/tls_*.sh). Source this file, then
#
#   sl_h_tls_certs DIR
#
# writes into DIR: ca.pem/ca.key (a test CA), other.pem (another CA),
# server.pem/server.key (signed by the test CA for IP 127.0.0.1 and
# localhost), expired.pem (the same key, expired yesterday) and
# client.pem/client.key (a client certificate from the test CA). Valid
# for two days. Returns non-zero when openssl fails (its output is
# dropped).
sl_h_tls_certs() {
    (cd "$1" &&
        openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem \
            -days 2 -subj "/CN=sluice test CA" &&
        openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key \
            -out other.pem -days 2 -subj "/CN=another CA" &&
        openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr \
            -subj "/CN=sluice broker" &&
        printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > ext &&
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key \
            -CAcreateserial -out server.pem -days 2 -extfile ext &&
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key \
            -CAcreateserial -out expired.pem -days -1 -extfile ext &&
        openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr \
            -subj "/CN=sluice client" &&
        openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key \
            -CAcreateserial -out client.pem -days 2) > /dev/null 2>&1
}
