/*
 * MySQL binary JSON to JSON text.
 *
 * Format (MySQL sql/json_binary.h; all integers little-endian):
 *
 *   doc      := type(1) value
 *   type     := 0x00 small object | 0x01 large object
 *             | 0x02 small array  | 0x03 large array
 *             | 0x04 literal | 0x05 int16 | 0x06 uint16 | 0x07 int32
 *             | 0x08 uint32  | 0x09 int64 | 0x0A uint64 | 0x0B double
 *             | 0x0C string  | 0x0F opaque
 *   object   := count size key-entry[count] value-entry[count] keys values
 *   array    := count size value-entry[count] values
 *     count, size:  uint16 in small containers, uint32 in large ones.
 *                   size is the byte size of the whole container value,
 *                   counted from the first byte of count.
 *     key-entry:    offset (uint16 | uint32), length (uint16)
 *     value-entry:  type(1), then uint16 | uint32 that is either the value
 *                   itself ("inlined": literals, int16, uint16 always,
 *                   int32 and uint32 in large containers) or the offset of
 *                   the value. Every offset is relative to the first byte
 *                   of count, i.e. to the container value after its type
 *                   byte, and the value's type is the entry's type byte.
 *   literal  := 0x00 null | 0x01 true | 0x02 false
 *   int/uint := 2, 4 or 8 bytes; double: 8 bytes IEEE 754
 *   string   := varlen utf8mb4-bytes
 *   opaque   := field-type(1) varlen bytes
 *   varlen   := 1 to 5 bytes, 7 bits each, least significant group first,
 *               high bit set on every byte but the last (a uint32).
 *
 * Opaque values carry a MySQL column type: NEWDECIMAL (246) holds
 * precision(1) scale(1) and the DECIMAL column encoding; DATE (10),
 * TIME (11), DATETIME (12) and TIMESTAMP (7) hold an 8-byte packed
 * temporal (MySQL's TIME_to_longlong_*_packed); VAR_STRING (253) is
 * printed as a string; any other type is printed as
 * "base64:type<N>:<base64 of the bytes>" (MySQL's base64, which breaks a
 * line after every 76 characters, the newline escaped as \n).
 *
 * A value is valid when every count, size, offset and length stays inside
 * its container (the root: inside len), every non-inlined value starts
 * after its container's header (so a nested value always starts strictly
 * after its parent and recursion always shrinks), nesting is at most
 * SL_JSONB_MAX_DEPTH containers, strings and keys are valid UTF-8, and
 * doubles are finite. MySQL never shares one value between two entries, so
 * at most len+1 values are visited and at most len string bytes printed;
 * a document that needs more (shared values built to blow up the output)
 * is corrupt.
 *
 * Partial JSON diffs, which print through this file's printer, are in
 * json_diff.c.
 */
#include "json_bin_int.h"

#include "bytes.h"
#include "error.h"
#include "fmt.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* MySQL column types that opaque values carry and that print specially. */
enum {
    MT_TIMESTAMP = 7,
    MT_DATE = 10,
    MT_TIME = 11,
    MT_DATETIME = 12,
    MT_NEWDECIMAL = 246,
    MT_VAR_STRING = 253,
};

static int charge(sl_jsonb_ctx_t *cx, size_t n) {
    if (n > cx->bytes_left)
        return SL_ECORRUPT;
    cx->bytes_left -= n;
    return 0;
}

static int puts_(sl_jsonb_ctx_t *cx, const char *s) {
    return sl__jsonb_put(cx, s, strlen(s));
}

/* ---- Containers -------------------------------------------------------- */

