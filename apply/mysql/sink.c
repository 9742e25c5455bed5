/*
 * The MySQL/MariaDB sink (contract in apply/mysql/sink.h, user view in
 * docs/apply.md, the files of its parts in apply/mysql/internal.h): its
 * life cycle, the parsing of its options and the per-event entry points.
 */
#include "internal.h"

#include "apply/target.h"

#include "error.h"
#include "log.h"
#include "parse.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sl__mysql_seterr(sl_mysql_sink_t *s, int rc, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->err, sizeof s->err, fmt, ap);
    va_end(ap);
    return rc;
}

int sl_drift_parse(const char *text, sl_drift_t *drift) {
    if (strcmp(text, "overwrite") == 0)
        *drift = SL_DRIFT_OVERWRITE;
    else if (strcmp(text, "skip") == 0)
        *drift = SL_DRIFT_SKIP;
    else if (strcmp(text, "stop") == 0)
        *drift = SL_DRIFT_STOP;
    else
        return SL_EINVAL;
    return 0;
}

int sl_mysql_url_parse(const char *text, sl_mysql_url_t *url) {
    memset(url, 0, sizeof *url);
    if (strncmp(text, "mysql://", 8) != 0)
        return SL_EINVAL;
    const char *p = text + 8;
    const char *at = strchr(p, '@');
    const char *slash = strchr(p, '/');
    if (at == NULL || at == p || (slash != NULL && slash < at))
        return SL_EINVAL;
    if (memchr(p, ':', (size_t)(at - p)) != NULL)
        return SL_EINVAL; /* No password in URLs: use a file or env. */
    if ((size_t)(at - p) >= sizeof url->user)
        return SL_EINVAL;
    memcpy(url->user, p, (size_t)(at - p));
    const char *h = at + 1;
    if (slash == NULL || slash[1] == '\0' || strchr(slash + 1, '/') ||
        strlen(slash + 1) >= sizeof url->db)
        return SL_EINVAL;
    memcpy(url->db, slash + 1, strlen(slash + 1) + 1); /* Length checked. */
    char hp[300];
    size_t hl = (size_t)(slash - h);
    if (hl == 0 || hl >= sizeof hp)
        return SL_EINVAL;
    memcpy(hp, h, hl);
    hp[hl] = '\0';
    if (strchr(hp, ':') == NULL || hp[0] == '[') {
        if (hp[0] == '[')
            return sl_parse_hostport(hp, url->host, sizeof url->host,
                                     &url->port);
        if (hl >= sizeof url->host)
            return SL_EINVAL;
        memcpy(url->host, hp, hl + 1); /* Length checked. */
        url->port = 3306;
        return 0;
    }
    return sl_parse_hostport(hp, url->host, sizeof url->host, &url->port);
}

