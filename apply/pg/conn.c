/*
 * The PostgreSQL connection: connecting (password from the caller, never
 * the URL; sslmode and sslrootcert passed to libpq), the session settings
 * the sink relies on, which SQLSTATEs are transient, and the pipeline's
 * chunks with the check of every statement's result.
 *
 * Session: TimeZone UTC (capture renders TIMESTAMP in UTC, and timestamptz
 * parses the text as UTC), client_encoding UTF8 (events are UTF-8),
 * DateStyle ISO, IntervalStyle postgres, application_name sluice-apply.
 */
#include "internal.h"

#include "error.h"
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sl__pg_seterr(sl_pg_sink_t *s, int rc, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->err, sizeof s->err, fmt, ap);
    va_end(ap);
    return rc;
}

void sl__pg_disconnect(sl_pg_sink_t *s) {
    if (s->conn != NULL)
        PQfinish(s->conn);
    s->conn = NULL;
    s->in_group = 0;
    s->in_pipeline = 0;
    sl__pg_chunk_reset(&s->ch[0]);
    sl__pg_chunk_reset(&s->ch[1]);
    sl__pg_forget_stmts(s);
}

/*
 * Transient: the group is redone later, unchanged. Serialization failure
 * and deadlock (40001, 40P01), a lock not available (55P03), every
 * connection exception (class 08), insufficient resources (class 53:
 * disk full 53100, out of memory 53200, too many connections 53300),
 * the server shutting down or starting (57P01, 57P02, 57P03), a
 * read-only (standby) server (25006) and a query cancelled by an operator
 * (57014). Anything else is the event's or the schema's fault.
 */
int sl__pg_state_transient(const char *st) {
    if (st == NULL || st[0] == '\0')
        return 1; /* No SQLSTATE: the client lost the server. */
    static const char *const exact[] = {"40001", "40P01", "55P03", "57P01",
                                        "57P02", "57P03", "25006", "57014"};
    for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++)
        if (strcmp(st, exact[i]) == 0)
            return 1;
    return strncmp(st, "08", 2) == 0 || strncmp(st, "53", 2) == 0;
}

int sl__pg_fail(sl_pg_sink_t *s, const PGresult *r, const char *what) {
    const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    int bad = s->conn == NULL || PQstatus(s->conn) == CONNECTION_BAD;
    if (msg == NULL)
        msg = s->conn ? PQerrorMessage(s->conn) : "no connection";
    int transient = bad || sl__pg_state_transient(st);
    char m[600];
    snprintf(m, sizeof m, "%s", msg);
    size_t n = strlen(m);
    while (n > 0 && (m[n - 1] == '\n' || m[n - 1] == ' '))
        m[--n] = '\0';
    /* "partition P offset N row R: ..." for a row, as the MySQL target
     * writes it; "partition P: ..." otherwise. */
    int row = strncmp(what, "offset ", 7) == 0;
    sl__pg_seterr(s, transient ? SL_EAGAIN : SL_EDB,
                  "partition %s%s %s failed: SQLSTATE %s: %s", s->part,
                  row ? "" : ":", what, st ? st : "(connection)", m);
    if (transient)
        sl__pg_disconnect(s);
    return transient ? SL_EAGAIN : SL_EDB;
}

/* Server notices ("relation already exists, skipping") are not errors:
 * libpq would print them on stderr. */
static void quiet_cb(void *arg, const char *msg) { (void)arg, (void)msg; }

static int session(sl_pg_sink_t *s) {
    PQsetNoticeProcessor(s->conn, quiet_cb, NULL);
    static const char setup[] =
        "SET TimeZone = 'UTC'; SET client_encoding = 'UTF8'; "
        "SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'; "
        "SET extra_float_digits = 3";
    PGresult *r = PQexec(s->conn, setup);
    int rc = 0;
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        rc = sl__pg_fail(s, r, "session setup");
    PQclear(r);
    return rc;
}

