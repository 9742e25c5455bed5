/*
 * Payloads: events that hold other events or compressed parts.
 *
 * TRANSACTION_PAYLOAD (40): fields of (type lenenc, length lenenc, value
 * lenenc) until type 0 (end mark): 1 payload (compressed) size, 2
 * compression type (0 zstd, 255 none), 3 uncompressed size; then the payload, a
 * stream of complete events without checksums. It is decompressed in a window
 * with libzstd's streaming API and each inner event is decoded as if inline, so
 * memory is bounded by the largest inner event, not by the transaction.
 *
 * MariaDB compressed events (165-171): the compressed part starts with a
 * byte 0x80 | n (n = 1..4) followed by the uncompressed length, n bytes
 * big-endian, then a zlib stream. For QUERY_COMPRESSED it replaces the
 * query text; for rows events, the row data after the column bitmaps.
 */
#include "internal.h"

#include <string.h>
#include <zlib.h>
#include <zstd.h>

int sl__dec_inflate(sl_binlog_t *dec, const uint8_t *p, size_t n,
                    sl_buf_t *out) {
    if (n < 1 || (p[0] & 0x80) == 0)
        return sl__dec_fail(dec, SL_ECORRUPT,
                            "compressed event without its 0x80 header");
    unsigned lenlen = p[0] & 0x07;
    if (lenlen < 1 || lenlen > 4 || n < 1 + lenlen)
        return sl__dec_fail(dec, SL_ECORRUPT,
                            "compressed event length field of %u bytes",
                            lenlen);
    uint64_t ulen = sl_get_uNbe(p + 1, lenlen);
    if (ulen > SL_BINLOG_MAX_EVENT)
        return sl__dec_fail(dec, SL_ETOOBIG,
                            "compressed event expands to %llu bytes",
                            (unsigned long long)ulen);
    sl_buf_reset(out);
    if (sl_buf_reserve(out, ulen + 1) != 0)
        return sl__dec_fail(dec, SL_ENOMEM, "out of memory");
    uLongf dlen = (uLongf)ulen;
    int zrc =
        uncompress(out->data, &dlen, p + 1 + lenlen, (uLong)(n - 1 - lenlen));
    if (zrc != Z_OK || dlen != ulen)
        return sl__dec_fail(dec, SL_ECORRUPT,
                            "zlib: cannot inflate compressed event (%d, "
                            "%lu of %llu bytes)",
                            zrc, (unsigned long)dlen, (unsigned long long)ulen);
    out->len = (size_t)ulen;
    return 0;
}

static int feed_inner(sl_binlog_t *dec, const uint8_t *ev, size_t len,
                      int emit) {
    /* Inner events have the common header and no checksum. */
    dec->type = ev[4];
    dec->ev_ts = sl_get_u32le(ev);
    dec->ev_server_id = sl_get_u32le(ev + 5);
    if (len < dec->header_len)
        return sl__dec_fail(dec, SL_ECORRUPT, "inner event of %zu bytes", len);
    if (dec->type == SL_EV_FORMAT_DESCRIPTION || dec->type == SL_EV_START_V3 ||
        dec->type == SL_EV_ROTATE)
        return sl__dec_fail(dec, SL_ECORRUPT,
                            "event type %u cannot be inside a payload",
                            dec->type);
    dec->stats.events++;
    return sl__dec_event(dec, ev, len, emit);
}

