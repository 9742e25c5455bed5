/*
 * Integration tests of sluice-broker over TCP: the real bin/sluice-broker is
 * started on a free port with a temporary data directory, and driven with
 * lib/client and raw sockets (put, get, offsets, commit, long poll,
 * idempotent put, retention, auth, bad input, the sluice CLI).
 */
#include "client.h"
#include "error.h"
#include "harness.h"
#include "sl_test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef sl_harness_broker_t broker_t;

/* A raw connection for bad input. */
static int raw_connect(uint16_t port) {
    int fd = sl_harness_tcp_connect(port, 0, 5000, 0);
    SL_CHECK(fd >= 0);
    return fd;
}

/* Sends req and reads until the peer closes or `lines` lines arrived. */
static void raw_exchange(int fd, const void *req, size_t len, int lines,
                         char *out, size_t outlen) {
    if (len)
        SL_CHECK(send(fd, req, len, MSG_NOSIGNAL) == (ssize_t)len);
    size_t got = 0;
    int seen = 0;
    while (got + 1 < outlen && seen < lines) {
        ssize_t r = recv(fd, out + got, outlen - 1 - got, 0);
        if (r <= 0)
            break;
        for (ssize_t i = 0; i < r; i++)
            if (out[got + (size_t)i] == '\n')
                seen++;
        got += (size_t)r;
    }
    out[got] = '\0';
}

static int raw_closed(int fd) {
    char c;
    ssize_t r = recv(fd, &c, 1, 0);
    return r == 0;
}

