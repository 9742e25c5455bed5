/*
 * Golden events of the formats other tools read (--format debezium,
 * maxwell, canal; docs/change-events.md, "Formats"), from a real server:
 * the harness MariaDB writes a table with one column of each type family
 * of capture_types (integers signed and unsigned, FLOAT, DOUBLE, DECIMAL,
 * DATE, TIME with a fraction, DATETIME with and without one, TIMESTAMP,
 * YEAR, BIT(1), BIT(10), ENUM, SET, VARCHAR, VARBINARY, BLOB, JSON,
 * GEOMETRY, a zero DATE), inserts a row, updates it and deletes it; the
 * binlog is decoded in each format and every field is checked against
 * what each project documents:
 *   Debezium's MySQL connector ("Data type mappings", with
 *     decimal.handling.mode=string, time.precision.mode=
 *     adaptive_time_microseconds, binary.handling.mode=base64): DATE as
 *     days since the epoch, TIME as microseconds, DATETIME(0-3) as
 *     milliseconds and DATETIME(4-6) as microseconds since the epoch,
 *     TIMESTAMP as an ISO-8601 string in UTC, BIT(1) boolean, BIT(n) the
 *     bytes little-endian in base64, GEOMETRY {"wkb","srid"}; the
 *     envelope ("before", "after", "source", "op", "ts_ms") and the key.
 *   Maxwell ("Data format"): database, table, type, ts, xid, commit on
 *     the transaction's last row, data, old with the changed columns
 *     only; DECIMAL as a number, SET as an array, binary as base64,
 *     GEOMETRY as the WKT JTS writes (Maxwell's GeometryColumnDef:
 *     WKBReader, then toText()), every OGC type (capture_formats_wkt).
 *   Canal's FlatMessage: data and old as lists of objects of strings,
 *     database, es, id, isDdl, mysqlType, pkNames, sql, sqlType, table,
 *     ts, type (INSERT/UPDATE/DELETE, CREATE for the DDL).
 * The sluice format of the same binlog still says "kind" (unchanged).
 */
#include "../unit/test_capture_lib.h"
#include "capture/decoder/binlog.h"
#include "harness.h"
#include "sl_test.h"

#include <stdlib.h>

#define DB "sl_capture_fmt"

typedef struct {
    ct_lines_t lines; /* DDL and rows of DB, in order. */
    ct_lines_t keys;  /* Their record keys ("" when none). */
    int markers;      /* Changes without JSON (begin/commit). */
    int stray;        /* A change without JSON that is not a marker. */
} got_t;

static int collect_cb(void *ctx, const sl_change_t *chg) {
    got_t *g = ctx;
    if (chg->json_len == 0) {
        if (chg->kind == SL_CHANGE_ROW || chg->kind == SL_CHANGE_DDL)
            g->stray++;
        g->markers++;
        return 0;
    }
    if (chg->kind != SL_CHANGE_ROW && chg->kind != SL_CHANGE_DDL)
        return 0;
    if (chg->kind == SL_CHANGE_ROW &&
        (chg->db_len != strlen(DB) || memcmp(chg->db, DB, chg->db_len) != 0))
        return 0;
    if (chg->kind == SL_CHANGE_DDL &&
        (chg->sql == NULL ||
         memmem(chg->sql, chg->sql_len, "fmt_all", 7) == NULL))
        return 0;
    ct_lines_add(&g->lines, chg->json, chg->json_len);
    ct_lines_add(&g->keys, chg->key ? chg->key : "",
                 chg->key ? chg->key_len : 0);
    return 0;
}

/* The node at a dotted path ("data.0.ti"); NULL when absent. */
static const ct_node_t *at_path(const ct_node_t *nd, const char *path) {
    char part[64];
    while (nd != NULL && *path != '\0') {
        size_t n = strcspn(path, ".");
        snprintf(part, sizeof part, "%.*s", (int)n, path);
        path += n + (path[n] == '.');
        if (nd->type == CT_ARR) {
            size_t i = (size_t)atoi(part);
            nd = i < nd->n ? nd->kids[i] : NULL;
        } else {
            nd = ct_get(nd, part);
        }
    }
    return nd;
}

