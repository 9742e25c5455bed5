/*
 * libFuzzer target for the broker's protocol parser, whose oracle is the
 * framing invariant itself (issue 12, item 1): no byte inside a declared
 * payload is ever parsed as a command.
 *
 * The input is parsed as a stream of pipelined requests the way the server
 * does (skipping lines refused non-fatally, stopping at a fatal error or an
 * incomplete request), twice: as an authenticated connection and as one
 * before auth (no payload allowed). Independently of the parser, every line
 * parsing starts at is inspected: a line whose first space-separated token
 * is "put" or "mput" and whose fifth token is a decimal number declares a
 * payload (put: that many bytes and a line end, after a klen=K option's K
 * key bytes and a line end; mput: that many items of
 * "LEN LINE-END <LEN bytes> LINE-END" or, with a record key,
 * "LEN KLEN LINE-END <KLEN bytes> LINE-END <LEN bytes> LINE-END"); where
 * the declaration cannot be
 * walked to its end, the payload runs to the end of the input. The target
 * aborts when a later parse starts inside a declared payload, i.e. when
 * payload bytes would have run as a command. It also checks the parser's
 * other promises: consumed bytes within the input, payloads inside the
 * buffer, "need" beyond what it had, an accepted put's length and an mput's
 * count equal to the declared ones, a put's key as declared, and mput
 * items (and their keys) that walk the payload.
 */
#include "broker/proto.h"
#include "error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_RANGES 4096

typedef struct {
    size_t start, end; /* [start, end): no parse may start in here. */
} range_t;

