/*
 * Regression tests for what the fuzz targets (tests/fuzz/) found, one per
 * defect, named for what broke. Each feeds the input that reproduced it to
 * the real code; the same input is also kept in the target's seed corpus.
 */
#include "broker/meta.h"
#include "apply/keytpl.h"
#include "broker/record.h"
#include "broker/store.h"
#include "capture/history.h"
#include "bytes.h"
#include "crc32c.h"
#include "error.h"
#include "log.h"
#include "sl_test.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void put_record(sl_buf_t *out, const uint8_t *body, size_t n) {
    uint8_t *p = sl_buf_extend(out, 8 + n);
    SL_CHECK(p != NULL);
    sl_put_u32be(p, (uint32_t)n);
    sl_put_u32be(p + 4, sl_crc32c(0, body, n));
    memcpy(p + 8, body, n);
}

/* fuzz_broker_meta: a meta.log group-offset record whose group name is
 * longer than the encoder writes (1100 bytes, CRC valid) made
 * sl_meta_load() fail with SL_ETOOBIG, an error that named nothing. It is
 * now a bad record, and since its CRC holds it is damage: start-up stops
 * with SL_EDAMAGED unless damaged data is quarantined. */
SL_TEST(fuzz_meta_long_group_name_does_not_stop_startup) {
    sl_log_set_level(SL_LOG_FATAL);
    const char *dir = sl_test_tmpdir();
    sl_buf_t meta = SL_BUF_INIT;
    SL_CHECK_OK(sl_meta_encode_part(&meta, 1, "t", 1, "p", 1));
    size_t first = meta.len;
    SL_CHECK_OK(sl_meta_encode_offset(&meta, "apply", 5, 1, 3));
    size_t good = meta.len;
    uint8_t body[1 + 4 + 8 + 2 + 1100];
    body[0] = 2;
    sl_put_u32be(body + 1, 1);
    sl_put_u64be(body + 5, 5);
    sl_put_u16be(body + 13, 1100);
    memset(body + 15, 'g', 1100);
    put_record(&meta, body, sizeof body);
    SL_CHECK(first < good);

    char path[1024];
    snprintf(path, sizeof path, "%s/meta.log", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    SL_CHECK(fd >= 0);
    SL_CHECK(write(fd, meta.data, meta.len) == (ssize_t)meta.len);
    close(fd);

    sl_store_opts_t o;
    memset(&o, 0, sizeof o);
    o.dir = dir;
    o.segment_size = 1u << 20;
    o.fsync_mode = SL_FSYNC_NEVER;
    o.max_batch = 1u << 20;
    sl_store_t *store = NULL;
    /* A record whose CRC holds but whose body cannot be applied is damage,
     * not a torn write (docs/broker.md): start-up stops with SL_EDAMAGED
     * and cuts nothing. */
    SL_CHECK_INT(sl_store_open_offline(&store, &o), SL_EDAMAGED);
    SL_CHECK(store == NULL);
    struct stat st;
    SL_CHECK(stat(path, &st) == 0);
    SL_CHECK_UINT((uint64_t)st.st_size, meta.len);
    /* With quarantine the store opens and keeps what came before it. */
    o.quarantine_damaged = 1;
    SL_CHECK_OK(sl_store_open_offline(&store, &o));
    SL_CHECK_UINT(store->nparts, 1);
    uint64_t off = 0;
    SL_CHECK_OK(sl_store_committed(store, "apply", 5, store->parts[1], &off));
    SL_CHECK_UINT(off, 3);
    sl_store_free(store);
    sl_buf_free(&meta);
}

/* fuzz_capture_history: a DDL record without "sql_mode" returned SL_EINVAL
 * and a snapshot record without "schema" returned SL_ECORRUPT with no
 * message; history.h promises SL_ECORRUPT with a message for every record
 * the loader cannot use. */
SL_TEST(fuzz_history_unusable_record_is_ecorrupt_with_message) {
    static const char *const bad[] = {
        "{\"type\":\"ddl\",\"file\":\"binlog.000001\",\"pos\":350,\"db\":\"d\","
        "\"sql\":\"DROP TABLE IF EXISTS `caf\xc3\xa9`\",\"unsigned\":0}",
        "{\"type\":\"ddl\",\"file\":\"binlog.000001\",\"pos\":4,\"sql\":\"x\","
        "\"sql_mode\":-1}",
        "{\"type\":\"snapshot\",\"file\":\"binlog.000001\",\"pos\":4}",
        "{\"type\":\"ddl\",\"file\":\"binlog.000001\",\"pos\":18446744073709551616}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sl_history_loader_t ld;
        SL_CHECK_OK(sl_history_loader_init(&ld, "binlog.000009", 4));
        int rc = sl_history_loader_feed(&ld, (const uint8_t *)bad[i],
                                        strlen(bad[i]));
        if (rc != SL_ECORRUPT)
            sl_test_fail(__FILE__, __LINE__, "bad[%zu] gave %s", i,
                         sl_errname(rc));
        SL_CHECK(ld.err[0] != '\0');
        sl_history_loader_free(&ld);
    }
}

/* fuzz_broker_record: a record whose timestamp delta overflows its batch's
 * base timestamp (INT64_MIN + -4) was signed overflow, undefined behaviour
 * (UBSan). It now wraps, as Kafka's Java longs do; this test fails under
 * `make asan`, which stops on the first UBSan report. */
SL_TEST(fuzz_record_timestamp_delta_overflow_wraps) {
    sl_buf_t out = SL_BUF_INIT;
    sl_msg_t msg = {(const uint8_t *)"v", 1};
    SL_CHECK_OK(sl_record_encode(&out, 1, 0, INT64_MIN, -1, 0, &msg, 1));
    uint8_t *p = out.data;
    /* The record: length varint, attributes, then the timestamp delta (0,
     * one byte) at entry byte 12 + 61 + 2. Zig-zag -4 is 7. */
    SL_CHECK_UINT(p[SL_ENTRY_MIN + 2], 0);
    p[SL_ENTRY_MIN + 2] = 7;
    uint8_t *b = p + SL_ENTRY_HDR;
    uint32_t blen = (uint32_t)out.len - SL_ENTRY_HDR;
    sl_put_u32be(b + 17, sl_crc32c(0, b + 21, blen - 21));
    sl_entry_t e;
    SL_CHECK_OK(sl_record_verify(p, out.len, &e));
    sl_record_iter_t it;
    sl_record_iter_init(&it, &e);
    sl_record_t rec;
    SL_CHECK_INT(sl_record_next(&it, &rec), 1);
    SL_CHECK(rec.ts == INT64_MAX - 3);
    SL_CHECK_INT(sl_record_next(&it, &rec), 0);
    sl_buf_free(&out);
}

/* fuzz_apply_event: a key template whose first piece renders empty (an
 * event with "table":"" and {_table} first) computed NULL + 0 on the
 * empty key buffer, undefined behaviour (clang's UBSan; gcc's, which
 * `make asan` uses, does not flag NULL + 0). The reproducer in
 * tests/fuzz/corpus/fuzz_apply_event/empty-table-name-key fails the fuzz
 * stage of `make test` without the fix; this test pins the key built. */
SL_TEST(fuzz_keytpl_empty_first_piece) {
    sl_keytpl_set_t *set = NULL;
    char err[256];
    static const char keys[] = "d.* {_table}:{id}\n";
    SL_CHECK_OK(sl_keytpl_parse(keys, sizeof keys - 1, &set, err, sizeof err));
    const sl_keytpl_table_t *tt = sl_keytpl_find(set, "d", 1, "", 0);
    SL_CHECK(tt != NULL);
    static const char ev[] = "{\"after\":{\"id\":7}}";
    sl_jr_doc_t doc;
    sl_jr_init(&doc);
    SL_CHECK_OK(sl_jr_parse(&doc, ev, sizeof ev - 1));
    uint32_t after = sl_jr_get(&doc, 0, "after");
    sl_keylist_t kl;
    sl_keylist_init(&kl);
    SL_CHECK_OK(sl_keytpl_eval(tt, &doc, SL_JR_NONE, after, "d", 1, "", 0,
                               &kl, err, sizeof err));
    SL_CHECK_UINT(kl.count, 1);
    size_t klen;
    const char *k = sl_keylist_key(&kl, 0, &klen);
    SL_CHECK_MEM(k, klen, ":7", 2);
    sl_keylist_free(&kl);
    sl_jr_free(&doc);
    sl_keytpl_free(set);
}
