/* The snapshot driver in the capture thread; see snapshot.h. */
#include "snapshot.h"

#include "capture/schema/history.h"
#include "clock.h"
#include "copy_int.h"
#include "error.h"
#include "internal.h"
#include "json.h"
#include "jsonread.h"
#include "log.h"
#include "state_int.h"
#include "window.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int sl_snap_mode_parse(const char *text, sl_snap_mode_t *mode) {
    if (strcmp(text, "initial") == 0)
        *mode = SL_SNAP_INITIAL;
    else if (strcmp(text, "never") == 0)
        *mode = SL_SNAP_NEVER;
    else if (strcmp(text, "when_needed") == 0)
        *mode = SL_SNAP_WHEN_NEEDED;
    else
        return SL_EINVAL;
    return 0;
}

static uint64_t random64(void) {
    uint64_t v = 0;
    FILE *f = fopen("/dev/urandom", "rb");
    if (f != NULL) {
        if (fread(&v, sizeof v, 1, f) != 1)
            v = 0;
        fclose(f);
    }
    return v ^ sl_mono_ns() ^ ((uint64_t)time(NULL) << 20);
}

int sl_snap_new(sl_snap_t **out, const sl_snap_opts_t *opts) {
    sl_snap_t *snap = calloc(1, sizeof *snap);
    if (snap == NULL)
        return SL_ENOMEM;
    snap->o = *opts;
    if (snap->o.chunk_rows == 0)
        snap->o.chunk_rows = 4096;
    snap->name = strdup(opts->name);
    snap->cover = opts->cover ? strdup(opts->cover) : NULL;
    snap->o.cover = NULL;
    snap->nonce = random64();
    snap->jp = &snap->jobs[0];
    sl_jr_init(&snap->doc);
    sl__snap_worker_opts_t wo = snap->wo = (sl__snap_worker_opts_t){
        .host = opts->host,
        .user = opts->user,
        .password = opts->password,
        .tls_ca = opts->tls_ca,
        .port = opts->port,
        .tls = opts->tls,
        .tls_insecure = opts->tls_insecure,
        .name = opts->name,
        .max_threads_running = opts->max_threads_running,
        .max_lag_s = opts->max_lag_s,
    };
    if (snap->o.chunk_min == 0)
        snap->o.chunk_min = 1;
    if (snap->o.chunk_max < snap->o.chunk_min)
        snap->o.chunk_max = snap->o.chunk_min;
    snap->chunk_size = snap->o.chunk_rows;
    int err = snap->name == NULL || (opts->cover && !snap->cover)
                  ? SL_ENOMEM
                  : sl_window_new(&snap->win);
    if (err == 0)
        err = sl__snap_worker_start(&snap->worker, &wo);
    if (err != 0) {
        sl_snap_free(snap);
        return err;
    }
    *out = snap;
    return 0;
}

static void free_pk(sl_snap_t *snap) {
    for (size_t i = 0; i < snap->npk; i++)
        free(snap->pknames[i]);
    free(snap->pknames);
    snap->pknames = NULL;
    snap->npk = 0;
}

static void clear_cursor(sl_snap_t *snap) {
    free(snap->db);
    free(snap->table);
    free(snap->where);
    free(snap->last);
    snap->db = snap->table = snap->where = snap->last = NULL;
    sl__snap_qents_free(&snap->queue, &snap->nqueue);
    sl__snap_qents_free(&snap->starts, &snap->nstarts);
    sl_buf_reset(&snap->starts_src);
    snap->active = 0;
    snap->all = 0;
    snap->started = 0;
    snap->gone_done = 0;
    snap->all_id[0] = '\0';
    snap->copy_want = snap->copy_dropping = snap->copy_keyed = 0;
    sl__snap_copy_close(snap->cv);
    snap->cv = NULL;
    snap->chunk = snap->rows = snap->reserve = 0;
    snap->id[0] = '\0';
}

void sl_snap_free(sl_snap_t *snap) {
    if (snap == NULL)
        return;
    sl__snap_worker_stop(snap->worker);
    sl__snap_copy_close(snap->cv);
    for (int i = 0; i < 2; i++) {
        sl__snap_job_clear(&snap->jobs[i]);
        sl_buf_free(&snap->jobs[i].rows);
        sl_buf_free(&snap->jobs[i].last_read);
    }
    sl_window_free(snap->win);
    clear_cursor(snap);
    free_pk(snap);
    while (snap->vhead != NULL) {
        ver_t *v = snap->vhead;
        snap->vhead = v->next;
        free(v);
    }
    sl_buf_free(&snap->hw_src);
    sl_buf_free(&snap->starts_src);
    free(snap->early);
    sl_buf_free(&snap->out);
    sl_buf_free(&snap->key);
    sl_buf_free(&snap->tmp);
    sl_buf_free(&snap->fview);
    sl_jr_free(&snap->doc);
    sl_snap_join_free(&snap->join);
    free(snap->cover);
    free(snap->name);
    free(snap);
}

/* Renders the cursor as a new version (the previous ones stay valid for
 * boundaries already queued). */
