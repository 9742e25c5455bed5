/*
 * Rows events: WRITE/UPDATE/DELETE_ROWS v0 (pre-GA 20-22), v1 (23-25),
 * v2 (30-32), PARTIAL_UPDATE_ROWS (39) and MariaDB's compressed rows
 * (166-171).
 *
 * Layout: post-header table_id (u48; u32 when the post-header length is
 * 6), flags u16 (1 STMT_END_F: the statement's last rows event), and for
 * v2 extra_data_len u16 (counting itself) followed by that many bytes
 * minus two of extra data (partition ids, NDB info: not needed here).
 * Body: column count (lenenc), columns-present bitmap ceil(n/8) bytes (LSB
 * first), for UPDATE v1/v2 and PARTIAL_UPDATE a second bitmap for the
 * after image, then the rows until the end of the event (MariaDB
 * compressed: the rows are a zlib stream with the 0x80|n header).
 * Each image: [PARTIAL_UPDATE after image only: value_options lenenc, and
 * when bit 0 (PARTIAL_JSON_UPDATES) is set a bitmap with one bit per JSON
 * column of the table], a null bitmap with one bit per present column,
 * then the values of the present, non-NULL columns in column order. A row
 * is valid when every value lies inside the event; a rows event is valid
 * when its rows end exactly at its end.
 */
#include "internal.h"
#include "json.h"
#include "json_bin.h"

#include <string.h>

#define STMT_END_F 1

static inline int bit(const uint8_t *bm, uint32_t i) {
    return (bm[i >> 3] >> (i & 7)) & 1;
}

#define R_FAIL(...) sl__dec_fail(dec, SL_ECORRUPT, __VA_ARGS__)

static void put_lit(sl_buf_t *out, const char *s, size_t n) {
    sl__dec_out_raw(out, s, n);
}
#define PUT(out, s) put_lit((out), (s), sizeof(s) - 1)

/* Where each primary-key value of the routing image was rendered, by
 * column: at[i] is its offset in the output and len[i] its length, or
 * SIZE_MAX when the image lacks it. NULL when no hash is wanted. */
typedef struct {
    size_t *at, *len;
} spans_t;

/* Decodes one image into out as a JSON object, leaving out the columns
 * opts.column_keep excluded (their values are decoded, then dropped).
 * cols lists the indexes of its npresent columns (the set bits of the
 * event's column bitmap, worked out once per event). */
static inline __attribute__((always_inline)) int
image_loop(sl_binlog_t *dec, const sl_tablemap_t *tm, const uint32_t *cols,
           uint32_t npresent, sl_reader_t *rd, sl_buf_t *out,
           const uint8_t *before_json[], size_t before_len[],
           const spans_t *spans, const int extra, const int fmt) {
    const uint8_t *nulls;
    if (sl_rd_bytes(rd, (npresent + 7) / 8, &nulls) != 0)
        return R_FAIL("row null bitmap truncated (%zu bytes left)",
                      sl_reader_left(rd));
    sl__dec_out_c(out, '{');
    const uint8_t *keys = tm->keys.data;
    int sep = 0;
    for (uint32_t k = 0; k < npresent; k++) {
        uint32_t i = cols[k];
        const sl_column_t *c = &tm->cols[i];
        size_t mark = out->len;
        /* The comma, the key and a NULL go in under one room check. */
        if (__builtin_expect(out->cap - out->len < c->key_len + 5u, 0) &&
            sl_buf_reserve(out, c->key_len + 5u) != 0)
            return sl__dec_fail(dec, SL_ENOMEM, "out of memory");
        uint8_t *o = out->data + out->len;
        int had_members = sep;
        if (extra ? sep : k > 0)
            *o++ = ',';
        sep = 1;
        sl__dec_copy(o, keys + c->key_off, c->key_len);
        o += c->key_len;
        size_t value_at = (size_t)(o - out->data);
        int is_null = bit(nulls, k);
        if (is_null) {
            memcpy(o, "null", 4);
            o += 4;
        }
        out->len = (size_t)(o - out->data);
        if (is_null) {
            if (before_json != NULL)
                before_json[i] = NULL;
        } else {
            if (before_json != NULL && c->type == SL_T_JSON) {
                /* Remember where the before image's binary JSON is, for
                 * a partial after image. */
                if (sl_reader_left(rd) >= c->meta && c->meta >= 1 &&
                    c->meta <= 4) {
                    uint64_t l = sl_get_uNle(rd->p, c->meta);
                    if (l <= sl_reader_left(rd) - c->meta) {
                        before_json[i] = rd->p + c->meta;
                        before_len[i] = (size_t)l;
                    }
                }
            }
            int rc = fmt ? sl__dec_value_fmt(dec, c, rd, out)
                         : sl__dec_value_decode(dec, c, rd, out);
            if (rc != 0)
                return rc;
        }
        if (!extra)
            continue;
        if (c->dropped) {
            out->len = mark;
            sep = had_members;
            continue;
        }
        if (spans != NULL && (fmt || c->is_pk)) {
            spans->at[i] = value_at;
            spans->len[i] = out->len - value_at;
        }
    }
    sl__dec_out_c(out, '}');
    return 0;
}

