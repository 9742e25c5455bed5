/*
 * sluice: the command-line client of sluice-broker.
 *
 *   sluice [--broker HOST:PORT] stats
 *   sluice partitions [TOPIC]
 *   sluice put TOPIC PARTITION          one message per stdin line
 *   sluice tail TOPIC PARTITION [--from earliest|latest|N] [--follow]
 *   sluice offsets TOPIC PARTITION [--group G]
 *
 * The broker address comes from --broker, else $SLUICE_BROKER, else
 * 127.0.0.1:8123; the shared secret from --auth-file or
 * $SLUICE_BROKER_SECRET.
 */
#include "client.h"
#include "config.h"
#include "error.h"
#include "parse.h"
#include "program.h"
#include "secret.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const sl_opt_t opts[] = {
    {"broker", "127.0.0.1:8123", 0,
     "broker address (default: $SLUICE_BROKER or 127.0.0.1:8123)"},
    {"auth-file", NULL, 0,
     "file with the shared secret "
     "(or $SLUICE_BROKER_SECRET)"},
    {"from", "earliest", 0, "tail: earliest, latest or an offset"},
    {"follow", "no", SL_OPT_FLAG, "tail: keep waiting for new messages"},
    {"group", NULL, 0, "offsets: also print this group's committed offset"},
    {"timeout", "30s", 0, "I/O timeout"},
    {"log-level", "info", 0, "debug, info, warn or error"},
    {"log-format", "text", 0, "text (logfmt) or json (one object a line)"},
    {NULL, NULL, 0, NULL},
};

static const char *usage =
    "sluice [--broker HOST:PORT] COMMAND ...\n"
    "  stats\n"
    "  partitions [TOPIC]\n"
    "  put TOPIC PARTITION            (one message per stdin line)\n"
    "  tail TOPIC PARTITION [--from earliest|latest|N] [--follow]\n"
    "  offsets TOPIC PARTITION [--group G]";

static int fail(sl_client_t *cl, const char *what, int err) {
    fprintf(stderr, "sluice: %s: %s\n", what,
            cl && sl_client_error(cl)[0] ? sl_client_error(cl)
                                         : sl_strerror(err));
    return 1;
}

