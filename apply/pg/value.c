/*
 * One JSON value of a change event (docs/change-events.md) as a
 * PostgreSQL parameter for a column of the target table. Text parameters
 * are the value's text as PostgreSQL reads it for the column's type (the
 * statement casts each parameter to that type); bytea goes in binary
 * form, as the bytes themselves.
 *
 *   number            its exact text (integers, DECIMAL strings, the
 *                     shortest FLOAT/DOUBLE text, which real and double
 *                     precision read back to the same value); for bit(n)
 *                     the n binary digits; for boolean 0 is false
 *   string            UTF-8 text; a NUL byte (U+0000), which PostgreSQL
 *                     text cannot hold, is refused; for bytea the bytes;
 *                     for text[] (MySQL SET) the comma-separated names as
 *                     an array; for date and timestamp a zero date
 *                     (0000-00-00, or a zero month or day) follows
 *                     --zero-dates: NULL or stop
 *   {"base64"}        bytes: bytea only
 *   {"srid","wkb"}    geometry: its WKB bytes into bytea
 *   array             VECTOR: real[] / double precision[]
 *   object, array     json/jsonb: the document's text
 *   null              NULL
 */
#include "internal.h"

#include "error.h"

#include <stdio.h>
#include <string.h>

/* Ends the chunk's next parameter: data from mark to the end, format
 * fmt. */
static int put_param(pgchunk_t *c, size_t mark, int fmt) {
    size_t len = c->data.len - mark;
    if (sl_buf_append_u8(&c->data, 0) != 0)
        return SL_ENOMEM;
    c->poff[c->nparams] = mark;
    c->plen[c->nparams] = (int)len;
    c->pfmt[c->nparams] = fmt;
    c->nparams++;
    return 0;
}

static void put_null(pgchunk_t *c) {
    c->poff[c->nparams] = SIZE_MAX;
    c->plen[c->nparams] = 0;
    c->pfmt[c->nparams] = 0;
    c->nparams++;
}

