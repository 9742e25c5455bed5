/* The publisher; see publish.h for the exactly-once scheme. */
#include "publish.h"

#include "backoff.h"
#include "clock.h"
#include "error.h"
#include "json.h"
#include "jsonread.h"
#include "log.h"
#include "strmap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum {
    ENT_BATCH = 1,      /* Messages for one partition. */
    ENT_BOUNDARY = 2,   /* A transaction ended here; no request. */
    ENT_CHECKPOINT = 3, /* A checkpoint put. */
    ENT_INTERNAL = 4,   /* A record for a partition of the internal topic. */
} ent_kind_t;

/* One entry of the in-flight queue, in send order. A batch's messages are
 * stored back to back in data; lens[] gives their sizes. */
typedef struct {
    ent_kind_t kind;
    int sent;
    char *part;
    sl_buf_t data;
    size_t *lens;
    size_t n, cap;
    uint64_t first_seq;
    /* The messages' own record keys (sl_publish_keyed()) back to back;
     * klens[i] 0: none. NULL until a message of the batch has one. */
    sl_buf_t keys;
    size_t *klens;
    int local_dup; /* Already stored (read from the tail): not sent, no
                      ack comes for it. */
    sl_checkpoint_t cp;
} ent_t;

struct sl_publish_s {
    sl_stream_t *st; /* The log (lib/stream.h). */
    /* Without SL_STREAM_CAP_DEDUP (Kafka): per data partition, the highest
     * capture sequence it holds, read from its tail before this session's
     * first batch to it (tail_t values; emptied by every reconnect). */
    int dedup;
    sl_strmap_t tails;
    /* With SL_STREAM_CAP_KEYS: records carry the keys the decoder gives
     * (sl_publish_keyed(): Debezium's). With SL_STREAM_CAP_HEADERS (Kafka)
     * also the source header and, for events without a key of their own,
     * the key row_keys() derives from the event (the sluice format's
     * "[7]"): one JSON tokenization per event, which the text protocol's
     * capture does not pay (its events have no derived key). */
    int keyed, headers;
    sl_buf_t keybuf;
    sl_buf_t srcbuf; /* The records' "FILE:POS" headers (row_keys()). */
    sl_jr_doc_t jdoc;
    char *topic;
    char *cp_part;
    int64_t producer;
    size_t max_inflight, max_batch, max_batch_bytes;
    volatile int *stop;

    ent_t *q; /* Ring of entries. */
    size_t qhead, qlen, qcap;
    size_t inflight_bytes;
    /* Data buffers of entries already acknowledged, emptied, for the next
     * batches: a batch then fills memory that is allocated and touched
     * already instead of growing a fresh buffer by copies and page faults
     * (half of capture's time during a snapshot, whose batches are full). */
    sl_buf_t spare[8];
    size_t nspare;

    uint64_t next_seq;
    int have_safe; /* A checkpoint is safe to write. */
    sl_checkpoint_t safe;
    int safe_written; /* The safe one was already put. */
    int have_written;
    sl_checkpoint_t written; /* The last checkpoint stored in the broker. */
    sl_buf_t cp_snap; /* The snapshot cursor of the checkpoint read at open. */
    uint64_t last_cp_ns;

    sl_publish_stats_t stats;
    char err[512];
};

static ent_t *qat(sl_publish_t *pub, size_t i) {
    return &pub->q[(pub->qhead + i) % pub->qcap];
}

static int qpush(sl_publish_t *pub, ent_kind_t kind, ent_t **out) {
    if (pub->qlen == pub->qcap) {
        size_t cap = pub->qcap ? pub->qcap * 2 : 64;
        ent_t *q = calloc(cap, sizeof *q);
        if (q == NULL)
            return SL_ENOMEM;
        for (size_t i = 0; i < pub->qlen; i++)
            q[i] = *qat(pub, i);
        free(pub->q);
        pub->q = q;
        pub->qhead = 0;
        pub->qcap = cap;
    }
    ent_t *ent = qat(pub, pub->qlen++);
    memset(ent, 0, sizeof *ent);
    ent->kind = kind;
    *out = ent;
    return 0;
}

static void ent_free(ent_t *ent) {
    free(ent->part);
    sl_buf_free(&ent->data);
    free(ent->lens);
    sl_buf_free(&ent->keys);
    free(ent->klens);
    memset(ent, 0, sizeof *ent);
}

/* Keeps buf's memory for a later batch (buf is left empty), unless enough
 * is kept or it is much larger than a batch (a huge message's). */
static void spare_put(sl_publish_t *pub, sl_buf_t *buf) {
    if (buf->data == NULL ||
        pub->nspare == sizeof pub->spare / sizeof pub->spare[0] ||
        buf->cap > 2 * pub->max_batch_bytes)
        return;
    sl_buf_reset(buf);
    pub->spare[pub->nspare++] = *buf;
    sl_buf_init(buf);
}

static void qpop(sl_publish_t *pub) {
    ent_t *ent = qat(pub, 0);
    pub->inflight_bytes -= ent->data.len;
    spare_put(pub, &ent->data);
    ent_free(ent);
    pub->qhead = (pub->qhead + 1) % pub->qcap;
    pub->qlen--;
}

int sl_checkpoint_encode(const sl_checkpoint_t *cp, sl_buf_t *out) {
    sl_json_t json;
    sl_json_init(&json, out);
    sl_json_obj_begin(&json);
    sl_json_key(&json, "file");
    sl_json_str(&json, cp->file);
    sl_json_key(&json, "pos");
    sl_json_uint(&json, cp->pos);
    sl_json_key(&json, "gtid");
    sl_json_str(&json, cp->gtid);
    sl_json_key(&json, "seq");
    sl_json_uint(&json, cp->next_seq);
    sl_json_key(&json, "ts");
    sl_json_int(&json, cp->ts);
    if (cp->snap != NULL) {
        sl_json_key(&json, "snap");
        sl_json_raw(&json, cp->snap, strlen(cp->snap));
    }
    sl_json_obj_end(&json);
    return sl_json_error(&json);
}

