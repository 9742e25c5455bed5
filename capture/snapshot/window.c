/* The snapshot window merge; see window.h.
 *
 * Storage: the rows are appended to one buffer as [u32 klen][key][u32
 * rowlen][row] records, in the order added; the touched keys are a hash
 * set (the map's values are unused). */
#include "window.h"

#include "buf.h"
#include "error.h"
#include "strmap.h"

#include <stdlib.h>
#include <string.h>

struct sl_window_s {
    int open;
    sl_strmap_t touched;
    sl_buf_t rows;
    size_t nrows;
};

int sl_window_new(sl_window_t **out) {
    sl_window_t *w = calloc(1, sizeof *w);
    if (w == NULL || sl_strmap_init(&w->touched) != 0) {
        free(w);
        return SL_ENOMEM;
    }
    sl_buf_init(&w->rows);
    *out = w;
    return 0;
}

void sl_window_free(sl_window_t *w) {
    if (w == NULL)
        return;
    sl_strmap_free(&w->touched);
    sl_buf_free(&w->rows);
    free(w);
}

static int reset(sl_window_t *w) {
    sl_strmap_free(&w->touched);
    sl_buf_reset(&w->rows);
    w->nrows = 0;
    return sl_strmap_init(&w->touched);
}

int sl_window_open(sl_window_t *w) {
    int err = reset(w);
    w->open = err == 0;
    return err;
}

int sl_window_is_open(const sl_window_t *w) { return w->open; }

int sl_window_touch(sl_window_t *w, const void *key, size_t klen) {
    if (!w->open || sl_strmap_get(&w->touched, key, klen) != NULL)
        return 0;
    return sl_strmap_put(&w->touched, key, klen, w);
}

static int put_u32(sl_buf_t *b, size_t v) {
    uint32_t u = (uint32_t)v;
    return sl_buf_append(b, &u, sizeof u);
}

int sl_window_add_row(sl_window_t *w, const void *key, size_t klen,
                      const void *row, size_t rowlen) {
    if (!w->open)
        return SL_EINVAL;
    if (klen > UINT32_MAX || rowlen > UINT32_MAX)
        return SL_ETOOBIG;
    int err;
    if ((err = put_u32(&w->rows, klen)) != 0 ||
        (err = sl_buf_append(&w->rows, key, klen)) != 0 ||
        (err = put_u32(&w->rows, rowlen)) != 0 ||
        (err = sl_buf_append(&w->rows, row, rowlen)) != 0)
        return err;
    w->nrows++;
    return 0;
}

int sl_window_close(sl_window_t *w, sl_window_row_cb cb, void *ctx,
                    size_t *dropped) {
    size_t drop = 0, off = 0;
    int rc = 0;
    if (!w->open)
        return SL_EINVAL;
    while (rc == 0 && off < w->rows.len) {
        uint32_t klen, rowlen;
        memcpy(&klen, w->rows.data + off, sizeof klen);
        const uint8_t *key = w->rows.data + off + sizeof klen;
        memcpy(&rowlen, key + klen, sizeof rowlen);
        const uint8_t *row = key + klen + sizeof rowlen;
        off = (size_t)(row + rowlen - w->rows.data);
        if (sl_strmap_get(&w->touched, key, klen) != NULL)
            drop++;
        else
            rc = cb(ctx, key, klen, row, rowlen);
    }
    if (dropped != NULL)
        *dropped = drop;
    sl_window_discard(w);
    return rc;
}

void sl_window_discard(sl_window_t *w) {
    /* A failed reset leaves the window closed, and a closed window never
     * looks into the map. */
    w->open = 0;
    (void)reset(w);
}

size_t sl_window_rows(const sl_window_t *w) { return w->nrows; }
size_t sl_window_touched(const sl_window_t *w) { return w->touched.count; }
