/*
 * The Kafka listener and its connections: accepting, framing, reading,
 * writing, reply ordering, the memory budget, limits and deadlines. See
 * kafka.h; requests are executed by dispatch.c.
 *
 * Framing: a request is an int32 size (big-endian) and that many bytes. A
 * negative size, one below the smallest header (8 bytes: api key, version,
 * correlation id) or above max_request (before SASL authentication: above
 * PREAUTH_MAX, as only ApiVersions and SASL may come then) cannot be
 * framed: the connection is closed and the reason counted in stats
 * (kafka_errors_size, _too_large, _malformed). Everything that can be
 * framed gets a reply, an error reply at worst (dispatch.c).
 *
 * Ordering: Kafka clients match replies to requests by order as well as by
 * correlation id, so every request gets a reply slot, in order, when it is
 * dispatched; a slot completed early waits until those before it are done.
 * Requests are dispatched as they arrive (a Produce waiting for its fsync
 * does not hold up the next request's work, only its reply), up to
 * MAX_INFLIGHT slots per connection; then reading pauses.
 *
 * Budget and limits: a connection's buffers and reply slots count in the
 * text server's memory budget (sl_server_mem_account); at the budget,
 * reading pauses everywhere, except for the rest of a frame whose buffer
 * is already reserved. A connection whose pending output reaches
 * max_output is not read until that drains. Connections take slots of the
 * server's max_connections; past it, a new connection is closed at once
 * (counted as kafka_conns_rejected). Deadlines trickling cannot reset:
 * SASL within auth_ms of the connect, a frame within request_ms of its
 * first byte; connections idle for idle_ms (nothing in flight) close.
 */
#include "broker/kafka/internal.h"

#include "bytes.h"
#include "error.h"
#include "log.h"
#include "tls.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The largest frame read before SASL authentication. */
#define PREAUTH_MAX (64u * 1024)
/* Reply slots per connection before reading pauses. */
#define MAX_INFLIGHT 256
/* The smallest request: api key, version, correlation id. */
#define MIN_FRAME 8

static void flush(sl_kconn_t *conn);
static void update_reading(sl_kconn_t *conn);
static void process(sl_kconn_t *conn);

/* ---- memory ------------------------------------------------------------- */

void sl__kafka_conn_account(sl_kconn_t *conn) {
    size_t now = sizeof *conn + conn->in.cap + conn->out.cap + conn->wbuf.cap +
                 conn->spare.cap + conn->reply_mem +
                 (conn->tls ? sl_tls_conn_mem(conn->tls) : 0);
    sl_server_mem_account(conn->k->srv, &conn->mem, now);
}

/* Counts reply r's memory as it is now in its connection's reply_mem:
 * when it is opened, when its handler returns, when it is done, and (as
 * zero) when it is freed. A deferred reply whose buffer grows in between
 * is counted at the latest when it is done. */
static void reply_count(sl_kconn_t *conn, sl_kreply_t *r, size_t now) {
    conn->reply_mem = conn->reply_mem - r->acct + now;
    r->acct = now;
}

/* Gives back empty buffers above what the budget lets a connection keep
 * for reuse (the text server's rule: generous far from the budget, next to
 * nothing near it), so idle connections hold little when memory is
 * short, and busy ones do not allocate a fresh buffer per reply. */
static void conn_trim(sl_kconn_t *conn) {
    size_t keep = sl_server_keep_limit(conn->k->srv);
    if (conn->in_off == conn->in.len) {
        if (conn->in.cap > keep)
            sl_buf_free(&conn->in);
        sl_buf_reset(&conn->in);
        conn->in_off = 0;
    }
    if (conn->out.len == 0 && conn->out.cap > keep)
        sl_buf_free(&conn->out);
    if (!conn->writing && conn->wbuf.len == 0 && conn->wbuf.cap > keep)
        sl_buf_free(&conn->wbuf);
    if (conn->spare.cap > keep)
        sl_buf_free(&conn->spare);
    sl__kafka_conn_account(conn);
}