static int hexval(char ch) {
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* A zero date, or one with a zero month or day: "0000-00-00", "2024-00-10"
 * (MariaDB accepts them, PostgreSQL does not). */
static int zero_date(const char *t, size_t n) {
    if (n < 10 || t[4] != '-' || t[7] != '-')
        return 0;
    return memcmp(t, "0000", 4) == 0 || memcmp(t + 5, "00", 2) == 0 ||
           memcmp(t + 8, "00", 2) == 0;
}

/* Appends a SET value "a,c" as the array literal {"a","c"}. */
static int put_set(sl_buf_t *b, const char *t, size_t n) {
    sl_buf_append_u8(b, '{');
    size_t i = 0;
    while (n > 0 && i <= n) {
        if (i > 0)
            sl_buf_append_u8(b, ',');
        sl_buf_append_u8(b, '"');
        for (; i < n && t[i] != ','; i++) {
            if (t[i] == '"' || t[i] == '\\')
                sl_buf_append_u8(b, '\\');
            sl_buf_append_u8(b, (uint8_t)t[i]);
        }
        sl_buf_append_u8(b, '"');
        i++;
    }
    sl_buf_append_u8(b, '}');
    return sl_buf_error(b);
}

int sl__pg_value(sl_pg_sink_t *s, pgchunk_t *c, const sl_jr_doc_t *doc,
                 uint32_t v, const pgcol_t *col, int mysql_json, char *err,
                 size_t errlen) {
    sl_jr_type_t t = sl_jr_type(doc, v);
    size_t mark = c->data.len, n;
    const char *raw = sl_jr_raw(doc, v, &n);
    int rc;
    switch (t) {
    case SL_JR_NULL: put_null(c); return 0;
    case SL_JR_TRUE:
    case SL_JR_FALSE:
        if (col->kind == PGK_JSON || col->kind == PGK_BOOL ||
            col->kind == PGK_TEXT) {
            sl_buf_append(&c->data, raw, n);
            return put_param(c, mark, 0);
        }
        break;
    case SL_JR_NUMBER:
        if (col->kind == PGK_BIT) {
            uint64_t x;
            int bits = col->bits > 0 ? col->bits : 64;
            if (sl_jr_u64(doc, v, &x) != 0 || bits > 64 ||
                (bits < 64 && x >> bits != 0)) {
                snprintf(err, errlen, "column %s: %.*s does not fit %s",
                         col->name, (int)(n > 40 ? 40 : n), raw, col->type);
                return SL_EDB;
            }
            for (int i = bits - 1; i >= 0; i--)
                sl_buf_append_u8(&c->data, (x >> i) & 1 ? '1' : '0');
            return put_param(c, mark, 0);
        }
        if (col->kind == PGK_BOOL) {
            sl_buf_append_str(&c->data, n == 1 && raw[0] == '0' ? "f" : "t");
            return put_param(c, mark, 0);
        }
        if (col->kind == PGK_BYTEA || col->kind == PGK_TEXTARR ||
            col->kind == PGK_FLOATARR || col->kind == PGK_DATE ||
            col->kind == PGK_TS)
            break;
        sl_buf_append(&c->data, raw, n);
        return put_param(c, mark, 0);
    case SL_JR_STRING: {
        if (mysql_json && col->kind == PGK_JSON) {
            /* A MySQL JSON document that is a string: its JSON text. */
            sl_buf_append(&c->data, raw - 1, n + 2);
            return put_param(c, mark, 0);
        }
        if ((rc = sl_jr_unescape(doc, v, &c->data)) != 0)
            return rc;
        const char *txt = (const char *)c->data.data + mark;
        size_t len = c->data.len - mark;
        if (col->kind == PGK_BYTEA)
            return put_param(c, mark, 1);
        if (memchr(txt, 0, len) != NULL) {
            c->data.len = mark;
            snprintf(err, errlen,
                     "column %s: the value holds a NUL byte (U+0000), which "
                     "PostgreSQL %s cannot store",
                     col->name, col->type);
            return SL_EDB;
        }
        if ((col->kind == PGK_DATE || col->kind == PGK_TS) &&
            zero_date(txt, len)) {
            c->data.len = mark;
            if (s->o.zero_dates == SL_PG_ZERO_NULL) {
                put_null(c);
                return 0;
            }
            snprintf(err, errlen,
                     "column %s: zero date %.*s has no PostgreSQL value "
                     "(--zero-dates stop)",
                     col->name, (int)(len > 30 ? 30 : len), txt);
            return SL_EDB;
        }
        if (col->kind == PGK_TEXTARR) {
            sl_buf_t tmp = SL_BUF_INIT;
            sl_buf_append(&tmp, txt, len);
            c->data.len = mark;
            rc = sl_buf_error(&tmp);
            if (rc == 0)
                rc = put_set(&c->data, (const char *)tmp.data, tmp.len);
            sl_buf_free(&tmp);
            if (rc != 0)
                return rc;
        }
        return put_param(c, mark, 0);
    }
    case SL_JR_OBJECT: {
        uint32_t b64 = sl_jr_get(doc, v, "base64");
        uint32_t wkb = sl_jr_get(doc, v, "wkb");
        if (b64 != SL_JR_NONE && sl_jr_type(doc, b64) == SL_JR_STRING &&
            col->kind == PGK_BYTEA) {
            size_t bl;
            const char *bt = sl_jr_raw(doc, b64, &bl);
            if (sl_jr_base64_decode(&c->data, bt, bl) != 0) {
                snprintf(err, errlen, "column %s: bad base64", col->name);
                return SL_EDB;
            }
            return put_param(c, mark, 1);
        }
        if (wkb != SL_JR_NONE && sl_jr_type(doc, wkb) == SL_JR_STRING &&
            col->kind == PGK_BYTEA) {
            size_t hl;
            const char *h = sl_jr_raw(doc, wkb, &hl);
            for (size_t i = 0; i + 1 < hl; i += 2) {
                int hi = hexval(h[i]), lo = hexval(h[i + 1]);
                if (hi < 0 || lo < 0) {
                    c->data.len = mark;
                    snprintf(err, errlen, "column %s: bad WKB hex", col->name);
                    return SL_EDB;
                }
                sl_buf_append_u8(&c->data, (uint8_t)(hi << 4 | lo));
            }
            return put_param(c, mark, 1);
        }
        if (sl_jr_get(doc, v, "json_diff") != SL_JR_NONE) {
            snprintf(err, errlen,
                     "column %s: a partial JSON update (json_diff) cannot be "
                     "applied to PostgreSQL; capture with "
                     "binlog_row_value_options off or a FULL row image",
                     col->name);
            return SL_EDB;
        }
        if (col->kind == PGK_JSON) {
            sl_buf_append(&c->data, raw, n);
            return put_param(c, mark, 0);
        }
        if (b64 != SL_JR_NONE) {
            snprintf(err, errlen,
                     "column %s: binary value (not valid UTF-8 text) for "
                     "PostgreSQL %s",
                     col->name, col->type);
            return SL_EDB;
        }
        break;
    }
    case SL_JR_ARRAY:
        if (col->kind == PGK_JSON) {
            sl_buf_append(&c->data, raw, n);
            return put_param(c, mark, 0);
        }
        if (col->kind == PGK_FLOATARR) {
            sl_buf_append_u8(&c->data, '{');
            if (n > 2)
                sl_buf_append(&c->data, raw + 1, n - 2);
            sl_buf_append_u8(&c->data, '}');
            return put_param(c, mark, 0);
        }
        break;
    }
    snprintf(err, errlen,
             "column %s: a JSON %s value cannot go into "
             "PostgreSQL %s",
             col->name, sl_jr_type_name(t), col->type);
    return SL_EDB;
}
