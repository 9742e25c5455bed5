/* The Kafka group coordinator's state machine (broker/kafka/group.c),
 * driven by hand with its own clock: the rules of Kafka's
 * GroupCoordinator for joins, rebalances, syncs, heartbeats, leaving,
 * session expiry and commit checks. */
#include "broker/kafka/group_int.h"
#include "error.h"
#include "sl_test.h"

#include <stdlib.h>
#include <string.h>

/* A waiter: what the coordinator answered, and how often. */
typedef struct {
    int calls;
    int16_t err;
    int32_t generation;
    char member_id[256];
    char leader[256];
    char protocol[64];
    int nmembers_listed; /* Members in the reply (leader only). */
    uint8_t assign[64];
    int32_t assign_len;
} waiter_t;

static void join_cb(void *arg, void *wait, int16_t err, const sl_kgroup_t *g,
                    const sl_kmember_t *m, const char *member_id,
                    const char *leader_id) {
    (void)arg;
    waiter_t *w = wait;
    w->calls++;
    w->err = err;
    snprintf(w->member_id, sizeof(w->member_id), "%s", member_id);
    if (err == 0) {
        w->generation = g->generation;
        snprintf(w->leader, sizeof(w->leader), "%s", leader_id);
        snprintf(w->protocol, sizeof(w->protocol), "%s", g->protocol);
        w->nmembers_listed = 0;
        if (m == g->leader && strcmp(leader_id, member_id) == 0)
            for (const sl_kmember_t *o = g->members; o; o = o->next)
                w->nmembers_listed += !o->pending;
    }
}

static void sync_cb(void *arg, void *wait, int16_t err, const uint8_t *assign,
                    int32_t len) {
    (void)arg;
    waiter_t *w = wait;
    w->calls++;
    w->err = err;
    w->assign_len = len;
    if (len > 0)
        memcpy(w->assign, assign, (size_t)len);
}

static sl_kstr_t S(const char *s) {
    sl_kstr_t k = {s, (int32_t)strlen(s)};
    return k;
}

static const sl_kproto_in_t RANGE_RR[] = {
    {{"range", 5}, (const uint8_t *)"m1", 2},
    {{"roundrobin", 10}, (const uint8_t *)"m2", 2},
};
static const sl_kproto_in_t RR_ONLY[] = {
    {{"roundrobin", 10}, (const uint8_t *)"m3", 2},
};
static const sl_kproto_in_t STICKY_ONLY[] = {
    {{"sticky", 6}, (const uint8_t *)"", 0},
};

static sl_kjoin_t join_req(const char *member, const sl_kproto_in_t *protos,
                           uint32_t n, int v4) {
    sl_kjoin_t r;
    memset(&r, 0, sizeof(r));
    r.group = S("g");
    r.member_id = S(member);
    r.instance_id.len = -1;
    r.client_id = S("cli");
    r.protocol_type = S("consumer");
    r.session_ms = 10000;
    r.rebalance_ms = 30000;
    r.protos = protos;
    r.nprotos = n;
    r.require_known_id = v4;
    return r;
}

static void setup(sl_kcoord_t *c) {
    sl_kgroup_opts_t o = SL_KGROUP_OPTS_DEFAULT;
    sl__kgroup_init(c, &o, join_cb, sync_cb, NULL);
}

/* Joins a new member the v4 way (MEMBER_ID_REQUIRED, then again with the
 * id) and returns the waiter of the second JoinGroup. */
static void join_v4(sl_kcoord_t *c, const sl_kproto_in_t *p, uint32_t n,
                    int64_t now, waiter_t *w) {
    waiter_t first;
    memset(&first, 0, sizeof(first));
    memset(w, 0, sizeof(*w));
    sl_kjoin_t r = join_req("", p, n, 1);
    SL_CHECK_OK(sl__kgroup_join(c, &r, now, &first));
    SL_CHECK_INT(first.calls, 1);
    SL_CHECK_INT(first.err, SL_KERR_MEMBER_ID_REQUIRED);
    r = join_req(first.member_id, p, n, 1);
    SL_CHECK_OK(sl__kgroup_join(c, &r, now, w));
    snprintf(w->member_id, sizeof(w->member_id), "%s", first.member_id);
}

SL_TEST(kafka_group_member_id_required_then_single_member_generation_1) {
    sl_kcoord_t c;
    setup(&c);
    waiter_t first = {0}, w = {0};
    sl_kjoin_t r = join_req("", RANGE_RR, 2, 1);
    SL_CHECK_OK(sl__kgroup_join(&c, &r, 0, &first));
    SL_CHECK_INT(first.err, SL_KERR_MEMBER_ID_REQUIRED);
    /* Kafka's member ids: client id, '-', a UUID. */
    SL_CHECK(strncmp(first.member_id, "cli-", 4) == 0);
    SL_CHECK_UINT(strlen(first.member_id), 4 + 36);
    SL_CHECK_INT(first.member_id[4 + 14], '4');
    SL_CHECK_UINT(c.st.members, 1);
    /* Not joined yet: a heartbeat with the id is refused. */
    SL_CHECK_INT(sl__kgroup_heartbeat(&c, S("g"), 0, S(first.member_id), 0),
                 SL_KERR_UNKNOWN_MEMBER_ID);
    r = join_req(first.member_id, RANGE_RR, 2, 1);
    SL_CHECK_OK(sl__kgroup_join(&c, &r, 0, &w));
    SL_CHECK_INT(w.calls, 1);
    SL_CHECK_INT(w.err, 0);
    SL_CHECK_INT(w.generation, 1);
    SL_CHECK_STR(w.leader, first.member_id);
    SL_CHECK_STR(w.protocol, "range");
    SL_CHECK_INT(w.nmembers_listed, 1);
    sl_kgroup_t *g = sl__kgroup_find(&c, S("g"));
    SL_CHECK(g != NULL);
    SL_CHECK_INT(g->state, SL_KGROUP_COMPLETING);
    SL_CHECK_UINT(c.st.groups, 1);
    SL_CHECK_UINT(c.st.rebalances, 1);
    sl__kgroup_free(&c);
}

