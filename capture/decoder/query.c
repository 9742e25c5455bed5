/*
 * QUERY events (2), MariaDB's QUERY_COMPRESSED (165) and
 * EXECUTE_LOAD_QUERY (18): the status variables, and what the statement
 * is (a transaction boundary, a DDL, or another statement).
 *
 * Layout: post-header thread_id u32, exec_time u32, db_len u8,
 * error_code u16, status_vars_len u16 (binlog v4; 13 bytes, more for
 * EXECUTE_LOAD_QUERY), then the status variables (code u8 and a value
 * whose size the code decides), the database name and a NUL, and the
 * statement text up to the end of the event.
 */
#include "internal.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

static int parse_status_vars(sl_binlog_t *dec, const uint8_t *p, size_t n,
                             sl_query_t *q) {
    sl_reader_t rd;
    sl_reader_init(&rd, p, n);
    while (sl_reader_left(&rd) > 0) {
        uint8_t code = 0;
        sl_rd_u8(&rd, &code);
        size_t skip;
        uint8_t l1, l2;
        switch (code) {
        case 0: skip = 4; break; /* FLAGS2 */
        case 1:                  /* SQL_MODE */
            if (sl_rd_u64le(&rd, &q->sql_mode) != 0)
                goto trunc;
            q->has_sql_mode = 1;
            continue;
        case 2: /* CATALOG (old) */
            if (sl_rd_u8(&rd, &l1) != 0)
                goto trunc;
            skip = (size_t)l1 + 1;
            break;
        case 3: skip = 4; break; /* AUTO_INCREMENT */
        case 4:                  /* CHARSET */
            if (sl_reader_left(&rd) < 6)
                goto trunc;
            q->client_cs = sl_get_u16le(rd.p);
            skip = 6;
            break;
        case 5: /* TIME_ZONE */
            if (sl_rd_u8(&rd, &l1) != 0 || sl_reader_left(&rd) < l1)
                goto trunc;
            q->tz = rd.p;
            q->tz_len = l1;
            skip = l1;
            break;
        case 6: /* CATALOG_NZ */
            if (sl_rd_u8(&rd, &l1) != 0)
                goto trunc;
            skip = l1;
            break;
        case 7: skip = 2; break;  /* LC_TIME_NAMES */
        case 8: skip = 2; break;  /* CHARSET_DATABASE */
        case 9: skip = 8; break;  /* TABLE_MAP_FOR_UPDATE */
        case 10: skip = 4; break; /* MASTER_DATA_WRITTEN */
        case 11:                  /* INVOKER */
            if (sl_rd_u8(&rd, &l1) != 0 || sl_rd_skip(&rd, l1) != 0 ||
                sl_rd_u8(&rd, &l2) != 0)
                goto trunc;
            skip = l2;
            break;
        case 12: { /* UPDATED_DB_NAMES */
            if (sl_rd_u8(&rd, &l1) != 0)
                goto trunc;
            if (l1 == 254) /* OVER_MAX_DBS_IN_EVENT_MTS: no names. */
                continue;
            for (unsigned i = 0; i < l1; i++) {
                const uint8_t *z = memchr(rd.p, 0, sl_reader_left(&rd));
                if (z == NULL)
                    goto trunc;
                rd.p = z + 1;
            }
            continue;
        }
        case 13: skip = 3; break;  /* MICROSECONDS */
        case 16: skip = 1; break;  /* EXPLICIT_DEFAULTS_TS */
        case 17: skip = 8; break;  /* DDL_LOGGED_WITH_XID */
        case 18: skip = 2; break;  /* DEFAULT_COLL_UTF8MB4 */
        case 19: skip = 1; break;  /* SQL_REQUIRE_PK */
        case 20: skip = 1; break;  /* DEFAULT_TABLE_ENCR */
        case 128: skip = 3; break; /* MariaDB HRNOW */
        case 129: skip = 8; break; /* MariaDB XID */
        case 130: skip = 1; break; /* MariaDB GTID_FLAGS3 */
        case 131:                  /* MariaDB CS_COLLATIONS */
            if (sl_rd_u8(&rd, &l1) != 0)
                goto trunc;
            skip = (size_t)l1 * 4;
            break;
        default:
            return sl__dec_fail(dec, SL_EUNSUPPORTED,
                                "unknown query status variable %u at "
                                "offset %zu of the status block",
                                code, (size_t)(rd.p - 1 - p));
        }
        if (sl_rd_skip(&rd, skip) != 0)
            goto trunc;
    }
    return 0;
trunc:
    return sl__dec_fail(dec, SL_ECORRUPT,
                        "query status variables truncated (block of "
                        "%zu bytes)",
                        n);
}

