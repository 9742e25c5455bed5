/*
 * The broker client's requests other than puts: get, offsets (by position
 * and by time), commit and committed, partitions, stats and version; and
 * parsing a reply without a socket (sl_client_parse_reply, for tests and
 * the fuzzer). See client.h; the client object, raw I/O, status lines and
 * puts are in client.c.
 *
 * Each request is one line "VERB ID ARGS\r\n" and is answered by a status
 * line "CODE ID TEXT\r\n" and, for some, a body (docs/protocol.md):
 *   get ID TOPIC PARTITION OFFSET MAXBYTES [wait=MS] [meta=1]
 *       200: "COUNT NEXT [LATEST]", then COUNT records (get_body below;
 *       with meta=1 each with its key and headers, meta_body);
 *       416: "EARLIEST LATEST ..."; 422: "NEXT ...";
 *   offsets ID TOPIC PARTITION             200: "EARLIEST LATEST"
 *   offsets ID TOPIC PARTITION ts=MS       200: "OFFSET"
 *   commit ID GROUP TOPIC PARTITION OFFSET 200: "OFFSET" (echoed)
 *   committed ID GROUP TOPIC PARTITION     200: "OFFSET"
 *   partitions ID [TOPIC]                  200: "N", then N lines
 *       "TOPIC PARTITION EARLIEST LATEST" and "END";
 *   stats ID                               200, then "STAT NAME VALUE"
 *       lines and "END";
 *   version ID                             200: "VERSION".
 * Every reply is checked as client.c's opening comment says.
 */
#include "client_int.h"

#include "clock.h"
#include "error.h"
#include "status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reads until n unread bytes are in cl->in (a get record's payload). */
static int need_bytes(sl_client_t *cl, int64_t deadline, size_t n) {
    while (cl->in.len - cl->in_off < n) {
        int err = sl__client_read_more(cl, deadline);
        if (err != 0)
            return err;
    }
    return 0;
}

/* Reads a reply's body; code is the status code (200, or 416 or 422 for a
 * get), rest the status line's text after the id. */
typedef int (*body_fn)(sl_client_t *cl, int64_t deadline, int code,
                       const char *rest, size_t rl, void *ctx);

