/*
 * Column values of row images, rendered as JSON (see the "Values" table of
 * docs/change-events.md for the form of each type).
 *
 * Storage formats (the row image holds only the value; the table map's
 * metadata says its size):
 *   TINY/SHORT/INT24/LONG/LONGLONG  1/2/3/4/8 bytes little-endian, two's
 *                                   complement unless unsigned
 *   FLOAT, DOUBLE                   IEEE 754 binary32/64 little-endian
 *   NEWDECIMAL(p,s)                 MySQL's decimal2bin: big-endian groups
 *                                   of 9 digits in 4 bytes (partial groups
 *                                   in 1-4 bytes), sign in the top bit of
 *                                   the first byte (set = positive; a
 *                                   negative value has every byte inverted)
 *   YEAR                            1 byte, year - 1900 (0 = 0000)
 *   DATE                            3 bytes LE: day 5 bits, month 4, year 15
 *   TIME                            3 bytes LE signed, HHMMSS as a number
 *   TIME2(fsp)                      3 bytes BE + 0x800000 offset, then
 *                                   ceil(fsp/2) fraction bytes BE
 *   DATETIME                        8 bytes LE, YYYYMMDDhhmmss as a number
 *   DATETIME2(fsp)                  5 bytes BE + 0x8000000000 offset: sign
 *                                   1, year*13+month 17, day 5, hour 5,
 *                                   minute 6, second 6; then the fraction
 *   TIMESTAMP                       4 bytes LE seconds since the epoch
 *   TIMESTAMP2(fsp)                 4 bytes BE seconds, then the fraction
 *   BIT(n)                          ceil(n/8) bytes big-endian
 *   ENUM, SET                       1-2 / 1-8 bytes LE index / bitmask
 *   CHAR, VARCHAR                   length (1 byte if the maximum is < 256
 *                                   bytes, else 2 LE) then the bytes
 *   BLOB/TEXT, JSON, GEOMETRY,      length (metadata bytes, 1-4, LE) then
 *   VECTOR                          the bytes (GEOMETRY: SRID u32le + WKB;
 *                                   VECTOR: float32 LE elements; JSON:
 *                                   MySQL binary JSON)
 *   BLOB_COMPRESSED (140),          MariaDB's COMPRESSED columns: the
 *   VARCHAR_COMPRESSED (141)        length prefix of BLOB / VARCHAR (the
 *                                   metadata, less the header byte, gives
 *                                   the column's maximum), then the stored
 *                                   bytes: none for an empty value, else
 *                                   a header byte and the rest. Its high
 *                                   nibble is the method: 0 = the value
 *                                   follows as is (shorter than
 *                                   column_compression_threshold, or it
 *                                   did not shrink); 8 = zlib, where bit 3
 *                                   set means a raw deflate stream (the
 *                                   default, column_compression_zlib_wrap
 *                                   = OFF), clear a zlib-wrapped one, and
 *                                   bits 0-2 are n (1-4): the value's
 *                                   length follows in n bytes big-endian,
 *                                   then the stream. The server writes
 *                                   no other form; any other is an error.
 */
#include "internal.h"
#include "json.h"
#include "json_bin.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#define V_FAIL(...) sl__dec_fail(dec, SL_ECORRUPT, __VA_ARGS__)

/* Writes fsp digits of usec (microseconds). */
static void put_frac(sl_buf_t *out, uint32_t usec, unsigned fsp) {
    if (fsp == 0)
        return;
    uint8_t *p = sl_buf_extend(out, 1 + fsp);
    if (p == NULL)
        return; /* Reported with the change (sl_buf_error()). */
    p[0] = '.';
    uint8_t d[6];
    sl_put_digits(d, usec, 6);
    memcpy(p + 1, d, fsp);
}

/* Writes "YYYY-MM-DD hh:mm:ss[.ffffff]" with its quotes straight into the
 * output: at most 29 bytes, reserved once. */
static void put_datetime(sl_buf_t *out, unsigned y, unsigned mo, unsigned d,
                         unsigned h, unsigned mi, unsigned s, uint32_t usec,
                         unsigned fsp) {
    if (out->cap - out->len < 32 && sl_buf_reserve(out, 32) != 0)
        return;
    uint8_t *p = out->data + out->len;
    y %= 10000;
    p[0] = '"';
    sl_put_2digits(p + 1, y / 100);
    sl_put_2digits(p + 3, y % 100);
    p[5] = '-';
    sl_put_2digits(p + 6, mo % 100);
    p[8] = '-';
    sl_put_2digits(p + 9, d % 100);
    p[11] = ' ';
    sl_put_2digits(p + 12, h % 100);
    p[14] = ':';
    sl_put_2digits(p + 15, mi % 100);
    p[17] = ':';
    sl_put_2digits(p + 18, s % 100);
    size_t n = 20;
    if (fsp > 0) {
        /* All six digits fit the reservation; fsp of them are kept. */
        p[n++] = '.';
        sl_put_digits(p + n, usec % 1000000, 6);
        n += fsp;
    }
    p[n++] = '"';
    out->len += n;
}

