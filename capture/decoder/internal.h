/*
 * Internals of the binlog decoder, shared by its files: framing.c (the
 * common header, the format description, dispatch), envelope.c (the JSON
 * envelope of every change, transaction boundaries), query.c (QUERY),
 * gtid.c (GTID events), payload.c (TRANSACTION_PAYLOAD, MariaDB
 * compressed events), tablemap.c (TABLE_MAP), rows.c (row images),
 * types.c (column values), charset.c (text conversion) and crc32.c. Not a
 * public API: the rest of sluice uses capture/decoder/binlog.h. Functions
 * here are named sl__dec_... (internal to the decoder).
 */
#ifndef SL_CAPTURE_DECODER_INTERNAL_H
#define SL_CAPTURE_DECODER_INTERNAL_H

#include "binlog.h"
#include "buf.h"
#include "bytes.h"
#include "error.h"
#include "fmt.h"
#include "fmtval.h"
#include "json.h"

#include <iconv.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* MySQL column types (enum_field_types). */
enum {
    SL_T_DECIMAL = 0,
    SL_T_TINY = 1,
    SL_T_SHORT = 2,
    SL_T_LONG = 3,
    SL_T_FLOAT = 4,
    SL_T_DOUBLE = 5,
    SL_T_NULL = 6,
    SL_T_TIMESTAMP = 7,
    SL_T_LONGLONG = 8,
    SL_T_INT24 = 9,
    SL_T_DATE = 10,
    SL_T_TIME = 11,
    SL_T_DATETIME = 12,
    SL_T_YEAR = 13,
    SL_T_NEWDATE = 14,
    SL_T_VARCHAR = 15,
    SL_T_BIT = 16,
    SL_T_TIMESTAMP2 = 17,
    SL_T_DATETIME2 = 18,
    SL_T_TIME2 = 19,
    SL_T_TYPED_ARRAY = 20,
    /* MariaDB 10.3+ columns declared COMPRESSED (seen on 10.11: BLOB/TEXT
     * are 140, VARCHAR/VARBINARY 141). */
    SL_T_BLOB_COMPRESSED = 140,
    SL_T_VARCHAR_COMPRESSED = 141,
    SL_T_VECTOR = 242,
    SL_T_INVALID = 243,
    SL_T_BOOL = 244,
    SL_T_JSON = 245,
    SL_T_NEWDECIMAL = 246,
    SL_T_ENUM = 247,
    SL_T_SET = 248,
    SL_T_TINY_BLOB = 249,
    SL_T_MEDIUM_BLOB = 250,
    SL_T_LONG_BLOB = 251,
    SL_T_BLOB = 252,
    SL_T_VAR_STRING = 253,
    SL_T_STRING = 254,
    SL_T_GEOMETRY = 255
};

/* Character set classes the value decoder handles natively. */
typedef enum {
    SL_CS_UNKNOWN = 0, /* No metadata: bytes are emitted as UTF-8 text when
                          valid, else as base64 (see docs). */
    SL_CS_UTF8 = 1,    /* utf8mb3, utf8mb4: validated and copied. */
    SL_CS_LATIN1 = 2,  /* MySQL latin1 = cp1252 with five holes. */
    SL_CS_ASCII = 3,
    SL_CS_BINARY = 4, /* Emitted as base64. */
    SL_CS_ICONV = 5   /* Converted with iconv(3) from iconv_name. */
} sl_cs_class_t;

typedef struct {
    sl_cs_class_t cls;
    const char *name;       /* MySQL charset name ("latin2"). */
    const char *iconv_name; /* glibc iconv name, NULL when none exists. */
} sl_charset_t;

/* Looks up a collation id; NULL when unknown. */
const sl_charset_t *sl__dec_charset_by_collation(uint64_t id);

typedef struct {
    uint8_t type;      /* From the table map (STRING for ENUM/SET/CHAR). */
    uint8_t real_type; /* ENUM/SET/STRING for STRING columns, else type. */
    uint16_t meta;     /* Raw metadata, decoded per type. */
    uint32_t max_len;  /* CHAR: maximum bytes; ENUM/SET: pack length. */
    uint8_t nullable;
    int8_t is_unsigned; /* 1 unsigned, 0 signed, -1 unknown. */
    uint8_t is_pk;
    uint8_t visible;
    uint8_t dropped;     /* Excluded by opts.column_keep. */
    uint8_t key_escaped; /* The JSON key holds an escape sequence. */
    uint32_t collation;  /* 0 when unknown. */
    const sl_charset_t *cs;
    uint32_t geom_type;
    uint32_t vec_dim;
    uint32_t key_off, key_len;       /* `"name":` in keys. */
    uint32_t name_off, name_len;     /* Name bytes in raw (if known). */
    uint32_t strv_first, strv_count; /* ENUM/SET value names. */
} sl_column_t;

