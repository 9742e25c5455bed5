/*
 * Groups on the PostgreSQL target, and the target-ops table that the
 * MySQL sink's interface forwards to (apply/target.h).
 *
 * A group is one PostgreSQL transaction in pipeline mode: BEGIN and the
 * lock of the partition's sluice_offsets row (SELECT ... FOR UPDATE,
 * checked against the offset the worker expects: a second apply process
 * on the partition is caught) in one round trip; the rows (stmt.c); then
 * the offsets row's UPDATE and COMMIT in the last chunk. Both the rows and
 * the offset commit, or neither. When the connection breaks during
 * COMMIT, the row is read back on a new connection to learn the outcome.
 */
#include "internal.h"

#include "error.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char sl_pg_offsets_ddl[] =
    "CREATE TABLE IF NOT EXISTS sluice_offsets (\n"
    "  group_name text NOT NULL,\n"
    "  topic text NOT NULL,\n"
    "  part text NOT NULL,\n"
    "  next_offset bigint NOT NULL,\n"
    "  trx_applied bigint NOT NULL DEFAULT 0,\n"
    "  rows_applied bigint NOT NULL DEFAULT 0,\n"
    "  last_trx text NOT NULL DEFAULT '',\n"
    "  updated_at timestamptz NOT NULL DEFAULT now(),\n"
    "  PRIMARY KEY (group_name, topic, part)\n"
    ")";

static const char where_part[] =
    " WHERE group_name = $1 AND topic = $2 AND part = $3";

void sl__pg_key_params(const sl_pg_sink_t *s, const char **v) {
    v[0] = s->common->group ? s->common->group : "sluice-apply";
    v[1] = s->common->topic ? s->common->topic : "";
    v[2] = s->part;
}

/* Reads the partition's next_offset outside any group. */
static int read_offset(sl_pg_sink_t *s, uint64_t *next, int *found) {
    const char *v[3];
    sl__pg_key_params(s, v);
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT next_offset FROM sluice_offsets%s",
             where_part);
    PGresult *r = NULL;
    int rc = sl__pg_exec(s, sql, 3, v, &r);
    if (rc != 0)
        return rc;
    *found = PQntuples(r) == 1;
    *next = *found ? strtoull(PQgetvalue(r, 0, 0), NULL, 10) : 0;
    PQclear(r);
    return 0;
}

static int pg_resume(void *impl, uint64_t *next, int *found,
                     volatile int *stop) {
    sl_pg_sink_t *s = impl;
    for (;;) {
        int rc = sl__pg_ensure_conn(s, stop);
        if (rc != 0)
            return rc;
        /* Workers start together: concurrent CREATE TABLE IF NOT EXISTS
         * can fail on PostgreSQL's catalog, so it runs under a lock. */
        char ddl[2048];
        snprintf(ddl, sizeof ddl,
                 "BEGIN; SELECT pg_advisory_xact_lock(7316011); %s; %s; COMMIT",
                 sl_pg_offsets_ddl, sl_pg_snapshots_ddl);
        PGresult *r = PQexec(s->conn, ddl);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            rc = sl__pg_fail(s, r, "creating sluice_offsets");
        PQclear(r);
        if (rc == 0)
            rc = read_offset(s, next, found);
        if (rc == 0)
            rc = sl__pg_windows_load(s);
        if (rc == 0) {
            sl_backoff_reset(&s->bo);
            return 0;
        }
        if (rc != SL_EAGAIN)
            return rc;
        if (sl_backoff_sleep(&s->bo, stop))
            return SL_ESTOPPED;
    }
}

