/* sluice-broker's metrics; see metrics.h. */
#include "broker/metrics.h"

#include "broker/server_int.h"
#include "broker/store_int.h"
#include "bytes.h"
#include "clock.h"
#include "error.h"
#include "lib/http.h"
#include "lib/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

/* Per-partition and per-group series beyond these are left out, so that
 * a broker with 100,000 partitions does not render megabytes a second
 * (docs/monitoring/README.md). */
#define MAX_PART_SERIES 5000
#define MAX_GROUP_SERIES 5000

static struct {
    sl_http_t *http;
    uv_timer_t timer;
    int timer_on;
    sl_server_t *srv;
    sl_store_t *store;
    sl_kafka_t *const *kafka;
    sl_buf_t kstats; /* The Kafka listener's STAT lines, this render. */
} bm;

/* The value of "STAT name N" in the Kafka listener's stats (0 when
 * absent): those lines are its documented accessor (docs/kafka.md). */
static uint64_t kstat(const char *name) {
    size_t nlen = strlen(name);
    const char *p = (const char *)bm.kstats.data;
    const char *end = p + bm.kstats.len;
    while (p != NULL && p < end) {
        if ((size_t)(end - p) > 5 + nlen + 1 && memcmp(p, "STAT ", 5) == 0 &&
            memcmp(p + 5, name, nlen) == 0 && p[5 + nlen] == ' ')
            return strtoull(p + 6 + nlen, NULL, 10);
        p = memchr(p, '\n', (size_t)(end - p));
        if (p != NULL)
            p++;
    }
    return 0;
}

static void per_proto(sl_metrics_t *m, const char *name, const char *help,
                      sl_metrics_type_t type, uint64_t text, uint64_t kafka) {
    sl_metrics_family(m, name, type, help);
    sl_metrics_u64(m, name, (const char *[]){"protocol", "text", NULL}, text);
    if (*bm.kafka != NULL)
        sl_metrics_u64(m, name, (const char *[]){"protocol", "kafka", NULL},
                       kafka);
}

static void refused(sl_metrics_t *m, const char *proto, const char *reason,
                    uint64_t v) {
    sl_metrics_u64(m, "sluice_broker_refused_total",
                   (const char *[]){"protocol", proto, "reason", reason, NULL},
                   v);
}

static void render_partitions(sl_metrics_t *m) {
    sl_store_t *store = bm.store;
    uint32_t n = sl_store_nparts(store);
    sl_metrics_family(m, "sluice_broker_partition_end_offset", SL_METRICS_GAUGE,
                      "The next offset of a partition (its durable end).");
    for (uint32_t id = 1; id <= n && id <= MAX_PART_SERIES; id++) {
        sl_part_t *part = sl_store_part_by_id(store, id);
        sl_metrics_u64(m, "sluice_broker_partition_end_offset",
                       (const char *[]){"topic", part->topic, "partition",
                                        part->name, NULL},
                       part->durable_offset);
    }
    /* Group offsets: the map's keys are the group name, a NUL and the
     * partition id as u32be (broker/store_int.h). */
    sl_metrics_family(m, "sluice_broker_group_lag", SL_METRICS_GAUGE,
                      "Messages of a partition after the group's committed "
                      "offset.");
    size_t series = 0;
    const sl_strmap_t *groups = &store->groups;
    for (size_t i = 0; i < groups->nbuckets; i++)
        for (sl_strmap_node_t *node = groups->buckets[i]; node;
             node = node->next) {
            const uint64_t *off = node->value;
            size_t glen = strnlen(node->key, node->klen);
            if (off == NULL || *off == SL__GROUP_NONE ||
                node->klen != glen + 5 || series >= MAX_GROUP_SERIES)
                continue;
            uint32_t id = sl_get_u32be((const uint8_t *)node->key + glen + 1);
            if (id == 0 || id > n)
                continue;
            sl_part_t *part = sl_store_part_by_id(store, id);
            char group[256];
            snprintf(group, sizeof group, "%.*s", (int)glen, node->key);
            uint64_t end = part->durable_offset;
            sl_metrics_u64(m, "sluice_broker_group_lag",
                           (const char *[]){"group", group, "topic",
                                            part->topic, "partition",
                                            part->name, NULL},
                           end > *off ? end - *off : 0);
            series++;
        }
}

