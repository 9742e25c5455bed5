/*
 * The schema history as one JSON document (see schema.h and
 * docs/schema-history.md).
 *
 * Format: one UTF-8 JSON document, written by sl_schema_to_json() with keys in
 * exactly this order and arrays sorted so that equal histories serialise to
 * equal bytes:
 *
 *   {"format":"sluice-schema-history","version":1,
 *    "server":{"flavor":"mariadb"|"mysql"|"unknown","version":N,
 *              "charset":"utf8mb4"|null},
 *    "databases":[{"name":"shop","charset":"utf8mb4"}, ...],   (by name)
 *    "tables":[{"db":"shop","name":"orders","charset":"latin1",
 *               "columns":[{"name":"id","data_type":"int",
 *                           "column_type":"int(10) unsigned",
 *                           "unsigned":true,"charset":null,
 *                           "values":[],"nullable":false,"pk":1}, ...]},
 *              ...]}                                  (by db, then name)
 *
 * After "columns" a table may have "engine":"innodb" (lower-case; absent
 * when not known) and "keys":[{"name":"k","unique":true,"hash":0|1|2,
 * "using_hash":0|1|2,"parts":["a","b"],"prefix":[0,10]}, ...]: its indexes
 * but the PRIMARY KEY (sl_schema_key_t; prefix 0 means none). The hidden
 * DB_ROW_HASH_n columns of hash keys are not written: the reader makes
 * them again from "keys".
 *
 * A column may end with "hidden":true and then "period":true (each written
 * only when true, absent means false): "hidden" marks MariaDB's implicit
 * row_start/row_end of a system-versioned table, which row images carry
 * and information_schema does not show; "period" a column of an
 * application-time PERIOD FOR, which the server keeps NOT NULL.
 * "pk" is the column's 1-based position in the PRIMARY KEY, 0 when not in
 * it. Names and values are JSON strings (sl_json_str escaping); a document
 * is valid when it parses as JSON, "format" and "version" match, and every
 * key above is present with its type. The reader ignores unknown keys, so
 * a later version may add some.
 */
#include "internal.h"

#include "error.h"
#include "json.h"
#include "jsonread.h"

#include <stdlib.h>
#include <string.h>

static void json_str_or_null(sl_json_t *j, const char *s) {
    if (s)
        sl_json_str(j, s);
    else
        sl_json_null(j);
}

static void write_keys(sl_json_t *j, const sl_schema_table_t *t) {
    sl_json_key(j, "keys");
    sl_json_arr_begin(j);
    for (size_t i = 0; i < t->nkeys; i++) {
        const sl_schema_key_t *k = &t->keys[i];
        sl_json_obj_begin(j);
        sl_json_key(j, "name");
        sl_json_str(j, k->name);
        sl_json_key(j, "unique");
        sl_json_bool(j, k->unique);
        sl_json_key(j, "hash");
        sl_json_int(j, k->hash);
        sl_json_key(j, "using_hash");
        sl_json_int(j, k->using_hash);
        sl_json_key(j, "parts");
        sl_json_arr_begin(j);
        for (size_t p = 0; p < k->nparts; p++)
            sl_json_str(j, k->parts[p]);
        sl_json_arr_end(j);
        sl_json_key(j, "prefix");
        sl_json_arr_begin(j);
        for (size_t p = 0; p < k->nparts; p++)
            sl_json_int(j, k->prefix[p] < 0 ? 0 : k->prefix[p]);
        sl_json_arr_end(j);
        sl_json_obj_end(j);
    }
    sl_json_arr_end(j);
}

