/*
 * bench/kafka: the Kafka listener's data path beside the native protocol,
 * in one run on one sluice-broker (fsync=always), with librdkafka as the
 * Kafka client:
 *   [1] native batch puts (mput of 1000), 1 partition, 2 producers;
 *   [2] a librdkafka producer (batched, acks=all, idempotent) into one
 *       partition through the Kafka listener, and its ratio to [1];
 *   [3] native get read-back of [1];
 *   [4] a librdkafka consumer reading [2] back;
 *   [5] ack latency at a paced 20,000 msgs/s: librdkafka produce to
 *       delivery report, and produce to a tailing librdkafka consumer
 *       receiving it (end to end, through long polls).
 * It starts its own bin/sluice-broker on free 127.0.0.1 ports in a
 * temporary directory and stops it by pid. Figures are printed, never
 * asserted. Environment: SL_BIN (default ./bin), BENCH_SECONDS (default 2
 * per case), BENCH_MSG_SIZE (default 100).
 */
#include "client.h"
#include "clock.h"
#include "error.h"

#include <fcntl.h>
#include <librdkafka/rdkafka.h>
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

static double secs = 2.0;
static size_t msg_size = 100;
static char tmproot[256];

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

static int port_open(uint16_t port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

typedef struct {
    int pid;
    char addr[64], kaddr[64];
} broker_t;

static void broker_start(broker_t *b) {
    char data[512], log[512];
    snprintf(data, sizeof data, "%s/data", tmproot);
    snprintf(log, sizeof log, "%s/broker.log", tmproot);
    uint16_t port = free_port(), kport = free_port();
    snprintf(b->addr, sizeof b->addr, "127.0.0.1:%u", port);
    snprintf(b->kaddr, sizeof b->kaddr, "127.0.0.1:%u", kport);
    const char *bin = getenv("SL_BIN") ? getenv("SL_BIN") : "bin";
    char path[512];
    snprintf(path, sizeof path, "%s/sluice-broker", bin);
    char *argv[] = {path,     "--listen",    b->addr, "--kafka-listen",
                    b->kaddr, "--data",      data,    "--fsync",
                    "always", "--log-level", "warn",  NULL};
    b->pid = fork();
    if (b->pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execvp(argv[0], argv);
        _exit(127);
    }
    for (int i = 0; i < 500 && !(port_open(port) && port_open(kport)); i++)
        sleep_ms(20);
    if (!port_open(port) || !port_open(kport)) {
        fprintf(stderr, "bench: broker did not start (see %s)\n", log);
        exit(1);
    }
}

/* CPU seconds (user + system) used so far by pid (0: this process). */
static double cpu_s(int pid) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%s/stat", pid ? "" : "self");
    if (pid)
        snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    char buf[1024];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    unsigned long ut = 0, st = 0;
    /* Fields after the command: state is 3, utime 14, stime 15. */
    if (p == NULL || sscanf(p + 2,
                            "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u "
                            "%*u %lu %lu",
                            &ut, &st) != 2)
        return 0;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static int broker_pid;
static double cpu_b0, cpu_c0;

static void cpu_mark(void) {
    cpu_b0 = cpu_s(broker_pid);
    cpu_c0 = cpu_s(0);
}

static void cpu_print(void) {
    printf("  CPU: broker %.2f s, clients (this process) %.2f s\n",
           cpu_s(broker_pid) - cpu_b0, cpu_s(0) - cpu_c0);
}

static void broker_stop(broker_t *b) {
    kill(b->pid, SIGTERM);
    for (int i = 0; i < 1000; i++) {
        if (waitpid(b->pid, NULL, WNOHANG) == b->pid)
            return;
        sleep_ms(10);
    }
    kill(b->pid, SIGKILL);
    waitpid(b->pid, NULL, 0);
}

/* ---- latency samples ------------------------------------------------------
 */

typedef struct {
    uint64_t *v;
    size_t n, cap;
    pthread_mutex_t mu;
} lat_t;

static void lat_add(lat_t *l, uint64_t ns) {
    pthread_mutex_lock(&l->mu);
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 1 << 16;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n++] = ns;
    pthread_mutex_unlock(&l->mu);
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Prints p50/p99 and stores them (ms) in out[0..1]. */
static void lat_print(const char *what, lat_t *l, double *out) {
    if (l->n == 0) {
        printf("  %s: no samples\n", what);
        return;
    }
    qsort(l->v, l->n, sizeof *l->v, cmp_u64);
    out[0] = (double)l->v[l->n / 2] / 1e6;
    out[1] = (double)l->v[l->n * 99 / 100] / 1e6;
    printf("  %s: p50 %.3f ms  p99 %.3f ms  max %.3f ms (%zu samples)\n", what,
           out[0], out[1], (double)l->v[l->n - 1] / 1e6, l->n);
}

/* ---- native -----------------------------------------------------------------
 */

typedef struct {
    const char *addr;
    uint64_t msgs;
} nprod_t;

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

/* mput of 1000, 4 in flight, for secs. */
static void *native_producer(void *arg) {
    nprod_t *p = arg;
    sl_client_t *cl = connect_or_die(p->addr);
    char *payload = malloc(msg_size);
    memset(payload, 'x', msg_size);
    sl_client_msg_t msgs[1000];
    for (int i = 0; i < 1000; i++) {
        msgs[i].data = payload;
        msgs[i].len = msg_size;
    }
    int inflight = 0;
    double end = now_s() + secs;
    while (now_s() < end || inflight > 0) {
        while (inflight < 4 && now_s() < end) {
            if (sl_client_put_send(cl, "bench", "p0", msgs, 1000, -1, 0,
                                   NULL) != 0) {
                fprintf(stderr, "bench: put: %s\n", sl_client_error(cl));
                exit(1);
            }
            inflight++;
        }
        sl_client_ack_t ack;
        if (sl_client_put_ack(cl, &ack) != 0) {
            fprintf(stderr, "bench: ack: %s\n", sl_client_error(cl));
            exit(1);
        }
        inflight--;
        p->msgs += 1000;
    }
    free(payload);
    sl_client_close(cl);
    return NULL;
}

static double native_produce(const char *addr) {
    nprod_t ps[2] = {{addr, 0}, {addr, 0}};
    pthread_t th[2];
    double t0 = now_s();
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, native_producer, &ps[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    double el = now_s() - t0;
    double rate = (double)(ps[0].msgs + ps[1].msgs) / el;
    printf("  %llu msgs in %.2f s: %.0f msgs/s, %.1f MB/s\n",
           (unsigned long long)(ps[0].msgs + ps[1].msgs), el, rate,
           rate * (double)msg_size / 1e6);
    return rate;
}

static double native_consume(const char *addr) {
    sl_client_t *cl = connect_or_die(addr);
    uint64_t off = 0, total = 0;
    double t0 = now_s();
    for (;;) {
        sl_client_fetch_t f;
        if (sl_client_get(cl, "bench", "p0", off, 8u << 20, 0, &f) != 0) {
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

/* ---- librdkafka --------------------------------------------------------- */

static rd_kafka_conf_t *kconf(const char *kaddr, const char *const (*kv)[2],
                              size_t n) {
    char err[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    if (rd_kafka_conf_set(c, "bootstrap.servers", kaddr, err, sizeof err) !=
        RD_KAFKA_CONF_OK) {
        fprintf(stderr, "bench: %s\n", err);
        exit(1);
    }
    /* BENCH_KDEBUG: librdkafka debug contexts (e.g. "protocol"). */
    const char *dbg = getenv("BENCH_KDEBUG");
    if (dbg && *dbg)
        rd_kafka_conf_set(c, "debug", dbg, err, sizeof err);
    for (size_t i = 0; i < n; i++)
        if (rd_kafka_conf_set(c, kv[i][0], kv[i][1], err, sizeof err) !=
            RD_KAFKA_CONF_OK) {
            fprintf(stderr, "bench: %s=%s: %s\n", kv[i][0], kv[i][1], err);
            exit(1);
        }
    return c;
}

typedef struct {
    uint64_t ok, failed;
    double last_s;
    lat_t *lat;
    uint64_t sample_every;
} dr_t;

/* A message's opaque is its produce time (ns); every sample_every-th
 * delivery is sampled. */
static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    dr_t *d = opaque;
    if (m->err) {
        d->failed++;
        return;
    }
    d->ok++;
    d->last_s = now_s();
    if (d->lat && d->ok % d->sample_every == 0)
        lat_add(d->lat, sl_mono_ns() - (uint64_t)(uintptr_t)m->_private);
}

static rd_kafka_t *kproducer(const char *kaddr, dr_t *d, int linger_ms) {
    char linger[16];
    snprintf(linger, sizeof linger, "%d", linger_ms);
    const char *const kv[][2] = {
        {"enable.idempotence", "true"},
        {"acks", "all"},
        {"linger.ms", linger},
        {"batch.num.messages", "100000"},
        {"batch.size", "8000000"},
        {"message.max.bytes", "8388608"},
        {"queue.buffering.max.messages", "2000000"},
        {"queue.buffering.max.kbytes", "2000000"},
        {"message.timeout.ms", "60000"},
    };
    rd_kafka_conf_t *c = kconf(kaddr, kv, sizeof kv / sizeof kv[0]);
    rd_kafka_conf_set_dr_msg_cb(c, dr_cb);
    rd_kafka_conf_set_opaque(c, d);
    char err[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof err);
    if (rk == NULL) {
        fprintf(stderr, "bench: %s\n", err);
        exit(1);
    }
    return rk;
}

static void kproduce_one(rd_kafka_t *rk, const char *topic, const char *v,
                         size_t len) {
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0),
            RD_KAFKA_V_VALUE((void *)v, len),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_OPAQUE((void *)(uintptr_t)sl_mono_ns()), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
            return;
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            fprintf(stderr, "bench: produce: %s\n", rd_kafka_err2str(e));
            exit(1);
        }
        rd_kafka_poll(rk, 1);
    }
}

/* One saturating librdkafka producer (its own idempotent producer id):
 * produces for secs, then waits for every delivery. */
typedef struct {
    const char *kaddr;
    lat_t *lat;
    uint64_t ok, failed;
    double t0, last_s;
} kprod_t;

static void *kafka_producer(void *arg) {
    kprod_t *p = arg;
    dr_t d = {0, 0, 0, p->lat, 100};
    rd_kafka_t *rk = kproducer(p->kaddr, &d, 5);
    char *payload = malloc(msg_size);
    memset(payload, 'k', msg_size);
    /* Connect and learn the partition first (not timed). */
    kproduce_one(rk, "kbench", payload, msg_size);
    rd_kafka_flush(rk, 10000);
    uint64_t base = d.ok;
    p->t0 = now_s();
    double end = p->t0 + secs;
    /* At most WINDOW messages not yet delivered, as an application
     * would bound them: a producer thread that never waits only takes
     * the CPU its client library and the broker need. */
    const uint64_t window = 200000;
    uint64_t sent = 0;
    while (now_s() < end) {
        for (int i = 0; i < 1000; i++)
            kproduce_one(rk, "kbench", payload, msg_size);
        sent += 1000;
        rd_kafka_poll(rk, 0);
        while (sent > d.ok - base + window && now_s() < end + 30)
            rd_kafka_poll(rk, 5);
    }
    rd_kafka_flush(rk, 60000);
    p->ok = d.ok - base;
    p->failed = d.failed;
    p->last_s = d.last_s;
    rd_kafka_destroy(rk);
    free(payload);
    return NULL;
}

/* nprod producers into partition 0 of kbench; the rate is deliveries
 * over the time from the first start to the last delivery. *count gets
 * the messages stored (for the read-back). */
static double kafka_produce(const char *kaddr, int nprod, uint64_t *count) {
    lat_t lat = {0};
    pthread_mutex_init(&lat.mu, NULL);
    kprod_t ps[8];
    pthread_t th[8];
    for (int i = 0; i < nprod; i++) {
        memset(&ps[i], 0, sizeof ps[i]);
        ps[i].kaddr = kaddr;
        ps[i].lat = &lat;
        pthread_create(&th[i], NULL, kafka_producer, &ps[i]);
    }
    uint64_t ok = 0, failed = 0;
    double t0 = 1e300, last = 0;
    for (int i = 0; i < nprod; i++) {
        pthread_join(th[i], NULL);
        ok += ps[i].ok;
        failed += ps[i].failed;
        if (ps[i].t0 < t0)
            t0 = ps[i].t0;
        if (ps[i].last_s > last)
            last = ps[i].last_s;
    }
    double el = last - t0;
    double rate = (double)ok / el;
    printf("  %llu msgs delivered in %.2f s: %.0f msgs/s, %.1f MB/s "
           "(%llu failed)\n",
           (unsigned long long)ok, el, rate, rate * (double)msg_size / 1e6,
           (unsigned long long)failed);
    double p[2];
    lat_print("delivery latency at saturation (includes the client's "
              "queue)",
              &lat, p);
    free(lat.v);
    *count = ok + (uint64_t)nprod; /* With the untimed first ones. */
    return rate;
}

static rd_kafka_t *kconsumer(const char *kaddr, const char *topic,
                             int64_t from) {
    const char *const kv[][2] = {
        {"group.id", "bench"},
        {"enable.auto.commit", "false"},
        {"fetch.wait.max.ms", "100"},
        {"fetch.max.bytes", "52428800"},
        {"max.partition.fetch.bytes", "8388608"},
        {"queued.min.messages", "1000000"},
    };
    rd_kafka_conf_t *c = kconf(kaddr, kv, sizeof kv / sizeof kv[0]);
    char err[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof err);
    if (rk == NULL) {
        fprintf(stderr, "bench: %s\n", err);
        exit(1);
    }
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, 0)->offset = from;
    if (rd_kafka_assign(rk, l) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "bench: assign failed\n");
        exit(1);
    }
    rd_kafka_topic_partition_list_destroy(l);
    return rk;
}

