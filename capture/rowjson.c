/* Row-event JSON helpers; see rowjson.h. */
#include "rowjson.h"

#include "error.h"
#include "hash.h"

#include <string.h>

/* Appends a token's full JSON text (strings with their quotes). */
static int put_tok(const sl_jr_doc_t *doc, uint32_t tok, sl_buf_t *out) {
    size_t len;
    const char *raw = sl_jr_raw(doc, tok, &len);
    if (sl_jr_type(doc, tok) == SL_JR_STRING)
        return sl_buf_append(out, raw - 1, len + 2);
    return sl_buf_append(out, raw, len);
}

static uint32_t image_of(const sl_jr_doc_t *doc) {
    uint32_t op = sl_jr_get(doc, 0, "op");
    int is_delete = op != SL_JR_NONE && sl_jr_str_eq(doc, op, "delete", 6);
    uint32_t img = sl_jr_get(doc, 0, is_delete ? "before" : "after");
    if (img == SL_JR_NONE || sl_jr_type(doc, img) != SL_JR_OBJECT)
        img = sl_jr_get(doc, 0, is_delete ? "after" : "before");
    if (img == SL_JR_NONE || sl_jr_type(doc, img) != SL_JR_OBJECT)
        return SL_JR_NONE;
    return img;
}

int sl_rowjson_key_hash(sl_jr_doc_t *doc, const char *json, size_t len,
                        uint64_t *hash) {
    if (sl_jr_parse(doc, json, len) != 0 ||
        sl_jr_type(doc, 0) != SL_JR_OBJECT)
        return SL_ECORRUPT;
    uint32_t img = image_of(doc);
    if (img == SL_JR_NONE)
        return SL_ECORRUPT;
    uint32_t pk = sl_jr_get(doc, 0, "pk");
    if (pk == SL_JR_NONE || sl_jr_type(doc, pk) != SL_JR_ARRAY ||
        sl_jr_tok(doc, pk)->count == 0) {
        size_t ilen;
        const char *raw = sl_jr_raw(doc, img, &ilen);
        *hash = sl_hash_fnv1a(raw, ilen);
        return 0;
    }
    /* FNV-1a is a running hash: feeding the values one after another
     * equals hashing their concatenation. */
    uint64_t h = 14695981039346656037ull;
    uint32_t it = 0, key, name;
    while (sl_jr_next(doc, pk, &it, &key, &name)) {
        if (sl_jr_type(doc, name) != SL_JR_STRING)
            return SL_ECORRUPT;
        size_t nlen;
        const char *nraw = sl_jr_raw(doc, name, &nlen);
        uint32_t val = sl_jr_getn(doc, img, nraw, nlen);
        size_t vlen = 4;
        const char *vraw = "null";
        if (val != SL_JR_NONE)
            vraw = sl_jr_raw(doc, val, &vlen);
        for (size_t i = 0; i <= vlen; i++) {
            h ^= i < vlen ? (unsigned char)vraw[i] : 0;
            h *= 1099511628211ull;
        }
    }
    *hash = h;
    return 0;
}

static int is_pk(const sl_jr_doc_t *doc, uint32_t pk, const char *name,
                 size_t len) {
    if (pk == SL_JR_NONE || sl_jr_type(doc, pk) != SL_JR_ARRAY)
        return 0;
    uint32_t it = 0, key, val;
    while (sl_jr_next(doc, pk, &it, &key, &val))
        if (sl_jr_type(doc, val) == SL_JR_STRING &&
            sl_jr_str_eq(doc, val, name, len))
            return 1;
    return 0;
}

/* Copies object obj keeping only the members keep_cb accepts. */
static int filter_object(const sl_jr_doc_t *doc, uint32_t obj, uint32_t pk,
                         sl_rowjson_keep_cb keep_cb, void *ctx,
                         sl_buf_t *scratch, sl_buf_t *out, size_t *dropped,
                         int count) {
    int err = sl_buf_append_u8(out, '{');
    int first = 1;
    uint32_t it = 0, key, val;
    while (err == 0 && sl_jr_next(doc, obj, &it, &key, &val)) {
        sl_buf_reset(scratch);
        if ((err = sl_jr_unescape(doc, key, scratch)) != 0)
            return err;
        const char *name = scratch->len ? (const char *)scratch->data : "";
        if (!keep_cb(ctx, name, scratch->len)) {
            if (is_pk(doc, pk, name, scratch->len))
                return SL_EINVAL;
            if (count)
                (*dropped)++;
            continue;
        }
        if (!first)
            err = sl_buf_append_u8(out, ',');
        first = 0;
        if (err == 0)
            err = put_tok(doc, key, out);
        if (err == 0)
            err = sl_buf_append_u8(out, ':');
        if (err == 0)
            err = put_tok(doc, val, out);
    }
    if (err == 0)
        err = sl_buf_append_u8(out, '}');
    return err;
}

int sl_rowjson_drop_columns(sl_jr_doc_t *doc, const char *json, size_t len,
                            sl_rowjson_keep_cb keep_cb, void *ctx,
                            sl_buf_t *scratch, sl_buf_t *out,
                            size_t *dropped) {
    *dropped = 0;
    if (sl_jr_parse(doc, json, len) != 0 ||
        sl_jr_type(doc, 0) != SL_JR_OBJECT)
        return SL_ECORRUPT;
    uint32_t pk = sl_jr_get(doc, 0, "pk");
    size_t start = out->len;
    int err = sl_buf_append_u8(out, '{');
    int first = 1;
    uint32_t it = 0, key, val;
    while (err == 0 && sl_jr_next(doc, 0, &it, &key, &val)) {
        if (!first)
            err = sl_buf_append_u8(out, ',');
        first = 0;
        if (err == 0)
            err = put_tok(doc, key, out);
        if (err == 0)
            err = sl_buf_append_u8(out, ':');
        if (err != 0)
            break;
        int image = sl_jr_str_eq(doc, key, "before", 6) ||
                    sl_jr_str_eq(doc, key, "after", 5);
        int types = sl_jr_str_eq(doc, key, "types", 5);
        if ((image || types) && sl_jr_type(doc, val) == SL_JR_OBJECT)
            err = filter_object(doc, val, pk, keep_cb, ctx, scratch, out,
                                dropped, image);
        else
            err = put_tok(doc, val, out);
    }
    if (err == 0)
        err = sl_buf_append_u8(out, '}');
    if (err != 0)
        out->len = start;
    return err;
}
