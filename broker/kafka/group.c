/*
 * The group coordinator's state machine (group_int.h): the rules of Kafka's
 * GroupCoordinator.scala and GroupMetadata.scala, re-stated here as C.
 *
 * A rebalance: a JoinGroup from a new member, a known member with new
 * protocols, the leader, a LeaveGroup or an expired session moves a
 * Stable or CompletingRebalance group to PreparingRebalance, with a
 * deadline of the largest rebalance timeout of its members. Every member
 * must send JoinGroup again; the replies are held. When all members
 * (and no member-to-be holding an id from MEMBER_ID_REQUIRED) rejoined,
 * or at the deadline (members that did not rejoin are removed), the
 * generation is bumped, the protocol chosen and every held JoinGroup
 * answered: the leader's with every member's metadata. The group is then
 * CompletingRebalance until the leader's SyncGroup brings the
 * assignments; followers' SyncGroups that came first are answered then,
 * later ones at once, as long as their generation is the current one.
 *
 * Sessions: a member's session is renewed by every Heartbeat, JoinGroup,
 * SyncGroup and valid OffsetCommit. A member that waits for a JoinGroup
 * or SyncGroup reply does not expire (the rebalance timeout, or the
 * leader's session, bounds that wait), as in Kafka.
 *
 * Static members (KIP-345; Kafka's doUnknownJoinGroup,
 * updateStaticMemberAndRebalance and replaceGroupInstance): a JoinGroup
 * with a group.instance.id and no member id, for an instance id the group
 * has, replaces that member's id in place with a new one. The old
 * process's held JoinGroup or SyncGroup is answered FENCED_INSTANCE_ID at
 * once, and so is every later request that names the instance id with
 * the old member id (sl__kgroup_fenced()). Then:
 *   - Stable, protocols and metadata unchanged: no rebalance. The reply
 *     carries the current generation and the leader id from before the
 *     replacement, so even a replaced leader acts as a follower; its
 *     SyncGroup gets the assignment the old member id had. (Kafka before
 *     JoinGroup v9 rebalances here only when the group's selected
 *     protocol would change, and keeps a changed subscription for the
 *     next rebalance; sluice-broker rebalances on any change of metadata,
 *     so a restarted member never keeps an assignment made for other
 *     metadata.)
 *   - Stable with changed metadata, or CompletingRebalance (the leader
 *     may be assigning to the old member id): a rebalance.
 *   - PreparingRebalance: the member counts as rejoined.
 * A static member that does not rejoin in a rebalance is not dropped when
 * the rebalance timeout completes the generation (dynamic ones are): the
 * leader still gets its last metadata and assigns to it, so a restart
 * that is quicker than the session timeout finds its partitions waiting.
 * Its session is not renewed for it; when it ends the member is removed
 * and the group rebalances, as for a dynamic member. When the leader did
 * not rejoin, a member that did leads; when none did, the rebalance waits
 * another rebalance timeout (Kafka's maybeElectNewJoinedLeader).
 */
#include "broker/kafka/group_int.h"
#include "error.h"
#include "strmap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

static int str_eq(const char *s, size_t slen, sl_kstr_t k) {
    return k.len >= 0 && (size_t)k.len == slen && memcmp(s, k.p, slen) == 0;
}

static char *dup_str(sl_kstr_t k) {
    size_t len = k.len > 0 ? (size_t)k.len : 0;
    char *s = malloc(len + 1);
    if (s != NULL) {
        if (len > 0)
            memcpy(s, k.p, len);
        s[len] = '\0';
    }
    return s;
}

const char *sl__kgroup_state_name(sl_kgroup_state_t state) {
    switch (state) {
    case SL_KGROUP_EMPTY: return "Empty";
    case SL_KGROUP_PREPARING: return "PreparingRebalance";
    case SL_KGROUP_COMPLETING: return "CompletingRebalance";
    case SL_KGROUP_STABLE: return "Stable";
    }
    return "Unknown";
}

void sl__kgroup_init(sl_kcoord_t *c, const sl_kgroup_opts_t *opts,
                     sl_kgroup_join_cb join_cb, sl_kgroup_sync_cb sync_cb,
                     void *cb_arg) {
    memset(c, 0, sizeof(*c));
    c->opts = *opts;
    c->join_cb = join_cb;
    c->sync_cb = sync_cb;
    c->cb_arg = cb_arg;
}

static void free_protos(sl_kmember_t *m) {
    for (uint32_t i = 0; i < m->nprotos; i++) {
        free(m->protos[i].name);
        free(m->protos[i].meta);
    }
    free(m->protos);
    m->protos = NULL;
    m->nprotos = 0;
}

static void free_member(sl_kmember_t *m) {
    free_protos(m);
    free(m->id);
    free(m->instance_id);
    free(m->assign);
    free(m);
}

