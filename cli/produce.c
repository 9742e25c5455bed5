/*
 * sluice produce TOPIC PARTITION: one message per stdin line (a "\r"
 * before the "\n" dropped), pipelined, every one acknowledged before the
 * exit status is 0 (tail.h). The text protocol stores a message's bytes
 * and nothing else: --key and --header are refused rather than dropped.
 */
#include "cli/tail.h"

#include "error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(sl_client_t *cl, const char *what, int err) {
    fprintf(stderr, "sluice: %s: %s\n", what,
            cl && sl_client_error(cl)[0] ? sl_client_error(cl)
                                         : sl_strerror(err));
    return 1;
}

int sl_cli_produce(sl_config_t *cfg, sl_client_t *cl, size_t nargs,
                   char **args) {
    (void)nargs;
    if (sl_config_is_set(cfg, "key") || sl_config_is_set(cfg, "header")) {
        fprintf(stderr,
                "sluice: produce: the text protocol stores no keys or "
                "headers; produce through the Kafka listener (kcat -P -k "
                "KEY -H NAME=VALUE, docs/kafka.md) to keep them\n");
        return 2;
    }
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
        int err = sl_client_put_send(cl, topic, part, &m, 1, -1, 0, NULL);
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
