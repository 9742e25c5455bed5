#include "bytes.h"

int sl_rd_lenenc(sl_reader_t *rd, uint64_t *v) {
    uint8_t first;
    if (sl_reader_left(rd) < 1)
        return SL_ETRUNC;
    first = rd->p[0];
    unsigned n;
    if (first < 0xFB) {
        *v = first;
        rd->p++;
        return 0;
    } else if (first == 0xFC) {
        n = 2;
    } else if (first == 0xFD) {
        n = 3;
    } else if (first == 0xFE) {
        n = 8;
    } else {
        return SL_ECORRUPT;
    }
    if (sl_reader_left(rd) < 1 + n)
        return SL_ETRUNC;
    *v = sl_get_uNle(rd->p + 1, n);
    rd->p += 1 + n;
    return 0;
}

int sl_rd_uvarint(sl_reader_t *rd, uint64_t *v) {
    uint64_t out = 0;
    const uint8_t *p = rd->p;
    for (unsigned shift = 0; shift < 70; shift += 7) {
        if (p >= rd->end)
            return SL_ETRUNC;
        uint8_t byte = *p++;
        if (shift == 63 && byte > 1)
            return SL_ECORRUPT;
        out |= (uint64_t)(byte & 0x7F) << shift;
        if ((byte & 0x80) == 0) {
            rd->p = p;
            *v = out;
            return 0;
        }
    }
    return SL_ECORRUPT;
}

int sl_rd_varint(sl_reader_t *rd, int64_t *v) {
    uint64_t u;
    int err = sl_rd_uvarint(rd, &u);
    if (err != 0)
        return err;
    *v = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
    return 0;
}

size_t sl_put_uvarint(uint8_t *out, uint64_t v) {
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    return n;
}

size_t sl_put_varint(uint8_t *out, int64_t v) {
    return sl_put_uvarint(out, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}
