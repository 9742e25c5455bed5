/*
 * The statements of a group (apply/mysql/internal.h): plain SQL text, many
 * per round trip as one multi-statement query, with consecutive inserts
 * (and updates that keep their primary key) merged into one multi-row
 * INSERT ... ON DUPLICATE KEY UPDATE and consecutive deletes by primary key
 * into one DELETE ... IN (...). One batch is in flight while the next one
 * is built; each statement's outcome (affected rows, or "Rows matched"
 * from mysql_info() for UPDATE) is read back in order, so drift is
 * detected per row, and a merged statement is checked by its total.
 */
#include "internal.h"

#include "clock.h"
#include "error.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "Rows matched: N" of the last UPDATE. */
long long sl__mysql_rows_matched(MYSQL *m) {
    const char *info = mysql_info(m);
    long long n;
    if (info != NULL && sscanf(info, "Rows matched: %lld", &n) == 1)
        return n;
    return (long long)mysql_affected_rows(m);
}

static const char *kind_name(int kind) {
    return kind == ST_INSERT   ? "insert"
           : kind == ST_DELETE ? "delete"
           : kind == ST_READ   ? "upsert"
           : kind == ST_META   ? "snapshot window write"
                               : "update";
}

/* Handles one statement outcome. Returns 0, SL_EAGAIN (redo the group in
 * careful mode) or SL_EDB (stop). */
int sl__mysql_check_outcome(sl_mysql_sink_t *s, const stmt_t *st, long long n) {
    s->upd_missing = 0;
    if (st->kind == ST_READ || st->kind == ST_META)
        return 0; /* Inserted, changed or equal: all as wanted. */
    if (st->tolerant && st->nrows > 1 &&
        (st->kind == ST_UPSERT || st->kind == ST_DELETE)) {
        /* Inside a snapshot window a row may not have been read yet. A
         * merged update keeps its key and writes the complete after image
         * as an upsert, so a missing row gets that image, which is what
         * the careful path would insert; a missing row of a merged delete
         * stays missing, as the careful path would leave it. Redoing the
         * group row by row would change nothing but the time it takes
         * (most stream groups meet a row not read yet while a snapshot
         * runs). Each existing row counts 2 in an upsert (1 in a delete),
         * so the shortfall is what the window tolerated (an upsert row
         * already equal to its image counts as tolerated too). */
        long long full = st->kind == ST_UPSERT ? 2 * (long long)st->nrows
                                               : (long long)st->nrows;
        if (n < full)
            s->group_tolerated +=
                (uint64_t)(st->kind == ST_UPSERT ? (full - n + 1) / 2
                                                 : full - n);
        return 0;
    }
    if (st->kind == ST_UPSERT) {
        /* Each row that existed and changed counts 2; anything else (a
         * missing row was inserted, or nothing changed) is redone row by
         * row, where drift is handled by the policy. */
        if (n == 2 * (long long)st->nrows)
            return 0;
        s->want_careful = 1;
        return sl__mysql_seterr(s, SL_EAGAIN,
                                "merged update did not find every row "
                                "changed; redoing the group row by row");
    }
    if (st->nrows > 1) {
        /* A merged statement: each new row counts 1 (insert) or each
         * deleted row 1. Any other total means drift somewhere in it; the
         * group is redone one row per statement, which finds and handles
         * each case exactly. */
        if (n == (long long)st->nrows)
            return 0;
        s->want_careful = 1;
        return sl__mysql_seterr(s, SL_EAGAIN,
                                "drift inside a merged statement; "
                                "redoing the group row by row");
    }
    int drift = st->kind == ST_INSERT ? n != 1 : n == 0;
    if (!drift)
        return 0;
    s->upd_missing = st->kind == ST_UPDATE;
    if (st->tolerant) {
        /* Inside a snapshot window the row may not have been read yet:
         * handled as overwrite, and not drift. */
        s->group_tolerated++;
        if (st->kind == ST_UPDATE && !s->careful) {
            s->want_careful = 1;
            return sl__mysql_seterr(s, SL_EAGAIN,
                                    "update of a row not read yet; "
                                    "redoing the group row by row");
        }
        return 0;
    }
    s->group_drift++;
    const char *what = st->kind == ST_INSERT   ? "insert of an existing key"
                       : st->kind == ST_UPDATE ? "update of a missing row"
                                               : "delete of a missing row";
    if (s->opts.drift == SL_DRIFT_STOP) {
        s->failed_offset = st->offset;
        s->failed_drift = 1;
        return sl__mysql_seterr(
            s, SL_EDB,
            "partition %s offset %llu row %llu: drift on %s.%s: %s "
            "(drift policy stop)",
            s->part, (unsigned long long)st->offset,
            (unsigned long long)st->row, st->tm->dst_db, st->tm->table, what);
    }
    sl_log_warn("target drift",
                "part=%s offset=%llu row=%llu table=%s.%s "
                "case=\"%s\" policy=%s",
                s->part, (unsigned long long)st->offset,
                (unsigned long long)st->row, st->tm->dst_db, st->tm->table,
                what, s->opts.drift == SL_DRIFT_SKIP ? "skip" : "overwrite");
    if (st->kind == ST_UPDATE && s->opts.drift == SL_DRIFT_OVERWRITE &&
        !s->careful) {
        /* The correcting insert must run before later statements of the
         * group: redo the group one statement at a time. */
        s->want_careful = 1;
        return sl__mysql_seterr(s, SL_EAGAIN,
                                "drift correction needs a careful redo");
    }
    return 0;
}

