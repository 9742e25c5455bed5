/*
 * The debezium format: the change event value of Debezium's MySQL
 * connector with the JSON converter's schemas disabled
 * (docs/change-events.md, "Formats"), one line per row:
 *
 *   {"before":{...}|null,"after":{...}|null,
 *    "source":{"version":"sluice-V","connector":"mysql","name":N,
 *              "ts_ms":T,"snapshot":"false","db":D,"sequence":null,
 *              "table":T,"server_id":S,"gtid":G|null,"file":F,"pos":P,
 *              "row":R,"thread":TH|null,"query":Q|null},
 *    "op":"c"|"u"|"d","ts_ms":T,"transaction":null}
 *
 * The record key (sl_change_t.key) is {pk columns} from the after image
 * (the before image of a delete). "thread" is the thread id of the
 * transaction's BEGIN query event (null where there is none: MariaDB's
 * GTID transactions have no BEGIN event); "query" the statement of the
 * last ROWS_QUERY / ANNOTATE_ROWS event of the transaction, with
 * opts.format_query only (Debezium's include.query), null otherwise. DDL is
 * written in the simplified form of Debezium's schema change topic:
 * {"source":{...},"ts_ms":T,
 * "databaseName":D,"schemaName":null,"ddl":SQL,"tableChanges":[]}.
 * Snapshot rows are op "r" with "snapshot":"incremental", rendered by
 * capture/snapshot/render_fmt.c with the same value encoders.
 */
#include "format_int.h"
#include "version.h"

#include <string.h>

static int schema_head(sl_binlog_t *dec, const sl_tablemap_t *tm,
                       sl_buf_t *out);
static int key_schema(sl_binlog_t *dec, const sl_tablemap_t *tm, sl_buf_t *key);

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

/* "source" from "server_id" to its end; dml: for a row (a DDL has no
 * thread or query: Debezium's schema change events leave them null). */
static void source_tail(sl_binlog_t *dec, sl_buf_t *out, int64_t row, int dml) {
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
    SL__DEC_OUT_LIT(out, ",\"thread\":");
    if (dec->fthread != 0 && dml)
        sl__dec_out_u64(out, dec->fthread - 1);
    else
        SL__DEC_OUT_LIT(out, "null");
    SL__DEC_OUT_LIT(out, ",\"query\":");
    if (dec->has_fquery && dml)
        sl__fmt_jstr(out, dec->fquery.data, dec->fquery.len);
    else
        SL__DEC_OUT_LIT(out, "null");
    sl__dec_out_c(out, '}');
}

int sl__dec_fmt_rows_query(sl_binlog_t *dec, unsigned type, const uint8_t *body,
                           size_t len) {
    if (dec->opts.format != SL_FORMAT_DEBEZIUM || !dec->opts.format_query)
        return 0;
    /* MySQL's ROWS_QUERY starts with a length byte that the server
     * truncates to 255: the text runs to the end of the event, as it
     * does in MariaDB's ANNOTATE_ROWS. */
    if (type == SL_EV_ROWS_QUERY) {
        if (len < 1)
            return sl__dec_fail(dec, SL_ECORRUPT, "ROWS_QUERY truncated");
        body++;
        len--;
    }
    sl_buf_reset(&dec->fquery);
    if (sl_buf_append(&dec->fquery, body, len) != 0)
        return sl__dec_fail(dec, SL_ENOMEM, "out of memory");
    dec->has_fquery = 1;
    return 0;
}

