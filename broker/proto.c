/*
 * Text protocol parser; the grammar is specified in docs/protocol.md.
 * In short: a request is one line "command reqid args...", ended by LF
 * or CRLF, tokens separated by single or repeated spaces; put is followed
 * by exactly <len> payload bytes and a line end (with klen=K, first K key
 * bytes and a line end), mput by <count> items of
 * "<len> LINE-END <len bytes> LINE-END" or, for an item with a record key,
 * "<len> <klen> LINE-END <klen bytes> LINE-END <len bytes> LINE-END".
 * Numbers are unsigned decimal (no sign, at most 20 digits, no
 * overflow).
 *
 * Framing rule: a line whose first token is "put" or "mput" declares a
 * payload. If such a request is refused for any reason before its payload
 * was consumed (a bad byte, too many tokens, a bad number or name, ...),
 * the error is fatal: the connection must close, because the payload's
 * bytes would otherwise be read as commands.
 */
#include "broker/proto.h"

#include "crc32c.h"
#include "error.h"
#include "status.h"

#include <string.h>

#define MAX_TOKENS 12
/* The longest mput item line: "LEN KLEN" of two 20-digit numbers and a
 * CRLF fit in it. */
#define ITEM_LINE_MAX 48

void sl_proto_default_limits(sl_proto_limits_t *lim) {
    lim->max_line = 4096;
    lim->max_msg = 16u << 20;
    lim->max_request = 16u << 20;
    lim->max_count = 1000000;
    lim->no_payload = 0;
}

static int parse_u64(const char *p, size_t n, uint64_t *v) {
    if (n == 0 || n > 20)
        return -1;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        uint64_t d = (uint64_t)(p[i] - '0');
        if (x > (UINT64_MAX - d) / 10)
            return -1;
        x = x * 10 + d;
    }
    *v = x;
    return 0;
}

/* The number at the start of p[0..n): how many digits it has (1-20,
 * without overflow; *v its value), or 0 when p does not start with one.
 * What follows the digits is the caller's to check; p[n] must be readable
 * and not a digit (an mput item line: its line end). Runs per mput item:
 * below 20 digits nothing can overflow, so only a 20th digit is checked. */
static size_t parse_u64_prefix(const uint8_t *p, size_t n, uint64_t *v) {
    uint64_t x = 0;
    size_t i = 0;
    unsigned d;
    while (i < 19 && (d = (unsigned)p[i] - '0') < 10) {
        x = x * 10 + d;
        i++;
    }
    if (i == 19 && (unsigned)p[i] - '0' < 10) {
        if (n < 20 || (n > 20 && (unsigned)p[20] - '0' < 10) ||
            parse_u64((const char *)p, 20, &x) != 0)
            return 0;
        i = 20;
    }
    *v = x;
    return i;
}

static int tok_is(const sl_span_t *t, const char *s) {
    size_t n = strlen(s);
    return t->len == n && memcmp(t->p, s, n) == 0;
}

/* Splits "key=value"; 1 when t is key=... for this key. */
static int opt_val(const sl_span_t *t, const char *key, sl_span_t *val) {
    size_t n = strlen(key);
    if (t->len <= n || memcmp(t->p, key, n) != 0 || t->p[n] != '=')
        return 0;
    val->p = t->p + n + 1;
    val->len = t->len - n - 1;
    return 1;
}

static int fail(sl_proto_err_t *err, int code, const char *msg, int fatal) {
    err->code = code;
    err->msg = msg;
    err->fatal = fatal;
    return SL_EPROTO;
}

/* Finds the end of a payload line: CRLF or LF at p (n bytes left).
 * Returns the terminator length, 0 when more bytes are needed, -1 bad. */
static inline __attribute__((always_inline)) int line_end_at(const uint8_t *p,
                                                             size_t n) {
    if (n == 0)
        return 0;
    if (p[0] == '\n')
        return 1;
    if (p[0] != '\r')
        return -1;
    if (n < 2)
        return 0;
    return p[1] == '\n' ? 2 : -1;
}

/* What a request needs in all at least, total bytes of which the buffer
 * holds len: always more than len, so that waiting for it makes progress,
 * and never more than the request can take (a line end may be one byte:
 * a client ending its lines in LF alone must not wait for bytes it will
 * never send). */
