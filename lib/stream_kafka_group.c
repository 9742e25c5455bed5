/*
 * The Kafka transport's consumer-group membership (SL_STREAM_CAP_GROUPS):
 * sl_stream_partitions() with a group answers the partitions the group's
 * coordinator gave this member, so that several sluice-apply processes of
 * one --group share a topic set (docs/kafka.md, "Several apply processes
 * on one group").
 *
 * The member is a third librdkafka handle of the session (gcons), with
 * group.id = the group, subscribed to every Kafka topic of the sluice
 * topic: the pattern "^enc(T)\..*" (split-form names) and, where T is a
 * valid Kafka name, T itself (direct form); docs/kafka.md, "Names".
 * Topics that match the pattern but map to no partition of T are left
 * assigned and never reported.
 *
 * The member never reads data: apply's workers fetch with their own
 * sessions from the offset their target holds. Its partitions are
 * assigned and paused at once, so the handle fetches nothing (at most one
 * fetch, bounded by queued.max.messages.kbytes, before the pause lands).
 *
 * A pattern subscription learns of new topics from full metadata, which
 * librdkafka asks for every topic.metadata.refresh.interval.ms (5 s
 * here). While the member holds no partition at all (apply started
 * before capture made its first topic, the usual start of a new
 * pipeline) each listing asks for full metadata itself (at most every
 * GROUP_EMPTY_REFRESH_MS) and, when a topic of the subscription
 * appeared since its last look, waits (at most GROUP_JOIN_WAIT_MS) for
 * the rebalance it starts, so the listing right after capture made the
 * first topic reports its partitions, instead of one up to 5 s and a
 * listing period later. A member that holds partitions leaves new
 * topics to the refresh interval, so a large cluster is not asked for
 * full metadata more often.
 *
 * Rebalances run inside rd_kafka_consumer_poll(), which only
 * sl_stream_partitions() calls, on the caller's thread. Revoked
 * partitions go to the caller's callback with latest SL_STREAM_REVOKED
 * before they are given up; the callback returns once nothing of this
 * process reads them any more (apply rolls back the partition's open
 * target transaction), so the coordinator hands them to another member
 * only after that. The protocol is cooperative-sticky unless the user
 * sets partition.assignment.strategy: a member joining or leaving moves
 * only the partitions that change owner, instead of every member stopping
 * every partition's open transaction at each rebalance (eager).
 */
#include "stream_kafka_int.h"

#include "clock.h"
#include "error.h"
#include "log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How often a member holding nothing asks for full metadata, and how
 * long a listing then waits for the rebalance a new topic starts. */
#define GROUP_EMPTY_REFRESH_MS 300
#define GROUP_JOIN_WAIT_MS 2000

/* The members of this process, by group, so that a commit for a group
 * (made on any session, e.g. an apply worker's) goes through its member:
 * a coordinator refuses commits without a current member id and
 * generation while the group has members (docs/kafka.md, "Consumer
 * groups"). A handle is registered while its member exists; librdkafka
 * handles may be used from any thread. */
#define MAX_MEMBERS 16
static pthread_mutex_t members_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
    const sl__stream_kafka_t *k;
    rd_kafka_t *rk;
} members[MAX_MEMBERS];

static void members_set(const sl__stream_kafka_t *k, rd_kafka_t *rk) {
    pthread_mutex_lock(&members_mu);
    for (int i = 0; i < MAX_MEMBERS; i++) {
        if (rk != NULL && members[i].k == NULL) {
            members[i].k = k;
            members[i].rk = rk;
            break;
        }
        if (rk == NULL && members[i].k == k)
            members[i].k = NULL;
    }
    pthread_mutex_unlock(&members_mu);
}

int sl__stream_kafka_group_commit(const char *group,
                                  rd_kafka_topic_partition_list_t *l,
                                  rd_kafka_resp_err_t *e) {
    int found = 0;
    pthread_mutex_lock(&members_mu);
    for (int i = 0; i < MAX_MEMBERS && !found; i++) {
        if (members[i].k != NULL && strcmp(members[i].k->gname, group) == 0) {
            *e = rd_kafka_commit(members[i].rk, l, 0);
            found = 1;
        }
    }
    pthread_mutex_unlock(&members_mu);
    return found;
}

/* Calls the caller's callback for each partition of l that maps to the
 * sluice topic, with latest (or the end of the partition when latest is
 * 0). The first non-zero result is kept in k->gerr. */
