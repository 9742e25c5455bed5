/*
 * SQL text for the MySQL/MariaDB sink (apply/mysql/internal.h): backquoted
 * identifiers (doubled backquotes), values escaped with
 * mysql_real_escape_string(), and the statement for one row event.
 *
 * Values, by the target column's type (information_schema DATA_TYPE):
 *   null                      NULL
 *   number                    its exact text, unquoted (DECIMAL and
 *                             64-bit unsigned survive; JSON columns quote)
 *   true / false              1 / 0 ('true' / 'false' for MariaDB JSON
 *                             columns, known by their json_valid() CHECK)
 *   string                    '...' escaped; for JSON columns the JSON text
 *                             of the value (a JSON string keeps its quotes)
 *   {"base64": "..."}         X'<hex>' of the decoded bytes (not for JSON
 *                             columns, where any object is JSON text)
 *   {"srid": N, "wkb": "..."} ST_GeomFromWKB(X'<wkb>', N) for geometry
 *   other object / array      its JSON text, quoted
 */
#include "internal.h"

#include "error.h"

#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

void sl__mysql_put_ident(sl_buf_t *b, const char *name) {
    sl_buf_append_u8(b, '`');
    for (const char *p = name; *p; p++) {
        if (*p == '`')
            sl_buf_append_u8(b, '`');
        sl_buf_append_u8(b, (uint8_t)*p);
    }
    sl_buf_append_u8(b, '`');
}

/* MySQL's escaping of a string literal body for ASCII-compatible
 * charsets (utf8mb4), the same bytes mysql_real_escape_string() writes for
 * them: NUL, LF, CR, backslash, both quotes and ^Z are backslash-escaped.
 * Used only when there is no connection (unit tests); Connector/C's
 * connection-less mysql_escape_string() crashes without a default
 * charset. */
static size_t escape_utf8(char *to, const char *from, size_t n) {
    char *o = to;
    for (size_t i = 0; i < n; i++) {
        char e = 0;
        switch (from[i]) {
        case '\0': e = '0'; break;
        case '\n': e = 'n'; break;
        case '\r': e = 'r'; break;
        case '\\': e = '\\'; break;
        case '\'': e = '\''; break;
        case '"': e = '"'; break;
        case '\032': e = 'Z'; break;
        default: break;
        }
        if (e) {
            *o++ = '\\';
            *o++ = e;
        } else {
            *o++ = from[i];
        }
    }
    *o = '\0';
    return (size_t)(o - to);
}

/* Appends 'escaped' for s[0..n) with mysql_real_escape_string() (which
 * follows the connection's charset); mysql may be NULL in unit tests. */
int sl__mysql_put_quoted(MYSQL *mysql, sl_buf_t *b, const char *s, size_t n) {
    if (sl_buf_reserve(b, 2 * n + 3) != 0)
        return SL_ENOMEM;
    b->data[b->len++] = '\'';
    unsigned long w =
        mysql ? mysql_real_escape_string(mysql, (char *)b->data + b->len, s,
                                         (unsigned long)n)
              : (unsigned long)escape_utf8((char *)b->data + b->len, s, n);
    if (w == (unsigned long)-1)
        return SL_EINVAL;
    b->len += w;
    b->data[b->len++] = '\'';
    return 0;
}

static int put_hex(sl_buf_t *b, const uint8_t *p, size_t n) {
    static const char hx[] = "0123456789ABCDEF";
    if (sl_buf_reserve(b, 2 * n + 3) != 0)
        return SL_ENOMEM;
    b->data[b->len++] = 'X';
    b->data[b->len++] = '\'';
    for (size_t i = 0; i < n; i++) {
        b->data[b->len++] = (uint8_t)hx[p[i] >> 4];
        b->data[b->len++] = (uint8_t)hx[p[i] & 15];
    }
    b->data[b->len++] = '\'';
    return 0;
}

