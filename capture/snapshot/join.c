/* Tables that enter the include filters later; see join.h. */
#include "join.h"

#include "capture/filter.h"
#include "capture/schema/history.h"
#include "error.h"
#include "json.h"
#include "jsonread.h"
#include "log.h"
#include "state_int.h"

#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sl_snap_join_free(sl_snap_join_t *j) {
    free(j->tables);
    memset(j, 0, sizeof *j);
}

int sl_snap_cover_render(const char *const *include, size_t ninclude,
                         const char *const *exclude, size_t nexclude,
                         sl_buf_t *out) {
    sl_json_t json;
    sl_buf_reset(out);
    sl_json_init(&json, out);
    sl_json_obj_begin(&json);
    sl_json_key(&json, "include");
    sl_json_arr_begin(&json);
    for (size_t i = 0; i < ninclude; i++)
        sl_json_str(&json, include[i]);
    sl_json_arr_end(&json);
    sl_json_key(&json, "exclude");
    sl_json_arr_begin(&json);
    for (size_t i = 0; i < nexclude; i++)
        sl_json_str(&json, exclude[i]);
    sl_json_arr_end(&json);
    sl_json_obj_end(&json);
    return sl_json_error(&json) ? SL_ENOMEM : 0;
}

/* The strings of a JSON array as a NULL-free vector (owned). */
static int str_array(const sl_jr_doc_t *d, uint32_t arr, char ***out,
                     size_t *n) {
    *out = NULL;
    *n = 0;
    if (arr == SL_JR_NONE || sl_jr_type(d, arr) != SL_JR_ARRAY)
        return SL_ECORRUPT;
    uint32_t count = sl_jr_tok(d, arr)->count;
    char **v = calloc(count ? count : 1, sizeof *v);
    if (v == NULL)
        return SL_ENOMEM;
    uint32_t it = arr + 1;
    for (uint32_t k = 0; k < count; k++) {
        if (sl_jr_type(d, it) != SL_JR_STRING ||
            sl_jr_strdup(d, it, &v[k], NULL) != 0) {
            for (uint32_t i = 0; i < k; i++)
                free(v[i]);
            free(v);
            return SL_ECORRUPT;
        }
        *n = k + 1;
        it = sl_jr_tok(d, it)->next;
    }
    *out = v;
    return 0;
}

