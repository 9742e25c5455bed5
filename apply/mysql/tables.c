/*
 * What the target has (apply/mysql/internal.h): for each table a row
 * event names, the mapped target table's columns and their classes, its
 * first unique key, whether the primary key is its only unique index, and
 * which of its columns are MariaDB JSON, read once from
 * information_schema and kept until DDL or a missing table forgets them.
 */
#include "internal.h"

#include "error.h"

#include <stdlib.h>
#include <string.h>

const char *sl__mysql_dst_db(const sl_mysql_sink_t *s, const char *src) {
    for (size_t i = 0; i < s->opts.nmaps; i++)
        if (strcmp(s->maps[i].src, src) == 0)
            return s->maps[i].dst;
    return src;
}

/* Frees what tm owns (names, columns, key); members never set are NULL. */
static void tmeta_clear(tmeta_t *tm) {
    for (size_t c = 0; c < tm->ncols; c++)
        free(tm->cols[c].name);
    for (size_t c = 0; c < tm->nukey; c++)
        free(tm->ukey[c]);
    free(tm->cols);
    free(tm->ukey);
    free(tm->src_db);
    free(tm->table);
    free(tm->dst_db);
}

void sl__mysql_free_tables(sl_mysql_sink_t *s) {
    /* The prepared statements point at the tables; one in flight cannot
     * be closed without reading its answer: the connection goes. */
    if (s->inflight)
        sl__mysql_disconnect(s);
    sl__mysql_pstmts_close(s);
    sl__mysql_bulk_reset(&s->bk);
    for (size_t i = 0; i < s->ntables; i++) {
        tmeta_clear(s->tables[i]);
        free(s->tables[i]);
    }
    free(s->tables);
    s->tables = NULL;
    s->ntables = 0;
}

/* Runs a query and returns its result; NULL with the error set (and a
 * transient failure disconnecting) otherwise. */
static MYSQL_RES *query(sl_mysql_sink_t *s, sl_buf_t *q, int *rc) {
    sl_buf_append_u8(q, 0);
    *rc = sl_buf_error(q);
    if (*rc != 0)
        return NULL;
    MYSQL_RES *res = NULL;
    if (mysql_real_query(s->mysql, (const char *)q->data, q->len - 1) == 0)
        res = mysql_store_result(s->mysql);
    if (res == NULL)
        *rc = sl__mysql_query_failed(s, "reading target metadata:");
    return res;
}

/* Appends sql, then "<db> AND TABLE_NAME=<table>" as literals: the tail
 * of every information_schema query about one table. query() checks the
 * buffer's sticky error. */
static void put_table_query(sl_mysql_sink_t *s, sl_buf_t *q, const char *sql,
                            const char *db, const char *table) {
    sl_buf_append_str(q, sql);
    sl__mysql_lit(s, q, db);
    sl_buf_append_str(q, " AND TABLE_NAME=");
    sl__mysql_lit(s, q, table);
}

