/*
 * Metadata (v0-4) and CreateTopics (v0-4) of the Kafka listener. This
 * broker is node 0, the controller, and the leader (and only replica) of
 * every partition; topics and partitions are the store's, named as
 * names.c says.
 *
 * Metadata request: topics [name string] (v0: an empty array means all
 *   topics; v1+: a null array means all, an empty one none),
 *   allow_auto_topic_creation i8 (v4+; before v4 always allowed).
 * Metadata response: throttle_time_ms i32 (v3+); brokers [node_id i32,
 *   host string, port i32, rack nullable string (v1+)]; cluster_id
 *   nullable string (v2+); controller_id i32 (v1+); topics [error_code
 *   i16, name string, is_internal i8 (v1+; 1 for names starting "__"),
 *   partitions [error_code i16,
 *   partition_index i32, leader_id i32, replica_nodes [i32], isr_nodes
 *   [i32]]].
 *
 * CreateTopics request: topics [name string, num_partitions i32 (-1:
 *   default 1), replication_factor i16 (-1 or 1), assignments
 *   [partition_index i32, broker_ids [i32]] (must be empty), configs
 *   [name string, value nullable string] (must be empty)], timeout_ms
 *   i32, validate_only i8 (v1+).
 * CreateTopics response: throttle_time_ms i32 (v2+); topics [name string,
 *   error_code i16, error_message nullable string (v1+)]. It is sent once
 *   the new partitions are durable (a store ack queued behind them).
 */
#include "broker/kafka/internal.h"

#include "error.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>

#define CLUSTER_ID "sluice"
/* The most partitions CreateTopics makes for one topic (the "#k" suffix
 * range, names.c). */
#define MAX_CREATE 65536

/* ---- Metadata ----------------------------------------------------------- */

static void write_topic(sl_buf_t *b, int16_t version, int16_t err,
                        const char *name, size_t len, int32_t nparts) {
    sl__kafka_w_i16(b, err);
    sl__kafka_w_str(b, name, (int16_t)len);
    /* Sluice's own topics (capture's checkpoints and schema history in
     * __sluice_capture) are internal, as Kafka's __consumer_offsets is. */
    if (version >= 1)
        sl__kafka_w_i8(b, len >= 2 && name[0] == '_' && name[1] == '_');
    sl__kafka_w_i32(b, nparts);
    for (int32_t i = 0; i < nparts; i++) {
        sl__kafka_w_i16(b, SL_KERR_NONE);
        sl__kafka_w_i32(b, i);
        sl__kafka_w_i32(b, SL_KAFKA_NODE_ID);
        sl__kafka_w_i32(b, 1);
        sl__kafka_w_i32(b, SL_KAFKA_NODE_ID);
        sl__kafka_w_i32(b, 1);
        sl__kafka_w_i32(b, SL_KAFKA_NODE_ID);
    }
}

typedef struct {
    sl_buf_t *b;
    int16_t version;
    int32_t count;
} all_topics_t;

static void each_topic_cb(void *arg, const sl_ktopic_t *t) {
    all_topics_t *a = arg;
    write_topic(a->b, a->version, SL_KERR_NONE, t->name, t->len,
                sl__kafka_topic_nparts(t));
    a->count++;
}

/* One named topic: found, auto-created, or an error entry. */
static void named_topic(sl_kafka_t *k, sl_buf_t *b, int16_t version,
                        const char *name, int16_t len, int auto_create) {
    if (len <= 0 || !sl__kafka_valid_topic(name, (size_t)len)) {
        write_topic(b, version, SL_KERR_INVALID_TOPIC_EXCEPTION,
                    len > 0 ? name : "", len > 0 ? (size_t)len : 0, 0);
        return;
    }
    sl_ktopic_t *t = sl__kafka_topic(k, name, (size_t)len);
    if (t == NULL && auto_create && sl_store_options(k->store)->auto_create) {
        int err = sl__kafka_create_topic(k, name, (size_t)len, 1);
        if (err == SL_ELIMIT)
            sl_log_warn("kafka: topic not auto-created: max-partitions "
                        "reached",
                        "topic=%.*s", (int)len, name);
        t = sl__kafka_topic(k, name, (size_t)len);
    }
    if (t == NULL) {
        write_topic(b, version, SL_KERR_UNKNOWN_TOPIC_OR_PARTITION, name,
                    (size_t)len, 0);
        return;
    }
    write_topic(b, version, SL_KERR_NONE, t->name, t->len,
                sl__kafka_topic_nparts(t));
}

