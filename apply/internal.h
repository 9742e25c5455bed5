/*
 * Internals of the apply consumer (apply/consume.h), shared by its files
 * and by no other module:
 *
 *   consume.c   the worker threads: fetch, classify, feed the sinks;
 *               sl_consume_run() starts and stops them
 *   trxtrack.c  where source transactions end (sl_trxtrack_feed())
 *   assign.c    partition discovery and assignment to workers
 *   report.c    the periodic stats log lines and the stats file
 *
 * The main thread (discovery, stats) and the workers share the state
 * below: the main thread appends to a worker's partition list under the
 * worker's mutex and reads the partitions' counters without a lock; all
 * else belongs to the worker thread.
 */
#ifndef SL_APPLY_INTERNAL_H
#define SL_APPLY_INTERNAL_H

#include "apply/consume.h"
#include "apply/event.h"
#include "apply/sink_cache.h"
#include "backoff.h"
#include "clock.h"
#include "jsonread.h"
#include "stream.h"

#include <pthread.h>
#include <stdint.h>

/* One partition, applied by the one worker it is assigned to. */
typedef struct {
    char *name;
    unsigned worker;
    int stopped;
    int resumed;
    /* Group membership (apply/assign.c): owned while this process applies
     * the partition (changed under the worker's mu); release asks the
     * worker to give it up (SL_STREAM_REVOKED). */
    int owned;
    volatile int release;
    sl_mysql_sink_t *sink;
    int db_found;
    uint64_t db_next;
    uint64_t cache_next;
    uint64_t pos;
    int group_open;
    uint64_t group_trx;     /* Units ended: source transactions, snapshot
                             * rows and markers. */
    uint64_t group_outside; /* Of them, snapshot rows and markers. */
    int group_kind;         /* What the open group holds: 1 source transactions,
                             * 2 snapshot rows and markers (0: nothing yet). */
    uint64_t group_rows;
    char last_trx[256];
    sl_trxtrack_t tt;
    sl_keylist_t keys;
    uint64_t last_broker_commit_ms;
    /* Stats, read by the main thread without a lock (64-bit stores are
     * atomic on the platforms we build for; a torn read would only skew a
     * log line). */
    uint64_t rows, trx, invalidated, latest, applied_next;
    uint64_t fetch_ns; /* Waiting for broker fetches (long polls too). */
    int64_t src_ts;
    uint64_t prev_rows;
    char error[512];
    /* Offsets moved to the dead-letter topic, skipped when re-read. */
    uint64_t *skip;
    size_t nskip, capskip;
    uint64_t dead_lettered;
    /* The source transaction open at the end of what was processed: its
     * first offset (UINT64_MAX when none is open), id, rows so far, and
     * since when (monotonic ms) it waits for its end; written by the
     * worker, read by the stats report like the counters above (otrx_id
     * keeps its last byte NUL). Kept across a rewind: the redo reaches
     * the same first offset and does not restart the clock. */
    uint64_t otrx_first;
    char otrx_id[256];
    uint64_t otrx_rows;
    uint64_t otrx_bytes; /* Of its events so far (the bound). */
    uint64_t otrx_since_ms;
    uint64_t otrx_warned_ms;
    uint64_t otrx_warnings; /* Warnings logged, for the stats. */
    /* Commit the group when the redo reaches this offset (UINT64_MAX:
     * no such point): set when ended source transactions wait in the
     * target transaction of one whose end does not come. */
    uint64_t commit_at;
} sl__part_t;

typedef struct sl__consume_s sl__consume_t;

/* A worker thread, with its own broker connections and sinks. */
typedef struct {
    pthread_t th;
    unsigned idx;
    sl__consume_t *c;
    pthread_mutex_t mu;
    sl__part_t **parts;
    size_t nparts, cap;
    sl_stream_t *cl; /* The log (lib/stream.h): commits, offsets, dead
                        letters. */
    /* Fetches alternate between two more sessions: while the worker
     * applies the data of one, the broker already prepares the next fetch
     * on the other (sl_stream_get_send), so the target is not kept waiting
     * for the broker. pend_p is the partition of the get sent and not yet
     * received (NULL for none), on fcl[pend_k], from pend_off. */
    sl_stream_t *fcl[2];
    int fcur;
    sl__part_t *pend_p;
    int pend_k;
    uint64_t pend_off;
    sl_redis_sink_t *rs;
    sl_mc_sink_t *mc;
    sl_jr_doc_t doc;
    sl_backoff_t bo;
    int started;
    volatile int done;
} sl__worker_t;

struct sl__consume_s {
    sl_consume_opts_t o;
    volatile int *soft;
    volatile int *hard;
    sl__worker_t *workers;
};

/* Monotonic milliseconds. */
static inline uint64_t sl__consume_now_ms(void) {
    return sl_mono_ns() / 1000000u;
}

/* The "id" of an event's "trx" member (SL_JR_NONE when absent). */
static inline uint32_t sl__trx_id_of(const sl_jr_doc_t *doc, uint32_t trx) {
    return trx != SL_JR_NONE ? sl_jr_get(doc, trx, "id") : SL_JR_NONE;
}

/* sl_trxtrack_feed() on an event already indexed (ev) whose transaction
 * id token is id (sl__trx_id_of()). */
int sl__trxtrack_at(sl_trxtrack_t *tt, const sl_jr_doc_t *doc,
                    const sl_event_t *ev, uint32_t id);

/* Lists the topic's partitions on the log (st; with the consumer group,
 * so that a transport with group membership answers this member's share)
 * and assigns each new wanted one to the least loaded worker; notes every
 * partition's latest offset for the lag. Main thread. */
void sl__consume_discover(sl__consume_t *c, sl_stream_t *st);

/* Logs a stats line per partition (elapsed_ms since the last report, for
 * the rates; final: the last one, at exit) and rewrites the stats file.
 * Main thread. */
void sl__consume_report(sl__consume_t *c, uint64_t elapsed_ms, int final);

#endif
