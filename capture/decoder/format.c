/*
 * The event formats other tools read (docs/change-events.md, "Formats"):
 * what they share. A row is decoded once per image into dec->fimg with
 * every value in the format's encoding, remembering where each column's
 * value is; the envelope of each format (format_debezium.c,
 * format_maxwell.c, format_canal.c) is then written straight from those
 * spans. Values whose encoding differs from sluice's are written here,
 * called from types.c at the point where the value's parts are known;
 * nothing is rendered as sluice JSON and parsed back.
 *
 * Encodings (per format; "as sluice" means the sluice form):
 *   debezium  DATE: days since 1970-01-01; TIME: microseconds (signed);
 *             DATETIME(0-3): milliseconds since the epoch, DATETIME(4-6):
 *             microseconds (time.precision.mode=adaptive_time_micro-
 *             seconds); TIMESTAMP: "YYYY-MM-DDThh:mm:ss[.f]Z" with the
 *             column's fraction digits; zero dates: null (0, or the
 *             epoch, for a NOT NULL column); binary: base64 string
 *             (binary.handling.mode=base64); BIT(1): true/false, BIT(n):
 *             base64 of its bytes little-endian; JSON: its text as a
 *             string; GEOMETRY: {"wkb":base64,"srid":n}; DECIMAL: string
 *             (decimal.handling.mode=string); the rest as sluice.
 *   maxwell   DECIMAL: a JSON number; SET: an array of strings; binary:
 *             base64 string; GEOMETRY: WKT, "POINT (1 2)" (format_wkt.c);
 *             the rest as sluice.
 *   canal     every non-null value a string: numbers, YEAR and BIT as
 *             their digits; JSON as its text; binary and GEOMETRY as
 *             ISO-8859-1 text of the bytes (as Canal does); the rest as
 *             sluice.
 */
#include "format_int.h"
#include "hash.h"
#include "json_bin.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int sl_binlog_format_parse(const char *name, sl_binlog_format_t *fmt) {
    static const char *const names[] = {"sluice", "debezium", "maxwell",
                                        "canal"};
    for (int i = 0; i < 4; i++)
        if (strcmp(name, names[i]) == 0) {
            *fmt = (sl_binlog_format_t)i;
            return 0;
        }
    return SL_EINVAL;
}

void sl__dec_fmt_free(sl_binlog_t *dec) {
    sl_buf_free(&dec->fimg[0]);
    sl_buf_free(&dec->fimg[1]);
    sl_buf_free(&dec->ftmp);
    sl_buf_free(&dec->fkey);
    sl_buf_free(&dec->pend);
    sl_buf_free(&dec->pend_names);
    sl_buf_free(&dec->pend_img[0]);
    sl_buf_free(&dec->pend_img[1]);
    sl_buf_free(&dec->fquery);
}

/* ---- Values ------------------------------------------------------------- */

int sl__dec_value_fmt(sl_binlog_t *dec, const sl_column_t *col, sl_reader_t *rd,
                      sl_buf_t *out) {
    int rc;
    switch (dec->opts.format) {
    case SL_FORMAT_CANAL:
        switch (col->real_type) {
        case SL_T_TINY:
        case SL_T_SHORT:
        case SL_T_INT24:
        case SL_T_LONG:
        case SL_T_LONGLONG:
        case SL_T_FLOAT:
        case SL_T_DOUBLE:
        case SL_T_YEAR:
        case SL_T_BIT:
        case SL_T_VECTOR:
            /* Digits, signs, points, commas and brackets: the quotes
             * alone make them the strings Canal writes. */
            sl__dec_out_c(out, '"');
            rc = sl__dec_value_decode(dec, col, rd, out);
            sl__dec_out_c(out, '"');
            return rc;
        case SL_T_ENUM:
        case SL_T_SET: {
            /* Without their names (no metadata) they are numbers: quoted
             * as well. */
            size_t mark = out->len;
            rc = sl__dec_value_decode(dec, col, rd, out);
            if (rc == 0 && out->len > mark && out->data[mark] != '"' &&
                sl__dec_out_c(out, '"') == 0) {
                memmove(out->data + mark + 1, out->data + mark,
                        out->len - mark - 1);
                out->data[mark] = '"';
                sl__dec_out_c(out, '"');
            }
            return rc;
        }
        default: return sl__dec_value_decode(dec, col, rd, out);
        }
    case SL_FORMAT_MAXWELL:
        if (col->real_type == SL_T_NEWDECIMAL) {
            /* The decimal's digits without their quotes: a number. */
            size_t mark = out->len;
            rc = sl__dec_value_decode(dec, col, rd, out);
            if (rc == 0 && out->len >= mark + 2 && out->data[mark] == '"') {
                memmove(out->data + mark, out->data + mark + 1,
                        out->len - mark - 2);
                out->len -= 2;
            }
            return rc;
        }
        return sl__dec_value_decode(dec, col, rd, out);
    default: return sl__dec_value_decode(dec, col, rd, out);
    }
}

