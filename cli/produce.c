/*
 * sluice produce TOPIC PARTITION: one message per stdin line (a "\r"
 * before the "\n" dropped), every one acknowledged before the exit status
 * is 0 (tail.h).
 *
 * Through the text protocol (the default) pipelined puts, with --key as
 * every message's record key (put klen=); that protocol stores no
 * headers, so --header is refused there rather than dropped. With
 * --kafka HOST:PORT the messages
 * go to the broker's Kafka listener through librdkafka instead (an
 * idempotent producer, acks=all), which stores keys and headers: the
 * partition is then Kafka's partition number (docs/kafka.md maps the
 * names), and with a secret the producer authenticates with SASL/PLAIN.
 * The --broker-tls options apply there too (kafka_tls()): TLS that
 * verifies the listener's certificate and name unless told not to, as on
 * the text protocol; --timeout bounds each message's delivery, so a
 * listener that cannot be reached or verified ends in an error, not a
 * wait.
 */
#include "cli/tail.h"

#include "error.h"
#include "parse.h"
#include "tls.h"

#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Delivery reports: failures counted, the first one's reason kept. */
typedef struct {
    uint64_t delivered, failed;
    char first_error[256];
} kreport_t;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque) {
    (void)rk;
    kreport_t *r = opaque;
    if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        r->delivered++;
        return;
    }
    if (r->failed++ == 0)
        snprintf(r->first_error, sizeof r->first_error, "%s",
                 rd_kafka_err2str(msg->err));
}

static int kset(rd_kafka_conf_t *conf, const char *k, const char *v) {
    char err[256];
    if (rd_kafka_conf_set(conf, k, v, err, sizeof err) == RD_KAFKA_CONF_OK)
        return 0;
    fprintf(stderr, "sluice: produce: %s=%s: %s\n", k, v, err);
    return -1;
}

/* The --broker-tls options as librdkafka's: security.protocol SSL (with a
 * secret SASL_SSL), the CA, the client certificate, and the listener's
 * certificate and name verified unless --broker-tls-insecure. */
static int kafka_tls(sl_config_t *cfg, rd_kafka_conf_t *conf,
                     const char *secret) {
    sl_tls_opts_t tls;
    int on = 0;
    char err[200];
    if (sl_tls_broker_config(cfg, &tls, &on, err, sizeof err) != 0) {
        fprintf(stderr, "sluice: %s\n", err);
        return -1;
    }
    if (!on)
        return secret != NULL
                   ? kset(conf, "security.protocol", "SASL_PLAINTEXT")
                   : 0;
    if (kset(conf, "security.protocol", secret ? "SASL_SSL" : "SSL") != 0 ||
        (tls.ca != NULL && kset(conf, "ssl.ca.location", tls.ca) != 0) ||
        (tls.cert != NULL &&
         (kset(conf, "ssl.certificate.location", tls.cert) != 0 ||
          kset(conf, "ssl.key.location", tls.key) != 0)) ||
        kset(conf, "enable.ssl.certificate.verification",
             tls.insecure ? "false" : "true") != 0 ||
        kset(conf, "ssl.endpoint.identification.algorithm",
             tls.insecure ? "none" : "https") != 0)
        return -1;
    return 0;
}

