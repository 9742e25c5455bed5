/*
 * Internals of the broker's Kafka listener, shared by its files (not for
 * other modules; the public surface is kafka.h). Files and owners:
 *   codec.c     primitive readers and writers of the Kafka wire format;
 *   conn.c      listener, connections, framing, reply ordering, limits,
 *               memory budget, deadlines;
 *   dispatch.c  the API table, ApiVersions, SASL, unsupported APIs and
 *               versions, stats;
 *   metadata.c  Metadata and CreateTopics;
 *   names.c     the name bijection between sluice (topic, partition name)
 *               and Kafka (topic, partition number);
 *   produce/fetch/... (the data path) and groups (the coordinator) add
 *               their own files and one row each in dispatch.c's table.
 * Everything runs on the loop thread.
 *
 * Wire format (Kafka protocol, non-flexible versions only; all integers
 * big-endian): a request is "i32 size, then size bytes": i16 api_key,
 * i16 api_version, i32 correlation_id, nullable string client_id (header
 * v1), then the body. A response is "i32 size, i32 correlation_id, body"
 * (header v0). string = i16 length + bytes (-1: null); bytes = i32 length
 * + bytes (-1: null); array = i32 count + elements (-1: null).
 */
#ifndef SL_BROKER_KAFKA_INTERNAL_H
#define SL_BROKER_KAFKA_INTERNAL_H

#include "broker/kafka/kafka.h"

#include "buf.h"
#include "strmap.h"

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* ---- protocol constants ------------------------------------------------ */

/* API keys served (or known) by the listener. */
enum {
    SL_KAPI_PRODUCE = 0,
    SL_KAPI_FETCH = 1,
    SL_KAPI_LIST_OFFSETS = 2,
    SL_KAPI_METADATA = 3,
    SL_KAPI_OFFSET_COMMIT = 8,
    SL_KAPI_OFFSET_FETCH = 9,
    SL_KAPI_FIND_COORDINATOR = 10,
    SL_KAPI_JOIN_GROUP = 11,
    SL_KAPI_HEARTBEAT = 12,
    SL_KAPI_LEAVE_GROUP = 13,
    SL_KAPI_SYNC_GROUP = 14,
    SL_KAPI_SASL_HANDSHAKE = 17,
    SL_KAPI_API_VERSIONS = 18,
    SL_KAPI_CREATE_TOPICS = 19,
    SL_KAPI_INIT_PRODUCER_ID = 22,
    SL_KAPI_SASL_AUTHENTICATE = 36,
};

