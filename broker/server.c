/*
 * Listener, connections and command dispatch; see server.h and
 * docs/protocol.md.
 *
 * Reading: each connection has one input buffer; requests are parsed in
 * place (proto.c) and executed in order. A put is encoded straight into
 * the store's group buffer; its ack is written when the store reports the
 * group durable. Any other command waits (stays unparsed in the buffer)
 * until the connection has no unacknowledged put, so replies never
 * overtake acks. A put, mput or commit refused while acks are pending
 * (a CRC mismatch, an unknown partition, the partition limit, a store
 * error) is not answered at once either: its error rides the store's ack
 * queue (an ACK_ERR, sl_store_ack_after) and goes out after the acks of
 * the requests before it, in request order. A get at the end of a
 * partition with wait=MS parks the connection on the partition until data
 * arrives or the wait ends.
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
 * Fairness: one call of process() on a connection (about one loop turn)
 * executes at most TURN_REQS requests, about TURN_BYTES of input and
 * output, or about TURN_NS of work; then the connection yields, and a
 * uv_idle handle goes on with it
 * in the next turn, after the loop served the others. A partitions listing
 * is written in slices of LIST_LINES lines per turn (no more while the
 * output is at max_output), so a listing of 200,000 partitions never holds
 * up other clients for more than a slice.
 *
 * Hostile peers: a refused put/mput header closes the connection (the
 * parser makes it fatal, see proto.h), so a payload never runs as
 * commands. Before auth only short lines are read and a put is refused at
 * its header (no payload is buffered). Deadlines that trickling cannot
 * reset: auth within auth_ms of the connect, and a started request within
 * request_ms of the moment the broker began waiting for its rest. A wrong
 * secret is answered, and the connection closed, only after a delay on a
 * timer; failures are logged at most once a second with a count. After a
 * half-close (EOF) every complete request is still executed and answered
 * before the connection closes.
 */
#include "broker/server.h"

#include "bytes.h"
#include "clock.h"
#include "error.h"
#include "log.h"
#include "version.h"

#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

/* Kinds of acks the server queues in the store. ACK_ERR is a refusal that
 * must wait for the acks before it: value holds the refusal (refuse_t) in
 * its upper 32 bits and the negated SL_E* code in its lower 32. */
enum { ACK_PUT = 1, ACK_COMMIT = 2, ACK_ERR = 3 };

/* Why a put, mput or commit was refused; selects the reply's text. */
typedef enum {
    RF_STORE = 0,  /* The store's error text (sl_strerror). */
    RF_UNKNOWN,    /* 404: partition does not exist (no auto-create). */
    RF_BADNAME,    /* 400: topic or partition name. */
    RF_LIMIT,      /* 429: max-partitions reached. */
    RF_OVERLAP,    /* 409: sequence range overlaps the last batch. */
    RF_CRC,        /* 400: crc= does not match the payload. */
    RF_NOMEM,      /* 500: out of memory. */
    RF_COUNT,      /* 400: mput items do not match COUNT. */
    RF_GROUP,      /* 400: bad group name (commit). */
    RF_FENCED      /* An earlier batch of the producer was refused. */
} refuse_t;

/* How long a wrong secret's 403 is held back before the close. */
#define SL_AUTH_FAIL_DELAY_MS 1000
/* Work of one connection in one call of process(), then it yields: so
 * many requests, bytes taken in and put out, or nanoseconds (cold reads
 * are slow; warm puts are not). */
#define TURN_REQS 1024
#define TURN_BYTES (1u << 20)
#define TURN_NS 2000000u
/* Lines written, and partitions looked at, per slice of a listing (which
 * also ends after TURN_NS: bounds of cold partitions read index files). */
#define LIST_LINES 256
#define LIST_SCAN 8192
/* Reads go into chunks of this size (a payload being received gets its
 * exact size). Empty buffers are kept for reuse (fresh memory costs a page
 * fault per page), up to KEEP_MAX, while less than half the budget is in
 * use; past that, and at the budget, those over KEEP_BUF are given back. */
#define READ_CHUNK (64u * 1024)
#define KEEP_BUF 4096
#define KEEP_MAX (64u << 20)

typedef struct sl_conn_s sl_conn_t;

typedef struct {
    uint64_t conns_total, conns_rejected, idle_closed, timeouts;
    uint64_t cmd_put, cmd_mput, cmd_get, cmd_offsets, cmd_commit,
        cmd_committed, cmd_other;
    uint64_t get_messages, get_bytes, long_polls;
    uint64_t bytes_read, bytes_sent;
    uint64_t err_protocol, err_unknown_cmd, err_too_large, err_crc,
        err_auth, err_not_found, err_range, err_truncated, err_store;
    uint64_t mem_full_events, mem_deferred, turn_yields;
    size_t mem_peak;
} srv_stats_t;

struct sl_server_s {
    uv_loop_t *loop;
    sl_store_t *store;
    sl_server_opts_t opts;
    uv_tcp_t listener;
    uv_timer_t sweep;
    sl_conn_t *conns;
    uint64_t nconns;
    int stopping;
    int open_handles;
    void (*stop_cb)(void *);
    void *stop_data;
    sl_msg_t *msgs;
    size_t capmsgs;
    sl_buf_t body;      /* Scratch for get replies. */
    sl_conn_t *dirty;   /* Connections with output to flush. */
    int64_t started_ms;
    uint64_t paused;    /* Connections paused for store back-pressure. */
    uint64_t auth_fail_unlogged; /* Failed auths not yet in the log. */
    uint64_t auth_fail_logged_ms; /* When the last such line was written. */
    char auth_fail_peer[64];      /* Address of the latest failure. */
    size_t mem_conns;   /* Bytes accounted to connections (conn->mem). */
    int mem_full;       /* At the memory budget: reading stopped. */
    uv_idle_t idle;     /* Goes on with yielded connections next turn. */
    uv_check_t check;   /* Notices memory released by the store. */
    sl_conn_t *yhead, *ytail; /* Yielded connections, in order. */
    srv_stats_t st;
};

struct sl_conn_s {
    uv_tcp_t tcp;
    uv_timer_t timer;
    sl_server_t *srv;
    sl_conn_t *next, *prev;     /* All connections. */
    sl_conn_t *wnext, *wprev;   /* Waiters on a partition. */
    sl_conn_t *dnext;           /* Dirty list. */
    sl_buf_t in;
    size_t in_off;
    size_t need;
    sl_buf_t out, wbuf;
    uv_write_t wreq;
    uint64_t pending_acks;
    uint64_t last_active_ms;
    int writing, reading, closing, close_after_flush, authed, dirty;
    int eof;                    /* The peer shut down its write side. */
    int held;                   /* A failed auth is being slowed down. */
    uint64_t connected_ms;      /* For auth_ms. */
    int req_waiting;            /* Waiting for the rest of a request... */
    uint64_t req_start_ms;      /* ...since then (for request_ms). */
    int handles;                /* Open uv handles (tcp, timer). */
    int parked;                 /* Long poll in progress. */
    sl_part_t *wait_part;
    uint64_t wait_offset, wait_max, wait_reqid;
    size_t mem;                 /* Bytes counted in srv->mem_conns. */
    sl_conn_t *ynext;           /* Yield list. */
    int queued;                 /* On the yield list. */
    int mem_wait;               /* A request waits for memory. */
    unsigned turn_reqs;         /* Requests begun in this turn. */
    size_t turn_in, turn_out;   /* in_off and out.len when it began. */
    uint64_t turn_ns;           /* uv_hrtime() when it began. */
    /* A partitions listing being written: ids list_next..list_end, of
     * topic list_topic (owned; NULL: all topics). */
    int listing;
    char *list_topic;
    size_t list_tlen;
    uint32_t list_next, list_end;
};

