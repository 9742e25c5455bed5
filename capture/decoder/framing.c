/*
 * Binlog event framing: the common header, the format description, the
 * checksum, and the dispatch of every event to its decoder (QUERY in
 * query.c, GTIDs in gtid.c, payloads in payload.c, TABLE_MAP in
 * tablemap.c, rows in rows.c); the small informational events are checked
 * here.
 *
 * Layout (all integers little-endian unless stated):
 *
 *   file      = magic 0xFE 'b' 'i' 'n', then events back to back.
 *   header v4 = timestamp u32, type u8, server_id u32, event_size u32
 *               (header + body + checksum), log_pos u32 (position of the
 *               next event; 0 in relay-log fakes), flags u16. 19 bytes.
 *               Binlog v1 (MySQL 3.23) stops after event_size: 13 bytes.
 *   body      = post-header (a fixed length per type, from the format
 *               description) then a variable part.
 *   checksum  = CRC32 (zlib's polynomial) of header + body, u32, present
 *               when the format description's algorithm byte is 1.
 *
 * FORMAT_DESCRIPTION (15): binlog_version u16, server_version char[50]
 * (NUL padded), create_timestamp u32, header_length u8, one post-header
 * length per event type (type 1 first), then, on servers that know
 * checksums (MySQL >= 5.6.1, MariaDB >= 5.3), the algorithm u8 (0 none,
 * 1 CRC32) and a 4-byte checksum slot that is always present. The FDE's
 * algorithm byte governs the FDE itself and every following event.
 * START_EVENT_V3 (1) has the first three fields only; v3 files (MySQL 4.x)
 * use 19-byte headers and fixed post-header lengths.
 *
 * A event is valid when its size is at least the header, its checksum (if
 * any) matches, and every field it announces lies inside it. Anything else
 * is an error naming file, position and type: the decoder never skips what
 * it does not understand, except types the user lists with
 * --skip-event-type and events MySQL flags LOG_EVENT_IGNORABLE_F (0x80),
 * which servers promise replicas may ignore.
 */
#include "internal.h"
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_EVENT_IGNORABLE_F 0x80

#define LOG_EVENT_IGNORABLE_F 0x80

static const char *const type_names[256] = {
    [0] = "UNKNOWN_EVENT",
    [1] = "START_EVENT_V3",
    [2] = "QUERY_EVENT",
    [3] = "STOP_EVENT",
    [4] = "ROTATE_EVENT",
    [5] = "INTVAR_EVENT",
    [6] = "LOAD_EVENT",
    [7] = "SLAVE_EVENT",
    [8] = "CREATE_FILE_EVENT",
    [9] = "APPEND_BLOCK_EVENT",
    [10] = "EXEC_LOAD_EVENT",
    [11] = "DELETE_FILE_EVENT",
    [12] = "NEW_LOAD_EVENT",
    [13] = "RAND_EVENT",
    [14] = "USER_VAR_EVENT",
    [15] = "FORMAT_DESCRIPTION_EVENT",
    [16] = "XID_EVENT",
    [17] = "BEGIN_LOAD_QUERY_EVENT",
    [18] = "EXECUTE_LOAD_QUERY_EVENT",
    [19] = "TABLE_MAP_EVENT",
    [20] = "PRE_GA_WRITE_ROWS_EVENT",
    [21] = "PRE_GA_UPDATE_ROWS_EVENT",
    [22] = "PRE_GA_DELETE_ROWS_EVENT",
    [23] = "WRITE_ROWS_EVENT_V1",
    [24] = "UPDATE_ROWS_EVENT_V1",
    [25] = "DELETE_ROWS_EVENT_V1",
    [26] = "INCIDENT_EVENT",
    [27] = "HEARTBEAT_LOG_EVENT",
    [28] = "IGNORABLE_LOG_EVENT",
    [29] = "ROWS_QUERY_LOG_EVENT",
    [30] = "WRITE_ROWS_EVENT",
    [31] = "UPDATE_ROWS_EVENT",
    [32] = "DELETE_ROWS_EVENT",
    [33] = "GTID_LOG_EVENT",
    [34] = "ANONYMOUS_GTID_LOG_EVENT",
    [35] = "PREVIOUS_GTIDS_LOG_EVENT",
    [36] = "TRANSACTION_CONTEXT_EVENT",
    [37] = "VIEW_CHANGE_EVENT",
    [38] = "XA_PREPARE_LOG_EVENT",
    [39] = "PARTIAL_UPDATE_ROWS_EVENT",
    [40] = "TRANSACTION_PAYLOAD_EVENT",
    [41] = "HEARTBEAT_LOG_EVENT_V2",
    [42] = "GTID_TAGGED_LOG_EVENT",
    [160] = "ANNOTATE_ROWS_EVENT",
    [161] = "BINLOG_CHECKPOINT_EVENT",
    [162] = "GTID_EVENT",
    [163] = "GTID_LIST_EVENT",
    [164] = "START_ENCRYPTION_EVENT",
    [165] = "QUERY_COMPRESSED_EVENT",
    [166] = "WRITE_ROWS_COMPRESSED_EVENT_V1",
    [167] = "UPDATE_ROWS_COMPRESSED_EVENT_V1",
    [168] = "DELETE_ROWS_COMPRESSED_EVENT_V1",
    [169] = "WRITE_ROWS_COMPRESSED_EVENT",
    [170] = "UPDATE_ROWS_COMPRESSED_EVENT",
    [171] = "DELETE_ROWS_COMPRESSED_EVENT",
};

