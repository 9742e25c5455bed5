/*
 * Produce (API key 0, versions 0-7), and the data path's shared state.
 *
 * Versions 0-2 are advertised only because librdkafka compresses with gzip
 * or snappy only when the broker's Produce range includes version 0
 * (rdkafka_msgset_writer.c checks Produce 0..0 for them): their requests
 * are read, and a message set that is not a RecordBatch v2 (magic 0 or 1)
 * gets UNSUPPORTED_FOR_MESSAGE_FORMAT. Clients use the highest version,
 * 7, which carries RecordBatch v2.
 *
 * Request (v0-7):
 *   transactional_id  nullable string (v3+; must be null: no transactions)
 *   acks              i16: 0 (no reply), 1 or -1 (all)
 *   timeout_ms        i32
 *   topics            [ name string, partitions [ index i32,
 *                                                 records nullable bytes ] ]
 * Response (v0-7):
 *   topics            [ name string, partitions [ index i32, error_code
 *                       i16, base_offset i64, log_append_time_ms i64 (v2+),
 *                       log_start_offset i64 (v5+) ] ]
 *   throttle_time_ms  i32 (v1+)
 *
 * The records of a partition are one or more RecordBatch v2 (magic 2).
 * Each is checked (framing, CRC-32C, codec, records; record.c) and staged
 * verbatim with sl_store_append_batch, which also runs Kafka's
 * idempotence check. acks=1 and acks=all both mean: answered once the
 * store made the batches durable per its fsync policy (sluice has no
 * replicas); acks=0 gets no reply at all. The reply is built when the
 * request is read, with each partition's error code and base offset
 * patched in as the store's acks arrive; it is sent when the last ack
 * came (or dropped if the connection went away first: the acks still
 * arrive, and free the waiter).
 *
 * Errors per partition: UNKNOWN_TOPIC_OR_PARTITION, INVALID_TOPIC_EXCEPTION,
 * CORRUPT_MESSAGE (framing, CRC, a batch that is not magic 2),
 * INVALID_RECORD (records that do not parse, transactional or control
 * batches, an idempotent batch without a sequence),
 * UNSUPPORTED_COMPRESSION_TYPE, MESSAGE_TOO_LARGE (above max-batch, or
 * records that decompress beyond SL_INFLATE_MAX), OUT_OF_ORDER_SEQUENCE_
 * NUMBER, INVALID_PRODUCER_EPOCH, DUPLICATE_SEQUENCE_NUMBER (sequences
 * stored before in a batch no longer remembered), KAFKA_STORAGE_ERROR
 * (disk full: nothing stored; the client retries), REQUEST_TIMED_OUT
 * (the store's staging is full: retry).
 */
#include "broker/kafka/data_int.h"

#include "bytes.h"
#include "error.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>

#define KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT 43
#define KERR_UNSUPPORTED_COMPRESSION_TYPE 76

sl_kdata_t *sl__kafka_data(sl_kafka_t *k) {
    if (k->data == NULL) {
        sl_kdata_t *d = calloc(1, sizeof *d);
        if (d == NULL)
            return NULL;
        k->data = d;
    }
    return k->data;
}

int sl__kafka_read_part(sl_kafka_t *k, const char *topic, size_t tlen,
                        int32_t partition, sl_part_t **out) {
    *out = NULL;
    int err = sl__kafka_part(k, topic, tlen, partition, 0, out);
    return err == SL_EINVAL ? SL_ENOTFOUND : err;
}

/* ---- the waiter of one Produce request ------------------------------------
 */

typedef struct produce_s produce_t;

/* One staged batch: its ack patches the partition's result at pos. */
typedef struct {
    sl_kack_t kack;
    produce_t *pr;
    size_t pos; /* Of the partition's error_code in the reply. */
    int first;  /* The partition's first batch: its base offset counts. */
} pslot_t;

/* One allocation per request, the slots after the header. */
struct produce_s {
    sl_kreply_t *reply; /* NULL once sent, dropped or cancelled. */
    uint32_t pending;   /* Acks still to come. */
    uint32_t nslots, capslots;
    sl_kdata_t *d;
    pslot_t slots[];
};

static void produce_free(produce_t *pr) { free(pr); }

static void produce_cancel(void *arg) {
    produce_t *pr = arg;
    pr->reply = NULL;
    if (pr->pending == 0)
        produce_free(pr);
}

