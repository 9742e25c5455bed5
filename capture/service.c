/* The live capture service: the replication loop, its restarts and its
 * reports; see service.h (and service_int.h for the other files). */
#include "service.h"
#include "service_int.h"

#include "bytes.h"
#include "capture/metrics.h"
#include "clock.h"
#include "error.h"
#include "log.h"
#include "replay.h"
#include "secret.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile sig_atomic_t stop_signals;
static volatile int stop_requested;

static void on_signal(int signum) {
    (void)signum;
    stop_signals++;
    stop_requested = 1;
    if (stop_signals >= 2)
        _exit(1); /* A second signal: the checkpoint is safe as it is. */
}

/* The text the stats endpoint serves. */
static void update_stats(sl__svc_t *svc) {
    sl_publish_stats_t st;
    sl_publish_stats(svc->pub, &st);
    sl_buf_t *b = &svc->stats_text;
    uint64_t now = sl_mono_ns();
    int64_t behind = svc->last_event_ts
                         ? (int64_t)(sl_wall_ms() / 1000) - svc->last_event_ts
                         : -1;
    sl_buf_reset(b);
    sl_buf_printf(b, "STAT uptime %llu\r\n",
                  (unsigned long long)((now - svc->start_ns) / 1000000000u));
    sl_buf_printf(b, "STAT file %s\r\n", svc->cur_file ? svc->cur_file : "-");
    sl_buf_printf(b, "STAT pos %llu\r\n", (unsigned long long)svc->cur_end);
    sl_buf_printf(b, "STAT seconds_behind %lld\r\n", (long long)behind);
    sl_buf_printf(b, "STAT events %llu\r\n", (unsigned long long)svc->events);
    sl_buf_printf(b, "STAT bytes %llu\r\n", (unsigned long long)svc->bytes);
    sl_buf_printf(b, "STAT rows %llu\r\n", (unsigned long long)svc->rows);
    sl_buf_printf(b, "STAT rows_filtered %llu\r\n",
                  (unsigned long long)svc->filtered);
    sl_buf_printf(b, "STAT ddl_skipped_uncaptured %llu\r\n",
                  (unsigned long long)svc->ddl_skipped);
    sl_buf_printf(b, "STAT messages_acked %llu\r\n",
                  (unsigned long long)st.messages);
    sl_buf_printf(b, "STAT messages_duplicate %llu\r\n",
                  (unsigned long long)st.duplicates);
    sl_buf_printf(b, "STAT checkpoints %llu\r\n",
                  (unsigned long long)st.checkpoints);
    sl_buf_printf(b, "STAT broker_reconnects %llu\r\n",
                  (unsigned long long)st.reconnects);
    sl_buf_printf(b, "STAT source_sessions %llu\r\n",
                  (unsigned long long)svc->sessions);
    sl_buf_printf(b, "STAT unacked_bytes %zu\r\n", st.inflight_bytes);
    sl_buf_printf(b, "STAT partitions %zu\r\n", svc->part_rows.count);
    if (svc->drift != NULL)
        sl_driftcheck_put_stats(svc->drift, b);
    if (svc->snap != NULL)
        sl_snap_put_stats(svc->snap, b);
    for (size_t i = 0; i < svc->part_rows.nbuckets; i++)
        for (sl_strmap_node_t *n = svc->part_rows.buckets[i]; n; n = n->next)
            sl_buf_printf(b, "STAT rows:%.*s %llu\r\n", (int)n->klen, n->key,
                          (unsigned long long)*(uint64_t *)n->value);
    if (svc->stats != NULL)
        sl_capstats_set(svc->stats, (const char *)b->data, b->len);
    svc->last_stats_ns = now;
}

