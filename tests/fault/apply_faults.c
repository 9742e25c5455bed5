/*
 * Fault tests for sluice-apply against a real broker and the harness's
 * target MariaDB (and a private Redis with an append-only file, so a
 * restart keeps its keys):
 *
 *  - kill -9 of sluice-apply at random points of a load, 10 times, then a
 *    last run to the end: the target equals the expected state (row count
 *    and a checksum over every row), and sluice_offsets counts every
 *    transaction and row exactly once (with --drift stop, an insert
 *    applied twice would also stop the partition);
 *  - the target stopped for 10 seconds mid-load, then started again:
 *    apply retries, catches up and nothing is lost;
 *  - Redis restarted mid-load: every key is deleted in the end.
 */
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
#include <time.h>
#include <unistd.h>
#include <zlib.h>

static char root[512];
static uint16_t broker_port;
static void start_broker(const char *tag) {
    snprintf(root, sizeof root, "%s/apply-fault-%s-%d",
             getenv("SL_HARNESS_ROOT") ? getenv("SL_HARNESS_ROOT") : "/tmp",
             tag, (int)getpid());
    mkdir(root, 0700);
    broker_port = sl_harness_free_port();
    char listen[64], data[600], logp[600];
    snprintf(listen, sizeof listen, "127.0.0.1:%u", broker_port);
    snprintf(data, sizeof data, "%s/broker", root);
    snprintf(logp, sizeof logp, "%s/broker.log", root);
    char *argv[] = {(char *)sl_harness_bin("sluice-broker"),
                    "--listen",
                    listen,
                    "--data",
                    data,
                    "--fsync",
                    "never",
                    NULL};
    (sl_harness_spawn(argv, logp));
    SL_CHECK(sl_harness_wait_port(broker_port, 10000) == 0);
}

static sl_client_t *client(void) {
    char hp[64];
    snprintf(hp, sizeof hp, "127.0.0.1:%u", broker_port);
    sl_client_t *cl;
    SL_CHECK_OK(sl_client_connect(hp, NULL, &cl));
    return cl;
}

/* The workload: per table, ntrx transactions; transaction i inserts row i
 * with v = i, updates row i to v = 2i+1, and (when i % 3 == 2) deletes row
 * i - 2. Published as begin, rows, commit. The expected final state is
 * computed alongside. */
typedef struct {
    sl_buf_t msgs; /* Messages back to back. */
    size_t *len;
    size_t n, cap;
} batch_t;

