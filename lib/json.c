#include "json.h"

#include "error.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sl_json_init(sl_json_t *json, sl_buf_t *out) {
    memset(json, 0, sizeof *json);
    json->out = out;
}

static void put(sl_json_t *json, const void *data, size_t len) {
    if (json->err == 0 && sl_buf_append(json->out, data, len) != 0)
        json->err = SL_ENOMEM;
}

static void put_c(sl_json_t *json, char c) {
    if (json->err == 0 && sl_buf_append_u8(json->out, (uint8_t)c) != 0)
        json->err = SL_ENOMEM;
}

/* Emits the separator a new value needs at the current level. */
static void value_start(sl_json_t *json) {
    if (json->after_key) {
        json->after_key = 0;
        return;
    }
    if (json->need_comma[json->depth])
        put_c(json, ',');
    json->need_comma[json->depth] = 1;
}

static void open(sl_json_t *json, char c) {
    value_start(json);
    if (json->depth >= SL_JSON_MAX_DEPTH) {
        json->err = json->err ? json->err : SL_EINVAL;
        return;
    }
    put_c(json, c);
    json->need_comma[++json->depth] = 0;
}

static void close_(sl_json_t *json, char c) {
    if (json->depth <= 0 || json->after_key) {
        json->err = json->err ? json->err : SL_EINVAL;
        return;
    }
    json->depth--;
    put_c(json, c);
}

void sl_json_obj_begin(sl_json_t *json) { open(json, '{'); }
void sl_json_obj_end(sl_json_t *json) { close_(json, '}'); }
void sl_json_arr_begin(sl_json_t *json) { open(json, '['); }
void sl_json_arr_end(sl_json_t *json) { close_(json, ']'); }

/* Length of the valid UTF-8 sequence at p (1..4), or 0 if invalid. */
static size_t utf8_seq(const uint8_t *p, size_t left) {
    uint8_t c = p[0];
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        if (left >= 2 && (p[1] & 0xC0) == 0x80)
            return 2;
        return 0;
    }
    if (c >= 0xE0 && c <= 0xEF) {
        if (left < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80)
            return 0;
        if (c == 0xE0 && p[1] < 0xA0)
            return 0; /* Overlong. */
        if (c == 0xED && p[1] >= 0xA0)
            return 0; /* Surrogate. */
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (left < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 ||
            (p[3] & 0xC0) != 0x80)
            return 0;
        if (c == 0xF0 && p[1] < 0x90)
            return 0; /* Overlong. */
        if (c == 0xF4 && p[1] >= 0x90)
            return 0; /* Above U+10FFFF. */
        return 4;
    }
    return 0;
}

int sl_json_escape(sl_buf_t *out, const void *str, size_t len, int *replaced) {
    static const char hex[] = "0123456789abcdef";
    const uint8_t *p = str;
    const uint8_t *end = p + len;
    /* Reserve for the common case so the loop mostly copies. */
    if (sl_buf_reserve(out, len + 2) != 0)
        return SL_ENOMEM;
    /* Most strings (names, identifiers) need no escaping at all. */
    size_t plain = sl_json_plain_prefix(p, len);
    if (plain > 0) {
        memcpy(out->data + out->len, p, plain);
        out->len += plain;
        p += plain;
    }
    while (p < end) {
        const uint8_t *run = p;
        while (p < end && *p >= 0x20 && *p < 0x7F && *p != '"' && *p != '\\')
            p++;
        if (p > run && sl_buf_append(out, run, (size_t)(p - run)) != 0)
            return SL_ENOMEM;
        if (p >= end)
            break;
        uint8_t c = *p;
        char esc[8];
        size_t esc_len = 0;
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            esc_len = 2;
            p++;
        } else if (c < 0x20 || c == 0x7F) {
            esc[0] = '\\';
            switch (c) {
            /* Not formatted: one escape per line reads as a table. */
            /* clang-format off */
            case '\b': esc[1] = 'b'; esc_len = 2; break;
            case '\f': esc[1] = 'f'; esc_len = 2; break;
            case '\n': esc[1] = 'n'; esc_len = 2; break;
            case '\r': esc[1] = 'r'; esc_len = 2; break;
            case '\t': esc[1] = 't'; esc_len = 2; break;
            /* clang-format on */
            default:
                memcpy(esc + 1, "u00", 3);
                esc[4] = hex[c >> 4];
                esc[5] = hex[c & 15];
                esc_len = 6;
            }
            p++;
        } else {
            size_t n = utf8_seq(p, (size_t)(end - p));
            if (n == 0) {
                memcpy(esc, "\xEF\xBF\xBD", 3);
                esc_len = 3;
                if (replaced != NULL)
                    *replaced = 1;
                p++;
            } else if (n == 3 && p[0] == 0xE2 && p[1] == 0x80 &&
                       (p[2] == 0xA8 || p[2] == 0xA9)) {
                memcpy(esc, p[2] == 0xA8 ? "\\u2028" : "\\u2029", 6);
                esc_len = 6;
                p += 3;
            } else {
                memcpy(esc, p, n);
                esc_len = n;
                p += n;
            }
        }
        if (sl_buf_append(out, esc, esc_len) != 0)
            return SL_ENOMEM;
    }
    return 0;
}

