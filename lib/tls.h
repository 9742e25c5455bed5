/*
 * TLS for the broker's text protocol (OpenSSL 3), both ends:
 *
 *   - the broker's listener runs on libuv, so its side is a pair of memory
 *     BIOs per connection: ciphertext read from the socket goes in with
 *     sl_tls_conn_input(), which appends the plaintext to the connection's
 *     input; the plaintext to send goes through sl_tls_conn_output(),
 *     which appends the ciphertext to what libuv writes;
 *   - the client (lib/client.c) talks through a non-blocking socket, so
 *     its side is an SSL object on that socket, with send/recv-like calls.
 *
 * The wire is plain TLS (1.2 or newer) carrying the text protocol
 * unchanged (docs/protocol.md); there is no STARTTLS: a listener with a
 * certificate speaks TLS from the first byte. A peer whose first byte is
 * not a TLS handshake record is told so in one plaintext status line and
 * disconnected (sl_tls_conn_input() returns SL_EPROTO with *plaintext set).
 *
 * Ownership: contexts and connections are owned by their creator and
 * freed with the matching _free(); option strings are used during the
 * call only. Error texts name files and OpenSSL's reason, never a key.
 */
#ifndef SL_TLS_H
#define SL_TLS_H

#include "buf.h"
#include "config.h"

#include <stddef.h>
#include <sys/types.h>

typedef struct sl_tls_opts_s {
    const char *cert; /* PEM certificate (chain) file: the listener's, or
                         the client's own for client-certificate auth. */
    const char *key;  /* PEM private key file of cert. */
    const char *ca;   /* Listener: CA file clients' certificates must chain
                         to (then a client without one is refused); NULL:
                         clients are not asked for a certificate. Client:
                         CA file the server's certificate must chain to;
                         NULL: the system's trust store. */
    int insecure;     /* Client: do not verify the server at all. */
} sl_tls_opts_t;

typedef struct sl_tls_ctx_s sl_tls_ctx_t;

/* The broker-connection options every client program has (capture, apply,
 * the CLI): a block for their option tables, and reading it. */
#define SL_TLS_BROKER_OPTIONS                                                  \
    {"broker-tls", "no", SL_OPT_FLAG,                                          \
     "connect to the broker with TLS, verifying its certificate and name"},    \
        {"broker-ca", NULL, 0,                                                 \
         "CA file for the broker's certificate (implies --broker-tls; "        \
         "default: the system's trust store)"},                                \
        {"broker-cert", NULL, 0,                                               \
         "client certificate file, for a broker with tls-client-ca"},          \
        {"broker-key", NULL, 0, "private key file of --broker-cert"}, {        \
        "broker-tls-insecure", "no", SL_OPT_FLAG,                              \
            "TLS to the broker WITHOUT verifying it (implies --broker-tls)"    \
    }
/* Fills o from those options (strings owned by cfg) and sets *on when TLS
 * is asked for. Returns 0, or SL_EINVAL with the reason in err. */
int sl_tls_broker_config(sl_config_t *cfg, sl_tls_opts_t *o, int *on, char *err,
                         size_t errlen);

/* A listener's context (cert and key required) or a client's. On error
 * err holds why (file and OpenSSL reason) and SL_EINVAL is returned. */
int sl_tls_server_ctx(const sl_tls_opts_t *opts, sl_tls_ctx_t **out, char *err,
                      size_t errlen);
int sl_tls_client_ctx(const sl_tls_opts_t *opts, sl_tls_ctx_t **out, char *err,
                      size_t errlen);
void sl_tls_ctx_free(sl_tls_ctx_t *ctx);

/* ---- the listener's side: memory BIOs ---- */

typedef struct sl_tls_conn_s sl_tls_conn_t;

/* What a listener's TLS connection holds in memory (OpenSSL's state and
 * record buffers), for the memory budget: SL_TLS_CONN_MEM once its first
 * bytes came (measured: about 40 KiB while shaking hands, against 500
 * stalled handshakes), a few KiB before. */
#define SL_TLS_CONN_MEM (48u * 1024)

int sl_tls_conn_new(sl_tls_ctx_t *ctx, sl_tls_conn_t **out);
void sl_tls_conn_free(sl_tls_conn_t *tc);

/* Feeds n bytes read from the socket and appends every byte of plaintext
 * they complete to plain (growing it). Returns 0; SL_ECLOSED when the peer
 * ended the TLS session (close_notify); SL_EPROTO when the handshake or a
 * record failed (err says why; *plaintext is set when the peer does not
 * speak TLS at all); SL_ENOMEM. After any call, output may be pending
 * (handshake messages, alerts): see sl_tls_conn_output(). */
int sl_tls_conn_input(sl_tls_conn_t *tc, const void *data, size_t n,
                      sl_buf_t *plain, int *plaintext, char *err,
                      size_t errlen);
/* Encrypts n bytes of plaintext (n may be 0) and moves every byte of
 * ciphertext pending, handshake messages included, to the end of cipher.
 * *used is how much plaintext was taken: less than n only before the
 * handshake is done (the caller offers the rest again later). */
int sl_tls_conn_output(sl_tls_conn_t *tc, const void *data, size_t n,
                       size_t *used, sl_buf_t *cipher);
/* Whether ciphertext is waiting for sl_tls_conn_output(). */
int sl_tls_conn_has_output(const sl_tls_conn_t *tc);
/* What tc is counted for in the memory budget (see SL_TLS_CONN_MEM). */
size_t sl_tls_conn_mem(const sl_tls_conn_t *tc);
/* Whether the handshake is complete. */
int sl_tls_conn_ready(const sl_tls_conn_t *tc);

/* ---- the client's side: a non-blocking socket ---- */

struct ssl_st;

/* Shakes hands on connected non-blocking socket fd within timeout_ms,
 * verifying that the server's certificate names host (a DNS name or an IP
 * address) unless the context is insecure. On error err says why (the
 * certificate check that failed, or OpenSSL's reason) and the result is
 * SL_EAUTH (refused: certificate, alert), SL_ECONN (the connection was
 * lost) or SL_ETIMEDOUT; the socket is left to the caller. */
int sl_tls_client_start(sl_tls_ctx_t *ctx, int fd, const char *host,
                        int timeout_ms, struct ssl_st **out, char *err,
                        size_t errlen);
/* Like send() and recv() on the socket: bytes moved, 0 at the end of the
 * stream (recv), or -1 with errno (EAGAIN: wait for *want, POLLIN or
 * POLLOUT; ECONNRESET or EPROTO: the session failed). */
ssize_t sl_tls_send(struct ssl_st *ssl, const void *data, size_t n,
                    short *want);
ssize_t sl_tls_recv(struct ssl_st *ssl, void *data, size_t n, short *want);
/* OpenSSL's reason for the last failure of sl_tls_send() or sl_tls_recv()
 * with EPROTO on this thread ("tlsv13 alert certificate required"). */
const char *sl_tls_last_error(void);
/* Decrypted bytes buffered inside the session (readable without the
 * socket). */
int sl_tls_pending(struct ssl_st *ssl);
/* Sends close_notify (best effort) and frees the session. */
void sl_tls_close(struct ssl_st *ssl);

#endif