/* Kafka error codes (the protocol's own numbers). */
enum {
    SL_KERR_UNKNOWN_SERVER_ERROR = -1,
    SL_KERR_NONE = 0,
    SL_KERR_OFFSET_OUT_OF_RANGE = 1,
    SL_KERR_CORRUPT_MESSAGE = 2,
    SL_KERR_UNKNOWN_TOPIC_OR_PARTITION = 3,
    SL_KERR_INVALID_FETCH_SIZE = 4,
    SL_KERR_LEADER_NOT_AVAILABLE = 5,
    SL_KERR_NOT_LEADER_OR_FOLLOWER = 6,
    SL_KERR_REQUEST_TIMED_OUT = 7,
    SL_KERR_MESSAGE_TOO_LARGE = 10,
    SL_KERR_COORDINATOR_LOAD_IN_PROGRESS = 14,
    SL_KERR_COORDINATOR_NOT_AVAILABLE = 15,
    SL_KERR_NOT_COORDINATOR = 16,
    SL_KERR_INVALID_TOPIC_EXCEPTION = 17,
    SL_KERR_RECORD_LIST_TOO_LARGE = 18,
    SL_KERR_NOT_ENOUGH_REPLICAS = 19,
    SL_KERR_INVALID_REQUIRED_ACKS = 21,
    SL_KERR_ILLEGAL_GENERATION = 22,
    SL_KERR_INCONSISTENT_GROUP_PROTOCOL = 23,
    SL_KERR_INVALID_GROUP_ID = 24,
    SL_KERR_UNKNOWN_MEMBER_ID = 25,
    SL_KERR_INVALID_SESSION_TIMEOUT = 26,
    SL_KERR_REBALANCE_IN_PROGRESS = 27,
    SL_KERR_INVALID_COMMIT_OFFSET_SIZE = 28,
    SL_KERR_TOPIC_AUTHORIZATION_FAILED = 29,
    SL_KERR_GROUP_AUTHORIZATION_FAILED = 30,
    SL_KERR_CLUSTER_AUTHORIZATION_FAILED = 31,
    SL_KERR_INVALID_TIMESTAMP = 32,
    SL_KERR_UNSUPPORTED_SASL_MECHANISM = 33,
    SL_KERR_ILLEGAL_SASL_STATE = 34,
    SL_KERR_UNSUPPORTED_VERSION = 35,
    SL_KERR_TOPIC_ALREADY_EXISTS = 36,
    SL_KERR_INVALID_PARTITIONS = 37,
    SL_KERR_INVALID_REPLICATION_FACTOR = 38,
    SL_KERR_INVALID_REPLICA_ASSIGNMENT = 39,
    SL_KERR_INVALID_CONFIG = 40,
    SL_KERR_NOT_CONTROLLER = 41,
    SL_KERR_INVALID_REQUEST = 42,
    SL_KERR_POLICY_VIOLATION = 44,
    SL_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER = 45,
    SL_KERR_DUPLICATE_SEQUENCE_NUMBER = 46,
    SL_KERR_INVALID_PRODUCER_EPOCH = 47,
    SL_KERR_INVALID_TXN_STATE = 48,
    SL_KERR_INVALID_PRODUCER_ID_MAPPING = 49,
    SL_KERR_INVALID_TRANSACTION_TIMEOUT = 50,
    SL_KERR_KAFKA_STORAGE_ERROR = 56,
    SL_KERR_SASL_AUTHENTICATION_FAILED = 58,
    SL_KERR_UNKNOWN_PRODUCER_ID = 59,
    SL_KERR_MEMBER_ID_REQUIRED = 79,
    SL_KERR_GROUP_MAX_SIZE_REACHED = 81,
    SL_KERR_INVALID_RECORD = 87,
};

/* The node id of this broker in Metadata and FindCoordinator. */
#define SL_KAFKA_NODE_ID 0

/* The store-ack kind of acks whose ctx is an sl_kack_t (below): the text
 * server hands them to sl__kafka_ack() instead of its own connections. */
#define SL_KAFKA_ACK SL_SERVER_ACK_EXT

/* ---- codec.c: reading ------------------------------------------------- */

/* A reader over one request body. The error is sticky: after the first
 * short read every read returns 0/empty and err stays SL_ETRUNC (or
 * SL_EPROTO for a bad length), so a handler reads a whole structure and
 * checks r->err once. The bytes read point into the request, which lives
 * until the handler returns (copy what a deferred reply needs). */
typedef struct {
    const uint8_t *p, *end;
    int err;
} sl_kreader_t;

static inline void sl__kafka_reader_init(sl_kreader_t *r, const void *data,
                                         size_t len) {
    r->p = data;
    r->end = r->p + len;
    r->err = 0;
}
static inline size_t sl__kafka_r_left(const sl_kreader_t *r) {
    return (size_t)(r->end - r->p);
}

int8_t sl__kafka_r_i8(sl_kreader_t *r);
int16_t sl__kafka_r_i16(sl_kreader_t *r);
int32_t sl__kafka_r_i32(sl_kreader_t *r);
int64_t sl__kafka_r_i64(sl_kreader_t *r);
/* A string: *s points into the request (not NUL-terminated), *len is its
 * length, or -1 for null (then *s is NULL). Returns 0 or r->err. */