/* Opens a connection with the sink's parameters (not yet checked). */
static PGconn *connect_params(const sl_pg_sink_t *s) {
    char port[8];
    snprintf(port, sizeof port, "%u", (unsigned)s->o.url.port);
    const char *keys[12], *vals[12];
    int n = 0;
    keys[n] = "host", vals[n++] = s->o.url.host;
    keys[n] = "port", vals[n++] = port;
    keys[n] = "user", vals[n++] = s->o.url.user;
    keys[n] = "dbname", vals[n++] = s->o.url.db;
    keys[n] = "application_name", vals[n++] = "sluice-apply";
    keys[n] = "connect_timeout", vals[n++] = "10";
    if (s->o.password != NULL)
        keys[n] = "password", vals[n++] = s->o.password;
    if (s->o.url.sslmode[0])
        keys[n] = "sslmode", vals[n++] = s->o.url.sslmode;
    if (s->o.url.sslrootcert[0])
        keys[n] = "sslrootcert", vals[n++] = s->o.url.sslrootcert;
    keys[n] = NULL, vals[n] = NULL;
    return PQconnectdbParams(keys, vals, 0);
}

int sl__pg_ensure_conn(sl_pg_sink_t *s, volatile int *stop) {
    while (s->conn == NULL) {
        s->conn = connect_params(s);
        if (s->conn != NULL && PQstatus(s->conn) == CONNECTION_OK &&
            session(s) == 0) {
            sl_backoff_reset(&s->bo);
            return 0;
        }
        char m[600];
        snprintf(m, sizeof m, "%s",
                 s->conn ? PQerrorMessage(s->conn) : "out of memory");
        size_t k = strlen(m);
        while (k > 0 && (m[k - 1] == '\n' || m[k - 1] == ' '))
            m[--k] = '\0';
        sl__pg_disconnect(s);
        /* A refused password or an unknown database are not transient,
         * but a server that is starting answers alike; retried like the
         * MySQL target, logged every tenth attempt. */
        sl__pg_seterr(s, SL_EAGAIN, "partition %s: cannot connect: %s", s->part,
                      m);
        if (s->bo.attempts % 10 == 0) {
            char q[700];
            sl_log_warn("target unreachable", "part=%s error=%s", s->part,
                        sl_log_quote(m, q, sizeof q));
        }
        if (sl_backoff_sleep(&s->bo, stop))
            return SL_ESTOPPED;
    }
    return 0;
}

int sl__pg_exec(sl_pg_sink_t *s, const char *sql, int n,
                const char *const *vals, PGresult **out) {
    if (s->conn == NULL)
        return sl__pg_seterr(s, SL_EAGAIN, "partition %s: no connection",
                             s->part);
    PGresult *r = PQexecParams(s->conn, sql, n, NULL, vals, NULL, NULL, 0);
    ExecStatusType es = PQresultStatus(r);
    if (es != PGRES_COMMAND_OK && es != PGRES_TUPLES_OK) {
        int rc = sl__pg_fail(s, r, "query");
        PQclear(r);
        return rc;
    }
    if (out != NULL)
        *out = r;
    else
        PQclear(r);
    return 0;
}

void sl__pg_chunk_reset(pgchunk_t *c) {
    c->npend = 0;
    c->nparams = 0;
    c->synced = 0;
    sl_buf_reset(&c->data);
}

void sl__pg_chunk_free(pgchunk_t *c) {
    free(c->pend);
    free(c->poff);
    free(c->plen);
    free(c->pfmt);
    sl_buf_free(&c->data);
    memset(c, 0, sizeof *c);
}

int sl__pg_chunk_reserve(pgchunk_t *c, size_t n) {
    if (c->npend == c->cappend) {
        size_t cap = c->cappend ? c->cappend * 2 : 64;
        pgpend_t *p = realloc(c->pend, cap * sizeof *p);
        if (p == NULL)
            return SL_ENOMEM;
        c->pend = p;
        c->cappend = cap;
    }
    if (c->nparams + n > c->capparams) {
        size_t cap = c->capparams ? c->capparams : 256;
        while (cap < c->nparams + n)
            cap *= 2;
        size_t *o = realloc(c->poff, cap * sizeof *o);
        if (o == NULL)
            return SL_ENOMEM;
        c->poff = o;
        int *l = realloc(c->plen, cap * sizeof *l);
        if (l == NULL)
            return SL_ENOMEM;
        c->plen = l;
        int *f = realloc(c->pfmt, cap * sizeof *f);
        if (f == NULL)
            return SL_ENOMEM;
        c->pfmt = f;
        c->capparams = cap;
    }
    return 0;
}

static const char *op_name(int op) {
    return op == OP_INSERT ? "insert" : op == OP_UPDATE ? "update" : "delete";
}

/* Finds the column of a refused value: each parameter of the failed row
 * is cast alone, outside the (aborted) transaction. Returns the column
 * name or NULL. */