static void batch_add(batch_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void batch_add(batch_t *b, const char *fmt, ...) {
    char ev[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(ev, sizeof ev, fmt, ap);
    va_end(ap);
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 1024;
        b->len = realloc(b->len, b->cap * sizeof *b->len);
    }
    b->len[b->n++] = (size_t)n;
    sl_buf_append(&b->msgs, ev, (size_t)n);
}

static void batch_put(sl_client_t *cl, const char *part, batch_t *b) {
    sl_client_msg_t *m = calloc(b->n, sizeof *m);
    size_t off = 0;
    for (size_t i = 0; i < b->n; i++) {
        m[i].data = b->msgs.data + off;
        m[i].len = b->len[i];
        off += b->len[i];
    }
    for (size_t i = 0; i < b->n; i += 500) {
        size_t k = b->n - i < 500 ? b->n - i : 500;
        uint64_t base;
        int dup;
        SL_CHECK_OK(sl_client_put_batch(cl, "load", part, m + i, k, -1, 0,
                                        &base, &dup));
    }
    free(m);
    sl_buf_reset(&b->msgs);
    b->n = 0;
}

#define COORD                                                                  \
    "\"src\":{\"file\":\"b.1\",\"pos\":%d,\"end_pos\":%d,"                     \
    "\"server_id\":1,\"ts\":1},\"trx\":{\"seq\":%d,\"id\":\"t-%d\"}"

/* Offsets just after each transaction's commit marker in table a's
 * partition: the only places a committed position may be. */
#define MAX_BOUNDS 40000
static size_t bounds_a[MAX_BOUNDS];
static size_t nbounds_a;
static size_t sent_a;

static int at_boundary(unsigned long long off) {
    if (off == 0)
        return 1;
    for (size_t i = 0; i < nbounds_a; i++)
        if (bounds_a[i] == off)
            return 1;
    return 0;
}

/* Publishes transactions [from, to) of table t; returns messages sent. */
static size_t load(sl_client_t *cl, const char *t, int from, int to) {
    char part[64];
    snprintf(part, sizeof part, "fdb.%s", t);
    batch_t b = {SL_BUF_INIT, NULL, 0, 0};
    size_t total = 0;
    for (int i = from; i < to; i++) {
        batch_add(&b, "{\"kind\":\"begin\"," COORD "}", i, i, i, i);
        batch_add(&b,
                  "{\"kind\":\"row\",\"op\":\"insert\",\"db\":\"fdb\","
                  "\"table\":\"%s\",\"row\":0,\"pk\":[\"id\"],\"before\":null,"
                  "\"after\":{\"id\":%d,\"v\":%d}," COORD "}",
                  t, i, i, i, i, i, i);
        batch_add(&b,
                  "{\"kind\":\"row\",\"op\":\"update\",\"db\":\"fdb\","
                  "\"table\":\"%s\",\"row\":1,\"pk\":[\"id\"],\"before\":{"
                  "\"id\":%d,\"v\":%d},\"after\":{\"id\":%d,\"v\":%d}," COORD
                  "}",
                  t, i, i, i, 2 * i + 1, i, i, i, i);
        int rows = 2;
        if (i % 3 == 2) {
            batch_add(&b,
                      "{\"kind\":\"row\",\"op\":\"delete\",\"db\":\"fdb\","
                      "\"table\":\"%s\",\"row\":2,\"pk\":[\"id\"],\"before\":{"
                      "\"id\":%d,\"v\":%d},\"after\":null," COORD "}",
                      t, i - 2, 2 * (i - 2) + 1, i, i, i, i);
            rows++;
        }
        batch_add(&b, "{\"kind\":\"commit\",\"rows\":%d," COORD "}", rows, i, i,
                  i, i);
        total += (size_t)rows + 2;
        if (strcmp(t, "a") == 0 && nbounds_a < MAX_BOUNDS)
            bounds_a[nbounds_a++] = sent_a + total;
        if (b.n >= 2000)
            batch_put(cl, part, &b);
    }
    if (b.n > 0)
        batch_put(cl, part, &b);
    sl_buf_free(&b.msgs);
    free(b.len);
    if (strcmp(t, "a") == 0)
        sent_a += total;
    return total;
}

/* Expected "count,sum of CRC32(id:v)" after transactions [0, n). */
static void expected(int n, char *out, size_t cap) {
    unsigned long long sum = 0;
    int count = 0;
    for (int i = 0; i < n; i++) {
        int deleted = i + 2 < n && (i + 2) % 3 == 2;
        if (deleted)
            continue;
        char s[64];
        int l = snprintf(s, sizeof s, "%d:%d", i, 2 * i + 1);
        sum += crc32(0, (const unsigned char *)s, (unsigned)l);
        count++;
    }
    snprintf(out, cap, "%d,%llu", count, sum);
}

static int spawn_apply(const char *tag, const char *redis, int mysql) {
    char broker[64], target[200], pwf[600], keys[600], logp[600];
    snprintf(broker, sizeof broker, "127.0.0.1:%u", broker_port);
    snprintf(target, sizeof target, "mysql://%s@127.0.0.1:%u/fmeta",
             getenv("SL_TARGET_USER") ? getenv("SL_TARGET_USER") : "sluice",
             sl_harness_port("TARGET"));
    snprintf(pwf, sizeof pwf, "%s", getenv("SL_TARGET_PASSWORD_FILE"));
    snprintf(keys, sizeof keys, "%s/keys", root);
    snprintf(logp, sizeof logp, "%s/apply-%s.log", root, tag);
    char *argv[40];
    int a = 0;
    argv[a++] = (char *)sl_harness_bin("sluice-apply");
    argv[a++] = "--broker";
    argv[a++] = broker;
    argv[a++] = "--topic";
    argv[a++] = "load";
    argv[a++] = "--workers";
    argv[a++] = "2";
    argv[a++] = "--poll";
    argv[a++] = "100ms";
    argv[a++] = "--group-rows";
    argv[a++] = "40";
    argv[a++] = "--fetch-bytes";
    argv[a++] = "64KiB";
    if (mysql) {
        argv[a++] = "--target";
        argv[a++] = target;
        argv[a++] = "--target-password-file";
        argv[a++] = pwf;
        argv[a++] = "--map";
        argv[a++] = "fdb=fdst";
        argv[a++] = "--drift";
        argv[a++] = "stop";
    }
    if (redis != NULL) {
        argv[a++] = "--redis";
        argv[a++] = (char *)redis;
        argv[a++] = "--keys";
        argv[a++] = keys;
    }
    argv[a] = NULL;
    return (sl_harness_spawn(argv, logp));
}

static char *q(const char *sql) {
    MYSQL *m = sl_harness_mysql("TARGET", NULL);
    char *v = sl_harness_query_value(m, sql);
    mysql_close(m);
    return v;
}

/* next_offset of a partition, 0 when none (or the target is down). */
static unsigned long long offset_of(const char *part) {
    MYSQL *m = mysql_init(NULL);
    unsigned int to = 2;
    mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &to);
    unsigned long long v = 0;
    if (mysql_real_connect(m, "127.0.0.1", getenv("SL_TARGET_USER"),
                           sl_harness_password("TARGET"), NULL,
                           sl_harness_port("TARGET"), NULL, 0) != NULL) {
        char sql[300];
        snprintf(sql, sizeof sql,
                 "SELECT next_offset FROM "
                 "fmeta.sluice_offsets WHERE part='%s'",
                 part);
        if (mysql_query(m, sql) == 0) {
            MYSQL_RES *res = mysql_store_result(m);
            MYSQL_ROW row = res ? mysql_fetch_row(res) : NULL;
            if (row && row[0])
                v = strtoull(row[0], NULL, 10);
            if (res)
                mysql_free_result(res);
        }
    }
    mysql_close(m);
    return v;
}

