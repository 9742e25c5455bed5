/*
 * Snapshot rows in the formats other tools read (--format debezium,
 * maxwell, canal; docs/change-events.md, "Formats", and docs/snapshot.md,
 * "Events in the other formats").
 *
 * A snapshot row arrives as the text protocol's values (the worker's
 * session: utf8mb4, time_zone +00:00), typed by the schema history. Each
 * value is parsed into the parts the binlog path has at hand and written
 * with the decoder's own encoders (capture/decoder/fmtval.h), so a read
 * row's values are byte for byte the binlog path's for the same stored
 * value. The window key and the routing hash are cut from that image the
 * way the stream's are cut from its rows (the decoder's fmt_key_hash),
 * so both meet in the window and in the partition.
 *
 * Envelopes of a read row, member for member as the stream's:
 *   debezium  {"before":null,"after":{...},"source":{...,"snapshot":
 *             "incremental",...,"row":0,"thread":null,"query":null},
 *             "op":"r","ts_ms":T,"transaction":null}, the record key
 *             {pk columns} (both wrapped with --debezium-schemas);
 *             "source" holds the high watermark's coordinates.
 *   maxwell   {"database":D,"table":T,"type":"bootstrap-insert","ts":S,
 *             "data":{...},"primary_key":[...],"primary_key_columns":
 *             [...]} (no xid, no commit: no transaction), bracketed by
 *             "bootstrap-start" and "bootstrap-complete" with "data":{}.
 *   canal     the FlatMessage with "type":"INSERT", "old":null, "id":0
 *             (stream messages count from 1); no bracketing events.
 * A rendered debezium read event is its JSON, a NUL byte and its key
 * (JSON never holds a raw NUL); sl__snap_publish splits them.
 */
#include "internal.h"
#include "state_int.h"

#include "capture/decoder/fmtval.h"
#include "error.h"
#include "hash.h"
#include "json.h"
#include "version.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The value classes of the formats. */
enum {
    FT_INT = 1,
    FT_FLOAT,
    FT_DOUBLE,
    FT_DEC,
    FT_YEAR,
    FT_DATE,
    FT_TIME,
    FT_DATETIME,
    FT_TIMESTAMP,
    FT_BIT,
    FT_ENUM,
    FT_SET,
    FT_TEXT,
    FT_BIN,
    FT_JSON,
    FT_GEOM
};

struct sl__snap_fmtcol_s {
    int ft;
    int is_unsigned, nullable;
    unsigned fsp, bits;
    unsigned width; /* Integers: bytes (1, 2, 3, 4, 8). */
    char *mtype;    /* Canal's mysqlType: the binlog's type name. */
    int jdbc;       /* Canal's sqlType. */
};

/* The number in the first parentheses of a column type ("datetime(3)"),
 * or dflt. */
static unsigned paren_num(const char *ct, unsigned dflt) {
    const char *p = strchr(ct, '(');
    return p != NULL && isdigit((unsigned char)p[1])
               ? (unsigned)strtoul(p + 1, NULL, 10)
               : dflt;
}

/* Bytes per character of a charset, as the binlog's lengths count them. */
static unsigned mbmaxlen(const char *cs) {
    static const struct {
        const char *name;
        unsigned n;
    } t[] = {{"utf8mb4", 4}, {"utf8mb3", 3}, {"utf8", 3},    {"ucs2", 2},
             {"utf16", 4},   {"utf16le", 4}, {"utf32", 4},   {"gbk", 2},
             {"gb2312", 2},  {"big5", 2},    {"sjis", 2},    {"cp932", 2},
             {"euckr", 2},   {"ujis", 3},    {"eucjpms", 3}, {"gb18030", 4}};
    for (size_t i = 0; cs != NULL && i < sizeof t / sizeof t[0]; i++)
        if (strcmp(cs, t[i].name) == 0)
            return t[i].n;
    return 1;
}

/* Canal's mysqlType and sqlType of a column: the type name the binlog's
 * table map gives (capture/decoder/tablemap.c, sl__dec_column_type_name:
 * lengths in bytes, no display widths) and the java.sql.Types number
 * (capture/decoder/format_canal.c). */