static void free_group(sl_kgroup_t *g) {
    sl_kmember_t *m = g->members;
    while (m != NULL) {
        sl_kmember_t *next = m->next;
        free_member(m);
        m = next;
    }
    free(g->name);
    free(g->protocol_type);
    free(g->protocol);
    free(g);
}

void sl__kgroup_free(sl_kcoord_t *c) {
    for (size_t i = 0; i < c->groups.nbuckets; i++)
        for (sl_strmap_node_t *n = c->groups.buckets[i]; n; n = n->next)
            free_group(n->value);
    sl_strmap_free(&c->groups);
}

sl_kgroup_t *sl__kgroup_find(const sl_kcoord_t *c, sl_kstr_t group) {
    if (c->groups.buckets == NULL || group.len < 0)
        return NULL;
    return sl_strmap_get(&c->groups, group.p, (size_t)group.len);
}

static int new_group(sl_kcoord_t *c, sl_kstr_t name, sl_kgroup_t **out) {
    if (c->groups.buckets == NULL && sl_strmap_init(&c->groups) != 0)
        return SL_ENOMEM;
    sl_kgroup_t *g = calloc(1, sizeof(*g));
    if (g == NULL || (g->name = dup_str(name)) == NULL ||
        sl_strmap_put(&c->groups, name.p, (size_t)name.len, g) != 0) {
        if (g != NULL)
            free(g->name);
        free(g);
        return SL_ENOMEM;
    }
    g->name_len = (size_t)name.len;
    c->st.groups++;
    *out = g;
    return 0;
}

static void drop_group(sl_kcoord_t *c, sl_kgroup_t *g) {
    sl_strmap_del(&c->groups, g->name, g->name_len);
    c->st.groups--;
    free_group(g);
}

static sl_kmember_t *find_member(const sl_kgroup_t *g, sl_kstr_t id) {
    for (sl_kmember_t *m = g->members; m != NULL; m = m->next)
        if (str_eq(m->id, m->id_len, id))
            return m;
    return NULL;
}

/* The static member holding group.instance.id iid, NULL when none. */
static sl_kmember_t *find_static(const sl_kgroup_t *g, sl_kstr_t iid) {
    if (iid.len <= 0)
        return NULL;
    for (sl_kmember_t *m = g->members; m != NULL; m = m->next)
        if (m->instance_id != NULL &&
            str_eq(m->instance_id, strlen(m->instance_id), iid))
            return m;
    return NULL;
}

/* Kafka's member ids: the client id (a static member's instance id), '-',
 * and a random UUID. */
static char *make_member_id(sl_kstr_t client_id) {
    uint8_t u[16];
    size_t got = 0;
    while (got < sizeof(u)) {
        ssize_t r = getrandom(u + got, sizeof(u) - got, 0);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    if (got < sizeof(u)) {
        /* getrandom() cannot fail on Linux >= 3.17 short of a signal;
         * ids need only be unique, not secret, so fall back to rand(). */
        for (size_t i = 0; i < sizeof(u); i++)
            u[i] = (uint8_t)rand();
    }
    u[6] = (uint8_t)((u[6] & 0x0f) | 0x40);
    u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);
    size_t clen = client_id.len > 0 ? (size_t)client_id.len : 0;
    char *id = malloc(clen + 38);
    if (id == NULL)
        return NULL;
    if (clen > 0)
        memcpy(id, client_id.p, clen);
    char *p = id + clen;
    *p++ = '-';
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        snprintf(p, 3, "%02x", u[i]);
        p += 2;
    }
    *p = '\0';
    return id;
}

static sl_kmember_t *new_member(sl_kcoord_t *c, sl_kgroup_t *g,
                                const sl_kjoin_t *req) {
    sl_kmember_t *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return NULL;
    int is_static = req->instance_id.len > 0;
    m->id = make_member_id(is_static ? req->instance_id : req->client_id);
    if (m->id == NULL ||
        (is_static && (m->instance_id = dup_str(req->instance_id)) == NULL)) {
        free_member(m);
        return NULL;
    }
    m->id_len = strlen(m->id);
    m->next = g->members;
    g->members = m;
    c->st.members++;
    return m;
}

/* Replaces m's protocols and timeouts with the request's. */
static int set_protocols(sl_kcoord_t *c, sl_kmember_t *m,
                         const sl_kjoin_t *req) {
    size_t need = 0;
    for (uint32_t i = 0; i < req->nprotos; i++)
        need +=
            (size_t)(req->protos[i].name.len > 0 ? req->protos[i].name.len
                                                 : 0) +
            (size_t)(req->protos[i].meta_len > 0 ? req->protos[i].meta_len : 0);
    if (c->st.bytes - m->proto_bytes + need > c->opts.max_bytes)
        return SL_ELIMIT;
    sl_kproto_t *p = calloc(req->nprotos, sizeof(*p));
    if (p == NULL)
        return SL_ENOMEM;
    for (uint32_t i = 0; i < req->nprotos; i++) {
        const sl_kproto_in_t *in = &req->protos[i];
        p[i].name = dup_str(in->name);
        p[i].meta_len = in->meta_len > 0 ? in->meta_len : 0;
        p[i].meta = malloc(p[i].meta_len > 0 ? (size_t)p[i].meta_len : 1);
        if (p[i].name == NULL || p[i].meta == NULL) {
            for (uint32_t j = 0; j <= i; j++) {
                free(p[j].name);
                free(p[j].meta);
            }
            free(p);
            return SL_ENOMEM;
        }
        if (p[i].meta_len > 0)
            memcpy(p[i].meta, in->meta, (size_t)p[i].meta_len);
    }
    free_protos(m);
    c->st.bytes = c->st.bytes - m->proto_bytes + need;
    m->proto_bytes = need;
    m->protos = p;
    m->nprotos = req->nprotos;
    m->session_ms = req->session_ms;
    m->rebalance_ms = req->rebalance_ms;
    return 0;
}

