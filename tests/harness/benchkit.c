/*
 * Helpers shared by the broker benchmarks (bench/broker.c, bench/kafka.c):
 * starting sluice-broker and redis-server on free 127.0.0.1 ports in a
 * temporary directory and stopping them by pid, native producers (put and
 * mput through lib/client) and consumers (get), paced puts, latency
 * percentiles and Redis Streams XADD. They print their figures and exit(1)
 * on a setup error (a benchmark has nothing to assert).
 */
#include "benchkit.h"

#include "clock.h"
#include "error.h"

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

double sl_bench_secs = 2.0;
size_t sl_bench_msg_size = 100;
int sl_bench_share = 0;
char sl_bench_tmproot[256];

double sl_bench_now_s(void) { return (double)sl_mono_ns() / 1e9; }

void sl_bench_sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

uint16_t sl_bench_free_port(void) {
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

int sl_bench_wait_port(uint16_t port) {
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
        sl_bench_sleep_ms(20);
    }
    return -1;
}

int sl_bench_spawn(char *const argv[], const char *log) {
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

void sl_bench_stop(int pid) {
    if (pid <= 0)
        return;
    kill(pid, SIGTERM);
    for (int i = 0; i < 1000; i++) {
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return;
        sl_bench_sleep_ms(10);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

long sl_bench_rss_kb(int pid) {
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

void sl_bench_broker_start(sl_bench_server_t *s, const char *fsync,
                           const char *name, const char *const *extra) {
    char data[512], log[512];
    snprintf(data, sizeof data, "%s/%s", sl_bench_tmproot, name);
    snprintf(log, sizeof log, "%s/%s.log", sl_bench_tmproot, name);
    s->port = sl_bench_free_port();
    snprintf(s->addr, sizeof s->addr, "127.0.0.1:%u", s->port);
    const char *bin = getenv("SL_BIN") ? getenv("SL_BIN") : "bin";
    char path[512];
    snprintf(path, sizeof path, "%s/sluice-broker", bin);
    const char *argv[48] = {path,   "--listen", s->addr,       "--data",
                            data,   "--fsync",  (char *)fsync, "--log-level",
                            "warn", NULL};
    for (int i = 0, n = 9; extra != NULL && extra[i] != NULL && n < 47; i++)
        argv[n++] = extra[i];
    s->pid = sl_bench_spawn((char *const *)argv, log);
    if (sl_bench_wait_port(s->port) != 0) {
        fprintf(stderr, "bench: broker did not start (see %s)\n", log);
        exit(1);
    }
}

sl_client_t *sl_bench_connect(const char *addr) {
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

void sl_bench_lat_add(sl_bench_lat_t *l, uint64_t ns) {
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 1 << 16;
        l->lat = realloc(l->lat, l->cap * sizeof *l->lat);
    }
    l->lat[l->n++] = ns;
}

void sl_bench_lat_print(sl_bench_lat_t *l, double pct[2]) {
    if (pct != NULL)
        pct[0] = pct[1] = 0;
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
    if (pct != NULL) {
        pct[0] = (double)l->lat[l->n / 2] / 1e6;
        pct[1] = (double)l->lat[l->n * 99 / 100] / 1e6;
    }
}

/* CPU seconds (user + system) a process has used so far, from
 * /proc/PID/stat; 0 when it cannot be read. */
double sl_bench_cpu_s(int pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    unsigned long ut = 0, st = 0;
    if (!p || sscanf(p + 2,
                     "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
                     "%lu %lu",
                     &ut, &st) != 2)
        return 0;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* ---- producers ----------------------------------------------------------- */

typedef struct {
    const char *addr;
    int batch;  /* Messages per request (1: put, >1: mput). */
    int nparts; /* Partitions to spread over. */
    int window; /* Requests in flight. */
    int idx, nprod;
    uint64_t msgs;
    sl_bench_lat_t lat;
} prod_t;

static void *producer(void *arg) {
    prod_t *p = arg;
    sl_client_t *cl = sl_bench_connect(p->addr);
    char *payload = malloc(sl_bench_msg_size);
    memset(payload, 'x', sl_bench_msg_size);
    sl_client_msg_t *msgs = malloc((size_t)p->batch * sizeof *msgs);
    for (int i = 0; i < p->batch; i++) {
        msgs[i].data = payload;
        msgs[i].len = sl_bench_msg_size;
    }
    uint64_t *sent_at = calloc((size_t)p->window, sizeof *sent_at);
    size_t head = 0, inflight = 0;
    uint64_t k = (uint64_t)p->idx, lo = 0, cnt = (uint64_t)p->nparts;
    if (sl_bench_share && p->nparts >= p->nprod) {
        lo = (uint64_t)p->idx * (uint64_t)p->nparts / (uint64_t)p->nprod;
        cnt =
            ((uint64_t)p->idx + 1) * (uint64_t)p->nparts / (uint64_t)p->nprod -
            lo;
        k = 0;
    }
    double end = sl_bench_now_s() + sl_bench_secs;
    char part[32];
    while (sl_bench_now_s() < end || inflight > 0) {
        while (inflight < (size_t)p->window && sl_bench_now_s() < end) {
            snprintf(part, sizeof part, "p%llu",
                     (unsigned long long)(lo + k++ % cnt));
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
        sl_bench_lat_add(&p->lat, sl_mono_ns() - sent_at[head]);
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

double sl_bench_producers(const char *addr, int nprod, int batch, int nparts,
                          int window, double pct[2]) {
    prod_t *ps = calloc((size_t)nprod, sizeof *ps);
    pthread_t *th = calloc((size_t)nprod, sizeof *th);
    double t0 = sl_bench_now_s();
    for (int i = 0; i < nprod; i++) {
        ps[i].addr = addr;
        ps[i].batch = batch;
        ps[i].nparts = nparts;
        ps[i].window = window;
        ps[i].idx = i;
        ps[i].nprod = nprod;
        pthread_create(&th[i], NULL, producer, &ps[i]);
    }
    uint64_t total = 0;
    sl_bench_lat_t all = {0};
    for (int i = 0; i < nprod; i++) {
        pthread_join(th[i], NULL);
        total += ps[i].msgs;
        for (size_t j = 0; j < ps[i].lat.n; j++)
            sl_bench_lat_add(&all, ps[i].lat.lat[j]);
        free(ps[i].lat.lat);
    }
    double el = sl_bench_now_s() - t0;
    double rate = (double)total / el;
    printf("  %llu msgs in %.2f s: %.0f msgs/s, %.1f MB/s\n",
           (unsigned long long)total, el, rate,
           rate * (double)sl_bench_msg_size / 1e6);
    if (pct != NULL)
        sl_bench_lat_print(&all, pct);
    free(all.lat);
    free(ps);
    free(th);
    return rate;
}

/* Paced single puts, open loop: a put every 1/rate s whatever the acks
 * do, acks read as they come; latency is from each put's scheduled time
 * to its ack, so a late send counts too (no coordinated omission). */
void sl_bench_paced(const char *addr, int rate, double pct[2]) {
    sl_client_t *cl = sl_bench_connect(addr);
    char *payload = malloc(sl_bench_msg_size);
    memset(payload, 'y', sl_bench_msg_size);
    sl_client_msg_t m = {payload, sl_bench_msg_size};
    sl_bench_lat_t lat = {0};
    size_t cap = 1 << 20;
    uint64_t *sent = calloc(cap, sizeof *sent);
    uint64_t nsent = 0, nacked = 0;
    uint64_t t0 = sl_mono_ns(), step = 1000000000ull / (uint64_t)rate;
    uint64_t end = t0 + (uint64_t)(sl_bench_secs * 1e9), next = t0;
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
        /* The puts due go out at once; then the client sleeps in the
         * kernel until an ack arrives or the next put is due, whichever
         * comes first. (It used to sleep first and send after, so every
         * put waited a timer tick in the client, and acks that arrived
         * meanwhile waited for the sleep to end.) */
        if (sl_client_flush(cl) != 0) {
            fprintf(stderr, "bench: send: %s\n", sl_client_error(cl));
            exit(1);
        }
        now = sl_mono_ns();
        int64_t wait_us = now >= end   ? 100000
                          : next > now ? (int64_t)((next - now + 999) / 1000)
                                       : 0;
        int ready = sl_client_ack_ready_us(cl, wait_us);
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
            sl_bench_lat_add(&lat, sl_mono_ns() - sent[nacked++ % cap]);
            ready = sl_client_ack_ready_us(cl, 0);
        }
    }
    double el = (double)(sl_mono_ns() - t0) / 1e9;
    printf("  paced (open loop) target %d msgs/s, achieved %.0f msgs/s\n", rate,
           (double)nsent / el);
    sl_bench_lat_print(&lat, pct);
    free(lat.lat);
    free(sent);
    free(payload);
    sl_client_close(cl);
}

uint64_t sl_bench_stat(sl_client_t *cl, const char *name) {
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
void sl_bench_warm_partitions(const char *addr, int n) {
    sl_client_t *cl = sl_bench_connect(addr);
    double t0 = sl_bench_now_s();
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
    double t1 = sl_bench_now_s();
    uint64_t ck = sl_bench_stat(cl, "checkpoints");
    for (int i = 0; i < 2000 && sl_bench_stat(cl, "checkpoints") <= ck; i++)
        sl_bench_sleep_ms(10);
    printf("  warm-up: %d partitions created in %.2f s, their index files "
           "by the next checkpoint %.2f s later\n",
           n, t1 - t0, sl_bench_now_s() - t1);
    sl_client_close(cl);
}

double sl_bench_consumer(const char *addr, const char *topic,
                         const char *part) {
    sl_client_t *cl = sl_bench_connect(addr);
    uint64_t off = 0, total = 0;
    double t0 = sl_bench_now_s();
    for (;;) {
        sl_client_fetch_t f;
        int err = sl_client_get(cl, topic, part, off, 8u << 20, 0, &f);
        if (err != 0) {
            fprintf(stderr, "bench: get: %s\n", sl_client_error(cl));
            exit(1);
        }
        if (f.count == 0)
            break;
        total += f.count;
        off = f.next;
    }
    double el = sl_bench_now_s() - t0;
    double rate = (double)total / el;
    printf("  read %llu msgs in %.2f s: %.0f msgs/s, %.1f MB/s\n",
           (unsigned long long)total, el, rate,
           rate * (double)sl_bench_msg_size / 1e6);
    sl_client_close(cl);
    return rate;
}

/* ---- Redis Streams --------------------------------------------------------
 */

static double run_redis(uint16_t port, int window, double pct[2]) {
    redisContext *rc = redisConnect("127.0.0.1", port);
    if (rc == NULL || rc->err) {
        fprintf(stderr, "bench: redis connect failed\n");
        return 0;
    }
    char *payload = malloc(sl_bench_msg_size);
    memset(payload, 'x', sl_bench_msg_size);
    uint64_t *sent = calloc((size_t)window, sizeof *sent);
    size_t head = 0, inflight = 0;
    uint64_t total = 0;
    sl_bench_lat_t lat = {0};
    double t0 = sl_bench_now_s(), end = t0 + sl_bench_secs;
    while (sl_bench_now_s() < end || inflight > 0) {
        while (inflight < (size_t)window && sl_bench_now_s() < end) {
            redisAppendCommand(rc, "XADD bench * v %b", payload,
                               sl_bench_msg_size);
            sent[(head + inflight) % (size_t)window] = sl_mono_ns();
            inflight++;
        }
        redisReply *r;
        if (redisGetReply(rc, (void **)&r) != REDIS_OK) {
            fprintf(stderr, "bench: redis: %s\n", rc->errstr);
            break;
        }
        freeReplyObject(r);
        sl_bench_lat_add(&lat, sl_mono_ns() - sent[head]);
        head = (head + 1) % (size_t)window;
        inflight--;
        total++;
    }
    double el = sl_bench_now_s() - t0;
    double rate = (double)total / el;
    printf("  %llu XADDs in %.2f s: %.0f msgs/s, %.1f MB/s\n",
           (unsigned long long)total, el, rate,
           rate * (double)sl_bench_msg_size / 1e6);
    sl_bench_lat_print(&lat, pct);
    free(lat.lat);
    free(sent);
    free(payload);
    redisFree(rc);
    return rate;
}

double sl_bench_redis(const char *fsync, double pct[2]) {
    char dir[512], log[600], portbuf[16];
    snprintf(dir, sizeof dir, "%s/redis-%s", sl_bench_tmproot, fsync);
    mkdir(dir, 0755);
    snprintf(log, sizeof log, "%s.log", dir);
    uint16_t port = sl_bench_free_port();
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
    int pid = sl_bench_spawn(argv, log);
    if (sl_bench_wait_port(port) != 0) {
        printf("  redis-server did not start; skipping\n");
        sl_bench_stop(pid);
        return 0;
    }
    double rate = run_redis(port, 1000, pct);
    sl_bench_stop(pid);
    return rate;
}
