/*
 * The MySQL/MariaDB sink (contract in apply/sink_mysql.h, user view in
 * docs/apply.md).
 *
 * Statements are plain SQL text built with mysql_real_escape_string()
 * (values) and backquoted identifiers (doubled backquotes), sent many per
 * round trip as one multi-statement query; each statement's outcome
 * (affected rows, or "Rows matched" from mysql_info() for UPDATE) is read
 * back in order, so drift is detected per row. On MariaDB, long runs of
 * merged upserts go instead as one bulk execution of a prepared statement
 * (COM_STMT_BULK_EXECUTE, parameters bound as strings or, for binary
 * columns, bytes), started with the non-blocking API so it runs while the
 * next batch is built; it is checked by its total like a merged statement.
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
 *
 * The session runs with sql_mode STRICT_ALL_TABLES (no silent truncation)
 * plus NO_AUTO_VALUE_ON_ZERO (an id of 0 stays 0), time_zone '+00:00'
 * (capture renders TIMESTAMP values in UTC), utf8mb4, and
 * foreign_key_checks=0: partitions are applied independently, so a child
 * row may legitimately arrive before its parent.
 */
#include "apply/sink_mysql.h"

#include "backoff.h"
#include "apply/event.h"
#include "buf.h"
#include "clock.h"
#include "error.h"
#include "jsonread.h"
#include "log.h"
#include "parse.h"

#include <errmsg.h>
#include <errno.h>
#include <mysql.h>
#include <mysqld_error.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char sl_mysql_offsets_ddl[] =
    "CREATE TABLE IF NOT EXISTS sluice_offsets (\n"
    "  group_name VARCHAR(128) NOT NULL,\n"
    "  topic VARCHAR(128) NOT NULL,\n"
    "  part VARCHAR(255) NOT NULL,\n"
    "  next_offset BIGINT UNSIGNED NOT NULL,\n"
    "  trx_applied BIGINT UNSIGNED NOT NULL DEFAULT 0,\n"
    "  rows_applied BIGINT UNSIGNED NOT NULL DEFAULT 0,\n"
    "  last_trx VARCHAR(255) NOT NULL DEFAULT '',\n"
    "  updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),\n"
    "  PRIMARY KEY (group_name, topic, part)\n"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4";

/* CLS_NUMTEXT: BIT, ENUM and SET, where a number and its text differ (an
 * index or a bit value against a name or bytes): rendered as CLS_PLAIN in
 * SQL text, never bound as a string. */
/* CLS_MJSON: a MariaDB JSON column (LONGTEXT with a json_valid() CHECK):
 * as CLS_PLAIN, except that true and false are written as JSON text, not
 * as 1 and 0. */
enum {
    CLS_PLAIN,
    CLS_BINARY,
    CLS_JSON,
    CLS_GEOM,
    CLS_FLOAT,
    CLS_NUMTEXT,
    CLS_MJSON
};

typedef struct {
    char *name;
    size_t len; /* strlen(name). */
    int cls;
} col_t;

typedef struct {
    char *src_db;
    char *table;
    char *dst_db;
    size_t src_db_len, table_len; /* strlen() of src_db and table. */
    col_t *cols;
    size_t ncols;
    char **ukey; /* First unique key (PRIMARY first), or NULL. */
    size_t nukey;
    int pk_only; /* The primary key is the table's only unique index. */
    int missing; /* The target table does not exist. */
} tmeta_t;

/* ST_UPSERT: updates that keep their primary key, merged into one
 * INSERT ... ON DUPLICATE KEY UPDATE (only for tables whose sole unique
 * index is the primary key, so the duplicate can only be that row). */
enum { ST_INSERT, ST_UPDATE, ST_DELETE, ST_UPSERT };

typedef struct {
    uint64_t offset;  /* Of the first row of the statement. */
    uint64_t row;
    int kind;
    tmeta_t *tm;
    size_t sql_start;
    uint64_t nrows;   /* Rows merged into it (multi-row INSERT/DELETE). */
} stmt_t;

#define MAX_MERGE_COLS 1024

/* Runs shorter than this stay SQL text: a bulk execution is a round trip
 * of its own, which only pays for itself over many rows. */
#define BULK_MIN 16

/* A prepared INSERT ... ON DUPLICATE KEY UPDATE for one table, kind
 * (ST_INSERT or ST_UPSERT) and column list. */
typedef struct {
    tmeta_t *tm;
    int kind;
    int *cols;
    size_t ncols;
    MYSQL_STMT *stmt;
} pstmt_t;

/* The values of a run, row by row: value (row r, column c) is the
 * len[r * ncols + c] bytes at data + off[r * ncols + c], or NULL when
 * ind[..] says so; cap is the slots allocated. bulk_emit() lays them out
 * column by column for binding. */
typedef struct {
    int state;        /* 0 none, 1 staged beside the text, 2 bulk only. */
    tmeta_t *tm;
    int kind;
    size_t ncols;
    size_t nrows, cap;
    sl_buf_t data;
    size_t *off;
    unsigned long *len;
    char *ind;
    char **ptrs;      /* Filled just before binding. */
    uint64_t offset, row; /* Of the first row. */
} bulk_t;

struct sl_mysql_sink_s {
    sl_mysql_opts_t opts;
    char *password;
    sl_dbmap_t *maps;
    char *group, *topic, *part;
    MYSQL *mysql;
    sl_backoff_t bo;
    sl_jr_doc_t doc;
    sl_buf_t sql;     /* The pending statements, ';'-separated. */
    stmt_t *stmts;
    size_t nstmts, capstmts;
    /* The batch sent and not yet read back (one at most): the server
     * executes it while the next one is built. */
    stmt_t *stmts_if;
    size_t nstmts_if, capstmts_if;
    int inflight;
    sl_buf_t tmp, tmp2;
    tmeta_t **tables; /* Each owned; stable while pointed at. */
    size_t ntables;
    int in_group;
    int careful;      /* This group runs one statement per round trip. */
    int want_careful; /* The next group must. */
    uint64_t group_rows, group_ins, group_upd, group_del, group_drift;
    /* The last statement of the batch, while more rows may be merged into
     * it: ST_INSERT (its ON DUPLICATE KEY tail not yet written) or
     * ST_DELETE (its closing parenthesis not yet written); -1 for none. */
    int open_kind;
    tmeta_t *open_tm;
    int open_cols[MAX_MERGE_COLS];
    size_t nopen_cols;
    /* Bulk execution (MariaDB's COM_STMT_BULK_EXECUTE): a long run of
     * merged upserts is sent as one prepared statement with arrays of
     * parameters instead of SQL text, which the server neither lexes nor
     * parses. bulk_server: the target supports it (and --bulk is on). */
    int bulk_server;
    int mariadb;      /* The target is MariaDB (JSON columns are LONGTEXT). */
    bulk_t bk;        /* The run being collected (text and bulk at once
                       * until it has BULK_MIN rows, then bulk only). */
    pstmt_t *pstmts;  /* Prepared upserts of this connection. */
    size_t npstmts;
    /* The bulk execution in flight (inflight == 2), its statement and the
     * status the non-blocking API waits for. */
    pstmt_t *bulk_if;
    stmt_t bulk_st;
    int bulk_status;
    int bulk_ret;
    uint64_t failed_offset; /* UINT64_MAX when the last error names none. */
    int failed_drift;       /* The error is a drift with policy stop. */
    char err[1024];
    sl_mysql_stats_t stats;
};

static int complete(sl_mysql_sink_t *s);

/* ---- small helpers ------------------------------------------------------ */

static int seterr(sl_mysql_sink_t *s, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int seterr(sl_mysql_sink_t *s, int rc, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->err, sizeof s->err, fmt, ap);
    va_end(ap);
    return rc;
}

int sl_drift_parse(const char *text, sl_drift_t *drift) {
    if (strcmp(text, "overwrite") == 0)
        *drift = SL_DRIFT_OVERWRITE;
    else if (strcmp(text, "skip") == 0)
        *drift = SL_DRIFT_SKIP;
    else if (strcmp(text, "stop") == 0)
        *drift = SL_DRIFT_STOP;
    else
        return SL_EINVAL;
    return 0;
}

int sl_mysql_url_parse(const char *text, sl_mysql_url_t *url) {
    memset(url, 0, sizeof *url);
    if (strncmp(text, "mysql://", 8) != 0)
        return SL_EINVAL;
    const char *p = text + 8;
    const char *at = strchr(p, '@');
    const char *slash = strchr(p, '/');
    if (at == NULL || at == p || (slash != NULL && slash < at))
        return SL_EINVAL;
    if (memchr(p, ':', (size_t)(at - p)) != NULL)
        return SL_EINVAL; /* No password in URLs: use a file or env. */
    if ((size_t)(at - p) >= sizeof url->user)
        return SL_EINVAL;
    memcpy(url->user, p, (size_t)(at - p));
    const char *h = at + 1;
    if (slash == NULL || slash[1] == '\0' || strchr(slash + 1, '/') ||
        strlen(slash + 1) >= sizeof url->db)
        return SL_EINVAL;
    strcpy(url->db, slash + 1);
    char hp[300];
    size_t hl = (size_t)(slash - h);
    if (hl == 0 || hl >= sizeof hp)
        return SL_EINVAL;
    memcpy(hp, h, hl);
    hp[hl] = '\0';
    if (strchr(hp, ':') == NULL || hp[0] == '[') {
        if (hp[0] == '[')
            return sl_parse_hostport(hp, url->host, sizeof url->host,
                                     &url->port);
        if (hl >= sizeof url->host)
            return SL_EINVAL;
        strcpy(url->host, hp);
        url->port = 3306;
        return 0;
    }
    return sl_parse_hostport(hp, url->host, sizeof url->host, &url->port);
}

static int put(sl_buf_t *b, const char *s) { return sl_buf_append_str(b, s); }

