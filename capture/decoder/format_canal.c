/*
 * The canal format: Canal's FlatMessage JSON (docs/change-events.md,
 * "Formats"), one message per row:
 *
 *   {"data":[{...}],"database":D,"es":MS,"id":N,"isDdl":false,
 *    "mysqlType":{col:"int unsigned",...},"old":[{changed}]|null,
 *    "pkNames":[names]|null,"sql":"","sqlType":{col:JDBC type,...},
 *    "table":T,"ts":MS,"type":"INSERT"|"UPDATE"|"DELETE"}
 *
 * Every non-null value is a string (format.c). Canal batches the rows of
 * one event into "data"; sluice writes one row per message (consumers
 * read "data" as a list either way). "es" and "ts" are both the event's
 * time (Canal's "ts" is when it built the message). DDL: "isDdl":true,
 * "sql", "type" CREATE, ALTER, ERASE (drop), RENAME, TRUNCATE, CINDEX,
 * DINDEX or QUERY, and null data, mysqlType, old, pkNames, sqlType.
 * Snapshot rows are type "INSERT" with "id":0 (capture/snapshot/
 * render_fmt.c).
 */
#include "format_int.h"

#include <string.h>

/* java.sql.Types of a column, as Canal reports it. */
static int jdbc_type(const sl_column_t *c) {
    int bin = c->cs != NULL && c->cs->cls == SL_CS_BINARY;
    switch (c->real_type) {
    case SL_T_TINY: return -6;
    case SL_T_SHORT: return 5;
    case SL_T_INT24:
    case SL_T_LONG: return c->is_unsigned == 1 ? -5 : 4;
    case SL_T_LONGLONG: return c->is_unsigned == 1 ? 3 : -5;
    case SL_T_FLOAT: return 7;
    case SL_T_DOUBLE: return 8;
    case SL_T_NEWDECIMAL: return 3;
    case SL_T_DATE:
    case SL_T_NEWDATE: return 91;
    case SL_T_TIME:
    case SL_T_TIME2: return 92;
    case SL_T_DATETIME:
    case SL_T_DATETIME2:
    case SL_T_TIMESTAMP:
    case SL_T_TIMESTAMP2: return 93;
    case SL_T_YEAR: return 12;
    case SL_T_BIT: return -7;
    case SL_T_ENUM:
    case SL_T_SET: return 1;
    case SL_T_STRING: return bin ? -2 : 1;
    case SL_T_VARCHAR:
    case SL_T_VAR_STRING:
    case SL_T_VARCHAR_COMPRESSED: return bin ? -3 : 12;
    case SL_T_BLOB:
    case SL_T_BLOB_COMPRESSED: return bin ? 2004 : 2005;
    case SL_T_JSON: return 12;
    case SL_T_GEOMETRY: return -2;
    default: return 1111; /* OTHER */
    }
}

static void head(sl_binlog_t *dec, sl_buf_t *out, const void *db, size_t dbl) {
    SL__DEC_OUT_LIT(out, ",\"database\":");
    sl__fmt_jstr(out, db, dbl);
    SL__DEC_OUT_LIT(out, ",\"es\":");
    sl__dec_out_u64(out, sl__fmt_ts_ms(dec));
    SL__DEC_OUT_LIT(out, ",\"id\":");
    sl__dec_out_u64(out, ++dec->fmt_seq);
}

/* The members that depend on the table only: ,"isDdl":false,"mysqlType":
 * {...} up to split, then ,"pkNames":...,"sqlType":{...},"table":T. */
