/* The snapshot driver in the capture thread; see snapshot.h. */
#include "snapshot.h"

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
    sl__snap_free_pk(snap);
    while (snap->vhead != NULL) {
        ver_t *v = snap->vhead;
        snap->vhead = v->next;
        free(v);
    }
    sl_buf_free(&snap->hw_src);
    sl_buf_free(&snap->starts_src);
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