int sl__jsonb_cont_open(uint8_t type, const uint8_t *data, size_t avail,
                        int short_err, sl_jsonb_cont_t *c) {
    c->large = (type == SL_JT_LARGE_OBJ || type == SL_JT_LARGE_ARR);
    c->is_obj = (type == SL_JT_SMALL_OBJ || type == SL_JT_LARGE_OBJ);
    c->osz = c->large ? 4 : 2;
    if (avail < 2 * c->osz)
        return short_err;
    uint64_t count, bytes;
    if (c->large) {
        count = sl_get_u32le(data);
        bytes = sl_get_u32le(data + 4);
    } else {
        count = sl_get_u16le(data);
        bytes = sl_get_u16le(data + 2);
    }
    if (bytes > avail)
        return short_err;
    uint64_t hdr = 2 * c->osz;
    uint64_t key_entries = c->is_obj ? count * (c->osz + 2) : 0;
    hdr += key_entries + count * (1 + c->osz);
    if (hdr > bytes)
        return SL_ECORRUPT;
    c->base = data;
    c->bytes = (size_t)bytes;
    c->count = (uint32_t)count;
    c->hdr = (size_t)hdr;
    c->keys = 2 * c->osz + (size_t)key_entries;
    return 0;
}

int sl__jsonb_cont_key(const sl_jsonb_cont_t *c, uint32_t i,
                       const uint8_t **key, size_t *klen) {
    const uint8_t *e = c->base + 2 * c->osz + (size_t)i * (c->osz + 2);
    size_t off = c->large ? sl_get_u32le(e) : sl_get_u16le(e);
    size_t n = sl_get_u16le(e + c->osz);
    if (off < c->hdr || off > c->bytes || n > c->bytes - off)
        return SL_ECORRUPT;
    *key = c->base + off;
    *klen = n;
    return 0;
}

int sl__jsonb_cont_value(const sl_jsonb_cont_t *c, uint32_t i, uint8_t *type,
                         const uint8_t **data, size_t *avail) {
    const uint8_t *e = c->base + c->keys + (size_t)i * (1 + c->osz);
    uint8_t t = e[0];
    int inlined = t == SL_JT_LITERAL || t == SL_JT_INT16 || t == SL_JT_UINT16 ||
                  (c->large && (t == SL_JT_INT32 || t == SL_JT_UINT32));
    *type = t;
    if (inlined) {
        *data = e + 1;
        *avail = c->osz;
        return 0;
    }
    size_t off = c->large ? sl_get_u32le(e + 1) : sl_get_u16le(e + 1);
    if (off < c->hdr || off >= c->bytes)
        return SL_ECORRUPT;
    *data = c->base + off;
    *avail = c->bytes - off;
    return 0;
}

/* ---- Scalars ----------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at p (1..4), or 0 if invalid. */
static size_t utf8_len(const uint8_t *p, size_t left) {
    uint8_t c = p[0];
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        return left >= 2 && (p[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (left < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80)
            return 0;
        if ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] >= 0xA0))
            return 0; /* Overlong form or surrogate. */
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (left < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 ||
            (p[3] & 0xC0) != 0x80)
            return 0;
        if ((c == 0xF0 && p[1] < 0x90) || (c == 0xF4 && p[1] >= 0x90))
            return 0; /* Overlong form or above U+10FFFF. */
        return 4;
    }
    return 0;
}

/* Appends p as a quoted JSON string with MySQL's escapes (double_quote()
 * in sql/json_dom.cc): \" \\ \b \f \n \r \t, other control bytes as
 * \u00xx in lower case, everything else as is. */
int sl__jsonb_put_string(sl_jsonb_ctx_t *cx, const uint8_t *p, size_t n) {
    static const char hex[] = "0123456789abcdef";
    int err = charge(cx, n);
    if (err)
        return err;
    if (sl_buf_reserve(cx->out, n + 2) != 0)
        return SL_ENOMEM;
    if ((err = sl__jsonb_put(cx, "\"", 1)))
        return err;
    size_t i = 0, run = 0;
    while (i < n) {
        uint8_t c = p[i];
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            i++;
            continue;
        }
        if (c >= 0x80) {
            size_t k = utf8_len(p + i, n - i);
            if (k == 0)
                return SL_ECORRUPT;
            i += k;
            continue;
        }
        if ((err = sl__jsonb_put(cx, p + run, i - run)))
            return err;
        char esc[6] = {'\\', (char)c, 0, 0, 0, 0};
        size_t elen = 2;
        switch (c) {
        case '"':
        case '\\': break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            elen = 6;
        }
        if ((err = sl__jsonb_put(cx, esc, elen)))
            return err;
        i++;
        run = i;
    }
    if ((err = sl__jsonb_put(cx, p + run, n - run)))
        return err;
    return sl__jsonb_put(cx, "\"", 1);
}

