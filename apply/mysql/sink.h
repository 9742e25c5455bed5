/*
 * The MySQL/MariaDB sink: applies the row changes of one partition to a
 * target database, exactly once.
 *
 * Exactly once: the rows of a group of complete source transactions are
 * executed in one target transaction, which also upserts the partition's
 * row of `sluice_offsets` (schemas/sluice_offsets.sql) with the offset of
 * the next message to apply; both commit or neither does. On start the
 * consumer resumes from that row, not from the broker's group offset.
 *
 * Use, per group (the consumer decides group boundaries, always between
 * two source transactions):
 *
 *   sl_mysql_sink_begin()        once: connects, starts the transaction and
 *                                locks the offsets row, checking that it
 *                                still says start_offset (a second apply
 *                                process on the same partition is caught)
 *   sl_mysql_sink_row() * N      each change event; statements are sent in
 *                                pipelined multi-statement round trips
 *   sl_mysql_sink_commit()       flush, offsets upsert, COMMIT
 *
 * Every call returns 0 or:
 *   SL_EAGAIN     a transient failure (server gone, deadlock 1213, lock wait
 *                 1205, read-only 1290/1836, out of space 1021/1114 or
 *                 3/1026/1030 with errno 28 or 122, out of memory
 *                 1037/1038/1041, a crashed table 1034/1194/1195, ...:
 *                 never dead-lettered); the transaction was
 *                 rolled back, and the caller waits (sl_mysql_sink_wait)
 *                 and redoes the whole group from its start offset. Also
 *                 returned, without a wait being needed, when drift needs a
 *                 correction that must run in order: the group is redone
 *                 one statement at a time (sl_mysql_sink_careful() is then
 *                 1 for the next group).
 *   SL_EDB        a permanent failure (missing table or column, type
 *                 mismatch, drift with policy stop): the partition must
 *                 stop; sl_mysql_sink_error() names the offset, the row
 *                 and the cause, and sl_mysql_sink_failed_offset() the
 *                 message.
 *   SL_ESTOPPED   *stop was set while waiting for the server.
 *
 * Snapshots (apply/mysql/window.c): a row event with op "read" is an
 * upsert of its after image; snapshot_start and snapshot_done open and
 * close the table's window, inside which the table is tolerant (below:
 * drift is handled as overwrite and not reported). The consumer treats
 * each of these events as a unit of its own, never inside a source
 * transaction.
 *
 * Drift (the target differs from what the stream expects): an insert of a
 * key that exists, an update or delete of a missing row. Policy overwrite
 * makes the target match the stream (existing row overwritten, missing
 * updated row inserted from the after image, missing deleted row ignored),
 * skip leaves the target as it is, stop stops the partition. Every drift is
 * counted and logged.
 *
 * Row identity: the event's primary-key columns when it lists them; else
 * the target table's first unique key whose columns are all non-NULL in the
 * before image; else every column of the before image except FLOAT and
 * DOUBLE ones (whose text form does not compare exactly), matched with
 * NULL-safe equality, one row at a time (LIMIT 1).
 *
 * Ownership: the sink owns its connection; event text passed to
 * sl_mysql_sink_row() is only read during the call.
 */
#ifndef SL_APPLY_MYSQL_SINK_H
#define SL_APPLY_MYSQL_SINK_H

#include "apply/event.h"
#include "jsonread.h"
#include "lib/metrics.h"

#include <stddef.h>
#include <stdint.h>

typedef enum {
    SL_DRIFT_OVERWRITE = 0,
    SL_DRIFT_SKIP = 1,
    SL_DRIFT_STOP = 2,
} sl_drift_t;

/* Parses "overwrite", "skip" or "stop". */
int sl_drift_parse(const char *text, sl_drift_t *drift);

typedef struct {
    char *src; /* Source database. */
    char *dst; /* Target database. */
} sl_dbmap_t;

typedef struct {
    char user[128];
    char host[256];
    uint16_t port;
    char db[128]; /* Holds sluice_offsets. */
} sl_mysql_url_t;

