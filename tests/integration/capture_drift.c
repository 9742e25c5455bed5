/*
 * The drift check of live capture (capture/driftcheck.h,
 * docs/schema-history.md "The drift check") against the harness MariaDB
 * with binlog_row_metadata=MINIMAL, where rows are decoded with the schema
 * history's column names:
 *
 * - a change the history never sees (an ALTER run with sql_log_bin=0) is
 *   caught by the timer check while capture is idle, and by the check
 *   after the next DDL event; capture stops with both definitions;
 * - a sequence of DDL and rows, in a burst and step by step, with DDL on
 *   tables that are not captured, never raises a false alarm;
 * - with --schema-check no nothing is checked (and the hidden change then
 *   publishes rows under the old column name: what the check prevents).
 */
#include "client.h"
#include "error.h"
#include "harness.h"
#include "sl_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define DB "drift_it"
#define DBX "drift_itx" /* Not captured. */

typedef struct {
    char dir[512];
    char broker[64];
    int broker_pid;
    char start[200];
    char log[700];
    uint16_t stats_port;
    char topic[32];
} env_t;

/* The harness runs the source with binlog_row_metadata=FULL; the test
 * sets MINIMAL and puts FULL back at exit, even after a failed check. */
static void restore_full_metadata(void) {
    MYSQL *mysql = sl_harness_mysql("SOURCE", NULL);
    sl_harness_exec(mysql, "SET GLOBAL binlog_row_metadata = 'FULL'");
    mysql_close(mysql);
}

/* A fresh database DB holding t (id, v), a broker, and capture's start
 * position after them; returns a session opened under MINIMAL metadata
 * with DB as its default database. */
static MYSQL *setup(env_t *env, const char *topic) {
    static int once;
    if (!once) {
        once = 1;
        MYSQL *m = sl_harness_mysql("SOURCE", NULL);
        atexit(restore_full_metadata);
        sl_harness_exec(m, "SET GLOBAL binlog_row_metadata = 'MINIMAL'");
        mysql_close(m);
    }
    memset(env, 0, sizeof *env);
    snprintf(env->topic, sizeof env->topic, "%s", topic);
    snprintf(env->dir, sizeof env->dir, "%s", sl_test_tmpdir());
    env->broker_pid =
        sl_harness_start_broker(env->dir, env->broker, sizeof env->broker);
    MYSQL *m = sl_harness_mysql("SOURCE", NULL);
    sl_harness_exec(m, "DROP DATABASE IF EXISTS " DB);
    sl_harness_exec(m, "DROP DATABASE IF EXISTS " DBX);
    sl_harness_exec(m, "CREATE DATABASE " DB " CHARACTER SET latin1");
    sl_harness_exec(m, "CREATE DATABASE " DBX);
    sl_harness_exec(m, "CREATE TABLE " DB ".t (id INT PRIMARY KEY, "
                       "v VARCHAR(20))");
    sl_harness_exec(m, "FLUSH BINARY LOGS");
    char file[128];
    uint64_t pos;
    sl_harness_master_status(m, file, sizeof file, &pos);
    snprintf(env->start, sizeof env->start, "%s:%llu", file,
             (unsigned long long)pos);
    if (mysql_select_db(m, DB) != 0)
        sl_test_fail(__FILE__, __LINE__, "USE: %s", mysql_error(m));
    return m;
}

static int start_capture(env_t *env, const char *check, const char *interval) {
    char listen[64];
    env->stats_port = sl_harness_free_port();
    snprintf(listen, sizeof listen, "127.0.0.1:%u", env->stats_port);
    snprintf(env->log, sizeof env->log, "%s/capture-%s.log", env->dir,
             env->topic);
    const char *const flags[] = {"--topic",
                                 env->topic,
                                 "--server-id",
                                 "3041",
                                 "--start",
                                 env->start,
                                 "--include",
                                 DB "\\..*",
                                 "--heartbeat",
                                 "200ms",
                                 "--checkpoint-interval",
                                 "50ms",
                                 "--report-interval",
                                 "60s",
                                 "--stats-listen",
                                 listen,
                                 "--schema-check",
                                 check,
                                 "--schema-check-interval",
                                 interval,
                                 NULL};
    int pid = sl_harness_start_capture(env->broker, flags, env->log);
    SL_CHECK_OK(sl_harness_wait_port(env->stats_port, 30000));
    return pid;
}