static void put_time(sl_buf_t *out, int neg, unsigned h, unsigned mi,
                     unsigned s, uint32_t usec, unsigned fsp) {
    /* "-hhh:mm:ss": the hours take at least two digits (at most ten). */
    uint8_t tmp[24];
    size_t n = 0;
    tmp[n++] = '"';
    if (neg)
        tmp[n++] = '-';
    unsigned hd = h < 100 ? 2 : sl_count_digits(h);
    sl_put_u64_digits(tmp + n, h, hd);
    if (h < 10)
        tmp[n] = '0';
    n += hd;
    tmp[n++] = ':';
    sl_put_2digits(tmp + n, mi % 100);
    n += 2;
    tmp[n++] = ':';
    sl_put_2digits(tmp + n, s % 100);
    n += 2;
    sl__dec_out_raw(out, tmp, n);
    put_frac(out, usec, fsp);
    sl__dec_out_c(out, '"');
}

/* The fraction of TIME2/DATETIME2/TIMESTAMP2: ceil(fsp/2) bytes BE,
 * scaled to microseconds. */
static int read_frac(sl_reader_t *rd, unsigned fsp, int32_t *usec,
                     unsigned *nbytes) {
    unsigned n = (fsp + 1) / 2;
    *nbytes = n;
    if (sl_reader_left(rd) < n)
        return SL_ETRUNC;
    uint32_t v = (uint32_t)sl_get_uNbe(rd->p, n);
    rd->p += n;
    static const int32_t scale[4] = {1, 10000, 100, 1};
    *usec = (int32_t)v * scale[n];
    return 0;
}

static const uint8_t dig2bytes[10] = {0, 1, 1, 2, 2, 3, 3, 4, 4, 4};
static const uint32_t pow10_u32[10] = {
    1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000};

/* Reads the digit groups of one part of a decimal (ndig digits; the
 * partial group first for the integer part, last for the fraction) as one
 * number: ndig <= 18 always fits. Returns -1 for a group out of range. */
static inline int decimal_group(const uint8_t *b, size_t *off, unsigned digits,
                                uint64_t *acc) {
    uint32_t g;
    switch (dig2bytes[digits]) {
    case 0: return 0;
    case 1: g = b[*off]; break;
    case 2: g = sl_get_u16be(b + *off); break;
    case 3: g = sl_get_u24be(b + *off); break;
    default: g = sl_get_u32be(b + *off); break;
    }
    *off += dig2bytes[digits];
    if (g >= pow10_u32[digits])
        return -1;
    *acc = *acc * pow10_u32[digits] + g;
    return 0;
}

static inline int decimal_part(const uint8_t *b, size_t *off, unsigned ndig,
                               int partial_first, uint64_t *v) {
    unsigned full = ndig / 9, part = ndig % 9;
    *v = 0;
    if (partial_first && decimal_group(b, off, part, v) != 0)
        return -1;
    for (unsigned i = 0; i < full; i++)
        if (decimal_group(b, off, 9, v) != 0)
            return -1;
    if (!partial_first && decimal_group(b, off, part, v) != 0)
        return -1;
    return 0;
}

/* DECIMAL with at most 18 digits on each side of the point (nearly every
 * column): each side is one integer, printed like the general path does
 * (no leading zeros, "0" for an empty integer part, the fraction padded to
 * scale digits, no sign on zero). b is the value with its sign bit and
 * negation undone. */
static int put_decimal_u64(sl_binlog_t *dec, const uint8_t *b, unsigned intg,
                           unsigned scale, int neg, sl_buf_t *out) {
    size_t off = 0;
    uint64_t ip, fp;
    if (decimal_part(b, &off, intg, 1, &ip) != 0 ||
        decimal_part(b, &off, scale, 0, &fp) != 0)
        return V_FAIL("DECIMAL digit group out of range");
    if (out->cap - out->len < 48 && sl_buf_reserve(out, 48) != 0)
        return 0; /* Reported with the change (sl_buf_error()). */
    uint8_t *p = out->data + out->len, *start = p;
    *p++ = '"';
    if (neg && (ip | fp) != 0)
        *p++ = '-';
    unsigned n = sl_count_digits(ip);
    sl_put_u64_digits(p, ip, n);
    p += n;
    if (scale > 0) {
        *p++ = '.';
        memset(p, '0', scale);
        n = sl_count_digits(fp);
        sl_put_u64_digits(p + scale - n, fp, n);
        p += scale;
    }
    *p++ = '"';
    out->len += (size_t)(p - start);
    return 0;
}

