/*
 * The broker's storage: one commit log for all partitions (segments under
 * DIR/log, format in record.c and store.c), per-partition index files
 * (DIR/idx, index.c), the metadata log of partition names and consumer
 * offsets (DIR/meta.log, meta.c) and the checkpoint (DIR/checkpoint,
 * checkpoint.c; recovery in recover.c). The files of the store and the
 * order in which they depend on each other are listed in store_int.h.
 *
 * Threads: every sl_store_* function is called on the loop thread. Disk
 * writes and fsyncs run on the store's own writer thread, which reports
 * back through a uv_async_t; appends staged during one loop turn form one
 * group sharing one write and one fsync (group commit). The acks of a
 * group are handed to acks_cb only after the group is durable according
 * to the fsync mode. A failed fsync is fatal (sl_fatal). A write that
 * fails for lack of space (ENOSPC, EDQUOT: SL_ENOSPC) is undone instead:
 * the files are cut back to where the group started, the group and the
 * one staged behind it are rolled back in memory, and their write acks are
 * delivered with extra = SL_ACK_NOSPACE; the next group simply tries again, so
 * writes resume by themselves when space returns. Any other write error
 * is fatal.
 *
 * Ownership: the store owns its partitions, segments and buffers; the
 * caller owns the loop, and frees the store with sl_store_close() after
 * the loop stopped running store work.
 */
#ifndef SL_BROKER_STORE_H
#define SL_BROKER_STORE_H

#include "broker/record.h"
#include "buf.h"
#include "lib/metrics.h"

#include <stdint.h>
#include <uv.h>

typedef enum {
    SL_FSYNC_ALWAYS = 0,
    SL_FSYNC_INTERVAL = 1,
    SL_FSYNC_NEVER = 2,
} sl_fsync_mode_t;

/* Idempotence state of one producer in one partition: its last batch
 * (sequences first_seq..last_seq at offsets base_offset...) and, to give
 * the original offset of a resent older batch, the batches before it. */
#define SL_PROD_RECENT 8
typedef struct {
    uint64_t first_seq;
    uint64_t last_seq;
    uint64_t base_offset;
} sl_prod_batch_t;

typedef struct {
    int64_t producer;
    uint64_t first_seq;
    uint64_t last_seq;
    uint64_t base_offset;
    sl_prod_batch_t recent[SL_PROD_RECENT]; /* Older batches, newest at
                                               recent[(head - 1) % N]. */
    uint32_t nrecent, head;
} sl_prod_t;

/* Kafka idempotence state of one producer id in one partition
 * (catalog.c), kept apart from sluice's own sl_prod_t: its epoch and its
 * last SL_KPROD_BATCHES batches, as Kafka's ProducerStateEntry keeps them,
 * so that a retried batch gets its original offset. Rebuilt from the
 * producer fields of the log's Kafka batches after a crash, and saved in
 * checkpoints. */
#define SL_KPROD_BATCHES 5
typedef struct {
    int32_t first_seq, last_seq; /* last_seq wraps to 0 after 2^31 - 1. */
    uint64_t base_offset;
} sl_kbatch_t;

typedef struct {
    int64_t pid;
    int16_t epoch;
    uint8_t nbatches, head; /* Newest at batches[(head + N - 1) % N]. */
    sl_kbatch_t batches[SL_KPROD_BATCHES];
} sl_kprod_t;

/* Verdicts of the Kafka idempotence check (sl_store_append_batch). */
#define SL_KPROD_OK 0 /* Stored. */
#define SL_KPROD_DUP                                                           \
    1 /* A retry of a remembered batch: not                                    \
         stored again; its original offset. */
#define SL_KPROD_DUP_OLD                                                       \
    2                           /* Sequences stored before, in a batch no      \
                                   longer remembered (Kafka's                  \
                                   DUPLICATE_SEQUENCE_NUMBER). */
#define SL_KPROD_OUT_OF_ORDER 3 /* A gap or overlap in the sequence. */
#define SL_KPROD_STALE_EPOCH 4  /* An epoch below the producer's current. */