/* A statement failed with error e (message msg): a transient error drops
 * the connection (the group is redone); a permanent one in a merged
 * statement asks for a careful redo, which names the row; otherwise it is
 * reported with its offset and row. */
int sl__mysql_stmt_failed(sl_mysql_sink_t *s, const stmt_t *st, unsigned e,
                          const char *msg) {
    int rc;
    int transient = sl_mysql_error_transient(e, msg);
    if (!transient && st->nrows > 1) {
        /* Which row of a merged statement failed? The careful redo (one
         * row per statement) names it. */
        s->want_careful = 1;
        rc = sl__mysql_seterr(s, SL_EAGAIN,
                              "error %u in a merged statement (%s); "
                              "redoing the group row by row",
                              e, msg);
        sl_mysql_sink_abort(s);
        return rc;
    }
    if (!transient)
        s->failed_offset = st->offset;
    rc = sl__mysql_seterr(
        s, transient ? SL_EAGAIN : SL_EDB,
        "partition %s offset %llu row %llu: %s on %s.%s failed: "
        "error %u: %s",
        s->part, (unsigned long long)st->offset, (unsigned long long)st->row,
        kind_name(st->kind), st->tm ? st->tm->dst_db : s->opts.url.db,
        st->tm ? st->tm->table : "sluice_snapshots", e, msg);
    if (transient) {
        sl__mysql_disconnect(s);
        sl_buf_reset(&s->sql);
        s->nstmts = 0;
        s->open_kind = -1;
    } else {
        sl_mysql_sink_abort(s);
    }
    return rc;
}

/* Reads back the batch in flight and checks each statement's outcome. */
int sl__mysql_complete(sl_mysql_sink_t *s) {
    if (!s->inflight)
        return 0;
    if (s->inflight == 2)
        return sl__mysql_complete_bulk(s);
    s->inflight = 0;
    const stmt_t *stmts = s->stmts_if;
    size_t n = s->nstmts_if;
    size_t k = 0;
    int rc = 0;
    uint64_t t0 = sl_mono_ns();
    int q = mysql_read_query_result(s->mysql);
    s->stats.wait_ns += sl_mono_ns() - t0;
    if (q != 0)
        goto sqlerr;
    for (k = 0; k < n; k++) {
        if (k > 0) {
            int st = mysql_next_result(s->mysql);
            if (st > 0)
                goto sqlerr;
            if (st < 0) {
                rc = sl__mysql_seterr(s, SL_EPROTO,
                                      "fewer results than statements");
                break;
            }
        }
        MYSQL_RES *res = mysql_store_result(s->mysql);
        if (res)
            mysql_free_result(res);
        if (rc == 0)
            rc = sl__mysql_check_outcome(
                s, &stmts[k],
                stmts[k].kind == ST_UPDATE
                    ? sl__mysql_rows_matched(s->mysql)
                    : (long long)mysql_affected_rows(s->mysql));
    }
    /* Drain what is left after a drift stop so the connection stays
     * usable for the rollback. */
    while (mysql_more_results(s->mysql) && mysql_next_result(s->mysql) == 0) {
        MYSQL_RES *res = mysql_store_result(s->mysql);
        if (res)
            mysql_free_result(res);
    }
    if (rc != 0)
        sl_mysql_sink_abort(s);
    return rc;
sqlerr : {
    char msg[512];
    snprintf(msg, sizeof msg, "%s", mysql_error(s->mysql));
    return sl__mysql_stmt_failed(s, &stmts[k < n ? k : n - 1],
                                 mysql_errno(s->mysql), msg);
}
}

