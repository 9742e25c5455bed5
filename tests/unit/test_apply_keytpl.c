/* Unit tests for cache-key templates (apply/keytpl.h). */
#include "apply/keytpl.h"
#include "error.h"
#include "sl_test.h"

#include <stdio.h>
#include <stdlib.h>

static sl_keytpl_set_t *load(const char *text) {
    sl_keytpl_set_t *set = NULL;
    char err[256];
    int rc = sl_keytpl_parse(text, strlen(text), &set, err, sizeof err);
    if (rc != 0)
        sl_test_fail(__FILE__, __LINE__, "parse: %s", err);
    return set;
}

/* Evaluates tt on one event and returns the keys joined by '|'. */
static char *keys_of(const sl_keytpl_table_t *tt, const char *ev, int *rcp,
                     char *err, size_t errlen) {
    sl_jr_doc_t doc;
    sl_jr_init(&doc);
    if (sl_jr_parse(&doc, ev, strlen(ev)) != 0)
        sl_test_fail(__FILE__, __LINE__, "bad event: %s", doc.err);
    sl_keylist_t kl;
    sl_keylist_init(&kl);
    *rcp = sl_keytpl_eval(tt, &doc, sl_jr_get(&doc, 0, "before"),
                          sl_jr_get(&doc, 0, "after"), "shop", 4, "users", 5,
                          &kl, err, errlen);
    sl_buf_t out = SL_BUF_INIT;
    for (size_t i = 0; i < kl.count; i++) {
        size_t n;
        const char *k = sl_keylist_key(&kl, i, &n);
        if (i > 0)
            sl_buf_append_u8(&out, '|');
        sl_buf_append(&out, k, n);
    }
    const char *s;
    sl_buf_cstr(&out, &s);
    char *r = strdup(s);
    sl_buf_free(&out);
    sl_keylist_free(&kl);
    sl_jr_free(&doc);
    return r;
}

SL_TEST(keytpl_before_and_after_images) {
    sl_keytpl_set_t *set = load("# comment\n\n"
                                "shop.users  user:{id}\tuser:email:{email}\r\n"
                                "shop.*  t:{_db}.{_table}:{id}\n");
    const sl_keytpl_table_t *tt = sl_keytpl_find(set, "shop", 4, "users", 5);
    SL_CHECK(tt != NULL);
    int rc;
    char err[256];
    /* A changed e-mail invalidates the old and the new key; the unchanged
     * id key is deleted once. */
    char *k = keys_of(tt,
                      "{\"before\":{\"id\":7,\"email\":\"a@x\"},"
                      "\"after\":{\"id\":7,\"email\":\"b@x\"}}",
                      &rc, err, sizeof err);
    SL_CHECK_OK(rc);
    SL_CHECK_STR(k, "user:7|user:email:a@x|user:email:b@x");
    free(k);
    /* Insert (no before) and delete (no after). */
    k = keys_of(tt, "{\"before\":null,\"after\":{\"id\":1,\"email\":\"e\"}}",
                &rc, err, sizeof err);
    SL_CHECK_OK(rc);
    SL_CHECK_STR(k, "user:1|user:email:e");
    free(k);
    k = keys_of(tt, "{\"after\":null,\"before\":{\"id\":1,\"email\":null}}",
                &rc, err, sizeof err);
    SL_CHECK_OK(rc);
    SL_CHECK_STR(k, "user:1");
    free(k);
    /* The db.* line applies to other tables, with the pseudo columns. */
    const sl_keytpl_table_t *w = sl_keytpl_find(set, "shop", 4, "orders", 6);
    SL_CHECK(w != NULL && w != tt);
    k = keys_of(w, "{\"before\":null,\"after\":{\"id\":18446744073709551615}}",
                &rc, err, sizeof err);
    SL_CHECK_OK(rc);
    SL_CHECK_STR(k, "t:shop.users:18446744073709551615");
    free(k);
    SL_CHECK(sl_keytpl_find(set, "other", 5, "users", 5) == NULL);
    SL_CHECK(sl_keytpl_find(set, "sho", 3, "users", 5) == NULL);
    SL_CHECK_INT(sl_keytpl_count(set), 2);
    SL_CHECK_STR(sl_keytpl_name(set, 1), "shop.*");
    sl_keytpl_free(set);
}