static size_t need_min(size_t total, size_t len) {
    return total > len ? total : len + 1;
}

/* A span that ends at p[end] with a line end (p holds n bytes): 0 and
 * *after set past the line end, SL_EAGAIN when more bytes are needed, or
 * SL_EPROTO when something else follows the span. */
static inline __attribute__((always_inline)) int
span_at(const uint8_t *p, size_t n, size_t end, size_t *after) {
    if (end > n)
        return SL_EAGAIN;
    int t = line_end_at(p + end, n - end);
    if (t == 0)
        return SL_EAGAIN;
    if (t < 0)
        return SL_EPROTO;
    *after = end + (size_t)t;
    return 0;
}

static int parse_options(sl_span_t *tok, size_t from, size_t ntok,
                         sl_cmd_t *cmd, int allow_prod, int allow_crc,
                         int allow_wait, int allow_ts, int allow_klen,
                         sl_proto_err_t *err) {
    int have_seq = 0;
    for (size_t i = from; i < ntok; i++) {
        sl_span_t v;
        uint64_t x;
        if (allow_prod && opt_val(&tok[i], "pid", &v)) {
            if (parse_u64(v.p, v.len, &x) != 0 || x >= (1ull << 48))
                return fail(err, SL_STATUS_BAD_REQUEST,
                            "bad pid (0 <= pid < 2^48)", 0);
            cmd->has_producer = 1;
            cmd->producer = (int64_t)x;
        } else if (allow_prod && opt_val(&tok[i], "seq", &v)) {
            if (parse_u64(v.p, v.len, &x) != 0 || x >= (1ull << 63))
                return fail(err, SL_STATUS_BAD_REQUEST,
                            "bad seq (0 <= seq < 2^63)", 0);
            cmd->seq = x;
            have_seq = 1;
        } else if (allow_crc && opt_val(&tok[i], "crc", &v)) {
            if (parse_u64(v.p, v.len, &x) != 0 || x > UINT32_MAX)
                return fail(err, SL_STATUS_BAD_REQUEST, "bad crc", 0);
            cmd->has_crc = 1;
            cmd->crc = (uint32_t)x;
        } else if (allow_wait && opt_val(&tok[i], "wait", &v)) {
            if (parse_u64(v.p, v.len, &x) != 0 || x > 3600000)
                return fail(err, SL_STATUS_BAD_REQUEST,
                            "bad wait (ms, at most 3600000)", 0);
            cmd->wait_ms = x;
        } else if (allow_wait && opt_val(&tok[i], "meta", &v)) {
            /* A get's other option (allow_wait is "this is a get"). */
            if (parse_u64(v.p, v.len, &x) != 0 || x > 1)
                return fail(err, SL_STATUS_BAD_REQUEST, "bad meta (0 or 1)", 0);
            cmd->meta = (int)x;
        } else if (allow_klen && opt_val(&tok[i], "klen", &v)) {
            /* The key's bytes follow the header line: a second klen would
             * make its length ambiguous. */
            if (cmd->has_key || parse_u64(v.p, v.len, &x) != 0)
                return fail(err, SL_STATUS_BAD_REQUEST, "bad klen", 0);
            cmd->has_key = 1;
            cmd->key_len = (size_t)x;
        } else if (allow_ts && opt_val(&tok[i], "ts", &v)) {
            if (parse_u64(v.p, v.len, &x) != 0 || x > INT64_MAX)
                return fail(err, SL_STATUS_BAD_REQUEST, "bad ts", 0);
            cmd->has_ts = 1;
            cmd->ts = (int64_t)x;
        } else {
            return fail(err, SL_STATUS_BAD_REQUEST, "unexpected argument", 0);
        }
    }
    if (cmd->has_producer != have_seq)
        return fail(err, SL_STATUS_BAD_REQUEST, "pid and seq go together", 0);
    return 0;
}

/* 1 when the line's first space-separated token is exactly "put" or
 * "mput": such a line declares a payload, so whatever is wrong with it,
 * the bytes after it cannot be trusted to be commands. */
