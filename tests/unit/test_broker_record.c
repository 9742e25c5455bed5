/* Unit tests for the commit-log entry codec and the index entry codec. */
#include "broker/index.h"
#include "broker/record.h"
#include "bytes.h"
#include "crc32c.h"
#include "error.h"
#include "sl_test.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

SL_TEST(broker_record_roundtrip) {
    sl_buf_t buf = SL_BUF_INIT;
    sl_msg_t msgs[3] = {{(const uint8_t *)"alpha", 5, NULL, 0},
                        {(const uint8_t *)"", 0, NULL, 0},
                        {(const uint8_t *)"gamma!", 6, NULL, 0}};
    SL_CHECK_OK(sl_record_encode(&buf, 7, 100, 1700000000123, 42, 5, msgs, 3));
    uint32_t pid, elen;
    SL_CHECK_OK(sl_record_header(buf.data, buf.len, 1 << 20, &pid, &elen));
    SL_CHECK_UINT(pid, 7);
    SL_CHECK_UINT(elen, buf.len);
    sl_entry_t e;
    SL_CHECK_OK(sl_record_verify(buf.data, buf.len, &e));
    SL_CHECK_UINT(e.base_offset, 100);
    SL_CHECK_UINT(e.count, 3);
    SL_CHECK_INT(e.producer_id, 42);
    SL_CHECK_UINT(e.seq, 5);
    SL_CHECK_INT(e.base_ts, 1700000000123);
    /* Kafka fields at their documented places. */
    const uint8_t *b = buf.data + SL_ENTRY_HDR;
    SL_CHECK_UINT(b[16], 2);
    SL_CHECK_UINT(sl_get_u32be(b + 8), buf.len - SL_ENTRY_HDR - 12);
    SL_CHECK_UINT(sl_get_u32be(b + 17),
                  sl_crc32c(0, b + 21, buf.len - SL_ENTRY_HDR - 21));
    SL_CHECK_UINT(sl_get_u32be(b + 23), 2); /* lastOffsetDelta */
    sl_record_iter_t it;
    sl_record_iter_init(&it, &e);
    sl_record_t rec;
    SL_CHECK_INT(sl_record_next(&it, &rec), 1);
    SL_CHECK_UINT(rec.offset, 100);
    SL_CHECK_MEM(rec.value, rec.value_len, "alpha", 5);
    SL_CHECK(rec.key == NULL);
    SL_CHECK_INT(sl_record_next(&it, &rec), 1);
    SL_CHECK_UINT(rec.offset, 101);
    SL_CHECK_UINT(rec.value_len, 0);
    SL_CHECK_INT(sl_record_next(&it, &rec), 1);
    SL_CHECK_UINT(rec.offset, 102);
    SL_CHECK_MEM(rec.value, rec.value_len, "gamma!", 6);
    SL_CHECK_INT(sl_record_next(&it, &rec), 0);
    /* The base offset is outside the CRC: restamping keeps it valid. */
    sl_record_set_base_offset(buf.data, 555);
    SL_CHECK_OK(sl_record_verify(buf.data, buf.len, &e));
    SL_CHECK_UINT(e.base_offset, 555);
    sl_buf_free(&buf);
}

/* Record keys of a text-protocol put: stored in the record's key field
 * (Kafka's), null, empty and long (a 2-byte varint) kept apart, and the
 * entry verifies. */
SL_TEST(broker_record_keys_roundtrip) {
    sl_buf_t buf = SL_BUF_INIT;
    uint8_t longkey[300];
    memset(longkey, 'k', sizeof longkey);
    sl_msg_t msgs[4] = {{(const uint8_t *)"v0", 2, (const uint8_t *)"[7]", 3},
                        {(const uint8_t *)"v1", 2, NULL, 0},
                        {(const uint8_t *)"v2", 2, (const uint8_t *)"", 0},
                        {(const uint8_t *)"", 0, longkey, sizeof longkey}};
    SL_CHECK_OK(sl_record_encode(&buf, 3, 10, 1700000000000, 9, 1, msgs, 4));
    sl_entry_t e;
    SL_CHECK_OK(sl_record_verify(buf.data, buf.len, &e));
    SL_CHECK_UINT(e.count, 4);
    sl_record_iter_t it;
    sl_record_iter_init(&it, &e);
    sl_record_t rec;
    SL_CHECK_INT(sl_record_next(&it, &rec), 1);
    SL_CHECK_MEM(rec.key, rec.key_len, "[7]", 3);
    SL_CHECK_MEM(rec.value, rec.value_len, "v0", 2);
    SL_CHECK_INT(sl_record_next(&it, &rec), 1);
    SL_CHECK(rec.key == NULL);
    SL_CHECK_MEM(rec.value, rec.value_len, "v1", 2);
    SL_CHECK_INT(sl_record_next(&it, &rec), 1);
    SL_CHECK(rec.key != NULL && rec.key_len == 0);
    SL_CHECK_INT(sl_record_next(&it, &rec), 1);
    SL_CHECK_MEM(rec.key, rec.key_len, longkey, sizeof longkey);
    SL_CHECK_UINT(rec.offset, 13);
    SL_CHECK_UINT(rec.value_len, 0);
    SL_CHECK_INT(sl_record_next(&it, &rec), 0);
    SL_CHECK(it.p == e.end);
    sl_buf_free(&buf);
}