/* Writes one request (a new id, stored in *id) and sends it. */
static int send_request(sl_client_t *cl, const char *verb, const char *args,
                        int64_t deadline, uint64_t *id) {
    sl__client_compact_in(cl);
    *id = cl->next_reqid++;
    int err = sl_buf_printf(&cl->out, "%s %llu%s%s\r\n", verb,
                            (unsigned long long)*id, args[0] ? " " : "", args);
    return err != 0 ? err : sl__client_send_all(cl, deadline);
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
    int err = sl__client_status_line(cl, deadline, id, code, &rest, &rl);
    if (*code == 0) {
        sl__client_disconnect(cl);
        return err;
    }
    if (body && (err == 0 || *code == SL_STATUS_OUT_OF_RANGE ||
                 (*code == SL_STATUS_DAMAGED && body == get_body))) {
        int berr = body(cl, deadline, *code, rest, rl, ctx);
        if (berr != 0) {
            sl__client_disconnect(cl);
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
        return sl__client_set_err(cl, SL_EINVAL,
                                  "pipelined puts still unacked");
    if (cl->get_pending)
        return sl__client_set_err(cl, SL_EINVAL,
                                  "a sent get is not received yet");
    for (int attempt = 0;; attempt++) {
        int err = sl__client_ensure_connected(cl);
        if (err != 0)
            return err;
        int64_t deadline =
            sl__client_now_ms() + cl->opts.io_timeout_ms + extra_ms;
        uint64_t id;
        int code = 0;
        err = send_request(cl, verb, args, deadline, &id);
        if (err == 0)
            err = read_reply(cl, deadline, id, body, ctx, &code);
        else if (sl__client_conn_error(err))
            sl__client_disconnect(cl);
        if (err == 0 || code != 0)
            return err;
        if (!sl__client_conn_error(err) || attempt > 0 || cl->opts.retry_ms < 0)
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
            return sl__client_set_err(cl, SL_EINVAL, "bad name '%s'", v[i]);
    }
    return 0;
}

typedef struct {
    sl_client_fetch_t *out;
    uint64_t offset;    /* The offset asked for. */
    uint64_t max_bytes; /* The MAXBYTES sent. */
    int meta;           /* meta=1 was sent: keys and headers come too. */
} get_ctx_t;

/* Adds without wrapping (the budget of a get is compared, not stored). */
static uint64_t add_sat(uint64_t a, uint64_t b) {
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* What the broker charges each header of a meta=1 reply against MAXBYTES
 * on top of its name and value. */
#define SL_CLIENT_HDR_OVERHEAD 8u

/* Reads a record's payload of len bytes (a value, a key, a header's name
 * and value) and its line end, CRLF or LF; *start is where it begins in
 * cl->in. what and off name it in the error. */
static int read_payload(sl_client_t *cl, int64_t deadline, size_t len,
                        const char *what, uint64_t off, size_t *start) {
    int err = need_bytes(cl, deadline, len + 1);
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
        return sl__client_proto_err(cl, "record %llu: %s longer than %zu",
                                    (unsigned long long)off, what, len);
    *start = cl->in_off;
    cl->in_off = end + 1;
    return 0;
}

/* A length of a meta=1 reply: "-1" (a null: *has 0, *v 0) or a number up
 * to 1 GiB. */
static int tok_len(const sl__client_tok_t *t, uint64_t *v, int *has) {
    *v = 0;
    *has = !(t->len == 2 && t->p[0] == '-' && t->p[1] == '1');
    if (!*has)
        return 0;
    if (sl__client_tok_u64(t, v) != 0 || *v > SL_CLIENT_MAX_RECORD)
        return SL_EPROTO;
    return 0;
}

/* A header line "NAMELEN VALUELEN" of a meta=1 reply. */
static int header_line(const char *p, size_t n, uint64_t *nl, uint64_t *vl,
                       int *hasv) {
    sl__client_tok_t t[2];
    int hasn;
    if (sl__client_split(p, n, t, 2) != 2 || tok_len(&t[0], nl, &hasn) != 0 ||
        !hasn || tok_len(&t[1], vl, hasv) != 0)
        return SL_EPROTO;
    return 0;
}

int sl_client_header_next(const sl_client_meta_t *m, size_t *pos,
                          sl_client_header_t *h) {
    /* The section was checked when the reply was read (meta_body); the
     * bounds are checked again all the same. */
    const uint8_t *p = m->headers;
    size_t n = m->headers_len, at = *pos;
    if (p == NULL || at >= n)
        return 0;
    const uint8_t *nl = memchr(p + at, '\n', n - at);
    if (nl == NULL)
        return 0;
    size_t ll = (size_t)(nl - (p + at));
    if (ll > 0 && nl[-1] == '\r')
        ll--;
    uint64_t namelen, vlen;
    int hasv;
    if (header_line((const char *)p + at, ll, &namelen, &vlen, &hasv) != 0)
        return 0;
    at = (size_t)(nl - p) + 1;
    if (namelen + vlen > n - at)
        return 0;
    h->name = p + at;
    h->name_len = (size_t)namelen;
    h->value = hasv ? p + at + namelen : NULL;
    h->value_len = (size_t)vlen;
    at += (size_t)(namelen + vlen);
    if (at < n && p[at] == '\r')
        at++;
    if (at < n && p[at] == '\n')
        at++;
    *pos = at;
    return 1;
}

/* The key and headers of record i of a meta=1 reply, after its line
 * "OFFSET TS LEN KEYLEN NHEADERS" (KEYLEN, NHEADERS in v[3], v[4]): the
 * key's bytes unless it is null, then each header "NAMELEN
 * VALUELEN\r\n<name><value>\r\n" (VALUELEN -1: a null value, no bytes).
 * Their bytes are added to *used (the MAXBYTES budget). Positions are kept
 * as offsets into cl->in, as for the records' data. */
static int meta_body(sl_client_t *cl, int64_t deadline, uint64_t i,
                     const uint64_t *v, int has_key, uint64_t *used) {
    if (i >= cl->capmetas) {
        size_t cap = cl->caprecs; /* recs were grown for record i. */
        sl_client_meta_t *m = realloc(cl->metas, cap * sizeof *m);
        if (m == NULL)
            return SL_ENOMEM;
        cl->metas = m;
        cl->capmetas = cap;
    }
    sl_client_meta_t *m = &cl->metas[i];
    memset(m, 0, sizeof *m);
    size_t st = 0;
    if (has_key) {
        int err = read_payload(cl, deadline, (size_t)v[3], "key", v[0], &st);
        if (err != 0)
            return err;
        m->has_key = 1;
        m->key = (const uint8_t *)(uintptr_t)st;
        m->key_len = (size_t)v[3];
        *used = add_sat(*used, v[3]);
    }
    size_t hstart = cl->in_off;
    for (uint64_t h = 0; h < v[4]; h++) {
        size_t ls, ln;
        uint64_t namelen, vlen;
        int hasv;
        int err = sl__client_read_line(cl, deadline, &ls, &ln);
        if (err != 0)
            return err;
        if (header_line((const char *)cl->in.data + ls, ln, &namelen, &vlen,
                        &hasv) != 0)
            return sl__client_proto_err(
                cl, "record %llu: bad header line (expected NAMELEN VALUELEN)",
                (unsigned long long)v[0]);
        err = read_payload(cl, deadline, (size_t)(namelen + vlen), "header",
                           v[0], &st);
        if (err != 0)
            return err;
        *used = add_sat(*used, namelen + vlen + SL_CLIENT_HDR_OVERHEAD);
    }
    m->headers = (const uint8_t *)(uintptr_t)hstart;
    m->headers_len = cl->in_off - hstart;
    m->nheaders = (uint32_t)v[4];
    return 0;
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
 * is 0 (unknown), as from brokers that do not send it. With meta=1 a record
 * line is "OFFSET TS LEN KEYLEN NHEADERS" (LEN and KEYLEN -1 for nulls), the
 * key and headers come before the value (meta_body), and they count in the
 * MAXBYTES budget too. */
static int get_body(sl_client_t *cl, int64_t deadline, int code,
                    const char *rest, size_t rl, void *vctx) {
    get_ctx_t *ctx = vctx;
    sl_client_fetch_t *out = ctx->out;
    sl__client_tok_t t[3];
    size_t nt = sl__client_split(rest, rl, t, 3);
    if (code == SL_STATUS_DAMAGED) {
        /* "NEXT offsets A-B damaged (quarantined)": the offset asked for
         * starts a damaged range ending below NEXT. NEXT is kept (in
         * out->next) so that the caller can name the range and, when it
         * chooses to accept the loss, go on from there. */
        uint64_t next;
        if (nt < 1 || sl__client_tok_u64(&t[0], &next) != 0 ||
            next <= ctx->offset)
            return sl__client_proto_err(cl,
                                        "422 reply without a NEXT above offset "
                                        "%llu",
                                        (unsigned long long)ctx->offset);
        out->next = next;
        return 0;
    }
    if (code == SL_STATUS_OUT_OF_RANGE) {
        uint64_t a, b;
        if (nt < 2 || sl__client_tok_u64(&t[0], &a) != 0 ||
            sl__client_tok_u64(&t[1], &b) != 0 || a > b)
            return sl__client_proto_err(cl,
                                        "416 reply without EARLIEST LATEST");
        if (ctx->offset >= a && ctx->offset <= b)
            return sl__client_proto_err(cl,
                                        "416 reply for offset %llu, inside the "
                                        "stored range %llu-%llu",
                                        (unsigned long long)ctx->offset,
                                        (unsigned long long)a,
                                        (unsigned long long)b);
        out->earliest = a;
        out->latest = b;
        return 0;
    }
    uint64_t count, next, latest = 0;
    if (nt < 2 || sl__client_tok_u64(&t[0], &count) != 0 ||
        sl__client_tok_u64(&t[1], &next) != 0)
        return sl__client_proto_err(cl, "get reply without COUNT NEXT");
    if (nt >= 3 && sl__client_tok_u64(&t[2], &latest) != 0)
        latest = 0; /* Unknown, as from older brokers. */
    uint64_t max_count = ctx->max_bytes / SL_CLIENT_REC_OVERHEAD + 1;
    if (count > max_count)
        return sl__client_proto_err(
            cl,
            "get reply announces %llu records; MAXBYTES "
            "%llu allows at most %llu",
            (unsigned long long)count, (unsigned long long)ctx->max_bytes,
            (unsigned long long)max_count);
    if (count == 0 && next != ctx->offset)
        return sl__client_proto_err(
            cl, "empty get reply moves NEXT from %llu to %llu",
            (unsigned long long)ctx->offset, (unsigned long long)next);
    uint64_t used = 0, prev = 0;
    /* The records are collected as they arrive, so memory follows the
     * bytes received, never the count announced. Their data are kept as
     * offsets into cl->in first: the buffer may move while reading. */
    for (uint64_t i = 0; i < count; i++) {
        size_t st, ln;
        int err = sl__client_read_line(cl, deadline, &st, &ln);
        if (err != 0)
            return err;
        sl__client_tok_t f[5];
        uint64_t v[5];
        int has_value = 1, has_key = 0;
        size_t nf = ctx->meta ? 5 : 3;
        if (sl__client_split((const char *)cl->in.data + st, ln, f, nf) != nf ||
            sl__client_tok_u64(&f[0], &v[0]) != 0 ||
            sl__client_tok_u64(&f[1], &v[1]) != 0 ||
            (ctx->meta
                 ? tok_len(&f[2], &v[2], &has_value) != 0 ||
                       tok_len(&f[3], &v[3], &has_key) != 0 ||
                       sl__client_tok_u64(&f[4], &v[4]) != 0 || v[4] > INT32_MAX
                 : sl__client_tok_u64(&f[2], &v[2]) != 0))
            return sl__client_proto_err(
                cl, ctx->meta ? "bad record line (expected OFFSET TS LEN "
                                "KEYLEN NHEADERS)"
                              : "bad record line (expected OFFSET TS LEN)");
        if (i == 0 ? v[0] < ctx->offset : v[0] <= prev)
            return sl__client_proto_err(cl, "record offset %llu out of order",
                                        (unsigned long long)v[0]);
        if (v[1] > (uint64_t)INT64_MAX)
            return sl__client_proto_err(cl, "record timestamp out of range");
        /* No broker holds a record above 1 GiB (its --max-message
         * limit): a larger length is garbage, not something to wait for. */
        if (v[2] > SL_CLIENT_MAX_RECORD)
            return sl__client_proto_err(cl, "record of %llu bytes announced",
                                        (unsigned long long)v[2]);
        if (i > 0 && used >= ctx->max_bytes)
            return sl__client_proto_err(
                cl, "more records than MAXBYTES %llu allows",
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
        if (ctx->meta) {
            err = meta_body(cl, deadline, i, v, has_key, &used);
            if (err != 0)
                return err;
            cl->metas[i].has_value = has_value;
        }
        size_t len = (size_t)v[2], at = cl->in_off;
        if (has_value) {
            err = read_payload(cl, deadline, len, "value", v[0], &at);
            if (err != 0)
                return err;
        }
        cl->recs[i].offset = v[0];
        cl->recs[i].ts = (int64_t)v[1];
        cl->recs[i].data = (const uint8_t *)(uintptr_t)at;
        cl->recs[i].len = len;
        prev = v[0];
    }
    if (count > 0 && next <= prev)
        return sl__client_proto_err(
            cl,
            "get reply's NEXT %llu is not above its last "
            "record %llu",
            (unsigned long long)next, (unsigned long long)prev);
    for (size_t i = 0; i < count; i++)
        cl->recs[i].data = cl->in.data + (uintptr_t)cl->recs[i].data;
    for (size_t i = 0; ctx->meta && i < count; i++) {
        sl_client_meta_t *m = &cl->metas[i];
        m->headers = cl->in.data + (uintptr_t)m->headers;
        if (m->has_key)
            m->key = cl->in.data + (uintptr_t)m->key;
    }
    out->meta = ctx->meta && count ? cl->metas : NULL;
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
                     uint64_t wait_ms, int meta) {
    snprintf(args, size, "%s %s %llu %llu", topic, part,
             (unsigned long long)offset,
             (unsigned long long)get_max_bytes(max_bytes));
    if (wait_ms)
        snprintf(args + strlen(args), size - strlen(args), " wait=%llu",
                 (unsigned long long)wait_ms);
    if (meta)
        snprintf(args + strlen(args), size - strlen(args), " meta=1");
}

/* What a get returns once its reply was read. */
static int get_result(int err, uint64_t offset, sl_client_fetch_t *out) {
    if (err == SL_ERANGE && offset < out->earliest)
        err = SL_EGONE;
    if (err != 0 && err != SL_ERANGE && err != SL_EGONE) {
        /* Nothing of a failed reply is data; only a 422 moves NEXT (past
         * the damaged records, for the caller to report or skip). */
        out->recs = NULL;
        out->meta = NULL;
        out->count = 0;
        if (err != SL_EDAMAGED)
            out->next = offset;
    }
    return err;
}

static int get_common(sl_client_t *cl, const char *topic, const char *part,
                      uint64_t offset, uint64_t max_bytes, uint64_t wait_ms,
                      int meta, sl_client_fetch_t *out) {
    memset(out, 0, sizeof *out);
    out->next = offset;
    int err = check_names(cl, topic, part, NULL);
    if (err != 0)
        return err;
    char args[700];
    get_args(args, sizeof args, topic, part, offset, max_bytes, wait_ms, meta);
    get_ctx_t ctx = {out, offset, get_max_bytes(max_bytes), meta};
    cl->err[0] = '\0';
    err = request(cl, "get", args, (int64_t)wait_ms, get_body, &ctx);
    return get_result(err, offset, out);
}

int sl_client_get(sl_client_t *cl, const char *topic, const char *part,
                  uint64_t offset, uint64_t max_bytes, uint64_t wait_ms,
                  sl_client_fetch_t *out) {
    return get_common(cl, topic, part, offset, max_bytes, wait_ms, 0, out);
}

int sl_client_get_meta(sl_client_t *cl, const char *topic, const char *part,
                       uint64_t offset, uint64_t max_bytes, uint64_t wait_ms,
                       sl_client_fetch_t *out) {
    return get_common(cl, topic, part, offset, max_bytes, wait_ms, 1, out);
}

int sl_client_get_send(sl_client_t *cl, const char *topic, const char *part,
                       uint64_t offset, uint64_t max_bytes) {
    if (cl->inflight > 0 || cl->get_pending)
        return sl__client_set_err(cl, SL_EINVAL,
                                  "another request is in flight");
    int err = check_names(cl, topic, part, NULL);
    if (err == 0)
        err = sl__client_ensure_connected(cl);
    if (err != 0)
        return err;
    char args[700];
    get_args(args, sizeof args, topic, part, offset, max_bytes, 0, 0);
    uint64_t id;
    err = send_request(cl, "get", args,
                       sl__client_now_ms() + cl->opts.io_timeout_ms, &id);
    if (err != 0) {
        if (sl__client_conn_error(err))
            sl__client_disconnect(cl);
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
        return sl__client_set_err(cl, SL_EINVAL, "no get was sent");
    cl->get_pending = 0;
    cl->err[0] = '\0';
    uint64_t offset = cl->get_pending_offset;
    out->next = offset;
    get_ctx_t ctx = {out, offset, cl->get_pending_max, 0};
    int code;
    int err = read_reply(cl, sl__client_now_ms() + cl->opts.io_timeout_ms,
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
    sl__client_tok_t t[2];
    size_t nt = sl__client_split(rest, rl, t, 2);
    if (nt != ctx->n)
        return sl__client_proto_err(
            cl, "expected %zu number%s after the request id", ctx->n,
            ctx->n > 1 ? "s" : "");
    for (size_t i = 0; i < nt; i++)
        if (sl__client_tok_u64(&t[i], &ctx->v[i]) != 0)
            return sl__client_proto_err(cl, "bad number in reply");
    if (nt == 2 && ctx->v[0] > ctx->v[1])
        return sl__client_proto_err(cl, "EARLIEST %llu above LATEST %llu",
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
        err = sl__client_proto_err(cl, "commit of %llu acknowledged as %llu",
                                   (unsigned long long)offset,
                                   (unsigned long long)ctx.v[0]);
        sl__client_disconnect(cl);
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
static int good_name(const sl__client_tok_t *t) {
    if (t->len == 0 || t->len > 255)
        return 0;
    for (size_t i = 0; i < t->len; i++)
        if ((unsigned char)t->p[i] < 0x21 || (unsigned char)t->p[i] > 0x7e)
            return 0;
    return 1;
}

typedef struct {
    sl_buf_t *out;
    int partitions; /* 1: "N", then N "TOPIC PARTITION EARLIEST LATEST";
                       2: "N", then N printable groups lines. */
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
    sl__client_tok_t t[4];
    if (ctx->partitions && (sl__client_split(rest, rl, t, 1) != 1 ||
                            sl__client_tok_u64(&t[0], &want) != 0))
        return sl__client_proto_err(cl, "partitions reply without a count");
    int err = 0;
    for (;;) {
        size_t st, ln;
        err = sl__client_read_line(cl, deadline, &st, &ln);
        if (err != 0)
            break;
        const char *p = (const char *)cl->in.data + st;
        if (ln == 3 && memcmp(p, "END", 3) == 0) {
            if (ctx->partitions && got != want)
                err = sl__client_proto_err(
                    cl,
                    "partitions reply announced %llu lines "
                    "and sent %llu",
                    (unsigned long long)want, (unsigned long long)got);
            break;
        }
        bytes += ln + 1;
        if (bytes > SL_CLIENT_MAX_LISTING) {
            err = sl__client_proto_err(cl, "listing longer than %u bytes",
                                       SL_CLIENT_MAX_LISTING);
            break;
        }
        if (ctx->partitions) {
            uint64_t a, b;
            if (++got > want) {
                err =
                    sl__client_proto_err(cl,
                                         "partitions reply has more lines than "
                                         "the %llu announced",
                                         (unsigned long long)want);
                break;
            }
            if (ctx->partitions == 2) { /* groups: checked by the caller */
                int ok = 1;
                for (size_t i = 0; ok && i < ln; i++)
                    ok = (unsigned char)p[i] >= 0x20 &&
                         (unsigned char)p[i] < 0x7f;
                if (!ok) {
                    err = sl__client_proto_err(cl, "bad groups line");
                    break;
                }
            } else if (sl__client_split(p, ln, t, 4) != 4 ||
                       !good_name(&t[0]) || !good_name(&t[1]) ||
                       sl__client_tok_u64(&t[2], &a) != 0 ||
                       sl__client_tok_u64(&t[3], &b) != 0 || a > b) {
                err = sl__client_proto_err(
                    cl, "bad partitions line (expected TOPIC "
                        "PARTITION EARLIEST LATEST)");
                break;
            }
        } else {
            int ok = ln >= 5 && memcmp(p, "STAT ", 5) == 0;
            for (size_t i = 0; ok && i < ln; i++)
                ok = (unsigned char)p[i] >= 0x20 && (unsigned char)p[i] < 0x7f;
            if (!ok) {
                err = sl__client_proto_err(cl,
                                           "bad stats line (expected STAT NAME "
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

int sl_client_groups(sl_client_t *cl, const char *group, sl_buf_t *out) {
    if (group) {
        int err = check_names(cl, group, NULL, NULL);
        if (err != 0)
            return err;
    }
    lines_ctx_t ctx = {out, 2};
    return request(cl, "groups", group ? group : "", 0, lines_body, &ctx);
}

int sl_client_group_reset(sl_client_t *cl, const char *group, const char *topic,
                          const char *part, uint64_t offset) {
    int err = check_names(cl, group, topic, part);
    if (err != 0)
        return err;
    char args[900];
    snprintf(args, sizeof args, "%s %s %s %llu", group, topic, part,
             (unsigned long long)offset);
    u64s_ctx_t ctx = {1, {0, 0}};
    return request(cl, "greset", args, 0, u64s_body, &ctx);
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

/* ---- parsing without a socket -------------------------------------------- */

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
        return sl__client_set_err(cl, SL_EINVAL, "the client is connected");
    sl__client_disconnect(cl);
    cl->err[0] = '\0';
    if (sl_buf_append(&cl->in, data, len) != 0)
        return SL_ENOMEM;
    int64_t deadline = sl__client_now_ms() + 1000;
    int code = 0, err;
    switch (kind) {
    case SL_CLIENT_REPLY_PUT: {
        const char *rest;
        size_t rl;
        err = sl__client_status_line(cl, deadline, 1, &code, &rest, &rl);
        if (err == 0)
            err = sl__client_parse_ack(cl, rest, rl, &out->v[0], &out->dup);
        break;
    }
    case SL_CLIENT_REPLY_GET:
    case SL_CLIENT_REPLY_GET_META: {
        out->fetch.next = offset;
        get_ctx_t ctx = {&out->fetch, offset, get_max_bytes(max_bytes),
                         kind == SL_CLIENT_REPLY_GET_META};
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
    default: return sl__client_set_err(cl, SL_EINVAL, "unknown reply kind");
    }
    out->code = code;
    out->used = cl->in_off;
    return err;
}
