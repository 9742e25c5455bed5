/*
 * The JSON envelope of every change (docs/change-events.md): the "src"
 * and "trx" members shared by all of them, handing a change out, the
 * transaction boundaries (begin, commit, rollback, XA prepare) and the
 * rendering of DDL and other statements. Rows render their own body in
 * rows.c and end with the same members.
 */
#include "internal.h"
#include "json.h"

#include <stdio.h>
#include <string.h>

/* ---- Output helpers ---------------------------------------------------- */

static void put_str(sl_buf_t *out, const char *s) {
    sl__dec_out_raw(out, s, strlen(s));
}

static void put_jstr(sl_buf_t *out, const void *s, size_t n) {
    sl__dec_out_c(out, '"');
    if (sl_json_plain_prefix(s, n) == n)
        sl__dec_out_raw(out, s, n);
    else
        sl_json_escape(out, s, n, NULL);
    sl__dec_out_c(out, '"');
}

static void render_trx(sl_binlog_t *dec, sl_buf_t *out) {
    SL__DEC_OUT_LIT(out, ",\"trx\":{\"seq\":");
    sl__dec_out_u64(out, dec->trx_seq);
    SL__DEC_OUT_LIT(out, ",\"id\":");
    if (dec->gtid[0] != '\0') {
        put_jstr(out, dec->gtid, strlen(dec->gtid));
        SL__DEC_OUT_LIT(out, ",\"gtid\":");
        put_jstr(out, dec->gtid, strlen(dec->gtid));
    } else {
        char id[600];
        int n = snprintf(id, sizeof(id), "%s:%llu", dec->file ? dec->file : "-",
                         (unsigned long long)dec->trx_pos);
        if (n > (int)sizeof(id) - 1)
            n = (int)sizeof(id) - 1;
        put_jstr(out, id, (size_t)n);
    }
    if (dec->has_lc) {
        SL__DEC_OUT_LIT(out, ",\"last_committed\":");
        sl__dec_out_u64(out, dec->last_committed);
        SL__DEC_OUT_LIT(out, ",\"sequence_number\":");
        sl__dec_out_u64(out, dec->sequence_number);
    }
    if (dec->commit_ts_us != 0) {
        SL__DEC_OUT_LIT(out, ",\"commit_ts_us\":");
        sl__dec_out_u64(out, dec->commit_ts_us);
    }
    /* The format's version closes every event: cached with the
     * transaction, it costs no work per row (docs/change-events.md). */
    SL__DEC_OUT_LIT(out, "},\"v\":1");
}

int sl__dec_coords(sl_binlog_t *dec, const sl_buf_t **coords) {
    const char *file = dec->file ? dec->file : "-";
    if (dec->file_json_for != file) {
        sl_buf_reset(&dec->file_json);
        put_str(&dec->file_json, ",\"src\":{\"file\":");
        put_jstr(&dec->file_json, file, strlen(file));
        put_str(&dec->file_json, ",\"pos\":");
        dec->file_json_for = file;
    }
    /* The source part is the same for every row of one event; its
     * server id and timestamp mostly stay the same for many events. */
    if (dec->src_for_pos != dec->pos || dec->src_for_inner != dec->inner ||
        dec->src_for_off != dec->inner_off || dec->src_for_file != file ||
        dec->coords.len == 0) {
        if (dec->sid_json.len == 0 || dec->sid_for_id != dec->ev_server_id ||
            dec->sid_for_ts != dec->ev_ts) {
            sl_buf_t *sb = &dec->sid_json;
            sl_buf_reset(sb);
            SL__DEC_OUT_LIT(sb, ",\"server_id\":");
            sl__dec_out_u64(sb, dec->ev_server_id);
            SL__DEC_OUT_LIT(sb, ",\"ts\":");
            sl__dec_out_u64(sb, dec->ev_ts);
            sl__dec_out_c(sb, '}');
            dec->sid_for_id = dec->ev_server_id;
            dec->sid_for_ts = dec->ev_ts;
        }
        sl_buf_t *cb = &dec->coords;
        sl_buf_reset(cb);
        sl__dec_out_raw(cb, dec->file_json.data, dec->file_json.len);
        sl__dec_out_u64(cb, dec->pos);
        if (dec->inner) {
            SL__DEC_OUT_LIT(cb, ",\"inner_offset\":");
            sl__dec_out_u64(cb, dec->inner_off);
        }
        SL__DEC_OUT_LIT(cb, ",\"end_pos\":");
        sl__dec_out_u64(cb, dec->ev_end_pos);
        sl__dec_out_raw(cb, dec->sid_json.data, dec->sid_json.len);
        dec->coords_src_len = cb->len;
        dec->src_for_pos = dec->pos;
        dec->src_for_inner = dec->inner;
        dec->src_for_off = dec->inner_off;
        dec->src_for_file = file;
    }
    /* The transaction part changes once per transaction: reuse it. */
    if (!dec->trx_key_valid || dec->trx_key.seq != dec->trx_seq ||
        dec->trx_key.pos != dec->trx_pos || dec->trx_key.file != file ||
        dec->trx_key.has_lc != dec->has_lc ||
        dec->trx_key.lc != dec->last_committed ||
        dec->trx_key.sn != dec->sequence_number ||
        dec->trx_key.cts != dec->commit_ts_us ||
        strcmp(dec->trx_key.gtid, dec->gtid) != 0) {
        sl_buf_reset(&dec->trx_json);
        render_trx(dec, &dec->trx_json);
        dec->trx_key.seq = dec->trx_seq;
        dec->trx_key.pos = dec->trx_pos;
        dec->trx_key.file = file;
        dec->trx_key.has_lc = dec->has_lc;
        dec->trx_key.lc = dec->last_committed;
        dec->trx_key.sn = dec->sequence_number;
        dec->trx_key.cts = dec->commit_ts_us;
        memcpy(dec->trx_key.gtid, dec->gtid, sizeof(dec->gtid));
        dec->trx_key_valid = 1;
        dec->coords.len = dec->coords_src_len;
    }
    /* trx_json is never empty: the source part alone means it is still
     * to be appended. */
    if (dec->coords.len == dec->coords_src_len)
        sl__dec_out_raw(&dec->coords, dec->trx_json.data, dec->trx_json.len);
    if (sl_buf_error(&dec->file_json) != 0 ||
        sl_buf_error(&dec->sid_json) != 0 ||
        sl_buf_error(&dec->trx_json) != 0 || sl_buf_error(&dec->coords) != 0) {
        /* Nothing partly rendered may be reused. */
        dec->file_json_for = NULL;
        dec->sid_json.len = 0;
        dec->trx_key_valid = 0;
        dec->coords.len = 0;
        return SL_ENOMEM;
    }
    *coords = &dec->coords;
    return 0;
}