/* Kafka's matches(): the same protocols with the same metadata, in the
 * same order. */
static int same_protocols(const sl_kmember_t *m, const sl_kjoin_t *req) {
    if (m->nprotos != req->nprotos)
        return 0;
    for (uint32_t i = 0; i < m->nprotos; i++) {
        const sl_kproto_in_t *in = &req->protos[i];
        int32_t mlen = in->meta_len > 0 ? in->meta_len : 0;
        if (!str_eq(m->protos[i].name, strlen(m->protos[i].name), in->name) ||
            m->protos[i].meta_len != mlen ||
            (mlen > 0 && memcmp(m->protos[i].meta, in->meta, (size_t)mlen)))
            return 0;
    }
    return 1;
}

static int member_supports(const sl_kmember_t *m, const char *name) {
    for (uint32_t i = 0; i < m->nprotos; i++)
        if (strcmp(m->protos[i].name, name) == 0)
            return 1;
    return 0;
}

/* Whether every joined member other than skip supports name. */
static int all_support(const sl_kgroup_t *g, const char *name,
                       const sl_kmember_t *skip) {
    for (const sl_kmember_t *m = g->members; m != NULL; m = m->next)
        if (!m->pending && m != skip && !member_supports(m, name))
            return 0;
    return 1;
}

/* Kafka's supportsProtocols(): a member may join a group that has
 * members when its protocol type is the group's and one of its
 * protocols is supported by every member already in. */
static int supports(const sl_kgroup_t *g, const sl_kjoin_t *req,
                    const sl_kmember_t *self) {
    if (req->protocol_type.len <= 0 || req->nprotos == 0)
        return 0;
    if (g->nmembers == 0 || (g->nmembers == 1 && self && !self->pending))
        return 1;
    if (!str_eq(g->protocol_type, strlen(g->protocol_type), req->protocol_type))
        return 0;
    for (uint32_t i = 0; i < req->nprotos; i++) {
        char *name = dup_str(req->protos[i].name);
        int ok = name != NULL && all_support(g, name, self);
        free(name);
        if (ok)
            return 1;
    }
    return 0;
}

/* Kafka's selectProtocol(): among the protocols every member supports,
 * each member votes for the first of its own list; most votes wins, a
 * tie goes to the one the leader prefers. */
static const char *select_protocol(const sl_kgroup_t *g) {
    const sl_kmember_t *lead = g->leader;
    const char *best = NULL;
    uint32_t best_votes = 0;
    for (uint32_t i = 0; lead != NULL && i < lead->nprotos; i++) {
        const char *cand = lead->protos[i].name;
        if (!all_support(g, cand, NULL))
            continue;
        uint32_t votes = 0;
        for (const sl_kmember_t *m = g->members; m != NULL; m = m->next) {
            if (m->pending)
                continue;
            for (uint32_t j = 0; j < m->nprotos; j++) {
                if (all_support(g, m->protos[j].name, NULL)) {
                    votes += strcmp(m->protos[j].name, cand) == 0;
                    break;
                }
            }
        }
        if (best == NULL || votes > best_votes) {
            best = cand;
            best_votes = votes;
        }
    }
    return best;
}

/* Answers m's held JoinGroup, naming leader as the group's leader. */
static void answer_join_as(sl_kcoord_t *c, sl_kmember_t *m, int16_t err,
                           const sl_kgroup_t *g, const char *leader) {
    void *wait = m->join_wait;
    m->join_wait = NULL;
    if (wait != NULL)
        c->join_cb(c->cb_arg, wait, err, err == 0 ? g : NULL,
                   err == 0 ? m : NULL, m->id, err == 0 ? leader : NULL);
}

static void answer_join(sl_kcoord_t *c, sl_kmember_t *m, int16_t err,
                        const sl_kgroup_t *g) {
    answer_join_as(c, m, err, g,
                   g != NULL && g->leader != NULL ? g->leader->id : NULL);
}

