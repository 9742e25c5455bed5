/*
 * The stream interface's internals: the table of operations each
 * transport fills in, shared by lib/stream.c (the dispatch and the scheme
 * parsing) and the transports (lib/stream_sluice.c), and by nothing else;
 * the public API is lib/stream.h.
 *
 * Every sl_stream_t starts with its transport's table, so lib/stream.c
 * dispatches with one indirect call per request (per batch, per fetch,
 * never per message or record).
 */
#ifndef SL_STREAM_INT_H
#define SL_STREAM_INT_H

#include "stream.h"

typedef struct {
    void (*close)(sl_stream_t *s);
    int (*reconnect)(sl_stream_t *s);
    const char *(*error)(const sl_stream_t *s);
    unsigned caps;
    int (*send)(sl_stream_t *s, const sl_stream_batch_t *b, uint64_t *reqid);
    int (*flush)(sl_stream_t *s);
    int (*ack)(sl_stream_t *s, sl_stream_ack_t *ack);
    size_t (*inflight)(const sl_stream_t *s);
    int (*ack_ready)(sl_stream_t *s, int timeout_ms);
    int (*put)(sl_stream_t *s, const char *topic, const char *part,
               const void *data, size_t len, int64_t producer, uint64_t seq,
               uint64_t *offset, int *dup);
    int (*create)(sl_stream_t *s, const char *topic, unsigned nparts);
    int (*get)(sl_stream_t *s, const char *topic, const char *part,
               uint64_t offset, uint64_t max_bytes, uint64_t wait_ms,
               sl_stream_fetch_t *out);
    int (*get_send)(sl_stream_t *s, const char *topic, const char *part,
                    uint64_t offset, uint64_t max_bytes);
    int (*get_recv)(sl_stream_t *s, sl_stream_fetch_t *out);
    int (*rec_seq)(sl_stream_t *s, const sl_stream_fetch_t *f, size_t i,
                   int64_t *producer, uint64_t *seq);
    int (*offsets)(sl_stream_t *s, const char *topic, const char *part,
                   uint64_t *earliest, uint64_t *latest);
    int (*commit)(sl_stream_t *s, const char *group, const char *topic,
                  const char *part, uint64_t offset);
    int (*committed)(sl_stream_t *s, const char *group, const char *topic,
                     const char *part, uint64_t *offset);
    int (*partitions)(sl_stream_t *s, const char *topic, const char *group,
                      sl_stream_part_cb cb, void *ctx);
} sl__stream_ops_t;

struct sl_stream_s {
    const sl__stream_ops_t *ops;
};

/* Opens the text-protocol transport on "HOST:PORT" (lib/stream_sluice.c). */
int sl__stream_sluice_open(const char *hostport, const sl_stream_opts_t *opts,
                           sl_stream_t **out);
/* Opens the Kafka transport on "HOST:PORT[,...]" (lib/stream_kafka.c); on
 * failure errbuf says why (never a secret). */
int sl__stream_kafka_open(const char *servers, const sl_stream_opts_t *opts,
                          sl_stream_t **out, char *errbuf, size_t errlen);

#endif
