/* The live capture service's command line and settings: the options,
 * their checks, the producer id, and the source's preflight; see
 * service.h. */
#include "service_int.h"

#include "capture/metrics.h"
#include "capture/snapshot/snapshot.h"
#include "error.h"
#include "hash.h"
#include "http.h"
#include "log.h"
#include "parse.h"
#include "preflight.h"
#include "replay.h"
#include "secret.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const sl_opt_t opts_table[] = {
    {"source", NULL, 0, "mysql://USER@HOST:PORT of the server to replicate"},
    {"password-file", NULL, 0,
     "file holding the source password (else $SLUICE_SOURCE_PASSWORD)"},
    {"server-id", "54321", 0, "replica server id, unique in the topology"},
    {"broker", "127.0.0.1:8123", 0,
     "sluice-broker HOST:PORT, or kafka://HOST:PORT[,...] (docs/kafka.md)"},
    {"broker-secret-file", NULL, 0,
     "file holding the broker's shared secret (else $SLUICE_BROKER_SECRET)"},
    SL_TLS_BROKER_OPTIONS,
    {"kafka-opt", NULL, SL_OPT_MULTI,
     "KEY=VALUE librdkafka property (or sluice.*) for kafka:// brokers"},
    {"topic", "sluice", 0, "topic the change events go to"},
    {"name", NULL, 0,
     "this capture's name: its checkpoint and producer id (default: topic)"},
    {"include", NULL, SL_OPT_MULTI, "capture only db.table matching REGEX"},
    {"exclude", NULL, SL_OPT_MULTI, "never capture db.table matching REGEX"},
    {"exclude-column", NULL, SL_OPT_MULTI,
     "drop columns db.table.column matching REGEX"},
    {"partition-by", "table", 0, "table, database, server or key:N"},
    {"start", "end", 0,
     "where to start without a checkpoint: end, FILE:POS or a GTID"},
    {"heartbeat", "1s", 0, "source heartbeat period"},
    {"timeout", "10s", 0, "silence (no event, no heartbeat) before reconnect"},
    {"checkpoint-interval", "200ms", 0, "how often the resume point is saved"},
    {"max-inflight", "64MiB", 0, "unacknowledged bytes before pausing"},
    {"tls", "no", SL_OPT_FLAG,
     "require TLS to the source, verifying its certificate and name"},
    {"tls-ca", NULL, 0,
     "CA file to verify the source's certificate (default: the system's)"},
    {"tls-insecure", "no", SL_OPT_FLAG,
     "TLS to the source WITHOUT verifying its certificate (implies --tls)"},
    {"preflight", "yes", 0, "check the source's settings before starting"},
    {"schema-check", "yes", 0,
     "compare the schema history with the source's information_schema "
     "when caught up; a difference stops capture"},
    {"schema-check-interval", "60s", 0,
     "how often the schema check runs besides at start and after DDL (0: "
     "only then)"},
    {"report-interval", "5s", 0, "how often progress is logged"},
    {"stats-listen", NULL, 0,
     "serve `stats` (memcached-style) on this HOST:PORT, e.g. 127.0.0.1:8124"},
    {"stats-allow-remote", "no", SL_OPT_FLAG,
     "let --stats-listen bind a non-loopback address (it has no auth)"},
    SL_HTTP_OPTS,
    {"skip-event-type", NULL, SL_OPT_MULTI,
     "event type number to skip deliberately instead of failing on it"},
    {"from-file", NULL, SL_OPT_MULTI,
     "decode binlog files offline instead (`sluice-capture --from-file F "
     "--help` lists that mode's options)"},
    {"format", "sluice", 0,
     "event format: sluice, debezium, maxwell or canal "
     "(docs/change-events.md)"},
    {"debezium-schemas", "no", SL_OPT_FLAG,
     "debezium format: wrap events and keys in their schemas"},
    {"debezium-include-query", "no", SL_OPT_FLAG,
     "debezium format: source.query holds the statement where the binlog "
     "has it"},
    {"log-level", "info", 0, "debug, info, warn or error"},
    {"log-format", "text", 0, "text (logfmt) or json (one object a line)"},
    {"snapshot", "initial", 0,
     "initial (first start: snapshot every captured table, then stream), "
     "never, or when_needed (also when the checkpoint's position was "
     "purged); docs/snapshot.md"},
    {"snapshot-chunk", "4096", 0, "rows of the first snapshot chunk"},
    {"snapshot-chunk-min", "256", 0, "fewest rows per snapshot chunk"},
    {"snapshot-chunk-max", "65536", 0, "most rows per snapshot chunk"},
    {"snapshot-chunk-time", "250ms", 0,
     "target read time of a chunk; its size adapts (0: fixed size)"},
    {"snapshot-rate", "0", 0,
     "most snapshot rows read per second (0: no limit)"},
    {"snapshot-max-threads-running", "0", 0,
     "pause the snapshot while the source's Threads_running is above this "
     "(0: never)"},
    {"snapshot-copy", "no", 0,
     "copy tables in one consistent read instead of chunks (MariaDB): no, "
     "keyless (tables without a primary key) or all (no watermark writes)"},
    {"snapshot-max-replica-lag", "0", 0,
     "pause the snapshot while the source (a replica) lags more than this "
     "(0: never)"},
    {NULL, NULL, 0, NULL},
};

