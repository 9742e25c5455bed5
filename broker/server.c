/*
 * The broker's listener and connections: accepting, reading, writing,
 * buffers, the memory budget and the deadlines; see server.h and
 * docs/protocol.md. Requests are executed in server_cmd.c, the stats
 * reply is rendered in server_stats.c; what these files share is in
 * server_int.h.
 *
 * Limits: a connection whose pending output reaches max_output is neither
 * read nor parsed further until that drains, and one whose unprocessed
 * input holds a full request stops being read (back-pressure instead of
 * memory growth); connections idle for idle_ms are closed; past max_conns
 * new connections get a 503 and are closed.
 *
 * Memory budget: every connection's buffers (counted by what they have
 * allocated), the get scratch and the store's staged bytes add up to one
 * figure. When it reaches max_memory, reading stops on every connection
 * except where the rest of a request being received fits in memory already
 * reserved for it (so requests in flight can finish and release memory
 * instead of deadlocking), and requests other than puts and commits wait
 * unexecuted (a put only moves bytes from its connection's buffer to the
 * store's staging). Below 7/8 of the budget, reading resumes and waiting
 * requests run. A payload's buffer is reserved at its exact size once its
 * header is parsed, and empty buffers are given back, so idle connections
 * hold next to nothing.
 *
 * Hostile peers: before auth only short lines are read. Deadlines that
 * trickling cannot reset: auth within auth_ms of the connect, and a
 * started request within request_ms of the moment the broker began
 * waiting for its rest. After a half-close (EOF) every complete request
 * is still executed and answered before the connection closes.
 *
 * TLS (tls-cert/tls-key): each connection gets a session on memory BIOs
 * (lib/tls.h). Ciphertext is read where plaintext would be and decrypted
 * into the input buffer in place (tls_input()); output is encrypted into
 * the write buffer when flushed. Each session is counted in the memory
 * budget (sl_tls_conn_mem()), and the handshake must be done within
 * auth_ms (10 s when 0) of the connect, so a handshake flood is bounded by
 * max_conns, the budget and that deadline. A peer that sends plaintext
 * gets one plaintext 400 line and is closed; failed handshakes are counted
 * (stats tls_failed, tls_plaintext) and logged at debug level only.
 */
#include "broker/server_int.h"

#include "clock.h"
#include "error.h"
#include "log.h"
#include "status.h"
#include "tls.h"

#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

/* Reads go into chunks of this size (a payload being received gets its
 * exact size). Empty buffers are kept for reuse (fresh memory costs a page
 * fault per page), up to KEEP_MAX, while less than half the budget is in
 * use; past that, and at the budget, those over KEEP_BUF are given back. */
#define READ_CHUNK (64u * 1024)
#define KEEP_BUF 4096
#define KEEP_MAX (64u << 20)

static void flush(sl_conn_t *conn);
static void conn_account(sl_conn_t *conn);

/* ---- output ------------------------------------------------------------- */

void sl__server_reply(sl_conn_t *conn, int code, uint64_t reqid, int has_reqid,
                      const char *fmt, ...) {
    if (has_reqid)
        sl_buf_printf(&conn->out, "%d %" PRIu64, code, reqid);
    else
        sl_buf_printf(&conn->out, "%d -", code);
    if (fmt && *fmt) {
        va_list ap;
        va_start(ap, fmt);
        sl_buf_append_u8(&conn->out, ' ');
        sl_buf_vprintf(&conn->out, fmt, ap);
        va_end(ap);
    }
    sl_buf_append(&conn->out, "\r\n", 2);
    sl__server_mark_dirty(conn);
}

/* ---- connection lifetime ---------------------------------------------- */

void sl__server_conn_free_maybe(sl_conn_t *conn) {
    if (conn->handles > 0 || conn->pending_acks > 0 || conn->writing ||
        conn->dirty || conn->queued)
        return;
    sl_server_t *srv = conn->srv;
    srv->mem_conns -= conn->mem;
    sl_buf_free(&conn->in);
    sl_buf_free(&conn->out);
    sl_buf_free(&conn->wbuf);
    sl_tls_conn_free(conn->tls);
    free(conn->list_topic);
    free(conn);
    sl__server_mem_update(srv);
}

