/*
 * ListOffsets (API key 2, versions 0-2) and InitProducerId (API key 22,
 * versions 0-1), and the data path's lifetime and counters.
 *
 * ListOffsets request:
 *   replica_id i32, isolation_level i8 (v2+),
 *   topics [ name string, partitions [ partition_index i32, timestamp i64,
 *            max_num_offsets i32 (v0 only) ] ]
 * Response:
 *   throttle_time_ms i32 (v2+),
 *   topics [ name string, partitions [ partition_index i32, error_code i16,
 *            old_style_offsets [ i64 ] (v0 only), timestamp i64 (v1+),
 *            offset i64 (v1+) ] ]
 * timestamp -1 asks for the latest offset (the high watermark), -2 for the
 * earliest (the log start offset after retention); any other value for
 * the first offset whose batch's timestamp is at or after it
 * (sl_store_offset_for_ts: the base offset of the first batch whose
 * largest timestamp so far reaches it, Kafka's time-index answer), or -1
 * when none does. The timestamp returned is -1 (not looked up).
 *
 * InitProducerId request: transactional_id nullable string,
 * transaction_timeout_ms i32. Response: throttle_time_ms i32, error_code
 * i16, producer_id i64, producer_epoch i16. A new producer id each time
 * (epoch 0), answered once its high-water mark is durable
 * (sl_store_new_producer_id), so an id is never handed out twice, even
 * across a crash. A transactional id is refused with
 * TRANSACTIONAL_ID_AUTHORIZATION_FAILED: transactions are not supported.
 */
#include "broker/kafka/data_int.h"

#include "error.h"

#include <stdlib.h>

#define KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED 53

int sl__kafka_h_list_offsets(sl_kafka_t *k, sl_kconn_t *conn,
                             const sl_kreq_t *req, sl_kreader_t *body,
                             sl_kreply_t *reply) {
    (void)conn;
    sl_kdata_t *d = sl__kafka_data(k);
    if (d == NULL)
        return SL_ENOMEM;
    d->st.list_offsets++;
    sl__kafka_r_i32(body); /* replica_id */
    if (req->version >= 2)
        sl__kafka_r_i8(body); /* isolation_level */
    sl_buf_t *b = sl__kafka_reply_buf(reply);
    if (req->version >= 2)
        sl__kafka_w_i32(b, 0); /* throttle_time_ms */
    size_t min_part = req->version == 0 ? 16 : 12;
    int32_t nt = sl__kafka_r_array(body, 6);
    sl__kafka_w_i32(b, nt < 0 ? 0 : nt);
    for (int32_t t = 0; t < nt && !body->err; t++) {
        const char *name;
        int16_t nlen;
        sl__kafka_r_str(body, &name, &nlen);
        if (nlen < 0)
            nlen = 0;
        int32_t np = sl__kafka_r_array(body, min_part);
        sl__kafka_w_str(b, name, nlen);
        sl__kafka_w_i32(b, np < 0 ? 0 : np);
        for (int32_t i = 0; i < np && !body->err; i++) {
            int32_t index = sl__kafka_r_i32(body);
            int64_t ts = sl__kafka_r_i64(body);
            if (req->version == 0)
                sl__kafka_r_i32(body); /* max_num_offsets: one is given */
            sl_part_t *part;
            int16_t code = SL_KERR_NONE;
            int64_t off = -1;
            int err = sl__kafka_read_part(k, name, (size_t)nlen, index, &part);
            if (err != 0) {
                code = SL_KERR_UNKNOWN_TOPIC_OR_PARTITION;
            } else if (part == NULL) {
                off = ts == -1 || ts == -2 ? 0 : -1; /* Nothing stored yet. */
            } else {
                uint64_t earliest, latest, o;
                err = sl_store_bounds(k->store, part, &earliest, &latest);
                if (err == 0 && ts == -1)
                    off = (int64_t)latest;
                else if (err == 0 && ts == -2)
                    off = (int64_t)earliest;
                else if (err == 0 && ts >= 0) {
                    err = sl_store_offset_for_ts(k->store, part, ts, &o);
                    off = err == 0 && o < latest ? (int64_t)o : -1;
                } else if (err == 0) {
                    code = SL_KERR_INVALID_REQUEST;
                }
                if (err != 0)
                    code = SL_KERR_KAFKA_STORAGE_ERROR;
            }
            sl__kafka_w_i32(b, index);
            sl__kafka_w_i16(b, code);
            if (req->version == 0) {
                int ok = code == SL_KERR_NONE && off >= 0;
                sl__kafka_w_i32(b, ok ? 1 : 0);
                if (ok)
                    sl__kafka_w_i64(b, off);
            } else {
                sl__kafka_w_i64(b, -1);
                sl__kafka_w_i64(b, code == SL_KERR_NONE ? off : -1);
            }
        }
    }
    if (body->err)
        return body->err;
    sl__kafka_reply_done(reply);
    return 0;
}

