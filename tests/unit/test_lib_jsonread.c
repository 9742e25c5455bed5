/* Unit tests for the strict JSON reader (lib/jsonread.h). */
#include "error.h"
#include "json.h"
#include "jsonread.h"
#include "sl_test.h"

#include <errno.h>
#include <stdlib.h>

static int parse(sl_jr_doc_t *doc, const char *text) {
    return sl_jr_parse(doc, text, strlen(text));
}

static char *unesc(const sl_jr_doc_t *doc, uint32_t i) {
    sl_buf_t buf = SL_BUF_INIT;
    if (sl_jr_unescape(doc, i, &buf) != 0)
        return NULL;
    const char *s;
    sl_buf_cstr(&buf, &s);
    size_t n;
    return (char *)sl_buf_detach(&buf, &n);
}

SL_TEST(jsonread_change_event) {
    const char *ev =
        "{\"kind\":\"row\",\"op\":\"update\",\"db\":\"shop\",\"table\":"
        "\"users\","
        "\"row\":3,\"pk\":[\"id\"],\"before\":{\"id\":18446744073709551615,"
        "\"email\":\"a@x\",\"bal\":\"12345678901234567890.123456789\","
        "\"bin\":{\"base64\":\"AAEC/w==\"},\"n\":null},"
        "\"after\":{\"id\":18446744073709551615,\"email\":\"b\\u00e9@x\","
        "\"n\":-1.5e3},\"trx\":{\"seq\":7,\"id\":\"0-1-9\"}}";
    sl_jr_doc_t doc;
    sl_jr_init(&doc);
    SL_CHECK_OK(parse(&doc, ev));
    SL_CHECK_INT(sl_jr_type(&doc, 0), SL_JR_OBJECT);
    uint32_t kind = sl_jr_get(&doc, 0, "kind");
    SL_CHECK(kind != SL_JR_NONE);
    SL_CHECK(sl_jr_str_eq(&doc, kind, "row", 3));
    uint32_t before = sl_jr_get(&doc, 0, "before");
    uint32_t after = sl_jr_get(&doc, 0, "after");
    SL_CHECK_INT(sl_jr_tok(&doc, before)->count, 5);
    uint32_t id = sl_jr_get(&doc, before, "id");
    uint64_t v;
    SL_CHECK_OK(sl_jr_u64(&doc, id, &v));
    SL_CHECK_UINT(v, UINT64_MAX);
    int64_t sv;
    SL_CHECK_INT(sl_jr_i64(&doc, id, &sv), SL_ERANGE);
    size_t n;
    const char *raw = sl_jr_raw(&doc, sl_jr_get(&doc, before, "bal"), &n);
    SL_CHECK_MEM(raw, n, "12345678901234567890.123456789", 30);
    char *email = unesc(&doc, sl_jr_get(&doc, after, "email"));
    SL_CHECK_STR(email, "b\xc3\xa9@x");
    free(email);
    SL_CHECK(
        sl_jr_str_eq(&doc, sl_jr_get(&doc, after, "email"), "b\xc3\xa9@x", 5));
    SL_CHECK(
        !sl_jr_str_eq(&doc, sl_jr_get(&doc, after, "email"), "b\xc3\xa9@", 4));
    SL_CHECK_INT(sl_jr_type(&doc, sl_jr_get(&doc, before, "n")), SL_JR_NULL);
    uint32_t num = sl_jr_get(&doc, after, "n");
    raw = sl_jr_raw(&doc, num, &n);
    SL_CHECK_MEM(raw, n, "-1.5e3", 6);
    SL_CHECK_INT(sl_jr_i64(&doc, num, &sv), SL_EINVAL);
    /* Binary values decode back to their bytes. */
    uint32_t bin = sl_jr_get(&doc, before, "bin");
    uint32_t b64 = sl_jr_get(&doc, bin, "base64");
    raw = sl_jr_raw(&doc, b64, &n);
    sl_buf_t bytes = SL_BUF_INIT;
    SL_CHECK_OK(sl_jr_base64_decode(&bytes, raw, n));
    SL_CHECK_MEM(bytes.data, bytes.len, "\x00\x01\x02\xff", 4);
    sl_buf_free(&bytes);
    /* Walking the members gives them in document order; skipping a nested
     * value lands on the next member. */
    uint32_t it = 0, key, val, count = 0;
    const char *names[] = {"kind", "op",     "db",    "table", "row",
                           "pk",   "before", "after", "trx"};
    while (sl_jr_next(&doc, 0, &it, &key, &val)) {
        SL_CHECK(count < 9);
        SL_CHECK(sl_jr_str_eq(&doc, key, names[count], strlen(names[count])));
        count++;
    }
    SL_CHECK_INT(count, 9);
    SL_CHECK(sl_jr_get(&doc, 0, "missing") == SL_JR_NONE);
    SL_CHECK(sl_jr_get(&doc, kind, "x") == SL_JR_NONE);
    sl_jr_free(&doc);
}