static void handle_closed(uv_handle_t *h) {
    sl_conn_t *conn = h->data;
    sl_server_t *srv = conn->srv;
    conn->handles--;
    if (conn->handles == 0) {
        srv->open_handles--;
        sl__server_conn_free_maybe(conn);
        sl__server_flush_dirty(srv);
        if (srv->stopping && srv->open_handles == 0 && srv->stop_cb) {
            void (*cb)(void *) = srv->stop_cb;
            srv->stop_cb = NULL;
            cb(srv->stop_data);
        }
    }
}

void sl__server_conn_close(sl_conn_t *conn) {
    if (conn->closing)
        return;
    sl_server_t *srv = conn->srv;
    conn->closing = 1;
    sl__server_unpark(conn);
    if (conn->in.len > conn->in_off)
        srv->st.err_truncated++;
    if (conn->prev)
        conn->prev->next = conn->next;
    else
        srv->conns = conn->next;
    if (conn->next)
        conn->next->prev = conn->prev;
    srv->nconns--;
    uv_close((uv_handle_t *)&conn->tcp, handle_closed);
    uv_close((uv_handle_t *)&conn->timer, handle_closed);
}

static void write_cb(uv_write_t *req, int status) {
    sl_conn_t *conn = req->data;
    conn->writing = 0;
    conn->srv->st.bytes_sent += conn->wbuf.len;
    sl_buf_reset(&conn->wbuf);
    if (conn->wbuf.cap > (64u << 20))
        sl_buf_free(&conn->wbuf);
    if (conn->closing) {
        sl__server_conn_free_maybe(conn);
        return;
    }
    if (status < 0) {
        sl__server_conn_close(conn);
        return;
    }
    flush(conn);
    sl__server_update_reading(conn);
    if (!conn->closing && !conn->parked)
        sl__server_process(conn);
    sl_server_t *srv = conn->srv;
    if (!conn->closing)
        sl__server_conn_trim(conn);
    sl__server_flush_dirty(srv);
    sl__server_mem_update(srv);
}

static void flush(sl_conn_t *conn) {
    if (conn->closing || conn->writing) {
        if (!conn->closing)
            conn_account(conn);
        return;
    }
    if (conn->out.len == 0 &&
        (conn->tls == NULL || !sl_tls_conn_has_output(conn->tls))) {
        if (conn->close_after_flush && !conn->held)
            sl__server_conn_close(conn);
        return;
    }
    if (conn->tls != NULL) {
        /* Encrypted into the (empty) write buffer; plaintext offered
         * before the handshake is done stays in out. */
        size_t used = 0;
        if (sl_tls_conn_output(conn->tls, conn->out.data, conn->out.len, &used,
                               &conn->wbuf) != 0) {
            sl__server_conn_close(conn);
            return;
        }
        sl_buf_consume(&conn->out, used);
        conn_account(conn);
        if (conn->wbuf.len == 0)
            return;
    } else {
        sl_buf_t tmp = conn->wbuf;
        conn->wbuf = conn->out;
        conn->out = tmp;
        sl_buf_reset(&conn->out);
        conn_account(conn);
    }
    uv_buf_t b = uv_buf_init((char *)conn->wbuf.data, (unsigned)conn->wbuf.len);
    conn->wreq.data = conn;
    int rc = uv_write(&conn->wreq, (uv_stream_t *)&conn->tcp, &b, 1, write_cb);
    if (rc < 0) {
        sl__server_conn_close(conn);
        return;
    }
    conn->writing = 1;
}

