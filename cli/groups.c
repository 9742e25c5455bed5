/*
 * `sluice groups`: consumer groups, their committed offsets and lag, and
 * rewinding them (docs/replay.md, "Re-run a consumer").
 *
 *   sluice groups [GROUP]
 *   sluice groups reset GROUP --to earliest|latest|OFFSET|TIME
 *                 [--topic T [--partition P]] [--dry-run]
 *
 * The listing and the reset go through the broker's `groups` and `greset`
 * commands (docs/protocol.md); TIME resolves per partition through the
 * offset-by-time lookup (`offsets ... ts=MS`) to the first message stored
 * at or after it. The broker refuses a reset while the group has live
 * members, so a running consumer cannot overwrite it with its next commit.
 */
#include "cli/groups.h"
#include "cli/connect.h"

#include "client.h"
#include "config.h"
#include "error.h"
#include "parse.h"
#include "program.h"
#include "secret.h"
#include "timeparse.h"
#include "tls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const sl_opt_t opts[] = {
    {"broker", "127.0.0.1:8123", 0,
     "broker address (default: $SLUICE_BROKER or 127.0.0.1:8123)"},
    {"broker-secret-file", NULL, 0,
     "file holding the broker's shared secret (else $SLUICE_BROKER_SECRET)"},
    /* The name this command had before; every program says
     * broker-secret-file (issue 19). */
    {"auth-file", "broker-secret-file", SL_OPT_ALIAS, NULL},
    SL_TLS_BROKER_OPTIONS,
    {"to", NULL, 0,
     "reset: earliest, latest, an offset, or a time ('YYYY-MM-DD HH:MM:SS' "
     "local, Z for UTC, @EPOCH)"},
    {"topic", NULL, 0,
     "reset: only this topic (also partitions the group "
     "never committed for)"},
    {"partition", NULL, 0, "reset: only this partition (with --topic)"},
    {"dry-run", "no", SL_OPT_FLAG,
     "reset: show what would change, change "
     "nothing"},
    {"timeout", "30s", 0, "I/O timeout"},
    {"log-level", "info", 0, "debug, info, warn or error"},
    {NULL, NULL, 0, NULL},
};

static const char usage[] =
    "sluice groups [GROUP]\n"
    "       sluice groups reset GROUP --to earliest|latest|OFFSET|TIME "
    "[--topic T [--partition P]] [--dry-run]";

int sl_cli_groups_wanted(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return 0;
        if (strncmp(argv[i], "--", 2) == 0) {
            /* Skip the value of the options before the command. */
            if (strchr(argv[i], '=') == NULL &&
                (strcmp(argv[i], "--broker") == 0 ||
                 strcmp(argv[i], "--broker-secret-file") == 0 ||
                 strcmp(argv[i], "--auth-file") == 0 ||
                 strcmp(argv[i], "--broker-ca") == 0 ||
                 strcmp(argv[i], "--broker-cert") == 0 ||
                 strcmp(argv[i], "--broker-key") == 0 ||
                 strcmp(argv[i], "--config") == 0 ||
                 strcmp(argv[i], "--timeout") == 0 ||
                 strcmp(argv[i], "--log-level") == 0))
                i++;
            continue;
        }
        return strcmp(argv[i], "groups") == 0;
    }
    return 0;
}

/* One line of the listing. */
typedef struct {
    char group[256], topic[256], part[256];
    unsigned long long committed, earliest, latest, lag;
    unsigned members;
} row_t;

static int cmp_rows(const void *a, const void *b) {
    const row_t *x = a, *y = b;
    int c = strcmp(x->group, y->group);
    if (c == 0)
        c = strcmp(x->topic, y->topic);
    return c ? c : strcmp(x->part, y->part);
}

/* Parses the groups reply into rows (sorted); *out owned by the caller. */
static int parse_rows(const sl_buf_t *text, row_t **out, size_t *n) {
    *out = NULL;
    *n = 0;
    size_t cap = 0;
    const char *p = (const char *)text->data, *end = p + text->len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        char line[1024];
        snprintf(line, sizeof line, "%.*s", (int)len, p);
        p += len + 1;
        if (*n == cap) {
            cap = cap ? cap * 2 : 32;
            row_t *r = realloc(*out, cap * sizeof *r);
            if (r == NULL)
                return SL_ENOMEM;
            *out = r;
        }
        row_t *r = &(*out)[*n];
        if (sscanf(line, "%255s %255s %255s %llu %llu %llu %llu %u", r->group,
                   r->topic, r->part, &r->committed, &r->earliest, &r->latest,
                   &r->lag, &r->members) != 8) {
            fprintf(stderr, "sluice: the broker sent a bad groups line: %s\n",
                    line);
            return SL_EPROTO;
        }
        (*n)++;
    }
    if (*n > 0)
        qsort(*out, *n, sizeof **out, cmp_rows);
    return 0;
}