/* An expected field: in event ev (0 the CREATE TABLE, 1 the insert, 2 the
 * update, 3 the delete), at path, of type t with text s ("true"/"false"
 * for booleans, NULL for null and for a type check alone). */
typedef struct {
    int ev;
    const char *path;
    ct_type_t t;
    const char *s;
} want_t;

static const want_t dbz[] = {
    {0, "ddl", CT_STR, NULL},
    {0, "databaseName", CT_STR, DB},
    {0, "source.connector", CT_STR, "mysql"},
    {0, "tableChanges", CT_ARR, NULL},
    {1, "op", CT_STR, "c"},
    {1, "before", CT_NULL, NULL},
    {1, "source.connector", CT_STR, "mysql"},
    {1, "source.name", CT_STR, "sluice"},
    {1, "source.db", CT_STR, DB},
    {1, "source.table", CT_STR, "fmt_all"},
    {1, "source.snapshot", CT_STR, "false"},
    {1, "source.file", CT_STR, NULL},
    {1, "source.pos", CT_NUM, NULL},
    {1, "source.row", CT_NUM, "0"},
    {1, "source.server_id", CT_NUM, "1"},
    {1, "source.ts_ms", CT_NUM, NULL},
    {1, "source.version", CT_STR, NULL},
    /* MariaDB's GTID transactions have no BEGIN query event to take the
     * thread from; the query only with include.query (below). */
    {1, "source.thread", CT_NULL, NULL},
    {1, "source.query", CT_NULL, NULL},
    {1, "ts_ms", CT_NUM, NULL},
    {1, "after.id", CT_NUM, "1"},
    {1, "after.ti", CT_NUM, "-5"},
    {1, "after.bu", CT_NUM, "18446744073709551615"},
    {1, "after.f", CT_NUM, "1.5"},
    {1, "after.d", CT_NUM, "2.25"},
    {1, "after.dc", CT_STR, "123.45"},
    {1, "after.dt", CT_NUM, "18263"},
    {1, "after.tm", CT_NUM, "-3723500000"},
    {1, "after.dtt", CT_NUM, "1577934245000"},
    {1, "after.dt6", CT_NUM, "1577934245123456"},
    {1, "after.ts", CT_STR, "2020-01-02T03:04:05.250Z"},
    {1, "after.yr", CT_NUM, "2024"},
    {1, "after.b1", CT_BOOL, "true"},
    {1, "after.b10", CT_STR, "AQI="},
    {1, "after.e", CT_STR, "b"},
    {1, "after.s", CT_STR, "x,z"},
    {1, "after.c", CT_STR, "h\xc3\xa9llo"},
    {1, "after.vb", CT_STR, "AP8Q"},
    {1, "after.bl", CT_STR, "AQI="},
    {1, "after.j", CT_STR, "{\"a\":1}"},
    {1, "after.g.wkb", CT_STR, "AQEAAAAAAAAAAADwPwAAAAAAAABA"},
    {1, "after.g.srid", CT_NUM, "0"},
    {1, "after.zd", CT_NULL, NULL},
    {2, "op", CT_STR, "u"},
    {2, "before.c", CT_STR, "h\xc3\xa9llo"},
    {2, "after.c", CT_STR, "bye"},
    {2, "after.ti", CT_NUM, "6"},
    {3, "op", CT_STR, "d"},
    {3, "after", CT_NULL, NULL},
    {3, "before.id", CT_NUM, "1"},
    {-1, NULL, CT_NULL, NULL},
};

