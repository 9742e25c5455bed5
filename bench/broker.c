/*
 * bench/broker: throughput and ack latency of sluice-broker, and the same
 * load against Redis Streams (XADD, appendonly yes) in the same run.
 *
 * It starts its own bin/sluice-broker (and redis-server, when installed)
 * on free 127.0.0.1 ports with temporary data directories, and stops them
 * by pid at the end. Figures are printed, never asserted:
 *   - batch puts (mput of 1000) into 1 partition and over 10,000;
 *   - single pipelined puts, per fsync mode, with ack latency percentiles;
 *   - ack latency at a paced 50,000 messages/s beside the broker's own
 *     fsync p99 in that run, per fsync call and weighted by time (what a
 *     put arriving at a random moment meets: see docs/performance.md),
 *     and the same with fsync=never, the broker's own path alone;
 *   - system calls and context switches per message of the client and the
 *     broker for single puts (system calls from `perf stat`, when
 *     /usr/bin/perf is there and allowed).
 *   - consumer read-back rate;
 *   - the same single pipelined puts as XADD, appendfsync always/everysec.
 * Environment: SL_BIN (default ./bin), BENCH_SECONDS (default 2 per case),
 * BENCH_MSG_SIZE (default 100), BENCH_CASES (e.g. "1,3"; default all).
 */
#include "benchkit.h"
#include "client.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *cases;

/* ---- the cost of a message: syscalls and context switches ---------------- */

/* One process watched during a case: its context switches from /proc (every
 * thread), and its system calls from `perf stat` attached to it (when perf
 * is installed and allowed; otherwise they are reported as unknown). */
typedef struct {
    int pid;
    int perf_pid;
    char out[600];
    uint64_t cs0;
} watch_t;

/* Voluntary and involuntary context switches of every thread of pid. */
static uint64_t ctx_switches(int pid) {
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%d/task", pid);
    DIR *d = opendir(dir);
    uint64_t total = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[400], line[256];
        snprintf(path, sizeof path, "%s/%s/status", dir, e->d_name);
        FILE *f = fopen(path, "r");
        while (f && fgets(line, sizeof line, f))
            if (strstr(line, "ctxt_switches:"))
                total += strtoull(strchr(line, ':') + 1, NULL, 10);
        if (f)
            fclose(f);
    }
    if (d)
        closedir(d);
    return total;
}

static void watch_start(watch_t *w, int pid, const char *name) {
    w->pid = pid;
    w->perf_pid = -1;
    snprintf(w->out, sizeof w->out, "%s/perf-%s.txt", sl_bench_tmproot, name);
    unlink(w->out);
    if (access("/usr/bin/perf", X_OK) == 0) {
        char spid[16];
        snprintf(spid, sizeof spid, "%d", pid);
        int p = fork();
        if (p == 0) {
            execl("/usr/bin/perf", "perf", "stat", "-x,", "-e",
                  "raw_syscalls:sys_enter", "-p", spid, "-o", w->out,
                  (char *)NULL);
            _exit(127);
        }
        w->perf_pid = p;
        sl_bench_sleep_ms(300); /* perf attaches before the case starts. */
    }
    w->cs0 = pid == getpid() ? 0 : ctx_switches(pid);
    if (pid == getpid()) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        w->cs0 = (uint64_t)(ru.ru_nvcsw + ru.ru_nivcsw);
    }
}

/* Stops watching; sets *sys (-1: unknown) and *cs for the case. */
static void watch_stop(watch_t *w, double *sys, double *cs) {
    uint64_t c;
    if (w->pid == getpid()) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        c = (uint64_t)(ru.ru_nvcsw + ru.ru_nivcsw);
    } else {
        c = ctx_switches(w->pid);
    }
    *cs = (double)(c - w->cs0);
    *sys = -1;
    if (w->perf_pid <= 0)
        return;
    kill(w->perf_pid, SIGINT);
    waitpid(w->perf_pid, NULL, 0);
    FILE *f = fopen(w->out, "r");
    char line[512];
    while (f && fgets(line, sizeof line, f))
        if (strstr(line, "raw_syscalls:sys_enter") && line[0] >= '0' &&
            line[0] <= '9')
            *sys = atof(line);
    if (f)
        fclose(f);
}

/* Runs single pipelined puts (window 1000, 1 producer) against the broker
 * b and prints the rate with the system calls and context switches per
 * message of the client (this process) and of the broker. Returns the
 * rate. */
static double single_puts(const sl_bench_server_t *b, double pct[2]) {
    sl_client_t *scl = sl_bench_connect(b->addr);
    uint64_t puts0 = sl_bench_stat(scl, "puts");
    watch_t wb, wc;
    watch_start(&wb, b->pid, "broker");
    watch_start(&wc, getpid(), "client");
    double rate = sl_bench_producers(b->addr, 1, 1, 1, 1000, pct);
    double bs, bc, cs, cc;
    watch_stop(&wc, &cs, &cc);
    watch_stop(&wb, &bs, &bc);
    double n = (double)(sl_bench_stat(scl, "puts") - puts0);
    sl_client_close(scl);
    if (n <= 0)
        return rate;
    char bsys[32] = "unknown", csys[32] = "unknown";
    if (bs >= 0)
        snprintf(bsys, sizeof bsys, "%.3f", bs / n);
    if (cs >= 0)
        snprintf(csys, sizeof csys, "%.3f", cs / n);
    printf("  per message: client %s syscalls, %.4f context switches; "
           "broker %s syscalls, %.4f context switches\n",
           csys, cc / n, bsys, bc / n);
    return rate;
}