static int list(sl_client_t *cl, const char *group) {
    sl_buf_t text = SL_BUF_INIT;
    row_t *rows = NULL;
    size_t n = 0;
    int err = sl_client_groups(cl, group, &text);
    if (err == 0)
        err = parse_rows(&text, &rows, &n);
    sl_buf_free(&text);
    if (err != 0) {
        fprintf(stderr, "sluice: groups: %s\n",
                sl_client_error(cl)[0] ? sl_client_error(cl)
                                       : sl_strerror(err));
        free(rows);
        return 1;
    }
    printf("%-24s %-16s %-24s %12s %12s %10s %7s\n", "GROUP", "TOPIC",
           "PARTITION", "COMMITTED", "LATEST", "LAG", "MEMBERS");
    for (size_t i = 0; i < n; i++)
        printf("%-24s %-16s %-24s %12llu %12llu %10llu %7u\n", rows[i].group,
               rows[i].topic, rows[i].part, rows[i].committed, rows[i].latest,
               rows[i].lag, rows[i].members);
    free(rows);
    return 0;
}

/* Where --to puts a partition. */
static int target(sl_client_t *cl, const char *to, const char *topic,
                  const char *part, uint64_t *off) {
    uint64_t a, b;
    int err = sl_client_offsets(cl, topic, part, &a, &b);
    if (err != 0)
        return err;
    int64_t ms;
    if (strcmp(to, "earliest") == 0)
        *off = a;
    else if (strcmp(to, "latest") == 0)
        *off = b;
    else if (sl_parse_u64(to, off) == 0) {
        if (*off < a || *off > b) {
            fprintf(stderr,
                    "sluice: %s/%s holds offsets %llu to %llu; %llu is "
                    "outside them\n",
                    topic, part, (unsigned long long)a, (unsigned long long)b,
                    (unsigned long long)*off);
            return SL_ERANGE;
        }
    } else if (sl_parse_time_ms(to, &ms) == 0)
        return sl_client_offset_for_time(cl, topic, part, ms, off);
    else
        return SL_EUSAGE;
    return 0;
}