/* ---- replies ------------------------------------------------------------ */

static void mark_dirty(sl_kconn_t *conn) {
    if (!conn->dirty) {
        conn->dirty = 1;
        conn->dnext = conn->k->dirty;
        conn->k->dirty = conn;
    }
}

/* Frees a reply; its buffer is kept as the connection's spare for the
 * next reply (conn_trim gives it back when memory is short). */
static void reply_free(sl_kreply_t *reply) {
    sl_kconn_t *conn = reply->conn;
    reply_count(conn, reply, 0);
    if (conn->running == reply)
        conn->running = NULL;
    if (!conn->closing && conn->spare.cap < reply->buf.cap) {
        sl_buf_t tmp = conn->spare;
        conn->spare = reply->buf;
        reply->buf = tmp;
    }
    sl_buf_free(&reply->buf);
    free(reply);
}

/* Moves the completed replies at the head of conn's queue to its output,
 * in order. */
static void replies_advance(sl_kconn_t *conn) {
    int moved = 0;
    while (conn->rhead && conn->rhead->done) {
        sl_kreply_t *r = conn->rhead;
        conn->rhead = r->next;
        if (conn->rhead == NULL)
            conn->rtail = NULL;
        conn->nreplies--;
        if (!r->none && !conn->closing && !conn->broken) {
            if (sl_buf_error(&r->buf) != 0 || r->buf.len - 4 > INT32_MAX) {
                /* Nothing after it may be sent either: the client matches
                 * replies by order. */
                sl_log_warn("kafka reply could not be built; closing",
                            "peer=%s api=%d error=\"%s\"", conn->peer, r->key,
                            sl_strerror(sl_buf_error(&r->buf)));
                conn->close_after_flush = 1;
                conn->broken = 1;
            } else {
                sl_put_u32be(r->buf.data, (uint32_t)(r->buf.len - 4));
                if (conn->out.len == 0 && r->buf.cap > conn->out.cap) {
                    /* Hand the buffer over instead of copying it. */
                    sl_buf_t tmp = conn->out;
                    conn->out = r->buf;
                    r->buf = tmp;
                } else {
                    sl_buf_append(&conn->out, r->buf.data, r->buf.len);
                }
            }
        }
        reply_free(r);
        moved = 1;
    }
    if (moved)
        mark_dirty(conn);
}

void sl__kafka_reply_done(sl_kreply_t *reply) {
    sl_kconn_t *conn = reply->conn;
    reply_count(conn, reply, sizeof *reply + reply->buf.cap);
    reply->done = 1;
    reply->cancel_cb = NULL;
    if (reply == conn->rhead) {
        replies_advance(conn);
        if (!conn->k->in_core)
            sl__kafka_flush_dirty(conn->k);
    }
}

void sl__kafka_reply_none(sl_kreply_t *reply) {
    reply->none = 1;
    sl__kafka_reply_done(reply);
}

void sl__kafka_reply_on_cancel(sl_kreply_t *reply, sl_kreply_cancel_cb cb,
                               void *arg) {
    reply->cancel_cb = cb;
    reply->cancel_arg = arg;
}

/* Opens the reply slot of a request with correlation id *corr (NULL: a
 * raw frame, with no response header). */
static sl_kreply_t *reply_open(sl_kconn_t *conn, int16_t key, int16_t version,
                               const int32_t *corr) {
    sl_kreply_t *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    r->conn = conn;
    r->key = key;
    r->version = version;
    r->buf = conn->spare;
    sl_buf_init(&conn->spare);
    sl_buf_reset(&r->buf);
    sl__kafka_w_i32_hole(&r->buf);
    if (corr != NULL)
        sl__kafka_w_i32(&r->buf, *corr);
    if (conn->rtail)
        conn->rtail->next = r;
    else
        conn->rhead = r;
    conn->rtail = r;
    conn->nreplies++;
    reply_count(conn, r, sizeof *r + r->buf.cap);
    return r;
}