int sl__snap_new_version(sl_snap_t *snap) {
    sl_buf_t *b = &snap->tmp;
    sl_buf_reset(b);
    sl_json_t json;
    sl_json_init(&json, b);
    if (snap->active || snap->cover || snap->join.ntables)
        sl_json_obj_begin(&json);
    if (snap->active) {
        sl_json_key(&json, "id");
        sl_json_str(&json, snap->id);
        sl_json_key(&json, "db");
        sl_json_str(&json, snap->db);
        sl_json_key(&json, "table");
        sl_json_str(&json, snap->table);
        sl_json_key(&json, "where");
        if (snap->where)
            sl_json_str(&json, snap->where);
        else
            sl_json_null(&json);
        sl_json_key(&json, "last");
        if (snap->last)
            sl_json_raw(&json, snap->last, strlen(snap->last));
        else
            sl_json_null(&json);
        sl_json_key(&json, "chunk");
        sl_json_uint(&json, snap->chunk);
        sl_json_key(&json, "rows");
        sl_json_uint(&json, snap->rows);
        sl_json_key(&json, "reserve");
        sl_json_uint(&json, snap->reserve);
        sl_json_key(&json, "all");
        sl_json_bool(&json, snap->all);
        if (snap->all && snap->all_id[0] != '\0') {
            sl_json_key(&json, "all_id");
            sl_json_str(&json, snap->all_id);
        }
        if (snap->started) {
            sl_json_key(&json, "started");
            sl_json_bool(&json, 1);
        }
        if (snap->copy_dropping) {
            sl_json_key(&json, "copy");
            sl_json_bool(&json, 1);
            if (snap->copy_keyed) {
                sl_json_key(&json, "copy_keyed");
                sl_json_bool(&json, 1);
            }
        }
        sl_json_key(&json, "queue");
        sl_json_arr_begin(&json);
        for (size_t i = 0; i < snap->nqueue; i++) {
            sl_json_arr_begin(&json);
            sl_json_str(&json, snap->queue[i].db);
            sl_json_str(&json, snap->queue[i].table);
            if (snap->queue[i].where)
                sl_json_str(&json, snap->queue[i].where);
            else
                sl_json_null(&json);
            if (snap->queue[i].id)
                sl_json_str(&json, snap->queue[i].id);
            sl_json_arr_end(&json);
        }
        sl_json_arr_end(&json);
        sl__snap_render_starts(snap, &json);
    }
    if (snap->cover) {
        sl_json_key(&json, "cover");
        sl_json_raw(&json, snap->cover, strlen(snap->cover));
    }
    if (snap->join.ntables) {
        sl_json_key(&json, "join");
        sl_json_obj_begin(&json);
        sl_json_key(&json, "file");
        sl_json_str(&json, snap->join.file);
        sl_json_key(&json, "pos");
        sl_json_uint(&json, snap->join.pos);
        sl_json_key(&json, "tables");
        sl_json_arr_begin(&json);
        for (size_t i = 0; i < snap->join.ntables; i++) {
            sl_json_arr_begin(&json);
            sl_json_str(&json, snap->join.tables[i].db);
            sl_json_str(&json, snap->join.tables[i].table);
            sl_json_arr_end(&json);
        }
        sl_json_arr_end(&json);
        sl_json_obj_end(&json);
    }
    if (snap->active || snap->cover || snap->join.ntables)
        sl_json_obj_end(&json);
    if (sl_json_error(&json) != 0)
        return SL_ENOMEM;
    ver_t *v = malloc(sizeof *v + b->len + 1);
    if (v == NULL)
        return SL_ENOMEM;
    v->next = NULL;
    memcpy(v->text, b->data ? (const char *)b->data : "", b->len);
    v->text[b->len] = '\0';
    if (snap->vtail)
        snap->vtail->next = v;
    else
        snap->vhead = v;
    snap->vtail = v;
    return 0;
}

const char *sl_snap_cursor(const sl_snap_t *snap) {
    if (snap->vtail == NULL || snap->vtail->text[0] == '\0')
        return NULL;
    return snap->vtail->text;
}

int sl_snap_active(const sl_snap_t *snap) { return snap->active; }

/* Frees the versions older than written, which is the newest checkpoint
 * stored: no queued boundary can point at them any more. */
static void gc(sl_snap_t *snap, const char *written) {
    if (written == NULL)
        return;
    for (ver_t *v = snap->vhead; v != NULL; v = v->next)
        if (v->text == written) {
            while (snap->vhead != v) {
                ver_t *old = snap->vhead;
                snap->vhead = old->next;
                free(old);
            }
            return;
        }
}

static void new_id(char *id, size_t cap) {
    snprintf(id, cap, "%llx-%08llx", (unsigned long long)sl_wall_ms(),
             (unsigned long long)(random64() & 0xffffffffu));
}

/* Makes db.table the current table. id: the snapshot id its start was
 * published under already (started), or NULL for a new id whose start
 * goes out with the first chunk. */
static int start_table(sl_snap_t *snap, const char *db, const char *table,
                       const char *where, const char *id) {
    free(snap->db);
    free(snap->table);
    free(snap->where);
    free(snap->last);
    snap->db = strdup(db);
    snap->table = strdup(table);
    snap->where = where ? strdup(where) : NULL;
    snap->last = NULL;
    snap->chunk = snap->rows = 0;
    snap->active = 1;
    snap->copy_want = snap->copy_dropping = snap->copy_keyed = 0;
    sl__snap_copy_close(snap->cv);
    snap->cv = NULL;
    snap->started = id != NULL;
    snap->gone_done = 0;
    if (id != NULL)
        snprintf(snap->id, sizeof snap->id, "%s", id);
    else
        new_id(snap->id, sizeof snap->id);
    snap->table_start_ns = sl_mono_ns();
    snap->estimate = 0;
    snap->report_rows = 0;
    if (snap->db == NULL || snap->table == NULL || (where && !snap->where))
        return SL_ENOMEM;
    sl_log_info("snapshot of a table starts", "table=%s.%s id=%s where=%s", db,
                table, snap->id, where ? where : "-");
    return 0;
}

/* The first table schema holds after (db, table) in byte order (after
 * nothing when db is NULL) that capture publishes. */
static const sl_schema_table_t *next_in_schema(sl_snap_t *snap,
                                               const sl_schema_t *schema,
                                               const char *db,
                                               const char *table) {
    size_t n = sl_schema_count(schema);
    for (size_t i = 0; i < n; i++) {
        const sl_schema_table_t *t = sl_schema_at(schema, i);
        if (strcmp(t->db, "sluice") == 0)
            continue; /* Capture's own schema. */
        if (db != NULL) {
            int c = strcmp(t->db, db);
            if (c < 0 || (c == 0 && strcmp(t->name, table) <= 0))
                continue;
        }
        if (snap->o.want_table(snap->o.ctx, t->db, t->name))
            return t;
    }
    return NULL;
}

/* The current table is complete: the next one, or the end. */
int sl__snap_next_table(sl_snap_t *snap, const sl_schema_t *schema) {
    snap->tables_done++;
    if (snap->all && schema != NULL) {
        const sl_schema_table_t *t =
            next_in_schema(snap, schema, snap->db, snap->table);
        if (t != NULL)
            return start_table(snap, t->db, t->name, NULL,
                               snap->all_id[0] ? snap->all_id : NULL);
        snap->all = 0;
        snap->all_id[0] = '\0';
    }
    if (snap->nqueue > 0) {
        qent_t q = snap->queue[0];
        memmove(snap->queue, snap->queue + 1,
                (snap->nqueue - 1) * sizeof *snap->queue);
        snap->nqueue--;
        int err = start_table(snap, q.db, q.table, q.where, q.id);
        free(q.db);
        free(q.table);
        free(q.where);
        free(q.id);
        return err;
    }
    sl_log_info("snapshot complete", "tables=%llu rows=%llu",
                (unsigned long long)snap->tables_done,
                (unsigned long long)snap->rows_total);
    clear_cursor(snap);
    return 0;
}

/* Queues a table (behind the current one, or as the current one when
 * none is active) without owing a start: restore's path. */
