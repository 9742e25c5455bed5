/*
 * The MySQL/MariaDB sink's shared internals (the public contract is
 * apply/mysql/sink.h, the user view docs/apply.md). The sink is split by
 * concern, one file each:
 *
 *   sink.c     life cycle, option parsing, the per-event entry points
 *   conn.c     the connection, its session settings, error classification
 *   render.c   SQL text: identifiers, values, one statement per row event
 *   tables.c   what the target has: columns, unique keys, JSON columns
 *   batch.c    multi-row statements, pipelined batches, outcome checks
 *   bulk.c     MariaDB bulk execution of long runs of upserts
 *   txn.c      target transactions and the sluice_offsets row
 *   window.c   snapshot windows: the tables that are tolerant between
 *              snapshot_start and snapshot_done (sluice_snapshots)
 *
 * Everything declared here is for those files only (the sl__mysql_
 * prefix); other modules use sink.h.
 */
#ifndef SL_APPLY_MYSQL_INTERNAL_H
#define SL_APPLY_MYSQL_INTERNAL_H

#include "sink.h"

#include "apply/event.h"
#include "apply/snapwin.h"
#include "backoff.h"
#include "buf.h"
#include "jsonread.h"

#include <mysql.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* A target column's class: how render.c writes its values in SQL text and
 * bulk.c binds them.
 * CLS_NUMTEXT: BIT, ENUM and SET, where a number and its text differ (an
 * index or a bit value against a name or bytes): rendered as CLS_PLAIN in
 * SQL text, never bound as a string.
 * CLS_MJSON: a MariaDB JSON column (LONGTEXT with a json_valid() CHECK):
 * as CLS_PLAIN, except that true and false are written as JSON text, not
 * as 1 and 0. */
enum {
    CLS_PLAIN,
    CLS_BINARY,
    CLS_JSON,
    CLS_GEOM,
    CLS_FLOAT,
    CLS_NUMTEXT,
    CLS_MJSON
};

/* One column of a target table. */
typedef struct {
    char *name;
    size_t len; /* strlen(name). */
    int cls;
} col_t;

/* What the target has for one source table (tables.c): the mapped table's
 * columns in their order and the key that identifies a row. */
typedef struct {
    char *src_db;
    char *table;
    char *dst_db;
    size_t src_db_len, table_len; /* strlen() of src_db and table. */
    col_t *cols;
    size_t ncols;
    char **ukey; /* First unique key (PRIMARY first), or NULL. */
    size_t nukey;
    int pk_only; /* The primary key is the table's only unique index. */
    int missing; /* The target table does not exist. */
    /* A snapshot of the table is under way in this partition (window.c):
     * inserts upsert, updates of missing rows insert their after image,
     * deletes of missing rows do nothing, whatever the drift policy. */
    int tolerant;
} tmeta_t;

/* ST_UPSERT: updates that keep their primary key, merged into one
 * INSERT ... ON DUPLICATE KEY UPDATE (only for tables whose sole unique
 * index is the primary key, so the duplicate can only be that row).
 * ST_READ: snapshot rows, and inserts into a tolerant table: an
 * INSERT ... ON DUPLICATE KEY UPDATE of every column whatever the drift
 * policy, whose outcome (inserted, changed or equal) is never drift.
 * ST_META: a write to sluice's own tables (a snapshot window), whose
 * outcome is not checked. */
enum { ST_INSERT, ST_UPDATE, ST_DELETE, ST_UPSERT, ST_READ, ST_META };

/* One statement of the pending or in-flight batch, for checking its
 * outcome and naming the row behind a failure. */
typedef struct {
    uint64_t offset; /* Of the first row of the statement. */
    uint64_t row;
    int kind;
    tmeta_t *tm;
    size_t sql_start;
    uint64_t nrows; /* Rows merged into it (multi-row INSERT/DELETE). */
    int tolerant;   /* Its table was tolerant when it was built. */
} stmt_t;

/* Rows with more columns are never merged (nor bulk-executed). */
#define MAX_MERGE_COLS 1024

/* Runs shorter than this stay SQL text: a bulk execution is a round trip
 * of its own, which only pays for itself over many rows. */
#define BULK_MIN 16

/* A prepared INSERT ... ON DUPLICATE KEY UPDATE for one table, kind
 * (ST_INSERT or ST_UPSERT) and column list. */
typedef struct {
    tmeta_t *tm;
    int kind;
    int *cols;
    size_t ncols;
    MYSQL_STMT *stmt;
} pstmt_t;

