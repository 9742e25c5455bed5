/*
 * Unit tests for MariaDB's COMPRESSED columns (binlog types 140
 * BLOB_COMPRESSED and 141 VARCHAR_COMPRESSED). The events are built by
 * hand: a MariaDB format description, a table map with these columns and
 * FULL optional metadata (or none, as MINIMAL without a schema history
 * leaves it), then rows whose values are stored the ways the server
 * stores them (as is behind a 0 header byte, raw deflate, zlib-wrapped)
 * and the ways a damaged binlog could (unknown method, impossible length
 * field, a stream that is not deflate, lengths that disagree, bytes after
 * the stream, a value cut short). The compressed values are made with
 * zlib here, independently of the decoder.
 */
#include "bytes.h"
#include "capture/decoder/binlog.h"
#include "error.h"
#include "json.h"
#include "sl_test.h"
#include "test_capture_binlog.h"
#include "test_capture_lib.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

typedef struct {
    sl_binlog_t *dec;
    sl_buf_t ev;
    uint32_t pos;
    sl_buf_t json; /* The last row's JSON. */
    int rows;
} stream_t;

static int collect_cb(void *ctx, const sl_change_t *chg) {
    stream_t *s = ctx;
    if (chg->kind != SL_CHANGE_ROW)
        return 0;
    sl_buf_reset(&s->json);
    sl_buf_append(&s->json, chg->json, chg->json_len);
    s->rows++;
    return 0;
}

/* Frames body as an event and feeds it; returns the decoder's answer. */
static int feed(stream_t *s, uint8_t type, const uint8_t *body, size_t len) {
    ct_binlog_event(&s->ev, type, body, len, s->pos);
    int rc = sl_binlog_feed(s->dec, s->ev.data, s->ev.len, s->pos, 1);
    s->pos += (uint32_t)s->ev.len;
    return rc;
}

static void stream_open(stream_t *s) {
    memset(s, 0, sizeof *s);
    sl_binlog_opts_t opts;
    memset(&opts, 0, sizeof opts);
    opts.column_types = 1;
    SL_CHECK_OK(sl_binlog_new(&s->dec, &opts, collect_cb, s));
    SL_CHECK_OK(sl_binlog_set_file(s->dec, "mariadb-bin.000001"));
    uint8_t fde[CT_FDE_LEN];
    ct_binlog_fde(fde, "10.11.6-MariaDB-log");
    s->pos = 4;
    if (feed(s, SL_EV_FORMAT_DESCRIPTION, fde, sizeof fde) != 0)
        sl_test_fail(__FILE__, __LINE__, "%s", sl_binlog_errmsg(s->dec));
}

static void stream_close(stream_t *s) {
    sl_binlog_free(s->dec);
    sl_buf_free(&s->ev);
    sl_buf_free(&s->json);
}

/* TABLE_MAP d.t as MariaDB 10.11 writes it for
 *   id INT, v VARCHAR(100) COMPRESSED (utf8mb4), b BLOB COMPRESSED,
 *   tt TINYTEXT CHARACTER SET latin1 COMPRESSED, PRIMARY KEY (id)
 * (types and metadata as seen in a real binlog: VARCHAR's metadata is the
 * maximum bytes plus the header byte, 4 * 100 + 1). With full set, the
 * optional metadata of binlog_row_metadata=FULL follows: signedness,
 * default charset utf8mb4 with b binary and tt latin1 (compressed columns
 * count as character columns), column names, primary key. */
static size_t tablemap(uint8_t *p, int full, uint8_t blob_meta) {
    static const uint8_t head[] = {
        1, 0,   0,   0,   0,   0, 1, 0, /* table id 1, flags */
        1, 'd', 0,   1,   't', 0,       /* db, table */
        4, 3,   141, 140, 140,          /* LONG, VARCHAR_C, 2 x BLOB_C */
        4, 145, 1,                      /* v: 401 bytes */
    };
    size_t n = sizeof head;
    memcpy(p, head, n);
    p[n++] = blob_meta; /* b: length prefix bytes */
    p[n++] = 1;         /* tt: TINYTEXT */
    p[n++] = 0x0e;      /* v, b, tt nullable */
    if (!full)
        return n;
    static const uint8_t opt[] = {
        1, 1,   0x00,                           /* signedness */
        2, 5,   45,   1,   63,  2, 8,           /* charsets */
        4, 10,  2,    'i', 'd', 1, 'v', 1, 'b', /* names */
        2, 't', 't',  8,   1,   0,              /* primary key: id */
    };
    memcpy(p + n, opt, sizeof opt);
    return n + sizeof opt;
}