/* Writes a partition result's error code (and base offset -1) at pos. */
static void set_error(sl_buf_t *b, size_t pos, int16_t code) {
    sl_put_u16be(b->data + pos, (uint16_t)code);
    sl_put_u64be(b->data + pos + 2, UINT64_MAX);
}

static void produce_ack(sl_kafka_t *k, sl_kack_t *self, const sl_ack_t *ack) {
    (void)k;
    pslot_t *s = (pslot_t *)self;
    produce_t *pr = s->pr;
    if (pr->reply != NULL && sl_buf_error(&pr->reply->buf) == 0) {
        sl_buf_t *b = sl__kafka_reply_buf(pr->reply);
        int16_t cur = (int16_t)sl_get_u16be(b->data + s->pos);
        if (ack->extra == SL_ACK_NOSPACE) {
            set_error(b, s->pos, SL_KERR_KAFKA_STORAGE_ERROR);
            pr->d->st.produce_refused++;
        } else if (cur == SL_KERR_NONE && s->first) {
            sl_put_u64be(b->data + s->pos + 2, ack->value);
        }
    }
    if (--pr->pending > 0)
        return;
    if (pr->reply != NULL) {
        sl_kreply_t *r = pr->reply;
        pr->reply = NULL;
        sl__kafka_reply_done(r);
    }
    produce_free(pr);
}

/* The slots are allocated once, for every batch the request frames: the
 * store holds pointers to them, so they never move. */
static pslot_t *add_slot(produce_t *pr) {
    if (pr->nslots == pr->capslots)
        return NULL;
    return &pr->slots[pr->nslots++];
}

/* Maps a refusal of a batch (record.c's check or the store) to Kafka's
 * error code. */
static int16_t batch_error(int err) {
    switch (err) {
    case SL_ECHECKSUM:
    case SL_ECORRUPT:
    case SL_ETRUNC: return SL_KERR_CORRUPT_MESSAGE;
    case SL_EUNSUPPORTED: return 76; /* UNSUPPORTED_COMPRESSION_TYPE */
    case SL_ETOOBIG: return SL_KERR_MESSAGE_TOO_LARGE;
    case SL_EINVAL:
    case SL_EPROTO: return SL_KERR_INVALID_RECORD;
    case SL_ENOSPC: return SL_KERR_KAFKA_STORAGE_ERROR;
    case SL_EAGAIN: return SL_KERR_REQUEST_TIMED_OUT;
    default: return SL_KERR_UNKNOWN_SERVER_ERROR;
    }
}

static int16_t verdict_error(int verdict) {
    switch (verdict) {
    case SL_KPROD_OUT_OF_ORDER: return SL_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
    case SL_KPROD_STALE_EPOCH: return SL_KERR_INVALID_PRODUCER_EPOCH;
    case SL_KPROD_DUP_OLD: return SL_KERR_DUPLICATE_SEQUENCE_NUMBER;
    default: return SL_KERR_NONE;
    }
}

/* How many batches records[0..len) frames (as far as it frames). */
static uint32_t count_batches(const uint8_t *recs, int32_t len) {
    uint32_t n = 0;
    if (recs == NULL || len <= 0)
        return 0; /* Null records (NULL + 0 would be undefined). */
    const uint8_t *p = recs, *end = recs + len;
    while (end - p >= SL_BATCH_HDR) {
        uint64_t blen = (uint64_t)sl_get_u32be(p + 8) + 12;
        if (blen > (uint64_t)(end - p) || blen < SL_BATCH_HDR)
            break;
        p += blen;
        n++;
    }
    return n;
}

/* Checks and stages the batches of one partition in order; returns the
 * error code to report now (NONE when the acks will tell). pos is where
 * the partition's error_code sits in the reply. A refused batch stops
 * the partition: the batches before it are stored (a producer sends one
 * batch per partition and request; Kafka's own clients never more with
 * idempotence). */