typedef struct sl_part_s {
    uint32_t id;
    char *topic;             /* Owned. */
    char *name;              /* Owned. */
    uint64_t next_offset;    /* Next offset to assign (staged data incl.). */
    uint64_t durable_offset; /* Offsets below this are readable. */
    uint64_t slots;          /* Index entries assigned. */
    uint64_t durable_slots;  /* Index entries readers may use. */
    uint64_t file_slots;     /* Index entries the writer wrote to the file;
                                entries from here on live in itail. */
    uint8_t *itail;          /* Owned: 40-byte entries [file_slots, slots). */
    uint32_t ntail, captail;
    uint32_t handed;         /* Tail entries handed to the writer. */
    uint64_t first_slot;     /* First index entry still in the log. */
    uint64_t first_slot_gen; /* Retention generation first_slot is for. */
    uint64_t first_base;     /* The base offset of entry first_base_at - 1, */
    uint64_t first_base_at;  /* cached by sl_store_bounds (0: none). */
    int64_t last_ts;
    uint64_t reserved; /* High-water mark: offsets below it may have
                          been acknowledged (meta.log records). */
    sl_prod_t *prods;  /* Owned array. */
    uint32_t nprods, capprods;
    sl_kprod_t *kprods; /* Owned array: Kafka producers. */
    uint32_t nkprods, capkprods;
    void *waiters;  /* For the server (long polls); not owned. */
    void *kwaiters; /* For the Kafka listener's Fetch long polls. */
    int advanced;   /* Scratch flag while completing a group. */
    uint32_t idrop; /* Scratch while completing a group: tail entries the
                       writer wrote to the index file, dropped at once. */
} sl_part_t;

/* An acknowledgement, opaque to the store, delivered after durability.
 * The store sets extra on acks of writes: SL_ACK_DUP for a put that was a
 * duplicate, SL_ACK_NOSPACE for a put or commit refused for lack of space
 * (nothing of it was stored; the client may retry). */
#define SL_ACK_DUP 1
#define SL_ACK_NOSPACE 2
/* A put refused because an earlier batch of its idempotent producer in
 * that partition was refused (a fence, catalog.c); value is the negated
 * SL_E* code of that refusal. Nothing of it was stored. */
#define SL_ACK_FENCED 3
typedef struct {
    void *ctx;
    uint64_t reqid;
    uint64_t value;
    uint32_t kind;
    uint32_t extra;
} sl_ack_t;

typedef struct {
    const char *dir;
    uint64_t segment_size;
    sl_fsync_mode_t fsync_mode;
    uint64_t fsync_interval_ms;
    uint32_t max_batch; /* Largest RecordBatch accepted. */
    uint64_t checkpoint_ms;
    uint64_t retention_bytes; /* 0: unlimited. */
    uint64_t retention_ms;    /* 0: unlimited. */
    int auto_create;
    uint32_t max_partitions; /* Creating one more is SL_ELIMIT; 0: none. */
    int quarantine_damaged;  /* Serve around damaged records (recover.c)
                                instead of refusing to start. */
} sl_store_opts_t;

typedef struct sl_store_s sl_store_t;
typedef void (*sl_store_acks_cb)(sl_store_t *store, sl_ack_t *acks, size_t n);
typedef void (*sl_store_advance_cb)(sl_store_t *store, sl_part_t *part);

typedef struct {
    uint64_t puts, put_batches, dup_batches;
    uint64_t bytes_written;
    uint64_t fsyncs, fsync_ns, fsync_max_ns;
    uint64_t groups;
    uint64_t checkpoints;
    uint64_t segments_deleted;
    uint64_t crc_errors;
    uint64_t recovered_entries;
    uint64_t truncated_bytes;
    uint64_t damaged_ranges; /* Quarantined at start-up. */
    uint64_t recovery_ms;
    uint64_t nospace_groups;      /* Groups undone for lack of space. */
    uint64_t nospace_refused;     /* Puts and commits refused (507). */
    uint64_t checkpoints_skipped; /* Checkpoints not written (no space). */
    int disk_full;                /* The last group failed for space. */
    sl_metrics_hist_t fsync_hist; /* fdatasync latency (writer thread). */
} sl_store_stats_t;

/* Opens (creating if needed) the store at opts->dir, recovers it, and
 * starts the writer thread. opts->dir is copied. */
int sl_store_open(sl_store_t **out, const sl_store_opts_t *opts,
                  uv_loop_t *loop, sl_store_acks_cb acks_cb,
                  sl_store_advance_cb advance_cb, void *data);

/* Opens and recovers without a loop or writer thread (for tests and
 * tools): only recovery and the read functions are usable. */
int sl_store_open_offline(sl_store_t **out, const sl_store_opts_t *opts);

