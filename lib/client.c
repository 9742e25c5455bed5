/*
 * Blocking broker client; see client.h. The wire protocol is specified in
 * docs/protocol.md: requests are "command reqid args\r\n" (+ payload),
 * replies "code reqid text\r\n" (+ body), in request order.
 */
#include "client.h"

#include "clock.h"
#include "error.h"
#include "parse.h"

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

#define FLUSH_AT (256u * 1024)

/* The largest record a broker can hold (its --max-message is capped at
 * 1 GiB): a reply announcing more is refused at once. */
#define SL_CLIENT_MAX_RECORD (1ull << 30)

struct sl_client_s {
    char host[256];
    uint16_t port;
    sl_client_opts_t opts;
    char *secret;
    int fd;
    uint64_t next_reqid;
    sl_buf_t out;
    sl_buf_t in;
    size_t in_off;
    size_t inflight;
    uint64_t *inflight_ids; /* Ring of request ids awaiting acks. */
    size_t ring_cap, ring_head;
    char err[512];
    sl_client_rec_t *recs;
    size_t caprecs;
    int get_pending;        /* A get sent by sl_client_get_send(). */
    uint64_t get_pending_id, get_pending_offset;
};

static int set_err(sl_client_t *cl, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int set_err(sl_client_t *cl, int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cl->err, sizeof cl->err, fmt, ap);
    va_end(ap);
    return code;
}

const char *sl_client_error(const sl_client_t *cl) {
    return cl->err;
}

static int64_t now_ms(void) {
    return (int64_t)(sl_mono_ns() / 1000000);
}

static void disconnect(sl_client_t *cl) {
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
        int64_t left = deadline - now_ms();
        if (left <= 0)
            return set_err(cl, SL_ETIMEDOUT, "timed out talking to %s:%u",
                           cl->host, cl->port);
        struct pollfd pfd = {cl->fd, ev, 0};
        int rc = poll(&pfd, 1, (int)(left > 1000000 ? 1000000 : left));
        if (rc > 0)
            return 0;
        if (rc < 0 && errno != EINTR)
            return set_err(cl, SL_ESYS, "poll: %s", strerror(errno));
    }
}

static int send_all(sl_client_t *cl, int64_t deadline) {
    size_t done = 0;
    while (done < cl->out.len) {
        ssize_t w = send(cl->fd, cl->out.data + done, cl->out.len - done,
                         MSG_NOSIGNAL);
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
        return set_err(cl, SL_ECLOSED, "connection to %s:%u broken: %s",
                       cl->host, cl->port, strerror(errno));
    }
    sl_buf_reset(&cl->out);
    return 0;
}

static int read_more(sl_client_t *cl, int64_t deadline) {
    if (sl_buf_reserve(&cl->in, 256 * 1024) != 0)
        return SL_ENOMEM;
    for (;;) {
        ssize_t r = recv(cl->fd, cl->in.data + cl->in.len,
                         cl->in.cap - cl->in.len, 0);
        if (r > 0) {
            cl->in.len += (size_t)r;
            return 0;
        }
        if (r == 0)
            return set_err(cl, SL_ECLOSED, "broker %s:%u closed the "
                           "connection", cl->host, cl->port);
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            int err = wait_fd(cl, POLLIN, deadline);
            if (err != 0)
                return err;
            continue;
        }
        return set_err(cl, SL_ECLOSED, "connection to %s:%u broken: %s",
                       cl->host, cl->port, strerror(errno));
    }
}

/* Reads one line; *start is its offset in cl->in, *len its length without
 * the line end. Advances in_off past it. */