static int put_ident(sl_buf_t *b, const char *name) {
    int rc = sl_buf_append_u8(b, '`');
    for (const char *p = name; *p && rc == 0; p++) {
        if (*p == '`')
            rc = sl_buf_append_u8(b, '`');
        if (rc == 0)
            rc = sl_buf_append_u8(b, (uint8_t)*p);
    }
    return rc ? rc : sl_buf_append_u8(b, '`');
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
static int put_quoted(MYSQL *mysql, sl_buf_t *b, const char *s, size_t n) {
    if (sl_buf_reserve(b, 2 * n + 3) != 0)
        return SL_ENOMEM;
    b->data[b->len++] = '\'';
    unsigned long w = mysql ? mysql_real_escape_string(
                                  mysql, (char *)b->data + b->len, s,
                                  (unsigned long)n)
                            : (unsigned long)escape_utf8(
                                  (char *)b->data + b->len, s, n);
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

static int classify(const char *type) {
    static const char *const bin[] = {"binary", "varbinary", "tinyblob",
                                      "blob", "mediumblob", "longblob"};
    static const char *const geom[] = {
        "geometry", "point", "linestring", "polygon", "multipoint",
        "multilinestring", "multipolygon", "geometrycollection"};
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
static int put_value(MYSQL *mysql, sl_buf_t *b, const sl_jr_doc_t *doc,
                     uint32_t v, int cls, sl_buf_t *tmp, char *err,
                     size_t errlen) {
    size_t n;
    const char *raw;
    sl_jr_type_t t = sl_jr_type(doc, v);
    if (t == SL_JR_NULL)
        return put(b, "NULL");
    if (cls == CLS_JSON) {
        /* The JSON text of the value, quoted as a string literal. For a
         * string token the text includes its quotes. */
        raw = sl_jr_raw(doc, v, &n);
        if (t == SL_JR_STRING) {
            raw--;
            n += 2;
        }
        return put_quoted(mysql, b, raw, n);
    }
    switch (t) {
    case SL_JR_TRUE:
        return put(b, cls == CLS_MJSON ? "'true'" : "1");
    case SL_JR_FALSE:
        return put(b, cls == CLS_MJSON ? "'false'" : "0");
    case SL_JR_NUMBER:
        raw = sl_jr_raw(doc, v, &n);
        return sl_buf_append(b, raw, n);
    case SL_JR_STRING:
        sl_buf_reset(tmp);
        if (sl_jr_unescape(doc, v, tmp) != 0)
            return SL_ENOMEM;
        return put_quoted(mysql, b, (const char *)tmp->data, tmp->len);
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
            int rc = put(b, "ST_GeomFromWKB(X'");
            rc = rc ? rc : sl_buf_append(b, raw, n);
            rc = rc ? rc : sl_buf_printf(b, "',%llu)", (unsigned long long)sr);
            return rc;
        }
        raw = sl_jr_raw(doc, v, &n);
        return put_quoted(mysql, b, raw, n);
    }
    case SL_JR_ARRAY:
        raw = sl_jr_raw(doc, v, &n);
        return put_quoted(mysql, b, raw, n);
    default:
        break;
    }
    snprintf(err, errlen, "value of type %s", sl_jr_type_name(t));
    return SL_ECORRUPT;
}

/* 1 when key token k names column i of tm. */
static inline int col_is(const tmeta_t *tm, size_t i, const sl_jr_doc_t *doc,
                         uint32_t k) {
    const sl_jr_tok_t *t = sl_jr_tok(doc, k);
    if (t->escaped)
        return sl_jr_str_eq(doc, k, tm->cols[i].name, tm->cols[i].len);
    return t->len == tm->cols[i].len &&
           memcmp(tm->cols[i].name, doc->text + t->start, t->len) == 0;
}

/* The column of tm named by key token k, or -1. */
static int find_col(const tmeta_t *tm, const sl_jr_doc_t *doc, uint32_t k) {
    for (size_t i = 0; i < tm->ncols; i++)
        if (col_is(tm, i, doc, k))
            return (int)i;
    return -1;
}

/* find_col() for the key at position hint of an image: images list their
 * columns in table order, so with a full image that column is the one. */
static inline int find_col_at(const tmeta_t *tm, const sl_jr_doc_t *doc,
                              uint32_t k, size_t hint) {
    if (hint < tm->ncols && col_is(tm, hint, doc, k))
        return (int)hint;
    return find_col(tm, doc, k);
}

static int put_table(sl_buf_t *b, const tmeta_t *tm) {
    int rc = put_ident(b, tm->dst_db);
    rc = rc ? rc : sl_buf_append_u8(b, '.');
    return rc ? rc : put_ident(b, tm->table);
}

/* WHERE clause identifying the before image. */
static int put_where(MYSQL *mysql, sl_buf_t *b, const sl_jr_doc_t *doc,
                     uint32_t root, uint32_t img, const tmeta_t *tm,
                     sl_buf_t *tmp, char *err, size_t errlen) {
    int rc = put(b, " WHERE ");
    int first = 1;
    uint32_t pk = sl_jr_get(doc, root, "pk");
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
        while (rc == 0 && sl_jr_next(doc, pk, &it, &k, &e)) {
            if (sl_jr_type(doc, e) != SL_JR_STRING) {
                snprintf(err, errlen, "pk lists a %s",
                         sl_jr_type_name(sl_jr_type(doc, e)));
                return SL_ECORRUPT;
            }
            int c = find_col(tm, doc, e);
            size_t n;
            const char *raw = sl_jr_raw(doc, e, &n);
            if (c < 0) {
                snprintf(err, errlen, "primary-key column \"%.*s\" is not in "
                         "the target table", (int)(n > 64 ? 64 : n), raw);
                return SL_ECORRUPT;
            }
            uint32_t v = SL_JR_NONE, it2 = 0, k2, v2;
            while (sl_jr_next(doc, img, &it2, &k2, &v2))
                if (find_col(tm, doc, k2) == c) {
                    v = v2;
                    break;
                }
            if (v == SL_JR_NONE) {
                snprintf(err, errlen, "primary-key column \"%s\" is not in "
                         "the before image", tm->cols[c].name);
                return SL_ECORRUPT;
            }
            if (!first)
                rc = put(b, " AND ");
            first = 0;
            rc = rc ? rc : put_ident(b, tm->cols[c].name);
            rc = rc ? rc : put(b, sl_jr_type(doc, v) == SL_JR_NULL ? " IS " : "=");
            rc = rc ? rc : put_value(mysql, b, doc, v, tm->cols[c].cls, tmp,
                                     err, errlen);
        }
    } else if (mode == 2) {
        for (size_t i = 0; i < tm->nukey && rc == 0; i++) {
            uint32_t v = sl_jr_get(doc, img, tm->ukey[i]);
            int c = -1;
            for (size_t j = 0; j < tm->ncols; j++)
                if (strcmp(tm->cols[j].name, tm->ukey[i]) == 0)
                    c = (int)j;
            if (!first)
                rc = put(b, " AND ");
            first = 0;
            rc = rc ? rc : put_ident(b, tm->ukey[i]);
            rc = rc ? rc : put(b, "=");
            rc = rc ? rc : put_value(mysql, b, doc, v,
                                     c >= 0 ? tm->cols[c].cls : CLS_PLAIN, tmp,
                                     err, errlen);
        }
    } else {
        int any_nonfloat = 0;
        uint32_t it = 0, k, v;
        while (sl_jr_next(doc, img, &it, &k, &v)) {
            int c = find_col(tm, doc, k);
            if (c >= 0 && tm->cols[c].cls != CLS_FLOAT)
                any_nonfloat = 1;
        }
        it = 0;
        while (rc == 0 && sl_jr_next(doc, img, &it, &k, &v)) {
            int c = find_col(tm, doc, k);
            if (c < 0) {
                size_t n;
                const char *raw = sl_jr_raw(doc, k, &n);
                snprintf(err, errlen, "column \"%.*s\" is not in the target "
                         "table", (int)(n > 64 ? 64 : n), raw);
                return SL_ECORRUPT;
            }
            if (any_nonfloat && tm->cols[c].cls == CLS_FLOAT)
                continue;
            if (!first)
                rc = put(b, " AND ");
            first = 0;
            rc = rc ? rc : put_ident(b, tm->cols[c].name);
            rc = rc ? rc : put(b, "<=>");
            rc = rc ? rc : put_value(mysql, b, doc, v, tm->cols[c].cls, tmp,
                                     err, errlen);
        }
    }
    if (rc == 0 && first) {
        snprintf(err, errlen, "the before image names no column");
        return SL_ECORRUPT;
    }
    return rc ? rc : put(b, " LIMIT 1");
}

/* Builds the statement for row event root (a parsed "row" event) into b.
 * *kind receives ST_*. */
static int build_row(MYSQL *mysql, sl_buf_t *b, const sl_jr_doc_t *doc,
                     const tmeta_t *tm, sl_drift_t drift, int *kind,
                     sl_buf_t *tmp, char *err, size_t errlen) {
    uint32_t op = sl_jr_get(doc, 0, "op");
    uint32_t before = sl_jr_get(doc, 0, "before");
    uint32_t after = sl_jr_get(doc, 0, "after");
    if (op == SL_JR_NONE || before == SL_JR_NONE || after == SL_JR_NONE) {
        snprintf(err, errlen, "row event without op, before or after");
        return SL_ECORRUPT;
    }
    if (sl_jr_get(doc, 0, "positional") != SL_JR_NONE) {
        snprintf(err, errlen, "row event without column names (set "
                 "binlog_row_metadata=FULL on the source)");
        return SL_ECORRUPT;
    }
    int is_ins = sl_jr_str_eq(doc, op, "insert", 6);
    int is_upd = sl_jr_str_eq(doc, op, "update", 6);
    int is_del = sl_jr_str_eq(doc, op, "delete", 6);
    if ((is_ins || is_upd) && sl_jr_type(doc, after) != SL_JR_OBJECT) {
        snprintf(err, errlen, "%s without an after image",
                 is_ins ? "insert" : "update");
        return SL_ECORRUPT;
    }
    if ((is_del || is_upd) && sl_jr_type(doc, before) != SL_JR_OBJECT) {
        snprintf(err, errlen, "%s without a before image",
                 is_del ? "delete" : "update");
        return SL_ECORRUPT;
    }
    int rc = 0;
    uint32_t it = 0, k, v;
    if (is_ins) {
        *kind = ST_INSERT;
        rc = put(b, "INSERT INTO ");
        rc = rc ? rc : put_table(b, tm);
        rc = rc ? rc : put(b, " (");
        int first = 1;
        int cidx[4096];
        size_t nc = 0;
        while (rc == 0 && sl_jr_next(doc, after, &it, &k, &v)) {
            int c = find_col(tm, doc, k);
            if (c < 0) {
                size_t n;
                const char *raw = sl_jr_raw(doc, k, &n);
                snprintf(err, errlen, "column \"%.*s\" is not in the target "
                         "table", (int)(n > 64 ? 64 : n), raw);
                return SL_ECORRUPT;
            }
            if (nc >= sizeof cidx / sizeof cidx[0]) {
                snprintf(err, errlen, "more than 4096 columns");
                return SL_ECORRUPT;
            }
            cidx[nc++] = c;
            if (!first)
                rc = sl_buf_append_u8(b, ',');
            first = 0;
            rc = rc ? rc : put_ident(b, tm->cols[c].name);
        }
        if (nc == 0) {
            snprintf(err, errlen, "insert with an empty after image");
            return SL_ECORRUPT;
        }
        rc = rc ? rc : put(b, ") VALUES (");
        it = 0;
        size_t i = 0;
        while (rc == 0 && sl_jr_next(doc, after, &it, &k, &v)) {
            if (i > 0)
                rc = sl_buf_append_u8(b, ',');
            rc = rc ? rc : put_value(mysql, b, doc, v, tm->cols[cidx[i]].cls,
                                     tmp, err, errlen);
            i++;
        }
        rc = rc ? rc : put(b, ") ON DUPLICATE KEY UPDATE ");
        if (drift == SL_DRIFT_OVERWRITE) {
            for (i = 0; i < nc && rc == 0; i++) {
                if (i > 0)
                    rc = sl_buf_append_u8(b, ',');
                rc = rc ? rc : put_ident(b, tm->cols[cidx[i]].name);
                rc = rc ? rc : put(b, "=VALUES(");
                rc = rc ? rc : put_ident(b, tm->cols[cidx[i]].name);
                rc = rc ? rc : sl_buf_append_u8(b, ')');
            }
        } else {
            /* A no-op update: affected rows 0 tells a duplicate apart. */
            rc = rc ? rc : put_ident(b, tm->cols[cidx[0]].name);
            rc = rc ? rc : sl_buf_append_u8(b, '=');
            rc = rc ? rc : put_ident(b, tm->cols[cidx[0]].name);
        }
        return rc;
    }
    if (is_upd) {
        *kind = ST_UPDATE;
        rc = put(b, "UPDATE ");
        rc = rc ? rc : put_table(b, tm);
        rc = rc ? rc : put(b, " SET ");
        int first = 1;
        while (rc == 0 && sl_jr_next(doc, after, &it, &k, &v)) {
            int c = find_col(tm, doc, k);
            if (c < 0) {
                size_t n;
                const char *raw = sl_jr_raw(doc, k, &n);
                snprintf(err, errlen, "column \"%.*s\" is not in the target "
                         "table", (int)(n > 64 ? 64 : n), raw);
                return SL_ECORRUPT;
            }
            if (!first)
                rc = sl_buf_append_u8(b, ',');
            first = 0;
            rc = rc ? rc : put_ident(b, tm->cols[c].name);
            rc = rc ? rc : sl_buf_append_u8(b, '=');
            rc = rc ? rc : put_value(mysql, b, doc, v, tm->cols[c].cls, tmp,
                                     err, errlen);
        }
        if (first) {
            snprintf(err, errlen, "update with an empty after image");
            return SL_ECORRUPT;
        }
        return rc ? rc : put_where(mysql, b, doc, 0, before, tm, tmp, err,
                                   errlen);
    }
    if (is_del) {
        *kind = ST_DELETE;
        rc = put(b, "DELETE FROM ");
        rc = rc ? rc : put_table(b, tm);
        return rc ? rc : put_where(mysql, b, doc, 0, before, tm, tmp, err,
                                   errlen);
    }
    snprintf(err, errlen, "unknown op");
    return SL_ECORRUPT;
}

/* The INSERT of the after image used when an update finds no row and the
 * policy is overwrite. */
static int build_upsert_after(MYSQL *mysql, sl_buf_t *b,
                              const sl_jr_doc_t *doc, const tmeta_t *tm,
                              sl_buf_t *tmp, char *err, size_t errlen) {
    int rc = put(b, "INSERT INTO ");
    rc = rc ? rc : put_table(b, tm);
    rc = rc ? rc : put(b, " SET ");
    uint32_t after = sl_jr_get(doc, 0, "after"), it = 0, k, v;
    int first = 1;
    while (rc == 0 && sl_jr_next(doc, after, &it, &k, &v)) {
        int c = find_col(tm, doc, k);
        if (c < 0)
            return SL_ECORRUPT;
        if (!first)
            rc = sl_buf_append_u8(b, ',');
        first = 0;
        rc = rc ? rc : put_ident(b, tm->cols[c].name);
        rc = rc ? rc : sl_buf_append_u8(b, '=');
        rc = rc ? rc : put_value(mysql, b, doc, v, tm->cols[c].cls, tmp, err,
                                 errlen);
    }
    return rc;
}

static const char *dst_db_for(const sl_mysql_sink_t *s, const char *src) {
    for (size_t i = 0; i < s->opts.nmaps; i++)
        if (strcmp(s->maps[i].src, src) == 0)
            return s->maps[i].dst;
    return src;
}

