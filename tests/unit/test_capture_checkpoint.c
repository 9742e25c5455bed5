/* Unit tests for capture's checkpoint records (capture/publish.h) and the
 * JSON reader's string copy they use. */
#include "capture/publish.h"
#include "capture/schema/history.h"
#include "error.h"
#include "jsonread.h"
#include "sl_test.h"

SL_TEST(checkpoint_round_trip) {
    sl_checkpoint_t cp, back;
    memset(&cp, 0, sizeof cp);
    snprintf(cp.file, sizeof cp.file, "binlog.000042");
    cp.pos = 4294967295u;
    snprintf(cp.gtid, sizeof cp.gtid, "0-1-77,1-2-\"q\"");
    cp.next_seq = UINT64_MAX - 1;
    cp.ts = 1795311915;
    sl_buf_t buf = SL_BUF_INIT;
    SL_CHECK_OK(sl_checkpoint_encode(&cp, &buf));
    SL_CHECK_OK(sl_checkpoint_decode(buf.data, buf.len, &back));
    SL_CHECK_STR(back.file, cp.file);
    SL_CHECK_STR(back.gtid, cp.gtid);
    SL_CHECK_UINT(back.pos, cp.pos);
    SL_CHECK_UINT(back.next_seq, cp.next_seq);
    SL_CHECK_INT(back.ts, cp.ts);
    sl_buf_free(&buf);
}

