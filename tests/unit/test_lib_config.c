/* Unit tests for configuration, value parsers, secrets, log quoting,
 * signal handling and the programs' common start (lib/config.h, parse.h,
 * secret.h, log.h, signals.h, program.h). */
#include "config.h"
#include "error.h"
#include "log.h"
#include "parse.h"
#include "program.h"
#include "secret.h"
#include "signals.h"
#include "sl_test.h"

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

static const sl_opt_t test_opts[] = {
    {"listen", "127.0.0.1:8123", 0, "address"},
    {"data", "./data", 0, "directory"},
    {"fsync", "always", 0, "mode"},
    {"max_message", "16MiB", 0, "limit"},
    {"include", NULL, SL_OPT_MULTI, "regex"},
    {"follow", "no", SL_OPT_FLAG, "flag"},
    {NULL, NULL, 0, NULL},
};

static void write_file(const char *path, const char *text) {
    FILE *file = fopen(path, "w");
    SL_CHECK(file != NULL);
    fputs(text, file);
    fclose(file);
}

SL_TEST(config_file_then_flags_override) {
    char path[600];
    snprintf(path, sizeof path, "%s/test.conf", sl_test_tmpdir());
    write_file(path, "# a comment\n"
                     "listen = 127.0.0.1:9000\n"
                     "fsync = never\n"
                     "include = shop\\..*\n"
                     "max-message = 1k\n");
    sl_config_t cfg;
    SL_CHECK_OK(sl_config_init(&cfg, "t", "t [OPTIONS]", test_opts));
    /* The flag comes before --config on the command line and still wins. */
    char *argv[] = {
        "t",         "--fsync=interval", "--config", path, "pos1",
        "--include", "crm\\..*",         "--follow", "--", "--pos2"};
    SL_CHECK_OK(sl_config_parse_args(&cfg, 10, argv));
    SL_CHECK_STR(sl_config_get(&cfg, "listen"), "127.0.0.1:9000");
    SL_CHECK_STR(sl_config_get(&cfg, "fsync"), "interval");
    SL_CHECK_STR(sl_config_get(&cfg, "data"), "./data");
    SL_CHECK(sl_config_is_set(&cfg, "listen"));
    SL_CHECK(!sl_config_is_set(&cfg, "data"));
    const sl_strlist_t *list = sl_config_get_list(&cfg, "include");
    SL_CHECK_UINT(list->count, 2);
    SL_CHECK_STR(list->items[0], "shop\\..*");
    SL_CHECK_STR(list->items[1], "crm\\..*");
    uint64_t size;
    SL_CHECK_OK(sl_config_get_size(&cfg, "max_message", &size));
    SL_CHECK_UINT(size, 1024);
    int follow;
    SL_CHECK_OK(sl_config_get_bool(&cfg, "follow", &follow));
    SL_CHECK_INT(follow, 1);
    SL_CHECK_UINT(cfg.args.count, 2);
    SL_CHECK_STR(cfg.args.items[0], "pos1");
    SL_CHECK_STR(cfg.args.items[1], "--pos2");
    sl_config_free(&cfg);
}

