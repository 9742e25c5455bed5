/*
 * MariaDB COMPRESSED columns against the harness MariaDB: a table with
 * every kind of compressed column (VARCHAR and VARBINARY, the TEXT and
 * BLOB families, in utf8mb4, latin1 and greek) is written with NULL,
 * empty, short values (stored as is: below column_compression_threshold),
 * long ones (zlib, raw deflate as by default and zlib-wrapped with
 * column_compression_zlib_wrap=ON), random bytes (stored as is: they do
 * not shrink) and multi-MB values; then updated and deleted. The binlog is
 * decoded with the decoder and every value is compared with what SELECT
 * returns for the row.
 *
 * With binlog_row_metadata=FULL the table map names the columns; with
 * MINIMAL the names come from a schema history built from the CREATE
 * TABLE statement (the DDL parser must read COMPRESSED), as live capture
 * does.
 */
#include "../unit/test_capture_lib.h"
#include "capture/decoder/binlog.h"
#include "capture/schema/schema.h"
#include "harness.h"
#include "json.h"
#include "sl_test.h"

#include <stdlib.h>

#define DB "sl_capture_compressed"

/* Column definitions after "id INT PRIMARY KEY"; kinds: 't' text (our
 * JSON string equals the SELECT text), 'b' binary (our base64 equals the
 * SELECT bytes encoded), 'n' a number. */
#define COLS                                                                   \
    "v VARCHAR(200) COMPRESSED, "                                              \
    "vl VARCHAR(100) CHARACTER SET latin1 COMPRESSED, "                        \
    "vb VARBINARY(300) COMPRESSED, t TEXT COMPRESSED, "                        \
    "tt TINYTEXT COMPRESSED, mt MEDIUMTEXT CHARACTER SET greek COMPRESSED, "   \
    "b BLOB COMPRESSED, tb TINYBLOB COMPRESSED, lb LONGBLOB COMPRESSED, "      \
    "lt LONGTEXT COMPRESSED, n INT"
static const char *const col_names[] = {"v", "vl", "vb", "t",  "tt", "mt",
                                        "b", "tb", "lb", "lt", "n"};
static const char kinds[] = "ttbtttbbbtn";
#define NCOLS 11

/* Rows after the id, in column order, each written by a statement of its
 * own (so settings can change between them). */
static const char *const rows[] = {
    /* 1: NULL everywhere. */
    "NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL",
    /* 2: empty values: stored with no header byte at all. */
    "'', '', '', '', '', '', '', '', '', '', 0",
    /* 3: short values, below the threshold: header 0, then the bytes. */
    "'héllo ✓ 😀', 'café', x'00ff01', 'short text', 'tiny', 'αβγ', x'00',"
    " x'ff', x'0102', 'long ✓', 3",
    /* 4: long values: compressed. */
    "REPEAT('é😀 ', 50), REPEAT('café ', 20), REPEAT(x'00ff', 150), "
    "REPEAT('text ✓ ', 1000), REPEAT('y', 255), REPEAT('αβγ δ ', 2000), "
    "REPEAT(@allbytes, 100), REPEAT(x'61', 255), REPEAT(@allbytes, 50), "
    "REPEAT('long ✓ ', 1000), 4",
    /* 5: random bytes do not shrink: stored as is although long. */
    "SHA2('x', 512), 'not random but long enough to be compressed, "
    "really', RANDOM_BYTES(300), 'x', 'y', 'z', RANDOM_BYTES(1000), "
    "RANDOM_BYTES(200), RANDOM_BYTES(5000), 'w', 5",
    /* 6: multi-MB values. */
    "'a', 'b', x'00', 'c', 'd', REPEAT('ελληνικά ', 100000), "
    "RANDOM_BYTES(60000), @allbytes255, REPEAT(RANDOM_BYTES(1000), 5000), "
    "REPEAT('large text é ✓ ', 300000), 6",
};
#define NROWS (sizeof(rows) / sizeof(rows[0]))

static int collect_cb(void *ctx, const sl_change_t *chg) {
    if (chg->kind == SL_CHANGE_ROW && chg->db_len == strlen(DB) &&
        memcmp(chg->db, DB, chg->db_len) == 0)
        ct_lines_add(ctx, chg->json, chg->json_len);
    return 0;
}

static const struct sl_schema_table_s *lookup_cb(void *ctx, const char *db,
                                                 size_t db_len,
                                                 const char *table,
                                                 size_t table_len) {
    return sl_schema_find(ctx, db, db_len, table, table_len);
}

