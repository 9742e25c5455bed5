/*
 * sluice-apply end to end over a real broker, with hand-written change
 * events (the shape capture publishes: begin, rows, commit markers per
 * partition): rows reach the mapped target database, every changed key
 * (before and after images) is deleted from Redis and memcached and
 * broadcast on a channel, the offsets table counts each transaction once,
 * SIGTERM exits cleanly, a restart applies nothing twice, and a dropped
 * target table stops that partition with the documented message while the
 * others continue.
 */
#include "client.h"
#include "error.h"
#include "harness.h"
#include "sl_test.h"

#include <arpa/inet.h>
#include <hiredis.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char root[512];
static uint16_t broker_port;
static int broker_pid;

/* Every process this program starts, killed at exit even when a check
 * failed half-way. */
static void start_broker(void) {
    sl_harness_port("TARGET");
    snprintf(root, sizeof root, "%s/apply-consume-%d",
             getenv("SL_HARNESS_ROOT") ? getenv("SL_HARNESS_ROOT") : "/tmp",
             (int)getpid());
    mkdir(root, 0700);
    broker_port = sl_harness_free_port();
    char listen[64], data[600], logp[600];
    snprintf(listen, sizeof listen, "127.0.0.1:%u", broker_port);
    static int nbrokers;
    snprintf(data, sizeof data, "%s/broker%d", root, nbrokers++);
    snprintf(logp, sizeof logp, "%s/broker.log", root);
    char *argv[] = {(char *)sl_harness_bin("sluice-broker"),
                    "--listen",
                    listen,
                    "--data",
                    data,
                    "--fsync",
                    "never",
                    NULL};
    broker_pid = (sl_harness_spawn(argv, logp));
    SL_CHECK(sl_harness_wait_port(broker_port, 10000) == 0);
}

static sl_client_t *client(void) {
    char hp[64];
    snprintf(hp, sizeof hp, "127.0.0.1:%u", broker_port);
    sl_client_t *cl;
    SL_CHECK_OK(sl_client_connect(hp, NULL, &cl));
    return cl;
}

static void put(sl_client_t *cl, const char *part, const char *json) {
    uint64_t off;
    int dup;
    SL_CHECK_OK(
        sl_client_put(cl, "shop", part, json, strlen(json), -1, 0, &off, &dup));
}

/* One transaction in one partition: begin, the rows, commit. */
static void trx(sl_client_t *cl, const char *table, int seq,
                const char *const *rows, int n) {
    char part[64], ev[2048];
    snprintf(part, sizeof part, "apc_src.%s", table);
    snprintf(ev, sizeof ev,
             "{\"kind\":\"begin\",\"src\":{\"file\":\"b.1\","
             "\"pos\":%d,\"end_pos\":%d,\"server_id\":1,\"ts\":1},\"trx\":"
             "{\"seq\":%d,\"id\":\"0-1-%d\"}}",
             seq, seq, seq, seq);
    put(cl, part, ev);
    for (int i = 0; i < n; i++) {
        snprintf(
            ev, sizeof ev,
            "{\"kind\":\"row\",%s,\"db\":\"apc_src\","
            "\"table\":\"%s\",\"row\":%d,\"pk\":[\"id\"],\"src\":{\"file\":"
            "\"b.1\",\"pos\":%d,\"end_pos\":%d,\"server_id\":1,\"ts\":1},"
            "\"trx\":{\"seq\":%d,\"id\":\"0-1-%d\"}}",
            rows[i], table, i, seq, seq, seq, seq);
        put(cl, part, ev);
    }
    snprintf(ev, sizeof ev,
             "{\"kind\":\"commit\",\"rows\":%d,\"src\":{\"file\":"
             "\"b.1\",\"pos\":%d,\"end_pos\":%d,\"server_id\":1,\"ts\":1},"
             "\"trx\":{\"seq\":%d,\"id\":\"0-1-%d\"}}",
             n, seq, seq, seq, seq);
    put(cl, part, ev);
}