/* Reads MySQL's variable-length string length (at most 5 bytes, < 2^32). */
static int read_varlen(const uint8_t *p, size_t avail, int short_err,
                       size_t *len, size_t *used) {
    uint64_t v = 0;
    for (size_t i = 0; i < 5; i++) {
        if (i >= avail)
            return short_err;
        v |= (uint64_t)(p[i] & 0x7F) << (7 * i);
        if ((p[i] & 0x80) == 0) {
            if (v > UINT32_MAX)
                return SL_ECORRUPT;
            *len = (size_t)v;
            *used = i + 1;
            return 0;
        }
    }
    return SL_ECORRUPT;
}

/* Splits the "%.*e" text t of a non-negative number into its digits and
 * decimal exponent. */
static void split_e(const char *t, char *digits, size_t *nd, int *exp10) {
    *nd = 0;
    for (; *t && *t != 'e'; t++)
        if (*t != '.')
            digits[(*nd)++] = *t;
    *exp10 = atoi(t + 1);
}

static int roundtrips(const char *digits, size_t nd, int exp10, double a) {
    char t[48];
    snprintf(t, sizeof t, "%c.%.*se%d", digits[0], (int)nd - 1, digits + 1,
             exp10);
    return strtod(t, NULL) == a;
}

/* Whether a prec-digit decimal reads back as a: the nearest one, or at a
 * power of two (where the gap below a is half the gap above) the next one
 * up, which may still round back to a when the nearest does not. On
 * success digits/nd/exp10 hold it. */
static int try_prec(double a, int prec, char *digits, size_t *nd, int *exp10) {
    char tmp[40], up[24];
    snprintf(tmp, sizeof tmp, "%.*e", prec - 1, a);
    split_e(tmp, digits, nd, exp10);
    if (strtod(tmp, NULL) == a)
        return 1;
    int uexp = *exp10, i = (int)*nd - 1;
    memcpy(up, digits, *nd);
    while (i >= 0 && up[i] == '9')
        up[i--] = '0';
    if (i >= 0) {
        up[i]++;
    } else {
        up[0] = '1';
        uexp++;
    }
    if (!roundtrips(up, *nd, uexp, a))
        return 0;
    memcpy(digits, up, *nd);
    *exp10 = uexp;
    return 1;
}

/* The shortest digits that read back as a (>= 0), as dtoa's shortest mode
 * finds them. Trying every length with printf and strtod is slow, so for
 * normal numbers a length is only tried when the 17-digit form S is close
 * to a decimal of that length: a round-tripping y is within half an ulp
 * (< 11.1 units of S's last digit) of a, and S within 0.5 units, so y can
 * only exist when S is within 11.6 units of a prec-digit boundary. */
static void shortest_digits(double a, char *digits, size_t *nd, int *exp10) {
    char s17[40], d17[24];
    size_t n17;
    int e17;
    snprintf(s17, sizeof s17, "%.16e", a);
    split_e(s17, d17, &n17, &e17);
    int normal = a >= DBL_MIN;
    for (int prec = 1; prec <= 16; prec++) {
        if (normal) {
            uint64_t tail = 0, full = 1;
            for (int i = prec; i < 17; i++) {
                tail = tail * 10 + (uint64_t)(d17[i] - '0');
                full *= 10;
            }
            uint64_t dist = tail < full - tail ? tail : full - tail;
            if (dist > 100)
                continue;
        }
        if (try_prec(a, prec, digits, nd, exp10))
            return;
    }
    /* 17 significant digits always round-trip. */
    memcpy(digits, d17, n17);
    *nd = n17;
    *exp10 = e17;
}

