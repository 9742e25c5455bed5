/*
 * Writes the seed corpora of the fuzz targets whose input is a format
 * sluice itself writes, using the real encoders, so every seed is exactly
 * what the programs store or send:
 *
 *   fuzz_broker_record, fuzz_broker_index, fuzz_broker_meta and
 *   fuzz_broker_checkpoint: a small store (fuzz_store_dir.h) written by
 *     sl_record_encode and sl_meta_encode_*, recovered by the broker's own
 *     recovery (which writes the index files), checkpointed by
 *     sl_ckpt_encode;
 *   fuzz_capture_checkpoint and fuzz_capture_history: records from
 *     sl_checkpoint_encode and sl_history_*_record;
 *   fuzz_apply_event (and a few for fuzz_lib_jsonread): change events the
 *     binlog decoder makes from real-server fixture binlogs.
 *
 *   make build/fuzz-seedgen
 *   build/fuzz-seedgen FIXTURES_DIR tests/fuzz/corpus
 *
 * Seeds are named by a hash of their content; rerunning adds nothing new.
 * Not part of `make test`: the corpora are committed.
 */
#include "fuzz_store_dir.h"

#include "bytes.h"
#include "capture/decoder/binlog.h"
#include "capture/publish.h"
#include "capture/schema/history.h"
#include "capture/schema/schema.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *out_root;
static int written;

static void seed(const char *target, const void *data, size_t len) {
    /* FNV-1a, 64 bits: a stable name, enough to tell seeds apart. */
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= ((const uint8_t *)data)[i];
        h *= 1099511628211ull;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", out_root, target);
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        abort();
    snprintf(path, sizeof path, "%s/%s/%016llx", out_root, target,
             (unsigned long long)h);
    FILE *fp = fopen(path, "wb");
    if (fp == NULL || fwrite(data, 1, len, fp) != len || fclose(fp) != 0)
        abort();
    written++;
}

/* A seed made of a prefix of flag bytes and a body. */
static void seed2(const char *target, const void *pre, size_t plen,
                  const void *body, size_t blen) {
    sl_buf_t b = SL_BUF_INIT;
    if (sl_buf_append(&b, pre, plen) != 0 || sl_buf_append(&b, body, blen) != 0)
        abort();
    seed(target, b.data, b.len);
    sl_buf_free(&b);
}

static void broker_seeds(void) {
    sl_buf_t meta = SL_BUF_INIT, seg = SL_BUF_INIT;
    fz_make_store(&meta, &seg);

    /* Records: each entry alone, pairs, the whole segment, and an entry
     * of many messages; flags 0 (CRCs as written) and 3 (recomputed). */
    size_t pos = 0;
    while (pos < seg.len) {
        uint32_t elen = sl_get_u32be(seg.data + pos + 4) + SL_ENTRY_HDR;
        seed2("fuzz_broker_record", "\0", 1, seg.data + pos, elen);
        if (pos + elen < seg.len) {
            uint32_t e2 =
                sl_get_u32be(seg.data + pos + elen + 4) + SL_ENTRY_HDR;
            seed2("fuzz_broker_record", "\3", 1, seg.data + pos, elen + e2);
        }
        pos += elen;
    }
    seed2("fuzz_broker_record", "\0", 1, seg.data, seg.len);
    sl_buf_t big = SL_BUF_INIT;
    sl_msg_t msgs[40] = {0};
    char text[40][32];
    for (int i = 0; i < 40; i++) {
        snprintf(text[i], sizeof text[i], "{\"n\":%d}", i * 977);
        msgs[i].data = (const uint8_t *)text[i];
        msgs[i].len = strlen(text[i]);
    }
    if (sl_record_encode(&big, 9, 123456789, 1700000000000, 42,
                         (5ull << 32) | 77, msgs, 40) != 0)
        abort();
    seed2("fuzz_broker_record", "\0", 1, big.data, big.len);
    sl_buf_free(&big);

    /* Metadata log: whole, with a torn tail, and only the partitions. */
    seed2("fuzz_broker_meta", "\0", 1, meta.data, meta.len);
    seed2("fuzz_broker_meta", "\1", 1, meta.data, meta.len - 3);
    seed2("fuzz_broker_meta", "\0", 1, meta.data, 8 + 1 + 4 + 2 + 6 + 2 + 11);

    /* Recover the store (this writes the index files), then checkpoint. */
    fz_clear();
    fz_write("meta.log", meta.data, meta.len);
    fz_write(FZ_SEGMENT, seg.data, seg.len);
    sl_store_t *store = NULL;
    if (fz_open(&store) != 0)
        abort();
    sl_buf_t ck = SL_BUF_INIT;
    if (sl_ckpt_encode(store, store->log_end, &ck) != 0)
        abort();
    const uint8_t pre[4][2] = {{0, 0}, {1, 1}, {2, 0}, {4, 2}};
    for (int i = 0; i < 4; i++)
        seed2("fuzz_broker_checkpoint", pre[i], 2, ck.data, ck.len);
    sl_buf_reset(&ck);
    /* One describing the start of the log (every entry is after it). */
    uint64_t next[FZ_NPARTS + 1], slots[FZ_NPARTS + 1];
    for (uint32_t id = 1; id <= FZ_NPARTS; id++) {
        next[id] = store->parts[id]->next_offset;
        slots[id] = store->parts[id]->slots;
        store->parts[id]->next_offset = 0;
        store->parts[id]->slots = 0;
    }
    if (sl_ckpt_encode(store, 0, &ck) != 0)
        abort();
    seed2("fuzz_broker_checkpoint", pre[0], 2, ck.data, ck.len);
    for (uint32_t id = 1; id <= FZ_NPARTS; id++) {
        store->parts[id]->next_offset = next[id];
        store->parts[id]->slots = slots[id];
    }
    sl_buf_free(&ck);
    sl_store_free(store);

    /* Index files, with search keys that hit, miss and fall between. */
    for (uint32_t id = 1; id <= FZ_NPARTS; id++) {
        char name[64];
        snprintf(name, sizeof name, "idx/%u.idx", id);
        sl_buf_t idx = SL_BUF_INIT;
        if (fz_read(name, &idx) != 0)
            abort();
        static const uint64_t keys[] = {0, 1, 2, 4, 100, 1700000000004ull};
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
            uint8_t p[11] = {0};
            sl_put_u64be(p + 1, keys[k]);
            p[10] = 0xFF; /* The whole file as the range. */
            seed2("fuzz_broker_index", p, sizeof p, idx.data, idx.len);
        }
        sl_buf_free(&idx);
    }
    sl_buf_free(&meta);
    sl_buf_free(&seg);
}