static double kafka_consume(const char *kaddr, uint64_t want) {
    rd_kafka_t *rk = kconsumer(kaddr, "kbench", RD_KAFKA_OFFSET_BEGINNING);
    uint64_t got = 0;
    double t0 = now_s(), stall = t0;
    while (got < want && now_s() - stall < 10) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (m == NULL)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            got++;
            stall = now_s();
        } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            fprintf(stderr, "bench: consume: %s\n", rd_kafka_message_errstr(m));
        }
        rd_kafka_message_destroy(m);
    }
    double el = now_s() - t0;
    double rate = (double)got / el;
    printf("  read %llu of %llu msgs in %.2f s: %.0f msgs/s, %.1f MB/s "
           "(from the first fetch on, connection included)\n",
           (unsigned long long)got, (unsigned long long)want, el, rate,
           rate * (double)msg_size / 1e6);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return rate;
}

/* [5]: paced produce; a tailing consumer measures produce-to-receive from
 * the send time carried in each value. */
typedef struct {
    const char *kaddr;
    volatile int stop;
    lat_t lat;
} tail_t;

static void *tailer(void *arg) {
    tail_t *t = arg;
    rd_kafka_t *rk = kconsumer(t->kaddr, "klat", RD_KAFKA_OFFSET_END);
    while (!t->stop) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (m == NULL)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR && m->len >= 8) {
            uint64_t sent;
            memcpy(&sent, m->payload, 8);
            lat_add(&t->lat, sl_mono_ns() - sent);
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return NULL;
}