static int reset(sl_client_t *cl, sl_config_t *cfg, const char *group) {
    const char *to = sl_config_get(cfg, "to");
    const char *topic = sl_config_get(cfg, "topic");
    const char *partition = sl_config_get(cfg, "partition");
    int dry = 0;
    sl_config_get_bool(cfg, "dry-run", &dry);
    if (to == NULL) {
        fprintf(stderr, "sluice: groups reset needs --to earliest|latest|"
                        "OFFSET|TIME\n");
        return 2;
    }
    if (partition != NULL && topic == NULL) {
        fprintf(stderr, "sluice: --partition needs --topic\n");
        return 2;
    }
    sl_buf_t text = SL_BUF_INIT;
    row_t *rows = NULL;
    size_t n = 0;
    int err = sl_client_groups(cl, group, &text);
    if (err == 0)
        err = parse_rows(&text, &rows, &n);
    sl_buf_reset(&text);
    /* With --topic, every partition of the topic (a group may start
     * reading one it never committed for). */
    if (err == 0 && topic != NULL) {
        size_t keep = 0;
        for (size_t i = 0; i < n; i++)
            if (strcmp(rows[i].topic, topic) == 0)
                rows[keep++] = rows[i];
        n = keep;
        err = sl_client_partitions(cl, topic, &text);
        const char *p = (const char *)text.data, *end = p + text.len;
        while (err == 0 && p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
            char t[256], pn[256];
            char line[1024];
            snprintf(line, sizeof line, "%.*s", (int)len, p);
            p += len + 1;
            if (sscanf(line, "%255s %255s", t, pn) != 2)
                continue;
            int have = 0;
            for (size_t i = 0; i < n && !have; i++)
                have = strcmp(rows[i].part, pn) == 0;
            if (have)
                continue;
            row_t *r = realloc(rows, (n + 1) * sizeof *r);
            if (r == NULL) {
                err = SL_ENOMEM;
                break;
            }
            rows = r;
            memset(&rows[n], 0, sizeof rows[n]);
            snprintf(rows[n].group, sizeof rows[n].group, "%s", group);
            snprintf(rows[n].topic, sizeof rows[n].topic, "%s", t);
            snprintf(rows[n].part, sizeof rows[n].part, "%s", pn);
            rows[n].committed = UINT64_MAX;
            n++;
        }
    }
    sl_buf_free(&text);
    if (err != 0) {
        fprintf(stderr, "sluice: groups reset: %s\n",
                sl_client_error(cl)[0] ? sl_client_error(cl)
                                       : sl_strerror(err));
        free(rows);
        return 1;
    }
    size_t done = 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        row_t *r = &rows[i];
        if (partition != NULL && strcmp(r->part, partition) != 0)
            continue;
        if (r->members > 0) {
            fprintf(stderr,
                    "sluice: group %s has %u live member(s); stop its "
                    "consumers before moving its offsets\n",
                    group, r->members);
            rc = 1;
            break;
        }
        uint64_t off;
        err = target(cl, to, r->topic, r->part, &off);
        if (err == SL_EUSAGE) {
            fprintf(stderr,
                    "sluice: --to '%s' is not earliest, latest, an offset "
                    "or a time\n",
                    to);
            rc = 2;
            break;
        }
        if (err != 0) {
            if (err != SL_ERANGE)
                fprintf(stderr, "sluice: %s/%s: %s\n", r->topic, r->part,
                        sl_client_error(cl)[0] ? sl_client_error(cl)
                                               : sl_strerror(err));
            rc = 1;
            break;
        }
        char from[32];
        if (r->committed == UINT64_MAX)
            snprintf(from, sizeof from, "none");
        else
            snprintf(from, sizeof from, "%llu", r->committed);
        printf("%s %s %s %s -> %llu%s\n", group, r->topic, r->part, from,
               (unsigned long long)off, dry ? " (dry run)" : "");
        if (!dry && (err = sl_client_group_reset(cl, group, r->topic, r->part,
                                                 off)) != 0) {
            fprintf(stderr, "sluice: groups reset %s %s/%s: %s\n", group,
                    r->topic, r->part,
                    sl_client_error(cl)[0] ? sl_client_error(cl)
                                           : sl_strerror(err));
            rc = 1;
            break;
        }
        done++;
    }
    free(rows);
    if (rc == 0 && done == 0) {
        fprintf(stderr,
                "sluice: group %s has no committed offset%s%s to "
                "move\n",
                group, topic ? " in topic " : "", topic ? topic : "");
        return 1;
    }
    if (rc == 0)
        fprintf(stderr,
                "sluice: %s %zu partition(s) of group %s. A consumer that "
                "writes a database re-applies what it reads again: that is "
                "only safe when re-applying is idempotent (sluice-apply's "
                "--drift overwrite; a rewound target behind newer rows "
                "otherwise stops or skips them)\n",
                dry ? "would move" : "moved", done, group);
    return rc;
}

int sl_cli_groups_main(int argc, char **argv) {
    sl_config_t cfg;
    int rc = sl_program_args(&cfg, "sluice", usage, opts, argc, argv);
    if (rc != SL_PROGRAM_RUN)
        return rc;
    rc = 2;
    sl_client_t *cl = NULL;
    char *secret = NULL;
    size_t nargs = cfg.args.count;
    char **args = cfg.args.items;
    int is_reset = nargs >= 2 && strcmp(args[1], "reset") == 0;
    if (nargs < 1 || strcmp(args[0], "groups") != 0 ||
        (is_reset ? nargs != 3 : nargs > 2)) {
        fprintf(stderr, "usage: %s\n", usage);
        goto out;
    }
    uint64_t timeout;
    if (sl_config_get_ms(&cfg, "timeout", &timeout) != 0) {
        fprintf(stderr, "sluice: %s\n", cfg.err);
        goto out;
    }
    const char *broker = sl_config_get(&cfg, "broker");
    if (!sl_config_is_set(&cfg, "broker") && getenv("SLUICE_BROKER"))
        broker = getenv("SLUICE_BROKER");
    if ((rc = sl_program_broker_secret(&cfg, "broker-secret-file",
                                       "the broker secret "
                                       "(--broker-secret-file or "
                                       "SLUICE_BROKER_SECRET)",
                                       1, &secret)) != 0)
        goto out;
    rc = 1;
    if ((rc = sl_cli_connect(&cfg, broker, secret, timeout, &cl)) != 0)
        goto out;
    rc = is_reset ? reset(cl, &cfg, args[2])
                  : list(cl, nargs == 2 ? args[1] : NULL);
out:
    sl_client_close(cl);
    sl_secret_free(secret);
    sl_config_free(&cfg);
    return rc;
}