static void string_(sl_json_t *json, const void *str, size_t len,
                    int *replaced) {
    put_c(json, '"');
    if (json->err == 0 && sl_json_escape(json->out, str, len, replaced) != 0)
        json->err = SL_ENOMEM;
    put_c(json, '"');
}

void sl_json_keyn(sl_json_t *json, const char *key, size_t len) {
    value_start(json);
    string_(json, key, len, NULL);
    put_c(json, ':');
    json->after_key = 1;
}

void sl_json_key(sl_json_t *json, const char *key) {
    sl_json_keyn(json, key, strlen(key));
}

void sl_json_strn(sl_json_t *json, const void *str, size_t len) {
    value_start(json);
    string_(json, str, len, NULL);
}

void sl_json_str(sl_json_t *json, const char *str) {
    sl_json_strn(json, str, strlen(str));
}

void sl_json_string_checked(sl_json_t *json, const void *str, size_t len,
                            int *replaced) {
    value_start(json);
    string_(json, str, len, replaced);
}

void sl_json_int(sl_json_t *json, int64_t v) {
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%" PRId64, v);
    value_start(json);
    put(json, tmp, (size_t)n);
}

void sl_json_uint(sl_json_t *json, uint64_t v) {
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%" PRIu64, v);
    value_start(json);
    put(json, tmp, (size_t)n);
}

void sl_json_double(sl_json_t *json, double v) {
    char tmp[32];
    if (isnan(v)) {
        sl_json_str(json, "NaN");
        return;
    }
    if (isinf(v)) {
        sl_json_str(json, v > 0 ? "Infinity" : "-Infinity");
        return;
    }
    /* The shortest of %.15g..%.17g that reads back as the same double. */
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    value_start(json);
    put(json, tmp, (size_t)n);
}

void sl_json_bool(sl_json_t *json, int v) {
    value_start(json);
    if (v)
        put(json, "true", 4);
    else
        put(json, "false", 5);
}

void sl_json_null(sl_json_t *json) {
    value_start(json);
    put(json, "null", 4);
}

void sl_json_raw(sl_json_t *json, const char *raw, size_t len) {
    value_start(json);
    put(json, raw, len);
}

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The two base64 characters of every 12-bit value: one lookup per two
 * output characters. Built once at start-up. */
static char b64_pairs[4096][2];

__attribute__((constructor)) static void b64_pairs_init(void) {
    for (unsigned v = 0; v < 4096; v++) {
        b64_pairs[v][0] = b64_alphabet[v >> 6];
        b64_pairs[v][1] = b64_alphabet[v & 63];
    }
}

int sl_base64_encode(sl_buf_t *out, const void *data, size_t len) {
    const char *alphabet = b64_alphabet;
    const uint8_t *p = data;
    uint8_t *o = sl_buf_extend(out, (len + 2) / 3 * 4);
    if (o == NULL)
        return SL_ENOMEM;
    size_t i = 0;
    for (; i + 3 <= len; i += 3, o += 4) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        memcpy(o, b64_pairs[v >> 12], 2);
        memcpy(o + 2, b64_pairs[v & 4095], 2);
    }
    if (i < len) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)p[i + 1] << 8;
        *o++ = (uint8_t)alphabet[v >> 18];
        *o++ = (uint8_t)alphabet[(v >> 12) & 63];
        *o++ = i + 1 < len ? (uint8_t)alphabet[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    return 0;
}

void sl_json_base64(sl_json_t *json, const void *data, size_t len) {
    value_start(json);
    put_c(json, '"');
    if (json->err == 0 && sl_base64_encode(json->out, data, len) != 0)
        json->err = SL_ENOMEM;
    put_c(json, '"');
}
