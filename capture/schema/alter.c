/*
 * The columns and primary key an ALTER TABLE leaves, resolved the way the
 * servers resolve the names inside one statement (MariaDB's and MySQL's
 * mysql_prepare_alter_table share this algorithm; every form below was
 * checked against MariaDB 10.11, tests/integration/capture_schema_live.c):
 *
 *  1. IF [NOT] EXISTS (MariaDB) is decided first, against the table as it
 *     was: ADD COLUMN IF NOT EXISTS x is dropped when x exists or an
 *     earlier ADD/CHANGE of the statement defines x; CHANGE/MODIFY/RENAME
 *     COLUMN/DROP COLUMN IF EXISTS x when the table has no x (a second
 *     DROP IF EXISTS of the same x too); ADD PRIMARY KEY IF NOT EXISTS
 *     when the table has a primary key (even one the statement drops) or
 *     the statement added one before.
 *  2. The existing columns, in order: DROP, CHANGE, MODIFY and RENAME
 *     COLUMN name them by their names BEFORE the statement. A dropped one
 *     goes; a changed one takes its new definition in place; a renamed
 *     one keeps its definition under the new name. So "CHANGE a b ...,
 *     CHANGE b a ..." swaps, "DROP b, CHANGE a b ..." replaces, and a
 *     name that only exists after the statement ("RENAME COLUMN a TO b,
 *     MODIFY b ...") is an error the server refuses.
 *  3. Then, in statement order, each ADD and each CHANGE/MODIFY with
 *     FIRST/AFTER: an ADD goes at the end, FIRST, or after the named
 *     column as the list stands at that moment (new names, and columns
 *     added by earlier specifications: "CHANGE a a INT AFTER b2, CHANGE
 *     b b2 ..." works, "ADD e AFTER f, ADD f" does not); a CHANGE with a
 *     position is taken out and put there. A MODIFY (or CHANGE x x) of a
 *     column added earlier in the same statement replaces it, at the end
 *     unless it says where.
 *  4. The old primary key follows its columns by their old names (the
 *     first column of the new list that was that column, or that an
 *     ADD re-created under the same name after a DROP), losing parts
 *     dropped; DROP PRIMARY KEY removes the old key whatever its
 *     position in the statement, so "ADD PRIMARY KEY (c), DROP PRIMARY
 *     KEY" leaves (c). A key added (ADD PRIMARY KEY, or PRIMARY KEY on a
 *     column) names the columns as they are at the end.
 *
 *  5. MariaDB's hidden row_start/row_end (a table WITH SYSTEM VERSIONING
 *     without AS ROW START/END columns of its own) cannot be named by
 *     any specification and stay last: an ADD ... FIRST/AFTER places the
 *     column among the others. ADD SYSTEM VERSIONING (or WITH SYSTEM
 *     VERSIONING) adds them, DROP SYSTEM VERSIONING removes them.
 *
 * Whatever the server would refuse (an unknown or duplicate name, two
 * primary keys, no column left) is SL_EUNSUPPORTED: such a statement is
 * not in a binlog, so meeting one means the history is wrong.
 */
#include "internal.h"

#include "error.h"

#include <stdlib.h>
#include <string.h>

static int col_eq(const char *a, const char *b) {
    return a && b && sl_ddl_word_eq(a, strlen(a), b);
}

/* One column of the table being built, as the server keeps it in its
 * new_create_list. */
typedef struct {
    sl_schema_col_t col; /* Owned. */
    /* The name the old primary key finds it by: its name before the
     * statement, or the old name a CHANGE/MODIFY gave; NULL when added. */
    const char *change;
    const sl_ddl_action_t *def; /* The ADD/CHANGE/MODIFY, NULL if kept. */
    int field;                  /* It continues an existing column. */
} newcol_t;

typedef struct {
    newcol_t *v;
    size_t n;
    const sl_schema_table_t *t; /* For messages. */
    char *err;
    size_t errlen;
} newlist_t;

static int refuse(newlist_t *l, const char *what, const char *name) {
    return sl__schema_errf(l->err, l->errlen, SL_EUNSUPPORTED,
                           "ALTER TABLE %s.%s: %s %s (the server refuses "
                           "this, so the history disagrees with it)",
                           l->t->db, l->t->name, what, name ? name : "?");
}

static int list_insert(newlist_t *l, size_t pos, const newcol_t *c) {
    newcol_t *v = realloc(l->v, (l->n + 1) * sizeof *v);
    if (v == NULL)
        return SL_ENOMEM;
    l->v = v;
    memmove(&v[pos + 1], &v[pos], (l->n - pos) * sizeof *v);
    v[pos] = *c;
    l->n++;
    return 0;
}