static int storage_line(const uint8_t *buf, size_t text_len) {
    size_t i = 0;
    while (i < text_len && buf[i] == ' ')
        i++;
    size_t j = i;
    while (j < text_len && buf[j] != ' ')
        j++;
    return (j - i == 3 && memcmp(buf + i, "put", 3) == 0) ||
           (j - i == 4 && memcmp(buf + i, "mput", 4) == 0);
}

static int parse_request(const uint8_t *buf, size_t len,
                         const sl_proto_limits_t *lim, sl_cmd_t *cmd,
                         size_t *consumed, size_t *need, sl_proto_err_t *err);

int sl_proto_parse(const uint8_t *buf, size_t len, const sl_proto_limits_t *lim,
                   sl_cmd_t *cmd, size_t *consumed, size_t *need,
                   sl_proto_err_t *err) {
    int rc = parse_request(buf, len, lim, cmd, consumed, need, err);
    if (rc != SL_EPROTO || err->fatal)
        return rc;
    /* The framing rule, for every reason a request can be refused: a
     * refused put or mput whose payload was not consumed with it (only a
     * CRC mismatch consumes it) leaves the stream at an unknown place, and
     * its payload must never run as commands (memcached closes too). */
    const uint8_t *nl = memchr(buf, '\n', len);
    size_t line_len = nl ? (size_t)(nl - buf) + 1 : len;
    size_t text_len = nl ? line_len - 1 : len;
    if (text_len > 0 && buf[text_len - 1] == '\r')
        text_len--;
    if (storage_line(buf, text_len) && *consumed <= line_len)
        err->fatal = 1;
    return rc;
}

