/*
 * Unit tests for the store side of the Kafka data path: Kafka batches
 * stored verbatim (record.c), their codecs (record_zip.c), Kafka's
 * idempotent producer state (catalog.c) and its survival across restarts
 * (recover.c, checkpoint.c), and producer ids (meta.c).
 */
#include "broker/store.h"
#include "broker/store_int.h"
#include "bytes.h"
#include "crc32c.h"
#include "error.h"
#include "kbatch.h"
#include "log.h"
#include "sl_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const int64_t TS = 1700000000000;

/* Checks that the records of entry e are batch b's. */
static void check_records(const sl_entry_t *e, const sl_test_kbatch_t *b,
                          uint64_t base) {
    sl_buf_t scratch = SL_BUF_INIT;
    sl_record_iter_t it;
    SL_CHECK_OK(sl_record_iter_open(&it, e, &scratch, SL_INFLATE_MAX));
    sl_record_t rec;
    for (uint32_t i = 0; i < b->n; i++) {
        SL_CHECK_INT(sl_record_next(&it, &rec), 1);
        char key[16], val[64];
        snprintf(key, sizeof key, "k%u", i);
        snprintf(val, sizeof val, "%s-%u", b->tag, i);
        SL_CHECK_UINT(rec.offset, base + i);
        SL_CHECK_INT(rec.ts, TS + 7 * (int64_t)i - 3 * (int64_t)(i % 2));
        SL_CHECK_MEM(rec.key, rec.key_len, key, strlen(key));
        SL_CHECK_MEM(rec.value, rec.value_len, val, strlen(val));
        SL_CHECK_UINT(rec.nheaders, 1);
        /* One header, encoded: varint 1 (key length), "h", ... */
        SL_CHECK(rec.headers_len >= 4);
        SL_CHECK_UINT(rec.headers[0], 2);
        SL_CHECK_UINT(rec.headers[1], 'h');
    }
    SL_CHECK_INT(sl_record_next(&it, &rec), 0);
    sl_buf_free(&scratch);
}

SL_TEST(broker_kafka_record_every_codec) {
    for (int codec = 0; codec <= 5; codec++) {
        sl_test_kbatch_t b = {7,          0,  0,    50, codec == 5 ? 2 : codec,
                              codec == 5, TS, "val"};
        sl_buf_t raw = SL_BUF_INIT, scratch = SL_BUF_INIT, ent = SL_BUF_INIT;
        sl_test_kbatch(&raw, &b);
        sl_entry_t e;
        SL_CHECK_OK(
            sl_record_kafka_check(raw.data, raw.len, &scratch, 1 << 20, &e));
        SL_CHECK_UINT(e.count, 50);
        SL_CHECK_INT(e.producer_id, 7);
        SL_CHECK_INT(e.base_seq, 0);
        SL_CHECK_UINT(e.attributes & SL_BATCH_ATTR_CODEC, (unsigned)b.codec);
        /* Stored: only base offset and leader epoch change. */
        SL_CHECK_OK(sl_record_encode_kafka(&ent, 3, 1000, raw.data, raw.len));
        SL_CHECK_UINT(ent.len, raw.len + SL_ENTRY_HDR);
        SL_CHECK(memcmp(ent.data + SL_ENTRY_HDR + 16, raw.data + 16,
                        raw.len - 16) == 0);
        uint32_t pid, elen;
        SL_CHECK_OK(sl_record_header(ent.data, ent.len, 1 << 20, &pid, &elen));
        SL_CHECK_UINT(elen, ent.len);
        SL_CHECK_OK(sl_record_verify(ent.data, ent.len, &e));
        SL_CHECK(e.kafka);
        SL_CHECK_UINT(e.base_offset, 1000);
        SL_CHECK_UINT(e.part_id, 3);
        check_records(&e, &b, 1000);
        /* A decompression bound below the size is refused, not obeyed. */
        if (codec != 0)
            SL_CHECK_INT(
                sl_record_kafka_check(raw.data, raw.len, &scratch, 100, &e),
                SL_ETOOBIG);
        sl_buf_free(&raw);
        sl_buf_free(&scratch);
        sl_buf_free(&ent);
    }
}