int sl_checkpoint_decode(const uint8_t *data, size_t len, sl_checkpoint_t *cp) {
    return sl_checkpoint_decode_snap(data, len, cp, NULL);
}

int sl_checkpoint_decode_snap(const uint8_t *data, size_t len,
                              sl_checkpoint_t *cp, sl_buf_t *snap) {
    sl_jr_doc_t doc;
    sl_jr_init(&doc);
    memset(cp, 0, sizeof *cp);
    int err = sl_jr_parse(&doc, (const char *)data, len);
    if (err == 0 && sl_jr_type(&doc, 0) != SL_JR_OBJECT)
        err = SL_ECORRUPT;
    if (err == 0)
        err = sl_jr_copy_str(&doc, sl_jr_get(&doc, 0, "file"), cp->file,
                             sizeof cp->file);
    if (err == 0)
        err = sl_jr_copy_str(&doc, sl_jr_get(&doc, 0, "gtid"), cp->gtid,
                             sizeof cp->gtid);
    if (err == 0)
        err = sl_jr_u64(&doc, sl_jr_get(&doc, 0, "pos"), &cp->pos);
    if (err == 0)
        err = sl_jr_u64(&doc, sl_jr_get(&doc, 0, "seq"), &cp->next_seq);
    if (err == 0)
        err = sl_jr_i64(&doc, sl_jr_get(&doc, 0, "ts"), &cp->ts);
    uint32_t sn = err == 0 ? sl_jr_get(&doc, 0, "snap") : SL_JR_NONE;
    if (snap != NULL && sn != SL_JR_NONE) {
        size_t slen;
        const char *raw = sl_jr_raw(&doc, sn, &slen);
        sl_buf_reset(snap);
        const char *text = NULL;
        if (sl_jr_type(&doc, sn) != SL_JR_OBJECT ||
            sl_buf_append(snap, raw, slen) != 0 ||
            sl_buf_cstr(snap, &text) != 0)
            err = SL_ECORRUPT;
        cp->snap = text;
    }
    sl_jr_free(&doc);
    return err == 0 ? 0 : SL_ECORRUPT;
}

/* Broker failures that pass: a broken connection, a malformed reply (the
 * client closed the connection; the unacknowledged puts are sent again
 * and the broker drops what it already holds), an overloaded broker and a
 * full disk (507: puts resume when space returns). They are retried for
 * ever; nothing is skipped. */
static int transient(int err) {
    return err == SL_ECLOSED || err == SL_ETIMEDOUT || err == SL_ECONN ||
           err == SL_EIO || err == SL_EAGAIN || err == SL_EPROTO ||
           err == SL_ENOSPC;
}

/* The pause before the broker is tried again: 200 ms for the first ten
 * tries, then 1 s. */
static void broker_backoff_init(sl_backoff_t *bo) {
    sl_backoff_init_exact(bo, 200, 1000, 10, 5);
}

/* Notes event i's source coordinates "FILE:POS" (its "src" object) in
 * pub->srcbuf, from the event just parsed into pub->jdoc. */
static void event_src(sl_publish_t *pub, size_t *at, sl_stream_msg_t *src) {
    *at = pub->srcbuf.len;
    src->len = 0;
    uint32_t o = sl_jr_get(&pub->jdoc, 0, "src");
    uint32_t f =
        o != SL_JR_NONE ? sl_jr_get(&pub->jdoc, o, "file") : SL_JR_NONE;
    uint32_t p = o != SL_JR_NONE ? sl_jr_get(&pub->jdoc, o, "pos") : SL_JR_NONE;
    if (f == SL_JR_NONE || p == SL_JR_NONE ||
        sl_jr_type(&pub->jdoc, f) != SL_JR_STRING)
        return;
    size_t fl, pl;
    const char *ft = sl_jr_raw(&pub->jdoc, f, &fl);
    const char *pt = sl_jr_raw(&pub->jdoc, p, &pl);
    sl_buf_append(&pub->srcbuf, ft, fl);
    sl_buf_append(&pub->srcbuf, ":", 1);
    sl_buf_append(&pub->srcbuf, pt, pl);
    src->len = pub->srcbuf.len - *at;
}

/* The record keys and source headers of a batch, on a transport with keys
 * and headers (Kafka): for a row event, its primary key's values as a
 * JSON array of their text in the event, in key order ("[7]",
 * "[\"eu\",42]"), taken from "after" (from "before" for a delete); so
 * compacted topics and key-based consumers see one key per row. Other
 * events, and rows of tables without a key, get none. srcs[i]: the
 * event's "FILE:POS" (event_src()), for every event that has one. keys[i]
 * and srcs[i] point into pub->keybuf and pub->srcbuf until the next call. */
