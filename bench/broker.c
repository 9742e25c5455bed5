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
#include "client.h"
#include "clock.h"
#include "error.h"

#include <errno.h>
#include <fcntl.h>
#include <hiredis.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double secs = 2.0;
static size_t msg_size = 100;
static char tmproot[256];

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

static double now_s(void) { return (double)sl_mono_ns() / 1e9; }

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static uint16_t free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        perror("free port");
        exit(1);
    }
    close(fd);
    return ntohs(a.sin_port);
}

static int wait_port(uint16_t port) {
    for (int i = 0; i < 500; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a;
        memset(&a, 0, sizeof a);
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
        close(fd);
        if (ok)
            return 0;
        sleep_ms(20);
    }
    return -1;
}

static int spawn(char *const argv[], const char *log) {
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execvp(argv[0], argv);
        _exit(127);
    }
    return pid;
}

static void stop(int pid) {
    if (pid <= 0)
        return;
    kill(pid, SIGTERM);
    for (int i = 0; i < 1000; i++) {
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return;
        sleep_ms(10);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

static long rss_kb(int pid) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = atol(line + 6);
    if (f)
        fclose(f);
    return kb;
}

typedef struct {
    int pid;
    uint16_t port;
    char addr[64];
} server_t;

static void broker_start(server_t *s, const char *fsync, const char *name) {
    char data[512], log[512];
    snprintf(data, sizeof data, "%s/%s", tmproot, name);
    snprintf(log, sizeof log, "%s/%s.log", tmproot, name);
    s->port = free_port();
    snprintf(s->addr, sizeof s->addr, "127.0.0.1:%u", s->port);
    const char *bin = getenv("SL_BIN") ? getenv("SL_BIN") : "bin";
    char path[512];
    snprintf(path, sizeof path, "%s/sluice-broker", bin);
    char *argv[] = {path,      "--listen",    s->addr,       "--data", data,
                    "--fsync", (char *)fsync, "--log-level", "warn",   NULL};
    s->pid = spawn(argv, log);
    if (wait_port(s->port) != 0) {
        fprintf(stderr, "bench: broker did not start (see %s)\n", log);
        exit(1);
    }
}

static sl_client_t *connect_or_die(const char *addr) {
    sl_client_opts_t o = {NULL, 5000, 60000, -1};
    sl_client_t *cl;
    int err = sl_client_connect(addr, &o, &cl);
    if (err != 0) {
        fprintf(stderr, "bench: connect %s: %s\n", addr, sl_strerror(err));
        exit(1);
    }
    return cl;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

typedef struct {
    uint64_t *lat;
    size_t n, cap;
} lat_t;

static void lat_add(lat_t *l, uint64_t ns) {
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 1 << 16;
        l->lat = realloc(l->lat, l->cap * sizeof *l->lat);
    }
    l->lat[l->n++] = ns;
}

static void lat_print(lat_t *l) {
    if (l->n == 0) {
        printf("  ack latency: no samples\n");
        return;
    }
    qsort(l->lat, l->n, sizeof *l->lat, cmp_u64);
    printf(
        "  ack latency: p50 %.3f ms  p99 %.3f ms  p99.9 %.3f ms  max %.3f ms\n",
        (double)l->lat[l->n / 2] / 1e6, (double)l->lat[l->n * 99 / 100] / 1e6,
        (double)l->lat[l->n * 999 / 1000] / 1e6,
        (double)l->lat[l->n - 1] / 1e6);
}

/* ---- producers ----------------------------------------------------------- */

typedef struct {
    const char *addr;
    int batch;  /* Messages per request (1: put, >1: mput). */
    int nparts; /* Partitions to spread over. */
    int window; /* Requests in flight. */
    int idx;
    uint64_t msgs;
    lat_t lat;
} prod_t;

static void *producer(void *arg) {
    prod_t *p = arg;
    sl_client_t *cl = connect_or_die(p->addr);
    char *payload = malloc(msg_size);
    memset(payload, 'x', msg_size);
    sl_client_msg_t *msgs = malloc((size_t)p->batch * sizeof *msgs);
    for (int i = 0; i < p->batch; i++) {
        msgs[i].data = payload;
        msgs[i].len = msg_size;
    }
    uint64_t *sent_at = calloc((size_t)p->window, sizeof *sent_at);
    size_t head = 0, inflight = 0;
    uint64_t k = (uint64_t)p->idx;
    double end = now_s() + secs;
    char part[32];
    while (now_s() < end || inflight > 0) {
        while (inflight < (size_t)p->window && now_s() < end) {
            snprintf(part, sizeof part, "p%llu",
                     (unsigned long long)(k++ % (uint64_t)p->nparts));
            if (sl_client_put_send(cl, "bench", part, msgs, (size_t)p->batch,
                                   -1, 0, NULL) != 0) {
                fprintf(stderr, "bench: put: %s\n", sl_client_error(cl));
                exit(1);
            }
            sent_at[(head + inflight) % (size_t)p->window] = sl_mono_ns();
            inflight++;
        }
        sl_client_ack_t ack;
        if (sl_client_put_ack(cl, &ack) != 0) {
            fprintf(stderr, "bench: ack: %s\n", sl_client_error(cl));
            exit(1);
        }
        lat_add(&p->lat, sl_mono_ns() - sent_at[head]);
        head = (head + 1) % (size_t)p->window;
        inflight--;
        p->msgs += (uint64_t)p->batch;
    }
    free(sent_at);
    free(msgs);
    free(payload);
    sl_client_close(cl);
    return NULL;
}

static double run_producers(const char *addr, int nprod, int batch, int nparts,
                            int window, int print_lat) {
    prod_t *ps = calloc((size_t)nprod, sizeof *ps);
    pthread_t *th = calloc((size_t)nprod, sizeof *th);
    double t0 = now_s();
    for (int i = 0; i < nprod; i++) {
        ps[i].addr = addr;
        ps[i].batch = batch;
        ps[i].nparts = nparts;
        ps[i].window = window;
        ps[i].idx = i;
        pthread_create(&th[i], NULL, producer, &ps[i]);
    }
    uint64_t total = 0;
    lat_t all = {0};
    for (int i = 0; i < nprod; i++) {
        pthread_join(th[i], NULL);
        total += ps[i].msgs;
        for (size_t j = 0; j < ps[i].lat.n; j++)
            lat_add(&all, ps[i].lat.lat[j]);
        free(ps[i].lat.lat);
    }
    double el = now_s() - t0;
    double rate = (double)total / el;
    printf("  %llu msgs in %.2f s: %.0f msgs/s, %.1f MB/s\n",
           (unsigned long long)total, el, rate, rate * (double)msg_size / 1e6);
    if (print_lat)
        lat_print(&all);
    free(all.lat);
    free(ps);
    free(th);
    return rate;
}

/* Paced single puts, open loop: a put every 1/rate s whatever the acks
 * do, acks read as they come; latency is send to ack. */
static void run_paced(const char *addr, int rate) {
    sl_client_t *cl = connect_or_die(addr);
    char *payload = malloc(msg_size);
    memset(payload, 'y', msg_size);
    sl_client_msg_t m = {payload, msg_size};
    lat_t lat = {0};
    size_t cap = 1 << 20;
    uint64_t *sent = calloc(cap, sizeof *sent);
    uint64_t nsent = 0, nacked = 0;
    uint64_t t0 = sl_mono_ns(), step = 1000000000ull / (uint64_t)rate;
    uint64_t end = t0 + (uint64_t)(secs * 1e9), next = t0;
    while (sl_mono_ns() < end || nacked < nsent) {
        uint64_t now = sl_mono_ns();
        while (next <= now && now < end && nsent - nacked < cap) {
            if (sl_client_put_send(cl, "bench", "paced", &m, 1, -1, 0, NULL)) {
                fprintf(stderr, "bench: put: %s\n", sl_client_error(cl));
                exit(1);
            }
            sent[nsent++ % cap] = next; /* Scheduled time: no coordinated
                                           omission. */
            next += step;
        }
        uint64_t wait_ns = next > sl_mono_ns() ? next - sl_mono_ns() : 0;
        int ready = sl_client_ack_ready(cl, (int)(wait_ns / 1000000));
        if (ready < 0) {
            fprintf(stderr, "bench: %s\n", sl_client_error(cl));
            exit(1);
        }
        while (ready > 0 && nacked < nsent) {
            sl_client_ack_t ack;
            if (sl_client_put_ack(cl, &ack) != 0) {
                fprintf(stderr, "bench: ack: %s\n", sl_client_error(cl));
                exit(1);
            }
            lat_add(&lat, sl_mono_ns() - sent[nacked++ % cap]);
            ready = sl_client_ack_ready(cl, 0);
        }
    }
    double el = (double)(sl_mono_ns() - t0) / 1e9;
    printf("  paced (open loop) target %d msgs/s, achieved %.0f msgs/s\n", rate,
           (double)nsent / el);
    lat_print(&lat);
    free(lat.lat);
    free(sent);
    free(payload);
    sl_client_close(cl);
}

static uint64_t stat_of(sl_client_t *cl, const char *name) {
    sl_buf_t text = SL_BUF_INIT;
    uint64_t v = 0;
    if (sl_client_stats(cl, &text) == 0 && sl_buf_append_u8(&text, 0) == 0) {
        char key[128];
        snprintf(key, sizeof key, "STAT %s ", name);
        const char *p = strstr((const char *)text.data, key);
        if (p)
            v = strtoull(p + strlen(key), NULL, 10);
    }
    sl_buf_free(&text);
    return v;
}

/* Creates the partitions first (one message each) and waits for the next
 * checkpoint, which creates their index files: [3] then measures steady
 * state, and the creation cost is printed on its own. */
static void warm_partitions(const char *addr, int n) {
    sl_client_t *cl = connect_or_die(addr);
    double t0 = now_s();
    sl_client_msg_t m = {"w", 1};
    for (int i = 0; i < n; i++) {
        char part[32];
        snprintf(part, sizeof part, "p%d", i);
        sl_client_put_send(cl, "bench", part, &m, 1, -1, 0, NULL);
    }
    while (sl_client_inflight(cl) > 0) {
        sl_client_ack_t ack;
        if (sl_client_put_ack(cl, &ack) != 0)
            break;
    }
    double t1 = now_s();
    uint64_t ck = stat_of(cl, "checkpoints");
    for (int i = 0; i < 2000 && stat_of(cl, "checkpoints") <= ck; i++)
        sleep_ms(10);
    printf("  warm-up: %d partitions created in %.2f s, their index files "
           "by the next checkpoint %.2f s later\n",
           n, t1 - t0, now_s() - t1);
    sl_client_close(cl);
}

static double run_consumer(const char *addr, const char *part) {
    sl_client_t *cl = connect_or_die(addr);
    uint64_t off = 0, total = 0;
    double t0 = now_s();
    for (;;) {
        sl_client_fetch_t f;
        int err = sl_client_get(cl, "bench", part, off, 8u << 20, 0, &f);
        if (err != 0) {
            fprintf(stderr, "bench: get: %s\n", sl_client_error(cl));
            exit(1);
        }
        if (f.count == 0)
            break;
        total += f.count;
        off = f.next;
    }
    double el = now_s() - t0;
    double rate = (double)total / el;
    printf("  read %llu msgs in %.2f s: %.0f msgs/s, %.1f MB/s\n",
           (unsigned long long)total, el, rate, rate * (double)msg_size / 1e6);
    sl_client_close(cl);
    return rate;
}

/* ---- Redis Streams --------------------------------------------------------
 */

static double run_redis(uint16_t port, int window) {
    redisContext *rc = redisConnect("127.0.0.1", port);
    if (rc == NULL || rc->err) {
        fprintf(stderr, "bench: redis connect failed\n");
        return 0;
    }
    char *payload = malloc(msg_size);
    memset(payload, 'x', msg_size);
    uint64_t *sent = calloc((size_t)window, sizeof *sent);
    size_t head = 0, inflight = 0;
    uint64_t total = 0;
    lat_t lat = {0};
    double t0 = now_s(), end = t0 + secs;
    while (now_s() < end || inflight > 0) {
        while (inflight < (size_t)window && now_s() < end) {
            redisAppendCommand(rc, "XADD bench * v %b", payload, msg_size);
            sent[(head + inflight) % (size_t)window] = sl_mono_ns();
            inflight++;
        }
        redisReply *r;
        if (redisGetReply(rc, (void **)&r) != REDIS_OK) {
            fprintf(stderr, "bench: redis: %s\n", rc->errstr);
            break;
        }
        freeReplyObject(r);
        lat_add(&lat, sl_mono_ns() - sent[head]);
        head = (head + 1) % (size_t)window;
        inflight--;
        total++;
    }
    double el = now_s() - t0;
    double rate = (double)total / el;
    printf("  %llu XADDs in %.2f s: %.0f msgs/s, %.1f MB/s\n",
           (unsigned long long)total, el, rate, rate * (double)msg_size / 1e6);
    lat_print(&lat);
    free(lat.lat);
    free(sent);
    free(payload);
    redisFree(rc);
    return rate;
}

static double redis_case(const char *fsync) {
    char dir[512], log[600], portbuf[16];
    snprintf(dir, sizeof dir, "%s/redis-%s", tmproot, fsync);
    mkdir(dir, 0755);
    snprintf(log, sizeof log, "%s.log", dir);
    uint16_t port = free_port();
    snprintf(portbuf, sizeof portbuf, "%u", port);
    char *argv[] = {"redis-server",
                    "--port",
                    portbuf,
                    "--bind",
                    "127.0.0.1",
                    "--dir",
                    dir,
                    "--appendonly",
                    "yes",
                    "--appendfsync",
                    (char *)fsync,
                    "--save",
                    "",
                    NULL};
    int pid = spawn(argv, log);
    if (wait_port(port) != 0) {
        printf("  redis-server did not start; skipping\n");
        stop(pid);
        return 0;
    }
    double rate = run_redis(port, 1000);
    stop(pid);
    return rate;
}

static int run_bench(void) {
    const char *s = getenv("BENCH_SECONDS");
    if (s && atof(s) > 0)
        secs = atof(s);
    cases = getenv("BENCH_CASES");
    s = getenv("BENCH_MSG_SIZE");
    if (s && atoi(s) > 0)
        msg_size = (size_t)atoi(s);
    snprintf(tmproot, sizeof tmproot, "%s/sluice-bench.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (mkdtemp(tmproot) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    printf("bench/broker: %zu-byte messages, %.1f s per case, loopback, "
           "%ld cores\n",
           msg_size, secs, sysconf(_SC_NPROCESSORS_ONLN));

    server_t b;
    double batch1 = 0, cons = 0, batch10k = 0, single = 0;
    double r_always = 0, r_every = 0;
    broker_start(&b, "always", "always");
    long rss0 = rss_kb(b.pid);
    if (want(1) || want(2)) {
        printf("\n[1] batch puts (mput of 1000), 1 partition, fsync=always, "
               "2 producers\n");
        batch1 = run_producers(b.addr, 2, 1000, 1, 4, 1);
        printf("  target >= 1,000,000 msgs/s: %s\n",
               batch1 >= 1e6 ? "met" : "NOT met");
    }
    if (want(2)) {
        printf("\n[2] consumer read-back of [1]\n");
        cons = run_consumer(b.addr, "p0");
        printf("  target >= 2,000,000 msgs/s: %s\n",
               cons >= 2e6 ? "met" : "NOT met");
    }
    if (want(3)) {
        printf("\n[3] batch puts (mput of 100) spread over 10,000 partitions, "
               "fsync=always, 2 producers\n");
        warm_partitions(b.addr, 10000);
        batch10k = run_producers(b.addr, 2, 100, 10000, 40, 1);
        if (batch1 > 0)
            printf("  ratio to [1]: %.2f (target >= 0.80)\n",
                   batch10k / batch1);
    }
    if (want(4)) {
        printf("\n[4] single pipelined puts, 1 partition, fsync=always, "
               "window 1000, 1 producer\n");
        single = run_producers(b.addr, 1, 1, 1, 1000, 1);
    }
    if (want(5)) {
        printf("\n[5] paced single puts at 50,000 msgs/s, fsync=always\n");
        run_paced(b.addr, 50000);
    }
    {
        sl_client_t *scl = connect_or_die(b.addr);
        printf("\n  broker fsyncs: %llu, average %llu us, max %llu us "
               "(disk latency bounds ack latency under fsync=always)\n",
               (unsigned long long)stat_of(scl, "fsyncs"),
               (unsigned long long)stat_of(scl, "fsync_avg_us"),
               (unsigned long long)stat_of(scl, "fsync_max_us"));
        sl_client_close(scl);
    }
    long rss = rss_kb(b.pid);
    printf("\n  broker RSS at start %ld MiB, after the runs above %ld MiB "
           "(log written: see [1]-[5]; the log is read with pread, not "
           "cached)\n",
           rss0 / 1024, rss / 1024);
    stop(b.pid);

    const char *modes[] = {"interval 100ms", "never"};
    const char *names[] = {"interval", "never"};
    for (int i = 0; i < 2 && want(6); i++) {
        broker_start(&b, modes[i], names[i]);
        printf("\n[6.%d] single pipelined puts, fsync=%s, window 1000\n", i + 1,
               modes[i]);
        run_producers(b.addr, 1, 1, 1, 1000, 1);
        stop(b.pid);
    }

    if (want(7)) {
        printf("\n[7] Redis Streams, the same load as [4]: XADD pipelined, "
               "window 1000, appendonly yes\n");
        printf(" appendfsync always:\n");
        r_always = redis_case("always");
        printf(" appendfsync everysec:\n");
        r_every = redis_case("everysec");
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
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmproot);
    if (system(cmd) != 0)
        fprintf(stderr, "bench: could not remove %s\n", tmproot);
    return 0;
}

int main(void) { return run_bench(); }
