/*
 * The decoder against the harness MariaDB (ROW format, FULL row image,
 * FULL row metadata): one table per type family with edge values is
 * written, the binlog files are decoded with the decoder, and every row
 * image is compared, column by column, with what SELECT returns for the
 * same row. An UPDATE and a DELETE check the before images.
 *
 * Comparison kinds (one letter per column):
 *   n  exact text: our JSON number or string equals the SELECT text
 *   f  FLOAT: equal within float precision
 *   d  DOUBLE: the same double
 *   b  binary: our {"base64": ...} decodes to the SELECT bytes
 *   g  geometry: our {"srid":N,"wkb":"hex"} as "N:hex"
 */
#include "../unit/test_capture_lib.h"
#include "bytes.h"
#include "capture/decoder/binlog.h"
#include "harness.h"
#include "sl_test.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>

#define DB "sl_capture_it"

typedef struct {
    const char *table;
    const char *cols;   /* Column definitions after "id INT PRIMARY KEY". */
    const char *select; /* Expressions, in column order. */
    const char *kinds;
    const char *rows[8]; /* Row values after the id. */
} family_t;

static const family_t families[] = {
    {"ints",
     "ti TINYINT, tu TINYINT UNSIGNED, si SMALLINT, su SMALLINT UNSIGNED, "
     "mi MEDIUMINT, mu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED, "
     "bi BIGINT, bu BIGINT UNSIGNED",
     "ti, tu, si, su, mi, mu, i, iu, bi, bu",
     "nnnnnnnnnn",
     {"-128, 0, -32768, 0, -8388608, 0, -2147483648, 0, "
      "-9223372036854775808, 0",
      "127, 255, 32767, 65535, 8388607, 16777215, 2147483647, 4294967295, "
      "9223372036854775807, 18446744073709551615",
      "0, 1, -1, 1, -1, 1, -1, 1, -1, 1",
      "NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL", NULL}},
    {"reals",
     "f FLOAT, d DOUBLE, d65 DECIMAL(65,30), d10 DECIMAL(10,0), "
     "d5 DECIMAL(5,5), d18 DECIMAL(18,9), d38 DECIMAL(65,38)",
     "f, d, d65, d10, d5, d18, d38",
     "fdnnnnn", /* MariaDB allows a scale up to 38 (MySQL: 30). */
     {"3.40282e38, 1.7976931348623157e308, "
      "99999999999999999999999999999999999.999999999999999999999999999999, "
      "9999999999, 0.99999, 999999999.999999999, "
      "999999999999999999999999999.99999999999999999999999999999999999999",
      "-1.17549e-38, -2.2250738585072014e-308, "
      "-99999999999999999999999999999999999.999999999999999999999999999999, "
      "-9999999999, -0.99999, -0.000000001, "
      "-999999999999999999999999999.99999999999999999999999999999999999999",
      "0, 0, 0, 0, 0, 0, 0",
      "1.5, 0.1, 1.5, -1, 0.00001, 123.000000001, "
      "0.00000000000000000000000000000000000001",
      "NULL, NULL, NULL, NULL, NULL, NULL, NULL", NULL}},
    {"temporal",
     "dd DATE, dt0 DATETIME(0), dt1 DATETIME(1), dt2 DATETIME(2), "
     "dt3 DATETIME(3), dt4 DATETIME(4), dt5 DATETIME(5), dt6 DATETIME(6), "
     "t0 TIME(0), t1 TIME(1), t2 TIME(2), t3 TIME(3), t4 TIME(4), "
     "t5 TIME(5), t6 TIME(6), ts0 TIMESTAMP(0) NULL DEFAULT NULL, "
     "ts1 TIMESTAMP(1) NULL DEFAULT NULL, ts3 TIMESTAMP(3) NULL DEFAULT "
     "NULL, ts6 TIMESTAMP(6) NULL DEFAULT NULL, y YEAR",
     "dd, dt0, dt1, dt2, dt3, dt4, dt5, dt6, t0, t1, t2, t3, t4, t5, t6, "
     "ts0, ts1, ts3, ts6, y",
     "nnnnnnnnnnnnnnnnnnnd", /* YEAR 0 selects as "0000". */
     {"'0000-00-00', '0000-00-00 00:00:00', '0000-00-00 00:00:00.0', "
      "'0000-00-00 00:00:00', '0000-00-00 00:00:00', '0000-00-00 00:00:00',"
      " '0000-00-00 00:00:00', '0000-00-00 00:00:00', '00:00:00', "
      "'00:00:00', '00:00:00', '00:00:00', '00:00:00', '00:00:00', "
      "'00:00:00', '0000-00-00 00:00:00', '0000-00-00 00:00:00', "
      "'0000-00-00 00:00:00', '0000-00-00 00:00:00', 0",
      "'1000-01-01', '1000-01-01 00:00:00', '1000-01-01 00:00:00.1', "
      "'1000-01-01 00:00:00.01', '1000-01-01 00:00:00.001', "
      "'1000-01-01 00:00:00.0001', '1000-01-01 00:00:00.00001', "
      "'1000-01-01 00:00:00.000001', '-838:59:59', '-838:59:58.9', "
      "'-838:59:58.99', '-838:59:58.999', '-838:59:58.9999', "
      "'-838:59:58.99999', '-838:59:58.999999', '1970-01-01 00:00:01', "
      "'1970-01-01 00:00:01.1', '1970-01-01 00:00:01.001', "
      "'1970-01-01 00:00:01.000001', 1901",
      "'9999-12-31', '9999-12-31 23:59:59', '9999-12-31 23:59:59.9', "
      "'9999-12-31 23:59:59.99', '9999-12-31 23:59:59.999', "
      "'9999-12-31 23:59:59.9999', '9999-12-31 23:59:59.99999', "
      "'9999-12-31 23:59:59.999999', '838:59:59', '838:59:59.9', "
      "'838:59:59.99', '838:59:59.999', '838:59:59.9999', "
      "'838:59:59.99999', '838:59:59.999999', '2038-01-19 03:14:07', "
      "'2038-01-19 03:14:07.9', '2038-01-19 03:14:07.999', "
      "'2038-01-19 03:14:07.999999', 2155",
      "'2024-02-29', '2024-02-29 12:34:56', '2024-02-29 12:34:56.5', "
      "'2024-02-29 12:34:56.05', '2024-02-29 12:34:56.005', "
      "'2024-02-29 12:34:56.0005', '2024-02-29 12:34:56.00005', "
      "'2024-02-29 12:34:56.000005', '-00:00:01', '-00:00:00.1', "
      "'-00:00:00.01', '-00:00:00.001', '-00:00:00.0001', "
      "'-00:00:00.00001', '-00:00:00.000001', '2024-02-29 12:34:56', "
      "'2024-02-29 12:34:56.1', '2024-02-29 12:34:56.123', "
      "'2024-02-29 12:34:56.123456', 2024",
      "'2024-01-02', '2024-01-02 03:04:05', NULL, NULL, NULL, NULL, NULL, "
      "NULL, '100:00:00', '-100:00:00.5', '25:00:00.25', "
      "'-24:00:00.125', '48:00:00.0625', '-72:00:00.03125', "
      "'99:59:59.123456', NULL, NULL, NULL, NULL, NULL",
      NULL}},
    {"strings",
     "c CHAR(10), v VARCHAR(300), l1 VARCHAR(20) CHARACTER SET latin1, "
     "gr VARCHAR(20) CHARACTER SET greek, cy VARCHAR(20) CHARACTER SET "
     "cp1251, asc1 VARCHAR(10) CHARACTER SET ascii, t TEXT, tt TINYTEXT, "
     "mt MEDIUMTEXT, lt LONGTEXT",
     "c, v, l1, gr, cy, asc1, t, tt, mt, lt",
     "nnnnnnnnnn",
     {"'', '', '', '', '', '', '', '', '', ''",
      "'abc', 'héllo wörld ✓ 😀 𝄞', 'café €', 'αβγ Ω', 'привет', "
      "'plain', 'text 😀', 'tiny', 'medium 𝄞', 'long ✓'",
      "'😀😀😀😀😀😀😀😀😀😀', REPEAT('é😀', 150), 'ÿ‰Œ', 'άέή', 'Ёё', "
      "'~!@#', REPEAT('x', 65535), REPEAT('y', 255), REPEAT('z', 70000), "
      "REPEAT('w', 100000)",
      "'tab\\there', 'line\\nbreak \\\\ \"quote\" ''single''', 'a', 'b', "
      "'c', 'd', '\\0nul', 'ctl\\r', 'e', 'f'",
      "NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL", NULL}},
    {"binaries",
     "bn BINARY(4), vb VARBINARY(256), tb TINYBLOB, b BLOB, mb MEDIUMBLOB, "
     "lb LONGBLOB",
     "bn, vb, tb, b, mb, lb",
     "bbbbbb",
     {"'', '', '', '', '', ''",
      "x'01', @allbytes, @allbytes255, @allbytes, @allbytes, @allbytes",
      "x'FFFFFFFF', x'00', x'00', REPEAT(@allbytes, 200), "
      "REPEAT(@allbytes, 300), REPEAT(@allbytes, 400)",
      "NULL, NULL, NULL, NULL, NULL, NULL", NULL}},
    {"bits_enums",
     "b1 BIT(1), b7 BIT(7), b64 BIT(64), e ENUM('a','b','c'), "
     "e2 ENUM('x','y'), s SET('x','y','z'), s64 SET('a0','a1','a2','a3',"
     "'a4','a5','a6','a7','a8','a9')",
     "b1+0, b7+0, b64+0, e, e2, s, s64",
     "nnnnnnn",
     {"b'0', b'0', b'0', 'a', 'x', '', ''",
      "b'1', b'1111111', x'FFFFFFFFFFFFFFFF', 'c', 'y', 'x,y,z', "
      "'a0,a9'",
      "b'1', b'1010101', x'8000000000000001', 'b', '', 'y', 'a5'",
      "NULL, NULL, NULL, NULL, NULL, NULL, NULL", NULL}},
    {"json_geo",
     "j JSON, g GEOMETRY, p POINT",
     "j, CONCAT(ST_SRID(g), ':', LOWER(HEX(ST_AsWKB(g)))), "
     "CONCAT(ST_SRID(p), ':', LOWER(HEX(ST_AsWKB(p))))",
     "ngg",
     {"'{\"a\": [1, 2.5, \"x\", null, true]}', "
      "ST_GeomFromText('POLYGON((0 0,1 0,1 1,0 0))'), "
      "ST_GeomFromText('POINT(1 2)', 4326)",
      "'[]', ST_GeomFromText('LINESTRING(0 0,1.5 -2)', 3857), "
      "ST_GeomFromText('POINT(-180 90)')",
      "NULL, NULL, NULL", NULL}},
    {"big", "lb LONGBLOB", "lb", "b", {"REPEAT(@allbytes, 131072)", NULL}},
};

