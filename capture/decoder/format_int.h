/*
 * Internals shared by the format renderers (format.c, format_debezium.c,
 * format_maxwell.c, format_canal.c); see format.c for the encodings.
 */
#ifndef SL_CAPTURE_DECODER_FORMAT_INT_H
#define SL_CAPTURE_DECODER_FORMAT_INT_H

#include "internal.h"

/* One decoded row: img[0] the before image, img[1] the after image (NULL
 * when the operation has none), each a JSON object; column i's value is
 * at img[k]->data + at[k][i], len[k][i] bytes (SIZE_MAX: not in the
 * image, or excluded). in_event counts the rows of the rows event. */
typedef struct {
    const sl_tablemap_t *tm;
    sl_change_op_t op;
    const sl_buf_t *img[2];
    const size_t *at[2], *len[2];
    uint32_t in_event;
} sl_fmt_row_t;

/* Each renders one row or DDL into out (the record key into key for
 * debezium); 0 or a negative SL_E* code with the decoder's error set. */
int sl__dec_dbz_row(sl_binlog_t *dec, const sl_fmt_row_t *row, sl_buf_t *out,
                    sl_buf_t *key);
int sl__dec_mxw_row(sl_binlog_t *dec, const sl_fmt_row_t *row, sl_buf_t *out);
int sl__dec_canal_row(sl_binlog_t *dec, const sl_fmt_row_t *row, sl_buf_t *out);
int sl__dec_dbz_ddl(sl_binlog_t *dec, const sl_query_t *q, const uint8_t *text,
                    size_t len, sl_buf_t *out);
int sl__dec_mxw_ddl(sl_binlog_t *dec, const sl_query_t *q, const uint8_t *text,
                    size_t len, sl_buf_t *out);
int sl__dec_canal_ddl(sl_binlog_t *dec, const sl_query_t *q,
                      const uint8_t *text, size_t len, sl_buf_t *out);

/* Appends s as a JSON string; the pre-rendered `"name":` of a column. */
void sl__fmt_jstr(sl_buf_t *out, const void *s, size_t n);
void sl__fmt_key(sl_buf_t *out, const sl_tablemap_t *tm, const sl_column_t *c);
/* The columns of the other image whose value differs from (or is missing
 * in) this one, as a JSON object of the other image's values: maxwell's
 * and canal's "old". */
void sl__fmt_changed(sl_buf_t *out, const sl_fmt_row_t *row);
/* The format's name for a row operation ("c", "insert", "INSERT");
 * any op other than insert, update and delete is a snapshot read ("r",
 * "bootstrap-insert", "INSERT"). */
const char *sl__fmt_op_name(sl_binlog_format_t fmt, sl_change_op_t op);
/* The primary key's column names as a JSON array. */
void sl__fmt_pk_names(sl_buf_t *out, const sl_tablemap_t *tm);
/* Whether the statement's first words are w1 (and w2, when not NULL),
 * ignoring case, blanks and comments before them. */
int sl__fmt_sql_starts(const uint8_t *sql, size_t len, const char *w1,
                       const char *w2);
/* Appends a MySQL geometry value (SRID, then WKB; n bytes) as WKT the way
 * Maxwell writes it (format_wkt.c), without quotes. SL_ECORRUPT with *why
 * set (a static string) when the value is not valid WKB; out may then
 * hold part of the text. */
int sl__fmt_wkt(const uint8_t *p, size_t n, sl_buf_t *out, const char **why);
/* The event's time in milliseconds: the original commit timestamp when
 * the server wrote one, else the event header's seconds. */
uint64_t sl__fmt_ts_ms(const sl_binlog_t *dec);

#endif
