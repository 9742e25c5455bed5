/* Unit tests for lib/: errors, buffers, byte order, varints, CRC32C. */
#include "buf.h"
#include "bytes.h"
#include "crc32c.h"
#include "error.h"
#include "sl_test.h"

#include <errno.h>
#include <stdlib.h>

SL_TEST(error_table_names_every_code) {
    SL_CHECK_STR(sl_strerror(0), "success");
    SL_CHECK_STR(sl_strerror(SL_ECORRUPT), "corrupt data");
    SL_CHECK_STR(sl_errname(SL_ETRUNC), "SL_ETRUNC");
    SL_CHECK_STR(sl_strerror(-9999), "unknown error");
    SL_CHECK_STR(sl_strerror(42), "unknown error");
    /* Every code from 1 up to the last has its own text. */
    for (int code = 1; code <= 27; code++)
        SL_CHECK(strcmp(sl_strerror(-code), "unknown error") != 0);
    SL_CHECK_INT(sl_err_from_errno(ENOENT), SL_ENOTFOUND);
    SL_CHECK_INT(sl_err_from_errno(ENOSPC), SL_ENOSPC);
    SL_CHECK_INT(sl_err_from_errno(EDQUOT), SL_ENOSPC);
    SL_CHECK_INT(sl_err_from_errno(EIO), SL_EIO);
}

