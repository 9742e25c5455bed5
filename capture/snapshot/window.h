/*
 * The snapshot window (Netflix DBLog's rule), with no I/O: the merge of
 * one chunk of rows read from a table with the change stream around it.
 *
 * A chunk is read between two committed watermark writes, the low (LW)
 * and the high (HW) one. The stream reaches LW, then carries every change
 * committed between the watermarks, then HW. Any key that one of those
 * changes touches (its before image and its after image, so a primary-key
 * change and a delete followed by an insert are both covered) may have
 * been read before or after that change: the stream's own event already
 * carries the newer value, so the chunk's row for that key is dropped. A
 * key no change touched between LW and HW had the same value for the
 * whole window, which is the value the chunk read: at HW the surviving
 * rows are emitted, before any event that follows HW, so no key ever gets
 * a read row after a newer change.
 *
 * Keys are opaque byte strings: the caller renders a row's primary-key
 * values canonically (see sl_snapkey_*), the same way for stream images
 * and for rows read by the chunk query.
 *
 * Memory is bounded by the chunk (its rows) and by the keys touched while
 * the window is open.
 */
#ifndef SL_CAPTURE_SNAPSHOT_WINDOW_H
#define SL_CAPTURE_SNAPSHOT_WINDOW_H

#include <stddef.h>
#include <stdint.h>

typedef struct sl_window_s sl_window_t;

/* *out is owned by the caller (sl_window_free). */
int sl_window_new(sl_window_t **out);
void sl_window_free(sl_window_t *w);

/* The stream reached the low watermark: the window opens empty (no rows,
 * no touched keys). */
int sl_window_open(sl_window_t *w);
int sl_window_is_open(const sl_window_t *w);

/* A stream change between the watermarks touched key (call it for the
 * before image and for the after image). Ignored while closed. */
int sl_window_touch(sl_window_t *w, const void *key, size_t klen);

/* A row of the chunk (its key and its rendered payload, both copied).
 * Rows may be added at any time while the window is open, before or
 * after touches: the drop is decided at close. */
int sl_window_add_row(sl_window_t *w, const void *key, size_t klen,
                      const void *row, size_t rowlen);

/* Receives each surviving row, in the order added. */
typedef int (*sl_window_row_cb)(void *ctx, const void *key, size_t klen,
                                const void *row, size_t rowlen);

/* The stream reached the high watermark: cb gets every row whose key no
 * change touched, then the window closes. *dropped (may be NULL) gets how
 * many rows were dropped. cb returning non-zero stops and returns that
 * value; the window is closed either way. */
int sl_window_close(sl_window_t *w, sl_window_row_cb cb, void *ctx,
                    size_t *dropped);

/* Closes without emitting (the chunk is to be read again: a DDL on the
 * table, a restart of the stream). */
void sl_window_discard(sl_window_t *w);

/* Rows added and keys touched so far in the open window. */
size_t sl_window_rows(const sl_window_t *w);
size_t sl_window_touched(const sl_window_t *w);

#endif