int sl__kafka_h_metadata(sl_kafka_t *k, sl_kconn_t *conn, const sl_kreq_t *req,
                         sl_kreader_t *body, sl_kreply_t *reply) {
    (void)conn;
    int16_t v = req->version;
    int32_t n = sl__kafka_r_array(body, 2);
    /* The names stay in the request; read the flag after them first. */
    sl_kreader_t names = *body;
    for (int32_t i = 0; i < n; i++) {
        const char *s;
        int16_t len;
        sl__kafka_r_str(body, &s, &len);
    }
    int auto_create = 1;
    if (v >= 4)
        auto_create = sl__kafka_r_i8(body) != 0;
    if (body->err != 0)
        return body->err;
    int all = n == -1 || (v == 0 && n == 0);

    sl_buf_t *b = sl__kafka_reply_buf(reply);
    if (v >= 3)
        sl__kafka_w_i32(b, 0);
    sl__kafka_w_i32(b, 1);
    sl__kafka_w_i32(b, SL_KAFKA_NODE_ID);
    sl__kafka_w_cstr(b, k->adv_host);
    sl__kafka_w_i32(b, k->adv_port);
    if (v >= 1)
        sl__kafka_w_str(b, NULL, -1);
    if (v >= 2)
        sl__kafka_w_cstr(b, CLUSTER_ID);
    if (v >= 1)
        sl__kafka_w_i32(b, SL_KAFKA_NODE_ID);
    size_t hole = sl__kafka_w_i32_hole(b);
    if (all) {
        all_topics_t a = {b, v, 0};
        sl__kafka_topics_each(k, each_topic_cb, &a);
        sl__kafka_w_i32_at(b, hole, a.count);
    } else {
        for (int32_t i = 0; i < n; i++) {
            const char *s;
            int16_t len;
            sl__kafka_r_str(&names, &s, &len);
            named_topic(k, b, v, s, len, auto_create);
        }
        sl__kafka_w_i32_at(b, hole, n);
    }
    sl__kafka_reply_done(reply);
    return 0;
}

/* ---- CreateTopics ----------------------------------------------------- */

typedef struct {
    const char *name;
    int16_t len;
    int32_t nparts;
    int16_t rf;
    int32_t nassign, nconfig;
} create_req_t;

/* The reply waiting for the new partitions to be durable. */
typedef struct {
    sl_kack_t kack;
    sl_kreply_t *reply; /* NULL once the connection went away. */
} create_wait_t;

static void create_durable_cb(sl_kafka_t *k, sl_kack_t *self,
                              const sl_ack_t *ack) {
    (void)k;
    (void)ack;
    create_wait_t *w = (create_wait_t *)self;
    if (w->reply != NULL)
        sl__kafka_reply_done(w->reply);
    free(w);
}

static void create_cancel_cb(void *arg) {
    create_wait_t *w = arg;
    w->reply = NULL;
}

/* Checks one topic and creates it unless validate_only; returns the error
 * code and sets *msg for the reply. */
static int16_t create_one(sl_kafka_t *k, const create_req_t *t,
                          int validate_only, int *created, const char **msg) {
    if (t->len <= 0 || !sl__kafka_valid_topic(t->name, (size_t)t->len)) {
        *msg = "topic names are 1-249 characters of [A-Za-z0-9._-], not "
               "'.' or '..'";
        return SL_KERR_INVALID_TOPIC_EXCEPTION;
    }
    if (t->nassign > 0) {
        *msg = "replica assignments are not supported (one broker)";
        return SL_KERR_INVALID_REPLICA_ASSIGNMENT;
    }
    int32_t n = t->nparts == -1 ? 1 : t->nparts;
    if (n <= 0 || n > MAX_CREATE) {
        *msg = "num_partitions must be 1..65536 (or -1 for 1)";
        return SL_KERR_INVALID_PARTITIONS;
    }
    if (t->rf != -1 && t->rf != 1) {
        *msg = "this broker is a single node: replication_factor must be 1 "
               "(or -1)";
        return SL_KERR_INVALID_REPLICATION_FACTOR;
    }
    if (t->nconfig > 0) {
        *msg = "topic configs are not supported; the broker's own settings "
               "apply (docs/kafka.md)";
        return SL_KERR_INVALID_CONFIG;
    }
    if (sl__kafka_topic(k, t->name, (size_t)t->len) != NULL) {
        *msg = "topic already exists";
        return SL_KERR_TOPIC_ALREADY_EXISTS;
    }
    const sl_store_opts_t *so = sl_store_options(k->store);
    if (!so->auto_create) {
        *msg = "this broker creates no partitions (auto-create is off)";
        return SL_KERR_POLICY_VIOLATION;
    }
    if (so->max_partitions &&
        (uint64_t)sl_store_nparts(k->store) + (uint64_t)n >
            so->max_partitions) {
        *msg = "the broker's max-partitions would be exceeded";
        return SL_KERR_POLICY_VIOLATION;
    }
    if (validate_only)
        return SL_KERR_NONE;
    int err = sl__kafka_create_topic(k, t->name, (size_t)t->len, n);
    switch (err) {
    case 0: *created = 1; return SL_KERR_NONE;
    case SL_EEXIST:
        *msg = "topic already exists";
        return SL_KERR_TOPIC_ALREADY_EXISTS;
    case SL_EINVAL:
        *msg = "the topic name has no sluice name (docs/kafka.md, Names)";
        return SL_KERR_INVALID_TOPIC_EXCEPTION;
    default: *msg = sl_strerror(err); return SL_KERR_UNKNOWN_SERVER_ERROR;
    }
}

