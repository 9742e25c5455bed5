/*
 * The apply consumer: worker threads that pull the partitions of a topic
 * from sluice-broker and hand every change, strictly in order per
 * partition, to the sinks (MySQL/MariaDB, Redis, memcached).
 *
 * Assignment: a partition is owned by exactly one worker, so its changes
 * are applied by one thread in offset order; different partitions proceed
 * in parallel. Partitions are discovered at start and every discover_ms
 * while running; each new one goes to the worker that owns the fewest
 * partitions at that moment (the first among equals) and stays there.
 *
 * Positions: with a MySQL target, the position of record is the
 * partition's row of sluice_offsets, updated in the target transaction
 * (exactly once). Cache invalidation progress is the broker's consumer
 * group offset, committed after the deletes are acknowledged (at least
 * once); with both sinks, keys are deleted only after the target commit
 * that covers their rows, so a reader refilling the cache sees new data.
 *
 * Back-pressure: each worker holds at most two fetches (fetch_bytes each:
 * the one it applies and the one asked for ahead), two statement batches
 * (the one the target executes and the one being built) and the keys of
 * one target transaction group; a slow sink simply delays the next fetch.
 *
 * Stopping: *soft_stop makes workers finish the open target transaction
 * (up to the end of its source transaction) and exit; *hard_stop abandons
 * waits at once (an open transaction is rolled back by the server).
 */
#ifndef SL_APPLY_CONSUME_H
#define SL_APPLY_CONSUME_H

#include "apply/keytpl.h"
#include "apply/mysql/sink.h"
#include "config.h"

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *broker; /* "HOST:PORT" or "kafka://HOST:PORT[,...]". */
    const char *secret; /* Broker secret or NULL. */
    const struct sl_tls_opts_s *broker_tls; /* TLS to a sluice broker, or
                                               NULL (lib/tls.h). */
    const char *const *props; /* Transport settings (lib/stream.h). */
    const char *topic;
    const char *group;
    unsigned workers;
    int start_latest;         /* No stored position: 1 latest, 0 earliest. */
    const sl_strlist_t *only; /* Partitions to consume (NULL: all). */
    /* MySQL target (NULL: none). The opts are copied per partition. */
    const sl_mysql_opts_t *mysql;
    /* Cache sinks ("HOST:PORT" or NULL) and key templates. */
    const char *redis;
    const char *redis_channel;
    const char *redis_password;
    /* memcached servers ("HOST:PORT", nmemcached of them; NULL: none),
     * one ketama pool (apply/sink_cache.h). */
    const char *const *memcached;
    size_t nmemcached;
    const sl_keytpl_set_t *keys;
    uint64_t fetch_bytes;   /* Per get (default 1 MiB). */
    uint64_t poll_ms;       /* Long-poll wait (default 1000). */
    uint64_t group_rows;    /* Rows per target transaction (default 20000). */
    uint64_t stats_ms;      /* Log and stats-file period (default 10 s). */
    uint64_t discover_ms;   /* Partition discovery period (default 2 s). */
    const char *stats_file; /* STAT lines rewritten each period, or NULL. */
    uint64_t grace_ms;      /* Soft stop: time to finish (default 30 s). */
    /* Dead-letter topic, or NULL: an event that fails permanently (not a
     * drift stopped by policy) is put there, in a partition of the same
     * name, wrapped with its offset and error, and skipped. */
    const char *dead_letter;
    int ddl_replay; /* Run DDL events on the target (default 0). */
    /* A source transaction whose end has not arrived for this long is
     * logged (naming it, its first offset and the wait), again every
     * period, and shown in the stats; 0: never logged. */
    uint64_t open_trx_warn_ms;
    /* The change events of one source transaction still open may add up
     * to this many bytes (0: no bound); past it the partition stops with
     * an error naming the transaction instead of holding more. */
    uint64_t open_trx_max_bytes;
    /* Snapshot rows ("op":"read") also invalidate their cache keys
     * (default 0: the caches ignore them). */
    int warm;
} sl_consume_opts_t;

/* Runs until *soft_stop (or *hard_stop). Returns 0 after a clean stop, or
 * an error when nothing can run at all (bad options). Partitions that hit
 * a permanent error are stopped and reported in the log and stats; the
 * others continue. */
int sl_consume_run(const sl_consume_opts_t *opts, volatile int *soft_stop,
                   volatile int *hard_stop);

/* Where one partition's transactions end, for a stream of change events.
 * Fed each event in order, it says whether a source transaction ended
 * just before it (a row of another transaction: commit marker missing)
 * or with it (commit, rollback, xa_prepare, ddl). A snapshot row or marker
 * belongs to no transaction: it is a unit of its own (SL_TRX_ENDS_HERE |
 * SL_TRX_OUTSIDE), and ends an open transaction before it as a row of
 * another transaction would. Exposed for tests. */
typedef struct {
    char trx[256]; /* Id of the open transaction ("" when none). */
    int open;      /* Rows seen since the last boundary. */
} sl_trxtrack_t;

enum {
    SL_TRX_NONE = 0,        /* Inside a transaction. */
    SL_TRX_ENDS_BEFORE = 1, /* The previous transaction ended before. */
    SL_TRX_ENDS_HERE = 2,   /* This event ends a transaction. */
    SL_TRX_OUTSIDE = 4,     /* ... and is in none (snapshot rows). */
};

/* Classifies the event whose parsed tokens are in doc (root 0); the
 * consumer itself classifies events it has already indexed. */
int sl_trxtrack_feed(sl_trxtrack_t *tt, const sl_jr_doc_t *doc);

#endif
