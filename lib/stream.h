/*
 * The log, as capture and apply see it: one interface over the transports
 * sluice can run on (design in docs/transport.md).
 *
 * Capture publishes change events into partitions of a topic and keeps its
 * checkpoints and schema history in an internal topic; apply reads the
 * partitions from an offset and, for the cache sinks, commits offsets for
 * a consumer group. Everything above this interface (routing, batching,
 * checkpoints, back-pressure, apply's grouping) is written once; below it
 * each transport maps the calls onto its protocol:
 *
 *   "HOST:PORT" or "sluice://HOST:PORT"   sluice-broker's text protocol
 *       (lib/stream_sluice.c over lib/client.h; docs/protocol.md).
 *
 *   "kafka://HOST:PORT[,HOST:PORT...]"     any Kafka-protocol cluster
 *       (lib/stream_kafka*.c over librdkafka; docs/kafka.md).
 *
 * Names: a partition is named by (topic, partition name), as sluice-broker
 * names it: "db.table" or "db.table#3" for key:N routing. A transport that
 * numbers partitions (Kafka) maps the pair to its own names itself, with
 * the mapping of docs/kafka.md ("T.db.table" partition 3); callers never
 * see the numbers.
 *
 * Threads: one sl_stream_t is one session (one connection, or one
 * librdkafka handle) and is not thread-safe: use one per thread. Every call
 * blocks for at most the timeouts in sl_stream_opts_t.
 *
 * Errors: functions return 0 or a negative SL_E* code (lib/error.h);
 * sl_stream_error() has the text. The codes mean the same on every
 * transport: SL_ECLOSED / SL_ETIMEDOUT / SL_ECONN / SL_EPROTO: the
 * transport failed, retry after sl_stream_reconnect(); SL_EAGAIN /
 * SL_ENOSPC: the log cannot take more now, retry later; SL_EAUTH: refused
 * (fatal); SL_ETOOBIG: a message over the log's limit (fatal for it);
 * SL_ENOTFOUND: no such partition (or no committed offset); SL_EGONE: the
 * offset was deleted by retention; SL_ERANGE: beyond the end; SL_EDAMAGED:
 * stored records damaged and never served; SL_EUNSUPPORTED: the transport
 * lacks the operation (see the capabilities).
 *
 * Ownership: strings and messages passed in are copied or used only during
 * the call. Data returned by a fetch points into the stream's buffers and
 * stays valid until the next call on the same stream.
 */
#ifndef SL_STREAM_H
#define SL_STREAM_H

#include "buf.h"

#include <stddef.h>
#include <stdint.h>

typedef struct sl_stream_s sl_stream_t;

typedef struct {
    const char *secret;       /* Shared secret (sluice) or SASL password
                                 (Kafka), or NULL. Copied. */
    int connect_timeout_ms;   /* Default 5000. */
    int io_timeout_ms;        /* Per request, long-poll wait excluded.
                                 Default 30000. */
    int retry_ms;             /* Reconnect budget of synchronous calls;
                                 default 30000; -1 disables reconnects. */
    const char *const *props; /* NULL-terminated "KEY=VALUE" settings of
                                 the transport (Kafka: librdkafka
                                 properties and sluice.*), or NULL.
                                 Copied. */
    unsigned key_parts;       /* N of capture's key:N routing: the partition
                                 count a topic of "#k" partitions is created
                                 with (Kafka); 0 otherwise. */
    const struct sl_tls_opts_s *tls; /* TLS to a sluice broker (lib/tls.h),
                                        or NULL. Read at open. */
} sl_stream_opts_t;

/* What a transport does for its callers, as SL_STREAM_CAP_* bits from
 * sl_stream_caps(). Callers branch on these, never on the scheme. */
enum {
    /* The log itself drops a re-sent message whose (producer, sequence)
     * it already holds, across sessions and restarts (sluice-broker keeps
     * the last sequence per producer and partition). Without it (Kafka:
     * idempotence holds within one producer session only), capture must
     * read the tail of each partition at start and skip what is stored
     * (sl_stream_rec_seq()). */
    SL_STREAM_CAP_DEDUP = 1,
    /* Records carry headers (Kafka): the source header and the sequence
     * of sl_stream_rec_seq(). */
    SL_STREAM_CAP_HEADERS = 2,
    /* Partitions must exist before a put (sl_stream_create()); without it
     * a put creates its partition. */
    SL_STREAM_CAP_CREATE = 4,
    /* sl_stream_partitions() with a group answers the partitions this
     * member was assigned by the log's group membership; without it the
     * caller assigns partitions itself (apply/assign.c). */
    SL_STREAM_CAP_GROUPS = 8,
    /* The session keeps fetching ahead of the caller by itself (librdkafka
     * prefetches the assigned partition): a caller's own read-ahead on a
     * second session (sl_stream_get_send()) only moves the partition
     * between sessions and costs a round trip each time. */
    SL_STREAM_CAP_PREFETCH = 16,
    /* Records carry the record keys of sl_stream_batch_t.keys (both
     * transports: the text protocol's put klen= and keyed mput items,
     * Kafka's record key), so a consumer of either reads the same keys
     * for the same batch. */
    SL_STREAM_CAP_KEYS = 32,
};