static int spawn_apply_args(const char *extra_log_tag, const char *dlq,
                            const char *flag, const char *value);

static int spawn_apply(const char *extra_log_tag, const char *dlq) {
    return spawn_apply_args(extra_log_tag, dlq, NULL, NULL);
}

/* sluice-apply over the test's broker and servers; dlq, and flag with its
 * value, add options when not NULL. */
static int spawn_apply_args(const char *extra_log_tag, const char *dlq,
                            const char *flag, const char *value) {
    char broker[64], target[200], pwf[600], redis[64], mc[64], keys[600],
        logp[600], stats[600];
    snprintf(broker, sizeof broker, "127.0.0.1:%u", broker_port);
    snprintf(target, sizeof target, "mysql://%s@127.0.0.1:%u/apc_meta",
             getenv("SL_TARGET_USER") ? getenv("SL_TARGET_USER") : "sluice",
             sl_harness_port("TARGET"));
    snprintf(pwf, sizeof pwf, "%s", getenv("SL_TARGET_PASSWORD_FILE"));
    snprintf(redis, sizeof redis, "127.0.0.1:%u", sl_harness_port("REDIS"));
    snprintf(mc, sizeof mc, "127.0.0.1:%u", sl_harness_port("MEMCACHED"));
    snprintf(keys, sizeof keys, "%s/keys", root);
    snprintf(logp, sizeof logp, "%s/apply-%s.log", root, extra_log_tag);
    snprintf(stats, sizeof stats, "%s/stats", root);
    char *argv[] = {(char *)sl_harness_bin("sluice-apply"),
                    "--broker",
                    broker,
                    "--topic",
                    "shop",
                    "--group",
                    "g",
                    "--workers",
                    "2",
                    "--target",
                    target,
                    "--target-password-file",
                    pwf,
                    "--map",
                    "apc_src=apc_dst",
                    "--redis",
                    redis,
                    "--redis-channel",
                    "inval",
                    "--memcached",
                    mc,
                    "--keys",
                    keys,
                    "--poll",
                    "200ms",
                    "--drift",
                    "stop",
                    "--stats-interval",
                    "500ms",
                    "--stats-file",
                    stats,
                    NULL,
                    NULL,
                    NULL,
                    NULL,
                    NULL};
    size_t n = 0;
    while (argv[n] != NULL)
        n++;
    if (dlq != NULL) {
        argv[n++] = "--dead-letter";
        argv[n++] = (char *)dlq;
    }
    if (flag != NULL) {
        argv[n++] = (char *)flag;
        argv[n++] = (char *)value;
    }
    return (sl_harness_spawn(argv, logp));
}

static char *q(const char *sql) {
    MYSQL *m = sl_harness_mysql("TARGET", NULL);
    char *v = sl_harness_query_value(m, sql);
    mysql_close(m);
    return v;
}

/* Waits until the offsets row of part reaches next. */
static int wait_offset(const char *part, unsigned next, int timeout_ms) {
    char sql[300];
    snprintf(sql, sizeof sql,
             "SELECT next_offset FROM apc_meta.sluice_offsets "
             "WHERE part='%s'",
             part);
    for (int t = 0; t < timeout_ms; t += 100) {
        MYSQL *m = sl_harness_mysql("TARGET", NULL);
        int exists = 0;
        char *has = sl_harness_query_value(
            m, "SELECT COUNT(*) FROM information_schema.TABLES WHERE "
               "TABLE_SCHEMA='apc_meta' AND TABLE_NAME='sluice_offsets'");
        exists = has && strcmp(has, "1") == 0;
        free(has);
        char *v = exists ? sl_harness_query_value(m, sql) : NULL;
        mysql_close(m);
        unsigned cur = v ? (unsigned)atoi(v) : 0;
        free(v);
        if (cur >= next)
            return 0;
        sl_harness_sleep_ms(100);
    }
    return -1;
}

/* A new broker, empty target databases with one table (create_sql), and a
 * key templates file for apc_src.users. */
