/*
 * The stream interface (stream.h) on any Kafka-protocol cluster through
 * librdkafka: the session, its settings, and everything that reads
 * (fetches, offsets, group offsets, listings). Producing and topic
 * creation are in stream_kafka_produce.c; the layout of the records is in
 * stream_kafka_int.h, the design in docs/transport.md and docs/kafka.md.
 *
 * Address: "kafka://HOST:PORT[,HOST:PORT...]" (bootstrap.servers).
 *
 * Settings: the caller's list of "KEY=VALUE" (capture's and apply's
 * --kafka-opt and `kafka.KEY = VALUE` config lines) goes to librdkafka as
 * it is, except keys starting with "sluice." (sluice's own:
 * sluice.replication.factor, sluice.min.insync.replicas,
 * sluice.partitions) and values "@file:PATH" / "@env:NAME", which are read
 * as secrets (lib/secret.h) and never logged. The settings that carry the
 * guarantees are set after the user's; a user value that weakens one is
 * refused (SL_ECONFIG naming it), never overridden in silence.
 */
#include "stream_kafka_int.h"

#include "clock.h"
#include "error.h"
#include "log.h"
#include "secret.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The settings sluice sets itself, with the only values it accepts from a
 * user (NULL: the key is refused whatever its value). */
static const struct {
    const char *key;
    const char *ok1, *ok2;
    int producer; /* 1: producer, 0: consumer. */
} guarded[] = {
    {"enable.idempotence", "true", NULL, 1},
    {"enable.gapless.guarantee", "true", NULL, 1},
    {"acks", "all", "-1", 1},
    {"request.required.acks", "all", "-1", 1},
    {"message.timeout.ms", "0", NULL, 1},
    {"delivery.timeout.ms", "0", NULL, 1},
    {"max.in.flight.requests.per.connection", NULL, NULL, 1},
    {"max.in.flight", NULL, NULL, 1},
    {"enable.auto.commit", "false", NULL, 0},
    {"enable.auto.offset.store", "false", NULL, 0},
    {"isolation.level", "read_uncommitted", NULL, 0},
    {"auto.offset.reset", "error", NULL, 0},
    {"allow.auto.create.topics", "false", NULL, 0},
};

static int is_sensitive(const char *key) {
    return strstr(key, "password") != NULL || strstr(key, "secret") != NULL ||
           strstr(key, ".key") != NULL;
}

int sl__stream_kafka_err(sl__stream_kafka_t *k, rd_kafka_resp_err_t e,
                         const char *what) {
    snprintf(k->err, sizeof k->err, "%s: %s", what, rd_kafka_err2str(e));
    switch (e) {
    case RD_KAFKA_RESP_ERR_NO_ERROR: return 0;
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED: return SL_EAUTH;
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART: return SL_ENOTFOUND;
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT: return SL_ETIMEDOUT;
    case RD_KAFKA_RESP_ERR__FATAL:
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__PURGE_QUEUE:
    case RD_KAFKA_RESP_ERR__PURGE_INFLIGHT:
    case RD_KAFKA_RESP_ERR__DESTROY: return SL_ECLOSED;
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS: return SL_EAGAIN;
    case RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE: return SL_ERANGE;
    default: return SL_EIO;
    }
}

int sl__stream_kafka_map(sl__stream_kafka_t *k, const char *topic,
                         const char *part, char *kt, size_t cap, int32_t *kp) {
    int err =
        sl_kafka_name_of(topic, strlen(topic), part, strlen(part), kt, cap, kp);
    if (err != 0)
        snprintf(k->err, sizeof k->err,
                 "partition (%s, %s) has no Kafka name (docs/kafka.md, "
                 "\"Names\")",
                 topic, part);
    return err;
}

/* librdkafka's own log lines, into sluice's log. */
static void log_cb(const rd_kafka_t *rk, int level, const char *fac,
                   const char *buf) {
    (void)rk;
    /* CONFWARN says enable.gapless.guarantee is "experimental": sluice
     * sets it on purpose (docs/kafka.md), so that is no warning. */
    if (level <= 4 && strcmp(fac, "CONFWARN") != 0)
        sl_log_warn("librdkafka", "facility=%s msg=\"%s\"", fac, buf);
    else if (level <= 6)
        sl_log_info("librdkafka", "facility=%s msg=\"%s\"", fac, buf);
}

/* Errors outside a request: an authentication failure is kept, so that
 * the request it made fail reports it (SL_EAUTH) instead of a timeout. */
