/*
 * Unit tests for the decompression of Kafka batches' records
 * (broker/record_zip.c, sl_record_inflate) at its edges: outputs of
 * exactly the bound and one byte over it, output appended after what the
 * buffer already holds, several gzip members, zstd frames, lz4 frames and
 * xerial blocks in a row, zstd frames that do not record their size (as a
 * streaming compressor writes them), lz4 frames with checksums, every
 * truncation, trailing garbage, flipped bytes, and decompression bombs,
 * which must be refused without allocating what they claim.
 *
 * The compressed inputs come from the codecs' own libraries; batches
 * written by real clients (kcat, kafka-python with xerial's snappy
 * framing) are covered by tests/integration/kafka_data.c and
 * tests/integration/kafka_compress.sh.
 */
#include "broker/record.h"
#include "bytes.h"
#include "error.h"
#include "kbatch.h"
#include "sl_test.h"

#include <lz4frame.h>
#include <snappy-c.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

/* Compressible but not trivially so: a record-like text with a counter. */
static void sample(sl_buf_t *b, size_t n) {
    sl_buf_reset(b);
    uint32_t x = 12345;
    while (b->len < n) {
        x = x * 1103515245u + 12345u;
        char line[48];
        int w = snprintf(line, sizeof line, "{\"id\":%u,\"v\":\"%c%c\"},",
                         (unsigned)b->len, 'a' + (x >> 16) % 26,
                         'a' + (x >> 8) % 26);
        size_t take = (size_t)w < n - b->len ? (size_t)w : n - b->len;
        SL_CHECK_OK(sl_buf_append(b, line, take));
    }
}

/* A zstd frame as a streaming compressor writes it: no content size, and
 * a checksum. */
static void zstd_stream(const sl_buf_t *in, sl_buf_t *out) {
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    SL_CHECK(cc != NULL);
    SL_CHECK(
        !ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, 0)));
    SL_CHECK(!ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1)));
    size_t cap = ZSTD_compressBound(in->len) + 64;
    uint8_t *w = sl_buf_extend(out, cap);
    SL_CHECK(w != NULL);
    ZSTD_outBuffer ob = {w, cap, 0};
    ZSTD_inBuffer ib = {in->data, in->len, 0};
    size_t left;
    do {
        left = ZSTD_compressStream2(cc, &ob, &ib, ZSTD_e_end);
        SL_CHECK(!ZSTD_isError(left));
    } while (left != 0);
    out->len -= cap - ob.pos;
    ZSTD_freeCCtx(cc);
    /* The frame header's descriptor says "size unknown". */
    SL_CHECK_UINT(ZSTD_getFrameContentSize(w, ob.pos),
                  ZSTD_CONTENTSIZE_UNKNOWN);
}

/* An lz4 frame with block and content checksums and 64 KiB blocks. */
static void lz4_checked(const sl_buf_t *in, sl_buf_t *out) {
    LZ4F_preferences_t prefs;
    memset(&prefs, 0, sizeof prefs);
    prefs.frameInfo.blockSizeID = LZ4F_max64KB;
    prefs.frameInfo.blockChecksumFlag = LZ4F_blockChecksumEnabled;
    prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
    size_t cap = LZ4F_compressFrameBound(in->len, &prefs);
    uint8_t *w = sl_buf_extend(out, cap);
    SL_CHECK(w != NULL);
    size_t n = LZ4F_compressFrame(w, cap, in->data, in->len, &prefs);
    SL_CHECK(!LZ4F_isError(n));
    out->len -= cap - n;
}

/* The encodings the tests run over: each codec as producers write it. */
enum {
    GZIP,
    SNAPPY_RAW,
    SNAPPY_XERIAL,
    LZ4,
    LZ4_CHECKED,
    ZSTD,
    ZSTD_STREAM,
    NFORMS
};
static const char *const form_name[NFORMS] = {
    "gzip",        "snappy", "snappy-xerial", "lz4",
    "lz4-checked", "zstd",   "zstd-stream"};
