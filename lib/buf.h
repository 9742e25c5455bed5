/*
 * Growable byte buffers.
 *
 * An sl_buf_t owns its storage: sl_buf_free() releases it. A zeroed struct
 * (SL_BUF_INIT) is an empty buffer ready for use. Growth is geometric, and
 * every append reports SL_ENOMEM instead of aborting, so a caller decoding a
 * hostile length can fail cleanly.
 *
 * The error is also sticky: a failed append records its code in the
 * buffer, where sl_buf_error() finds it until the buffer is reset, freed or
 * detached. Code that renders text with many small appends checks once at
 * the end instead of after every call; an append after a failure may still
 * succeed (a shorter one can fit), so the text is incomplete whenever
 * sl_buf_error() is set and must not be used.
 */
#ifndef SL_BUF_H
#define SL_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint8_t *data; /* NULL until something is appended. */
    size_t len;    /* Bytes in use. */
    size_t cap;    /* Bytes allocated. */
    int err;       /* The first failed append's code since the last reset,
                      or 0. */
} sl_buf_t;

/* Not formatted: clang-format 14 breaks the initializer off its name. */
/* clang-format off */
#define SL_BUF_INIT {NULL, 0, 0, 0}
/* clang-format on */

void sl_buf_init(sl_buf_t *buf);
/* Releases the storage and leaves an empty buffer. */
void sl_buf_free(sl_buf_t *buf);
/* Empties the buffer, keeping its storage for reuse, and clears its
 * sticky error. */
static inline void sl_buf_reset(sl_buf_t *buf) {
    buf->len = 0;
    buf->err = 0;
}
/* The sticky error: 0, or the code of the first append that failed since
 * the buffer was last reset (SL_ENOMEM, or SL_EINVAL from a bad format). */
static inline int sl_buf_error(const sl_buf_t *buf) { return buf->err; }
/* Records err as the buffer's sticky error unless one is already set (the
 * first failure wins), for code that appends through a helper of its own
 * that can fail (an escaper); returns err. */
static inline int sl_buf_fail(sl_buf_t *buf, int err) {
    if (buf->err == 0)
        buf->err = err;
    return err;
}
/* Makes room for at least extra more bytes. */
int sl_buf_reserve(sl_buf_t *buf, size_t extra);
int sl_buf_append(sl_buf_t *buf, const void *data, size_t len);
int sl_buf_append_u8(sl_buf_t *buf, uint8_t byte);
int sl_buf_append_str(sl_buf_t *buf, const char *str);
int sl_buf_printf(sl_buf_t *buf, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int sl_buf_vprintf(sl_buf_t *buf, const char *fmt, va_list ap);
/* Grows len by n and returns a pointer to the n new (uninitialised) bytes,
 * or NULL on allocation failure. */
uint8_t *sl_buf_extend(sl_buf_t *buf, size_t n);
/* Drops the first n bytes (n <= len), moving the rest to the front. */
void sl_buf_consume(sl_buf_t *buf, size_t n);
/* Ensures data[len] == '\0' without counting it, for use as a C string. */
int sl_buf_cstr(sl_buf_t *buf, const char **out);
/* Hands the storage to the caller (who frees it with free()) and leaves the
 * buffer empty. */
uint8_t *sl_buf_detach(sl_buf_t *buf, size_t *len);

#endif
