/*
 * Snapshot windows of the PostgreSQL sink (apply/snapwin.h; the MySQL
 * sink's twin is apply/mysql/window.c, user view in docs/apply.md
 * "Snapshots").
 *
 * While a table's window is open, its rows are applied as the tolerant
 * forms (stmt.c: drift policy overwrite, no drift check). The open
 * windows are kept in the target's sluice_snapshots, one row per
 * partition and table, written by the marker events in the group's own
 * transaction, so what is committed always says which windows were open
 * just before sluice_offsets.next_offset, and a restart after kill -9
 * resumes with exactly the windows an uninterrupted run would have had.
 *
 * Format of sluice_snapshots (PostgreSQL): group_name, topic, part as in
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

const char sl_pg_snapshots_ddl[] =
    "CREATE TABLE IF NOT EXISTS sluice_snapshots (\n"
    "  group_name text NOT NULL,\n"
    "  topic text NOT NULL,\n"
    "  part text NOT NULL,\n"
    "  db text NOT NULL,\n"
    "  tbl text NOT NULL,\n"
    "  snapshot_id text NOT NULL,\n"
    "  start_offset bigint NOT NULL,\n"
    "  started_at timestamptz NOT NULL DEFAULT now(),\n"
    "  PRIMARY KEY (group_name, topic, part, db, tbl)\n"
    ")";

static const char where_part[] =
    " WHERE group_name = $1 AND topic = $2 AND part = $3";

int sl__pg_windows_load(sl_pg_sink_t *s) {
    const char *v[3];
    sl__pg_key_params(s, v);
    char sql[200];
    snprintf(sql, sizeof sql,
             "SELECT db, tbl, snapshot_id FROM sluice_snapshots%s", where_part);
    PGresult *r = NULL;
    int rc = sl__pg_exec(s, sql, 3, v, &r);
    if (rc != 0)
        return rc;
    sl_snapwin_free(&s->win);
    for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
        const char *db = PQgetvalue(r, i, 0), *t = PQgetvalue(r, i, 1),
                   *id = PQgetvalue(r, i, 2);
        rc = sl_snapwin_load(&s->win, db, t, id);
        if (rc == 0)
            sl_log_info("snapshot window open at resume",
                        "part=%s db=%s table=%s snapshot=%s", s->part, db, t,
                        id);
    }
    PQclear(r);
    s->stats.windows = s->win.ndone;
    return rc != 0 ? rc : sl_snapwin_reset(&s->win);
}

/* A snapshot_start whose snapshot says "reset" (capture's one-shot copy of
 * a table without a key, docs/snapshot.md): the copy's rows are the whole
 * table, so the target table is emptied first, in the same transaction. */
static int reset_table(sl_pg_sink_t *s, const sl_jr_doc_t *doc,
                       const sl_event_t *ev, uint64_t offset) {
    pgtable_t *tm;
    int rc = sl__pg_table(s, doc, ev, offset, 0, &tm);
    if (rc != 0)
        return rc;
    if (tm->missing) {
        s->failed_offset = offset;
        return sl__pg_seterr(s, SL_EDB,
                             "partition %s offset %llu: target table %s of a "
                             "snapshot copy does not exist",
                             s->part, (unsigned long long)offset, tm->qname);
    }
    char sql[700];
    snprintf(sql, sizeof sql, "DELETE FROM %s", tm->qname);
    pgchunk_t *c = &s->ch[s->cur];
    if ((rc = sl__pg_chunk_reserve(c, 0)) != 0)
        return rc;
    if (PQsendQueryParams(s->conn, sql, 0, NULL, NULL, NULL, NULL, 0) != 1)
        return sl__pg_fail(s, NULL, "emptying a table for a snapshot copy");
    pgpend_t *p = &c->pend[c->npend++];
    memset(p, 0, sizeof *p);
    p->offset = offset;
    p->check = CHK_META;
    sl_log_info("snapshot copy: target table emptied", "part=%s table=%s",
                s->part, tm->qname);
    return 0;
}

int sl__pg_window_event(sl_pg_sink_t *s, const sl_jr_doc_t *doc,
                        const sl_event_t *ev, uint64_t offset) {
    int start = ev->snap == SL_EVENT_SNAP_START;
    sl_buf_t db = SL_BUF_INIT, table = SL_BUF_INIT, id = SL_BUF_INIT;
    int rc = sl_snapwin_marker(doc, ev, &db, &table, &id);
    if (rc == 1) {
        s->failed_offset = offset;
        rc = sl__pg_seterr(s, SL_EDB,
                           "partition %s offset %llu: %s event without db, "
                           "table or snapshot.id strings",
                           s->part, (unsigned long long)offset,
                           start ? "snapshot_start" : "snapshot_done");
    }
    if (rc != 0)
        goto out;
    const char *d = (const char *)db.data, *t = (const char *)table.data,
               *sid = (const char *)id.data;
    /* Held inserts were built with the tolerance before the marker: they
     * go out first. */
    if ((rc = sl__pg_run_flush(s)) != 0)
        goto out;
    /* 1: a repeated start of the open window (capture's early start, then
     * a one-shot copy's start at its position): the row below keeps its
     * start_offset, and a copy's reset is still done. */
    if ((rc = sl_snapwin_event(&s->win, s->part, offset, start, d, t, sid)) < 0)
        goto out;
    rc = 0;
    const char *v[7];
    sl__pg_key_params(s, v);
    char off[24];
    snprintf(off, sizeof off, "%llu", (unsigned long long)offset);
    v[3] = d, v[4] = t, v[5] = sid, v[6] = off;
    char sql[400];
    /* A start of the snapshot already recorded leaves its row as it is. */
    if (start)
        snprintf(sql, sizeof sql, "%s",
                 "INSERT INTO sluice_snapshots (group_name, topic, part, db, "
                 "tbl, snapshot_id, start_offset) VALUES ($1, $2, $3, $4, $5, "
                 "$6, $7) ON CONFLICT (group_name, topic, part, db, tbl) DO "
                 "UPDATE SET snapshot_id = EXCLUDED.snapshot_id, start_offset "
                 "= EXCLUDED.start_offset, started_at = now() WHERE "
                 "sluice_snapshots.snapshot_id <> EXCLUDED.snapshot_id");
    else
        snprintf(sql, sizeof sql,
                 "DELETE FROM sluice_snapshots%s AND db = $4 AND tbl = $5 "
                 "AND snapshot_id = $6",
                 where_part);
    pgchunk_t *c = &s->ch[s->cur];
    if ((rc = sl__pg_chunk_reserve(c, 0)) != 0)
        goto out;
    if (PQsendQueryParams(s->conn, sql, start ? 7 : 6, NULL, v, NULL, NULL,
                          0) != 1) {
        rc = sl__pg_fail(s, NULL, "writing sluice_snapshots");
        goto out;
    }
    pgpend_t *p = &c->pend[c->npend++];
    memset(p, 0, sizeof *p);
    p->offset = offset;
    p->check = CHK_META;
    uint32_t reset = sl_jr_get(doc, ev->snapshot, "reset");
    if (start && reset != SL_JR_NONE && sl_jr_type(doc, reset) == SL_JR_TRUE &&
        (rc = reset_table(s, doc, ev, offset)) != 0)
        goto out;
    if (s->careful || c->npend >= PG_CHUNK_ROWS)
        rc = sl__pg_sync(s, 0);
out:
    sl_buf_free(&db);
    sl_buf_free(&table);
    sl_buf_free(&id);
    return rc;
}