SL_TEST(broker_put_get_offsets_commit) {
    broker_t b = {0};
    sl_harness_broker_start(&b, NULL, 10000);
    sl_client_t *cl = sl_harness_broker_client(&b, NULL);
    char ver[64];
    SL_CHECK_OK(sl_client_version(cl, ver, sizeof ver));
    SL_CHECK(strncmp(ver, "sluice-broker ", 14) == 0);
    uint64_t off;
    int dup;
    for (int i = 0; i < 100; i++) {
        char m[32];
        snprintf(m, sizeof m, "msg-%d", i);
        SL_CHECK_OK(sl_client_put(cl, "shop", "shop.users", m, strlen(m), -1, 0,
                                  &off, &dup));
        SL_CHECK_UINT(off, (uint64_t)i);
        SL_CHECK(!dup);
    }
    sl_client_msg_t batch[3] = {{"a", 1}, {"", 0}, {"ccc", 3}};
    SL_CHECK_OK(sl_client_put_batch(cl, "shop", "shop.orders", batch, 3, -1, 0,
                                    &off, &dup));
    SL_CHECK_UINT(off, 0);
    /* A binary payload with CR, LF and NUL goes through untouched. */
    const char bin[] = {'x', '\r', '\n', 0, 'y'};
    SL_CHECK_OK(sl_client_put(cl, "shop", "shop.orders", bin, sizeof bin, -1, 0,
                              &off, &dup));
    SL_CHECK_UINT(off, 3);
    sl_client_fetch_t f;
    SL_CHECK_OK(sl_client_get(cl, "shop", "shop.users", 10, 1 << 20, 0, &f));
    SL_CHECK_UINT(f.count, 90);
    SL_CHECK_UINT(f.next, 100);
    SL_CHECK_UINT(f.recs[0].offset, 10);
    SL_CHECK_MEM(f.recs[0].data, f.recs[0].len, "msg-10", 6);
    SL_CHECK_MEM(f.recs[89].data, f.recs[89].len, "msg-99", 6);
    SL_CHECK_OK(sl_client_get(cl, "shop", "shop.orders", 0, 1 << 20, 0, &f));
    SL_CHECK_UINT(f.count, 4);
    SL_CHECK_UINT(f.recs[1].len, 0);
    SL_CHECK_MEM(f.recs[3].data, f.recs[3].len, bin, sizeof bin);
    SL_CHECK_UINT(f.latest, 4);
    /* A small max_bytes still returns at least one record; the reply says
     * where the partition ends. */
    SL_CHECK_OK(sl_client_get(cl, "shop", "shop.users", 0, 1, 0, &f));
    SL_CHECK_UINT(f.count, 1);
    SL_CHECK_UINT(f.next, 1);
    SL_CHECK_UINT(f.latest, 100);
    /* The same get in two halves; nothing else may come in between. */
    SL_CHECK_OK(sl_client_get_send(cl, "shop", "shop.users", 50, 1 << 20));
    SL_CHECK_INT(sl_client_get_send(cl, "shop", "shop.users", 60, 20),
                 SL_EINVAL);
    SL_CHECK_INT(sl_client_offsets(cl, "shop", "shop.users", &off, &off),
                 SL_EINVAL);
    SL_CHECK_OK(sl_client_get_recv(cl, &f));
    SL_CHECK_UINT(f.count, 50);
    SL_CHECK_UINT(f.recs[0].offset, 50);
    SL_CHECK_MEM(f.recs[49].data, f.recs[49].len, "msg-99", 6);
    SL_CHECK_UINT(f.next, 100);
    SL_CHECK_UINT(f.latest, 100);
    SL_CHECK_INT(sl_client_get_recv(cl, &f), SL_EINVAL);
    SL_CHECK_OK(sl_client_get_send(cl, "shop", "shop.users", 101, 20));
    SL_CHECK_INT(sl_client_get_recv(cl, &f), SL_ERANGE);
    SL_CHECK_UINT(f.latest, 100);
    /* At the end: nothing, no error; beyond it: SL_ERANGE. */
    SL_CHECK_OK(sl_client_get(cl, "shop", "shop.users", 100, 1000, 0, &f));
    SL_CHECK_UINT(f.count, 0);
    SL_CHECK_INT(sl_client_get(cl, "shop", "shop.users", 101, 1000, 0, &f),
                 SL_ERANGE);
    SL_CHECK_INT(sl_client_get(cl, "shop", "nope", 0, 1000, 0, &f),
                 SL_ENOTFOUND);
    uint64_t a, z;
    SL_CHECK_OK(sl_client_offsets(cl, "shop", "shop.users", &a, &z));
    SL_CHECK_UINT(a, 0);
    SL_CHECK_UINT(z, 100);
    SL_CHECK_OK(sl_client_offset_for_time(cl, "shop", "shop.users", 0, &off));
    SL_CHECK_UINT(off, 0);
    SL_CHECK_OK(sl_client_offset_for_time(cl, "shop", "shop.users",
                                          (int64_t)4e12, &off));
    SL_CHECK_UINT(off, 100);
    SL_CHECK_INT(sl_client_committed(cl, "apply", "shop", "shop.users", &off),
                 SL_ENOTFOUND);
    SL_CHECK_OK(sl_client_commit(cl, "apply", "shop", "shop.users", 42));
    SL_CHECK_OK(sl_client_committed(cl, "apply", "shop", "shop.users", &off));
    SL_CHECK_UINT(off, 42);
    sl_buf_t parts = SL_BUF_INIT;
    SL_CHECK_OK(sl_client_partitions(cl, "shop", &parts));
    sl_buf_append_u8(&parts, 0);
    SL_CHECK(strstr((char *)parts.data, "shop shop.users 0 100\n") != NULL);
    SL_CHECK(strstr((char *)parts.data, "shop shop.orders 0 4\n") != NULL);
    sl_buf_free(&parts);
    sl_client_close(cl);

    /* Everything survives kill -9 (acks came after fsync). */
    sl_harness_broker_stop(&b, SIGKILL, 10000);
    sl_harness_broker_start(&b, NULL, 10000);
    cl = sl_harness_broker_client(&b, NULL);
    SL_CHECK_OK(sl_client_offsets(cl, "shop", "shop.users", &a, &z));
    SL_CHECK_UINT(z, 100);
    SL_CHECK_OK(sl_client_committed(cl, "apply", "shop", "shop.users", &off));
    SL_CHECK_UINT(off, 42);
    SL_CHECK_OK(sl_client_get(cl, "shop", "shop.users", 99, 1 << 20, 0, &f));
    SL_CHECK_UINT(f.count, 1);
    SL_CHECK_MEM(f.recs[0].data, f.recs[0].len, "msg-99", 6);
    SL_CHECK_OK(
        sl_client_put(cl, "shop", "shop.users", "new", 3, -1, 0, &off, &dup));
    SL_CHECK_UINT(off, 100);
    sl_client_close(cl);
    sl_harness_broker_stop(&b, SIGTERM, 10000);
}