/* Takes back a slot a handler refused (a malformed request): the
 * connection closes, and nothing after it is sent. */
static void reply_drop(sl_kconn_t *conn, sl_kreply_t *reply) {
    reply->none = 1;
    reply->done = 1;
    reply->cancel_cb = NULL;
    conn->close_after_flush = 1;
    replies_advance(conn);
}

/* ---- connection lifetime ---------------------------------------------- */

static void conn_free_maybe(sl_kconn_t *conn) {
    if (conn->handles > 0 || conn->writing || conn->dirty)
        return;
    sl_kafka_t *k = conn->k;
    sl_buf_free(&conn->in);
    sl_buf_free(&conn->out);
    sl_buf_free(&conn->wbuf);
    sl_buf_free(&conn->spare);
    sl_tls_conn_free(conn->tls);
    sl_server_mem_account(k->srv, &conn->mem, 0);
    free(conn);
}

static void handle_closed(uv_handle_t *h) {
    sl_kconn_t *conn = h->data;
    sl_kafka_t *k = conn->k;
    conn->handles--;
    if (conn->handles == 0) {
        k->open_handles--;
        conn_free_maybe(conn);
        sl__kafka_flush_dirty(k);
        if (k->stopping && k->open_handles == 0 && k->stop_cb) {
            void (*cb)(void *) = k->stop_cb;
            k->stop_cb = NULL;
            cb(k->stop_data);
        }
    }
}

void sl__kafka_conn_close(sl_kconn_t *conn) {
    if (conn->closing)
        return;
    sl_kafka_t *k = conn->k;
    conn->closing = 1;
    if (conn->need > conn->in.len - conn->in_off && conn->req_waiting)
        k->st.err_truncated++;
    /* Deferred replies: their owners forget them first. */
    while (conn->rhead) {
        sl_kreply_t *r = conn->rhead;
        conn->rhead = r->next;
        if (!r->done && r->cancel_cb)
            r->cancel_cb(r->cancel_arg);
        reply_free(r);
    }
    conn->rtail = NULL;
    conn->nreplies = 0;
    if (conn->prev)
        conn->prev->next = conn->next;
    else
        k->conns = conn->next;
    if (conn->next)
        conn->next->prev = conn->prev;
    k->nconns--;
    sl_server_conn_release(k->srv);
    uv_close((uv_handle_t *)&conn->tcp, handle_closed);
    uv_close((uv_handle_t *)&conn->timer, handle_closed);
}

/* ---- writing ------------------------------------------------------------ */

static void write_cb(uv_write_t *req, int status) {
    sl_kconn_t *conn = req->data;
    sl_kafka_t *k = conn->k;
    conn->writing = 0;
    k->st.bytes_sent += conn->wbuf.len;
    sl_buf_reset(&conn->wbuf);
    if (conn->closing) {
        conn_free_maybe(conn);
        return;
    }
    if (status < 0) {
        sl__kafka_conn_close(conn);
        return;
    }
    k->in_core++;
    flush(conn);
    if (!conn->closing) {
        process(conn);
        conn_trim(conn);
    }
    k->in_core--;
    sl__kafka_flush_dirty(k);
}

