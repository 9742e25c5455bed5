/*
 * The snapshot worker: a thread with its own client session to the source
 * that runs one chunk job at a time (internal.h): the low watermark write,
 * the chunk SELECT, the hand-over of the rendered rows, the high watermark
 * write. It never touches the capture thread's state; the capture thread
 * reads a job's results only once its state says they are complete, so
 * waiting on the source here never delays the stream. The capture thread
 * may hand over the table's next chunk while this one's high watermark is
 * being written: it runs after, so its low watermark follows this high
 * watermark in the binlog.
 *
 * Watermarks are committed writes (autocommit) of one row of
 * sluice.watermark, keyed by the capture's name:
 *   CREATE TABLE sluice.watermark (name VARCHAR(191) PRIMARY KEY,
 *                                  mark VARCHAR(96) NOT NULL)
 * A write's COMMIT has returned before the chunk is read (low) and after
 * the rows are handed over (high), so with ordered commits every
 * transaction before the low watermark in the binlog is visible to the
 * read, and the capture holds the rows when it meets the high one.
 */
#include "internal.h"

#include "error.h"
#include "hash.h"
#include "json.h"
#include "log.h"

#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct sl__snap_worker_s {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int quit;
    sl__snap_job_t *job; /* The job to run, or NULL. */
    char *host, *user, *password, *tls_ca, *name;
    uint16_t port;
    int tls, tls_insecure;
    uint32_t connect_timeout_ms;
    MYSQL *mysql;
    unsigned pause_ms; /* Test hook: a pause before the high watermark. */
    uint64_t max_threads_running, max_lag_s;
    sl_buf_t sql;
    sl_buf_t scratch;
};

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

static uint64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Sets the job's error from a session's error code and message: a broken
 * connection is SL_ECONN (the capture retries the chunk), a missing
 * privilege SL_EAUTH, anything else SL_EDB. */
static int fail_with(sl__snap_worker_t *w, sl__snap_job_t *job,
                     const char *what, unsigned code, const char *msg) {
    int err = SL_EDB;
    if ((code >= 2000 && code < 3000) || code == 1053 /* shutdown */ ||
        code == 1927 /* killed */)
        err = SL_ECONN;
    else if (code == 1142 || code == 1044 || code == 1227 || code == 1143)
        err = SL_EAUTH;
    snprintf(job->errmsg, sizeof job->errmsg, "%s: %s (error %u)", what, msg,
             code);
    job->err = err;
    if (err == SL_ECONN) {
        mysql_close(w->mysql);
        w->mysql = NULL;
    }
    return err;
}

static int fail(sl__snap_worker_t *w, sl__snap_job_t *job, const char *what) {
    return fail_with(w, job, what, mysql_errno(w->mysql),
                     mysql_error(w->mysql));
}

static int query(sl__snap_worker_t *w, sl__snap_job_t *job, const char *sql,
                 const char *what) {
    if (mysql_query(w->mysql, sql) != 0)
        return fail(w, job, what);
    MYSQL_RES *res = mysql_store_result(w->mysql);
    if (res != NULL)
        mysql_free_result(res);
    return 0;
}