int sl__dec_image_fmt(sl_binlog_t *dec, const sl_tablemap_t *tm,
                      const uint32_t *cols, uint32_t npresent, sl_reader_t *rd,
                      sl_buf_t *out, size_t *at, size_t *len) {
    spans_t spans = {at, len};
    for (uint32_t j = 0; j < tm->ncols; j++)
        len[j] = SIZE_MAX;
    return image_loop(dec, tm, cols, npresent, rd, out, NULL, NULL, &spans, 1,
                      1);
}

/* The loop above without exclusion and spans is the hot path of every
 * row: it gets its own copy without their tests. */
static int decode_image(sl_binlog_t *dec, const sl_tablemap_t *tm,
                        const uint32_t *cols, uint32_t npresent,
                        sl_reader_t *rd, sl_buf_t *out,
                        const uint8_t *before_json[], size_t before_len[],
                        const spans_t *spans) {
    if (tm->ndropped != 0 || spans != NULL)
        return image_loop(dec, tm, cols, npresent, rd, out, before_json,
                          before_len, spans, 1, 0);
    return image_loop(dec, tm, cols, npresent, rd, out, before_json, before_len,
                      NULL, 0, 0);
}

/* Renders a partial JSON diff list as {"json_diff":[{"op":...,"path":...,
 * "value":...},...]}. Layout: per diff, operation u8 (0 replace, 1 insert,
 * 2 remove), path (lenenc length + text), and for replace/insert the
 * value (lenenc length + binary JSON). */
static int render_json_diff(sl_binlog_t *dec, const uint8_t *p, size_t n,
                            sl_buf_t *out) {
    static const char *const ops[] = {"replace", "insert", "remove"};
    sl_reader_t rd;
    sl_reader_init(&rd, p, n);
    PUT(out, "{\"json_diff\":[");
    for (int first = 1; sl_reader_left(&rd) > 0; first = 0) {
        uint8_t op;
        uint64_t pl, vl;
        const uint8_t *path, *val;
        if (sl_rd_u8(&rd, &op) != 0 || op > 2 || sl_rd_lenenc(&rd, &pl) != 0 ||
            sl_rd_bytes(&rd, pl, &path) != 0)
            return R_FAIL("partial JSON diff malformed");
        if (!first)
            sl__dec_out_c(out, ',');
        PUT(out, "{\"op\":\"");
        sl_buf_append_str(out, ops[op]);
        PUT(out, "\",\"path\":\"");
        int replaced = 0;
        sl_json_escape(out, path, (size_t)pl, &replaced);
        if (replaced)
            return R_FAIL("partial JSON diff path is not UTF-8");
        sl__dec_out_c(out, '"');
        if (op != 2) {
            if (sl_rd_lenenc(&rd, &vl) != 0 || sl_rd_bytes(&rd, vl, &val) != 0)
                return R_FAIL("partial JSON diff value truncated");
            PUT(out, ",\"value\":");
            int rc = sl_jsonb_to_json(val, (size_t)vl, out);
            if (rc != 0)
                return sl__dec_fail(dec, rc, "partial JSON diff value: %s",
                                    sl_strerror(rc));
        }
        sl__dec_out_c(out, '}');
    }
    PUT(out, "]}");
    return 0;
}

