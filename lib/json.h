/*
 * A streaming JSON writer into an sl_buf_t.
 *
 * The writer tracks nesting and inserts commas itself, so callers emit
 * values in order: sl_json_obj_begin(), sl_json_key(), a value, ...,
 * sl_json_obj_end(). It never allocates beyond the target buffer.
 *
 * String escaping rule (documented in docs/change-events.md too):
 *  - '"' and '\\' are escaped; \b \f \n \r \t use their short forms; other
 *    bytes below 0x20 and 0x7F are written as \u00XX;
 *  - U+2028 and U+2029 are written as \u2028 and \u2029, so the output is
 *    also valid JavaScript;
 *  - valid UTF-8 (shortest form, no surrogates, at most U+10FFFF) is copied
 *    as is;
 *  - each byte of an invalid UTF-8 sequence (stray continuation byte,
 *    truncated sequence, overlong form, surrogate, value above U+10FFFF) is
 *    replaced by U+FFFD, written as the three bytes EF BF BD. Callers that
 *    must not lose bytes (binary columns) encode them with
 *    sl_json_base64() instead; sl_json_string_checked() tells them whether
 *    a replacement happened.
 */
#ifndef SL_JSON_H
#define SL_JSON_H

#include "buf.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define SL_JSON_MAX_DEPTH 64

/* Whether the eight bytes at p are all printable ASCII other than '"' and
 * '\\', which a JSON string holds as is. Word arithmetic: for a word w,
 * (w - 0x01..01) & ~w & 0x80..80 is nonzero exactly when some byte of w is
 * zero, and (w - 0x20..20) & ~w & 0x80..80 when some byte is below 0x20
 * (for bytes without their top bit, which is tested apart). */
static inline int sl_json_plain_word(const uint8_t *p) {
    const uint64_t ones = 0x0101010101010101ull;
    const uint64_t high = 0x8080808080808080ull;
    uint64_t w;
    memcpy(&w, p, 8);
    uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\'), d = w ^ (ones * 0x7F);
    uint64_t bad = w | ((w - ones * 0x20) & ~w) | ((q - ones) & ~q) |
                   ((b - ones) & ~b) | ((d - ones) & ~d);
    return (bad & high) == 0;
}

/* The length of the longest prefix of p[0..n) that a JSON string holds as
 * is: sixteen bytes at a time with SSE2 (every x86-64 has it), eight at a
 * time elsewhere. */
static inline size_t sl_json_plain_prefix(const uint8_t *p, size_t n) {
    size_t i = 0;
#if defined(__SSE2__)
    if (n >= 16) {
        /* A signed compare with 0x20 also catches the bytes >= 0x80. */
        const __m128i ctl = _mm_set1_epi8(0x20), quote = _mm_set1_epi8('"'),
                      bsl = _mm_set1_epi8('\\'), del = _mm_set1_epi8(0x7F);
        for (;;) {
            /* The last block overlaps checked bytes rather than run a
             * byte loop over the remainder. */
            size_t at = n - i >= 16 ? i : n - 16;
            __m128i v =
                _mm_loadu_si128((const __m128i *)(const void *)(p + at));
            __m128i bad = _mm_or_si128(
                _mm_or_si128(_mm_cmplt_epi8(v, ctl), _mm_cmpeq_epi8(v, quote)),
                _mm_or_si128(_mm_cmpeq_epi8(v, bsl), _mm_cmpeq_epi8(v, del)));
            unsigned mask = (unsigned)_mm_movemask_epi8(bad);
            if (mask != 0)
                return at + (size_t)__builtin_ctz(mask);
            if (at + 16 == n)
                return n;
            i = at + 16;
        }
    }
#endif
    for (; n - i >= 8; i += 8)
        if (!sl_json_plain_word(p + i))
            break;
    /* The last partial word: the eight bytes ending at n overlap checked
     * ones, and settle the usual all-plain case without a byte loop. */
    if (i < n && n - i < 8 && n >= 8 && sl_json_plain_word(p + n - 8))
        return n;
    for (; i < n; i++) {
        uint8_t c = p[i];
        if (c < 0x20 || c >= 0x7F || c == '"' || c == '\\')
            break;
    }
    return i;
}

typedef struct {
    sl_buf_t *out; /* Not owned. */
    int depth;     /* Current nesting level. */
    int err;       /* First error seen; later calls do nothing. */
    uint8_t need_comma[SL_JSON_MAX_DEPTH + 1];
    uint8_t after_key; /* A key was written; the value needs no comma. */
} sl_json_t;

/* Starts writing into out (appending; out stays owned by the caller). */
void sl_json_init(sl_json_t *json, sl_buf_t *out);
/* Returns the first error (SL_ENOMEM, or SL_EINVAL for bad nesting). */
static inline int sl_json_error(const sl_json_t *json) { return json->err; }

void sl_json_obj_begin(sl_json_t *json);
void sl_json_obj_end(sl_json_t *json);
void sl_json_arr_begin(sl_json_t *json);
void sl_json_arr_end(sl_json_t *json);
/* Writes an object key (escaped like a string) and its colon. */
void sl_json_key(sl_json_t *json, const char *key);
void sl_json_keyn(sl_json_t *json, const char *key, size_t len);
void sl_json_str(sl_json_t *json, const char *str);
void sl_json_strn(sl_json_t *json, const void *str, size_t len);
/* Like sl_json_strn, and sets *replaced to 1 if any byte became U+FFFD. */
void sl_json_string_checked(sl_json_t *json, const void *str, size_t len,
                            int *replaced);
void sl_json_int(sl_json_t *json, int64_t v);
void sl_json_uint(sl_json_t *json, uint64_t v);
/* Finite doubles use the shortest %.17g form that round-trips; NaN and
 * infinities, which JSON cannot hold, are written as strings. */
void sl_json_double(sl_json_t *json, double v);
void sl_json_bool(sl_json_t *json, int v);
void sl_json_null(sl_json_t *json);
/* Writes len bytes that are already valid JSON (a number, or a document). */
void sl_json_raw(sl_json_t *json, const char *raw, size_t len);
/* Writes bytes as a standard base64 (RFC 4648, padded) JSON string. */
void sl_json_base64(sl_json_t *json, const void *data, size_t len);

/* Appends the escaped body of a JSON string (no quotes) to out. Returns
 * 0 or SL_ENOMEM; sets *replaced when given and a byte became U+FFFD. */
int sl_json_escape(sl_buf_t *out, const void *str, size_t len, int *replaced);

/* Appends standard padded base64 of data to out. */
int sl_base64_encode(sl_buf_t *out, const void *data, size_t len);

#endif
