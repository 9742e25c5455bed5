/* Unit tests for transaction-boundary tracking (apply/consume.h) and the
 * retry pacing (apply/backoff.h). */
#include "apply/backoff.h"
#include "apply/consume.h"
#include "error.h"
#include "sl_test.h"

static int feed(sl_trxtrack_t *tt, const char *ev) {
    sl_jr_doc_t doc;
    sl_jr_init(&doc);
    if (sl_jr_parse(&doc, ev, strlen(ev)) != 0)
        sl_test_fail(__FILE__, __LINE__, "bad event %s", ev);
    int r = sl_trxtrack_feed(tt, &doc);
    sl_jr_free(&doc);
    return r;
}

#define ROW(id) "{\"kind\":\"row\",\"trx\":{\"seq\":1,\"id\":\"" id "\"}}"

SL_TEST(apply_trx_boundaries) {
    sl_trxtrack_t tt;
    memset(&tt, 0, sizeof tt);
    /* Markers present: begin, rows, commit. */
    SL_CHECK_INT(feed(&tt, "{\"kind\":\"begin\",\"trx\":{\"id\":\"a\"}}"),
                 SL_TRX_NONE);
    SL_CHECK_INT(feed(&tt, ROW("a")), SL_TRX_NONE);
    SL_CHECK_INT(feed(&tt, ROW("a")), SL_TRX_NONE);
    SL_CHECK_INT(feed(&tt, "{\"kind\":\"commit\",\"rows\":2}"),
                 SL_TRX_ENDS_HERE);
    /* No begin marker (MariaDB GTID streams): rows then commit. */
    SL_CHECK_INT(feed(&tt, ROW("b")), SL_TRX_NONE);
    SL_CHECK_INT(feed(&tt, "{\"kind\":\"xa_prepare\",\"rows\":1}"),
                 SL_TRX_ENDS_HERE);
    /* A commit marker missing: the next transaction's first row ends the
     * previous one. */
    SL_CHECK_INT(feed(&tt, ROW("c")), SL_TRX_NONE);
    SL_CHECK_INT(feed(&tt, ROW("d")), SL_TRX_ENDS_BEFORE);
    SL_CHECK_INT(feed(&tt, ROW("d")), SL_TRX_NONE);
    /* DDL is a transaction of its own and ends an open one. */
    SL_CHECK_INT(feed(&tt, "{\"kind\":\"ddl\",\"sql\":\"x\",\"trx\":{\"id\":"
                           "\"e\"}}"),
                 SL_TRX_ENDS_BEFORE | SL_TRX_ENDS_HERE);
    SL_CHECK_INT(feed(&tt, "{\"kind\":\"ddl\",\"sql\":\"x\"}"),
                 SL_TRX_ENDS_HERE);
    /* A begin while a transaction is open ends it. */
    SL_CHECK_INT(feed(&tt, ROW("f")), SL_TRX_NONE);
    SL_CHECK_INT(feed(&tt, "{\"kind\":\"begin\",\"trx\":{\"id\":\"g\"}}"),
                 SL_TRX_ENDS_BEFORE);
    SL_CHECK_INT(feed(&tt, "{\"kind\":\"rollback\",\"rows\":0}"),
                 SL_TRX_ENDS_HERE);
}

SL_TEST(apply_backoff_grows_with_jitter_and_resets) {
    sl_backoff_t bo;
    sl_backoff_init(&bo, 100, 1000);
    uint32_t expect_max[] = {100, 200, 400, 800, 1000, 1000};
    for (int i = 0; i < 6; i++) {
        uint32_t d = sl_backoff_next(&bo);
        SL_CHECK(d >= expect_max[i] / 2 && d <= expect_max[i]);
    }
    SL_CHECK_UINT(bo.attempts, 6);
    sl_backoff_reset(&bo);
    SL_CHECK_UINT(bo.attempts, 0);
    uint32_t d = sl_backoff_next(&bo);
    SL_CHECK(d >= 50 && d <= 100);
    /* A stop request ends a sleep at once. */
    volatile int stop = 1;
    sl_backoff_init(&bo, 60000, 60000);
    SL_CHECK(sl_backoff_sleep(&bo, &stop) != 0);
}
