/*
 * Loading the schema history from a live server's information_schema
 * (sl_schema_load_live).
 */
#include "internal.h"

#include "error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_binary_type(const char *t) {
    return strcmp(t, "binary") == 0 || strcmp(t, "varbinary") == 0 ||
           strcmp(t, "tinyblob") == 0 || strcmp(t, "blob") == 0 ||
           strcmp(t, "mediumblob") == 0 || strcmp(t, "longblob") == 0;
}

/* ENUM/SET members from COLUMN_TYPE ("enum('a','b''c')"). */
static int values_from_column_type(sl_schema_col_t *c) {
    const char *p = strchr(c->column_type, '(');
    if (p == NULL)
        return 0;
    sl_ddl_lexer_t lx;
    sl_ddl_tok_t tok;
    sl_ddl_lex_init(&lx, p, strlen(p), NULL);
    for (int guard = 0; guard < 1 << 20; guard++) {
        if (sl_ddl_lex_next(&lx, &tok) != 0 || tok.type == SL_DDL_TOK_END)
            break;
        if (tok.type != SL_DDL_TOK_STRING)
            continue;
        char *v;
        if (sl_ddl_tok_value(&lx, &tok, &v, NULL) != 0)
            return SL_ENOMEM;
        char **a = realloc(c->values, (c->nvalues + 1) * sizeof *a);
        if (a == NULL) {
            free(v);
            return SL_ENOMEM;
        }
        c->values = a;
        a[c->nvalues++] = v;
    }
    return 0;
}

static int query_rows(MYSQL *mysql, const char *sql, MYSQL_RES **res, char *err,
                      size_t errlen) {
    if (mysql_query(mysql, sql) != 0 ||
        (*res = mysql_store_result(mysql)) == NULL)
        return sl__schema_errf(err, errlen, SL_EDB, "schema query failed: %s",
                               mysql_error(mysql));
    return 0;
}

/* Appends 'text' as an SQL string literal; 1 when out of memory. */
static int put_literal(sl_buf_t *q, MYSQL *mysql, const char *text) {
    size_t n = strlen(text);
    char *esc = malloc(2 * n + 1);
    if (esc == NULL)
        return 1;
    unsigned long len = mysql_real_escape_string(mysql, esc, text, n);
    sl_buf_append_u8(q, '\'');
    sl_buf_append(q, esc, len);
    sl_buf_append_u8(q, '\'');
    free(esc);
    return 0;
}

/* With a filter (want), the condition on the tables it selects, in SQL
 * over TABLE_SCHEMA and TABLE_NAME: a schema whose every table is wanted
 * as TABLE_SCHEMA = 's', the others as (TABLE_SCHEMA = 's' AND TABLE_NAME
 * IN (...)). The list comes from a first query over
 * information_schema.TABLES that reads names only, which the servers
 * answer without opening any table. A condition on name columns only is
 * tested before a table's definition is opened, so a query over one
 * information_schema table costs nothing for the tables capture ignores
 * (MariaDB 10.11: a handful of definitions opened instead of every
 * table's; a join of such tables does not get this, hence the derived
 * tables of sl_schema_load_live). *cond is "1" when every table is wanted
 * (or want is NULL), "0" when none is. Returns 0, SL_EDB or SL_ENOMEM. */