/* The capture stats text, once it reports rows (static). */
static const char *stats(env_t *env) {
    static char reply[65536];
    return sl_harness_tcp_poll(env->stats_port, "stats\r\n", "END\r\n",
                               "STAT rows ", 300, 10000, reply, sizeof reply);
}

/* A counter of the stats text; -1 when it is not reported. */
static long long stat_value(env_t *env, const char *name) {
    char key[64];
    snprintf(key, sizeof key, "STAT %s ", name);
    const char *p = strstr(stats(env), key);
    return p ? atoll(p + strlen(key)) : -1;
}

/* Waits until the counter reaches at least min (30 s at most). */
static void wait_stat(env_t *env, const char *name, long long min, int line) {
    long long v = -1;
    for (int i = 0; i < 300; i++) {
        if ((v = stat_value(env, name)) >= min)
            return;
        sl_harness_sleep_ms(100);
    }
    sl_test_fail(__FILE__, line, "%s is %lld, not %lld, after 30 s", name, v,
                 min);
}

/* 1 when a message of partition DB.table holds want. */
static int published(sl_client_t *cl, const char *topic, const char *table,
                     const char *want) {
    char part[128];
    snprintf(part, sizeof part, DB ".%s", table);
    uint64_t offset = 0;
    for (int guard = 0; guard < 10000; guard++) {
        sl_client_fetch_t f;
        if (sl_client_get(cl, topic, part, offset, 1 << 20, 0, &f) != 0 ||
            f.count == 0)
            return 0;
        for (size_t i = 0; i < f.count; i++)
            if (memmem(f.recs[i].data, f.recs[i].len, want, strlen(want)))
                return 1;
        offset = f.next;
    }
    return 0;
}

static void wait_published(sl_client_t *cl, env_t *env, const char *table,
                           const char *want, int line) {
    for (int i = 0; i < 300; i++) {
        if (published(cl, env->topic, table, want))
            return;
        sl_harness_sleep_ms(100);
    }
    sl_test_fail(__FILE__, line,
                 "no message with %s in %s."
                 "%s after 30 s",
                 want, DB, table);
}

/* Waits up to 30 s for capture to exit; returns its status, or -1. */
static int wait_exit(int pid) {
    int status;
    for (int i = 0; i < 300; i++) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            return status;
        sl_harness_sleep_ms(100);
    }
    return -1;
}

static char *slurp_text(const char *path) {
    size_t len;
    char *text = (char *)sl_harness_slurp(path, &len);
    text = realloc(text, len + 1);
    SL_CHECK(text != NULL);
    text[len] = '\0';
    return text;
}

/* Capture stopped by itself with the report of the hidden rename of
 * t.v to v2: both definitions of the column, and the error. */
static void check_stopped_on_drift(env_t *env, int status) {
    char *log = slurp_text(env->log);
    if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 1) {
        printf("%s", log);
        sl_test_fail(__FILE__, __LINE__,
                     "capture did not stop on the drift (status %d)", status);
    }
    static const char *const want[] = {
        "sluice-capture schema check:\n" DB ".t: the history and the "
        "server differ\n",
        "  column 1 same:     id type=int column_type=int(11) unsigned=no "
        "charset=- nullable=no pk=1\n",
        "  column 2 history:  v type=varchar column_type=varchar(20) "
        "unsigned=no charset=latin1 nullable=yes pk=0\n",
        "  column 2 server:   v2 type=varchar column_type=varchar(20) "
        "unsigned=no charset=latin1 nullable=yes pk=0\n",
        "capture stopped",
        "error=SL_ECORRUPT",
        "schema check: the schema history differs from the source's "
        "information_schema for 1 captured table(s), first " DB ".t: the "
        "history and the server differ",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (strstr(log, want[i]) == NULL) {
            printf("%s", log);
            sl_test_fail(__FILE__, __LINE__, "the log lacks \"%s\"", want[i]);
        }
    free(log);
}