void sl__snap_session_options(MYSQL *mysql, uint32_t connect_timeout_ms,
                              int tls, int tls_insecure, const char *tls_ca) {
    unsigned timeout = (connect_timeout_ms ? connect_timeout_ms : 10000) / 1000;
    mysql_options(mysql, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    unsigned rw = 600;
    mysql_options(mysql, MYSQL_OPT_READ_TIMEOUT, &rw);
    mysql_options(mysql, MYSQL_OPT_WRITE_TIMEOUT, &rw);
    mysql_options(mysql, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    if (tls) {
        my_bool on = 1, verify = !tls_insecure;
        mysql_options(mysql, MYSQL_OPT_SSL_ENFORCE, &on);
        mysql_options(mysql, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify);
        if (tls_ca != NULL)
            mysql_options(mysql, MYSQL_OPT_SSL_CA, tls_ca);
    }
}

/* Connects and prepares the session and the watermark table. */
static int connect_source(sl__snap_worker_t *w, sl__snap_job_t *job) {
    w->mysql = mysql_init(NULL);
    if (w->mysql == NULL) {
        job->err = SL_ENOMEM;
        snprintf(job->errmsg, sizeof job->errmsg, "out of memory");
        return SL_ENOMEM;
    }
    sl__snap_session_options(w->mysql, w->connect_timeout_ms, w->tls,
                             w->tls_insecure, w->tls_ca);
    if (mysql_real_connect(w->mysql, w->host, w->user, w->password, NULL,
                           w->port, NULL, 0) == NULL) {
        int err = fail(w, job, "snapshot: connecting to the source");
        if (w->mysql != NULL) {
            mysql_close(w->mysql);
            w->mysql = NULL;
        }
        return err == SL_EDB ? SL_ECONN : err;
    }
    int err;
    /* TIMESTAMP values in UTC, as the binlog carries them; a consistent
     * read per statement (each chunk SELECT is one). */
    if ((err = query(w, job, "SET SESSION time_zone = '+00:00'",
                     "snapshot: session settings")) != 0 ||
        (err = query(w, job,
                     "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
                     "snapshot: session settings")) != 0)
        return err;
    if (mysql_query(w->mysql, "SHOW GLOBAL VARIABLES LIKE "
                              "'binlog_order_commits'") == 0) {
        MYSQL_RES *res = mysql_store_result(w->mysql);
        MYSQL_ROW row = res ? mysql_fetch_row(res) : NULL;
        int off = row != NULL && row[1] != NULL && strcmp(row[1], "OFF") == 0;
        if (res != NULL)
            mysql_free_result(res);
        if (off) {
            snprintf(job->errmsg, sizeof job->errmsg,
                     "snapshot: binlog_order_commits is OFF on the source; "
                     "a chunk read could then miss a transaction the "
                     "binlog has already passed (rows lost): SET GLOBAL "
                     "binlog_order_commits = ON");
            job->err = SL_ECONFIG;
            return SL_ECONFIG;
        }
    }
    if (mysql_query(w->mysql, "CREATE DATABASE IF NOT EXISTS sluice") != 0 ||
        mysql_query(w->mysql,
                    "CREATE TABLE IF NOT EXISTS sluice.watermark ("
                    "name VARCHAR(191) NOT NULL PRIMARY KEY, "
                    "mark VARCHAR(96) NOT NULL) ENGINE=InnoDB") != 0) {
        err = fail(w, job,
                   "snapshot: creating the watermark table sluice.watermark "
                   "(capture needs CREATE, INSERT and UPDATE on the sluice "
                   "schema: GRANT CREATE, INSERT, UPDATE ON sluice.* TO "
                   "the capture user)");
        return err;
    }
    return 0;
}

/* Appends s as a hex literal (X'..'), with a utf8mb4 introducer for text,
 * so the comparison takes the column's collation. */
static void hex_literal(sl_buf_t *b, const void *s, size_t n, int text) {
    static const char hx[] = "0123456789ABCDEF";
    const uint8_t *p = s;
    sl_buf_append_str(b, text ? "_utf8mb4 X'" : "X'");
    for (size_t i = 0; i < n; i++) {
        sl_buf_append_u8(b, (uint8_t)hx[p[i] >> 4]);
        sl_buf_append_u8(b, (uint8_t)hx[p[i] & 15]);
    }
    sl_buf_append_u8(b, '\'');
    if (n == 0 && !text)
        sl_buf_append_str(b, ""); /* X'' is the empty binary string. */
}

static void ident(sl_buf_t *b, const char *name) {
    sl_buf_append_u8(b, '`');
    for (const char *p = name; *p; p++) {
        if (*p == '`')
            sl_buf_append_u8(b, '`');
        sl_buf_append_u8(b, (uint8_t)*p);
    }
    sl_buf_append_u8(b, '`');
}

/* The SQL literal of one rendered key value (token i of doc). */
static int literal(sl_buf_t *b, sl_buf_t *tmp, const sl_jr_doc_t *doc,
                   uint32_t i, sl__snap_kind_t kind) {
    size_t n;
    const char *raw = sl_jr_raw(doc, i, &n);
    switch (kind) {
    case SL__SNAP_NUM:
    case SL__SNAP_BIT:
        if (sl_jr_type(doc, i) != SL_JR_NUMBER)
            return SL_ECORRUPT;
        return sl_buf_append(b, raw, n);
    case SL__SNAP_DEC:
        /* Digits, compared as a DECIMAL (a quoted string would be
         * compared as a double and lose precision). */
        if (sl_jr_type(doc, i) != SL_JR_STRING)
            return SL_ECORRUPT;
        for (size_t k = 0; k < n; k++)
            if (!strchr("0123456789.-", raw[k]))
                return SL_ECORRUPT;
        return sl_buf_append(b, raw, n);
    case SL__SNAP_STR:
    case SL__SNAP_TIME:
        if (sl_jr_type(doc, i) != SL_JR_STRING)
            return SL_ECORRUPT;
        sl_buf_reset(tmp);
        if (sl_jr_unescape(doc, i, tmp) != 0)
            return SL_ECORRUPT;
        hex_literal(b, tmp->data, tmp->len, 1);
        return sl_buf_error(b);
    case SL__SNAP_BIN: {
        uint32_t v = sl_jr_get(doc, i, "base64");
        if (v == SL_JR_NONE)
            return SL_ECORRUPT;
        const char *text = sl_jr_raw(doc, v, &n);
        sl_buf_reset(tmp);
        if (sl_jr_base64_decode(tmp, text, n) != 0)
            return SL_ECORRUPT;
        hex_literal(b, tmp->data, tmp->len, 0);
        return sl_buf_error(b);
    }
    case SL__SNAP_JSON:
    case SL__SNAP_GEOM: return SL_EUNSUPPORTED;
    }
    return SL_EUNSUPPORTED;
}

/* SELECT cols FROM t WHERE (pk) > (last) [AND (where)] ORDER BY pk
 * LIMIT n: the next chunk in primary-key order, by a row-constructor
 * comparison that the PRIMARY index serves for composite keys too. */
static int build_select(sl__snap_worker_t *w, sl__snap_job_t *job) {
    sl_buf_t *b = &w->sql;
    sl_buf_reset(b);
    sl_buf_append_str(b, "SELECT ");
    for (size_t i = 0; i < job->ncols; i++) {
        if (i)
            sl_buf_append_str(b, ", ");
        ident(b, job->cols[i].name);
        if (job->cols[i].kind == SL__SNAP_BIT)
            sl_buf_append_str(b, "+0");
        sl_buf_append_str(b, sl__snap_fmt_select_suffix(job, i));
    }
    sl_buf_append_str(b, " FROM ");
    ident(b, job->db);
    sl_buf_append_u8(b, '.');
    ident(b, job->table);
    sl_buf_append_str(b, " FORCE INDEX (PRIMARY)");
    int cond = 0;
    if (job->last != NULL) {
        sl_jr_doc_t doc;
        sl_jr_init(&doc);
        int err = sl_jr_parse(&doc, job->last, strlen(job->last));
        if (err == 0 && (sl_jr_type(&doc, 0) != SL_JR_ARRAY ||
                         sl_jr_tok(&doc, 0)->count != job->npk))
            err = SL_ECORRUPT;
        sl_buf_append_str(b, " WHERE (");
        for (size_t k = 0; k < job->npk; k++) {
            if (k)
                sl_buf_append_str(b, ", ");
            ident(b, job->cols[job->pk[k]].name);
        }
        sl_buf_append_str(b, ") > (");
        uint32_t it = 1;
        for (size_t k = 0; k < job->npk && err == 0; k++) {
            if (k)
                sl_buf_append_str(b, ", ");
            err = literal(b, &w->scratch, &doc, it, job->cols[job->pk[k]].kind);
            it = sl_jr_tok(&doc, it)->next;
        }
        sl_buf_append_u8(b, ')');
        sl_jr_free(&doc);
        if (err != 0) {
            job->err = SL_ECORRUPT;
            snprintf(job->errmsg, sizeof job->errmsg,
                     "snapshot of %.100s.%.100s: the saved chunk position "
                     "%.200s cannot be read back as a key",
                     job->db, job->table, job->last);
            return job->err;
        }
        cond = 1;
    }
    if (job->where != NULL) {
        sl_buf_append_str(b, cond ? " AND (" : " WHERE (");
        sl_buf_append_str(b, job->where);
        sl_buf_append_u8(b, ')');
    }
    sl_buf_append_str(b, " ORDER BY ");
    for (size_t k = 0; k < job->npk; k++) {
        if (k)
            sl_buf_append_str(b, ", ");
        ident(b, job->cols[job->pk[k]].name);
    }
    sl_buf_printf(b, " LIMIT %zu", job->limit);
    const char *text;
    return sl_buf_cstr(b, &text);
}

static int valid_number(const char *s, size_t n) {
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!strchr("0123456789.-+eE", s[i]))
            return 0;
    return 1;
}

/* Renders one result row as the after image object into out; span[2i]
 * and span[2i+1] get where column i's value starts and ends in out (the
 * window key and the cursor are cut from these spans, so the row is never
 * parsed back). span may be NULL (a copy needs no key). */
/* A spatial value as the server stores it and sends it (the SRID, 4
 * bytes little-endian, then WKB), as the decoder writes it
 * (capture/decoder/types.c): {"srid":N,"wkb":"hex"}. */
static int geometry(sl_json_t *json, const uint8_t *p, size_t n) {
    static const char hx[] = "0123456789abcdef";
    if (n < 4)
        return SL_ECORRUPT;
    sl_buf_t b = SL_BUF_INIT;
    sl_buf_printf(&b, "{\"srid\":%u,\"wkb\":\"",
                  (unsigned)p[0] | (unsigned)p[1] << 8 | (unsigned)p[2] << 16 |
                      (unsigned)p[3] << 24);
    for (size_t i = 4; i < n; i++) {
        sl_buf_append_u8(&b, (uint8_t)hx[p[i] >> 4]);
        sl_buf_append_u8(&b, (uint8_t)hx[p[i] & 15]);
    }
    sl_buf_append_str(&b, "\"}");
    int rc = sl_buf_error(&b);
    if (rc == 0)
        sl_json_raw(json, (const char *)b.data, b.len);
    sl_buf_free(&b);
    return rc;
}

static int render_row(sl__snap_job_t *job, MYSQL_ROW row,
                      const unsigned long *lens, sl_buf_t *out, size_t *span) {
    sl_json_t json;
    sl_buf_reset(out);
    sl_json_init(&json, out);
    sl_json_obj_begin(&json);
    for (size_t i = 0; i < job->ncols; i++) {
        sl_json_key(&json, job->cols[i].name);
        /* After a key the writer puts the value and nothing before it. */
        if (span != NULL)
            span[2 * i] = out->len;
        const char *v = row[i];
        size_t n = lens[i];
        if (v == NULL) {
            sl_json_null(&json);
            if (span != NULL)
                span[2 * i + 1] = out->len;
            continue;
        }
        switch (job->cols[i].kind) {
        case SL__SNAP_NUM:
        case SL__SNAP_BIT:
            if (!valid_number(v, n))
                return SL_ECORRUPT;
            sl_json_raw(&json, v, n);
            break;
        case SL__SNAP_JSON: sl_json_raw(&json, v, n); break;
        case SL__SNAP_BIN:
            sl_json_obj_begin(&json);
            sl_json_key(&json, "base64");
            sl_json_base64(&json, v, n);
            sl_json_obj_end(&json);
            break;
        case SL__SNAP_DEC:
        case SL__SNAP_STR:
        case SL__SNAP_TIME: sl_json_strn(&json, v, n); break;
        case SL__SNAP_GEOM:
            if (geometry(&json, (const uint8_t *)v, n) != 0)
                return SL_ECORRUPT;
            break;
        }
        if (span != NULL)
            span[2 * i + 1] = out->len;
    }
    sl_json_obj_end(&json);
    return sl_json_error(&json);
}

int sl__snap_render_row(sl__snap_job_t *job, char **row,
                        const unsigned long *lens, sl_buf_t *out) {
    if (job->fcols == NULL)
        return render_row(job, row, lens, out, NULL);
    sl_buf_t tmp = SL_BUF_INIT;
    int rc = sl__snap_fmt_render(job, row, lens, out, NULL, &tmp);
    sl_buf_free(&tmp);
    return rc;
}

/* 1 when column i renders as a JSON string (its span holds the quotes). */
static int quoted(const sl__snap_job_t *job, size_t i, const char *text,
                  const size_t *span) {
    sl__snap_kind_t k = job->cols[i].kind;
    return (k == SL__SNAP_DEC || k == SL__SNAP_STR || k == SL__SNAP_TIME) &&
           span[2 * i + 1] - span[2 * i] >= 2 && text[span[2 * i]] == '"';
}

/* The window key of a rendered row, as sl__snap_key() cuts it from the
 * parsed image: each primary-key value's JSON text (a string's escaped
 * body without its quotes), then a NUL; *hash its FNV-1a hash. */
static int span_key(const sl__snap_job_t *job, const sl_buf_t *after,
                    const size_t *span, sl_buf_t *key, uint64_t *hash) {
    const char *text = (const char *)after->data;
    sl_buf_reset(key);
    for (size_t k = 0; k < job->npk; k++) {
        size_t i = job->pk[k];
        size_t a = span[2 * i], e = span[2 * i + 1];
        if (quoted(job, i, text, span)) {
            a++;
            e--;
        }
        sl_buf_append(key, text + a, e - a);
        sl_buf_append_u8(key, 0);
    }
    *hash = sl_hash_fnv1a(key->data, key->len);
    return sl_buf_error(key);
}

/* The cursor: the key of a row as a JSON array of the rendered values,
 * which literal() turns back into SQL. */
static int span_cursor(const sl__snap_job_t *job, const sl_buf_t *after,
                       const size_t *span, sl_buf_t *out) {
    const char *text = (const char *)after->data;
    sl_buf_reset(out);
    sl_buf_append_u8(out, '[');
    for (size_t k = 0; k < job->npk; k++) {
        size_t i = job->pk[k];
        if (k)
            sl_buf_append_u8(out, ',');
        sl_buf_append(out, text + span[2 * i], span[2 * i + 1] - span[2 * i]);
    }
    sl_buf_append_u8(out, ']');
    const char *c;
    return sl_buf_cstr(out, &c);
}

static int put_u32(sl_buf_t *b, size_t v) {
    uint32_t u = (uint32_t)v;
    return sl_buf_append(b, &u, sizeof u);
}

/* Runs the SELECT and stores the rendered rows with their keys. The rows
 * are streamed (mysql_use_result): rendered as they arrive, never copied
 * into a stored result first. read_us is the time the server took to send
 * them: the whole read less the time spent rendering. */
static int read_chunk(sl__snap_worker_t *w, sl__snap_job_t *job) {
    int err = build_select(w, job);
    if (err != 0)
        return err;
    uint64_t t0 = now_us(), render_us = 0;
    if (mysql_real_query(w->mysql, (const char *)w->sql.data, w->sql.len) != 0)
        return fail(w, job, "snapshot: reading a chunk");
    MYSQL_RES *res = mysql_use_result(w->mysql);
    if (res == NULL)
        return fail(w, job, "snapshot: reading a chunk");
    size_t *span = calloc(4 * (job->ncols ? job->ncols : 1), sizeof *span);
    if (span == NULL) {
        mysql_free_result(res);
        return SL_ENOMEM;
    }
    sl_buf_t after = SL_BUF_INIT, key = SL_BUF_INIT, fimg = SL_BUF_INIT;
    /* In another format the rows are stored, keyed and hashed in it
     * (render_fmt.c); the sluice rendering still gives the cursor. */
    sl_buf_t *img = job->fcols != NULL ? &fimg : &after;
    size_t *fspan = job->fcols != NULL ? span + 2 * job->ncols : span;
    MYSQL_ROW row;
    while (err == 0 && (row = mysql_fetch_row(res)) != NULL) {
        uint64_t r0 = now_us();
        unsigned long *lens = mysql_fetch_lengths(res);
        uint64_t hash = 0;
        if ((err = render_row(job, row, lens, &after, span)) != 0)
            break;
        if (job->fcols == NULL)
            err = span_key(job, &after, span, &key, &hash);
        else if ((err = sl__snap_fmt_render(job, row, lens, &fimg, fspan,
                                            &w->scratch)) == 0)
            err = sl__snap_fmt_span_key(job, &fimg, fspan, &key, &hash);
        if (err != 0)
            break;
        if ((err = put_u32(&job->rows, key.len)) != 0 ||
            (err = sl_buf_append(&job->rows, key.data, key.len)) != 0 ||
            (err = put_u32(&job->rows, img->len)) != 0 ||
            (err = sl_buf_append(&job->rows, img->data, img->len)) != 0 ||
            (err = sl_buf_append(&job->rows, &hash, sizeof hash)) != 0)
            break;
        job->nrows++;
        render_us += now_us() - r0;
    }
    /* The last row's key is the cursor (its after image is still in
     * after). */
    if (err == 0 && job->nrows > 0)
        err = span_cursor(job, &after, span, &job->last_read);
    if (err == SL_ECORRUPT)
        snprintf(job->errmsg, sizeof job->errmsg,
                 "snapshot of %.200s.%.200s: a value the server returned "
                 "could not be rendered",
                 job->db, job->table);
    else if (err != 0)
        snprintf(job->errmsg, sizeof job->errmsg,
                 "snapshot of %.200s.%.200s: %s", job->db, job->table,
                 sl_strerror(err));
    job->err = err;
    /* mysql_fetch_row() gives NULL at the end and on an error: which one,
     * the session says before the result is freed. */
    unsigned code = err == 0 ? mysql_errno(w->mysql) : 0;
    char msg[512];
    snprintf(msg, sizeof msg, "%s", code ? mysql_error(w->mysql) : "");
    uint64_t total = now_us() - t0;
    job->read_us = total > render_us ? total - render_us : 1;
    free(span);
    sl_buf_free(&after);
    sl_buf_free(&key);
    sl_buf_free(&fimg);
    /* Stopping early (an error) still reads the rest off the wire, so the
     * session stays usable. */
    mysql_free_result(res);
    if (code != 0)
        return fail_with(w, job, "snapshot: reading a chunk", code, msg);
    return err;
}

static int estimate(sl__snap_worker_t *w, sl__snap_job_t *job) {
    sl_buf_t *b = &w->sql;
    sl_buf_reset(b);
    sl_buf_append_str(b, "SELECT TABLE_ROWS FROM information_schema.TABLES "
                         "WHERE TABLE_SCHEMA = ");
    hex_literal(b, job->db, strlen(job->db), 1);
    sl_buf_append_str(b, " AND TABLE_NAME = ");
    hex_literal(b, job->table, strlen(job->table), 1);
    if (mysql_real_query(w->mysql, (const char *)b->data, b->len) != 0)
        return fail(w, job, "snapshot: estimating a table's rows");
    MYSQL_RES *res = mysql_store_result(w->mysql);
    MYSQL_ROW row = res ? mysql_fetch_row(res) : NULL;
    job->estimate = row && row[0] ? strtoull(row[0], NULL, 10) : 0;
    if (res != NULL)
        mysql_free_result(res);
    return 0;
}

static int watermark(sl__snap_worker_t *w, sl__snap_job_t *job,
                     const char *mark) {
    sl_buf_t *b = &w->sql;
    sl_buf_reset(b);
    sl_buf_append_str(b, "INSERT INTO sluice.watermark (name, mark) VALUES (");
    hex_literal(b, w->name, strlen(w->name), 1);
    sl_buf_append_str(b, ", ");
    hex_literal(b, mark, strlen(mark), 1);
    sl_buf_append_str(b, ") ON DUPLICATE KEY UPDATE mark = VALUES(mark)");
    const char *sql;
    if (sl_buf_cstr(b, &sql) != 0)
        return SL_ENOMEM;
    return query(w, job, sql,
                 "snapshot: writing a watermark to sluice.watermark (capture "
                 "needs INSERT and UPDATE there)");
}

static void set_state(sl__snap_worker_t *w, sl__snap_job_t *job,
                      sl__snap_job_state_t st) {
    pthread_mutex_lock(&w->lock);
    job->state = st;
    pthread_mutex_unlock(&w->lock);
}

/* One number from a query's first row (column col), or -1 when the query
 * fails or gives none (a source that is no replica has no lag). */
static long long number_of(sl__snap_worker_t *w, const char *sql,
                           const char *col) {
    if (mysql_query(w->mysql, sql) != 0)
        return -1;
    MYSQL_RES *res = mysql_store_result(w->mysql);
    if (res == NULL)
        return -1;
    long long v = -1;
    MYSQL_ROW row = mysql_fetch_row(res);
    unsigned n = mysql_num_fields(res);
    MYSQL_FIELD *f = mysql_fetch_fields(res);
    for (unsigned i = 0; row != NULL && i < n; i++)
        if (strcmp(f[i].name, col) == 0 && row[i] != NULL)
            v = strtoll(row[i], NULL, 10);
    mysql_free_result(res);
    return v;
}

static int quitting(sl__snap_worker_t *w) {
    pthread_mutex_lock(&w->lock);
    int q = w->quit;
    pthread_mutex_unlock(&w->lock);
    return q;
}

/* Waits, before a chunk's low watermark (so no window stays open), while
 * the source is busier than the limits allow. A lag that cannot be read
 * (no privilege for SHOW SLAVE STATUS) fails the job: a limit that is
 * never checked must not pass silently. */
static int wait_for_source(sl__snap_worker_t *w, sl__snap_job_t *job) {
    int logged = 0;
    while (!quitting(w) && w->mysql != NULL) {
        long long running = -1, lag = -1;
        if (w->max_threads_running > 0)
            running = number_of(w,
                                "SHOW GLOBAL STATUS LIKE "
                                "'Threads_running'",
                                "Value");
        if (w->max_lag_s > 0 &&
            (lag = number_of(w, "SHOW SLAVE STATUS", "Seconds_Behind_Master")) <
                0 &&
            mysql_errno(w->mysql) != 0)
            return fail(w, job,
                        "snapshot: reading the source's replica lag for "
                        "--snapshot-max-replica-lag (SHOW SLAVE STATUS needs "
                        "the SLAVE MONITOR privilege on MariaDB 10.5.9 and "
                        "later, REPLICATION CLIENT on MySQL)");
        int busy =
            (running >= 0 && (uint64_t)running > w->max_threads_running) ||
            (lag >= 0 && (uint64_t)lag > w->max_lag_s);
        if (!busy)
            break;
        if (!logged++)
            sl_log_info("snapshot paused: the source is busy",
                        "threads_running=%lld replica_lag_s=%lld", running,
                        lag);
        struct timespec ts = {0, 500000000L};
        nanosleep(&ts, NULL);
    }
    if (logged)
        sl_log_info("snapshot resumed", NULL);
    return 0;
}

static void run_job(sl__snap_worker_t *w, sl__snap_job_t *job) {
    int err = 0;
    if (w->mysql == NULL)
        err = connect_source(w, job);
    if (err == 0 && (w->max_threads_running > 0 || w->max_lag_s > 0))
        err = wait_for_source(w, job);
    if (err == 0 && job->want_estimate)
        err = estimate(w, job);
    if (err == 0)
        err = watermark(w, job, job->lw);
    if (err == 0)
        err = read_chunk(w, job);
    if (err == 0 && w->pause_ms > 0) {
        /* Tests widen the window between the read and the high watermark
         * (SLUICE_SNAPSHOT_TEST_PAUSE_MS), where a change that the window
         * failed to drop would leave a stale read row. */
        struct timespec ts = {w->pause_ms / 1000,
                              (long)(w->pause_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (err == 0) {
        /* The rows are handed over before the high watermark exists, so
         * the capture cannot meet it without them. */
        job->rows_ready = 1;
        set_state(w, job, SL__JOB_READ);
        err = watermark(w, job, job->hw);
    }
    set_state(w, job, err == 0 ? SL__JOB_DONE : SL__JOB_FAILED);
}

static void *worker_main(void *arg) {
    sl__snap_worker_t *w = arg;
    pthread_mutex_lock(&w->lock);
    while (!w->quit) {
        if (w->job == NULL) {
            pthread_cond_wait(&w->cond, &w->lock);
            continue;
        }
        sl__snap_job_t *job = w->job;
        w->job = NULL;
        pthread_mutex_unlock(&w->lock);
        run_job(w, job);
        pthread_mutex_lock(&w->lock);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

int sl__snap_worker_start(sl__snap_worker_t **out,
                          const sl__snap_worker_opts_t *opts) {
    sl__snap_worker_t *w = calloc(1, sizeof *w);
    if (w == NULL)
        return SL_ENOMEM;
    w->host = dup_or_null(opts->host);
    w->user = dup_or_null(opts->user);
    w->password = dup_or_null(opts->password);
    w->tls_ca = dup_or_null(opts->tls_ca);
    w->name = dup_or_null(opts->name);
    w->port = opts->port;
    w->tls = opts->tls;
    w->tls_insecure = opts->tls_insecure;
    w->connect_timeout_ms = opts->connect_timeout_ms;
    w->max_threads_running = opts->max_threads_running;
    w->max_lag_s = opts->max_lag_s;
    const char *pause = getenv("SLUICE_SNAPSHOT_TEST_PAUSE_MS");
    w->pause_ms = pause ? (unsigned)strtoul(pause, NULL, 10) : 0;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    if (w->host == NULL || w->user == NULL || w->name == NULL ||
        pthread_create(&w->thread, NULL, worker_main, w) != 0) {
        free(w->host);
        free(w->user);
        free(w->password);
        free(w->tls_ca);
        free(w->name);
        pthread_mutex_destroy(&w->lock);
        pthread_cond_destroy(&w->cond);
        free(w);
        return SL_ENOMEM;
    }
    *out = w;
    return 0;
}

void sl__snap_worker_stop(sl__snap_worker_t *w) {
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->lock);
    w->quit = 1;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    if (w->mysql != NULL)
        mysql_close(w->mysql);
    if (w->password != NULL)
        memset(w->password, 0, strlen(w->password));
    free(w->host);
    free(w->user);
    free(w->password);
    free(w->tls_ca);
    free(w->name);
    sl_buf_free(&w->sql);
    sl_buf_free(&w->scratch);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
    free(w);
}

void sl__snap_worker_submit(sl__snap_worker_t *w, sl__snap_job_t *job) {
    sl_buf_reset(&job->rows);
    sl_buf_reset(&job->last_read);
    job->nrows = 0;
    job->rows_ready = 0;
    job->err = 0;
    job->errmsg[0] = '\0';
    job->estimate = 0;
    pthread_mutex_lock(&w->lock);
    /* A job handed over earlier and not yet taken is replaced (the
     * capture thread discarded it): it never runs. */
    if (w->job != NULL && w->job != job)
        w->job->state = SL__JOB_IDLE;
    job->state = SL__JOB_QUEUED;
    w->job = job;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

sl__snap_job_state_t sl__snap_worker_state(sl__snap_worker_t *w,
                                           const sl__snap_job_t *job) {
    pthread_mutex_lock(&w->lock);
    sl__snap_job_state_t st = job->state;
    pthread_mutex_unlock(&w->lock);
    return st;
}

void sl__snap_job_clear(sl__snap_job_t *job) {
    sl__snap_fmt_job_free(job);
    for (size_t i = 0; i < job->ncols; i++)
        free(job->cols[i].name);
    free(job->cols);
    free(job->pk);
    free(job->last);
    free(job->where);
    job->cols = NULL;
    job->pk = NULL;
    job->last = NULL;
    job->where = NULL;
    job->ncols = job->npk = 0;
}
