/* The live capture service's side of snapshots: the hooks the snapshot
 * module calls, and its start at a first start, a restart and a start
 * over; see service.h and capture/snapshot/snapshot.h. */
#include "service_int.h"

#include "error.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Snapshot hooks (capture/snapshot/snapshot.h). */
static int snap_publish_cb(void *ctx, const char *db, const char *table,
                           uint64_t key_hash, int all_parts, const char *json,
                           size_t len) {
    sl__svc_t *svc = ctx;
    uint32_t n =
        all_parts && svc->route.mode == SL_ROUTE_KEY ? svc->route.buckets : 1;
    int err = 0;
    for (uint32_t b = 0; b < n && err == 0; b++)
        err = sl__svc_publish_to(svc, db, strlen(db), table, strlen(table),
                                 n > 1 ? b : key_hash, json, len, 0, NULL, 0);
    return err;
}

static int snap_publish_key_cb(void *ctx, const char *db, const char *table,
                               uint64_t key_hash, const char *json, size_t len,
                               const char *key, size_t key_len) {
    sl__svc_t *svc = ctx;
    return sl__svc_publish_to(svc, db, strlen(db), table, strlen(table),
                              key_hash, json, len, 0, key, key_len);
}

static int snap_boundary_cb(void *ctx, int force) {
    sl__svc_t *svc = ctx;
    sl_checkpoint_t at;
    int err;
    if (svc->snap_at != NULL) {
        at = *svc->snap_at;
        at.snap = sl_snap_cursor(svc->snap);
        err = sl_publish_boundary(svc->pub, &at);
    } else {
        err = sl__svc_boundary_here(svc);
    }
    if (err == 0 && force && (err = sl_publish_sync(svc->pub, 1, 0)) != 0)
        snprintf(svc->err, sizeof svc->err, "%s", sl_publish_error(svc->pub));
    return err;
}

static int snap_want_column_cb(void *ctx, const char *db, const char *table,
                               const char *column) {
    sl__svc_t *svc = ctx;
    return sl_filter_column(svc->filter, db, strlen(db), table, strlen(table),
                            column, strlen(column));
}

/* Before the stream, at the resume point at: the snapshot starts the
 * cursor owes go out (capture/snapshot/snapshot.h, early starts). */
int sl__svc_snap_resume(sl__svc_t *svc, const sl_checkpoint_t *at) {
    svc->snap_at = at;
    int rc = sl_snap_flush_starts(svc->snap, svc->schema, at->file, at->pos,
                                  svc->err, sizeof svc->err);
    svc->snap_at = NULL;
    return rc;
}

int sl__svc_snap_step(sl__svc_t *svc) {
    sl_checkpoint_t written;
    const char *w =
        sl_publish_last_checkpoint(svc->pub, &written) ? written.snap : NULL;
    return sl_snap_step(svc->snap, svc->schema, w, svc->err, sizeof svc->err);
}

static int snap_render_cover(sl__svc_t *svc) {
    const sl_strlist_t *inc = sl_config_get_list(&svc->cfg, "include");
    const sl_strlist_t *exc = sl_config_get_list(&svc->cfg, "exclude");
    int rc = sl_snap_cover_render((const char *const *)inc->items, inc->count,
                                  (const char *const *)exc->items, exc->count,
                                  &svc->snap_cov);
    return rc ? rc : sl_buf_append_u8(&svc->snap_cov, '\0');
}

/* At a restart: the tables that entered the include filters since the
 * checkpoint's snapshot cursor was written (capture/snapshot/join.h);
 * their definitions join the history before its record is written. */
int sl__svc_snap_join_find(sl__svc_t *svc) {
    sl_snap_join_free(&svc->sjoin);
    if (svc->snap_mode == SL_SNAP_NEVER)
        return 0;
    int rc = snap_render_cover(svc);
    if (rc == 0)
        rc = sl_snap_join_find(&svc->sjoin, svc->resume->snap,
                               (const char *)svc->snap_cov.data, &svc->src_opts,
                               svc->schema, sl__svc_want_table, svc, svc->err,
                               sizeof svc->err);
    return rc;
}

/* Starts the snapshot module: the cursor of the checkpoint resumed from,
 * or on a first start (snapshot=initial/when_needed) every captured table. */