int sl_mysql_build_sql(const char *json, size_t len, const char *dst_db,
                       const char *const *cols, const char *const *types,
                       size_t ncols, const char *const *ukey, size_t nukey,
                       sl_drift_t drift, char **out, char *err,
                       size_t errlen) {
    sl_jr_doc_t doc;
    sl_jr_init(&doc);
    int rc = sl_jr_parse(&doc, json, len);
    if (rc != 0) {
        snprintf(err, errlen, "bad JSON at byte %zu: %s", doc.err_pos,
                 doc.err);
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
        tm.cols[i].cls = classify(types[i]);
    }
    tm.ukey = (char **)ukey;
    tm.nukey = nukey;
    int kind;
    rc = build_row(NULL, &b, &doc, &tm, drift, &kind, &tmp, err, errlen);
    if (rc == 0)
        rc = sl_buf_append_u8(&b, 0);
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

/* ---- connection ------------------------------------------------------- */

/* The operating-system errno a server message carries, for the errors
 * that wrap one: 3 "Error writing file '...' (Errcode: 28 ...)", 1026 and
 * 1004/1005 "... (errno: 28 ...)", 1030 "Got error 28 \"No space left on
 * device\" from storage engine InnoDB", 1180/1181 "Got error 28 ... during
 * COMMIT". The last marker counts: a file name quoted before it cannot
 * pose as the errno. -1 when there is none. */
static long msg_errno(const char *msg) {
    static const char *const marks[] = {"Errcode: ", "errno: ", "Got error "};
    if (msg == NULL)
        return -1;
    for (size_t i = 0; i < sizeof marks / sizeof marks[0]; i++) {
        const char *p = NULL;
        for (const char *q = strstr(msg, marks[i]); q != NULL;
             q = strstr(q + 1, marks[i]))
            p = q;
        if (p == NULL)
            continue;
        p += strlen(marks[i]);
        if (*p < '0' || *p > '9')
            continue;
        long v = 0;
        while (*p >= '0' && *p <= '9' && v < 100000)
            v = v * 10 + (*p++ - '0');
        return v;
    }
    return -1;
}

/* Errnos inside a wrapped error that say the target lacks room or memory,
 * or holds a damaged table an operator repairs: 28 ENOSPC, 122 EDQUOT,
 * 12 ENOMEM, and the storage engines' 126 (index crashed), 127 (record
 * file crashed), 134 (record deleted), 135/136 (record or index file
 * full). */
static int errno_transient(long en) {
    return en == 28 || en == 122 || en == 12 || en == 126 || en == 127 ||
           en == 134 || en == 135 || en == 136;
}

/*
 * Whether error e (with the server's message msg, which may be NULL) is
 * transient: the group is rolled back and redone after a backoff, for as
 * long as it takes, and the event is never dead-lettered or skipped.
 *
 * Besides lost connections, lock conflicts and a read-only or stopping
 * server, this covers a target that is out of space or memory (1021 disk
 * full, 1114 table full, 1041/1037/1038 out of memory, 1135 no thread,
 * 1034 "incorrect key file", which is also how a full tmpdir shows, and 3,
 * 1004, 1005, 1026, 1030, 1180, 1181 wrapping errno 28 ENOSPC or 122
 * EDQUOT: creating sluice_offsets on a full disk is one) and a
 * table marked crashed (1194, 1195): the fault is the target's, not the
 * event's, and once an operator frees space or repairs the table the
 * same statement succeeds. Dead-lettering such an event would make the
 * target silently diverge from the stream.
 */
int sl_mysql_error_transient(unsigned e, const char *msg) {
    switch (e) {
    case CR_SERVER_GONE_ERROR: case CR_SERVER_LOST: case CR_CONN_HOST_ERROR:
    case CR_CONNECTION_ERROR: case CR_SERVER_LOST_EXTENDED:
    case ER_LOCK_DEADLOCK: case ER_LOCK_WAIT_TIMEOUT:
    case ER_OPTION_PREVENTS_STATEMENT: case 1836: /* ER_READ_ONLY_MODE */
    case ER_SERVER_SHUTDOWN: case ER_CON_COUNT_ERROR:
    case ER_TOO_MANY_USER_CONNECTIONS: case ER_QUERY_INTERRUPTED:
    case 1927: /* ER_CONNECTION_KILLED */
    case 4031: /* ER_CLIENT_INTERACTION_TIMEOUT */
    case ER_NET_READ_ERROR: case ER_NET_READ_INTERRUPTED:
    case ER_NET_ERROR_ON_WRITE: case ER_NET_WRITE_INTERRUPTED:
    case ER_DISK_FULL: case ER_RECORD_FILE_FULL:
    case ER_OUTOFMEMORY: case ER_OUT_OF_SORTMEMORY: case ER_OUT_OF_RESOURCES:
    case ER_CANT_CREATE_THREAD: case ER_NOT_KEYFILE:
    case ER_CRASHED_ON_USAGE: case ER_CRASHED_ON_REPAIR:
    case 0:
        return 1;
    case 3: /* EE_WRITE, mysys's "Error writing file" */
    case ER_CANT_CREATE_FILE: case ER_CANT_CREATE_TABLE:
    case ER_ERROR_ON_WRITE: case ER_GET_ERRNO:
    case ER_ERROR_DURING_COMMIT: case ER_ERROR_DURING_ROLLBACK:
        return errno_transient(msg_errno(msg));
    default:
        return 0;
    }
}

static int is_transient(unsigned e, const char *msg) {
    return sl_mysql_error_transient(e, msg);
}

static void bulk_reset(bulk_t *bk) {
    bk->state = 0;
    bk->nrows = 0;
    sl_buf_reset(&bk->data);
}

/* Closes the prepared statements (after mysql_close() this only frees
 * them). */
static void pstmts_close(sl_mysql_sink_t *s) {
    for (size_t i = 0; i < s->npstmts; i++) {
        if (s->pstmts[i].stmt != NULL)
            mysql_stmt_close(s->pstmts[i].stmt);
        free(s->pstmts[i].cols);
    }
    free(s->pstmts);
    s->pstmts = NULL;
    s->npstmts = 0;
    s->bulk_if = NULL;
}

static void disconnect(sl_mysql_sink_t *s) {
    if (s->mysql != NULL)
        mysql_close(s->mysql);
    s->mysql = NULL;
    pstmts_close(s);
    bulk_reset(&s->bk);
    s->in_group = 0;
    s->inflight = 0;
}

static int connect_once(sl_mysql_sink_t *s) {
    MYSQL *m = mysql_init(NULL);
    if (m == NULL)
        return seterr(s, SL_ENOMEM, "out of memory");
    unsigned int timeout = 5, rw = 60;
    mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &rw);
    mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &rw);
    mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    mysql_options(m, MYSQL_INIT_COMMAND,
                  "SET SESSION sql_mode='STRICT_ALL_TABLES,"
                  "NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION',"
                  "time_zone='+00:00',foreign_key_checks=0,"
                  "autocommit=1");
    /* The non-blocking API lets a bulk execution run on the server while
     * the next batch is built; blocking calls work as before. */
    mysql_options(m, MYSQL_OPT_NONBLOCK, 0);
    if (mysql_real_connect(m, s->opts.url.host, s->opts.url.user, s->password,
                           s->opts.url.db, s->opts.url.port, NULL,
                           CLIENT_MULTI_STATEMENTS) == NULL) {
        unsigned e = mysql_errno(m);
        seterr(s, is_transient(e, mysql_error(m)) ? SL_EAGAIN : SL_EDB,
               "cannot connect to the target %s:%u as %s: %s (error %u)",
               s->opts.url.host, s->opts.url.port, s->opts.url.user,
               mysql_error(m), e);
        mysql_close(m);
        /* A wrong password or an unknown database will not heal by
         * retrying quickly, but an operator may fix it: it is retried
         * like any other connection failure, and logged each time. */
        return SL_EAGAIN;
    }
    s->mysql = m;
    /* COM_STMT_BULK_EXECUTE is MariaDB's, from 10.2.7 (for other servers
     * Connector/C would send one execution per row: slower than text). */
    const char *info = mysql_get_server_info(m);
    s->mariadb = info != NULL && strstr(info, "MariaDB") != NULL;
    s->bulk_server = !s->opts.text_only && s->mariadb &&
                     mysql_get_server_version(m) >= 100207;
    return 0;
}

/* Runs one statement without a result set (or discards it). */
static int exec(sl_mysql_sink_t *s, const char *sql) {
    uint64_t t0 = sl_mono_ns();
    int q = mysql_real_query(s->mysql, sql, strlen(sql));
    s->stats.wait_ns += sl_mono_ns() - t0;
    if (q != 0) {
        unsigned e = mysql_errno(s->mysql);
        int rc = seterr(s, is_transient(e, mysql_error(s->mysql)) ? SL_EAGAIN : SL_EDB,
                        "target error %u: %s", e, mysql_error(s->mysql));
        if (rc == SL_EAGAIN)
            disconnect(s);
        return rc;
    }
    MYSQL_RES *res = mysql_store_result(s->mysql);
    if (res)
        mysql_free_result(res);
    return 0;
}

static int ensure_conn(sl_mysql_sink_t *s, volatile int *stop) {
    while (s->mysql == NULL) {
        int rc = connect_once(s);
        if (rc == 0)
            break;
        if (rc != SL_EAGAIN)
            return rc;
        s->stats.retries++;
        if (s->bo.attempts == 0 || s->bo.attempts % 10 == 0) {
            char q[1100];
            sl_log_warn("target unavailable; retrying", "part=%s error=%s",
                        s->part, sl_log_quote(s->err, q, sizeof q));
        }
        if (sl_backoff_sleep(&s->bo, stop))
            return SL_ESTOPPED;
    }
    return 0;
}

/* ---- life cycle ------------------------------------------------------- */

int sl_mysql_sink_new(const sl_mysql_opts_t *opts, const char *part,
                      sl_mysql_sink_t **out) {
    sl_mysql_sink_t *s = calloc(1, sizeof *s);
    if (s == NULL)
        return SL_ENOMEM;
    s->opts = *opts;
    if (s->opts.batch_bytes == 0)
        s->opts.batch_bytes = 64 * 1024;
    if (s->opts.retry_min_ms == 0)
        s->opts.retry_min_ms = 100;
    if (s->opts.retry_max_ms == 0)
        s->opts.retry_max_ms = 10000;
    s->password = opts->password ? strdup(opts->password) : NULL;
    s->group = strdup(opts->group ? opts->group : "sluice-apply");
    s->topic = strdup(opts->topic ? opts->topic : "");
    s->part = strdup(part);
    s->maps = calloc(opts->nmaps ? opts->nmaps : 1, sizeof *s->maps);
    if (s->maps != NULL)
        for (size_t i = 0; i < opts->nmaps; i++) {
            s->maps[i].src = strdup(opts->maps[i].src);
            s->maps[i].dst = strdup(opts->maps[i].dst);
        }
    s->opts.maps = s->maps;
    sl_jr_init(&s->doc);
    s->open_kind = -1;
    s->failed_offset = UINT64_MAX;
    sl_backoff_init(&s->bo, s->opts.retry_min_ms, s->opts.retry_max_ms);
    if (!s->group || !s->topic || !s->part || !s->maps ||
        (opts->password && !s->password)) {
        sl_mysql_sink_free(s);
        return SL_ENOMEM;
    }
    *out = s;
    return 0;
}

/* Frees what tm owns (names, columns, key); members never set are NULL. */
static void tmeta_clear(tmeta_t *tm) {
    for (size_t c = 0; c < tm->ncols; c++)
        free(tm->cols[c].name);
    for (size_t c = 0; c < tm->nukey; c++)
        free(tm->ukey[c]);
    free(tm->cols);
    free(tm->ukey);
    free(tm->src_db);
    free(tm->table);
    free(tm->dst_db);
}

static void free_tables(sl_mysql_sink_t *s) {
    /* The prepared statements point at the tables; one in flight cannot
     * be closed without reading its answer: the connection goes. */
    if (s->inflight)
        disconnect(s);
    pstmts_close(s);
    bulk_reset(&s->bk);
    for (size_t i = 0; i < s->ntables; i++) {
        tmeta_clear(s->tables[i]);
        free(s->tables[i]);
    }
    free(s->tables);
    s->tables = NULL;
    s->ntables = 0;
}

void sl_mysql_sink_free(sl_mysql_sink_t *s) {
    if (s == NULL)
        return;
    disconnect(s);
    free_tables(s);
    if (s->password) {
        memset(s->password, 0, strlen(s->password));
        free(s->password);
    }
    for (size_t i = 0; s->maps && i < s->opts.nmaps; i++) {
        free(s->maps[i].src);
        free(s->maps[i].dst);
    }
    free(s->maps);
    free(s->group);
    free(s->topic);
    free(s->part);
    free(s->stmts);
    free(s->stmts_if);
    sl_buf_free(&s->sql);
    sl_buf_free(&s->bk.data);
    free(s->bk.off);
    free(s->bk.len);
    free(s->bk.ind);
    free(s->bk.ptrs);
    sl_buf_free(&s->tmp);
    sl_buf_free(&s->tmp2);
    sl_jr_free(&s->doc);
    free(s);
}

