/*
 * Early snapshot starts (snapshot.h): when a snapshot of several tables is
 * asked for, the snapshot_start of every table it names is owed at once
 * and published before any later stream event, so that apply's window of
 * each table is open before the stream's first change of it, however long
 * the table waits its turn (docs/snapshot.md, "Every window opens at the
 * snapshot's start").
 *
 * Exactly once, like the stream: the owed starts are part of the cursor
 * ("starts": {"src": the position they are published at, "tables":
 * [[db, table, id], ...]}). sl_snap_flush_starts() writes a forced
 * checkpoint whose cursor lists them with that position, publishes them,
 * and writes a forced checkpoint whose cursor no longer does. A restart
 * from the first checkpoint publishes them again, rendered from the cursor
 * alone (byte for byte the same) and with the same capture sequences, so
 * the broker keeps one of each, in the same batches (a forced checkpoint
 * sends the open batch on both sides of them); a restart from the second
 * publishes none. Capture thread only.
 */
#include "error.h"
#include "json.h"
#include "log.h"
#include "state_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void sl__snap_qents_free(qent_t **q, size_t *n) {
    for (size_t i = 0; i < *n; i++) {
        free((*q)[i].db);
        free((*q)[i].table);
        free((*q)[i].where);
        free((*q)[i].id);
    }
    free(*q);
    *q = NULL;
    *n = 0;
}

/* Appends an entry (copies of the strings; where and id may be NULL). */
int sl__snap_qent_add(qent_t **q, size_t *n, const char *db, const char *table,
                      const char *where, const char *id) {
    qent_t *e = realloc(*q, (*n + 1) * sizeof *e);
    if (e == NULL)
        return SL_ENOMEM;
    *q = e;
    e += *n;
    e->db = strdup(db);
    e->table = strdup(table);
    e->where = where ? strdup(where) : NULL;
    e->id = id ? strdup(id) : NULL;
    (*n)++;
    return e->db && e->table && (!where || e->where) && (!id || e->id)
               ? 0
               : SL_ENOMEM;
}

/* The snapshot_start of db.table under id is owed: it goes out before any
 * stream event that follows (sl_snap_flush_starts). */
int sl__snap_owe_start(sl_snap_t *snap, const char *db, const char *table,
                       const char *id) {
    return sl__snap_qent_add(&snap->starts, &snap->nstarts, db, table, NULL,
                             id);
}

/* The cursor's owed starts ("starts", snapshot.h), if any. */
int sl__snap_read_starts(sl_snap_t *snap, const sl_jr_doc_t *d) {
    uint32_t st = sl_jr_get(d, 0, "starts");
    if (st == SL_JR_NONE)
        return 0;
    uint32_t src = sl_jr_get(d, st, "src"), tables = sl_jr_get(d, st, "tables");
    if (src == SL_JR_NONE || tables == SL_JR_NONE ||
        sl_jr_type(d, tables) != SL_JR_ARRAY)
        return SL_ECORRUPT;
    if (sl_jr_type(d, src) == SL_JR_OBJECT) {
        size_t n;
        const char *raw = sl_jr_raw(d, src, &n);
        if (sl_buf_append(&snap->starts_src, raw, n) != 0)
            return SL_ENOMEM;
    }
    uint32_t it = tables + 1;
    for (uint32_t k = 0; k < sl_jr_tok(d, tables)->count; k++) {
        if (sl_jr_type(d, it) != SL_JR_ARRAY || sl_jr_tok(d, it)->count != 3)
            return SL_ECORRUPT;
        uint32_t e1 = it + 1, e2 = sl_jr_tok(d, e1)->next,
                 e3 = sl_jr_tok(d, e2)->next;
        char *sd = sl__snap_jr_strdup(d, e1), *stb = sl__snap_jr_strdup(d, e2),
             *si = sl__snap_jr_strdup(d, e3);
        int rc = sd && stb && si ? sl__snap_owe_start(snap, sd, stb, si)
                                 : SL_ECORRUPT;
        free(sd);
        free(stb);
        free(si);
        if (rc != 0)
            return rc;
        it = sl_jr_tok(d, it)->next;
    }
    return 0;
}

/* The "src" of a marker published at file:pos between transactions. */
static int src_json(sl_buf_t *b, const char *file, uint64_t pos) {
    sl_json_t json;
    sl_buf_reset(b);
    sl_json_init(&json, b);
    sl_json_obj_begin(&json);
    sl_json_key(&json, "file");
    sl_json_str(&json, file);
    sl_json_key(&json, "pos");
    sl_json_uint(&json, pos);
    sl_json_key(&json, "end_pos");
    sl_json_uint(&json, pos);
    sl_json_key(&json, "server_id");
    sl_json_uint(&json, 0);
    sl_json_key(&json, "ts");
    sl_json_uint(&json, (uint64_t)time(NULL));
    sl_json_obj_end(&json);
    return sl_json_error(&json) ? SL_ENOMEM : 0;
}

/* The snapshot_start (or, done, the snapshot_done) of an owed early start
 * (e), rendered by the same function as every marker, with the table, id
 * and position (src) of that start in place of the current table's:
 * estimate 0 (the table is not read yet), never a copy's "reset" (a
 * one-shot copy publishes its own start, with "reset", at its view's
 * position). */
