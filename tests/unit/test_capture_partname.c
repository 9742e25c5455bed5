/* Unit tests for the partition-name encoding of capture/partname.h. */
#include "capture/partname.h"
#include "capture/route.h"
#include "error.h"
#include "sl_test.h"

#include <stdlib.h>

/* The broker's rule (bytes 0x21..0x7E) and Kafka's ([A-Za-z0-9._-], at
 * most 249, not "." or ".."), checked on a finished name. */
static int kafka_valid(const char *s, size_t n) {
    if (n == 0 || n > 249 || (n == 1 && s[0] == '.') ||
        (n == 2 && s[0] == '.' && s[1] == '.'))
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

static const char *enc(const char *db, const char *table, sl_buf_t *buf) {
    const char *str;
    sl_buf_reset(buf);
    SL_CHECK_OK(sl_partname_encode(db, strlen(db), table,
                                   table ? strlen(table) : 0, buf));
    SL_CHECK(kafka_valid((const char *)buf->data, buf->len));
    SL_CHECK_OK(sl_buf_cstr(buf, &str));
    return str;
}

/* Encodes, decodes and compares with the input. */
static void round_trip(const char *db, size_t db_len, const char *table,
                       size_t table_len) {
    sl_buf_t name = SL_BUF_INIT, d = SL_BUF_INIT, t = SL_BUF_INIT;
    int has_table = -1;
    SL_CHECK_OK(sl_partname_encode(db, db_len, table, table_len, &name));
    SL_CHECK(kafka_valid((const char *)name.data, name.len));
    SL_CHECK_OK(sl_partname_decode((const char *)name.data, name.len, &d, &t,
                                   &has_table));
    SL_CHECK_INT(has_table, table != NULL);
    SL_CHECK_UINT(d.len, db_len);
    SL_CHECK(memcmp(d.data, db, db_len) == 0);
    if (table != NULL) {
        SL_CHECK_UINT(t.len, table_len);
        SL_CHECK(memcmp(t.data, table, table_len) == 0);
    }
    sl_buf_free(&name);
    sl_buf_free(&d);
    sl_buf_free(&t);
}

SL_TEST(partname_plain_names_are_unchanged) {
    sl_buf_t buf = SL_BUF_INIT;
    SL_CHECK_STR(enc("shop", "users", &buf), "shop.users");
    SL_CHECK_STR(enc("Shop_2", "Order_Items_9", &buf), "Shop_2.Order_Items_9");
    SL_CHECK_STR(enc("shop", NULL, &buf), "shop");
    /* 64 plain characters each: 129, as before. */
    char a[65], b[65], want[130];
    memset(a, 'a', 64);
    a[64] = '\0';
    memset(b, 'B', 64);
    b[64] = '\0';
    snprintf(want, sizeof want, "%s.%s", a, b);
    SL_CHECK_STR(enc(a, b, &buf), want);
    sl_buf_free(&buf);
}

SL_TEST(partname_escapes_every_other_byte) {
    sl_buf_t buf = SL_BUF_INIT;
    SL_CHECK_STR(enc("café", "my table", &buf), "caf-c3-a9.my-20table");
    SL_CHECK_STR(enc("測試", "表格", &buf),
                 "-e6-b8-ac-e8-a9-a6.-e8-a1-a8-e6-a0-bc");
    SL_CHECK_STR(enc("a.b", "c", &buf), "a-2eb.c");
    SL_CHECK_STR(enc("a", "b.c", &buf), "a.b-2ec");
    SL_CHECK_STR(enc("x-y", "`q'\"", &buf), "x-2dy.-60q-27-22");
    SL_CHECK_STR(enc("my db", NULL, &buf), "my-20db");
    sl_buf_free(&buf);
}

SL_TEST(partname_round_trips) {
    const char *pairs[][2] = {
        {"café", "測試表格"}, {"my db", "my table"},
        {"a.b", "c.d"},       {"x-y", "-"},
        {"`", "'"},           {"--", ".."},
        {"-2e", "-"},         {"shop", "users"},
        {" ", "\x7f"},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        round_trip(pairs[i][0], strlen(pairs[i][0]), pairs[i][1],
                   strlen(pairs[i][1]));
        round_trip(pairs[i][0], strlen(pairs[i][0]), NULL, 0);
    }
    /* Every byte value, alone and next to a dot. */
    for (int c = 0; c < 256; c++) {
        char one[2] = {(char)c, '.'};
        round_trip(one, 1, one, 2);
    }
    /* Random pairs whose encoding fits the short form. */
    srand(12);
    for (int n = 0; n < 2000; n++) {
        char db[40], table[40];
        size_t dl = 1 + (size_t)rand() % 39, tl = 1 + (size_t)rand() % 39;
        for (size_t i = 0; i < dl; i++)
            db[i] = (char)(rand() % 256);
        for (size_t i = 0; i < tl; i++)
            table[i] = (char)(rand() % 256);
        round_trip(db, dl, table, tl);
    }
}

SL_TEST(partname_worst_case_fits_kafka) {
    /* 64 four-byte characters each (more than the servers allow). */
    char db[256 + 1], table[64 * 3 + 1];
    for (int i = 0; i < 64; i++)
        memcpy(db + 4 * i, "\xf4\x8f\xbf\xbf", 4);
    db[256] = '\0';
    for (int i = 0; i < 64; i++)
        memcpy(table + 3 * i, "測", 3);
    table[192] = '\0';
    sl_buf_t buf = SL_BUF_INIT, d = SL_BUF_INIT, t = SL_BUF_INIT;
    const char *name = enc(db, table, &buf);
    SL_CHECK_UINT(buf.len, SL_PARTNAME_MAX);
    /* The digest is SHA-256 of the full encoding (computed independently
     * with Python's hashlib). */
    SL_CHECK(strstr(name, "-f4-8f-bf-bf-f4--b1c12fbe4a2d4a5b2eb97a486cd8639f"
                          "dfdcc26fbcbde08043e1abf52c68f334") != NULL);
    SL_CHECK(sl_partname_is_long(name, buf.len));
    int has_table;
    SL_CHECK_INT(sl_partname_decode(name, buf.len, &d, &t, &has_table),
                 SL_ETRUNC);
    /* The same with key routing stays within the broker's 255 bytes. */
    sl_route_t route;
    SL_CHECK_OK(sl_route_parse("key:65536", &route));
    sl_buf_reset(&buf);
    SL_CHECK_OK(sl_route_partition(&route, db, strlen(db), table, strlen(table),
                                   65535, &buf));
    SL_CHECK_UINT(buf.len, SL_PARTNAME_MAX + 6);
    /* A cut that would split an escape backs up to its '-'. */
    char cut[202];
    cut[0] = 'a';
    for (int i = 0; i < 100; i++)
        memcpy(cut + 1 + 2 * i, "é", 2);
    cut[201] = '\0';
    name = enc(cut, "t", &buf);
    SL_CHECK_UINT(buf.len, 247);
    SL_CHECK(strstr(name, "c3-a9-c3-a9--3c66e972f4514f3b0a1f8550f6c66de0"
                          "89b7851fbfad7b4156d5d797930199fb") != NULL);
    sl_buf_free(&buf);
    sl_buf_free(&d);
    sl_buf_free(&t);
}

SL_TEST(partname_long_forms_differ_when_names_differ) {
    /* Two pairs that share the whole readable prefix: only the digest
     * tells them apart, and it does. */
    char a[193], b[193];
    for (int i = 0; i < 64; i++) {
        memcpy(a + 3 * i, "測", 3);
        memcpy(b + 3 * i, "測", 3);
    }
    a[192] = b[192] = '\0';
    b[191] = (char)0xad; /* The last character differs. */
    sl_buf_t x = SL_BUF_INIT, y = SL_BUF_INIT;
    SL_CHECK_OK(sl_partname_encode(a, 192, a, 192, &x));
    SL_CHECK_OK(sl_partname_encode(a, 192, b, 192, &y));
    SL_CHECK(x.len == y.len && x.len <= SL_PARTNAME_MAX);
    SL_CHECK(memcmp(x.data, y.data, x.len) != 0);
    SL_CHECK(memcmp(x.data, y.data, SL_PARTNAME_PREFIX_MAX - 3) == 0);
    sl_buf_free(&x);
    sl_buf_free(&y);
}

SL_TEST(partname_collisions_impossible_in_short_form) {
    /* Decoding is a function and enc(dec(n)) == n, so two pairs never
     * share a short name: check on every name of up to 6 characters of
     * the output alphabet that decodes. */
    const char alpha[] = "a_Z9.-2e0f";
    size_t na = sizeof alpha - 1;
    sl_buf_t d = SL_BUF_INIT, t = SL_BUF_INIT, re = SL_BUF_INIT;
    unsigned decoded = 0;
    for (size_t len = 1; len <= 6; len++) {
        size_t total = 1;
        for (size_t i = 0; i < len; i++)
            total *= na;
        for (size_t n = 0; n < total; n++) {
            char name[8];
            size_t v = n;
            for (size_t i = 0; i < len; i++, v /= na)
                name[i] = alpha[v % na];
            int has_table;
            if (sl_partname_decode(name, len, &d, &t, &has_table) != 0)
                continue;
            decoded++;
            sl_buf_reset(&re);
            SL_CHECK_OK(sl_partname_encode(
                (const char *)d.data, d.len,
                has_table ? (const char *)t.data : NULL, t.len, &re));
            SL_CHECK(re.len == len && memcmp(re.data, name, len) == 0);
        }
    }
    SL_CHECK(decoded > 1000);
    sl_buf_free(&d);
    sl_buf_free(&t);
    sl_buf_free(&re);
}

SL_TEST(partname_decode_refuses_foreign_names) {
    sl_buf_t d = SL_BUF_INIT, t = SL_BUF_INIT;
    int has_table;
    const char *bad[] = {"",    ".",    "a.",   ".a",         "a.b.c",
                         "a-2", "a-zz", "a-2E", "a-41",       "a#1",
                         "a b", "a-5f", "-c3-", "caf\xc3\xa9"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        SL_CHECK_INT(
            sl_partname_decode(bad[i], strlen(bad[i]), &d, &t, &has_table),
            SL_EINVAL);
    SL_CHECK_INT(sl_partname_decode("a--00", 5, &d, &t, &has_table), SL_ETRUNC);
    sl_buf_t out = SL_BUF_INIT;
    SL_CHECK_INT(sl_partname_encode("", 0, "t", 1, &out), SL_EINVAL);
    SL_CHECK_INT(sl_partname_encode("d", 1, "", 0, &out), SL_EINVAL);
    sl_buf_free(&out);
    sl_buf_free(&d);
    sl_buf_free(&t);
}

SL_TEST(route_escapes_names_in_every_mode) {
    sl_route_t route;
    sl_buf_t buf = SL_BUF_INIT;
    const char *str;
    SL_CHECK_OK(sl_route_parse("database", &route));
    SL_CHECK_OK(sl_route_partition(&route, "café", 5, "t", 1, 0, &buf));
    SL_CHECK_OK(sl_buf_cstr(&buf, &str));
    SL_CHECK_STR(str, "caf-c3-a9");
    SL_CHECK_OK(sl_route_parse("key:4", &route));
    sl_buf_reset(&buf);
    SL_CHECK_OK(sl_route_partition(&route, "my db", 5, "a.b", 3, 7, &buf));
    SL_CHECK_OK(sl_buf_cstr(&buf, &str));
    SL_CHECK_STR(str, "my-20db.a-2eb#3");
    sl_buf_free(&buf);
}