SL_TEST(config_rejects_unknown_keys_and_bad_values) {
    sl_config_t cfg;
    char path[600];
    snprintf(path, sizeof path, "%s/bad.conf", sl_test_tmpdir());
    write_file(path, "listen = 127.0.0.1:1\nfsycn = always\n");
    SL_CHECK_OK(sl_config_init(&cfg, "t", "t", test_opts));
    SL_CHECK_INT(sl_config_load_file(&cfg, path), SL_ECONFIG);
    SL_CHECK(strstr(cfg.err, ":2:") != NULL);
    SL_CHECK(strstr(cfg.err, "fsycn") != NULL);
    sl_config_free(&cfg);

    SL_CHECK_OK(sl_config_init(&cfg, "t", "t", test_opts));
    char *argv[] = {"t", "--lisen", "x"};
    SL_CHECK_INT(sl_config_parse_args(&cfg, 3, argv), SL_EUSAGE);
    SL_CHECK(strstr(cfg.err, "--lisen") != NULL);
    sl_config_free(&cfg);

    SL_CHECK_OK(sl_config_init(&cfg, "t", "t", test_opts));
    char *argv2[] = {"t", "--data"};
    SL_CHECK_INT(sl_config_parse_args(&cfg, 2, argv2), SL_EUSAGE);
    sl_config_free(&cfg);

    SL_CHECK_OK(sl_config_init(&cfg, "t", "t", test_opts));
    char *argv3[] = {"t", "--max-message", "12 parsecs", "-x"};
    SL_CHECK_INT(sl_config_parse_args(&cfg, 4, argv3), SL_EUSAGE);
    sl_config_free(&cfg);

    SL_CHECK_OK(sl_config_init(&cfg, "t", "t", test_opts));
    char *argv4[] = {"t", "--max-message", "12 parsecs"};
    SL_CHECK_OK(sl_config_parse_args(&cfg, 3, argv4));
    uint64_t size;
    SL_CHECK_INT(sl_config_get_size(&cfg, "max_message", &size), SL_ECONFIG);
    SL_CHECK(strstr(cfg.err, "12 parsecs") != NULL);
    sl_config_free(&cfg);

    SL_CHECK_OK(sl_config_init(&cfg, "t", "t", test_opts));
    snprintf(path, sizeof path, "%s/missing.conf", sl_test_tmpdir());
    char *argv5[] = {"t", "--config", path};
    SL_CHECK_INT(sl_config_parse_args(&cfg, 3, argv5), SL_EUSAGE);
    SL_CHECK(strstr(cfg.err, "missing.conf") != NULL);
    sl_config_free(&cfg);

    snprintf(path, sizeof path, "%s/section.conf", sl_test_tmpdir());
    write_file(path, "[broker]\nlisten = 127.0.0.1:1\n");
    SL_CHECK_OK(sl_config_init(&cfg, "t", "t", test_opts));
    SL_CHECK_INT(sl_config_load_file(&cfg, path), SL_ECONFIG);
    sl_config_free(&cfg);

    snprintf(path, sizeof path, "%s/garbage.conf", sl_test_tmpdir());
    write_file(path, "just some words\n");
    SL_CHECK_OK(sl_config_init(&cfg, "t", "t", test_opts));
    SL_CHECK_INT(sl_config_load_file(&cfg, path), SL_ECONFIG);
    SL_CHECK(strstr(cfg.err, ":1:") != NULL);
    sl_config_free(&cfg);
}

/* Issue 12: a second --memcached silently replaced the first. An option
 * that is not repeatable, given twice in any spelling on the command line
 * or twice in the config file, is an error naming it; a flag overriding
 * the file stays allowed, and repeatable options still accumulate. */