const char *sl_binlog_type_name(unsigned type) {
    return type < 256 ? type_names[type] : NULL;
}

int sl__dec_fail(sl_binlog_t *dec, int code, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    const char *tn = sl_binlog_type_name(dec->type);
    char inner[64] = "";
    if (dec->inner)
        snprintf(inner, sizeof(inner),
                 " (inside TRANSACTION_PAYLOAD at "
                 "offset %llu)",
                 (unsigned long long)dec->inner_off);
    snprintf(dec->err, sizeof(dec->err), "binlog %s:%llu%s: %s (type %u): %s",
             dec->file ? dec->file : "-", (unsigned long long)dec->pos, inner,
             tn ? tn : "unknown event type", dec->type, msg);
    return code;
}

const char *sl_binlog_errmsg(const sl_binlog_t *dec) { return dec->err; }

sl_buf_t *sl_binlog_out(sl_binlog_t *dec) { return &dec->out; }

void sl_binlog_set_checksum(sl_binlog_t *dec, int crc32_on) {
    dec->checksum = crc32_on != 0;
}

void sl_binlog_stats(const sl_binlog_t *dec, sl_binlog_stats_t *stats) {
    *stats = dec->stats;
}

uint32_t sl_binlog_event_size(const uint8_t *hdr) {
    return sl_get_u32le(hdr + 9);
}

unsigned sl_binlog_header_len(const sl_binlog_t *dec) {
    return dec->header_len ? dec->header_len : SL_BINLOG_HEADER_LEN;
}

int sl_binlog_new(sl_binlog_t **out, const sl_binlog_opts_t *opts,
                  sl_change_cb cb, void *ctx) {
    sl_binlog_t *dec = calloc(1, sizeof(*dec));
    if (dec == NULL)
        return SL_ENOMEM;
    if (opts != NULL)
        dec->opts = *opts;
    for (size_t i = 0; opts != NULL && i < opts->nskip_types; i++)
        dec->skip[opts->skip_types[i]] = 1;
    dec->opts.skip_types = NULL;
    dec->opts.nskip_types = 0;
    dec->cb = cb;
    dec->ctx = ctx;
    dec->header_len = SL_BINLOG_HEADER_LEN;
    *out = dec;
    return 0;
}

void sl_binlog_free(sl_binlog_t *dec) {
    if (dec == NULL)
        return;
    sl__dec_tablemap_free_all(dec);
    sl__dec_charset_close_all(dec);
    sl_buf_free(&dec->out);
    sl_buf_free(&dec->tmp);
    sl_buf_free(&dec->tmp2);
    sl_buf_free(&dec->zbuf);
    sl_buf_free(&dec->zin);
    sl_buf_free(&dec->trx_json);
    sl_buf_free(&dec->file_json);
    sl_buf_free(&dec->sid_json);
    sl_buf_free(&dec->coords);
    sl_buf_free(&dec->sql);
    sl__dec_fmt_free(dec);
    free(dec->file);
    free(dec);
}

