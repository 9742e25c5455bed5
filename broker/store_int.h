/*
 * The store's internals, shared by the files of the store and by tests
 * that look inside it. The public API is broker/store.h.
 *
 * The store's files, each using only those above it:
 *
 *   catalog.c     partitions, producer state, fences, group offsets
 *     ^           (in memory only)
 *   checkpoint.c  DIR/checkpoint: encode, load, restore names, write
 *     ^
 *   meta.c        DIR/meta.log: load, compact, rewrite, append
 *     ^
 *   recover.c     start-up: list segments, scan, check index files,
 *     ^           judge damage (quarantine or stop)
 *   writer.c      the writer and checkpointer threads; group hand-over,
 *     ^           completion, and the undo of a group refused for space
 *   store.c       open and close, staging appends and offsets, reads,
 *                 retention, accessors
 *
 * index.c and record.c (formats), and lib/file.c, are below all of them.
 */
#ifndef SL_BROKER_STORE_INT_H
#define SL_BROKER_STORE_INT_H

#include "broker/index.h"
#include "broker/store.h"
#include "buf.h"
#include "strmap.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <uv.h>

/* Offsets [from, to) of a partition that recovery skipped (meta.log type
 * 5): nothing was stored there, so a rebuild accepts the jump. */
/* Fsync durations a group reports (it makes at most a few: metadata,
 * segment roll, log, directory) and the recent ones the store keeps. */
#define SL__GROUP_FSYNCS 8
#define SL__FSYNC_RING 4096
/* Groups in the pool: the filling one and up to SL__GROUPS - 1 sealed
 * (handed to the writer, being written, or written and waiting for the
 * loop to complete them). */
#define SL__GROUPS 8

typedef struct {
    uint32_t part_id;
    uint64_t from, to;
} sl_hole_t;

typedef struct {
    uint64_t start;
    int rfd; /* Read descriptor on the loop thread, -1 until needed. */
} sl_segment_t;

/* One group commit: bytes for the log and the metadata log, index
 * entries, and the acks to send once it is durable. */
typedef struct {
    sl_buf_t data; /* Commit-log bytes starting at position start. */
    uint64_t start;
    sl_buf_t rolls;     /* u64 positions where a new segment starts. */
    sl_buf_t index;     /* Records of u32 part id, u64 slot, 40-byte entry:
                           what becomes readable when the group is durable. */
    sl_buf_t ichunks;   /* Index writes: u32 part id, u64 first slot, u32 n,
                           then n 40-byte entries. */
    sl_buf_t meta;      /* Metadata-log bytes, written and synced first. */
    sl_buf_t undo;      /* Loop-thread undo records (producer state, group
                           offsets) to roll the group back if refused. */
    uint32_t nparts_hi; /* Partitions whose names are in this group's
                           metadata bytes or earlier ones. */
    sl_buf_t ckpt;      /* A checkpoint to write after, when non-empty. */
    uint64_t ckpt_pos;
    sl_ack_t *acks;
    uint8_t *wkinds; /* Per ack: what it waits for (SL__WK_*). */
    size_t nacks, capacks;
    int sync_only; /* Interval mode: just fsync what was written. */
    /* Results from the writer. */
    int err_meta; /* SL_ENOSPC: the metadata bytes were not stored. */
    int err_data; /* SL_ENOSPC: the log bytes were not stored. */
    int skipped;  /* Not written: an earlier group of its batch failed. */
    uint64_t fsyncs;
    uint64_t fsync_ns;
    uint64_t fsync_max_ns;
    uint32_t fsync_us[SL__GROUP_FSYNCS]; /* The first fsyncs' durations. */
} sl_group_t;

struct sl_store_s {
    sl_store_opts_t opts;
    char *dir, *logdir, *idxdir;
    uv_loop_t *loop;
    sl_store_acks_cb acks_cb;
    sl_store_advance_cb advance_cb;
    void *data;