#define NFAM (sizeof(families) / sizeof(families[0]))

typedef struct {
    char **lines;
    size_t n, cap;
} lines_t;

static int collect_cb(void *ctx, const sl_change_t *chg) {
    lines_t *ls = ctx;
    if (chg->kind != SL_CHANGE_ROW || chg->db_len != strlen(DB) ||
        memcmp(chg->db, DB, chg->db_len) != 0)
        return 0;
    if (ls->n == ls->cap) {
        ls->cap = ls->cap ? ls->cap * 2 : 64;
        ls->lines = realloc(ls->lines, ls->cap * sizeof(char *));
    }
    ls->lines[ls->n++] = strndup(chg->json, chg->json_len);
    return 0;
}

static int collect_all_cb(void *ctx, const sl_change_t *chg) {
    lines_t *ls = ctx;
    if (ls->n == ls->cap) {
        ls->cap = ls->cap ? ls->cap * 2 : 64;
        ls->lines = realloc(ls->lines, ls->cap * sizeof(char *));
    }
    ls->lines[ls->n++] = strndup(chg->json, chg->json_len);
    return 0;
}

static int b64_decode(const char *s, size_t n, sl_buf_t *out) {
    static const char tbl[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    uint32_t acc = 0;
    int nb = 0;
    for (size_t i = 0; i < n && s[i] != '='; i++) {
        const char *c = strchr(tbl, s[i]);
        if (c == NULL || *c == '\0')
            return -1;
        acc = (acc << 6) | (uint32_t)(c - tbl);
        nb += 6;
        if (nb >= 8) {
            nb -= 8;
            sl_buf_append_u8(out, (uint8_t)(acc >> nb));
        }
    }
    return 0;
}

/* Compares our value with the SELECT value (NULL when SQL NULL). */
static int same(char kind, const ct_node_t *v, const char *sel, size_t sl,
                char *why, size_t wl) {
    if (sel == NULL || v->type == CT_NULL) {
        snprintf(why, wl, "NULL mismatch (select %s, ours %s)",
                 sel ? "value" : "NULL", ct_type_name(v));
        return sel == NULL && v->type == CT_NULL;
    }
    switch (kind) {
    case 'n': {
        if (v->type != CT_NUM && v->type != CT_STR) {
            snprintf(why, wl, "ours is %s", ct_type_name(v));
            return 0;
        }
        int ok = v->slen == sl && memcmp(v->s, sel, sl) == 0;
        snprintf(why, wl, "select %.60s, ours %.60s", sel, v->s);
        return ok;
    }
    case 'f': {
        double a = strtod(sel, NULL), b = strtod(v->s, NULL);
        snprintf(why, wl, "select %s, ours %s", sel, v->s);
        return (float)a == (float)b ||
               fabs(a - b) <= 1e-6 * fmax(fabs(a), 1e-300);
    }
    case 'd':
        snprintf(why, wl, "select %s, ours %s", sel, v->s);
        return v->type == CT_NUM && strtod(sel, NULL) == strtod(v->s, NULL);
    case 'b': {
        const ct_node_t *b = ct_get(v, "base64");
        if (b == NULL) {
            snprintf(why, wl, "ours is not {\"base64\":...}");
            return 0;
        }
        sl_buf_t bytes = SL_BUF_INIT;
        int ok = b64_decode(b->s, b->slen, &bytes) == 0 && bytes.len == sl &&
                 (sl == 0 || memcmp(bytes.data, sel, sl) == 0);
        snprintf(why, wl, "binary differs (%zu bytes ours, %zu select)",
                 bytes.len, sl);
        sl_buf_free(&bytes);
        return ok;
    }
    case 'g': {
        const ct_node_t *srid = ct_get(v, "srid"), *wkb = ct_get(v, "wkb");
        if (srid == NULL || wkb == NULL) {
            snprintf(why, wl, "ours is not a geometry object");
            return 0;
        }
        char mine[4096];
        snprintf(mine, sizeof(mine), "%s:%s", srid->s, wkb->s);
        snprintf(why, wl, "select %.100s, ours %.100s", sel, mine);
        return strlen(mine) == sl && memcmp(mine, sel, sl) == 0;
    }
    }
    return 0;
}

static void exec_sql(MYSQL *my, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void exec_sql(MYSQL *my, const char *fmt, ...) {
    sl_buf_t q = SL_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    sl_buf_vprintf(&q, fmt, ap);
    va_end(ap);
    const char *s;
    sl_buf_cstr(&q, &s);
    sl_harness_exec(my, s);
    sl_buf_free(&q);
}

SL_TEST(capture_types_against_select) {
    MYSQL *my = sl_harness_mysql("SOURCE", NULL);
    const char *datadir = getenv("SL_SOURCE_DATADIR");
    if (datadir == NULL)
        SL_SKIP("SL_SOURCE_DATADIR not set");
    sl_harness_exec(my, "SET SESSION sql_mode = '', time_zone = '+00:00'");
    sl_harness_exec(my, "DROP DATABASE IF EXISTS " DB);
    sl_harness_exec(my, "CREATE DATABASE " DB " CHARACTER SET utf8mb4");
    sl_harness_exec(my, "USE " DB);
    /* Every byte value, for the binary columns. */
    sl_buf_t all = SL_BUF_INIT;
    sl_buf_append_str(&all, "SET @allbytes = x'");
    for (int i = 0; i < 256; i++)
        sl_buf_printf(&all, "%02X", i);
    sl_buf_append_str(&all, "', @allbytes255 = LEFT(@allbytes, 255)");
    const char *alls;
    sl_buf_cstr(&all, &alls);
    sl_harness_exec(my, alls);
    sl_buf_free(&all);
    for (size_t f = 0; f < NFAM; f++)
        exec_sql(my, "CREATE TABLE %s (id INT PRIMARY KEY, %s)",
                 families[f].table, families[f].cols);
    char file0[256], file1[256];
    uint64_t pos0, pos1;
    sl_harness_master_status(my, file0, sizeof(file0), &pos0);
    for (size_t f = 0; f < NFAM; f++)
        for (int r = 0; families[f].rows[r] != NULL; r++)
            exec_sql(my, "INSERT INTO %s VALUES (%d, %s)", families[f].table,
                     r + 1, families[f].rows[r]);
    sl_harness_exec(my, "UPDATE ints SET i = 42, bu = 7 WHERE id = 3");
    sl_harness_exec(my, "DELETE FROM strings WHERE id = 2");
    sl_harness_exec(my, "FLUSH BINARY LOGS");
    sl_harness_master_status(my, file1, sizeof(file1), &pos1);
    (void)pos1;

    /* Decode every file from file0:pos0 up to (not including) file1. */
    lines_t ls = {0};
    sl_binlog_t *dec;
    sl_binlog_opts_t bo = {.column_types = 1};
    SL_CHECK_OK(sl_binlog_new(&dec, &bo, collect_cb, &ls));
    const char *dot = strrchr(file0, '.');
    SL_CHECK(dot != NULL);
    int n0 = atoi(dot + 1), n1 = atoi(strrchr(file1, '.') + 1);
    SL_CHECK(n1 > n0);
    for (int k = n0; k < n1; k++) {
        char path[1024];
        snprintf(path, sizeof(path), "%s/%.*s.%06d", datadir,
                 (int)(dot - file0), file0, k);
        int rc = sl_binlog_read_file(dec, path, k == n0 ? pos0 : 4, 0);
        if (rc != 0)
            sl_test_fail(__FILE__, __LINE__, "%s", sl_binlog_errmsg(dec));
    }
    sl_binlog_free(dec);

    /* Our events, parsed, in order. */
    ct_node_t **evs = calloc(ls.n + 1, sizeof(*evs));
    ct_node_t *schema = ct_load_schema();
    SL_CHECK(schema != NULL);
    for (size_t i = 0; i < ls.n; i++) {
        evs[i] = ct_parse(ls.lines[i], strlen(ls.lines[i]));
        SL_CHECK(evs[i] != NULL);
        char why[300];
        if (!ct_validate(schema, evs[i], why, sizeof(why), "$"))
            sl_test_fail(__FILE__, __LINE__, "schema: %s", why);
    }
    size_t compared = 0;
    for (size_t f = 0; f < NFAM; f++) {
        const family_t *fam = &families[f];
        char q[2048];
        snprintf(q, sizeof(q), "SELECT id, %s FROM %s ORDER BY id", fam->select,
                 fam->table);
        if (mysql_query(my, q) != 0)
            sl_test_fail(__FILE__, __LINE__, "%s: %s", q, mysql_error(my));
        MYSQL_RES *res = mysql_store_result(my);
        SL_CHECK(res != NULL);
        MYSQL_ROW row;
        size_t nk = strlen(fam->kinds);
        while ((row = mysql_fetch_row(res)) != NULL) {
            unsigned long *lens = mysql_fetch_lengths(res);
            int id = atoi(row[0]);
            /* The insert of this id in this table. */
            const ct_node_t *after = NULL;
            for (size_t i = 0; i < ls.n; i++) {
                if (strcmp(ct_get(evs[i], "table")->s, fam->table) != 0 ||
                    strcmp(ct_get(evs[i], "op")->s, "insert") != 0)
                    continue;
                const ct_node_t *a = ct_get(evs[i], "after");
                if (atoi(ct_get(a, "id")->s) == id)
                    after = a;
            }
            if (after == NULL)
                sl_test_fail(__FILE__, __LINE__,
                             "%s id %d: no insert "
                             "decoded",
                             fam->table, id);
            /* Updated rows compare with the update's after image. */
            for (size_t i = 0; i < ls.n; i++) {
                if (strcmp(ct_get(evs[i], "table")->s, fam->table) != 0 ||
                    strcmp(ct_get(evs[i], "op")->s, "update") != 0)
                    continue;
                const ct_node_t *a = ct_get(evs[i], "after");
                if (atoi(ct_get(a, "id")->s) == id)
                    after = a;
            }
            SL_CHECK_INT(after->n, nk + 1);
            for (size_t c = 0; c < nk; c++) {
                char why[300];
                if (!same(fam->kinds[c], after->kids[c + 1], row[c + 1],
                          row[c + 1] ? lens[c + 1] : 0, why, sizeof(why)))
                    sl_test_fail(__FILE__, __LINE__,
                                 "%s id %d column %s: "
                                 "%s",
                                 fam->table, id, after->keys[c + 1], why);
                compared++;
            }
        }
        mysql_free_result(res);
    }
    /* The UPDATE's before image and the DELETE's. */
    int saw_update = 0, saw_delete = 0;
    for (size_t i = 0; i < ls.n; i++) {
        const char *op = ct_get(evs[i], "op")->s;
        if (strcmp(op, "update") == 0) {
            const ct_node_t *b = ct_get(evs[i], "before");
            SL_CHECK_STR(ct_get(b, "i")->s, "-1");
            SL_CHECK_STR(ct_get(b, "bu")->s, "1");
            SL_CHECK_STR(ct_get(ct_get(evs[i], "after"), "i")->s, "42");
            saw_update = 1;
        } else if (strcmp(op, "delete") == 0) {
            const ct_node_t *b = ct_get(evs[i], "before");
            SL_CHECK_STR(ct_get(b, "gr")->s, "αβγ Ω");
            SL_CHECK_STR(ct_get(b, "l1")->s, "café €");
            SL_CHECK_STR(ct_get(b, "cy")->s, "привет");
            SL_CHECK(ct_get(evs[i], "after")->type == CT_NULL);
            saw_delete = 1;
        }
        SL_CHECK_STR(ct_get(evs[i], "pk")->kids[0]->s, "id");
    }
    SL_CHECK(saw_update && saw_delete);
    printf("  compared %zu values in %zu row events with SELECT\n", compared,
           ls.n);
    SL_CHECK(compared > 150);
    for (size_t i = 0; i < ls.n; i++) {
        ct_free(evs[i]);
        free(ls.lines[i]);
    }
    free(evs);
    free(ls.lines);
    ct_free(schema);
    sl_harness_exec(my, "DROP DATABASE " DB);
    mysql_close(my);
}

/* MariaDB's compressed binlog events (log_bin_compress): QUERY_COMPRESSED
 * and *_ROWS_COMPRESSED are written for events over
 * log_bin_compress_min_len bytes; the decoded rows must equal SELECT. */
SL_TEST(capture_mariadb_compressed_events) {
    MYSQL *my = sl_harness_mysql("SOURCE", NULL);
    const char *datadir = getenv("SL_SOURCE_DATADIR");
    if (datadir == NULL)
        SL_SKIP("SL_SOURCE_DATADIR not set");
    sl_harness_exec(my, "DROP DATABASE IF EXISTS " DB "_z");
    sl_harness_exec(my, "CREATE DATABASE " DB "_z");
    sl_harness_exec(my, "USE " DB "_z");
    sl_harness_exec(my, "CREATE TABLE z (id INT PRIMARY KEY, t TEXT, "
                        "n INT, b BLOB)");
    char file0[256], file1[256];
    uint64_t pos0, pos1;
    sl_harness_exec(my, "FLUSH BINARY LOGS");
    sl_harness_master_status(my, file0, sizeof(file0), &pos0);
    sl_harness_exec(my, "SET GLOBAL log_bin_compress = ON");
    sl_harness_exec(my, "SET GLOBAL log_bin_compress_min_len = 10");
    /* A new connection picks up the global setting. */
    MYSQL *mz = sl_harness_mysql("SOURCE", DB "_z");
    for (int i = 1; i <= 50; i++)
        exec_sql(mz,
                 "INSERT INTO z VALUES (%d, CONCAT(REPEAT('compress "
                 "me ', %d), 'ü'), %d, REPEAT(x'00ff', %d))",
                 i, i * 10, i * 7, i);
    sl_harness_exec(mz, "UPDATE z SET n = n + 1, t = CONCAT(t, '!') "
                        "WHERE id % 3 = 0");
    sl_harness_exec(mz, "DELETE FROM z WHERE id % 5 = 0");
    sl_harness_exec(mz, "ALTER TABLE z ADD COLUMN c INT DEFAULT 9");
    mysql_close(mz);
    sl_harness_exec(my, "SET GLOBAL log_bin_compress = OFF");
    sl_harness_exec(my, "FLUSH BINARY LOGS");
    sl_harness_master_status(my, file1, sizeof(file1), &pos1);

    lines_t ls = {0};
    sl_binlog_t *dec;
    SL_CHECK_OK(sl_binlog_new(&dec, NULL, collect_all_cb, &ls));
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", datadir, file0);
    int rc = sl_binlog_read_file(dec, path, pos0, 0);
    if (rc != 0)
        sl_test_fail(__FILE__, __LINE__, "%s", sl_binlog_errmsg(dec));
    sl_binlog_free(dec);
    /* The file really holds compressed events. */
    FILE *f = fopen(path, "rb");
    SL_CHECK(f != NULL);
    static uint8_t buf[1 << 22];
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    int zq = 0, zr = 0;
    for (size_t off = 4; off + 19 <= n;) {
        uint32_t sz = sl_get_u32le(buf + off + 9);
        if (buf[off + 4] == 165)
            zq++;
        if (buf[off + 4] >= 166 && buf[off + 4] <= 171)
            zr++;
        if (sz < 19)
            break;
        off += sz;
    }
    printf("  %d QUERY_COMPRESSED and %d compressed rows events\n", zq, zr);
    SL_CHECK(zq > 0 && zr > 0);
    /* Final state from the events equals SELECT. */
    char *state[64] = {0};
    size_t state_len[64] = {0};
    int saw_ddl = 0;
    for (size_t i = 0; i < ls.n; i++) {
        ct_node_t *ev = ct_parse(ls.lines[i], strlen(ls.lines[i]));
        SL_CHECK(ev != NULL);
        const char *kind = ct_get(ev, "kind")->s;
        if (strcmp(kind, "ddl") == 0 &&
            strstr(ct_get(ev, "sql")->s, "ADD COLUMN c") != NULL)
            saw_ddl = 1;
        if (strcmp(kind, "row") != 0 ||
            strcmp(ct_get(ev, "db")->s, DB "_z") != 0) {
            ct_free(ev);
            continue;
        }
        const ct_node_t *img = ct_get(ev, "after");
        if (img->type == CT_NULL)
            img = ct_get(ev, "before");
        int id = atoi(ct_get(img, "id")->s);
        SL_CHECK(id >= 1 && id < 64);
        free(state[id]);
        state[id] = NULL;
        if (ct_get(ev, "after")->type != CT_NULL) {
            const ct_node_t *a = ct_get(ev, "after");
            sl_buf_t b = SL_BUF_INIT;
            sl_buf_printf(&b, "%s|%s|", ct_get(a, "t")->s, ct_get(a, "n")->s);
            b64_decode(ct_get(ct_get(a, "b"), "base64")->s,
                       ct_get(ct_get(a, "b"), "base64")->slen, &b);
            state[id] = (char *)sl_buf_detach(&b, &state_len[id]);
        }
        ct_free(ev);
    }
    SL_CHECK(saw_ddl);
    if (mysql_query(my, "SELECT id, CONCAT(t, '|', n, '|', b) FROM " DB
                        "_z.z ORDER BY id") != 0)
        sl_test_fail(__FILE__, __LINE__, "%s", mysql_error(my));
    MYSQL_RES *res = mysql_store_result(my);
    MYSQL_ROW row;
    int seen = 0;
    while ((row = mysql_fetch_row(res)) != NULL) {
        int id = atoi(row[0]);
        unsigned long *lens = mysql_fetch_lengths(res);
        SL_CHECK(state[id] != NULL);
        SL_CHECK_MEM(state[id], state_len[id], row[1], lens[1]);
        free(state[id]);
        state[id] = NULL;
        seen++;
    }
    mysql_free_result(res);
    SL_CHECK_INT(seen, 40);
    for (int i = 0; i < 64; i++)
        SL_CHECK(state[i] == NULL); /* Deleted rows are gone in both. */
    for (size_t i = 0; i < ls.n; i++)
        free(ls.lines[i]);
    free(ls.lines);
    sl_harness_exec(my, "DROP DATABASE " DB "_z");
    mysql_close(my);
}
