/* sluice-apply's metrics; see metrics.h. */
#include "apply/metrics.h"

#include "apply/internal.h"
#include "apply/mysql/sink.h"
#include "backoff.h"
#include "clock.h"
#include "error.h"
#include "lib/http.h"
#include "lib/metrics.h"

#include <stdio.h>
#include <string.h>

/* /readyz answers 503 while a retry (a backoff sleep: broker or target
 * unavailable, a fetch or a group that failed) began this recently; the
 * longest backoff is 5 s, so a retry loop always shows. */
#define RETRY_WINDOW_MS 6000

static struct {
    sl_http_t *http;
    uint64_t last_ms;
    sl__consume_t *c;
    int connected;
} am;

int sl_apply_metrics_start(sl_config_t *cfg, char *err, size_t errlen) {
    /* The main loop turns every 100 ms; 10 s without a tick is a stuck
     * consumer. */
    return sl_http_start_config(&am.http, cfg, 10000, err, errlen);
}

/* One sample per partition of every worker (read without a lock, as the
 * stats report does: a torn read only skews one scrape). */
typedef uint64_t (*part_value_fn)(const sl__part_t *p, int64_t now_s);

static uint64_t v_lag(const sl__part_t *p, int64_t now_s) {
    (void)now_s;
    return p->latest > p->applied_next ? p->latest - p->applied_next : 0;
}
static uint64_t v_behind(const sl__part_t *p, int64_t now_s) {
    return v_lag(p, now_s) > 0 && p->src_ts > 0 && now_s > p->src_ts
               ? (uint64_t)(now_s - p->src_ts)
               : 0;
}
static uint64_t v_next(const sl__part_t *p, int64_t now_s) {
    (void)now_s;
    return p->applied_next;
}
static uint64_t v_latest(const sl__part_t *p, int64_t now_s) {
    (void)now_s;
    return p->latest;
}
static uint64_t v_rows(const sl__part_t *p, int64_t now_s) {
    (void)now_s;
    return p->rows;
}
static uint64_t v_trx(const sl__part_t *p, int64_t now_s) {
    (void)now_s;
    return p->trx;
}
static uint64_t v_inval(const sl__part_t *p, int64_t now_s) {
    (void)now_s;
    return p->invalidated;
}
static uint64_t v_dead(const sl__part_t *p, int64_t now_s) {
    (void)now_s;
    return p->dead_lettered;
}
static uint64_t v_stopped(const sl__part_t *p, int64_t now_s) {
    (void)now_s;
    return p->stopped != 0;
}

static void per_part(sl_metrics_t *m, const char *name, sl_metrics_type_t type,
                     const char *help, part_value_fn fn) {
    sl__consume_t *c = am.c;
    int64_t now_s = sl_wall_ms() / 1000;
    sl_metrics_family(m, name, type, help);
    for (unsigned i = 0; i < c->o.workers; i++) {
        sl__worker_t *w = &c->workers[i];
        pthread_mutex_lock(&w->mu); /* Guards the list, not the counters. */
        for (size_t k = 0; k < w->nparts; k++) {
            const sl__part_t *p = w->parts[k];
            sl_metrics_u64(m, name,
                           (const char *[]){"topic", c->o.topic, "partition",
                                            p->name, NULL},
                           fn(p, now_s));
        }
        pthread_mutex_unlock(&w->mu);
    }
}

