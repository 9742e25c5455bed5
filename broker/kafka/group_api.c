/*
 * The consumer-group APIs of the Kafka listener: FindCoordinator 0-2,
 * JoinGroup 0-5, SyncGroup 0-3, Heartbeat 0-3, LeaveGroup 0-3 (the
 * coordinator in group.c holds the state), OffsetCommit 2-7 and
 * OffsetFetch 1-5 (offsets live in the store, shared with the text
 * protocol's commit/committed under the same group name).
 *
 * Wire formats (non-flexible versions; see internal.h for the primitive
 * types; "vN+" marks a field present from version N on):
 *   FindCoordinator  req: key string, v1+ key_type i8.
 *                    resp: v1+ throttle i32, error i16, v1+ error_message
 *                    nullable string, node_id i32, host string, port i32.
 *   JoinGroup        req: group string, session_timeout i32, v1+
 *                    rebalance_timeout i32, member_id string, v5+
 *                    group_instance_id nullable string, protocol_type
 *                    string, protocols [name string, metadata bytes].
 *                    resp: v2+ throttle i32, error i16, generation i32,
 *                    protocol_name string, leader string, member_id
 *                    string, members [member_id string, v5+
 *                    group_instance_id nullable string, metadata bytes].
 *   SyncGroup        req: group string, generation i32, member_id string,
 *                    v3+ group_instance_id nullable string, assignments
 *                    [member_id string, assignment bytes].
 *                    resp: v1+ throttle i32, error i16, assignment bytes.
 *   Heartbeat        req: group, generation i32, member_id, v3+
 *                    group_instance_id. resp: v1+ throttle i32, error i16.
 *   LeaveGroup       v0-2 req: group, member_id. resp: v1+ throttle,
 *                    error i16. v3 (KIP-345, a batch) req: group, members
 *                    [member_id string, group_instance_id nullable
 *                    string]. resp: throttle i32, error i16, members
 *                    [member_id string, group_instance_id nullable string,
 *                    error i16].
 *   OffsetCommit     req: group string, generation i32, member_id string,
 *                    v7+ group_instance_id nullable string, v2-4
 *                    retention_time i64, topics [name string, partitions
 *                    [partition i32, offset i64, v6+ leader_epoch i32,
 *                    metadata nullable string]].
 *                    resp: v3+ throttle i32, topics [name string,
 *                    partitions [partition i32, error i16]].
 *   OffsetFetch      req: group string, topics [name string, partitions
 *                    [i32]] (v2+: null = every partition the group
 *                    committed). resp: v3+ throttle i32, topics [name
 *                    string, partitions [partition i32, offset i64, v5+
 *                    leader_epoch i32, metadata nullable string, error
 *                    i16]], v2+ error i16.
 *
 * Offsets are committed durably: the reply of an OffsetCommit waits for
 * the store's ack of every partition it committed (after the fsync the
 * broker's fsync policy asks for). A commit's metadata string is checked
 * against Kafka's limit (4096 bytes, OFFSET_METADATA_TOO_LARGE) and then
 * dropped: the store keeps offsets only, and OffsetFetch answers "" as
 * Kafka does for an offset committed without metadata. Leader epochs are
 * not kept either (OffsetFetch v5 answers -1, "unknown").
 */
#include "broker/kafka/group_int.h"
#include "broker/store.h"
#include "error.h"
#include "log.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define METADATA_MAX 4096
#define TOPIC_MAX 256

typedef struct {
    sl_kcoord_t coord;
    uv_timer_t timer;
    sl_kafka_t *k;
    int timer_open;
    uint64_t commits, commit_parts, fetches, commit_refused;
} sl_kgroups_t;

/* A held JoinGroup or SyncGroup. */
typedef struct {
    sl_kgroups_t *gs;
    sl_kreply_t *reply;
    int16_t version;
    int in_call;  /* The coordinator is answering inside the handler. */
    int answered; /* ... and did. */
} sl_kgwait_t;

static void join_cb(void *arg, void *wait, int16_t err, const sl_kgroup_t *g,
                    const sl_kmember_t *m, const char *member_id,
                    const char *leader_id);
static void sync_cb(void *arg, void *wait, int16_t err, const uint8_t *assign,
                    int32_t len);

static sl_kstr_t kstr(const char *p, int16_t len) {
    sl_kstr_t s = {p, len};
    return s;
}

static void timer_cb(uv_timer_t *timer);

