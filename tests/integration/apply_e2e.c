/*
 * The whole pipeline: a mixed workload on the source MariaDB (inserts,
 * updates including primary-key and e-mail changes, deletes, every common
 * column type, multi-table transactions, a table without any key), read by
 * sluice-capture into sluice-broker, applied by sluice-apply into the
 * target MariaDB (database mapped) and into Redis and memcached. At the
 * end each target table equals its source table, compared by a hash over
 * all rows in primary-key order (not just counts), and every cache key the
 * workload changed was deleted from both caches.
 */
#include "client.h"
#include "error.h"
#include "harness.h"
#include "sl_test.h"

#include <arpa/inet.h>
#include <hiredis.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *const ddl[] = {
    /* YEAR before numeric columns and POINT before text columns: the
     * binlog's signedness and charset fields count them (a capture bug
     * once shifted the columns after them). */
    "CREATE TABLE %s.users (id INT PRIMARY KEY, y YEAR, email VARCHAR(64) "
    "UNIQUE, g POINT NULL, name VARCHAR(64) CHARACTER SET utf8mb4, "
    "bal DECIMAL(30,10), big BIGINT UNSIGNED, small SMALLINT, "
    "tiny TINYINT UNSIGNED, med MEDIUMINT, f FLOAT, d DOUBLE, "
    "bin VARBINARY(16), doc JSON, txt TEXT, blb BLOB, "
    "lat VARCHAR(20) CHARACTER SET latin1, e ENUM('a','b','c'), "
    "s SET('x','y','z'), bt BIT(10), dd DATE, tm TIME(3), dt DATETIME(6), "
    "ts TIMESTAMP(3) NULL)",
    "CREATE TABLE %s.orders (id BIGINT PRIMARY KEY, user_id INT, amount "
    "DECIMAL(12,2), note VARCHAR(100))",
    "CREATE TABLE %s.nokey (a INT, b VARCHAR(10))",
};

/* Row hashes: every column, binary ones in hex, geometry as text. */
static const char *const hashes[] = {
    "SELECT CONCAT(COUNT(*), ':', MD5(GROUP_CONCAT(CONCAT_WS('|', id, email, "
    "name, bal, big, HEX(bin), doc, f, d, bt+0, y, dd, tm, dt, ts, e, s, "
    "ST_AsText(g), txt, HEX(blb), lat, small, tiny, med, 'end') ORDER BY id "
    "SEPARATOR ';'))) FROM %s.users",
    "SELECT CONCAT(COUNT(*), ':', MD5(GROUP_CONCAT(CONCAT_WS('|', id, "
    "user_id, amount, note) ORDER BY id SEPARATOR ';'))) FROM %s.orders",
    "SELECT CONCAT(COUNT(*), ':', MD5(GROUP_CONCAT(CONCAT_WS('|', a, b) "
    "ORDER BY a, b SEPARATOR ';'))) FROM %s.nokey",
};

/* The transport capture and apply use: sluice-broker's text protocol, or
 * its Kafka listener with SL_TEST_TRANSPORT=kafka (run so by
 * tests/integration/kafka_transport.sh). Fills the broker's
 * --kafka-listen value and the address capture and apply are given;
 * returns the Kafka port (0: none). */
static uint16_t transport(uint16_t bport, char klisten[64], char addr[80]) {
    const char *t = getenv("SL_TEST_TRANSPORT");
    if (t == NULL || strcmp(t, "kafka") != 0) {
        snprintf(klisten, 64, "off");
        snprintf(addr, 80, "127.0.0.1:%u", bport);
        return 0;
    }
    uint16_t kport = sl_harness_free_port();
    snprintf(klisten, 64, "127.0.0.1:%u", kport);
    snprintf(addr, 80, "kafka://127.0.0.1:%u", kport);
    return kport;
}

static char *hash_of(MYSQL *m, int t, const char *db) {
    char sql[1024];
    snprintf(sql, sizeof sql, hashes[t], db);
    return sl_harness_query_value(m, sql);
}