static void process(sl_conn_t *conn);
static void wait_timer_cb(uv_timer_t *t);
static void flush(sl_conn_t *conn);
static void update_reading(sl_conn_t *conn);
static void flush_dirty(sl_server_t *srv);
static void mem_update(sl_server_t *srv);
static void conn_trim(sl_conn_t *conn);
static size_t mem_used(const sl_server_t *srv);
static void conn_account(sl_conn_t *conn);
static void conn_yield(sl_conn_t *conn);
static int list_step(sl_conn_t *conn);

/* ---- output helpers --------------------------------------------------- */

static char *u64_to(char *p, uint64_t v) {
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

static void mark_dirty(sl_conn_t *conn) {
    if (!conn->dirty) {
        conn->dirty = 1;
        conn->dnext = conn->srv->dirty;
        conn->srv->dirty = conn;
    }
}

static void reply(sl_conn_t *conn, int code, uint64_t reqid, int has_reqid,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void reply(sl_conn_t *conn, int code, uint64_t reqid, int has_reqid,
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
    mark_dirty(conn);
}

/* ---- connection lifetime ---------------------------------------------- */

static void conn_free_maybe(sl_conn_t *conn) {
    if (conn->handles > 0 || conn->pending_acks > 0 || conn->writing ||
        conn->dirty || conn->queued)
        return;
    sl_server_t *srv = conn->srv;
    srv->mem_conns -= conn->mem;
    sl_buf_free(&conn->in);
    sl_buf_free(&conn->out);
    sl_buf_free(&conn->wbuf);
    free(conn->list_topic);
    free(conn);
    mem_update(srv);
}

static void unpark(sl_conn_t *conn) {
    if (!conn->parked)
        return;
    sl_part_t *part = conn->wait_part;
    if (conn->wprev)
        conn->wprev->wnext = conn->wnext;
    else
        part->waiters = conn->wnext;
    if (conn->wnext)
        conn->wnext->wprev = conn->wprev;
    conn->wnext = conn->wprev = NULL;
    conn->parked = 0;
    conn->wait_part = NULL;
    uv_timer_stop(&conn->timer);
}

static void handle_closed(uv_handle_t *h) {
    sl_conn_t *conn = h->data;
    sl_server_t *srv = conn->srv;
    conn->handles--;
    if (conn->handles == 0) {
        srv->open_handles--;
        conn_free_maybe(conn);
        flush_dirty(srv);
        if (srv->stopping && srv->open_handles == 0 && srv->stop_cb) {
            void (*cb)(void *) = srv->stop_cb;
            srv->stop_cb = NULL;
            cb(srv->stop_data);
        }
    }
}

static void conn_close(sl_conn_t *conn) {
    if (conn->closing)
        return;
    sl_server_t *srv = conn->srv;
    conn->closing = 1;
    unpark(conn);
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
        conn_free_maybe(conn);
        return;
    }
    if (status < 0) {
        conn_close(conn);
        return;
    }
    flush(conn);
    update_reading(conn);
    if (!conn->closing && !conn->parked)
        process(conn);
    sl_server_t *srv = conn->srv;
    if (!conn->closing)
        conn_trim(conn);
    flush_dirty(srv);
    mem_update(srv);
}

static void flush(sl_conn_t *conn) {
    if (conn->closing || conn->writing) {
        if (!conn->closing)
            conn_account(conn);
        return;
    }
    if (conn->out.len == 0) {
        if (conn->close_after_flush && !conn->held)
            conn_close(conn);
        return;
    }
    sl_buf_t tmp = conn->wbuf;
    conn->wbuf = conn->out;
    conn->out = tmp;
    sl_buf_reset(&conn->out);
    conn_account(conn);
    uv_buf_t b = uv_buf_init((char *)conn->wbuf.data, (unsigned)conn->wbuf.len);
    conn->wreq.data = conn;
    int rc = uv_write(&conn->wreq, (uv_stream_t *)&conn->tcp, &b, 1, write_cb);
    if (rc < 0) {
        conn_close(conn);
        return;
    }
    conn->writing = 1;
}

static void flush_dirty(sl_server_t *srv) {
    while (srv->dirty) {
        sl_conn_t *conn = srv->dirty;
        srv->dirty = conn->dnext;
        conn->dirty = 0;
        if (conn->closing)
            conn_free_maybe(conn);
        else
            flush(conn);
    }
}

/* ---- memory budget and fairness ------------------------------------------ */

/* Brings conn's share of srv->mem_conns up to what its buffers hold. */
static void conn_account(sl_conn_t *conn) {
    size_t now = sizeof *conn + conn->in.cap + conn->out.cap + conn->wbuf.cap;
    conn->srv->mem_conns += now - conn->mem; /* Unsigned: wraps right. */
    conn->mem = now;
}

/* The largest empty buffer to keep now (see KEEP_MAX). */
static size_t keep_limit(const sl_server_t *srv) {
    if (srv->opts.max_memory == 0 || mem_used(srv) < srv->opts.max_memory / 2)
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

static void conn_trim(sl_conn_t *conn) {
    conn_trim_to(conn, keep_limit(conn->srv));
}

static size_t mem_used(const sl_server_t *srv) {
    /* Once stopping, the store may be freed before the last connection. */
    return srv->mem_conns + srv->body.cap +
           (srv->stopping ? 0 : sl_store_staged_bytes(srv->store));
}

/* Stops reading everywhere when the memory in use reaches the budget;
 * below 7/8 of it, reading resumes and requests that waited for memory go
 * on in the next turn. */
static void mem_update(sl_server_t *srv) {
    uint64_t budget = srv->opts.max_memory;
    if (srv->stopping)
        return;
    size_t used = mem_used(srv);
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
        used = mem_used(srv);
    }
    if (!srv->mem_full && used >= budget) {
        srv->mem_full = 1;
        srv->st.mem_full_events++;
        sl_log_debug("memory budget reached; reading paused",
                     "used=%zu max_memory=%" PRIu64, used, budget);
        for (sl_conn_t *conn = srv->conns; conn; conn = conn->next)
            update_reading(conn);
    } else if (srv->mem_full && used < budget - budget / 8) {
        srv->mem_full = 0;
        sl_log_debug("memory released; reading resumed", "used=%zu", used);
        for (sl_conn_t *conn = srv->conns; conn; conn = conn->next) {
            update_reading(conn);
            if (conn->mem_wait) {
                conn->mem_wait = 0;
                conn_yield(conn);
            }
        }
    }
}

/* Whether a request that makes output (anything but put and commit) must
 * wait because the budget is reached; it then stays unparsed. */
static int mem_defer(sl_conn_t *conn) {
    if (!conn->srv->mem_full)
        return 0;
    if (!conn->mem_wait)
        conn->srv->st.mem_deferred++;
    conn->mem_wait = 1;
    return 1;
}

static void idle_cb(uv_idle_t *h);

/* Queues conn to be processed in the next loop turn. */
static void conn_yield(sl_conn_t *conn) {
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
            conn_free_maybe(conn);
        else if (!conn->parked)
            process(conn);
        conn = next;
    }
    if (srv->yhead == NULL)
        uv_idle_stop(h);
    flush_dirty(srv);
}