int sl_schema_to_json(const sl_schema_t *s, sl_buf_t *out) {
    sl_json_t j;
    sl_json_init(&j, out);
    sl_json_obj_begin(&j);
    sl_json_key(&j, "format");
    sl_json_str(&j, "sluice-schema-history");
    sl_json_key(&j, "version");
    sl_json_int(&j, 1);
    sl_json_key(&j, "server");
    sl_json_obj_begin(&j);
    sl_json_key(&j, "flavor");
    sl_json_str(&j, s->opts.is_mariadb ? "mariadb"
                    : s->opts.version  ? "mysql"
                                       : "unknown");
    sl_json_key(&j, "version");
    sl_json_uint(&j, s->opts.version);
    sl_json_key(&j, "charset");
    json_str_or_null(&j, s->server_charset);
    sl_json_obj_end(&j);
    sl_json_key(&j, "databases");
    sl_json_arr_begin(&j);
    /* Sorted by name without changing the history: a selection pass. */
    const char *last = NULL;
    for (size_t n = 0; n < s->ndbs; n++) {
        const sl__schema_db_t *best = NULL;
        for (size_t i = 0; i < s->ndbs; i++) {
            const sl__schema_db_t *d = &s->dbs[i];
            if (last && strcmp(d->name, last) <= 0)
                continue;
            if (best == NULL || strcmp(d->name, best->name) < 0)
                best = d;
        }
        if (best == NULL)
            break;
        sl_json_obj_begin(&j);
        sl_json_key(&j, "name");
        sl_json_str(&j, best->name);
        sl_json_key(&j, "charset");
        sl_json_str(&j, best->charset);
        sl_json_obj_end(&j);
        last = best->name;
    }
    sl_json_arr_end(&j);
    sl_json_key(&j, "tables");
    sl_json_arr_begin(&j);
    for (size_t i = 0; i < s->ntables; i++) {
        const sl_schema_table_t *t = s->tables[i];
        sl_json_obj_begin(&j);
        sl_json_key(&j, "db");
        sl_json_str(&j, t->db);
        sl_json_key(&j, "name");
        sl_json_str(&j, t->name);
        sl_json_key(&j, "charset");
        json_str_or_null(&j, t->charset);
        sl_json_key(&j, "columns");
        sl_json_arr_begin(&j);
        for (size_t k = 0; k < t->ncols; k++) {
            const sl_schema_col_t *c = &t->cols[k];
            if (c->hidden == SL_SCHEMA_HASH_COL)
                continue; /* Made again from "keys" when read. */
            sl_json_obj_begin(&j);
            sl_json_key(&j, "name");
            sl_json_str(&j, c->name);
            sl_json_key(&j, "data_type");
            sl_json_str(&j, c->data_type);
            sl_json_key(&j, "column_type");
            sl_json_str(&j, c->column_type);
            sl_json_key(&j, "unsigned");
            sl_json_bool(&j, c->is_unsigned);
            sl_json_key(&j, "charset");
            json_str_or_null(&j, c->charset);
            sl_json_key(&j, "values");
            sl_json_arr_begin(&j);
            for (size_t v = 0; v < c->nvalues; v++)
                sl_json_str(&j, c->values[v]);
            sl_json_arr_end(&j);
            sl_json_key(&j, "nullable");
            sl_json_bool(&j, c->nullable);
            sl_json_key(&j, "pk");
            sl_json_int(&j, c->pk_seq ? c->pk_seq : (c->is_pk ? 1 : 0));
            if (c->hidden) {
                sl_json_key(&j, "hidden");
                sl_json_bool(&j, 1);
            }
            if (c->in_period) {
                sl_json_key(&j, "period");
                sl_json_bool(&j, 1);
            }
            sl_json_obj_end(&j);
        }
        sl_json_arr_end(&j);
        if (t->engine) {
            sl_json_key(&j, "engine");
            sl_json_str(&j, t->engine);
        }
        if (t->nkeys)
            write_keys(&j, t);
        sl_json_obj_end(&j);
    }
    sl_json_arr_end(&j);
    sl_json_obj_end(&j);
    return sl_json_error(&j);
}

/* Reading: the document is tokenized with lib/jsonread, then every member
 * is checked for presence and type before the history is replaced. */

/* Deeper than the document ever nests (6), as the reader always allowed. */
#define DOC_MAX_DEPTH 17