int64_t sl_fmtval_days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

int sl__dec_fmt_temporal(sl_binlog_t *dec, const sl_column_t *col,
                         const sl_tval_t *tv, sl_buf_t *out) {
    (void)dec;
    return sl_fmtval_dbz_temporal(col->nullable, tv, out);
}

int sl_fmtval_dbz_temporal(int nullable, const sl_fmtval_time_t *tv,
                           sl_buf_t *out) {
    int zero_date = tv->kind != SL_T_TIME && tv->kind != SL_T_TIMESTAMP &&
                    (tv->y == 0 || tv->mo == 0 || tv->d == 0);
    if (zero_date ||
        (tv->kind == SL_T_TIMESTAMP && tv->secs == 0 && tv->usec == 0)) {
        /* Debezium writes MySQL's zero dates as null, or as the epoch
         * where the column cannot be null. */
        if (nullable)
            return sl__dec_out_raw(out, "null", 4);
        if (tv->kind == SL_T_TIMESTAMP)
            return SL__DEC_OUT_LIT(out, "\"1970-01-01T00:00:00Z\"");
        return sl__dec_out_c(out, '0');
    }
    switch (tv->kind) {
    case SL_T_DATE:
        return sl__dec_out_i64(out,
                               sl_fmtval_days_from_civil(tv->y, tv->mo, tv->d));
    case SL_T_TIME: {
        int64_t us =
            ((int64_t)tv->h * 3600 + tv->mi * 60 + tv->s) * 1000000 + tv->usec;
        return sl__dec_out_i64(out, tv->neg ? -us : us);
    }
    case SL_T_DATETIME: {
        int64_t secs = sl_fmtval_days_from_civil(tv->y, tv->mo, tv->d) * 86400 +
                       (int64_t)tv->h * 3600 + tv->mi * 60 + tv->s;
        if (tv->fsp <= 3)
            return sl__dec_out_i64(out, secs * 1000 + tv->usec / 1000);
        return sl__dec_out_i64(out, secs * 1000000 + tv->usec);
    }
    default: {
        time_t t = (time_t)tv->secs;
        struct tm tm;
        gmtime_r(&t, &tm);
        char txt[48];
        int n = snprintf(txt, sizeof txt, "\"%04d-%02d-%02dT%02d:%02d:%02d",
                         tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                         tm.tm_hour, tm.tm_min, tm.tm_sec);
        sl__dec_out_raw(out, txt, (size_t)n);
        if (tv->fsp > 0) {
            n = snprintf(txt, sizeof txt, ".%06u", (unsigned)tv->usec);
            sl__dec_out_raw(out, txt, 1 + tv->fsp);
        }
        return SL__DEC_OUT_LIT(out, "Z\"");
    }
    }
}

/* Bytes as ISO-8859-1 text (each byte the code point of the same
 * number), the way Canal turns binary values into strings; t is
 * scratch. */