/* Flushes what is staged, writes a final checkpoint, stops the writer,
 * closes the uv handles (the loop must run once more to finish closing)
 * and frees everything once closed. cb may be NULL. */
void sl_store_close(sl_store_t *store, void (*cb)(void *data));
/* Frees an offline store. */
void sl_store_free(sl_store_t *store);

/* Finds a partition; creates it (durably, with the next group) when
 * create is set and auto-creation is on. SL_ENOTFOUND otherwise;
 * SL_ELIMIT when creating it would exceed opts.max_partitions. */
int sl_store_part(sl_store_t *store, const char *topic, size_t tlen,
                  const char *name, size_t nlen, int create, sl_part_t **out);

/* Stages a batch of msgs[0..n) for part. With producer >= 0, a batch whose
 * sequence is not above the last one stored for (producer, part) is not
 * stored: *dup is set and *base_offset is the original offset (or
 * UINT64_MAX when it is older than the last SL_PROD_RECENT + 1 batches
 * remembered). A batch that overlaps
 * the last stored sequence (some of its sequences old, some new) is
 * refused with SL_EEXIST. The ack (when ack is
 * not NULL) is delivered after durability, with ack->value set to the base
 * offset. A batch of an idempotent producer whose earlier batch in this
 * partition was refused (for lack of space, or by any other error of this
 * function once the partition exists, or by sl_store_fence), and that
 * lies above that batch's sequence, is refused too (its ack carries
 * SL_ACK_NOSPACE for lack of space, else SL_ACK_FENCED; without an ack the
 * error is returned) until the producer stores a batch from there again,
 * so a resend is never mistaken for a duplicate. */
int sl_store_append(sl_store_t *store, sl_part_t *part, const sl_msg_t *msgs,
                    size_t n, int64_t producer, uint64_t seq,
                    const sl_ack_t *ack, uint64_t *base_offset, int *dup);

/* Stages a Kafka RecordBatch v2 (batch[0..len), checked by
 * sl_record_kafka_check, which filled *e) for part, stored verbatim but
 * for its base offset and leader epoch (record.c). The batch's producer
 * fields go through Kafka's idempotence check first, whose verdict lands
 * in *verdict (SL_KPROD_*): OK, stored, ack value = its base offset;
 * DUP, not stored, ack value = the original base offset and extra =
 * SL_ACK_DUP; DUP_OLD, not stored, the same ack with value UINT64_MAX;
 * OUT_OF_ORDER and STALE_EPOCH, nothing staged and no ack. Acks (when ack
 * is not NULL) are delivered after durability, in order with the others.
 * Errors (nothing staged, no ack): SL_EINVAL for producer fields Kafka
 * forbids (an idempotent batch without a sequence), SL_ETOOBIG above
 * max_batch, SL_EAGAIN when the filling group is full, SL_ENOMEM. *base
 * receives the base offset (or the original one) when there is one. A
 * batch is copied: batch may be freed when this returns. */
int sl_store_append_batch(sl_store_t *store, sl_part_t *part,
                          const uint8_t *batch, size_t len, const sl_entry_t *e,
                          const sl_ack_t *ack, uint64_t *base, int *verdict);

/* Hands out a new Kafka producer id (InitProducerId): never one handed
 * out before, across restarts too (a high-water mark in meta.log, synced
 * before the ack). The ack (not NULL) is delivered once that is durable,
 * with value = the producer id, or extra = SL_ACK_NOSPACE when the mark
 * could not be written (the id must then not be used). */
int sl_store_new_producer_id(sl_store_t *store, const sl_ack_t *ack,
                             int64_t *pid);

/* Fences (producer, part) at seq with err: the producer's later batches
 * above seq are refused until it stores a batch from seq again. For a
 * batch the server refused before it reached sl_store_append (a CRC
 * mismatch). Ignores a producer or seq out of range (never stored). */
void sl_store_fence(sl_store_t *store, const sl_part_t *part, int64_t producer,
                    uint64_t seq, int err);

/* Stages a consumer-group offset; ack delivered after durability. */
int sl_store_commit_offset(sl_store_t *store, const char *group, size_t glen,
                           sl_part_t *part, uint64_t offset,
                           const sl_ack_t *ack);
/* SL_ENOTFOUND when the group never committed for part. */
int sl_store_committed(sl_store_t *store, const char *group, size_t glen,
                       sl_part_t *part, uint64_t *offset);

