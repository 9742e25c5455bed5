/*
 * The five GTID events: MySQL's GTID and ANONYMOUS_GTID (33, 34), its
 * tagged GTID (42), PREVIOUS_GTIDS (35), and MariaDB's GTID (162) and
 * GTID_LIST (163). A GTID event starts a transaction: it names it and
 * carries MySQL's logical clock.
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

static void format_uuid(const uint8_t *u, char *out) {
    static const char hex[] = "0123456789abcdef";
    int o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[u[i] >> 4];
        out[o++] = hex[u[i] & 15];
    }
    out[o] = '\0';
}

int sl__dec_gtid_mysql(sl_binlog_t *dec, unsigned type, const uint8_t *body,
                       size_t len) {
    sl_reader_t rd;
    sl_reader_init(&rd, body, len);
    uint8_t flags;
    const uint8_t *sid;
    uint64_t gno;
    if (sl_rd_u8(&rd, &flags) != 0 || sl_rd_bytes(&rd, 16, &sid) != 0 ||
        sl_rd_u64le(&rd, &gno) != 0)
        return sl__dec_fail(dec, SL_ECORRUPT,
                            "GTID event of %zu bytes is too short", len);
    sl__dec_trx_reset(dec);
    if (type == SL_EV_GTID) {
        char uuid[40];
        format_uuid(sid, uuid);
        snprintf(dec->gtid, sizeof(dec->gtid), "%s:%llu", uuid,
                 (unsigned long long)gno);
    }
    uint8_t lt;
    if (sl_rd_u8(&rd, &lt) == 0) {
        if (lt != 2)
            return sl__dec_fail(dec, SL_ECORRUPT,
                                "GTID logical timestamp type %u (want 2)", lt);
        if (sl_rd_u64le(&rd, &dec->last_committed) != 0 ||
            sl_rd_u64le(&rd, &dec->sequence_number) != 0)
            return sl__dec_fail(dec, SL_ECORRUPT,
                                "GTID logical timestamps truncated");
        dec->has_lc = 1;
        uint64_t imm;
        if (sl_reader_left(&rd) >= 7) {
            sl_rd_uNle(&rd, 7, &imm);
            uint64_t orig = imm & ~(1ULL << 55);
            if (imm & (1ULL << 55)) {
                if (sl_rd_uNle(&rd, 7, &orig) != 0)
                    return sl__dec_fail(dec, SL_ECORRUPT,
                                        "GTID original commit timestamp "
                                        "truncated");
            }
            dec->commit_ts_us = orig;
            /* transaction_length, server versions and the commit group
             * ticket may follow; they are not needed for change events. */
        }
    }
    return 0;
}

/* MySQL's mysql::serialization variable-length unsigned integer: the
 * number of trailing one bits of the first byte is the count of extra
 * bytes; the value is the remaining bits, little-endian. */
static int ser_uint(sl_reader_t *rd, uint64_t *v) {
    uint8_t b0;
    if (sl_rd_u8(rd, &b0) != 0)
        return SL_ETRUNC;
    unsigned extra = 0;
    while (extra < 8 && (b0 >> extra) & 1)
        extra++;
    if (sl_reader_left(rd) < extra)
        return SL_ETRUNC;
    uint64_t val;
    if (extra == 8) {
        val = sl_get_u64le(rd->p);
    } else {
        val = (uint64_t)(b0 >> (extra + 1));
        for (unsigned i = 0; i < extra; i++)
            val |= (uint64_t)rd->p[i] << (8 * i + 7 - extra);
    }
    rd->p += extra;
    *v = val;
    return 0;
}

static int ser_int(sl_reader_t *rd, int64_t *v) {
    uint64_t u;
    int rc = ser_uint(rd, &u);
    if (rc != 0)
        return rc;
    *v = (u & 1) ? -(int64_t)(u >> 1) - 1 : (int64_t)(u >> 1);
    return 0;
}

