/* Unit tests for the Kafka listener's codec (primitive readers and
 * writers, hostile lengths and counts) and its name bijection. */
#include "broker/kafka/internal.h"
#include "error.h"
#include "sl_test.h"

#include <stdio.h>
#include <string.h>

SL_TEST(broker_kafka_codec_round_trip) {
    sl_buf_t b = SL_BUF_INIT;
    sl__kafka_w_i8(&b, -2);
    sl__kafka_w_i16(&b, -12345);
    sl__kafka_w_i32(&b, 0x12345678);
    sl__kafka_w_i64(&b, -0x123456789abcLL);
    sl__kafka_w_str(&b, "hello", 5);
    sl__kafka_w_str(&b, NULL, -1);
    sl__kafka_w_cstr(&b, "");
    sl__kafka_w_bytes(&b, "\0\1\2", 3);
    sl__kafka_w_bytes(&b, NULL, -1);
    size_t hole = sl__kafka_w_i32_hole(&b);
    sl__kafka_w_i32(&b, 7);
    sl__kafka_w_i32_at(&b, hole, 1);
    SL_CHECK_OK(sl_buf_error(&b));
    /* Big-endian on the wire. */
    SL_CHECK_MEM(b.data + 1, 2, "\xcf\xc7", 2);
    SL_CHECK_MEM(b.data + 3, 4, "\x12\x34\x56\x78", 4);

    sl_kreader_t r;
    sl__kafka_reader_init(&r, b.data, b.len);
    SL_CHECK_INT(sl__kafka_r_i8(&r), -2);
    SL_CHECK_INT(sl__kafka_r_i16(&r), -12345);
    SL_CHECK_INT(sl__kafka_r_i32(&r), 0x12345678);
    SL_CHECK(sl__kafka_r_i64(&r) == -0x123456789abcLL);
    const char *s;
    int16_t slen;
    SL_CHECK_OK(sl__kafka_r_str(&r, &s, &slen));
    SL_CHECK_MEM(s, (size_t)slen, "hello", 5);
    SL_CHECK_OK(sl__kafka_r_str(&r, &s, &slen));
    SL_CHECK(s == NULL);
    SL_CHECK_INT(slen, -1);
    SL_CHECK_OK(sl__kafka_r_str(&r, &s, &slen));
    SL_CHECK_INT(slen, 0);
    const uint8_t *p;
    int32_t plen;
    SL_CHECK_OK(sl__kafka_r_bytes(&r, &p, &plen));
    SL_CHECK_MEM(p, (size_t)plen, "\0\1\2", 3);
    SL_CHECK_OK(sl__kafka_r_bytes(&r, &p, &plen));
    SL_CHECK(p == NULL);
    SL_CHECK_INT(plen, -1);
    SL_CHECK_INT(sl__kafka_r_array(&r, 4), 1);
    SL_CHECK_INT(sl__kafka_r_i32(&r), 7);
    SL_CHECK_OK(r.err);
    SL_CHECK_UINT(sl__kafka_r_left(&r), 0);
    /* Past the end: sticky SL_ETRUNC and zeros. */
    SL_CHECK_INT(sl__kafka_r_i32(&r), 0);
    SL_CHECK_INT(r.err, SL_ETRUNC);
    SL_CHECK_INT(sl__kafka_r_i16(&r), 0);
    SL_CHECK_INT(r.err, SL_ETRUNC);
    sl_buf_free(&b);
}

SL_TEST(broker_kafka_codec_hostile_lengths) {
    sl_kreader_t r;
    const char *s;
    int16_t slen;
    const uint8_t *p;
    int32_t plen;
    /* A string longer than what is left. */
    sl__kafka_reader_init(&r,
                          "\x00\x05"
                          "abc",
                          5);
    SL_CHECK_INT(sl__kafka_r_str(&r, &s, &slen), SL_ETRUNC);
    SL_CHECK(s == NULL);
    /* A negative length other than -1. */
    sl__kafka_reader_init(&r,
                          "\xff\xfe"
                          "abc",
                          5);
    SL_CHECK_INT(sl__kafka_r_str(&r, &s, &slen), SL_EPROTO);
    sl__kafka_reader_init(&r, "\x80\x00\x00\x00", 4);
    SL_CHECK_INT(sl__kafka_r_bytes(&r, &p, &plen), SL_EPROTO);
    sl__kafka_reader_init(&r, "\x7f\xff\xff\xff", 4);
    SL_CHECK_INT(sl__kafka_r_bytes(&r, &p, &plen), SL_ETRUNC);
    /* A count whose elements cannot fit: refused before any allocation;
     * -1 is null, below -1 malformed. */
    sl__kafka_reader_init(&r,
                          "\x00\x00\x00\x03"
                          "12345678",
                          12);
    SL_CHECK_INT(sl__kafka_r_array(&r, 4), 0);
    SL_CHECK_INT(r.err, SL_ETRUNC);
    sl__kafka_reader_init(&r,
                          "\x00\x00\x00\x02"
                          "12345678",
                          12);
    SL_CHECK_INT(sl__kafka_r_array(&r, 4), 2);
    SL_CHECK_OK(r.err);
    sl__kafka_reader_init(&r, "\x7f\xff\xff\xff", 4);
    SL_CHECK_INT(sl__kafka_r_array(&r, 0), 0);
    SL_CHECK_INT(r.err, SL_ETRUNC);
    sl__kafka_reader_init(&r, "\xff\xff\xff\xff", 4);
    SL_CHECK_INT(sl__kafka_r_array(&r, 4), -1);
    SL_CHECK_OK(r.err);
    sl__kafka_reader_init(&r, "\xff\xff\xff\xfe", 4);
    SL_CHECK_INT(sl__kafka_r_array(&r, 4), 0);
    SL_CHECK_INT(r.err, SL_EPROTO);
    /* Every prefix of a valid encoding fails cleanly. */
    static const uint8_t full[] = "\x00\x01\x00\x03"
                                  "abc"
                                  "\x00\x00\x00\x02"
                                  "xy";
    for (size_t cut = 0; cut < sizeof full - 1; cut++) {
        sl__kafka_reader_init(&r, full, cut);
        sl__kafka_r_i16(&r);
        sl__kafka_r_i16(&r);
        sl__kafka_r_skip(&r, 3);
        sl__kafka_r_bytes(&r, &p, &plen);
        SL_CHECK_INT(r.err, SL_ETRUNC);
    }
}

