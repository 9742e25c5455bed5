/*
 * libFuzzer target for capture's schema-history loader
 * (capture/schema/history.c): the records capture reads back from the broker at
 * start-up to rebuild the table definitions in force at its checkpoint.
 *
 * Input: byte 0 picks the resume point (the loader ignores records at or
 * past it); the rest is a sequence of records separated by newlines (the
 * writer never puts a raw newline inside a record), fed in order until
 * the first error, as capture does.
 *
 * Besides ASan/UBSan's checks it asserts the contract: each feed returns
 * 0, SL_ECORRUPT (with a message) or SL_ENOMEM; the last record applied
 * lies before the resume point; and the rebuilt history, written as a
 * snapshot record (sl_history_snapshot_record) and loaded into a fresh
 * loader, gives the same schema (compared as JSON; a second generation
 * when the first replaced invalid UTF-8).
 */
#include "capture/schema/history.h"

#include "buf.h"
#include "error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int reload(const sl_schema_t *schema, sl_buf_t *json) {
    sl_buf_t rec = SL_BUF_INIT;
    sl_history_loader_t ld;
    int rc = sl_history_snapshot_record(schema, "binlog.000001", 4, &rec);
    if (rc == 0 &&
        (rc = sl_history_loader_init(&ld, "binlog.000001", 5)) == 0) {
        rc = sl_history_loader_feed(&ld, rec.data, rec.len);
        if (rc != 0 && rc != SL_ENOMEM)
            abort(); /* A snapshot the writer made must load. */
        if (rc == 0 && (!ld.have_snapshot || ld.applied != 0))
            abort();
        if (rc == 0)
            rc = sl_schema_to_json(ld.schema, json);
        sl_history_loader_free(&ld);
    }
    sl_buf_free(&rec);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    static const char *const files[] = {"binlog.000002", "binlog.000010",
                                        "binlog.1000000", "b"};
    const char *until = files[data[0] & 3];
    uint64_t until_pos = (data[0] & 0x80) ? UINT64_MAX : (uint64_t)data[0] * 97;
    sl_history_loader_t ld;
    if (sl_history_loader_init(&ld, until, until_pos) != 0)
        return 0;
    const uint8_t *p = data + 1, *end = data + size;
    while (p < end) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        uint8_t *rec = malloc(len ? len : 1);
        if (rec == NULL)
            break;
        memcpy(rec, p, len);
        ld.err[0] = '\0';
        int rc = sl_history_loader_feed(&ld, rec, len);
        free(rec);
        if (rc != 0 && rc != SL_ECORRUPT && rc != SL_ENOMEM)
            abort();
        if (rc == SL_ECORRUPT && ld.err[0] == '\0')
            abort();
        if (rc != 0)
            break;
        if (nl == NULL)
            break;
        p = nl + 1;
    }
    if (ld.last_file[0] != '\0' &&
        sl_history_cmp(ld.last_file, ld.last_pos, until, until_pos) >= 0)
        abort();
    sl_buf_t j1 = SL_BUF_INIT, j2 = SL_BUF_INIT, j3 = SL_BUF_INIT;
    if (sl_schema_to_json(ld.schema, &j1) == 0 && reload(ld.schema, &j2) == 0 &&
        (j1.len != j2.len || memcmp(j1.data, j2.data, j1.len) != 0)) {
        sl_schema_t *s2 = NULL;
        char err[256];
        if (sl_schema_new(&s2) != 0 ||
            sl_schema_from_json(s2, (const char *)j2.data, j2.len, err,
                                sizeof err) != 0 ||
            reload(s2, &j3) != 0 || j2.len != j3.len ||
            memcmp(j2.data, j3.data, j2.len) != 0)
            abort();
        sl_schema_free(s2);
    }
    sl_buf_free(&j1);
    sl_buf_free(&j2);
    sl_buf_free(&j3);
    sl_history_loader_free(&ld);
    return 0;
}