/* Opens a session on the log at url (opts may be NULL for defaults). On
 * success *out is owned by the caller (sl_stream_close()). An address no
 * transport takes is SL_EINVAL; on any failure *out is NULL. */
int sl_stream_open(const char *url, const sl_stream_opts_t *opts,
                   sl_stream_t **out);
void sl_stream_close(sl_stream_t *s);

/* Drops the session (and every unacknowledged send) and opens it again,
 * with backoff, for at most retry_ms. */
int sl_stream_reconnect(sl_stream_t *s);

/* The text of the last error ("unknown partition"). Valid until the next
 * call on s. */
const char *sl_stream_error(const sl_stream_t *s);

/* SL_STREAM_CAP_* bits of this session's transport. */
unsigned sl_stream_caps(const sl_stream_t *s);

/* ---- producing ---- */

/* One message: its bytes, used only during the call that takes it. The
 * layout is that of lib/client.h's sl_client_msg_t on purpose, so that
 * the text protocol takes an array of these without copying it. */
typedef struct {
    const void *data;
    size_t len;
} sl_stream_msg_t;

/* A batch for one partition. With producer >= 0 (below 2^48), message i
 * carries sequence seq + i (below 2^63): the sluice transport sends it as
 * an idempotent batch put; Kafka sends it in the records' headers
 * ("sluice.seq", "sluice.producer") so that capture finds it again at
 * start. keys (NULL, or n keys; keys[i].data NULL: none) become the
 * records' keys (SL_STREAM_CAP_KEYS: the row's primary key); srcs (NULL, or n
 * source coordinates "FILE:POS" of the binlog event each message came
 * from; one of length 0: none) become a header ("sluice.src"), and src
 * (NULL, or "FILE:POS") is that header for every message without its own.
 * Transports without headers ignore them: the change event itself
 * carries them. */
typedef struct {
    const char *topic;
    const char *part;
    const sl_stream_msg_t *msgs;
    size_t n;
    const sl_stream_msg_t *keys;
    const sl_stream_msg_t *srcs;
    const char *src;
    int64_t producer;
    uint64_t seq;
} sl_stream_batch_t;

/* Queues a batch for sending (flushed in large writes; Kafka: handed to
 * librdkafka's queue) and returns without waiting. *reqid (may be NULL)
 * receives its id. Acknowledgements come back through sl_stream_ack() in
 * the order the batches were sent; a batch is acknowledged only once
 * durable (sluice: after fsync; Kafka: acks=all). */
int sl_stream_send(sl_stream_t *s, const sl_stream_batch_t *b, uint64_t *reqid);
/* Writes every queued batch. */
int sl_stream_flush(sl_stream_t *s);

typedef struct {
    uint64_t reqid;
    uint64_t offset; /* Base offset; UINT64_MAX when unknown (dup). */
    int dup;         /* Already stored (SL_STREAM_CAP_DEDUP only). */
    int code;        /* The transport's result code (sluice: 200 on
                        success; Kafka: 0 or the broker's error code). */
} sl_stream_ack_t;

/* Flushes, then waits for the next acknowledgement in send order. Returns
 * 0, or an SL_E* code for a refusal (ack->code says which) or a broken
 * session (SL_ECLOSED, SL_ETIMEDOUT: every unacknowledged batch must be
 * sent again after sl_stream_reconnect(), with the same sequences). */
int sl_stream_ack(sl_stream_t *s, sl_stream_ack_t *ack);
/* Batches sent and not yet acknowledged. */
size_t sl_stream_inflight(const sl_stream_t *s);
/* Flushes, then waits up to timeout_ms (0: just checks) until the next
 * sl_stream_ack() will not block. Returns 1 when so, 0 on timeout, or an
 * SL_E* code. */
int sl_stream_ack_ready(sl_stream_t *s, int timeout_ms);