static void free_strs(char **v, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

typedef struct {
    sl_filter_t *old; /* The covered rules, or NULL (cover them all). */
    int (*want)(void *ctx, const char *db, const char *table);
    void *ctx;
    const sl_snap_join_t *pending; /* The cursor's join. */
    const sl_schema_t *schema;
} find_t;

static int pending_has(const sl_snap_join_t *j, const char *db,
                       const char *table) {
    for (size_t i = 0; i < j->ntables; i++)
        if (strcmp(j->tables[i].db, db) == 0 &&
            strcmp(j->tables[i].table, table) == 0)
            return 1;
    return 0;
}

static int is_new(const find_t *f, const char *db, const char *table) {
    return f->old != NULL && strcmp(db, "sluice") != 0 &&
           f->want(f->ctx, db, table) &&
           !sl_filter_table(f->old, db, strlen(db), table, strlen(table));
}

/* Which tables' definitions to read: the new ones, and the pending ones
 * the history lacks. */
static int want_cb(void *ctx, const char *db, const char *table) {
    const find_t *f = ctx;
    return is_new(f, db, table) ||
           (pending_has(f->pending, db, table) &&
            sl_schema_find(f->schema, db, strlen(db), table, strlen(table)) ==
                NULL);
}

static int add_table(sl_snap_join_t *j, const char *db, const char *table) {
    sl_snap_join_table_t *t = realloc(j->tables, (j->ntables + 1) * sizeof *t);
    if (t == NULL)
        return SL_ENOMEM;
    j->tables = t;
    snprintf(t[j->ntables].db, sizeof t->db, "%s", db);
    snprintf(t[j->ntables].table, sizeof t->table, "%s", table);
    j->ntables++;
    return 0;
}

/* Reads the cursor's cover (into *old, NULL when absent or equal to
 * cover) and pending join. */
static int read_cursor(const char *cursor, const char *cover, sl_filter_t **old,
                       sl_snap_join_t *pending, char *err, size_t errlen) {
    *old = NULL;
    if (cursor == NULL || cursor[0] == '\0')
        return 0;
    sl_jr_doc_t d;
    sl_jr_init(&d);
    int rc = sl_jr_parse(&d, cursor, strlen(cursor));
    if (rc != 0 || sl_jr_type(&d, 0) != SL_JR_OBJECT) {
        sl_jr_free(&d);
        snprintf(err, errlen, "the checkpoint's snapshot cursor is damaged");
        return SL_ECORRUPT;
    }
    uint32_t c = sl_jr_get(&d, 0, "cover");
    size_t n = 0;
    const char *raw = c != SL_JR_NONE ? sl_jr_raw(&d, c, &n) : NULL;
    if (raw != NULL && (strlen(cover) != n || memcmp(raw, cover, n) != 0)) {
        char **inc = NULL, **exc = NULL;
        size_t ninc = 0, nexc = 0;
        rc = str_array(&d, sl_jr_get(&d, c, "include"), &inc, &ninc);
        if (rc == 0)
            rc = str_array(&d, sl_jr_get(&d, c, "exclude"), &exc, &nexc);
        if (rc == 0)
            rc = sl_filter_new(old, (const char *const *)inc, ninc,
                               (const char *const *)exc, nexc, NULL, 0, err,
                               errlen);
        else
            snprintf(err, errlen,
                     "the checkpoint's snapshot cursor has a damaged cover");
        free_strs(inc, ninc);
        free_strs(exc, nexc);
    }
    if (rc == 0 && (rc = sl__snap_join_parse(&d, pending)) != 0)
        snprintf(err, errlen,
                 "the checkpoint's snapshot cursor has a damaged join");
    sl_jr_free(&d);
    return rc;
}

int sl__snap_join_parse(const sl_jr_doc_t *d, sl_snap_join_t *out) {
    uint32_t j = sl_jr_get(d, 0, "join");
    if (j == SL_JR_NONE)
        return 0;
    uint32_t tables = sl_jr_get(d, j, "tables");
    if (sl_jr_copy_str(d, sl_jr_get(d, j, "file"), out->file,
                       sizeof out->file) != 0 ||
        sl_jr_u64(d, sl_jr_get(d, j, "pos"), &out->pos) != 0 ||
        tables == SL_JR_NONE || sl_jr_type(d, tables) != SL_JR_ARRAY)
        return SL_ECORRUPT;
    uint32_t it = tables + 1;
    for (uint32_t k = 0; k < sl_jr_tok(d, tables)->count; k++) {
        char db[256], t[256];
        int rc = SL_ECORRUPT;
        if (sl_jr_type(d, it) == SL_JR_ARRAY && sl_jr_tok(d, it)->count == 2 &&
            sl_jr_copy_str(d, it + 1, db, sizeof db) == 0 &&
            sl_jr_copy_str(d, sl_jr_tok(d, it + 1)->next, t, sizeof t) == 0)
            rc = add_table(out, db, t);
        if (rc != 0)
            return rc;
        it = sl_jr_tok(d, it)->next;
    }
    return 0;
}

static int cmp_table(const void *a, const void *b) {
    const sl_snap_join_table_t *x = a, *y = b;
    int c = strcmp(x->db, y->db);
    return c ? c : strcmp(x->table, y->table);
}

/* Reads the binlog end and then the definitions want_cb selects. */
static int read_live(find_t *f, const sl_source_opts_t *src, sl_schema_t **tmp,
                     char *file, size_t filelen, uint64_t *pos, char *err,
                     size_t errlen) {
    MYSQL *mysql;
    int rc = sl_source_connect(&mysql, src, err, errlen);
    if (rc != 0)
        return rc;
    if ((rc = sl_source_binlog_end(mysql, file, filelen, pos, err, errlen)) ==
            0 &&
        (rc = sl_schema_new(tmp)) == 0 &&
        (rc = sl_schema_load_live(*tmp, mysql, want_cb, f, err, errlen)) != 0) {
        unsigned code = mysql_errno(mysql);
        if (code >= 2000 && code < 3000)
            rc = SL_ECONN;
    }
    mysql_close(mysql);
    return rc;
}

int sl_snap_join_find(sl_snap_join_t *out, const char *cursor,
                      const char *cover, const sl_source_opts_t *src,
                      sl_schema_t *schema,
                      int (*want)(void *ctx, const char *db, const char *table),
                      void *ctx, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    sl_snap_join_t pending;
    memset(&pending, 0, sizeof pending);
    find_t f = {
        .want = want, .ctx = ctx, .pending = &pending, .schema = schema};
    int rc = read_cursor(cursor, cover, &f.old, &pending, err, errlen);
    int missing = 0;
    for (size_t i = 0; rc == 0 && i < pending.ntables; i++)
        missing += sl_schema_find(schema, pending.tables[i].db,
                                  strlen(pending.tables[i].db),
                                  pending.tables[i].table,
                                  strlen(pending.tables[i].table)) == NULL;
    if (rc != 0 || (f.old == NULL && missing == 0)) {
        sl_filter_free(f.old);
        if (rc == 0) {
            *out = pending; /* Only the pending join, if any. */
            return 0;
        }
        sl_snap_join_free(&pending);
        return rc;
    }
    sl_schema_t *tmp = NULL;
    char file[256] = "";
    uint64_t pos = 0;
    rc = read_live(&f, src, &tmp, file, sizeof file, &pos, err, errlen);
    /* The new tables first (sorted), then the pending ones. */
    size_t n = tmp ? sl_schema_count(tmp) : 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const sl_schema_table_t *t = sl_schema_at(tmp, i);
        if (is_new(&f, t->db, t->name) &&
            !pending_has(&pending, t->db, t->name))
            rc = add_table(out, t->db, t->name);
    }
    if (rc == 0 && out->ntables > 1)
        qsort(out->tables, out->ntables, sizeof *out->tables, cmp_table);
    out->nnew = out->ntables;
    for (size_t i = 0; rc == 0 && i < pending.ntables; i++)
        rc = add_table(out, pending.tables[i].db, pending.tables[i].table);
    /* Definitions read now, after the binlog end read first: rows before
     * that position are not published (join.h), so none is decoded with
     * a definition newer than itself. */
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const sl_schema_table_t *t = sl_schema_at(tmp, i);
        if (sl_schema_find(schema, t->db, strlen(t->db), t->name,
                           strlen(t->name)) != NULL)
            continue;
        size_t k = 0;
        for (; k < sl_schema_count(schema); k++)
            if (strcmp(sl_schema_at(schema, k)->db, t->db) == 0)
                break;
        if (k == sl_schema_count(schema))
            rc = sl_schema_set_db_charset(schema, t->db,
                                          sl_schema_db_charset(tmp, t->db));
        if (rc == 0)
            rc = sl_schema_put(schema, t);
        if (rc == 0)
            sl_log_info("table added to the schema history for its snapshot",
                        "table=%s.%s", t->db, t->name);
    }
    if (rc == 0) {
        if (out->nnew > 0 || pending.file[0] == '\0') {
            snprintf(out->file, sizeof out->file, "%s", file);
            out->pos = pos;
        } else {
            /* The pending join keeps its position: a replay skips exactly
             * what the first run skipped. */
            snprintf(out->file, sizeof out->file, "%s", pending.file);
            out->pos = pending.pos;
        }
        if (out->ntables == 0)
            out->file[0] = '\0';
    }
    sl_schema_free(tmp);
    sl_filter_free(f.old);
    sl_snap_join_free(&pending);
    if (rc != 0)
        sl_snap_join_free(out);
    return rc;
}

