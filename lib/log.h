/*
 * Leveled logging to stderr in logfmt:
 *
 *   ts=2026-11-22T01:31:27.123Z level=info msg="broker started" \
 *     listen=127.0.0.1:8123
 *
 * (one line in the log; broken here to fit).
 *
 * The message is always quoted by the logger. The key=value tail is printed
 * by the caller's format; values that may hold spaces or quotes should go
 * through sl_log_quote(). Secrets (passwords) must never be passed here.
 *
 * With --log-format json (sl_log_set_format) each line is one JSON object
 * instead, for log shippers that parse JSON:
 *
 *   {"ts":"2026-11-22T01:31:27.123Z","level":"info","msg":"broker started",
 *    "listen":"127.0.0.1:8123","partitions":3}
 *
 * (one line). The logfmt tail is read back into members: a value that is
 * a plain decimal number becomes a JSON number, any other a string (quoted
 * logfmt values unescaped); a tail that does not read as key=value pairs
 * is kept whole as "kv".
 */
#ifndef SL_LOG_H
#define SL_LOG_H

#include <stddef.h>

typedef enum {
    SL_LOG_DEBUG = 0,
    SL_LOG_INFO = 1,
    SL_LOG_WARN = 2,
    SL_LOG_ERROR = 3,
    SL_LOG_FATAL = 4,
} sl_log_level_t;

typedef enum {
    SL_LOG_TEXT = 0, /* logfmt (the default). */
    SL_LOG_JSON = 1, /* One JSON object per line. */
} sl_log_format_t;

/* Sets the line format (process-wide; set it before starting threads). */
void sl_log_set_format(sl_log_format_t format);

/* Parses "text" or "json"; returns 0 or SL_EINVAL. */
int sl_log_parse_format(const char *text, sl_log_format_t *format);

/* Sets the lowest level printed (default SL_LOG_INFO). */
void sl_log_set_level(sl_log_level_t level);

/* Parses "debug", "info", "warn", "error"; returns 0 or SL_EINVAL. */
int sl_log_parse_level(const char *text, sl_log_level_t *level);

/* Writes one line. kvfmt may be NULL; otherwise it is a printf format for
 * the key=value tail. The whole line is written with one write(2), so lines
 * from several threads never interleave. */
void sl_log(sl_log_level_t level, const char *msg, const char *kvfmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes value into out (size outlen) as a logfmt value: unchanged when it
 * is a plain token, otherwise double-quoted with \" \\ \n \t escaped and
 * control bytes as \xHH. Always NUL-terminates (truncating); returns out. */
const char *sl_log_quote(const char *value, char *out, size_t outlen);

#define sl_log_debug(msg, ...) sl_log(SL_LOG_DEBUG, msg, __VA_ARGS__)
#define sl_log_info(msg, ...) sl_log(SL_LOG_INFO, msg, __VA_ARGS__)
#define sl_log_warn(msg, ...) sl_log(SL_LOG_WARN, msg, __VA_ARGS__)
#define sl_log_error(msg, ...) sl_log(SL_LOG_ERROR, msg, __VA_ARGS__)

/* Logs at FATAL level and exits the process with status 1. Used for the
 * failures that must never be survived, such as a failed fsync. */
void sl_fatal(const char *msg, const char *kvfmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

/* Broken invariants abort loudly, in every build. */
#define SL_ASSERT(cond)                                                        \
    do {                                                                       \
        if (!(cond))                                                           \
            sl_assert_fail(#cond, __FILE__, __LINE__);                         \
    } while (0)
void sl_assert_fail(const char *expr, const char *file, int line)
    __attribute__((noreturn));

#endif