static void report(sl__stream_kafka_t *k, rd_kafka_t *rk,
                   const rd_kafka_topic_partition_list_t *l, uint64_t latest) {
    for (int i = 0; i < l->cnt && k->gcb != NULL; i++) {
        const rd_kafka_topic_partition_t *tp = &l->elems[i];
        char st[256], sp[256];
        int n = 0;
        if (sl__stream_kafka_topic_parts(k, rk, tp->topic, &n) != 0)
            n = 0;
        if (sl_kafka_sluice_name(tp->topic, strlen(tp->topic), tp->partition,
                                 n == 1, st, sizeof st, sp, sizeof sp) != 0 ||
            strcmp(st, k->gtopic) != 0)
            continue;
        uint64_t at = latest;
        if (at == 0) {
            int64_t lo, hi;
            if (rd_kafka_query_watermark_offsets(rk, tp->topic, tp->partition,
                                                 &lo, &hi,
                                                 k->io_timeout_ms) != 0 ||
                hi < 0)
                continue; /* Reported again at the next listing. */
            at = (uint64_t)hi;
        }
        int rc = k->gcb(k->gctx, sp, strlen(sp), at);
        if (rc != 0 && k->gerr == 0)
            k->gerr = rc;
    }
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t e,
                         rd_kafka_topic_partition_list_t *parts, void *opaque) {
    sl__stream_kafka_t *k = opaque;
    int coop = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    if (e == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        rd_kafka_error_t *ie = NULL;
        if (coop)
            ie = rd_kafka_incremental_assign(rk, parts);
        else
            rd_kafka_assign(rk, parts);
        if (ie != NULL) {
            sl_log_warn("kafka group assignment failed", "group=%s error=%s",
                        k->gname, rd_kafka_error_string(ie));
            rd_kafka_error_destroy(ie);
        }
        rd_kafka_pause_partitions(rk, parts);
        for (int i = 0; i < parts->cnt; i++)
            sl_log_info("kafka group gave partition",
                        "group=%s topic=%s "
                        "partition=%d",
                        k->gname, parts->elems[i].topic,
                        (int)parts->elems[i].partition);
        return; /* Reported by the listing after the poll. */
    }
    /* Revoked or lost: nothing may read them once this returns. */
    for (int i = 0; i < parts->cnt; i++)
        sl_log_info("kafka group takes partition back",
                    "group=%s topic=%s partition=%d lost=%d", k->gname,
                    parts->elems[i].topic, (int)parts->elems[i].partition,
                    rd_kafka_assignment_lost(rk));
    report(k, rk, parts, SL_STREAM_REVOKED);
    if (coop) {
        rd_kafka_error_t *ie = rd_kafka_incremental_unassign(rk, parts);
        if (ie != NULL)
            rd_kafka_error_destroy(ie);
    } else {
        rd_kafka_assign(rk, NULL);
    }
}

/* Whether the user set key (then sluice's default for it is not set). */
static int user_set(const sl__stream_kafka_t *k, const char *key) {
    size_t n = strlen(key);
    for (size_t i = 0; i < k->nprops; i++)
        if (strncmp(k->props[i], key, n) == 0 && k->props[i][n] == '=')
            return 1;
    return 0;
}

/* Starts the member of group for topic and subscribes it. */
static int member(sl__stream_kafka_t *k, const char *topic, const char *group) {
    if (k->gcons != NULL) {
        if (strcmp(k->gname, group) == 0 && strcmp(k->gtopic, topic) == 0)
            return 0;
        snprintf(
            k->err, sizeof k->err,
            "this session is already a member of group %.200s for topic %.200s",
            k->gname, k->gtopic);
        return SL_EINVAL;
    }
    if (strlen(group) >= sizeof k->gname || strlen(topic) >= sizeof k->gtopic) {
        snprintf(k->err, sizeof k->err, "group or topic name too long");
        return SL_EINVAL;
    }
    /* The subscription: the split-form prefix of the topic (found by
     * mapping a partition "a.b" and cutting ".a.b" off), and the topic
     * itself when it is a Kafka name (direct form). */
    char kt[256], pat[300];
    int32_t kp;
    int err = sl__stream_kafka_map(k, topic, "a.b", kt, sizeof kt, &kp);
    if (err != 0)
        return err;
    kt[strlen(kt) - 4] = '\0';
    snprintf(pat, sizeof pat, "^%s\\..*", kt);
    rd_kafka_conf_t *conf = NULL;
    err = sl__stream_kafka_conf(k, 0, group, &conf);
    if (err != 0)
        return err;
    /* Defaults the user's settings may change: cooperative rebalancing
     * (above); a member killed without leaving is noticed in 10 s
     * (librdkafka's 45 s default holds its partitions that long); a new
     * table's topic joins the subscription within 5 s (not 5 minutes). */
    static const char *const def[][2] = {
        {"partition.assignment.strategy", "cooperative-sticky"},
        {"session.timeout.ms", "10000"},
        {"topic.metadata.refresh.interval.ms", "5000"},
    };
    char errstr[256];
    for (size_t i = 0; i < sizeof def / sizeof def[0]; i++) {
        if (user_set(k, def[i][0]) ||
            rd_kafka_conf_set(conf, def[i][0], def[i][1], errstr,
                              sizeof errstr) == RD_KAFKA_CONF_OK)
            continue;
        rd_kafka_conf_destroy(conf);
        snprintf(k->err, sizeof k->err, "kafka group settings: %s", errstr);
        return SL_ECONFIG;
    }
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    rd_kafka_t *rk =
        rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (rk == NULL) {
        rd_kafka_conf_destroy(conf);
        snprintf(k->err, sizeof k->err, "kafka group member: %s", errstr);
        return SL_ECONFIG;
    }
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(2);
    rd_kafka_topic_partition_list_add(l, pat, RD_KAFKA_PARTITION_UA);
    char direct[256];
    int32_t dp;
    int l_direct = sl_kafka_name_of(topic, strlen(topic), "#0", 2, direct,
                                    sizeof direct, &dp) == 0 &&
                   strcmp(direct, kt) != 0;
    if (l_direct)
        rd_kafka_topic_partition_list_add(l, direct, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e != 0) {
        rd_kafka_destroy(rk);
        return sl__stream_kafka_err(k, e, "kafka group subscribe");
    }
    k->gcons = rk;
    snprintf(k->gname, sizeof k->gname, "%s", group);
    snprintf(k->gtopic, sizeof k->gtopic, "%s", topic);
    snprintf(k->gprefix, sizeof k->gprefix, "%s.", kt);
    snprintf(k->gdirect, sizeof k->gdirect, "%s", l_direct ? direct : "");
    members_set(k, rk);
    sl_log_info("kafka group joined", "group=%s topic=%s pattern=%s", group,
                topic, pat);
    return 0;
}