/* The coordinator re-arms one timer for its earliest deadline after every
 * change (a session's end or a rebalance timeout). */
static void rearm(sl_kgroups_t *gs) {
    if (!gs->timer_open || gs->k->stopping)
        return;
    int64_t next = sl__kgroup_next_deadline(&gs->coord);
    if (next == INT64_MAX) {
        uv_timer_stop(&gs->timer);
        return;
    }
    int64_t now = (int64_t)uv_now(gs->k->loop);
    uv_timer_start(&gs->timer, timer_cb,
                   next > now ? (uint64_t)(next - now) : 0, 0);
}

static void timer_cb(uv_timer_t *timer) {
    sl_kgroups_t *gs = timer->data;
    sl__kgroup_tick(&gs->coord, (int64_t)uv_now(gs->k->loop));
    rearm(gs);
}

static sl_kgroups_t *groups_of(sl_kafka_t *k) {
    if (k->groups != NULL)
        return k->groups;
    sl_kgroups_t *gs = calloc(1, sizeof(*gs));
    if (gs == NULL)
        return NULL;
    sl_kgroup_opts_t opts = SL_KGROUP_OPTS_DEFAULT;
    sl__kgroup_init(&gs->coord, &opts, join_cb, sync_cb, gs);
    gs->k = k;
    if (uv_timer_init(k->loop, &gs->timer) != 0) {
        free(gs);
        return NULL;
    }
    gs->timer.data = gs;
    gs->timer_open = 1;
    k->groups = gs;
    return gs;
}

/* The timer is not one of the listener's counted handles (open_handles):
 * its close frees the coordinator and touches nothing else, so it may
 * complete after the listener was freed. */
static void timer_closed_cb(uv_handle_t *handle) {
    sl_kgroups_t *gs = handle->data;
    sl__kgroup_free(&gs->coord);
    free(gs);
}

void sl__kafka_groups_stop(sl_kafka_t *k) {
    sl_kgroups_t *gs = k->groups;
    if (gs == NULL || !gs->timer_open)
        return;
    /* Held replies belong to connections, which the core cancels (and
     * frees) as it closes them; the coordinator's state goes with the
     * timer's close. */
    gs->timer_open = 0;
    k->groups = NULL;
    uv_close((uv_handle_t *)&gs->timer, timer_closed_cb);
}

void sl__kafka_groups_free(sl_kafka_t *k) {
    /* Everything is released when the timer's close completes. */
    (void)k;
}

unsigned sl__kafka_group_members(sl_kafka_t *k, const char *group,
                                 size_t glen) {
    sl_kgroups_t *gs = k->groups;
    sl_kstr_t name = {group, (int32_t)glen};
    const sl_kgroup_t *g = gs ? sl__kgroup_find(&gs->coord, name) : NULL;
    return g ? g->nmembers : 0;
}

void sl__kafka_groups_stats(sl_kafka_t *k, sl_buf_t *out) {
    sl_kgroups_t *gs = k->groups;
    sl_kgroup_stats_t st;
    memset(&st, 0, sizeof(st));
    uint64_t commits = 0, parts = 0, fetches = 0, refused = 0;
    if (gs != NULL) {
        st = gs->coord.st;
        commits = gs->commits;
        parts = gs->commit_parts;
        fetches = gs->fetches;
        refused = gs->commit_refused;
    }
    sl_buf_printf(out,
                  "STAT kafka_groups %" PRIu64 "\r\n"
                  "STAT kafka_group_members %" PRIu64 "\r\n"
                  "STAT kafka_group_bytes %" PRIu64 "\r\n"
                  "STAT kafka_group_rebalances %" PRIu64 "\r\n"
                  "STAT kafka_group_joins %" PRIu64 "\r\n"
                  "STAT kafka_group_syncs %" PRIu64 "\r\n"
                  "STAT kafka_group_heartbeats %" PRIu64 "\r\n"
                  "STAT kafka_group_leaves %" PRIu64 "\r\n"
                  "STAT kafka_group_expired %" PRIu64 "\r\n"
                  "STAT kafka_group_static_rejoins %" PRIu64 "\r\n"
                  "STAT kafka_group_fenced %" PRIu64 "\r\n"
                  "STAT kafka_offset_commits %" PRIu64 "\r\n"
                  "STAT kafka_offset_commit_partitions %" PRIu64 "\r\n"
                  "STAT kafka_offset_commit_refused %" PRIu64 "\r\n"
                  "STAT kafka_offset_fetches %" PRIu64 "\r\n",
                  st.groups, st.members, st.bytes, st.rebalances, st.joins,
                  st.syncs, st.heartbeats, st.leaves, st.expired,
                  st.static_rejoins, st.fenced, commits, parts, refused,
                  fetches);
}