    sl_part_t **parts; /* By id; ids start at 1; parts[0] unused. */
    uint32_t nparts, capparts;
    sl_strmap_t byname; /* "topic\0name" -> sl_part_t*. */
    sl_strmap_t groups; /* "group\0" u32be id -> uint64_t* offset. */
    sl_strmap_t fences; /* u32be id, u64be producer -> fence_t* (catalog.c:
                           a refused batch of an idempotent producer). */
    uint32_t nfences;   /* Fences in force. */

    sl_segment_t *segs;
    size_t nsegs, capsegs;
    uint64_t log_end;     /* Position after the last staged byte. */
    uint64_t durable_end; /* Position after the last durable byte. */
    uint64_t ckpt_done;   /* Position of the last completed checkpoint. */
    uint64_t retention_gen;
    int meta_fd;
    uint64_t meta_size;  /* Writer-owned once the writer runs. */
    uint32_t meta_parts; /* Partitions whose names are durable. */
    uint64_t idx_block;  /* Allocation unit of the index directory. */
    uint64_t nospace_ns; /* When a write last failed for lack of space. */
    uint64_t seg_hwm;    /* Start of the newest segment meta.log names. */
    int have_seg_hwm;
    sl_hole_t *holes; /* Skipped offsets, from meta.log. */
    size_t nholes, capholes;
    uint32_t meta_damage;  /* Damaged meta.log ranges found at start-up. */
    uint32_t lost_names;   /* Partitions named _lost/partition-<id>. */
    int meta_dirty;        /* meta.log must be rewritten after recovery. */
    int64_t kpid_next;     /* Next Kafka producer id to hand out. */
    int64_t kpid_reserved; /* Ids below it are covered by a meta.log
                              high-water mark (staged or durable). */

    sl_fdcache_t rcache; /* Loop-thread index descriptors. */
    sl_buf_t scratch;    /* Loop-thread read buffer. */
    sl_buf_t inflated;   /* Loop-thread: a decompressed Kafka batch. */

    /* Writer thread. Groups move filling -> sealed (handed[], in log
     * order) -> taken by the writer -> done -> completed by the loop ->
     * free. handed[] and nhanded change on the loop thread only, under mu;
     * the writer advances wtaken and wdone under mu (see writer.c). */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    sl_group_t groups_buf[SL__GROUPS];
    sl_group_t *gfree[SL__GROUPS]; /* Loop only: groups not in use. */
    size_t nfree;
    sl_group_t *filling; /* Loop only. */
    sl_group_t *handed[SL__GROUPS];
    size_t nhanded;      /* Sealed and not yet completed. */
    size_t wtaken;       /* handed[0..wtaken) were taken by the writer, */
    size_t wdone;        /* handed[0..wdone) are written. */
    size_t handed_bytes; /* Loop only: staged bytes of handed[]. */
    int halted;          /* A write failed for lack of space: the writer
                            takes nothing until the loop rolled back. */
    int wwaiting;        /* The writer waits on cv (signal it). */
    int stopping, thread_started;
    sl_ack_t *acks_out; /* Loop only: the acks of the groups completed in
                           one turn, delivered with one callback. */
    size_t nacks_out, capacks_out;
    uv_async_t async;
    uv_timer_t timer; /* Checkpoints, retention, interval fsync. */
    uv_check_t check; /* Hands the group over at the end of a turn. */
    void (*close_cb)(void *data);
    int close_open;
    int want_ckpt;
    uint64_t last_ckpt_ns;
    int closing;
    /* Checkpointer thread: writes checkpoints (syncfs + atomic replace)
     * off the writer, so acks never wait for them. */
    pthread_t ckthread;
    pthread_mutex_t ckmu;
    pthread_cond_t ckcv;
    sl_buf_t ckjob; /* The checkpoint being written. */
    uint64_t ckjob_pos;
    int ck_busy, ck_stop, ck_started, ck_result; /* ck_result: 1 done,
                                                    2 skipped (no space). */
    uint64_t ck_result_pos;
    int dirfd; /* The data directory, for syncfs. */
    /* Writer-owned. */
    int wfd;
    uint64_t wseg_start;
    uint64_t wpos;
    sl_fdcache_t wcache;
    uint64_t last_sync_ns;
    int dirty;

