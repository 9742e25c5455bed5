/*
 * sluice-broker: the durable ordered-log broker. Parses its configuration,
 * opens and recovers the store, serves the text protocol on libuv, and on
 * SIGTERM/SIGINT stops accepting, drains what is staged (acks included),
 * writes a checkpoint and exits 0.
 */
#include "broker/kafka/kafka.h"
#include "broker/metrics.h"
#include "broker/server.h"
#include "broker/store.h"
#include "config.h"
#include "error.h"
#include "http.h"
#include "log.h"
#include "parse.h"
#include "program.h"
#include "secret.h"
#include "signals.h"

#include <inttypes.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const sl_opt_t opts[] = {
    {"listen", "127.0.0.1:8123", 0, "HOST:PORT to listen on"},
    {"allow-remote", "no", SL_OPT_FLAG,
     "allow listening on an address other than loopback (requires a secret: "
     "broker-secret-file or SLUICE_BROKER_SECRET)"},
    {"allow-remote-insecure", "no", SL_OPT_FLAG,
     "allow listening on an address other than loopback WITHOUT a secret "
     "(anyone who can reach the port can read and write every partition)"},
    {"kafka-listen", "127.0.0.1:9092", 0,
     "HOST:PORT of the Kafka listener, or off (docs/kafka.md); the same "
     "allow-remote rules as --listen. When the default address is busy the "
     "broker runs without it; an address given that is busy is fatal"},
    {"kafka-advertised", NULL, 0,
     "HOST[:PORT] Kafka clients are told to connect to (Metadata); default: "
     "the kafka-listen address (set it when listening on 0.0.0.0)"},
    {"data", "./data", 0, "data directory"},
    {"fsync", "always", 0,
     "always | interval [MS] (1000 when omitted) | never (see docs/broker.md "
     "for what each loses)"},
    {"segment-size", "1GiB", 0, "commit-log segment size"},
    {"max-message", "16MiB", 0, "largest message accepted"},
    {"max-request", "16MiB", 0, "largest batch put accepted"},
    {"max-connections", "10000", 0, "connections beyond this get a 503"},
    {"idle-timeout", "300s", 0, "close connections idle this long (0: never)"},
    {"request-timeout", "30s", 0,
     "a request (header and payload) must arrive within this time of its "
     "first byte, else the connection is closed (0: never)"},
    {"auth-timeout", "10s", 0,
     "with a secret, auth must succeed within this time of the connect, "
     "else the connection is closed (0: never)"},
    {"max-output", "64MiB", 0, "per-connection output before reading pauses"},
    {"max-memory", "1GiB", 0,
     "memory for request buffers, pending replies and staged writes of all "
     "connections together; at it, reading pauses (at least 4 x the larger "
     "of max-message and max-request)"},
    {"checkpoint-interval", "5s", 0, "how often recovery state is saved"},
    {"retention-bytes", "0", 0, "delete old segments past this size (0: keep)"},
    {"retention-age", "0", 0, "delete segments older than this (0: keep)"},
    {"auto-create", "yes", 0, "create partitions on first put"},
    {"max-partitions", "100000", 0,
     "creating more partitions is refused with 429 (0: no limit; each "
     "costs an index file, see docs/broker.md)"},
    {"quarantine-damaged", "no", SL_OPT_FLAG,
     "start even when stored records are damaged: reads of them get 422, "
     "everything else is served (see docs/broker.md)"},
    {"broker-secret-file", NULL, 0,
     "file holding the broker's shared secret (else $SLUICE_BROKER_SECRET)"},
    {"auth-file", "broker-secret-file", SL_OPT_ALIAS, NULL},
    {"tls-cert", NULL, 0,
     "PEM certificate (chain) file: both listeners then speak only TLS"},
    {"tls-key", NULL, 0, "PEM private key file of tls-cert"},
    {"tls-client-ca", NULL, 0,
     "CA file: clients must present a certificate it signed"},
    {"log-level", "info", 0, "debug, info, warn or error"},
    {"log-format", "text", 0, "text (logfmt) or json (one object a line)"},
    SL_HTTP_OPTS,
    {NULL, NULL, 0, NULL},
};

