/*
 * The one-shot consistent copy (docs/snapshot.md, "One-shot copies"): a
 * table read whole in one read view whose binlog position the server
 * names, for tables that cannot be read in key-ordered chunks (no primary
 * key) and for sources where capture cannot write its watermark table.
 *
 * MariaDB only: START TRANSACTION WITH CONSISTENT SNAPSHOT, then
 * SHOW STATUS LIKE 'binlog_snapshot_%' in the same session gives
 * Binlog_snapshot_file/position, the binlog position that matches the
 * read view exactly (every transaction before it is in the view, none
 * after it). Capture drops the table's row events from the moment the
 * copy is decided until its stream reaches that position, publishes the
 * copy there, and the table's events after it go out as usual
 * (stream.c). MySQL has no such status: the copy is refused there.
 *
 * Used by the capture thread only (snapshot.c, stream.c); the session is its
 * own, not the worker's.
 */
#ifndef SL_CAPTURE_SNAPSHOT_COPY_INT_H
#define SL_CAPTURE_SNAPSHOT_COPY_INT_H

#include "buf.h"
#include "internal.h"
#include "snapshot.h"

#include <stddef.h>
#include <stdint.h>

typedef struct sl__snap_copy_s sl__snap_copy_t;

/* Opens a session and its read view; file/pos get the matching binlog
 * position (the file name without a directory). *out is owned by the
 * caller (sl__snap_copy_close). Returns 0, SL_ECONN (retry later),
 * SL_EUNSUPPORTED (the server names no position: not MariaDB), or
 * another error, with err set. */
int sl__snap_copy_open(sl__snap_copy_t **out, const sl__snap_worker_opts_t *src,
                       char *file, size_t filelen, uint64_t *pos, char *err,
                       size_t errlen);
/* Ends the read view and the session. NULL is a no-op. */
void sl__snap_copy_close(sl__snap_copy_t *c);

/* The rows of job's table (its columns, job->where if any) in the read
 * view: *n gets their count; then sl__snap_copy_rows hands each row's
 * after image to row_cb in turn and fails with SL_ECORRUPT if their
 * number is not *n. */
int sl__snap_copy_count(sl__snap_copy_t *c, sl__snap_job_t *job, uint64_t *n,
                        char *err, size_t errlen);
int sl__snap_copy_rows(sl__snap_copy_t *c, sl__snap_job_t *job, uint64_t n,
                       int (*row_cb)(void *ctx, const char *json, size_t len),
                       void *ctx, char *err, size_t errlen);

#endif