static int word_is(const uint8_t *s, size_t n, const char *w) {
    size_t wl = strlen(w);
    if (n < wl || strncasecmp((const char *)s, w, wl) != 0)
        return 0;
    return n == wl || !(isalnum(s[wl]) || s[wl] == '_');
}

/* Skips spaces and comments (but not MySQL's executable comments
 * "/ *!" which carry the statement itself) at the start of a statement. */
static size_t sql_lead(const uint8_t *s, size_t n) {
    size_t i = 0;
    for (int guard = 0; guard < 64 && i < n; guard++) {
        while (i < n && isspace(s[i]))
            i++;
        if (i + 1 < n && s[i] == '/' && s[i + 1] == '*' &&
            !(i + 2 < n && s[i + 2] == '!')) {
            const uint8_t *e = memmem(s + i + 2, n - i - 2, "*/", 2);
            if (e == NULL)
                return i;
            i = (size_t)(e - s) + 2;
            continue;
        }
        if (i + 2 < n && s[i] == '/' && s[i + 1] == '*' && s[i + 2] == '!') {
            /* "/ *!50001 CREATE ..." : skip the marker and version. */
            i += 3;
            while (i < n && isdigit(s[i]))
                i++;
            continue;
        }
        if (i + 1 < n && s[i] == '-' && s[i + 1] == '-') {
            const uint8_t *e = memchr(s + i, '\n', n - i);
            i = e ? (size_t)(e - s) + 1 : n;
            continue;
        }
        if (i < n && s[i] == '#') {
            const uint8_t *e = memchr(s + i, '\n', n - i);
            i = e ? (size_t)(e - s) + 1 : n;
            continue;
        }
        break;
    }
    return i;
}

/* Where the statement proper starts after MariaDB's prefix "SET
 * STATEMENT var = value [, ...] FOR", which the server logs as written
 * (the first FOR outside quotes and parentheses); 0 without one. */
static size_t set_statement_body(const uint8_t *s, size_t n) {
    if (!word_is(s, n, "SET"))
        return 0;
    size_t i = 3;
    while (i < n && isspace(s[i]))
        i++;
    if (!word_is(s + i, n - i, "STATEMENT"))
        return 0;
    int depth = 0;
    for (i += 9; i < n; i++) {
        uint8_t c = s[i];
        if (c == '\'' || c == '"' || c == '`') {
            for (i++; i < n && s[i] != c; i++)
                if (s[i] == '\\' && c != '`')
                    i++;
            continue;
        }
        if (c == '(') {
            depth++;
        } else if (c == ')' && depth > 0) {
            depth--;
        } else if (depth == 0 && !(isalnum(s[i - 1]) || s[i - 1] == '_') &&
                   word_is(s + i, n - i, "FOR")) {
            i += 3;
            return i + sql_lead(s + i, n - i);
        }
    }
    return 0;
}

static int is_ddl(const uint8_t *s, size_t n) {
    static const char *const kw[] = {"CREATE", "ALTER",    "DROP",
                                     "RENAME", "TRUNCATE", NULL};
    size_t body = set_statement_body(s, n);
    s += body;
    n -= body;
    for (int i = 0; kw[i] != NULL; i++)
        if (word_is(s, n, kw[i]))
            return 1;
    return 0;
}

