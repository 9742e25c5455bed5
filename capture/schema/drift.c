/*
 * Comparing two schema histories table by table and column by column
 * (sl_schema_diff): the drift check compares capture's history with the
 * one read from the server's information_schema, and the live schema test
 * compares the history with the server after every statement.
 *
 * The report is plain text for people, one block per table that differs,
 * each line ending in '\n' and indented by two spaces under the table's
 * line:
 *
 *   shop.orders: the history and the server differ
 *     table charset: history latin1, server utf8mb4
 *     column 1 same:     id type=int column_type=int(11) unsigned=no
 *                        charset=- nullable=no pk=1
 *     column 2 history:  note type=varchar column_type=varchar(5) ...
 *     column 2 server:   note type=varchar column_type=varchar(10) ...
 *     hash UNIQUE key columns (DB_ROW_HASH_n): history 1 (0 of them
 *       maybe), server 2
 *     column 3 history:  (none)
 *     column 3 server:   added type=int ...
 *   shop.gone: in the history only (the server has no such table)
 *     column 1 history:  ...
 *   shop.new: on the server only (the history has no such table)
 *     column 1 server:   ...
 *
 * (a column's line is one line; broken here to fit). A column line shows
 * every field the history keeps: name, data_type, column_type, signedness,
 * charset, ENUM/SET members (values=['a','b'], only for columns that have
 * members), nullability and primary-key position (0: not in the key).
 * Names are printed as stored, with control bytes as \xHH.
 */
#include "schema.h"

#include "error.h"

#include <stdio.h>
#include <string.h>

static int str_eq(const char *a, const char *b) {
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}

static int col_eq(const sl_schema_col_t *a, const sl_schema_col_t *b) {
    if (!str_eq(a->name, b->name) || !str_eq(a->data_type, b->data_type) ||
        !str_eq(a->column_type, b->column_type) ||
        a->is_unsigned != b->is_unsigned || !str_eq(a->charset, b->charset) ||
        a->nullable != b->nullable || a->is_pk != b->is_pk ||
        a->pk_seq != b->pk_seq || a->nvalues != b->nvalues)
        return 0;
    for (size_t v = 0; v < a->nvalues; v++)
        if (!str_eq(a->values[v], b->values[v]))
            return 0;
    return 1;
}

/* information_schema does not show MariaDB's hidden row_start/row_end
 * and DB_ROW_HASH_n (sl_schema_col_t.hidden), so a comparison sees the
 * other columns only: their number, and the i-th of them (the hash
 * columns are compared by number, hash_eq). */
static size_t shown_count(const sl_schema_table_t *t) {
    size_t n = 0;
    for (size_t i = 0; t && i < t->ncols; i++)
        n += !t->cols[i].hidden;
    return n;
}

static const sl_schema_col_t *shown_col(const sl_schema_table_t *t, size_t i) {
    for (size_t k = 0; k < t->ncols; k++)
        if (!t->cols[k].hidden && i-- == 0)
            return &t->cols[k];
    return NULL;
}

/* The number of MariaDB hash-key columns (hidden DB_ROW_HASH_n). */
static size_t hash_count(const sl_schema_table_t *t) {
    size_t n = 0;
    for (size_t i = 0; t && i < t->ncols; i++)
        n += t->cols[i].hidden == SL_SCHEMA_HASH_COL;
    return n;
}

/* Whether the two agree on the hash columns: h may hold hash_maybe more
 * than l (keys whose hash only the engine decides, see hashkey.c), and
 * l the other way round. */
static int hash_eq(const sl_schema_table_t *h, const sl_schema_table_t *l) {
    size_t a = hash_count(h), b = hash_count(l);
    return (b <= a && a - b <= h->hash_maybe) ||
           (a <= b && b - a <= l->hash_maybe);
}

static int table_eq(const sl_schema_table_t *a, const sl_schema_table_t *b) {
    size_t n = shown_count(a);
    if (!str_eq(a->charset, b->charset) || n != shown_count(b) ||
        !hash_eq(a, b))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!col_eq(shown_col(a, i), shown_col(b, i)))
            return 0;
    return 1;
}

/* Appends text with control bytes (a name may hold any byte) as \xHH. */
static void put_text(sl_buf_t *out, const char *text) {
    if (text == NULL) {
        sl_buf_append_u8(out, '-');
        return;
    }
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            sl_buf_printf(out, "\\x%02X", *p);
        else
            sl_buf_append_u8(out, *p);
    }
}

static void put_table_name(sl_buf_t *out, const sl_schema_table_t *t) {
    put_text(out, t->db);
    sl_buf_append_u8(out, '.');
    put_text(out, t->name);
}

