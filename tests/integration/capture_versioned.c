/*
 * MariaDB system-versioned tables decoded with binlog_row_metadata=
 * MINIMAL, where the column names come from the schema history built from
 * the DDL as live capture builds it: the row images carry the implicit
 * row_start/row_end after every other column (invisible to
 * information_schema), so the history must hold them, in that place,
 * through CREATE ... WITH SYSTEM VERSIONING, ALTER ... ADD ... FIRST,
 * DROP and ADD SYSTEM VERSIONING. Each decoded row must name every
 * column (no positional "@n" key) and carry the values written.
 */
#include "capture/decoder/binlog.h"
#include "capture/schema/schema.h"
#include "error.h"
#include "harness.h"
#include "sl_test.h"

#include <stdlib.h>
#include <string.h>

#define DB "sl_capture_versioned"

/* The decoder's callback: DDL goes through the history at its place in
 * the stream (as live capture applies it), rows are kept. */
typedef struct {
    char *rows[16]; /* Each row event's JSON, NUL-terminated. */
    size_t n;
    sl_schema_t *hist;
    char err[512];
} replay_t;

static int collect_cb(void *ctx, const sl_change_t *chg) {
    replay_t *r = ctx;
    if (chg->db == NULL || chg->db_len != strlen(DB) ||
        memcmp(chg->db, DB, chg->db_len) != 0)
        return 0;
    if (chg->kind == SL_CHANGE_ROW && r->n < 16)
        r->rows[r->n++] = strndup(chg->json, chg->json_len);
    if (chg->kind == SL_CHANGE_DDL &&
        sl_schema_apply_ddl(r->hist, DB, chg->sql, chg->sql_len, NULL, r->err,
                            sizeof r->err) != 0)
        return SL_EUNSUPPORTED;
    return 0;
}

static const struct sl_schema_table_s *lookup_cb(void *ctx, const char *db,
                                                 size_t db_len,
                                                 const char *table,
                                                 size_t table_len) {
    replay_t *r = ctx;
    return sl_schema_find(r->hist, db, db_len, table, table_len);
}

SL_TEST(capture_versioned_rows_minimal_metadata) {
    const char *datadir = getenv("SL_SOURCE_DATADIR");
    if (datadir == NULL)
        SL_SKIP("SL_SOURCE_DATADIR not set");
    MYSQL *my = sl_harness_mysql("SOURCE", NULL);
    sl_harness_exec(my, "DROP DATABASE IF EXISTS " DB);
    sl_harness_exec(my, "CREATE DATABASE " DB " CHARACTER SET utf8mb4");
    sl_harness_exec(my, "USE " DB);
    sl_harness_exec(my, "SET SESSION system_versioning_alter_history=KEEP");
    sl_schema_t *hist = NULL;
    char err[512];
    SL_CHECK_OK(sl_schema_new(&hist));
    SL_CHECK_OK(sl_schema_load_live(hist, my, NULL, NULL, err, sizeof err));

    /* binlog_row_metadata is global: set back before anything can fail. */
    sl_harness_exec(my, "SET GLOBAL binlog_row_metadata = MINIMAL");
    char file0[256], file1[256];
    uint64_t pos0, pos1;
    sl_harness_exec(my, "FLUSH BINARY LOGS");
    sl_harness_master_status(my, file0, sizeof file0, &pos0);
    sl_harness_exec(my, "CREATE TABLE v1 (id int PRIMARY KEY, a varchar(10) "
                        "INVISIBLE) WITH SYSTEM VERSIONING");
    sl_harness_exec(my, "INSERT INTO v1 (id, a) VALUES (1, 'one')");
    sl_harness_exec(my, "ALTER TABLE v1 ADD b int FIRST");
    sl_harness_exec(my, "INSERT INTO v1 (b, id, a) VALUES (20, 2, 'two')");
    sl_harness_exec(my, "UPDATE v1 SET a = 'uno' WHERE id = 1");
    sl_harness_exec(my, "ALTER TABLE v1 DROP SYSTEM VERSIONING");
    sl_harness_exec(my, "INSERT INTO v1 (b, id, a) VALUES (30, 3, 'three')");
    sl_harness_exec(my, "ALTER TABLE v1 ADD SYSTEM VERSIONING, ADD c int");
    sl_harness_exec(my, "INSERT INTO v1 (b, id, a, c) VALUES (40, 4, 'four', "
                        "44)");
    sl_harness_exec(my, "SET GLOBAL binlog_row_metadata = FULL");
    sl_harness_exec(my, "FLUSH BINARY LOGS");
    sl_harness_master_status(my, file1, sizeof file1, &pos1);

    /* Decoded as live capture does: the history from the server before
     * the first statement, then each DDL at its place. */
    replay_t r = {.hist = hist};
    sl_binlog_t *dec;
    sl_binlog_opts_t bo = {.schema_lookup = lookup_cb, .schema_ctx = &r};
    SL_CHECK_OK(sl_binlog_new(&dec, &bo, collect_cb, &r));
    const char *dot = strrchr(file0, '.');
    int n0 = atoi(dot + 1), n1 = atoi(strrchr(file1, '.') + 1);
    for (int k = n0; k < n1; k++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%.*s.%06d", datadir, (int)(dot - file0),
                 file0, k);
        if (sl_binlog_read_file(dec, path, k == n0 ? pos0 : 4, 0) != 0)
            sl_test_fail(__FILE__, __LINE__, "%s (%s)", sl_binlog_errmsg(dec),
                         r.err);
    }
    sl_binlog_free(dec);
    /* 4 inserts, the update's new row and its history row. */
    SL_CHECK_INT(r.n, 6);
    static const char *const want[][4] = {
        {"\"id\":1", "\"a\":\"one\"", "\"row_start\":", "\"row_end\":"},
        {"\"b\":20", "\"id\":2", "\"a\":\"two\"", "\"row_end\":"},
        {"\"a\":\"uno\"", "\"row_start\":", "\"row_end\":", "\"b\":null"},
        {"\"a\":\"one\"", "\"row_start\":", "\"row_end\":", "\"b\":null"},
        {"\"b\":30", "\"id\":3", "\"a\":\"three\"", "\"b\":30"},
        {"\"id\":4", "\"c\":44", "\"row_start\":", "\"row_end\":"},
    };
    for (size_t i = 0; i < r.n && i < 6; i++) {
        const char *row = r.rows[i];
        int ok = strstr(row, "\"@") == NULL;
        for (size_t k = 0; k < 4; k++)
            ok = ok && strstr(row, want[i][k]) != NULL;
        /* After DROP SYSTEM VERSIONING the row has no hidden columns. */
        if (i == 4)
            ok = ok && strstr(row, "row_start") == NULL;
        if (!ok)
            sl_test_fail(__FILE__, __LINE__, "row %zu: %s", i, row);
    }
    for (size_t i = 0; i < r.n; i++)
        free(r.rows[i]);
    sl_schema_free(hist);
    sl_harness_exec(my, "DROP DATABASE " DB);
    mysql_close(my);
}