int sl__dec_put_coords(sl_binlog_t *dec, sl_buf_t *out) {
    const sl_buf_t *coords;
    int rc = sl__dec_coords(dec, &coords);
    if (rc != 0)
        return sl__dec_fail(dec, rc, "out of memory for output");
    return sl__dec_out_raw(out, coords->data, coords->len);
}

int sl__dec_emit(sl_binlog_t *dec, sl_change_t *chg, size_t start) {
    if (sl_buf_append_u8(&dec->out, '\n') != 0 ||
        sl_buf_error(&dec->out) != 0) {
        dec->out.len = start;
        return sl__dec_fail(dec, SL_ENOMEM, "out of memory for output");
    }
    sl__dec_fill(dec, chg);
    chg->json = (const char *)dec->out.data + start;
    chg->json_len = dec->out.len - start - 1;
    return sl__dec_deliver(dec, chg);
}

/* ---- Transactions ------------------------------------------------------ */

void sl__dec_trx_reset(sl_binlog_t *dec) {
    dec->in_trx = 0;
    dec->trx_row = 0;
    dec->gtid[0] = '\0';
    dec->has_lc = 0;
    dec->commit_ts_us = 0;
    dec->gtid_standalone = 0;
    dec->fthread = 0;
    dec->has_fquery = 0;
}

static int emit_simple(sl_binlog_t *dec, sl_change_kind_t kind,
                       const char *extra_key, uint64_t extra) {
    if (dec->opts.format != SL_FORMAT_SLUICE)
        return sl__dec_fmt_marker(dec, kind);
    size_t start = sl__dec_begin(dec);
    sl_buf_t *out = &dec->out;
    switch (kind) {
    case SL_CHANGE_BEGIN: SL__DEC_OUT_LIT(out, "{\"kind\":\"begin\""); break;
    case SL_CHANGE_COMMIT: SL__DEC_OUT_LIT(out, "{\"kind\":\"commit\""); break;
    case SL_CHANGE_ROLLBACK:
        SL__DEC_OUT_LIT(out, "{\"kind\":\"rollback\"");
        break;
    default: SL__DEC_OUT_LIT(out, "{\"kind\":\"xa_prepare\""); break;
    }
    if (kind != SL_CHANGE_BEGIN) {
        SL__DEC_OUT_LIT(out, ",\"rows\":");
        sl__dec_out_u64(out, dec->trx_row);
    }
    if (extra_key != NULL) {
        SL__DEC_OUT_LIT(out, ",\"");
        put_str(out, extra_key);
        SL__DEC_OUT_LIT(out, "\":");
        sl__dec_out_u64(out, extra);
    }
    if (sl__dec_put_coords(dec, out) != 0) {
        out->len = start;
        return SL_ENOMEM;
    }
    sl__dec_out_c(out, '}');
    sl_change_t chg = {.kind = kind};
    return sl__dec_emit(dec, &chg, start);
}

