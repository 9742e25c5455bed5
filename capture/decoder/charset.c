/*
 * Column text to UTF-8 JSON strings.
 *
 * A collation id (from the table map's optional metadata, or a query's
 * status variables) names a character set. utf8mb3/utf8mb4 are validated
 * and copied, latin1 (MySQL's latin1 is Windows-1252 with 0x81, 0x8D,
 * 0x8F, 0x90 and 0x9D mapped to the C1 controls) and ascii are mapped by
 * table, binary becomes {"base64": ...}, and every other character set
 * is converted with glibc's iconv(3). A character set glibc cannot
 * convert (keybcs2, swe7, dec8) or bytes that are not valid in the
 * column's character set are errors: text is never silently altered.
 *
 * Collation ids: MySQL's and MariaDB's share 1-255 (MySQL 8 adds utf8mb4
 * 255-323 and gb18030 248-250); MariaDB adds NO PAD variants at id + 1024
 * (1025-1279), "mysql561" variants at 576-767 and UCA 14.0 collations at
 * 2048-3327 (utf8mb3, utf8mb4, ucs2, utf16, utf32 in blocks of 256).
 */
#include "internal.h"
#include "json.h"

#include <errno.h>
#include <string.h>

static const sl_charset_t CS_UTF8 = {SL_CS_UTF8, "utf8mb4", NULL};
static const sl_charset_t CS_UTF8MB3 = {SL_CS_UTF8, "utf8mb3", NULL};
static const sl_charset_t CS_LATIN1 = {SL_CS_LATIN1, "latin1", NULL};
static const sl_charset_t CS_ASCII = {SL_CS_ASCII, "ascii", NULL};
static const sl_charset_t CS_BINARY = {SL_CS_BINARY, "binary", NULL};

#define ICS(var, name, iname)                                                  \
    static const sl_charset_t var = {SL_CS_ICONV, name, iname}
ICS(CS_BIG5, "big5", "BIG5");
ICS(CS_LATIN2, "latin2", "ISO-8859-2");
ICS(CS_DEC8, "dec8", NULL);
ICS(CS_CP850, "cp850", "CP850");
ICS(CS_HP8, "hp8", "HP-ROMAN8");
ICS(CS_KOI8R, "koi8r", "KOI8-R");
ICS(CS_SWE7, "swe7", NULL);
ICS(CS_UJIS, "ujis", "EUC-JP");
ICS(CS_SJIS, "sjis", "SHIFT_JIS");
ICS(CS_CP1251, "cp1251", "CP1251");
ICS(CS_HEBREW, "hebrew", "ISO-8859-8");
ICS(CS_TIS620, "tis620", "TIS-620");
ICS(CS_EUCKR, "euckr", "EUC-KR");
ICS(CS_LATIN7, "latin7", "ISO-8859-13");
ICS(CS_KOI8U, "koi8u", "KOI8-U");
ICS(CS_GB2312, "gb2312", "GB2312");
ICS(CS_GREEK, "greek", "ISO-8859-7");
ICS(CS_CP1250, "cp1250", "CP1250");
ICS(CS_GBK, "gbk", "GBK");
ICS(CS_CP1257, "cp1257", "CP1257");
ICS(CS_LATIN5, "latin5", "ISO-8859-9");
ICS(CS_ARMSCII8, "armscii8", "ARMSCII-8");
ICS(CS_UCS2, "ucs2", "UCS-2BE");
ICS(CS_CP866, "cp866", "CP866");
ICS(CS_KEYBCS2, "keybcs2", NULL);
ICS(CS_MACCE, "macce", "MAC-CENTRALEUROPE");
ICS(CS_MACROMAN, "macroman", "MACINTOSH");
ICS(CS_CP852, "cp852", "CP852");
ICS(CS_UTF16, "utf16", "UTF-16BE");
ICS(CS_UTF16LE, "utf16le", "UTF-16LE");
ICS(CS_CP1256, "cp1256", "CP1256");
ICS(CS_UTF32, "utf32", "UTF-32BE");
ICS(CS_GEOSTD8, "geostd8", "GEORGIAN-PS");
ICS(CS_CP932, "cp932", "CP932");
ICS(CS_EUCJPMS, "eucjpms", "EUC-JP-MS");
ICS(CS_GB18030, "gb18030", "GB18030");

/* Not formatted: the collation ids of each charset on one line read as
 * the table they are (clang-format would give every label its own line). */
