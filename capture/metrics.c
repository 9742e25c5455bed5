/* sluice-capture's metrics; see metrics.h. */
#include "capture/metrics.h"

#include "backoff.h"
#include "clock.h"
#include "error.h"
#include "lib/http.h"
#include "lib/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Per table ("db\0table" in the map): rows by op. */
typedef struct {
    uint64_t ops[4]; /* Indexed by sl_change_op_t. */
} table_rows_t;

static struct {
    sl_http_t *http;
    sl_strmap_t tables;
    uint64_t last_render_ns;
    uint64_t checkpoints;   /* Seen at the last tick. */
    uint64_t checkpoint_ns; /* When their number last changed. */
    int64_t last_event_ts;  /* The tick's figures, for render(). */
    uint64_t events, bytes, rows, filtered, sessions;
    sl_publish_stats_t pub;
    const sl_strmap_t *part_rows;
} cm;

int sl_capture_metrics_start(sl_config_t *cfg, char *err, size_t errlen) {
    uint64_t timeout_ms = 10000;
    if (sl_config_get(cfg, "http-listen") == NULL)
        return 0;
    if (sl_config_get_ms(cfg, "timeout", &timeout_ms) != 0) {
        snprintf(err, errlen, "%s", cfg->err);
        return SL_EUSAGE;
    }
    sl_strmap_init(&cm.tables);
    cm.checkpoint_ns = sl_mono_ns();
    /* Events or heartbeats arrive at least every `timeout` while the
     * source is connected; longer without a tick means capture is stuck
     * (a broker that does not answer, a source that does not send). */
    return sl_http_start_config(&cm.http, cfg, timeout_ms + 5000, err, errlen);
}

void sl_capture_metrics_row(const sl_change_t *chg) {
    if (cm.http == NULL || chg->table == NULL)
        return;
    /* "db\0table", built without printf: this runs for every row while
     * the endpoint is on. */
    char key[600];
    size_t dl = chg->db ? chg->db_len : 0, n = dl + 1 + chg->table_len;
    if (n >= sizeof key)
        return; /* Names are at most 64 characters each; never reached. */
    if (dl > 0)
        memcpy(key, chg->db, dl);
    key[dl] = '\0';
    memcpy(key + dl + 1, chg->table, chg->table_len);
    table_rows_t *t = sl_strmap_get(&cm.tables, key, n);
    if (t == NULL) {
        if ((t = calloc(1, sizeof *t)) == NULL ||
            sl_strmap_put(&cm.tables, key, n, t) != 0) {
            free(t);
            return; /* Out of memory: a count is lost, nothing else. */
        }
    }
    t->ops[chg->op < 4 ? chg->op : 0]++;
}

