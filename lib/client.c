/*
 * Blocking broker client; see client.h. This file holds the client object,
 * its errors, raw I/O, connecting, status lines, and puts with their acks;
 * the other requests and parsing replies without a socket are in
 * client_request.c, and what the two share is in client_int.h.
 *
 * The wire protocol is specified in docs/protocol.md: requests are
 * "command reqid args\r\n" (+ payload), replies "code reqid text\r\n"
 * (+ body), in request order. Written here: "auth ID SECRET\r\n" on
 * connecting when there is a secret, and the puts:
 *   put ID TOPIC PARTITION LEN [klen=K] [pid=P seq=S]\r\n
 *     [<K key bytes>\r\n]<LEN bytes>\r\n
 *   mput ID TOPIC PARTITION COUNT [pid=P seq=S]\r\n
 *     then COUNT times LEN\r\n<LEN bytes>\r\n, or for a message with a
 *     record key LEN K\r\n<K key bytes>\r\n<LEN bytes>\r\n
 * and acked "200 ID OFFSET", "200 ID OFFSET dup" or "200 ID unknown dup".
 *
 * Replies are input from another process and are checked as such: every
 * number is 1-20 decimal digits without overflow, every count and length
 * is held against the protocol's limits (client_int.h) before anything is
 * sized by it, buffers grow only with bytes actually received, and records
 * must come in the order and within the MAXBYTES budget the protocol
 * promises. A reply that breaks a rule is malformed: the call returns
 * SL_EPROTO and the connection is closed, since nothing after a malformed
 * reply can be trusted to be in step with the requests. Nothing of a
 * malformed reply is returned as data.
 */
#include "client_int.h"

#include "backoff.h"
#include "clock.h"
#include "error.h"
#include "fmt.h"
#include "log.h"
#include "parse.h"
#include "status.h"
#include "tls.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Pipelined puts are sent once this many bytes are buffered. */
#define FLUSH_AT (256u * 1024)

int sl__client_set_err(sl_client_t *cl, int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cl->err, sizeof cl->err, fmt, ap);
    va_end(ap);
    return code;
}

/* A malformed reply: the message names the broker and says the
 * connection is closed (the caller of the public function closes it). */
int sl__client_proto_err(sl_client_t *cl, const char *fmt, ...) {
    int n = snprintf(cl->err, sizeof cl->err,
                     "malformed reply from broker %s:%u: ", cl->host, cl->port);
    if (n < 0 || (size_t)n >= sizeof cl->err)
        return SL_EPROTO;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cl->err + n, sizeof cl->err - (size_t)n, fmt, ap);
    va_end(ap);
    size_t len = strlen(cl->err);
    snprintf(cl->err + len, sizeof cl->err - len, " (connection closed)");
    return SL_EPROTO;
}

const char *sl_client_error(const sl_client_t *cl) { return cl->err; }

void sl__client_disconnect(sl_client_t *cl) {
    sl_tls_close(cl->ssl);
    cl->ssl = NULL;
    if (cl->fd >= 0)
        close(cl->fd);
    cl->fd = -1;
    sl_buf_reset(&cl->out);
    sl_buf_reset(&cl->in);
    cl->in_off = 0;
    cl->inflight = 0;
    cl->ring_head = 0;
    cl->get_pending = 0;
}
/* ---- raw I/O ------------------------------------------------------------ */

static int wait_fd(sl_client_t *cl, short ev, int64_t deadline) {
    for (;;) {
        int64_t left = deadline - sl__client_now_ms();
        if (left <= 0)
            return sl__client_set_err(cl, SL_ETIMEDOUT,
                                      "timed out talking to %s:%u", cl->host,
                                      cl->port);
        struct pollfd pfd = {cl->fd, cl->ssl ? cl->tls_want : ev, 0};
        int rc = poll(&pfd, 1, (int)(left > 1000000 ? 1000000 : left));
        if (rc > 0)
            return 0;
        if (rc < 0 && errno != EINTR)
            return sl__client_set_err(cl, SL_ESYS, "poll: %s", strerror(errno));
    }
}

