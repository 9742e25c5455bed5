/* Rows of any column type for the DDL corpus test; see values.h. */
#include "values.h"

#include "error.h"
#include "sl_test.h"

#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static char *dup(const char *s) {
    char *d = strdup(s ? s : "");
    SL_CHECK(d != NULL);
    return d;
}

static const char *cstr_of(sl_buf_t *b) {
    const char *s;
    SL_CHECK(sl_buf_cstr(b, &s) == 0);
    return s;
}

void dc_put_ident(sl_buf_t *b, const char *name) {
    sl_buf_append_u8(b, '`');
    for (const char *p = name; *p; p++) {
        if (*p == '`')
            sl_buf_append_u8(b, '`');
        sl_buf_append_u8(b, (uint8_t)*p);
    }
    sl_buf_append_u8(b, '`');
}

/* Appends 'text' as a string literal escaped for m's charset. */
void dc_put_string(sl_buf_t *b, MYSQL *m, const char *text, size_t len) {
    char *esc = malloc(2 * len + 1);
    SL_CHECK(esc != NULL);
    unsigned long n = mysql_real_escape_string(m, esc, text, len);
    sl_buf_append_u8(b, '\'');
    sl_buf_append(b, esc, n);
    sl_buf_append_u8(b, '\'');
    free(esc);
}

int dc_col_class(const char *dt) {
    static const char *const hex[] = {"binary", "varbinary",  "tinyblob",
                                      "blob",   "mediumblob", "longblob"};
    static const char *const geom[] = {
        "geometry",   "point",           "linestring",   "polygon",
        "multipoint", "multilinestring", "multipolygon", "geometrycollection"};
    for (size_t i = 0; i < sizeof hex / sizeof hex[0]; i++)
        if (strcmp(dt, hex[i]) == 0)
            return DC_HEX;
    for (size_t i = 0; i < sizeof geom / sizeof geom[0]; i++)
        if (strcmp(dt, geom[i]) == 0)
            return DC_GEOM;
    /* MariaDB's INET6 and INET4 are binary strings in the binlog (their
     * bytes, as CAST(... AS BINARY) gives them); a UUID's stored bytes are
     * in another order than any SQL expression shows, so only its name is
     * compared. */
    if (strcmp(dt, "inet6") == 0 || strcmp(dt, "inet4") == 0)
        return DC_HEX;
    if (strcmp(dt, "uuid") == 0)
        return DC_NAME;
    if (strcmp(dt, "set") == 0)
        return DC_SET;
    if (strcmp(dt, "float") == 0)
        return DC_FLOAT;
    if (strcmp(dt, "double") == 0)
        return DC_DOUBLE;
    return DC_EXACT;
}

/* 1 when a generation expression may give another value each time. */
int dc_nondeterministic(const char *expr) {
    static const char *const fns[] = {
        "rand(",           "uuid",     "now(",           "sysdate(",
        "curtime(",        "curdate(", "current_",       "random",
        "unix_timestamp(", "utc_",     "connection_id(", "last_insert_id(",
        "localtime",       "@@"};
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++)
        if (strcasestr(expr, fns[i]) != NULL)
            return 1;
    return 0;
}

/* ---- distinctive values per column type ---------------------------------- */

/* Characters of a charset (UTF-8), cycled to fill a text value: non-ASCII
 * ones first, so a wrong charset in the history shows. */