void sl__server_flush_dirty(sl_server_t *srv) {
    while (srv->dirty) {
        sl_conn_t *conn = srv->dirty;
        srv->dirty = conn->dnext;
        conn->dirty = 0;
        if (conn->closing)
            sl__server_conn_free_maybe(conn);
        else
            flush(conn);
    }
}

/* ---- memory budget and yielding ---------------------------------------- */

/* Brings conn's share of srv->mem_conns up to what its buffers hold. */
static void conn_account(sl_conn_t *conn) {
    size_t now = sizeof *conn + conn->in.cap + conn->out.cap + conn->wbuf.cap +
                 (conn->tls ? sl_tls_conn_mem(conn->tls) : 0);
    conn->srv->mem_conns += now - conn->mem; /* Unsigned: wraps right. */
    conn->mem = now;
}

/* The largest empty buffer to keep now (see KEEP_MAX). */
size_t sl__server_keep_limit(const sl_server_t *srv) {
    if (srv->opts.max_memory == 0 ||
        sl__server_mem_used(srv) < srv->opts.max_memory / 2)
        return KEEP_MAX;
    return KEEP_BUF;
}

/* Gives back buffers that are empty (or a big input buffer mostly
 * consumed) and larger than keep, so that under memory pressure idle
 * connections hold next to nothing. */
static void conn_trim_to(sl_conn_t *conn, size_t keep) {
    sl_buf_t *in = &conn->in;
    if (conn->in_off == in->len) {
        if (in->cap > keep)
            sl_buf_free(in);
        sl_buf_reset(in);
        conn->in_off = 0;
    } else if (keep == KEEP_BUF && in->cap > 4 * READ_CHUNK &&
               in->len - conn->in_off <= in->cap / 4) {
        size_t rest = in->len - conn->in_off;
        uint8_t *data = malloc(rest > READ_CHUNK ? rest : READ_CHUNK);
        if (data != NULL) {
            memcpy(data, in->data + conn->in_off, rest);
            free(in->data);
            in->data = data;
            in->cap = rest > READ_CHUNK ? rest : READ_CHUNK;
            in->len = rest;
            conn->in_off = 0;
        }
    }
    if (conn->out.len == 0 && conn->out.cap > keep)
        sl_buf_free(&conn->out);
    if (!conn->writing && conn->wbuf.len == 0 && conn->wbuf.cap > keep)
        sl_buf_free(&conn->wbuf);
    conn_account(conn);
}

void sl__server_conn_trim(sl_conn_t *conn) {
    conn_trim_to(conn, sl__server_keep_limit(conn->srv));
}

size_t sl__server_mem_used(const sl_server_t *srv) {
    /* Once stopping, the store may be freed before the last connection. */
    return srv->mem_conns + srv->body.cap +
           (srv->stopping ? 0 : sl_store_staged_bytes(srv->store));
}

/* Stops reading everywhere when the memory in use reaches the budget;
 * below 7/8 of it, reading resumes and requests that waited for memory go
 * on in the next turn. */
void sl__server_mem_update(sl_server_t *srv) {
    uint64_t budget = srv->opts.max_memory;
    if (srv->stopping)
        return;
    size_t used = sl__server_mem_used(srv);
    if (used > srv->st.mem_peak)
        srv->st.mem_peak = used;
    if (budget == 0)
        return;
    if (!srv->mem_full && used >= budget) {
        /* First take back what is only kept for reuse. */
        for (sl_conn_t *conn = srv->conns; conn; conn = conn->next)
            conn_trim_to(conn, KEEP_BUF);
        if (srv->body.cap > KEEP_BUF)
            sl_buf_free(&srv->body);
        used = sl__server_mem_used(srv);
    }
    if (!srv->mem_full && used >= budget) {
        srv->mem_full = 1;
        srv->st.mem_full_events++;
        sl_log_debug("memory budget reached; reading paused",
                     "used=%zu max_memory=%" PRIu64, used, budget);
        for (sl_conn_t *conn = srv->conns; conn; conn = conn->next)
            sl__server_update_reading(conn);
        if (srv->ext.flush)
            srv->ext.flush(srv->ext.arg);
    } else if (srv->mem_full && used < budget - budget / 8) {
        srv->mem_full = 0;
        sl_log_debug("memory released; reading resumed", "used=%zu", used);
        for (sl_conn_t *conn = srv->conns; conn; conn = conn->next) {
            sl__server_update_reading(conn);
            if (conn->mem_wait) {
                conn->mem_wait = 0;
                sl__server_conn_yield(conn);
            }
        }
        if (srv->ext.flush)
            srv->ext.flush(srv->ext.arg);
    }
}

