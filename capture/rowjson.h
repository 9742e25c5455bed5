/*
 * Work on a row change event after it was rendered as JSON: the routing
 * key of key:N partitioning, and dropping excluded columns. The event
 * format is docs/change-events.md; the caller's sl_jr_doc_t is reused as
 * scratch across calls.
 */
#ifndef SL_CAPTURE_ROWJSON_H
#define SL_CAPTURE_ROWJSON_H

#include "buf.h"
#include "jsonread.h"

#include <stddef.h>
#include <stdint.h>

/* The routing hash of a row: FNV-1a over the JSON text of its primary-key
 * values, taken from the after image (the before image for a delete), in
 * "pk" order and separated by NUL bytes, so every change of one key hashes
 * alike. A row of a table without a primary key hashes its whole image.
 * SL_ECORRUPT when the event is not a row event. */
int sl_rowjson_key_hash(sl_jr_doc_t *doc, const char *json, size_t len,
                        uint64_t *hash);

typedef int (*sl_rowjson_keep_cb)(void *ctx, const char *column, size_t len);

/* Appends to out the event without the image columns (and "types"
 * entries) for which keep_cb returns 0; other members are copied as they
 * are. Dropping a primary-key column is refused with SL_EINVAL, because
 * consumers could then no longer tell which row changed. *dropped counts
 * the columns removed from the images. */
int sl_rowjson_drop_columns(sl_jr_doc_t *doc, const char *json, size_t len,
                            sl_rowjson_keep_cb keep_cb, void *ctx,
                            sl_buf_t *scratch, sl_buf_t *out,
                            size_t *dropped);

#endif