/* Formats v as MySQL's my_gcvt(v, MY_GCVT_ARG_DOUBLE, 34) does, then adds
 * ".0" when the text has neither '.' nor 'e' (json_dom.cc does this so a
 * double stays distinguishable from an integer). The digits are the
 * shortest that read back as v (dtoa mode 4 with ndigits 34 yields these,
 * since a double never needs more than 17). The layout rule, from
 * my_gcvt() with that width: fixed notation when the decimal exponent
 * decpt (value = 0.DIGITS x 10^decpt) is in [-14, 15], or above 15 while
 * there are more digits than decpt; otherwise "D.DDDe[-]X" with no '+' and
 * no exponent padding. */
static int format_double(double v, char *buf, size_t cap) {
    char digits[24];
    if (!isfinite(v) || cap < 40)
        return SL_EINVAL;
    int neg = signbit(v) != 0;
    size_t nd = 0;
    int exp10 = 0;
    shortest_digits(fabs(v), digits, &nd, &exp10);
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    digits[nd] = 0;
    int len = (int)nd;
    int decpt = exp10 + 1;
    if (v == 0) {
        len = 1;
        decpt = 1;
    }
    int width = neg ? 33 : 34;
    int fixed_len = decpt <= 0    ? len - decpt + 2
                    : decpt < len ? len + 1
                                  : decpt;
    int have_space = fixed_len <= width;
    char *o = buf;
    if (neg)
        *o++ = '-';
    if (have_space && decpt >= -14 && (decpt <= 15 || len > decpt)) {
        if (decpt <= 0) {
            *o++ = '0';
            *o++ = '.';
            for (int i = decpt; i < 0; i++)
                *o++ = '0';
            memcpy(o, digits, (size_t)len);
            o += len;
        } else {
            for (int i = 0; i < len; i++) {
                *o++ = digits[i];
                if (i + 1 == decpt && i + 1 < len)
                    *o++ = '.';
            }
            for (int i = len; i < decpt; i++)
                *o++ = '0';
        }
    } else {
        *o++ = digits[0];
        if (len > 1) {
            *o++ = '.';
            memcpy(o, digits + 1, (size_t)len - 1);
            o += len - 1;
        }
        o += snprintf(o, 8, "e%d", decpt - 1);
    }
    *o = 0;
    if (strchr(buf, '.') == NULL && strchr(buf, 'e') == NULL) {
        *o++ = '.';
        *o++ = '0';
        *o = 0;
    }
    return (int)(o - buf);
}

/* DECIMAL: precision(1) scale(1) then the binary form of a DECIMAL(p,s)
 * column: big-endian groups of 9 digits in 4 bytes, a leading and a
 * trailing partial group in fewer bytes, the sign bit of the first byte
 * flipped, every byte inverted for a negative number. Printed like
 * decimal2string(): sign, integer digits without leading zeros (at least
 * "0"), then '.' and exactly scale digits. */