SL_TEST(buf_grows_and_consumes) {
    sl_buf_t buf = SL_BUF_INIT;
    for (int i = 0; i < 10000; i++)
        SL_CHECK_OK(sl_buf_append_u8(&buf, (uint8_t)i));
    SL_CHECK_UINT(buf.len, 10000);
    SL_CHECK(buf.cap >= 10000);
    SL_CHECK_UINT(buf.data[9999], (uint8_t)9999);
    sl_buf_consume(&buf, 9990);
    SL_CHECK_UINT(buf.len, 10);
    SL_CHECK_UINT(buf.data[0], (uint8_t)9990);
    sl_buf_reset(&buf);
    SL_CHECK_OK(sl_buf_printf(&buf, "%s-%d", "abc", 42));
    const char *str;
    SL_CHECK_OK(sl_buf_cstr(&buf, &str));
    SL_CHECK_STR(str, "abc-42");
    SL_CHECK_UINT(buf.len, 6);
    /* A formatted string longer than the on-stack first attempt. */
    char big[1000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    SL_CHECK_OK(sl_buf_printf(&buf, "%s", big));
    SL_CHECK_UINT(buf.len, 6 + 999);
    uint8_t *p = sl_buf_extend(&buf, 3);
    SL_CHECK(p != NULL);
    memcpy(p, "end", 3);
    size_t len;
    uint8_t *raw = sl_buf_detach(&buf, &len);
    SL_CHECK_UINT(len, 1008);
    SL_CHECK_MEM(raw + 1005, 3, "end", 3);
    SL_CHECK(buf.data == NULL && buf.len == 0);
    free(raw);
    sl_buf_free(&buf);
}

SL_TEST(buf_rejects_impossible_sizes) {
    sl_buf_t buf = SL_BUF_INIT;
    SL_CHECK_OK(sl_buf_append(&buf, "ab", 2));
    SL_CHECK_INT(sl_buf_reserve(&buf, SIZE_MAX), SL_ENOMEM);
    SL_CHECK_INT(sl_buf_reserve(&buf, SIZE_MAX - 2), SL_ENOMEM);
    SL_CHECK(sl_buf_extend(&buf, SIZE_MAX / 2 + 10) == NULL);
    SL_CHECK_UINT(buf.len, 2);
    sl_buf_free(&buf);
}

SL_TEST(bytes_little_and_big_endian) {
    uint8_t b[8];
    sl_put_u32le(b, 0x11223344);
    SL_CHECK_UINT(b[0], 0x44);
    SL_CHECK_UINT(sl_get_u32le(b), 0x11223344);
    sl_put_u32be(b, 0x11223344);
    SL_CHECK_UINT(b[0], 0x11);
    SL_CHECK_UINT(sl_get_u32be(b), 0x11223344);
    sl_put_u64le(b, 0x0102030405060708ull);
    SL_CHECK_UINT(sl_get_u64le(b), 0x0102030405060708ull);
    SL_CHECK_UINT(sl_get_u48le(b), 0x030405060708ull);
    SL_CHECK_UINT(sl_get_u24le(b), 0x060708);
    sl_put_u64be(b, 0x0102030405060708ull);
    SL_CHECK_UINT(sl_get_u64be(b), 0x0102030405060708ull);
    SL_CHECK_UINT(sl_get_uNbe(b, 3), 0x010203);
    sl_put_u16be(b, 0xABCD);
    SL_CHECK_UINT(sl_get_u16be(b), 0xABCD);
    sl_put_u16le(b, 0xABCD);
    SL_CHECK_UINT(sl_get_u16le(b), 0xABCD);
}

SL_TEST(reader_checks_bounds) {
    const uint8_t data[] = {1, 2, 3, 4, 5};
    sl_reader_t rd;
    sl_reader_init(&rd, data, sizeof data);
    uint32_t v32;
    uint8_t v8;
    SL_CHECK_OK(sl_rd_u32le(&rd, &v32));
    SL_CHECK_UINT(v32, 0x04030201);
    SL_CHECK_INT(sl_rd_u32le(&rd, &v32), SL_ETRUNC);
    SL_CHECK_UINT(sl_reader_left(&rd), 1); /* A failed read does not move. */
    SL_CHECK_OK(sl_rd_u8(&rd, &v8));
    SL_CHECK_UINT(v8, 5);
    SL_CHECK_INT(sl_rd_u8(&rd, &v8), SL_ETRUNC);
    const uint8_t *p;
    sl_reader_init(&rd, data, sizeof data);
    SL_CHECK_INT(sl_rd_bytes(&rd, 6, &p), SL_ETRUNC);
    SL_CHECK_OK(sl_rd_bytes(&rd, 5, &p));
    SL_CHECK(p == data);
    SL_CHECK_INT(sl_rd_skip(&rd, 1), SL_ETRUNC);
    uint64_t v64;
    sl_reader_init(&rd, data, sizeof data);
    SL_CHECK_INT(sl_rd_uNle(&rd, 9, &v64), SL_ETRUNC);
}

SL_TEST(reader_lenenc) {
    const uint8_t one[] = {0xFA};
    const uint8_t two[] = {0xFC, 0x34, 0x12};
    const uint8_t three[] = {0xFD, 0x56, 0x34, 0x12};
    const uint8_t eight[] = {0xFE, 1, 0, 0, 0, 0, 0, 0, 0x80};
    const uint8_t short8[] = {0xFE, 1, 2};
    const uint8_t null[] = {0xFB};
    sl_reader_t rd;
    uint64_t v;
    sl_reader_init(&rd, one, sizeof one);
    SL_CHECK_OK(sl_rd_lenenc(&rd, &v));
    SL_CHECK_UINT(v, 0xFA);
    sl_reader_init(&rd, two, sizeof two);
    SL_CHECK_OK(sl_rd_lenenc(&rd, &v));
    SL_CHECK_UINT(v, 0x1234);
    sl_reader_init(&rd, three, sizeof three);
    SL_CHECK_OK(sl_rd_lenenc(&rd, &v));
    SL_CHECK_UINT(v, 0x123456);
    sl_reader_init(&rd, eight, sizeof eight);
    SL_CHECK_OK(sl_rd_lenenc(&rd, &v));
    SL_CHECK_UINT(v, 0x8000000000000001ull);
    SL_CHECK_UINT(sl_reader_left(&rd), 0);
    sl_reader_init(&rd, short8, sizeof short8);
    SL_CHECK_INT(sl_rd_lenenc(&rd, &v), SL_ETRUNC);
    sl_reader_init(&rd, null, sizeof null);
    SL_CHECK_INT(sl_rd_lenenc(&rd, &v), SL_ECORRUPT);
}

SL_TEST(varint_round_trip_and_rejects_overlong) {
    const int64_t values[] = {0,         1,         -1,        63,
                              -64,       64,        300,       -300,
                              INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        uint8_t out[10];
        size_t n = sl_put_varint(out, values[i]);
        sl_reader_t rd;
        sl_reader_init(&rd, out, n);
        int64_t back;
        SL_CHECK_OK(sl_rd_varint(&rd, &back));
        SL_CHECK_INT(back, values[i]);
        SL_CHECK_UINT(sl_reader_left(&rd), 0);
        /* Every strict prefix is truncated. */
        for (size_t cut = 0; cut < n; cut++) {
            sl_reader_init(&rd, out, cut);
            SL_CHECK_INT(sl_rd_varint(&rd, &back), SL_ETRUNC);
        }
    }
    /* Kafka's own examples: zig-zag 1 -> 2, -1 -> 1, 300 (uvarint) -> AC 02. */
    uint8_t out[10];
    SL_CHECK_UINT(sl_put_uvarint(out, 300), 2);
    SL_CHECK_UINT(out[0], 0xAC);
    SL_CHECK_UINT(out[1], 0x02);
    SL_CHECK_UINT(sl_put_varint(out, -1), 1);
    SL_CHECK_UINT(out[0], 1);
    const uint8_t overlong[11] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                                  0x80, 0x80, 0x80, 0x80, 0x01};
    sl_reader_t rd;
    uint64_t u;
    sl_reader_init(&rd, overlong, sizeof overlong);
    SL_CHECK_INT(sl_rd_uvarint(&rd, &u), SL_ECORRUPT);
    const uint8_t too_big[10] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                                 0xFF, 0xFF, 0xFF, 0xFF, 0x02};
    sl_reader_init(&rd, too_big, sizeof too_big);
    SL_CHECK_INT(sl_rd_uvarint(&rd, &u), SL_ECORRUPT);
}

