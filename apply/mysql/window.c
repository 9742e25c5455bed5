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

static void free_list(sl__mysql_window_t *w, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(w[i].db);
        free(w[i].table);
        free(w[i].id);
    }
    free(w);
}

void sl__mysql_windows_free(sl_mysql_sink_t *s) {
    free_list(s->win, s->nwin);
    free_list(s->win_c, s->nwin_c);
    free_list(s->win_n, s->nwin_n);
    s->win = s->win_c = s->win_n = NULL;
    s->nwin = s->nwin_c = s->nwin_n = 0;
}

/* A copy of the n windows at from (NULL for n = 0, or on failure: *ok). */
static sl__mysql_window_t *copy_list(const sl__mysql_window_t *from, size_t n,
                                     int *ok) {
    *ok = 1;
    if (n == 0)
        return NULL;
    sl__mysql_window_t *w = calloc(n, sizeof *w);
    if (w == NULL) {
        *ok = 0;
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        w[i].db = strdup(from[i].db);
        w[i].table = strdup(from[i].table);
        w[i].id = strdup(from[i].id);
        if (!w[i].db || !w[i].table || !w[i].id) {
            free_list(w, i + 1);
            *ok = 0;
            return NULL;
        }
    }
    return w;
}

static ptrdiff_t find(const sl__mysql_window_t *w, size_t n, const char *db,
                      const char *table) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(w[i].db, db) == 0 && strcmp(w[i].table, table) == 0)
            return (ptrdiff_t)i;
    return -1;
}

int sl__mysql_window_open(const sl_mysql_sink_t *s, const char *db,
                          const char *table) {
    return s->nwin > 0 && find(s->win, s->nwin, db, table) >= 0;
}

/* Sets every known table's tolerant flag from the working windows. */
static void mark_tables(sl_mysql_sink_t *s) {
    for (size_t i = 0; i < s->ntables; i++)
        s->tables[i]->tolerant =
            sl__mysql_window_open(s, s->tables[i]->src_db, s->tables[i]->table);
}

int sl__mysql_windows_restore(sl_mysql_sink_t *s) {
    if (!s->win_dirty)
        return 0;
    int ok;
    sl__mysql_window_t *w = copy_list(s->win_c, s->nwin_c, &ok);
    if (!ok)
        return SL_ENOMEM;
    free_list(s->win, s->nwin);
    s->win = w;
    s->nwin = s->nwin_c;
    s->win_dirty = 0;
    mark_tables(s);
    return 0;
}

int sl__mysql_windows_stage(sl_mysql_sink_t *s) {
    free_list(s->win_n, s->nwin_n);
    s->win_n = NULL;
    s->nwin_n = 0;
    if (!s->win_dirty)
        return 0;
    int ok;
    s->win_n = copy_list(s->win, s->nwin, &ok);
    if (!ok)
        return SL_ENOMEM;
    s->nwin_n = s->nwin;
    return 0;
}

void sl__mysql_windows_committed(sl_mysql_sink_t *s) {
    if (!s->win_dirty)
        return;
    free_list(s->win_c, s->nwin_c);
    s->win_c = s->win_n;
    s->nwin_c = s->nwin_n;
    s->win_n = NULL;
    s->nwin_n = 0;
    s->win_dirty = 0;
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
    size_t n = mysql_num_rows(res);
    s->win_c = n ? calloc(n, sizeof *s->win_c) : NULL;
    MYSQL_ROW row;
    while (rc == 0 && (row = mysql_fetch_row(res)) != NULL) {
        if (s->win_c == NULL) {
            rc = SL_ENOMEM;
            break;
        }
        sl__mysql_window_t *w = &s->win_c[s->nwin_c++];
        w->db = strdup(row[0] ? row[0] : "");
        w->table = strdup(row[1] ? row[1] : "");
        w->id = strdup(row[2] ? row[2] : "");
        if (!w->db || !w->table || !w->id)
            rc = SL_ENOMEM;
        else
            sl_log_info("snapshot window open at resume",
                        "part=%s db=%s table=%s snapshot=%s", s->part, w->db,
                        w->table, w->id);
    }
    mysql_free_result(res);
    if (rc != 0)
        return rc;
    s->win_dirty = 1;
    return sl__mysql_windows_restore(s);
}