SL_TEST(jsonread_escapes_and_unicode) {
    sl_jr_doc_t doc;
    sl_jr_init(&doc);
    SL_CHECK_OK(parse(&doc,
                      "[\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\","
                      "\"\\ud83d\\ude00\",\"\\u0000x\",\"\xe2\x82\xac\"]"));
    SL_CHECK_INT(sl_jr_tok(&doc, 0)->count, 4);
    char *s = unesc(&doc, 1);
    SL_CHECK_STR(s, "a\"b\\c/d\b\f\n\r\t");
    free(s);
    s = unesc(&doc, 2);
    SL_CHECK_STR(s, "\xf0\x9f\x98\x80");
    free(s);
    sl_buf_t b = SL_BUF_INIT;
    SL_CHECK_OK(sl_jr_unescape(&doc, 3, &b));
    SL_CHECK_MEM(b.data, b.len, "\0x", 2);
    sl_buf_free(&b);
    SL_CHECK(sl_jr_str_eq(&doc, 3, "\0x", 2));
    SL_CHECK(!sl_jr_tok(&doc, 4)->escaped);
    SL_CHECK(sl_jr_str_eq(&doc, 4, "\xe2\x82\xac", 3));
    SL_CHECK_INT(sl_jr_unescape(&doc, 0, &b), SL_EINVAL);
    sl_jr_free(&doc);
}

SL_TEST(jsonread_scalars_and_whitespace) {
    sl_jr_doc_t doc;
    sl_jr_init(&doc);
    /* Not formatted: a table of inputs. */
    /* clang-format off */
    const char *ok[] = {" 0 ", "-0", "1e5", "1E+5", "1.25e-7", "true",
                        "false", "null", "\"\"", "[]", "{}", "\r\n\t[ ]",
                        "[[],{},[[]]]", "{\"a\":{\"b\":[1,2,{\"c\":null}]}}",
                        "-9223372036854775808"};
    /* clang-format on */
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int rc = parse(&doc, ok[i]);
        if (rc != 0)
            sl_test_fail(__FILE__, __LINE__, "rejected %s: %s", ok[i], doc.err);
    }
    int64_t sv;
    SL_CHECK_OK(sl_jr_i64(&doc, 0, &sv));
    SL_CHECK(sv == INT64_MIN);
    SL_CHECK_OK(parse(&doc, "-9223372036854775809"));
    SL_CHECK_INT(sl_jr_i64(&doc, 0, &sv), SL_ERANGE);
    uint64_t v;
    SL_CHECK_OK(parse(&doc, "18446744073709551616"));
    SL_CHECK_INT(sl_jr_u64(&doc, 0, &v), SL_ERANGE);
    SL_CHECK_OK(parse(&doc, "-5"));
    SL_CHECK_INT(sl_jr_u64(&doc, 0, &v), SL_ERANGE);
    SL_CHECK_OK(parse(&doc, "-0"));
    SL_CHECK_OK(sl_jr_u64(&doc, 0, &v));
    SL_CHECK_UINT(v, 0);
    /* The next index of a container skips its whole subtree. */
    SL_CHECK_OK(parse(&doc, "[[1,[2,3]],4]"));
    SL_CHECK_INT(sl_jr_tok(&doc, 1)->next, 6);
    SL_CHECK_INT(sl_jr_type(&doc, 6), SL_JR_NUMBER);
    SL_CHECK_INT(sl_jr_tok(&doc, 0)->count, 2);
    size_t n;
    const char *raw = sl_jr_raw(&doc, 1, &n);
    SL_CHECK_MEM(raw, n, "[1,[2,3]]", 9);
    sl_jr_free(&doc);
}