static int pg_claim(void *impl, uint64_t start, uint64_t *next,
                    volatile int *stop) {
    sl_pg_sink_t *s = impl;
    for (;;) {
        int rc = sl__pg_ensure_conn(s, stop);
        if (rc != 0)
            return rc;
        const char *v[4];
        sl__pg_key_params(s, v);
        char off[24];
        snprintf(off, sizeof off, "%llu", (unsigned long long)start);
        v[3] = off;
        rc = sl__pg_exec(s,
                         "INSERT INTO sluice_offsets (group_name, topic, "
                         "part, next_offset) VALUES ($1, $2, $3, $4) ON "
                         "CONFLICT DO NOTHING",
                         4, v, NULL);
        int found = 0;
        if (rc == 0)
            rc = read_offset(s, next, &found);
        if (rc == 0 && !found)
            rc = sl__pg_seterr(s, SL_EDB, "sluice_offsets row vanished");
        if (rc == 0)
            return 0;
        if (rc != SL_EAGAIN)
            return rc;
        if (sl_backoff_sleep(&s->bo, stop))
            return SL_ESTOPPED;
    }
}

static void pg_abort(void *impl) {
    sl_pg_sink_t *s = impl;
    s->run.n = 0;
    if (s->conn == NULL)
        return;
    if (s->ch[0].npend || s->ch[1].npend || s->ch[0].synced ||
        s->ch[1].synced) {
        /* Results still on the wire: closing rolls the transaction back
         * without reading them. */
        sl__pg_disconnect(s);
        return;
    }
    if (s->in_pipeline) {
        PGresult *r;
        int ok = PQsendQueryParams(s->conn, "ROLLBACK", 0, NULL, NULL, NULL,
                                   NULL, 0) == 1 &&
                 PQpipelineSync(s->conn) == 1;
        while (ok && (r = PQgetResult(s->conn)) != NULL)
            PQclear(r);
        r = ok ? PQgetResult(s->conn) : NULL;
        ok = ok && r != NULL && PQresultStatus(r) == PGRES_PIPELINE_SYNC;
        PQclear(r);
        if (!ok || PQexitPipelineMode(s->conn) != 1) {
            sl__pg_disconnect(s);
            return;
        }
    }
    s->in_pipeline = 0;
    s->in_group = 0;
}

static int pg_begin(void *impl, uint64_t start, int start_found,
                    volatile int *stop) {
    sl_pg_sink_t *s = impl;
    s->failed_offset = UINT64_MAX;
    s->failed_drift = 0;
    s->group_rows = s->group_ins = s->group_upd = s->group_del = 0;
    s->group_drift = s->group_reads = 0;
    s->careful = s->want_careful;
    s->want_careful = 0;
    s->run.n = 0;
    s->group_multi = 0;
    /* A group that rolled back leaves the windows as they were. */
    int rc = sl_snapwin_reset(&s->win);
    if (rc == 0)
        rc = sl__pg_ensure_conn(s, stop);
    if (rc != 0)
        return rc;
    /* A missing table may have been created since the last group. */
    for (size_t i = 0; i < s->ntables; i++)
        if (s->tables[i]->missing) {
            sl__pg_free_tables(s);
            break;
        }
    if (PQenterPipelineMode(s->conn) != 1)
        return sl__pg_fail(s, NULL, "entering pipeline mode");
    s->in_pipeline = 1;
    s->in_group = 1;
    s->cur = 0;
    const char *v[3];
    sl__pg_key_params(s, v);
    char sql[200];
    snprintf(sql, sizeof sql,
             "SELECT next_offset FROM sluice_offsets%s FOR UPDATE", where_part);
    if (PQsendQueryParams(s->conn, "BEGIN", 0, NULL, NULL, NULL, NULL, 0) !=
            1 ||
        PQsendQueryParams(s->conn, sql, 3, NULL, v, NULL, NULL, 0) != 1 ||
        PQpipelineSync(s->conn) != 1)
        return sl__pg_fail(s, NULL, "begin");
    PGresult *r = PQgetResult(s->conn), *x;
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    while ((x = PQgetResult(s->conn)) != NULL)
        PQclear(x);
    r = PQgetResult(s->conn);
    if (!ok || PQresultStatus(r) != PGRES_TUPLES_OK) {
        rc = sl__pg_fail(s, r, "locking the sluice_offsets row");
        PQclear(r);
        pg_abort(s);
        return rc;
    }
    int found = PQntuples(r) == 1;
    uint64_t cur = found ? strtoull(PQgetvalue(r, 0, 0), NULL, 10) : 0;
    PQclear(r);
    while ((x = PQgetResult(s->conn)) != NULL)
        PQclear(x);
    x = PQgetResult(s->conn);
    ok = x != NULL && PQresultStatus(x) == PGRES_PIPELINE_SYNC;
    PQclear(x);
    if (!ok) {
        rc = sl__pg_fail(s, NULL, "begin");
        pg_abort(s);
        return rc;
    }
    if (found != start_found || (found && cur != start)) {
        pg_abort(s);
        return sl__pg_seterr(
            s, SL_EDB,
            "partition %s: sluice_offsets says %s%llu but this worker "
            "expected %s%llu; another apply process is writing this "
            "partition",
            s->part, found ? "" : "nothing, not ", (unsigned long long)cur,
            start_found ? "" : "nothing, not ", (unsigned long long)start);
    }
    s->start_offset = start;
    return 0;
}