int sl__kafka_r_str(sl_kreader_t *r, const char **s, int16_t *len);
/* Bytes (i32 length): as sl__kafka_r_str(). */
int sl__kafka_r_bytes(sl_kreader_t *r, const uint8_t **p, int32_t *len);
/* An array's count: -1 for null, else 0..n. A count below -1, or one whose
 * elements could not fit in what is left (count * min_elem bytes), sets
 * r->err = SL_EPROTO and returns 0, so a hostile count never makes a
 * handler allocate or loop. min_elem is the smallest encoded size of one
 * element (e.g. 4 for an array of i32, 2 for strings). */
int32_t sl__kafka_r_array(sl_kreader_t *r, size_t min_elem);
/* Skips n bytes. */
void sl__kafka_r_skip(sl_kreader_t *r, size_t n);

/* ---- codec.c: writing ------------------------------------------------- */

/* Writers append to an sl_buf_t; its error is sticky (lib/buf.h), so a
 * reply is checked once with sl_buf_error() at the end. */
void sl__kafka_w_i8(sl_buf_t *b, int8_t v);
void sl__kafka_w_i16(sl_buf_t *b, int16_t v);
void sl__kafka_w_i32(sl_buf_t *b, int32_t v);
void sl__kafka_w_i64(sl_buf_t *b, int64_t v);
/* A string of len bytes; len -1 writes null (s ignored). len must be at
 * most INT16_MAX. */
void sl__kafka_w_str(sl_buf_t *b, const char *s, int16_t len);
/* A NUL-terminated string (NULL: null). */
void sl__kafka_w_cstr(sl_buf_t *b, const char *s);
/* Bytes with an i32 length; len -1 writes null. */
void sl__kafka_w_bytes(sl_buf_t *b, const void *p, int32_t len);
/* Reserves an i32 to be filled in later (a size or a count): returns its
 * position for sl__kafka_w_i32_at(). */
size_t sl__kafka_w_i32_hole(sl_buf_t *b);
/* Writes v at position at (from sl__kafka_w_i32_hole()); does nothing when
 * the buffer failed before the hole was made. */
void sl__kafka_w_i32_at(sl_buf_t *b, size_t at, int32_t v);

/* ---- requests, replies and connections (conn.c) ---------------------- */

/* A request's header. client_id points into the request (valid while the
 * handler runs; NULL when null). */
typedef struct {
    int16_t key, version;
    int32_t corr;
    const char *client_id;
    int16_t client_id_len;
} sl_kreq_t;

typedef struct sl_kconn_s sl_kconn_t;
typedef struct sl_kreply_s sl_kreply_t;

/* Called when a deferred reply's connection goes away before the reply
 * was done: the owner forgets the reply (it must not touch it again);
 * the core frees it after cb returns. */
typedef void (*sl_kreply_cancel_cb)(void *arg);

/* One reply per request, sent in request order (Kafka requires it per
 * connection). The core opens it before calling the handler, with the
 * response header (size placeholder and correlation id) already written;
 * the handler appends the body to sl__kafka_reply_buf() and calls
 * sl__kafka_reply_done() then or later. Owned by the core. */
struct sl_kreply_s {
    sl_kreply_t *next;
    sl_kconn_t *conn;
    sl_buf_t buf;
    int16_t key, version;
    int done, none;
    sl_kreply_cancel_cb cancel_cb;
    void *cancel_arg;
    size_t acct; /* Bytes counted for it in its connection's reply_mem. */
};

/* The buffer to write the body into. */
static inline sl_buf_t *sl__kafka_reply_buf(sl_kreply_t *reply) {
    return &reply->buf;
}
/* Marks the reply complete (now, or later from a store ack, a timer or
 * another connection's request): it is sent as soon as the replies
 * before it on its connection are. The reply must not be touched after.
 * A reply whose buffer failed (sl_buf_error) closes the connection. */
void sl__kafka_reply_done(sl_kreply_t *reply);
/* Completes the reply without sending anything (Produce with acks=0). */
void sl__kafka_reply_none(sl_kreply_t *reply);
/* Declares the reply deferred: if the connection closes before it is
 * done, cb(arg) runs (then the core frees the reply). Every handler that
 * returns without calling done or none must set this. */