SL_TEST(kafka_group_second_member_holds_join_until_leader_rejoins) {
    sl_kcoord_t c;
    setup(&c);
    waiter_t a, b, sa = {0};
    join_v4(&c, RANGE_RR, 2, 0, &a);
    SL_CHECK_INT(a.generation, 1);
    SL_CHECK_OK(
        sl__kgroup_sync(&c, S("g"), 1, S(a.member_id), NULL, 0, 1, &sa));
    SL_CHECK_INT(sa.calls, 1);
    SL_CHECK_INT(sa.err, 0);
    SL_CHECK_INT(sl__kgroup_find(&c, S("g"))->state, SL_KGROUP_STABLE);
    /* B joins a stable group: a rebalance; B's JoinGroup is held. */
    join_v4(&c, RR_ONLY, 1, 100, &b);
    SL_CHECK_INT(b.calls, 0);
    SL_CHECK_INT(sl__kgroup_find(&c, S("g"))->state, SL_KGROUP_PREPARING);
    /* A learns by its heartbeat, and rejoins. */
    SL_CHECK_INT(sl__kgroup_heartbeat(&c, S("g"), 1, S(a.member_id), 200),
                 SL_KERR_REBALANCE_IN_PROGRESS);
    waiter_t a2 = {0};
    sl_kjoin_t r = join_req(a.member_id, RANGE_RR, 2, 1);
    SL_CHECK_OK(sl__kgroup_join(&c, &r, 300, &a2));
    SL_CHECK_INT(a2.calls, 1);
    SL_CHECK_INT(b.calls, 1);
    SL_CHECK_INT(a2.generation, 2);
    SL_CHECK_INT(b.generation, 2);
    /* The one protocol both support. */
    SL_CHECK_STR(a2.protocol, "roundrobin");
    SL_CHECK_STR(b.leader, a.member_id);
    SL_CHECK_INT(a2.nmembers_listed, 2);
    SL_CHECK_INT(b.nmembers_listed, 0);
    /* The old generation is gone. */
    SL_CHECK_INT(sl__kgroup_heartbeat(&c, S("g"), 1, S(a.member_id), 300),
                 SL_KERR_ILLEGAL_GENERATION);
    sl__kgroup_free(&c);
}

/* Brings up a group of leader a and follower b in generation 2, both
 * JoinGroups answered, nobody synced yet. */
static void two_members(sl_kcoord_t *c, waiter_t *a, waiter_t *b) {
    join_v4(c, RANGE_RR, 2, 0, a);
    join_v4(c, RANGE_RR, 2, 0, b);
    waiter_t a2 = {0};
    sl_kjoin_t r = join_req(a->member_id, RANGE_RR, 2, 1);
    SL_CHECK_OK(sl__kgroup_join(c, &r, 0, &a2));
    SL_CHECK_INT(a2.generation, 2);
    SL_CHECK_INT(b->generation, 2);
}

/* two_members(), then both sync (no assignments): a stable generation 2. */
static void stable_two(sl_kcoord_t *c, waiter_t *a, waiter_t *b) {
    waiter_t sa = {0}, sb = {0};
    two_members(c, a, b);
    SL_CHECK_OK(
        sl__kgroup_sync(c, S("g"), 2, S(a->member_id), NULL, 0, 0, &sa));
    SL_CHECK_OK(
        sl__kgroup_sync(c, S("g"), 2, S(b->member_id), NULL, 0, 0, &sb));
    SL_CHECK_INT(sa.err, 0);
    SL_CHECK_INT(sb.err, 0);
    SL_CHECK_INT(sb.assign_len, 0);
}

SL_TEST(kafka_group_follower_sync_before_and_after_leader) {
    sl_kcoord_t c;
    setup(&c);
    waiter_t a, b, sb = {0}, sa = {0}, sb2 = {0};
    two_members(&c, &a, &b);
    /* The follower first: it waits for the leader. */
    SL_CHECK_OK(
        sl__kgroup_sync(&c, S("g"), 2, S(b.member_id), NULL, 0, 10, &sb));
    SL_CHECK_INT(sb.calls, 0);
    sl_kassign_in_t as[2] = {
        {S(a.member_id), (const uint8_t *)"AAA", 3},
        {S(b.member_id), (const uint8_t *)"BBBB", 4},
    };
    SL_CHECK_OK(sl__kgroup_sync(&c, S("g"), 2, S(a.member_id), as, 2, 20, &sa));
    SL_CHECK_INT(sa.calls, 1);
    SL_CHECK_MEM(sa.assign, (size_t)sa.assign_len, "AAA", 3);
    SL_CHECK_INT(sb.calls, 1);
    SL_CHECK_INT(sb.err, 0);
    SL_CHECK_MEM(sb.assign, (size_t)sb.assign_len, "BBBB", 4);
    /* A follower's SyncGroup after the leader's gets its assignment, as
     * Kafka gives it (not INVALID_REQUEST as librdkafka 2.0's mock). */
    SL_CHECK_OK(
        sl__kgroup_sync(&c, S("g"), 2, S(b.member_id), NULL, 0, 30, &sb2));
    SL_CHECK_INT(sb2.calls, 1);
    SL_CHECK_INT(sb2.err, 0);
    SL_CHECK_MEM(sb2.assign, (size_t)sb2.assign_len, "BBBB", 4);
    SL_CHECK_INT(sl__kgroup_heartbeat(&c, S("g"), 2, S(b.member_id), 40), 0);
    /* A wrong generation and an unknown member. */
    waiter_t bad = {0};
    SL_CHECK_OK(
        sl__kgroup_sync(&c, S("g"), 1, S(b.member_id), NULL, 0, 40, &bad));
    SL_CHECK_INT(bad.err, SL_KERR_ILLEGAL_GENERATION);
    SL_CHECK_OK(sl__kgroup_sync(&c, S("g"), 2, S("nobody"), NULL, 0, 40, &bad));
    SL_CHECK_INT(bad.err, SL_KERR_UNKNOWN_MEMBER_ID);
    SL_CHECK_INT(bad.calls, 2);
    SL_CHECK_INT(sl__kgroup_heartbeat(&c, S("g"), 2, S("nobody"), 40),
                 SL_KERR_UNKNOWN_MEMBER_ID);
    SL_CHECK_INT(sl__kgroup_heartbeat(&c, S("nogroup"), 2, S("x"), 40),
                 SL_KERR_UNKNOWN_MEMBER_ID);
    sl__kgroup_free(&c);
}