static int row_keys(sl_publish_t *pub, const sl_stream_msg_t *msgs, size_t n,
                    sl_stream_msg_t *keys, sl_stream_msg_t *srcs) {
    sl_buf_reset(&pub->keybuf);
    sl_buf_reset(&pub->srcbuf);
    size_t *at = malloc((n ? n : 1) * 2 * sizeof *at);
    if (at == NULL)
        return SL_ENOMEM;
    size_t *sat = at + (n ? n : 1);
    for (size_t i = 0; i < n; i++) {
        at[i] = pub->keybuf.len;
        sat[i] = pub->srcbuf.len;
        keys[i].len = 0;
        srcs[i].len = 0;
        const char *text = msgs[i].data;
        static const char row_ev[] = "{\"kind\":\"row\"";
        int row_event = msgs[i].len >= sizeof row_ev &&
                        memcmp(text, row_ev, sizeof row_ev - 1) == 0;
        if (sl_jr_parse(&pub->jdoc, text, msgs[i].len) != 0)
            continue;
        event_src(pub, &sat[i], &srcs[i]);
        if (!row_event)
            continue;
        uint32_t pk = sl_jr_get(&pub->jdoc, 0, "pk");
        uint32_t row = sl_jr_get(&pub->jdoc, 0, "after");
        if (row == SL_JR_NONE || sl_jr_type(&pub->jdoc, row) != SL_JR_OBJECT)
            row = sl_jr_get(&pub->jdoc, 0, "before");
        if (pk == SL_JR_NONE || sl_jr_type(&pub->jdoc, pk) != SL_JR_ARRAY ||
            row == SL_JR_NONE || sl_jr_type(&pub->jdoc, row) != SL_JR_OBJECT)
            continue;
        sl_buf_append(&pub->keybuf, "[", 1);
        uint32_t it = 0, k, col;
        int first = 1;
        while (sl_jr_next(&pub->jdoc, pk, &it, &k, &col)) {
            size_t cl, vl;
            const char *cn = sl_jr_raw(&pub->jdoc, col, &cl);
            uint32_t v = sl_jr_getn(&pub->jdoc, row, cn, cl);
            if (v == SL_JR_NONE)
                continue;
            const char *vt = sl_jr_raw(&pub->jdoc, v, &vl);
            int str = sl_jr_type(&pub->jdoc, v) == SL_JR_STRING;
            if (!first)
                sl_buf_append(&pub->keybuf, ",", 1);
            first = 0;
            if (str)
                sl_buf_append(&pub->keybuf, "\"", 1);
            sl_buf_append(&pub->keybuf, vt, vl);
            if (str)
                sl_buf_append(&pub->keybuf, "\"", 1);
        }
        sl_buf_append(&pub->keybuf, "]", 1);
        keys[i].len = pub->keybuf.len - at[i];
    }
    /* The buffers are complete: the pointers are taken only now. */
    for (size_t i = 0; i < n; i++) {
        keys[i].data = keys[i].len ? pub->keybuf.data + at[i] : NULL;
        srcs[i].data = srcs[i].len ? pub->srcbuf.data + sat[i] : NULL;
    }
    free(at);
    return pub->keybuf.err != 0 ? pub->keybuf.err : pub->srcbuf.err;
}

/* Sets keys[0..n) to the keys given with messages skip.. of ent, where
 * one was given (sl_publish_keyed()). */
static void own_keys(const ent_t *ent, size_t skip, sl_stream_msg_t *keys,
                     size_t n) {
    size_t off = 0;
    for (size_t i = 0; i < skip + n; i++) {
        if (i >= skip && ent->klens[i] > 0) {
            keys[i - skip].data = ent->keys.data + off;
            keys[i - skip].len = ent->klens[i];
        }
        off += ent->klens[i];
    }
}

/* What a partition holds of this capture, as far as its tail says. */
typedef struct {
    int have;     /* A record with a sequence of this producer is there. */
    uint64_t seq; /* The highest such sequence. */
} tail_t;

static void tails_clear(sl_publish_t *pub) {
    for (size_t b = 0; b < pub->tails.nbuckets; b++)
        for (sl_strmap_node_t *n = pub->tails.buckets[b]; n; n = n->next)
            free(n->value);
    sl_strmap_free(&pub->tails);
    sl_strmap_init(&pub->tails);
}

/* Reads the highest capture sequence of this producer stored in data
 * partition part: windows below the end widening 16-fold, as
 * newest_record() does, each read forward; a record without the headers
 * (another writer) is passed over. Records carry sequences in increasing
 * order within a partition, so the last one found is the highest. */
static int read_tail(sl_publish_t *pub, const char *part, tail_t *t) {
    uint64_t earliest, latest;
    t->have = 0;
    int err = sl_stream_offsets(pub->st, pub->topic, part, &earliest, &latest);
    if (err == SL_ENOTFOUND)
        return 0;
    if (err != 0)
        return err;
    uint64_t hi = latest, span = 16;
    while (hi > earliest) {
        uint64_t lo = hi - earliest > span ? hi - span : earliest;
        uint64_t at = lo;
        while (at < hi) {
            sl_stream_fetch_t f;
            err = sl_stream_get(pub->st, pub->topic, part, at, 1u << 20, 0, &f);
            if (err == SL_EGONE && f.earliest > at) {
                at = f.earliest;
                continue;
            }
            if (err != 0)
                return err;
            if (f.count == 0)
                break;
            for (size_t i = 0; i < f.count && f.recs[i].offset < hi; i++) {
                int64_t producer;
                uint64_t seq;
                if (sl_stream_rec_seq(pub->st, &f, i, &producer, &seq) == 0 &&
                    producer == pub->producer) {
                    t->have = 1;
                    t->seq = seq;
                }
            }
            at = f.next;
        }
        if (t->have)
            break;
        hi = lo;
        span = span > UINT64_MAX / 16 ? UINT64_MAX : span * 16;
    }
    if (t->have)
        sl_log_info("partition tail read", "part=%s seq=%llu", part,
                    (unsigned long long)t->seq);
    return 0;
}

