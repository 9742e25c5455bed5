/*
 * What the programs (sluice-broker, sluice-capture, sluice-apply, sluice)
 * do alike before their own work: read the option table from argv and
 * --config (sl_config_parse_args() answers --help and --version), report a
 * usage error as "PROGRAM: message" on stderr with exit status 2, set the
 * log level, and load and check the broker's shared secret. Each program
 * keeps its own messages and exit statuses: these helpers print only what
 * lib/ reports, prefixed with the program's name.
 */
#ifndef SL_PROGRAM_H
#define SL_PROGRAM_H

#include "config.h"

/* Returned by sl_program_args() when the program goes on. */
#define SL_PROGRAM_RUN (-1)

/* Prepares cfg for the table opts and parses argv. Returns SL_PROGRAM_RUN,
 * or the exit status with cfg already released: 0 after --help or
 * --version, 1 when out of memory, 2 on bad usage ("PROGRAM: message" on
 * stderr). */
int sl_program_args(sl_config_t *cfg, const char *program, const char *usage,
                    const sl_opt_t *opts, int argc, char **argv);

/* Sets the log level and line format named by the options "log-level"
 * and "log-format" (the latter when the table has it). Returns 0, or
 * SL_EUSAGE with nothing printed (each program words that error itself). */
int sl_program_log_level(const sl_config_t *cfg);

/* Loads the broker's shared secret from the file named by the option key,
 * else from $SLUICE_BROKER_SECRET (sl_secret_load()), and checks that the
 * auth line can carry it (sl_secret_check_token(); what names the secret
 * in that message). Returns 0 with *secret set (NULL: none configured;
 * release it with sl_secret_free()), or the exit status with
 * "PROGRAM: message" on stderr and *secret NULL: load_status when the
 * secret cannot be read, 2 when it cannot be sent. */
int sl_program_broker_secret(const sl_config_t *cfg, const char *key,
                             const char *what, int load_status, char **secret);

#endif
