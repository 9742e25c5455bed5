/*
 * The Kafka group coordinator of sluice-broker: consumer groups as
 * Kafka's GroupCoordinator keeps them (generations, member ids, session
 * and rebalance timeouts, leader election, the protocol every member
 * supports), with no I/O of its own. The handlers (broker/kafka/
 * group_api.c) decode requests, call these functions with the loop's
 * clock and write the replies; answers that have to wait (a JoinGroup
 * held until every member rejoined, a follower's SyncGroup waiting for
 * the leader's) come back through the coordinator's callbacks with the
 * opaque waiter the handler passed in. Time is always a parameter
 * (milliseconds, any monotonic origin) so the unit tests drive it.
 *
 * The states follow Kafka's GroupMetadata: Empty (no members),
 * PreparingRebalance (JoinGroup replies held until all known members
 * rejoined or the rebalance timeout passed), CompletingRebalance (the
 * new generation is out, waiting for the leader's SyncGroup) and Stable.
 * Kafka's Dead is not kept: a group left with neither members nor
 * members-to-be is freed; its committed offsets live in the store, not
 * here, so nothing is lost, and member ids are random so a stale member
 * of a freed group can never be mistaken for a new one.
 *
 * Static membership (KIP-345, group.instance.id, JoinGroup v5+): a member
 * that joins with an instance id is static. When that instance id joins
 * again without its member id (the process restarted), it takes over the
 * member in place under a new member id: the old id is fenced
 * (FENCED_INSTANCE_ID), and in a Stable group whose member comes back
 * with unchanged protocols no rebalance happens; it is handed the old
 * member's assignment. Static members that do not rejoin in a rebalance
 * stay in the group (the leader assigns to them) until their session
 * ends. group.c has the rules.
 *
 * Not supported: Kafka's initial rebalance delay (the first rebalance of
 * an empty group completes as soon as its members joined,
 * group.initial.rebalance.delay.ms = 0).
 *
 * Ownership: the coordinator owns its groups and members and every byte
 * they hold (copies of the request's strings and metadata). Waiters are
 * the caller's; the coordinator only hands them back, exactly once each,
 * through a callback, unless sl__kgroup_forget() took one back first.
 */
#ifndef SL_BROKER_KAFKA_GROUP_INT_H
#define SL_BROKER_KAFKA_GROUP_INT_H

#include "broker/kafka/internal.h"
#include "strmap.h"

#include <stddef.h>
#include <stdint.h>

/* Kafka's OFFSET_METADATA_TOO_LARGE; internal.h has the rest of the
 * protocol's error codes. */
#define SL_KERR_OFFSET_METADATA_TOO_LARGE 12
/* Kafka's FENCED_INSTANCE_ID: a request under a static member's old
 * member id after another process took its group.instance.id over. */
#define SL_KERR_FENCED_INSTANCE_ID 82

typedef enum {
    SL_KGROUP_EMPTY = 0,
    SL_KGROUP_PREPARING = 1,  /* PreparingRebalance. */
    SL_KGROUP_COMPLETING = 2, /* CompletingRebalance. */
    SL_KGROUP_STABLE = 3,
} sl_kgroup_state_t;

/* A string of a request: not NUL-terminated, len -1 for null. */
typedef struct {
    const char *p;
    int32_t len;
} sl_kstr_t;

/* One protocol a member supports (an assignor: "range", "roundrobin")
 * with its metadata, which the coordinator never looks into. */
typedef struct {
    sl_kstr_t name;
    const uint8_t *meta;
    int32_t meta_len;
} sl_kproto_in_t;

typedef struct {
    char *name; /* Owned, NUL-terminated. */
    uint8_t *meta;
    int32_t meta_len;
} sl_kproto_t;