static void answer_sync(sl_kcoord_t *c, sl_kmember_t *m, int16_t err) {
    void *wait = m->sync_wait;
    m->sync_wait = NULL;
    m->awaiting_sync = 0;
    if (wait != NULL)
        c->sync_cb(c->cb_arg, wait, err, err == 0 ? m->assign : NULL,
                   err == 0 ? m->assign_len : 0);
}

/* The largest rebalance timeout of the group's members. */
static int32_t rebalance_timeout(const sl_kgroup_t *g) {
    int32_t timeout = 0;
    for (const sl_kmember_t *m = g->members; m != NULL; m = m->next)
        if (!m->pending && m->rebalance_ms > timeout)
            timeout = m->rebalance_ms;
    return timeout;
}

static void prepare_rebalance(sl_kcoord_t *c, sl_kgroup_t *g, int64_t now) {
    if (g->state == SL_KGROUP_COMPLETING) {
        /* Kafka's resetAndPropagateAssignmentError: the generation being
         * synced is dead. */
        for (sl_kmember_t *m = g->members; m != NULL; m = m->next)
            if (m->awaiting_sync)
                answer_sync(c, m, SL_KERR_REBALANCE_IN_PROGRESS);
    }
    for (sl_kmember_t *m = g->members; m != NULL; m = m->next) {
        c->st.bytes -= (size_t)m->assign_len;
        free(m->assign);
        m->assign = NULL;
        m->assign_len = 0;
    }
    g->state = SL_KGROUP_PREPARING;
    g->join_deadline = now + rebalance_timeout(g);
    c->st.rebalances++;
}

static void unlink_member(sl_kcoord_t *c, sl_kgroup_t *g, sl_kmember_t *m) {
    sl_kmember_t **pp = &g->members;
    while (*pp != m)
        pp = &(*pp)->next;
    *pp = m->next;
    if (m->pending)
        g->npending--;
    else
        g->nmembers--;
    if (g->leader == m) {
        g->leader = NULL;
        for (sl_kmember_t *o = g->members; o != NULL; o = o->next)
            if (!o->pending) {
                g->leader = o;
                break;
            }
    }
    c->st.members--;
    c->st.bytes -= m->proto_bytes + (size_t)m->assign_len;
    free_member(m);
}

static void complete_join(sl_kcoord_t *c, sl_kgroup_t *g, int64_t now);

/* Kafka's tryCompleteJoin: every member rejoined and nobody holds an id
 * from MEMBER_ID_REQUIRED without having joined with it. */
static void maybe_complete_join(sl_kcoord_t *c, sl_kgroup_t *g, int64_t now) {
    if (g->state != SL_KGROUP_PREPARING || g->npending > 0)
        return;
    for (const sl_kmember_t *m = g->members; m != NULL; m = m->next)
        if (!m->awaiting_join)
            return;
    complete_join(c, g, now);
}

/* Frees the group when nothing is left of it; returns 1 then. */
static int maybe_drop(sl_kcoord_t *c, sl_kgroup_t *g) {
    if (g->members != NULL)
        return 0;
    drop_group(c, g);
    return 1;
}

/* Kafka's removeMemberAndUpdateGroup: a member left or expired. */
static void remove_member(sl_kcoord_t *c, sl_kgroup_t *g, sl_kmember_t *m,
                          int64_t now) {
    int was_pending = m->pending;
    answer_join(c, m, SL_KERR_UNKNOWN_MEMBER_ID, NULL);
    answer_sync(c, m, SL_KERR_UNKNOWN_MEMBER_ID);
    unlink_member(c, g, m);
    if (!was_pending &&
        (g->state == SL_KGROUP_STABLE || g->state == SL_KGROUP_COMPLETING))
        prepare_rebalance(c, g, now);
    if (g->state == SL_KGROUP_PREPARING)
        maybe_complete_join(c, g, now);
    if (g->state == SL_KGROUP_EMPTY)
        maybe_drop(c, g);
}

static void complete_join(sl_kcoord_t *c, sl_kgroup_t *g, int64_t now) {
    /* Dynamic members that did not rejoin in time are out (Kafka's
     * notYetRejoinedMembers); static ones stay until their session ends. */
    sl_kmember_t *m = g->members;
    while (m != NULL) {
        sl_kmember_t *next = m->next;
        if (!m->pending && !m->awaiting_join && m->instance_id == NULL)
            unlink_member(c, g, m);
        m = next;
    }
    if (g->leader != NULL && !g->leader->awaiting_join) {
        /* Kafka's maybeElectNewJoinedLeader: a member that rejoined leads.
         * With none, only static members that did not rejoin are left:
         * wait for them another rebalance timeout (at least a second, so
         * a zero timeout cannot spin the timer); their sessions may end
         * first, which removes them. */
        sl_kmember_t *lead = NULL;
        for (m = g->members; m != NULL && lead == NULL; m = m->next)
            if (!m->pending && m->awaiting_join)
                lead = m;
        if (lead == NULL) {
            int32_t timeout = rebalance_timeout(g);
            g->join_deadline = now + (timeout > 1000 ? timeout : 1000);
            return;
        }
        g->leader = lead;
    }
    g->generation++;
    free(g->protocol);
    g->protocol = NULL;
    if (g->nmembers == 0) {
        g->state = SL_KGROUP_EMPTY;
        free(g->protocol_type);
        g->protocol_type = NULL;
        return; /* The caller drops the group (maybe_drop()). */
    }
    const char *proto = select_protocol(g);
    g->protocol = proto != NULL ? strdup(proto) : NULL;
    g->state = SL_KGROUP_COMPLETING;
    for (m = g->members; m != NULL; m = m->next) {
        if (m->pending || !m->awaiting_join)
            continue;
        m->awaiting_join = 0;
        m->expires = now + m->session_ms;
    }
    /* Answer after the whole generation is set up: a callback reads the
     * group. A failed strdup (no protocol) is answered as Kafka answers a
     * group whose members share none. */
    for (m = g->members; m != NULL; m = m->next)
        if (!m->pending)
            answer_join(c, m,
                        g->protocol != NULL
                            ? SL_KERR_NONE
                            : SL_KERR_INCONSISTENT_GROUP_PROTOCOL,
                        g);
}

