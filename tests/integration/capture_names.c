/*
 * Odd identifiers end to end (issue 12, item 15): databases and tables in
 * UTF-8, with spaces, dots, quotes and backticks, and names of the servers'
 * 64-character limit, written on a real MariaDB source, read by
 * sluice-capture into sluice-broker (under the encoded partition names of
 * capture/partname.h) and applied by sluice-apply into the target MariaDB
 * under the same names and as Redis key invalidations. Before the
 * encoding, the first row of `café` stopped capture for good: the broker
 * refused the partition name.
 */
#include "capture/partname.h"
#include "client.h"
#include "error.h"
#include "harness.h"
#include "sl_test.h"

#include <hiredis.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define NROWS 6

/* 64 characters: the servers' limit for both database and table names. */
#define LONG_DB "d.b 64 chars 'quoted' `ticked` ------------------------------..."
/* The server keeps a table in files named after it, with each character
 * outside [A-Za-z0-9_] spelt as @ and up to 4 more bytes: 64 CJK
 * characters exceed the file system's 255 bytes, 60 Latin ones and 4 CJK
 * ones do not. */
#define LONG_TABLE                                                             \
    "éééééééééééééééééééééééééééééééééééééééééééééééééééééééééééé表格表格"

typedef struct {
    const char *db, *table;
} name_t;

static const name_t names[] = {
    {"café", "測試表格"},      {"my db", "my table"},
    {"café", "a.b"},           {"café", "q'uo\"te"},
    {"café", "back`tick"},     {"café", LONG_TABLE},
    {"d.o.t", "-x-2e-"},       {LONG_DB, "t"},
};
#define NNAMES (sizeof names / sizeof names[0])

/* Writes `name` with backticks doubled into out. */
static const char *quote(const char *name, char *out, size_t cap) {
    size_t n = 0;
    out[n++] = '`';
    for (const char *p = name; *p && n + 3 < cap; p++) {
        if (*p == '`')
            out[n++] = '`';
        out[n++] = *p;
    }
    out[n++] = '`';
    out[n] = '\0';
    return out;
}

static void exec_on(MYSQL *m, const char *fmt, const name_t *nm,
                    const char *tail) {
    char qd[300], qt[600], sql[2048];
    snprintf(sql, sizeof sql, fmt, quote(nm->db, qd, sizeof qd),
             quote(nm->table, qt, sizeof qt), tail);
    sl_harness_exec(m, sql);
}

/* The table's rows in key order as one string (NULL when unreadable). */
static char *contents(MYSQL *m, const name_t *nm) {
    char qd[300], qt[600], sql[2048];
    snprintf(sql, sizeof sql,
             "SELECT CONCAT(COUNT(*), ':', "
             "COALESCE(GROUP_CONCAT(id, '=', v ORDER BY id SEPARATOR ','), "
             "'')) FROM %s.%s",
             quote(nm->db, qd, sizeof qd), quote(nm->table, qt, sizeof qt));
    if (mysql_query(m, sql) != 0)
        return NULL;
    MYSQL_RES *res = mysql_store_result(m);
    MYSQL_ROW row = res ? mysql_fetch_row(res) : NULL;
    char *v = row && row[0] ? strdup(row[0]) : NULL;
    if (res)
        mysql_free_result(res);
    return v;
}

static void create_all(MYSQL *m) {
    for (size_t i = 0; i < NNAMES; i++) {
        char qd[300], sql[400];
        snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s",
                 quote(names[i].db, qd, sizeof qd));
        sl_harness_exec(m, sql);
    }
    for (size_t i = 0; i < NNAMES; i++) {
        char qd[300], sql[400];
        snprintf(sql, sizeof sql,
                 "CREATE DATABASE IF NOT EXISTS %s CHARACTER SET utf8mb4",
                 quote(names[i].db, qd, sizeof qd));
        sl_harness_exec(m, sql);
        exec_on(m,
                "CREATE TABLE %s.%s (id INT PRIMARY KEY, v VARCHAR(40)) "
                "CHARACTER SET utf8mb4%s",
                &names[i], "");
    }
}

/* The partition name capture gives a table (the encoding under test). */
static void part_of(const name_t *nm, char *out, size_t cap) {
    sl_buf_t buf = SL_BUF_INIT;
    SL_CHECK_OK(sl_partname_encode(nm->db, strlen(nm->db), nm->table,
                                   strlen(nm->table), &buf));
    snprintf(out, cap, "%.*s", (int)buf.len, (const char *)buf.data);
    sl_buf_free(&buf);
}

