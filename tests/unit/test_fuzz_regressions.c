/*
 * Regression tests for what the fuzz targets (tests/fuzz/) found, one per
 * defect, named for what broke. Each feeds the input that reproduced it to
 * the real code; the same input is also kept in the target's seed corpus.
 */
#include "apply/keytpl.h"
#include "broker/checkpoint.h"
#include "broker/meta.h"
#include "broker/record.h"
#include "broker/store.h"
#include "broker/store_int.h"
#include "bytes.h"
#include "capture/schema/history.h"
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

/* Writes meta.log into dir (its path into path) for an offline open. */
static void write_meta(char *path, size_t size, const char *dir,
                       const sl_buf_t *meta) {
    snprintf(path, size, "%s/meta.log", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    SL_CHECK(fd >= 0);
    SL_CHECK(write(fd, meta->data, meta->len) == (ssize_t)meta->len);
    close(fd);
}

static void offline_opts(sl_store_opts_t *o, const char *dir) {
    memset(o, 0, sizeof *o);
    o->dir = dir;
    o->segment_size = 1u << 20;
    o->fsync_mode = SL_FSYNC_NEVER;
    o->max_batch = 1u << 20;
}

/* fuzz_broker_meta: a meta.log group-offset record whose group name is
 * longer than the encoder writes (1100 bytes, CRC valid) made
 * sl__store_meta_load() fail with SL_ETOOBIG, an error that named
 * nothing. It is now a bad record, and since its CRC holds it is damage:
 * start-up stops with SL_EDAMAGED unless damaged data is quarantined. */
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
    write_meta(path, sizeof path, dir, &meta);
    sl_store_opts_t o;
    offline_opts(&o, dir);
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

/* fuzz_broker_meta: a CRC-valid group-offset record with offset 2^64-1
 * was applied, but 2^64-1 is the store's mark of a slot without an offset,
 * so the group's earlier offset vanished instead of the record being
 * treated as damage. The encoder never writes it (commits of 2^64-1 are
 * refused), so such a record is now damage like any other bad record. */
SL_TEST(fuzz_meta_group_offset_none_mark_is_damage) {
    sl_log_set_level(SL_LOG_FATAL);
    const char *dir = sl_test_tmpdir();
    sl_buf_t meta = SL_BUF_INIT;
    SL_CHECK_OK(sl_meta_encode_part(&meta, 1, "t", 1, "p", 1));
    SL_CHECK_OK(sl_meta_encode_offset(&meta, "apply", 5, 1, 3));
    uint8_t body[1 + 4 + 8 + 2 + 5];
    body[0] = 2;
    sl_put_u32be(body + 1, 1);
    sl_put_u64be(body + 5, UINT64_MAX);
    sl_put_u16be(body + 13, 5);
    memcpy(body + 15, "apply", 5);
    put_record(&meta, body, sizeof body);
    /* A valid record after it makes it damage, not a torn tail. */
    SL_CHECK_OK(sl_meta_encode_part(&meta, 2, "t", 1, "q", 1));

    char path[1024];
    write_meta(path, sizeof path, dir, &meta);
    sl_store_opts_t o;
    offline_opts(&o, dir);
    sl_store_t *store = NULL;
    SL_CHECK_INT(sl_store_open_offline(&store, &o), SL_EDAMAGED);
    SL_CHECK(store == NULL);
    o.quarantine_damaged = 1;
    SL_CHECK_OK(sl_store_open_offline(&store, &o));
    SL_CHECK_UINT(store->nparts, 2);
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
        "{\"type\":\"ddl\",\"file\":\"binlog.000001\",\"pos\":"
        "18446744073709551616}",
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
    sl_msg_t msg = {(const uint8_t *)"v", 1, NULL, 0};
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
    SL_CHECK_OK(sl_keytpl_eval(tt, &doc, SL_JR_NONE, after, "d", 1, "", 0, &kl,
                               err, sizeof err));
    SL_CHECK_UINT(kl.count, 1);
    size_t klen;
    const char *k = sl_keylist_key(&kl, 0, &klen);
    SL_CHECK_MEM(k, klen, ":7", 2);
    sl_keylist_free(&kl);
    sl_jr_free(&doc);
    sl_keytpl_free(set);
}

/* ---- broker recovery (fuzz_broker_meta, fuzz_broker_checkpoint) ---- */

static void write_file(const char *dir, const char *rel, const void *data,
                       size_t len) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    SL_CHECK(fd >= 0);
    SL_CHECK(len == 0 || write(fd, data, len) == (ssize_t)len);
    close(fd);
}

