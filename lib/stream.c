/*
 * The stream interface (stream.h): the scheme of a broker address picks
 * the transport, and every call goes to that transport's operation.
 *
 * Addresses: "HOST:PORT" and "sluice://HOST:PORT" are sluice-broker's text
 * protocol; "kafka://HOST:PORT[,HOST:PORT...]" is any Kafka-protocol
 * cluster (lib/stream_kafka.c); anything else goes to the text protocol
 * and is refused there as a bad HOST:PORT (SL_EINVAL), as before this
 * interface existed.
 */
#include "stream_int.h"

#include "error.h"
#include "log.h"

#include <string.h>

int sl_stream_open(const char *url, const sl_stream_opts_t *opts,
                   sl_stream_t **out) {
    *out = NULL;
    if (url == NULL)
        return SL_EINVAL;
    static const char sluice[] = "sluice://";
    if (strncmp(url, sluice, sizeof sluice - 1) == 0)
        return sl__stream_sluice_open(url + sizeof sluice - 1, opts, out);
    static const char kafka[] = "kafka://";
    if (strncmp(url, kafka, sizeof kafka - 1) == 0) {
        char err[512] = "";
        int rc = sl__stream_kafka_open(url + sizeof kafka - 1, opts, out, err,
                                       sizeof err);
        /* There is no session to ask for the text: it is logged here. */
        if (rc != 0 && err[0] != '\0')
            sl_log_error("cannot open the Kafka transport", "error=\"%s\"",
                         err);
        return rc;
    }
    return sl__stream_sluice_open(url, opts, out);
}

void sl_stream_close(sl_stream_t *s) {
    if (s != NULL)
        s->ops->close(s);
}

int sl_stream_reconnect(sl_stream_t *s) { return s->ops->reconnect(s); }

const char *sl_stream_error(const sl_stream_t *s) { return s->ops->error(s); }

unsigned sl_stream_caps(const sl_stream_t *s) { return s->ops->caps; }

int sl_stream_send(sl_stream_t *s, const sl_stream_batch_t *b,
                   uint64_t *reqid) {
    return s->ops->send(s, b, reqid);
}

int sl_stream_flush(sl_stream_t *s) { return s->ops->flush(s); }

int sl_stream_ack(sl_stream_t *s, sl_stream_ack_t *ack) {
    return s->ops->ack(s, ack);
}

size_t sl_stream_inflight(const sl_stream_t *s) { return s->ops->inflight(s); }

int sl_stream_ack_ready(sl_stream_t *s, int timeout_ms) {
    return s->ops->ack_ready(s, timeout_ms);
}

int sl_stream_put(sl_stream_t *s, const char *topic, const char *part,
                  const void *data, size_t len, int64_t producer, uint64_t seq,
                  uint64_t *offset, int *dup) {
    return s->ops->put(s, topic, part, data, len, producer, seq, offset, dup);
}

int sl_stream_create(sl_stream_t *s, const char *topic, unsigned nparts) {
    return s->ops->create(s, topic, nparts);
}

int sl_stream_get(sl_stream_t *s, const char *topic, const char *part,
                  uint64_t offset, uint64_t max_bytes, uint64_t wait_ms,
                  sl_stream_fetch_t *out) {
    return s->ops->get(s, topic, part, offset, max_bytes, wait_ms, out);
}

int sl_stream_get_send(sl_stream_t *s, const char *topic, const char *part,
                       uint64_t offset, uint64_t max_bytes) {
    return s->ops->get_send(s, topic, part, offset, max_bytes);
}

int sl_stream_get_recv(sl_stream_t *s, sl_stream_fetch_t *out) {
    return s->ops->get_recv(s, out);
}

int sl_stream_rec_seq(sl_stream_t *s, const sl_stream_fetch_t *f, size_t i,
                      int64_t *producer, uint64_t *seq) {
    return s->ops->rec_seq(s, f, i, producer, seq);
}

int sl_stream_offsets(sl_stream_t *s, const char *topic, const char *part,
                      uint64_t *earliest, uint64_t *latest) {
    return s->ops->offsets(s, topic, part, earliest, latest);
}

int sl_stream_commit(sl_stream_t *s, const char *group, const char *topic,
                     const char *part, uint64_t offset) {
    return s->ops->commit(s, group, topic, part, offset);
}

int sl_stream_committed(sl_stream_t *s, const char *group, const char *topic,
                        const char *part, uint64_t *offset) {
    return s->ops->committed(s, group, topic, part, offset);
}

int sl_stream_partitions(sl_stream_t *s, const char *topic, const char *group,
                         sl_stream_part_cb cb, void *ctx) {
    return s->ops->partitions(s, topic, group, cb, ctx);
}