/* Why the last send or recv failed: OpenSSL's reason for a TLS failure
 * (a refused client certificate arrives as an alert on the first read). */
static const char *io_strerror(const sl_client_t *cl) {
    return cl->tls != NULL && errno == EPROTO ? sl_tls_last_error()
                                              : strerror(errno);
}

/* send() and recv() on the connection, through TLS when it is on. */
static ssize_t conn_send(sl_client_t *cl, const void *p, size_t n) {
    if (cl->ssl)
        return sl_tls_send(cl->ssl, p, n, &cl->tls_want);
    return send(cl->fd, p, n, MSG_NOSIGNAL);
}

static ssize_t conn_recv(sl_client_t *cl, void *p, size_t n) {
    if (cl->ssl)
        return sl_tls_recv(cl->ssl, p, n, &cl->tls_want);
    return recv(cl->fd, p, n, 0);
}

int sl__client_send_all(sl_client_t *cl, int64_t deadline) {
    size_t done = 0;
    while (done < cl->out.len) {
        ssize_t w = conn_send(cl, cl->out.data + done, cl->out.len - done);
        if (w > 0) {
            done += (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int err = wait_fd(cl, POLLOUT, deadline);
            if (err != 0)
                return err;
            continue;
        }
        return sl__client_set_err(cl, SL_ECLOSED,
                                  "connection to %s:%u broken: %s", cl->host,
                                  cl->port, io_strerror(cl));
    }
    sl_buf_reset(&cl->out);
    return 0;
}

int sl__client_read_more(sl_client_t *cl, int64_t deadline) {
    /* A detached client (sl_client_parse_reply) has only the bytes it was
     * given: a reply that needs more ends early, as if the broker closed. */
    if (cl->fd < 0)
        return sl__client_set_err(cl, SL_ECLOSED,
                                  "reply from broker %s:%u ends early",
                                  cl->host, cl->port);
    if (sl_buf_reserve(&cl->in, 256 * 1024) != 0)
        return SL_ENOMEM;
    for (;;) {
        ssize_t r =
            conn_recv(cl, cl->in.data + cl->in.len, cl->in.cap - cl->in.len);
        if (r > 0) {
            cl->in.len += (size_t)r;
            return 0;
        }
        if (r == 0)
            return sl__client_set_err(cl, SL_ECLOSED,
                                      "broker %s:%u closed the "
                                      "connection",
                                      cl->host, cl->port);
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            int err = wait_fd(cl, POLLIN, deadline);
            if (err != 0)
                return err;
            continue;
        }
        return sl__client_set_err(cl, SL_ECLOSED,
                                  "connection to %s:%u broken: %s", cl->host,
                                  cl->port, io_strerror(cl));
    }
}

/* Reads one line; *start is its offset in cl->in, *len its length without
 * the line end. Advances in_off past it. */
int sl__client_read_line(sl_client_t *cl, int64_t deadline, size_t *start,
                         size_t *len) {
    size_t scanned = cl->in_off;
    for (;;) {
        uint8_t *nl = cl->in.len > scanned ? memchr(cl->in.data + scanned, '\n',
                                                    cl->in.len - scanned)
                                           : NULL;
        if (nl != NULL) {
            size_t end = (size_t)(nl - cl->in.data);
            if (end - cl->in_off > SL_CLIENT_MAX_LINE)
                return sl__client_proto_err(cl, "a line longer than %u bytes",
                                            SL_CLIENT_MAX_LINE);
            *start = cl->in_off;
            *len = end - cl->in_off;
            if (*len > 0 && cl->in.data[end - 1] == '\r')
                (*len)--;
            cl->in_off = end + 1;
            return 0;
        }
        scanned = cl->in.len;
        if (cl->in.len - cl->in_off > SL_CLIENT_MAX_LINE)
            return sl__client_proto_err(cl, "a line longer than %u bytes",
                                        SL_CLIENT_MAX_LINE);
        int err = sl__client_read_more(cl, deadline);
        if (err != 0)
            return err;
    }
}