/* Takes entry i out of the list into *out (the caller owns its column). */
static void list_take(newlist_t *l, size_t i, newcol_t *out) {
    *out = l->v[i];
    memmove(&l->v[i], &l->v[i + 1], (l->n - i - 1) * sizeof *l->v);
    l->n--;
}

static ssize_t list_find(const newlist_t *l, const char *name) {
    for (size_t i = 0; i < l->n; i++)
        if (col_eq(l->v[i].col.name, name))
            return (ssize_t)i;
    return -1;
}

static ssize_t orig_find(const sl_schema_table_t *t, const char *name) {
    for (size_t i = 0; i < t->ncols; i++)
        if (!t->cols[i].hidden && col_eq(t->cols[i].name, name))
            return (ssize_t)i;
    return -1;
}

static int is_create(const sl_ddl_action_t *a) {
    return (a->kind == SL_DDL_ACT_ADD_COLUMN && a->col.name) ||
           a->kind == SL_DDL_ACT_MODIFY_COLUMN;
}

/* The name a create specification defines. */
static const char *def_name(const sl_ddl_action_t *a) { return a->col.name; }

/* Step 1: which specifications survive IF [NOT] EXISTS (live[k]). */
static void decide_if_exists(const sl_schema_table_t *t,
                             const sl_ddl_stmt_t *st, char *live) {
    int orig_pk = 0;
    for (size_t i = 0; i < t->ncols; i++)
        orig_pk |= t->cols[i].pk_seq > 0;
    for (size_t k = 0; k < st->nacts; k++)
        live[k] = 1;
    for (size_t k = 0; k < st->nacts; k++) {
        const sl_ddl_action_t *a = &st->acts[k];
        if (a->kind != SL_DDL_ACT_ADD_COLUMN || !a->if_exists || !a->col.name)
            continue;
        if (orig_find(t, a->col.name) >= 0) {
            live[k] = 0;
            continue;
        }
        for (size_t j = 0; j < k; j++)
            if (live[j] && is_create(&st->acts[j]) &&
                col_eq(def_name(&st->acts[j]), a->col.name))
                live[k] = 0;
    }
    for (size_t k = 0; k < st->nacts; k++) {
        const sl_ddl_action_t *a = &st->acts[k];
        if ((a->kind == SL_DDL_ACT_MODIFY_COLUMN ||
             a->kind == SL_DDL_ACT_RENAME_COLUMN) &&
            a->if_exists && orig_find(t, a->name) < 0)
            live[k] = 0;
    }
    for (size_t k = 0; k < st->nacts; k++) {
        const sl_ddl_action_t *a = &st->acts[k];
        if (a->kind == SL_DDL_ACT_DROP_COLUMN && a->if_exists) {
            if (orig_find(t, a->name) < 0)
                live[k] = 0;
            for (size_t j = 0; live[k] && j < k; j++)
                if (live[j] && st->acts[j].kind == SL_DDL_ACT_DROP_COLUMN &&
                    col_eq(st->acts[j].name, a->name))
                    live[k] = 0;
        } else if (a->kind == SL_DDL_ACT_DROP_PK && a->if_exists) {
            if (!orig_pk)
                live[k] = 0;
            for (size_t j = 0; live[k] && j < k; j++)
                if (live[j] && st->acts[j].kind == SL_DDL_ACT_DROP_PK)
                    live[k] = 0;
        }
    }
    for (size_t k = 0; k < st->nacts; k++) {
        const sl_ddl_action_t *a = &st->acts[k];
        if (a->kind != SL_DDL_ACT_ADD_PK || !a->if_exists)
            continue;
        if (orig_pk)
            live[k] = 0;
        for (size_t j = 0; live[k] && j < k; j++)
            if (live[j] && (st->acts[j].kind == SL_DDL_ACT_ADD_PK ||
                            (is_create(&st->acts[j]) && st->acts[j].col.pk)))
                live[k] = 0;
    }
}

/* A new column's entry from its definition; the key is decided later. */
static int make_def(newcol_t *e, const sl_ddl_action_t *a,
                    const char *table_cs) {
    memset(e, 0, sizeof *e);
    if (sl__schema_resolve_col(&e->col, &a->col, table_cs) != 0)
        return SL_ENOMEM;
    e->col.is_pk = 0;
    e->col.pk_seq = 0;
    e->def = a;
    e->change = a->kind == SL_DDL_ACT_MODIFY_COLUMN ? a->name : NULL;
    return 0;
}

