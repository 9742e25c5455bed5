/*
 * Builds Kafka RecordBatch v2 bytes as a Kafka producer writes them, for
 * tests that feed the broker's Kafka data path directly (unit tests of the
 * store, raw Produce requests in integration tests): keys, values,
 * headers, CreateTime timestamps, producer fields and any codec.
 */
#ifndef SL_TEST_KBATCH_H
#define SL_TEST_KBATCH_H

#include "buf.h"

#include <stdint.h>

typedef struct {
    int64_t pid;     /* -1: not idempotent. */
    int16_t epoch;   /* -1 with pid -1. */
    int32_t seq;     /* Base sequence; -1 with pid -1. */
    uint32_t n;      /* Records. */
    int codec;       /* SL_CODEC_* (snappy: raw; xerial: codec 2 + xerial). */
    int xerial;      /* Snappy in xerial's framing (the Java client). */
    int64_t base_ts; /* Record i has timestamp base_ts + 7 * i - 3 * (i % 2)
                        (not monotonic, as CreateTime may be). */
    const char *tag; /* Values are "<tag>-<i>", keys "k<i>", one header
                        "h" = "x<i>". */
} sl_test_kbatch_t;

/* Appends the batch to out (base offset 0, leader epoch -1, CRC set).
 * Fails the test on an encoder error. */
void sl_test_kbatch(sl_buf_t *out, const sl_test_kbatch_t *b);

/* Appends in compressed with codec (SL_CODEC_*; snappy raw, or with xerial
 * in xerial's framing as two blocks) to out, as a producer compresses a
 * batch's records: gzip level 6, zstd level 3 with the content size, lz4
 * frames with default settings. Fails the test on a library error. */
void sl_test_kcompress(int codec, int xerial, const sl_buf_t *in,
                       sl_buf_t *out);

#endif
