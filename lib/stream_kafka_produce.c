/*
 * The Kafka transport's producing side (stream.h's send, ack, put and
 * create; the session is in stream_kafka.c): one idempotent librdkafka
 * producer per session, a ring of the batches it holds in send order, and
 * topic creation through the Admin API with a fallback to checking the
 * topics that exist.
 *
 * A batch is acknowledged once every one of its messages had a successful
 * delivery report (acks=all). Reports arrive in order per partition and
 * the ring keeps send order across partitions, so sl_stream_ack() answers
 * in the order the batches were sent, as on sluice-broker. A failed report
 * is never passed over: it is that batch's error, and a fatal producer
 * error (fencing, a gap under enable.gapless.guarantee) makes every
 * unacknowledged batch SL_ECLOSED, so capture starts a new session and
 * reads the partitions' tails again (docs/kafka.md, "Exactly once").
 *
 * Records (headers in stream_kafka_int.h): value = the message, key = the
 * batch's key for it when given ("checkpoint" for checkpoint records),
 * headers sluice.producer, sluice.seq (with a producer) and sluice.src.
 * Payloads are copied into librdkafka (RD_KAFKA_MSG_F_COPY): capture
 * keeps its own copy until the ack, and a producer dropped on reconnect
 * then holds no pointer into capture's queue.
 */
#include "stream_kafka_int.h"

#include "clock.h"
#include "error.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The internal topic's partitions keep capture's checkpoints (compacted,
 * keyed) and its schema history (".schema": kept for ever, unkeyed). */
#define INTERNAL_TOPIC "__sluice_capture"

static sl__stream_kafka_batch_t *rat(sl__stream_kafka_t *k, size_t i) {
    return &k->ring[(k->rhead + i) % k->rcap];
}

/* The batch of reqid, while it is in the ring. */
static sl__stream_kafka_batch_t *by_reqid(sl__stream_kafka_t *k,
                                          uint64_t reqid) {
    if (k->rlen == 0)
        return NULL;
    uint64_t first = rat(k, 0)->reqid;
    if (reqid < first || reqid - first >= k->rlen)
        return NULL;
    return rat(k, (size_t)(reqid - first));
}

static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *m,
                      void *opaque) {
    (void)rk;
    sl__stream_kafka_t *k = opaque;
    sl__stream_kafka_batch_t *b = by_reqid(k, (uint64_t)(uintptr_t)m->_private);
    if (b == NULL)
        return; /* Of a batch the ring dropped (purged on reconnect). */
    if (b->left > 0)
        b->left--;
    if (m->err != 0 && b->err == 0) {
        b->code = m->err;
        b->err = sl__stream_kafka_err(k, m->err, rd_kafka_topic_name(m->rkt));
    } else if (m->err == 0 && b->offset == UINT64_MAX) {
        b->offset = (uint64_t)m->offset;
    }
}

static int producer(sl__stream_kafka_t *k) {
    if (k->prod != NULL)
        return 0;
    rd_kafka_conf_t *conf;
    int err = sl__stream_kafka_conf(k, 1, NULL, &conf);
    if (err != 0)
        return err;
    rd_kafka_conf_set_dr_msg_cb(conf, dr_msg_cb);
    char errstr[256];
    k->prod = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (k->prod == NULL) {
        rd_kafka_conf_destroy(conf);
        snprintf(k->err, sizeof k->err, "kafka producer: %s", errstr);
        return SL_ECONFIG;
    }
    k->fatal = 0;
    return 0;
}

/* A topic this session checked, with librdkafka's handle for it (looked
 * up once, not per message). */
typedef struct {
    int nparts;
    rd_kafka_topic_t *rkt;
} ktopic_t;

/* Topic handles go before the producer they belong to. */
static void topics_drop(sl__stream_kafka_t *k) {
    for (size_t b = 0; b < k->ensured.nbuckets; b++)
        for (sl_strmap_node_t *n = k->ensured.buckets[b]; n; n = n->next) {
            ktopic_t *t = n->value;
            rd_kafka_topic_destroy(t->rkt);
            free(t);
        }
    sl_strmap_free(&k->ensured);
    sl_strmap_init(&k->ensured);
}