static const want_t mxw[] = {
    {0, "type", CT_STR, "table-create"},
    {0, "database", CT_STR, DB},
    {0, "sql", CT_STR, NULL},
    {1, "database", CT_STR, DB},
    {1, "table", CT_STR, "fmt_all"},
    {1, "type", CT_STR, "insert"},
    {1, "ts", CT_NUM, NULL},
    {1, "xid", CT_NUM, NULL},
    {1, "commit", CT_BOOL, "true"},
    {1, "primary_key.0", CT_NUM, "1"},
    {1, "primary_key_columns.0", CT_STR, "id"},
    {1, "data.ti", CT_NUM, "-5"},
    {1, "data.bu", CT_NUM, "18446744073709551615"},
    {1, "data.dc", CT_NUM, "123.45"},
    {1, "data.dt", CT_STR, "2020-01-02"},
    {1, "data.tm", CT_STR, "-01:02:03.500"},
    {1, "data.dtt", CT_STR, "2020-01-02 03:04:05"},
    {1, "data.dt6", CT_STR, "2020-01-02 03:04:05.123456"},
    {1, "data.ts", CT_STR, "2020-01-02 03:04:05.250"},
    {1, "data.yr", CT_NUM, "2024"},
    {1, "data.b1", CT_NUM, "1"},
    {1, "data.b10", CT_NUM, "513"},
    {1, "data.s.0", CT_STR, "x"},
    {1, "data.s.1", CT_STR, "z"},
    {1, "data.vb", CT_STR, "AP8Q"},
    {1, "data.bl", CT_STR, "AQI="},
    {1, "data.zd", CT_STR, "0000-00-00"},
    {1, "data.g", CT_STR, "POINT (1 2)"},
    {2, "type", CT_STR, "update"},
    {2, "data.c", CT_STR, "bye"},
    {2, "old.c", CT_STR, "h\xc3\xa9llo"},
    {2, "old.ti", CT_NUM, "-5"},
    {2, "commit", CT_BOOL, "true"},
    {3, "type", CT_STR, "delete"},
    {3, "data.id", CT_NUM, "1"},
    {-1, NULL, CT_NULL, NULL},
};

static const want_t canal[] = {
    {0, "isDdl", CT_BOOL, "true"},
    {0, "type", CT_STR, "CREATE"},
    {0, "database", CT_STR, DB},
    {0, "data", CT_NULL, NULL},
    {1, "isDdl", CT_BOOL, "false"},
    {1, "type", CT_STR, "INSERT"},
    {1, "database", CT_STR, DB},
    {1, "table", CT_STR, "fmt_all"},
    {1, "es", CT_NUM, NULL},
    {1, "ts", CT_NUM, NULL},
    {1, "id", CT_NUM, NULL},
    {1, "sql", CT_STR, ""},
    {1, "old", CT_NULL, NULL},
    {1, "pkNames.0", CT_STR, "id"},
    {1, "mysqlType.id", CT_STR, "int"},
    {1, "sqlType.id", CT_NUM, "4"},
    {1, "sqlType.dc", CT_NUM, "3"},
    {1, "sqlType.dt6", CT_NUM, "93"},
    {1, "data.0.id", CT_STR, "1"},
    {1, "data.0.ti", CT_STR, "-5"},
    {1, "data.0.bu", CT_STR, "18446744073709551615"},
    {1, "data.0.f", CT_STR, "1.5"},
    {1, "data.0.dc", CT_STR, "123.45"},
    {1, "data.0.dt", CT_STR, "2020-01-02"},
    {1, "data.0.dt6", CT_STR, "2020-01-02 03:04:05.123456"},
    {1, "data.0.yr", CT_STR, "2024"},
    {1, "data.0.b1", CT_STR, "1"},
    {1, "data.0.b10", CT_STR, "513"},
    {1, "data.0.s", CT_STR, "x,z"},
    {1, "data.0.vb", CT_STR, "\x00\xc3\xbf\x10"},
    {1, "data.0.j", CT_STR, "{\"a\":1}"},
    {1, "data.0.zd", CT_STR, "0000-00-00"},
    {2, "type", CT_STR, "UPDATE"},
    {2, "data.0.c", CT_STR, "bye"},
    {2, "old.0.c", CT_STR, "h\xc3\xa9llo"},
    {2, "old.0.ti", CT_STR, "-5"},
    {3, "type", CT_STR, "DELETE"},
    {3, "data.0.id", CT_STR, "1"},
    {-1, NULL, CT_NULL, NULL},
};

