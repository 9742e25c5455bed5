/*
 * Applying one DDL statement to the schema history: the parsed statement
 * (ddl.c) turned into the columns the server would now have, with the
 * server's rules for charsets, text type sizes and binary twins (see
 * docs/schema-history.md).
 */
#include "internal.h"

#include "error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

/* Column names compare ASCII case-insensitively, as in MySQL. */
static int col_eq(const char *a, const char *b) {
    return sl_ddl_word_eq(a, strlen(a), b);
}

/* Bytes per character at most, for the text-type sizing rules (1 for a
 * charset not known). */
static unsigned mbmaxlen(const char *cs) {
    unsigned n = sl__schema_mbmaxlen(cs);
    return n ? n : 1;
}

static const char *const text_types[] = {"tinytext", "text", "mediumtext",
                                         "longtext"};
static const char *const blob_types[] = {"tinyblob", "blob", "mediumblob",
                                         "longblob"};
static const unsigned long long text_max[] = {255ULL, 65535ULL, 16777215ULL,
                                              4294967295ULL};

static int text_rank(const char *data_type) {
    for (int i = 0; i < 4; i++)
        if (strcmp(data_type, text_types[i]) == 0)
            return i;
    return -1;
}

static int rank_for_bytes(unsigned long long bytes) {
    for (int i = 0; i < 4; i++)
        if (bytes <= text_max[i])
            return i;
    return 3;
}

/* How information_schema's COLUMN_TYPE (and SHOW CREATE TABLE) marks a
 * MariaDB COMPRESSED column: a versioned comment after the type, as in
 * varchar(100) followed by this mark. */
static const char compressed_mark[] = " /*M!100301 COMPRESSED*"
                                      "/";

static int is_compressed(const char *column_type) {
    size_t n = strlen(column_type), m = sizeof compressed_mark - 1;
    return n >= m && strcmp(column_type + n - m, compressed_mark) == 0;
}

/* Sets both types; a compressed column stays compressed when its type
 * changes (TEXT to MEDIUMTEXT by CONVERT TO, TEXT to BLOB by charset
 * binary). */
static int set_types(sl_schema_col_t *c, const char *data_type,
                     const char *column_type) {
    int keep = c->column_type && is_compressed(c->column_type) &&
               !is_compressed(column_type);
    size_t n = strlen(column_type);
    char *d = strdup(data_type), *t = malloc(n + sizeof compressed_mark);
    if (t) {
        memcpy(t, column_type, n + 1);
        if (keep)
            memcpy(t + n, compressed_mark, sizeof compressed_mark);
    }
    if (d == NULL || t == NULL) {
        free(d);
        free(t);
        return SL_ENOMEM;
    }
    free(c->data_type);
    free(c->column_type);
    c->data_type = d;
    c->column_type = t;
    return 0;
}

/* A text column in charset binary becomes its binary twin, as the server
 * does: CHAR(n) -> BINARY(n), VARCHAR(n) -> VARBINARY(n), TEXT -> BLOB. */
static int make_binary(sl_schema_col_t *c) {
    char buf[64];
    int r = text_rank(c->data_type);
    if (r >= 0)
        return set_types(c, blob_types[r], blob_types[r]);
    if (strcmp(c->data_type, "char") == 0 ||
        strcmp(c->data_type, "varchar") == 0) {
        const char *paren = strchr(c->column_type, '(');
        const char *bt = c->data_type[0] == 'c' ? "binary" : "varbinary";
        snprintf(buf, sizeof buf, "%s%s", bt, paren ? paren : "");
        return set_types(c, bt, buf);
    }
    return 0; /* ENUM/SET keep their type in charset binary. */
}