/* ---- FindCoordinator ----------------------------------------------------
 */

int sl__kafka_h_find_coordinator(sl_kafka_t *k, sl_kconn_t *conn,
                                 const sl_kreq_t *req, sl_kreader_t *body,
                                 sl_kreply_t *reply) {
    (void)conn;
    const char *key;
    int16_t klen;
    int8_t type = 0;
    sl__kafka_r_str(body, &key, &klen);
    if (req->version >= 1)
        type = sl__kafka_r_i8(body);
    if (body->err)
        return body->err;
    /* Groups only: transactions are not supported. */
    int16_t err = type == 0 ? SL_KERR_NONE : SL_KERR_INVALID_REQUEST;
    sl_buf_t *b = sl__kafka_reply_buf(reply);
    if (req->version >= 1)
        sl__kafka_w_i32(b, 0);
    sl__kafka_w_i16(b, err);
    if (req->version >= 1)
        sl__kafka_w_cstr(b, err == 0 ? NULL
                                     : "sluice-broker coordinates consumer "
                                       "groups only (no transactions)");
    sl__kafka_w_i32(b, err == 0 ? SL_KAFKA_NODE_ID : -1);
    sl__kafka_w_cstr(b, err == 0 ? k->adv_host : "");
    sl__kafka_w_i32(b, err == 0 ? k->adv_port : -1);
    sl__kafka_reply_done(reply);
    return 0;
}

/* ---- JoinGroup and SyncGroup: replies that may wait ------------------- */

static void wait_cancel_cb(void *arg) {
    sl_kgwait_t *w = arg;
    sl_kgroups_t *gs = w->gs;
    sl__kgroup_forget(&gs->coord, w);
    free(w);
    rearm(gs);
}

/* Finishes a held reply: done, and the waiter freed unless the handler
 * that made it is still running (it frees it then). */
static void wait_done(sl_kgwait_t *w) {
    sl__kafka_reply_done(w->reply);
    if (w->in_call)
        w->answered = 1;
    else
        free(w);
}

static void join_cb(void *arg, void *wait, int16_t err, const sl_kgroup_t *g,
                    const sl_kmember_t *m, const char *member_id,
                    const char *leader_id) {
    (void)arg;
    sl_kgwait_t *w = wait;
    sl_buf_t *b = sl__kafka_reply_buf(w->reply);
    if (w->version >= 2)
        sl__kafka_w_i32(b, 0);
    sl__kafka_w_i16(b, err);
    sl__kafka_w_i32(b, err == 0 ? g->generation : -1);
    sl__kafka_w_cstr(b, err == 0 ? g->protocol : "");
    sl__kafka_w_cstr(b, err == 0 ? leader_id : "");
    sl__kafka_w_cstr(b, member_id);
    if (err != 0 || m != g->leader || strcmp(leader_id, member_id) != 0) {
        sl__kafka_w_i32(b, 0);
        wait_done(w);
        return;
    }
    /* The leader gets every member with its metadata for the chosen
     * protocol, to run the assignor. */
    size_t at = sl__kafka_w_i32_hole(b);
    int32_t n = 0;
    for (const sl_kmember_t *o = g->members; o != NULL; o = o->next) {
        if (o->pending)
            continue;
        const sl_kproto_t *p = NULL;
        for (uint32_t i = 0; i < o->nprotos && p == NULL; i++)
            if (strcmp(o->protos[i].name, g->protocol) == 0)
                p = &o->protos[i];
        sl__kafka_w_cstr(b, o->id);
        if (w->version >= 5)
            sl__kafka_w_cstr(b, o->instance_id);
        sl__kafka_w_bytes(b, p != NULL ? p->meta : NULL,
                          p != NULL ? p->meta_len : 0);
        n++;
    }
    sl__kafka_w_i32_at(b, at, n);
    wait_done(w);
}