/* Debezium with schemas (the JSON converter's schemas.enable=true). */
static const want_t dbz_schemas[] = {
    {1, "schema.type", CT_STR, "struct"},
    {1, "schema.name", CT_STR, "sluice." DB ".fmt_all.Envelope"},
    {1, "schema.fields.0.field", CT_STR, "before"},
    {1, "schema.fields.1.field", CT_STR, "after"},
    {1, "schema.fields.1.fields.0.field", CT_STR, "id"},
    {1, "schema.fields.1.fields.0.type", CT_STR, "int32"},
    {1, "schema.fields.1.fields.2.type", CT_STR, "int64"},
    {1, "schema.fields.1.fields.5.type", CT_STR, "string"},
    {1, "schema.fields.1.fields.6.name", CT_STR, "io.debezium.time.Date"},
    {1, "schema.fields.1.fields.7.name", CT_STR, "io.debezium.time.MicroTime"},
    {1, "schema.fields.1.fields.8.name", CT_STR, "io.debezium.time.Timestamp"},
    {1, "schema.fields.1.fields.9.name", CT_STR,
     "io.debezium.time.MicroTimestamp"},
    {1, "schema.fields.1.fields.10.name", CT_STR,
     "io.debezium.time.ZonedTimestamp"},
    {1, "schema.fields.1.fields.12.type", CT_STR, "boolean"},
    {1, "schema.fields.1.fields.13.name", CT_STR, "io.debezium.data.Bits"},
    {1, "schema.fields.1.fields.13.parameters.length", CT_STR, "10"},
    {1, "schema.fields.2.name", CT_STR, "io.debezium.connector.mysql.Source"},
    {1, "payload.op", CT_STR, "c"},
    {1, "payload.after.dt", CT_NUM, "18263"},
    {3, "payload.op", CT_STR, "d"},
    {-1, NULL, CT_NULL, NULL},
};

static void check(const char *fmt, ct_node_t **evs, const want_t *w) {
    for (; w->ev >= 0; w++) {
        const ct_node_t *nd = at_path(evs[w->ev], w->path);
        if (nd == NULL)
            sl_test_fail(__FILE__, __LINE__, "%s event %d: no %s", fmt, w->ev,
                         w->path);
        if (nd->type != w->t)
            sl_test_fail(__FILE__, __LINE__, "%s event %d: %s is %s", fmt,
                         w->ev, w->path, ct_type_name(nd));
        if (w->s == NULL)
            continue;
        int ok = nd->type == CT_BOOL
                     ? (nd->b != 0) == (strcmp(w->s, "true") == 0)
                     : strcmp(nd->s, w->s) == 0 ||
                           /* canal's vb holds a NUL: compare 4 bytes. */
                           (nd->slen == 4 && w->s[0] == '\0' &&
                            memcmp(nd->s, w->s, 4) == 0);
        if (!ok)
            sl_test_fail(
                __FILE__, __LINE__, "%s event %d: %s is %s, want %s", fmt,
                w->ev, w->path,
                nd->type == CT_BOOL ? (nd->b ? "true" : "false") : nd->s, w->s);
    }
}

/* Decodes the files from file0:pos0 to file1 (exclusive) in format f. */
static int include_query; /* decode(): opts.format_query. */

static void decode(const char *datadir, const char *file0, uint64_t pos0,
                   const char *file1, sl_binlog_format_t f, int schemas,
                   got_t *g) {
    sl_binlog_t *dec;
    sl_binlog_opts_t bo = {
        .format = f, .format_schemas = schemas, .format_query = include_query};
    SL_CHECK_OK(sl_binlog_new(&dec, &bo, collect_cb, g));
    const char *dot = strrchr(file0, '.');
    SL_CHECK(dot != NULL);
    int n0 = atoi(dot + 1), n1 = atoi(strrchr(file1, '.') + 1);
    for (int k = n0; k < n1; k++) {
        char path[1024];
        snprintf(path, sizeof(path), "%s/%.*s.%06d", datadir,
                 (int)(dot - file0), file0, k);
        if (sl_binlog_read_file(dec, path, k == n0 ? pos0 : 4, 0) != 0)
            sl_test_fail(__FILE__, __LINE__, "%s", sl_binlog_errmsg(dec));
    }
    /* Markers leave nothing in the output: no empty lines. */
    sl_buf_t *out = sl_binlog_out(dec);
    SL_CHECK(out->len == 0 || out->data[0] != '\n');
    sl_binlog_free(dec);
}

