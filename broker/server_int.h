/*
 * Internals of the broker's server, shared by its files (not for other
 * modules; the public surface is server.h):
 *   server.c        listener, connections, reading and writing, the
 *                   memory budget and deadlines;
 *   server_cmd.c    request dispatch, the commands, refusals, auth, and
 *                   the store's ack and advance callbacks;
 *   server_stats.c  the stats reply.
 * Everything runs on the loop thread.
 */
#ifndef SL_BROKER_SERVER_INT_H
#define SL_BROKER_SERVER_INT_H

#include "broker/server.h"

#include "buf.h"

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct sl_conn_s sl_conn_t;

typedef struct {
    uint64_t conns_total, conns_rejected, idle_closed, timeouts;
    uint64_t cmd_put, cmd_mput, cmd_get, cmd_offsets, cmd_commit, cmd_committed,
        cmd_other;
    uint64_t get_messages, get_bytes, long_polls;
    uint64_t bytes_read, bytes_sent;
    uint64_t err_protocol, err_unknown_cmd, err_too_large, err_crc, err_auth,
        err_not_found, err_range, err_truncated, err_store;
    uint64_t mem_full_events, mem_deferred, turn_yields;
    uint64_t tls_failed, tls_plaintext; /* Refused TLS sessions. */
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
    sl_buf_t body;    /* Scratch for get replies. */
    sl_conn_t *dirty; /* Connections with output to flush. */
    int64_t started_ms;
    uint64_t paused; /* Connections paused for store back-pressure. */
    uint64_t auth_fail_unlogged;  /* Failed auths not yet in the log. */
    uint64_t auth_fail_logged_ms; /* When the last such line was written. */
    char auth_fail_peer[64];      /* Address of the latest failure. */
    size_t mem_conns;         /* Bytes accounted to connections (conn->mem). */
    int mem_full;             /* At the memory budget: reading stopped. */
    uv_idle_t idle;           /* Goes on with yielded connections next turn. */
    uv_check_t check;         /* Notices memory released by the store. */
    sl_conn_t *yhead, *ytail; /* Yielded connections, in order. */
    srv_stats_t st;
    sl_server_ext_t ext;      /* The Kafka listener's hooks (server.h). */
    uint64_t ext_conns;       /* Its connections, within max_conns. */
    struct sl_tls_ctx_s *tls; /* Listener's TLS context, or NULL. */
};

struct sl_conn_s {
    uv_tcp_t tcp;
    uv_timer_t timer;
    sl_server_t *srv;
    sl_conn_t *next, *prev;   /* All connections. */
    sl_conn_t *wnext, *wprev; /* Waiters on a partition. */
    sl_conn_t *dnext;         /* Dirty list. */
    sl_buf_t in;
    size_t in_off;
    size_t need;
    sl_buf_t out, wbuf;
    uv_write_t wreq;
    uint64_t pending_acks;
    uint64_t last_active_ms;
    int writing, reading, closing, close_after_flush, authed, dirty;
    int eof;               /* The peer shut down its write side. */
    int held;              /* A failed auth is being slowed down. */
    uint64_t connected_ms; /* For auth_ms. */
    int req_waiting;       /* Waiting for the rest of a request... */
    uint64_t req_start_ms; /* ...since then (for request_ms). */
    int handles;           /* Open uv handles (tcp, timer). */
    int parked;            /* Long poll in progress. */
    sl_part_t *wait_part;
    uint64_t wait_offset, wait_max, wait_reqid;
    int wait_meta;            /* The parked get asked for meta=1. */
    size_t mem;               /* Bytes counted in srv->mem_conns. */
    sl_conn_t *ynext;         /* Yield list. */
    int queued;               /* On the yield list. */
    int mem_wait;             /* A request waits for memory. */
    unsigned turn_reqs;       /* Requests begun in this turn. */
    size_t turn_in, turn_out; /* in_off and out.len when it began. */
    uint64_t turn_ns;         /* uv_hrtime() when it began. */
    /* A partitions listing being written: ids list_next..list_end, of
     * topic list_topic (owned; NULL: all topics). */
    int listing;
    char *list_topic;
    size_t list_tlen;
    uint32_t list_next, list_end;
    struct sl_tls_conn_s *tls; /* TLS session (owned), or NULL: plaintext. */
    int tls_lazy; /* The session is made at the first read (see server.c). */
};

/* ---- server.c ----------------------------------------------------------- */

/* Queues conn's output to be written by sl__server_flush_dirty(). */
static inline void sl__server_mark_dirty(sl_conn_t *conn) {
    if (!conn->dirty) {
        conn->dirty = 1;
        conn->dnext = conn->srv->dirty;
        conn->srv->dirty = conn;
    }
}

/* Appends a status line "CODE REQID TEXT" (REQID "-" unless has_reqid;
 * no TEXT when fmt is NULL or empty) to conn's output. */
void sl__server_reply(sl_conn_t *conn, int code, uint64_t reqid, int has_reqid,
                      const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Starts writing the output of every connection marked dirty. */
void sl__server_flush_dirty(sl_server_t *srv);
/* Closes conn (once); it is freed when its handles are closed and nothing
 * refers to it any more (sl__server_conn_free_maybe()). */
void sl__server_conn_close(sl_conn_t *conn);
void sl__server_conn_free_maybe(sl_conn_t *conn);
/* Starts or stops reading conn as its limits and the budget allow. */
void sl__server_update_reading(sl_conn_t *conn);
/* Queues conn to be processed in the next loop turn. */
void sl__server_conn_yield(sl_conn_t *conn);

/* Memory budget: the largest empty buffer to keep now, the bytes in use,
 * giving back conn's spare buffers, and pausing or resuming reading. */
size_t sl__server_keep_limit(const sl_server_t *srv);
size_t sl__server_mem_used(const sl_server_t *srv);
void sl__server_conn_trim(sl_conn_t *conn);
void sl__server_mem_update(sl_server_t *srv);

/* ---- server_cmd.c ------------------------------------------------------- */

/* Executes the complete requests in conn's input, as far as ordering,
 * fairness, the budget and the output limit allow. */
void sl__server_process(sl_conn_t *conn);
/* Takes conn off the waiters of the partition its long poll waits on. */
void sl__server_unpark(sl_conn_t *conn);
/* Ends a long poll (conn's timer): answers the get with what is there. */
void sl__server_wait_cb(uv_timer_t *t);
/* Logs the failed auths not logged yet (at most once a second unless
 * force). */
void sl__server_log_auth_failures(sl_server_t *srv, int force);

/* ---- server_stats.c ----------------------------------------------------- */

/* Writes the reply to a stats request. */
void sl__server_stats(sl_conn_t *conn, const sl_cmd_t *cmd);

#endif