static void error_cb(rd_kafka_t *rk, int e, const char *reason, void *opaque) {
    (void)rk;
    sl__stream_kafka_t *k = opaque;
    if (e == RD_KAFKA_RESP_ERR__AUTHENTICATION ||
        e == RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED ||
        e == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
        e == RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED) {
        k->auth_err = e;
        snprintf(k->auth_text, sizeof k->auth_text, "%s", reason);
    }
}

/* After a failed request: the authentication error that caused it, if
 * librdkafka reported one. */
static int auth_failure(sl__stream_kafka_t *k, rd_kafka_t *rk) {
    if (rk == k->cons) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 0);
        if (m != NULL)
            rd_kafka_message_destroy(m); /* Re-fetched after a reassign. */
    } else {
        rd_kafka_poll(rk, 0);
    }
    if (k->auth_err == 0)
        return 0;
    snprintf(k->err, sizeof k->err,
             "kafka brokers %.100s refused this client (%s): %.200s; check "
             "the SASL/TLS settings (--kafka-opt) and the secret",
             k->brokers, rd_kafka_err2name(k->auth_err), k->auth_text);
    return SL_EAUTH;
}

/* One setting; the value is never part of an error message when the key
 * names a secret. */
static int conf_set(sl__stream_kafka_t *k, rd_kafka_conf_t *conf,
                    const char *key, const char *value) {
    char errstr[256];
    if (rd_kafka_conf_set(conf, key, value, errstr, sizeof errstr) ==
        RD_KAFKA_CONF_OK)
        return 0;
    if (is_sensitive(key))
        snprintf(k->err, sizeof k->err, "kafka setting %s refused", key);
    else
        snprintf(k->err, sizeof k->err, "kafka setting %.200s: %.200s", key,
                 errstr);
    return SL_ECONFIG;
}

/* A user's value: "@file:PATH" and "@env:NAME" are read as secrets. The
 * result is owned by the caller (sl_secret_free()). */
static int user_value(sl__stream_kafka_t *k, const char *key, const char *v,
                      char **out) {
    char errbuf[256];
    int err = 0;
    *out = NULL;
    if (strncmp(v, "@file:", 6) == 0)
        err = sl_secret_load(v + 6, NULL, out, errbuf, sizeof errbuf);
    else if (strncmp(v, "@env:", 5) == 0)
        err = sl_secret_load(NULL, v + 5, out, errbuf, sizeof errbuf);
    else if ((*out = strdup(v)) == NULL)
        return SL_ENOMEM;
    if (err != 0) {
        snprintf(k->err, sizeof k->err, "kafka setting %.200s: %.200s", key,
                 errbuf);
        return err;
    }
    if (*out == NULL) {
        snprintf(k->err, sizeof k->err,
                 "kafka setting %s: the secret %s is not set", key, v + 5);
        return SL_ECONFIG;
    }
    return 0;
}

