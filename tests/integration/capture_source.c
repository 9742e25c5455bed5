/*
 * The replication connection against the harness's real MariaDB: raw
 * events arrive in order with contiguous positions and valid CRCs, a
 * connection killed on the server resumes at the exact next event, a
 * purged position and bad credentials are precise errors, silence is
 * detected, and preflight names what to change.
 */
#include "capture/preflight.h"
#include "capture/source.h"
#include "error.h"
#include "harness.h"
#include "sl_test.h"

#include <stdlib.h>
#include <unistd.h>
#include <zlib.h>

#define EV_XID 16
#define EV_HEARTBEAT 27
#define EV_WRITE_ROWS_V1 23
#define EV_MARIA_GTID 162

static sl_source_opts_t base_opts(void) {
    sl_source_opts_t opts;
    memset(&opts, 0, sizeof opts);
    opts.host = "127.0.0.1";
    opts.port = sl_harness_port("SOURCE");
    opts.user = getenv("SL_SOURCE_REPL_USER");
    opts.password = sl_harness_password("SOURCE");
    opts.server_id = 1001;
    opts.heartbeat_ms = 1000;
    opts.timeout_ms = 10000;
    return opts;
}

typedef struct {
    char file[256];
    uint64_t pos;
} coord_t;

static coord_t master_status(MYSQL *mysql) {
    coord_t c;
    SL_CHECK_OK(mysql_query(mysql, "SHOW MASTER STATUS"));
    MYSQL_RES *res = mysql_store_result(mysql);
    MYSQL_ROW row = mysql_fetch_row(res);
    SL_CHECK(row != NULL);
    snprintf(c.file, sizeof c.file, "%s", row[0]);
    c.pos = strtoull(row[1], NULL, 10);
    mysql_free_result(res);
    return c;
}

static void setup_table(MYSQL *mysql) {
    sl_harness_exec(mysql, "CREATE DATABASE IF NOT EXISTS src_test");
    sl_harness_exec(mysql, "CREATE TABLE IF NOT EXISTS src_test.t "
                           "(id INT PRIMARY KEY, v VARCHAR(32))");
}

/* Reads events until n XIDs were seen, checking order and checksums. */
static int read_xids(sl_source_t *src, int n, coord_t *next, int *rows) {
    char err[512];
    int xids = 0;
    uint64_t expect = 0;
    const char *expect_file = NULL;
    for (int guard = 0; xids < n && guard < 100000; guard++) {
        const uint8_t *ev;
        size_t len;
        const char *file;
        uint64_t pos;
        int rc = sl_source_next(src, &ev, &len, &file, &pos, err, sizeof err);
        if (rc != 0)
            sl_test_fail(__FILE__, __LINE__, "next: %s (%s)", err,
                         sl_errname(rc));
        /* Every event carries a CRC32 of everything before it. */
        uint32_t crc = (uint32_t)crc32(0, ev, (uInt)(len - 4));
        SL_CHECK_UINT(crc, (uint32_t)ev[len - 4] | (uint32_t)ev[len - 3] << 8 |
                               (uint32_t)ev[len - 2] << 16 |
                               (uint32_t)ev[len - 1] << 24);
        if (pos != 0) {
            if (expect != 0 && strcmp(expect_file, file) == 0)
                SL_CHECK_UINT(pos, expect);
            expect = pos + len;
            expect_file = file;
        }
        if (ev[4] == EV_XID)
            xids++;
        if (ev[4] == EV_WRITE_ROWS_V1 || ev[4] == 30)
            (*rows)++;
    }
    const char *file;
    sl_source_position(src, &file, &next->pos);
    snprintf(next->file, sizeof next->file, "%s", file);
    return xids;
}