static uint64_t file_len(const char *dir, const char *rel) {
    char path[1024];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    SL_CHECK(stat(path, &st) == 0);
    return (uint64_t)st.st_size;
}

static int open_store(const char *dir, int quarantine, sl_store_t **out) {
    sl_store_opts_t o;
    memset(&o, 0, sizeof o);
    o.dir = dir;
    o.segment_size = 1u << 20;
    o.fsync_mode = SL_FSYNC_NEVER;
    o.max_batch = 1u << 20;
    o.quarantine_damaged = quarantine;
    *out = NULL;
    return sl_store_open_offline(out, &o);
}

/* fuzz_broker_meta: a meta.log with a damaged record in the middle and a
 * torn tail had its tail cut by sl__store_meta_load() before recovery
 * stopped with SL_EDAMAGED, so the stop changed the file it promises to
 * leave as it was. */
SL_TEST(fuzz_meta_damaged_with_torn_tail_stop_changes_nothing) {
    sl_log_set_level(SL_LOG_FATAL);
    const char *dir = sl_test_tmpdir();
    sl_buf_t meta = SL_BUF_INIT;
    SL_CHECK_OK(sl_meta_encode_part(&meta, 1, "t", 1, "p", 1));
    SL_CHECK(sl_buf_append(&meta, "garbage!garbage!", 16) == 0);
    SL_CHECK_OK(sl_meta_encode_part(&meta, 2, "t", 1, "q", 1));
    SL_CHECK(sl_buf_append(&meta, "\x00\x00\x00\x30torn", 8) == 0);
    write_file(dir, "meta.log", meta.data, meta.len);
    sl_store_t *store;
    SL_CHECK_INT(open_store(dir, 0, &store), SL_EDAMAGED);
    SL_CHECK_UINT(file_len(dir, "meta.log"), meta.len);
    SL_CHECK_OK(open_store(dir, 1, &store));
    SL_CHECK_UINT(store->nparts, 2);
    SL_CHECK_STR(store->parts[2]->name, "q");
    sl_store_free(store);
    sl_buf_free(&meta);
}

/* fuzz_broker_meta: a CRC-valid high-water mark of 2^64-1 made recovery
 * skip the partition to it with 2^32 index entries of 2^32 offsets each:
 * start-up hung, writing a 160 GiB index. Beyond 2^48 it is damage. */
SL_TEST(fuzz_meta_huge_high_water_mark_is_damage_not_a_hang) {
    sl_log_set_level(SL_LOG_FATAL);
    const char *dir = sl_test_tmpdir();
    sl_buf_t meta = SL_BUF_INIT;
    SL_CHECK_OK(sl_meta_encode_part(&meta, 1, "t", 1, "p", 1));
    SL_CHECK_OK(sl_meta_encode_hwm(&meta, 1, 5000));
    SL_CHECK_OK(sl_meta_encode_hwm(&meta, 1, UINT64_MAX));
    write_file(dir, "meta.log", meta.data, meta.len);
    sl_store_t *store;
    SL_CHECK_INT(open_store(dir, 0, &store), SL_EDAMAGED);
    SL_CHECK_UINT(file_len(dir, "meta.log"), meta.len);
    SL_CHECK_OK(open_store(dir, 1, &store));
    /* The plausible mark before it still holds: no offset below it is
     * handed out again. */
    SL_CHECK(store->parts[1]->next_offset >= 5000);
    SL_CHECK(store->parts[1]->next_offset < (UINT64_C(1) << 48));
    sl_store_free(store);
    sl_buf_free(&meta);
}

