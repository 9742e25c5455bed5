/*
 * The broker client's internals, shared by its two files and by nothing
 * else; the public API is lib/client.h.
 *
 *   client.c          the client object, errors, raw I/O, connecting,
 *                     status lines, puts and their acks
 *   client_request.c  the other requests (get, offsets, commit, committed,
 *                     partitions, stats, version) and parsing replies
 *                     without a socket
 *
 * The reply tokenizer and the other small helpers below are static inline:
 * they run per record on a get and per ack on pipelined puts.
 */
#ifndef SL_CLIENT_INT_H
#define SL_CLIENT_INT_H

#include "buf.h"
#include "client.h"
#include "clock.h"
#include "error.h"

#include <stddef.h>
#include <stdint.h>

/* The protocol's limits, which replies are held against before anything
 * is sized by them. The largest record a broker can hold (its
 * --max-message is capped at 1 GiB): a reply announcing more is refused at
 * once. */
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
    sl_client_meta_t *metas; /* Beside recs, for a get with meta=1. */
    size_t capmetas;
    int get_pending; /* A get sent by sl_client_get_send(). */
    uint64_t get_pending_id, get_pending_offset, get_pending_max;
    struct sl_tls_ctx_s *tls; /* TLS context when asked for (owned). */
    struct ssl_st *ssl;       /* Its session on fd, or NULL. */
    short tls_want;           /* What the session last waited for. */
    int tls_refused;          /* The handshake failed: no retrying. */
};

/* Sets the error message; returns code. */
int sl__client_set_err(sl_client_t *cl, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A malformed reply: the message names the broker and says the
 * connection is closed (the caller of the public function closes it).
 * Returns SL_EPROTO. */
int sl__client_proto_err(sl_client_t *cl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Closes the connection and forgets what was buffered or in flight. */
void sl__client_disconnect(sl_client_t *cl);
/* Sends cl->out whole before deadline (ms, sl__client_now_ms()). */
int sl__client_send_all(sl_client_t *cl, int64_t deadline);
/* Receives more bytes into cl->in. */
int sl__client_read_more(sl_client_t *cl, int64_t deadline);
/* Reads one line; *start is its offset in cl->in, *len its length without
 * the line end. Advances in_off past it. */
int sl__client_read_line(sl_client_t *cl, int64_t deadline, size_t *start,
                         size_t *len);
/* Reads the status line of request reqid (see client.c). */
int sl__client_status_line(sl_client_t *cl, int64_t deadline, uint64_t reqid,
                           int *code, const char **rest, size_t *restlen);
/* Reconnects when the connection is gone and retries are allowed. */
int sl__client_ensure_connected(sl_client_t *cl);
/* A put's ack: "OFFSET", "OFFSET dup" or "unknown dup" (offset
 * UINT64_MAX). */
int sl__client_parse_ack(sl_client_t *cl, const char *rest, size_t rl,
                         uint64_t *offset, int *dup);

static inline int64_t sl__client_now_ms(void) {
    return (int64_t)(sl_mono_ns() / 1000000);
}

/* Drops the bytes of cl->in that were read (before in_off). */
static inline void sl__client_compact_in(sl_client_t *cl) {
    if (cl->in_off == cl->in.len) {
        sl_buf_reset(&cl->in);
        cl->in_off = 0;
    } else if (cl->in_off > 0) {
        sl_buf_consume(&cl->in, cl->in_off);
        cl->in_off = 0;
    }
}

/* A protocol number: 1-20 decimal digits, no sign, no overflow. */
static inline int sl__client_span_u64(const char *p, size_t n, uint64_t *v) {
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
} sl__client_tok_t;

/* Splits p[0..n) at spaces into tokens; returns how many there are, or
 * max + 1 when there are more than max (the first max are filled). */
static inline size_t sl__client_split(const char *p, size_t n,
                                      sl__client_tok_t *tok, size_t max) {
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

/* A token as a protocol number (sl__client_span_u64). */
static inline int sl__client_tok_u64(const sl__client_tok_t *t, uint64_t *v) {
    return sl__client_span_u64(t->p, t->len, v);
}

/* Whether err means the connection is gone (reconnecting may help), as
 * opposed to an error reply or a malformed one. */
static inline int sl__client_conn_error(int err) {
    return err == SL_ECLOSED || err == SL_ETIMEDOUT || err == SL_ECONN ||
           err == SL_EIO || err == SL_ESYS;
}

#endif