static void idle_cb(uv_idle_t *h);

/* Queues conn to be processed in the next loop turn. */
void sl__server_conn_yield(sl_conn_t *conn) {
    sl_server_t *srv = conn->srv;
    if (conn->queued || srv->stopping)
        return;
    conn->queued = 1;
    conn->ynext = NULL;
    if (srv->ytail)
        srv->ytail->ynext = conn;
    else
        srv->yhead = conn;
    srv->ytail = conn;
    srv->st.turn_yields++;
    uv_idle_start(&srv->idle, idle_cb);
}

static void idle_cb(uv_idle_t *h) {
    sl_server_t *srv = h->data;
    sl_conn_t *conn = srv->yhead;
    srv->yhead = srv->ytail = NULL;
    while (conn) {
        sl_conn_t *next = conn->ynext;
        conn->ynext = NULL;
        conn->queued = 0;
        if (conn->closing)
            sl__server_conn_free_maybe(conn);
        else if (!conn->parked)
            sl__server_process(conn);
        conn = next;
    }
    if (srv->yhead == NULL)
        uv_idle_stop(h);
    sl__server_flush_dirty(srv);
}

static void check_cb(uv_check_t *h) { sl__server_mem_update(h->data); }

/* A connection that is not being read (at the memory budget) does not
 * see its peer leave, and would keep its memory. So, once a second, one
 * whose peer closed (FIN or RST) while the request it holds is partial,
 * and what the kernel still has for it cannot complete that request, is
 * closed (and counted as a truncated request). A peer that only shut down
 * its write side after whole requests is left alone: those are answered
 * when memory is released. */
static void reap_stalled(sl_server_t *srv) {
    sl_conn_t *next;
    for (sl_conn_t *conn = srv->conns; conn; conn = next) {
        next = conn->next;
        size_t unparsed = conn->in.len - conn->in_off;
        if (conn->reading || conn->closing || unparsed == 0 ||
            conn->need <= unparsed)
            continue;
        uv_os_fd_t fd;
        struct tcp_info ti;
        socklen_t tlen = sizeof ti;
        int queued = 0;
        if (uv_fileno((uv_handle_t *)&conn->tcp, &fd) != 0 ||
            getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tlen) != 0 ||
            (ti.tcpi_state != TCP_CLOSE_WAIT && ti.tcpi_state != TCP_CLOSE) ||
            ioctl(fd, FIONREAD, &queued) != 0 || queued < 0 ||
            unparsed + (size_t)queued >= conn->need)
            continue;
        sl__server_conn_close(conn);
    }
}

/* ---- reading ----------------------------------------------------------- */

int sl_server_input_reserve(sl_buf_t *in, size_t *in_off, size_t need) {
    if (*in_off > 0 && *in_off == in->len) {
        sl_buf_reset(in);
        *in_off = 0;
    }
    size_t want = READ_CHUNK;
    size_t have = in->len - *in_off;
    int exact = need > have && need - have > want;
    if (exact)
        want = need - have;
    if (in->cap - in->len<want && * in_off> 0) {
        sl_buf_consume(in, *in_off);
        *in_off = 0;
    }
    if (in->cap - in->len < want) {
        /* Chunks for pipelined requests grow geometrically (no copying
         * per read); a payload's rest is reserved exactly. */
        if (!exact)
            want = in->cap > want ? in->cap : want;
        uint8_t *data = realloc(in->data, in->len + want);
        if (data == NULL)
            return SL_ENOMEM;
        in->data = data;
        in->cap = in->len + want;
    }
    return 0;
}