static int render_meta(sl_binlog_t *dec, sl_tablemap_t *tm) {
    sl_buf_t *m = &tm->fmtmeta;
    SL__DEC_OUT_LIT(m, ",\"isDdl\":false,\"mysqlType\":{");
    int sep = 0;
    for (uint32_t i = 0; i < tm->ncols; i++) {
        const sl_column_t *c = &tm->cols[i];
        if (c->dropped)
            continue;
        if (sep)
            sl__dec_out_c(m, ',');
        sep = 1;
        sl__fmt_key(m, tm, c);
        sl_buf_reset(&dec->ftmp);
        sl__dec_column_type_name(tm, c, &dec->ftmp);
        sl__fmt_jstr(m, dec->ftmp.data, dec->ftmp.len);
    }
    sl__dec_out_c(m, '}');
    tm->fmtmeta_split = m->len;
    SL__DEC_OUT_LIT(m, ",\"pkNames\":");
    if (tm->has_pk && tm->npk > 0)
        sl__fmt_pk_names(m, tm);
    else
        SL__DEC_OUT_LIT(m, "null");
    SL__DEC_OUT_LIT(m, ",\"sql\":\"\",\"sqlType\":{");
    sep = 0;
    for (uint32_t i = 0; i < tm->ncols; i++) {
        const sl_column_t *c = &tm->cols[i];
        if (c->dropped)
            continue;
        if (sep)
            sl__dec_out_c(m, ',');
        sep = 1;
        sl__fmt_key(m, tm, c);
        sl__dec_out_i64(m, jdbc_type(c));
    }
    SL__DEC_OUT_LIT(m, "},\"table\":");
    sl__fmt_jstr(m, tm->raw.data + tm->table_off, tm->table_len);
    if (sl_buf_error(m) != 0 || sl_buf_error(&dec->ftmp) != 0) {
        sl_buf_reset(m); /* A partial rendering must not be reused. */
        return sl__dec_fail(dec, SL_ENOMEM, "out of memory");
    }
    return 0;
}

int sl__dec_canal_row(sl_binlog_t *dec, const sl_fmt_row_t *row,
                      sl_buf_t *out) {
    /* The cache belongs to the table map, which the row only reads. */
    sl_tablemap_t *tm = (sl_tablemap_t *)row->tm;
    if (tm->fmtmeta.len == 0 && render_meta(dec, tm) != 0)
        return SL_ENOMEM;
    int k = row->img[1] != NULL ? 1 : 0;
    SL__DEC_OUT_LIT(out, "{\"data\":[");
    sl__dec_out_raw(out, row->img[k]->data, row->img[k]->len);
    sl__dec_out_c(out, ']');
    head(dec, out, tm->raw.data + tm->db_off, tm->db_len);
    sl__dec_out_raw(out, tm->fmtmeta.data, tm->fmtmeta_split);
    SL__DEC_OUT_LIT(out, ",\"old\":");
    if (row->img[0] != NULL && row->img[1] != NULL) {
        sl__dec_out_c(out, '[');
        sl__fmt_changed(out, row);
        sl__dec_out_c(out, ']');
    } else {
        SL__DEC_OUT_LIT(out, "null");
    }
    sl__dec_out_raw(out, tm->fmtmeta.data + tm->fmtmeta_split,
                    tm->fmtmeta.len - tm->fmtmeta_split);
    SL__DEC_OUT_LIT(out, ",\"ts\":");
    sl__dec_out_u64(out, sl__fmt_ts_ms(dec));
    SL__DEC_OUT_LIT(out, ",\"type\":\"");
    sl_buf_append_str(out, sl__fmt_op_name(SL_FORMAT_CANAL, row->op));
    SL__DEC_OUT_LIT(out, "\"}");
    return 0;
}

/* Canal's event type of a DDL statement. */
static const char *ddl_type(const uint8_t *s, size_t n) {
    static const struct {
        const char *w1, *w2, *type;
    } kinds[] = {
        {"CREATE", "TABLE", "CREATE"},  {"ALTER", "TABLE", "ALTER"},
        {"DROP", "TABLE", "ERASE"},     {"RENAME", "TABLE", "RENAME"},
        {"TRUNCATE", NULL, "TRUNCATE"}, {"CREATE", "INDEX", "CINDEX"},
        {"DROP", "INDEX", "DINDEX"},
    };
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (sl__fmt_sql_starts(s, n, kinds[i].w1, kinds[i].w2))
            return kinds[i].type;
    return "QUERY";
}

int sl__dec_canal_ddl(sl_binlog_t *dec, const sl_query_t *q,
                      const uint8_t *text, size_t len, sl_buf_t *out) {
    SL__DEC_OUT_LIT(out, "{\"data\":null");
    head(dec, out, q->db, q->db_len);
    SL__DEC_OUT_LIT(out, ",\"isDdl\":true,\"mysqlType\":null,\"old\":null,"
                         "\"pkNames\":null,\"sql\":");
    sl__fmt_jstr(out, text, len);
    SL__DEC_OUT_LIT(out, ",\"sqlType\":null,\"table\":\"\",\"ts\":");
    sl__dec_out_u64(out, sl__fmt_ts_ms(dec));
    SL__DEC_OUT_LIT(out, ",\"type\":\"");
    sl_buf_append_str(out, ddl_type(text, len));
    SL__DEC_OUT_LIT(out, "\"}");
    return 0;
}