/* ---- InitProducerId --------------------------------------------------- */

typedef struct {
    sl_kack_t kack;
    sl_kreply_t *reply; /* NULL once cancelled. */
} pid_wait_t;

static void pid_cancel(void *arg) {
    pid_wait_t *w = arg;
    w->reply = NULL; /* Freed when the ack comes. */
}

static void pid_ack(sl_kafka_t *k, sl_kack_t *self, const sl_ack_t *ack) {
    (void)k;
    pid_wait_t *w = (pid_wait_t *)self;
    if (w->reply != NULL) {
        sl_buf_t *b = sl__kafka_reply_buf(w->reply);
        sl__kafka_w_i32(b, 0);
        if (ack->extra == SL_ACK_NOSPACE) {
            /* The id's mark was not stored: the client asks again. */
            sl__kafka_w_i16(b, SL_KERR_COORDINATOR_NOT_AVAILABLE);
            sl__kafka_w_i64(b, -1);
            sl__kafka_w_i16(b, -1);
        } else {
            sl__kafka_w_i16(b, SL_KERR_NONE);
            sl__kafka_w_i64(b, (int64_t)ack->value);
            sl__kafka_w_i16(b, 0);
        }
        sl__kafka_reply_done(w->reply);
    }
    free(w);
}

int sl__kafka_h_init_producer_id(sl_kafka_t *k, sl_kconn_t *conn,
                                 const sl_kreq_t *req, sl_kreader_t *body,
                                 sl_kreply_t *reply) {
    (void)conn;
    (void)req;
    sl_kdata_t *d = sl__kafka_data(k);
    if (d == NULL)
        return SL_ENOMEM;
    const char *txn;
    int16_t txn_len;
    sl__kafka_r_str(body, &txn, &txn_len);
    sl__kafka_r_i32(body); /* transaction_timeout_ms */
    if (body->err)
        return body->err;
    sl_buf_t *b = sl__kafka_reply_buf(reply);
    if (txn_len >= 0) {
        sl__kafka_w_i32(b, 0);
        sl__kafka_w_i16(b, KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
        sl__kafka_w_i64(b, -1);
        sl__kafka_w_i16(b, -1);
        sl__kafka_reply_done(reply);
        return 0;
    }
    pid_wait_t *w = calloc(1, sizeof *w);
    if (w == NULL)
        return SL_ENOMEM;
    w->kack.cb = pid_ack;
    w->reply = reply;
    sl_ack_t ack = {&w->kack, 0, 0, SL_KAFKA_ACK, 0};
    int64_t pid;
    int err = sl_store_new_producer_id(k->store, &ack, &pid);
    if (err != 0) {
        free(w);
        sl__kafka_w_i32(b, 0);
        sl__kafka_w_i16(b, SL_KERR_COORDINATOR_NOT_AVAILABLE);
        sl__kafka_w_i64(b, -1);
        sl__kafka_w_i16(b, -1);
        sl__kafka_reply_done(reply);
        return 0;
    }
    d->st.producer_ids++;
    sl__kafka_reply_on_cancel(reply, pid_cancel, w);
    return 0;
}

/* ---- lifetime and counters ------------------------------------------------
 */

void sl__kafka_data_stop(sl_kafka_t *k) {
    if (k->data != NULL)
        sl__kafka_fetch_stop(k, k->data);
}

void sl__kafka_data_free(sl_kafka_t *k) {
    sl_kdata_t *d = k->data;
    if (d == NULL)
        return;
    sl_buf_free(&d->scratch);
    free(d);
    k->data = NULL;
}

void sl__kafka_data_stats(sl_kafka_t *k, sl_buf_t *out) {
    sl_kdata_t *d = k->data;
    sl_kdata_stats_t z = {0};
    const sl_kdata_stats_t *s = d ? &d->st : &z;
#define STAT(name)                                                             \
    sl_buf_printf(out, "STAT kafka_" #name " %llu\r\n",                        \
                  (unsigned long long)s->name)
    STAT(produce_requests);
    STAT(produce_batches);
    STAT(produce_records);
    STAT(produce_dups);
    STAT(produce_refused);
    STAT(produce_corrupt);
    STAT(produce_out_of_order);
    STAT(produce_fenced);
    STAT(fetch_requests);
    STAT(fetch_parked);
    STAT(fetch_batches);
    STAT(fetch_bytes);
    STAT(fetch_out_of_range);
    STAT(list_offsets);
    STAT(producer_ids);
#undef STAT
}