int sl_mysql_sink_new(const sl_mysql_opts_t *opts, const char *part,
                      sl_mysql_sink_t **out) {
    sl_mysql_sink_t *s = calloc(1, sizeof *s);
    int rc;
    if (s == NULL)
        return SL_ENOMEM;
    s->opts = *opts;
    if (s->opts.batch_bytes == 0)
        s->opts.batch_bytes = 64 * 1024;
    if (s->opts.retry_min_ms == 0)
        s->opts.retry_min_ms = 100;
    if (s->opts.retry_max_ms == 0)
        s->opts.retry_max_ms = 10000;
    s->password = opts->password ? strdup(opts->password) : NULL;
    s->group = strdup(opts->group ? opts->group : "sluice-apply");
    s->topic = strdup(opts->topic ? opts->topic : "");
    s->part = strdup(part);
    s->maps = calloc(opts->nmaps ? opts->nmaps : 1, sizeof *s->maps);
    if (s->maps != NULL)
        for (size_t i = 0; i < opts->nmaps; i++) {
            s->maps[i].src = strdup(opts->maps[i].src);
            s->maps[i].dst = strdup(opts->maps[i].dst);
        }
    s->opts.maps = s->maps;
    sl_jr_init(&s->doc);
    s->open_kind = -1;
    s->failed_offset = UINT64_MAX;
    sl_backoff_init(&s->bo, s->opts.retry_min_ms, s->opts.retry_max_ms);
    if (!s->group || !s->topic || !s->part || !s->maps ||
        (opts->password && !s->password)) {
        sl_mysql_sink_free(s);
        return SL_ENOMEM;
    }
    if (opts->ops != NULL &&
        (rc = opts->ops->new_cb(&s->opts, opts->ops_arg, part, &s->alt)) != 0) {
        sl_mysql_sink_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void sl_mysql_sink_free(sl_mysql_sink_t *s) {
    if (s == NULL)
        return;
    if (s->alt)
        s->opts.ops->free_cb(s->alt);
    sl__mysql_disconnect(s);
    sl__mysql_free_tables(s);
    if (s->password) {
        memset(s->password, 0, strlen(s->password));
        free(s->password);
    }
    for (size_t i = 0; s->maps && i < s->opts.nmaps; i++) {
        free(s->maps[i].src);
        free(s->maps[i].dst);
    }
    free(s->maps);
    free(s->group);
    free(s->topic);
    free(s->part);
    free(s->stmts);
    free(s->stmts_if);
    sl_buf_free(&s->sql);
    sl_buf_free(&s->bk.data);
    free(s->bk.off);
    free(s->bk.len);
    free(s->bk.ind);
    free(s->bk.ptrs);
    sl_buf_free(&s->tmp);
    sl_buf_free(&s->tmp2);
    sl_jr_free(&s->doc);
    sl__mysql_windows_free(s);
    free(s);
}

const char *sl_mysql_sink_error(const sl_mysql_sink_t *s) {
    if (s->alt)
        return s->opts.ops->error_cb(s->alt);
    return s->err;
}
int sl_mysql_sink_failed_drift(const sl_mysql_sink_t *s) {
    if (s->alt)
        return s->opts.ops->failed_drift_cb(s->alt);
    return s->failed_drift;
}
uint64_t sl_mysql_sink_failed_offset(const sl_mysql_sink_t *s) {
    if (s->alt)
        return s->opts.ops->failed_offset_cb(s->alt);
    return s->failed_offset;
}
int sl_mysql_sink_careful(const sl_mysql_sink_t *s) {
    if (s->alt)
        return s->opts.ops->careful_cb(s->alt);
    return s->want_careful;
}
void sl_mysql_sink_stats(const sl_mysql_sink_t *s, sl_mysql_stats_t *st) {
    if (s->alt) {
        s->opts.ops->stats_cb(s->alt, st);
        return;
    }
    *st = s->stats;
    st->windows = s->win.ndone;
}

int sl_mysql_sink_wait(sl_mysql_sink_t *s, volatile int *stop) {
    if (s->alt)
        return s->opts.ops->wait_cb(s->alt, stop);
    return sl_backoff_sleep(&s->bo, stop);
}

int sl_mysql_sink_kick(sl_mysql_sink_t *s) {
    if (s->alt)
        return s->opts.ops->kick_cb(s->alt);
    if (!s->in_group || s->mysql == NULL)
        return 0;
    if (s->bk.state == 2)
        return sl__mysql_bulk_emit(s, 1);
    return sl__mysql_send_batch(s);
}

int sl_mysql_sink_row(sl_mysql_sink_t *s, const char *json, size_t len,
                      uint64_t offset) {
    if (s->alt && sl_jr_parse(&s->doc, json, len) != 0)
        return SL_ECORRUPT;
    if (s->alt)
        return sl_mysql_sink_row_doc(s, &s->doc, offset);
    if (!s->in_group || s->mysql == NULL)
        return sl__mysql_seterr(s, SL_EAGAIN, "no open group");
    int rc = sl_jr_parse(&s->doc, json, len);
    if (rc != 0) {
        s->failed_offset = offset;
        sl_mysql_sink_abort(s);
        return sl__mysql_seterr(s, SL_EDB,
                                "partition %s offset %llu: not a change "
                                "event: byte %zu: %s",
                                s->part, (unsigned long long)offset,
                                s->doc.err_pos, s->doc.err);
    }
    return sl_mysql_sink_row_doc(s, &s->doc, offset);
}

int sl_mysql_sink_row_doc(sl_mysql_sink_t *s, const sl_jr_doc_t *doc,
                          uint64_t offset) {
    sl_event_t ev;
    sl_event_index(doc, &ev);
    return sl_mysql_sink_row_ev(s, doc, &ev, offset);
}

int sl_mysql_sink_row_ev(sl_mysql_sink_t *s, const sl_jr_doc_t *doc,
                         const sl_event_t *ev, uint64_t offset) {
    if (s->alt)
        return s->opts.ops->row_cb(s->alt, doc, ev, offset);
    if (!s->in_group || s->mysql == NULL)
        return sl__mysql_seterr(s, SL_EAGAIN, "no open group");
    int rc = 0;
    if (ev->kind == SL_JR_NONE) {
        s->failed_offset = offset;
        return sl__mysql_seterr(s, SL_EDB,
                                "partition %s offset %llu: event without "
                                "kind",
                                s->part, (unsigned long long)offset);
    }
    switch (ev->kind_id) {
    case SL_CHANGE_ROW: break;
    case SL_CHANGE_DDL:
        s->stats.ddl_skipped++;
        sl_log_warn("DDL not replayed", "part=%s offset=%llu", s->part,
                    (unsigned long long)offset);
        return 0;
    case SL_CHANGE_STATEMENT:
        s->failed_offset = offset;
        return sl__mysql_seterr(
            s, SL_EDB,
            "partition %s offset %llu: statement-based "
            "change cannot be applied (set binlog_format=ROW)",
            s->part, (unsigned long long)offset);
    default:
        if (ev->snap != SL_EVENT_SNAP_NONE)
            return sl__mysql_window_event(s, doc, ev, offset);
        /* Transaction boundaries and kinds this build does not know. */
        return 0;
    }
    uint32_t db = ev->db, table = ev->table, rowi = ev->row;
    uint64_t rowno = 0;
    if (rowi != SL_JR_NONE)
        (void)sl_jr_u64(doc, rowi, &rowno);
    tmeta_t *tm = db != SL_JR_NONE && table != SL_JR_NONE
                      ? sl__mysql_known_table(s, doc, db, table)
                      : NULL;
    if (tm == NULL)
        rc = sl__mysql_find_table(s, doc, db, table, offset, &tm);
    if (rc != 0)
        return rc;
    if (tm->missing) {
        s->failed_offset = offset;
        /* Forget it, so that a table created later is seen. */
        char name[300];
        snprintf(name, sizeof name, "%s.%s", tm->dst_db, tm->table);
        sl__mysql_free_tables(s);
        sl_mysql_sink_abort(s);
        return sl__mysql_seterr(s, SL_EDB,
                                "partition %s offset %llu row %llu: target "
                                "table %s does not exist",
                                s->part, (unsigned long long)offset,
                                (unsigned long long)rowno, name);
    }
    if (!s->careful) {
        rc = sl__mysql_try_merge(s, doc, ev, tm, offset, rowno);
        if (rc < 0)
            return rc;
        if (rc == 1)
            return s->sql.len >= s->opts.batch_bytes ? sl__mysql_send_batch(s)
                                                     : 0;
    }
    rc = sl__mysql_close_open(s);
    if (rc != 0)
        return rc;
    size_t mark = s->sql.len;
    if (s->nstmts > 0)
        rc = sl_buf_append_u8(&s->sql, ';');
    if (rc != 0)
        return rc;
    int skind = 0;
    char err[300] = "";
    sl_buf_t vtmp = SL_BUF_INIT;
    rc = sl__mysql_build_row(s->mysql, &s->sql, doc, ev, tm,
                             sl__mysql_drift_for(s, tm), &skind, &vtmp, err,
                             sizeof err);
    sl_buf_free(&vtmp);
    if (skind == ST_INSERT && tm->tolerant)
        skind = ST_READ; /* An existing row is not drift in a window. */
    if (rc != 0) {
        s->sql.len = mark;
        s->failed_offset = offset;
        sl_mysql_sink_abort(s);
        return sl__mysql_seterr(s, rc == SL_ENOMEM ? SL_ENOMEM : SL_EDB,
                                "partition %s offset %llu row %llu: %s.%s: %s",
                                s->part, (unsigned long long)offset,
                                (unsigned long long)rowno, tm->dst_db,
                                tm->table, err);
    }
    rc = sl__mysql_push_stmt(s, offset, rowno, skind, tm, mark);
    if (rc != 0)
        return rc;
    stmt_t *st = &s->stmts[s->nstmts - 1];
    s->group_rows++;
    s->group_ins += skind == ST_INSERT;
    s->group_upd += skind == ST_UPDATE;
    s->group_del += skind == ST_DELETE;
    s->group_reads += ev->op_id == SL_OP_READ;
    if (s->careful) {
        /* One statement per round trip; a missing updated row is inserted
         * from its after image right away (overwrite). */
        rc = sl__mysql_flush(s);
        if (rc == 0 && skind == ST_UPDATE &&
            sl__mysql_drift_for(s, tm) == SL_DRIFT_OVERWRITE &&
            s->upd_missing && sl__mysql_rows_matched(s->mysql) == 0) {
            sl_buf_reset(&s->sql);
            err[0] = '\0';
            sl_buf_t t2 = SL_BUF_INIT;
            rc = sl__mysql_build_upsert_after(s->mysql, &s->sql, doc, ev, tm,
                                              &t2, err, sizeof err);
            sl_buf_free(&t2);
            /* The flush swapped the statement arrays: st points into the
             * one in flight, and this one may not be allocated yet. */
            if (rc == 0)
                rc = sl__mysql_push_stmt(s, st->offset, st->row, ST_INSERT,
                                         st->tm, 0);
            if (rc == 0)
                rc = sl__mysql_flush(s);
        }
        return rc;
    }
    if (s->sql.len >= s->opts.batch_bytes)
        return sl__mysql_send_batch(s);
    return 0;
}