static int decode_newdecimal(sl_binlog_t *dec, const sl_column_t *col,
                             sl_reader_t *rd, sl_buf_t *out) {
    unsigned prec = col->meta >> 8, scale = col->meta & 255;
    /* MariaDB allows a scale up to 38 (DECIMAL_MAX_SCALE), MySQL 30. */
    if (prec == 0 || prec > 65 || scale > 38 || scale > prec)
        return V_FAIL("DECIMAL(%u,%u) metadata impossible", prec, scale);
    unsigned intg = prec - scale;
    unsigned intg0 = intg / 9, intg0x = intg % 9;
    unsigned frac0 = scale / 9, frac0x = scale % 9;
    size_t size = intg0 * 4 + dig2bytes[intg0x] + frac0 * 4 + dig2bytes[frac0x];
    if (sl_reader_left(rd) < size)
        return V_FAIL("DECIMAL value truncated");
    uint8_t b[40] = {0};
    sl__dec_copy(b, rd->p, size);
    rd->p += size;
    int neg = (b[0] & 0x80) == 0;
    b[0] ^= 0x80;
    if (neg)
        for (size_t i = 0; i < size; i++)
            b[i] ^= 0xFF;
    if (intg <= 18 && scale <= 18)
        return put_decimal_u64(dec, b, intg, scale, neg, out);
    char txt[100];
    size_t tn = 0;
    size_t off = 0;
    /* Integer part: all digits, leading zeros dropped afterwards. */
    if (intg0x) {
        unsigned nb = dig2bytes[intg0x];
        uint32_t v = (uint32_t)sl_get_uNbe(b + off, nb);
        off += nb;
        if (v >= pow10_u32[intg0x])
            return V_FAIL("DECIMAL digit group out of range");
        sl_put_digits((uint8_t *)txt + tn, v, (int)intg0x);
        tn += intg0x;
    }
    for (unsigned i = 0; i < intg0; i++) {
        uint32_t v = sl_get_u32be(b + off);
        off += 4;
        if (v > 999999999u)
            return V_FAIL("DECIMAL digit group out of range");
        sl_put_digits((uint8_t *)txt + tn, v, 9);
        tn += 9;
    }
    size_t lead = 0;
    while (lead + 1 < tn && txt[lead] == '0')
        lead++;
    sl__dec_out_c(out, '"');
    int allzero = 1;
    for (size_t i = 0; i < tn; i++)
        if (txt[i] != '0')
            allzero = 0;
    char frac[40];
    size_t fn = 0;
    for (unsigned i = 0; i < frac0; i++) {
        uint32_t v = sl_get_u32be(b + off);
        off += 4;
        if (v > 999999999u)
            return V_FAIL("DECIMAL digit group out of range");
        sl_put_digits((uint8_t *)frac + fn, v, 9);
        fn += 9;
    }
    if (frac0x) {
        unsigned nb = dig2bytes[frac0x];
        uint32_t v = (uint32_t)sl_get_uNbe(b + off, nb);
        off += nb;
        if (v >= pow10_u32[frac0x])
            return V_FAIL("DECIMAL digit group out of range");
        sl_put_digits((uint8_t *)frac + fn, v, (int)frac0x);
        fn += frac0x;
    }
    for (size_t i = 0; i < fn; i++)
        if (frac[i] != '0')
            allzero = 0;
    if (neg && !allzero)
        sl__dec_out_c(out, '-');
    if (tn == 0)
        sl__dec_out_c(out, '0');
    else
        sl__dec_out_raw(out, txt + lead, tn - lead);
    if (fn > 0) {
        sl__dec_out_c(out, '.');
        sl__dec_out_raw(out, frac, fn);
    }
    sl__dec_out_c(out, '"');
    return 0;
}

/* Shortest text that reads back as the same float: most values stored
 * from decimal literals need 6-7 digits. strtof is much cheaper than a
 * second printf, and cheaper than sscanf. */
static void put_float(sl_buf_t *out, float f) {
    char tmp[32];
    int n = 0;
    /* The range check comes first: casting an out-of-range value to an
     * integer is undefined behaviour. */
    if (fabsf(f) < 16777216.0f && f == (float)(int32_t)f) {
        sl__dec_out_i64(out, (int32_t)f);
        return;
    }
    for (int prec = 6; prec <= 9; prec++) {
        n = snprintf(tmp, sizeof(tmp), "%.*g", prec, (double)f);
        if (strtof(tmp, NULL) == f)
            break;
    }
    sl__dec_out_raw(out, tmp, (size_t)n);
}

static const double pow10_exact[23] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* The shortest decimal m / 10^k (k fraction digits) that reads back as d,
 * when one exists with |m| < 2^53: m and 10^k (k <= 22) are then exact
 * doubles, so m / 10^k is one correctly rounded IEEE division -- the same
 * value strtod gives for that decimal text. Returns 0 when the value needs
 * the general path. */
static int put_double_fast(sl_buf_t *out, double d) {
    double a = fabs(d);
    if (!(a >= 1e-7 && a < 1e15))
        return 0;
    for (int k = 1; k <= 17; k++) {
        double scaled = d * pow10_exact[k];
        double as = fabs(scaled);
        if (as >= 9007199254740992.0)
            return 0;
        /* The nearest integer, ties to even (llrint without the libm
         * call): below 2^52, adding and removing 2^52 rounds at the units;
         * above it every double is an integer. */
        double r = scaled;
        if (as < 4503599627370496.0)
            r = scaled >= 0
                    ? (scaled + 4503599627370496.0) - 4503599627370496.0
                    : (scaled - 4503599627370496.0) + 4503599627370496.0;
        /* A filter before the division: m / 10^k can only round to d
         * when |m - d * 10^k| <= 10^k * |d| * 2^-53, so |m - scaled| <=
         * |scaled| * 2^-52 (with scaled's own rounding); the bound below
         * is four times that. The difference is exact (Sterbenz). */
        if (fabs(scaled - r) > as * 0x1p-50)
            continue;
        int64_t m = (int64_t)r;
        if ((double)m / pow10_exact[k] != d)
            continue;
        uint8_t tmp[48];
        size_t n = 0;
        uint64_t u = m < 0 ? (uint64_t)0 - (uint64_t)m : (uint64_t)m;
        if (m < 0)
            tmp[n++] = '-';
        uint64_t ip = u / sl_pow10_u64[k], fp = u % sl_pow10_u64[k];
        unsigned id = sl_count_digits(ip);
        sl_put_u64_digits(tmp + n, ip, id);
        n += id;
        tmp[n++] = '.';
        /* The fraction has exactly k digits, leading zeros included. */
        memset(tmp + n, '0', (size_t)k);
        unsigned fd = sl_count_digits(fp);
        sl_put_u64_digits(tmp + n + (unsigned)k - fd, fp, fd);
        n += (size_t)k;
        sl__dec_out_raw(out, tmp, n);
        return 1;
    }
    return 0;
}