static int cmd_put(sl_client_t *cl, const char *topic, const char *part) {
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
        while (sl_client_inflight(cl) >= 10000) {
            sl_client_ack_t ack;
            err = sl_client_put_ack(cl, &ack);
            if (err != 0) {
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

static int cmd_tail(sl_client_t *cl, const char *topic, const char *part,
                    const char *from, int follow) {
    uint64_t earliest, latest, offset;
    int err = sl_client_offsets(cl, topic, part, &earliest, &latest);
    if (err != 0)
        return fail(cl, "offsets", err);
    if (strcmp(from, "earliest") == 0)
        offset = earliest;
    else if (strcmp(from, "latest") == 0)
        offset = latest;
    else if (sl_parse_u64(from, &offset) != 0) {
        fprintf(stderr, "sluice: bad --from '%s'\n", from);
        return 2;
    }
    for (;;) {
        sl_client_fetch_t f;
        err = sl_client_get(cl, topic, part, offset, 1u << 20,
                            follow ? 10000 : 0, &f);
        if (err == SL_EGONE) {
            fprintf(stderr,
                    "sluice: offset %llu was deleted by retention; "
                    "continuing at %llu\n",
                    (unsigned long long)offset, (unsigned long long)f.earliest);
            offset = f.earliest;
            continue;
        }
        if (err == SL_EDAMAGED) {
            /* Never skipped silently: what was written so far stays
             * written, and the operator learns which offsets are lost and
             * where reading can go on (--from). */
            fflush(stdout);
            fprintf(stderr,
                    "sluice: %s/%s offsets %llu-%llu are damaged on "
                    "the broker (quarantined) and cannot be read; the next "
                    "readable offset is %llu (tail --from %llu skips them)\n",
                    topic, part, (unsigned long long)offset,
                    (unsigned long long)(f.next - 1),
                    (unsigned long long)f.next, (unsigned long long)f.next);
            return 1;
        }
        if (err != 0)
            return fail(cl, "get", err);
        for (size_t i = 0; i < f.count; i++) {
            fwrite(f.recs[i].data, 1, f.recs[i].len, stdout);
            fputc('\n', stdout);
        }
        offset = f.next;
        if (f.count == 0 && !follow)
            break;
        /* Following, each batch is written as it arrives: a pipe or file
         * is fully buffered, and the next long poll may wait seconds. */
        if (follow)
            fflush(stdout);
        if (ferror(stdout)) {
            fprintf(stderr, "sluice: writing the messages failed\n");
            return 1;
        }
    }
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv) {
    sl_config_t cfg;
    int rc = sl_program_args(&cfg, "sluice", usage, opts, argc, argv);
    if (rc != SL_PROGRAM_RUN)
        return rc;
    rc = 2;
    int err;
    sl_client_t *cl = NULL;
    char *secret = NULL;
    size_t nargs = cfg.args.count;
    char **args = cfg.args.items;
    if (nargs == 0) {
        fprintf(stderr, "sluice: missing command\nusage: %s\n", usage);
        goto out;
    }
    if (sl_program_log_level(&cfg) != 0) {
        fprintf(stderr, "sluice: bad --log-level or --log-format\n");
        goto out;
    }
    const char *cmd = args[0];
    size_t want_min = 1, want_max = 1;
    if (strcmp(cmd, "stats") == 0) {
        want_min = want_max = 1;
    } else if (strcmp(cmd, "partitions") == 0) {
        want_min = 1;
        want_max = 2;
    } else if (strcmp(cmd, "put") == 0 || strcmp(cmd, "tail") == 0 ||
               strcmp(cmd, "offsets") == 0) {
        want_min = want_max = 3;
    } else {
        fprintf(stderr, "sluice: unknown command '%s'\nusage: %s\n", cmd,
                usage);
        goto out;
    }
    if (nargs < want_min || nargs > want_max) {
        fprintf(stderr, "sluice: wrong number of arguments for %s\nusage: %s\n",
                cmd, usage);
        goto out;
    }
    int follow;
    uint64_t timeout;
    if (sl_config_get_bool(&cfg, "follow", &follow) != 0 ||
        sl_config_get_ms(&cfg, "timeout", &timeout) != 0) {
        fprintf(stderr, "sluice: %s\n", cfg.err);
        goto out;
    }
    const char *broker = sl_config_get(&cfg, "broker");
    if (!sl_config_is_set(&cfg, "broker") && getenv("SLUICE_BROKER"))
        broker = getenv("SLUICE_BROKER");
    /* A secret the auth line cannot carry is a configuration error, told
     * before any connection (exit 2, like other bad usage). */
    rc = sl_program_broker_secret(&cfg, "auth-file",
                                  "the broker secret (--auth-file or "
                                  "SLUICE_BROKER_SECRET)",
                                  1, &secret);
    if (rc != 0)
        goto out;
    rc = 1;
    sl_client_opts_t co = {secret, 5000, (int)timeout, 5000};
    err = sl_client_connect(broker, &co, &cl);
    if (err != 0) {
        fprintf(stderr, "sluice: cannot connect to broker %s: %s\n", broker,
                sl_strerror(err));
        if (err == SL_EINVAL)
            rc = 2;
        goto out;
    }
    if (strcmp(cmd, "stats") == 0 || strcmp(cmd, "partitions") == 0) {
        sl_buf_t text = SL_BUF_INIT;
        err = cmd[0] == 's'
                  ? sl_client_stats(cl, &text)
                  : sl_client_partitions(cl, nargs > 1 ? args[1] : NULL, &text);
        if (err != 0) {
            rc = fail(cl, cmd, err);
        } else {
            fwrite(text.data, 1, text.len, stdout);
            rc = 0;
        }
        sl_buf_free(&text);
    } else if (strcmp(cmd, "put") == 0) {
        rc = cmd_put(cl, args[1], args[2]);
    } else if (strcmp(cmd, "tail") == 0) {
        rc =
            cmd_tail(cl, args[1], args[2], sl_config_get(&cfg, "from"), follow);
    } else {
        uint64_t a, b;
        err = sl_client_offsets(cl, args[1], args[2], &a, &b);
        if (err != 0) {
            rc = fail(cl, "offsets", err);
            goto out;
        }
        printf("earliest %llu\nlatest %llu\n", (unsigned long long)a,
               (unsigned long long)b);
        const char *group = sl_config_get(&cfg, "group");
        if (group) {
            uint64_t c;
            err = sl_client_committed(cl, group, args[1], args[2], &c);
            if (err == SL_ENOTFOUND)
                printf("committed none\n");
            else if (err != 0) {
                rc = fail(cl, "committed", err);
                goto out;
            } else
                printf("committed %llu\nlag %llu\n", (unsigned long long)c,
                       (unsigned long long)(b > c ? b - c : 0));
        }
        rc = 0;
    }
out:
    sl_client_close(cl);
    sl_secret_free(secret);
    sl_config_free(&cfg);
    return rc;
}
