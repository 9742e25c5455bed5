/*
 * Unit tests of the decoder on hand-built events: the CRC-32 paths, and
 * corrupt input (every truncation and single-bit flip of a real file)
 * answered with an error naming the position, never a crash.
 */
#include "capture/decoder/binlog.h"
#include "capture/decoder/internal.h"
#include "capture/source.h"
#include "sl_test.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

SL_TEST(capture_crc32_matches_zlib) {
    uint8_t buf[4096 + 64];
    uint32_t seed = 12345;
    for (size_t i = 0; i < sizeof(buf); i++) {
        seed = seed * 1103515245u + 12345u;
        buf[i] = (uint8_t)(seed >> 16);
    }
    for (size_t off = 0; off < 16; off += 5)
        for (size_t len = 0; len <= 4096; len++) {
            uint32_t want = (uint32_t)crc32(0, buf + off, (uInt)len);
            SL_CHECK_UINT(sl__dec_crc32(0, buf + off, len), want);
            /* Chained calls give the CRC of the concatenation. */
            uint32_t part = sl__dec_crc32(0, buf + off, len / 3);
            SL_CHECK_UINT(
                sl__dec_crc32(part, buf + off + len / 3, len - len / 3), want);
        }
    SL_CHECK_UINT(sl__dec_crc32_sw(0, "123456789", 9), 0xCBF43926u);
    SL_CHECK_UINT(sl__dec_crc32(0, "123456789", 9), 0xCBF43926u);
}

/* The table-driven number formatter against printf, at every power of ten
 * and its neighbours (where the digit count changes) and the extremes. */
SL_TEST(capture_number_formatting_matches_printf) {
    sl_buf_t buf = SL_BUF_INIT;
    char want[32];
    uint64_t p = 1;
    for (int k = 0; k <= 20; k++) {
        uint64_t vals[] = {p - 1,     p,          p + 1,
                           p * 3 + 7, UINT64_MAX, UINT64_MAX - 1};
        for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
            sl_buf_reset(&buf);
            SL_CHECK_OK(sl__dec_out_u64(&buf, vals[i]));
            snprintf(want, sizeof(want), "%llu", (unsigned long long)vals[i]);
            SL_CHECK_MEM(buf.data, buf.len, want, strlen(want));
            int64_t s = (int64_t)vals[i];
            sl_buf_reset(&buf);
            SL_CHECK_OK(sl__dec_out_i64(&buf, s));
            snprintf(want, sizeof(want), "%lld", (long long)s);
            SL_CHECK_MEM(buf.data, buf.len, want, strlen(want));
            if (s == INT64_MIN)
                continue; /* -s would overflow; checked below. */
            sl_buf_reset(&buf);
            SL_CHECK_OK(sl__dec_out_i64(&buf, -s));
            snprintf(want, sizeof(want), "%lld", (long long)-s);
            SL_CHECK_MEM(buf.data, buf.len, want, strlen(want));
        }
        if (k < 19)
            p *= 10;
    }
    sl_buf_reset(&buf);
    SL_CHECK_OK(sl__dec_out_i64(&buf, INT64_MIN));
    SL_CHECK_MEM(buf.data, buf.len, "-9223372036854775808", 20);
    uint8_t d[9];
    sl_put_digits(d, 4321, 6);
    SL_CHECK_MEM(d, 6, "004321", 6);
    sl_put_digits(d, 987654321, 9);
    SL_CHECK_MEM(d, 9, "987654321", 9);
    sl_buf_free(&buf);
}

/* sl__dec_copy against memcpy at every length around its word-move paths. */
SL_TEST(capture_small_copy_matches_memcpy) {
    uint8_t src[80], dst[96], ref[96];
    for (size_t i = 0; i < sizeof(src); i++)
        src[i] = (uint8_t)(i * 7 + 1);
    for (size_t n = 0; n <= sizeof(src); n++) {
        memset(dst, 0xAA, sizeof(dst));
        memset(ref, 0xAA, sizeof(ref));
        sl__dec_copy(dst + 3, src, n);
        memcpy(ref + 3, src, n);
        SL_CHECK_MEM(dst, sizeof(dst), ref, sizeof(ref));
    }
}

static int count_cb(void *ctx, const sl_change_t *chg) {
    (void)chg;
    (*(size_t *)ctx)++;
    return 0;
}