/* RFC 3720, appendix B.4: CRC32C test vectors for iSCSI. */
SL_TEST(crc32c_rfc3720_vectors) {
    uint8_t buf[48];
    memset(buf, 0, 32);
    SL_CHECK_UINT(sl_crc32c(0, buf, 32), 0x8A9136AA);
    SL_CHECK_UINT(sl_crc32c_sw(0, buf, 32), 0x8A9136AA);
    memset(buf, 0xFF, 32);
    SL_CHECK_UINT(sl_crc32c(0, buf, 32), 0x62A8AB43);
    SL_CHECK_UINT(sl_crc32c_sw(0, buf, 32), 0x62A8AB43);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)i;
    SL_CHECK_UINT(sl_crc32c(0, buf, 32), 0x46DD794E);
    SL_CHECK_UINT(sl_crc32c_sw(0, buf, 32), 0x46DD794E);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)(31 - i);
    SL_CHECK_UINT(sl_crc32c(0, buf, 32), 0x113FDB5C);
    SL_CHECK_UINT(sl_crc32c_sw(0, buf, 32), 0x113FDB5C);
    /* The iSCSI read PDU of the RFC. */
    static const uint8_t pdu[48] = {
        0x01, 0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
        0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
    SL_CHECK_UINT(sl_crc32c(0, pdu, sizeof pdu), 0xD9963A56);
    SL_CHECK_UINT(sl_crc32c(0, "123456789", 9), 0xE3069283);
}

SL_TEST(crc32c_hw_and_sw_agree_on_every_split) {
    uint8_t data[1031];
    uint32_t seed = 12345;
    for (size_t i = 0; i < sizeof data; i++) {
        seed = seed * 1103515245 + 12345;
        data[i] = (uint8_t)(seed >> 16);
    }
    uint32_t whole = sl_crc32c_sw(0, data, sizeof data);
    SL_CHECK_UINT(sl_crc32c(0, data, sizeof data), whole);
    /* Unaligned starts and incremental extension give the same result. */
    for (size_t split = 0; split < 40; split++) {
        uint32_t crc = sl_crc32c(0, data, split);
        crc = sl_crc32c(crc, data + split, sizeof data - split);
        SL_CHECK_UINT(crc, whole);
        SL_CHECK_UINT(sl_crc32c(0, data + split, 100),
                      sl_crc32c_sw(0, data + split, 100));
    }
}