    sl_store_stats_t stats;
    /* The durations of the latest SL__FSYNC_RING fsyncs (us), a ring
     * indexed by stats.fsyncs, for sl_store_fsync_p99_us(). */
    uint32_t fsync_ring[SL__FSYNC_RING];
};

/* A group's index record: u32 part id, u64 slot, the 40-byte entry. */
#define SL__INDEX_REC (4 + 8 + SL_INDEX_ENTRY)
/* Index-tail entries handed to the writer at once. */
#define SL__INDEX_CHUNK 32

/* What an ack waits for, so a group refused for lack of space refuses
 * exactly the requests whose bytes were not stored. */
#define SL__WK_NONE 0 /* Nothing (sl_store_ack_after). */
#define SL__WK_DATA 1 /* Log bytes: puts, including duplicates. */
#define SL__WK_META 2 /* Metadata-log bytes: group offsets. */

/* Path of the segment starting at log position start. */
static inline void sl__store_seg_path(const sl_store_t *store, uint64_t start,
                                      char *out, size_t outlen) {
    snprintf(out, outlen, "%s/%020" PRIu64 ".log", store->logdir, start);
}

/* ---- catalog.c ----------------------------------------------------------- */

/* A group offset slot holding this value was never committed (the commit
 * that created it was undone). */
#define SL__GROUP_NONE UINT64_MAX
/* A fence's sequence once it was lifted. */
#define SL__FENCE_NONE UINT64_MAX

int sl__store_catalog_init(sl_store_t *store);
void sl__store_catalog_free(sl_store_t *store);
/* Adds partition id, which must be nparts + 1. */
int sl__store_add_part(sl_store_t *store, uint32_t id, const char *topic,
                       size_t tlen, const char *name, size_t nlen,
                       sl_part_t **out);
/* The partition named topic/name, or NULL. */
sl_part_t *sl__store_find_part(const sl_store_t *store, const char *topic,
                               size_t tlen, const char *name, size_t nlen);
/* Sets a group's offset for a partition; SL_ETOOBIG when the name is
 * longer than meta.log records hold. */
int sl__store_set_group(sl_store_t *store, const char *group, size_t glen,
                        uint32_t part_id, uint64_t offset);
/* The group's offset slot for a partition (SL__GROUP_NONE when undone),
 * NULL when it never committed. The map's keys are the group name, a NUL
 * and the u32be partition id (meta.c compacts from them). */
uint64_t *sl__store_group_slot(const sl_store_t *store, const char *group,
                               size_t glen, uint32_t part_id);
/* Records that producer stored first_seq..last_seq at base_offset. */
int sl__store_note_producer(sl_part_t *part, int64_t producer,
                            uint64_t first_seq, uint64_t last_seq,
                            uint64_t base_offset);
/* Kafka producer state (rules in catalog.c). The verdict (SL_KPROD_*) on
 * a batch of pid at epoch with first_seq and count records; for a
 * duplicate, *orig its original base offset (UINT64_MAX when unknown). */
int sl__store_kprod_check(const sl_part_t *part, int64_t pid, int16_t epoch,
                          int32_t first_seq, uint32_t count, uint64_t *orig);
/* Records that pid stored count records from first_seq at base_offset. */
int sl__store_kprod_note(sl_part_t *part, int64_t pid, int16_t epoch,
                         int32_t first_seq, uint32_t count,
                         uint64_t base_offset);
/* The last sequence of a batch: first_seq + count - 1, wrapping to 0
 * after 2^31 - 1 as Kafka's sequences do. */
int32_t sl__store_kseq_last(int32_t first_seq, uint32_t count);

