/*
 * The snapshot driver's state (snapshot.c), shared with the files that
 * drive parts of it: stream.c (row events, DDL and commits), render.c
 * (events in the sluice format), job.c (a chunk's job), copy.c (the
 * one-shot copy route), signal.c (signal rows), starts.c (early starts)
 * and join.c (the cursor's join). Capture thread only, like everything in
 * sl_snap_t.
 */
#ifndef SL_CAPTURE_SNAPSHOT_STATE_INT_H
#define SL_CAPTURE_SNAPSHOT_STATE_INT_H

#include "copy_int.h"
#include "internal.h"
#include "json.h"
#include "jsonread.h"
#include "snapshot.h"
#include "window.h"

#include <stddef.h>
#include <stdint.h>

/* A cursor text handed out for a boundary; kept until a newer one has
 * been written as the checkpoint. */
typedef struct ver_s {
    struct ver_s *next;
    char text[];
} ver_t;

/* A queued table. id: the snapshot id its snapshot_start was published
 * under when the snapshot was asked for (an early start), or NULL (a
 * cursor written before early starts: a new id, and the start with the
 * table's first chunk). In the pending starts (starts below), where is
 * unused and id always set. */
typedef struct {
    char *db, *table, *where, *id;
} qent_t;

struct sl_snap_s {
    sl_snap_opts_t o;
    char *name;
    sl__snap_worker_t *worker;
    sl__snap_job_t jobs[2]; /* The live job and the one before it. */
    sl__snap_job_t *jp;     /* The live (or last) job. */
    int job_live;           /* Submitted, and its outcome not yet settled. */
    int job_stale;    /* Its watermarks are to be ignored (DDL, restart). */
    int job_consumed; /* Its high watermark was met and its rows published. */
    /* The next chunk of the same table, handed to the worker while the
     * live one waits for its high watermark (the worker writes that
     * first, so the two windows never overlap in the binlog), or NULL. */
    sl__snap_job_t *jn;
    uint64_t nonce, mark_seq;
    sl_window_t *win;
    uint64_t retry_at_ns;
    unsigned backoff_ms;
    size_t chunk_size;      /* The next chunk's rows (adapts). */
    uint64_t rate_start_ns; /* Rate limit: since when rate_rows count. */
    uint64_t rate_rows;

    /* The cursor. */
    int active;
    char id[64];
    char *db, *table, *where;
    char *last; /* JSON array, or NULL at the table's start. */
    uint64_t chunk, rows, reserve;
    int all;
    /* started: the current table's snapshot_start went out when the
     * snapshot was asked for (its first chunk publishes none). all_id:
     * the id of the tables "all" reaches, whose starts went out at the
     * snapshot's start; "" for a cursor without early starts. */
    int started;
    int gone_done; /* The started table is gone: its done is owed. */
    char all_id[64];
    qent_t *queue;
    size_t nqueue;
    /* Early starts owed (sl_snap_flush_starts): the snapshot_start of each
     * table just asked for, published before any later stream event; src
     * is the position they are published at, set when they are checkpointed
     * (empty before), so that a replay renders them byte for byte. */
    qent_t *starts;
    size_t nstarts;
    sl_buf_t starts_src;
    char *cover; /* The rules the bookkeeping covers (join.h). */
    /* The one-shot copy (copy_int.h) of the current table: wanted (decided,
     * made the checkpoint at the next commit), then dropping (the
     * table's row events are dropped until the copy is published).
     * copy_keyed: the table has a primary key, so its row events are
     * published, not dropped (copy.c, sl__snap_copy_drops). */
    int copy_want, copy_dropping, copy_keyed;
    sl__snap_copy_t *cv; /* The open read view, or NULL. */
    char cv_file[256];
    uint64_t cv_pos;
    sl__snap_worker_opts_t wo;
    sl_snap_join_t join; /* Tables joining, while pending (join.h). */

    char **pknames; /* Of the job's table. */
    size_t npk;
    int hw_seen;
    sl_buf_t hw_src; /* The "src" of the high watermark's row event. */

    ver_t *vhead, *vtail;
    sl_buf_t out, key, tmp;
    sl_buf_t fview; /* render_fmt.c: a stream row's images and position. */
    sl_jr_doc_t doc;

    /* Progress. */
    uint64_t estimate, table_start_ns, last_report_ns, report_rows;
    uint64_t tables_done, rows_total, dropped_total, join_skipped;
    uint64_t copy_skipped;
    double rate;
};

/* snapshot.c: the cursor as a new version for the next boundary; the
 * current table is complete (the next one, or the end). */
int sl__snap_new_version(sl_snap_t *snap);
int sl__snap_next_table(sl_snap_t *snap, const sl_schema_t *schema);
/* What a snapshot_start or snapshot_done event says: the current table's
 * (sl__snap_render_marker) or an early start's (starts.c). The pointers
 * are borrowed for the call. */
typedef struct {
    const char *db, *table, *id;
    uint64_t estimate;     /* snapshot_start: rows expected. */
    uint64_t chunks, rows; /* snapshot_done: chunks read, rows published. */
    int copy;              /* snapshot_start of a one-shot copy, */
    int reset;             /* of a keyless table (the target is emptied). */
    const sl_buf_t *src;   /* The event's "src": the position it is at. */
} sl__snap_marker_t;

