/* The snapshot driver's side of the stream, in the capture thread: row
 * events (watermarks, signals, rows in a chunk's window), DDL on the
 * table being read, and the commit that closes a chunk's window and
 * publishes its surviving rows; see snapshot.h. */
#include "snapshot.h"

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

int sl_snap_on_row(sl_snap_t *snap, const sl_change_t *chg, int *consumed,
                   char *err, size_t errlen) {
    *consumed = 0;
    sl_jr_doc_t *d = &snap->doc;
    int jrc;
    if (snap->join.ntables > 0 &&
        ((jrc = sl__snap_join_skip(snap, chg, consumed)) != 0 || *consumed))
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