static void sync_cb(void *arg, void *wait, int16_t err, const uint8_t *assign,
                    int32_t len) {
    (void)arg;
    sl_kgwait_t *w = wait;
    sl_buf_t *b = sl__kafka_reply_buf(w->reply);
    if (w->version >= 1)
        sl__kafka_w_i32(b, 0);
    sl__kafka_w_i16(b, err);
    sl__kafka_w_bytes(b, assign, len);
    wait_done(w);
}

static sl_kgwait_t *wait_new(sl_kgroups_t *gs, const sl_kreq_t *req,
                             sl_kreply_t *reply) {
    sl_kgwait_t *w = calloc(1, sizeof(*w));
    if (w != NULL) {
        w->gs = gs;
        w->reply = reply;
        w->version = req->version;
        w->in_call = 1;
    }
    return w;
}

/* After the coordinator returned: a waiter it answered is freed, one it
 * holds is cancelled if the connection dies first. */
static int wait_end(sl_kgwait_t *w, int err) {
    sl_kgroups_t *gs = w->gs;
    w->in_call = 0;
    if (err != 0 || w->answered)
        free(w);
    else
        sl__kafka_reply_on_cancel(w->reply, wait_cancel_cb, w);
    rearm(gs);
    return err;
}

int sl__kafka_h_join_group(sl_kafka_t *k, sl_kconn_t *conn,
                           const sl_kreq_t *req, sl_kreader_t *body,
                           sl_kreply_t *reply) {
    (void)conn;
    sl_kjoin_t j;
    memset(&j, 0, sizeof(j));
    const char *s;
    int16_t len;
    sl__kafka_r_str(body, &s, &len);
    j.group = kstr(s, len);
    j.session_ms = sl__kafka_r_i32(body);
    j.rebalance_ms = req->version >= 1 ? sl__kafka_r_i32(body) : j.session_ms;
    sl__kafka_r_str(body, &s, &len);
    j.member_id = kstr(s, len);
    j.instance_id = kstr(NULL, -1);
    if (req->version >= 5) {
        sl__kafka_r_str(body, &s, &len);
        /* An empty group.instance.id is no instance id (clients send null
         * when none is configured). */
        if (len > 0)
            j.instance_id = kstr(s, len);
    }
    sl__kafka_r_str(body, &s, &len);
    j.protocol_type = kstr(s, len);
    int32_t n = sl__kafka_r_array(body, 6);
    if (body->err)
        return body->err;
    sl_kproto_in_t *protos = calloc(n > 0 ? (size_t)n : 1, sizeof(*protos));
    if (protos == NULL)
        return SL_ENOMEM;
    for (int32_t i = 0; i < n; i++) {
        sl__kafka_r_str(body, &s, &len);
        protos[i].name = kstr(s, len);
        sl__kafka_r_bytes(body, &protos[i].meta, &protos[i].meta_len);
    }
    if (body->err) {
        free(protos);
        return body->err;
    }
    j.protos = protos;
    j.nprotos = n > 0 ? (uint32_t)n : 0;
    j.client_id = kstr(req->client_id, req->client_id ? req->client_id_len : 0);
    j.require_known_id = req->version >= 4 && j.instance_id.len < 0;
    int err = SL_ENOMEM;
    sl_kgroups_t *gs = groups_of(k);
    sl_kgwait_t *w = gs != NULL ? wait_new(gs, req, reply) : NULL;
    if (w != NULL)
        err = wait_end(
            w, sl__kgroup_join(&gs->coord, &j, (int64_t)uv_now(k->loop), w));
    free(protos);
    return err;
}

/* The head most group requests share: group, generation, member id and,
 * from the version given on, a group instance id (len -1 when absent,
 * null or empty: requests under it are checked for fencing). */
typedef struct {
    sl_kstr_t group, member, instance;
    int32_t generation;
} sl_kghead_t;

static void read_head(sl_kreader_t *body, int with_instance, sl_kghead_t *h) {
    const char *p;
    int16_t len;
    sl__kafka_r_str(body, &p, &len);
    h->group = kstr(p, len);
    h->generation = sl__kafka_r_i32(body);
    sl__kafka_r_str(body, &p, &len);
    h->member = kstr(p, len);
    h->instance = kstr(NULL, -1);
    if (with_instance) {
        sl__kafka_r_str(body, &p, &len);
        if (len > 0)
            h->instance = kstr(p, len);
    }
}

