/* Unit tests for sl_schema_diff (capture/schema/drift.c), the comparison
 * behind the drift check: every field of a column that differs is found
 * and shown on both sides, tables one side lacks are counted apart, the
 * want callback limits both sides, and equal histories give no report. */
#include "capture/schema/schema.h"
#include "error.h"
#include "sl_test.h"

#include <stdlib.h>

static sl_schema_t *history(const char *const *sql) {
    sl_schema_t *s = NULL;
    SL_CHECK_OK(sl_schema_new(&s));
    char err[256];
    for (size_t i = 0; sql[i] != NULL; i++) {
        sl_ddl_effect_t eff;
        int rc = sl_schema_apply_ddl(s, "d", sql[i], strlen(sql[i]), &eff, err,
                                     sizeof err);
        sl_ddl_effect_free(&eff);
        if (rc != 0)
            sl_test_fail(__FILE__, __LINE__, "%s: %s", sql[i], err);
    }
    return s;
}

/* A history of database d (latin1) and the statement stmt (none when
 * NULL). */
static sl_schema_t *with(const char *stmt) {
    const char *sql[] = {"CREATE DATABASE d CHARACTER SET latin1", stmt, NULL};
    return history(sql);
}

/* Diffs the history of a with that of b; returns the report (static). */
static const char *diff(const char *a, const char *b,
                        int (*want)(void *ctx, const char *, const char *),
                        sl_schema_diff_t *d) {
    static char out[8192];
    sl_schema_t *ha = with(a), *hb = with(b);
    sl_buf_t report = SL_BUF_INIT;
    SL_CHECK_OK(sl_schema_diff(ha, hb, want, NULL, &report, d));
    snprintf(out, sizeof out, "%.*s", (int)report.len,
             report.data ? (const char *)report.data : "");
    sl_buf_free(&report);
    sl_schema_free(ha);
    sl_schema_free(hb);
    return out;
}

SL_TEST(schema_diff_equal_histories_give_no_report) {
    sl_schema_diff_t d;
    const char *r = diff("CREATE TABLE t (id int PRIMARY KEY, e "
                         "enum('a','b'), v varchar(3) CHARSET utf8mb4)",
                         "CREATE TABLE t (id int PRIMARY KEY, e "
                         "enum('a','b'), v varchar(3) CHARSET utf8mb4)",
                         NULL, &d);
    SL_CHECK_STR(r, "");
    SL_CHECK_INT(d.differ + d.only_history + d.only_server, 0);
    SL_CHECK_INT(d.compared, 1);
}