int sl__stream_kafka_conf(sl__stream_kafka_t *k, int producer,
                          const char *group, rd_kafka_conf_t **out) {
    *out = NULL;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (conf == NULL)
        return SL_ENOMEM;
    rd_kafka_conf_set_log_cb(conf, log_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    rd_kafka_conf_set_opaque(conf, k);
    char tmo[32];
    snprintf(tmo, sizeof tmo, "%d", k->io_timeout_ms);
    int err = conf_set(k, conf, "bootstrap.servers", k->brokers);
    if (err == 0)
        err = conf_set(k, conf, "socket.timeout.ms", tmo);
    if (err == 0 && k->secret != NULL)
        err = conf_set(k, conf, "sasl.password", k->secret);
    /* Tuning defaults, which the user's settings may change: a 5 ms
     * linger (Kafka 4.0's producer default; librdkafka's own is 5 ms too,
     * sluice had 2: with 2 ms capture spent 1.7 CPU-s on 200,000 rows
     * against 1.2 with 5, most of the difference in librdkafka's broker
     * thread waking per short batch, and commit-to-publish p50 stayed at
     * 0-1 ms; docs/performance.md, "Two transports"), librdkafka's
     * queue above capture's --max-inflight so that a produce never meets
     * QUEUE_FULL, and a bounded prefetch per consumer (apply holds a few
     * consumers per worker). */
    static const char *const tune[][2] = {
        {"linger.ms", "5"},
        {"queue.buffering.max.kbytes", "2097151"},
        {"queue.buffering.max.messages", "10000000"},
        {"queued.max.messages.kbytes", "8192"},
    };
    for (size_t i = 0; i < sizeof tune / sizeof tune[0] && err == 0; i++)
        if (producer == (i < 3))
            err = conf_set(k, conf, tune[i][0], tune[i][1]);
    for (size_t i = 0; i < k->nprops && err == 0; i++) {
        const char *eq = strchr(k->props[i], '=');
        char key[256];
        size_t kl = (size_t)(eq - k->props[i]);
        if (kl >= sizeof key) {
            snprintf(k->err, sizeof k->err, "kafka setting name too long");
            err = SL_ECONFIG;
            break;
        }
        memcpy(key, k->props[i], kl);
        key[kl] = '\0';
        if (strncmp(key, "sluice.", 7) == 0)
            continue;
        for (size_t g = 0; g < sizeof guarded / sizeof guarded[0]; g++) {
            if (strcmp(key, guarded[g].key) != 0)
                continue;
            const char *v = eq + 1;
            int ok = (guarded[g].ok1 && strcmp(v, guarded[g].ok1) == 0) ||
                     (guarded[g].ok2 && strcmp(v, guarded[g].ok2) == 0);
            if (!ok) {
                snprintf(k->err, sizeof k->err,
                         "kafka setting %s=%s would weaken sluice's "
                         "guarantees (docs/kafka.md, \"Settings\"); remove it",
                         key, v);
                err = SL_ECONFIG;
            }
        }
        char *v = NULL;
        if (err == 0)
            err = user_value(k, key, eq + 1, &v);
        if (err == 0)
            err = conf_set(k, conf, key, v);
        sl_secret_free(v);
    }
    if (err == 0 && producer) {
        /* Never lose or reorder: idempotence (acks=all, retries without
         * end), the gapless guarantee (a message that cannot be stored is
         * a fatal error, never a gap), and no local give-up. */
        static const char *const p[][2] = {
            {"enable.idempotence", "true"},
            {"enable.gapless.guarantee", "true"},
            {"acks", "all"},
            {"message.timeout.ms", "0"},
            {"allow.auto.create.topics", "false"},
        };
        for (size_t i = 0; i < sizeof p / sizeof p[0] && err == 0; i++)
            err = conf_set(k, conf, p[i][0], p[i][1]);
    } else if (err == 0) {
        static const char *const c[][2] = {
            {"enable.auto.commit", "false"},
            {"enable.auto.offset.store", "false"},
            {"isolation.level", "read_uncommitted"},
            {"auto.offset.reset", "error"},
            {"allow.auto.create.topics", "false"},
            {"enable.partition.eof", "false"},
        };
        for (size_t i = 0; i < sizeof c / sizeof c[0] && err == 0; i++)
            err = conf_set(k, conf, c[i][0], c[i][1]);
        /* A group id is needed for the consumer queue even by a reader
         * that never commits; such a reader's id commits nothing. */
        if (err == 0)
            err = conf_set(k, conf, "group.id",
                           group != NULL ? group : "sluice-reader");
    }
    if (err != 0) {
        rd_kafka_conf_destroy(conf);
        return err;
    }
    *out = conf;
    return 0;
}

/* ---- the consumer ---- */

static void drop_msgs(sl__stream_kafka_t *k) {
    for (size_t i = 0; i < k->nmsgs; i++)
        rd_kafka_message_destroy(k->msgs[i]);
    k->nmsgs = 0;
}

static void consumer_drop(sl__stream_kafka_t *k) {
    drop_msgs(k);
    if (k->cons != NULL) {
        rd_kafka_consumer_close(k->cons);
        rd_kafka_destroy(k->cons);
        k->cons = NULL;
    }
    k->ctopic[0] = '\0';
    k->cur_group[0] = '\0';
}

/* The consumer for group (NULL: any; the reader's own id otherwise). */
static int consumer(sl__stream_kafka_t *k, const char *group) {
    if (k->cons != NULL && (group == NULL || strcmp(group, k->cur_group) == 0))
        return 0;
    consumer_drop(k);
    rd_kafka_conf_t *conf;
    int err = sl__stream_kafka_conf(k, 0, group, &conf);
    if (err != 0)
        return err;
    char errstr[256];
    k->cons = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (k->cons == NULL) {
        rd_kafka_conf_destroy(conf);
        snprintf(k->err, sizeof k->err, "kafka consumer: %s", errstr);
        return SL_ECONFIG;
    }
    rd_kafka_poll_set_consumer(k->cons);
    snprintf(k->cur_group, sizeof k->cur_group, "%s",
             group != NULL ? group : "");
    return 0;
}

int sl__stream_kafka_topic_parts(sl__stream_kafka_t *k, rd_kafka_t *rk,
                                 const char *kt, int *nparts) {
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, kt, NULL);
    if (rkt == NULL)
        return SL_ENOMEM;
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e =
        rd_kafka_metadata(rk, 0, rkt, &md, k->connect_timeout_ms);
    rd_kafka_topic_destroy(rkt);
    if (e != 0) {
        int a = auth_failure(k, rk);
        if (a != 0)
            return a;
        char what[300];
        snprintf(what, sizeof what, "kafka metadata from %.200s", k->brokers);
        return sl__stream_kafka_err(k, e, what);
    }
    int err = SL_ENOTFOUND;
    for (int i = 0; i < md->topic_cnt; i++) {
        if (strcmp(md->topics[i].topic, kt) != 0)
            continue;
        if (md->topics[i].err == 0) {
            *nparts = md->topics[i].partition_cnt;
            err = 0;
        } else {
            err = sl__stream_kafka_err(k, md->topics[i].err, kt);
        }
    }
    rd_kafka_metadata_destroy(md);
    if (err == SL_ENOTFOUND)
        snprintf(k->err, sizeof k->err, "kafka topic %s does not exist", kt);
    return err;
}

