/* The one-shot consistent copy; see copy_int.h. */
#include "copy_int.h"

#include "capture/schema/history.h"
#include "clock.h"
#include "error.h"
#include "json.h"
#include "log.h"
#include "state_int.h"

#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct sl__snap_copy_s {
    MYSQL *mysql;
    sl_buf_t sql, row;
};

int sl_snap_copy_mode_parse(const char *text, sl_snap_copy_mode_t *mode) {
    if (strcmp(text, "no") == 0)
        *mode = SL_SNAP_COPY_NO;
    else if (strcmp(text, "keyless") == 0)
        *mode = SL_SNAP_COPY_KEYLESS;
    else if (strcmp(text, "all") == 0)
        *mode = SL_SNAP_COPY_ALL;
    else
        return SL_EINVAL;
    return 0;
}

/* The session's error as err; SL_ECONN for a lost or refused connection
 * (the copy is tried again later), SL_EDB otherwise. */
static int failed(sl__snap_copy_t *c, const char *what, char *err,
                  size_t errlen) {
    unsigned code = mysql_errno(c->mysql);
    snprintf(err, errlen, "%s: %s (%u)", what, mysql_error(c->mysql), code);
    return (code >= 2000 && code < 3000) || code == 1040 /* too many */
               ? SL_ECONN
               : SL_EDB;
}

void sl__snap_copy_close(sl__snap_copy_t *c) {
    if (c == NULL)
        return;
    if (c->mysql != NULL)
        mysql_close(c->mysql); /* Ends the read view (rolls back). */
    sl_buf_free(&c->sql);
    sl_buf_free(&c->row);
    free(c);
}