typedef struct {
    uint32_t off, len; /* Into the table map's raw copy. */
} sl_strref_t;

typedef struct {
    uint64_t table_id;
    int in_use;
    sl_buf_t raw; /* A copy of the TABLE_MAP body; names point into it.
                     Names taken from the schema history are appended
                     after the body. */
    uint32_t db_off, db_len, table_off, table_len;
    uint32_t ncols;
    sl_column_t *cols;
    uint32_t cols_cap;
    sl_buf_t keys; /* Pre-rendered JSON keys of every column. */
    /* The constant parts of this table's row changes, rendered on first
     * use and reset when the map is decoded anew: per operation (insert,
     * update, delete) the start up to "row":, and the part from ,"pk":
     * up to "before":. */
    sl_buf_t rowhead[3];
    sl_buf_t rowmid;
    /* canal: the row's members that depend on the table only, rendered
     * on first use (format_canal.c); fmtmeta_split ends the first part. */
    sl_buf_t fmtmeta;
    size_t fmtmeta_split;
    sl_strref_t *strv;
    uint32_t nstrv, strv_cap;
    uint32_t *pk;
    uint32_t npk, pk_cap;
    int has_names;
    int has_signedness;
    int has_charsets;
    int has_pk;
    uint32_t flags;
    uint32_t ndropped; /* Columns opts.column_keep excluded. */
    int pk_dropped;    /* One of them is in the primary key. */
} sl_tablemap_t;

#define SL_MAX_TABLEMAPS 4096

struct sl_binlog_s {
    sl_binlog_opts_t opts;
    uint8_t skip[256];
    sl_change_cb cb;
    void *ctx;
    char *file;

    /* Format description. */
    int have_fde;
    unsigned binlog_version;
    char server_version[51];
    int mariadb;
    unsigned header_len;
    uint8_t post_header[256];
    unsigned npost;
    int checksum;     /* 1: events end with a CRC32. */
    int fde_checksum; /* Checksum state for the events of this FDE. */

    /* Current event, for error messages. */
    uint64_t pos;
    unsigned type;
    int inner;          /* >0 while decoding inside a TRANSACTION_PAYLOAD. */
    uint64_t inner_off; /* Offset of the inner event in the payload. */
    uint32_t ev_ts;     /* Header timestamp of the current event. */
    uint32_t ev_server_id;
    uint64_t ev_end_pos;

    /* Transaction. */
    int in_trx;
    uint64_t trx_seq;
    uint64_t trx_row;
    uint64_t trx_pos;
    char gtid[192];
    int has_lc;
    uint64_t last_committed, sequence_number;
    uint64_t commit_ts_us; /* MySQL original_commit_timestamp, or 0. */
    int gtid_standalone;   /* MariaDB GTID without BEGIN (DDL). */
    uint64_t pending_xa;   /* Unused padding for alignment. */

    /* Table maps of the current statement. */
    sl_tablemap_t *maps;
    uint32_t nmaps, maps_cap;

    sl_buf_t out;  /* JSON output: one change at a time. */
    sl_buf_t tmp;  /* Scratch for conversions. */
    sl_buf_t tmp2; /* Scratch: BINARY padding, an inflated COMPRESSED
                      column value. */
    sl_buf_t zbuf; /* Decompressed MariaDB event / payload inner event. */
    sl_buf_t zin;  /* Zstd output window. */
    sl_buf_t sql;  /* The current statement's text, as "sql" says it. */
    /* The other formats (format*.c): the images of the current row, a
     * scratch buffer, the record key, and maxwell's row held back until
     * the next one tells whether it ends its transaction (its change in
     * pend_chg, its names copied into pend_names). */
    sl_buf_t fimg[2];
    sl_buf_t ftmp;
    sl_buf_t fkey;
    sl_buf_t pend;
    int has_pend;
    sl_change_t pend_chg;
    sl_buf_t pend_names;
    sl_buf_t pend_img[2]; /* Its images: swapped with fimg, not copied. */
    /* debezium's source.thread and source.query: the thread id + 1 of the
     * transaction's BEGIN query event (0: none), the statement of the
     * last Rows_query / Annotate_rows event (has_fquery), both cleared
     * when a transaction ends (sl__dec_trx_reset). */
    uint64_t fthread;
    sl_buf_t fquery;
    int has_fquery;
    uint64_t fmt_seq; /* Messages rendered (canal's "id"). */

