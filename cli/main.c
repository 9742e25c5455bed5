/*
 * sluice: the command-line client of sluice-broker.
 *
 *   sluice [--broker HOST:PORT] stats
 *   sluice partitions [TOPIC]
 *   sluice put|produce TOPIC PARTITION  one message per stdin line
 *   sluice tail|consume TOPIC [PARTITION...] [kcat-style options]
 *   sluice offsets TOPIC PARTITION [--group G]
 *
 * The broker address comes from --broker, else $SLUICE_BROKER, else
 * 127.0.0.1:8123; the shared secret from --broker-secret-file or
 * $SLUICE_BROKER_SECRET.
 */
#include "cli/connect.h"
#include "cli/groups.h"
#include "cli/tail.h"
#include "client.h"
#include "config.h"
#include "error.h"
#include "parse.h"
#include "program.h"
#include "secret.h"
#include "tls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const sl_opt_t opts[] = {
    {"broker", "127.0.0.1:8123", 0,
     "broker address (default: $SLUICE_BROKER or 127.0.0.1:8123)"},
    {"broker-secret-file", NULL, 0,
     "file holding the broker's shared secret (else $SLUICE_BROKER_SECRET)"},
    {"auth-file", "broker-secret-file", SL_OPT_ALIAS, NULL},
    SL_TLS_BROKER_OPTIONS,
    {"from", "earliest", 0,
     "tail: earliest, latest, an offset N, -N (N before the end) or s@MS "
     "(first at or after a time, ms since the epoch) (kcat -o)"},
    {"follow", "no", SL_OPT_FLAG, "tail: keep waiting for new messages"},
    {"group", NULL, 0,
     "offsets: also print this group's committed offset; tail: consume as "
     "this group, from its committed offsets, committing (kcat -G)"},
    {"timeout", "30s", 0, "I/O timeout"},
    {"log-level", "info", 0, "debug, info, warn or error"},
    {"log-format", "text", 0, "text (logfmt) or json (one object a line)"},
    SL_CLI_TAIL_OPTS,
    {NULL, NULL, 0, NULL},
};

static const char *usage =
    "sluice [--broker HOST:PORT] COMMAND ...\n"
    "  stats\n"
    "  partitions [TOPIC]\n"
    "  put|produce TOPIC PARTITION    (one message per stdin line)\n"
    "  tail|consume TOPIC [PARTITION...] [-o FROM] [-c N] [-e] [-G GROUP]\n"
    "                                 [-f FORMAT] [--follow]\n"
    "  offsets TOPIC PARTITION [--group G]\n"
    "  groups [GROUP] | groups reset GROUP --to ... (sluice groups --help)";

static int fail(sl_client_t *cl, const char *what, int err) {
    fprintf(stderr, "sluice: %s: %s\n", what,
            cl && sl_client_error(cl)[0] ? sl_client_error(cl)
                                         : sl_strerror(err));
    return 1;
}

int main(int argc, char **argv) {
    if (sl_cli_groups_wanted(argc, argv)) /* cli/groups.c */
        return sl_cli_groups_main(argc, argv);
    sl_config_t cfg;
    char **av = sl_cli_short_flags(argc, argv);
    if (av == NULL)
        return 1;
    int rc = sl_program_args(&cfg, "sluice", usage, opts, argc, av);
    free(av);
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
    } else if (strcmp(cmd, "put") == 0 || strcmp(cmd, "produce") == 0 ||
               strcmp(cmd, "offsets") == 0) {
        want_min = want_max = 3;
    } else if (strcmp(cmd, "tail") == 0 || strcmp(cmd, "consume") == 0) {
        want_min = 2;
        want_max = SIZE_MAX;
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
    rc = sl_program_broker_secret(&cfg, "broker-secret-file",
                                  "the broker secret (--broker-secret-file or "
                                  "SLUICE_BROKER_SECRET)",
                                  1, &secret);
    if (rc != 0)
        goto out;
    rc = 1;
    if ((strcmp(cmd, "produce") == 0 || strcmp(cmd, "put") == 0) &&
        sl_config_get(&cfg, "kafka") != NULL) {
        rc = sl_cli_produce(&cfg, NULL, nargs, args, secret);
        goto out;
    }
    if ((rc = sl_cli_connect(&cfg, broker, secret, timeout, &cl)) != 0)
        goto out;
    rc = 1;
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
    } else if (strcmp(cmd, "put") == 0 || strcmp(cmd, "produce") == 0) {
        rc = sl_cli_produce(&cfg, cl, nargs, args, secret);
    } else if (strcmp(cmd, "tail") == 0 || strcmp(cmd, "consume") == 0) {
        rc = sl_cli_tail(&cfg, cl, nargs, args);
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
