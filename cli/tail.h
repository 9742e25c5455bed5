/*
 * The kcat-style commands of the sluice CLI (docs/cli.md):
 *
 *   sluice tail TOPIC [PARTITION...]   messages of the partitions named,
 *                                      or of every partition of TOPIC
 *   sluice consume ...                 the same
 *   sluice produce TOPIC PARTITION     one message per stdin line
 *
 * with kcat's everyday short options, rewritten to the long ones before
 * the options are read (sl_cli_short_flags): -c --count, -e --exit,
 * -o --from, -p --partition, -G --group, -f --format, -k --key,
 * -H --header.
 */
#ifndef SL_CLI_TAIL_H
#define SL_CLI_TAIL_H

#include "client.h"
#include "config.h"

/* The options of tail and produce, added to the CLI's option table. */
#define SL_CLI_TAIL_OPTS                                                       \
    {"count", "0", 0, "tail: stop after N messages (kcat -c; 0: no limit)"},   \
        {"exit", "no", SL_OPT_FLAG,                                            \
         "tail: exit at the end of every partition, also with --follow "       \
         "(kcat -e)"},                                                         \
        {"partition", NULL, SL_OPT_MULTI,                                      \
         "tail: a partition to read (repeatable, kcat -p; default: the "       \
         "positional ones, else the whole topic; a Kafka topic's partition "   \
         "N is #N)"},                                                          \
        {"format", "%s\\n", 0,                                                 \
         "tail: per message: %t topic, %p partition, %o offset, %T timestamp " \
         "(ms), %k key, %h headers, %s payload, %S its size, %% (kcat -f)"},   \
        {"key", NULL, 0, "produce: a key for every message (kcat -k)"},        \
        {"header", NULL, SL_OPT_MULTI,                                         \
         "produce: a NAME=VALUE header (repeatable, needs --kafka; kcat -H)"}, \
    {                                                                          \
        "kafka", NULL, 0,                                                      \
            "produce: through the broker's Kafka listener at HOST:PORT, "      \
            "which "                                                           \
            "keeps headers too (PARTITION is then a number)"                   \
    }

/* Returns argv with kcat's short options replaced by the long ones, in a
 * new array (owned by the caller, free() it; the strings are argv's), or
 * NULL when out of memory. */
char **sl_cli_short_flags(int argc, char **argv);

/* sluice tail/consume: args[0] is the command, args[1] the topic, the rest
 * partitions. Returns the exit status. */
int sl_cli_tail(sl_config_t *cfg, sl_client_t *cl, size_t nargs, char **args);

/* sluice produce TOPIC PARTITION; cl is NULL with --kafka (secret, or
 * NULL, authenticates there). Returns the exit status. */
int sl_cli_produce(sl_config_t *cfg, sl_client_t *cl, size_t nargs, char **args,
                   const char *secret);

#endif