static void exec_fmt(MYSQL *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void exec_fmt(MYSQL *m, const char *fmt, ...) {
    char sql[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    sl_harness_exec(m, sql);
}

#define NUSERS 240

static void workload_range(MYSQL *m, int from, int to);
static void workload(MYSQL *m) { workload_range(m, 0, NUSERS); }

static void workload_range(MYSQL *m, int from, int to) {
    for (int i = from; i < to; i++) {
        /* A multi-table transaction with every column type. */
        exec_fmt(
            m,
            "BEGIN;"
            "INSERT INTO e2e.users (id, email, name, bal, big, bin, doc, f, "
            "d, bt, y, dd, tm, dt, ts, e, s, g, txt, blb, lat, small, "
            "tiny, med) VALUES (%d, 'u%d@x', 'n\\'%d é😀 \\\\', "
            "%d.%04d, %llu, UNHEX('00FF%02X27'), '{\"k\": [%d, \"v\"]}', "
            "%d.5, %d.25e10, b'10101%d', %d, '2024-%02d-%02d', "
            "'-%d:01:02.5', '2024-01-02 03:04:05.%06d', "
            "'2030-01-01 00:00:0%d.123', '%c', 'x,%c', %s, REPEAT('t', %d), "
            "UNHEX(REPEAT('AB', %d)), 'caf\\xe9', %d, %d, %d);"
            "INSERT INTO e2e.orders VALUES (%d, %d, %d.%02d, 'o%d');"
            "INSERT INTO e2e.nokey VALUES (%d, 'k%d');"
            "COMMIT",
            i, i, i, i, i % 10000, 18446744073709551615ull - (unsigned)i,
            i % 256, i, i, i, i % 2, 1901 + i % 250, 1 + i % 12, 1 + i % 28,
            i % 800, i, i % 10, 'a' + i % 3, 'y' + i % 2,
            i % 4 ? "ST_GeomFromText('POINT(1 2)')" : "NULL", i % 50, i % 20,
            i - 100, i % 256, i * 100, i, i, i, i % 100, i, i % 7, i);
        if (i % 3 == 2)
            exec_fmt(m,
                     "UPDATE e2e.users SET email='changed%d@x', bal=-bal "
                     "WHERE id=%d",
                     i - 1, i - 1);
        if (i % 5 == 4)
            exec_fmt(m, "UPDATE e2e.users SET id=id+100000 WHERE id=%d", i - 2);
        if (i % 7 == 6)
            exec_fmt(m,
                     "BEGIN; DELETE FROM e2e.orders WHERE id=%d;"
                     "DELETE FROM e2e.nokey WHERE a=%d LIMIT 1;"
                     "UPDATE e2e.users SET name=NULL, g=NULL WHERE id=%d;"
                     "COMMIT",
                     i - 3, i % 7, i);
        if (i % 11 == 10)
            exec_fmt(m, "DELETE FROM e2e.users WHERE id=%d", i - 5);
    }
}

static int mc_fd(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons(sl_harness_port("MEMCACHED"))};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    SL_CHECK(connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
    return fd;
}

static void mc_line(int fd, const char *cmd, char *reply, size_t cap) {
    SL_CHECK(write(fd, cmd, strlen(cmd)) == (ssize_t)strlen(cmd));
    size_t n = 0;
    while (n + 1 < cap && read(fd, reply + n, 1) == 1) {
        n++;
        if (n >= 2 && reply[n - 2] == '\r' && reply[n - 1] == '\n')
            break;
    }
    reply[n] = '\0';
}

/* Every key the workload changes: user:{id} for ids and moved ids,
 * user:email:{email} for the original and the changed e-mails. */
static int keys_of(char keys[][48]) {
    int n = 0;
    for (int i = 0; i < NUSERS; i++) {
        snprintf(keys[n++], 48, "user:%d", i);
        snprintf(keys[n++], 48, "user:email:u%d@x", i);
        if (i % 3 == 1)
            snprintf(keys[n++], 48, "user:email:changed%d@x", i);
        if (i % 5 == 2)
            snprintf(keys[n++], 48, "user:%d", i + 100000);
    }
    return n;
}

SL_TEST(apply_e2e_capture_broker_apply) {
    MYSQL *src = sl_harness_mysql("SOURCE", NULL);
    MYSQL *dst = sl_harness_mysql("TARGET", NULL);
    uint16_t rport = sl_harness_port("REDIS");
    sl_harness_port("MEMCACHED");
    char dir[512];
    /* Under the suite's root (kept for a post-mortem with
     * SL_HARNESS_KEEP=1), not the test's tmpdir, which goes at once. */
    snprintf(dir, sizeof dir, "%s/apply-e2e-%d",
             getenv("SL_HARNESS_ROOT") ? getenv("SL_HARNESS_ROOT") : "/tmp",
             (int)getpid());
    mkdir(dir, 0700);
    sl_harness_exec(src, "DROP DATABASE IF EXISTS e2e");
    sl_harness_exec(src, "CREATE DATABASE e2e");
    sl_harness_exec(dst, "DROP DATABASE IF EXISTS e2e_dst");
    sl_harness_exec(dst, "DROP DATABASE IF EXISTS e2e_meta");
    sl_harness_exec(dst, "CREATE DATABASE e2e_dst");
    sl_harness_exec(dst, "CREATE DATABASE e2e_meta");
    for (int t = 0; t < 3; t++) {
        exec_fmt(src, ddl[t], "e2e");
        exec_fmt(dst, ddl[t], "e2e_dst");
    }
    sl_harness_exec(src, "FLUSH BINARY LOGS");
    SL_CHECK_OK(mysql_query(src, "SHOW MASTER STATUS"));
    MYSQL_RES *res = mysql_store_result(src);
    MYSQL_ROW row = mysql_fetch_row(res);
    char start[200];
    snprintf(start, sizeof start, "%s:%s", row[0], row[1]);
    mysql_free_result(res);

    /* Seed the caches. */
    static char keys[NUSERS * 4][48];
    int nkeys = keys_of(keys);
    redisContext *rc = redisConnect("127.0.0.1", rport);
    SL_CHECK(rc != NULL && rc->err == 0);
    int fd = mc_fd();
    char cmd[200], reply[200];
    for (int k = 0; k < nkeys; k++) {
        redisReply *r = redisCommand(rc, "SET %s v", keys[k]);
        freeReplyObject(r);
        snprintf(cmd, sizeof cmd, "set %.47s 0 0 1\r\nv\r\n", keys[k]);
        mc_line(fd, cmd, reply, sizeof reply);
        SL_CHECK_STR(reply, "STORED\r\n");
    }

    /* Broker, capture, apply. */
    char broker[64], data[600], log[600];
    uint16_t bport = sl_harness_free_port();
    snprintf(broker, sizeof broker, "127.0.0.1:%u", bport);
    snprintf(data, sizeof data, "%s/broker", dir);
    mkdir(data, 0700);
    snprintf(log, sizeof log, "%s/broker.log", dir);
    char klisten[64], log_addr[80];
    uint16_t kport = transport(bport, klisten, log_addr);
    char *bargv[] = {(char *)sl_harness_bin("sluice-broker"),
                     "--listen",
                     broker,
                     "--kafka-listen",
                     klisten,
                     "--data",
                     data,
                     "--fsync",
                     "never",
                     NULL};
    (sl_harness_spawn(bargv, log));
    SL_CHECK_OK(sl_harness_wait_port(bport, 10000));
    if (kport != 0)
        SL_CHECK_OK(sl_harness_wait_port(kport, 10000));
    char source[128], spw[512];
    snprintf(source, sizeof source, "mysql://%s@127.0.0.1:%u",
             getenv("SL_SOURCE_REPL_USER"), sl_harness_port("SOURCE"));
    snprintf(spw, sizeof spw, "%s", getenv("SL_SOURCE_PASSWORD_FILE"));
    snprintf(log, sizeof log, "%s/capture.log", dir);
    char *cargv[] = {(char *)sl_harness_bin("sluice-capture"),
                     "--source",
                     source,
                     "--password-file",
                     spw,
                     "--broker",
                     log_addr,
                     "--topic",
                     "e2e",
                     "--snapshot",
                     "never",
                     "--server-id",
                     "4101",
                     "--start",
                     start,
                     "--include",
                     "e2e\\..*",
                     "--heartbeat",
                     "200ms",
                     "--checkpoint-interval",
                     "50ms",
                     NULL};
    int cpid = (sl_harness_spawn(cargv, log));
    char target[200], tpw[512], redis[64], mc[64], keyf[600];
    snprintf(target, sizeof target, "mysql://%s@127.0.0.1:%u/e2e_meta",
             getenv("SL_TARGET_USER"), sl_harness_port("TARGET"));
    snprintf(tpw, sizeof tpw, "%s", getenv("SL_TARGET_PASSWORD_FILE"));
    snprintf(redis, sizeof redis, "127.0.0.1:%u", rport);
    snprintf(mc, sizeof mc, "127.0.0.1:%u", sl_harness_port("MEMCACHED"));
    snprintf(keyf, sizeof keyf, "%s/keys", dir);
    FILE *kf = fopen(keyf, "w");
    fputs("e2e.users user:{id} user:email:{email}\n", kf);
    fclose(kf);
    snprintf(log, sizeof log, "%s/apply.log", dir);
    char *aargv[] = {(char *)sl_harness_bin("sluice-apply"),
                     "--broker",
                     log_addr,
                     "--topic",
                     "e2e",
                     "--workers",
                     "3",
                     "--target",
                     target,
                     "--target-password-file",
                     tpw,
                     "--map",
                     "e2e=e2e_dst",
                     "--redis",
                     redis,
                     "--memcached",
                     mc,
                     "--keys",
                     keyf,
                     "--poll",
                     "200ms",
                     "--drift",
                     "stop",
                     NULL};
    int apid = (sl_harness_spawn(aargv, log));

    workload(src);

    /* Converged: every table's hash equal (bounded wait). */
    sl_harness_exec(src, "SET SESSION group_concat_max_len = 1073741824");
    sl_harness_exec(dst, "SET SESSION group_concat_max_len = 1073741824");
    char *want[3];
    for (int t = 0; t < 3; t++)
        want[t] = hash_of(src, t, "e2e");
    int equal = 0;
    for (int tries = 0; tries < 600 && !equal; tries++) {
        equal = 1;
        for (int t = 0; t < 3 && equal; t++) {
            char *got = hash_of(dst, t, "e2e_dst");
            equal = got != NULL && strcmp(got, want[t]) == 0;
            free(got);
        }
        if (!equal)
            sl_harness_sleep_ms(100);
    }
    for (int t = 0; t < 3; t++) {
        char *got = hash_of(dst, t, "e2e_dst");
        SL_CHECK_STR(got, want[t]);
        free(got);
        free(want[t]);
    }
    /* Each partition's offsets row counts transactions; none is stopped. */
    char *v = sl_harness_query_value(
        dst, "SELECT COUNT(*) FROM e2e_meta.sluice_offsets WHERE part IN "
             "('e2e.users','e2e.orders','e2e.nokey')");
    SL_CHECK_STR(v, "3");
    free(v);
    /* Caches: every changed key deleted (the deletes follow the target
     * commits; allow them a bounded moment). */
    int left = 0;
    for (int tries = 0; tries < 100; tries++) {
        left = 0;
        for (int k = 0; k < nkeys; k++) {
            redisReply *r = redisCommand(rc, "EXISTS %s", keys[k]);
            left += r != NULL && r->integer != 0;
            freeReplyObject(r);
            snprintf(cmd, sizeof cmd, "get %.47s\r\n", keys[k]);
            mc_line(fd, cmd, reply, sizeof reply);
            if (strcmp(reply, "END\r\n") != 0) {
                left++;
                mc_line(fd, "", reply, sizeof reply);
                mc_line(fd, "", reply, sizeof reply);
            }
        }
        if (left == 0)
            break;
        sl_harness_sleep_ms(100);
    }
    SL_CHECK_INT(left, 0);
    int st = sl_harness_stop(apid, SIGTERM, 20000);
    SL_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    sl_harness_stop(cpid, SIGTERM, 20000);
    close(fd);
    redisFree(rc);
    mysql_close(src);
    mysql_close(dst);
}

/* --ddl-replay: CREATE TABLE and ALTER TABLE captured from the source run
 * on the target (database mapped) in stream order with the rows around
 * them, so the target table ends equal to the source's, columns included. */
SL_TEST(apply_e2e_ddl_replay) {
    MYSQL *src = sl_harness_mysql("SOURCE", NULL);
    MYSQL *dst = sl_harness_mysql("TARGET", NULL);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/apply-ddl-%d",
             getenv("SL_HARNESS_ROOT") ? getenv("SL_HARNESS_ROOT") : "/tmp",
             (int)getpid());
    mkdir(dir, 0700);
    sl_harness_exec(src, "DROP DATABASE IF EXISTS e2d");
    sl_harness_exec(src, "CREATE DATABASE e2d");
    sl_harness_exec(dst, "DROP DATABASE IF EXISTS e2d_dst");
    sl_harness_exec(dst, "DROP DATABASE IF EXISTS e2d_meta");
    sl_harness_exec(dst, "CREATE DATABASE e2d_dst");
    sl_harness_exec(dst, "CREATE DATABASE e2d_meta");
    sl_harness_exec(src, "FLUSH BINARY LOGS");
    SL_CHECK_OK(mysql_query(src, "SHOW MASTER STATUS"));
    MYSQL_RES *res = mysql_store_result(src);
    MYSQL_ROW row = mysql_fetch_row(res);
    char start[200];
    snprintf(start, sizeof start, "%s:%s", row[0], row[1]);
    mysql_free_result(res);
    char broker[64], data[600], log[600];
    uint16_t bport = sl_harness_free_port();
    snprintf(broker, sizeof broker, "127.0.0.1:%u", bport);
    snprintf(data, sizeof data, "%s/broker", dir);
    mkdir(data, 0700);
    snprintf(log, sizeof log, "%s/broker.log", dir);
    char *bargv[] = {(char *)sl_harness_bin("sluice-broker"),
                     "--listen",
                     broker,
                     "--data",
                     data,
                     "--fsync",
                     "never",
                     NULL};
    (sl_harness_spawn(bargv, log));
    SL_CHECK_OK(sl_harness_wait_port(bport, 10000));
    char source[128], spw[512];
    snprintf(source, sizeof source, "mysql://%s@127.0.0.1:%u",
             getenv("SL_SOURCE_REPL_USER"), sl_harness_port("SOURCE"));
    snprintf(spw, sizeof spw, "%s", getenv("SL_SOURCE_PASSWORD_FILE"));
    snprintf(log, sizeof log, "%s/capture.log", dir);
    char *cargv[] = {(char *)sl_harness_bin("sluice-capture"),
                     "--source",
                     source,
                     "--password-file",
                     spw,
                     "--broker",
                     broker,
                     "--topic",
                     "e2d",
                     "--snapshot",
                     "never",
                     "--server-id",
                     "4102",
                     "--start",
                     start,
                     "--include",
                     "e2d\\..*",
                     "--heartbeat",
                     "200ms",
                     "--checkpoint-interval",
                     "50ms",
                     NULL};
    int cpid = (sl_harness_spawn(cargv, log));
    char target[200], tpw[512];
    snprintf(target, sizeof target, "mysql://%s@127.0.0.1:%u/e2d_meta",
             getenv("SL_TARGET_USER"), sl_harness_port("TARGET"));
    snprintf(tpw, sizeof tpw, "%s", getenv("SL_TARGET_PASSWORD_FILE"));
    snprintf(log, sizeof log, "%s/apply.log", dir);
    char *aargv[] = {(char *)sl_harness_bin("sluice-apply"),
                     "--broker",
                     broker,
                     "--topic",
                     "e2d",
                     "--workers",
                     "2",
                     "--target",
                     target,
                     "--target-password-file",
                     tpw,
                     "--map",
                     "e2d=e2d_dst",
                     "--ddl-replay",
                     "--poll",
                     "200ms",
                     NULL};
    int apid = (sl_harness_spawn(aargv, log));
    /* DDL with a default database and unqualified names, so that --map
     * applies (qualified names in DDL text are not rewritten; see
     * docs/apply.md). */
    MYSQL *srcdb = sl_harness_mysql("SOURCE", "e2d");
    sl_harness_exec(srcdb, "CREATE TABLE t (id INT PRIMARY KEY, a INT)");
    for (int i = 0; i < 50; i++)
        exec_fmt(src, "INSERT INTO e2d.t VALUES (%d, %d)", i, i * 2);
    sl_harness_exec(srcdb, "ALTER TABLE t ADD COLUMN b VARCHAR(10) "
                           "DEFAULT 'x'");
    mysql_close(srcdb);
    for (int i = 50; i < 80; i++)
        exec_fmt(src, "INSERT INTO e2d.t VALUES (%d, %d, 'b%d')", i, i, i);
    sl_harness_exec(src, "UPDATE e2d.t SET b='u' WHERE id % 7 = 0");
    sl_harness_exec(src, "DELETE FROM e2d.t WHERE id % 9 = 0");
    const char *h = "SELECT CONCAT(COUNT(*), ':', MD5(GROUP_CONCAT(CONCAT_WS("
                    "'|', id, a, b) ORDER BY id SEPARATOR ';'))) FROM %s.t";
    char sql[300];
    snprintf(sql, sizeof sql, h, "e2d");
    char *want = sl_harness_query_value(src, sql);
    snprintf(sql, sizeof sql, h, "e2d_dst");
    char *got = NULL;
    for (int tries = 0; tries < 300; tries++) {
        free(got);
        got = NULL;
        if (mysql_query(dst, sql) == 0) {
            MYSQL_RES *r = mysql_store_result(dst);
            MYSQL_ROW rw = r ? mysql_fetch_row(r) : NULL;
            if (rw && rw[0])
                got = strdup(rw[0]);
            if (r)
                mysql_free_result(r);
        }
        if (got && strcmp(got, want) == 0)
            break;
        sl_harness_sleep_ms(100);
    }
    SL_CHECK_STR(got, want);
    free(got);
    free(want);
    char *v = sl_harness_query_value(
        dst, "SELECT COLUMN_DEFAULT FROM information_schema.COLUMNS WHERE "
             "TABLE_SCHEMA='e2d_dst' AND TABLE_NAME='t' AND COLUMN_NAME='b'");
    SL_CHECK_STR(v, "'x'");
    free(v);
    int st = sl_harness_stop(apid, SIGTERM, 20000);
    SL_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    sl_harness_stop(cpid, SIGTERM, 20000);
    mysql_close(src);
    mysql_close(dst);
}

static volatile int load_done;

static void *workload_thread(void *arg) {
    workload_range((MYSQL *)arg, 0, 5000);
    load_done = 1;
    return NULL;
}

/* The whole pipeline again, with sluice-apply killed with SIGKILL ten
 * times while the source workload runs and capture publishes it: in the
 * end every target table equals its source table (row hashes), which with
 * --drift stop also means no change was applied twice (an insert applied
 * twice would have stopped its partition). */
SL_TEST(apply_e2e_kill9_during_live_load) {
    MYSQL *src = sl_harness_mysql("SOURCE", NULL);
    MYSQL *dst = sl_harness_mysql("TARGET", NULL);
    MYSQL *load = sl_harness_mysql("SOURCE", NULL);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/apply-e2e-kill-%d",
             getenv("SL_HARNESS_ROOT") ? getenv("SL_HARNESS_ROOT") : "/tmp",
             (int)getpid());
    mkdir(dir, 0700);
    sl_harness_exec(src, "DROP DATABASE IF EXISTS e2e");
    sl_harness_exec(src, "CREATE DATABASE e2e");
    sl_harness_exec(dst, "DROP DATABASE IF EXISTS e2e_dst");
    sl_harness_exec(dst, "DROP DATABASE IF EXISTS e2e_meta");
    sl_harness_exec(dst, "CREATE DATABASE e2e_dst");
    sl_harness_exec(dst, "CREATE DATABASE e2e_meta");
    for (int t = 0; t < 3; t++) {
        exec_fmt(src, ddl[t], "e2e");
        exec_fmt(dst, ddl[t], "e2e_dst");
    }
    sl_harness_exec(src, "FLUSH BINARY LOGS");
    SL_CHECK_OK(mysql_query(src, "SHOW MASTER STATUS"));
    MYSQL_RES *res = mysql_store_result(src);
    MYSQL_ROW row = mysql_fetch_row(res);
    char start[200];
    snprintf(start, sizeof start, "%s:%s", row[0], row[1]);
    mysql_free_result(res);
    char broker[64], data[600], log[600];
    uint16_t bport = sl_harness_free_port();
    snprintf(broker, sizeof broker, "127.0.0.1:%u", bport);
    snprintf(data, sizeof data, "%s/broker", dir);
    mkdir(data, 0700);
    snprintf(log, sizeof log, "%s/broker.log", dir);
    char *bargv[] = {(char *)sl_harness_bin("sluice-broker"),
                     "--listen",
                     broker,
                     "--data",
                     data,
                     NULL};
    (sl_harness_spawn(bargv, log));
    SL_CHECK_OK(sl_harness_wait_port(bport, 10000));
    char source[128], spw[512];
    snprintf(source, sizeof source, "mysql://%s@127.0.0.1:%u",
             getenv("SL_SOURCE_REPL_USER"), sl_harness_port("SOURCE"));
    snprintf(spw, sizeof spw, "%s", getenv("SL_SOURCE_PASSWORD_FILE"));
    snprintf(log, sizeof log, "%s/capture.log", dir);
    char *cargv[] = {(char *)sl_harness_bin("sluice-capture"),
                     "--source",
                     source,
                     "--password-file",
                     spw,
                     "--broker",
                     broker,
                     "--topic",
                     "e2e",
                     "--snapshot",
                     "never",
                     "--server-id",
                     "4103",
                     "--start",
                     start,
                     "--include",
                     "e2e\\..*",
                     "--heartbeat",
                     "200ms",
                     "--checkpoint-interval",
                     "50ms",
                     NULL};
    int cpid = (sl_harness_spawn(cargv, log));
    char target[200], tpw[512];
    snprintf(target, sizeof target, "mysql://%s@127.0.0.1:%u/e2e_meta",
             getenv("SL_TARGET_USER"), sl_harness_port("TARGET"));
    snprintf(tpw, sizeof tpw, "%s", getenv("SL_TARGET_PASSWORD_FILE"));
    char *aargv[] = {(char *)sl_harness_bin("sluice-apply"),
                     "--broker",
                     broker,
                     "--topic",
                     "e2e",
                     "--workers",
                     "3",
                     "--target",
                     target,
                     "--target-password-file",
                     tpw,
                     "--map",
                     "e2e=e2e_dst",
                     "--poll",
                     "100ms",
                     "--drift",
                     "stop",
                     "--group-rows",
                     "20",
                     NULL};
    pthread_t th;
    load_done = 0;
    SL_CHECK(pthread_create(&th, NULL, workload_thread, load) == 0);
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    int during = 0;
    for (int k = 0; k < 40 && (k < 10 || !load_done); k++) {
        snprintf(log, sizeof log, "%s/apply-%d.log", dir, k);
        int pid = (sl_harness_spawn(aargv, log));
        seed = seed * 1103515245u + 12345u;
        sl_harness_sleep_ms(50 + (int)((seed >> 8) % 200));
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        during += !load_done;
    }
    pthread_join(th, NULL);
    /* At least 10 kills landed while the source was still being written
     * (on a machine too slow for that, the load simply lasts longer). */
    SL_CHECK(during >= 10);
    snprintf(log, sizeof log, "%s/apply-final.log", dir);
    int apid = (sl_harness_spawn(aargv, log));
    sl_harness_exec(src, "SET SESSION group_concat_max_len = 1073741824");
    sl_harness_exec(dst, "SET SESSION group_concat_max_len = 1073741824");
    char *want[3];
    for (int t = 0; t < 3; t++)
        want[t] = hash_of(src, t, "e2e");
    int equal = 0;
    for (int tries = 0; tries < 600 && !equal; tries++) {
        equal = 1;
        for (int t = 0; t < 3 && equal; t++) {
            char *got = hash_of(dst, t, "e2e_dst");
            equal = got != NULL && strcmp(got, want[t]) == 0;
            free(got);
        }
        if (!equal)
            sl_harness_sleep_ms(100);
    }
    for (int t = 0; t < 3; t++) {
        char *got = hash_of(dst, t, "e2e_dst");
        SL_CHECK_STR(got, want[t]);
        free(got);
        free(want[t]);
    }
    int st = sl_harness_stop(apid, SIGTERM, 20000);
    SL_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    sl_harness_stop(cpid, SIGTERM, 20000);
    mysql_close(load);
    mysql_close(src);
    mysql_close(dst);
}