static const int form_codec[NFORMS] = {
    SL_CODEC_GZIP, SL_CODEC_SNAPPY, SL_CODEC_SNAPPY, SL_CODEC_LZ4,
    SL_CODEC_LZ4,  SL_CODEC_ZSTD,   SL_CODEC_ZSTD};

static void compress_form(int form, const sl_buf_t *in, sl_buf_t *out) {
    switch (form) {
    case LZ4_CHECKED: lz4_checked(in, out); return;
    case ZSTD_STREAM: zstd_stream(in, out); return;
    default:
        sl_test_kcompress(form_codec[form], form == SNAPPY_XERIAL, in, out);
    }
}

/* Inflates z (form's codec) with bound max into out, which already holds
 * a 3-byte prefix that must stay. Returns the result; on success checks
 * that what was appended is want. */
static int inflate_check(int form, const sl_buf_t *z, size_t max,
                         const sl_buf_t *want) {
    sl_buf_t out = SL_BUF_INIT;
    SL_CHECK_OK(sl_buf_append(&out, "pre", 3));
    int err = sl_record_inflate(form_codec[form], z->data, z->len, &out, max);
    if (err == 0) {
        if (out.len - 3 != want->len ||
            memcmp(out.data + 3, want->data, want->len) != 0)
            sl_test_fail(__FILE__, __LINE__, "%s: %zu bytes decoded wrong",
                         form_name[form], want->len);
    }
    /* Never more than the bound, whatever happened. */
    SL_CHECK(out.len - 3 <= max);
    SL_CHECK(memcmp(out.data, "pre", 3) == 0);
    sl_buf_free(&out);
    return err;
}

/* Round trips at sizes around the decoder's 64 KiB output step, with a
 * bound of exactly the size (allowed) and one byte less (SL_ETOOBIG). */
SL_TEST(broker_kafka_compress_exact_bound) {
    static const size_t sizes[] = {1,     100,   4095,   65535,
                                   65536, 65537, 131072, 300001};
    sl_buf_t in = SL_BUF_INIT, z = SL_BUF_INIT;
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        sample(&in, sizes[s]);
        for (int f = 0; f < NFORMS; f++) {
            sl_buf_reset(&z);
            compress_form(f, &in, &z);
            int err = inflate_check(f, &z, in.len, &in);
            if (err != 0)
                sl_test_fail(__FILE__, __LINE__, "%s, %zu bytes, bound %zu: %s",
                             form_name[f], in.len, in.len, sl_strerror(err));
            SL_CHECK_INT(inflate_check(f, &z, in.len - 1, &in), SL_ETOOBIG);
            SL_CHECK_OK(inflate_check(f, &z, SL_INFLATE_MAX, &in));
        }
    }
    sl_buf_free(&in);
    sl_buf_free(&z);
}

/* Streams in a row: several gzip members, zstd and lz4 frames, and xerial
 * blocks decode to the concatenation (producers may write them so). */
SL_TEST(broker_kafka_compress_concatenated) {
    sl_buf_t a = SL_BUF_INIT, b = SL_BUF_INIT, ab = SL_BUF_INIT;
    sl_buf_t z = SL_BUF_INIT;
    sample(&a, 70000);
    sl_buf_append(&b, "second part", 11);
    sl_buf_append(&ab, a.data, a.len);
    sl_buf_append(&ab, b.data, b.len);
    static const int forms[] = {GZIP, LZ4, LZ4_CHECKED, ZSTD, ZSTD_STREAM};
    for (size_t i = 0; i < sizeof forms / sizeof *forms; i++) {
        sl_buf_reset(&z);
        compress_form(forms[i], &a, &z);
        compress_form(forms[i], &b, &z);
        SL_CHECK_OK(inflate_check(forms[i], &z, SL_INFLATE_MAX, &ab));
        SL_CHECK_INT(inflate_check(forms[i], &z, ab.len - 1, &ab), SL_ETOOBIG);
    }
    /* Xerial: the second stream's 16-byte header dropped, its blocks
     * appended to the first's. */
    sl_buf_reset(&z);
    compress_form(SNAPPY_XERIAL, &a, &z);
    sl_buf_t zb = SL_BUF_INIT;
    compress_form(SNAPPY_XERIAL, &b, &zb);
    sl_buf_append(&z, zb.data + 16, zb.len - 16);
    SL_CHECK_OK(inflate_check(SNAPPY_XERIAL, &z, SL_INFLATE_MAX, &ab));
    sl_buf_free(&zb);
    sl_buf_free(&a);
    sl_buf_free(&b);
    sl_buf_free(&ab);
    sl_buf_free(&z);
}