int sl__svc_snap_start(sl__svc_t *svc, const char *name, sl_checkpoint_t *cp) {
    uint64_t chunk = 4096, cmin = 256, cmax = 65536, ctime = 250, rate = 0,
             threads = 0, lag_ms = 0;
    if (sl_config_get_u64(&svc->cfg, "snapshot-chunk", &chunk) != 0 ||
        sl_config_get_u64(&svc->cfg, "snapshot-chunk-min", &cmin) != 0 ||
        sl_config_get_u64(&svc->cfg, "snapshot-chunk-max", &cmax) != 0 ||
        sl_config_get_ms(&svc->cfg, "snapshot-chunk-time", &ctime) != 0 ||
        sl_config_get_u64(&svc->cfg, "snapshot-rate", &rate) != 0 ||
        sl_config_get_u64(&svc->cfg, "snapshot-max-threads-running",
                          &threads) != 0 ||
        sl_config_get_ms(&svc->cfg, "snapshot-max-replica-lag", &lag_ms) != 0 ||
        chunk == 0 || chunk > 1000000 || cmin == 0 || cmax < cmin ||
        cmax > 1000000) {
        snprintf(svc->err, sizeof svc->err,
                 "the --snapshot-* options are out of range (chunk sizes "
                 "1..1000000, min <= max): %s",
                 svc->cfg.err);
        return SL_EUSAGE;
    }
    if (svc->snap_mode != SL_SNAP_NEVER && svc->snap_cov.len == 0 &&
        snap_render_cover(svc) != 0)
        return SL_ENOMEM;
    sl_snap_copy_mode_t copy_mode;
    if (sl_snap_copy_mode_parse(sl_config_get(&svc->cfg, "snapshot-copy"),
                                &copy_mode) != 0) {
        snprintf(svc->err, sizeof svc->err,
                 "--snapshot-copy must be no, keyless or all");
        return SL_EUSAGE;
    }
    if (chunk < cmin)
        cmin = chunk;
    if (chunk > cmax)
        cmax = chunk;
    sl_snap_opts_t so = {
        .host = svc->host,
        .user = svc->user,
        .password = svc->password,
        .tls_ca = svc->src_opts.tls_ca,
        .port = svc->src_opts.port,
        .tls = svc->src_opts.tls,
        .tls_insecure = svc->src_opts.tls_insecure,
        .name = name,
        .cover = svc->snap_mode != SL_SNAP_NEVER
                     ? (const char *)svc->snap_cov.data
                     : NULL,
        .chunk_rows = chunk,
        .copy_mode = copy_mode,
        .chunk_min = cmin,
        .chunk_max = cmax,
        .chunk_time_ms = ctime,
        .rate = rate,
        .max_threads_running = threads,
        .max_lag_s = (lag_ms + 999) / 1000,
        .publish = snap_publish_cb,
        .publish_key = snap_publish_key_cb,
        .format_name = sl_config_get(&svc->cfg, "topic"),
        .boundary = snap_boundary_cb,
        .want_table = sl__svc_want_table,
        .want_column = snap_want_column_cb,
        .ctx = svc,
    };
    /* Read rows in the stream's format (capture/snapshot/render_fmt.c). */
    if (sl_binlog_format_parse(sl_config_get(&svc->cfg, "format"),
                               &so.format) != 0 ||
        sl_config_get_bool(&svc->cfg, "debezium-schemas", &so.format_schemas))
        return SL_EUSAGE;
    int rc = sl_snap_new(&svc->snap, &so);
    if (rc != 0)
        return rc;
    uint64_t skip = 0;
    if (cp != NULL) {
        if ((rc = sl_snap_restore(svc->snap, cp->snap, &skip, svc->err,
                                  sizeof svc->err)) != 0)
            return rc;
        sl_publish_set_seq(svc->pub, cp->next_seq + skip);
        if (svc->sjoin.file[0] == '\0')
            return sl__svc_snap_resume(svc, cp);
        /* Tables joined: the queue is the checkpoint before anything is
         * published, so no restart or reconnect can drop it. */
        sl_checkpoint_t at = *cp;
        if ((rc = sl_snap_join(svc->snap, &svc->sjoin)) != 0)
            return rc;
        at.snap = sl_snap_cursor(svc->snap);
        if ((rc = sl_publish_boundary(svc->pub, &at)) != 0 ||
            (rc = sl_publish_sync(svc->pub, 1, 0)) != 0) {
            snprintf(svc->err, sizeof svc->err, "%s",
                     sl_publish_error(svc->pub));
            return rc;
        }
        return sl__svc_snap_resume(svc, &at);
    }
    if (svc->snap_mode == SL_SNAP_NEVER)
        return 0;
    if ((rc = sl_snap_queue_all(svc->snap, svc->schema)) != 0 ||
        svc->start_file == NULL)
        return rc; /* A GTID start: the starts go out at the first commit. */
    sl_checkpoint_t first;
    memset(&first, 0, sizeof first);
    snprintf(first.file, sizeof first.file, "%s", svc->start_file);
    first.pos = svc->start_pos;
    return sl__svc_snap_resume(svc, &first);
}

/* --snapshot when_needed, and the checkpoint's position was purged from
 * the source: capture starts over at the source's current end with a
 * fresh schema history and a snapshot of every captured table. The new
 * position becomes the checkpoint before anything is published from it,
 * so a restart never replays the old sequences with other messages. */
int sl__svc_snap_start_over(sl__svc_t *svc, sl_checkpoint_t *cp, int *have_cp) {
    sl_log_warn("the checkpoint's position was purged from the source; "
                "starting over at the end with a snapshot (--snapshot "
                "when_needed)",
                "file=%s pos=%llu error=\"%s\"", cp->file,
                (unsigned long long)cp->pos, svc->err);
    free(svc->start_file);
    free(svc->start_gtid);
    svc->start_file = NULL;
    svc->start_gtid = NULL;
    svc->resume = NULL;
    int rc = sl__svc_with_source_retry(svc, sl__svc_init_schema);
    uint64_t skip = 0;
    if (rc == 0)
        rc = sl_snap_restore(svc->snap, NULL, &skip, svc->err, sizeof svc->err);
    if (rc == 0)
        rc = sl_snap_queue_all(svc->snap, svc->schema);
    if (rc != 0)
        return rc;
    sl_checkpoint_t fresh;
    memset(&fresh, 0, sizeof fresh);
    snprintf(fresh.file, sizeof fresh.file, "%s",
             svc->start_file ? svc->start_file : "");
    fresh.pos = svc->start_pos;
    fresh.snap = sl_snap_cursor(svc->snap);
    if ((rc = sl_publish_boundary(svc->pub, &fresh)) != 0 ||
        (rc = sl_publish_sync(svc->pub, 1, 0)) != 0) {
        snprintf(svc->err, sizeof svc->err, "%s", sl_publish_error(svc->pub));
        return rc;
    }
    if (sl_publish_last_checkpoint(svc->pub, cp)) {
        *have_cp = 1;
    }
    svc->err[0] = '\0';
    return SL_EAGAIN;
}