SL_TEST(config_option_given_twice_is_an_error) {
    sl_config_t cfg;
    char *dup_argvs[][5] = {
        {"t", "--fsync", "always", "--fsync", "never"},
        {"t", "--fsync=always", "--fsync", "never", NULL},
        {"t", "--max-message", "1k", "--max_message=2k", NULL},
        {"t", "--follow", "--follow=no", NULL, NULL},
    };
    int dup_argc[] = {5, 4, 4, 3};
    const char *dup_name[] = {"--fsync", "--fsync", "--max_message",
                              "--follow"};
    for (size_t k = 0; k < 4; k++) {
        SL_CHECK_OK(sl_config_init(&cfg, "t", "t", test_opts));
        SL_CHECK_INT(sl_config_parse_args(&cfg, dup_argc[k], dup_argvs[k]),
                     SL_EUSAGE);
        SL_CHECK(strstr(cfg.err, dup_name[k]) != NULL);
        SL_CHECK(strstr(cfg.err, "twice") != NULL);
        sl_config_free(&cfg);
    }

    /* Twice in the file: the error names the file, the line and the key. */
    char path[600], path2[600];
    snprintf(path, sizeof path, "%s/twice.conf", sl_test_tmpdir());
    write_file(path, "fsync = always\nlisten = 127.0.0.1:1\n"
                     "fsync = never\n");
    SL_CHECK_OK(sl_config_init(&cfg, "t", "t", test_opts));
    SL_CHECK_INT(sl_config_load_file(&cfg, path), SL_ECONFIG);
    SL_CHECK(strstr(cfg.err, "twice.conf:3:") != NULL);
    SL_CHECK(strstr(cfg.err, "'fsync'") != NULL);
    sl_config_free(&cfg);
    SL_CHECK_OK(sl_config_init(&cfg, "t", "t", test_opts));
    char *argv_file[] = {"t", "--config", path};
    SL_CHECK_INT(sl_config_parse_args(&cfg, 3, argv_file), SL_EUSAGE);
    SL_CHECK(strstr(cfg.err, "twice.conf:3:") != NULL);
    sl_config_free(&cfg);

    /* --config twice is refused too. */
    snprintf(path2, sizeof path2, "%s/once.conf", sl_test_tmpdir());
    write_file(path2, "fsync = always\ninclude = a\ninclude = b\n");
    SL_CHECK_OK(sl_config_init(&cfg, "t", "t", test_opts));
    char *argv_two[] = {"t", "--config", path2, "--config=/dev/null"};
    SL_CHECK_INT(sl_config_parse_args(&cfg, 4, argv_two), SL_EUSAGE);
    SL_CHECK(strstr(cfg.err, "--config") != NULL);
    sl_config_free(&cfg);

    /* A flag overrides the file once; repeatable keys accumulate from
     * both; the program's own sl_config_set() still replaces. */
    SL_CHECK_OK(sl_config_init(&cfg, "t", "t", test_opts));
    char *argv_ok[] = {"t",     "--config",  path2, "--fsync",
                       "never", "--include", "c",   "--include=d"};
    SL_CHECK_OK(sl_config_parse_args(&cfg, 8, argv_ok));
    SL_CHECK_STR(sl_config_get(&cfg, "fsync"), "never");
    const sl_strlist_t *list = sl_config_get_list(&cfg, "include");
    SL_CHECK_UINT(list->count, 4);
    SL_CHECK_STR(list->items[0], "a");
    SL_CHECK_STR(list->items[3], "d");
    SL_CHECK_OK(sl_config_set(&cfg, "fsync", "interval"));
    SL_CHECK_STR(sl_config_get(&cfg, "fsync"), "interval");
    sl_config_free(&cfg);
}

SL_TEST(parse_numbers_sizes_durations) {
    uint64_t u;
    int64_t i;
    SL_CHECK_OK(sl_parse_u64("18446744073709551615", &u));
    SL_CHECK_UINT(u, UINT64_MAX);
    SL_CHECK_INT(sl_parse_u64("18446744073709551616", &u), SL_ERANGE);
    SL_CHECK_INT(sl_parse_u64("-1", &u), SL_EINVAL);
    SL_CHECK_INT(sl_parse_u64("12x", &u), SL_EINVAL);
    SL_CHECK_INT(sl_parse_u64("", &u), SL_EINVAL);
    SL_CHECK_INT(sl_parse_u64(" 1", &u), SL_EINVAL);
    SL_CHECK_OK(sl_parse_i64("-9223372036854775808", &i));
    SL_CHECK_INT(i, INT64_MIN);
    SL_CHECK_INT(sl_parse_i64("9223372036854775808", &i), SL_ERANGE);
    SL_CHECK_OK(sl_parse_size("16MiB", &u));
    SL_CHECK_UINT(u, 16u << 20);
    SL_CHECK_OK(sl_parse_size("1g", &u));
    SL_CHECK_UINT(u, 1u << 30);
    SL_CHECK_OK(sl_parse_size("512", &u));
    SL_CHECK_UINT(u, 512);
    SL_CHECK_OK(sl_parse_size("64KB", &u));
    SL_CHECK_UINT(u, 65536);
    SL_CHECK_INT(sl_parse_size("1q", &u), SL_EINVAL);
    SL_CHECK_INT(sl_parse_size("1mx", &u), SL_EINVAL);
    SL_CHECK_INT(sl_parse_size("99999999999999999t", &u), SL_ERANGE);
    SL_CHECK_OK(sl_parse_duration_ms("500ms", &u));
    SL_CHECK_UINT(u, 500);
    SL_CHECK_OK(sl_parse_duration_ms("7d", &u));
    SL_CHECK_UINT(u, 7ull * 86400000);
    SL_CHECK_OK(sl_parse_duration_ms("250", &u));
    SL_CHECK_UINT(u, 250);
    SL_CHECK_INT(sl_parse_duration_ms("5 s", &u), SL_EINVAL);
    int b;
    SL_CHECK_OK(sl_parse_bool("On", &b));
    SL_CHECK_INT(b, 1);
    SL_CHECK_OK(sl_parse_bool("false", &b));
    SL_CHECK_INT(b, 0);
    SL_CHECK_INT(sl_parse_bool("maybe", &b), SL_EINVAL);
}