SL_TEST(jsonread_rejects_malformed) {
    /* Not formatted: a table of inputs. */
    /* clang-format off */
    static const char *bad[] = {
        "", " ", "{", "}", "[", "]", "[1,]", "{\"a\":1,}", "{\"a\"}",
        "{\"a\" 1}", "{a:1}", "{1:2}", "[1 2]", "01", "-", "+1", "1.",
        ".5", "1e", "1e+", "--1", "0x10", "NaN", "Infinity", "nul", "tru",
        "falsey", "[] []", "1 2", "\"abc", "\"a\\x\"", "\"\\u12\"",
        "\"\\u12g4\"", "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"",
        "\"a\tb\"", "\"\x01\"", "\"\xff\"", "\"\xc0\xaf\"",
        "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"", "\"\xe2\x82\"",
        "[1,,2]", "[,1]", "{,}", "{\"a\":1 \"b\":2}", "/* c */ 1", "[1]x",
        "\"a\"\"b\"", "{\"a\"::1}", "[\"a\":1]",
        /* clang-format on */
    };
    sl_jr_doc_t doc;
    sl_jr_init(&doc);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = parse(&doc, bad[i]);
        if (rc != SL_ECORRUPT)
            sl_test_fail(__FILE__, __LINE__, "bad[%zu] \"%s\" gave %d", i,
                         bad[i], rc);
        SL_CHECK(doc.err[0] != '\0');
        SL_CHECK(doc.err_pos <= strlen(bad[i]));
    }
    /* A NUL byte inside the buffer is an error, not an end of input. */
    SL_CHECK_INT(sl_jr_parse(&doc, "[1]\0", 4), SL_ECORRUPT);
    SL_CHECK_INT(sl_jr_parse(&doc, "\"a\0b\"", 5), SL_ECORRUPT);
    /* The position names where the problem is. */
    SL_CHECK_INT(parse(&doc, "{\"a\":[1,2,x]}"), SL_ECORRUPT);
    SL_CHECK_INT(doc.err_pos, 10);
    sl_jr_free(&doc);
}

SL_TEST(jsonread_depth_and_token_limits) {
    sl_jr_doc_t doc;
    sl_jr_init(&doc);
    char deep[200];
    memset(deep, '[', 100);
    memset(deep + 100, ']', 100);
    SL_CHECK_INT(sl_jr_parse(&doc, deep, 200), SL_ETOOBIG);
    doc.max_depth = 100;
    SL_CHECK_OK(sl_jr_parse(&doc, deep, 200));
    doc.max_depth = 99;
    SL_CHECK_INT(sl_jr_parse(&doc, deep, 200), SL_ETOOBIG);
    doc.max_depth = 0;
    /* Exactly the default depth is accepted. */
    SL_CHECK_OK(sl_jr_parse(&doc, deep + 100 - 64, 128));
    doc.max_toks = 3;
    SL_CHECK_OK(parse(&doc, "[1,2]"));
    SL_CHECK_INT(parse(&doc, "[1,2,3]"), SL_ETOOBIG);
    sl_jr_free(&doc);
}