/* render.c: the snapshot_start (done 0) or snapshot_done event of the
 * current table, or as m says (_of), into out; a read event of an after
 * image appended to out. */
int sl__snap_render_marker(sl_snap_t *snap, int done, sl_buf_t *out);
int sl__snap_render_marker_of(sl_snap_t *snap, const sl__snap_marker_t *m,
                              int done, sl_buf_t *out);
int sl__snap_render_read(sl_snap_t *snap, sl_buf_t *out, const void *row,
                         size_t rowlen, uint64_t n);
/* job.c: frees the primary-key names of the job's table (snap->pknames). */
void sl__snap_free_pk(sl_snap_t *snap);
/* job.c: whether a snapshot can read t (its key, its column types): 0, or
 * SL_EUNSUPPORTED with err saying why and what to do. */
int sl__snap_check_table(sl_snap_t *snap, const sl_schema_table_t *t, char *err,
                         size_t errlen);
/* Fills job with the chunk of the cursor's table after key last (a JSON
 * array, or NULL at the table's start), chunk number chunk. */
int sl__snap_build_job(sl_snap_t *snap, sl__snap_job_t *job,
                       const sl_schema_table_t *t, const char *last,
                       uint64_t chunk, char *err, size_t errlen);

/* render_fmt.c: read rows in the other formats (docs/snapshot.md).
 * sl__snap_fmt_job builds the job's columns in format from t; the stream
 * row chg as *view, whose json holds only its images and the position
 * ({"before":..,"after":..,"src":{..}}, in snap->fview) for the window;
 * a read event (debezium: then a NUL byte and the record key) and a
 * snapshot_start/done event (empty where the format has none) of the
 * current table; sl__snap_publish publishes either (the key split off). */
int sl__snap_fmt_job(sl__snap_job_t *job, sl_binlog_format_t format,
                     const sl_schema_table_t *t);
int sl__snap_fmt_view(sl_snap_t *snap, const sl_change_t *chg,
                      sl_change_t *view);
int sl__snap_fmt_read(sl_snap_t *snap, sl_buf_t *out, const void *row,
                      size_t rowlen);
int sl__snap_fmt_marker(sl_snap_t *snap, const sl__snap_marker_t *m, int done,
                        sl_buf_t *out);
int sl__snap_publish(sl_snap_t *snap, const char *db, const char *table,
                     uint64_t hash, int all_parts, const char *json,
                     size_t len);

/* copy.c: whether a row event goes into the pending copy (dropped);
 * the copy route at a commit at file:pos; and between transactions. */
int sl__snap_copy_drops(sl_snap_t *snap, const sl_change_t *chg);
int sl__snap_copy_on_commit(sl_snap_t *snap, const sl_schema_t *schema,
                            const char *file, uint64_t pos, char *err,
                            size_t errlen);
int sl__snap_copy_step(sl_snap_t *snap, int keyless, char *err, size_t errlen);

/* signal.c. A row of sluice.signal (parsed into d): an insert for the
 * capture named
 * capture_name queues the tables it names that want captures. */
int sl__snap_signal_row(sl_snap_t *snap, sl_jr_doc_t *d, const sl_change_t *chg,
                        const char *capture_name,
                        int (*want)(void *ctx, const char *db,
                                    const char *table),
                        void *ctx);
/* A malloc'd copy of string token i, or NULL (not a string, no memory). */
char *sl__snap_jr_strdup(const sl_jr_doc_t *doc, uint32_t i);
/* Member name of obj, else member pos (a positional image's "@N"). */
uint32_t sl__snap_member(const sl_jr_doc_t *d, uint32_t obj, const char *name,
                         const char *pos);

/* starts.c (early starts, snapshot.h). Queue entries: free a list;
 * append copies (where and id may be NULL). The start of db.table under id
 * is owed. The cursor's "starts" member read from d (token 0) and
 * rendered into json (nothing when none is owed). */
void sl__snap_qents_free(qent_t **q, size_t *n);
int sl__snap_qent_add(qent_t **q, size_t *n, const char *db, const char *table,
                      const char *where, const char *id);
int sl__snap_owe_start(sl_snap_t *snap, const char *db, const char *table,
                       const char *id);
int sl__snap_read_starts(sl_snap_t *snap, const sl_jr_doc_t *d);
void sl__snap_render_starts(const sl_snap_t *snap, sl_json_t *json);
/* The current table, whose start went out early, is gone (dropped): its
 * snapshot_done goes out at the commit at file:pos, its sequence reserved
 * first, and the snapshot moves on. */
int sl__snap_gone_done(sl_snap_t *snap, const sl_schema_t *schema,
                       const char *file, uint64_t pos);

/* join.c. Reads the "join" member of the cursor doc (an object at token
 * 0) into out (left empty when there is none). Returns 0, SL_ECORRUPT or
 * SL_ENOMEM. */
int sl__snap_join_parse(const sl_jr_doc_t *d, sl_snap_join_t *out);
/* join.c: a row event chg of a table joining, before the join position,
 * is not published (*consumed set); the first at or after it ends the
 * join. */
int sl__snap_join_skip(sl_snap_t *snap, const sl_change_t *chg, int *consumed);

#endif