SL_TEST(capture_formats_golden) {
    MYSQL *my = sl_harness_mysql("SOURCE", NULL);
    const char *datadir = getenv("SL_SOURCE_DATADIR");
    if (datadir == NULL)
        SL_SKIP("SL_SOURCE_DATADIR not set");
    sl_harness_exec(my, "SET SESSION sql_mode = '', time_zone = '+00:00'");
    sl_harness_exec(my, "DROP DATABASE IF EXISTS " DB);
    sl_harness_exec(my, "CREATE DATABASE " DB " CHARACTER SET utf8mb4");
    sl_harness_exec(my, "USE " DB);
    char file0[256], file1[256];
    uint64_t pos0, pos1;
    sl_harness_master_status(my, file0, sizeof(file0), &pos0);
    sl_harness_exec(
        my, "CREATE TABLE fmt_all (id INT PRIMARY KEY, ti TINYINT, "
            "bu BIGINT UNSIGNED, f FLOAT, d DOUBLE, dc DECIMAL(10,2), "
            "dt DATE, tm TIME(3), dtt DATETIME, dt6 DATETIME(6), "
            "ts TIMESTAMP(3) NULL, yr YEAR, b1 BIT(1), b10 BIT(10), "
            "e ENUM('a','b'), s SET('x','y','z'), c VARCHAR(10), "
            "vb VARBINARY(4), bl BLOB, j JSON, g GEOMETRY, zd DATE NULL)");
    sl_harness_exec(
        my, "INSERT INTO fmt_all VALUES (1, -5, 18446744073709551615, 1.5, "
            "2.25, 123.45, '2020-01-02', '-01:02:03.500', "
            "'2020-01-02 03:04:05', '2020-01-02 03:04:05.123456', "
            "'2020-01-02 03:04:05.250', 2024, b'1', b'1000000001', 'b', "
            "'x,z', 'h\xc3\xa9llo', x'00ff10', x'0102', '{\"a\":1}', "
            "ST_GeomFromText('POINT(1 2)'), '0000-00-00')");
    sl_harness_exec(my, "UPDATE fmt_all SET c = 'bye', ti = 6 WHERE id = 1");
    sl_harness_exec(my, "DELETE FROM fmt_all WHERE id = 1");
    sl_harness_exec(my, "FLUSH BINARY LOGS");
    sl_harness_master_status(my, file1, sizeof(file1), &pos1);
    (void)pos1;

    static const struct {
        sl_binlog_format_t f;
        const char *name;
        const want_t *want;
    } fmts[] = {{SL_FORMAT_DEBEZIUM, "debezium", dbz},
                {SL_FORMAT_MAXWELL, "maxwell", mxw},
                {SL_FORMAT_CANAL, "canal", canal}};
    for (size_t i = 0; i < 3; i++) {
        got_t g = {0};
        decode(datadir, file0, pos0, file1, fmts[i].f, 0, &g);
        if (g.lines.n != 4)
            sl_test_fail(__FILE__, __LINE__, "%s: %zu events, want 4",
                         fmts[i].name, g.lines.n);
        SL_CHECK(g.stray == 0);
        /* Three transactions: a begin and a commit each, without JSON. */
        SL_CHECK(g.markers >= 6);
        ct_node_t *evs[4];
        for (int k = 0; k < 4; k++) {
            evs[k] = ct_parse(g.lines.lines[k], strlen(g.lines.lines[k]));
            if (evs[k] == NULL)
                sl_test_fail(__FILE__, __LINE__, "%s: not JSON: %s",
                             fmts[i].name, g.lines.lines[k]);
        }
        check(fmts[i].name, evs, fmts[i].want);
        if (fmts[i].f == SL_FORMAT_DEBEZIUM) {
            /* The record key: the primary key, after image or before. */
            SL_CHECK_STR(g.keys.lines[1], "{\"id\":1}");
            SL_CHECK_STR(g.keys.lines[3], "{\"id\":1}");
            SL_CHECK_STR(g.keys.lines[0], "");
        } else {
            SL_CHECK_STR(g.keys.lines[1], "");
        }
        for (int k = 0; k < 4; k++)
            ct_free(evs[k]);
        ct_lines_free(&g.lines);
        ct_lines_free(&g.keys);
    }
    /* Debezium's include.query: the statement MariaDB annotated the rows
     * with (binlog_annotate_row_events, on by default). */
    got_t g = {0};
    include_query = 1;
    decode(datadir, file0, pos0, file1, SL_FORMAT_DEBEZIUM, 0, &g);
    include_query = 0;
    SL_CHECK(g.lines.n == 4);
    for (int k = 1; k < 4; k++) {
        static const char *const stmt[4] = {
            NULL, "INSERT INTO fmt_all VALUES (1, -5,",
            "UPDATE fmt_all SET c = 'bye', ti = 6 WHERE id = 1",
            "DELETE FROM fmt_all WHERE id = 1"};
        ct_node_t *e = ct_parse(g.lines.lines[k], strlen(g.lines.lines[k]));
        SL_CHECK(e != NULL);
        const ct_node_t *q = at_path(e, "source.query");
        if (q == NULL || q->type != CT_STR ||
            strncmp(q->s, stmt[k], strlen(stmt[k])) != 0)
            sl_test_fail(__FILE__, __LINE__, "event %d: source.query in %s", k,
                         g.lines.lines[k]);
        ct_free(e);
    }
    ct_lines_free(&g.lines);
    ct_lines_free(&g.keys);
    memset(&g, 0, sizeof g);
    /* The sluice format of the same binlog is unchanged. */
    decode(datadir, file0, pos0, file1, SL_FORMAT_DEBEZIUM, 1, &g);
    SL_CHECK(g.lines.n == 4);
    ct_node_t *sev[4];
    for (int k = 0; k < 4; k++) {
        sev[k] = ct_parse(g.lines.lines[k], strlen(g.lines.lines[k]));
        SL_CHECK(sev[k] != NULL);
    }
    check("debezium+schemas", sev, dbz_schemas);
    for (int k = 0; k < 4; k++)
        ct_free(sev[k]);
    ct_node_t *key = ct_parse(g.keys.lines[1], strlen(g.keys.lines[1]));
    SL_CHECK(key != NULL);
    SL_CHECK_STR(at_path(key, "schema.name")->s, "sluice." DB ".fmt_all.Key");
    SL_CHECK_STR(at_path(key, "payload.id")->s, "1");
    ct_free(key);
    ct_lines_free(&g.lines);
    ct_lines_free(&g.keys);
    memset(&g, 0, sizeof g);
    decode(datadir, file0, pos0, file1, SL_FORMAT_SLUICE, 0, &g);
    SL_CHECK(g.markers == 0);
    SL_CHECK(g.lines.n == 4);
    ct_node_t *schema = ct_load_schema();
    SL_CHECK(schema != NULL);
    for (size_t k = 0; k < g.lines.n; k++) {
        ct_node_t *e = ct_parse(g.lines.lines[k], strlen(g.lines.lines[k]));
        char why[300];
        SL_CHECK(e != NULL);
        if (!ct_validate(schema, e, why, sizeof why, "$"))
            sl_test_fail(__FILE__, __LINE__, "schema: %s", why);
        ct_free(e);
    }
    ct_free(schema);
    ct_node_t *ev = ct_parse(g.lines.lines[1], strlen(g.lines.lines[1]));
    SL_CHECK(ev != NULL && ct_get(ev, "kind") != NULL);
    SL_CHECK_STR(ct_get(ev, "kind")->s, "row");
    ct_free(ev);
    ct_lines_free(&g.lines);
    ct_lines_free(&g.keys);
    mysql_close(my);
}

