/*
 * TLS for the broker's text protocol; see tls.h. OpenSSL 3 from Debian.
 *
 * Both ends require TLS 1.2 or newer. The listener asks for a client
 * certificate only when given a client CA, and then refuses a client
 * without one. The client verifies the server's chain (against its CA
 * file, else the system's trust store) and that the certificate names the
 * host it dialled (X509_VERIFY_PARAM_set1_host, or _set1_ip_asc for an
 * address), unless told to be insecure.
 */
#include "tls.h"

#include "error.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct sl_tls_ctx_s {
    SSL_CTX *ctx;
    int insecure;
};

struct sl_tls_conn_s {
    SSL *ssl;
    BIO *rbio, *wbio; /* Owned by ssl. */
    int started;      /* The first byte was seen. */
};

/* OpenSSL's latest queued reason, or what, into err; clears the queue. */
static void ossl_reason(char *err, size_t errlen, const char *what) {
    unsigned long e = ERR_peek_last_error();
    if (e != 0) {
        char r[256];
        ERR_error_string_n(e, r, sizeof r);
        /* "error:0A000086:SSL routines::certificate verify failed": the
         * reason is after the last colon. */
        const char *p = strrchr(r, ':');
        snprintf(err, errlen, "%s: %s", what, p ? p + 1 : r);
    } else
        snprintf(err, errlen, "%s", what);
    ERR_clear_error();
}

static SSL_CTX *ctx_base(const SSL_METHOD *m) {
    SSL_CTX *c = SSL_CTX_new(m);
    if (c == NULL)
        return NULL;
    SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
    /* A peer that closes without close_notify is an end of stream, as on
     * a plain socket: the protocol has its own framing. */
    SSL_CTX_set_options(c,
                        SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE |
                            SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                            SSL_MODE_RELEASE_BUFFERS);
    return c;
}

static int load_pair(SSL_CTX *c, const sl_tls_opts_t *o, char *err,
                     size_t errlen) {
    char what[600];
    if (SSL_CTX_use_certificate_chain_file(c, o->cert) != 1) {
        snprintf(what, sizeof what, "cannot load certificate %s", o->cert);
        ossl_reason(err, errlen, what);
        return SL_EINVAL;
    }
    if (SSL_CTX_use_PrivateKey_file(c, o->key, SSL_FILETYPE_PEM) != 1) {
        snprintf(what, sizeof what, "cannot load private key %s", o->key);
        ossl_reason(err, errlen, what);
        return SL_EINVAL;
    }
    if (SSL_CTX_check_private_key(c) != 1) {
        snprintf(what, sizeof what, "private key %s does not match %s", o->key,
                 o->cert);
        ossl_reason(err, errlen, what);
        return SL_EINVAL;
    }
    return 0;
}

static int ctx_wrap(SSL_CTX *c, int insecure, sl_tls_ctx_t **out) {
    sl_tls_ctx_t *t = calloc(1, sizeof *t);
    if (t == NULL) {
        SSL_CTX_free(c);
        return SL_ENOMEM;
    }
    t->ctx = c;
    t->insecure = insecure;
    *out = t;
    return 0;
}