static void fresh_target(const char *create_sql) {
    start_broker();
    MYSQL *m = sl_harness_mysql("TARGET", NULL);
    sl_harness_exec(m, "DROP DATABASE IF EXISTS apc_dst");
    sl_harness_exec(m, "DROP DATABASE IF EXISTS apc_meta");
    sl_harness_exec(m, "CREATE DATABASE apc_dst");
    sl_harness_exec(m, "CREATE DATABASE apc_meta");
    sl_harness_exec(m, create_sql);
    mysql_close(m);
    char keys[600];
    snprintf(keys, sizeof keys, "%s/keys", root);
    FILE *kf = fopen(keys, "w");
    SL_CHECK(kf != NULL);
    fputs("apc_src.users user:{id}\n", kf);
    fclose(kf);
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
    if (cmd[0])
        SL_CHECK(write(fd, cmd, strlen(cmd)) == (ssize_t)strlen(cmd));
    size_t n = 0;
    while (n + 1 < cap && read(fd, reply + n, 1) == 1) {
        n++;
        if (n >= 2 && reply[n - 2] == '\r' && reply[n - 1] == '\n')
            break;
    }
    reply[n] = '\0';
}

static const char *const cache_keys[] = {
    "user:1",         "user:2",   "user:email:a@x", "user:email:b@x",
    "user:email:c@x", "order:10", "order:11",       "user:3"};
#define NKEYS 8

