/*
 * Binlog event framing and every event that is not a TABLE_MAP or a rows
 * event.
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
 *
 * TRANSACTION_PAYLOAD (40): fields of (type lenenc, length lenenc, value
 * lenenc) until type 0 (end mark): 1 payload (compressed) size, 2
 * compression type (0 zstd, 255 none), 3 uncompressed size; then the payload, a stream of
 * complete events without checksums. It is decompressed in a window with
 * libzstd's streaming API and each inner event is decoded as if inline, so
 * memory is bounded by the largest inner event, not by the transaction.
 *
 * MariaDB compressed events (165-171): the compressed part starts with a
 * byte 0x80 | n (n = 1..4) followed by the uncompressed length, n bytes
 * big-endian, then a zlib stream. For QUERY_COMPRESSED it replaces the
 * query text; for rows events, the row data after the column bitmaps.
 */
#include "internal.h"
#include "json.h"
#include "log.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

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

int sl_binlog_fail(sl_binlog_t *dec, int code, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    const char *tn = sl_binlog_type_name(dec->type);
    char inner[64] = "";
    if (dec->inner)
        snprintf(inner, sizeof(inner), " (inside TRANSACTION_PAYLOAD at "
                 "offset %llu)", (unsigned long long)dec->inner_off);
    snprintf(dec->err, sizeof(dec->err), "binlog %s:%llu%s: %s (type %u): %s",
             dec->file ? dec->file : "-", (unsigned long long)dec->pos,
             inner, tn ? tn : "unknown event type", dec->type, msg);
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
    sl_tablemap_free_all(dec);
    sl_charset_close_all(dec);
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

unsigned sl_binlog_post_header(const sl_binlog_t *dec, unsigned type) {
    if (dec->binlog_version < 4)
        return v3_post_header(type);
    if (type >= 1 && type <= dec->npost)
        return dec->post_header[type - 1];
    /* Types newer than the FDE's table: use the sizes every server that
     * writes them uses. */
    switch (type) {
    case SL_EV_TABLE_MAP: return 8;
    case SL_EV_WRITE_ROWS_V1: case SL_EV_UPDATE_ROWS_V1:
    case SL_EV_DELETE_ROWS_V1: return 8;
    case SL_EV_WRITE_ROWS: case SL_EV_UPDATE_ROWS: case SL_EV_DELETE_ROWS:
    case SL_EV_PARTIAL_UPDATE_ROWS: return 10;
    case SL_EV_INCIDENT: return 2;
    case SL_EV_GTID: case SL_EV_ANONYMOUS_GTID: return 42;
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

/* ---- Output helpers ---------------------------------------------------- */

/* With room for the literal's terminating NUL, which is never read. */
const char sl_digit_pairs[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233"
    "34353637383940414243444546474849505152535455565758596061626364656667"
    "6869707172737475767778798081828384858687888990919293949596979899";

const uint64_t sl_pow10_u64[20] = {
    1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull,
    10000000ull, 100000000ull, 1000000000ull, 10000000000ull,
    100000000000ull, 1000000000000ull, 10000000000000ull,
    100000000000000ull, 1000000000000000ull, 10000000000000000ull,
    100000000000000000ull, 1000000000000000000ull,
    10000000000000000000ull};

static void put_str(sl_buf_t *out, const char *s) {
    sl_out_raw(out, s, strlen(s));
}

static void put_jstr(sl_buf_t *out, const void *s, size_t n) {
    sl_out_c(out, '"');
    if (sl_json_plain_prefix(s, n) == n)
        sl_out_raw(out, s, n);
    else
        sl_json_escape(out, s, n, NULL);
    sl_out_c(out, '"');
}

static void render_trx(sl_binlog_t *dec, sl_buf_t *out) {
    SL_OUT_LIT(out, ",\"trx\":{\"seq\":");
    sl_out_u64(out, dec->trx_seq);
    SL_OUT_LIT(out, ",\"id\":");
    if (dec->gtid[0] != '\0') {
        put_jstr(out, dec->gtid, strlen(dec->gtid));
        SL_OUT_LIT(out, ",\"gtid\":");
        put_jstr(out, dec->gtid, strlen(dec->gtid));
    } else {
        char id[600];
        int n = snprintf(id, sizeof(id), "%s:%llu",
                         dec->file ? dec->file : "-",
                         (unsigned long long)dec->trx_pos);
        if (n > (int)sizeof(id) - 1)
            n = (int)sizeof(id) - 1;
        put_jstr(out, id, (size_t)n);
    }
    if (dec->has_lc) {
        SL_OUT_LIT(out, ",\"last_committed\":");
        sl_out_u64(out, dec->last_committed);
        SL_OUT_LIT(out, ",\"sequence_number\":");
        sl_out_u64(out, dec->sequence_number);
    }
    if (dec->commit_ts_us != 0) {
        SL_OUT_LIT(out, ",\"commit_ts_us\":");
        sl_out_u64(out, dec->commit_ts_us);
    }
    sl_out_c(out, '}');
}

int sl_binlog_coords(sl_binlog_t *dec, const sl_buf_t **coords) {
    const char *file = dec->file ? dec->file : "-";
    if (dec->file_json_for != file) {
        sl_buf_reset(&dec->file_json);
        put_str(&dec->file_json, ",\"src\":{\"file\":");
        put_jstr(&dec->file_json, file, strlen(file));
        put_str(&dec->file_json, ",\"pos\":");
        dec->file_json_for = file;
    }
    /* The source part is the same for every row of one event; its
     * server id and timestamp mostly stay the same for many events. */
    if (dec->src_for_pos != dec->pos || dec->src_for_inner != dec->inner ||
        dec->src_for_off != dec->inner_off || dec->src_for_file != file ||
        dec->coords.len == 0) {
        if (dec->sid_json.len == 0 || dec->sid_for_id != dec->ev_server_id ||
            dec->sid_for_ts != dec->ev_ts) {
            sl_buf_t *sb = &dec->sid_json;
            sl_buf_reset(sb);
            SL_OUT_LIT(sb, ",\"server_id\":");
            sl_out_u64(sb, dec->ev_server_id);
            SL_OUT_LIT(sb, ",\"ts\":");
            sl_out_u64(sb, dec->ev_ts);
            sl_out_c(sb, '}');
            dec->sid_for_id = dec->ev_server_id;
            dec->sid_for_ts = dec->ev_ts;
        }
        sl_buf_t *cb = &dec->coords;
        sl_buf_reset(cb);
        sl_out_raw(cb, dec->file_json.data, dec->file_json.len);
        sl_out_u64(cb, dec->pos);
        if (dec->inner) {
            SL_OUT_LIT(cb, ",\"inner_offset\":");
            sl_out_u64(cb, dec->inner_off);
        }
        SL_OUT_LIT(cb, ",\"end_pos\":");
        sl_out_u64(cb, dec->ev_end_pos);
        sl_out_raw(cb, dec->sid_json.data, dec->sid_json.len);
        dec->coords_src_len = cb->len;
        dec->src_for_pos = dec->pos;
        dec->src_for_inner = dec->inner;
        dec->src_for_off = dec->inner_off;
        dec->src_for_file = file;
    }
    /* The transaction part changes once per transaction: reuse it. */
    if (!dec->trx_key_valid || dec->trx_key.seq != dec->trx_seq ||
        dec->trx_key.pos != dec->trx_pos || dec->trx_key.file != file ||
        dec->trx_key.has_lc != dec->has_lc ||
        dec->trx_key.lc != dec->last_committed ||
        dec->trx_key.sn != dec->sequence_number ||
        dec->trx_key.cts != dec->commit_ts_us ||
        strcmp(dec->trx_key.gtid, dec->gtid) != 0) {
        sl_buf_reset(&dec->trx_json);
        render_trx(dec, &dec->trx_json);
        dec->trx_key.seq = dec->trx_seq;
        dec->trx_key.pos = dec->trx_pos;
        dec->trx_key.file = file;
        dec->trx_key.has_lc = dec->has_lc;
        dec->trx_key.lc = dec->last_committed;
        dec->trx_key.sn = dec->sequence_number;
        dec->trx_key.cts = dec->commit_ts_us;
        memcpy(dec->trx_key.gtid, dec->gtid, sizeof(dec->gtid));
        dec->trx_key_valid = 1;
        dec->coords.len = dec->coords_src_len;
    }
    /* trx_json is never empty: the source part alone means it is still
     * to be appended. */
    if (dec->coords.len == dec->coords_src_len)
        sl_out_raw(&dec->coords, dec->trx_json.data, dec->trx_json.len);
    if (sl_buf_error(&dec->file_json) != 0 ||
        sl_buf_error(&dec->sid_json) != 0 ||
        sl_buf_error(&dec->trx_json) != 0 || sl_buf_error(&dec->coords) != 0) {
        /* Nothing partly rendered may be reused. */
        dec->file_json_for = NULL;
        dec->sid_json.len = 0;
        dec->trx_key_valid = 0;
        dec->coords.len = 0;
        return SL_ENOMEM;
    }
    *coords = &dec->coords;
    return 0;
}

int sl_binlog_put_coords(sl_binlog_t *dec, sl_buf_t *out) {
    const sl_buf_t *coords;
    int rc = sl_binlog_coords(dec, &coords);
    if (rc != 0)
        return sl_binlog_fail(dec, rc, "out of memory for output");
    return sl_out_raw(out, coords->data, coords->len);
}


int sl_binlog_emit(sl_binlog_t *dec, sl_change_t *chg, size_t start) {
    if (sl_buf_append_u8(&dec->out, '\n') != 0 ||
        sl_buf_error(&dec->out) != 0) {
        dec->out.len = start;
        return sl_binlog_fail(dec, SL_ENOMEM, "out of memory for output");
    }
    chg->file = dec->file ? dec->file : "-";
    chg->pos = dec->pos;
    chg->trx_seq = dec->trx_seq;
    chg->row = dec->trx_row;
    chg->gtid = dec->gtid;
    chg->trx_pos = dec->trx_pos;
    chg->has_logical_clock = dec->has_lc;
    chg->last_committed = dec->last_committed;
    chg->sequence_number = dec->sequence_number;
    chg->commit_ts_us = dec->commit_ts_us;
    chg->json = (const char *)dec->out.data + start;
    chg->json_len = dec->out.len - start - 1;
    if (dec->cb == NULL)
        return 0;
    int rc = dec->cb(dec->ctx, chg);
    if (rc != 0)
        snprintf(dec->err, sizeof(dec->err),
                 "binlog %s:%llu: the change consumer stopped the decoder "
                 "(%d)", dec->file ? dec->file : "-",
                 (unsigned long long)dec->pos, rc);
    return rc;
}

/* ---- Transactions ------------------------------------------------------ */

static void trx_reset(sl_binlog_t *dec) {
    dec->in_trx = 0;
    dec->trx_row = 0;
    dec->gtid[0] = '\0';
    dec->has_lc = 0;
    dec->commit_ts_us = 0;
    dec->gtid_standalone = 0;
}

static int emit_simple(sl_binlog_t *dec, sl_change_kind_t kind,
                       const char *extra_key, uint64_t extra) {
    size_t start = sl_binlog_begin(dec);
    sl_buf_t *out = &dec->out;
    switch (kind) {
    case SL_CHANGE_BEGIN: SL_OUT_LIT(out, "{\"kind\":\"begin\""); break;
    case SL_CHANGE_COMMIT: SL_OUT_LIT(out, "{\"kind\":\"commit\""); break;
    case SL_CHANGE_ROLLBACK:
        SL_OUT_LIT(out, "{\"kind\":\"rollback\"");
        break;
    default: SL_OUT_LIT(out, "{\"kind\":\"xa_prepare\""); break;
    }
    if (kind != SL_CHANGE_BEGIN) {
        SL_OUT_LIT(out, ",\"rows\":");
        sl_out_u64(out, dec->trx_row);
    }
    if (extra_key != NULL) {
        SL_OUT_LIT(out, ",\"");
        put_str(out, extra_key);
        SL_OUT_LIT(out, "\":");
        sl_out_u64(out, extra);
    }
    if (sl_binlog_put_coords(dec, out) != 0) {
        out->len = start;
        return SL_ENOMEM;
    }
    sl_out_c(out, '}');
    sl_change_t chg = {.kind = kind};
    return sl_binlog_emit(dec, &chg, start);
}

int sl_binlog_trx_begin(sl_binlog_t *dec, int emit);
/* A transaction still open when the next one starts never committed in
 * this binlog (a crash, or a relay log cut mid-transaction): say so with
 * a rollback rather than leave its begin unanswered. */
static int close_open_trx(sl_binlog_t *dec, int emit) {
    if (!dec->in_trx)
        return 0;
    int rc = emit ? emit_simple(dec, SL_CHANGE_ROLLBACK, NULL, 0) : 0;
    dec->trx_seq++;
    trx_reset(dec);
    sl_tablemap_release_all(dec);
    return rc;
}

int sl_binlog_trx_begin(sl_binlog_t *dec, int emit) {
    int rc = close_open_trx(dec, emit);
    if (rc != 0)
        return rc;
    dec->in_trx = 1;
    dec->trx_row = 0;
    dec->trx_pos = dec->pos;
    if (!emit)
        return 0;
    return emit_simple(dec, SL_CHANGE_BEGIN, NULL, 0);
}

int sl_binlog_trx_end(sl_binlog_t *dec, sl_change_kind_t kind, int emit,
                      const char *extra_key, uint64_t extra);
int sl_binlog_trx_end(sl_binlog_t *dec, sl_change_kind_t kind, int emit,
                      const char *extra_key, uint64_t extra) {
    int rc = 0;
    if (emit)
        rc = emit_simple(dec, kind, extra_key, extra);
    dec->trx_seq++;
    dec->stats.transactions++;
    trx_reset(dec);
    sl_tablemap_release_all(dec);
    return rc;
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

static int version_ge(const unsigned v[3], unsigned a, unsigned b,
                      unsigned c) {
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
        return sl_binlog_fail(dec, SL_ECORRUPT,
                              "format description of %zu bytes is too short",
                              len);
    const uint8_t *b = ev + 19;
    unsigned ver = sl_get_u16le(b);
    if (ver != 4)
        return sl_binlog_fail(dec, SL_EUNSUPPORTED,
                              "format description says binlog version %u; "
                              "only version 4 uses this event", ver);
    char sv[51];
    memcpy(sv, b + 2, 50);
    sv[50] = '\0';
    unsigned hlen = b[56];
    if (hlen < 19)
        return sl_binlog_fail(dec, SL_ECORRUPT,
                              "format description header length %u < 19",
                              hlen);
    unsigned v[3];
    parse_version(sv, v);
    int maria = strstr(sv, "MariaDB") != NULL;
    int has_alg = maria ? version_ge(v, 5, 3, 0) : version_ge(v, 5, 6, 1);
    size_t fixed = 19 + 57;
    size_t npost;
    int checksum = 0;
    if (has_alg) {
        if (len < fixed + 5)
            return sl_binlog_fail(dec, SL_ECORRUPT,
                                  "format description too short for its "
                                  "checksum algorithm byte");
        uint8_t alg = ev[len - 5];
        if (alg == 1) {
            checksum = 1;
        } else if (alg != 0 && alg != 255) {
            return sl_binlog_fail(dec, SL_EUNSUPPORTED,
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
            uint32_t got = sl_binlog_crc32(0, hdr, 19);
            got = sl_binlog_crc32(got, ev + 19, len - 4 - 19);
            if (want != got)
                return sl_binlog_fail(dec, SL_ECHECKSUM,
                                      "CRC32 mismatch: stored 0x%08x, "
                                      "computed 0x%08x", want, got);
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

static int decode_start_v3(sl_binlog_t *dec, const uint8_t *body,
                           size_t len) {
    if (len < 56)
        return sl_binlog_fail(dec, SL_ECORRUPT,
                              "START_EVENT_V3 body of %zu bytes < 56", len);
    unsigned ver = sl_get_u16le(body);
    if (ver < 1 || ver > 3)
        return sl_binlog_fail(dec, SL_EUNSUPPORTED,
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

/* ---- QUERY ------------------------------------------------------------- */

typedef struct {
    const uint8_t *db;
    size_t db_len;
    const uint8_t *sql;
    size_t sql_len;
    uint64_t sql_mode;
    int has_sql_mode;
    unsigned client_cs;
    const uint8_t *tz;
    size_t tz_len;
    uint32_t error_code;
} query_t;

static int parse_status_vars(sl_binlog_t *dec, const uint8_t *p, size_t n,
                             query_t *q) {
    sl_reader_t rd;
    sl_reader_init(&rd, p, n);
    while (sl_reader_left(&rd) > 0) {
        uint8_t code = 0;
        sl_rd_u8(&rd, &code);
        size_t skip;
        uint8_t l1, l2;
        switch (code) {
        case 0: skip = 4; break;                  /* FLAGS2 */
        case 1:                                   /* SQL_MODE */
            if (sl_rd_u64le(&rd, &q->sql_mode) != 0)
                goto trunc;
            q->has_sql_mode = 1;
            continue;
        case 2:                                   /* CATALOG (old) */
            if (sl_rd_u8(&rd, &l1) != 0)
                goto trunc;
            skip = (size_t)l1 + 1;
            break;
        case 3: skip = 4; break;                  /* AUTO_INCREMENT */
        case 4:                                   /* CHARSET */
            if (sl_reader_left(&rd) < 6)
                goto trunc;
            q->client_cs = sl_get_u16le(rd.p);
            skip = 6;
            break;
        case 5:                                   /* TIME_ZONE */
            if (sl_rd_u8(&rd, &l1) != 0 || sl_reader_left(&rd) < l1)
                goto trunc;
            q->tz = rd.p;
            q->tz_len = l1;
            skip = l1;
            break;
        case 6:                                   /* CATALOG_NZ */
            if (sl_rd_u8(&rd, &l1) != 0)
                goto trunc;
            skip = l1;
            break;
        case 7: skip = 2; break;                  /* LC_TIME_NAMES */
        case 8: skip = 2; break;                  /* CHARSET_DATABASE */
        case 9: skip = 8; break;                  /* TABLE_MAP_FOR_UPDATE */
        case 10: skip = 4; break;                 /* MASTER_DATA_WRITTEN */
        case 11:                                  /* INVOKER */
            if (sl_rd_u8(&rd, &l1) != 0 || sl_rd_skip(&rd, l1) != 0 ||
                sl_rd_u8(&rd, &l2) != 0)
                goto trunc;
            skip = l2;
            break;
        case 12: {                                /* UPDATED_DB_NAMES */
            if (sl_rd_u8(&rd, &l1) != 0)
                goto trunc;
            if (l1 == 254) /* OVER_MAX_DBS_IN_EVENT_MTS: no names. */
                continue;
            for (unsigned i = 0; i < l1; i++) {
                const uint8_t *z = memchr(rd.p, 0, sl_reader_left(&rd));
                if (z == NULL)
                    goto trunc;
                rd.p = z + 1;
            }
            continue;
        }
        case 13: skip = 3; break;                 /* MICROSECONDS */
        case 16: skip = 1; break;                 /* EXPLICIT_DEFAULTS_TS */
        case 17: skip = 8; break;                 /* DDL_LOGGED_WITH_XID */
        case 18: skip = 2; break;                 /* DEFAULT_COLL_UTF8MB4 */
        case 19: skip = 1; break;                 /* SQL_REQUIRE_PK */
        case 20: skip = 1; break;                 /* DEFAULT_TABLE_ENCR */
        case 128: skip = 3; break;                /* MariaDB HRNOW */
        case 129: skip = 8; break;                /* MariaDB XID */
        case 130: skip = 1; break;                /* MariaDB GTID_FLAGS3 */
        case 131:                                 /* MariaDB CS_COLLATIONS */
            if (sl_rd_u8(&rd, &l1) != 0)
                goto trunc;
            skip = (size_t)l1 * 4;
            break;
        default:
            return sl_binlog_fail(dec, SL_EUNSUPPORTED,
                                  "unknown query status variable %u at "
                                  "offset %zu of the status block", code,
                                  (size_t)(rd.p - 1 - p));
        }
        if (sl_rd_skip(&rd, skip) != 0)
            goto trunc;
    }
    return 0;
trunc:
    return sl_binlog_fail(dec, SL_ECORRUPT,
                          "query status variables truncated (block of "
                          "%zu bytes)", n);
}

static int zlib_inflate_mariadb(sl_binlog_t *dec, const uint8_t *p, size_t n,
                                sl_buf_t *out) {
    if (n < 1 || (p[0] & 0x80) == 0)
        return sl_binlog_fail(dec, SL_ECORRUPT,
                              "compressed event without its 0x80 header");
    unsigned lenlen = p[0] & 0x07;
    if (lenlen < 1 || lenlen > 4 || n < 1 + lenlen)
        return sl_binlog_fail(dec, SL_ECORRUPT,
                              "compressed event length field of %u bytes",
                              lenlen);
    uint64_t ulen = sl_get_uNbe(p + 1, lenlen);
    if (ulen > SL_BINLOG_MAX_EVENT)
        return sl_binlog_fail(dec, SL_ETOOBIG,
                              "compressed event expands to %llu bytes",
                              (unsigned long long)ulen);
    sl_buf_reset(out);
    if (sl_buf_reserve(out, ulen + 1) != 0)
        return sl_binlog_fail(dec, SL_ENOMEM, "out of memory");
    uLongf dlen = (uLongf)ulen;
    int zrc = uncompress(out->data, &dlen, p + 1 + lenlen,
                         (uLong)(n - 1 - lenlen));
    if (zrc != Z_OK || dlen != ulen)
        return sl_binlog_fail(dec, SL_ECORRUPT,
                              "zlib: cannot inflate compressed event (%d, "
                              "%lu of %llu bytes)", zrc, (unsigned long)dlen,
                              (unsigned long long)ulen);
    out->len = (size_t)ulen;
    return 0;
}

int sl_binlog_inflate(sl_binlog_t *dec, const uint8_t *p, size_t n,
                      sl_buf_t *out);
int sl_binlog_inflate(sl_binlog_t *dec, const uint8_t *p, size_t n,
                      sl_buf_t *out) {
    return zlib_inflate_mariadb(dec, p, n, out);
}

static int word_is(const uint8_t *s, size_t n, const char *w) {
    size_t wl = strlen(w);
    if (n < wl || strncasecmp((const char *)s, w, wl) != 0)
        return 0;
    return n == wl || !(isalnum(s[wl]) || s[wl] == '_');
}

/* Skips spaces and comments (but not MySQL's executable comments
 * "/ *!" which carry the statement itself) at the start of a statement. */
static size_t sql_lead(const uint8_t *s, size_t n) {
    size_t i = 0;
    for (int guard = 0; guard < 64 && i < n; guard++) {
        while (i < n && isspace(s[i]))
            i++;
        if (i + 1 < n && s[i] == '/' && s[i + 1] == '*' &&
            !(i + 2 < n && s[i + 2] == '!')) {
            const uint8_t *e = memmem(s + i + 2, n - i - 2, "*/", 2);
            if (e == NULL)
                return i;
            i = (size_t)(e - s) + 2;
            continue;
        }
        if (i + 2 < n && s[i] == '/' && s[i + 1] == '*' && s[i + 2] == '!') {
            /* "/ *!50001 CREATE ..." : skip the marker and version. */
            i += 3;
            while (i < n && isdigit(s[i]))
                i++;
            continue;
        }
        if (i + 1 < n && s[i] == '-' && s[i + 1] == '-') {
            const uint8_t *e = memchr(s + i, '\n', n - i);
            i = e ? (size_t)(e - s) + 1 : n;
            continue;
        }
        if (i < n && s[i] == '#') {
            const uint8_t *e = memchr(s + i, '\n', n - i);
            i = e ? (size_t)(e - s) + 1 : n;
            continue;
        }
        break;
    }
    return i;
}

static int is_ddl(const uint8_t *s, size_t n) {
    static const char *const kw[] = {"CREATE", "ALTER", "DROP", "RENAME",
                                     "TRUNCATE", NULL};
    for (int i = 0; kw[i] != NULL; i++)
        if (word_is(s, n, kw[i]))
            return 1;
    return 0;
}

static int emit_query(sl_binlog_t *dec, sl_change_kind_t kind,
                      const query_t *q) {
    size_t start = sl_binlog_begin(dec);
    sl_buf_t *out = &dec->out;
    put_str(out, kind == SL_CHANGE_DDL ? "{\"kind\":\"ddl\""
                                       : "{\"kind\":\"statement\"");
    put_str(out, ",\"db\":");
    if (q->db_len > 0)
        put_jstr(out, q->db, q->db_len);
    else
        put_str(out, "null");
    put_str(out, ",\"sql\":");
    /* Statement text may hold binary literals: bytes that are not UTF-8
     * become U+FFFD here (documented); row values never do. */
    const sl_charset_t *cs = q->client_cs ? sl_charset_by_collation(
                                                q->client_cs)
                                          : NULL;
    const uint8_t *text = q->sql;
    size_t text_len = q->sql_len;
    if (cs != NULL && cs->cls != SL_CS_BINARY && cs->cls != SL_CS_UTF8) {
        int rc = sl_text_utf8(dec, cs, q->sql, q->sql_len, &text, &text_len);
        if (rc != 0)
            return rc;
    }
    int replaced = 0;
    sl_out_c(out, '"');
    if (sl_json_plain_prefix(text, text_len) == text_len)
        sl_out_raw(out, text, text_len);
    else
        sl_json_escape(out, text, text_len, &replaced);
    sl_out_c(out, '"');
    /* The service reads the statement as "sql" says it. */
    sl_buf_t *sql = &dec->sql;
    sl_buf_reset(sql);
    if (replaced)
        sl_utf8_sanitize(text, text_len, sql);
    else
        sl_buf_append(sql, text, text_len);
    if (sl_buf_append_u8(sql, 0) != 0)
        return sl_binlog_fail(dec, SL_ENOMEM, "out of memory");
    if (q->has_sql_mode) {
        put_str(out, ",\"sql_mode\":");
        sl_out_u64(out, q->sql_mode);
    }
    if (q->tz != NULL) {
        put_str(out, ",\"time_zone\":");
        put_jstr(out, q->tz, q->tz_len);
    }
    if (q->client_cs) {
        put_str(out, ",\"charset_client\":");
        sl_out_u64(out, q->client_cs);
    }
    if (q->error_code) {
        put_str(out, ",\"error_code\":");
        sl_out_u64(out, q->error_code);
    }
    if (sl_binlog_put_coords(dec, out) != 0) {
        out->len = start;
        return SL_ENOMEM;
    }
    sl_out_c(out, '}');
    sl_change_t chg = {
        .kind = kind,
        .db = (const char *)q->db,
        .db_len = q->db_len,
        .sql = (const char *)sql->data,
        .sql_len = sql->len - 1,
        .has_sql_mode = q->has_sql_mode,
        .sql_mode = q->sql_mode,
    };
    return sl_binlog_emit(dec, &chg, start);
}

static int decode_query(sl_binlog_t *dec, unsigned type, const uint8_t *body,
                        size_t len, int emit) {
    unsigned ph = sl_binlog_post_header(dec, type);
    if (ph < 11 || len < ph)
        return sl_binlog_fail(dec, SL_ECORRUPT,
                              "query event body of %zu bytes, post-header "
                              "%u", len, ph);
    query_t q;
    memset(&q, 0, sizeof(q));
    q.db_len = body[8];
    q.error_code = sl_get_u16le(body + 9);
    size_t svlen = ph >= 13 ? sl_get_u16le(body + 11) : 0;
    if (len < ph + svlen + q.db_len + 1)
        return sl_binlog_fail(dec, SL_ECORRUPT,
                              "query event of %zu bytes cannot hold %zu "
                              "bytes of status variables and a %zu-byte "
                              "database name", len, svlen, q.db_len);
    int rc = parse_status_vars(dec, body + ph, svlen, &q);
    if (rc != 0)
        return rc;
    q.db = body + ph + svlen;
    if (q.db[q.db_len] != 0)
        return sl_binlog_fail(dec, SL_ECORRUPT,
                              "database name is not NUL-terminated");
    q.sql = q.db + q.db_len + 1;
    q.sql_len = len - ph - svlen - q.db_len - 1;
    if (type == SL_EV_EXECUTE_LOAD_QUERY) {
        /* The post-header ends with file_id u32, start u32, end u32,
         * dup_handling u8 after the QUERY fields. */
        if (ph < 13 + 13)
            return sl_binlog_fail(dec, SL_ECORRUPT,
                                  "EXECUTE_LOAD_QUERY post-header of %u "
                                  "bytes", ph);
    }
    if (type == SL_EV_MARIA_QUERY_COMPRESSED) {
        rc = zlib_inflate_mariadb(dec, q.sql, q.sql_len, &dec->zbuf);
        if (rc != 0)
            return rc;
        q.sql = dec->zbuf.data;
        q.sql_len = dec->zbuf.len;
    }
    /* Strip a trailing NUL some old servers leave. */
    while (q.sql_len > 0 && q.sql[q.sql_len - 1] == 0)
        q.sql_len--;
    size_t lead = sql_lead(q.sql, q.sql_len);
    const uint8_t *s = q.sql + lead;
    size_t sn = q.sql_len - lead;
    if (word_is(s, sn, "BEGIN") ||
        (word_is(s, sn, "XA") && sn > 3 && word_is(s + 3, sn - 3, "START"))) {
        if (dec->in_trx && dec->gtid_standalone == 0 && dec->mariadb &&
            dec->trx_row == 0) {
            /* A MariaDB GTID already opened this transaction. */
            return 0;
        }
        return sl_binlog_trx_begin(dec, emit);
    }
    if (word_is(s, sn, "COMMIT"))
        return sl_binlog_trx_end(dec, SL_CHANGE_COMMIT, emit, NULL, 0);
    if (word_is(s, sn, "ROLLBACK") &&
        !(sn > 9 && word_is(s + 9, sn - 9, "TO")))
        return sl_binlog_trx_end(dec, SL_CHANGE_ROLLBACK, emit, NULL, 0);
    if (word_is(s, sn, "XA")) {
        /* XA END inside the transaction; XA COMMIT / ROLLBACK of a
         * prepared transaction is a transaction of its own. */
        const uint8_t *w = s + 2;
        size_t wn = sn - 2;
        while (wn > 0 && isspace(*w)) {
            w++;
            wn--;
        }
        if (word_is(w, wn, "END"))
            return 0;
        if (word_is(w, wn, "PREPARE") && dec->in_trx)
            return sl_binlog_trx_end(dec, SL_CHANGE_XA_PREPARE, emit, NULL,
                                     0);
        if (word_is(w, wn, "COMMIT") || word_is(w, wn, "ROLLBACK")) {
            rc = emit ? emit_query(dec, SL_CHANGE_STATEMENT, &q) : 0;
            if (rc != 0)
                return rc;
            if (dec->in_trx)
                return sl_binlog_trx_end(dec, word_is(w, wn, "COMMIT")
                                                  ? SL_CHANGE_COMMIT
                                                  : SL_CHANGE_ROLLBACK,
                                         emit, NULL, 0);
            return sl_binlog_trx_end(dec, SL_CHANGE_COMMIT, 0, NULL, 0);
        }
    }
    sl_change_kind_t kind = is_ddl(s, sn) ? SL_CHANGE_DDL
                                          : SL_CHANGE_STATEMENT;
    if (!dec->in_trx)
        dec->trx_pos = dec->pos;
    rc = emit ? emit_query(dec, kind, &q) : 0;
    if (rc != 0)
        return rc;
    /* A statement outside BEGIN...COMMIT is a transaction by itself. A
     * DDL always is (it commits implicitly), even when a MariaDB GTID
     * said "standalone". */
    if (!dec->in_trx || dec->gtid_standalone) {
        dec->trx_seq++;
        dec->stats.transactions++;
        trx_reset(dec);
        sl_tablemap_release_all(dec);
    }
    return 0;
}

/* ---- GTIDs ------------------------------------------------------------- */

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

static int decode_mysql_gtid(sl_binlog_t *dec, unsigned type,
                             const uint8_t *body, size_t len) {
    sl_reader_t rd;
    sl_reader_init(&rd, body, len);
    uint8_t flags;
    const uint8_t *sid;
    uint64_t gno;
    if (sl_rd_u8(&rd, &flags) != 0 || sl_rd_bytes(&rd, 16, &sid) != 0 ||
        sl_rd_u64le(&rd, &gno) != 0)
        return sl_binlog_fail(dec, SL_ECORRUPT,
                              "GTID event of %zu bytes is too short", len);
    trx_reset(dec);
    if (type == SL_EV_GTID) {
        char uuid[40];
        format_uuid(sid, uuid);
        snprintf(dec->gtid, sizeof(dec->gtid), "%s:%llu", uuid,
                 (unsigned long long)gno);
    }
    uint8_t lt;
    if (sl_rd_u8(&rd, &lt) == 0) {
        if (lt != 2)
            return sl_binlog_fail(dec, SL_ECORRUPT,
                                  "GTID logical timestamp type %u (want 2)",
                                  lt);
        if (sl_rd_u64le(&rd, &dec->last_committed) != 0 ||
            sl_rd_u64le(&rd, &dec->sequence_number) != 0)
            return sl_binlog_fail(dec, SL_ECORRUPT,
                                  "GTID logical timestamps truncated");
        dec->has_lc = 1;
        uint64_t imm;
        if (sl_reader_left(&rd) >= 7) {
            sl_rd_uNle(&rd, 7, &imm);
            uint64_t orig = imm & ~(1ULL << 55);
            if (imm & (1ULL << 55)) {
                if (sl_rd_uNle(&rd, 7, &orig) != 0)
                    return sl_binlog_fail(dec, SL_ECORRUPT,
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
static int decode_gtid_tagged(sl_binlog_t *dec, const uint8_t *body,
                              size_t len) {
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
    trx_reset(dec);
    if (ser_uint(&rd, &version) != 0 || ser_uint(&rd, &size) != 0 ||
        ser_uint(&rd, &last_id) != 0)
        goto bad;
    if (version != 1)
        return sl_binlog_fail(dec, SL_EUNSUPPORTED,
                              "GTID_TAGGED message format version %llu",
                              (unsigned long long)version);
    if (size > len || size < (size_t)(rd.p - body))
        return sl_binlog_fail(dec, SL_ECORRUPT,
                              "GTID_TAGGED message size %llu, event body "
                              "%zu", (unsigned long long)size, len);
    rd.end = body + size;
    for (int guard = 0; guard < 64 && sl_reader_left(&rd) > 0; guard++) {
        if (ser_uint(&rd, &id) != 0)
            goto bad;
        switch (id) {
        case 0: if (ser_uint(&rd, &u) != 0) goto bad; break;
        case 1:
            for (int i = 0; i < 16; i++) {
                if (ser_uint(&rd, &u) != 0 || u > 255)
                    goto bad;
                uuid[i] = (uint8_t)u;
            }
            have_uuid = 1;
            break;
        case 2: if (ser_int(&rd, &gno) != 0) goto bad; break;
        case 3:
            if (ser_uint(&rd, &tag_len) != 0 ||
                sl_rd_bytes(&rd, tag_len, &tag) != 0)
                goto bad;
            break;
        case 4:
            if (ser_int(&rd, &i64) != 0) goto bad;
            dec->last_committed = (uint64_t)i64;
            dec->has_lc = 1;
            break;
        case 5:
            if (ser_int(&rd, &i64) != 0) goto bad;
            dec->sequence_number = (uint64_t)i64;
            break;
        case 6: if (ser_uint(&rd, &imm_ts) != 0) goto bad; break;
        case 7:
            if (ser_uint(&rd, &orig_ts) != 0) goto bad;
            have_orig = 1;
            break;
        case 8: case 9: case 10: case 11:
            if (ser_uint(&rd, &u) != 0) goto bad;
            break;
        default:
            return sl_binlog_fail(dec, SL_EUNSUPPORTED,
                                  "GTID_TAGGED field id %llu unknown",
                                  (unsigned long long)id);
        }
    }
    if (!have_uuid)
        return sl_binlog_fail(dec, SL_ECORRUPT, "GTID_TAGGED without uuid");
    char us[40];
    format_uuid(uuid, us);
    if (tag_len > 32)
        return sl_binlog_fail(dec, SL_ECORRUPT, "GTID tag of %llu bytes",
                              (unsigned long long)tag_len);
    snprintf(dec->gtid, sizeof(dec->gtid), "%s:%.*s%s%lld", us,
             (int)tag_len, tag ? (const char *)tag : "", tag_len ? ":" : "",
             (long long)gno);
    dec->commit_ts_us = have_orig ? orig_ts : imm_ts;
    return 0;
bad:
    return sl_binlog_fail(dec, SL_ECORRUPT,
                          "GTID_TAGGED message truncated or malformed");
}

static int decode_previous_gtids(sl_binlog_t *dec, const uint8_t *body,
                                 size_t len) {
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
        return sl_binlog_fail(dec, SL_ECORRUPT,
                              "PREVIOUS_GTIDS has %zu trailing bytes",
                              sl_reader_left(&rd));
    return 0;
bad:
    return sl_binlog_fail(dec, SL_ECORRUPT,
                          "PREVIOUS_GTIDS of %zu bytes truncated", len);
}

static int decode_maria_gtid(sl_binlog_t *dec, const uint8_t *body,
                             size_t len, int emit) {
    if (len < 13)
        return sl_binlog_fail(dec, SL_ECORRUPT,
                              "MariaDB GTID event of %zu bytes", len);
    uint64_t seq = sl_get_u64le(body);
    uint32_t domain = sl_get_u32le(body + 8);
    uint8_t flags = body[12];
    trx_reset(dec);
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
            return sl_binlog_fail(dec, SL_ECORRUPT,
                                  "MariaDB GTID commit id truncated");
    }
    if (flags & 0x01) { /* FL_STANDALONE: a DDL or statement follows. */
        dec->gtid_standalone = 1;
        dec->trx_pos = dec->pos;
        return 0;
    }
    /* The GTID event opens the transaction (MariaDB writes no BEGIN). */
    return sl_binlog_trx_begin(dec, emit);
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
    return sl_binlog_fail(dec, SL_ECORRUPT, "USER_VAR event truncated");
}

/* Decompresses a TRANSACTION_PAYLOAD and feeds every inner event. */
static int decode_payload(sl_binlog_t *dec, const uint8_t *body, size_t len,
                          int emit);

static int feed_inner(sl_binlog_t *dec, const uint8_t *ev, size_t len,
                      int emit);

static int decode_event(sl_binlog_t *dec, const uint8_t *ev, size_t len,
                        int emit) {
    unsigned hl = dec->header_len;
    const uint8_t *body = ev + hl;
    size_t blen = len - hl;
    unsigned type = ev[4];
    if (dec->skip[type])
        return 0;
    switch (type) {
    case SL_EV_FORMAT_DESCRIPTION:
    case SL_EV_START_V3:
        return 0; /* Handled in sl_binlog_feed. */
    case SL_EV_QUERY:
    case SL_EV_MARIA_QUERY_COMPRESSED:
    case SL_EV_EXECUTE_LOAD_QUERY:
        return decode_query(dec, type, body, blen, emit);
    case SL_EV_XID:
        if (blen < 8)
            return sl_binlog_fail(dec, SL_ECORRUPT,
                                  "XID event body of %zu bytes < 8", blen);
        return sl_binlog_trx_end(dec, SL_CHANGE_COMMIT, emit, "xid",
                                 sl_get_u64le(body));
    case SL_EV_XA_PREPARE: {
        if (blen < 13)
            return sl_binlog_fail(dec, SL_ECORRUPT, "XA_PREPARE truncated");
        uint32_t gl = sl_get_u32le(body + 5), bl = sl_get_u32le(body + 9);
        if (gl > 64 || bl > 64 || blen < 13 + (size_t)gl + bl)
            return sl_binlog_fail(dec, SL_ECORRUPT,
                                  "XA_PREPARE xid lengths %u+%u in %zu "
                                  "bytes", gl, bl, blen);
        return sl_binlog_trx_end(dec, SL_CHANGE_XA_PREPARE, emit, NULL, 0);
    }
    case SL_EV_TABLE_MAP:
        return sl_tablemap_decode(dec, body, blen);
    case SL_EV_PRE_GA_WRITE_ROWS: case SL_EV_PRE_GA_UPDATE_ROWS:
    case SL_EV_PRE_GA_DELETE_ROWS:
    case SL_EV_WRITE_ROWS_V1: case SL_EV_UPDATE_ROWS_V1:
    case SL_EV_DELETE_ROWS_V1:
    case SL_EV_WRITE_ROWS: case SL_EV_UPDATE_ROWS: case SL_EV_DELETE_ROWS:
    case SL_EV_PARTIAL_UPDATE_ROWS:
    case SL_EV_MARIA_WRITE_ROWS_COMPRESSED_V1:
    case SL_EV_MARIA_UPDATE_ROWS_COMPRESSED_V1:
    case SL_EV_MARIA_DELETE_ROWS_COMPRESSED_V1:
    case SL_EV_MARIA_WRITE_ROWS_COMPRESSED:
    case SL_EV_MARIA_UPDATE_ROWS_COMPRESSED:
    case SL_EV_MARIA_DELETE_ROWS_COMPRESSED:
        if (!emit)
            return 0;
        return sl_rows_decode(dec, type, body, blen);
    case SL_EV_ROTATE: {
        unsigned ph = sl_binlog_post_header(dec, type);
        if (blen < ph || ph < 8)
            return sl_binlog_fail(dec, SL_ECORRUPT,
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
            return sl_binlog_fail(dec, SL_ECORRUPT, "INTVAR truncated");
        return 0;
    case SL_EV_RAND:
        if (blen < 16)
            return sl_binlog_fail(dec, SL_ECORRUPT, "RAND truncated");
        return 0;
    case SL_EV_USER_VAR:
        return decode_user_var(dec, body, blen);
    case SL_EV_ROWS_QUERY:
    case SL_EV_MARIA_ANNOTATE_ROWS:
        /* The statement text behind the next rows events; rows carry the
         * truth, so it is not repeated in every change event. */
        return 0;
    case SL_EV_BEGIN_LOAD_QUERY:
    case SL_EV_APPEND_BLOCK:
    case SL_EV_DELETE_FILE: {
        unsigned ph = sl_binlog_post_header(dec, type);
        if (ph < 4 || blen < ph)
            return sl_binlog_fail(dec, SL_ECORRUPT,
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
        return sl_binlog_fail(dec, SL_ECORRUPT,
                              "the source recorded an incident (%u%s, "
                              "\"%s\"): changes may be missing from the "
                              "binlog here; refusing to continue past it "
                              "(use --skip-event-type 26 to accept the gap)",
                              itype, itype == 1 ? " LOST_EVENTS" : "", msg);
    }
    case SL_EV_GTID:
    case SL_EV_ANONYMOUS_GTID:
        if (close_open_trx(dec, emit) != 0)
            return SL_ESTOPPED;
        return decode_mysql_gtid(dec, type, body, blen);
    case SL_EV_GTID_TAGGED:
        if (close_open_trx(dec, emit) != 0)
            return SL_ESTOPPED;
        return decode_gtid_tagged(dec, body, blen);
    case SL_EV_PREVIOUS_GTIDS:
        return decode_previous_gtids(dec, body, blen);
    case SL_EV_MARIA_GTID:
        if (close_open_trx(dec, emit) != 0)
            return SL_ESTOPPED;
        return decode_maria_gtid(dec, body, blen, emit);
    case SL_EV_MARIA_GTID_LIST: {
        if (blen < 4)
            return sl_binlog_fail(dec, SL_ECORRUPT, "GTID_LIST truncated");
        uint32_t n = sl_get_u32le(body) & 0x0FFFFFFF;
        if ((uint64_t)n * 16 + 4 > blen)
            return sl_binlog_fail(dec, SL_ECORRUPT,
                                  "GTID_LIST of %u entries in %zu bytes", n,
                                  blen);
        return 0;
    }
    case SL_EV_MARIA_BINLOG_CHECKPOINT: {
        if (blen < 4 || sl_get_u32le(body) > blen - 4)
            return sl_binlog_fail(dec, SL_ECORRUPT,
                                  "BINLOG_CHECKPOINT truncated");
        return 0;
    }
    case SL_EV_MARIA_START_ENCRYPTION:
        return sl_binlog_fail(dec, SL_EENCRYPTED,
                              "encrypted binlog: the events after this one "
                              "are encrypted with a key of the server's key "
                              "management plugin, which sluice cannot read; "
                              "capture from the server over replication "
                              "(it decrypts) instead of reading the file");
    case SL_EV_TRANSACTION_PAYLOAD:
        if (dec->inner)
            return sl_binlog_fail(dec, SL_ECORRUPT,
                                  "TRANSACTION_PAYLOAD nested in another");
        return decode_payload(dec, body, blen, emit);
    default:
        break;
    }
    if (sl_get_u16le(ev + 17) & LOG_EVENT_IGNORABLE_F)
        return 0;
    if (type == SL_EV_LOAD || type == SL_EV_NEW_LOAD ||
        type == SL_EV_CREATE_FILE || type == SL_EV_EXEC_LOAD ||
        type == SL_EV_SLAVE)
        return sl_binlog_fail(dec, SL_EUNSUPPORTED,
                              "pre-5.0 LOAD DATA / slave event: statement "
                              "data that has no row images; sluice needs "
                              "binlog_format=ROW (skip deliberately with "
                              "--skip-event-type %u)", type);
    return sl_binlog_fail(dec, SL_EUNSUPPORTED,
                          "unknown event type %u; refusing to skip it "
                          "(upgrade sluice, or skip deliberately with "
                          "--skip-event-type %u)", type, type);
}

static int decode_payload(sl_binlog_t *dec, const uint8_t *body, size_t len,
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
        return sl_binlog_fail(dec, SL_ECORRUPT,
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
                rc = sl_binlog_fail(dec, SL_ECORRUPT,
                                    "payload ends inside an event header");
                break;
            }
            uint32_t esz = sl_get_u32le(payload + off + 9);
            if (esz < 19 || esz > plen - off) {
                rc = sl_binlog_fail(dec, SL_ECORRUPT,
                                    "inner event size %u past the payload",
                                    esz);
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
            return sl_binlog_fail(dec, SL_ENOMEM, "ZSTD_createDCtx failed");
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
                    rc = sl_binlog_fail(dec, SL_ECORRUPT,
                                        "inner event size %u", esz);
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
                    rc = sl_binlog_fail(dec, SL_ECORRUPT,
                                        "payload ends inside an inner event "
                                        "(%zu bytes left)", win->len);
                break;
            }
            size_t want = 1 << 17;
            if (win->len >= 19) {
                uint32_t esz = sl_get_u32le(win->data + 9);
                if (esz > win->len && esz - win->len > want)
                    want = esz - win->len;
            }
            if (sl_buf_reserve(win, want) != 0) {
                rc = sl_binlog_fail(dec, SL_ENOMEM, "out of memory");
                break;
            }
            ZSTD_outBuffer ob = {win->data + win->len, want, 0};
            size_t zr = ZSTD_decompressStream(z, &ob, &in);
            if (ZSTD_isError(zr)) {
                rc = sl_binlog_fail(dec, SL_ECORRUPT, "zstd: %s",
                                    ZSTD_getErrorName(zr));
                break;
            }
            win->len += ob.pos;
            produced += ob.pos;
            if (zr == 0 && in.pos == in.size)
                ended = 1;
            else if (ob.pos == 0 && in.pos == in.size) {
                rc = sl_binlog_fail(dec, SL_ECORRUPT,
                                    "zstd frame truncated");
                break;
            }
            if (usize != 0 && produced > usize) {
                rc = sl_binlog_fail(dec, SL_ECORRUPT,
                                    "payload decompresses past its "
                                    "announced %llu bytes",
                                    (unsigned long long)usize);
                break;
            }
        }
        ZSTD_freeDCtx(z);
        if (rc == 0 && usize != 0 && produced != usize)
            rc = sl_binlog_fail(dec, SL_ECORRUPT,
                                "payload decompressed to %llu bytes, "
                                "announced %llu",
                                (unsigned long long)produced,
                                (unsigned long long)usize);
        /* Do not keep a huge window around after a large transaction. */
        if (win->cap > (8u << 20))
            sl_buf_free(win);
    } else {
        rc = sl_binlog_fail(dec, SL_EUNSUPPORTED,
                            "TRANSACTION_PAYLOAD compression type %llu",
                            (unsigned long long)ctype);
    }
    dec->inner = 0;
    dec->pos = outer_pos;
    dec->ev_ts = outer_ts;
    dec->type = SL_EV_TRANSACTION_PAYLOAD;
    return rc;
bad:
    return sl_binlog_fail(dec, SL_ECORRUPT,
                          "TRANSACTION_PAYLOAD header fields truncated");
}

static int feed_inner(sl_binlog_t *dec, const uint8_t *ev, size_t len,
                      int emit) {
    /* Inner events have the common header and no checksum. */
    dec->type = ev[4];
    dec->ev_ts = sl_get_u32le(ev);
    dec->ev_server_id = sl_get_u32le(ev + 5);
    if (len < dec->header_len)
        return sl_binlog_fail(dec, SL_ECORRUPT, "inner event of %zu bytes",
                              len);
    if (dec->type == SL_EV_FORMAT_DESCRIPTION ||
        dec->type == SL_EV_START_V3 || dec->type == SL_EV_ROTATE)
        return sl_binlog_fail(dec, SL_ECORRUPT,
                              "event type %u cannot be inside a payload",
                              dec->type);
    dec->stats.events++;
    return decode_event(dec, ev, len, emit);
}

int sl_binlog_feed(sl_binlog_t *dec, const uint8_t *ev, size_t len,
                   uint64_t pos, int emit) {
    dec->pos = pos;
    dec->coords.len = 0; /* A new event: its source part is rendered anew. */
    dec->inner = 0;
    if (len < 13) {
        dec->type = len > 4 ? ev[4] : 0;
        return sl_binlog_fail(dec, SL_ETRUNC,
                              "event of %zu bytes is shorter than a header",
                              len);
    }
    unsigned type = ev[4];
    dec->type = type;
    dec->ev_ts = sl_get_u32le(ev);
    dec->ev_server_id = sl_get_u32le(ev + 5);
    uint32_t size = sl_get_u32le(ev + 9);
    if (size != len)
        return sl_binlog_fail(dec, SL_ECORRUPT,
                              "event size field %u differs from the %zu "
                              "bytes framed", size, len);
    dec->stats.events++;
    dec->stats.bytes += len;
    if (!dec->have_fde) {
        if (type == SL_EV_START_V3) {
            unsigned hl = len == 69 ? 13 : 19;
            if (len < hl + 56)
                return sl_binlog_fail(dec, SL_ECORRUPT,
                                      "START_EVENT_V3 of %zu bytes", len);
            int rc = decode_start_v3(dec, ev + hl, len - hl);
            if (rc != 0)
                return rc;
            dec->ev_end_pos = pos + len;
            return 0;
        }
        if (type != SL_EV_FORMAT_DESCRIPTION &&
            !(type == SL_EV_ROTATE && sl_get_u32le(ev) == 0))
            return sl_binlog_fail(dec, SL_ECORRUPT,
                                  "no FORMAT_DESCRIPTION_EVENT before this "
                                  "event (a binlog must start with one); "
                                  "not a binlog, or not its start");
    }
    if (type == SL_EV_FORMAT_DESCRIPTION) {
        dec->ev_end_pos = pos + len;
        return decode_fde(dec, ev, len);
    }
    if (len < dec->header_len)
        return sl_binlog_fail(dec, SL_ECORRUPT,
                              "event of %zu bytes is shorter than the "
                              "%u-byte header", len, dec->header_len);
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
            return sl_binlog_fail(dec, SL_ECORRUPT,
                                  "event of %zu bytes cannot hold its "
                                  "checksum", len);
        if (!dec->opts.no_verify_checksum) {
            uint32_t want = sl_get_u32le(ev + len - 4);
            uint32_t got = sl_binlog_crc32(0, ev, len - 4);
            if (want != got)
                return sl_binlog_fail(dec, SL_ECHECKSUM,
                                      "CRC32 mismatch: stored 0x%08x, "
                                      "computed 0x%08x (corrupt binlog)",
                                      want, got);
        }
        len -= 4;
    }
    return decode_event(dec, ev, len, emit);
}
