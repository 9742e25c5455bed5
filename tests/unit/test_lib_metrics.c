/* Unit tests for the metrics text (lib/metrics.h), the help layout and
 * option aliases (lib/config.h) and JSON log lines (lib/log.h). */
#include "config.h"
#include "error.h"
#include "lib/metrics.h"
#include "log.h"
#include "sl_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *text_of(sl_buf_t *b) {
    const char *s;
    SL_CHECK_OK(sl_buf_cstr(b, &s));
    return s;
}

SL_TEST(metrics_labels_are_escaped) {
    sl_buf_t b = SL_BUF_INIT;
    sl_metrics_t m = {&b, 0};
    sl_metrics_family(&m, "x_total", SL_METRICS_COUNTER, "a \\ b\nc");
    sl_metrics_u64(&m, "x_total",
                   (const char *[]){"table", "we\"ird\\\nname", NULL}, 7);
    sl_metrics_end(&m);
    SL_CHECK_STR(text_of(&b), "# HELP x_total a \\\\ b\\nc\n"
                              "# TYPE x_total counter\n"
                              "x_total{table=\"we\\\"ird\\\\\\nname\"} 7\n");
    sl_buf_free(&b);
}

SL_TEST(metrics_openmetrics_counter_family_and_eof) {
    sl_buf_t b = SL_BUF_INIT;
    sl_metrics_t m = {&b, 1};
    sl_metrics_one(&m, "y_total", SL_METRICS_COUNTER, "h", 3);
    sl_metrics_end(&m);
    SL_CHECK_STR(text_of(&b),
                 "# HELP y h\n# TYPE y counter\ny_total 3\n# EOF\n");
    sl_buf_free(&b);
}

SL_TEST(metrics_histogram_is_cumulative) {
    static const double bounds[] = {0.001, 0.01};
    sl_metrics_hist_t h;
    sl_metrics_hist_init(&h, bounds, 2);
    sl_metrics_hist_observe_ns(&h, 500000);     /* 0.5 ms */
    sl_metrics_hist_observe_ns(&h, 5000000);    /* 5 ms */
    sl_metrics_hist_observe_ns(&h, 2000000000); /* 2 s */
    sl_buf_t b = SL_BUF_INIT;
    sl_metrics_t m = {&b, 0};
    sl_metrics_hist(&m, "z_seconds", (const char *[]){"op", "c", NULL}, &h);
    SL_CHECK_STR(text_of(&b), "z_seconds_bucket{op=\"c\",le=\"0.001\"} 1\n"
                              "z_seconds_bucket{op=\"c\",le=\"0.01\"} 2\n"
                              "z_seconds_bucket{op=\"c\",le=\"+Inf\"} 3\n"
                              "z_seconds_sum{op=\"c\"} 2.0055\n"
                              "z_seconds_count{op=\"c\"} 3\n");
    sl_buf_free(&b);
}

static const sl_opt_t alias_opts[] = {
    {"broker-secret-file", NULL, 0, "the secret (default: none at all)"},
    {"auth-file", "broker-secret-file", SL_OPT_ALIAS, NULL},
    {"item", NULL, SL_OPT_MULTI, "an item (repeatable, in order)"},
    {"level", "info", 0,
     "a long help text that has to be wrapped because it goes on and on "
     "well past the right margin of an ordinary terminal"},
    {NULL, NULL, 0, NULL},
};

SL_TEST(config_alias_is_the_same_option_and_hidden) {
    sl_config_t cfg;
    SL_CHECK_OK(sl_config_init(&cfg, "prog", "prog", alias_opts));
    char *argv[] = {"prog", "--auth-file", "/x"};
    SL_CHECK_OK(sl_config_parse_args(&cfg, 3, argv));
    SL_CHECK_STR(sl_config_get(&cfg, "broker-secret-file"), "/x");
    char *twice[] = {"prog", "--auth-file", "/x", "--broker-secret-file", "/y"};
    sl_config_t cfg2;
    SL_CHECK_OK(sl_config_init(&cfg2, "prog", "prog", alias_opts));
    SL_CHECK_INT(sl_config_parse_args(&cfg2, 5, twice), SL_EUSAGE);
    char path[600];
    snprintf(path, sizeof path, "%s/help.txt", sl_test_tmpdir());
    FILE *f = fopen(path, "w+");
    SL_CHECK(f != NULL);
    sl_config_print_help(&cfg, f);
    rewind(f);
    char line[200];
    int lines = 0, long_lines = 0, auth = 0, doubled = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        lines++;
        long_lines += strlen(line) > 80;
        auth += strstr(line, "auth-file") != NULL;
        doubled += strstr(line, "(default: none at all) (default") != NULL ||
                   strstr(line, "(repeatable)") != NULL;
    }
    fclose(f);
    SL_CHECK(lines > 6);
    SL_CHECK_INT(long_lines, 0);
    SL_CHECK_INT(auth, 0);
    SL_CHECK_INT(doubled, 0);
    sl_config_free(&cfg);
    sl_config_free(&cfg2);
}

SL_TEST(log_json_line_has_members) {
    char path[600];
    snprintf(path, sizeof path, "%s/log.json", sl_test_tmpdir());
    fflush(stderr);
    int saved = dup(2);
    FILE *f = fopen(path, "w+");
    SL_CHECK(f != NULL);
    dup2(fileno(f), 2);
    sl_log_set_format(SL_LOG_JSON);
    sl_log_info("hello \"you\"",
                "n=42 s=\"a b\" bare=x y=-1.5 e=connection failed");
    sl_log_set_format(SL_LOG_TEXT);
    dup2(saved, 2);
    close(saved);
    rewind(f);
    char line[1024];
    SL_CHECK(fgets(line, sizeof line, f) != NULL);
    fclose(f);
    const char *body = strstr(line, "\"level\"");
    SL_CHECK(body != NULL);
    SL_CHECK_STR(body, "\"level\":\"info\",\"msg\":\"hello \\\"you\\\"\","
                       "\"n\":42,\"s\":\"a b\",\"bare\":\"x\",\"y\":-1.5,"
                       "\"e\":\"connection failed\"}\n");
}