static int wait_offsets(unsigned long long a, unsigned long long b,
                        int timeout_ms) {
    for (int t = 0; t < timeout_ms; t += 200) {
        if (offset_of("fdb.a") >= a && offset_of("fdb.b") >= b)
            return 0;
        sl_harness_sleep_ms(200);
    }
    return -1;
}

static void fresh_target(void) {
    MYSQL *m = sl_harness_mysql("TARGET", NULL);
    sl_harness_exec(m, "DROP DATABASE IF EXISTS fdst");
    sl_harness_exec(m, "DROP DATABASE IF EXISTS fmeta");
    sl_harness_exec(m, "CREATE DATABASE fdst");
    sl_harness_exec(m, "CREATE DATABASE fmeta");
    sl_harness_exec(m, "CREATE TABLE fdst.a (id INT PRIMARY KEY, v INT)");
    sl_harness_exec(m, "CREATE TABLE fdst.b (id INT PRIMARY KEY, v INT)");
    mysql_close(m);
}

static void check_target(int ntrx, size_t msgs) {
    char exp[64], sql[300];
    expected(ntrx, exp, sizeof exp);
    const char *tables[] = {"a", "b"};
    for (int t = 0; t < 2; t++) {
        snprintf(sql, sizeof sql,
                 "SELECT CONCAT(COUNT(*), ',', "
                 "IFNULL(SUM(CRC32(CONCAT(id,':',v))),0)) FROM fdst.%s",
                 tables[t]);
        char *v = q(sql);
        SL_CHECK_STR(v, exp);
        free(v);
        snprintf(sql, sizeof sql,
                 "SELECT CONCAT(next_offset,'/',trx_applied,"
                 "'/',rows_applied) FROM fmeta.sluice_offsets WHERE "
                 "part='fdb.%s'",
                 tables[t]);
        v = q(sql);
        int rows = 2 * ntrx + ntrx / 3;
        char want[100];
        snprintf(want, sizeof want, "%zu/%d/%d", msgs, ntrx, rows);
        SL_CHECK_STR(v, want);
        free(v);
    }
}