static int latin1(sl_buf_t *t, const uint8_t *p, size_t n, sl_buf_t *out) {
    sl_buf_reset(t);
    if (sl_buf_reserve(t, 2 * n + 1) != 0)
        return SL_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < 0x80) {
            t->data[t->len++] = p[i];
        } else {
            t->data[t->len++] = (uint8_t)(0xC0 | (p[i] >> 6));
            t->data[t->len++] = (uint8_t)(0x80 | (p[i] & 0x3F));
        }
    }
    sl__dec_out_c(out, '"');
    sl_json_escape(out, t->data, t->len, NULL);
    return sl__dec_out_c(out, '"');
}

static int put_latin1(sl_binlog_t *dec, const uint8_t *p, size_t n,
                      sl_buf_t *out) {
    if (latin1(&dec->ftmp, p, n, out) != 0)
        return sl__dec_fail(dec, SL_ENOMEM, "out of memory");
    return 0;
}

static int put_b64(sl_buf_t *out, const uint8_t *p, size_t n) {
    sl__dec_out_c(out, '"');
    sl_base64_encode(out, p, n);
    return sl__dec_out_c(out, '"');
}

int sl__dec_fmt_bytes(sl_binlog_t *dec, const uint8_t *p, size_t n,
                      sl_buf_t *out) {
    if (dec->opts.format == SL_FORMAT_CANAL)
        return put_latin1(dec, p, n, out);
    return put_b64(out, p, n);
}

int sl_fmtval_bytes(sl_binlog_format_t fmt, const uint8_t *p, size_t n,
                    sl_buf_t *tmp, sl_buf_t *out) {
    if (fmt == SL_FORMAT_CANAL)
        return latin1(tmp, p, n, out);
    return put_b64(out, p, n);
}

int sl__dec_fmt_bit(sl_binlog_t *dec, const sl_column_t *col, const uint8_t *p,
                    unsigned n, sl_buf_t *out) {
    (void)dec;
    return sl_fmtval_dbz_bit((col->meta & 255) * 8u + (col->meta >> 8), p, n,
                             out);
}

int sl_fmtval_dbz_bit(unsigned bits, const uint8_t *p, unsigned n,
                      sl_buf_t *out) {
    if (n < 1 || n > 8)
        return SL_EINVAL;
    if (bits == 1)
        return p[0] & 1 ? SL__DEC_OUT_LIT(out, "true")
                        : SL__DEC_OUT_LIT(out, "false");
    /* Debezium's io.debezium.data.Bits: the bytes little-endian. */
    uint8_t le[8];
    for (unsigned i = 0; i < n; i++)
        le[i] = p[n - 1 - i];
    return put_b64(out, le, n);
}

int sl__dec_fmt_json(sl_binlog_t *dec, const uint8_t *p, size_t n,
                     sl_buf_t *out) {
    sl_buf_t *t = &dec->ftmp;
    sl_buf_reset(t);
    int rc = sl_jsonb_to_json(p, n, t);
    if (rc == 0)
        rc = sl_buf_error(t);
    if (rc != 0)
        return sl__dec_fail(dec, rc,
                            "binary JSON value of %zu bytes does not decode: "
                            "%s",
                            n, sl_strerror(rc));
    sl__dec_out_c(out, '"');
    sl_json_escape(out, t->data, t->len, NULL);
    return sl__dec_out_c(out, '"');
}

int sl_fmtval_geometry(sl_binlog_format_t fmt, const uint8_t *p, size_t n,
                       sl_buf_t *tmp, sl_buf_t *out, const char **why) {
    *why = "out of memory";
    if (n < 4) {
        *why = "no SRID";
        return SL_ECORRUPT;
    }
    switch (fmt) {
    case SL_FORMAT_DEBEZIUM:
        SL__DEC_OUT_LIT(out, "{\"wkb\":");
        put_b64(out, p + 4, n - 4);
        SL__DEC_OUT_LIT(out, ",\"srid\":");
        sl__dec_out_u64(out, sl_get_u32le(p));
        return sl__dec_out_c(out, '}');
    case SL_FORMAT_CANAL: return latin1(tmp, p, n, out);
    default: {
        /* Maxwell: the WKT text (the SRID is dropped, as Maxwell does). */
        sl__dec_out_c(out, '"');
        int rc = sl__fmt_wkt(p, n, out, why);
        if (rc != 0)
            return rc;
        return sl__dec_out_c(out, '"');
    }
    }
}