SL_TEST(broker_kafka_record_refusals) {
    sl_test_kbatch_t b = {-1, -1, -1, 3, 0, 0, TS, "v"};
    sl_buf_t raw = SL_BUF_INIT, scratch = SL_BUF_INIT;
    sl_test_kbatch(&raw, &b);
    sl_entry_t e;
    SL_CHECK_OK(
        sl_record_kafka_check(raw.data, raw.len, &scratch, 1 << 20, &e));
    SL_CHECK_INT(e.producer_id, -1);
    /* A flipped bit under the CRC. */
    raw.data[70] ^= 1;
    SL_CHECK_INT(
        sl_record_kafka_check(raw.data, raw.len, &scratch, 1 << 20, &e),
        SL_ECHECKSUM);
    raw.data[70] ^= 1;
    /* Truncated, and a length field that lies. */
    SL_CHECK_INT(
        sl_record_kafka_check(raw.data, raw.len - 1, &scratch, 1 << 20, &e),
        SL_ECORRUPT);
    SL_CHECK_INT(sl_record_kafka_check(raw.data, 20, &scratch, 1 << 20, &e),
                 SL_ECORRUPT);
    /* Transactional: refused (no transactions). */
    sl_put_u16be(raw.data + 21, SL_BATCH_ATTR_TRANSACTIONAL);
    sl_put_u32be(raw.data + 17, sl_crc32c(0, raw.data + 21, raw.len - 21));
    SL_CHECK_INT(
        sl_record_kafka_check(raw.data, raw.len, &scratch, 1 << 20, &e),
        SL_EPROTO);
    /* An unknown codec. */
    sl_put_u16be(raw.data + 21, 6);
    sl_put_u32be(raw.data + 17, sl_crc32c(0, raw.data + 21, raw.len - 21));
    SL_CHECK_INT(
        sl_record_kafka_check(raw.data, raw.len, &scratch, 1 << 20, &e),
        SL_EUNSUPPORTED);
    /* A record count that disagrees with the records. */
    sl_put_u16be(raw.data + 21, 0);
    sl_put_u32be(raw.data + 57, 2);
    sl_put_u32be(raw.data + 23, 1);
    sl_put_u32be(raw.data + 17, sl_crc32c(0, raw.data + 21, raw.len - 21));
    SL_CHECK_INT(
        sl_record_kafka_check(raw.data, raw.len, &scratch, 1 << 20, &e),
        SL_EINVAL);
    /* Garbage claiming gzip. */
    sl_buf_t g = SL_BUF_INIT;
    SL_CHECK_INT(sl_record_inflate(SL_CODEC_GZIP, (const uint8_t *)"nonsense",
                                   8, &g, 1 << 20),
                 SL_ECORRUPT);
    SL_CHECK_INT(sl_record_inflate(SL_CODEC_ZSTD, (const uint8_t *)"nonsense",
                                   8, &g, 1 << 20),
                 SL_ECORRUPT);
    SL_CHECK_INT(sl_record_inflate(SL_CODEC_LZ4, (const uint8_t *)"nonsense", 8,
                                   &g, 1 << 20),
                 SL_ECORRUPT);
    SL_CHECK_INT(sl_record_inflate(SL_CODEC_SNAPPY,
                                   (const uint8_t *)"\xff\xff\xff\xff\xff", 5,
                                   &g, 1 << 20),
                 SL_ECORRUPT);
    sl_buf_free(&g);
    sl_buf_free(&raw);
    sl_buf_free(&scratch);
}