static int parse_request(const uint8_t *buf, size_t len,
                         const sl_proto_limits_t *lim, sl_cmd_t *cmd,
                         size_t *consumed, size_t *need, sl_proto_err_t *err) {
    memset(cmd, 0, sizeof *cmd);
    memset(err, 0, sizeof *err);
    *consumed = 0;
    *need = len + 1;
    size_t scan = len < lim->max_line ? len : lim->max_line;
    const uint8_t *nl = memchr(buf, '\n', scan);
    if (nl == NULL) {
        if (len >= lim->max_line)
            return fail(err, SL_STATUS_BAD_REQUEST, "line too long", 1);
        return SL_EAGAIN;
    }
    size_t line_len = (size_t)(nl - buf) + 1;
    size_t text_len = line_len - 1;
    if (text_len > 0 && buf[text_len - 1] == '\r')
        text_len--;
    *consumed = line_len;
    sl_span_t tok[MAX_TOKENS];
    size_t ntok = 0;
    for (size_t i = 0; i < text_len;) {
        if (buf[i] == ' ') {
            i++;
            continue;
        }
        size_t j = i;
        while (j < text_len && buf[j] != ' ')
            j++;
        if (ntok == MAX_TOKENS)
            return fail(err, SL_STATUS_BAD_REQUEST, "too many arguments", 0);
        tok[ntok].p = (const char *)buf + i;
        tok[ntok].len = j - i;
        for (size_t k = i; k < j; k++)
            if (buf[k] < 0x21 || buf[k] > 0x7E)
                return fail(err, SL_STATUS_BAD_REQUEST,
                            "control or non-ASCII byte in command", 0);
        ntok++;
        i = j;
    }
    if (ntok == 0)
        return fail(err, SL_STATUS_BAD_REQUEST, "empty line", 0);
    if (ntok < 2 || parse_u64(tok[1].p, tok[1].len, &cmd->reqid) != 0) {
        /* put/mput without a usable header cannot be resynchronised. */
        int fatal = tok_is(&tok[0], "put") || tok_is(&tok[0], "mput");
        return fail(err, SL_STATUS_BAD_REQUEST, "missing or bad request id",
                    fatal);
    }
    err->has_reqid = 1;
    err->reqid = cmd->reqid;
    const sl_span_t *c = &tok[0];
    if (tok_is(c, "put") || tok_is(c, "mput")) {
        int multi = tok_is(c, "mput");
        cmd->type = multi ? SL_CMD_MPUT : SL_CMD_PUT;
        uint64_t n;
        /* Before auth no payload is ever buffered: refuse at the header. */
        if (lim->no_payload)
            return fail(err, SL_STATUS_AUTH_REQUIRED, "authentication required",
                        1);
        if (ntok < 5)
            return fail(err, SL_STATUS_BAD_REQUEST,
                        multi ? "usage: mput ID TOPIC PARTITION COUNT"
                              : "usage: put ID TOPIC PARTITION LENGTH",
                        1);
        if (parse_u64(tok[4].p, tok[4].len, &n) != 0)
            return fail(err, SL_STATUS_BAD_REQUEST,
                        multi ? "bad count" : "bad length", 1);
        if (!multi && n > lim->max_msg)
            return fail(err, SL_STATUS_TOO_LARGE, "message too large", 1);
        if (multi && (n == 0 || n > lim->max_count))
            return fail(err,
                        n == 0 ? SL_STATUS_BAD_REQUEST : SL_STATUS_TOO_LARGE,
                        "bad count", 1);
        if (tok[2].len > SL_PROTO_MAX_NAME || tok[3].len > SL_PROTO_MAX_NAME)
            return fail(err, SL_STATUS_BAD_REQUEST,
                        "bad topic or partition name", 1);
        cmd->topic = tok[2];
        cmd->part = tok[3];
        /* Option errors are fatal too: the payload follows regardless. */
        if (parse_options(tok, 5, ntok, cmd, 1, 1, 0, 0, !multi, err) != 0) {
            err->fatal = 1;
            return SL_EPROTO;
        }
        if (cmd->has_key &&
            (cmd->key_len > lim->max_msg || n > lim->max_msg - cmd->key_len))
            return fail(err, SL_STATUS_TOO_LARGE, "message too large", 1);
        const uint8_t *p = buf + line_len;
        size_t left = len - line_len;
        size_t crc_len; /* What crc= covers, from p on. */
        if (!multi) {
            /* With klen=K: K key bytes and a line end before the value. */
            size_t at = 0;
            if (cmd->has_key) {
                int rc = span_at(p, left, cmd->key_len, &at);
                if (rc == SL_EAGAIN) {
                    *need = need_min(line_len + cmd->key_len + 1 + n + 1, len);
                    *consumed = 0;
                    return SL_EAGAIN;
                }
                if (rc != 0)
                    return fail(err, SL_STATUS_BAD_REQUEST,
                                "key longer than its klen", 1);
                cmd->key = p;
            }
            size_t vat = at;
            int rc = span_at(p, left, at + n, &at);
            if (rc == SL_EAGAIN) {
                *need = need_min(line_len + vat + n + 1, len);
                *consumed = 0;
                return SL_EAGAIN;
            }
            if (rc != 0)
                return fail(err, SL_STATUS_BAD_REQUEST,
                            "payload longer than its length", 1);
            cmd->payload = p + vat;
            cmd->payload_len = n;
            crc_len = vat + n;
            *consumed = line_len + at;
        } else {
            cmd->count = n;
            size_t at = 0;
            for (uint64_t i = 0; i < n; i++) {
                const uint8_t *q = p + at;
                size_t ql = left - at;
                size_t lscan = ql < ITEM_LINE_MAX ? ql : ITEM_LINE_MAX;
                const uint8_t *e = memchr(q, '\n', lscan);
                if (e == NULL) {
                    if (ql >= ITEM_LINE_MAX)
                        return fail(err, SL_STATUS_BAD_REQUEST,
                                    "bad item length line", 1);
                    *consumed = 0;
                    *need = len + 1; /* The line's length is not known. */
                    return SL_EAGAIN;
                }
                size_t ll = (size_t)(e - q);
                if (ll > 0 && q[ll - 1] == '\r')
                    ll--;
                /* "LEN", or "LEN KLEN" for an item with a record key. */
                uint64_t il, kl = 0;
                size_t nl1 = parse_u64_prefix(q, ll, &il);
                size_t kspan = 0; /* The key and its line end (at least). */
                if (__builtin_expect(nl1 != ll, 0) || nl1 == 0) {
                    if (nl1 == 0 || q[nl1] != ' ' ||
                        parse_u64((const char *)q + nl1 + 1, ll - nl1 - 1,
                                  &kl) != 0)
                        return fail(err, SL_STATUS_BAD_REQUEST,
                                    "bad item length", 1);
                    if (il > lim->max_msg || kl > lim->max_msg - il)
                        return fail(err, SL_STATUS_TOO_LARGE,
                                    "message too large", 1);
                    kspan = (size_t)kl + 1;
                    cmd->has_key = 1;
                }
                if (il > lim->max_msg)
                    return fail(err, SL_STATUS_TOO_LARGE, "message too large",
                                1);
                size_t hdr = (size_t)(e - q) + 1;
                if (at + hdr + kspan + il > lim->max_request)
                    return fail(err, SL_STATUS_TOO_LARGE, "request too large",
                                1);
                size_t vat = hdr; /* Where the value starts. */
                int rc = 0;
                if (kspan != 0 && (rc = span_at(q, ql, hdr + kl, &vat)) != 0) {
                    if (rc != SL_EAGAIN)
                        return fail(err, SL_STATUS_BAD_REQUEST,
                                    "item longer than its length", 1);
                    /* The key, a line end, the value, a line end. */
                    *consumed = 0;
                    *need = need_min(line_len + at + hdr + kspan + il + 1, len);
                    return SL_EAGAIN;
                }
                int t = ql - vat < il
                            ? 0
                            : line_end_at(q + vat + il, ql - vat - il);
                if (t == 0) {
                    *consumed = 0;
                    *need = need_min(line_len + at + vat + il + 1, len);
                    return SL_EAGAIN;
                }
                if (t < 0)
                    return fail(err, SL_STATUS_BAD_REQUEST,
                                "item longer than its length", 1);
                at += vat + il + (size_t)t;
            }
            cmd->payload = p;
            cmd->payload_len = at;
            crc_len = at;
            *consumed = line_len + at;
        }
        if (cmd->has_crc && sl_crc32c(0, p, crc_len) != cmd->crc)
            return fail(err, SL_STATUS_BAD_REQUEST, "crc mismatch", 0);
        return 0;
    }
    if (tok_is(c, "get")) {
        cmd->type = SL_CMD_GET;
        if (ntok < 5)
            return fail(err, SL_STATUS_BAD_REQUEST,
                        "usage: get ID TOPIC PARTITION OFFSET "
                        "[MAXBYTES] [wait=MS] [meta=1]",
                        0);
        cmd->topic = tok[2];
        cmd->part = tok[3];
        if (parse_u64(tok[4].p, tok[4].len, &cmd->offset) != 0)
            return fail(err, SL_STATUS_BAD_REQUEST, "bad offset", 0);
        cmd->max_bytes = 1u << 20;
        size_t from = 5;
        if (ntok > 5 && memchr(tok[5].p, '=', tok[5].len) == NULL) {
            if (parse_u64(tok[5].p, tok[5].len, &cmd->max_bytes) != 0 ||
                cmd->max_bytes == 0)
                return fail(err, SL_STATUS_BAD_REQUEST, "bad max bytes", 0);
            if (cmd->max_bytes > lim->max_request)
                cmd->max_bytes = lim->max_request;
            from = 6;
        }
        return parse_options(tok, from, ntok, cmd, 0, 0, 1, 0, 0, err);
    }
    if (tok_is(c, "offsets")) {
        cmd->type = SL_CMD_OFFSETS;
        if (ntok < 4)
            return fail(err, SL_STATUS_BAD_REQUEST,
                        "usage: offsets ID TOPIC PARTITION [ts=MS]", 0);
        cmd->topic = tok[2];
        cmd->part = tok[3];
        return parse_options(tok, 4, ntok, cmd, 0, 0, 0, 1, 0, err);
    }
    if (tok_is(c, "commit")) {
        cmd->type = SL_CMD_COMMIT;
        if (ntok != 6)
            return fail(err, SL_STATUS_BAD_REQUEST,
                        "usage: commit ID GROUP TOPIC PARTITION "
                        "OFFSET",
                        0);
        cmd->group = tok[2];
        cmd->topic = tok[3];
        cmd->part = tok[4];
        if (parse_u64(tok[5].p, tok[5].len, &cmd->offset) != 0)
            return fail(err, SL_STATUS_BAD_REQUEST, "bad offset", 0);
        return 0;
    }
    if (tok_is(c, "committed")) {
        cmd->type = SL_CMD_COMMITTED;
        if (ntok != 5)
            return fail(err, SL_STATUS_BAD_REQUEST,
                        "usage: committed ID GROUP TOPIC PARTITION", 0);
        cmd->group = tok[2];
        cmd->topic = tok[3];
        cmd->part = tok[4];
        return 0;
    }
    if (tok_is(c, "partitions")) {
        cmd->type = SL_CMD_PARTITIONS;
        if (ntok > 3)
            return fail(err, SL_STATUS_BAD_REQUEST,
                        "usage: partitions ID [TOPIC]", 0);
        if (ntok == 3)
            cmd->topic = tok[2];
        return 0;
    }
    if (tok_is(c, "groups") || tok_is(c, "greset")) { /* server_groups.c */
        int reset = tok_is(c, "greset");
        cmd->type = reset ? SL_CMD_GRESET : SL_CMD_GROUPS;
        if (reset ? ntok != 6 : ntok > 3)
            return fail(err, SL_STATUS_BAD_REQUEST,
                        reset ? "usage: greset ID GROUP TOPIC PARTITION OFFSET"
                              : "usage: groups ID [GROUP]",
                        0);
        if (ntok >= 3)
            cmd->group = tok[2];
        if (!reset)
            return 0;
        cmd->topic = tok[3];
        cmd->part = tok[4];
        if (parse_u64(tok[5].p, tok[5].len, &cmd->offset) != 0)
            return fail(err, SL_STATUS_BAD_REQUEST, "bad offset", 0);
        return 0;
    }
    if (tok_is(c, "auth")) {
        cmd->type = SL_CMD_AUTH;
        if (ntok != 3)
            return fail(err, SL_STATUS_BAD_REQUEST, "usage: auth ID SECRET", 0);
        cmd->secret = tok[2];
        return 0;
    }
    sl_cmd_type_t simple = 0;
    if (tok_is(c, "stats"))
        simple = SL_CMD_STATS;
    else if (tok_is(c, "version"))
        simple = SL_CMD_VERSION;
    else if (tok_is(c, "quit"))
        simple = SL_CMD_QUIT;
    if (simple) {
        cmd->type = simple;
        if (ntok != 2)
            return fail(err, SL_STATUS_BAD_REQUEST, "unexpected argument", 0);
        return 0;
    }
    return fail(err, SL_STATUS_BAD_REQUEST, "unknown command", 0);
}

