/*
 * A blocking client for sluice-broker (protocol in docs/protocol.md), used
 * by capture, apply and the sluice CLI.
 *
 * One sl_client_t is one TCP connection; it is not thread-safe (use one
 * per thread). Every call blocks for at most its timeouts.
 *
 * Two ways to put:
 *   - synchronous: sl_client_put() / sl_client_put_batch() send one
 *     request and wait for its ack (the broker acks after fsync);
 *   - pipelined: sl_client_put_send() queues requests (flushed in large
 *     writes), sl_client_put_ack() returns the acks one by one in the
 *     order the puts were sent. This is how to reach high rates.
 *
 * Reconnects: synchronous calls other than puts without a producer id
 * reconnect with exponential backoff (100 ms doubling to 2 s, for at most
 * opts.retry_ms) and retry once the connection is back. A put without a
 * producer id is never retried after it was sent, because it might have
 * been stored: it returns SL_ECLOSED and the caller decides. A put with a
 * producer id and sequence is idempotent, so it is retried. Pipelined puts
 * that were not acked when the connection broke are reported by
 * sl_client_put_ack() as SL_ECLOSED; the caller resends them (with a
 * producer id, duplicates are filtered by the broker) after
 * sl_client_reconnect().
 *
 * Errors: a broker's error reply maps to one code: 400 (the request was
 * malformed) SL_EINVAL, 401/403 SL_EAUTH, 404 SL_ENOTFOUND, 409
 * SL_EEXIST, 413 SL_ETOOBIG, 416 SL_ERANGE (or SL_EGONE), 422 (stored
 * records damaged and quarantined; never served, not transient; a get's
 * fetch.next is the broker's NEXT, the first offset after them)
 * SL_EDAMAGED, 503 SL_EAGAIN,
 * 507 (the broker's disk is full; puts resume when space returns)
 * SL_ENOSPC, and any other code SL_EIO; after an error reply the
 * connection goes on. SL_EPROTO means the broker's reply itself broke the
 * protocol (docs/protocol.md, "What the client checks"): a count or
 * length beyond the protocol's limits, a bad number, records out of order
 * or over MAXBYTES, a reply to another request. Nothing of such a reply is
 * returned as data, and the connection is closed; like a broken
 * connection, it is a broker failure to retry after a reconnect (the next
 * synchronous call reconnects), not a verdict on the request.
 *
 * Ownership: strings passed in are copied or used only during the call.
 * Data returned by sl_client_get() (sl_client_fetch_t) points into the
 * client's buffer and stays valid until the next call on the same client.
 */
#ifndef SL_CLIENT_H
#define SL_CLIENT_H

#include "buf.h"

#include <stddef.h>
#include <stdint.h>

typedef struct sl_client_s sl_client_t;

typedef struct {
    const char *secret;     /* Shared secret for `auth`, or NULL. Copied. */
    int connect_timeout_ms; /* Default 5000. */
    int io_timeout_ms;      /* Per request, long-poll wait excluded.
                               Default 30000. */
    int retry_ms;           /* Reconnect budget of synchronous calls;
                               default 30000; -1 disables reconnects. */
} sl_client_opts_t;

/* Connects to "HOST:PORT" (opts may be NULL for defaults). On success
 * *out is a client the caller frees with sl_client_close(). */
int sl_client_connect(const char *hostport, const sl_client_opts_t *opts,
                      sl_client_t **out);
/* The same over TLS when tls is not NULL, for a broker started with
 * tls-cert (lib/tls.h, docs/security.md): the server's certificate is
 * verified against tls->ca (NULL: the system's trust store) and must name
 * the host dialled, unless tls->insecure; tls->cert/key are a client
 * certificate, for a broker with tls-client-ca. The files are read during
 * the call; reconnects reuse what was read. A refused handshake is logged
 * with its reason and not retried. */
struct sl_tls_opts_s;
int sl_client_connect_tls(const char *hostport, const sl_client_opts_t *opts,
                          const struct sl_tls_opts_s *tls, sl_client_t **out);