static int input_reserve(sl_conn_t *conn) {
    int err = sl_server_input_reserve(&conn->in, &conn->in_off, conn->need);
    conn_account(conn);
    return err;
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
    (void)hint;
    sl_conn_t *conn = h->data;
    if (input_reserve(conn) != 0) {
        buf->base = NULL;
        buf->len = 0;
        return;
    }
    buf->base = (char *)conn->in.data + conn->in.len;
    buf->len = conn->in.cap - conn->in.len;
}

/* Decrypts the nread bytes of ciphertext just read at the end of conn's
 * input into plaintext there (see the top of the file). Returns the number
 * of plaintext bytes added, UV_EOF when the peer ended the session, or -1
 * when conn was refused (and is being closed). */
static ssize_t tls_input(sl_conn_t *conn, size_t nread) {
    sl_server_t *srv = conn->srv;
    size_t before = conn->in.len;
    int plaintext = 0;
    char why[320];
    int err = sl_tls_conn_input(conn->tls, conn->in.data + before, nread,
                                &conn->in, &plaintext, why, sizeof why);
    conn_account(conn);
    if (err == SL_ECLOSED)
        return UV_EOF;
    if (err == 0) {
        if (sl_tls_conn_has_output(conn->tls))
            sl__server_mark_dirty(conn);
        return (ssize_t)(conn->in.len - before);
    }
    conn->in.len = before;
    if (plaintext) {
        /* Told in the only language it speaks, then closed. */
        srv->st.tls_plaintext++;
        sl_log_debug("plaintext client on the TLS listener refused", NULL);
        sl_tls_conn_free(conn->tls);
        conn->tls = NULL;
        conn_account(conn);
        sl__server_reply(conn, SL_STATUS_BAD_REQUEST, 0, 0,
                         "this listener requires TLS");
        conn->close_after_flush = 1;
        sl__server_update_reading(conn);
        return -1;
    }
    srv->st.tls_failed++;
    sl_log_debug("TLS session refused", "reason=\"%s\"", why);
    /* The alert saying why (a few bytes) goes out before the close. */
    sl_buf_t alert = SL_BUF_INIT;
    size_t used;
    if (sl_tls_conn_output(conn->tls, NULL, 0, &used, &alert) == 0 &&
        alert.len > 0) {
        uv_buf_t b = uv_buf_init((char *)alert.data, (unsigned)alert.len);
        uv_try_write((uv_stream_t *)&conn->tcp, &b, 1);
    }
    sl_buf_free(&alert);
    sl__server_conn_close(conn);
    return -1;
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    (void)buf;
    sl_conn_t *conn = s->data;
    if (nread > 0 && conn->tls_lazy) {
        conn->tls_lazy = 0;
        if (sl_tls_conn_new(conn->srv->tls, &conn->tls) != 0) {
            sl__server_conn_close(conn);
            return;
        }
    }
    if (nread > 0 && conn->tls != NULL) {
        conn->srv->st.bytes_read += (uint64_t)nread;
        conn->last_active_ms = (uint64_t)uv_now(conn->srv->loop);
        nread = tls_input(conn, (size_t)nread);
        if (nread < 0 && nread != UV_EOF) {
            sl__server_flush_dirty(conn->srv);
            sl__server_mem_update(conn->srv);
            return;
        }
        if (nread == 0) {
            /* Handshake bytes only: send the answer, if any, and give
             * the read buffer back as a plaintext read of nothing does
             * (a flood of handshakes holds no read buffers). */
            sl__server_conn_trim(conn);
            sl__server_flush_dirty(conn->srv);
            sl__server_mem_update(conn->srv);
            return;
        }
        if (nread > 0) {
            /* tls_input() appended the plaintext to the input. */
            sl__server_process(conn);
            sl__server_flush_dirty(conn->srv);
            return;
        }
    }
    if (nread == UV_EOF) {
        /* A half-close (`printf ... | nc`): the requests already received
         * are still executed and every reply, acks included, is sent
         * before sl__server_process() closes the connection. */
        conn->eof = 1;
        uv_read_stop((uv_stream_t *)&conn->tcp);
        conn->reading = 0;
        /* A long poll is answered now (with what is there): the peer is
         * gone as a sender, and holding the connection for up to an hour
         * would only pin it. */
        if (conn->parked)
            uv_timer_start(&conn->timer, sl__server_wait_cb, 0, 0);
        sl__server_process(conn);
        sl__server_flush_dirty(conn->srv);
        return;
    }
    if (nread < 0) {
        sl__server_conn_close(conn);
        return;
    }
    if (nread == 0) {
        sl__server_conn_trim(
            conn); /* Nothing came: give the read buffer back. */
        return;
    }
    conn->in.len += (size_t)nread;
    conn->srv->st.bytes_read += (uint64_t)nread;
    conn->last_active_ms = (uint64_t)uv_now(conn->srv->loop);
    sl__server_process(conn);
    sl__server_flush_dirty(conn->srv);
}