SL_TEST(broker_pipelined_puts) {
    broker_t b = {0};
    sl_harness_broker_start(&b, NULL, 10000);
    sl_client_t *cl = sl_harness_broker_client(&b, NULL);
    uint64_t ids[5000];
    for (int i = 0; i < 5000; i++) {
        char m[32];
        snprintf(m, sizeof m, "p%d", i);
        sl_client_msg_t msg = {m, strlen(m)};
        SL_CHECK_OK(sl_client_put_send(cl, "t", i % 2 ? "odd" : "even", &msg, 1,
                                       -1, 0, &ids[i]));
    }
    SL_CHECK_UINT(sl_client_inflight(cl), 5000);
    for (int i = 0; i < 5000; i++) {
        sl_client_ack_t ack;
        SL_CHECK_OK(sl_client_put_ack(cl, &ack));
        SL_CHECK_UINT(ack.reqid, ids[i]);
        SL_CHECK_UINT(ack.offset, (uint64_t)(i / 2));
    }
    SL_CHECK_UINT(sl_harness_broker_stat(cl, "puts"), 5000);
    SL_CHECK(sl_harness_broker_stat(cl, "fsyncs") >= 1);
    sl_client_close(cl);
    sl_harness_broker_stop(&b, SIGTERM, 10000);
}

SL_TEST(broker_idempotent_put_survives_kill) {
    broker_t b = {0};
    sl_harness_broker_start(&b, NULL, 10000);
    sl_client_t *cl = sl_harness_broker_client(&b, NULL);
    uint64_t off;
    int dup;
    sl_client_msg_t two[2] = {{"r1", 2}, {"r2", 2}};
    SL_CHECK_OK(
        sl_client_put_batch(cl, "db", "db.t", two, 2, 1001, 500, &off, &dup));
    SL_CHECK_UINT(off, 0);
    SL_CHECK(!dup);
    SL_CHECK_OK(
        sl_client_put(cl, "db", "db.t", "r3", 2, 1001, 502, &off, &dup));
    SL_CHECK_UINT(off, 2);
    /* A retry of the last batch is not stored again. */
    SL_CHECK_OK(
        sl_client_put(cl, "db", "db.t", "r3", 2, 1001, 502, &off, &dup));
    SL_CHECK(dup);
    SL_CHECK_UINT(off, 2);
    /* Another producer has its own sequence space. */
    SL_CHECK_OK(sl_client_put(cl, "db", "db.t", "x", 1, 2002, 1, &off, &dup));
    SL_CHECK(!dup);
    SL_CHECK_UINT(off, 3);
    sl_client_close(cl);
    sl_harness_broker_stop(&b, SIGKILL, 10000);
    sl_harness_broker_start(&b, NULL, 10000);
    cl = sl_harness_broker_client(&b, NULL);
    SL_CHECK_OK(
        sl_client_put(cl, "db", "db.t", "r3", 2, 1001, 502, &off, &dup));
    SL_CHECK(dup);
    SL_CHECK_UINT(off, 2);
    SL_CHECK_OK(
        sl_client_put(cl, "db", "db.t", "r1", 2, 1001, 500, &off, &dup));
    SL_CHECK(dup);
    SL_CHECK_OK(
        sl_client_put(cl, "db", "db.t", "r4", 2, 1001, 503, &off, &dup));
    SL_CHECK(!dup);
    SL_CHECK_UINT(off, 4);
    sl_client_fetch_t f;
    SL_CHECK_OK(sl_client_get(cl, "db", "db.t", 0, 1 << 20, 0, &f));
    SL_CHECK_UINT(f.count, 5);
    SL_CHECK_MEM(f.recs[2].data, f.recs[2].len, "r3", 2);
    SL_CHECK_MEM(f.recs[4].data, f.recs[4].len, "r4", 2);
    SL_CHECK_UINT(sl_harness_broker_stat(cl, "dup_batches"), 2);
    /* Sequences 503..504: half old, half new: refused with a 409. */
    sl_client_msg_t overlap[2] = {{"r4", 2}, {"r5", 2}};
    SL_CHECK_INT(sl_client_put_batch(cl, "db", "db.t", overlap, 2, 1001, 503,
                                     &off, &dup),
                 SL_EEXIST);
    SL_CHECK(strstr(sl_client_error(cl), "409") != NULL);
    SL_CHECK_OK(
        sl_client_put(cl, "db", "db.t", "r5", 2, 1001, 504, &off, &dup));
    SL_CHECK(!dup);
    SL_CHECK_UINT(off, 5);
    sl_client_close(cl);
    sl_harness_broker_stop(&b, SIGTERM, 10000);
}