static unsigned rnd(void) {
    static unsigned s;
    if (s == 0)
        s = (unsigned)time(NULL) ^ (unsigned)getpid();
    s = s * 1103515245u + 12345u;
    return (s >> 8) & 0xFFFFFF;
}

SL_TEST(apply_fault_kill9_ten_times_exactly_once) {
    sl_harness_port("TARGET");
    nbounds_a = sent_a = 0;
    start_broker("kill");
    fresh_target();
    sl_client_t *cl = client();
    /* Each round publishes more transactions, then starts apply and kills
     * it at a random moment, so every kill lands during a load. */
    const int chunk = 3000;
    int ntrx = 0;
    size_t msgs = 0;
    unsigned long long last = 0;
    int mid_load = 0;
    for (int i = 0; i < 10; i++) {
        msgs += load(cl, "a", ntrx, ntrx + chunk);
        load(cl, "b", ntrx, ntrx + chunk);
        ntrx += chunk;
        char tag[16];
        snprintf(tag, sizeof tag, "k%d", i);
        int pid = spawn_apply(tag, NULL, 1);
        sl_harness_sleep_ms(30 + (int)(rnd() % 200));
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        unsigned long long cur = offset_of("fdb.a");
        /* Progress is never lost: the committed offset only grows, and it
         * is always just after a whole source transaction (groups of
         * transactions never split one). */
        SL_CHECK(cur >= last);
        SL_CHECK(at_boundary(cur));
        mid_load += cur < msgs;
        last = cur;
    }
    /* Most kills interrupted unfinished work (else they proved little). */
    SL_CHECK(mid_load >= 5);
    int pid = spawn_apply("final", NULL, 1);
    SL_CHECK(wait_offsets(msgs, msgs, 60000) == 0);
    int st = sl_harness_stop(pid, SIGTERM, 20000);
    SL_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    check_target(ntrx, msgs);
    sl_client_close(cl);
}

/* Runs a harness.sh function (stop/start of a harness server). */
static int harness_sh(const char *fn) {
    char cmd[2048];
    const char *bin = getenv("SL_BIN");
    snprintf(cmd, sizeof cmd,
             "bash -c '. \"%s/../tests/harness/harness.sh\" "
             "&& %s' >>%s/harness.log 2>&1",
             bin ? bin : "bin", fn, root);
    return system(cmd);
}

SL_TEST(apply_fault_target_stopped_10s) {
    sl_harness_port("TARGET");
    nbounds_a = sent_a = 0;
    char sh[1024];
    snprintf(sh, sizeof sh, "%s/../tests/harness/harness.sh",
             getenv("SL_BIN") ? getenv("SL_BIN") : "bin");
    if (access(sh, R_OK) != 0)
        SL_SKIP("no tests/harness/harness.sh beside SL_BIN");
    start_broker("target");
    fresh_target();
    sl_client_t *cl = client();
    const int ntrx = 2000;
    size_t half = load(cl, "a", 0, ntrx / 2);
    load(cl, "b", 0, ntrx / 2);
    int pid = spawn_apply("t", NULL, 1);
    SL_CHECK(wait_offsets(half / 4, half / 4, 30000) == 0);
    /* Stop the target for 10 seconds while the load continues. */
    SL_CHECK(harness_sh("sl_h_stop TARGET") == 0);
    size_t rest = load(cl, "a", ntrx / 2, ntrx);
    load(cl, "b", ntrx / 2, ntrx);
    sl_harness_sleep_ms(10000);
    SL_CHECK(harness_sh("sl_h_start_mariadb TARGET 2") == 0);
    SL_CHECK(wait_offsets(half + rest, half + rest, 60000) == 0);
    int st = sl_harness_stop(pid, SIGTERM, 20000);
    SL_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    check_target(ntrx, half + rest);
    sl_client_close(cl);
}

