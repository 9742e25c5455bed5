/* Unit tests for the streaming JSON writer (lib/json.h). */
#include "error.h"
#include "json.h"
#include "sl_test.h"

#include <math.h>

static const char *finish(sl_buf_t *buf) {
    const char *str;
    if (sl_buf_cstr(buf, &str) != 0)
        return NULL;
    return str;
}

SL_TEST(json_nesting_and_commas) {
    sl_buf_t buf = SL_BUF_INIT;
    sl_json_t json;
    sl_json_init(&json, &buf);
    sl_json_obj_begin(&json);
    sl_json_key(&json, "a");
    sl_json_int(&json, -5);
    sl_json_key(&json, "b");
    sl_json_arr_begin(&json);
    sl_json_uint(&json, UINT64_MAX);
    sl_json_null(&json);
    sl_json_bool(&json, 1);
    sl_json_bool(&json, 0);
    sl_json_obj_begin(&json);
    sl_json_obj_end(&json);
    sl_json_arr_begin(&json);
    sl_json_arr_end(&json);
    sl_json_arr_end(&json);
    sl_json_key(&json, "c");
    sl_json_raw(&json, "1.50", 4);
    sl_json_obj_end(&json);
    SL_CHECK_OK(sl_json_error(&json));
    SL_CHECK_STR(finish(&buf),
                 "{\"a\":-5,\"b\":[18446744073709551615,null,true,false,{},[]],"
                 "\"c\":1.50}");
    sl_buf_free(&buf);
}

SL_TEST(json_bad_nesting_is_an_error) {
    sl_buf_t buf = SL_BUF_INIT;
    sl_json_t json;
    sl_json_init(&json, &buf);
    sl_json_obj_end(&json);
    SL_CHECK_INT(sl_json_error(&json), SL_EINVAL);
    sl_buf_reset(&buf);
    sl_json_init(&json, &buf);
    for (int i = 0; i < SL_JSON_MAX_DEPTH + 1; i++)
        sl_json_arr_begin(&json);
    SL_CHECK_INT(sl_json_error(&json), SL_EINVAL);
    sl_buf_reset(&buf);
    sl_json_init(&json, &buf);
    sl_json_obj_begin(&json);
    sl_json_key(&json, "dangling");
    sl_json_obj_end(&json);
    SL_CHECK_INT(sl_json_error(&json), SL_EINVAL);
    sl_buf_free(&buf);
}

SL_TEST(json_escapes_controls_quotes_and_separators) {
    sl_buf_t buf = SL_BUF_INIT;
    sl_json_t json;
    sl_json_init(&json, &buf);
    const char in[] = "q\"b\\s/\b\f\n\r\t\x01\x1f\x7f"
                      "\xe2\x80\xa8\xe2\x80\xa9";
    sl_json_strn(&json, in, sizeof in - 1);
    SL_CHECK_STR(finish(&buf), "\"q\\\"b\\\\s/\\b\\f\\n\\r\\t\\u0001\\u001f"
                               "\\u007f\\u2028\\u2029\"");
    sl_buf_reset(&buf);
    sl_json_init(&json, &buf);
    /* NUL bytes inside a value are data, not terminators. */
    sl_json_strn(&json, "a\0b", 3);
    SL_CHECK_STR(finish(&buf), "\"a\\u0000b\"");
    sl_buf_free(&buf);
}

SL_TEST(json_utf8_valid_is_kept_invalid_is_replaced) {
    sl_buf_t buf = SL_BUF_INIT;
    sl_json_t json;
    int replaced = 0;
    sl_json_init(&json, &buf);
    /* 2-, 3- and 4-byte characters: é, €, 😀. */
    const char ok[] = "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
    sl_json_string_checked(&json, ok, sizeof ok - 1, &replaced);
    SL_CHECK_INT(replaced, 0);
    SL_CHECK_STR(finish(&buf), "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");

    struct {
        const char *in;
        size_t len;
        const char *out;
    } bad[] = {
        {"\x80", 1, "\"\xef\xbf\xbd\""},   /* Stray continuation. */
        {"a\xc3", 2, "\"a\xef\xbf\xbd\""}, /* Truncated. */
        {"\xc0\xaf", 2, "\"\xef\xbf\xbd\xef\xbf\xbd\""}, /* Overlong '/'. */
        {"\xed\xa0\x80", 3,
         "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""}, /* Surrogate. */
        {"\xf4\x90\x80\x80", 4,
         "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""}, /* >10FFFF */
        {"\xff", 1, "\"\xef\xbf\xbd\""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sl_buf_reset(&buf);
        sl_json_init(&json, &buf);
        replaced = 0;
        sl_json_string_checked(&json, bad[i].in, bad[i].len, &replaced);
        SL_CHECK_INT(replaced, 1);
        SL_CHECK_STR(finish(&buf), bad[i].out);
    }
    sl_buf_free(&buf);
}

SL_TEST(json_numbers_and_base64) {
    sl_buf_t buf = SL_BUF_INIT;
    sl_json_t json;
    sl_json_init(&json, &buf);
    sl_json_arr_begin(&json);
    sl_json_double(&json, 0.1);
    sl_json_double(&json, 1e300);
    sl_json_double(&json, -2.5);
    sl_json_double(&json, NAN);
    sl_json_double(&json, -INFINITY);
    sl_json_int(&json, INT64_MIN);
    sl_json_arr_end(&json);
    SL_CHECK_STR(finish(&buf), "[0.1,1e+300,-2.5,\"NaN\","
                               "\"-Infinity\",-9223372036854775808]");
    /* RFC 4648 section 10 test vectors. */
    const char *vectors[][2] = {{"", ""},
                                {"f", "Zg=="},
                                {"fo", "Zm8="},
                                {"foo", "Zm9v"},
                                {"foob", "Zm9vYg=="},
                                {"fooba", "Zm9vYmE="},
                                {"foobar", "Zm9vYmFy"}};
    for (size_t i = 0; i < 7; i++) {
        sl_buf_reset(&buf);
        SL_CHECK_OK(
            sl_base64_encode(&buf, vectors[i][0], strlen(vectors[i][0])));
        SL_CHECK_STR(finish(&buf), vectors[i][1]);
    }
    sl_buf_reset(&buf);
    sl_json_init(&json, &buf);
    sl_json_base64(&json, "\x00\xff", 2);
    SL_CHECK_STR(finish(&buf), "\"AP8=\"");
    sl_buf_free(&buf);
}

/* The word-at-a-time plain-prefix scan against a byte loop, for every
 * byte value at every position of strings of every length up to 40. */
SL_TEST(json_plain_prefix_every_byte_at_every_position) {
    uint8_t s[40];
    for (size_t len = 0; len <= sizeof(s); len++)
        for (size_t pos = 0; pos < (len ? len : 1); pos++)
            for (unsigned c = 0; c < 256; c++) {
                memset(s, 'a', sizeof(s));
                if (len > 0)
                    s[pos] = (uint8_t)c;
                size_t want = 0;
                while (want < len && s[want] >= 0x20 && s[want] < 0x7F &&
                       s[want] != '"' && s[want] != '\\')
                    want++;
                SL_CHECK_UINT(sl_json_plain_prefix(s, len), want);
            }
}