SL_TEST(parse_hostport) {
    char host[64];
    uint16_t port;
    SL_CHECK_OK(sl_parse_hostport("127.0.0.1:8123", host, sizeof host, &port));
    SL_CHECK_STR(host, "127.0.0.1");
    SL_CHECK_UINT(port, 8123);
    SL_CHECK_OK(sl_parse_hostport("[::1]:80", host, sizeof host, &port));
    SL_CHECK_STR(host, "::1");
    SL_CHECK_UINT(port, 80);
    SL_CHECK_INT(sl_parse_hostport("localhost", host, sizeof host, &port),
                 SL_EINVAL);
    SL_CHECK_INT(sl_parse_hostport(":80", host, sizeof host, &port), SL_EINVAL);
    SL_CHECK_INT(sl_parse_hostport("h:0", host, sizeof host, &port), SL_EINVAL);
    SL_CHECK_INT(sl_parse_hostport("h:65536", host, sizeof host, &port),
                 SL_EINVAL);
    SL_CHECK_INT(sl_parse_hostport("::1:80", host, sizeof host, &port),
                 SL_EINVAL);
    SL_CHECK_INT(sl_parse_hostport("a-very-long-host-name:1", host, 8, &port),
                 SL_EINVAL);
}

SL_TEST(secret_from_file_or_env) {
    char path[600], err[256];
    char *secret;
    snprintf(path, sizeof path, "%s/pw", sl_test_tmpdir());
    write_file(path, "s3cr3t with spaces\nsecond line\n");
    SL_CHECK_OK(
        sl_secret_load(path, "SL_TEST_SECRET_ENV", &secret, err, sizeof err));
    SL_CHECK_STR(secret, "s3cr3t with spaces");
    sl_secret_free(secret);
    setenv("SL_TEST_SECRET_ENV", "from-env", 1);
    SL_CHECK_OK(
        sl_secret_load(NULL, "SL_TEST_SECRET_ENV", &secret, err, sizeof err));
    SL_CHECK_STR(secret, "from-env");
    sl_secret_free(secret);
    unsetenv("SL_TEST_SECRET_ENV");
    SL_CHECK_OK(
        sl_secret_load(NULL, "SL_TEST_SECRET_ENV", &secret, err, sizeof err));
    SL_CHECK(secret == NULL);
    snprintf(path, sizeof path, "%s/absent", sl_test_tmpdir());
    SL_CHECK_INT(sl_secret_load(path, NULL, &secret, err, sizeof err),
                 SL_ECONFIG);
    SL_CHECK(strstr(err, "absent") != NULL);
}

static const sl_opt_t program_opts[] = {
    {"auth-file", NULL, 0, "secret file"},
    {"log-level", "info", 0, "level"},
    {NULL, NULL, 0, NULL},
};