/* m, whose protocols are set, waits in the rebalance. */
static int wait_in_rebalance(sl_kcoord_t *c, sl_kgroup_t *g, sl_kmember_t *m,
                             const sl_kjoin_t *req, int64_t now, void *wait) {
    if (g->nmembers == 0 || g->protocol_type == NULL) {
        char *pt = dup_str(req->protocol_type);
        if (pt == NULL)
            return SL_ENOMEM;
        free(g->protocol_type);
        g->protocol_type = pt;
    }
    if (m->pending) {
        m->pending = 0;
        g->npending--;
        g->nmembers++;
    }
    if (g->leader == NULL)
        g->leader = m;
    if (m->join_wait != NULL) /* A second JoinGroup replaces the first. */
        answer_join(c, m, SL_KERR_REBALANCE_IN_PROGRESS, NULL);
    m->join_wait = wait;
    m->awaiting_join = 1;
    m->expires = now + m->session_ms;
    if (g->state != SL_KGROUP_PREPARING)
        prepare_rebalance(c, g, now);
    maybe_complete_join(c, g, now);
    return 0;
}

/* Kafka's addMemberAndRebalance / updateMemberAndRebalance: m (new, or
 * known with protocols to update) waits in the rebalance. */
static int join_and_rebalance(sl_kcoord_t *c, sl_kgroup_t *g, sl_kmember_t *m,
                              const sl_kjoin_t *req, int64_t now, void *wait) {
    int err = set_protocols(c, m, req);
    if (err != 0)
        return err;
    return wait_in_rebalance(c, g, m, req, now, wait);
}

/* A static member m joined again without its member id (its process
 * restarted, or a second process claims the instance id): m gets a new id
 * in place, the old one is fenced. See the top of the file for when this
 * rebalances. Everything that can fail happens before the old id is
 * touched, so a refused join leaves the member as it was. */
static int join_static(sl_kcoord_t *c, sl_kgroup_t *g, sl_kmember_t *m,
                       const sl_kjoin_t *req, int64_t now, void *wait) {
    int stay = g->state == SL_KGROUP_STABLE && same_protocols(m, req);
    char *id = make_member_id(req->instance_id);
    if (id == NULL)
        return SL_ENOMEM;
    if (!stay) {
        int err = set_protocols(c, m, req);
        if (err != 0) {
            free(id);
            return err;
        }
    }
    answer_join(c, m, SL_KERR_FENCED_INSTANCE_ID, NULL);
    answer_sync(c, m, SL_KERR_FENCED_INSTANCE_ID);
    char *old = m->id;
    m->id = id;
    m->id_len = strlen(id);
    c->st.static_rejoins++;
    if (!stay) {
        free(old);
        return wait_in_rebalance(c, g, m, req, now, wait);
    }
    /* Same protocols: only the timeouts may have changed. The reply names
     * the leader as it was (old when m led), so m does not assign. */
    m->session_ms = req->session_ms;
    m->rebalance_ms = req->rebalance_ms;
    m->expires = now + m->session_ms;
    m->join_wait = wait;
    answer_join_as(c, m, SL_KERR_NONE, g, g->leader == m ? old : g->leader->id);
    free(old);
    return 0;
}

static void join_error(sl_kcoord_t *c, void *wait, int16_t err,
                       const char *member_id) {
    c->join_cb(c->cb_arg, wait, err, NULL, NULL, member_id, NULL);
}