/* Maxwell's GEOMETRY values: every OGC type as the real server stores it,
 * rendered as JTS's WKTWriter writes them ("POINT (1 2)", points of a
 * MULTIPOINT in parentheses, the SRID dropped). */
SL_TEST(capture_formats_wkt) {
    MYSQL *my = sl_harness_mysql("SOURCE", NULL);
    const char *datadir = getenv("SL_SOURCE_DATADIR");
    if (datadir == NULL)
        SL_SKIP("SL_SOURCE_DATADIR not set");
    static const struct {
        const char *sql, *want;
    } g[] = {
        {"ST_GeomFromText('POINT(1 2)')", "POINT (1 2)"},
        {"ST_GeomFromText('POINT(-122.4194155 37.7749295)', 4326)",
         "POINT (-122.4194155 37.7749295)"},
        {"ST_GeomFromText('LINESTRING(0 0,1.5 -2.25,1e20 0.000001)')",
         "LINESTRING (0 0, 1.5 -2.25, 100000000000000000000 0.000001)"},
        {"ST_GeomFromText('POLYGON((0 0,4 0,4 4,0 0),(1 1,2 1,2 2,1 1))')",
         "POLYGON ((0 0, 4 0, 4 4, 0 0), (1 1, 2 1, 2 2, 1 1))"},
        {"ST_GeomFromText('MULTIPOINT(1 2,3 4)')", "MULTIPOINT ((1 2), (3 4))"},
        {"ST_GeomFromText('MULTILINESTRING((0 0,1 1),(2 2,3 3))')",
         "MULTILINESTRING ((0 0, 1 1), (2 2, 3 3))"},
        {"ST_GeomFromText('MULTIPOLYGON(((0 0,1 0,1 1,0 0)),"
         "((2 2,3 2,3 3,2 2)))')",
         "MULTIPOLYGON (((0 0, 1 0, 1 1, 0 0)), ((2 2, 3 2, 3 3, 2 2)))"},
        {"ST_GeomFromText('GEOMETRYCOLLECTION(POINT(1 2),"
         "LINESTRING(0 0,1 1),MULTIPOINT(5 6))')",
         "GEOMETRYCOLLECTION (POINT (1 2), LINESTRING (0 0, 1 1), "
         "MULTIPOINT ((5 6)))"},
    };
    size_t ng = sizeof g / sizeof g[0];
    sl_harness_exec(my, "CREATE DATABASE IF NOT EXISTS " DB);
    sl_harness_exec(my, "USE " DB);
    sl_harness_exec(my, "DROP TABLE IF EXISTS fmt_geo");
    sl_harness_exec(my, "CREATE TABLE fmt_geo (id INT PRIMARY KEY, "
                        "g GEOMETRY)");
    char file0[256], file1[256];
    uint64_t pos0, pos1;
    sl_harness_master_status(my, file0, sizeof(file0), &pos0);
    for (size_t i = 0; i < ng; i++) {
        char sql[512];
        snprintf(sql, sizeof sql, "INSERT INTO fmt_geo VALUES (%zu, %s)", i,
                 g[i].sql);
        sl_harness_exec(my, sql);
    }
    sl_harness_exec(my, "FLUSH BINARY LOGS");
    sl_harness_master_status(my, file1, sizeof(file1), &pos1);
    (void)pos1;
    got_t got = {0};
    decode(datadir, file0, pos0, file1, SL_FORMAT_MAXWELL, 0, &got);
    if (got.lines.n != ng)
        sl_test_fail(__FILE__, __LINE__, "%zu rows, want %zu", got.lines.n, ng);
    for (size_t i = 0; i < ng; i++) {
        ct_node_t *ev =
            ct_parse(got.lines.lines[i], strlen(got.lines.lines[i]));
        SL_CHECK(ev != NULL);
        const ct_node_t *v = at_path(ev, "data.g");
        if (v == NULL || v->type != CT_STR || strcmp(v->s, g[i].want) != 0)
            sl_test_fail(__FILE__, __LINE__, "row %zu: %s, want \"%s\"", i,
                         got.lines.lines[i], g[i].want);
        ct_free(ev);
    }
    ct_lines_free(&got.lines);
    ct_lines_free(&got.keys);
    mysql_close(my);
}