/* clang-format off */
static const sl_charset_t *by_id_low(unsigned id) {
    switch (id) {
    case 1: case 84: return &CS_BIG5;
    case 2: case 9: case 21: case 27: case 77: return &CS_LATIN2;
    case 3: case 69: return &CS_DEC8;
    case 4: case 80: return &CS_CP850;
    case 5: case 8: case 15: case 31: case 47: case 48: case 49: case 94:
        return &CS_LATIN1;
    case 6: case 72: return &CS_HP8;
    case 7: case 74: return &CS_KOI8R;
    case 10: case 82: return &CS_SWE7;
    case 11: case 65: return &CS_ASCII;
    case 12: case 91: return &CS_UJIS;
    case 13: case 88: return &CS_SJIS;
    case 14: case 23: case 50: case 51: case 52: return &CS_CP1251;
    case 16: case 71: return &CS_HEBREW;
    case 18: case 89: return &CS_TIS620;
    case 19: case 85: return &CS_EUCKR;
    case 20: case 41: case 42: case 79: return &CS_LATIN7;
    case 22: case 75: return &CS_KOI8U;
    case 24: case 86: return &CS_GB2312;
    case 25: case 70: return &CS_GREEK;
    case 26: case 34: case 44: case 66: case 99: return &CS_CP1250;
    case 28: case 87: return &CS_GBK;
    case 29: case 58: case 59: return &CS_CP1257;
    case 30: case 78: return &CS_LATIN5;
    case 32: case 64: return &CS_ARMSCII8;
    case 33: case 76: case 83: return &CS_UTF8MB3;
    case 35: case 90: return &CS_UCS2;
    case 36: case 68: return &CS_CP866;
    case 37: case 73: return &CS_KEYBCS2;
    case 38: case 43: return &CS_MACCE;
    case 39: case 53: return &CS_MACROMAN;
    case 40: case 81: return &CS_CP852;
    case 45: case 46: return &CS_UTF8;
    case 54: case 55: return &CS_UTF16;
    case 56: case 62: return &CS_UTF16LE;
    case 57: case 67: return &CS_CP1256;
    case 60: case 61: return &CS_UTF32;
    case 63: return &CS_BINARY;
    case 92: case 93: return &CS_GEOSTD8;
    case 95: case 96: return &CS_CP932;
    case 97: case 98: return &CS_EUCJPMS;
    default: break;
    }
    if (id >= 101 && id <= 124) return &CS_UTF16;
    if (id >= 128 && id <= 151) return &CS_UCS2;
    if (id == 159) return &CS_UCS2;
    if (id >= 160 && id <= 183) return &CS_UTF32;
    if (id >= 192 && id <= 215) return &CS_UTF8MB3;
    if (id == 223) return &CS_UTF8MB3;
    if (id >= 224 && id <= 247) return &CS_UTF8;
    if (id >= 248 && id <= 250) return &CS_GB18030;
    if (id >= 255 && id <= 323) return &CS_UTF8;
    return NULL;
}
/* clang-format on */

/* clang-format off */
const sl_charset_t *sl__dec_charset_by_collation(uint64_t id) {
    if (id < 1024)
        return by_id_low((unsigned)id) ? by_id_low((unsigned)id)
               : (id >= 576 && id <= 607)   ? &CS_UTF8MB3
               : (id >= 608 && id <= 639)   ? &CS_UTF8
               : (id >= 640 && id <= 671)   ? &CS_UCS2
               : (id >= 672 && id <= 703)   ? &CS_UTF16
               : (id >= 736 && id <= 767)   ? &CS_UTF32
                                            : NULL;
    if (id < 2048)
        return by_id_low((unsigned)(id - 1024));
    if (id < 2304) return &CS_UTF8MB3;
    if (id < 2560) return &CS_UTF8;
    if (id < 2816) return &CS_UCS2;
    if (id < 3072) return &CS_UTF16;
    if (id < 3328) return &CS_UTF32;
    return NULL;
}
/* clang-format on */

/* MySQL latin1 0x80-0x9F (Windows-1252, holes kept as C1 controls). */
static const uint16_t cp1252_hi[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
    0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
    0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
    0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};

static int latin1_to_utf8(const uint8_t *p, size_t n, sl_buf_t *tmp) {
    sl_buf_reset(tmp);
    uint8_t *o = sl_buf_extend(tmp, n * 3);
    if (o == NULL)
        return SL_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned c = p[i];
        if (c >= 0x80 && c < 0xA0)
            c = cp1252_hi[c - 0x80];
        if (c < 0x80) {
            o[k++] = (uint8_t)c;
        } else if (c < 0x800) {
            o[k++] = (uint8_t)(0xC0 | (c >> 6));
            o[k++] = (uint8_t)(0x80 | (c & 63));
        } else {
            o[k++] = (uint8_t)(0xE0 | (c >> 12));
            o[k++] = (uint8_t)(0x80 | ((c >> 6) & 63));
            o[k++] = (uint8_t)(0x80 | (c & 63));
        }
    }
    tmp->len = k;
    return 0;
}

