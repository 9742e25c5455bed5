/*
 * Odd identifiers end to end (issue 12, item 15): databases and tables in
 * UTF-8, with spaces, dots, quotes and backticks, and names of the servers'
 * 64-character limit, written on a real MariaDB source, read by
 * sluice-capture into sluice-broker (under the encoded partition names of
 * capture/partname.h) and applied by sluice-apply into the target MariaDB
 * under the same names and as Redis key invalidations. Before the
 * encoding, the first row of `café` stopped capture for good: the broker
 * refused the partition name. A second test runs the same tables through
 * every --partition-by mode and checks each row event sits in the
 * partition its real names map to.
 */
#include "capture/partname.h"
#include "capture/route.h"
#include "client.h"
#include "error.h"
#include "harness.h"
#include "jsonread.h"
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
#define LONG_DB                                                                \
    "d.b 64 chars 'quoted' `ticked` ------------------------------..."
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
    {"café", "測試表格"}, {"my db", "my table"}, {"café", "a.b"},
    {"café", "q'uo\"te"}, {"café", "back`tick"}, {"café", LONG_TABLE},
    {"d.o.t", "-x-2e-"},  {LONG_DB, "t"},
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

/* The key the template row:{_db}:{_table}:{id} gives a row: names with
 * each byte below 0x21, 0x7F and '%' as %XX (docs/apply.md). */