/* Reads one topic entry of a CreateTopics request (skipping what is only
 * counted). */
static void read_create(sl_kreader_t *r, create_req_t *t) {
    sl__kafka_r_str(r, &t->name, &t->len);
    t->nparts = sl__kafka_r_i32(r);
    t->rf = sl__kafka_r_i16(r);
    t->nassign = sl__kafka_r_array(r, 8);
    for (int32_t j = 0; j < t->nassign && r->err == 0; j++) {
        sl__kafka_r_i32(r);
        int32_t nb = sl__kafka_r_array(r, 4);
        sl__kafka_r_skip(r, nb > 0 ? (size_t)nb * 4 : 0);
    }
    t->nconfig = sl__kafka_r_array(r, 4);
    for (int32_t j = 0; j < t->nconfig && r->err == 0; j++) {
        const char *s;
        int16_t len;
        sl__kafka_r_str(r, &s, &len);
        sl__kafka_r_str(r, &s, &len);
    }
}

int sl__kafka_h_create_topics(sl_kafka_t *k, sl_kconn_t *conn,
                              const sl_kreq_t *req, sl_kreader_t *body,
                              sl_kreply_t *reply) {
    (void)conn;
    int16_t v = req->version;
    int32_t n = sl__kafka_r_array(body, 16);
    if (body->err != 0 || n < 0)
        return body->err != 0 ? body->err : SL_EPROTO;
    create_req_t *ts = calloc(n > 0 ? (size_t)n : 1, sizeof *ts);
    if (ts == NULL)
        return SL_ENOMEM;
    for (int32_t i = 0; i < n && body->err == 0; i++)
        read_create(body, &ts[i]);
    sl__kafka_r_i32(body); /* timeout_ms: creation takes one fsync. */
    int validate_only = v >= 1 ? sl__kafka_r_i8(body) != 0 : 0;
    if (body->err != 0) {
        free(ts);
        return body->err;
    }
    sl_buf_t *b = sl__kafka_reply_buf(reply);
    if (v >= 2)
        sl__kafka_w_i32(b, 0);
    sl__kafka_w_i32(b, n);
    int created = 0;
    for (int32_t i = 0; i < n; i++) {
        const char *msg = NULL;
        int16_t err = create_one(k, &ts[i], validate_only, &created, &msg);
        sl__kafka_w_str(b, ts[i].len >= 0 ? ts[i].name : "",
                        ts[i].len >= 0 ? ts[i].len : 0);
        sl__kafka_w_i16(b, err);
        if (v >= 1)
            sl__kafka_w_cstr(b, err == SL_KERR_NONE ? NULL : msg);
    }
    free(ts);
    if (!created) {
        sl__kafka_reply_done(reply);
        return 0;
    }
    /* Answer once the partitions' records are durable. */
    create_wait_t *w = calloc(1, sizeof *w);
    sl_ack_t ack = {NULL, 0, 0, SL_KAFKA_ACK, 0};
    if (w != NULL) {
        w->kack.cb = create_durable_cb;
        w->reply = reply;
        ack.ctx = &w->kack;
    }
    if (w == NULL || sl_store_ack_after(k->store, &ack) != 0) {
        /* Cannot wait: the store's next group carries the records all
         * the same; answer now rather than never. */
        free(w);
        sl__kafka_reply_done(reply);
        return 0;
    }
    sl__kafka_reply_on_cancel(reply, create_cancel_cb, w);
    return 0;
}