/* A WRITE_ROWS event of one row of d.t: id 1 and the stored forms of v, b
 * and tt (NULL when its pointer is NULL), each behind its length prefix. */
static int insert(stream_t *s, const sl_buf_t *v, const sl_buf_t *b,
                  unsigned blob_meta, const sl_buf_t *tt) {
    sl_buf_t body = SL_BUF_INIT;
    const uint8_t head[] = {1, 0, 0, 0, 0, 0, 1, 0, 2, 0, 4, 0x0f};
    sl_buf_append(&body, head, sizeof head);
    const sl_buf_t *vals[3] = {v, b, tt};
    unsigned lenb[3] = {2, blob_meta, 1};
    uint8_t nulls = 0;
    for (int i = 0; i < 3; i++)
        if (vals[i] == NULL)
            nulls |= (uint8_t)(1u << (i + 1));
    sl_buf_append_u8(&body, nulls);
    uint8_t id[4];
    sl_put_u32le(id, 1);
    sl_buf_append(&body, id, 4);
    for (int i = 0; i < 3; i++) {
        if (vals[i] == NULL)
            continue;
        uint8_t l[4];
        sl_put_u32le(l, (uint32_t)vals[i]->len);
        sl_buf_append(&body, l, lenb[i]);
        sl_buf_append(&body, vals[i]->data, vals[i]->len);
    }
    SL_CHECK_OK(sl_buf_error(&body));
    int rc = feed(s, SL_EV_WRITE_ROWS, body.data, body.len);
    sl_buf_free(&body);
    return rc;
}

/* The stored form of a value left as is: header byte 0, the bytes. */
static void stored(sl_buf_t *out, const void *p, size_t n) {
    sl_buf_reset(out);
    sl_buf_append_u8(out, 0x00);
    sl_buf_append(out, p, n);
}

/* The stored form of a value compressed with zlib: header 0x80 | n (with
 * 8 added for a raw deflate stream), the length in n bytes big-endian,
 * then the stream. */
static void deflated(sl_buf_t *out, const void *p, size_t n, int raw) {
    unsigned lenlen = n < 0x100 ? 1 : n < 0x10000 ? 2 : n < 0x1000000 ? 3 : 4;
    sl_buf_reset(out);
    sl_buf_append_u8(out, (uint8_t)(0x80 | (raw ? 8 : 0) | lenlen));
    uint8_t l[4];
    for (unsigned i = 0; i < lenlen; i++)
        l[i] = (uint8_t)(n >> (8 * (lenlen - 1 - i)));
    sl_buf_append(out, l, lenlen);
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    SL_CHECK_INT(deflateInit2(&zs, 6, Z_DEFLATED, raw ? -MAX_WBITS : MAX_WBITS,
                              8, Z_DEFAULT_STRATEGY),
                 Z_OK);
    size_t bound = deflateBound(&zs, (uLong)n);
    SL_CHECK_OK(sl_buf_reserve(out, bound));
    zs.next_in = (Bytef *)(uintptr_t)p;
    zs.avail_in = (uInt)n;
    zs.next_out = out->data + out->len;
    zs.avail_out = (uInt)bound;
    SL_CHECK_INT(deflate(&zs, Z_FINISH), Z_STREAM_END);
    out->len += zs.total_out;
    deflateEnd(&zs);
}

/* The last row, parsed; it must validate against the change-event JSON
 * Schema. */
static ct_node_t *last_row(stream_t *s) {
    ct_node_t *ev = ct_parse((const char *)s->json.data, s->json.len);
    SL_CHECK(ev != NULL);
    ct_node_t *schema = ct_load_schema();
    SL_CHECK(schema != NULL);
    char why[300];
    if (!ct_validate(schema, ev, why, sizeof(why), "$"))
        sl_test_fail(__FILE__, __LINE__, "schema: %s", why);
    ct_free(schema);
    return ev;
}