void sl_client_close(sl_client_t *cl);

/* Drops the connection (and every unacked pipelined put) and connects
 * again, with backoff, for at most retry_ms. */
int sl_client_reconnect(sl_client_t *cl);

/* The broker's text for the last error reply ("unknown partition"), or a
 * description of the local failure. Valid until the next call. */
const char *sl_client_error(const sl_client_t *cl);

/* ---- puts ---- */

typedef struct {
    const void *data;
    size_t len;
} sl_client_msg_t;

/* producer < 0 means none (seq ignored); producer ids are below 2^48 and
 * sequences below 2^63. With a producer id, a batch of n
 * messages with sequence seq covers seq..seq+n-1, and the broker stores
 * it only if seq is above the last sequence it stored for that producer
 * and partition; otherwise *dup is set and *offset is the original offset
 * (UINT64_MAX when unknown, i.e. older than the last batch). A batch
 * whose sequences are partly old and partly new is refused: SL_EEXIST. */
int sl_client_put(sl_client_t *cl, const char *topic, const char *part,
                  const void *data, size_t len, int64_t producer, uint64_t seq,
                  uint64_t *offset, int *dup);
int sl_client_put_batch(sl_client_t *cl, const char *topic, const char *part,
                        const sl_client_msg_t *msgs, size_t n, int64_t producer,
                        uint64_t seq, uint64_t *base_offset, int *dup);

/* The same with record keys: keys is NULL (no message has one) or holds
 * n keys, keys[i] the key of msgs[i] (data NULL: none, a null key; len 0
 * with data set: an empty key), borrowed for the call. The broker stores
 * each in its record (put klen=, mput "LEN KLEN" items), where a get with
 * meta=1 and Kafka clients read it. A message and its key together count
 * against the broker's max-message. */
int sl_client_put_batch_keyed(sl_client_t *cl, const char *topic,
                              const char *part, const sl_client_msg_t *msgs,
                              const sl_client_msg_t *keys, size_t n,
                              int64_t producer, uint64_t seq,
                              uint64_t *base_offset, int *dup);

/* Pipelined: queues a put (or, with n > 1, a batch put). *reqid (may be
 * NULL) receives its request id. Flushes when the queue is large. */
int sl_client_put_send(sl_client_t *cl, const char *topic, const char *part,
                       const sl_client_msg_t *msgs, size_t n, int64_t producer,
                       uint64_t seq, uint64_t *reqid);
/* The same with record keys, as sl_client_put_batch_keyed() takes them. */
int sl_client_put_send_keyed(sl_client_t *cl, const char *topic,
                             const char *part, const sl_client_msg_t *msgs,
                             const sl_client_msg_t *keys, size_t n,
                             int64_t producer, uint64_t seq, uint64_t *reqid);
/* Writes every queued request. */
int sl_client_flush(sl_client_t *cl);

typedef struct {
    uint64_t reqid;
    uint64_t offset; /* Base offset; UINT64_MAX when unknown (dup). */
    int dup;
    int code; /* The broker's result code (200 on success). */
} sl_client_ack_t;

/* Returns the next ack in send order. When it is already buffered, the
 * puts queued since stay queued (they go out with the next flush, at 256
 * KiB, or when an ack must be waited for): a producer that refills its
 * window as acks come sends them in one write per burst of acks. When it
 * must wait, it flushes first. Call sl_client_flush() or
 * sl_client_ack_ready() to send queued puts without waiting. Returns 0 with
 * ack->code 200, or an SL_E* code for an error reply (ack->code says
 * which) or a broken connection (SL_ECLOSED, SL_ETIMEDOUT). */
int sl_client_put_ack(sl_client_t *cl, sl_client_ack_t *ack);
/* Puts sent and not yet acknowledged. */
size_t sl_client_inflight(const sl_client_t *cl);