int sl__kafka_h_sync_group(sl_kafka_t *k, sl_kconn_t *conn,
                           const sl_kreq_t *req, sl_kreader_t *body,
                           sl_kreply_t *reply) {
    (void)conn;
    const char *s;
    int16_t len;
    sl_kghead_t h;
    read_head(body, req->version >= 3, &h);
    int32_t n = sl__kafka_r_array(body, 6);
    if (body->err)
        return body->err;
    sl_kassign_in_t *as = calloc(n > 0 ? (size_t)n : 1, sizeof(*as));
    if (as == NULL)
        return SL_ENOMEM;
    for (int32_t i = 0; i < n; i++) {
        sl__kafka_r_str(body, &s, &len);
        as[i].member_id = kstr(s, len);
        sl__kafka_r_bytes(body, &as[i].assign, &as[i].assign_len);
    }
    int err = body->err;
    sl_kgroups_t *gs = err == 0 ? groups_of(k) : NULL;
    sl_kgwait_t *w = gs != NULL ? wait_new(gs, req, reply) : NULL;
    if (err == 0 && w == NULL)
        err = SL_ENOMEM;
    int16_t fenced = gs != NULL ? sl__kgroup_fenced(&gs->coord, h.group,
                                                    h.member, h.instance)
                                : SL_KERR_NONE;
    if (w != NULL && fenced != SL_KERR_NONE) {
        sync_cb(gs, w, fenced, NULL, 0);
        err = wait_end(w, 0);
    } else if (w != NULL) {
        err = wait_end(w, sl__kgroup_sync(&gs->coord, h.group, h.generation,
                                          h.member, as, n > 0 ? (uint32_t)n : 0,
                                          (int64_t)uv_now(k->loop), w));
    }
    free(as);
    return err;
}

/* ---- Heartbeat and LeaveGroup ----------------------------------------- */

static int simple_reply(sl_kreply_t *reply, int16_t version, int16_t err) {
    sl_buf_t *b = sl__kafka_reply_buf(reply);
    if (version >= 1)
        sl__kafka_w_i32(b, 0);
    sl__kafka_w_i16(b, err);
    sl__kafka_reply_done(reply);
    return 0;
}

int sl__kafka_h_heartbeat(sl_kafka_t *k, sl_kconn_t *conn, const sl_kreq_t *req,
                          sl_kreader_t *body, sl_kreply_t *reply) {
    (void)conn;
    sl_kghead_t h;
    read_head(body, req->version >= 3, &h);
    if (body->err)
        return body->err;
    sl_kgroups_t *gs = groups_of(k);
    if (gs == NULL)
        return SL_ENOMEM;
    int16_t err = sl__kgroup_fenced(&gs->coord, h.group, h.member, h.instance);
    if (err == SL_KERR_NONE)
        err = sl__kgroup_heartbeat(&gs->coord, h.group, h.generation, h.member,
                                   (int64_t)uv_now(k->loop));
    rearm(gs);
    return simple_reply(reply, req->version, err);
}

/* LeaveGroup v3: each member leaves by its group.instance.id when it has
 * one, else by its member id, and gets its own error, as Kafka answers;
 * the top-level error is NONE (a group that does not exist gives each
 * member UNKNOWN_MEMBER_ID). Every entry is read before any member
 * leaves, so a request that does not parse changes nothing. */
static int leave_batch(sl_kgroups_t *gs, int64_t now, sl_kreader_t *body,
                       sl_kreply_t *reply) {
    const char *g, *s;
    int16_t glen, len;
    sl__kafka_r_str(body, &g, &glen);
    int32_t n = sl__kafka_r_array(body, 4);
    if (body->err)
        return body->err;
    sl_kstr_t *ids = calloc(n > 0 ? 2 * (size_t)n : 1, sizeof(*ids));
    if (ids == NULL)
        return SL_ENOMEM;
    for (int32_t i = 0; i < n; i++) {
        sl__kafka_r_str(body, &s, &len);
        ids[2 * i] = kstr(s, len);
        sl__kafka_r_str(body, &s, &len);
        ids[2 * i + 1] = kstr(s, len);
    }
    if (body->err) {
        free(ids);
        return body->err;
    }
    sl_buf_t *b = sl__kafka_reply_buf(reply);
    sl__kafka_w_i32(b, 0);
    sl__kafka_w_i16(b, SL_KERR_NONE);
    sl__kafka_w_i32(b, n < 0 ? 0 : n);
    for (int32_t i = 0; i < n; i++) {
        sl_kstr_t mid = ids[2 * i], iid = ids[2 * i + 1];
        int16_t err =
            iid.len > 0 ? sl__kgroup_leave_instance(&gs->coord, kstr(g, glen),
                                                    mid, iid, now)
                        : sl__kgroup_leave(&gs->coord, kstr(g, glen), mid, now);
        sl__kafka_w_str(b, mid.p, (int16_t)mid.len);
        sl__kafka_w_str(b, iid.p, (int16_t)iid.len);
        sl__kafka_w_i16(b, err);
    }
    free(ids);
    sl__kafka_reply_done(reply);
    return 0;
}