/* The string member name of object tok as a C string in b (reset first);
 * absent or not a string leaves b empty and returns 1. */
static int str_member(const sl_jr_doc_t *doc, uint32_t tok, const char *name,
                      sl_buf_t *b) {
    sl_buf_reset(b);
    uint32_t v = tok != SL_JR_NONE && sl_jr_type(doc, tok) == SL_JR_OBJECT
                     ? sl_jr_get(doc, tok, name)
                     : SL_JR_NONE;
    if (v == SL_JR_NONE || sl_jr_type(doc, v) != SL_JR_STRING) {
        sl_buf_append_u8(b, 0);
        return 1;
    }
    if (sl_jr_unescape(doc, v, b) != 0 || sl_buf_append_u8(b, 0) != 0)
        return SL_ENOMEM;
    return 0;
}

/* Opens (start) or closes (done) the working window of db.table. */
static int window_change(sl_mysql_sink_t *s, int start, const char *db,
                         const char *table, const char *id, int *mismatch) {
    ptrdiff_t i = find(s->win, s->nwin, db, table);
    *mismatch = 0;
    if (!start) {
        if (i < 0)
            return 0;
        if (strcmp(s->win[i].id, id) != 0) {
            *mismatch = 1;
            return 0;
        }
        free(s->win[i].db);
        free(s->win[i].table);
        free(s->win[i].id);
        s->win[i] = s->win[--s->nwin];
        s->win_dirty = 1;
        return 0;
    }
    char *nid = strdup(id);
    if (nid == NULL)
        return SL_ENOMEM;
    if (i >= 0) {
        free(s->win[i].id);
        s->win[i].id = nid;
        s->win_dirty = 1;
        return 0;
    }
    sl__mysql_window_t *w = realloc(s->win, (s->nwin + 1) * sizeof *w);
    if (w == NULL) {
        free(nid);
        return SL_ENOMEM;
    }
    s->win = w;
    w[s->nwin].db = strdup(db);
    w[s->nwin].table = strdup(table);
    w[s->nwin].id = nid;
    if (!w[s->nwin].db || !w[s->nwin].table) {
        free(w[s->nwin].db);
        free(w[s->nwin].table);
        free(nid);
        return SL_ENOMEM;
    }
    s->nwin++;
    s->win_dirty = 1;
    return 0;
}

/* Appends the statement that records the change of window in
 * sluice_snapshots. */
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
                      "snapshot_id=VALUES(snapshot_id), "
                      "start_offset=VALUES(start_offset), "
                      "started_at=CURRENT_TIMESTAMP(6)",
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
    int r1 = str_member(doc, 0, "db", &db);
    int r2 = r1 < 0 ? r1 : str_member(doc, 0, "table", &table);
    int r3 = r2 < 0 ? r2 : str_member(doc, ev->snapshot, "id", &id);
    int rc = r3 < 0 ? r3 : 0;
    if (rc != 0)
        goto out;
    if (r1 | r2 | r3) {
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
    int mismatch;
    if ((rc = window_change(s, start, d, t, sid, &mismatch)) != 0)
        goto out;
    if (mismatch)
        sl_log_warn("snapshot_done of another snapshot than the open one; "
                    "the table stays tolerant",
                    "part=%s offset=%llu db=%s table=%s snapshot=%s", s->part,
                    (unsigned long long)offset, d, t, sid);
    else
        sl_log_info(start ? "snapshot window opened" : "snapshot window closed",
                    "part=%s offset=%llu db=%s table=%s snapshot=%s", s->part,
                    (unsigned long long)offset, d, t, sid);
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
