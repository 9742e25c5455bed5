/*
 * The primitive types of the Kafka wire format (non-flexible versions),
 * read from a request and written into a reply:
 *
 *   int8/16/32/64  big-endian two's complement;
 *   string         int16 length N, then N bytes; N = -1 is null, any other
 *                  negative N is malformed;
 *   bytes          int32 length N, then N bytes; N = -1 is null;
 *   array          int32 count N, then N elements; N = -1 is null.
 *
 * Reading never trusts a length: a string, bytes or array longer than
 * what is left of the request makes the reader's sticky error SL_ETRUNC
 * (or SL_EPROTO for a negative length other than -1), and every later read
 * returns zero, so handlers check once after reading a structure.
 */
#include "broker/kafka/internal.h"

#include "bytes.h"
#include "error.h"

#include <string.h>

static int take(sl_kreader_t *r, size_t n, const uint8_t **out) {
    if (r->err != 0)
        return r->err;
    if ((size_t)(r->end - r->p) < n) {
        r->err = SL_ETRUNC;
        r->p = r->end;
        return r->err;
    }
    *out = r->p;
    r->p += n;
    return 0;
}

int8_t sl__kafka_r_i8(sl_kreader_t *r) {
    const uint8_t *p;
    return take(r, 1, &p) == 0 ? (int8_t)p[0] : 0;
}

int16_t sl__kafka_r_i16(sl_kreader_t *r) {
    const uint8_t *p;
    return take(r, 2, &p) == 0 ? (int16_t)sl_get_u16be(p) : 0;
}

int32_t sl__kafka_r_i32(sl_kreader_t *r) {
    const uint8_t *p;
    return take(r, 4, &p) == 0 ? (int32_t)sl_get_u32be(p) : 0;
}

int64_t sl__kafka_r_i64(sl_kreader_t *r) {
    const uint8_t *p;
    return take(r, 8, &p) == 0 ? (int64_t)sl_get_u64be(p) : 0;
}

void sl__kafka_r_skip(sl_kreader_t *r, size_t n) {
    const uint8_t *p;
    take(r, n, &p);
}

/* A length of -1 is null; other negative lengths are malformed. */
static int bad_length(sl_kreader_t *r) {
    if (r->err == 0)
        r->err = SL_EPROTO;
    r->p = r->end;
    return r->err;
}

/* Takes the n bytes announced by a length just read (-1: null, *out
 * NULL). Returns 0 or r->err. */
static int take_len(sl_kreader_t *r, int32_t n, const uint8_t **out) {
    *out = NULL;
    if (r->err != 0)
        return r->err;
    if (n < -1)
        return bad_length(r);
    if (n == -1)
        return 0;
    return take(r, (size_t)n, out);
}

int sl__kafka_r_str(sl_kreader_t *r, const char **s, int16_t *len) {
    int16_t n = sl__kafka_r_i16(r);
    const uint8_t *p;
    int err = take_len(r, n, &p);
    *s = (const char *)p;
    *len = err == 0 && n >= 0 ? n : -1;
    return err;
}

int sl__kafka_r_bytes(sl_kreader_t *r, const uint8_t **out, int32_t *len) {
    int32_t n = sl__kafka_r_i32(r);
    int err = take_len(r, n, out);
    *len = err == 0 && n >= 0 ? n : -1;
    return err;
}

int32_t sl__kafka_r_array(sl_kreader_t *r, size_t min_elem) {
    int32_t n = sl__kafka_r_i32(r);
    if (r->err != 0)
        return 0;
    if (n == -1)
        return -1;
    if (n < -1) {
        bad_length(r);
        return 0;
    }
    /* Each element takes at least min_elem bytes (at least one when the
     * caller says 0, so that a count cannot exceed the bytes left). */
    size_t each = min_elem ? min_elem : 1;
    if ((uint64_t)n * each > (uint64_t)(r->end - r->p)) {
        r->err = SL_ETRUNC;
        r->p = r->end;
        return 0;
    }
    return n;
}

/* ---- writing ------------------------------------------------------------ */

static uint8_t *room(sl_buf_t *b, size_t n) { return sl_buf_extend(b, n); }

void sl__kafka_w_i8(sl_buf_t *b, int8_t v) { sl_buf_append_u8(b, (uint8_t)v); }

void sl__kafka_w_i16(sl_buf_t *b, int16_t v) {
    uint8_t *p = room(b, 2);
    if (p != NULL)
        sl_put_u16be(p, (uint16_t)v);
}

void sl__kafka_w_i32(sl_buf_t *b, int32_t v) {
    uint8_t *p = room(b, 4);
    if (p != NULL)
        sl_put_u32be(p, (uint32_t)v);
}

void sl__kafka_w_i64(sl_buf_t *b, int64_t v) {
    uint8_t *p = room(b, 8);
    if (p != NULL)
        sl_put_u64be(p, (uint64_t)v);
}

void sl__kafka_w_str(sl_buf_t *b, const char *s, int16_t len) {
    if (len < 0) {
        sl__kafka_w_i16(b, -1);
        return;
    }
    sl__kafka_w_i16(b, len);
    sl_buf_append(b, s, (size_t)len);
}

void sl__kafka_w_cstr(sl_buf_t *b, const char *s) {
    if (s == NULL) {
        sl__kafka_w_i16(b, -1);
        return;
    }
    size_t n = strlen(s);
    if (n > INT16_MAX) {
        sl_buf_fail(b, SL_ETOOBIG);
        return;
    }
    sl__kafka_w_str(b, s, (int16_t)n);
}

void sl__kafka_w_bytes(sl_buf_t *b, const void *p, int32_t len) {
    if (len < 0) {
        sl__kafka_w_i32(b, -1);
        return;
    }
    sl__kafka_w_i32(b, len);
    sl_buf_append(b, p, (size_t)len);
}

size_t sl__kafka_w_i32_hole(sl_buf_t *b) {
    size_t at = b->len;
    sl__kafka_w_i32(b, 0);
    return at;
}

void sl__kafka_w_i32_at(sl_buf_t *b, size_t at, int32_t v) {
    if (at + 4 <= b->len)
        sl_put_u32be(b->data + at, (uint32_t)v);
}