/*
 * GTID_TAGGED_LOG_EVENT (42), MySQL 9: a mysql::serialization message.
 * Message = ser_uint format version (1), ser_uint serialized size (of the
 * whole message, from its first byte), ser_uint last non-ignorable field
 * id, then fields each preceded by its ser_uint id: 0 flags (uint), 1 uuid
 * (16 bytes, each a ser_uint), 2 gno (int), 3 tag (ser_uint length +
 * bytes), 4 last_committed (int), 5 sequence_number (int), 6 immediate
 * commit timestamp (uint), 7 original commit timestamp (uint), 8
 * transaction length (uint), 9 immediate server version (uint), 10
 * original server version (uint), 11 commit group ticket (uint). Signed
 * ints are zig-zag encoded. Fields after the message are not part of it.
 */
int sl__dec_gtid_tagged(sl_binlog_t *dec, const uint8_t *body, size_t len) {
    sl_reader_t rd;
    sl_reader_init(&rd, body, len);
    uint64_t version, size, last_id, id, u;
    int64_t i64;
    uint8_t uuid[16];
    int have_uuid = 0;
    const uint8_t *tag = NULL;
    uint64_t tag_len = 0;
    int64_t gno = 0;
    uint64_t imm_ts = 0, orig_ts = 0;
    int have_orig = 0;
    sl__dec_trx_reset(dec);
    if (ser_uint(&rd, &version) != 0 || ser_uint(&rd, &size) != 0 ||
        ser_uint(&rd, &last_id) != 0)
        goto bad;
    if (version != 1)
        return sl__dec_fail(dec, SL_EUNSUPPORTED,
                            "GTID_TAGGED message format version %llu",
                            (unsigned long long)version);
    if (size > len || size < (size_t)(rd.p - body))
        return sl__dec_fail(dec, SL_ECORRUPT,
                            "GTID_TAGGED message size %llu, event body "
                            "%zu",
                            (unsigned long long)size, len);
    rd.end = body + size;
    for (int guard = 0; guard < 64 && sl_reader_left(&rd) > 0; guard++) {
        if (ser_uint(&rd, &id) != 0)
            goto bad;
        switch (id) {
        case 0:
            if (ser_uint(&rd, &u) != 0)
                goto bad;
            break;
        case 1:
            for (int i = 0; i < 16; i++) {
                if (ser_uint(&rd, &u) != 0 || u > 255)
                    goto bad;
                uuid[i] = (uint8_t)u;
            }
            have_uuid = 1;
            break;
        case 2:
            if (ser_int(&rd, &gno) != 0)
                goto bad;
            break;
        case 3:
            if (ser_uint(&rd, &tag_len) != 0 ||
                sl_rd_bytes(&rd, tag_len, &tag) != 0)
                goto bad;
            break;
        case 4:
            if (ser_int(&rd, &i64) != 0)
                goto bad;
            dec->last_committed = (uint64_t)i64;
            dec->has_lc = 1;
            break;
        case 5:
            if (ser_int(&rd, &i64) != 0)
                goto bad;
            dec->sequence_number = (uint64_t)i64;
            break;
        case 6:
            if (ser_uint(&rd, &imm_ts) != 0)
                goto bad;
            break;
        case 7:
            if (ser_uint(&rd, &orig_ts) != 0)
                goto bad;
            have_orig = 1;
            break;
        case 8:
        case 9:
        case 10:
        case 11:
            if (ser_uint(&rd, &u) != 0)
                goto bad;
            break;
        default:
            return sl__dec_fail(dec, SL_EUNSUPPORTED,
                                "GTID_TAGGED field id %llu unknown",
                                (unsigned long long)id);
        }
    }
    if (!have_uuid)
        return sl__dec_fail(dec, SL_ECORRUPT, "GTID_TAGGED without uuid");
    char us[40];
    format_uuid(uuid, us);
    if (tag_len > 32)
        return sl__dec_fail(dec, SL_ECORRUPT, "GTID tag of %llu bytes",
                            (unsigned long long)tag_len);
    snprintf(dec->gtid, sizeof(dec->gtid), "%s:%.*s%s%lld", us, (int)tag_len,
             tag ? (const char *)tag : "", tag_len ? ":" : "", (long long)gno);
    dec->commit_ts_us = have_orig ? orig_ts : imm_ts;
    return 0;
bad:
    return sl__dec_fail(dec, SL_ECORRUPT,
                        "GTID_TAGGED message truncated or malformed");
}

