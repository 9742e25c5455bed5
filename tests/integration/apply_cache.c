/*
 * The cache-invalidation sinks against real servers: pipelined deletes
 * reach Redis and memcached (including keys that do not exist, and more
 * keys than one pipeline round), PUBLISH broadcasts each key, and a server
 * that is down when the delete starts is retried until it is up, with
 * every key then gone.
 */
#include "apply/keytpl.h"
#include "apply/sink_cache.h"
#include "error.h"
#include "harness.h"
#include "sl_test.h"

#include <arpa/inet.h>
#include <hiredis.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static void add_key(sl_keylist_t *kl, const char *key) {
    if (kl->off == NULL) {
        kl->off = calloc(1024 * 8, sizeof *kl->off);
        kl->cap = 1024 * 8;
    }
    SL_CHECK(kl->count + 2 <= kl->cap);
    SL_CHECK_OK(sl_buf_append_str(&kl->bytes, key));
    kl->count++;
    kl->off[kl->count] = kl->bytes.len;
}

static redisContext *redis_at(uint16_t port) {
    redisContext *c = redisConnect("127.0.0.1", port);
    SL_CHECK(c != NULL && c->err == 0);
    return c;
}

static long long redis_int(redisContext *c, const char *fmt, const char *k) {
    redisReply *r = redisCommand(c, fmt, k);
    SL_CHECK(r != NULL && r->type == REDIS_REPLY_INTEGER);
    long long v = r->integer;
    freeReplyObject(r);
    return v;
}

static void redis_set(redisContext *c, const char *k) {
    redisReply *r = redisCommand(c, "SET %s v", k);
    SL_CHECK(r != NULL && r->type == REDIS_REPLY_STATUS);
    freeReplyObject(r);
}

SL_TEST(apply_redis_pipelined_delete_and_publish) {
    uint16_t port = sl_harness_port("REDIS");
    redisContext *c = redis_at(port);
    redisContext *sub = redis_at(port);
    redisReply *r = redisCommand(sub, "SUBSCRIBE inval");
    SL_CHECK(r != NULL);
    freeReplyObject(r);
    sl_keylist_t kl;
    sl_keylist_init(&kl);
    char key[64];
    /* 1300 keys: three pipeline rounds; every other key exists. */
    for (int i = 0; i < 1300; i++) {
        snprintf(key, sizeof key, "t1:user:%d", i);
        if (i % 2 == 0)
            redis_set(c, key);
        add_key(&kl, key);
    }
    snprintf(key, sizeof key, "t1:other");
    redis_set(c, key);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%u", port);
    sl_redis_sink_t *rs;
    SL_CHECK_OK(sl_redis_sink_new(addr, "inval", NULL, &rs));
    volatile int stop = 0;
    SL_CHECK_OK(sl_redis_sink_delete(rs, &kl, &stop));
    sl_cache_stats_t st;
    sl_redis_sink_stats(rs, &st);
    SL_CHECK_UINT(st.keys, 1300);
    SL_CHECK_UINT(st.existed, 650);
    SL_CHECK_UINT(st.published, 1300);
    for (int i = 0; i < 1300; i += 7) {
        snprintf(key, sizeof key, "t1:user:%d", i);
        SL_CHECK_INT(redis_int(c, "EXISTS %s", key), 0);
    }
    /* A key not in the list is untouched. */
    SL_CHECK_INT(redis_int(c, "EXISTS %s", "t1:other"), 1);
    /* The subscriber saw every key, in order. */
    for (int i = 0; i < 1300; i++) {
        redisReply *m = NULL;
        SL_CHECK(redisGetReply(sub, (void **)&m) == REDIS_OK && m != NULL);
        SL_CHECK(m->type == REDIS_REPLY_ARRAY && m->elements == 3);
        snprintf(key, sizeof key, "t1:user:%d", i);
        SL_CHECK_STR(m->element[2]->str, key);
        freeReplyObject(m);
    }
    sl_redis_sink_free(rs);
    sl_keylist_free(&kl);
    redisFree(sub);
    redisFree(c);
}

