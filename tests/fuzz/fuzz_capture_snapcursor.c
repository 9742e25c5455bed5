/*
 * libFuzzer target for the snapshot cursor (capture/snapshot/snapshot.h,
 * sl_snap_restore): the "snap" text of a checkpoint, which capture reads
 * back at start-up and at every new replication session to resume a
 * snapshot, the rules it covers, a pending join and a pending copy.
 *
 * The input is one cursor text. Besides ASan/UBSan's checks it asserts
 * the contract: the result is 0 or SL_ECORRUPT (SL_ENOMEM aside); and a
 * restored cursor renders (sl_snap_cursor) to a text that restores again
 * and renders the same. The worker thread starts once and is never given
 * a chunk, so nothing connects anywhere.
 */
#include "capture/snapshot/snapshot.h"

#include "error.h"
#include "log.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int want(void *ctx, const char *db, const char *table) {
    (void)ctx;
    (void)db;
    (void)table;
    return 1;
}

static int want_col(void *ctx, const char *db, const char *table,
                    const char *col) {
    (void)ctx;
    (void)db;
    (void)table;
    (void)col;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static sl_snap_t *snap;
    if (snap == NULL) {
        sl_log_set_level(SL_LOG_ERROR);
        sl_snap_opts_t o = {.host = "127.0.0.1",
                            .user = "u",
                            .port = 1,
                            .name = "fuzz",
                            .cover = "{\"include\":[],\"exclude\":[]}",
                            .want_table = want,
                            .want_column = want_col};
        if (sl_snap_new(&snap, &o) != 0)
            abort();
    }
    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char err[512];
    uint64_t skip;
    int rc = sl_snap_restore(snap, text, &skip, err, sizeof err);
    free(text);
    if (rc != 0 && rc != SL_ECORRUPT && rc != SL_ENOMEM)
        abort();
    if (rc != 0)
        return 0;
    const char *cur = sl_snap_cursor(snap);
    char *first = cur ? strdup(cur) : NULL;
    if (cur != NULL && first == NULL)
        return 0;
    if (sl_snap_restore(snap, first, &skip, err, sizeof err) != 0 || skip != 0)
        abort();
    cur = sl_snap_cursor(snap);
    if ((cur == NULL) != (first == NULL) ||
        (cur != NULL && strcmp(cur, first) != 0))
        abort();
    free(first);
    return 0;
}
