/*
 * Regression: in PARTIAL_UPDATE_ROWS the partial-JSON bitmap has one bit
 * per JSON column of the table. The decoder used to advance its index only
 * for JSON columns present and non-NULL in the image, so with a NULL JSON
 * column before a partially updated one it read the wrong bit and decoded
 * the diff as a whole document.
 *
 * The events are built by hand after the format description of a real
 * MySQL 8 binlog (the fixture json.binlog.000001).
 */
#include "bytes.h"
#include "capture/decoder/binlog.h"
#include "error.h"
#include "sl_test.h"
#include "test_capture_binlog.h"

#include <stdio.h>
#include <stdlib.h>

static sl_buf_t out_json;

static int collect_cb(void *ctx, const sl_change_t *chg) {
    (void)ctx;
    if (chg->kind == SL_CHANGE_ROW) {
        sl_buf_append(&out_json, chg->json, chg->json_len);
        sl_buf_append_u8(&out_json, '\n');
    }
    return 0;
}

SL_TEST(partial_json_bitmap_counts_every_json_column) {
    const char *dir = sl_test_fixtures();
    if (dir == NULL)
        SL_SKIP("fixtures absent (../shared/fixtures/binlogs)");
    char path[1024];
    snprintf(path, sizeof path,
             "%s/rust_mysql_common/test-data/binlogs/json.binlog.000001", dir);
    FILE *file = fopen(path, "rb");
    if (file == NULL)
        SL_SKIP("json.binlog.000001 absent");
    uint8_t head[4096];
    size_t got = fread(head, 1, sizeof head, file);
    fclose(file);
    SL_CHECK(got > 4 + 19);
    uint32_t fde_len = sl_get_u32le(head + 4 + 9);
    SL_CHECK(head[4 + 4] == SL_EV_FORMAT_DESCRIPTION && 4 + fde_len <= got);

    sl_binlog_t *dec;
    SL_CHECK_OK(sl_binlog_new(&dec, NULL, collect_cb, NULL));
    SL_CHECK_OK(sl_binlog_set_file(dec, "synthetic.000001"));
    SL_CHECK_OK(sl_binlog_feed(dec, head + 4, fde_len, 4, 1));
    uint32_t pos = 4 + fde_len;

    /* TABLE_MAP d.t (id INT, a JSON NULL, b JSON NULL), names and PK. */
    static const uint8_t tmap[] = {
        1,    0,   0,    0,   0,   0, 1,   0, /* table id 1, flags */
        1,    'd', 0,    1,   't', 0,         /* db, table */
        3,    3,   245,  245,                 /* 3 columns: LONG, JSON, JSON */
        2,    4,   4,                         /* metadata: JSON length bytes */
        0x06,                                 /* a and b nullable */
        1,    1,   0x00,                      /* signedness: id signed */
        4,    7,   2,    'i', 'd', 1, 'a', 1, 'b', /* column names */
        8,    1,   0,                              /* primary key: column 0 */
    };
    sl_buf_t ev = SL_BUF_INIT;
    ct_binlog_event(&ev, SL_EV_TABLE_MAP, tmap, sizeof tmap, pos);
    SL_CHECK_OK(sl_binlog_feed(dec, ev.data, ev.len, pos, 1));
    pos += (uint32_t)ev.len;

    /* Before: id 7, a NULL, b {"k":1}. After: id 7, a NULL, b partially
     * updated by REPLACE $.k = 2 (partial bits: a 0, b 1). */
    static const uint8_t rows[] = {
        1,    0,    0,    0,   0,   0,  1, 0, 2, 0, /* table id, flags, extra
                                                       len */
        3,    0x07, 0x07,    /* columns, before/after present */
        0x02,                /* before nulls: a */
        7,    0,    0,    0, /* id */
        13,   0,    0,    0, /* b: 13 bytes of binary JSON */
        0x00, 1,    0,    12,  0,   11, 0, 1, 0, 5, 1,
        0,    'k',  1,       /* value options: partial JSON */
        0x02,                /* partial bits: b only */
        0x02,                /* after nulls: a */
        7,    0,    0,    0, /* id */
        9,    0,    0,    0, /* b: a 9-byte diff list */
        0,    3,    '$',  '.', 'k', 3,  5, 2, 0, /* REPLACE $.k with int16 2 */
    };
    ct_binlog_event(&ev, SL_EV_PARTIAL_UPDATE_ROWS, rows, sizeof rows, pos);
    int rc = sl_binlog_feed(dec, ev.data, ev.len, pos, 1);
    if (rc != 0)
        sl_test_fail(__FILE__, __LINE__, "%s", sl_binlog_errmsg(dec));
    const char *text;
    SL_CHECK_OK(sl_buf_cstr(&out_json, &text));
    SL_CHECK(
        strstr(text, "\"before\":{\"id\":7,\"a\":null,\"b\":{\"k\": 1}}") !=
        NULL);
    SL_CHECK(strstr(text, "\"after\":{\"id\":7,\"a\":null,\"b\":{\"k\": 2}}") !=
             NULL);
    sl_buf_free(&ev);
    sl_buf_free(&out_json);
    sl_binlog_free(dec);
}