int sl__dec_query(sl_binlog_t *dec, unsigned type, const uint8_t *body,
                  size_t len, int emit) {
    unsigned ph = sl__dec_post_header(dec, type);
    if (ph < 11 || len < ph)
        return sl__dec_fail(dec, SL_ECORRUPT,
                            "query event body of %zu bytes, post-header "
                            "%u",
                            len, ph);
    sl_query_t q;
    memset(&q, 0, sizeof(q));
    q.db_len = body[8];
    q.error_code = sl_get_u16le(body + 9);
    size_t svlen = ph >= 13 ? sl_get_u16le(body + 11) : 0;
    if (len < ph + svlen + q.db_len + 1)
        return sl__dec_fail(dec, SL_ECORRUPT,
                            "query event of %zu bytes cannot hold %zu "
                            "bytes of status variables and a %zu-byte "
                            "database name",
                            len, svlen, q.db_len);
    int rc = parse_status_vars(dec, body + ph, svlen, &q);
    if (rc != 0)
        return rc;
    q.db = body + ph + svlen;
    if (q.db[q.db_len] != 0)
        return sl__dec_fail(dec, SL_ECORRUPT,
                            "database name is not NUL-terminated");
    q.sql = q.db + q.db_len + 1;
    q.sql_len = len - ph - svlen - q.db_len - 1;
    if (type == SL_EV_EXECUTE_LOAD_QUERY) {
        /* The post-header ends with file_id u32, start u32, end u32,
         * dup_handling u8 after the QUERY fields. */
        if (ph < 13 + 13)
            return sl__dec_fail(dec, SL_ECORRUPT,
                                "EXECUTE_LOAD_QUERY post-header of %u "
                                "bytes",
                                ph);
    }
    if (type == SL_EV_MARIA_QUERY_COMPRESSED) {
        rc = sl__dec_inflate(dec, q.sql, q.sql_len, &dec->zbuf);
        if (rc != 0)
            return rc;
        q.sql = dec->zbuf.data;
        q.sql_len = dec->zbuf.len;
    }
    /* Strip a trailing NUL some old servers leave. */
    while (q.sql_len > 0 && q.sql[q.sql_len - 1] == 0)
        q.sql_len--;
    size_t lead = sql_lead(q.sql, q.sql_len);
    const uint8_t *s = q.sql + lead;
    size_t sn = q.sql_len - lead;
    if (word_is(s, sn, "BEGIN") ||
        (word_is(s, sn, "XA") && sn > 3 && word_is(s + 3, sn - 3, "START"))) {
        uint64_t thread = (uint64_t)sl_get_u32le(body) + 1;
        if (dec->in_trx && dec->gtid_standalone == 0 && dec->mariadb &&
            dec->trx_row == 0) {
            /* A MariaDB GTID already opened this transaction. */
            dec->fthread = thread;
            return 0;
        }
        rc = sl__dec_trx_begin(dec, emit);
        dec->fthread = thread; /* debezium's source.thread. */
        return rc;
    }
    if (word_is(s, sn, "COMMIT"))
        return sl__dec_trx_end(dec, SL_CHANGE_COMMIT, emit, NULL, 0);
    if (word_is(s, sn, "ROLLBACK") && !(sn > 9 && word_is(s + 9, sn - 9, "TO")))
        return sl__dec_trx_end(dec, SL_CHANGE_ROLLBACK, emit, NULL, 0);
    if (word_is(s, sn, "XA")) {
        /* XA END inside the transaction; XA COMMIT / ROLLBACK of a
         * prepared transaction is a transaction of its own. */
        const uint8_t *w = s + 2;
        size_t wn = sn - 2;
        while (wn > 0 && isspace(*w)) {
            w++;
            wn--;
        }
        if (word_is(w, wn, "END"))
            return 0;
        if (word_is(w, wn, "PREPARE") && dec->in_trx)
            return sl__dec_trx_end(dec, SL_CHANGE_XA_PREPARE, emit, NULL, 0);
        if (word_is(w, wn, "COMMIT") || word_is(w, wn, "ROLLBACK")) {
            rc = emit ? sl__dec_emit_query(dec, SL_CHANGE_STATEMENT, &q) : 0;
            if (rc != 0)
                return rc;
            if (dec->in_trx)
                return sl__dec_trx_end(dec,
                                       word_is(w, wn, "COMMIT")
                                           ? SL_CHANGE_COMMIT
                                           : SL_CHANGE_ROLLBACK,
                                       emit, NULL, 0);
            return sl__dec_trx_end(dec, SL_CHANGE_COMMIT, 0, NULL, 0);
        }
    }
    sl_change_kind_t kind = is_ddl(s, sn) ? SL_CHANGE_DDL : SL_CHANGE_STATEMENT;
    if (!dec->in_trx)
        dec->trx_pos = dec->pos;
    rc = emit ? sl__dec_emit_query(dec, kind, &q) : 0;
    if (rc != 0)
        return rc;
    /* A statement outside BEGIN...COMMIT is a transaction by itself. A
     * DDL always is (it commits implicitly), even when a MariaDB GTID
     * said "standalone". */
    if (!dec->in_trx || dec->gtid_standalone) {
        dec->trx_seq++;
        dec->stats.transactions++;
        sl__dec_trx_reset(dec);
        sl__dec_tablemap_release_all(dec);
    }
    return 0;
}