int sl_binlog_set_file(sl_binlog_t *dec, const char *name) {
    char *copy = strdup(name);
    if (copy == NULL)
        return SL_ENOMEM;
    free(dec->file);
    dec->file = copy;
    dec->file_json_for = NULL;
    dec->trx_key_valid = 0;
    dec->coords.len = 0;
    return 0;
}

/* Post-header lengths of binlog v1/v3 (MySQL 3.23 and 4.x), which have
 * no format description to carry them. */
static unsigned v3_post_header(unsigned type) {
    switch (type) {
    case SL_EV_QUERY: return 11;
    case SL_EV_START_V3: return 56;
    case SL_EV_ROTATE: return 8;
    case SL_EV_LOAD: return 18;
    case SL_EV_CREATE_FILE: return 22;
    case SL_EV_APPEND_BLOCK: return 4;
    case SL_EV_EXEC_LOAD: return 4;
    case SL_EV_DELETE_FILE: return 4;
    case SL_EV_NEW_LOAD: return 18;
    default: return 0;
    }
}

unsigned sl__dec_post_header(const sl_binlog_t *dec, unsigned type) {
    if (dec->binlog_version < 4)
        return v3_post_header(type);
    if (type >= 1 && type <= dec->npost)
        return dec->post_header[type - 1];
    /* Types newer than the FDE's table: use the sizes every server that
     * writes them uses. */
    switch (type) {
    case SL_EV_TABLE_MAP: return 8;
    case SL_EV_WRITE_ROWS_V1:
    case SL_EV_UPDATE_ROWS_V1:
    case SL_EV_DELETE_ROWS_V1: return 8;
    case SL_EV_WRITE_ROWS:
    case SL_EV_UPDATE_ROWS:
    case SL_EV_DELETE_ROWS:
    case SL_EV_PARTIAL_UPDATE_ROWS: return 10;
    case SL_EV_INCIDENT: return 2;
    case SL_EV_GTID:
    case SL_EV_ANONYMOUS_GTID: return 42;
    case SL_EV_XID: return 0;
    case SL_EV_QUERY: return 13;
    case SL_EV_ROTATE: return 8;
    case SL_EV_MARIA_GTID: return 19;
    case SL_EV_MARIA_GTID_LIST: return 4;
    case SL_EV_MARIA_BINLOG_CHECKPOINT: return 4;
    case SL_EV_MARIA_START_ENCRYPTION: return 0;
    case SL_EV_MARIA_QUERY_COMPRESSED: return 13;
    case SL_EV_MARIA_WRITE_ROWS_COMPRESSED_V1:
    case SL_EV_MARIA_UPDATE_ROWS_COMPRESSED_V1:
    case SL_EV_MARIA_DELETE_ROWS_COMPRESSED_V1: return 8;
    case SL_EV_MARIA_WRITE_ROWS_COMPRESSED:
    case SL_EV_MARIA_UPDATE_ROWS_COMPRESSED:
    case SL_EV_MARIA_DELETE_ROWS_COMPRESSED: return 10;
    default: return 0;
    }
}

/* ---- FORMAT_DESCRIPTION / START_EVENT_V3 ------------------------------- */

static void parse_version(const char *v, unsigned out[3]) {
    out[0] = out[1] = out[2] = 0;
    const char *p = v;
    for (int i = 0; i < 3; i++) {
        unsigned n = 0;
        int digits = 0;
        while (*p >= '0' && *p <= '9' && digits < 6) {
            n = n * 10 + (unsigned)(*p - '0');
            p++;
            digits++;
        }
        out[i] = n;
        if (*p != '.')
            break;
        p++;
    }
}

static int version_ge(const unsigned v[3], unsigned a, unsigned b, unsigned c) {
    if (v[0] != a)
        return v[0] > a;
    if (v[1] != b)
        return v[1] > b;
    return v[2] >= c;
}