int sl__kafka_h_leave_group(sl_kafka_t *k, sl_kconn_t *conn,
                            const sl_kreq_t *req, sl_kreader_t *body,
                            sl_kreply_t *reply) {
    (void)conn;
    sl_kgroups_t *gs = groups_of(k);
    if (gs == NULL)
        return SL_ENOMEM;
    if (req->version >= 3) {
        int err = leave_batch(gs, (int64_t)uv_now(k->loop), body, reply);
        rearm(gs);
        return err;
    }
    const char *g, *m;
    int16_t glen, mlen;
    sl__kafka_r_str(body, &g, &glen);
    sl__kafka_r_str(body, &m, &mlen);
    if (body->err)
        return body->err;
    int16_t err = sl__kgroup_leave(&gs->coord, kstr(g, glen), kstr(m, mlen),
                                   (int64_t)uv_now(k->loop));
    rearm(gs);
    return simple_reply(reply, req->version, err);
}

/* ---- OffsetCommit ---------------------------------------------------------
 */

/* An OffsetCommit waiting for the store's acks. Each committed partition's
 * ack carries, in reqid, where its error code sits in the reply, so a
 * commit the store refused for lack of space is reported there. Lives
 * until every ack came, even when the connection died first. */
typedef struct {
    sl_kack_t kack;
    sl_kgroups_t *gs;
    sl_kreply_t *reply; /* NULL once cancelled. */
    uint32_t pending;
    int in_call;
} sl_kcommit_t;

static void commit_finish(sl_kcommit_t *cw) {
    if (cw->pending > 0 || cw->in_call)
        return;
    if (cw->reply != NULL)
        sl__kafka_reply_done(cw->reply);
    free(cw);
}

static void commit_ack_cb(sl_kafka_t *k, sl_kack_t *self, const sl_ack_t *ack) {
    (void)k;
    sl_kcommit_t *cw = (sl_kcommit_t *)self;
    if (cw->reply != NULL && ack->extra == SL_ACK_NOSPACE) {
        /* Kafka answers a failed write of the offsets log with a
         * retriable COORDINATOR_NOT_AVAILABLE. Only a live reply is
         * counted: after a cancel (the connection, or the listener,
         * stopped) cw->gs may be gone already. */
        sl_buf_t *b = sl__kafka_reply_buf(cw->reply);
        if (ack->reqid + 2 <= b->len) {
            b->data[ack->reqid] = 0;
            b->data[ack->reqid + 1] = SL_KERR_COORDINATOR_NOT_AVAILABLE;
        }
        cw->gs->commit_refused++;
    }
    cw->pending--;
    commit_finish(cw);
}

static void commit_cancel_cb(void *arg) {
    sl_kcommit_t *cw = arg;
    cw->reply = NULL;
}

/* Commits one partition: the error code for the reply (NONE when staged;
 * then an ack is due). */
static int16_t commit_one(sl_kafka_t *k, sl_kcommit_t *cw, sl_kstr_t group,
                          const char *topic, int16_t tlen, int32_t partition,
                          int64_t offset, int16_t mdlen, size_t at) {
    if (mdlen > METADATA_MAX)
        return SL_KERR_OFFSET_METADATA_TOO_LARGE;
    sl_part_t *part = NULL;
    int err = sl__kafka_part(k, topic, (size_t)(tlen > 0 ? tlen : 0), partition,
                             0, &part);
    if (err == 0 && part == NULL) /* A bucket nothing went to yet. */
        err = sl__kafka_part(k, topic, (size_t)tlen, partition, 1, &part);
    if (err != 0 || part == NULL)
        return SL_KERR_UNKNOWN_TOPIC_OR_PARTITION;
    if (offset < 0)
        return SL_KERR_OFFSET_OUT_OF_RANGE; /* Offsets are unsigned here. */
    sl_ack_t ack = {&cw->kack, at, 0, SL_KAFKA_ACK, 0};
    err = sl_store_commit_offset(k->store, group.p, (size_t)group.len, part,
                                 (uint64_t)offset, &ack);
    if (err == SL_EINVAL)
        return SL_KERR_INVALID_GROUP_ID;
    if (err != 0) {
        sl_log_warn("kafka: OffsetCommit not stored", "group=%.*s error=%s",
                    (int)group.len, group.p, sl_strerror(err));
        return SL_KERR_COORDINATOR_NOT_AVAILABLE;
    }
    cw->pending++;
    cw->gs->commit_parts++;
    return SL_KERR_NONE;
}