static void report(sl__svc_t *svc, int force) {
    uint64_t now = sl_mono_ns();
    uint64_t interval_ms = 5000;
    sl_config_get_ms(&svc->cfg, "report-interval", &interval_ms);
    uint64_t elapsed = now - svc->last_report_ns;
    if (!force && elapsed < interval_ms * 1000000ull)
        return;
    double secs = elapsed / 1e9;
    sl_publish_stats_t st;
    sl_publish_stats(svc->pub, &st);
    int64_t behind = svc->last_event_ts
                         ? (int64_t)(sl_wall_ms() / 1000) - svc->last_event_ts
                         : 0;
    sl_log_info("capture progress",
                "file=%s pos=%llu behind_s=%lld events_per_s=%.0f "
                "bytes_per_s=%.0f rows=%llu rows_per_s=%.0f published=%llu "
                "duplicates=%llu filtered=%llu unacked_bytes=%zu "
                "partitions=%zu",
                svc->cur_file ? svc->cur_file : "-",
                (unsigned long long)svc->cur_end, (long long)behind,
                (svc->events - svc->last_events) / (secs > 0 ? secs : 1),
                (svc->bytes - svc->last_bytes) / (secs > 0 ? secs : 1),
                (unsigned long long)svc->rows,
                (svc->rows - svc->last_rows) / (secs > 0 ? secs : 1),
                (unsigned long long)st.messages,
                (unsigned long long)st.duplicates,
                (unsigned long long)svc->filtered, st.inflight_bytes,
                svc->part_rows.count);
    if (svc->snap != NULL)
        sl_snap_report(svc->snap, force);
    svc->last_report_ns = now;
    svc->last_events = svc->events;
    svc->last_bytes = svc->bytes;
    svc->last_rows = svc->rows;
}

/* Events that belong to no transaction. */
static int standalone_event(uint8_t type) {
    switch (type) {
    case SL_EV_STOP:
    case SL_EV_ROTATE:
    case SL_EV_FORMAT_DESCRIPTION:
    case SL_EV_PREVIOUS_GTIDS:
    case SL_EV_MARIA_BINLOG_CHECKPOINT:
    case SL_EV_MARIA_GTID_LIST: return 1;
    default: return 0;
    }
}

static const struct sl_schema_table_s *lookup_table(void *ctx, const char *db,
                                                    size_t db_len,
                                                    const char *table,
                                                    size_t table_len) {
    sl__svc_t *svc = ctx;
    return sl_schema_find(svc->schema, db, db_len, table, table_len);
}

static int new_decoder(sl__svc_t *svc) {
    sl_binlog_free(svc->dec);
    svc->dec = NULL;
    sl_binlog_opts_t dopts;
    memset(&dopts, 0, sizeof dopts);
    dopts.skip_types = svc->skip;
    dopts.nskip_types = svc->nskip;
    dopts.schema_lookup = lookup_table;
    dopts.schema_ctx = svc;
    if (sl_filter_has_column_rules(svc->filter)) {
        dopts.column_keep = sl__svc_keep_column;
        dopts.column_ctx = svc;
    }
    dopts.key_hash = svc->route.mode == SL_ROUTE_KEY;
    if (sl_binlog_format_parse(sl_config_get(&svc->cfg, "format"),
                               &dopts.format) != 0)
        return SL_EUSAGE; /* Checked with the other options at start. */
    dopts.format_name = sl_config_get(&svc->cfg, "topic");
    if (sl_config_get_bool(&svc->cfg, "debezium-schemas",
                           &dopts.format_schemas) != 0 ||
        sl_config_get_bool(&svc->cfg, "debezium-include-query",
                           &dopts.format_query) != 0)
        return SL_EUSAGE;
    svc->in_trx = 0;
    sl__svc_clear_touched(svc);
    return sl_binlog_new(&svc->dec, &dopts, sl__svc_on_change, svc);
}

