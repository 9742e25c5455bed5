/*
 * The stream interface (stream.h) over sluice-broker's text protocol: each
 * operation is the lib/client.h call of the same name, on one client.
 *
 * Nothing is copied on the way: sl_stream_msg_t and sl_stream_rec_t have
 * the layout of sl_client_msg_t and sl_client_rec_t (checked below at
 * compile time), so a batch's message array goes to the client as it is
 * and a fetch's records come back as the client parsed them; a batch's
 * record keys go the same way (put klen=, keyed mput items), so the keys
 * capture gives reach Kafka clients of the broker as they do through the
 * Kafka transport (SL_STREAM_CAP_KEYS). The source header and per-record
 * sequences do not exist on this protocol: the change events carry the
 * source coordinates themselves, and the broker drops re-sent sequences
 * itself (SL_STREAM_CAP_DEDUP).
 */
#include "stream_int.h"

#include "client.h"
#include "error.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SAME_FIELD(a, b, f)                                                    \
    _Static_assert(offsetof(a, f) == offsetof(b, f) &&                         \
                       sizeof(((a *)0)->f) == sizeof(((b *)0)->f),             \
                   #a "." #f " must match " #b)
_Static_assert(sizeof(sl_stream_msg_t) == sizeof(sl_client_msg_t),
               "sl_stream_msg_t must match sl_client_msg_t");
SAME_FIELD(sl_stream_msg_t, sl_client_msg_t, data);
SAME_FIELD(sl_stream_msg_t, sl_client_msg_t, len);
_Static_assert(sizeof(sl_stream_rec_t) == sizeof(sl_client_rec_t),
               "sl_stream_rec_t must match sl_client_rec_t");
SAME_FIELD(sl_stream_rec_t, sl_client_rec_t, offset);
SAME_FIELD(sl_stream_rec_t, sl_client_rec_t, ts);
SAME_FIELD(sl_stream_rec_t, sl_client_rec_t, data);
SAME_FIELD(sl_stream_rec_t, sl_client_rec_t, len);

typedef struct {
    sl_stream_t base; /* First: the public handle. */
    sl_client_t *cl;
} sluice_t;

static sl_client_t *cl_of(sl_stream_t *s) { return ((sluice_t *)s)->cl; }

static void sluice_close(sl_stream_t *s) {
    sl_client_close(cl_of(s));
    free(s);
}

static int sluice_reconnect(sl_stream_t *s) {
    return sl_client_reconnect(cl_of(s));
}

static const char *sluice_error(const sl_stream_t *s) {
    return sl_client_error(((const sluice_t *)s)->cl);
}

static int sluice_send(sl_stream_t *s, const sl_stream_batch_t *b,
                       uint64_t *reqid) {
    return sl_client_put_send_keyed(
        cl_of(s), b->topic, b->part,
        (const sl_client_msg_t *)(const void *)b->msgs,
        (const sl_client_msg_t *)(const void *)b->keys, b->n, b->producer,
        b->seq, reqid);
}

static int sluice_flush(sl_stream_t *s) { return sl_client_flush(cl_of(s)); }

static int sluice_ack(sl_stream_t *s, sl_stream_ack_t *ack) {
    sl_client_ack_t a = {0};
    int err = sl_client_put_ack(cl_of(s), &a);
    ack->reqid = a.reqid;
    ack->offset = a.offset;
    ack->dup = a.dup;
    ack->code = a.code;
    return err;
}

static size_t sluice_inflight(const sl_stream_t *s) {
    return sl_client_inflight(((const sluice_t *)s)->cl);
}

static int sluice_ack_ready(sl_stream_t *s, int timeout_ms) {
    return sl_client_ack_ready(cl_of(s), timeout_ms);
}

static int sluice_put(sl_stream_t *s, const char *topic, const char *part,
                      const void *data, size_t len, int64_t producer,
                      uint64_t seq, uint64_t *offset, int *dup) {
    return sl_client_put(cl_of(s), topic, part, data, len, producer, seq,
                         offset, dup);
}

/* The broker creates a partition on its first put. */
static int sluice_create(sl_stream_t *s, const char *topic, unsigned nparts) {
    (void)s;
    (void)topic;
    (void)nparts;
    return 0;
}

/* Hands the client's fetch over: the scalars are copied, the records are
 * the client's own array. */
static void fetch_out(const sl_client_fetch_t *f, sl_stream_fetch_t *out) {
    out->recs = (sl_stream_rec_t *)(void *)f->recs;
    out->count = f->count;
    out->next = f->next;
    out->earliest = f->earliest;
    out->latest = f->latest;
}

static int sluice_get(sl_stream_t *s, const char *topic, const char *part,
                      uint64_t offset, uint64_t max_bytes, uint64_t wait_ms,
                      sl_stream_fetch_t *out) {
    sl_client_fetch_t f = {0};
    int err =
        sl_client_get(cl_of(s), topic, part, offset, max_bytes, wait_ms, &f);
    fetch_out(&f, out);
    return err;
}

static int sluice_get_send(sl_stream_t *s, const char *topic, const char *part,
                           uint64_t offset, uint64_t max_bytes) {
    return sl_client_get_send(cl_of(s), topic, part, offset, max_bytes);
}

static int sluice_get_recv(sl_stream_t *s, sl_stream_fetch_t *out) {
    sl_client_fetch_t f = {0};
    int err = sl_client_get_recv(cl_of(s), &f);
    fetch_out(&f, out);
    return err;
}

/* Records carry no headers here; the broker deduplicates instead. */
static int sluice_rec_seq(sl_stream_t *s, const sl_stream_fetch_t *f, size_t i,
                          int64_t *producer, uint64_t *seq) {
    (void)s;
    (void)f;
    (void)i;
    (void)producer;
    (void)seq;
    return SL_EUNSUPPORTED;
}

static int sluice_offsets(sl_stream_t *s, const char *topic, const char *part,
                          uint64_t *earliest, uint64_t *latest) {
    return sl_client_offsets(cl_of(s), topic, part, earliest, latest);
}

static int sluice_commit(sl_stream_t *s, const char *group, const char *topic,
                         const char *part, uint64_t offset) {
    return sl_client_commit(cl_of(s), group, topic, part, offset);
}

static int sluice_committed(sl_stream_t *s, const char *group,
                            const char *topic, const char *part,
                            uint64_t *offset) {
    return sl_client_committed(cl_of(s), group, topic, part, offset);
}

/* The broker's listing has lines "TOPIC PARTITION EARLIEST LATEST"; lines
 * of another topic or that do not parse are passed over, as apply always
 * did. The group plays no part: apply assigns partitions itself. */
static int sluice_partitions(sl_stream_t *s, const char *topic,
                             const char *group, sl_stream_part_cb cb,
                             void *ctx) {
    (void)group;
    sl_buf_t out = SL_BUF_INIT;
    int err = sl_client_partitions(cl_of(s), topic, &out);
    const char *text;
    if (err == 0)
        err = sl_buf_cstr(&out, &text);
    char *copy = NULL;
    if (err == 0 && (copy = strdup(text)) == NULL)
        err = SL_ENOMEM;
    char *save = NULL;
    for (char *line = err == 0 ? strtok_r(copy, "\n", &save) : NULL;
         line != NULL && err == 0; line = strtok_r(NULL, "\n", &save)) {
        char t[256], name[256];
        unsigned long long earliest, latest;
        if (sscanf(line, "%255s %255s %llu %llu", t, name, &earliest,
                   &latest) != 4 ||
            (topic != NULL && strcmp(t, topic) != 0))
            continue;
        err = cb(ctx, name, strlen(name), latest);
    }
    free(copy);
    sl_buf_free(&out);
    return err;
}

static const sl__stream_ops_t sluice_ops = {
    .close = sluice_close,
    .reconnect = sluice_reconnect,
    .error = sluice_error,
    .caps = SL_STREAM_CAP_DEDUP | SL_STREAM_CAP_KEYS,
    .send = sluice_send,
    .flush = sluice_flush,
    .ack = sluice_ack,
    .inflight = sluice_inflight,
    .ack_ready = sluice_ack_ready,
    .put = sluice_put,
    .create = sluice_create,
    .get = sluice_get,
    .get_send = sluice_get_send,
    .get_recv = sluice_get_recv,
    .rec_seq = sluice_rec_seq,
    .offsets = sluice_offsets,
    .commit = sluice_commit,
    .committed = sluice_committed,
    .partitions = sluice_partitions,
};

int sl__stream_sluice_open(const char *hostport, const sl_stream_opts_t *opts,
                           sl_stream_t **out) {
    sluice_t *s = calloc(1, sizeof *s);
    if (s == NULL)
        return SL_ENOMEM;
    s->base.ops = &sluice_ops;
    sl_client_opts_t co = {0};
    if (opts != NULL) {
        co.secret = opts->secret;
        co.connect_timeout_ms = opts->connect_timeout_ms;
        co.io_timeout_ms = opts->io_timeout_ms;
        co.retry_ms = opts->retry_ms;
    }
    int err = sl_client_connect_tls(hostport, opts ? &co : NULL,
                                    opts ? opts->tls : NULL, &s->cl);
    if (err != 0) {
        free(s);
        return err;
    }
    *out = &s->base;
    return 0;
}
