/* Unit tests for row-event routing keys and column exclusion. */
#include "capture/rowjson.h"
#include "error.h"
#include "sl_test.h"

static const char ins[] =
    "{\"kind\":\"row\",\"op\":\"insert\",\"db\":\"shop\",\"table\":\"u\","
    "\"pk\":[\"id\",\"k\"],\"before\":null,\"after\":{\"id\":7,\"k\":\"a\","
    "\"email\":\"x@y\",\"ssn\":\"123\"},\"types\":{\"id\":\"int\",\"k\":"
    "\"char(1)\",\"email\":\"varchar(9)\",\"ssn\":\"char(3)\"}}";

static uint64_t key_hash(sl_jr_doc_t *doc, const char *json) {
    uint64_t h = 0;
    SL_CHECK_OK(sl_rowjson_key_hash(doc, json, strlen(json), &h));
    return h;
}

SL_TEST(rowjson_key_hash_follows_the_primary_key) {
    sl_jr_doc_t doc;
    sl_jr_init(&doc);
    const char *upd =
        "{\"op\":\"update\",\"pk\":[\"id\",\"k\"],\"before\":{\"id\":7,"
        "\"k\":\"a\",\"email\":\"old\"},\"after\":{\"id\":7,\"k\":\"a\","
        "\"email\":\"new\"}}";
    const char *del =
        "{\"op\":\"delete\",\"pk\":[\"id\",\"k\"],\"before\":{\"email\":"
        "\"zzz\",\"k\":\"a\",\"id\":7},\"after\":null}";
    const char *other =
        "{\"op\":\"insert\",\"pk\":[\"id\",\"k\"],\"before\":null,"
        "\"after\":{\"id\":7,\"k\":\"b\",\"email\":\"x@y\"}}";
    /* Every change of key (7,'a') hashes alike, whatever else differs. */
    uint64_t h = key_hash(&doc, ins);
    SL_CHECK_UINT(key_hash(&doc, upd), h);
    SL_CHECK_UINT(key_hash(&doc, del), h);
    SL_CHECK(key_hash(&doc, other) != h);
    /* ("7a") and ("7","a") must not collide by concatenation. */
    const char *glued = "{\"op\":\"insert\",\"pk\":[\"id\"],\"after\":"
                        "{\"id\":\"7a\"}}";
    SL_CHECK(key_hash(&doc, glued) != h);
    uint64_t out;
    SL_CHECK_INT(sl_rowjson_key_hash(&doc, "[1]", 3, &out), SL_ECORRUPT);
    SL_CHECK_INT(sl_rowjson_key_hash(&doc, "{\"op\":\"insert\"}", 15, &out),
                 SL_ECORRUPT);
    sl_jr_free(&doc);
}

static int drop_pii(void *ctx, const char *name, size_t len) {
    (void)ctx;
    return !((len == 3 && memcmp(name, "ssn", 3) == 0) ||
             (len == 5 && memcmp(name, "email", 5) == 0));
}

static int drop_id(void *ctx, const char *name, size_t len) {
    (void)ctx;
    return !(len == 2 && memcmp(name, "id", 2) == 0);
}

SL_TEST(rowjson_drops_excluded_columns) {
    sl_jr_doc_t doc;
    sl_jr_init(&doc);
    sl_buf_t out = SL_BUF_INIT, scratch = SL_BUF_INIT;
    size_t dropped;
    SL_CHECK_OK(sl_rowjson_drop_columns(&doc, ins, strlen(ins), drop_pii,
                                        NULL, &scratch, &out, &dropped));
    const char *text;
    SL_CHECK_OK(sl_buf_cstr(&out, &text));
    SL_CHECK_STR(text,
                 "{\"kind\":\"row\",\"op\":\"insert\",\"db\":\"shop\","
                 "\"table\":\"u\",\"pk\":[\"id\",\"k\"],\"before\":null,"
                 "\"after\":{\"id\":7,\"k\":\"a\"},\"types\":{\"id\":\"int\","
                 "\"k\":\"char(1)\"}}");
    SL_CHECK_UINT(dropped, 2);
    /* The result is valid JSON. */
    SL_CHECK_OK(sl_jr_parse(&doc, text, out.len));
    /* A primary-key column cannot be dropped. */
    sl_buf_reset(&out);
    SL_CHECK_INT(sl_rowjson_drop_columns(&doc, ins, strlen(ins), drop_id,
                                         NULL, &scratch, &out, &dropped),
                 SL_EINVAL);
    SL_CHECK_UINT(out.len, 0);
    sl_buf_free(&out);
    sl_buf_free(&scratch);
    sl_jr_free(&doc);
}