/* Every proper prefix of a stream is refused as SL_ECORRUPT (for xerial:
 * every cut inside a block; a cut between blocks is a shorter valid
 * stream, which the batch's record count then refuses). */
SL_TEST(broker_kafka_compress_truncated) {
    sl_buf_t in = SL_BUF_INIT, z = SL_BUF_INIT, cut = SL_BUF_INIT;
    sample(&in, 3000);
    for (int f = 0; f < NFORMS; f++) {
        sl_buf_reset(&z);
        compress_form(f, &in, &z);
        size_t blk2 = 0; /* Xerial: where the second block's length is. */
        if (f == SNAPPY_XERIAL)
            blk2 = 16 + 4 + sl_get_u32be(z.data + 16);
        for (size_t n = 0; n < z.len; n++) {
            if (f == SNAPPY_XERIAL && (n == 16 || n == blk2))
                continue;
            sl_buf_reset(&cut);
            sl_buf_append(&cut, z.data, n);
            int err = inflate_check(f, &cut, SL_INFLATE_MAX, &in);
            if (err != SL_ECORRUPT)
                sl_test_fail(__FILE__, __LINE__, "%s cut at %zu of %zu: %s",
                             form_name[f], n, z.len, sl_strerror(err));
        }
    }
    sl_buf_free(&in);
    sl_buf_free(&z);
    sl_buf_free(&cut);
}

/* Bytes after the last stream are refused, not ignored. */
SL_TEST(broker_kafka_compress_trailing_garbage) {
    sl_buf_t in = SL_BUF_INIT, z = SL_BUF_INIT;
    sample(&in, 5000);
    for (int f = 0; f < NFORMS; f++) {
        sl_buf_reset(&z);
        compress_form(f, &in, &z);
        sl_buf_append(&z, "\x07junk!!", 7);
        int err = inflate_check(f, &z, SL_INFLATE_MAX, &in);
        if (err != SL_ECORRUPT)
            sl_test_fail(__FILE__, __LINE__, "%s with trailing bytes: %s",
                         form_name[f], sl_strerror(err));
    }
    sl_buf_free(&in);
    sl_buf_free(&z);
}

/* A flipped byte anywhere: the checksummed formats (gzip's CRC-32, the
 * lz4 and zstd frames with checksums) refuse it or, where the byte is
 * not covered (gzip's header time), decode the same data; snappy has no
 * checksum, so it only must stay within the bound. Never a crash. */
SL_TEST(broker_kafka_compress_flipped_bytes) {
    sl_buf_t in = SL_BUF_INIT, z = SL_BUF_INIT;
    sample(&in, 2000);
    for (int f = 0; f < NFORMS; f++) {
        sl_buf_reset(&z);
        compress_form(f, &in, &z);
        int checked = f == GZIP || f == LZ4_CHECKED || f == ZSTD_STREAM;
        for (size_t i = 0; i < z.len; i++) {
            z.data[i] ^= 0x5a;
            sl_buf_t out = SL_BUF_INIT;
            int err =
                sl_record_inflate(form_codec[f], z.data, z.len, &out, 4096);
            SL_CHECK(out.len <= 4096);
            if (checked && err == 0 &&
                (out.len != in.len || memcmp(out.data, in.data, in.len) != 0))
                sl_test_fail(__FILE__, __LINE__,
                             "%s: byte %zu flipped decodes to other data",
                             form_name[f], i);
            SL_CHECK(err == 0 || err == SL_ECORRUPT || err == SL_ETOOBIG);
            sl_buf_free(&out);
            z.data[i] ^= 0x5a;
        }
    }
    sl_buf_free(&in);
    sl_buf_free(&z);
}