static void render(sl_metrics_t *m, void *ctx) {
    (void)ctx;
    sl__consume_t *c = am.c;
    sl_metrics_one(m, "sluice_apply_up", SL_METRICS_GAUGE,
                   "1 while sluice-apply runs.", 1);
    sl_metrics_one(m, "sluice_apply_broker_connected", SL_METRICS_GAUGE,
                   "1 while the consumer has its broker session.",
                   am.connected ? 1 : 0);
    per_part(m, "sluice_apply_lag_offsets", SL_METRICS_GAUGE,
             "Messages of the partition not applied yet.", v_lag);
    per_part(m, "sluice_apply_lag_seconds", SL_METRICS_GAUGE,
             "Seconds between now and the source time of the last applied "
             "event, while messages wait (0 when caught up).",
             v_behind);
    per_part(m, "sluice_apply_next_offset", SL_METRICS_GAUGE,
             "The next offset to apply.", v_next);
    per_part(m, "sluice_apply_end_offset", SL_METRICS_GAUGE,
             "The partition's end offset, as last seen.", v_latest);
    per_part(m, "sluice_apply_partition_rows_total", SL_METRICS_COUNTER,
             "Row events applied, by partition.", v_rows);
    per_part(m, "sluice_apply_transactions_total", SL_METRICS_COUNTER,
             "Source transactions applied.", v_trx);
    per_part(m, "sluice_apply_invalidations_total", SL_METRICS_COUNTER,
             "Cache keys invalidated (Redis and memcached).", v_inval);
    per_part(m, "sluice_apply_dead_letters_total", SL_METRICS_COUNTER,
             "Events moved to the dead-letter topic.", v_dead);
    per_part(m, "sluice_apply_partition_stopped", SL_METRICS_GAUGE,
             "1 when the partition stopped on an error it cannot pass.",
             v_stopped);
    /* The MySQL/MariaDB target: rows by op, commits and their latency,
     * summed over the partitions' sinks. */
    sl_mysql_stats_t sum;
    memset(&sum, 0, sizeof sum);
    for (unsigned i = 0; i < c->o.workers; i++) {
        sl__worker_t *w = &c->workers[i];
        pthread_mutex_lock(&w->mu);
        for (size_t k = 0; k < w->nparts; k++) {
            sl_mysql_stats_t ms;
            if (w->parts[k]->sink == NULL)
                continue;
            sl_mysql_sink_stats(w->parts[k]->sink, &ms);
            sum.inserts += ms.inserts;
            sum.updates += ms.updates;
            sum.deletes += ms.deletes;
            sum.groups += ms.groups;
            sum.retries += ms.retries;
            sum.drift += ms.drift;
            sl_metrics_hist_add(&sum.commit_hist, &ms.commit_hist);
        }
        pthread_mutex_unlock(&w->mu);
    }
    if (c->o.mysql != NULL) {
        sl_metrics_family(m, "sluice_apply_rows_applied_total",
                          SL_METRICS_COUNTER,
                          "Row changes committed to the target, by op.");
        sl_metrics_u64(m, "sluice_apply_rows_applied_total",
                       (const char *[]){"op", "insert", NULL}, sum.inserts);
        sl_metrics_u64(m, "sluice_apply_rows_applied_total",
                       (const char *[]){"op", "update", NULL}, sum.updates);
        sl_metrics_u64(m, "sluice_apply_rows_applied_total",
                       (const char *[]){"op", "delete", NULL}, sum.deletes);
        sl_metrics_one(m, "sluice_apply_target_commits_total",
                       SL_METRICS_COUNTER, "Target transactions committed.",
                       (double)sum.groups);
        sl_metrics_one(m, "sluice_apply_target_redone_total",
                       SL_METRICS_COUNTER,
                       "Target transactions redone after a transient error.",
                       (double)sum.retries);
        sl_metrics_one(m, "sluice_apply_drift_total", SL_METRICS_COUNTER,
                       "Rows whose target state differed (drift policy).",
                       (double)sum.drift);
        sl_metrics_family(m, "sluice_apply_target_commit_duration_seconds",
                          SL_METRICS_HISTOGRAM,
                          "Time one COMMIT on the target took.");
        sl_metrics_hist(m, "sluice_apply_target_commit_duration_seconds", NULL,
                        &sum.commit_hist);
    }
    sl_metrics_one(m, "sluice_apply_retries_total", SL_METRICS_COUNTER,
                   "Retries after a failure (each waits through a backoff: "
                   "broker or target unavailable, a failed fetch or group).",
                   (double)sl_backoff_sleeps_total());
}

void sl_apply_metrics_tick(struct sl__consume_s *c, int connected) {
    if (am.http == NULL)
        return;
    uint64_t now = sl_mono_ns() / 1000000u;
    if (now - am.last_ms < 1000)
        return;
    am.last_ms = now;
    am.c = c;
    am.connected = connected;
    sl_http_render(am.http, render, NULL);
    uint64_t last = sl_backoff_last_sleep_ms();
    char why[640] = "";
    if (!connected)
        snprintf(why, sizeof why, "no broker session");
    else if (last != 0 && now - last < RETRY_WINDOW_MS)
        snprintf(why, sizeof why, "retrying (broker or target unavailable)");
    for (unsigned i = 0; i < c->o.workers && why[0] == '\0'; i++) {
        sl__worker_t *w = &c->workers[i];
        pthread_mutex_lock(&w->mu);
        for (size_t k = 0; k < w->nparts && why[0] == '\0'; k++)
            if (w->parts[k]->stopped)
                snprintf(why, sizeof why, "partition %s stopped",
                         w->parts[k]->name);
        pthread_mutex_unlock(&w->mu);
    }
    sl_http_set_ready(am.http, why[0] == '\0', why);
}

void sl_apply_metrics_stop(void) {
    sl_http_stop(am.http);
    am.http = NULL;
}