/* Sends the pending statements without waiting for their results (the
 * batch sent before is read back first). */
int sl__mysql_send_batch(sl_mysql_sink_t *s) {
    if (s->nstmts == 0 && s->bk.state != 2)
        return 0;
    int rc =
        sl__mysql_close_open(s); /* Sends a run collected for bulk execution. */
    if (rc != 0 || s->nstmts == 0)
        return rc;
    rc = sl__mysql_complete(s);
    if (rc != 0)
        return rc;
    s->stats.round_trips++;
    if (mysql_send_query(s->mysql, (const char *)s->sql.data,
                         (unsigned long)s->sql.len) != 0) {
        unsigned e = mysql_errno(s->mysql);
        int transient = sl_mysql_error_transient(e, mysql_error(s->mysql));
        rc = sl__mysql_seterr(
            s, transient ? SL_EAGAIN : SL_EDB,
            "partition %s: sending statements failed: error %u: %s", s->part, e,
            mysql_error(s->mysql));
        if (transient)
            sl__mysql_disconnect(s);
        sl_mysql_sink_abort(s);
        return rc;
    }
    stmt_t *t = s->stmts_if;
    size_t cap = s->capstmts_if;
    s->stmts_if = s->stmts;
    s->capstmts_if = s->capstmts;
    s->nstmts_if = s->nstmts;
    s->stmts = t;
    s->capstmts = cap;
    s->nstmts = 0;
    s->inflight = 1;
    sl_buf_reset(&s->sql);
    return 0;
}

/* Sends what is pending and reads back everything. */
int sl__mysql_flush(sl_mysql_sink_t *s) {
    int rc = sl__mysql_send_batch(s);
    return rc != 0 ? rc : sl__mysql_complete(s);
}

/* Ends the open multi-row statement: writes its tail, or sends the run
 * collected for bulk execution. */
int sl__mysql_close_open(sl_mysql_sink_t *s) {
    int rc = 0;
    if (s->bk.state == 2) {
        rc = sl__mysql_bulk_emit(s, 0);
    } else if (s->open_kind == ST_INSERT || s->open_kind == ST_UPSERT ||
               s->open_kind == ST_READ) {
        sl__mysql_put_upsert_tail(&s->sql, s->open_tm, s->open_kind,
                                  s->opts.drift, s->open_cols, s->nopen_cols);
        rc = sl_buf_error(&s->sql);
    } else if (s->open_kind == ST_DELETE) {
        rc = sl_buf_append_u8(&s->sql, ')');
    }
    s->bk.state = 0;
    s->open_kind = -1;
    return rc;
}

int sl__mysql_push_stmt(sl_mysql_sink_t *s, uint64_t offset, uint64_t rowno,
                        int kind, tmeta_t *tm, size_t mark) {
    if (s->nstmts == s->capstmts) {
        size_t nc = s->capstmts ? s->capstmts * 2 : 256;
        stmt_t *ns = realloc(s->stmts, nc * sizeof *ns);
        if (ns == NULL)
            return SL_ENOMEM;
        s->stmts = ns;
        s->capstmts = nc;
    }
    stmt_t *st = &s->stmts[s->nstmts++];
    st->offset = offset;
    st->row = rowno;
    st->kind = kind;
    st->tm = tm;
    st->sql_start = mark;
    st->nrows = 1;
    st->tolerant = tm != NULL && tm->tolerant;
    return 0;
}

/* 1 when every primary-key column (the event's pk list) has the same
 * value, as text, in the before and the after image. */
