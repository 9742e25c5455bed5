/*
 * Building binlog events by hand for the capture decoder tests: frames an
 * event body the way a server writes it.
 */
#ifndef SL_TEST_CAPTURE_BINLOG_H
#define SL_TEST_CAPTURE_BINLOG_H

#include "buf.h"
#include "bytes.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <zlib.h>

/* Wraps body in a v4 event header (the event at position pos) and a CRC32
 * trailer, into ev. */
static inline void ct_binlog_event(sl_buf_t *ev, uint8_t type,
                                   const uint8_t *body, size_t len,
                                   uint32_t pos) {
    uint8_t hdr[19];
    uint32_t size = (uint32_t)(19 + len + 4);
    sl_put_u32le(hdr, 1700000000);
    hdr[4] = type;
    sl_put_u32le(hdr + 5, 1);
    sl_put_u32le(hdr + 9, size);
    sl_put_u32le(hdr + 13, pos + size);
    sl_put_u16le(hdr + 17, 0);
    sl_buf_reset(ev);
    sl_buf_append(ev, hdr, 19);
    sl_buf_append(ev, body, len);
    uint8_t crc[4];
    sl_put_u32le(crc, (uint32_t)crc32(0, ev->data, (uInt)ev->len));
    sl_buf_append(ev, crc, 4);
}

/* A format description body for server version sv without post-header
 * lengths (the decoder's defaults apply), CRC32 checksums, into fde (58
 * bytes, returned). */
#define CT_FDE_LEN (2 + 50 + 4 + 1 + 1)
static inline size_t ct_binlog_fde(uint8_t *fde, const char *sv) {
    memset(fde, 0, CT_FDE_LEN);
    sl_put_u16le(fde, 4);
    memcpy(fde + 2, sv, strlen(sv) < 50 ? strlen(sv) : 50);
    fde[56] = 19;
    fde[57] = 1;
    return CT_FDE_LEN;
}

#endif