static int kafka_offsets(sl_stream_t *s, const char *topic, const char *part,
                         uint64_t *earliest, uint64_t *latest) {
    sl__stream_kafka_t *k = (sl__stream_kafka_t *)s;
    char kt[256];
    int32_t kp;
    int n, err = sl__stream_kafka_map(k, topic, part, kt, sizeof kt, &kp);
    if (err == 0)
        err = consumer(k, NULL);
    if (err == 0)
        err = sl__stream_kafka_topic_parts(k, k->cons, kt, &n);
    if (err == 0 && kp >= n) {
        snprintf(k->err, sizeof k->err,
                 "kafka topic %s has %d partitions, no partition %d", kt, n,
                 (int)kp);
        err = SL_ENOTFOUND;
    }
    int64_t lo, hi;
    if (err == 0) {
        rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(
            k->cons, kt, kp, &lo, &hi, k->io_timeout_ms);
        if (e != 0)
            return sl__stream_kafka_err(k, e, kt);
        *earliest = (uint64_t)lo;
        *latest = (uint64_t)hi;
    }
    return err;
}

/* Assigns (kt, kp) at offset unless the assignment delivers it next. */
static int assign_at(sl__stream_kafka_t *k, const char *kt, int32_t kp,
                     uint64_t offset) {
    if (strcmp(k->ctopic, kt) == 0 && k->cpart == kp &&
        k->cnext == (int64_t)offset)
        return 0;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, kt, kp)->offset = (int64_t)offset;
    rd_kafka_resp_err_t e = rd_kafka_assign(k->cons, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e != 0) {
        k->ctopic[0] = '\0';
        return sl__stream_kafka_err(k, e, "kafka assign");
    }
    snprintf(k->ctopic, sizeof k->ctopic, "%s", kt);
    k->cpart = kp;
    k->cnext = (int64_t)offset;
    return 0;
}

static int keep_msg(sl__stream_kafka_t *k, rd_kafka_message_t *m) {
    if (k->nmsgs == k->msgcap) {
        size_t ncap = k->msgcap ? k->msgcap * 2 : 256;
        rd_kafka_message_t **nm = realloc(k->msgs, ncap * sizeof *nm);
        sl_stream_rec_t *nr = realloc(k->recs, ncap * sizeof *nr);
        if (nm != NULL)
            k->msgs = nm;
        if (nr != NULL)
            k->recs = nr;
        if (nm == NULL || nr == NULL)
            return SL_ENOMEM;
        k->msgcap = k->reccap = ncap;
    }
    k->msgs[k->nmsgs++] = m;
    return 0;
}

/* A fetch: records of (kt, kp) from offset, up to about max_bytes. With
 * nothing there yet it waits up to wait_ms; records that exist (below the
 * high watermark) are always waited for, up to the I/O timeout, since a
 * fresh assignment delivers nothing until its first fetch returns. */