static int pk_unchanged(const sl_jr_doc_t *doc, const sl_event_t *ev,
                        const tmeta_t *tm) {
    uint32_t pk = ev->pk, before = ev->before, after = ev->after;
    if (pk == SL_JR_NONE || sl_jr_type(doc, pk) != SL_JR_ARRAY ||
        sl_jr_tok(doc, pk)->count == 0 || before == SL_JR_NONE ||
        after == SL_JR_NONE || sl_jr_type(doc, before) != SL_JR_OBJECT ||
        sl_jr_type(doc, after) != SL_JR_OBJECT)
        return 0;
    uint32_t it = 0, k, e;
    while (sl_jr_next(doc, pk, &it, &k, &e)) {
        if (sl_jr_type(doc, e) != SL_JR_STRING)
            return 0;
        int c = sl__mysql_find_col(tm, doc, e);
        if (c < 0)
            return 0;
        const char *name = tm->cols[c].name;
        uint32_t b = sl_jr_getn(doc, before, name, tm->cols[c].len);
        uint32_t a = sl_jr_getn(doc, after, name, tm->cols[c].len);
        if (b == SL_JR_NONE || a == SL_JR_NONE ||
            sl_jr_type(doc, a) == SL_JR_NULL ||
            sl_jr_type(doc, a) != sl_jr_type(doc, b))
            return 0;
        size_t al, bl;
        const char *ar = sl_jr_raw(doc, a, &al), *br = sl_jr_raw(doc, b, &bl);
        if (al != bl || memcmp(ar, br, al) != 0)
            return 0;
    }
    return 1;
}

/* Starts a merged statement on tm with columns cols[0..n): the head of a
 * multi-row INSERT (upsert) up to its VALUES, or of a DELETE ... IN up to
 * the list of keys. */
static void put_merged_head(sl_mysql_sink_t *s, tmeta_t *tm, const int *cols,
                            size_t n, int upsert) {
    sl_buf_t *b = &s->sql;
    if (s->nstmts > 0)
        sl_buf_append_u8(b, ';');
    if (upsert) {
        sl__mysql_put_insert_head(b, tm, cols, n);
        return;
    }
    sl_buf_append_str(b, "DELETE FROM ");
    sl__mysql_put_table(b, tm);
    sl_buf_append_str(b, n > 1 ? " WHERE (" : " WHERE ");
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            sl_buf_append_u8(b, ',');
        sl__mysql_put_ident(b, tm->cols[cols[i]].name);
    }
    sl_buf_append_str(b, n > 1 ? ") IN (" : " IN (");
}

/*
 * Consecutive inserts into the same table with the same columns become
 * one multi-row INSERT, and consecutive deletes by primary key one
 * DELETE ... WHERE pk IN (...): far fewer statements for the server to
 * parse. Returns 1 when the row was taken, 0 when it must be a statement
 * of its own (update, no key, an odd value: the single-row path also
 * reports any error precisely), or a negative error.
 */