static const char synopsis[] =
    "sluice-broker [--config FILE] [--listen HOST:PORT] [--data DIR] "
    "[OPTIONS]";

static sl_server_t *server;
static sl_kafka_t *kafka;
static sl_store_t *store;
static sl_signals_t sigs;
static int stopping;

static void on_stop(sl_signals_t *sig, int signum) {
    (void)sig;
    if (stopping) {
        sl_log_warn("second signal, exiting now", "signal=%d", signum);
        exit(1);
    }
    stopping = 1;
    sl_log_info("stopping", "signal=%d", signum);
    sl_broker_metrics_close();
    if (kafka)
        sl_kafka_stop(kafka, NULL, NULL);
    sl_server_stop(server, NULL, NULL);
    sl_store_close(store, NULL);
    sl_signals_close(&sigs, NULL);
}

static int parse_fsync(const char *text, sl_store_opts_t *so) {
    so->fsync_interval_ms = 1000;
    if (strcmp(text, "always") == 0) {
        so->fsync_mode = SL_FSYNC_ALWAYS;
        return 0;
    }
    if (strcmp(text, "never") == 0) {
        so->fsync_mode = SL_FSYNC_NEVER;
        return 0;
    }
    if (strncmp(text, "interval", 8) == 0) {
        so->fsync_mode = SL_FSYNC_INTERVAL;
        const char *rest = text + 8;
        while (*rest == ' ' || *rest == '=' || *rest == ':')
            rest++;
        if (*rest == '\0')
            return 0;
        if (sl_parse_duration_ms(rest, &so->fsync_interval_ms) != 0 ||
            so->fsync_interval_ms == 0)
            return SL_EINVAL;
        return 0;
    }
    return SL_EINVAL;
}

static int is_loopback(const char *host) {
    return strncmp(host, "127.", 4) == 0 || strcmp(host, "::1") == 0 ||
           strcmp(host, "localhost") == 0;
}

/* Protected mode (Redis's): a non-loopback address needs an explicit
 * option, and without a secret one that says it is insecure. what names
 * the option for the message. */
static int exposure_ok(const char *host, const char *what, int allow_remote,
                       int allow_insecure, const char *secret) {
    if (!is_loopback(host) && !allow_remote && !allow_insecure) {
        fprintf(stderr,
                "sluice-broker: refusing to listen on %s (%s) without "
                "--allow-remote (with a secret: --broker-secret-file or "
                "SLUICE_BROKER_SECRET)\n",
                host, what);
        return 0;
    }
    if (!is_loopback(host) && secret == NULL && !allow_insecure) {
        fprintf(stderr,
                "sluice-broker: refusing to listen on %s (%s) without a "
                "secret: anyone who can reach it could read and write every "
                "partition. Set --broker-secret-file FILE or "
                "SLUICE_BROKER_SECRET, or "
                "pass --allow-remote-insecure to accept that\n",
                host, what);
        return 0;
    }
    return 1;
}

/* The Kafka listener's options from kafka-listen and kafka-advertised
 * (its other limits are the text listener's). *on is 0 for "off". */
