/*
 * Several --memcached servers form one pool placed like the ecosystem's
 * clients place keys (issue 12, item 19: a second --memcached silently
 * replaced the first). Two real memcached servers (the harness's and one
 * started here); every key is stored on the server a libmemcached client
 * in libketama-compatible mode picks, and also, directly, on the other
 * server. sluice-apply, given the servers in the opposite order, must
 * delete each changed key on the server ketama puts it on and only there:
 * afterwards the key is gone from its ketama server and still on the
 * other, and keys no change touched stay everywhere.
 */
#include "client.h"
#include "error.h"
#include "harness.h"
#include "sl_test.h"

#include <arpa/inet.h>
#include <libmemcached/memcached.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define NCHANGED 200
#define NKEYS 240

static int mc_connect(uint16_t port) {
    int fd = sl_harness_tcp_connect(port, 0, 10000, 0);
    SL_CHECK(fd >= 0);
    return fd;
}

/* Sends cmd and reads until the reply ends with end (e.g. "END\r\n"). */
static void mc_cmd(int fd, const char *cmd, const char *end, char *reply,
                   size_t cap) {
    SL_CHECK(write(fd, cmd, strlen(cmd)) == (ssize_t)strlen(cmd));
    size_t n = 0, el = strlen(end);
    while (n + 1 < cap && read(fd, reply + n, 1) == 1) {
        n++;
        if (n >= el && memcmp(reply + n - el, end, el) == 0)
            break;
    }
    reply[n] = '\0';
}

/* 1 when the server on fd holds key. */
static int mc_has(int fd, const char *key) {
    char cmd[300], reply[512];
    snprintf(cmd, sizeof cmd, "get %s\r\n", key);
    mc_cmd(fd, cmd, "END\r\n", reply, sizeof reply);
    return strncmp(reply, "VALUE ", 6) == 0;
}

static uint16_t start_second_memcached_pid(int *pid);

static uint16_t start_second_memcached(void) {
    int pid;
    return start_second_memcached_pid(&pid);
}

/* Starts another memcached on a free port; *pid is its process. */
static uint16_t start_second_memcached_pid(int *pid) {
    /* The spawn helper execs without a PATH search. */
    const char *bin = access("/usr/bin/memcached", X_OK) == 0
                          ? "/usr/bin/memcached"
                          : "/usr/local/bin/memcached";
    for (int attempt = 0; attempt < 3; attempt++) {
        uint16_t port = sl_harness_free_port();
        char p[16];
        snprintf(p, sizeof p, "%u", port);
        char *argv[] = {(char *)bin, "-l", "127.0.0.1", "-p", p,    "-U",
                        "0",         "-m", "64",        NULL, NULL, NULL};
        if (getuid() == 0) {
            argv[9] = "-u";
            argv[10] = "root";
        }
        *pid = sl_harness_spawn(argv, NULL);
        if (sl_harness_wait_port(port, 10000) == 0)
            return port;
    }
    SL_CHECK(!"the second memcached did not start");
    return 0;
}

/* Publishes one source transaction updating ids 1..n of part (db.table)
 * to topic shop; returns the offset after its commit. */
static uint64_t publish_updates(sl_client_t *cl, const char *part, int n) {
    const char *dot = strchr(part, '.');
    char db[64], ev[1024];
    snprintf(db, sizeof db, "%.*s", (int)(dot - part), part);
    const char *src = "\"src\":{\"file\":\"b.1\",\"pos\":4,\"end_pos\":4,"
                      "\"server_id\":1,\"ts\":1},\"trx\":{\"seq\":1,\"id\":"
                      "\"0-1-9\"}";
    uint64_t off;
    int dup;
    snprintf(ev, sizeof ev, "{\"kind\":\"begin\",%s}", src);
    SL_CHECK_OK(
        sl_client_put(cl, "shop", part, ev, strlen(ev), -1, 0, &off, &dup));
    for (int i = 1; i <= n; i++) {
        snprintf(ev, sizeof ev,
                 "{\"kind\":\"row\",\"op\":\"update\","
                 "\"before\":{\"id\":%d,\"n\":1},\"after\":{\"id\":%d,"
                 "\"n\":2},\"db\":\"%s\",\"table\":\"%s\",\"row\":%d,"
                 "\"pk\":[\"id\"],%s}",
                 i, i, db, dot + 1, i - 1, src);
        SL_CHECK_OK(
            sl_client_put(cl, "shop", part, ev, strlen(ev), -1, 0, &off, &dup));
    }
    snprintf(ev, sizeof ev, "{\"kind\":\"commit\",\"rows\":%d,%s}", n, src);
    SL_CHECK_OK(
        sl_client_put(cl, "shop", part, ev, strlen(ev), -1, 0, &off, &dup));
    return off + 1;
}

/* The application's client over both servers: libmemcached,
 * libketama-compatible (weighted ketama). */
