/*
 * The statement for one row event, prepared once per table, operation,
 * drift policy and column set, then executed with the row's values as
 * parameters ($n::type, the target column's type). K is the row
 * identity: the event's primary key, else the target table's primary
 * key, else (keyless) every column of the before image except real and
 * double precision ones, compared with IS NOT DISTINCT FROM, one row at a
 * time through its ctid.
 *
 *   insert  overwrite  INSERT ... ON CONFLICT (K) DO UPDATE SET <non-key
 *                      columns> RETURNING (xmax = 0)       't': no drift
 *           skip       ... ON CONFLICT (K) DO NOTHING RETURNING true
 *           stop, or keyless: INSERT (a duplicate key, 23505, is drift)
 *   update  overwrite  the same upsert of the after image; 't' (the row
 *                      was missing and is inserted) is drift; a changed
 *                      key first deletes the old key in a CTE, and the
 *                      row is fine when both the delete found it and the
 *                      insert was fresh
 *           skip, stop UPDATE ... SET <after> WHERE K = <before>: 0 rows
 *                      is drift
 *           keyless    UPDATE ... WHERE ctid = (SELECT ctid ... LIMIT 1),
 *                      with overwrite inserting the after image in the
 *                      same statement when no row matched
 *   delete             DELETE ... WHERE K = <before> (keyless: by ctid);
 *                      0 rows is drift
 */
#include "internal.h"

#include "error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAXCOLS = 4096 };

typedef struct {
    size_t col[MAXCOLS];
    uint32_t tok[MAXCOLS];
    size_t n;
} image_t;

/* The columns of an image (object token img) in the target table. */
static int read_image(const sl_jr_doc_t *doc, uint32_t img, const pgtable_t *tm,
                      image_t *im, char *err, size_t errlen) {
    im->n = 0;
    if (img == SL_JR_NONE || sl_jr_type(doc, img) != SL_JR_OBJECT)
        return 0;
    uint32_t it = 0, k, v;
    sl_buf_t name = SL_BUF_INIT;
    int rc = 0;
    while (sl_jr_next(doc, img, &it, &k, &v)) {
        sl_buf_reset(&name);
        if (sl_jr_unescape(doc, k, &name) != 0) {
            rc = SL_ENOMEM;
            break;
        }
        ssize_t c = sl__pg_col(tm, (const char *)name.data, name.len);
        if (c < 0 || im->n == MAXCOLS) {
            snprintf(err, errlen,
                     "column %.*s: the target table has no such "
                     "column",
                     (int)(name.len > 200 ? 200 : name.len),
                     name.data ? (const char *)name.data : "");
            rc = SL_EDB;
            break;
        }
        im->col[im->n] = (size_t)c;
        im->tok[im->n] = v;
        im->n++;
    }
    sl_buf_free(&name);
    return rc;
}

static ssize_t find(const image_t *im, size_t col) {
    for (size_t i = 0; i < im->n; i++)
        if (im->col[i] == col)
            return (ssize_t)i;
    return -1;
}