const char *sl_mysql_sink_error(const sl_mysql_sink_t *s) { return s->err; }
int sl_mysql_sink_failed_drift(const sl_mysql_sink_t *s) {
    return s->failed_drift;
}
uint64_t sl_mysql_sink_failed_offset(const sl_mysql_sink_t *s) {
    return s->failed_offset;
}
int sl_mysql_sink_careful(const sl_mysql_sink_t *s) {
    return s->want_careful;
}
void sl_mysql_sink_stats(const sl_mysql_sink_t *s, sl_mysql_stats_t *st) {
    *st = s->stats;
}

int sl_mysql_sink_wait(sl_mysql_sink_t *s, volatile int *stop) {
    return sl_backoff_sleep(&s->bo, stop);
}

/* Appends the escaped literal of a C string to b. */
static int lit(sl_mysql_sink_t *s, sl_buf_t *b, const char *str) {
    return put_quoted(s->mysql, b, str, strlen(str));
}

static int offsets_where(sl_mysql_sink_t *s, sl_buf_t *b) {
    int rc = put(b, " WHERE group_name=");
    rc = rc ? rc : lit(s, b, s->group);
    rc = rc ? rc : put(b, " AND topic=");
    rc = rc ? rc : lit(s, b, s->topic);
    rc = rc ? rc : put(b, " AND part=");
    return rc ? rc : lit(s, b, s->part);
}

/* Reads the offsets row; *found = 0 when absent. Transient errors
 * disconnect and return SL_EAGAIN. */
static int read_offset(sl_mysql_sink_t *s, const char *suffix, uint64_t *next,
                       int *found) {
    sl_buf_t q = SL_BUF_INIT;
    int rc = put(&q, "SELECT next_offset FROM sluice_offsets");
    rc = rc ? rc : offsets_where(s, &q);
    rc = rc ? rc : put(&q, suffix);
    rc = rc ? rc : sl_buf_append_u8(&q, 0);
    if (rc != 0) {
        sl_buf_free(&q);
        return rc;
    }
    *found = 0;
    if (mysql_real_query(s->mysql, (const char *)q.data, q.len - 1) != 0) {
        unsigned e = mysql_errno(s->mysql);
        rc = seterr(s, is_transient(e, mysql_error(s->mysql)) ? SL_EAGAIN : SL_EDB,
                    "reading sluice_offsets: error %u: %s", e,
                    mysql_error(s->mysql));
        if (rc == SL_EAGAIN)
            disconnect(s);
        sl_buf_free(&q);
        return rc;
    }
    sl_buf_free(&q);
    MYSQL_RES *res = mysql_store_result(s->mysql);
    if (res == NULL) {
        unsigned e = mysql_errno(s->mysql);
        rc = seterr(s, is_transient(e, mysql_error(s->mysql)) ? SL_EAGAIN : SL_EDB,
                    "reading sluice_offsets: error %u: %s", e,
                    mysql_error(s->mysql));
        if (rc == SL_EAGAIN)
            disconnect(s);
        return rc;
    }
    MYSQL_ROW row = mysql_fetch_row(res);
    if (row != NULL && row[0] != NULL) {
        *found = 1;
        rc = sl_parse_u64(row[0], next) == 0 ? 0 : SL_ECORRUPT;
    }
    mysql_free_result(res);
    return rc;
}

int sl_mysql_sink_resume(sl_mysql_sink_t *s, uint64_t *next, int *found,
                         volatile int *stop) {
    for (;;) {
        int rc = ensure_conn(s, stop);
        if (rc != 0)
            return rc;
        rc = exec(s, sl_mysql_offsets_ddl);
        if (rc == 0)
            rc = read_offset(s, "", next, found);
        if (rc == 0) {
            sl_backoff_reset(&s->bo);
            return 0;
        }
        if (rc != SL_EAGAIN)
            return rc;
        if (sl_mysql_sink_wait(s, stop))
            return SL_ESTOPPED;
    }
}

int sl_mysql_sink_claim(sl_mysql_sink_t *s, uint64_t start, uint64_t *next,
                        volatile int *stop) {
    for (;;) {
        int rc = ensure_conn(s, stop);
        if (rc != 0)
            return rc;
        sl_buf_t q = SL_BUF_INIT;
        rc = put(&q, "INSERT IGNORE INTO sluice_offsets (group_name, topic, "
                     "part, next_offset) VALUES (");
        rc = rc ? rc : lit(s, &q, s->group);
        rc = rc ? rc : sl_buf_append_u8(&q, ',');
        rc = rc ? rc : lit(s, &q, s->topic);
        rc = rc ? rc : sl_buf_append_u8(&q, ',');
        rc = rc ? rc : lit(s, &q, s->part);
        rc = rc ? rc : sl_buf_printf(&q, ",%llu)", (unsigned long long)start);
        rc = rc ? rc : sl_buf_append_u8(&q, 0);
        if (rc == 0)
            rc = exec(s, (const char *)q.data);
        sl_buf_free(&q);
        int found = 0;
        if (rc == 0)
            rc = read_offset(s, "", next, &found);
        if (rc == 0 && !found)
            rc = seterr(s, SL_EDB, "sluice_offsets row vanished");
        if (rc == 0) {
            sl_backoff_reset(&s->bo);
            return 0;
        }
        if (rc != SL_EAGAIN)
            return rc;
        if (sl_mysql_sink_wait(s, stop))
            return SL_ESTOPPED;
    }
}

void sl_mysql_sink_abort(sl_mysql_sink_t *s) {
    if (s->inflight) {
        /* Results still on the wire: closing the connection rolls the
         * transaction back without reading them. */
        disconnect(s);
    }
    if (s->mysql != NULL && s->in_group &&
        mysql_real_query(s->mysql, "ROLLBACK", 8) != 0)
        disconnect(s);
    s->in_group = 0;
    sl_buf_reset(&s->sql);
    bulk_reset(&s->bk);
    s->nstmts = 0;
    s->open_kind = -1;
}

int sl_mysql_sink_begin(sl_mysql_sink_t *s, uint64_t start_offset,
                        int start_found, volatile int *stop) {
    sl_buf_reset(&s->sql);
    bulk_reset(&s->bk);
    s->nstmts = 0;
    s->open_kind = -1;
    s->failed_offset = UINT64_MAX;
    s->failed_drift = 0;
    s->group_rows = s->group_ins = s->group_upd = s->group_del = 0;
    s->group_drift = 0;
    s->careful = s->want_careful;
    s->want_careful = 0;
    int rc = ensure_conn(s, stop);
    if (rc != 0)
        return rc;
    rc = exec(s, "START TRANSACTION");
    if (rc != 0)
        return rc;
    s->in_group = 1;
    uint64_t cur = 0;
    int found = 0;
    /* Locks the offsets row (or its gap) until COMMIT, so a second apply
     * process on the same partition waits here and then sees the moved
     * offset instead of applying the same rows again. */
    rc = read_offset(s, " FOR UPDATE", &cur, &found);
    if (rc != 0) {
        sl_mysql_sink_abort(s);
        return rc;
    }
    if (found != start_found || (found && cur != start_offset)) {
        sl_mysql_sink_abort(s);
        return seterr(s, SL_EDB,
                      "partition %s: sluice_offsets says %s%llu but this "
                      "worker expected %s%llu; another apply process is "
                      "writing this partition", s->part,
                      found ? "" : "nothing, not ", (unsigned long long)cur,
                      start_found ? "" : "nothing, not ",
                      (unsigned long long)start_offset);
    }
    return 0;
}

/* Runs a query and returns its result; NULL with the error set (and a
 * transient failure disconnecting) otherwise. */
static MYSQL_RES *query(sl_mysql_sink_t *s, sl_buf_t *q, int *rc) {
    *rc = sl_buf_append_u8(q, 0);
    if (*rc != 0)
        return NULL;
    MYSQL_RES *res = NULL;
    if (mysql_real_query(s->mysql, (const char *)q->data, q->len - 1) == 0)
        res = mysql_store_result(s->mysql);
    if (res == NULL) {
        unsigned e = mysql_errno(s->mysql);
        *rc = seterr(s, is_transient(e, mysql_error(s->mysql)) ? SL_EAGAIN : SL_EDB,
                     "reading target metadata: error %u: %s", e,
                     mysql_error(s->mysql));
        if (*rc == SL_EAGAIN)
            disconnect(s);
    }
    return res;
}

/* Appends sql, then "<db> AND TABLE_NAME=<table>" as literals: the tail
 * of every information_schema query about one table. */
static int put_table_query(sl_mysql_sink_t *s, sl_buf_t *q, const char *sql,
                           const char *db, const char *table) {
    int rc = put(q, sql);
    rc = rc ? rc : lit(s, q, db);
    rc = rc ? rc : put(q, " AND TABLE_NAME=");
    rc = rc ? rc : lit(s, q, table);
    return rc;
}

/* The metadata of the target table for src_db.table, loaded once. */
static int table_meta(sl_mysql_sink_t *s, const char *src_db,
                      const char *table, tmeta_t **out) {
    for (size_t i = 0; i < s->ntables; i++)
        if (strcmp(s->tables[i]->src_db, src_db) == 0 &&
            strcmp(s->tables[i]->table, table) == 0) {
            *out = s->tables[i];
            return 0;
        }
    /* The connection must be idle before another query. */
    int rc = complete(s);
    if (rc != 0)
        return rc;
    const char *dst = dst_db_for(s, src_db);
    tmeta_t tm;
    memset(&tm, 0, sizeof tm);
    sl_buf_t q = SL_BUF_INIT;
    rc = put_table_query(s, &q,
                         "SELECT COLUMN_NAME, DATA_TYPE FROM "
                         "information_schema.COLUMNS WHERE TABLE_SCHEMA=",
                         dst, table);
    rc = rc ? rc : put(&q, " ORDER BY ORDINAL_POSITION");
    MYSQL_RES *res = rc == 0 ? query(s, &q, &rc) : NULL;
    sl_buf_free(&q);
    if (res == NULL)
        return rc;
    size_t nrows = mysql_num_rows(res);
    tm.cols = calloc(nrows ? nrows : 1, sizeof *tm.cols);
    MYSQL_ROW row;
    while (tm.cols && (row = mysql_fetch_row(res)) != NULL) {
        char *name = strdup(row[0] ? row[0] : "");
        if (name == NULL)
            break;
        tm.cols[tm.ncols].name = name;
        tm.cols[tm.ncols].len = strlen(name);
        tm.cols[tm.ncols].cls = classify(row[1] ? row[1] : "");
        tm.ncols++;
    }
    mysql_free_result(res);
    if (tm.cols == NULL || tm.ncols < nrows) {
        /* Out of memory: not to be taken for a missing table. */
        tmeta_clear(&tm);
        return SL_ENOMEM;
    }
    tm.missing = tm.ncols == 0;
    if (!tm.missing) {
        /* The columns of the first unique index, PRIMARY first. */
        rc = put_table_query(s, &q,
                             "SELECT COLUMN_NAME FROM information_schema."
                             "STATISTICS WHERE NON_UNIQUE=0 AND "
                             "TABLE_SCHEMA=",
                             dst, table);
        rc = rc ? rc : put_table_query(s, &q,
                                       " AND INDEX_NAME=(SELECT INDEX_NAME "
                                       "FROM information_schema.STATISTICS "
                                       "WHERE NON_UNIQUE=0 AND TABLE_SCHEMA=",
                                       dst, table);
        rc = rc ? rc : put(&q, " ORDER BY INDEX_NAME<>'PRIMARY', INDEX_NAME "
                               "LIMIT 1) ORDER BY SEQ_IN_INDEX");
        res = rc == 0 ? query(s, &q, &rc) : NULL;
        sl_buf_free(&q);
        if (res == NULL) {
            for (size_t c = 0; c < tm.ncols; c++)
                free(tm.cols[c].name);
            free(tm.cols);
            return rc;
        }
        nrows = mysql_num_rows(res);
        if (nrows > 0) {
            tm.ukey = calloc(nrows, sizeof *tm.ukey);
            while (tm.ukey && (row = mysql_fetch_row(res)) != NULL)
                tm.ukey[tm.nukey++] = strdup(row[0] ? row[0] : "");
        }
        mysql_free_result(res);
        rc = put_table_query(s, &q,
                             "SELECT COUNT(DISTINCT INDEX_NAME), "
                             "SUM(INDEX_NAME='PRIMARY') FROM "
                             "information_schema.STATISTICS WHERE "
                             "NON_UNIQUE=0 AND TABLE_SCHEMA=",
                             dst, table);
        res = rc == 0 ? query(s, &q, &rc) : NULL;
        sl_buf_free(&q);
        if (res != NULL) {
            row = mysql_fetch_row(res);
            tm.pk_only = row && row[0] && row[1] && strcmp(row[0], "1") == 0 &&
                         strcmp(row[1], "0") != 0;
            mysql_free_result(res);
        }
        if (rc == 0 && s->mariadb) {
            /* MariaDB's JSON is LONGTEXT whose CHECK is json_valid(`col`):
             * the only sign of it in information_schema. */
            rc = put_table_query(s, &q,
                                 "SELECT CHECK_CLAUSE FROM information_schema."
                                 "CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA=",
                                 dst, table);
            res = rc == 0 ? query(s, &q, &rc) : NULL;
            sl_buf_free(&q);
            while (res != NULL && (row = mysql_fetch_row(res)) != NULL) {
                const char *cc = row[0] ? row[0] : "";
                size_t cn = strlen(cc);
                if (cn < 14 || strncmp(cc, "json_valid(`", 12) != 0 ||
                    strcmp(cc + cn - 2, "`)") != 0)
                    continue;
                for (size_t c = 0; c < tm.ncols; c++)
                    if (tm.cols[c].cls == CLS_PLAIN &&
                        tm.cols[c].len == cn - 14 &&
                        memcmp(tm.cols[c].name, cc + 12, cn - 14) == 0)
                        tm.cols[c].cls = CLS_MJSON;
            }
            if (res != NULL)
                mysql_free_result(res);
        }
        if (rc != 0) {
            tmeta_clear(&tm);
            return rc;
        }
    }
    /* Each table on its own allocation: pending statements and the open
     * merged statement point at it, and must survive the array growing. */
    tmeta_t **tabs = realloc(s->tables, (s->ntables + 1) * sizeof *tabs);
    tmeta_t *ntm = tabs != NULL ? malloc(sizeof *ntm) : NULL;
    if (ntm == NULL) {
        if (tabs != NULL)
            s->tables = tabs;
        tmeta_clear(&tm);
        return SL_ENOMEM;
    }
    s->tables = tabs;
    tm.src_db = strdup(src_db);
    tm.table = strdup(table);
    tm.dst_db = strdup(dst);
    tm.src_db_len = tm.src_db ? strlen(tm.src_db) : 0;
    tm.table_len = tm.table ? strlen(tm.table) : 0;
    if (!tm.src_db || !tm.table || !tm.dst_db) {
        tmeta_clear(&tm);
        free(ntm);
        return SL_ENOMEM;
    }
    *ntm = tm;
    tabs[s->ntables++] = ntm;
    *out = ntm;
    return 0;
}