SL_TEST(broker_kafka_producer_state_rules) {
    sl_part_t part;
    memset(&part, 0, sizeof part);
    uint64_t orig;
    /* Unknown producers accept any sequence. */
    SL_CHECK_INT(sl__store_kprod_check(&part, 5, 0, 17, 3, &orig), SL_KPROD_OK);
    SL_CHECK_OK(sl__store_kprod_note(&part, 5, 0, 0, 3, 100)); /* 0..2 */
    SL_CHECK_OK(sl__store_kprod_note(&part, 5, 0, 3, 2, 103)); /* 3..4 */
    /* Exact retries get their original offsets. */
    SL_CHECK_INT(sl__store_kprod_check(&part, 5, 0, 0, 3, &orig), SL_KPROD_DUP);
    SL_CHECK_UINT(orig, 100);
    SL_CHECK_INT(sl__store_kprod_check(&part, 5, 0, 3, 2, &orig), SL_KPROD_DUP);
    SL_CHECK_UINT(orig, 103);
    /* In order; a gap; an overlap; old sequences batched differently. */
    SL_CHECK_INT(sl__store_kprod_check(&part, 5, 0, 5, 1, &orig), SL_KPROD_OK);
    SL_CHECK_INT(sl__store_kprod_check(&part, 5, 0, 6, 1, &orig),
                 SL_KPROD_OUT_OF_ORDER);
    SL_CHECK_INT(sl__store_kprod_check(&part, 5, 0, 4, 2, &orig),
                 SL_KPROD_OUT_OF_ORDER);
    SL_CHECK_INT(sl__store_kprod_check(&part, 5, 0, 1, 2, &orig),
                 SL_KPROD_DUP_OLD);
    SL_CHECK_UINT(orig, UINT64_MAX);
    /* Epochs: older is fenced, newer must start at 0. */
    SL_CHECK_INT(sl__store_kprod_check(&part, 5, -1 + 0, 5, 1, &orig),
                 SL_KPROD_STALE_EPOCH);
    SL_CHECK_INT(sl__store_kprod_check(&part, 5, 1, 5, 1, &orig),
                 SL_KPROD_OUT_OF_ORDER);
    SL_CHECK_INT(sl__store_kprod_check(&part, 5, 1, 0, 1, &orig), SL_KPROD_OK);
    /* Only the last 5 batches are remembered. */
    for (int32_t s = 5; s < 10; s++)
        SL_CHECK_OK(sl__store_kprod_note(&part, 5, 0, s, 1, 100 + (uint64_t)s));
    SL_CHECK_INT(sl__store_kprod_check(&part, 5, 0, 5, 1, &orig), SL_KPROD_DUP);
    SL_CHECK_UINT(orig, 105);
    SL_CHECK_INT(sl__store_kprod_check(&part, 5, 0, 3, 2, &orig),
                 SL_KPROD_DUP_OLD);
    /* Wrap: 2^31-2 with 3 records ends at 0; the next batch starts at 1. */
    SL_CHECK_OK(sl__store_kprod_note(&part, 9, 0, 0x7FFFFFFE, 3, 500));
    SL_CHECK_INT(sl__store_kseq_last(0x7FFFFFFE, 3), 0);
    SL_CHECK_INT(sl__store_kprod_check(&part, 9, 0, 0x7FFFFFFE, 3, &orig),
                 SL_KPROD_DUP);
    SL_CHECK_UINT(orig, 500);
    SL_CHECK_INT(sl__store_kprod_check(&part, 9, 0, 1, 4, &orig), SL_KPROD_OK);
    SL_CHECK_INT(sl__store_kprod_check(&part, 9, 0, 2, 1, &orig),
                 SL_KPROD_OUT_OF_ORDER);
    SL_CHECK_INT(sl__store_kprod_check(&part, 9, 0, 0x7FFFFFFF, 1, &orig),
                 SL_KPROD_DUP_OLD);
    SL_CHECK_OK(sl__store_kprod_note(&part, 9, 0, 0x7FFFFFFF, 1, 600));
    SL_CHECK_INT(sl__store_kprod_check(&part, 9, 0, 0, 1, &orig), SL_KPROD_OK);
    free(part.kprods);
}

/* ---- through a live store ------------------------------------------------ */

static size_t acked;
static sl_ack_t last_ack;

static void on_acks(sl_store_t *store, sl_ack_t *acks, size_t n) {
    (void)store;
    acked += n;
    if (n)
        last_ack = acks[n - 1];
}

typedef struct {
    uv_loop_t loop;
    sl_store_t *store;
} live_t;

static void opts_for(sl_store_opts_t *o, const char *dir) {
    sl_log_set_level(SL_LOG_FATAL);
    memset(o, 0, sizeof *o);
    o->dir = dir;
    o->segment_size = 1u << 20;
    o->fsync_mode = SL_FSYNC_NEVER;
    o->fsync_interval_ms = 1000;
    o->max_batch = 1u << 20;
    o->auto_create = 1;
}

static void live_open(live_t *lv, const sl_store_opts_t *o) {
    SL_CHECK_OK(uv_loop_init(&lv->loop));
    SL_CHECK_OK(sl_store_open(&lv->store, o, &lv->loop, on_acks, NULL, NULL));
}

static void live_sync(live_t *lv, size_t want) {
    sl_store_kick(lv->store);
    for (int i = 0; i < 100000 && acked < want; i++)
        uv_run(&lv->loop, UV_RUN_ONCE);
    SL_CHECK_UINT(acked, want);
}

static void live_close(live_t *lv) {
    sl_store_close(lv->store, NULL);
    uv_run(&lv->loop, UV_RUN_DEFAULT);
    SL_CHECK_OK(uv_loop_close(&lv->loop));
}

/* Stages batch b; returns the verdict, *base the (original) offset. */
static int put_batch(live_t *lv, sl_part_t *part, const sl_test_kbatch_t *b,
                     uint64_t *base) {
    sl_buf_t raw = SL_BUF_INIT, scratch = SL_BUF_INIT;
    sl_test_kbatch(&raw, b);
    sl_entry_t e;
    SL_CHECK_OK(
        sl_record_kafka_check(raw.data, raw.len, &scratch, 1 << 20, &e));
    int verdict;
    sl_ack_t ack = {NULL, 1, 0, 9, 0};
    SL_CHECK_OK(sl_store_append_batch(lv->store, part, raw.data, raw.len, &e,
                                      &ack, base, &verdict));
    sl_buf_free(&raw);
    sl_buf_free(&scratch);
    return verdict;
}