int sl__kafka_h_offset_commit(sl_kafka_t *k, sl_kconn_t *conn,
                              const sl_kreq_t *req, sl_kreader_t *body,
                              sl_kreply_t *reply) {
    (void)conn;
    sl_kghead_t h;
    read_head(body, req->version >= 7, &h);
    if (req->version <= 4)
        (void)sl__kafka_r_i64(body); /* Retention: the broker's own. */
    int32_t ntopics = sl__kafka_r_array(body, 6);
    if (body->err)
        return body->err;
    sl_kgroups_t *gs = groups_of(k);
    sl_kcommit_t *cw = gs != NULL ? calloc(1, sizeof(*cw)) : NULL;
    if (cw == NULL)
        return SL_ENOMEM;
    cw->kack.cb = commit_ack_cb;
    cw->gs = gs;
    cw->reply = reply;
    cw->in_call = 1;
    gs->commits++;
    sl_kstr_t group = h.group;
    int16_t gerr = sl__kgroup_fenced(&gs->coord, group, h.member, h.instance);
    if (gerr == SL_KERR_NONE)
        gerr = sl__kgroup_commit_check(&gs->coord, group, h.generation,
                                       h.member, (int64_t)uv_now(k->loop));
    sl_buf_t *b = sl__kafka_reply_buf(reply);
    if (req->version >= 3)
        sl__kafka_w_i32(b, 0);
    sl__kafka_w_i32(b, ntopics > 0 ? ntopics : 0);
    for (int32_t t = 0; t < ntopics && !body->err; t++) {
        const char *topic;
        int16_t tlen;
        sl__kafka_r_str(body, &topic, &tlen);
        int32_t np = sl__kafka_r_array(body, req->version >= 6 ? 18 : 14);
        sl__kafka_w_str(b, topic, tlen);
        sl__kafka_w_i32(b, np > 0 ? np : 0);
        for (int32_t i = 0; i < np && !body->err; i++) {
            int32_t partition = sl__kafka_r_i32(body);
            int64_t offset = sl__kafka_r_i64(body);
            if (req->version >= 6)
                (void)sl__kafka_r_i32(body); /* Leader epoch: not kept. */
            const char *md;
            int16_t mdlen;
            sl__kafka_r_str(body, &md, &mdlen);
            if (body->err)
                break;
            sl__kafka_w_i32(b, partition);
            size_t at = b->len;
            int16_t err = gerr;
            if (err == SL_KERR_NONE)
                err = commit_one(k, cw, group, topic, tlen, partition, offset,
                                 mdlen, at);
            sl__kafka_w_i16(b, err);
        }
    }
    cw->in_call = 0;
    if (body->err) {
        /* Commits already staged stay (they were valid); the reply is
         * dropped with the connection, the acks still free cw. */
        cw->reply = NULL;
        int err = body->err;
        if (cw->pending == 0)
            free(cw);
        return err;
    }
    if (cw->pending == 0) {
        sl__kafka_reply_done(reply);
        free(cw);
    } else {
        sl__kafka_reply_on_cancel(reply, commit_cancel_cb, cw);
    }
    rearm(gs);
    return 0;
}

/* ---- OffsetFetch ----------------------------------------------------------
 */

static void fetch_part(sl_buf_t *b, int16_t version, int32_t partition,
                       int64_t offset) {
    sl__kafka_w_i32(b, partition);
    sl__kafka_w_i64(b, offset);
    if (version >= 5)
        sl__kafka_w_i32(b, -1);
    sl__kafka_w_cstr(b, "");
    sl__kafka_w_i16(b, SL_KERR_NONE);
}