/* Checks that (topic, name) maps to Kafka (k, n) and back. */
static void check_pair(const char *topic, const char *name, const char *k,
                       int32_t n) {
    char out[256], t[256], p[256];
    int32_t part = -1;
    SL_CHECK_OK(sl__kafka_name_of(topic, strlen(topic), name, strlen(name), out,
                                  sizeof out, &part));
    SL_CHECK_STR(out, k);
    SL_CHECK_INT(part, n);
    int bare = strchr(name, '#') == NULL;
    SL_CHECK_OK(
        sl__kafka_sluice_name(k, strlen(k), n, bare, t, sizeof t, p, sizeof p));
    SL_CHECK_STR(t, topic);
    SL_CHECK_STR(p, name);
}

static void check_hidden(const char *topic, const char *name) {
    char out[256];
    int32_t part;
    SL_CHECK_INT(sl__kafka_name_of(topic, strlen(topic), name, strlen(name),
                                   out, sizeof out, &part),
                 SL_ENOTFOUND);
}

SL_TEST(broker_kafka_names_bijection) {
    /* Capture's names, Debezium style. */
    check_pair("src", "shop.users", "src.shop.users", 0);
    check_pair("src", "shop.users#3", "src.shop.users", 3);
    check_pair("src", "caf-c3-a9.my-20table#0", "src.caf-c3-a9.my-20table", 0);
    /* The collision a naive join makes is impossible. */
    check_pair("src.shop", "users", "src-2eshop.users", 0);
    check_pair("my-app", "t", "my-2dapp.t", 0);
    check_pair("a/b:c", "x", "a-2fb-3ac.x", 0);
    /* Direct form: topics created through Kafka. */
    check_pair("orders", "#0", "orders", 0);
    check_pair("orders", "#2", "orders", 2);
    check_pair("my-topic", "#1", "my-topic", 1);
    check_pair("a.", "#0", "a.", 0);
    check_pair("x-y.z", "#4", "x-y.z", 4);
    /* Not visible through Kafka. */
    check_hidden("src", "a/b");
    check_hidden("src", "a#01");
    check_hidden("src", "a#65536");
    check_hidden("src", "a#x");
    check_hidden("src", "a#1#2");
    check_hidden("a.b", "#0"); /* Would read as split form (a, b...). */
    check_hidden("a/b", "#0");
    char longt[260];
    memset(longt, 'a', 250);
    longt[250] = '\0';
    check_hidden(longt, "x");

    /* Every Kafka name maps to a sluice name that maps back. */
    const char *ks[] = {"a",       "a.b",    "a..b",
                        ".a",      "a-2e.b", "a-2E.b",
                        "a-41.b",  "a-2eb",  "com.example.orders",
                        "-",       "_",      "a-zz.b",
                        "x.y-2e.z"};
    for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++)
        for (int32_t n = 0; n < 3; n++)
            for (int bare = 0; bare < 2; bare++) {
                char t[256], p[256], back[256];
                int32_t part;
                SL_CHECK_OK(sl__kafka_sluice_name(ks[i], strlen(ks[i]), n, bare,
                                                  t, sizeof t, p, sizeof p));
                SL_CHECK_OK(sl__kafka_name_of(t, strlen(t), p, strlen(p), back,
                                              sizeof back, &part));
                SL_CHECK_STR(back, ks[i]);
                SL_CHECK_INT(part, n);
            }
    /* Non-canonical escapes read in direct form. */
    char t[256], p[256];
    SL_CHECK_OK(
        sl__kafka_sluice_name("a-41.b", 6, 0, 1, t, sizeof t, p, sizeof p));
    SL_CHECK_STR(t, "a-41.b");
    SL_CHECK_STR(p, "#0");
    SL_CHECK_OK(
        sl__kafka_sluice_name("a-2e.b", 6, 0, 1, t, sizeof t, p, sizeof p));
    SL_CHECK_STR(t, "a.");
    SL_CHECK_STR(p, "b");
    /* Invalid Kafka names. */
    SL_CHECK(!sl__kafka_valid_topic(".", 1));
    SL_CHECK(!sl__kafka_valid_topic("..", 2));
    SL_CHECK(!sl__kafka_valid_topic("a b", 3));
    SL_CHECK(!sl__kafka_valid_topic("a#b", 3));
    SL_CHECK(!sl__kafka_valid_topic("", 0));
    SL_CHECK(sl__kafka_valid_topic("...", 3));
    SL_CHECK_INT(
        sl__kafka_sluice_name("a b", 3, 0, 0, t, sizeof t, p, sizeof p),
        SL_EINVAL);
    SL_CHECK_INT(
        sl__kafka_sluice_name("ab", 2, -1, 0, t, sizeof t, p, sizeof p),
        SL_EINVAL);
}
