/*
 * The publisher: capture's exactly-once path into sluice-broker.
 *
 * Every message gets the next number of one counter that runs across all
 * partitions (the capture sequence). Messages go out as pipelined batch
 * puts with this instance's producer id and the sequence of their first
 * message, so the broker stores each message once: a batch re-sent after
 * a reconnect, or re-published after a restart, carries the sequences it
 * had the first time, and the broker drops what it already holds.
 *
 * Replays reproduce the same sequences, and the same batches, because the
 * counter's value is saved in every checkpoint, batches are cut at points
 * that depend only on the messages (see sl_publish_cut()), and a restart
 * replays the binlog from that checkpoint with the same filters and routing
 * (the producer id is derived from the capture name and those settings, so a
 * changed configuration is a new producer). Checkpoints are put only once every
 * message before them has been acknowledged; they are the resume point.
 *
 * Memory is bounded: at most max_inflight bytes of unacknowledged messages
 * are kept (they are needed to re-send after a broken connection); past
 * that, publishing waits for acks, which stalls reading the binlog
 * (back-pressure) instead of growing.
 *
 * A broker that goes away is retried for ever, with backoff, losing
 * nothing. An error reply the broker gives for a message (too large,
 * refused) is fatal: capture stops rather than skip it.
 */
#ifndef SL_CAPTURE_PUBLISH_H
#define SL_CAPTURE_PUBLISH_H

#include "buf.h"
#include "stream.h"

#include <stddef.h>
#include <stdint.h>

#define SL_PUBLISH_INTERNAL_TOPIC "__sluice_capture"

typedef struct {
    const char *broker; /* "HOST:PORT", "kafka://...". Copied. */
    const char *secret; /* Broker shared secret or NULL. Copied. */
    const struct sl_tls_opts_s *broker_tls; /* TLS to a sluice broker, or
                                               NULL. Read at open. */
    const char *topic;                      /* Data topic. Copied. */
    /* Checkpoints go to partition checkpoint_partition (the capture name)
     * of the internal topic SL_PUBLISH_INTERNAL_TOPIC, so consumers listing
     * the data topic never see them. Copied. */
    const char *checkpoint_partition;
    int64_t producer;       /* >= 0. */
    size_t max_inflight;    /* Bytes of unacked messages (default 64 MiB). */
    size_t max_batch;       /* Messages per batch put (default 512). */
    size_t max_batch_bytes; /* Bytes per batch put (default 1 MiB). */
    /* The transport's settings ("KEY=VALUE"; Kafka: librdkafka properties
     * and sluice.*), or NULL. Copied by the stream. */
    const char *const *props;
    unsigned nparts; /* Partitions of a key:N topic (N), 0 otherwise. */
} sl_publish_opts_t;

/* What a checkpoint records: where to resume and the counter there. */
typedef struct {
    char file[256];
    uint64_t pos;      /* The position after the last complete event. */
    char gtid[192];    /* The last transaction's GTID, or "". */
    uint64_t next_seq; /* The capture sequence of the next message. */
    int64_t ts;        /* Source commit time (seconds) of that event. */
    /* The snapshot cursor there (a JSON object's text, capture/snapshot/
     * snapshot.h), or NULL when no snapshot is pending. Borrowed: its
     * owner keeps it valid while the checkpoint is queued and while it is
     * the newest written one. A checkpoint read back points into the
     * publisher (valid until sl_publish_free). */
    const char *snap;
} sl_checkpoint_t;

typedef struct sl_publish_s sl_publish_t;

/* Connects (retrying for ever with backoff while *stop stays 0) and reads
 * the last checkpoint into *cp (*found = 0 when there is none). *out is
 * owned by the caller (sl_publish_free). */
int sl_publish_open(sl_publish_t **out, const sl_publish_opts_t *opts,
                    volatile int *stop, sl_checkpoint_t *cp, int *found,
                    char *err, size_t errlen);
void sl_publish_free(sl_publish_t *pub);