void sl__server_update_reading(sl_conn_t *conn) {
    if (conn->closing)
        return;
    sl_server_t *srv = conn->srv;
    size_t unparsed = conn->in.len - conn->in_off;
    /* Before auth only short command lines are read: no payload. */
    size_t max_unparsed = conn->authed ? srv->opts.limits.max_request +
                                             srv->opts.limits.max_line + 65536
                                       : SL_PROTO_MAX_LINE_PREAUTH + 65536;
    int want = !conn->close_after_flush && !conn->eof && !conn->held &&
               conn->out.len + conn->wbuf.len < srv->opts.max_output &&
               sl_store_filling_bytes(srv->store) < (256u << 20) &&
               (conn->need > unparsed || unparsed <= max_unparsed) &&
               (!srv->mem_full ||
                (conn->need > unparsed &&
                 conn->in.cap - conn->in.len >= conn->need - unparsed));
    if (want && !conn->reading) {
        if (uv_read_start((uv_stream_t *)&conn->tcp, alloc_cb, read_cb) == 0)
            conn->reading = 1;
    } else if (!want && conn->reading) {
        uv_read_stop((uv_stream_t *)&conn->tcp);
        conn->reading = 0;
        if (sl_store_filling_bytes(srv->store) >= (256u << 20))
            srv->paused++;
    }
}

/* ---- listener ----------------------------------------------------------- */

static void reject_closed(uv_handle_t *h) { free(h); }

static void on_connection(uv_stream_t *ls, int status) {
    sl_server_t *srv = ls->data;
    if (status < 0 || srv->stopping)
        return;
    if (srv->nconns + srv->ext_conns >= srv->opts.max_conns) {
        uv_tcp_t *t = malloc(sizeof *t);
        if (t == NULL)
            return;
        uv_tcp_init(srv->loop, t);
        if (uv_accept(ls, (uv_stream_t *)t) == 0) {
            /* SL_STATUS_UNAVAILABLE, written once without a
             * connection to queue it on. */
            const char *msg = "503 - too many connections\r\n";
            uv_buf_t b = uv_buf_init((char *)msg, (unsigned)strlen(msg));
            uv_try_write((uv_stream_t *)t, &b, 1);
        }
        srv->st.conns_rejected++;
        uv_close((uv_handle_t *)t, reject_closed);
        return;
    }
    sl_conn_t *conn = calloc(1, sizeof *conn);
    if (conn == NULL)
        return;
    conn->srv = srv;
    uv_tcp_init(srv->loop, &conn->tcp);
    uv_timer_init(srv->loop, &conn->timer);
    conn->tcp.data = conn;
    conn->timer.data = conn;
    conn->handles = 2;
    srv->open_handles++;
    conn->authed = srv->opts.secret == NULL;
    conn_account(conn);
    conn->last_active_ms = (uint64_t)uv_now(srv->loop);
    conn->connected_ms = conn->last_active_ms;
    conn->next = srv->conns;
    if (conn->next)
        conn->next->prev = conn;
    srv->conns = conn;
    srv->nconns++;
    srv->st.conns_total++;
    if (uv_accept(ls, (uv_stream_t *)&conn->tcp) != 0) {
        sl__server_conn_close(conn);
        return;
    }
    uv_tcp_nodelay(&conn->tcp, 1);
    /* The TLS session is made when the first bytes arrive, so that
     * connections accepted at the memory budget (not read) cost no more
     * than plaintext ones. */
    conn->tls_lazy = srv->tls != NULL;
    sl__server_update_reading(conn);
}

