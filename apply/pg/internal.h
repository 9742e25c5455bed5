/*
 * What the files of the PostgreSQL sink share (apply/pg/sink.h is the
 * interface). One file per concern:
 *
 *   conn.c    the connection, SQLSTATE classification, the pipeline's
 *             chunks and their results (drift checks)
 *   txn.c     groups: begin, commit, abort, the sluice_offsets row, and
 *             the target-ops table
 *   tables.c  what a target table has (columns, types, primary key);
 *             --map
 *   stmt.c    the prepared statement for one row event
 *   value.c   one JSON value as a PostgreSQL parameter
 *   multi.c   runs of inserts as multi-row statements
 *   create.c  --create-tables-from: a missing table from the source's
 *             definition
 *   url.c     the --target URL (and create.c the --create-tables-from
 *             one)
 *   window.c  snapshot windows: the tables that are tolerant between
 *             snapshot_start and snapshot_done, and sluice_snapshots
 *
 * Pipeline chunks: statements are sent as they are built; every
 * PG_CHUNK_ROWS statements or batch_bytes of parameters a sync point ends
 * the chunk, and the chunk before it (the one the server was executing
 * meanwhile) has its results read and checked. A chunk keeps the values
 * it sent until then, so that a refused value can be traced to its column.
 */
#ifndef SL_APPLY_PG_INTERNAL_H
#define SL_APPLY_PG_INTERNAL_H

#include "apply/pg/sink.h"
#include "apply/snapwin.h"

#include "backoff.h"
#include "buf.h"
#include "jsonread.h"

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#define PG_CHUNK_ROWS 1000
#define PG_RUN_ROWS 64 /* Rows per multi-row insert (multi.c). */

/* How a column's values are converted (value.c). */
enum {
    PGK_TEXT = 0, /* text, varchar, char, enums, anything else */
    PGK_BYTEA,
    PGK_BOOL,
    PGK_NUM, /* integers, numeric, real, double precision */
    PGK_DATE,
    PGK_TS, /* timestamp and timestamptz */
    PGK_TIME,
    PGK_INTERVAL,
    PGK_BIT, /* bit(n), bit varying(n) */
    PGK_JSON,
    PGK_TEXTARR,  /* text[] and other non-numeric arrays: SET */
    PGK_FLOATARR, /* real[], double precision[]: VECTOR */
    PGK_FLOAT,    /* real, double precision (also PGK_NUM for values) */
};

typedef struct {
    char *name;
    char *type; /* format_type(): the cast written after each parameter. */
    int kind;   /* PGK_ */
    int bits;   /* bit(n): n (0: unknown). */
} pgcol_t;

typedef struct pgstmt_s pgstmt_t;

typedef struct {
    char *src_db, *table; /* Source names (the cache key). */
    char *schema;         /* Target schema (mapped). */
    char *qname;          /* "schema"."table", quoted. */
    pgcol_t *cols;
    size_t ncols;
    size_t *pk; /* Target primary-key columns (indexes into cols). */
    size_t npk;
    int missing;
    pgstmt_t *stmts; /* Prepared on the current connection. */
} pgtable_t;

/* How a statement's result says whether the target had drifted. */
enum {
    CHK_ONE = 0,     /* Affected rows: 1 fine, 0 drift. */
    CHK_FRESH_OK,    /* Returns 't' when all went as expected. */
    CHK_FRESH_DRIFT, /* Returns 't' when a missing row was inserted. */
    CHK_NONE,        /* Keyless insert: nothing to check. */
    CHK_PREPARE,     /* PQsendPrepare's own result. */
    CHK_TXN,         /* The offsets UPDATE and COMMIT: must succeed. */
    CHK_META,        /* A sluice_snapshots write: must succeed. */
};

enum { OP_INSERT = 0, OP_UPDATE = 1, OP_DELETE = 2 };

struct pgstmt_s {
    pgstmt_t *next;
    char *sig;       /* Kind and column set (see stmt.c). */
    char *sql;       /* Inserts: the text, for multi.c. */
    pgstmt_t *multi; /* Inserts: the same for several rows (multi.c). */
    char name[24];   /* Server-side name. */
    int check;       /* CHK_ */
    size_t nparams;
    size_t *param_col; /* Column index of each parameter. */
};

/* One row statement sent and not yet checked. */
typedef struct {
    uint64_t offset, rowno;
    int op, check, stmt_error; /* stmt_error: 23505 means drift (stop). */
    pgtable_t *tm;
    pgstmt_t *st;
    size_t first; /* Its first parameter in the chunk's arrays. */
    size_t nrows; /* A multi-row insert: its rows (0: one row). */
} pgpend_t;

/* Inserts held for one multi-row statement (multi.c). */
typedef struct {
    pgtable_t *tm;
    pgstmt_t *st; /* The single-row statement they share. */
    size_t first; /* First parameter in the current chunk. */
    size_t n;
    uint64_t offset, rowno; /* The first row's. */
} pgrun_t;

typedef struct {
    pgpend_t *pend;
    size_t npend, cappend;
    sl_buf_t data; /* Parameter bytes, each NUL-terminated. */
    size_t *poff;  /* Offset into data, or SIZE_MAX for NULL. */
    int *plen, *pfmt;
    size_t nparams, capparams;
    int synced; /* A sync point ends it (its results are due). */
} pgchunk_t;