static int fetch(sl__stream_kafka_t *k, const char *kt, int32_t kp,
                 uint64_t offset, uint64_t max_bytes, uint64_t wait_ms,
                 sl_stream_fetch_t *out) {
    memset(out, 0, sizeof *out);
    out->next = offset;
    int err = assign_at(k, kt, kp, offset);
    if (err != 0)
        return err;
    uint64_t start = (sl_mono_ns() / 1000000);
    uint64_t bytes = 0;
    int64_t lo = -1, hi = -1;
    int checked = 0;
    while (err == 0) {
        int slice = k->nmsgs > 0 ? 0 : 50;
        rd_kafka_message_t *m = rd_kafka_consumer_poll(k->cons, slice);
        if (m == NULL) {
            if (k->nmsgs > 0)
                break;
            uint64_t waited = (sl_mono_ns() / 1000000) - start;
            if (waited < wait_ms)
                continue;
            if (!checked) {
                /* Is anything there to wait for? */
                rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(
                    k->cons, kt, kp, &lo, &hi, k->io_timeout_ms);
                if (e != 0)
                    return sl__stream_kafka_err(k, e, kt);
                checked = 1;
            }
            if (hi >= 0 && (int64_t)offset >= hi)
                break;
            if (waited >= (uint64_t)k->io_timeout_ms) {
                snprintf(k->err, sizeof k->err,
                         "kafka fetch of %s [%d] at %llu: nothing came in "
                         "%d ms",
                         kt, (int)kp, (unsigned long long)offset,
                         k->io_timeout_ms);
                return SL_ETIMEDOUT;
            }
            continue;
        }
        if (m->err != 0) {
            rd_kafka_resp_err_t e = m->err;
            rd_kafka_message_destroy(m);
            if (e == RD_KAFKA_RESP_ERR__PARTITION_EOF)
                continue;
            k->ctopic[0] = '\0';
            if (e == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE ||
                e == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET) {
                if (rd_kafka_query_watermark_offsets(k->cons, kt, kp, &lo, &hi,
                                                     k->io_timeout_ms) == 0) {
                    out->earliest = (uint64_t)lo;
                    out->latest = (uint64_t)hi;
                    snprintf(k->err, sizeof k->err,
                             "offset %llu of %s [%d] out of range %lld..%lld",
                             (unsigned long long)offset, kt, (int)kp,
                             (long long)lo, (long long)hi);
                    return (int64_t)offset < lo ? SL_EGONE : SL_ERANGE;
                }
            }
            return sl__stream_kafka_err(k, e, kt);
        }
        if (m->partition != kp || m->offset < (int64_t)offset ||
            strcmp(rd_kafka_topic_name(m->rkt), kt) != 0) {
            rd_kafka_message_destroy(m); /* Of an older assignment. */
            continue;
        }
        if ((err = keep_msg(k, m)) != 0) {
            rd_kafka_message_destroy(m);
            break;
        }
        bytes += m->len;
        k->cnext = m->offset + 1;
        if (bytes >= max_bytes)
            break;
    }
    for (size_t i = 0; i < k->nmsgs; i++) {
        rd_kafka_message_t *m = k->msgs[i];
        rd_kafka_timestamp_type_t tt;
        k->recs[i].offset = (uint64_t)m->offset;
        k->recs[i].ts = rd_kafka_message_timestamp(m, &tt);
        k->recs[i].data = m->payload;
        k->recs[i].len = m->len;
    }
    out->recs = k->recs;
    out->count = k->nmsgs;
    if (k->nmsgs > 0)
        out->next = k->recs[k->nmsgs - 1].offset + 1;
    if (rd_kafka_get_watermark_offsets(k->cons, kt, kp, &lo, &hi) == 0 &&
        hi >= 0)
        out->latest = (uint64_t)hi;
    return err;
}

static int kafka_get(sl_stream_t *s, const char *topic, const char *part,
                     uint64_t offset, uint64_t max_bytes, uint64_t wait_ms,
                     sl_stream_fetch_t *out) {
    sl__stream_kafka_t *k = (sl__stream_kafka_t *)s;
    drop_msgs(k);
    k->pend = 0;
    char kt[256];
    int32_t kp;
    int n, err = sl__stream_kafka_map(k, topic, part, kt, sizeof kt, &kp);
    if (err == 0)
        err = consumer(k, NULL);
    /* A partition that does not exist is SL_ENOTFOUND at once, as on
     * sluice-broker, instead of a fetch that waits for it. */
    if (err == 0 && strcmp(kt, k->ctopic) != 0 &&
        (err = sl__stream_kafka_topic_parts(k, k->cons, kt, &n)) == 0 &&
        kp >= n) {
        snprintf(k->err, sizeof k->err, "kafka topic %s has no partition %d",
                 kt, (int)kp);
        err = SL_ENOTFOUND;
    }
    if (err != 0) {
        memset(out, 0, sizeof *out);
        return err;
    }
    return fetch(k, kt, kp, offset, max_bytes, wait_ms, out);
}