typedef struct {
    const broker_t *b;
    int err;
    size_t count;
    char first[32];
} poll_ctx_t;

static void *long_poll_thread(void *arg) {
    poll_ctx_t *ctx = arg;
    sl_client_opts_t o = {NULL, 5000, 10000, 5000};
    sl_client_t *cl;
    ctx->err = sl_client_connect(ctx->b->addr, &o, &cl);
    if (ctx->err != 0)
        return NULL;
    sl_client_fetch_t f;
    ctx->err = sl_client_get(cl, "t", "lp", 1, 1 << 20, 20000, &f);
    ctx->count = f.count;
    if (f.count > 0)
        snprintf(ctx->first, sizeof ctx->first, "%.*s", (int)f.recs[0].len,
                 (const char *)f.recs[0].data);
    sl_client_close(cl);
    return NULL;
}

SL_TEST(broker_long_poll) {
    broker_t b = {0};
    sl_harness_broker_start(&b, NULL, 10000);
    sl_client_t *cl = sl_harness_broker_client(&b, NULL);
    uint64_t off;
    int dup;
    SL_CHECK_OK(sl_client_put(cl, "t", "lp", "zero", 4, -1, 0, &off, &dup));
    poll_ctx_t ctx = {&b, -1, 0, ""};
    pthread_t th;
    SL_CHECK_OK(pthread_create(&th, NULL, long_poll_thread, &ctx));
    /* Wait until the broker holds the poll, then put. */
    for (int i = 0; i < 500 && sl_harness_broker_stat(cl, "long_polls") == 0;
         i++)
        sl_harness_sleep_ms(10);
    SL_CHECK_UINT(sl_harness_broker_stat(cl, "long_polls"), 1);
    SL_CHECK_OK(sl_client_put(cl, "t", "lp", "one", 3, -1, 0, &off, &dup));
    pthread_join(th, NULL);
    SL_CHECK_OK(ctx.err);
    SL_CHECK_UINT(ctx.count, 1);
    SL_CHECK_STR(ctx.first, "one");
    /* A poll that times out returns an empty result. */
    sl_client_fetch_t f;
    SL_CHECK_OK(sl_client_get(cl, "t", "lp", 2, 1000, 200, &f));
    SL_CHECK_UINT(f.count, 0);
    SL_CHECK_UINT(f.next, 2);
    sl_client_close(cl);
    sl_harness_broker_stop(&b, SIGTERM, 10000);
}

SL_TEST(broker_retention_by_size) {
    broker_t b = {0};
    const char *flags[] = {"--segment-size",
                           "1MiB",
                           "--retention-bytes",
                           "2MiB",
                           "--checkpoint-interval",
                           "200ms",
                           "--fsync",
                           "never",
                           NULL};
    sl_harness_broker_start(&b, flags, 10000);
    sl_client_t *cl = sl_harness_broker_client(&b, NULL);
    static char big[64 * 1024];
    memset(big, 'r', sizeof big);
    uint64_t off;
    int dup;
    for (int i = 0; i < 100; i++) {
        snprintf(big, 16, "%08d", i);
        SL_CHECK_OK(
            sl_client_put(cl, "t", "ret", big, sizeof big, -1, 0, &off, &dup));
    }
    /* Retention runs on a timer after a checkpoint covers old segments. */
    for (int i = 0;
         i < 300 && sl_harness_broker_stat(cl, "segments_deleted") == 0; i++)
        sl_harness_sleep_ms(20);
    SL_CHECK(sl_harness_broker_stat(cl, "segments_deleted") > 0);
    SL_CHECK(sl_harness_broker_stat(cl, "disk_used") <= (3u << 20));
    sl_client_fetch_t f;
    SL_CHECK_INT(sl_client_get(cl, "t", "ret", 0, 1000, 0, &f), SL_EGONE);
    SL_CHECK(f.earliest > 0);
    SL_CHECK_UINT(f.latest, 100);
    uint64_t earliest = f.earliest;
    SL_CHECK_OK(sl_client_get(cl, "t", "ret", earliest, 1, 0, &f));
    SL_CHECK_UINT(f.count, 1);
    char want[32];
    snprintf(want, sizeof want, "%08llu", (unsigned long long)earliest);
    SL_CHECK_MEM(f.recs[0].data, 8, want, 8);
    sl_client_close(cl);
    sl_harness_broker_stop(&b, SIGTERM, 10000);
}