/* Decompression bombs: 48 MiB of zeros shrink to a few KiB; with a 1 MiB
 * bound each codec stops at the bound (SL_ETOOBIG) having allocated
 * little more than it. A snappy block that merely claims 4 GiB is refused
 * before anything is allocated. */
SL_TEST(broker_kafka_compress_bombs) {
    const size_t big = 48u << 20, bound = 1u << 20;
    sl_buf_t in = SL_BUF_INIT, z = SL_BUF_INIT;
    SL_CHECK(sl_buf_extend(&in, big) != NULL);
    memset(in.data, 0, big);
    for (int f = 0; f < NFORMS; f++) {
        sl_buf_reset(&z);
        compress_form(f, &in, &z);
        SL_CHECK(z.len < big / 10);
        sl_buf_t out = SL_BUF_INIT;
        int err = sl_record_inflate(form_codec[f], z.data, z.len, &out, bound);
        if (err != SL_ETOOBIG)
            sl_test_fail(__FILE__, __LINE__, "%s bomb: %s", form_name[f],
                         sl_strerror(err));
        SL_CHECK(out.len <= bound);
        SL_CHECK(out.cap <= 2 * bound);
        sl_buf_free(&out);
    }
    /* A raw snappy block whose length varint says 2^32 - 1. */
    static const uint8_t claim[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x00, 'x'};
    sl_buf_t out = SL_BUF_INIT;
    SL_CHECK_INT(sl_record_inflate(SL_CODEC_SNAPPY, claim, sizeof claim, &out,
                                   SL_INFLATE_MAX),
                 SL_ETOOBIG);
    SL_CHECK(out.cap < 1024);
    /* The same claim inside xerial's framing. */
    sl_buf_t x = SL_BUF_INIT;
    static const uint8_t hdr[16] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0,
                                    0,    0,   0,   1,   0,   0,   0,   1};
    uint8_t len[4];
    sl_put_u32be(len, sizeof claim);
    sl_buf_append(&x, hdr, sizeof hdr);
    sl_buf_append(&x, len, 4);
    sl_buf_append(&x, claim, sizeof claim);
    SL_CHECK_INT(
        sl_record_inflate(SL_CODEC_SNAPPY, x.data, x.len, &out, SL_INFLATE_MAX),
        SL_ETOOBIG);
    SL_CHECK(out.cap < 1024);
    /* A xerial block length beyond the input. */
    sl_put_u32be(x.data + 16, 1000);
    SL_CHECK_INT(
        sl_record_inflate(SL_CODEC_SNAPPY, x.data, x.len, &out, SL_INFLATE_MAX),
        SL_ECORRUPT);
    sl_buf_free(&x);
    sl_buf_free(&out);
    sl_buf_free(&in);
    sl_buf_free(&z);
}

/* Codecs Kafka does not define (and "none", which is not compressed). */
SL_TEST(broker_kafka_compress_unknown_codec) {
    sl_buf_t out = SL_BUF_INIT;
    for (int codec = 0; codec < 8; codec++) {
        if (codec >= SL_CODEC_GZIP && codec <= SL_CODEC_ZSTD)
            continue;
        SL_CHECK_INT(sl_record_inflate(codec, (const uint8_t *)"abc", 3, &out,
                                       SL_INFLATE_MAX),
                     SL_EUNSUPPORTED);
    }
    SL_CHECK_UINT(out.len, 0);
    sl_buf_free(&out);
}