SL_TEST(capture_odd_names_reach_target_and_redis) {
    MYSQL *src = sl_harness_mysql("SOURCE", NULL);
    MYSQL *dst = sl_harness_mysql("TARGET", NULL);
    uint16_t rport = sl_harness_port("REDIS");
    char dir[512];
    snprintf(dir, sizeof dir, "%s", sl_test_tmpdir());
    create_all(src);
    create_all(dst);
    sl_harness_exec(dst, "DROP DATABASE IF EXISTS names_meta");
    sl_harness_exec(dst, "CREATE DATABASE names_meta");
    sl_harness_exec(src, "FLUSH BINARY LOGS");
    SL_CHECK_OK(mysql_query(src, "SHOW MASTER STATUS"));
    MYSQL_RES *res = mysql_store_result(src);
    MYSQL_ROW row = mysql_fetch_row(res);
    char start[200];
    snprintf(start, sizeof start, "%s:%s", row[0], row[1]);
    mysql_free_result(res);

    /* Redis: a key per row of every table of `café` (the keys file names
     * a database by its name up to the first '.', and splits on spaces,
     * so `my db` and `d.o.t` cannot have a line), plus one that no change
     * touches. */
    redisContext *rc = redisConnect("127.0.0.1", rport);
    SL_CHECK(rc != NULL && rc->err == 0);
    char key[1024];
    for (size_t i = 0; i < NNAMES; i++) {
        if (strcmp(names[i].db, "café") != 0)
            continue;
        for (int id = 1; id <= NROWS; id++) {
            int n = snprintf(key, sizeof key, "row:café:%s:%d",
                             names[i].table, id);
            redisReply *r = redisCommand(rc, "SET %b v", key, (size_t)n);
            SL_CHECK(r != NULL);
            freeReplyObject(r);
        }
    }
    redisReply *r = redisCommand(rc, "SET %s v", "row:café:untouched:1");
    freeReplyObject(r);

    char broker[64], keyf[600], log[600];
    int bpid = sl_harness_start_broker(dir, broker, sizeof broker);
    char source[128], spw[512];
    snprintf(source, sizeof source, "mysql://%s@127.0.0.1:%u",
             getenv("SL_SOURCE_REPL_USER"), sl_harness_port("SOURCE"));
    snprintf(spw, sizeof spw, "%s", getenv("SL_SOURCE_PASSWORD_FILE"));
    snprintf(log, sizeof log, "%s/capture.log", dir);
    char *cargv[] = {(char *)sl_harness_bin("sluice-capture"), "--source",
                     source, "--password-file", spw, "--broker", broker,
                     "--topic", "names", "--server-id", "4201", "--start",
                     start, "--include", "(café|my db|d\\.o\\.t|d\\.b 64 .*)\\..*",
                     "--heartbeat", "200ms", "--checkpoint-interval", "50ms",
                     NULL};
    int cpid = sl_harness_spawn(cargv, log);
    char target[200], tpw[512], redis[64];
    snprintf(target, sizeof target, "mysql://%s@127.0.0.1:%u/names_meta",
             getenv("SL_TARGET_USER"), sl_harness_port("TARGET"));
    snprintf(tpw, sizeof tpw, "%s", getenv("SL_TARGET_PASSWORD_FILE"));
    snprintf(redis, sizeof redis, "127.0.0.1:%u", rport);
    snprintf(keyf, sizeof keyf, "%s/keys", dir);
    FILE *kf = fopen(keyf, "w");
    SL_CHECK(kf != NULL);
    fputs("café.* row:{_db}:{_table}:{id}\n", kf);
    fclose(kf);
    snprintf(log, sizeof log, "%s/apply.log", dir);
    char *aargv[] = {(char *)sl_harness_bin("sluice-apply"), "--broker",
                     broker, "--topic", "names", "--workers", "2",
                     "--target", target, "--target-password-file", tpw,
                     "--redis", redis, "--keys", keyf, "--poll", "200ms",
                     "--drift", "stop", NULL};
    int apid = sl_harness_spawn(aargv, log);

    /* Inserts, an update and a delete in each table, values in UTF-8. */
    for (size_t i = 0; i < NNAMES; i++) {
        for (int id = 1; id <= NROWS; id++) {
            char tail[128];
            snprintf(tail, sizeof tail, "(%d, 'wert-%d-ü-表')", id, id);
            exec_on(src, "INSERT INTO %s.%s VALUES %s", &names[i], tail);
        }
        exec_on(src, "UPDATE %s.%s SET v = 'geändert' WHERE id = 2%s",
                &names[i], "");
        exec_on(src, "DELETE FROM %s.%s WHERE id = 3%s", &names[i], "");
    }

    /* Every table converges in the target under its own name. */
    for (size_t i = 0; i < NNAMES; i++) {
        char *want = contents(src, &names[i]);
        SL_CHECK(want != NULL);
        char *got = NULL;
        for (int tries = 0; tries < 600; tries++) {
            free(got);
            got = contents(dst, &names[i]);
            if (got != NULL && strcmp(got, want) == 0)
                break;
            sl_harness_sleep_ms(100);
        }
        if (got == NULL || strcmp(got, want) != 0) {
            char cmd[1300];
            snprintf(cmd, sizeof cmd, "tail -n 15 %s/capture.log %s",
                     dir, log);
            if (system(cmd) != 0)
                printf("# no logs\n");
            sl_test_fail(__FILE__, __LINE__, "`%s`.`%s`: target has %s, "
                         "source %s", names[i].db, names[i].table,
                         got ? got : "(unreadable)", want);
        }
        free(got);
        free(want);
    }

    /* The broker holds each table under its encoded name, within Kafka's
     * rules, and the events inside carry the real names. */
    sl_client_t *cl;
    SL_CHECK_OK(sl_client_connect(broker, NULL, &cl));
    sl_buf_t list = SL_BUF_INIT;
    SL_CHECK_OK(sl_client_partitions(cl, "names", &list));
    SL_CHECK_OK(sl_buf_append_u8(&list, '\0'));
    int longs = 0;
    for (size_t i = 0; i < NNAMES; i++) {
        char part[300], line[400];
        part_of(&names[i], part, sizeof part);
        SL_CHECK(strlen(part) <= SL_PARTNAME_MAX);
        longs += sl_partname_is_long(part, strlen(part));
        snprintf(line, sizeof line, "names %s ", part);
        if (strstr((const char *)list.data, line) == NULL)
            sl_test_fail(__FILE__, __LINE__, "no partition %s for `%s`.`%s` "
                         "in:\n%s", part, names[i].db, names[i].table,
                         (const char *)list.data);
        sl_client_fetch_t fetch;
        SL_CHECK_OK(sl_client_get(cl, "names", part, 0, 1 << 16, 0, &fetch));
        SL_CHECK(fetch.count > 0);
        char *json = strndup((const char *)fetch.recs[0].data,
                             fetch.recs[0].len);
        char want[400];
        /* JSON escapes '"' in the quoted name. */
        snprintf(want, sizeof want, "\"table\":\"%s\"",
                 strcmp(names[i].table, "q'uo\"te") == 0 ? "q'uo\\\"te"
                                                        : names[i].table);
        if (strstr(json, want) == NULL)
            sl_test_fail(__FILE__, __LINE__, "%s: event lacks %s: %s", part,
                         want, json);
        free(json);
    }
    SL_CHECK(strstr((const char *)list.data,
                    "names caf-c3-a9.-e6-b8-ac-e8-a9-a6-e8-a1-a8-e6-a0-bc ") !=
             NULL);
    SL_CHECK(strstr((const char *)list.data, "names my-20db.my-20table ") !=
             NULL);
    SL_CHECK_INT(longs, 1); /* LONG_TABLE in `café`: the hashed form. */
    sl_buf_free(&list);
    sl_client_close(cl);

    /* Redis: every row key of `café` invalidated, the untouched one kept
     * (deletes follow the target commits: a bounded wait). */
    int left = 0;
    for (int tries = 0; tries < 300; tries++) {
        left = 0;
        for (size_t i = 0; i < NNAMES; i++) {
            if (strcmp(names[i].db, "café") != 0)
                continue;
            for (int id = 1; id <= NROWS; id++) {
                int n = snprintf(key, sizeof key, "row:café:%s:%d",
                                 names[i].table, id);
                r = redisCommand(rc, "EXISTS %b", key, (size_t)n);
                if (r != NULL && r->integer != 0) {
                    left++;
                    if (tries == 299)
                        printf("# key left: %s\n", key);
                }
                freeReplyObject(r);
            }
        }
        if (left == 0)
            break;
        sl_harness_sleep_ms(100);
    }
    SL_CHECK_INT(left, 0);
    r = redisCommand(rc, "EXISTS %s", "row:café:untouched:1");
    SL_CHECK(r != NULL && r->integer == 1);
    freeReplyObject(r);

    int st = sl_harness_stop(apid, SIGTERM, 20000);
    SL_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    st = sl_harness_stop(cpid, SIGTERM, 20000);
    SL_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    sl_harness_stop(bpid, SIGTERM, 20000);
    redisFree(rc);
    mysql_close(src);
    mysql_close(dst);
}