SL_TEST(apply_consume_end_to_end) {
    fresh_target("CREATE TABLE apc_dst.users (id INT PRIMARY KEY, "
                 "email VARCHAR(64), n BIGINT UNSIGNED)");
    MYSQL *m = sl_harness_mysql("TARGET", NULL);
    sl_harness_exec(m, "CREATE TABLE apc_dst.orders (id INT PRIMARY KEY, "
                       "user_id INT, amount DECIMAL(20,4))");
    sl_harness_exec(m, "CREATE TABLE apc_dst.notes (id INT PRIMARY KEY, t "
                       "TEXT)");
    mysql_close(m);
    char keys[600];
    snprintf(keys, sizeof keys, "%s/keys", root);
    FILE *kf = fopen(keys, "w");
    fputs("# test keys\napc_src.users user:{id} user:email:{email}\n"
          "apc_src.orders order:{id} user:{user_id}\n",
          kf);
    fclose(kf);
    /* Seed the caches with every key the changes touch. */
    redisContext *rc = redisConnect("127.0.0.1", sl_harness_port("REDIS"));
    SL_CHECK(rc != NULL && rc->err == 0);
    int fd = mc_fd();
    char reply[256], cmd[300];
    for (int i = 0; i < NKEYS; i++) {
        redisReply *r = redisCommand(rc, "SET %s v", cache_keys[i]);
        freeReplyObject(r);
        snprintf(cmd, sizeof cmd, "set %s 0 0 1\r\nv\r\n", cache_keys[i]);
        mc_line(fd, cmd, reply, sizeof reply);
        SL_CHECK_STR(reply, "STORED\r\n");
    }
    redisReply *r = redisCommand(rc, "SET untouched v");
    freeReplyObject(r);
    redisContext *sub = redisConnect("127.0.0.1", sl_harness_port("REDIS"));
    r = redisCommand(sub, "SUBSCRIBE inval");
    freeReplyObject(r);

    sl_client_t *cl = client();
    const char *t1[] = {
        "\"op\":\"insert\",\"before\":null,\"after\":{\"id\":1,\"email\":"
        "\"a@x\",\"n\":18446744073709551615}",
        "\"op\":\"insert\",\"before\":null,\"after\":{\"id\":2,\"email\":"
        "\"b@x\",\"n\":0}"};
    trx(cl, "users", 1, t1, 2);
    const char *o1[] = {
        "\"op\":\"insert\",\"before\":null,\"after\":{\"id\":10,"
        "\"user_id\":1,\"amount\":\"12345678901234.5678\"}"};
    trx(cl, "orders", 1, o1, 1);
    /* An e-mail change and a primary-key change. */
    const char *t2[] = {
        "\"op\":\"update\",\"before\":{\"id\":1,\"email\":\"a@x\",\"n\":"
        "18446744073709551615},\"after\":{\"id\":1,\"email\":\"c@x\",\"n\":"
        "18446744073709551615}",
        "\"op\":\"update\",\"before\":{\"id\":2,\"email\":\"b@x\",\"n\":0},"
        "\"after\":{\"id\":3,\"email\":\"b@x\",\"n\":0}"};
    trx(cl, "users", 2, t2, 2);
    const char *o2[] = {
        "\"op\":\"delete\",\"before\":{\"id\":10,\"user_id\":1,"
        "\"amount\":\"12345678901234.5678\"},\"after\":null",
        "\"op\":\"insert\",\"before\":null,\"after\":{\"id\":11,"
        "\"user_id\":3,\"amount\":\"-0.0001\"}"};
    trx(cl, "orders", 2, o2, 2);
    const char *n1[] = {"\"op\":\"insert\",\"before\":null,\"after\":{\"id\":1,"
                        "\"t\":\"x\"}"};
    trx(cl, "notes", 1, n1, 1);
    /* users: 2 trx of 4 + 4 messages; orders: 3 + 4; notes 3. */
    int pid = spawn_apply("1", NULL);
    SL_CHECK(wait_offset("apc_src.users", 8, 20000) == 0);
    SL_CHECK(wait_offset("apc_src.orders", 7, 20000) == 0);
    SL_CHECK(wait_offset("apc_src.notes", 3, 20000) == 0);
    char *v = q("SELECT GROUP_CONCAT(id,':',email,':',n ORDER BY id) FROM "
                "apc_dst.users");
    SL_CHECK_STR(v, "1:c@x:18446744073709551615,3:b@x:0");
    free(v);
    v = q("SELECT GROUP_CONCAT(id,':',user_id,':',amount ORDER BY id) FROM "
          "apc_dst.orders");
    SL_CHECK_STR(v, "11:3:-0.0001");
    free(v);
    v = q("SELECT GROUP_CONCAT(part,'=',next_offset,'/',trx_applied,'/',"
          "rows_applied ORDER BY part) FROM apc_meta.sluice_offsets");
    SL_CHECK_STR(v, "apc_src.notes=3/1/1,apc_src.orders=7/2/3,"
                    "apc_src.users=8/2/4");
    free(v);
    /* The caches: every key is eventually gone (the deletes follow each
     * target commit; wait for the broker group offsets). */
    for (int t = 0; t < 100; t++) {
        uint64_t a = 0, b = 0;
        if (sl_client_committed(cl, "g", "shop", "apc_src.users", &a) == 0 &&
            sl_client_committed(cl, "g", "shop", "apc_src.orders", &b) == 0 &&
            a == 8 && b == 7)
            break;
        sl_harness_sleep_ms(100);
    }
    for (int i = 0; i < NKEYS; i++) {
        r = redisCommand(rc, "EXISTS %s", cache_keys[i]);
        SL_CHECK(r != NULL && r->type == REDIS_REPLY_INTEGER);
        if (r->integer != 0)
            sl_test_fail(__FILE__, __LINE__, "redis key %s not deleted",
                         cache_keys[i]);
        freeReplyObject(r);
        snprintf(cmd, sizeof cmd, "get %s\r\n", cache_keys[i]);
        mc_line(fd, cmd, reply, sizeof reply);
        if (strcmp(reply, "END\r\n") != 0)
            sl_test_fail(__FILE__, __LINE__, "memcached key %s not deleted",
                         cache_keys[i]);
    }
    r = redisCommand(rc, "EXISTS untouched");
    SL_CHECK(r->integer == 1);
    freeReplyObject(r);
    /* Broadcast: each invalidation was published. */
    int seen[NKEYS] = {0};
    struct timeval tv = {2, 0};
    redisSetTimeout(sub, tv);
    for (int k = 0; k < 64; k++) {
        redisReply *msg = NULL;
        if (redisGetReply(sub, (void **)&msg) != REDIS_OK || msg == NULL)
            break;
        for (int i = 0; i < NKEYS; i++)
            if (msg->elements == 3 &&
                strcmp(msg->element[2]->str, cache_keys[i]) == 0)
                seen[i] = 1;
        freeReplyObject(msg);
        int all = 1;
        for (int i = 0; i < NKEYS; i++)
            all &= seen[i];
        if (all)
            break;
    }
    for (int i = 0; i < NKEYS; i++)
        if (!seen[i])
            sl_test_fail(__FILE__, __LINE__, "no broadcast of %s",
                         cache_keys[i]);
    /* The stats file reports each partition. */
    char sp[600];
    snprintf(sp, sizeof sp, "%s/stats", root);
    sl_harness_sleep_ms(700);
    FILE *sf = fopen(sp, "r");
    SL_CHECK(sf != NULL);
    char sbuf[8192];
    size_t sn = fread(sbuf, 1, sizeof sbuf - 1, sf);
    sbuf[sn] = '\0';
    fclose(sf);
    SL_CHECK(strstr(sbuf, "STAT part:apc_src.users:next 8\n") != NULL);
    SL_CHECK(strstr(sbuf, "STAT part:apc_src.users:lag 0\n") != NULL);
    /* SIGTERM: clean exit. */
    int st = sl_harness_stop(pid, SIGTERM, 20000);
    SL_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);

    /* A dropped table stops its partition with the documented message;
     * the others continue; a restart applies nothing twice. */
    m = sl_harness_mysql("TARGET", NULL);
    sl_harness_exec(m, "DROP TABLE apc_dst.notes");
    mysql_close(m);
    const char *n2[] = {"\"op\":\"insert\",\"before\":null,\"after\":{\"id\":2,"
                        "\"t\":\"y\"}"};
    trx(cl, "notes", 2, n2, 1);
    const char *t3[] = {"\"op\":\"delete\",\"before\":{\"id\":3,\"email\":"
                        "\"b@x\",\"n\":0},\"after\":null"};
    trx(cl, "users", 3, t3, 1);
    pid = spawn_apply("2", NULL);
    SL_CHECK(wait_offset("apc_src.users", 11, 20000) == 0);
    char lp[600];
    snprintf(lp, sizeof lp, "%s/apply-2.log", root);
    int found = 0;
    for (int t = 0; t < 100 && !found; t++) {
        FILE *lf = fopen(lp, "r");
        char line[2048];
        while (lf && fgets(line, sizeof line, lf))
            if (strstr(line, "partition stopped") &&
                strstr(line, "part=apc_src.notes") &&
                strstr(line, "offset 4 row 0") &&
                strstr(line, "apc_dst.notes does not exist"))
                found = 1;
        if (lf)
            fclose(lf);
        if (!found)
            sl_harness_sleep_ms(100);
    }
    SL_CHECK(found);
    v = q("SELECT GROUP_CONCAT(part,'=',next_offset,'/',trx_applied ORDER BY "
          "part) FROM apc_meta.sluice_offsets");
    SL_CHECK_STR(v, "apc_src.notes=3/1,apc_src.orders=7/2,apc_src.users=11/3");
    free(v);
    v = q("SELECT GROUP_CONCAT(id ORDER BY id) FROM apc_dst.users");
    SL_CHECK_STR(v, "1");
    free(v);
    st = sl_harness_stop(pid, SIGTERM, 20000);
    SL_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);

    /* With a dead-letter topic the failing event is moved there (with its
     * offset and error) and the partition continues past it. */
    const char *n3[] = {"\"op\":\"insert\",\"before\":null,\"after\":{\"id\":3,"
                        "\"t\":\"z\"}"};
    trx(cl, "notes", 3, n3, 1);
    pid = spawn_apply("3", "dlq");
    SL_CHECK(wait_offset("apc_src.notes", 9, 20000) == 0);
    st = sl_harness_stop(pid, SIGTERM, 20000);
    SL_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    sl_client_fetch_t f;
    SL_CHECK_OK(sl_client_get(cl, "dlq", "apc_src.notes", 0, 1 << 20, 0, &f));
    SL_CHECK_INT(f.count, 2);
    char msg[4096];
    snprintf(msg, sizeof msg, "%.*s", (int)f.recs[0].len,
             (const char *)f.recs[0].data);
    SL_CHECK(strstr(msg, "\"offset\":4,") != NULL);
    SL_CHECK(strstr(msg, "apc_dst.notes does not exist") != NULL);
    SL_CHECK(strstr(msg, "\"event\":{\"kind\":\"row\"") != NULL);
    snprintf(msg, sizeof msg, "%.*s", (int)f.recs[1].len,
             (const char *)f.recs[1].data);
    SL_CHECK(strstr(msg, "\"offset\":7,") != NULL);
    v = q("SELECT GROUP_CONCAT(part,'=',next_offset ORDER BY part) FROM "
          "apc_meta.sluice_offsets");
    SL_CHECK_STR(v, "apc_src.notes=9,apc_src.orders=7,apc_src.users=11");
    free(v);
    close(fd);
    redisFree(rc);
    redisFree(sub);
    sl_client_close(cl);
    sl_harness_stop(broker_pid, SIGTERM, 10000);
}