/* The values of a run, row by row: value (row r, column c) is the
 * len[r * ncols + c] bytes at data + off[r * ncols + c], or NULL when
 * ind[..] says so; cap is the slots allocated. sl__mysql_bulk_emit() lays
 * them out column by column for binding. */
typedef struct {
    int state; /* 0 none, 1 staged beside the text, 2 bulk only. */
    tmeta_t *tm;
    int kind;
    size_t ncols;
    size_t nrows, cap;
    sl_buf_t data;
    size_t *off;
    unsigned long *len;
    char *ind;
    char **ptrs;          /* Filled just before binding. */
    uint64_t offset, row; /* Of the first row. */
} bulk_t;

/* The sink: options, connection, the group being built and sent. */
struct sl_mysql_sink_s {
    sl_mysql_opts_t opts;
    void *alt; /* Another target's sink (opts.ops), which does the work. */
    char *password;
    sl_dbmap_t *maps;
    char *group, *topic, *part;
    MYSQL *mysql;
    sl_backoff_t bo;
    sl_jr_doc_t doc;
    sl_buf_t sql; /* The pending statements, ';'-separated. */
    stmt_t *stmts;
    size_t nstmts, capstmts;
    /* The batch sent and not yet read back (one at most): the server
     * executes it while the next one is built. */
    stmt_t *stmts_if;
    size_t nstmts_if, capstmts_if;
    int inflight;
    sl_buf_t tmp, tmp2;
    tmeta_t **tables; /* Each owned; stable while pointed at. */
    size_t ntables;
    int in_group;
    int careful;      /* This group runs one statement per round trip. */
    int want_careful; /* The next group must. */
    uint64_t group_rows, group_ins, group_upd, group_del, group_drift;
    uint64_t group_reads, group_tolerated;
    /* The last outcome checked was an UPDATE that found no row. */
    int upd_missing;
    /* Snapshot windows open in this partition (window.c): as the open
     * group sees them, staged for its COMMIT, and committed, so that an
     * abandoned group's changes are undone at the next begin. */
    sl_snapwin_t win;
    /* The last statement of the batch, while more rows may be merged into
     * it: ST_INSERT (its ON DUPLICATE KEY tail not yet written) or
     * ST_DELETE (its closing parenthesis not yet written); -1 for none. */
    int open_kind;
    tmeta_t *open_tm;
    int open_cols[MAX_MERGE_COLS];
    size_t nopen_cols;
    /* Bulk execution (MariaDB's COM_STMT_BULK_EXECUTE): a long run of
     * merged upserts is sent as one prepared statement with arrays of
     * parameters instead of SQL text, which the server neither lexes nor
     * parses. bulk_server: the target supports it (and --bulk is on). */
    int bulk_server;
    int mariadb;     /* The target is MariaDB (JSON columns are LONGTEXT). */
    bulk_t bk;       /* The run being collected (text and bulk at once
                      * until it has BULK_MIN rows, then bulk only). */
    pstmt_t *pstmts; /* Prepared upserts of this connection. */
    size_t npstmts;
    /* The bulk execution in flight (inflight == 2), its statement and the
     * status the non-blocking API waits for. */
    pstmt_t *bulk_if;
    stmt_t bulk_st;
    int bulk_status;
    int bulk_ret;
    uint64_t failed_offset; /* UINT64_MAX when the last error names none. */
    int failed_drift;       /* The error is a drift with policy stop. */
    char err[1024];
    sl_mysql_stats_t stats;
};

/* 1 when key token k names column i of tm. */
static inline int sl__mysql_col_is(const tmeta_t *tm, size_t i,
                                   const sl_jr_doc_t *doc, uint32_t k) {
    const sl_jr_tok_t *t = sl_jr_tok(doc, k);
    if (t->escaped)
        return sl_jr_str_eq(doc, k, tm->cols[i].name, tm->cols[i].len);
    return t->len == tm->cols[i].len &&
           memcmp(tm->cols[i].name, doc->text + t->start, t->len) == 0;
}

/* The column of tm named by key token k, or -1. */
static inline int sl__mysql_find_col(const tmeta_t *tm, const sl_jr_doc_t *doc,
                                     uint32_t k) {
    for (size_t i = 0; i < tm->ncols; i++)
        if (sl__mysql_col_is(tm, i, doc, k))
            return (int)i;
    return -1;
}

/* sl__mysql_find_col() for the key at position hint of an image: images list
 * their columns in table order, so with a full image that column is the one. */