/* The tail of part, read once per session. */
static int tail_of(sl_publish_t *pub, const char *part, const tail_t **out) {
    tail_t *t = sl_strmap_get(&pub->tails, part, strlen(part));
    if (t == NULL) {
        if ((t = calloc(1, sizeof *t)) == NULL)
            return SL_ENOMEM;
        int err = read_tail(pub, part, t);
        if (err == 0)
            err = sl_strmap_put(&pub->tails, part, strlen(part), t);
        if (err != 0) {
            free(t);
            return err;
        }
    }
    *out = t;
    return 0;
}

/* Sends one entry's request (batches and checkpoint puts). */
static int send_entry(sl_publish_t *pub, ent_t *ent) {
    sl_stream_msg_t stack[64];
    sl_stream_msg_t *msgs = stack;
    if (ent->kind == ENT_CHECKPOINT || ent->kind == ENT_INTERNAL) {
        sl_stream_msg_t msg = {ent->data.data, ent->data.len};
        sl_stream_batch_t b = {
            .topic = SL_PUBLISH_INTERNAL_TOPIC,
            .part = ent->kind == ENT_INTERNAL ? ent->part : pub->cp_part,
            .msgs = &msg,
            .n = 1,
            .producer = -1,
        };
        int err = sl_stream_send(pub->st, &b, NULL);
        ent->sent = err == 0;
        return err;
    }
    if (ent->n == 0) {
        ent->sent = 1; /* Nothing to say; no ack will come for it. */
        return 0;
    }
    /* Messages the partition already holds (read from its tail) are not
     * sent again: a batch wholly there is acknowledged here, one that
     * straddles the tail is sent from its first message above it. */
    size_t skip = 0;
    ent->local_dup = 0;
    if (pub->dedup) {
        const tail_t *t;
        int err = tail_of(pub, ent->part, &t);
        if (err != 0)
            return err;
        if (t->have && t->seq >= ent->first_seq)
            sl_log_info("already stored; not sent again",
                        "part=%s first_seq=%llu n=%zu stored_up_to=%llu",
                        ent->part, (unsigned long long)ent->first_seq, ent->n,
                        (unsigned long long)t->seq);
        if (t->have && t->seq >= ent->first_seq + ent->n - 1) {
            ent->sent = 1;
            ent->local_dup = 1;
            return 0;
        }
        if (t->have && t->seq >= ent->first_seq)
            skip = (size_t)(t->seq - ent->first_seq + 1);
    }
    if (ent->n > 64 && (msgs = malloc(ent->n * sizeof *msgs)) == NULL)
        return SL_ENOMEM;
    size_t off = 0;
    for (size_t i = 0; i < ent->n; i++) {
        msgs[i].data = ent->data.data + off;
        msgs[i].len = ent->lens[i];
        off += ent->lens[i];
    }
    sl_stream_batch_t b = {
        .topic = pub->topic,
        .part = ent->part,
        .msgs = msgs + skip,
        .n = ent->n - skip,
        .producer = pub->producer,
        .seq = ent->first_seq + skip,
    };
    sl_stream_msg_t *keys = NULL;
    int err = 0;
    /* Keys (and headers) where the transport keeps them: derived from the
     * events with headers only, the decoder's own on either. */
    if (pub->keyed && (pub->headers || ent->klens != NULL) &&
        (keys = calloc(b.n ? b.n * 2 : 1, sizeof *keys)) != NULL &&
        (!pub->headers ||
         (err = row_keys(pub, b.msgs, b.n, keys, keys + b.n)) == 0)) {
        b.keys = keys;
        b.srcs = pub->headers ? keys + b.n : NULL;
        if (ent->klens != NULL) /* The decoder's keys take precedence. */
            own_keys(ent, skip, keys, b.n);
    }
    if (err == 0)
        err = sl_stream_send(pub->st, &b, NULL);
    free(keys);
    if (msgs != stack)
        free(msgs);
    ent->sent = err == 0;
    return err;
}

/* After a broken connection: reconnect (for ever, while not stopped) and
 * send again, in order, every request that was not acknowledged. */
static int recover(sl_publish_t *pub) {
    sl_backoff_t bo;
    broker_backoff_init(&bo);
    for (;;) {
        if (pub->stop != NULL && *pub->stop && bo.attempts > 0) {
            snprintf(pub->err, sizeof pub->err,
                     "stopped while the broker was unreachable");
            return SL_ESTOPPED;
        }
        int err = sl_stream_reconnect(pub->st);
        if (pub->dedup)
            tails_clear(pub); /* A new session reads the tails again. */
        if (err == 0) {
            pub->stats.reconnects++;
            for (size_t i = 0; i < pub->qlen && err == 0; i++) {
                ent_t *ent = qat(pub, i);
                if (ent->sent)
                    err = send_entry(pub, ent);
            }
            if (err == 0)
                err = sl_stream_flush(pub->st);
            if (err == 0)
                return 0;
        }
        if (!transient(err))
            return err;
        if (bo.attempts % 10 == 0)
            sl_log_warn("broker unreachable; capture paused, retrying",
                        "error=\"%s\" unacked_bytes=%zu",
                        sl_stream_error(pub->st), pub->inflight_bytes);
        sl_backoff_sleep(&bo, NULL);
    }
}

/* Pops the boundaries at the head: every request before them is
 * acknowledged, so their checkpoints are safe to write. */
static void pop_boundaries(sl_publish_t *pub) {
    while (pub->qlen > 0 && qat(pub, 0)->kind == ENT_BOUNDARY) {
        pub->safe = qat(pub, 0)->cp;
        pub->have_safe = 1;
        pub->safe_written = 0;
        qpop(pub);
    }
}

/* A request the log refused for good (a topic too small, a refusal of
 * this client): the reason goes into pub->err and the log at once, since
 * the caller may be deep in the decoder, whose own message is generic. */