static int read_line(sl_client_t *cl, int64_t deadline, size_t *start,
                     size_t *len) {
    size_t scanned = cl->in_off;
    for (;;) {
        uint8_t *nl = cl->in.len > scanned
                          ? memchr(cl->in.data + scanned, '\n',
                                   cl->in.len - scanned)
                          : NULL;
        if (nl != NULL) {
            size_t end = (size_t)(nl - cl->in.data);
            *start = cl->in_off;
            *len = end - cl->in_off;
            if (*len > 0 && cl->in.data[end - 1] == '\r')
                (*len)--;
            cl->in_off = end + 1;
            return 0;
        }
        scanned = cl->in.len;
        if (cl->in.len - cl->in_off > (1u << 20))
            return set_err(cl, SL_EPROTO, "reply line too long");
        int err = read_more(cl, deadline);
        if (err != 0)
            return err;
    }
}

static int need_bytes(sl_client_t *cl, int64_t deadline, size_t n) {
    while (cl->in.len - cl->in_off < n) {
        int err = read_more(cl, deadline);
        if (err != 0)
            return err;
    }
    return 0;
}

static void compact_in(sl_client_t *cl) {
    if (cl->in_off == cl->in.len) {
        sl_buf_reset(&cl->in);
        cl->in_off = 0;
    } else if (cl->in_off > 0) {
        sl_buf_consume(&cl->in, cl->in_off);
        cl->in_off = 0;
    }
}

/* ---- connecting ----------------------------------------------------------- */

static int dial(sl_client_t *cl) {
    char port[8];
    snprintf(port, sizeof port, "%u", cl->port);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    int gai = getaddrinfo(cl->host, port, &hints, &res);
    if (gai != 0)
        return set_err(cl, SL_ECONN, "cannot resolve %s: %s", cl->host,
                       gai_strerror(gai));
    int err = SL_ECONN;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                        0);
        if (fd < 0)
            continue;
        int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
        if (rc < 0 && errno == EINPROGRESS) {
            struct pollfd pfd = {fd, POLLOUT, 0};
            rc = poll(&pfd, 1, cl->opts.connect_timeout_ms);
            int soerr = 0;
            socklen_t sl = sizeof soerr;
            if (rc == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 &&
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
        set_err(cl, SL_ECONN, "cannot connect to %s:%u: %s", cl->host,
                cl->port, strerror(errno));
        close(fd);
    }
    freeaddrinfo(res);
    if (err != 0)
        return err;
    if (cl->secret) {
        int64_t deadline = now_ms() + cl->opts.io_timeout_ms;
        uint64_t id = cl->next_reqid++;
        sl_buf_printf(&cl->out, "auth %llu %s\r\n", (unsigned long long)id,
                      cl->secret);
        size_t st, ln;
        err = send_all(cl, deadline);
        if (err == 0)
            err = read_line(cl, deadline, &st, &ln);
        if (err == 0 && (ln < 3 || memcmp(cl->in.data + st, "200", 3) != 0))
            err = set_err(cl, SL_EAUTH, "broker %s:%u refused the secret",
                          cl->host, cl->port);
        if (err != 0) {
            disconnect(cl);
            return err;
        }
        compact_in(cl);
    }
    return 0;
}