int sl__schema_resolve_col(sl_schema_col_t *c, const sl_ddl_col_t *d,
                           const char *table_cs) {
    int oom = 0;
    memset(c, 0, sizeof *c);
    c->name = sl__schema_dup_or_null(d->name, &oom);
    c->data_type = sl__schema_dup_or_null(d->data_type, &oom);
    c->column_type = sl__schema_dup_or_null(d->column_type, &oom);
    c->is_unsigned = d->is_unsigned;
    c->nullable = !d->not_null;
    if (d->pk) {
        c->is_pk = 1;
        c->pk_seq = 1;
        c->nullable = 0;
    }
    if (d->nvalues) {
        c->values = calloc(d->nvalues, sizeof *c->values);
        if (c->values == NULL)
            oom = 1;
        else
            c->nvalues = d->nvalues;
        for (size_t i = 0; c->values && i < d->nvalues; i++)
            c->values[i] = sl__schema_dup_or_null(d->values[i], &oom);
    }
    if (oom) {
        sl__schema_col_free(c);
        return SL_ENOMEM;
    }
    if (d->is_binary) {
        c->charset = strdup("binary");
    } else if (d->is_text) {
        const char *explicit_cs = d->charset;
        if (explicit_cs && strcmp(explicit_cs, "default") == 0)
            explicit_cs = NULL;
        if (explicit_cs)
            c->charset = sl__schema_norm_charset(explicit_cs);
        else if (d->collation)
            c->charset = sl__schema_collation_charset(d->collation);
        else
            c->charset = sl__schema_norm_charset(table_cs);
    } else {
        return 0;
    }
    if (c->charset == NULL) {
        sl__schema_col_free(c);
        return SL_ENOMEM;
    }
    int rc = 0;
    if (d->is_text && strcmp(c->data_type, "text") == 0 && d->length >= 0) {
        /* TEXT(n) is the smallest text type holding n characters. */
        int r = rank_for_bytes((unsigned long long)d->length *
                               mbmaxlen(c->charset));
        rc = set_types(c, text_types[r], text_types[r]);
    }
    if (rc == 0 && d->is_text && strcmp(c->charset, "binary") == 0)
        rc = make_binary(c);
    if (rc == 0 && d->compressed && !is_compressed(c->column_type)) {
        size_t n = strlen(c->column_type);
        char *t = realloc(c->column_type, n + sizeof compressed_mark);
        if (t == NULL) {
            rc = SL_ENOMEM;
        } else {
            memcpy(t + n, compressed_mark, sizeof compressed_mark);
            c->column_type = t;
        }
    }
    if (rc != 0)
        sl__schema_col_free(c);
    return rc;
}

/* ---- DDL application ---------------------------------------------------- */

static ssize_t col_index(const sl_schema_table_t *t, const char *name) {
    for (size_t i = 0; name && i < t->ncols; i++)
        if (col_eq(t->cols[i].name, name))
            return (ssize_t)i;
    return -1;
}

static void clear_pk(sl_schema_table_t *t) {
    for (size_t k = 0; k < t->ncols; k++) {
        t->cols[k].pk_seq = 0;
        t->cols[k].is_pk = 0;
    }
}

/* The charset conversion of CONVERT TO CHARACTER SET for one column: text
 * types grow so that they still hold as many characters (never shrink). */
static int convert_col(sl_schema_col_t *c, const char *cs) {
    if (c->charset == NULL || strcmp(c->charset, "binary") == 0)
        return 0;
    int r = text_rank(c->data_type);
    if (r >= 0) {
        unsigned long long chars = text_max[r] / mbmaxlen(c->charset);
        int nr = rank_for_bytes(chars * mbmaxlen(cs));
        if (nr > r && set_types(c, text_types[nr], text_types[nr]) != 0)
            return SL_ENOMEM;
    }
    char *d = strdup(cs);
    if (d == NULL)
        return SL_ENOMEM;
    free(c->charset);
    c->charset = d;
    if (strcmp(cs, "binary") == 0)
        return make_binary(c);
    return 0;
}

/* [DEFAULT] CHARACTER SET / COLLATE and CONVERT TO CHARACTER SET of an
 * ALTER TABLE: the table's default charset, and with CONVERT every text
 * column's. */
static int apply_table_charset(sl_schema_t *s, sl_schema_table_t *t,
                               const sl_ddl_action_t *a) {
    char *cs = NULL;
    if (a->charset && strcmp(a->charset, "default") != 0)
        cs = sl__schema_norm_charset(a->charset);
    else if (a->collation)
        cs = sl__schema_collation_charset(a->collation);
    else if (a->charset) /* CHARACTER SET DEFAULT: the database's. */
        cs = strdup(sl_schema_db_charset(s, t->db));
    else /* Only COLLATE DEFAULT: the table's charset stays. */
        cs = strdup(t->charset);
    if (cs == NULL)
        return SL_ENOMEM;
    free(t->charset);
    t->charset = cs;
    if (a->kind == SL_DDL_ACT_CONVERT_CHARSET) {
        for (size_t k = 0; k < t->ncols; k++)
            if (convert_col(&t->cols[k], cs) != 0)
                return SL_ENOMEM;
    }
    return 0;
}

