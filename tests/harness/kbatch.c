/* Kafka RecordBatch v2 builder for tests (kbatch.h). */
#include "kbatch.h"

#include "broker/record.h"
#include "bytes.h"
#include "crc32c.h"
#include "sl_test.h"

#include <lz4frame.h>
#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

static void put_varint(sl_buf_t *b, int64_t v) {
    uint8_t tmp[10];
    sl_buf_append(b, tmp, sl_put_varint(tmp, v));
}

static void put_bytes(sl_buf_t *b, const char *s) {
    put_varint(b, (int64_t)strlen(s));
    sl_buf_append(b, s, strlen(s));
}

void sl_test_kcompress(int codec, int xerial, const sl_buf_t *in,
                       sl_buf_t *out) {
    size_t cap;
    switch (codec) {
    case SL_CODEC_GZIP: {
        z_stream zs;
        memset(&zs, 0, sizeof zs);
        SL_CHECK_INT(deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8,
                                  Z_DEFAULT_STRATEGY),
                     Z_OK);
        cap = deflateBound(&zs, in->len) + 64;
        uint8_t *w = sl_buf_extend(out, cap);
        zs.next_in = in->data;
        zs.avail_in = (uInt)in->len;
        zs.next_out = w;
        zs.avail_out = (uInt)cap;
        SL_CHECK_INT(deflate(&zs, Z_FINISH), Z_STREAM_END);
        out->len -= zs.avail_out;
        deflateEnd(&zs);
        return;
    }
    case SL_CODEC_ZSTD: {
        cap = ZSTD_compressBound(in->len);
        uint8_t *w = sl_buf_extend(out, cap);
        size_t n = ZSTD_compress(w, cap, in->data, in->len, 3);
        SL_CHECK(!ZSTD_isError(n));
        out->len -= cap - n;
        return;
    }
    case SL_CODEC_LZ4: {
        cap = LZ4F_compressFrameBound(in->len, NULL);
        uint8_t *w = sl_buf_extend(out, cap);
        size_t n = LZ4F_compressFrame(w, cap, in->data, in->len, NULL);
        SL_CHECK(!LZ4F_isError(n));
        out->len -= cap - n;
        return;
    }
    case SL_CODEC_SNAPPY: {
        if (xerial) {
            static const uint8_t hdr[16] = {
                0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1};
            sl_buf_append(out, hdr, 16);
        }
        /* Xerial's blocks: two, to exercise the framing (one when there
         * is a single byte). */
        size_t half = xerial && in->len > 1 ? in->len / 2 : in->len;
        for (size_t off = 0; off < in->len;) {
            size_t part = off == 0 ? half : in->len - off;
            cap = snappy_max_compressed_length(part);
            size_t at = out->len;
            uint8_t *w = sl_buf_extend(out, cap + 4);
            size_t n = cap;
            SL_CHECK_INT(snappy_compress((const char *)in->data + off, part,
                                         (char *)w + (xerial ? 4 : 0), &n),
                         SNAPPY_OK);
            if (xerial)
                sl_put_u32be(w, (uint32_t)n);
            out->len = at + n + (xerial ? 4 : 0);
            off += part;
            if (!xerial)
                break;
        }
        return;
    }
    default: sl_buf_append(out, in->data, in->len);
    }
}

void sl_test_kbatch(sl_buf_t *out, const sl_test_kbatch_t *b) {
    sl_buf_t recs = SL_BUF_INIT, rec = SL_BUF_INIT;
    int64_t max_ts = b->base_ts;
    for (uint32_t i = 0; i < b->n; i++) {
        int64_t ts = b->base_ts + 7 * (int64_t)i - 3 * (int64_t)(i % 2);
        if (ts > max_ts)
            max_ts = ts;
        char key[32], val[96], hv[32];
        snprintf(key, sizeof key, "k%u", i);
        snprintf(val, sizeof val, "%s-%u", b->tag ? b->tag : "v", i);
        snprintf(hv, sizeof hv, "x%u", i);
        sl_buf_reset(&rec);
        sl_buf_append_u8(&rec, 0);
        put_varint(&rec, ts - b->base_ts);
        put_varint(&rec, i);
        put_bytes(&rec, key);
        put_bytes(&rec, val);
        put_varint(&rec, 1);
        put_bytes(&rec, "h");
        put_bytes(&rec, hv);
        put_varint(&recs, (int64_t)rec.len);
        sl_buf_append(&recs, rec.data, rec.len);
    }
    size_t at = out->len;
    uint8_t *h = sl_buf_extend(out, SL_BATCH_HDR);
    memset(h, 0, SL_BATCH_HDR);
    sl_test_kcompress(b->codec, b->xerial, &recs, out);
    h = out->data + at;
    uint32_t len = (uint32_t)(out->len - at);
    sl_put_u64be(h, 0);
    sl_put_u32be(h + 8, len - 12);
    sl_put_u32be(h + 12, 0xFFFFFFFF);
    h[16] = 2;
    sl_put_u16be(h + 21, (uint16_t)b->codec);
    sl_put_u32be(h + 23, b->n - 1);
    sl_put_u64be(h + 27, (uint64_t)b->base_ts);
    sl_put_u64be(h + 35, (uint64_t)max_ts);
    sl_put_u64be(h + 43, (uint64_t)b->pid);
    sl_put_u16be(h + 51, (uint16_t)b->epoch);
    sl_put_u32be(h + 53, (uint32_t)b->seq);
    sl_put_u32be(h + 57, b->n);
    sl_put_u32be(h + 17, sl_crc32c(0, h + 21, len - 21));
    SL_CHECK_OK(sl_buf_error(out));
    sl_buf_free(&recs);
    sl_buf_free(&rec);
}