static int oracle_u64(const uint8_t *p, size_t n, uint64_t *v) {
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

/* The length of a line end at buf[at] ("\n" or "\r\n"), or 0. */
static size_t oracle_eol(const uint8_t *buf, size_t size, size_t at) {
    if (at < size && buf[at] == '\n')
        return 1;
    if (at + 1 < size && buf[at] == '\r' && buf[at + 1] == '\n')
        return 2;
    return 0;
}

/* A span of n bytes at *q followed by a line end: 1 and *q past it, or 0
 * when the input does not hold that. */
static int oracle_span(const uint8_t *buf, size_t size, size_t *q, uint64_t n) {
    if (n > size - *q)
        return 0;
    size_t t = oracle_eol(buf, size, *q + (size_t)n);
    if (t == 0)
        return 0;
    *q += (size_t)n + t;
    return 1;
}

/* Looks at the line starting at buf[off]; when it declares a payload,
 * stores its range in *r and returns 1. *declared is the put's length or
 * the mput's count; *multi says which; *klen is a put's klen= (-1 when
 * none was given). */
static int declared_payload(const uint8_t *buf, size_t size, size_t off,
                            range_t *r, uint64_t *declared, int *multi,
                            int64_t *klen) {
    const uint8_t *nl = memchr(buf + off, '\n', size - off);
    if (nl == NULL)
        return 0;
    size_t line_end = (size_t)(nl - buf) + 1;
    size_t text_end = line_end - 1;
    if (text_end > off && buf[text_end - 1] == '\r')
        text_end--;
    size_t tstart[5], tlen[5], ntok = 0;
    int nklen = 0;
    uint64_t kl = 0;
    for (size_t i = off; i < text_end;) {
        if (buf[i] == ' ') {
            i++;
            continue;
        }
        size_t j = i;
        while (j < text_end && buf[j] != ' ')
            j++;
        if (ntok < 5) {
            tstart[ntok] = i;
            tlen[ntok] = j - i;
        } else if (j - i > 5 && memcmp(buf + i, "klen=", 5) == 0) {
            /* A key option: a bad or repeated one leaves the payload's
             * end unknown (nklen != 1). */
            if (oracle_u64(buf + i + 5, j - i - 5, &kl) != 0)
                nklen++;
            nklen++;
        }
        ntok++;
        i = j;
    }
    if (ntok < 5)
        return 0;
    if (tlen[0] == 3 && memcmp(buf + tstart[0], "put", 3) == 0)
        *multi = 0;
    else if (tlen[0] == 4 && memcmp(buf + tstart[0], "mput", 4) == 0)
        *multi = 1;
    else
        return 0;
    uint64_t n;
    if (oracle_u64(buf + tstart[4], tlen[4], &n) != 0)
        return 0;
    *declared = n;
    *klen = -1;
    r->start = line_end;
    r->end = SIZE_MAX; /* Unless the declaration can be walked. */
    if (!*multi) {
        size_t q = line_end;
        if (nklen > 1 || (nklen == 1 && kl > INT64_MAX))
            return 1;
        if (nklen == 1) {
            *klen = (int64_t)kl;
            if (!oracle_span(buf, size, &q, kl))
                return 1;
        }
        if (oracle_span(buf, size, &q, n))
            r->end = q;
        return 1;
    }
    size_t q = line_end;
    for (uint64_t i = 0; i < n; i++) {
        const uint8_t *e = q < size ? memchr(buf + q, '\n', size - q) : NULL;
        if (e == NULL)
            return 1;
        size_t ll = (size_t)(e - buf) - q;
        if (ll > 0 && buf[q + ll - 1] == '\r')
            ll--;
        const uint8_t *sp = memchr(buf + q, ' ', ll);
        size_t l1 = sp ? (size_t)(sp - (buf + q)) : ll;
        uint64_t il, ikl = 0;
        if (oracle_u64(buf + q, l1, &il) != 0 ||
            (sp && oracle_u64(sp + 1, ll - l1 - 1, &ikl) != 0))
            return 1;
        q = (size_t)(e - buf) + 1;
        if (sp && !oracle_span(buf, size, &q, ikl))
            return 1;
        if (!oracle_span(buf, size, &q, il))
            return 1;
    }
    r->end = q;
    return 1;
}

static void run(const uint8_t *buf, size_t size, int no_payload) {
    sl_proto_limits_t lim;
    sl_proto_default_limits(&lim);
    lim.max_msg = 4096;
    lim.max_request = 8192;
    lim.max_count = 64;
    lim.no_payload = no_payload;
    static range_t ranges[MAX_RANGES];
    size_t nranges = 0;
    size_t off = 0;
    for (int guard = 0; guard < 100000 && off < size; guard++) {
        /* The invariant: this parse does not start inside a payload. */
        for (size_t i = 0; i < nranges; i++)
            if (off >= ranges[i].start && off < ranges[i].end)
                abort();
        range_t r;
        uint64_t declared = 0;
        int multi = 0;
        int64_t klen = -1;
        int has_payload =
            declared_payload(buf, size, off, &r, &declared, &multi, &klen);
        if (has_payload && nranges < MAX_RANGES)
            ranges[nranges++] = r;
        sl_cmd_t cmd;
        sl_proto_err_t err;
        size_t used = 0, need = 0;
        int rc = sl_proto_parse(buf + off, size - off, &lim, &cmd, &used, &need,
                                &err);
        if (rc == SL_EAGAIN) {
            if (need <= size - off)
                abort();
            break;
        }
        if (rc == SL_EPROTO) {
            if (err.code < 400 || err.code > 599 || err.msg == NULL)
                abort();
            if (err.fatal)
                break;
            if (used == 0 || used > size - off)
                abort();
            off += used;
            continue;
        }
        if (rc != 0 || used == 0 || used > size - off)
            abort();
        if (no_payload && (cmd.type == SL_CMD_PUT || cmd.type == SL_CMD_MPUT))
            abort();
        if (cmd.payload != NULL &&
            (cmd.payload < buf + off ||
             cmd.payload + cmd.payload_len > buf + off + used))
            abort();
        if (cmd.type == SL_CMD_PUT &&
            (!has_payload || multi || cmd.payload_len != declared ||
             off + used != r.end))
            abort();
        /* A put's key: as declared, inside the request, before the
         * value; none without klen=. */
        if (cmd.type == SL_CMD_PUT &&
            (klen < 0
                 ? cmd.key != NULL || cmd.has_key
                 : !cmd.has_key || cmd.key == NULL ||
                       cmd.key_len != (uint64_t)klen || cmd.key < buf + off ||
                       cmd.key + cmd.key_len > cmd.payload))
            abort();
        if (cmd.type == SL_CMD_MPUT) {
            if (!has_payload || !multi || cmd.count != declared ||
                off + used != r.end)
                abort();
            const uint8_t *cur = cmd.payload;
            const uint8_t *end = cmd.payload + cmd.payload_len;
            const uint8_t *item, *key;
            size_t ilen, klen2;
            uint64_t n = 0, nkeys = 0;
            while (sl_proto_mput_next_keyed(&cur, end, &item, &ilen, &key,
                                            &klen2)) {
                if (item < cmd.payload || item + ilen > end)
                    abort();
                if (key != NULL && (key < cmd.payload || key + klen2 > item))
                    abort();
                if (key == NULL && klen2 != 0)
                    abort();
                nkeys += key != NULL;
                n++;
            }
            if (n != cmd.count || cur != end || !cmd.has_key != !nkeys)
                abort();
            /* Without keys, the broker's iteration finds the same items. */
            if (!cmd.has_key) {
                const uint8_t *c2 = cmd.payload, *i2 = NULL;
                size_t l2;
                cur = cmd.payload;
                while (sl_proto_mput_next_keyed(&cur, end, &item, &ilen, &key,
                                                &klen2)) {
                    if (sl_proto_mput_next(&c2, end, &i2, &l2) != 1 ||
                        i2 != item || l2 != ilen || c2 != cur)
                        abort();
                }
                if (sl_proto_mput_next(&c2, end, &i2, &l2) != 0)
                    abort();
            }
        }
        off += used;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* A private copy so reads past the end are caught by ASan. */
    uint8_t *buf = malloc(size ? size : 1);
    if (buf == NULL)
        return 0;
    memcpy(buf, data, size);
    run(buf, size, 0);
    run(buf, size, 1);
    free(buf);
    return 0;
}