static int wanted_cond(MYSQL *mysql,
                       int (*want)(void *ctx, const char *db,
                                   const char *table),
                       void *ctx, sl_buf_t *cond, char *err, size_t errlen) {
    sl_buf_reset(cond);
    MYSQL_RES *res = NULL;
    MYSQL_ROW row = NULL;
    int rc = want == NULL
                 ? 0
                 : query_rows(mysql,
                              "SELECT TABLE_SCHEMA, TABLE_NAME FROM "
                              "information_schema.TABLES WHERE TABLE_SCHEMA "
                              "NOT IN ('mysql', 'information_schema', "
                              "'performance_schema', 'sys') ORDER BY BINARY "
                              "TABLE_SCHEMA, BINARY TABLE_NAME",
                              &res, err, errlen);
    if (rc != 0)
        return rc;
    /* One schema at a time: its wanted names, and whether all are. */
    sl_buf_t names = SL_BUF_INIT, lit = SL_BUF_INIT;
    char *db = NULL;
    size_t nwanted = 0, nall = 0, nterms = 0;
    int all_wanted = 1, oom = 0;
    while (res != NULL && !oom) {
        row = mysql_fetch_row(res);
        if (row && (!row[0] || !row[1]))
            continue;
        if (db && (row == NULL || strcmp(db, row[0]) != 0)) {
            if (nwanted > 0) {
                sl_buf_reset(&lit);
                oom |= put_literal(&lit, mysql, db);
                sl_buf_append_str(cond, nterms++ ? " OR " : "(");
                sl_buf_printf(cond, "(TABLE_SCHEMA = %.*s", (int)lit.len,
                              (const char *)lit.data);
                if (nwanted < nall)
                    sl_buf_printf(cond, " AND TABLE_NAME IN (%.*s)",
                                  (int)names.len, (const char *)names.data);
                sl_buf_append_u8(cond, ')');
            }
            all_wanted &= nwanted == nall;
            free(db);
            db = NULL;
        }
        if (row == NULL)
            break;
        if (db == NULL) {
            oom = (db = strdup(row[0])) == NULL;
            sl_buf_reset(&names);
            nwanted = nall = 0;
        }
        nall++;
        if (!oom && want(ctx, row[0], row[1])) {
            if (nwanted++)
                sl_buf_append_u8(&names, ',');
            oom |= put_literal(&names, mysql, row[1]);
        }
    }
    free(db);
    if (res)
        mysql_free_result(res);
    oom |= sl_buf_error(&names) != 0 || sl_buf_error(&lit) != 0;
    sl_buf_free(&names);
    sl_buf_free(&lit);
    if (all_wanted || nterms == 0) {
        /* Every table (no list needed), or none: a constant. */
        sl_buf_reset(cond);
        sl_buf_append_str(cond, all_wanted ? "1" : "0");
    } else {
        sl_buf_append_u8(cond, ')');
    }
    oom |= sl_buf_error(cond) != 0;
    return oom ? sl__schema_errf(err, errlen, SL_ENOMEM, "out of memory") : 0;
}

/* Adds the keys of the tables just loaded (not the PRIMARY KEY) from
 * information_schema.STATISTICS, and their hash columns: INDEX_TYPE
 * 'HASH' is MariaDB's hash UNIQUE key, except in MEMORY, whose own index
 * type that is (hashkey.c). */