SL_TEST(kafka_group_rebalance_during_sync_fails_waiting_followers) {
    sl_kcoord_t c;
    setup(&c);
    waiter_t a, b, sb = {0};
    two_members(&c, &a, &b);
    SL_CHECK_OK(
        sl__kgroup_sync(&c, S("g"), 2, S(b.member_id), NULL, 0, 10, &sb));
    /* A third member joins before the leader synced. */
    waiter_t d;
    join_v4(&c, RANGE_RR, 2, 20, &d);
    SL_CHECK_INT(sb.calls, 1);
    SL_CHECK_INT(sb.err, SL_KERR_REBALANCE_IN_PROGRESS);
    SL_CHECK_INT(d.calls, 0);
    sl__kgroup_free(&c);
}

SL_TEST(kafka_group_leave_rebalances_and_leader_moves) {
    sl_kcoord_t c;
    setup(&c);
    waiter_t a, b;
    stable_two(&c, &a, &b);
    SL_CHECK_INT(sl__kgroup_leave(&c, S("g"), S(a.member_id), 5), 0);
    SL_CHECK_INT(sl__kgroup_leave(&c, S("g"), S(a.member_id), 5),
                 SL_KERR_UNKNOWN_MEMBER_ID);
    sl_kgroup_t *g = sl__kgroup_find(&c, S("g"));
    SL_CHECK_INT(g->state, SL_KGROUP_PREPARING);
    SL_CHECK_STR(g->leader->id, b.member_id);
    waiter_t b2 = {0};
    sl_kjoin_t r = join_req(b.member_id, RANGE_RR, 2, 1);
    SL_CHECK_OK(sl__kgroup_join(&c, &r, 6, &b2));
    SL_CHECK_INT(b2.calls, 1);
    SL_CHECK_INT(b2.generation, 3);
    SL_CHECK_STR(b2.leader, b.member_id);
    SL_CHECK_INT(b2.nmembers_listed, 1);
    /* The last member leaves: the group is forgotten. */
    SL_CHECK_INT(sl__kgroup_leave(&c, S("g"), S(b.member_id), 7), 0);
    SL_CHECK(sl__kgroup_find(&c, S("g")) == NULL);
    SL_CHECK_UINT(c.st.groups, 0);
    SL_CHECK_UINT(c.st.members, 0);
    sl__kgroup_free(&c);
}

SL_TEST(kafka_group_session_expiry_removes_member_and_rebalances) {
    sl_kcoord_t c;
    setup(&c);
    waiter_t a, b;
    stable_two(&c, &a, &b);
    SL_CHECK_INT(sl__kgroup_next_deadline(&c), 10000);
    /* a keeps heartbeating, b goes quiet. */
    SL_CHECK_INT(sl__kgroup_heartbeat(&c, S("g"), 2, S(a.member_id), 9000), 0);
    sl__kgroup_tick(&c, 9999);
    SL_CHECK_UINT(c.st.members, 2);
    sl__kgroup_tick(&c, 10000);
    SL_CHECK_UINT(c.st.members, 1);
    SL_CHECK_UINT(c.st.expired, 1);
    sl_kgroup_t *g = sl__kgroup_find(&c, S("g"));
    SL_CHECK_INT(g->state, SL_KGROUP_PREPARING);
    /* While a waits in the rebalance it does not expire; the rebalance
     * timeout (30 s) completes the generation without it otherwise. */
    SL_CHECK_INT(sl__kgroup_next_deadline(&c), 19000);
    waiter_t a2 = {0};
    sl_kjoin_t r = join_req(a.member_id, RANGE_RR, 2, 1);
    SL_CHECK_OK(sl__kgroup_join(&c, &r, 10001, &a2));
    SL_CHECK_INT(a2.generation, 3);
    SL_CHECK_INT(a2.nmembers_listed, 1);
    sl__kgroup_free(&c);
}