static int kafka_options(sl_config_t *cfg, const sl_server_opts_t *sv,
                         uint32_t max_batch, char *host, size_t hcap, char *adv,
                         size_t acap, sl_kafka_opts_t *ko, int *on) {
    const char *listen = sl_config_get(cfg, "kafka-listen");
    memset(ko, 0, sizeof *ko);
    *on = strcmp(listen, "off") != 0;
    if (!*on)
        return 0;
    if (sl_parse_hostport(listen, host, hcap, &ko->port) != 0) {
        fprintf(stderr, "sluice-broker: bad --kafka-listen (HOST:PORT or "
                        "off)\n");
        return SL_EINVAL;
    }
    if (strcmp(host, "localhost") == 0)
        snprintf(host, hcap, "127.0.0.1");
    ko->host = host;
    const char *a = sl_config_get(cfg, "kafka-advertised");
    if (a != NULL && *a) {
        if (strchr(a, ':') != NULL) {
            if (sl_parse_hostport(a, adv, acap, &ko->adv_port) != 0) {
                fprintf(stderr, "sluice-broker: bad --kafka-advertised "
                                "(HOST or HOST:PORT)\n");
                return SL_EINVAL;
            }
        } else {
            snprintf(adv, acap, "%s", a);
        }
        ko->adv_host = adv;
    } else if (strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0) {
        fprintf(stderr,
                "sluice-broker: --kafka-listen %s needs --kafka-advertised "
                "HOST: clients connect to the address Metadata names, and "
                "%s is no address to connect to\n",
                host, host);
        return SL_EINVAL;
    }
    /* A Produce request carries a batch of up to max_batch bytes and its
     * topic and partition framing. */
    ko->max_request = (uint64_t)max_batch + (1u << 20);
    ko->idle_ms = sv->idle_ms;
    ko->request_ms = sv->request_ms;
    ko->auth_ms = sv->auth_ms;
    ko->max_output = sv->max_output;
    ko->secret = sv->secret;
    return 0;
}

