/*
 * Blocking broker client; see client.h. The wire protocol is specified in
 * docs/protocol.md: requests are "command reqid args\r\n" (+ payload),
 * replies "code reqid text\r\n" (+ body), in request order.
 *
 * Replies are input from another process and are checked as such: every
 * number is 1-20 decimal digits without overflow, every count and length
 * is held against the protocol's limits (below) before anything is sized
 * by it, buffers grow only with bytes actually received, and records must
 * come in the order and within the MAXBYTES budget the protocol promises.
 * A reply that breaks a rule is malformed: the call returns SL_EPROTO and
 * the connection is closed, since nothing after a malformed reply can be
 * trusted to be in step with the requests. Nothing of a malformed reply
 * is returned as data.
 */
#include "client.h"

#include "backoff.h"
#include "clock.h"
#include "error.h"
#include "fmt.h"
#include "parse.h"
#include "status.h"

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
/* The longest reply line: status lines, record headers, listing lines.
 * The broker's are below 600 bytes (names are at most 255 bytes). */
#define SL_CLIENT_MAX_LINE (64u * 1024)
/* The most bytes of a partitions or stats listing. */
#define SL_CLIENT_MAX_LISTING (256u << 20)
/* What the broker charges a get record against MAXBYTES on top of its
 * payload; a reply holds at most MAXBYTES / 16 + 1 records. */
#define SL_CLIENT_REC_OVERHEAD 16u
/* Bytes buffered while sending beyond what the acks of the puts in flight
 * (short lines) can take: more is a broker talking nonsense. */
#define SL_CLIENT_ACK_SLACK (64u << 20)

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
    int get_pending; /* A get sent by sl_client_get_send(). */
    uint64_t get_pending_id, get_pending_offset, get_pending_max;
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

/* A malformed reply: the message names the broker and says the
 * connection is closed (the caller of the public function closes it). */