static int put_decimal(sl_jsonb_ctx_t *cx, const uint8_t *p, size_t n) {
    static const int dig2bytes[10] = {0, 1, 1, 2, 2, 3, 3, 4, 4, 4};
    static const uint32_t pow10[10] = {1,         10,        100,     1000,
                                       10000,     100000,    1000000, 10000000,
                                       100000000, 1000000000};
    if (n < 2)
        return SL_ECORRUPT;
    int prec = p[0], scale = p[1];
    if (prec < 1 || prec > 65 || scale > 30 || scale > prec)
        return SL_ECORRUPT;
    int intg = prec - scale;
    int intg0 = intg / 9, intg0x = intg % 9;
    int frac0 = scale / 9, frac0x = scale % 9;
    size_t size =
        (size_t)(intg0 * 4 + dig2bytes[intg0x] + frac0 * 4 + dig2bytes[frac0x]);
    if (n - 2 != size)
        return SL_ECORRUPT;
    uint8_t b[40];
    memcpy(b, p + 2, size);
    uint8_t mask = (b[0] & 0x80) ? 0 : 0xFF;
    b[0] ^= 0x80;
    char text[100];
    char *o = text + 1; /* Room for the sign. */
    size_t pos = 0;
    /* Reads one group of k bytes holding at most d digits. */
#define DEC_GROUP(k, d, val)                                                   \
    do {                                                                       \
        uint32_t x_ = 0;                                                       \
        for (int j_ = 0; j_ < (k); j_++)                                       \
            x_ = (x_ << 8) | (uint8_t)(b[pos++] ^ mask);                       \
        if (x_ >= pow10[(d)])                                                  \
            return SL_ECORRUPT;                                                \
        (val) = x_;                                                            \
    } while (0)
    uint32_t g;
    if (intg0x) {
        DEC_GROUP(dig2bytes[intg0x], intg0x, g);
        sl_put_digits((uint8_t *)o, g, (unsigned)intg0x);
        o += intg0x;
    }
    for (int i = 0; i < intg0; i++) {
        DEC_GROUP(4, 9, g);
        sl_put_digits((uint8_t *)o, g, 9);
        o += 9;
    }
    /* Strip leading zeros of the integer part, keeping one digit. */
    char *int_start = text + 1;
    size_t ilen = (size_t)(o - int_start);
    size_t z = 0;
    while (z + 1 < ilen && int_start[z] == '0')
        z++;
    if (ilen == 0) {
        *o++ = '0';
    } else if (z) {
        memmove(int_start, int_start + z, ilen - z);
        o -= z;
    }
    if (scale) {
        *o++ = '.';
        for (int i = 0; i < frac0; i++) {
            DEC_GROUP(4, 9, g);
            sl_put_digits((uint8_t *)o, g, 9);
            o += 9;
        }
        if (frac0x) {
            DEC_GROUP(dig2bytes[frac0x], frac0x, g);
            sl_put_digits((uint8_t *)o, g, (unsigned)frac0x);
            o += frac0x;
        }
    }
#undef DEC_GROUP
    *o = 0;
    char *start = text + 1;
    int nonzero = 0;
    for (char *q = start; *q; q++)
        if (*q >= '1' && *q <= '9')
            nonzero = 1;
    if (mask && nonzero)
        *--start = '-';
    return sl__jsonb_put(cx, start, (size_t)(o - start));
}

/* DATE, TIME, DATETIME and TIMESTAMP from MySQL's 8-byte packed form,
 * printed by my_TIME_to_str(t, 6): "YYYY-MM-DD", "[-]HH:MM:SS.ffffff"
 * (hours may exceed 24) and "YYYY-MM-DD HH:MM:SS.ffffff", quoted. */
