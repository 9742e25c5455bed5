#include "log.h"

#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static sl_log_level_t min_level = SL_LOG_INFO;
static const char *level_names[] = {"debug", "info", "warn", "error", "fatal"};

void sl_log_set_level(sl_log_level_t level) { min_level = level; }

int sl_log_parse_level(const char *text, sl_log_level_t *level) {
    for (int i = 0; i <= SL_LOG_ERROR; i++) {
        if (strcasecmp(text, level_names[i]) == 0) {
            *level = (sl_log_level_t)i;
            return 0;
        }
    }
    return SL_EINVAL;
}

const char *sl_log_quote(const char *value, char *out, size_t outlen) {
    int plain = *value != '\0';
    for (const char *p = value; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' ||
            (unsigned char)*p == 0x7F)
            plain = 0;
    size_t o = 0;
    if (outlen == 0)
        return out;
    if (plain) {
        snprintf(out, outlen, "%s", value);
        return out;
    }
    out[o++] = '"';
    for (const char *p = value; *p && o + 5 < outlen; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else if (c == '\t') {
            out[o++] = '\\';
            out[o++] = 't';
        } else if (c < 0x20 || c == 0x7F) {
            o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    if (o + 1 < outlen)
        out[o++] = '"';
    out[o < outlen ? o : outlen - 1] = '\0';
    return out;
}

static void vlog(sl_log_level_t level, const char *msg, const char *kvfmt,
                 va_list ap) {
    char line[4096];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    char quoted[1024];
    int n =
        snprintf(line, sizeof line,
                 "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s msg=%s",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, level_names[level],
                 sl_log_quote(msg, quoted, sizeof quoted));
    if (n < 0)
        return;
    size_t len = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
    if (kvfmt != NULL && *kvfmt != '\0' && len + 2 < sizeof line) {
        line[len++] = ' ';
        int m = vsnprintf(line + len, sizeof line - len, kvfmt, ap);
        if (m > 0)
            len += (size_t)m < sizeof line - len ? (size_t)m
                                                 : sizeof line - len - 1;
    }
    if (len + 1 >= sizeof line)
        len = sizeof line - 2;
    line[len++] = '\n';
    /* One write per line keeps lines whole across threads. */
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

void sl_log(sl_log_level_t level, const char *msg, const char *kvfmt, ...) {
    if (level < min_level)
        return;
    va_list ap;
    va_start(ap, kvfmt);
    vlog(level, msg, kvfmt, ap);
    va_end(ap);
}

void sl_fatal(const char *msg, const char *kvfmt, ...) {
    va_list ap;
    va_start(ap, kvfmt);
    vlog(SL_LOG_FATAL, msg, kvfmt, ap);
    va_end(ap);
    exit(1);
}

void sl_assert_fail(const char *expr, const char *file, int line) {
    sl_log(SL_LOG_FATAL, "assertion failed", "expr=\"%s\" file=%s line=%d",
           expr, file, line);
    abort();
}
