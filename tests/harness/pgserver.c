/*
 * The C side of tests/harness/pg.sh (see pgserver.h). The script does the
 * work (initdb, setpriv when root, waiting for readiness) so that shell
 * tests and benchmarks can start the same server.
 */
#include "pgserver.h"

#include "sl_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

/* The script, found next to bin/ (SL_BIN) or from the current directory
 * (tests run from the repository root). */
static void script(char *out, size_t cap) {
    const char *bin = getenv("SL_BIN");
    if (bin != NULL)
        snprintf(out, cap, "%s/../tests/harness/pg.sh", bin);
    else
        snprintf(out, cap, "tests/harness/pg.sh");
}

void sl_harness_pg_start(sl_harness_pg_t *pg) {
    if (pg->dir[0] == '\0') {
        snprintf(pg->dir, sizeof pg->dir, "/tmp/sluice-pg.XXXXXX");
        if (mkdtemp(pg->dir) == NULL)
            sl_test_fail(__FILE__, __LINE__, "mkdtemp failed");
        snprintf(pg->password_file, sizeof pg->password_file, "%s/password",
                 pg->dir);
    }
    char sh[600], cmd[1200], line[128] = "";
    script(sh, sizeof sh);
    snprintf(cmd, sizeof cmd, "bash '%s' start '%s'", sh, pg->dir);
    FILE *p = popen(cmd, "r");
    if (p == NULL)
        sl_test_fail(__FILE__, __LINE__, "cannot run %s", sh);
    if (fgets(line, sizeof line, p) == NULL)
        line[0] = '\0';
    int st = pclose(p);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 3)
        sl_test_skip("PostgreSQL 15 is not installed (Debian package "
                     "postgresql)");
    unsigned port = 0;
    int pid = 0;
    if (st != 0 || sscanf(line, "%u %d", &port, &pid) != 2)
        sl_test_fail(__FILE__, __LINE__,
                     "PostgreSQL did not start (see %s/log)", pg->dir);
    pg->port = (uint16_t)port;
    pg->pid = pid;
}

void sl_harness_pg_stop(sl_harness_pg_t *pg) {
    if (pg->dir[0] == '\0')
        return;
    char sh[600], cmd[1200];
    script(sh, sizeof sh);
    snprintf(cmd, sizeof cmd, "bash '%s' stop '%s'", sh, pg->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "stopping PostgreSQL in %s failed\n", pg->dir);
    pg->pid = 0;
}

void sl_harness_pg_remove(sl_harness_pg_t *pg) {
    if (pg->dir[0] == '\0')
        return;
    sl_harness_pg_stop(pg);
    if (getenv("SL_HARNESS_KEEP") == NULL) {
        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", pg->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", pg->dir);
    }
    pg->dir[0] = '\0';
}