/* The statement's text for its signature; identity columns in id[]. */
static int build_sql(const pgtable_t *tm, int op, int drift, int keyless,
                     int keychg, const image_t *a, const size_t *id, size_t nid,
                     sl_buf_t *q, int *check, int *stmt_error) {
    const pgcol_t *cols = tm->cols;
    size_t na = a->n;
    *stmt_error = 0;
    /* Identity predicate, parameters from na + 1. */
    sl_buf_t w = SL_BUF_INIT;
    for (size_t i = 0; i < nid; i++) {
        if (i)
            sl_buf_append_str(&w, " AND ");
        sl__pg_put_ident(&w, cols[id[i]].name);
        sl_buf_printf(
            &w, keyless ? " IS NOT DISTINCT FROM $%zu::%s" : " = $%zu::%s",
            na + 1 + i, cols[id[i]].type);
    }
    if (nid == 0)
        sl_buf_append_str(&w, "true");
    sl_buf_append_u8(&w, 0);
    const char *where = (const char *)w.data;
    /* "ctid = (SELECT ctid FROM t WHERE ... LIMIT 1)" for keyless rows. */
    sl_buf_t byctid = SL_BUF_INIT;
    sl_buf_printf(&byctid, "ctid = (SELECT ctid FROM %s WHERE %s LIMIT 1)",
                  tm->qname, where);
    sl_buf_append_u8(&byctid, 0);
    const char *kw = keyless ? (const char *)byctid.data : where;

    /* Pieces of the upsert. */
    sl_buf_t ins = SL_BUF_INIT, set = SL_BUF_INIT, conflict = SL_BUF_INIT;
    sl_buf_printf(&ins, "INSERT INTO %s (", tm->qname);
    for (size_t i = 0; i < na; i++) {
        if (i)
            sl_buf_append_u8(&ins, ',');
        sl__pg_put_ident(&ins, cols[a->col[i]].name);
    }
    sl_buf_append_str(&ins, ") VALUES (");
    for (size_t i = 0; i < na; i++)
        sl_buf_printf(&ins, "%s$%zu::%s", i ? "," : "", i + 1,
                      cols[a->col[i]].type);
    sl_buf_append_u8(&ins, ')');
    int nonkey = 0;
    if (!keyless) {
        sl_buf_append_str(&conflict, " ON CONFLICT (");
        for (size_t i = 0; i < nid; i++) {
            if (i)
                sl_buf_append_u8(&conflict, ',');
            sl__pg_put_ident(&conflict, cols[id[i]].name);
        }
        sl_buf_append_str(&conflict, ") ");
        for (size_t i = 0; i < na; i++) {
            int inkey = 0;
            for (size_t k = 0; k < nid; k++)
                inkey |= id[k] == a->col[i];
            if (inkey)
                continue;
            sl_buf_append_str(&set, nonkey++ ? ", " : "DO UPDATE SET ");
            sl__pg_put_ident(&set, cols[a->col[i]].name);
            sl_buf_append_str(&set, " = EXCLUDED.");
            sl__pg_put_ident(&set, cols[a->col[i]].name);
        }
        if (!nonkey)
            sl_buf_append_str(&set, "DO NOTHING");
        sl_buf_append_u8(&set, 0);
        sl_buf_append_u8(&conflict, 0);
    }
    sl_buf_append_u8(&ins, 0);
    const char *insert = (const char *)ins.data;
    const char *upsert_tail = keyless ? "" : (const char *)set.data;
    const char *on_conflict = keyless ? "" : (const char *)conflict.data;

    if (op == OP_INSERT) {
        if (keyless) {
            sl_buf_printf(q, "%s", insert);
            *check = CHK_NONE;
        } else if (drift == SL_DRIFT_OVERWRITE) {
            sl_buf_printf(q, "%s%s%s RETURNING %s", insert, on_conflict,
                          upsert_tail, nonkey ? "(xmax = 0)" : "true");
            *check = CHK_FRESH_OK;
        } else if (drift == SL_DRIFT_SKIP) {
            sl_buf_printf(q, "%s%sDO NOTHING RETURNING true", insert,
                          on_conflict);
            *check = CHK_FRESH_OK;
        } else {
            sl_buf_printf(q, "%s", insert);
            *check = CHK_NONE;
            *stmt_error = 1;
        }
    } else if (op == OP_DELETE) {
        sl_buf_printf(q, "DELETE FROM %s WHERE %s", tm->qname, kw);
        *check = CHK_ONE;
    } else {
        sl_buf_t upd = SL_BUF_INIT;
        sl_buf_printf(&upd, "UPDATE %s SET ", tm->qname);
        for (size_t i = 0; i < na; i++) {
            if (i)
                sl_buf_append_str(&upd, ", ");
            sl__pg_put_ident(&upd, cols[a->col[i]].name);
            sl_buf_printf(&upd, " = $%zu::%s", i + 1, cols[a->col[i]].type);
        }
        sl_buf_printf(&upd, " WHERE %s", kw);
        sl_buf_append_u8(&upd, 0);
        const char *update = (const char *)upd.data;
        if (drift != SL_DRIFT_OVERWRITE) {
            sl_buf_printf(q, "%s", update);
            *check = CHK_ONE;
            *stmt_error = drift == SL_DRIFT_STOP;
        } else if (keyless) {
            /* The update, and in the same statement the insert of the
             * after image when it matched nothing: "INSERT INTO t (..)
             * VALUES (..)" becomes "INSERT INTO t (..) SELECT .. WHERE NOT
             * EXISTS (SELECT 1 FROM u)". */
            sl_buf_printf(q, "WITH u AS (%s RETURNING 1), i AS (", update);
            sl_buf_append(q, insert, strlen(insert));
            char *vals = strstr((char *)q->data, ") VALUES (");
            if (vals != NULL) {
                size_t at = (size_t)(vals - (char *)q->data);
                sl_buf_t tail = SL_BUF_INIT;
                sl_buf_append_str(&tail, ") SELECT ");
                for (size_t i = 0; i < na; i++)
                    sl_buf_printf(&tail, "%s$%zu::%s", i ? "," : "", i + 1,
                                  cols[a->col[i]].type);
                sl_buf_append_str(&tail, " WHERE NOT EXISTS (SELECT 1 FROM "
                                         "u) RETURNING 1) SELECT EXISTS "
                                         "(SELECT 1 FROM u)");
                q->len = at;
                sl_buf_append(q, tail.data, tail.len);
                sl_buf_free(&tail);
            }
            *check = CHK_FRESH_OK;
        } else if (keychg) {
            sl_buf_printf(q,
                          "WITH d AS (DELETE FROM %s WHERE %s RETURNING 1) "
                          "%s%s%s RETURNING %s",
                          tm->qname, where, insert, on_conflict, upsert_tail,
                          nonkey ? "(xmax = 0 AND EXISTS (SELECT 1 FROM d))"
                                 : "EXISTS (SELECT 1 FROM d)");
            *check = CHK_FRESH_OK;
        } else {
            sl_buf_printf(q, "%s%s%s RETURNING %s", insert, on_conflict,
                          upsert_tail, nonkey ? "(xmax = 0)" : "true");
            *check = CHK_FRESH_DRIFT;
        }
        sl_buf_free(&upd);
    }
    sl_buf_append_u8(q, 0);
    int rc = sl_buf_error(q) ? sl_buf_error(q)
             : sl_buf_error(&w) || sl_buf_error(&ins) || sl_buf_error(&set) ||
                     sl_buf_error(&conflict) || sl_buf_error(&byctid)
                 ? SL_ENOMEM
                 : 0;
    sl_buf_free(&w);
    sl_buf_free(&byctid);
    sl_buf_free(&ins);
    sl_buf_free(&set);
    sl_buf_free(&conflict);
    return rc;
}