typedef struct sl_kmember_s {
    struct sl_kmember_s *next;
    char *id; /* Owned, NUL-terminated. */
    size_t id_len;
    char *instance_id; /* Owned; NULL when the client sent none. */
    int32_t session_ms, rebalance_ms;
    sl_kproto_t *protos; /* Owned array, in the member's preference. */
    uint32_t nprotos;
    uint8_t *assign; /* Owned: the leader's assignment for it. */
    int32_t assign_len;
    size_t proto_bytes; /* Bytes of protos' names and metadata. */
    int64_t expires;    /* Session deadline (last heartbeat + session). */
    int pending;        /* Id handed out with MEMBER_ID_REQUIRED, not
                           joined yet (Kafka's pendingMembers). */
    int awaiting_join;  /* Rejoined in this rebalance. */
    int awaiting_sync;  /* Sent SyncGroup, waits for the leader's. */
    void *join_wait;    /* The caller's waiter for either; NULL when the */
    void *sync_wait;    /* reply was given or the waiter was forgotten. */
} sl_kmember_t;

typedef struct sl_kgroup_s {
    char *name; /* Owned, NUL-terminated. */
    size_t name_len;
    sl_kgroup_state_t state;
    int32_t generation;
    char *protocol_type; /* Owned; NULL while empty. */
    char *protocol;      /* Owned; the generation's protocol or NULL. */
    sl_kmember_t *members;
    sl_kmember_t *leader;
    uint32_t nmembers, npending;
    int64_t join_deadline; /* PreparingRebalance: when it completes. */
} sl_kgroup_t;

typedef struct {
    int32_t min_session_ms; /* Kafka's group.min.session.timeout.ms. */
    int32_t max_session_ms; /* Kafka's group.max.session.timeout.ms. */
    uint32_t max_members;   /* All groups together, pending included: a
                               join beyond is GROUP_MAX_SIZE_REACHED. */
    size_t max_bytes;       /* Protocol metadata and assignments of all
                               members together: a JoinGroup or leader's
                               SyncGroup beyond is GROUP_MAX_SIZE_REACHED. */
} sl_kgroup_opts_t;

/* Kafka's broker defaults, and bounds on memory (real groups hold a few
 * hundred bytes per member). */
#define SL_KGROUP_OPTS_DEFAULT                                                 \
    { 6000, 1800000, 10000, 64u << 20 }

/* A JoinGroup's answer: called with err and, when err is NONE, the group
 * and member (the new generation) and the reply's leader id. The reply
 * lists g's members and their metadata for g->protocol when leader_id is
 * member_id; a static member that took over the leader's place in a
 * Stable group is told the old leader id instead, so it does not run an
 * assignment nobody would take (as Kafka does). With an error, g, m and
 * leader_id may be NULL; member_id is what the reply's member id must be
 * ("" when none; with MEMBER_ID_REQUIRED, the id the client must rejoin
 * with). */
typedef void (*sl_kgroup_join_cb)(void *arg, void *wait, int16_t err,
                                  const sl_kgroup_t *g, const sl_kmember_t *m,
                                  const char *member_id, const char *leader_id);
/* A SyncGroup's answer: the member's assignment (len 0 when none). */
typedef void (*sl_kgroup_sync_cb)(void *arg, void *wait, int16_t err,
                                  const uint8_t *assign, int32_t len);

typedef struct {
    uint64_t groups;  /* Groups now. */
    uint64_t members; /* Members now, pending ones included. */
    uint64_t bytes;   /* Metadata and assignments held now. */
    uint64_t rebalances, joins, syncs, heartbeats, leaves, expired;
    uint64_t static_rejoins; /* Static members taken over in place. */
    uint64_t fenced;         /* Requests answered FENCED_INSTANCE_ID. */
} sl_kgroup_stats_t;

typedef struct {
    sl_kgroup_opts_t opts;
    sl_strmap_t groups; /* Name -> sl_kgroup_t (owned). */
    sl_kgroup_join_cb join_cb;
    sl_kgroup_sync_cb sync_cb;
    void *cb_arg;
    sl_kgroup_stats_t st;
} sl_kcoord_t;

typedef struct {
    sl_kstr_t group, member_id, instance_id, client_id, protocol_type;
    int32_t session_ms, rebalance_ms;
    const sl_kproto_in_t *protos;
    uint32_t nprotos;
    int require_known_id; /* JoinGroup v4+ without an instance id. */
} sl_kjoin_t;

