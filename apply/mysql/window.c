/*
 * Snapshot windows of the MySQL/MariaDB sink (apply/mysql/internal.h,
 * user view in docs/apply.md "Snapshots").
 *
 * Between a table's snapshot_start and snapshot_done events the target
 * table is incomplete: the stream may update or delete a row whose read
 * row has not come yet, or insert a row that a read row already brought.
 * While the window is open the table is tolerant (tmeta_t.tolerant):
 * inserts upsert, an update of a missing row inserts its after image, a
 * delete of a missing row does nothing, whatever --drift says, and none
 * of that is reported as drift. After snapshot_done --drift applies
 * again.
 *
 * The open windows are kept in the target, in sluice_snapshots (below and
 * schemas/sluice_snapshots.sql), one row per partition and table, written
 * by the marker events inside the same target transaction as the rows
 * before and after them and the sluice_offsets row. So what is committed
 * always says which windows were open just before next_offset, and a
 * restart (after kill -9 at any point) resumes with exactly the windows
 * the uninterrupted run would have had there.
 *
 * Format of sluice_snapshots: group_name, topic, part as in
 * sluice_offsets; db, tbl the source table (names as events carry them,
 * compared byte for byte); snapshot_id the event's snapshot.id;
 * start_offset the offset of its snapshot_start; started_at when that was
 * applied.
 */
#include "internal.h"

#include "error.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char sl_mysql_snapshots_ddl[] =
    "CREATE TABLE IF NOT EXISTS sluice_snapshots (\n"
    "  group_name VARCHAR(128) NOT NULL,\n"
    "  topic VARCHAR(128) NOT NULL,\n"
    "  part VARCHAR(255) NOT NULL,\n"
    "  db VARCHAR(64) COLLATE utf8mb4_bin NOT NULL,\n"
    "  tbl VARCHAR(64) COLLATE utf8mb4_bin NOT NULL,\n"
    "  snapshot_id VARCHAR(255) NOT NULL,\n"
    "  start_offset BIGINT UNSIGNED NOT NULL,\n"
    "  started_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),\n"
    "  PRIMARY KEY (group_name, topic, part, db, tbl)\n"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4";

void sl__mysql_windows_free(sl_mysql_sink_t *s) { sl_snapwin_free(&s->win); }

int sl__mysql_window_open(const sl_mysql_sink_t *s, const char *db,
                          const char *table) {
    return sl_snapwin_open(&s->win, db, table);
}

/* Sets every known table's tolerant flag from the working windows. */
static void mark_tables(sl_mysql_sink_t *s) {
    for (size_t i = 0; i < s->ntables; i++)
        s->tables[i]->tolerant =
            sl__mysql_window_open(s, s->tables[i]->src_db, s->tables[i]->table);
}

int sl__mysql_windows_restore(sl_mysql_sink_t *s) {
    if (!s->win.dirty)
        return 0;
    int rc = sl_snapwin_reset(&s->win);
    if (rc == 0)
        mark_tables(s);
    return rc;
}

int sl__mysql_windows_stage(sl_mysql_sink_t *s) {
    return sl_snapwin_stage(&s->win);
}

void sl__mysql_windows_committed(sl_mysql_sink_t *s) {
    sl_snapwin_committed(&s->win);
}

/* Appends " WHERE group_name=... AND topic=... AND part=..." to b. */
static void put_part_where(sl_mysql_sink_t *s, sl_buf_t *b) {
    sl_buf_append_str(b, " WHERE group_name=");
    sl__mysql_lit(s, b, s->group);
    sl_buf_append_str(b, " AND topic=");
    sl__mysql_lit(s, b, s->topic);
    sl_buf_append_str(b, " AND part=");
    sl__mysql_lit(s, b, s->part);
}