typedef struct {
    uint64_t n;
    char first[64], last[64];
} collect_t;

static int collect(void *vctx, const sl_record_t *rec) {
    collect_t *c = vctx;
    snprintf(c->n == 0 ? c->first : c->last, 64, "%.*s", (int)rec->value_len,
             (const char *)rec->value);
    c->n++;
    return 0;
}

SL_TEST(broker_kafka_store_dedup_survives_restart) {
    const char *dir = sl_test_tmpdir();
    sl_store_opts_t o;
    opts_for(&o, dir);
    char path[1024];
    snprintf(path, sizeof path, "%s/checkpoint", dir);
    uint8_t first_ckpt[4096];
    ssize_t first_len = 0;
    for (int round = 0; round < 3; round++) {
        live_t lv;
        live_open(&lv, &o);
        if (round == 0) {
            /* The new directory's first checkpoint, at position 0. */
            FILE *f = fopen(path, "rb");
            SL_CHECK(f != NULL);
            first_len = (ssize_t)fread(first_ckpt, 1, sizeof first_ckpt, f);
            fclose(f);
            SL_CHECK(first_len > 0);
        }
        sl_part_t *part;
        SL_CHECK_OK(sl_store_part(lv.store, "kt", 2, "0", 1, 1, &part));
        acked = 0;
        uint64_t base;
        sl_test_kbatch_t b1 = {42, 0, 0, 4, SL_CODEC_ZSTD, 0, TS, "a"};
        sl_test_kbatch_t b2 = {42, 0, 4, 3, SL_CODEC_GZIP, 0, TS, "b"};
        sl_test_kbatch_t b3 = {42, 0, 9, 1, 0, 0, TS, "c"};
        if (round == 0) {
            SL_CHECK_INT(put_batch(&lv, part, &b1, &base), SL_KPROD_OK);
            SL_CHECK_UINT(base, 0);
            SL_CHECK_INT(put_batch(&lv, part, &b2, &base), SL_KPROD_OK);
            SL_CHECK_UINT(base, 4);
            /* A retry before anything is durable: the original offset,
             * acknowledged after it, nothing stored twice. */
            SL_CHECK_INT(put_batch(&lv, part, &b1, &base), SL_KPROD_DUP);
            SL_CHECK_UINT(base, 0);
            live_sync(&lv, 3);
            SL_CHECK_UINT(last_ack.extra, SL_ACK_DUP);
            SL_CHECK_UINT(last_ack.value, 0);
        } else {
            /* After a restart (round 1: from the log, the checkpoint
             * removed; round 2: from the checkpoint), the same retries
             * are still recognised. */
            SL_CHECK_INT(put_batch(&lv, part, &b2, &base), SL_KPROD_DUP);
            SL_CHECK_UINT(base, 4);
            SL_CHECK_INT(put_batch(&lv, part, &b1, &base), SL_KPROD_DUP);
            SL_CHECK_UINT(base, 0);
            SL_CHECK_INT(put_batch(&lv, part, &b3, &base),
                         SL_KPROD_OUT_OF_ORDER);
            live_sync(&lv, 2);
        }
        SL_CHECK_UINT(part->next_offset, 7);
        /* The text protocol's read gets the values, decompressed. */
        collect_t c = {0};
        uint64_t next, count;
        SL_CHECK_OK(sl_store_read(lv.store, part, 0, 1 << 20, collect, &c,
                                  &next, &count));
        SL_CHECK_UINT(count, 7);
        SL_CHECK_UINT(next, 7);
        SL_CHECK_STR(c.first, "a-0");
        SL_CHECK_STR(c.last, "b-2");
        /* Kafka's read: the stored batches, whole, from the one holding
         * the offset on. */
        sl_buf_t out = SL_BUF_INIT;
        SL_CHECK_OK(sl_store_read_batches(lv.store, part, 5, 1 << 20, &out,
                                          &next, &count));
        SL_CHECK_UINT(next, 7);
        SL_CHECK_UINT(count, 2);
        SL_CHECK_UINT(sl_get_u64be(out.data), 4);
        SL_CHECK_UINT(sl_get_u32be(out.data + 8) + 12, out.len);
        /* At least one batch even when max_bytes is smaller. */
        sl_buf_reset(&out);
        SL_CHECK_OK(
            sl_store_read_batches(lv.store, part, 0, 1, &out, &next, &count));
        SL_CHECK_UINT(next, 4);
        sl_buf_free(&out);
        /* Producer ids never repeat across restarts. */
        int64_t id;
        sl_ack_t ack = {NULL, 2, 0, 9, 0};
        SL_CHECK_OK(sl_store_new_producer_id(lv.store, &ack, &id));
        live_sync(&lv, round == 0 ? 4 : 3);
        SL_CHECK_UINT(last_ack.value, (uint64_t)id);
        static int64_t first_id;
        if (round == 0)
            first_id = id;
        else
            SL_CHECK(id > first_id);
        SL_CHECK(id > 42);
        live_close(&lv);
        if (round == 0) {
            /* Back to the first checkpoint: recovery rebuilds the producer
             * state from the whole log, as after a kill -9. */
            FILE *f = fopen(path, "wb");
            SL_CHECK(f != NULL);
            SL_CHECK_UINT(fwrite(first_ckpt, 1, (size_t)first_len, f),
                          (size_t)first_len);
            fclose(f);
        }
    }
}