static int join_new(sl_kcoord_t *c, sl_kgroup_t *g, const sl_kjoin_t *req,
                    int64_t now, void *wait) {
    if (c->st.members >= c->opts.max_members) {
        join_error(c, wait, SL_KERR_GROUP_MAX_SIZE_REACHED, "");
        return 0;
    }
    sl_kmember_t *m = new_member(c, g, req);
    if (m == NULL)
        return SL_ENOMEM;
    if (req->require_known_id) {
        /* Kafka 2.2+ (KIP-394): hand out the id first, so a client that
         * times out and retries does not leave a ghost member behind. */
        m->pending = 1;
        g->npending++;
        m->session_ms = req->session_ms;
        m->expires = now + req->session_ms;
        join_error(c, wait, SL_KERR_MEMBER_ID_REQUIRED, m->id);
        return 0;
    }
    m->pending = 1; /* join_and_rebalance() counts it in. */
    g->npending++;
    int err = join_and_rebalance(c, g, m, req, now, wait);
    if (err != 0)
        unlink_member(c, g, m);
    return err;
}

static void join_known(sl_kcoord_t *c, sl_kgroup_t *g, sl_kmember_t *m,
                       const sl_kjoin_t *req, int64_t now, void *wait,
                       int *err) {
    switch (g->state) {
    case SL_KGROUP_EMPTY: /* Only pending members; they join below. */
    case SL_KGROUP_PREPARING:
        *err = join_and_rebalance(c, g, m, req, now, wait);
        return;
    case SL_KGROUP_COMPLETING:
        if (same_protocols(m, req)) {
            /* A retried JoinGroup: the generation's answer again. */
            m->expires = now + m->session_ms;
            m->join_wait = wait;
            answer_join(c, m, SL_KERR_NONE, g);
            return;
        }
        *err = join_and_rebalance(c, g, m, req, now, wait);
        return;
    case SL_KGROUP_STABLE:
        if (m == g->leader || !same_protocols(m, req)) {
            *err = join_and_rebalance(c, g, m, req, now, wait);
            return;
        }
        m->expires = now + m->session_ms;
        m->join_wait = wait;
        answer_join(c, m, SL_KERR_NONE, g);
        return;
    }
}

int sl__kgroup_join(sl_kcoord_t *c, const sl_kjoin_t *req, int64_t now,
                    void *wait) {
    c->st.joins++;
    const char *mid = req->member_id.len > 0 ? NULL : "";
    if (req->group.len <= 0) {
        join_error(c, wait, SL_KERR_INVALID_GROUP_ID, "");
        return 0;
    }
    if (req->session_ms < c->opts.min_session_ms ||
        req->session_ms > c->opts.max_session_ms) {
        join_error(c, wait, SL_KERR_INVALID_SESSION_TIMEOUT, "");
        return 0;
    }
    sl_kgroup_t *g = sl__kgroup_find(c, req->group);
    sl_kmember_t *m = NULL, *stat = NULL;
    if (g != NULL && mid == NULL)
        m = find_member(g, req->member_id);
    if (g != NULL)
        stat = find_static(g, req->instance_id);
    if (mid == NULL && stat != NULL && stat != m) {
        /* The instance id is another member id's now: this process was
         * replaced by a newer one with the same group.instance.id. */
        c->st.fenced++;
        join_error(c, wait, SL_KERR_FENCED_INSTANCE_ID, "");
        return 0;
    }
    if (mid == NULL &&
        (m == NULL || (req->instance_id.len > 0 && stat == NULL))) {
        /* A member id this group does not know (or a static member's
         * instance id it does not know): Kafka makes the client start
         * over with an empty one. */
        join_error(c, wait, SL_KERR_UNKNOWN_MEMBER_ID, "");
        return 0;
    }
    if (g != NULL && !supports(g, req, m != NULL ? m : stat)) {
        join_error(c, wait, SL_KERR_INCONSISTENT_GROUP_PROTOCOL,
                   m != NULL ? m->id : "");
        return 0;
    }
    if (g == NULL && (req->protocol_type.len <= 0 || req->nprotos == 0)) {
        join_error(c, wait, SL_KERR_INCONSISTENT_GROUP_PROTOCOL, "");
        return 0;
    }
    int created = 0;
    if (g == NULL) {
        int err = new_group(c, req->group, &g);
        if (err != 0)
            return err;
        created = 1;
    }
    int err = 0;
    if (m == NULL && stat != NULL)
        err = join_static(c, g, stat, req, now, wait);
    else if (m == NULL)
        err = join_new(c, g, req, now, wait);
    else
        join_known(c, g, m, req, now, wait, &err);
    if (err != 0 && created)
        maybe_drop(c, g);
    if (err == SL_ELIMIT) {
        /* Past the coordinator's memory bound: refused, nothing kept. */
        join_error(c, wait, SL_KERR_GROUP_MAX_SIZE_REACHED,
                   m != NULL ? m->id : "");
        return 0;
    }
    return err;
}

static void sync_error(sl_kcoord_t *c, void *wait, int16_t err) {
    c->sync_cb(c->cb_arg, wait, err, NULL, 0);
}

/* The leader's assignments: each member's own (members it left out get
 * none), then every waiting follower is answered. */