static int pg_row(void *impl, const sl_jr_doc_t *doc, const sl_event_t *ev,
                  uint64_t offset) {
    sl_pg_sink_t *s = impl;
    if (!s->in_group || s->conn == NULL)
        return sl__pg_seterr(s, SL_EAGAIN, "no open group");
    if (ev->snap != SL_EVENT_SNAP_NONE)
        return sl__pg_window_event(s, doc, ev, offset);
    switch (ev->kind_id) {
    case SL_CHANGE_ROW: break;
    case SL_CHANGE_DDL:
        s->stats.ddl_skipped++;
        sl_log_warn("DDL not replayed", "part=%s offset=%llu", s->part,
                    (unsigned long long)offset);
        return 0;
    case SL_CHANGE_STATEMENT:
        s->failed_offset = offset;
        return sl__pg_seterr(s, SL_EDB,
                             "partition %s offset %llu: statement-based "
                             "change cannot be applied (set "
                             "binlog_format=ROW)",
                             s->part, (unsigned long long)offset);
    default: return 0;
    }
    uint64_t rowno = 0;
    if (ev->row != SL_JR_NONE)
        (void)sl_jr_u64(doc, ev->row, &rowno);
    if (ev->positional != SL_JR_NONE &&
        sl_jr_type(doc, ev->positional) == SL_JR_TRUE) {
        s->failed_offset = offset;
        return sl__pg_seterr(s, SL_EDB,
                             "partition %s offset %llu row %llu: event "
                             "without column names (positional); set "
                             "binlog_row_metadata=FULL on the source",
                             s->part, (unsigned long long)offset,
                             (unsigned long long)rowno);
    }
    pgtable_t *tm = NULL;
    int rc = sl__pg_table(s, doc, ev, offset, rowno, &tm);
    if (rc != 0)
        return rc;
    if (tm->missing && s->o.create_tables) {
        char err[700] = "";
        rc = sl__pg_create_table(s, tm, err, sizeof err);
        if (rc == 0) {
            /* Described again, now that it exists. */
            sl__pg_free_tables(s);
            rc = sl__pg_table(s, doc, ev, offset, rowno, &tm);
        } else if (err[0]) {
            if (rc == SL_EDB)
                s->failed_offset = offset;
            sl__pg_seterr(s, rc, "partition %s offset %llu row %llu: %s",
                          s->part, (unsigned long long)offset,
                          (unsigned long long)rowno, err);
        }
        if (rc != 0)
            return rc;
    }
    if (tm->missing) {
        s->failed_offset = offset;
        return sl__pg_seterr(s, SL_EDB,
                             "partition %s offset %llu row %llu: target "
                             "table %s does not exist",
                             s->part, (unsigned long long)offset,
                             (unsigned long long)rowno, tm->qname);
    }
    return sl__pg_row(s, doc, ev, tm, offset, rowno);
}