SL_TEST(kafka_group_rebalance_timeout_drops_members_that_did_not_rejoin) {
    sl_kcoord_t c;
    setup(&c);
    waiter_t a, b;
    stable_two(&c, &a, &b);
    /* The leader rejoins (a leader's JoinGroup always rebalances); b keeps
     * heartbeating but never rejoins. */
    waiter_t a2 = {0};
    sl_kjoin_t r = join_req(a.member_id, RANGE_RR, 2, 1);
    SL_CHECK_OK(sl__kgroup_join(&c, &r, 1000, &a2));
    SL_CHECK_INT(a2.calls, 0);
    for (int64_t t = 2000; t < 31000; t += 3000)
        SL_CHECK_INT(sl__kgroup_heartbeat(&c, S("g"), 2, S(b.member_id), t),
                     SL_KERR_REBALANCE_IN_PROGRESS);
    SL_CHECK_INT(sl__kgroup_next_deadline(&c), 1000 + 30000);
    sl__kgroup_tick(&c, 30999);
    SL_CHECK_INT(a2.calls, 0);
    sl__kgroup_tick(&c, 31000);
    SL_CHECK_INT(a2.calls, 1);
    SL_CHECK_INT(a2.generation, 3);
    SL_CHECK_INT(a2.nmembers_listed, 1);
    SL_CHECK_INT(sl__kgroup_heartbeat(&c, S("g"), 2, S(b.member_id), 31001),
                 SL_KERR_UNKNOWN_MEMBER_ID);
    sl__kgroup_free(&c);
}

SL_TEST(kafka_group_forgotten_waiter_is_never_called) {
    sl_kcoord_t c;
    setup(&c);
    waiter_t a, b;
    join_v4(&c, RANGE_RR, 2, 0, &a);
    join_v4(&c, RANGE_RR, 2, 0, &b);
    SL_CHECK_INT(b.calls, 0);
    /* b's connection dies while its JoinGroup is held. */
    sl__kgroup_forget(&c, &b);
    waiter_t a2 = {0};
    sl_kjoin_t r = join_req(a.member_id, RANGE_RR, 2, 1);
    SL_CHECK_OK(sl__kgroup_join(&c, &r, 0, &a2));
    SL_CHECK_INT(a2.calls, 1);
    SL_CHECK_INT(b.calls, 0);
    /* b is in the generation until its session ends, as in Kafka. */
    SL_CHECK_INT(a2.nmembers_listed, 2);
    waiter_t sa = {0};
    SL_CHECK_OK(
        sl__kgroup_sync(&c, S("g"), 2, S(a.member_id), NULL, 0, 0, &sa));
    SL_CHECK_INT(sl__kgroup_heartbeat(&c, S("g"), 2, S(a.member_id), 9000), 0);
    sl__kgroup_tick(&c, 10000);
    SL_CHECK_UINT(c.st.members, 1);
    SL_CHECK_INT(b.calls, 0);
    sl__kgroup_free(&c);
}

SL_TEST(kafka_group_join_refusals) {
    sl_kcoord_t c;
    setup(&c);
    waiter_t w = {0}, a;
    sl_kjoin_t r = join_req("", RANGE_RR, 2, 0);
    r.session_ms = 100;
    SL_CHECK_OK(sl__kgroup_join(&c, &r, 0, &w));
    SL_CHECK_INT(w.err, SL_KERR_INVALID_SESSION_TIMEOUT);
    r = join_req("", RANGE_RR, 2, 0);
    r.group = S("");
    SL_CHECK_OK(sl__kgroup_join(&c, &r, 0, &w));
    SL_CHECK_INT(w.err, SL_KERR_INVALID_GROUP_ID);
    r = join_req("who", RANGE_RR, 2, 0);
    SL_CHECK_OK(sl__kgroup_join(&c, &r, 0, &w));
    SL_CHECK_INT(w.err, SL_KERR_UNKNOWN_MEMBER_ID);
    SL_CHECK_UINT(c.st.groups, 0);
    join_v4(&c, RANGE_RR, 2, 0, &a);
    /* No protocol in common, or another protocol type. */
    r = join_req("", STICKY_ONLY, 1, 0);
    SL_CHECK_OK(sl__kgroup_join(&c, &r, 0, &w));
    SL_CHECK_INT(w.err, SL_KERR_INCONSISTENT_GROUP_PROTOCOL);
    r = join_req("", RANGE_RR, 2, 0);
    r.protocol_type = S("connect");
    SL_CHECK_OK(sl__kgroup_join(&c, &r, 0, &w));
    SL_CHECK_INT(w.err, SL_KERR_INCONSISTENT_GROUP_PROTOCOL);
    SL_CHECK_UINT(c.st.members, 1);
    SL_CHECK_INT(w.calls, 5);
    sl__kgroup_free(&c);
}

SL_TEST(kafka_group_member_limit_and_pending_expiry) {
    sl_kcoord_t c;
    sl_kgroup_opts_t o = {6000, 60000, 2, 1 << 20};
    sl__kgroup_init(&c, &o, join_cb, sync_cb, NULL);
    waiter_t w1 = {0}, w2 = {0}, w3 = {0};
    sl_kjoin_t r = join_req("", RANGE_RR, 2, 1);
    SL_CHECK_OK(sl__kgroup_join(&c, &r, 0, &w1));
    SL_CHECK_OK(sl__kgroup_join(&c, &r, 0, &w2));
    SL_CHECK_OK(sl__kgroup_join(&c, &r, 0, &w3));
    SL_CHECK_INT(w1.err, SL_KERR_MEMBER_ID_REQUIRED);
    SL_CHECK_INT(w3.err, SL_KERR_GROUP_MAX_SIZE_REACHED);
    SL_CHECK(strcmp(w1.member_id, w2.member_id) != 0);
    /* Ids handed out but never used end with their session. */
    sl__kgroup_tick(&c, 10000);
    SL_CHECK_UINT(c.st.members, 0);
    SL_CHECK_UINT(c.st.groups, 0);
    sl__kgroup_free(&c);
}