int sl__dec_fmt_geometry(sl_binlog_t *dec, const uint8_t *p, size_t n,
                         sl_buf_t *out) {
    const char *why = NULL;
    int rc = sl_fmtval_geometry(dec->opts.format, p, n, &dec->ftmp, out, &why);
    if (rc == SL_ENOMEM)
        return sl__dec_fail(dec, rc, "out of memory");
    if (rc != 0)
        return sl__dec_fail(dec, rc,
                            "GEOMETRY value of %zu bytes is not valid WKB: %s",
                            n, why);
    return 0;
}

/* ---- Rows and markers ------------------------------------------------- */

void sl__fmt_jstr(sl_buf_t *out, const void *s, size_t n) {
    sl__dec_out_c(out, '"');
    sl_json_escape(out, s, n, NULL);
    sl__dec_out_c(out, '"');
}

void sl__fmt_key(sl_buf_t *out, const sl_tablemap_t *tm, const sl_column_t *c) {
    /* The pre-rendered `"name":`. */
    sl__dec_out_raw(out, tm->keys.data + c->key_off, c->key_len);
}

/* Emits maxwell's held-back row, with "commit":true when it ends its
 * transaction. */
static int flush_pending(sl_binlog_t *dec, int commit) {
    if (!dec->has_pend)
        return 0;
    dec->has_pend = 0;
    size_t start = sl__dec_begin(dec);
    sl_buf_t *out = &dec->out;
    sl_change_t chg = dec->pend_chg;
    sl__dec_out_raw(out, dec->pend.data, dec->pend.len - 1);
    if (commit)
        SL__DEC_OUT_LIT(out, ",\"commit\":true");
    sl__dec_out_c(out, '}');
    chg.db = (const char *)dec->pend_names.data;
    chg.table = chg.db + chg.db_len;
    /* The images were kept aside (the snapshot's window reads their
     * keys); they are not in the output. */
    if (chg.before != NULL)
        chg.before = (const char *)dec->pend_img[0].data;
    if (chg.after != NULL)
        chg.after = (const char *)dec->pend_img[1].data;
    /* The row keeps its own coordinates (the file name copied after
     * the names: the decoder may have moved on to the next file). */
    chg.file = chg.table + chg.table_len;
    if (sl_buf_append_u8(out, '\n') != 0 || sl_buf_error(out) != 0) {
        out->len = start;
        return sl__dec_fail(dec, SL_ENOMEM, "out of memory for output");
    }
    chg.json = (const char *)out->data + start;
    chg.json_len = out->len - start - 1;
    return sl__dec_deliver(dec, &chg);
}

/* The routing hash of a row (sl_binlog_opts_t.key_hash) in a format: as
 * the sluice format's (rows.c), FNV-1a over each primary-key value of the
 * after image (the before image of a delete) as the format writes it (a
 * string without its quotes) and a NUL; the whole image without a key.
 * A snapshot's read rows hash the same bytes (capture/snapshot/), so both
 * reach the same partition under key:N. */
static uint64_t fnv1a_more(uint64_t h, const void *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        h ^= ((const uint8_t *)p)[i];
        h *= 1099511628211ull;
    }
    return h;
}

static uint64_t fmt_key_hash(const sl_fmt_row_t *row) {
    const sl_tablemap_t *tm = row->tm;
    int k = row->img[1] != NULL ? 1 : 0;
    const sl_buf_t *img = row->img[k];
    if (!tm->has_pk || tm->npk == 0)
        return sl_hash_fnv1a(img->data, img->len);
    uint64_t h = 14695981039346656037ull;
    for (uint32_t j = 0; j < tm->npk; j++) {
        uint32_t i = tm->pk[j];
        const uint8_t *v = (const uint8_t *)"null";
        size_t n = 4;
        if (row->len[k][i] != SIZE_MAX && !tm->cols[i].key_escaped) {
            v = img->data + row->at[k][i];
            n = row->len[k][i];
            if (n >= 2 && v[0] == '"') {
                v++;
                n -= 2;
            }
        }
        h = fnv1a_more(h, v, n);
        h = fnv1a_more(h, "", 1);
    }
    return h;
}