void sl__kafka_reply_on_cancel(sl_kreply_t *reply, sl_kreply_cancel_cb cb,
                               void *arg);

/* A connection. Handlers may read k, authed and user; the rest is the
 * core's. */
struct sl_kconn_s {
    uv_tcp_t tcp;
    uv_timer_t timer;          /* Holds back a failed authentication. */
    struct sl_tls_conn_s *tls; /* TLS session (owned), or NULL. */
    int tls_lazy; /* The session is made at the first read (conn.c). */
    sl_kafka_t *k;
    sl_kconn_t *next, *prev; /* All connections. */
    sl_kconn_t *dnext;       /* Dirty list (output to flush). */
    sl_buf_t in;             /* Unparsed input from in_off. */
    size_t in_off;
    size_t need;        /* Bytes of the frame being received. */
    sl_buf_t out, wbuf; /* Pending output, and the one being written. */
    sl_buf_t spare;     /* A reply buffer kept for the next reply. */
    uv_write_t wreq;
    sl_kreply_t *rhead, *rtail; /* Replies in request order. */
    unsigned nreplies;          /* Not yet moved to out. */
    /* The replies' memory as last counted (each reply's acct), kept as a
     * sum so that accounting is not a walk of up to MAX_INFLIGHT replies
     * per read and write; and the reply whose handler is running. */
    size_t reply_mem;
    sl_kreply_t *running;
    uint64_t last_active_ms, connected_ms, req_start_ms;
    int writing, reading, closing, close_after_flush, dirty, eof;
    int handles;
    int authed;        /* SASL done, or no secret. */
    int sasl_mech;     /* SaslHandshake chose PLAIN. */
    int sasl_raw;      /* SaslHandshake v0: the next frame is a raw token. */
    int req_waiting;   /* A frame has begun and is not complete. */
    size_t mem;        /* Bytes counted in the server's budget. */
    char peer[64];     /* "ip:port", for log lines. */
    sl_kreply_t *held; /* A failed SaslAuthenticate's reply, held back. */
    int holding;       /* The hold timer runs (no close before it ends). */
    int broken;        /* A reply failed: nothing more is sent. */
    void *user;        /* Free for handlers (not used by the core). */
};

/* ---- the listener (conn.c) -------------------------------------------- */

typedef struct {
    uint64_t conns_total, conns_rejected;
    uint64_t requests;
    uint64_t bytes_read, bytes_sent;
    uint64_t idle_closed, timeouts;
    /* Requests or connections refused, by reason (stats names
     * kafka_errors_REASON). */
    uint64_t err_size;        /* Negative frame size (closed). */
    uint64_t err_too_large;   /* Frame above max_request (closed). */
    uint64_t err_malformed;   /* Header or body unparseable (closed). */
    uint64_t err_truncated;   /* Closed in the middle of a frame. */
    uint64_t err_unknown_api; /* Unknown API key (answered). */
    uint64_t err_version;     /* Unsupported version (answered). */
    uint64_t err_unauth;      /* Request before SASL (closed). */
    uint64_t err_auth;        /* Wrong SASL credentials or mechanism. */
    uint64_t api[64];         /* Requests per API key (< 64). */
} sl_kstats_t;

/* A Kafka topic as the names index sees it (names.c): the sluice
 * partitions behind partitions 0..nparts-1 (NULL: none yet). Owned by the
 * index. */
typedef struct {
    char *name; /* NUL-terminated Kafka name. */
    size_t len;
    sl_part_t **parts;
    int32_t nparts, cap;
    sl_part_t *bare; /* A partition without "#k" (partition 0 unless a
                        "#k" family exists). */
} sl_ktopic_t;

/* How many partitions the topic shows, and the sluice partition behind
 * partition n (< that count; NULL: none yet). */