static int canal_types(const sl_schema_col_t *c, sl__snap_fmtcol_t *f) {
    const char *t = c->data_type, *u = c->is_unsigned ? " unsigned" : "";
    int bin = c->charset != NULL && strcmp(c->charset, "binary") == 0;
    sl_buf_t b = SL_BUF_INIT;
    unsigned len = paren_num(c->column_type, 1);
    switch (f->ft) {
    case FT_INT: {
        static const char *const n[] = {"", "tinyint", "smallint", "mediumint",
                                        "int"};
        sl_buf_printf(&b, "%s%s", f->width == 8 ? "bigint" : n[f->width], u);
        f->jdbc = f->width == 1   ? -6
                  : f->width == 2 ? 5
                  : f->width == 8 ? (c->is_unsigned ? 3 : -5)
                                  : (c->is_unsigned ? -5 : 4);
        break;
    }
    case FT_FLOAT:
        sl_buf_printf(&b, "float%s", u);
        f->jdbc = 7;
        break;
    case FT_DOUBLE:
        sl_buf_printf(&b, "double%s", u);
        f->jdbc = 8;
        break;
    case FT_DEC: {
        const char *p = strchr(c->column_type, '(');
        unsigned prec = 10, scale = 0;
        if (p != NULL)
            sscanf(p, "(%u,%u)", &prec, &scale);
        sl_buf_printf(&b, "decimal(%u,%u)%s", prec, scale, u);
        f->jdbc = 3;
        break;
    }
    case FT_YEAR:
        sl_buf_append_str(&b, "year");
        f->jdbc = 12;
        break;
    case FT_DATE:
        sl_buf_append_str(&b, "date");
        f->jdbc = 91;
        break;
    case FT_TIME:
    case FT_DATETIME:
    case FT_TIMESTAMP:
        sl_buf_printf(&b, "%s(%u)", t, f->fsp);
        f->jdbc = f->ft == FT_TIME ? 92 : 93;
        break;
    case FT_BIT:
        sl_buf_printf(&b, "bit(%u)", f->bits);
        f->jdbc = -7;
        break;
    case FT_ENUM:
    case FT_SET:
        sl_buf_append_str(&b, f->ft == FT_ENUM ? "enum(" : "set(");
        for (size_t i = 0; i < c->nvalues; i++)
            sl_buf_printf(&b, "%s'%s'", i ? "," : "", c->values[i]);
        sl_buf_append_u8(&b, ')');
        f->jdbc = 1;
        break;
    case FT_JSON:
        sl_buf_append_str(&b, "json");
        f->jdbc = 12;
        break;
    case FT_GEOM:
        sl_buf_append_str(&b, "geometry");
        f->jdbc = -2;
        break;
    default:
        if (strcmp(t, "char") == 0 || strcmp(t, "binary") == 0) {
            sl_buf_printf(&b, "%s(%u)", bin ? "binary" : "char",
                          len * (bin ? 1 : mbmaxlen(c->charset)));
            f->jdbc = bin ? -2 : 1;
        } else if (strcmp(t, "varchar") == 0 || strcmp(t, "varbinary") == 0) {
            sl_buf_printf(&b, "%s(%u)", bin ? "varbinary" : "varchar",
                          len * (bin ? 1 : mbmaxlen(c->charset)));
            f->jdbc = bin ? -3 : 12;
        } else {
            /* tinytext ... longblob: the size prefix, then blob or text. */
            const char *size = strncmp(t, "tiny", 4) == 0     ? "tiny"
                               : strncmp(t, "medium", 6) == 0 ? "medium"
                               : strncmp(t, "long", 4) == 0   ? "long"
                                                              : "";
            sl_buf_printf(&b, "%s%s", size, bin ? "blob" : "text");
            f->jdbc = bin ? 2004 : 2005;
        }
        break;
    }
    const char *s;
    if (sl_buf_cstr(&b, &s) != 0) {
        sl_buf_free(&b);
        return SL_ENOMEM;
    }
    f->mtype = strdup(s);
    sl_buf_free(&b);
    return f->mtype ? 0 : SL_ENOMEM;
}

/* The value class of a column the worker reads (job kind k). */
static int classify(const sl_schema_col_t *c, sl__snap_kind_t k,
                    sl__snap_fmtcol_t *f) {
    const char *t = c->data_type;
    static const struct {
        const char *name;
        unsigned width;
    } ints[] = {{"tinyint", 1},   {"bool", 1}, {"boolean", 1}, {"smallint", 2},
                {"mediumint", 3}, {"int", 4},  {"integer", 4}, {"bigint", 8}};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        if (strcmp(t, ints[i].name) == 0) {
            f->ft = FT_INT;
            f->width = ints[i].width;
            return 0;
        }
    if (strcmp(t, "float") == 0)
        f->ft = FT_FLOAT;
    else if (strcmp(t, "double") == 0 || strcmp(t, "real") == 0)
        f->ft = FT_DOUBLE;
    else if (strcmp(t, "year") == 0)
        f->ft = FT_YEAR;
    else if (k == SL__SNAP_DEC)
        f->ft = FT_DEC;
    else if (k == SL__SNAP_BIT) {
        f->ft = FT_BIT;
        f->bits = paren_num(c->column_type, 1);
    } else if (strcmp(t, "date") == 0)
        f->ft = FT_DATE;
    else if (strcmp(t, "time") == 0)
        f->ft = FT_TIME;
    else if (strcmp(t, "datetime") == 0)
        f->ft = FT_DATETIME;
    else if (strcmp(t, "timestamp") == 0)
        f->ft = FT_TIMESTAMP;
    else if (strcmp(t, "enum") == 0)
        f->ft = FT_ENUM;
    else if (strcmp(t, "set") == 0)
        f->ft = FT_SET;
    else if (k == SL__SNAP_JSON)
        f->ft = FT_JSON;
    else if (k == SL__SNAP_GEOM)
        f->ft = FT_GEOM;
    else if (k == SL__SNAP_BIN)
        f->ft = FT_BIN;
    else if (k == SL__SNAP_STR)
        f->ft = FT_TEXT;
    else
        return SL_EUNSUPPORTED;
    if (f->ft == FT_TIME || f->ft == FT_DATETIME || f->ft == FT_TIMESTAMP)
        f->fsp = paren_num(c->column_type, 0);
    return 0;
}

void sl__snap_fmt_job_free(sl__snap_job_t *job) {
    for (size_t i = 0; job->fcols != NULL && i < job->ncols; i++)
        free(job->fcols[i].mtype);
    free(job->fcols);
    job->fcols = NULL;
}