/* The record walk reads varints of one, two and three bytes inline and
 * longer ones through sl_rd_varint (record.c, rd_zz): record, key and
 * value lengths of each width, and a batch of more than 8,192 records
 * (offset deltas of three bytes), walk back exactly. */
SL_TEST(broker_record_varint_widths) {
    static const size_t lens[] = {5, 100, 20000, 2100000};
    /* Values start at big + i and keys at big + 3 - i: 3 bytes spare. */
    uint8_t *big = malloc(2100000 + 3);
    SL_CHECK(big != NULL);
    for (size_t i = 0; i < 2100000 + 3; i++)
        big[i] = (uint8_t)(i * 7);
    sl_msg_t msgs[4];
    for (int i = 0; i < 4; i++)
        msgs[i] = (sl_msg_t){big + i, lens[i], big + 3 - i, lens[3 - i]};
    sl_buf_t buf = SL_BUF_INIT;
    SL_CHECK_OK(sl_record_encode(&buf, 1, 0, 1700000000000, 9, 1, msgs, 4));
    sl_entry_t e;
    SL_CHECK_OK(sl_record_verify(buf.data, buf.len, &e));
    sl_record_iter_t it;
    sl_record_iter_init(&it, &e);
    sl_record_t rec;
    for (int i = 0; i < 4; i++) {
        SL_CHECK_INT(sl_record_next(&it, &rec), 1);
        SL_CHECK_UINT(rec.offset, (uint64_t)i);
        SL_CHECK_MEM(rec.value, rec.value_len, big + i, lens[i]);
        SL_CHECK_MEM(rec.key, rec.key_len, big + 3 - i, lens[3 - i]);
    }
    SL_CHECK_INT(sl_record_next(&it, &rec), 0);
    free(big);
    /* 20,000 one-byte records: offset deltas up to 19,999 (three bytes
     * zig-zagged). */
    enum { N = 20000 };
    sl_msg_t *many = calloc(N, sizeof *many);
    SL_CHECK(many != NULL);
    for (int i = 0; i < N; i++)
        many[i] = (sl_msg_t){(const uint8_t *)"x", 1, NULL, 0};
    sl_buf_reset(&buf);
    SL_CHECK_OK(sl_record_encode(&buf, 1, 50, 1700000000000, 9, 1, many, N));
    SL_CHECK_OK(sl_record_verify(buf.data, buf.len, &e));
    SL_CHECK_UINT(e.count, N);
    sl_record_iter_init(&it, &e);
    uint64_t seen = 0;
    while (sl_record_next(&it, &rec) == 1) {
        SL_CHECK_UINT(rec.offset, 50 + seen);
        seen++;
    }
    SL_CHECK_UINT(seen, N);
    free(many);
    sl_buf_free(&buf);
}

SL_TEST(broker_record_no_producer_and_big_seq) {
    sl_buf_t buf = SL_BUF_INIT;
    sl_msg_t m = {(const uint8_t *)"x", 1, NULL, 0};
    SL_CHECK_OK(sl_record_encode(&buf, 1, 0, 1, -1, 0, &m, 1));
    sl_entry_t e;
    SL_CHECK_OK(sl_record_verify(buf.data, buf.len, &e));
    SL_CHECK_INT(e.producer_id, SL_NO_PRODUCER);
    sl_buf_reset(&buf);
    /* Every bit of a 63-bit sequence and a 48-bit producer id survives. */
    const uint64_t seqs[] = {(1ull << 63) - 1, 0x5A5A5A5A5A5A5A5Aull >> 1,
                             1ull << 47,       1ull << 48,
                             0xFFFFFFFFull,    1};
    const int64_t pids[] = {
        (int64_t)((1ull << 48) - 1), 9, 0, 1ll << 40, 12345, 77};
    for (int i = 0; i < 6; i++) {
        sl_buf_reset(&buf);
        SL_CHECK_OK(sl_record_encode(&buf, 1, 0, 1, pids[i], seqs[i], &m, 1));
        SL_CHECK_OK(sl_record_verify(buf.data, buf.len, &e));
        SL_CHECK_UINT(e.seq, seqs[i]);
        SL_CHECK_INT(e.producer_id, pids[i]);
    }
    sl_buf_reset(&buf);
    SL_CHECK_INT(sl_record_encode(&buf, 1, 0, 1, 9, 1ull << 63, &m, 1),
                 SL_ERANGE);
    SL_CHECK_INT(sl_record_encode(&buf, 1, 0, 1, 1ll << 48, 1, &m, 1),
                 SL_ERANGE);
    SL_CHECK_INT(sl_record_encode(&buf, 1, 0, 1, -1, 0, &m, 0), SL_EINVAL);
    sl_buf_free(&buf);
}