static void kafka_latency(const char *kaddr, double *prod, double *cons) {
    lat_t lat = {0};
    pthread_mutex_init(&lat.mu, NULL);
    dr_t d = {0, 0, 0, &lat, 1};
    rd_kafka_t *rk = kproducer(kaddr, &d, 0);
    char *payload = malloc(msg_size < 8 ? 8 : msg_size);
    memset(payload, 'l', msg_size);
    kproduce_one(rk, "klat", payload, msg_size); /* Creates the topic. */
    rd_kafka_flush(rk, 10000);
    lat.n = 0;
    tail_t t = {kaddr, 0, {0}};
    pthread_mutex_init(&t.lat.mu, NULL);
    pthread_t th;
    pthread_create(&th, NULL, tailer, &t);
    sleep_ms(1500); /* The consumer's assignment and first fetch. */
    const int rate = 20000;
    uint64_t t0 = sl_mono_ns(), n = 0;
    while (sl_mono_ns() - t0 < (uint64_t)(secs * 1e9)) {
        uint64_t due = t0 + n * (1000000000u / rate);
        while (sl_mono_ns() < due)
            rd_kafka_poll(rk, 0);
        uint64_t now = sl_mono_ns();
        memcpy(payload, &now, 8);
        kproduce_one(rk, "klat", payload, msg_size);
        n++;
    }
    rd_kafka_flush(rk, 30000);
    sleep_ms(500);
    t.stop = 1;
    pthread_join(th, NULL);
    printf("  %llu msgs at %d msgs/s (acks=all, idempotent, linger.ms=0)\n",
           (unsigned long long)n, rate);
    lat_print("produce ack latency (produce() to delivery report)", &lat, prod);
    lat_print("consume latency (produce() to a tailing consumer's poll)",
              &t.lat, cons);
    rd_kafka_destroy(rk);
    free(payload);
    free(lat.v);
    free(t.lat.v);
}