static int queue_add(sl_snap_t *snap, const char *db, const char *table,
                     const char *where, const char *id) {
    if (!snap->active)
        return start_table(snap, db, table, where, id);
    return sl__snap_qent_add(&snap->queue, &snap->nqueue, db, table, where, id);
}

int sl_snap_queue_all(sl_snap_t *snap, const sl_schema_t *schema) {
    const sl_schema_table_t *t = next_in_schema(snap, schema, NULL, NULL);
    if (t == NULL)
        return 0;
    int err;
    if (snap->active) {
        /* Behind what is running: the whole set, as explicit tables. */
        for (; t != NULL; t = next_in_schema(snap, schema, t->db, t->name))
            if ((err = sl_snap_queue(snap, t->db, t->name, NULL)) != 0)
                return err;
        return 0;
    }
    /* One id for every table "all" reaches; each table's start is owed
     * now, so that apply's window is open before the stream's first
     * change of it. */
    snap->all = 1;
    new_id(snap->all_id, sizeof snap->all_id);
    if ((err = start_table(snap, t->db, t->name, NULL, snap->all_id)) != 0)
        return err;
    for (; t != NULL && err == 0;
         t = next_in_schema(snap, schema, t->db, t->name))
        err = sl__snap_owe_start(snap, t->db, t->name, snap->all_id);
    return err ? err : sl__snap_new_version(snap);
}

int sl_snap_queue(sl_snap_t *snap, const char *db, const char *table,
                  const char *where) {
    char id[64];
    new_id(id, sizeof id);
    int err = queue_add(snap, db, table, where, id);
    if (err == 0)
        err = sl__snap_owe_start(snap, db, table, id);
    return err ? err : sl__snap_new_version(snap);
}

int sl_snap_restore(sl_snap_t *snap, const char *cursor, uint64_t *skip,
                    char *err, size_t errlen) {
    *skip = 0;
    clear_cursor(snap);
    sl_window_discard(snap->win);
    snap->hw_seen = 0;
    if (snap->job_live)
        snap->job_stale = 1;
    sl_snap_join_free(&snap->join);
    snap->jn = NULL; /* Its watermarks will match nothing. */
    if (cursor == NULL || cursor[0] == '\0')
        return sl__snap_new_version(snap);
    sl_jr_doc_t *d = &snap->doc;
    int rc = sl_jr_parse(d, cursor, strlen(cursor));
    uint64_t v;
    if (rc == 0 && sl_jr_type(d, 0) == SL_JR_OBJECT &&
        (rc = sl__snap_join_parse(d, &snap->join)) == 0 &&
        sl_jr_get(d, 0, "db") == SL_JR_NONE &&
        sl_jr_get(d, 0, "id") == SL_JR_NONE) {
        /* No snapshot pending: only the cover and the join. */
        return sl__snap_new_version(snap);
    }
    if (rc == 0 && sl_jr_type(d, 0) == SL_JR_OBJECT) {
        snap->db = sl__snap_jr_strdup(d, sl_jr_get(d, 0, "db"));
        snap->table = sl__snap_jr_strdup(d, sl_jr_get(d, 0, "table"));
        snap->where = sl__snap_jr_strdup(d, sl_jr_get(d, 0, "where"));
        uint32_t id = sl_jr_get(d, 0, "id");
        if (id == SL_JR_NONE ||
            sl_jr_copy_str(d, id, snap->id, sizeof snap->id) != 0)
            rc = SL_ECORRUPT;
        uint32_t last = sl_jr_get(d, 0, "last");
        if (last != SL_JR_NONE && sl_jr_type(d, last) == SL_JR_ARRAY) {
            size_t n;
            const char *raw = sl_jr_raw(d, last, &n);
            snap->last = strndup(raw, n);
        }
        if (sl_jr_u64(d, sl_jr_get(d, 0, "chunk"), &snap->chunk) != 0 ||
            sl_jr_u64(d, sl_jr_get(d, 0, "rows"), &snap->rows) != 0 ||
            sl_jr_u64(d, sl_jr_get(d, 0, "reserve"), &v) != 0)
            rc = SL_ECORRUPT;
        else
            *skip = v;
        uint32_t all = sl_jr_get(d, 0, "all");
        snap->all = all != SL_JR_NONE && sl_jr_type(d, all) == SL_JR_TRUE;
        uint32_t all_id = sl_jr_get(d, 0, "all_id");
        if (all_id != SL_JR_NONE &&
            sl_jr_copy_str(d, all_id, snap->all_id, sizeof snap->all_id) != 0)
            rc = SL_ECORRUPT;
        uint32_t started = sl_jr_get(d, 0, "started");
        snap->started =
            started != SL_JR_NONE && sl_jr_type(d, started) == SL_JR_TRUE;
        if (rc == 0)
            rc = sl__snap_read_starts(snap, d);
        uint32_t copy = sl_jr_get(d, 0, "copy");
        snap->copy_dropping =
            copy != SL_JR_NONE && sl_jr_type(d, copy) == SL_JR_TRUE;
        /* Absent in cursors written before keyed copies kept their
         * events: those dropped them, and a replay must too. */
        uint32_t keyed = sl_jr_get(d, 0, "copy_keyed");
        snap->copy_keyed = snap->copy_dropping && keyed != SL_JR_NONE &&
                           sl_jr_type(d, keyed) == SL_JR_TRUE;
        uint32_t q = sl_jr_get(d, 0, "queue");
        /* The current table first: queueing renders the cursor. */
        if (snap->db == NULL || snap->table == NULL)
            rc = SL_ECORRUPT;
        /* Active before the queue is read back, so that its entries are
         * queued behind the current table instead of replacing it. */
        snap->active = 1;
        if (rc == 0 && q != SL_JR_NONE && sl_jr_type(d, q) == SL_JR_ARRAY) {
            uint32_t it = q + 1;
            for (uint32_t k = 0; k < sl_jr_tok(d, q)->count && rc == 0; k++) {
                /* [db, table, where] or, with an early start,
                 * [db, table, where, id]. */
                uint32_t cnt = sl_jr_type(d, it) == SL_JR_ARRAY
                                   ? sl_jr_tok(d, it)->count
                                   : 0;
                if (cnt != 3 && cnt != 4) {
                    rc = SL_ECORRUPT;
                    break;
                }
                uint32_t e1 = it + 1, e2 = sl_jr_tok(d, e1)->next,
                         e3 = sl_jr_tok(d, e2)->next;
                char *qd = sl__snap_jr_strdup(d, e1),
                     *qt = sl__snap_jr_strdup(d, e2);
                char *qw = sl__snap_jr_strdup(d, e3);
                char *qi = cnt == 4
                               ? sl__snap_jr_strdup(d, sl_jr_tok(d, e3)->next)
                               : NULL;
                if (qd == NULL || qt == NULL || (cnt == 4 && qi == NULL) ||
                    queue_add(snap, qd, qt, qw, qi) != 0)
                    rc = SL_ECORRUPT;
                free(qd);
                free(qt);
                free(qw);
                free(qi);
                it = sl_jr_tok(d, it)->next;
            }
        }
    } else {
        rc = SL_ECORRUPT;
    }
    if (rc != 0) {
        snprintf(err, errlen,
                 "the checkpoint's snapshot cursor is damaged: %.300s", cursor);
        clear_cursor(snap);
        sl_snap_join_free(&snap->join);
        return SL_ECORRUPT;
    }
    snap->active = 1;
    snap->table_start_ns = sl_mono_ns();
    sl_log_info("snapshot resumes",
                "table=%s.%s id=%s chunk=%llu rows=%llu "
                "reserved_seqs=%llu",
                snap->db, snap->table, snap->id,
                (unsigned long long)snap->chunk, (unsigned long long)snap->rows,
                (unsigned long long)*skip);
    /* The reserved sequences are skipped by the caller: the cursor no
     * longer holds them. */
    snap->reserve = 0;
    return sl__snap_new_version(snap);
}