/* A store of three partitions, nine batches (as fuzz_store_dir.h makes
 * it), opened once so that its index files exist; *seg_len receives the
 * log's size and next[] each partition's next offset. */
static void make_store(const char *dir, uint64_t *seg_len, uint64_t next[4]) {
    sl_buf_t meta = SL_BUF_INIT, seg = SL_BUF_INIT;
    static const char *const names[3] = {"a", "b", "c"};
    for (uint32_t id = 1; id <= 3; id++)
        SL_CHECK_OK(sl_meta_encode_part(&meta, id, "t", 1, names[id - 1], 1));
    uint64_t n[4] = {0};
    for (int i = 0; i < 9; i++) {
        uint32_t id = (uint32_t)(i % 3) + 1;
        sl_msg_t msgs[2] = {{(const uint8_t *)"value", 5, NULL, 0},
                            {(const uint8_t *)"v2", 2, NULL, 0}};
        size_t cnt = (size_t)(i % 2) + 1;
        SL_CHECK_OK(sl_record_encode(&seg, id, n[id], 1700000000000 + i, -1, 0,
                                     msgs, cnt));
        n[id] += cnt;
    }
    char sub[1024];
    snprintf(sub, sizeof sub, "%s/log", dir);
    mkdir(sub, 0755);
    snprintf(sub, sizeof sub, "%s/idx", dir);
    mkdir(sub, 0755);
    write_file(dir, "meta.log", meta.data, meta.len);
    write_file(dir, "log/00000000000000000000.log", seg.data, seg.len);
    sl_store_t *store;
    SL_CHECK_OK(open_store(dir, 0, &store));
    for (uint32_t id = 1; id <= 3; id++) {
        SL_CHECK_UINT(store->parts[id]->next_offset, n[id]);
        next[id] = n[id];
    }
    sl_store_free(store);
    *seg_len = seg.len;
    sl_buf_free(&meta);
    sl_buf_free(&seg);
}

/* Writes a checkpoint of the store's state at log position pos, with
 * partition entry k's id or next offset replaced when asked (the CRC is
 * made to match: a checkpoint that lies, not one that is torn). */
static void write_ckpt(const char *dir, uint64_t pos, int k, uint32_t id,
                       uint64_t next) {
    sl_store_t *store;
    SL_CHECK_OK(open_store(dir, 0, &store));
    sl_buf_t ck = SL_BUF_INIT;
    SL_CHECK_OK(sl_ckpt_encode(store, pos, &ck));
    sl_store_free(store);
    if (k >= 0) {
        uint8_t *e = ck.data + 24 + (size_t)k * 28;
        if (id != 0)
            sl_put_u32be(e, id);
        if (next != 0)
            sl_put_u64be(e + 4, next);
        sl_put_u32be(ck.data + ck.len - 4, sl_crc32c(0, ck.data, ck.len - 4));
    }
    write_file(dir, "checkpoint", ck.data, ck.len);
    sl_buf_free(&ck);
}

static void check_intact(const char *dir, uint64_t seg_len,
                         const uint64_t next[4]) {
    sl_store_t *store;
    SL_CHECK_OK(open_store(dir, 0, &store));
    SL_CHECK_UINT(store->log_end, seg_len);
    for (uint32_t id = 1; id <= 3; id++)
        SL_CHECK_UINT(store->parts[id]->next_offset, next[id]);
    sl_store_free(store);
    SL_CHECK_UINT(file_len(dir, "log/00000000000000000000.log"), seg_len);
}

/* fuzz_broker_checkpoint: a CRC-valid checkpoint whose position falls
 * inside the last entry made recovery scan from there, take the rest of
 * the entry for a torn tail and cut it: an acknowledged batch lost. */
SL_TEST(fuzz_ckpt_position_inside_entry_cuts_nothing) {
    sl_log_set_level(SL_LOG_FATAL);
    const char *dir = sl_test_tmpdir();
    uint64_t seg_len, next[4];
    make_store(dir, &seg_len, next);
    write_ckpt(dir, seg_len - 7, -1, 0, 0);
    check_intact(dir, seg_len, next);
}