static int send_failed(sl_publish_t *pub, const ent_t *ent, int err) {
    if (err == SL_ESTOPPED || pub->err[0] != '\0')
        return err;
    snprintf(pub->err, sizeof pub->err,
             "cannot publish to %s (%s): %s; capture stops rather than skip "
             "it",
             ent->kind == ENT_BATCH ? ent->part : pub->cp_part,
             sl_strerror(err), sl_stream_error(pub->st));
    sl_log_error("capture cannot publish", "error=\"%s\"", pub->err);
    return err;
}

/* Sends one entry, through a reconnect when the session broke. */
static int send_or_recover(sl_publish_t *pub, ent_t *ent) {
    int err = send_entry(pub, ent);
    if (err != 0 && (!transient(err) || (err = recover(pub)) != 0))
        return send_failed(pub, ent, err);
    return 0;
}

/* Sends every request not sent yet (the open batch included). */
static int send_unsent(sl_publish_t *pub) {
    for (size_t i = 0; i < pub->qlen; i++) {
        ent_t *ent = qat(pub, i);
        if (ent->sent || ent->kind == ENT_BOUNDARY)
            continue;
        int err = send_or_recover(pub, ent);
        if (err != 0)
            return err;
    }
    return 0;
}

/* Takes the ack of the oldest request (which must have been sent). */
static int take_ack(sl_publish_t *pub) {
    pop_boundaries(pub);
    if (pub->qlen == 0)
        return 0;
    ent_t *ent = qat(pub, 0);
    if (ent->kind == ENT_BATCH && ent->n == 0) {
        qpop(pub);
        pop_boundaries(pub);
        return 0;
    }
    SL_ASSERT(ent->sent);
    if (ent->local_dup) {
        pub->stats.messages += ent->n;
        pub->stats.bytes += ent->data.len;
        pub->stats.duplicates += ent->n;
        qpop(pub);
        pop_boundaries(pub);
        return 0;
    }
    sl_stream_ack_t ack;
    int err;
    sl_backoff_t refused; /* 200 ms doubling to 5 s. */
    sl_backoff_init_exact(&refused, 200, 5000, 1, 2);
    int was_refused = 0; /* The last try got an error reply: not stored. */
    while ((err = sl_stream_ack(pub->st, &ack)) != 0 && transient(err)) {
        /* After a broken connection or a malformed ack the batch may be
         * stored; only an error reply says it is not. */
        was_refused = ack.code != 0 && ack.code != 200;
        if (err == SL_ENOSPC || err == SL_EAGAIN) {
            /* The broker is up but cannot store now: wait (200 ms doubling
             * to 5 s) before sending the unacknowledged puts again. */
            if (pub->stop != NULL && *pub->stop) {
                snprintf(pub->err, sizeof pub->err,
                         "stopped while the "
                         "broker refused puts (%s)",
                         sl_strerror(err));
                return SL_ESTOPPED;
            }
            if (refused.attempts % 10 == 0)
                sl_log_warn("broker cannot store now; capture paused, "
                            "retrying",
                            "error=\"%s\" unacked_bytes=%zu",
                            sl_stream_error(pub->st), pub->inflight_bytes);
            sl_backoff_sleep(&refused, NULL);
        }
        if ((err = recover(pub)) != 0)
            return err;
    }
    if (err != 0) {
        snprintf(pub->err, sizeof pub->err,
                 "the broker refused %s to %s (code %d: %s); capture stops "
                 "rather than skip it",
                 ent->kind == ENT_BATCH ? "a batch" : "a checkpoint",
                 ent->kind == ENT_BATCH ? ent->part : pub->cp_part, ack.code,
                 sl_stream_error(pub->st));
        return err;
    }
    if (was_refused && ack.dup && ent->kind == ENT_BATCH) {
        /* The broker refused this batch, yet now holds sequences at or
         * beyond it: it stored a later batch of the partition first. The
         * order is broken; stopping says so instead of losing the batch
         * as a "duplicate". */
        snprintf(pub->err, sizeof pub->err,
                 "the broker refused a batch to %s and then stored a later "
                 "one first (sequence %llu now counts as a duplicate); "
                 "capture stops rather than lose it",
                 ent->part, (unsigned long long)ent->first_seq);
        return SL_ECORRUPT;
    }
    if (ent->kind == ENT_BATCH) {
        pub->stats.messages += ent->n;
        pub->stats.bytes += ent->data.len;
        if (ack.dup)
            pub->stats.duplicates += ent->n;
    } else if (ent->kind == ENT_CHECKPOINT) {
        pub->stats.checkpoints++;
        pub->written = ent->cp;
        pub->have_written = 1;
    }
    qpop(pub);
    pop_boundaries(pub);
    return 0;
}

/* Waits for acks until at most target bytes are unacknowledged; with
 * target 0 it first sends everything queued and waits until all of it is
 * acknowledged. With target > 0 the open batch is left open: cutting it
 * here would make batch boundaries depend on when acks arrived, and a
 * replay must cut its batches exactly where the first run did. */
static int drain(sl_publish_t *pub, size_t target) {
    int err = target == 0 ? send_unsent(pub) : 0;
    if (err == 0)
        err = sl_stream_flush(pub->st);
    if (err != 0 && (!transient(err) || (err = recover(pub)) != 0))
        return err;
    for (;;) {
        pop_boundaries(pub);
        if (pub->qlen == 0 || !qat(pub, 0)->sent)
            return 0;
        if (target != 0 && pub->inflight_bytes <= target)
            return 0;
        if ((err = take_ack(pub)) != 0)
            return err;
    }
}