static void hidden_rename(MYSQL *m) {
    sl_harness_exec(m, "SET SESSION sql_log_bin = 0");
    sl_harness_exec(m, "ALTER TABLE t CHANGE v v2 VARCHAR(20)");
    sl_harness_exec(m, "SET SESSION sql_log_bin = 1");
}

static void teardown(env_t *env, MYSQL *m, sl_client_t *cl) {
    sl_client_close(cl);
    sl_harness_stop(env->broker_pid, SIGTERM, 20000);
    sl_harness_exec(m, "DROP DATABASE " DB);
    sl_harness_exec(m, "DROP DATABASE IF EXISTS " DBX);
    mysql_close(m);
}

/* A test's start: setup(), capture with the check on or off, a broker
 * client, and a first row of t published ({"v":"one"}). */
static MYSQL *begin(env_t *env, const char *topic, const char *check,
                    const char *interval, int *cap, sl_client_t **cl) {
    MYSQL *m = setup(env, topic);
    *cap = start_capture(env, check, interval);
    SL_CHECK_OK(sl_client_connect(env->broker, NULL, cl));
    sl_harness_exec(m, "INSERT INTO t VALUES (1, 'one')");
    wait_published(*cl, env, "t", "\"v\":\"one\"", __LINE__);
    return m;
}

/* Capture is still running; it stops cleanly on SIGTERM, and its log
 * says the check agreed (when on) and never that it found a difference. */
static void end_running(env_t *env, int cap, int check_on) {
    SL_CHECK(waitpid(cap, &(int){0}, WNOHANG) == 0);
    int status = sl_harness_stop(cap, SIGTERM, 20000);
    SL_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char *log = slurp_text(env->log);
    const char *agreed = strstr(log, "schema check: the history agrees with "
                                     "the source\" tables_compared=");
    SL_CHECK(check_on ? agreed != NULL : strstr(log, "schema check") == NULL);
    SL_CHECK(strstr(log, "difference") == NULL);
    free(log);
}

SL_TEST(capture_drift_timer_catches_a_hidden_alter_while_idle) {
    env_t env;
    int cap;
    sl_client_t *cl;
    MYSQL *m = begin(&env, "drift1", "yes", "1s", &cap, &cl);
    wait_stat(&env, "schema_checks", 1, __LINE__); /* Start-up: agreed. */
    SL_CHECK_INT(stat_value(&env, "schema_mismatches"), 0);
    /* Nothing is written after this: only the timer can find it. */
    hidden_rename(m);
    check_stopped_on_drift(&env, wait_exit(cap));
    teardown(&env, m, cl);
}

SL_TEST(capture_drift_check_after_a_ddl_event_catches_a_hidden_alter) {
    env_t env;
    int cap;
    sl_client_t *cl;
    /* No timer within the test's time: the DDL event triggers the check. */
    MYSQL *m = begin(&env, "drift2", "yes", "1h", &cap, &cl);
    wait_stat(&env, "schema_checks", 1, __LINE__);
    hidden_rename(m);
    sl_harness_exec(m, "CREATE TABLE u (a INT)");
    check_stopped_on_drift(&env, wait_exit(cap));
    teardown(&env, m, cl);
}

/* One step of the sequence: a statement and, when row is not NULL, an
 * INSERT into table (a format taking the row's id) whose message's row
 * image must be want (the same format). */
typedef struct {
    const char *sql, *table, *row, *want;
} step_t;

