/*
 * Fetch (API key 1, versions 4-11): stored batches served as stored.
 *
 * Request (v4-11):
 *   replica_id i32, max_wait_ms i32, min_bytes i32, max_bytes i32,
 *   isolation_level i8, session_id i32 (v7+), session_epoch i32 (v7+),
 *   topics [ topic string, partitions [ partition i32,
 *            current_leader_epoch i32 (v9+), fetch_offset i64,
 *            log_start_offset i64 (v5+), partition_max_bytes i32 ] ],
 *   forgotten_topics_data [ topic string, partitions [ i32 ] ] (v7+),
 *   rack_id string (v11+)
 * Response (v4-11):
 *   throttle_time_ms i32, error_code i16 (v7+), session_id i32 (v7+),
 *   responses [ topic string, partitions [ partition_index i32,
 *               error_code i16, high_watermark i64, last_stable_offset
 *               i64, log_start_offset i64 (v5+), aborted_transactions
 *               [ producer_id i64, first_offset i64 ] (null),
 *               preferred_read_replica i32 (v11+), records nullable bytes ]]
 *
 * No fetch sessions: session_id is always 0 (a full fetch each time;
 * KIP-227 lets a broker decline them). The records of a partition are the
 * stored RecordBatches from the one holding fetch_offset on
 * (sl_store_read_batches), copied from the log as stored: sluice batches
 * and Kafka batches alike, never re-encoded. Kafka's size rules (KIP-74):
 * whole batches only, at most partition_max_bytes per partition and
 * max_bytes in all, except that the first batch of the first partition
 * with data is returned whatever its size, so a consumer always makes
 * progress. The high watermark and the last stable offset are the
 * partition's durable end (no transactions), the log start offset its
 * earliest offset after retention. An offset outside [log start, high
 * watermark] is OFFSET_OUT_OF_RANGE.
 *
 * Long polls: with fewer than min_bytes available and max_wait_ms > 0 the
 * request is parked on each of its partitions (sl_part_t.kwaiters) and
 * answered when the store makes new records of one of them durable
 * (sl__kafka_advance) and min_bytes are there, or at max_wait_ms with
 * what there is. The parsed request is kept (copied) while parked.
 */
#include "broker/kafka/data_int.h"

#include "bytes.h"
#include "clock.h"
#include "error.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>

/* One partition of a fetch. */
typedef struct {
    uint32_t topic;  /* Index into the request's topic names. */
    int32_t index;   /* Kafka partition number. */
    int64_t offset;  /* fetch_offset */
    int32_t max;     /* partition_max_bytes */
    sl_part_t *part; /* NULL: unknown, or nothing stored yet. */
    int unknown;     /* No such Kafka topic or partition. */
} fpart_t;

/* A parked fetch's membership in one partition's waiter list. */
typedef struct fnode_s {
    struct fnode_s *next, *prev;
    sl_part_t *part;
    sl_kfetch_t *f;
} fnode_t;

struct sl_kfetch_s {
    sl_kfetch_t *next, *prev; /* d->parked */
    sl_kafka_t *k;
    sl_kreply_t *reply;
    size_t body_at; /* Where the body starts in the reply's buffer. */
    int16_t version;
    int32_t min_bytes, max_bytes;
    uint64_t deadline_ms;
    char **topics; /* Owned names, NUL-terminated. */
    uint16_t *tlens;
    uint32_t ntopics;
    fpart_t *parts;
    uint32_t nparts;
    fnode_t *nodes; /* One per partition with a store partition. */
    uint32_t nnodes;
    uint32_t errors; /* Partitions answered with an error by build(). */
};

static void fetch_free(sl_kfetch_t *f) {
    for (uint32_t i = 0; i < f->ntopics; i++)
        free(f->topics[i]);
    free(f->topics);
    free(f->tlens);
    free(f->parts);
    free(f->nodes);
    free(f);
}

/* ---- building the response ----------------------------------------------
 */

/* Writes the response body for f into its reply; returns the record bytes
 * it holds. */
