/*
 * The value encoders of the event formats (debezium, maxwell, canal;
 * docs/change-events.md, "Values per format"), for code outside the
 * decoder that has a value's parts rather than its row-image bytes: the
 * snapshot renders rows read through a client session with these, so a
 * read row's values are byte for byte what the binlog path writes for
 * the same stored value (capture/snapshot/render_fmt.c). The binlog path
 * calls the same code (format.c, types.c); these are thin entry points
 * that need no decoder.
 *
 * Every function appends one JSON value to out and returns 0 or a
 * negative SL_E* code; out's own allocation failure is reported by
 * sl_buf_error(out), as everywhere in the decoder.
 */
#ifndef SL_CAPTURE_DECODER_FMTVAL_H
#define SL_CAPTURE_DECODER_FMTVAL_H

#include "binlog.h"
#include "buf.h"

#include <stddef.h>
#include <stdint.h>

/* The parts of a temporal value: kind is the binlog type (7 TIMESTAMP,
 * 10 DATE, 11 TIME, 12 DATETIME); secs is TIMESTAMP's seconds since the
 * epoch; fsp the column's fraction digits. */
typedef struct {
    unsigned kind;
    int neg;
    unsigned y, mo, d, h, mi, s;
    uint32_t usec;
    unsigned fsp;
    uint64_t secs;
} sl_fmtval_time_t;

/* The binlog type numbers of sl_fmtval_time_t.kind. */
enum {
    SL_FMTVAL_TIMESTAMP = 7,
    SL_FMTVAL_DATE = 10,
    SL_FMTVAL_TIME = 11,
    SL_FMTVAL_DATETIME = 12
};

/* FLOAT and DOUBLE as the decoder writes them: the shortest digits that
 * read back as the same float / double. */
void sl_fmtval_float(sl_buf_t *out, float f);
void sl_fmtval_double(sl_buf_t *out, double d);
/* Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's
 * days_from_civil). */
int64_t sl_fmtval_days_from_civil(int64_t y, unsigned m, unsigned d);
/* A temporal value in Debezium's encoding (days, microseconds, epoch
 * milli/microseconds, ISO-8601 UTC; zero dates null, or 0 / the epoch
 * where the column is NOT NULL). */
int sl_fmtval_dbz_temporal(int nullable, const sl_fmtval_time_t *tv,
                           sl_buf_t *out);
/* Binary bytes: base64 (debezium, maxwell) or ISO-8859-1 text (canal);
 * tmp is scratch. */
int sl_fmtval_bytes(sl_binlog_format_t fmt, const uint8_t *p, size_t n,
                    sl_buf_t *tmp, sl_buf_t *out);
/* Debezium's BIT: bits == 1 a boolean, else base64 of the n bytes (given
 * big-endian, as stored) little-endian. */
int sl_fmtval_dbz_bit(unsigned bits, const uint8_t *p, unsigned n,
                      sl_buf_t *out);
/* A geometry value as MySQL stores it (SRID u32le, then WKB; n >= 4) in
 * the format's encoding; tmp is scratch. SL_ECORRUPT with *why set (a
 * static string) when maxwell's WKT cannot be written. */
int sl_fmtval_geometry(sl_binlog_format_t fmt, const uint8_t *p, size_t n,
                       sl_buf_t *tmp, sl_buf_t *out, const char **why);

/* Debezium's schemas (--debezium-schemas): the source struct, and the
 * envelope's fields after "after" up to the envelope's name (the op,
 * ts_ms and transaction fields, then ],"optional":false,"name":). */
const char *sl_fmtval_dbz_source_schema(void);
const char *sl_fmtval_dbz_envelope_tail(void);

#endif