int sl__mysql_classify(const char *type) {
    static const char *const bin[] = {"binary", "varbinary",  "tinyblob",
                                      "blob",   "mediumblob", "longblob"};
    static const char *const geom[] = {
        "geometry",   "point",           "linestring",   "polygon",
        "multipoint", "multilinestring", "multipolygon", "geometrycollection"};
    for (size_t i = 0; i < sizeof bin / sizeof bin[0]; i++)
        if (strcasecmp(type, bin[i]) == 0)
            return CLS_BINARY;
    for (size_t i = 0; i < sizeof geom / sizeof geom[0]; i++)
        if (strcasecmp(type, geom[i]) == 0)
            return CLS_GEOM;
    if (strcasecmp(type, "json") == 0)
        return CLS_JSON;
    if (strcasecmp(type, "bit") == 0 || strcasecmp(type, "enum") == 0 ||
        strcasecmp(type, "set") == 0)
        return CLS_NUMTEXT;
    if (strcasecmp(type, "float") == 0 || strcasecmp(type, "double") == 0)
        return CLS_FLOAT;
    return CLS_PLAIN;
}

/* Renders value token v for a column of class cls. */
int sl__mysql_put_value(MYSQL *mysql, sl_buf_t *b, const sl_jr_doc_t *doc,
                        uint32_t v, int cls, sl_buf_t *tmp, char *err,
                        size_t errlen) {
    size_t n;
    const char *raw;
    sl_jr_type_t t = sl_jr_type(doc, v);
    if (t == SL_JR_NULL)
        return sl_buf_append_str(b, "NULL");
    if (cls == CLS_JSON) {
        /* The JSON text of the value, quoted as a string literal. For a
         * string token the text includes its quotes. */
        raw = sl_jr_raw(doc, v, &n);
        if (t == SL_JR_STRING) {
            raw--;
            n += 2;
        }
        return sl__mysql_put_quoted(mysql, b, raw, n);
    }
    switch (t) {
    case SL_JR_TRUE:
        return sl_buf_append_str(b, cls == CLS_MJSON ? "'true'" : "1");
    case SL_JR_FALSE:
        return sl_buf_append_str(b, cls == CLS_MJSON ? "'false'" : "0");
    case SL_JR_NUMBER:
        raw = sl_jr_raw(doc, v, &n);
        return sl_buf_append(b, raw, n);
    case SL_JR_STRING:
        sl_buf_reset(tmp);
        if (sl_jr_unescape(doc, v, tmp) != 0)
            return SL_ENOMEM;
        return sl__mysql_put_quoted(mysql, b, (const char *)tmp->data,
                                    tmp->len);
    case SL_JR_OBJECT: {
        uint32_t b64 = sl_jr_get(doc, v, "base64");
        if (b64 != SL_JR_NONE && sl_jr_type(doc, b64) == SL_JR_STRING &&
            sl_jr_tok(doc, v)->count == 1) {
            raw = sl_jr_raw(doc, b64, &n);
            sl_buf_reset(tmp);
            if (sl_jr_base64_decode(tmp, raw, n) != 0) {
                snprintf(err, errlen, "bad base64 value");
                return SL_ECORRUPT;
            }
            return put_hex(b, tmp->data, tmp->len);
        }
        uint32_t wkb = sl_jr_get(doc, v, "wkb");
        uint32_t srid = sl_jr_get(doc, v, "srid");
        if (cls == CLS_GEOM && wkb != SL_JR_NONE && srid != SL_JR_NONE &&
            sl_jr_type(doc, wkb) == SL_JR_STRING &&
            sl_jr_type(doc, srid) == SL_JR_NUMBER) {
            uint64_t sr;
            if (sl_jr_u64(doc, srid, &sr) != 0 || sr > UINT32_MAX) {
                snprintf(err, errlen, "bad geometry srid");
                return SL_ECORRUPT;
            }
            raw = sl_jr_raw(doc, wkb, &n);
            for (size_t i = 0; i < n; i++)
                if (!((raw[i] >= '0' && raw[i] <= '9') ||
                      (raw[i] >= 'a' && raw[i] <= 'f') ||
                      (raw[i] >= 'A' && raw[i] <= 'F'))) {
                    snprintf(err, errlen, "bad geometry wkb hex");
                    return SL_ECORRUPT;
                }
            sl_buf_append_str(b, "ST_GeomFromWKB(X'");
            sl_buf_append(b, raw, n);
            sl_buf_printf(b, "',%llu)", (unsigned long long)sr);
            return sl_buf_error(b);
        }
        raw = sl_jr_raw(doc, v, &n);
        return sl__mysql_put_quoted(mysql, b, raw, n);
    }
    case SL_JR_ARRAY:
        raw = sl_jr_raw(doc, v, &n);
        return sl__mysql_put_quoted(mysql, b, raw, n);
    default: break;
    }
    snprintf(err, errlen, "value of type %s", sl_jr_type_name(t));
    return SL_ECORRUPT;
}