static memcached_st *app_client(const uint16_t port[2]) {
    memcached_st *app = memcached_create(NULL);
    SL_CHECK(app != NULL);
    SL_CHECK(memcached_behavior_set(app, MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED,
                                    1) == MEMCACHED_SUCCESS);
    for (int s = 0; s < 2; s++)
        SL_CHECK(memcached_server_add(app, "127.0.0.1", port[s]) ==
                 MEMCACHED_SUCCESS);
    return app;
}

SL_TEST(apply_memcached_pool_deletes_on_the_ketama_server) {
    uint16_t port[2];
    port[0] = sl_harness_port("MEMCACHED");
    port[1] = start_second_memcached();
    char dir[600], broker[64];
    snprintf(dir, sizeof dir, "%s/mcpool", sl_test_tmpdir());
    mkdir(dir, 0700);
    sl_harness_start_broker(dir, broker, sizeof broker);

    memcached_st *app = app_client(port);
    int fd[2] = {mc_connect(port[0]), mc_connect(port[1])};
    int home[NKEYS + 1], per[2] = {0, 0};
    char key[64], cmd[300], reply[256];
    for (int i = 1; i <= NKEYS; i++) {
        snprintf(key, sizeof key, "user:%d", i);
        SL_CHECK(memcached_set(app, key, strlen(key), "v", 1, 0, 0) ==
                 MEMCACHED_SUCCESS);
        memcached_return_t rc;
        const memcached_instance_st *in =
            memcached_server_by_key(app, key, strlen(key), &rc);
        SL_CHECK(in != NULL);
        home[i] = memcached_server_port(in) == port[0] ? 0 : 1;
        SL_CHECK_INT(memcached_server_port(in), port[home[i]]);
        per[home[i]]++;
        /* The client really stored it there. */
        SL_CHECK(mc_has(fd[home[i]], key));
        /* And the same key on the other server, directly. */
        snprintf(cmd, sizeof cmd, "set %s 0 0 1\r\nw\r\n", key);
        mc_cmd(fd[1 - home[i]], cmd, "\r\n", reply, sizeof reply);
        SL_CHECK_STR(reply, "STORED\r\n");
    }
    /* Both servers own keys, or the test would prove nothing. */
    SL_CHECK(per[0] > NKEYS / 5 && per[1] > NKEYS / 5);

    /* Changes to users 1..NCHANGED, one transaction. */
    sl_client_t *cl;
    SL_CHECK_OK(sl_client_connect(broker, NULL, &cl));
    uint64_t end = publish_updates(cl, "mp_src.users", NCHANGED);

    char keys[700], logp[700], m0[64], m1[64];
    snprintf(keys, sizeof keys, "%s/keys", dir);
    FILE *kf = fopen(keys, "w");
    SL_CHECK(kf != NULL);
    fputs("mp_src.users user:{id}\n", kf);
    fclose(kf);
    snprintf(logp, sizeof logp, "%s/apply.log", dir);
    /* The opposite order of the application's list: ketama does not
     * depend on it. */
    snprintf(m0, sizeof m0, "127.0.0.1:%u", port[1]);
    snprintf(m1, sizeof m1, "127.0.0.1:%u", port[0]);
    char *argv[] = {(char *)sl_harness_bin("sluice-apply"),
                    "--broker",
                    broker,
                    "--topic",
                    "shop",
                    "--group",
                    "mp",
                    "--memcached",
                    m0,
                    "--memcached",
                    m1,
                    "--keys",
                    keys,
                    "--poll",
                    "200ms",
                    NULL};
    int pid = sl_harness_spawn(argv, logp);
    uint64_t committed = 0;
    for (int t = 0; t < 600 && committed < end; t++) {
        int rc =
            sl_client_committed(cl, "mp", "shop", "mp_src.users", &committed);
        SL_CHECK(rc == 0 || rc == SL_ENOTFOUND);
        if (committed < end)
            sl_harness_sleep_ms(100);
    }
    SL_CHECK_UINT(committed, end);
    int status = sl_harness_stop(pid, SIGTERM, 10000);
    SL_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    int wrong = 0, kept = 0;
    for (int i = 1; i <= NKEYS; i++) {
        snprintf(key, sizeof key, "user:%d", i);
        int on_home = mc_has(fd[home[i]], key);
        int on_other = mc_has(fd[1 - home[i]], key);
        if (i <= NCHANGED) {
            if (on_home || !on_other) {
                wrong++;
                fprintf(stderr, "%s (ketama server %u): home %s, other %s\n",
                        key, port[home[i]], on_home ? "still there" : "gone",
                        on_other ? "kept" : "deleted");
            }
        } else {
            kept += on_home && on_other;
        }
    }
    SL_CHECK_INT(wrong, 0);
    SL_CHECK_INT(kept, NKEYS - NCHANGED);
    close(fd[0]);
    close(fd[1]);
    memcached_free(app);
    sl_client_close(cl);
}

/* One server of the pool stops answering (SIGSTOP): the keys of the other
 * server are deleted meanwhile, the consumer offset is not committed while
 * the stopped server's share is unacknowledged (its keys are not remapped
 * to the live server), and once it answers again its keys are deleted and
 * the offset is committed. */
