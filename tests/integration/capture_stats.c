/*
 * capture's stats endpoint against hostile clients (issue 12, item 16):
 * a client that pipelines `stats` and never reads its answers, idle
 * clients holding connections, an over-long line, and a non-loopback
 * --stats-listen. Found before: one client that pipelined `stats` and never
 * read froze publishing (the listener held the lock capture needs while
 * blocked in send()), and the endpoint served one connection at a time.
 */
#include "capture/stats.h"
#include "client.h"
#include "error.h"
#include "harness.h"
#include "sl_test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#define NROWS 300

typedef struct {
    char dir[512];
    char broker[64];
    int broker_pid;
    char start[200];
} env_t;

static void setup(env_t *env, MYSQL *m) {
    snprintf(env->dir, sizeof env->dir, "%s", sl_test_tmpdir());
    env->broker_pid =
        sl_harness_start_broker(env->dir, env->broker, sizeof env->broker);
    sl_harness_exec(m, "DROP DATABASE IF EXISTS cstats");
    sl_harness_exec(m, "CREATE DATABASE cstats");
    sl_harness_exec(m, "CREATE TABLE cstats.t (id INT PRIMARY KEY, "
                       "v VARCHAR(40))");
    sl_harness_exec(m, "FLUSH BINARY LOGS");
    char file[128];
    uint64_t pos;
    sl_harness_master_status(m, file, sizeof file, &pos);
    snprintf(env->start, sizeof env->start, "%s:%llu", file,
             (unsigned long long)pos);
}

static int start_capture(env_t *env, const char *listen, int allow_remote,
                         const char *log) {
    char path[700];
    snprintf(path, sizeof path, "%s/%s", env->dir, log);
    const char *const flags[] = {"--topic",
                                 "cstats",
                                 "--server-id",
                                 "4301",
                                 "--start",
                                 env->start,
                                 "--include",
                                 "cstats\\..*",
                                 "--heartbeat",
                                 "200ms",
                                 "--checkpoint-interval",
                                 "50ms",
                                 "--report-interval",
                                 "100ms",
                                 "--stats-listen",
                                 listen,
                                 allow_remote ? "--stats-allow-remote" : NULL,
                                 NULL};
    return sl_harness_start_capture(env->broker, flags, path);
}

static int connect_to(uint16_t port, int rcvbuf) {
    return sl_harness_tcp_connect(port, rcvbuf, 10000, 10000);
}

/* Sends one request line and returns the answer up to END or EOF (static;
 * "" when nothing came within the 10 s read timeout). */
static const char *ask(uint16_t port, const char *req) {
    static char reply[65536];
    return sl_harness_tcp_ask(port, req, "END\r\n", 10000, reply, sizeof reply);
}

/* Messages in the broker's partition cstats.t (0 when it has none). */
static uint64_t published(sl_client_t *cl) {
    uint64_t earliest = 0, latest = 0;
    if (sl_client_offsets(cl, "cstats", "cstats.t", &earliest, &latest) != 0)
        return 0;
    return latest;
}