static int is_watermark(const sl_change_t *chg) {
    return chg->db_len == 6 && memcmp(chg->db, "sluice", 6) == 0 &&
           chg->table_len == 9 && memcmp(chg->table, "watermark", 9) == 0;
}

static int touch_image(sl_snap_t *snap, uint32_t img) {
    if (img == SL_JR_NONE || sl_jr_type(&snap->doc, img) != SL_JR_OBJECT)
        return 0;
    uint64_t hash;
    sl__snap_key(&snap->doc, img, (const char *const *)snap->pknames, snap->npk,
                 &snap->key, &hash);
    return sl_window_touch(snap->win, snap->key.data, snap->key.len);
}

/* A row of a table joining (join.h) before its join position is not
 * published; the first row at or after the position ends the join. */
static int join_skip(sl_snap_t *snap, const sl_change_t *chg, int *consumed) {
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

int sl_snap_on_row(sl_snap_t *snap, const sl_change_t *chg, int *consumed,
                   char *err, size_t errlen) {
    *consumed = 0;
    sl_jr_doc_t *d = &snap->doc;
    int jrc;
    if (snap->join.ntables > 0 &&
        ((jrc = join_skip(snap, chg, consumed)) != 0 || *consumed))
        return jrc;
    sl_change_t view; /* Another format: the images the window reads. */
    if (snap->o.format != SL_FORMAT_SLUICE &&
        (jrc = sl__snap_fmt_view(snap, chg, &view)) != 0)
        return jrc;
    if (snap->o.format != SL_FORMAT_SLUICE)
        chg = &view;
    if (chg->db_len == 6 && memcmp(chg->db, "sluice", 6) == 0 &&
        chg->table_len == 6 && memcmp(chg->table, "signal", 6) == 0) {
        *consumed = 1;
        return sl__snap_signal_row(snap, &snap->doc, chg, snap->name,
                                   snap->o.want_table, snap->o.ctx);
    }
    if (is_watermark(chg)) {
        *consumed = 1;
        if (!snap->job_live || snap->job_stale)
            return 0;
        if (sl_jr_parse(d, chg->json, chg->json_len) != 0)
            return 0;
        uint32_t after = sl_jr_get(d, 0, "after");
        if (after == SL_JR_NONE || sl_jr_type(d, after) != SL_JR_OBJECT)
            return 0;
        uint32_t name = sl__snap_member(d, after, "name", "@1");
        uint32_t mark = sl__snap_member(d, after, "mark", "@2");
        if (name == SL_JR_NONE || mark == SL_JR_NONE ||
            !sl_jr_str_eq(d, name, snap->name, strlen(snap->name)) ||
            sl_jr_type(d, mark) != SL_JR_STRING)
            return 0;
        if (sl_jr_str_eq(d, mark, snap->jp->lw, strlen(snap->jp->lw))) {
            return sl_window_open(snap->win);
        }
        if (sl_jr_str_eq(d, mark, snap->jp->hw, strlen(snap->jp->hw))) {
            if (!sl_window_is_open(snap->win)) {
                /* Its low watermark was not seen in this session: read
                 * the chunk again. */
                snap->job_stale = 1;
                return 0;
            }
            uint32_t src = sl_jr_get(d, 0, "src");
            size_t n = 0;
            const char *raw = src != SL_JR_NONE ? sl_jr_raw(d, src, &n) : "{}";
            sl_buf_reset(&snap->hw_src);
            if (sl_buf_append(&snap->hw_src, raw, src != SL_JR_NONE ? n : 2))
                return SL_ENOMEM;
            snap->hw_seen = 1;
        }
        return 0;
    }
    if (snap->copy_dropping && sl__snap_copy_drops(snap, chg)) {
        *consumed = 1;
        return 0;
    }
    if (!sl_window_is_open(snap->win) || snap->jp->db[0] == '\0' ||
        chg->table_len != strlen(snap->jp->table) ||
        chg->db_len != strlen(snap->jp->db) ||
        memcmp(chg->table, snap->jp->table, chg->table_len) != 0 ||
        memcmp(chg->db, snap->jp->db, chg->db_len) != 0)
        return 0;
    if (sl_jr_parse(d, chg->json, chg->json_len) != 0) {
        snprintf(err, errlen,
                 "%s:%llu: a row event of %s.%s (in a snapshot window) is "
                 "not valid JSON",
                 chg->file, (unsigned long long)chg->pos, snap->jp->db,
                 snap->jp->table);
        return SL_ECORRUPT;
    }
    int rc = touch_image(snap, sl_jr_get(d, 0, "before"));
    if (rc == 0)
        rc = touch_image(snap, sl_jr_get(d, 0, "after"));
    return rc;
}

void sl_snap_on_ddl(sl_snap_t *snap, const char *db, const char *table) {
    if (snap->cv != NULL && strcmp(db, snap->db) == 0 &&
        strcmp(table, snap->table) == 0) {
        /* Copied under the new definition, in a view opened after it. */
        sl__snap_copy_close(snap->cv);
        snap->cv = NULL;
    }
    if (!snap->job_live || strcmp(db, snap->jp->db) != 0 ||
        strcmp(table, snap->jp->table) != 0)
        return;
    /* The chunk was read under the old definition, or the table changed
     * under the window: read it again under the new one. */
    sl_log_info("snapshot chunk discarded: DDL on its table",
                "table=%s.%s chunk=%llu", db, table,
                (unsigned long long)snap->chunk);
    sl_window_discard(snap->win);
    snap->hw_seen = 0;
    snap->job_stale = 1;
    snap->jn = NULL; /* It starts where the discarded chunk ended. */
}

typedef struct {
    sl_snap_t *snap;
    size_t n;
} emit_t;

/* The members every snapshot event ends with: the high watermark's "src",
 * then the format version, as the decoder's events end ("v":1,
 * docs/change-events.md). */
static void render_tail(sl_json_t *json, sl_snap_t *snap) {
    sl_json_key(json, "src");
    sl_json_raw(json, (const char *)snap->hw_src.data, snap->hw_src.len);
    sl_json_key(json, "v");
    sl_json_uint(json, 1);
}

/* A surviving row: rendered as a read event, queued in snap->out as
 * [u32 len][json][u64 hash]. */
static int survivor_cb(void *ctx, const void *key, size_t klen, const void *row,
                       size_t rowlen) {
    (void)key;
    (void)klen;
    emit_t *em = ctx;
    sl_snap_t *snap = em->snap;
    /* The routing hash is the payload's last 8 bytes. */
    uint64_t hash;
    rowlen -= sizeof hash;
    memcpy(&hash, (const uint8_t *)row + rowlen, sizeof hash);
    size_t at = snap->out.len;
    uint32_t len = 0;
    sl_buf_append(&snap->out, &len, sizeof len);
    if (sl__snap_render_read(snap, &snap->out, row, rowlen, em->n) != 0)
        return SL_ENOMEM;
    len = (uint32_t)(snap->out.len - at - sizeof len);
    memcpy(snap->out.data + at, &len, sizeof len);
    em->n++;
    return sl_buf_append(&snap->out, &hash, sizeof hash);
}

/* A read event of the after image row, appended to out. */
int sl__snap_render_read(sl_snap_t *snap, sl_buf_t *out, const void *row,
                         size_t rowlen, uint64_t n) {
    if (snap->o.format != SL_FORMAT_SLUICE)
        return sl__snap_fmt_read(snap, out, row, rowlen);
    sl_json_t json;
    sl_json_init(&json, out);
    sl_json_obj_begin(&json);
    sl_json_key(&json, "kind");
    sl_json_str(&json, "row");
    sl_json_key(&json, "op");
    sl_json_str(&json, "read");
    sl_json_key(&json, "db");
    sl_json_str(&json, snap->jp->db);
    sl_json_key(&json, "table");
    sl_json_str(&json, snap->jp->table);
    sl_json_key(&json, "row");
    sl_json_uint(&json, n);
    sl_json_key(&json, "pk");
    sl_json_arr_begin(&json);
    for (size_t k = 0; k < snap->npk; k++)
        sl_json_str(&json, snap->pknames[k]);
    sl_json_arr_end(&json);
    sl_json_key(&json, "before");
    sl_json_null(&json);
    sl_json_key(&json, "after");
    sl_json_raw(&json, row, rowlen);
    sl_json_key(&json, "snapshot");
    sl_json_obj_begin(&json);
    sl_json_key(&json, "id");
    sl_json_str(&json, snap->id);
    sl_json_key(&json, "chunk");
    sl_json_uint(&json, snap->chunk);
    sl_json_obj_end(&json);
    render_tail(&json, snap);
    sl_json_obj_end(&json);
    return sl_json_error(&json);
}

/* snapshot_start or snapshot_done. */
int sl__snap_render_marker(sl_snap_t *snap, int done, sl_buf_t *out) {
    if (snap->o.format != SL_FORMAT_SLUICE)
        return sl__snap_fmt_marker(snap, done, out);
    sl_json_t json;
    sl_buf_reset(out);
    sl_json_init(&json, out);
    sl_json_obj_begin(&json);
    sl_json_key(&json, "kind");
    sl_json_str(&json, done ? "snapshot_done" : "snapshot_start");
    sl_json_key(&json, "db");
    sl_json_str(&json, snap->jp->db);
    sl_json_key(&json, "table");
    sl_json_str(&json, snap->jp->table);
    sl_json_key(&json, "snapshot");
    sl_json_obj_begin(&json);
    sl_json_key(&json, "id");
    sl_json_str(&json, snap->id);
    if (done) {
        sl_json_key(&json, "chunks");
        sl_json_uint(&json, snap->chunk + 1);
        sl_json_key(&json, "rows");
        sl_json_uint(&json, snap->rows);
    } else {
        sl_json_key(&json, "estimate");
        sl_json_uint(&json, snap->estimate);
        if (snap->copy_dropping) {
            /* A keyless table's copy replaces the target table's rows
             * (docs/snapshot.md, one-shot copies). */
            sl_json_key(&json, "copy");
            sl_json_bool(&json, 1);
            if (snap->npk == 0) {
                sl_json_key(&json, "reset");
                sl_json_bool(&json, 1);
            }
        }
    }
    sl_json_obj_end(&json);
    render_tail(&json, snap);
    sl_json_obj_end(&json);
    return sl_json_error(&json);
}

static int add_job_rows(sl_snap_t *snap) {
    const sl_buf_t *r = &snap->jp->rows;
    size_t off = 0;
    while (off < r->len) {
        uint32_t klen, alen;
        memcpy(&klen, r->data + off, sizeof klen);
        const uint8_t *key = r->data + off + sizeof klen;
        memcpy(&alen, key + klen, sizeof alen);
        const uint8_t *after = key + klen + sizeof alen;
        /* The routing hash travels with the image as the payload's last
         * 8 bytes (survivor_cb takes it off). */
        int err = sl_window_add_row(snap->win, key, klen, after,
                                    alen + sizeof(uint64_t));
        if (err != 0)
            return err;
        off = (size_t)(after + alen + sizeof(uint64_t) - r->data);
    }
    return 0;
}

/* The next chunk's size: scaled toward the target read time (at most
 * halved or doubled at once), within the bounds; and the rate limit's
 * account of rows read. */
static void adapt(sl_snap_t *snap, const sl__snap_job_t *job) {
    snap->rate_rows += job->nrows;
    if (snap->o.chunk_time_ms == 0 || job->nrows < job->limit)
        return;
    double want = (double)snap->o.chunk_time_ms * 1000.0;
    double got = job->read_us > 0 ? (double)job->read_us : 1.0;
    double size = (double)snap->chunk_size * want / got;
    if (size > 2.0 * snap->chunk_size)
        size = 2.0 * snap->chunk_size;
    if (size < snap->chunk_size / 2.0)
        size = snap->chunk_size / 2.0;
    if (size < snap->o.chunk_min)
        size = (double)snap->o.chunk_min;
    if (size > snap->o.chunk_max)
        size = (double)snap->o.chunk_max;
    snap->chunk_size = (size_t)size;
}

int sl_snap_on_commit(sl_snap_t *snap, const sl_schema_t *schema,
                      const char *file, uint64_t pos, char *err,
                      size_t errlen) {
    int rc;
    if (snap->nstarts > 0 &&
        (rc = sl_snap_flush_starts(snap, schema, file, pos, err, errlen)) != 0)
        return rc;
    if (snap->gone_done && snap->active)
        return sl__snap_gone_done(snap, schema, file, pos);
    if (snap->copy_want || snap->copy_dropping)
        return sl__snap_copy_on_commit(snap, schema, file, pos, err, errlen);
    if (!snap->hw_seen)
        return 0;
    snap->hw_seen = 0;
    sl__snap_job_t *job = snap->jp;
    sl__snap_job_state_t st = sl__snap_worker_state(snap->worker, job);
    if (st != SL__JOB_READ && st != SL__JOB_DONE &&
        !(st == SL__JOB_FAILED && job->rows_ready)) {
        snprintf(err, errlen,
                 "snapshot of %s.%s: the high watermark of chunk %llu is in "
                 "the binlog but its rows were never handed over",
                 job->db, job->table, (unsigned long long)snap->chunk);
        return SL_EINVAL;
    }
    if ((rc = add_job_rows(snap)) != 0)
        return rc;
    sl_buf_reset(&snap->out);
    emit_t em = {snap, 0};
    size_t dropped = 0;
    if ((rc = sl_window_close(snap->win, survivor_cb, &em, &dropped)) != 0)
        return rc;
    if (snap->chunk == 0)
        snap->estimate = job->estimate;
    /* The table's start, unless it went out when the snapshot was asked
     * for (sl_snap_flush_starts). */
    int first = snap->chunk == 0 && !snap->started;
    int done = job->nrows < job->limit;
    /* Reserve the sequences of everything this chunk publishes, and make
     * that the checkpoint before the first of them goes out. */
    snap->reserve = em.n + (size_t)first + (size_t)done;
    if ((rc = sl__snap_new_version(snap)) != 0 ||
        (rc = snap->o.boundary(snap->o.ctx, 1)) != 0)
        return rc;
    sl_buf_t marker = SL_BUF_INIT;
    if (first && (rc = sl__snap_render_marker(snap, 0, &marker)) == 0)
        rc = sl__snap_publish(snap, job->db, job->table, 0, 1,
                              (const char *)marker.data, marker.len);
    size_t off = 0;
    while (rc == 0 && off < snap->out.len) {
        uint32_t len;
        memcpy(&len, snap->out.data + off, sizeof len);
        const char *json = (const char *)snap->out.data + off + sizeof len;
        uint64_t hash;
        memcpy(&hash, json + len, sizeof hash);
        rc = sl__snap_publish(snap, job->db, job->table, hash, 0, json, len);
        off += sizeof len + len + sizeof hash;
    }
    snap->rows += em.n;
    snap->rows_total += em.n;
    snap->dropped_total += dropped;
    if (rc == 0 && done && (rc = sl__snap_render_marker(snap, 1, &marker)) == 0)
        rc = sl__snap_publish(snap, job->db, job->table, 0, 1,
                              (const char *)marker.data, marker.len);
    sl_buf_free(&marker);
    if (rc != 0)
        return rc;
    sl_log_debug("snapshot chunk published",
                 "table=%s.%s chunk=%llu read=%zu dropped=%zu read_ms=%.1f",
                 job->db, job->table, (unsigned long long)snap->chunk,
                 job->nrows, dropped, job->read_us / 1000.0);
    snap->job_consumed = 1;
    snap->reserve = 0;
    adapt(snap, job);
    if (job->nrows > 0) {
        free(snap->last);
        snap->last = strdup((const char *)job->last_read.data);
        if (snap->last == NULL)
            return SL_ENOMEM;
    }
    snap->chunk++;
    if (done) {
        sl_snap_report(snap, 1);
        sl_log_info("snapshot of a table done",
                    "table=%s.%s id=%s chunks=%llu rows=%llu", job->db,
                    job->table, snap->id, (unsigned long long)snap->chunk,
                    (unsigned long long)snap->rows);
        if ((rc = sl__snap_next_table(snap, schema)) != 0)
            return rc;
    }
    if ((rc = sl__snap_new_version(snap)) != 0)
        return rc;
    return snap->o.boundary(snap->o.ctx, 0);
}

/* How a snapshot reads column c of t (*kind 0: not published), or why it
 * cannot read the table. */
static int column_kind(sl_snap_t *snap, const sl_schema_table_t *t,
                       const sl_schema_col_t *c, sl__snap_kind_t *kind,
                       char *err, size_t errlen) {
    *kind = 0;
    if (c->hidden ||
        !snap->o.want_column(snap->o.ctx, t->db, t->name, c->name)) {
        if (!c->is_pk)
            return 0;
        snprintf(err, errlen,
                 "snapshot of %s.%s: primary-key column %s is "
                 "excluded, so read rows could not be matched "
                 "with the stream",
                 t->db, t->name, c->name);
        return SL_EUNSUPPORTED;
    }
    *kind = sl__snap_kind(c->data_type, c->charset);
    if (*kind == 0 || (c->is_pk && *kind == SL__SNAP_JSON) ||
        (c->is_pk && strcmp(c->data_type, "enum") == 0) ||
        (c->is_pk && strcmp(c->data_type, "set") == 0) ||
        (c->is_pk && (strcmp(c->data_type, "float") == 0 ||
                      strcmp(c->data_type, "double") == 0))) {
        snprintf(err, errlen,
                 "snapshot of %s.%s: column %s of type %s cannot be "
                 "read by a snapshot%s; exclude it (--exclude-column) "
                 "or the table (--exclude), or run with "
                 "--snapshot never",
                 t->db, t->name, c->name, c->column_type,
                 c->is_pk ? " as a primary-key column" : "");
        return SL_EUNSUPPORTED;
    }
    return 0;
}

static int refuse_keyless(const sl_schema_table_t *t, char *err,
                          size_t errlen) {
    snprintf(err, errlen,
             "snapshot of %s.%s refused: the table has no primary key, "
             "so chunks cannot be read in key order nor merged with "
             "the stream exactly; add a primary key, exclude the table "
             "(--exclude), or copy it in one consistent read "
             "(--snapshot-copy keyless, MariaDB; docs/snapshot.md, "
             "tables without a primary key)",
             t->db, t->name);
    return SL_EUNSUPPORTED;
}

int sl__snap_check_table(sl_snap_t *snap, const sl_schema_table_t *t, char *err,
                         size_t errlen) {
    size_t npk = 0;
    for (size_t i = 0; i < t->ncols; i++) {
        sl__snap_kind_t kind;
        int rc = column_kind(snap, t, &t->cols[i], &kind, err, errlen);
        if (rc != 0)
            return rc;
        npk += t->cols[i].is_pk != 0;
    }
    if (npk == 0 && snap->o.copy_mode == SL_SNAP_COPY_NO)
        return refuse_keyless(t, err, errlen);
    return 0;
}

/* Builds the next chunk's job from the cursor and the table's definition
 * in the schema history. */
int sl__snap_build_job(sl_snap_t *snap, sl__snap_job_t *job,
                       const sl_schema_table_t *t, const char *last,
                       uint64_t chunk, char *err, size_t errlen) {
    sl__snap_job_clear(job);
    free_pk(snap);
    snprintf(job->db, sizeof job->db, "%s", snap->db);
    snprintf(job->table, sizeof job->table, "%s", snap->table);
    job->cols = calloc(t->ncols ? t->ncols : 1, sizeof *job->cols);
    job->pk = calloc(t->ncols ? t->ncols : 1, sizeof *job->pk);
    snap->pknames = calloc(t->ncols ? t->ncols : 1, sizeof *snap->pknames);
    if (job->cols == NULL || job->pk == NULL || snap->pknames == NULL)
        return SL_ENOMEM;
    size_t npk = 0;
    for (size_t i = 0; i < t->ncols; i++) {
        const sl_schema_col_t *c = &t->cols[i];
        npk += c->is_pk != 0;
        sl__snap_kind_t kind;
        int rc = column_kind(snap, t, c, &kind, err, errlen);
        if (rc != 0)
            return rc;
        if (kind == 0)
            continue; /* Not published. */
        job->cols[job->ncols].name = strdup(c->name);
        job->cols[job->ncols].kind = kind;
        if (job->cols[job->ncols].name == NULL)
            return SL_ENOMEM;
        job->ncols++;
    }
    if (npk == 0 && !snap->copy_dropping)
        return refuse_keyless(t, err, errlen);
    for (int seq = 1; (size_t)seq <= npk; seq++)
        for (size_t i = 0; i < job->ncols; i++) {
            const sl_schema_col_t *c = NULL;
            for (size_t j = 0; j < t->ncols; j++)
                if (strcmp(t->cols[j].name, job->cols[i].name) == 0)
                    c = &t->cols[j];
            if (c != NULL && c->pk_seq == seq) {
                job->pk[job->npk++] = i;
                snap->pknames[snap->npk] = strdup(c->name);
                if (snap->pknames[snap->npk++] == NULL)
                    return SL_ENOMEM;
            }
        }
    if (job->npk != npk) {
        snprintf(err, errlen,
                 "snapshot of %s.%s: the schema history's primary key is "
                 "inconsistent",
                 t->db, t->name);
        return SL_EINVAL;
    }
    int frc = sl__snap_fmt_job(job, snap->o.format, t);
    if (frc != 0)
        return frc;
    job->last = last ? strdup(last) : NULL;
    job->where = snap->where ? strdup(snap->where) : NULL;
    job->limit = snap->chunk_size;
    job->want_estimate = chunk == 0;
    snap->mark_seq++;
    snprintf(job->lw, sizeof job->lw, "%.40s:%llu:L:%016llx%llx", snap->id,
             (unsigned long long)chunk, (unsigned long long)snap->nonce,
             (unsigned long long)snap->mark_seq);
    snprintf(job->hw, sizeof job->hw, "%.40s:%llu:H:%016llx%llx", snap->id,
             (unsigned long long)chunk, (unsigned long long)snap->nonce,
             (unsigned long long)snap->mark_seq);
    return 0;
}

/* While the live job waits for its high watermark in the stream, hands the
 * worker the table's next chunk (jn), which starts after the last key the
 * live one read. The worker writes the live job's high watermark before
 * the next one's low watermark, so each chunk keeps a window of its own
 * and the capture thread meets them one after the other; a live job that
 * is discarded takes the next one with it (it would start at a key the
 * re-read may not end at). Not under a rate limit, whose account counts
 * published chunks. */
static int pipeline(sl_snap_t *snap, const sl_schema_t *schema, char *err,
                    size_t errlen) {
    sl__snap_job_t *jp = snap->jp;
    if (snap->jn != NULL || snap->job_stale || snap->o.rate > 0 ||
        !jp->rows_ready || jp->nrows == 0 || jp->nrows < jp->limit ||
        jp->last_read.len == 0)
        return 0;
    sl__snap_job_t *next = &snap->jobs[jp == &snap->jobs[0]];
    sl__snap_job_state_t st = sl__snap_worker_state(snap->worker, next);
    if (st == SL__JOB_QUEUED || st == SL__JOB_READ)
        return 0;
    const sl_schema_table_t *t = sl_schema_find(
        schema, snap->db, strlen(snap->db), snap->table, strlen(snap->table));
    if (t == NULL || strcmp(jp->db, snap->db) != 0 ||
        strcmp(jp->table, snap->table) != 0)
        return 0;
    int rc = sl__snap_build_job(snap, next, t, (const char *)jp->last_read.data,
                                snap->chunk + 1, err, errlen);
    if (rc != 0)
        return rc;
    snap->jn = next;
    sl__snap_worker_submit(snap->worker, next);
    return 0;
}

int sl_snap_step(sl_snap_t *snap, const sl_schema_t *schema,
                 const char *written, char *err, size_t errlen) {
    gc(snap, written);
    sl__snap_job_t *job = snap->jp;
    if (snap->job_live && snap->job_consumed) {
        /* Published: the worker may still be finishing its high watermark,
         * so the next chunk takes the other job (below), unless it is
         * already under way. */
        snap->job_live = 0;
        snap->backoff_ms = 0;
        if (snap->jn != NULL) {
            job = snap->jp = snap->jn;
            snap->jn = NULL;
            snap->job_live = 1;
            snap->job_consumed = 0;
            snap->job_stale = 0;
        }
    }
    if (snap->job_live) {
        sl__snap_job_state_t st = sl__snap_worker_state(snap->worker, job);
        if (st == SL__JOB_QUEUED)
            return 0;
        if (st == SL__JOB_READ && snap->job_stale)
            return 0;
        if (st == SL__JOB_READ ||
            (st == SL__JOB_DONE && !snap->job_consumed && !snap->job_stale))
            /* Its high watermark is still ahead in the stream: meanwhile
             * the worker may read the next chunk. */
            return pipeline(snap, schema, err, errlen);
        if (st == SL__JOB_FAILED && !snap->job_consumed) {
            if (job->err != SL_ECONN && !snap->job_stale) {
                snprintf(err, errlen, "%s", job->errmsg);
                return job->err;
            }
            if (job->err == SL_ECONN) {
                if (sl_mono_ns() >= snap->retry_at_ns)
                    sl_log_warn("snapshot: source unreachable; the chunk "
                                "will be read again",
                                "error=\"%s\"", job->errmsg);
                snap->backoff_ms =
                    snap->backoff_ms ? snap->backoff_ms * 2 : 200;
                if (snap->backoff_ms > 5000)
                    snap->backoff_ms = 5000;
                snap->retry_at_ns =
                    sl_mono_ns() + (uint64_t)snap->backoff_ms * 1000000u;
            }
        } else {
            snap->backoff_ms = 0;
        }
        snap->job_live = 0;
        snap->job_stale = 0;
        snap->jn = NULL; /* It starts where the discarded chunk ended. */
        sl_window_discard(snap->win);
        snap->hw_seen = 0;
    }
    if (!snap->active || sl_mono_ns() < snap->retry_at_ns)
        return 0;
    if (snap->o.rate > 0) {
        /* Rows read so far may not outrun rate rows/s. */
        uint64_t now = sl_mono_ns();
        if (snap->rate_start_ns == 0 || now - snap->rate_start_ns > 10e9) {
            snap->rate_start_ns = now;
            snap->rate_rows = 0;
        }
        if ((double)snap->rate_rows / snap->o.rate * 1e9 >
            (double)(now - snap->rate_start_ns))
            return 0;
    }
    const sl_schema_table_t *t = sl_schema_find(
        schema, snap->db, strlen(snap->db), snap->table, strlen(snap->table));
    if (t == NULL && snap->started) {
        /* Its window opened early: its snapshot_done closes it, at the
         * next commit (sl__snap_gone_done). */
        snap->gone_done = 1;
        return 0;
    }
    if (t == NULL) {
        sl_log_warn("snapshot: the table is gone; its snapshot ends",
                    "table=%s.%s", snap->db, snap->table);
        int rc = sl__snap_next_table(snap, schema);
        if (rc == 0)
            rc = sl__snap_new_version(snap);
        return rc;
    }
    int keyless = 1;
    for (size_t i = 0; i < t->ncols; i++)
        keyless &= !t->cols[i].is_pk;
    if (snap->o.copy_mode == SL_SNAP_COPY_ALL ||
        (snap->o.copy_mode == SL_SNAP_COPY_KEYLESS && keyless))
        return sl__snap_copy_step(snap, keyless, err, errlen);
    /* The job before the live one has finished (the worker runs them in
     * order); the live one may still be writing its high watermark. */
    sl__snap_job_t *next = &snap->jobs[snap->jp == &snap->jobs[0]];
    sl__snap_job_state_t nst = sl__snap_worker_state(snap->worker, next);
    if (nst == SL__JOB_QUEUED || nst == SL__JOB_READ) {
        next = snap->jp;
        nst = sl__snap_worker_state(snap->worker, next);
        if (nst == SL__JOB_QUEUED || nst == SL__JOB_READ)
            return 0;
    }
    snap->jp = next;
    job = next;
    int rc =
        sl__snap_build_job(snap, job, t, snap->last, snap->chunk, err, errlen);
    if (rc != 0)
        return rc;
    snap->job_live = 1;
    snap->job_consumed = 0;
    snap->job_stale = 0;
    sl__snap_worker_submit(snap->worker, job);
    return 0;
}

void sl_snap_put_stats(const sl_snap_t *snap, sl_buf_t *b) {
    sl_buf_printf(b, "STAT snapshot_active %d\r\n", snap->active);
    sl_buf_printf(b, "STAT snapshot_rows_total %llu\r\n",
                  (unsigned long long)snap->rows_total);
    sl_buf_printf(b, "STAT snapshot_rows_dropped %llu\r\n",
                  (unsigned long long)snap->dropped_total);
    sl_buf_printf(b, "STAT snapshot_tables_done %llu\r\n",
                  (unsigned long long)snap->tables_done);
    sl_buf_printf(b, "STAT snapshot_join_rows_skipped %llu\r\n",
                  (unsigned long long)snap->join_skipped);
    sl_buf_printf(b, "STAT snapshot_copy_rows_dropped %llu\r\n",
                  (unsigned long long)snap->copy_skipped);
    if (!snap->active)
        return;
    sl_buf_printf(b, "STAT snapshot_table %s.%s\r\n", snap->db, snap->table);
    sl_buf_printf(b, "STAT snapshot_id %s\r\n", snap->id);
    sl_buf_printf(b, "STAT snapshot_rows %llu\r\n",
                  (unsigned long long)snap->rows);
    sl_buf_printf(b, "STAT snapshot_estimate %llu\r\n",
                  (unsigned long long)snap->estimate);
    sl_buf_printf(b, "STAT snapshot_chunks %llu\r\n",
                  (unsigned long long)snap->chunk);
    sl_buf_printf(b, "STAT snapshot_rows_per_s %.0f\r\n", snap->rate);
    sl_buf_printf(b, "STAT snapshot_tables_queued %zu\r\n", snap->nqueue);
}

void sl_snap_report(sl_snap_t *snap, int force) {
    uint64_t now = sl_mono_ns();
    if (!snap->active)
        return;
    if (!force && now - snap->last_report_ns < 5000000000ull)
        return;
    double secs = (now - snap->last_report_ns) / 1e9;
    if (snap->last_report_ns != 0 && secs > 0)
        snap->rate = (snap->rows - snap->report_rows) / secs;
    snap->last_report_ns = now;
    snap->report_rows = snap->rows;
    double eta = -1;
    if (snap->rate > 0 && snap->estimate > snap->rows)
        eta = (snap->estimate - snap->rows) / snap->rate;
    sl_log_info("snapshot progress",
                "table=%s.%s rows=%llu estimate=%llu chunk=%llu "
                "rows_per_s=%.0f eta_s=%.0f queued=%zu",
                snap->db, snap->table, (unsigned long long)snap->rows,
                (unsigned long long)snap->estimate,
                (unsigned long long)snap->chunk, snap->rate, eta, snap->nqueue);
}