int sl__mysql_windows_load(sl_mysql_sink_t *s) {
    int rc = sl__mysql_exec(s, sl_mysql_snapshots_ddl);
    if (rc != 0)
        return rc;
    sl_buf_t q = SL_BUF_INIT;
    sl_buf_append_str(&q, "SELECT db, tbl, snapshot_id FROM sluice_snapshots");
    put_part_where(s, &q);
    rc = sl_buf_error(&q);
    if (rc != 0) {
        sl_buf_free(&q);
        return rc;
    }
    if (mysql_real_query(s->mysql, (const char *)q.data, q.len) != 0) {
        sl_buf_free(&q);
        return sl__mysql_query_failed(s, "reading sluice_snapshots:");
    }
    sl_buf_free(&q);
    MYSQL_RES *res = mysql_store_result(s->mysql);
    if (res == NULL)
        return sl__mysql_query_failed(s, "reading sluice_snapshots:");
    sl__mysql_windows_free(s);
    MYSQL_ROW row;
    while (rc == 0 && (row = mysql_fetch_row(res)) != NULL) {
        const char *db = row[0] ? row[0] : "", *t = row[1] ? row[1] : "",
                   *id = row[2] ? row[2] : "";
        rc = sl_snapwin_load(&s->win, db, t, id);
        if (rc == 0)
            sl_log_info("snapshot window open at resume",
                        "part=%s db=%s table=%s snapshot=%s", s->part, db, t,
                        id);
    }
    mysql_free_result(res);
    if (rc != 0)
        return rc;
    s->win.dirty = 1;
    return sl__mysql_windows_restore(s);
}

/* Appends the statement that records the change of window in
 * sluice_snapshots. A start of the snapshot already recorded leaves its
 * row as it is (the assignments run left to right, so snapshot_id is
 * compared before it is set). */
static void put_window_sql(sl_mysql_sink_t *s, sl_buf_t *b, int start,
                           const char *db, const char *table, const char *id,
                           uint64_t offset) {
    if (start) {
        sl_buf_append_str(b, "INSERT INTO sluice_snapshots (group_name, "
                             "topic, part, db, tbl, snapshot_id, "
                             "start_offset) VALUES (");
        sl__mysql_lit(s, b, s->group);
        sl_buf_append_u8(b, ',');
        sl__mysql_lit(s, b, s->topic);
        sl_buf_append_u8(b, ',');
        sl__mysql_lit(s, b, s->part);
        sl_buf_append_u8(b, ',');
        sl__mysql_lit(s, b, db);
        sl_buf_append_u8(b, ',');
        sl__mysql_lit(s, b, table);
        sl_buf_append_u8(b, ',');
        sl__mysql_lit(s, b, id);
        sl_buf_printf(b,
                      ",%llu) ON DUPLICATE KEY UPDATE "
                      "start_offset=IF(snapshot_id=VALUES(snapshot_id),"
                      "start_offset,VALUES(start_offset)), "
                      "started_at=IF(snapshot_id=VALUES(snapshot_id),"
                      "started_at,CURRENT_TIMESTAMP(6)), "
                      "snapshot_id=VALUES(snapshot_id)",
                      (unsigned long long)offset);
        return;
    }
    sl_buf_append_str(b, "DELETE FROM sluice_snapshots");
    put_part_where(s, b);
    sl_buf_append_str(b, " AND db=");
    sl__mysql_lit(s, b, db);
    sl_buf_append_str(b, " AND tbl=");
    sl__mysql_lit(s, b, table);
    sl_buf_append_str(b, " AND snapshot_id=");
    sl__mysql_lit(s, b, id);
}

/* A snapshot_start whose snapshot says "reset" (capture's one-shot copy
 * of a table without a primary key, docs/snapshot.md): the copy replaces
 * the target table's rows, so they are deleted first, in the same
 * transaction as the window's start. */