static void render(sl_metrics_t *m, void *ctx) {
    (void)ctx;
    uint64_t now_ns = sl_mono_ns();
    int64_t now_s = sl_wall_ms() / 1000;
    sl_metrics_one(m, "sluice_capture_up", SL_METRICS_GAUGE,
                   "1 while sluice-capture runs.", 1);
    sl_metrics_one(m, "sluice_capture_seconds_behind_source", SL_METRICS_GAUGE,
                   "Seconds between now and the source time of the last "
                   "event read (0 when caught up; -1 before the first).",
                   cm.last_event_ts ? (double)(now_s - cm.last_event_ts) : -1);
    sl_metrics_one(m, "sluice_capture_events_total", SL_METRICS_COUNTER,
                   "Binlog events read from the source.", (double)cm.events);
    sl_metrics_one(m, "sluice_capture_read_bytes_total", SL_METRICS_COUNTER,
                   "Binlog bytes read from the source.", (double)cm.bytes);
    sl_metrics_one(m, "sluice_capture_rows_filtered_total", SL_METRICS_COUNTER,
                   "Rows of tables not captured (include/exclude).",
                   (double)cm.filtered);
    sl_metrics_one(m, "sluice_capture_published_messages_total",
                   SL_METRICS_COUNTER,
                   "Messages the broker acknowledged (stored or duplicate).",
                   (double)cm.pub.messages);
    sl_metrics_one(m, "sluice_capture_duplicate_messages_total",
                   SL_METRICS_COUNTER,
                   "Messages the broker acknowledged as already stored.",
                   (double)cm.pub.duplicates);
    sl_metrics_one(m, "sluice_capture_checkpoints_total", SL_METRICS_COUNTER,
                   "Resume points written to the broker.",
                   (double)cm.pub.checkpoints);
    sl_metrics_one(m, "sluice_capture_checkpoint_age_seconds", SL_METRICS_GAUGE,
                   "Seconds since the last checkpoint was written (since "
                   "start before the first).",
                   (double)(now_ns - cm.checkpoint_ns) / 1e9);
    sl_metrics_one(m, "sluice_capture_inflight_bytes", SL_METRICS_GAUGE,
                   "Bytes published and not yet acknowledged.",
                   (double)cm.pub.inflight_bytes);
    sl_metrics_family(m, "sluice_capture_reconnects_total", SL_METRICS_COUNTER,
                      "Connections opened again after one broke, by peer.");
    sl_metrics_u64(m, "sluice_capture_reconnects_total",
                   (const char *[]){"peer", "broker", NULL}, cm.pub.reconnects);
    sl_metrics_u64(m, "sluice_capture_reconnects_total",
                   (const char *[]){"peer", "source", NULL},
                   cm.sessions > 1 ? cm.sessions - 1 : 0);
    sl_metrics_family(m, "sluice_capture_rows_total", SL_METRICS_COUNTER,
                      "Rows published, by database, table and op.");
    for (size_t i = 0; i < cm.tables.nbuckets; i++)
        for (sl_strmap_node_t *n = cm.tables.buckets[i]; n; n = n->next) {
            const table_rows_t *t = n->value;
            const char *db = n->key;
            const char *table = db + strlen(db) + 1;
            for (int op = SL_OP_INSERT; op <= SL_OP_DELETE; op++) {
                if (t->ops[op] == 0)
                    continue;
                sl_metrics_u64(m, "sluice_capture_rows_total",
                               (const char *[]){
                                   "database", db, "table", table, "op",
                                   sl_change_op_name((sl_change_op_t)op), NULL},
                               t->ops[op]);
            }
        }
    sl_metrics_family(m, "sluice_capture_partition_rows_total",
                      SL_METRICS_COUNTER, "Rows published, by partition.");
    for (size_t i = 0; cm.part_rows && i < cm.part_rows->nbuckets; i++)
        for (sl_strmap_node_t *n = cm.part_rows->buckets[i]; n; n = n->next) {
            char name[512];
            snprintf(name, sizeof name, "%.*s", (int)n->klen, n->key);
            sl_metrics_u64(m, "sluice_capture_partition_rows_total",
                           (const char *[]){"partition", name, NULL},
                           *(const uint64_t *)n->value);
        }
}

void sl_capture_metrics_tick(const sl_publish_t *pub, int64_t last_event_ts,
                             uint64_t events, uint64_t bytes, uint64_t rows,
                             uint64_t filtered, uint64_t sessions,
                             const sl_strmap_t *part_rows) {
    if (cm.http == NULL)
        return;
    uint64_t now = sl_mono_ns();
    if (now - cm.last_render_ns < 500000000u)
        return;
    cm.last_render_ns = now;
    sl_publish_stats(pub, &cm.pub);
    if (cm.pub.checkpoints != cm.checkpoints) {
        cm.checkpoints = cm.pub.checkpoints;
        cm.checkpoint_ns = now;
    }
    cm.last_event_ts = last_event_ts;
    cm.events = events;
    cm.bytes = bytes;
    cm.rows = rows;
    cm.filtered = filtered;
    cm.sessions = sessions;
    cm.part_rows = part_rows;
    sl_http_render(cm.http, render, NULL);
    /* A backoff began recently: the publisher retries the broker. The
     * longest pause is 5 s, so a retry loop always shows. */
    uint64_t last = sl_backoff_last_sleep_ms(), now_ms = now / 1000000u;
    int retrying = last != 0 && now_ms - last < 6000;
    sl_http_set_ready(cm.http, !retrying,
                      retrying ? "retrying the broker" : NULL);
}

void sl_capture_metrics_down(const char *reason) {
    sl_http_set_ready(cm.http, 0, reason);
}

void sl_capture_metrics_stop(void) {
    if (cm.http == NULL)
        return;
    sl_http_stop(cm.http);
    cm.http = NULL;
    for (size_t i = 0; i < cm.tables.nbuckets; i++)
        for (sl_strmap_node_t *n = cm.tables.buckets[i]; n; n = n->next)
            free(n->value);
    sl_strmap_free(&cm.tables);
}