int main(void) {
    const char *s = getenv("BENCH_SECONDS");
    if (s && atof(s) > 0)
        secs = atof(s);
    s = getenv("BENCH_MSG_SIZE");
    if (s && atoi(s) > 0)
        msg_size = (size_t)atoi(s);
    snprintf(tmproot, sizeof tmproot, "%s/sluice-kbench.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (mkdtemp(tmproot) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    printf("bench/kafka: %zu-byte messages, %.1f s per case, loopback, "
           "fsync=always, %ld cores, librdkafka %s\n",
           msg_size, secs, sysconf(_SC_NPROCESSORS_ONLN),
           rd_kafka_version_str());
    broker_t b;
    broker_start(&b);
    broker_pid = b.pid;
    printf("\n[1] native batch puts (mput of 1000), 1 partition, 2 "
           "producers\n");
    cpu_mark();
    double native = native_produce(b.addr);
    cpu_print();
    printf("\n[2] librdkafka producers (2, like [1]), 1 partition, acks=all, "
           "idempotent, linger.ms=5, batches up to 8 MB\n");
    uint64_t kcount;
    cpu_mark();
    double kprod = kafka_produce(b.kaddr, 2, &kcount);
    cpu_print();
    printf("  ratio to native [1]: %.2f (target >= 0.80); target >= "
           "1,000,000 msgs/s: %s\n",
           kprod / native, kprod >= 1e6 ? "met" : "NOT met");
    printf("\n[3] native get, read-back of [1]\n");
    cpu_mark();
    double ncons = native_consume(b.addr);
    cpu_print();
    printf("\n[4] librdkafka consumer, read-back of [2]\n");
    cpu_mark();
    double kcons = kafka_consume(b.kaddr, kcount);
    cpu_print();
    printf("  target >= 2,000,000 msgs/s: %s\n",
           kcons >= 2e6 ? "met" : "NOT met");
    printf("\n[5] latency, paced\n");
    double pl[2] = {0, 0}, cl[2] = {0, 0};
    kafka_latency(b.kaddr, pl, cl);
    broker_stop(&b);
    printf("\nsummary\n");
    printf("  native mput produce:      %10.0f msgs/s\n", native);
    printf("  Kafka produce (librdkafka):%10.0f msgs/s (%.2fx native)\n", kprod,
           kprod / native);
    printf("  native get consume:       %10.0f msgs/s\n", ncons);
    printf("  Kafka consume (librdkafka):%10.0f msgs/s (%.2fx native)\n", kcons,
           kcons / ncons);
    printf("  Kafka produce ack latency: p50 %.3f ms, p99 %.3f ms\n", pl[0],
           pl[1]);
    printf("  Kafka consume latency:     p50 %.3f ms, p99 %.3f ms\n", cl[0],
           cl[1]);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmproot);
    if (system(cmd) != 0)
        fprintf(stderr, "bench: could not remove %s\n", tmproot);
    return 0;
}