SL_TEST(kafka_group_commit_check_follows_kafka) {
    sl_kcoord_t c;
    setup(&c);
    /* A consumer outside any group commits with generation -1. */
    SL_CHECK_INT(sl__kgroup_commit_check(&c, S("g"), -1, S(""), 0), 0);
    SL_CHECK_INT(sl__kgroup_commit_check(&c, S("g"), 3, S("x"), 0),
                 SL_KERR_ILLEGAL_GENERATION);
    SL_CHECK_INT(sl__kgroup_commit_check(&c, S(""), -1, S(""), 0),
                 SL_KERR_INVALID_GROUP_ID);
    waiter_t a, b, sa = {0};
    two_members(&c, &a, &b);
    /* Between JoinGroup and the leader's SyncGroup. */
    SL_CHECK_INT(sl__kgroup_commit_check(&c, S("g"), 2, S(a.member_id), 0),
                 SL_KERR_REBALANCE_IN_PROGRESS);
    SL_CHECK_OK(
        sl__kgroup_sync(&c, S("g"), 2, S(a.member_id), NULL, 0, 0, &sa));
    SL_CHECK_INT(sl__kgroup_commit_check(&c, S("g"), 2, S(b.member_id), 0), 0);
    SL_CHECK_INT(sl__kgroup_commit_check(&c, S("g"), 1, S(b.member_id), 0),
                 SL_KERR_ILLEGAL_GENERATION);
    SL_CHECK_INT(sl__kgroup_commit_check(&c, S("g"), 2, S("zz"), 0),
                 SL_KERR_UNKNOWN_MEMBER_ID);
    /* A simple commit into a group that has members is refused. */
    SL_CHECK_INT(sl__kgroup_commit_check(&c, S("g"), -1, S(""), 0),
                 SL_KERR_UNKNOWN_MEMBER_ID);
    sl__kgroup_free(&c);
}

SL_TEST(kafka_group_v0_join_without_member_id_required) {
    sl_kcoord_t c;
    setup(&c);
    waiter_t w = {0}, sw = {0};
    sl_kjoin_t r = join_req("", RANGE_RR, 2, 0);
    SL_CHECK_OK(sl__kgroup_join(&c, &r, 0, &w));
    SL_CHECK_INT(w.err, 0);
    SL_CHECK_INT(w.generation, 1);
    SL_CHECK_STR(w.leader, w.member_id);
    SL_CHECK_OK(
        sl__kgroup_sync(&c, S("g"), 1, S(w.member_id), NULL, 0, 0, &sw));
    /* A follower rejoining a stable group with the same protocols gets
     * the generation's answer without a rebalance; the leader's JoinGroup
     * always rebalances. */
    waiter_t w2 = {0};
    SL_CHECK_UINT(c.st.rebalances, 1);
    r = join_req(w.member_id, RANGE_RR, 2, 0);
    SL_CHECK_OK(sl__kgroup_join(&c, &r, 0, &w2));
    SL_CHECK_INT(w2.calls, 1);
    SL_CHECK_INT(w2.generation, 2);
    SL_CHECK_UINT(c.st.rebalances, 2);
    sl__kgroup_free(&c);
}

SL_TEST(kafka_group_memory_bound_refuses_joins_and_assignments) {
    sl_kcoord_t c;
    /* RANGE_RR holds 5 + 2 + 10 + 2 = 19 bytes per member. */
    sl_kgroup_opts_t o = {6000, 60000, 100, 19 + 19 + 4};
    sl__kgroup_init(&c, &o, join_cb, sync_cb, NULL);
    waiter_t a, b, w = {0}, sa = {0};
    two_members(&c, &a, &b);
    SL_CHECK_UINT(c.st.bytes, 38);
    /* A third member's metadata would pass the bound. */
    sl_kjoin_t r = join_req("", RANGE_RR, 2, 0);
    SL_CHECK_OK(sl__kgroup_join(&c, &r, 0, &w));
    SL_CHECK_INT(w.err, SL_KERR_GROUP_MAX_SIZE_REACHED);
    SL_CHECK_UINT(c.st.members, 2);
    /* So would assignments of 5 bytes; 4 fit. */
    sl_kassign_in_t big[1] = {{S(b.member_id), (const uint8_t *)"12345", 5}};
    SL_CHECK_OK(sl__kgroup_sync(&c, S("g"), 2, S(a.member_id), big, 1, 0, &sa));
    SL_CHECK_INT(sa.err, SL_KERR_GROUP_MAX_SIZE_REACHED);
    big[0].assign_len = 4;
    SL_CHECK_OK(sl__kgroup_sync(&c, S("g"), 2, S(a.member_id), big, 1, 0, &sa));
    SL_CHECK_INT(sa.err, 0);
    SL_CHECK_UINT(c.st.bytes, 42);
    SL_CHECK_INT(sl__kgroup_leave(&c, S("g"), S(b.member_id), 1), 0);
    SL_CHECK_UINT(c.st.bytes, 19);
    SL_CHECK_INT(sl__kgroup_leave(&c, S("g"), S(a.member_id), 1), 0);
    SL_CHECK_UINT(c.st.bytes, 0);
    sl__kgroup_free(&c);
}

/* ---- Static membership (KIP-345) --------------------------------------- */

/* A JoinGroup of static member iid (v5: no MEMBER_ID_REQUIRED). */
static void join_static(sl_kcoord_t *c, const char *member, const char *iid,
                        const sl_kproto_in_t *p, uint32_t n, int64_t now,
                        waiter_t *w) {
    memset(w, 0, sizeof(*w));
    sl_kjoin_t r = join_req(member, p, n, 0);
    r.instance_id = S(iid);
    SL_CHECK_OK(sl__kgroup_join(c, &r, now, w));
}

