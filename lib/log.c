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
static sl_log_format_t line_format = SL_LOG_TEXT;
static const char *level_names[] = {"debug", "info", "warn", "error", "fatal"};

void sl_log_set_level(sl_log_level_t level) { min_level = level; }

void sl_log_set_format(sl_log_format_t format) { line_format = format; }

int sl_log_parse_format(const char *text, sl_log_format_t *format) {
    if (strcasecmp(text, "text") == 0 || strcasecmp(text, "logfmt") == 0)
        *format = SL_LOG_TEXT;
    else if (strcasecmp(text, "json") == 0)
        *format = SL_LOG_JSON;
    else
        return SL_EINVAL;
    return 0;
}

/* A JSON writer into a fixed line: appends stop quietly at the end (the
 * caller closes the object in the room it kept). */
typedef struct {
    char *p;
    size_t len, cap;
} line_t;

static void put(line_t *l, const char *s, size_t n) {
    if (l->len + n > l->cap)
        n = l->cap - l->len;
    memcpy(l->p + l->len, s, n);
    l->len += n;
}

/* Appends s (n bytes) as the inside of a JSON string. */
static void put_json(line_t *l, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            put(l, esc, 2);
        } else if (c == '\n') {
            put(l, "\\n", 2);
        } else if (c == '\t') {
            put(l, "\\t", 2);
        } else if (c < 0x20 || c == 0x7F) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            put(l, esc, 6);
        } else {
            put(l, (const char *)&c, 1);
        }
    }
}

static int is_number(const char *s, size_t n) {
    size_t i = 0;
    if (i < n && s[i] == '-')
        i++;
    if (i == n || s[i] < '0' || s[i] > '9' ||
        (s[i] == '0' && i + 1 < n && s[i + 1] != '.'))
        return 0;
    int dot = 0;
    for (; i < n; i++) {
        if (s[i] == '.' && !dot && i + 1 < n)
            dot = 1;
        else if (s[i] < '0' || s[i] > '9')
            return 0;
    }
    return 1;
}

/* Whether s starts with "key=" (a token with '=' before any space). */
static int next_is_key(const char *s) {
    while (*s == ' ')
        s++;
    const char *k = s;
    while (*s && *s != ' ' && *s != '=' && *s != '"')
        s++;
    return *s == '=' && s != k;
}

/* Reads the logfmt tail kv into members of l; returns -1 (l unchanged
 * past start) when it is not key=value pairs as sl_log_quote() writes
 * them. */
static int put_kv(line_t *l, const char *kv) {
    size_t start = l->len;
    const char *p = kv;
    while (*p) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        const char *key = p;
        while (*p && *p != '=' && *p != ' ')
            p++;
        if (*p != '=' || p == key)
            goto bad;
        size_t klen = (size_t)(p - key);
        p++;
        put(l, ",\"", 2);
        put_json(l, key, klen);
        put(l, "\":", 2);
        if (*p == '"') {
            put(l, "\"", 1);
            for (p++; *p && *p != '"'; p++) {
                char c = *p;
                if (c == '\\' && p[1]) {
                    p++;
                    c = *p == 'n' ? '\n' : *p == 't' ? '\t' : *p;
                    if (*p == 'x' && p[1] && p[2]) {
                        char hex[3] = {p[1], p[2], 0};
                        c = (char)strtol(hex, NULL, 16);
                        p += 2;
                    }
                }
                put_json(l, &c, 1);
            }
            if (*p != '"')
                goto bad;
            p++;
            put(l, "\"", 1);
        } else {
            /* An unquoted value runs to the next " key=": a caller that
             * did not quote a value with spaces still reads as one. */
            const char *v = p;
            while (*p && !(*p == ' ' && next_is_key(p + 1)))
                p++;
            size_t vlen = (size_t)(p - v);
            if (is_number(v, vlen)) {
                put(l, v, vlen);
            } else {
                put(l, "\"", 1);
                put_json(l, v, vlen);
                put(l, "\"", 1);
            }
        }
    }
    return 0;
bad:
    l->len = start;
    return -1;
}

static void json_line(char *out, size_t cap, size_t *outlen, const char *ts,
                      sl_log_level_t level, const char *msg, const char *kv) {
    /* Room kept for the closing brace and newline. */
    line_t l = {out, 0, cap - 2};
    put(&l, "{\"ts\":\"", 7);
    put(&l, ts, strlen(ts));
    put(&l, "\",\"level\":\"", 11);
    put(&l, level_names[level], strlen(level_names[level]));
    put(&l, "\",\"msg\":\"", 9);
    put_json(&l, msg, strlen(msg));
    put(&l, "\"", 1);
    if (kv != NULL && *kv != '\0' && put_kv(&l, kv) != 0) {
        put(&l, ",\"kv\":\"", 7);
        put_json(&l, kv, strlen(kv));
        put(&l, "\"", 1);
    }
    out[l.len++] = '}';
    out[l.len++] = '\n';
    *outlen = l.len;
}

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
    if (line_format == SL_LOG_JSON) {
        char ts_text[96], kv[3072] = "", json[8192];
        snprintf(ts_text, sizeof ts_text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, (int)(ts.tv_nsec / 1000000));
        if (kvfmt != NULL && *kvfmt != '\0')
            vsnprintf(kv, sizeof kv, kvfmt, ap);
        size_t jlen;
        json_line(json, sizeof json, &jlen, ts_text, level, msg, kv);
        ssize_t w = write(STDERR_FILENO, json, jlen);
        (void)w;
        return;
    }
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