SL_TEST(jsonread_roundtrips_the_writer) {
    /* Every string the writer produces (all byte values, escapes,
     * U+2028) reads back to the same bytes, valid UTF-8 or not. */
    sl_buf_t out = SL_BUF_INIT, back = SL_BUF_INIT;
    uint8_t all[256];
    for (int i = 0; i < 128; i++)
        all[i] = (uint8_t)i;
    memcpy(all + 128, "\xe2\x80\xa8\xf0\x9f\x98\x80\xc3\xa9", 10);
    sl_json_t json;
    sl_json_init(&json, &out);
    sl_json_arr_begin(&json);
    sl_json_strn(&json, all, 138);
    sl_json_uint(&json, UINT64_MAX);
    sl_json_base64(&json, all, 138);
    sl_json_arr_end(&json);
    SL_CHECK_OK(sl_json_error(&json));
    sl_jr_doc_t doc;
    sl_jr_init(&doc);
    SL_CHECK_OK(sl_jr_parse(&doc, (const char *)out.data, out.len));
    SL_CHECK_OK(sl_jr_unescape(&doc, 1, &back));
    SL_CHECK_MEM(back.data, back.len, all, 138);
    sl_buf_reset(&back);
    size_t n;
    const char *raw = sl_jr_raw(&doc, 3, &n);
    SL_CHECK_OK(sl_jr_base64_decode(&back, raw, n));
    SL_CHECK_MEM(back.data, back.len, all, 138);
    sl_jr_free(&doc);
    sl_buf_free(&out);
    sl_buf_free(&back);
}

SL_TEST(jsonread_base64_strict) {
    sl_buf_t b = SL_BUF_INIT;
    SL_CHECK_OK(sl_jr_base64_decode(&b, "", 0));
    SL_CHECK_INT(b.len, 0);
    SL_CHECK_OK(sl_jr_base64_decode(&b, "Zm9vYg==", 8));
    SL_CHECK_MEM(b.data, b.len, "foob", 4);
    const char *bad[] = {"Zm9",   "Zm9vYg=", "Zm=v", "Z===",    "Zm9vYh==",
                         "Zm 9v", "Zm9v\n",  "====", "Zm9v===="};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sl_buf_reset(&b);
        SL_CHECK_INT(sl_jr_base64_decode(&b, bad[i], strlen(bad[i])),
                     SL_ECORRUPT);
        SL_CHECK_INT(b.len, 0);
    }
    sl_buf_free(&b);
}

SL_TEST(jsonread_special_bytes_at_every_position) {
    /* The string scanner skips plain ASCII 8 bytes at a time; a quote,
     * backslash, control byte or non-ASCII byte at any position of a
     * window must still be seen. */
    sl_jr_doc_t doc;
    sl_jr_init(&doc);
    char text[64];
    for (int p = 0; p < 20; p++) {
        /* A control byte: rejected, at its position. */
        memset(text, 'a', sizeof text);
        text[0] = '"';
        text[1 + p] = '\x1f';
        text[30] = '"';
        SL_CHECK_INT(sl_jr_parse(&doc, text, 31), SL_ECORRUPT);
        SL_CHECK_INT(doc.err_pos, 1 + p);
        /* An early quote ends the string: trailing bytes. */
        text[1 + p] = '"';
        SL_CHECK_INT(sl_jr_parse(&doc, text, 31), SL_ECORRUPT);
        SL_CHECK(strstr(doc.err, "trailing") != NULL);
        /* An escaped quote is part of the string. */
        text[1 + p] = '\\';
        text[2 + p] = '"';
        SL_CHECK_OK(sl_jr_parse(&doc, text, 31));
        SL_CHECK_INT(sl_jr_tok(&doc, 0)->len, 29);
        SL_CHECK(sl_jr_tok(&doc, 0)->escaped);
        /* A 2-byte UTF-8 sequence is accepted; a lone continuation byte
         * is not. */
        memset(text, 'a', sizeof text);
        text[0] = '"';
        text[1 + p] = '\xc3';
        text[2 + p] = '\xa9';
        text[30] = '"';
        SL_CHECK_OK(sl_jr_parse(&doc, text, 31));
        text[1 + p] = '\xa9';
        SL_CHECK_INT(sl_jr_parse(&doc, text, 31), SL_ECORRUPT);
        SL_CHECK_INT(doc.err_pos, 1 + p);
    }
    sl_jr_free(&doc);
}

