/*
 * A DDL statement reaches each partition it concerns once: under
 * --partition-by database, DROP TABLE a, b (logged as DROP TABLE `a`,`b`)
 * names two tables of one
 * partition, and RENAME TABLE p TO t, q TO p, t TO q names p and q twice
 * each; every one of them must appear in the database's partition exactly
 * once (found by the DDL corpus, issue 14: it came once per table name).
 */
#include "client.h"
#include "harness.h"
#include "sl_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DB "ddlonce_it"
#define TOPIC "ddlonce"

static size_t count(const char *text, const char *what) {
    size_t n = 0;
    for (const char *p = strstr(text, what); p; p = strstr(p + 1, what))
        n++;
    return n;
}

SL_TEST(capture_publishes_a_ddl_once_per_partition) {
    MYSQL *mysql = sl_harness_mysql("SOURCE", NULL);
    char broker[64];
    int broker_pid =
        sl_harness_start_broker(sl_test_tmpdir(), broker, sizeof broker);
    sl_harness_exec(mysql, "DROP DATABASE IF EXISTS " DB);
    sl_harness_exec(mysql, "CREATE DATABASE " DB);
    sl_harness_exec(mysql, "USE " DB);
    char file[128], start[200], logpath[700];
    uint64_t pos;
    sl_harness_master_status(mysql, file, sizeof file, &pos);
    snprintf(start, sizeof start, "%s:%llu", file, (unsigned long long)pos);
    snprintf(logpath, sizeof logpath, "%s/capture.log", sl_test_tmpdir());
    const char *const flags[] = {
        "--topic",     TOPIC,   "--server-id",    "3041",
        "--start",     start,   "--include",      DB "\\..*",
        "--heartbeat", "200ms", "--partition-by", "database",
        NULL};
    int cap = sl_harness_start_capture(broker, flags, logpath);
    sl_client_t *cl;
    SL_CHECK_OK(sl_client_connect(broker, NULL, &cl));

    sl_harness_exec(mysql, "CREATE TABLE a (id INT PRIMARY KEY)");
    sl_harness_exec(mysql, "CREATE TABLE b (id INT PRIMARY KEY)");
    sl_harness_exec(mysql, "CREATE TABLE p (id INT PRIMARY KEY)");
    sl_harness_exec(mysql, "CREATE TABLE q (id INT PRIMARY KEY, v INT)");
    sl_harness_exec(mysql, "DROP TABLE a, b");
    sl_harness_exec(mysql, "RENAME TABLE p TO t, q TO p, t TO q");
    sl_harness_exec(mysql, "INSERT INTO p VALUES (7, 70)");
    sl_harness_wait_partition_text(cl, TOPIC, DB, "\"v\":70", logpath);

    char *text = sl_harness_partition_text(cl, TOPIC, DB);
    if (count(text, "DROP TABLE `a`,`b`") != 1 ||
        count(text, "RENAME TABLE p TO t, q TO p, t TO q") != 1 ||
        count(text, "CREATE TABLE q") != 1)
        sl_test_fail(__FILE__, __LINE__, "partition %s: %s", DB, text);
    free(text);
    sl_harness_stop(cap, SIGTERM, 20000);
    sl_client_close(cl);
    sl_harness_stop(broker_pid, SIGTERM, 20000);
    mysql_close(mysql);
}