static int render_early(sl_snap_t *snap, const qent_t *e, int done,
                        const sl_buf_t *src, sl_buf_t *out) {
    sl__snap_marker_t m = {
        .db = e->db,
        .table = e->table,
        .id = e->id,
        .estimate = 0,
        .chunks = snap->chunk + 1,
        .rows = snap->rows,
        .copy = 0,
        .reset = 0,
        .src = src,
    };
    return sl__snap_render_marker_of(snap, &m, done, out) ? SL_ENOMEM : 0;
}

int sl_snap_flush_starts(sl_snap_t *snap, const sl_schema_t *schema,
                         const char *file, uint64_t pos, char *err,
                         size_t errlen) {
    if (snap->nstarts == 0)
        return 0;
    int rc;
    /* A table the snapshot cannot read (no key, a column type) stops
     * capture now, before any window opens, rather than when its turn
     * comes with its window left open. */
    for (size_t i = 0; schema != NULL && i < snap->nstarts; i++) {
        const qent_t *e = &snap->starts[i];
        const sl_schema_table_t *t = sl_schema_find(
            schema, e->db, strlen(e->db), e->table, strlen(e->table));
        if (t != NULL && (rc = sl__snap_check_table(snap, t, err, errlen)) != 0)
            return rc;
    }
    if (snap->starts_src.len == 0 &&
        (rc = src_json(&snap->starts_src, file, pos)) != 0)
        return rc;
    /* The starts, as they will be rendered, are the checkpoint before the
     * first goes out: a restart from it publishes them again, identical,
     * with the same capture sequences (the broker keeps one of each), and
     * no stream event is published before them. */
    if ((rc = sl__snap_new_version(snap)) != 0 ||
        (rc = snap->o.boundary(snap->o.ctx, 1)) != 0)
        return rc;
    sl_buf_t marker = SL_BUF_INIT;
    for (size_t i = 0; i < snap->nstarts && rc == 0; i++) {
        qent_t *e = &snap->starts[i];
        if ((rc = render_early(snap, e, 0, &snap->starts_src, &marker)) == 0 &&
            marker.len > 0)
            rc = sl__snap_publish(snap, e->db, e->table, 0, 1,
                                  (const char *)marker.data, marker.len);
    }
    sl_buf_free(&marker);
    if (rc != 0)
        return rc;
    sl_log_info("snapshot windows opened: starts published",
                "tables=%zu src=%.*s", snap->nstarts, (int)snap->starts_src.len,
                (const char *)snap->starts_src.data);
    sl__snap_qents_free(&snap->starts, &snap->nstarts);
    sl_buf_reset(&snap->starts_src);
    /* And the checkpoint after them, before anything else is published. */
    if ((rc = sl__snap_new_version(snap)) != 0)
        return rc;
    return snap->o.boundary(snap->o.ctx, 1);
}

void sl__snap_render_starts(const sl_snap_t *snap, sl_json_t *json) {
    if (snap->nstarts == 0)
        return;
    sl_json_key(json, "starts");
    sl_json_obj_begin(json);
    sl_json_key(json, "src");
    if (snap->starts_src.len > 0)
        sl_json_raw(json, (const char *)snap->starts_src.data,
                    snap->starts_src.len);
    else
        sl_json_null(json);
    sl_json_key(json, "tables");
    sl_json_arr_begin(json);
    for (size_t i = 0; i < snap->nstarts; i++) {
        sl_json_arr_begin(json);
        sl_json_str(json, snap->starts[i].db);
        sl_json_str(json, snap->starts[i].table);
        sl_json_str(json, snap->starts[i].id);
        sl_json_arr_end(json);
    }
    sl_json_arr_end(json);
    sl_json_obj_end(json);
}

int sl__snap_gone_done(sl_snap_t *snap, const sl_schema_t *schema,
                       const char *file, uint64_t pos) {
    snap->gone_done = 0;
    qent_t e = {.db = snap->db, .table = snap->table, .id = snap->id};
    sl_buf_t src = SL_BUF_INIT, marker = SL_BUF_INIT;
    int rc = src_json(&src, file, pos);
    if (rc == 0)
        rc = render_early(snap, &e, 1, &src, &marker);
    /* Not reproducible by a replay: its sequence is reserved first, as a
     * chunk's are (a restart skips it and publishes it again). */
    snap->reserve = 1;
    if (rc == 0 && (rc = sl__snap_new_version(snap)) == 0 &&
        (rc = snap->o.boundary(snap->o.ctx, 1)) == 0 && marker.len > 0)
        rc = sl__snap_publish(snap, snap->db, snap->table, 0, 1,
                              (const char *)marker.data, marker.len);
    snap->reserve = 0;
    sl_buf_free(&src);
    sl_buf_free(&marker);
    if (rc != 0)
        return rc;
    sl_log_warn("snapshot: the table is gone; its snapshot ends",
                "table=%s.%s id=%s", snap->db, snap->table, snap->id);
    if ((rc = sl__snap_next_table(snap, schema)) != 0 ||
        (rc = sl__snap_new_version(snap)) != 0)
        return rc;
    return snap->o.boundary(snap->o.ctx, 0);
}
