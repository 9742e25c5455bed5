/*
 * 12,000 partitions on one broker: every partition keeps its own order and
 * content across a kill -9, and the broker never holds anywhere near one
 * descriptor per partition open (index files go through bounded caches).
 */
#include "client.h"
#include "error.h"
#include "harness.h"
#include "sl_test.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#define NPARTS 12000

static int open_fds(int pid) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", pid);
    DIR *d = opendir(path);
    if (d == NULL)
        return -1;
    int n = 0;
    while (readdir(d) != NULL)
        n++;
    closedir(d);
    return n - 2;
}

static int start(const char *data, const char *log, char *addr, size_t alen) {
    uint16_t port = sl_harness_free_port();
    snprintf(addr, alen, "127.0.0.1:%u", port);
    const char *argv[] = {
        sl_harness_bin("sluice-broker"), "--listen", addr, "--data", data,
        "--checkpoint-interval",         "500ms",    NULL};
    int pid = sl_harness_spawn((char *const *)argv, log);
    if (sl_harness_wait_port(port, 10000) != 0)
        sl_test_fail(__FILE__, __LINE__, "broker did not start (see %s)", log);
    return pid;
}

SL_TEST(broker_twelve_thousand_partitions) {
    char data[600], log[600], addr[64];
    snprintf(data, sizeof data, "%s/data", sl_test_tmpdir());
    snprintf(log, sizeof log, "%s/broker.log", sl_test_tmpdir());
    int pid = start(data, log, addr, sizeof addr);
    sl_client_opts_t o = {NULL, 5000, 30000, -1};
    sl_client_t *cl;
    SL_CHECK_OK(sl_client_connect(addr, &o, &cl));
    /* Three rounds over every partition, pipelined: message "<p>-<round>". */
    for (int round = 0; round < 3; round++) {
        for (int p = 0; p < NPARTS; p++) {
            char part[32], msg[32];
            snprintf(part, sizeof part, "t.%d", p);
            snprintf(msg, sizeof msg, "%d-%d", p, round);
            sl_client_msg_t m = {msg, strlen(msg)};
            SL_CHECK_OK(
                sl_client_put_send(cl, "many", part, &m, 1, -1, 0, NULL));
        }
        while (sl_client_inflight(cl) > 0) {
            sl_client_ack_t ack;
            SL_CHECK_OK(sl_client_put_ack(cl, &ack));
            SL_CHECK_UINT(ack.offset, (uint64_t)round);
        }
    }
    int fds = open_fds(pid);
    SL_CHECK(fds > 0 && fds < 2000);
    sl_client_close(cl);
    sl_harness_stop(pid, SIGKILL, 5000);

    pid = start(data, log, addr, sizeof addr);
    SL_CHECK_OK(sl_client_connect(addr, &o, &cl));
    sl_buf_t text = SL_BUF_INIT;
    SL_CHECK_OK(sl_client_partitions(cl, "many", &text));
    size_t lines = 0;
    for (size_t i = 0; i < text.len; i++)
        lines += text.data[i] == '\n';
    SL_CHECK_UINT(lines, NPARTS);
    sl_buf_free(&text);
    for (int p = 0; p < NPARTS; p += 7) {
        char part[32];
        snprintf(part, sizeof part, "t.%d", p);
        sl_client_fetch_t f;
        SL_CHECK_OK(sl_client_get(cl, "many", part, 0, 1 << 20, 0, &f));
        SL_CHECK_UINT(f.count, 3);
        for (int r = 0; r < 3; r++) {
            char want[32];
            snprintf(want, sizeof want, "%d-%d", p, r);
            SL_CHECK_MEM(f.recs[r].data, f.recs[r].len, want, strlen(want));
        }
    }
    /* New puts continue every partition's offsets. */
    uint64_t off;
    int dup;
    SL_CHECK_OK(
        sl_client_put(cl, "many", "t.11999", "x", 1, -1, 0, &off, &dup));
    SL_CHECK_UINT(off, 3);
    fds = open_fds(pid);
    SL_CHECK(fds > 0 && fds < 2000);
    sl_client_close(cl);
    sl_harness_stop(pid, SIGTERM, 10000);
}