/* The first half starts the assignment (librdkafka prefetches from then
 * on); the second collects what came. */
static int kafka_get_send(sl_stream_t *s, const char *topic, const char *part,
                          uint64_t offset, uint64_t max_bytes) {
    sl__stream_kafka_t *k = (sl__stream_kafka_t *)s;
    char kt[256];
    int32_t kp;
    int err = sl__stream_kafka_map(k, topic, part, kt, sizeof kt, &kp);
    if (err == 0)
        err = consumer(k, NULL);
    if (err == 0 && strcmp(kt, k->ctopic) == 0)
        err = assign_at(k, kt, kp, offset);
    if (err != 0)
        return err;
    snprintf(k->ptopic, sizeof k->ptopic, "%s", topic);
    snprintf(k->ppart, sizeof k->ppart, "%s", part);
    k->poff = offset;
    k->pmax = max_bytes;
    k->pend = 1;
    return 0;
}

static int kafka_get_recv(sl_stream_t *s, sl_stream_fetch_t *out) {
    sl__stream_kafka_t *k = (sl__stream_kafka_t *)s;
    if (!k->pend) {
        memset(out, 0, sizeof *out);
        return SL_EINVAL;
    }
    return kafka_get(s, k->ptopic, k->ppart, k->poff, k->pmax, 0, out);
}

static int be64_header(rd_kafka_headers_t *h, const char *name, uint64_t *v) {
    const void *val;
    size_t len;
    if (rd_kafka_header_get_last(h, name, &val, &len) != 0 || len != 8)
        return SL_ENOTFOUND;
    const uint8_t *b = val;
    uint64_t x = 0;
    for (int i = 0; i < 8; i++)
        x = x << 8 | b[i];
    *v = x;
    return 0;
}

static int kafka_rec_seq(sl_stream_t *s, const sl_stream_fetch_t *f, size_t i,
                         int64_t *producer, uint64_t *seq) {
    sl__stream_kafka_t *k = (sl__stream_kafka_t *)s;
    if (f->recs != k->recs || i >= k->nmsgs)
        return SL_EINVAL;
    rd_kafka_headers_t *h = NULL;
    uint64_t p;
    if (rd_kafka_message_headers(k->msgs[i], &h) != 0 ||
        be64_header(h, SL__KAFKA_HDR_PRODUCER, &p) != 0 ||
        be64_header(h, SL__KAFKA_HDR_SEQ, seq) != 0)
        return SL_ENOTFOUND;
    *producer = (int64_t)p;
    return 0;
}

static int tp_list(const char *kt, int32_t kp, int64_t offset,
                   rd_kafka_topic_partition_list_t **out) {
    *out = rd_kafka_topic_partition_list_new(1);
    if (*out == NULL)
        return SL_ENOMEM;
    rd_kafka_topic_partition_list_add(*out, kt, kp)->offset = offset;
    return 0;
}

static int kafka_commit(sl_stream_t *s, const char *group, const char *topic,
                        const char *part, uint64_t offset) {
    sl__stream_kafka_t *k = (sl__stream_kafka_t *)s;
    char kt[256];
    int32_t kp;
    rd_kafka_topic_partition_list_t *l = NULL;
    int err = sl__stream_kafka_map(k, topic, part, kt, sizeof kt, &kp);
    if (err == 0)
        err = tp_list(kt, kp, (int64_t)offset, &l);
    /* Through this process's member of the group when it has one
     * (lib/stream_kafka_group.c), else as a consumer outside the group. */
    rd_kafka_resp_err_t e = 0;
    if (err == 0 && !sl__stream_kafka_group_commit(group, l, &e) &&
        (err = consumer(k, group)) == 0)
        e = rd_kafka_commit(k->cons, l, 0);
    if (err == 0) {
        if (e == 0 && l->elems[0].err != 0)
            e = l->elems[0].err;
        err = sl__stream_kafka_err(k, e, "kafka offset commit");
    }
    if (l != NULL)
        rd_kafka_topic_partition_list_destroy(l);
    return err;
}