/* "Rows matched: N" of the last UPDATE. */
static long long rows_matched(MYSQL *m) {
    const char *info = mysql_info(m);
    long long n;
    if (info != NULL && sscanf(info, "Rows matched: %lld", &n) == 1)
        return n;
    return (long long)mysql_affected_rows(m);
}

static const char *kind_name(int kind) {
    return kind == ST_INSERT ? "insert"
           : kind == ST_DELETE ? "delete"
                               : "update";
}

/* Handles one statement outcome. Returns 0, SL_EAGAIN (redo the group in
 * careful mode) or SL_EDB (stop). */
static int check_outcome(sl_mysql_sink_t *s, const stmt_t *st, long long n) {
    if (st->kind == ST_UPSERT) {
        /* Each row that existed and changed counts 2; anything else (a
         * missing row was inserted, or nothing changed) is redone row by
         * row, where drift is handled by the policy. */
        if (n == 2 * (long long)st->nrows)
            return 0;
        s->want_careful = 1;
        return seterr(s, SL_EAGAIN, "merged update did not find every row "
                      "changed; redoing the group row by row");
    }
    if (st->nrows > 1) {
        /* A merged statement: each new row counts 1 (insert) or each
         * deleted row 1. Any other total means drift somewhere in it; the
         * group is redone one row per statement, which finds and handles
         * each case exactly. */
        if (n == (long long)st->nrows)
            return 0;
        s->want_careful = 1;
        return seterr(s, SL_EAGAIN, "drift inside a merged statement; "
                      "redoing the group row by row");
    }
    int drift = st->kind == ST_INSERT ? n != 1 : n == 0;
    if (!drift)
        return 0;
    s->group_drift++;
    const char *what = st->kind == ST_INSERT ? "insert of an existing key"
                       : st->kind == ST_UPDATE ? "update of a missing row"
                                               : "delete of a missing row";
    if (s->opts.drift == SL_DRIFT_STOP) {
        s->failed_offset = st->offset;
        s->failed_drift = 1;
        return seterr(s, SL_EDB,
                      "partition %s offset %llu row %llu: drift on %s.%s: %s "
                      "(drift policy stop)", s->part,
                      (unsigned long long)st->offset,
                      (unsigned long long)st->row, st->tm->dst_db,
                      st->tm->table, what);
    }
    sl_log_warn("target drift", "part=%s offset=%llu row=%llu table=%s.%s "
                "case=\"%s\" policy=%s", s->part,
                (unsigned long long)st->offset, (unsigned long long)st->row,
                st->tm->dst_db, st->tm->table, what,
                s->opts.drift == SL_DRIFT_SKIP ? "skip" : "overwrite");
    if (st->kind == ST_UPDATE && s->opts.drift == SL_DRIFT_OVERWRITE &&
        !s->careful) {
        /* The correcting insert must run before later statements of the
         * group: redo the group one statement at a time. */
        s->want_careful = 1;
        return seterr(s, SL_EAGAIN, "drift correction needs a careful redo");
    }
    return 0;
}

/* Sends the pending statements and checks each outcome. */
static int close_open(sl_mysql_sink_t *s);

/* A statement failed with error e (message msg): a transient error drops
 * the connection (the group is redone); a permanent one in a merged
 * statement asks for a careful redo, which names the row; otherwise it is
 * reported with its offset and row. */
static int stmt_failed(sl_mysql_sink_t *s, const stmt_t *st, unsigned e,
                       const char *msg) {
    int rc;
    int transient = is_transient(e, msg);
    if (!transient && st->nrows > 1) {
        /* Which row of a merged statement failed? The careful redo (one
         * row per statement) names it. */
        s->want_careful = 1;
        rc = seterr(s, SL_EAGAIN, "error %u in a merged statement (%s); "
                    "redoing the group row by row", e, msg);
        sl_mysql_sink_abort(s);
        return rc;
    }
    if (!transient)
        s->failed_offset = st->offset;
    rc = seterr(s, transient ? SL_EAGAIN : SL_EDB,
                "partition %s offset %llu row %llu: %s on %s.%s failed: "
                "error %u: %s", s->part, (unsigned long long)st->offset,
                (unsigned long long)st->row, kind_name(st->kind),
                st->tm->dst_db, st->tm->table, e, msg);
    if (transient) {
        disconnect(s);
        sl_buf_reset(&s->sql);
        s->nstmts = 0;
        s->open_kind = -1;
    } else {
        sl_mysql_sink_abort(s);
    }
    return rc;
}

/* Waits for the bulk execution in flight and checks its outcome. */
static int complete_bulk(sl_mysql_sink_t *s) {
    s->inflight = 0;
    MYSQL_STMT *stmt = s->bulk_if->stmt;
    uint64_t t0 = sl_mono_ns();
    int status = s->bulk_status;
    while (status != 0) {
        struct pollfd pfd = {.fd = mysql_get_socket(s->mysql), .events = 0};
        if (status & MYSQL_WAIT_READ)
            pfd.events |= POLLIN;
        if (status & MYSQL_WAIT_WRITE)
            pfd.events |= POLLOUT;
        if (status & MYSQL_WAIT_EXCEPT)
            pfd.events |= POLLPRI;
        int timeout = (status & MYSQL_WAIT_TIMEOUT)
                          ? (int)mysql_get_timeout_value_ms(s->mysql)
                          : -1;
        int pr = poll(&pfd, 1, timeout);
        if (pr < 0 && errno == EINTR)
            continue;
        int ready = 0;
        if (pr == 0) {
            ready = MYSQL_WAIT_TIMEOUT;
        } else if (pr < 0) {
            /* poll() itself failed: let the library read and report. */
            ready = MYSQL_WAIT_READ;
        } else {
            /* An error or hang-up is for the library to read. */
            if (pfd.revents & (POLLIN | POLLERR | POLLHUP))
                ready |= MYSQL_WAIT_READ;
            if (pfd.revents & POLLOUT)
                ready |= MYSQL_WAIT_WRITE;
            if (pfd.revents & POLLPRI)
                ready |= MYSQL_WAIT_EXCEPT;
        }
        status = mysql_stmt_execute_cont(&s->bulk_ret, stmt, ready);
    }
    s->stats.wait_ns += sl_mono_ns() - t0;
    if (s->bulk_ret != 0) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", mysql_stmt_error(stmt));
        return stmt_failed(s, &s->bulk_st, mysql_stmt_errno(stmt), msg);
    }
    int rc = check_outcome(s, &s->bulk_st,
                           (long long)mysql_stmt_affected_rows(stmt));
    if (rc != 0)
        sl_mysql_sink_abort(s);
    return rc;
}

/* Reads back the batch in flight and checks each statement's outcome. */
static int complete(sl_mysql_sink_t *s) {
    if (!s->inflight)
        return 0;
    if (s->inflight == 2)
        return complete_bulk(s);
    s->inflight = 0;
    const stmt_t *stmts = s->stmts_if;
    size_t n = s->nstmts_if;
    size_t k = 0;
    int rc = 0;
    uint64_t t0 = sl_mono_ns();
    int q = mysql_read_query_result(s->mysql);
    s->stats.wait_ns += sl_mono_ns() - t0;
    if (q != 0)
        goto sqlerr;
    for (k = 0; k < n; k++) {
        if (k > 0) {
            int st = mysql_next_result(s->mysql);
            if (st > 0)
                goto sqlerr;
            if (st < 0) {
                rc = seterr(s, SL_EPROTO, "fewer results than statements");
                break;
            }
        }
        MYSQL_RES *res = mysql_store_result(s->mysql);
        if (res)
            mysql_free_result(res);
        if (rc == 0)
            rc = check_outcome(s, &stmts[k],
                               stmts[k].kind == ST_UPDATE
                                   ? rows_matched(s->mysql)
                                   : (long long)mysql_affected_rows(s->mysql));
    }
    /* Drain what is left after a drift stop so the connection stays
     * usable for the rollback. */
    while (mysql_more_results(s->mysql) && mysql_next_result(s->mysql) == 0) {
        MYSQL_RES *res = mysql_store_result(s->mysql);
        if (res)
            mysql_free_result(res);
    }
    if (rc != 0)
        sl_mysql_sink_abort(s);
    return rc;
sqlerr: {
    char msg[512];
    snprintf(msg, sizeof msg, "%s", mysql_error(s->mysql));
    return stmt_failed(s, &stmts[k < n ? k : n - 1], mysql_errno(s->mysql),
                       msg);
}
}

/* Sends the pending statements without waiting for their results (the
 * batch sent before is read back first). */
static int send_batch(sl_mysql_sink_t *s) {
    if (s->nstmts == 0 && s->bk.state != 2)
        return 0;
    int rc = close_open(s); /* Sends a run collected for bulk execution. */
    if (rc != 0 || s->nstmts == 0)
        return rc;
    rc = complete(s);
    if (rc != 0)
        return rc;
    s->stats.round_trips++;
    if (mysql_send_query(s->mysql, (const char *)s->sql.data,
                         (unsigned long)s->sql.len) != 0) {
        unsigned e = mysql_errno(s->mysql);
        int transient = is_transient(e, mysql_error(s->mysql));
        rc = seterr(s, transient ? SL_EAGAIN : SL_EDB,
                    "partition %s: sending statements failed: error %u: %s",
                    s->part, e, mysql_error(s->mysql));
        if (transient)
            disconnect(s);
        sl_mysql_sink_abort(s);
        return rc;
    }
    stmt_t *t = s->stmts_if;
    size_t cap = s->capstmts_if;
    s->stmts_if = s->stmts;
    s->capstmts_if = s->capstmts;
    s->nstmts_if = s->nstmts;
    s->stmts = t;
    s->capstmts = cap;
    s->nstmts = 0;
    s->inflight = 1;
    sl_buf_reset(&s->sql);
    return 0;
}

/* Sends what is pending and reads back everything. */
static int flush(sl_mysql_sink_t *s) {
    int rc = send_batch(s);
    return rc != 0 ? rc : complete(s);
}

/* The ON DUPLICATE KEY UPDATE tail of a merged insert or upsert: all
 * columns for upserts and the overwrite policy, else a no-op assignment
 * (the affected-row count then tells which rows existed). */
static int put_upsert_tail(sl_buf_t *b, const tmeta_t *tm, int kind,
                           sl_drift_t drift, const int *cols, size_t n) {
    int rc = put(b, " ON DUPLICATE KEY UPDATE ");
    if (drift == SL_DRIFT_OVERWRITE || kind == ST_UPSERT) {
        for (size_t i = 0; i < n && rc == 0; i++) {
            const char *name = tm->cols[cols[i]].name;
            if (i > 0)
                rc = sl_buf_append_u8(b, ',');
            rc = rc ? rc : put_ident(b, name);
            rc = rc ? rc : put(b, "=VALUES(");
            rc = rc ? rc : put_ident(b, name);
            rc = rc ? rc : sl_buf_append_u8(b, ')');
        }
    } else {
        const char *name = tm->cols[cols[0]].name;
        rc = put_ident(b, name);
        rc = rc ? rc : sl_buf_append_u8(b, '=');
        rc = rc ? rc : put_ident(b, name);
    }
    return rc;
}