/* Parses mysql://USER@HOST:PORT. A password in the URL is refused: it
 * would show in `ps`. */
static int parse_source(sl__svc_t *svc, const char *url) {
    const char *p = url;
    if (strncmp(p, "mysql://", 8) == 0)
        p += 8;
    else if (strncmp(p, "mariadb://", 10) == 0)
        p += 10;
    const char *at = strchr(p, '@');
    if (at == NULL) {
        snprintf(svc->err, sizeof svc->err,
                 "--source must be mysql://USER@HOST:PORT");
        return SL_EUSAGE;
    }
    size_t ulen = (size_t)(at - p);
    if (memchr(p, ':', ulen) != NULL) {
        snprintf(svc->err, sizeof svc->err,
                 "--source must not contain a password (it would be visible "
                 "in ps); use --password-file or $SLUICE_SOURCE_PASSWORD");
        return SL_EUSAGE;
    }
    if (ulen == 0 || ulen >= sizeof svc->user) {
        snprintf(svc->err, sizeof svc->err, "--source: bad user name");
        return SL_EUSAGE;
    }
    memcpy(svc->user, p, ulen);
    svc->user[ulen] = '\0';
    char hostport[300];
    snprintf(hostport, sizeof hostport, "%s", at + 1);
    char *slash = strchr(hostport, '/');
    if (slash != NULL)
        *slash = '\0';
    if (strchr(hostport, ':') == NULL)
        strncat(hostport, ":3306", sizeof hostport - strlen(hostport) - 1);
    if (sl_parse_hostport(hostport, svc->host, sizeof svc->host,
                          &svc->src_opts.port) != 0) {
        snprintf(svc->err, sizeof svc->err, "--source: bad HOST:PORT '%s'",
                 hostport);
        return SL_EUSAGE;
    }
    return 0;
}

static int all_of(const char *p, size_t n, const char *set) {
    for (size_t i = 0; i < n; i++)
        if (strchr(set, p[i]) == NULL)
            return 0;
    return n > 0;
}

/* --start: "end", "FILE:POS", a MariaDB GTID list "D-S-N[,D-S-N]" or a
 * MySQL GTID set "uuid:1-5[:tag:1-3][,...]". */
static int parse_start(sl__svc_t *svc, const char *text) {
    if (strcmp(text, "end") == 0)
        return 0;
    size_t len = strlen(text);
    if (all_of(text, len, "0123456789-,") && strchr(text, '-') != NULL) {
        svc->start_gtid = strdup(text);
        return svc->start_gtid ? 0 : SL_ENOMEM;
    }
    const char *colon = strrchr(text, ':');
    if (len > 36 && text[8] == '-' && text[13] == '-' && text[36] == ':') {
        svc->start_gtid = strdup(text);
        return svc->start_gtid ? 0 : SL_ENOMEM;
    }
    if (colon != NULL && colon != text &&
        all_of(colon + 1, strlen(colon + 1), "0123456789")) {
        svc->start_file = strndup(text, (size_t)(colon - text));
        if (svc->start_file == NULL)
            return SL_ENOMEM;
        return sl_parse_u64(colon + 1, &svc->start_pos);
    }
    snprintf(svc->err, sizeof svc->err,
             "--start '%s' is not end, FILE:POS or a GTID position", text);
    return SL_EUSAGE;
}

/* The producer id: a hash of the capture name and of every setting that
 * decides which messages exist and where they go, so a replay after a
 * configuration change is a new producer instead of a false duplicate. */