static int produce_kafka(sl_config_t *cfg, const char *kafka,
                         const char *secret, const char *topic,
                         const char *part) {
    uint64_t pnum;
    if (sl_parse_u64(part, &pnum) != 0 || pnum > 65535) {
        fprintf(stderr,
                "sluice: produce --kafka: PARTITION must be a Kafka partition "
                "number (0-65535), not '%s'\n",
                part);
        return 2;
    }
    const sl_strlist_t *hl = sl_config_is_set(cfg, "header")
                                 ? sl_config_get_list(cfg, "header")
                                 : NULL;
    for (size_t i = 0; hl != NULL && i < hl->count; i++)
        if (strchr(hl->items[i], '=') == NULL || hl->items[i][0] == '=') {
            fprintf(stderr, "sluice: --header must be NAME=VALUE, not '%s'\n",
                    hl->items[i]);
            return 2;
        }
    const char *key = sl_config_get(cfg, "key");
    uint64_t timeout;
    if (sl_config_get_ms(cfg, "timeout", &timeout) != 0) {
        fprintf(stderr, "sluice: %s\n", cfg->err);
        return 2;
    }
    char tmo[24];
    snprintf(tmo, sizeof tmo, "%llu", (unsigned long long)timeout);
    kreport_t rep;
    memset(&rep, 0, sizeof rep);
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_conf_set_opaque(conf, &rep);
    if (kset(conf, "bootstrap.servers", kafka) != 0 ||
        kset(conf, "enable.idempotence", "true") != 0 ||
        kset(conf, "linger.ms", "5") != 0 ||
        kset(conf, "message.timeout.ms", tmo) != 0 ||
        kafka_tls(cfg, conf, secret) != 0 ||
        (secret != NULL && (kset(conf, "sasl.mechanisms", "PLAIN") != 0 ||
                            kset(conf, "sasl.username", "sluice") != 0 ||
                            kset(conf, "sasl.password", secret) != 0))) {
        rd_kafka_conf_destroy(conf);
        return 2;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (rk == NULL) {
        rd_kafka_conf_destroy(conf);
        fprintf(stderr, "sluice: produce: %s\n", err);
        return 1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    uint64_t sent = 0;
    int rc = 0;
    while (rc == 0 && (n = getline(&line, &cap, stdin)) >= 0) {
        if (n > 0 && line[n - 1] == '\n')
            n--;
        if (n > 0 && line[n - 1] == '\r')
            n--;
        rd_kafka_headers_t *hdrs = NULL;
        if (hl != NULL && hl->count > 0) {
            hdrs = rd_kafka_headers_new(hl->count);
            for (size_t i = 0; i < hl->count; i++) {
                const char *eq = strchr(hl->items[i], '=');
                rd_kafka_header_add(hdrs, hl->items[i],
                                    (ssize_t)(eq - hl->items[i]), eq + 1, -1);
            }
        }
        rd_kafka_resp_err_t e;
        for (;;) {
            e = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
                                  RD_KAFKA_V_PARTITION((int32_t)pnum),
                                  RD_KAFKA_V_VALUE(line, (size_t)n),
                                  RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
                                  RD_KAFKA_V_HEADERS(hdrs),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                  RD_KAFKA_V_END);
            if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                break;
            rd_kafka_poll(rk, 100); /* Bounded memory: wait for room. */
        }
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            /* On failure the headers stay the caller's. */
            if (hdrs != NULL)
                rd_kafka_headers_destroy(hdrs);
            fprintf(stderr, "sluice: produce: %s\n", rd_kafka_err2str(e));
            rc = 1;
            break;
        }
        sent++;
        rd_kafka_poll(rk, 0);
    }
    free(line);
    /* Every message is delivered or failed before the exit status. */
    while (rd_kafka_outq_len(rk) > 0)
        rd_kafka_flush(rk, 1000);
    rd_kafka_destroy(rk);
    fprintf(stderr, "sluice: %llu messages acknowledged\n",
            (unsigned long long)rep.delivered);
    if (rep.failed > 0) {
        fprintf(stderr, "sluice: produce: %llu messages failed: %s\n",
                (unsigned long long)rep.failed, rep.first_error);
        rc = 1;
    }
    if (rc == 0 && rep.delivered != sent)
        rc = 1;
    return rc;
}

static int fail(sl_client_t *cl, const char *what, int err) {
    fprintf(stderr, "sluice: %s: %s\n", what,
            cl && sl_client_error(cl)[0] ? sl_client_error(cl)
                                         : sl_strerror(err));
    return 1;
}

int sl_cli_produce(sl_config_t *cfg, sl_client_t *cl, size_t nargs, char **args,
                   const char *secret) {
    (void)nargs;
    const char *kafka = sl_config_get(cfg, "kafka");
    if (kafka != NULL)
        return produce_kafka(cfg, kafka, secret, args[1], args[2]);
    if (sl_config_is_set(cfg, "header")) {
        fprintf(stderr, "sluice: produce: the text protocol stores no "
                        "headers; give --kafka HOST:PORT (the broker's Kafka "
                        "listener) to keep them\n");
        return 2;
    }
    const char *key = sl_config_get(cfg, "key");
    sl_client_msg_t k = {key, key ? strlen(key) : 0};
    const char *topic = args[1], *part = args[2];
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    uint64_t sent = 0, acked = 0;
    int rc = 0;
    while ((n = getline(&line, &cap, stdin)) >= 0) {
        if (n > 0 && line[n - 1] == '\n')
            n--;
        if (n > 0 && line[n - 1] == '\r')
            n--;
        sl_client_msg_t m = {line, (size_t)n};
        int err = sl_client_put_send_keyed(cl, topic, part, &m, key ? &k : NULL,
                                           1, -1, 0, NULL);
        if (err != 0) {
            rc = fail(cl, "put", err);
            break;
        }
        sent++;
        /* Bounded memory: at most this many puts wait for their acks. */
        while (sl_client_inflight(cl) >= 10000) {
            sl_client_ack_t ack;
            if ((err = sl_client_put_ack(cl, &ack)) != 0) {
                rc = fail(cl, "put", err);
                goto done;
            }
            acked++;
        }
    }
    while (rc == 0 && sl_client_inflight(cl) > 0) {
        sl_client_ack_t ack;
        int err = sl_client_put_ack(cl, &ack);
        if (err != 0) {
            rc = fail(cl, "put", err);
            break;
        }
        acked++;
    }
done:
    free(line);
    fprintf(stderr, "sluice: %llu messages acknowledged\n",
            (unsigned long long)acked);
    if (rc == 0 && acked != sent)
        rc = 1;
    return rc;
}