static int corrupt_at(char *err, size_t errlen, const char *what, size_t off) {
    return sl__schema_errf(err, errlen, SL_ECORRUPT,
                           "schema history JSON: %s at offset %zu", what, off);
}

/* The member key of obj when it has type type, else SL_JR_NONE. */
static uint32_t get_typed(const sl_jr_doc_t *doc, uint32_t obj, const char *key,
                          sl_jr_type_t type) {
    uint32_t v = sl_jr_get(doc, obj, key);
    return v != SL_JR_NONE && sl_jr_type(doc, v) == type ? v : SL_JR_NONE;
}

/* String token v as a malloc'd C string. Returns 0, SL_ECORRUPT when it
 * holds a NUL (err says where), or SL_ENOMEM. */
static int tok_str(const sl_jr_doc_t *doc, uint32_t v, char **out, char *err,
                   size_t errlen) {
    size_t len;
    if (sl_jr_strdup(doc, v, out, &len) != 0)
        return sl__schema_errf(err, errlen, SL_ENOMEM, "out of memory");
    if (strlen(*out) != len) {
        free(*out);
        *out = NULL;
        return corrupt_at(err, errlen, "NUL in a string",
                          sl_jr_tok(doc, v)->start);
    }
    return 0;
}

/* A string member into *out, NULL for JSON null. Returns 0, 1 when the
 * member is missing or neither a string nor null, or an error of
 * tok_str(). */
static int get_str(const sl_jr_doc_t *doc, uint32_t obj, const char *key,
                   char **out, char *err, size_t errlen) {
    *out = NULL;
    uint32_t v = sl_jr_get(doc, obj, key);
    if (v == SL_JR_NONE)
        return 1;
    if (sl_jr_type(doc, v) == SL_JR_NULL)
        return 0;
    if (sl_jr_type(doc, v) != SL_JR_STRING)
        return 1;
    return tok_str(doc, v, out, err, errlen);
}

/* An integer member in [0, max] into *out; 1 when it is not one. */
static int get_int(const sl_jr_doc_t *doc, uint32_t obj, const char *key,
                   int64_t max, int64_t *out) {
    uint32_t v = get_typed(doc, obj, key, SL_JR_NUMBER);
    if (v == SL_JR_NONE || sl_jr_i64(doc, v, out) != 0 || *out < 0 ||
        *out > max)
        return 1;
    return 0;
}

/* A boolean member into *out; 1 when it is not one. */
static int get_bool(const sl_jr_doc_t *doc, uint32_t obj, const char *key,
                    int *out) {
    uint32_t v = sl_jr_get(doc, obj, key);
    if (v == SL_JR_NONE ||
        (sl_jr_type(doc, v) != SL_JR_TRUE && sl_jr_type(doc, v) != SL_JR_FALSE))
        return 1;
    *out = sl_jr_type(doc, v) == SL_JR_TRUE;
    return 0;
}

/* Reads the string members keys[i] into *outs[i]. Returns 0, 1 when one is
 * missing or of another type (the others are still read), or an error. */
static int get_strs(const sl_jr_doc_t *doc, uint32_t obj,
                    const char *const *keys, char **const *outs, size_t n,
                    char *err, size_t errlen) {
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        int rc = get_str(doc, obj, keys[i], outs[i], err, errlen);
        if (rc < 0)
            return rc;
        bad |= rc;
    }
    return bad;
}

