/*
 * Internals of MySQL binary JSON, shared by json_bin.c (binary JSON to
 * JSON text; the format is specified at its top) and json_diff.c (partial
 * JSON diffs, which expand containers on their paths and print everything
 * else through json_bin.c's printer). Not a public API: the rest of sluice
 * uses capture/decoder/json_bin.h. Functions here are named sl__jsonb_...
 *
 * The helpers called once per value are static inline so that both files
 * keep them inlined.
 */
#ifndef SL_CAPTURE_DECODER_JSON_BIN_INT_H
#define SL_CAPTURE_DECODER_JSON_BIN_INT_H

#include "buf.h"
#include "error.h"
#include "json_bin.h"

#include <stddef.h>
#include <stdint.h>

/* Type bytes of binary JSON values (MySQL sql/json_binary.h). */
enum {
    SL_JT_SMALL_OBJ = 0x00,
    SL_JT_LARGE_OBJ = 0x01,
    SL_JT_SMALL_ARR = 0x02,
    SL_JT_LARGE_ARR = 0x03,
    SL_JT_LITERAL = 0x04,
    SL_JT_INT16 = 0x05,
    SL_JT_UINT16 = 0x06,
    SL_JT_INT32 = 0x07,
    SL_JT_UINT32 = 0x08,
    SL_JT_INT64 = 0x09,
    SL_JT_UINT64 = 0x0A,
    SL_JT_DOUBLE = 0x0B,
    SL_JT_STRING = 0x0C,
    SL_JT_OPAQUE = 0x0F,
};

/* Shared by one conversion: the output and the work still allowed. */
typedef struct {
    sl_buf_t *out;
    size_t nodes_left; /* Values that may still be visited. */
    size_t bytes_left; /* String, key and opaque bytes that may be printed. */
} sl_jsonb_ctx_t;

static inline void sl__jsonb_ctx_init(sl_jsonb_ctx_t *cx, sl_buf_t *out,
                                      size_t input_len) {
    cx->out = out;
    cx->nodes_left = input_len + 1;
    cx->bytes_left = input_len;
}

/* Counts one value against the budget; SL_ECORRUPT when it is spent. */
static inline int sl__jsonb_visit(sl_jsonb_ctx_t *cx) {
    if (cx->nodes_left == 0)
        return SL_ECORRUPT;
    cx->nodes_left--;
    return 0;
}

static inline int sl__jsonb_put(sl_jsonb_ctx_t *cx, const void *p, size_t n) {
    return sl_buf_append(cx->out, p, n) == 0 ? 0 : SL_ENOMEM;
}

/* An object or array opened by sl__jsonb_cont_open(). */
typedef struct {
    const uint8_t *base; /* First byte of count. */
    size_t bytes;        /* Declared size, <= what the parent allows. */
    uint32_t count;
    int large;
    int is_obj;
    size_t osz;  /* Offset/size field width: 2 or 4. */
    size_t hdr;  /* Header size: count, size, key and value entries. */
    size_t keys; /* Offset of the first value entry. */
} sl_jsonb_cont_t;

static inline int sl__jsonb_is_container(uint8_t type) {
    return type <= SL_JT_LARGE_ARR;
}

/* Reads a container header from avail bytes; short_err is returned when the
 * header itself does not fit (SL_ETRUNC at the root, else SL_ECORRUPT). */
int sl__jsonb_cont_open(uint8_t type, const uint8_t *data, size_t avail,
                        int short_err, sl_jsonb_cont_t *c);

/* The i-th key of an object (i < c->count). */
int sl__jsonb_cont_key(const sl_jsonb_cont_t *c, uint32_t i,
                       const uint8_t **key, size_t *klen);

/* The i-th value (i < c->count): its type and the bytes it may use. An
 * inlined value is read in place from its entry. */
int sl__jsonb_cont_value(const sl_jsonb_cont_t *c, uint32_t i, uint8_t *type,
                         const uint8_t **data, size_t *avail);

/* Appends p as a quoted JSON string with MySQL's escapes, charging n bytes
 * to the budget; invalid UTF-8 is SL_ECORRUPT. */
int sl__jsonb_put_string(sl_jsonb_ctx_t *cx, const uint8_t *p, size_t n);

/* Prints one value of the given type whose bytes start at data with avail
 * bytes available; depth is the number of containers around it, short_err
 * what a value that does not fit in avail returns. */
int sl__jsonb_emit_value(sl_jsonb_ctx_t *cx, uint8_t type, const uint8_t *data,
                         size_t avail, int depth, int short_err);

#endif