/* SIGTERM while a source transaction is half-read: sluice-apply waits for
 * its end, commits it, then exits 0 (it neither exits at once nor leaves
 * the transaction's rows for a redo). */
SL_TEST(apply_consume_sigterm_finishes_the_open_transaction) {
    fresh_target("CREATE TABLE apc_dst.users (id INT PRIMARY KEY, "
                 "email VARCHAR(64), n BIGINT UNSIGNED)");
    sl_client_t *cl = client();
    char ev[1024];
    put(cl, "apc_src.users",
        "{\"kind\":\"begin\",\"src\":{\"file\":\"b.1\","
        "\"pos\":1,\"end_pos\":1,\"server_id\":1,\"ts\":1},\"trx\":{\"seq\":1,"
        "\"id\":\"0-1-1\"}}");
    for (int i = 0; i < 3; i++) {
        snprintf(ev, sizeof ev,
                 "{\"kind\":\"row\",\"op\":\"insert\",\"db\":"
                 "\"apc_src\",\"table\":\"users\",\"row\":%d,\"pk\":[\"id\"],"
                 "\"before\":null,\"after\":{\"id\":%d,\"email\":\"e%d\","
                 "\"n\":%d},\"src\":{\"file\":\"b.1\",\"pos\":1,\"end_pos\":1,"
                 "\"server_id\":1,\"ts\":1},\"trx\":{\"seq\":1,\"id\":"
                 "\"0-1-1\"}}",
                 i, i, i, i);
        put(cl, "apc_src.users", ev);
    }
    int pid = spawn_apply("term", NULL);
    /* Wait until the partition is being read. */
    char lp[600], line[2048];
    snprintf(lp, sizeof lp, "%s/apply-term.log", root);
    int resumed = 0;
    for (int t = 0; t < 200 && !resumed; t++) {
        FILE *lf = fopen(lp, "r");
        while (lf && fgets(line, sizeof line, lf))
            resumed |= strstr(line, "partition resumed") != NULL;
        if (lf)
            fclose(lf);
        sl_harness_sleep_ms(50);
    }
    SL_CHECK(resumed);
    sl_harness_sleep_ms(300);
    kill(pid, SIGTERM);
    sl_harness_sleep_ms(500);
    int st;
    /* Still there: its transaction has not ended yet. */
    SL_CHECK_INT(waitpid(pid, &st, WNOHANG), 0);
    put(cl, "apc_src.users",
        "{\"kind\":\"commit\",\"rows\":3,\"src\":{\"file\":"
        "\"b.1\",\"pos\":1,\"end_pos\":1,\"server_id\":1,\"ts\":1},\"trx\":"
        "{\"seq\":1,\"id\":\"0-1-1\"}}");
    int exited = 0;
    for (int t = 0; t < 400 && !exited; t++) {
        if (waitpid(pid, &st, WNOHANG) == pid)
            exited = 1;
        else
            sl_harness_sleep_ms(50);
    }
    SL_CHECK(exited);
    SL_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    char *v = q("SELECT CONCAT(COUNT(*), '/', (SELECT next_offset FROM "
                "apc_meta.sluice_offsets WHERE part='apc_src.users')) FROM "
                "apc_dst.users");
    SL_CHECK_STR(v, "3/5");
    free(v);
    sl_client_close(cl);
    sl_harness_stop(broker_pid, SIGTERM, 10000);
}