SL_TEST(apply_fault_redis_restarted) {
    sl_harness_port("TARGET");
    nbounds_a = sent_a = 0;
    start_broker("redis");
    fresh_target();
    /* A private Redis with an append-only file, so the keys seeded before
     * the restart are still there after it unless sluice deleted them. */
    uint16_t rport = sl_harness_free_port();
    char rp[16], rdir[600], rlog[600], redis[64];
    snprintf(rp, sizeof rp, "%u", rport);
    snprintf(rdir, sizeof rdir, "%s/redis", root);
    snprintf(rlog, sizeof rlog, "%s/redis.log", root);
    snprintf(redis, sizeof redis, "127.0.0.1:%u", rport);
    mkdir(rdir, 0700);
    char *rargv[] = {"/usr/bin/redis-server",
                     "--bind",
                     "127.0.0.1",
                     "--port",
                     rp,
                     "--dir",
                     rdir,
                     "--save",
                     "",
                     "--appendonly",
                     "yes",
                     "--appendfsync",
                     "always",
                     NULL};
    if (access(rargv[0], X_OK) != 0)
        SL_SKIP("no /usr/bin/redis-server");
    int rpid = (sl_harness_spawn(rargv, rlog));
    SL_CHECK(sl_harness_wait_port(rport, 10000) == 0);
    redisContext *rc = redisConnect("127.0.0.1", rport);
    SL_CHECK(rc != NULL && rc->err == 0);
    const int ntrx = 1500;
    for (int i = 0; i < ntrx; i++) {
        redisReply *r = redisCommand(rc, "SET a:%d v", i);
        freeReplyObject(r);
    }
    redisFree(rc);
    char keys[600];
    snprintf(keys, sizeof keys, "%s/keys", root);
    FILE *kf = fopen(keys, "w");
    fputs("fdb.a a:{id}\n", kf);
    fclose(kf);
    sl_client_t *cl = client();
    size_t half = load(cl, "a", 0, ntrx / 2);
    int pid = spawn_apply("r", redis, 0);
    /* Restart Redis mid-load. */
    sl_harness_sleep_ms(300);
    sl_harness_stop(rpid, SIGTERM, 10000);
    size_t rest = load(cl, "a", ntrx / 2, ntrx);
    sl_harness_sleep_ms(1500);
    rpid = (sl_harness_spawn(rargv, rlog));
    SL_CHECK(sl_harness_wait_port(rport, 10000) == 0);
    uint64_t committed = 0;
    for (int t = 0; t < 300; t++) {
        if (sl_client_committed(cl, "sluice-apply", "load", "fdb.a",
                                &committed) == 0 &&
            committed == half + rest)
            break;
        sl_harness_sleep_ms(100);
    }
    SL_CHECK_UINT(committed, half + rest);
    rc = redisConnect("127.0.0.1", rport);
    SL_CHECK(rc != NULL && rc->err == 0);
    redisReply *r = redisCommand(rc, "DBSIZE");
    SL_CHECK(r != NULL && r->type == REDIS_REPLY_INTEGER);
    SL_CHECK_INT(r->integer, 0);
    freeReplyObject(r);
    redisFree(rc);
    int st = sl_harness_stop(pid, SIGTERM, 20000);
    SL_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    char lp[600], line[2048];
    snprintf(lp, sizeof lp, "%s/apply-r.log", root);
    FILE *lf = fopen(lp, "r");
    int retried = 0;
    while (lf && fgets(line, sizeof line, lf))
        retried |= strstr(line, "redis delete failed; retrying") != NULL;
    if (lf)
        fclose(lf);
    /* The restart happened while deletes were due (else this test would
     * not have exercised the retry). */
    SL_CHECK(retried);
    sl_harness_stop(rpid, SIGTERM, 10000);
    sl_client_close(cl);
}

