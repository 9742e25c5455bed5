/*
 * The Kafka transport's internals (lib/stream_kafka*.c), shared by its
 * files and nothing else; the public API is lib/stream.h, the design
 * docs/transport.md and docs/kafka.md.
 *
 * One sl_stream_t of this transport holds up to three librdkafka handles,
 * each made when first needed: a producer (capture's sends and puts, and
 * the Admin API's CreateTopics), a consumer (every read: offsets,
 * fetches, group offsets, listings) and a group member (listings with a
 * group: lib/stream_kafka_group.c). A session that only reads never
 * starts a producer, and the reverse.
 *
 * Headers written on every data record (all values raw bytes):
 *   sluice.producer  8 bytes, big endian: capture's producer id
 *   sluice.seq       8 bytes, big endian: the record's capture sequence
 *   sluice.src       "FILE:POS" of the binlog event (when capture gives it)
 * Checkpoint records (internal partitions without a ".schema" suffix)
 * carry the key "checkpoint", so that a compacted topic keeps the newest.
 */
#ifndef SL_STREAM_KAFKA_INT_H
#define SL_STREAM_KAFKA_INT_H

#include "broker/kafka/kafka.h"
#include "stream_int.h"
#include "strmap.h"

#include <librdkafka/rdkafka.h>
#include <stdint.h>

#define SL__KAFKA_HDR_PRODUCER "sluice.producer"
#define SL__KAFKA_HDR_SEQ "sluice.seq"
#define SL__KAFKA_HDR_SRC "sluice.src"

/* One batch sent and not yet acknowledged, in the ring of send order. */
typedef struct {
    uint64_t reqid;
    size_t left;     /* Delivery reports still to come. */
    int err;         /* The first failure (SL_E*), 0 if none. */
    int code;        /* librdkafka's code of that failure. */
    uint64_t offset; /* Offset of the first message, when reported. */
} sl__stream_kafka_batch_t;

typedef struct {
    sl_stream_t base; /* First: the public handle. */
    char *brokers;    /* bootstrap.servers. */
    char **props;     /* Copies of the user's KEY=VALUE settings. */
    size_t nprops;
    char *secret; /* SASL password, or NULL. */
    int connect_timeout_ms, io_timeout_ms;
    /* Sluice's own settings (sluice.*, never passed to librdkafka). */
    int replication; /* -1: the cluster's default. */
    int min_insync;  /* 0: the cluster's default. */
    unsigned nparts; /* Partitions of a key:N topic (0: from the name). */
    char cur_group[256];

    rd_kafka_t *prod;
    sl__stream_kafka_batch_t *ring;
    size_t rhead, rlen, rcap;
    uint64_t next_reqid;
    int fatal;           /* The producer hit a fatal error: reconnect. */
    sl_strmap_t ensured; /* Kafka topic -> partition count checked. */

    rd_kafka_t *cons;
    char ctopic[256]; /* The partition assigned now, if any. */
    int32_t cpart;
    int64_t cnext; /* The offset the assignment will deliver next. */
    rd_kafka_message_t **msgs; /* The last fetch's messages. */
    size_t nmsgs, msgcap;
    sl_stream_rec_t *recs;
    size_t reccap;
    int pend; /* get_send() done, get_recv() due. */
    char ptopic[256], ppart[256];
    uint64_t poff, pmax;

    /* The last authentication or authorization error librdkafka reported
     * outside a request (error_cb; it runs inside our polls, on the
     * session's thread). */
    rd_kafka_resp_err_t auth_err;
    char auth_text[256];

    /* The group member (lib/stream_kafka_group.c), made by the first
     * sl_stream_partitions() with a group; the caller's callback is kept
     * for the rebalances served inside its polls. */
    rd_kafka_t *gcons;
    char gname[256], gtopic[256];
    sl_stream_part_cb gcb;
    void *gctx;
    int gerr;
    uint64_t grefresh_ms; /* When the member last asked for metadata. */
    int gseen;            /* Topics matching the subscription at that time. */
    char gprefix[257], gdirect[256]; /* What the subscription matches. */

    char err[512];
} sl__stream_kafka_t;

/* Builds a configuration for a producer (producer 1) or a consumer of
 * group (NULL: a reader that never commits), with the user's settings
 * and the ones that carry the guarantees. On failure k->err says why. */
int sl__stream_kafka_conf(sl__stream_kafka_t *k, int producer,
                          const char *group, rd_kafka_conf_t **out);
/* An SL_E* code for a librdkafka error, with its text into k->err. */
int sl__stream_kafka_err(sl__stream_kafka_t *k, rd_kafka_resp_err_t e,
                         const char *what);
/* The Kafka name of a sluice partition (docs/kafka.md, "Names"). */
int sl__stream_kafka_map(sl__stream_kafka_t *k, const char *topic,
                         const char *part, char *kt, size_t cap, int32_t *kp);

/* Producing (lib/stream_kafka_produce.c). */
int sl__stream_kafka_send(sl_stream_t *s, const sl_stream_batch_t *b,
                          uint64_t *reqid);
int sl__stream_kafka_flush(sl_stream_t *s);
int sl__stream_kafka_ack(sl_stream_t *s, sl_stream_ack_t *ack);
size_t sl__stream_kafka_inflight(const sl_stream_t *s);
int sl__stream_kafka_ack_ready(sl_stream_t *s, int timeout_ms);
int sl__stream_kafka_put(sl_stream_t *s, const char *topic, const char *part,
                         const void *data, size_t len, int64_t producer,
                         uint64_t seq, uint64_t *offset, int *dup);
int sl__stream_kafka_create(sl_stream_t *s, const char *topic, unsigned nparts);
/* Drops the producer: purges what it holds and destroys it. */
void sl__stream_kafka_producer_drop(sl__stream_kafka_t *k);

/* Consumer-group membership (lib/stream_kafka_group.c): the partitions
 * the group gave this member, for sl_stream_partitions() with a group;
 * and leaving the group (at close). */
int sl__stream_kafka_group_partitions(sl__stream_kafka_t *k, const char *topic,
                                      const char *group, sl_stream_part_cb cb,
                                      void *ctx);
void sl__stream_kafka_group_drop(sl__stream_kafka_t *k);
/* Commits l for group through this process's member of it, when there is
 * one (returns 1, librdkafka's result in *e); 0 when there is none. */
int sl__stream_kafka_group_commit(const char *group,
                                  rd_kafka_topic_partition_list_t *l,
                                  rd_kafka_resp_err_t *e);

/* The partition count of Kafka topic kt as the cluster reports it, through
 * handle rk: SL_ENOTFOUND when there is no such topic. */
int sl__stream_kafka_topic_parts(sl__stream_kafka_t *k, rd_kafka_t *rk,
                                 const char *kt, int *nparts);

#endif