/* memcached text-protocol helper for the test side. */
static int mc_connect(uint16_t port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    SL_CHECK(connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

static void mc_cmd(int fd, const char *cmd, char *reply, size_t cap) {
    SL_CHECK(write(fd, cmd, strlen(cmd)) == (ssize_t)strlen(cmd));
    size_t n = 0;
    while (n + 1 < cap) {
        ssize_t r = read(fd, reply + n, 1);
        SL_CHECK(r == 1);
        n++;
        if (n >= 2 && reply[n - 2] == '\r' && reply[n - 1] == '\n')
            break;
    }
    reply[n] = '\0';
}

static void mc_set(int fd, const char *key) {
    char cmd[300], reply[64];
    snprintf(cmd, sizeof cmd, "set %s 0 0 1\r\nx\r\n", key);
    mc_cmd(fd, cmd, reply, sizeof reply);
    SL_CHECK_STR(reply, "STORED\r\n");
}

static int mc_exists(int fd, const char *key) {
    char cmd[300], reply[300];
    snprintf(cmd, sizeof cmd, "get %s\r\n", key);
    mc_cmd(fd, cmd, reply, sizeof reply);
    if (strcmp(reply, "END\r\n") == 0)
        return 0;
    mc_cmd(fd, "", reply, sizeof reply); /* the value line */
    mc_cmd(fd, "", reply, sizeof reply); /* END */
    return 1;
}

SL_TEST(apply_memcached_pipelined_delete) {
    uint16_t port = sl_harness_port("MEMCACHED");
    int fd = mc_connect(port);
    sl_keylist_t kl;
    sl_keylist_init(&kl);
    char key[64];
    for (int i = 0; i < 1100; i++) {
        snprintf(key, sizeof key, "t2:user:%d", i);
        if (i % 3 == 0)
            mc_set(fd, key);
        add_key(&kl, key);
    }
    mc_set(fd, "t2:other");
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%u", port);
    sl_mc_sink_t *mc;
    SL_CHECK_OK(sl_mc_sink_new((const char *const[]){addr}, 1, &mc));
    volatile int stop = 0;
    SL_CHECK_OK(sl_mc_sink_delete(mc, &kl, &stop));
    sl_cache_stats_t st;
    sl_mc_sink_stats(mc, &st);
    SL_CHECK_UINT(st.keys, 1100);
    SL_CHECK_UINT(st.existed, 367);
    for (int i = 0; i < 1100; i += 3) {
        snprintf(key, sizeof key, "t2:user:%d", i);
        SL_CHECK_INT(mc_exists(fd, key), 0);
    }
    SL_CHECK_INT(mc_exists(fd, "t2:other"), 1);
    /* A key memcached cannot hold is refused before anything is sent. */
    sl_keylist_t bad;
    sl_keylist_init(&bad);
    add_key(&bad, "t2:other");
    add_key(&bad, "has space");
    SL_CHECK_INT(sl_mc_sink_delete(mc, &bad, &stop), SL_EINVAL);
    SL_CHECK_INT(mc_exists(fd, "t2:other"), 1);
    sl_keylist_free(&bad);
    sl_mc_sink_free(mc);
    sl_keylist_free(&kl);
    close(fd);
}

typedef struct {
    sl_redis_sink_t *rs;
    sl_mc_sink_t *mc;
    sl_keylist_t *kl;
    volatile int stop;
    int rc;
} del_job_t;

static void *del_thread(void *arg) {
    del_job_t *job = arg;
    job->rc = job->rs ? sl_redis_sink_delete(job->rs, job->kl, &job->stop)
                      : sl_mc_sink_delete(job->mc, job->kl, &job->stop);
    return NULL;
}

/* The full path of a program found on PATH (sl_harness_spawn uses
 * execv), or the name itself. */
static const char *in_path(const char *name) {
    static char buf[4][512];
    static int slot;
    char *b = buf[slot++ % 4];
    const char *path = getenv("PATH");
    char copy[2048];
    snprintf(copy, sizeof copy, "%s", path ? path : "/usr/bin:/usr/sbin");
    for (char *save, *dir = strtok_r(copy, ":", &save); dir;
         dir = strtok_r(NULL, ":", &save)) {
        snprintf(b, 512, "%s/%s", dir, name);
        if (access(b, X_OK) == 0)
            return b;
    }
    return name;
}

/* A server that is down when the delete starts: the sink retries with
 * backoff, and once the server is up every key is deleted. */
static void down_then_up(int redis) {
    uint16_t port = sl_harness_free_port();
    char addr[64], portstr[16];
    snprintf(addr, sizeof addr, "127.0.0.1:%u", port);
    snprintf(portstr, sizeof portstr, "%u", port);
    sl_keylist_t kl;
    sl_keylist_init(&kl);
    add_key(&kl, "t3:a");
    add_key(&kl, "t3:b");
    del_job_t job = {.kl = &kl};
    if (redis)
        SL_CHECK_OK(sl_redis_sink_new(addr, NULL, NULL, &job.rs));
    else
        SL_CHECK_OK(sl_mc_sink_new((const char *const[]){addr}, 1, &job.mc));
    pthread_t th;
    SL_CHECK(pthread_create(&th, NULL, del_thread, &job) == 0);
    usleep(700 * 1000);
    /* Still retrying: nothing to talk to yet. */
    sl_cache_stats_t st;
    if (redis)
        sl_redis_sink_stats(job.rs, &st);
    else
        sl_mc_sink_stats(job.mc, &st);
    SL_CHECK(st.retries >= 1);
    char logp[512];
    snprintf(logp, sizeof logp, "%s/apply-cache-%s.log",
             getenv("SL_HARNESS_ROOT") ? getenv("SL_HARNESS_ROOT") : "/tmp",
             redis ? "redis" : "mc");
    int pid;
    if (redis) {
        char *argv[] = {(char *)in_path("redis-server"),
                        "--bind",
                        "127.0.0.1",
                        "--port",
                        portstr,
                        "--save",
                        "",
                        "--appendonly",
                        "no",
                        NULL};
        pid = sl_harness_spawn(argv, logp);
    } else {
        char *argv[] = {(char *)in_path("memcached"),
                        "-l",
                        "127.0.0.1",
                        "-p",
                        portstr,
                        "-U",
                        "0",
                        "-u",
                        "root",
                        NULL};
        if (getuid() != 0)
            argv[7] = NULL;
        pid = sl_harness_spawn(argv, logp);
    }
    int ok = sl_harness_wait_port(port, 10000) == 0;
    if (!ok)
        job.stop = 1;
    pthread_join(th, NULL);
    SL_CHECK(ok);
    SL_CHECK_OK(job.rc);
    if (redis) {
        sl_redis_sink_stats(job.rs, &st);
        sl_redis_sink_free(job.rs);
    } else {
        sl_mc_sink_stats(job.mc, &st);
        sl_mc_sink_free(job.mc);
    }
    SL_CHECK_UINT(st.keys, 2);
    SL_CHECK_UINT(st.batches, 1);
    sl_harness_stop(pid, SIGTERM, 5000);
    sl_keylist_free(&kl);
}

SL_TEST(apply_redis_down_then_up) {
    sl_harness_port("REDIS");
    down_then_up(1);
}

SL_TEST(apply_memcached_down_then_up) {
    sl_harness_port("MEMCACHED");
    down_then_up(0);
}

SL_TEST(apply_cache_stop_while_retrying) {
    uint16_t port = sl_harness_free_port();
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%u", port);
    sl_keylist_t kl;
    sl_keylist_init(&kl);
    add_key(&kl, "t4:a");
    del_job_t job = {.kl = &kl};
    SL_CHECK_OK(sl_mc_sink_new((const char *const[]){addr}, 1, &job.mc));
    pthread_t th;
    SL_CHECK(pthread_create(&th, NULL, del_thread, &job) == 0);
    usleep(300 * 1000);
    job.stop = 1;
    pthread_join(th, NULL);
    SL_CHECK_INT(job.rc, SL_ESTOPPED);
    sl_mc_sink_free(job.mc);
    sl_keylist_free(&kl);
}