/* Writes the rows into table (a new connection per setting, so global
 * settings apply), updates and deletes one; returns the binlog file and
 * position before the first write in file0/pos0 and the file after the
 * last in file1 (flushed, so the files before it are complete). */
static void write_rows(MYSQL *my, const char *table, char *file0,
                       uint64_t *pos0, char *file1) {
    char q[1024];
    uint64_t pos1;
    sl_harness_master_status(my, file0, 256, pos0);
    for (size_t r = 0; r < NROWS; r++) {
        snprintf(q, sizeof(q), "INSERT INTO %s VALUES (%zu, %s)", table, r + 1,
                 rows[r]);
        sl_harness_exec(my, q);
    }
    /* Row 4 again, zlib-wrapped; and short values compressed. */
    sl_harness_exec(my, "SET SESSION column_compression_zlib_wrap = ON");
    snprintf(q, sizeof(q), "INSERT INTO %s VALUES (%d, %s)", table, 7, rows[3]);
    sl_harness_exec(my, q);
    sl_harness_exec(my, "SET SESSION column_compression_zlib_wrap = OFF, "
                        "column_compression_threshold = 1");
    snprintf(q, sizeof(q),
             "INSERT INTO %s VALUES (8, REPEAT('a', 10), 'ab', x'0000000000',"
             " 'ccccc', 'd', 'εεεεεε', x'01', x'0202020202', x'00', 'z', 8)",
             table);
    sl_harness_exec(my, q);
    sl_harness_exec(my, "SET SESSION column_compression_threshold = DEFAULT");
    snprintf(q, sizeof(q),
             "UPDATE %s SET v = CONCAT(v, '!'), lt = REPEAT('u', 5000), "
             "vb = NULL, n = 40 WHERE id = 4",
             table);
    sl_harness_exec(my, q);
    snprintf(q, sizeof(q), "DELETE FROM %s WHERE id = 3", table);
    sl_harness_exec(my, q);
    sl_harness_exec(my, "FLUSH BINARY LOGS");
    sl_harness_master_status(my, file1, 256, &pos1);
}

/* Decodes every file from file0:pos0 up to (not including) file1. */
static void decode(const char *file0, uint64_t pos0, const char *file1,
                   sl_schema_t *hist, ct_lines_t *ls) {
    const char *datadir = getenv("SL_SOURCE_DATADIR");
    sl_binlog_t *dec;
    sl_binlog_opts_t bo = {.column_types = 1};
    if (hist != NULL) {
        bo.schema_lookup = lookup_cb;
        bo.schema_ctx = hist;
    }
    SL_CHECK_OK(sl_binlog_new(&dec, &bo, collect_cb, ls));
    const char *dot = strrchr(file0, '.');
    SL_CHECK(dot != NULL);
    int n0 = atoi(dot + 1), n1 = atoi(strrchr(file1, '.') + 1);
    SL_CHECK(n1 > n0);
    for (int k = n0; k < n1; k++) {
        char path[1024];
        snprintf(path, sizeof(path), "%s/%.*s.%06d", datadir,
                 (int)(dot - file0), file0, k);
        if (sl_binlog_read_file(dec, path, k == n0 ? pos0 : 4, 0) != 0)
            sl_test_fail(__FILE__, __LINE__, "%s", sl_binlog_errmsg(dec));
    }
    sl_binlog_free(dec);
}

/* Decodes what write_rows wrote and compares the events with SELECT: each
 * row's last after image, the update's and the delete's before images,
 * and the column types. */