/* Parses mysql://USER@HOST:PORT/DB (the port defaults to 3306; no password
 * in the URL: it comes from a file or the environment). */
int sl_mysql_url_parse(const char *text, sl_mysql_url_t *url);

typedef struct {
    sl_mysql_url_t url;
    const char *password;   /* May be NULL. Copied. */
    const sl_dbmap_t *maps; /* Copied. */
    size_t nmaps;
    sl_drift_t drift;
    const char *group;     /* Consumer group (offsets key). Copied. */
    const char *topic;     /* Copied. */
    size_t batch_bytes;    /* SQL per round trip (default 64 KiB). */
    int text_only;         /* Never MariaDB bulk execution (--bulk=no). */
    uint32_t retry_min_ms; /* Backoff (default 100 ms .. 10 s). */
    uint32_t retry_max_ms;
    /* Another target (apply/target.h: PostgreSQL) behind this interface,
     * or NULL; ops_arg is its own options. Both borrowed. */
    const struct sl_target_ops_s *ops;
    const void *ops_arg;
    /* TLS to the target (--target-tls, --target-tls-ca,
     * --target-tls-insecure): required when tls; the server's certificate
     * is verified (chain against tls_ca, else the system's trust store,
     * and name) unless tls_insecure. tls_ca is not copied: it must outlive
     * the sink. */
    int tls, tls_insecure;
    const char *tls_ca;
} sl_mysql_opts_t;

/* Sets o's TLS options on m before mysql_real_connect() (nothing when o
 * asks for no TLS). Shared by every connection apply makes to the
 * target. */
struct st_mysql;
void sl_mysql_set_tls(struct st_mysql *m, const sl_mysql_opts_t *o);

typedef struct sl_mysql_sink_s sl_mysql_sink_t;

/* The CREATE TABLE of schemas/sluice_offsets.sql, run at start. */
extern const char sl_mysql_offsets_ddl[];
/* The CREATE TABLE of schemas/sluice_snapshots.sql (the open snapshot
 * windows, apply/mysql/window.c), run at start. */
extern const char sl_mysql_snapshots_ddl[];

int sl_mysql_sink_new(const sl_mysql_opts_t *opts, const char *part,
                      sl_mysql_sink_t **out);
void sl_mysql_sink_free(sl_mysql_sink_t *sink);

/* Connects (retrying transient failures until *stop), creates
 * sluice_offsets when missing and reads this partition's next offset:
 * *found = 0 when it has none yet. */
int sl_mysql_sink_resume(sl_mysql_sink_t *sink, uint64_t *next, int *found,
                         volatile int *stop);

/* Creates this partition's offsets row with next_offset = start unless it
 * exists (another process may have been first) and returns the stored
 * value in *next. Creating the row up front means every group locks an
 * existing row (a record lock), never a gap shared with other
 * partitions. */
int sl_mysql_sink_claim(sl_mysql_sink_t *sink, uint64_t start, uint64_t *next,
                        volatile int *stop);

int sl_mysql_sink_begin(sl_mysql_sink_t *sink, uint64_t start_offset,
                        int start_found, volatile int *stop);
/* Applies one change event (JSON text) found at offset. Events other than
 * rows (begin, commit, ...) are accepted and ignored; DDL events are
 * counted and logged, not replayed. */
int sl_mysql_sink_row(sl_mysql_sink_t *sink, const char *json, size_t len,
                      uint64_t offset);
/* The same for an event the caller already parsed (root token 0); doc is
 * only read during the call. */
int sl_mysql_sink_row_doc(sl_mysql_sink_t *sink, const sl_jr_doc_t *doc,
                          uint64_t offset);
/* The same with the event's members already found (sl_event_index() of
 * doc); doc and ev are only read during the call. */
int sl_mysql_sink_row_ev(sl_mysql_sink_t *sink, const sl_jr_doc_t *doc,
                         const sl_event_t *ev, uint64_t offset);