/* The metadata of the target table for src_db.table, loaded once. */
static int table_meta(sl_mysql_sink_t *s, const char *src_db, const char *table,
                      tmeta_t **out) {
    for (size_t i = 0; i < s->ntables; i++)
        if (strcmp(s->tables[i]->src_db, src_db) == 0 &&
            strcmp(s->tables[i]->table, table) == 0) {
            *out = s->tables[i];
            return 0;
        }
    /* The connection must be idle before another query. */
    int rc = sl__mysql_complete(s);
    if (rc != 0)
        return rc;
    const char *dst = sl__mysql_dst_db(s, src_db);
    tmeta_t tm;
    memset(&tm, 0, sizeof tm);
    sl_buf_t q = SL_BUF_INIT;
    put_table_query(s, &q,
                    "SELECT COLUMN_NAME, DATA_TYPE FROM "
                    "information_schema.COLUMNS WHERE TABLE_SCHEMA=",
                    dst, table);
    sl_buf_append_str(&q, " ORDER BY ORDINAL_POSITION");
    MYSQL_RES *res = query(s, &q, &rc);
    sl_buf_free(&q);
    if (res == NULL)
        return rc;
    size_t nrows = mysql_num_rows(res);
    tm.cols = calloc(nrows ? nrows : 1, sizeof *tm.cols);
    MYSQL_ROW row;
    while (tm.cols && (row = mysql_fetch_row(res)) != NULL) {
        char *name = strdup(row[0] ? row[0] : "");
        if (name == NULL)
            break;
        tm.cols[tm.ncols].name = name;
        tm.cols[tm.ncols].len = strlen(name);
        tm.cols[tm.ncols].cls = sl__mysql_classify(row[1] ? row[1] : "");
        tm.ncols++;
    }
    mysql_free_result(res);
    if (tm.cols == NULL || tm.ncols < nrows) {
        /* Out of memory: not to be taken for a missing table. */
        tmeta_clear(&tm);
        return SL_ENOMEM;
    }
    tm.missing = tm.ncols == 0;
    if (!tm.missing) {
        /* The columns of the first unique index, PRIMARY first. */
        put_table_query(s, &q,
                        "SELECT COLUMN_NAME FROM information_schema."
                        "STATISTICS WHERE NON_UNIQUE=0 AND "
                        "TABLE_SCHEMA=",
                        dst, table);
        put_table_query(s, &q,
                        " AND INDEX_NAME=(SELECT INDEX_NAME "
                        "FROM information_schema.STATISTICS "
                        "WHERE NON_UNIQUE=0 AND TABLE_SCHEMA=",
                        dst, table);
        sl_buf_append_str(&q, " ORDER BY INDEX_NAME<>'PRIMARY', INDEX_NAME "
                              "LIMIT 1) ORDER BY SEQ_IN_INDEX");
        res = query(s, &q, &rc);
        sl_buf_free(&q);
        if (res == NULL) {
            for (size_t c = 0; c < tm.ncols; c++)
                free(tm.cols[c].name);
            free(tm.cols);
            return rc;
        }
        nrows = mysql_num_rows(res);
        if (nrows > 0) {
            tm.ukey = calloc(nrows, sizeof *tm.ukey);
            while (tm.ukey && (row = mysql_fetch_row(res)) != NULL)
                tm.ukey[tm.nukey++] = strdup(row[0] ? row[0] : "");
        }
        mysql_free_result(res);
        put_table_query(s, &q,
                        "SELECT COUNT(DISTINCT INDEX_NAME), "
                        "SUM(INDEX_NAME='PRIMARY') FROM "
                        "information_schema.STATISTICS WHERE "
                        "NON_UNIQUE=0 AND TABLE_SCHEMA=",
                        dst, table);
        res = query(s, &q, &rc);
        sl_buf_free(&q);
        if (res != NULL) {
            row = mysql_fetch_row(res);
            tm.pk_only = row && row[0] && row[1] && strcmp(row[0], "1") == 0 &&
                         strcmp(row[1], "0") != 0;
            mysql_free_result(res);
        }
        if (rc == 0 && s->mariadb) {
            /* MariaDB's JSON is LONGTEXT whose CHECK is json_valid(`col`):
             * the only sign of it in information_schema. */
            put_table_query(s, &q,
                            "SELECT CHECK_CLAUSE FROM information_schema."
                            "CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA=",
                            dst, table);
            res = query(s, &q, &rc);
            sl_buf_free(&q);
            while (res != NULL && (row = mysql_fetch_row(res)) != NULL) {
                const char *cc = row[0] ? row[0] : "";
                size_t cn = strlen(cc);
                if (cn < 14 || strncmp(cc, "json_valid(`", 12) != 0 ||
                    strcmp(cc + cn - 2, "`)") != 0)
                    continue;
                for (size_t c = 0; c < tm.ncols; c++)
                    if (tm.cols[c].cls == CLS_PLAIN &&
                        tm.cols[c].len == cn - 14 &&
                        memcmp(tm.cols[c].name, cc + 12, cn - 14) == 0)
                        tm.cols[c].cls = CLS_MJSON;
            }
            if (res != NULL)
                mysql_free_result(res);
        }
        if (rc != 0) {
            tmeta_clear(&tm);
            return rc;
        }
    }
    /* Each table on its own allocation: pending statements and the open
     * merged statement point at it, and must survive the array growing. */
    tmeta_t **tabs = realloc(s->tables, (s->ntables + 1) * sizeof *tabs);
    tmeta_t *ntm = tabs != NULL ? malloc(sizeof *ntm) : NULL;
    if (ntm == NULL) {
        if (tabs != NULL)
            s->tables = tabs;
        tmeta_clear(&tm);
        return SL_ENOMEM;
    }
    s->tables = tabs;
    tm.src_db = strdup(src_db);
    tm.table = strdup(table);
    tm.dst_db = strdup(dst);
    tm.src_db_len = tm.src_db ? strlen(tm.src_db) : 0;
    tm.table_len = tm.table ? strlen(tm.table) : 0;
    if (!tm.src_db || !tm.table || !tm.dst_db) {
        tmeta_clear(&tm);
        free(ntm);
        return SL_ENOMEM;
    }
    tm.tolerant = sl__mysql_window_open(s, tm.src_db, tm.table);
    *ntm = tm;
    tabs[s->ntables++] = ntm;
    *out = ntm;
    return 0;
}

/* The known table whose source names are the (unescaped) strings db and
 * table of doc, or NULL: the common case, without copying the names. */
tmeta_t *sl__mysql_known_table(sl_mysql_sink_t *s, const sl_jr_doc_t *doc,
                               uint32_t db, uint32_t table) {
    const sl_jr_tok_t *d = sl_jr_tok(doc, db), *t = sl_jr_tok(doc, table);
    if (d->type != SL_JR_STRING || t->type != SL_JR_STRING || d->escaped ||
        t->escaped)
        return NULL;
    const char *dp = doc->text + d->start, *tp = doc->text + t->start;
    for (size_t i = 0; i < s->ntables; i++) {
        tmeta_t *tm = s->tables[i];
        if (tm->table_len == t->len && tm->src_db_len == d->len &&
            memcmp(tm->table, tp, t->len) == 0 &&
            memcmp(tm->src_db, dp, d->len) == 0)
            return tm;
    }
    return NULL;
}

/* The table of a row event whose names are not plain strings known
 * already: unescaped, and looked up or learned from the target. */
int sl__mysql_find_table(sl_mysql_sink_t *s, const sl_jr_doc_t *doc,
                         uint32_t db, uint32_t table, uint64_t offset,
                         tmeta_t **out) {
    sl_buf_reset(&s->tmp);
    sl_buf_reset(&s->tmp2);
    if (db == SL_JR_NONE || table == SL_JR_NONE ||
        sl_jr_unescape(doc, db, &s->tmp) != 0 ||
        sl_jr_unescape(doc, table, &s->tmp2) != 0 ||
        sl_buf_append_u8(&s->tmp, 0) != 0 ||
        sl_buf_append_u8(&s->tmp2, 0) != 0) {
        s->failed_offset = offset;
        return sl__mysql_seterr(s, SL_EDB,
                                "partition %s offset %llu: row event "
                                "without db or table",
                                s->part, (unsigned long long)offset);
    }
    int rc = table_meta(s, (const char *)s->tmp.data,
                        (const char *)s->tmp2.data, out);
    if (rc == SL_EAGAIN)
        s->in_group = 0;
    return rc;
}