typedef struct {
    sl_kstr_t member_id;
    const uint8_t *assign;
    int32_t assign_len;
} sl_kassign_in_t;

/* Sets up an empty coordinator; the callbacks get cb_arg first. */
void sl__kgroup_init(sl_kcoord_t *c, const sl_kgroup_opts_t *opts,
                     sl_kgroup_join_cb join_cb, sl_kgroup_sync_cb sync_cb,
                     void *cb_arg);
/* Frees every group without calling any callback: the caller forgets
 * its waiters itself. */
void sl__kgroup_free(sl_kcoord_t *c);

/* JoinGroup. join_cb gets wait exactly once, now or when the rebalance
 * completes, unless forgotten. Returns 0, or SL_ENOMEM (then join_cb is
 * never called, libuv's rule). */
int sl__kgroup_join(sl_kcoord_t *c, const sl_kjoin_t *req, int64_t now,
                    void *wait);

/* SyncGroup. sync_cb gets wait exactly once, now or when the leader's
 * SyncGroup arrives, unless forgotten. Returns 0 or SL_ENOMEM. */
int sl__kgroup_sync(sl_kcoord_t *c, sl_kstr_t group, int32_t generation,
                    sl_kstr_t member_id, const sl_kassign_in_t *assigns,
                    uint32_t nassigns, int64_t now, void *wait);

/* Kafka's isStaticMemberFenced: FENCED_INSTANCE_ID when the request
 * names a group.instance.id (instance_id.len >= 0) that belongs to
 * another member id of the group now, else NONE. The SyncGroup (v3+),
 * Heartbeat (v3+) and OffsetCommit (v7+) handlers check it first; the
 * JoinGroup check is inside sl__kgroup_join(). */
int16_t sl__kgroup_fenced(sl_kcoord_t *c, sl_kstr_t group, sl_kstr_t member_id,
                          sl_kstr_t instance_id);

/* Heartbeat and LeaveGroup: the reply's error code. */
int16_t sl__kgroup_heartbeat(sl_kcoord_t *c, sl_kstr_t group,
                             int32_t generation, sl_kstr_t member_id,
                             int64_t now);
int16_t sl__kgroup_leave(sl_kcoord_t *c, sl_kstr_t group, sl_kstr_t member_id,
                         int64_t now);
/* LeaveGroup v3's batch leave of a static member by group.instance.id
 * (instance_id.len > 0), as Kafka's GroupCoordinator decides it:
 * UNKNOWN_MEMBER_ID when the group has no such instance id, or when
 * member_id is given (not empty) and is no member of the group;
 * FENCED_INSTANCE_ID when member_id is given and another member holds
 * the instance id; else the member holding it leaves (NONE). */
int16_t sl__kgroup_leave_instance(sl_kcoord_t *c, sl_kstr_t group,
                                  sl_kstr_t member_id, sl_kstr_t instance_id,
                                  int64_t now);

/* Whether an OffsetCommit of (generation, member_id) may commit for the
 * group: NONE, or the error every partition of the request gets. A
 * generation below 0 from outside any group is a "simple" commit of a
 * consumer that assigns itself partitions, which Kafka accepts. */
int16_t sl__kgroup_commit_check(sl_kcoord_t *c, sl_kstr_t group,
                                int32_t generation, sl_kstr_t member_id,
                                int64_t now);

/* Takes a waiter back (its connection died): it is never called. The
 * member stays until its session expires, as in Kafka. */
void sl__kgroup_forget(sl_kcoord_t *c, void *wait);

/* Expires sessions and completes rebalances whose timeout passed. */
void sl__kgroup_tick(sl_kcoord_t *c, int64_t now);
/* The earliest time sl__kgroup_tick() has work, INT64_MAX when none. */
int64_t sl__kgroup_next_deadline(const sl_kcoord_t *c);

/* The group named so, NULL when none. */
sl_kgroup_t *sl__kgroup_find(const sl_kcoord_t *c, sl_kstr_t group);
const char *sl__kgroup_state_name(sl_kgroup_state_t state);

#endif