static const char *after_str(const ct_node_t *ev, const char *col) {
    const ct_node_t *v = ct_get(ct_get(ev, "after"), col);
    SL_CHECK(v != NULL);
    return v->s;
}

SL_TEST(compressed_columns_stored_compressed_empty_null) {
    stream_t s;
    stream_open(&s);
    uint8_t tm[128];
    size_t tn = tablemap(tm, 1, 2);
    sl_buf_t v = SL_BUF_INIT, b = SL_BUF_INIT, tt = SL_BUF_INIT;
    const char *txt = "short ✓";
    const char *latin1 = "caf\xe9";

    /* Short values are stored as is behind a 0 header byte. */
    stored(&v, txt, strlen(txt));
    stored(&b, "\x00\x01\xff", 3);
    stored(&tt, latin1, 4);
    SL_CHECK_OK(feed(&s, SL_EV_TABLE_MAP, tm, tn));
    SL_CHECK_OK(insert(&s, &v, &b, 2, &tt));
    ct_node_t *ev = last_row(&s);
    SL_CHECK_STR(after_str(ev, "v"), txt);
    SL_CHECK_STR(ct_get(ct_get(ct_get(ev, "after"), "b"), "base64")->s, "AAH/");
    SL_CHECK_STR(after_str(ev, "tt"), "café");
    const ct_node_t *types = ct_get(ev, "types");
    SL_CHECK_STR(ct_get(types, "v")->s, "varchar(400) compressed");
    SL_CHECK_STR(ct_get(types, "b")->s, "blob compressed");
    SL_CHECK_STR(ct_get(types, "tt")->s, "tinytext compressed");
    SL_CHECK_STR(ct_get(ev, "pk")->kids[0]->s, "id");
    ct_free(ev);

    /* Compressed: raw deflate (the server's default), zlib-wrapped, and a
     * multi-byte length. */
    char big[600];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = "abcd"[i % 4];
    deflated(&v, big, 400, 1);
    deflated(&b, big, sizeof big, 0);
    deflated(&tt, big, 255, 1);
    SL_CHECK(v.len < 400 && b.len < sizeof big);
    SL_CHECK_OK(feed(&s, SL_EV_TABLE_MAP, tm, tn));
    SL_CHECK_OK(insert(&s, &v, &b, 2, &tt));
    ev = last_row(&s);
    SL_CHECK_MEM(after_str(ev, "v"), strlen(after_str(ev, "v")), big, 400);
    sl_buf_t want = SL_BUF_INIT;
    SL_CHECK_OK(sl_base64_encode(&want, big, sizeof big));
    const char *got = ct_get(ct_get(ct_get(ev, "after"), "b"), "base64")->s;
    SL_CHECK_MEM(got, strlen(got), want.data, want.len);
    SL_CHECK_MEM(after_str(ev, "tt"), strlen(after_str(ev, "tt")), big, 255);
    ct_free(ev);

    /* Empty values have no header byte at all; NULL is null. */
    sl_buf_reset(&v);
    sl_buf_reset(&tt);
    SL_CHECK_OK(feed(&s, SL_EV_TABLE_MAP, tm, tn));
    SL_CHECK_OK(insert(&s, &v, NULL, 2, &tt));
    ev = last_row(&s);
    SL_CHECK_STR(after_str(ev, "v"), "");
    SL_CHECK(ct_get(ct_get(ev, "after"), "b")->type == CT_NULL);
    SL_CHECK_STR(after_str(ev, "tt"), "");
    ct_free(ev);

    /* A compressed value of length 0 (never written, but well formed). */
    deflated(&v, "", 0, 1);
    SL_CHECK_OK(feed(&s, SL_EV_TABLE_MAP, tm, tn));
    SL_CHECK_OK(insert(&s, &v, NULL, 2, NULL));
    ev = last_row(&s);
    SL_CHECK_STR(after_str(ev, "v"), "");
    ct_free(ev);
    SL_CHECK_INT(s.rows, 4);

    sl_buf_free(&want);
    sl_buf_free(&v);
    sl_buf_free(&b);
    sl_buf_free(&tt);
    stream_close(&s);
}