SL_TEST(program_args_log_level_and_broker_secret) {
    sl_config_t cfg;
    char *bad_argv[] = {"prog", "--nope"};
    SL_CHECK_INT(sl_program_args(&cfg, "prog", "prog [OPTIONS]", program_opts,
                                 2, bad_argv),
                 2);
    char good[600], spaced[600], absent[600];
    snprintf(good, sizeof good, "%s/good", sl_test_tmpdir());
    snprintf(spaced, sizeof spaced, "%s/spaced", sl_test_tmpdir());
    snprintf(absent, sizeof absent, "%s/absent", sl_test_tmpdir());
    write_file(good, "t0ken\n");
    write_file(spaced, "two words\n");
    char *argv[] = {"prog", "--log-level", "warn", "--auth-file", good};
    SL_CHECK_INT(
        sl_program_args(&cfg, "prog", "prog [OPTIONS]", program_opts, 5, argv),
        SL_PROGRAM_RUN);
    SL_CHECK_OK(sl_program_log_level(&cfg));
    char *secret;
    SL_CHECK_OK(
        sl_program_broker_secret(&cfg, "auth-file", "the secret", 1, &secret));
    SL_CHECK_STR(secret, "t0ken");
    sl_secret_free(secret);
    /* A secret the auth line cannot carry is bad usage; an unreadable
     * file gets the caller's status. */
    SL_CHECK_OK(sl_config_set(&cfg, "auth-file", spaced));
    SL_CHECK_INT(
        sl_program_broker_secret(&cfg, "auth-file", "the secret", 1, &secret),
        2);
    SL_CHECK(secret == NULL);
    SL_CHECK_OK(sl_config_set(&cfg, "auth-file", absent));
    SL_CHECK_INT(
        sl_program_broker_secret(&cfg, "auth-file", "the secret", 7, &secret),
        7);
    SL_CHECK(secret == NULL);
    SL_CHECK_OK(sl_config_set(&cfg, "log-level", "loud"));
    SL_CHECK_INT(sl_program_log_level(&cfg), SL_EUSAGE);
    sl_log_set_level(SL_LOG_INFO);
    sl_config_free(&cfg);
}

SL_TEST(log_quote_values) {
    char out[64];
    SL_CHECK_STR(sl_log_quote("plain", out, sizeof out), "plain");
    SL_CHECK_STR(sl_log_quote("two words", out, sizeof out), "\"two words\"");
    SL_CHECK_STR(sl_log_quote("a\"b\\c\nd", out, sizeof out),
                 "\"a\\\"b\\\\c\\nd\"");
    SL_CHECK_STR(sl_log_quote("", out, sizeof out), "\"\"");
    SL_CHECK_STR(sl_log_quote("k=v", out, sizeof out), "\"k=v\"");
    SL_CHECK_STR(sl_log_quote("\x01", out, sizeof out), "\"\\x01\"");
    /* Truncation keeps the string terminated. */
    SL_CHECK(strlen(sl_log_quote("a long value with spaces", out, 8)) < 8);
    sl_log_level_t level;
    SL_CHECK_OK(sl_log_parse_level("WARN", &level));
    SL_CHECK_INT(level, SL_LOG_WARN);
    SL_CHECK_INT(sl_log_parse_level("loud", &level), SL_EINVAL);
}

static int stop_signum;
static int closed_calls;

static void on_stop(sl_signals_t *sig, int signum) {
    stop_signum = signum;
    sl_signals_close(sig, NULL);
}

static void on_closed(sl_signals_t *sig) {
    (void)sig;
    closed_calls++;
}

static void on_stop_close_cb(sl_signals_t *sig, int signum) {
    stop_signum = signum;
    sl_signals_close(sig, on_closed);
}

SL_TEST(signals_stop_the_loop_gracefully) {
    uv_loop_t loop;
    SL_CHECK_OK(uv_loop_init(&loop));
    sl_signals_t sig;
    SL_CHECK_OK(sl_signals_start(&loop, &sig, on_stop));
    stop_signum = 0;
    raise(SIGTERM);
    /* The loop ends by itself once the handler has closed both handles. */
    SL_CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
    SL_CHECK_INT(stop_signum, SIGTERM);
    SL_CHECK_INT(sig.received, 1);

    SL_CHECK_OK(sl_signals_start(&loop, &sig, on_stop_close_cb));
    closed_calls = 0;
    raise(SIGINT);
    SL_CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
    SL_CHECK_INT(stop_signum, SIGINT);
    SL_CHECK_INT(closed_calls, 1);
    SL_CHECK_OK(uv_loop_close(&loop));
}