/* A synchronous single put (dead letters, tools): sends data and waits for
 * its acknowledgement. producer < 0: none. *offset may be UINT64_MAX and
 * *dup set for a duplicate, as for sl_stream_ack(). Without a producer a
 * put that may have been stored is not retried: SL_ECLOSED. */
int sl_stream_put(sl_stream_t *s, const char *topic, const char *part,
                  const void *data, size_t len, int64_t producer, uint64_t seq,
                  uint64_t *offset, int *dup);

/* Makes sure topic has partitions 0..nparts-1 where the transport numbers
 * them (SL_STREAM_CAP_CREATE; Kafka: the Admin API's CreateTopics with the
 * configured replication, falling back to checking an existing topic's
 * partition count: SL_ERANGE when it has fewer). A transport that creates
 * partitions on first put returns 0 at once. */
int sl_stream_create(sl_stream_t *s, const char *topic, unsigned nparts);

/* ---- reading ---- */

/* A record. The layout is that of lib/client.h's sl_client_rec_t on
 * purpose: the text protocol hands its parsed records over as they are. */
typedef struct {
    uint64_t offset;
    int64_t ts; /* Append time, ms since the epoch. */
    const uint8_t *data;
    size_t len;
} sl_stream_rec_t;

typedef struct {
    sl_stream_rec_t *recs; /* count records; owned by the stream. */
    size_t count;
    uint64_t next;     /* Offset to ask for next. */
    uint64_t earliest; /* Set on SL_EGONE / SL_ERANGE. */
    uint64_t latest;   /* The partition's end (next offset to be written)
                          when the fetch was served; 0 when unknown. */
} sl_stream_fetch_t;

/* Reads from offset, up to about max_bytes; with wait_ms > 0 and nothing
 * there yet, waits up to wait_ms (long poll). Errors as in the header
 * comment; offsets need not be contiguous (sluice's recovery holes, Kafka's
 * compaction and transaction markers): a fetch passes over gaps. */
int sl_stream_get(sl_stream_t *s, const char *topic, const char *part,
                  uint64_t offset, uint64_t max_bytes, uint64_t wait_ms,
                  sl_stream_fetch_t *out);
/* The same read in two halves, so that the log prepares the next fetch
 * while the caller works on the one before (on another stream). Nothing
 * else may be called on s in between (SL_EINVAL). A transport failure is
 * not retried: the caller falls back to sl_stream_get(). */
int sl_stream_get_send(sl_stream_t *s, const char *topic, const char *part,
                       uint64_t offset, uint64_t max_bytes);
int sl_stream_get_recv(sl_stream_t *s, sl_stream_fetch_t *out);

/* The producer and capture sequence record i of f carries (headers on
 * Kafka). SL_ENOTFOUND when it carries none; SL_EUNSUPPORTED on a
 * transport without headers (which has SL_STREAM_CAP_DEDUP instead). */
int sl_stream_rec_seq(sl_stream_t *s, const sl_stream_fetch_t *f, size_t i,
                      int64_t *producer, uint64_t *seq);

/* The first offset still stored and the end (next offset to be written). */
int sl_stream_offsets(sl_stream_t *s, const char *topic, const char *part,
                      uint64_t *earliest, uint64_t *latest);

/* Consumer-group offsets (cache sinks); commit returns once durable.
 * committed: SL_ENOTFOUND when the group never committed. */
int sl_stream_commit(sl_stream_t *s, const char *group, const char *topic,
                     const char *part, uint64_t offset);
int sl_stream_committed(sl_stream_t *s, const char *group, const char *topic,
                        const char *part, uint64_t *offset);

/* The partitions of topic, one call of cb per partition with its name and
 * its end offset (cb returning non-zero stops with that value). group NULL:
 * every partition. With a group on a SL_STREAM_CAP_GROUPS transport: the
 * partitions this session's group member is assigned now, the group's
 * rebalances being served inside this call; a partition taken away comes
 * with latest == SL_STREAM_REVOKED, and cb returns only once nothing
 * reads it any more (the rebalance completes after cb), so that two
 * members never apply one partition at once; a new one is sought by the
 * caller to the offset its target holds. Without the capability the group
 * is ignored and the caller assigns. */
#define SL_STREAM_REVOKED UINT64_MAX
typedef int (*sl_stream_part_cb)(void *ctx, const char *part, size_t part_len,
                                 uint64_t latest);
int sl_stream_partitions(sl_stream_t *s, const char *topic, const char *group,
                         sl_stream_part_cb cb, void *ctx);

#endif
