/*
 * Snapshot values in the other formats (capture/snapshot/render_fmt.c)
 * from the text protocol's values, without a server: golden values per
 * format, the ones docs/change-events.md ("Values per format") documents
 * and tests/integration/capture_formats.c checks for the binlog path
 * (Debezium's DATE as epoch days, TIME in microseconds, DATETIME(0-3) in
 * milliseconds and (4-6) microseconds, TIMESTAMP ISO-8601 UTC with the
 * column's digits, BIT(1) a boolean and BIT(n) little-endian base64, zero
 * dates null or 0; Maxwell's DECIMAL a number and SET an array; Canal's
 * strings and ISO-8859-1 bytes), and text the server never sends refused
 * (SL_ECORRUPT) rather than published. snapshot_formats.c checks the same
 * renderings against a real binlog.
 */
#include "capture/snapshot/state_int.h"
#include "error.h"
#include "sl_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name, *data_type, *column_type, *charset;
    int nullable;
} tcol_t;

/* Renders one value (text, or NULL for SQL NULL) of a one-column table in
 * fmt; returns the rc, the JSON value in out. */
static int render1(sl_binlog_format_t fmt, const tcol_t *tc, const char *text,
                   size_t len, char *out, size_t cap) {
    sl_schema_col_t col = {
        .name = (char *)tc->name,
        .data_type = (char *)tc->data_type,
        .column_type = (char *)tc->column_type,
        .charset = (char *)tc->charset,
        .nullable = tc->nullable,
        .is_unsigned = strstr(tc->column_type, "unsigned") != NULL,
    };
    static char *setv[] = {"x", "y", "z"};
    if (strcmp(tc->data_type, "set") == 0) {
        col.values = setv;
        col.nvalues = 3;
    }
    sl_schema_table_t t = {.db = "d", .name = "t", .cols = &col, .ncols = 1};
    sl__snap_col_t jc = {.name = (char *)tc->name,
                         .kind = sl__snap_kind(tc->data_type, tc->charset)};
    sl__snap_job_t job;
    memset(&job, 0, sizeof job);
    job.cols = &jc;
    job.ncols = 1;
    int rc = sl__snap_fmt_job(&job, fmt, &t);
    sl_buf_t b = SL_BUF_INIT, tmp = SL_BUF_INIT;
    char *row[1] = {(char *)text};
    unsigned long lens[1] = {len};
    if (rc == 0)
        rc = sl__snap_fmt_render(&job, row, lens, &b, NULL, &tmp);
    /* The image is {"name":value}: keep the value. */
    size_t skip = strlen(tc->name) + 4;
    snprintf(out, cap, "%.*s", rc == 0 ? (int)(b.len - skip - 1) : 0,
             rc == 0 ? (const char *)b.data + skip : "");
    sl__snap_fmt_job_free(&job);
    sl_buf_free(&b);
    sl_buf_free(&tmp);
    return rc;
}

typedef struct {
    tcol_t col;
    const char *text;
    const char *dbz, *mxw, *canal;
} golden_t;

static const golden_t goldens[] = {
    {{"i", "int", "int(11)", NULL, 1}, "-5", "-5", "-5", "\"-5\""},
    {{"u", "bigint", "bigint(20) unsigned", NULL, 1},
     "18446744073709551615",
     "18446744073709551615",
     "18446744073709551615",
     "\"18446744073709551615\""},
    {{"f", "float", "float", NULL, 1},
     "1.2345678033065796",
     "1.2345678",
     "1.2345678",
     "\"1.2345678\""},
    {{"d", "double", "double", NULL, 1},
     "0.30000000000000004",
     "0.30000000000000004",
     "0.30000000000000004",
     "\"0.30000000000000004\""},
    {{"n", "decimal", "decimal(10,2)", NULL, 1},
     "-12.50",
     "\"-12.50\"",
     "-12.50",
     "\"-12.50\""},
    {{"y", "year", "year(4)", NULL, 1}, "2024", "2024", "2024", "\"2024\""},
    {{"dt", "date", "date", NULL, 1},
     "2020-01-02",
     "18263",
     "\"2020-01-02\"",
     "\"2020-01-02\""},
    {{"dt", "date", "date", NULL, 1},
     "1969-12-31",
     "-1",
     "\"1969-12-31\"",
     "\"1969-12-31\""},
    {{"zd", "date", "date", NULL, 1},
     "0000-00-00",
     "null",
     "\"0000-00-00\"",
     "\"0000-00-00\""},
    {{"zd", "date", "date", NULL, 0},
     "0000-00-00",
     "0",
     "\"0000-00-00\"",
     "\"0000-00-00\""},
    {{"tm", "time", "time(3)", NULL, 1},
     "-01:02:03.500",
     "-3723500000",
     "\"-01:02:03.500\"",
     "\"-01:02:03.500\""},
    {{"tm", "time", "time", NULL, 1},
     "838:59:59",
     "3020399000000",
     "\"838:59:59\"",
     "\"838:59:59\""},
    {{"dtm", "datetime", "datetime(3)", NULL, 1},
     "2020-01-02 03:04:05.250",
     "1577934245250",
     "\"2020-01-02 03:04:05.250\"",
     "\"2020-01-02 03:04:05.250\""},
    {{"dtm", "datetime", "datetime(6)", NULL, 1},
     "2020-01-02 03:04:05.000001",
     "1577934245000001",
     "\"2020-01-02 03:04:05.000001\"",
     "\"2020-01-02 03:04:05.000001\""},
    {{"ts", "timestamp", "timestamp(2)", NULL, 1},
     "2020-01-02 03:04:05.25",
     "\"2020-01-02T03:04:05.25Z\"",
     "\"2020-01-02 03:04:05.25\"",
     "\"2020-01-02 03:04:05.25\""},
    {{"ts", "timestamp", "timestamp", NULL, 0},
     "0000-00-00 00:00:00",
     "\"1970-01-01T00:00:00Z\"",
     "\"0000-00-00 00:00:00\"",
     "\"0000-00-00 00:00:00\""},
    {{"b", "bit", "bit(1)", NULL, 1}, "1", "true", "1", "\"1\""},
    {{"b", "bit", "bit(10)", NULL, 1}, "513", "\"AQI=\"", "513", "\"513\""},
    {{"s", "set", "set('x','y','z')", "utf8mb4", 1},
     "x,z",
     "\"x,z\"",
     "[\"x\",\"z\"]",
     "\"x,z\""},
    {{"s", "set", "set('x','y','z')", "utf8mb4", 1}, "", "\"\"", "[]", "\"\""},
    {{"v", "varchar", "varchar(10)", "utf8mb4", 1},
     "a\"b\\\n",
     "\"a\\\"b\\\\\\n\"",
     "\"a\\\"b\\\\\\n\"",
     "\"a\\\"b\\\\\\n\""},
    {{"vb", "varbinary", "varbinary(10)", "binary", 1},
     "\x01\xff",
     "\"Af8=\"",
     "\"Af8=\"",
     "\"\\u0001\xc3\xbf\""},
};