/* Takes the acks that have arrived, without waiting for any. */
static int take_ready_acks(sl_publish_t *pub) {
    for (;;) {
        pop_boundaries(pub);
        if (pub->qlen == 0 || !qat(pub, 0)->sent)
            return 0;
        const ent_t *ent = qat(pub, 0);
        if (!ent->local_dup && !(ent->kind == ENT_BATCH && ent->n == 0)) {
            int r = sl_stream_ack_ready(pub->st, 0);
            if (r == 0)
                return 0;
            if (r < 0)
                return transient(r) ? recover(pub) : r;
        }
        int err = take_ack(pub);
        if (err != 0)
            return err;
    }
}

int sl_publish_message(sl_publish_t *pub, const char *part, size_t part_len,
                       const void *data, size_t len) {
    return sl_publish_keyed(pub, part, part_len, data, len, NULL, 0);
}

int sl_publish_keyed(sl_publish_t *pub, const char *part, size_t part_len,
                     const void *data, size_t len, const void *key,
                     size_t key_len) {
    if (!pub->keyed) /* The transport has no keys: none is kept. */
        key_len = 0;
    ent_t *ent = pub->qlen ? qat(pub, pub->qlen - 1) : NULL;
    int err;
    if (ent == NULL || ent->kind != ENT_BATCH || ent->sent ||
        ent->n >= pub->max_batch ||
        ent->data.len + len > pub->max_batch_bytes ||
        strlen(ent->part) != part_len || memcmp(ent->part, part, part_len)) {
        if (ent != NULL && ent->kind == ENT_BATCH && !ent->sent) {
            if ((err = send_or_recover(pub, ent)) != 0)
                return err;
        }
        if ((err = qpush(pub, ENT_BATCH, &ent)) != 0)
            return err;
        ent->part = strndup(part, part_len);
        if (ent->part == NULL)
            return SL_ENOMEM;
        ent->first_seq = pub->next_seq;
        if (pub->nspare > 0)
            ent->data = pub->spare[--pub->nspare];
    }
    if (ent->n == ent->cap) {
        size_t cap = ent->cap ? ent->cap * 2 : 16;
        size_t *lens = realloc(ent->lens, cap * sizeof *lens);
        if (lens == NULL)
            return SL_ENOMEM;
        ent->lens = lens;
        size_t *klens = ent->klens;
        if (klens != NULL &&
            (klens = realloc(klens, cap * sizeof *klens)) == NULL)
            return SL_ENOMEM;
        ent->klens = klens;
        ent->cap = cap;
    }
    if (key_len > 0 && ent->klens == NULL &&
        (ent->klens = calloc(ent->cap, sizeof *ent->klens)) == NULL)
        return SL_ENOMEM;
    if (ent->klens != NULL) {
        ent->klens[ent->n] = key_len;
        if (key_len > 0 && (err = sl_buf_append(&ent->keys, key, key_len)) != 0)
            return err;
    }
    if ((err = sl_buf_append(&ent->data, data, len)) != 0)
        return err;
    ent->lens[ent->n++] = len;
    pub->inflight_bytes += len;
    pub->next_seq++;
    if (pub->inflight_bytes > pub->max_inflight)
        return drain(pub, pub->max_inflight / 2);
    return 0;
}

int sl_publish_internal(sl_publish_t *pub, const char *part, const void *data,
                        size_t len) {
    ent_t *ent;
    int err = qpush(pub, ENT_INTERNAL, &ent);
    if (err != 0)
        return err;
    if ((ent->part = strdup(part)) == NULL ||
        (err = sl_buf_append(&ent->data, data, len)) != 0)
        return err ? err : SL_ENOMEM;
    pub->inflight_bytes += len;
    return 0;
}

/* Before a read is tried again after err: 0 to retry (after a pause), or
 * err when capture is stopping or it is not a passing broker failure (a
 * broken connection, a malformed reply, an overloaded broker; an error
 * reading stored data is not retried: it would not pass). The client
 * reconnects by itself on the next call. */
static int read_retry(sl_publish_t *pub, int err, sl_backoff_t *bo) {
    if ((err != SL_ECLOSED && err != SL_ETIMEDOUT && err != SL_ECONN &&
         err != SL_EPROTO && err != SL_EAGAIN) ||
        (pub->stop != NULL && *pub->stop))
        return err;
    if (bo->attempts % 10 == 0)
        sl_log_warn("broker read failed; retrying", "error=\"%s\"",
                    sl_stream_error(pub->st));
    sl_backoff_sleep(bo, NULL);
    return 0;
}

int sl_publish_read_internal(sl_publish_t *pub, const char *part,
                             int (*cb)(void *ctx, const uint8_t *data,
                                       size_t len),
                             void *ctx) {
    uint64_t earliest, latest;
    sl_backoff_t bo;
    broker_backoff_init(&bo);
    int err;
    while ((err = sl_stream_offsets(pub->st, SL_PUBLISH_INTERNAL_TOPIC, part,
                                    &earliest, &latest)) != 0 &&
           err != SL_ENOTFOUND && read_retry(pub, err, &bo) == 0)
        ;
    if (err == SL_ENOTFOUND)
        return 0;
    if (err != 0)
        return err;
    uint64_t offset = earliest;
    while (offset < latest) {
        sl_stream_fetch_t fetch;
        err = sl_stream_get(pub->st, SL_PUBLISH_INTERNAL_TOPIC, part, offset,
                            16u << 20, 0, &fetch);
        if (err != 0 && read_retry(pub, err, &bo) == 0)
            continue; /* From the same offset: nothing was handed out. */
        if (err != 0)
            return err;
        if (fetch.count == 0)
            break;
        for (size_t i = 0; i < fetch.count; i++)
            if ((err = cb(ctx, fetch.recs[i].data, fetch.recs[i].len)) != 0)
                return err;
        offset = fetch.next;
    }
    return 0;
}

