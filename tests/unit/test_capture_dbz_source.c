/*
 * The debezium format's source.thread and source.query, from real-server
 * binlogs in the fixtures directory: thread is the thread id of the
 * transaction's BEGIN query event (MySQL writes one; a MariaDB GTID
 * transaction has none, so null); query is the statement of the
 * ROWS_QUERY (MySQL) or ANNOTATE_ROWS (MariaDB) event before the rows,
 * written only with opts.format_query (Debezium's include.query), null
 * otherwise. The expected values are what mariadb-binlog prints for the
 * same files (thread_id=, the Rows_query / Annotate_rows text).
 */
#include "capture/decoder/binlog.h"
/* The shared test JSON reader; its schema validator is not used here. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "test_capture_lib.h"
#pragma GCC diagnostic pop

#include "sl_test.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    ct_node_t *src[8]; /* The rows' "source" objects' events. */
    size_t n;
} rows_t;

static int row_cb(void *ctx, const sl_change_t *chg) {
    rows_t *r = ctx;
    if (chg->kind != SL_CHANGE_ROW || r->n == 8)
        return 0;
    ct_node_t *ev = ct_parse(chg->json, chg->json_len);
    SL_CHECK(ev != NULL);
    r->src[r->n++] = ev;
    return 0;
}

/* Decodes fixture rel in the debezium format; returns the row count. */
static size_t decode(const char *rel, int query, rows_t *r) {
    const char *root = sl_test_fixtures();
    if (root == NULL)
        SL_SKIP("fixtures directory absent");
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    sl_binlog_opts_t bo = {.format = SL_FORMAT_DEBEZIUM, .format_query = query};
    sl_binlog_t *dec;
    memset(r, 0, sizeof *r);
    SL_CHECK_OK(sl_binlog_new(&dec, &bo, row_cb, r));
    if (sl_binlog_read_file(dec, path, 4, 0) != 0)
        sl_test_fail(__FILE__, __LINE__, "%s", sl_binlog_errmsg(dec));
    sl_binlog_free(dec);
    return r->n;
}

static void rows_free(rows_t *r) {
    for (size_t i = 0; i < r->n; i++)
        ct_free(r->src[i]);
}

static const ct_node_t *source(const rows_t *r, size_t i, const char *key) {
    const ct_node_t *s = ct_get(r->src[i], "source");
    SL_CHECK(s != NULL);
    const ct_node_t *v = ct_get(s, key);
    SL_CHECK(v != NULL);
    return v;
}

SL_TEST(debezium_source_thread_and_query_mysql) {
    static const char rel[] =
        "mysql-cdc-rs/tests/events/5.7/30_write_rows_v2/log.bin";
    rows_t r;
    /* Without include.query: the thread, no query. */
    SL_CHECK(decode(rel, 0, &r) == 1);
    SL_CHECK(source(&r, 0, "thread")->type == CT_NUM);
    SL_CHECK_STR(source(&r, 0, "thread")->s, "10");
    SL_CHECK(source(&r, 0, "query")->type == CT_NULL);
    rows_free(&r);
    /* With it: the Rows_query text. */
    SL_CHECK(decode(rel, 1, &r) == 1);
    SL_CHECK_STR(source(&r, 0, "thread")->s, "10");
    SL_CHECK(source(&r, 0, "query")->type == CT_STR);
    SL_CHECK_STR(source(&r, 0, "query")->s,
                 "INSERT INTO `boxercrab` (`title`) VALUES ('abcde')");
    rows_free(&r);
}

SL_TEST(debezium_source_thread_and_query_mariadb) {
    static const char rel[] = "rust_mysql_common/test-data/binlogs/"
                              "mariadb-bin.000001";
    rows_t r;
    size_t n = decode(rel, 1, &r);
    SL_CHECK(n == 2);
    for (size_t i = 0; i < n; i++) {
        /* A MariaDB GTID transaction has no BEGIN query event. */
        SL_CHECK(source(&r, i, "thread")->type == CT_NULL);
        const ct_node_t *q = source(&r, i, "query");
        SL_CHECK(q->type == CT_STR);
        SL_CHECK_STR(q->s, "insert into outbox (topic, event_type, event) "
                           "values ('foo', 'JSON', '{\"foo\":1}')");
    }
    rows_free(&r);
    SL_CHECK(decode(rel, 0, &r) == n);
    SL_CHECK(source(&r, 0, "query")->type == CT_NULL);
    rows_free(&r);
}