/* Step 5: MariaDB's hidden row_start/row_end stay after every other
 * column; DROP SYSTEM VERSIONING removes them, ADD SYSTEM VERSIONING adds
 * them unless the statement defines AS ROW START/END columns itself. */
static int place_hidden(newlist_t *l, const sl_schema_table_t *t,
                        const sl_ddl_stmt_t *st, const char *live) {
    int add = 0, drop = 0, explicit_period = 0, had = 0;
    for (size_t k = 0; k < st->nacts; k++) {
        const sl_ddl_action_t *a = &st->acts[k];
        add |= live[k] && a->kind == SL_DDL_ACT_ADD_VERSIONING;
        drop |= live[k] && a->kind == SL_DDL_ACT_DROP_VERSIONING;
        explicit_period |= live[k] && is_create(a) && a->col.row_period;
    }
    sl_schema_table_t fresh;
    memset(&fresh, 0, sizeof fresh);
    const sl_schema_table_t *from = t;
    for (size_t i = 0; i < t->ncols; i++)
        had |= t->cols[i].hidden;
    if (had && add)
        return refuse(l, "ADD SYSTEM VERSIONING:", "already versioned");
    if (!had && add && !explicit_period) {
        if (sl__schema_add_hidden_versioning(&fresh) != 0) {
            for (size_t i = 0; i < fresh.ncols; i++)
                sl__schema_col_free(&fresh.cols[i]);
            free(fresh.cols);
            return SL_ENOMEM;
        }
        from = &fresh;
    } else if (drop) {
        return 0;
    }
    int rc = 0;
    for (size_t i = 0; i < from->ncols; i++) {
        if (!from->cols[i].hidden)
            continue;
        newcol_t e;
        memset(&e, 0, sizeof e);
        e.field = 1;
        if (rc == 0 && sl__schema_col_copy(&e.col, &from->cols[i]) != 0)
            rc = SL_ENOMEM;
        else if (rc == 0 && list_insert(l, l->n, &e) != 0) {
            sl__schema_col_free(&e.col);
            rc = SL_ENOMEM;
        }
    }
    for (size_t i = 0; i < fresh.ncols; i++)
        sl__schema_col_free(&fresh.cols[i]);
    free(fresh.cols);
    return rc;
}