SL_TEST(snapshot_fmt_values_golden) {
    static const sl_binlog_format_t fmts[] = {
        SL_FORMAT_DEBEZIUM, SL_FORMAT_MAXWELL, SL_FORMAT_CANAL};
    char got[256];
    for (size_t i = 0; i < sizeof goldens / sizeof goldens[0]; i++) {
        const golden_t *g = &goldens[i];
        const char *want[3] = {g->dbz, g->mxw, g->canal};
        for (int f = 0; f < 3; f++) {
            int rc = render1(fmts[f], &g->col, g->text, strlen(g->text), got,
                             sizeof got);
            if (rc != 0 || strcmp(got, want[f]) != 0)
                printf("# %s %s '%s' (format %d): %s rc %d, want %s\n",
                       g->col.column_type, g->col.name, g->text, f, got, rc,
                       want[f]);
            SL_CHECK_INT(rc, 0);
            SL_CHECK_STR(got, want[f]);
        }
        /* SQL NULL is null everywhere. */
        SL_CHECK_INT(
            render1(SL_FORMAT_CANAL, &g->col, NULL, 0, got, sizeof got), 0);
        SL_CHECK_STR(got, "null");
    }
}

SL_TEST(snapshot_fmt_refuses_impossible_text) {
    static const golden_t bad[] = {
        {{"i", "int", "int(11)", NULL, 1}, "12a", 0, 0, 0},
        {{"i", "int", "int(11)", NULL, 1}, "", 0, 0, 0},
        {{"f", "double", "double", NULL, 1}, "1.5x", 0, 0, 0},
        {{"n", "decimal", "decimal(10,2)", NULL, 1}, "1e5", 0, 0, 0},
        {{"dt", "date", "date", NULL, 1}, "2020-1-02", 0, 0, 0},
        {{"dt", "date", "date", NULL, 1}, "2020-01-02 ", 0, 0, 0},
        {{"dtm", "datetime", "datetime", NULL, 1}, "2020-01-02", 0, 0, 0},
        {{"dtm", "datetime", "datetime(6)", NULL, 1},
         "2020-01-02 03:04:05.",
         0,
         0,
         0},
        {{"tm", "time", "time", NULL, 1}, "12:3:00", 0, 0, 0},
        {{"tm", "time", "time", NULL, 1}, ":00:00", 0, 0, 0},
        {{"b", "bit", "bit(10)", NULL, 1}, "-1", 0, 0, 0},
        {{"y", "year", "year(4)", NULL, 1}, "20245", 0, 0, 0},
        {{"i", "int", "int(11)", NULL, 1}, "007", 0, 0, 0},
        {{"i", "int", "int(11)", NULL, 1}, "-0", 0, 0, 0},
        {{"f", "float", "float", NULL, 1}, "1e39", 0, 0, 0},
        {{"f", "double", "double", NULL, 1}, "inf", 0, 0, 0},
        {{"f", "double", "double", NULL, 1}, "0x1p3", 0, 0, 0},
        {{"n", "decimal", "decimal(10,2)", NULL, 1}, "", 0, 0, 0},
        {{"n", "decimal", "decimal(10,2)", NULL, 1}, "1.", 0, 0, 0},
        {{"n", "decimal", "decimal(10,2)", NULL, 1}, "01.5", 0, 0, 0},
        {{"b", "bit", "bit(10)", NULL, 1}, "1024", 0, 0, 0},
        {{"b", "bit", "bit(64)", NULL, 1}, "18446744073709551616", 0, 0, 0},
    };
    char got[256];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = render1(SL_FORMAT_DEBEZIUM, &bad[i].col, bad[i].text,
                         strlen(bad[i].text), got, sizeof got);
        if (rc != SL_ECORRUPT)
            printf("# '%s' as %s gave %d (%s)\n", bad[i].text,
                   bad[i].col.column_type, rc, got);
        SL_CHECK_INT(rc, SL_ECORRUPT);
    }
    /* Maxwell writes MySQL's JSON as the document: it must be one. */
    tcol_t j = {"j", "json", "json", NULL, 1};
    SL_CHECK_INT(render1(SL_FORMAT_MAXWELL, &j, "{\"a\":", 5, got, sizeof got),
                 SL_ECORRUPT);
    SL_CHECK_INT(render1(SL_FORMAT_MAXWELL, &j, "[1]", 3, got, sizeof got), 0);
    SL_CHECK_STR(got, "[1]");
}
