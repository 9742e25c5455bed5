/*
 * A real PostgreSQL 15 for the tests, started through tests/harness/pg.sh
 * (initdb on first use; as the "postgres" user when the tests run as
 * root): listening on 127.0.0.1 on a free port and on a unix socket in its
 * directory; role "sluice" (password in password_file, required over TCP)
 * owns database "sluice". Stopped by the PID the server wrote.
 */
#ifndef SL_HARNESS_PGSERVER_H
#define SL_HARNESS_PGSERVER_H

#include <stdint.h>

typedef struct {
    char dir[256]; /* Data, socket, port, password, log. */
    char password_file[300];
    uint16_t port;
    int pid;
} sl_harness_pg_t;

/* Starts the server (creating it under /tmp on the first call for pg,
 * which the caller zeroes first). Skips the test when PostgreSQL is not
 * installed; fails it when the server does not start. */
void sl_harness_pg_start(sl_harness_pg_t *pg);
/* Fast shutdown (SIGINT to the server's PID), waiting for it. */
void sl_harness_pg_stop(sl_harness_pg_t *pg);
/* Stops it and removes its directory. */
void sl_harness_pg_remove(sl_harness_pg_t *pg);

#endif
