/*
 * MySQL binary JSON (the storage and binlog form of a JSON column) to JSON
 * text, and MySQL 8 partial JSON updates (PARTIAL_UPDATE_ROWS_EVENT with
 * binlog_row_value_options=PARTIAL_JSON) applied to a before-image.
 *
 * json_bin.c implements the first, json_diff.c the second; the byte
 * layouts are specified at the top of each and in docs/json.md.
 *
 * The text follows MySQL's own printer (what JSON_EXTRACT or
 * CAST(... AS CHAR) return): keys in stored order, ", " between elements,
 * ": " after keys, doubles in MySQL's shortest round-trip form with ".0"
 * added to integral values, DECIMAL as its exact digits (unquoted),
 * DATE/TIME/DATETIME/TIMESTAMP as quoted strings ("2015-01-15",
 * "23:24:25.000000", "2015-01-15 23:24:25.000000"), other opaque values as
 * "base64:type<N>:<base64>". See docs/json.md for the exact rules and the
 * one deliberate deviation (invalid UTF-8 is an error, not passed on).
 *
 * Hostile input is an error, never an out-of-bounds read, unbounded
 * recursion or unbounded output: containers nest at most
 * SL_JSONB_MAX_DEPTH deep (MySQL's own JSON depth limit), values must lie
 * after their container's header, and the work done and text produced are
 * bounded by a small multiple of the input size.
 *
 * Ownership: every function only reads its input (which it does not keep)
 * and appends to out, which stays owned by the caller. On error out is
 * truncated back to the length it had on entry, so no partial text is left.
 */
#ifndef SL_CAPTURE_JSON_BIN_H
#define SL_CAPTURE_JSON_BIN_H

#include "buf.h"

#include <stddef.h>
#include <stdint.h>

/* MySQL's JSON_DOCUMENT_MAX_DEPTH: a document may nest 100 containers. */
#define SL_JSONB_MAX_DEPTH 100

/* Partial JSON diff operations, as numbered on the wire. */
#define SL_JSONDIFF_REPLACE 0
#define SL_JSONDIFF_INSERT 1
#define SL_JSONDIFF_REMOVE 2

/*
 * Appends the JSON text of one binary JSON value to out. data/len are the
 * column's bytes after its length prefix (the prefix is the column
 * metadata's pack length, 4 bytes for JSON in practice). len 0 is JSON
 * null, as in MySQL (Field_json treats an empty value as null); SQL NULL
 * is the caller's business (the row's null bitmap).
 *
 * Returns 0, SL_ETRUNC (the value runs past len), SL_ECORRUPT (impossible
 * field, bad type byte, offset outside its container, nesting deeper than
 * SL_JSONB_MAX_DEPTH, invalid UTF-8, ...) or SL_ENOMEM.
 */
int sl_jsonb_to_json(const uint8_t *data, size_t len, sl_buf_t *out);

/*
 * Applies the partial JSON diff list of one column to its before-image and
 * appends the complete resulting document to out as JSON text (the same
 * text sl_jsonb_to_json() would print for the new document).
 *
 * before/before_len: the before-image's binary JSON value (as for
 * sl_jsonb_to_json(); len 0 is JSON null, to which no diff applies).
 *
 * diff/diff_len: the diff list, i.e. the bytes that FOLLOW the 4-byte
 * little-endian length in the after-image. In a PARTIAL_UPDATE_ROWS
 * after-image, a JSON column whose bit is set in the partial-column
 * bitmap holds "uint32le length, then length bytes of diffs" in place of
 * "uint32le length, binary JSON", so the caller reads the usual length
 * prefix and passes the rest here. Each diff is
 *   1 byte      operation: 0 REPLACE, 1 INSERT, 2 REMOVE
 *   lenenc int  path length, then the path text (e.g. $.a[1]."b c")
 *   for REPLACE and INSERT only:
 *   lenenc int  value length, then a binary JSON value (type byte first)
 * repeated until diff_len bytes are used (an empty list leaves the
 * document unchanged). lenenc is MySQL's net_field_length: < 0xFB is the
 * value, 0xFC + 2 bytes, 0xFD + 3 bytes, 0xFE + 8 bytes, little-endian.
 *
 * Semantics are MySQL's apply_json_diffs() (sql/json_diff.cc): a diff on
 * the root path "$" is rejected; REPLACE needs the path to exist; INSERT
 * needs the parent to exist and, in an object, the member to be absent
 * (the member is placed in MySQL's key order: shorter keys first, then
 * bytewise), in an array it inserts before the index (an index past the
 * end appends); REMOVE needs the path to exist. No auto-wrapping, no
 * wildcards or ranges. Where MySQL would reject the diff (and stop the
 * replica), this returns SL_ECORRUPT: the change cannot be reproduced
 * faithfully, and we never emit a guessed document.
 *
 * Returns 0, SL_ETRUNC, SL_ECORRUPT or SL_ENOMEM.
 */
int sl_jsondiff_apply(const uint8_t *before, size_t before_len,
                      const uint8_t *diff, size_t diff_len, sl_buf_t *out);

#endif