static inline int sl__mysql_find_col_at(const tmeta_t *tm,
                                        const sl_jr_doc_t *doc, uint32_t k,
                                        size_t hint) {
    if (hint < tm->ncols && sl__mysql_col_is(tm, hint, doc, k))
        return (int)hint;
    return sl__mysql_find_col(tm, doc, k);
}

/* The drift policy for statements on tm: overwrite while it is tolerant. */
static inline sl_drift_t sl__mysql_drift_for(const sl_mysql_sink_t *s,
                                             const tmeta_t *tm) {
    return tm != NULL && tm->tolerant ? SL_DRIFT_OVERWRITE : s->opts.drift;
}

/* ---- sink.c ------------------------------------------------------------ */

/* Formats the sink's error message and returns rc. */
int sl__mysql_seterr(sl_mysql_sink_t *s, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- conn.c ------------------------------------------------------------ */

/* Closes the connection (rolling back what it had open) and forgets what
 * belonged to it: prepared statements, the batch in flight, the group. */
void sl__mysql_disconnect(sl_mysql_sink_t *s);
/* Connects unless connected, retrying transient failures with the backoff
 * until *stop. */
int sl__mysql_ensure_conn(sl_mysql_sink_t *s, volatile int *stop);
/* Runs one statement without a result set (or discards it); a transient
 * failure disconnects and returns SL_EAGAIN. */
int sl__mysql_exec(sl_mysql_sink_t *s, const char *sql);
/* Records the target's last error as "CONTEXT error N: text" (SL_EAGAIN
 * when it is transient, after dropping the connection; else SL_EDB) and
 * returns that code. */
int sl__mysql_query_failed(sl_mysql_sink_t *s, const char *context);

/* ---- render.c ---------------------------------------------------------- */

/* The CLS_* class of an information_schema DATA_TYPE name. */
int sl__mysql_classify(const char *type);
/* Appends a backquoted identifier. */
void sl__mysql_put_ident(sl_buf_t *b, const char *name);
/* Appends a quoted, escaped string literal of s[0..n) (mysql may be NULL:
 * utf8mb4 escaping without a connection). */
int sl__mysql_put_quoted(MYSQL *mysql, sl_buf_t *b, const char *s, size_t n);
/* Appends the escaped literal of a C string with the sink's connection; a
 * failure is b's sticky error (sl_buf_error()). */
int sl__mysql_lit(sl_mysql_sink_t *s, sl_buf_t *b, const char *str);
/* Appends `db`.`table` of the target table. */
void sl__mysql_put_table(sl_buf_t *b, const tmeta_t *tm);
/* Appends value token v of doc for a column of class cls (tmp is scratch);
 * a value that cannot be rendered returns SL_ECORRUPT with err set. */
int sl__mysql_put_value(MYSQL *mysql, sl_buf_t *b, const sl_jr_doc_t *doc,
                        uint32_t v, int cls, sl_buf_t *tmp, char *err,
                        size_t errlen);
/* Appends the head of a (multi-row) INSERT into tm of columns
 * cols[0..n), up to its VALUES keyword. */
void sl__mysql_put_insert_head(sl_buf_t *b, const tmeta_t *tm, const int *cols,
                               size_t n);
/* Appends the ON DUPLICATE KEY UPDATE tail of a merged insert or upsert
 * of columns cols[0..n). */
void sl__mysql_put_upsert_tail(sl_buf_t *b, const tmeta_t *tm, int kind,
                               sl_drift_t drift, const int *cols, size_t n);
/* Appends the statement for row event ev of doc (sl_event_index());
 * *kind receives ST_*. */
int sl__mysql_build_row(MYSQL *mysql, sl_buf_t *b, const sl_jr_doc_t *doc,
                        const sl_event_t *ev, const tmeta_t *tm,
                        sl_drift_t drift, int *kind, sl_buf_t *tmp, char *err,
                        size_t errlen);
/* Appends the INSERT of ev's after image (an update that found no row,
 * policy overwrite). */
int sl__mysql_build_upsert_after(MYSQL *mysql, sl_buf_t *b,
                                 const sl_jr_doc_t *doc, const sl_event_t *ev,
                                 const tmeta_t *tm, sl_buf_t *tmp, char *err,
                                 size_t errlen);

/* ---- tables.c ---------------------------------------------------------- */

/* The target database --map gives for source database src. */
const char *sl__mysql_dst_db(const sl_mysql_sink_t *s, const char *src);
/* The known table named by the plain (unescaped) strings db and table of
 * doc, or NULL. */
tmeta_t *sl__mysql_known_table(sl_mysql_sink_t *s, const sl_jr_doc_t *doc,
                               uint32_t db, uint32_t table);
/* The table named by db and table of doc, learned from the target when
 * new. */
int sl__mysql_find_table(sl_mysql_sink_t *s, const sl_jr_doc_t *doc,
                         uint32_t db, uint32_t table, uint64_t offset,
                         tmeta_t **out);
/* Forgets every table (after DDL, or a missing table): the next event
 * reads the target again. */
void sl__mysql_free_tables(sl_mysql_sink_t *s);

/* ---- batch.c ----------------------------------------------------------- */

/* "Rows matched: N" of the last UPDATE. */
long long sl__mysql_rows_matched(MYSQL *m);
/* Checks the affected-row count n of statement st against drift. */
int sl__mysql_check_outcome(sl_mysql_sink_t *s, const stmt_t *st, long long n);
/* Handles statement st failing with error e (message msg). */
int sl__mysql_stmt_failed(sl_mysql_sink_t *s, const stmt_t *st, unsigned e,
                          const char *msg);
/* Reads back the batch (or bulk execution) in flight. */
int sl__mysql_complete(sl_mysql_sink_t *s);
/* Sends the pending statements without waiting for their results. */
int sl__mysql_send_batch(sl_mysql_sink_t *s);
/* Sends what is pending and reads back everything. */
int sl__mysql_flush(sl_mysql_sink_t *s);
/* Ends the open multi-row statement. */
int sl__mysql_close_open(sl_mysql_sink_t *s);
/* Records a statement appended to the batch at sql offset mark. */
int sl__mysql_push_stmt(sl_mysql_sink_t *s, uint64_t offset, uint64_t rowno,
                        int kind, tmeta_t *tm, size_t mark);
/* Merges row event ev into the open multi-row statement or starts one: 1
 * when taken, 0 when it needs a statement of its own, or an error. */
int sl__mysql_try_merge(sl_mysql_sink_t *s, const sl_jr_doc_t *doc,
                        const sl_event_t *ev, tmeta_t *tm, uint64_t offset,
                        uint64_t rowno);

/* ---- bulk.c ------------------------------------------------------------ */

void sl__mysql_bulk_reset(bulk_t *bk);
/* Closes the connection's prepared statements. */
void sl__mysql_pstmts_close(sl_mysql_sink_t *s);
/* Waits for the bulk execution in flight and checks its outcome. */
int sl__mysql_complete_bulk(sl_mysql_sink_t *s);
/* Starts collecting a run of kind on tm with n columns. */
void sl__mysql_bulk_begin(sl_mysql_sink_t *s, tmeta_t *tm, int kind, size_t n,
                          uint64_t offset, uint64_t rowno);
/* Adds one row to the run: 0, 1 when a value cannot be bound, or an
 * error. */
int sl__mysql_bulk_add(sl_mysql_sink_t *s, const sl_jr_doc_t *doc,
                       const int *cols, const uint32_t *vals, size_t n);
/* The staged run reached BULK_MIN rows: it goes on as bulk only. */
int sl__mysql_bulk_switch(sl_mysql_sink_t *s);
/* Sends the collected run as one bulk execution. */
int sl__mysql_bulk_emit(sl_mysql_sink_t *s, int keep_open);

/* ---- window.c ---------------------------------------------------------- */

/* Creates sluice_snapshots when missing and loads this partition's open
 * windows (at resume, outside any group). */
int sl__mysql_windows_load(sl_mysql_sink_t *s);
/* 1 when a window is open on source table db.table (C strings). */
int sl__mysql_window_open(const sl_mysql_sink_t *s, const char *db,
                          const char *table);
/* Applies a snapshot_start or snapshot_done event (ev->snap) inside the
 * open group: the window changes for the statements after it, and its
 * row of sluice_snapshots is written in the same target transaction. */
int sl__mysql_window_event(sl_mysql_sink_t *s, const sl_jr_doc_t *doc,
                           const sl_event_t *ev, uint64_t offset);
/* At begin: undoes the window changes of a group that did not commit. */
int sl__mysql_windows_restore(sl_mysql_sink_t *s);
/* Before COMMIT: copies the group's windows (the only step that can
 * fail, so that nothing fails after the COMMIT); after it, they become the
 * committed ones. */
int sl__mysql_windows_stage(sl_mysql_sink_t *s);
void sl__mysql_windows_committed(sl_mysql_sink_t *s);
void sl__mysql_windows_free(sl_mysql_sink_t *s);

#endif
