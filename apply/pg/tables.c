/*
 * What a target table has: its columns with their PostgreSQL types (as
 * format_type() writes them, used as each parameter's cast), how values
 * are converted for them, and its primary key. Read once per table and
 * kept for the life of the sink (restart sluice-apply after changing a
 * target table by hand), except that a missing table is looked up again
 * at the next group.
 *
 * --map: a source database maps to a target schema; "shop=public" and
 * "shop.*=public.*" mean the same. Unmapped databases keep their name as
 * the schema.
 */
#include "internal.h"

#include "error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Length of a map side without a trailing ".*". */
static size_t map_len(const char *m) {
    size_t n = strlen(m);
    return n >= 2 && strcmp(m + n - 2, ".*") == 0 ? n - 2 : n;
}

const char *sl__pg_dst_schema(const sl_pg_sink_t *s, const char *src) {
    for (size_t i = 0; i < s->common->nmaps; i++) {
        const char *m = s->common->maps[i].src;
        size_t n = map_len(m);
        if (strlen(src) == n && memcmp(m, src, n) == 0)
            return s->common->maps[i].dst;
    }
    return src;
}

void sl__pg_put_ident(sl_buf_t *b, const char *name) {
    sl_buf_append_u8(b, '"');
    for (const char *p = name; *p; p++) {
        if (*p == '"')
            sl_buf_append_u8(b, '"');
        sl_buf_append_u8(b, (uint8_t)*p);
    }
    sl_buf_append_u8(b, '"');
}

ssize_t sl__pg_col(const pgtable_t *tm, const char *name, size_t len) {
    for (size_t i = 0; i < tm->ncols; i++)
        if (strlen(tm->cols[i].name) == len &&
            memcmp(tm->cols[i].name, name, len) == 0)
            return (ssize_t)i;
    return -1;
}

static void stmt_list_free(pgstmt_t *st) {
    while (st != NULL) {
        pgstmt_t *n = st->next;
        stmt_list_free(st->multi);
        free(st->sig);
        free(st->sql);
        free(st->param_col);
        free(st);
        st = n;
    }
}

static void stmts_free(pgtable_t *tm) {
    stmt_list_free(tm->stmts);
    tm->stmts = NULL;
}

void sl__pg_forget_stmts(sl_pg_sink_t *s) {
    s->run.n = 0;
    for (size_t i = 0; i < s->ntables; i++)
        stmts_free(s->tables[i]);
}

static void table_free(pgtable_t *tm) {
    if (tm == NULL)
        return;
    stmts_free(tm);
    for (size_t i = 0; i < tm->ncols; i++) {
        free(tm->cols[i].name);
        free(tm->cols[i].type);
    }
    free(tm->cols);
    free(tm->pk);
    free(tm->src_db);
    free(tm->table);
    free(tm->schema);
    free(tm->qname);
    free(tm);
}

void sl__pg_free_tables(sl_pg_sink_t *s) {
    for (size_t i = 0; i < s->ntables; i++)
        table_free(s->tables[i]);
    free(s->tables);
    s->tables = NULL;
    s->ntables = 0;
}

int sl__pg_kind_of(const char *typname, char cat, const char *elem) {
    if (strcmp(typname, "bytea") == 0)
        return PGK_BYTEA;
    if (strcmp(typname, "bool") == 0)
        return PGK_BOOL;
    if (strcmp(typname, "float4") == 0 || strcmp(typname, "float8") == 0)
        return PGK_FLOAT;
    if (strcmp(typname, "date") == 0)
        return PGK_DATE;
    if (strcmp(typname, "timestamp") == 0 ||
        strcmp(typname, "timestamptz") == 0)
        return PGK_TS;
    if (strcmp(typname, "time") == 0 || strcmp(typname, "timetz") == 0)
        return PGK_TIME;
    if (strcmp(typname, "interval") == 0)
        return PGK_INTERVAL;
    if (strcmp(typname, "json") == 0 || strcmp(typname, "jsonb") == 0)
        return PGK_JSON;
    if (cat == 'V')
        return PGK_BIT;
    if (cat == 'N')
        return PGK_NUM;
    if (cat == 'A')
        return elem && (strcmp(elem, "float4") == 0 ||
                        strcmp(elem, "float8") == 0 ||
                        strcmp(elem, "numeric") == 0)
                   ? PGK_FLOATARR
                   : PGK_TEXTARR;
    return PGK_TEXT;
}

/* Columns in order with their type, kind, bit width and whether they are
 * in the primary key. */
static const char cols_query[] =
    "SELECT a.attname, format_type(a.atttypid, a.atttypmod), t.typname, "
    "t.typcategory, coalesce(e.typname, ''), "
    "CASE WHEN t.typcategory = 'V' THEN a.atttypmod ELSE 0 END, "
    "coalesce(a.attnum = ANY (i.indkey), false) "
    "FROM pg_attribute a "
    "JOIN pg_type t ON t.oid = a.atttypid "
    "LEFT JOIN pg_type e ON e.oid = t.typelem AND t.typcategory = 'A' "
    "LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary "
    "WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 "
    "AND NOT a.attisdropped ORDER BY a.attnum";

