/*
 * bench/broker: throughput and ack latency of sluice-broker, and the same
 * load against Redis Streams (XADD, appendonly yes) in the same run.
 *
 * It starts its own bin/sluice-broker (and redis-server, when installed)
 * on free 127.0.0.1 ports with temporary data directories, and stops them
 * by pid at the end. Figures are printed, never asserted:
 *   - batch puts (mput of 1000) into 1 partition and over 10,000;
 *   - single pipelined puts, per fsync mode, with ack latency percentiles;
 *   - ack latency at a paced 50,000 messages/s;
 *   - consumer read-back rate;
 *   - the same single pipelined puts as XADD, appendfsync always/everysec.
 * Environment: SL_BIN (default ./bin), BENCH_SECONDS (default 2 per case),
 * BENCH_MSG_SIZE (default 100), BENCH_CASES (e.g. "1,3"; default all).
 */
#include "benchkit.h"
#include "client.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *cases;

/* 1 when case n is selected by BENCH_CASES (all by default). */
static int want(int n) {
    if (cases == NULL || *cases == '\0')
        return 1;
    char tok[8];
    snprintf(tok, sizeof tok, "%d", n);
    for (const char *p = cases; *p;) {
        size_t l = strcspn(p, ",");
        if (l == strlen(tok) && strncmp(p, tok, l) == 0)
            return 1;
        p += l;
        if (*p == ',')
            p++;
    }
    return 0;
}

static int run_bench(void) {
    const char *s = getenv("BENCH_SECONDS");
    if (s && atof(s) > 0)
        sl_bench_secs = atof(s);
    cases = getenv("BENCH_CASES");
    s = getenv("BENCH_MSG_SIZE");
    if (s && atoi(s) > 0)
        sl_bench_msg_size = (size_t)atoi(s);
    snprintf(sl_bench_tmproot, sizeof sl_bench_tmproot,
             "%s/sluice-bench.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (mkdtemp(sl_bench_tmproot) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    printf("bench/broker: %zu-byte messages, %.1f s per case, loopback, "
           "%ld cores\n",
           sl_bench_msg_size, sl_bench_secs, sysconf(_SC_NPROCESSORS_ONLN));

    sl_bench_server_t b;
    double pct[2]; /* Printed by the calls; not used here. */
    double batch1 = 0, cons = 0, batch10k = 0, single = 0;
    double r_always = 0, r_every = 0;
    sl_bench_broker_start(&b, "always", "always", NULL);
    long rss0 = sl_bench_rss_kb(b.pid);
    if (want(1) || want(2)) {
        printf("\n[1] batch puts (mput of 1000), 1 partition, fsync=always, "
               "2 producers\n");
        batch1 = sl_bench_producers(b.addr, 2, 1000, 1, 4, pct);
        printf("  target >= 1,000,000 msgs/s: %s\n",
               batch1 >= 1e6 ? "met" : "NOT met");
    }
    if (want(2)) {
        printf("\n[2] consumer read-back of [1]\n");
        cons = sl_bench_consumer(b.addr, "bench", "p0");
        printf("  target >= 2,000,000 msgs/s: %s\n",
               cons >= 2e6 ? "met" : "NOT met");
    }
    if (want(3)) {
        printf("\n[3] batch puts (mput of 100) spread over 10,000 partitions, "
               "fsync=always, 2 producers\n");
        sl_bench_warm_partitions(b.addr, 10000);
        batch10k = sl_bench_producers(b.addr, 2, 100, 10000, 40, pct);
        if (batch1 > 0)
            printf("  ratio to [1]: %.2f (target >= 0.80)\n",
                   batch10k / batch1);
    }
    if (want(4)) {
        printf("\n[4] single pipelined puts, 1 partition, fsync=always, "
               "window 1000, 1 producer\n");
        single = sl_bench_producers(b.addr, 1, 1, 1, 1000, pct);
    }
    if (want(5)) {
        printf("\n[5] paced single puts at 50,000 msgs/s, fsync=always\n");
        sl_bench_paced(b.addr, 50000, pct);
    }
    {
        sl_client_t *scl = sl_bench_connect(b.addr);
        printf("\n  broker fsyncs: %llu, average %llu us, max %llu us "
               "(disk latency bounds ack latency under fsync=always)\n",
               (unsigned long long)sl_bench_stat(scl, "fsyncs"),
               (unsigned long long)sl_bench_stat(scl, "fsync_avg_us"),
               (unsigned long long)sl_bench_stat(scl, "fsync_max_us"));
        sl_client_close(scl);
    }
    long rss = sl_bench_rss_kb(b.pid);
    printf("\n  broker RSS at start %ld MiB, after the runs above %ld MiB "
           "(log written: see [1]-[5]; the log is read with pread, not "
           "cached)\n",
           rss0 / 1024, rss / 1024);
    sl_bench_stop(b.pid);

    const char *modes[] = {"interval 100ms", "never"};
    const char *names[] = {"interval", "never"};
    for (int i = 0; i < 2 && want(6); i++) {
        sl_bench_broker_start(&b, modes[i], names[i], NULL);
        printf("\n[6.%d] single pipelined puts, fsync=%s, window 1000\n", i + 1,
               modes[i]);
        sl_bench_producers(b.addr, 1, 1, 1, 1000, pct);
        sl_bench_stop(b.pid);
    }

    if (want(7)) {
        printf("\n[7] Redis Streams, the same load as [4]: XADD pipelined, "
               "window 1000, appendonly yes\n");
        printf(" appendfsync always:\n");
        r_always = sl_bench_redis("always", pct);
        printf(" appendfsync everysec:\n");
        r_every = sl_bench_redis("everysec", pct);
    }
    printf("\nsummary\n");
    printf("  batch puts, 1 partition:        %10.0f msgs/s\n", batch1);
    printf("  batch puts, 10,000 partitions:  %10.0f msgs/s (%.0f%% of 1 "
           "partition)\n",
           batch10k, 100 * batch10k / batch1);
    printf("  consumer:                       %10.0f msgs/s\n", cons);
    printf("  single pipelined puts (always): %10.0f msgs/s\n", single);
    if (r_always > 0 && single > 0)
        printf("  Redis XADD appendfsync always:  %10.0f msgs/s  -> sluice "
               "is %.2fx (target >= 2x)\n",
               r_always, single / r_always);
    if (r_every > 0 && single > 0)
        printf("  Redis XADD appendfsync everysec:%10.0f msgs/s  -> sluice "
               "(always) is %.2fx\n",
               r_every, single / r_every);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", sl_bench_tmproot);
    if (system(cmd) != 0)
        fprintf(stderr, "bench: could not remove %s\n", sl_bench_tmproot);
    return 0;
}

int main(void) { return run_bench(); }