int sl__dec_fmt_row(sl_binlog_t *dec, const sl_tablemap_t *tm, sl_change_t *chg,
                    const uint32_t *cols_before, uint32_t np_before,
                    const uint32_t *cols_after, uint32_t np_after,
                    sl_reader_t *rd, uint32_t in_event) {
    uint32_t nc = tm->ncols > 0 ? tm->ncols : 1;
    size_t at[2][nc], len[2][nc];
    sl_fmt_row_t row = {.tm = tm, .op = chg->op, .in_event = in_event};
    const uint32_t *cols[2] = {cols_before, cols_after};
    uint32_t np[2] = {np_before, np_after};
    for (int i = 0; i < 2; i++) {
        if (cols[i] == NULL)
            continue;
        sl_buf_reset(&dec->fimg[i]);
        int rc = sl__dec_image_fmt(dec, tm, cols[i], np[i], rd, &dec->fimg[i],
                                   at[i], len[i]);
        if (rc != 0)
            return rc;
        if (sl_buf_error(&dec->fimg[i]) != 0)
            return sl__dec_fail(dec, SL_ENOMEM, "out of memory");
        row.img[i] = &dec->fimg[i];
        row.at[i] = at[i];
        row.len[i] = len[i];
    }
    if (dec->opts.format == SL_FORMAT_MAXWELL) {
        /* The row before this one did not end its transaction. */
        int rc = flush_pending(dec, 0);
        if (rc != 0)
            return rc;
    }
    size_t start = sl__dec_begin(dec);
    sl_buf_t *out = &dec->out;
    int rc;
    chg->key = NULL;
    chg->key_len = 0;
    switch (dec->opts.format) {
    case SL_FORMAT_DEBEZIUM:
        sl_buf_reset(&dec->fkey);
        rc = sl__dec_dbz_row(dec, &row, out, &dec->fkey);
        if (rc == 0 && dec->fkey.len > 0) {
            chg->key = (const char *)dec->fkey.data;
            chg->key_len = dec->fkey.len;
        }
        break;
    case SL_FORMAT_MAXWELL: rc = sl__dec_mxw_row(dec, &row, out); break;
    default: rc = sl__dec_canal_row(dec, &row, out); break;
    }
    if (rc != 0)
        return rc;
    if (sl_buf_error(&dec->fkey) != 0)
        return sl__dec_fail(dec, SL_ENOMEM, "out of memory");
    chg->before = row.img[0] ? (const char *)row.img[0]->data : NULL;
    chg->before_len = row.img[0] ? row.img[0]->len : 0;
    chg->after = row.img[1] ? (const char *)row.img[1]->data : NULL;
    chg->after_len = row.img[1] ? row.img[1]->len : 0;
    chg->row = dec->trx_row;
    if (dec->opts.key_hash)
        chg->key_hash = fmt_key_hash(&row);
    if (dec->opts.format != SL_FORMAT_MAXWELL)
        return sl__dec_emit(dec, chg, start);
    /* Maxwell: held back until the next row or the transaction's end
     * says whether it is the last. */
    sl_buf_reset(&dec->pend);
    sl_buf_reset(&dec->pend_names);
    sl_buf_append(&dec->pend, out->data + start, out->len - start);
    /* Its images move aside, and the next row renders into the buffers
     * they leave (no copy). */
    for (int i = 0; i < 2; i++)
        if (row.img[i] != NULL) {
            sl_buf_t t = dec->fimg[i];
            dec->fimg[i] = dec->pend_img[i];
            dec->pend_img[i] = t;
        }
    sl_buf_append(&dec->pend_names, chg->db, chg->db_len);
    sl_buf_append(&dec->pend_names, chg->table, chg->table_len);
    sl_buf_append_str(&dec->pend_names, dec->file ? dec->file : "-");
    sl_buf_append_u8(&dec->pend_names, 0);
    out->len = start;
    if (sl_buf_error(out) != 0 || sl_buf_error(&dec->pend) != 0 ||
        sl_buf_error(&dec->pend_names) != 0)
        return sl__dec_fail(dec, SL_ENOMEM, "out of memory");
    dec->pend_chg = *chg;
    dec->pend_chg.pos = dec->pos;
    dec->pend_chg.trx_seq = dec->trx_seq;
    dec->pend_chg.gtid = "";
    dec->has_pend = 1;
    return 0;
}