static int reset_table(sl_mysql_sink_t *s, const sl_jr_doc_t *doc,
                       uint64_t offset) {
    uint32_t db = sl_jr_get(doc, 0, "db"), table = sl_jr_get(doc, 0, "table");
    tmeta_t *tm = sl__mysql_known_table(s, doc, db, table);
    int rc = tm ? 0 : sl__mysql_find_table(s, doc, db, table, offset, &tm);
    if (rc != 0)
        return rc;
    if (tm->missing) {
        s->failed_offset = offset;
        sl_mysql_sink_abort(s);
        return sl__mysql_seterr(s, SL_EDB,
                                "partition %s offset %llu: target table "
                                "%s.%s of a snapshot copy does not exist",
                                s->part, (unsigned long long)offset, tm->dst_db,
                                tm->table);
    }
    size_t mark = s->sql.len;
    if (s->nstmts > 0)
        sl_buf_append_u8(&s->sql, ';');
    sl_buf_append_str(&s->sql, "DELETE FROM ");
    sl__mysql_put_table(&s->sql, tm);
    if ((rc = sl_buf_error(&s->sql)) != 0) {
        s->sql.len = mark;
        return rc;
    }
    return sl__mysql_push_stmt(s, offset, 0, ST_META, NULL, mark);
}

int sl__mysql_window_event(sl_mysql_sink_t *s, const sl_jr_doc_t *doc,
                           const sl_event_t *ev, uint64_t offset) {
    int start = ev->snap == SL_EVENT_SNAP_START;
    sl_buf_t db = SL_BUF_INIT, table = SL_BUF_INIT, id = SL_BUF_INIT;
    int rc = sl_snapwin_marker(doc, ev, &db, &table, &id);
    if (rc < 0)
        goto out;
    if (rc == 1) {
        s->failed_offset = offset;
        rc = sl__mysql_seterr(s, SL_EDB,
                              "partition %s offset %llu: %s event without "
                              "db, table or snapshot.id strings",
                              s->part, (unsigned long long)offset,
                              start ? "snapshot_start" : "snapshot_done");
        sl_mysql_sink_abort(s);
        goto out;
    }
    const char *d = (const char *)db.data, *t = (const char *)table.data,
               *sid = (const char *)id.data;
    /* Statements before the marker keep the tolerance they were built
     * with: the open multi-row statement ends here. */
    if ((rc = sl__mysql_close_open(s)) != 0)
        goto out;
    /* 1: a repeated start of the open window (capture's early start, then
     * a one-shot copy's start at its position): the row below keeps its
     * start_offset, and a copy's reset is still done. */
    if ((rc = sl_snapwin_event(&s->win, s->part, offset, start, d, t, sid)) < 0)
        goto out;
    rc = 0;
    for (size_t i = 0; i < s->ntables; i++)
        if (strcmp(s->tables[i]->src_db, d) == 0 &&
            strcmp(s->tables[i]->table, t) == 0)
            s->tables[i]->tolerant = sl__mysql_window_open(s, d, t);
    size_t mark = s->sql.len;
    if (s->nstmts > 0)
        sl_buf_append_u8(&s->sql, ';');
    put_window_sql(s, &s->sql, start, d, t, sid, offset);
    if ((rc = sl_buf_error(&s->sql)) != 0) {
        s->sql.len = mark;
        goto out;
    }
    if ((rc = sl__mysql_push_stmt(s, offset, 0, ST_META, NULL, mark)) != 0)
        goto out;
    uint32_t reset = sl_jr_get(doc, ev->snapshot, "reset");
    if (start && reset != SL_JR_NONE && sl_jr_type(doc, reset) == SL_JR_TRUE &&
        (rc = reset_table(s, doc, offset)) != 0)
        goto out;
    if (s->careful || s->sql.len >= s->opts.batch_bytes)
        rc = s->careful ? sl__mysql_flush(s) : sl__mysql_send_batch(s);
out:
    sl_buf_free(&db);
    sl_buf_free(&table);
    sl_buf_free(&id);
    return rc;
}