static int read_col(const sl_jr_doc_t *doc, uint32_t cn, size_t i,
                    const sl_schema_table_t *t, sl_schema_col_t *c, char *err,
                    size_t errlen) {
    static const char *const keys[] = {"name", "data_type", "column_type",
                                       "charset"};
    char **const outs[] = {&c->name, &c->data_type, &c->column_type,
                           &c->charset};
    int rc = get_strs(doc, cn, keys, outs, 4, err, errlen);
    if (rc < 0)
        return rc;
    int64_t pk = 0;
    uint32_t vals = get_typed(doc, cn, "values", SL_JR_ARRAY);
    if (rc || !c->name || !c->data_type || !c->column_type ||
        get_bool(doc, cn, "unsigned", &c->is_unsigned) ||
        get_bool(doc, cn, "nullable", &c->nullable) ||
        get_int(doc, cn, "pk", 4096, &pk) || vals == SL_JR_NONE)
        return sl__schema_errf(err, errlen, SL_ECORRUPT,
                               "schema history JSON: column %zu of %s.%s "
                               "is incomplete",
                               i, t->db, t->name);
    c->pk_seq = (int)pk;
    c->is_pk = c->pk_seq > 0;
    if ((sl_jr_get(doc, cn, "hidden") != SL_JR_NONE &&
         get_bool(doc, cn, "hidden", &c->hidden)) ||
        (sl_jr_get(doc, cn, "period") != SL_JR_NONE &&
         get_bool(doc, cn, "period", &c->in_period)))
        return sl__schema_errf(err, errlen, SL_ECORRUPT,
                               "schema history JSON: \"hidden\" or "
                               "\"period\" of %s.%s.%s is not a boolean",
                               t->db, t->name, c->name);
    uint32_t n = sl_jr_tok(doc, vals)->count;
    if (n > 0 && (c->values = calloc(n, sizeof *c->values)) == NULL)
        return sl__schema_errf(err, errlen, SL_ENOMEM, "out of memory");
    uint32_t it = 0, key, v;
    while (sl_jr_next(doc, vals, &it, &key, &v)) {
        if (sl_jr_type(doc, v) != SL_JR_STRING)
            return sl__schema_errf(err, errlen, SL_ECORRUPT,
                                   "schema history JSON: a value of "
                                   "%s.%s.%s is not a string",
                                   t->db, t->name, c->name);
        if ((rc = tok_str(doc, v, &c->values[c->nvalues], err, errlen)) != 0)
            return rc;
        c->nvalues++;
    }
    return 0;
}

/* One key of "keys"; 1 when malformed. */
static int read_key(const sl_jr_doc_t *doc, uint32_t kn, sl_schema_key_t *k,
                    char *err, size_t errlen) {
    int64_t hash = 0, uh = 0;
    int rc = get_str(doc, kn, "name", &k->name, err, errlen);
    uint32_t parts = get_typed(doc, kn, "parts", SL_JR_ARRAY);
    uint32_t pre = get_typed(doc, kn, "prefix", SL_JR_ARRAY);
    if (rc != 0 || k->name == NULL || get_bool(doc, kn, "unique", &k->unique) ||
        get_int(doc, kn, "hash", 2, &hash) ||
        get_int(doc, kn, "using_hash", 2, &uh) || parts == SL_JR_NONE ||
        pre == SL_JR_NONE ||
        sl_jr_tok(doc, parts)->count != sl_jr_tok(doc, pre)->count)
        return rc < 0 ? rc : 1;
    k->hash = (int)hash;
    k->using_hash = (int)uh;
    uint32_t n = sl_jr_tok(doc, parts)->count;
    if (n && ((k->parts = calloc(n, sizeof *k->parts)) == NULL ||
              (k->prefix = calloc(n, sizeof *k->prefix)) == NULL))
        return SL_ENOMEM;
    uint32_t it = 0, it2 = 0, key, v, v2;
    while (sl_jr_next(doc, parts, &it, &key, &v) &&
           sl_jr_next(doc, pre, &it2, &key, &v2)) {
        int64_t p;
        if (sl_jr_type(doc, v) != SL_JR_STRING ||
            sl_jr_type(doc, v2) != SL_JR_NUMBER || sl_jr_i64(doc, v2, &p) ||
            p < 0)
            return 1;
        if ((rc = tok_str(doc, v, &k->parts[k->nparts], err, errlen)) != 0)
            return rc;
        k->prefix[k->nparts++] = p == 0 ? -1 : p;
    }
    return 0;
}

/* The optional "engine" and "keys" of a table (absent: none, as written
 * before they existed); then the hash columns the keys make. */
