/*
 * CRC-32 (ISO-HDLC / zlib polynomial 0xEDB88320, reflected), the binlog
 * event checksum, with zlib's crc32() interface and results.
 *
 * On CPUs with PCLMULQDQ the bulk of the data is folded 64 bytes at a time
 * with carry-less multiplication (Intel's "Fast CRC Computation for
 * Generic Polynomials Using PCLMULQDQ", with the folding constants for
 * this polynomial: x^(4*128+32) mod P, x^(4*128-32) mod P, x^(128+32)
 * mod P, x^(128-32) mod P, x^64 mod P, and the Barrett constants P' and
 * u' = floor(x^64 / P), bit-reflected), then reduced to 32 bits; the tail
 * and CPUs without the instruction use zlib. The unit tests compare both
 * paths with zlib over every length from 0 to a few KiB.
 */
#include "internal.h"

#include <zlib.h>

#if defined(__x86_64__)
#include <immintrin.h>

__attribute__((target("pclmul,sse4.1"))) static uint32_t
crc_fold(uint32_t raw, const uint8_t *p, size_t len) {
    /* len >= 64 and a multiple of 16; raw is the non-inverted register. */
    const __m128i k21 = _mm_set_epi64x(0x1c6e41596LL, 0x154442bd4LL);
    const __m128i k43 = _mm_set_epi64x(0x0ccaa009eLL, 0x1751997d0LL);
    const __m128i k5 = _mm_set_epi64x(0, 0x163cd6124LL);
    const __m128i poly = _mm_set_epi64x(0x1F7011641LL, 0x1DB710641LL);
    const __m128i mask32 = _mm_set_epi32(0, 0, 0, -1);
    __m128i x1 = _mm_loadu_si128((const __m128i *)p);
    __m128i x2 = _mm_loadu_si128((const __m128i *)(p + 16));
    __m128i x3 = _mm_loadu_si128((const __m128i *)(p + 32));
    __m128i x4 = _mm_loadu_si128((const __m128i *)(p + 48));
    x1 = _mm_xor_si128(x1, _mm_cvtsi32_si128((int)raw));
    p += 64;
    len -= 64;
    while (len >= 64) {
        __m128i h1 = _mm_clmulepi64_si128(x1, k21, 0x11);
        __m128i h2 = _mm_clmulepi64_si128(x2, k21, 0x11);
        __m128i h3 = _mm_clmulepi64_si128(x3, k21, 0x11);
        __m128i h4 = _mm_clmulepi64_si128(x4, k21, 0x11);
        x1 = _mm_clmulepi64_si128(x1, k21, 0x00);
        x2 = _mm_clmulepi64_si128(x2, k21, 0x00);
        x3 = _mm_clmulepi64_si128(x3, k21, 0x00);
        x4 = _mm_clmulepi64_si128(x4, k21, 0x00);
        x1 = _mm_xor_si128(_mm_xor_si128(x1, h1),
                           _mm_loadu_si128((const __m128i *)p));
        x2 = _mm_xor_si128(_mm_xor_si128(x2, h2),
                           _mm_loadu_si128((const __m128i *)(p + 16)));
        x3 = _mm_xor_si128(_mm_xor_si128(x3, h3),
                           _mm_loadu_si128((const __m128i *)(p + 32)));
        x4 = _mm_xor_si128(_mm_xor_si128(x4, h4),
                           _mm_loadu_si128((const __m128i *)(p + 48)));
        p += 64;
        len -= 64;
    }
    /* Fold the four lanes into one. */
    __m128i h = _mm_clmulepi64_si128(x1, k43, 0x11);
    x1 = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x1, k43, 0x00), h),
                       x2);
    h = _mm_clmulepi64_si128(x1, k43, 0x11);
    x1 = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x1, k43, 0x00), h),
                       x3);
    h = _mm_clmulepi64_si128(x1, k43, 0x11);
    x1 = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x1, k43, 0x00), h),
                       x4);
    while (len >= 16) {
        h = _mm_clmulepi64_si128(x1, k43, 0x11);
        x1 =
            _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x1, k43, 0x00), h),
                          _mm_loadu_si128((const __m128i *)p));
        p += 16;
        len -= 16;
    }
    /* 128 -> 64 bits (appending 32 zero bits). */
    __m128i t = _mm_clmulepi64_si128(k43, x1, 0x01);
    x1 = _mm_xor_si128(_mm_srli_si128(x1, 8), t);
    /* 64 -> 32 bits. */
    __m128i x2b = _mm_srli_si128(x1, 4);
    x1 = _mm_and_si128(x1, mask32);
    x1 = _mm_clmulepi64_si128(x1, k5, 0x00);
    x1 = _mm_xor_si128(x1, x2b);
    /* Barrett reduction. */
    x2b = x1;
    x1 = _mm_and_si128(x1, mask32);
    x1 = _mm_clmulepi64_si128(x1, poly, 0x10);
    x1 = _mm_and_si128(x1, mask32);
    x1 = _mm_clmulepi64_si128(x1, poly, 0x00);
    x1 = _mm_xor_si128(x1, x2b);
    return (uint32_t)_mm_extract_epi32(x1, 1);
}

static int have_pclmul(void) {
    static int known = -1;
    if (known < 0) {
        __builtin_cpu_init();
        known = __builtin_cpu_supports("pclmul") &&
                __builtin_cpu_supports("sse4.1");
    }
    return known;
}
#endif

/* Slicing-by-8 tables for short inputs and tails (most binlog events are
 * a few dozen bytes, where a library call per event costs more than the
 * CRC itself). Built once at start-up. */
static uint32_t slice[8][256];

__attribute__((constructor)) static void slice_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
        slice[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            slice[t][i] =
                (slice[t - 1][i] >> 8) ^ slice[0][slice[t - 1][i] & 0xFF];
}

/* raw: the non-inverted register. */
static uint32_t crc_slice8(uint32_t raw, const uint8_t *p, size_t len) {
    while (len >= 8) {
        uint32_t lo = raw ^ ((uint32_t)p[0] | ((uint32_t)p[1] << 8) |
                             ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24));
        raw = slice[7][lo & 0xFF] ^ slice[6][(lo >> 8) & 0xFF] ^
              slice[5][(lo >> 16) & 0xFF] ^ slice[4][lo >> 24] ^
              slice[3][p[4]] ^ slice[2][p[5]] ^ slice[1][p[6]] ^ slice[0][p[7]];
        p += 8;
        len -= 8;
    }
    while (len-- > 0)
        raw = (raw >> 8) ^ slice[0][(raw ^ *p++) & 0xFF];
    return raw;
}

uint32_t sl__dec_crc32_sw(uint32_t crc, const void *data, size_t len) {
    return (uint32_t)crc32(crc, data, (uInt)len);
}

uint32_t sl__dec_crc32(uint32_t crc, const void *data, size_t len) {
    const uint8_t *p = data;
    uint32_t raw = ~crc;
#if defined(__x86_64__)
    if (len >= 64 && have_pclmul()) {
        size_t bulk = len & ~(size_t)15;
        raw = crc_fold(raw, p, bulk);
        p += bulk;
        len -= bulk;
    }
#endif
    if (len > 4096)
        return (uint32_t)crc32(~raw, p, (uInt)len);
    return ~crc_slice8(raw, p, len);
}