SL_TEST(jsonread_member_lookup) {
    sl_jr_doc_t doc;
    sl_jr_init(&doc);
    const char *t =
        "{\"\":0,\"ab\":1,\"k\\u0065y\":2,\"key\":3,\"a\":{\"b\":4},"
        "\"ba\":5}";
    SL_CHECK_OK(sl_jr_parse(&doc, t, strlen(t)));
    int64_t v;
    /* An escaped key matches after unescaping, and the first of two
     * equal keys wins. */
    SL_CHECK_OK(sl_jr_i64(&doc, sl_jr_get(&doc, 0, "key"), &v));
    SL_CHECK_INT(v, 2);
    SL_CHECK_OK(sl_jr_i64(&doc, sl_jr_get(&doc, 0, ""), &v));
    SL_CHECK_INT(v, 0);
    SL_CHECK_OK(sl_jr_i64(&doc, sl_jr_get(&doc, 0, "ba"), &v));
    SL_CHECK_INT(v, 5);
    /* Lookups skip nested objects whole. */
    SL_CHECK(sl_jr_get(&doc, 0, "b") == SL_JR_NONE);
    uint32_t a = sl_jr_get(&doc, 0, "a");
    SL_CHECK_OK(sl_jr_i64(&doc, sl_jr_get(&doc, a, "b"), &v));
    SL_CHECK_INT(v, 4);
    SL_CHECK(sl_jr_get(&doc, 0, "k") == SL_JR_NONE);
    SL_CHECK(sl_jr_get(&doc, 0, "keys") == SL_JR_NONE);
    SL_CHECK(sl_jr_get(&doc, 99, "a") == SL_JR_NONE);
    sl_jr_free(&doc);
}

/* sl_jr_i64() against strtoll() for every length up to 21 digits, both
 * signs, all nines and random digits: the first 19 digits take a path
 * without overflow checks, which must agree on every value and range. */
SL_TEST(jsonread_i64_matches_strtoll) {
    sl_jr_doc_t doc;
    sl_jr_init(&doc);
    uint64_t seed = 0x9E3779B97F4A7C15ull;
    for (int len = 1; len <= 21; len++) {
        for (int trial = 0; trial < 200; trial++) {
            char text[32];
            int neg = trial & 1, o = 0;
            if (neg)
                text[o++] = '-';
            for (int d = 0; d < len; d++) {
                seed = seed * 6364136223846793005ull + 1442695040888963407ull;
                int digit = trial < 4 ? 9 : (int)((seed >> 33) % 10);
                if (d == 0 && digit == 0 && len > 1)
                    digit = 1; /* JSON numbers have no leading zeros. */
                text[o++] = (char)('0' + digit);
            }
            text[o] = '\0';
            SL_CHECK_OK(sl_jr_parse(&doc, text, (size_t)o));
            errno = 0;
            long long want = strtoll(text, NULL, 10);
            int want_rc = errno == ERANGE ? SL_ERANGE : 0;
            int64_t got = 0;
            int rc = sl_jr_i64(&doc, 0, &got);
            if (rc != want_rc || (rc == 0 && got != want))
                sl_test_fail(__FILE__, __LINE__,
                             "%s: rc %d value %lld, "
                             "strtoll rc %d value %lld",
                             text, rc, (long long)got, want_rc, want);
        }
    }
    sl_jr_free(&doc);
}