static void check(MYSQL *my, const char *table, const char *file0,
                  uint64_t pos0, const char *file1, sl_schema_t *hist) {
    ct_lines_t lines = {0}, *ls = &lines;
    decode(file0, pos0, file1, hist, ls);
    SL_CHECK_INT(ls->n, NROWS + 2 + 2);
    size_t nev = ls->n;
    ct_node_t **evs = calloc(nev + 1, sizeof(*evs));
    ct_node_t *schema = ct_load_schema();
    SL_CHECK(schema != NULL);
    int saw_update = 0, saw_delete = 0;
    for (size_t i = 0; i < nev; i++) {
        evs[i] = ct_parse(ls->lines[i], strlen(ls->lines[i]));
        SL_CHECK(evs[i] != NULL);
        char why[300];
        if (!ct_validate(schema, evs[i], why, sizeof(why), "$"))
            sl_test_fail(__FILE__, __LINE__, "schema: %s", why);
        const char *op = ct_get(evs[i], "op")->s;
        const ct_node_t *before = ct_get(evs[i], "before");
        if (strcmp(op, "update") == 0) {
            SL_CHECK_STR(ct_get(before, "n")->s, "4");
            /* x'00ff' 150 times: 400 base64 characters. */
            const ct_node_t *vb = ct_get(ct_get(before, "vb"), "base64");
            SL_CHECK(vb != NULL && vb->slen == 400);
            SL_CHECK(strncmp(vb->s, "AP8A/wD/", 8) == 0);
            saw_update = 1;
        } else if (strcmp(op, "delete") == 0) {
            SL_CHECK_STR(ct_get(before, "v")->s, "héllo ✓ 😀");
            SL_CHECK_STR(ct_get(before, "mt")->s, "αβγ");
            SL_CHECK_STR(ct_get(ct_get(before, "tb"), "base64")->s, "/w==");
            saw_delete = 1;
        }
        const ct_node_t *types = ct_get(evs[i], "types");
        SL_CHECK_STR(ct_get(types, "v")->s, "varchar(800) compressed");
        SL_CHECK_STR(ct_get(types, "vl")->s, "varchar(100) compressed");
        SL_CHECK_STR(ct_get(types, "vb")->s, "varbinary(300) compressed");
        SL_CHECK_STR(ct_get(types, "mt")->s, "mediumtext compressed");
        SL_CHECK_STR(ct_get(types, "lb")->s, "longblob compressed");
        SL_CHECK_STR(ct_get(evs[i], "pk")->kids[0]->s, "id");
    }
    SL_CHECK(saw_update && saw_delete);

    sl_buf_t q = SL_BUF_INIT;
    sl_buf_append_str(&q, "SELECT id");
    for (int c = 0; c < NCOLS; c++)
        sl_buf_printf(&q, ", %s", col_names[c]);
    sl_buf_printf(&q, " FROM %s ORDER BY id", table);
    const char *qs;
    sl_buf_cstr(&q, &qs);
    if (mysql_query(my, qs) != 0)
        sl_test_fail(__FILE__, __LINE__, "%s: %s", qs, mysql_error(my));
    sl_buf_free(&q);
    MYSQL_RES *res = mysql_store_result(my);
    SL_CHECK(res != NULL);
    MYSQL_ROW row;
    size_t compared = 0, nrows = 0;
    sl_buf_t b64 = SL_BUF_INIT;
    while ((row = mysql_fetch_row(res)) != NULL) {
        unsigned long *lens = mysql_fetch_lengths(res);
        int id = atoi(row[0]);
        const ct_node_t *after = NULL;
        for (size_t i = 0; i < nev; i++) {
            const ct_node_t *a = ct_get(evs[i], "after");
            if (a->type != CT_NULL && atoi(ct_get(a, "id")->s) == id)
                after = a;
        }
        if (after == NULL)
            sl_test_fail(__FILE__, __LINE__, "id %d: no row decoded", id);
        SL_CHECK_INT(after->n, NCOLS + 1);
        for (int c = 0; c < NCOLS; c++) {
            const ct_node_t *v = ct_get(after, col_names[c]);
            SL_CHECK(v != NULL);
            const char *sel = row[c + 1];
            size_t sl = sel ? lens[c + 1] : 0;
            if (sel == NULL || v->type == CT_NULL) {
                if (!(sel == NULL && v->type == CT_NULL))
                    sl_test_fail(__FILE__, __LINE__,
                                 "id %d column %s: NULL in only one", id,
                                 col_names[c]);
            } else if (kinds[c] == 'b') {
                const ct_node_t *enc = ct_get(v, "base64");
                if (enc == NULL)
                    sl_test_fail(__FILE__, __LINE__,
                                 "id %d column %s: not base64", id,
                                 col_names[c]);
                sl_buf_reset(&b64);
                if (sl > 0)
                    SL_CHECK_OK(sl_base64_encode(&b64, sel, sl));
                if (enc->slen != b64.len ||
                    memcmp(enc->s, b64.data, b64.len) != 0)
                    sl_test_fail(__FILE__, __LINE__,
                                 "id %d column %s: %zu base64 bytes, "
                                 "SELECT's bytes give %zu",
                                 id, col_names[c], enc->slen, b64.len);
            } else if (v->slen != sl || memcmp(v->s, sel, sl) != 0) {
                sl_test_fail(__FILE__, __LINE__,
                             "id %d column %s: ours (%zu bytes) %.40s, "
                             "SELECT (%zu bytes) %.40s",
                             id, col_names[c], v->slen, v->s, sl, sel);
            }
            compared++;
        }
        nrows++;
    }
    mysql_free_result(res);
    SL_CHECK_INT(nrows, NROWS + 1); /* 8 written, 1 deleted. */
    sl_buf_free(&b64);
    for (size_t i = 0; i < nev; i++)
        ct_free(evs[i]);
    free(evs);
    ct_free(schema);
    printf("  compared %zu values in %zu row events with SELECT\n", compared,
           nev);
    ct_lines_free(ls);
}