/* Steps 2 and 3: the new column list. */
static int build_columns(newlist_t *l, const sl_schema_table_t *t,
                         const sl_ddl_stmt_t *st, const char *live,
                         char *used) {
    /* used[k]: the specification has been consumed (drop matched, rename
     * applied, create placed). */
    for (size_t i = 0; i < t->ncols; i++) {
        const sl_schema_col_t *oc = &t->cols[i];
        size_t k;
        if (oc->hidden)
            continue; /* No specification can name them (step 5). */
        for (k = 0; k < st->nacts; k++)
            if (live[k] && !used[k] &&
                st->acts[k].kind == SL_DDL_ACT_DROP_COLUMN &&
                col_eq(oc->name, st->acts[k].name))
                break;
        if (k < st->nacts) {
            used[k] = 1;
            continue;
        }
        newcol_t e;
        for (k = 0; k < st->nacts; k++)
            if (live[k] && !used[k] &&
                st->acts[k].kind == SL_DDL_ACT_MODIFY_COLUMN &&
                col_eq(oc->name, st->acts[k].name))
                break;
        if (k < st->nacts) {
            const sl_ddl_action_t *a = &st->acts[k];
            if (make_def(&e, a, t->charset) != 0)
                return SL_ENOMEM;
            e.field = 1;
            e.col.in_period = oc->in_period;
            /* Matched: step 3 only moves it, if it has a position. */
            used[k] = a->pos == SL_DDL_POS_LAST ? 1 : 2;
        } else {
            memset(&e, 0, sizeof e);
            if (sl__schema_col_copy(&e.col, oc) != 0)
                return SL_ENOMEM;
            e.change = oc->name;
            e.field = 1;
            for (k = 0; k < st->nacts; k++)
                if (live[k] && !used[k] &&
                    st->acts[k].kind == SL_DDL_ACT_RENAME_COLUMN &&
                    col_eq(oc->name, st->acts[k].name))
                    break;
            if (k < st->nacts) {
                char *n = strdup(st->acts[k].name2 ? st->acts[k].name2 : "");
                if (n == NULL) {
                    sl__schema_col_free(&e.col);
                    return SL_ENOMEM;
                }
                free(e.col.name);
                e.col.name = n;
                used[k] = 1;
            }
        }
        if (list_insert(l, l->n, &e) != 0) {
            sl__schema_col_free(&e.col);
            return SL_ENOMEM;
        }
    }
    for (size_t k = 0; k < st->nacts; k++) {
        const sl_ddl_action_t *a = &st->acts[k];
        if (!live[k] || used[k] == 1)
            continue;
        if (a->kind == SL_DDL_ACT_DROP_COLUMN)
            return refuse(l, "DROP COLUMN: no column", a->name);
        if (a->kind == SL_DDL_ACT_RENAME_COLUMN)
            return refuse(l, "RENAME COLUMN: no column", a->name);
    }
    for (size_t k = 0; k < st->nacts; k++) {
        const sl_ddl_action_t *a = &st->acts[k];
        if (!live[k] || used[k] == 1 || !is_create(a))
            continue;
        newcol_t e;
        if (used[k] == 2) {
            /* A changed existing column with FIRST/AFTER: out of its
             * place, to be put where it says. */
            size_t i;
            for (i = 0; i < l->n && l->v[i].def != a; i++)
                ;
            list_take(l, i, &e);
        } else {
            if (a->kind == SL_DDL_ACT_MODIFY_COLUMN) {
                /* A CHANGE/MODIFY of a column an earlier ADD of this
                 * statement made: it replaces that column. */
                ssize_t i = list_find(l, def_name(a));
                if (i < 0 || l->v[i].field)
                    return refuse(l, "CHANGE/MODIFY: no column", a->name);
                newcol_t gone;
                list_take(l, (size_t)i, &gone);
                sl__schema_col_free(&gone.col);
            }
            if (make_def(&e, a, l->t->charset) != 0)
                return SL_ENOMEM;
        }
        used[k] = 1;
        size_t pos = l->n;
        if (a->pos == SL_DDL_POS_FIRST) {
            pos = 0;
        } else if (a->pos == SL_DDL_POS_AFTER) {
            ssize_t i = list_find(l, a->after);
            if (i < 0) {
                sl__schema_col_free(&e.col);
                return refuse(l, "AFTER: no column", a->after);
            }
            pos = (size_t)i + 1;
        }
        if (list_insert(l, pos, &e) != 0) {
            sl__schema_col_free(&e.col);
            return SL_ENOMEM;
        }
    }
    if (l->n == 0)
        return refuse(l, "no column would be left:", "DROP");
    int rc = place_hidden(l, t, st, live);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < l->n; i++)
        for (size_t j = i + 1; j < l->n; j++)
            if (col_eq(l->v[i].col.name, l->v[j].col.name))
                return refuse(l, "duplicate column", l->v[j].col.name);
    return 0;
}

/* Step 4: the primary key. */
static int build_key(newlist_t *l, const sl_schema_table_t *t,
                     const sl_ddl_stmt_t *st, const char *live) {
    int drops = 0, keys = 0;
    for (size_t k = 0; k < st->nacts; k++)
        if (live[k] && st->acts[k].kind == SL_DDL_ACT_DROP_PK)
            drops++;
    int orig_parts = 0;
    for (size_t i = 0; i < t->ncols; i++)
        if (t->cols[i].pk_seq > orig_parts)
            orig_parts = t->cols[i].pk_seq;
    if (drops > 1 || (drops && !orig_parts))
        return refuse(l, "DROP PRIMARY KEY:", "no such key");
    int *seq = calloc(l->n + 1, sizeof *seq);
    if (seq == NULL)
        return SL_ENOMEM;
    if (!drops && orig_parts) {
        /* The old key's parts, by the names the columns had. */
        int n = 0;
        for (int s = 1; s <= orig_parts; s++) {
            const char *name = NULL;
            for (size_t i = 0; i < t->ncols; i++)
                if (t->cols[i].pk_seq == s)
                    name = t->cols[i].name;
            for (size_t i = 0; name && i < l->n; i++) {
                const newcol_t *e = &l->v[i];
                if (col_eq(e->change ? e->change : e->col.name, name)) {
                    if (seq[i] == 0)
                        seq[i] = ++n;
                    break;
                }
            }
        }
        keys += n > 0;
    }
    for (size_t k = 0; k < st->nacts; k++) {
        const sl_ddl_action_t *a = &st->acts[k];
        if (!live[k])
            continue;
        size_t nn = 0;
        const char *one = NULL;
        char *const *names = NULL;
        if (a->kind == SL_DDL_ACT_ADD_PK) {
            names = a->names;
            nn = a->nnames;
        } else if (is_create(a) && a->col.pk) {
            one = a->col.name;
            nn = 1;
        } else {
            continue;
        }
        if (keys++) {
            free(seq);
            return refuse(l, "a second PRIMARY KEY on", one ? one : "");
        }
        for (size_t p = 0; p < nn; p++) {
            const char *name = one ? one : names[p];
            ssize_t i = list_find(l, name);
            if (i < 0) {
                free(seq);
                return refuse(l, "PRIMARY KEY: no column", name);
            }
            if (seq[i] == 0)
                seq[i] = (int)p + 1;
        }
    }
    for (size_t i = 0; i < l->n; i++) {
        l->v[i].col.pk_seq = seq[i];
        l->v[i].col.is_pk = seq[i] > 0;
        if (seq[i])
            l->v[i].col.nullable = 0;
    }
    free(seq);
    return 0;
}