static int64_t committed_of(sl_kafka_t *k, sl_kstr_t group, const char *topic,
                            int16_t tlen, int32_t partition) {
    sl_part_t *part = NULL;
    uint64_t off;
    if (group.len <= 0 ||
        sl__kafka_part(k, topic, (size_t)(tlen > 0 ? tlen : 0), partition, 0,
                       &part) != 0 ||
        part == NULL ||
        sl_store_committed(k->store, group.p, (size_t)group.len, part, &off) !=
            0 ||
        off > INT64_MAX)
        return -1;
    return (int64_t)off;
}

/* One committed offset of the group, for the "all partitions" form. */
typedef struct {
    char topic[TOPIC_MAX];
    int32_t partition;
    int64_t offset;
} fetch_row_t;

static int row_cmp(const void *a, const void *b) {
    const fetch_row_t *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    if (c != 0)
        return c;
    return (x->partition > y->partition) - (x->partition < y->partition);
}

/* Every partition the group committed, grouped by topic. */
static int fetch_all(sl_kafka_t *k, sl_kstr_t group, int16_t version,
                     sl_buf_t *b) {
    uint32_t nparts = sl_store_nparts(k->store);
    fetch_row_t *rows = NULL;
    size_t n = 0, cap = 0;
    for (uint32_t id = 1; group.len > 0 && id <= nparts; id++) {
        sl_part_t *part = sl_store_part_by_id(k->store, id);
        uint64_t off;
        if (part == NULL ||
            sl_store_committed(k->store, group.p, (size_t)group.len, part,
                               &off) != 0 ||
            off > INT64_MAX)
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            fetch_row_t *r = realloc(rows, ncap * sizeof(*r));
            if (r == NULL) {
                free(rows);
                return SL_ENOMEM;
            }
            rows = r;
            cap = ncap;
        }
        if (sl__kafka_name(part, rows[n].topic, sizeof(rows[n].topic),
                           &rows[n].partition) != 0)
            continue;
        rows[n++].offset = (int64_t)off;
    }
    if (n > 0)
        qsort(rows, n, sizeof(*rows), row_cmp);
    size_t tat = sl__kafka_w_i32_hole(b);
    int32_t ntopics = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && strcmp(rows[j].topic, rows[i].topic) == 0)
            j++;
        sl__kafka_w_cstr(b, rows[i].topic);
        sl__kafka_w_i32(b, (int32_t)(j - i));
        for (; i < j; i++)
            fetch_part(b, version, rows[i].partition, rows[i].offset);
        ntopics++;
    }
    sl__kafka_w_i32_at(b, tat, ntopics);
    free(rows);
    return 0;
}

int sl__kafka_h_offset_fetch(sl_kafka_t *k, sl_kconn_t *conn,
                             const sl_kreq_t *req, sl_kreader_t *body,
                             sl_kreply_t *reply) {
    (void)conn;
    const char *g;
    int16_t glen;
    sl__kafka_r_str(body, &g, &glen);
    int32_t ntopics = sl__kafka_r_array(body, 6);
    if (body->err)
        return body->err;
    sl_kgroups_t *gs = groups_of(k);
    if (gs != NULL)
        gs->fetches++;
    sl_kstr_t group = kstr(g, glen);
    sl_buf_t *b = sl__kafka_reply_buf(reply);
    if (req->version >= 3)
        sl__kafka_w_i32(b, 0);
    if (ntopics < 0) {
        if (req->version < 2)
            return SL_EPROTO; /* Null topics came with version 2. */
        int err = fetch_all(k, group, req->version, b);
        if (err != 0)
            return err;
    } else {
        sl__kafka_w_i32(b, ntopics);
        for (int32_t t = 0; t < ntopics && !body->err; t++) {
            const char *topic;
            int16_t tlen;
            sl__kafka_r_str(body, &topic, &tlen);
            int32_t np = sl__kafka_r_array(body, 4);
            sl__kafka_w_str(b, topic, tlen);
            sl__kafka_w_i32(b, np > 0 ? np : 0);
            for (int32_t i = 0; i < np && !body->err; i++) {
                int32_t partition = sl__kafka_r_i32(body);
                fetch_part(b, req->version, partition,
                           committed_of(k, group, topic, tlen, partition));
            }
        }
        if (body->err)
            return body->err;
    }
    if (req->version >= 2)
        sl__kafka_w_i16(b, SL_KERR_NONE);
    sl__kafka_reply_done(reply);
    return 0;
}
