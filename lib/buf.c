#include "buf.h"

#include "error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sl_buf_init(sl_buf_t *buf) {
    buf->data = NULL;
    buf->len = 0;
    buf->cap = 0;
    buf->err = 0;
}

void sl_buf_free(sl_buf_t *buf) {
    free(buf->data);
    sl_buf_init(buf);
}

int sl_buf_reserve(sl_buf_t *buf, size_t extra) {
    if (extra > SIZE_MAX - buf->len - 1)
        return sl_buf_fail(buf, SL_ENOMEM);
    size_t need = buf->len + extra;
    if (need <= buf->cap)
        return 0;
    size_t cap = buf->cap ? buf->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    uint8_t *data = realloc(buf->data, cap);
    if (data == NULL)
        return sl_buf_fail(buf, SL_ENOMEM);
    buf->data = data;
    buf->cap = cap;
    return 0;
}

uint8_t *sl_buf_extend(sl_buf_t *buf, size_t n) {
    if (sl_buf_reserve(buf, n) != 0)
        return NULL;
    uint8_t *p = buf->data + buf->len;
    buf->len += n;
    return p;
}

int sl_buf_append(sl_buf_t *buf, const void *data, size_t len) {
    if (len == 0)
        return 0;
    int err = sl_buf_reserve(buf, len);
    if (err != 0)
        return err;
    memcpy(buf->data + buf->len, data, len);
    buf->len += len;
    return 0;
}

int sl_buf_append_u8(sl_buf_t *buf, uint8_t byte) {
    if (buf->len == buf->cap) {
        int err = sl_buf_reserve(buf, 1);
        if (err != 0)
            return err;
    }
    buf->data[buf->len++] = byte;
    return 0;
}

int sl_buf_append_str(sl_buf_t *buf, const char *str) {
    return sl_buf_append(buf, str, strlen(str));
}

int sl_buf_vprintf(sl_buf_t *buf, const char *fmt, va_list ap) {
    va_list copy;
    va_copy(copy, ap);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, copy);
    va_end(copy);
    if (n < 0)
        return sl_buf_fail(buf, SL_EINVAL);
    if ((size_t)n < sizeof small)
        return sl_buf_append(buf, small, (size_t)n);
    int err = sl_buf_reserve(buf, (size_t)n + 1);
    if (err != 0)
        return err;
    vsnprintf((char *)buf->data + buf->len, (size_t)n + 1, fmt, ap);
    buf->len += (size_t)n;
    return 0;
}

int sl_buf_printf(sl_buf_t *buf, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int err = sl_buf_vprintf(buf, fmt, ap);
    va_end(ap);
    return err;
}

void sl_buf_consume(sl_buf_t *buf, size_t n) {
    if (n >= buf->len) {
        buf->len = 0;
        return;
    }
    memmove(buf->data, buf->data + n, buf->len - n);
    buf->len -= n;
}

int sl_buf_cstr(sl_buf_t *buf, const char **out) {
    int err = sl_buf_reserve(buf, 1);
    if (err != 0)
        return err;
    buf->data[buf->len] = '\0';
    *out = (const char *)buf->data;
    return 0;
}

uint8_t *sl_buf_detach(sl_buf_t *buf, size_t *len) {
    uint8_t *data = buf->data;
    if (len != NULL)
        *len = buf->len;
    sl_buf_init(buf);
    return data;
}