/* fuzz_broker_checkpoint: a checkpoint listing partition 1 twice and 3
 * not at all left partition 3 at next offset 0 with its index cut to
 * nothing: its offsets would have been handed out again. */
SL_TEST(fuzz_ckpt_duplicate_partition_reuses_no_offset) {
    sl_log_set_level(SL_LOG_FATAL);
    const char *dir = sl_test_tmpdir();
    uint64_t seg_len, next[4];
    make_store(dir, &seg_len, next);
    write_ckpt(dir, seg_len, 2, 1, 0);
    check_intact(dir, seg_len, next);
}

/* fuzz_broker_checkpoint: a CRC-valid checkpoint claiming next offset
 * 2^63 for a partition made the quarantine cover 2^63 offsets at 2^32 per
 * index entry: start-up hung. Such a checkpoint is damaged and rebuilt. */
SL_TEST(fuzz_ckpt_impossible_next_offset_is_rebuilt_not_a_hang) {
    sl_log_set_level(SL_LOG_FATAL);
    const char *dir = sl_test_tmpdir();
    uint64_t seg_len, next[4];
    make_store(dir, &seg_len, next);
    write_ckpt(dir, seg_len, 0, 0, UINT64_C(1) << 63);
    check_intact(dir, seg_len, next);
}

/* fuzz_broker_checkpoint (10-minute run): the same hang through the log
 * position. A checkpoint whose P lies near 2^62, far past the log files,
 * kept the next-offset bound (P + 2^40) useless: a next offset of 2^61
 * passed it and the quarantine wrote index entries for minutes. Such a
 * checkpoint is not trusted; the log is scanned instead. */
SL_TEST(fuzz_ckpt_position_far_past_the_log_is_rebuilt_not_a_hang) {
    sl_log_set_level(SL_LOG_FATAL);
    const char *dir = sl_test_tmpdir();
    uint64_t seg_len, next[4];
    make_store(dir, &seg_len, next);
    write_ckpt(dir, UINT64_C(1) << 62, 0, 0, UINT64_C(1) << 61);
    check_intact(dir, seg_len, next);
}

/* The class of fuzz_meta_damaged_with_torn_tail_stop_changes_nothing,
 * with the damage in the log instead: meta.log's torn tail was cut at
 * load, before recovery found the damaged batch and stopped. */
SL_TEST(fuzz_meta_torn_tail_kept_when_log_damage_stops_startup) {
    sl_log_set_level(SL_LOG_FATAL);
    const char *dir = sl_test_tmpdir();
    uint64_t seg_len, next[4];
    make_store(dir, &seg_len, next);
    uint64_t meta_len = file_len(dir, "meta.log");
    char path[1024];
    snprintf(path, sizeof path, "%s/meta.log", dir);
    int fd = open(path, O_WRONLY | O_APPEND);
    SL_CHECK(fd >= 0);
    SL_CHECK(write(fd, "\x00\x00\x00\x30torn", 8) == 8);
    close(fd);
    /* A flipped bit in the first batch's body, valid batches after it. */
    snprintf(path, sizeof path, "%s/log/00000000000000000000.log", dir);
    fd = open(path, O_RDWR);
    SL_CHECK(fd >= 0);
    uint8_t b;
    SL_CHECK(pread(fd, &b, 1, 70) == 1);
    b ^= 0x10;
    SL_CHECK(pwrite(fd, &b, 1, 70) == 1);
    close(fd);
    sl_store_t *store;
    SL_CHECK_INT(open_store(dir, 0, &store), SL_EDAMAGED);
    SL_CHECK_UINT(file_len(dir, "meta.log"), meta_len + 8);
    SL_CHECK_OK(open_store(dir, 1, &store));
    SL_CHECK_UINT(store->nparts, 3);
    sl_store_free(store);
    SL_CHECK_UINT(file_len(dir, "log/00000000000000000000.log"), seg_len);
}