/* Prints the load average (the figures depend on what else runs). */
static void print_load(const char *when) {
    char line[128] = "unknown";
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fgets(line, sizeof line, f) == NULL)
            snprintf(line, sizeof line, "unknown");
        fclose(f);
    }
    line[strcspn(line, "\n")] = '\0';
    printf("  load average %s: %s\n", when, line);
}

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
    print_load("at start");

    sl_bench_server_t b;
    double pct[2]; /* Printed by the calls; not used here. */
    double batch1 = 0, cons = 0, batch10k = 0, single = 0;
    double r_always = 0, r_every = 0, never = 0;
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
        single = single_puts(&b, pct);
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
           "(log written: see [1]-[4]; the log is read with pread, not "
           "cached)\n",
           rss0 / 1024, rss / 1024);
    sl_bench_stop(b.pid);

    double paced_p99 = 0, paced_fsync_p99 = 0, paced_fsync_tw = 0;
    double never_pct[2] = {0, 0};
    if (want(5)) {
        /* A broker of its own, so that its fsync p99 (over its latest
         * 4096 fsyncs) covers this case alone. */
        sl_bench_broker_start(&b, "always", "paced", NULL);
        printf("\n[5] paced single puts at 50,000 msgs/s, fsync=always\n");
        sl_bench_paced(b.addr, 50000, pct);
        paced_p99 = pct[1];
        sl_client_t *scl = sl_bench_connect(b.addr);
        paced_fsync_p99 = (double)sl_bench_stat(scl, "fsync_p99_us") / 1e3;
        printf("  broker fsync in this run: p99 %.3f ms, average %.3f ms, "
               "max %.3f ms\n",
               paced_fsync_p99,
               (double)sl_bench_stat(scl, "fsync_avg_us") / 1e3,
               (double)sl_bench_stat(scl, "fsync_max_us") / 1e3);
        /* A put waits for the fsync in progress, then for its own: what a
         * put arriving at a random moment meets is the time-weighted p99
         * (a 10 ms fsync is one call but delays 500 puts at this rate),
         * and twice that is the most the disk alone explains. The p99 per
         * call counts each fsync once however long it held puts up. */
        double tw = (double)sl_bench_stat(scl, "fsync_p99_time_us") / 1e3;
        paced_fsync_tw = tw;
        printf("  fsync p99 weighted by time %.3f ms: ack p99 / that = %.2f "
               "(target <= 2: no queueing beyond the disk's)\n",
               tw, tw > 0 ? paced_p99 / tw : 0);
        printf("  ack p99 / fsync p99 per call: %.2f\n",
               paced_fsync_p99 > 0 ? paced_p99 / paced_fsync_p99 : 0);
        sl_client_close(scl);
        sl_bench_stop(b.pid);
        /* The same with fsync=never: the latency of the broker's own path
         * (network loop, hand-over, write, ack) without the disk's. */
        sl_bench_broker_start(&b, "never", "paced-never", NULL);
        printf("\n[5.2] paced single puts at 50,000 msgs/s, fsync=never (the "
               "broker's path without the disk)\n");
        sl_bench_paced(b.addr, 50000, never_pct);
        sl_bench_stop(b.pid);
    }

    const char *modes[] = {"interval 100ms", "never"};
    const char *names[] = {"interval", "never"};
    for (int i = 0; i < 2 && want(6); i++) {
        sl_bench_broker_start(&b, modes[i], names[i], NULL);
        printf("\n[6.%d] single pipelined puts, fsync=%s, window 1000\n", i + 1,
               modes[i]);
        double r = single_puts(&b, pct);
        if (i == 1)
            never = r;
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
    print_load("at end");
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
    if (r_every > 0 && never > 0)
        printf("  single pipelined puts (never):  %10.0f msgs/s  -> %.2fx "
               "Redis everysec (target >= 1.5x)\n",
               never, never / r_every);
    if (paced_fsync_tw > 0)
        printf("  paced 50,000 msgs/s: ack p99 %.3f ms, broker fsync p99 "
               "weighted by time %.3f ms -> %.2fx (target <= 2x)\n",
               paced_p99, paced_fsync_tw, paced_p99 / paced_fsync_tw);
    if (paced_fsync_p99 > 0)
        printf("                       fsync p99 per call %.3f ms -> %.2fx\n",
               paced_fsync_p99, paced_p99 / paced_fsync_p99);
    if (never_pct[1] > 0)
        printf("  paced, fsync=never:  ack p50 %.3f ms, p99 %.3f ms (the "
               "broker's own path and the client's)\n",
               never_pct[0], never_pct[1]);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", sl_bench_tmproot);
    if (system(cmd) != 0)
        fprintf(stderr, "bench: could not remove %s\n", sl_bench_tmproot);
    return 0;
}

int main(void) { return run_bench(); }