int sl__snap_copy_open(sl__snap_copy_t **out, const sl__snap_worker_opts_t *src,
                       char *file, size_t filelen, uint64_t *pos, char *err,
                       size_t errlen) {
    *out = NULL;
    sl__snap_copy_t *c = calloc(1, sizeof *c);
    if (c == NULL || (c->mysql = mysql_init(NULL)) == NULL) {
        free(c);
        snprintf(err, errlen, "out of memory");
        return SL_ENOMEM;
    }
    sl__snap_session_options(c->mysql, src->connect_timeout_ms, src->tls,
                             src->tls_insecure, src->tls_ca);
    int rc = 0;
    if (mysql_real_connect(c->mysql, src->host, src->user, src->password, NULL,
                           src->port, NULL, 0) == NULL) {
        rc = failed(c, "snapshot copy: connecting to the source", err, errlen);
        if (rc == SL_EDB)
            rc = SL_ECONN;
    }
    /* TIMESTAMP values in UTC, as the binlog carries them; one read view
     * for the whole copy. */
    if (rc == 0 &&
        (mysql_query(c->mysql, "SET SESSION time_zone = '+00:00'") != 0 ||
         mysql_query(c->mysql, "SET SESSION TRANSACTION ISOLATION LEVEL "
                               "REPEATABLE READ") != 0 ||
         mysql_query(c->mysql, "START TRANSACTION WITH CONSISTENT SNAPSHOT") !=
             0))
        rc = failed(c, "snapshot copy: opening the read view", err, errlen);
    /* In the same session: the position that matches the view. */
    MYSQL_RES *res = NULL;
    if (rc == 0 &&
        (mysql_query(c->mysql, "SHOW STATUS LIKE 'binlog_snapshot_%'") != 0 ||
         (res = mysql_store_result(c->mysql)) == NULL))
        rc = failed(c, "snapshot copy: reading Binlog_snapshot_file/position",
                    err, errlen);
    int have_file = 0, have_pos = 0;
    MYSQL_ROW row;
    while (rc == 0 && (row = mysql_fetch_row(res)) != NULL) {
        if (row[0] == NULL || row[1] == NULL)
            continue;
        if (strcasecmp(row[0], "Binlog_snapshot_file") == 0 && row[1][0]) {
            const char *slash = strrchr(row[1], '/');
            snprintf(file, filelen, "%s", slash ? slash + 1 : row[1]);
            have_file = 1;
        } else if (strcasecmp(row[0], "Binlog_snapshot_position") == 0) {
            char *end;
            *pos = strtoull(row[1], &end, 10);
            have_pos = end != row[1] && *end == '\0';
        }
    }
    if (res != NULL)
        mysql_free_result(res);
    if (rc == 0 && (!have_file || !have_pos)) {
        snprintf(err, errlen,
                 "snapshot copy: the source names no binlog position for a "
                 "consistent read view (Binlog_snapshot_file/position, which "
                 "MariaDB has and MySQL has not), so a one-shot copy cannot "
                 "be joined with the stream exactly; give the table a "
                 "primary key (or a NOT NULL unique key) and use "
                 "--snapshot-copy no, or exclude it (--exclude)");
        rc = SL_EUNSUPPORTED;
    }
    if (rc != 0) {
        sl__snap_copy_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

static void ident(sl_buf_t *b, const char *name) {
    sl_buf_append_u8(b, '`');
    for (const char *p = name; *p; p++) {
        if (*p == '`')
            sl_buf_append_u8(b, '`');
        sl_buf_append_u8(b, (uint8_t)*p);
    }
    sl_buf_append_u8(b, '`');
}

/* "SELECT <what> FROM db.t [WHERE (cond)]" in c->sql, NUL-terminated. */
static const char *build(sl__snap_copy_t *c, const sl__snap_job_t *job,
                         int count) {
    sl_buf_t *b = &c->sql;
    sl_buf_reset(b);
    sl_buf_append_str(b, "SELECT ");
    if (count)
        sl_buf_append_str(b, "COUNT(*)");
    for (size_t i = 0; !count && i < job->ncols; i++) {
        if (i)
            sl_buf_append_str(b, ", ");
        ident(b, job->cols[i].name);
        if (job->cols[i].kind == SL__SNAP_BIT)
            sl_buf_append_str(b, "+0");
        sl_buf_append_str(b, sl__snap_fmt_select_suffix(job, i));
    }
    sl_buf_append_str(b, " FROM ");
    ident(b, job->db);
    sl_buf_append_u8(b, '.');
    ident(b, job->table);
    if (job->where != NULL) {
        sl_buf_append_str(b, " WHERE (");
        sl_buf_append_str(b, job->where);
        sl_buf_append_u8(b, ')');
    }
    const char *text = NULL;
    return sl_buf_cstr(b, &text) == 0 ? text : NULL;
}

int sl__snap_copy_count(sl__snap_copy_t *c, sl__snap_job_t *job, uint64_t *n,
                        char *err, size_t errlen) {
    const char *sql = build(c, job, 1);
    if (sql == NULL)
        return SL_ENOMEM;
    MYSQL_RES *res = NULL;
    if (mysql_query(c->mysql, sql) != 0 ||
        (res = mysql_store_result(c->mysql)) == NULL)
        return failed(c, "snapshot copy: counting the rows", err, errlen);
    MYSQL_ROW row = mysql_fetch_row(res);
    int rc = row != NULL && row[0] != NULL ? 0 : SL_EDB;
    if (rc == 0)
        *n = strtoull(row[0], NULL, 10);
    else
        snprintf(err, errlen, "snapshot copy: COUNT(*) returned no row");
    mysql_free_result(res);
    return rc;
}

int sl__snap_copy_rows(sl__snap_copy_t *c, sl__snap_job_t *job, uint64_t n,
                       int (*row_cb)(void *ctx, const char *json, size_t len),
                       void *ctx, char *err, size_t errlen) {
    const char *sql = build(c, job, 0);
    if (sql == NULL)
        return SL_ENOMEM;
    MYSQL_RES *res = NULL;
    /* Streamed: memory is one row, whatever the table's size. */
    if (mysql_query(c->mysql, sql) != 0 ||
        (res = mysql_use_result(c->mysql)) == NULL)
        return failed(c, "snapshot copy: reading the rows", err, errlen);
    uint64_t got = 0;
    int rc = 0;
    MYSQL_ROW row;
    while (rc == 0 && (row = mysql_fetch_row(res)) != NULL) {
        const unsigned long *lens = mysql_fetch_lengths(res);
        if (++got > n)
            break;
        rc = sl__snap_render_row(job, row, lens, &c->row);
        if (rc == SL_ECORRUPT)
            snprintf(err, errlen,
                     "snapshot copy of %.100s.%.100s: a value the server "
                     "returned is not what its column type allows",
                     job->db, job->table);
        if (rc == 0)
            rc = row_cb(ctx, (const char *)c->row.data, c->row.len);
    }
    if (rc == 0 && mysql_errno(c->mysql) != 0)
        rc = failed(c, "snapshot copy: reading the rows", err, errlen);
    mysql_free_result(res);
    if (rc == 0 && got != n) {
        snprintf(err, errlen,
                 "snapshot copy of %.100s.%.100s: the read view gave %llu "
                 "rows after counting %llu",
                 job->db, job->table, (unsigned long long)got,
                 (unsigned long long)n);
        rc = SL_ECORRUPT;
    }
    return rc;
}

/* ---- The copy route of the driver (state_int.h) ---- */

/* A row event of the table being copied while its copy is pending. One at
 * or after the open view's position closes the view (the copy, published
 * after it, would undo it): a view opened later holds it.
 *
 * A keyless table's event goes into the copy (dropped here): its copy
 * starts with "reset", which empties the target table anyway, and an
 * update or delete without a key could not be applied tolerantly.
 *
 * A keyed table's event is published as usual: the table's window is open
 * from the snapshot's start (starts.c), so apply takes it tolerantly, and
 * the copy's rows, upserts of the state at the view's position, come after
 * every event before that position. Dropping them instead lost rows when
 * capture was killed while the copy was being published: the restart
 * copies again under a later view, and the keys the first, partial copy
 * had published and that were deleted between the two views kept their
 * stale rows, their deletes dropped (found by
 * capture_snapshot_copies_every_table_without_watermarks). */
int sl__snap_copy_drops(sl_snap_t *snap, const sl_change_t *chg) {
    if (chg->db_len != strlen(snap->db) ||
        chg->table_len != strlen(snap->table) ||
        memcmp(chg->db, snap->db, chg->db_len) != 0 ||
        memcmp(chg->table, snap->table, chg->table_len) != 0)
        return 0;
    if (snap->cv != NULL &&
        sl_history_cmp(chg->file, chg->pos, snap->cv_file, snap->cv_pos) >= 0) {
        sl__snap_copy_close(snap->cv);
        snap->cv = NULL;
    }
    if (snap->copy_keyed)
        return 0;
    snap->copy_skipped++;
    return 1;
}

typedef struct {
    sl_snap_t *snap;
    uint64_t n;
    unsigned pause_ms; /* Test hook: see copy_row_cb. */
    sl_jr_doc_t doc;
} copy_row_t;

/* One row of the copy, published as a read event. */
static int copy_row_cb(void *ctx, const char *json, size_t len) {
    copy_row_t *cr = ctx;
    sl_snap_t *snap = cr->snap;
    uint64_t hash = 0;
    int rc = 0;
    if (snap->npk > 0 && (rc = sl_jr_parse(&cr->doc, json, len)) == 0)
        sl__snap_key(&cr->doc, 0, (const char *const *)snap->pknames, snap->npk,
                     &snap->key, &hash);
    sl_buf_reset(&snap->out);
    if (rc == 0)
        rc = sl__snap_render_read(snap, &snap->out, json, len, cr->n++);
    if (rc == 0)
        rc = sl__snap_publish(snap, snap->db, snap->table, hash, 0,
                              (const char *)snap->out.data, snap->out.len);
    if (rc == 0 && cr->n == 2048 && cr->pause_ms > 0) {
        /* Test hook (SLUICE_SNAPSHOT_TEST_COPY_PAUSE_MS): a pause in the
         * middle of the copy's rows, where a test kills capture. */
        sl_log_info("snapshot copy: test pause", "rows=%llu",
                    (unsigned long long)cr->n);
        struct timespec ts = {cr->pause_ms / 1000,
                              (long)(cr->pause_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    return rc;
}

/* The stream reached the open view's position: the copy is published
 * here, its sequences reserved first (a restart reads it again under a
 * new view), and the checkpoint after it is written before the stream
 * goes on, so a replay never meets the table's later events without the
 * copy before them. */
static int copy_publish(sl_snap_t *snap, const sl_schema_t *schema, char *err,
                        size_t errlen) {
    const sl_schema_table_t *t = sl_schema_find(
        schema, snap->db, strlen(snap->db), snap->table, strlen(snap->table));
    if (t == NULL)
        return 0; /* Gone: sl_snap_step ends its snapshot. */
    sl__snap_job_t *job = &snap->jobs[snap->jp == &snap->jobs[0]];
    for (int i = 0; i < 2; i++, job = snap->jp) {
        sl__snap_job_state_t st = sl__snap_worker_state(snap->worker, job);
        if (st != SL__JOB_QUEUED && st != SL__JOB_READ)
            break;
    }
    sl__snap_job_state_t st = sl__snap_worker_state(snap->worker, job);
    if (st == SL__JOB_QUEUED || st == SL__JOB_READ)
        return 0; /* The worker still writes a watermark: next commit. */
    snap->jp = job;
    uint64_t n = 0;
    int rc =
        sl__snap_build_job(snap, job, t, snap->last, snap->chunk, err, errlen);
    if (rc == 0 && (rc = sl__snap_copy_count(snap->cv, job, &n, err, errlen)) ==
                       SL_ECONN) {
        sl_log_warn("snapshot copy: the view's session broke; a new view "
                    "will be opened",
                    "error=\"%s\"", err);
        sl__snap_copy_close(snap->cv);
        snap->cv = NULL;
        return 0;
    }
    if (rc != 0)
        return rc;
    snap->estimate = n;
    snap->chunk = 0;
    sl_buf_reset(&snap->hw_src);
    sl_json_t json;
    sl_json_init(&json, &snap->hw_src);
    sl_json_obj_begin(&json);
    sl_json_key(&json, "file");
    sl_json_str(&json, snap->cv_file);
    sl_json_key(&json, "pos");
    sl_json_uint(&json, snap->cv_pos);
    sl_json_key(&json, "end_pos");
    sl_json_uint(&json, snap->cv_pos);
    sl_json_key(&json, "server_id");
    sl_json_uint(&json, 0);
    sl_json_key(&json, "ts");
    sl_json_uint(&json, (uint64_t)time(NULL));
    sl_json_obj_end(&json);
    snap->reserve = n + 2;
    sl_buf_t marker = SL_BUF_INIT;
    if ((rc = sl_json_error(&json)) == 0 &&
        (rc = sl__snap_new_version(snap)) == 0 &&
        (rc = snap->o.boundary(snap->o.ctx, 1)) == 0 &&
        (rc = sl__snap_render_marker(snap, 0, &marker)) == 0)
        rc = sl__snap_publish(snap, snap->db, snap->table, 0, 1,
                              (const char *)marker.data, marker.len);
    const char *pause = getenv("SLUICE_SNAPSHOT_TEST_COPY_PAUSE_MS");
    copy_row_t cr = {.snap = snap,
                     .pause_ms =
                         pause ? (unsigned)strtoul(pause, NULL, 10) : 0};
    sl_jr_init(&cr.doc);
    if (rc == 0)
        rc =
            sl__snap_copy_rows(snap->cv, job, n, copy_row_cb, &cr, err, errlen);
    sl_jr_free(&cr.doc);
    snap->rows = n;
    if (rc == 0 && (rc = sl__snap_render_marker(snap, 1, &marker)) == 0)
        rc = sl__snap_publish(snap, snap->db, snap->table, 0, 1,
                              (const char *)marker.data, marker.len);
    sl_buf_free(&marker);
    if (rc != 0)
        return rc;
    snap->rows_total += n;
    snap->reserve = 0;
    sl_snap_report(snap, 1);
    sl_log_info("snapshot of a table done",
                "table=%s.%s id=%s copy=1 file=%s pos=%llu rows=%llu", snap->db,
                snap->table, snap->id, snap->cv_file,
                (unsigned long long)snap->cv_pos, (unsigned long long)n);
    if ((rc = sl__snap_next_table(snap, schema)) != 0 ||
        (rc = sl__snap_new_version(snap)) != 0)
        return rc;
    return snap->o.boundary(snap->o.ctx, 1);
}

/* The copy route at a commit: a copy just decided becomes the checkpoint
 * (from there on the table's events are dropped, after a restart too);
 * an open view whose position the stream has reached is published. */
int sl__snap_copy_on_commit(sl_snap_t *snap, const sl_schema_t *schema,
                            const char *file, uint64_t pos, char *err,
                            size_t errlen) {
    if (snap->copy_want) {
        snap->copy_want = 0;
        snap->copy_dropping = 1;
        sl_log_info(snap->copy_keyed
                        ? "snapshot copy decided: its rows will be upserted "
                          "at its view's position"
                        : "snapshot copy decided: the table's row events go "
                          "into its copy until it is published",
                    "table=%s.%s id=%s", snap->db, snap->table, snap->id);
        int rc = sl__snap_new_version(snap);
        return rc ? rc : snap->o.boundary(snap->o.ctx, 1);
    }
    if (snap->cv == NULL ||
        sl_history_cmp(file, pos, snap->cv_file, snap->cv_pos) < 0)
        return 0;
    return copy_publish(snap, schema, err, errlen);
}

/* The copy route between transactions: decides the copy, then opens its
 * read view (again after a broken session or a view the stream passed). */
int sl__snap_copy_step(sl_snap_t *snap, int keyless, char *err, size_t errlen) {
    if (keyless && snap->where != NULL) {
        snprintf(err, errlen,
                 "snapshot of %s.%s with a condition refused: the table has "
                 "no primary key, so its copy replaces the target table's "
                 "rows and a partial copy would lose the others",
                 snap->db, snap->table);
        return SL_EUNSUPPORTED;
    }
    if (!snap->copy_dropping) {
        snap->copy_want = 1;
        snap->copy_keyed = !keyless;
        return 0;
    }
    if (snap->cv != NULL)
        return 0;
    int rc =
        sl__snap_copy_open(&snap->cv, &snap->wo, snap->cv_file,
                           sizeof snap->cv_file, &snap->cv_pos, err, errlen);
    if (rc == SL_ECONN) {
        sl_log_warn("snapshot copy: source unreachable; trying again",
                    "error=\"%s\"", err);
        snap->retry_at_ns = sl_mono_ns() + 2000000000ull;
        return 0;
    }
    if (rc == 0)
        sl_log_info("snapshot copy: read view open",
                    "table=%s.%s file=%s "
                    "pos=%llu",
                    snap->db, snap->table, snap->cv_file,
                    (unsigned long long)snap->cv_pos);
    return rc;
}