SL_TEST(apply_memcached_pool_server_stalled_is_waited_for) {
    uint16_t port[2];
    port[0] = sl_harness_port("MEMCACHED");
    int pid1 = 0;
    port[1] = start_second_memcached_pid(&pid1);
    char dir[600], broker[64];
    snprintf(dir, sizeof dir, "%s/mcstall", sl_test_tmpdir());
    mkdir(dir, 0700);
    sl_harness_start_broker(dir, broker, sizeof broker);
    memcached_st *app = app_client(port);
    int fd[2] = {mc_connect(port[0]), mc_connect(port[1])};
    int home[NCHANGED + 1], per[2] = {0, 0};
    char key[64];
    for (int i = 1; i <= NCHANGED; i++) {
        snprintf(key, sizeof key, "stall:%d", i);
        SL_CHECK(memcached_set(app, key, strlen(key), "v", 1, 0, 0) ==
                 MEMCACHED_SUCCESS);
        memcached_return_t rc;
        const memcached_instance_st *in =
            memcached_server_by_key(app, key, strlen(key), &rc);
        SL_CHECK(in != NULL);
        home[i] = memcached_server_port(in) == port[0] ? 0 : 1;
        per[home[i]]++;
    }
    SL_CHECK(per[0] > 0 && per[1] > 0);
    sl_client_t *cl;
    SL_CHECK_OK(sl_client_connect(broker, NULL, &cl));
    uint64_t end = publish_updates(cl, "mp_src.stall", NCHANGED);
    char keys[700], logp[700], m0[64], m1[64];
    snprintf(keys, sizeof keys, "%s/keys", dir);
    FILE *kf = fopen(keys, "w");
    SL_CHECK(kf != NULL);
    fputs("mp_src.stall stall:{id}\n", kf);
    fclose(kf);
    snprintf(logp, sizeof logp, "%s/apply.log", dir);
    snprintf(m0, sizeof m0, "127.0.0.1:%u", port[0]);
    snprintf(m1, sizeof m1, "127.0.0.1:%u", port[1]);
    SL_CHECK(kill(pid1, SIGSTOP) == 0);
    char *argv[] = {(char *)sl_harness_bin("sluice-apply"),
                    "--broker",
                    broker,
                    "--topic",
                    "shop",
                    "--group",
                    "st",
                    "--memcached",
                    m0,
                    "--memcached",
                    m1,
                    "--keys",
                    keys,
                    "--poll",
                    "200ms",
                    NULL};
    int pid = sl_harness_spawn(argv, logp);
    /* The live server's keys go. */
    int left = per[0];
    for (int t = 0; t < 600 && left > 0; t++) {
        left = 0;
        for (int i = 1; i <= NCHANGED; i++) {
            snprintf(key, sizeof key, "stall:%d", i);
            if (home[i] == 0)
                left += mc_has(fd[0], key);
        }
        if (left > 0)
            sl_harness_sleep_ms(100);
    }
    SL_CHECK_INT(left, 0);
    /* Not committed while the stopped server's share is unacknowledged. */
    uint64_t committed = 0;
    int rc = sl_client_committed(cl, "st", "shop", "mp_src.stall", &committed);
    SL_CHECK(rc == SL_ENOTFOUND || (rc == 0 && committed < end));
    SL_CHECK(kill(pid1, SIGCONT) == 0);
    committed = 0;
    for (int t = 0; t < 900 && committed < end; t++) {
        rc = sl_client_committed(cl, "st", "shop", "mp_src.stall", &committed);
        SL_CHECK(rc == 0 || rc == SL_ENOTFOUND);
        if (committed < end)
            sl_harness_sleep_ms(100);
    }
    SL_CHECK_UINT(committed, end);
    int still = 0;
    for (int i = 1; i <= NCHANGED; i++) {
        snprintf(key, sizeof key, "stall:%d", i);
        still += mc_has(fd[home[i]], key);
    }
    SL_CHECK_INT(still, 0);
    int status = sl_harness_stop(pid, SIGTERM, 10000);
    SL_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(fd[0]);
    close(fd[1]);
    memcached_free(app);
    sl_client_close(cl);
}

/* The same server twice is a usage error, not a silent duplicate. */
SL_TEST(apply_memcached_same_server_twice_refused) {
    char keys[600], logp[600];
    snprintf(keys, sizeof keys, "%s/keys2", sl_test_tmpdir());
    FILE *kf = fopen(keys, "w");
    SL_CHECK(kf != NULL);
    fputs("mp_src.users user:{id}\n", kf);
    fclose(kf);
    snprintf(logp, sizeof logp, "%s/apply2.log", sl_test_tmpdir());
    char *argv[] = {(char *)sl_harness_bin("sluice-apply"),
                    "--topic",
                    "shop",
                    "--memcached",
                    "127.0.0.1:1",
                    "--memcached",
                    "127.0.0.1:1",
                    "--keys",
                    keys,
                    NULL};
    int pid = sl_harness_spawn(argv, logp);
    int status = sl_harness_stop(pid, 0, 10000);
    SL_CHECK(WIFEXITED(status));
    SL_CHECK_INT(WEXITSTATUS(status), 2);
}