static int read_keys(const sl_jr_doc_t *doc, uint32_t tn, sl_schema_table_t *t,
                     char *err, size_t errlen) {
    int rc = 0;
    if (sl_jr_get(doc, tn, "engine") != SL_JR_NONE &&
        (rc = get_str(doc, tn, "engine", &t->engine, err, errlen)) != 0)
        return rc < 0 ? rc
                      : sl__schema_errf(err, errlen, SL_ECORRUPT,
                                        "schema history JSON: engine of "
                                        "%s.%s is not a string",
                                        t->db, t->name);
    uint32_t keys = sl_jr_get(doc, tn, "keys");
    if (keys != SL_JR_NONE) {
        if (sl_jr_type(doc, keys) != SL_JR_ARRAY)
            rc = 1;
        uint32_t n = rc ? 0 : sl_jr_tok(doc, keys)->count;
        if (n && (t->keys = calloc(n, sizeof *t->keys)) == NULL)
            return sl__schema_errf(err, errlen, SL_ENOMEM, "out of memory");
        uint32_t it = 0, key, kn;
        while (rc == 0 && sl_jr_next(doc, keys, &it, &key, &kn)) {
            t->nkeys++;
            rc = read_key(doc, kn, &t->keys[t->nkeys - 1], err, errlen);
        }
        if (rc == SL_ENOMEM)
            return sl__schema_errf(err, errlen, rc, "out of memory");
        if (rc != 0)
            return rc < 0 ? rc
                          : sl__schema_errf(err, errlen, SL_ECORRUPT,
                                            "schema history JSON: a key of "
                                            "%s.%s is malformed",
                                            t->db, t->name);
    }
    if (sl__schema_hash_cols(t) != 0)
        return sl__schema_errf(err, errlen, SL_ENOMEM, "out of memory");
    return 0;
}

static int read_table(sl_schema_t *s, const sl_jr_doc_t *doc, uint32_t tn,
                      char *err, size_t errlen) {
    sl_schema_table_t *t = calloc(1, sizeof *t);
    if (t == NULL)
        return sl__schema_errf(err, errlen, SL_ENOMEM, "out of memory");
    static const char *const keys[] = {"db", "name", "charset"};
    char **const outs[] = {&t->db, &t->name, &t->charset};
    int rc = get_strs(doc, tn, keys, outs, 3, err, errlen);
    uint32_t cols = get_typed(doc, tn, "columns", SL_JR_ARRAY);
    if (rc > 0 || (rc == 0 && (!t->db || !t->name || cols == SL_JR_NONE)))
        rc = sl__schema_errf(err, errlen, SL_ECORRUPT,
                             "schema history JSON: a table lacks db, name, "
                             "charset or columns");
    uint32_t n = rc == 0 ? sl_jr_tok(doc, cols)->count : 0;
    if (n > 0 && (t->cols = calloc(n, sizeof *t->cols)) == NULL)
        rc = sl__schema_errf(err, errlen, SL_ENOMEM, "out of memory");
    uint32_t it = 0, key, cn;
    while (rc == 0 && sl_jr_next(doc, cols, &it, &key, &cn)) {
        /* Counted first, so a failed column is freed with the table. */
        t->ncols++;
        rc = read_col(doc, cn, t->ncols - 1, t, &t->cols[t->ncols - 1], err,
                      errlen);
    }
    if (rc == 0 && t->charset == NULL)
        rc = sl__schema_errf(err, errlen, SL_ECORRUPT,
                             "schema history JSON: table %s.%s has no "
                             "charset",
                             t->db, t->name);
    if (rc == 0)
        rc = read_keys(doc, tn, t, err, errlen);
    if (rc != 0) {
        sl__schema_table_free(t);
        return rc;
    }
    rc = sl__schema_put_owned(s, t);
    if (rc != 0)
        sl__schema_errf(err, errlen, rc, "out of memory");
    return rc;
}