int sl_tls_server_ctx(const sl_tls_opts_t *o, sl_tls_ctx_t **out, char *err,
                      size_t errlen) {
    if (o->cert == NULL || o->key == NULL) {
        snprintf(err, errlen, "TLS needs both a certificate and a key");
        return SL_EINVAL;
    }
    SSL_CTX *c = ctx_base(TLS_server_method());
    if (c == NULL) {
        ossl_reason(err, errlen, "cannot create a TLS context");
        return SL_ENOMEM;
    }
    int rc = load_pair(c, o, err, errlen);
    if (rc == 0 && o->ca != NULL) {
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(o->ca);
        if (SSL_CTX_load_verify_locations(c, o->ca, NULL) != 1 ||
            names == NULL) {
            char what[600];
            snprintf(what, sizeof what, "cannot load client CA %s", o->ca);
            ossl_reason(err, errlen, what);
            sk_X509_NAME_pop_free(names, X509_NAME_free);
            rc = SL_EINVAL;
        } else {
            SSL_CTX_set_client_CA_list(c, names);
            SSL_CTX_set_verify(
                c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
        }
    }
    if (rc != 0) {
        SSL_CTX_free(c);
        return rc;
    }
    return ctx_wrap(c, 0, out);
}

int sl_tls_client_ctx(const sl_tls_opts_t *o, sl_tls_ctx_t **out, char *err,
                      size_t errlen) {
    SSL_CTX *c = ctx_base(TLS_client_method());
    if (c == NULL) {
        ossl_reason(err, errlen, "cannot create a TLS context");
        return SL_ENOMEM;
    }
    int rc = 0;
    if ((o->cert != NULL) != (o->key != NULL)) {
        snprintf(err, errlen,
                 "a client certificate needs its key, and a key "
                 "its certificate");
        rc = SL_EINVAL;
    } else if (o->cert != NULL)
        rc = load_pair(c, o, err, errlen);
    if (rc == 0 && !o->insecure) {
        int ok = o->ca != NULL ? SSL_CTX_load_verify_locations(c, o->ca, NULL)
                               : SSL_CTX_set_default_verify_paths(c);
        if (ok != 1) {
            char what[600];
            snprintf(what, sizeof what, "cannot load CA %s",
                     o->ca ? o->ca : "(system trust store)");
            ossl_reason(err, errlen, what);
            rc = SL_EINVAL;
        }
        SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
    } else if (rc == 0)
        SSL_CTX_set_verify(c, SSL_VERIFY_NONE, NULL);
    if (rc != 0) {
        SSL_CTX_free(c);
        return rc;
    }
    return ctx_wrap(c, o->insecure, out);
}

void sl_tls_ctx_free(sl_tls_ctx_t *ctx) {
    if (ctx == NULL)
        return;
    SSL_CTX_free(ctx->ctx);
    free(ctx);
}

int sl_tls_broker_config(sl_config_t *cfg, sl_tls_opts_t *o, int *on, char *err,
                         size_t errlen) {
    memset(o, 0, sizeof *o);
    int tls = 0;
    if (sl_config_get_bool(cfg, "broker-tls", &tls) != 0 ||
        sl_config_get_bool(cfg, "broker-tls-insecure", &o->insecure) != 0) {
        snprintf(err, errlen, "%s", cfg->err);
        return SL_EINVAL;
    }
    o->ca = sl_config_get(cfg, "broker-ca");
    o->cert = sl_config_get(cfg, "broker-cert");
    o->key = sl_config_get(cfg, "broker-key");
    if ((o->cert != NULL) != (o->key != NULL)) {
        snprintf(err, errlen, "--broker-cert and --broker-key go together");
        return SL_EINVAL;
    }
    if (o->insecure && o->ca != NULL) {
        snprintf(err, errlen,
                 "--broker-tls-insecure skips the check --broker-ca is for: "
                 "give one of them");
        return SL_EINVAL;
    }
    *on = tls || o->insecure || o->ca != NULL || o->cert != NULL;
    return 0;
}

/* ---- the listener's side ------------------------------------------------ */

int sl_tls_conn_new(sl_tls_ctx_t *ctx, sl_tls_conn_t **out) {
    sl_tls_conn_t *tc = calloc(1, sizeof *tc);
    if (tc == NULL)
        return SL_ENOMEM;
    tc->ssl = SSL_new(ctx->ctx);
    tc->rbio = BIO_new(BIO_s_mem());
    tc->wbio = BIO_new(BIO_s_mem());
    if (tc->ssl == NULL || tc->rbio == NULL || tc->wbio == NULL) {
        BIO_free(tc->rbio);
        BIO_free(tc->wbio);
        SSL_free(tc->ssl);
        free(tc);
        ERR_clear_error();
        return SL_ENOMEM;
    }
    /* An empty read BIO means "no data yet", not the end of the stream. */
    BIO_set_mem_eof_return(tc->rbio, -1);
    SSL_set_bio(tc->ssl, tc->rbio, tc->wbio);
    SSL_set_accept_state(tc->ssl);
    *out = tc;
    return 0;
}

void sl_tls_conn_free(sl_tls_conn_t *tc) {
    if (tc == NULL)
        return;
    SSL_free(tc->ssl); /* Frees both BIOs. */
    free(tc);
}

/* Why the session failed, for the log: the certificate check that failed
 * if any, else OpenSSL's reason. */
static void session_reason(SSL *ssl, char *err, size_t errlen,
                           const char *what) {
    long vr = SSL_get_verify_result(ssl);
    if (vr != X509_V_OK) {
        snprintf(err, errlen, "%s: certificate verify failed: %s", what,
                 X509_verify_cert_error_string(vr));
        ERR_clear_error();
    } else
        ossl_reason(err, errlen, what);
}

int sl_tls_conn_input(sl_tls_conn_t *tc, const void *data, size_t n,
                      sl_buf_t *plain, int *plaintext, char *err,
                      size_t errlen) {
    *plaintext = 0;
    if (n > 0 && !tc->started) {
        tc->started = 1;
        /* 0x16: a TLS handshake record. Anything else (a plaintext
         * request line, HTTP) is not TLS. */
        if (((const unsigned char *)data)[0] != 0x16) {
            *plaintext = 1;
            snprintf(err, errlen, "not a TLS handshake (plaintext client?)");
            return SL_EPROTO;
        }
    }
    if (n > 0 && BIO_write(tc->rbio, data, (int)n) != (int)n)
        return SL_ENOMEM;
    for (;;) {
        if (sl_buf_reserve(plain, 16384) != 0)
            return SL_ENOMEM;
        size_t room = plain->cap - plain->len;
        int r = SSL_read(tc->ssl, plain->data + plain->len,
                         room > INT32_MAX ? INT32_MAX : (int)room);
        if (r > 0) {
            plain->len += (size_t)r;
            continue;
        }
        int e = SSL_get_error(tc->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            return 0;
        if (e == SSL_ERROR_ZERO_RETURN)
            return SL_ECLOSED;
        session_reason(tc->ssl, err, errlen, "TLS failed");
        return SL_EPROTO;
    }
}

int sl_tls_conn_output(sl_tls_conn_t *tc, const void *data, size_t n,
                       size_t *used, sl_buf_t *cipher) {
    size_t done = 0;
    while (done < n) {
        size_t chunk = n - done > (1u << 30) ? (1u << 30) : n - done;
        int w = SSL_write(tc->ssl, (const char *)data + done, (int)chunk);
        if (w <= 0) {
            /* Before the handshake is done the write waits for the peer:
             * the caller keeps the rest and offers it again. Other errors
             * end the session, which the next input reports. */
            ERR_clear_error();
            break;
        }
        done += (size_t)w;
    }
    size_t pend = BIO_ctrl_pending(tc->wbio);
    if (pend > 0) {
        if (sl_buf_reserve(cipher, pend) != 0)
            return SL_ENOMEM;
        int r = BIO_read(tc->wbio, cipher->data + cipher->len, (int)pend);
        if (r > 0)
            cipher->len += (size_t)r;
    }
    *used = done;
    return 0;
}

int sl_tls_conn_has_output(const sl_tls_conn_t *tc) {
    return BIO_ctrl_pending(tc->wbio) > 0;
}

size_t sl_tls_conn_mem(const sl_tls_conn_t *tc) {
    return tc->started ? SL_TLS_CONN_MEM : 4096;
}

int sl_tls_conn_ready(const sl_tls_conn_t *tc) {
    return SSL_is_init_finished(tc->ssl);
}

/* OpenSSL writes to the socket with write(), not send(MSG_NOSIGNAL): a
 * peer that closed would raise SIGPIPE, which kills a process that does
 * not ignore it (the CLI). So SIGPIPE is blocked around calls that write,
 * and one raised meanwhile is taken off the pending set before it is
 * unblocked. */
static void pipe_block(sigset_t *old) {
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, old);
}

static void pipe_restore(const sigset_t *old) {
    int saved = errno;
    sigset_t pending, pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) &&
        !sigismember(old, SIGPIPE)) {
        struct timespec zero = {0, 0};
        sigtimedwait(&pipe, NULL, &zero);
    }
    pthread_sigmask(SIG_SETMASK, old, NULL);
    errno = saved;
}

