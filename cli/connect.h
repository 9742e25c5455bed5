/*
 * The CLI's connection to the broker, shared by its commands (cli/main.c,
 * cli/groups.c): the --broker-tls options read once, the same messages
 * and exit statuses everywhere.
 */
#ifndef SL_CLI_CONNECT_H
#define SL_CLI_CONNECT_H

#include "client.h"
#include "config.h"

/* Connects to broker (secret, or NULL; timeout_ms the I/O timeout) with
 * the TLS the --broker-tls options of cfg ask for. Returns the exit
 * status on failure after printing why (2: bad options, 1: the broker
 * cannot be reached), or 0 with *cl set (the caller's, sl_client_close). */
int sl_cli_connect(sl_config_t *cfg, const char *broker, const char *secret,
                   uint64_t timeout_ms, sl_client_t **cl);

#endif