static int16_t produce_part(sl_kafka_t *k, produce_t *pr, sl_part_t *part,
                            const uint8_t *recs, int32_t len, size_t pos) {
    sl_kdata_t *d = pr->d;
    if (recs == NULL || len < SL_BATCH_HDR)
        return SL_KERR_CORRUPT_MESSAGE;
    const uint8_t *p = recs, *end = recs + len;
    for (int first = 1; p < end; first = 0) {
        if (end - p < SL_BATCH_HDR)
            return SL_KERR_CORRUPT_MESSAGE;
        uint64_t blen = (uint64_t)sl_get_u32be(p + 8) + 12;
        if (p[16] == 0 || p[16] == 1)
            return KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT;
        if (p[16] != 2 || blen > (uint64_t)(end - p) || blen < SL_BATCH_HDR)
            return SL_KERR_CORRUPT_MESSAGE;
        sl_entry_t e;
        int err = sl_record_kafka_check(p, (size_t)blen, &d->scratch,
                                        SL_INFLATE_MAX, &e);
        /* A large decompressed batch leaves no big buffer behind. */
        if (d->scratch.cap > (8u << 20))
            sl_buf_free(&d->scratch);
        if (err != 0) {
            if (err == SL_ECHECKSUM || err == SL_ECORRUPT)
                d->st.produce_corrupt++;
            return batch_error(err);
        }
        pslot_t *s = add_slot(pr);
        if (s == NULL)
            return SL_KERR_UNKNOWN_SERVER_ERROR;
        s->kack.cb = produce_ack;
        s->pr = pr;
        s->pos = pos;
        s->first = first;
        sl_ack_t ack = {&s->kack, 0, 0, SL_KAFKA_ACK, 0};
        uint64_t base;
        int verdict;
        err = sl_store_append_batch(k->store, part, p, (size_t)blen, &e, &ack,
                                    &base, &verdict);
        if (err != 0 || verdict == SL_KPROD_OUT_OF_ORDER ||
            verdict == SL_KPROD_STALE_EPOCH) {
            pr->nslots--; /* No ack will come for it. */
            if (verdict == SL_KPROD_OUT_OF_ORDER)
                d->st.produce_out_of_order++;
            if (verdict == SL_KPROD_STALE_EPOCH)
                d->st.produce_fenced++;
            return err != 0 ? batch_error(err) : verdict_error(verdict);
        }
        pr->pending++;
        d->st.produce_batches++;
        d->st.produce_records += e.count;
        if (verdict != SL_KPROD_OK) {
            d->st.produce_dups++;
            if (verdict == SL_KPROD_DUP_OLD) {
                /* Acknowledged in order, but reported as Kafka does. */
                set_error(sl__kafka_reply_buf(pr->reply), pos,
                          SL_KERR_DUPLICATE_SEQUENCE_NUMBER);
                s->first = 0;
            }
        }
        p += blen;
    }
    return SL_KERR_NONE;
}

/* The log start offset of part for a Produce reply, from the cache of
 * data_int.h (SL_KSTART_CACHE) when at most a second old. */
static int log_start(sl_kafka_t *k, sl_kdata_t *d, sl_part_t *part,
                     uint64_t *earliest) {
    uintptr_t h = (uintptr_t)part;
    sl_kstart_t *c = &d->start[(h >> 6 ^ h >> 18) % SL_KSTART_CACHE];
    uint64_t now = (uint64_t)uv_now(k->loop);
    if (c->part == part && now - c->at_ms < 1000) {
        *earliest = c->earliest;
        return 0;
    }
    uint64_t latest;
    int err = sl_store_bounds(k->store, part, earliest, &latest);
    if (err != 0)
        return err;
    c->part = part;
    c->earliest = *earliest;
    c->at_ms = now;
    return 0;
}

