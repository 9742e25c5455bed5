/*
 * The broker's requests: dispatch, the commands, refusals, auth, long
 * polls, and the store's callbacks that deliver acks and new data; see
 * server_int.h and docs/protocol.md.
 *
 * Order: each connection has one input buffer; requests are parsed in
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
 * Fairness: one call of sl__server_process() on a connection (about one
 * loop turn) executes at most TURN_REQS requests, about TURN_BYTES of
 * input and output, or about TURN_NS of work; then the connection yields,
 * and a uv_idle handle goes on with it in the next turn, after the loop
 * served the others. A partitions listing is written in slices of
 * LIST_LINES lines per turn (no more while the output is at max_output),
 * so a listing of 200,000 partitions never holds up other clients for
 * more than a slice.
 *
 * Hostile peers: a refused put/mput header closes the connection (the
 * parser makes it fatal, see proto.h), so a payload never runs as
 * commands. Before auth a put is refused at its header (no payload is
 * buffered). A wrong secret is answered, and the connection closed, only
 * after a delay on a timer; failures are logged at most once a second
 * with a count.
 */
#include "broker/server_groups_int.h"
#include "broker/server_int.h"

#include "bytes.h"
#include "error.h"
#include "fmt.h"
#include "log.h"
#include "status.h"
#include "version.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Kinds of acks the server queues in the store. ACK_ERR is a refusal that
 * must wait for the acks before it: value holds the refusal (refuse_t) in
 * its upper 32 bits and the negated SL_E* code in its lower 32. */
enum { ACK_PUT = 1, ACK_COMMIT = 2, ACK_ERR = 3 };

/* Why a put, mput or commit was refused; selects the reply's text. */
typedef enum {
    RF_STORE = 0, /* The store's error text (sl_strerror). */
    RF_UNKNOWN,   /* 404: partition does not exist (no auto-create). */
    RF_BADNAME,   /* 400: topic or partition name. */
    RF_LIMIT,     /* 429: max-partitions reached. */
    RF_OVERLAP,   /* 409: sequence range overlaps the last batch. */
    RF_CRC,       /* 400: crc= does not match the payload. */
    RF_NOMEM,     /* 500: out of memory. */
    RF_COUNT,     /* 400: mput items do not match COUNT. */
    RF_GROUP,     /* 400: bad group name (commit). */
    RF_FENCED     /* An earlier batch of the producer was refused. */
} refuse_t;

/* How long a wrong secret's 403 is held back before the close. */
#define SL_AUTH_FAIL_DELAY_MS 1000
/* Work of one connection in one call of sl__server_process(), then it
 * yields: so many requests, bytes taken in and put out, or nanoseconds
 * (cold reads are slow; warm puts are not). */
#define TURN_REQS 1024
#define TURN_BYTES (1u << 20)
#define TURN_NS 2000000u
/* Lines written, and partitions looked at, per slice of a listing (which
 * also ends after TURN_NS: bounds of cold partitions read index files). */
#define LIST_LINES 256
#define LIST_SCAN 8192

static int list_step(sl_conn_t *conn);

/* ---- ordering, fairness and the budget ---------------------------------- */

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

/* Called at the start of sl__server_process(). */
static void turn_begin(sl_conn_t *conn) {
    conn->turn_reqs = 0;
    conn->turn_in = conn->in_off;
    conn->turn_out = conn->out.len;
    conn->turn_ns = uv_hrtime();
}

/* Whether sl__server_process() may go on with the next request of conn now: not
 * while a partitions listing is still being written, nor while the
 * pending output is at max_output (write_cb goes on), nor once this
 * turn's share is spent (the idle handle goes on next turn). */