SL_TEST(capture_stats_reader_that_never_reads_cannot_stall_publishing) {
    MYSQL *m = sl_harness_mysql("SOURCE", NULL);
    env_t env;
    setup(&env, m);
    uint16_t port = sl_harness_free_port();
    char listen[64];
    snprintf(listen, sizeof listen, "127.0.0.1:%u", port);
    int cpid = start_capture(&env, listen, 0, "capture.log");
    SL_CHECK_OK(sl_harness_wait_port(port, 30000));
    /* The first STAT text comes with capture's first report. */
    static char first[65536];
    const char *text =
        sl_harness_tcp_poll(port, "stats\r\n", "END\r\n", "STAT rows ", 300,
                            10000, first, sizeof first);
    SL_CHECK(strstr(text, "STAT rows ") != NULL);

    /* The hostile client: a tiny receive window, requests pipelined
     * until the endpoint stops taking them (it closes the client, or,
     * as before the fix, stops reading: the send times out), never a
     * read. Only then are rows written, so they are published while the
     * endpoint is as stuck as this client can make it. */
    int hog = connect_to(port, 4096);
    SL_CHECK(hog >= 0);
    static char burst[7 * 1000];
    for (int i = 0; i < 1000; i++)
        memcpy(burst + 7 * i, "stats\r\n", 7);
    size_t sent = 0;
    for (int i = 0; i < 1000; i++) {
        ssize_t n = send(hog, burst, sizeof burst, MSG_NOSIGNAL);
        if (n <= 0)
            break;
        sent += (size_t)n;
    }
    SL_CHECK(sent > 0);
    SL_CHECK(sent < sizeof burst * 1000); /* It did stop taking them. */

    /* Idle clients hold connections without asking anything. */
    int idle[8];
    for (int i = 0; i < 8; i++)
        SL_CHECK((idle[i] = connect_to(port, 0)) >= 0);

    /* Rows written now reach the broker while the hog sits there. */
    char sql[200];
    for (int i = 1; i <= NROWS; i++) {
        snprintf(sql, sizeof sql, "INSERT INTO cstats.t VALUES (%d, 'v%d')", i,
                 i);
        sl_harness_exec(m, sql);
    }
    sl_client_t *cl;
    SL_CHECK_OK(sl_client_connect(env.broker, NULL, &cl));
    /* NROWS row events and NROWS commit markers. */
    uint64_t n = 0;
    for (int i = 0; i < 600 && n < 2 * NROWS; i++) {
        n = published(cl);
        if (n < 2 * NROWS)
            sl_harness_sleep_ms(100);
    }
    SL_CHECK_UINT(n, 2 * NROWS);

    /* Another client is answered, with counts that moved on. */
    char want[64];
    snprintf(want, sizeof want, "STAT rows %d\r\n", NROWS);
    for (int i = 0; i < 300; i++) {
        text = ask(port, "stats\r\n");
        if (strstr(text, want) != NULL)
            break;
        SL_CHECK(strstr(text, "END\r\n") != NULL); /* Answered at all. */
        sl_harness_sleep_ms(100);
    }
    SL_CHECK(strstr(text, want) != NULL);

    /* The hog was cut off: reading now ends in EOF or a reset long before
     * 50,000 answers. */
    static char sink[1 << 16];
    size_t ends = 0, total = 0;
    ssize_t r;
    char tail[5] = {0};
    while ((r = read(hog, sink, sizeof sink)) > 0) {
        for (ssize_t k = 0; k < r; k++) {
            memmove(tail, tail + 1, 4);
            tail[4] = sink[k];
            ends += memcmp(tail, "END\r\n", 5) == 0;
        }
        total += (size_t)r;
    }
    SL_CHECK(r == 0 || errno == ECONNRESET);
    SL_CHECK(ends < sent / 7);
    printf("# hog: %zu requests sent, %zu answers read (%zu bytes) before "
           "the endpoint closed it\n",
           sent / 7, ends, total);
    close(hog);

    /* At the client limit a further connection is told so and closed;
     * once clients leave, requests are answered again. */
    int more[SL_CAPSTATS_MAX_CLIENTS];
    for (int i = 0; i < SL_CAPSTATS_MAX_CLIENTS - 8; i++)
        SL_CHECK((more[i] = connect_to(port, 0)) >= 0);
    /* The endpoint accepts them in its own time: ask until it is full. */
    for (int i = 0; i < 100; i++) {
        text = ask(port, "stats\r\n");
        if (strcmp(text, "ERROR too many clients\r\n") == 0)
            break;
        sl_harness_sleep_ms(100);
    }
    SL_CHECK_STR(text, "ERROR too many clients\r\n");
    for (int i = 0; i < SL_CAPSTATS_MAX_CLIENTS - 8; i++)
        close(more[i]);
    for (int i = 0; i < 8; i++)
        close(idle[i]);
    for (int i = 0; i < 100; i++) {
        text = ask(port, "stats\r\n");
        if (strstr(text, want) != NULL)
            break;
        sl_harness_sleep_ms(100);
    }
    SL_CHECK(strstr(text, want) != NULL);

    /* A client that half-closes after its request (`printf stats | nc -N`)
     * still gets the answer, then EOF. */
    int hc = connect_to(port, 0);
    SL_CHECK(hc >= 0);
    SL_CHECK(write(hc, "stats\r\nquit\r\n", 13) == 13);
    SL_CHECK(shutdown(hc, SHUT_WR) == 0);
    static char half[65536];
    size_t got = 0;
    while (got + 1 < sizeof half &&
           (r = read(hc, half + got, sizeof half - 1 - got)) > 0)
        got += (size_t)r;
    half[got] = '\0';
    SL_CHECK(r == 0);
    SL_CHECK(strstr(half, want) != NULL);
    SL_CHECK(got >= 5 && strcmp(half + got - 5, "END\r\n") == 0);
    close(hc);

    /* A line over the bound is refused and the connection closed; an
     * unknown command gets ERROR and the connection stays. */
    char longline[400];
    memset(longline, 'x', sizeof longline - 1);
    longline[sizeof longline - 1] = '\0';
    SL_CHECK_STR(ask(port, longline), "ERROR line too long\r\n");
    SL_CHECK(strncmp(ask(port, "nope\r\nstats\r\n"), "ERROR\r\nSTAT ", 11) ==
             0);

    int st = sl_harness_stop(cpid, SIGTERM, 20000);
    SL_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    sl_client_close(cl);
    sl_harness_stop(env.broker_pid, SIGTERM, 20000);
    mysql_close(m);
}

SL_TEST(capture_stats_binds_loopback_unless_allowed) {
    MYSQL *m = sl_harness_mysql("SOURCE", NULL);
    env_t env;
    setup(&env, m);
    uint16_t port = sl_harness_free_port();
    char listen[64];
    snprintf(listen, sizeof listen, "0.0.0.0:%u", port);
    int cpid = start_capture(&env, listen, 0, "refused.log");
    int st = sl_harness_stop(cpid, 0, 30000); /* Waits for it to exit. */
    SL_CHECK(WIFEXITED(st) && WEXITSTATUS(st) != 0);
    char cmd[800];
    snprintf(cmd, sizeof cmd,
             "grep -q -- '--stats-allow-remote' %s/refused.log", env.dir);
    SL_CHECK_INT(system(cmd), 0);

    /* Explicitly allowed, it serves (reached here over loopback). */
    cpid = start_capture(&env, listen, 1, "allowed.log");
    SL_CHECK_OK(sl_harness_wait_port(port, 30000));
    /* The first STAT text comes with capture's first report. */
    static char first[65536];
    const char *text =
        sl_harness_tcp_poll(port, "stats\r\n", "END\r\n", "STAT rows ", 300,
                            10000, first, sizeof first);
    SL_CHECK(strstr(text, "STAT rows ") != NULL);
    st = sl_harness_stop(cpid, SIGTERM, 20000);
    SL_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    sl_harness_stop(env.broker_pid, SIGTERM, 20000);
    mysql_close(m);
}