static void flush(sl_kconn_t *conn) {
    if (conn->closing || conn->writing)
        return;
    if (conn->tls != NULL &&
        (conn->out.len > 0 || sl_tls_conn_has_output(conn->tls))) {
        /* Encrypted into the (empty) write buffer, as in the text
         * listener (broker/server.c). */
        size_t used = 0;
        if (sl_tls_conn_output(conn->tls, conn->out.data, conn->out.len, &used,
                               &conn->wbuf) != 0) {
            sl__kafka_conn_close(conn);
            return;
        }
        sl_buf_consume(&conn->out, used);
        sl__kafka_conn_account(conn);
        if (conn->wbuf.len == 0)
            return;
        uv_buf_t tb =
            uv_buf_init((char *)conn->wbuf.data, (unsigned)conn->wbuf.len);
        conn->wreq.data = conn;
        if (uv_write(&conn->wreq, (uv_stream_t *)&conn->tcp, &tb, 1, write_cb) <
            0) {
            sl__kafka_conn_close(conn);
            return;
        }
        conn->writing = 1;
        return;
    }
    if (conn->out.len == 0) {
        if (conn->close_after_flush && conn->rhead == NULL && !conn->holding)
            sl__kafka_conn_close(conn);
        else if (conn->eof && conn->rhead == NULL && !conn->holding)
            sl__kafka_conn_close(conn); /* Counts a partial frame left. */
        return;
    }
    sl_buf_t tmp = conn->wbuf;
    conn->wbuf = conn->out;
    conn->out = tmp;
    sl_buf_reset(&conn->out);
    sl__kafka_conn_account(conn);
    uv_buf_t b = uv_buf_init((char *)conn->wbuf.data, (unsigned)conn->wbuf.len);
    conn->wreq.data = conn;
    if (uv_write(&conn->wreq, (uv_stream_t *)&conn->tcp, &b, 1, write_cb) < 0) {
        sl__kafka_conn_close(conn);
        return;
    }
    conn->writing = 1;
}

/* Looks at every connection again when the budget was crossed (either
 * way) or one was held back by the whole broker; otherwise (the common
 * case, after every batch of store acks and every advance) nothing. */
static void rescan_maybe(sl_kafka_t *k) {
    int full = sl_server_mem_full(k->srv);
    if (full == k->mem_full_seen && !k->stalled)
        return;
    k->mem_full_seen = full;
    k->stalled = 0;
    k->in_core++;
    for (sl_kconn_t *conn = k->conns; conn; conn = conn->next) {
        int was = conn->reading;
        update_reading(conn);
        if (!was && !conn->closing && conn->in.len - conn->in_off >= conn->need)
            process(conn);
    }
    k->in_core--;
}

void sl__kafka_flush_dirty(sl_kafka_t *k) {
    if (!k->in_core && !k->stopping)
        rescan_maybe(k);
    while (k->dirty) {
        sl_kconn_t *conn = k->dirty;
        k->dirty = conn->dnext;
        conn->dirty = 0;
        if (conn->closing) {
            conn_free_maybe(conn);
        } else {
            flush(conn);
            update_reading(conn);
        }
    }
}

/* ---- reading ------------------------------------------------------------ */

static size_t frame_max(const sl_kconn_t *conn) {
    return conn->authed ? conn->k->opts.max_request : PREAUTH_MAX;
}

static int input_reserve(sl_kconn_t *conn) {
    int err = sl_server_input_reserve(&conn->in, &conn->in_off, conn->need);
    sl__kafka_conn_account(conn);
    return err;
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
    (void)hint;
    sl_kconn_t *conn = h->data;
    if (input_reserve(conn) != 0) {
        buf->base = NULL;
        buf->len = 0;
        return;
    }
    buf->base = (char *)conn->in.data + conn->in.len;
    buf->len = conn->in.cap - conn->in.len;
}

/* Decrypts the nread bytes just read at the end of conn's input into
 * plaintext there (lib/tls.h). Returns the plaintext bytes added (already
 * in conn->in), UV_EOF when the peer ended the session, or -1 when the
 * session failed (conn is closed: a plaintext Kafka client, a refused
 * certificate; logged at debug level). */