/* The partial-update after image needs the before image's JSON values;
 * this variant of decode_image handles it. */
static int decode_partial_ai(sl_binlog_t *dec, const sl_tablemap_t *tm,
                             const uint8_t *present, uint32_t npresent,
                             sl_reader_t *rd, sl_buf_t *out, const uint8_t **bj,
                             const size_t *bjlen, const spans_t *spans) {
    uint64_t opts;
    const uint8_t *partial_bm = NULL;
    uint32_t json_idx = 0;
    if (sl_rd_lenenc(rd, &opts) != 0)
        return R_FAIL("partial update value options truncated");
    if (opts & 1) {
        uint32_t njson = 0;
        for (uint32_t i = 0; i < tm->ncols; i++)
            njson += tm->cols[i].type == SL_T_JSON;
        if (sl_rd_bytes(rd, (njson + 7) / 8, &partial_bm) != 0)
            return R_FAIL("partial update JSON bitmap truncated");
    }
    const uint8_t *nulls;
    if (sl_rd_bytes(rd, (npresent + 7) / 8, &nulls) != 0)
        return R_FAIL("row null bitmap truncated");
    sl__dec_out_c(out, '{');
    uint32_t k = 0;
    int first = 1;
    for (uint32_t i = 0; i < tm->ncols; i++) {
        const sl_column_t *c = &tm->cols[i];
        /* The partial bitmap has one bit per JSON column of the table,
         * whether or not the column is in this image or NULL in it. */
        uint32_t my_json = c->type == SL_T_JSON ? json_idx++ : 0;
        if (!bit(present, i))
            continue;
        size_t mark = out->len;
        int had_members = !first;
        if (!first)
            sl__dec_out_c(out, ',');
        first = 0;
        sl__dec_out_raw(out, tm->keys.data + c->key_off, c->key_len);
        size_t value_at = out->len;
        if (bit(nulls, k++)) {
            PUT(out, "null");
            goto rendered;
        }
        int is_partial = 0;
        if (partial_bm != NULL && c->type == SL_T_JSON)
            is_partial = bit(partial_bm, my_json);
        if (!is_partial) {
            int rc = sl__dec_value_decode(dec, c, rd, out);
            if (rc != 0)
                return rc;
            goto rendered;
        }
        uint64_t l;
        const uint8_t *diff;
        if (c->meta < 1 || c->meta > 4 || sl_rd_uNle(rd, c->meta, &l) != 0 ||
            sl_rd_bytes(rd, l, &diff) != 0)
            return R_FAIL("partial JSON diff of column %u truncated", i + 1);
        if (bj[i] == NULL) {
            /* binlog_row_image=MINIMAL: the before image lacks the
             * document, so the full after image cannot be computed. Emit
             * the diff itself, in a form JSON_SET/JSON_INSERT/JSON_REMOVE
             * can replay (docs/change-events.md, "Partial JSON"). */
            int rc = render_json_diff(dec, diff, (size_t)l, out);
            if (rc != 0)
                return rc;
            goto rendered;
        }
        int rc = sl_jsondiff_apply(bj[i], bjlen[i], diff, (size_t)l, out);
        if (rc != 0)
            return sl__dec_fail(dec, rc,
                                "cannot apply the partial JSON update of "
                                "column %u: %s",
                                i + 1, sl_strerror(rc));
    rendered:
        if (c->dropped) {
            out->len = mark;
            first = !had_members;
            continue;
        }
        if (spans != NULL && c->is_pk) {
            spans->at[i] = value_at;
            spans->len[i] = out->len - value_at;
        }
    }
    sl__dec_out_c(out, '}');
    return 0;
}