/* A LONGBLOB COMPRESSED of 5 MiB (a 3-byte length in the header) decodes
 * whole. */
SL_TEST(compressed_columns_large_blob) {
    stream_t s;
    stream_open(&s);
    uint8_t tm[128];
    size_t tn = tablemap(tm, 1, 4);
    size_t n = 5u << 20;
    uint8_t *big = malloc(n);
    SL_CHECK(big != NULL);
    uint32_t x = 1;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        big[i] = (uint8_t)((x >> 16) & 0x0f); /* Compressible, not trivial. */
    }
    sl_buf_t b = SL_BUF_INIT;
    deflated(&b, big, n, 1);
    SL_CHECK_UINT(b.data[0], 0x8b);
    SL_CHECK_OK(feed(&s, SL_EV_TABLE_MAP, tm, tn));
    if (insert(&s, NULL, &b, 4, NULL) != 0)
        sl_test_fail(__FILE__, __LINE__, "%s", sl_binlog_errmsg(s.dec));
    ct_node_t *ev = last_row(&s);
    sl_buf_t want = SL_BUF_INIT;
    SL_CHECK_OK(sl_base64_encode(&want, big, n));
    const ct_node_t *got = ct_get(ct_get(ct_get(ev, "after"), "b"), "base64");
    SL_CHECK(got != NULL);
    SL_CHECK_MEM(got->s, got->slen, want.data, want.len);
    SL_CHECK_STR(ct_get(ct_get(ev, "types"), "b")->s, "longblob compressed");
    ct_free(ev);
    sl_buf_free(&want);
    sl_buf_free(&b);
    free(big);
    stream_close(&s);
}

/* Without optional metadata (MINIMAL and no schema history) the columns
 * are still decoded, positionally, as text of unknown charset. */
SL_TEST(compressed_columns_without_metadata) {
    stream_t s;
    stream_open(&s);
    uint8_t tm[128];
    size_t tn = tablemap(tm, 0, 2);
    sl_buf_t v = SL_BUF_INIT, b = SL_BUF_INIT;
    const char *txt = "plain text that is long enough to compress, "
                      "plain text that is long enough to compress";
    deflated(&v, txt, strlen(txt), 1);
    stored(&b, "abc", 3);
    SL_CHECK_OK(feed(&s, SL_EV_TABLE_MAP, tm, tn));
    SL_CHECK_OK(insert(&s, &v, &b, 2, NULL));
    ct_node_t *ev = last_row(&s);
    SL_CHECK_STR(after_str(ev, "@2"), txt);
    SL_CHECK_STR(after_str(ev, "@3"), "abc");
    SL_CHECK_STR(ct_get(ct_get(ev, "types"), "@3")->s,
                 "blob_or_text compressed");
    ct_free(ev);
    sl_buf_free(&v);
    sl_buf_free(&b);
    stream_close(&s);
}

/* Feeds one row whose v holds bad, and checks that it is refused with an
 * error naming the column and saying want, and that no row came out. */
static void refused(const sl_buf_t *bad, const char *want) {
    stream_t s;
    stream_open(&s);
    uint8_t tm[128];
    size_t tn = tablemap(tm, 1, 2);
    SL_CHECK_OK(feed(&s, SL_EV_TABLE_MAP, tm, tn));
    int rc = insert(&s, bad, NULL, 2, NULL);
    const char *msg = sl_binlog_errmsg(s.dec);
    if (rc == 0 || strstr(msg, want) == NULL ||
        (strstr(msg, "table d.t column v") == NULL &&
         strstr(msg, "overruns") == NULL))
        sl_test_fail(__FILE__, __LINE__, "rc %d, error \"%s\", wanted \"%s\"",
                     rc, msg, want);
    SL_CHECK_INT(s.rows, 0);
    stream_close(&s);
}