static ssize_t tls_input(sl_kconn_t *conn, size_t nread) {
    if (conn->tls_lazy) {
        conn->tls_lazy = 0;
        if (sl_tls_conn_new(sl_server_tls(conn->k->srv), &conn->tls) != 0) {
            sl__kafka_conn_close(conn);
            return -1;
        }
    }
    size_t before = conn->in.len;
    int plaintext = 0;
    char why[320];
    int err = sl_tls_conn_input(conn->tls, conn->in.data + before, nread,
                                &conn->in, &plaintext, why, sizeof why);
    sl__kafka_conn_account(conn);
    if (err == SL_ECLOSED)
        return UV_EOF;
    if (err == 0) {
        if (sl_tls_conn_has_output(conn->tls))
            mark_dirty(conn);
        return (ssize_t)(conn->in.len - before);
    }
    conn->in.len = before;
    sl_log_debug("Kafka TLS session refused", "peer=%s reason=\"%s\"",
                 conn->peer, why);
    sl__kafka_conn_close(conn);
    return -1;
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    (void)buf;
    sl_kconn_t *conn = s->data;
    sl_kafka_t *k = conn->k;
    if (nread == 0)
        return;
    k->in_core++;
    if (nread > 0 && (conn->tls != NULL || conn->tls_lazy)) {
        k->st.bytes_read += (uint64_t)nread;
        conn->last_active_ms = (uint64_t)uv_now(k->loop);
        nread = tls_input(conn, (size_t)nread);
        if (nread >= 0) {
            if (nread > 0)
                process(conn);
            else
                conn_trim(conn);
            k->in_core--;
            sl__kafka_flush_dirty(k);
            return;
        }
        if (nread != UV_EOF) {
            k->in_core--;
            sl__kafka_flush_dirty(k);
            return;
        }
    }
    if (nread == UV_EOF) {
        /* Requests already received are answered before the close. */
        conn->eof = 1;
        uv_read_stop((uv_stream_t *)&conn->tcp);
        conn->reading = 0;
        process(conn);
        mark_dirty(conn);
    } else if (nread < 0) {
        sl__kafka_conn_close(conn);
    } else {
        conn->in.len += (size_t)nread;
        k->st.bytes_read += (uint64_t)nread;
        conn->last_active_ms = (uint64_t)uv_now(k->loop);
        process(conn);
    }
    k->in_core--;
    sl__kafka_flush_dirty(k);
}

static void update_reading(sl_kconn_t *conn) {
    if (conn->closing)
        return;
    sl_kafka_t *k = conn->k;
    size_t unparsed = conn->in.len - conn->in_off;
    int partial = conn->need > unparsed;
    /* Held back by the whole broker (the store's staging, the budget)
     * rather than by this connection: ext_flush() looks again. */
    int global =
        sl_store_filling_bytes(k->store) >= (256u << 20) ||
        (sl_server_mem_full(k->srv) &&
         !(partial && conn->in.cap - conn->in.len >= conn->need - unparsed));
    int want = !conn->close_after_flush && !conn->eof &&
               conn->nreplies < MAX_INFLIGHT &&
               conn->out.len + conn->wbuf.len < k->opts.max_output &&
               (partial || unparsed < 4) && !global;
    if (!want && global)
        k->stalled = 1;
    if (want && !conn->reading) {
        if (uv_read_start((uv_stream_t *)&conn->tcp, alloc_cb, read_cb) == 0)
            conn->reading = 1;
    } else if (!want && conn->reading) {
        uv_read_stop((uv_stream_t *)&conn->tcp);
        conn->reading = 0;
    }
}

/* Refuses a frame that cannot be read: counted, then closed. */
static void frame_refuse(sl_kconn_t *conn, uint64_t *counter, const char *why,
                         int32_t size) {
    (*counter)++;
    sl_log_debug("kafka request refused; closing",
                 "peer=%s reason=\"%s\" "
                 "size=%" PRId32,
                 conn->peer, why, size);
    conn->close_after_flush = 1;
    conn->in_off = conn->in.len;
    conn->need = 0;
    conn->req_waiting = 0;
    mark_dirty(conn);
}

/* Executes the complete frames in conn's input, as far as the in-flight
 * limit and output limit allow. */