/* A row of a table joining (join.h) before its join position is not
 * published; the first row at or after the position ends the join. */
int sl__snap_join_skip(sl_snap_t *snap, const sl_change_t *chg, int *consumed) {
    sl_snap_join_t *j = &snap->join;
    if (sl_history_cmp(chg->file, chg->pos, j->file, j->pos) >= 0) {
        sl_log_info("tables joined the stream", "file=%s pos=%llu tables=%zu",
                    j->file, (unsigned long long)j->pos, j->ntables);
        sl_snap_join_free(j);
        return sl__snap_new_version(snap);
    }
    for (size_t i = 0; i < j->ntables; i++)
        if (strlen(j->tables[i].db) == chg->db_len &&
            strlen(j->tables[i].table) == chg->table_len &&
            memcmp(j->tables[i].db, chg->db, chg->db_len) == 0 &&
            memcmp(j->tables[i].table, chg->table, chg->table_len) == 0) {
            *consumed = 1;
            snap->join_skipped++;
            return 0;
        }
    return 0;
}

int sl_snap_join(sl_snap_t *snap, const sl_snap_join_t *j) {
    int rc = 0;
    for (size_t i = 0; i < j->nnew && rc == 0; i++) {
        const char *db = j->tables[i].db, *t = j->tables[i].table;
        int c = snap->active ? strcmp(db, snap->db) : 0;
        if (snap->active && snap->all &&
            (c > 0 || (c == 0 && strcmp(t, snap->table) > 0))) {
            /* The initial snapshot, still running, reaches it under its
             * id; the start is owed now, as for the tables it had at its
             * own start (none for a cursor without early starts). */
            sl_log_info("table entered the include filters; the running "
                        "snapshot reaches it",
                        "table=%s.%s", db, t);
            if (snap->all_id[0] != '\0')
                rc = sl__snap_owe_start(snap, db, t, snap->all_id);
            continue;
        }
        sl_log_info("table entered the include filters; snapshot queued",
                    "table=%s.%s", db, t);
        rc = sl_snap_queue(snap, db, t, NULL);
    }
    sl_snap_join_free(&snap->join);
    if (rc == 0 && j->ntables > 0) {
        snap->join.tables = malloc(j->ntables * sizeof *j->tables);
        if (snap->join.tables == NULL)
            return SL_ENOMEM;
        memcpy(snap->join.tables, j->tables, j->ntables * sizeof *j->tables);
        snap->join.ntables = j->ntables;
        snprintf(snap->join.file, sizeof snap->join.file, "%s", j->file);
        snap->join.pos = j->pos;
    }
    return rc ? rc : sl__snap_new_version(snap);
}