static int bulk_emit(sl_mysql_sink_t *s, int keep_open);

/* Ends the open multi-row statement: writes its tail, or sends the run
 * collected for bulk execution. */
static int close_open(sl_mysql_sink_t *s) {
    int rc = 0;
    if (s->bk.state == 2) {
        rc = bulk_emit(s, 0);
    } else if (s->open_kind == ST_INSERT || s->open_kind == ST_UPSERT) {
        rc = put_upsert_tail(&s->sql, s->open_tm, s->open_kind,
                             s->opts.drift, s->open_cols, s->nopen_cols);
    } else if (s->open_kind == ST_DELETE) {
        rc = sl_buf_append_u8(&s->sql, ')');
    }
    s->bk.state = 0;
    s->open_kind = -1;
    return rc;
}

static int push_stmt(sl_mysql_sink_t *s, uint64_t offset, uint64_t rowno,
                     int kind, tmeta_t *tm, size_t mark) {
    if (s->nstmts == s->capstmts) {
        size_t nc = s->capstmts ? s->capstmts * 2 : 256;
        stmt_t *ns = realloc(s->stmts, nc * sizeof *ns);
        if (ns == NULL)
            return SL_ENOMEM;
        s->stmts = ns;
        s->capstmts = nc;
    }
    stmt_t *st = &s->stmts[s->nstmts++];
    st->offset = offset;
    st->row = rowno;
    st->kind = kind;
    st->tm = tm;
    st->sql_start = mark;
    st->nrows = 1;
    return 0;
}

/* 1 when every primary-key column (the event's pk list) has the same
 * value, as text, in the before and the after image. */
static int pk_unchanged(const sl_jr_doc_t *doc, const sl_event_t *ev,
                        const tmeta_t *tm) {
    uint32_t pk = ev->pk, before = ev->before, after = ev->after;
    if (pk == SL_JR_NONE || sl_jr_type(doc, pk) != SL_JR_ARRAY ||
        sl_jr_tok(doc, pk)->count == 0 || before == SL_JR_NONE ||
        after == SL_JR_NONE || sl_jr_type(doc, before) != SL_JR_OBJECT ||
        sl_jr_type(doc, after) != SL_JR_OBJECT)
        return 0;
    uint32_t it = 0, k, e;
    while (sl_jr_next(doc, pk, &it, &k, &e)) {
        if (sl_jr_type(doc, e) != SL_JR_STRING)
            return 0;
        int c = find_col(tm, doc, e);
        if (c < 0)
            return 0;
        const char *name = tm->cols[c].name;
        uint32_t b = sl_jr_getn(doc, before, name, tm->cols[c].len);
        uint32_t a = sl_jr_getn(doc, after, name, tm->cols[c].len);
        if (b == SL_JR_NONE || a == SL_JR_NONE ||
            sl_jr_type(doc, a) == SL_JR_NULL ||
            sl_jr_type(doc, a) != sl_jr_type(doc, b))
            return 0;
        size_t al, bl;
        const char *ar = sl_jr_raw(doc, a, &al), *br = sl_jr_raw(doc, b, &bl);
        if (al != bl || memcmp(ar, br, al) != 0)
            return 0;
    }
    return 1;
}

/* ---- bulk execution ------------------------------------------------------ */

/* Starts collecting a run of kind on tm with n columns. */
static void bulk_begin(sl_mysql_sink_t *s, tmeta_t *tm, int kind, size_t n,
                       uint64_t offset, uint64_t rowno) {
    bulk_t *bk = &s->bk;
    bulk_reset(bk);
    bk->state = 1;
    bk->tm = tm;
    bk->kind = kind;
    bk->ncols = n;
    bk->offset = offset;
    bk->row = rowno;
}

/* Appends value v (of a column of class cls) as parameter (row, column i).
 * Returns 0, 1 when the value cannot be bound with the meaning its SQL
 * text has (the run then stays text), or a negative error. */
static int bulk_value(bulk_t *bk, const sl_jr_doc_t *doc, uint32_t v, int cls,
                      size_t i) {
    sl_jr_type_t t = sl_jr_type(doc, v);
    size_t start = bk->data.len, n;
    const char *raw;
    int rc = 0;
    bk->off[i] = start;
    bk->len[i] = 0;
    bk->ind[i] = STMT_INDICATOR_NONE;
    if (t == SL_JR_NULL) {
        bk->ind[i] = STMT_INDICATOR_NULL;
        return 0;
    }
    if (cls == CLS_GEOM)
        return 1;
    if (cls == CLS_JSON) {
        /* The JSON text of the value (a string keeps its quotes). */
        raw = sl_jr_raw(doc, v, &n);
        if (t == SL_JR_STRING) {
            raw--;
            n += 2;
        }
        rc = sl_buf_append(&bk->data, raw, n);
    } else {
        switch (t) {
        case SL_JR_TRUE:
            rc = cls == CLS_MJSON ? sl_buf_append(&bk->data, "true", 4)
                                  : sl_buf_append(&bk->data, "1", 1);
            break;
        case SL_JR_FALSE:
            rc = cls == CLS_MJSON ? sl_buf_append(&bk->data, "false", 5)
                                  : sl_buf_append(&bk->data, "0", 1);
            break;
        case SL_JR_NUMBER:
            /* A number as a string converts as its literal would, except
             * into BIT, ENUM and SET columns. */
            if (cls == CLS_NUMTEXT)
                return 1;
            raw = sl_jr_raw(doc, v, &n);
            rc = sl_buf_append(&bk->data, raw, n);
            break;
        case SL_JR_STRING:
            rc = sl_jr_unescape(doc, v, &bk->data);
            break;
        case SL_JR_OBJECT: {
            uint32_t b64 = sl_jr_get(doc, v, "base64");
            if (b64 != SL_JR_NONE && sl_jr_type(doc, b64) == SL_JR_STRING &&
                sl_jr_tok(doc, v)->count == 1) {
                /* Bytes: bound as a BLOB, so only into binary columns. */
                if (cls != CLS_BINARY)
                    return 1;
                raw = sl_jr_raw(doc, b64, &n);
                if (sl_jr_base64_decode(&bk->data, raw, n) != 0)
                    return 1; /* The text path reports it. */
                break;
            }
            raw = sl_jr_raw(doc, v, &n);
            rc = sl_buf_append(&bk->data, raw, n);
            break;
        }
        case SL_JR_ARRAY:
            raw = sl_jr_raw(doc, v, &n);
            rc = sl_buf_append(&bk->data, raw, n);
            break;
        default:
            return 1;
        }
    }
    if (rc != 0)
        return rc < 0 ? rc : SL_ENOMEM;
    bk->len[i] = (unsigned long)(bk->data.len - start);
    return 0;
}

/* Adds one row (values vals of columns cols) to the run. Returns 0, 1 when
 * a value cannot be bound, or a negative error. */
static int bulk_add(sl_mysql_sink_t *s, const sl_jr_doc_t *doc,
                    const int *cols, const uint32_t *vals, size_t n) {
    bulk_t *bk = &s->bk;
    if (n != bk->ncols)
        return 1;
    if ((bk->nrows + 1) * n > bk->cap) {
        size_t cap = bk->cap ? bk->cap * 2 : 1024;
        while (cap < (bk->nrows + 1) * n)
            cap *= 2;
        size_t *off = realloc(bk->off, cap * sizeof *off);
        if (off == NULL)
            return SL_ENOMEM;
        bk->off = off;
        unsigned long *len = realloc(bk->len, cap * sizeof *len);
        if (len == NULL)
            return SL_ENOMEM;
        bk->len = len;
        char *ind = realloc(bk->ind, cap);
        if (ind == NULL)
            return SL_ENOMEM;
        bk->ind = ind;
        bk->cap = cap;
    }
    size_t mark = bk->data.len;
    for (size_t c = 0; c < n; c++) {
        int rc = bulk_value(bk, doc, vals[c], bk->tm->cols[cols[c]].cls,
                            bk->nrows * n + c);
        if (rc != 0) {
            bk->data.len = mark;
            return rc;
        }
    }
    bk->nrows++;
    return 0;
}

/* The prepared statement for the run (prepared on first use). Returns 0,
 * 1 when it cannot be prepared (the run stays text), or a negative error
 * (SL_EAGAIN: the connection broke). */
static int bulk_prepare(sl_mysql_sink_t *s, pstmt_t **out) {
    bulk_t *bk = &s->bk;
    for (size_t i = 0; i < s->npstmts; i++) {
        pstmt_t *p = &s->pstmts[i];
        if (p->tm == bk->tm && p->kind == bk->kind && p->ncols == bk->ncols &&
            memcmp(p->cols, s->open_cols, bk->ncols * sizeof *p->cols) == 0) {
            *out = p;
            return 0;
        }
    }
    int rc = complete(s); /* Preparing needs an idle connection. */
    if (rc != 0)
        return rc;
    sl_buf_t q = SL_BUF_INIT;
    rc = put(&q, "INSERT INTO ");
    rc = rc ? rc : put_table(&q, bk->tm);
    rc = rc ? rc : put(&q, " (");
    for (size_t i = 0; i < bk->ncols && rc == 0; i++) {
        if (i > 0)
            rc = sl_buf_append_u8(&q, ',');
        rc = rc ? rc : put_ident(&q, bk->tm->cols[s->open_cols[i]].name);
    }
    rc = rc ? rc : put(&q, ") VALUES (");
    for (size_t i = 0; i < bk->ncols && rc == 0; i++)
        rc = put(&q, i > 0 ? ",?" : "?");
    rc = rc ? rc : sl_buf_append_u8(&q, ')');
    rc = rc ? rc : put_upsert_tail(&q, bk->tm, bk->kind, s->opts.drift,
                                   s->open_cols, bk->ncols);
    pstmt_t *ps = NULL;
    int *cols = malloc(bk->ncols * sizeof *cols);
    if (rc == 0 && cols != NULL) {
        ps = realloc(s->pstmts, (s->npstmts + 1) * sizeof *ps);
        if (ps != NULL)
            s->pstmts = ps;
    }
    if (rc != 0 || cols == NULL || ps == NULL) {
        free(cols);
        sl_buf_free(&q);
        return SL_ENOMEM;
    }
    MYSQL_STMT *stmt = mysql_stmt_init(s->mysql);
    if (stmt == NULL ||
        mysql_stmt_prepare(stmt, (const char *)q.data, q.len) != 0) {
        unsigned e = stmt ? mysql_stmt_errno(stmt) : CR_OUT_OF_MEMORY;
        char emsg[512];
        snprintf(emsg, sizeof emsg, "%s", stmt ? mysql_stmt_error(stmt) : "");
        if (stmt != NULL)
            mysql_stmt_close(stmt);
        free(cols);
        sl_buf_free(&q);
        if (is_transient(e, emsg)) {
            disconnect(s);
            return seterr(s, SL_EAGAIN, "preparing a bulk statement failed: "
                          "error %u", e);
        }
        /* The text statement reports a real problem with its row. */
        return 1;
    }
    sl_buf_free(&q);
    memcpy(cols, s->open_cols, bk->ncols * sizeof *cols);
    ps = &s->pstmts[s->npstmts++];
    ps->tm = bk->tm;
    ps->kind = bk->kind;
    ps->cols = cols;
    ps->ncols = bk->ncols;
    ps->stmt = stmt;
    *out = ps;
    return 0;
}

/* The staged run reached BULK_MIN rows: its text statement (the last one)
 * is taken back, the statements before it are sent, and the run goes on
 * as bulk only. */
static int bulk_switch(sl_mysql_sink_t *s) {
    pstmt_t *ps;
    int rc = bulk_prepare(s, &ps);
    if (rc == 1) {
        s->bk.state = 0;
        return 0;
    }
    if (rc != 0)
        return rc;
    stmt_t *last = &s->stmts[s->nstmts - 1];
    s->bk.offset = last->offset;
    s->bk.row = last->row;
    s->sql.len = last->sql_start;
    s->nstmts--;
    /* Send what precedes the run without closing the run itself. */
    int kind = s->open_kind;
    s->open_kind = -1;
    s->bk.state = 0;
    rc = send_batch(s);
    if (rc != 0)
        return rc;
    s->open_kind = kind;
    s->bk.state = 2;
    return 0;
}

/* Sends the collected run as one bulk execution (after the batch in
 * flight completes); with keep_open, the run goes on collecting. */