int sl__dec_dbz_row(sl_binlog_t *dec, const sl_fmt_row_t *row, sl_buf_t *out,
                    sl_buf_t *key) {
    const sl_tablemap_t *tm = row->tm;
    if (dec->opts.format_schemas)
        schema_head(dec, tm, out);
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
    source_tail(dec, out, row->in_event, 1);
    /* Snapshot rows (op "r") are rendered by capture/snapshot/. */
    SL__DEC_OUT_LIT(out, ",\"op\":\"");
    sl_buf_append_str(out, sl__fmt_op_name(SL_FORMAT_DEBEZIUM, row->op));
    SL__DEC_OUT_LIT(out, "\",\"ts_ms\":");
    sl__dec_out_u64(out, sl__fmt_ts_ms(dec));
    SL__DEC_OUT_LIT(out, ",\"transaction\":null}");
    if (dec->opts.format_schemas)
        sl__dec_out_c(out, '}');
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
    if (dec->opts.format_schemas && key_schema(dec, tm, key) != 0)
        return sl__dec_fail(dec, SL_ENOMEM, "out of memory");
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
    source_tail(dec, out, 0, 0);
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

/* ---- Schemas (the JSON converter with schemas.enable=true) ------------ */

/* Appends the Kafka Connect schema of one column. */
static void column_schema(const sl_tablemap_t *tm, const sl_column_t *c,
                          sl_buf_t *out) {
    const char *type = "string", *name = NULL;
    int un = c->is_unsigned == 1;
    unsigned bits = (c->meta & 255) * 8u + (c->meta >> 8);
    switch (c->real_type) {
    case SL_T_TINY: type = "int16"; break;
    case SL_T_SHORT: type = un ? "int32" : "int16"; break;
    case SL_T_INT24: type = "int32"; break;
    case SL_T_LONG: type = un ? "int64" : "int32"; break;
    case SL_T_LONGLONG: type = "int64"; break;
    case SL_T_FLOAT: type = "float"; break;
    case SL_T_DOUBLE: type = "double"; break;
    case SL_T_YEAR:
        type = "int32";
        name = "io.debezium.time.Year";
        break;
    case SL_T_DATE:
    case SL_T_NEWDATE:
        type = "int32";
        name = "io.debezium.time.Date";
        break;
    case SL_T_TIME:
    case SL_T_TIME2:
        type = "int64";
        name = "io.debezium.time.MicroTime";
        break;
    case SL_T_DATETIME:
    case SL_T_DATETIME2:
        type = "int64";
        name = c->real_type == SL_T_DATETIME2 && c->meta > 3
                   ? "io.debezium.time.MicroTimestamp"
                   : "io.debezium.time.Timestamp";
        break;
    case SL_T_TIMESTAMP:
    case SL_T_TIMESTAMP2: name = "io.debezium.time.ZonedTimestamp"; break;
    case SL_T_BIT:
        if (bits == 1) {
            type = "boolean";
        } else {
            type = "bytes";
            name = "io.debezium.data.Bits";
        }
        break;
    case SL_T_ENUM: name = "io.debezium.data.Enum"; break;
    case SL_T_SET: name = "io.debezium.data.EnumSet"; break;
    case SL_T_JSON: name = "io.debezium.data.Json"; break;
    case SL_T_GEOMETRY:
        type = "struct";
        name = "io.debezium.data.geometry.Geometry";
        break;
    case SL_T_VECTOR:
        type = "array";
        name = "io.debezium.data.FloatVector";
        break;
    default: break;
    }
    SL__DEC_OUT_LIT(out, "{\"type\":\"");
    sl_buf_append_str(out, type);
    sl__dec_out_c(out, '"');
    if (c->real_type == SL_T_GEOMETRY)
        SL__DEC_OUT_LIT(out, ",\"fields\":[{\"type\":\"bytes\",\"optional\":"
                             "false,\"field\":\"wkb\"},{\"type\":\"int32\","
                             "\"optional\":true,\"field\":\"srid\"}]");
    if (c->real_type == SL_T_VECTOR)
        SL__DEC_OUT_LIT(out, ",\"items\":{\"type\":\"float\",\"optional\":"
                             "false}");
    SL__DEC_OUT_LIT(out, ",\"optional\":");
    if (c->nullable)
        SL__DEC_OUT_LIT(out, "true");
    else
        SL__DEC_OUT_LIT(out, "false");
    if (name != NULL) {
        SL__DEC_OUT_LIT(out, ",\"name\":\"");
        sl_buf_append_str(out, name);
        SL__DEC_OUT_LIT(out, "\",\"version\":1");
    }
    if (name != NULL && c->real_type == SL_T_BIT) {
        SL__DEC_OUT_LIT(out, ",\"parameters\":{\"length\":\"");
        sl__dec_out_u64(out, bits);
        SL__DEC_OUT_LIT(out, "\"}");
    }
    SL__DEC_OUT_LIT(out, ",\"field\":");
    sl__dec_out_raw(out, tm->keys.data + c->key_off, c->key_len - 1);
    sl__dec_out_c(out, '}');
}

/* "<server>.<db>.<table>." as Debezium names a table's schemas. */
static void schema_prefix(sl_binlog_t *dec, const sl_tablemap_t *tm,
                          sl_buf_t *t) {
    const char *name = dec->opts.format_name ? dec->opts.format_name : "sluice";
    sl_buf_reset(t);
    sl_buf_append_str(t, name);
    sl__dec_out_c(t, '.');
    sl__dec_out_raw(t, tm->raw.data + tm->db_off, tm->db_len);
    sl__dec_out_c(t, '.');
    sl__dec_out_raw(t, tm->raw.data + tm->table_off, tm->table_len);
    sl__dec_out_c(t, '.');
}

/* The row struct of the table (pk_only: the key's). */
static void row_schema(sl_binlog_t *dec, const sl_tablemap_t *tm, int pk_only,
                       const char *field, sl_buf_t *out) {
    SL__DEC_OUT_LIT(out, "{\"type\":\"struct\",\"fields\":[");
    int sep = 0;
    for (uint32_t i = 0; i < tm->ncols; i++) {
        const sl_column_t *c = &tm->cols[i];
        if (c->dropped || (pk_only && !c->is_pk))
            continue;
        if (sep)
            sl__dec_out_c(out, ',');
        sep = 1;
        column_schema(tm, c, out);
    }
    SL__DEC_OUT_LIT(out, "],\"optional\":");
    if (pk_only)
        SL__DEC_OUT_LIT(out, "false");
    else
        SL__DEC_OUT_LIT(out, "true");
    SL__DEC_OUT_LIT(out, ",\"name\":");
    schema_prefix(dec, tm, &dec->ftmp);
    sl_buf_append_str(&dec->ftmp, pk_only ? "Key" : "Value");
    sl__fmt_jstr(out, dec->ftmp.data, dec->ftmp.len);
    if (field != NULL) {
        SL__DEC_OUT_LIT(out, ",\"field\":\"");
        sl_buf_append_str(out, field);
        sl__dec_out_c(out, '"');
    }
    sl__dec_out_c(out, '}');
}

static const char source_schema[] =
    "{\"type\":\"struct\",\"fields\":["
    "{\"type\":\"string\",\"optional\":false,\"field\":\"version\"},"
    "{\"type\":\"string\",\"optional\":false,\"field\":\"connector\"},"
    "{\"type\":\"string\",\"optional\":false,\"field\":\"name\"},"
    "{\"type\":\"int64\",\"optional\":false,\"field\":\"ts_ms\"},"
    "{\"type\":\"string\",\"optional\":true,\"name\":"
    "\"io.debezium.data.Enum\",\"version\":1,\"parameters\":{\"allowed\":"
    "\"true,last,false,incremental\"},\"default\":\"false\",\"field\":"
    "\"snapshot\"},"
    "{\"type\":\"string\",\"optional\":false,\"field\":\"db\"},"
    "{\"type\":\"string\",\"optional\":true,\"field\":\"sequence\"},"
    "{\"type\":\"string\",\"optional\":true,\"field\":\"table\"},"
    "{\"type\":\"int64\",\"optional\":false,\"field\":\"server_id\"},"
    "{\"type\":\"string\",\"optional\":true,\"field\":\"gtid\"},"
    "{\"type\":\"string\",\"optional\":false,\"field\":\"file\"},"
    "{\"type\":\"int64\",\"optional\":false,\"field\":\"pos\"},"
    "{\"type\":\"int32\",\"optional\":false,\"field\":\"row\"},"
    "{\"type\":\"int64\",\"optional\":true,\"field\":\"thread\"},"
    "{\"type\":\"string\",\"optional\":true,\"field\":\"query\"}],"
    "\"optional\":false,\"name\":\"io.debezium.connector.mysql.Source\","
    "\"field\":\"source\"}";

static const char envelope_tail[] =
    ",{\"type\":\"string\",\"optional\":false,\"field\":\"op\"},"
    "{\"type\":\"int64\",\"optional\":true,\"field\":\"ts_ms\"},"
    "{\"type\":\"struct\",\"fields\":[{\"type\":\"string\","
    "\"optional\":false,\"field\":\"id\"},{\"type\":\"int64\","
    "\"optional\":false,\"field\":\"total_order\"},{\"type\":"
    "\"int64\",\"optional\":false,\"field\":"
    "\"data_collection_order\"}],\"optional\":true,\"name\":"
    "\"event.block\",\"version\":1,\"field\":\"transaction\"}],"
    "\"optional\":false,\"name\":";

const char *sl_fmtval_dbz_source_schema(void) { return source_schema; }

const char *sl_fmtval_dbz_envelope_tail(void) { return envelope_tail; }

static int schema_head(sl_binlog_t *dec, const sl_tablemap_t *tm,
                       sl_buf_t *out) {
    SL__DEC_OUT_LIT(out, "{\"schema\":{\"type\":\"struct\",\"fields\":[");
    row_schema(dec, tm, 0, "before", out);
    sl__dec_out_c(out, ',');
    row_schema(dec, tm, 0, "after", out);
    sl__dec_out_c(out, ',');
    SL__DEC_OUT_LIT(out, source_schema);
    SL__DEC_OUT_LIT(out, envelope_tail);
    schema_prefix(dec, tm, &dec->ftmp);
    sl_buf_append_str(&dec->ftmp, "Envelope");
    sl__fmt_jstr(out, dec->ftmp.data, dec->ftmp.len);
    SL__DEC_OUT_LIT(out, ",\"version\":1},\"payload\":");
    return 0;
}

static int key_schema(sl_binlog_t *dec, const sl_tablemap_t *tm,
                      sl_buf_t *key) {
    /* The key rendered so far is the payload: wrap it. */
    sl_buf_t *t = &dec->pend; /* Unused in this format: scratch. */
    sl_buf_reset(t);
    SL__DEC_OUT_LIT(t, "{\"schema\":");
    row_schema(dec, tm, 1, NULL, t);
    SL__DEC_OUT_LIT(t, ",\"payload\":");
    sl__dec_out_raw(t, key->data, key->len);
    sl__dec_out_c(t, '}');
    sl_buf_reset(key);
    sl__dec_out_raw(key, t->data, t->len);
    return sl_buf_error(t) != 0 ? SL_ENOMEM : 0;
}
