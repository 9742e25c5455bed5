/*
 * Snapshots: the rows a table already holds, read in primary-key order,
 * chunk by chunk, without locks, and joined exactly with the live stream
 * (docs/snapshot.md).
 *
 * Each chunk is read by a worker thread between two committed watermark
 * writes (worker.c); the capture thread, which alone publishes, meets the
 * watermarks in the binlog and merges the chunk with the stream by the
 * window rule (window.h), then publishes the surviving rows as "read"
 * events in the table's own partition, bracketed per table by
 * snapshot_start and snapshot_done (docs/change-events.md).
 *
 * Exactly once: the snapshot's cursor (current table, last key read,
 * chunk, snapshot id, pending tables) travels in capture's checkpoint with
 * the binlog position (sl_snap_cursor()). Read rows are not reproducible
 * by a replay of the binlog, so before a chunk's rows are published a
 * checkpoint is written that reserves their capture sequences ("reserve":
 * N); a restart from it skips those N sequences (whatever of them the
 * broker holds is valid data as of that chunk's high watermark) and reads
 * the chunk again under new watermarks. Every replayed stream message
 * therefore keeps its sequence, and the broker's deduplication stays
 * exact.
 *
 * Early starts: when a snapshot is asked for (the initial one, a signal,
 * tables entering the filters), the snapshot_start of every table it
 * names is owed at once and published before any later stream event
 * (sl_snap_flush_starts), so that apply's window of a table is open
 * before the stream's first change of it, however long the table waits
 * its turn. They are reproducible from the cursor, like stream events
 * from the binlog: a checkpoint listing them (with their position) is
 * written first, a restart from it publishes them again with the same
 * capture sequences, and the checkpoint after them drops the list.
 *
 * Cursor (the "snap" member of a checkpoint), one JSON object:
 *   {"id":"...","db":"d","table":"t","where":null,"last":[1,"a"]|null,
 *    "chunk":3,"rows":12000,"reserve":0,"all":true,"all_id":"...",
 *    "started":true,"queue":[["d","t2",null,"id2"],...],
 *    "starts":{"src":{...}|null,"tables":[["d","t2","id2"],...]}}
 * "all" means: after the current table, every captured table after it in
 * (db, table) byte order (the initial snapshot), each under the id
 * "all_id" with its start published early; "queue" lists tables asked
 * for explicitly (ad-hoc snapshots, tables that entered the include
 * filters) after those, each with the id its early start went out under.
 * "started": the current table's start went out early (its first chunk
 * publishes none). "starts": the early starts owed, and the position
 * ("src") they are published at once it is known. A cursor written before
 * early starts (no "all_id", "started", 3-element queue entries) resumes
 * as it was written: new ids, each start with the table's first chunk.
 * Two more members, "cover" and "join" (join.h), may come with or
 * without a pending snapshot: {"cover":{...}} alone is the cursor of a
 * capture with no snapshot pending.
 *
 * Not thread-safe: every call comes from the capture thread.
 */
#ifndef SL_CAPTURE_SNAPSHOT_H
#define SL_CAPTURE_SNAPSHOT_H

#include "buf.h"
#include "capture/decoder/binlog.h"
#include "capture/schema/schema.h"
#include "join.h"

#include <stddef.h>
#include <stdint.h>

typedef enum {
    SL_SNAP_NEVER = 0,
    SL_SNAP_INITIAL = 1,
    SL_SNAP_WHEN_NEEDED = 2
} sl_snap_mode_t;

/* Parses "initial", "never" or "when_needed". */
int sl_snap_mode_parse(const char *text, sl_snap_mode_t *mode);

/* Which tables a one-shot consistent copy reads (copy_int.h). */
typedef enum {
    SL_SNAP_COPY_NO = 0,      /* Chunks only; keyless tables refused. */
    SL_SNAP_COPY_KEYLESS = 1, /* Keyless tables copied, others chunked. */
    SL_SNAP_COPY_ALL = 2      /* Every table copied (no watermark table). */
} sl_snap_copy_mode_t;

/* Parses "no", "keyless" or "all". */
int sl_snap_copy_mode_parse(const char *text, sl_snap_copy_mode_t *mode);

