/*
 * Statement-based DML carries no rows, so capture stops on it instead of
 * losing them (docs/capture.md). A session may still write in statement
 * format on a ROW source, and the server logs the statement as written:
 * a leading comment, an executable comment or MariaDB's "SET STATEMENT
 * ... FOR" prefix must not hide the verb. Each statement runs alone and
 * capture is started just before it: it must exit saying why.
 */
#include "client.h"
#include "harness.h"
#include "sl_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define DB "stmtdml_it"

SL_TEST(capture_stops_on_statement_dml_behind_a_prefix) {
    static const char *const stmts[] = {
        "SET STATEMENT max_statement_time=100 FOR INSERT INTO t VALUES (1)",
        "/* a client's note */ INSERT INTO t VALUES (2)",
        "/*!40101 UPDATE t SET v = 3 */",
    };
    MYSQL *mysql = sl_harness_mysql("SOURCE", NULL);
    char broker[64];
    int broker_pid =
        sl_harness_start_broker(sl_test_tmpdir(), broker, sizeof broker);
    sl_harness_exec(mysql, "DROP DATABASE IF EXISTS " DB);
    sl_harness_exec(mysql, "CREATE DATABASE " DB);
    sl_harness_exec(mysql, "USE " DB);
    sl_harness_exec(mysql, "CREATE TABLE t (v INT)");
    for (size_t i = 0; i < sizeof stmts / sizeof stmts[0]; i++) {
        char file[128], start[200], logpath[700], name[32];
        uint64_t pos;
        sl_harness_master_status(mysql, file, sizeof file, &pos);
        snprintf(start, sizeof start, "%s:%llu", file, (unsigned long long)pos);
        snprintf(logpath, sizeof logpath, "%s/capture%zu.log", sl_test_tmpdir(),
                 i);
        snprintf(name, sizeof name, "stmtdml%zu", i);
        sl_harness_exec(mysql, "SET SESSION binlog_format = 'STATEMENT'");
        sl_harness_exec(mysql, stmts[i]);
        sl_harness_exec(mysql, "SET SESSION binlog_format = 'ROW'");
        /* A row after it, which capture must never reach. */
        sl_harness_exec(mysql, "INSERT INTO t VALUES (100)");
        const char *const flags[] = {"--topic",  "stmtdml",     "--name",
                                     name,       "--server-id", "3051",
                                     "--start",  start,         "--include",
                                     DB "\\..*", NULL};
        int cap = sl_harness_start_capture(broker, flags, logpath);
        int status;
        int exited = sl_harness_wait_exit(cap, 30000, &status);
        if (!exited)
            sl_harness_stop(cap, SIGTERM, 20000);
        size_t len;
        char *log = (char *)sl_harness_slurp(logpath, &len);
        log = realloc(log, len + 1);
        SL_CHECK(log != NULL);
        log[len] = '\0';
        if (!exited || !WIFEXITED(status) || WEXITSTATUS(status) != 1 ||
            strstr(log, "statement-based DML") == NULL)
            sl_test_fail(__FILE__, __LINE__, "%s: capture did not stop: %s",
                         stmts[i], log);
        free(log);
    }
    sl_harness_exec(mysql, "DROP DATABASE " DB);
    sl_harness_stop(broker_pid, SIGTERM, 20000);
    mysql_close(mysql);
}