static int bulk_emit(sl_mysql_sink_t *s, int keep_open) {
    bulk_t *bk = &s->bk;
    if (bk->nrows == 0) {
        if (!keep_open)
            bk->state = 0;
        return 0;
    }
    pstmt_t *ps;
    int rc = bulk_prepare(s, &ps);
    if (rc == 1)
        rc = seterr(s, SL_EDB, "a prepared statement went missing");
    if (rc == 0)
        rc = complete(s);
    if (rc != 0)
        return rc;
    size_t n = bk->ncols, rows = bk->nrows;
    char **ptrs = realloc(bk->ptrs, rows * n * (sizeof(char *) +
                                                sizeof(unsigned long) + 1));
    if (ptrs == NULL)
        return SL_ENOMEM;
    bk->ptrs = ptrs;
    /* Column-wise arrays, as Connector/C's bulk binding wants them. */
    unsigned long *lens = (unsigned long *)(ptrs + rows * n);
    char *inds = (char *)(lens + rows * n);
    MYSQL_BIND binds[MAX_MERGE_COLS];
    memset(binds, 0, n * sizeof binds[0]);
    for (size_t c = 0; c < n; c++) {
        for (size_t r = 0; r < rows; r++) {
            size_t i = r * n + c, o = c * rows + r;
            ptrs[o] = (char *)bk->data.data + bk->off[i];
            lens[o] = bk->len[i];
            inds[o] = bk->ind[i];
        }
        binds[c].buffer_type = bk->tm->cols[ps->cols[c]].cls == CLS_BINARY
                                   ? MYSQL_TYPE_BLOB
                                   : MYSQL_TYPE_STRING;
        binds[c].buffer = ptrs + c * rows;
        binds[c].length = lens + c * rows;
        binds[c].u.indicator = inds + c * rows;
    }
    unsigned int size = (unsigned int)rows;
    if (mysql_stmt_attr_set(ps->stmt, STMT_ATTR_ARRAY_SIZE, &size) != 0 ||
        mysql_stmt_bind_param(ps->stmt, binds) != 0)
        return seterr(s, SL_EDB, "binding a bulk statement failed: %s",
                      mysql_stmt_error(ps->stmt));
    s->bulk_st.offset = bk->offset;
    s->bulk_st.row = bk->row;
    s->bulk_st.kind = bk->kind;
    s->bulk_st.tm = bk->tm;
    s->bulk_st.sql_start = 0;
    s->bulk_st.nrows = rows;
    s->stats.round_trips++;
    s->stats.bulk_rows += rows;
    s->bulk_if = ps;
    s->bulk_ret = 0;
    s->bulk_status = mysql_stmt_execute_start(&s->bulk_ret, ps->stmt);
    s->inflight = 2;
    bk->nrows = 0;
    sl_buf_reset(&bk->data);
    bk->state = keep_open ? 2 : 0;
    return 0;
}

/*
 * Consecutive inserts into the same table with the same columns become
 * one multi-row INSERT, and consecutive deletes by primary key one
 * DELETE ... WHERE pk IN (...): far fewer statements for the server to
 * parse. Returns 1 when the row was taken, 0 when it must be a statement
 * of its own (update, no key, an odd value: the single-row path also
 * reports any error precisely), or a negative error.
 */
static int try_merge(sl_mysql_sink_t *s, const sl_jr_doc_t *doc,
                     const sl_event_t *ev, tmeta_t *tm, uint64_t offset,
                     uint64_t rowno) {
    uint32_t op = ev->op;
    if (op == SL_JR_NONE)
        return 0;
    int ins = sl_jr_str_eq(doc, op, "insert", 6);
    int del = !ins && sl_jr_str_eq(doc, op, "delete", 6);
    int upd = !ins && !del && tm->pk_only && sl_jr_str_eq(doc, op, "update", 6);
    if (!ins && !del && !upd)
        return 0;
    if (upd && !pk_unchanged(doc, ev, tm))
        return 0;
    int kind = ins ? ST_INSERT : del ? ST_DELETE : ST_UPSERT;
    if (ev->positional != SL_JR_NONE)
        return 0;
    int cols[MAX_MERGE_COLS];
    uint32_t vals[MAX_MERGE_COLS];
    size_t n = 0;
    uint32_t it = 0, k, v;
    if (ins || upd) {
        uint32_t after = ev->after;
        if (after == SL_JR_NONE || sl_jr_type(doc, after) != SL_JR_OBJECT)
            return 0;
        while (sl_jr_next(doc, after, &it, &k, &v)) {
            int c = find_col_at(tm, doc, k, n);
            if (c < 0 || n == MAX_MERGE_COLS)
                return 0;
            cols[n] = c;
            vals[n++] = v;
        }
    } else {
        uint32_t pk = ev->pk, before = ev->before;
        if (pk == SL_JR_NONE || sl_jr_type(doc, pk) != SL_JR_ARRAY ||
            before == SL_JR_NONE || sl_jr_type(doc, before) != SL_JR_OBJECT)
            return 0;
        uint32_t e;
        while (sl_jr_next(doc, pk, &it, &k, &e)) {
            if (sl_jr_type(doc, e) != SL_JR_STRING || n == MAX_MERGE_COLS)
                return 0;
            int c = find_col(tm, doc, e);
            if (c < 0)
                return 0;
            uint32_t val = sl_jr_getn(doc, before, tm->cols[c].name,
                                      tm->cols[c].len);
            if (val == SL_JR_NONE || sl_jr_type(doc, val) == SL_JR_NULL)
                return 0;
            cols[n] = c;
            vals[n++] = val;
        }
    }
    if (n == 0)
        return 0;
    int same = s->open_kind == kind &&
               s->open_tm == tm && s->nopen_cols == n &&
               memcmp(s->open_cols, cols, n * sizeof cols[0]) == 0;
    int rc = 0;
    if (s->bk.state == 2) {
        /* A run sent by bulk execution: the row joins it, or ends it. */
        if (same) {
            int first = s->bk.nrows == 0;
            rc = bulk_add(s, doc, cols, vals, n);
            if (rc < 0)
                return rc;
            if (rc == 0) {
                if (first) {
                    s->bk.offset = offset;
                    s->bk.row = rowno;
                }
                s->group_rows++;
                s->group_ins += ins;
                s->group_upd += upd;
                return s->bk.data.len >= s->opts.batch_bytes
                           ? (bulk_emit(s, 1) ?: 1)
                           : 1;
            }
        }
        rc = close_open(s);
        if (rc != 0)
            return rc;
        same = 0;
    }
    size_t mark = s->sql.len;
    char err[200];
    sl_buf_t vtmp = SL_BUF_INIT;
    if (same) {
        rc = sl_buf_append_u8(&s->sql, ',');
    } else {
        rc = close_open(s);
        mark = s->sql.len;
        if (rc == 0 && s->nstmts > 0)
            rc = sl_buf_append_u8(&s->sql, ';');
        if (ins || upd) {
            rc = rc ? rc : put(&s->sql, "INSERT INTO ");
            rc = rc ? rc : put_table(&s->sql, tm);
            rc = rc ? rc : put(&s->sql, " (");
            for (size_t i = 0; i < n && rc == 0; i++) {
                if (i > 0)
                    rc = sl_buf_append_u8(&s->sql, ',');
                rc = rc ? rc : put_ident(&s->sql, tm->cols[cols[i]].name);
            }
            rc = rc ? rc : put(&s->sql, ") VALUES ");
        } else {
            rc = rc ? rc : put(&s->sql, "DELETE FROM ");
            rc = rc ? rc : put_table(&s->sql, tm);
            rc = rc ? rc : put(&s->sql, n > 1 ? " WHERE (" : " WHERE ");
            for (size_t i = 0; i < n && rc == 0; i++) {
                if (i > 0)
                    rc = sl_buf_append_u8(&s->sql, ',');
                rc = rc ? rc : put_ident(&s->sql, tm->cols[cols[i]].name);
            }
            rc = rc ? rc : put(&s->sql, n > 1 ? ") IN (" : " IN (");
        }
    }
    int paren = ins || upd || n > 1;
    if (rc == 0 && paren)
        rc = sl_buf_append_u8(&s->sql, '(');
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (i > 0)
            rc = sl_buf_append_u8(&s->sql, ',');
        rc = rc ? rc : put_value(s->mysql, &s->sql, doc, vals[i],
                                 tm->cols[cols[i]].cls, &vtmp, err,
                                 sizeof err);
    }
    if (rc == 0 && paren)
        rc = sl_buf_append_u8(&s->sql, ')');
    sl_buf_free(&vtmp);
    if (rc != 0) {
        /* Let the single-row path report it. */
        s->sql.len = mark;
        if (!same)
            s->open_kind = -1;
        return rc == SL_ENOMEM ? rc : 0;
    }
    if (same) {
        s->stmts[s->nstmts - 1].nrows++;
    } else {
        rc = push_stmt(s, offset, rowno, kind, tm, mark);
        if (rc != 0)
            return rc;
        s->open_kind = kind;
        s->open_tm = tm;
        memcpy(s->open_cols, cols, n * sizeof cols[0]);
        s->nopen_cols = n;
    }
    s->group_rows++;
    s->group_ins += ins;
    s->group_upd += upd;
    s->group_del += del;
    /* Upsert runs are also staged for bulk execution; at BULK_MIN rows the
     * run switches to it. */
    if (s->bulk_server && (ins || upd)) {
        if (!same)
            bulk_begin(s, tm, kind, n, offset, rowno);
        if (s->bk.state == 1) {
            rc = bulk_add(s, doc, cols, vals, n);
            if (rc < 0)
                return rc;
            if (rc == 1)
                s->bk.state = 0;
            else if (s->bk.nrows >= BULK_MIN && (rc = bulk_switch(s)) != 0)
                return rc;
        }
    } else if (!same) {
        s->bk.state = 0;
    }
    return 1;
}

int sl_mysql_sink_kick(sl_mysql_sink_t *s) {
    if (!s->in_group || s->mysql == NULL)
        return 0;
    if (s->bk.state == 2)
        return bulk_emit(s, 1);
    return send_batch(s);
}

int sl_mysql_sink_row(sl_mysql_sink_t *s, const char *json, size_t len,
                      uint64_t offset) {
    if (!s->in_group || s->mysql == NULL)
        return seterr(s, SL_EAGAIN, "no open group");
    int rc = sl_jr_parse(&s->doc, json, len);
    if (rc != 0) {
        s->failed_offset = offset;
        sl_mysql_sink_abort(s);
        return seterr(s, SL_EDB, "partition %s offset %llu: not a change "
                      "event: byte %zu: %s", s->part,
                      (unsigned long long)offset, s->doc.err_pos, s->doc.err);
    }
    return sl_mysql_sink_row_doc(s, &s->doc, offset);
}

int sl_mysql_sink_row_doc(sl_mysql_sink_t *s, const sl_jr_doc_t *doc,
                          uint64_t offset) {
    sl_event_t ev;
    sl_event_index(doc, &ev);
    return sl_mysql_sink_row_ev(s, doc, &ev, offset);
}

/* The known table whose source names are the (unescaped) strings db and
 * table of doc, or NULL: the common case, without copying the names. */
static tmeta_t *known_table(sl_mysql_sink_t *s, const sl_jr_doc_t *doc,
                            uint32_t db, uint32_t table) {
    const sl_jr_tok_t *d = sl_jr_tok(doc, db), *t = sl_jr_tok(doc, table);
    if (d->type != SL_JR_STRING || t->type != SL_JR_STRING || d->escaped ||
        t->escaped)
        return NULL;
    const char *dp = doc->text + d->start, *tp = doc->text + t->start;
    for (size_t i = 0; i < s->ntables; i++) {
        tmeta_t *tm = s->tables[i];
        if (tm->table_len == t->len && tm->src_db_len == d->len &&
            memcmp(tm->table, tp, t->len) == 0 &&
            memcmp(tm->src_db, dp, d->len) == 0)
            return tm;
    }
    return NULL;
}

/* The table of a row event whose names are not plain strings known
 * already: unescaped, and looked up or learned from the target. */
static int find_table(sl_mysql_sink_t *s, const sl_jr_doc_t *doc, uint32_t db,
                      uint32_t table, uint64_t offset, tmeta_t **out) {
    sl_buf_reset(&s->tmp);
    sl_buf_reset(&s->tmp2);
    if (db == SL_JR_NONE || table == SL_JR_NONE ||
        sl_jr_unescape(doc, db, &s->tmp) != 0 ||
        sl_jr_unescape(doc, table, &s->tmp2) != 0 ||
        sl_buf_append_u8(&s->tmp, 0) != 0 ||
        sl_buf_append_u8(&s->tmp2, 0) != 0) {
        s->failed_offset = offset;
        return seterr(s, SL_EDB, "partition %s offset %llu: row event "
                      "without db or table", s->part,
                      (unsigned long long)offset);
    }
    int rc = table_meta(s, (const char *)s->tmp.data,
                        (const char *)s->tmp2.data, out);
    if (rc == SL_EAGAIN)
        s->in_group = 0;
    return rc;
}