static void capture_checkpoint_seeds(void) {
    static const sl_checkpoint_t cps[] = {
        {"binlog.000042", 1234, "0-1-77", 9001, 1700000000},
        {"mysql-bin.000001", 4, "", 0, 0},
        {"binlog.1000000", UINT64_MAX,
         "3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5", UINT64_MAX, INT64_MIN},
        {"b\xc3\xa9 \"q\"", 157, "0-1-1,1-2-3", 1, -1},
    };
    for (size_t i = 0; i < sizeof cps / sizeof cps[0]; i++) {
        sl_buf_t b = SL_BUF_INIT;
        if (sl_checkpoint_encode(&cps[i], &b) != 0)
            abort();
        seed("fuzz_capture_checkpoint", b.data, b.len);
        sl_buf_free(&b);
    }
}

static void history_seeds(void) {
    static const char *const ddl[] = {
        "CREATE TABLE t (id int unsigned NOT NULL, a varchar(10), b text, "
        "e enum('x','y'), PRIMARY KEY (id, a)) DEFAULT CHARSET=latin1",
        "CREATE TABLE `caf\xc3\xa9` (k bigint PRIMARY KEY, s set('p','q') "
        "CHARSET utf8mb4, d decimal(10,2), j json, g geometry)",
        "ALTER TABLE t ADD COLUMN c datetime(6) AFTER a, DROP COLUMN b",
        "RENAME TABLE t TO `my table`",
        "CREATE DATABASE o CHARACTER SET ucs2",
        "DROP TABLE IF EXISTS `caf\xc3\xa9`",
    };
    sl_schema_t *schema = NULL;
    if (sl_schema_new(&schema) != 0)
        abort();
    char err[256];
    sl_buf_t all = SL_BUF_INIT;
    if (sl_buf_append_u8(&all, 0x80) != 0)
        abort();
    for (size_t i = 0; i < sizeof ddl / sizeof ddl[0]; i++) {
        sl_buf_t rec = SL_BUF_INIT;
        if (sl_history_ddl_record("binlog.000001", 100 + i * 50, "d", 1, ddl[i],
                                  strlen(ddl[i]), i == 3 ? 0x400 : 0,
                                  &rec) != 0)
            abort();
        seed2("fuzz_capture_history", "\x80", 1, rec.data, rec.len);
        if (sl_buf_append(&all, rec.data, rec.len) != 0 ||
            sl_buf_append_u8(&all, '\n') != 0)
            abort();
        sl_buf_free(&rec);
        if (sl_schema_apply_ddl(schema, "d", ddl[i], strlen(ddl[i]), NULL, err,
                                sizeof err) != 0)
            abort();
        if (i == 2) {
            /* A snapshot in the middle: later DDL applies on top of it. */
            if (sl_history_snapshot_record(schema, "binlog.000001", 260,
                                           &rec) != 0)
                abort();
            seed2("fuzz_capture_history", "\x80", 1, rec.data, rec.len);
            if (sl_buf_append(&all, rec.data, rec.len) != 0 ||
                sl_buf_append_u8(&all, '\n') != 0)
                abort();
            sl_buf_free(&rec);
        }
    }
    seed("fuzz_capture_history", all.data, all.len);
    all.data[0] = 1; /* The resume point falls in the middle. */
    seed("fuzz_capture_history", all.data, all.len);
    sl_buf_free(&all);
    sl_schema_free(schema);
}