/* Static members ia (leader) and ib in a stable generation 2: ia holds
 * assignment "AAA", ib "BBBB". */
static void stable_static(sl_kcoord_t *c, waiter_t *a, waiter_t *b) {
    waiter_t a2, sa = {0}, sb = {0};
    join_static(c, "", "ia", RANGE_RR, 2, 0, a);
    SL_CHECK_INT(a->generation, 1);
    join_static(c, "", "ib", RANGE_RR, 2, 0, b);
    join_static(c, a->member_id, "ia", RANGE_RR, 2, 0, &a2);
    SL_CHECK_INT(a2.generation, 2);
    SL_CHECK_INT(b->generation, 2);
    /* Kafka's static member ids start with the instance id. */
    SL_CHECK(strncmp(b->member_id, "ib-", 3) == 0);
    sl_kassign_in_t as[2] = {
        {S(a->member_id), (const uint8_t *)"AAA", 3},
        {S(b->member_id), (const uint8_t *)"BBBB", 4},
    };
    SL_CHECK_OK(
        sl__kgroup_sync(c, S("g"), 2, S(b->member_id), NULL, 0, 0, &sb));
    SL_CHECK_OK(sl__kgroup_sync(c, S("g"), 2, S(a->member_id), as, 2, 0, &sa));
    SL_CHECK_INT(sb.err, 0);
    SL_CHECK_MEM(sb.assign, (size_t)sb.assign_len, "BBBB", 4);
}

SL_TEST(kafka_group_static_restart_keeps_assignment_without_rebalance) {
    sl_kcoord_t c;
    setup(&c);
    waiter_t a, b, b2, sb = {0};
    stable_static(&c, &a, &b);
    uint64_t rebalances = c.st.rebalances;
    /* ib's process restarts: it joins with its instance id and no member
     * id, and is answered at once in the current generation. */
    join_static(&c, "", "ib", RANGE_RR, 2, 100, &b2);
    SL_CHECK_INT(b2.calls, 1);
    SL_CHECK_INT(b2.err, 0);
    SL_CHECK_INT(b2.generation, 2);
    SL_CHECK(strcmp(b2.member_id, b.member_id) != 0);
    SL_CHECK(strncmp(b2.member_id, "ib-", 3) == 0);
    SL_CHECK_STR(b2.leader, a.member_id);
    SL_CHECK_INT(b2.nmembers_listed, 0);
    SL_CHECK_UINT(c.st.rebalances, rebalances);
    SL_CHECK_UINT(c.st.static_rejoins, 1);
    SL_CHECK_UINT(c.st.members, 2);
    SL_CHECK_INT(sl__kgroup_find(&c, S("g"))->state, SL_KGROUP_STABLE);
    /* Its SyncGroup gets the old member id's assignment. */
    SL_CHECK_OK(
        sl__kgroup_sync(&c, S("g"), 2, S(b2.member_id), NULL, 0, 110, &sb));
    SL_CHECK_INT(sb.err, 0);
    SL_CHECK_MEM(sb.assign, (size_t)sb.assign_len, "BBBB", 4);
    /* The other member notices nothing. */
    SL_CHECK_INT(sl__kgroup_heartbeat(&c, S("g"), 2, S(a.member_id), 120), 0);
    /* The old member id is fenced where the request names the instance
     * id, and unknown where it cannot (Heartbeat v0-2). */
    SL_CHECK_INT(sl__kgroup_fenced(&c, S("g"), S(b.member_id), S("ib")),
                 SL_KERR_FENCED_INSTANCE_ID);
    SL_CHECK_INT(sl__kgroup_fenced(&c, S("g"), S(b2.member_id), S("ib")), 0);
    SL_CHECK_INT(sl__kgroup_fenced(&c, S("g"), S(b.member_id), S("zz")), 0);
    SL_CHECK_INT(sl__kgroup_heartbeat(&c, S("g"), 2, S(b.member_id), 130),
                 SL_KERR_UNKNOWN_MEMBER_ID);
    SL_CHECK_INT(sl__kgroup_heartbeat(&c, S("g"), 2, S(b2.member_id), 130), 0);
    SL_CHECK_UINT(c.st.fenced, 1);
    /* A JoinGroup under the old member id is fenced too. */
    waiter_t old = {0};
    join_static(&c, b.member_id, "ib", RANGE_RR, 2, 140, &old);
    SL_CHECK_INT(old.err, SL_KERR_FENCED_INSTANCE_ID);
    /* A member id with an instance id the group does not know. */
    join_static(&c, b2.member_id, "iz", RANGE_RR, 2, 140, &old);
    SL_CHECK_INT(old.err, SL_KERR_UNKNOWN_MEMBER_ID);
    SL_CHECK_UINT(c.st.rebalances, rebalances);
    sl__kgroup_free(&c);
}