/* A transaction still open when the next one starts never committed in
 * this binlog (a crash, or a relay log cut mid-transaction): say so with
 * a rollback rather than leave its begin unanswered. */
int sl__dec_trx_close_open(sl_binlog_t *dec, int emit) {
    if (!dec->in_trx)
        return 0;
    int rc = emit ? emit_simple(dec, SL_CHANGE_ROLLBACK, NULL, 0) : 0;
    dec->trx_seq++;
    sl__dec_trx_reset(dec);
    sl__dec_tablemap_release_all(dec);
    return rc;
}

int sl__dec_trx_begin(sl_binlog_t *dec, int emit) {
    int rc = sl__dec_trx_close_open(dec, emit);
    if (rc != 0)
        return rc;
    dec->in_trx = 1;
    dec->trx_row = 0;
    dec->trx_pos = dec->pos;
    if (!emit)
        return 0;
    return emit_simple(dec, SL_CHANGE_BEGIN, NULL, 0);
}

int sl__dec_trx_end(sl_binlog_t *dec, sl_change_kind_t kind, int emit,
                    const char *extra_key, uint64_t extra) {
    int rc = 0;
    if (emit)
        rc = emit_simple(dec, kind, extra_key, extra);
    dec->trx_seq++;
    dec->stats.transactions++;
    sl__dec_trx_reset(dec);
    sl__dec_tablemap_release_all(dec);
    return rc;
}

int sl__dec_emit_query(sl_binlog_t *dec, sl_change_kind_t kind,
                       const sl_query_t *q) {
    size_t start = sl__dec_begin(dec);
    sl_buf_t *out = &dec->out;
    put_str(out, kind == SL_CHANGE_DDL ? "{\"kind\":\"ddl\""
                                       : "{\"kind\":\"statement\"");
    put_str(out, ",\"db\":");
    if (q->db_len > 0)
        put_jstr(out, q->db, q->db_len);
    else
        put_str(out, "null");
    put_str(out, ",\"sql\":");
    /* Statement text may hold binary literals: bytes that are not UTF-8
     * become U+FFFD here (documented); row values never do. */
    const sl_charset_t *cs =
        q->client_cs ? sl__dec_charset_by_collation(q->client_cs) : NULL;
    const uint8_t *text = q->sql;
    size_t text_len = q->sql_len;
    if (cs != NULL && cs->cls != SL_CS_BINARY && cs->cls != SL_CS_UTF8) {
        int rc =
            sl__dec_text_utf8(dec, cs, q->sql, q->sql_len, &text, &text_len);
        if (rc != 0)
            return rc;
    }
    int replaced = 0;
    sl__dec_out_c(out, '"');
    if (sl_json_plain_prefix(text, text_len) == text_len)
        sl__dec_out_raw(out, text, text_len);
    else
        sl_json_escape(out, text, text_len, &replaced);
    sl__dec_out_c(out, '"');
    /* The consumer reads the statement as "sql" says it: the text itself
     * (in the event or in dec->tmp, untouched until the change is handed
     * out) unless bytes had to be replaced. */
    if (replaced) {
        sl_buf_reset(&dec->sql);
        if (sl__dec_utf8_sanitize(text, text_len, &dec->sql) != 0)
            return sl__dec_fail(dec, SL_ENOMEM, "out of memory");
        text = dec->sql.data;
        text_len = dec->sql.len;
    }
    if (q->has_sql_mode) {
        put_str(out, ",\"sql_mode\":");
        sl__dec_out_u64(out, q->sql_mode);
    }
    if (q->tz != NULL) {
        put_str(out, ",\"time_zone\":");
        put_jstr(out, q->tz, q->tz_len);
    }
    if (q->client_cs) {
        put_str(out, ",\"charset_client\":");
        sl__dec_out_u64(out, q->client_cs);
    }
    if (q->error_code) {
        put_str(out, ",\"error_code\":");
        sl__dec_out_u64(out, q->error_code);
    }
    sl_change_t chg = {
        .kind = kind,
        .db = (const char *)q->db,
        .db_len = q->db_len,
        .sql = (const char *)text,
        .sql_len = text_len,
        .has_sql_mode = q->has_sql_mode,
        .sql_mode = q->sql_mode,
    };
    if (dec->opts.format != SL_FORMAT_SLUICE) {
        /* The other formats render the statement their own way. */
        out->len = start;
        return sl__dec_fmt_query(dec, kind, q, text, text_len, &chg);
    }
    if (sl__dec_put_coords(dec, out) != 0) {
        out->len = start;
        return SL_ENOMEM;
    }
    sl__dec_out_c(out, '}');
    return sl__dec_emit(dec, &chg, start);
}
