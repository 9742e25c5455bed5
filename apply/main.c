/*
 * sluice-apply: consumes the change events of a topic from sluice-broker
 * and applies them to a MySQL/MariaDB target (exactly once) and/or
 * invalidates Redis and memcached keys. See docs/apply.md.
 */
#include "apply/consume.h"
#include "apply/keytpl.h"
#include "apply/metrics.h"
#include "apply/mysql/reset.h"
#include "apply/mysql/sink.h"
#include "apply/pg/sink.h"
#include "apply/sink_cache.h"
#include "config.h"
#include "error.h"
#include "http.h"
#include "log.h"
#include "parse.h"
#include "program.h"
#include "secret.h"
#include "stream.h"
#include "tls.h"

#include <mysql.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const sl_opt_t opts[] = {
    {"broker", "127.0.0.1:8123", 0,
     "sluice-broker HOST:PORT, or kafka://HOST:PORT[,...] (docs/kafka.md)"},
    {"broker-secret-file", NULL, 0,
     "file holding the broker's shared secret (else $SLUICE_BROKER_SECRET)"},
    SL_TLS_BROKER_OPTIONS,
    {"kafka-opt", NULL, SL_OPT_MULTI,
     "KEY=VALUE librdkafka property (or sluice.*) for kafka:// brokers"},
    {"topic", NULL, 0, "topic to consume (required)"},
    {"group", "sluice-apply", 0, "consumer group (offsets are kept per group)"},
    {"workers", "4", 0, "worker threads; each partition has one owner"},
    {"partition", NULL, SL_OPT_MULTI,
     "consume only this partition (repeatable; default: all of the topic)"},
    {"start", "earliest", 0,
     "where to begin with no stored position: earliest or latest"},
    {"target", NULL, 0,
     "MySQL/MariaDB target mysql://USER@HOST:PORT/DB, or PostgreSQL "
     "postgresql://USER@HOST:PORT/DB (DB holds sluice_offsets)"},
    {"target-tls", "no", SL_OPT_FLAG,
     "require TLS to the target and verify its certificate and name"},
    {"target-tls-ca", NULL, 0,
     "CA file for the target's certificate (implies --target-tls; default: "
     "the system's)"},
    {"target-tls-insecure", "no", SL_OPT_FLAG,
     "TLS to the target WITHOUT verifying it (implies --target-tls)"},
    {"target-password-file", NULL, 0,
     "file with the target password (else $SLUICE_TARGET_PASSWORD)"},
    {"map", NULL, SL_OPT_MULTI, "database mapping SRC_DB=DST_DB (repeatable)"},
    {"drift", "overwrite", 0, "target drift policy: overwrite, skip or stop"},
    {"redis", NULL, 0, "Redis HOST:PORT to invalidate keys in"},
    {"redis-channel", NULL, 0, "also PUBLISH each invalidated key here"},
    {"redis-password-file", NULL, 0,
     "file with the Redis password (else $SLUICE_REDIS_PASSWORD)"},
    {"memcached", NULL, SL_OPT_MULTI,
     "memcached HOST:PORT to invalidate keys in (repeatable: the servers "
     "form one pool, keys placed by libmemcached's ketama)"},
    {"keys", NULL, 0,
     "key templates file (required with --redis or "
     "--memcached)"},
    {"fetch-bytes", "1MiB", 0, "bytes per broker fetch (bounds memory)"},
    {"poll", "1s", 0, "long-poll wait when idle"},
    {"group-rows", "20000", 0,
     "rows per target transaction when behind (never splits a source "
     "transaction)"},
    {"batch-bytes", "64KiB", 0, "SQL bytes per round trip to the target"},
    {"bulk", "yes", SL_OPT_FLAG,
     "send long runs of inserts and key-keeping updates to MariaDB targets "
     "as bulk executions (--bulk=no: SQL text only)"},
    {"stats-interval", "10s", 0, "period of the per-partition log lines"},
    {"stats-file", NULL, 0, "rewrite STAT lines to this file each period"},
    {"ddl-replay", "no", SL_OPT_FLAG,
     "run DDL events on the target (see docs/apply.md for the caveats)"},
    {"dead-letter", NULL, 0,
     "move events that fail permanently to this "
     "topic (same partition name) and continue"},
    {"open-trx-warn", "60s", 0,
     "warn (and repeat every period) when a source transaction has not "
     "ended for this long; 0: never"},
    {"open-trx-max", "1GiB", 0,
     "stop a partition whose open source transaction holds more change "
     "events than this (0: no bound)"},
    {"warm", "no", SL_OPT_FLAG,
     "snapshot rows (\"op\":\"read\") invalidate their cache keys too"},
    {"grace", "30s", 0,
     "on SIGTERM, time allowed to finish open "
     "transactions"},
    {"reset-to", NULL, 0,
     "rewind the target's offsets to earliest or a TIME, then exit "
     "(docs/replay.md)"},
    {"reset-confirm", "no", SL_OPT_FLAG,
     "--reset-to: move the offsets (without it, only shows them)"},
    {"create-tables-from", NULL, 0,
     "PostgreSQL target: create missing tables from their definition on "
     "this source mysql://USER@HOST:PORT (password: "
     "--create-tables-password-file or $SLUICE_SOURCE_PASSWORD)"},
    {"create-tables-password-file", NULL, 0,
     "file with the --create-tables-from password"},
    {"zero-dates", "null", 0,
     "PostgreSQL target: a zero date becomes null, or stop"},
    {"log-level", "info", 0, "debug, info, warn or error"},
    {"log-format", "text", 0, "text (logfmt) or json (one object a line)"},
    SL_HTTP_OPTS,
    {NULL, NULL, 0, NULL},
};