static void sweep_cb(uv_timer_t *t) {
    sl_server_t *srv = t->data;
    uint64_t now = (uint64_t)uv_now(srv->loop);
    sl_conn_t *next;
    sl__server_log_auth_failures(srv, 0);
    for (sl_conn_t *conn = srv->conns; conn; conn = next) {
        next = conn->next;
        /* Deadlines that trickling bytes cannot reset: auth within auth_ms
         * of the connect, and each request within request_ms of the moment
         * the broker started waiting for its rest (see sl__server_process()).
         */
        int open = !conn->held && !conn->close_after_flush;
        /* A TLS handshake has auth_ms (10 s when 0) from the connect. */
        if ((conn->tls_lazy ||
             (conn->tls != NULL && !sl_tls_conn_ready(conn->tls))) &&
            now - conn->connected_ms >
                (srv->opts.auth_ms ? srv->opts.auth_ms : 10000)) {
            srv->st.timeouts++;
            srv->st.tls_failed++;
            sl__server_conn_close(conn);
            continue;
        }
        if (open && srv->opts.auth_ms && !conn->authed &&
            now - conn->connected_ms > srv->opts.auth_ms) {
            srv->st.timeouts++;
            sl__server_reply(conn, SL_STATUS_TIMEOUT, 0, 0,
                             "authentication timeout");
            conn->close_after_flush = 1;
            sl__server_update_reading(conn);
            continue;
        }
        if (open && srv->opts.request_ms && conn->req_waiting &&
            conn->reading && !conn->parked &&
            now - conn->req_start_ms > srv->opts.request_ms) {
            srv->st.timeouts++;
            sl__server_reply(conn, SL_STATUS_TIMEOUT, 0, 0, "request timeout");
            conn->close_after_flush = 1;
            sl__server_update_reading(conn);
            continue;
        }
        if (srv->opts.idle_ms && !conn->parked && conn->pending_acks == 0 &&
            !conn->writing && now - conn->last_active_ms > srv->opts.idle_ms) {
            srv->st.idle_closed++;
            sl__server_conn_close(conn);
        }
    }
    reap_stalled(srv);
    sl__server_flush_dirty(srv);
}