/* ---- connecting ---------------------------------------------------------- */

/* Shakes hands on the new connection. A refusal (certificate, protocol)
 * is logged with its reason, since callers often print only the code, and
 * is not retried. */
static int tls_start(sl_client_t *cl) {
    char why[400];
    int err = sl_tls_client_start(cl->tls, cl->fd, cl->host,
                                  cl->opts.connect_timeout_ms, &cl->ssl, why,
                                  sizeof why);
    if (err == 0) {
        cl->tls_refused = 0;
        return 0;
    }
    close(cl->fd);
    cl->fd = -1;
    cl->tls_refused = err == SL_EAUTH;
    sl_log_error("TLS to the broker failed", "broker=%s:%u error=\"%s\"",
                 cl->host, cl->port, why);
    return sl__client_set_err(cl, err, "TLS to broker %s:%u: %s", cl->host,
                              cl->port, why);
}

static int dial(sl_client_t *cl) {
    char port[8];
    snprintf(port, sizeof port, "%u", cl->port);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    int gai = getaddrinfo(cl->host, port, &hints, &res);
    if (gai != 0)
        return sl__client_set_err(cl, SL_ECONN, "cannot resolve %s: %s",
                                  cl->host, gai_strerror(gai));
    int err = SL_ECONN;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family,
                        SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            continue;
        int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
        if (rc < 0 && errno == EINPROGRESS) {
            struct pollfd pfd = {fd, POLLOUT, 0};
            rc = poll(&pfd, 1, cl->opts.connect_timeout_ms);
            int soerr = 0;
            socklen_t sl = sizeof soerr;
            if (rc == 1 &&
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 &&
                soerr == 0)
                rc = 0;
            else {
                errno = rc == 0 ? ETIMEDOUT : (soerr ? soerr : errno);
                rc = -1;
            }
        }
        if (rc == 0) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            cl->fd = fd;
            err = 0;
            break;
        }
        sl__client_set_err(cl, SL_ECONN, "cannot connect to %s:%u: %s",
                           cl->host, cl->port, strerror(errno));
        close(fd);
    }
    freeaddrinfo(res);
    if (err != 0)
        return err;
    if (cl->tls != NULL && (err = tls_start(cl)) != 0)
        return err;
    if (cl->secret) {
        int64_t deadline = sl__client_now_ms() + cl->opts.io_timeout_ms;
        uint64_t id = cl->next_reqid++;
        err = sl_buf_printf(&cl->out, "auth %llu %s\r\n",
                            (unsigned long long)id, cl->secret);
        if (err == 0)
            err = sl__client_send_all(cl, deadline);
        int code = 0;
        const char *rest;
        size_t rl;
        if (err == 0)
            err = sl__client_status_line(cl, deadline, id, &code, &rest, &rl);
        if (code != 0 && code != SL_STATUS_OK)
            err = sl__client_set_err(cl, SL_EAUTH,
                                     "broker %s:%u refused the secret "
                                     "(%d)",
                                     cl->host, cl->port, code);
        if (err != 0) {
            sl__client_disconnect(cl);
            return err;
        }
        sl__client_compact_in(cl);
    }
    return 0;
}

int sl_client_connect(const char *hostport, const sl_client_opts_t *opts,
                      sl_client_t **out) {
    return sl_client_connect_tls(hostport, opts, NULL, out);
}

