/*
 * Decompression of the records of a compressed Kafka batch (record.c
 * stores such batches as produced; reading them through the text protocol
 * and checking them when produced needs the records themselves).
 *
 * What follows the records count of a batch whose attributes name a codec
 * is the whole record sequence compressed as one stream, in the framing
 * Kafka's clients write:
 *   gzip    an RFC 1952 gzip stream (one or more members), zlib
 *   snappy  either raw snappy (librdkafka) or xerial's framing (the Java
 *           client): the 8 bytes 82 'SNAPPY' 00, i32 version, i32
 *           compatible version, then blocks of { i32 length, raw snappy }
 *   lz4     LZ4 frames (magic 04 22 4D 18), liblz4's frame API
 *   zstd    zstd frames, libzstd's streaming API
 * Output is bounded by the caller's max, so a small hostile batch cannot
 * make the broker allocate without limit (a "zip bomb" gets SL_ETOOBIG).
 */
#include "broker/record.h"

#include "bytes.h"
#include "error.h"

#include <lz4frame.h>
#include <snappy-c.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

/* Output grows in steps of this much, up to max. */
#define STEP (64u << 10)

/* Room for at least one more byte in out, below base + max: *room
 * receives how much. SL_ETOOBIG when out is full. */
static uint8_t *room_for(sl_buf_t *out, size_t base, size_t max, size_t *room) {
    size_t used = out->len - base;
    if (used >= max)
        return NULL;
    size_t want = max - used < STEP ? max - used : STEP;
    if (sl_buf_reserve(out, want) != 0)
        return NULL;
    *room = want;
    return out->data + out->len;
}

static int inflate_gzip(const uint8_t *in, size_t n, sl_buf_t *out,
                        size_t max) {
    size_t base = out->len;
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
        return SL_ENOMEM;
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)n;
    int err = 0;
    if (n > UINT32_MAX)
        err = SL_ETOOBIG;
    while (err == 0) {
        size_t room;
        uint8_t *w = room_for(out, base, max, &room);
        if (w == NULL) {
            err = out->len - base >= max ? SL_ETOOBIG : SL_ENOMEM;
            break;
        }
        zs.next_out = w;
        zs.avail_out = (uInt)room;
        int rc = inflate(&zs, Z_NO_FLUSH);
        out->len += room - zs.avail_out;
        if (rc == Z_STREAM_END) {
            if (zs.avail_in == 0)
                break;
            /* Another gzip member follows. */
            if (inflateReset(&zs) != Z_OK)
                err = SL_ECORRUPT;
            continue;
        }
        if (rc == Z_BUF_ERROR && zs.avail_out != 0)
            err = SL_ECORRUPT; /* Input ended inside the stream. */
        else if (rc != Z_OK && rc != Z_BUF_ERROR)
            err = rc == Z_MEM_ERROR ? SL_ENOMEM : SL_ECORRUPT;
    }
    inflateEnd(&zs);
    return err;
}

static int inflate_zstd(const uint8_t *in, size_t n, sl_buf_t *out,
                        size_t max) {
    size_t base = out->len;
    ZSTD_DStream *ds = ZSTD_createDStream();
    if (ds == NULL)
        return SL_ENOMEM;
    ZSTD_inBuffer ib = {in, n, 0};
    int err = 0;
    size_t last = 1;
    while (err == 0 && (ib.pos < ib.size || last != 0)) {
        size_t room;
        uint8_t *w = room_for(out, base, max, &room);
        if (w == NULL) {
            err = out->len - base >= max ? SL_ETOOBIG : SL_ENOMEM;
            break;
        }
        ZSTD_outBuffer ob = {w, room, 0};
        size_t in_before = ib.pos;
        last = ZSTD_decompressStream(ds, &ob, &ib);
        out->len += ob.pos;
        if (ZSTD_isError(last))
            err = SL_ECORRUPT;
        else if (ib.pos == in_before && ob.pos == 0)
            err = SL_ECORRUPT; /* No progress: the input is cut short. */
    }
    ZSTD_freeDStream(ds);
    return err;
}

static int inflate_lz4(const uint8_t *in, size_t n, sl_buf_t *out, size_t max) {
    size_t base = out->len;
    LZ4F_dctx *dc;
    if (LZ4F_isError(LZ4F_createDecompressionContext(&dc, LZ4F_VERSION)))
        return SL_ENOMEM;
    size_t pos = 0;
    int err = 0;
    for (;;) {
        size_t room;
        uint8_t *w = room_for(out, base, max, &room);
        if (w == NULL) {
            err = out->len - base >= max ? SL_ETOOBIG : SL_ENOMEM;
            break;
        }
        size_t src = n - pos, dst = room;
        size_t hint = LZ4F_decompress(dc, w, &dst, in + pos, &src, NULL);
        if (LZ4F_isError(hint)) {
            err = SL_ECORRUPT;
            break;
        }
        out->len += dst;
        pos += src;
        /* 0: the frame is decoded and flushed; more frames may follow. */
        if (pos == n && hint == 0)
            break;
        if (src == 0 && dst == 0) {
            err = SL_ECORRUPT; /* No progress: the input is cut short. */
            break;
        }
    }
    LZ4F_freeDecompressionContext(dc);
    return err;
}

/* One raw snappy block. */
static int snappy_block(const uint8_t *in, size_t n, sl_buf_t *out, size_t base,
                        size_t max) {
    size_t len;
    if (snappy_uncompressed_length((const char *)in, n, &len) != SNAPPY_OK)
        return SL_ECORRUPT;
    if (len > max - (out->len - base))
        return SL_ETOOBIG;
    if (sl_buf_reserve(out, len + 1) != 0)
        return SL_ENOMEM;
    size_t got = len;
    if (snappy_uncompress((const char *)in, n, (char *)out->data + out->len,
                          &got) != SNAPPY_OK ||
        got != len)
        return SL_ECORRUPT;
    out->len += len;
    return 0;
}

static const uint8_t XERIAL[8] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};

static int inflate_snappy(const uint8_t *in, size_t n, sl_buf_t *out,
                          size_t max) {
    size_t base = out->len;
    if (n < 16 || memcmp(in, XERIAL, 8) != 0)
        return snappy_block(in, n, out, base, max);
    size_t pos = 16;
    while (pos < n) {
        if (n - pos < 4)
            return SL_ECORRUPT;
        size_t len = sl_get_u32be(in + pos);
        pos += 4;
        if (len > n - pos)
            return SL_ECORRUPT;
        int err = snappy_block(in + pos, len, out, base, max);
        if (err != 0)
            return err;
        pos += len;
    }
    return 0;
}

int sl_record_inflate(int codec, const uint8_t *in, size_t n, sl_buf_t *out,
                      size_t max) {
    switch (codec) {
    case SL_CODEC_GZIP: return inflate_gzip(in, n, out, max);
    case SL_CODEC_SNAPPY: return inflate_snappy(in, n, out, max);
    case SL_CODEC_LZ4: return inflate_lz4(in, n, out, max);
    case SL_CODEC_ZSTD: return inflate_zstd(in, n, out, max);
    default: return SL_EUNSUPPORTED;
    }
}