static int read_fixture(const char *rel, sl_buf_t *out) {
    const char *root = sl_test_fixtures();
    if (root == NULL)
        SL_SKIP("fixtures directory absent");
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return -1;
    uint8_t tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
        sl_buf_append(out, tmp, n);
    fclose(f);
    return 0;
}

/* Every prefix of a valid file either decodes (ending on an event
 * boundary) or fails with a message naming a position. */
SL_TEST(capture_every_truncation_fails_cleanly) {
    sl_buf_t file = SL_BUF_INIT;
    SL_CHECK_INT(read_fixture("rust_mysql_common/test-data/binlogs/"
                              "mysql-enum-string-set.000001",
                              &file),
                 0);
    size_t ok = 0, failed = 0;
    for (size_t len = 0; len <= file.len; len++) {
        sl_binlog_t *dec;
        size_t changes = 0;
        SL_CHECK_OK(sl_binlog_new(&dec, NULL, count_cb, &changes));
        int rc = sl_binlog_read_mem(dec, "t.000001", file.data, len, 4, 0);
        if (rc == 0) {
            ok++;
        } else {
            failed++;
            SL_CHECK(strstr(sl_binlog_errmsg(dec), "binlog t.000001:") != NULL);
        }
        sl_binlog_free(dec);
    }
    /* Only prefixes ending exactly between events decode. */
    SL_CHECK(ok > 3 && ok < 40);
    SL_CHECK(failed > file.len - 40);
    sl_buf_free(&file);
}

/* Flipping any single bit of a CRC32-protected file is detected. */
SL_TEST(capture_every_bit_flip_is_detected) {
    sl_buf_t file = SL_BUF_INIT;
    SL_CHECK_INT(read_fixture("rust_mysql_common/test-data/binlogs/"
                              "mysql_type_bit.000001",
                              &file),
                 0);
    for (size_t i = 4; i < file.len; i++) {
        for (int b = 0; b < 8; b += 3) {
            /* The format description's LOG_EVENT_BINLOG_IN_USE_F flag is
             * outside its checksum by design (the server sets it in
             * place). */
            if (i == 4 + 17 && b == 0)
                continue;
            file.data[i] ^= (uint8_t)(1 << b);
            sl_binlog_t *dec;
            size_t changes = 0;
            SL_CHECK_OK(sl_binlog_new(&dec, NULL, count_cb, &changes));
            int rc = sl_binlog_read_mem(dec, "f", file.data, file.len, 4, 0);
            if (rc == 0)
                sl_test_fail(__FILE__, __LINE__,
                             "bit %d of byte %zu "
                             "flipped, yet the file decoded",
                             b, i);
            sl_binlog_free(dec);
            file.data[i] ^= (uint8_t)(1 << b);
        }
    }
    sl_buf_free(&file);
}

/* An unknown event type stops the decoder unless skipped deliberately. */
SL_TEST(capture_unknown_event_type_and_skip) {
    sl_buf_t file = SL_BUF_INIT;
    SL_CHECK_INT(read_fixture("mysql-binlog-connector-java/src/test/"
                              "resources/mysql-bin.checksum-none",
                              &file),
                 0);
    /* Turn the first event after the format description that is not
     * flagged ignorable into type 99 (no checksum in this file). */
    size_t off = 4 + sl_binlog_event_size(file.data + 4);
    while (off + 19 < file.len && (file.data[off + 17] & 0x80))
        off += sl_binlog_event_size(file.data + off);
    SL_CHECK(off + 19 < file.len);
    file.data[off + 4] = 99;
    sl_binlog_t *dec;
    size_t changes = 0;
    SL_CHECK_OK(sl_binlog_new(&dec, NULL, count_cb, &changes));
    SL_CHECK(sl_binlog_read_mem(dec, "x.000001", file.data, file.len, 4, 0) !=
             0);
    char want[64];
    snprintf(want, sizeof(want), "x.000001:%zu: unknown event type", off);
    SL_CHECK(strstr(sl_binlog_errmsg(dec), want) != NULL);
    SL_CHECK(strstr(sl_binlog_errmsg(dec), "--skip-event-type 99") != NULL);
    sl_binlog_free(dec);
    uint8_t skip = 99;
    sl_binlog_opts_t opts = {.skip_types = &skip, .nskip_types = 1};
    SL_CHECK_OK(sl_binlog_new(&dec, &opts, count_cb, &changes));
    SL_CHECK_OK(sl_binlog_read_mem(dec, "x.000001", file.data, file.len, 4, 0));
    SL_CHECK(changes > 0);
    sl_binlog_free(dec);
    sl_buf_free(&file);
}