static int kafka_committed(sl_stream_t *s, const char *group, const char *topic,
                           const char *part, uint64_t *offset) {
    sl__stream_kafka_t *k = (sl__stream_kafka_t *)s;
    char kt[256];
    int32_t kp;
    rd_kafka_topic_partition_list_t *l = NULL;
    int err = sl__stream_kafka_map(k, topic, part, kt, sizeof kt, &kp);
    if (err == 0)
        err = consumer(k, group);
    if (err == 0)
        err = tp_list(kt, kp, RD_KAFKA_OFFSET_INVALID, &l);
    if (err == 0) {
        rd_kafka_resp_err_t e =
            rd_kafka_committed(k->cons, l, k->io_timeout_ms);
        if (e == 0 && l->elems[0].err != 0)
            e = l->elems[0].err;
        err = sl__stream_kafka_err(k, e, "kafka committed offsets");
        if (err == 0 && l->elems[0].offset < 0) {
            snprintf(k->err, sizeof k->err, "group %s has no offset", group);
            err = SL_ENOTFOUND;
        }
        if (err == 0)
            *offset = (uint64_t)l->elems[0].offset;
    }
    if (l != NULL)
        rd_kafka_topic_partition_list_destroy(l);
    return err;
}

/* Every Kafka topic that maps to sluice topic `topic` (docs/kafka.md,
 * "Names"), one call of cb per partition with its end; with a group, the
 * partitions the group gave this member (lib/stream_kafka_group.c). */
static int kafka_partitions(sl_stream_t *s, const char *topic,
                            const char *group, sl_stream_part_cb cb,
                            void *ctx) {
    sl__stream_kafka_t *k = (sl__stream_kafka_t *)s;
    if (group != NULL)
        return sl__stream_kafka_group_partitions(k, topic, group, cb, ctx);
    int err = consumer(k, NULL);
    const struct rd_kafka_metadata *md = NULL;
    if (err == 0) {
        rd_kafka_resp_err_t e =
            rd_kafka_metadata(k->cons, 1, NULL, &md, k->connect_timeout_ms);
        if (e != 0) {
            int a = auth_failure(k, k->cons);
            return a != 0 ? a : sl__stream_kafka_err(k, e, "kafka metadata");
        }
    }
    for (int i = 0; err == 0 && i < md->topic_cnt; i++) {
        const struct rd_kafka_metadata_topic *t = &md->topics[i];
        if (t->err != 0)
            continue;
        for (int p = 0; p < t->partition_cnt && err == 0; p++) {
            char st[256], sp[256];
            if (sl_kafka_sluice_name(t->topic, strlen(t->topic), p,
                                     t->partition_cnt == 1, st, sizeof st, sp,
                                     sizeof sp) != 0 ||
                strcmp(st, topic) != 0)
                continue;
            int64_t lo, hi;
            rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(
                k->cons, t->topic, p, &lo, &hi, k->io_timeout_ms);
            if (e != 0)
                err = sl__stream_kafka_err(k, e, t->topic);
            else
                err = cb(ctx, sp, strlen(sp), (uint64_t)hi);
        }
    }
    if (md != NULL)
        rd_kafka_metadata_destroy(md);
    return err;
}

static const char *kafka_error(const sl_stream_t *s) {
    return ((const sl__stream_kafka_t *)s)->err;
}

static void kafka_close(sl_stream_t *s) {
    sl__stream_kafka_t *k = (sl__stream_kafka_t *)s;
    sl__stream_kafka_group_drop(k);
    sl__stream_kafka_producer_drop(k);
    consumer_drop(k);
    free(k->msgs);
    free(k->recs);
    free(k->ring);
    for (size_t i = 0; i < k->nprops; i++)
        sl_secret_free(k->props[i]);
    free(k->props);
    sl_secret_free(k->secret);
    free(k->brokers);
    sl_strmap_free(&k->ensured);
    free(k);
}

/* A new session: a new producer (new producer id and epoch; capture reads
 * the partitions' tails again) and a new consumer. The group member stays:
 * librdkafka reconnects it, and leaving would move every partition. */
static int kafka_reconnect(sl_stream_t *s) {
    sl__stream_kafka_t *k = (sl__stream_kafka_t *)s;
    sl__stream_kafka_producer_drop(k);
    consumer_drop(k);
    k->pend = 0;
    return 0;
}