static void render(sl_metrics_t *m, void *ctx) {
    (void)ctx;
    sl_server_t *srv = bm.srv;
    sl_store_t *store = bm.store;
    const sl_store_stats_t *ss = sl_store_get_stats(store);
    const srv_stats_t *st = &srv->st;
    int kafka = *bm.kafka != NULL;
    sl_metrics_one(m, "sluice_broker_up", SL_METRICS_GAUGE,
                   "1 while sluice-broker runs.", 1);
    sl_metrics_one(m, "sluice_broker_uptime_seconds", SL_METRICS_GAUGE,
                   "Seconds since the broker started.",
                   (double)(sl_wall_ms() - srv->started_ms) / 1000.0);
    per_proto(m, "sluice_broker_connections", "Open client connections.",
              SL_METRICS_GAUGE, srv->nconns, kstat("kafka_conns"));
    per_proto(m, "sluice_broker_connections_total",
              "Client connections accepted.", SL_METRICS_COUNTER,
              st->conns_total, kstat("kafka_conns_total"));
    per_proto(m, "sluice_broker_puts_total",
              "Write requests (text: put and mput; Kafka: Produce).",
              SL_METRICS_COUNTER, st->cmd_put + st->cmd_mput,
              kstat("kafka_produce_requests"));
    per_proto(m, "sluice_broker_gets_total",
              "Read requests (text: get; Kafka: Fetch).", SL_METRICS_COUNTER,
              st->cmd_get, kstat("kafka_fetch_requests"));
    per_proto(m, "sluice_broker_received_bytes_total",
              "Bytes read from clients.", SL_METRICS_COUNTER, st->bytes_read,
              kstat("kafka_bytes_read"));
    per_proto(m, "sluice_broker_sent_bytes_total", "Bytes sent to clients.",
              SL_METRICS_COUNTER, st->bytes_sent, kstat("kafka_bytes_written"));
    sl_metrics_one(m, "sluice_broker_stored_messages_total", SL_METRICS_COUNTER,
                   "Messages stored (every protocol; duplicates not counted).",
                   (double)ss->puts);
    sl_metrics_one(m, "sluice_broker_duplicate_batches_total",
                   SL_METRICS_COUNTER,
                   "Batches recognised as already stored (a producer's "
                   "retry).",
                   (double)ss->dup_batches);
    sl_metrics_one(
        m, "sluice_broker_delivered_messages_total", SL_METRICS_COUNTER,
        "Messages sent to text-protocol readers.", (double)st->get_messages);
    sl_metrics_one(m, "sluice_broker_log_written_bytes_total",
                   SL_METRICS_COUNTER, "Bytes written to the commit log.",
                   (double)ss->bytes_written);
    sl_metrics_one(m, "sluice_broker_fsyncs_total", SL_METRICS_COUNTER,
                   "fdatasync calls on the log.", (double)ss->fsyncs);
    sl_metrics_family(m, "sluice_broker_fsync_duration_seconds",
                      SL_METRICS_HISTOGRAM,
                      "Time one fdatasync of the log took.");
    sl_metrics_hist(m, "sluice_broker_fsync_duration_seconds", NULL,
                    &ss->fsync_hist);
    sl_metrics_family(m, "sluice_broker_refused_total", SL_METRICS_COUNTER,
                      "Requests and connections refused, by protocol and "
                      "reason.");
    refused(m, "text", "connection_limit", st->conns_rejected);
    refused(m, "text", "protocol", st->err_protocol);
    refused(m, "text", "unknown_command", st->err_unknown_cmd);
    refused(m, "text", "too_large", st->err_too_large);
    refused(m, "text", "crc_mismatch", st->err_crc);
    refused(m, "text", "auth", st->err_auth);
    refused(m, "text", "not_found", st->err_not_found);
    refused(m, "text", "offset_range", st->err_range);
    refused(m, "text", "truncated", st->err_truncated);
    refused(m, "text", "store", st->err_store);
    refused(m, "text", "no_space", ss->nospace_refused);
    refused(m, "text", "idle_timeout", st->idle_closed);
    refused(m, "text", "request_timeout", st->timeouts);
    if (kafka) {
        static const char *const kreasons[][2] = {
            {"connection_limit", "kafka_conns_rejected"},
            {"size", "kafka_errors_size"},
            {"too_large", "kafka_errors_too_large"},
            {"malformed", "kafka_errors_malformed"},
            {"truncated", "kafka_errors_truncated"},
            {"unknown_api", "kafka_errors_unknown_api"},
            {"unsupported_version", "kafka_errors_unsupported_version"},
            {"unauthenticated", "kafka_errors_unauthenticated"},
            {"auth", "kafka_errors_auth_failed"},
            {"produce_refused", "kafka_produce_refused"},
            {"produce_corrupt", "kafka_produce_corrupt"},
            {"idle_timeout", "kafka_idle_closed"},
            {"request_timeout", "kafka_timeout_closed"},
        };
        for (size_t i = 0; i < sizeof kreasons / sizeof kreasons[0]; i++)
            refused(m, "kafka", kreasons[i][0], kstat(kreasons[i][1]));
    }
    sl_metrics_one(m, "sluice_broker_memory_used_bytes", SL_METRICS_GAUGE,
                   "Memory held for requests, replies and staged writes.",
                   (double)sl__server_mem_used(srv));
    sl_metrics_one(m, "sluice_broker_memory_limit_bytes", SL_METRICS_GAUGE,
                   "The max-memory budget.", (double)srv->opts.max_memory);
    sl_metrics_one(m, "sluice_broker_disk_used_bytes", SL_METRICS_GAUGE,
                   "Bytes of the commit log's segments.",
                   (double)sl_store_disk_used(store));
    struct statvfs vfs;
    if (statvfs(sl_store_options(store)->dir, &vfs) == 0) {
        sl_metrics_one(m, "sluice_broker_disk_free_bytes", SL_METRICS_GAUGE,
                       "Bytes available to the broker on the data "
                       "directory's file system.",
                       (double)vfs.f_bavail * (double)vfs.f_frsize);
        sl_metrics_one(m, "sluice_broker_disk_size_bytes", SL_METRICS_GAUGE,
                       "Size of the data directory's file system.",
                       (double)vfs.f_blocks * (double)vfs.f_frsize);
    }
    sl_metrics_one(m, "sluice_broker_disk_full", SL_METRICS_GAUGE,
                   "1 when the last write failed for lack of space.",
                   ss->disk_full ? 1 : 0);
    sl_metrics_one(m, "sluice_broker_segments", SL_METRICS_GAUGE,
                   "Segments of the commit log.",
                   (double)sl_store_nsegments(store));
    sl_metrics_one(m, "sluice_broker_crc_errors_total", SL_METRICS_COUNTER,
                   "Stored records found damaged when read.",
                   (double)ss->crc_errors);
    sl_metrics_one(m, "sluice_broker_partitions", SL_METRICS_GAUGE,
                   "Partitions the broker holds.",
                   (double)sl_store_nparts(store));
    render_partitions(m);
}