static const step_t steps[] = {
    {"CREATE TABLE s (id INT PRIMARY KEY, a VARCHAR(10), b INT UNSIGNED)", "s",
     "INSERT INTO s VALUES (%d, 'a1', 7)", "{\"id\":%d,\"a\":\"a1\",\"b\":7}"},
    {"ALTER TABLE s ADD COLUMN c ENUM('x','y') NOT NULL DEFAULT 'x' AFTER a",
     "s", "INSERT INTO s VALUES (%d, 'a2', 'y', 8)",
     "{\"id\":%d,\"a\":\"a2\",\"c\":\"y\",\"b\":8}"},
    {"ALTER TABLE s CHANGE a a2 VARCHAR(20) CHARACTER SET utf8mb4, MODIFY b "
     "BIGINT",
     "s", "INSERT INTO s VALUES (%d, 'z\xc3\xa9', 'x', -9)",
     "{\"id\":%d,\"a2\":\"z\xc3\xa9\",\"c\":\"x\",\"b\":-9}"},
    {"CREATE TABLE " DBX ".o (z INT)", NULL, NULL, NULL},
    {"RENAME TABLE s TO s2", "s2", "INSERT INTO s2 VALUES (%d, 'r', 'y', 1)",
     "{\"id\":%d,\"a2\":\"r\",\"c\":\"y\",\"b\":1}"},
    {"ALTER TABLE " DBX ".o ADD y INT, ADD w TEXT", NULL, NULL, NULL},
    {"CREATE TABLE l LIKE s2", "l", "INSERT INTO l VALUES (%d, 'l', 'x', 2)",
     "{\"id\":%d,\"a2\":\"l\",\"c\":\"x\",\"b\":2}"},
    {"ALTER TABLE s2 DROP COLUMN b, ADD d DATETIME(3), DROP PRIMARY KEY, ADD "
     "PRIMARY KEY (id, c)",
     "s2", "INSERT INTO s2 VALUES (%d, 'd', 'y', '2024-01-02 03:04:05.678')",
     "{\"id\":%d,\"a2\":\"d\",\"c\":\"y\",\"d\":\"2024-01-02 03:04:05.678\"}"},
    {"ALTER TABLE l CONVERT TO CHARACTER SET utf8mb4", "l",
     "INSERT INTO l VALUES (%d, 'c', 'y', 3)",
     "{\"id\":%d,\"a2\":\"c\",\"c\":\"y\",\"b\":3}"},
    {"TRUNCATE TABLE l", NULL, NULL, NULL},
    {"DROP TABLE l", NULL, NULL, NULL},
    {"ALTER TABLE s2 RENAME TO s3, ADD e SET('p','q') DEFAULT 'p'", "s3",
     "INSERT INTO s3 VALUES (%d, 'e', 'x', NULL, 'p,q')",
     "{\"id\":%d,\"a2\":\"e\",\"c\":\"x\",\"d\":null,\"e\":\"p,q\"}"},
    {"DROP DATABASE " DBX, NULL, NULL, NULL},
    {"CREATE TABLE " DB ".k (id INT PRIMARY KEY, t TINYINT, "
     "u BIGINT UNSIGNED) DEFAULT CHARSET = utf8mb4",
     "k", "INSERT INTO k VALUES (%d, -1, 18446744073709551615)",
     "{\"id\":%d,\"t\":-1,\"u\":18446744073709551615}"},
};
#define NSTEPS (sizeof steps / sizeof steps[0])

/* Runs step i with row id id; with wait, waits for its row. */
static void run_step(MYSQL *m, sl_client_t *cl, env_t *env, size_t i, int id,
                     int wait) {
    char sql[300], want[300];
    sl_harness_exec(m, steps[i].sql);
    if (steps[i].row == NULL)
        return;
    snprintf(sql, sizeof sql, steps[i].row, id);
    sl_harness_exec(m, sql);
    if (!wait)
        return;
    snprintf(want, sizeof want, steps[i].want, id);
    wait_published(cl, env, steps[i].table, want, __LINE__);
}

