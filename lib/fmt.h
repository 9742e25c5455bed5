/*
 * Decimal formatting of unsigned integers into a buffer, without printf:
 * the hot paths of capture's row rendering, the broker's replies and the
 * client's requests. The digits are written two at a time from a table of
 * "00".."99", straight into the output; the caller provides the room (at
 * most 20 bytes for a uint64_t). The tables live in fmt.c.
 */
#ifndef SL_FMT_H
#define SL_FMT_H

#include <stdint.h>
#include <string.h>

extern const char sl_digit_pairs[201];
extern const uint64_t sl_pow10_u64[20];

/* Writes v (< 100) as two digits at p. */
static inline void sl_put_2digits(uint8_t *p, unsigned v) {
    memcpy(p, sl_digit_pairs + 2 * v, 2);
}

/* Writes v (< 10^n) as exactly n digits, zero-padded, at p. */
static inline void sl_put_digits(uint8_t *p, uint32_t v, unsigned n) {
    uint8_t *q = p + n;
    while (q - p >= 2) {
        q -= 2;
        sl_put_2digits(q, v % 100);
        v /= 100;
    }
    if (q > p)
        *p = (uint8_t)('0' + v % 10);
}

/* The number of decimal digits of v (1 for 0): the bit length times
 * log10(2) (1233 / 4096) is the count or one less, and one comparison
 * tells which. */
static inline unsigned sl_count_digits(uint64_t v) {
    unsigned t = ((unsigned)(64 - __builtin_clzll(v | 1)) * 1233) >> 12;
    return t + (v >= sl_pow10_u64[t]) + (v == 0);
}

/* Writes the n digits of v (n = sl_count_digits(v)) ending at p + n. */
static inline void sl_put_u64_digits(uint8_t *p, uint64_t v, unsigned n) {
    uint8_t *q = p + n;
    while (v >= ((uint64_t)1 << 32)) {
        q -= 2;
        sl_put_2digits(q, (unsigned)(v % 100));
        v /= 100;
    }
    /* The rest fits 32 bits, where division by a constant is cheaper. */
    uint32_t w = (uint32_t)v;
    while (w >= 100) {
        q -= 2;
        sl_put_2digits(q, w % 100);
        w /= 100;
    }
    if (w >= 10)
        sl_put_2digits(q - 2, w);
    else
        q[-1] = (uint8_t)('0' + w);
}

/* Writes v in decimal at p (up to 20 bytes, no NUL); returns the end. */
static inline char *sl_fmt_u64(char *p, uint64_t v) {
    unsigned n = sl_count_digits(v);
    sl_put_u64_digits((uint8_t *)p, v, n);
    return p + n;
}

#endif