SL_TEST(checkpoint_rejects_malformed_records) {
    sl_checkpoint_t cp;
    const char *bad[] = {
        "",
        "[]",
        "{\"file\":\"b.1\",\"pos\":4,\"gtid\":\"\",\"seq\":1}", /* no ts */
        "{\"file\":1,\"pos\":4,\"gtid\":\"\",\"seq\":1,\"ts\":0}",
        "{\"file\":\"b.1\",\"pos\":-4,\"gtid\":\"\",\"seq\":1,\"ts\":0}",
        "{\"file\":\"b.1\",\"pos\":4.5,\"gtid\":\"\",\"seq\":1,\"ts\":0}",
        "{\"file\":\"b.1\",\"pos\":4,\"gtid\":\"\",\"seq\":1,\"ts\":0",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        SL_CHECK_INT(
            sl_checkpoint_decode((const uint8_t *)bad[i], strlen(bad[i]), &cp),
            SL_ECORRUPT);
    /* A file name longer than the record holds is refused, not cut. */
    char big[600];
    memset(big, 'x', 300);
    snprintf(big + 300, sizeof big - 300,
             "\",\"pos\":4,\"gtid\":\"\",\"seq\":1,\"ts\":0}");
    char rec[700];
    snprintf(rec, sizeof rec, "{\"file\":\"%s", big);
    SL_CHECK_INT(sl_checkpoint_decode((const uint8_t *)rec, strlen(rec), &cp),
                 SL_ECORRUPT);
}

SL_TEST(jsonread_copy_str) {
    sl_jr_doc_t doc;
    sl_jr_init(&doc);
    const char *text = "{\"a\":\"x\\u00e9\\n\",\"n\":1}";
    SL_CHECK_OK(sl_jr_parse(&doc, text, strlen(text)));
    char out[8];
    SL_CHECK_OK(sl_jr_copy_str(&doc, sl_jr_get(&doc, 0, "a"), out, sizeof out));
    SL_CHECK_STR(out, "x\xc3\xa9\n");
    char tiny[4];
    SL_CHECK_INT(
        sl_jr_copy_str(&doc, sl_jr_get(&doc, 0, "a"), tiny, sizeof tiny),
        SL_ETOOBIG);
    SL_CHECK_STR(tiny, "");
    SL_CHECK_INT(sl_jr_copy_str(&doc, sl_jr_get(&doc, 0, "n"), out, sizeof out),
                 SL_EINVAL);
    SL_CHECK_INT(sl_jr_copy_str(&doc, SL_JR_NONE, out, sizeof out), SL_EINVAL);
    sl_jr_free(&doc);
}

/* Regression: a record missing a member made the reader index its token
 * array with SL_JR_NONE; corrupt history records are errors, not crashes. */
SL_TEST(history_loader_rejects_malformed_records) {
    sl_history_loader_t ld;
    SL_CHECK_OK(sl_history_loader_init(&ld, "binlog.000009", 4));
    const char *bad[] = {
        "{\"type\":\"ddl\",\"file\":\"binlog.000001\"}",
        "{\"type\":\"ddl\",\"file\":\"binlog.000001\",\"pos\":4}",
        "{\"type\":\"snapshot\",\"file\":\"binlog.000001\",\"pos\":4}",
        "{\"type\":\"what\",\"file\":\"binlog.000001\",\"pos\":4}",
        "{\"file\":\"binlog.000001\",\"pos\":4}",
        "not json",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        SL_CHECK(sl_history_loader_feed(&ld, (const uint8_t *)bad[i],
                                        strlen(bad[i])) != 0);
    /* A good snapshot and DDL still load after the bad ones. */
    const char *snap = "{\"type\":\"snapshot\",\"file\":\"binlog.000001\","
                       "\"pos\":4,\"schema\":";
    sl_buf_t rec = SL_BUF_INIT;
    sl_schema_t *empty;
    SL_CHECK_OK(sl_schema_new(&empty));
    SL_CHECK_OK(sl_buf_append_str(&rec, snap));
    SL_CHECK_OK(sl_schema_to_json(empty, &rec));
    SL_CHECK_OK(sl_buf_append_str(&rec, "}"));
    SL_CHECK_OK(sl_history_loader_feed(&ld, rec.data, rec.len));
    const char *ddl = "{\"type\":\"ddl\",\"file\":\"binlog.000002\",\"pos\":9,"
                      "\"db\":\"d\",\"sql\":\"CREATE TABLE t (id INT "
                      "PRIMARY KEY)\",\"sql_mode\":0}";
    SL_CHECK_OK(sl_history_loader_feed(&ld, (const uint8_t *)ddl, strlen(ddl)));
    SL_CHECK(ld.have_snapshot);
    SL_CHECK(sl_schema_find(ld.schema, "d", 1, "t", 1) != NULL);
    /* Past the resume point: ignored. */
    const char *later = "{\"type\":\"ddl\",\"file\":\"binlog.000010\","
                        "\"pos\":4,\"db\":\"d\",\"sql\":\"DROP TABLE t\","
                        "\"sql_mode\":0}";
    SL_CHECK_OK(
        sl_history_loader_feed(&ld, (const uint8_t *)later, strlen(later)));
    SL_CHECK(sl_schema_find(ld.schema, "d", 1, "t", 1) != NULL);
    sl_schema_free(empty);
    sl_buf_free(&rec);
    sl_history_loader_free(&ld);
}

/* The snapshot cursor travels in the checkpoint as it is (an object), and
 * anything else under "snap" is a damaged record. */
SL_TEST(checkpoint_carries_the_snapshot_cursor) {
    sl_checkpoint_t cp, back;
    memset(&cp, 0, sizeof cp);
    snprintf(cp.file, sizeof cp.file, "binlog.000001");
    cp.pos = 4;
    cp.snap = "{\"id\":\"x-1\",\"db\":\"d\",\"table\":\"t\",\"last\":[1,\"a\"],"
              "\"chunk\":3,\"reserve\":2}";
    sl_buf_t buf = SL_BUF_INIT, snap = SL_BUF_INIT;
    SL_CHECK_OK(sl_checkpoint_encode(&cp, &buf));
    SL_CHECK_OK(sl_checkpoint_decode_snap(buf.data, buf.len, &back, &snap));
    SL_CHECK_STR(back.snap, cp.snap);
    /* The plain decoder leaves it out. */
    SL_CHECK_OK(sl_checkpoint_decode(buf.data, buf.len, &back));
    SL_CHECK(back.snap == NULL);
    /* Without a cursor there is no "snap" member. */
    cp.snap = NULL;
    sl_buf_reset(&buf);
    SL_CHECK_OK(sl_checkpoint_encode(&cp, &buf));
    SL_CHECK(memmem(buf.data, buf.len, "snap", 4) == NULL);
    SL_CHECK_OK(sl_checkpoint_decode_snap(buf.data, buf.len, &back, &snap));
    SL_CHECK(back.snap == NULL);
    const char *bad = "{\"file\":\"b.1\",\"pos\":4,\"gtid\":\"\",\"seq\":1,"
                      "\"ts\":0,\"snap\":[1]}";
    SL_CHECK_INT(sl_checkpoint_decode_snap((const uint8_t *)bad, strlen(bad),
                                           &back, &snap),
                 SL_ECORRUPT);
    sl_buf_free(&buf);
    sl_buf_free(&snap);
}