void sl__stream_kafka_producer_drop(sl__stream_kafka_t *k) {
    topics_drop(k); /* Checked again by the next session. */
    if (k->prod != NULL) {
        /* Purged messages get their (failed) reports in the flush; the
         * ring is dropped after it, so nothing points at it any more. */
        rd_kafka_purge(k->prod,
                       RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_flush(k->prod, 1000);
        rd_kafka_destroy(k->prod);
        k->prod = NULL;
    }
    k->rhead = k->rlen = 0;
}

static int ring_push(sl__stream_kafka_t *k, sl__stream_kafka_batch_t **out) {
    if (k->rlen == k->rcap) {
        size_t ncap = k->rcap ? k->rcap * 2 : 64;
        sl__stream_kafka_batch_t *nr = malloc(ncap * sizeof *nr);
        if (nr == NULL)
            return SL_ENOMEM;
        for (size_t i = 0; i < k->rlen; i++)
            nr[i] = *rat(k, i);
        free(k->ring);
        k->ring = nr;
        k->rcap = ncap;
        k->rhead = 0;
    }
    sl__stream_kafka_batch_t *b = rat(k, k->rlen++);
    memset(b, 0, sizeof *b);
    b->reqid = k->next_reqid++;
    b->offset = UINT64_MAX;
    *out = b;
    return 0;
}

/* CreateTopics for kt with nparts partitions; configs optional (a cluster
 * that refuses topic configs, such as sluice-broker, gets none). */
static rd_kafka_resp_err_t create_topic(sl__stream_kafka_t *k, const char *kt,
                                        int nparts, int with_configs,
                                        int internal, char *msg, size_t mlen) {
    char errstr[256];
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(kt, nparts, k->replication,
                                                    errstr, sizeof errstr);
    if (nt == NULL) {
        snprintf(msg, mlen, "%s", errstr);
        return RD_KAFKA_RESP_ERR__INVALID_ARG;
    }
    if (with_configs) {
        char v[16];
        if (k->min_insync > 0) {
            snprintf(v, sizeof v, "%d", k->min_insync);
            rd_kafka_NewTopic_set_config(nt, "min.insync.replicas", v);
        }
        if (internal == 1)
            rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "compact");
        else if (internal == 2)
            rd_kafka_NewTopic_set_config(nt, "retention.ms", "-1");
    }
    rd_kafka_queue_t *q = rd_kafka_queue_new(k->prod);
    rd_kafka_AdminOptions_t *ao =
        rd_kafka_AdminOptions_new(k->prod, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(ao, k->io_timeout_ms, errstr,
                                                sizeof errstr);
    rd_kafka_AdminOptions_set_request_timeout(ao, k->io_timeout_ms, errstr,
                                              sizeof errstr);
    rd_kafka_CreateTopics(k->prod, &nt, 1, ao, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, k->io_timeout_ms + 5000);
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR__TIMED_OUT;
    snprintf(msg, mlen, "no answer");
    if (ev != NULL) {
        e = rd_kafka_event_error(ev);
        snprintf(msg, mlen, "%s", rd_kafka_event_error_string(ev));
        const rd_kafka_CreateTopics_result_t *res =
            rd_kafka_event_CreateTopics_result(ev);
        size_t cnt = 0;
        const rd_kafka_topic_result_t **tr =
            res ? rd_kafka_CreateTopics_result_topics(res, &cnt) : NULL;
        if (e == 0 && cnt == 1) {
            e = rd_kafka_topic_result_error(tr[0]);
            const char *es = rd_kafka_topic_result_error_string(tr[0]);
            snprintf(msg, mlen, "%s", es ? es : rd_kafka_err2str(e));
        }
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_AdminOptions_destroy(ao);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
    return e;
}

/* Makes sure Kafka topic kt exists with at least need partitions, once per
 * session: creates it when missing, else (creation refused or
 * unsupported) checks what exists and stops with a precise error. */
static int ensure_topic(sl__stream_kafka_t *k, const char *kt, int need,
                        int internal, rd_kafka_topic_t **rkt) {
    ktopic_t *have = sl_strmap_get(&k->ensured, kt, strlen(kt));
    if (have != NULL && have->nparts >= need) {
        *rkt = have->rkt;
        return 0;
    }
    int n = 0;
    int err = sl__stream_kafka_topic_parts(k, k->prod, kt, &n);
    char msg[256] = "";
    if (err == SL_ENOTFOUND) {
        rd_kafka_resp_err_t e =
            create_topic(k, kt, need, 1, internal, msg, sizeof msg);
        if (e == RD_KAFKA_RESP_ERR_INVALID_CONFIG) {
            sl_log_warn("kafka cluster refuses topic configs; creating the "
                        "topic without them",
                        "topic=%s error=\"%s\"", kt, msg);
            e = create_topic(k, kt, need, 0, internal, msg, sizeof msg);
        }
        if (e == 0)
            sl_log_info("kafka topic created", "topic=%s partitions=%d", kt,
                        need);
        else if (e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
            sl_log_warn("kafka topic not created; using what exists",
                        "topic=%s error=\"%s\"", kt, msg);
        err = sl__stream_kafka_topic_parts(k, k->prod, kt, &n);
        if (err == SL_ENOTFOUND)
            snprintf(k->err, sizeof k->err,
                     "kafka topic %s does not exist and could not be "
                     "created (%s); create it with %d partitions",
                     kt, msg, need);
    }
    if (err != 0)
        return err;
    if (n < need) {
        snprintf(k->err, sizeof k->err,
                 "kafka topic %s has %d partitions, %d needed (key:N "
                 "routing); add partitions or create it anew",
                 kt, n, need);
        return SL_ERANGE;
    }
    if (have == NULL) {
        if ((have = calloc(1, sizeof *have)) == NULL)
            return SL_ENOMEM;
        if ((have->rkt = rd_kafka_topic_new(k->prod, kt, NULL)) == NULL ||
            sl_strmap_put(&k->ensured, kt, strlen(kt), have) != 0) {
            if (have->rkt != NULL)
                rd_kafka_topic_destroy(have->rkt);
            free(have);
            return SL_ENOMEM;
        }
    }
    have->nparts = n;
    *rkt = have->rkt;
    return 0;
}

static void be64(uint8_t *b, uint64_t v) {
    for (int i = 7; i >= 0; i--, v >>= 8)
        b[i] = (uint8_t)v;
}

int sl__stream_kafka_send(sl_stream_t *s, const sl_stream_batch_t *b,
                          uint64_t *reqid) {
    sl__stream_kafka_t *k = (sl__stream_kafka_t *)s;
    if (k->fatal)
        return SL_ECLOSED;
    char kt[256];
    int32_t kp;
    int err = sl__stream_kafka_map(k, b->topic, b->part, kt, sizeof kt, &kp);
    if (err == 0)
        err = producer(k);
    int internal = strcmp(b->topic, INTERNAL_TOPIC) == 0;
    if (internal) {
        size_t pl = strlen(b->part);
        internal = pl > 7 && strcmp(b->part + pl - 7, ".schema") == 0 ? 2 : 1;
    }
    int need = kp + 1;
    if (strchr(b->part, '#') != NULL && (int)k->nparts > need)
        need = (int)k->nparts;
    rd_kafka_topic_t *rkt = NULL;
    if (err == 0)
        err = ensure_topic(k, kt, need, internal, &rkt);
    sl__stream_kafka_batch_t *bt = NULL;
    if (err == 0)
        err = ring_push(k, &bt);
    if (err != 0)
        return err;
    uint64_t id = bt->reqid;
    uint8_t pid[8];
    be64(pid, (uint64_t)b->producer);
    for (size_t i = 0; i < b->n; i++) {
        rd_kafka_headers_t *h = rd_kafka_headers_new(3);
        uint8_t seq[8];
        be64(seq, b->seq + i);
        if (b->producer >= 0) {
            rd_kafka_header_add(h, SL__KAFKA_HDR_PRODUCER, -1, pid, 8);
            rd_kafka_header_add(h, SL__KAFKA_HDR_SEQ, -1, seq, 8);
        }
        if (b->srcs != NULL && b->srcs[i].len > 0)
            rd_kafka_header_add(h, SL__KAFKA_HDR_SRC, -1, b->srcs[i].data,
                                (ssize_t)b->srcs[i].len);
        else if (b->src != NULL)
            rd_kafka_header_add(h, SL__KAFKA_HDR_SRC, -1, b->src, -1);
        const void *key = NULL;
        size_t klen = 0;
        if (b->keys != NULL) {
            key = b->keys[i].data;
            klen = b->keys[i].len;
        } else if (internal == 1) {
            key = "checkpoint";
            klen = 10;
        }
        rd_kafka_resp_err_t e;
        for (;;) {
            e = rd_kafka_producev(
                k->prod, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(kp),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_VALUE((void *)(uintptr_t)b->msgs[i].data,
                                 b->msgs[i].len),
                RD_KAFKA_V_KEY(key, klen), RD_KAFKA_V_HEADERS(h),
                RD_KAFKA_V_OPAQUE((void *)(uintptr_t)id), RD_KAFKA_V_END);
            if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                break;
            rd_kafka_poll(k->prod, 10); /* Room comes with the reports. */
        }
        if (e != 0) {
            /* The messages before i are queued and report into the batch;
             * this one is the batch's error. */
            rd_kafka_headers_destroy(h);
            bt = by_reqid(k, id);
            bt->code = e;
            bt->err = sl__stream_kafka_err(k, e, kt);
            break;
        }
        by_reqid(k, id)->left++;
    }
    if (reqid != NULL)
        *reqid = id;
    return 0;
}

int sl__stream_kafka_flush(sl_stream_t *s) {
    sl__stream_kafka_t *k = (sl__stream_kafka_t *)s;
    if (k->prod != NULL)
        rd_kafka_poll(k->prod, 0);
    return 0;
}

/* A fatal producer error fails every unacknowledged batch: capture starts
 * a new session. */
static int check_fatal(sl__stream_kafka_t *k) {
    char errstr[256];
    rd_kafka_resp_err_t e =
        k->prod ? rd_kafka_fatal_error(k->prod, errstr, sizeof errstr) : 0;
    if (e == 0)
        return 0;
    k->fatal = 1;
    snprintf(k->err, sizeof k->err,
             "kafka producer fatal error (%s): %s; a new producer session "
             "starts",
             rd_kafka_err2name(e), errstr);
    return SL_ECLOSED;
}

int sl__stream_kafka_ack_ready(sl_stream_t *s, int timeout_ms) {
    sl__stream_kafka_t *k = (sl__stream_kafka_t *)s;
    if (k->rlen == 0)
        return 0;
    uint64_t until =
        (sl_mono_ns() / 1000000) + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
    for (;;) {
        rd_kafka_poll(k->prod, 0);
        int err = check_fatal(k);
        if (err != 0)
            return err;
        if (rat(k, 0)->left == 0)
            return 1;
        uint64_t now = (sl_mono_ns() / 1000000);
        if (now >= until)
            return 0;
        rd_kafka_poll(k->prod, (int)(until - now > 50 ? 50 : until - now));
    }
}

int sl__stream_kafka_ack(sl_stream_t *s, sl_stream_ack_t *ack) {
    sl__stream_kafka_t *k = (sl__stream_kafka_t *)s;
    memset(ack, 0, sizeof *ack);
    if (k->rlen == 0)
        return SL_EINVAL;
    /* Waits while librdkafka retries (it never gives up here); past the
     * I/O timeout the session is declared broken, so capture logs that it
     * is paused and starts a new one. */
    int r = sl__stream_kafka_ack_ready(s, k->io_timeout_ms);
    if (r < 0)
        return r;
    if (r == 0 && k->auth_err != 0) {
        snprintf(k->err, sizeof k->err,
                 "kafka brokers %.100s refused this client (%s): %.200s",
                 k->brokers, rd_kafka_err2name(k->auth_err), k->auth_text);
        return SL_EAUTH;
    }
    if (r == 0) {
        snprintf(k->err, sizeof k->err,
                 "kafka: no delivery report in %d ms (brokers %s)",
                 k->io_timeout_ms, k->brokers);
        return SL_ETIMEDOUT;
    }
    sl__stream_kafka_batch_t *b = rat(k, 0);
    ack->reqid = b->reqid;
    ack->offset = b->offset;
    ack->code = b->code;
    int err = b->err;
    k->rhead = (k->rhead + 1) % k->rcap;
    k->rlen--;
    if (err == SL_ECLOSED || check_fatal(k) != 0)
        return SL_ECLOSED;
    return err;
}

size_t sl__stream_kafka_inflight(const sl_stream_t *s) {
    return ((const sl__stream_kafka_t *)s)->rlen;
}

int sl__stream_kafka_put(sl_stream_t *s, const char *topic, const char *part,
                         const void *data, size_t len, int64_t producer_id,
                         uint64_t seq, uint64_t *offset, int *dup) {
    sl__stream_kafka_t *k = (sl__stream_kafka_t *)s;
    if (k->rlen != 0)
        return SL_EINVAL; /* Not between sends and their acks. */
    sl_stream_msg_t m = {data, len};
    sl_stream_batch_t b = {.topic = topic,
                           .part = part,
                           .msgs = &m,
                           .n = 1,
                           .producer = producer_id,
                           .seq = seq};
    int err = sl__stream_kafka_send(s, &b, NULL);
    sl_stream_ack_t a;
    if (err == 0)
        err = sl__stream_kafka_ack(s, &a);
    if (err == 0) {
        if (offset != NULL)
            *offset = a.offset;
        if (dup != NULL)
            *dup = 0;
    }
    return err;
}

int sl__stream_kafka_create(sl_stream_t *s, const char *topic,
                            unsigned nparts) {
    sl__stream_kafka_t *k = (sl__stream_kafka_t *)s;
    char kt[256];
    int32_t kp;
    int err = sl__stream_kafka_map(k, topic, "#0", kt, sizeof kt, &kp);
    if (err == 0)
        err = producer(k);
    rd_kafka_topic_t *rkt;
    if (err == 0)
        err = ensure_topic(k, kt, nparts ? (int)nparts : 1, 0, &rkt);
    return err;
}