static void sleep_ms(unsigned ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* One replication session from cp. Returns 0 on a clean stop, SL_EAGAIN
 * when the stream broke and replication should resume from the last
 * boundary, or a fatal error. */
static int run_session(sl__svc_t *svc, const sl_checkpoint_t *cp, int have_cp,
                       uint64_t checkpoint_ms) {
    sl_source_opts_t so = svc->src_opts;
    if (have_cp) {
        so.file = cp->file;
        so.pos = cp->pos;
        so.gtid = NULL;
    } else {
        so.file = svc->start_file;
        so.pos = svc->start_pos;
        so.gtid = svc->start_gtid;
    }
    sl_source_t *src;
    char err[1024];
    int rc = sl_source_open(&src, &so, err, sizeof err);
    if (rc != 0) {
        snprintf(svc->err, sizeof svc->err, "%s", err);
        return rc == SL_ECONN ? SL_EAGAIN : rc;
    }
    const char *file;
    uint64_t pos;
    sl_source_position(src, &file, &pos);
    svc->sessions++;
    sl_log_info("replicating", "source=%s:%u version=\"%s\" file=%s pos=%llu",
                so.host, so.port, sl_source_version(src), file,
                (unsigned long long)pos);
    if ((rc = new_decoder(svc)) != 0) {
        sl_source_close(src);
        return rc;
    }
    if (svc->drift != NULL)
        sl_driftcheck_session(svc->drift);
    char cur_name[512] = "";
    for (;;) {
        if (stop_requested && !svc->in_trx) {
            rc = 0;
            break;
        }
        const uint8_t *ev;
        size_t len;
        rc = sl_source_next(src, &ev, &len, &file, &pos, err, sizeof err);
        if (rc != 0) {
            snprintf(svc->err, sizeof svc->err, "%s", err);
            if (rc == SL_ECONN || rc == SL_ECLOSED || rc == SL_ETIMEDOUT ||
                rc == SL_EPROTO)
                rc = SL_EAGAIN;
            break;
        }
        if (strcmp(cur_name, file) != 0) {
            snprintf(cur_name, sizeof cur_name, "%s", file);
            if ((rc = sl_binlog_set_file(svc->dec, file)) != 0)
                break;
        }
        uint64_t end;
        /* The connection's next position is where replication resumes
         * after this event: the same file for an ordinary event, the new
         * one after a ROTATE, unchanged after an artificial event. */
        sl_source_position(src, &svc->cur_file, &end);
        svc->cur_end = end;
        svc->cur_ts = sl_get_u32le(ev);
        if (ev[4] == 27 /* HEARTBEAT */ && !svc->in_trx)
            svc->last_event_ts = sl_wall_ms() / 1000; /* Caught up. */
        else if (svc->cur_ts != 0)
            svc->last_event_ts = svc->cur_ts;
        svc->events++;
        svc->bytes += len;
        /* A change callback that fails leaves its own message in
         * svc->err; otherwise the decoder's says what was wrong. */
        svc->err[0] = '\0';
        svc->boundary_done = 0;
        rc = sl_binlog_feed(svc->dec, ev, len, pos, 1);
        if (rc != 0) {
            if (svc->err[0] == '\0')
                snprintf(svc->err, sizeof svc->err, "%s",
                         sl_binlog_errmsg(svc->dec));
            break;
        }
        /* Between transactions, an event that stands alone (a binlog
         * checkpoint, a GTID list, a rotation) still moves the resume
         * point past it, so capture's checkpoint can reach the server's
         * end position. Events that open a transaction (GTIDs, ...) do
         * not: resuming after them would lose the transaction's GTID. */
        if (!svc->in_trx && !svc->boundary_done && pos != 0 &&
            standalone_event(ev[4]) && (rc = sl__svc_boundary_here(svc)) != 0)
            break;
        /* No batch spans two events, so a replay batches alike. */
        if ((rc = sl_publish_cut(svc->pub)) != 0) {
            snprintf(svc->err, sizeof svc->err, "%s",
                     sl_publish_error(svc->pub));
            break;
        }
        /* Between transactions, or on a heartbeat, flush what is queued
         * and save the resume point now and then. */
        if (!svc->in_trx &&
            (rc = sl_publish_sync(svc->pub, ev[4] == 27 /* HEARTBEAT */,
                                  checkpoint_ms)) != 0) {
            snprintf(svc->err, sizeof svc->err, "%s",
                     sl_publish_error(svc->pub));
            break;
        }
        /* Between transactions the history is that of capture's position:
         * compare it with the source when a check is due. */
        if (!svc->in_trx && svc->drift != NULL &&
            (rc = sl_driftcheck_step(svc->drift, svc->schema, svc->cur_file,
                                     svc->cur_end, svc->err,
                                     sizeof svc->err)) != 0) {
            const char *text = sl_driftcheck_report(svc->drift);
            if (text[0] != '\0')
                fprintf(stderr, "sluice-capture schema check:\n%s", text);
            break;
        }
        if (!svc->in_trx && svc->snap != NULL &&
            (rc = sl__svc_snap_step(svc)) != 0)
            break;
        report(svc, 0);
        sl_replay_tick(svc->rows);
        if (svc->stats != NULL &&
            sl_mono_ns() - svc->last_stats_ns > 500000000u)
            update_stats(svc);
        sl_capture_metrics_tick(svc->pub, svc->last_event_ts, svc->events,
                                svc->bytes, svc->rows, svc->filtered,
                                svc->sessions, &svc->part_rows);
    }
    sl_source_close(src);
    return rc;
}

/* Runs fn, retrying with backoff while the source cannot be reached (it
 * may be restarting): only a stop request or another error ends it. */
int sl__svc_with_source_retry(sl__svc_t *svc, int (*fn)(sl__svc_t *svc)) {
    unsigned backoff = 200;
    for (unsigned attempt = 0;; attempt++) {
        int rc = fn(svc);
        if (rc != SL_ECONN || stop_requested)
            return rc;
        if (attempt % 10 == 0)
            sl_log_warn("source unreachable; retrying", "error=\"%s\"",
                        svc->err);
        sleep_ms(backoff);
        backoff = backoff < 5000 ? backoff * 2 : 5000;
    }
}

static int run(sl__svc_t *svc) {
    int rc;
    if (strcmp(sl_config_get(&svc->cfg, "preflight"), "no") != 0 &&
        (rc = sl__svc_with_source_retry(svc, sl__svc_preflight)) != 0)
        return rc;
    const char *name = sl_config_get(&svc->cfg, "name");
    if (name == NULL)
        name = sl_config_get(&svc->cfg, "topic");
    uint64_t max_inflight, checkpoint_ms;
    if ((rc = sl_config_get_size(&svc->cfg, "max-inflight", &max_inflight)) !=
            0 ||
        (rc = sl_config_get_ms(&svc->cfg, "checkpoint-interval",
                               &checkpoint_ms)) != 0) {
        snprintf(svc->err, sizeof svc->err, "%s", svc->cfg.err);
        return rc;
    }
    sl_publish_opts_t popts = {
        .broker = sl_config_get(&svc->cfg, "broker"),
        .secret = svc->broker_secret,
        .broker_tls = svc->broker_tls_on ? &svc->broker_tls : NULL,
        .topic = sl_config_get(&svc->cfg, "topic"),
        .checkpoint_partition = name,
        .producer = sl__svc_producer_id(svc, name),
        .max_inflight = max_inflight,
        .props = (const char *const *)sl_config_get_list(&svc->cfg, "kafka-opt")
                     ->items,
        .nparts = svc->route.buckets,
    };
    sl_checkpoint_t cp;
    int have_cp = 0;
    if ((rc = sl_publish_open(&svc->pub, &popts, &stop_requested, &cp, &have_cp,
                              svc->err, sizeof svc->err)) != 0)
        return rc;
    if (have_cp) {
        sl_log_info("resuming from checkpoint",
                    "file=%s pos=%llu gtid=%s seq=%llu", cp.file,
                    (unsigned long long)cp.pos, cp.gtid[0] ? cp.gtid : "-",
                    (unsigned long long)cp.next_seq);
        sl_publish_set_seq(svc->pub, cp.next_seq);
    }
    const char *listen = sl_config_get(&svc->cfg, "stats-listen");
    if (listen != NULL &&
        (rc = sl_capstats_start(&svc->stats, listen, svc->stats_remote,
                                svc->err, sizeof svc->err)) != 0)
        return rc;
    snprintf(svc->schema_part, sizeof svc->schema_part, "%s.schema", name);
    svc->resume = have_cp ? &cp : NULL;
    if ((rc = sl__svc_with_source_retry(svc, sl__svc_init_schema)) != 0)
        return rc;
    if ((rc = sl__svc_snap_start(svc, name, have_cp ? &cp : NULL)) != 0)
        return rc;
    if (svc->drift_on) {
        sl_driftcheck_opts_t dopts = {
            .source = &svc->src_opts,
            .interval_ms = svc->drift_interval_ms,
            .want = sl__svc_want_table,
            .want_ctx = svc,
        };
        if ((rc = sl_driftcheck_new(&svc->drift, &dopts)) != 0)
            return rc;
    }
    svc->last_report_ns = sl_mono_ns();
    uint64_t first_seq = sl_publish_seq(svc->pub);
    unsigned backoff = 100;
    for (;;) {
        rc = run_session(svc, &cp, have_cp, checkpoint_ms);
        if (rc == SL_ESTOPPED && sl_replay_active())
            rc = 0; /* A replay reached the end of its files. */
        if (rc == SL_EGONE && have_cp && svc->snap_mode == SL_SNAP_WHEN_NEEDED)
            rc = sl__svc_snap_start_over(svc, &cp, &have_cp);
        sl_capture_metrics_down(rc != 0 ? svc->err : "stopping");
        if (rc != 0 && rc != SL_EAGAIN)
            return rc;
        /* Everything published must be acknowledged before the resume
         * point is trusted, whether stopping or reconnecting. */
        int prc = sl_publish_sync(svc->pub, 1, 0);
        if (prc != 0) {
            snprintf(svc->err, sizeof svc->err, "%s",
                     sl_publish_error(svc->pub));
            return prc;
        }
        report(svc, 1);
        if (rc == 0)
            return 0;
        if (stop_requested)
            return 0;
        /* Resume at the last boundary with the sequence it had there:
         * what was published after it is published again with the same
         * sequences, and the broker recognises it. */
        sl_log_warn("replication stream broke; resuming", "error=\"%s\"",
                    svc->err);
        if (sl_publish_last_checkpoint(svc->pub, &cp)) {
            have_cp = 1;
            uint64_t skip = 0;
            if (svc->snap != NULL &&
                (rc = sl_snap_restore(svc->snap, cp.snap, &skip, svc->err,
                                      sizeof svc->err)) != 0)
                return rc;
            sl_publish_set_seq(svc->pub, cp.next_seq + skip);
            if (svc->snap != NULL && (rc = sl__svc_snap_resume(svc, &cp)) != 0)
                return rc;
        } else {
            /* No checkpoint yet: replay from the start position with the
             * sequence the first run began with. */
            sl_publish_set_seq(svc->pub, first_seq);
        }
        svc->err[0] = '\0';
        sleep_ms(backoff);
        backoff = backoff < 5000 ? backoff * 2 : 5000;
    }
}

int sl_capture_service_main(int argc, char **argv) {
    sl__svc_t *svc = calloc(1, sizeof *svc);
    if (svc == NULL)
        return 1;
    sl_strmap_init(&svc->touched);
    sl_strmap_init(&svc->part_rows);
    svc->start_ns = sl_mono_ns();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    int status = 0;
    int rc = sl__svc_setup(svc, argc, argv);
    if (rc == SL_CONFIG_EXIT) {
        status = 0;
    } else if (rc != 0) {
        fprintf(stderr, "sluice-capture: %s\n", svc->err);
        status = 2;
    } else {
        rc = run(svc);
        if (rc != 0) {
            sl_log_error("capture stopped", "error=%s reason=\"%s\"",
                         sl_errname(rc), svc->err);
            status = 1;
        } else {
            sl_log_info("capture stopped cleanly", NULL);
        }
    }
    sl_binlog_free(svc->dec);
    sl_driftcheck_free(svc->drift);
    sl_snap_free(svc->snap);
    sl_snap_join_free(&svc->sjoin);
    sl_buf_free(&svc->snap_cov);
    sl_publish_free(svc->pub);
    sl_filter_free(svc->filter);
    sl_schema_free(svc->schema);
    sl_buf_free(&svc->record);
    sl_capstats_stop(svc->stats);
    sl_capture_metrics_stop();
    sl_strmap_free(&svc->touched);
    for (size_t i = 0; i < svc->part_rows.nbuckets; i++)
        for (sl_strmap_node_t *n = svc->part_rows.buckets[i]; n; n = n->next)
            free(n->value);
    sl_strmap_free(&svc->part_rows);
    sl_buf_free(&svc->stats_text);
    sl_buf_free(&svc->part);
    sl_buf_free(&svc->sql);
    sl_secret_free(svc->password);
    sl_secret_free(svc->broker_secret);
    free(svc->start_file);
    free(svc->start_gtid);
    sl_config_free(&svc->cfg);
    free(svc);
    return status;
}