static const char *refused_column(sl_pg_sink_t *s, const pgchunk_t *c,
                                  const pgpend_t *p) {
    if (p->st == NULL)
        return NULL;
    /* The group's connection is in an aborted pipeline: a second one. */
    PGconn *pc = connect_params(s);
    if (pc == NULL || PQstatus(pc) != CONNECTION_OK) {
        PQfinish(pc);
        return NULL;
    }
    PGresult *r;
    const char *found = NULL;
    for (size_t i = 0; i < p->st->nparams; i++) {
        size_t k = p->first + i;
        if (c->poff[k] == SIZE_MAX || c->pfmt[k] != 0)
            continue;
        const pgcol_t *col = &p->tm->cols[p->st->param_col[i]];
        char sql[300];
        snprintf(sql, sizeof sql, "SELECT $1::%s", col->type);
        const char *v = (const char *)c->data.data + c->poff[k];
        r = PQexecParams(pc, sql, 1, NULL, &v, NULL, NULL, 0);
        int bad = PQresultStatus(r) == PGRES_FATAL_ERROR;
        PQclear(r);
        if (bad) {
            found = col->name;
            break;
        }
    }
    PQfinish(pc);
    return found;
}

static void log_drift(sl_pg_sink_t *s, const pgpend_t *p) {
    static const char *const pol[] = {"overwrite", "skip", "stop"};
    char qs[300], qt[300];
    sl_log_warn(
        "target drift", "part=%s offset=%llu row=%llu op=%s table=%s policy=%s",
        s->part, (unsigned long long)p->offset, (unsigned long long)p->rowno,
        op_name(p->op), sl_log_quote(p->tm->qname, qt, sizeof qt),
        sl_log_quote(pol[s->common->drift], qs, sizeof qs));
}

/* Checks one statement's result against what its row expected. */
static int check_one(sl_pg_sink_t *s, pgchunk_t *c, pgpend_t *p, PGresult *r) {
    ExecStatusType es = PQresultStatus(r);
    if (p->check == CHK_PREPARE || p->check == CHK_TXN) {
        if (es == PGRES_COMMAND_OK &&
            (p->check == CHK_PREPARE || PQcmdTuples(r)[0] != '0'))
            return 0;
        if (es == PGRES_COMMAND_OK) {
            s->failed_offset = UINT64_MAX;
            return sl__pg_seterr(s, SL_EDB,
                                 "partition %s: the sluice_offsets row is "
                                 "gone",
                                 s->part);
        }
        if (es == PGRES_PIPELINE_ABORTED)
            return SL_EDB;
        return sl__pg_fail(s, r, p->check == CHK_TXN ? "commit" : "prepare");
    }
    if (es == PGRES_PIPELINE_ABORTED)
        return SL_EDB; /* An earlier statement's error is the cause. */
    if (p->check == CHK_META)
        return es == PGRES_COMMAND_OK
                   ? 0
                   : sl__pg_fail(s, r, "writing sluice_snapshots");
    if (p->nrows > 0) {
        /* A multi-row insert (multi.c): checked by its total; anything
         * else is redone one row per statement. */
        const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        int ok = es == PGRES_COMMAND_OK || es == PGRES_TUPLES_OK;
        if (!ok && (s->conn == NULL || PQstatus(s->conn) == CONNECTION_BAD ||
                    sl__pg_state_transient(st)))
            return sl__pg_fail(s, r, "multi-row insert");
        size_t good = 0;
        if (ok && p->check == CHK_FRESH_OK) {
            for (int i = 0; i < PQntuples(r); i++)
                good += PQgetvalue(r, i, 0)[0] == 't';
        } else if (ok) {
            good = strtoull(PQcmdTuples(r), NULL, 10);
        }
        if (ok && good == p->nrows)
            return 0;
        s->want_careful = 1;
        return sl__pg_seterr(s, SL_EAGAIN,
                             "partition %s offset %llu: a multi-row insert "
                             "of %zu rows on %s %s; the group is redone one "
                             "row per statement",
                             s->part, (unsigned long long)p->offset, p->nrows,
                             p->tm->qname, ok ? "met drift" : "failed");
    }
    if (es != PGRES_COMMAND_OK && es != PGRES_TUPLES_OK) {
        const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        if (st != NULL && strcmp(st, "23505") == 0 && p->stmt_error) {
            s->failed_offset = p->offset;
            s->failed_drift = 1;
            log_drift(s, p);
            s->stats.drift++;
            return sl__pg_seterr(s, SL_EDB,
                                 "partition %s offset %llu row %llu: "
                                 "target drift on %s (%s, policy stop): "
                                 "the key already exists",
                                 s->part, (unsigned long long)p->offset,
                                 (unsigned long long)p->rowno, p->tm->qname,
                                 op_name(p->op));
        }
        char what[700];
        snprintf(what, sizeof what, "offset %llu row %llu: %s on %s",
                 (unsigned long long)p->offset, (unsigned long long)p->rowno,
                 op_name(p->op), p->tm->qname);
        int rc = sl__pg_fail(s, r, what);
        if (rc == SL_EDB) {
            s->failed_offset = p->offset;
            const char *colname = PQresultErrorField(r, PG_DIAG_COLUMN_NAME);
            char saved[sizeof s->err];
            memcpy(saved, s->err, sizeof saved);
            if (colname == NULL && st != NULL && strncmp(st, "22", 2) == 0)
                colname = refused_column(s, c, p);
            memcpy(s->err, saved, sizeof saved);
            if (colname != NULL) {
                size_t n = strlen(s->err);
                snprintf(s->err + n, sizeof s->err - n, " (column %s)",
                         colname);
            }
        }
        return rc;
    }
    int drift = 0;
    if (p->check == CHK_ONE) {
        drift = strcmp(PQcmdTuples(r), "1") != 0;
    } else if (p->check == CHK_FRESH_OK || p->check == CHK_FRESH_DRIFT) {
        int fresh = PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't';
        drift = p->check == CHK_FRESH_OK ? !fresh : fresh;
    }
    if (!drift)
        return 0;
    s->group_drift++;
    log_drift(s, p);
    if (s->common->drift == SL_DRIFT_STOP) {
        s->failed_offset = p->offset;
        s->failed_drift = 1;
        return sl__pg_seterr(s, SL_EDB,
                             "partition %s offset %llu row %llu: target "
                             "drift on %s (%s, policy stop): %s",
                             s->part, (unsigned long long)p->offset,
                             (unsigned long long)p->rowno, p->tm->qname,
                             op_name(p->op),
                             p->op == OP_INSERT ? "the key already exists"
                                                : "the row is missing");
    }
    return 0;
}