/* Fills the fresh history n from the document's root. */
static int read_doc(sl_schema_t *n, const sl_jr_doc_t *doc, char *err,
                    size_t errlen) {
    int64_t ver = 0, sver = 0;
    uint32_t srv = get_typed(doc, 0, "server", SL_JR_OBJECT);
    uint32_t dbs = get_typed(doc, 0, "databases", SL_JR_ARRAY);
    uint32_t tables = get_typed(doc, 0, "tables", SL_JR_ARRAY);
    uint32_t fmt = get_typed(doc, 0, "format", SL_JR_STRING);
    if (fmt == SL_JR_NONE ||
        !sl_jr_str_eq(doc, fmt, "sluice-schema-history", 21) ||
        get_int(doc, 0, "version", INT64_MAX, &ver) || ver != 1 ||
        srv == SL_JR_NONE || dbs == SL_JR_NONE || tables == SL_JR_NONE)
        return sl__schema_errf(err, errlen, SL_ECORRUPT,
                               "schema history JSON: not a version 1 "
                               "sluice-schema-history document");
    uint32_t flavor = get_typed(doc, srv, "flavor", SL_JR_STRING);
    char *scs = NULL;
    int rc = get_str(doc, srv, "charset", &scs, err, errlen);
    if (rc < 0)
        return rc;
    if (flavor == SL_JR_NONE ||
        get_int(doc, srv, "version", INT64_MAX, &sver) || rc > 0) {
        free(scs);
        return sl__schema_errf(err, errlen, SL_ECORRUPT,
                               "schema history JSON: bad server object");
    }
    rc = sl_schema_set_server(n, sl_jr_str_eq(doc, flavor, "mariadb", 7),
                              (unsigned long)sver, scs);
    free(scs);
    uint32_t it = 0, key, v;
    for (size_t i = 0; rc == 0 && sl_jr_next(doc, dbs, &it, &key, &v); i++) {
        char *name = NULL, *cs = NULL;
        uint32_t dn = get_typed(doc, v, "name", SL_JR_STRING);
        uint32_t dc = get_typed(doc, v, "charset", SL_JR_STRING);
        if (dn == SL_JR_NONE || dc == SL_JR_NONE)
            rc = sl__schema_errf(err, errlen, SL_ECORRUPT,
                                 "schema history JSON: bad database entry "
                                 "%zu",
                                 i);
        if (rc == 0)
            rc = tok_str(doc, dn, &name, err, errlen);
        if (rc == 0)
            rc = tok_str(doc, dc, &cs, err, errlen);
        if (rc == 0)
            rc = sl_schema_set_db_charset(n, name, cs);
        free(name);
        free(cs);
    }
    it = 0;
    while (rc == 0 && sl_jr_next(doc, tables, &it, &key, &v))
        rc = read_table(n, doc, v, err, errlen);
    if (rc == SL_ENOMEM)
        sl__schema_errf(err, errlen, rc, "out of memory");
    return rc;
}

int sl_schema_from_json(sl_schema_t *s, const char *json, size_t len, char *err,
                        size_t errlen) {
    sl_jr_doc_t doc;
    sl_jr_init(&doc);
    doc.max_depth = DOC_MAX_DEPTH;
    int rc = sl_jr_parse(&doc, json, len);
    if (rc == SL_ENOMEM) {
        sl_jr_free(&doc);
        return sl__schema_errf(err, errlen, rc, "out of memory");
    }
    if (rc != 0) {
        rc = corrupt_at(err, errlen, doc.err, doc.err_pos);
        sl_jr_free(&doc);
        return rc;
    }
    /* Build into a fresh history and swap, so a bad document changes
     * nothing. */
    sl_schema_t *n;
    rc = sl_schema_new(&n);
    if (rc == 0)
        rc = read_doc(n, &doc, err, errlen);
    sl_jr_free(&doc);
    if (rc != 0) {
        sl_schema_free(n);
        return rc;
    }
    n->opts.sql_mode = s->opts.sql_mode;
    sl__schema_clear_content(s);
    free(s->tables);
    free(s->server_charset);
    *s = *n;
    free(n);
    return 0;
}