/* ---- the client's side -------------------------------------------------- */

static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int sl_tls_client_start(sl_tls_ctx_t *ctx, int fd, const char *host,
                        int timeout_ms, SSL **out, char *err, size_t errlen) {
    SSL *ssl = SSL_new(ctx->ctx);
    if (ssl == NULL) {
        ossl_reason(err, errlen, "cannot create a TLS session");
        return SL_ENOMEM;
    }
    unsigned char addr[16];
    int is_ip = inet_pton(AF_INET, host, addr) == 1 ||
                inet_pton(AF_INET6, host, addr) == 1;
    if (!is_ip)
        SSL_set_tlsext_host_name(ssl, host);
    if (!ctx->insecure) {
        X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
        X509_VERIFY_PARAM_set_hostflags(vp,
                                        X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        int ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, host)
                       : X509_VERIFY_PARAM_set1_host(vp, host, 0);
        if (ok != 1) {
            ossl_reason(err, errlen, "cannot set the name to verify");
            SSL_free(ssl);
            return SL_EINVAL;
        }
    }
    SSL_set_fd(ssl, fd);
    int64_t deadline = mono_ms() + timeout_ms;
    for (;;) {
        sigset_t old;
        pipe_block(&old);
        int r = SSL_connect(ssl);
        pipe_restore(&old);
        if (r == 1)
            break;
        int e = SSL_get_error(ssl, r);
        int64_t left = deadline - mono_ms();
        if ((e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) &&
            left > 0) {
            struct pollfd pfd = {
                fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, 0};
            if (poll(&pfd, 1, (int)left) >= 0 || errno == EINTR)
                continue;
        }
        /* A refusal (certificate, alert) is final, like a wrong secret;
         * a connection lost or slow may be retried. */
        int rc = SL_EAUTH;
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            snprintf(err, errlen, "TLS handshake timed out");
            rc = SL_ETIMEDOUT;
        } else if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
            rc = SL_ECONN;
            snprintf(err, errlen,
                     "TLS handshake failed: the server closed the connection "
                     "(does it speak TLS?)");
        } else
            session_reason(ssl, err, errlen, "TLS handshake failed");
        ERR_clear_error();
        SSL_free(ssl);
        return rc;
    }
    *out = ssl;
    return 0;
}