int sl__snap_fmt_job(sl__snap_job_t *job, sl_binlog_format_t format,
                     const sl_schema_table_t *t) {
    sl__snap_fmt_job_free(job);
    job->format = (int)format;
    if (format == SL_FORMAT_SLUICE)
        return 0;
    job->fcols = calloc(job->ncols ? job->ncols : 1, sizeof *job->fcols);
    if (job->fcols == NULL)
        return SL_ENOMEM;
    for (size_t i = 0; i < job->ncols; i++) {
        const sl_schema_col_t *c = NULL;
        for (size_t j = 0; j < t->ncols && c == NULL; j++)
            if (strcmp(t->cols[j].name, job->cols[i].name) == 0)
                c = &t->cols[j];
        if (c == NULL)
            return SL_EINVAL;
        sl__snap_fmtcol_t *f = &job->fcols[i];
        f->is_unsigned = c->is_unsigned;
        f->nullable = c->nullable;
        int rc = classify(c, job->cols[i].kind, f);
        if (rc == 0)
            rc = canal_types(c, f);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* ---- Values --------------------------------------------------------- */

/* Reads n digits at *p (advancing it); -1 when they are not digits. */
static long digits(const char **p, const char *end, int n) {
    long v = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (*p >= end || !isdigit((unsigned char)**p))
            return -1;
        v = v * 10 + (**p - '0');
    }
    return v;
}

/* ".ffffff" (up to six digits) as microseconds; absent: 0. */
static int fraction(const char **p, const char *end, uint32_t *usec) {
    *usec = 0;
    if (*p >= end)
        return 0;
    if (**p != '.')
        return -1;
    (*p)++;
    int n = 0;
    while (*p < end && isdigit((unsigned char)**p) && n < 6) {
        *usec = *usec * 10 + (uint32_t)(**p - '0');
        (*p)++;
        n++;
    }
    if (n == 0 || *p != end)
        return -1;
    for (; n < 6; n++)
        *usec *= 10;
    return 0;
}

/* "YYYY-MM-DD[ hh:mm:ss[.f]]" into tv (time: with_time). */
static int parse_datetime(const char *v, size_t n, int with_time,
                          sl_fmtval_time_t *tv) {
    const char *p = v, *e = v + n;
    long y = digits(&p, e, 4), mo, d, h = 0, mi = 0, s = 0;
    if (y < 0 || p >= e || *p++ != '-' || (mo = digits(&p, e, 2)) < 0 ||
        p >= e || *p++ != '-' || (d = digits(&p, e, 2)) < 0)
        return SL_ECORRUPT;
    if (with_time) {
        if (p >= e || *p++ != ' ' || (h = digits(&p, e, 2)) < 0 || p >= e ||
            *p++ != ':' || (mi = digits(&p, e, 2)) < 0 || p >= e ||
            *p++ != ':' || (s = digits(&p, e, 2)) < 0 ||
            fraction(&p, e, &tv->usec) != 0)
            return SL_ECORRUPT;
    } else if (p != e) {
        return SL_ECORRUPT;
    }
    tv->y = (unsigned)y;
    tv->mo = (unsigned)mo;
    tv->d = (unsigned)d;
    tv->h = (unsigned)h;
    tv->mi = (unsigned)mi;
    tv->s = (unsigned)s;
    return 0;
}

/* "[-]h..h:mm:ss[.f]" into tv. */
static int parse_time(const char *v, size_t n, sl_fmtval_time_t *tv) {
    const char *p = v, *e = v + n;
    tv->neg = p < e && *p == '-';
    p += tv->neg;
    long h = 0;
    int nd = 0;
    while (p < e && isdigit((unsigned char)*p) && nd < 10) {
        h = h * 10 + (*p++ - '0');
        nd++;
    }
    long mi, s;
    if (nd == 0 || p >= e || *p++ != ':' || (mi = digits(&p, e, 2)) < 0 ||
        p >= e || *p++ != ':' || (s = digits(&p, e, 2)) < 0 ||
        fraction(&p, e, &tv->usec) != 0)
        return SL_ECORRUPT;
    tv->h = (unsigned)h;
    tv->mi = (unsigned)mi;
    tv->s = (unsigned)s;
    return 0;
}

/* An integer as the server writes it, which is a JSON number: an
 * optional minus, then digits without a leading zero ("0" alone). */
static int is_int(const char *v, size_t n) {
    size_t i = n > 0 && v[0] == '-';
    if (i >= n || (v[i] == '0' && (n - i > 1 || i > 0)))
        return 0;
    for (; i < n; i++)
        if (!isdigit((unsigned char)v[i]))
            return 0;
    return 1;
}

/* A DECIMAL's text: [-]digits[.digits], no leading zero but "0.". */
static int is_decimal(const char *v, size_t n) {
    size_t i = n > 0 && v[0] == '-', d = 0, point = 0;
    if (i + 1 < n && v[i] == '0' && v[i + 1] != '.')
        return 0;
    for (; i < n; i++) {
        if (isdigit((unsigned char)v[i]))
            d++;
        else if (v[i] == '.' && d > 0 && !point)
            point = d + 1;
        else
            return 0;
    }
    return d > 0 && point != d + 1;
}

static void quoted(sl_buf_t *out, const char *v, size_t n) {
    sl_buf_append_u8(out, '"');
    sl_buf_append(out, v, n);
    sl_buf_append_u8(out, '"');
}

static void jstr(sl_buf_t *out, const void *v, size_t n) {
    sl_buf_append_u8(out, '"');
    sl_json_escape(out, v, n, NULL);
    sl_buf_append_u8(out, '"');
}

/* The temporal text of the sluice form, re-written from its parts. */
static void time_text(sl_buf_t *out, const sl_fmtval_time_t *tv, int ft) {
    char t[64];
    int k = 0;
    if (ft == FT_TIME)
        k = snprintf(t, sizeof t, "%s%02u:%02u:%02u", tv->neg ? "-" : "", tv->h,
                     tv->mi, tv->s);
    else if (ft == FT_DATE)
        k = snprintf(t, sizeof t, "%04u-%02u-%02u", tv->y, tv->mo, tv->d);
    else
        k = snprintf(t, sizeof t, "%04u-%02u-%02u %02u:%02u:%02u", tv->y,
                     tv->mo, tv->d, tv->h, tv->mi, tv->s);
    if (tv->fsp > 0 && ft != FT_DATE)
        k += snprintf(t + k, sizeof t - (size_t)k, ".%06u", tv->usec) - 6 +
             (int)tv->fsp;
    quoted(out, t, (size_t)k);
}

static int put_value(const sl__snap_job_t *job, const sl__snap_fmtcol_t *f,
                     const char *v, size_t n, sl_buf_t *tmp, sl_buf_t *out) {
    sl_binlog_format_t fmt = (sl_binlog_format_t)job->format;
    int canal = fmt == SL_FORMAT_CANAL, dbz = fmt == SL_FORMAT_DEBEZIUM;
    char num[64];
    switch (f->ft) {
    case FT_INT:
        if (!is_int(v, n))
            return SL_ECORRUPT;
        if (canal)
            quoted(out, v, n);
        else
            sl_buf_append(out, v, n);
        return 0;
    case FT_FLOAT:
    case FT_DOUBLE: {
        /* Decimal text only (strtod would take "inf" and hex too), and a
         * finite value, as the binlog path requires. */
        if (n == 0 || n >= sizeof num || strspn(v, "0123456789+-.eE") < n)
            return SL_ECORRUPT;
        memcpy(num, v, n);
        num[n] = '\0';
        char *end;
        double d = strtod(num, &end);
        if (*end != '\0' || !isfinite(d) ||
            (f->ft == FT_FLOAT && !isfinite((float)d)))
            return SL_ECORRUPT;
        size_t at = out->len;
        if (f->ft == FT_FLOAT)
            sl_fmtval_float(out, (float)d);
        else
            sl_fmtval_double(out, d);
        if (canal) {
            /* Digits and signs only: quoting them makes Canal's string. */
            size_t len = out->len - at;
            if (sl_buf_extend(out, 2) == NULL)
                return SL_ENOMEM;
            memmove(out->data + at + 1, out->data + at, len);
            out->data[at] = '"';
            out->data[at + len + 1] = '"';
        }
        return 0;
    }
    case FT_DEC:
        if (!is_decimal(v, n))
            return SL_ECORRUPT;
        if (fmt == SL_FORMAT_MAXWELL)
            sl_buf_append(out, v, n);
        else
            quoted(out, v, n);
        return 0;
    case FT_YEAR: {
        /* Four digits ("0000" for the zero year). */
        if (n == 0 || n > 4 || strspn(v, "0123456789") < n)
            return SL_ECORRUPT;
        int k = snprintf(num, sizeof num, "%lu", strtoul(v, NULL, 10));
        if (canal)
            quoted(out, num, (size_t)k);
        else
            sl_buf_append(out, num, (size_t)k);
        return 0;
    }
    case FT_DATE:
    case FT_DATETIME:
    case FT_TIMESTAMP:
    case FT_TIME: {
        sl_fmtval_time_t tv = {.fsp = f->fsp};
        int rc = f->ft == FT_TIME ? parse_time(v, n, &tv)
                                  : parse_datetime(v, n, f->ft != FT_DATE, &tv);
        if (rc != 0)
            return rc;
        if (!dbz) {
            time_text(out, &tv, f->ft);
            return 0;
        }
        tv.kind = f->ft == FT_DATE       ? SL_FMTVAL_DATE
                  : f->ft == FT_TIME     ? SL_FMTVAL_TIME
                  : f->ft == FT_DATETIME ? SL_FMTVAL_DATETIME
                                         : SL_FMTVAL_TIMESTAMP;
        if (f->ft == FT_TIMESTAMP && tv.y != 0)
            tv.secs = (uint64_t)(sl_fmtval_days_from_civil(tv.y, tv.mo, tv.d) *
                                     86400 +
                                 tv.h * 3600 + tv.mi * 60 + tv.s);
        else if (f->ft == FT_TIMESTAMP)
            tv.usec = 0; /* The zero TIMESTAMP. */
        return sl_fmtval_dbz_temporal(f->nullable, &tv, out);
    }
    case FT_BIT: {
        /* Selected as col+0: the value as a number. */
        if (!is_int(v, n) || v[0] == '-' || n > 20)
            return SL_ECORRUPT;
        if (f->bits == 0 || f->bits > 64)
            return SL_ECORRUPT;
        errno = 0;
        unsigned long long u = strtoull(v, NULL, 10);
        if (errno != 0 || (f->bits < 64 && u >> f->bits != 0))
            return SL_ECORRUPT;
        if (!dbz) {
            if (canal)
                quoted(out, v, n);
            else
                sl_buf_append(out, v, n);
            return 0;
        }
        unsigned nb = (f->bits + 7) / 8;
        uint8_t be[8];
        for (unsigned i = 0; i < nb; i++)
            be[nb - 1 - i] = (uint8_t)(u >> (8 * i));
        return sl_fmtval_dbz_bit(f->bits, be, nb, out);
    }
    case FT_SET:
        if (fmt == SL_FORMAT_MAXWELL) {
            /* Maxwell writes a SET as an array of its members. */
            sl_buf_append_u8(out, '[');
            for (size_t a = 0; a < n;) {
                const char *c = memchr(v + a, ',', n - a);
                size_t e = c ? (size_t)(c - v) : n;
                if (a > 0)
                    sl_buf_append_u8(out, ',');
                jstr(out, v + a, e - a);
                a = e + 1;
            }
            sl_buf_append_u8(out, ']');
            return 0;
        }
        jstr(out, v, n);
        return 0;
    case FT_BIN: return sl_fmtval_bytes(fmt, (const uint8_t *)v, n, tmp, out);
    case FT_GEOM: {
        /* The server sends the stored value: SRID, then WKB. */
        const char *why = NULL;
        int rc = sl_fmtval_geometry(fmt, (const uint8_t *)v, n, tmp, out, &why);
        return rc == SL_ENOMEM ? rc : rc != 0 ? SL_ECORRUPT : 0;
    }
    case FT_JSON:
        /* MySQL's JSON: the document (maxwell), checked, or its text. */
        if (fmt == SL_FORMAT_MAXWELL) {
            sl_jr_doc_t doc;
            sl_jr_init(&doc);
            int rc = sl_jr_parse(&doc, v, n);
            sl_jr_free(&doc);
            if (rc != 0)
                return rc == SL_ENOMEM ? rc : SL_ECORRUPT;
            sl_buf_append(out, v, n);
        } else {
            jstr(out, v, n);
        }
        return 0;
    default: jstr(out, v, n); return 0;
    }
}

int sl__snap_fmt_render(sl__snap_job_t *job, char **row,
                        const unsigned long *lens, sl_buf_t *out, size_t *span,
                        sl_buf_t *tmp) {
    sl_buf_reset(out);
    sl_buf_append_u8(out, '{');
    for (size_t i = 0; i < job->ncols; i++) {
        if (i)
            sl_buf_append_u8(out, ',');
        jstr(out, job->cols[i].name, strlen(job->cols[i].name));
        sl_buf_append_u8(out, ':');
        if (span != NULL)
            span[2 * i] = out->len;
        int rc = row[i] == NULL ? (sl_buf_append_str(out, "null"), 0)
                                : put_value(job, &job->fcols[i], row[i],
                                            lens[i], tmp, out);
        if (rc != 0)
            return rc;
        if (span != NULL)
            span[2 * i + 1] = out->len;
    }
    sl_buf_append_u8(out, '}');
    return sl_buf_error(out) ? SL_ENOMEM : 0;
}

const char *sl__snap_fmt_select_suffix(const sl__snap_job_t *job, size_t i) {
    return job->fcols != NULL && job->fcols[i].ft == FT_FLOAT ? "+0e0" : "";
}

int sl__snap_fmt_span_key(const sl__snap_job_t *job, const sl_buf_t *img,
                          const size_t *span, sl_buf_t *key, uint64_t *hash) {
    sl_buf_reset(key);
    for (size_t k = 0; k < job->npk; k++) {
        size_t i = job->pk[k];
        size_t a = span[2 * i], e = span[2 * i + 1];
        if (e - a >= 2 && img->data[a] == '"') {
            a++;
            e--;
        }
        sl_buf_append(key, img->data + a, e - a);
        sl_buf_append_u8(key, 0);
    }
    *hash = sl_hash_fnv1a(key->data, key->len);
    return sl_buf_error(key);
}

/* ---- The stream's rows, for the window ------------------------------ */

/* Appends "name":value of member name of obj, if it is there. */
static void copy_member(sl_buf_t *b, const sl_jr_doc_t *d, uint32_t obj,
                        const char *name, const char *as) {
    uint32_t v = obj != SL_JR_NONE ? sl_jr_get(d, obj, name) : SL_JR_NONE;
    if (v == SL_JR_NONE || sl_jr_type(d, v) == SL_JR_NULL)
        return;
    size_t n;
    const char *raw = sl_jr_raw(d, v, &n);
    sl_buf_printf(b, ",\"%s\":", as);
    if (sl_jr_type(d, v) == SL_JR_STRING)
        quoted(b, raw, n);
    else
        sl_buf_append(b, raw, n);
}

int sl__snap_fmt_view(sl_snap_t *snap, const sl_change_t *chg,
                      sl_change_t *view) {
    *view = *chg;
    /* Only sluice's own tables and the table in a window are read by
     * the snapshot: the other rows cost nothing. */
    int own = chg->db_len == 6 && memcmp(chg->db, "sluice", 6) == 0;
    if (!own && (chg->table_len != strlen(snap->jp->table) ||
                 chg->db_len != strlen(snap->jp->db) ||
                 memcmp(chg->table, snap->jp->table, chg->table_len) != 0 ||
                 memcmp(chg->db, snap->jp->db, chg->db_len) != 0))
        return 0;
    sl_buf_t *b = &snap->fview;
    sl_buf_reset(b);
    sl_buf_append_str(b, "{\"before\":");
    if (chg->before != NULL)
        sl_buf_append(b, chg->before, chg->before_len);
    else
        sl_buf_append_str(b, "null");
    sl_buf_append_str(b, ",\"after\":");
    if (chg->after != NULL)
        sl_buf_append(b, chg->after, chg->after_len);
    else
        sl_buf_append_str(b, "null");
    /* The coordinates a read row's envelope takes from its high
     * watermark: the position, and the times and server the format's
     * own envelope names. */
    sl_buf_append_str(b, ",\"src\":{\"file\":");
    jstr(b, chg->file ? chg->file : "-", strlen(chg->file ? chg->file : "-"));
    sl_buf_printf(b, ",\"pos\":%llu", (unsigned long long)chg->pos);
    if (chg->gtid != NULL && chg->gtid[0] != '\0') {
        sl_buf_append_str(b, ",\"gtid\":");
        jstr(b, chg->gtid, strlen(chg->gtid));
    }
    sl_jr_doc_t *d = &snap->doc;
    if (own && sl_jr_parse(d, chg->json, chg->json_len) == 0) {
        uint32_t top = 0;
        if (snap->o.format == SL_FORMAT_DEBEZIUM) {
            uint32_t p = sl_jr_get(d, 0, "payload");
            top = p != SL_JR_NONE ? p : 0;
            uint32_t src = sl_jr_get(d, top, "source");
            copy_member(b, d, src, "server_id", "server_id");
            copy_member(b, d, src, "ts_ms", "ts_ms");
            copy_member(b, d, top, "ts_ms", "ts_top");
        } else if (snap->o.format == SL_FORMAT_MAXWELL) {
            copy_member(b, d, top, "ts", "ts");
        } else {
            copy_member(b, d, top, "es", "ts_ms");
        }
    }
    sl_buf_append_str(b, "}}");
    if (sl_buf_error(b))
        return SL_ENOMEM;
    view->json = (const char *)b->data;
    view->json_len = b->len;
    return 0;
}

/* ---- Envelopes ------------------------------------------------------ */

/* Member name of the high watermark's "src" as a number (0 absent). */
static uint64_t src_num(sl_snap_t *snap, const char *name) {
    sl_jr_doc_t *d = &snap->doc;
    uint32_t v = sl_jr_get(d, 0, name);
    if (v == SL_JR_NONE || sl_jr_type(d, v) != SL_JR_NUMBER)
        return 0;
    size_t n;
    const char *raw = sl_jr_raw(d, v, &n);
    char t[32];
    snprintf(t, sizeof t, "%.*s", (int)(n < 31 ? n : 31), raw);
    return strtoull(t, NULL, 10);
}

/* The high watermark's times in milliseconds: the event's, and the
 * commit's (debezium's top-level ts_ms). */
static void src_times(sl_snap_t *snap, uint64_t *ev_ms, uint64_t *top_ms) {
    *ev_ms = src_num(snap, "ts_ms");
    if (*ev_ms == 0)
        *ev_ms = src_num(snap, "ts") * 1000;
    *top_ms = src_num(snap, "ts_top");
    if (*top_ms == 0)
        *top_ms = *ev_ms;
}

/* Appends the pk values of the image (parsed in snap->doc at obj) as a
 * JSON object ({"id":1}) or array ([1]). */
static void pk_values(sl_snap_t *snap, uint32_t obj, int as_obj, sl_buf_t *b) {
    sl_jr_doc_t *d = &snap->doc;
    sl_buf_append_u8(b, as_obj ? '{' : '[');
    for (size_t k = 0; k < snap->npk; k++) {
        if (k)
            sl_buf_append_u8(b, ',');
        if (as_obj) {
            jstr(b, snap->pknames[k], strlen(snap->pknames[k]));
            sl_buf_append_u8(b, ':');
        }
        uint32_t v = sl_jr_get(d, obj, snap->pknames[k]);
        size_t n;
        const char *raw = v != SL_JR_NONE ? sl_jr_raw(d, v, &n) : "null";
        if (v == SL_JR_NONE)
            n = 4;
        if (v != SL_JR_NONE && sl_jr_type(d, v) == SL_JR_STRING)
            quoted(b, raw, n);
        else
            sl_buf_append(b, raw, n);
    }
    sl_buf_append_u8(b, as_obj ? '}' : ']');
}

static void pk_names(sl_snap_t *snap, sl_buf_t *b) {
    sl_buf_append_u8(b, '[');
    for (size_t k = 0; k < snap->npk; k++) {
        if (k)
            sl_buf_append_u8(b, ',');
        jstr(b, snap->pknames[k], strlen(snap->pknames[k]));
    }
    sl_buf_append_u8(b, ']');
}

/* Debezium's Kafka Connect schema of one column (format_debezium.c's
 * column_schema, from the schema history's types). */
static void dbz_column_schema(const sl__snap_job_t *job, size_t i,
                              sl_buf_t *b) {
    const sl__snap_fmtcol_t *f = &job->fcols[i];
    const char *type = "string", *name = NULL;
    int un = f->is_unsigned;
    switch (f->ft) {
    case FT_INT:
        type = f->width == 1   ? "int16"
               : f->width == 2 ? (un ? "int32" : "int16")
               : f->width == 3 ? "int32"
               : f->width == 4 ? (un ? "int64" : "int32")
                               : "int64";
        break;
    case FT_FLOAT: type = "float"; break;
    case FT_DOUBLE: type = "double"; break;
    case FT_YEAR:
        type = "int32";
        name = "io.debezium.time.Year";
        break;
    case FT_DATE:
        type = "int32";
        name = "io.debezium.time.Date";
        break;
    case FT_TIME:
        type = "int64";
        name = "io.debezium.time.MicroTime";
        break;
    case FT_DATETIME:
        type = "int64";
        name = f->fsp > 3 ? "io.debezium.time.MicroTimestamp"
                          : "io.debezium.time.Timestamp";
        break;
    case FT_TIMESTAMP: name = "io.debezium.time.ZonedTimestamp"; break;
    case FT_BIT:
        if (f->bits == 1) {
            type = "boolean";
        } else {
            type = "bytes";
            name = "io.debezium.data.Bits";
        }
        break;
    case FT_ENUM: name = "io.debezium.data.Enum"; break;
    case FT_SET: name = "io.debezium.data.EnumSet"; break;
    case FT_JSON: name = "io.debezium.data.Json"; break;
    case FT_GEOM:
        type = "struct";
        name = "io.debezium.data.geometry.Geometry";
        break;
    default: break; /* Text and binary: strings, as the binlog path. */
    }
    sl_buf_printf(b, "{\"type\":\"%s\"", type);
    if (f->ft == FT_GEOM)
        sl_buf_append_str(b, ",\"fields\":[{\"type\":\"bytes\",\"optional\":"
                             "false,\"field\":\"wkb\"},{\"type\":\"int32\","
                             "\"optional\":true,\"field\":\"srid\"}]");
    sl_buf_printf(b, ",\"optional\":%s", f->nullable ? "true" : "false");
    if (name != NULL)
        sl_buf_printf(b, ",\"name\":\"%s\",\"version\":1", name);
    if (name != NULL && f->ft == FT_BIT)
        sl_buf_printf(b, ",\"parameters\":{\"length\":\"%u\"}", f->bits);
    sl_buf_append_str(b, ",\"field\":");
    jstr(b, job->cols[i].name, strlen(job->cols[i].name));
    sl_buf_append_u8(b, '}');
}

static void dbz_schema_name(sl_snap_t *snap, const char *what, sl_buf_t *b) {
    sl_buf_t t = SL_BUF_INIT;
    const char *n = snap->o.format_name ? snap->o.format_name : "sluice";
    sl_buf_printf(&t, "%s.%s.%s.%s", n, snap->jp->db, snap->jp->table, what);
    jstr(b, t.data, t.len);
    sl_buf_free(&t);
}

static void dbz_row_schema(sl_snap_t *snap, int pk_only, const char *field,
                           sl_buf_t *b) {
    const sl__snap_job_t *job = snap->jp;
    sl_buf_append_str(b, "{\"type\":\"struct\",\"fields\":[");
    int sep = 0;
    for (size_t i = 0; i < job->ncols; i++) {
        int is_pk = 0;
        for (size_t k = 0; k < job->npk; k++)
            is_pk |= job->pk[k] == i;
        if (pk_only && !is_pk)
            continue;
        if (sep)
            sl_buf_append_u8(b, ',');
        sep = 1;
        dbz_column_schema(job, i, b);
    }
    sl_buf_printf(b, "],\"optional\":%s,\"name\":", pk_only ? "false" : "true");
    dbz_schema_name(snap, pk_only ? "Key" : "Value", b);
    if (field != NULL)
        sl_buf_printf(b, ",\"field\":\"%s\"", field);
    sl_buf_append_u8(b, '}');
}

/* The envelope's schema up to and including "payload": (the source and
 * transaction structs as format_debezium.c writes them). */
static void dbz_envelope_schema(sl_snap_t *snap, sl_buf_t *b) {
    sl_buf_append_str(b, "{\"schema\":{\"type\":\"struct\",\"fields\":[");
    dbz_row_schema(snap, 0, "before", b);
    sl_buf_append_u8(b, ',');
    dbz_row_schema(snap, 0, "after", b);
    sl_buf_append_u8(b, ',');
    sl_buf_append_str(b, sl_fmtval_dbz_source_schema());
    sl_buf_append_str(b, sl_fmtval_dbz_envelope_tail());
    dbz_schema_name(snap, "Envelope", b);
    sl_buf_append_str(b, ",\"version\":1},\"payload\":");
}

static int render_dbz(sl_snap_t *snap, sl_buf_t *out, const void *row,
                      size_t rowlen) {
    sl_jr_doc_t *d = &snap->doc;
    const char *src = (const char *)snap->hw_src.data;
    if (sl_jr_parse(d, src, snap->hw_src.len) != 0)
        return SL_ECORRUPT;
    uint64_t ev_ms, top_ms;
    src_times(snap, &ev_ms, &top_ms);
    uint64_t server_id = src_num(snap, "server_id"), pos = src_num(snap, "pos");
    uint32_t file = sl_jr_get(d, 0, "file"), gtid = sl_jr_get(d, 0, "gtid");
    if (snap->o.format_schemas)
        dbz_envelope_schema(snap, out);
    sl_buf_append_str(out, "{\"before\":null,\"after\":");
    sl_buf_append(out, row, rowlen);
    sl_buf_append_str(out, ",\"source\":{\"version\":\"sluice-" SL_VERSION
                           "\",\"connector\":\"mysql\",\"name\":");
    const char *n = snap->o.format_name ? snap->o.format_name : "sluice";
    jstr(out, n, strlen(n));
    sl_buf_printf(out, ",\"ts_ms\":%llu,\"snapshot\":\"incremental\",\"db\":",
                  (unsigned long long)ev_ms);
    jstr(out, snap->jp->db, strlen(snap->jp->db));
    sl_buf_append_str(out, ",\"sequence\":null,\"table\":");
    jstr(out, snap->jp->table, strlen(snap->jp->table));
    sl_buf_printf(
        out, ",\"server_id\":%llu,\"gtid\":", (unsigned long long)server_id);
    size_t len;
    const char *raw;
    if (gtid != SL_JR_NONE && sl_jr_type(d, gtid) == SL_JR_STRING) {
        raw = sl_jr_raw(d, gtid, &len);
        quoted(out, raw, len);
    } else {
        sl_buf_append_str(out, "null");
    }
    sl_buf_append_str(out, ",\"file\":");
    if (file != SL_JR_NONE && sl_jr_type(d, file) == SL_JR_STRING) {
        raw = sl_jr_raw(d, file, &len);
        quoted(out, raw, len);
    } else {
        sl_buf_append_str(out, "\"-\"");
    }
    sl_buf_printf(out,
                  ",\"pos\":%llu,\"row\":0,\"thread\":null,\"query\":null},"
                  "\"op\":\"r\",\"ts_ms\":%llu,\"transaction\":null}",
                  (unsigned long long)pos, (unsigned long long)top_ms);
    if (snap->o.format_schemas)
        sl_buf_append_u8(out, '}');
    if (snap->npk == 0)
        return 0;
    /* The record key after a NUL byte (sl__snap_publish). */
    if (sl_jr_parse(d, row, rowlen) != 0)
        return SL_ECORRUPT;
    sl_buf_append_u8(out, 0);
    if (snap->o.format_schemas) {
        sl_buf_append_str(out, "{\"schema\":");
        dbz_row_schema(snap, 1, NULL, out);
        sl_buf_append_str(out, ",\"payload\":");
    }
    pk_values(snap, 0, 1, out);
    if (snap->o.format_schemas)
        sl_buf_append_u8(out, '}');
    return 0;
}

/* The time of the position src (its "ts", or the event's), in ms. */
static uint64_t src_ms(sl_snap_t *snap, const sl_buf_t *src) {
    if (sl_jr_parse(&snap->doc, (const char *)src->data, src->len) != 0)
        return 0;
    uint64_t ev_ms, top_ms;
    src_times(snap, &ev_ms, &top_ms);
    return top_ms;
}

static uint64_t hw_ms(sl_snap_t *snap) { return src_ms(snap, &snap->hw_src); }

/* A Maxwell event's members up to "data": of db.table at the position
 * src. */
static void mxw_head(sl_snap_t *snap, sl_buf_t *out, const char *db,
                     const char *table, const char *type, const sl_buf_t *src) {
    uint64_t ts = src_ms(snap, src) / 1000;
    sl_buf_append_str(out, "{\"database\":");
    jstr(out, db, strlen(db));
    sl_buf_append_str(out, ",\"table\":");
    jstr(out, table, strlen(table));
    sl_buf_printf(out, ",\"type\":\"%s\",\"ts\":%llu,\"data\":", type,
                  (unsigned long long)ts);
}

static int render_mxw(sl_snap_t *snap, sl_buf_t *out, const char *type,
                      const void *row, size_t rowlen) {
    mxw_head(snap, out, snap->jp->db, snap->jp->table, type, &snap->hw_src);
    sl_buf_append(out, row, rowlen);
    if (snap->npk > 0) {
        if (sl_jr_parse(&snap->doc, row, rowlen) != 0)
            return SL_ECORRUPT;
        sl_buf_append_str(out, ",\"primary_key\":");
        pk_values(snap, 0, 0, out);
        sl_buf_append_str(out, ",\"primary_key_columns\":");
        pk_names(snap, out);
    }
    sl_buf_append_u8(out, '}');
    return 0;
}

static int render_canal(sl_snap_t *snap, sl_buf_t *out, const void *row,
                        size_t rowlen) {
    const sl__snap_job_t *job = snap->jp;
    uint64_t ms = hw_ms(snap);
    sl_buf_append_str(out, "{\"data\":[");
    sl_buf_append(out, row, rowlen);
    sl_buf_append_str(out, "],\"database\":");
    jstr(out, job->db, strlen(job->db));
    sl_buf_printf(out, ",\"es\":%llu,\"id\":0,\"isDdl\":false,\"mysqlType\":{",
                  (unsigned long long)ms);
    for (size_t i = 0; i < job->ncols; i++) {
        if (i)
            sl_buf_append_u8(out, ',');
        jstr(out, job->cols[i].name, strlen(job->cols[i].name));
        sl_buf_append_u8(out, ':');
        jstr(out, job->fcols[i].mtype, strlen(job->fcols[i].mtype));
    }
    sl_buf_append_str(out, "},\"old\":null,\"pkNames\":");
    if (snap->npk > 0)
        pk_names(snap, out);
    else
        sl_buf_append_str(out, "null");
    sl_buf_append_str(out, ",\"sql\":\"\",\"sqlType\":{");
    for (size_t i = 0; i < job->ncols; i++) {
        if (i)
            sl_buf_append_u8(out, ',');
        jstr(out, job->cols[i].name, strlen(job->cols[i].name));
        sl_buf_printf(out, ":%d", job->fcols[i].jdbc);
    }
    sl_buf_append_str(out, "},\"table\":");
    jstr(out, job->table, strlen(job->table));
    sl_buf_printf(out, ",\"ts\":%llu,\"type\":\"INSERT\"}",
                  (unsigned long long)ms);
    return 0;
}

int sl__snap_fmt_read(sl_snap_t *snap, sl_buf_t *out, const void *row,
                      size_t rowlen) {
    int rc;
    switch (snap->o.format) {
    case SL_FORMAT_DEBEZIUM: rc = render_dbz(snap, out, row, rowlen); break;
    case SL_FORMAT_MAXWELL:
        rc = render_mxw(snap, out, "bootstrap-insert", row, rowlen);
        break;
    default: rc = render_canal(snap, out, row, rowlen); break;
    }
    return rc ? rc : (sl_buf_error(out) ? SL_ENOMEM : 0);
}

int sl__snap_fmt_marker(sl_snap_t *snap, const sl__snap_marker_t *m, int done,
                        sl_buf_t *out) {
    sl_buf_reset(out);
    /* Debezium and Canal have no such events: none is written. */
    if (snap->o.format != SL_FORMAT_MAXWELL)
        return 0;
    mxw_head(snap, out, m->db, m->table,
             done ? "bootstrap-complete" : "bootstrap-start", m->src);
    sl_buf_append_str(out, "{}}");
    return sl_buf_error(out) ? SL_ENOMEM : 0;
}

int sl__snap_publish(sl_snap_t *snap, const char *db, const char *table,
                     uint64_t hash, int all_parts, const char *json,
                     size_t len) {
    if (len == 0)
        return 0; /* A marker the format has no event for. */
    if (snap->o.format == SL_FORMAT_DEBEZIUM && !all_parts) {
        const char *nul = memchr(json, 0, len);
        if (nul != NULL) {
            size_t jl = (size_t)(nul - json);
            if (snap->o.publish_key == NULL)
                return snap->o.publish(snap->o.ctx, db, table, hash, 0, json,
                                       jl);
            return snap->o.publish_key(snap->o.ctx, db, table, hash, json, jl,
                                       nul + 1, len - jl - 1);
        }
    }
    return snap->o.publish(snap->o.ctx, db, table, hash, all_parts, json, len);
}