static void clear_spans(const sl_tablemap_t *tm, const spans_t *spans) {
    for (uint32_t j = 0; j < tm->npk; j++)
        spans->len[tm->pk[j]] = SIZE_MAX;
}

/* FNV-1a, a running hash: feeding the pieces one after another equals
 * hashing their concatenation. */
#define FNV_OFFSET 14695981039346656037ull
#define FNV_PRIME 1099511628211ull
static uint64_t fnv1a(uint64_t h, const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= FNV_PRIME;
    }
    return h;
}

/* The routing hash of a row (see sl_binlog_opts_t.key_hash) from its
 * rendered image out[img_at..img_end]. A primary-key column whose JSON
 * key needs escaping counts as absent, as it always has: routing must
 * not move rows between partitions. */
static uint64_t key_hash(const sl_tablemap_t *tm, const sl_buf_t *out,
                         const spans_t *spans, size_t img_at, size_t img_end) {
    if (!tm->has_pk || tm->npk == 0)
        return fnv1a(FNV_OFFSET, out->data + img_at, img_end - img_at);
    uint64_t h = FNV_OFFSET;
    static const uint8_t nul = 0;
    for (uint32_t j = 0; j < tm->npk; j++) {
        uint32_t i = tm->pk[j];
        const uint8_t *v = (const uint8_t *)"null";
        size_t n = 4;
        if (spans->len[i] != SIZE_MAX && !tm->cols[i].key_escaped) {
            v = out->data + spans->at[i];
            n = spans->len[i];
            if (n >= 2 && v[0] == '"') {
                /* A string counts without its quotes. */
                v++;
                n -= 2;
            }
        }
        h = fnv1a(h, v, n);
        h = fnv1a(h, &nul, 1);
    }
    return h;
}