static int pg_kick(void *impl) {
    sl_pg_sink_t *s = impl;
    if (!s->in_group || s->conn == NULL ||
        (s->ch[s->cur].npend == 0 && s->run.n == 0))
        return 0;
    return sl__pg_sync(s, 0);
}

/* After the connection broke during COMMIT: committed or not? */
static int commit_outcome(sl_pg_sink_t *s, uint64_t next, volatile int *stop) {
    int rc = sl__pg_ensure_conn(s, stop);
    uint64_t cur = 0;
    int found = 0;
    if (rc == 0)
        rc = read_offset(s, &cur, &found);
    if (rc != 0)
        return rc;
    if (found && cur == next)
        return 0;
    if (found && cur == s->start_offset)
        return sl__pg_seterr(s, SL_EAGAIN,
                             "partition %s: connection lost during COMMIT; "
                             "not committed, redone",
                             s->part);
    return sl__pg_seterr(s, SL_EDB,
                         "partition %s: after a lost COMMIT sluice_offsets "
                         "says %llu, neither %llu nor %llu",
                         s->part, (unsigned long long)cur,
                         (unsigned long long)s->start_offset,
                         (unsigned long long)next);
}

static int pg_commit(void *impl, uint64_t next, uint64_t ntrx,
                     const char *last_trx, volatile int *stop) {
    sl_pg_sink_t *s = impl;
    if (!s->in_group || s->conn == NULL)
        return sl__pg_seterr(s, SL_EAGAIN, "no open group");
    int rc = sl__pg_run_flush(s);
    /* A multi-row insert that met drift succeeded on the server: its
     * check must come before COMMIT is sent (one more round trip, only
     * for groups that had one). */
    if (rc == 0 && s->group_multi)
        rc = sl__pg_sync(s, 1);
    if (rc != 0) {
        pg_abort(s);
        return rc;
    }
    pgchunk_t *c = &s->ch[s->cur];
    if ((rc = sl__pg_chunk_reserve(c, 0)) != 0 ||
        (rc = sl_snapwin_stage(&s->win)) != 0)
        return rc;
    const char *v[7];
    sl__pg_key_params(s, v);
    char nx[24], nt[24], nr[24];
    snprintf(nx, sizeof nx, "%llu", (unsigned long long)next);
    snprintf(nt, sizeof nt, "%llu", (unsigned long long)ntrx);
    snprintf(nr, sizeof nr, "%llu", (unsigned long long)s->group_rows);
    v[3] = nx, v[4] = nt, v[5] = nr, v[6] = last_trx ? last_trx : "";
    char sql[400];
    snprintf(sql, sizeof sql,
             "UPDATE sluice_offsets SET next_offset = $4, trx_applied = "
             "trx_applied + $5, rows_applied = rows_applied + $6, last_trx "
             "= $7, updated_at = now()%s",
             where_part);
    if (PQsendQueryParams(s->conn, sql, 7, NULL, v, NULL, NULL, 0) != 1)
        return sl__pg_fail(s, NULL, "updating sluice_offsets");
    pgpend_t *p = &c->pend[c->npend++];
    memset(p, 0, sizeof *p);
    p->check = CHK_TXN;
    rc = sl__pg_chunk_reserve(c, 0);
    if (rc != 0)
        return rc;
    if (PQsendQueryParams(s->conn, "COMMIT", 0, NULL, NULL, NULL, NULL, 0) != 1)
        return sl__pg_fail(s, NULL, "commit");
    p = &c->pend[c->npend++];
    memset(p, 0, sizeof *p);
    p->check = CHK_TXN;
    rc = sl__pg_sync(s, 1);
    if (rc == SL_EAGAIN && s->conn == NULL) {
        /* Lost: it may have committed. */
        char why[sizeof s->err];
        memcpy(why, s->err, sizeof why);
        rc = commit_outcome(s, next, stop);
        if (rc == SL_EAGAIN)
            memcpy(s->err, why, sizeof why);
    }
    if (rc != 0) {
        pg_abort(s);
        return rc;
    }
    if (s->conn != NULL && s->in_pipeline && PQexitPipelineMode(s->conn) != 1)
        sl__pg_disconnect(s);
    s->in_pipeline = 0;
    s->in_group = 0;
    s->stats.groups++;
    s->stats.trx += ntrx;
    s->stats.rows += s->group_rows;
    s->stats.inserts += s->group_ins;
    s->stats.updates += s->group_upd;
    s->stats.deletes += s->group_del;
    s->stats.drift += s->group_drift;
    s->stats.reads += s->group_reads;
    sl_snapwin_committed(&s->win);
    s->stats.windows = s->win.ndone;
    sl_backoff_reset(&s->bo);
    return 0;
}