static __thread char last_error[256];

const char *sl_tls_last_error(void) { return last_error; }

/* Maps a failed SSL_read/SSL_write to errno (see tls.h). */
static ssize_t io_fail(SSL *ssl, int r, short *want) {
    int e = SSL_get_error(ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        *want = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
        errno = EAGAIN;
        return -1;
    }
    if (e == SSL_ERROR_ZERO_RETURN)
        return 0;
    if (e == SSL_ERROR_SYSCALL && errno != 0 && ERR_peek_error() == 0)
        return -1; /* errno from the socket (ECONNRESET, EPIPE). */
    ossl_reason(last_error, sizeof last_error, "TLS failed");
    errno = EPROTO;
    return -1;
}

ssize_t sl_tls_send(SSL *ssl, const void *data, size_t n, short *want) {
    if (n > INT32_MAX)
        n = INT32_MAX;
    ERR_clear_error();
    sigset_t old;
    pipe_block(&old);
    int r = SSL_write(ssl, data, (int)n);
    pipe_restore(&old);
    if (r > 0)
        return r;
    ssize_t f = io_fail(ssl, r, want);
    if (f == 0) {
        errno = EPIPE;
        return -1;
    }
    return f;
}

ssize_t sl_tls_recv(SSL *ssl, void *data, size_t n, short *want) {
    if (n > INT32_MAX)
        n = INT32_MAX;
    ERR_clear_error();
    int r = SSL_read(ssl, data, (int)n);
    if (r > 0)
        return r;
    return io_fail(ssl, r, want);
}

int sl_tls_pending(SSL *ssl) { return SSL_pending(ssl) > 0; }

void sl_tls_close(SSL *ssl) {
    if (ssl == NULL)
        return;
    sigset_t old;
    pipe_block(&old);
    SSL_shutdown(ssl);
    pipe_restore(&old);
    ERR_clear_error();
    SSL_free(ssl);
}