static void put_double(sl_buf_t *out, double d) {
    char tmp[40];
    int n = 0;
    if (fabs(d) < 9007199254740992.0 && d == (double)(int64_t)d) {
        sl__dec_out_i64(out, (int64_t)d);
        return;
    }
    if (put_double_fast(out, d))
        return;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    sl__dec_out_raw(out, tmp, (size_t)n);
}

void sl_fmtval_float(sl_buf_t *out, float f) { put_float(out, f); }

void sl_fmtval_double(sl_buf_t *out, double d) { put_double(out, d); }

static int get_len(sl_binlog_t *dec, sl_reader_t *rd, unsigned nbytes,
                   const uint8_t **p, size_t *n) {
    if (nbytes < 1 || nbytes > 4)
        return V_FAIL("length prefix of %u bytes", nbytes);
    if (sl_reader_left(rd) < nbytes)
        return V_FAIL("value length truncated");
    uint64_t l = sl_get_uNle(rd->p, nbytes);
    if (l > sl_reader_left(rd) - nbytes)
        return V_FAIL("value of %llu bytes overruns the event (%zu left)",
                      (unsigned long long)l, sl_reader_left(rd) - nbytes);
    *p = rd->p + nbytes;
    *n = (size_t)l;
    rd->p += nbytes + l;
    return 0;
}

static void put_hex(sl_buf_t *out, const uint8_t *p, size_t n) {
    static const char hex[] = "0123456789abcdef";
    uint8_t *o = sl_buf_extend(out, n * 2);
    if (o == NULL)
        return; /* Reported with the change (sl_buf_error()). */
    for (size_t i = 0; i < n; i++) {
        o[2 * i] = (uint8_t)hex[p[i] >> 4];
        o[2 * i + 1] = (uint8_t)hex[p[i] & 15];
    }
}

static int put_name(sl_binlog_t *dec, const sl_tablemap_t *tm_unused,
                    const uint8_t *raw, const sl_strref_t *s, sl_buf_t *out) {
    (void)tm_unused;
    (void)dec;
    const uint8_t *p = raw + s->off;
    if (sl_json_plain_prefix(p, s->len) == s->len)
        return sl__dec_out_raw(out, p, s->len);
    return sl_json_escape(out, p, s->len, NULL);
}

/* The table map a column belongs to: columns are stored inside their
 * table map's array, so find it by address. */
static const sl_tablemap_t *owner(const sl_binlog_t *dec,
                                  const sl_column_t *col) {
    for (uint32_t i = 0; i < dec->nmaps; i++) {
        const sl_tablemap_t *tm = &dec->maps[i];
        if (tm->cols != NULL && col >= tm->cols && col < tm->cols + tm->ncols)
            return tm;
    }
    return NULL;
}

/* "db.table column name" (or "@N" without names) for an error. */
static void column_label(const sl_binlog_t *dec, const sl_column_t *col,
                         char *buf, size_t cap) {
    const sl_tablemap_t *tm = owner(dec, col);
    if (tm == NULL) {
        snprintf(buf, cap, "a column");
        return;
    }
    const char *raw = (const char *)tm->raw.data;
    unsigned idx = (unsigned)(col - tm->cols);
    if (tm->has_names)
        snprintf(buf, cap, "table %.*s.%.*s column %.*s", (int)tm->db_len,
                 raw + tm->db_off, (int)tm->table_len, raw + tm->table_off,
                 (int)col->name_len, raw + col->name_off);
    else
        snprintf(buf, cap, "table %.*s.%.*s column @%u", (int)tm->db_len,
                 raw + tm->db_off, (int)tm->table_len, raw + tm->table_off,
                 idx + 1);
}

/* Values above this are inflated into dec->tmp2 and its memory is given
 * back afterwards, so one huge value does not stay resident. */
#define KEEP_SCRATCH (16u << 20)

/* The value of a COMPRESSED column (see the top of this file) from its
 * stored bytes p[0..n): points *val at p itself or at the value inflated
 * into dec->tmp2. max is the most the column can hold: a header claiming
 * more is corrupt, as the server reads it. The inflated stream must end
 * exactly at the declared length and at the end of the stored bytes; the
 * server writes nothing else, so anything else is damage, never a value
 * to publish. */