SL_TEST(broker_auth) {
    broker_t b = {0};
    char path[700];
    snprintf(path, sizeof path, "%s/secret", sl_test_tmpdir());
    FILE *fp = fopen(path, "w");
    SL_CHECK(fp != NULL);
    fputs("s3cret-value\n", fp);
    fclose(fp);
    const char *flags[] = {"--auth-file", path, NULL};
    sl_harness_broker_start(&b, flags, 10000);
    /* Without the secret every command is refused. */
    sl_client_t *cl = sl_harness_broker_client(&b, NULL);
    char ver[64];
    SL_CHECK_INT(sl_client_version(cl, ver, sizeof ver), SL_EAUTH);
    sl_client_close(cl);
    /* A wrong secret fails the connection. */
    sl_client_opts_t o = {"wrong", 5000, 5000, -1};
    SL_CHECK_INT(sl_client_connect(b.addr, &o, &cl), SL_EAUTH);
    sl_client_opts_t with_secret = {"s3cret-value", 5000, 10000, 5000};
    cl = sl_harness_broker_client(&b, &with_secret);
    SL_CHECK_OK(sl_client_version(cl, ver, sizeof ver));
    uint64_t off;
    int dup;
    SL_CHECK_OK(sl_client_put(cl, "t", "p", "x", 1, -1, 0, &off, &dup));
    SL_CHECK(sl_harness_broker_stat(cl, "err_auth") >= 2);
    sl_client_close(cl);
    sl_harness_broker_stop(&b, SIGTERM, 10000);
    /* The secret is never in the broker's log. */
    fp = fopen(b.log, "r");
    SL_CHECK(fp != NULL);
    char line[1024];
    while (fgets(line, sizeof line, fp))
        SL_CHECK(strstr(line, "s3cret") == NULL);
    fclose(fp);
}