static int put_temporal(sl_jsonb_ctx_t *cx, uint8_t mtype, const uint8_t *p,
                        size_t n) {
    if (n != 8)
        return SL_ECORRUPT;
    int64_t v = (int64_t)sl_get_u64le(p);
    int neg = v < 0;
    if (v == INT64_MIN)
        return SL_ECORRUPT;
    uint64_t u = (uint64_t)(neg ? -v : v);
    uint32_t frac = (uint32_t)(u & 0xFFFFFF);
    uint64_t ipart = u >> 24;
    if (frac > 999999)
        return SL_ECORRUPT;
    char text[80];
    if (mtype == MT_TIME) {
        unsigned hour = (unsigned)((ipart >> 12) % (1u << 10));
        unsigned minute = (unsigned)((ipart >> 6) % (1u << 6));
        unsigned second = (unsigned)(ipart % (1u << 6));
        snprintf(text, sizeof text, "\"%s%02u:%02u:%02u.%06" PRIu32 "\"",
                 neg ? "-" : "", hour, minute, second, frac);
    } else {
        uint64_t ymd = ipart >> 17, ym = ymd >> 5, hms = ipart % (1u << 17);
        unsigned day = (unsigned)(ymd % (1u << 5));
        unsigned month = (unsigned)(ym % 13);
        unsigned year = (unsigned)(ym / 13);
        unsigned second = (unsigned)(hms % (1u << 6));
        unsigned minute = (unsigned)((hms >> 6) % (1u << 6));
        unsigned hour = (unsigned)(hms >> 12);
        if (mtype == MT_DATE)
            snprintf(text, sizeof text, "\"%04u-%02u-%02u\"", year, month, day);
        else
            snprintf(text, sizeof text,
                     "\"%04u-%02u-%02u %02u:%02u:%02u.%06" PRIu32 "\"", year,
                     month, day, hour, minute, second, frac);
    }
    return puts_(cx, text);
}

/* "base64:type<N>:" then MySQL's base64 (RFC 4648 alphabet, padded, a
 * newline after every 76 characters when more follow), quoted. */
static int put_opaque_b64(sl_jsonb_ctx_t *cx, uint8_t mtype, const uint8_t *p,
                          size_t n) {
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char head[32];
    int err;
    snprintf(head, sizeof head, "\"base64:type%u:", (unsigned)mtype);
    if ((err = puts_(cx, head)))
        return err;
    if (sl_buf_reserve(cx->out, (n + 2) / 3 * 4 + n / 57 * 2 + 1) != 0)
        return SL_ENOMEM;
    size_t line = 0;
    for (size_t i = 0; i < n; i += 3) {
        if (line == 76) {
            if ((err = sl__jsonb_put(cx, "\\n", 2)))
                return err;
            line = 0;
        }
        uint32_t c = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            c |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            c |= p[i + 2];
        char q[4] = {tab[(c >> 18) & 63], tab[(c >> 12) & 63],
                     i + 1 < n ? tab[(c >> 6) & 63] : '=',
                     i + 2 < n ? tab[c & 63] : '='};
        if ((err = sl__jsonb_put(cx, q, 4)))
            return err;
        line += 4;
    }
    return sl__jsonb_put(cx, "\"", 1);
}

static int emit_container(sl_jsonb_ctx_t *cx, uint8_t type, const uint8_t *data,
                          size_t avail, int depth, int short_err) {
    sl_jsonb_cont_t c;
    int err = sl__jsonb_cont_open(type, data, avail, short_err, &c);
    if (err)
        return err;
    if (depth + 1 > SL_JSONB_MAX_DEPTH)
        return SL_ECORRUPT;
    if ((err = sl__jsonb_put(cx, c.is_obj ? "{" : "[", 1)))
        return err;
    for (uint32_t i = 0; i < c.count; i++) {
        if (i > 0 && (err = sl__jsonb_put(cx, ", ", 2)))
            return err;
        if (c.is_obj) {
            const uint8_t *key;
            size_t klen;
            if ((err = sl__jsonb_cont_key(&c, i, &key, &klen)) ||
                (err = sl__jsonb_put_string(cx, key, klen)) ||
                (err = sl__jsonb_put(cx, ": ", 2)))
                return err;
        }
        uint8_t t;
        const uint8_t *vp;
        size_t vn;
        if ((err = sl__jsonb_cont_value(&c, i, &t, &vp, &vn)) ||
            (err = sl__jsonb_emit_value(cx, t, vp, vn, depth + 1, SL_ECORRUPT)))
            return err;
    }
    return sl__jsonb_put(cx, c.is_obj ? "}" : "]", 1);
}

