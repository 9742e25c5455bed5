/*
 * Regression: the optional metadata's signedness and charset fields have
 * one entry per column of a class, and the decoder's classes must match
 * the server's. MariaDB counts YEAR as numeric and GEOMETRY as character;
 * the decoder did not, so every numeric column after a YEAR took its
 * neighbour's sign (-100 came out as 65436) and every text column after a
 * GEOMETRY took its neighbour's charset (text came out as base64).
 */
#include "capture/decoder/binlog.h"
#include "error.h"
#include "harness.h"
#include "sl_test.h"

#include <stdio.h>
#include <stdlib.h>

static sl_buf_t rows_json;

static int collect_cb(void *ctx, const sl_change_t *chg) {
    (void)ctx;
    if (chg->kind == SL_CHANGE_ROW && chg->table_len == 1 &&
        chg->table[0] == 't') {
        sl_buf_append(&rows_json, chg->json, chg->json_len);
        sl_buf_append_u8(&rows_json, '\n');
    }
    return 0;
}

SL_TEST(capture_year_and_geometry_keep_later_columns_right) {
    MYSQL *mysql = sl_harness_mysql("SOURCE", NULL);
    sl_harness_exec(mysql, "DROP DATABASE IF EXISTS meta_order");
    sl_harness_exec(mysql, "CREATE DATABASE meta_order");
    sl_harness_exec(mysql, "FLUSH BINARY LOGS");
    SL_CHECK_OK(mysql_query(mysql, "SHOW MASTER STATUS"));
    MYSQL_RES *res = mysql_store_result(mysql);
    MYSQL_ROW row = mysql_fetch_row(res);
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", getenv("SL_SOURCE_DATADIR"), row[0]);
    uint64_t start = strtoull(row[1], NULL, 10);
    mysql_free_result(res);
    sl_harness_exec(mysql,
                    "CREATE TABLE meta_order.t (id INT, y YEAR, "
                    "small SMALLINT, g POINT, txt TEXT CHARACTER SET utf8mb4, "
                    "u INT UNSIGNED, v VARCHAR(10) CHARACTER SET latin1, "
                    "y2 YEAR, big BIGINT UNSIGNED)");
    sl_harness_exec(mysql,
                    "INSERT INTO meta_order.t VALUES (1, 2024, -100, "
                    "POINT(1, 2), 'h\xc3\xa9llo', 4000000000, "
                    "_utf8mb4'caf\xc3\xa9', 1999, 18446744073709551615)");
    sl_binlog_t *dec;
    SL_CHECK_OK(sl_binlog_new(&dec, NULL, collect_cb, NULL));
    SL_CHECK_OK(sl_binlog_set_file(dec, "meta_order"));
    int rc = sl_binlog_read_file(dec, path, start, 0);
    if (rc != 0)
        sl_test_fail(__FILE__, __LINE__, "%s", sl_binlog_errmsg(dec));
    const char *text;
    SL_CHECK_OK(sl_buf_cstr(&rows_json, &text));
    if (strstr(text, "\"small\":-100,") == NULL ||
        strstr(text, "\"txt\":\"h\xc3\xa9llo\"") == NULL ||
        strstr(text, "\"u\":4000000000,") == NULL ||
        strstr(text, "\"v\":\"caf\xc3\xa9\"") == NULL ||
        strstr(text, "\"y2\":1999,") == NULL ||
        strstr(text, "\"big\":18446744073709551615") == NULL)
        sl_test_fail(__FILE__, __LINE__, "wrong values: %s", text);
    sl_buf_free(&rows_json);
    sl_binlog_free(dec);
    sl_harness_exec(mysql, "DROP DATABASE meta_order");
    mysql_close(mysql);
}