static void process(sl_kconn_t *conn) {
    sl_kafka_t *k = conn->k;
    while (!conn->closing && !conn->close_after_flush) {
        size_t have = conn->in.len - conn->in_off;
        if (have < 4) {
            conn->need = 4;
            break;
        }
        const uint8_t *p = conn->in.data + conn->in_off;
        int32_t size = (int32_t)sl_get_u32be(p);
        if (size < 0) {
            frame_refuse(conn, &k->st.err_size, "negative size", size);
            break;
        }
        if ((uint64_t)size > frame_max(conn)) {
            frame_refuse(conn, &k->st.err_too_large,
                         conn->authed ? "frame above max-request"
                                      : "frame too large before SASL",
                         size);
            break;
        }
        if (size < MIN_FRAME && !conn->sasl_raw) {
            frame_refuse(conn, &k->st.err_malformed, "frame below 8 bytes",
                         size);
            break;
        }
        conn->need = 4 + (size_t)size;
        if (have < conn->need) {
            if (!conn->req_waiting) {
                conn->req_waiting = 1;
                conn->req_start_ms = (uint64_t)uv_now(k->loop);
            }
            break;
        }
        if (conn->nreplies >= MAX_INFLIGHT ||
            conn->out.len + conn->wbuf.len >= k->opts.max_output)
            break;
        conn->req_waiting = 0;
        conn->in_off += conn->need;
        conn->need = 4;
        k->st.requests++;
        int rc = conn->sasl_raw
                     ? sl__kafka_sasl_raw(k, conn, p + 4, (size_t)size)
                     : sl__kafka_dispatch(k, conn, p + 4, (size_t)size);
        if (rc != 0) {
            conn->close_after_flush = 1;
            conn->in_off = conn->in.len;
            mark_dirty(conn);
            break;
        }
    }
    if (conn->eof && !conn->closing)
        mark_dirty(conn);
    update_reading(conn);
}

/* ---- the dispatcher's entry to reply slots ------------------------------ */

/* Runs handler for one parsed request (dispatch.c calls this through
 * sl__kafka_dispatch): opens the slot, and on a handler's error drops it
 * and closes the connection. */
int sl__kafka_run(sl_kafka_t *k, sl_kconn_t *conn, const sl_kreq_t *req,
                  sl_kreader_t *body, sl_kafka_handler_fn handler) {
    sl_kreply_t *reply = reply_open(conn, req->key, req->version, &req->corr);
    if (reply == NULL)
        return SL_ENOMEM;
    conn->running = reply;
    int rc = handler(k, conn, req, body, reply);
    if (rc != 0) {
        conn->running = NULL;
        reply_drop(conn, reply);
        return rc;
    }
    /* Still there unless the handler completed it and it was sent. */
    if (conn->running != NULL)
        reply_count(conn, conn->running,
                    sizeof *conn->running + conn->running->buf.cap);
    conn->running = NULL;
    sl__kafka_conn_account(conn);
    return 0;
}

int sl__kafka_send_raw(sl_kconn_t *conn, const void *data, size_t len) {
    sl_kreply_t *r = reply_open(conn, -1, 0, NULL);
    if (r == NULL)
        return SL_ENOMEM;
    sl_buf_append(&r->buf, data, len);
    sl__kafka_reply_done(r);
    return 0;
}

/* ---- listener ----------------------------------------------------------- */

static void reject_closed(uv_handle_t *h) { free(h); }

