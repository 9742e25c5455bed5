/*
 * libFuzzer target for capture/snapshot/render_fmt.c: one value of a
 * snapshot row as the text protocol would send it, rendered in a format.
 * Input: byte 0 picks the column type (of the table below), byte 1 the
 * format (debezium, maxwell, canal) and whether the column is nullable;
 * the rest is the value's text.
 *
 * Besides ASan/UBSan's checks it asserts the contract: 0 with valid JSON
 * (the image parses as an object of one member), or SL_ECORRUPT for text
 * the server never sends; never anything else.
 */
#include "capture/snapshot/state_int.h"
#include "error.h"
#include "jsonread.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct {
    const char *data_type, *column_type, *charset;
} types[] = {
    {"tinyint", "tinyint(4)", NULL},
    {"bigint", "bigint(20) unsigned", NULL},
    {"float", "float", NULL},
    {"double", "double", NULL},
    {"decimal", "decimal(30,10)", NULL},
    {"year", "year(4)", NULL},
    {"date", "date", NULL},
    {"time", "time(6)", NULL},
    {"time", "time", NULL},
    {"datetime", "datetime(3)", NULL},
    {"datetime", "datetime(6)", NULL},
    {"timestamp", "timestamp(2)", NULL},
    {"bit", "bit(1)", NULL},
    {"bit", "bit(64)", NULL},
    {"enum", "enum('a','b')", "utf8mb4"},
    {"set", "set('x','y')", "utf8mb4"},
    {"varchar", "varchar(10)", "utf8mb4"},
    {"varbinary", "varbinary(10)", "binary"},
    {"json", "json", NULL},
    {"geometry", "geometry", NULL},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2)
        return 0;
    size_t ti = data[0] % (sizeof types / sizeof types[0]);
    static const sl_binlog_format_t fmts[] = {
        SL_FORMAT_DEBEZIUM, SL_FORMAT_MAXWELL, SL_FORMAT_CANAL};
    sl_binlog_format_t fmt = fmts[(data[1] & 127) % 3];
    static char *vals[] = {"a", "b"};
    sl_schema_col_t col = {
        .name = "c",
        .data_type = (char *)types[ti].data_type,
        .column_type = (char *)types[ti].column_type,
        .charset = (char *)types[ti].charset,
        .is_unsigned = strstr(types[ti].column_type, "unsigned") != NULL,
        .nullable = data[1] >> 7,
        .values = vals,
        .nvalues = 2,
    };
    sl_schema_table_t t = {.db = "d", .name = "t", .cols = &col, .ncols = 1};
    sl__snap_col_t jc = {.name = "c",
                         .kind = sl__snap_kind(col.data_type, col.charset)};
    sl__snap_job_t job;
    memset(&job, 0, sizeof job);
    job.cols = &jc;
    job.ncols = 1;
    if (sl__snap_fmt_job(&job, fmt, &t) != 0)
        abort();
    /* The value as the client library hands it over: NUL-terminated. */
    char *text = malloc(size - 2 + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data + 2, size - 2);
    text[size - 2] = '\0';
    char *row[1] = {text};
    unsigned long lens[1] = {(unsigned long)(size - 2)};
    sl_buf_t out = SL_BUF_INIT, tmp = SL_BUF_INIT;
    size_t span[2];
    int rc = sl__snap_fmt_render(&job, row, lens, &out, span, &tmp);
    if (rc != 0 && rc != SL_ECORRUPT)
        abort();
    if (rc == 0) {
        sl_jr_doc_t doc;
        sl_jr_init(&doc);
        /* JSON text may be invalid UTF-8 only where the input was; the
         * structure must parse. */
        if (sl_jr_parse(&doc, (const char *)out.data, out.len) != 0 ||
            sl_jr_type(&doc, 0) != SL_JR_OBJECT ||
            sl_jr_tok(&doc, 0)->count != 1 || span[1] < span[0] ||
            span[1] > out.len)
            abort();
        sl_jr_free(&doc);
    }
    sl__snap_fmt_job_free(&job);
    sl_buf_free(&out);
    sl_buf_free(&tmp);
    free(text);
    return 0;
}