static int decode_fde(sl_binlog_t *dec, const uint8_t *ev, size_t len) {
    /* len is the whole event as read; the checksum, if any, is decided
     * by the FDE itself. */
    if (len < 19 + 2 + 50 + 4 + 1)
        return sl__dec_fail(dec, SL_ECORRUPT,
                            "format description of %zu bytes is too short",
                            len);
    const uint8_t *b = ev + 19;
    unsigned ver = sl_get_u16le(b);
    if (ver != 4)
        return sl__dec_fail(dec, SL_EUNSUPPORTED,
                            "format description says binlog version %u; "
                            "only version 4 uses this event",
                            ver);
    char sv[51];
    memcpy(sv, b + 2, 50);
    sv[50] = '\0';
    unsigned hlen = b[56];
    if (hlen < 19)
        return sl__dec_fail(dec, SL_ECORRUPT,
                            "format description header length %u < 19", hlen);
    unsigned v[3];
    parse_version(sv, v);
    int maria = strstr(sv, "MariaDB") != NULL;
    int has_alg = maria ? version_ge(v, 5, 3, 0) : version_ge(v, 5, 6, 1);
    size_t fixed = 19 + 57;
    size_t npost;
    int checksum = 0;
    if (has_alg) {
        if (len < fixed + 5)
            return sl__dec_fail(dec, SL_ECORRUPT,
                                "format description too short for its "
                                "checksum algorithm byte");
        uint8_t alg = ev[len - 5];
        if (alg == 1) {
            checksum = 1;
        } else if (alg != 0 && alg != 255) {
            return sl__dec_fail(dec, SL_EUNSUPPORTED,
                                "unknown checksum algorithm %u", alg);
        }
        npost = len - fixed - 5;
        if (checksum && !dec->opts.no_verify_checksum) {
            /* The server computes the FDE's checksum with the
             * LOG_EVENT_BINLOG_IN_USE_F flag (0x1) clear: it sets the
             * flag in place while the file is open. */
            uint8_t hdr[19];
            memcpy(hdr, ev, 19);
            hdr[17] &= (uint8_t)~1u;
            uint32_t want = sl_get_u32le(ev + len - 4);
            uint32_t got = sl__dec_crc32(0, hdr, 19);
            got = sl__dec_crc32(got, ev + 19, len - 4 - 19);
            if (want != got)
                return sl__dec_fail(dec, SL_ECHECKSUM,
                                    "CRC32 mismatch: stored 0x%08x, "
                                    "computed 0x%08x",
                                    want, got);
        }
    } else {
        npost = len - fixed;
    }
    if (npost > 255)
        npost = 255;
    dec->have_fde = 1;
    dec->binlog_version = 4;
    memcpy(dec->server_version, sv, sizeof(sv));
    dec->mariadb = maria;
    dec->header_len = hlen;
    memset(dec->post_header, 0, sizeof(dec->post_header));
    memcpy(dec->post_header, b + 57, npost);
    dec->npost = (unsigned)npost;
    dec->checksum = checksum;
    return 0;
}

static int decode_start_v3(sl_binlog_t *dec, const uint8_t *body, size_t len) {
    if (len < 56)
        return sl__dec_fail(dec, SL_ECORRUPT,
                            "START_EVENT_V3 body of %zu bytes < 56", len);
    unsigned ver = sl_get_u16le(body);
    if (ver < 1 || ver > 3)
        return sl__dec_fail(dec, SL_EUNSUPPORTED,
                            "START_EVENT_V3 with binlog version %u", ver);
    dec->have_fde = 1;
    dec->binlog_version = ver;
    memcpy(dec->server_version, body + 2, 50);
    dec->server_version[50] = '\0';
    dec->mariadb = 0;
    dec->header_len = ver == 1 ? 13 : 19;
    dec->npost = 0;
    dec->checksum = 0;
    return 0;
}

/* ---- Rows-adjacent and informational events ---------------------------- */