int64_t sl__svc_producer_id(sl__svc_t *svc, const char *name) {
    sl_buf_t buf = SL_BUF_INIT;
    static const char *keys[] = {"include", "exclude", "exclude-column"};
    sl_buf_printf(&buf, "%s\n%s\n%s\n", name, sl_config_get(&svc->cfg, "topic"),
                  sl_config_get(&svc->cfg, "partition-by"));
    sl_buf_printf(&buf, "%s", sl_replay_identity()); /* replay.h */
    for (size_t k = 0; k < 3; k++) {
        const sl_strlist_t *list = sl_config_get_list(&svc->cfg, keys[k]);
        for (size_t i = 0; i < list->count; i++)
            sl_buf_printf(&buf, "%s=%s\n", keys[k], list->items[i]);
    }
    /* The broker takes producer ids below 2^48. */
    int64_t id =
        (int64_t)(sl_hash_fnv1a(buf.data, buf.len) & ((UINT64_C(1) << 48) - 1));
    sl_buf_free(&buf);
    return id;
}

int sl__svc_setup(sl__svc_t *svc, int argc, char **argv) {
    int rc;
    if ((rc = sl_config_init(&svc->cfg, "sluice-capture",
                             "sluice-capture --source mysql://USER@HOST:PORT "
                             "[OPTIONS]\n       sluice-capture --from-file "
                             "FILE... (offline decoding)",
                             opts_table)) != 0)
        return rc;
    rc = sl_config_parse_args(&svc->cfg, argc, argv);
    if (rc != 0) {
        if (rc != SL_CONFIG_EXIT)
            snprintf(svc->err, sizeof svc->err, "%s", svc->cfg.err);
        return rc;
    }
    sl_log_level_t level;
    if (sl_log_parse_level(sl_config_get(&svc->cfg, "log-level"), &level) !=
        0) {
        snprintf(svc->err, sizeof svc->err, "--log-level: unknown level");
        return SL_EUSAGE;
    }
    sl_log_set_level(level);
    sl_log_format_t format;
    if (sl_log_parse_format(sl_config_get(&svc->cfg, "log-format"), &format) !=
        0) {
        snprintf(svc->err, sizeof svc->err, "--log-format: text or json");
        return SL_EUSAGE;
    }
    sl_log_set_format(format);
    if ((rc = sl_capture_metrics_start(&svc->cfg, svc->err, sizeof svc->err)) !=
        0)
        return rc;
    const char *source = sl_config_get(&svc->cfg, "source");
    if (source == NULL) {
        snprintf(svc->err, sizeof svc->err, "--source is required");
        return SL_EUSAGE;
    }
    if ((rc = parse_source(svc, source)) != 0)
        return rc;
    if ((rc = parse_start(svc, sl_config_get(&svc->cfg, "start"))) != 0)
        return rc;
    uint64_t server_id, heartbeat, timeout;
    if ((rc = sl_config_get_u64(&svc->cfg, "server-id", &server_id)) != 0 ||
        (rc = sl_config_get_ms(&svc->cfg, "heartbeat", &heartbeat)) != 0 ||
        (rc = sl_config_get_ms(&svc->cfg, "timeout", &timeout)) != 0 ||
        (rc = sl_config_get_bool(&svc->cfg, "tls", &svc->src_opts.tls)) != 0 ||
        (rc = sl_config_get_bool(&svc->cfg, "stats-allow-remote",
                                 &svc->stats_remote)) != 0 ||
        (rc = sl_config_get_bool(&svc->cfg, "schema-check", &svc->drift_on)) !=
            0 ||
        (rc = sl_config_get_ms(&svc->cfg, "schema-check-interval",
                               &svc->drift_interval_ms)) != 0) {
        snprintf(svc->err, sizeof svc->err, "%s", svc->cfg.err);
        return SL_EUSAGE;
    }
    if (server_id == 0 || server_id > UINT32_MAX) {
        snprintf(svc->err, sizeof svc->err,
                 "--server-id must be between 1 and 4294967295");
        return SL_EUSAGE;
    }
    if (timeout <= heartbeat) {
        snprintf(svc->err, sizeof svc->err,
                 "--timeout must be longer than --heartbeat");
        return SL_EUSAGE;
    }
    char errbuf[512];
    if ((rc = sl_secret_load(sl_config_get(&svc->cfg, "password-file"),
                             "SLUICE_SOURCE_PASSWORD", &svc->password, errbuf,
                             sizeof errbuf)) != 0 ||
        (rc = sl_secret_load(sl_config_get(&svc->cfg, "broker-secret-file"),
                             "SLUICE_BROKER_SECRET", &svc->broker_secret,
                             errbuf, sizeof errbuf)) != 0) {
        snprintf(svc->err, sizeof svc->err, "%s", errbuf);
        return SL_EUSAGE;
    }
    /* A secret the auth line cannot carry would only be found when the
     * broker refuses it, after the source connection: refuse it now. */
    if (svc->broker_secret != NULL &&
        sl_secret_check_token(svc->broker_secret,
                              "the broker secret (--broker-secret-file or "
                              "SLUICE_BROKER_SECRET)",
                              errbuf, sizeof errbuf) != 0) {
        snprintf(svc->err, sizeof svc->err, "%s", errbuf);
        return SL_EUSAGE;
    }
    if (sl_tls_broker_config(&svc->cfg, &svc->broker_tls, &svc->broker_tls_on,
                             svc->err, sizeof svc->err) != 0)
        return SL_EUSAGE;
    svc->src_opts.host = svc->host;
    svc->src_opts.user = svc->user;
    svc->src_opts.password = svc->password;
    svc->src_opts.server_id = (uint32_t)server_id;
    svc->src_opts.heartbeat_ms = (uint32_t)heartbeat;
    svc->src_opts.timeout_ms = (uint32_t)timeout;
    svc->src_opts.tls_ca = sl_config_get(&svc->cfg, "tls-ca");
    if (sl_config_get_bool(&svc->cfg, "tls-insecure",
                           &svc->src_opts.tls_insecure) != 0) {
        snprintf(svc->err, sizeof svc->err, "%s", svc->cfg.err);
        return SL_EUSAGE;
    }
    if (svc->src_opts.tls_insecure && svc->src_opts.tls_ca != NULL) {
        snprintf(svc->err, sizeof svc->err,
                 "--tls-insecure skips the check --tls-ca is for: give one "
                 "of them");
        return SL_EUSAGE;
    }
    if (svc->src_opts.tls_ca != NULL || svc->src_opts.tls_insecure)
        svc->src_opts.tls = 1;
    if (sl_route_parse(sl_config_get(&svc->cfg, "partition-by"), &svc->route) !=
        0) {
        snprintf(svc->err, sizeof svc->err,
                 "--partition-by must be table, database, server or key:N");
        return SL_EUSAGE;
    }
    sl_binlog_format_t event_format;
    if (sl_binlog_format_parse(sl_config_get(&svc->cfg, "format"),
                               &event_format)) {
        snprintf(svc->err, sizeof svc->err,
                 "--format must be sluice, debezium, maxwell or canal");
        return SL_EUSAGE;
    }
    const sl_strlist_t *inc = sl_config_get_list(&svc->cfg, "include");
    const sl_strlist_t *exc = sl_config_get_list(&svc->cfg, "exclude");
    const sl_strlist_t *col = sl_config_get_list(&svc->cfg, "exclude-column");
    if ((rc = sl_filter_new(&svc->filter, (const char *const *)inc->items,
                            inc->count, (const char *const *)exc->items,
                            exc->count, (const char *const *)col->items,
                            col->count, svc->err, sizeof svc->err)) != 0)
        return SL_EUSAGE;
    if (sl_snap_mode_parse(sl_config_get(&svc->cfg, "snapshot"),
                           &svc->snap_mode) != 0) {
        snprintf(svc->err, sizeof svc->err,
                 "--snapshot must be initial, never or when_needed");
        return SL_EUSAGE;
    }
    const sl_strlist_t *skip = sl_config_get_list(&svc->cfg, "skip-event-type");
    for (size_t i = 0; i < skip->count; i++) {
        uint64_t type;
        if (sl_parse_u64(skip->items[i], &type) != 0 || type > 255) {
            snprintf(svc->err, sizeof svc->err,
                     "--skip-event-type '%s' is not an event type number",
                     skip->items[i]);
            return SL_EUSAGE;
        }
        svc->skip[svc->nskip++] = (uint8_t)type;
    }
    return 0;
}

/* Checks the source's settings (see preflight.h); problems stop capture
 * with the report on stderr. */
int sl__svc_preflight(sl__svc_t *svc) {
    int rc;
    sl_buf_t report_buf = SL_BUF_INIT;
    sl_preflight_result_t result;
    char err[1024];
    rc =
        sl_preflight_run(&svc->src_opts, &report_buf, &result, err, sizeof err);
    const char *text = "";
    sl_buf_cstr(&report_buf, &text);
    if (rc == 0 && (result.errors || result.warnings))
        fprintf(stderr, "sluice-capture preflight:\n%s", text);
    sl_buf_free(&report_buf);
    if (rc != 0) {
        snprintf(svc->err, sizeof svc->err, "%s", err);
        return rc;
    }
    if (result.errors > 0) {
        snprintf(svc->err, sizeof svc->err,
                 "preflight found %d problem(s) on the source; fix them "
                 "and start again",
                 result.errors);
        return SL_ECONFIG;
    }
    return 0;
}
