/*
 * MariaDB bulk execution for the MySQL/MariaDB sink
 * (apply/mysql/internal.h): a long run of merged upserts goes as one
 * execution of a prepared statement (COM_STMT_BULK_EXECUTE, parameters
 * bound as strings or, for binary columns, bytes) instead of SQL text,
 * which the server neither lexes nor parses. It is started with the
 * non-blocking API so it runs while the next batch is built, and it is
 * checked by its total like a merged statement.
 */
#include "internal.h"

#include "clock.h"
#include "error.h"

#include <errmsg.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sl__mysql_bulk_reset(bulk_t *bk) {
    bk->state = 0;
    bk->nrows = 0;
    sl_buf_reset(&bk->data);
}

/* Closes the prepared statements (after mysql_close() this only frees
 * them). */
void sl__mysql_pstmts_close(sl_mysql_sink_t *s) {
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

/* Waits for the bulk execution in flight and checks its outcome. */
int sl__mysql_complete_bulk(sl_mysql_sink_t *s) {
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
        return sl__mysql_stmt_failed(s, &s->bulk_st, mysql_stmt_errno(stmt),
                                     msg);
    }
    int rc = sl__mysql_check_outcome(s, &s->bulk_st,
                                     (long long)mysql_stmt_affected_rows(stmt));
    if (rc != 0)
        sl_mysql_sink_abort(s);
    return rc;
}

/* Starts collecting a run of kind on tm with n columns. */
void sl__mysql_bulk_begin(sl_mysql_sink_t *s, tmeta_t *tm, int kind, size_t n,
                          uint64_t offset, uint64_t rowno) {
    bulk_t *bk = &s->bk;
    sl__mysql_bulk_reset(bk);
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
        case SL_JR_STRING: rc = sl_jr_unescape(doc, v, &bk->data); break;
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
        default: return 1;
        }
    }
    if (rc != 0)
        return rc < 0 ? rc : SL_ENOMEM;
    bk->len[i] = (unsigned long)(bk->data.len - start);
    return 0;
}

/* Adds one row (values vals of columns cols) to the run. Returns 0, 1 when
 * a value cannot be bound, or a negative error. */
int sl__mysql_bulk_add(sl_mysql_sink_t *s, const sl_jr_doc_t *doc,
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
    int rc = sl__mysql_complete(s); /* Preparing needs an idle connection. */
    if (rc != 0)
        return rc;
    sl_buf_t q = SL_BUF_INIT;
    sl__mysql_put_insert_head(&q, bk->tm, s->open_cols, bk->ncols);
    for (size_t i = 0; i < bk->ncols; i++)
        sl_buf_append_str(&q, i > 0 ? ",?" : "(?");
    sl_buf_append_u8(&q, ')');
    sl__mysql_put_upsert_tail(&q, bk->tm, bk->kind, s->opts.drift, s->open_cols,
                              bk->ncols);
    rc = sl_buf_error(&q);
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
        if (sl_mysql_error_transient(e, emsg)) {
            sl__mysql_disconnect(s);
            return sl__mysql_seterr(s, SL_EAGAIN,
                                    "preparing a bulk statement failed: "
                                    "error %u",
                                    e);
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
int sl__mysql_bulk_switch(sl_mysql_sink_t *s) {
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
    rc = sl__mysql_send_batch(s);
    if (rc != 0)
        return rc;
    s->open_kind = kind;
    s->bk.state = 2;
    return 0;
}

/* Sends the collected run as one bulk execution (after the batch in
 * flight completes); with keep_open, the run goes on collecting. */
int sl__mysql_bulk_emit(sl_mysql_sink_t *s, int keep_open) {
    bulk_t *bk = &s->bk;
    if (bk->nrows == 0) {
        if (!keep_open)
            bk->state = 0;
        return 0;
    }
    pstmt_t *ps;
    int rc = bulk_prepare(s, &ps);
    if (rc == 1)
        rc = sl__mysql_seterr(s, SL_EDB, "a prepared statement went missing");
    if (rc == 0)
        rc = sl__mysql_complete(s);
    if (rc != 0)
        return rc;
    size_t n = bk->ncols, rows = bk->nrows;
    char **ptrs = realloc(
        bk->ptrs, rows * n * (sizeof(char *) + sizeof(unsigned long) + 1));
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
        return sl__mysql_seterr(s, SL_EDB,
                                "binding a bulk statement failed: %s",
                                mysql_stmt_error(ps->stmt));
    s->bulk_st.offset = bk->offset;
    s->bulk_st.row = bk->row;
    s->bulk_st.kind = bk->kind;
    s->bulk_st.tm = bk->tm;
    s->bulk_st.sql_start = 0;
    s->bulk_st.nrows = rows;
    s->bulk_st.tolerant = bk->tm->tolerant;
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