static void tick_cb(uv_timer_t *timer) {
    (void)timer;
    sl_buf_reset(&bm.kstats);
    /* The Kafka listener's counters, through the server's stats hook
     * (broker/server.h), as the stats reply gets them. */
    if (*bm.kafka != NULL && bm.srv->ext.stats != NULL)
        bm.srv->ext.stats(bm.srv->ext.arg, &bm.kstats);
    sl_http_render(bm.http, render, NULL);
    int full = sl_store_get_stats(bm.store)->disk_full;
    sl_http_set_ready(bm.http, !full,
                      full ? "disk full: writes are refused" : NULL);
}

int sl_broker_metrics_start(sl_config_t *cfg, uv_loop_t *loop, sl_server_t *srv,
                            sl_store_t *store, sl_kafka_t *const *kafka,
                            char *err, size_t errlen) {
    if (sl_config_get(cfg, "http-listen") == NULL)
        return 0;
    bm.srv = srv;
    bm.store = store;
    bm.kafka = kafka;
    sl_buf_init(&bm.kstats);
    /* The loop renders every second; 10 s without a render means the loop
     * is stuck. */
    int rc = sl_http_start_config(&bm.http, cfg, 10000, err, errlen);
    if (rc != 0)
        return rc;
    uv_timer_init(loop, &bm.timer);
    uv_unref((uv_handle_t *)&bm.timer); /* It never keeps the loop alive. */
    uv_timer_start(&bm.timer, tick_cb, 0, 1000);
    bm.timer_on = 1;
    return 0;
}

void sl_broker_metrics_close(void) {
    if (!bm.timer_on)
        return;
    bm.timer_on = 0;
    sl_http_set_ready(bm.http, 0, "stopping");
    uv_timer_stop(&bm.timer);
    uv_close((uv_handle_t *)&bm.timer, NULL);
}

void sl_broker_metrics_stop(void) {
    sl_http_stop(bm.http);
    bm.http = NULL;
    sl_buf_free(&bm.kstats);
}