static int proto_err(sl_client_t *cl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int proto_err(sl_client_t *cl, const char *fmt, ...) {
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

static int64_t now_ms(void) { return (int64_t)(sl_mono_ns() / 1000000); }

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
        ssize_t w =
            send(cl->fd, cl->out.data + done, cl->out.len - done, MSG_NOSIGNAL);
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
    /* A detached client (sl_client_parse_reply) has only the bytes it was
     * given: a reply that needs more ends early, as if the broker closed. */
    if (cl->fd < 0)
        return set_err(cl, SL_ECLOSED, "reply from broker %s:%u ends early",
                       cl->host, cl->port);
    if (sl_buf_reserve(&cl->in, 256 * 1024) != 0)
        return SL_ENOMEM;
    for (;;) {
        ssize_t r =
            recv(cl->fd, cl->in.data + cl->in.len, cl->in.cap - cl->in.len, 0);
        if (r > 0) {
            cl->in.len += (size_t)r;
            return 0;
        }
        if (r == 0)
            return set_err(cl, SL_ECLOSED,
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
        uint8_t *nl = cl->in.len > scanned ? memchr(cl->in.data + scanned, '\n',
                                                    cl->in.len - scanned)
                                           : NULL;
        if (nl != NULL) {
            size_t end = (size_t)(nl - cl->in.data);
            if (end - cl->in_off > SL_CLIENT_MAX_LINE)
                return proto_err(cl, "a line longer than %u bytes",
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
            return proto_err(cl, "a line longer than %u bytes",
                             SL_CLIENT_MAX_LINE);
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

static int status_line(sl_client_t *cl, int64_t deadline, uint64_t reqid,
                       int *code, const char **rest, size_t *restlen);

/* ---- connecting -----------------------------------------------------------
 */

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
        set_err(cl, SL_ECONN, "cannot connect to %s:%u: %s", cl->host, cl->port,
                strerror(errno));
        close(fd);
    }
    freeaddrinfo(res);
    if (err != 0)
        return err;
    if (cl->secret) {
        int64_t deadline = now_ms() + cl->opts.io_timeout_ms;
        uint64_t id = cl->next_reqid++;
        err = sl_buf_printf(&cl->out, "auth %llu %s\r\n",
                            (unsigned long long)id, cl->secret);
        if (err == 0)
            err = send_all(cl, deadline);
        int code = 0;
        const char *rest;
        size_t rl;
        if (err == 0)
            err = status_line(cl, deadline, id, &code, &rest, &rl);
        if (code != 0 && code != SL_STATUS_OK)
            err = set_err(cl, SL_EAUTH,
                          "broker %s:%u refused the secret "
                          "(%d)",
                          cl->host, cl->port, code);
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
    int64_t deadline =
        now_ms() + (cl->opts.retry_ms > 0 ? cl->opts.retry_ms : 0);
    sl_backoff_t bo;
    sl_backoff_init_exact(&bo, 100, 2000, 1, 2);
    for (;;) {
        int err = dial(cl);
        if (err == 0 || err == SL_EAUTH)
            return err;
        uint32_t pause = sl_backoff_next(&bo);
        if (now_ms() + pause > deadline)
            return err;
        sl_sleep_ms(pause, NULL);
    }
}

/* ---- replies ---------------------------------------------------------- */

/* A protocol number: 1-20 decimal digits, no sign, no overflow. */
static int span_u64(const char *p, size_t n, uint64_t *v) {
    if (n == 0 || n > 20)
        return SL_EPROTO;
    uint64_t out = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return SL_EPROTO;
        unsigned d = (unsigned)(p[i] - '0');
        if (out > (UINT64_MAX - d) / 10)
            return SL_EPROTO;
        out = out * 10 + d;
    }
    *v = out;
    return 0;
}

typedef struct {
    const char *p;
    size_t len;
} tok_t;

/* Splits p[0..n) at spaces into tokens; returns how many there are, or
 * max + 1 when there are more than max (the first max are filled). */
static size_t split(const char *p, size_t n, tok_t *tok, size_t max) {
    size_t k = 0, i = 0;
    while (i < n) {
        while (i < n && p[i] == ' ')
            i++;
        if (i == n)
            break;
        size_t st = i;
        while (i < n && p[i] != ' ')
            i++;
        if (k == max)
            return max + 1;
        tok[k].p = p + st;
        tok[k].len = i - st;
        k++;
    }
    return k;
}

static int tok_u64(const tok_t *t, uint64_t *v) {
    return span_u64(t->p, t->len, v);
}

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
static int status_line(sl_client_t *cl, int64_t deadline, uint64_t reqid,
                       int *code, const char **rest, size_t *restlen) {
    *code = 0;
    size_t st, ln;
    int err = read_line(cl, deadline, &st, &ln);
    if (err != 0)
        return err;
    const char *p = (const char *)cl->in.data + st;
    const char *end = p + ln;
    if (ln < 5 || p[3] != ' ' || p[0] < '1' || p[0] > '5' || p[1] < '0' ||
        p[1] > '9' || p[2] < '0' || p[2] > '9')
        return proto_err(cl, "bad status line (expected CODE ID ...)");
    int c = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
    const char *idp = p + 4;
    const char *sp2 = memchr(idp, ' ', (size_t)(end - idp));
    size_t idlen = sp2 ? (size_t)(sp2 - idp) : (size_t)(end - idp);
    uint64_t id;
    if (idlen == 1 && *idp == '-') {
        /* An error about a request the broker could not parse. */
        if (c == SL_STATUS_OK)
            return proto_err(cl, "success reply without a request id");
    } else if (span_u64(idp, idlen, &id) != 0) {
        return proto_err(cl, "bad request id in status line");
    } else if (id != reqid) {
        return proto_err(cl, "reply to request %llu, expected %llu",
                         (unsigned long long)id, (unsigned long long)reqid);
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

/* Formats by hand: this is the hot path of a pipelined producer. */
static int append_put(sl_client_t *cl, uint64_t id, const char *topic,
                      const char *part, const sl_client_msg_t *msgs, size_t n,
                      int64_t producer, uint64_t seq) {
    size_t tl = strlen(topic), pl = strlen(part);
    size_t total = 64 + tl + pl + 64;
    for (size_t i = 0; i < n; i++) {
        /* No broker takes a message above 1 GiB; refusing here also keeps
         * the size sum from wrapping. */
        if (msgs[i].len > SL_CLIENT_MAX_RECORD ||
            total > SIZE_MAX - 26 - msgs[i].len)
            return set_err(cl, SL_ETOOBIG, "message of %zu bytes", msgs[i].len);
        total += msgs[i].len + 26;
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
    if (producer >= 0) {
        memcpy(w, " pid=", 5);
        w = sl_fmt_u64(w + 5, (uint64_t)producer);
        memcpy(w, " seq=", 5);
        w = sl_fmt_u64(w + 5, seq);
    }
    *w++ = '\r';
    *w++ = '\n';
    for (size_t i = 0; i < n; i++) {
        if (n > 1) {
            w = sl_fmt_u64(w, msgs[i].len);
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

/* A put's ack: "OFFSET", "OFFSET dup" or "unknown dup"; nothing else. */
static int parse_ack(sl_client_t *cl, const char *rest, size_t rl,
                     uint64_t *offset, int *dup) {
    tok_t t[2];
    size_t nt = split(rest, rl, t, 2);
    *dup = nt == 2 && t[1].len == 3 && memcmp(t[1].p, "dup", 3) == 0;
    if (nt == 0 || nt > 2 || (nt == 2 && !*dup))
        return proto_err(cl, "bad put ack (expected OFFSET [dup])");
    if (*dup && t[0].len == 7 && memcmp(t[0].p, "unknown", 7) == 0) {
        *offset = UINT64_MAX;
        return 0;
    }
    if (tok_u64(&t[0], offset) != 0)
        return proto_err(cl, "bad offset in put ack");
    return 0;
}

int sl_client_put_batch(sl_client_t *cl, const char *topic, const char *part,
                        const sl_client_msg_t *msgs, size_t n, int64_t producer,
                        uint64_t seq, uint64_t *base_offset, int *dup) {
    if (n == 0 || cl->inflight > 0)
        return set_err(cl, SL_EINVAL,
                       n ? "pipelined puts still unacked" : "empty batch");
    if (cl->get_pending)
        return set_err(cl, SL_EINVAL, "a sent get is not received yet");
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
            if (err != 0) {
                disconnect(cl);
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
        disconnect(cl);
        /* A malformed reply is reported, not retried: the put may have
         * been stored, as after a broken connection. */
        if (!conn_error(err))
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
    if (n == 0)
        return SL_EINVAL;
    if (cl->fd < 0)
        return set_err(cl, SL_ECLOSED,
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
        ssize_t w =
            send(cl->fd, cl->out.data + done, cl->out.len - done, MSG_NOSIGNAL);
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
                /* Pull acks into the buffer so the broker can go on, but
                 * no more than the acks in flight can fill. */
                size_t buffered = cl->in.len - cl->in_off;
                if (buffered > SL_CLIENT_ACK_SLACK &&
                    (buffered - SL_CLIENT_ACK_SLACK) / 128 > cl->inflight) {
                    int perr = proto_err(cl,
                                         "more reply bytes than the "
                                         "acks of %zu puts",
                                         cl->inflight);
                    disconnect(cl);
                    return perr;
                }
                if (sl_buf_reserve(&cl->in, 256 * 1024) == 0) {
                    ssize_t r = recv(cl->fd, cl->in.data + cl->in.len,
                                     cl->in.cap - cl->in.len, 0);
                    if (r > 0)
                        cl->in.len += (size_t)r;
                    else if (r == 0) {
                        disconnect(cl);
                        return set_err(cl, SL_ECLOSED,
                                       "broker closed the "
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

size_t sl_client_inflight(const sl_client_t *cl) { return cl->inflight; }

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
    if (ack->code == 0) {
        /* No reply, or a malformed one: the acks still due are lost with
         * the connection (SL_ECLOSED for the caller to resend). */
        disconnect(cl);
        return err;
    }
    cl->ring_head = (cl->ring_head + 1) % cl->ring_cap;
    cl->inflight--;
    if (err != 0)
        return err;
    err = parse_ack(cl, rest, rl, &ack->offset, &ack->dup);
    if (err != 0)
        disconnect(cl);
    return err;
}

/* ---- other requests --------------------------------------------------------
 */

/* Reads a reply's body; code is the status code (200, or 416 or 422 for a
 * get), rest the status line's text after the id. */
typedef int (*body_fn)(sl_client_t *cl, int64_t deadline, int code,
                       const char *rest, size_t rl, void *ctx);

/* Writes one request (a new id, stored in *id) and sends it. */
static int send_request(sl_client_t *cl, const char *verb, const char *args,
                        int64_t deadline, uint64_t *id) {
    compact_in(cl);
    *id = cl->next_reqid++;
    int err = sl_buf_printf(&cl->out, "%s %llu%s%s\r\n", verb,
                            (unsigned long long)*id, args[0] ? " " : "", args);
    return err != 0 ? err : send_all(cl, deadline);
}

static int get_body(sl_client_t *cl, int64_t deadline, int code,
                    const char *rest, size_t rl, void *vctx);

/* Reads the reply to request id: its status line (the code in *code, 0
 * when no well-formed one was read) and, for success or 416, its body
 * through body. Unless the whole reply was read, the connection is closed
 * here: what follows cannot be matched to a request any more. */
static int read_reply(sl_client_t *cl, int64_t deadline, uint64_t id,
                      body_fn body, void *ctx, int *code) {
    const char *rest = NULL;
    size_t rl = 0;
    int err = status_line(cl, deadline, id, code, &rest, &rl);
    if (*code == 0) {
        disconnect(cl);
        return err;
    }
    if (body && (err == 0 || *code == SL_STATUS_OUT_OF_RANGE ||
                 (*code == SL_STATUS_DAMAGED && body == get_body))) {
        int berr = body(cl, deadline, *code, rest, rl, ctx);
        if (berr != 0) {
            disconnect(cl);
            return berr;
        }
    }
    return err;
}

/* Sends "verb id args" and reads the reply; reconnects and retries once
 * when the connection broke before a status line came back. */
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
        else if (conn_error(err))
            disconnect(cl);
        if (err == 0 || code != 0)
            return err;
        if (!conn_error(err) || attempt > 0 || cl->opts.retry_ms < 0)
            return err;
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
    uint64_t offset;    /* The offset asked for. */
    uint64_t max_bytes; /* The MAXBYTES sent. */
} get_ctx_t;

/* Adds without wrapping (the budget of a get is compared, not stored). */
static uint64_t add_sat(uint64_t a, uint64_t b) {
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* A get's body. 416: "EARLIEST LATEST text", with the offset asked for
 * outside that range. 422: "NEXT text", NEXT above the offset asked for. 200:
 * "COUNT NEXT [LATEST]" and COUNT records "OFFSET TS LEN\r\n<LEN bytes>\r\n",
 * where COUNT is at most MAXBYTES / 16 + 1, the first OFFSET is at least the
 * one asked for and each later one above the one before, each record after the
 * first starts while the records before it (LEN + 16 each) are below MAXBYTES,
 * LEN is at most 1 GiB, TS below 2^63, and NEXT is above the last OFFSET (the
 * broker sends the last OFFSET + 1) or, when COUNT is 0, the offset asked
 * for. LATEST is advisory: unreadable, it
 * is 0 (unknown), as from brokers that do not send it. */
static int get_body(sl_client_t *cl, int64_t deadline, int code,
                    const char *rest, size_t rl, void *vctx) {
    get_ctx_t *ctx = vctx;
    sl_client_fetch_t *out = ctx->out;
    tok_t t[3];
    size_t nt = split(rest, rl, t, 3);
    if (code == SL_STATUS_DAMAGED) {
        /* "NEXT offsets A-B damaged (quarantined)": the offset asked for
         * starts a damaged range ending below NEXT. NEXT is kept (in
         * out->next) so that the caller can name the range and, when it
         * chooses to accept the loss, go on from there. */
        uint64_t next;
        if (nt < 1 || tok_u64(&t[0], &next) != 0 || next <= ctx->offset)
            return proto_err(cl,
                             "422 reply without a NEXT above offset "
                             "%llu",
                             (unsigned long long)ctx->offset);
        out->next = next;
        return 0;
    }
    if (code == SL_STATUS_OUT_OF_RANGE) {
        uint64_t a, b;
        if (nt < 2 || tok_u64(&t[0], &a) != 0 || tok_u64(&t[1], &b) != 0 ||
            a > b)
            return proto_err(cl, "416 reply without EARLIEST LATEST");
        if (ctx->offset >= a && ctx->offset <= b)
            return proto_err(cl,
                             "416 reply for offset %llu, inside the "
                             "stored range %llu-%llu",
                             (unsigned long long)ctx->offset,
                             (unsigned long long)a, (unsigned long long)b);
        out->earliest = a;
        out->latest = b;
        return 0;
    }
    uint64_t count, next, latest = 0;
    if (nt < 2 || tok_u64(&t[0], &count) != 0 || tok_u64(&t[1], &next) != 0)
        return proto_err(cl, "get reply without COUNT NEXT");
    if (nt >= 3 && tok_u64(&t[2], &latest) != 0)
        latest = 0; /* Unknown, as from older brokers. */
    uint64_t max_count = ctx->max_bytes / SL_CLIENT_REC_OVERHEAD + 1;
    if (count > max_count)
        return proto_err(cl,
                         "get reply announces %llu records; MAXBYTES "
                         "%llu allows at most %llu",
                         (unsigned long long)count,
                         (unsigned long long)ctx->max_bytes,
                         (unsigned long long)max_count);
    if (count == 0 && next != ctx->offset)
        return proto_err(cl, "empty get reply moves NEXT from %llu to %llu",
                         (unsigned long long)ctx->offset,
                         (unsigned long long)next);
    uint64_t used = 0, prev = 0;
    /* The records are collected as they arrive, so memory follows the
     * bytes received, never the count announced. Their data are kept as
     * offsets into cl->in first: the buffer may move while reading. */
    for (uint64_t i = 0; i < count; i++) {
        size_t st, ln;
        int err = read_line(cl, deadline, &st, &ln);
        if (err != 0)
            return err;
        tok_t f[3];
        uint64_t v[3];
        if (split((const char *)cl->in.data + st, ln, f, 3) != 3 ||
            tok_u64(&f[0], &v[0]) != 0 || tok_u64(&f[1], &v[1]) != 0 ||
            tok_u64(&f[2], &v[2]) != 0)
            return proto_err(cl, "bad record line (expected OFFSET TS LEN)");
        if (i == 0 ? v[0] < ctx->offset : v[0] <= prev)
            return proto_err(cl, "record offset %llu out of order",
                             (unsigned long long)v[0]);
        if (v[1] > (uint64_t)INT64_MAX)
            return proto_err(cl, "record timestamp out of range");
        /* No broker holds a record above 1 GiB (its --max-message
         * limit): a larger length is garbage, not something to wait for. */
        if (v[2] > SL_CLIENT_MAX_RECORD)
            return proto_err(cl, "record of %llu bytes announced",
                             (unsigned long long)v[2]);
        if (i > 0 && used >= ctx->max_bytes)
            return proto_err(cl, "more records than MAXBYTES %llu allows",
                             (unsigned long long)ctx->max_bytes);
        used = add_sat(used, v[2] + SL_CLIENT_REC_OVERHEAD);
        if (i == cl->caprecs) {
            size_t cap = cl->caprecs ? cl->caprecs * 2 : 64;
            if (cap > count)
                cap = (size_t)count;
            sl_client_rec_t *r = realloc(cl->recs, cap * sizeof *r);
            if (r == NULL)
                return SL_ENOMEM;
            cl->recs = r;
            cl->caprecs = cap;
        }
        size_t len = (size_t)v[2];
        err = need_bytes(cl, deadline, len + 1);
        if (err != 0)
            return err;
        size_t end = cl->in_off + len;
        if (cl->in.data[end] == '\r') {
            err = need_bytes(cl, deadline, len + 2);
            if (err != 0)
                return err;
            end++;
        }
        if (cl->in.data[end] != '\n')
            return proto_err(cl, "record %llu longer than its LEN %zu",
                             (unsigned long long)v[0], len);
        cl->recs[i].offset = v[0];
        cl->recs[i].ts = (int64_t)v[1];
        cl->recs[i].data = (const uint8_t *)(uintptr_t)cl->in_off;
        cl->recs[i].len = len;
        cl->in_off = end + 1;
        prev = v[0];
    }
    if (count > 0 && next <= prev)
        return proto_err(cl,
                         "get reply's NEXT %llu is not above its last "
                         "record %llu",
                         (unsigned long long)next, (unsigned long long)prev);
    for (size_t i = 0; i < count; i++)
        cl->recs[i].data = cl->in.data + (uintptr_t)cl->recs[i].data;
    out->recs = count ? cl->recs : NULL;
    out->count = (size_t)count;
    out->next = next;
    out->latest = latest;
    return 0;
}

/* The MAXBYTES a get sends. */
static uint64_t get_max_bytes(uint64_t max_bytes) {
    return max_bytes ? max_bytes : 1u << 20;
}

/* The arguments of a get request. */
static void get_args(char *args, size_t size, const char *topic,
                     const char *part, uint64_t offset, uint64_t max_bytes,
                     uint64_t wait_ms) {
    snprintf(args, size, "%s %s %llu %llu", topic, part,
             (unsigned long long)offset,
             (unsigned long long)get_max_bytes(max_bytes));
    if (wait_ms)
        snprintf(args + strlen(args), size - strlen(args), " wait=%llu",
                 (unsigned long long)wait_ms);
}

/* What a get returns once its reply was read. */
static int get_result(int err, uint64_t offset, sl_client_fetch_t *out) {
    if (err == SL_ERANGE && offset < out->earliest)
        err = SL_EGONE;
    if (err != 0 && err != SL_ERANGE && err != SL_EGONE) {
        /* Nothing of a failed reply is data; only a 422 moves NEXT (past
         * the damaged records, for the caller to report or skip). */
        out->recs = NULL;
        out->count = 0;
        if (err != SL_EDAMAGED)
            out->next = offset;
    }
    return err;
}

int sl_client_get(sl_client_t *cl, const char *topic, const char *part,
                  uint64_t offset, uint64_t max_bytes, uint64_t wait_ms,
                  sl_client_fetch_t *out) {
    memset(out, 0, sizeof *out);
    out->next = offset;
    int err = check_names(cl, topic, part, NULL);
    if (err != 0)
        return err;
    char args[700];
    get_args(args, sizeof args, topic, part, offset, max_bytes, wait_ms);
    get_ctx_t ctx = {out, offset, get_max_bytes(max_bytes)};
    cl->err[0] = '\0';
    err = request(cl, "get", args, (int64_t)wait_ms, get_body, &ctx);
    return get_result(err, offset, out);
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
    err = send_request(cl, "get", args, now_ms() + cl->opts.io_timeout_ms, &id);
    if (err != 0) {
        if (conn_error(err))
            disconnect(cl);
        return err;
    }
    cl->get_pending = 1;
    cl->get_pending_id = id;
    cl->get_pending_offset = offset;
    cl->get_pending_max = get_max_bytes(max_bytes);
    return 0;
}

int sl_client_get_recv(sl_client_t *cl, sl_client_fetch_t *out) {
    memset(out, 0, sizeof *out);
    if (!cl->get_pending)
        return set_err(cl, SL_EINVAL, "no get was sent");
    cl->get_pending = 0;
    cl->err[0] = '\0';
    uint64_t offset = cl->get_pending_offset;
    out->next = offset;
    get_ctx_t ctx = {out, offset, cl->get_pending_max};
    int code;
    int err = read_reply(cl, now_ms() + cl->opts.io_timeout_ms,
                         cl->get_pending_id, get_body, &ctx, &code);
    return get_result(err, offset, out);
}

/* A reply of exactly n numbers (n is 1 or 2; with 2, the first is at most
 * the second: EARLIEST LATEST). */
typedef struct {
    size_t n;
    uint64_t v[2];
} u64s_ctx_t;

static int u64s_body(sl_client_t *cl, int64_t deadline, int code,
                     const char *rest, size_t rl, void *vctx) {
    (void)deadline;
    (void)code;
    u64s_ctx_t *ctx = vctx;
    tok_t t[2];
    size_t nt = split(rest, rl, t, 2);
    if (nt != ctx->n)
        return proto_err(cl, "expected %zu number%s after the request id",
                         ctx->n, ctx->n > 1 ? "s" : "");
    for (size_t i = 0; i < nt; i++)
        if (tok_u64(&t[i], &ctx->v[i]) != 0)
            return proto_err(cl, "bad number in reply");
    if (nt == 2 && ctx->v[0] > ctx->v[1])
        return proto_err(cl, "EARLIEST %llu above LATEST %llu",
                         (unsigned long long)ctx->v[0],
                         (unsigned long long)ctx->v[1]);
    return 0;
}

int sl_client_offsets(sl_client_t *cl, const char *topic, const char *part,
                      uint64_t *earliest, uint64_t *latest) {
    int err = check_names(cl, topic, part, NULL);
    if (err != 0)
        return err;
    char args[600];
    snprintf(args, sizeof args, "%s %s", topic, part);
    u64s_ctx_t ctx = {2, {0, 0}};
    err = request(cl, "offsets", args, 0, u64s_body, &ctx);
    if (err == 0) {
        *earliest = ctx.v[0];
        *latest = ctx.v[1];
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
    u64s_ctx_t ctx = {1, {0, 0}};
    err = request(cl, "offsets", args, 0, u64s_body, &ctx);
    if (err == 0)
        *offset = ctx.v[0];
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
    u64s_ctx_t ctx = {1, {0, 0}};
    err = request(cl, "commit", args, 0, u64s_body, &ctx);
    if (err == 0 && ctx.v[0] != offset) {
        err =
            proto_err(cl, "commit of %llu acknowledged as %llu",
                      (unsigned long long)offset, (unsigned long long)ctx.v[0]);
        disconnect(cl);
    }
    return err;
}

int sl_client_committed(sl_client_t *cl, const char *group, const char *topic,
                        const char *part, uint64_t *offset) {
    int err = check_names(cl, group, topic, part);
    if (err != 0)
        return err;
    char args[900];
    snprintf(args, sizeof args, "%s %s %s", group, topic, part);
    u64s_ctx_t ctx = {1, {0, 0}};
    err = request(cl, "committed", args, 0, u64s_body, &ctx);
    if (err == 0)
        *offset = ctx.v[0];
    return err;
}

/* A name in a listing: 1-255 printable ASCII bytes without spaces. */
static int good_name(const tok_t *t) {
    if (t->len == 0 || t->len > 255)
        return 0;
    for (size_t i = 0; i < t->len; i++)
        if ((unsigned char)t->p[i] < 0x21 || (unsigned char)t->p[i] > 0x7e)
            return 0;
    return 1;
}

typedef struct {
    sl_buf_t *out;
    int partitions; /* 1: "N", then N "TOPIC PARTITION EARLIEST LATEST". */
} lines_ctx_t;

/* A listing: lines up to "END". Partitions lines are checked field by
 * field and counted against the N of the status line; stats lines must be
 * printable "STAT ..." lines. At most SL_CLIENT_MAX_LISTING bytes. On
 * error, out is left as it was. */
static int lines_body(sl_client_t *cl, int64_t deadline, int code,
                      const char *rest, size_t rl, void *vctx) {
    (void)code;
    lines_ctx_t *ctx = vctx;
    sl_buf_t *out = ctx->out;
    size_t len0 = out ? out->len : 0;
    uint64_t want = 0, got = 0, bytes = 0;
    tok_t t[4];
    if (ctx->partitions &&
        (split(rest, rl, t, 1) != 1 || tok_u64(&t[0], &want) != 0))
        return proto_err(cl, "partitions reply without a count");
    int err = 0;
    for (;;) {
        size_t st, ln;
        err = read_line(cl, deadline, &st, &ln);
        if (err != 0)
            break;
        const char *p = (const char *)cl->in.data + st;
        if (ln == 3 && memcmp(p, "END", 3) == 0) {
            if (ctx->partitions && got != want)
                err = proto_err(cl,
                                "partitions reply announced %llu lines "
                                "and sent %llu",
                                (unsigned long long)want,
                                (unsigned long long)got);
            break;
        }
        bytes += ln + 1;
        if (bytes > SL_CLIENT_MAX_LISTING) {
            err = proto_err(cl, "listing longer than %u bytes",
                            SL_CLIENT_MAX_LISTING);
            break;
        }
        if (ctx->partitions) {
            uint64_t a, b;
            if (++got > want) {
                err = proto_err(cl,
                                "partitions reply has more lines than "
                                "the %llu announced",
                                (unsigned long long)want);
                break;
            }
            if (split(p, ln, t, 4) != 4 || !good_name(&t[0]) ||
                !good_name(&t[1]) || tok_u64(&t[2], &a) != 0 ||
                tok_u64(&t[3], &b) != 0 || a > b) {
                err = proto_err(cl, "bad partitions line (expected TOPIC "
                                    "PARTITION EARLIEST LATEST)");
                break;
            }
        } else {
            int ok = ln >= 5 && memcmp(p, "STAT ", 5) == 0;
            for (size_t i = 0; ok && i < ln; i++)
                ok = (unsigned char)p[i] >= 0x20 && (unsigned char)p[i] < 0x7f;
            if (!ok) {
                err = proto_err(cl, "bad stats line (expected STAT NAME "
                                    "VALUE)");
                break;
            }
        }
        if (out && (sl_buf_append(out, p, ln) != 0 ||
                    sl_buf_append_u8(out, '\n') != 0)) {
            err = SL_ENOMEM;
            break;
        }
    }
    if (err != 0 && out)
        out->len = len0;
    return err;
}

int sl_client_partitions(sl_client_t *cl, const char *topic, sl_buf_t *out) {
    if (topic) {
        int err = check_names(cl, topic, NULL, NULL);
        if (err != 0)
            return err;
    }
    lines_ctx_t ctx = {out, 1};
    return request(cl, "partitions", topic ? topic : "", 0, lines_body, &ctx);
}

int sl_client_stats(sl_client_t *cl, sl_buf_t *out) {
    lines_ctx_t ctx = {out, 0};
    return request(cl, "stats", "", 0, lines_body, &ctx);
}

typedef struct {
    char *out;
    size_t cap;
} version_ctx_t;

/* The version text, cut to the caller's buffer; bytes that are not
 * printable ASCII become '?'. */
static int version_body(sl_client_t *cl, int64_t deadline, int code,
                        const char *rest, size_t rl, void *vctx) {
    (void)cl;
    (void)deadline;
    (void)code;
    version_ctx_t *ctx = vctx;
    if (ctx->cap == 0)
        return 0;
    size_t n = rl < ctx->cap - 1 ? rl : ctx->cap - 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)rest[i];
        ctx->out[i] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
    }
    ctx->out[n] = '\0';
    return 0;
}

int sl_client_version(sl_client_t *cl, char *out, size_t outlen) {
    version_ctx_t ctx = {out, outlen};
    return request(cl, "version", "", 0, version_body, &ctx);
}

/* ---- parsing without a socket ------------------------------------------- */

int sl_client_new_detached(sl_client_t **out) {
    sl_client_t *cl = calloc(1, sizeof *cl);
    if (cl == NULL)
        return SL_ENOMEM;
    cl->fd = -1;
    cl->next_reqid = 1;
    cl->opts.retry_ms = -1;
    snprintf(cl->host, sizeof cl->host, "(detached)");
    *out = cl;
    return 0;
}

int sl_client_parse_reply(sl_client_t *cl, sl_client_reply_kind_t kind,
                          uint64_t offset, uint64_t max_bytes, const void *data,
                          size_t len, sl_client_reply_t *out) {
    sl_buf_t *lines = out->lines;
    memset(out, 0, sizeof *out);
    out->lines = lines;
    if (cl->fd >= 0)
        return set_err(cl, SL_EINVAL, "the client is connected");
    disconnect(cl);
    cl->err[0] = '\0';
    if (sl_buf_append(&cl->in, data, len) != 0)
        return SL_ENOMEM;
    int64_t deadline = now_ms() + 1000;
    int code = 0, err;
    switch (kind) {
    case SL_CLIENT_REPLY_PUT: {
        const char *rest;
        size_t rl;
        err = status_line(cl, deadline, 1, &code, &rest, &rl);
        if (err == 0)
            err = parse_ack(cl, rest, rl, &out->v[0], &out->dup);
        break;
    }
    case SL_CLIENT_REPLY_GET: {
        out->fetch.next = offset;
        get_ctx_t ctx = {&out->fetch, offset, get_max_bytes(max_bytes)};
        err = read_reply(cl, deadline, 1, get_body, &ctx, &code);
        err = get_result(err, offset, &out->fetch);
        break;
    }
    case SL_CLIENT_REPLY_OFFSETS:
    case SL_CLIENT_REPLY_COMMITTED: {
        u64s_ctx_t ctx = {kind == SL_CLIENT_REPLY_OFFSETS ? 2 : 1, {0, 0}};
        err = read_reply(cl, deadline, 1, u64s_body, &ctx, &code);
        if (err == 0)
            memcpy(out->v, ctx.v, sizeof out->v);
        break;
    }
    case SL_CLIENT_REPLY_PARTITIONS:
    case SL_CLIENT_REPLY_STATS: {
        lines_ctx_t ctx = {out->lines, kind == SL_CLIENT_REPLY_PARTITIONS};
        err = read_reply(cl, deadline, 1, lines_body, &ctx, &code);
        break;
    }
    case SL_CLIENT_REPLY_VERSION: {
        version_ctx_t ctx = {out->version, sizeof out->version};
        err = read_reply(cl, deadline, 1, version_body, &ctx, &code);
        break;
    }
    default: return set_err(cl, SL_EINVAL, "unknown reply kind");
    }
    out->code = code;
    out->used = cl->in_off;
    return err;
}
