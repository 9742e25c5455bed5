/* The snapshot cursor (capture/snapshot/snapshot.h) with no server: what a
 * checkpoint's cursor restores, the sequences it reserved, what a signal
 * row queues, and damaged cursors refused. The worker thread starts but is
 * never given a chunk, so it never connects. */
#include "capture/snapshot/snapshot.h"
#include "error.h"
#include "sl_test.h"
#include "test_capture_snapshot_lib.h"

#include <string.h>

SL_TEST(snapshot_cursor_restores_and_skips_reserved_sequences) {
    sl_snap_t *snap = snaptest_new(NULL, NULL);
    char err[512];
    uint64_t skip = 9;
    SL_CHECK_OK(sl_snap_restore(snap, NULL, &skip, err, sizeof err));
    SL_CHECK_UINT(skip, 0);
    SL_CHECK(sl_snap_cursor(snap) == NULL);
    SL_CHECK_INT(sl_snap_active(snap), 0);
    const char *cur = "{\"id\":\"abc-1\",\"db\":\"d\",\"table\":\"t\","
                      "\"where\":null,\"last\":[7,\"x\\\"y\"],\"chunk\":3,"
                      "\"rows\":2100,\"reserve\":701,\"all\":true,"
                      "\"queue\":[[\"d\",\"u\",\"a > 1\"]]}";
    SL_CHECK_OK(sl_snap_restore(snap, cur, &skip, err, sizeof err));
    SL_CHECK_UINT(skip, 701);
    SL_CHECK_INT(sl_snap_active(snap), 1);
    /* The cursor handed to the next checkpoint: the same position, the
     * reservation spent. */
    SL_CHECK_STR(sl_snap_cursor(snap),
                 "{\"id\":\"abc-1\",\"db\":\"d\",\"table\":\"t\","
                 "\"where\":null,\"last\":[7,\"x\\\"y\"],\"chunk\":3,"
                 "\"rows\":2100,\"reserve\":0,\"all\":true,"
                 "\"queue\":[[\"d\",\"u\",\"a > 1\"]]}");
    static const char *const bad[] = {
        "[]", "{\"id\":\"a\"}",
        "{\"db\":\"d\",\"table\":\"t\",\"chunk\":0,"
        "\"rows\":0,\"reserve\":0}",
        "{\"id\":\"a\",\"db\":\"d\",\"table\":\"t\",\"chunk\":0,\"rows\":0,"
        "\"reserve\":0,\"queue\":[[\"d\"]]}"};
    snaptest_refuse_cursors(snap, bad, sizeof bad / sizeof bad[0]);
    sl_snap_free(snap);
}

static sl_change_t row_of(const char *db, const char *table, sl_change_op_t op,
                          const char *json) {
    return snaptest_row(db, table, op, "binlog.000001", 0, json);
}

SL_TEST(snapshot_signal_rows_queue_tables) {
    sl_snap_t *snap = snaptest_new(NULL, NULL);
    char err[512];
    int consumed = 0;
    /* Another capture's signal: consumed, nothing queued. */
    sl_change_t chg = row_of(
        "sluice", "signal", SL_OP_INSERT,
        "{\"kind\":\"row\",\"op\":\"insert\",\"after\":{\"id\":1,\"name\":"
        "\"other\",\"type\":\"snapshot\",\"data\":\"{\\\"tables\\\":[["
        "\\\"d\\\",\\\"t\\\"]],\\\"where\\\":null}\"}}");
    SL_CHECK_OK(sl_snap_on_row(snap, &chg, &consumed, err, sizeof err));
    SL_CHECK_INT(consumed, 1);
    SL_CHECK_INT(sl_snap_active(snap), 0);
    /* Ours: d.t queued (d.skip is not captured). */
    chg =
        row_of("sluice", "signal", SL_OP_INSERT,
               "{\"kind\":\"row\",\"op\":\"insert\",\"after\":{\"id\":2,"
               "\"name\":\"cap1\",\"type\":\"snapshot\",\"data\":\"{"
               "\\\"tables\\\":[[\\\"d\\\",\\\"skip\\\"],[\\\"d\\\",\\\"t\\\"]"
               "],\\\"where\\\":\\\"id < 5\\\"}\"}}");
    SL_CHECK_OK(sl_snap_on_row(snap, &chg, &consumed, err, sizeof err));
    SL_CHECK_INT(consumed, 1);
    SL_CHECK_INT(sl_snap_active(snap), 1);
    SL_CHECK(strstr(sl_snap_cursor(snap),
                    "\"db\":\"d\",\"table\":\"t\",\"where\":\"id < 5\"") !=
             NULL);
    /* The watermark table is never published either; other tables are. */
    chg = row_of("sluice", "watermark", SL_OP_UPDATE,
                 "{\"kind\":\"row\",\"op\":\"update\",\"after\":{\"name\":"
                 "\"cap1\",\"mark\":\"m\"}}");
    SL_CHECK_OK(sl_snap_on_row(snap, &chg, &consumed, err, sizeof err));
    SL_CHECK_INT(consumed, 1);
    chg = row_of("d", "t", SL_OP_INSERT,
                 "{\"kind\":\"row\",\"op\":\"insert\",\"after\":{\"id\":1}}");
    SL_CHECK_OK(sl_snap_on_row(snap, &chg, &consumed, err, sizeof err));
    SL_CHECK_INT(consumed, 0);
    sl_snap_free(snap);
}
