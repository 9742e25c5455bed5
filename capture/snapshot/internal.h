/*
 * Shared between the files of the snapshot module (capture/snapshot/):
 * the chunk job that the capture thread hands to the worker thread, and
 * the rendering of rows and keys that both sides must do alike.
 *
 * A job's rows are stored in job->rows as records
 *   [u32 klen][key][u32 alen][after image JSON][u64 routing hash]
 * in key order, native byte order (they never leave the process).
 */
#ifndef SL_CAPTURE_SNAPSHOT_INTERNAL_H
#define SL_CAPTURE_SNAPSHOT_INTERNAL_H

#include "buf.h"
#include "jsonread.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/* How a column's value is selected, rendered and written as a literal. */
typedef enum {
    SL__SNAP_NUM = 1,  /* Integers, YEAR, FLOAT/DOUBLE: a JSON number. */
    SL__SNAP_BIT = 2,  /* BIT: selected as col+0, a JSON number. */
    SL__SNAP_DEC = 3,  /* DECIMAL: a JSON string of the digits. */
    SL__SNAP_STR = 4,  /* Text, ENUM, SET: a JSON string. */
    SL__SNAP_BIN = 5,  /* BINARY/VARBINARY/BLOB: {"base64": ...}. */
    SL__SNAP_TIME = 6, /* DATE/TIME/DATETIME/TIMESTAMP: a string. */
    SL__SNAP_JSON = 7, /* MySQL JSON: the document itself. */
    SL__SNAP_GEOM = 8  /* Spatial: SRID and WKB, as the binlog holds them. */
} sl__snap_kind_t;

typedef struct {
    char *name;
    sl__snap_kind_t kind;
} sl__snap_col_t;

typedef enum {
    SL__JOB_IDLE = 0,   /* Nothing to do. */
    SL__JOB_QUEUED = 1, /* Handed over; the worker has not finished. */
    SL__JOB_READ = 2,   /* The rows are in; the high watermark is next. */
    SL__JOB_DONE = 3,   /* Both watermarks written. */
    SL__JOB_FAILED = 4  /* err/errmsg say why. */
} sl__snap_job_state_t;

typedef struct {
    sl__snap_job_state_t state; /* Under the worker's lock. */
    /* Written by the capture thread while the job is IDLE/DONE/FAILED. */
    char db[256], table[256];
    sl__snap_col_t *cols; /* Owned. */
    size_t ncols;
    size_t *pk; /* Indexes into cols, in primary-key order. Owned. */
    size_t npk;
    char *last;  /* JSON array of the key to read after, or NULL. Owned. */
    char *where; /* An extra condition, or NULL. Owned. */
    size_t limit;
    int want_estimate;
    char lw[96], hw[96]; /* The watermark marks. */
    int format;          /* sl_binlog_format_t of the rows (render_fmt.c). */
    struct sl__snap_fmtcol_s *fcols; /* NULL in the sluice format. Owned. */
    /* Written by the worker while QUEUED. */
    sl_buf_t rows;
    size_t nrows;
    int rows_ready;     /* The rows are complete (set before READ). */
    sl_buf_t last_read; /* JSON array of the last row's key ("" none). */
    uint64_t estimate;
    uint64_t read_us; /* How long the SELECT took. */
    int err;
    char errmsg[768];
} sl__snap_job_t;

/* The worker thread: one client session to the source. */
typedef struct sl__snap_worker_s sl__snap_worker_t;

typedef struct {
    /* Copied by sl__snap_worker_start. */
    const char *host, *user, *password, *tls_ca;
    uint16_t port;
    int tls, tls_insecure;
    uint32_t connect_timeout_ms;
    const char *name; /* This capture's watermark row. */
    /* Before each chunk, wait while the source is this busy (0: never). */
    uint64_t max_threads_running, max_lag_s;
} sl__snap_worker_opts_t;

int sl__snap_worker_start(sl__snap_worker_t **out,
                          const sl__snap_worker_opts_t *opts);
void sl__snap_worker_stop(sl__snap_worker_t *w);
/* Hands job over (its state must not be QUEUED or READ). */
void sl__snap_worker_submit(sl__snap_worker_t *w, sl__snap_job_t *job);
/* The job's state, read under the worker's lock. */
sl__snap_job_state_t sl__snap_worker_state(sl__snap_worker_t *w,
                                           const sl__snap_job_t *job);
void sl__snap_job_clear(sl__snap_job_t *job);

/* The window key of an image (an object token of doc): for each
 * primary-key column in order, the value's JSON text (strings: their
 * escaped body without quotes; "null" when absent) and a NUL byte, into
 * key (reset first); *hash gets the FNV-1a routing hash of the same bytes,
 * as the decoder computes it. */
void sl__snap_key(const sl_jr_doc_t *doc, uint32_t obj,
                  const char *const *pknames, size_t npk, sl_buf_t *key,
                  uint64_t *hash);

struct st_mysql; /* MYSQL, from <mysql.h>. */

/* Sets a snapshot session's client options before it connects: timeouts,
 * utf8mb4 and, with tls, TLS with the CA if one is given, verifying the
 * server's certificate (chain and name) unless tls_insecure, exactly as
 * the binlog connection does (capture/source.c). worker.c; the worker's
 * and the copy's connections share it. */
void sl__snap_session_options(struct st_mysql *mysql,
                              uint32_t connect_timeout_ms, int tls,
                              int tls_insecure, const char *tls_ca);

/* Renders one result row (a MYSQL_ROW of the job's columns, in order) as
 * the after image object into out (reset first). worker.c. */
int sl__snap_render_row(sl__snap_job_t *job, char **row,
                        const unsigned long *lens, sl_buf_t *out);

/* Read rows in the other event formats (render_fmt.c; the rest of its
 * interface, which needs the driver's state, is in state_int.h). A job's
 * columns in its format (fcols, parallel to cols; NULL in the sluice
 * format) are built by sl__snap_fmt_job. sl__snap_fmt_render renders one
 * result row in the job's format as sl__snap_render_row does in sluice's
 * (span: where each value starts and ends, or NULL; tmp: scratch);
 * sl__snap_fmt_span_key cuts the window key and routing hash from such an
 * image as the decoder cuts them from the stream's rows. */
typedef struct sl__snap_fmtcol_s sl__snap_fmtcol_t;
void sl__snap_fmt_job_free(sl__snap_job_t *job);
int sl__snap_fmt_render(sl__snap_job_t *job, char **row,
                        const unsigned long *lens, sl_buf_t *out, size_t *span,
                        sl_buf_t *tmp);
int sl__snap_fmt_span_key(const sl__snap_job_t *job, const sl_buf_t *img,
                          const size_t *span, sl_buf_t *key, uint64_t *hash);
/* What the SELECT adds after column i's name so the text protocol gives
 * its exact value in the job's format ("" mostly; FLOAT: "+0e0", its
 * exact value as a DOUBLE, which the server prints with all the digits
 * it needs, where a FLOAT gets six). */
const char *sl__snap_fmt_select_suffix(const sl__snap_job_t *job, size_t i);

/* The column's kind from the schema history's data type and charset;
 * 0 for types a snapshot cannot read yet (VECTOR). */
sl__snap_kind_t sl__snap_kind(const char *data_type, const char *charset);

#endif