static int pg_ddl(void *impl, const sl_jr_doc_t *doc, uint64_t offset,
                  volatile int *stop) {
    sl_pg_sink_t *s = impl;
    (void)doc, (void)stop;
    s->failed_offset = offset;
    return sl__pg_seterr(s, SL_EDB,
                         "partition %s offset %llu: DDL is not replayed on "
                         "PostgreSQL targets (docs/postgresql.md)",
                         s->part, (unsigned long long)offset);
}

static int pg_wait(void *impl, volatile int *stop) {
    sl_pg_sink_t *s = impl;
    return sl_backoff_sleep(&s->bo, stop);
}

static int pg_careful(const void *impl) {
    /* After a multi-row insert met drift or an error (multi.c). */
    return ((const sl_pg_sink_t *)impl)->want_careful;
}

static const char *pg_error(const void *impl) {
    return ((const sl_pg_sink_t *)impl)->err;
}

static uint64_t pg_failed_offset(const void *impl) {
    return ((const sl_pg_sink_t *)impl)->failed_offset;
}

static int pg_failed_drift(const void *impl) {
    return ((const sl_pg_sink_t *)impl)->failed_drift;
}

static void pg_stats(const void *impl, sl_mysql_stats_t *st) {
    *st = ((const sl_pg_sink_t *)impl)->stats;
}

static void pg_free(void *impl) {
    sl_pg_sink_t *s = impl;
    if (s == NULL)
        return;
    sl__pg_disconnect(s);
    sl__pg_free_tables(s);
    sl_snapwin_free(&s->win);
    sl__pg_chunk_free(&s->ch[0]);
    sl__pg_chunk_free(&s->ch[1]);
    sl_buf_free(&s->tmp);
    sl_buf_free(&s->tmp2);
    free(s->img[0]);
    free(s->img[1]);
    free(s->part);
    free(s);
}

static int pg_new(const sl_mysql_opts_t *common, const void *arg,
                  const char *part, void **impl) {
    sl_pg_sink_t *s = calloc(1, sizeof *s);
    if (s == NULL)
        return SL_ENOMEM;
    s->common = common;
    s->o = *(const sl_pg_opts_t *)arg;
    s->part = strdup(part);
    s->failed_offset = UINT64_MAX;
    sl_backoff_init(&s->bo, common->retry_min_ms ? common->retry_min_ms : 100,
                    common->retry_max_ms ? common->retry_max_ms : 10000);
    if (s->part == NULL) {
        pg_free(s);
        return SL_ENOMEM;
    }
    *impl = s;
    return 0;
}

const sl_target_ops_t sl_pg_target_ops = {
    .name = "postgresql",
    .new_cb = pg_new,
    .free_cb = pg_free,
    .resume_cb = pg_resume,
    .claim_cb = pg_claim,
    .begin_cb = pg_begin,
    .row_cb = pg_row,
    .kick_cb = pg_kick,
    .commit_cb = pg_commit,
    .ddl_cb = pg_ddl,
    .abort_cb = pg_abort,
    .wait_cb = pg_wait,
    .careful_cb = pg_careful,
    .error_cb = pg_error,
    .failed_offset_cb = pg_failed_offset,
    .failed_drift_cb = pg_failed_drift,
    .stats_cb = pg_stats,
};