static inline int32_t sl__kafka_topic_nparts(const sl_ktopic_t *t) {
    return t->nparts > 0 ? t->nparts : t->bare != NULL ? 1 : 0;
}
static inline sl_part_t *sl__kafka_topic_part(const sl_ktopic_t *t, int32_t n) {
    return t->nparts > 0 ? t->parts[n] : t->bare;
}

struct sl_kafka_s {
    uv_loop_t *loop;
    sl_store_t *store;
    sl_server_t *srv;
    sl_kafka_opts_t opts;
    char adv_host[256];
    uint16_t adv_port;
    uv_tcp_t listener;
    uv_timer_t sweep;
    sl_kconn_t *conns;
    uint64_t nconns;
    sl_kconn_t *dirty;
    int in_core;       /* Inside a core callback: flush at its end. */
    int stalled;       /* A connection waits for the budget or the store. */
    int mem_full_seen; /* The budget's state at the last look. */
    int stopping, open_handles;
    void (*stop_cb)(void *);
    void *stop_data;
    sl_kstats_t st;
    uint64_t auth_unlogged, auth_logged_ms; /* Failed auths, for the log. */
    /* names.c: Kafka topic name -> sl_ktopic_t, built from the store's
     * partitions 1..names_scanned. */
    sl_strmap_t topics;
    uint32_t names_scanned;
    /* The data path's and the group coordinator's state, owned by their
     * code (created on first use, released by their _stop/_free below). */
    void *data;
    void *groups;
};

/* Brings conn's share of the server's memory budget up to date. */
void sl__kafka_conn_account(sl_kconn_t *conn);
/* Closes conn (once): deferred replies are cancelled, it is freed when
 * its handles are closed. */
void sl__kafka_conn_close(sl_kconn_t *conn);
/* Starts writing the output of every connection with some. */
void sl__kafka_flush_dirty(sl_kafka_t *k);

/* ---- dispatch.c ----------------------------------------------------------
 */

/* A handler: reads the body from `body`, writes its response body to
 * sl__kafka_reply_buf(reply) and completes the reply (now or later, see
 * sl__kafka_reply_on_cancel). Returns 0, or a negative SL_E* code when the
 * request is malformed: the core then closes the connection (counted as
 * kafka_errors_malformed) and frees the reply, which the handler must not
 * have completed or kept. */
typedef int (*sl_kafka_handler_fn)(sl_kafka_t *k, sl_kconn_t *conn,
                                   const sl_kreq_t *req, sl_kreader_t *body,
                                   sl_kreply_t *reply);

/* One row of the API table: the versions served, advertised by
 * ApiVersions. */
typedef struct {
    int16_t key, min_version, max_version;
    sl_kafka_handler_fn handler;
} sl_kapi_t;

/* Opens the reply slot of a parsed request and runs handler on it
 * (conn.c); a handler's error drops the slot. Returns the handler's
 * result (or SL_ENOMEM). */
int sl__kafka_run(sl_kafka_t *k, sl_kconn_t *conn, const sl_kreq_t *req,
                  sl_kreader_t *body, sl_kafka_handler_fn handler);
/* Queues a raw frame (a SASL v0 token: size and bytes, no header) as
 * conn's next reply. */
int sl__kafka_send_raw(sl_kconn_t *conn, const void *data, size_t len);

/* Executes one complete request frame (header and body). Returns 0, or
 * a negative code when the connection must close. */
int sl__kafka_dispatch(sl_kafka_t *k, sl_kconn_t *conn, const uint8_t *frame,
                       size_t len);
/* Handles a raw SASL token (after SaslHandshake v0). */
int sl__kafka_sasl_raw(sl_kafka_t *k, sl_kconn_t *conn, const uint8_t *frame,
                       size_t len);
/* Appends the kafka_* STAT lines to out. */
void sl__kafka_stats(sl_kafka_t *k, sl_buf_t *out);

/* ---- the handlers (each in its owner's file) -------------------------- */