static int take_assignments(sl_kcoord_t *c, sl_kgroup_t *g,
                            const sl_kassign_in_t *as, uint32_t n) {
    size_t old = 0, need = 0;
    for (const sl_kmember_t *m = g->members; m != NULL; m = m->next)
        old += (size_t)m->assign_len;
    for (uint32_t i = 0; i < n; i++)
        need += (size_t)(as[i].assign_len > 0 ? as[i].assign_len : 0);
    if (c->st.bytes - old + need > c->opts.max_bytes)
        return SL_ELIMIT;
    for (sl_kmember_t *m = g->members; m != NULL; m = m->next) {
        if (m->pending)
            continue;
        const sl_kassign_in_t *a = NULL;
        for (uint32_t i = 0; i < n && a == NULL; i++)
            if (str_eq(m->id, m->id_len, as[i].member_id))
                a = &as[i];
        c->st.bytes -= (size_t)m->assign_len;
        free(m->assign);
        m->assign = NULL;
        m->assign_len = 0;
        if (a != NULL && a->assign_len > 0) {
            m->assign = malloc((size_t)a->assign_len);
            if (m->assign == NULL)
                return SL_ENOMEM;
            memcpy(m->assign, a->assign, (size_t)a->assign_len);
            m->assign_len = a->assign_len;
            c->st.bytes += (size_t)a->assign_len;
        }
    }
    return 0;
}

int sl__kgroup_sync(sl_kcoord_t *c, sl_kstr_t group, int32_t generation,
                    sl_kstr_t member_id, const sl_kassign_in_t *assigns,
                    uint32_t nassigns, int64_t now, void *wait) {
    c->st.syncs++;
    sl_kgroup_t *g = sl__kgroup_find(c, group);
    sl_kmember_t *m = g != NULL ? find_member(g, member_id) : NULL;
    if (m == NULL || m->pending) {
        sync_error(c, wait, SL_KERR_UNKNOWN_MEMBER_ID);
        return 0;
    }
    if (generation != g->generation) {
        sync_error(c, wait, SL_KERR_ILLEGAL_GENERATION);
        return 0;
    }
    m->expires = now + m->session_ms;
    switch (g->state) {
    case SL_KGROUP_EMPTY:
        sync_error(c, wait, SL_KERR_UNKNOWN_MEMBER_ID);
        return 0;
    case SL_KGROUP_PREPARING:
        sync_error(c, wait, SL_KERR_REBALANCE_IN_PROGRESS);
        return 0;
    case SL_KGROUP_STABLE:
        /* Kafka gives any current member of a stable group its
         * assignment, also a follower whose SyncGroup comes after the
         * leader's (librdkafka 2.0's mock answers INVALID_REQUEST). */
        c->sync_cb(c->cb_arg, wait, SL_KERR_NONE, m->assign, m->assign_len);
        return 0;
    case SL_KGROUP_COMPLETING: break;
    }
    if (m->sync_wait != NULL) /* A second SyncGroup replaces the first. */
        answer_sync(c, m, SL_KERR_REBALANCE_IN_PROGRESS);
    if (m != g->leader) {
        m->sync_wait = wait;
        m->awaiting_sync = 1;
        return 0;
    }
    int err = take_assignments(c, g, assigns, nassigns);
    if (err == SL_ELIMIT) {
        sync_error(c, wait, SL_KERR_GROUP_MAX_SIZE_REACHED);
        return 0;
    }
    if (err != 0)
        return err;
    m->sync_wait = wait;
    m->awaiting_sync = 1;
    g->state = SL_KGROUP_STABLE;
    for (sl_kmember_t *o = g->members; o != NULL; o = o->next) {
        if (o->pending)
            continue;
        o->expires = now + o->session_ms;
        if (o->awaiting_sync)
            answer_sync(c, o, SL_KERR_NONE);
    }
    return 0;
}

int16_t sl__kgroup_fenced(sl_kcoord_t *c, sl_kstr_t group, sl_kstr_t member_id,
                          sl_kstr_t instance_id) {
    sl_kgroup_t *g = sl__kgroup_find(c, group);
    sl_kmember_t *m = g != NULL ? find_static(g, instance_id) : NULL;
    if (m == NULL || str_eq(m->id, m->id_len, member_id))
        return SL_KERR_NONE;
    c->st.fenced++;
    return SL_KERR_FENCED_INSTANCE_ID;
}

int16_t sl__kgroup_heartbeat(sl_kcoord_t *c, sl_kstr_t group,
                             int32_t generation, sl_kstr_t member_id,
                             int64_t now) {
    c->st.heartbeats++;
    sl_kgroup_t *g = sl__kgroup_find(c, group);
    sl_kmember_t *m = g != NULL ? find_member(g, member_id) : NULL;
    if (m == NULL || m->pending || g->state == SL_KGROUP_EMPTY)
        return SL_KERR_UNKNOWN_MEMBER_ID;
    if (generation != g->generation)
        return SL_KERR_ILLEGAL_GENERATION;
    m->expires = now + m->session_ms;
    if (g->state == SL_KGROUP_PREPARING)
        return SL_KERR_REBALANCE_IN_PROGRESS;
    return SL_KERR_NONE;
}