typedef struct {
    /* The source (copied). */
    const char *host, *user, *password, *tls_ca;
    uint16_t port;
    /* tls: TLS, verifying the server (chain and name) unless tls_insecure
     * (the source connection's --tls-insecure). */
    int tls, tls_insecure;
    const char *name; /* The capture's name: its watermark row. Copied. */
    /* The rules covered (sl_snap_cover_render), kept in every cursor;
     * NULL: none (--snapshot never). Copied. */
    const char *cover;
    size_t chunk_rows; /* Rows of the first chunk (default 4096). */
    /* Which tables are copied in one consistent read instead of chunks
     * (copy_int.h). */
    sl_snap_copy_mode_t copy_mode;
    /* Throttling (docs/snapshot.md): the chunk size adapts so a chunk's
     * SELECT takes about chunk_time_ms (0: fixed size), within
     * [chunk_min, chunk_max]; at most rate rows/s (0: no limit); the
     * worker waits while the source's Threads_running exceeds
     * max_threads_running or its replica lag exceeds max_lag_s (0: no
     * check). */
    size_t chunk_min, chunk_max;
    uint64_t chunk_time_ms;
    uint64_t rate;
    uint64_t max_threads_running, max_lag_s;
    /* Publishes one event to the partition of db.table; all_parts asks
     * for every partition of the table (key routing). */
    int (*publish)(void *ctx, const char *db, const char *table,
                   uint64_t key_hash, int all_parts, const char *json,
                   size_t len);
    /* The event format (docs/change-events.md, "Formats") the read rows
     * are rendered in, and the stream's with it (the window reads its
     * rows' images); format_schemas: debezium's schemas; format_name:
     * debezium's server name (the topic). publish_key publishes a read
     * row with its record key (debezium); NULL: keys are dropped. */
    sl_binlog_format_t format;
    int format_schemas;
    const char *format_name; /* Not copied: outlives the snapshot. */
    int (*publish_key)(void *ctx, const char *db, const char *table,
                       uint64_t key_hash, const char *json, size_t len,
                       const char *key, size_t key_len);
    /* Marks the current resume point as a boundary carrying the cursor
     * sl_snap_cursor() gives now; force: writes it as the checkpoint
     * before returning (every earlier message acknowledged). */
    int (*boundary)(void *ctx, int force);
    /* Whether capture publishes db.table, and a column of it. */
    int (*want_table)(void *ctx, const char *db, const char *table);
    int (*want_column)(void *ctx, const char *db, const char *table,
                       const char *column);
    void *ctx;
} sl_snap_opts_t;

typedef struct sl_snap_s sl_snap_t;

/* Starts the worker thread. *out is owned by the caller (sl_snap_free). */
int sl_snap_new(sl_snap_t **out, const sl_snap_opts_t *opts);
void sl_snap_free(sl_snap_t *snap);

/* Takes the cursor of the checkpoint capture resumes from (NULL: none
 * pending); called at start and at every new replication session, it
 * forgets any chunk in flight. *skip gets the capture sequences reserved
 * by the cursor, to add to the checkpoint's next sequence. */
int sl_snap_restore(sl_snap_t *snap, const char *cursor, uint64_t *skip,
                    char *err, size_t errlen);

/* Queues every table schema holds that capture publishes (the initial
 * snapshot), or one table (with an optional extra WHERE condition). */
int sl_snap_queue_all(sl_snap_t *snap, const sl_schema_t *schema);
int sl_snap_queue(sl_snap_t *snap, const char *db, const char *table,
                  const char *where);
/* After sl_snap_restore at a start: queues the new tables of j (those the
 * running initial snapshot does not reach anyway) and keeps j's tables
 * and position as the join (join.h). */
int sl_snap_join(sl_snap_t *snap, const sl_snap_join_t *j);

/* Publishes the owed early starts (none: nothing), each in its table's
 * partition(s), at position file:pos (their "src"; a restored list keeps
 * the one it was checkpointed with): a forced boundary listing them
 * first, a forced boundary after them. A table of them that a snapshot
 * cannot read (schema's definition: no key, a column type) fails it
 * first, with err set, nothing published. Called by sl_snap_on_commit, and
 * by capture after sl_snap_restore and the first start, before the stream
 * (with its boundary callback writing the checkpoint resumed from). */
int sl_snap_flush_starts(sl_snap_t *snap, const sl_schema_t *schema,
                         const char *file, uint64_t pos, char *err,
                         size_t errlen);

/* The cursor's text for the next boundary, or NULL when no snapshot is
 * pending. Valid until sl_snap_gc() is told of a newer written one. */
const char *sl_snap_cursor(const sl_snap_t *snap);

/* A row event, before any filter: *consumed is set for the watermark
 * table's rows (never published); rows of the table being read touch
 * the open window. */
int sl_snap_on_row(sl_snap_t *snap, const sl_change_t *chg, int *consumed,
                   char *err, size_t errlen);
/* A transaction ended at file:pos (after capture's own boundary for it):
 * the chunk whose high watermark it carried is published here, and a
 * one-shot copy (copy_int.h) whose position the stream has reached. */
int sl_snap_on_commit(sl_snap_t *snap, const sl_schema_t *schema,
                      const char *file, uint64_t pos, char *err, size_t errlen);
/* A DDL statement named db.table: a chunk in flight on it is discarded
 * and read again under the new definition. */
void sl_snap_on_ddl(sl_snap_t *snap, const char *db, const char *table);

/* Between transactions: hands the next chunk to the worker, notices its
 * failures (a lost connection is retried; anything else stops capture),
 * and frees cursor texts older than written (the newest checkpoint's). */
int sl_snap_step(sl_snap_t *snap, const sl_schema_t *schema,
                 const char *written, char *err, size_t errlen);

/* Progress: appends "STAT snapshot_..." lines, and a log line when one is
 * due (force: now). */
void sl_snap_put_stats(const sl_snap_t *snap, sl_buf_t *out);
void sl_snap_report(sl_snap_t *snap, int force);
/* Whether a snapshot is pending or running. */
int sl_snap_active(const sl_snap_t *snap);

#endif
