/*
 * Rows of any column type for the DDL corpus test
 * (tests/integration/capture_ddl_corpus.c): the distinctive values written
 * into a column, the SELECT expression whose text is a value's canonical
 * form, and the same canonical form of a change event's JSON value, so
 * that what the server stored and what capture published compare as text.
 *
 * Canonical forms: integers, YEAR, BIT (as an unsigned number), DECIMAL,
 * dates and times, text, ENUM and SET as the server prints them (ZEROFILL
 * without its padding); binary strings as upper-case hex; geometry as the
 * server's HEX() of it (SRID little-endian, then the WKB). FLOAT and DOUBLE
 * compare as numbers within their precision.
 */
#ifndef DC_VALUES_H
#define DC_VALUES_H

#include "buf.h"
#include "jsonread.h"

#include <mysql.h>
#include <stddef.h>

/* How a column's value is compared. DC_NAME: only the name (a virtual
 * column of rand() or now() has another value each time it is read).
 * DC_SET: as text without empty items (a SET with a '' member: the server
 * prints "a,b" where the event has ",a,b", the same members). */
enum { DC_EXACT, DC_FLOAT, DC_DOUBLE, DC_HEX, DC_GEOM, DC_NAME, DC_SET };
/* Or'ed into a class: a column information_schema does not list (the
 * implicit row_start/row_end of a system-versioned table), which a row
 * image holds after the listed ones and an event wherever it has it. */
#define DC_HIDDEN 0x100

/* A column as information_schema.COLUMNS describes it. */
typedef struct {
    char *name, *data_type, *column_type, *charset;
    long long maxlen; /* CHARACTER_MAXIMUM_LENGTH (characters). */
    int prec, scale;  /* NUMERIC_PRECISION, NUMERIC_SCALE. */
    int nullable, generated, zerofill;
    int cls; /* DC_*. */
} dc_col_t;

/* A row image: column names and their canonical values (NULL: SQL NULL),
 * every string owned by the image. */
typedef struct {
    size_t n;
    char **names, **vals;
    size_t *lens;
    int *cls;
} dc_img_t;

/* Appends `name`, backquotes doubled. */
void dc_put_ident(sl_buf_t *b, const char *name);
/* Appends 'text' as a string literal escaped for m's charset. */
void dc_put_string(sl_buf_t *b, MYSQL *m, const char *text, size_t len);
/* The DC_* class of a DATA_TYPE. */
int dc_col_class(const char *data_type);
/* 1 when a generation expression may give another value each time. */
int dc_nondeterministic(const char *expr);
/* Appends the SQL literal of variant v (0: limits and long values, 1:
 * other values, NULL in every other nullable column, by idx) for col. */
void dc_put_value(sl_buf_t *b, MYSQL *m, const dc_col_t *col, int v,
                  size_t idx);
/* Appends the SELECT expression of col whose text is its canonical value. */
void dc_put_select_expr(sl_buf_t *b, const dc_col_t *col);

void dc_free_img(dc_img_t *im);
/* Deep copy of src into dst (which it overwrites). */
void dc_copy_img(dc_img_t *dst, const dc_img_t *src);
/* Compares image want with the JSON object obj of document d: 0 when
 * they agree (names, order, values), else 1 with the first difference
 * described in msg. */
int dc_diff_image(const sl_jr_doc_t *d, uint32_t obj, const dc_img_t *want,
                  char *msg, size_t msglen);

#endif