/* 1 when the event's "types" says column name is MySQL's JSON type. */
static int mysql_json_col(const sl_jr_doc_t *doc, uint32_t types,
                          const char *name) {
    if (types == SL_JR_NONE)
        return 0;
    uint32_t t = sl_jr_get(doc, types, name);
    return t != SL_JR_NONE && sl_jr_str_eq(doc, t, "json", 4);
}

int sl__pg_row(sl_pg_sink_t *s, const sl_jr_doc_t *doc, const sl_event_t *ev,
               pgtable_t *tm, uint64_t offset, uint64_t rowno) {
    /* The images are large (4,096 columns): kept by the sink. */
    if (s->img[0] == NULL)
        s->img[0] = malloc(sizeof(image_t));
    if (s->img[1] == NULL)
        s->img[1] = malloc(sizeof(image_t));
    image_t *ap = s->img[0], *bp = s->img[1];
    char err[600] = "";
    int rc = 0, op = OP_INSERT;
    pgstmt_t *st = NULL;
    sl_buf_t sig = SL_BUF_INIT, q = SL_BUF_INIT;
    if (ap == NULL || bp == NULL) {
        rc = SL_ENOMEM;
        goto out;
    }
    /* A snapshot's "read" row is an upsert whatever the drift policy: the
     * row may be there already, which is no drift. So is every row of a
     * table inside its snapshot window (window.c): the table is still
     * being filled, so a missing or present row is expected, not drift. */
    int is_read = ev->op_id == SL_OP_READ;
    int quiet = is_read || sl_snapwin_open(&s->win, tm->src_db, tm->table);
    int drift = quiet ? SL_DRIFT_OVERWRITE : (int)s->common->drift;
    switch (ev->op_id) {
    case SL_OP_INSERT: op = OP_INSERT; break;
    case SL_OP_UPDATE: op = OP_UPDATE; break;
    case SL_OP_DELETE: op = OP_DELETE; break;
    case SL_OP_READ: op = OP_INSERT; break;
    default:
        snprintf(err, sizeof err, "unknown op");
        rc = SL_EDB;
        goto out;
    }
    rc = read_image(doc, op == OP_DELETE ? SL_JR_NONE : ev->after, tm, ap, err,
                    sizeof err);
    if (rc == 0)
        rc = read_image(doc, op == OP_INSERT ? SL_JR_NONE : ev->before, tm, bp,
                        err, sizeof err);
    if (rc != 0)
        goto out;
    if (op == OP_UPDATE && ap->n == 0)
        goto out; /* Nothing logged to change. */
    /* The row identity K. */
    size_t id[MAXCOLS], nid = 0;
    int keyless = 0;
    const image_t *kimg = op == OP_INSERT ? ap : bp;
    if (ev->pk != SL_JR_NONE && sl_jr_type(doc, ev->pk) == SL_JR_ARRAY &&
        sl_jr_tok(doc, ev->pk)->count > 0) {
        uint32_t it = 0, k, v;
        sl_buf_t name = SL_BUF_INIT;
        while (sl_jr_next(doc, ev->pk, &it, &k, &v) && nid < MAXCOLS) {
            sl_buf_reset(&name);
            ssize_t c = sl_jr_unescape(doc, v, &name) == 0
                            ? sl__pg_col(tm, (const char *)name.data, name.len)
                            : -1;
            if (c < 0 || find(kimg, (size_t)c) < 0) {
                nid = 0;
                break;
            }
            id[nid++] = (size_t)c;
        }
        sl_buf_free(&name);
    }
    if (nid == 0 && tm->npk > 0) {
        for (size_t i = 0; i < tm->npk; i++) {
            if (find(kimg, tm->pk[i]) < 0) {
                nid = 0;
                break;
            }
            id[nid++] = tm->pk[i];
        }
    }
    if (nid == 0) {
        keyless = 1;
        if (op != OP_INSERT)
            for (size_t i = 0; i < bp->n; i++)
                if (tm->cols[bp->col[i]].kind != PGK_FLOAT)
                    id[nid++] = bp->col[i];
    }
    if (op == OP_DELETE)
        ap->n = 0; /* Identity parameters start at $1. */
    int keychg = 0;
    if (op == OP_UPDATE && !keyless)
        for (size_t i = 0; i < nid; i++) {
            ssize_t x = find(ap, id[i]), y = find(bp, id[i]);
            size_t lx, ly;
            const char *rx, *ry;
            if (x < 0) {
                keychg = 1; /* Not in the after image: keep it by WHERE. */
                continue;
            }
            rx = sl_jr_raw(doc, ap->tok[x], &lx);
            ry = sl_jr_raw(doc, bp->tok[y], &ly);
            if (lx != ly || memcmp(rx, ry, lx) != 0 ||
                sl_jr_type(doc, ap->tok[x]) != sl_jr_type(doc, bp->tok[y]))
                keychg = 1;
        }
    if (op == OP_UPDATE && !keyless && drift == SL_DRIFT_OVERWRITE)
        for (size_t i = 0; i < nid; i++)
            if (find(ap, id[i]) < 0) {
                /* An upsert needs the key in the after image. */
                snprintf(err, sizeof err,
                         "key column %s missing from the after image",
                         tm->cols[id[i]].name);
                rc = SL_EDB;
                goto out;
            }
    /* The signature: op, policy, shape, then the columns. */
    sl_buf_printf(&sig, "%d%d%d%d%d:", op, drift, keyless, keychg, quiet);
    for (size_t i = 0; i < ap->n; i++)
        sl_buf_printf(&sig, "%zu,", ap->col[i]);
    sl_buf_append_u8(&sig, '|');
    for (size_t i = 0; i < nid; i++)
        sl_buf_printf(&sig, "%zu,", id[i]);
    sl_buf_append_u8(&sig, 0);
    if ((rc = sl_buf_error(&sig)) != 0)
        goto out;
    for (st = tm->stmts; st != NULL; st = st->next)
        if (strcmp(st->sig, (const char *)sig.data) == 0)
            break;
    pgchunk_t *c = &s->ch[s->cur];
    /* The identity is bound except for inserts and for the upsert of an
     * update that keeps its key (it names the key in the after image). */
    int use_id = op != OP_INSERT && !(op == OP_UPDATE && !keyless && !keychg &&
                                      drift == SL_DRIFT_OVERWRITE);
    size_t np = ap->n + (use_id ? nid : 0);
    if ((rc = sl__pg_chunk_reserve(c, np + 1)) != 0)
        goto out;
    if (st == NULL) {
        int check = 0, se = 0;
        rc = build_sql(tm, op, drift, keyless, keychg, ap, id,
                       op == OP_INSERT && keyless ? 0 : nid, &q, &check, &se);
        if (rc != 0)
            goto out;
        st = calloc(1, sizeof *st);
        if (st == NULL ||
            (st->param_col = malloc((np + 1) * sizeof *st->param_col)) ==
                NULL ||
            (st->sig = strdup((const char *)sig.data)) == NULL) {
            if (st)
                free(st->param_col);
            free(st);
            st = NULL;
            rc = SL_ENOMEM;
            goto out;
        }
        if (op == OP_INSERT &&
            (st->sql = strdup((const char *)q.data)) == NULL) {
            free(st->param_col);
            free(st->sig);
            free(st);
            st = NULL;
            rc = SL_ENOMEM;
            goto out;
        }
        snprintf(st->name, sizeof st->name, "sl%u", ++s->stmt_seq);
        st->check = quiet ? CHK_NONE : check;
        st->nparams = np;
        for (size_t i = 0; i < ap->n; i++)
            st->param_col[i] = ap->col[i];
        for (size_t i = 0; use_id && i < nid; i++)
            st->param_col[ap->n + i] = id[i];
        /* stmt_error is kept in the high bit of check. */
        if (se)
            st->check |= 0x100;
        st->next = tm->stmts;
        tm->stmts = st;
        if (PQsendPrepare(s->conn, st->name, (const char *)q.data, 0, NULL) !=
            1) {
            rc = sl__pg_fail(s, NULL, "prepare");
            goto out;
        }
        pgpend_t *p = &c->pend[c->npend++];
        memset(p, 0, sizeof *p);
        p->offset = offset;
        p->rowno = rowno;
        p->op = op;
        p->check = CHK_PREPARE;
        p->tm = tm;
        if ((rc = sl__pg_chunk_reserve(c, np + 1)) != 0)
            goto out;
    }
    /* The values. */
    size_t first = c->nparams;
    uint32_t types = sl_jr_get(doc, 0, "types");
    for (size_t i = 0; i < np && rc == 0; i++) {
        uint32_t tok =
            i < ap->n ? ap->tok[i] : bp->tok[find(bp, id[i - ap->n])];
        const pgcol_t *col = &tm->cols[st->param_col[i]];
        rc = sl__pg_value(s, c, doc, tok, col,
                          mysql_json_col(doc, types, col->name), err,
                          sizeof err);
    }
    if (rc != 0) {
        c->nparams = first;
        goto out;
    }
    const char *vals[MAXCOLS * 2];
    for (size_t i = 0; i < np; i++)
        vals[i] = c->poff[first + i] == SIZE_MAX
                      ? NULL
                      : (const char *)c->data.data + c->poff[first + i];
    if (op == OP_INSERT && !s->careful && st->sql != NULL) {
        rc = sl__pg_run_add(s, tm, st, offset, rowno, first);
        if (rc != 0)
            goto out;
        s->group_rows++;
        s->group_ins++;
        s->group_reads += is_read;
        if (c->npend + s->run.n >= PG_CHUNK_ROWS ||
            c->data.len >= s->common->batch_bytes)
            rc = sl__pg_sync(s, 0);
        goto out;
    }
    if ((rc = sl__pg_run_flush(s)) != 0)
        goto out;
    if (PQsendQueryPrepared(s->conn, st->name, (int)np, vals, c->plen + first,
                            c->pfmt + first, 0) != 1) {
        rc = sl__pg_fail(s, NULL, "sending a row");
        goto out;
    }
    pgpend_t *p = &c->pend[c->npend++];
    p->offset = offset;
    p->rowno = rowno;
    p->op = op;
    p->check = st->check & 0xff;
    p->stmt_error = (st->check & 0x100) != 0;
    p->tm = tm;
    p->st = st;
    p->first = first;
    p->nrows = 0;
    s->group_rows++;
    s->group_reads += is_read;
    s->group_ins += op == OP_INSERT;
    s->group_upd += op == OP_UPDATE;
    s->group_del += op == OP_DELETE;
    if (c->npend >= PG_CHUNK_ROWS || c->data.len >= s->common->batch_bytes)
        rc = sl__pg_sync(s, 0);
out:
    if (rc == SL_EDB && err[0]) {
        s->failed_offset = offset;
        sl__pg_seterr(s, SL_EDB,
                      "partition %s offset %llu row %llu: %s on %s: "
                      "%s",
                      s->part, (unsigned long long)offset,
                      (unsigned long long)rowno,
                      op == OP_INSERT   ? "insert"
                      : op == OP_UPDATE ? "update"
                                        : "delete",
                      tm->qname, err);
    }
    sl_buf_free(&sig);
    sl_buf_free(&q);
    return rc;
}
