/*
 * The maxwell format: the row JSON of Maxwell's daemon
 * (docs/change-events.md, "Formats"), one line per row:
 *
 *   {"database":D,"table":T,"type":"insert"|"update"|"delete","ts":SECS,
 *    "xid":X,"data":{...},"old":{changed columns, update only},
 *    "primary_key":[values],"primary_key_columns":[names]
 *    [,"commit":true on the transaction's last row]}
 *
 * "commit" needs the transaction's last row known: each row is held back
 * (format.c) until the next row or the transaction's end. "xid" is the
 * decoder's transaction number (the binlog's XID arrives only with the
 * commit, after the rows). DDL: {"type":K,"database":D,"sql":SQL,
 * "ts":SECS,"position":"FILE:POS"} where K is table-create, table-alter,
 * table-drop, database-create, database-alter, database-drop or ddl.
 * Snapshot rows are type "bootstrap-insert" between "bootstrap-start" and
 * "bootstrap-complete" (capture/snapshot/render_fmt.c).
 */
#include "format_int.h"

#include <string.h>

int sl__dec_mxw_row(sl_binlog_t *dec, const sl_fmt_row_t *row, sl_buf_t *out) {
    const sl_tablemap_t *tm = row->tm;
    SL__DEC_OUT_LIT(out, "{\"database\":");
    sl__fmt_jstr(out, tm->raw.data + tm->db_off, tm->db_len);
    SL__DEC_OUT_LIT(out, ",\"table\":");
    sl__fmt_jstr(out, tm->raw.data + tm->table_off, tm->table_len);
    SL__DEC_OUT_LIT(out, ",\"type\":\"");
    sl_buf_append_str(out, sl__fmt_op_name(SL_FORMAT_MAXWELL, row->op));
    SL__DEC_OUT_LIT(out, "\",\"ts\":");
    sl__dec_out_u64(out, sl__fmt_ts_ms(dec) / 1000);
    SL__DEC_OUT_LIT(out, ",\"xid\":");
    sl__dec_out_u64(out, dec->trx_seq);
    SL__DEC_OUT_LIT(out, ",\"data\":");
    int k = row->img[1] != NULL ? 1 : 0;
    sl__dec_out_raw(out, row->img[k]->data, row->img[k]->len);
    if (row->img[0] != NULL && row->img[1] != NULL) {
        SL__DEC_OUT_LIT(out, ",\"old\":");
        sl__fmt_changed(out, row);
    }
    if (tm->has_pk && tm->npk > 0) {
        SL__DEC_OUT_LIT(out, ",\"primary_key\":[");
        for (uint32_t j = 0; j < tm->npk; j++) {
            uint32_t i = tm->pk[j];
            if (j > 0)
                sl__dec_out_c(out, ',');
            if (row->len[k][i] == SIZE_MAX)
                SL__DEC_OUT_LIT(out, "null");
            else
                sl__dec_out_raw(out, row->img[k]->data + row->at[k][i],
                                row->len[k][i]);
        }
        SL__DEC_OUT_LIT(out, "],\"primary_key_columns\":");
        sl__fmt_pk_names(out, tm);
    }
    sl__dec_out_c(out, '}');
    return 0;
}

/* Maxwell's name for a DDL statement's kind. */
static const char *ddl_type(const uint8_t *s, size_t n) {
    static const struct {
        const char *w1, *w2, *type;
    } kinds[] = {
        {"CREATE", "TABLE", "table-create"},
        {"ALTER", "TABLE", "table-alter"},
        {"RENAME", "TABLE", "table-alter"},
        {"DROP", "TABLE", "table-drop"},
        {"CREATE", "DATABASE", "database-create"},
        {"CREATE", "SCHEMA", "database-create"},
        {"ALTER", "DATABASE", "database-alter"},
        {"ALTER", "SCHEMA", "database-alter"},
        {"DROP", "DATABASE", "database-drop"},
        {"DROP", "SCHEMA", "database-drop"},
    };
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (sl__fmt_sql_starts(s, n, kinds[i].w1, kinds[i].w2))
            return kinds[i].type;
    return "ddl";
}

int sl__dec_mxw_ddl(sl_binlog_t *dec, const sl_query_t *q, const uint8_t *text,
                    size_t len, sl_buf_t *out) {
    SL__DEC_OUT_LIT(out, "{\"type\":\"");
    sl_buf_append_str(out, ddl_type(text, len));
    SL__DEC_OUT_LIT(out, "\",\"database\":");
    if (q->db_len > 0)
        sl__fmt_jstr(out, q->db, q->db_len);
    else
        SL__DEC_OUT_LIT(out, "null");
    SL__DEC_OUT_LIT(out, ",\"sql\":");
    sl__fmt_jstr(out, text, len);
    SL__DEC_OUT_LIT(out, ",\"ts\":");
    sl__dec_out_u64(out, sl__fmt_ts_ms(dec) / 1000);
    SL__DEC_OUT_LIT(out, ",\"position\":\"");
    const char *file = dec->file ? dec->file : "-";
    sl_json_escape(out, file, strlen(file), NULL);
    sl__dec_out_c(out, ':');
    sl__dec_out_u64(out, dec->pos);
    SL__DEC_OUT_LIT(out, "\"}");
    return 0;
}