/* Many small sluice batches (text puts) fetched the Kafka way: read
 * together, each verified and served whole without its sluice header,
 * within the byte budget (at least one). */
SL_TEST(broker_kafka_store_read_batches_of_puts) {
    const char *dir = sl_test_tmpdir();
    sl_store_opts_t o;
    opts_for(&o, dir);
    live_t lv;
    live_open(&lv, &o);
    sl_part_t *part, *other;
    SL_CHECK_OK(sl_store_part(lv.store, "t", 1, "p", 1, 1, &part));
    SL_CHECK_OK(sl_store_part(lv.store, "t", 1, "q", 1, 1, &other));
    acked = 0;
    for (int i = 0; i < 100; i++) {
        char v[16];
        snprintf(v, sizeof v, "m%03d", i); /* Equal sizes. */
        sl_msg_t m = {(const uint8_t *)v, strlen(v), NULL, 0};
        uint64_t base;
        int dup;
        sl_ack_t ack = {NULL, 1, 0, 9, 0};
        SL_CHECK_OK(
            sl_store_append(lv.store, part, &m, 1, -1, 0, &ack, &base, &dup));
        /* Another partition's entry between some of them. */
        if (i % 10 == 0)
            SL_CHECK_OK(sl_store_append(lv.store, other, &m, 1, -1, 0, &ack,
                                        &base, &dup));
    }
    live_sync(&lv, 110);
    sl_buf_t out = SL_BUF_INIT;
    uint64_t next, count;
    SL_CHECK_OK(
        sl_store_read_batches(lv.store, part, 0, 1 << 20, &out, &next, &count));
    SL_CHECK_UINT(next, 100);
    SL_CHECK_UINT(count, 100);
    size_t at = 0;
    for (uint64_t i = 0; i < 100; i++) {
        SL_CHECK(at + SL_BATCH_HDR <= out.len);
        SL_CHECK_UINT(sl_get_u64be(out.data + at), i);
        uint32_t blen = sl_get_u32be(out.data + at + 8) + 12;
        SL_CHECK_UINT(sl_get_u32be(out.data + at + 17),
                      sl_crc32c(0, out.data + at + 21, blen - 21));
        at += blen;
    }
    SL_CHECK_UINT(at, out.len);
    /* A budget of two and a half batches from offset 37: two whole ones. */
    size_t one = sl_get_u32be(out.data + 8) + 12;
    sl_buf_reset(&out);
    SL_CHECK_OK(sl_store_read_batches(lv.store, part, 37, 2 * one + one / 2,
                                      &out, &next, &count));
    SL_CHECK_UINT(next, 39);
    SL_CHECK_UINT(count, 2);
    SL_CHECK_UINT(out.len, 2 * one);
    /* A budget of one byte still gets one batch. */
    sl_buf_reset(&out);
    SL_CHECK_OK(
        sl_store_read_batches(lv.store, part, 99, 1, &out, &next, &count));
    SL_CHECK_UINT(next, 100);
    SL_CHECK_UINT(out.len, one);
    sl_buf_reset(&out);
    SL_CHECK_OK(
        sl_store_read_batches(lv.store, part, 100, 1, &out, &next, &count));
    SL_CHECK_UINT(out.len, 0);
    SL_CHECK_INT(
        sl_store_read_batches(lv.store, part, 101, 1, &out, &next, &count),
        SL_ERANGE);
    sl_buf_free(&out);
    live_close(&lv);
}