int sl_mysql_sink_row_ev(sl_mysql_sink_t *s, const sl_jr_doc_t *doc,
                         const sl_event_t *ev, uint64_t offset) {
    if (!s->in_group || s->mysql == NULL)
        return seterr(s, SL_EAGAIN, "no open group");
    int rc = 0;
    uint32_t kind = ev->kind;
    if (kind == SL_JR_NONE) {
        s->failed_offset = offset;
        return seterr(s, SL_EDB, "partition %s offset %llu: event without "
                      "kind", s->part, (unsigned long long)offset);
    }
    if (sl_jr_str_eq(doc, kind, "ddl", 3)) {
        s->stats.ddl_skipped++;
        sl_log_warn("DDL not replayed", "part=%s offset=%llu", s->part,
                    (unsigned long long)offset);
        return 0;
    }
    if (sl_jr_str_eq(doc, kind, "statement", 9)) {
        s->failed_offset = offset;
        return seterr(s, SL_EDB, "partition %s offset %llu: statement-based "
                      "change cannot be applied (set binlog_format=ROW)",
                      s->part, (unsigned long long)offset);
    }
    if (!sl_jr_str_eq(doc, kind, "row", 3))
        return 0;
    uint32_t db = ev->db, table = ev->table, rowi = ev->row;
    uint64_t rowno = 0;
    if (rowi != SL_JR_NONE)
        (void)sl_jr_u64(doc, rowi, &rowno);
    tmeta_t *tm = db != SL_JR_NONE && table != SL_JR_NONE
                      ? known_table(s, doc, db, table)
                      : NULL;
    if (tm == NULL)
        rc = find_table(s, doc, db, table, offset, &tm);
    if (rc != 0)
        return rc;
    if (tm->missing) {
        s->failed_offset = offset;
        /* Forget it, so that a table created later is seen. */
        char name[300];
        snprintf(name, sizeof name, "%s.%s", tm->dst_db, tm->table);
        free_tables(s);
        sl_mysql_sink_abort(s);
        return seterr(s, SL_EDB, "partition %s offset %llu row %llu: target "
                      "table %s does not exist", s->part,
                      (unsigned long long)offset,
                      (unsigned long long)rowno, name);
    }
    if (!s->careful) {
        rc = try_merge(s, doc, ev, tm, offset, rowno);
        if (rc < 0)
            return rc;
        if (rc == 1)
            return s->sql.len >= s->opts.batch_bytes ? send_batch(s) : 0;
    }
    rc = close_open(s);
    if (rc != 0)
        return rc;
    size_t mark = s->sql.len;
    if (s->nstmts > 0)
        rc = sl_buf_append_u8(&s->sql, ';');
    if (rc != 0)
        return rc;
    int skind = 0;
    char err[300] = "";
    sl_buf_t vtmp = SL_BUF_INIT;
    rc = build_row(s->mysql, &s->sql, doc, tm, s->opts.drift, &skind,
                   &vtmp, err, sizeof err);
    sl_buf_free(&vtmp);
    if (rc != 0) {
        s->sql.len = mark;
        s->failed_offset = offset;
        sl_mysql_sink_abort(s);
        return seterr(s, rc == SL_ENOMEM ? SL_ENOMEM : SL_EDB,
                      "partition %s offset %llu row %llu: %s.%s: %s", s->part,
                      (unsigned long long)offset, (unsigned long long)rowno,
                      tm->dst_db, tm->table, err);
    }
    rc = push_stmt(s, offset, rowno, skind, tm, mark);
    if (rc != 0)
        return rc;
    stmt_t *st = &s->stmts[s->nstmts - 1];
    s->group_rows++;
    s->group_ins += skind == ST_INSERT;
    s->group_upd += skind == ST_UPDATE;
    s->group_del += skind == ST_DELETE;
    if (s->careful) {
        /* One statement per round trip; a missing updated row is inserted
         * from its after image right away (overwrite). */
        rc = flush(s);
        if (rc == 0 && skind == ST_UPDATE &&
            s->opts.drift == SL_DRIFT_OVERWRITE && s->group_drift > 0 &&
            rows_matched(s->mysql) == 0) {
            sl_buf_reset(&s->sql);
            err[0] = '\0';
            sl_buf_t t2 = SL_BUF_INIT;
            rc = build_upsert_after(s->mysql, &s->sql, doc, tm, &t2, err,
                                    sizeof err);
            sl_buf_free(&t2);
            if (rc == 0) {
                s->stmts[0] = *st;
                s->stmts[0].kind = ST_INSERT;
                s->nstmts = 1;
                rc = flush(s);
            }
        }
        return rc;
    }
    if (s->sql.len >= s->opts.batch_bytes)
        return send_batch(s);
    return 0;
}

/* Upserts the offsets row outside a group (autocommit). */
static int upsert_offset(sl_mysql_sink_t *s, uint64_t next, uint64_t ntrx,
                         uint64_t nrows, const char *last_trx) {
    sl_buf_t q = SL_BUF_INIT;
    int rc = put(&q, "INSERT INTO sluice_offsets (group_name, topic, part, "
                     "next_offset, trx_applied, rows_applied, last_trx) VALUES (");
    rc = rc ? rc : lit(s, &q, s->group);
    rc = rc ? rc : sl_buf_append_u8(&q, ',');
    rc = rc ? rc : lit(s, &q, s->topic);
    rc = rc ? rc : sl_buf_append_u8(&q, ',');
    rc = rc ? rc : lit(s, &q, s->part);
    rc = rc ? rc : sl_buf_printf(&q, ",%llu,%llu,%llu,",
                                 (unsigned long long)next,
                                 (unsigned long long)ntrx,
                                 (unsigned long long)nrows);
    char trx[256];
    snprintf(trx, sizeof trx, "%s", last_trx ? last_trx : "");
    rc = rc ? rc : lit(s, &q, trx);
    rc = rc ? rc : put(&q, ") ON DUPLICATE KEY UPDATE "
                           "next_offset=VALUES(next_offset), "
                           "trx_applied=trx_applied+VALUES(trx_applied), "
                           "rows_applied=rows_applied+VALUES(rows_applied), "
                           "last_trx=VALUES(last_trx), "
                           "updated_at=CURRENT_TIMESTAMP(6)");
    rc = rc ? rc : sl_buf_append_u8(&q, 0);
    if (rc == 0)
        rc = exec(s, (const char *)q.data);
    sl_buf_free(&q);
    return rc;
}

int sl_mysql_sink_ddl(sl_mysql_sink_t *s, const sl_jr_doc_t *doc,
                      uint64_t offset, volatile int *stop) {
    if (s->in_group)
        return seterr(s, SL_EINVAL, "DDL inside an open group");
    s->failed_offset = UINT64_MAX;
    s->failed_drift = 0;
    uint32_t sqlt = sl_jr_get(doc, 0, "sql");
    uint32_t db = sl_jr_get(doc, 0, "db");
    sl_buf_t sql = SL_BUF_INIT, dbname = SL_BUF_INIT, use = SL_BUF_INIT;
    int rc = 0;
    if (sqlt == SL_JR_NONE || sl_jr_type(doc, sqlt) != SL_JR_STRING ||
        sl_jr_unescape(doc, sqlt, &sql) != 0 || sl_buf_append_u8(&sql, 0)) {
        s->failed_offset = offset;
        rc = seterr(s, SL_EDB, "partition %s offset %llu: DDL event without "
                    "sql", s->part, (unsigned long long)offset);
        goto out;
    }
    if (db != SL_JR_NONE && sl_jr_type(doc, db) == SL_JR_STRING) {
        if (sl_jr_unescape(doc, db, &dbname) != 0 ||
            sl_buf_append_u8(&dbname, 0) != 0) {
            rc = SL_ENOMEM;
            goto out;
        }
        rc = put(&use, "USE ");
        rc = rc ? rc : put_ident(&use, dst_db_for(s, (const char *)
                                                         dbname.data));
        rc = rc ? rc : sl_buf_append_u8(&use, 0);
        if (rc != 0)
            goto out;
    }
    rc = ensure_conn(s, stop);
    if (rc != 0)
        goto out;
    if (use.len > 0 && (rc = exec(s, (const char *)use.data)) != 0) {
        if (rc == SL_EDB)
            s->failed_offset = offset;
        goto out;
    }
    if (mysql_real_query(s->mysql, (const char *)sql.data, sql.len - 1) !=
        0) {
        unsigned e = mysql_errno(s->mysql);
        int transient = is_transient(e, mysql_error(s->mysql));
        if (!transient)
            s->failed_offset = offset;
        rc = seterr(s, transient ? SL_EAGAIN : SL_EDB,
                    "partition %s offset %llu: DDL replay failed: error %u: "
                    "%s", s->part, (unsigned long long)offset, e,
                    mysql_error(s->mysql));
        if (transient)
            disconnect(s);
        else {
            sl_buf_t back = SL_BUF_INIT;
            if (put(&back, "USE ") == 0 && put_ident(&back, s->opts.url.db) ==
                0 && sl_buf_append_u8(&back, 0) == 0)
                (void)exec(s, (const char *)back.data);
            sl_buf_free(&back);
        }
        goto out;
    }
    MYSQL_RES *res = mysql_store_result(s->mysql);
    if (res)
        mysql_free_result(res);
    /* Columns may have changed. */
    free_tables(s);
    sl_buf_reset(&use);
    rc = put(&use, "USE ");
    rc = rc ? rc : put_ident(&use, s->opts.url.db);
    rc = rc ? rc : sl_buf_append_u8(&use, 0);
    if (rc == 0)
        rc = exec(s, (const char *)use.data);
    if (rc == 0)
        rc = upsert_offset(s, offset + 1, 1, 0, "ddl");
    if (rc == 0) {
        s->stats.ddl_replayed++;
        sl_log_info("DDL replayed", "part=%s offset=%llu", s->part,
                    (unsigned long long)offset);
    }
out:
    sl_buf_free(&sql);
    sl_buf_free(&dbname);
    sl_buf_free(&use);
    return rc;
}

int sl_mysql_sink_commit(sl_mysql_sink_t *s, uint64_t next_offset,
                         uint64_t ntrx, const char *last_trx,
                         volatile int *stop) {
    if (!s->in_group || s->mysql == NULL)
        return seterr(s, SL_EAGAIN, "no open group");
    int rc = flush(s);
    if (rc != 0)
        return rc;
    sl_buf_t q = SL_BUF_INIT;
    rc = put(&q, "INSERT INTO sluice_offsets (group_name, topic, part, "
                 "next_offset, trx_applied, rows_applied, last_trx) VALUES (");
    rc = rc ? rc : lit(s, &q, s->group);
    rc = rc ? rc : sl_buf_append_u8(&q, ',');
    rc = rc ? rc : lit(s, &q, s->topic);
    rc = rc ? rc : sl_buf_append_u8(&q, ',');
    rc = rc ? rc : lit(s, &q, s->part);
    rc = rc ? rc : sl_buf_printf(&q, ",%llu,%llu,%llu,",
                                 (unsigned long long)next_offset,
                                 (unsigned long long)ntrx,
                                 (unsigned long long)s->group_rows);
    char trx[256];
    snprintf(trx, sizeof trx, "%s", last_trx ? last_trx : "");
    rc = rc ? rc : lit(s, &q, trx);
    rc = rc ? rc : put(&q, ") ON DUPLICATE KEY UPDATE "
                           "next_offset=VALUES(next_offset), "
                           "trx_applied=trx_applied+VALUES(trx_applied), "
                           "rows_applied=rows_applied+VALUES(rows_applied), "
                           "last_trx=VALUES(last_trx), "
                           "updated_at=CURRENT_TIMESTAMP(6)");
    rc = rc ? rc : sl_buf_append_u8(&q, 0);
    if (rc != 0) {
        sl_buf_free(&q);
        sl_mysql_sink_abort(s);
        return rc;
    }
    rc = exec(s, (const char *)q.data);
    sl_buf_free(&q);
    if (rc != 0) {
        if (rc != SL_EAGAIN)
            sl_mysql_sink_abort(s);
        return rc;
    }
    uint64_t t0 = sl_mono_ns();
    int cq = mysql_real_query(s->mysql, "COMMIT", 6);
    s->stats.wait_ns += sl_mono_ns() - t0;
    if (cq != 0) {
        unsigned e = mysql_errno(s->mysql);
        if (!is_transient(e, mysql_error(s->mysql))) {
            rc = seterr(s, SL_EDB, "COMMIT failed: error %u: %s", e,
                        mysql_error(s->mysql));
            sl_mysql_sink_abort(s);
            return rc;
        }
        /* The outcome is unknown: the server may have committed before
         * the connection broke. The offsets row tells. */
        disconnect(s);
        for (;;) {
            uint64_t cur;
            int found;
            rc = ensure_conn(s, stop);
            if (rc == 0)
                rc = read_offset(s, "", &cur, &found);
            if (rc == 0) {
                if (found && cur == next_offset)
                    break; /* It did commit. */
                return seterr(s, SL_EAGAIN, "COMMIT lost (error %u); the "
                              "group was not applied and is redone", e);
            }
            if (rc != SL_EAGAIN)
                return rc;
            if (sl_mysql_sink_wait(s, stop))
                return SL_ESTOPPED;
        }
    }
    s->in_group = 0;
    sl_backoff_reset(&s->bo);
    s->stats.groups++;
    s->stats.trx += ntrx;
    s->stats.rows += s->group_rows;
    s->stats.inserts += s->group_ins;
    s->stats.updates += s->group_upd;
    s->stats.deletes += s->group_del;
    s->stats.drift += s->group_drift;
    return 0;
}