/* Sets the capture sequence of the next message (from the checkpoint). */
void sl_publish_set_seq(sl_publish_t *pub, uint64_t next_seq);
uint64_t sl_publish_seq(const sl_publish_t *pub);

/* Queues one message for a partition (both copied). Consecutive messages
 * to the same partition share a batch put. May block for acks when the
 * in-flight limit is reached. */
int sl_publish_message(sl_publish_t *pub, const char *part, size_t part_len,
                       const void *data, size_t len);
/* The same with the message's record key (copied; key_len 0: none), for
 * a transport with keys (Kafka); it replaces the key the publisher would
 * derive from a sluice event (the debezium format's record key). */
int sl_publish_keyed(sl_publish_t *pub, const char *part, size_t part_len,
                     const void *data, size_t len, const void *key,
                     size_t key_len);

/* Queues one record for partition part of the internal topic (schema
 * history records). It is acknowledged, in order, before any later
 * checkpoint is written; it carries no producer id (readers of internal
 * partitions tolerate repeats). */
int sl_publish_internal(sl_publish_t *pub, const char *part, const void *data,
                        size_t len);

/* Reads every record of partition part of the internal topic, in order,
 * calling cb for each (data valid during the call). cb returning non-zero
 * stops the read with that value. */
int sl_publish_read_internal(sl_publish_t *pub, const char *part,
                             int (*cb)(void *ctx, const uint8_t *data,
                                       size_t len),
                             void *ctx);

/* Closes the open batch (sends it). Batch boundaries must be a function
 * of the message stream alone, so that a replay re-creates the same
 * batches and the broker recognises each as a whole duplicate: the caller
 * cuts after every binlog event, and the publisher itself cuts only at a
 * partition change or a full batch (count or bytes), never on timing. */
int sl_publish_cut(sl_publish_t *pub);

/* Marks a transaction boundary: once every message queued so far is
 * acknowledged, cp (with next_seq filled in here) becomes the checkpoint
 * to write. */
int sl_publish_boundary(sl_publish_t *pub, const sl_checkpoint_t *cp);

/* Sends what is queued, collects the acks that are ready, and writes the
 * newest safe checkpoint when force is set or checkpoint_ms elapsed since
 * the last one. With force, waits until everything (the checkpoint too)
 * is acknowledged; without, waits for nothing: the checkpoint covers the
 * newest boundary acknowledged by then, and its own ack comes later. */
int sl_publish_sync(sl_publish_t *pub, int force, uint64_t checkpoint_ms);

/* The last checkpoint written (or read at open): returns 1 and fills *cp,
 * or 0 when there is none yet. */
int sl_publish_last_checkpoint(const sl_publish_t *pub, sl_checkpoint_t *cp);

/* Counters. */
typedef struct {
    uint64_t messages;   /* Acknowledged, stored or duplicate. */
    uint64_t duplicates; /* Acknowledged as already stored. */
    uint64_t bytes;
    uint64_t checkpoints;
    uint64_t reconnects;
    size_t inflight_bytes;
} sl_publish_stats_t;
void sl_publish_stats(const sl_publish_t *pub, sl_publish_stats_t *stats);

/* The last error message. */
const char *sl_publish_error(const sl_publish_t *pub);

/* Checkpoint records are one line of JSON:
 *   {"file":"binlog.000042","pos":1234,"gtid":"0-1-77","seq":9001,"ts":...,
 *    "snap":{...}}
 * where "snap" (the snapshot cursor, copied as it is) appears only when
 * cp->snap is set. Exposed for tests. sl_checkpoint_decode() leaves
 * cp->snap NULL; sl_checkpoint_decode_snap() also copies the cursor's text
 * into *snap (NUL-terminated) and points cp->snap at it. */
int sl_checkpoint_encode(const sl_checkpoint_t *cp, sl_buf_t *out);
int sl_checkpoint_decode(const uint8_t *data, size_t len, sl_checkpoint_t *cp);
int sl_checkpoint_decode_snap(const uint8_t *data, size_t len,
                              sl_checkpoint_t *cp, sl_buf_t *snap);

#endif
