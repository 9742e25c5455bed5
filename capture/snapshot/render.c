/* The snapshot's events in the sluice format: a read event of a row,
 * snapshot_start and snapshot_done (docs/change-events.md); the other
 * formats are render_fmt.c's. */
#include "internal.h"
#include "json.h"
#include "state_int.h"

/* The members every snapshot event ends with: the high watermark's "src",
 * then the format version, as the decoder's events end ("v":1,
 * docs/change-events.md). */
static void render_tail(sl_json_t *json, sl_snap_t *snap) {
    sl_json_key(json, "src");
    sl_json_raw(json, (const char *)snap->hw_src.data, snap->hw_src.len);
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
    render_tail(&json, snap);
    sl_json_obj_end(&json);
    return sl_json_error(&json);
}

/* snapshot_start or snapshot_done. */
int sl__snap_render_marker(sl_snap_t *snap, int done, sl_buf_t *out) {
    if (snap->o.format != SL_FORMAT_SLUICE)
        return sl__snap_fmt_marker(snap, done, out);
    sl_json_t json;
    sl_buf_reset(out);
    sl_json_init(&json, out);
    sl_json_obj_begin(&json);
    sl_json_key(&json, "kind");
    sl_json_str(&json, done ? "snapshot_done" : "snapshot_start");
    sl_json_key(&json, "db");
    sl_json_str(&json, snap->jp->db);
    sl_json_key(&json, "table");
    sl_json_str(&json, snap->jp->table);
    sl_json_key(&json, "snapshot");
    sl_json_obj_begin(&json);
    sl_json_key(&json, "id");
    sl_json_str(&json, snap->id);
    if (done) {
        sl_json_key(&json, "chunks");
        sl_json_uint(&json, snap->chunk + 1);
        sl_json_key(&json, "rows");
        sl_json_uint(&json, snap->rows);
    } else {
        sl_json_key(&json, "estimate");
        sl_json_uint(&json, snap->estimate);
        if (snap->copy_dropping) {
            /* A keyless table's copy replaces the target table's rows
             * (docs/snapshot.md, one-shot copies). */
            sl_json_key(&json, "copy");
            sl_json_bool(&json, 1);
            if (snap->npk == 0) {
                sl_json_key(&json, "reset");
                sl_json_bool(&json, 1);
            }
        }
    }
    sl_json_obj_end(&json);
    render_tail(&json, snap);
    sl_json_obj_end(&json);
    return sl_json_error(&json);
}