/* Reads the results of chunk c up to its sync point. */
static int drain(sl_pg_sink_t *s, pgchunk_t *c) {
    int rc = 0;
    for (size_t i = 0; i < c->npend && s->conn != NULL; i++) {
        PGresult *r = PQgetResult(s->conn);
        if (r == NULL) {
            /* The connection broke. */
            if (rc == 0)
                rc = sl__pg_fail(s, NULL, "reading results");
            break;
        }
        int e = rc == 0 ? check_one(s, c, &c->pend[i], r) : 0;
        if (rc == 0 && e != 0)
            rc = e;
        PQclear(r);
        if (s->conn == NULL)
            break;
        /* Each statement's results end with a NULL. */
        while ((r = PQgetResult(s->conn)) != NULL) {
            if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
                PQclear(r);
                if (rc == 0)
                    rc = sl__pg_fail(s, NULL, "pipeline (out of step)");
                break;
            }
            PQclear(r);
        }
    }
    if (s->conn != NULL) {
        PGresult *r = PQgetResult(s->conn);
        if (r == NULL || PQresultStatus(r) != PGRES_PIPELINE_SYNC) {
            if (rc == 0)
                rc = sl__pg_fail(s, r, "pipeline sync");
        }
        PQclear(r);
    }
    sl__pg_chunk_reset(c);
    return rc;
}

int sl__pg_sync(sl_pg_sink_t *s, int all) {
    if (s->conn == NULL)
        return sl__pg_seterr(s, SL_EAGAIN, "partition %s: connection lost",
                             s->part);
    int rc = sl__pg_run_flush(s);
    if (rc != 0)
        return rc;
    pgchunk_t *cur = &s->ch[s->cur], *prev = &s->ch[!s->cur];
    if (cur->npend > 0 || all) {
        if (PQpipelineSync(s->conn) != 1)
            return sl__pg_fail(s, NULL, "pipeline sync");
        cur->synced = 1;
        s->stats.round_trips++;
    }
    if (prev->synced)
        rc = drain(s, prev);
    if (rc != 0)
        return rc;
    if (cur->synced) {
        s->cur = !s->cur;
        if (all)
            return drain(s, cur);
    }
    return 0;
}