int sl__mysql_try_merge(sl_mysql_sink_t *s, const sl_jr_doc_t *doc,
                        const sl_event_t *ev, tmeta_t *tm, uint64_t offset,
                        uint64_t rowno) {
    /* Snapshot rows, and inserts into a tolerant table, are upserts whose
     * outcome is never drift (ST_READ). */
    int rd =
        ev->op_id == SL_OP_READ || (ev->op_id == SL_OP_INSERT && tm->tolerant);
    int ins = ev->op_id == SL_OP_INSERT && !rd;
    int del = ev->op_id == SL_OP_DELETE;
    int upd = ev->op_id == SL_OP_UPDATE && tm->pk_only;
    if (!ins && !del && !upd && !rd)
        return 0;
    if (upd && !pk_unchanged(doc, ev, tm))
        return 0;
    int kind = rd ? ST_READ : ins ? ST_INSERT : del ? ST_DELETE : ST_UPSERT;
    if (ev->positional != SL_JR_NONE)
        return 0;
    int cols[MAX_MERGE_COLS];
    uint32_t vals[MAX_MERGE_COLS];
    size_t n = 0;
    uint32_t it = 0, k, v;
    if (ins || upd || rd) {
        uint32_t after = ev->after;
        if (after == SL_JR_NONE || sl_jr_type(doc, after) != SL_JR_OBJECT)
            return 0;
        while (sl_jr_next(doc, after, &it, &k, &v)) {
            int c = sl__mysql_find_col_at(tm, doc, k, n);
            if (c < 0 || n == MAX_MERGE_COLS)
                return 0;
            cols[n] = c;
            vals[n++] = v;
        }
    } else {
        uint32_t pk = ev->pk, before = ev->before;
        if (pk == SL_JR_NONE || sl_jr_type(doc, pk) != SL_JR_ARRAY ||
            before == SL_JR_NONE || sl_jr_type(doc, before) != SL_JR_OBJECT)
            return 0;
        uint32_t e;
        while (sl_jr_next(doc, pk, &it, &k, &e)) {
            if (sl_jr_type(doc, e) != SL_JR_STRING || n == MAX_MERGE_COLS)
                return 0;
            int c = sl__mysql_find_col(tm, doc, e);
            if (c < 0)
                return 0;
            uint32_t val =
                sl_jr_getn(doc, before, tm->cols[c].name, tm->cols[c].len);
            if (val == SL_JR_NONE || sl_jr_type(doc, val) == SL_JR_NULL)
                return 0;
            cols[n] = c;
            vals[n++] = val;
        }
    }
    if (n == 0)
        return 0;
    int same = s->open_kind == kind && s->open_tm == tm && s->nopen_cols == n &&
               memcmp(s->open_cols, cols, n * sizeof cols[0]) == 0;
    int rc = 0;
    if (s->bk.state == 2) {
        /* A run sent by bulk execution: the row joins it, or ends it. */
        if (same) {
            int first = s->bk.nrows == 0;
            rc = sl__mysql_bulk_add(s, doc, cols, vals, n);
            if (rc < 0)
                return rc;
            if (rc == 0) {
                if (first) {
                    s->bk.offset = offset;
                    s->bk.row = rowno;
                }
                s->group_rows++;
                s->group_ins += ins;
                s->group_upd += upd;
                s->group_reads += ev->op_id == SL_OP_READ;
                return s->bk.data.len >= s->opts.batch_bytes
                           ? (sl__mysql_bulk_emit(s, 1) ?: 1)
                           : 1;
            }
        }
        rc = sl__mysql_close_open(s);
        if (rc != 0)
            return rc;
        same = 0;
    }
    size_t mark = s->sql.len;
    char err[200];
    sl_buf_t vtmp = SL_BUF_INIT;
    if (same) {
        rc = sl_buf_append_u8(&s->sql, ',');
    } else {
        rc = sl__mysql_close_open(s);
        mark = s->sql.len;
        if (rc == 0)
            put_merged_head(s, tm, cols, n, ins || upd || rd);
    }
    int paren = ins || upd || rd || n > 1;
    if (rc == 0) {
        if (paren)
            sl_buf_append_u8(&s->sql, '(');
        for (size_t i = 0; i < n && rc == 0; i++) {
            if (i > 0)
                sl_buf_append_u8(&s->sql, ',');
            rc = sl__mysql_put_value(s->mysql, &s->sql, doc, vals[i],
                                     tm->cols[cols[i]].cls, &vtmp, err,
                                     sizeof err);
        }
        if (paren)
            sl_buf_append_u8(&s->sql, ')');
        if (sl_buf_error(&s->sql) != 0)
            rc = sl_buf_error(&s->sql);
    }
    sl_buf_free(&vtmp);
    if (rc != 0) {
        /* Let the single-row path report it. */
        s->sql.len = mark;
        if (!same)
            s->open_kind = -1;
        return rc == SL_ENOMEM ? rc : 0;
    }
    if (same) {
        s->stmts[s->nstmts - 1].nrows++;
    } else {
        rc = sl__mysql_push_stmt(s, offset, rowno, kind, tm, mark);
        if (rc != 0)
            return rc;
        s->open_kind = kind;
        s->open_tm = tm;
        memcpy(s->open_cols, cols, n * sizeof cols[0]);
        s->nopen_cols = n;
    }
    s->group_rows++;
    s->group_ins += ins;
    s->group_upd += upd;
    s->group_del += del;
    s->group_reads += ev->op_id == SL_OP_READ;
    /* Upsert runs are also staged for bulk execution; at BULK_MIN rows the
     * run switches to it. */
    if (s->bulk_server && (ins || upd || rd)) {
        if (!same)
            sl__mysql_bulk_begin(s, tm, kind, n, offset, rowno);
        if (s->bk.state == 1) {
            rc = sl__mysql_bulk_add(s, doc, cols, vals, n);
            if (rc < 0)
                return rc;
            if (rc == 1)
                s->bk.state = 0;
            else if (s->bk.nrows >= BULK_MIN &&
                     (rc = sl__mysql_bulk_switch(s)) != 0)
                return rc;
        }
    } else if (!same) {
        s->bk.state = 0;
    }
    return 1;
}
