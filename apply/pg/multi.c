/*
 * Runs of inserts as multi-row statements. Consecutive inserts into one
 * table with the same column set (the same prepared single-row
 * statement) are held, their values already in the chunk, and sent as one
 * INSERT ... VALUES (...), (...) ... with the single-row statement's
 * ON CONFLICT and RETURNING, prepared once per row count (up to
 * PG_RUN_ROWS, and at most 65,535 parameters). The server plans and
 * executes one statement instead of one per row.
 *
 * It is checked by its total: every row inserted fresh (overwrite, skip),
 * or as many rows as sent (stop, keyless, snapshot reads). Any other
 * outcome, and any error that is not transient, rolls the group back and
 * redoes it one row per statement (sl_mysql_sink_careful() is 1), which
 * tells each drift case apart and names the row and column of an error.
 * A group that sent one reads every result before it sends COMMIT (txn.c),
 * since a mismatch is not an error the server would roll back for.
 */
#include "internal.h"

#include "error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The end of the single tuple after " VALUES " in sql (balanced
 * parentheses: casts such as numeric(20,0) hold some). */
static const char *tuple_end(const char *t) {
    int depth = 0;
    for (; *t; t++) {
        if (*t == '(')
            depth++;
        else if (*t == ')' && --depth == 0)
            return t + 1;
    }
    return NULL;
}

/* The statement for n rows of st, prepared when new. */
static int multi_stmt(sl_pg_sink_t *s, pgtable_t *tm, pgstmt_t *st, size_t n,
                      pgstmt_t **out) {
    char sig[64];
    snprintf(sig, sizeof sig, "#%zu", n);
    for (pgstmt_t *m = st->multi; m != NULL; m = m->next)
        if (strcmp(m->sig, sig) == 0) {
            *out = m;
            return 0;
        }
    const char *v = strstr(st->sql, " VALUES ");
    const char *end = v ? tuple_end(v + 8) : NULL;
    if (end == NULL)
        return sl__pg_seterr(s, SL_EINVAL, "multi-row insert: no VALUES");
    sl_buf_t q = SL_BUF_INIT;
    sl_buf_append(&q, st->sql, (size_t)(v + 8 - st->sql));
    for (size_t r = 0; r < n; r++) {
        sl_buf_append_str(&q, r ? ",(" : "(");
        for (size_t j = 0; j < st->nparams; j++)
            sl_buf_printf(&q, "%s$%zu::%s", j ? "," : "",
                          r * st->nparams + j + 1,
                          tm->cols[st->param_col[j]].type);
        sl_buf_append_u8(&q, ')');
    }
    sl_buf_append_str(&q, end);
    sl_buf_append_u8(&q, 0);
    pgstmt_t *m = calloc(1, sizeof *m);
    if (sl_buf_error(&q) || m == NULL || (m->sig = strdup(sig)) == NULL) {
        free(m);
        sl_buf_free(&q);
        return SL_ENOMEM;
    }
    snprintf(m->name, sizeof m->name, "sl%u", ++s->stmt_seq);
    m->nparams = n * st->nparams;
    m->next = st->multi;
    st->multi = m;
    int rc = 0;
    if (PQsendPrepare(s->conn, m->name, (const char *)q.data, 0, NULL) != 1)
        rc = sl__pg_fail(s, NULL, "prepare");
    sl_buf_free(&q);
    if (rc != 0)
        return rc;
    pgchunk_t *c = &s->ch[s->cur];
    if ((rc = sl__pg_chunk_reserve(c, 0)) != 0)
        return rc;
    pgpend_t *p = &c->pend[c->npend++];
    memset(p, 0, sizeof *p);
    p->check = CHK_PREPARE;
    p->tm = tm;
    *out = m;
    return 0;
}

int sl__pg_run_flush(sl_pg_sink_t *s) {
    pgrun_t *run = &s->run;
    if (run->n == 0)
        return 0;
    pgchunk_t *c = &s->ch[s->cur];
    pgstmt_t *st = run->st, *m = st;
    size_t n = run->n, np = st->nparams * n;
    run->n = 0;
    int rc = 0;
    if (n > 1 && (rc = multi_stmt(s, run->tm, st, n, &m)) != 0)
        return rc;
    if ((rc = sl__pg_chunk_reserve(c, 0)) != 0)
        return rc;
    const char **vals = malloc((np ? np : 1) * sizeof *vals);
    if (vals == NULL)
        return SL_ENOMEM;
    for (size_t i = 0; i < np; i++)
        vals[i] = c->poff[run->first + i] == SIZE_MAX
                      ? NULL
                      : (const char *)c->data.data + c->poff[run->first + i];
    if (PQsendQueryPrepared(s->conn, m->name, (int)np, vals,
                            c->plen + run->first, c->pfmt + run->first, 0) != 1)
        rc = sl__pg_fail(s, NULL, "sending rows");
    free(vals);
    if (rc != 0)
        return rc;
    pgpend_t *p = &c->pend[c->npend++];
    memset(p, 0, sizeof *p);
    p->offset = run->offset;
    p->rowno = run->rowno;
    p->op = OP_INSERT;
    p->check = st->check & 0xff;
    p->stmt_error = (st->check & 0x100) != 0;
    p->tm = run->tm;
    p->st = st;
    p->first = run->first;
    p->nrows = n;
    s->group_multi = 1;
    return 0;
}

int sl__pg_run_add(sl_pg_sink_t *s, pgtable_t *tm, pgstmt_t *st,
                   uint64_t offset, uint64_t rowno, size_t first) {
    pgrun_t *run = &s->run;
    if (run->n > 0 && run->st == st && run->n < PG_RUN_ROWS &&
        (run->n + 1) * st->nparams <= 65535) {
        run->n++;
        return 0;
    }
    int rc = sl__pg_run_flush(s);
    if (rc != 0)
        return rc;
    run->tm = tm;
    run->st = st;
    run->first = first;
    run->offset = offset;
    run->rowno = rowno;
    run->n = 1;
    return 0;
}