/* A change without JSON: its kind and coordinates only. */
static int emit_bare(sl_binlog_t *dec, sl_change_t *chg) {
    sl__dec_fill(dec, chg);
    chg->json = "";
    chg->json_len = 0;
    return sl__dec_deliver(dec, chg);
}

int sl__dec_fmt_marker(sl_binlog_t *dec, sl_change_kind_t kind) {
    if (kind != SL_CHANGE_BEGIN) {
        int rc = flush_pending(dec, kind == SL_CHANGE_COMMIT ||
                                        kind == SL_CHANGE_XA_PREPARE);
        if (rc != 0)
            return rc;
    }
    sl_change_t chg = {.kind = kind};
    return emit_bare(dec, &chg);
}

int sl__dec_fmt_query(sl_binlog_t *dec, sl_change_kind_t kind,
                      const sl_query_t *q, const uint8_t *text, size_t text_len,
                      sl_change_t *chg) {
    int rc = flush_pending(dec, 0);
    if (rc != 0)
        return rc;
    if (kind != SL_CHANGE_DDL)
        return emit_bare(dec, chg); /* The formats have no statements. */
    size_t start = sl__dec_begin(dec);
    sl_buf_t *out = &dec->out;
    switch (dec->opts.format) {
    case SL_FORMAT_DEBEZIUM:
        rc = sl__dec_dbz_ddl(dec, q, text, text_len, out);
        break;
    case SL_FORMAT_MAXWELL:
        rc = sl__dec_mxw_ddl(dec, q, text, text_len, out);
        break;
    default: rc = sl__dec_canal_ddl(dec, q, text, text_len, out); break;
    }
    if (rc != 0) {
        out->len = start;
        return rc;
    }
    return sl__dec_emit(dec, chg, start);
}

void sl__fmt_changed(sl_buf_t *out, const sl_fmt_row_t *row) {
    const sl_tablemap_t *tm = row->tm;
    sl__dec_out_c(out, '{');
    int sep = 0;
    for (uint32_t i = 0; i < tm->ncols; i++) {
        size_t bl = row->len[0][i], al = row->len[1][i];
        if (bl == SIZE_MAX)
            continue;
        const uint8_t *bv = row->img[0]->data + row->at[0][i];
        if (al != SIZE_MAX && al == bl &&
            memcmp(bv, row->img[1]->data + row->at[1][i], bl) == 0)
            continue;
        if (sep)
            sl__dec_out_c(out, ',');
        sep = 1;
        sl__fmt_key(out, tm, &tm->cols[i]);
        sl__dec_out_raw(out, bv, bl);
    }
    sl__dec_out_c(out, '}');
}