/* Flushes, then waits up to timeout_ms (0: just checks) until a reply is
 * buffered or the connection is readable. Returns 1 when so (the next
 * sl_client_put_ack() will not wait for the broker), 0 on timeout, or an
 * SL_E* code. Lets a producer keep sending while acks trickle in. */
int sl_client_ack_ready(sl_client_t *cl, int timeout_ms);
/* The same with a timeout in microseconds, for producers that pace their
 * sends more finely than a millisecond. */
int sl_client_ack_ready_us(sl_client_t *cl, int64_t timeout_us);

/* ---- reads ---- */

typedef struct {
    uint64_t offset;
    int64_t ts; /* Append time, ms since the epoch. */
    const uint8_t *data;
    size_t len;
} sl_client_rec_t;

/* A record's key and headers (sl_client_get_meta()). The layout of
 * sl_client_rec_t is fixed (lib/stream.h shares it), so they come in an
 * array beside the records. */
typedef struct {
    const uint8_t *key; /* NULL for a null key (has_key 0). */
    size_t key_len;
    int has_key;
    int has_value;          /* 0 for a null value (a Kafka tombstone; len 0). */
    const uint8_t *headers; /* The headers as the broker sent them; read
                               them with sl_client_header_next(). */
    size_t headers_len;
    uint32_t nheaders;
} sl_client_meta_t;

/* One header of a record: name and value point into the client's buffer,
 * as the record's data do. */
typedef struct {
    const uint8_t *name;
    size_t name_len;
    const uint8_t *value; /* NULL for a null value. */
    size_t value_len;
} sl_client_header_t;

/* Iterates m's headers: *pos starts at 0; returns 1 with *h filled, or 0
 * after the last one. */
int sl_client_header_next(const sl_client_meta_t *m, size_t *pos,
                          sl_client_header_t *h);

typedef struct {
    sl_client_rec_t *recs; /* count records; owned by the client. */
    size_t count;
    uint64_t next;          /* Offset to ask for next. */
    uint64_t earliest;      /* Set on SL_EGONE / SL_ERANGE. */
    uint64_t latest;        /* The partition's end (next offset to be
                             * written) when the fetch was served; 0 when
                             * the broker did not say. */
    sl_client_meta_t *meta; /* With sl_client_get_meta(): count entries,
                               meta[i] for recs[i]; else NULL. Owned by
                               the client, as recs. */
} sl_client_fetch_t;

/* Reads from offset, up to about max_bytes; with wait_ms > 0 and nothing
 * there yet, the broker holds the request up to wait_ms (long poll).
 * SL_EGONE: offset deleted by retention (out->earliest is the first one
 * still there); SL_ERANGE: beyond the end; SL_ENOTFOUND: no partition;
 * SL_EDAMAGED: offsets offset..out->next-1 are damaged and quarantined
 * (the records before them came with earlier gets). Offsets need not be
 * contiguous: recovery may skip ahead (a "hole", docs/broker.md); a get
 * passes over it, and one starting in a hole at the end answers COUNT 0
 * with next = offset, as at the end of the partition. */
int sl_client_get(sl_client_t *cl, const char *topic, const char *part,
                  uint64_t offset, uint64_t max_bytes, uint64_t wait_ms,
                  sl_client_fetch_t *out);

/* sl_client_get() with meta=1: the records' keys and headers too, in
 * out->meta (docs/protocol.md). Key and header bytes count against
 * max_bytes. */
int sl_client_get_meta(sl_client_t *cl, const char *topic, const char *part,
                       uint64_t offset, uint64_t max_bytes, uint64_t wait_ms,
                       sl_client_fetch_t *out);

/* The same get in two halves, so that the broker prepares the next fetch
 * while the caller still works on the one before (on another client: this
 * one's buffer is reused by the send). sl_client_get_send() writes the
 * request (no long poll) and returns; sl_client_get_recv() reads its reply
 * with sl_client_get()'s results. Nothing else may be called on the client
 * in between (SL_EINVAL). A connection error disconnects without retrying:
 * the caller falls back to sl_client_get(). */