static const char synopsis[] = "sluice-apply --config FILE | --topic T "
                               "--target URL | --redis H:P ... [OPTIONS]";

static volatile int soft_stop, hard_stop;

static void on_signal(int sig) {
    (void)sig;
    if (soft_stop)
        hard_stop = 1;
    soft_stop = 1;
}

static int usage(sl_config_t *cfg, const char *msg) {
    fprintf(stderr, "sluice-apply: %s\n", msg);
    sl_config_free(cfg);
    return 2;
}

/* Checks the key templates of exact tables against the target's columns
 * (when a target is configured and reachable). */
static int validate_keys(const sl_keytpl_set_t *keys, const sl_mysql_opts_t *mo,
                         const char *password, const sl_dbmap_t *maps,
                         size_t nmaps) {
    const sl_mysql_url_t *url = &mo->url;
    MYSQL *m = mysql_init(NULL);
    unsigned int timeout = 5;
    mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    sl_mysql_set_tls(m, mo);
    if (mysql_real_connect(m, url->host, url->user, password, NULL, url->port,
                           NULL, 0) == NULL) {
        sl_log_warn("key templates not validated: target unreachable",
                    "error=\"%s\"", mysql_error(m));
        mysql_close(m);
        return 0;
    }
    int rc = 0;
    for (size_t i = 0; i < sl_keytpl_count(keys) && rc == 0; i++) {
        const char *db, *table;
        if (sl_keytpl_names(keys, i, &db, &table))
            continue;
        const char *dst = db;
        for (size_t k = 0; k < nmaps; k++)
            if (strcmp(maps[k].src, db) == 0)
                dst = maps[k].dst;
        char edb[600], etb[600], q[1500];
        mysql_real_escape_string(m, edb, dst, strlen(dst));
        mysql_real_escape_string(m, etb, table, strlen(table));
        snprintf(q, sizeof q,
                 "SELECT COLUMN_NAME FROM "
                 "information_schema.COLUMNS WHERE TABLE_SCHEMA='%s' AND "
                 "TABLE_NAME='%s'",
                 edb, etb);
        MYSQL_RES *res = NULL;
        if (mysql_query(m, q) != 0 || (res = mysql_store_result(m)) == NULL)
            break;
        size_t n = mysql_num_rows(res);
        const char **cols = calloc(n ? n : 1, sizeof *cols);
        MYSQL_ROW row;
        size_t k = 0;
        while (cols && (row = mysql_fetch_row(res)) != NULL)
            cols[k++] = row[0];
        if (n == 0) {
            /* Names may hold spaces and quotes: quoted as log values. */
            char qd[600], qt[600];
            sl_log_warn("key templates for a table the target does not have",
                        "db=%s table=%s", sl_log_quote(dst, qd, sizeof qd),
                        sl_log_quote(table, qt, sizeof qt));
        } else {
            char err[512];
            if (sl_keytpl_validate(sl_keytpl_at(keys, i), cols, k, err,
                                   sizeof err) != 0) {
                fprintf(stderr, "sluice-apply: %s\n", err);
                rc = SL_ECONFIG;
            }
        }
        free(cols);
        mysql_free_result(res);
    }
    mysql_close(m);
    return rc;
}

