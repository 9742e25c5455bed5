/*
 * The schema history (see schema.h and docs/schema-history.md).
 *
 * Persistence format: one UTF-8 JSON document, written by
 * sl_schema_to_json() with keys in exactly this order and arrays sorted so
 * that equal histories serialise to equal bytes:
 *
 *   {"format":"sluice-schema-history","version":1,
 *    "server":{"flavor":"mariadb"|"mysql"|"unknown","version":N,
 *              "charset":"utf8mb4"|null},
 *    "databases":[{"name":"shop","charset":"utf8mb4"}, ...],   (by name)
 *    "tables":[{"db":"shop","name":"orders","charset":"latin1",
 *               "columns":[{"name":"id","data_type":"int",
 *                           "column_type":"int(10) unsigned",
 *                           "unsigned":true,"charset":null,
 *                           "values":[],"nullable":false,"pk":1}, ...]},
 *              ...]}                                  (by db, then name)
 *
 * "pk" is the column's 1-based position in the PRIMARY KEY, 0 when not in
 * it. Names and values are JSON strings (sl_json_str escaping); a document
 * is valid when it parses as JSON, "format" and "version" match, and every
 * key above is present with its type. The reader ignores unknown keys, so
 * a later version may add some.
 */
#include "schema.h"

#include "error.h"
#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *name;
    char *charset;
} db_charset_t;

struct sl_schema_s {
    sl_schema_table_t **tables; /* Sorted by (db, name), byte order. */
    size_t ntables, cap;
    db_charset_t *dbs;          /* Unsorted; few entries. */
    size_t ndbs;
    char *server_charset;       /* NULL: by flavor. */
    sl_ddl_opts_t opts;
};

/* ---- Small helpers ------------------------------------------------------ */

static int name_cmp(const char *a, size_t alen, const char *b) {
    size_t blen = strlen(b);
    size_t n = alen < blen ? alen : blen;
    int c = memcmp(a, b, n);
    if (c != 0)
        return c;
    return alen < blen ? -1 : alen > blen ? 1 : 0;
}

static int col_eq(const char *a, const char *b) {
    return sl_ddl_word_eq(a, strlen(a), b);
}

static char *dup_or_null(const char *s, int *oom) {
    if (s == NULL)
        return NULL;
    char *d = strdup(s);
    if (d == NULL)
        *oom = 1;
    return d;
}

static void col_free(sl_schema_col_t *c) {
    free(c->name);
    free(c->data_type);
    free(c->column_type);
    free(c->charset);
    for (size_t i = 0; i < c->nvalues; i++)
        free(c->values[i]);
    free(c->values);
    memset(c, 0, sizeof *c);
}

static void table_free(sl_schema_table_t *t) {
    if (t == NULL)
        return;
    free(t->db);
    free(t->name);
    for (size_t i = 0; i < t->ncols; i++)
        col_free(&t->cols[i]);
    free(t->cols);
    free(t->charset);
    free(t);
}

static int col_copy(sl_schema_col_t *d, const sl_schema_col_t *c) {
    int oom = 0;
    memset(d, 0, sizeof *d);
    d->name = dup_or_null(c->name, &oom);
    d->data_type = dup_or_null(c->data_type, &oom);
    d->column_type = dup_or_null(c->column_type, &oom);
    d->charset = dup_or_null(c->charset, &oom);
    d->is_unsigned = c->is_unsigned;
    d->nullable = c->nullable;
    d->pk_seq = c->pk_seq;
    d->is_pk = c->pk_seq > 0 || c->is_pk;
    if (d->is_pk && d->pk_seq == 0)
        d->pk_seq = 1;
    if (c->nvalues) {
        d->values = calloc(c->nvalues, sizeof *d->values);
        if (d->values == NULL) {
            oom = 1;
        } else {
            d->nvalues = c->nvalues;
            for (size_t i = 0; i < c->nvalues; i++)
                d->values[i] = dup_or_null(c->values[i], &oom);
        }
    }
    if (oom) {
        col_free(d);
        return SL_ENOMEM;
    }
    return 0;
}

static sl_schema_table_t *table_copy(const sl_schema_table_t *t) {
    sl_schema_table_t *d = calloc(1, sizeof *d);
    if (d == NULL)
        return NULL;
    int oom = 0;
    d->db = dup_or_null(t->db, &oom);
    d->name = dup_or_null(t->name, &oom);
    d->charset = dup_or_null(t->charset, &oom);
    if (!oom && t->ncols) {
        d->cols = calloc(t->ncols, sizeof *d->cols);
        if (d->cols == NULL)
            oom = 1;
        for (size_t i = 0; !oom && i < t->ncols; i++) {
            if (col_copy(&d->cols[i], &t->cols[i]) != 0)
                oom = 1;
            else
                d->ncols = i + 1;
        }
    }
    if (oom) {
        table_free(d);
        return NULL;
    }
    return d;
}