SL_TEST(kafka_group_static_leader_restart_does_not_assign) {
    sl_kcoord_t c;
    setup(&c);
    waiter_t a, b, a2, sa = {0};
    stable_static(&c, &a, &b);
    uint64_t rebalances = c.st.rebalances;
    join_static(&c, "", "ia", RANGE_RR, 2, 100, &a2);
    SL_CHECK_INT(a2.err, 0);
    SL_CHECK_INT(a2.generation, 2);
    /* Told the old leader id: it acts as a follower, runs no assignor. */
    SL_CHECK_STR(a2.leader, a.member_id);
    SL_CHECK_INT(a2.nmembers_listed, 0);
    SL_CHECK_UINT(c.st.rebalances, rebalances);
    sl_kgroup_t *g = sl__kgroup_find(&c, S("g"));
    SL_CHECK_STR(g->leader->id, a2.member_id);
    SL_CHECK_OK(
        sl__kgroup_sync(&c, S("g"), 2, S(a2.member_id), NULL, 0, 110, &sa));
    SL_CHECK_MEM(sa.assign, (size_t)sa.assign_len, "AAA", 3);
    SL_CHECK_INT(g->state, SL_KGROUP_STABLE);
    /* At the next rebalance it leads under its new id. */
    waiter_t d, a3;
    join_v4(&c, RANGE_RR, 2, 200, &d);
    join_static(&c, a2.member_id, "ia", RANGE_RR, 2, 210, &a3);
    join_static(&c, b.member_id, "ib", RANGE_RR, 2, 220, &b);
    SL_CHECK_INT(a3.generation, 3);
    SL_CHECK_STR(a3.leader, a2.member_id);
    SL_CHECK_INT(a3.nmembers_listed, 3);
    sl__kgroup_free(&c);
}

SL_TEST(kafka_group_static_rejoin_with_new_metadata_or_during_sync_rebalances) {
    sl_kcoord_t c;
    setup(&c);
    waiter_t a, b, b2, a2, b3;
    stable_static(&c, &a, &b);
    uint64_t rebalances = c.st.rebalances;
    /* Other metadata: a rebalance, the new id waits in it. */
    join_static(&c, "", "ib", RR_ONLY, 1, 100, &b2);
    SL_CHECK_INT(b2.calls, 0);
    SL_CHECK_UINT(c.st.rebalances, rebalances + 1);
    sl_kgroup_t *g = sl__kgroup_find(&c, S("g"));
    SL_CHECK_INT(g->state, SL_KGROUP_PREPARING);
    join_static(&c, a.member_id, "ia", RANGE_RR, 2, 110, &a2);
    SL_CHECK_INT(a2.generation, 3);
    SL_CHECK_INT(b2.generation, 3);
    SL_CHECK_STR(a2.protocol, "roundrobin");
    /* CompletingRebalance: the leader may be assigning to the old id, so
     * a restart then rebalances. */
    SL_CHECK_INT(g->state, SL_KGROUP_COMPLETING);
    join_static(&c, "", "ib", RR_ONLY, 1, 120, &b3);
    SL_CHECK_INT(g->state, SL_KGROUP_PREPARING);
    SL_CHECK_UINT(c.st.rebalances, rebalances + 2);
    SL_CHECK_INT(b3.calls, 0);
    sl__kgroup_free(&c);
}

SL_TEST(kafka_group_static_duplicate_fences_the_older_process) {
    sl_kcoord_t c;
    setup(&c);
    waiter_t a, b, held, dup, sb = {0};
    stable_static(&c, &a, &b);
    /* A rebalance is under way and ib's JoinGroup is held ... */
    waiter_t d;
    join_v4(&c, RANGE_RR, 2, 100, &d);
    join_static(&c, b.member_id, "ib", RANGE_RR, 2, 110, &held);
    SL_CHECK_INT(held.calls, 0);
    /* ... when a second process with the same instance id joins: the
     * first is answered FENCED_INSTANCE_ID at once. */
    join_static(&c, "", "ib", RANGE_RR, 2, 120, &dup);
    SL_CHECK_INT(held.calls, 1);
    SL_CHECK_INT(held.err, SL_KERR_FENCED_INSTANCE_ID);
    SL_CHECK_INT(dup.calls, 0);
    SL_CHECK_UINT(c.st.members, 3);
    waiter_t a2;
    join_static(&c, a.member_id, "ia", RANGE_RR, 2, 130, &a2);
    SL_CHECK_INT(dup.calls, 1);
    SL_CHECK_INT(dup.generation, 3);
    SL_CHECK_INT(a2.nmembers_listed, 3);
    /* The same in CompletingRebalance with a SyncGroup held. */
    SL_CHECK_OK(
        sl__kgroup_sync(&c, S("g"), 3, S(dup.member_id), NULL, 0, 140, &sb));
    SL_CHECK_INT(sb.calls, 0);
    waiter_t dup2;
    join_static(&c, "", "ib", RANGE_RR, 2, 150, &dup2);
    SL_CHECK_INT(sb.calls, 1);
    SL_CHECK_INT(sb.err, SL_KERR_FENCED_INSTANCE_ID);
    sl__kgroup_free(&c);
}