static iconv_t iconv_get(sl_binlog_t *dec, const char *name) {
    for (unsigned i = 0; i < dec->niconv; i++)
        if (strcmp(dec->iconv_cache[i].name, name) == 0)
            return dec->iconv_cache[i].cd;
    iconv_t cd = iconv_open("UTF-8", name);
    if (cd == (iconv_t)-1)
        return cd;
    if (dec->niconv == sizeof(dec->iconv_cache) / sizeof(dec->iconv_cache[0])) {
        iconv_close(dec->iconv_cache[0].cd);
        memmove(&dec->iconv_cache[0], &dec->iconv_cache[1],
                (dec->niconv - 1) * sizeof(dec->iconv_cache[0]));
        dec->niconv--;
    }
    dec->iconv_cache[dec->niconv].name = name;
    dec->iconv_cache[dec->niconv].cd = cd;
    dec->niconv++;
    return cd;
}

void sl__dec_charset_close_all(sl_binlog_t *dec) {
    for (unsigned i = 0; i < dec->niconv; i++)
        iconv_close(dec->iconv_cache[i].cd);
    dec->niconv = 0;
}

static int iconv_to_utf8(sl_binlog_t *dec, const sl_charset_t *cs,
                         const uint8_t *p, size_t n, sl_buf_t *tmp) {
    if (cs->iconv_name == NULL)
        return sl__dec_fail(dec, SL_EUNSUPPORTED,
                            "character set %s has no converter in this "
                            "C library; cannot emit its text as UTF-8",
                            cs->name);
    iconv_t cd = iconv_get(dec, cs->iconv_name);
    if (cd == (iconv_t)-1)
        return sl__dec_fail(dec, SL_EUNSUPPORTED,
                            "iconv cannot convert %s (%s) to UTF-8", cs->name,
                            cs->iconv_name);
    iconv(cd, NULL, NULL, NULL, NULL);
    sl_buf_reset(tmp);
    if (sl_buf_reserve(tmp, n * 4 + 16) != 0)
        return sl__dec_fail(dec, SL_ENOMEM, "out of memory");
    char *in = (char *)(uintptr_t)p;
    size_t inleft = n;
    char *o = (char *)tmp->data;
    size_t oleft = tmp->cap;
    if (iconv(cd, &in, &inleft, &o, &oleft) == (size_t)-1 || inleft != 0)
        return sl__dec_fail(dec, SL_ECORRUPT,
                            "bytes not valid in character set %s at "
                            "offset %zu of a %zu-byte value",
                            cs->name, n - inleft, n);
    tmp->len = tmp->cap - oleft;
    return 0;
}

static int put_string(sl_binlog_t *dec, const uint8_t *p, size_t n,
                      sl_buf_t *out, int *replaced) {
    /* Most values are printable ASCII or valid UTF-8 that JSON takes as
     * is: check, then copy them in one go. Anything else (controls,
     * quotes, backslashes, U+2028/U+2029, invalid sequences) goes
     * through the escaper. */
    size_t i = 0;
    while (i < n) {
        /* Runs of plain ASCII go eight bytes at a time. */
        i += sl_json_plain_prefix(p + i, n - i);
        if (i == n)
            break;
        uint8_t c = p[i];
        if (c >= 0xC2 && c <= 0xDF && i + 1 < n && (p[i + 1] & 0xC0) == 0x80) {
            i += 2;
            continue;
        }
        if (c >= 0xE0 && c <= 0xEF && i + 2 < n && (p[i + 1] & 0xC0) == 0x80 &&
            (p[i + 2] & 0xC0) == 0x80 &&
            !(c == 0xE0 && p[i + 1] < 0xA0) &&  /* Overlong. */
            !(c == 0xED && p[i + 1] >= 0xA0) && /* Surrogates. */
            !(c == 0xE2 && p[i + 1] == 0x80 &&
              (p[i + 2] == 0xA8 || p[i + 2] == 0xA9))) {
            i += 3;
            continue;
        }
        if (c >= 0xF0 && c <= 0xF4 && i + 3 < n && (p[i + 1] & 0xC0) == 0x80 &&
            (p[i + 2] & 0xC0) == 0x80 && (p[i + 3] & 0xC0) == 0x80 &&
            !(c == 0xF0 && p[i + 1] < 0x90) &&  /* Overlong. */
            !(c == 0xF4 && p[i + 1] >= 0x90)) { /* Above U+10FFFF. */
            i += 4;
            continue;
        }
        break;
    }
    if (i == n) {
        if (sl__dec_out_c(out, '"') != 0 || sl__dec_out_raw(out, p, n) != 0 ||
            sl__dec_out_c(out, '"') != 0)
            return sl__dec_fail(dec, SL_ENOMEM, "out of memory");
        return 0;
    }
    if (sl_buf_append_u8(out, '"') != 0 ||
        sl_json_escape(out, p, n, replaced) != 0 ||
        sl_buf_append_u8(out, '"') != 0)
        return sl__dec_fail(dec, SL_ENOMEM, "out of memory");
    return 0;
}