SL_TEST(source_streams_events_in_order) {
    MYSQL *mysql = sl_harness_mysql("SOURCE", NULL);
    setup_table(mysql);
    sl_harness_exec(mysql, "FLUSH BINARY LOGS");
    coord_t start = master_status(mysql);
    for (int i = 0; i < 10; i++) {
        char sql[128];
        snprintf(sql, sizeof sql,
                 "INSERT INTO src_test.t VALUES (%d,'a'),(%d,'b')", i * 2 + 1,
                 i * 2 + 2);
        sl_harness_exec(mysql, sql);
    }
    sl_source_opts_t opts = base_opts();
    opts.file = start.file;
    opts.pos = start.pos;
    sl_source_t *src;
    char err[512];
    int rc = sl_source_open(&src, &opts, err, sizeof err);
    if (rc != 0)
        sl_test_fail(__FILE__, __LINE__, "open: %s", err);
    SL_CHECK_INT(sl_source_flavor(src), SL_SOURCE_MARIADB);
    coord_t next;
    int rows = 0;
    SL_CHECK_INT(read_xids(src, 10, &next, &rows), 10);
    SL_CHECK_INT(rows, 10);
    coord_t end = master_status(mysql);
    SL_CHECK_STR(next.file, end.file);
    SL_CHECK_UINT(next.pos, end.pos);
    sl_source_close(src);
    sl_harness_exec(mysql, "DELETE FROM src_test.t");
    mysql_close(mysql);
}

SL_TEST(source_resumes_after_server_side_kill) {
    MYSQL *mysql = sl_harness_mysql("SOURCE", NULL);
    setup_table(mysql);
    coord_t start = master_status(mysql);
    sl_harness_exec(mysql, "INSERT INTO src_test.t VALUES (100,'x')");
    sl_source_opts_t opts = base_opts();
    opts.file = start.file;
    opts.pos = start.pos;
    sl_source_t *src;
    char err[512];
    SL_CHECK_OK(sl_source_open(&src, &opts, err, sizeof err));
    coord_t next;
    int rows = 0;
    SL_CHECK_INT(read_xids(src, 1, &next, &rows), 1);
    /* Kill the dump thread on the server, as a DBA or a failover would. */
    char *id = sl_harness_query_value(
        mysql, "SELECT ID FROM information_schema.PROCESSLIST "
               "WHERE COMMAND = 'Binlog Dump' ORDER BY ID DESC LIMIT 1");
    SL_CHECK(id != NULL);
    char sql[128];
    snprintf(sql, sizeof sql, "KILL %s", id);
    free(id);
    sl_harness_exec(mysql, sql);
    sl_harness_exec(mysql, "INSERT INTO src_test.t VALUES (101,'y')");
    const uint8_t *ev;
    size_t len;
    const char *file;
    uint64_t pos;
    /* Heartbeats may still be buffered; the break shows within a few. */
    for (int i = 0; i < 50; i++) {
        int rc = sl_source_next(src, &ev, &len, &file, &pos, err, sizeof err);
        if (rc != 0) {
            if (rc != SL_ECONN && rc != SL_ECLOSED)
                sl_test_fail(__FILE__, __LINE__, "%s: %s", sl_errname(rc), err);
            break;
        }
        /* Events still in flight are fine, but must not skip ahead. */
        if (pos != 0)
            SL_CHECK_UINT(pos, next.pos);
        if (pos != 0)
            next.pos = pos + len;
    }
    sl_source_close(src);
    /* Resume exactly where the last complete event ended. */
    opts.file = next.file;
    opts.pos = next.pos;
    SL_CHECK_OK(sl_source_open(&src, &opts, err, sizeof err));
    rows = 0;
    coord_t after;
    SL_CHECK_INT(read_xids(src, 1, &after, &rows), 1);
    SL_CHECK_INT(rows, 1);
    SL_CHECK_UINT(after.pos, master_status(mysql).pos);
    sl_source_close(src);
    sl_harness_exec(mysql, "DELETE FROM src_test.t");
    mysql_close(mysql);
}

