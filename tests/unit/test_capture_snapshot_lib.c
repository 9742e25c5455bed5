/* Fixtures shared by the snapshot unit tests; see
 * test_capture_snapshot_lib.h. */
#include "test_capture_snapshot_lib.h"

#include "error.h"
#include "sl_test.h"

#include <stdio.h>
#include <string.h>

int snaptest_want_table(void *ctx, const char *db, const char *table) {
    (void)ctx;
    (void)db;
    return strcmp(table, "skip") != 0;
}

int snaptest_want_column(void *ctx, const char *db, const char *table,
                         const char *col) {
    (void)ctx;
    (void)db;
    (void)table;
    (void)col;
    return 1;
}

int snaptest_publish_cb(void *ctx, const char *db, const char *table,
                        uint64_t key_hash, int all_parts, const char *json,
                        size_t len) {
    snaptest_rec_t *rec = ctx;
    (void)key_hash;
    if (rec->n < 16)
        snprintf(rec->log[rec->n++], sizeof rec->log[0], "P %s.%s %d %.*s", db,
                 table, all_parts, (int)len, json);
    return 0;
}

int snaptest_boundary_cb(void *ctx, int force) {
    snaptest_rec_t *rec = ctx;
    const char *c = sl_snap_cursor(rec->snap);
    if (rec->n < 16)
        snprintf(rec->log[rec->n++], sizeof rec->log[0], "B%d %s", force,
                 c ? c : "-");
    return 0;
}

sl_change_t snaptest_row(const char *db, const char *table, sl_change_op_t op,
                         const char *file, uint64_t pos, const char *json) {
    sl_change_t chg;
    memset(&chg, 0, sizeof chg);
    chg.kind = SL_CHANGE_ROW;
    chg.op = op;
    chg.db = db;
    chg.db_len = strlen(db);
    chg.table = table;
    chg.table_len = strlen(table);
    chg.file = file;
    chg.pos = pos;
    chg.json = json;
    chg.json_len = strlen(json);
    return chg;
}

sl_snap_t *snaptest_new(snaptest_rec_t *rec, const char *cover) {
    sl_snap_opts_t o = {.host = "127.0.0.1",
                        .user = "u",
                        .port = 1,
                        .name = "cap1",
                        .cover = cover,
                        .publish = rec ? snaptest_publish_cb : NULL,
                        .boundary = rec ? snaptest_boundary_cb : NULL,
                        .want_table = snaptest_want_table,
                        .want_column = snaptest_want_column,
                        .ctx = rec};
    sl_snap_t *snap = NULL;
    SL_CHECK_OK(sl_snap_new(&snap, &o));
    if (rec != NULL) {
        memset(rec, 0, sizeof *rec);
        rec->snap = snap;
    }
    return snap;
}

sl_schema_t *snaptest_schema(const char *const *ddl, size_t n) {
    sl_schema_t *schema = NULL;
    char err[512];
    SL_CHECK_OK(sl_schema_new(&schema));
    for (size_t i = 0; i < n; i++)
        SL_CHECK_OK(sl_schema_apply_ddl(schema, NULL, ddl[i], strlen(ddl[i]),
                                        NULL, err, sizeof err));
    return schema;
}

void snaptest_refuse_cursors(sl_snap_t *snap, const char *const *bad,
                             size_t n) {
    char err[512];
    uint64_t skip;
    for (size_t i = 0; i < n; i++)
        SL_CHECK_INT(sl_snap_restore(snap, bad[i], &skip, err, sizeof err),
                     SL_ECORRUPT);
}