static int decode_user_var(sl_binlog_t *dec, const uint8_t *b, size_t len) {
    sl_reader_t rd;
    sl_reader_init(&rd, b, len);
    uint32_t nl, vl;
    uint8_t is_null, t;
    if (sl_rd_u32le(&rd, &nl) != 0 || sl_rd_skip(&rd, nl) != 0 ||
        sl_rd_u8(&rd, &is_null) != 0)
        goto bad;
    if (!is_null) {
        if (sl_rd_u8(&rd, &t) != 0 || sl_rd_skip(&rd, 4) != 0 ||
            sl_rd_u32le(&rd, &vl) != 0 || sl_rd_skip(&rd, vl) != 0)
            goto bad;
        /* An optional flags byte (unsigned) may follow. */
    }
    return 0;
bad:
    return sl__dec_fail(dec, SL_ECORRUPT, "USER_VAR event truncated");
}

int sl__dec_event(sl_binlog_t *dec, const uint8_t *ev, size_t len, int emit) {
    unsigned hl = dec->header_len;
    const uint8_t *body = ev + hl;
    size_t blen = len - hl;
    unsigned type = ev[4];
    if (dec->skip[type])
        return 0;
    switch (type) {
    case SL_EV_FORMAT_DESCRIPTION:
    case SL_EV_START_V3: return 0; /* Handled in sl_binlog_feed. */
    case SL_EV_QUERY:
    case SL_EV_MARIA_QUERY_COMPRESSED:
    case SL_EV_EXECUTE_LOAD_QUERY:
        return sl__dec_query(dec, type, body, blen, emit);
    case SL_EV_XID:
        if (blen < 8)
            return sl__dec_fail(dec, SL_ECORRUPT,
                                "XID event body of %zu bytes < 8", blen);
        return sl__dec_trx_end(dec, SL_CHANGE_COMMIT, emit, "xid",
                               sl_get_u64le(body));
    case SL_EV_XA_PREPARE: {
        if (blen < 13)
            return sl__dec_fail(dec, SL_ECORRUPT, "XA_PREPARE truncated");
        uint32_t gl = sl_get_u32le(body + 5), bl = sl_get_u32le(body + 9);
        if (gl > 64 || bl > 64 || blen < 13 + (size_t)gl + bl)
            return sl__dec_fail(dec, SL_ECORRUPT,
                                "XA_PREPARE xid lengths %u+%u in %zu "
                                "bytes",
                                gl, bl, blen);
        return sl__dec_trx_end(dec, SL_CHANGE_XA_PREPARE, emit, NULL, 0);
    }
    case SL_EV_TABLE_MAP: return sl__dec_tablemap_decode(dec, body, blen);
    case SL_EV_PRE_GA_WRITE_ROWS:
    case SL_EV_PRE_GA_UPDATE_ROWS:
    case SL_EV_PRE_GA_DELETE_ROWS:
    case SL_EV_WRITE_ROWS_V1:
    case SL_EV_UPDATE_ROWS_V1:
    case SL_EV_DELETE_ROWS_V1:
    case SL_EV_WRITE_ROWS:
    case SL_EV_UPDATE_ROWS:
    case SL_EV_DELETE_ROWS:
    case SL_EV_PARTIAL_UPDATE_ROWS:
    case SL_EV_MARIA_WRITE_ROWS_COMPRESSED_V1:
    case SL_EV_MARIA_UPDATE_ROWS_COMPRESSED_V1:
    case SL_EV_MARIA_DELETE_ROWS_COMPRESSED_V1:
    case SL_EV_MARIA_WRITE_ROWS_COMPRESSED:
    case SL_EV_MARIA_UPDATE_ROWS_COMPRESSED:
    case SL_EV_MARIA_DELETE_ROWS_COMPRESSED:
        if (!emit)
            return 0;
        return sl__dec_rows_decode(dec, type, body, blen);
    case SL_EV_ROTATE: {
        unsigned ph = sl__dec_post_header(dec, type);
        if (blen < ph || ph < 8)
            return sl__dec_fail(dec, SL_ECORRUPT,
                                "ROTATE event body of %zu bytes", blen);
        return 0;
    }
    case SL_EV_STOP:
    case SL_EV_IGNORABLE:
    case SL_EV_HEARTBEAT:
    case SL_EV_HEARTBEAT_V2:
    case SL_EV_TRANSACTION_CONTEXT:
    case SL_EV_VIEW_CHANGE:
        /* Informational; nothing in them changes rows or boundaries. */
        return 0;
    case SL_EV_INTVAR:
        if (blen < 9)
            return sl__dec_fail(dec, SL_ECORRUPT, "INTVAR truncated");
        return 0;
    case SL_EV_RAND:
        if (blen < 16)
            return sl__dec_fail(dec, SL_ECORRUPT, "RAND truncated");
        return 0;
    case SL_EV_USER_VAR: return decode_user_var(dec, body, blen);
    case SL_EV_ROWS_QUERY:
    case SL_EV_MARIA_ANNOTATE_ROWS:
        /* The statement text behind the next rows events; rows carry the
         * truth, so only debezium's source.query may repeat it. */
        return sl__dec_fmt_rows_query(dec, type, body, blen);
    case SL_EV_BEGIN_LOAD_QUERY:
    case SL_EV_APPEND_BLOCK:
    case SL_EV_DELETE_FILE: {
        unsigned ph = sl__dec_post_header(dec, type);
        if (ph < 4 || blen < ph)
            return sl__dec_fail(dec, SL_ECORRUPT,
                                "LOAD DATA block event of %zu bytes", blen);
        return 0;
    }
    case SL_EV_INCIDENT: {
        unsigned itype = blen >= 2 ? sl_get_u16le(body) : 0;
        char msg[128] = "";
        if (blen >= 3) {
            size_t ml = body[2];
            if (ml > blen - 3)
                ml = blen - 3;
            if (ml > sizeof(msg) - 1)
                ml = sizeof(msg) - 1;
            memcpy(msg, body + 3, ml);
            msg[ml] = '\0';
        }
        return sl__dec_fail(dec, SL_ECORRUPT,
                            "the source recorded an incident (%u%s, "
                            "\"%s\"): changes may be missing from the "
                            "binlog here; refusing to continue past it "
                            "(use --skip-event-type 26 to accept the gap)",
                            itype, itype == 1 ? " LOST_EVENTS" : "", msg);
    }
    case SL_EV_GTID:
    case SL_EV_ANONYMOUS_GTID:
        if (sl__dec_trx_close_open(dec, emit) != 0)
            return SL_ESTOPPED;
        return sl__dec_gtid_mysql(dec, type, body, blen);
    case SL_EV_GTID_TAGGED:
        if (sl__dec_trx_close_open(dec, emit) != 0)
            return SL_ESTOPPED;
        return sl__dec_gtid_tagged(dec, body, blen);
    case SL_EV_PREVIOUS_GTIDS: return sl__dec_gtid_previous(dec, body, blen);
    case SL_EV_MARIA_GTID:
        if (sl__dec_trx_close_open(dec, emit) != 0)
            return SL_ESTOPPED;
        return sl__dec_gtid_maria(dec, body, blen, emit);
    case SL_EV_MARIA_GTID_LIST: return sl__dec_gtid_list(dec, body, blen);
    case SL_EV_MARIA_BINLOG_CHECKPOINT: {
        if (blen < 4 || sl_get_u32le(body) > blen - 4)
            return sl__dec_fail(dec, SL_ECORRUPT,
                                "BINLOG_CHECKPOINT truncated");
        return 0;
    }
    case SL_EV_MARIA_START_ENCRYPTION:
        return sl__dec_fail(dec, SL_EENCRYPTED,
                            "encrypted binlog: the events after this one "
                            "are encrypted with a key of the server's key "
                            "management plugin, which sluice cannot read; "
                            "capture from the server over replication "
                            "(it decrypts) instead of reading the file");
    case SL_EV_TRANSACTION_PAYLOAD:
        if (dec->inner)
            return sl__dec_fail(dec, SL_ECORRUPT,
                                "TRANSACTION_PAYLOAD nested in another");
        return sl__dec_payload(dec, body, blen, emit);
    default: break;
    }
    if (sl_get_u16le(ev + 17) & LOG_EVENT_IGNORABLE_F)
        return 0;
    if (type == SL_EV_LOAD || type == SL_EV_NEW_LOAD ||
        type == SL_EV_CREATE_FILE || type == SL_EV_EXEC_LOAD ||
        type == SL_EV_SLAVE)
        return sl__dec_fail(dec, SL_EUNSUPPORTED,
                            "pre-5.0 LOAD DATA / slave event: statement "
                            "data that has no row images; sluice needs "
                            "binlog_format=ROW (skip deliberately with "
                            "--skip-event-type %u)",
                            type);
    return sl__dec_fail(dec, SL_EUNSUPPORTED,
                        "unknown event type %u; refusing to skip it "
                        "(upgrade sluice, or skip deliberately with "
                        "--skip-event-type %u)",
                        type, type);
}