static int load_keys(sl_schema_t *s, MYSQL *mysql,
                     int (*want)(void *ctx, const char *db, const char *table),
                     void *ctx, const sl_buf_t *cond, char *err,
                     size_t errlen) {
    MYSQL_RES *res = NULL;
    MYSQL_ROW row;
    sl_buf_t q = SL_BUF_INIT;
    sl_buf_printf(
        &q,
        "SELECT TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, NON_UNIQUE, "
        "COLUMN_NAME, SUB_PART, INDEX_TYPE FROM information_schema.STATISTICS "
        "s WHERE INDEX_NAME <> 'PRIMARY' AND TABLE_SCHEMA NOT IN ('mysql', "
        "'information_schema', 'performance_schema', 'sys') AND %.*s "
        "ORDER BY BINARY TABLE_SCHEMA, BINARY TABLE_NAME, INDEX_NAME, "
        "SEQ_IN_INDEX",
        (int)cond->len, (const char *)cond->data);
    const char *qs;
    int rc = sl_buf_cstr(&q, &qs) != 0
                 ? sl__schema_errf(err, errlen, SL_ENOMEM, "out of memory")
                 : query_rows(mysql, qs, &res, err, errlen);
    sl_buf_free(&q);
    if (rc != 0)
        return rc;
    sl_schema_table_t *t = NULL;
    sl_ddl_index_t idx;
    memset(&idx, 0, sizeof idx);
    int is_hash = 0;
    for (;;) {
        row = mysql_fetch_row(res);
        int same_key = row && t && idx.name && strcmp(t->db, row[0]) == 0 &&
                       strcmp(t->name, row[1]) == 0 && row[2] &&
                       strcmp(idx.name, row[2]) == 0;
        if (!same_key && t && idx.name) {
            if ((rc = sl__schema_key_add(t, &idx)) != 0)
                break;
            sl__schema_key_loaded(t, &t->keys[t->nkeys - 1], is_hash);
        }
        if (!same_key)
            sl_ddl_index_free(&idx);
        int same_table = row && t && strcmp(t->db, row[0]) == 0 &&
                         strcmp(t->name, row[1]) == 0;
        if (!same_table && t) {
            if ((rc = sl__schema_hash_cols(t)) != 0)
                break;                       /* t is freed below. */
            rc = sl__schema_put_owned(s, t); /* Frees t on error. */
            t = NULL;
            if (rc != 0)
                break;
        }
        if (row == NULL)
            break;
        if (!row[0] || !row[1] || !row[2] || !row[4])
            continue;
        if (!same_table) {
            if (want && !want(ctx, row[0], row[1]))
                continue;
            t = sl__schema_take(s, row[0], row[1]);
            if (t == NULL)
                continue; /* A view, or not loaded above. */
        }
        if (!same_key) {
            idx.name = strdup(row[2]);
            idx.unique = row[3] && strcmp(row[3], "0") == 0;
            is_hash = row[6] && strcmp(row[6], "HASH") == 0;
            if (idx.name == NULL) {
                rc = SL_ENOMEM;
                break;
            }
        }
        char *part = strdup(row[4]);
        char **a = realloc(idx.parts, (idx.nparts + 1) * sizeof *a);
        if (a)
            idx.parts = a;
        long long *pre = realloc(idx.prefix, (idx.nparts + 1) * sizeof *pre);
        if (pre)
            idx.prefix = pre;
        if (part == NULL || a == NULL || pre == NULL) {
            free(part);
            rc = SL_ENOMEM;
            break;
        }
        pre[idx.nparts] = row[5] ? atoll(row[5]) : -1;
        a[idx.nparts++] = part;
    }
    sl_ddl_index_free(&idx);
    sl__schema_table_free(t);
    mysql_free_result(res);
    if (rc != 0)
        return sl__schema_errf(err, errlen, rc, "out of memory");
    return 0;
}