/* Serves the rebalances (revocations call the caller's callback inside)
 * and drops what a paused partition delivered before its pause; waits up
 * to wait_ms for the first message or event. */
static void serve(sl__stream_kafka_t *k, int wait_ms) {
    for (int i = 0; i < 100; i++) {
        rd_kafka_message_t *m =
            rd_kafka_consumer_poll(k->gcons, i == 0 ? wait_ms : 0);
        if (m == NULL)
            break;
        if (m->err != 0 && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            sl_log_warn("kafka group member", "group=%s error=\"%s\"", k->gname,
                        rd_kafka_message_errstr(m));
        rd_kafka_message_destroy(m);
    }
}

/* Whether the cluster holds more topics the subscription matches than
 * at the last look, after a full metadata request on the member (which
 * also updates the subscription's topics: the group rejoins when a new
 * one matches). A member that holds nothing because the group's other
 * members hold every partition sees no new topic, so it does not wait. */
static int topic_appeared(sl__stream_kafka_t *k) {
    const struct rd_kafka_metadata *md = NULL;
    if (rd_kafka_metadata(k->gcons, 1, NULL, &md, k->connect_timeout_ms) != 0)
        return 0; /* Tried again at the next listing. */
    int n = 0;
    size_t pl = strlen(k->gprefix);
    for (int i = 0; i < md->topic_cnt; i++)
        n += md->topics[i].err == 0 &&
             (strncmp(md->topics[i].topic, k->gprefix, pl) == 0 ||
              strcmp(md->topics[i].topic, k->gdirect) == 0);
    rd_kafka_metadata_destroy(md);
    int appeared = n > k->gseen;
    k->gseen = n;
    return appeared;
}

int sl__stream_kafka_group_partitions(sl__stream_kafka_t *k, const char *topic,
                                      const char *group, sl_stream_part_cb cb,
                                      void *ctx) {
    int err = member(k, topic, group);
    if (err != 0)
        return err;
    k->gcb = cb;
    k->gctx = ctx;
    k->gerr = 0;
    serve(k, 0);
    rd_kafka_topic_partition_list_t *now = NULL;
    rd_kafka_resp_err_t e = rd_kafka_assignment(k->gcons, &now);
    if (e != 0)
        return sl__stream_kafka_err(k, e, "kafka group assignment");
    uint64_t ms = sl_mono_ns() / 1000000;
    if (now->cnt == 0 && ms - k->grefresh_ms >= GROUP_EMPTY_REFRESH_MS) {
        /* Holding nothing: look for the first topic now, and when one
         * is there wait (bounded) for the rebalance it starts, so this
         * listing reports its partitions instead of the next one. */
        k->grefresh_ms = ms;
        if (topic_appeared(k)) {
            uint64_t until = ms + GROUP_JOIN_WAIT_MS;
            while (now->cnt == 0 && sl_mono_ns() / 1000000 < until) {
                serve(k, 50);
                rd_kafka_topic_partition_list_destroy(now);
                now = NULL;
                if ((e = rd_kafka_assignment(k->gcons, &now)) != 0)
                    return sl__stream_kafka_err(k, e, "kafka group assignment");
            }
        }
    }
    report(k, k->gcons, now, 0);
    rd_kafka_topic_partition_list_destroy(now);
    return k->gerr;
}

void sl__stream_kafka_group_drop(sl__stream_kafka_t *k) {
    if (k->gcons == NULL)
        return;
    /* The caller's callback may no longer be valid: leaving the group
     * gives up what is left without calling it (sl_stream_close() is
     * called once nothing reads). */
    k->gcb = NULL;
    members_set(k, NULL);
    rd_kafka_consumer_close(k->gcons);
    rd_kafka_destroy(k->gcons);
    k->gcons = NULL;
}