static int put_base64(sl_binlog_t *dec, const uint8_t *p, size_t n,
                      sl_buf_t *out) {
    /* One reservation for the whole value, then inline appends. */
    if (n > SIZE_MAX / 2 || sl_buf_reserve(out, 13 + (n + 2) / 3 * 4) != 0 ||
        SL__DEC_OUT_LIT(out, "{\"base64\":\"") != 0 ||
        sl_base64_encode(out, p, n) != 0 || SL__DEC_OUT_LIT(out, "\"}") != 0)
        return sl__dec_fail(dec, SL_ENOMEM, "out of memory");
    return 0;
}

int sl__dec_text_to_json(sl_binlog_t *dec, const sl_charset_t *cs,
                         const uint8_t *p, size_t n, sl_buf_t *out) {
    int replaced = 0;
    size_t mark = out->len;
    int rc;
    if (cs == NULL) {
        /* No charset metadata: text when the bytes are UTF-8, else the
         * bytes themselves. */
        rc = put_string(dec, p, n, out, &replaced);
        if (rc != 0 || !replaced)
            return rc;
        out->len = mark;
        return put_base64(dec, p, n, out);
    }
    switch (cs->cls) {
    case SL_CS_UTF8:
        rc = put_string(dec, p, n, out, &replaced);
        if (rc == 0 && replaced) {
            out->len = mark;
            return sl__dec_fail(dec, SL_ECORRUPT,
                                "invalid UTF-8 in a %s value of %zu bytes",
                                cs->name, n);
        }
        return rc;
    case SL_CS_ASCII:
    case SL_CS_LATIN1:
        for (size_t i = 0; i < n; i++) {
            if (p[i] >= 0x80) {
                rc = latin1_to_utf8(p, n, &dec->tmp);
                if (rc != 0)
                    return sl__dec_fail(dec, rc, "out of memory");
                return put_string(dec, dec->tmp.data, dec->tmp.len, out, NULL);
            }
        }
        return put_string(dec, p, n, out, NULL);
    case SL_CS_BINARY: return put_base64(dec, p, n, out);
    case SL_CS_ICONV:
        rc = iconv_to_utf8(dec, cs, p, n, &dec->tmp);
        if (rc != 0)
            return rc;
        return put_string(dec, dec->tmp.data, dec->tmp.len, out, NULL);
    default: return put_string(dec, p, n, out, NULL);
    }
}

int sl__dec_text_utf8(sl_binlog_t *dec, const sl_charset_t *cs,
                      const uint8_t *p, size_t n, const uint8_t **text,
                      size_t *len) {
    *text = p;
    *len = n;
    int rc = 0;
    switch (cs != NULL ? cs->cls : SL_CS_UTF8) {
    case SL_CS_ASCII:
    case SL_CS_LATIN1:
        for (size_t i = 0; i < n; i++) {
            if (p[i] >= 0x80) {
                if ((rc = latin1_to_utf8(p, n, &dec->tmp)) != 0)
                    return sl__dec_fail(dec, rc, "out of memory");
                *text = dec->tmp.data;
                *len = dec->tmp.len;
                break;
            }
        }
        break;
    case SL_CS_ICONV:
        if ((rc = iconv_to_utf8(dec, cs, p, n, &dec->tmp)) != 0)
            return rc;
        *text = dec->tmp.data;
        *len = dec->tmp.len;
        break;
    default: break;
    }
    return 0;
}

/* The length of the valid UTF-8 sequence at p (1 to 4), or 0 when the
 * byte starts none: the rule of the JSON escaper, which replaces such a
 * byte by U+FFFD. */
static size_t utf8_seq_len(const uint8_t *p, size_t left) {
    uint8_t c = p[0];
    size_t n = c < 0x80                 ? 1
               : c >= 0xC2 && c <= 0xDF ? 2
               : c >= 0xE0 && c <= 0xEF ? 3
               : c >= 0xF0 && c <= 0xF4 ? 4
                                        : 0;
    if (n == 0 || n > left)
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    if ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] >= 0xA0) ||
        (c == 0xF0 && p[1] < 0x90) || (c == 0xF4 && p[1] >= 0x90))
        return 0; /* Overlong, surrogate, or above U+10FFFF. */
    return n;
}

int sl__dec_utf8_sanitize(const uint8_t *p, size_t n, sl_buf_t *out) {
    for (size_t i = 0; i < n;) {
        size_t len = utf8_seq_len(p + i, n - i);
        if (len == 0) {
            sl_buf_append(out, "\xEF\xBF\xBD", 3);
            i++;
        } else {
            sl_buf_append(out, p + i, len);
            i += len;
        }
    }
    return sl_buf_error(out);
}