/* Fences (the rules are in catalog.c): set one, and check a batch. */
void sl__store_fence_set(sl_store_t *store, const sl_part_t *part,
                         int64_t producer, uint64_t seq, int err);
int sl__store_fence_check(sl_store_t *store, const sl_part_t *part,
                          int64_t producer, uint64_t seq, int clear);

/* ---- checkpoint.c -------------------------------------------------------- */

/* Adds partitions nparts+1..upto with the names the checkpoint holds
 * (for a damaged or lost meta.log); none when it has none. */
int sl__store_ckpt_names(sl_store_t *store, uint32_t upto);
/* Applies DIR/checkpoint (SL_ENOTFOUND without one, SL_ECORRUPT when it is
 * not valid); log_end is where the commit-log files end. */
int sl__store_ckpt_load(sl_store_t *store, uint64_t log_end, uint64_t *pos);
/* Writes the first checkpoint of a new data directory. */
void sl__store_ckpt_first(sl_store_t *store);
/* Replaces DIR/checkpoint with ckpt (on the checkpointer thread): 0, or
 * SL_ENOSPC when it was skipped for lack of space. */
int sl__store_ckpt_write(sl_store_t *store, const sl_buf_t *ckpt);

/* ---- meta.c -------------------------------------------------------------- */

/* Reads DIR/meta.log into the store (partitions and group offsets),
 * skipping (and counting in store->meta_damage) damaged records,
 * compacting the file when it grew large, and leaves store->meta_fd open
 * for appending after the last whole record (recovery cuts a torn tail). */
int sl__store_meta_load(sl_store_t *store);
/* Remembers a hole in store->holes. */
int sl__store_note_hole(sl_store_t *store, uint32_t part_id, uint64_t from,
                        uint64_t to);
/* Makes sure partitions 1..upto exist (names from the checkpoint, else
 * placeholders counted in store->lost_names). */
int sl__store_fill_parts(sl_store_t *store, uint32_t upto);
/* Appends encoded records to meta.log now and syncs them (recovery, before
 * the writer thread runs). */
int sl__store_meta_append_now(sl_store_t *store, const sl_buf_t *recs);
/* Rewrites meta.log from the store's state (after damage), keeping the old
 * file as meta.log.damaged-<time>. */
int sl__store_meta_rewrite(sl_store_t *store);

/* ---- recover.c ----------------------------------------------------------- */

/* Recovers the commit log after the metadata log was loaded: lists the
 * segments, applies the checkpoint, scans and indexes everything after it
 * (or everything, when the checkpoint or an index is missing or damaged),
 * truncates a torn tail and judges damage. */
int sl__store_recover(sl_store_t *store);

/* ---- writer.c ------------------------------------------------------------ */

/* Starts the writer and checkpointer threads and the loop handles that
 * hand groups over and complete them. An SL_E* code when it cannot (the
 * caller frees the store). */
int sl__store_writer_start(sl_store_t *store);
/* Drains what is staged, writes a final checkpoint and stops both
 * threads (blocking; the loop handles are the caller's to close). */
void sl__store_writer_stop(sl_store_t *store);
void sl__store_group_free(sl_group_t *g);
/* Queues an ack in g; wkind (SL__WK_*) is what it waits for. */
int sl__store_add_ack(sl_group_t *g, const sl_ack_t *ack, uint32_t wkind);
/* Moves the part of a partition's index tail not yet handed over into the
 * group's index writes. */
int sl__store_hand_tail(sl_group_t *g, sl_part_t *part);
/* Undo records (format in writer.c): one of any kind, and one saving a
 * producer's state before a batch at seq changes it. */
int sl__store_undo_push(sl_group_t *g, const uint8_t *body, size_t n);
int sl__store_undo_note_producer(sl_group_t *g, const sl_part_t *part,
                                 int64_t producer, uint64_t seq);
/* One saving a Kafka producer's state before a batch changes it. */
int sl__store_undo_note_kprod(sl_group_t *g, const sl_part_t *part,
                              int64_t pid);

#endif