/* metadata.c (core) */
int sl__kafka_h_metadata(sl_kafka_t *k, sl_kconn_t *conn, const sl_kreq_t *req,
                         sl_kreader_t *body, sl_kreply_t *reply);
int sl__kafka_h_create_topics(sl_kafka_t *k, sl_kconn_t *conn,
                              const sl_kreq_t *req, sl_kreader_t *body,
                              sl_kreply_t *reply);
/* The data path (produce, fetch, offsets, producer ids). */
int sl__kafka_h_produce(sl_kafka_t *k, sl_kconn_t *conn, const sl_kreq_t *req,
                        sl_kreader_t *body, sl_kreply_t *reply);
int sl__kafka_h_fetch(sl_kafka_t *k, sl_kconn_t *conn, const sl_kreq_t *req,
                      sl_kreader_t *body, sl_kreply_t *reply);
int sl__kafka_h_list_offsets(sl_kafka_t *k, sl_kconn_t *conn,
                             const sl_kreq_t *req, sl_kreader_t *body,
                             sl_kreply_t *reply);
int sl__kafka_h_init_producer_id(sl_kafka_t *k, sl_kconn_t *conn,
                                 const sl_kreq_t *req, sl_kreader_t *body,
                                 sl_kreply_t *reply);
/* The group coordinator. */
int sl__kafka_h_find_coordinator(sl_kafka_t *k, sl_kconn_t *conn,
                                 const sl_kreq_t *req, sl_kreader_t *body,
                                 sl_kreply_t *reply);
int sl__kafka_h_join_group(sl_kafka_t *k, sl_kconn_t *conn,
                           const sl_kreq_t *req, sl_kreader_t *body,
                           sl_kreply_t *reply);
int sl__kafka_h_sync_group(sl_kafka_t *k, sl_kconn_t *conn,
                           const sl_kreq_t *req, sl_kreader_t *body,
                           sl_kreply_t *reply);
int sl__kafka_h_heartbeat(sl_kafka_t *k, sl_kconn_t *conn, const sl_kreq_t *req,
                          sl_kreader_t *body, sl_kreply_t *reply);
int sl__kafka_h_leave_group(sl_kafka_t *k, sl_kconn_t *conn,
                            const sl_kreq_t *req, sl_kreader_t *body,
                            sl_kreply_t *reply);
int sl__kafka_h_offset_commit(sl_kafka_t *k, sl_kconn_t *conn,
                              const sl_kreq_t *req, sl_kreader_t *body,
                              sl_kreply_t *reply);
int sl__kafka_h_offset_fetch(sl_kafka_t *k, sl_kconn_t *conn,
                             const sl_kreq_t *req, sl_kreader_t *body,
                             sl_kreply_t *reply);

/* ---- store acks and advances ------------------------------------------ */

/* A completion for a store ack: put an sl_kack_t in your own struct, pass
 * sl_ack_t{ .ctx = &yours->kack, .kind = SL_KAFKA_ACK, ... } to the store
 * (sl_store_append, sl_store_commit_offset, sl_store_ack_after), and cb
 * gets the ack once it is durable (ack->value, ack->extra as the store
 * sets them). The store delivers every ack it accepted, even after the
 * connection that asked is gone, so the struct must live until cb ran. */
typedef struct sl_kack_s sl_kack_t;
struct sl_kack_s {
    void (*cb)(sl_kafka_t *k, sl_kack_t *self, const sl_ack_t *ack);
};

/* Routes an ack of kind SL_KAFKA_ACK to its sl_kack_t (conn.c). */
void sl__kafka_ack(sl_kafka_t *k, const sl_ack_t *ack);
/* The store made new records of part readable (the data path wakes its
 * long polls; defined by the data path). */
void sl__kafka_advance(sl_kafka_t *k, sl_part_t *part);