void sl__mysql_put_table(sl_buf_t *b, const tmeta_t *tm) {
    sl__mysql_put_ident(b, tm->dst_db);
    sl_buf_append_u8(b, '.');
    sl__mysql_put_ident(b, tm->table);
}

/* Reports key token k of doc as a column the target table lacks. */
static int no_column(const sl_jr_doc_t *doc, uint32_t k, const char *what,
                     char *err, size_t errlen) {
    size_t n;
    const char *raw = sl_jr_raw(doc, k, &n);
    snprintf(err, errlen, "%scolumn \"%.*s\" is not in the target table", what,
             (int)(n > 64 ? 64 : n), raw);
    return SL_ECORRUPT;
}

/* WHERE clause identifying the before image img; pk is the event's "pk"
 * member (SL_JR_NONE when absent). */
static int put_where(MYSQL *mysql, sl_buf_t *b, const sl_jr_doc_t *doc,
                     uint32_t pk, uint32_t img, const tmeta_t *tm,
                     sl_buf_t *tmp, char *err, size_t errlen) {
    sl_buf_append_str(b, " WHERE ");
    int first = 1, rc;
    /* 1: the event's primary key; 2: the target's unique key; 3: all. */
    int mode = 3;
    if (pk != SL_JR_NONE && sl_jr_type(doc, pk) == SL_JR_ARRAY &&
        sl_jr_tok(doc, pk)->count > 0) {
        mode = 1;
    } else if (tm->ukey != NULL) {
        mode = 2;
        for (size_t i = 0; i < tm->nukey; i++) {
            uint32_t v = sl_jr_get(doc, img, tm->ukey[i]);
            if (v == SL_JR_NONE || sl_jr_type(doc, v) == SL_JR_NULL)
                mode = 3;
        }
    }
    if (mode == 1) {
        uint32_t it = 0, k, e;
        while (sl_jr_next(doc, pk, &it, &k, &e)) {
            if (sl_jr_type(doc, e) != SL_JR_STRING) {
                snprintf(err, errlen, "pk lists a %s",
                         sl_jr_type_name(sl_jr_type(doc, e)));
                return SL_ECORRUPT;
            }
            int c = sl__mysql_find_col(tm, doc, e);
            if (c < 0)
                return no_column(doc, e, "primary-key ", err, errlen);
            uint32_t v = SL_JR_NONE, it2 = 0, k2, v2;
            while (sl_jr_next(doc, img, &it2, &k2, &v2))
                if (sl__mysql_find_col(tm, doc, k2) == c) {
                    v = v2;
                    break;
                }
            if (v == SL_JR_NONE) {
                snprintf(err, errlen,
                         "primary-key column \"%s\" is not in "
                         "the before image",
                         tm->cols[c].name);
                return SL_ECORRUPT;
            }
            if (!first)
                sl_buf_append_str(b, " AND ");
            first = 0;
            sl__mysql_put_ident(b, tm->cols[c].name);
            sl_buf_append_str(b,
                              sl_jr_type(doc, v) == SL_JR_NULL ? " IS " : "=");
            rc = sl__mysql_put_value(mysql, b, doc, v, tm->cols[c].cls, tmp,
                                     err, errlen);
            if (rc != 0)
                return rc;
        }
    } else if (mode == 2) {
        for (size_t i = 0; i < tm->nukey; i++) {
            uint32_t v = sl_jr_get(doc, img, tm->ukey[i]);
            int c = -1;
            for (size_t j = 0; j < tm->ncols; j++)
                if (strcmp(tm->cols[j].name, tm->ukey[i]) == 0)
                    c = (int)j;
            if (!first)
                sl_buf_append_str(b, " AND ");
            first = 0;
            sl__mysql_put_ident(b, tm->ukey[i]);
            sl_buf_append_str(b, "=");
            rc = sl__mysql_put_value(mysql, b, doc, v,
                                     c >= 0 ? tm->cols[c].cls : CLS_PLAIN, tmp,
                                     err, errlen);
            if (rc != 0)
                return rc;
        }
    } else {
        int any_nonfloat = 0;
        uint32_t it = 0, k, v;
        while (sl_jr_next(doc, img, &it, &k, &v)) {
            int c = sl__mysql_find_col(tm, doc, k);
            if (c >= 0 && tm->cols[c].cls != CLS_FLOAT)
                any_nonfloat = 1;
        }
        it = 0;
        while (sl_jr_next(doc, img, &it, &k, &v)) {
            int c = sl__mysql_find_col(tm, doc, k);
            if (c < 0)
                return no_column(doc, k, "", err, errlen);
            if (any_nonfloat && tm->cols[c].cls == CLS_FLOAT)
                continue;
            if (!first)
                sl_buf_append_str(b, " AND ");
            first = 0;
            sl__mysql_put_ident(b, tm->cols[c].name);
            sl_buf_append_str(b, "<=>");
            rc = sl__mysql_put_value(mysql, b, doc, v, tm->cols[c].cls, tmp,
                                     err, errlen);
            if (rc != 0)
                return rc;
        }
    }
    if (first) {
        snprintf(err, errlen, "the before image names no column");
        return SL_ECORRUPT;
    }
    sl_buf_append_str(b, " LIMIT 1");
    return sl_buf_error(b);
}