SL_TEST(broker_bad_input) {
    broker_t b = {0};
    const char *flags[] = {"--max-message",
                           "1KiB",
                           "--max-connections",
                           "40",
                           "--idle-timeout",
                           "1s",
                           NULL};
    sl_harness_broker_start(&b, flags, 10000);
    char out[4096];
    int fd = raw_connect(b.port);
    /* Non-fatal errors: the connection goes on. */
    const char *req = "bogus 1\r\nget 2 t p abc\r\nversion\r\n"
                      "put 3 t p 3 crc=7\r\nabc\r\nversion 4\r\n";
    raw_exchange(fd, req, strlen(req), 5, out, sizeof out);
    SL_CHECK(strstr(out, "400 1 unknown command\r\n") != NULL);
    SL_CHECK(strstr(out, "400 2 bad offset\r\n") != NULL);
    SL_CHECK(strstr(out, "400 - missing or bad request id\r\n") != NULL);
    SL_CHECK(strstr(out, "400 3 crc mismatch\r\n") != NULL);
    SL_CHECK(strstr(out, "200 4 sluice-broker") != NULL);
    close(fd);
    /* Fatal ones: an error reply, then a clean close. */
    const char *fatal[] = {"put 1 t p -5\r\n", "put 1 t p 5000\r\n",
                           "put 1 t p 3\r\nabcdef\r\n", "mput 1 t p 0\r\n"};
    const char *codes[] = {"400 1 ", "413 1 ", "400 1 ", "400 1 "};
    for (int i = 0; i < 4; i++) {
        fd = raw_connect(b.port);
        raw_exchange(fd, fatal[i], strlen(fatal[i]), 1, out, sizeof out);
        if (strncmp(out, codes[i], strlen(codes[i])) != 0)
            sl_test_fail(__FILE__, __LINE__, "%s -> %s", fatal[i], out);
        SL_CHECK(raw_closed(fd));
        close(fd);
    }
    /* A line longer than the limit. */
    fd = raw_connect(b.port);
    static char longline[10000];
    memset(longline, 'a', sizeof longline);
    raw_exchange(fd, longline, sizeof longline, 1, out, sizeof out);
    SL_CHECK(strncmp(out, "400 - line too long", 19) == 0);
    close(fd);
    /* A connection that stops mid-payload, and random binary garbage. */
    fd = raw_connect(b.port);
    const char *partial = "put 9 t p 100\r\nonly-part";
    SL_CHECK(send(fd, partial, strlen(partial), 0) > 0);
    close(fd);
    srand(7);
    for (int round = 0; round < 20; round++) {
        char junk[512];
        for (size_t i = 0; i < sizeof junk; i++)
            junk[i] = (char)(rand() & 0xFF);
        fd = raw_connect(b.port);
        send(fd, junk, sizeof junk, MSG_NOSIGNAL);
        close(fd);
    }
    /* A flood of idle connections: past the limit new ones get a 503;
     * idle ones are closed after the idle timeout. */
    int idle[45];
    for (int i = 0; i < 45; i++)
        idle[i] = raw_connect(b.port);
    int rejected = 0;
    for (int i = 0; i < 45; i++) {
        struct timeval tv = {0, 200000};
        setsockopt(idle[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        char buf[64];
        ssize_t r = recv(idle[i], buf, sizeof buf - 1, 0);
        if (r > 0) {
            buf[r] = '\0';
            if (strncmp(buf, "503 - too many connections", 26) == 0)
                rejected++;
        }
    }
    SL_CHECK(rejected >= 1);
    for (int i = 0; i < 45; i++) {
        struct timeval tv = {5, 0};
        setsockopt(idle[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    }
    int closed = 0;
    for (int i = 0; i < 45; i++)
        closed += raw_closed(idle[i]);
    SL_CHECK_INT(closed, 45);
    for (int i = 0; i < 45; i++)
        close(idle[i]);
    /* The broker still serves, and counted everything. */
    sl_client_t *cl = sl_harness_broker_client(&b, NULL);
    uint64_t off;
    int dup;
    SL_CHECK_OK(sl_client_put(cl, "t", "p", "ok", 2, -1, 0, &off, &dup));
    SL_CHECK(sl_harness_broker_stat(cl, "err_unknown_command") >= 1);
    SL_CHECK(sl_harness_broker_stat(cl, "err_too_large") >= 1);
    SL_CHECK(sl_harness_broker_stat(cl, "err_crc_mismatch") >= 1);
    SL_CHECK(sl_harness_broker_stat(cl, "err_protocol") >= 4);
    SL_CHECK(sl_harness_broker_stat(cl, "err_truncated_request") >= 1);
    SL_CHECK(sl_harness_broker_stat(cl, "rejected_connections") >= 1);
    SL_CHECK(sl_harness_broker_stat(cl, "idle_closed") >= 1);
    sl_client_close(cl);
    sl_harness_broker_stop(&b, SIGTERM, 10000);
}

SL_TEST(broker_cli) {
    broker_t b = {0};
    sl_harness_broker_start(&b, NULL, 10000);
    char cmd[2048];
    const char *cli = sl_harness_bin("sluice");
    snprintf(cmd, sizeof cmd,
             "printf 'one\\ntwo\\nthree\\n' | %s --broker %s put shop shop.t "
             "2>/dev/null",
             cli, b.addr);
    SL_CHECK_INT(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "SLUICE_BROKER=%s %s tail shop shop.t --from 1",
             b.addr, cli);
    FILE *p = popen(cmd, "r");
    SL_CHECK(p != NULL);
    char out[256] = "";
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    SL_CHECK_INT(pclose(p), 0);
    SL_CHECK_STR(out, "two\nthree\n");
    snprintf(cmd, sizeof cmd, "%s --broker %s offsets shop shop.t --group g",
             cli, b.addr);
    p = popen(cmd, "r");
    n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    SL_CHECK_INT(pclose(p), 0);
    SL_CHECK_STR(out, "earliest 0\nlatest 3\ncommitted none\n");
    snprintf(cmd, sizeof cmd, "%s --broker %s partitions", cli, b.addr);
    p = popen(cmd, "r");
    n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    SL_CHECK_INT(pclose(p), 0);
    SL_CHECK_STR(out, "shop shop.t 0 3\n");
    snprintf(cmd, sizeof cmd, "%s --broker %s frobnicate 2>/dev/null", cli,
             b.addr);
    int rc = system(cmd);
    SL_CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 2);
    sl_harness_broker_stop(&b, SIGTERM, 10000);
}

SL_TEST(broker_fsync_modes_and_config_file) {
    /* fsync = interval and never ack after write(2); a kill -9 of the
     * process loses nothing acked (the page cache has it). The mode comes
     * from a config file here, to test that path too. With nothing in
     * flight at the kill, recovery must not skip offsets either: the
     * partition ends exactly at 2000. (It used to end at 4101 now and
     * then: the kill came before the first, asynchronous checkpoint of
     * the new data directory was written - its syncfs can take seconds on
     * a busy machine - and a missing checkpoint counts as a lost one, so
     * recovery skipped to the high-water mark. A new data directory now
     * gets its checkpoint before the broker listens, asserted below.) */
    const char *modes[] = {"interval 50ms", "never", "always"};
    for (int m = 0; m < 3; m++) {
        broker_t b = {0};
        snprintf(b.data, sizeof b.data, "%s/data%d", sl_test_tmpdir(), m);
        snprintf(b.log, sizeof b.log, "%s/broker%d.log", sl_test_tmpdir(), m);
        char conf[700];
        snprintf(conf, sizeof conf, "%s/broker%d.conf", sl_test_tmpdir(), m);
        FILE *fp = fopen(conf, "w");
        SL_CHECK(fp != NULL);
        fprintf(fp, "# test\nfsync = %s\ncheckpoint-interval = 100ms\n",
                modes[m]);
        fclose(fp);
        const char *flags[] = {"--config", conf, NULL};
        sl_harness_broker_start(&b, flags, 10000);
        char ckpt[700];
        snprintf(ckpt, sizeof ckpt, "%s/checkpoint", b.data);
        SL_CHECK(access(ckpt, F_OK) == 0);
        sl_client_t *cl = sl_harness_broker_client(&b, NULL);
        for (int i = 0; i < 2000; i++) {
            char msg[32];
            snprintf(msg, sizeof msg, "m%d", i);
            sl_client_msg_t one = {msg, strlen(msg)};
            SL_CHECK_OK(sl_client_put_send(cl, "t", "p", &one, 1, -1, 0, NULL));
        }
        for (int i = 0; i < 2000; i++) {
            sl_client_ack_t ack;
            SL_CHECK_OK(sl_client_put_ack(cl, &ack));
            SL_CHECK_UINT(ack.offset, (uint64_t)i);
        }
        sl_client_close(cl);
        sl_harness_broker_stop(&b, SIGKILL, 10000);
        sl_harness_broker_start(&b, flags, 10000);
        cl = sl_harness_broker_client(&b, NULL);
        uint64_t a, z;
        SL_CHECK_OK(sl_client_offsets(cl, "t", "p", &a, &z));
        SL_CHECK_UINT(z, 2000);
        sl_client_fetch_t f;
        SL_CHECK_OK(sl_client_get(cl, "t", "p", 1999, 1 << 20, 0, &f));
        SL_CHECK_UINT(f.count, 1);
        SL_CHECK_MEM(f.recs[0].data, f.recs[0].len, "m1999", 5);
        sl_client_close(cl);
        sl_harness_broker_stop(&b, SIGTERM, 10000);
    }
    /* A bad fsync value and an unknown key are usage errors (exit 2). */
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s --fsync sometimes --data %s/x 2>/dev/null",
             sl_harness_bin("sluice-broker"), sl_test_tmpdir());
    int rc = system(cmd);
    SL_CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 2);
    snprintf(cmd, sizeof cmd, "%s --no-such-key 1 2>/dev/null",
             sl_harness_bin("sluice-broker"));
    rc = system(cmd);
    SL_CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 2);
    snprintf(cmd, sizeof cmd, "%s --listen 0.0.0.0:1 2>/dev/null",
             sl_harness_bin("sluice-broker"));
    rc = system(cmd);
    SL_CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 2);
}