SL_TEST(broker_record_every_bit_flip_detected) {
    sl_buf_t buf = SL_BUF_INIT;
    sl_msg_t msgs[2] = {{(const uint8_t *)"hello", 5, NULL, 0},
                        {(const uint8_t *)"world", 5, NULL, 0}};
    SL_CHECK_OK(sl_record_encode(&buf, 3, 0, 1000, 4, 8, msgs, 2));
    for (size_t i = 0; i < buf.len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            buf.data[i] ^= (uint8_t)(1u << bit);
            sl_entry_t e;
            int rc = sl_record_verify(buf.data, buf.len, &e);
            /* Only the base offset (batch bytes 0..7) is outside every
             * check; recovery checks it against the partition. */
            int in_base = i >= SL_ENTRY_HDR && i < SL_ENTRY_HDR + 8;
            if (in_base)
                SL_CHECK_OK(rc);
            else if (rc == 0)
                sl_test_fail(__FILE__, __LINE__, "flip at %zu bit %d accepted",
                             i, bit);
            buf.data[i] ^= (uint8_t)(1u << bit);
        }
    }
    sl_buf_free(&buf);
}

SL_TEST(broker_record_truncated_and_bad_lengths) {
    sl_buf_t buf = SL_BUF_INIT;
    sl_msg_t m = {(const uint8_t *)"abc", 3, NULL, 0};
    SL_CHECK_OK(sl_record_encode(&buf, 1, 0, 1, -1, 0, &m, 1));
    uint32_t pid, elen;
    for (size_t n = 0; n < SL_ENTRY_HDR; n++)
        SL_CHECK_INT(sl_record_header(buf.data, n, 1 << 20, &pid, &elen),
                     SL_ETRUNC);
    for (size_t n = 0; n < buf.len; n++) {
        sl_entry_t e;
        SL_CHECK(sl_record_verify(buf.data, n, &e) != 0);
    }
    /* A length above the limit is corrupt even with a valid header CRC. */
    SL_CHECK_INT(sl_record_header(buf.data, buf.len, 10, &pid, &elen),
                 SL_ECORRUPT);
    sl_buf_free(&buf);
}

SL_TEST(broker_index_codec_and_search) {
    sl_index_entry_t ie = {10, 4096, 120, 5, 1700, 3};
    uint8_t raw[SL_INDEX_ENTRY];
    sl_index_encode(raw, &ie);
    sl_index_entry_t out;
    SL_CHECK_OK(sl_index_decode(raw, &out));
    SL_CHECK_UINT(out.base_offset, 10);
    SL_CHECK_UINT(out.pos, 4096);
    SL_CHECK_UINT(out.len, 120);
    SL_CHECK_UINT(out.count, 5);
    SL_CHECK_INT(out.max_ts, 1700);
    SL_CHECK_UINT(out.part_id, 3);
    raw[5] ^= 1;
    SL_CHECK_INT(sl_index_decode(raw, &out), SL_ECHECKSUM);

    char path[1024];
    snprintf(path, sizeof path, "%s/x.idx", sl_test_tmpdir());
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    SL_CHECK(fd >= 0);
    /* 100 batches of 3 records: batch k holds offsets 3k..3k+2. */
    for (uint64_t k = 0; k < 100; k++) {
        sl_index_entry_t e = {3 * k, 1000 * k, 50, 3, (int64_t)(10 * k), 1};
        sl_index_encode(raw, &e);
        SL_CHECK(pwrite(fd, raw, sizeof raw, (off_t)(k * SL_INDEX_ENTRY)) ==
                 SL_INDEX_ENTRY);
    }
    uint64_t slot;
    SL_CHECK_OK(sl_index_find_offset(sl_index_read_fd, &fd, 0, 100, 0, &slot));
    SL_CHECK_UINT(slot, 0);
    SL_CHECK_OK(
        sl_index_find_offset(sl_index_read_fd, &fd, 0, 100, 151, &slot));
    SL_CHECK_UINT(slot, 50);
    SL_CHECK_OK(
        sl_index_find_offset(sl_index_read_fd, &fd, 0, 100, 299, &slot));
    SL_CHECK_UINT(slot, 99);
    SL_CHECK_OK(sl_index_find_pos(sl_index_read_fd, &fd, 0, 100, 5500, &slot));
    SL_CHECK_UINT(slot, 6);
    SL_CHECK_OK(
        sl_index_find_pos(sl_index_read_fd, &fd, 0, 100, 999999, &slot));
    SL_CHECK_UINT(slot, 100);
    SL_CHECK_OK(sl_index_find_ts(sl_index_read_fd, &fd, 0, 100, 455, &slot));
    SL_CHECK_UINT(slot, 46);
    SL_CHECK_OK(sl_index_find_ts(sl_index_read_fd, &fd, 10, 100, 0, &slot));
    SL_CHECK_UINT(slot, 10);
    SL_CHECK_INT(sl_index_read(fd, 100, &out), SL_ETRUNC);
    close(fd);
}