/* Appends `col`=value for every member of image img (an UPDATE's or an
 * INSERT ... SET's assignments); *n receives how many. */
static int put_set(MYSQL *mysql, sl_buf_t *b, const sl_jr_doc_t *doc,
                   uint32_t img, const tmeta_t *tm, sl_buf_t *tmp, char *err,
                   size_t errlen, size_t *n) {
    uint32_t it = 0, k, v;
    *n = 0;
    while (sl_jr_next(doc, img, &it, &k, &v)) {
        int c = sl__mysql_find_col(tm, doc, k);
        if (c < 0)
            return no_column(doc, k, "", err, errlen);
        if ((*n)++ > 0)
            sl_buf_append_u8(b, ',');
        sl__mysql_put_ident(b, tm->cols[c].name);
        sl_buf_append_u8(b, '=');
        int rc = sl__mysql_put_value(mysql, b, doc, v, tm->cols[c].cls, tmp,
                                     err, errlen);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Appends `col`=VALUES(`col`): an upsert's assignment of column name. */
static void put_assign_values(sl_buf_t *b, const char *name) {
    sl__mysql_put_ident(b, name);
    sl_buf_append_str(b, "=VALUES(");
    sl__mysql_put_ident(b, name);
    sl_buf_append_u8(b, ')');
}

/* Appends `col`=`col`: the no-op assignment after ON DUPLICATE KEY UPDATE
 * that leaves an existing row as it is (affected rows 0 tells a duplicate
 * apart). */
static void put_assign_self(sl_buf_t *b, const char *name) {
    sl__mysql_put_ident(b, name);
    sl_buf_append_u8(b, '=');
    sl__mysql_put_ident(b, name);
}

/* Builds the statement for row event ev of doc into b. *kind receives
 * ST_*. */
int sl__mysql_build_row(MYSQL *mysql, sl_buf_t *b, const sl_jr_doc_t *doc,
                        const sl_event_t *ev, const tmeta_t *tm,
                        sl_drift_t drift, int *kind, sl_buf_t *tmp, char *err,
                        size_t errlen) {
    uint32_t before = ev->before, after = ev->after;
    if (ev->op == SL_JR_NONE || before == SL_JR_NONE || after == SL_JR_NONE) {
        snprintf(err, errlen, "row event without op, before or after");
        return SL_ECORRUPT;
    }
    if (ev->positional != SL_JR_NONE) {
        snprintf(err, errlen,
                 "row event without column names (set "
                 "binlog_row_metadata=FULL on the source)");
        return SL_ECORRUPT;
    }
    int is_ins = ev->op_id == SL_OP_INSERT || ev->op_id == SL_OP_READ;
    int is_upd = ev->op_id == SL_OP_UPDATE;
    int is_del = ev->op_id == SL_OP_DELETE;
    if ((is_ins || is_upd) && sl_jr_type(doc, after) != SL_JR_OBJECT) {
        snprintf(err, errlen, "%s without an after image",
                 ev->op_id == SL_OP_READ ? "read"
                 : is_ins                ? "insert"
                                         : "update");
        return SL_ECORRUPT;
    }
    if ((is_del || is_upd) && sl_jr_type(doc, before) != SL_JR_OBJECT) {
        snprintf(err, errlen, "%s without a before image",
                 is_del ? "delete" : "update");
        return SL_ECORRUPT;
    }
    int rc;
    uint32_t it = 0, k, v;
    switch (ev->op_id) {
    case SL_OP_READ:
        /* A snapshot row: an upsert of every column, whatever the drift
         * policy (the row may exist: the stream inserted it first). */
        drift = SL_DRIFT_OVERWRITE;
        /* fall through */
    case SL_OP_INSERT: {
        *kind = ev->op_id == SL_OP_READ ? ST_READ : ST_INSERT;
        sl_buf_append_str(b, "INSERT INTO ");
        sl__mysql_put_table(b, tm);
        sl_buf_append_str(b, " (");
        int cidx[4096];
        size_t nc = 0;
        while (sl_jr_next(doc, after, &it, &k, &v)) {
            int c = sl__mysql_find_col(tm, doc, k);
            if (c < 0)
                return no_column(doc, k, "", err, errlen);
            if (nc >= sizeof cidx / sizeof cidx[0]) {
                snprintf(err, errlen, "more than 4096 columns");
                return SL_ECORRUPT;
            }
            if (nc > 0)
                sl_buf_append_u8(b, ',');
            cidx[nc++] = c;
            sl__mysql_put_ident(b, tm->cols[c].name);
        }
        if (nc == 0) {
            snprintf(err, errlen, "insert with an empty after image");
            return SL_ECORRUPT;
        }
        sl_buf_append_str(b, ") VALUES (");
        it = 0;
        size_t i = 0;
        while (sl_jr_next(doc, after, &it, &k, &v)) {
            if (i > 0)
                sl_buf_append_u8(b, ',');
            rc = sl__mysql_put_value(mysql, b, doc, v, tm->cols[cidx[i]].cls,
                                     tmp, err, errlen);
            if (rc != 0)
                return rc;
            i++;
        }
        sl_buf_append_str(b, ") ON DUPLICATE KEY UPDATE ");
        if (drift == SL_DRIFT_OVERWRITE) {
            for (i = 0; i < nc; i++) {
                if (i > 0)
                    sl_buf_append_u8(b, ',');
                put_assign_values(b, tm->cols[cidx[i]].name);
            }
        } else {
            put_assign_self(b, tm->cols[cidx[0]].name);
        }
        return sl_buf_error(b);
    }
    case SL_OP_UPDATE: {
        *kind = ST_UPDATE;
        sl_buf_append_str(b, "UPDATE ");
        sl__mysql_put_table(b, tm);
        sl_buf_append_str(b, " SET ");
        size_t n;
        rc = put_set(mysql, b, doc, after, tm, tmp, err, errlen, &n);
        if (rc != 0)
            return rc;
        if (n == 0) {
            snprintf(err, errlen, "update with an empty after image");
            return SL_ECORRUPT;
        }
        return put_where(mysql, b, doc, ev->pk, before, tm, tmp, err, errlen);
    }
    case SL_OP_DELETE:
        *kind = ST_DELETE;
        sl_buf_append_str(b, "DELETE FROM ");
        sl__mysql_put_table(b, tm);
        return put_where(mysql, b, doc, ev->pk, before, tm, tmp, err, errlen);
    default: break;
    }
    snprintf(err, errlen, "unknown op");
    return SL_ECORRUPT;
}

/* The INSERT of the after image used when an update finds no row and the
 * policy is overwrite. */
int sl__mysql_build_upsert_after(MYSQL *mysql, sl_buf_t *b,
                                 const sl_jr_doc_t *doc, const sl_event_t *ev,
                                 const tmeta_t *tm, sl_buf_t *tmp, char *err,
                                 size_t errlen) {
    sl_buf_append_str(b, "INSERT INTO ");
    sl__mysql_put_table(b, tm);
    sl_buf_append_str(b, " SET ");
    size_t n;
    int rc = put_set(mysql, b, doc, ev->after, tm, tmp, err, errlen, &n);
    return rc != 0 ? rc : sl_buf_error(b);
}

/* The head of a (multi-row) INSERT into tm of columns cols[0..n), up to
 * and including its VALUES keyword. */
void sl__mysql_put_insert_head(sl_buf_t *b, const tmeta_t *tm, const int *cols,
                               size_t n) {
    sl_buf_append_str(b, "INSERT INTO ");
    sl__mysql_put_table(b, tm);
    sl_buf_append_str(b, " (");
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            sl_buf_append_u8(b, ',');
        sl__mysql_put_ident(b, tm->cols[cols[i]].name);
    }
    sl_buf_append_str(b, ") VALUES ");
}

/* The ON DUPLICATE KEY UPDATE tail of a merged insert or upsert: all
 * columns for upserts and the overwrite policy, else a no-op assignment
 * (the affected-row count then tells which rows existed). */
void sl__mysql_put_upsert_tail(sl_buf_t *b, const tmeta_t *tm, int kind,
                               sl_drift_t drift, const int *cols, size_t n) {
    sl_buf_append_str(b, " ON DUPLICATE KEY UPDATE ");
    if (drift == SL_DRIFT_OVERWRITE || kind == ST_UPSERT || kind == ST_READ) {
        for (size_t i = 0; i < n; i++) {
            if (i > 0)
                sl_buf_append_u8(b, ',');
            put_assign_values(b, tm->cols[cols[i]].name);
        }
    } else {
        put_assign_self(b, tm->cols[cols[0]].name);
    }
}

int sl_mysql_build_sql(const char *json, size_t len, const char *dst_db,
                       const char *const *cols, const char *const *types,
                       size_t ncols, const char *const *ukey, size_t nukey,
                       sl_drift_t drift, char **out, char *err, size_t errlen) {
    sl_jr_doc_t doc;
    sl_jr_init(&doc);
    int rc = sl_jr_parse(&doc, json, len);
    if (rc != 0) {
        snprintf(err, errlen, "bad JSON at byte %zu: %s", doc.err_pos, doc.err);
        sl_jr_free(&doc);
        return rc;
    }
    tmeta_t tm;
    memset(&tm, 0, sizeof tm);
    sl_buf_t tname = SL_BUF_INIT, b = SL_BUF_INIT, tmp = SL_BUF_INIT;
    uint32_t t = sl_jr_get(&doc, 0, "table");
    if (t == SL_JR_NONE || sl_jr_unescape(&doc, t, &tname) != 0 ||
        sl_buf_append_u8(&tname, 0) != 0) {
        snprintf(err, errlen, "no table");
        rc = SL_ECORRUPT;
        goto out;
    }
    tm.table = (char *)tname.data;
    tm.dst_db = (char *)dst_db;
    tm.ncols = ncols;
    tm.cols = calloc(ncols ? ncols : 1, sizeof *tm.cols);
    if (tm.cols == NULL) {
        rc = SL_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < ncols; i++) {
        tm.cols[i].name = (char *)cols[i];
        tm.cols[i].len = strlen(cols[i]);
        tm.cols[i].cls = sl__mysql_classify(types[i]);
    }
    tm.ukey = (char **)ukey;
    tm.nukey = nukey;
    sl_event_t ev;
    sl_event_index(&doc, &ev);
    int kind;
    rc = sl__mysql_build_row(NULL, &b, &doc, &ev, &tm, drift, &kind, &tmp, err,
                             errlen);
    if (rc == 0) {
        sl_buf_append_u8(&b, 0);
        rc = sl_buf_error(&b);
    }
    if (rc == 0) {
        size_t n;
        *out = (char *)sl_buf_detach(&b, &n);
    }
out:
    free(tm.cols);
    sl_buf_free(&tname);
    sl_buf_free(&b);
    sl_buf_free(&tmp);
    sl_jr_free(&doc);
    return rc;
}

/* Appends the escaped literal of a C string to b. A failure is recorded
 * as b's sticky error like any failed append, so that queries built from
 * names (never from event values) check once at the end. */
int sl__mysql_lit(sl_mysql_sink_t *s, sl_buf_t *b, const char *str) {
    int rc = sl__mysql_put_quoted(s->mysql, b, str, strlen(str));
    return rc != 0 ? sl_buf_fail(b, rc) : 0;
}