int sl_publish_cut(sl_publish_t *pub) {
    if (pub->qlen == 0)
        return 0;
    ent_t *ent = qat(pub, pub->qlen - 1);
    if (ent->kind != ENT_BATCH || ent->sent)
        return 0;
    return send_or_recover(pub, ent);
}

int sl_publish_boundary(sl_publish_t *pub, const sl_checkpoint_t *cp) {
    ent_t *ent;
    int err = qpush(pub, ENT_BOUNDARY, &ent);
    if (err != 0)
        return err;
    ent->cp = *cp;
    ent->cp.next_seq = pub->next_seq;
    ent->sent = 0;
    return 0;
}

int sl_publish_sync(sl_publish_t *pub, int force, uint64_t checkpoint_ms) {
    /* Send the open batch: a transaction boundary or a pause is the
     * natural moment, and it bounds latency. */
    int err = send_unsent(pub);
    if (err == 0)
        err = sl_stream_flush(pub->st);
    if (err != 0 && (!transient(err) || (err = recover(pub)) != 0))
        return err;
    uint64_t now = sl_mono_ns();
    int due = force || now - pub->last_cp_ns >= checkpoint_ms * 1000000ull;
    if (!due)
        return 0;
    /* A forced sync (heartbeat, stop) waits until everything is stored and
     * checkpoints the newest boundary. A timed one overlaps: it takes the
     * acks that came, checkpoints the newest boundary whose requests are
     * all acknowledged (pub->safe, as ever), and goes on without waiting
     * for the checkpoint's own ack (pub->written moves when it comes). The
     * checkpoint still follows everything it covers being stored, so a
     * restart from it loses nothing; it may be older than the newest
     * boundary, which only means more is found stored in the tails (or
     * dropped as duplicates by sluice-broker) after a crash. */
    err = force ? drain(pub, 0) : take_ready_acks(pub);
    if (err != 0)
        return err;
    if (!pub->have_safe || pub->safe_written)
        return 0;
    ent_t *ent;
    if ((err = qpush(pub, ENT_CHECKPOINT, &ent)) != 0)
        return err;
    ent->cp = pub->safe;
    if ((err = sl_checkpoint_encode(&pub->safe, &ent->data)) != 0)
        return err;
    pub->inflight_bytes += ent->data.len;
    if ((err = send_or_recover(pub, ent)) != 0)
        return err;
    if (force && (err = drain(pub, 0)) != 0)
        return err;
    pub->safe_written = 1;
    pub->last_cp_ns = now;
    return 0;
}

/* Finds the newest record of the internal partition part below latest
 * and copies it into out (*offset: its offset; *found 0 when the
 * partition holds none). Offsets need not be contiguous: recovery may have
 * skipped a partition's next offset ahead to its high-water mark (a hole
 * of up to a few thousand offsets that holds nothing; docs/broker.md,
 * "Checkpoints and crash recovery"), so latest - 1 may hold no record.
 * Windows below latest widen 16-fold (16, 256, 4096, 65536, ... offsets)
 * down to earliest; each is read forward, keeping its last record (reads
 * pass over holes), so the usual case costs one small get and a hole
 * costs a few. The record is copied: fetched data points into the
 * client's buffer, which the next get reuses. Damaged records (422) are
 * not skipped: the error is returned (SL_EDAMAGED), since an older
 * checkpoint than the newest would publish changes again. */
static int newest_record(sl_publish_t *pub, const char *part, uint64_t earliest,
                         uint64_t latest, sl_buf_t *out, uint64_t *offset,
                         int *found) {
    *found = 0;
    uint64_t hi = latest, span = 16;
    while (hi > earliest) {
        uint64_t lo = hi - earliest > span ? hi - span : earliest;
        uint64_t at = lo;
        while (at < hi) {
            sl_stream_fetch_t fetch;
            int err = sl_stream_get(pub->st, SL_PUBLISH_INTERNAL_TOPIC, part,
                                    at, 1u << 20, 0, &fetch);
            if (err == SL_EGONE && fetch.earliest > at) {
                /* Retention moved the start meanwhile. */
                at = fetch.earliest;
                continue;
            }
            if (err != 0)
                return err;
            if (fetch.count == 0)
                break; /* Nothing more up to the end: a hole at the end. */
            for (size_t i = 0; i < fetch.count; i++) {
                if (fetch.recs[i].offset >= hi)
                    break;
                sl_buf_reset(out);
                if ((err = sl_buf_append(out, fetch.recs[i].data,
                                         fetch.recs[i].len)) != 0)
                    return err;
                *offset = fetch.recs[i].offset;
                *found = 1;
            }
            at = fetch.next;
        }
        if (*found)
            return 0;
        hi = lo;
        span = span > UINT64_MAX / 16 ? UINT64_MAX : span * 16;
    }
    return 0;
}