static void check_cb(uv_check_t *h) {
    mem_update(h->data);
}

/* Called at the start of process(). */
static void turn_begin(sl_conn_t *conn) {
    conn->turn_reqs = 0;
    conn->turn_in = conn->in_off;
    conn->turn_out = conn->out.len;
    conn->turn_ns = uv_hrtime();
}

/* Whether process() may go on with the next request of conn now: not
 * while a partitions listing is still being written, nor while the
 * pending output is at max_output (write_cb goes on), nor once this
 * turn's share is spent (the idle handle goes on next turn). */
static int may_parse(sl_conn_t *conn) {
    sl_server_t *srv = conn->srv;
    if (conn->listing && (mem_defer(conn) || list_step(conn) != 0))
        return 0;
    size_t avail = conn->in.len - conn->in_off;
    if (avail == 0 || avail < conn->need)
        return 1; /* Nothing complete to run; process() stops there. */
    if (conn->out.len + conn->wbuf.len >= srv->opts.max_output)
        return 0;
    size_t done = (conn->in_off > conn->turn_in ? conn->in_off - conn->turn_in
                                                : 0) +
                  (conn->out.len > conn->turn_out
                       ? conn->out.len - conn->turn_out : 0);
    if (conn->turn_reqs >= TURN_REQS || done >= TURN_BYTES ||
        (conn->turn_reqs > 0 && uv_hrtime() - conn->turn_ns >= TURN_NS)) {
        conn_yield(conn);
        return 0;
    }
    conn->turn_reqs++;
    return 1;
}

/* Called at the end of process(). */
static void turn_end(sl_conn_t *conn) {
    conn_trim(conn);
    mem_update(conn->srv);
}

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
        conn_close(conn);
    }
}

/* ---- reading ----------------------------------------------------------- */

/* Makes room in the input buffer for the next read: a chunk, or the rest
 * of a payload being received at its exact size (sl_buf_reserve() would
 * round it up to a power of two, and the budget counts what is
 * allocated). */