static int is_system_time(const char *name) {
    return name && sl_ddl_word_eq(name, strlen(name), "SYSTEM_TIME");
}

int sl__schema_apply_periods(sl_schema_table_t *t, const sl_ddl_stmt_t *st,
                             int had_period, char *err, size_t errlen) {
    int drops = 0;
    for (size_t k = 0; k < st->nacts; k++) {
        const sl_ddl_action_t *a = &st->acts[k];
        if (a->kind == SL_DDL_ACT_DROP_PERIOD && !is_system_time(a->name)) {
            drops = 1;
            for (size_t i = 0; i < t->ncols; i++)
                t->cols[i].in_period = 0;
        }
    }
    /* ADD PERIOD IF NOT EXISTS is decided by the period's name, which
     * the history does not keep: with a period already there the server
     * skips it (same name) or refuses it (one period per table), unless
     * the statement also drops one; then the outcome depends on names. */
    for (size_t k = 0; k < st->nacts; k++) {
        const sl_ddl_action_t *a = &st->acts[k];
        if (a->kind == SL_DDL_ACT_ADD_PERIOD && a->if_exists && had_period &&
            drops && !is_system_time(a->name))
            return sl__schema_errf(err, errlen, SL_EUNSUPPORTED,
                                   "%s.%s: DROP PERIOD with ADD PERIOD IF NOT "
                                   "EXISTS depends on period names the "
                                   "schema history does not keep",
                                   t->db, t->name);
    }
    for (size_t k = 0; k < st->nacts; k++) {
        const sl_ddl_action_t *a = &st->acts[k];
        if (a->kind != SL_DDL_ACT_ADD_PERIOD || is_system_time(a->name) ||
            (a->if_exists && had_period))
            continue;
        for (size_t n = 0; n < a->nnames; n++) {
            ssize_t i = -1;
            for (size_t c = 0; i < 0 && c < t->ncols; c++)
                if (!t->cols[c].hidden && col_eq(t->cols[c].name, a->names[n]))
                    i = (ssize_t)c;
            if (i < 0)
                return sl__schema_errf(err, errlen, SL_EUNSUPPORTED,
                                       "PERIOD FOR %s: no column %s in %s.%s",
                                       a->name ? a->name : "?", a->names[n],
                                       t->db, t->name);
            t->cols[i].in_period = 1;
        }
    }
    for (size_t i = 0; i < t->ncols; i++)
        if (t->cols[i].in_period)
            t->cols[i].nullable = 0;
    return 0;
}

int sl__schema_alter_columns(sl_schema_table_t *t, const sl_ddl_stmt_t *st,
                             char *err, size_t errlen) {
    int had_period = 0;
    for (size_t i = 0; i < t->ncols; i++)
        had_period |= t->cols[i].in_period;
    newlist_t l = {NULL, 0, t, err, errlen};
    char *live = calloc(st->nacts + 1, 2);
    if (live == NULL)
        return SL_ENOMEM;
    char *used = live + st->nacts + 1;
    decide_if_exists(t, st, live);
    int rc = build_columns(&l, t, st, live, used);
    if (rc == 0)
        rc = build_key(&l, t, st, live);
    free(live);
    if (rc != 0) {
        for (size_t i = 0; i < l.n; i++)
            sl__schema_col_free(&l.v[i].col);
        free(l.v);
        return rc;
    }
    for (size_t i = 0; i < t->ncols; i++)
        sl__schema_col_free(&t->cols[i]);
    free(t->cols);
    t->cols = calloc(l.n, sizeof *t->cols);
    if (t->cols == NULL) {
        t->ncols = 0;
        for (size_t i = 0; i < l.n; i++)
            sl__schema_col_free(&l.v[i].col);
        free(l.v);
        return SL_ENOMEM;
    }
    for (size_t i = 0; i < l.n; i++)
        t->cols[i] = l.v[i].col;
    t->ncols = l.n;
    free(l.v);
    return sl__schema_apply_periods(t, st, had_period, err, errlen);
}