SL_TEST(source_starts_from_a_mariadb_gtid) {
    MYSQL *mysql = sl_harness_mysql("SOURCE", NULL);
    setup_table(mysql);
    sl_harness_exec(mysql, "INSERT INTO src_test.t VALUES (200,'g1')");
    char *gtid = sl_harness_query_value(mysql, "SELECT @@gtid_binlog_pos");
    SL_CHECK(gtid != NULL);
    sl_harness_exec(mysql, "INSERT INTO src_test.t VALUES (201,'g2')");
    char *gtid2 = sl_harness_query_value(mysql, "SELECT @@gtid_binlog_pos");
    sl_source_opts_t opts = base_opts();
    opts.gtid = gtid;
    sl_source_t *src;
    char err[512];
    int rc = sl_source_open(&src, &opts, err, sizeof err);
    if (rc != 0)
        sl_test_fail(__FILE__, __LINE__, "open: %s", err);
    /* The first transaction delivered is the one after the GTID given. */
    const uint8_t *ev;
    size_t len;
    const char *file;
    uint64_t pos;
    int found = 0;
    for (int i = 0; i < 200 && !found; i++) {
        SL_CHECK_OK(
            sl_source_next(src, &ev, &len, &file, &pos, err, sizeof err));
        if (ev[4] == EV_MARIA_GTID) {
            /* Body: seq_no u64le, domain u32le. */
            unsigned long long seq = 0;
            for (int b = 7; b >= 0; b--)
                seq = seq << 8 | ev[19 + b];
            const char *dash = strrchr(gtid2, '-');
            SL_CHECK_UINT(seq, strtoull(dash + 1, NULL, 10));
            found = 1;
        }
    }
    SL_CHECK(found);
    sl_source_close(src);
    free(gtid);
    free(gtid2);
    sl_harness_exec(mysql, "DELETE FROM src_test.t");
    mysql_close(mysql);
}

SL_TEST(source_reports_purged_position_and_bad_credentials) {
    sl_source_opts_t opts = base_opts();
    opts.file = "binlog.999999";
    opts.pos = 4;
    sl_source_t *src;
    char err[512];
    int rc = sl_source_open(&src, &opts, err, sizeof err);
    if (rc == 0) {
        /* The server reports it with the first read. */
        const uint8_t *ev;
        size_t len;
        const char *file;
        uint64_t pos;
        rc = sl_source_next(src, &ev, &len, &file, &pos, err, sizeof err);
        sl_source_close(src);
    }
    if (rc != SL_EGONE)
        sl_test_fail(__FILE__, __LINE__, "%s: %s", sl_errname(rc), err);
    SL_CHECK(strstr(err, "binlog.999999") != NULL);
    SL_CHECK(strstr(err, "purged") != NULL);

    opts = base_opts();
    opts.password = "wrong-password";
    rc = sl_source_open(&src, &opts, err, sizeof err);
    SL_CHECK_INT(rc, SL_EAUTH);
    SL_CHECK(strstr(err, "wrong-password") == NULL);

    opts = base_opts();
    opts.port = sl_harness_free_port();
    rc = sl_source_open(&src, &opts, err, sizeof err);
    SL_CHECK_INT(rc, SL_ECONN);
}

SL_TEST(source_heartbeats_and_silence) {
    sl_source_opts_t opts = base_opts();
    opts.heartbeat_ms = 300;
    opts.timeout_ms = 3000;
    sl_source_t *src;
    char err[512];
    SL_CHECK_OK(sl_source_open(&src, &opts, err, sizeof err));
    const uint8_t *ev;
    size_t len;
    const char *file;
    uint64_t pos;
    int heartbeats = 0;
    for (int i = 0; i < 50 && heartbeats < 2; i++) {
        SL_CHECK_OK(
            sl_source_next(src, &ev, &len, &file, &pos, err, sizeof err));
        if (ev[4] == EV_HEARTBEAT) {
            SL_CHECK_UINT(pos, 0);
            heartbeats++;
        }
    }
    SL_CHECK_INT(heartbeats, 2);
    sl_source_close(src);

    /* No heartbeats and nothing written: silence becomes a timeout. */
    opts.heartbeat_ms = 0;
    opts.timeout_ms = 2000;
    SL_CHECK_OK(sl_source_open(&src, &opts, err, sizeof err));
    int rc = 0;
    for (int i = 0; i < 20 && rc == 0; i++)
        rc = sl_source_next(src, &ev, &len, &file, &pos, err, sizeof err);
    if (rc != SL_ETIMEDOUT)
        sl_test_fail(__FILE__, __LINE__, "%s: %s", sl_errname(rc), err);
    SL_CHECK(strstr(err, "no event and no heartbeat") != NULL);
    sl_source_close(src);
}