static void on_connection(uv_stream_t *ls, int status) {
    sl_kafka_t *k = ls->data;
    if (status < 0 || k->stopping)
        return;
    if (sl_server_conn_admit(k->srv) != 0) {
        /* Kafka has no greeting to refuse with: the connection is closed
         * at once, and the client retries with backoff. */
        uv_tcp_t *t = malloc(sizeof *t);
        if (t == NULL)
            return;
        uv_tcp_init(k->loop, t);
        uv_accept(ls, (uv_stream_t *)t);
        k->st.conns_rejected++;
        uv_close((uv_handle_t *)t, reject_closed);
        return;
    }
    sl_kconn_t *conn = calloc(1, sizeof *conn);
    if (conn == NULL) {
        sl_server_conn_release(k->srv);
        return;
    }
    conn->k = k;
    uv_tcp_init(k->loop, &conn->tcp);
    uv_timer_init(k->loop, &conn->timer);
    conn->tcp.data = conn;
    conn->timer.data = conn;
    conn->handles = 2;
    k->open_handles++;
    conn->authed = k->opts.secret == NULL;
    conn->need = 4;
    conn->last_active_ms = (uint64_t)uv_now(k->loop);
    conn->connected_ms = conn->last_active_ms;
    conn->next = k->conns;
    if (conn->next)
        conn->next->prev = conn;
    k->conns = conn;
    k->nconns++;
    k->st.conns_total++;
    sl__kafka_conn_account(conn);
    if (uv_accept(ls, (uv_stream_t *)&conn->tcp) != 0) {
        sl__kafka_conn_close(conn);
        return;
    }
    struct sockaddr_storage sa;
    int salen = sizeof sa;
    snprintf(conn->peer, sizeof conn->peer, "?");
    if (uv_tcp_getpeername(&conn->tcp, (struct sockaddr *)&sa, &salen) == 0) {
        char ip[48];
        if (sa.ss_family == AF_INET) {
            struct sockaddr_in *in = (struct sockaddr_in *)&sa;
            uv_ip4_name(in, ip, sizeof ip);
            snprintf(conn->peer, sizeof conn->peer, "%s:%u", ip,
                     ntohs(in->sin_port));
        } else if (sa.ss_family == AF_INET6) {
            struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&sa;
            uv_ip6_name(in6, ip, sizeof ip);
            snprintf(conn->peer, sizeof conn->peer, "[%s]:%u", ip,
                     ntohs(in6->sin6_port));
        }
    }
    uv_tcp_nodelay(&conn->tcp, 1);
    conn->tls_lazy = sl_server_tls(k->srv) != NULL;
    update_reading(conn);
}

static void sweep_cb(uv_timer_t *t) {
    sl_kafka_t *k = t->data;
    uint64_t now = (uint64_t)uv_now(k->loop);
    sl_kconn_t *next;
    for (sl_kconn_t *conn = k->conns; conn; conn = next) {
        next = conn->next;
        int open = !conn->close_after_flush;
        /* A TLS handshake has auth_ms (10 s when 0) from the connect. */
        if ((conn->tls_lazy ||
             (conn->tls != NULL && !sl_tls_conn_ready(conn->tls))) &&
            now - conn->connected_ms >
                (k->opts.auth_ms ? k->opts.auth_ms : 10000)) {
            sl__kafka_conn_close(conn);
            continue;
        }
        if (open && k->opts.auth_ms && !conn->authed &&
            now - conn->connected_ms > k->opts.auth_ms) {
            k->st.timeouts++;
            sl__kafka_conn_close(conn);
            continue;
        }
        if (open && k->opts.request_ms && conn->req_waiting && conn->reading &&
            now - conn->req_start_ms > k->opts.request_ms) {
            k->st.timeouts++;
            sl__kafka_conn_close(conn);
            continue;
        }
        if (k->opts.idle_ms && conn->rhead == NULL && !conn->writing &&
            now - conn->last_active_ms > k->opts.idle_ms) {
            k->st.idle_closed++;
            sl__kafka_conn_close(conn);
        }
    }
    sl__kafka_flush_dirty(k);
}

/* ---- the text server's hooks ------------------------------------------- */

void sl__kafka_ack(sl_kafka_t *k, const sl_ack_t *ack) {
    sl_kack_t *kack = ack->ctx;
    kack->cb(k, kack, ack);
}

static void ext_ack(void *arg, const sl_ack_t *ack) {
    sl_kafka_t *k = arg;
    k->in_core++;
    sl__kafka_ack(k, ack);
    k->in_core--;
}

