/*
 * Unit tests for row routing keys and column exclusion, which the decoder
 * applies while it renders a row (sl_binlog_opts_t.key_hash and
 * .column_keep). The events are built by hand: a format description, a
 * table map with column names and a primary key, and rows events.
 */
#include "bytes.h"
#include "capture/decoder/binlog.h"
#include "error.h"
#include "jsonread.h"
#include "sl_test.h"
#include "test_capture_binlog.h"

#include <string.h>

typedef struct {
    sl_buf_t json;   /* The last row's JSON. */
    uint64_t hash;   /* Its routing hash. */
    int pk_excluded; /* Whether it had an excluded primary-key column. */
    int rows;
} rows_t;

static int collect_cb(void *ctx, const sl_change_t *chg) {
    rows_t *r = ctx;
    if (chg->kind != SL_CHANGE_ROW)
        return 0;
    sl_buf_reset(&r->json);
    sl_buf_append(&r->json, chg->json, chg->json_len);
    r->hash = chg->key_hash;
    r->pk_excluded = chg->pk_excluded;
    r->rows++;
    return 0;
}

/* An independent FNV-1a: the routing hash is FNV-1a over the JSON text of
 * the primary-key values, each followed by a NUL byte. */
static uint64_t fnv1a(const void *data, size_t len) {
    const unsigned char *p = data;
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

typedef struct {
    sl_binlog_t *dec;
    sl_buf_t ev;
    uint32_t pos;
    rows_t rows;
} stream_t;

/* Frames body as an event and feeds it. */
static void feed(stream_t *s, uint8_t type, const uint8_t *body, size_t len) {
    ct_binlog_event(&s->ev, type, body, len, s->pos);
    int rc = sl_binlog_feed(s->dec, s->ev.data, s->ev.len, s->pos, 1);
    if (rc != 0)
        sl_test_fail(__FILE__, __LINE__, "%s", sl_binlog_errmsg(s->dec));
    s->pos += (uint32_t)s->ev.len;
}

/* TABLE_MAP shop.u (id INT, k VARCHAR(4), email VARCHAR(9), ssn
 * VARCHAR(3)), primary key (id, k), as table id 1. */
static const uint8_t tmap_u[] = {
    1,    0,   0,    0,   0,   0,   1,   0,      /* table id 1, flags */
    4,    's', 'h',  'o', 'p', 0,   1,   'u', 0, /* db, table */
    4,    3,   15,   15,  15,                    /* LONG, 3 x VARCHAR */
    6,    4,   0,    9,   0,   3,   0,           /* VARCHAR max lengths */
    0x0e,                                        /* k, email, ssn nullable */
    1,    1,   0x00,                             /* signedness: id signed */
    4,    15,  2,    'i', 'd', 1,   'k', 5,   'e',
    'm',  'a', 'i',  'l', 3,   's', 's', 'n', /* column names */
    8,    2,   0,    1,                       /* primary key: id, k */
};

/* TABLE_MAP shop.g (id VARCHAR(4)), primary key (id), as table id 2. */
static const uint8_t tmap_g[] = {
    2, 0, 0,  0, 0, 0, 1,    0, 4, 's', 'h', 'o', 'p', 0, 1, 'g',
    0, 1, 15, 2, 4, 0, 0x00, 4, 3, 2,   'i', 'd', 8,   1, 0,
};

/* TABLE_MAP shop.n (a INT, b VARCHAR(4)) without a primary key, as table
 * id 3. */
static const uint8_t tmap_n[] = {
    3, 0, 0,  0, 0, 0, 1,    0, 4, 's',  'h', 'o', 'p', 0,   1, 'n', 0,
    2, 3, 15, 2, 4, 0, 0x02, 1, 1, 0x00, 4,   4,   1,   'a', 1, 'b',
};

/* Appends one image of shop.u: id, k, email, ssn (all present). */
static size_t image_u(uint8_t *p, int32_t id, const char *k, const char *email,
                      const char *ssn) {
    size_t n = 0;
    p[n++] = 0x00; /* No NULLs. */
    sl_put_u32le(p + n, (uint32_t)id);
    n += 4;
    const char *v[3] = {k, email, ssn};
    for (int i = 0; i < 3; i++) {
        p[n++] = (uint8_t)strlen(v[i]);
        memcpy(p + n, v[i], strlen(v[i]));
        n += strlen(v[i]);
    }
    return n;
}

/* A rows event (WRITE 30, UPDATE 31, DELETE 32) of one row of table id
 * tid with ncols columns, all present. */
static void rows_event(stream_t *s, uint8_t type, uint8_t tid, uint8_t ncols,
                       const uint8_t *img, size_t len, const uint8_t *img2,
                       size_t len2) {
    uint8_t body[256];
    size_t n = 0;
    const uint8_t head[] = {tid, 0, 0, 0, 0, 0, 1, 0, 2, 0};
    memcpy(body, head, sizeof head);
    n += sizeof head;
    body[n++] = ncols;
    body[n++] = (uint8_t)((1u << ncols) - 1);
    if (type == SL_EV_UPDATE_ROWS)
        body[n++] = (uint8_t)((1u << ncols) - 1);
    memcpy(body + n, img, len);
    n += len;
    if (img2 != NULL) {
        memcpy(body + n, img2, len2);
        n += len2;
    }
    feed(s, type, body, n);
}

static void stream_open(stream_t *s,
                        int (*keep)(void *, const char *, size_t, const char *,
                                    size_t, const char *, size_t)) {
    memset(s, 0, sizeof *s);
    sl_binlog_opts_t opts;
    memset(&opts, 0, sizeof opts);
    opts.column_types = 1;
    opts.key_hash = 1;
    opts.column_keep = keep;
    SL_CHECK_OK(sl_binlog_new(&s->dec, &opts, collect_cb, &s->rows));
    SL_CHECK_OK(sl_binlog_set_file(s->dec, "synthetic.000001"));
    /* A MySQL 8 format description without post-header lengths (the
     * decoder's defaults apply), CRC32 checksums. */
    uint8_t fde[2 + 50 + 4 + 1 + 1];
    memset(fde, 0, sizeof fde);
    sl_put_u16le(fde, 4);
    memcpy(fde + 2, "8.0.36", 6);
    fde[56] = 19;
    fde[57] = 1;
    s->pos = 4;
    feed(s, SL_EV_FORMAT_DESCRIPTION, fde, sizeof fde);
}

static void stream_close(stream_t *s) {
    sl_binlog_free(s->dec);
    sl_buf_free(&s->ev);
    sl_buf_free(&s->rows.json);
}

static uint64_t insert_u(stream_t *s, int32_t id, const char *k) {
    uint8_t img[64];
    size_t n = image_u(img, id, k, "x@y", "123");
    feed(s, SL_EV_TABLE_MAP, tmap_u, sizeof tmap_u);
    rows_event(s, SL_EV_WRITE_ROWS, 1, 4, img, n, NULL, 0);
    return s->rows.hash;
}

SL_TEST(rowjson_key_hash_follows_the_primary_key) {
    stream_t s;
    stream_open(&s, NULL);
    /* Every change of key (7,'a') hashes alike, whatever else differs. */
    uint64_t h = insert_u(&s, 7, "a");
    SL_CHECK_UINT(h, fnv1a("7\0a\0", 4));
    uint8_t before[64], after[64];
    size_t nb = image_u(before, 7, "a", "old", "1");
    size_t na = image_u(after, 7, "a", "new", "2");
    feed(&s, SL_EV_TABLE_MAP, tmap_u, sizeof tmap_u);
    rows_event(&s, SL_EV_UPDATE_ROWS, 1, 4, before, nb, after, na);
    SL_CHECK_UINT(s.rows.hash, h);
    nb = image_u(before, 7, "a", "zzz", "9");
    feed(&s, SL_EV_TABLE_MAP, tmap_u, sizeof tmap_u);
    rows_event(&s, SL_EV_DELETE_ROWS, 1, 4, before, nb, NULL, 0);
    SL_CHECK_UINT(s.rows.hash, h);
    SL_CHECK(insert_u(&s, 7, "b") != h);
    /* ("7a") and ("7","a") must not collide by concatenation. */
    const uint8_t glued[] = {0x00, 2, '7', 'a'};
    feed(&s, SL_EV_TABLE_MAP, tmap_g, sizeof tmap_g);
    rows_event(&s, SL_EV_WRITE_ROWS, 2, 1, glued, sizeof glued, NULL, 0);
    SL_CHECK_UINT(s.rows.hash, fnv1a("7a\0", 3));
    SL_CHECK(s.rows.hash != h);
    /* A table without a primary key hashes its whole image. */
    const uint8_t keyless[] = {0x00, 5, 0, 0, 0, 1, 'q'};
    feed(&s, SL_EV_TABLE_MAP, tmap_n, sizeof tmap_n);
    rows_event(&s, SL_EV_WRITE_ROWS, 3, 2, keyless, sizeof keyless, NULL, 0);
    const char *img = "{\"a\":5,\"b\":\"q\"}";
    SL_CHECK_UINT(s.rows.hash, fnv1a(img, strlen(img)));
    SL_CHECK_UINT(s.rows.rows, 6);
    stream_close(&s);
}

static int drop_pii(void *ctx, const char *db, size_t db_len, const char *table,
                    size_t table_len, const char *name, size_t len) {
    (void)ctx, (void)db, (void)db_len, (void)table, (void)table_len;
    return !((len == 3 && memcmp(name, "ssn", 3) == 0) ||
             (len == 5 && memcmp(name, "email", 5) == 0));
}

static int drop_id(void *ctx, const char *db, size_t db_len, const char *table,
                   size_t table_len, const char *name, size_t len) {
    (void)ctx, (void)db, (void)db_len, (void)table, (void)table_len;
    return !(len == 2 && memcmp(name, "id", 2) == 0);
}

SL_TEST(rowjson_drops_excluded_columns) {
    stream_t s;
    stream_open(&s, drop_pii);
    uint64_t h = insert_u(&s, 7, "a");
    const char *text;
    SL_CHECK_OK(sl_buf_cstr(&s.rows.json, &text));
    SL_CHECK(strstr(text, "{\"kind\":\"row\",\"op\":\"insert\",\"db\":\"shop\","
                          "\"table\":\"u\",\"row\":0,\"pk\":[\"id\",\"k\"],"
                          "\"before\":null,\"after\":{\"id\":7,\"k\":\"a\"},"
                          "\"types\":{\"id\":\"int\",\"k\":\"varchar(4)\"},"
                          "\"src\":") == text);
    SL_CHECK(strstr(text, "email") == NULL && strstr(text, "ssn") == NULL);
    SL_CHECK(!s.rows.pk_excluded);
    /* The key hash is unchanged by dropping columns outside the key. */
    SL_CHECK_UINT(h, fnv1a("7\0a\0", 4));
    /* The result is valid JSON. */
    sl_jr_doc_t doc;
    sl_jr_init(&doc);
    SL_CHECK_OK(sl_jr_parse(&doc, text, s.rows.json.len));
    sl_jr_free(&doc);
    stream_close(&s);
    /* A primary-key column cannot be dropped: the row says so, and the
     * service refuses it. */
    stream_open(&s, drop_id);
    insert_u(&s, 7, "a");
    SL_CHECK(s.rows.pk_excluded);
    stream_close(&s);
}