/* A partition far behind, read in many small fetches: its transactions are
 * grouped into few target commits (a fetch cut by --fetch-bytes is not the
 * end of the partition, which the broker reports with each fetch), every
 * row arrives once, and the fetches sent ahead on the second connection
 * keep the order. */
SL_TEST(apply_consume_lagging_partition_groups_across_fetches) {
    fresh_target("CREATE TABLE apc_dst.lag (id INT PRIMARY KEY, v INT)");
    sl_client_t *cl = client();
    /* 300 one-row transactions, then 100 that update the first 100 rows:
     * order matters (an update applied before its insert would drift). */
    char row[200];
    const char *rows[1] = {row};
    for (int i = 0; i < 400; i++) {
        if (i < 300)
            snprintf(row, sizeof row,
                     "\"op\":\"insert\",\"before\":null,"
                     "\"after\":{\"id\":%d,\"v\":%d}",
                     i, i);
        else
            snprintf(row, sizeof row,
                     "\"op\":\"update\",\"before\":"
                     "{\"id\":%d,\"v\":%d},\"after\":{\"id\":%d,\"v\":%d}",
                     i - 300, i - 300, i - 300, 1000 + i);
        trx(cl, "lag", i + 1, rows, 1);
    }
    sl_client_close(cl);
    int pid = spawn_apply_args("lag", NULL, "--fetch-bytes", "4KiB");
    SL_CHECK(wait_offset("apc_src.lag", 1200, 30000) == 0);
    char *v = q("SELECT CONCAT(COUNT(*), ':', SUM(v)) FROM apc_dst.lag");
    /* ids 0..99 hold 1300..1399, ids 100..299 their own id. */
    SL_CHECK_STR(v, "300:174850");
    free(v);
    v = q("SELECT CONCAT(trx_applied, '/', rows_applied) FROM "
          "apc_meta.sluice_offsets WHERE part='apc_src.lag'");
    SL_CHECK_STR(v, "400/400");
    free(v);
    /* About 300 KB in 4 KiB fetches: 70 or more fetches, but everything was
     * there at the start, so one target commit (a few if the first fetch
     * raced the last puts). */
    char sp[600], sbuf[16384];
    snprintf(sp, sizeof sp, "%s/stats", root);
    unsigned long long commits = 0;
    for (int t = 0; t < 50 && commits == 0; t++) {
        sl_harness_sleep_ms(200);
        FILE *sf = fopen(sp, "r");
        if (sf == NULL)
            continue;
        size_t sn = fread(sbuf, 1, sizeof sbuf - 1, sf);
        sbuf[sn] = '\0';
        fclose(sf);
        const char *c = strstr(sbuf, "STAT part:apc_src.lag:target_commits ");
        if (c != NULL)
            commits = strtoull(c + strlen("STAT part:apc_src.lag:"
                                          "target_commits "),
                               NULL, 10);
    }
    SL_CHECK(commits >= 1 && commits <= 3);
    int st = sl_harness_stop(pid, SIGTERM, 20000);
    SL_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}