/* One column line; c NULL means the side has no such column. */
static void put_col(sl_buf_t *out, size_t i, const char *side,
                    const sl_schema_col_t *c) {
    sl_buf_printf(out, "  column %zu %s:%*s", i + 1, side,
                  (int)(9 - strlen(side)), "");
    if (c == NULL) {
        sl_buf_append_str(out, "(none)\n");
        return;
    }
    put_text(out, c->name);
    sl_buf_append_str(out, " type=");
    put_text(out, c->data_type);
    sl_buf_append_str(out, " column_type=");
    put_text(out, c->column_type);
    sl_buf_printf(out, " unsigned=%s charset=", c->is_unsigned ? "yes" : "no");
    put_text(out, c->charset);
    if (c->nvalues > 0) {
        sl_buf_append_str(out, " values=[");
        for (size_t v = 0; v < c->nvalues; v++) {
            sl_buf_append_str(out, v ? ",'" : "'");
            put_text(out, c->values[v]);
            sl_buf_append_u8(out, '\'');
        }
        sl_buf_append_u8(out, ']');
    }
    sl_buf_printf(out, " nullable=%s pk=%d\n", c->nullable ? "yes" : "no",
                  c->is_pk ? c->pk_seq : 0);
}

/* Both definitions of a table the two sides hold; h or l may be NULL for
 * a table one side lacks. */
static void put_table(sl_buf_t *out, const sl_schema_table_t *h,
                      const sl_schema_table_t *l) {
    put_table_name(out, h ? h : l);
    if (h == NULL)
        sl_buf_append_str(out, ": on the server only (the history has no "
                               "such table)\n");
    else if (l == NULL)
        sl_buf_append_str(out, ": in the history only (the server has no "
                               "such table)\n");
    else
        sl_buf_append_str(out, ": the history and the server differ\n");
    if (h != NULL && l != NULL && !str_eq(h->charset, l->charset)) {
        sl_buf_append_str(out, "  table charset: history ");
        put_text(out, h->charset);
        sl_buf_append_str(out, ", server ");
        put_text(out, l->charset);
        sl_buf_append_u8(out, '\n');
    }
    if (h != NULL && l != NULL && !hash_eq(h, l))
        sl_buf_printf(out,
                      "  hash UNIQUE key columns (DB_ROW_HASH_n): history "
                      "%zu (%zu of them maybe), server %zu\n",
                      hash_count(h), h->hash_maybe, hash_count(l));
    size_t nh = shown_count(h), nl = shown_count(l);
    for (size_t i = 0; i < nh || i < nl; i++) {
        const sl_schema_col_t *a = i < nh ? shown_col(h, i) : NULL;
        const sl_schema_col_t *b = i < nl ? shown_col(l, i) : NULL;
        if (a != NULL && b != NULL && col_eq(a, b)) {
            put_col(out, i, "same", a);
            continue;
        }
        if (h != NULL)
            put_col(out, i, "history", a);
        if (l != NULL)
            put_col(out, i, "server", b);
    }
}

/* The next table at or after *i that want selects, or NULL. */
static const sl_schema_table_t *
next_wanted(const sl_schema_t *s, size_t *i,
            int (*want)(void *ctx, const char *db, const char *table),
            void *ctx) {
    size_t n = sl_schema_count(s);
    for (; *i < n; (*i)++) {
        const sl_schema_table_t *t = sl_schema_at(s, *i);
        if (want == NULL || want(ctx, t->db, t->name))
            return t;
    }
    return NULL;
}

int sl_schema_diff(const sl_schema_t *hist, const sl_schema_t *live,
                   int (*want)(void *ctx, const char *db, const char *table),
                   void *ctx, sl_buf_t *report, sl_schema_diff_t *out) {
    memset(out, 0, sizeof *out);
    size_t ih = 0, il = 0;
    for (;;) {
        const sl_schema_table_t *th = next_wanted(hist, &ih, want, ctx);
        const sl_schema_table_t *tl = next_wanted(live, &il, want, ctx);
        if (th == NULL && tl == NULL)
            break;
        /* Both lists are in (db, name) byte order: merge them. */
        int c = th == NULL ? 1 : tl == NULL ? -1 : strcmp(th->db, tl->db);
        if (c == 0 && th != NULL && tl != NULL)
            c = strcmp(th->name, tl->name);
        if (c < 0) {
            out->only_history++;
            put_table(report, th, NULL);
            ih++;
        } else if (c > 0) {
            out->only_server++;
            put_table(report, NULL, tl);
            il++;
        } else {
            out->compared++;
            if (!table_eq(th, tl)) {
                out->differ++;
                put_table(report, th, tl);
            }
            ih++;
            il++;
        }
    }
    return sl_buf_error(report) ? SL_ENOMEM : 0;
}