typedef struct sl_pg_sink_s {
    const sl_mysql_opts_t *common; /* Borrowed from the MySQL wrapper. */
    sl_pg_opts_t o;                /* Copy; o.password borrowed. */
    char *part;
    PGconn *conn;
    sl_backoff_t bo;
    pgtable_t **tables;
    size_t ntables;
    unsigned stmt_seq;
    int in_group;
    uint64_t start_offset; /* The open group's first offset. */
    int in_pipeline;
    pgchunk_t ch[2]; /* Alternate: one in flight, one being built. */
    int cur;         /* The chunk being built. */
    pgrun_t run;
    int group_multi;  /* The open group sent a multi-row insert. */
    int careful;      /* This group: one row per statement. */
    int want_careful; /* The next group (after a multi-row mismatch). */
    uint64_t group_rows, group_ins, group_upd, group_del, group_drift;
    sl_buf_t tmp, tmp2;
    void *img[2]; /* stmt.c's before and after images. */
    uint64_t failed_offset;
    int failed_drift;
    sl_mysql_stats_t stats;
    /* Snapshot windows open in this partition (window.c). */
    sl_snapwin_t win;
    uint64_t group_reads;
    char err[1024];
} sl_pg_sink_t;

int sl__pg_seterr(sl_pg_sink_t *s, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* conn.c */
int sl__pg_ensure_conn(sl_pg_sink_t *s, volatile int *stop);
void sl__pg_disconnect(sl_pg_sink_t *s);
int sl__pg_state_transient(const char *sqlstate);
/* Sets the error from a failed result (or the connection) and returns
 * SL_EAGAIN or SL_EDB; what names the operation. Disconnects when
 * transient. */
int sl__pg_fail(sl_pg_sink_t *s, const PGresult *r, const char *what);
/* Runs one statement with text parameters outside any pipeline. *out (the
 * caller clears it) gets the result when out is not NULL. */
int sl__pg_exec(sl_pg_sink_t *s, const char *sql, int n,
                const char *const *vals, PGresult **out);
/* Within the group's pipeline: ends the chunk being built with a sync
 * point and reads the results of the chunk before it (all = 1: of every
 * chunk, the pipeline is then empty). */
int sl__pg_sync(sl_pg_sink_t *s, int all);
/* A chunk's slot for the next parameters; returns 0 or SL_ENOMEM. */
int sl__pg_chunk_reserve(pgchunk_t *c, size_t nparams);
void sl__pg_chunk_reset(pgchunk_t *c);
void sl__pg_chunk_free(pgchunk_t *c);

/* tables.c */
int sl__pg_table(sl_pg_sink_t *s, const sl_jr_doc_t *doc, const sl_event_t *ev,
                 uint64_t offset, uint64_t rowno, pgtable_t **out);
void sl__pg_free_tables(sl_pg_sink_t *s);
/* Forgets the statements prepared on a connection that is gone. */
void sl__pg_forget_stmts(sl_pg_sink_t *s);
const char *sl__pg_dst_schema(const sl_pg_sink_t *s, const char *src_db);
/* Appends "name" quoted as a PostgreSQL identifier. */
void sl__pg_put_ident(sl_buf_t *b, const char *name);
ssize_t sl__pg_col(const pgtable_t *tm, const char *name, size_t len);

/* create.c: creates tm (missing) from the source's definition, in the
 * open group. SL_EAGAIN when the source cannot be reached, SL_EDB (err
 * set) when it has no such table. */
int sl__pg_create_table(sl_pg_sink_t *s, pgtable_t *tm, char *err,
                        size_t errlen);

/* multi.c: holds an insert for a multi-row statement (its values are
 * the chunk's last parameters, from first), or sends the run. */
int sl__pg_run_add(sl_pg_sink_t *s, pgtable_t *tm, pgstmt_t *st,
                   uint64_t offset, uint64_t rowno, size_t first);
int sl__pg_run_flush(sl_pg_sink_t *s);

/* txn.c: the group, topic and partition, as $1..$3 of a statement on
 * sluice_offsets or sluice_snapshots. */
void sl__pg_key_params(const sl_pg_sink_t *s, const char **v);

/* window.c: reads the partition's open windows (outside any group). */
int sl__pg_windows_load(sl_pg_sink_t *s);
/* window.c: a snapshot_start or snapshot_done event in the open group. */
int sl__pg_window_event(sl_pg_sink_t *s, const sl_jr_doc_t *doc,
                        const sl_event_t *ev, uint64_t offset);

/* stmt.c */
int sl__pg_row(sl_pg_sink_t *s, const sl_jr_doc_t *doc, const sl_event_t *ev,
               pgtable_t *tm, uint64_t offset, uint64_t rowno);

/* value.c: converts token v for column c into the chunk's next parameter.
 * Returns 0, or SL_EDB with err set (a value the column cannot take). */
int sl__pg_value(sl_pg_sink_t *s, pgchunk_t *c, const sl_jr_doc_t *doc,
                 uint32_t v, const pgcol_t *col, int mysql_json, char *err,
                 size_t errlen);
int sl__pg_kind_of(const char *typname, char typcategory, const char *elem);

#endif
