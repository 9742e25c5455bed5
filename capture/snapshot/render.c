/* The snapshot's events in the sluice format: a read event of a row,
 * snapshot_start and snapshot_done (docs/change-events.md); the other
 * formats are render_fmt.c's. */
#include "internal.h"
#include "json.h"
#include "state_int.h"

/* The members every snapshot event ends with: its "src" (the high
 * watermark's, or an early start's position),
 * then the format version, as the decoder's events end ("v":1,
 * docs/change-events.md). */
static void render_tail(sl_json_t *json, const sl_buf_t *src) {
    sl_json_key(json, "src");
    sl_json_raw(json, (const char *)src->data, src->len);
    sl_json_key(json, "v");
    sl_json_uint(json, 1);
}

/* A read event of the after image row, appended to out. */
int sl__snap_render_read(sl_snap_t *snap, sl_buf_t *out, const void *row,
                         size_t rowlen, uint64_t n) {
    if (snap->o.format != SL_FORMAT_SLUICE)
        return sl__snap_fmt_read(snap, out, row, rowlen);
    sl_json_t json;
    sl_json_init(&json, out);
    sl_json_obj_begin(&json);
    sl_json_key(&json, "kind");
    sl_json_str(&json, "row");
    sl_json_key(&json, "op");
    sl_json_str(&json, "read");
    sl_json_key(&json, "db");
    sl_json_str(&json, snap->jp->db);
    sl_json_key(&json, "table");
    sl_json_str(&json, snap->jp->table);
    sl_json_key(&json, "row");
    sl_json_uint(&json, n);
    sl_json_key(&json, "pk");
    sl_json_arr_begin(&json);
    for (size_t k = 0; k < snap->npk; k++)
        sl_json_str(&json, snap->pknames[k]);
    sl_json_arr_end(&json);
    sl_json_key(&json, "before");
    sl_json_null(&json);
    sl_json_key(&json, "after");
    sl_json_raw(&json, row, rowlen);
    sl_json_key(&json, "snapshot");
    sl_json_obj_begin(&json);
    sl_json_key(&json, "id");
    sl_json_str(&json, snap->id);
    sl_json_key(&json, "chunk");
    sl_json_uint(&json, snap->chunk);
    sl_json_obj_end(&json);
    render_tail(&json, &snap->hw_src);
    sl_json_obj_end(&json);
    return sl_json_error(&json);
}

/* snapshot_start or snapshot_done of the current table. */
int sl__snap_render_marker(sl_snap_t *snap, int done, sl_buf_t *out) {
    sl__snap_marker_t m = {
        .db = snap->jp->db,
        .table = snap->jp->table,
        .id = snap->id,
        .estimate = snap->estimate,
        .chunks = snap->chunk + 1,
        .rows = snap->rows,
        .copy = snap->copy_dropping,
        .reset = snap->copy_dropping && snap->npk == 0,
        .src = &snap->hw_src,
    };
    return sl__snap_render_marker_of(snap, &m, done, out);
}

/* snapshot_start or snapshot_done, as m says. */
int sl__snap_render_marker_of(sl_snap_t *snap, const sl__snap_marker_t *m,
                              int done, sl_buf_t *out) {
    if (snap->o.format != SL_FORMAT_SLUICE)
        return sl__snap_fmt_marker(snap, m, done, out);
    sl_json_t json;
    sl_buf_reset(out);
    sl_json_init(&json, out);
    sl_json_obj_begin(&json);
    sl_json_key(&json, "kind");
    sl_json_str(&json, done ? "snapshot_done" : "snapshot_start");
    sl_json_key(&json, "db");
    sl_json_str(&json, m->db);
    sl_json_key(&json, "table");
    sl_json_str(&json, m->table);
    sl_json_key(&json, "snapshot");
    sl_json_obj_begin(&json);
    sl_json_key(&json, "id");
    sl_json_str(&json, m->id);
    if (done) {
        sl_json_key(&json, "chunks");
        sl_json_uint(&json, m->chunks);
        sl_json_key(&json, "rows");
        sl_json_uint(&json, m->rows);
    } else {
        sl_json_key(&json, "estimate");
        sl_json_uint(&json, m->estimate);
        if (m->copy) {
            /* A keyless table's copy replaces the target table's rows
             * (docs/snapshot.md, one-shot copies). */
            sl_json_key(&json, "copy");
            sl_json_bool(&json, 1);
            if (m->reset) {
                sl_json_key(&json, "reset");
                sl_json_bool(&json, 1);
            }
        }
    }
    sl_json_obj_end(&json);
    render_tail(&json, m->src);
    sl_json_obj_end(&json);
    return sl_json_error(&json);
}