/* Lifetimes of the data path's and the coordinator's state (k->data,
 * k->groups): _stop runs when the listener stops (close uv handles, answer
 * or cancel what is parked), _free when it is freed; _stats appends
 * "STAT kafka_NAME VALUE\r\n" lines. Until their owners add them, the
 * stub files data_stub.c and groups_stub.c define them empty (the owner
 * deletes the stub file when adding the real ones). */
void sl__kafka_data_stop(sl_kafka_t *k);
void sl__kafka_data_free(sl_kafka_t *k);
void sl__kafka_data_stats(sl_kafka_t *k, sl_buf_t *out);
void sl__kafka_groups_stop(sl_kafka_t *k);
void sl__kafka_groups_free(sl_kafka_t *k);
void sl__kafka_groups_stats(sl_kafka_t *k, sl_buf_t *out);
/* Members group has now (0 when unknown), for `greset` (server_groups.c). */
unsigned sl__kafka_group_members(sl_kafka_t *k, const char *group, size_t glen);

/* ---- names.c -------------------------------------------------------------
 * The bijection between sluice (topic T, partition name P) and Kafka
 * (topic K, partition n), specified at the top of names.c and in
 * docs/kafka.md. */

/* The sluice partition behind Kafka (topic, partition). 0 with *out set;
 * 0 with *out = NULL when the partition is within the topic's count but
 * holds nothing yet (a key:N bucket no row went to: read it as empty at
 * offset 0) and create is 0; SL_ENOTFOUND for an unknown topic or a
 * partition at or past its count; SL_EINVAL for a name that is not a
 * valid Kafka topic name or maps to no valid sluice name. With create,
 * a missing sluice partition is created (durable with the next store
 * group; within an existing topic's count, or partition 0 of a new
 * single-partition topic) when the store allows (SL_ENOTFOUND when
 * auto-create is off, SL_ELIMIT at max-partitions). */
int sl__kafka_part(sl_kafka_t *k, const char *topic, size_t tlen,
                   int32_t partition, int create, sl_part_t **out);
/* The Kafka name of a sluice partition: the topic (NUL-terminated, into
 * topic[cap]) and the partition number. SL_ENOTFOUND when the partition
 * has no Kafka name (names.c says which), SL_ETOOBIG when cap is short. */
int sl__kafka_name(const sl_part_t *part, char *topic, size_t cap,
                   int32_t *partition);
/* The same, from the names alone. */
int sl__kafka_name_of(const char *topic, size_t tlen, const char *name,
                      size_t nlen, char *out, size_t cap, int32_t *partition);
/* The sluice name of Kafka (topic, partition): topic into t[tcap], the
 * partition name into p[pcap] (NUL-terminated). bare asks for the
 * partition name without "#k" (only partition 0 of a split-form topic has
 * one). SL_EINVAL when K is not a valid Kafka topic name or maps to no
 * valid sluice name. */
int sl__kafka_sluice_name(const char *topic, size_t tlen, int32_t partition,
                          int bare, char *t, size_t tcap, char *p, size_t pcap);
/* Whether name is a valid Kafka topic name ([A-Za-z0-9._-], 1..249, not
 * "." or ".."). */
int sl__kafka_valid_topic(const char *name, size_t len);

/* Updates the index with partitions the store created since the last
 * call, then returns the topic named K (NULL: none). */
sl_ktopic_t *sl__kafka_topic(sl_kafka_t *k, const char *name, size_t len);
/* Updates the index and calls cb for every Kafka topic (in no order). */
void sl__kafka_topics_each(sl_kafka_t *k,
                           void (*cb)(void *arg, const sl_ktopic_t *t),
                           void *arg);
/* Creates Kafka topic K with n partitions (all its sluice partitions,
 * durable with the next store group). SL_EEXIST when it exists,
 * SL_EINVAL for a bad name, SL_ENOTFOUND when auto-create is off,
 * SL_ELIMIT past max-partitions (nothing created then). */
int sl__kafka_create_topic(sl_kafka_t *k, const char *name, size_t len,
                           int32_t n);
/* Releases the index. */
void sl__kafka_names_free(sl_kafka_t *k);

#endif