SL_TEST(compressed_columns_corrupt_values_are_refused) {
    const char *txt = "a value that is long enough to be compressed, "
                      "a value that is long enough to be compressed";
    size_t tl = strlen(txt);
    sl_buf_t v = SL_BUF_INIT;

    /* A method other than 0 (as is) and 8 (zlib). */
    deflated(&v, txt, tl, 1);
    v.data[0] = (uint8_t)((v.data[0] & 0x0f) | 0x40);
    refused(&v, "compression method 4 is unknown");
    /* A length field of 0 or of more than 4 bytes. */
    deflated(&v, txt, tl, 1);
    v.data[0] = 0x88;
    refused(&v, "length field of 0 bytes is impossible");
    v.data[0] = 0x8d;
    refused(&v, "length field of 5 bytes is impossible");
    /* A header with its length field cut off. */
    sl_buf_reset(&v);
    sl_buf_append(&v, "\x8a\x01", 2);
    refused(&v, "length field of 2 bytes is impossible");
    /* More than the column holds (VARCHAR(100) utf8mb4: 400 bytes). */
    sl_buf_reset(&v);
    sl_buf_append(&v, "\x8a\x01\x91", 3);
    refused(&v, "claims 401 bytes, more than the column holds (400)");
    /* Not a deflate stream. */
    sl_buf_reset(&v);
    sl_buf_append(&v, "\x89\x10\xff\xff\xff\xff", 6);
    refused(&v, "does not inflate to the 16 bytes its header says");
    /* A zlib-wrapped stream read as raw, and a raw one as wrapped. */
    deflated(&v, txt, tl, 0);
    v.data[0] |= 8;
    refused(&v, "does not inflate");
    deflated(&v, txt, tl, 1);
    v.data[0] &= (uint8_t)~8;
    refused(&v, "does not inflate");
    /* A flipped bit inside a zlib-wrapped stream (its Adler-32 fails). */
    deflated(&v, txt, tl, 0);
    v.data[v.len - 6] ^= 0x10;
    refused(&v, "does not inflate");
    /* The declared length disagrees with the stream: longer, shorter. */
    deflated(&v, txt, tl, 1);
    v.data[1] = (uint8_t)(tl + 1);
    refused(&v, "inflates to");
    deflated(&v, txt, tl, 1);
    v.data[1] = (uint8_t)(tl - 1);
    refused(&v, "inflates to");
    /* Bytes after the end of the stream. */
    deflated(&v, txt, tl, 1);
    sl_buf_append(&v, "junk", 4);
    refused(&v, "4 stored bytes follow the stream");
    /* The stream cut short. */
    deflated(&v, txt, tl, 1);
    v.len -= 3;
    refused(&v, "does not inflate");
    sl_buf_free(&v);
}

/* A value whose length prefix runs past the end of the event. */
SL_TEST(compressed_columns_truncated_event_is_refused) {
    stream_t s;
    stream_open(&s);
    uint8_t tm[128];
    size_t tn = tablemap(tm, 1, 2);
    SL_CHECK_OK(feed(&s, SL_EV_TABLE_MAP, tm, tn));
    const uint8_t body[] = {1,    0,    0, 0, 0, 0, 1,    0,    2,    0,   4,
                            0x0f, 0x0c, 1, 0, 0, 0, 0x20, 0x00, 0x89, 0x10};
    SL_CHECK(feed(&s, SL_EV_WRITE_ROWS, body, sizeof body) != 0);
    SL_CHECK(strstr(sl_binlog_errmsg(s.dec), "overruns the event") != NULL);
    SL_CHECK_INT(s.rows, 0);
    stream_close(&s);
}

/* Table map metadata a server never writes for these types. */
SL_TEST(compressed_columns_bad_table_map_metadata) {
    stream_t s;
    stream_open(&s);
    uint8_t tm[128];
    size_t tn = tablemap(tm, 1, 5);
    SL_CHECK(feed(&s, SL_EV_TABLE_MAP, tm, tn) != 0);
    SL_CHECK(strstr(sl_binlog_errmsg(s.dec),
                    "column 3: compressed BLOB with a 5-byte length") != NULL);
    stream_close(&s);
    stream_open(&s);
    tn = tablemap(tm, 1, 2);
    tm[20] = 0; /* v: VARCHAR metadata 0 */
    tm[21] = 0;
    SL_CHECK(feed(&s, SL_EV_TABLE_MAP, tm, tn) != 0);
    SL_CHECK(strstr(sl_binlog_errmsg(s.dec),
                    "column 2: compressed VARCHAR of 0 bytes") != NULL);
    stream_close(&s);
}