static uint64_t build(sl_kafka_t *k, sl_kdata_t *d, sl_kfetch_t *f) {
    sl_buf_t *b = sl__kafka_reply_buf(f->reply);
    b->len = f->body_at;
    sl__kafka_w_i32(b, 0); /* throttle_time_ms */
    if (f->version >= 7) {
        sl__kafka_w_i16(b, SL_KERR_NONE);
        sl__kafka_w_i32(b, 0); /* session_id: no sessions */
    }
    sl__kafka_w_i32(b, (int32_t)f->ntopics);
    uint64_t total = 0;
    f->errors = 0;
    uint32_t i = 0;
    for (uint32_t t = 0; t < f->ntopics; t++) {
        sl__kafka_w_str(b, f->topics[t], (int16_t)f->tlens[t]);
        size_t count_at = sl__kafka_w_i32_hole(b);
        int32_t n = 0;
        for (; i < f->nparts && f->parts[i].topic == t; i++, n++) {
            fpart_t *fp = &f->parts[i];
            uint64_t earliest = 0, latest = 0;
            int16_t code = SL_KERR_NONE;
            int err = 0;
            if (fp->unknown)
                code = SL_KERR_UNKNOWN_TOPIC_OR_PARTITION;
            else if (fp->part != NULL)
                err = sl_store_bounds(k->store, fp->part, &earliest, &latest);
            if (err != 0)
                code = SL_KERR_KAFKA_STORAGE_ERROR;
            else if (code == SL_KERR_NONE &&
                     (fp->offset < 0 || (uint64_t)fp->offset < earliest ||
                      (uint64_t)fp->offset > latest)) {
                code = SL_KERR_OFFSET_OUT_OF_RANGE;
                d->st.fetch_out_of_range++;
            }
            sl__kafka_w_i32(b, fp->index);
            size_t code_at = b->len;
            sl__kafka_w_i16(b, code);
            sl__kafka_w_i64(b, code == SL_KERR_NONE ? (int64_t)latest : -1);
            sl__kafka_w_i64(b, code == SL_KERR_NONE ? (int64_t)latest : -1);
            if (f->version >= 5)
                sl__kafka_w_i64(b,
                                code == SL_KERR_NONE ? (int64_t)earliest : -1);
            sl__kafka_w_i32(b, -1); /* aborted_transactions: null */
            if (f->version >= 11)
                sl__kafka_w_i32(b, -1); /* preferred_read_replica */
            size_t len_at = sl__kafka_w_i32_hole(b);
            if (sl_buf_error(b) != 0)
                return total; /* The reply fails; nothing is patched. */
            size_t start = b->len;
            if (code == SL_KERR_NONE && fp->part != NULL &&
                (uint64_t)fp->offset < latest && sl_buf_error(b) == 0) {
                uint64_t room =
                    f->max_bytes > 0 && total < (uint64_t)f->max_bytes
                        ? (uint64_t)f->max_bytes - total
                        : 0;
                uint64_t limit = fp->max > 0 ? (uint64_t)fp->max : 0;
                if (limit > room)
                    limit = room;
                uint64_t next, cnt;
                err = sl_store_read_batches(k->store, fp->part,
                                            (uint64_t)fp->offset, limit, b,
                                            &next, &cnt);
                /* "At least one batch" holds only for the first partition
                 * with data: later ones keep to the limits. */
                if (err == 0 && total > 0 && b->len - start > limit)
                    b->len = start;
                if (err == SL_EGONE || err == SL_ERANGE) {
                    b->len = start;
                    sl_put_u16be(b->data + code_at,
                                 SL_KERR_OFFSET_OUT_OF_RANGE);
                } else if (err != 0 && b->len == start) {
                    b->len = start;
                    sl_put_u16be(b->data + code_at,
                                 err == SL_EDAMAGED
                                     ? SL_KERR_CORRUPT_MESSAGE
                                     : SL_KERR_KAFKA_STORAGE_ERROR);
                }
            }
            if (sl_get_u16be(b->data + code_at) != SL_KERR_NONE)
                f->errors++;
            uint64_t got = b->len - start;
            total += got;
            if (got > 0) {
                d->st.fetch_bytes += got;
                d->st.fetch_batches++;
            }
            sl__kafka_w_i32_at(b, len_at, (int32_t)got);
        }
        sl__kafka_w_i32_at(b, count_at, n);
    }
    return total;
}

/* ---- parking ------------------------------------------------------------ */

static void unpark(sl_kdata_t *d, sl_kfetch_t *f) {
    for (uint32_t i = 0; i < f->nnodes; i++) {
        fnode_t *n = &f->nodes[i];
        if (n->prev)
            n->prev->next = n->next;
        else
            n->part->kwaiters = n->next;
        if (n->next)
            n->next->prev = n->prev;
    }
    f->nnodes = 0;
    if (f->prev)
        f->prev->next = f->next;
    else
        d->parked = f->next;
    if (f->next)
        f->next->prev = f->prev;
    f->next = f->prev = NULL;
}