SL_TEST(kafka_group_static_member_kept_through_rebalance_until_session_ends) {
    sl_kcoord_t c;
    setup(&c);
    waiter_t a, b, a2, sa = {0};
    stable_static(&c, &a, &b);
    /* ib's process dies. The leader rejoins (a rebalance); ib does not. */
    join_static(&c, a.member_id, "ia", RANGE_RR, 2, 1000, &a2);
    SL_CHECK_INT(a2.calls, 0);
    /* ib's session (10 s, from its SyncGroup at 0) ends before the
     * rebalance timeout (30 s): removed, and the rebalance completes. */
    SL_CHECK_INT(sl__kgroup_next_deadline(&c), 10000);
    sl__kgroup_tick(&c, 10000);
    SL_CHECK_UINT(c.st.expired, 1);
    SL_CHECK_INT(a2.calls, 1);
    SL_CHECK_INT(a2.nmembers_listed, 1);
    SL_CHECK_INT(sl__kgroup_fenced(&c, S("g"), S(b.member_id), S("ib")), 0);
    SL_CHECK_OK(
        sl__kgroup_sync(&c, S("g"), 3, S(a.member_id), NULL, 0, 10001, &sa));
    sl__kgroup_free(&c);

    /* With a session longer than the rebalance timeout, the generation
     * completes at the timeout with ib still in it: the leader assigns to
     * it, and ib, restarted, gets that assignment without a rebalance. */
    setup(&c);
    waiter_t x, y, x2, y2, sx = {0}, sy = {0};
    sl_kjoin_t r = join_req("", RANGE_RR, 2, 0);
    r.instance_id = S("ix");
    r.session_ms = 60000;
    r.rebalance_ms = 20000;
    memset(&x, 0, sizeof(x));
    SL_CHECK_OK(sl__kgroup_join(&c, &r, 0, &x));
    r.instance_id = S("iy");
    memset(&y, 0, sizeof(y));
    SL_CHECK_OK(sl__kgroup_join(&c, &r, 0, &y));
    r.instance_id = S("ix");
    r.member_id = S(x.member_id);
    memset(&x2, 0, sizeof(x2));
    SL_CHECK_OK(sl__kgroup_join(&c, &r, 0, &x2));
    SL_CHECK_INT(y.generation, 2);
    SL_CHECK_OK(
        sl__kgroup_sync(&c, S("g"), 2, S(y.member_id), NULL, 0, 0, &sy));
    sl_kassign_in_t as[2] = {{S(x.member_id), (const uint8_t *)"X", 1},
                             {S(y.member_id), (const uint8_t *)"Y", 1}};
    SL_CHECK_OK(sl__kgroup_sync(&c, S("g"), 2, S(x.member_id), as, 2, 0, &sx));
    /* iy dies; ix rejoins at 1000; the rebalance times out at 21000. */
    memset(&x2, 0, sizeof(x2));
    SL_CHECK_OK(sl__kgroup_join(&c, &r, 1000, &x2));
    sl__kgroup_tick(&c, 21000);
    SL_CHECK_INT(x2.calls, 1);
    SL_CHECK_INT(x2.generation, 3);
    SL_CHECK_INT(x2.nmembers_listed, 2);
    SL_CHECK_UINT(c.st.members, 2);
    as[0].member_id = S(x.member_id);
    as[1].assign = (const uint8_t *)"Z";
    memset(&sx, 0, sizeof(sx));
    SL_CHECK_OK(
        sl__kgroup_sync(&c, S("g"), 3, S(x.member_id), as, 2, 21001, &sx));
    SL_CHECK_INT(sl__kgroup_find(&c, S("g"))->state, SL_KGROUP_STABLE);
    r.instance_id = S("iy");
    r.member_id = S("");
    memset(&y2, 0, sizeof(y2));
    SL_CHECK_OK(sl__kgroup_join(&c, &r, 22000, &y2));
    SL_CHECK_INT(y2.err, 0);
    SL_CHECK_INT(y2.generation, 3);
    memset(&sy, 0, sizeof(sy));
    SL_CHECK_OK(
        sl__kgroup_sync(&c, S("g"), 3, S(y2.member_id), NULL, 0, 22001, &sy));
    SL_CHECK_MEM(sy.assign, (size_t)sy.assign_len, "Z", 1);
    /* Had it not come back, its session (60 s from its last request at 0)
     * would have ended: now it is renewed. */
    SL_CHECK_INT(sl__kgroup_heartbeat(&c, S("g"), 3, S(y2.member_id), 59000),
                 0);
    sl__kgroup_tick(&c, 60000);
    SL_CHECK_UINT(c.st.members, 2);
    sl__kgroup_free(&c);
}

SL_TEST(kafka_group_static_none_rejoined_waits_another_timeout) {
    sl_kcoord_t c;
    setup(&c);
    /* Static ix and iy, sessions of 60 s, rebalance timeouts of 20 s. */
    waiter_t x, y, x2, sx = {0};
    sl_kjoin_t r = join_req("", RANGE_RR, 2, 0);
    r.session_ms = 60000;
    r.rebalance_ms = 20000;
    r.instance_id = S("ix");
    memset(&x, 0, sizeof(x));
    SL_CHECK_OK(sl__kgroup_join(&c, &r, 0, &x));
    SL_CHECK_OK(
        sl__kgroup_sync(&c, S("g"), 1, S(x.member_id), NULL, 0, 0, &sx));
    r.instance_id = S("iy");
    memset(&y, 0, sizeof(y));
    SL_CHECK_OK(sl__kgroup_join(&c, &r, 0, &y));
    SL_CHECK_INT(y.calls, 0);
    /* Nobody else rejoins, and iy's process leaves: only ix, which did
     * not rejoin, is left when the rebalance times out. */
    sl_kgroup_t *g = sl__kgroup_find(&c, S("g"));
    SL_CHECK(g != NULL && g->members != NULL);
    SL_CHECK_STR(g->members->instance_id, "iy"); /* Newest first. */
    SL_CHECK_INT(sl__kgroup_leave(&c, S("g"), S(g->members->id), 100), 0);
    SL_CHECK_INT(y.err, SL_KERR_UNKNOWN_MEMBER_ID);
    sl__kgroup_tick(&c, 20000);
    SL_CHECK_INT(g->state, SL_KGROUP_PREPARING);
    SL_CHECK_INT(g->generation, 1);
    SL_CHECK_INT(sl__kgroup_next_deadline(&c), 40000);
    /* ix comes back within its session: the generation completes. */
    r.instance_id = S("ix");
    r.member_id = S(x.member_id);
    memset(&x2, 0, sizeof(x2));
    SL_CHECK_OK(sl__kgroup_join(&c, &r, 25000, &x2));
    SL_CHECK_INT(x2.calls, 1);
    SL_CHECK_INT(x2.generation, 2);
    SL_CHECK_STR(x2.leader, x.member_id);
    sl__kgroup_free(&c);
}