int main(int argc, char **argv) {
    sl_config_t cfg;
    int err = sl_program_args(&cfg, "sluice-apply", synopsis, opts, argc, argv);
    if (err != SL_PROGRAM_RUN)
        return err;
    if (cfg.args.count > 0)
        return usage(&cfg, "unexpected positional argument");
    if (sl_program_log_level(&cfg) != 0)
        return usage(&cfg, "--log-level must be debug, info, warn or error, "
                           "--log-format text or json");

    sl_consume_opts_t co;
    memset(&co, 0, sizeof co);
    co.broker = sl_config_get(&cfg, "broker");
    co.topic = sl_config_get(&cfg, "topic");
    co.group = sl_config_get(&cfg, "group");
    if (co.topic == NULL)
        return usage(&cfg, "--topic is required");
    char host[256];
    uint16_t port;
    co.props =
        (const char *const *)sl_config_get_list(&cfg, "kafka-opt")->items;
    if (strncmp(co.broker, "kafka://", 8) != 0 &&
        sl_parse_hostport(co.broker, host, sizeof host, &port) != 0)
        return usage(&cfg, "--broker must be HOST:PORT or kafka://HOST:PORT");
    if (strncmp(co.broker, "kafka://", 8) == 0) {
        /* The Kafka settings are checked now (opening connects nowhere),
         * not retried for ever by the workers. */
        sl_stream_opts_t so = {.props = co.props};
        sl_stream_t *probe = NULL;
        if (sl_stream_open(co.broker, &so, &probe) != 0)
            return usage(&cfg, "bad kafka:// address or --kafka-opt (the "
                               "log line above says which)");
        sl_stream_close(probe);
    }
    uint64_t v;
    if (sl_config_get_u64(&cfg, "workers", &v) != 0 || v < 1 || v > 1024)
        return usage(&cfg, "--workers must be 1..1024");
    co.workers = (unsigned)v;
    const char *start = sl_config_get(&cfg, "start");
    if (strcmp(start, "earliest") != 0 && strcmp(start, "latest") != 0)
        return usage(&cfg, "--start must be earliest or latest");
    co.start_latest = strcmp(start, "latest") == 0;
    if (sl_config_is_set(&cfg, "partition"))
        co.only = sl_config_get_list(&cfg, "partition");
    if (sl_config_get_size(&cfg, "fetch-bytes", &co.fetch_bytes) != 0 ||
        sl_config_get_ms(&cfg, "poll", &co.poll_ms) != 0 ||
        sl_config_get_u64(&cfg, "group-rows", &co.group_rows) != 0 ||
        sl_config_get_ms(&cfg, "stats-interval", &co.stats_ms) != 0 ||
        sl_config_get_ms(&cfg, "grace", &co.grace_ms) != 0 ||
        sl_config_get_ms(&cfg, "open-trx-warn", &co.open_trx_warn_ms) != 0)
        return usage(&cfg, cfg.err);
    if (co.fetch_bytes < 1024 || co.group_rows < 1)
        return usage(&cfg, "--fetch-bytes must be at least 1KiB and "
                           "--group-rows at least 1");
    co.stats_file = sl_config_get(&cfg, "stats-file");
    co.dead_letter = sl_config_get(&cfg, "dead-letter");
    if (sl_config_get_bool(&cfg, "ddl-replay", &co.ddl_replay) != 0)
        return usage(&cfg, cfg.err);
    /* Snapshots (issue 17): the open-transaction bound and --warm. */
    if (sl_config_get_size(&cfg, "open-trx-max", &co.open_trx_max_bytes) != 0 ||
        sl_config_get_bool(&cfg, "warm", &co.warm) != 0)
        return usage(&cfg, cfg.err);
    if (co.ddl_replay && !sl_config_is_set(&cfg, "target"))
        return usage(&cfg, "--ddl-replay needs --target");
    if (co.dead_letter != NULL && strcmp(co.dead_letter, co.topic) == 0)
        return usage(&cfg, "--dead-letter must differ from --topic");
    char errbuf[512];
    char *secret = NULL;
    /* Refused at start, not when the broker answers the auth line. */
    if ((err = sl_program_broker_secret(&cfg, "broker-secret-file",
                                        "the broker secret "
                                        "(--broker-secret-file or "
                                        "SLUICE_BROKER_SECRET)",
                                        2, &secret)) != 0) {
        sl_config_free(&cfg);
        return err;
    }
    co.secret = secret;
    sl_tls_opts_t broker_tls;
    int broker_tls_on = 0;
    if (sl_tls_broker_config(&cfg, &broker_tls, &broker_tls_on, errbuf,
                             sizeof errbuf) != 0) {
        sl_secret_free(secret);
        return usage(&cfg, errbuf);
    }
    co.broker_tls = broker_tls_on ? &broker_tls : NULL;

    /* The MySQL target. */
    sl_mysql_opts_t mo;
    memset(&mo, 0, sizeof mo);
    char *tpass = NULL;
    sl_dbmap_t maps[256];
    size_t nmaps = 0;
    const char *target = sl_config_get(&cfg, "target");
    /* A PostgreSQL target: the same consumer, through apply/target.h. */
    sl_pg_opts_t po;
    memset(&po, 0, sizeof po);
    char *cpass = NULL;
    int pg = target != NULL && sl_pg_url_is_pg(target);
    if (pg) {
        if (sl_pg_url_parse(target, &po.url) != 0)
            return usage(&cfg, "--target must be postgresql://USER@HOST:PORT/"
                               "DB[?sslmode=M&sslrootcert=FILE] (the password "
                               "comes from --target-password-file or "
                               "SLUICE_TARGET_PASSWORD)");
        const char *zd = sl_config_get(&cfg, "zero-dates");
        if (strcmp(zd, "null") != 0 && strcmp(zd, "stop") != 0)
            return usage(&cfg, "--zero-dates must be null or stop");
        po.zero_dates =
            strcmp(zd, "stop") == 0 ? SL_PG_ZERO_STOP : SL_PG_ZERO_NULL;
        const char *ctf = sl_config_get(&cfg, "create-tables-from");
        if (ctf != NULL && sl_pg_source_parse(ctf, &po.source) != 0)
            return usage(&cfg, "--create-tables-from must be "
                               "mysql://USER@HOST:PORT");
        if (ctf != NULL &&
            sl_secret_load(sl_config_get(&cfg, "create-tables-password-file"),
                           "SLUICE_SOURCE_PASSWORD", &cpass, errbuf,
                           sizeof errbuf) != 0)
            return usage(&cfg, errbuf);
        po.create_tables = ctf != NULL;
        po.source_password = cpass;
        if (co.ddl_replay)
            return usage(&cfg, "--ddl-replay is not supported with a "
                               "PostgreSQL target");
        mo.ops = &sl_pg_target_ops;
        mo.ops_arg = &po;
    }
    if (target != NULL) {
        if (!pg && sl_mysql_url_parse(target, &mo.url) != 0)
            return usage(&cfg, "--target must be mysql://USER@HOST:PORT/DB "
                               "(the password comes from "
                               "--target-password-file or "
                               "SLUICE_TARGET_PASSWORD)");
        if (sl_secret_load(sl_config_get(&cfg, "target-password-file"),
                           "SLUICE_TARGET_PASSWORD", &tpass, errbuf,
                           sizeof errbuf) != 0)
            return usage(&cfg, errbuf);
        mo.password = tpass;
        po.password = tpass;
        mo.tls_ca = sl_config_get(&cfg, "target-tls-ca");
        if (sl_config_get_bool(&cfg, "target-tls", &mo.tls) != 0 ||
            sl_config_get_bool(&cfg, "target-tls-insecure", &mo.tls_insecure) !=
                0)
            return usage(&cfg, cfg.err);
        if (mo.tls_insecure && mo.tls_ca != NULL)
            return usage(&cfg, "--target-tls-insecure skips the check "
                               "--target-tls-ca is for: give one of them");
        mo.tls = mo.tls || mo.tls_insecure || mo.tls_ca != NULL;
        /* libpq takes its TLS settings from the URL (sslmode,
         * sslrootcert); the MySQL flags would be silently ignored there. */
        if (pg && mo.tls)
            return usage(&cfg, "--target-tls* are for MySQL/MariaDB targets; "
                               "a PostgreSQL target takes ?sslmode=verify-full"
                               "&sslrootcert=FILE in its URL");
        if (sl_drift_parse(sl_config_get(&cfg, "drift"), &mo.drift) != 0)
            return usage(&cfg, "--drift must be overwrite, skip or stop");
        const sl_strlist_t *ml = sl_config_get_list(&cfg, "map");
        for (size_t i = 0; ml && i < ml->count; i++) {
            char *eq = strchr(ml->items[i], '=');
            if (eq == NULL || eq == ml->items[i] || eq[1] == '\0' ||
                nmaps == 256)
                return usage(&cfg, "--map must be SRC_DB=DST_DB");
            *eq = '\0';
            maps[nmaps].src = ml->items[i];
            maps[nmaps].dst = eq + 1;
            nmaps++;
        }
        mo.maps = maps;
        mo.nmaps = nmaps;
        mo.group = co.group;
        mo.topic = co.topic;
        uint64_t bb;
        if (sl_config_get_size(&cfg, "batch-bytes", &bb) != 0)
            return usage(&cfg, cfg.err);
        mo.batch_bytes = bb;
        int bulk = 1;
        if (sl_config_get_bool(&cfg, "bulk", &bulk) != 0)
            return usage(&cfg, cfg.err);
        mo.text_only = !bulk;
        co.mysql = &mo;
    } else if (sl_config_is_set(&cfg, "map")) {
        return usage(&cfg, "--map needs --target");
    }
    if (sl_config_is_set(&cfg, "reset-to")) { /* apply/mysql/reset.c */
        int confirm = 0;
        if (co.mysql == NULL ||
            sl_config_get_bool(&cfg, "reset-confirm", &confirm) != 0)
            return usage(&cfg, "--reset-to needs --target");
        char rerr[1024] = "";
        int st = sl_mysql_reset_offsets(&mo, co.broker, secret, co.broker_tls,
                                        sl_config_get(&cfg, "reset-to"),
                                        confirm, rerr, sizeof rerr);
        if (rerr[0] != '\0')
            fprintf(stderr, "sluice-apply: %s\n", rerr);
        sl_secret_free(tpass);
        sl_secret_free(secret);
        sl_config_free(&cfg);
        return st;
    }

    /* Caches. */
    co.redis = sl_config_get(&cfg, "redis");
    const sl_strlist_t *mcl = sl_config_get_list(&cfg, "memcached");
    if (mcl != NULL && mcl->count > 0) {
        co.memcached = (const char *const *)mcl->items;
        co.nmemcached = mcl->count;
    }
    co.redis_channel = sl_config_get(&cfg, "redis-channel");
    char *rpass = NULL;
    sl_keytpl_set_t *keys = NULL;
    if (co.redis != NULL &&
        sl_parse_hostport(co.redis, host, sizeof host, &port) != 0)
        return usage(&cfg, "--redis must be HOST:PORT");
    for (size_t i = 0; i < co.nmemcached; i++) {
        if (sl_parse_hostport(co.memcached[i], host, sizeof host, &port) != 0)
            return usage(&cfg, "--memcached must be HOST:PORT");
        for (size_t k = 0; k < i; k++)
            if (strcmp(co.memcached[k], co.memcached[i]) == 0)
                return usage(&cfg, "--memcached names the same server "
                                   "twice");
    }
    if (co.nmemcached > 0) {
        /* Checks the pool once here (a failure in a worker is fatal). */
        sl_mc_sink_t *probe;
        if (sl_mc_sink_new(co.memcached, co.nmemcached, &probe) != 0)
            return usage(&cfg, "--memcached: cannot build the server pool");
        sl_mc_sink_free(probe);
    }
    if (co.redis != NULL || co.memcached != NULL) {
        const char *kf = sl_config_get(&cfg, "keys");
        if (kf == NULL)
            return usage(&cfg, "--redis and --memcached need --keys FILE");
        if (sl_keytpl_load(kf, &keys, errbuf, sizeof errbuf) != 0)
            return usage(&cfg, errbuf);
        co.keys = keys;
        if (sl_secret_load(sl_config_get(&cfg, "redis-password-file"),
                           "SLUICE_REDIS_PASSWORD", &rpass, errbuf,
                           sizeof errbuf) != 0)
            return usage(&cfg, errbuf);
        co.redis_password = rpass;
    } else if (sl_config_is_set(&cfg, "keys")) {
        return usage(&cfg, "--keys needs --redis or --memcached");
    }
    if (co.mysql == NULL && co.redis == NULL && co.memcached == NULL)
        return usage(&cfg, "nothing to apply to: give --target, --redis or "
                           "--memcached");
    if (keys != NULL && co.mysql != NULL && !pg &&
        validate_keys(keys, &mo, tpass, maps, nmaps) != 0) {
        sl_keytpl_free(keys);
        sl_config_free(&cfg);
        return 1;
    }

    if (sl_apply_metrics_start(&cfg, errbuf, sizeof errbuf) != 0) {
        sl_keytpl_free(keys);
        return usage(&cfg, errbuf);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    sl_log_info("sluice-apply started",
                "broker=%s topic=%s group=%s workers=%u target=%s redis=%s "
                "memcached=%s memcached_servers=%zu",
                co.broker, co.topic, co.group, co.workers,
                target ? target : "-", co.redis ? co.redis : "-",
                co.memcached ? co.memcached[0] : "-", co.nmemcached);
    err = sl_consume_run(&co, &soft_stop, &hard_stop);
    if (err != 0)
        sl_log_error("sluice-apply failed", "error=\"%s\"", sl_strerror(err));
    else
        sl_log_info("sluice-apply stopped", NULL);
    sl_apply_metrics_stop();
    sl_keytpl_free(keys);
    sl_secret_free(tpass);
    sl_secret_free(cpass);
    sl_secret_free(rpass);
    sl_secret_free(secret);
    sl_config_free(&cfg);
    return err == 0 ? 0 : 1;
}