void sl_ddl_effect_free(sl_ddl_effect_t *effect) {
    if (effect == NULL)
        return;
    for (size_t i = 0; i < effect->ntables; i++) {
        free(effect->tables[i].db);
        free(effect->tables[i].table);
    }
    free(effect->tables);
    memset(effect, 0, sizeof *effect);
}

static int effect_add(sl_ddl_effect_t *e, const char *db, const char *table) {
    if (e == NULL)
        return 0;
    sl_ddl_effect_table_t *a = realloc(e->tables, (e->ntables + 1) * sizeof *a);
    if (a == NULL)
        return SL_ENOMEM;
    e->tables = a;
    a[e->ntables].db = strdup(db);
    a[e->ntables].table = strdup(table);
    if (a[e->ntables].db == NULL || a[e->ntables].table == NULL) {
        free(a[e->ntables].db);
        free(a[e->ntables].table);
        return SL_ENOMEM;
    }
    e->ntables++;
    return 0;
}

static const char *name_db(const sl_ddl_name_t *n, const char *default_db) {
    if (n->db)
        return n->db;
    return default_db ? default_db : "";
}

static int build_table(sl_schema_t *s, const sl_ddl_stmt_t *st, const char *db,
                       sl_schema_table_t **out, char *err, size_t errlen) {
    sl_schema_table_t *t = calloc(1, sizeof *t);
    if (t == NULL)
        return SL_ENOMEM;
    t->db = strdup(db);
    t->name = strdup(st->tables[0].table);
    if (st->charset && strcmp(st->charset, "default") != 0)
        t->charset = sl__schema_norm_charset(st->charset);
    else if (st->collation)
        t->charset = sl__schema_collation_charset(st->collation);
    else
        t->charset = strdup(sl_schema_db_charset(s, db));
    if (t->db == NULL || t->name == NULL || t->charset == NULL) {
        sl__schema_table_free(t);
        return SL_ENOMEM;
    }
    if (st->ncols) {
        t->cols = calloc(st->ncols, sizeof *t->cols);
        if (t->cols == NULL) {
            sl__schema_table_free(t);
            return SL_ENOMEM;
        }
    }
    for (size_t i = 0; i < st->ncols; i++) {
        if (sl__schema_resolve_col(&t->cols[i], &st->cols[i], t->charset) !=
            0) {
            sl__schema_table_free(t);
            return SL_ENOMEM;
        }
        t->ncols = i + 1;
    }
    int explicit_period = 0;
    for (size_t i = 0; i < st->ncols; i++)
        explicit_period |= st->cols[i].row_period;
    if (st->versioning && !explicit_period &&
        sl__schema_add_hidden_versioning(t) != 0) {
        sl__schema_table_free(t);
        return SL_ENOMEM;
    }
    int rc = sl__schema_apply_periods(t, st, 0, err, errlen);
    if (rc != 0) {
        sl__schema_table_free(t);
        return rc;
    }
    if (st->has_pk) {
        clear_pk(t);
        for (size_t k = 0; k < st->npk; k++) {
            ssize_t i = col_index(t, st->pk[k]);
            if (i < 0) {
                rc = sl__schema_errf(err, errlen, SL_EUNSUPPORTED,
                                     "PRIMARY KEY "
                                     "column %s: not in %s.%s",
                                     st->pk[k], db, t->name);
                sl__schema_table_free(t);
                return rc;
            }
            t->cols[i].pk_seq = (int)k + 1;
            t->cols[i].is_pk = 1;
            t->cols[i].nullable = 0;
        }
    }
    rc = sl__schema_keys_apply(t, NULL, st, &s->opts, err, errlen);
    if (rc != 0) {
        sl__schema_table_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

static int set_name(sl_schema_table_t *t, const char *db, const char *name) {
    char *d = strdup(db), *n = strdup(name);
    if (d == NULL || n == NULL) {
        free(d);
        free(n);
        return SL_ENOMEM;
    }
    free(t->db);
    free(t->name);
    t->db = d;
    t->name = n;
    return 0;
}

/* The database of ALTER TABLE ... RENAME TO's new name: an unqualified
 * name goes to the statement's default database, not the table's, as
 * MySQL and MariaDB do (ALTER TABLE db1.t RENAME TO t2 moves the table to
 * the session's database). Without a default database the server refuses
 * the statement ("No database selected"), so the table's own database is
 * only a fallback that a binlog should never exercise. */
static const char *rename_db(const sl_ddl_action_t *a, const char *default_db,
                             const char *table_db) {
    if (a->db)
        return a->db;
    return default_db && default_db[0] ? default_db : table_db;
}

static int apply_alter(sl_schema_t *s, const sl_ddl_stmt_t *st,
                       const char *default_db, char *err, size_t errlen) {
    const char *db = name_db(&st->tables[0], default_db);
    const char *name = st->tables[0].table;
    const sl_schema_table_t *cur =
        sl_schema_find(s, db, strlen(db), name, strlen(name));
    /* Index specifications alone change no column of a table the history
     * does not hold. */
    int has_change = 0;
    for (size_t k = 0; k < st->nacts; k++)
        has_change |= st->acts[k].kind != SL_DDL_ACT_ADD_INDEX &&
                      st->acts[k].kind != SL_DDL_ACT_DROP_INDEX &&
                      st->acts[k].kind != SL_DDL_ACT_RENAME_INDEX;
    if (cur == NULL) {
        if (!has_change && st->kind != SL_DDL_ALTER_TABLE)
            return 0; /* DROP INDEX on a table we do not follow. */
        /* A rename of an unknown table leaves its new name unknown too. */
        for (size_t k = 0; k < st->nacts; k++) {
            const sl_ddl_action_t *a = &st->acts[k];
            if (a->kind == SL_DDL_ACT_RENAME_TABLE ||
                a->kind == SL_DDL_ACT_PARTITION_TO_TABLE ||
                a->kind == SL_DDL_ACT_TABLE_TO_PARTITION)
                sl_schema_drop(s, rename_db(a, default_db, db), a->table);
        }
        /* ALTER TABLE IF EXISTS of a table that does not exist does
         * nothing (the server logs it anyway); rows of a captured table
         * missing from the history still stop capture. */
        if (!has_change || st->tables[0].if_exists)
            return 0;
        return sl__schema_errf(err, errlen, SL_ENOTFOUND,
                               "ALTER TABLE %s.%s: the "
                               "table is not in the schema history",
                               db, name);
    }
    if (!has_change && st->nacts == 0 && !st->rebuild && !st->engine)
        return 0;
    sl_schema_table_t *t = sl__schema_table_copy(cur);
    if (t == NULL)
        return SL_ENOMEM;
    sl__schema_hash_strip(t); /* Put back by sl__schema_keys_apply(). */
    /* The server applies table options (DEFAULT CHARSET, CONVERT TO) to the
     * existing columns first; columns added or modified by the same
     * statement then take the new default without conversion. */
    const sl_ddl_action_t *rename = NULL;
    for (size_t k = 0; k < st->nacts; k++) {
        const sl_ddl_action_t *a = &st->acts[k];
        int rc = 0;
        if (a->kind == SL_DDL_ACT_TABLE_CHARSET ||
            a->kind == SL_DDL_ACT_CONVERT_CHARSET)
            rc = apply_table_charset(s, t, a);
        else if (a->kind == SL_DDL_ACT_RENAME_TABLE)
            rename = a;
        if (rc != 0) {
            sl__schema_table_free(t);
            return rc;
        }
    }
    int rc = sl__schema_alter_columns(t, st, err, errlen);
    if (rc == 0)
        rc = sl__schema_keys_apply(t, cur, st, &s->opts, err, errlen);
    if (rc != 0) {
        sl__schema_table_free(t);
        return rc;
    }
    /* CONVERT PARTITION p TO TABLE u: u has the table's columns; CONVERT
     * TABLE u TO PARTITION p: u is gone. */
    for (size_t k = 0; k < st->nacts; k++) {
        const sl_ddl_action_t *a = &st->acts[k];
        const char *udb = rename_db(a, default_db, db);
        if (a->kind == SL_DDL_ACT_TABLE_TO_PARTITION) {
            sl_schema_drop(s, udb, a->table);
        } else if (a->kind == SL_DDL_ACT_PARTITION_TO_TABLE) {
            sl_schema_table_t *u = sl__schema_table_copy(t);
            if (u == NULL || set_name(u, udb, a->table) != 0) {
                sl__schema_table_free(u);
                sl__schema_table_free(t);
                return SL_ENOMEM;
            }
            if (sl__schema_put_owned(s, u) != 0) { /* u freed by it. */
                sl__schema_table_free(t);
                return SL_ENOMEM;
            }
        }
    }
    if (rename) {
        if (set_name(t, rename_db(rename, default_db, db), rename->table) !=
            0) {
            sl__schema_table_free(t);
            return SL_ENOMEM;
        }
        sl__schema_table_free(sl__schema_take(s, db, name));
    }
    return sl__schema_put_owned(s, t);
}

static int apply_rename(sl_schema_t *s, const sl_ddl_stmt_t *st,
                        const char *default_db, char *err, size_t errlen) {
    int rc = 0;
    for (size_t i = 0; i + 1 < st->ntables; i += 2) {
        const char *fdb = name_db(&st->tables[i], default_db);
        const char *tdb = name_db(&st->tables[i + 1], default_db);
        sl_schema_table_t *t = sl__schema_take(s, fdb, st->tables[i].table);
        if (t == NULL) {
            /* Unknown before, unknown after: forget any stale entry. */
            sl_schema_drop(s, tdb, st->tables[i + 1].table);
            if (st->tables[i].if_exists)
                continue; /* RENAME TABLE IF EXISTS: nothing to rename. */
            if (rc == 0)
                rc = sl__schema_errf(err, errlen, SL_ENOTFOUND,
                                     "RENAME TABLE %s.%s: "
                                     "the table is not in the schema history",
                                     fdb, st->tables[i].table);
            continue;
        }
        if (set_name(t, tdb, st->tables[i + 1].table) != 0) {
            sl__schema_table_free(t);
            return SL_ENOMEM;
        }
        if (sl__schema_put_owned(s, t) != 0)
            return SL_ENOMEM;
    }
    return rc;
}

/* DROP DATABASE db: its tables leave the history (each named in the
 * effect), and its charset is forgotten. */
static int drop_database(sl_schema_t *s, const char *db,
                         sl_ddl_effect_t *effect) {
    for (size_t i = s->ntables; i-- > 0;) {
        if (strcmp(s->tables[i]->db, db) != 0)
            continue;
        if (effect_add(effect, db, s->tables[i]->name) != 0)
            return SL_ENOMEM;
        sl__schema_table_free(sl__schema_take(s, db, s->tables[i]->name));
    }
    sl__schema_forget_db(s, db);
    return 0;
}

int sl_schema_apply_ddl(sl_schema_t *s, const char *default_db, const char *sql,
                        size_t len, sl_ddl_effect_t *effect, char *err,
                        size_t errlen) {
    sl_ddl_stmt_t st;
    if (effect)
        memset(effect, 0, sizeof *effect);
    if (err && errlen)
        err[0] = '\0';
    if (default_db && default_db[0] == '\0')
        default_db = NULL;
    int rc = sl_ddl_parse(sql, len, &s->opts, &st, err, errlen);
    if (effect) {
        effect->kind = st.kind;
        effect->temporary = st.temporary;
    }
    for (size_t i = 0; i < st.ntables; i++) {
        if (effect_add(effect, name_db(&st.tables[i], default_db),
                       st.tables[i].table) != 0) {
            sl_ddl_stmt_free(&st);
            return sl__schema_errf(err, errlen, SL_ENOMEM, "out of memory");
        }
    }
    if (rc == 0 && st.temporary) {
        sl_ddl_stmt_free(&st);
        return 0; /* Temporary tables' rows are not in a ROW binlog. */
    }
    if (rc == 0) {
        for (size_t i = 0; i < st.ntables; i++) {
            if (st.tables[i].db == NULL && default_db == NULL) {
                rc = sl__schema_errf(err, errlen, SL_EUNSUPPORTED,
                                     "table %s without a "
                                     "database and no default database",
                                     st.tables[i].table);
                break;
            }
        }
    }
    if (rc == 0) {
        const char *db0 =
            st.ntables ? name_db(&st.tables[0], default_db) : NULL;
        switch (st.kind) {
        case SL_DDL_NONE:
        case SL_DDL_TRUNCATE_TABLE:
        case SL_DDL_OTHER_TABLE: break;
        case SL_DDL_CREATE_TABLE: {
            const sl_schema_table_t *old =
                sl_schema_find(s, db0, strlen(db0), st.tables[0].table,
                               strlen(st.tables[0].table));
            if (old && st.if_not_exists && !st.or_replace)
                break; /* Logged although it did nothing. */
            sl_schema_table_t *t = NULL;
            rc = build_table(s, &st, db0, &t, err, errlen);
            if (rc == 0)
                rc = sl__schema_put_owned(s, t);
            break;
        }
        case SL_DDL_CREATE_TABLE_LIKE: {
            const char *sdb = name_db(&st.tables[1], default_db);
            const sl_schema_table_t *old =
                sl_schema_find(s, db0, strlen(db0), st.tables[0].table,
                               strlen(st.tables[0].table));
            if (old && st.if_not_exists && !st.or_replace)
                break;
            const sl_schema_table_t *src =
                sl_schema_find(s, sdb, strlen(sdb), st.tables[1].table,
                               strlen(st.tables[1].table));
            if (src == NULL) {
                rc = sl__schema_errf(
                    err, errlen, SL_ENOTFOUND,
                    "CREATE TABLE %s.%s "
                    "LIKE %s.%s: the source is not in the schema "
                    "history",
                    db0, st.tables[0].table, sdb, st.tables[1].table);
                break;
            }
            sl_schema_table_t *t = sl__schema_table_copy(src);
            if (t == NULL || set_name(t, db0, st.tables[0].table) != 0) {
                sl__schema_table_free(t);
                rc = SL_ENOMEM;
                break;
            }
            /* The copy is a new definition: USING HASH does not carry. */
            sl_ddl_stmt_t like;
            memset(&like, 0, sizeof like);
            like.rebuild = 1;
            rc = sl__schema_keys_apply(t, src, &like, &s->opts, err, errlen);
            if (rc != 0) {
                sl__schema_table_free(t);
                break;
            }
            rc = sl__schema_put_owned(s, t);
            break;
        }
        case SL_DDL_ALTER_TABLE:
        case SL_DDL_CREATE_INDEX:
        case SL_DDL_DROP_INDEX:
            rc = apply_alter(s, &st, default_db, err, errlen);
            break;
        case SL_DDL_RENAME_TABLE:
            rc = apply_rename(s, &st, default_db, err, errlen);
            break;
        case SL_DDL_DROP_TABLE:
            for (size_t i = 0; i < st.ntables; i++)
                sl_schema_drop(s, name_db(&st.tables[i], default_db),
                               st.tables[i].table);
            break;
        case SL_DDL_CREATE_DATABASE:
        case SL_DDL_ALTER_DATABASE: {
            const char *db = st.database ? st.database : default_db;
            if (db == NULL)
                break;
            /* MariaDB's CREATE OR REPLACE DATABASE drops the old one with
             * its tables first. */
            if (st.kind == SL_DDL_CREATE_DATABASE && st.or_replace &&
                (rc = drop_database(s, db, effect)) != 0)
                break;
            if (st.kind == SL_DDL_CREATE_DATABASE && st.if_not_exists) {
                int known = 0;
                for (size_t i = 0; i < s->ndbs; i++)
                    known |= strcmp(s->dbs[i].name, db) == 0;
                if (known)
                    break;
            }
            char *cs = NULL;
            if (st.charset && strcmp(st.charset, "default") != 0)
                cs = sl__schema_norm_charset(st.charset);
            else if (st.collation)
                cs = sl__schema_collation_charset(st.collation);
            /* CHARACTER SET DEFAULT is the server's (set_db_charset with
             * NULL); nothing at all changes no charset. */
            int to_server = st.charset && strcmp(st.charset, "default") == 0;
            if (cs == NULL && !to_server && st.kind == SL_DDL_ALTER_DATABASE)
                break;
            rc = sl_schema_set_db_charset(s, db, cs);
            free(cs);
            break;
        }
        case SL_DDL_DROP_DATABASE:
            if (st.database)
                rc = drop_database(s, st.database, effect);
            break;
        }
    }
    if (rc != 0 && rc != SL_ENOMEM && rc != SL_ENOTFOUND) {
        /* Whatever the statement did to these tables is unknown now. */
        for (size_t i = 0; i < st.ntables; i++)
            sl_schema_drop(s, name_db(&st.tables[i], default_db),
                           st.tables[i].table);
    }
    /* A table missing from the history is reported like any statement
     * that cannot be interpreted, so callers have one rule: carry on only
     * if every table named is filtered out. */
    if (rc == SL_ENOTFOUND)
        rc = SL_EUNSUPPORTED;
    if (rc == SL_ENOMEM)
        sl__schema_errf(err, errlen, rc, "out of memory");
    sl_ddl_stmt_free(&st);
    return rc;
}