/* Binary search; returns the index of db.table or where it would go. */
static size_t find_pos(const sl_schema_t *s, const char *db, size_t dblen,
                       const char *table, size_t tlen, int *found) {
    size_t lo = 0, hi = s->ntables;
    *found = 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const sl_schema_table_t *t = s->tables[mid];
        int c = name_cmp(db, dblen, t->db);
        if (c == 0)
            c = name_cmp(table, tlen, t->name);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* Takes ownership of t (freed on error). */
static int put_owned(sl_schema_t *s, sl_schema_table_t *t) {
    int found;
    size_t pos = find_pos(s, t->db, strlen(t->db), t->name, strlen(t->name),
                          &found);
    if (found) {
        table_free(s->tables[pos]);
        s->tables[pos] = t;
        return 0;
    }
    if (s->ntables == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        sl_schema_table_t **a = realloc(s->tables, cap * sizeof *a);
        if (a == NULL) {
            table_free(t);
            return SL_ENOMEM;
        }
        s->tables = a;
        s->cap = cap;
    }
    memmove(&s->tables[pos + 1], &s->tables[pos],
            (s->ntables - pos) * sizeof *s->tables);
    s->tables[pos] = t;
    s->ntables++;
    return 0;
}

/* Removes and returns db.table (caller owns it), or NULL. */
static sl_schema_table_t *take(sl_schema_t *s, const char *db,
                               const char *table) {
    int found;
    size_t pos = find_pos(s, db, strlen(db), table, strlen(table), &found);
    if (!found)
        return NULL;
    sl_schema_table_t *t = s->tables[pos];
    memmove(&s->tables[pos], &s->tables[pos + 1],
            (s->ntables - pos - 1) * sizeof *s->tables);
    s->ntables--;
    return t;
}

/* ---- Public basics ------------------------------------------------------ */

int sl_schema_new(sl_schema_t **out) {
    *out = calloc(1, sizeof **out);
    return *out ? 0 : SL_ENOMEM;
}

static void clear_content(sl_schema_t *s) {
    for (size_t i = 0; i < s->ntables; i++)
        table_free(s->tables[i]);
    s->ntables = 0;
    for (size_t i = 0; i < s->ndbs; i++) {
        free(s->dbs[i].name);
        free(s->dbs[i].charset);
    }
    free(s->dbs);
    s->dbs = NULL;
    s->ndbs = 0;
}

void sl_schema_free(sl_schema_t *s) {
    if (s == NULL)
        return;
    clear_content(s);
    free(s->tables);
    free(s->server_charset);
    free(s);
}

/* Lower-case, "utf8" spelt "utf8mb3" as MySQL 8.0.30+ and MariaDB 10.6+
 * report it (old_mode UTF8_IS_UTF8MB3, the default). */
static char *norm_charset(const char *cs) {
    if (cs == NULL)
        return NULL;
    if (strcasecmp(cs, "utf8") == 0)
        return strdup("utf8mb3");
    char *d = strdup(cs);
    for (char *p = d; p && *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p + 32);
    return d;
}

/* The charset of a collation: its name up to the first '_' ("binary" has
 * none), which holds for every MySQL and MariaDB collation. */
static char *collation_charset(const char *coll) {
    if (coll == NULL)
        return NULL;
    const char *u = strchr(coll, '_');
    size_t n = u ? (size_t)(u - coll) : strlen(coll);
    char buf[64];
    if (n >= sizeof buf)
        n = sizeof buf - 1;
    memcpy(buf, coll, n);
    buf[n] = '\0';
    return norm_charset(buf);
}

int sl_schema_set_server(sl_schema_t *s, int is_mariadb,
                         unsigned long version, const char *charset) {
    char *cs = NULL;
    if (charset && (cs = norm_charset(charset)) == NULL)
        return SL_ENOMEM;
    free(s->server_charset);
    s->server_charset = cs;
    s->opts.is_mariadb = is_mariadb;
    s->opts.version = version;
    return 0;
}

void sl_schema_set_sql_mode(sl_schema_t *s, uint64_t sql_mode) {
    s->opts.sql_mode = sql_mode;
}

static const char *server_charset(const sl_schema_t *s) {
    if (s->server_charset)
        return s->server_charset;
    return (!s->opts.is_mariadb && s->opts.version >= 80000) ? "utf8mb4"
                                                             : "latin1";
}

int sl_schema_set_db_charset(sl_schema_t *s, const char *db,
                             const char *charset) {
    char *cs = norm_charset(charset ? charset : server_charset(s));
    if (cs == NULL)
        return SL_ENOMEM;
    for (size_t i = 0; i < s->ndbs; i++) {
        if (strcmp(s->dbs[i].name, db) == 0) {
            free(s->dbs[i].charset);
            s->dbs[i].charset = cs;
            return 0;
        }
    }
    db_charset_t *a = realloc(s->dbs, (s->ndbs + 1) * sizeof *a);
    char *name = strdup(db);
    if (a == NULL || name == NULL) {
        if (a)
            s->dbs = a;
        free(cs);
        free(name);
        return SL_ENOMEM;
    }
    s->dbs = a;
    a[s->ndbs].name = name;
    a[s->ndbs].charset = cs;
    s->ndbs++;
    return 0;
}

static void forget_db(sl_schema_t *s, const char *db) {
    for (size_t i = 0; i < s->ndbs; i++) {
        if (strcmp(s->dbs[i].name, db) == 0) {
            free(s->dbs[i].name);
            free(s->dbs[i].charset);
            s->dbs[i] = s->dbs[--s->ndbs];
            return;
        }
    }
}

const char *sl_schema_db_charset(const sl_schema_t *s, const char *db) {
    for (size_t i = 0; db && i < s->ndbs; i++)
        if (strcmp(s->dbs[i].name, db) == 0)
            return s->dbs[i].charset;
    return server_charset(s);
}

const sl_schema_table_t *sl_schema_find(const sl_schema_t *s, const char *db,
                                        size_t db_len, const char *table,
                                        size_t table_len) {
    int found;
    size_t pos = find_pos(s, db, db_len, table, table_len, &found);
    return found ? s->tables[pos] : NULL;
}

size_t sl_schema_count(const sl_schema_t *s) { return s->ntables; }

const sl_schema_table_t *sl_schema_at(const sl_schema_t *s, size_t i) {
    return i < s->ntables ? s->tables[i] : NULL;
}

int sl_schema_put(sl_schema_t *s, const sl_schema_table_t *table) {
    if (table->db == NULL || table->name == NULL)
        return SL_EINVAL;
    sl_schema_table_t *t = table_copy(table);
    if (t == NULL)
        return SL_ENOMEM;
    return put_owned(s, t);
}

int sl_schema_drop(sl_schema_t *s, const char *db, const char *table) {
    sl_schema_table_t *t = take(s, db, table);
    if (t == NULL)
        return SL_ENOTFOUND;
    table_free(t);
    return 0;
}

/* ---- Column resolution -------------------------------------------------- */

/* Bytes per character at most, for the text-type sizing rules. */
static unsigned mbmaxlen(const char *cs) {
    static const struct {
        const char *name;
        unsigned n;
    } t[] = {{"utf8mb4", 4}, {"utf8mb3", 3}, {"utf16", 4}, {"utf16le", 4},
             {"utf32", 4},   {"ucs2", 2},    {"gbk", 2},   {"big5", 2},
             {"sjis", 2},    {"cp932", 2},   {"ujis", 3},  {"eucjpms", 3},
             {"gb2312", 2},  {"gb18030", 4}, {"euckr", 2}};
    for (size_t i = 0; cs && i < sizeof t / sizeof t[0]; i++)
        if (strcmp(cs, t[i].name) == 0)
            return t[i].n;
    return 1;
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

static int set_types(sl_schema_col_t *c, const char *data_type,
                     const char *column_type) {
    char *d = strdup(data_type), *t = strdup(column_type);
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

/* Builds a history column from a parsed definition, resolving its charset
 * against the table's default. */
static int resolve_col(sl_schema_col_t *c, const sl_ddl_col_t *d,
                       const char *table_cs) {
    int oom = 0;
    memset(c, 0, sizeof *c);
    c->name = dup_or_null(d->name, &oom);
    c->data_type = dup_or_null(d->data_type, &oom);
    c->column_type = dup_or_null(d->column_type, &oom);
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
            c->values[i] = dup_or_null(d->values[i], &oom);
    }
    if (oom) {
        col_free(c);
        return SL_ENOMEM;
    }
    if (d->is_binary) {
        c->charset = strdup("binary");
    } else if (d->is_text) {
        const char *explicit_cs = d->charset;
        if (explicit_cs && strcmp(explicit_cs, "default") == 0)
            explicit_cs = NULL;
        if (explicit_cs)
            c->charset = norm_charset(explicit_cs);
        else if (d->collation)
            c->charset = collation_charset(d->collation);
        else
            c->charset = norm_charset(table_cs);
    } else {
        return 0;
    }
    if (c->charset == NULL) {
        col_free(c);
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
    if (rc != 0)
        col_free(c);
    return rc;
}

/* ---- DDL application ---------------------------------------------------- */

static ssize_t col_index(const sl_schema_table_t *t, const char *name) {
    for (size_t i = 0; name && i < t->ncols; i++)
        if (col_eq(t->cols[i].name, name))
            return (ssize_t)i;
    return -1;
}

static int insert_col(sl_schema_table_t *t, const sl_schema_col_t *c,
                      size_t pos) {
    sl_schema_col_t *a = realloc(t->cols, (t->ncols + 1) * sizeof *a);
    if (a == NULL)
        return SL_ENOMEM;
    t->cols = a;
    memmove(&a[pos + 1], &a[pos], (t->ncols - pos) * sizeof *a);
    a[pos] = *c;
    t->ncols++;
    return 0;
}

/* Removes column i, closing the gap in the primary key's numbering. */
static void remove_col(sl_schema_table_t *t, size_t i) {
    int seq = t->cols[i].pk_seq;
    col_free(&t->cols[i]);
    memmove(&t->cols[i], &t->cols[i + 1], (t->ncols - i - 1) * sizeof *t->cols);
    t->ncols--;
    if (seq > 0) {
        for (size_t k = 0; k < t->ncols; k++) {
            if (t->cols[k].pk_seq > seq)
                t->cols[k].pk_seq--;
        }
    }
}

static void clear_pk(sl_schema_table_t *t) {
    for (size_t k = 0; k < t->ncols; k++) {
        t->cols[k].pk_seq = 0;
        t->cols[k].is_pk = 0;
    }
}

static int errf(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int errf(char *err, size_t errlen, int rc, const char *fmt, ...) {
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* Where an added or moved column goes. */
static int target_pos(const sl_schema_table_t *t, const sl_ddl_action_t *a,
                      size_t *pos, char *err, size_t errlen) {
    if (a->pos == SL_DDL_POS_FIRST) {
        *pos = 0;
    } else if (a->pos == SL_DDL_POS_AFTER) {
        ssize_t i = col_index(t, a->after);
        if (i < 0)
            return errf(err, errlen, SL_EUNSUPPORTED, "AFTER %s: no such "
                        "column in %s.%s", a->after ? a->after : "?", t->db,
                        t->name);
        *pos = (size_t)i + 1;
    } else {
        *pos = t->ncols;
    }
    return 0;
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

/* Column identity during one ALTER TABLE: orig[k] is the name column k had
 * before the statement (NULL for a column it added). DROP, MODIFY, CHANGE
 * and RENAME COLUMN name columns as they were before the statement (so
 * "CHANGE a b ..., CHANGE b a ..." swaps), while AFTER and key columns
 * name them as they are now. */
typedef struct {
    const char **orig;
} alter_ids_t;

static ssize_t old_col_index(const sl_schema_table_t *t,
                             const alter_ids_t *ids, const char *name) {
    for (size_t k = 0; name && k < t->ncols; k++)
        if (ids->orig[k] && col_eq(ids->orig[k], name))
            return (ssize_t)k;
    /* Not an original column: the server would have refused a reference
     * to a column added by the same statement, but be lenient. */
    ssize_t i = col_index(t, name);
    return (i >= 0 && ids->orig[i] == NULL) ? i : -1;
}

static void ids_insert(alter_ids_t *ids, size_t n, size_t pos,
                       const char *name) {
    memmove(&ids->orig[pos + 1], &ids->orig[pos],
            (n - pos) * sizeof *ids->orig);
    ids->orig[pos] = name;
}

static void ids_remove(alter_ids_t *ids, size_t n, size_t pos) {
    memmove(&ids->orig[pos], &ids->orig[pos + 1],
            (n - pos - 1) * sizeof *ids->orig);
}

static int apply_action(sl_schema_t *s, sl_schema_table_t *t,
                        alter_ids_t *ids, const sl_ddl_action_t *a,
                        char *err, size_t errlen) {
    sl_schema_col_t c;
    size_t pos;
    ssize_t i;
    int rc;
    switch (a->kind) {
    case SL_DDL_ACT_ADD_COLUMN:
        if (a->col.name == NULL)
            return 0;
        if (col_index(t, a->col.name) >= 0) {
            if (a->if_exists)
                return 0;
            return errf(err, errlen, SL_EUNSUPPORTED, "ADD COLUMN %s: %s.%s "
                        "already has it in the history", a->col.name, t->db,
                        t->name);
        }
        if ((rc = target_pos(t, a, &pos, err, errlen)) != 0)
            return rc;
        if (resolve_col(&c, &a->col, t->charset) != 0)
            return SL_ENOMEM;
        if (c.pk_seq)
            clear_pk(t);
        if (insert_col(t, &c, pos) != 0) {
            col_free(&c);
            return SL_ENOMEM;
        }
        ids_insert(ids, t->ncols - 1, pos, NULL);
        return 0;
    case SL_DDL_ACT_DROP_COLUMN:
        i = old_col_index(t, ids, a->name);
        if (i < 0)
            return a->if_exists ? 0
                                : errf(err, errlen, SL_EUNSUPPORTED,
                                       "DROP COLUMN %s: not in %s.%s",
                                       a->name ? a->name : "?", t->db,
                                       t->name);
        remove_col(t, (size_t)i);
        ids_remove(ids, t->ncols + 1, (size_t)i);
        return 0;
    case SL_DDL_ACT_MODIFY_COLUMN: {
        i = old_col_index(t, ids, a->name);
        if (i < 0)
            return a->if_exists ? 0
                                : errf(err, errlen, SL_EUNSUPPORTED,
                                       "MODIFY/CHANGE %s: not in %s.%s",
                                       a->name ? a->name : "?", t->db,
                                       t->name);
        /* No clash check on the new name: "CHANGE a b, CHANGE b a" is a
         * valid swap, and the server has already validated the result. */
        if (resolve_col(&c, &a->col, t->charset) != 0)
            return SL_ENOMEM;
        int seq = t->cols[i].pk_seq;
        if (c.pk_seq) {
            clear_pk(t);
            seq = 1;
        }
        c.pk_seq = seq;
        c.is_pk = seq > 0;
        if (seq)
            c.nullable = 0;
        t->cols[i].pk_seq = 0; /* Keep the numbering while it moves. */
        col_free(&t->cols[i]);
        memmove(&t->cols[i], &t->cols[i + 1],
                (t->ncols - (size_t)i - 1) * sizeof *t->cols);
        t->ncols--;
        const char *id = ids->orig[i];
        ids_remove(ids, t->ncols + 1, (size_t)i);
        if (a->pos == SL_DDL_POS_LAST) {
            pos = (size_t)i;
        } else if ((rc = target_pos(t, a, &pos, err, errlen)) != 0) {
            col_free(&c);
            return rc;
        }
        if (insert_col(t, &c, pos) != 0) {
            col_free(&c);
            return SL_ENOMEM;
        }
        ids_insert(ids, t->ncols - 1, pos, id);
        return 0;
    }
    case SL_DDL_ACT_RENAME_COLUMN: {
        i = old_col_index(t, ids, a->name);
        if (i < 0)
            return a->if_exists ? 0
                                : errf(err, errlen, SL_EUNSUPPORTED,
                                       "RENAME COLUMN %s: not in %s.%s",
                                       a->name ? a->name : "?", t->db,
                                       t->name);
        char *n = strdup(a->name2 ? a->name2 : "");
        if (n == NULL)
            return SL_ENOMEM;
        free(t->cols[i].name);
        t->cols[i].name = n;
        return 0;
    }
    case SL_DDL_ACT_ADD_PK:
        clear_pk(t);
        for (size_t k = 0; k < a->nnames; k++) {
            i = col_index(t, a->names[k]);
            if (i < 0)
                return errf(err, errlen, SL_EUNSUPPORTED, "PRIMARY KEY "
                            "column %s: not in %s.%s", a->names[k], t->db,
                            t->name);
            t->cols[i].pk_seq = (int)k + 1;
            t->cols[i].is_pk = 1;
            t->cols[i].nullable = 0;
        }
        return 0;
    case SL_DDL_ACT_DROP_PK:
        clear_pk(t);
        return 0;
    case SL_DDL_ACT_TABLE_CHARSET:
    case SL_DDL_ACT_CONVERT_CHARSET: {
        char *cs = NULL;
        if (a->charset && strcmp(a->charset, "default") != 0)
            cs = norm_charset(a->charset);
        else if (a->collation)
            cs = collation_charset(a->collation);
        else
            cs = strdup(sl_schema_db_charset(s, t->db));
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
    case SL_DDL_ACT_RENAME_TABLE:
        return 0; /* Done by the caller, after every other action. */
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
    sl_ddl_effect_table_t *a = realloc(e->tables,
                                       (e->ntables + 1) * sizeof *a);
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

static int build_table(sl_schema_t *s, const sl_ddl_stmt_t *st,
                       const char *db, sl_schema_table_t **out, char *err,
                       size_t errlen) {
    sl_schema_table_t *t = calloc(1, sizeof *t);
    if (t == NULL)
        return SL_ENOMEM;
    t->db = strdup(db);
    t->name = strdup(st->tables[0].table);
    if (st->charset && strcmp(st->charset, "default") != 0)
        t->charset = norm_charset(st->charset);
    else if (st->collation)
        t->charset = collation_charset(st->collation);
    else
        t->charset = strdup(sl_schema_db_charset(s, db));
    if (t->db == NULL || t->name == NULL || t->charset == NULL) {
        table_free(t);
        return SL_ENOMEM;
    }
    if (st->ncols) {
        t->cols = calloc(st->ncols, sizeof *t->cols);
        if (t->cols == NULL) {
            table_free(t);
            return SL_ENOMEM;
        }
    }
    for (size_t i = 0; i < st->ncols; i++) {
        if (resolve_col(&t->cols[i], &st->cols[i], t->charset) != 0) {
            table_free(t);
            return SL_ENOMEM;
        }
        t->ncols = i + 1;
    }
    if (st->has_pk) {
        clear_pk(t);
        for (size_t k = 0; k < st->npk; k++) {
            ssize_t i = col_index(t, st->pk[k]);
            if (i < 0) {
                int rc = errf(err, errlen, SL_EUNSUPPORTED, "PRIMARY KEY "
                              "column %s: not in %s.%s", st->pk[k], db,
                              t->name);
                table_free(t);
                return rc;
            }
            t->cols[i].pk_seq = (int)k + 1;
            t->cols[i].is_pk = 1;
            t->cols[i].nullable = 0;
        }
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

static int apply_alter(sl_schema_t *s, const sl_ddl_stmt_t *st,
                       const char *default_db, char *err, size_t errlen) {
    const char *db = name_db(&st->tables[0], default_db);
    const char *name = st->tables[0].table;
    const sl_schema_table_t *cur = sl_schema_find(s, db, strlen(db), name,
                                                  strlen(name));
    int has_change = 0;
    for (size_t k = 0; k < st->nacts; k++)
        has_change = 1;
    if (cur == NULL) {
        if (!has_change && st->kind != SL_DDL_ALTER_TABLE)
            return 0; /* DROP INDEX on a table we do not follow. */
        /* A rename of an unknown table leaves its new name unknown too. */
        for (size_t k = 0; k < st->nacts; k++) {
            const sl_ddl_action_t *a = &st->acts[k];
            if (a->kind == SL_DDL_ACT_RENAME_TABLE)
                sl_schema_drop(s, a->db ? a->db : db, a->table);
        }
        if (!has_change)
            return 0;
        return errf(err, errlen, SL_ENOTFOUND, "ALTER TABLE %s.%s: the "
                    "table is not in the schema history", db, name);
    }
    if (!has_change)
        return 0;
    sl_schema_table_t *t = table_copy(cur);
    if (t == NULL)
        return SL_ENOMEM;
    alter_ids_t ids;
    ids.orig = calloc(cur->ncols + st->nacts + 1, sizeof *ids.orig);
    if (ids.orig == NULL) {
        table_free(t);
        return SL_ENOMEM;
    }
    for (size_t k = 0; k < cur->ncols; k++)
        ids.orig[k] = cur->cols[k].name; /* cur is unchanged until the end. */
    const sl_ddl_action_t *rename = NULL;
    /* The server applies table options (DEFAULT CHARSET, CONVERT TO) to the
     * existing columns first; columns added or modified by the same
     * statement then take the new default without conversion. */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t k = 0; k < st->nacts; k++) {
            const sl_ddl_action_t *a = &st->acts[k];
            int table_opt = a->kind == SL_DDL_ACT_TABLE_CHARSET ||
                            a->kind == SL_DDL_ACT_CONVERT_CHARSET;
            if (table_opt != (pass == 0))
                continue;
            int rc = apply_action(s, t, &ids, a, err, errlen);
            if (rc != 0) {
                free(ids.orig);
                table_free(t);
                return rc;
            }
            if (a->kind == SL_DDL_ACT_RENAME_TABLE)
                rename = a;
        }
    }
    free(ids.orig);
    if (rename) {
        if (set_name(t, rename->db ? rename->db : db, rename->table) != 0) {
            table_free(t);
            return SL_ENOMEM;
        }
        table_free(take(s, db, name));
    }
    return put_owned(s, t);
}

static int apply_rename(sl_schema_t *s, const sl_ddl_stmt_t *st,
                        const char *default_db, char *err, size_t errlen) {
    int rc = 0;
    for (size_t i = 0; i + 1 < st->ntables; i += 2) {
        const char *fdb = name_db(&st->tables[i], default_db);
        const char *tdb = name_db(&st->tables[i + 1], default_db);
        sl_schema_table_t *t = take(s, fdb, st->tables[i].table);
        if (t == NULL) {
            /* Unknown before, unknown after: forget any stale entry. */
            sl_schema_drop(s, tdb, st->tables[i + 1].table);
            if (rc == 0)
                rc = errf(err, errlen, SL_ENOTFOUND, "RENAME TABLE %s.%s: "
                          "the table is not in the schema history", fdb,
                          st->tables[i].table);
            continue;
        }
        if (set_name(t, tdb, st->tables[i + 1].table) != 0) {
            table_free(t);
            return SL_ENOMEM;
        }
        if (put_owned(s, t) != 0)
            return SL_ENOMEM;
    }
    return rc;
}

int sl_schema_apply_ddl(sl_schema_t *s, const char *default_db,
                        const char *sql, size_t len, sl_ddl_effect_t *effect,
                        char *err, size_t errlen) {
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
            return errf(err, errlen, SL_ENOMEM, "out of memory");
        }
    }
    if (rc == 0 && st.temporary) {
        sl_ddl_stmt_free(&st);
        return 0; /* Temporary tables' rows are not in a ROW binlog. */
    }
    if (rc == 0) {
        for (size_t i = 0; i < st.ntables; i++) {
            if (st.tables[i].db == NULL && default_db == NULL) {
                rc = errf(err, errlen, SL_EUNSUPPORTED, "table %s without a "
                          "database and no default database",
                          st.tables[i].table);
                break;
            }
        }
    }
    if (rc == 0) {
        const char *db0 = st.ntables ? name_db(&st.tables[0], default_db)
                                     : NULL;
        switch (st.kind) {
        case SL_DDL_NONE:
        case SL_DDL_TRUNCATE_TABLE:
        case SL_DDL_CREATE_INDEX:
        case SL_DDL_OTHER_TABLE:
            break;
        case SL_DDL_CREATE_TABLE: {
            const sl_schema_table_t *old = sl_schema_find(
                s, db0, strlen(db0), st.tables[0].table,
                strlen(st.tables[0].table));
            if (old && st.if_not_exists && !st.or_replace)
                break; /* Logged although it did nothing. */
            sl_schema_table_t *t = NULL;
            rc = build_table(s, &st, db0, &t, err, errlen);
            if (rc == 0)
                rc = put_owned(s, t);
            break;
        }
        case SL_DDL_CREATE_TABLE_LIKE: {
            const char *sdb = name_db(&st.tables[1], default_db);
            const sl_schema_table_t *old = sl_schema_find(
                s, db0, strlen(db0), st.tables[0].table,
                strlen(st.tables[0].table));
            if (old && st.if_not_exists && !st.or_replace)
                break;
            const sl_schema_table_t *src = sl_schema_find(
                s, sdb, strlen(sdb), st.tables[1].table,
                strlen(st.tables[1].table));
            if (src == NULL) {
                rc = errf(err, errlen, SL_ENOTFOUND, "CREATE TABLE %s.%s "
                          "LIKE %s.%s: the source is not in the schema "
                          "history", db0, st.tables[0].table, sdb,
                          st.tables[1].table);
                break;
            }
            sl_schema_table_t *t = table_copy(src);
            if (t == NULL || set_name(t, db0, st.tables[0].table) != 0) {
                table_free(t);
                rc = SL_ENOMEM;
                break;
            }
            rc = put_owned(s, t);
            break;
        }
        case SL_DDL_ALTER_TABLE:
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
            if (st.kind == SL_DDL_CREATE_DATABASE && st.if_not_exists) {
                int known = 0;
                for (size_t i = 0; i < s->ndbs; i++)
                    known |= strcmp(s->dbs[i].name, db) == 0;
                if (known)
                    break;
            }
            char *cs = NULL;
            if (st.charset && strcmp(st.charset, "default") != 0)
                cs = norm_charset(st.charset);
            else if (st.collation)
                cs = collation_charset(st.collation);
            if (cs == NULL && st.kind == SL_DDL_ALTER_DATABASE)
                break; /* No charset change. */
            rc = sl_schema_set_db_charset(s, db, cs);
            free(cs);
            break;
        }
        case SL_DDL_DROP_DATABASE: {
            const char *db = st.database;
            if (db == NULL)
                break;
            for (size_t i = s->ntables; i-- > 0;) {
                if (strcmp(s->tables[i]->db, db) != 0)
                    continue;
                if (effect_add(effect, db, s->tables[i]->name) != 0) {
                    rc = SL_ENOMEM;
                    break;
                }
                table_free(take(s, db, s->tables[i]->name));
            }
            forget_db(s, db);
            break;
        }
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
        errf(err, errlen, rc, "out of memory");
    sl_ddl_stmt_free(&st);
    return rc;
}

/* ---- Loading from a live server ----------------------------------------- */

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

static int query_rows(MYSQL *mysql, const char *sql, MYSQL_RES **res,
                      char *err, size_t errlen) {
    if (mysql_query(mysql, sql) != 0 ||
        (*res = mysql_store_result(mysql)) == NULL)
        return errf(err, errlen, SL_EDB, "schema query failed: %s",
                    mysql_error(mysql));
    return 0;
}

int sl_schema_load_live(sl_schema_t *s, MYSQL *mysql,
                        int (*want)(void *ctx, const char *db,
                                    const char *table),
                        void *ctx, char *err, size_t errlen) {
    MYSQL_RES *res = NULL;
    MYSQL_ROW row;
    int rc = query_rows(mysql, "SELECT VERSION(), @@character_set_server",
                        &res, err, errlen);
    if (rc != 0)
        return rc;
    row = mysql_fetch_row(res);
    if (row && row[0]) {
        rc = sl_schema_set_server(s, strstr(row[0], "MariaDB") != NULL,
                                  mysql_get_server_version(mysql), row[1]);
    }
    mysql_free_result(res);
    if (rc != 0)
        return errf(err, errlen, rc, "out of memory");
    rc = query_rows(mysql, "SELECT SCHEMA_NAME, DEFAULT_CHARACTER_SET_NAME "
                    "FROM information_schema.SCHEMATA", &res, err, errlen);
    if (rc != 0)
        return rc;
    while (rc == 0 && (row = mysql_fetch_row(res)) != NULL)
        if (row[0] && row[1])
            rc = sl_schema_set_db_charset(s, row[0], row[1]);
    mysql_free_result(res);
    if (rc != 0)
        return errf(err, errlen, rc, "out of memory");
    rc = query_rows(
        mysql,
        "SELECT c.TABLE_SCHEMA, c.TABLE_NAME, c.COLUMN_NAME, c.DATA_TYPE, "
        "c.COLUMN_TYPE, c.CHARACTER_SET_NAME, c.IS_NULLABLE, k.SEQ_IN_INDEX, "
        "t.TABLE_COLLATION "
        "FROM information_schema.COLUMNS c "
        "JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = c.TABLE_SCHEMA "
        "AND t.TABLE_NAME = c.TABLE_NAME "
        "LEFT JOIN information_schema.STATISTICS k ON k.TABLE_SCHEMA = "
        "c.TABLE_SCHEMA AND k.TABLE_NAME = c.TABLE_NAME AND k.COLUMN_NAME = "
        "c.COLUMN_NAME AND k.INDEX_NAME = 'PRIMARY' "
        "WHERE t.TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED') "
        "AND c.TABLE_SCHEMA NOT IN ('mysql', 'information_schema', "
        "'performance_schema', 'sys') "
        "ORDER BY BINARY c.TABLE_SCHEMA, BINARY c.TABLE_NAME, "
        "c.ORDINAL_POSITION",
        &res, err, errlen);
    if (rc != 0)
        return rc;
    sl_schema_table_t *t = NULL;
    int skip = 0;
    while (rc == 0 && (row = mysql_fetch_row(res)) != NULL) {
        if (!row[0] || !row[1] || !row[2] || !row[3] || !row[4])
            continue;
        if (t == NULL || strcmp(t->db, row[0]) != 0 ||
            strcmp(t->name, row[1]) != 0) {
            if (t && !skip) {
                rc = put_owned(s, t);
                t = NULL;
                if (rc != 0)
                    break;
            }
            table_free(t);
            t = calloc(1, sizeof *t);
            if (t == NULL) {
                rc = SL_ENOMEM;
                break;
            }
            t->db = strdup(row[0]);
            t->name = strdup(row[1]);
            t->charset = row[8] ? collation_charset(row[8])
                                : strdup(sl_schema_db_charset(s, row[0]));
            if (!t->db || !t->name || !t->charset) {
                rc = SL_ENOMEM;
                break;
            }
            skip = want && !want(ctx, row[0], row[1]);
        }
        if (skip)
            continue;
        sl_schema_col_t c;
        memset(&c, 0, sizeof c);
        int oom = 0;
        c.name = dup_or_null(row[2], &oom);
        c.data_type = norm_charset(row[3]); /* Lower-cases it. */
        c.column_type = dup_or_null(row[4], &oom);
        if (c.data_type == NULL)
            oom = 1;
        if (!oom) {
            if (row[5])
                c.charset = norm_charset(row[5]);
            else if (is_binary_type(c.data_type))
                c.charset = strdup("binary");
            if ((row[5] || is_binary_type(c.data_type)) && c.charset == NULL)
                oom = 1;
        }
        if (!oom) {
            c.is_unsigned = strstr(c.column_type, " unsigned") != NULL;
            c.nullable = row[6] && strcmp(row[6], "YES") == 0;
            c.pk_seq = row[7] ? atoi(row[7]) : 0;
            c.is_pk = c.pk_seq > 0;
            if ((strcmp(c.data_type, "enum") == 0 ||
                 strcmp(c.data_type, "set") == 0) &&
                values_from_column_type(&c) != 0)
                oom = 1;
        }
        if (oom || insert_col(t, &c, t->ncols) != 0) {
            col_free(&c);
            rc = SL_ENOMEM;
        }
    }
    if (rc == 0 && t && !skip) {
        rc = put_owned(s, t);
        t = NULL;
    }
    table_free(t);
    mysql_free_result(res);
    if (rc != 0)
        return errf(err, errlen, rc, "out of memory");
    return 0;
}

/* ---- JSON --------------------------------------------------------------- */

static void json_str_or_null(sl_json_t *j, const char *s) {
    if (s)
        sl_json_str(j, s);
    else
        sl_json_null(j);
}

int sl_schema_to_json(const sl_schema_t *s, sl_buf_t *out) {
    sl_json_t j;
    sl_json_init(&j, out);
    sl_json_obj_begin(&j);
    sl_json_key(&j, "format");
    sl_json_str(&j, "sluice-schema-history");
    sl_json_key(&j, "version");
    sl_json_int(&j, 1);
    sl_json_key(&j, "server");
    sl_json_obj_begin(&j);
    sl_json_key(&j, "flavor");
    sl_json_str(&j, s->opts.is_mariadb ? "mariadb"
                    : s->opts.version   ? "mysql"
                                        : "unknown");
    sl_json_key(&j, "version");
    sl_json_uint(&j, s->opts.version);
    sl_json_key(&j, "charset");
    json_str_or_null(&j, s->server_charset);
    sl_json_obj_end(&j);
    sl_json_key(&j, "databases");
    sl_json_arr_begin(&j);
    /* Sorted by name without changing the history: a selection pass. */
    const char *last = NULL;
    for (size_t n = 0; n < s->ndbs; n++) {
        const db_charset_t *best = NULL;
        for (size_t i = 0; i < s->ndbs; i++) {
            const db_charset_t *d = &s->dbs[i];
            if (last && strcmp(d->name, last) <= 0)
                continue;
            if (best == NULL || strcmp(d->name, best->name) < 0)
                best = d;
        }
        if (best == NULL)
            break;
        sl_json_obj_begin(&j);
        sl_json_key(&j, "name");
        sl_json_str(&j, best->name);
        sl_json_key(&j, "charset");
        sl_json_str(&j, best->charset);
        sl_json_obj_end(&j);
        last = best->name;
    }
    sl_json_arr_end(&j);
    sl_json_key(&j, "tables");
    sl_json_arr_begin(&j);
    for (size_t i = 0; i < s->ntables; i++) {
        const sl_schema_table_t *t = s->tables[i];
        sl_json_obj_begin(&j);
        sl_json_key(&j, "db");
        sl_json_str(&j, t->db);
        sl_json_key(&j, "name");
        sl_json_str(&j, t->name);
        sl_json_key(&j, "charset");
        json_str_or_null(&j, t->charset);
        sl_json_key(&j, "columns");
        sl_json_arr_begin(&j);
        for (size_t k = 0; k < t->ncols; k++) {
            const sl_schema_col_t *c = &t->cols[k];
            sl_json_obj_begin(&j);
            sl_json_key(&j, "name");
            sl_json_str(&j, c->name);
            sl_json_key(&j, "data_type");
            sl_json_str(&j, c->data_type);
            sl_json_key(&j, "column_type");
            sl_json_str(&j, c->column_type);
            sl_json_key(&j, "unsigned");
            sl_json_bool(&j, c->is_unsigned);
            sl_json_key(&j, "charset");
            json_str_or_null(&j, c->charset);
            sl_json_key(&j, "values");
            sl_json_arr_begin(&j);
            for (size_t v = 0; v < c->nvalues; v++)
                sl_json_str(&j, c->values[v]);
            sl_json_arr_end(&j);
            sl_json_key(&j, "nullable");
            sl_json_bool(&j, c->nullable);
            sl_json_key(&j, "pk");
            sl_json_int(&j, c->pk_seq ? c->pk_seq : (c->is_pk ? 1 : 0));
            sl_json_obj_end(&j);
        }
        sl_json_arr_end(&j);
        sl_json_obj_end(&j);
    }
    sl_json_arr_end(&j);
    sl_json_obj_end(&j);
    return sl_json_error(&j);
}

/* A minimal JSON reader for exactly the document above: a tree of nodes
 * built in one pass, depth-limited, every read bounds-checked. */
typedef enum { JN_NULL, JN_BOOL, JN_NUM, JN_STR, JN_ARR, JN_OBJ } jn_type_t;

typedef struct jnode_s {
    jn_type_t type;
    char *str;              /* JN_STR value; key of an object member. */
    char *key;
    long long num;
    int boolean;
    struct jnode_s *kids;   /* Array elements or object members. */
    size_t nkids;
} jnode_t;

typedef struct {
    const char *p, *end, *start;
    char *err;
    size_t errlen;
    int rc;
} jreader_t;

static void jnode_free(jnode_t *n) {
    free(n->str);
    free(n->key);
    for (size_t i = 0; i < n->nkids; i++)
        jnode_free(&n->kids[i]);
    free(n->kids);
}

static int jfail(jreader_t *r, const char *what) {
    if (r->rc == 0) {
        r->rc = SL_ECORRUPT;
        errf(r->err, r->errlen, SL_ECORRUPT, "schema history JSON: %s at "
             "offset %zu", what, (size_t)(r->p - r->start));
    }
    return r->rc;
}

static void jws(jreader_t *r) {
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\n' ||
                             *r->p == '\t' || *r->p == '\r'))
        r->p++;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static void put_utf8(sl_buf_t *b, unsigned cp, int *rc) {
    if (cp < 0x80) {
        *rc |= sl_buf_append_u8(b, (uint8_t)cp);
    } else if (cp < 0x800) {
        *rc |= sl_buf_append_u8(b, (uint8_t)(0xC0 | (cp >> 6)));
        *rc |= sl_buf_append_u8(b, (uint8_t)(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        *rc |= sl_buf_append_u8(b, (uint8_t)(0xE0 | (cp >> 12)));
        *rc |= sl_buf_append_u8(b, (uint8_t)(0x80 | ((cp >> 6) & 0x3F)));
        *rc |= sl_buf_append_u8(b, (uint8_t)(0x80 | (cp & 0x3F)));
    } else {
        *rc |= sl_buf_append_u8(b, (uint8_t)(0xF0 | (cp >> 18)));
        *rc |= sl_buf_append_u8(b, (uint8_t)(0x80 | ((cp >> 12) & 0x3F)));
        *rc |= sl_buf_append_u8(b, (uint8_t)(0x80 | ((cp >> 6) & 0x3F)));
        *rc |= sl_buf_append_u8(b, (uint8_t)(0x80 | (cp & 0x3F)));
    }
}

static char *jstring(jreader_t *r) {
    if (r->p >= r->end || *r->p != '"') {
        jfail(r, "expected a string");
        return NULL;
    }
    r->p++;
    sl_buf_t b = SL_BUF_INIT;
    int rc = 0;
    while (r->p < r->end && *r->p != '"') {
        char c = *r->p++;
        if ((unsigned char)c < 0x20) {
            sl_buf_free(&b);
            jfail(r, "control character in a string");
            return NULL;
        }
        if (c != '\\') {
            rc |= sl_buf_append_u8(&b, (uint8_t)c);
            continue;
        }
        if (r->p >= r->end)
            break;
        char e = *r->p++;
        switch (e) {
        case '"':
        case '\\':
        case '/':
            rc |= sl_buf_append_u8(&b, (uint8_t)e);
            break;
        case 'b': rc |= sl_buf_append_u8(&b, '\b'); break;
        case 'f': rc |= sl_buf_append_u8(&b, '\f'); break;
        case 'n': rc |= sl_buf_append_u8(&b, '\n'); break;
        case 'r': rc |= sl_buf_append_u8(&b, '\r'); break;
        case 't': rc |= sl_buf_append_u8(&b, '\t'); break;
        case 'u': {
            unsigned cp = 0;
            for (int i = 0; i < 4; i++) {
                int h = r->p < r->end ? hexval(*r->p) : -1;
                if (h < 0) {
                    sl_buf_free(&b);
                    jfail(r, "bad \\u escape");
                    return NULL;
                }
                cp = cp * 16 + (unsigned)h;
                r->p++;
            }
            if (cp >= 0xD800 && cp < 0xDC00 && r->end - r->p >= 6 &&
                r->p[0] == '\\' && r->p[1] == 'u') {
                unsigned lo = 0;
                int ok = 1;
                for (int i = 0; i < 4; i++) {
                    int h = hexval(r->p[2 + i]);
                    if (h < 0)
                        ok = 0;
                    lo = lo * 16 + (unsigned)(h < 0 ? 0 : h);
                }
                if (ok && lo >= 0xDC00 && lo < 0xE000) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    r->p += 6;
                }
            }
            put_utf8(&b, cp, &rc);
            break;
        }
        default:
            sl_buf_free(&b);
            jfail(r, "bad escape");
            return NULL;
        }
    }
    if (r->p >= r->end) {
        sl_buf_free(&b);
        jfail(r, "unterminated string");
        return NULL;
    }
    r->p++;
    const char *cs;
    if (rc != 0 || sl_buf_cstr(&b, &cs) != 0) {
        sl_buf_free(&b);
        r->rc = SL_ENOMEM;
        return NULL;
    }
    if (memchr(b.data, '\0', b.len)) {
        sl_buf_free(&b);
        jfail(r, "NUL in a string");
        return NULL;
    }
    return (char *)sl_buf_detach(&b, NULL);
}

static int jvalue(jreader_t *r, jnode_t *n, int depth) {
    memset(n, 0, sizeof *n);
    if (depth > 16)
        return jfail(r, "nested too deeply");
    jws(r);
    if (r->p >= r->end)
        return jfail(r, "unexpected end");
    char c = *r->p;
    if (c == '{' || c == '[') {
        n->type = c == '{' ? JN_OBJ : JN_ARR;
        r->p++;
        jws(r);
        if (r->p < r->end && *r->p == (c == '{' ? '}' : ']')) {
            r->p++;
            return 0;
        }
        for (;;) {
            jnode_t kid;
            char *key = NULL;
            jws(r);
            if (n->type == JN_OBJ) {
                key = jstring(r);
                if (key == NULL)
                    return r->rc ? r->rc : jfail(r, "bad key");
                jws(r);
                if (r->p >= r->end || *r->p != ':') {
                    free(key);
                    return jfail(r, "expected ':'");
                }
                r->p++;
            }
            if (jvalue(r, &kid, depth + 1) != 0) {
                free(key);
                jnode_free(&kid);
                return r->rc;
            }
            kid.key = key;
            jnode_t *a = realloc(n->kids, (n->nkids + 1) * sizeof *a);
            if (a == NULL) {
                jnode_free(&kid);
                return r->rc = SL_ENOMEM;
            }
            n->kids = a;
            a[n->nkids++] = kid;
            jws(r);
            if (r->p < r->end && *r->p == ',') {
                r->p++;
                continue;
            }
            if (r->p < r->end && *r->p == (c == '{' ? '}' : ']')) {
                r->p++;
                return 0;
            }
            return jfail(r, "expected ',' or a closing bracket");
        }
    }
    if (c == '"') {
        n->type = JN_STR;
        n->str = jstring(r);
        return n->str ? 0 : (r->rc ? r->rc : jfail(r, "bad string"));
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        n->type = JN_NUM;
        int neg = c == '-';
        if (neg)
            r->p++;
        int digits = 0;
        while (r->p < r->end && *r->p >= '0' && *r->p <= '9') {
            if (n->num > 100000000000000LL)
                return jfail(r, "number out of range");
            n->num = n->num * 10 + (*r->p - '0');
            r->p++;
            digits++;
        }
        if (!digits)
            return jfail(r, "bad number");
        if (neg)
            n->num = -n->num;
        return 0;
    }
    static const struct {
        const char *word;
        jn_type_t type;
        int v;
    } words[] = {{"true", JN_BOOL, 1}, {"false", JN_BOOL, 0},
                 {"null", JN_NULL, 0}};
    for (size_t i = 0; i < 3; i++) {
        size_t wl = strlen(words[i].word);
        if ((size_t)(r->end - r->p) >= wl &&
            memcmp(r->p, words[i].word, wl) == 0) {
            r->p += wl;
            n->type = words[i].type;
            n->boolean = words[i].v;
            return 0;
        }
    }
    return jfail(r, "unexpected character");
}

static const jnode_t *jget(const jnode_t *obj, const char *key,
                           jn_type_t type) {
    if (obj == NULL || obj->type != JN_OBJ)
        return NULL;
    for (size_t i = 0; i < obj->nkids; i++)
        if (obj->kids[i].key && strcmp(obj->kids[i].key, key) == 0)
            return obj->kids[i].type == type ? &obj->kids[i] : NULL;
    return NULL;
}

/* A string member, or NULL for JSON null; *bad is set when missing. */
static const char *jstr_or_null(const jnode_t *obj, const char *key,
                                int *bad) {
    const jnode_t *n = jget(obj, key, JN_STR);
    if (n)
        return n->str;
    if (jget(obj, key, JN_NULL))
        return NULL;
    *bad = 1;
    return NULL;
}

static int jread_table(sl_schema_t *s, const jnode_t *tn, char *err,
                       size_t errlen) {
    int bad = 0;
    sl_schema_table_t t;
    memset(&t, 0, sizeof t);
    t.db = (char *)jstr_or_null(tn, "db", &bad);
    t.name = (char *)jstr_or_null(tn, "name", &bad);
    t.charset = (char *)jstr_or_null(tn, "charset", &bad);
    const jnode_t *cols = jget(tn, "columns", JN_ARR);
    if (bad || !t.db || !t.name || cols == NULL)
        return errf(err, errlen, SL_ECORRUPT, "schema history JSON: a table "
                    "lacks db, name, charset or columns");
    t.cols = calloc(cols->nkids ? cols->nkids : 1, sizeof *t.cols);
    if (t.cols == NULL)
        return SL_ENOMEM;
    t.ncols = cols->nkids;
    int rc = 0;
    for (size_t i = 0; i < cols->nkids && rc == 0; i++) {
        const jnode_t *cn = &cols->kids[i];
        sl_schema_col_t *c = &t.cols[i];
        c->name = (char *)jstr_or_null(cn, "name", &bad);
        c->data_type = (char *)jstr_or_null(cn, "data_type", &bad);
        c->column_type = (char *)jstr_or_null(cn, "column_type", &bad);
        c->charset = (char *)jstr_or_null(cn, "charset", &bad);
        const jnode_t *u = jget(cn, "unsigned", JN_BOOL);
        const jnode_t *nl = jget(cn, "nullable", JN_BOOL);
        const jnode_t *pk = jget(cn, "pk", JN_NUM);
        const jnode_t *vals = jget(cn, "values", JN_ARR);
        if (bad || !c->name || !c->data_type || !c->column_type || !u ||
            !nl || !pk || !vals || pk->num < 0 || pk->num > 4096) {
            rc = errf(err, errlen, SL_ECORRUPT, "schema history JSON: "
                      "column %zu of %s.%s is incomplete", i, t.db, t.name);
            break;
        }
        c->is_unsigned = u->boolean;
        c->nullable = nl->boolean;
        c->pk_seq = (int)pk->num;
        c->is_pk = c->pk_seq > 0;
        if (vals->nkids) {
            c->values = calloc(vals->nkids, sizeof *c->values);
            if (c->values == NULL) {
                rc = SL_ENOMEM;
                break;
            }
            c->nvalues = vals->nkids;
            for (size_t v = 0; v < vals->nkids; v++) {
                if (vals->kids[v].type != JN_STR) {
                    rc = errf(err, errlen, SL_ECORRUPT, "schema history "
                              "JSON: a value of %s.%s.%s is not a string",
                              t.db, t.name, c->name);
                    break;
                }
                c->values[v] = vals->kids[v].str;
            }
        }
    }
    if (rc == 0 && t.charset == NULL)
        rc = errf(err, errlen, SL_ECORRUPT, "schema history JSON: table "
                  "%s.%s has no charset", t.db, t.name);
    if (rc == 0)
        rc = sl_schema_put(s, &t); /* Deep copy: the tree keeps its own. */
    for (size_t i = 0; i < t.ncols; i++)
        free(t.cols[i].values);
    free(t.cols);
    return rc;
}

int sl_schema_from_json(sl_schema_t *s, const char *json, size_t len,
                        char *err, size_t errlen) {
    jreader_t r = {json, json + len, json, err, errlen, 0};
    jnode_t root;
    if (jvalue(&r, &root, 0) != 0) {
        jnode_free(&root);
        if (r.rc == SL_ENOMEM)
            errf(err, errlen, SL_ENOMEM, "out of memory");
        return r.rc;
    }
    jws(&r);
    if (r.p != r.end) {
        jnode_free(&root);
        return jfail(&r, "text after the document");
    }
    const jnode_t *fmt = jget(&root, "format", JN_STR);
    const jnode_t *ver = jget(&root, "version", JN_NUM);
    const jnode_t *srv = jget(&root, "server", JN_OBJ);
    const jnode_t *dbs = jget(&root, "databases", JN_ARR);
    const jnode_t *tables = jget(&root, "tables", JN_ARR);
    if (!fmt || strcmp(fmt->str, "sluice-schema-history") != 0 || !ver ||
        ver->num != 1 || !srv || !dbs || !tables) {
        jnode_free(&root);
        return errf(err, errlen, SL_ECORRUPT, "schema history JSON: not a "
                    "version 1 sluice-schema-history document");
    }
    const jnode_t *flavor = jget(srv, "flavor", JN_STR);
    const jnode_t *sver = jget(srv, "version", JN_NUM);
    int bad = 0;
    const char *scs = jstr_or_null(srv, "charset", &bad);
    if (!flavor || !sver || bad || sver->num < 0) {
        jnode_free(&root);
        return errf(err, errlen, SL_ECORRUPT, "schema history JSON: bad "
                    "server object");
    }
    /* Build into a fresh history and swap, so a bad document changes
     * nothing. */
    sl_schema_t *n;
    int rc = sl_schema_new(&n);
    if (rc == 0)
        rc = sl_schema_set_server(n, strcmp(flavor->str, "mariadb") == 0,
                                  (unsigned long)sver->num, scs);
    for (size_t i = 0; rc == 0 && i < dbs->nkids; i++) {
        const jnode_t *dn = jget(&dbs->kids[i], "name", JN_STR);
        const jnode_t *dc = jget(&dbs->kids[i], "charset", JN_STR);
        if (!dn || !dc)
            rc = errf(err, errlen, SL_ECORRUPT, "schema history JSON: bad "
                      "database entry %zu", i);
        else
            rc = sl_schema_set_db_charset(n, dn->str, dc->str);
    }
    for (size_t i = 0; rc == 0 && i < tables->nkids; i++)
        rc = jread_table(n, &tables->kids[i], err, errlen);
    jnode_free(&root);
    if (rc != 0) {
        sl_schema_free(n);
        if (rc == SL_ENOMEM)
            errf(err, errlen, rc, "out of memory");
        return rc;
    }
    n->opts.sql_mode = s->opts.sql_mode;
    clear_content(s);
    free(s->tables);
    free(s->server_charset);
    *s = *n;
    free(n);
    return 0;
}
