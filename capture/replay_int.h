/*
 * Internals shared by replay.c (command line, progress, schema) and
 * replay_source.c (the reader of files); see replay.h.
 */
#ifndef SL_CAPTURE_REPLAY_INT_H
#define SL_CAPTURE_REPLAY_INT_H

#include <stddef.h>
#include <stdint.h>

/* One binlog file of the replay, in replay order. */
typedef struct {
    char *path; /* As found; owned. */
    char *name; /* Its base name, the coordinate in positions; owned. */
    uint64_t size;
} sl_replay_file_t;

/* One item of --include-gtids / --exclude-gtids: a MariaDB GTID range
 * D-S-N or D-S-N1-N2 (server "*" for any), or a MySQL range uuid:N[-M]. */
typedef struct {
    int mysql;        /* 1: uuid form. */
    uint32_t domain;  /* MariaDB. */
    uint32_t server;  /* MariaDB. */
    int any_server;   /* MariaDB "*". */
    uint8_t uuid[16]; /* MySQL. */
    uint64_t lo, hi;  /* Inclusive sequence number range. */
} sl_replay_gtid_range_t;

typedef struct {
    sl_replay_file_t *files;
    size_t nfiles;
    uint64_t start_pos;        /* In the first file (>= 4). */
    uint64_t stop_pos;         /* In the last file; 0: its end. */
    int64_t start_ms, stop_ms; /* --start/--stop-datetime; -1 when unset. */
    sl_replay_gtid_range_t *include, *exclude;
    size_t ninclude, nexclude;
    char *schema_history; /* --schema-history NAME, or NULL. */
    uint64_t filter_hash; /* Of the transaction filters given; 0: none. */
    int schema_from;      /* --schema-from was given. */
    int progress;         /* Draw the progress line. */

    /* Counters, kept by the reader. */
    size_t file_index;       /* Of the file being read. */
    uint64_t bytes_done;     /* Of all files, up to the reader's position. */
    uint64_t bytes_total;    /* Of all files, within the start/stop bounds. */
    uint64_t events;         /* Delivered to the service. */
    uint64_t trx_skipped;    /* Transactions left out by the filters. */
    int stopped_at_datetime; /* The replay ended at --stop-datetime. */
    int finished;            /* The reader reached the end or a stop. */
    uint64_t rows;           /* From the service (sl_replay_tick). */
} sl_replay_t;

/* The replay in progress (set by sl_capture_replay_main(), or by
 * sl__replay_set() for the fuzzer; NULL: none). */
sl_replay_t *sl__replay_get(void);
void sl__replay_set(sl_replay_t *rp);

/* Whether a transaction with this GTID event passes the GTID filters. */
int sl__replay_gtid_wanted(const sl_replay_t *rp, const uint8_t *ev,
                           size_t len);

#endif