SL_TEST(apply_fault_table_dropped_mid_load) {
    sl_harness_port("TARGET");
    nbounds_a = sent_a = 0;
    start_broker("drop");
    fresh_target();
    sl_client_t *cl = client();
    const int ntrx = 4000;
    size_t msgs = load(cl, "a", 0, ntrx);
    load(cl, "b", 0, ntrx / 4);
    int pid = spawn_apply("d", NULL, 1);
    SL_CHECK(wait_offsets(1, 1, 30000) == 0);
    /* Drop b's target table while both partitions are being applied;
     * more changes for b arrive after the drop. */
    MYSQL *m = sl_harness_mysql("TARGET", NULL);
    sl_harness_exec(m, "DROP TABLE fdst.b");
    mysql_close(m);
    load(cl, "b", ntrx / 4, ntrx);
    /* a continues to the end. */
    for (int t = 0; t < 600 && offset_of("fdb.a") < msgs; t++)
        sl_harness_sleep_ms(100);
    SL_CHECK_UINT(offset_of("fdb.a"), msgs);
    /* b stopped with the documented message naming offset and row. */
    char lp[600], line[4096];
    snprintf(lp, sizeof lp, "%s/apply-d.log", root);
    int found = 0;
    for (int t = 0; t < 100 && !found; t++) {
        FILE *lf = fopen(lp, "r");
        while (lf && fgets(line, sizeof line, lf))
            if (strstr(line, "msg=\"partition stopped\" part=fdb.b") &&
                strstr(line, "error=\"partition fdb.b offset ") &&
                strstr(line, " row ") &&
                (strstr(line, "fdst.b does not exist") ||
                 strstr(line, "error 1146")))
                found = 1;
        if (lf)
            fclose(lf);
        if (!found)
            sl_harness_sleep_ms(100);
    }
    SL_CHECK(found);
    unsigned long long b = offset_of("fdb.b");
    SL_CHECK(b < msgs);
    int st = sl_harness_stop(pid, SIGTERM, 20000);
    SL_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    char exp[64];
    expected(ntrx, exp, sizeof exp);
    char *v = q("SELECT CONCAT(COUNT(*), ',', IFNULL(SUM(CRC32(CONCAT(id,':',"
                "v))),0)) FROM fdst.a");
    SL_CHECK_STR(v, exp);
    free(v);
    sl_client_close(cl);
}

/* VmRSS of a process in KiB, or 0. */
static long rss_kib(int pid) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    long kib = 0;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kib = atol(line + 6);
    if (f)
        fclose(f);
    return kib;
}

/* Back-pressure: with the cache down, sluice-apply stops fetching instead
 * of reading the backlog into memory, and acknowledges nothing. */
SL_TEST(apply_fault_memory_bounded_while_sink_down) {
    sl_harness_port("TARGET");
    nbounds_a = sent_a = 0;
    start_broker("bp");
    sl_client_t *cl = client();
    /* About 40 MB of change events waiting. */
    size_t msgs = load(cl, "a", 0, 40000);
    char keys[600], dead[64];
    snprintf(keys, sizeof keys, "%s/keys", root);
    FILE *kf = fopen(keys, "w");
    fputs("fdb.a a:{id} a:v:{v}\n", kf);
    fclose(kf);
    snprintf(dead, sizeof dead, "127.0.0.1:%u", sl_harness_free_port());
    int pid = spawn_apply("bp", dead, 0);
    long peak = 0;
    for (int i = 0; i < 20; i++) {
        sl_harness_sleep_ms(100);
        long r = rss_kib(pid);
        if (r > peak)
            peak = r;
    }
    uint64_t committed = 0;
    int rc =
        sl_client_committed(cl, "sluice-apply", "load", "fdb.a", &committed);
    SL_CHECK(rc == SL_ENOTFOUND || committed == 0);
    /* One fetch, one parsed batch and its keys: far below the backlog. */
    SL_CHECK(peak > 0);
    if (peak > 32 * 1024)
        sl_test_fail(__FILE__, __LINE__,
                     "RSS %ld KiB with %zu messages "
                     "waiting",
                     peak, msgs);
    int st = sl_harness_stop(pid, SIGTERM, 20000);
    SL_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    sl_client_close(cl);
}