/* Reads the table's description; inside a group it runs in the pipeline
 * (the chunks before it are checked first). */
static int describe(sl_pg_sink_t *s, pgtable_t *tm) {
    const char *qn = tm->qname;
    PGresult *r = NULL;
    int rc;
    if (s->in_pipeline) {
        rc = sl__pg_sync(s, 1);
        if (rc != 0)
            return rc;
        if (PQsendQueryParams(s->conn, cols_query, 1, NULL, &qn, NULL, NULL,
                              0) != 1 ||
            PQpipelineSync(s->conn) != 1)
            return sl__pg_fail(s, NULL, "reading the table's columns");
        r = PQgetResult(s->conn);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            rc = sl__pg_fail(s, r, "reading the table's columns");
            PQclear(r);
            return rc;
        }
        PGresult *x;
        while ((x = PQgetResult(s->conn)) != NULL)
            PQclear(x);
        x = PQgetResult(s->conn); /* The sync. */
        int ok = x != NULL && PQresultStatus(x) == PGRES_PIPELINE_SYNC;
        PQclear(x);
        if (!ok) {
            PQclear(r);
            return sl__pg_fail(s, NULL, "reading the table's columns");
        }
    } else if ((rc = sl__pg_exec(s, cols_query, 1, &qn, &r)) != 0) {
        return rc;
    }
    int n = PQntuples(r);
    tm->missing = n == 0;
    tm->cols = calloc(n ? (size_t)n : 1, sizeof *tm->cols);
    tm->pk = calloc(n ? (size_t)n : 1, sizeof *tm->pk);
    if (tm->cols == NULL || tm->pk == NULL) {
        PQclear(r);
        return SL_ENOMEM;
    }
    for (int i = 0; i < n; i++) {
        pgcol_t *c = &tm->cols[tm->ncols];
        c->name = strdup(PQgetvalue(r, i, 0));
        c->type = strdup(PQgetvalue(r, i, 1));
        tm->ncols++;
        if (c->name == NULL || c->type == NULL) {
            PQclear(r);
            return SL_ENOMEM;
        }
        c->kind = sl__pg_kind_of(PQgetvalue(r, i, 2), PQgetvalue(r, i, 3)[0],
                                 PQgetvalue(r, i, 4));
        c->bits = atoi(PQgetvalue(r, i, 5));
        if (PQgetvalue(r, i, 6)[0] == 't')
            tm->pk[tm->npk++] = (size_t)i;
    }
    PQclear(r);
    return 0;
}

int sl__pg_table(sl_pg_sink_t *s, const sl_jr_doc_t *doc, const sl_event_t *ev,
                 uint64_t offset, uint64_t rowno, pgtable_t **out) {
    sl_buf_t *db = &s->tmp, *tb = &s->tmp2;
    sl_buf_reset(db);
    sl_buf_reset(tb);
    if (ev->db == SL_JR_NONE || ev->table == SL_JR_NONE ||
        sl_jr_unescape(doc, ev->db, db) != 0 ||
        sl_jr_unescape(doc, ev->table, tb) != 0 ||
        sl_buf_append_u8(db, 0) != 0 || sl_buf_append_u8(tb, 0) != 0) {
        s->failed_offset = offset;
        return sl__pg_seterr(s, SL_EDB,
                             "partition %s offset %llu row %llu: row event "
                             "without db or table",
                             s->part, (unsigned long long)offset,
                             (unsigned long long)rowno);
    }
    const char *dbs = (const char *)db->data, *tbs = (const char *)tb->data;
    for (size_t i = 0; i < s->ntables; i++) {
        pgtable_t *tm = s->tables[i];
        if (strcmp(tm->src_db, dbs) == 0 && strcmp(tm->table, tbs) == 0) {
            *out = tm;
            return 0;
        }
    }
    pgtable_t *tm = calloc(1, sizeof *tm);
    pgtable_t **nt = realloc(s->tables, (s->ntables + 1) * sizeof *nt);
    if (tm == NULL || nt == NULL) {
        free(tm);
        return SL_ENOMEM;
    }
    s->tables = nt;
    const char *schema = sl__pg_dst_schema(s, dbs);
    tm->src_db = strdup(dbs);
    tm->table = strdup(tbs);
    tm->schema = strndup(schema, map_len(schema));
    sl_buf_t q = SL_BUF_INIT;
    sl__pg_put_ident(&q, tm->schema ? tm->schema : "");
    sl_buf_append_u8(&q, '.');
    sl__pg_put_ident(&q, tbs);
    sl_buf_append_u8(&q, 0);
    if (sl_buf_error(&q) == 0)
        tm->qname = strdup((const char *)q.data);
    sl_buf_free(&q);
    if (!tm->src_db || !tm->table || !tm->schema || !tm->qname) {
        table_free(tm);
        return SL_ENOMEM;
    }
    int rc = describe(s, tm);
    if (rc != 0) {
        table_free(tm);
        return rc;
    }
    s->tables[s->ntables++] = tm;
    *out = tm;
    return 0;
}