static int input_reserve(sl_conn_t *conn) {
    sl_buf_t *in = &conn->in;
    if (conn->in_off > 0 && conn->in_off == in->len) {
        sl_buf_reset(in);
        conn->in_off = 0;
    }
    size_t want = READ_CHUNK;
    size_t have = in->len - conn->in_off;
    int exact = conn->need > have && conn->need - have > want;
    if (exact)
        want = conn->need - have;
    if (in->cap - in->len < want && conn->in_off > 0) {
        sl_buf_consume(in, conn->in_off);
        conn->in_off = 0;
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
    conn_account(conn);
    return 0;
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

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    (void)buf;
    sl_conn_t *conn = s->data;
    if (nread == UV_EOF) {
        /* A half-close (`printf ... | nc`): the requests already received
         * are still executed and every reply, acks included, is sent
         * before process() closes the connection. */
        conn->eof = 1;
        uv_read_stop((uv_stream_t *)&conn->tcp);
        conn->reading = 0;
        /* A long poll is answered now (with what is there): the peer is
         * gone as a sender, and holding the connection for up to an hour
         * would only pin it. */
        if (conn->parked)
            uv_timer_start(&conn->timer, wait_timer_cb, 0, 0);
        process(conn);
        flush_dirty(conn->srv);
        return;
    }
    if (nread < 0) {
        conn_close(conn);
        return;
    }
    if (nread == 0) {
        conn_trim(conn); /* Nothing came: give the read buffer back. */
        return;
    }
    conn->in.len += (size_t)nread;
    conn->srv->st.bytes_read += (uint64_t)nread;
    conn->last_active_ms = (uint64_t)uv_now(conn->srv->loop);
    process(conn);
    flush_dirty(conn->srv);
}

static void update_reading(sl_conn_t *conn) {
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

/* ---- commands ----------------------------------------------------------- */

static int store_err_code(int err) {
    switch (err) {
    case SL_ETOOBIG:
        return 413;
    case SL_EAGAIN:
        return 503;
    case SL_EINVAL:
    case SL_ERANGE:
        return 400;
    case SL_ENOTFOUND:
        return 404;
    case SL_EEXIST:
        return 409;
    case SL_ELIMIT:
        return 429;
    case SL_ENOSPC:
        return 507;
    case SL_EDAMAGED:
        return 422;
    default:
        return 500;
    }
}

/* Writes the reply of a refusal (see refuse()). */
static void refusal_reply(sl_conn_t *conn, uint64_t reqid, refuse_t why,
                          int err) {
    switch (why) {
    case RF_UNKNOWN:
        reply(conn, 404, reqid, 1, "unknown partition");
        break;
    case RF_BADNAME:
        reply(conn, 400, reqid, 1, "bad topic or partition name");
        break;
    case RF_LIMIT:
        reply(conn, 429, reqid, 1, "partition limit reached "
              "(max-partitions %u)", sl_store_options(conn->srv->store)->max_partitions);
        break;
    case RF_OVERLAP:
        reply(conn, 409, reqid, 1, "sequence range overlaps the last stored "
              "batch of this producer; resend with the same batch "
              "boundaries");
        break;
    case RF_CRC:
        reply(conn, 400, reqid, 1, "crc mismatch");
        break;
    case RF_NOMEM:
        reply(conn, 500, reqid, 1, "out of memory");
        break;
    case RF_COUNT:
        reply(conn, 400, reqid, 1, "mput items do not match its count");
        break;
    case RF_GROUP:
        reply(conn, 400, reqid, 1, "bad group name");
        break;
    case RF_FENCED:
        /* The code of the refusal that set the fence, so a client treats
         * the run of batches after it alike (507 and 503 stay transient). */
        reply(conn, store_err_code(err), reqid, 1, "an earlier batch of "
              "this producer in this partition was refused; resend from it");
        break;
    case RF_STORE:
    default:
        reply(conn, store_err_code(err), reqid, 1, "%s", sl_strerror(err));
        break;
    }
}

/* Refuses a request with reply text why and error err. Replies leave in
 * request order: with acks pending on the connection (only puts, mputs
 * and commits run then, see process()), the refusal is queued behind
 * them in the store (an ACK_ERR) instead of being written at once. If
 * even that cannot be queued (out of memory), the connection is closed
 * without the reply: a reply out of order would be a protocol error for
 * the client, and a closed connection makes it resend what was not
 * acknowledged. */
static void refuse(sl_conn_t *conn, uint64_t reqid, refuse_t why, int err) {
    if (conn->pending_acks == 0) {
        refusal_reply(conn, reqid, why, err);
        return;
    }
    sl_ack_t ack = {conn, reqid,
                    ((uint64_t)why << 32) | (uint32_t)-(int64_t)err, ACK_ERR,
                    0};
    if (sl_store_ack_after(conn->srv->store, &ack) == 0) {
        conn->pending_acks++;
        return;
    }
    sl_log_warn("out of memory queueing a refusal", "reqid=%" PRIu64
                " action=closing the connection", reqid);
    conn_close(conn);
}

static int find_part(sl_conn_t *conn, const sl_cmd_t *cmd, int create,
                     sl_part_t **part) {
    int err = sl_store_part(conn->srv->store, cmd->topic.p, cmd->topic.len,
                            cmd->part.p, cmd->part.len, create, part);
    if (err == SL_ENOTFOUND) {
        conn->srv->st.err_not_found++;
        refuse(conn, cmd->reqid, RF_UNKNOWN, err);
    } else if (err == SL_EINVAL) {
        conn->srv->st.err_protocol++;
        refuse(conn, cmd->reqid, RF_BADNAME, err);
    } else if (err == SL_ELIMIT) {
        /* No fence is needed for these three: the partition does not
         * exist, so no batch of the producer can be stored in it after
         * this one (a name stays bad, auto-create stays off, partitions
         * are never removed, so the limit stays reached) and a resend is
         * never taken for a duplicate. */
        conn->srv->st.err_store++;
        refuse(conn, cmd->reqid, RF_LIMIT, err);
    } else if (err != 0) {
        conn->srv->st.err_store++;
        refuse(conn, cmd->reqid, RF_STORE, err);
    }
    return err;
}

/* Refuses a put or mput whose partition exists before it reached the
 * store. An idempotent producer is fenced at the batch's sequence, so
 * that its later pipelined batches are refused too: stored, they would
 * make the resend of this one look like a duplicate (store.c's fences).
 * The store fences its own refusals (overlap, too large, ...). */
static void put_refused(sl_conn_t *conn, const sl_cmd_t *cmd,
                        sl_part_t *part, refuse_t why, int err) {
    if (part != NULL && cmd->has_producer)
        sl_store_fence(conn->srv->store, part, cmd->producer, cmd->seq, err);
    refuse(conn, cmd->reqid, why, err);
}

static void do_put(sl_conn_t *conn, const sl_cmd_t *cmd) {
    sl_server_t *srv = conn->srv;
    sl_part_t *part;
    if (find_part(conn, cmd, 1, &part) != 0)
        return;
    size_t n = 0;
    if (cmd->type == SL_CMD_PUT) {
        srv->st.cmd_put++;
        if (srv->capmsgs < 1) {
            srv->msgs = realloc(srv->msgs, 64 * sizeof *srv->msgs);
            srv->capmsgs = srv->msgs ? 64 : 0;
            if (!srv->msgs) {
                put_refused(conn, cmd, part, RF_NOMEM, SL_ENOMEM);
                return;
            }
        }
        srv->msgs[0].data = cmd->payload;
        srv->msgs[0].len = cmd->payload_len;
        n = 1;
    } else {
        srv->st.cmd_mput++;
        if (srv->capmsgs < cmd->count) {
            sl_msg_t *m = realloc(srv->msgs, cmd->count * sizeof *m);
            if (m == NULL) {
                put_refused(conn, cmd, part, RF_NOMEM, SL_ENOMEM);
                return;
            }
            srv->msgs = m;
            srv->capmsgs = cmd->count;
        }
        const uint8_t *cur = cmd->payload, *end = cmd->payload + cmd->payload_len;
        while (n < cmd->count &&
               sl_proto_mput_next(&cur, end, &srv->msgs[n].data,
                                  &srv->msgs[n].len))
            n++;
        /* The parser checked the items against COUNT; this guards the
         * store from a short batch should the two ever disagree. */
        if (n != cmd->count) {
            srv->st.err_protocol++;
            put_refused(conn, cmd, part, RF_COUNT, SL_EINVAL);
            return;
        }
    }
    sl_ack_t ack = {conn, cmd->reqid, 0, ACK_PUT, 0};
    uint64_t base;
    int dup;
    int err = sl_store_append(srv->store, part, srv->msgs, n,
                              cmd->has_producer ? cmd->producer : -1,
                              cmd->seq, &ack, &base, &dup);
    if (err != 0) {
        /* sl_store_append fenced the producer itself. */
        srv->st.err_store++;
        if (err == SL_ETOOBIG)
            srv->st.err_too_large++;
        refuse(conn, cmd->reqid, err == SL_EEXIST ? RF_OVERLAP : RF_STORE,
               err);
        return;
    }
    conn->pending_acks++;
}

typedef struct {
    sl_buf_t *body;
} emit_ctx_t;

static int emit_cb(void *vctx, const sl_record_t *rec) {
    emit_ctx_t *ctx = vctx;
    uint8_t *p = sl_buf_extend(ctx->body, 64 + rec->value_len);
    if (p == NULL)
        return SL_ENOMEM;
    char *w = (char *)p;
    w = u64_to(w, rec->offset);
    *w++ = ' ';
    w = u64_to(w, (uint64_t)(rec->ts < 0 ? 0 : rec->ts));
    *w++ = ' ';
    w = u64_to(w, rec->value_len);
    *w++ = '\r';
    *w++ = '\n';
    if (rec->value_len)
        memcpy(w, rec->value, rec->value_len);
    w += rec->value_len;
    *w++ = '\r';
    *w++ = '\n';
    ctx->body->len -= 64 + rec->value_len - (size_t)(w - (char *)p);
    return 0;
}

/* Serves a get; returns 1 when it should wait (nothing there yet). */
static int serve_get(sl_conn_t *conn, sl_part_t *part, uint64_t offset,
                     uint64_t max_bytes, uint64_t reqid, int may_wait) {
    sl_server_t *srv = conn->srv;
    sl_buf_reset(&srv->body);
    emit_ctx_t ctx = {&srv->body};
    uint64_t next, count;
    int err = sl_store_read(srv->store, part, offset, max_bytes, emit_cb, &ctx,
                            &next, &count);
    if (err == SL_EGONE || err == SL_ERANGE) {
        uint64_t earliest = 0, latest = 0;
        sl_store_bounds(srv->store, part, &earliest, &latest);
        srv->st.err_range++;
        reply(conn, 416, reqid, 1, "%" PRIu64 " %" PRIu64 " offset %s",
              earliest, latest,
              err == SL_EGONE ? "no longer stored (retention)"
                              : "beyond the end");
        return 0;
    }
    if (err == SL_EDAMAGED) {
        /* Like 416, the text starts with the offset to go on from. */
        srv->st.err_store++;
        reply(conn, store_err_code(err), reqid, 1, "%" PRIu64 " offsets "
              "%" PRIu64 "-%" PRIu64 " damaged (quarantined)", next, offset,
              next - 1);
        return 0;
    }
    if (err != 0) {
        srv->st.err_store++;
        reply(conn, 500, reqid, 1, "read failed: %s", sl_strerror(err));
        return 0;
    }
    if (count == 0 && may_wait)
        return 1;
    srv->st.get_messages += count;
    srv->st.get_bytes += srv->body.len;
    char hdr[96];
    char *w = hdr;
    w += snprintf(w, 8, "200 ");
    w = u64_to(w, reqid);
    *w++ = ' ';
    w = u64_to(w, count);
    *w++ = ' ';
    w = u64_to(w, count ? next : offset);
    /* The partition's end, so that a consumer can tell a fetch cut by
     * MAXBYTES from being caught up (it keeps a target transaction open
     * only while more is already there). */
    uint64_t earliest = 0, latest = 0;
    sl_store_bounds(srv->store, part, &earliest, &latest);
    *w++ = ' ';
    w = u64_to(w, latest);
    *w++ = '\r';
    *w++ = '\n';
    sl_buf_append(&conn->out, hdr, (size_t)(w - hdr));
    sl_buf_append(&conn->out, srv->body.data, srv->body.len);
    if (srv->body.cap > keep_limit(srv))
        sl_buf_free(&srv->body);
    mark_dirty(conn);
    return 0;
}

static void wait_timer_cb(uv_timer_t *t) {
    sl_conn_t *conn = t->data;
    if (!conn->parked)
        return;
    sl_part_t *part = conn->wait_part;
    uint64_t reqid = conn->wait_reqid, off = conn->wait_offset;
    uint64_t max = conn->wait_max;
    unpark(conn);
    serve_get(conn, part, off, max, reqid, 0);
    process(conn);
    flush_dirty(conn->srv);
}

static void do_get(sl_conn_t *conn, const sl_cmd_t *cmd) {
    conn->srv->st.cmd_get++;
    sl_part_t *part;
    if (find_part(conn, cmd, 0, &part) != 0)
        return;
    if (serve_get(conn, part, cmd->offset, cmd->max_bytes, cmd->reqid,
                  cmd->wait_ms > 0)) {
        conn->srv->st.long_polls++;
        conn->parked = 1;
        conn->wait_part = part;
        conn->wait_offset = cmd->offset;
        conn->wait_max = cmd->max_bytes;
        conn->wait_reqid = cmd->reqid;
        conn->wprev = NULL;
        conn->wnext = part->waiters;
        if (conn->wnext)
            conn->wnext->wprev = conn;
        part->waiters = conn;
        uv_timer_start(&conn->timer, wait_timer_cb, cmd->wait_ms, 0);
    }
}

static void do_offsets(sl_conn_t *conn, const sl_cmd_t *cmd) {
    conn->srv->st.cmd_offsets++;
    sl_part_t *part;
    if (find_part(conn, cmd, 0, &part) != 0)
        return;
    uint64_t a, b;
    int err;
    if (cmd->has_ts) {
        err = sl_store_offset_for_ts(conn->srv->store, part, cmd->ts, &a);
        if (err == 0)
            reply(conn, 200, cmd->reqid, 1, "%" PRIu64, a);
    } else {
        err = sl_store_bounds(conn->srv->store, part, &a, &b);
        if (err == 0)
            reply(conn, 200, cmd->reqid, 1, "%" PRIu64 " %" PRIu64, a, b);
    }
    if (err != 0)
        reply(conn, 500, cmd->reqid, 1, "%s", sl_strerror(err));
}

static void do_commit(sl_conn_t *conn, const sl_cmd_t *cmd) {
    conn->srv->st.cmd_commit++;
    sl_part_t *part;
    if (find_part(conn, cmd, 0, &part) != 0)
        return;
    sl_ack_t ack = {conn, cmd->reqid, cmd->offset, ACK_COMMIT, 0};
    int err = sl_store_commit_offset(conn->srv->store, cmd->group.p,
                                     cmd->group.len, part, cmd->offset, &ack);
    if (err != 0) {
        refuse(conn, cmd->reqid, err == SL_EINVAL ? RF_GROUP : RF_STORE, err);
        return;
    }
    conn->pending_acks++;
}

static void do_committed(sl_conn_t *conn, const sl_cmd_t *cmd) {
    conn->srv->st.cmd_committed++;
    sl_part_t *part;
    if (find_part(conn, cmd, 0, &part) != 0)
        return;
    uint64_t off;
    if (sl_store_committed(conn->srv->store, cmd->group.p, cmd->group.len,
                           part, &off) != 0)
        reply(conn, 404, cmd->reqid, 1, "no committed offset");
    else
        reply(conn, 200, cmd->reqid, 1, "%" PRIu64, off);
}

static int topic_is(const sl_part_t *part, const char *topic, size_t tlen) {
    return strlen(part->topic) == tlen && memcmp(part->topic, topic, tlen) == 0;
}

/* Starts a listing: the count of the partitions that exist now (ids are
 * never reused or removed, so the lines written later are exactly these),
 * then list_step() writes the lines in slices. Counting looks at names
 * only (no I/O); the bounds, which may read index files, come per slice. */
static void do_partitions(sl_conn_t *conn, const sl_cmd_t *cmd) {
    sl_store_t *store = conn->srv->store;
    uint32_t n = 0;
    for (uint32_t id = 1; id <= sl_store_nparts(store); id++)
        if (cmd->topic.len == 0 ||
            topic_is(sl_store_part_by_id(store, id), cmd->topic.p, cmd->topic.len))
            n++;
    char *topic = NULL;
    if (cmd->topic.len > 0) {
        topic = malloc(cmd->topic.len);
        if (topic == NULL) {
            reply(conn, 500, cmd->reqid, 1, "out of memory");
            return;
        }
        memcpy(topic, cmd->topic.p, cmd->topic.len);
    }
    reply(conn, 200, cmd->reqid, 1, "%u", n);
    conn->listing = 1;
    conn->list_topic = topic;
    conn->list_tlen = cmd->topic.len;
    conn->list_next = 1;
    conn->list_end = sl_store_nparts(store);
}

/* Writes the next slice of a listing. Returns 0 when it is complete (END
 * written), 1 while it goes on: in the next turn, or once the output
 * drained below max_output (write_cb). */
static int list_step(sl_conn_t *conn) {
    sl_server_t *srv = conn->srv;
    sl_store_t *store = srv->store;
    unsigned lines = 0, scanned = 0;
    while (conn->list_next <= conn->list_end) {
        if (conn->out.len + conn->wbuf.len >= srv->opts.max_output)
            return 1;
        if (lines >= LIST_LINES || scanned >= LIST_SCAN ||
            (lines > 0 && lines % 16 == 0 &&
             uv_hrtime() - conn->turn_ns >= TURN_NS)) {
            conn_yield(conn);
            return 1;
        }
        sl_part_t *part = sl_store_part_by_id(store, conn->list_next++);
        scanned++;
        if (conn->list_topic &&
            !topic_is(part, conn->list_topic, conn->list_tlen))
            continue;
        uint64_t a = 0, b = 0;
        sl_store_bounds(store, part, &a, &b);
        sl_buf_printf(&conn->out, "%s %s %" PRIu64 " %" PRIu64 "\r\n",
                      part->topic, part->name, a, b);
        lines++;
    }
    sl_buf_append(&conn->out, "END\r\n", 5);
    free(conn->list_topic);
    conn->list_topic = NULL;
    conn->listing = 0;
    mark_dirty(conn);
    return 0;
}

static void do_stats(sl_conn_t *conn, const sl_cmd_t *cmd) {
    sl_server_t *srv = conn->srv;
    sl_store_t *store = srv->store;
    const sl_store_stats_t *ss = sl_store_get_stats(store);
    srv_stats_t *st = &srv->st;
    sl_buf_t *o = &conn->out;
    reply(conn, 200, cmd->reqid, 1, NULL);
#define STAT(name, fmt, v) sl_buf_printf(o, "STAT " name " " fmt "\r\n", v)
    STAT("version", "%s", SL_VERSION);
    STAT("uptime", "%" PRId64, (sl_wall_ms() - srv->started_ms) / 1000);
    STAT("curr_connections", "%" PRIu64, srv->nconns);
    STAT("total_connections", "%" PRIu64, st->conns_total);
    STAT("rejected_connections", "%" PRIu64, st->conns_rejected);
    STAT("idle_closed", "%" PRIu64, st->idle_closed);
    STAT("timeout_closed", "%" PRIu64, st->timeouts);
    STAT("cmd_put", "%" PRIu64, st->cmd_put);
    STAT("cmd_mput", "%" PRIu64, st->cmd_mput);
    STAT("cmd_get", "%" PRIu64, st->cmd_get);
    STAT("cmd_offsets", "%" PRIu64, st->cmd_offsets);
    STAT("cmd_commit", "%" PRIu64, st->cmd_commit);
    STAT("cmd_committed", "%" PRIu64, st->cmd_committed);
    STAT("cmd_other", "%" PRIu64, st->cmd_other);
    STAT("puts", "%" PRIu64, ss->puts);
    STAT("put_batches", "%" PRIu64, ss->put_batches);
    STAT("dup_batches", "%" PRIu64, ss->dup_batches);
    STAT("get_messages", "%" PRIu64, st->get_messages);
    STAT("get_bytes", "%" PRIu64, st->get_bytes);
    STAT("long_polls", "%" PRIu64, st->long_polls);
    STAT("bytes_read", "%" PRIu64, st->bytes_read);
    STAT("bytes_written", "%" PRIu64, st->bytes_sent);
    STAT("max_memory", "%" PRIu64, srv->opts.max_memory);
    STAT("memory_used", "%zu", mem_used(srv));
    STAT("memory_peak", "%zu", st->mem_peak);
    STAT("memory_full_events", "%" PRIu64, st->mem_full_events);
    STAT("memory_deferred", "%" PRIu64, st->mem_deferred);
    STAT("turn_yields", "%" PRIu64, st->turn_yields);
    STAT("log_bytes_written", "%" PRIu64, ss->bytes_written);
    STAT("group_commits", "%" PRIu64, ss->groups);
    STAT("fsyncs", "%" PRIu64, ss->fsyncs);
    STAT("fsync_avg_us", "%" PRIu64,
         ss->fsyncs ? ss->fsync_ns / ss->fsyncs / 1000 : 0);
    STAT("fsync_max_us", "%" PRIu64, ss->fsync_max_ns / 1000);
    STAT("checkpoints", "%" PRIu64, ss->checkpoints);
    STAT("partitions", "%u", sl_store_nparts(store));
    STAT("max_partitions", "%u", sl_store_options(store)->max_partitions);
    uint64_t ifiles, ibytes, idisk;
    sl_store_index_usage(store, &ifiles, &ibytes, &idisk);
    STAT("index_files", "%" PRIu64, ifiles);
    STAT("index_bytes", "%" PRIu64, ibytes);
    STAT("index_disk_bytes", "%" PRIu64, idisk);
    STAT("index_disk_bytes_per_partition", "%" PRIu64,
         sl_store_nparts(store) ? idisk / sl_store_nparts(store) : 0);
    STAT("disk_full", "%d", ss->disk_full);
    STAT("nospace_groups", "%" PRIu64, ss->nospace_groups);
    STAT("nospace_refused", "%" PRIu64, ss->nospace_refused);
    STAT("checkpoints_skipped", "%" PRIu64, ss->checkpoints_skipped);
    STAT("segments", "%zu", sl_store_nsegments(store));
    STAT("segments_deleted", "%" PRIu64, ss->segments_deleted);
    STAT("disk_used", "%" PRIu64, sl_store_disk_used(store));
    STAT("log_end", "%" PRIu64, sl_store_durable_end(store));
    STAT("recovery_ms", "%" PRIu64, ss->recovery_ms);
    STAT("recovered_entries", "%" PRIu64, ss->recovered_entries);
    STAT("recovery_truncated_bytes", "%" PRIu64, ss->truncated_bytes);
    STAT("recovery_quarantined_ranges", "%" PRIu64, ss->damaged_ranges);
    STAT("crc_errors", "%" PRIu64, ss->crc_errors);
    STAT("index_opens", "%" PRIu64, sl_store_index_opens(store));
    STAT("err_protocol", "%" PRIu64, st->err_protocol);
    STAT("err_unknown_command", "%" PRIu64, st->err_unknown_cmd);
    STAT("err_too_large", "%" PRIu64, st->err_too_large);
    STAT("err_crc_mismatch", "%" PRIu64, st->err_crc);
    STAT("err_auth", "%" PRIu64, st->err_auth);
    STAT("err_not_found", "%" PRIu64, st->err_not_found);
    STAT("err_offset_range", "%" PRIu64, st->err_range);
    STAT("err_truncated_request", "%" PRIu64, st->err_truncated);
    STAT("err_store", "%" PRIu64, st->err_store);
#undef STAT
    sl_buf_append(o, "END\r\n", 5);
}

static int secret_eq(const char *a, const char *b, size_t blen) {
    size_t alen = strlen(a);
    unsigned diff = alen != blen;
    for (size_t i = 0; i < blen; i++)
        diff |= (unsigned)(unsigned char)b[i] ^
                (unsigned)(unsigned char)a[i < alen ? i : 0];
    return diff == 0;
}

static void count_proto_err(sl_server_t *srv, const sl_proto_err_t *err) {
    if (err->code == 401)
        srv->st.err_auth++;
    else if (err->code == 413)
        srv->st.err_too_large++;
    else if (strcmp(err->msg, "unknown command") == 0)
        srv->st.err_unknown_cmd++;
    else if (strcmp(err->msg, "crc mismatch") == 0)
        srv->st.err_crc++;
    else
        srv->st.err_protocol++;
}

/* Logs failed auth attempts at most once a second, with their count, so
 * that a guessing client cannot flood the log. */
static void log_auth_failures(sl_server_t *srv, int force) {
    uint64_t now = (uint64_t)uv_now(srv->loop);
    if (srv->auth_fail_unlogged == 0 ||
        (!force && now - srv->auth_fail_logged_ms < 1000))
        return;
    sl_log_warn("authentication failed", "attempts=%" PRIu64
                " total=%" PRIu64 " last_peer=%s", srv->auth_fail_unlogged,
                srv->st.err_auth, srv->auth_fail_peer);
    srv->auth_fail_unlogged = 0;
    srv->auth_fail_logged_ms = now;
}

static void auth_delay_cb(uv_timer_t *t) {
    sl_conn_t *conn = t->data;
    conn->held = 0;
    reply(conn, 403, conn->wait_reqid, 1, "bad secret");
    flush_dirty(conn->srv);
}

/* A wrong secret: the 403 is sent, and the connection closed, only after
 * SL_AUTH_FAIL_DELAY_MS, on a timer (the loop is never blocked), and
 * nothing more is read from it meanwhile, so guessing is slow. */
static void auth_failed(sl_conn_t *conn, uint64_t reqid) {
    sl_server_t *srv = conn->srv;
    srv->st.err_auth++;
    srv->auth_fail_unlogged++;
    struct sockaddr_storage peer;
    int plen = sizeof peer;
    snprintf(srv->auth_fail_peer, sizeof srv->auth_fail_peer, "unknown");
    if (uv_tcp_getpeername(&conn->tcp, (struct sockaddr *)&peer, &plen) == 0)
        uv_ip_name((struct sockaddr *)&peer, srv->auth_fail_peer,
                   sizeof srv->auth_fail_peer);
    log_auth_failures(srv, 0);
    conn->wait_reqid = reqid;
    conn->close_after_flush = 1;
    conn->held = 1;
    uv_timer_start(&conn->timer, auth_delay_cb, SL_AUTH_FAIL_DELAY_MS, 0);
}

/* A put or mput the parser refused for a CRC mismatch after consuming it
 * whole (so the connection stays usable). Its header was valid, so its
 * partition is looked up (and, for an idempotent producer, created as the
 * put would have) to fence the producer: its later pipelined batches must
 * not be stored before this one is resent, even into a partition they
 * would create. */
static void put_parse_refused(sl_conn_t *conn, const sl_cmd_t *cmd) {
    sl_part_t *part = NULL;
    int create = cmd->has_producer;
    if (!conn->authed ||
        sl_store_part(conn->srv->store, cmd->topic.p, cmd->topic.len,
                      cmd->part.p, cmd->part.len, create, &part) != 0)
        part = NULL;
    put_refused(conn, cmd, part, RF_CRC, SL_EINVAL);
}

static void process(sl_conn_t *conn) {
    sl_server_t *srv = conn->srv;
    sl_proto_limits_t lim = srv->opts.limits;
    int starved = 0; /* Stopped for want of bytes, not to wait. */
    int took = 0;    /* Consumed at least one request. */
    turn_begin(conn);
    while (!conn->closing && !conn->close_after_flush && !conn->parked &&
           !conn->held) {
        if (!may_parse(conn))
            break;
        if (!conn->authed) {
            lim.no_payload = 1;
            if (lim.max_line > SL_PROTO_MAX_LINE_PREAUTH)
                lim.max_line = SL_PROTO_MAX_LINE_PREAUTH;
        } else {
            lim = srv->opts.limits;
        }
        size_t avail = conn->in.len - conn->in_off;
        if (avail == 0 || avail < conn->need) {
            starved = 1;
            break;
        }
        const uint8_t *p = conn->in.data + conn->in_off;
        sl_cmd_t cmd;
        sl_proto_err_t perr;
        size_t consumed, need;
        int rc = sl_proto_parse(p, avail, &lim, &cmd, &consumed, &need,
                                &perr);
        if (rc == SL_EAGAIN) {
            conn->need = need;
            starved = 1;
            break;
        }
        conn->need = 0;
        /* A put or mput refused without closing (a CRC mismatch: its
         * payload was consumed) is answered like a put, behind the acks
         * before it instead of waiting for them. */
        int put_err = rc != 0 && rc != SL_EAGAIN && !perr.fatal &&
                      perr.has_reqid && perr.msg != NULL &&
                      strcmp(perr.msg, "crc mismatch") == 0 &&
                      (cmd.type == SL_CMD_PUT || cmd.type == SL_CMD_MPUT);
        int is_write = (rc == 0 && (cmd.type == SL_CMD_PUT ||
                                    cmd.type == SL_CMD_MPUT ||
                                    cmd.type == SL_CMD_COMMIT)) ||
                       put_err;
        /* Anything but a put waits for earlier acks to keep reply order. */
        if (conn->pending_acks > 0 && !is_write)
            break;
        if (!is_write && mem_defer(conn))
            break;
        if (put_err) {
            count_proto_err(srv, &perr);
            conn->in_off += consumed;
            took = 1;
            put_parse_refused(conn, &cmd);
            continue;
        }
        if (rc != 0) {
            count_proto_err(srv, &perr);
            reply(conn, perr.code, perr.reqid, perr.has_reqid, "%s",
                  perr.msg);
            if (perr.fatal) {
                conn->close_after_flush = 1;
                break;
            }
            conn->in_off += consumed;
            took = 1;
            continue;
        }
        conn->in_off += consumed;
        took = 1;
        if (!conn->authed && cmd.type != SL_CMD_AUTH &&
            cmd.type != SL_CMD_QUIT) {
            srv->st.err_auth++;
            reply(conn, 401, cmd.reqid, 1, "authentication required");
            continue;
        }
        switch (cmd.type) {
        case SL_CMD_PUT:
        case SL_CMD_MPUT:
            do_put(conn, &cmd);
            break;
        case SL_CMD_GET:
            do_get(conn, &cmd);
            break;
        case SL_CMD_OFFSETS:
            do_offsets(conn, &cmd);
            break;
        case SL_CMD_COMMIT:
            do_commit(conn, &cmd);
            break;
        case SL_CMD_COMMITTED:
            do_committed(conn, &cmd);
            break;
        case SL_CMD_PARTITIONS:
            srv->st.cmd_other++;
            do_partitions(conn, &cmd);
            break;
        case SL_CMD_STATS:
            srv->st.cmd_other++;
            do_stats(conn, &cmd);
            break;
        case SL_CMD_VERSION:
            srv->st.cmd_other++;
            reply(conn, 200, cmd.reqid, 1, "sluice-broker %s", SL_VERSION);
            break;
        case SL_CMD_QUIT:
            srv->st.cmd_other++;
            reply(conn, 200, cmd.reqid, 1, "bye");
            conn->close_after_flush = 1;
            break;
        case SL_CMD_AUTH:
            srv->st.cmd_other++;
            if (srv->opts.secret == NULL ||
                secret_eq(srv->opts.secret, cmd.secret.p, cmd.secret.len)) {
                conn->authed = 1;
                reply(conn, 200, cmd.reqid, 1, "ok");
            } else {
                auth_failed(conn, cmd.reqid);
            }
            break;
        }
    }
    /* After a half-close, once every received request has been answered
     * (no ack or long poll outstanding), the connection is closed when
     * its replies are written; an incomplete request left is counted as
     * truncated by conn_close(). */
    if (conn->eof && starved && !conn->closing && !conn->parked &&
        conn->pending_acks == 0 && !conn->listing && !conn->queued &&
        !conn->mem_wait)
        conn->close_after_flush = 1;
    /* The request deadline runs only while the broker waits for the rest
     * of a started request (not while it is parked, waiting for acks or
     * paused); only completing a request restarts it, so trickling bytes
     * cannot. */
    if (starved && conn->in.len > conn->in_off) {
        if (took || !conn->req_waiting) {
            conn->req_waiting = 1;
            conn->req_start_ms = (uint64_t)uv_now(srv->loop);
        }
    } else {
        conn->req_waiting = 0;
    }
    if (conn->in_off > 0 && conn->in_off == conn->in.len) {
        sl_buf_reset(&conn->in);
        conn->in_off = 0;
    } else if (conn->in_off > (1u << 20) && conn->in_off > conn->in.len / 2) {
        sl_buf_consume(&conn->in, conn->in_off);
        conn->in_off = 0;
    }
    turn_end(conn);
    mark_dirty(conn);
    update_reading(conn);
}

/* ---- store callbacks ---------------------------------------------------- */

void sl_server_acks_cb(sl_store_t *store, sl_ack_t *acks, size_t n) {
    sl_server_t *srv = sl_store_get_data(store);
    for (size_t i = 0; i < n; i++) {
        sl_conn_t *conn = acks[i].ctx;
        conn->pending_acks--;
        if (conn->closing) {
            conn_free_maybe(conn);
            continue;
        }
        if (acks[i].extra == SL_ACK_NOSPACE) {
            /* Nothing was stored (disk full); the client may retry. */
            srv->st.err_store++;
            reply(conn, 507, acks[i].reqid, 1, "insufficient storage");
            continue;
        }
        if (acks[i].kind == ACK_ERR) {
            /* A refusal that waited for the acks before it (refuse()). */
            refusal_reply(conn, acks[i].reqid,
                          (refuse_t)(acks[i].value >> 32),
                          -(int)(uint32_t)acks[i].value);
            continue;
        }
        if (acks[i].extra == SL_ACK_FENCED) {
            /* Nothing was stored: an earlier batch of the producer was
             * refused and must be resent first (store.c's fences). */
            srv->st.err_store++;
            refusal_reply(conn, acks[i].reqid, RF_FENCED,
                          -(int)acks[i].value);
            continue;
        }
        char line[80];
        char *w = line;
        *w++ = '2';
        *w++ = '0';
        *w++ = '0';
        *w++ = ' ';
        w = u64_to(w, acks[i].reqid);
        *w++ = ' ';
        if (acks[i].value == UINT64_MAX) {
            memcpy(w, "unknown", 7);
            w += 7;
        } else {
            w = u64_to(w, acks[i].value);
        }
        if (acks[i].extra) {
            memcpy(w, " dup", 4);
            w += 4;
        }
        *w++ = '\r';
        *w++ = '\n';
        sl_buf_append(&conn->out, line, (size_t)(w - line));
        mark_dirty(conn);
    }
    /* Connections that were waiting for their acks can go on. */
    for (sl_conn_t *conn = srv->dirty; conn; conn = conn->dnext)
        if (conn->pending_acks == 0 && !conn->closing)
            process(conn);
    if (srv->paused && sl_store_filling_bytes(store) < (64u << 20)) {
        srv->paused = 0;
        for (sl_conn_t *conn = srv->conns; conn; conn = conn->next)
            update_reading(conn);
    }
    flush_dirty(srv);
}

void sl_server_advance_cb(sl_store_t *store, sl_part_t *part) {
    sl_server_t *srv = sl_store_get_data(store);
    while (part->waiters) {
        sl_conn_t *conn = part->waiters;
        uint64_t reqid = conn->wait_reqid, off = conn->wait_offset;
        uint64_t max = conn->wait_max;
        unpark(conn);
        serve_get(conn, part, off, max, reqid, 0);
        process(conn);
    }
    flush_dirty(srv);
}

/* ---- listener ----------------------------------------------------------- */

static void reject_closed(uv_handle_t *h) {
    free(h);
}

static void on_connection(uv_stream_t *ls, int status) {
    sl_server_t *srv = ls->data;
    if (status < 0 || srv->stopping)
        return;
    if (srv->nconns >= srv->opts.max_conns) {
        uv_tcp_t *t = malloc(sizeof *t);
        if (t == NULL)
            return;
        uv_tcp_init(srv->loop, t);
        if (uv_accept(ls, (uv_stream_t *)t) == 0) {
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
        conn_close(conn);
        return;
    }
    uv_tcp_nodelay(&conn->tcp, 1);
    update_reading(conn);
}

static void sweep_cb(uv_timer_t *t) {
    sl_server_t *srv = t->data;
    uint64_t now = (uint64_t)uv_now(srv->loop);
    sl_conn_t *next;
    log_auth_failures(srv, 0);
    for (sl_conn_t *conn = srv->conns; conn; conn = next) {
        next = conn->next;
        /* Deadlines that trickling bytes cannot reset: auth within auth_ms
         * of the connect, and each request within request_ms of the moment
         * the broker started waiting for its rest (see process()). */
        int open = !conn->held && !conn->close_after_flush;
        if (open && srv->opts.auth_ms && !conn->authed &&
            now - conn->connected_ms > srv->opts.auth_ms) {
            srv->st.timeouts++;
            reply(conn, 408, 0, 0, "authentication timeout");
            conn->close_after_flush = 1;
            update_reading(conn);
            continue;
        }
        if (open && srv->opts.request_ms && conn->req_waiting &&
            conn->reading && !conn->parked &&
            now - conn->req_start_ms > srv->opts.request_ms) {
            srv->st.timeouts++;
            reply(conn, 408, 0, 0, "request timeout");
            conn->close_after_flush = 1;
            update_reading(conn);
            continue;
        }
        if (srv->opts.idle_ms && !conn->parked && conn->pending_acks == 0 &&
            !conn->writing && now - conn->last_active_ms > srv->opts.idle_ms) {
            srv->st.idle_closed++;
            conn_close(conn);
        }
    }
    reap_stalled(srv);
    flush_dirty(srv);
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
        conn_close(srv->conns);
}

void sl_server_free(sl_server_t *srv) {
    free(srv->msgs);
    sl_buf_free(&srv->body);
    free(srv);
}