int sl__dec_payload(sl_binlog_t *dec, const uint8_t *body, size_t len,
                    int emit) {
    sl_reader_t rd;
    sl_reader_init(&rd, body, len);
    uint64_t ctype = 0, csize = 0, usize = 0;
    int have_size = 0;
    for (int guard = 0; guard < 16; guard++) {
        uint64_t ftype, flen, val;
        if (sl_rd_lenenc(&rd, &ftype) != 0)
            goto bad;
        if (ftype == 0)
            break;
        if (sl_rd_lenenc(&rd, &flen) != 0)
            goto bad;
        const uint8_t *vstart = rd.p;
        if (flen > sl_reader_left(&rd))
            goto bad;
        sl_reader_t vr;
        sl_reader_init(&vr, vstart, flen);
        if (sl_rd_lenenc(&vr, &val) != 0)
            goto bad;
        rd.p += flen;
        if (ftype == 2)
            ctype = val;
        else if (ftype == 1) {
            csize = val;
            have_size = 1;
        } else if (ftype == 3)
            usize = val;
    }
    if (!have_size || csize != sl_reader_left(&rd))
        return sl__dec_fail(dec, SL_ECORRUPT,
                            "TRANSACTION_PAYLOAD says %llu compressed "
                            "bytes, event holds %zu",
                            (unsigned long long)csize, sl_reader_left(&rd));
    const uint8_t *payload = rd.p;
    size_t plen = sl_reader_left(&rd);
    uint64_t outer_pos = dec->pos;
    uint32_t outer_ts = dec->ev_ts;
    int rc = 0;
    dec->inner = 1;
    if (ctype == 255) {
        /* Uncompressed payload: the inner events are right here. */
        size_t off = 0;
        while (off < plen && rc == 0) {
            if (plen - off < 19) {
                rc = sl__dec_fail(dec, SL_ECORRUPT,
                                  "payload ends inside an event header");
                break;
            }
            uint32_t esz = sl_get_u32le(payload + off + 9);
            if (esz < 19 || esz > plen - off) {
                rc = sl__dec_fail(dec, SL_ECORRUPT,
                                  "inner event size %u past the payload", esz);
                break;
            }
            dec->inner_off = off;
            rc = feed_inner(dec, payload + off, esz, emit);
            off += esz;
        }
    } else if (ctype == 0) {
        ZSTD_DCtx *z = ZSTD_createDCtx();
        if (z == NULL) {
            dec->inner = 0;
            return sl__dec_fail(dec, SL_ENOMEM, "ZSTD_createDCtx failed");
        }
        /* The window holds the bytes decompressed so far and not yet
         * consumed; it grows only to the largest inner event. */
        sl_buf_t *win = &dec->zin;
        sl_buf_reset(win);
        ZSTD_inBuffer in = {payload, plen, 0};
        uint64_t produced = 0, consumed = 0;
        int ended = 0;
        while (rc == 0) {
            /* Feed every complete event in the window. */
            size_t off = 0;
            while (rc == 0 && win->len - off >= 19) {
                uint32_t esz = sl_get_u32le(win->data + off + 9);
                if (esz < 19 || esz > SL_BINLOG_MAX_EVENT) {
                    dec->inner_off = consumed + off;
                    rc = sl__dec_fail(dec, SL_ECORRUPT, "inner event size %u",
                                      esz);
                    break;
                }
                if (win->len - off < esz)
                    break;
                dec->inner_off = consumed + off;
                rc = feed_inner(dec, win->data + off, esz, emit);
                off += esz;
            }
            if (rc != 0)
                break;
            sl_buf_consume(win, off);
            consumed += off;
            if (ended && in.pos == in.size) {
                if (win->len != 0)
                    rc = sl__dec_fail(dec, SL_ECORRUPT,
                                      "payload ends inside an inner event "
                                      "(%zu bytes left)",
                                      win->len);
                break;
            }
            size_t want = 1 << 17;
            if (win->len >= 19) {
                uint32_t esz = sl_get_u32le(win->data + 9);
                if (esz > win->len && esz - win->len > want)
                    want = esz - win->len;
            }
            if (sl_buf_reserve(win, want) != 0) {
                rc = sl__dec_fail(dec, SL_ENOMEM, "out of memory");
                break;
            }
            ZSTD_outBuffer ob = {win->data + win->len, want, 0};
            size_t zr = ZSTD_decompressStream(z, &ob, &in);
            if (ZSTD_isError(zr)) {
                rc = sl__dec_fail(dec, SL_ECORRUPT, "zstd: %s",
                                  ZSTD_getErrorName(zr));
                break;
            }
            win->len += ob.pos;
            produced += ob.pos;
            if (zr == 0 && in.pos == in.size)
                ended = 1;
            else if (ob.pos == 0 && in.pos == in.size) {
                rc = sl__dec_fail(dec, SL_ECORRUPT, "zstd frame truncated");
                break;
            }
            if (usize != 0 && produced > usize) {
                rc = sl__dec_fail(dec, SL_ECORRUPT,
                                  "payload decompresses past its "
                                  "announced %llu bytes",
                                  (unsigned long long)usize);
                break;
            }
        }
        ZSTD_freeDCtx(z);
        if (rc == 0 && usize != 0 && produced != usize)
            rc = sl__dec_fail(dec, SL_ECORRUPT,
                              "payload decompressed to %llu bytes, "
                              "announced %llu",
                              (unsigned long long)produced,
                              (unsigned long long)usize);
        /* Do not keep a huge window around after a large transaction. */
        if (win->cap > (8u << 20))
            sl_buf_free(win);
    } else {
        rc = sl__dec_fail(dec, SL_EUNSUPPORTED,
                          "TRANSACTION_PAYLOAD compression type %llu",
                          (unsigned long long)ctype);
    }
    dec->inner = 0;
    dec->pos = outer_pos;
    dec->ev_ts = outer_ts;
    dec->type = SL_EV_TRANSACTION_PAYLOAD;
    return rc;
bad:
    return sl__dec_fail(dec, SL_ECORRUPT,
                        "TRANSACTION_PAYLOAD header fields truncated");
}