int16_t sl__kgroup_leave(sl_kcoord_t *c, sl_kstr_t group, sl_kstr_t member_id,
                         int64_t now) {
    c->st.leaves++;
    sl_kgroup_t *g = sl__kgroup_find(c, group);
    sl_kmember_t *m = g != NULL ? find_member(g, member_id) : NULL;
    if (m == NULL)
        return SL_KERR_UNKNOWN_MEMBER_ID;
    remove_member(c, g, m, now);
    return SL_KERR_NONE;
}

int16_t sl__kgroup_leave_instance(sl_kcoord_t *c, sl_kstr_t group,
                                  sl_kstr_t member_id, sl_kstr_t instance_id,
                                  int64_t now) {
    c->st.leaves++;
    sl_kgroup_t *g = sl__kgroup_find(c, group);
    if (g == NULL || (member_id.len > 0 && find_member(g, member_id) == NULL))
        return SL_KERR_UNKNOWN_MEMBER_ID;
    sl_kmember_t *m = find_static(g, instance_id);
    if (m == NULL)
        return SL_KERR_UNKNOWN_MEMBER_ID;
    if (member_id.len > 0 && !str_eq(m->id, m->id_len, member_id)) {
        c->st.fenced++;
        return SL_KERR_FENCED_INSTANCE_ID;
    }
    remove_member(c, g, m, now);
    return SL_KERR_NONE;
}

int16_t sl__kgroup_commit_check(sl_kcoord_t *c, sl_kstr_t group,
                                int32_t generation, sl_kstr_t member_id,
                                int64_t now) {
    if (group.len <= 0)
        return SL_KERR_INVALID_GROUP_ID;
    sl_kgroup_t *g = sl__kgroup_find(c, group);
    if (g == NULL)
        return generation < 0 ? SL_KERR_NONE : SL_KERR_ILLEGAL_GENERATION;
    if (generation < 0 && g->state == SL_KGROUP_EMPTY)
        return SL_KERR_NONE;
    sl_kmember_t *m = find_member(g, member_id);
    if (m == NULL || m->pending)
        return SL_KERR_UNKNOWN_MEMBER_ID;
    if (generation != g->generation)
        return SL_KERR_ILLEGAL_GENERATION;
    /* A valid member between JoinGroup and the leader's SyncGroup has no
     * assignment yet; Stable and PreparingRebalance commit (a member of
     * the current generation may commit until it rejoined). */
    if (g->state == SL_KGROUP_COMPLETING)
        return SL_KERR_REBALANCE_IN_PROGRESS;
    m->expires = now + m->session_ms;
    return SL_KERR_NONE;
}

void sl__kgroup_forget(sl_kcoord_t *c, void *wait) {
    for (size_t i = 0; i < c->groups.nbuckets; i++)
        for (sl_strmap_node_t *n = c->groups.buckets[i]; n; n = n->next)
            for (sl_kmember_t *m = ((sl_kgroup_t *)n->value)->members; m;
                 m = m->next) {
                if (m->join_wait == wait)
                    m->join_wait = NULL;
                if (m->sync_wait == wait)
                    m->sync_wait = NULL;
            }
}

/* Whether m's session may end now: not while it waits in a rebalance. */
static int expired(const sl_kmember_t *m, int64_t now) {
    return now >= m->expires && !m->awaiting_join && !m->awaiting_sync;
}

void sl__kgroup_tick(sl_kcoord_t *c, int64_t now) {
    /* A removal can free a group and with it the chain link we stand on,
     * so restart the bucket after every change; ticks are rare and
     * groups few. */
    for (size_t i = 0; i < c->groups.nbuckets; i++) {
    again:
        for (sl_strmap_node_t *n = c->groups.buckets[i]; n; n = n->next) {
            sl_kgroup_t *g = n->value;
            for (sl_kmember_t *m = g->members; m != NULL; m = m->next) {
                if (expired(m, now)) {
                    c->st.expired++;
                    remove_member(c, g, m, now);
                    goto again;
                }
            }
            if (g->state == SL_KGROUP_PREPARING && now >= g->join_deadline) {
                complete_join(c, g, now);
                maybe_drop(c, g);
                goto again;
            }
        }
    }
}

int64_t sl__kgroup_next_deadline(const sl_kcoord_t *c) {
    int64_t next = INT64_MAX;
    for (size_t i = 0; i < c->groups.nbuckets; i++)
        for (sl_strmap_node_t *n = c->groups.buckets[i]; n; n = n->next) {
            const sl_kgroup_t *g = n->value;
            if (g->state == SL_KGROUP_PREPARING && g->join_deadline < next)
                next = g->join_deadline;
            for (const sl_kmember_t *m = g->members; m != NULL; m = m->next)
                if (!m->awaiting_join && !m->awaiting_sync && m->expires < next)
                    next = m->expires;
        }
    return next;
}