static void arm_timer(sl_kdata_t *d);

/* Answers a parked fetch with what there is now. */
static void answer(sl_kafka_t *k, sl_kdata_t *d, sl_kfetch_t *f) {
    unpark(d, f);
    build(k, d, f);
    sl_kreply_t *r = f->reply;
    fetch_free(f);
    sl__kafka_reply_done(r);
}

static void timer_cb(uv_timer_t *t) {
    sl_kafka_t *k = t->data;
    sl_kdata_t *d = k->data;
    uint64_t now = sl_mono_ns() / 1000000u;
    sl_kfetch_t *f = d->parked;
    while (f) {
        sl_kfetch_t *next = f->next;
        if (f->deadline_ms <= now)
            answer(k, d, f);
        f = next;
    }
    arm_timer(d);
    sl__kafka_flush_dirty(k);
}

static void arm_timer(sl_kdata_t *d) {
    if (d->timer == NULL)
        return;
    if (d->parked == NULL) {
        uv_timer_stop(d->timer);
        return;
    }
    uint64_t first = UINT64_MAX;
    for (sl_kfetch_t *f = d->parked; f; f = f->next)
        if (f->deadline_ms < first)
            first = f->deadline_ms;
    uint64_t now = sl_mono_ns() / 1000000u;
    uv_timer_start(d->timer, timer_cb, first > now ? first - now : 0, 0);
}

static void fetch_cancel(void *arg) {
    sl_kfetch_t *f = arg;
    sl_kdata_t *d = f->k->data;
    unpark(d, f);
    fetch_free(f);
    arm_timer(d);
}

void sl__kafka_advance(sl_kafka_t *k, sl_part_t *part) {
    sl_kdata_t *d = k->data;
    if (d == NULL)
        return;
    fnode_t *n = part->kwaiters;
    while (n) {
        fnode_t *next = n->next;
        sl_kfetch_t *f = n->f;
        /* Answer when min_bytes are there now. The nodes of f are all
         * unlinked by answer(), so the walk goes on from a node of
         * another fetch: skip any later node of the same f. */
        while (next && next->f == f)
            next = next->next;
        sl_buf_t *b = sl__kafka_reply_buf(f->reply);
        uint64_t got = build(k, d, f);
        if (got >= (uint64_t)(f->min_bytes > 0 ? f->min_bytes : 1) ||
            sl_buf_error(b) != 0)
            answer(k, d, f);
        n = next;
    }
    arm_timer(d);
}

static void timer_closed(uv_handle_t *h) { free(h); }

void sl__kafka_fetch_stop(sl_kafka_t *k, sl_kdata_t *d) {
    (void)k;
    d->stopping = 1;
    if (d->timer != NULL) {
        uv_close((uv_handle_t *)d->timer, timer_closed);
        d->timer = NULL;
    }
    /* Parked fetches belong to connections, which the core closes:
     * fetch_cancel frees each. */
}

/* ---- the handler ---------------------------------------------------------
 */