/* --start-position inside an event is refused; at a boundary, the output
 * starts there. */
SL_TEST(capture_start_and_stop_positions) {
    sl_buf_t file = SL_BUF_INIT;
    SL_CHECK_INT(read_fixture("BinlogVisualizer/cmd/binlogviz/testdata/"
                              "minimal.binlog",
                              &file),
                 0);
    size_t all = 0, part = 0;
    sl_binlog_t *dec;
    SL_CHECK_OK(sl_binlog_new(&dec, NULL, count_cb, &all));
    SL_CHECK_OK(sl_binlog_read_mem(dec, "m", file.data, file.len, 4, 0));
    sl_binlog_free(dec);
    SL_CHECK(all > 4);
    SL_CHECK_OK(sl_binlog_new(&dec, NULL, count_cb, &part));
    SL_CHECK(sl_binlog_read_mem(dec, "m", file.data, file.len, 5, 0) != 0);
    SL_CHECK(strstr(sl_binlog_errmsg(dec), "inside this event") != NULL);
    sl_binlog_free(dec);
    /* Stop right after the format description: nothing is emitted. */
    part = 0;
    size_t fde_end = 4 + sl_binlog_event_size(file.data + 4);
    SL_CHECK_OK(sl_binlog_new(&dec, NULL, count_cb, &part));
    SL_CHECK_OK(sl_binlog_read_mem(dec, "m", file.data, file.len, 4, fde_end));
    SL_CHECK_INT(part, 0);
    sl_binlog_free(dec);
    sl_buf_free(&file);
}

typedef struct {
    sl_buf_t text;
} text_sink_t;

static int text_cb(void *ctx, const sl_change_t *chg) {
    text_sink_t *t = ctx;
    sl_buf_append(&t->text, chg->json, chg->json_len);
    sl_buf_append_u8(&t->text, '\n');
    return 0;
}

/* Decodes path three ways: mapped (sl_binlog_read_file on a regular
 * file), streamed (through a FIFO, the chunked read path) and from
 * memory; all three must give the same events and the same error. */
static void three_ways(const char *rel) {
    const char *root = sl_test_fixtures();
    if (root == NULL)
        SL_SKIP("fixtures directory absent");
    char path[4096], fifo[4096];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    sl_buf_t file = SL_BUF_INIT;
    SL_CHECK_INT(read_fixture(rel, &file), 0);
    text_sink_t a = {SL_BUF_INIT}, b = {SL_BUF_INIT}, c = {SL_BUF_INIT};
    char ea[768], eb[768], ec[768];
    sl_binlog_t *dec;
    const char *base = strrchr(path, '/') + 1;
    SL_CHECK_OK(sl_binlog_new(&dec, NULL, text_cb, &a));
    int ra = sl_binlog_read_file(dec, path, 4, 0);
    snprintf(ea, sizeof(ea), "%s", sl_binlog_errmsg(dec));
    sl_binlog_free(dec);
    snprintf(fifo, sizeof(fifo), "%s/%s", sl_test_tmpdir(), base);
    SL_CHECK_INT(mkfifo(fifo, 0600), 0);
    pid_t pid = fork();
    SL_CHECK(pid >= 0);
    if (pid == 0) {
        FILE *w = fopen(fifo, "wb");
        if (w != NULL) {
            fwrite(file.data, 1, file.len, w);
            fclose(w);
        }
        _exit(0);
    }
    SL_CHECK_OK(sl_binlog_new(&dec, NULL, text_cb, &b));
    int rb = sl_binlog_read_file(dec, fifo, 4, 0);
    snprintf(eb, sizeof(eb), "%s", sl_binlog_errmsg(dec));
    sl_binlog_free(dec);
    waitpid(pid, NULL, 0);
    SL_CHECK_OK(sl_binlog_new(&dec, NULL, text_cb, &c));
    int rc = sl_binlog_read_mem(dec, base, file.data, file.len, 4, 0);
    snprintf(ec, sizeof(ec), "%s", sl_binlog_errmsg(dec));
    sl_binlog_free(dec);
    SL_CHECK_INT(ra, rc);
    SL_CHECK_INT(rb, rc);
    SL_CHECK_STR(ea, ec);
    SL_CHECK_STR(eb, ec);
    SL_CHECK_MEM(a.text.data, a.text.len, c.text.data, c.text.len);
    SL_CHECK_MEM(b.text.data, b.text.len, c.text.data, c.text.len);
    sl_buf_free(&a.text);
    sl_buf_free(&b.text);
    sl_buf_free(&c.text);
    sl_buf_free(&file);
}