SL_TEST(schema_diff_each_column_field) {
    /* One pair of definitions per field the history keeps. */
    static const struct {
        const char *a, *b, *history_line, *server_line;
    } cases[] = {
        {"CREATE TABLE t (a int, b int)", "CREATE TABLE t (a int, c int)",
         "column 2 history:  b type=int column_type=int(11) unsigned=no "
         "charset=- nullable=yes pk=0",
         "column 2 server:   c type=int"},
        {"CREATE TABLE t (a int, b int)", "CREATE TABLE t (a int, b bigint)",
         "column 2 history:  b type=int column_type=int(11)",
         "column 2 server:   b type=bigint column_type=bigint(20)"},
        {"CREATE TABLE t (a varchar(5))", "CREATE TABLE t (a varchar(6))",
         "column_type=varchar(5)", "column_type=varchar(6)"},
        {"CREATE TABLE t (a int)", "CREATE TABLE t (a int unsigned)",
         "unsigned=no", "column_type=int(10) unsigned unsigned=yes"},
        {"CREATE TABLE t (a text)", "CREATE TABLE t (a text CHARSET utf8mb4)",
         "charset=latin1", "charset=utf8mb4"},
        {"CREATE TABLE t (a enum('x','y'))", "CREATE TABLE t (a enum('x','z'))",
         "values=['x','y']", "values=['x','z']"},
        {"CREATE TABLE t (a int)", "CREATE TABLE t (a int NOT NULL)",
         "nullable=yes", "nullable=no"},
        {"CREATE TABLE t (a int NOT NULL, b int NOT NULL, PRIMARY KEY (a, b))",
         "CREATE TABLE t (a int NOT NULL, b int NOT NULL, PRIMARY KEY (b, a))",
         "column 1 history:  a type=int column_type=int(11) unsigned=no "
         "charset=- nullable=no pk=1",
         "column 1 server:   a type=int column_type=int(11) unsigned=no "
         "charset=- nullable=no pk=2"},
        {"CREATE TABLE t (a int)", "CREATE TABLE t (a int, b int)",
         "column 2 history:  (none)", "column 2 server:   b type=int"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sl_schema_diff_t d;
        const char *r = diff(cases[i].a, cases[i].b, NULL, &d);
        if (d.differ != 1 || d.only_history != 0 || d.only_server != 0 ||
            strncmp(r, "d.t: the history and the server differ\n", 39) != 0 ||
            strstr(r, cases[i].history_line) == NULL ||
            strstr(r, cases[i].server_line) == NULL)
            sl_test_fail(__FILE__, __LINE__, "case %zu: %zu/%zu/%zu\n%s", i,
                         d.differ, d.only_history, d.only_server, r);
    }
}

SL_TEST(schema_diff_shows_equal_columns_once_and_table_charset) {
    sl_schema_diff_t d;
    const char *r = diff("CREATE TABLE t (id int, v char(1)) CHARSET latin1",
                         "CREATE TABLE t (id int, v char(1) CHARSET latin1) "
                         "CHARSET utf8mb4",
                         NULL, &d);
    SL_CHECK_INT(d.differ, 1);
    SL_CHECK_STR(r, "d.t: the history and the server differ\n"
                    "  table charset: history latin1, server utf8mb4\n"
                    "  column 1 same:     id type=int column_type=int(11) "
                    "unsigned=no charset=- nullable=yes pk=0\n"
                    "  column 2 same:     v type=char column_type=char(1) "
                    "unsigned=no charset=latin1 nullable=yes pk=0\n");
}

static int want_not_x(void *ctx, const char *db, const char *table) {
    (void)ctx;
    (void)db;
    return strcmp(table, "x") != 0;
}

SL_TEST(schema_diff_missing_and_extra_tables) {
    sl_schema_diff_t d;
    const char *r = diff("CREATE TABLE gone (a int)", NULL, NULL, &d);
    SL_CHECK_INT(d.only_history, 1);
    SL_CHECK_INT(d.only_server + d.differ, 0);
    SL_CHECK_STR(r, "d.gone: in the history only (the server has no such "
                    "table)\n  column 1 history:  a type=int "
                    "column_type=int(11) unsigned=no charset=- nullable=yes "
                    "pk=0\n");
    r = diff(NULL, "CREATE TABLE new (a int)", NULL, &d);
    SL_CHECK_INT(d.only_server, 1);
    SL_CHECK_INT(d.only_history + d.differ, 0);
    SL_CHECK(strstr(r, "d.new: on the server only (the history has no such "
                       "table)\n  column 1 server:   a type=int") == r);
    /* Tables want rejects are not compared on either side. */
    r = diff("CREATE TABLE x (a int)", "CREATE TABLE x (b int)", want_not_x,
             &d);
    SL_CHECK_STR(r, "");
    SL_CHECK_INT(d.compared, 0);
    SL_CHECK_INT(d.differ + d.only_history + d.only_server, 0);
    r = diff("CREATE TABLE x (a int)", NULL, want_not_x, &d);
    SL_CHECK_STR(r, "");
}

SL_TEST(schema_diff_merges_sorted_tables) {
    /* Tables on both sides interleave in (db, name) order: each is paired
     * with its namesake, never with a neighbour. */
    const char *a[] = {"CREATE DATABASE d",        "CREATE DATABASE e",
                       "CREATE TABLE d.a (x int)", "CREATE TABLE d.c (x int)",
                       "CREATE TABLE e.b (x int)", NULL};
    const char *b[] = {"CREATE DATABASE d",
                       "CREATE DATABASE e",
                       "CREATE TABLE d.b (x int)",
                       "CREATE TABLE d.c (x int)",
                       "CREATE TABLE e.b (y int)",
                       "CREATE TABLE e.c (x int)",
                       NULL};
    sl_schema_t *ha = history(a), *hb = history(b);
    sl_buf_t report = SL_BUF_INIT;
    sl_schema_diff_t d;
    SL_CHECK_OK(sl_schema_diff(ha, hb, NULL, NULL, &report, &d));
    SL_CHECK_INT(d.only_history, 1); /* d.a */
    SL_CHECK_INT(d.only_server, 2);  /* d.b, e.c */
    SL_CHECK_INT(d.differ, 1);       /* e.b */
    SL_CHECK_INT(d.compared, 2);     /* d.c, e.b */
    const char *text = "";
    SL_CHECK_OK(sl_buf_cstr(&report, &text));
    const char *pa = strstr(text, "d.a: in the history only");
    const char *pb = strstr(text, "d.b: on the server only");
    const char *peb = strstr(text, "e.b: the history and the server differ");
    const char *pec = strstr(text, "e.c: on the server only");
    SL_CHECK(pa != NULL && pb != NULL && peb != NULL && pec != NULL);
    SL_CHECK(pa < pb && pb < peb && peb < pec);
    SL_CHECK(strstr(text, "d.c") == NULL);
    sl_buf_free(&report);
    sl_schema_free(ha);
    sl_schema_free(hb);
}

SL_TEST(schema_diff_escapes_control_bytes_in_names) {
    sl_schema_diff_t d;
    const char *r = diff("CREATE TABLE `a\nb` (`c\x01` int)", NULL, NULL, &d);
    SL_CHECK_INT(d.only_history, 1);
    SL_CHECK(strstr(r, "d.a\\x0Ab: in the history only") == r);
    SL_CHECK(strstr(r, "history:  c\\x01 type=int") != NULL);
}