int sl_client_connect_tls(const char *hostport, const sl_client_opts_t *opts,
                          const sl_tls_opts_t *tls, sl_client_t **out) {
    sl_client_t *cl = calloc(1, sizeof *cl);
    if (cl == NULL)
        return SL_ENOMEM;
    cl->fd = -1;
    cl->next_reqid = 1;
    if (opts)
        cl->opts = *opts;
    if (cl->opts.connect_timeout_ms <= 0)
        cl->opts.connect_timeout_ms = 5000;
    if (cl->opts.io_timeout_ms <= 0)
        cl->opts.io_timeout_ms = 30000;
    if (cl->opts.retry_ms == 0)
        cl->opts.retry_ms = 30000;
    if (sl_parse_hostport(hostport, cl->host, sizeof cl->host, &cl->port) !=
        0) {
        free(cl);
        return SL_EINVAL;
    }
    if (opts && opts->secret) {
        cl->secret = strdup(opts->secret);
        if (cl->secret == NULL) {
            free(cl);
            return SL_ENOMEM;
        }
    }
    cl->opts.secret = NULL;
    if (tls != NULL) {
        char why[700];
        int terr = sl_tls_client_ctx(tls, &cl->tls, why, sizeof why);
        if (terr != 0) {
            sl_log_error("cannot set up TLS to the broker", "error=\"%s\"",
                         why);
            sl_client_close(cl);
            return terr;
        }
    }
    int err = dial(cl);
    if (err != 0) {
        sl_client_close(cl);
        return err;
    }
    *out = cl;
    return 0;
}

void sl_client_close(sl_client_t *cl) {
    if (cl == NULL)
        return;
    sl_tls_close(cl->ssl);
    sl_tls_ctx_free(cl->tls);
    if (cl->fd >= 0)
        close(cl->fd);
    if (cl->secret) {
        memset(cl->secret, 0, strlen(cl->secret));
        free(cl->secret);
    }
    sl_buf_free(&cl->out);
    sl_buf_free(&cl->in);
    free(cl->inflight_ids);
    free(cl->recs);
    free(cl->metas);
    free(cl);
}

int sl_client_reconnect(sl_client_t *cl) {
    sl__client_disconnect(cl);
    int64_t deadline =
        sl__client_now_ms() + (cl->opts.retry_ms > 0 ? cl->opts.retry_ms : 0);
    sl_backoff_t bo;
    sl_backoff_init_exact(&bo, 100, 2000, 1, 2);
    for (;;) {
        int err = dial(cl);
        if (err == 0 || err == SL_EAUTH || cl->tls_refused)
            return err;
        uint32_t pause = sl_backoff_next(&bo);
        if (sl__client_now_ms() + pause > deadline)
            return err;
        sl_sleep_ms(pause, NULL);
    }
}
/* ---- status lines -------------------------------------------------------- */

/* The text of an error reply, for messages: bytes that are not printable
 * ASCII become '?', so a broker cannot write control sequences to a
 * terminal through our error messages. */