static int uncompress_value(sl_binlog_t *dec, const sl_column_t *col,
                            const uint8_t *p, size_t n, uint64_t max,
                            const uint8_t **val, size_t *vlen) {
    char what[320];
    if (n == 0) {
        *val = p;
        *vlen = 0;
        return 0;
    }
    unsigned method = p[0] >> 4;
    if (method == 0) {
        *val = p + 1;
        *vlen = n - 1;
        return 0;
    }
    column_label(dec, col, what, sizeof(what));
    if (method != 8)
        return V_FAIL("%s: COMPRESSED value with header byte 0x%02x: "
                      "compression method %u is unknown (MariaDB writes "
                      "0, stored, or 8, zlib)",
                      what, p[0], method);
    unsigned lenlen = p[0] & 7;
    if (lenlen < 1 || lenlen > 4 || n < 1 + (size_t)lenlen)
        return V_FAIL("%s: COMPRESSED value of %zu bytes with header byte "
                      "0x%02x: its length field of %u bytes is impossible",
                      what, n, p[0], lenlen);
    uint64_t ulen = sl_get_uNbe(p + 1, lenlen);
    if (ulen > max)
        return V_FAIL("%s: COMPRESSED value claims %llu bytes, more than "
                      "the column holds (%llu)",
                      what, (unsigned long long)ulen, (unsigned long long)max);
    if (ulen > SL_BINLOG_MAX_EVENT)
        return sl__dec_fail(dec, SL_ETOOBIG,
                            "%s: COMPRESSED value claims %llu bytes, more "
                            "than any server sends (max_allowed_packet)",
                            what, (unsigned long long)ulen);
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    if (inflateInit2(&zs, (p[0] & 8) ? -MAX_WBITS : MAX_WBITS) != Z_OK)
        return sl__dec_fail(dec, SL_ENOMEM, "%s: zlib: out of memory", what);
    /* One byte of room beyond the declared length, so a stream that runs
     * longer is caught as such rather than cut to fit. */
    sl_buf_reset(&dec->tmp2);
    if (sl_buf_reserve(&dec->tmp2, (size_t)ulen + 1) != 0) {
        inflateEnd(&zs);
        return sl__dec_fail(dec, SL_ENOMEM,
                            "%s: no memory for a COMPRESSED value of %llu "
                            "bytes",
                            what, (unsigned long long)ulen);
    }
    zs.next_in = (Bytef *)(uintptr_t)(p + 1 + lenlen);
    zs.avail_in = (uInt)(n - 1 - lenlen);
    zs.next_out = dec->tmp2.data;
    zs.avail_out = (uInt)(ulen + 1);
    int zrc = inflate(&zs, Z_FINISH);
    uLong got = zs.total_out;
    uInt rest = zs.avail_in;
    const char *zmsg = zs.msg ? zs.msg : "";
    char zm[128];
    snprintf(zm, sizeof(zm), "%s", zmsg);
    inflateEnd(&zs);
    if (zrc != Z_STREAM_END)
        return V_FAIL("%s: COMPRESSED value of %zu bytes does not inflate "
                      "to the %llu bytes its header says (zlib %d%s%s, "
                      "%lu bytes out)",
                      what, n, (unsigned long long)ulen, zrc, zm[0] ? ": " : "",
                      zm, (unsigned long)got);
    if (got != ulen || rest != 0)
        return V_FAIL("%s: COMPRESSED value inflates to %lu bytes, its "
                      "header says %llu, and %u stored bytes follow the "
                      "stream",
                      what, (unsigned long)got, (unsigned long long)ulen,
                      (unsigned)rest);
    dec->tmp2.len = (size_t)ulen;
    *val = dec->tmp2.data;
    *vlen = (size_t)ulen;
    return 0;
}

/* Text of a string column; the other formats write binary bytes their
 * own way (sluice: {"base64":...}). */
static inline int put_text(sl_binlog_t *dec, const sl_column_t *col,
                           const uint8_t *p, size_t n, sl_buf_t *out) {
    if (__builtin_expect(dec->opts.format != SL_FORMAT_SLUICE, 0) &&
        col->cs != NULL && col->cs->cls == SL_CS_BINARY)
        return sl__dec_fmt_bytes(dec, p, n, out);
    return sl__dec_text_to_json(dec, col->cs, p, n, out);
}

/* BLOB_COMPRESSED and VARCHAR_COMPRESSED: the length prefix as for BLOB
 * or VARCHAR, the stored bytes inflated, then text as for those types. */
static int decode_compressed(sl_binlog_t *dec, const sl_column_t *col,
                             sl_reader_t *rd, sl_buf_t *out) {
    const uint8_t *p, *val = NULL;
    size_t n, vlen = 0;
    uint64_t max;
    int rc;
    if (col->real_type == SL_T_VARCHAR_COMPRESSED) {
        rc = get_len(dec, rd, col->max_len > 255 ? 2 : 1, &p, &n);
        max = col->max_len - 1;
    } else {
        rc = get_len(dec, rd, col->meta, &p, &n);
        max = (1ull << (8 * col->meta)) - 1;
    }
    if (rc == 0)
        rc = uncompress_value(dec, col, p, n, max, &val, &vlen);
    if (rc == 0)
        rc = put_text(dec, col, val, vlen, out);
    if (dec->tmp2.cap > KEEP_SCRATCH)
        sl_buf_free(&dec->tmp2);
    return rc;
}

int sl__dec_value_truncated(sl_binlog_t *dec, const sl_column_t *col,
                            const sl_reader_t *rd) {
    return V_FAIL("value of type %u truncated (%zu bytes left in the event)",
                  col->real_type, sl_reader_left(rd));
}