    /* A small cache of iconv descriptors, by charset name. */
    struct {
        const char *name;
        iconv_t cd;
    } iconv_cache[8];
    unsigned niconv;

    /* The "trx" member rendered for the state below, reused while the
     * transaction does not change (a large share of every row's bytes). */
    sl_buf_t trx_json;
    struct {
        uint64_t seq, pos, lc, sn, cts;
        int has_lc;
        const char *file;
        char gtid[192];
    } trx_key;
    int trx_key_valid;
    sl_buf_t file_json; /* The escaped file name with its quotes. */
    /* The "src" member of the current event, then trx_json: the end of
     * every change. coords_src_len is where its "src" part ends; an empty
     * coords is rendered anew (a new event or file). */
    sl_buf_t coords;
    size_t coords_src_len;
    sl_buf_t sid_json; /* ,"server_id":..,"ts":..} for the values below. */
    uint32_t sid_for_id, sid_for_ts;
    uint64_t src_for_pos, src_for_off;
    int src_for_inner;
    const char *src_for_file;
    const char *file_json_for;

    sl_binlog_stats_t stats;
    char err[768];
};

/* Output is written by many small appends whose results would be
 * tedious to check one by one: a failed append leaves its error in the
 * buffer (sl_buf_error()), and every change checks its output buffer once
 * before it is handed out, so a change with a missing piece is an error,
 * never emitted. */

/* Appends without a function call when the buffer has room; these are the
 * hot path of every row. */
static inline int sl__dec_out_c(sl_buf_t *b, char c) {
    if (__builtin_expect(b->len < b->cap, 1)) {
        b->data[b->len++] = (uint8_t)c;
        return 0;
    }
    return sl_buf_append_u8(b, (uint8_t)c);
}
/* Copies 8 to 16 bytes as two (possibly overlapping) words. */
static inline void sl__dec_copy_8_16(uint8_t *d, const uint8_t *s, size_t n) {
    uint64_t a, b;
    memcpy(&a, s, 8);
    memcpy(&b, s + n - 8, 8);
    memcpy(d, &a, 8);
    memcpy(d + n - 8, &b, 8);
}

/* Copies n bytes with a few word moves when n is small (keys, cached
 * JSON fragments, short values): a libc call costs more than the copy. */
static inline void sl__dec_copy(uint8_t *d, const uint8_t *s, size_t n) {
    if (n > 32) {
        memcpy(d, s, n);
    } else if (n >= 16) {
        sl__dec_copy_8_16(d, s, 16);
        sl__dec_copy_8_16(d + n - 16, s + n - 16, 16);
    } else if (n >= 8) {
        sl__dec_copy_8_16(d, s, n);
    } else if (n >= 4) {
        uint32_t a, b;
        memcpy(&a, s, 4);
        memcpy(&b, s + n - 4, 4);
        memcpy(d, &a, 4);
        memcpy(d + n - 4, &b, 4);
    } else if (n > 0) {
        d[0] = s[0];
        d[n / 2] = s[n / 2];
        d[n - 1] = s[n - 1];
    }
}

static inline int sl__dec_out_raw(sl_buf_t *b, const void *p, size_t n) {
    if (__builtin_expect(b->cap - b->len >= n, 1)) {
        sl__dec_copy(b->data + b->len, p, n);
        b->len += n;
        return 0;
    }
    return sl_buf_append(b, p, n);
}
#define SL__DEC_OUT_LIT(b, s) sl__dec_out_raw((b), (s), sizeof(s) - 1)

/* A QUERY event's fields (query.c), for its rendering (envelope.c). */
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
} sl_query_t;