int sl_binlog_feed(sl_binlog_t *dec, const uint8_t *ev, size_t len,
                   uint64_t pos, int emit) {
    dec->pos = pos;
    dec->coords.len = 0; /* A new event: its source part is rendered anew. */
    dec->inner = 0;
    if (len < 13) {
        dec->type = len > 4 ? ev[4] : 0;
        return sl__dec_fail(dec, SL_ETRUNC,
                            "event of %zu bytes is shorter than a header", len);
    }
    unsigned type = ev[4];
    dec->type = type;
    dec->ev_ts = sl_get_u32le(ev);
    dec->ev_server_id = sl_get_u32le(ev + 5);
    uint32_t size = sl_get_u32le(ev + 9);
    if (size != len)
        return sl__dec_fail(dec, SL_ECORRUPT,
                            "event size field %u differs from the %zu "
                            "bytes framed",
                            size, len);
    dec->stats.events++;
    dec->stats.bytes += len;
    if (!dec->have_fde) {
        if (type == SL_EV_START_V3) {
            unsigned hl = len == 69 ? 13 : 19;
            if (len < hl + 56)
                return sl__dec_fail(dec, SL_ECORRUPT,
                                    "START_EVENT_V3 of %zu bytes", len);
            int rc = decode_start_v3(dec, ev + hl, len - hl);
            if (rc != 0)
                return rc;
            dec->ev_end_pos = pos + len;
            return 0;
        }
        if (type != SL_EV_FORMAT_DESCRIPTION &&
            !(type == SL_EV_ROTATE && sl_get_u32le(ev) == 0))
            return sl__dec_fail(dec, SL_ECORRUPT,
                                "no FORMAT_DESCRIPTION_EVENT before this "
                                "event (a binlog must start with one); "
                                "not a binlog, or not its start");
    }
    if (type == SL_EV_FORMAT_DESCRIPTION) {
        dec->ev_end_pos = pos + len;
        return decode_fde(dec, ev, len);
    }
    if (len < dec->header_len)
        return sl__dec_fail(dec, SL_ECORRUPT,
                            "event of %zu bytes is shorter than the "
                            "%u-byte header",
                            len, dec->header_len);
    dec->ev_end_pos = dec->header_len >= 17 ? sl_get_u32le(ev + 13) : 0;
    if (dec->ev_end_pos == 0)
        dec->ev_end_pos = pos + len;
    if (type == SL_EV_START_V3) {
        /* A START_EVENT_V3 in a v3 file after the first one (a server
         * restart within a relay log) only restates the format. */
        return 0;
    }
    if (dec->checksum) {
        if (len < dec->header_len + 4u)
            return sl__dec_fail(dec, SL_ECORRUPT,
                                "event of %zu bytes cannot hold its "
                                "checksum",
                                len);
        if (!dec->opts.no_verify_checksum) {
            uint32_t want = sl_get_u32le(ev + len - 4);
            uint32_t got = sl__dec_crc32(0, ev, len - 4);
            if (want != got)
                return sl__dec_fail(dec, SL_ECHECKSUM,
                                    "CRC32 mismatch: stored 0x%08x, "
                                    "computed 0x%08x (corrupt binlog)",
                                    want, got);
        }
        len -= 4;
    }
    return sl__dec_event(dec, ev, len, emit);
}