int sl__dec_value_decode_other(sl_binlog_t *dec, const sl_column_t *col,
                               sl_reader_t *rd, sl_buf_t *out) {
    const uint8_t *p;
    size_t n;
    switch (col->real_type) {
    case SL_T_FLOAT: {
        if (sl_reader_left(rd) < 4)
            goto trunc;
        uint32_t bits = sl_get_u32le(rd->p);
        float f;
        memcpy(&f, &bits, 4);
        rd->p += 4;
        if (!isfinite(f))
            return V_FAIL("FLOAT value is not finite");
        put_float(out, f);
        return 0;
    }
    case SL_T_DOUBLE: {
        if (sl_reader_left(rd) < 8)
            goto trunc;
        uint64_t bits = sl_get_u64le(rd->p);
        double d;
        memcpy(&d, &bits, 8);
        rd->p += 8;
        if (!isfinite(d))
            return V_FAIL("DOUBLE value is not finite");
        put_double(out, d);
        return 0;
    }
    case SL_T_NEWDECIMAL: return decode_newdecimal(dec, col, rd, out);
    case SL_T_DECIMAL:
        return sl__dec_fail(dec, SL_EUNSUPPORTED,
                            "pre-5.0 DECIMAL column: its row format "
                            "needs the column's display width, which "
                            "the binlog does not carry");
    case SL_T_NULL: sl__dec_out_raw(out, "null", 4); return 0;
    case SL_T_YEAR:
        if (sl_reader_left(rd) < 1)
            goto trunc;
        sl__dec_out_u64(out, rd->p[0] ? 1900u + rd->p[0] : 0);
        rd->p += 1;
        return 0;
    case SL_T_DATE:
    case SL_T_NEWDATE: {
        if (sl_reader_left(rd) < 3)
            goto trunc;
        uint32_t v = sl_get_u24le(rd->p);
        rd->p += 3;
        if (__builtin_expect(dec->opts.format == SL_FORMAT_DEBEZIUM, 0)) {
            sl_tval_t tv = {.kind = SL_T_DATE,
                            .y = (v >> 9) % 10000,
                            .mo = (v >> 5) & 15,
                            .d = v & 31};
            return sl__dec_fmt_temporal(dec, col, &tv, out);
        }
        uint8_t tmp[12];
        tmp[0] = '"';
        sl_put_digits(tmp + 1, (v >> 9) % 10000, 4);
        tmp[5] = '-';
        sl_put_digits(tmp + 6, (v >> 5) & 15, 2);
        tmp[8] = '-';
        sl_put_digits(tmp + 9, v & 31, 2);
        tmp[11] = '"';
        sl__dec_out_raw(out, tmp, 12);
        return 0;
    }
    case SL_T_TIME: {
        if (sl_reader_left(rd) < 3)
            goto trunc;
        int32_t v = (int32_t)sl_get_u24le(rd->p);
        if (v & 0x800000)
            v -= 0x1000000;
        rd->p += 3;
        int neg = v < 0;
        uint32_t a = (uint32_t)(neg ? -v : v);
        if (__builtin_expect(dec->opts.format == SL_FORMAT_DEBEZIUM, 0)) {
            sl_tval_t tv = {.kind = SL_T_TIME,
                            .neg = neg,
                            .h = a / 10000,
                            .mi = (a / 100) % 100,
                            .s = a % 100};
            return sl__dec_fmt_temporal(dec, col, &tv, out);
        }
        put_time(out, neg, a / 10000, (a / 100) % 100, a % 100, 0, 0);
        return 0;
    }
    case SL_T_TIME2: {
        unsigned fsp = col->meta;
        if (fsp > 6)
            return V_FAIL("TIME fsp %u > 6", fsp);
        if (sl_reader_left(rd) < 3 + (fsp + 1) / 2)
            goto trunc;
        int64_t packed;
        if (fsp >= 5) {
            packed = (int64_t)sl_get_uNbe(rd->p, 6) - 0x800000000000LL;
            rd->p += 6;
        } else {
            int64_t intpart = (int64_t)sl_get_u24be(rd->p) - 0x800000;
            rd->p += 3;
            int64_t frac = 0;
            if (fsp >= 1) {
                unsigned nb = (fsp + 1) / 2;
                frac = (int64_t)sl_get_uNbe(rd->p, nb);
                rd->p += nb;
                if (intpart < 0 && frac != 0) {
                    intpart++;
                    frac -= nb == 1 ? 0x100 : 0x10000;
                }
                frac *= nb == 1 ? 10000 : 100;
            }
            packed = intpart * (1LL << 24) + frac;
        }
        int neg = packed < 0;
        uint64_t a = (uint64_t)(neg ? -packed : packed);
        uint64_t hms = a >> 24;
        uint32_t usec = (uint32_t)(a % (1 << 24));
        if (__builtin_expect(dec->opts.format == SL_FORMAT_DEBEZIUM, 0)) {
            sl_tval_t tv = {.kind = SL_T_TIME,
                            .neg = neg,
                            .h = (unsigned)((hms >> 12) % (1 << 10)),
                            .mi = (unsigned)((hms >> 6) % 64),
                            .s = (unsigned)(hms % 64),
                            .usec = usec,
                            .fsp = fsp};
            return sl__dec_fmt_temporal(dec, col, &tv, out);
        }
        put_time(out, neg, (unsigned)((hms >> 12) % (1 << 10)),
                 (unsigned)((hms >> 6) % 64), (unsigned)(hms % 64), usec, fsp);
        return 0;
    }
    case SL_T_DATETIME: {
        if (sl_reader_left(rd) < 8)
            goto trunc;
        uint64_t v = sl_get_u64le(rd->p);
        rd->p += 8;
        uint64_t d = v / 1000000, t = v % 1000000;
        if (__builtin_expect(dec->opts.format == SL_FORMAT_DEBEZIUM, 0)) {
            sl_tval_t tv = {.kind = SL_T_DATETIME,
                            .y = (unsigned)(d / 10000),
                            .mo = (unsigned)(d / 100 % 100),
                            .d = (unsigned)(d % 100),
                            .h = (unsigned)(t / 10000),
                            .mi = (unsigned)(t / 100 % 100),
                            .s = (unsigned)(t % 100)};
            return sl__dec_fmt_temporal(dec, col, &tv, out);
        }
        put_datetime(out, (unsigned)(d / 10000), (unsigned)(d / 100 % 100),
                     (unsigned)(d % 100), (unsigned)(t / 10000),
                     (unsigned)(t / 100 % 100), (unsigned)(t % 100), 0, 0);
        return 0;
    }
    case SL_T_DATETIME2: {
        unsigned fsp = col->meta, nb;
        if (fsp > 6)
            return V_FAIL("DATETIME fsp %u > 6", fsp);
        if (sl_reader_left(rd) < 5)
            goto trunc;
        int64_t intpart = (int64_t)sl_get_uNbe(rd->p, 5) - 0x8000000000LL;
        rd->p += 5;
        int32_t usec;
        if (read_frac(rd, fsp, &usec, &nb) != 0)
            goto trunc;
        if (intpart < 0)
            return V_FAIL("negative DATETIME");
        uint64_t ymdhms = (uint64_t)intpart;
        uint64_t ymd = ymdhms >> 17, ym = ymd >> 5, hms = ymdhms % (1 << 17);
        if (__builtin_expect(dec->opts.format == SL_FORMAT_DEBEZIUM, 0)) {
            sl_tval_t tv = {.kind = SL_T_DATETIME,
                            .y = (unsigned)(ym / 13),
                            .mo = (unsigned)(ym % 13),
                            .d = (unsigned)(ymd % 32),
                            .h = (unsigned)(hms >> 12),
                            .mi = (unsigned)((hms >> 6) % 64),
                            .s = (unsigned)(hms % 64),
                            .usec = (uint32_t)usec,
                            .fsp = fsp};
            return sl__dec_fmt_temporal(dec, col, &tv, out);
        }
        put_datetime(out, (unsigned)(ym / 13), (unsigned)(ym % 13),
                     (unsigned)(ymd % 32), (unsigned)(hms >> 12),
                     (unsigned)((hms >> 6) % 64), (unsigned)(hms % 64),
                     (uint32_t)usec, fsp);
        return 0;
    }
    case SL_T_TIMESTAMP:
    case SL_T_TIMESTAMP2: {
        unsigned fsp = col->real_type == SL_T_TIMESTAMP2 ? col->meta : 0, nb;
        if (fsp > 6)
            return V_FAIL("TIMESTAMP fsp %u > 6", fsp);
        if (sl_reader_left(rd) < 4)
            goto trunc;
        uint32_t secs = col->real_type == SL_T_TIMESTAMP2 ? sl_get_u32be(rd->p)
                                                          : sl_get_u32le(rd->p);
        rd->p += 4;
        int32_t usec = 0;
        if (read_frac(rd, fsp, &usec, &nb) != 0)
            goto trunc;
        if (__builtin_expect(dec->opts.format == SL_FORMAT_DEBEZIUM, 0)) {
            sl_tval_t tv = {.kind = SL_T_TIMESTAMP,
                            .secs = secs,
                            .usec = (uint32_t)usec,
                            .fsp = fsp};
            return sl__dec_fmt_temporal(dec, col, &tv, out);
        }
        if (secs == 0) {
            put_datetime(out, 0, 0, 0, 0, 0, 0, (uint32_t)usec, fsp);
            return 0;
        }
        /* Days since the epoch to a civil date (proleptic Gregorian, as
         * in H. Hinnant's days_from_civil inverse); no time zone: UTC. */
        uint32_t days = secs / 86400, sod = secs % 86400;
        uint32_t z = days + 719468, era = z / 146097;
        uint32_t doe = z - era * 146097;
        uint32_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        uint32_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        uint32_t mp = (5 * doy + 2) / 153;
        uint32_t day = doy - (153 * mp + 2) / 5 + 1;
        uint32_t mon = mp < 10 ? mp + 3 : mp - 9;
        uint32_t year = yoe + era * 400 + (mon <= 2);
        put_datetime(out, year, mon, day, sod / 3600, sod / 60 % 60, sod % 60,
                     (uint32_t)usec, fsp);
        return 0;
    }
    case SL_T_BIT: {
        unsigned bytes = (col->meta & 255) + ((col->meta >> 8) ? 1 : 0);
        if (bytes < 1 || bytes > 8)
            return V_FAIL("BIT of %u bytes", bytes);
        if (sl_reader_left(rd) < bytes)
            goto trunc;
        if (__builtin_expect(dec->opts.format == SL_FORMAT_DEBEZIUM, 0)) {
            int rc = sl__dec_fmt_bit(dec, col, rd->p, bytes, out);
            rd->p += bytes;
            return rc;
        }
        sl__dec_out_u64(out, sl_get_uNbe(rd->p, bytes));
        rd->p += bytes;
        return 0;
    }
    case SL_T_ENUM:
    case SL_T_SET: {
        unsigned nb = col->max_len;
        if (nb < 1 || nb > 8 || (col->real_type == SL_T_ENUM && nb > 2))
            return V_FAIL("%s of %u bytes",
                          col->real_type == SL_T_ENUM ? "ENUM" : "SET", nb);
        if (sl_reader_left(rd) < nb)
            goto trunc;
        uint64_t v = sl_get_uNle(rd->p, nb);
        rd->p += nb;
        const sl_tablemap_t *tm = col->strv_count ? owner(dec, col) : NULL;
        if (tm == NULL) {
            sl__dec_out_u64(out, v);
            return 0;
        }
        const sl_strref_t *names = tm->strv + col->strv_first;
        /* Maxwell writes a SET as an array of its members. */
        int arr =
            col->real_type == SL_T_SET && dec->opts.format == SL_FORMAT_MAXWELL;
        sl__dec_out_c(out, arr ? '[' : '"');
        if (col->real_type == SL_T_ENUM) {
            if (v > col->strv_count)
                return V_FAIL("ENUM index %llu of %u values",
                              (unsigned long long)v, col->strv_count);
            if (v > 0)
                put_name(dec, tm, tm->raw.data, &names[v - 1], out);
        } else {
            int first = 1;
            for (unsigned i = 0; i < 64 && v != 0; i++) {
                if (!((v >> i) & 1))
                    continue;
                if (i >= col->strv_count)
                    return V_FAIL("SET bit %u of %u values", i,
                                  col->strv_count);
                if (!first)
                    sl__dec_out_raw(out, arr ? "\",\"" : ",", arr ? 3 : 1);
                else if (arr)
                    sl__dec_out_c(out, '"');
                first = 0;
                put_name(dec, tm, tm->raw.data, &names[i], out);
                v &= ~(1ULL << i);
            }
            if (arr && !first)
                sl__dec_out_c(out, '"');
        }
        sl__dec_out_c(out, arr ? ']' : '"');
        return 0;
    }
    case SL_T_STRING:
    case SL_T_VARCHAR:
    case SL_T_VAR_STRING: {
        unsigned lb = col->max_len > 255 ? 2 : 1;
        int rc = get_len(dec, rd, lb, &p, &n);
        if (rc != 0)
            return rc;
        if (col->real_type == SL_T_STRING && col->cs != NULL &&
            col->cs->cls == SL_CS_BINARY && n < col->max_len) {
            /* BINARY(n): the server drops trailing zero bytes from the
             * row image and pads them back when it reads the row. */
            sl_buf_reset(&dec->tmp2);
            if (sl_buf_append(&dec->tmp2, p, n) != 0 ||
                sl_buf_reserve(&dec->tmp2, col->max_len - n) != 0)
                return sl__dec_fail(dec, SL_ENOMEM, "out of memory");
            memset(dec->tmp2.data + n, 0, col->max_len - n);
            dec->tmp2.len = col->max_len;
            return put_text(dec, col, dec->tmp2.data, dec->tmp2.len, out);
        }
        return put_text(dec, col, p, n, out);
    }
    case SL_T_BLOB: {
        int rc = get_len(dec, rd, col->meta, &p, &n);
        if (rc != 0)
            return rc;
        return put_text(dec, col, p, n, out);
    }
    case SL_T_BLOB_COMPRESSED:
    case SL_T_VARCHAR_COMPRESSED: return decode_compressed(dec, col, rd, out);
    case SL_T_JSON: {
        int rc = get_len(dec, rd, col->meta, &p, &n);
        if (rc != 0)
            return rc;
        if (n == 0) {
            sl__dec_out_raw(out, "null", 4);
            return 0;
        }
        if (__builtin_expect(dec->opts.format != SL_FORMAT_SLUICE &&
                                 dec->opts.format != SL_FORMAT_MAXWELL,
                             0))
            return sl__dec_fmt_json(dec, p, n, out);
        size_t mark = out->len;
        rc = sl_jsonb_to_json(p, n, out);
        if (rc != 0) {
            out->len = mark;
            return sl__dec_fail(dec, rc,
                                "binary JSON value of %zu bytes "
                                "does not decode: %s",
                                n, sl_strerror(rc));
        }
        return 0;
    }
    case SL_T_GEOMETRY: {
        int rc = get_len(dec, rd, col->meta, &p, &n);
        if (rc != 0)
            return rc;
        if (n < 4)
            return V_FAIL("GEOMETRY value of %zu bytes has no SRID", n);
        if (__builtin_expect(dec->opts.format != SL_FORMAT_SLUICE, 0))
            return sl__dec_fmt_geometry(dec, p, n, out);
        sl__dec_out_raw(out, "{\"srid\":", 8);
        sl__dec_out_u64(out, sl_get_u32le(p));
        sl__dec_out_raw(out, ",\"wkb\":\"", 8);
        put_hex(out, p + 4, n - 4);
        sl__dec_out_raw(out, "\"}", 2);
        return 0;
    }
    case SL_T_VECTOR: {
        int rc = get_len(dec, rd, col->meta, &p, &n);
        if (rc != 0)
            return rc;
        if (n % 4 != 0)
            return V_FAIL("VECTOR value of %zu bytes is not float32s", n);
        sl__dec_out_c(out, '[');
        for (size_t i = 0; i < n; i += 4) {
            uint32_t bits = sl_get_u32le(p + i);
            float f;
            memcpy(&f, &bits, 4);
            if (!isfinite(f))
                return V_FAIL("VECTOR element is not finite");
            if (i > 0)
                sl__dec_out_c(out, ',');
            put_float(out, f);
        }
        sl__dec_out_c(out, ']');
        return 0;
    }
    default:
        return sl__dec_fail(dec, SL_EUNSUPPORTED, "column type %u",
                            col->real_type);
    }
trunc:
    return sl__dec_value_truncated(dec, col, rd);
}