static int read_checkpoint(sl_publish_t *pub, sl_checkpoint_t *cp, int *found) {
    uint64_t earliest, latest;
    *found = 0;
    int err = sl_stream_offsets(pub->st, SL_PUBLISH_INTERNAL_TOPIC,
                                pub->cp_part, &earliest, &latest);
    if (err == SL_ENOTFOUND)
        return 0;
    if (err != 0)
        return err;
    if (latest == 0 || latest <= earliest)
        return 0;
    sl_buf_t rec = SL_BUF_INIT;
    uint64_t offset = 0;
    int have = 0;
    err = newest_record(pub, pub->cp_part, earliest, latest, &rec, &offset,
                        &have);
    if (err == SL_EDAMAGED)
        snprintf(pub->err, sizeof pub->err,
                 "checkpoint %s/%s: the newest checkpoint record is damaged "
                 "on the broker (%s); capture will not fall back to an "
                 "older one, which would publish changes again",
                 SL_PUBLISH_INTERNAL_TOPIC, pub->cp_part,
                 sl_stream_error(pub->st));
    if (err != 0) {
        sl_buf_free(&rec);
        return err;
    }
    if (!have) {
        /* Offsets were handed out (latest > earliest) yet no record is
         * there: every one of them is a hole. Nothing was checkpointed
         * that the broker still holds; refusing beats starting over from
         * the configured start position and publishing again. */
        snprintf(pub->err, sizeof pub->err,
                 "checkpoint %s/%s: offsets %llu-%llu hold no record; "
                 "no checkpoint could be read",
                 SL_PUBLISH_INTERNAL_TOPIC, pub->cp_part,
                 (unsigned long long)earliest,
                 (unsigned long long)(latest - 1));
        sl_buf_free(&rec);
        return SL_ECORRUPT;
    }
    if (sl_checkpoint_decode_snap(rec.data, rec.len, cp, &pub->cp_snap) != 0) {
        snprintf(pub->err, sizeof pub->err,
                 "checkpoint %s/%s offset %llu is not a checkpoint record",
                 SL_PUBLISH_INTERNAL_TOPIC, pub->cp_part,
                 (unsigned long long)offset);
        sl_buf_free(&rec);
        return SL_ECORRUPT;
    }
    sl_buf_free(&rec);
    *found = 1;
    return 0;
}

int sl_publish_open(sl_publish_t **out, const sl_publish_opts_t *opts,
                    volatile int *stop, sl_checkpoint_t *cp, int *found,
                    char *errbuf, size_t errlen) {
    *out = NULL;
    sl_publish_t *pub = calloc(1, sizeof *pub);
    if (pub == NULL)
        return SL_ENOMEM;
    pub->topic = strdup(opts->topic);
    pub->cp_part = strdup(opts->checkpoint_partition);
    pub->producer = opts->producer;
    pub->max_inflight = opts->max_inflight ? opts->max_inflight : 64u << 20;
    pub->max_batch = opts->max_batch ? opts->max_batch : 512;
    pub->max_batch_bytes =
        opts->max_batch_bytes ? opts->max_batch_bytes : 1u << 20;
    pub->stop = stop;
    pub->last_cp_ns = sl_mono_ns();
    if (pub->topic == NULL || pub->cp_part == NULL) {
        sl_publish_free(pub);
        return SL_ENOMEM;
    }
    sl_stream_opts_t sopts = {opts->secret,    5000,        30000,
                              10000,           opts->props, opts->nparts,
                              opts->broker_tls};
    sl_strmap_init(&pub->tails);
    sl_jr_init(&pub->jdoc);
    int err;
    sl_backoff_t bo;
    broker_backoff_init(&bo);
    for (;;) {
        err = sl_stream_open(opts->broker, &sopts, &pub->st);
        if (err == 0)
            pub->dedup = !(sl_stream_caps(pub->st) & SL_STREAM_CAP_DEDUP);
        if (err == 0)
            pub->keyed = !!(sl_stream_caps(pub->st) & SL_STREAM_CAP_KEYS);
        if (err == 0)
            pub->headers = !!(sl_stream_caps(pub->st) & SL_STREAM_CAP_HEADERS);
        if (err == 0)
            err = read_checkpoint(pub, cp, found);
        if (err == 0 || !transient(err) || (stop != NULL && *stop))
            break;
        if (pub->st != NULL) {
            sl_stream_close(pub->st);
            pub->st = NULL;
        }
        if (bo.attempts % 10 == 0)
            sl_log_warn("broker unreachable; waiting for it", "broker=%s",
                        opts->broker);
        sl_backoff_sleep(&bo, NULL);
    }
    if (err == 0 && *found) {
        pub->written = *cp;
        pub->have_written = 1;
    }
    if (err != 0) {
        snprintf(errbuf, errlen, "broker %s: %s", opts->broker,
                 pub->err[0]
                     ? pub->err
                     : (pub->st ? sl_stream_error(pub->st) : sl_strerror(err)));
        sl_publish_free(pub);
        return err;
    }
    *out = pub;
    return 0;
}

void sl_publish_free(sl_publish_t *pub) {
    if (pub == NULL)
        return;
    while (pub->qlen > 0)
        qpop(pub);
    while (pub->nspare > 0)
        sl_buf_free(&pub->spare[--pub->nspare]);
    free(pub->q);
    if (pub->st != NULL)
        sl_stream_close(pub->st);
    tails_clear(pub);
    sl_strmap_free(&pub->tails);
    sl_buf_free(&pub->keybuf);
    sl_buf_free(&pub->srcbuf);
    sl_jr_free(&pub->jdoc);
    free(pub->topic);
    free(pub->cp_part);
    sl_buf_free(&pub->cp_snap);
    free(pub);
}

int sl_publish_last_checkpoint(const sl_publish_t *pub, sl_checkpoint_t *cp) {
    if (!pub->have_written)
        return 0;
    *cp = pub->written;
    return 1;
}

void sl_publish_set_seq(sl_publish_t *pub, uint64_t next_seq) {
    pub->next_seq = next_seq;
}

uint64_t sl_publish_seq(const sl_publish_t *pub) { return pub->next_seq; }

void sl_publish_stats(const sl_publish_t *pub, sl_publish_stats_t *stats) {
    *stats = pub->stats;
    stats->inflight_bytes = pub->inflight_bytes;
}

const char *sl_publish_error(const sl_publish_t *pub) { return pub->err; }