/* An mput item's decimal length at *q (moved past it). Only on a payload
 * sl_proto_parse() accepted, so the digits are there and bounded. */
static inline size_t item_len(const uint8_t **q) {
    size_t n = 0;
    while (**q >= '0' && **q <= '9')
        n = n * 10 + (size_t)(*(*q)++ - '0');
    return n;
}

/* The rest of an item after its length line's digits (and key): the line
 * end, the n value bytes, their line end. */
static inline int item_value(const uint8_t *q, size_t n, const uint8_t **cursor,
                             const uint8_t **data, size_t *dlen) {
    if (*q == '\r')
        q++;
    q++; /* '\n' */
    *data = q;
    *dlen = n;
    q += n;
    q += *q == '\r' ? 2 : 1;
    *cursor = q;
    return 1;
}

int sl_proto_mput_next(const uint8_t **cursor, const uint8_t *end,
                       const uint8_t **data, size_t *dlen) {
    const uint8_t *q = *cursor;
    if (q >= end)
        return 0;
    size_t n = item_len(&q);
    return item_value(q, n, cursor, data, dlen);
}

int sl_proto_mput_next_keyed(const uint8_t **cursor, const uint8_t *end,
                             const uint8_t **data, size_t *dlen,
                             const uint8_t **key, size_t *klen) {
    const uint8_t *q = *cursor;
    if (q >= end)
        return 0;
    size_t n = item_len(&q);
    *key = NULL;
    *klen = 0;
    if (*q == ' ') {
        /* A keyed item: its key comes first, ended by a line end. */
        q++;
        size_t k = item_len(&q);
        q += *q == '\r' ? 2 : 1;
        *key = q;
        *klen = k;
        q += k;
    }
    return item_value(q, n, cursor, data, dlen);
}
