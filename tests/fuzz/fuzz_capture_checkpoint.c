/*
 * libFuzzer target for capture's checkpoint records (capture/publish.c,
 * sl_checkpoint_decode): the JSON line capture reads back from the broker
 * at start-up to know where to resume.
 *
 * The input is one record. Besides ASan/UBSan's checks it asserts the
 * contract: the result is 0 or SL_ECORRUPT; a decoded checkpoint's
 * strings are NUL-terminated inside their arrays; and a decoded checkpoint
 * encodes (sl_checkpoint_encode) to a record that decodes back to the
 * same file, position, GTID, sequence and time, and (the snapshot cursor,
 * sl_checkpoint_decode_snap) the same "snap" text.
 */
#include "capture/publish.h"

#include "buf.h"
#include "error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* An exact-size copy, so ASan sees any read past the end. */
    uint8_t *rec = malloc(size ? size : 1);
    if (rec == NULL)
        return 0;
    memcpy(rec, data, size);
    sl_checkpoint_t cp;
    sl_buf_t snap = SL_BUF_INIT;
    int rc = sl_checkpoint_decode_snap(rec, size, &cp, &snap);
    free(rec);
    if (rc != 0 && rc != SL_ECORRUPT)
        abort();
    if (rc != 0) {
        sl_buf_free(&snap);
        return 0;
    }
    if (memchr(cp.file, '\0', sizeof cp.file) == NULL ||
        memchr(cp.gtid, '\0', sizeof cp.gtid) == NULL)
        abort();
    sl_buf_t out = SL_BUF_INIT;
    if (sl_checkpoint_encode(&cp, &out) != 0)
        abort();
    sl_checkpoint_t back;
    sl_buf_t snap2 = SL_BUF_INIT;
    if (sl_checkpoint_decode_snap(out.data, out.len, &back, &snap2) != 0 ||
        strcmp(back.file, cp.file) != 0 || strcmp(back.gtid, cp.gtid) != 0 ||
        back.pos != cp.pos || back.next_seq != cp.next_seq ||
        back.ts != cp.ts || (back.snap == NULL) != (cp.snap == NULL) ||
        (cp.snap != NULL && strcmp(back.snap, cp.snap) != 0))
        abort();
    sl_buf_free(&out);
    sl_buf_free(&snap);
    sl_buf_free(&snap2);
    return 0;
}