/* Queues an ack with nothing to write, delivered in order with the acks of
 * the current group (so a reply never overtakes an earlier put's ack). */
int sl_store_ack_after(sl_store_t *store, const sl_ack_t *ack);

/* Earliest offset still stored (after retention) and next offset. */
int sl_store_bounds(sl_store_t *store, sl_part_t *part, uint64_t *earliest,
                    uint64_t *latest);
/* First offset whose timestamp is >= ts (latest when none). */
int sl_store_offset_for_ts(sl_store_t *store, sl_part_t *part, int64_t ts,
                           uint64_t *offset);

/* Reads durable records of part from offset on, calling emit for each one
 * until about max_bytes of values were emitted (at least one record when
 * any is available). *next receives the offset after the last emitted
 * record. A damaged record (one that fails verification, or offsets
 * quarantined at start-up) is never emitted: records before it are
 * returned first; a read that starts at it gets SL_EDAMAGED with *next set
 * to the first offset after the damaged batch or range. An offset below
 * the earliest is SL_EGONE; above the latest, SL_ERANGE. */
typedef int (*sl_store_emit_cb)(void *ctx, const sl_record_t *rec);
int sl_store_read(sl_store_t *store, sl_part_t *part, uint64_t offset,
                  uint64_t max_bytes, sl_store_emit_cb emit, void *ctx,
                  uint64_t *next, uint64_t *count);

/* Appends to out (caller-owned) the stored RecordBatches of part from the
 * one holding offset on, as stored (a Kafka Fetch serves them without
 * re-encoding; the sluice header is left out), whole batches only, until
 * the next would exceed max_bytes (at least one when any is available).
 * Each is verified first; damage is never served, and errors are those of
 * sl_store_read. *next is the offset after the last batch, *count the
 * records at or after offset appended. */
int sl_store_read_batches(sl_store_t *store, sl_part_t *part, uint64_t offset,
                          uint64_t max_bytes, sl_buf_t *out, uint64_t *next,
                          uint64_t *count);

/* Hands staged work to the writer now if it is idle (the store does this
 * itself at the end of every loop turn). */
void sl_store_kick(sl_store_t *store);

/* Deletes old segments per retention; returns how many were deleted. */
int sl_store_retain(sl_store_t *store, int64_t now_ms);

/* Bytes of commit log on disk. */
uint64_t sl_store_disk_used(const sl_store_t *store);

/* What partitions cost in index files: *files partitions have an index
 * file, holding *bytes bytes of entries and taking about *disk_bytes of
 * disk (each file rounded up to the file system's allocation unit). */
void sl_store_index_usage(const sl_store_t *store, uint64_t *files,
                          uint64_t *bytes, uint64_t *disk_bytes);

/* Bytes staged in memory and not yet written (the filling group and the
 * one the writer holds): what the server counts against its memory
 * budget. Loop thread only. */
size_t sl_store_staged_bytes(const sl_store_t *store);

/* Accessors for the server, which does not reach into the store. All are
 * loop thread only; pointers returned stay owned by the store. */
uint32_t sl_store_nparts(const sl_store_t *store);
/* The partition with this id (1..sl_store_nparts()), NULL outside. */
sl_part_t *sl_store_part_by_id(const sl_store_t *store, uint32_t id);
const sl_store_opts_t *sl_store_options(const sl_store_t *store);
const sl_store_stats_t *sl_store_get_stats(const sl_store_t *store);
/* The 99th percentile of the latest 4096 fsyncs' durations, in
 * microseconds (0 before the first): what bounds ack latency under
 * fsync=always, for stats and bench/broker. With by_time, weighted by
 * duration: the p99 of the fsync a put arriving at a random moment finds
 * in progress (a 100 ms stall is one fsync, but 100 ms of arrivals). */
uint64_t sl_store_fsync_p99_us(const sl_store_t *store, int by_time);
size_t sl_store_nsegments(const sl_store_t *store);
/* Log position after the last durable byte. */
uint64_t sl_store_durable_end(const sl_store_t *store);
/* Index files the loop thread has opened (its descriptor cache misses). */
uint64_t sl_store_index_opens(const sl_store_t *store);
/* Bytes in the group being filled (not yet handed to the writer). */
size_t sl_store_filling_bytes(const sl_store_t *store);
/* The user's pointer, for callbacks (libuv's handle->data). */
void *sl_store_get_data(const sl_store_t *store);
void sl_store_set_data(sl_store_t *store, void *data);

#endif