SL_TEST(capture_file_fifo_and_memory_agree) {
    three_ways("msmp/test/binlog.000001");
    three_ways("rust_mysql_common/test-data/binlogs/"
               "transaction_compression.000001");
    three_ways("mariadb-10.3/mysql-test/std_data/"
               "bug11747416_32228_binlog.000001");
    three_ways("MyFlash/testbinlog/haha.000005.bin");
}

/* The body of the first PREVIOUS_GTIDS event (type 35) of a binlog file
 * with CRC32 checksums: what MySQL's own Gtid_set::encode wrote. */
static int previous_gtids_body(const sl_buf_t *file, const uint8_t **body,
                               size_t *len) {
    size_t at = 4;
    while (at + 19 <= file->len) {
        const uint8_t *ev = file->data + at;
        uint32_t size = (uint32_t)ev[9] | (uint32_t)ev[10] << 8 |
                        (uint32_t)ev[11] << 16 | (uint32_t)ev[12] << 24;
        if (size < 19 + 4 || at + size > file->len)
            return -1;
        if (ev[4] == 35) {
            *body = ev + 19;
            *len = size - 19 - 4;
            return 0;
        }
        at += size;
    }
    return -1;
}

/* The GTID set --start sends to a MySQL source (COM_BINLOG_DUMP_GTID)
 * must be byte for byte what MySQL itself encodes for the same set: the
 * PREVIOUS_GTIDS events of a MySQL 9.6 binlog (tagged format, with tag
 * "mytag") and of a MySQL 8.0.40 one (untagged) are the reference. */
SL_TEST(capture_gtid_set_encoding_matches_mysql) {
    static const struct {
        const char *file, *set;
    } cases[] = {
        {"rust_mysql_common/test-data/binlogs/"
         "binlog_transaction_with_GTID_TAG.000001",
         "55778904-0299-11f1-b1b8-4ef0c4956feb:1-13:MyTag:1-2"},
        {"rust_mysql_common/test-data/binlogs/"
         "binlog_transaction_previous_GTID_no_tag.000001",
         "b9b88c66-0755-11f1-9899-4a9da94c4d71:1-2"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sl_buf_t file = SL_BUF_INIT, enc = SL_BUF_INIT;
        SL_CHECK_INT(read_fixture(cases[i].file, &file), 0);
        const uint8_t *body;
        size_t len;
        SL_CHECK_INT(previous_gtids_body(&file, &body, &len), 0);
        SL_CHECK_OK(sl_source_encode_gtid_set(cases[i].set, &enc));
        SL_CHECK_MEM(enc.data, enc.len, body, len);
        sl_buf_free(&file);
        sl_buf_free(&enc);
    }
    /* A tag must be followed by an interval, and be a valid name. */
    sl_buf_t buf = SL_BUF_INIT;
    static const char *bad[] = {
        "55778904-0299-11f1-b1b8-4ef0c4956feb:1-13:mytag",
        "55778904-0299-11f1-b1b8-4ef0c4956feb:mytag:",
        "55778904-0299-11f1-b1b8-4ef0c4956feb:my-tag:1",
        "55778904-0299-11f1-b1b8-4ef0c4956feb:"
        "a23456789012345678901234567890123:1",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (sl_source_encode_gtid_set(bad[i], &buf) != SL_EINVAL)
            sl_test_fail(__FILE__, __LINE__, "accepted %s", bad[i]);
        SL_CHECK_UINT(buf.len, 0);
    }
    sl_buf_free(&buf);
}