/* Connects to the source and prepares the database and @allbytes. */
static MYSQL *prepare(void) {
    MYSQL *my = sl_harness_mysql("SOURCE", NULL);
    sl_harness_exec(my, "SET SESSION sql_mode = 'STRICT_ALL_TABLES'");
    sl_harness_exec(my, "CREATE DATABASE IF NOT EXISTS " DB
                        " CHARACTER SET utf8mb4");
    sl_harness_exec(my, "USE " DB);
    /* Every byte value once, from MariaDB's sequence engine. */
    sl_harness_exec(my, "SET @allbytes = (SELECT GROUP_CONCAT(CHAR(seq USING "
                        "binary) ORDER BY seq SEPARATOR '') FROM "
                        "seq_0_to_255), @allbytes255 = LEFT(@allbytes, 255)");
    return my;
}

static long long compressions(MYSQL *my) {
    char *v = sl_harness_query_value(
        my, "SELECT VARIABLE_VALUE FROM information_schema.SESSION_STATUS "
            "WHERE VARIABLE_NAME = 'COLUMN_COMPRESSIONS'");
    long long n = v ? atoll(v) : -1;
    free(v);
    return n;
}

SL_TEST(capture_compressed_columns_full_metadata) {
    if (getenv("SL_SOURCE_DATADIR") == NULL)
        SL_SKIP("SL_SOURCE_DATADIR not set");
    MYSQL *my = prepare();
    char *meta = sl_harness_query_value(my, "SELECT @@binlog_row_metadata");
    SL_CHECK_STR(meta, "FULL");
    free(meta);
    sl_harness_exec(my, "DROP TABLE IF EXISTS full_meta");
    sl_harness_exec(my,
                    "CREATE TABLE full_meta (id INT PRIMARY KEY, " COLS ")");
    char file0[256], file1[256];
    uint64_t pos0;
    long long z0 = compressions(my);
    write_rows(my, "full_meta", file0, &pos0, file1);
    long long z = compressions(my) - z0;
    /* Rows 4 and 7 alone hold ten compressible values each: the server
     * really compressed. */
    printf("  the server compressed %lld values\n", z);
    SL_CHECK(z >= 20);
    check(my, "full_meta", file0, pos0, file1, NULL);
    sl_harness_exec(my, "DROP TABLE full_meta");
    mysql_close(my);
}

SL_TEST(capture_compressed_columns_minimal_metadata) {
    if (getenv("SL_SOURCE_DATADIR") == NULL)
        SL_SKIP("SL_SOURCE_DATADIR not set");
    MYSQL *my = prepare();
    const char *ddl =
        "CREATE TABLE minimal_meta (id INT PRIMARY KEY, " COLS ")";
    sl_harness_exec(my, "DROP TABLE IF EXISTS minimal_meta");
    sl_harness_exec(my, ddl);
    /* The history as live capture builds it: the server's defaults, then
     * the statement through the DDL parser. */
    sl_schema_t *hist = NULL;
    SL_CHECK_OK(sl_schema_new(&hist));
    SL_CHECK_OK(sl_schema_set_server(hist, 1, 101100, "utf8mb4"));
    SL_CHECK_OK(sl_schema_set_db_charset(hist, DB, "utf8mb4"));
    char err[512];
    int rc =
        sl_schema_apply_ddl(hist, DB, ddl, strlen(ddl), NULL, err, sizeof err);
    if (rc != 0)
        sl_test_fail(__FILE__, __LINE__, "schema history: %s", err);

    /* binlog_row_metadata is global: set back before anything can fail. */
    sl_harness_exec(my, "SET GLOBAL binlog_row_metadata = MINIMAL");
    char file0[256], file1[256];
    uint64_t pos0;
    write_rows(my, "minimal_meta", file0, &pos0, file1);
    sl_harness_exec(my, "SET GLOBAL binlog_row_metadata = FULL");

    /* Without a history the columns are positional: the table map really
     * lacks names. */
    ct_lines_t ls = {0};
    decode(file0, pos0, file1, NULL, &ls);
    SL_CHECK_INT(ls.n, NROWS + 2 + 2);
    SL_CHECK(strstr(ls.lines[0], "\"@2\":") != NULL);
    ct_lines_free(&ls);
    check(my, "minimal_meta", file0, pos0, file1, hist);
    sl_schema_free(hist);
    sl_harness_exec(my, "DROP DATABASE " DB);
    mysql_close(my);
}