int sl_server_start(uv_loop_t *loop, sl_store_t *store,
                    const sl_server_opts_t *opts, sl_server_t **out) {
    sl_server_t *srv = calloc(1, sizeof *srv);
    if (srv == NULL)
        return SL_ENOMEM;
    srv->loop = loop;
    srv->store = store;
    srv->opts = *opts;
    srv->started_ms = sl_wall_ms();
    sl_store_set_data(store, srv);
    struct sockaddr_storage addr;
    int rc = uv_ip4_addr(opts->host, opts->port, (struct sockaddr_in *)&addr);
    if (rc != 0)
        rc = uv_ip6_addr(opts->host, opts->port, (struct sockaddr_in6 *)&addr);
    if (rc != 0) {
        free(srv);
        return SL_EINVAL;
    }
    if (opts->tls_cert != NULL || opts->tls_key != NULL) {
        sl_tls_opts_t to = {opts->tls_cert, opts->tls_key, opts->tls_client_ca,
                            0};
        char why[700];
        if (sl_tls_server_ctx(&to, &srv->tls, why, sizeof why) != 0) {
            sl_log_error("cannot set up TLS", "error=\"%s\"", why);
            free(srv);
            return SL_EINVAL;
        }
    }
    uv_tcp_init(loop, &srv->listener);
    srv->listener.data = srv;
    rc = uv_tcp_bind(&srv->listener, (struct sockaddr *)&addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&srv->listener, 1024, on_connection);
    if (rc != 0) {
        sl_log_error("cannot listen", "address=%s:%u error=\"%s\"", opts->host,
                     opts->port, uv_strerror(rc));
        uv_close((uv_handle_t *)&srv->listener, NULL);
        uv_run(loop, UV_RUN_NOWAIT);
        sl_tls_ctx_free(srv->tls);
        free(srv);
        return SL_ECONN;
    }
    uv_timer_init(loop, &srv->sweep);
    srv->sweep.data = srv;
    uv_timer_start(&srv->sweep, sweep_cb, 1000, 1000);
    uv_idle_init(loop, &srv->idle);
    srv->idle.data = srv;
    uv_check_init(loop, &srv->check);
    srv->check.data = srv;
    uv_check_start(&srv->check, check_cb);
    uv_unref((uv_handle_t *)&srv->check);
    srv->open_handles = 4;
    *out = srv;
    return 0;
}

static void srv_handle_closed(uv_handle_t *h) {
    sl_server_t *srv = h->data;
    srv->open_handles--;
    if (srv->open_handles == 0 && srv->stop_cb) {
        void (*cb)(void *) = srv->stop_cb;
        srv->stop_cb = NULL;
        cb(srv->stop_data);
    }
}

void sl_server_stop(sl_server_t *srv, void (*cb)(void *data), void *data) {
    srv->stopping = 1;
    srv->stop_cb = cb;
    srv->stop_data = data;
    uv_close((uv_handle_t *)&srv->listener, srv_handle_closed);
    uv_close((uv_handle_t *)&srv->sweep, srv_handle_closed);
    uv_close((uv_handle_t *)&srv->idle, srv_handle_closed);
    uv_close((uv_handle_t *)&srv->check, srv_handle_closed);
    /* The yield list dies with the idle handle; its connections are freed
     * once their handles are closed. */
    for (sl_conn_t *conn = srv->yhead, *next; conn; conn = next) {
        next = conn->ynext;
        conn->ynext = NULL;
        conn->queued = 0;
    }
    srv->yhead = srv->ytail = NULL;
    while (srv->conns)
        sl__server_conn_close(srv->conns);
}

void sl_server_free(sl_server_t *srv) {
    sl_tls_ctx_free(srv->tls);
    free(srv->msgs);
    sl_buf_free(&srv->body);
    free(srv);
}

/* ---- the second listener's share (server.h) ---------------------------- */

void sl_server_set_ext(sl_server_t *srv, const sl_server_ext_t *ext) {
    srv->ext = *ext;
}

void sl_server_mem_account(sl_server_t *srv, size_t *held, size_t now) {
    srv->mem_conns += now - *held; /* Unsigned: wraps right. */
    *held = now;
    sl__server_mem_update(srv);
}

int sl_server_mem_full(const sl_server_t *srv) { return srv->mem_full; }

struct sl_tls_ctx_s *sl_server_tls(const sl_server_t *srv) {
    return srv->tls;
}

size_t sl_server_keep_limit(const sl_server_t *srv) {
    return sl__server_keep_limit(srv);
}

int sl_server_conn_admit(sl_server_t *srv) {
    if (srv->nconns + srv->ext_conns >= srv->opts.max_conns)
        return SL_ELIMIT;
    srv->ext_conns++;
    return 0;
}

void sl_server_conn_release(sl_server_t *srv) {
    if (srv->ext_conns > 0)
        srv->ext_conns--;
}