static const char *const *charset_chars(const char *cs) {
    static const char *const mb4[] = {
        "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "a", "Z", NULL};
    static const char *const uni[] = {
        "\xc3\xa9", "\xe2\x82\xac", "\xc3\xb1", "a", "Z", NULL};
    static const char *const l1[] = {"\xc3\xa9", "\xc3\xb1", "\xc3\xbc",
                                     "a",        "Z",        NULL};
    static const char *const l2[] = {"\xc5\x82", "\xc3\xb3", "\xc5\xbc",
                                     "a",        "Z",        NULL};
    static const char *const cyr[] = {"\xd0\x96", "\xd1\x8f", "a", "Z", NULL};
    static const char *const gr[] = {"\xce\xa9", "\xce\xb1", "a", "Z", NULL};
    static const char *const jp[] = {
        "\xe6\x97\xa5", "\xe6\x9c\xac", "\xe3\x82\xa2", "a", "Z", NULL};
    static const char *const zh[] = {"\xe4\xb8\xad", "\xe6\x96\x87", "a", "Z",
                                     NULL};
    static const char *const kr[] = {"\xed\x95\x9c", "\xea\xb5\xad", "a", "Z",
                                     NULL};
    static const char *const plain[] = {"a", "Z", "0", "_", NULL};
    static const struct {
        const char *prefix;
        const char *const *chars;
    } map[] = {
        {"utf8mb4", mb4}, {"utf8", uni},  {"ucs2", uni},  {"utf16", uni},
        {"utf32", uni},   {"latin1", l1}, {"latin2", l2}, {"cp1250", l2},
        {"cp1251", cyr},  {"koi8", cyr},  {"cp866", cyr}, {"greek", gr},
        {"sjis", jp},     {"cp932", jp},  {"ujis", jp},   {"eucjpms", jp},
        {"gbk", zh},      {"gb2312", zh}, {"big5", zh},   {"euckr", kr},
    };
    for (size_t i = 0; cs && i < sizeof map / sizeof map[0]; i++)
        if (strncmp(cs, map[i].prefix, strlen(map[i].prefix)) == 0)
            return map[i].chars;
    return plain;
}

/* n characters of the charset's cycle, as UTF-8. */
static void put_chars(sl_buf_t *b, const char *cs, long long n) {
    const char *const *chars = charset_chars(cs);
    for (long long i = 0, k = 0; i < n; i++, k++) {
        if (chars[k] == NULL)
            k = 0;
        sl_buf_append_str(b, chars[k]);
    }
}

/* ENUM/SET members counted in column_type "enum('a','b''c')". */
static int members(const char *column_type) {
    int n = 0, in = 0;
    for (const char *p = column_type; *p; p++) {
        if (*p == '\\' && in && p[1]) {
            p++;
        } else if (*p == '\'') {
            if (in && p[1] == '\'')
                p++;
            else if (!(in = !in))
                n++;
        }
    }
    return n;
}

static int int_bits(const char *dt) {
    if (strcmp(dt, "tinyint") == 0)
        return 8;
    if (strcmp(dt, "smallint") == 0)
        return 16;
    if (strcmp(dt, "mediumint") == 0)
        return 24;
    if (strcmp(dt, "int") == 0)
        return 32;
    if (strcmp(dt, "bigint") == 0)
        return 64;
    return 0;
}

static void put_geometry(sl_buf_t *b, const char *dt, int v) {
    static const struct {
        const char *type, *wkt[2];
    } g[] = {
        {"linestring", {"LINESTRING(0 0,1.5 1,-2 5)", "LINESTRING(7 7,8 8)"}},
        {"polygon",
         {"POLYGON((0 0,10 0,10 10,0 10,0 0))", "POLYGON((1 1,2 1,2 2,1 1))"}},
        {"multipoint", {"MULTIPOINT(1 1,2 -2)", "MULTIPOINT(3 3)"}},
        {"multilinestring",
         {"MULTILINESTRING((0 0,1 1),(2 2,3 3))",
          "MULTILINESTRING((5 5,6 6))"}},
        {"multipolygon",
         {"MULTIPOLYGON(((0 0,1 0,1 1,0 0)))",
          "MULTIPOLYGON(((2 2,3 2,3 3,2 2)),((5 5,6 5,6 6,5 5)))"}},
        {"geometrycollection",
         {"GEOMETRYCOLLECTION(POINT(1 1),LINESTRING(0 0,1 1))",
          "GEOMETRYCOLLECTION(POINT(9 9))"}},
    };
    const char *wkt = v ? "POINT(-7.25 3)" : "POINT(1.5 -2.25)";
    for (size_t i = 0; i < sizeof g / sizeof g[0]; i++)
        if (strcmp(dt, g[i].type) == 0)
            wkt = g[i].wkt[v];
    sl_buf_printf(b, "ST_GeomFromText('%s')", wkt);
}

/* Appends the SQL literal of variant v (0: limits and long values, 1:
 * other values, NULL in every other nullable column) for column col. */
void dc_put_value(sl_buf_t *b, MYSQL *m, const dc_col_t *col, int v,
                  size_t idx) {
    const char *dt = col->data_type;
    int uns = strstr(col->column_type, "unsigned") != NULL;
    int bits = int_bits(dt);
    if (v == 1 && col->nullable && idx % 2 == 1) {
        sl_buf_append_str(b, "NULL");
    } else if (bits) {
        if (uns && v == 0)
            sl_buf_printf(b, "%llu",
                          bits == 64 ? UINT64_MAX : (1ULL << bits) - 1);
        else if (uns)
            sl_buf_printf(b, "%llu", (1ULL << (bits - 1)) + 5);
        else if (v == 0 && bits == 64)
            sl_buf_append_str(b, "-9223372036854775808");
        else if (v == 0)
            sl_buf_printf(b, "%lld", -(1LL << (bits - 1)));
        else
            sl_buf_printf(b, "%lld", (long long)((1ULL << (bits - 1)) - 1));
    } else if (strcmp(dt, "bit") == 0) {
        int n = col->prec > 0 && col->prec <= 64 ? col->prec : 1;
        uint64_t all = n == 64 ? UINT64_MAX : (1ULL << n) - 1;
        sl_buf_printf(b, "%llu",
                      (unsigned long long)(v ? 1ULL << (n - 1) : all));
    } else if (strcmp(dt, "decimal") == 0) {
        int ip = col->prec - col->scale;
        if (v == 0 && !uns)
            sl_buf_append_u8(b, '-');
        for (int i = 0; i < (ip > 0 ? ip : 1); i++)
            sl_buf_append_u8(b, ip <= 0 ? '0' : v ? "1234567890"[i % 10] : '9');
        if (col->scale > 0)
            sl_buf_append_u8(b, '.');
        for (int i = 0; i < col->scale; i++)
            sl_buf_append_u8(b, v ? "0987654321"[i % 10] : '9');
    } else if (strcmp(dt, "float") == 0) {
        sl_buf_append_str(b, v ? "3.25e20" : "-1234.5");
    } else if (strcmp(dt, "double") == 0) {
        sl_buf_append_str(b, v ? "0.1" : "-1.25e100");
    } else if (strcmp(dt, "date") == 0) {
        sl_buf_append_str(b, v ? "'1000-01-01'" : "'9999-12-31'");
    } else if (strcmp(dt, "datetime") == 0) {
        sl_buf_append_str(b, v ? "'1000-01-01 00:00:01.5'"
                               : "'9999-12-31 23:59:59.123456'");
    } else if (strcmp(dt, "timestamp") == 0) {
        sl_buf_append_str(b, v ? "'1970-01-01 00:00:01.5'"
                               : "'2038-01-19 03:14:07.123456'");
    } else if (strcmp(dt, "time") == 0) {
        sl_buf_append_str(b, v ? "'12:34:56.789012'" : "'-838:59:59'");
    } else if (strcmp(dt, "year") == 0) {
        sl_buf_append_str(b, v ? "1901" : "2155");
    } else if (strcmp(dt, "enum") == 0) {
        sl_buf_printf(b, "%d", v ? 1 : members(col->column_type));
    } else if (strcmp(dt, "set") == 0) {
        int n = members(col->column_type);
        sl_buf_printf(b, "%llu",
                      v         ? 1ULL
                      : n >= 64 ? UINT64_MAX
                                : (1ULL << n) - 1);
    } else if (strcmp(dt, "inet6") == 0) {
        sl_buf_append_str(b, v ? "'::ffff:1.2.3.4'" : "'ffff:ffff::1'");
    } else if (strcmp(dt, "inet4") == 0) {
        sl_buf_append_str(b, v ? "'0.0.0.1'" : "'255.255.255.254'");
    } else if (strcmp(dt, "uuid") == 0) {
        sl_buf_append_str(b, v ? "'00000000-0000-0000-0000-000000000001'"
                               : "'ffffffff-ffff-4fff-8fff-fffffffffffe'");
    } else if (col->cls == DC_GEOM) {
        put_geometry(b, dt, v);
    } else if (col->cls == DC_HEX) {
        static const char pat[] = "00FF800A275C22417F";
        long long n = col->maxlen < 300 ? col->maxlen : 300;
        if (v || n < 1)
            n = 1;
        sl_buf_append_str(b, "X'");
        for (long long i = 0; i < n; i++)
            sl_buf_append(b, pat + (v ? 14 : (i % 9) * 2), 2);
        sl_buf_append_u8(b, '\'');
    } else if (col->charset != NULL) {
        /* Text: the longest value up to 300 characters; a long column
         * (TEXT, JSON) gets a valid JSON document, as MariaDB's JSON is a
         * LONGTEXT with a json_valid() check. */
        sl_buf_t t = SL_BUF_INIT;
        long long n = col->maxlen < 300 ? col->maxlen : 300;
        if (v)
            n = n < 5 ? n : 5;
        if (col->maxlen >= 1000) {
            sl_buf_append_str(&t, v ? "{\"k\":\"" : "[\"");
            put_chars(&t, col->charset, n - 8);
            sl_buf_append_str(&t, v ? "\"}" : "\",1]");
        } else {
            put_chars(&t, col->charset, n);
        }
        dc_put_string(b, m, (const char *)t.data, t.len);
        sl_buf_free(&t);
    } else {
        sl_buf_append_str(b, col->nullable ? "NULL" : "DEFAULT");
    }
}

/* The SELECT expression of a column whose text is its canonical value. */
void dc_put_select_expr(sl_buf_t *b, const dc_col_t *col) {
    if (strcmp(col->data_type, "bit") == 0) {
        sl_buf_append_str(b, "CAST(");
        dc_put_ident(b, col->name);
        sl_buf_append_str(b, " AS UNSIGNED)");
    } else if (col->zerofill) {
        /* SELECT pads ZEROFILL columns with zeros; the number does not. */
        dc_put_ident(b, col->name);
        sl_buf_append_str(b, " + 0");
    } else if (strcmp(col->data_type, "inet6") == 0 ||
               strcmp(col->data_type, "inet4") == 0) {
        sl_buf_append_str(b, "HEX(CAST(");
        dc_put_ident(b, col->name);
        sl_buf_printf(b, " AS BINARY(%d)))",
                      strcmp(col->data_type, "inet6") == 0 ? 16 : 4);
    } else if (col->cls == DC_HEX || col->cls == DC_GEOM) {
        sl_buf_append_str(b, "HEX(");
        dc_put_ident(b, col->name);
        sl_buf_append_u8(b, ')');
    } else {
        dc_put_ident(b, col->name);
    }
}

void dc_free_img(dc_img_t *im) {
    for (size_t i = 0; i < im->n; i++) {
        free(im->names[i]);
        free(im->vals[i]);
    }
    free(im->names);
    free(im->vals);
    free(im->lens);
    free(im->cls);
    memset(im, 0, sizeof *im);
}

void dc_copy_img(dc_img_t *dst, const dc_img_t *src) {
    memset(dst, 0, sizeof *dst);
    dst->n = src->n;
    dst->names = calloc(src->n + 1, sizeof *dst->names);
    dst->vals = calloc(src->n + 1, sizeof *dst->vals);
    dst->lens = calloc(src->n + 1, sizeof *dst->lens);
    dst->cls = calloc(src->n + 1, sizeof *dst->cls);
    SL_CHECK(dst->names && dst->vals && dst->lens && dst->cls);
    for (size_t i = 0; i < src->n; i++) {
        dst->names[i] = dup(src->names[i]);
        if (src->vals[i]) {
            dst->vals[i] = malloc(src->lens[i] + 1);
            SL_CHECK(dst->vals[i] != NULL);
            memcpy(dst->vals[i], src->vals[i], src->lens[i] + 1);
        }
        dst->lens[i] = src->lens[i];
        dst->cls[i] = src->cls[i];
    }
}

/* The canonical text of JSON value i for a column of class cls: numbers
 * as written, strings unescaped, {"base64"} as upper-case hex, geometry
 * as the server's HEX() of it (SRID little-endian, then the WKB). Returns
 * 0, or 1 for JSON null. */
static int canon(const sl_jr_doc_t *d, uint32_t i, sl_buf_t *out) {
    static const char hx[] = "0123456789ABCDEF";
    size_t len;
    const char *raw = sl_jr_raw(d, i, &len);
    switch (sl_jr_type(d, i)) {
    case SL_JR_NULL: return 1;
    case SL_JR_STRING: SL_CHECK_OK(sl_jr_unescape(d, i, out)); return 0;
    case SL_JR_OBJECT: {
        uint32_t b64 = sl_jr_get(d, i, "base64"), wkb = sl_jr_get(d, i, "wkb");
        uint32_t srid = sl_jr_get(d, i, "srid");
        if (b64 != SL_JR_NONE && sl_jr_type(d, b64) == SL_JR_STRING) {
            sl_buf_t bytes = SL_BUF_INIT;
            const char *t = sl_jr_raw(d, b64, &len);
            SL_CHECK_OK(sl_jr_base64_decode(&bytes, t, len));
            for (size_t k = 0; k < bytes.len; k++) {
                sl_buf_append_u8(out, (uint8_t)hx[bytes.data[k] >> 4]);
                sl_buf_append_u8(out, (uint8_t)hx[bytes.data[k] & 15]);
            }
            sl_buf_free(&bytes);
            return 0;
        }
        if (wkb != SL_JR_NONE && srid != SL_JR_NONE) {
            uint64_t s = 0;
            sl_jr_u64(d, srid, &s);
            for (int k = 0; k < 4; k++)
                sl_buf_printf(out, "%02X", (unsigned)(s >> (8 * k)) & 255);
            const char *t = sl_jr_raw(d, wkb, &len);
            for (size_t k = 0; k < len; k++)
                sl_buf_append_u8(out, (uint8_t)toupper((unsigned char)t[k]));
            return 0;
        }
        break;
    }
    default: break;
    }
    sl_buf_append(out, raw, len);
    return 0;
}

/* s without its empty comma-separated items, into out (len bytes). */
static void drop_empty_items(const char *s, size_t len, sl_buf_t *out) {
    for (size_t i = 0; i < len;) {
        size_t n = 0;
        while (i + n < len && s[i + n] != ',')
            n++;
        if (n > 0) {
            if (out->len > 0)
                sl_buf_append_u8(out, ',');
            sl_buf_append(out, s + i, n);
        }
        i += n + 1;
    }
}

static int same_value(int cls, const char *want, size_t wlen, const char *got,
                      size_t glen) {
    if (wlen == glen && memcmp(want, got, wlen) == 0)
        return 1;
    if (cls == DC_SET) {
        sl_buf_t a = SL_BUF_INIT, b = SL_BUF_INIT;
        drop_empty_items(want, wlen, &a);
        drop_empty_items(got, glen, &b);
        int same = a.len == b.len &&
                   (a.len == 0 || memcmp(a.data, b.data, a.len) == 0);
        sl_buf_free(&a);
        sl_buf_free(&b);
        return same;
    }
    if (cls == DC_FLOAT || cls == DC_DOUBLE) {
        char *e1, *e2;
        double a = strtod(want, &e1), b = strtod(got, &e2);
        if (*e1 || *e2)
            return 0;
        double tol = cls == DC_FLOAT ? 1e-5 : 1e-12;
        return fabs(a - b) <= tol * fmax(fabs(a), fabs(b));
    }
    return 0;
}

/* Compares image want with the JSON object obj; describes the first
 * difference into msg and returns 1, or returns 0 when they agree. */
/* Compares JSON value val with want's column j; 0 when they agree. */
static int diff_value(const sl_jr_doc_t *d, uint32_t val, const dc_img_t *want,
                      size_t j, const char *name, char *msg, size_t msglen) {
    sl_buf_t v = SL_BUF_INIT;
    int isnull = canon(d, val, &v);
    const char *got = cstr_of(&v);
    int cls = want->cls[j] & ~DC_HIDDEN, bad = 0;
    if (cls != DC_NAME &&
        (isnull != (want->vals[j] == NULL) ||
         (!isnull &&
          !same_value(cls, want->vals[j], want->lens[j], got, v.len)))) {
        size_t rl;
        const char *raw = sl_jr_raw(d, val, &rl);
        snprintf(msg, msglen, "column \"%s\": event %.*s, server %.200s", name,
                 (int)(rl < 200 ? rl : 200), raw,
                 want->vals[j] ? want->vals[j] : "NULL");
        bad = 1;
    }
    sl_buf_free(&v);
    return bad;
}

int dc_diff_image(const sl_jr_doc_t *d, uint32_t obj, const dc_img_t *want,
                  char *msg, size_t msglen) {
    if (obj == SL_JR_NONE || sl_jr_type(d, obj) != SL_JR_OBJECT) {
        snprintf(msg, msglen, "no image in the event");
        return 1;
    }
    /* The listed columns come first in want, in order; hidden ones after
     * them, found by name wherever the event has them. */
    size_t nlisted = 0, nhidden = 0, hidden_seen = 0;
    while (nlisted < want->n && !(want->cls[nlisted] & DC_HIDDEN))
        nlisted++;
    nhidden = want->n - nlisted;
    uint32_t it = 0, key, val;
    size_t i = 0;
    sl_buf_t k = SL_BUF_INIT;
    int bad = 0;
    while (!bad && sl_jr_next(d, obj, &it, &key, &val)) {
        sl_buf_reset(&k);
        SL_CHECK_OK(sl_jr_unescape(d, key, &k));
        const char *name = cstr_of(&k);
        if (i < nlisted && strcmp(name, want->names[i]) == 0) {
            bad = diff_value(d, val, want, i, name, msg, msglen);
            i++;
            continue;
        }
        size_t h = nlisted;
        while (h < want->n && strcasecmp(name, want->names[h]) != 0)
            h++;
        if (h < want->n) {
            bad = diff_value(d, val, want, h, name, msg, msglen);
            hidden_seen++;
        } else if (i < nlisted) {
            snprintf(msg, msglen,
                     "column %zu is \"%s\", the server's is \"%s\"", i + 1,
                     name, want->names[i]);
            bad = 1;
        } else {
            snprintf(msg, msglen, "extra column \"%s\" (the server has %zu)",
                     name, want->n);
            bad = 1;
        }
    }
    if (!bad && (i < nlisted || hidden_seen < nhidden)) {
        snprintf(msg, msglen,
                 "%zu columns, the server has %zu (\"%s\" missing)",
                 i + hidden_seen, want->n,
                 i < nlisted ? want->names[i] : "a hidden column");
        bad = 1;
    }
    sl_buf_free(&k);
    return bad;
}