typedef struct {
    sl_buf_t lines;
    int n;
    int jsonread;
} events_t;

static int event_cb(void *ctx, const sl_change_t *chg) {
    events_t *ev = ctx;
    if (chg->json_len > 4096)
        return 0;
    if (sl_buf_append(&ev->lines, chg->json, chg->json_len) != 0 ||
        sl_buf_append_u8(&ev->lines, '\n') != 0)
        abort();
    if (ev->jsonread < 3) {
        seed("fuzz_lib_jsonread", chg->json, chg->json_len);
        ev->jsonread++;
    }
    if (++ev->n % 6 == 0 || ev->lines.len > 8192) {
        seed("fuzz_apply_event", ev->lines.data, ev->lines.len - 1);
        sl_buf_reset(&ev->lines);
    }
    return ev->n >= 60; /* Enough of one file. */
}

static void event_seeds(const char *fixtures) {
    static const char *const files[] = {
        "rust_mysql_common/test-data/binlogs/mariadb-bin.000001",
        "rust_mysql_common/test-data/binlogs/json.binlog.000001",
        "rust_mysql_common/test-data/binlogs/mysql-enum-string-set.000001",
        "rust_mysql_common/test-data/binlogs/mysql_type_bit.000001",
        "rust_mysql_common/test-data/binlogs/time_issue.000001",
        "rust_mysql_common/test-data/binlogs/vector.binlog",
        "rust_mysql_common/test-data/binlogs/"
        "binlog_transaction_with_GTID_TAG.000001",
        "mysql-binlog-connector-java/src/test/resources/"
        "mysql-bin.checksum-crc32",
        "mysql-8.0.40/mysql-test/std_data/binlog_recovery/"
        "duplicate_xid_xa_commit.000001",
        "mysql-8.0.40/mysql-test/std_data/"
        "rpl_binlog_with_gipk_info_full_metadata.000001",
        "MyFlash/binlog_output_base.flashback",
        "msmp/test/binlog.000001",
        "gh-ost/go/binlog/testdata/mysql-bin.000070",
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", fixtures, files[i]);
        FILE *fp = fopen(path, "rb");
        if (fp == NULL) {
            fprintf(stderr, "seedgen: %s: missing, skipped\n", path);
            continue;
        }
        sl_buf_t bytes = SL_BUF_INIT;
        uint8_t tmp[65536];
        size_t r;
        while ((r = fread(tmp, 1, sizeof tmp, fp)) > 0)
            if (sl_buf_append(&bytes, tmp, r) != 0)
                abort();
        fclose(fp);
        events_t ev = {SL_BUF_INIT, 0, i < 4 ? 0 : 3};
        sl_binlog_t *dec = NULL;
        sl_binlog_opts_t opts = {.column_types = 1};
        if (sl_binlog_new(&dec, &opts, event_cb, &ev) != 0)
            abort();
        (void)sl_binlog_read_mem(dec, files[i], bytes.data, bytes.len, 4, 0);
        sl_binlog_free(dec);
        if (ev.lines.len > 0)
            seed("fuzz_apply_event", ev.lines.data, ev.lines.len - 1);
        sl_buf_free(&ev.lines);
        sl_buf_free(&bytes);
    }
    /* Hand-made events for the key templates and transaction tracking. */
    static const char *const made =
        "{\"kind\":\"row\",\"op\":\"insert\",\"db\":\"d\",\"table\":\"t\","
        "\"trx\":\"0-1-5\",\"row\":0,\"pk\":[\"id\"],\"after\":{\"id\":1,"
        "\"email\":\"a b@c\\u0000%\"}}\n"
        "{\"kind\":\"row\",\"op\":\"update\",\"db\":\"shop\",\"table\":\"u\","
        "\"trx\":\"0-1-5\",\"row\":1,\"before\":{\"id\":{\"base64\":\"AAE=\"}},"
        "\"after\":{\"id\":[1,{\"x\":null}]}}\n"
        "{\"kind\":\"commit\",\"trx\":\"0-1-5\"}\n"
        "{\"kind\":\"row\",\"op\":\"delete\",\"db\":\"test\",\"table\":\"t1\","
        "\"trx\":\"0-1-6\",\"before\":{\"a\":true,\"b\":1.5e3}}\n"
        "{\"kind\":\"ddl\",\"db\":\"d\",\"trx\":\"0-1-7\",\"sql\":\"DROP TABLE "
        "t\"}";
    seed("fuzz_apply_event", made, strlen(made));
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s FIXTURES_DIR CORPUS_DIR\n", argv[0]);
        return 2;
    }
    out_root = argv[2];
    fz_dir();
    broker_seeds();
    capture_checkpoint_seeds();
    history_seeds();
    event_seeds(argv[1]);
    printf("seedgen: %d seeds written\n", written);
    return 0;
}