SL_TEST(capture_drift_no_false_alarm_while_following_ddl_and_rows) {
    env_t env;
    int cap;
    sl_client_t *cl;
    MYSQL *m = begin(&env, "drift3", "yes", "1s", &cap, &cl);
    wait_stat(&env, "schema_checks", 1, __LINE__);
    /* A burst: DDL and rows with no pause, so checks meet DDL arriving
     * while they read the server. */
    for (size_t i = 0; i < NSTEPS; i++)
        run_step(m, cl, &env, i, 100 + (int)i, 0);
    for (size_t i = 0; i < NSTEPS; i++) {
        char want[300];
        if (steps[i].want == NULL)
            continue;
        snprintf(want, sizeof want, steps[i].want, 100 + (int)i);
        wait_published(cl, &env, steps[i].table, want, __LINE__);
    }
    /* Caught up: two more checks compare the final definitions. */
    long long n = stat_value(&env, "schema_checks");
    wait_stat(&env, "schema_checks", n + 2, __LINE__);
    /* Then step by step, each statement checked before the next. */
    sl_harness_exec(m, "DROP TABLE s3, k");
    sl_harness_exec(m, "CREATE DATABASE " DBX);
    for (size_t i = 0; i < NSTEPS; i++) {
        n = stat_value(&env, "schema_checks");
        run_step(m, cl, &env, i, 200 + (int)i, 1);
        wait_stat(&env, "schema_checks", n + 1, __LINE__);
    }
    SL_CHECK_INT(stat_value(&env, "schema_mismatches"), 0);
    SL_CHECK_INT(stat_value(&env, "schema_check_errors"), 0);
    printf("  %lld checks agreed, %lld snapshots dropped for DDL in between\n",
           stat_value(&env, "schema_checks"),
           stat_value(&env, "schema_check_retries"));
    end_running(&env, cap, 1);
    teardown(&env, m, cl);
}

SL_TEST(capture_drift_no_false_alarm_while_capture_is_behind) {
    /* Capture is still decoding a big transaction when two ALTERs follow
     * it on the server: the check the first ALTER triggers reads a server
     * that already has the second, which capture has not seen yet. It must
     * wait for capture to reach the server's end before comparing. */
    env_t env;
    int cap;
    sl_client_t *cl;
    MYSQL *m = begin(&env, "drift5", "yes", "1h", &cap, &cl);
    wait_stat(&env, "schema_checks", 1, __LINE__);
    sl_harness_exec(m, "CREATE TABLE big (id INT PRIMARY KEY, pad CHAR(60))");
    wait_stat(&env, "schema_checks", 2, __LINE__);
    sl_harness_exec(m, "INSERT INTO big SELECT seq, REPEAT('x', 60) FROM "
                       "seq_1_to_200000");
    sl_harness_exec(m, "ALTER TABLE t ADD c INT");
    sl_harness_exec(m, "ALTER TABLE t ADD d INT");
    sl_harness_exec(m, "INSERT INTO t VALUES (2, 'two', 3, 4)");
    wait_published(cl, &env, "t", "{\"id\":2,\"v\":\"two\",\"c\":3,\"d\":4}",
                   __LINE__);
    wait_stat(&env, "schema_checks", 3, __LINE__);
    SL_CHECK_INT(stat_value(&env, "schema_mismatches"), 0);
    end_running(&env, cap, 1);
    teardown(&env, m, cl);
}

SL_TEST(capture_drift_check_off_checks_nothing) {
    env_t env;
    int cap;
    sl_client_t *cl;
    MYSQL *m = begin(&env, "drift4", "no", "1s", &cap, &cl);
    hidden_rename(m);
    sl_harness_exec(m, "CREATE TABLE u (a INT)");
    sl_harness_exec(m, "INSERT INTO t VALUES (2, 'two')");
    /* The row goes out under the old name, v: the damage the check is
     * there to stop. */
    wait_published(cl, &env, "t", "\"v\":\"two\"", __LINE__);
    SL_CHECK(strstr(stats(&env), "schema_checks") == NULL);
    end_running(&env, cap, 0);
    teardown(&env, m, cl);
}