static const sl__stream_ops_t kafka_ops = {
    .close = kafka_close,
    .reconnect = kafka_reconnect,
    .error = kafka_error,
    .caps = SL_STREAM_CAP_HEADERS | SL_STREAM_CAP_KEYS | SL_STREAM_CAP_CREATE |
            SL_STREAM_CAP_PREFETCH | SL_STREAM_CAP_GROUPS,
    .send = sl__stream_kafka_send,
    .flush = sl__stream_kafka_flush,
    .ack = sl__stream_kafka_ack,
    .inflight = sl__stream_kafka_inflight,
    .ack_ready = sl__stream_kafka_ack_ready,
    .put = sl__stream_kafka_put,
    .create = sl__stream_kafka_create,
    .get = kafka_get,
    .get_send = kafka_get_send,
    .get_recv = kafka_get_recv,
    .rec_seq = kafka_rec_seq,
    .offsets = kafka_offsets,
    .commit = kafka_commit,
    .committed = kafka_committed,
    .partitions = kafka_partitions,
};

/* Reads sluice's own settings (sluice.KEY=N) out of the list. */
static int own_setting(sl__stream_kafka_t *k, const char *prop) {
    static const struct {
        const char *key;
        size_t off;
        long lo, hi;
    } own[] = {
        {"sluice.replication.factor=",
         offsetof(sl__stream_kafka_t, replication), -1, 32767},
        {"sluice.min.insync.replicas=",
         offsetof(sl__stream_kafka_t, min_insync), 0, 32767},
        {"sluice.partitions=", offsetof(sl__stream_kafka_t, nparts), 0, 65536},
    };
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++) {
        size_t n = strlen(own[i].key);
        if (strncmp(prop, own[i].key, n) != 0)
            continue;
        char *end;
        long v = strtol(prop + n, &end, 10);
        if (*end != '\0' || end == prop + n || v < own[i].lo || v > own[i].hi) {
            snprintf(k->err, sizeof k->err, "kafka setting %s: bad number",
                     prop);
            return SL_ECONFIG;
        }
        *(int *)(void *)((char *)k + own[i].off) = (int)v;
        return 0;
    }
    snprintf(k->err, sizeof k->err,
             "unknown sluice setting %s (known: sluice.replication.factor, "
             "sluice.min.insync.replicas, sluice.partitions)",
             prop);
    return SL_ECONFIG;
}

int sl__stream_kafka_open(const char *servers, const sl_stream_opts_t *opts,
                          sl_stream_t **out, char *errbuf, size_t errlen) {
    sl__stream_kafka_t *k = calloc(1, sizeof *k);
    if (k == NULL)
        return SL_ENOMEM;
    k->base.ops = &kafka_ops;
    k->replication = -1;
    k->connect_timeout_ms =
        opts && opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : 5000;
    k->io_timeout_ms =
        opts && opts->io_timeout_ms > 0 ? opts->io_timeout_ms : 30000;
    if (opts != NULL)
        k->nparts = opts->key_parts;
    int err = sl_strmap_init(&k->ensured);
    if (err == 0 && (k->brokers = strdup(servers)) == NULL)
        err = SL_ENOMEM;
    if (err == 0 && *servers == '\0') {
        snprintf(k->err, sizeof k->err,
                 "kafka:// needs HOST:PORT[,HOST:PORT...]");
        err = SL_EINVAL;
    }
    if (err == 0 && opts != NULL && opts->secret != NULL &&
        (k->secret = strdup(opts->secret)) == NULL)
        err = SL_ENOMEM;
    size_t n = 0;
    while (opts != NULL && opts->props != NULL && opts->props[n] != NULL)
        n++;
    if (err == 0 && n > 0 && (k->props = calloc(n, sizeof *k->props)) == NULL)
        err = SL_ENOMEM;
    for (size_t i = 0; i < n && err == 0; i++) {
        const char *p = opts->props[i];
        const char *eq = strchr(p, '=');
        if (eq == NULL || eq == p) {
            snprintf(k->err, sizeof k->err,
                     "kafka setting must be KEY=VALUE (got one without '=')");
            err = SL_ECONFIG;
        } else if (strncmp(p, "sluice.", 7) == 0) {
            err = own_setting(k, p);
        }
        if (err == 0 && (k->props[k->nprops++] = strdup(p)) == NULL)
            err = SL_ENOMEM;
    }
    /* Check the settings now, not at the first produce. */
    rd_kafka_conf_t *conf = NULL;
    if (err == 0 && (err = sl__stream_kafka_conf(k, 1, NULL, &conf)) == 0)
        rd_kafka_conf_destroy(conf);
    if (err == 0 && (err = sl__stream_kafka_conf(k, 0, NULL, &conf)) == 0)
        rd_kafka_conf_destroy(conf);
    if (err != 0) {
        if (errbuf != NULL)
            snprintf(errbuf, errlen, "%s", k->err[0] ? k->err : "");
        kafka_close(&k->base);
        return err;
    }
    *out = &k->base;
    return 0;
}