static void set_reply_err(sl_client_t *cl, int code, const char *text,
                          size_t len) {
    int n = snprintf(cl->err, sizeof cl->err, "broker: %d ", code);
    size_t w = n > 0 ? (size_t)n : 0;
    for (size_t i = 0; i < len && w + 1 < sizeof cl->err; i++) {
        unsigned char ch = (unsigned char)text[i];
        cl->err[w++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
    }
    cl->err[w] = '\0';
}

/* Reads a status line "CODE ID rest": *code (0 until a well-formed status
 * line for this request was read) and *rest (pointing into cl->in, valid
 * until the next read) for the caller. The code is three digits from 100
 * to 599; ID is the request's id, or "-" on an error reply to a request
 * the broker could not parse. Returns 0 for 200, the code's SL_E* for
 * other codes, or an I/O or protocol error. */
int sl__client_status_line(sl_client_t *cl, int64_t deadline, uint64_t reqid,
                           int *code, const char **rest, size_t *restlen) {
    *code = 0;
    size_t st, ln;
    int err = sl__client_read_line(cl, deadline, &st, &ln);
    if (err != 0)
        return err;
    const char *p = (const char *)cl->in.data + st;
    const char *end = p + ln;
    if (ln < 5 || p[3] != ' ' || p[0] < '1' || p[0] > '5' || p[1] < '0' ||
        p[1] > '9' || p[2] < '0' || p[2] > '9')
        return sl__client_proto_err(cl,
                                    "bad status line (expected CODE ID ...)");
    int c = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
    const char *idp = p + 4;
    const char *sp2 = memchr(idp, ' ', (size_t)(end - idp));
    size_t idlen = sp2 ? (size_t)(sp2 - idp) : (size_t)(end - idp);
    uint64_t id;
    if (idlen == 1 && *idp == '-') {
        /* An error about a request the broker could not parse. */
        if (c == SL_STATUS_OK)
            return sl__client_proto_err(cl,
                                        "success reply without a request id");
    } else if (sl__client_span_u64(idp, idlen, &id) != 0) {
        return sl__client_proto_err(cl, "bad request id in status line");
    } else if (id != reqid) {
        return sl__client_proto_err(cl, "reply to request %llu, expected %llu",
                                    (unsigned long long)id,
                                    (unsigned long long)reqid);
    }
    *code = c;
    *rest = sp2 ? sp2 + 1 : end;
    *restlen = (size_t)(end - *rest);
    if (c != SL_STATUS_OK) {
        set_reply_err(cl, c, *rest, *restlen);
        return sl_status_error(c);
    }
    return 0;
}

int sl__client_ensure_connected(sl_client_t *cl) {
    if (cl->fd >= 0)
        return 0;
    if (cl->opts.retry_ms < 0)
        return sl__client_set_err(cl, SL_ECLOSED, "not connected");
    return sl_client_reconnect(cl);
}

/* ---- puts ---------------------------------------------------------------- */

/* Formats by hand: this is the hot path of a pipelined producer. keys is
 * NULL (no message has a key) or holds one key per message, keys[i].data
 * NULL for none. Inlined twice (append_put()): a batch without keys, the
 * usual one, is formatted without the key's branches. */
static inline __attribute__((always_inline)) int
format_put(sl_client_t *cl, uint64_t id, const char *topic, const char *part,
           const sl_client_msg_t *msgs, const sl_client_msg_t *keys, size_t n,
           int64_t producer, uint64_t seq) {
    size_t tl = strlen(topic), pl = strlen(part);
    size_t total = 64 + tl + pl + 64 + 32;
    for (size_t i = 0; i < n; i++) {
        /* No broker takes a message above 1 GiB; refusing here also keeps
         * the size sum from wrapping. */
        size_t klen = keys != NULL && keys[i].data != NULL ? keys[i].len : 0;
        if (msgs[i].len > SL_CLIENT_MAX_RECORD ||
            klen > SL_CLIENT_MAX_RECORD - msgs[i].len ||
            total > SIZE_MAX - 52 - msgs[i].len - klen)
            return sl__client_set_err(cl, SL_ETOOBIG, "message of %zu bytes",
                                      msgs[i].len + klen);
        total += msgs[i].len + 26 + (klen ? klen + 26 : 0);
    }
    uint8_t *start = sl_buf_extend(&cl->out, total);
    if (start == NULL)
        return SL_ENOMEM;
    char *w = (char *)start;
    if (n == 1) {
        memcpy(w, "put ", 4);
        w += 4;
    } else {
        memcpy(w, "mput ", 5);
        w += 5;
    }
    w = sl_fmt_u64(w, id);
    *w++ = ' ';
    memcpy(w, topic, tl);
    w += tl;
    *w++ = ' ';
    memcpy(w, part, pl);
    w += pl;
    *w++ = ' ';
    w = sl_fmt_u64(w, n == 1 ? msgs[0].len : n);
    if (n == 1 && keys != NULL && keys[0].data != NULL) {
        memcpy(w, " klen=", 6);
        w = sl_fmt_u64(w + 6, keys[0].len);
    }
    if (producer >= 0) {
        memcpy(w, " pid=", 5);
        w = sl_fmt_u64(w + 5, (uint64_t)producer);
        memcpy(w, " seq=", 5);
        w = sl_fmt_u64(w + 5, seq);
    }
    *w++ = '\r';
    *w++ = '\n';
    for (size_t i = 0; i < n; i++) {
        const sl_client_msg_t *k =
            keys != NULL && keys[i].data != NULL ? &keys[i] : NULL;
        if (n > 1) {
            w = sl_fmt_u64(w, msgs[i].len);
            if (k != NULL) {
                *w++ = ' ';
                w = sl_fmt_u64(w, k->len);
            }
            *w++ = '\r';
            *w++ = '\n';
        }
        if (k != NULL) {
            if (k->len)
                memcpy(w, k->data, k->len);
            w += k->len;
            *w++ = '\r';
            *w++ = '\n';
        }
        if (msgs[i].len)
            memcpy(w, msgs[i].data, msgs[i].len);
        w += msgs[i].len;
        *w++ = '\r';
        *w++ = '\n';
    }
    cl->out.len -= total - (size_t)(w - (char *)start);
    return 0;
}

static int append_put(sl_client_t *cl, uint64_t id, const char *topic,
                      const char *part, const sl_client_msg_t *msgs,
                      const sl_client_msg_t *keys, size_t n, int64_t producer,
                      uint64_t seq) {
    if (keys == NULL)
        return format_put(cl, id, topic, part, msgs, NULL, n, producer, seq);
    return format_put(cl, id, topic, part, msgs, keys, n, producer, seq);
}

/* A put's ack: "OFFSET", "OFFSET dup" or "unknown dup"; nothing else. */
int sl__client_parse_ack(sl_client_t *cl, const char *rest, size_t rl,
                         uint64_t *offset, int *dup) {
    sl__client_tok_t t[2];
    size_t nt = sl__client_split(rest, rl, t, 2);
    *dup = nt == 2 && t[1].len == 3 && memcmp(t[1].p, "dup", 3) == 0;
    if (nt == 0 || nt > 2 || (nt == 2 && !*dup))
        return sl__client_proto_err(cl, "bad put ack (expected OFFSET [dup])");
    if (*dup && t[0].len == 7 && memcmp(t[0].p, "unknown", 7) == 0) {
        *offset = UINT64_MAX;
        return 0;
    }
    if (sl__client_tok_u64(&t[0], offset) != 0)
        return sl__client_proto_err(cl, "bad offset in put ack");
    return 0;
}

int sl_client_put_batch(sl_client_t *cl, const char *topic, const char *part,
                        const sl_client_msg_t *msgs, size_t n, int64_t producer,
                        uint64_t seq, uint64_t *base_offset, int *dup) {
    return sl_client_put_batch_keyed(cl, topic, part, msgs, NULL, n, producer,
                                     seq, base_offset, dup);
}

int sl_client_put_batch_keyed(sl_client_t *cl, const char *topic,
                              const char *part, const sl_client_msg_t *msgs,
                              const sl_client_msg_t *keys, size_t n,
                              int64_t producer, uint64_t seq,
                              uint64_t *base_offset, int *dup) {
    if (n == 0 || cl->inflight > 0)
        return sl__client_set_err(
            cl, SL_EINVAL, n ? "pipelined puts still unacked" : "empty batch");
    if (cl->get_pending)
        return sl__client_set_err(cl, SL_EINVAL,
                                  "a sent get is not received yet");
    for (int attempt = 0;; attempt++) {
        int err = sl__client_ensure_connected(cl);
        if (err != 0)
            return err;
        sl__client_compact_in(cl);
        int64_t deadline = sl__client_now_ms() + cl->opts.io_timeout_ms;
        uint64_t id = cl->next_reqid++;
        err = append_put(cl, id, topic, part, msgs, keys, n, producer, seq);
        if (err != 0)
            return err;
        err = sl__client_send_all(cl, deadline);
        int code = 0;
        const char *rest;
        size_t rl;
        if (err == 0)
            err = sl__client_status_line(cl, deadline, id, &code, &rest, &rl);
        if (err == 0) {
            int d;
            uint64_t off;
            err = sl__client_parse_ack(cl, rest, rl, &off, &d);
            if (err != 0) {
                sl__client_disconnect(cl);
                return err;
            }
            if (base_offset)
                *base_offset = off;
            if (dup)
                *dup = d;
            return 0;
        }
        if (code != 0)
            return err; /* An error reply: the connection is in step. */
        sl__client_disconnect(cl);
        /* A malformed reply is reported, not retried: the put may have
         * been stored, as after a broken connection. */
        if (!sl__client_conn_error(err))
            return err;
        if (producer < 0 || attempt > 0 || cl->opts.retry_ms < 0)
            return SL_ECLOSED;
    }
}

int sl_client_put(sl_client_t *cl, const char *topic, const char *part,
                  const void *data, size_t len, int64_t producer, uint64_t seq,
                  uint64_t *offset, int *dup) {
    sl_client_msg_t m = {data, len};
    return sl_client_put_batch(cl, topic, part, &m, 1, producer, seq, offset,
                               dup);
}

int sl_client_put_send(sl_client_t *cl, const char *topic, const char *part,
                       const sl_client_msg_t *msgs, size_t n, int64_t producer,
                       uint64_t seq, uint64_t *reqid) {
    return sl_client_put_send_keyed(cl, topic, part, msgs, NULL, n, producer,
                                    seq, reqid);
}

int sl_client_put_send_keyed(sl_client_t *cl, const char *topic,
                             const char *part, const sl_client_msg_t *msgs,
                             const sl_client_msg_t *keys, size_t n,
                             int64_t producer, uint64_t seq, uint64_t *reqid) {
    if (n == 0)
        return SL_EINVAL;
    if (cl->fd < 0)
        return sl__client_set_err(cl, SL_ECLOSED,
                                  "not connected (call "
                                  "sl_client_reconnect)");
    if (cl->inflight == cl->ring_cap) {
        size_t cap = cl->ring_cap ? cl->ring_cap * 2 : 1024;
        uint64_t *r = malloc(cap * sizeof *r);
        if (r == NULL)
            return SL_ENOMEM;
        for (size_t i = 0; i < cl->inflight; i++)
            r[i] = cl->inflight_ids[(cl->ring_head + i) % cl->ring_cap];
        free(cl->inflight_ids);
        cl->inflight_ids = r;
        cl->ring_cap = cap;
        cl->ring_head = 0;
    }
    uint64_t id = cl->next_reqid++;
    int err = append_put(cl, id, topic, part, msgs, keys, n, producer, seq);
    if (err != 0)
        return err;
    cl->inflight_ids[(cl->ring_head + cl->inflight) % cl->ring_cap] = id;
    cl->inflight++;
    if (reqid)
        *reqid = id;
    if (cl->out.len >= FLUSH_AT)
        return sl_client_flush(cl);
    return 0;
}

int sl_client_flush(sl_client_t *cl) {
    if (cl->out.len == 0)
        return 0;
    if (cl->fd < 0)
        return sl__client_set_err(cl, SL_ECLOSED, "not connected");
    /* Writing may block while the broker is blocked writing acks to us; a
     * generous deadline and the broker's own output buffering make that
     * a slow path, not a deadlock. Read acks as we go to be safe. */
    int64_t deadline = sl__client_now_ms() + cl->opts.io_timeout_ms;
    size_t done = 0;
    while (done < cl->out.len) {
        ssize_t w = conn_send(cl, cl->out.data + done, cl->out.len - done);
        if (w > 0) {
            done += (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd pfd = {cl->fd, POLLOUT | POLLIN, 0};
            int64_t left = deadline - sl__client_now_ms();
            if (left <= 0) {
                sl__client_disconnect(cl);
                return sl__client_set_err(cl, SL_ETIMEDOUT,
                                          "timed out sending");
            }
            if (poll(&pfd, 1, (int)left) > 0 && (pfd.revents & POLLIN)) {
                /* Pull acks into the buffer so the broker can go on, but
                 * no more than the acks in flight can fill. */
                size_t buffered = cl->in.len - cl->in_off;
                if (buffered > SL_CLIENT_ACK_SLACK &&
                    (buffered - SL_CLIENT_ACK_SLACK) / 128 > cl->inflight) {
                    int perr = sl__client_proto_err(cl,
                                                    "more reply bytes than the "
                                                    "acks of %zu puts",
                                                    cl->inflight);
                    sl__client_disconnect(cl);
                    return perr;
                }
                if (sl_buf_reserve(&cl->in, 256 * 1024) == 0) {
                    ssize_t r = conn_recv(cl, cl->in.data + cl->in.len,
                                          cl->in.cap - cl->in.len);
                    if (r > 0)
                        cl->in.len += (size_t)r;
                    else if (r == 0) {
                        sl__client_disconnect(cl);
                        return sl__client_set_err(cl, SL_ECLOSED,
                                                  "broker closed the "
                                                  "connection");
                    }
                }
            }
            continue;
        }
        sl__client_disconnect(cl);
        return sl__client_set_err(cl, SL_ECLOSED, "connection broken: %s",
                                  io_strerror(cl));
    }
    sl_buf_reset(&cl->out);
    return 0;
}

size_t sl_client_inflight(const sl_client_t *cl) { return cl->inflight; }

/* Whether a whole reply line is buffered (an ack that needs no read). */
static int ack_buffered(const sl_client_t *cl) {
    return cl->in.len > cl->in_off &&
           memchr(cl->in.data + cl->in_off, '\n', cl->in.len - cl->in_off);
}

int sl_client_ack_ready(sl_client_t *cl, int timeout_ms) {
    return sl_client_ack_ready_us(
        cl, timeout_ms < 0 ? 0 : (int64_t)timeout_ms * 1000);
}

int sl_client_ack_ready_us(sl_client_t *cl, int64_t timeout_us) {
    int err = sl_client_flush(cl);
    if (err != 0)
        return err;
    if (ack_buffered(cl) || (cl->ssl && sl_tls_pending(cl->ssl)))
        return 1;
    if (cl->fd < 0)
        return sl__client_set_err(cl, SL_ECLOSED, "not connected");
    struct pollfd pfd = {cl->fd, POLLIN, 0};
    if (timeout_us < 0)
        timeout_us = 0;
    struct timespec ts = {(time_t)(timeout_us / 1000000),
                          (long)(timeout_us % 1000000) * 1000};
    int rc;
    do
        rc = ppoll(&pfd, 1, &ts, NULL);
    while (rc < 0 && errno == EINTR);
    if (rc < 0)
        return sl__client_set_err(cl, SL_ESYS, "poll: %s", strerror(errno));
    return rc > 0;
}

int sl_client_put_ack(sl_client_t *cl, sl_client_ack_t *ack) {
    memset(ack, 0, sizeof *ack);
    if (cl->inflight == 0)
        return sl__client_set_err(cl, SL_EINVAL, "no put in flight");
    /* An ack already received is returned without sending: the puts queued
     * meanwhile go out together when the buffered acks run out (or the
     * queue reaches FLUSH_AT), so a producer refilling its window ack by
     * ack sends one write per burst of acks, not one per put. */
    int err = ack_buffered(cl) ? 0 : sl_client_flush(cl);
    if (err != 0)
        return err;
    uint64_t id = cl->inflight_ids[cl->ring_head];
    ack->reqid = id;
    if (cl->in_off > (1u << 20))
        sl__client_compact_in(cl);
    int64_t deadline = sl__client_now_ms() + cl->opts.io_timeout_ms;
    const char *rest;
    size_t rl;
    err = sl__client_status_line(cl, deadline, id, &ack->code, &rest, &rl);
    if (ack->code == 0) {
        /* No reply, or a malformed one: the acks still due are lost with
         * the connection (SL_ECLOSED for the caller to resend). */
        sl__client_disconnect(cl);
        return err;
    }
    cl->ring_head = (cl->ring_head + 1) % cl->ring_cap;
    cl->inflight--;
    if (err != 0)
        return err;
    err = sl__client_parse_ack(cl, rest, rl, &ack->offset, &ack->dup);
    if (err != 0)
        sl__client_disconnect(cl);
    return err;
}