int sl__kafka_h_fetch(sl_kafka_t *k, sl_kconn_t *conn, const sl_kreq_t *req,
                      sl_kreader_t *body, sl_kreply_t *reply) {
    (void)conn;
    sl_kdata_t *d = sl__kafka_data(k);
    if (d == NULL)
        return SL_ENOMEM;
    sl__kafka_r_i32(body); /* replica_id */
    int32_t max_wait = sl__kafka_r_i32(body);
    int32_t min_bytes = sl__kafka_r_i32(body);
    int32_t max_bytes = sl__kafka_r_i32(body);
    sl__kafka_r_i8(body); /* isolation_level: no transactions, same data */
    if (req->version >= 7) {
        sl__kafka_r_i32(body); /* session_id */
        sl__kafka_r_i32(body); /* session_epoch */
    }
    /* Count first, so that the copies are allocated once. */
    sl_kreader_t scan = *body;
    uint32_t nparts = 0;
    size_t min_part =
        4 + (req->version >= 9 ? 4 : 0) + 8 + (req->version >= 5 ? 8 : 0) + 4;
    int32_t nt = sl__kafka_r_array(&scan, 6);
    for (int32_t t = 0; t < nt && !scan.err; t++) {
        const char *name;
        int16_t nlen;
        sl__kafka_r_str(&scan, &name, &nlen);
        int32_t np = sl__kafka_r_array(&scan, min_part);
        sl__kafka_r_skip(&scan, (size_t)(np > 0 ? np : 0) * min_part);
        nparts += (uint32_t)(np > 0 ? np : 0);
    }
    if (scan.err)
        return scan.err;
    sl_kfetch_t *f = calloc(1, sizeof *f);
    if (f == NULL)
        return SL_ENOMEM;
    d->st.fetch_requests++;
    f->k = k;
    f->reply = reply;
    f->body_at = sl__kafka_reply_buf(reply)->len;
    f->version = req->version;
    f->min_bytes = min_bytes;
    f->max_bytes = max_bytes > 0 ? max_bytes : 0;
    uint32_t ntopics = nt > 0 ? (uint32_t)nt : 0;
    f->topics = calloc(ntopics ? ntopics : 1, sizeof *f->topics);
    f->tlens = calloc(ntopics ? ntopics : 1, sizeof *f->tlens);
    f->parts = calloc(nparts ? nparts : 1, sizeof *f->parts);
    f->nodes = calloc(nparts ? nparts : 1, sizeof *f->nodes);
    if (f->topics == NULL || f->tlens == NULL || f->parts == NULL ||
        f->nodes == NULL) {
        fetch_free(f);
        return SL_ENOMEM;
    }
    nt = sl__kafka_r_array(body, 6);
    for (int32_t t = 0; t < nt; t++) {
        const char *name;
        int16_t nlen;
        sl__kafka_r_str(body, &name, &nlen);
        if (nlen < 0)
            nlen = 0;
        f->topics[t] = strndup(name ? name : "", (size_t)nlen);
        if (f->topics[t] == NULL) {
            f->ntopics = (uint32_t)t;
            fetch_free(f);
            return SL_ENOMEM;
        }
        f->tlens[t] = (uint16_t)nlen;
        f->ntopics = (uint32_t)t + 1;
        int32_t np = sl__kafka_r_array(body, min_part);
        for (int32_t i = 0; i < np; i++) {
            fpart_t *fp = &f->parts[f->nparts++];
            fp->topic = (uint32_t)t;
            fp->index = sl__kafka_r_i32(body);
            if (req->version >= 9)
                sl__kafka_r_i32(body); /* current_leader_epoch */
            fp->offset = sl__kafka_r_i64(body);
            if (req->version >= 5)
                sl__kafka_r_i64(body); /* log_start_offset (a follower's) */
            fp->max = sl__kafka_r_i32(body);
            fp->unknown = sl__kafka_read_part(k, name, (size_t)nlen, fp->index,
                                              &fp->part) != 0;
        }
    }
    /* forgotten_topics_data and rack_id: nothing to do without sessions;
     * they need not even be read. */
    uint64_t got = build(k, d, f);
    /* An error (unknown partition, offset out of range) is answered at
     * once, as Kafka does. */
    if (sl_buf_error(sl__kafka_reply_buf(reply)) != 0 || max_wait <= 0 ||
        got >= (uint64_t)(min_bytes > 0 ? min_bytes : 1) || f->errors > 0 ||
        d->stopping) {
        fetch_free(f);
        sl__kafka_reply_done(reply);
        return 0;
    }
    /* Park until data or max_wait_ms. */
    if (d->timer == NULL) {
        d->timer = malloc(sizeof *d->timer);
        if (d->timer == NULL) {
            fetch_free(f);
            sl__kafka_reply_done(reply);
            return 0;
        }
        uv_timer_init(k->loop, d->timer);
        d->timer->data = k;
    }
    d->st.fetch_parked++;
    f->deadline_ms = sl_mono_ns() / 1000000u + (uint64_t)max_wait;
    for (uint32_t i = 0; i < f->nparts; i++) {
        sl_part_t *part = f->parts[i].part;
        if (part == NULL)
            continue;
        fnode_t *n = &f->nodes[f->nnodes++];
        n->f = f;
        n->part = part;
        n->prev = NULL;
        n->next = part->kwaiters;
        if (n->next)
            n->next->prev = n;
        part->kwaiters = n;
    }
    f->next = d->parked;
    if (f->next)
        f->next->prev = f;
    d->parked = f;
    sl__kafka_reply_on_cancel(reply, fetch_cancel, f);
    arm_timer(d);
    return 0;
}