static void ext_advance(void *arg, sl_part_t *part) {
    sl_kafka_t *k = arg;
    if (k->stopping)
        return;
    k->in_core++;
    sl__kafka_advance(k, part);
    k->in_core--;
}

/* After acks, advances and budget changes: write what completed, and
 * re-check reading (the budget or the store's staging may have eased). */
static void ext_flush(void *arg) {
    sl_kafka_t *k = arg;
    if (!k->in_core)
        sl__kafka_flush_dirty(k);
}

static void ext_stats(void *arg, sl_buf_t *out) { sl__kafka_stats(arg, out); }
static unsigned ext_members(void *arg, const char *group, size_t glen) {
    return sl__kafka_group_members(arg, group, glen);
}

int sl_kafka_start(uv_loop_t *loop, sl_server_t *srv, sl_store_t *store,
                   const sl_kafka_opts_t *opts, sl_kafka_t **out) {
    sl_kafka_t *k = calloc(1, sizeof *k);
    if (k == NULL)
        return SL_ENOMEM;
    k->loop = loop;
    k->srv = srv;
    k->store = store;
    k->opts = *opts;
    snprintf(k->adv_host, sizeof k->adv_host, "%s",
             opts->adv_host ? opts->adv_host : opts->host);
    k->adv_port = opts->adv_port ? opts->adv_port : opts->port;
    if (sl_strmap_init(&k->topics) != 0) {
        free(k);
        return SL_ENOMEM;
    }
    struct sockaddr_storage addr;
    int rc = uv_ip4_addr(opts->host, opts->port, (struct sockaddr_in *)&addr);
    if (rc != 0)
        rc = uv_ip6_addr(opts->host, opts->port, (struct sockaddr_in6 *)&addr);
    if (rc != 0) {
        sl_strmap_free(&k->topics);
        free(k);
        return SL_EINVAL;
    }
    uv_tcp_init(loop, &k->listener);
    k->listener.data = k;
    rc = uv_tcp_bind(&k->listener, (struct sockaddr *)&addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&k->listener, 1024, on_connection);
    if (rc != 0) {
        sl_log_warn("kafka: cannot listen", "address=%s:%u error=\"%s\"",
                    opts->host, opts->port, uv_strerror(rc));
        uv_close((uv_handle_t *)&k->listener, NULL);
        uv_run(loop, UV_RUN_NOWAIT);
        sl_strmap_free(&k->topics);
        free(k);
        return SL_ECONN;
    }
    uv_timer_init(loop, &k->sweep);
    k->sweep.data = k;
    uv_timer_start(&k->sweep, sweep_cb, 1000, 1000);
    k->open_handles = 2;
    sl_server_ext_t ext = {k,         ext_ack,   ext_advance,
                           ext_flush, ext_stats, ext_members};
    sl_server_set_ext(srv, &ext);
    *out = k;
    return 0;
}

static void k_handle_closed(uv_handle_t *h) {
    sl_kafka_t *k = h->data;
    k->open_handles--;
    if (k->open_handles == 0 && k->stop_cb) {
        void (*cb)(void *) = k->stop_cb;
        k->stop_cb = NULL;
        cb(k->stop_data);
    }
}

void sl_kafka_stop(sl_kafka_t *k, void (*cb)(void *data), void *data) {
    k->stopping = 1;
    k->stop_cb = cb;
    k->stop_data = data;
    uv_close((uv_handle_t *)&k->listener, k_handle_closed);
    uv_close((uv_handle_t *)&k->sweep, k_handle_closed);
    while (k->conns)
        sl__kafka_conn_close(k->conns);
    sl__kafka_data_stop(k);
    sl__kafka_groups_stop(k);
}

void sl_kafka_free(sl_kafka_t *k) {
    sl__kafka_data_free(k);
    sl__kafka_groups_free(k);
    sl__kafka_names_free(k);
    free(k);
}