SL_TEST(gtid_set_encoding) {
    sl_buf_t buf = SL_BUF_INIT;
    SL_CHECK_OK(sl_source_encode_gtid_set(
        "3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5:7", &buf));
    SL_CHECK_UINT(buf.len, 8 + 16 + 8 + 2 * 16);
    SL_CHECK_UINT(buf.data[0], 1);
    SL_CHECK_UINT(buf.data[8], 0x3E);
    SL_CHECK_UINT(buf.data[8 + 16], 2);
    SL_CHECK_UINT(buf.data[8 + 16 + 8], 1);     /* start 1 */
    SL_CHECK_UINT(buf.data[8 + 16 + 8 + 8], 6); /* end 5 + 1 */
    SL_CHECK_UINT(buf.data[8 + 16 + 8 + 16], 7);
    SL_CHECK_UINT(buf.data[8 + 16 + 8 + 24], 8);
    sl_buf_reset(&buf);
    SL_CHECK_INT(sl_source_encode_gtid_set("nonsense", &buf), SL_EINVAL);
    SL_CHECK_INT(sl_source_encode_gtid_set(
                     "3E11FA47-71CA-11E1-9E33-C80AA9429562:5-1", &buf),
                 SL_EINVAL);
    SL_CHECK_INT(sl_source_encode_gtid_set(
                     "3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5:tag", &buf),
                 SL_EINVAL);
    SL_CHECK_UINT(buf.len, 0);
    sl_buf_free(&buf);
}

SL_TEST(preflight_names_what_to_change) {
    sl_source_opts_t opts = base_opts();
    sl_buf_t report = SL_BUF_INIT;
    sl_preflight_result_t result;
    char err[512];
    SL_CHECK_OK(sl_preflight_run(&opts, &report, &result, err, sizeof err));
    SL_CHECK_INT(result.errors, 0);

    /* The source's own server id is refused. */
    opts.server_id = 1;
    sl_buf_reset(&report);
    SL_CHECK_OK(sl_preflight_run(&opts, &report, &result, err, sizeof err));
    SL_CHECK_INT(result.errors, 1);
    const char *text;
    SL_CHECK_OK(sl_buf_cstr(&report, &text));
    SL_CHECK(strstr(text, "--server-id 1 is the source's own") != NULL);

    /* A statement-format source and a user without replication grants. */
    MYSQL *mysql = sl_harness_mysql("SOURCE", NULL);
    sl_harness_exec(mysql, "SET GLOBAL binlog_format = 'STATEMENT'");
    sl_harness_exec(mysql, "SET GLOBAL binlog_row_image = 'MINIMAL'");
    sl_harness_exec(mysql, "CREATE USER IF NOT EXISTS 'weak'@'127.0.0.1' "
                           "IDENTIFIED BY 'weakpw'");
    opts = base_opts();
    opts.user = "weak";
    opts.password = "weakpw";
    sl_buf_reset(&report);
    int rc = sl_preflight_run(&opts, &report, &result, err, sizeof err);
    sl_harness_exec(mysql, "SET GLOBAL binlog_format = 'ROW'");
    sl_harness_exec(mysql, "SET GLOBAL binlog_row_image = 'FULL'");
    sl_harness_exec(mysql, "DROP USER 'weak'@'127.0.0.1'");
    mysql_close(mysql);
    SL_CHECK_OK(rc);
    SL_CHECK_OK(sl_buf_cstr(&report, &text));
    SL_CHECK(strstr(text, "binlog_format is STATEMENT") != NULL);
    SL_CHECK(strstr(text, "binlog_row_image is MINIMAL") != NULL);
    SL_CHECK(strstr(text, "lacks REPLICATION SLAVE") != NULL);
    SL_CHECK(strstr(text, "To fix: SET GLOBAL binlog_format = 'ROW'") != NULL);
    SL_CHECK(result.errors >= 4);
    sl_buf_free(&report);
}
