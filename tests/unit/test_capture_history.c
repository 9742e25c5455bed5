/* The schema history's loader (capture/schema/history.h): the order of
 * two records at one binlog position. A snapshot record at P is the
 * history in force at P, before the event that starts there; a DDL record
 * at P is that event. A restart whose checkpoint is P (a DDL event right
 * after a commit, with no GTID event between: MySQL binlogs without GTID
 * events, or a --start FILE:POS at the statement) writes its snapshot at
 * P and then, replaying from P, the DDL at P: a later restart must load
 * both, in that order. */
#include "capture/schema/history.h"
#include "error.h"
#include "sl_test.h"

#include <string.h>

/* A snapshot record at file:pos of a history where d.t has one column. */
static void snapshot_at(const char *file, uint64_t pos, sl_buf_t *out) {
    sl_schema_t *schema = NULL;
    char err[256];
    SL_CHECK_OK(sl_schema_new(&schema));
    static const char *const ddl[] = {"CREATE DATABASE d",
                                      "CREATE TABLE d.t (id INT PRIMARY KEY)"};
    for (size_t i = 0; i < sizeof ddl / sizeof ddl[0]; i++)
        SL_CHECK_OK(sl_schema_apply_ddl(schema, NULL, ddl[i], strlen(ddl[i]),
                                        NULL, err, sizeof err));
    sl_buf_reset(out);
    SL_CHECK_OK(sl_history_snapshot_record(schema, file, pos, out));
    sl_schema_free(schema);
}

/* The snapshot record at bin.000002:500 and the DDL record of the ALTER
 * TABLE d.t ADD COLUMN c whose event starts there. */
static void records_at_500(sl_buf_t *snap, sl_buf_t *ddl) {
    snapshot_at("bin.000002", 500, snap);
    const char *sql = "ALTER TABLE t ADD COLUMN c INT";
    SL_CHECK_OK(sl_history_ddl_record("bin.000002", 500, "d", 1, sql,
                                      strlen(sql), 0, ddl));
}

static int feed(sl_history_loader_t *ld, const sl_buf_t *rec) {
    return sl_history_loader_feed(ld, rec->data, rec->len);
}

/* Columns of d.t in the loaded history (0: no such table). */
static size_t columns(const sl_history_loader_t *ld) {
    const sl_schema_table_t *t = sl_schema_find(ld->schema, "d", 1, "t", 1);
    return t != NULL ? t->ncols : 0;
}

SL_TEST(history_ddl_at_a_snapshots_position_is_applied_after_it) {
    sl_buf_t snap = SL_BUF_INIT, ddl = SL_BUF_INIT;
    records_at_500(&snap, &ddl);
    /* A restart at a later checkpoint: the snapshot, then the DDL the
     * replay from 500 recorded, which the history must not lose. */
    sl_history_loader_t ld;
    SL_CHECK_OK(sl_history_loader_init(&ld, "bin.000002", 900));
    SL_CHECK_OK(feed(&ld, &snap));
    SL_CHECK_OK(feed(&ld, &ddl));
    SL_CHECK_INT(columns(&ld), 2);
    SL_CHECK_UINT(ld.applied, 1);
    /* The records written again by one more restart there are the same
     * ones: nothing changes. */
    SL_CHECK_OK(feed(&ld, &snap));
    SL_CHECK_OK(feed(&ld, &ddl));
    SL_CHECK_INT(columns(&ld), 2);
    SL_CHECK_UINT(ld.applied, 1);
    sl_history_loader_free(&ld);
    /* A restart at 500 itself leaves the DDL to its replay. */
    SL_CHECK_OK(sl_history_loader_init(&ld, "bin.000002", 500));
    SL_CHECK_OK(feed(&ld, &snap));
    SL_CHECK_OK(feed(&ld, &ddl));
    SL_CHECK_INT(columns(&ld), 1);
    sl_history_loader_free(&ld);
    sl_buf_free(&snap);
    sl_buf_free(&ddl);
}

SL_TEST(history_ddl_recorded_before_a_crash_is_applied_once) {
    /* The DDL at 500 was recorded, then capture died before the
     * checkpoint after it: the restart at 500 wrote its snapshot (without
     * the DDL) and the replay recorded the DDL again. The DDL counts once;
     * the snapshot, older than it, does not undo it. */
    sl_buf_t snap = SL_BUF_INIT, ddl = SL_BUF_INIT;
    records_at_500(&snap, &ddl);
    sl_buf_t first = SL_BUF_INIT;
    snapshot_at("bin.000001", 4, &first);
    sl_history_loader_t ld;
    SL_CHECK_OK(sl_history_loader_init(&ld, "bin.000003", 4));
    SL_CHECK_OK(feed(&ld, &first));
    SL_CHECK_OK(feed(&ld, &ddl));
    SL_CHECK_OK(feed(&ld, &snap));
    SL_CHECK_OK(feed(&ld, &ddl));
    SL_CHECK_INT(columns(&ld), 2);
    SL_CHECK_UINT(ld.applied, 1);
    sl_history_loader_free(&ld);
    sl_buf_free(&first);
    sl_buf_free(&snap);
    sl_buf_free(&ddl);
}