int sl__kafka_h_produce(sl_kafka_t *k, sl_kconn_t *conn, const sl_kreq_t *req,
                        sl_kreader_t *body, sl_kreply_t *reply) {
    (void)conn;
    sl_kdata_t *d = sl__kafka_data(k);
    if (d == NULL)
        return SL_ENOMEM;
    const char *txn = NULL;
    int16_t txn_len = -1;
    if (req->version >= 3)
        sl__kafka_r_str(body, &txn, &txn_len);
    int16_t acks = sl__kafka_r_i16(body);
    sl__kafka_r_i32(body); /* timeout_ms: durability takes what it takes */
    if (body->err)
        return body->err;
    d->st.produce_requests++;
    sl_buf_t *b = sl__kafka_reply_buf(reply);
    int16_t bad = SL_KERR_NONE;
    if (txn_len >= 0)
        bad = SL_KERR_INVALID_RECORD; /* Transactions are not supported. */
    else if (acks != 0 && acks != 1 && acks != -1)
        bad = SL_KERR_INVALID_REQUIRED_ACKS;
    sl_kreader_t scan = *body;
    uint32_t total = 0;
    int32_t nt = sl__kafka_r_array(&scan, 6);
    for (int32_t t = 0; t < nt && !scan.err; t++) {
        const char *name;
        int16_t nlen;
        sl__kafka_r_str(&scan, &name, &nlen);
        int32_t np = sl__kafka_r_array(&scan, 8);
        for (int32_t i = 0; i < np && !scan.err; i++) {
            const uint8_t *recs;
            int32_t rlen;
            sl__kafka_r_i32(&scan);
            sl__kafka_r_bytes(&scan, &recs, &rlen);
            if (!scan.err)
                total += count_batches(recs, rlen);
        }
    }
    if (scan.err)
        return scan.err;
    uint32_t cap = total ? total : 1;
    produce_t *pr = malloc(sizeof *pr + (size_t)cap * sizeof(pslot_t));
    if (pr == NULL)
        return SL_ENOMEM;
    pr->reply = reply;
    pr->pending = 0;
    pr->nslots = 0;
    pr->capslots = cap;
    pr->d = d;
    nt = sl__kafka_r_array(body, 6);
    sl__kafka_w_i32(b, nt < 0 ? 0 : nt);
    for (int32_t t = 0; t < nt; t++) {
        const char *name;
        int16_t nlen;
        sl__kafka_r_str(body, &name, &nlen);
        int32_t np = sl__kafka_r_array(body, 8);
        if (nlen < 0)
            nlen = 0;
        sl__kafka_w_str(b, name, nlen);
        sl__kafka_w_i32(b, np < 0 ? 0 : np);
        for (int32_t i = 0; i < np; i++) {
            int32_t index = sl__kafka_r_i32(body);
            const uint8_t *recs;
            int32_t rlen;
            sl__kafka_r_bytes(body, &recs, &rlen);
            sl__kafka_w_i32(b, index);
            size_t pos = b->len;
            sl__kafka_w_i16(b, SL_KERR_NONE);
            sl__kafka_w_i64(b, -1); /* base_offset */
            if (req->version >= 2)
                sl__kafka_w_i64(b, -1); /* log_append_time_ms: CreateTime */
            size_t lso_pos = b->len;
            if (req->version >= 5)
                sl__kafka_w_i64(b, 0);
            if (sl_buf_error(b) != 0)
                continue;
            int16_t code = bad;
            sl_part_t *part = NULL;
            if (code == SL_KERR_NONE) {
                int err =
                    sl__kafka_part(k, name, (size_t)nlen, index, 0, &part);
                if (err == 0 && part == NULL)
                    err =
                        sl__kafka_part(k, name, (size_t)nlen, index, 1, &part);
                if (err == SL_EINVAL)
                    code = SL_KERR_INVALID_TOPIC_EXCEPTION;
                else if (err != 0 || part == NULL)
                    code = SL_KERR_UNKNOWN_TOPIC_OR_PARTITION;
            }
            if (code == SL_KERR_NONE)
                code = produce_part(k, pr, part, recs, rlen, pos);
            if (code != SL_KERR_NONE) {
                d->st.produce_refused++;
                set_error(b, pos, code);
            }
            uint64_t earliest;
            if (req->version >= 5 && part != NULL &&
                log_start(k, d, part, &earliest) == 0)
                sl_put_u64be(b->data + lso_pos, earliest);
        }
    }
    if (req->version >= 1)
        sl__kafka_w_i32(b, 0); /* throttle_time_ms */
    /* The scan above read the whole body, so body->err is 0 here. */
    if (acks == 0) {
        /* No reply; the acks still come and free the waiter. */
        pr->reply = NULL;
        sl__kafka_reply_none(reply);
        if (pr->pending == 0)
            produce_free(pr);
        return 0;
    }
    if (pr->pending == 0) {
        pr->reply = NULL;
        produce_free(pr);
        sl__kafka_reply_done(reply);
        return 0;
    }
    sl__kafka_reply_on_cancel(reply, produce_cancel, pr);
    return 0;
}