int sl__jsonb_emit_value(sl_jsonb_ctx_t *cx, uint8_t type, const uint8_t *data,
                         size_t avail, int depth, int short_err) {
    char num[48];
    int err = sl__jsonb_visit(cx);
    if (err)
        return err;
    switch (type) {
    case SL_JT_SMALL_OBJ:
    case SL_JT_LARGE_OBJ:
    case SL_JT_SMALL_ARR:
    case SL_JT_LARGE_ARR:
        return emit_container(cx, type, data, avail, depth, short_err);
    case SL_JT_LITERAL:
        if (avail < 1)
            return short_err;
        switch (data[0]) {
        case 0: return puts_(cx, "null");
        case 1: return puts_(cx, "true");
        case 2: return puts_(cx, "false");
        default: return SL_ECORRUPT;
        }
    case SL_JT_INT16:
        if (avail < 2)
            return short_err;
        snprintf(num, sizeof num, "%d", (int16_t)sl_get_u16le(data));
        return puts_(cx, num);
    case SL_JT_UINT16:
        if (avail < 2)
            return short_err;
        snprintf(num, sizeof num, "%u", (unsigned)sl_get_u16le(data));
        return puts_(cx, num);
    case SL_JT_INT32:
        if (avail < 4)
            return short_err;
        snprintf(num, sizeof num, "%" PRId32, (int32_t)sl_get_u32le(data));
        return puts_(cx, num);
    case SL_JT_UINT32:
        if (avail < 4)
            return short_err;
        snprintf(num, sizeof num, "%" PRIu32, sl_get_u32le(data));
        return puts_(cx, num);
    case SL_JT_INT64:
        if (avail < 8)
            return short_err;
        snprintf(num, sizeof num, "%" PRId64, (int64_t)sl_get_u64le(data));
        return puts_(cx, num);
    case SL_JT_UINT64:
        if (avail < 8)
            return short_err;
        snprintf(num, sizeof num, "%" PRIu64, sl_get_u64le(data));
        return puts_(cx, num);
    case SL_JT_DOUBLE: {
        if (avail < 8)
            return short_err;
        uint64_t bits = sl_get_u64le(data);
        double d;
        memcpy(&d, &bits, sizeof d);
        if (format_double(d, num, sizeof num) < 0)
            return SL_ECORRUPT; /* MySQL cannot store NaN or infinity. */
        return puts_(cx, num);
    }
    case SL_JT_STRING: {
        size_t n = 0, used = 0;
        if ((err = read_varlen(data, avail, short_err, &n, &used)))
            return err;
        if (n > avail - used)
            return short_err;
        return sl__jsonb_put_string(cx, data + used, n);
    }
    case SL_JT_OPAQUE: {
        size_t n = 0, used = 0;
        if (avail < 1)
            return short_err;
        uint8_t mtype = data[0];
        if ((err = read_varlen(data + 1, avail - 1, short_err, &n, &used)))
            return err;
        if (n > avail - 1 - used)
            return short_err;
        const uint8_t *p = data + 1 + used;
        if ((err = charge(cx, n)))
            return err;
        switch (mtype) {
        case MT_NEWDECIMAL: return put_decimal(cx, p, n);
        case MT_DATE:
        case MT_TIME:
        case MT_DATETIME:
        case MT_TIMESTAMP: return put_temporal(cx, mtype, p, n);
        case MT_VAR_STRING:
            cx->bytes_left += n; /* put_string charges it again. */
            return sl__jsonb_put_string(cx, p, n);
        default: return put_opaque_b64(cx, mtype, p, n);
        }
    }
    default: return SL_ECORRUPT;
    }
}

int sl_jsonb_to_json(const uint8_t *data, size_t len, sl_buf_t *out) {
    size_t mark = out->len;
    sl_jsonb_ctx_t cx;
    int err;
    sl__jsonb_ctx_init(&cx, out, len);
    if (len == 0)
        err = puts_(&cx, "null");
    else
        err =
            sl__jsonb_emit_value(&cx, data[0], data + 1, len - 1, 0, SL_ETRUNC);
    if (err)
        out->len = mark;
    return err;
}