static int may_parse(sl_conn_t *conn) {
    sl_server_t *srv = conn->srv;
    if (conn->listing && (mem_defer(conn) || list_step(conn) != 0))
        return 0;
    size_t avail = conn->in.len - conn->in_off;
    if (avail == 0 || avail < conn->need)
        return 1; /* Nothing complete to run; sl__server_process() stops there.
                   */
    if (conn->out.len + conn->wbuf.len >= srv->opts.max_output)
        return 0;
    size_t done =
        (conn->in_off > conn->turn_in ? conn->in_off - conn->turn_in : 0) +
        (conn->out.len > conn->turn_out ? conn->out.len - conn->turn_out : 0);
    if (conn->turn_reqs >= TURN_REQS || done >= TURN_BYTES ||
        (conn->turn_reqs > 0 && uv_hrtime() - conn->turn_ns >= TURN_NS)) {
        sl__server_conn_yield(conn);
        return 0;
    }
    conn->turn_reqs++;
    return 1;
}

/* Called at the end of sl__server_process(). */
static void turn_end(sl_conn_t *conn) {
    sl__server_conn_trim(conn);
    sl__server_mem_update(conn->srv);
}

/* ---- long polls ------------------------------------------------------- */

void sl__server_unpark(sl_conn_t *conn) {
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

/* ---- commands ----------------------------------------------------------- */

/* Writes the reply of a refusal (see refuse()). */
static void refusal_reply(sl_conn_t *conn, uint64_t reqid, refuse_t why,
                          int err) {
    switch (why) {
    case RF_UNKNOWN:
        sl__server_reply(conn, SL_STATUS_NOT_FOUND, reqid, 1,
                         "unknown partition");
        break;
    case RF_BADNAME:
        sl__server_reply(conn, SL_STATUS_BAD_REQUEST, reqid, 1,
                         "bad topic or partition name");
        break;
    case RF_LIMIT:
        sl__server_reply(conn, SL_STATUS_LIMIT, reqid, 1,
                         "partition limit reached "
                         "(max-partitions %u)",
                         sl_store_options(conn->srv->store)->max_partitions);
        break;
    case RF_OVERLAP:
        sl__server_reply(conn, SL_STATUS_CONFLICT, reqid, 1,
                         "sequence range overlaps the last stored "
                         "batch of this producer; resend with the same batch "
                         "boundaries");
        break;
    case RF_CRC:
        sl__server_reply(conn, SL_STATUS_BAD_REQUEST, reqid, 1, "crc mismatch");
        break;
    case RF_NOMEM:
        sl__server_reply(conn, SL_STATUS_INTERNAL, reqid, 1, "out of memory");
        break;
    case RF_COUNT:
        sl__server_reply(conn, SL_STATUS_BAD_REQUEST, reqid, 1,
                         "mput items do not match its count");
        break;
    case RF_GROUP:
        sl__server_reply(conn, SL_STATUS_BAD_REQUEST, reqid, 1,
                         "bad group name");
        break;
    case RF_FENCED:
        /* The code of the refusal that set the fence, so a client treats
         * the run of batches after it alike (507 and 503 stay transient). */
        sl__server_reply(
            conn, sl_status_of_error(err), reqid, 1,
            "an earlier batch of "
            "this producer in this partition was refused; resend from it");
        break;
    case RF_STORE:
    default:
        sl__server_reply(conn, sl_status_of_error(err), reqid, 1, "%s",
                         sl_strerror(err));
        break;
    }
}

/* Refuses a request with reply text why and error err. Replies leave in
 * request order: with acks pending on the connection (only puts, mputs
 * and commits run then, see sl__server_process()), the refusal is queued behind
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
                    ((uint64_t)why << 32) | (uint32_t) - (int64_t)err, ACK_ERR,
                    0};
    if (sl_store_ack_after(conn->srv->store, &ack) == 0) {
        conn->pending_acks++;
        return;
    }
    sl_log_warn("out of memory queueing a refusal",
                "reqid=%" PRIu64 " action=closing the connection", reqid);
    sl__server_conn_close(conn);
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
 * make the resend of this one look like a duplicate (catalog.c's fences).
 * The store fences its own refusals (overlap, too large, ...). */
static void put_refused(sl_conn_t *conn, const sl_cmd_t *cmd, sl_part_t *part,
                        refuse_t why, int err) {
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
        srv->msgs[0].key = cmd->key;
        srv->msgs[0].key_len = cmd->key_len;
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
        const uint8_t *cur = cmd->payload,
                      *end = cmd->payload + cmd->payload_len;
        sl_msg_t *m = srv->msgs;
        if (cmd->has_key) {
            while (n < cmd->count &&
                   sl_proto_mput_next_keyed(&cur, end, &m[n].data, &m[n].len,
                                            &m[n].key, &m[n].key_len))
                n++;
        } else {
            /* No item has a key: the loop of the usual batch. */
            while (n < cmd->count &&
                   sl_proto_mput_next(&cur, end, &m[n].data, &m[n].len)) {
                m[n].key = NULL;
                n++;
            }
        }
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
                              cmd->has_producer ? cmd->producer : -1, cmd->seq,
                              &ack, &base, &dup);
    if (err != 0) {
        /* sl_store_append fenced the producer itself. */
        srv->st.err_store++;
        if (err == SL_ETOOBIG)
            srv->st.err_too_large++;
        refuse(conn, cmd->reqid, err == SL_EEXIST ? RF_OVERLAP : RF_STORE, err);
        return;
    }
    conn->pending_acks++;
}