/* Sends what the open group has built so far (after the batch in flight
 * completes), so that the target has work while the caller waits for
 * something else (a broker fetch). Errors as for sl_mysql_sink_row(). */
int sl_mysql_sink_kick(sl_mysql_sink_t *sink);
/* Commits the group: next_offset is the offset after its last message,
 * ntrx the number of source transactions it held, last_trx the last one's
 * id (for the offsets row). On a lost connection during COMMIT the outcome
 * is checked by reading the offsets row back. */
int sl_mysql_sink_commit(sl_mysql_sink_t *sink, uint64_t next_offset,
                         uint64_t ntrx, const char *last_trx,
                         volatile int *stop);
/*
 * Replays a DDL event (--ddl-replay): outside any group, runs its "sql"
 * with the mapped database of its "db" as the default database, then
 * moves the offsets row past it. DDL is not transactional, so this is at
 * least once: a crash between the two steps runs it again on restart,
 * where a statement that cannot run twice fails (SL_EDB) and stops the
 * partition, naming the offset. Qualified names inside the statement are
 * not rewritten by --map.
 */
int sl_mysql_sink_ddl(sl_mysql_sink_t *sink, const sl_jr_doc_t *doc,
                      uint64_t offset, volatile int *stop);

/* Abandons the open group (rollback). */
void sl_mysql_sink_abort(sl_mysql_sink_t *sink);

/* Sleeps the backoff delay after SL_EAGAIN; returns non-zero on stop. */
int sl_mysql_sink_wait(sl_mysql_sink_t *sink, volatile int *stop);
int sl_mysql_sink_careful(const sl_mysql_sink_t *sink);
const char *sl_mysql_sink_error(const sl_mysql_sink_t *sink);
/* The offset of the message behind the last SL_EDB (UINT64_MAX when the
 * error concerns no single message), and whether it was a drift stopped
 * by policy (never dead-lettered). */
uint64_t sl_mysql_sink_failed_offset(const sl_mysql_sink_t *sink);
/* 1 when server or client error e, with its message msg (may be NULL),
 * is transient (see SL_EAGAIN above), 0 when it is permanent. */
int sl_mysql_error_transient(unsigned e, const char *msg);
int sl_mysql_sink_failed_drift(const sl_mysql_sink_t *sink);

typedef struct {
    uint64_t groups; /* Target transactions committed. */
    uint64_t trx;    /* Source transactions applied. */
    uint64_t rows;   /* Row changes applied (committed). */
    uint64_t inserts, updates, deletes;
    uint64_t drift;        /* Drift cases seen (all policies). */
    uint64_t retries;      /* Groups redone after a transient error. */
    uint64_t ddl_skipped;  /* DDL events not replayed. */
    uint64_t ddl_replayed; /* DDL events run on the target. */
    uint64_t round_trips;
    uint64_t bulk_rows; /* Rows sent by bulk execution (MariaDB). */
    uint64_t reads;     /* Snapshot rows applied (committed; in rows). */
    uint64_t tolerated; /* Missing or existing rows met inside a snapshot
                         * window (not drift). */
    uint64_t windows;   /* Snapshot windows open (committed). */
    uint64_t wait_ns;   /* Time spent waiting for the target's answers
                         * (the target is the bottleneck when this is
                         * most of the wall time). */
    sl_metrics_hist_t commit_hist; /* Time each COMMIT took. */
} sl_mysql_stats_t;
void sl_mysql_sink_stats(const sl_mysql_sink_t *sink, sl_mysql_stats_t *st);

/* For unit tests: renders the statement for one change event without a
 * server. cols/types describe the target table (types are
 * information_schema DATA_TYPE names), ukey the unique key used when the
 * event has no primary key (NULL for none). Appends to out (a C string
 * buffer, owned by the caller, freed with free()). */
int sl_mysql_build_sql(const char *json, size_t len, const char *dst_db,
                       const char *const *cols, const char *const *types,
                       size_t ncols, const char *const *ukey, size_t nukey,
                       sl_drift_t drift, char **out, char *err, size_t errlen);

#endif
