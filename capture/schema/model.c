/*
 * The schema history's model (see schema.h and docs/schema-history.md):
 * tables kept sorted by (db, name) for binary search, database charsets,
 * the server description, and the helpers the other files of the history
 * share (internal.h).
 */
#include "internal.h"

#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- Small helpers ------------------------------------------------------ */

static int name_cmp(const char *a, size_t alen, const char *b) {
    size_t blen = strlen(b);
    size_t n = alen < blen ? alen : blen;
    int c = memcmp(a, b, n);
    if (c != 0)
        return c;
    return alen < blen ? -1 : alen > blen ? 1 : 0;
}

char *sl__schema_dup_or_null(const char *s, int *oom) {
    if (s == NULL)
        return NULL;
    char *d = strdup(s);
    if (d == NULL)
        *oom = 1;
    return d;
}

void sl__schema_col_free(sl_schema_col_t *c) {
    free(c->name);
    free(c->data_type);
    free(c->column_type);
    free(c->charset);
    for (size_t i = 0; i < c->nvalues; i++)
        free(c->values[i]);
    free(c->values);
    memset(c, 0, sizeof *c);
}

void sl__schema_table_free(sl_schema_table_t *t) {
    if (t == NULL)
        return;
    free(t->db);
    free(t->name);
    for (size_t i = 0; i < t->ncols; i++)
        sl__schema_col_free(&t->cols[i]);
    free(t->cols);
    free(t->charset);
    free(t->engine);
    for (size_t i = 0; i < t->nkeys; i++)
        sl__schema_key_free(&t->keys[i]);
    free(t->keys);
    free(t);
}

int sl__schema_col_copy(sl_schema_col_t *d, const sl_schema_col_t *c) {
    int oom = 0;
    memset(d, 0, sizeof *d);
    d->name = sl__schema_dup_or_null(c->name, &oom);
    d->data_type = sl__schema_dup_or_null(c->data_type, &oom);
    d->column_type = sl__schema_dup_or_null(c->column_type, &oom);
    d->charset = sl__schema_dup_or_null(c->charset, &oom);
    d->is_unsigned = c->is_unsigned;
    d->nullable = c->nullable;
    d->hidden = c->hidden;
    d->in_period = c->in_period;
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
                d->values[i] = sl__schema_dup_or_null(c->values[i], &oom);
        }
    }
    if (oom) {
        sl__schema_col_free(d);
        return SL_ENOMEM;
    }
    return 0;
}

sl_schema_table_t *sl__schema_table_copy(const sl_schema_table_t *t) {
    sl_schema_table_t *d = calloc(1, sizeof *d);
    if (d == NULL)
        return NULL;
    int oom = 0;
    d->db = sl__schema_dup_or_null(t->db, &oom);
    d->name = sl__schema_dup_or_null(t->name, &oom);
    d->charset = sl__schema_dup_or_null(t->charset, &oom);
    d->engine = sl__schema_dup_or_null(t->engine, &oom);
    d->hash_maybe = t->hash_maybe;
    if (!oom && t->nkeys) {
        d->keys = calloc(t->nkeys, sizeof *d->keys);
        if (d->keys == NULL)
            oom = 1;
        for (size_t i = 0; !oom && i < t->nkeys; i++) {
            if (sl__schema_key_copy(&d->keys[i], &t->keys[i]) != 0)
                oom = 1;
            else
                d->nkeys = i + 1;
        }
    }
    if (!oom && t->ncols) {
        d->cols = calloc(t->ncols, sizeof *d->cols);
        if (d->cols == NULL)
            oom = 1;
        for (size_t i = 0; !oom && i < t->ncols; i++) {
            if (sl__schema_col_copy(&d->cols[i], &t->cols[i]) != 0)
                oom = 1;
            else
                d->ncols = i + 1;
        }
    }
    if (oom) {
        sl__schema_table_free(d);
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

int sl__schema_put_owned(sl_schema_t *s, sl_schema_table_t *t) {
    int found;
    size_t pos =
        find_pos(s, t->db, strlen(t->db), t->name, strlen(t->name), &found);
    if (found) {
        sl__schema_table_free(s->tables[pos]);
        s->tables[pos] = t;
        return 0;
    }
    if (s->ntables == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        sl_schema_table_t **a = realloc(s->tables, cap * sizeof *a);
        if (a == NULL) {
            sl__schema_table_free(t);
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

sl_schema_table_t *sl__schema_take(sl_schema_t *s, const char *db,
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

void sl__schema_clear_content(sl_schema_t *s) {
    for (size_t i = 0; i < s->ntables; i++)
        sl__schema_table_free(s->tables[i]);
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
    sl__schema_clear_content(s);
    free(s->tables);
    free(s->server_charset);
    free(s);
}

char *sl__schema_norm_charset(const char *cs) {
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

char *sl__schema_collation_charset(const char *coll) {
    if (coll == NULL)
        return NULL;
    const char *u = strchr(coll, '_');
    size_t n = u ? (size_t)(u - coll) : strlen(coll);
    char buf[64];
    if (n >= sizeof buf)
        n = sizeof buf - 1;
    memcpy(buf, coll, n);
    buf[n] = '\0';
    return sl__schema_norm_charset(buf);
}

int sl_schema_set_server(sl_schema_t *s, int is_mariadb, unsigned long version,
                         const char *charset) {
    char *cs = NULL;
    if (charset && (cs = sl__schema_norm_charset(charset)) == NULL)
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
    char *cs = sl__schema_norm_charset(charset ? charset : server_charset(s));
    if (cs == NULL)
        return SL_ENOMEM;
    for (size_t i = 0; i < s->ndbs; i++) {
        if (strcmp(s->dbs[i].name, db) == 0) {
            free(s->dbs[i].charset);
            s->dbs[i].charset = cs;
            return 0;
        }
    }
    sl__schema_db_t *a = realloc(s->dbs, (s->ndbs + 1) * sizeof *a);
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

void sl__schema_forget_db(sl_schema_t *s, const char *db) {
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
    sl_schema_table_t *t = sl__schema_table_copy(table);
    if (t == NULL)
        return SL_ENOMEM;
    return sl__schema_put_owned(s, t);
}

int sl_schema_drop(sl_schema_t *s, const char *db, const char *table) {
    sl_schema_table_t *t = sl__schema_take(s, db, table);
    if (t == NULL)
        return SL_ENOTFOUND;
    sl__schema_table_free(t);
    return 0;
}

int sl__schema_insert_col(sl_schema_table_t *t, const sl_schema_col_t *c,
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

int sl__schema_add_hidden_versioning(sl_schema_table_t *t) {
    static const char *const names[] = {"row_start", "row_end"};
    for (size_t i = 0; i < 2; i++) {
        sl_schema_col_t c;
        memset(&c, 0, sizeof c);
        c.name = strdup(names[i]);
        c.data_type = strdup("timestamp");
        c.column_type = strdup("timestamp(6)");
        c.hidden = 1;
        if (c.name == NULL || c.data_type == NULL || c.column_type == NULL ||
            sl__schema_insert_col(t, &c, t->ncols) != 0) {
            sl__schema_col_free(&c);
            return SL_ENOMEM;
        }
    }
    return 0;
}

int sl__schema_errf(char *err, size_t errlen, int rc, const char *fmt, ...) {
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}