static size_t row_key(const name_t *nm, int id, char *out, size_t cap) {
    size_t n = 0;
    const char *parts[] = {"row:", nm->db, ":", nm->table, ":"};
    for (size_t k = 0; k < 5; k++)
        for (const unsigned char *p = (const unsigned char *)parts[k]; *p;
             p++) {
            if (n + 4 >= cap)
                break;
            if (k % 2 == 1 && (*p < 0x21 || *p == 0x7F || *p == '%'))
                n += (size_t)snprintf(out + n, cap - n, "%%%02X", *p);
            else
                out[n++] = (char)*p;
        }
    n += (size_t)snprintf(out + n, cap - n, "%d", id);
    return n < cap ? n : cap - 1;
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
    char file[128], start[200];
    uint64_t pos;
    sl_harness_master_status(src, file, sizeof file, &pos);
    snprintf(start, sizeof start, "%s:%llu", file, (unsigned long long)pos);

    /* Redis: a key per row of every table, plus one that no change
     * touches. The keys file gives `café` as a plain name with a
     * wildcard, and every other database in backquotes (spaces, dots,
     * quotes and doubled backticks). */
    redisContext *rc = redisConnect("127.0.0.1", rport);
    SL_CHECK(rc != NULL && rc->err == 0);
    char key[1024];
    for (size_t i = 0; i < NNAMES; i++) {
        for (int id = 1; id <= NROWS; id++) {
            size_t n = row_key(&names[i], id, key, sizeof key);
            redisReply *r = redisCommand(rc, "SET %b v", key, n);
            SL_CHECK(r != NULL);
            freeReplyObject(r);
        }
    }
    redisReply *r = redisCommand(rc, "SET %s v", "row:café:untouched:1");
    freeReplyObject(r);

    char broker[64], keyf[600], log[600];
    int bpid = sl_harness_start_broker(dir, broker, sizeof broker);
    snprintf(log, sizeof log, "%s/capture.log", dir);
    const char *const cflags[] = {"--topic",
                                  "names",
                                  "--server-id",
                                  "4201",
                                  "--start",
                                  start,
                                  "--include",
                                  "(café|my db|d\\.o\\.t|d\\.b 64 .*)\\..*",
                                  "--heartbeat",
                                  "200ms",
                                  "--checkpoint-interval",
                                  "50ms",
                                  NULL};
    int cpid = sl_harness_start_capture(broker, cflags, log);
    char target[200], tpw[512], redis[64];
    sl_harness_mysql_url("TARGET", "USER", "names_meta", target, sizeof target);
    snprintf(tpw, sizeof tpw, "%s", sl_harness_password_file("TARGET"));
    snprintf(redis, sizeof redis, "127.0.0.1:%u", rport);
    snprintf(keyf, sizeof keyf, "%s/keys", dir);
    FILE *kf = fopen(keyf, "w");
    SL_CHECK(kf != NULL);
    fputs("café.* row:{_db}:{_table}:{id}\n", kf);
    for (size_t i = 0; i < NNAMES; i++) {
        char qd[300], qt[600];
        if (strcmp(names[i].db, "café") == 0)
            continue;
        /* `d.o.t` by its wildcard, the others table by table. */
        fprintf(kf, "%s.%s row:{_db}:{_table}:{id}\n",
                quote(names[i].db, qd, sizeof qd),
                strcmp(names[i].db, "d.o.t") == 0
                    ? "*"
                    : quote(names[i].table, qt, sizeof qt));
    }
    fclose(kf);
    snprintf(log, sizeof log, "%s/apply.log", dir);
    char *aargv[] = {(char *)sl_harness_bin("sluice-apply"),
                     "--broker",
                     broker,
                     "--topic",
                     "names",
                     "--workers",
                     "2",
                     "--target",
                     target,
                     "--target-password-file",
                     tpw,
                     "--redis",
                     redis,
                     "--keys",
                     keyf,
                     "--poll",
                     "200ms",
                     "--drift",
                     "stop",
                     NULL};
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
            snprintf(cmd, sizeof cmd, "tail -n 15 %s/capture.log %s", dir, log);
            if (system(cmd) != 0)
                printf("# no logs\n");
            sl_test_fail(__FILE__, __LINE__,
                         "`%s`.`%s`: target has %s, "
                         "source %s",
                         names[i].db, names[i].table,
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
            sl_test_fail(__FILE__, __LINE__,
                         "no partition %s for `%s`.`%s` "
                         "in:\n%s",
                         part, names[i].db, names[i].table,
                         (const char *)list.data);
        sl_client_fetch_t fetch;
        SL_CHECK_OK(sl_client_get(cl, "names", part, 0, 1 << 16, 0, &fetch));
        SL_CHECK(fetch.count > 0);
        char *json =
            strndup((const char *)fetch.recs[0].data, fetch.recs[0].len);
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

    /* Redis: every row key of every table invalidated, the untouched one
     * kept (deletes follow the target commits: a bounded wait). */
    int left = 0;
    for (int tries = 0; tries < 300; tries++) {
        left = 0;
        for (size_t i = 0; i < NNAMES; i++) {
            for (int id = 1; id <= NROWS; id++) {
                size_t n = row_key(&names[i], id, key, sizeof key);
                r = redisCommand(rc, "EXISTS %b", key, n);
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

/* Reads every message of every partition of topic and checks, for each
 * row event, that the partition's name is what the routing mode makes of
 * the event's real names; counts row events per table in rows[]. */
static void check_topic(sl_client_t *cl, const char *topic, const char *mode,
                        size_t rows[NNAMES]) {
    sl_buf_t list = SL_BUF_INIT, want = SL_BUF_INIT, db = SL_BUF_INIT,
             tb = SL_BUF_INIT;
    SL_CHECK_OK(sl_client_partitions(cl, topic, &list));
    SL_CHECK_OK(sl_buf_append_u8(&list, '\0'));
    sl_route_t route;
    SL_CHECK_OK(sl_route_parse(mode, &route));
    sl_jr_doc_t doc;
    sl_jr_init(&doc);
    char *save = NULL;
    for (char *line = strtok_r((char *)list.data, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        char part[300];
        SL_CHECK(sscanf(line, "%*s %299s", part) == 1);
        size_t plen = strcspn(part, "#");
        SL_CHECK(plen <= SL_PARTNAME_MAX);
        uint64_t offset = 0;
        for (int guard = 0; guard < 1000; guard++) {
            sl_client_fetch_t f;
            int rc = sl_client_get(cl, topic, part, offset, 1 << 20, 0, &f);
            if (rc == SL_ERANGE || (rc == 0 && f.count == 0))
                break;
            SL_CHECK_OK(rc);
            for (size_t i = 0; i < f.count; i++) {
                SL_CHECK_OK(sl_jr_parse(&doc, (const char *)f.recs[i].data,
                                        f.recs[i].len));
                uint32_t kind = sl_jr_get(&doc, 0, "kind");
                if (kind == SL_JR_NONE || !sl_jr_str_eq(&doc, kind, "row", 3))
                    continue;
                sl_buf_reset(&db);
                sl_buf_reset(&tb);
                SL_CHECK_OK(
                    sl_jr_unescape(&doc, sl_jr_get(&doc, 0, "db"), &db));
                SL_CHECK_OK(
                    sl_jr_unescape(&doc, sl_jr_get(&doc, 0, "table"), &tb));
                /* The partition is the one the mode gives these names
                 * (for key:N, one of the N). */
                sl_buf_reset(&want);
                SL_CHECK_OK(sl_route_partition(&route, (const char *)db.data,
                                               db.len, (const char *)tb.data,
                                               tb.len, 0, &want));
                size_t wlen = strcspn((const char *)want.data, "#");
                if (route.mode == SL_ROUTE_KEY)
                    want.len = wlen;
                if (want.len !=
                        (route.mode == SL_ROUTE_KEY ? plen : strlen(part)) ||
                    memcmp(want.data, part, want.len) != 0)
                    sl_test_fail(__FILE__, __LINE__,
                                 "%s: row of `%.*s`.`%.*s` in partition %s",
                                 mode, (int)db.len, (const char *)db.data,
                                 (int)tb.len, (const char *)tb.data, part);
                for (size_t k = 0; k < NNAMES; k++)
                    if (strlen(names[k].db) == db.len &&
                        memcmp(names[k].db, db.data, db.len) == 0 &&
                        strlen(names[k].table) == tb.len &&
                        memcmp(names[k].table, tb.data, tb.len) == 0)
                        rows[k]++;
            }
            offset = f.next;
        }
    }
    sl_jr_free(&doc);
    sl_buf_free(&list);
    sl_buf_free(&want);
    sl_buf_free(&db);
    sl_buf_free(&tb);
}

SL_TEST(capture_odd_names_in_every_routing_mode) {
    MYSQL *src = sl_harness_mysql("SOURCE", NULL);
    char dir[512];
    snprintf(dir, sizeof dir, "%s", sl_test_tmpdir());
    create_all(src);
    sl_harness_exec(src, "FLUSH BINARY LOGS");
    char file[128], start[200];
    uint64_t pos;
    sl_harness_master_status(src, file, sizeof file, &pos);
    snprintf(start, sizeof start, "%s:%llu", file, (unsigned long long)pos);
    for (size_t i = 0; i < NNAMES; i++) {
        for (int id = 1; id <= NROWS; id++) {
            char tail[64];
            snprintf(tail, sizeof tail, "(%d, 'r%d')", id, id);
            exec_on(src, "INSERT INTO %s.%s VALUES %s", &names[i], tail);
        }
        exec_on(src, "UPDATE %s.%s SET v = 'u' WHERE id = 2%s", &names[i], "");
        exec_on(src, "DELETE FROM %s.%s WHERE id = 3%s", &names[i], "");
    }

    char broker[64], log[600];
    int bpid = sl_harness_start_broker(dir, broker, sizeof broker);
    static const char *const modes[] = {"table", "database", "server", "key:3"};
    int pids[4];
    for (int m = 0; m < 4; m++) {
        char topic[32], sid[16];
        snprintf(topic, sizeof topic, "names_mode%d", m);
        snprintf(sid, sizeof sid, "%d", 4211 + m);
        snprintf(log, sizeof log, "%s/capture%d.log", dir, m);
        const char *const flags[] = {"--topic",
                                     topic,
                                     "--server-id",
                                     sid,
                                     "--start",
                                     start,
                                     "--include",
                                     "(café|my db|d\\.o\\.t|d\\.b 64 .*)\\..*",
                                     "--partition-by",
                                     modes[m],
                                     "--heartbeat",
                                     "200ms",
                                     NULL};
        pids[m] = sl_harness_start_capture(broker, flags, log);
    }
    sl_client_t *cl;
    SL_CHECK_OK(sl_client_connect(broker, NULL, &cl));
    for (int m = 0; m < 4; m++) {
        char topic[32];
        snprintf(topic, sizeof topic, "names_mode%d", m);
        size_t rows[NNAMES];
        int done = 0;
        for (int tries = 0; tries < 600 && !done; tries++) {
            memset(rows, 0, sizeof rows);
            check_topic(cl, topic, modes[m], rows);
            done = 1;
            for (size_t k = 0; k < NNAMES; k++)
                done &= rows[k] == NROWS + 2;
            if (!done)
                sl_harness_sleep_ms(100);
        }
        for (size_t k = 0; k < NNAMES; k++)
            if (rows[k] != NROWS + 2)
                sl_test_fail(__FILE__, __LINE__,
                             "--partition-by %s: `%s`.`%s` has %zu row "
                             "events, want %d",
                             modes[m], names[k].db, names[k].table, rows[k],
                             NROWS + 2);
        int st = sl_harness_stop(pids[m], SIGTERM, 20000);
        SL_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    sl_client_close(cl);
    sl_harness_stop(bpid, SIGTERM, 20000);
    mysql_close(src);
}