int sl_schema_load_live(sl_schema_t *s, MYSQL *mysql,
                        int (*want)(void *ctx, const char *db,
                                    const char *table),
                        void *ctx, char *err, size_t errlen) {
    MYSQL_RES *res = NULL;
    MYSQL_ROW row;
    int rc = query_rows(mysql, "SELECT VERSION(), @@character_set_server", &res,
                        err, errlen);
    if (rc != 0)
        return rc;
    row = mysql_fetch_row(res);
    int row_is_mariadb = row && row[0] && strstr(row[0], "MariaDB") != NULL;
    if (row && row[0]) {
        rc = sl_schema_set_server(s, row_is_mariadb,
                                  mysql_get_server_version(mysql), row[1]);
    }
    mysql_free_result(res);
    if (rc != 0)
        return sl__schema_errf(err, errlen, rc, "out of memory");
    rc = query_rows(mysql,
                    "SELECT SCHEMA_NAME, DEFAULT_CHARACTER_SET_NAME "
                    "FROM information_schema.SCHEMATA",
                    &res, err, errlen);
    if (rc != 0)
        return rc;
    while (rc == 0 && (row = mysql_fetch_row(res)) != NULL)
        if (row[0] && row[1])
            rc = sl_schema_set_db_charset(s, row[0], row[1]);
    mysql_free_result(res);
    if (rc != 0)
        return sl__schema_errf(err, errlen, rc, "out of memory");
    /* A system-versioned table (MariaDB 10.3+) whose period columns are
     * implicit has row_start and row_end in every row image, after the
     * other columns, but information_schema.COLUMNS does not list them:
     * they are added below, where the table's type says it is versioned
     * and no listed column is its ROW START. GENERATION_EXPRESSION is
     * asked of MariaDB only (MySQL 5.6 lacks it, and has no versioning). */
    sl_buf_t cond = SL_BUF_INIT;
    rc = wanted_cond(mysql, want, ctx, &cond, err, errlen);
    if (rc != 0) {
        sl_buf_free(&cond);
        return rc;
    }
    /* Filtered: each information_schema table is read through a derived
     * table of its own with the condition (the LIMIT keeps the server from
     * merging it into the join, which would read every table). */
    static const char *const istab[3] = {"COLUMNS", "TABLES", "STATISTICS"};
    sl_buf_t from[3] = {SL_BUF_INIT, SL_BUF_INIT, SL_BUF_INIT};
    int filtered = !(cond.len == 1 && ((const char *)cond.data)[0] == '1');
    for (int i = 0; i < 3; i++) {
        if (filtered)
            sl_buf_printf(&from[i],
                          "(SELECT * FROM information_schema.%s WHERE %.*s "
                          "LIMIT 18446744073709551615)",
                          istab[i], (int)cond.len, (const char *)cond.data);
        else
            sl_buf_printf(&from[i], "information_schema.%s", istab[i]);
    }
    sl_buf_t q = SL_BUF_INIT;
    sl_buf_printf(
        &q,
        "SELECT c.TABLE_SCHEMA, c.TABLE_NAME, c.COLUMN_NAME, c.DATA_TYPE, "
        "c.COLUMN_TYPE, c.CHARACTER_SET_NAME, c.IS_NULLABLE, k.SEQ_IN_INDEX, "
        "t.TABLE_COLLATION, t.TABLE_TYPE, %s, t.ENGINE "
        "FROM %.*s c JOIN %.*s t ON t.TABLE_SCHEMA = c.TABLE_SCHEMA "
        "AND t.TABLE_NAME = c.TABLE_NAME "
        "LEFT JOIN %.*s k ON k.TABLE_SCHEMA = "
        "c.TABLE_SCHEMA AND k.TABLE_NAME = c.TABLE_NAME AND k.COLUMN_NAME = "
        "c.COLUMN_NAME AND k.INDEX_NAME = 'PRIMARY' "
        "WHERE t.TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED') "
        "AND c.TABLE_SCHEMA NOT IN ('mysql', 'information_schema', "
        "'performance_schema', 'sys') "
        "ORDER BY BINARY c.TABLE_SCHEMA, BINARY c.TABLE_NAME, "
        "c.ORDINAL_POSITION",
        row_is_mariadb ? "c.GENERATION_EXPRESSION" : "NULL", (int)from[0].len,
        (const char *)from[0].data, (int)from[1].len,
        (const char *)from[1].data, (int)from[2].len,
        (const char *)from[2].data);
    int bad = 0;
    for (int i = 0; i < 3; i++) {
        bad |= sl_buf_error(&from[i]) != 0;
        sl_buf_free(&from[i]);
    }
    const char *qs;
    rc = bad || sl_buf_cstr(&q, &qs) != 0
             ? sl__schema_errf(err, errlen, SL_ENOMEM, "out of memory")
             : query_rows(mysql, qs, &res, err, errlen);
    sl_buf_free(&q);
    if (rc != 0) {
        sl_buf_free(&cond);
        return rc;
    }
    sl_schema_table_t *t = NULL;
    int skip = 0;
    int versioned = 0, has_row_start = 0;
    while (rc == 0 && (row = mysql_fetch_row(res)) != NULL) {
        if (!row[0] || !row[1] || !row[2] || !row[3] || !row[4])
            continue;
        if (t == NULL || strcmp(t->db, row[0]) != 0 ||
            strcmp(t->name, row[1]) != 0) {
            if (t && !skip && versioned && !has_row_start &&
                (rc = sl__schema_add_hidden_versioning(t)) != 0)
                break;
            if (t && !skip) {
                rc = sl__schema_put_owned(s, t);
                t = NULL;
                if (rc != 0)
                    break;
            }
            sl__schema_table_free(t);
            t = calloc(1, sizeof *t);
            if (t == NULL) {
                rc = SL_ENOMEM;
                break;
            }
            t->db = strdup(row[0]);
            t->name = strdup(row[1]);
            t->charset = row[8] ? sl__schema_collation_charset(row[8])
                                : strdup(sl_schema_db_charset(s, row[0]));
            if (!t->db || !t->name || !t->charset) {
                rc = SL_ENOMEM;
                break;
            }
            skip = want && !want(ctx, row[0], row[1]);
            if (row[11] && (t->engine = sl__schema_norm_charset(row[11])) ==
                               NULL) { /* Lower-cases it. */
                rc = SL_ENOMEM;
                break;
            }
            versioned = row[9] && strcmp(row[9], "SYSTEM VERSIONED") == 0;
            has_row_start = 0;
        }
        if (row[10] && strcmp(row[10], "ROW START") == 0)
            has_row_start = 1;
        if (skip)
            continue;
        sl_schema_col_t c;
        memset(&c, 0, sizeof c);
        int oom = 0;
        c.name = sl__schema_dup_or_null(row[2], &oom);
        c.data_type = sl__schema_norm_charset(row[3]); /* Lower-cases it. */
        c.column_type = sl__schema_dup_or_null(row[4], &oom);
        if (c.data_type == NULL)
            oom = 1;
        if (!oom) {
            if (row[5])
                c.charset = sl__schema_norm_charset(row[5]);
            else if (is_binary_type(c.data_type))
                c.charset = strdup("binary");
            if ((row[5] || is_binary_type(c.data_type)) && c.charset == NULL)
                oom = 1;
        }
        if (!oom) {
            c.is_unsigned = strstr(c.column_type, " unsigned") != NULL;
            c.nullable = row[6] && strcmp(row[6], "YES") == 0;
            c.pk_seq = row[7] ? atoi(row[7]) : 0;
            /* MariaDB appends a versioned table's ROW END column to its
             * primary key (information_schema shows it there when the
             * column is explicit, never when implicit); the history keeps
             * the key the DDL declared, as it does for implicit periods,
             * so the two readings agree. */
            if (row[10] && strcmp(row[10], "ROW END") == 0)
                c.pk_seq = 0;
            c.is_pk = c.pk_seq > 0;
            if ((strcmp(c.data_type, "enum") == 0 ||
                 strcmp(c.data_type, "set") == 0) &&
                values_from_column_type(&c) != 0)
                oom = 1;
        }
        if (oom || sl__schema_insert_col(t, &c, t->ncols) != 0) {
            sl__schema_col_free(&c);
            rc = SL_ENOMEM;
        }
    }
    if (rc == 0 && t && !skip && versioned && !has_row_start)
        rc = sl__schema_add_hidden_versioning(t);
    if (rc == 0 && t && !skip) {
        rc = sl__schema_put_owned(s, t);
        t = NULL;
    }
    sl__schema_table_free(t);
    mysql_free_result(res);
    if (rc == 0)
        rc = load_keys(s, mysql, want, ctx, &cond, err, errlen);
    else
        rc = sl__schema_errf(err, errlen, rc, "out of memory");
    sl_buf_free(&cond);
    return rc;
}