/* Records an error about the current event and returns code. */
int sl__dec_fail(sl_binlog_t *dec, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The post-header length of type from the FDE (or the v3 defaults). */
unsigned sl__dec_post_header(const sl_binlog_t *dec, unsigned type);

/* Starts a change: returns the offset where its JSON begins. */
static inline size_t sl__dec_begin(sl_binlog_t *dec) {
    if (!dec->opts.accumulate)
        sl_buf_reset(&dec->out);
    return dec->out.len;
}

/* Emits the JSON in dec->out[start..] as one change: chg holds what the
 * caller knows (kind, names, SQL, images); the coordinates and the
 * transaction are filled in here. */
int sl__dec_emit(sl_binlog_t *dec, sl_change_t *chg, size_t start);
/* The two halves of sl__dec_emit for changes rendered otherwise: fills
 * in chg's coordinates and transaction from the decoder's state; hands
 * chg to the consumer (its return value, with the error set). */
static inline void sl__dec_fill(sl_binlog_t *dec, sl_change_t *chg) {
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
}
/* Inline: it is on the path of every change. */
static inline int sl__dec_deliver(sl_binlog_t *dec, const sl_change_t *chg) {
    if (dec->cb == NULL)
        return 0;
    int rc = dec->cb(dec->ctx, chg);
    if (rc != 0)
        snprintf(dec->err, sizeof(dec->err),
                 "binlog %s:%llu: the change consumer stopped the decoder "
                 "(%d)",
                 dec->file ? dec->file : "-", (unsigned long long)dec->pos, rc);
    return rc;
}

/* Writes the "src" and "trx" members shared by every change; SL_ENOMEM
 * (with the decoder's error set) when they could not be rendered. */
int sl__dec_put_coords(sl_binlog_t *dec, sl_buf_t *out);
/* Points *coords at those members rendered for the current event and
 * transaction (owned by dec; valid until the decoder moves on to another
 * event or transaction). SL_ENOMEM when they could not be rendered. */
int sl__dec_coords(sl_binlog_t *dec, const sl_buf_t **coords);

/* Decodes one complete event (framing.c); the payload decoder feeds
 * its inner events here. */
int sl__dec_event(sl_binlog_t *dec, const uint8_t *ev, size_t len, int emit);

/* Transactions (envelope.c). A new transaction closes one still open
 * (with a rollback: it never committed in this binlog); its end emits
 * kind (with the member extra_key: extra when extra_key is not NULL)
 * when emit is set, then counts it and releases its table maps. */
void sl__dec_trx_reset(sl_binlog_t *dec);
int sl__dec_trx_close_open(sl_binlog_t *dec, int emit);
int sl__dec_trx_begin(sl_binlog_t *dec, int emit);
int sl__dec_trx_end(sl_binlog_t *dec, sl_change_kind_t kind, int emit,
                    const char *extra_key, uint64_t extra);
/* Emits a DDL or another statement (envelope.c). */
int sl__dec_emit_query(sl_binlog_t *dec, sl_change_kind_t kind,
                       const sl_query_t *q);

/* QUERY, QUERY_COMPRESSED and EXECUTE_LOAD_QUERY (query.c). */
int sl__dec_query(sl_binlog_t *dec, unsigned type, const uint8_t *body,
                  size_t len, int emit);

/* GTID events (gtid.c): MySQL's GTID and ANONYMOUS_GTID, tagged GTID and
 * PREVIOUS_GTIDS; MariaDB's GTID and GTID_LIST. */
int sl__dec_gtid_mysql(sl_binlog_t *dec, unsigned type, const uint8_t *body,
                       size_t len);
int sl__dec_gtid_tagged(sl_binlog_t *dec, const uint8_t *body, size_t len);
int sl__dec_gtid_previous(sl_binlog_t *dec, const uint8_t *body, size_t len);
int sl__dec_gtid_maria(sl_binlog_t *dec, const uint8_t *body, size_t len,
                       int emit);
int sl__dec_gtid_list(sl_binlog_t *dec, const uint8_t *body, size_t len);

/* Payloads (payload.c): a TRANSACTION_PAYLOAD, decompressed in a window
 * and its inner events fed one by one; and the zlib part of MariaDB's
 * compressed events inflated into out. */
int sl__dec_payload(sl_binlog_t *dec, const uint8_t *body, size_t len,
                    int emit);
int sl__dec_inflate(sl_binlog_t *dec, const uint8_t *p, size_t n,
                    sl_buf_t *out);

/* Table maps (tablemap.c). */
int sl__dec_tablemap_decode(sl_binlog_t *dec, const uint8_t *body, size_t len);
sl_tablemap_t *sl__dec_tablemap_find(sl_binlog_t *dec, uint64_t table_id);
void sl__dec_tablemap_release_all(sl_binlog_t *dec);
void sl__dec_tablemap_free_all(sl_binlog_t *dec);
/* "int unsigned", "varchar(255)", for the "types" option. */
void sl__dec_column_type_name(const sl_tablemap_t *tm, const sl_column_t *col,
                              sl_buf_t *out);

/* Rows events (rows.c). type is the event type, body points after the
 * common header, len excludes the checksum. */
int sl__dec_rows_decode(sl_binlog_t *dec, unsigned type, const uint8_t *body,
                        size_t len);

/* The other formats (format.c). sl__dec_image_fmt renders one image
 * (rows.c) with values in the format's encoding, at[i]/len[i] giving
 * where column i's value is in out (len SIZE_MAX: not in the image).
 * sl__dec_fmt_row renders and emits one row; sl__dec_fmt_marker hands
 * out a begin/commit/rollback/XA marker without JSON;
 * sl__dec_fmt_query renders a DDL or statement. */
int sl__dec_image_fmt(sl_binlog_t *dec, const sl_tablemap_t *tm,
                      const uint32_t *cols, uint32_t npresent, sl_reader_t *rd,
                      sl_buf_t *out, size_t *at, size_t *len);
int sl__dec_fmt_row(sl_binlog_t *dec, const sl_tablemap_t *tm, sl_change_t *chg,
                    const uint32_t *cols_before, uint32_t np_before,
                    const uint32_t *cols_after, uint32_t np_after,
                    sl_reader_t *rd, uint32_t in_event);
int sl__dec_fmt_marker(sl_binlog_t *dec, sl_change_kind_t kind);
/* A ROWS_QUERY (MySQL) or ANNOTATE_ROWS (MariaDB) event: the statement
 * behind the next rows events, kept for debezium's source.query when
 * opts.format_query asks for it (format_debezium.c). */
int sl__dec_fmt_rows_query(sl_binlog_t *dec, unsigned type, const uint8_t *body,
                           size_t len);
int sl__dec_fmt_query(sl_binlog_t *dec, sl_change_kind_t kind,
                      const sl_query_t *q, const uint8_t *text, size_t text_len,
                      sl_change_t *chg);
void sl__dec_fmt_free(sl_binlog_t *dec);
/* A column value in the format's encoding (format.c). */
int sl__dec_value_fmt(sl_binlog_t *dec, const sl_column_t *col, sl_reader_t *rd,
                      sl_buf_t *out);

/* The parts of a temporal value (types.c) for the formats that encode
 * them otherwise (format.c): kind is the column's real type; secs is
 * TIMESTAMP's seconds since the epoch. */
typedef sl_fmtval_time_t sl_tval_t; /* fmtval.h */
int sl__dec_fmt_temporal(sl_binlog_t *dec, const sl_column_t *col,
                         const sl_tval_t *tv, sl_buf_t *out);
/* Bytes of a binary column, BIT, SET, JSON and GEOMETRY in the format's
 * encoding (format.c). */
int sl__dec_fmt_bytes(sl_binlog_t *dec, const uint8_t *p, size_t n,
                      sl_buf_t *out);
int sl__dec_fmt_bit(sl_binlog_t *dec, const sl_column_t *col, const uint8_t *p,
                    unsigned n, sl_buf_t *out);
int sl__dec_fmt_json(sl_binlog_t *dec, const uint8_t *p, size_t n,
                     sl_buf_t *out);
int sl__dec_fmt_geometry(sl_binlog_t *dec, const uint8_t *p, size_t n,
                         sl_buf_t *out);

/* Column values (types.c): decodes the value of col at rd and appends its
 * JSON to out. Integers are decoded inline (sl__dec_value_decode, after the
 * number formatting below); every other type in types.c. */
static inline int sl__dec_value_decode(sl_binlog_t *dec, const sl_column_t *col,
                                       sl_reader_t *rd, sl_buf_t *out);
int sl__dec_value_decode_other(sl_binlog_t *dec, const sl_column_t *col,
                               sl_reader_t *rd, sl_buf_t *out);
/* The error for a value that runs past the end of its event. */
int sl__dec_value_truncated(sl_binlog_t *dec, const sl_column_t *col,
                            const sl_reader_t *rd);

/* Text (charset.c): appends bytes in charset cs to out as a JSON string
 * (with quotes), or as {"base64":...} for binary. */
int sl__dec_text_to_json(sl_binlog_t *dec, const sl_charset_t *cs,
                         const uint8_t *p, size_t n, sl_buf_t *out);
void sl__dec_charset_close_all(sl_binlog_t *dec);
/* Points *text at the bytes in charset cs as UTF-8: p itself for UTF-8,
 * binary and unknown charsets (which may hold invalid sequences), else a
 * conversion held in dec->tmp until its next use. */
int sl__dec_text_utf8(sl_binlog_t *dec, const sl_charset_t *cs,
                      const uint8_t *p, size_t n, const uint8_t **text,
                      size_t *len);
/* Appends p with every byte that starts no valid UTF-8 sequence replaced
 * by U+FFFD, as the JSON escaper does. Returns the buffer's error. */
int sl__dec_utf8_sanitize(const uint8_t *p, size_t n, sl_buf_t *out);

/* CRC-32 with zlib's interface and results (crc32.c): PCLMULQDQ when the
 * CPU has it. The _sw variant is zlib alone, for the tests. */
uint32_t sl__dec_crc32(uint32_t crc, const void *data, size_t len);
uint32_t sl__dec_crc32_sw(uint32_t crc, const void *data, size_t len);

static inline int sl__dec_out_u64(sl_buf_t *out, uint64_t v) {
    if (__builtin_expect(out->cap - out->len < 20, 0) &&
        sl_buf_reserve(out, 20) != 0)
        return SL_ENOMEM;
    unsigned n = sl_count_digits(v);
    sl_put_u64_digits(out->data + out->len, v, n);
    out->len += n;
    return 0;
}

static inline int sl__dec_out_i64(sl_buf_t *out, int64_t v) {
    if (__builtin_expect(out->cap - out->len < 21, 0) &&
        sl_buf_reserve(out, 21) != 0)
        return SL_ENOMEM;
    uint64_t u = (uint64_t)v;
    if (v < 0) {
        out->data[out->len++] = '-';
        u = (uint64_t)0 - u;
    }
    unsigned n = sl_count_digits(u);
    sl_put_u64_digits(out->data + out->len, u, n);
    out->len += n;
    return 0;
}

/* TINY/SHORT/INT24/LONG/LONGLONG: 1/2/3/4/8 bytes little-endian, two's
 * complement unless the column is unsigned. */
static inline __attribute__((always_inline)) int
sl__dec_value_decode(sl_binlog_t *dec, const sl_column_t *col, sl_reader_t *rd,
                     sl_buf_t *out) {
    static const uint8_t int_size[SL_T_INT24 + 1] = {[SL_T_TINY] = 1,
                                                     [SL_T_SHORT] = 2,
                                                     [SL_T_INT24] = 3,
                                                     [SL_T_LONG] = 4,
                                                     [SL_T_LONGLONG] = 8};
    unsigned n = col->real_type <= SL_T_INT24 ? int_size[col->real_type] : 0;
    if (n == 0)
        return sl__dec_value_decode_other(dec, col, rd, out);
    if (sl_reader_left(rd) < n)
        return sl__dec_value_truncated(dec, col, rd);
    const uint8_t *p = rd->p;
    uint64_t u;
    /* Fixed-size loads: a byte loop over n costs more than the rest. */
    switch (n) {
    case 1: u = p[0]; break;
    case 2: u = sl_get_u16le(p); break;
    case 3: u = sl_get_u24le(p); break;
    case 4: u = sl_get_u32le(p); break;
    default: u = sl_get_u64le(p); break;
    }
    rd->p += n;
    if (col->is_unsigned == 1)
        return sl__dec_out_u64(out, u);
    /* Sign-extend from n bytes (arithmetic right shift, as gcc and clang
     * define it). */
    unsigned shift = 64 - 8 * n;
    return sl__dec_out_i64(out, (int64_t)(u << shift) >> shift);
}

#endif