/* Skips blanks and comments. */
static size_t skip_blank(const uint8_t *s, size_t n, size_t i) {
    for (;;) {
        while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' ||
                         s[i] == '\r' || s[i] == '('))
            i++;
        if (i + 1 < n && s[i] == '/' && s[i + 1] == '*' &&
            (i + 2 >= n || s[i + 2] != '!')) {
            i += 2;
            while (i + 1 < n && !(s[i] == '*' && s[i + 1] == '/'))
                i++;
            i = i + 2 < n ? i + 2 : n;
            continue;
        }
        if (i + 2 < n && s[i] == '/' && s[i + 1] == '*' && s[i + 2] == '!') {
            /* An executable comment: its version digits, then its text. */
            i += 3;
            while (i < n && s[i] >= '0' && s[i] <= '9')
                i++;
            continue;
        }
        if (i + 1 < n && s[i] == '-' && s[i + 1] == '-') {
            while (i < n && s[i] != '\n')
                i++;
            continue;
        }
        if (i < n && s[i] == '#') {
            while (i < n && s[i] != '\n')
                i++;
            continue;
        }
        return i;
    }
}

static int word_at(const uint8_t *s, size_t n, size_t *i, const char *w) {
    size_t wl = strlen(w), j = *i;
    if (n - j < wl)
        return 0;
    for (size_t k = 0; k < wl; k++) {
        uint8_t c = s[j + k];
        if (c >= 'a' && c <= 'z')
            c = (uint8_t)(c - 32);
        if (c != (uint8_t)w[k])
            return 0;
    }
    if (j + wl < n &&
        ((s[j + wl] >= 'a' && s[j + wl] <= 'z') ||
         (s[j + wl] >= 'A' && s[j + wl] <= 'Z') || s[j + wl] == '_'))
        return 0;
    *i = j + wl;
    return 1;
}

int sl__fmt_sql_starts(const uint8_t *sql, size_t len, const char *w1,
                       const char *w2) {
    size_t i = skip_blank(sql, len, 0);
    if (!word_at(sql, len, &i, w1))
        return 0;
    if (w2 == NULL)
        return 1;
    i = skip_blank(sql, len, i);
    /* CREATE [TEMPORARY|OR REPLACE] TABLE, CREATE [UNIQUE] INDEX. */
    size_t j = i;
    if (word_at(sql, len, &j, "TEMPORARY") || word_at(sql, len, &j, "UNIQUE") ||
        word_at(sql, len, &j, "FULLTEXT") || word_at(sql, len, &j, "SPATIAL") ||
        word_at(sql, len, &j, "IGNORE") || word_at(sql, len, &j, "ONLINE"))
        i = skip_blank(sql, len, j);
    else if (word_at(sql, len, &j, "OR")) {
        j = skip_blank(sql, len, j);
        if (word_at(sql, len, &j, "REPLACE"))
            i = skip_blank(sql, len, j);
    }
    return word_at(sql, len, &i, w2);
}

uint64_t sl__fmt_ts_ms(const sl_binlog_t *dec) {
    if (dec->commit_ts_us != 0)
        return dec->commit_ts_us / 1000;
    return (uint64_t)dec->ev_ts * 1000;
}

void sl__fmt_pk_names(sl_buf_t *out, const sl_tablemap_t *tm) {
    sl__dec_out_c(out, '[');
    for (uint32_t j = 0; j < tm->npk; j++) {
        const sl_column_t *c = &tm->cols[tm->pk[j]];
        if (j > 0)
            sl__dec_out_c(out, ',');
        /* The key without its colon is the quoted name. */
        sl__dec_out_raw(out, tm->keys.data + c->key_off, c->key_len - 1);
    }
    sl__dec_out_c(out, ']');
}

const char *sl__fmt_op_name(sl_binlog_format_t fmt, sl_change_op_t op) {
    /* Per format: insert, update, delete, and any other op (a read row:
     * capture/snapshot/render_fmt.c writes its own envelopes with the
     * same names). */
    static const char *const names[3][4] = {
        {"c", "u", "d", "r"},
        {"insert", "update", "delete", "bootstrap-insert"},
        {"INSERT", "UPDATE", "DELETE", "INSERT"},
    };
    int f = fmt == SL_FORMAT_DEBEZIUM ? 0 : fmt == SL_FORMAT_MAXWELL ? 1 : 2;
    int o = op == SL_OP_INSERT   ? 0
            : op == SL_OP_UPDATE ? 1
            : op == SL_OP_DELETE ? 2
                                 : 3;
    return names[f][o];
}