int sl_client_connect(const char *hostport, const sl_client_opts_t *opts,
                      sl_client_t **out) {
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
    if (sl_parse_hostport(hostport, cl->host, sizeof cl->host, &cl->port) != 0) {
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
    free(cl);
}

int sl_client_reconnect(sl_client_t *cl) {
    disconnect(cl);
    int64_t deadline = now_ms() + (cl->opts.retry_ms > 0 ? cl->opts.retry_ms : 0);
    int backoff = 100;
    for (;;) {
        int err = dial(cl);
        if (err == 0 || err == SL_EAUTH)
            return err;
        if (now_ms() + backoff > deadline)
            return err;
        usleep((useconds_t)backoff * 1000);
        backoff = backoff * 2 > 2000 ? 2000 : backoff * 2;
    }
}

/* ---- replies ---------------------------------------------------------- */

static int code_to_err(int code) {
    switch (code) {
    case 200:
        return 0;
    case 400:
        return SL_EPROTO;
    case 401:
    case 403:
        return SL_EAUTH;
    case 404:
        return SL_ENOTFOUND;
    case 413:
        return SL_ETOOBIG;
    case 409:
        return SL_EEXIST;
    case 416:
        return SL_ERANGE;
    case 503:
        return SL_EAGAIN;
    default:
        return SL_EIO;
    }
}

static int parse_u64_span(const char *p, size_t n, uint64_t *v) {
    char tmp[32];
    if (n == 0 || n >= sizeof tmp)
        return SL_EPROTO;
    memcpy(tmp, p, n);
    tmp[n] = '\0';
    return sl_parse_u64(tmp, v) == 0 ? 0 : SL_EPROTO;
}

/* Splits a status line "CODE ID rest": *code, and *rest (offset into
 * cl->in) for the caller. Checks the request id. */
static int status_line(sl_client_t *cl, int64_t deadline, uint64_t reqid,
                       int *code, const char **rest, size_t *restlen) {
    size_t st, ln;
    int err = read_line(cl, deadline, &st, &ln);
    if (err != 0)
        return err;
    const char *p = (const char *)cl->in.data + st;
    const char *end = p + ln;
    const char *sp = memchr(p, ' ', ln);
    if (sp == NULL || sp - p != 3)
        return set_err(cl, SL_EPROTO, "bad reply line from broker");
    *code = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
    const char *idp = sp + 1;
    const char *sp2 = memchr(idp, ' ', (size_t)(end - idp));
    size_t idlen = sp2 ? (size_t)(sp2 - idp) : (size_t)(end - idp);
    uint64_t id;
    if (idlen == 1 && *idp == '-') {
        /* An error about a request the broker could not parse. */
        id = reqid;
    } else if (parse_u64_span(idp, idlen, &id) != 0 || id != reqid) {
        return set_err(cl, SL_EPROTO, "reply for request %.*s, expected %llu",
                       (int)idlen, idp, (unsigned long long)reqid);
    }
    *rest = sp2 ? sp2 + 1 : end;
    *restlen = (size_t)(end - *rest);
    if (*code != 200) {
        set_err(cl, code_to_err(*code), "broker: %d %.*s", *code,
                (int)*restlen, *rest);
        return code_to_err(*code);
    }
    return 0;
}

static int conn_error(int err) {
    return err == SL_ECLOSED || err == SL_ETIMEDOUT || err == SL_ECONN ||
           err == SL_EIO || err == SL_ESYS;
}

static int ensure_connected(sl_client_t *cl) {
    if (cl->fd >= 0)
        return 0;
    if (cl->opts.retry_ms < 0)
        return set_err(cl, SL_ECLOSED, "not connected");
    return sl_client_reconnect(cl);
}

/* ---- puts ---------------------------------------------------------------- */

static char *put_u64(char *w, uint64_t v) {
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *w++ = tmp[--n];
    return w;
}

/* Formats by hand: this is the hot path of a pipelined producer. */
static int append_put(sl_client_t *cl, uint64_t id, const char *topic,
                      const char *part, const sl_client_msg_t *msgs, size_t n,
                      int64_t producer, uint64_t seq) {
    size_t tl = strlen(topic), pl = strlen(part);
    size_t total = 64 + tl + pl + 64;
    for (size_t i = 0; i < n; i++)
        total += msgs[i].len + 26;
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
    w = put_u64(w, id);
    *w++ = ' ';
    memcpy(w, topic, tl);
    w += tl;
    *w++ = ' ';
    memcpy(w, part, pl);
    w += pl;
    *w++ = ' ';
    w = put_u64(w, n == 1 ? msgs[0].len : n);
    if (producer >= 0) {
        memcpy(w, " pid=", 5);
        w = put_u64(w + 5, (uint64_t)producer);
        memcpy(w, " seq=", 5);
        w = put_u64(w + 5, seq);
    }
    *w++ = '\r';
    *w++ = '\n';
    for (size_t i = 0; i < n; i++) {
        if (n > 1) {
            w = put_u64(w, msgs[i].len);
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

static int parse_ack(sl_client_t *cl, const char *rest, size_t rl,
                     uint64_t *offset, int *dup) {
    const char *sp = memchr(rest, ' ', rl);
    size_t ol = sp ? (size_t)(sp - rest) : rl;
    *dup = sp != NULL && (size_t)(rest + rl - sp) == 4 &&
           memcmp(sp, " dup", 4) == 0;
    if (ol == 7 && memcmp(rest, "unknown", 7) == 0) {
        *offset = UINT64_MAX;
        return 0;
    }
    if (parse_u64_span(rest, ol, offset) != 0)
        return set_err(cl, SL_EPROTO, "bad ack from broker");
    return 0;
}

int sl_client_put_batch(sl_client_t *cl, const char *topic, const char *part,
                        const sl_client_msg_t *msgs, size_t n,
                        int64_t producer, uint64_t seq, uint64_t *base_offset,
                        int *dup) {
    if (n == 0 || cl->inflight > 0)
        return set_err(cl, SL_EINVAL, n ? "pipelined puts still unacked"
                                        : "empty batch");
    for (int attempt = 0;; attempt++) {
        int err = ensure_connected(cl);
        if (err != 0)
            return err;
        compact_in(cl);
        int64_t deadline = now_ms() + cl->opts.io_timeout_ms;
        uint64_t id = cl->next_reqid++;
        err = append_put(cl, id, topic, part, msgs, n, producer, seq);
        if (err != 0)
            return err;
        err = send_all(cl, deadline);
        int code = 0;
        const char *rest;
        size_t rl;
        if (err == 0)
            err = status_line(cl, deadline, id, &code, &rest, &rl);
        if (err == 0) {
            int d;
            uint64_t off;
            err = parse_ack(cl, rest, rl, &off, &d);
            if (err == 0) {
                if (base_offset)
                    *base_offset = off;
                if (dup)
                    *dup = d;
            }
            return err;
        }
        if (!conn_error(err) || code != 0)
            return err;
        disconnect(cl);
        if (producer < 0 || attempt > 0 || cl->opts.retry_ms < 0)
            return SL_ECLOSED;
    }
}

int sl_client_put(sl_client_t *cl, const char *topic, const char *part,
                  const void *data, size_t len, int64_t producer,
                  uint64_t seq, uint64_t *offset, int *dup) {
    sl_client_msg_t m = {data, len};
    return sl_client_put_batch(cl, topic, part, &m, 1, producer, seq, offset,
                               dup);
}

int sl_client_put_send(sl_client_t *cl, const char *topic, const char *part,
                       const sl_client_msg_t *msgs, size_t n,
                       int64_t producer, uint64_t seq, uint64_t *reqid) {
    if (n == 0)
        return SL_EINVAL;
    if (cl->fd < 0)
        return set_err(cl, SL_ECLOSED, "not connected (call "
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
    int err = append_put(cl, id, topic, part, msgs, n, producer, seq);
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
        return set_err(cl, SL_ECLOSED, "not connected");
    /* Writing may block while the broker is blocked writing acks to us; a
     * generous deadline and the broker's own output buffering make that
     * a slow path, not a deadlock. Read acks as we go to be safe. */
    int64_t deadline = now_ms() + cl->opts.io_timeout_ms;
    size_t done = 0;
    while (done < cl->out.len) {
        ssize_t w = send(cl->fd, cl->out.data + done, cl->out.len - done,
                         MSG_NOSIGNAL);
        if (w > 0) {
            done += (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd pfd = {cl->fd, POLLOUT | POLLIN, 0};
            int64_t left = deadline - now_ms();
            if (left <= 0) {
                disconnect(cl);
                return set_err(cl, SL_ETIMEDOUT, "timed out sending");
            }
            if (poll(&pfd, 1, (int)left) > 0 && (pfd.revents & POLLIN)) {
                /* Pull acks into the buffer so the broker can go on. */
                if (sl_buf_reserve(&cl->in, 256 * 1024) == 0) {
                    ssize_t r = recv(cl->fd, cl->in.data + cl->in.len,
                                     cl->in.cap - cl->in.len, 0);
                    if (r > 0)
                        cl->in.len += (size_t)r;
                    else if (r == 0) {
                        disconnect(cl);
                        return set_err(cl, SL_ECLOSED, "broker closed the "
                                       "connection");
                    }
                }
            }
            continue;
        }
        disconnect(cl);
        return set_err(cl, SL_ECLOSED, "connection broken: %s",
                       strerror(errno));
    }
    sl_buf_reset(&cl->out);
    return 0;
}

size_t sl_client_inflight(const sl_client_t *cl) {
    return cl->inflight;
}

int sl_client_ack_ready(sl_client_t *cl, int timeout_ms) {
    int err = sl_client_flush(cl);
    if (err != 0)
        return err;
    if (cl->in.len > cl->in_off &&
        memchr(cl->in.data + cl->in_off, '\n', cl->in.len - cl->in_off))
        return 1;
    if (cl->fd < 0)
        return set_err(cl, SL_ECLOSED, "not connected");
    struct pollfd pfd = {cl->fd, POLLIN, 0};
    int rc;
    do
        rc = poll(&pfd, 1, timeout_ms < 0 ? 0 : timeout_ms);
    while (rc < 0 && errno == EINTR);
    if (rc < 0)
        return set_err(cl, SL_ESYS, "poll: %s", strerror(errno));
    return rc > 0;
}

int sl_client_put_ack(sl_client_t *cl, sl_client_ack_t *ack) {
    memset(ack, 0, sizeof *ack);
    if (cl->inflight == 0)
        return set_err(cl, SL_EINVAL, "no put in flight");
    int err = sl_client_flush(cl);
    if (err != 0)
        return err;
    uint64_t id = cl->inflight_ids[cl->ring_head];
    ack->reqid = id;
    if (cl->in_off > (1u << 20))
        compact_in(cl);
    int64_t deadline = now_ms() + cl->opts.io_timeout_ms;
    const char *rest;
    size_t rl;
    err = status_line(cl, deadline, id, &ack->code, &rest, &rl);
    if (conn_error(err) && ack->code == 0) {
        disconnect(cl);
        return err;
    }
    if (err == SL_EPROTO && ack->code == 0) {
        disconnect(cl);
        return err;
    }
    cl->ring_head = (cl->ring_head + 1) % cl->ring_cap;
    cl->inflight--;
    if (err != 0)
        return err;
    return parse_ack(cl, rest, rl, &ack->offset, &ack->dup);
}

/* ---- other requests -------------------------------------------------------- */

typedef int (*body_fn)(sl_client_t *cl, int64_t deadline, const char *rest,
                       size_t rl, void *ctx);

/* Sends "verb id args", reads the status line and lets body_fn read the
 * rest; reconnects and retries once on a broken connection. */
/* Writes one request (a new id, stored in *id) and sends it. */
static int send_request(sl_client_t *cl, const char *verb, const char *args,
                        int64_t deadline, uint64_t *id) {
    compact_in(cl);
    *id = cl->next_reqid++;
    int err = sl_buf_printf(&cl->out, "%s %llu%s%s\r\n", verb,
                            (unsigned long long)*id, args[0] ? " " : "",
                            args);
    return err != 0 ? err : send_all(cl, deadline);
}

/* Reads the reply to request id: its status line (the code in *code, 0
 * when none was read) and, for success or 416, its body through body. */
static int read_reply(sl_client_t *cl, int64_t deadline, uint64_t id,
                      body_fn body, void *ctx, int *code) {
    const char *rest = NULL;
    size_t rl = 0;
    *code = 0;
    int err = status_line(cl, deadline, id, code, &rest, &rl);
    if (body && (err == 0 || *code == 416))
        return body(cl, deadline, rest, rl, ctx) ?: err;
    return err;
}

static int request(sl_client_t *cl, const char *verb, const char *args,
                   int64_t extra_ms, body_fn body, void *ctx) {
    if (cl->inflight > 0)
        return set_err(cl, SL_EINVAL, "pipelined puts still unacked");
    if (cl->get_pending)
        return set_err(cl, SL_EINVAL, "a sent get is not received yet");
    for (int attempt = 0;; attempt++) {
        int err = ensure_connected(cl);
        if (err != 0)
            return err;
        int64_t deadline = now_ms() + cl->opts.io_timeout_ms + extra_ms;
        uint64_t id;
        int code = 0;
        err = send_request(cl, verb, args, deadline, &id);
        if (err == 0)
            err = read_reply(cl, deadline, id, body, ctx, &code);
        if (err == 0 || code != 0)
            return err;
        if (!conn_error(err) || attempt > 0 || cl->opts.retry_ms < 0)
            return err;
        disconnect(cl);
    }
}

static int check_names(sl_client_t *cl, const char *a, const char *b,
                       const char *c) {
    const char *v[3] = {a, b, c};
    for (int i = 0; i < 3; i++) {
        if (v[i] == NULL)
            continue;
        size_t n = strlen(v[i]);
        if (n == 0 || n > 255 || strpbrk(v[i], " \r\n\t") != NULL)
            return set_err(cl, SL_EINVAL, "bad name '%s'", v[i]);
    }
    return 0;
}

typedef struct {
    sl_client_fetch_t *out;
    int code416;
} get_ctx_t;

static int get_body(sl_client_t *cl, int64_t deadline, const char *rest,
                    size_t rl, void *vctx) {
    get_ctx_t *ctx = vctx;
    sl_client_fetch_t *out = ctx->out;
    char tmp[128];
    if (rl >= sizeof tmp)
        return set_err(cl, SL_EPROTO, "bad get reply");
    memcpy(tmp, rest, rl);
    tmp[rl] = '\0';
    unsigned long long a, b;
    if (cl->err[0] == 'b' && strncmp(cl->err, "broker: 416", 11) == 0) {
        if (sscanf(tmp, "%llu %llu", &a, &b) == 2) {
            out->earliest = a;
            out->latest = b;
        }
        return 0;
    }
    unsigned long long c = 0;
    int nf = sscanf(tmp, "%llu %llu %llu", &a, &b, &c);
    if (nf < 2)
        return set_err(cl, SL_EPROTO, "bad get reply");
    size_t count = (size_t)a;
    out->next = b;
    out->latest = nf == 3 ? c : 0; /* Older brokers do not say. */
    if (count > cl->caprecs) {
        sl_client_rec_t *r = realloc(cl->recs, count * sizeof *r);
        if (r == NULL)
            return SL_ENOMEM;
        cl->recs = r;
        cl->caprecs = count;
    }
    /* Offsets into cl->in first: the buffer may move while reading. */
    for (size_t i = 0; i < count; i++) {
        size_t st, ln;
        int err = read_line(cl, deadline, &st, &ln);
        if (err != 0)
            return err;
        /* "OFFSET TS LEN", parsed by hand: this is the consumer's hot path. */
        const char *p = (const char *)cl->in.data + st, *e = p + ln;
        uint64_t v[3] = {0, 0, 0};
        for (int k = 0; k < 3; k++) {
            const char *d = p;
            while (p < e && *p >= '0' && *p <= '9' && p - d < 20)
                v[k] = v[k] * 10 + (uint64_t)(*p++ - '0');
            if (p == d || (k < 2 && (p >= e || *p++ != ' ')))
                return set_err(cl, SL_EPROTO, "bad record line");
        }
        if (p != e)
            return set_err(cl, SL_EPROTO, "bad record line");
        /* No broker holds a record above 1 GiB (its --max-message
         * limit): a larger length is garbage, not something to wait for. */
        if (v[2] > SL_CLIENT_MAX_RECORD)
            return set_err(cl, SL_EPROTO, "record of %llu bytes announced",
                           (unsigned long long)v[2]);
        size_t len = (size_t)v[2];
        err = need_bytes(cl, deadline, len + 2);
        if (err != 0)
            return err;
        cl->recs[i].offset = v[0];
        cl->recs[i].ts = (int64_t)v[1];
        cl->recs[i].data = (const uint8_t *)(uintptr_t)cl->in_off;
        cl->recs[i].len = len;
        cl->in_off += len;
        if (cl->in.data[cl->in_off] == '\r')
            cl->in_off++;
        if (cl->in.data[cl->in_off] != '\n')
            return set_err(cl, SL_EPROTO, "bad record end");
        cl->in_off++;
    }
    for (size_t i = 0; i < count; i++)
        cl->recs[i].data = cl->in.data + (uintptr_t)cl->recs[i].data;
    out->recs = cl->recs;
    out->count = count;
    return 0;
}

/* The arguments of a get request. */
static void get_args(char *args, size_t size, const char *topic,
                     const char *part, uint64_t offset, uint64_t max_bytes,
                     uint64_t wait_ms) {
    snprintf(args, size, "%s %s %llu %llu", topic, part,
             (unsigned long long)offset,
             (unsigned long long)(max_bytes ? max_bytes : 1u << 20));
    if (wait_ms)
        snprintf(args + strlen(args), size - strlen(args), " wait=%llu",
                 (unsigned long long)wait_ms);
}

int sl_client_get(sl_client_t *cl, const char *topic, const char *part,
                  uint64_t offset, uint64_t max_bytes, uint64_t wait_ms,
                  sl_client_fetch_t *out) {
    memset(out, 0, sizeof *out);
    int err = check_names(cl, topic, part, NULL);
    if (err != 0)
        return err;
    char args[700];
    get_args(args, sizeof args, topic, part, offset, max_bytes, wait_ms);
    get_ctx_t ctx = {out, 0};
    cl->err[0] = '\0';
    out->next = offset;
    err = request(cl, "get", args, (int64_t)wait_ms, get_body, &ctx);
    if (err == SL_ERANGE && offset < out->earliest)
        err = SL_EGONE;
    return err;
}

int sl_client_get_send(sl_client_t *cl, const char *topic, const char *part,
                       uint64_t offset, uint64_t max_bytes) {
    if (cl->inflight > 0 || cl->get_pending)
        return set_err(cl, SL_EINVAL, "another request is in flight");
    int err = check_names(cl, topic, part, NULL);
    if (err == 0)
        err = ensure_connected(cl);
    if (err != 0)
        return err;
    char args[700];
    get_args(args, sizeof args, topic, part, offset, max_bytes, 0);
    uint64_t id;
    err = send_request(cl, "get", args, now_ms() + cl->opts.io_timeout_ms,
                       &id);
    if (err != 0) {
        if (conn_error(err))
            disconnect(cl);
        return err;
    }
    cl->get_pending = 1;
    cl->get_pending_id = id;
    cl->get_pending_offset = offset;
    return 0;
}

int sl_client_get_recv(sl_client_t *cl, sl_client_fetch_t *out) {
    memset(out, 0, sizeof *out);
    if (!cl->get_pending)
        return set_err(cl, SL_EINVAL, "no get was sent");
    cl->get_pending = 0;
    cl->err[0] = '\0';
    out->next = cl->get_pending_offset;
    get_ctx_t ctx = {out, 0};
    int code;
    int err = read_reply(cl, now_ms() + cl->opts.io_timeout_ms,
                         cl->get_pending_id, get_body, &ctx, &code);
    if (conn_error(err) || (err == SL_EPROTO && code == 0))
        disconnect(cl);
    if (err == SL_ERANGE && cl->get_pending_offset < out->earliest)
        err = SL_EGONE;
    return err;
}

static int u64s_body(sl_client_t *cl, int64_t deadline, const char *rest,
                     size_t rl, void *vctx) {
    (void)deadline;
    uint64_t *v = vctx;
    char tmp[64];
    if (rl >= sizeof tmp)
        return set_err(cl, SL_EPROTO, "bad reply");
    memcpy(tmp, rest, rl);
    tmp[rl] = '\0';
    unsigned long long a = 0, b = 0;
    int n = sscanf(tmp, "%llu %llu", &a, &b);
    if (n < 1)
        return set_err(cl, SL_EPROTO, "bad reply");
    v[0] = a;
    v[1] = b;
    return 0;
}

int sl_client_offsets(sl_client_t *cl, const char *topic, const char *part,
                      uint64_t *earliest, uint64_t *latest) {
    int err = check_names(cl, topic, part, NULL);
    if (err != 0)
        return err;
    char args[600];
    snprintf(args, sizeof args, "%s %s", topic, part);
    uint64_t v[2];
    err = request(cl, "offsets", args, 0, u64s_body, v);
    if (err == 0) {
        *earliest = v[0];
        *latest = v[1];
    }
    return err;
}

int sl_client_offset_for_time(sl_client_t *cl, const char *topic,
                              const char *part, int64_t ts_ms,
                              uint64_t *offset) {
    int err = check_names(cl, topic, part, NULL);
    if (err != 0)
        return err;
    char args[640];
    snprintf(args, sizeof args, "%s %s ts=%lld", topic, part,
             (long long)(ts_ms < 0 ? 0 : ts_ms));
    uint64_t v[2];
    err = request(cl, "offsets", args, 0, u64s_body, v);
    if (err == 0)
        *offset = v[0];
    return err;
}

int sl_client_commit(sl_client_t *cl, const char *group, const char *topic,
                     const char *part, uint64_t offset) {
    int err = check_names(cl, group, topic, part);
    if (err != 0)
        return err;
    char args[900];
    snprintf(args, sizeof args, "%s %s %s %llu", group, topic, part,
             (unsigned long long)offset);
    return request(cl, "commit", args, 0, NULL, NULL);
}

int sl_client_committed(sl_client_t *cl, const char *group, const char *topic,
                        const char *part, uint64_t *offset) {
    int err = check_names(cl, group, topic, part);
    if (err != 0)
        return err;
    char args[900];
    snprintf(args, sizeof args, "%s %s %s", group, topic, part);
    uint64_t v[2];
    err = request(cl, "committed", args, 0, u64s_body, v);
    if (err == 0)
        *offset = v[0];
    return err;
}

static int lines_body(sl_client_t *cl, int64_t deadline, const char *rest,
                      size_t rl, void *vctx) {
    (void)rest;
    (void)rl;
    sl_buf_t *out = vctx;
    for (int guard = 0; guard < 10000000; guard++) {
        size_t st, ln;
        int err = read_line(cl, deadline, &st, &ln);
        if (err != 0)
            return err;
        if (ln == 3 && memcmp(cl->in.data + st, "END", 3) == 0)
            return 0;
        if (out) {
            sl_buf_append(out, cl->in.data + st, ln);
            sl_buf_append_u8(out, '\n');
        }
    }
    return SL_EPROTO;
}

int sl_client_partitions(sl_client_t *cl, const char *topic, sl_buf_t *out) {
    if (topic) {
        int err = check_names(cl, topic, NULL, NULL);
        if (err != 0)
            return err;
    }
    return request(cl, "partitions", topic ? topic : "", 0, lines_body, out);
}

int sl_client_stats(sl_client_t *cl, sl_buf_t *out) {
    return request(cl, "stats", "", 0, lines_body, out);
}

static int version_body(sl_client_t *cl, int64_t deadline, const char *rest,
                        size_t rl, void *vctx) {
    (void)cl;
    (void)deadline;
    char **dst = vctx;
    size_t cap = (size_t)(uintptr_t)dst[1];
    if (cap == 0)
        return 0;
    size_t n = rl < cap - 1 ? rl : cap - 1;
    memcpy(dst[0], rest, n);
    dst[0][n] = '\0';
    return 0;
}

int sl_client_version(sl_client_t *cl, char *out, size_t outlen) {
    char *ctx[2] = {out, (char *)(uintptr_t)outlen};
    return request(cl, "version", "", 0, version_body, ctx);
}