typedef struct {
    sl_buf_t *body;
    /* meta=1 only: MAXBYTES, the bytes counted so far (value, key, header
     * names and values, 16 per record and 8 per header), records emitted,
     * and whether
     * emit_meta_cb stopped the read at the budget. */
    uint64_t max_bytes, used, count;
    int stopped;
} emit_ctx_t;

static int emit_cb(void *vctx, const sl_record_t *rec) {
    emit_ctx_t *ctx = vctx;
    uint8_t *p = sl_buf_extend(ctx->body, 64 + rec->value_len);
    if (p == NULL)
        return SL_ENOMEM;
    char *w = (char *)p;
    w = sl_fmt_u64(w, rec->offset);
    *w++ = ' ';
    w = sl_fmt_u64(w, (uint64_t)(rec->ts < 0 ? 0 : rec->ts));
    *w++ = ' ';
    w = sl_fmt_u64(w, rec->value_len);
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

/* A signed length as meta=1 writes it: -1 for a null. */
static char *fmt_len(char *w, const void *p, size_t len) {
    if (p == NULL) {
        *w++ = '-';
        *w++ = '1';
        return w;
    }
    return sl_fmt_u64(w, len);
}

/* Appends "<len bytes>\r\n" unless p is NULL (a null key or value). */
static int put_bytes(sl_buf_t *b, const uint8_t *p, size_t len) {
    if (p == NULL)
        return 0;
    uint8_t *w = sl_buf_extend(b, len + 2);
    if (w == NULL)
        return SL_ENOMEM;
    if (len)
        memcpy(w, p, len);
    w[len] = '\r';
    w[len + 1] = '\n';
    return 0;
}

/* emit_cb for a get with meta=1 (docs/protocol.md): "OFFSET TIMESTAMP
 * LENGTH KEYLEN NHEADERS\r\n", the key, each header as "NAMELEN
 * VALUELEN\r\n<name><value>\r\n", then the value; a null key or value is
 * length -1 and no bytes. Key and header bytes count against MAXBYTES, so
 * this callback keeps the budget itself (the store counts values only) and
 * stops the read with SL_ELIMIT once it is used. A separate callback keeps
 * the default reply's path as it was. */
static int emit_meta_cb(void *vctx, const sl_record_t *rec) {
    emit_ctx_t *ctx = vctx;
    if (ctx->count > 0 && ctx->used >= ctx->max_bytes) {
        ctx->stopped = 1;
        return SL_ELIMIT;
    }
    char line[112];
    char *w = line;
    w = sl_fmt_u64(w, rec->offset);
    *w++ = ' ';
    w = sl_fmt_u64(w, (uint64_t)(rec->ts < 0 ? 0 : rec->ts));
    *w++ = ' ';
    w = fmt_len(w, rec->value, rec->value_len);
    *w++ = ' ';
    w = fmt_len(w, rec->key, rec->key_len);
    *w++ = ' ';
    w = sl_fmt_u64(w, rec->nheaders);
    *w++ = '\r';
    *w++ = '\n';
    uint64_t cost = 16 + rec->value_len + rec->key_len;
    int err = sl_buf_append(ctx->body, line, (size_t)(w - line));
    if (err == 0)
        err = put_bytes(ctx->body, rec->key, rec->key_len);
    /* The headers were checked by sl_record_next(): a failure to decode
     * them now is damage all the same. */
    sl_reader_t rd;
    sl_reader_init(&rd, rec->headers, rec->headers_len);
    for (uint32_t h = 0; err == 0 && h < rec->nheaders; h++) {
        int64_t nl, vl;
        if (sl_rd_varint(&rd, &nl) != 0 || nl < 0 ||
            (uint64_t)nl > sl_reader_left(&rd))
            return SL_ECORRUPT;
        const uint8_t *name = rd.p;
        rd.p += nl;
        if (sl_rd_varint(&rd, &vl) != 0 || vl < -1 ||
            (vl >= 0 && (uint64_t)vl > sl_reader_left(&rd)))
            return SL_ECORRUPT;
        const uint8_t *val = vl < 0 ? NULL : rd.p;
        size_t vlen = vl < 0 ? 0 : (size_t)vl;
        rd.p += vlen;
        w = line;
        w = sl_fmt_u64(w, (uint64_t)nl);
        *w++ = ' ';
        w = fmt_len(w, val, vlen);
        *w++ = '\r';
        *w++ = '\n';
        /* Name and value go out as one span, ended by one line end. */
        err = sl_buf_append(ctx->body, line, (size_t)(w - line));
        if (err == 0)
            err = sl_buf_append(ctx->body, name, (size_t)nl);
        if (err == 0)
            err = put_bytes(ctx->body, val ? val : name + nl, vlen);
        /* 8 per header besides its bytes, so that the text's size stays
         * in proportion to MAXBYTES even for headers with empty names and
         * null values (a record may hold many). */
        cost += (uint64_t)nl + vlen + 8;
    }
    if (err == 0)
        err = put_bytes(ctx->body, rec->value, rec->value_len);
    if (err != 0)
        return err;
    ctx->used += cost;
    ctx->count++;
    return 0;
}

/* Serves a get; returns 1 when it should wait (nothing there yet). */
static int serve_get(sl_conn_t *conn, sl_part_t *part, uint64_t offset,
                     uint64_t max_bytes, uint64_t reqid, int may_wait,
                     int meta) {
    sl_server_t *srv = conn->srv;
    sl_buf_reset(&srv->body);
    emit_ctx_t ctx = {&srv->body, max_bytes, 0, 0, 0};
    uint64_t next, count;
    int err = sl_store_read(srv->store, part, offset, max_bytes,
                            meta ? emit_meta_cb : emit_cb, &ctx, &next, &count);
    if (err == SL_ELIMIT && ctx.stopped)
        err = 0; /* emit_meta_cb's budget was used: a full reply. */
    if (err == SL_EGONE || err == SL_ERANGE) {
        uint64_t earliest = 0, latest = 0;
        sl_store_bounds(srv->store, part, &earliest, &latest);
        srv->st.err_range++;
        sl__server_reply(conn, SL_STATUS_OUT_OF_RANGE, reqid, 1,
                         "%" PRIu64 " %" PRIu64 " offset %s", earliest, latest,
                         err == SL_EGONE ? "no longer stored (retention)"
                                         : "beyond the end");
        return 0;
    }
    if (err == SL_EDAMAGED) {
        /* Like 416, the text starts with the offset to go on from. */
        srv->st.err_store++;
        sl__server_reply(conn, sl_status_of_error(err), reqid, 1,
                         "%" PRIu64 " offsets "
                         "%" PRIu64 "-%" PRIu64 " damaged (quarantined)",
                         next, offset, next - 1);
        return 0;
    }
    if (err != 0) {
        srv->st.err_store++;
        sl__server_reply(conn, SL_STATUS_INTERNAL, reqid, 1, "read failed: %s",
                         sl_strerror(err));
        return 0;
    }
    if (count == 0 && may_wait)
        return 1;
    srv->st.get_messages += count;
    srv->st.get_bytes += srv->body.len;
    char hdr[96];
    char *w = hdr;
    w += snprintf(w, 8, "200 ");
    w = sl_fmt_u64(w, reqid);
    *w++ = ' ';
    w = sl_fmt_u64(w, count);
    *w++ = ' ';
    w = sl_fmt_u64(w, count ? next : offset);
    /* The partition's end, so that a consumer can tell a fetch cut by
     * MAXBYTES from being caught up (it keeps a target transaction open
     * only while more is already there). */
    uint64_t earliest = 0, latest = 0;
    sl_store_bounds(srv->store, part, &earliest, &latest);
    *w++ = ' ';
    w = sl_fmt_u64(w, latest);
    *w++ = '\r';
    *w++ = '\n';
    sl_buf_append(&conn->out, hdr, (size_t)(w - hdr));
    sl_buf_append(&conn->out, srv->body.data, srv->body.len);
    if (srv->body.cap > sl__server_keep_limit(srv))
        sl_buf_free(&srv->body);
    sl__server_mark_dirty(conn);
    return 0;
}

/* Ends conn's long poll: answers the get with what is there now and goes
 * on with the requests behind it. */
static void wake(sl_conn_t *conn) {
    sl_part_t *part = conn->wait_part;
    uint64_t reqid = conn->wait_reqid, off = conn->wait_offset;
    uint64_t max = conn->wait_max;
    int meta = conn->wait_meta;
    sl__server_unpark(conn);
    serve_get(conn, part, off, max, reqid, 0, meta);
    sl__server_process(conn);
}

void sl__server_wait_cb(uv_timer_t *t) {
    sl_conn_t *conn = t->data;
    if (!conn->parked)
        return;
    wake(conn);
    sl__server_flush_dirty(conn->srv);
}

static void do_get(sl_conn_t *conn, const sl_cmd_t *cmd) {
    conn->srv->st.cmd_get++;
    sl_part_t *part;
    if (find_part(conn, cmd, 0, &part) != 0)
        return;
    if (serve_get(conn, part, cmd->offset, cmd->max_bytes, cmd->reqid,
                  cmd->wait_ms > 0, cmd->meta)) {
        conn->srv->st.long_polls++;
        conn->parked = 1;
        conn->wait_part = part;
        conn->wait_offset = cmd->offset;
        conn->wait_max = cmd->max_bytes;
        conn->wait_meta = cmd->meta;
        conn->wait_reqid = cmd->reqid;
        conn->wprev = NULL;
        conn->wnext = part->waiters;
        if (conn->wnext)
            conn->wnext->wprev = conn;
        part->waiters = conn;
        uv_timer_start(&conn->timer, sl__server_wait_cb, cmd->wait_ms, 0);
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
            sl__server_reply(conn, SL_STATUS_OK, cmd->reqid, 1, "%" PRIu64, a);
    } else {
        err = sl_store_bounds(conn->srv->store, part, &a, &b);
        if (err == 0)
            sl__server_reply(conn, SL_STATUS_OK, cmd->reqid, 1,
                             "%" PRIu64 " %" PRIu64, a, b);
    }
    if (err != 0)
        sl__server_reply(conn, SL_STATUS_INTERNAL, cmd->reqid, 1, "%s",
                         sl_strerror(err));
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
    if (sl_store_committed(conn->srv->store, cmd->group.p, cmd->group.len, part,
                           &off) != 0)
        sl__server_reply(conn, SL_STATUS_NOT_FOUND, cmd->reqid, 1,
                         "no committed offset");
    else
        sl__server_reply(conn, SL_STATUS_OK, cmd->reqid, 1, "%" PRIu64, off);
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
        if (cmd->topic.len == 0 || topic_is(sl_store_part_by_id(store, id),
                                            cmd->topic.p, cmd->topic.len))
            n++;
    char *topic = NULL;
    if (cmd->topic.len > 0) {
        topic = malloc(cmd->topic.len);
        if (topic == NULL) {
            sl__server_reply(conn, SL_STATUS_INTERNAL, cmd->reqid, 1,
                             "out of memory");
            return;
        }
        memcpy(topic, cmd->topic.p, cmd->topic.len);
    }
    sl__server_reply(conn, SL_STATUS_OK, cmd->reqid, 1, "%u", n);
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
            sl__server_conn_yield(conn);
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
    sl__server_mark_dirty(conn);
    return 0;
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
    if (err->code == SL_STATUS_AUTH_REQUIRED)
        srv->st.err_auth++;
    else if (err->code == SL_STATUS_TOO_LARGE)
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
void sl__server_log_auth_failures(sl_server_t *srv, int force) {
    uint64_t now = (uint64_t)uv_now(srv->loop);
    if (srv->auth_fail_unlogged == 0 ||
        (!force && now - srv->auth_fail_logged_ms < 1000))
        return;
    sl_log_warn("authentication failed",
                "attempts=%" PRIu64 " total=%" PRIu64 " last_peer=%s",
                srv->auth_fail_unlogged, srv->st.err_auth, srv->auth_fail_peer);
    srv->auth_fail_unlogged = 0;
    srv->auth_fail_logged_ms = now;
}

static void auth_delay_cb(uv_timer_t *t) {
    sl_conn_t *conn = t->data;
    conn->held = 0;
    sl__server_reply(conn, SL_STATUS_BAD_SECRET, conn->wait_reqid, 1,
                     "bad secret");
    sl__server_flush_dirty(conn->srv);
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
    sl__server_log_auth_failures(srv, 0);
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

void sl__server_process(sl_conn_t *conn) {
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
        int rc = sl_proto_parse(p, avail, &lim, &cmd, &consumed, &need, &perr);
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
        int is_write =
            (rc == 0 && (cmd.type == SL_CMD_PUT || cmd.type == SL_CMD_MPUT ||
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
            sl__server_reply(conn, perr.code, perr.reqid, perr.has_reqid, "%s",
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
            sl__server_reply(conn, SL_STATUS_AUTH_REQUIRED, cmd.reqid, 1,
                             "authentication required");
            continue;
        }
        switch (cmd.type) {
        case SL_CMD_PUT:
        case SL_CMD_MPUT: do_put(conn, &cmd); break;
        case SL_CMD_GET: do_get(conn, &cmd); break;
        case SL_CMD_OFFSETS: do_offsets(conn, &cmd); break;
        case SL_CMD_COMMIT:
            sl__server_groups_saw_commit(conn, &cmd); /* server_groups.c */
            do_commit(conn, &cmd);
            break;
        case SL_CMD_GROUPS: sl__server_groups(conn, &cmd); break;
        case SL_CMD_GRESET:
            if (sl__server_group_reset_check(conn, &cmd) == 0)
                do_commit(conn, &cmd);
            break;
        case SL_CMD_COMMITTED: do_committed(conn, &cmd); break;
        case SL_CMD_PARTITIONS:
            srv->st.cmd_other++;
            do_partitions(conn, &cmd);
            break;
        case SL_CMD_STATS:
            srv->st.cmd_other++;
            sl__server_stats(conn, &cmd);
            break;
        case SL_CMD_VERSION:
            srv->st.cmd_other++;
            sl__server_reply(conn, SL_STATUS_OK, cmd.reqid, 1,
                             "sluice-broker %s", SL_VERSION);
            break;
        case SL_CMD_QUIT:
            srv->st.cmd_other++;
            sl__server_reply(conn, SL_STATUS_OK, cmd.reqid, 1, "bye");
            conn->close_after_flush = 1;
            break;
        case SL_CMD_AUTH:
            srv->st.cmd_other++;
            if (srv->opts.secret == NULL ||
                secret_eq(srv->opts.secret, cmd.secret.p, cmd.secret.len)) {
                conn->authed = 1;
                sl__server_reply(conn, SL_STATUS_OK, cmd.reqid, 1, "ok");
            } else {
                auth_failed(conn, cmd.reqid);
            }
            break;
        }
    }
    /* After a half-close, once every received request has been answered
     * (no ack or long poll outstanding), the connection is closed when
     * its replies are written; an incomplete request left is counted as
     * truncated by sl__server_conn_close(). */
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
    sl__server_mark_dirty(conn);
    sl__server_update_reading(conn);
}

/* ---- store callbacks ---------------------------------------------------- */

void sl_server_acks_cb(sl_store_t *store, sl_ack_t *acks, size_t n) {
    sl_server_t *srv = sl_store_get_data(store);
    for (size_t i = 0; i < n; i++) {
        if (acks[i].kind == SL_SERVER_ACK_EXT) {
            if (srv->ext.ack)
                srv->ext.ack(srv->ext.arg, &acks[i]);
            continue;
        }
        sl_conn_t *conn = acks[i].ctx;
        conn->pending_acks--;
        if (conn->closing) {
            sl__server_conn_free_maybe(conn);
            continue;
        }
        if (acks[i].extra == SL_ACK_NOSPACE) {
            /* Nothing was stored (disk full); the client may retry. */
            srv->st.err_store++;
            sl__server_reply(conn, SL_STATUS_NO_SPACE, acks[i].reqid, 1,
                             "insufficient storage");
            continue;
        }
        if (acks[i].kind == ACK_ERR) {
            /* A refusal that waited for the acks before it (refuse()). */
            refusal_reply(conn, acks[i].reqid, (refuse_t)(acks[i].value >> 32),
                          -(int)(uint32_t)acks[i].value);
            continue;
        }
        if (acks[i].extra == SL_ACK_FENCED) {
            /* Nothing was stored: an earlier batch of the producer was
             * refused and must be resent first (catalog.c's fences). */
            srv->st.err_store++;
            refusal_reply(conn, acks[i].reqid, RF_FENCED, -(int)acks[i].value);
            continue;
        }
        char line[80];
        char *w = line;
        *w++ = '2';
        *w++ = '0';
        *w++ = '0';
        *w++ = ' ';
        w = sl_fmt_u64(w, acks[i].reqid);
        *w++ = ' ';
        if (acks[i].value == UINT64_MAX) {
            memcpy(w, "unknown", 7);
            w += 7;
        } else {
            w = sl_fmt_u64(w, acks[i].value);
        }
        if (acks[i].extra) {
            memcpy(w, " dup", 4);
            w += 4;
        }
        *w++ = '\r';
        *w++ = '\n';
        sl_buf_append(&conn->out, line, (size_t)(w - line));
        sl__server_mark_dirty(conn);
    }
    /* Connections that were waiting for their acks can go on. */
    for (sl_conn_t *conn = srv->dirty; conn; conn = conn->dnext)
        if (conn->pending_acks == 0 && !conn->closing)
            sl__server_process(conn);
    if (srv->paused && sl_store_filling_bytes(store) < (64u << 20)) {
        srv->paused = 0;
        for (sl_conn_t *conn = srv->conns; conn; conn = conn->next)
            sl__server_update_reading(conn);
    }
    sl__server_flush_dirty(srv);
    if (srv->ext.flush)
        srv->ext.flush(srv->ext.arg);
}

void sl_server_advance_cb(sl_store_t *store, sl_part_t *part) {
    sl_server_t *srv = sl_store_get_data(store);
    while (part->waiters)
        wake(part->waiters);
    sl__server_flush_dirty(srv);
    if (srv->ext.advance)
        srv->ext.advance(srv->ext.arg, part);
    if (srv->ext.flush)
        srv->ext.flush(srv->ext.arg);
}