SL_TEST(keytpl_value_rendering_and_escaping) {
    sl_keytpl_set_t *set = load("shop.users {{k}}:{v}:}}\n");
    const sl_keytpl_table_t *tt = sl_keytpl_find(set, "shop", 4, "users", 5);
    int rc;
    char err[256];
    struct {
        const char *val, *key;
    } cases[] = {
        {"\"a b%c\\n\\u00e9\"", "{k}:a%20b%25c%0A\xc3\xa9:}"},
        {"12345678901234567890.000000001",
         "{k}:12345678901234567890.000000001:}"},
        {"-0.5e10", "{k}:-0.5e10:}"},
        {"true", "{k}:1:}"},
        {"false", "{k}:0:}"},
        {"{\"base64\":\"AH9B\"}", "{k}:%00%7FA:}"},
        {"{\"a\": [1, 2]}", "{k}:{\"a\":%20[1,%202]}:}"},
        {"[\"x\"]", "{k}:[\"x\"]:}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char ev[256];
        snprintf(ev, sizeof ev, "{\"before\":null,\"after\":{\"v\":%s}}",
                 cases[i].val);
        char *k = keys_of(tt, ev, &rc, err, sizeof err);
        SL_CHECK_OK(rc);
        SL_CHECK_STR(k, cases[i].key);
        free(k);
    }
    sl_keytpl_free(set);
}

SL_TEST(keytpl_missing_column_is_an_error) {
    sl_keytpl_set_t *set = load("shop.users user:{id} mail:{email}\n");
    const sl_keytpl_table_t *tt = sl_keytpl_find(set, "shop", 4, "users", 5);
    int rc;
    char err[256];
    char *k = keys_of(tt,
                      "{\"before\":{\"id\":1,\"email\":\"a\"},"
                      "\"after\":{\"id\":1}}",
                      &rc, err, sizeof err);
    SL_CHECK_INT(rc, SL_ECORRUPT);
    SL_CHECK(strstr(err, "\"email\" is not in the after image") != NULL);
    /* Nothing of the failed row is left in the list. */
    SL_CHECK_STR(k, "");
    free(k);
    k = keys_of(tt, "{\"before\":null,\"after\":[1]}", &rc, err, sizeof err);
    SL_CHECK_INT(rc, SL_ECORRUPT);
    free(k);
    /* Start-up validation names the unknown column. */
    const char *cols[] = {"id", "name"};
    SL_CHECK_INT(sl_keytpl_validate(tt, cols, 2, err, sizeof err), SL_ECONFIG);
    SL_CHECK(strstr(err, "\"email\"") != NULL);
    SL_CHECK(strstr(err, "shop.users") != NULL);
    const char *cols2[] = {"email", "id"};
    SL_CHECK_OK(sl_keytpl_validate(tt, cols2, 2, err, sizeof err));
    sl_keytpl_free(set);
}

SL_TEST(keytpl_rejects_bad_files) {
    static const char *bad[] = {
        "",
        "# only a comment\n",
        "users user:{id}\n",
        "shop. k:{id}\n",
        ".users k:{id}\n",
        "shop.users\n",
        "shop.users k:{id\n",
        "shop.users k:}{id}\n",
        "shop.users k:{}\n",
        "shop.users k:{a{b}\n",
        "shop.users constant\n",
        "shop.users a:{id}\nshop.users b:{id}\n",
        "shop.users a:{id}\x01\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sl_keytpl_set_t *set = NULL;
        char err[256] = "";
        int rc = sl_keytpl_parse(bad[i], strlen(bad[i]), &set, err, sizeof err);
        if (rc != SL_ECONFIG)
            sl_test_fail(__FILE__, __LINE__, "bad[%zu] gave %d", i, rc);
        SL_CHECK(set == NULL);
        SL_CHECK(err[0] != '\0');
    }
    char err[256];
    sl_keytpl_set_t *set = NULL;
    const char *two = "# x\nshop.users k:{\n";
    SL_CHECK_INT(sl_keytpl_parse(two, strlen(two), &set, err, sizeof err),
                 SL_ECONFIG);
    SL_CHECK(strstr(err, "line 2") != NULL);
    SL_CHECK_INT(sl_keytpl_load("/nonexistent/keys", &set, err, sizeof err),
                 SL_ECONFIG);
    SL_CHECK(strstr(err, "/nonexistent/keys") != NULL);
}

/* Issue 12 item 15: any name MariaDB allows (spaces, dots, backticks,
 * UTF-8) can be given key templates by backquoting it, and plain names
 * split exactly as before. */
SL_TEST(keytpl_quoted_names_with_spaces_dots_and_backticks) {
    sl_keytpl_set_t *set =
        load("`my db`.`my table`   sp:{id}\n"
             "  `v1.2`.users\tdot:{id}\n"
             "shop.`order items`   oi:{id}\n"
             "`a``b`.`c``d.e`      bt:{id}\n"
             "`caf\xc3\xa9`.*              cafe:{_table}:{id}\n"
             "shop.`*`             star:{id}\n"
             "plain.t.with.dots    pd:{id}\n"
             "odd.x`y              ob:{id}\n");
    struct {
        const char *db, *table, *key;
    } cases[] = {
        {"my db", "my table", "sp:1"},
        {"v1.2", "users", "dot:1"},
        {"shop", "order items", "oi:1"},
        {"a`b", "c`d.e", "bt:1"},
        {"caf\xc3\xa9", "any table", "cafe:any%20table:1"},
        {"shop", "*", "star:1"},
        /* A plain name still ends at the first dot: db "plain". */
        {"plain", "t.with.dots", "pd:1"},
        /* A backtick inside a plain name is an ordinary byte. */
        {"odd", "x`y", "ob:1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const sl_keytpl_table_t *tt =
            sl_keytpl_find(set, cases[i].db, strlen(cases[i].db),
                           cases[i].table, strlen(cases[i].table));
        if (tt == NULL)
            sl_test_fail(__FILE__, __LINE__, "no templates for %s.%s",
                         cases[i].db, cases[i].table);
        sl_jr_doc_t doc;
        sl_jr_init(&doc);
        const char *ev = "{\"before\":null,\"after\":{\"id\":1}}";
        SL_CHECK_OK(sl_jr_parse(&doc, ev, strlen(ev)));
        sl_keylist_t kl;
        sl_keylist_init(&kl);
        char err[256];
        SL_CHECK_OK(sl_keytpl_eval(
            tt, &doc, sl_jr_get(&doc, 0, "before"), sl_jr_get(&doc, 0, "after"),
            cases[i].db, strlen(cases[i].db), cases[i].table,
            strlen(cases[i].table), &kl, err, sizeof err));
        SL_CHECK_UINT(kl.count, 1);
        size_t n;
        const char *k = sl_keylist_key(&kl, 0, &n);
        if (n != strlen(cases[i].key) || memcmp(k, cases[i].key, n) != 0)
            sl_test_fail(__FILE__, __LINE__, "%s.%s: key %.*s, want %s",
                         cases[i].db, cases[i].table, (int)n, k, cases[i].key);
        sl_keylist_free(&kl);
        sl_jr_free(&doc);
    }
    /* The quoted "*" is a table, not the wildcard: other shop tables get
     * nothing; a quoted dotted db is not split. */
    SL_CHECK(sl_keytpl_find(set, "shop", 4, "users", 5) == NULL);
    SL_CHECK(sl_keytpl_find(set, "v1", 2, "2.users", 7) == NULL);
    SL_CHECK(sl_keytpl_find(set, "my", 2, "db", 2) == NULL);
    sl_keytpl_free(set);
    set = NULL;

    /* Names and messages: the decoded names for the target check, the
     * written form for messages. */
    set = load("`my db`.`my table` sp:{id}\n`x.y`.* w:{id}\n");
    const char *db, *table;
    SL_CHECK_INT(sl_keytpl_names(set, 0, &db, &table), 0);
    SL_CHECK_STR(db, "my db");
    SL_CHECK_STR(table, "my table");
    SL_CHECK_STR(sl_keytpl_name(set, 0), "`my db`.`my table`");
    SL_CHECK_INT(sl_keytpl_names(set, 1, &db, &table), 1);
    SL_CHECK_STR(db, "x.y");
    SL_CHECK_STR(table, "*");
    sl_keytpl_free(set);
}

SL_TEST(keytpl_rejects_bad_quoted_names) {
    char longname[400];
    memset(longname, 'n', sizeof longname);
    snprintf(longname, sizeof longname, "`%0300d`.t k:{id}\n", 0);
    const char *bad[] = {
        "`my db.t k:{id}\n",                /* unterminated quote */
        "`my db`.`t k:{id}\n",              /* unterminated table quote */
        "``.t k:{id}\n",                    /* empty database */
        "shop.`` k:{id}\n",                 /* empty table */
        "`my db` k:{id}\n",                 /* no table */
        "`my db`x.t k:{id}\n",              /* text after the quote */
        "`a`.`b`c k:{id}\n",                /* text after the table quote */
        "`my db`.`my table`\n",             /* no template */
        "`a b`.t k:{id}\n`a b`.t j:{id}\n", /* listed twice */
        "shop.users k:{id}\nshop.`users` j:{id}\n", /* same table */
        "`a\x01`.t k:{id}\n",                       /* control byte */
        longname,                                   /* longer than 256 bytes */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sl_keytpl_set_t *set = NULL;
        char err[256] = "";
        int rc = sl_keytpl_parse(bad[i], strlen(bad[i]), &set, err, sizeof err);
        if (rc != SL_ECONFIG)
            sl_test_fail(__FILE__, __LINE__, "bad[%zu] gave %d", i, rc);
        SL_CHECK(set == NULL);
        SL_CHECK(strstr(err, "line ") != NULL);
    }
    /* shop.* and shop.`*` are different lines, not a duplicate. */
    sl_keytpl_set_t *set = load("shop.* a:{id}\nshop.`*` b:{id}\n");
    SL_CHECK_INT(sl_keytpl_count(set), 2);
    sl_keytpl_free(set);
}
