/*
 * Byte-order accessors and a bounds-checked reader.
 *
 * Storage and wire formats are read and written through these helpers,
 * never by casting structs onto buffers, so alignment and byte order are
 * always explicit. The MySQL binlog is mostly little-endian (with a few
 * big-endian fields such as DECIMAL and TIME2); Kafka's RecordBatch is
 * big-endian with zig-zag varints.
 */
#ifndef SL_BYTES_H
#define SL_BYTES_H

#include "error.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint16_t sl_get_u16le(const uint8_t *p) {
    return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t sl_get_u24le(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16);
}
static inline uint32_t sl_get_u32le(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}
static inline uint64_t sl_get_uNle(const uint8_t *p, unsigned n) {
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}
static inline uint64_t sl_get_u48le(const uint8_t *p) {
    return sl_get_uNle(p, 6);
}
static inline uint64_t sl_get_u64le(const uint8_t *p) {
    return (uint64_t)sl_get_u32le(p) | ((uint64_t)sl_get_u32le(p + 4) << 32);
}
static inline uint16_t sl_get_u16be(const uint8_t *p) {
    return (uint16_t)((p[0] << 8) | p[1]);
}
static inline uint32_t sl_get_u24be(const uint8_t *p) {
    return ((uint32_t)p[0] << 16) | ((uint32_t)p[1] << 8) | (uint32_t)p[2];
}
static inline uint32_t sl_get_u32be(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
           ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}
static inline uint64_t sl_get_uNbe(const uint8_t *p, unsigned n) {
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}
static inline uint64_t sl_get_u64be(const uint8_t *p) {
    return ((uint64_t)sl_get_u32be(p) << 32) | sl_get_u32be(p + 4);
}

static inline void sl_put_u16le(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void sl_put_u24le(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
}
static inline void sl_put_u32le(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline void sl_put_u64le(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline void sl_put_u16be(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline void sl_put_u32be(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (24 - 8 * i));
}
static inline void sl_put_u64be(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (56 - 8 * i));
}

/*
 * A cursor over [p, end). Every read checks the bounds and returns
 * SL_ETRUNC without moving when the input is too short, so a decoder can
 * chain reads and report the first failure.
 */
typedef struct {
    const uint8_t *p;
    const uint8_t *end;
} sl_reader_t;

static inline void sl_reader_init(sl_reader_t *rd, const void *data,
                                  size_t len) {
    rd->p = (const uint8_t *)data;
    rd->end = rd->p + len;
}
static inline size_t sl_reader_left(const sl_reader_t *rd) {
    return (size_t)(rd->end - rd->p);
}
static inline int sl_rd_skip(sl_reader_t *rd, size_t n) {
    if (sl_reader_left(rd) < n)
        return SL_ETRUNC;
    rd->p += n;
    return 0;
}
/* Points *out at the next n bytes (no copy) and advances. */
static inline int sl_rd_bytes(sl_reader_t *rd, size_t n, const uint8_t **out) {
    if (sl_reader_left(rd) < n)
        return SL_ETRUNC;
    *out = rd->p;
    rd->p += n;
    return 0;
}
static inline int sl_rd_u8(sl_reader_t *rd, uint8_t *v) {
    if (rd->p >= rd->end)
        return SL_ETRUNC;
    *v = *rd->p++;
    return 0;
}
static inline int sl_rd_u16le(sl_reader_t *rd, uint16_t *v) {
    if (sl_reader_left(rd) < 2)
        return SL_ETRUNC;
    *v = sl_get_u16le(rd->p);
    rd->p += 2;
    return 0;
}
static inline int sl_rd_u24le(sl_reader_t *rd, uint32_t *v) {
    if (sl_reader_left(rd) < 3)
        return SL_ETRUNC;
    *v = sl_get_u24le(rd->p);
    rd->p += 3;
    return 0;
}
static inline int sl_rd_u32le(sl_reader_t *rd, uint32_t *v) {
    if (sl_reader_left(rd) < 4)
        return SL_ETRUNC;
    *v = sl_get_u32le(rd->p);
    rd->p += 4;
    return 0;
}
static inline int sl_rd_uNle(sl_reader_t *rd, unsigned n, uint64_t *v) {
    if (n > 8 || sl_reader_left(rd) < n)
        return SL_ETRUNC;
    *v = sl_get_uNle(rd->p, n);
    rd->p += n;
    return 0;
}
static inline int sl_rd_u64le(sl_reader_t *rd, uint64_t *v) {
    return sl_rd_uNle(rd, 8, v);
}
static inline int sl_rd_u16be(sl_reader_t *rd, uint16_t *v) {
    if (sl_reader_left(rd) < 2)
        return SL_ETRUNC;
    *v = sl_get_u16be(rd->p);
    rd->p += 2;
    return 0;
}
static inline int sl_rd_u32be(sl_reader_t *rd, uint32_t *v) {
    if (sl_reader_left(rd) < 4)
        return SL_ETRUNC;
    *v = sl_get_u32be(rd->p);
    rd->p += 4;
    return 0;
}
static inline int sl_rd_u64be(sl_reader_t *rd, uint64_t *v) {
    if (sl_reader_left(rd) < 8)
        return SL_ETRUNC;
    *v = sl_get_u64be(rd->p);
    rd->p += 8;
    return 0;
}

/* MySQL length-encoded integer (1, 3, 4 or 9 bytes). 0xFB (NULL) and 0xFF
 * (error) are reported as SL_ECORRUPT; callers that accept NULL check the
 * first byte themselves. */
int sl_rd_lenenc(sl_reader_t *rd, uint64_t *v);

/* Kafka varints: unsigned LEB128 and zig-zag signed, at most 10 bytes. An
 * over-long encoding is SL_ECORRUPT. */
int sl_rd_uvarint(sl_reader_t *rd, uint64_t *v);
int sl_rd_varint(sl_reader_t *rd, int64_t *v);
/* Writes the encoding into out (at least 10 bytes) and returns its length. */
size_t sl_put_uvarint(uint8_t *out, uint64_t v);
size_t sl_put_varint(uint8_t *out, int64_t v);

#endif
