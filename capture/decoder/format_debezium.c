/*
 * The debezium format: the change event value of Debezium's MySQL
 * connector with the JSON converter's schemas disabled
 * (docs/change-events.md, "Formats"), one line per row:
 *
 *   {"before":{...}|null,"after":{...}|null,
 *    "source":{"version":"sluice-V","connector":"mysql","name":N,
 *              "ts_ms":T,"snapshot":"false","db":D,"sequence":null,
 *              "table":T,"server_id":S,"gtid":G|null,"file":F,"pos":P,
 *              "row":R,"thread":null,"query":null},
 *    "op":"c"|"u"|"d","ts_ms":T,"transaction":null}
 *
 * The record key (sl_change_t.key) is {pk columns} from the after image
 * (the before image of a delete). DDL is written in the simplified form
 * of Debezium's schema change topic: {"source":{...},"ts_ms":T,
 * "databaseName":D,"schemaName":null,"ddl":SQL,"tableChanges":[]}.
 * Snapshot rows, once capture reads them, are op "r" with "snapshot":
 * "true" (see sl__dec_dbz_row).
 */
#include "format.h"
#include "version.h"

#include <string.h>

/* "source" up to and including "db":. */
static void source_head(sl_binlog_t *dec, sl_buf_t *out) {
    const char *name = dec->opts.format_name ? dec->opts.format_name : "sluice";
    SL__DEC_OUT_LIT(out, "\"source\":{\"version\":\"sluice-" SL_VERSION
                         "\",\"connector\":\"mysql\",\"name\":");
    sl__fmt_jstr(out, name, strlen(name));
    SL__DEC_OUT_LIT(out, ",\"ts_ms\":");
    sl__dec_out_u64(out, (uint64_t)dec->ev_ts * 1000);
    SL__DEC_OUT_LIT(out, ",\"snapshot\":\"false\",\"db\":");
}

/* "source" from "server_id" to its end. */
static void source_tail(sl_binlog_t *dec, sl_buf_t *out, int64_t row) {
    SL__DEC_OUT_LIT(out, ",\"server_id\":");
    sl__dec_out_u64(out, dec->ev_server_id);
    SL__DEC_OUT_LIT(out, ",\"gtid\":");
    if (dec->gtid[0] != '\0')
        sl__fmt_jstr(out, dec->gtid, strlen(dec->gtid));
    else
        SL__DEC_OUT_LIT(out, "null");
    SL__DEC_OUT_LIT(out, ",\"file\":");
    const char *file = dec->file ? dec->file : "-";
    sl__fmt_jstr(out, file, strlen(file));
    SL__DEC_OUT_LIT(out, ",\"pos\":");
    sl__dec_out_u64(out, dec->pos);
    SL__DEC_OUT_LIT(out, ",\"row\":");
    sl__dec_out_i64(out, row);
    SL__DEC_OUT_LIT(out, ",\"thread\":null,\"query\":null}");
}

int sl__dec_dbz_row(sl_binlog_t *dec, const sl_fmt_row_t *row, sl_buf_t *out,
                    sl_buf_t *key) {
    const sl_tablemap_t *tm = row->tm;
    static const char *const ops[] = {
        [SL_OP_INSERT] = "c", [SL_OP_UPDATE] = "u", [SL_OP_DELETE] = "d"};
    SL__DEC_OUT_LIT(out, "{\"before\":");
    for (int i = 0; i < 2; i++) {
        if (i == 1)
            SL__DEC_OUT_LIT(out, ",\"after\":");
        if (row->img[i] != NULL)
            sl__dec_out_raw(out, row->img[i]->data, row->img[i]->len);
        else
            SL__DEC_OUT_LIT(out, "null");
    }
    sl__dec_out_c(out, ',');
    source_head(dec, out);
    sl__fmt_jstr(out, tm->raw.data + tm->db_off, tm->db_len);
    SL__DEC_OUT_LIT(out, ",\"sequence\":null,\"table\":");
    sl__fmt_jstr(out, tm->raw.data + tm->table_off, tm->table_len);
    source_tail(dec, out, row->in_event);
    /* A snapshot reader would pass op "r" here (and "snapshot":"true");
     * the decoder only sees binlog rows. */
    SL__DEC_OUT_LIT(out, ",\"op\":\"");
    sl_buf_append_str(out, ops[row->op]);
    SL__DEC_OUT_LIT(out, "\",\"ts_ms\":");
    sl__dec_out_u64(out, sl__fmt_ts_ms(dec));
    SL__DEC_OUT_LIT(out, ",\"transaction\":null}");
    /* The key: the primary-key columns of the image that identifies the
     * row. A table without one has a null key, as in Debezium. */
    if (!tm->has_pk || tm->npk == 0)
        return 0;
    int k = row->img[1] != NULL ? 1 : 0;
    sl__dec_out_c(key, '{');
    for (uint32_t j = 0; j < tm->npk; j++) {
        uint32_t i = tm->pk[j];
        if (j > 0)
            sl__dec_out_c(key, ',');
        sl__fmt_key(key, tm, &tm->cols[i]);
        if (row->len[k][i] == SIZE_MAX)
            SL__DEC_OUT_LIT(key, "null");
        else
            sl__dec_out_raw(key, row->img[k]->data + row->at[k][i],
                            row->len[k][i]);
    }
    sl__dec_out_c(key, '}');
    return 0;
}

int sl__dec_dbz_ddl(sl_binlog_t *dec, const sl_query_t *q, const uint8_t *text,
                    size_t len, sl_buf_t *out) {
    SL__DEC_OUT_LIT(out, "{");
    source_head(dec, out);
    if (q->db_len > 0)
        sl__fmt_jstr(out, q->db, q->db_len);
    else
        SL__DEC_OUT_LIT(out, "\"\"");
    SL__DEC_OUT_LIT(out, ",\"sequence\":null,\"table\":null");
    source_tail(dec, out, 0);
    SL__DEC_OUT_LIT(out, ",\"ts_ms\":");
    sl__dec_out_u64(out, sl__fmt_ts_ms(dec));
    SL__DEC_OUT_LIT(out, ",\"databaseName\":");
    if (q->db_len > 0)
        sl__fmt_jstr(out, q->db, q->db_len);
    else
        SL__DEC_OUT_LIT(out, "\"\"");
    SL__DEC_OUT_LIT(out, ",\"schemaName\":null,\"ddl\":");
    sl__fmt_jstr(out, text, len);
    SL__DEC_OUT_LIT(out, ",\"tableChanges\":[]}");
    return 0;
}