int sl__dec_rows_decode(sl_binlog_t *dec, unsigned type, const uint8_t *body,
                        size_t len) {
    unsigned ph = sl__dec_post_header(dec, type);
    int v2 = type == SL_EV_WRITE_ROWS || type == SL_EV_UPDATE_ROWS ||
             type == SL_EV_DELETE_ROWS || type == SL_EV_PARTIAL_UPDATE_ROWS ||
             type == SL_EV_MARIA_WRITE_ROWS_COMPRESSED ||
             type == SL_EV_MARIA_UPDATE_ROWS_COMPRESSED ||
             type == SL_EV_MARIA_DELETE_ROWS_COMPRESSED;
    if (ph != 6 && ph != 8 && ph != 10)
        return R_FAIL("rows event post-header length %u", ph);
    if (len < ph)
        return R_FAIL("rows event of %zu bytes", len);
    uint64_t table_id = ph == 6 ? sl_get_u32le(body) : sl_get_u48le(body);
    uint16_t flags = sl_get_u16le(body + (ph == 6 ? 4 : 6));
    sl_reader_t rd;
    sl_reader_init(&rd, body + ph, len - ph);
    if (v2 && ph == 10) {
        uint16_t extra = sl_get_u16le(body + 8);
        if (extra < 2 || sl_rd_skip(&rd, extra - 2u) != 0)
            return R_FAIL("rows event extra data length %u", extra);
    }
    const char *op;
    sl_change_op_t opcode;
    int opi; /* Index of op in the table map's cached row heads. */
    int has_before = 0, has_after = 0, two_bitmaps = 0;
    int partial = type == SL_EV_PARTIAL_UPDATE_ROWS;
    int compressed = type >= SL_EV_MARIA_WRITE_ROWS_COMPRESSED_V1 &&
                     type <= SL_EV_MARIA_DELETE_ROWS_COMPRESSED;
    switch (type) {
    case SL_EV_PRE_GA_WRITE_ROWS:
    case SL_EV_WRITE_ROWS_V1:
    case SL_EV_WRITE_ROWS:
    case SL_EV_MARIA_WRITE_ROWS_COMPRESSED_V1:
    case SL_EV_MARIA_WRITE_ROWS_COMPRESSED:
        op = "insert";
        opcode = SL_OP_INSERT;
        opi = 0;
        has_after = 1;
        break;
    case SL_EV_PRE_GA_DELETE_ROWS:
    case SL_EV_DELETE_ROWS_V1:
    case SL_EV_DELETE_ROWS:
    case SL_EV_MARIA_DELETE_ROWS_COMPRESSED_V1:
    case SL_EV_MARIA_DELETE_ROWS_COMPRESSED:
        op = "delete";
        opcode = SL_OP_DELETE;
        opi = 2;
        has_before = 1;
        break;
    default:
        op = "update";
        opcode = SL_OP_UPDATE;
        opi = 1;
        has_before = has_after = 1;
        two_bitmaps = type != SL_EV_PRE_GA_UPDATE_ROWS;
        break;
    }
    if (type >= SL_EV_PRE_GA_WRITE_ROWS && type <= SL_EV_PRE_GA_DELETE_ROWS)
        return sl__dec_fail(dec, SL_EUNSUPPORTED,
                            "pre-GA rows event (MySQL 5.1.0-5.1.15 "
                            "development releases) holds rows in the "
                            "storage engine's record layout, which the "
                            "binlog does not describe; cannot decode");
    sl_tablemap_t *tm = sl__dec_tablemap_find(dec, table_id);
    if (tm == NULL)
        return R_FAIL("rows event for table id %llu without a TABLE_MAP "
                      "(start position inside a statement?)",
                      (unsigned long long)table_id);
    uint64_t ncols;
    if (sl_rd_lenenc(&rd, &ncols) != 0)
        return R_FAIL("rows event column count truncated");
    if (ncols != tm->ncols)
        return R_FAIL("rows event has %llu columns, its table map %u",
                      (unsigned long long)ncols, tm->ncols);
    size_t nb = (ncols + 7) / 8;
    const uint8_t *bm_before, *bm_after;
    if (sl_rd_bytes(&rd, nb, &bm_before) != 0)
        return R_FAIL("rows event column bitmap truncated");
    bm_after = bm_before;
    if (two_bitmaps && sl_rd_bytes(&rd, nb, &bm_after) != 0)
        return R_FAIL("rows event after-image bitmap truncated");
    /* The present columns of each image, in column order. */
    uint32_t cols_before[ncols > 0 ? ncols : 1];
    uint32_t cols_after[ncols > 0 ? ncols : 1];
    uint32_t np_before = 0, np_after = 0;
    for (uint32_t i = 0; i < ncols; i++) {
        if (bit(bm_before, i))
            cols_before[np_before++] = i;
        if (bit(bm_after, i))
            cols_after[np_after++] = i;
    }
    if (compressed) {
        int rc = sl__dec_inflate(dec, rd.p, sl_reader_left(&rd), &dec->zbuf);
        if (rc != 0)
            return rc;
        sl_reader_init(&rd, dec->zbuf.data, dec->zbuf.len);
    }
    if (!dec->in_trx) {
        /* Rows without BEGIN (a file that starts mid-stream, or a tool's
         * output): an implicit transaction ending with the statement. */
        int rc = sl__dec_trx_begin(dec, 1);
        if (rc != 0)
            return rc;
        dec->in_trx = 2;
    }
    const uint8_t *db = tm->raw.data + tm->db_off;
    const uint8_t *tbl = tm->raw.data + tm->table_off;
    const uint8_t *bj[tm->ncols > 0 ? tm->ncols : 1];
    size_t bjlen[tm->ncols > 0 ? tm->ncols : 1];
    if (sl_reader_left(&rd) == 0)
        return R_FAIL("rows event without rows");
    /* The row's head and the part after its number are the same for every
     * row of the table and operation: rendered once per table map. */
    sl_buf_t *head = &tm->rowhead[opi];
    if (head->len == 0) {
        SL__DEC_OUT_LIT(head, "{\"kind\":\"row\",\"op\":\"");
        sl_buf_append_str(head, op);
        SL__DEC_OUT_LIT(head, "\",\"db\":\"");
        sl_json_escape(head, db, tm->db_len, NULL);
        SL__DEC_OUT_LIT(head, "\",\"table\":\"");
        sl_json_escape(head, tbl, tm->table_len, NULL);
        SL__DEC_OUT_LIT(head, "\",\"row\":");
    }
    sl_buf_t *mid = &tm->rowmid;
    if (mid->len == 0) {
        PUT(mid, ",\"pk\":");
        if (tm->has_pk) {
            sl__dec_out_c(mid, '[');
            for (uint32_t j = 0; j < tm->npk; j++) {
                const sl_column_t *c = &tm->cols[tm->pk[j]];
                if (j > 0)
                    sl__dec_out_c(mid, ',');
                sl__dec_out_raw(mid, tm->keys.data + c->key_off,
                                c->key_len - 1);
            }
            sl__dec_out_c(mid, ']');
        } else {
            PUT(mid, "null");
        }
        if (!tm->has_names)
            PUT(mid, ",\"positional\":true");
        PUT(mid, ",\"before\":");
    }
    if (sl_buf_error(head) != 0 || sl_buf_error(mid) != 0) {
        /* A partial rendering must not be reused. */
        sl_buf_reset(head);
        sl_buf_reset(mid);
        return sl__dec_fail(dec, SL_ENOMEM, "out of memory");
    }
    /* Room for the usual expansion of row bytes into JSON, so the inline
     * appends rarely need to grow the buffer. */
    size_t expect = sl_reader_left(&rd) * 3;
    if (expect > ((size_t)1 << 20))
        expect = (size_t)1 << 20; /* Large values grow it as they go. */
    if (sl_buf_reserve(&dec->out, expect + 65536) != 0)
        return sl__dec_fail(dec, SL_ENOMEM, "out of memory");
    if ((has_before && np_before == 0) || (has_after && np_after == 0))
        return R_FAIL("rows event with an empty column bitmap");
    /* A row that has an excluded primary-key column (in an image, or in
     * "types") says so: consumers could not tell which row changed. */
    int pk_excluded = 0;
    for (uint32_t j = 0; tm->pk_dropped && j < tm->npk; j++) {
        uint32_t i = tm->pk[j];
        pk_excluded |=
            tm->cols[i].dropped &&
            (dec->opts.column_types || (has_before && bit(bm_before, i)) ||
             (has_after && bit(bm_after, i)));
    }
    /* The routing hash reads the primary-key values of the after image
     * (the before image of a delete) where they were rendered. */
    int hash = dec->opts.key_hash;
    int hash_before = !has_after;
    size_t span_at[hash ? ncols : 1], span_len[hash ? ncols : 1];
    spans_t spans = {span_at, span_len};
    /* Every row of the event ends with the same "src" and "trx": nothing
     * between its rows changes the event or the transaction. */
    const sl_buf_t *coords;
    if (sl__dec_coords(dec, &coords) != 0)
        return sl__dec_fail(dec, SL_ENOMEM, "out of memory");
    /* What the change says beside its JSON; the same for every row of the
     * event but the images. */
    sl_change_t chg = {
        .kind = SL_CHANGE_ROW,
        .op = opcode,
        .db = (const char *)db,
        .db_len = tm->db_len,
        .table = (const char *)tbl,
        .table_len = tm->table_len,
        .pk_excluded = pk_excluded,
        .positional = !tm->has_names,
    };
    if (dec->opts.format != SL_FORMAT_SLUICE) {
        if (partial)
            return sl__dec_fail(dec, SL_EUNSUPPORTED,
                                "PARTIAL_UPDATE_ROWS (binlog_row_value_"
                                "options=PARTIAL_JSON) is only rendered in "
                                "the sluice format");
        for (uint32_t in_event = 0; sl_reader_left(&rd) > 0; in_event++) {
            int rc = sl__dec_fmt_row(
                dec, tm, &chg, has_before ? cols_before : NULL, np_before,
                has_after ? cols_after : NULL, np_after, &rd, in_event);
            dec->stats.rows++;
            dec->trx_row++;
            if (rc != 0)
                return rc;
        }
        goto rows_done;
    }
    while (sl_reader_left(&rd) > 0) {
        size_t start = sl__dec_begin(dec);
        sl_buf_t *out = &dec->out;
        sl__dec_out_raw(out, head->data, head->len);
        sl__dec_out_u64(out, dec->trx_row);
        sl__dec_out_raw(out, mid->data, mid->len);
        int rc;
        size_t before_at = out->len;
        if (has_before) {
            if (partial)
                for (uint32_t j = 0; j < tm->ncols; j++)
                    bj[j] = NULL;
            if (hash && hash_before)
                clear_spans(tm, &spans);
            rc = decode_image(dec, tm, cols_before, np_before, &rd, out,
                              partial ? bj : NULL, bjlen,
                              hash && hash_before ? &spans : NULL);
            if (rc != 0)
                return rc;
        } else {
            PUT(out, "null");
        }
        size_t before_end = out->len;
        PUT(out, ",\"after\":");
        size_t after_at = out->len;
        if (has_after) {
            if (hash)
                clear_spans(tm, &spans);
            if (partial)
                rc = decode_partial_ai(dec, tm, bm_after, np_after, &rd, out,
                                       bj, bjlen, hash ? &spans : NULL);
            else
                rc = decode_image(dec, tm, cols_after, np_after, &rd, out, NULL,
                                  NULL, hash ? &spans : NULL);
            if (rc != 0)
                return rc;
        } else {
            PUT(out, "null");
        }
        size_t after_end = out->len;
        if (dec->opts.column_types) {
            PUT(out, ",\"types\":{");
            int sep = 0;
            for (uint32_t j = 0; j < tm->ncols; j++) {
                const sl_column_t *c = &tm->cols[j];
                if (c->dropped)
                    continue;
                if (sep)
                    sl__dec_out_c(out, ',');
                sep = 1;
                sl__dec_out_raw(out, tm->keys.data + c->key_off, c->key_len);
                sl__dec_out_c(out, '"');
                sl_buf_reset(&dec->tmp);
                sl__dec_column_type_name(tm, c, &dec->tmp);
                if (sl_buf_error(&dec->tmp) != 0)
                    return sl__dec_fail(dec, SL_ENOMEM, "out of memory");
                sl_json_escape(out, dec->tmp.data, dec->tmp.len, NULL);
                sl__dec_out_c(out, '"');
            }
            sl__dec_out_c(out, '}');
        }
        sl__dec_out_raw(out, coords->data, coords->len);
        if (sl__dec_out_c(out, '}') != 0)
            return sl__dec_fail(dec, SL_ENOMEM, "out of memory");
        dec->stats.rows++;
        chg.before = has_before ? (const char *)out->data + before_at : NULL;
        chg.before_len = has_before ? before_end - before_at : 0;
        chg.after = has_after ? (const char *)out->data + after_at : NULL;
        chg.after_len = has_after ? after_end - after_at : 0;
        if (hash)
            chg.key_hash =
                key_hash(tm, out, &spans, hash_before ? before_at : after_at,
                         hash_before ? before_end : after_end);
        rc = sl__dec_emit(dec, &chg, start);
        dec->trx_row++;
        if (rc != 0)
            return rc;
    }
rows_done:
    if (flags & STMT_END_F) {
        if (dec->in_trx == 2)
            return sl__dec_trx_end(dec, SL_CHANGE_COMMIT, 1, NULL, 0);
        /* Table maps end with their statement; release them so table ids
         * do not pile up. */
        sl__dec_tablemap_release_all(dec);
    }
    return 0;
}
