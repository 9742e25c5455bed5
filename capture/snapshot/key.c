/* Keys and column kinds shared by both sides of a snapshot; see
 * internal.h. */
#include "internal.h"

#include "hash.h"

#include <string.h>

void sl__snap_key(const sl_jr_doc_t *doc, uint32_t obj,
                  const char *const *pknames, size_t npk, sl_buf_t *key,
                  uint64_t *hash) {
    sl_buf_reset(key);
    for (size_t k = 0; k < npk; k++) {
        uint32_t v = sl_jr_get(doc, obj, pknames[k]);
        if (v == SL_JR_NONE) {
            sl_buf_append_str(key, "null");
        } else {
            size_t n;
            const char *raw = sl_jr_raw(doc, v, &n);
            sl_buf_append(key, raw, n);
        }
        sl_buf_append_u8(key, 0);
    }
    /* The decoder hashes the same bytes: each value's text without a
     * string's quotes, then a NUL (capture/decoder/rows.c). */
    *hash = sl_hash_fnv1a(key->data, key->len);
}

sl__snap_kind_t sl__snap_kind(const char *t, const char *charset) {
    static const char *const nums[] = {
        "tinyint", "smallint", "mediumint", "int",  "integer", "bigint",
        "year",    "float",    "double",    "real", "bool",    "boolean"};
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++)
        if (strcmp(t, nums[i]) == 0)
            return SL__SNAP_NUM;
    if (strcmp(t, "bit") == 0)
        return SL__SNAP_BIT;
    if (strcmp(t, "decimal") == 0 || strcmp(t, "numeric") == 0)
        return SL__SNAP_DEC;
    if (strcmp(t, "date") == 0 || strcmp(t, "time") == 0 ||
        strcmp(t, "datetime") == 0 || strcmp(t, "timestamp") == 0)
        return SL__SNAP_TIME;
    if (strcmp(t, "json") == 0)
        return SL__SNAP_JSON;
    static const char *const spatial[] = {"geometry",      "point",
                                          "linestring",    "polygon",
                                          "multipoint",    "multilinestring",
                                          "multipolygon",  "geometrycollection",
                                          "geomcollection"};
    for (size_t i = 0; i < sizeof spatial / sizeof spatial[0]; i++)
        if (strcmp(t, spatial[i]) == 0)
            return SL__SNAP_GEOM;
    if (strcmp(t, "enum") == 0 || strcmp(t, "set") == 0)
        return SL__SNAP_STR;
    static const char *const texts[] = {
        "char",   "varchar",   "tinytext", "text", "mediumtext", "longtext",
        "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        if (strcmp(t, texts[i]) == 0)
            return charset != NULL && strcmp(charset, "binary") == 0
                       ? SL__SNAP_BIN
                       : (i >= 6 ? SL__SNAP_BIN : SL__SNAP_STR);
    return 0;
}
