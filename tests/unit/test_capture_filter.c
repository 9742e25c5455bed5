/* Unit tests for capture's table and column filters. */
#include "capture/filter.h"
#include "error.h"
#include "sl_test.h"

#define T(f, db, table) sl_filter_table(f, db, strlen(db), table, strlen(table))

SL_TEST(filter_include_and_exclude_are_anchored) {
    const char *include[] = {"shop\\..*", "crm\\.customers"};
    const char *exclude[] = {"shop\\.tmp_.*"};
    sl_filter_t *f;
    char err[256];
    SL_CHECK_OK(
        sl_filter_new(&f, include, 2, exclude, 1, NULL, 0, err, sizeof err));
    SL_CHECK_INT(T(f, "shop", "orders"), 1);
    SL_CHECK_INT(T(f, "shop", "tmp_x"), 0);
    SL_CHECK_INT(T(f, "crm", "customers"), 1);
    /* Anchored at both ends: no partial matches. */
    SL_CHECK_INT(T(f, "crm", "customers_old"), 0);
    SL_CHECK_INT(T(f, "myshop", "orders"), 0);
    SL_CHECK_INT(T(f, "other", "t"), 0);
    /* Cached answers stay the same, across many tables (table growth). */
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 500; i++) {
            char table[32];
            snprintf(table, sizeof table, "t%d", i);
            SL_CHECK_INT(T(f, "shop", table), 1);
            SL_CHECK_INT(T(f, "nope", table), 0);
        }
        SL_CHECK_INT(T(f, "shop", "tmp_x"), 0);
    }
    sl_filter_free(f);
}

SL_TEST(filter_no_rules_keeps_everything) {
    sl_filter_t *f;
    char err[256];
    SL_CHECK_OK(sl_filter_new(&f, NULL, 0, NULL, 0, NULL, 0, err, sizeof err));
    SL_CHECK_INT(T(f, "a", "b"), 1);
    SL_CHECK_INT(sl_filter_column(f, "a", 1, "b", 1, "c", 1), 1);
    SL_CHECK_INT(sl_filter_has_column_rules(f), 0);
    sl_filter_free(f);
}

SL_TEST(filter_columns_and_utf8_names) {
    const char *columns[] = {"shop\\.users\\.(email|phone)", ".*\\.ssn"};
    const char *include[] = {"caf\xc3\xa9\\..*"};
    sl_filter_t *f;
    char err[256];
    SL_CHECK_OK(
        sl_filter_new(&f, include, 1, NULL, 0, columns, 2, err, sizeof err));
    SL_CHECK_INT(sl_filter_column(f, "shop", 4, "users", 5, "email", 5), 0);
    SL_CHECK_INT(sl_filter_column(f, "shop", 4, "users", 5, "name", 4), 1);
    SL_CHECK_INT(sl_filter_column(f, "hr", 2, "people", 6, "ssn", 3), 0);
    SL_CHECK_INT(sl_filter_column(f, "hr", 2, "people", 6, "ssn2", 4), 1);
    SL_CHECK_INT(sl_filter_has_column_rules(f), 1);
    SL_CHECK_INT(T(f, "caf\xc3\xa9", "menu"), 1);
    SL_CHECK_INT(T(f, "cafe", "menu"), 0);
    sl_filter_free(f);
}

SL_TEST(filter_bad_pattern_is_a_clear_error) {
    const char *bad[] = {"ok", "shop\\.(unclosed"};
    sl_filter_t *f;
    char err[256];
    SL_CHECK_INT(sl_filter_new(&f, bad, 2, NULL, 0, NULL, 0, err, sizeof err),
                 SL_ECONFIG);
    SL_CHECK(f == NULL);
    SL_CHECK(strstr(err, "include pattern 'shop\\.(unclosed'") != NULL);
    SL_CHECK(strstr(err, "offset") != NULL);
}
