/* Unit tests for transaction-boundary tracking (apply/consume.h) and the
 * retry pacing (lib/backoff.h). */
#include "apply/consume.h"
#include "apply/event.h"
#include "backoff.h"
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

/* Snapshot rows and markers belong to no transaction: each is a unit of
 * its own, never waiting for a commit, and ends an open transaction
 * before it (as a row of another transaction does). */
SL_TEST(apply_trx_snapshot_rows_are_units) {
    sl_trxtrack_t tt;
    memset(&tt, 0, sizeof tt);
    const int unit = SL_TRX_ENDS_HERE | SL_TRX_OUTSIDE;
    SL_CHECK_INT(feed(&tt, "{\"kind\":\"snapshot_start\",\"db\":\"d\","
                           "\"table\":\"t\",\"snapshot\":{\"id\":\"s\"}}"),
                 unit);
    SL_CHECK_INT(feed(&tt, "{\"kind\":\"row\",\"op\":\"read\"}"), unit);
    SL_CHECK_INT(feed(&tt, "{\"kind\":\"row\",\"op\":\"read\"}"), unit);
    SL_CHECK_INT(feed(&tt, "{\"kind\":\"begin\",\"trx\":{\"id\":\"a\"}}"),
                 SL_TRX_NONE);
    SL_CHECK_INT(feed(&tt, ROW("a")), SL_TRX_NONE);
    SL_CHECK_INT(feed(&tt, "{\"kind\":\"commit\",\"rows\":1}"),
                 SL_TRX_ENDS_HERE);
    SL_CHECK_INT(feed(&tt, "{\"kind\":\"row\",\"op\":\"read\"}"), unit);
    /* A transaction whose commit is missing ends before a read row. */
    SL_CHECK_INT(feed(&tt, ROW("b")), SL_TRX_NONE);
    SL_CHECK_INT(feed(&tt, "{\"kind\":\"row\",\"op\":\"read\"}"),
                 unit | SL_TRX_ENDS_BEFORE);
    SL_CHECK_INT(feed(&tt, "{\"kind\":\"snapshot_done\",\"db\":\"d\","
                           "\"table\":\"t\",\"snapshot\":{\"id\":\"s\"}}"),
                 unit);
    /* Lookalike kinds are not markers. */
    SL_CHECK_INT(feed(&tt, "{\"kind\":\"snapshot_donex\"}"), SL_TRX_NONE);
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

/* The exact schedules of the broker client's reconnect (100 ms doubling
 * to 2 s) and capture's broker pauses (ten of 200 ms, then 1 s; a refused
 * put: 200 ms doubling to 5 s), as they were before they shared
 * lib/backoff.c. */
SL_TEST(backoff_exact_schedules) {
    sl_backoff_t bo;
    sl_backoff_init_exact(&bo, 100, 2000, 1, 2);
    uint32_t client[] = {100, 200, 400, 800, 1600, 2000, 2000};
    for (int i = 0; i < 7; i++)
        SL_CHECK_UINT(sl_backoff_next(&bo), client[i]);
    sl_backoff_init_exact(&bo, 200, 1000, 10, 5);
    for (int i = 0; i < 13; i++)
        SL_CHECK_UINT(sl_backoff_next(&bo), i < 10 ? 200 : 1000);
    sl_backoff_init_exact(&bo, 200, 5000, 1, 2);
    for (unsigned i = 0; i < 8; i++)
        SL_CHECK_UINT(sl_backoff_next(&bo), i < 5 ? 200u << i : 5000);
    sl_backoff_reset(&bo);
    SL_CHECK_UINT(sl_backoff_next(&bo), 200);
}

/* sl_event_index() turns "kind" and "op" into enums: escaped names too,
 * lookalikes and non-strings are unknown. */
SL_TEST(apply_event_index_kind_and_op_enums) {
    static const struct {
        const char *doc;
        sl_change_kind_t kind;
        sl_change_op_t op;
    } cases[] = {
        {"{\"kind\":\"row\",\"op\":\"update\"}", SL_CHANGE_ROW, SL_OP_UPDATE},
        {"{\"op\":\"delete\",\"kind\":\"r\\u006fw\"}", SL_CHANGE_ROW,
         SL_OP_DELETE},
        {"{\"kind\":\"commit\"}", SL_CHANGE_COMMIT, SL_OP_NONE},
        {"{\"kind\":\"xa_prepare\",\"op\":\"insert\"}", SL_CHANGE_XA_PREPARE,
         SL_OP_INSERT},
        {"{\"kind\":\"ddl\",\"kind\":\"row\"}", SL_CHANGE_DDL, SL_OP_NONE},
        {"{\"kind\":\"rows\",\"op\":\"insertx\"}", SL_CHANGE_UNKNOWN,
         SL_OP_NONE},
        {"{\"kind\":1,\"op\":[\"insert\"]}", SL_CHANGE_UNKNOWN, SL_OP_NONE},
        {"[\"row\"]", SL_CHANGE_UNKNOWN, SL_OP_NONE},
        {"{\"kind\":\"row\",\"op\":\"read\"}", SL_CHANGE_ROW, SL_OP_READ},
        {"{\"kind\":\"snapshot_done\"}", SL_CHANGE_SNAPSHOT_DONE, SL_OP_NONE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sl_jr_doc_t doc;
        sl_jr_init(&doc);
        SL_CHECK_INT(sl_jr_parse(&doc, cases[i].doc, strlen(cases[i].doc)), 0);
        sl_event_t ev;
        sl_event_index(&doc, &ev);
        SL_CHECK_INT((int)ev.kind_id, (int)cases[i].kind);
        SL_CHECK_INT((int)ev.op_id, (int)cases[i].op);
        sl_jr_free(&doc);
    }
}

/* sl_event_index() must find each member where sl_jr_get() does: the
 * first of a repeated name, escaped names too, nothing for lookalikes. */
SL_TEST(apply_event_index_matches_lookups) {
    static const char *docs[] = {
        "{\"kind\":\"row\",\"op\":\"update\",\"db\":\"d\",\"table\":\"t\","
        "\"snapshot\":{\"id\":\"s\"},"
        "\"row\":3,\"pk\":[\"id\"],\"before\":{\"id\":1},\"after\":{\"id\":2},"
        "\"src\":{\"ts\":1},\"trx\":{\"id\":\"x\"}}",
        /* Repeats, escapes, lookalikes (same length and first bytes). */
        "{\"op\":\"insert\",\"op\":\"delete\",\"t\\u0061ble\":\"u\","
        "\"tablf\":1,\"dc\":2,\"pz\":3,\"rox\":4,\"kine\":5,\"positionaL\":6,"
        "\"positional\":true,\"afteR\":7,\"befor\\u0065\":null}",
        "{}",
        "[1,2]",
        "\"kind\"",
    };
    static const char *names[] = {"kind",  "op",  "db",         "table",
                                  "row",   "pk",  "positional", "before",
                                  "after", "src", "trx",        "snapshot"};
    for (size_t d = 0; d < sizeof docs / sizeof docs[0]; d++) {
        sl_jr_doc_t doc;
        sl_jr_init(&doc);
        SL_CHECK_INT(sl_jr_parse(&doc, docs[d], strlen(docs[d])), 0);
        sl_event_t ev;
        sl_event_index(&doc, &ev);
        /* The members in declaration order: all uint32_t. */
        uint32_t slots[sizeof names / sizeof names[0]];
        _Static_assert(offsetof(sl_event_t, kind_id) == sizeof slots,
                       "one slot per name, then the enums");
        memcpy(slots, &ev, sizeof slots);
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
            uint32_t want = sl_jr_type(&doc, 0) == SL_JR_OBJECT
                                ? sl_jr_get(&doc, 0, names[i])
                                : SL_JR_NONE;
            if (slots[i] != want)
                sl_test_fail(__FILE__, __LINE__,
                             "doc %zu member %s: %u, "
                             "lookup %u",
                             d, names[i], slots[i], want);
        }
        sl_jr_free(&doc);
    }
}