int sl_client_get_send(sl_client_t *cl, const char *topic, const char *part,
                       uint64_t offset, uint64_t max_bytes);
int sl_client_get_recv(sl_client_t *cl, sl_client_fetch_t *out);

int sl_client_offsets(sl_client_t *cl, const char *topic, const char *part,
                      uint64_t *earliest, uint64_t *latest);
/* First offset whose append time is >= ts_ms (the latest when none). */
int sl_client_offset_for_time(sl_client_t *cl, const char *topic,
                              const char *part, int64_t ts_ms,
                              uint64_t *offset);

/* Consumer-group offsets; commit returns after the broker made it durable.
 * committed: SL_ENOTFOUND when the group never committed. */
int sl_client_commit(sl_client_t *cl, const char *group, const char *topic,
                     const char *part, uint64_t offset);
int sl_client_committed(sl_client_t *cl, const char *group, const char *topic,
                        const char *part, uint64_t *offset);

/* Raw multi-line replies: the lines after the status line, up to and not
 * including END, each ending in "\n", appended to out (owned by caller).
 * partitions: "TOPIC PARTITION EARLIEST LATEST" lines; topic may be NULL.
 * stats: "STAT name value" lines. */
int sl_client_partitions(sl_client_t *cl, const char *topic, sl_buf_t *out);
int sl_client_stats(sl_client_t *cl, sl_buf_t *out);
/* Consumer groups (docs/protocol.md, groups and greset): "GROUP TOPIC
 * PARTITION COMMITTED EARLIEST LATEST LAG MEMBERS" lines (group NULL: all
 * groups); a reset is refused with SL_EEXIST while the group has live
 * members, SL_ERANGE outside the stored offsets. */
int sl_client_groups(sl_client_t *cl, const char *group, sl_buf_t *out);
int sl_client_group_reset(sl_client_t *cl, const char *group, const char *topic,
                          const char *part, uint64_t offset);
/* The broker's version string into out (NUL-terminated). */
int sl_client_version(sl_client_t *cl, char *out, size_t outlen);

/* ---- parsing replies without a connection (tests, fuzzing) ---- */

/* A client with no connection and no broker, whose only use is
 * sl_client_parse_reply(). Freed with sl_client_close(). */
int sl_client_new_detached(sl_client_t **out);

typedef enum {
    SL_CLIENT_REPLY_PUT,        /* v[0] offset (UINT64_MAX: unknown), dup */
    SL_CLIENT_REPLY_GET,        /* fetch */
    SL_CLIENT_REPLY_OFFSETS,    /* v[0] earliest, v[1] latest */
    SL_CLIENT_REPLY_COMMITTED,  /* v[0] offset (also offsets ts=, commit) */
    SL_CLIENT_REPLY_PARTITIONS, /* lines */
    SL_CLIENT_REPLY_STATS,      /* lines */
    SL_CLIENT_REPLY_VERSION,    /* version */
    SL_CLIENT_REPLY_GET_META,   /* fetch, with meta (a get meta=1) */
} sl_client_reply_kind_t;

typedef struct {
    int code; /* The status code; 0 when none was read. */
    uint64_t v[2];
    int dup;
    sl_client_fetch_t fetch; /* Points into cl's buffer, as for a get. */
    sl_buf_t *lines;         /* Set by the caller (NULL: checked only);
                                lines are appended, owned by the caller. */
    char version[128];
    size_t used; /* Bytes of data the reply took. */
} sl_client_reply_t;

/* Parses data as the whole reply to request id 1 of the given kind, with
 * the code the connected calls use: for a get, offset and max_bytes are
 * the request's (max_bytes 0 meaning the default, as for sl_client_get).
 * Returns what the matching call would (data ending early is SL_ECLOSED).
 * cl must come from sl_client_new_detached(). */
int sl_client_parse_reply(sl_client_t *cl, sl_client_reply_kind_t kind,
                          uint64_t offset, uint64_t max_bytes, const void *data,
                          size_t len, sl_client_reply_t *out);

#endif