/* A fake broker for one connection: answers the first request line with
 * reply (its "%s" replaced by the request id), then closes. */
typedef struct {
    int lfd;
    const char *reply;
} fake_broker_t;

static void *fake_broker_main(void *arg) {
    fake_broker_t *fb = arg;
    int fd = accept(fb->lfd, NULL, NULL);
    if (fd < 0)
        return NULL;
    char line[512];
    size_t n = 0;
    while (n + 1 < sizeof line && read(fd, line + n, 1) == 1 && line[n] != '\n')
        n++;
    line[n] = '\0';
    char id[32] = "0";
    sscanf(line, "%*s %31s", id);
    char out[1024];
    int len = snprintf(out, sizeof out, fb->reply, id);
    if (write(fd, out, (size_t)len) != len)
        perror("fake broker write");
    close(fd);
    return NULL;
}

/* The get sent ahead and received later (the consumer's read-ahead) meets
 * a broker that answers garbage: each case is a clear error (or, for an
 * unreadable partition end, "unknown"), never a crash or a short record
 * taken as whole. */
SL_TEST(broker_client_get_recv_bad_replies) {
    static const struct {
        const char *reply;
        int rc;
    } cases[] = {
        {"200 %s zz\r\n", SL_EPROTO},
        {"200 %s 1 5 5\r\n0 1 x3\r\nabc\r\n", SL_EPROTO},
        {"200 %s 1 5 5\r\n0 1 3\r\nabcX\n", SL_EPROTO},
        {"200 %s 2 5 5\r\n0 1 3\r\nabc\r\n1 1 3\r\nab", SL_ECLOSED},
        {"200 %s 1 5 5\r\n0 1 9999999999999999\r\nabc", SL_EPROTO},
        {"200 %s 1 5 5\r\n0 1 1073741825\r\nabc", SL_EPROTO},
        {"200 999 1 5 5\r\n0 1 3\r\nabc\r\n%s", SL_EPROTO},
        {"200 %s 1 5 junk\r\n0 1 3\r\nabc\r\n", 0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int lfd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET};
        inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
        SL_CHECK(bind(lfd, (struct sockaddr *)&sa, sizeof sa) == 0);
        SL_CHECK(listen(lfd, 1) == 0);
        socklen_t sl = sizeof sa;
        SL_CHECK(getsockname(lfd, (struct sockaddr *)&sa, &sl) == 0);
        fake_broker_t fb = {lfd, cases[k].reply};
        pthread_t th;
        SL_CHECK(pthread_create(&th, NULL, fake_broker_main, &fb) == 0);
        char addr[64];
        snprintf(addr, sizeof addr, "127.0.0.1:%u", ntohs(sa.sin_port));
        sl_client_opts_t o = {.io_timeout_ms = 5000, .retry_ms = -1};
        sl_client_t *cl;
        SL_CHECK_OK(sl_client_connect(addr, &o, &cl));
        SL_CHECK_OK(sl_client_get_send(cl, "t", "p", 0, 1 << 20));
        sl_client_fetch_t f;
        int rc = sl_client_get_recv(cl, &f);
        if (rc != cases[k].rc)
            sl_test_fail(__FILE__, __LINE__, "case %zu: %s, expected %s", k,
                         sl_errname(rc), sl_errname(cases[k].rc));
        if (rc == 0) {
            SL_CHECK_UINT(f.count, 1);
            SL_CHECK_UINT(f.next, 5);
            SL_CHECK_UINT(f.latest, 0); /* Unreadable: unknown. */
            SL_CHECK_MEM(f.recs[0].data, f.recs[0].len, "abc", 3);
        }
        /* Nothing is left pending: the client takes a new request. */
        SL_CHECK_INT(sl_client_get_recv(cl, &f), SL_EINVAL);
        sl_client_close(cl);
        pthread_join(th, NULL);
        close(lfd);
    }
}