int main(int argc, char **argv) {
    sl_config_t cfg;
    int rc = sl_program_args(&cfg, "sluice-broker", synopsis, opts, argc, argv);
    if (rc != SL_PROGRAM_RUN)
        return rc;
    rc = 2;
    int err;
    char *secret = NULL;
    if (cfg.args.count > 0) {
        fprintf(stderr, "sluice-broker: unexpected argument '%s'\n",
                cfg.args.items[0]);
        goto out;
    }
    if (sl_program_log_level(&cfg) != 0) {
        fprintf(stderr, "sluice-broker: bad --log-level or --log-format\n");
        goto out;
    }

    sl_store_opts_t so;
    memset(&so, 0, sizeof so);
    so.dir = sl_config_get(&cfg, "data");
    uint64_t seg, maxmsg, maxreq, maxconn, idle, maxout, ckpt, rbytes, rage;
    uint64_t req_ms, auth_ms, maxparts, maxmem;
    int allow_remote, allow_insecure, auto_create, quarantine;
    if (sl_config_get_size(&cfg, "segment-size", &seg) != 0 ||
        sl_config_get_size(&cfg, "max-message", &maxmsg) != 0 ||
        sl_config_get_size(&cfg, "max-request", &maxreq) != 0 ||
        sl_config_get_u64(&cfg, "max-connections", &maxconn) != 0 ||
        sl_config_get_ms(&cfg, "idle-timeout", &idle) != 0 ||
        sl_config_get_ms(&cfg, "request-timeout", &req_ms) != 0 ||
        sl_config_get_ms(&cfg, "auth-timeout", &auth_ms) != 0 ||
        sl_config_get_bool(&cfg, "allow-remote-insecure", &allow_insecure) !=
            0 ||
        sl_config_get_size(&cfg, "max-output", &maxout) != 0 ||
        sl_config_get_size(&cfg, "max-memory", &maxmem) != 0 ||
        sl_config_get_ms(&cfg, "checkpoint-interval", &ckpt) != 0 ||
        sl_config_get_size(&cfg, "retention-bytes", &rbytes) != 0 ||
        sl_config_get_ms(&cfg, "retention-age", &rage) != 0 ||
        sl_config_get_bool(&cfg, "allow-remote", &allow_remote) != 0 ||
        sl_config_get_bool(&cfg, "auto-create", &auto_create) != 0 ||
        sl_config_get_u64(&cfg, "max-partitions", &maxparts) != 0 ||
        sl_config_get_bool(&cfg, "quarantine-damaged", &quarantine) != 0) {
        fprintf(stderr, "sluice-broker: %s\n", cfg.err);
        goto out;
    }
    if (parse_fsync(sl_config_get(&cfg, "fsync"), &so) != 0) {
        fprintf(stderr,
                "sluice-broker: bad --fsync '%s' (always, never or "
                "interval MS)\n",
                sl_config_get(&cfg, "fsync"));
        goto out;
    }
    if (maxmsg == 0 || maxmsg > (1u << 30) || maxreq == 0 ||
        maxreq > (1u << 30) || seg < (1u << 20) || maxconn == 0 ||
        maxparts > UINT32_MAX - 1) {
        fprintf(stderr,
                "sluice-broker: max-message and max-request must be "
                "1..1GiB, segment-size at least 1MiB, max-connections > 0, "
                "max-partitions below 2^32\n");
        goto out;
    }
    if (maxmem < 4 * (maxmsg > maxreq ? maxmsg : maxreq)) {
        /* Less would not hold one largest request while it is received,
         * staged and answered. */
        fprintf(stderr,
                "sluice-broker: max-memory must be at least 4 x the "
                "larger of max-message and max-request (%" PRIu64 " bytes)\n",
                4 * (maxmsg > maxreq ? maxmsg : maxreq));
        goto out;
    }
    so.segment_size = seg;
    so.max_batch = (uint32_t)(maxreq + maxreq / 8 + 4096);
    so.checkpoint_ms = ckpt;
    so.retention_bytes = rbytes;
    so.retention_ms = rage;
    so.auto_create = auto_create;
    so.max_partitions = (uint32_t)maxparts;
    so.quarantine_damaged = quarantine;

    sl_server_opts_t sv;
    memset(&sv, 0, sizeof sv);
    char host[256];
    if (sl_parse_hostport(sl_config_get(&cfg, "listen"), host, sizeof host,
                          &sv.port) != 0) {
        fprintf(stderr, "sluice-broker: bad --listen (HOST:PORT)\n");
        goto out;
    }
    int st =
        sl_program_broker_secret(&cfg, "broker-secret-file",
                                 "the broker secret (broker-secret-file or "
                                 "SLUICE_BROKER_SECRET)",
                                 1, &secret);
    if (st != 0) {
        rc = st;
        goto out;
    }
    if (!exposure_ok(host, "listen", allow_remote, allow_insecure, secret))
        goto out;
    if (strcmp(host, "localhost") == 0)
        snprintf(host, sizeof host, "127.0.0.1");
    sv.host = host;
    sv.max_conns = maxconn;
    sv.idle_ms = idle;
    sv.request_ms = req_ms;
    sv.auth_ms = auth_ms;
    sv.max_output = maxout;
    sv.max_memory = maxmem;
    /* Buffers of 1 MiB and more get their own mappings, returned to the
     * system when freed, so that memory released under the budget leaves
     * the process (glibc otherwise raises this threshold as large buffers
     * are freed and keeps them in its heap). */
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
    sl_proto_default_limits(&sv.limits);
    sv.limits.max_msg = maxmsg;
    sv.limits.max_request = maxreq;
    sv.secret = secret;
    sv.tls_cert = sl_config_get(&cfg, "tls-cert");
    sv.tls_key = sl_config_get(&cfg, "tls-key");
    sv.tls_client_ca = sl_config_get(&cfg, "tls-client-ca");
    if ((sv.tls_cert != NULL) != (sv.tls_key != NULL) ||
        (sv.tls_client_ca != NULL && sv.tls_cert == NULL)) {
        fprintf(stderr, "sluice-broker: --tls-cert and --tls-key go together "
                        "(and --tls-client-ca needs them)\n");
        rc = 2;
        goto out;
    }
    char khost[256], kadv[256];
    sl_kafka_opts_t ko;
    int kafka_on;
    if (kafka_options(&cfg, &sv, so.max_batch, khost, sizeof khost, kadv,
                      sizeof kadv, &ko, &kafka_on) != 0 ||
        (kafka_on && !exposure_ok(khost, "kafka-listen", allow_remote,
                                  allow_insecure, secret)))
        goto out;
    rc = 1;

    signal(SIGPIPE, SIG_IGN);
    uv_loop_t *loop = uv_default_loop();
    err = sl_store_open(&store, &so, loop, sl_server_acks_cb,
                        sl_server_advance_cb, NULL);
    if (err != 0) {
        if (err == SL_EDAMAGED)
            fprintf(stderr,
                    "sluice-broker: data directory %s holds damaged "
                    "records (listed in the log above); nothing was "
                    "truncated or deleted. Restore it, or start with "
                    "--quarantine-damaged to serve everything else\n",
                    so.dir);
        else
            fprintf(stderr,
                    "sluice-broker: cannot open data directory "
                    "%s: %s\n",
                    so.dir, sl_strerror(err));
        goto out;
    }
    err = sl_server_start(loop, store, &sv, &server);
    if (err != 0) {
        fprintf(stderr, "sluice-broker: cannot listen on %s: %s\n",
                sl_config_get(&cfg, "listen"), sl_strerror(err));
        sl_store_close(store, NULL);
        uv_run(loop, UV_RUN_DEFAULT);
        goto out;
    }
    if (kafka_on) {
        err = sl_kafka_start(loop, server, store, &ko, &kafka);
        if (err != 0 && !sl_config_is_set(&cfg, "kafka-listen")) {
            /* The default address: another broker on this machine may
             * hold it; the text protocol serves all the same. */
            sl_log_warn("Kafka listener not started: the default address "
                        "cannot be bound (set kafka-listen to another "
                        "address, or off)",
                        "kafka_listen=%s:%u error=\"%s\"", khost, ko.port,
                        sl_strerror(err));
            kafka = NULL;
        } else if (err != 0) {
            fprintf(stderr,
                    "sluice-broker: cannot listen on kafka-listen "
                    "%s: %s\n",
                    sl_config_get(&cfg, "kafka-listen"), sl_strerror(err));
            sl_server_stop(server, NULL, NULL);
            sl_store_close(store, NULL);
            uv_run(loop, UV_RUN_DEFAULT);
            sl_server_free(server);
            goto out;
        }
    }
    char merr[512];
    if (sl_broker_metrics_start(&cfg, loop, server, store, &kafka, merr,
                                sizeof merr) != 0) {
        fprintf(stderr, "sluice-broker: %s\n", merr);
        sl_server_stop(server, NULL, NULL);
        sl_store_close(store, NULL);
        if (kafka)
            sl_kafka_stop(kafka, NULL, NULL);
        uv_run(loop, UV_RUN_DEFAULT);
        goto out;
    }
    if (sl_signals_start(loop, &sigs, on_stop) != 0) {
        fprintf(stderr, "sluice-broker: cannot install signal handlers\n");
        goto out;
    }
    if (!is_loopback(host) && secret == NULL)
        sl_log_warn("listening without auth on a non-loopback address "
                    "(--allow-remote-insecure)",
                    "listen=%s:%u", host, sv.port);
    sl_log_info("broker started",
                "listen=%s:%u tls=%s kafka=%s data=%s fsync=%s auth=%s", host,
                sv.port,
                sv.tls_cert == NULL        ? "off"
                : sv.tls_client_ca != NULL ? "on,client-cert"
                                           : "on",
                kafka ? sl_config_get(&cfg, "kafka-listen") : "off", so.dir,
                sl_config_get(&cfg, "fsync"), secret ? "on" : "off");
    uv_run(loop, UV_RUN_DEFAULT);
    sl_broker_metrics_stop();
    if (kafka)
        sl_kafka_free(kafka);
    sl_server_free(server);
    uv_loop_close(loop);
    sl_log_info("broker stopped", NULL);
    rc = 0;
out:
    sl_secret_free(secret);
    sl_config_free(&cfg);
    return rc;
}