int sl__dec_gtid_previous(sl_binlog_t *dec, const uint8_t *body, size_t len) {
    sl_reader_t rd;
    sl_reader_init(&rd, body, len);
    uint64_t n;
    if (sl_rd_u64le(&rd, &n) != 0)
        goto bad;
    /* MySQL 8.3+ tagged format: the first and the last byte of the
     * 8-byte count are both 1 and the count is in bytes 1-6. */
    int tagged = (n & 0xFF) == 1 && (n >> 56) == 1;
    if (tagged)
        n = (n >> 8) & 0xFFFFFFFFFFFFULL;
    if (n > len)
        goto bad;
    for (uint64_t i = 0; i < n; i++) {
        if (sl_rd_skip(&rd, 16) != 0)
            goto bad;
        if (tagged) {
            uint64_t tl;
            if (ser_uint(&rd, &tl) != 0 || sl_rd_skip(&rd, tl) != 0)
                goto bad;
        }
        uint64_t ni;
        if (sl_rd_u64le(&rd, &ni) != 0 || ni > len / 16 ||
            sl_rd_skip(&rd, ni * 16) != 0)
            goto bad;
    }
    if (sl_reader_left(&rd) != 0)
        return sl__dec_fail(dec, SL_ECORRUPT,
                            "PREVIOUS_GTIDS has %zu trailing bytes",
                            sl_reader_left(&rd));
    return 0;
bad:
    return sl__dec_fail(dec, SL_ECORRUPT,
                        "PREVIOUS_GTIDS of %zu bytes truncated", len);
}

int sl__dec_gtid_maria(sl_binlog_t *dec, const uint8_t *body, size_t len,
                       int emit) {
    if (len < 13)
        return sl__dec_fail(dec, SL_ECORRUPT, "MariaDB GTID event of %zu bytes",
                            len);
    uint64_t seq = sl_get_u64le(body);
    uint32_t domain = sl_get_u32le(body + 8);
    uint8_t flags = body[12];
    sl__dec_trx_reset(dec);
    /* "domain-server-seq", at most 42 bytes: formatted by hand, as
     * snprintf would cost more than the rest of the event. */
    uint8_t *g = (uint8_t *)dec->gtid;
    unsigned n = sl_count_digits(domain);
    sl_put_u64_digits(g, domain, n);
    g += n;
    *g++ = '-';
    n = sl_count_digits(dec->ev_server_id);
    sl_put_u64_digits(g, dec->ev_server_id, n);
    g += n;
    *g++ = '-';
    n = sl_count_digits(seq);
    sl_put_u64_digits(g, seq, n);
    g[n] = '\0';
    if (flags & 0x02) { /* FL_GROUP_COMMIT_ID */
        if (len < 21)
            return sl__dec_fail(dec, SL_ECORRUPT,
                                "MariaDB GTID commit id truncated");
    }
    if (flags & 0x01) { /* FL_STANDALONE: a DDL or statement follows. */
        dec->gtid_standalone = 1;
        dec->trx_pos = dec->pos;
        return 0;
    }
    /* The GTID event opens the transaction (MariaDB writes no BEGIN). */
    return sl__dec_trx_begin(dec, emit);
}

/* MariaDB's GTID_LIST: count u32 (the low 28 bits), then per GTID domain
 * u32, server_id u32, seq_no u64. Only checked: the position it states is
 * the file's, which the coordinates already carry. */
int sl__dec_gtid_list(sl_binlog_t *dec, const uint8_t *body, size_t len) {
    if (len < 4)
        return sl__dec_fail(dec, SL_ECORRUPT, "GTID_LIST truncated");
    uint32_t n = sl_get_u32le(body) & 0x0FFFFFFF;
    if ((uint64_t)n * 16 + 4 > len)
        return sl__dec_fail(dec, SL_ECORRUPT,
                            "GTID_LIST of %u entries in %zu bytes", n, len);
    return 0;
}
