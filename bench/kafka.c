/*
 * bench/kafka: sluice-broker's Kafka listener driven by librdkafka (the C
 * client kcat, Python's confluent-kafka and many others are built on)
 * beside the native protocol and Redis Streams, on the same broker in the
 * same run, fsync=always, 100-byte messages. Figures are printed, never
 * asserted. Each round starts a fresh broker and runs:
 *   [1] native mput of 1000, 1 partition, 2 producers (bench/broker's [1]);
 *   [2] librdkafka producers, 1 topic of 1 partition: 2 producers as
 *       [1] has (each its own instance, thread and connection), acks=all,
 *       enable.idempotence=true, batch.num.messages 10000, at most 30,000
 *       messages queued each and linger.ms=500 (docs/kafka.md "Settings
 *       for throughput": so librdkafka's broker thread does not spin),
 *       rd_kafka_produce_batch of 1000 (the mput's size); connected (a
 *       message each delivered) before the clock starts; rate from the
 *       first timed send to the last delivery report; one latency sample
 *       a batch of 1000, as [1] takes one an mput;
 *   [3] native get of [1] to its end, 8 MiB a get;
 *   [4] librdkafka consumer of [2] from the beginning to the end
 *       (fetches of up to 8 MiB, as the native gets);
 *   [1p], [2p] (with [1] and [2], after [4]): [1] and [2] again over 4
 *       partitions (native bench/p0..p3, Kafka topic kbench4 created
 *       with 4), each of the 2 producers writing its own 2: one request
 *       in flight per partition no longer serialises an idempotent
 *       librdkafka producer on every fsync;
 *   [5] ack latency at a paced 50,000 msgs/s (open loop, from each
 *       message's scheduled time): native single puts, and librdkafka
 *       delivery reports (which include linger.ms);
 *   [6] produce-to-consume latency at a paced 20,000 msgs/s: a native put
 *       read by a native long-polling get, and a librdkafka producer read
 *       by a librdkafka consumer (the send time travels in the payload);
 *   [7] 10,000 native partitions (mput of 100, round robin, P (16)
 *       producers; warmed with a message each) and 10,000 Kafka topics
 *       (created by one CreateTopics; the producers fetch all topics'
 *       metadata and have one message a topic delivered before the
 *       clock; then P idempotent producers write produce_batch runs of
 *       100 per topic, round robin, so a batch holds 100 as the mput
 *       does); on both sides producer j of P writes only its own share,
 *       partitions j*10000/P..(j+1)*10000/P-1 (since session 10; before,
 *       every producer wrote all 10,000), as an application gives each
 *       producer instance its own tables; with P other than 2, one topic
 *       (one native partition) is also written by P producers, [7]'s
 *       "of one"; should the idempotent producers stall, the run is
 *       repeated with enable.idempotence=false and the summary says so;
 *   [8] Redis Streams XADD, appendfsync always, pipelined 1000 deep;
 *   [9] one message a request (issue 21's small batches): native single
 *       pipelined puts, window 1000, beside a librdkafka producer with
 *       linger.ms=0 and batch.num.messages=1 (one message a Produce),
 *       1000 requests in flight (so enable.idempotence=false), 1
 *       producer each; with the broker's read/write system calls and
 *       context switches per message (/proc);
 *   [m] the client's ceiling, after the broker has stopped: the
 *       producers of [2] and of [7] against librdkafka's own mock cluster
 *       (one broker on a thread of this process, storing in memory and
 *       acknowledging at once), with the mock's CPU counted apart from
 *       the clients'; the mock's auto-created topics have 4 partitions,
 *       so its 10,000 partitions are 2,500 topics of 4, written by [7]'s
 *       P producers, each its own share (and with P other than 2 one
 *       topic by P producers too).
 * Then a table: per figure the median of the rounds and their range,
 * with the targets.
 * Environment: SL_BIN (default ./bin), BENCH_SECONDS (default 2 per case),
 * BENCH_ROUNDS (default 3), BENCH_MSG_SIZE (default 100); for experiments
 * BENCH_CASES (the digits of the cases to run; a "k" runs the Kafka half
 * of [7] alone, an "m" the mock cluster's [m], with its 10,000
 * partitions when 7 or k is there too), BENCH_RDKAFKA_PRODUCER and
 * BENCH_RDKAFKA_CONSUMER (librdkafka settings "key=value;..." added to the
 * bench's own; the figures are then not the documented ones),
 * BENCH_KAFKA_SINGLE (rd_kafka_produce per message instead of produce_batch);
 * BENCH_KAFKA_10K_PRODUCERS: [7]'s P on both sides (default 16).
 */
#include "benchkit.h"
#include "client.h"
#include "clock.h"
#include "error.h"

#include <dirent.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_ROUNDS 9
#define KTOPICS 10000

/* The figures of one round. */
enum {
    F_NPUT,
    F_KPUT,
    F_NGET,
    F_KGET,
    F_NACK50,
    F_NACK99,
    F_KACK50,
    F_KACK99,
    F_NE2E50,
    F_NE2E99,
    F_KE2E50,
    F_KE2E99,
    F_N10K,
    F_K10K,
    F_REDIS,
    F_REDIS50,
    F_REDIS99,
    /* CPU microseconds per message of the throughput cases: the broker's,
     * and the bench process's (the clients: librdkafka's threads or the
     * native client's). */
    F_NPUT_B,
    F_NPUT_C,
    F_KPUT_B,
    F_KPUT_C,
    F_NGET_B,
    F_NGET_C,
    F_KGET_B,
    F_KGET_C,
    F_N10K_B,
    F_N10K_C,
    F_K10K_B,
    F_K10K_C,
    /* [9] small batches: rates, and the broker's system calls and
     * context switches per message. */
    F_NSMALL,
    F_KSMALL,
    F_NSMALL_SC,
    F_KSMALL_SC,
    F_NSMALL_CS,
    F_KSMALL_CS,
    F_NSMALL_B,
    F_KSMALL_B,
    /* [m] the client's ceiling: [2] and [7] against librdkafka's own mock
     * cluster; CPU per message of the mock's thread and of the clients. */
    F_MPUT,
    F_MPUT_B,
    F_MPUT_C,
    F_M10K,
    F_M10K_B,
    F_M10K_C,
    /* [7]'s "of one topic": one topic (native: one partition) written by
     * as many producers as [7] has (p10k); the same figures as [1], [2]
     * and [m]'s one topic when p10k is 2. */
    F_NPUT_P,
    F_KPUT_P,
    F_MPUT_P,
    /* [1p] and [2p]: one topic of 4 partitions, native 4 partitions. */
    F_NPUT4,
    F_KPUT4,
    NFIG
};
static double fig[MAX_ROUNDS][NFIG];
static char kaddr[64];
/* The last Kafka read's rate from its start (its CPU is per message). */
static double kget_overall;
/* Rounds whose 10,000-topic figure needed enable.idempotence=false. */
static int k10k_plain;
/* Partitions written per topic by the throughput producers: 1, but 4 on
 * the mock cluster, whose auto-created topics have 4 (so [m] writes
 * 2,500 topics of 4 partitions where [7] writes 10,000 of 1). */
static int kparts = 1;
/* Producers of [7] and of [m]'s 10,000 partitions, on both sides
 * (BENCH_KAFKA_10K_PRODUCERS); each writes its own share of the
 * partitions. 16: the fewest at which librdkafka's CPU a message stops
 * falling, its walk of the instance's partitions no longer dominating
 * (docs/performance.md, session 10). */
static int p10k = 16;
/* BENCH_CASES: the cases to run, as digits ("27": [2] and [7]); all when
 * unset. Skipped figures print as 0. */
static const char *cases;

static int want(int c) {
    return cases == NULL || strchr(cases, '0' + c) != NULL;
}

static void die(const char *what, const char *why) {
    fprintf(stderr, "bench/kafka: %s: %s\n", what, why);
    exit(1);
}

static void kset(rd_kafka_conf_t *conf, const char *k, const char *v) {
    char err[256];
    if (rd_kafka_conf_set(conf, k, v, err, sizeof err) != RD_KAFKA_CONF_OK)
        die(k, err);
}

/* Applies the settings "key=value;key=value" of environment variable var
 * (for experiments: the figures printed are then not the documented
 * ones). */
static void kset_env(rd_kafka_conf_t *conf, const char *var) {
    const char *v = getenv(var);
    if (v == NULL || *v == 0)
        return;
    char *copy = strdup(v), *save = NULL;
    for (char *kv = strtok_r(copy, ";", &save); kv != NULL;
         kv = strtok_r(NULL, ";", &save)) {
        char *eq = strchr(kv, '=');
        if (eq == NULL)
            die(var, "expected key=value;key=value");
        *eq = 0;
        kset(conf, kv, eq + 1);
    }
    free(copy);
}

/* ---- librdkafka producer ------------------------------------------------ */

/* Delivery reports: each message's opaque is the time it counts from. */
typedef struct {
    uint64_t ok, failed, last_ns;
    sl_bench_lat_t lat;
} kstat_t;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    kstat_t *st = opaque;
    uint64_t now = sl_mono_ns();
    if (m->err != 0) {
        if (st->failed++ == 0)
            fprintf(stderr, "bench/kafka: delivery failed: %s\n",
                    rd_kafka_err2str(m->err));
        return;
    }
    st->ok++;
    st->last_ns = now;
    /* Messages sent without a time (0) are counted only: the throughput
     * cases time one message a chunk, as the native side times one ack a
     * request. */
    if (m->_private != NULL)
        sl_bench_lat_add(&st->lat, now - (uint64_t)(uintptr_t)m->_private);
}

/* Producer kinds: KP_RATE the throughput cases' ([2], [7]), KP_LAT the
 * paced latency cases' ([5], [6]), KP_SMALL case [9]'s. */
enum { KP_RATE, KP_LAT, KP_SMALL };

/* A producer, acks=all. KP_LAT: linger.ms=5, batches of up to 10,000.
 * KP_RATE: batches of 10,000, at most 30,000 messages queued (three
 * batches) and linger.ms=500, longer than a message waits in that queue
 * even when the rate falls tenfold (session 10: with 50, a loaded round
 * slowed the rate, the spin below began and took the client's core):
 * librdkafka 2.0's idempotent producer keeps one Produce request in flight
 * per partition, and while it waits, a ready batch whose first message
 * was queued more than linger.ms ago makes its broker thread poll with a
 * zero timeout, over and over, until the reply (docs/kafka.md "Settings
 * for throughput"); with these settings it sleeps in poll() instead.
 * KP_SMALL (case [9]): one message a Produce request (linger.ms=0,
 * batch.num.messages=1) with up to small requests in flight, the native
 * side's window (librdkafka allows more than 5 only without
 * idempotence). */
static rd_kafka_t *kproducer(kstat_t *st, int idempotent, int kind, int small) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char err[256];
    kset(conf, "bootstrap.servers", kaddr);
    kset(conf, "acks", "all");
    kset(conf, "enable.idempotence", idempotent ? "true" : "false");
    kset(conf, "queue.buffering.max.messages", "100000");
    if (kind == KP_SMALL) {
        char w[16];
        snprintf(w, sizeof w, "%d", small);
        kset(conf, "linger.ms", "0");
        kset(conf, "batch.num.messages", "1");
        kset(conf, "max.in.flight.requests.per.connection", w);
    } else if (kind == KP_RATE) {
        kset(conf, "linger.ms", "500");
        kset(conf, "batch.num.messages", "10000");
        kset(conf, "queue.buffering.max.messages", "30000");
    } else {
        kset(conf, "linger.ms", "5");
        kset(conf, "batch.num.messages", "10000");
    }
    kset(conf, "batch.size", "8000000");
    kset(conf, "message.max.bytes", "8000000");
    kset(conf, "queue.buffering.max.kbytes", "1048576");
    kset_env(conf, "BENCH_RDKAFKA_PRODUCER");
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_conf_set_opaque(conf, st);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (rk == NULL)
        die("producer", err);
    return rk;
}

/* Enqueues one message to partition part counted from t_ns, waiting
 * while the queue is full. */
static void kproduce_p(rd_kafka_t *rk, rd_kafka_topic_t *rkt, int part,
                       const void *data, size_t len, uint64_t t_ns) {
    while (rd_kafka_produce(rkt, part, RD_KAFKA_MSG_F_COPY, (void *)data, len,
                            NULL, 0, (void *)(uintptr_t)t_ns) != 0) {
        if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            die("produce", rd_kafka_err2str(rd_kafka_last_error()));
        rd_kafka_poll(rk, 1);
    }
}

static void kproduce(rd_kafka_t *rk, rd_kafka_topic_t *rkt, const void *data,
                     size_t len, uint64_t t_ns) {
    kproduce_p(rk, rkt, 0, data, len, t_ns);
}

static void kflush(rd_kafka_t *rk) {
    if (rd_kafka_flush(rk, 120000) != 0)
        die("flush", "messages still undelivered after 120 s");
}

/* Waits for the broker at addr to finish its next checkpoint (which
 * writes the index files of partitions written since the last one), as
 * sl_bench_warm_partitions does after its warm-up; returns the seconds
 * waited. */
static double wait_checkpoint(const char *addr) {
    double t0 = sl_bench_now_s();
    sl_client_t *cl = sl_bench_connect(addr);
    uint64_t ck = sl_bench_stat(cl, "checkpoints");
    for (int i = 0; i < 2000 && sl_bench_stat(cl, "checkpoints") <= ck; i++)
        sl_bench_sleep_ms(10);
    sl_client_close(cl);
    return sl_bench_now_s() - t0;
}

/* Creates topics[0..n) with one partition each in one CreateTopics
 * request (librdkafka's admin API) and waits for the next checkpoint, as
 * sl_bench_warm_partitions does natively. */
static void kafka_create(const char *addr, const char *const *topics, int n,
                         int nparts) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char err[256];
    kset(conf, "bootstrap.servers", kaddr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (rk == NULL)
        die("admin", err);
    rd_kafka_NewTopic_t **nt = calloc((size_t)n, sizeof *nt);
    for (int i = 0; i < n; i++)
        if ((nt[i] = rd_kafka_NewTopic_new(topics[i], nparts, 1, err,
                                           sizeof err)) == NULL)
            die("NewTopic", err);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *o =
        rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_request_timeout(o, 120000, err, sizeof err);
    double t0 = sl_bench_now_s();
    rd_kafka_CreateTopics(rk, nt, (size_t)n, o, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 130000);
    if (ev == NULL || rd_kafka_event_error(ev) != 0)
        die("CreateTopics", ev ? rd_kafka_event_error_string(ev) : "timeout");
    size_t cnt;
    const rd_kafka_topic_result_t **tr = rd_kafka_CreateTopics_result_topics(
        rd_kafka_event_CreateTopics_result(ev), &cnt);
    for (size_t i = 0; i < cnt; i++)
        if (rd_kafka_topic_result_error(tr[i]) != 0)
            die(rd_kafka_topic_result_name(tr[i]),
                rd_kafka_topic_result_error_string(tr[i]));
    double t1 = sl_bench_now_s();
    rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy_array(nt, (size_t)n);
    free(nt);
    rd_kafka_destroy(rk);
    (void)addr;
    printf("  warm-up: %d topics created by one CreateTopics in %.2f s\n", n,
           t1 - t0);
}

/* CPU seconds of this process's threads named name (their comm), which
 * is how the mock cluster's thread ("rdk:mock") is told from the
 * clients' threads that share its process. */
static double threads_cpu_s(const char *name) {
    double sum = 0;
    DIR *d = opendir("/proc/self/task");
    if (d == NULL)
        return 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        char path[96], buf[1024];
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "/proc/self/task/%.16s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = 0;
        buf[strcspn(buf, "\n")] = 0;
        if (strcmp(buf, name) != 0)
            continue;
        snprintf(path, sizeof path, "/proc/self/task/%.16s/stat", e->d_name);
        if ((f = fopen(path, "r")) == NULL)
            continue;
        n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = 0;
        const char *p = strrchr(buf, ')');
        unsigned long ut = 0, st = 0;
        if (p != NULL && sscanf(p + 2,
                                "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u "
                                "%*u %lu %lu",
                                &ut, &st) == 2)
            sum += (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
    }
    closedir(d);
    return sum;
}

/* CPU use over one throughput case: of the broker (process bpid), or with
 * bpid 0 of librdkafka's mock cluster, whose thread runs in this process
 * (then the clients' figure is this process's CPU without it). */
typedef struct {
    int bpid;
    double b, c, t;
} cpu_t;

static double broker_cpu_s(int bpid) {
    return bpid != 0 ? sl_bench_cpu_s(bpid) : threads_cpu_s("rdk:mock");
}

static void cpu_start(cpu_t *u, int bpid) {
    u->bpid = bpid;
    u->b = broker_cpu_s(bpid);
    u->c = sl_bench_cpu_s(getpid());
    u->t = sl_bench_now_s();
}

/* Prints the broker's and the clients' CPU since cpu_start and stores
 * them per message (rate msgs/s over the case's wall time, which includes
 * connecting) in out[0] and out[1]. */
static void cpu_end(const cpu_t *u, double rate, double out[2]) {
    double b = broker_cpu_s(u->bpid) - u->b;
    double c = sl_bench_cpu_s(getpid()) - u->c;
    if (u->bpid == 0)
        c -= b;
    double msgs = rate * (sl_bench_now_s() - u->t);
    out[0] = msgs > 0 ? b / msgs * 1e6 : 0;
    out[1] = msgs > 0 ? c / msgs * 1e6 : 0;
    printf("  CPU: %s %.2f s (%.2f us/msg), clients %.2f s (%.2f "
           "us/msg)\n",
           u->bpid != 0 ? "broker" : "mock cluster", b, out[0], c, out[1]);
}

/* One timed librdkafka producer: its own client instance and thread. */
typedef struct {
    rd_kafka_t *rk;
    rd_kafka_topic_t **rkt;
    int ntopics, run, chunk, idx, nprod;
    /* The partitions (slots, kparts a topic) it writes: [lo, hi). */
    uint64_t lo, hi;
    uint64_t t0, end, sent;
    kstat_t st;
} kprod_t;

/* Enqueues m[0..cnt) to partition part of rkt with one
 * rd_kafka_produce_batch, waiting while the queue is full. */
static void kproduce_batch(rd_kafka_t *rk, rd_kafka_topic_t *rkt, int part,
                           rd_kafka_message_t *m, int cnt) {
    while (cnt > 0) {
        int ok = rd_kafka_produce_batch(rkt, part, RD_KAFKA_MSG_F_COPY, m, cnt);
        if (ok == cnt)
            return;
        int left = 0;
        for (int i = 0; i < cnt; i++) {
            if (m[i].err == 0)
                continue;
            if (m[i].err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                die("produce", rd_kafka_err2str(m[i].err));
            m[left] = m[i];
            m[left++].err = 0;
        }
        cnt = left;
        rd_kafka_poll(rk, 1);
    }
}

/* The timed loop of one producer: chunks of chunk messages (one
 * rd_kafka_produce_batch, or with BENCH_KAFKA_SINGLE one rd_kafka_produce
 * per message), runs of run messages per partition (kparts a topic),
 * round robin over its slots [lo, hi) (from lo + idx * (hi - lo) / nprod
 * when all producers share the slots); then waits for every delivery
 * report. */
static void *kprod_main(void *arg) {
    kprod_t *p = arg;
    char *payload = malloc(sl_bench_msg_size);
    memset(payload, 'k', sl_bench_msg_size);
    rd_kafka_message_t *m = calloc((size_t)p->chunk, sizeof *m);
    int single = getenv("BENCH_KAFKA_SINGLE") != NULL;
    uint64_t nparts = p->hi - p->lo, n = 0;
    if (nparts == (uint64_t)p->ntopics * (uint64_t)kparts)
        n = (uint64_t)p->idx * nparts / (uint64_t)p->nprod * (uint64_t)p->run;
    while (sl_mono_ns() < p->end) {
        uint64_t slot = p->lo + (n / (uint64_t)p->run) % nparts;
        rd_kafka_topic_t *t = p->rkt[slot / (uint64_t)kparts];
        int part = (int)(slot % (uint64_t)kparts);
        uint64_t now = sl_mono_ns();
        /* The chunk's first message carries the time its latency counts
         * from: one sample a chunk, as the native producers take one an
         * mput (a sample a message cost this thread a realloc'd array of
         * millions and a sort inside the CPU figure). */
        if (single) {
            for (int i = 0; i < p->chunk; i++)
                kproduce_p(p->rk, t, part, payload, sl_bench_msg_size,
                           i == 0 ? now : 0);
        } else {
            for (int i = 0; i < p->chunk; i++) {
                m[i] = (rd_kafka_message_t){0};
                m[i].payload = payload;
                m[i].len = sl_bench_msg_size;
                m[i]._private = (void *)(uintptr_t)(i == 0 ? now : 0);
            }
            kproduce_batch(p->rk, t, part, m, p->chunk);
        }
        n += (uint64_t)p->chunk;
        p->sent += (uint64_t)p->chunk;
        rd_kafka_poll(p->rk, 0);
    }
    free(m);
    free(payload);
    rd_kafka_flush(p->rk, 30000);
    return NULL;
}

/* nprod producers, each its own librdkafka instance and thread, write
 * topics[0..ntopics) for sl_bench_secs in chunks of chunk messages (one
 * rd_kafka_produce_batch each), runs of run messages per topic, as fast
 * as their queues allow. With at least as many partitions as producers
 * each producer writes its own share, partitions (slots, kparts a topic)
 * j*N/nprod..(j+1)*N/nprod-1 of N, as an application gives each producer
 * instance its own tables, and has handles for its share's topics only
 * (librdkafka's broker thread walks every partition of every topic the
 * instance has a handle for on each wake-up: see docs/performance.md,
 * session 10); the native side of [7] shares its partitions out the same
 * way (sl_bench_share). With one topic every producer writes it. Before
 * the clock starts (and before *u's CPU count starts) each producer has
 * the cluster's metadata and has had one message a partition of its
 * share delivered (connection, producer id, the partitions' files).
 * Prints and returns msgs/s (first timed send to the last delivery
 * report), the latency of the delivery reports in pct, and in *delivered
 * how many messages the topics got; -1 when a producer stalled. */
static double kafka_produce(const char *const *topics, int ntopics, int run,
                            int chunk, int nprod, int idempotent, cpu_t *u,
                            const sl_bench_server_t *b, double pct[2],
                            uint64_t *delivered) {
    kprod_t *ps = calloc((size_t)nprod, sizeof *ps);
    int stalled = 0;
    *delivered = 0;
    for (int j = 0; j < nprod; j++) {
        kprod_t *p = &ps[j];
        p->rk = kproducer(&p->st, idempotent, KP_RATE, 0);
        p->rkt = calloc((size_t)ntopics, sizeof *p->rkt);
        p->ntopics = ntopics;
        p->run = run;
        p->chunk = chunk;
        p->idx = j;
        p->nprod = nprod;
        uint64_t nslots = (uint64_t)ntopics * (uint64_t)kparts;
        p->lo = 0;
        p->hi = nslots;
        if (nslots >= (uint64_t)nprod) {
            p->lo = (uint64_t)j * nslots / (uint64_t)nprod;
            p->hi = ((uint64_t)j + 1) * nslots / (uint64_t)nprod;
        }
        /* The metadata of every topic first: librdkafka otherwise asks
         * for each new topic handle's leader with a Metadata request of
         * its own, and an idempotent producer (at most 5 requests in
         * flight) queues its InitProducerId and every Produce behind
         * 10,000 of them (see docs/performance.md). */
        if (ntopics > 1) {
            const struct rd_kafka_metadata *md;
            if (rd_kafka_metadata(p->rk, 1, NULL, &md, 60000) != 0)
                die("metadata", "no answer in 60 s");
            rd_kafka_metadata_destroy(md);
        }
        for (uint64_t t = p->lo / (uint64_t)kparts;
             t <= (p->hi - 1) / (uint64_t)kparts; t++)
            p->rkt[t] = rd_kafka_topic_new(p->rk, topics[t], NULL);
        /* One message a partition of its share, as
         * sl_bench_warm_partitions puts one into each native partition:
         * the broker creates a partition's files on its first write. */
        for (uint64_t i = p->lo; i < p->hi; i++)
            kproduce_p(p->rk, p->rkt[i / (uint64_t)kparts],
                       (int)(i % (uint64_t)kparts), "w", 1, sl_mono_ns());
        if (rd_kafka_flush(p->rk, 60000) != 0)
            stalled = 1;
        *delivered += p->st.ok;
        p->st.ok = p->st.lat.n = 0;
    }
    if (ntopics > 1 && !stalled && b->pid != 0)
        printf("  warm-up: one message a topic delivered, their index files "
               "by the next checkpoint %.2f s later\n",
               wait_checkpoint(b->addr));
    pthread_t *th = calloc((size_t)nprod, sizeof *th);
    uint64_t t0 = sl_mono_ns(), last = t0, ok = 0, failed = 0, sent = 0;
    sl_bench_lat_t lat = {0};
    cpu_start(u, b->pid);
    for (int j = 0; j < nprod && !stalled; j++) {
        ps[j].t0 = t0;
        ps[j].end = t0 + (uint64_t)(sl_bench_secs * 1e9);
        pthread_create(&th[j], NULL, kprod_main, &ps[j]);
    }
    for (int j = 0; j < nprod && !stalled; j++)
        pthread_join(th[j], NULL);
    for (int j = 0; j < nprod; j++) {
        kprod_t *p = &ps[j];
        ok += p->st.ok;
        failed += p->st.failed;
        sent += p->sent;
        if (p->st.last_ns > last)
            last = p->st.last_ns;
        for (size_t i = 0; i < p->st.lat.n; i++)
            sl_bench_lat_add(&lat, p->st.lat.lat[i]);
    }
    if (!stalled && ok + failed < sent)
        stalled = 1;
    double rate = -1;
    if (stalled) {
        /* Say so rather than wait (librdkafka 2.0's idempotent producer
         * stalled over 10,000 topics before the metadata came first). */
        printf("  STALLED: %llu of %llu messages undelivered after the "
               "last send (librdkafka, enable.idempotence=%s)\n",
               (unsigned long long)(sent - ok - failed),
               (unsigned long long)sent, idempotent ? "true" : "false");
    } else {
        *delivered += ok;
        double el = (double)(last - t0) / 1e9;
        rate = (double)ok / el;
        printf("  %d producer%s: %llu msgs delivered (%llu failed) in %.2f "
               "s: %.0f msgs/s, %.1f MB/s\n delivery report",
               nprod, nprod > 1 ? "s" : "", (unsigned long long)ok,
               (unsigned long long)failed, el, rate,
               rate * (double)sl_bench_msg_size / 1e6);
        sl_bench_lat_print(&lat, pct);
    }
    for (int j = 0; j < nprod; j++) {
        kprod_t *p = &ps[j];
        if (stalled) {
            rd_kafka_purge(p->rk,
                           RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
            rd_kafka_flush(p->rk, 5000);
        }
        for (int i = 0; i < ntopics; i++)
            if (p->rkt[i] != NULL)
                rd_kafka_topic_destroy(p->rkt[i]);
        free(p->rkt);
        free(p->st.lat.lat);
        rd_kafka_destroy(p->rk);
    }
    free(lat.lat);
    free(th);
    free(ps);
    return rate;
}

/* [m]: the client's ceiling. The producers of [2] (and with ten_k those
 * of [7]) against librdkafka's own mock cluster (one broker on a thread of
 * this process, rd_kafka_mock_cluster_new, as test.mock.num.brokers=1
 * makes), which stores in memory and acknowledges at once: no fsync, no
 * other process. The mock's thread's CPU is counted apart from the
 * clients'. Figures go to f[F_MPUT...]. */
static void kafka_mock(double *f, const char *const *ktopics, int ten_k) {
    char err[256], saved[sizeof kaddr];
    rd_kafka_t *rk =
        rd_kafka_new(RD_KAFKA_PRODUCER, rd_kafka_conf_new(), err, sizeof err);
    if (rk == NULL)
        die("mock", err);
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, 1);
    if (mc == NULL)
        die("mock", "rd_kafka_mock_cluster_new failed");
    memcpy(saved, kaddr, sizeof saved);
    snprintf(kaddr, sizeof kaddr, "%s", rd_kafka_mock_cluster_bootstraps(mc));
    const char *one[] = {"kbench"};
    /* In librdkafka 2.0.2 only the first rd_kafka_mock_topic_create() of
     * a mock cluster is answered at once (a second one waited for minutes)
     * and the mock has no CreateTopics: the 10,000 topics are made by the
     * mock's auto-creation, a message to each from a producer without
     * idempotence (which pipelines its Metadata requests). */
    if (rd_kafka_mock_topic_create(mc, "kbench", 1, 1) != 0)
        die("mock", "topic create failed");
    if (ten_k) {
        kstat_t st = {0};
        rd_kafka_t *w = kproducer(&st, 0, KP_LAT, 0);
        double t0 = sl_bench_now_s();
        for (int i = 0; i < KTOPICS / 4; i++) {
            rd_kafka_topic_t *t = rd_kafka_topic_new(w, ktopics[i], NULL);
            kproduce(w, t, "w", 1, 0);
            rd_kafka_topic_destroy(t);
        }
        kflush(w);
        rd_kafka_destroy(w);
        free(st.lat.lat);
        printf("  warm-up: %d mock topics of 4 partitions auto-created in "
               "%.2f s\n",
               KTOPICS / 4, sl_bench_now_s() - t0);
    }
    sl_bench_server_t mb = {0}; /* pid 0: the mock's thread. */
    cpu_t u;
    double pct[2];
    uint64_t n;
    printf("[m] the client's ceiling: librdkafka's mock cluster (in this "
           "process, acks at once), 1 topic, as [2]\n");
    f[F_MPUT] = kafka_produce(one, 1, 1, 1000, 2, 1, &u, &mb, pct, &n);
    cpu_end(&u, f[F_MPUT], &f[F_MPUT_B]);
    f[F_MPUT_P] = f[F_MPUT];
    if (ten_k && p10k != 2) {
        printf("    1 topic, %d producers, as [7]'s one topic\n", p10k);
        f[F_MPUT_P] = kafka_produce(one, 1, 1, 1000, p10k, 1, &u, &mb, pct, &n);
    }
    if (ten_k) {
        printf("    10,000 partitions (2,500 topics of 4), %d producers "
               "each writing its own share, as [7]\n",
               p10k);
        kparts = 4;
        f[F_M10K] = kafka_produce(ktopics, KTOPICS / 4, 100, 100, p10k, 1, &u,
                                  &mb, pct, &n);
        kparts = 1;
        cpu_end(&u, f[F_M10K], &f[F_M10K_B]);
    }
    memcpy(kaddr, saved, sizeof saved);
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
}

/* Paced produce at rate msgs/s, open loop, latency from each message's
 * scheduled time to its delivery report. */
static void kafka_paced(const char *topic, int rate, double pct[2]) {
    kstat_t st = {0};
    rd_kafka_t *rk = kproducer(&st, 1, KP_LAT, 0);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    kproduce(rk, rkt, "w", 1, sl_mono_ns()); /* Connected and known. */
    kflush(rk);
    st.lat.n = 0;
    char *payload = malloc(sl_bench_msg_size);
    memset(payload, 'p', sl_bench_msg_size);
    uint64_t step = 1000000000ull / (uint64_t)rate, t0 = sl_mono_ns();
    uint64_t end = t0 + (uint64_t)(sl_bench_secs * 1e9), n = 0;
    for (uint64_t next = t0; next < end; next += step, n++) {
        while (sl_mono_ns() < next)
            rd_kafka_poll(rk, 0);
        kproduce(rk, rkt, payload, sl_bench_msg_size, next);
    }
    kflush(rk);
    printf("  paced (open loop) target %d msgs/s, sent %llu\n delivery report",
           rate, (unsigned long long)n);
    sl_bench_lat_print(&st.lat, pct);
    free(payload);
    free(st.lat.lat);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
}

/* [9]: one message a Produce request, window requests in flight, one
 * producer, for sl_bench_secs; rate from the first send to the last
 * delivery report. */
static double kafka_small(const char *topic, int window, double pct[2]) {
    kstat_t st = {0};
    rd_kafka_t *rk = kproducer(&st, 0, KP_SMALL, window);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    kproduce(rk, rkt, "w", 1, sl_mono_ns()); /* Connected and known. */
    kflush(rk);
    st.ok = st.lat.n = 0;
    char *payload = malloc(sl_bench_msg_size);
    memset(payload, 's', sl_bench_msg_size);
    uint64_t t0 = sl_mono_ns(), n = 0;
    uint64_t end = t0 + (uint64_t)(sl_bench_secs * 1e9);
    while (sl_mono_ns() < end) {
        /* At most window messages outstanding, as the native window. */
        while (n - st.ok - st.failed >= (uint64_t)window)
            rd_kafka_poll(rk, 1);
        kproduce(rk, rkt, payload, sl_bench_msg_size, sl_mono_ns());
        n++;
        rd_kafka_poll(rk, 0);
    }
    kflush(rk);
    double el = (double)(st.last_ns - t0) / 1e9, rate = (double)st.ok / el;
    printf("  %llu msgs delivered (%llu failed) in %.2f s: %.0f msgs/s\n "
           "delivery report",
           (unsigned long long)st.ok, (unsigned long long)st.failed, el, rate);
    sl_bench_lat_print(&st.lat, pct);
    free(payload);
    free(st.lat.lat);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    return rate;
}

/* ---- librdkafka consumer ------------------------------------------------- */

static rd_kafka_t *kconsumer(const char *wait_ms) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char err[256];
    kset(conf, "bootstrap.servers", kaddr);
    kset(conf, "enable.partition.eof", "true");
    kset(conf, "fetch.max.bytes", "8388608");
    kset(conf, "max.partition.fetch.bytes", "8388608");
    kset(conf, "receive.message.max.bytes", "16777216");
    kset(conf, "fetch.wait.max.ms", wait_ms);
    kset(conf, "queued.min.messages", "1000000");
    kset(conf, "queued.max.messages.kbytes", "1048576");
    kset_env(conf, "BENCH_RDKAFKA_CONSUMER");
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (rk == NULL)
        die("consumer", err);
    return rk;
}

/* What a consumer saw: messages, the end of the partition, and where
 * given, each message's latency from the send time in its payload. */
typedef struct {
    uint64_t n;
    int eof;
    sl_bench_lat_t *lat;
    double first; /* When the first message arrived (0: none yet). */
} consumed_t;

static void lat_of(sl_bench_lat_t *lat, const void *data, size_t len);

/* Called for every message or event the queue holds (consume_callback
 * returns as soon as the queue is empty, where consume_batch would wait
 * for its count to fill). */
static void consumed_cb(rd_kafka_message_t *m, void *opaque) {
    consumed_t *c = opaque;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        c->eof = 1;
        return;
    }
    if (m->err != 0)
        die("consume", rd_kafka_message_errstr(m));
    if (c->lat != NULL)
        lat_of(c->lat, m->payload, m->len);
    if (c->n++ == 0)
        c->first = sl_bench_now_s();
}

/* Reads partition 0 of topic from the beginning until it has read expect
 * messages (or met the end of the partition, which costs a long poll);
 * prints and returns msgs/s. */
static double kafka_consume(const char *topic, uint64_t expect) {
    rd_kafka_t *rk = kconsumer("100");
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    /* Connected and the partition's leader known before the clock
     * starts, as the native consumer is connected first. Without it
     * librdkafka 2.0 meets the start op before the Metadata reply, finds
     * no leader, and arms its 500 ms offset-query retry timer (its
     * rd_kafka_toppar_offset_request); the first message then comes
     * about 0.5 s after the start whatever the broker answers. */
    const struct rd_kafka_metadata *md;
    if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) != 0)
        die("metadata", "no answer in 10 s");
    rd_kafka_metadata_destroy(md);
    sl_bench_sleep_ms(100);
    double t0 = sl_bench_now_s();
    if (rd_kafka_consume_start(rkt, 0, RD_KAFKA_OFFSET_BEGINNING) != 0)
        die("consume_start", rd_kafka_err2str(rd_kafka_last_error()));
    consumed_t c = {0, 0, NULL, 0};
    while (!c.eof && c.n < expect)
        if (rd_kafka_consume_callback(rkt, 0, 1000, consumed_cb, &c) < 0)
            die("consume", rd_kafka_err2str(rd_kafka_last_error()));
    uint64_t total = c.n;
    double t1 = sl_bench_now_s(), el = t1 - t0;
    /* The rate is also given from the first message on (the first
     * Fetch's round trip and the client's start-up excluded). */
    double steady =
        c.first > 0 && t1 > c.first ? (double)(total - 1) / (t1 - c.first) : 0;
    printf("  read %llu msgs in %.2f s: %.0f msgs/s, %.1f MB/s; from the "
           "first message on (%.2f s after the start): %.0f msgs/s\n",
           (unsigned long long)total, el, (double)total / el,
           (double)total / el * (double)sl_bench_msg_size / 1e6, c.first - t0,
           steady);
    double rate = steady;
    kget_overall = (double)total / el;
    rd_kafka_consume_stop(rkt, 0);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    return rate;
}

/* ---- produce-to-consume latency ------------------------------------------ */

/* A paced producer thread: native put (bench/e2e) or librdkafka (topic
 * ke2e). Each payload starts with its scheduled send time. */
typedef struct {
    const char *addr; /* Native when set. */
    int rate;
    uint64_t sent; /* Read once done is set. */
    int done;      /* Set (atomically) when every message is acked. */
} e2e_prod_t;

static void *e2e_producer(void *arg) {
    e2e_prod_t *p = arg;
    char *payload = calloc(1, sl_bench_msg_size < 8 ? 8 : sl_bench_msg_size);
    size_t len = sl_bench_msg_size < 8 ? 8 : sl_bench_msg_size;
    kstat_t st = {0};
    sl_client_t *cl = NULL;
    rd_kafka_t *rk = NULL;
    rd_kafka_topic_t *rkt = NULL;
    if (p->addr != NULL) {
        cl = sl_bench_connect(p->addr);
    } else {
        rk = kproducer(&st, 1, KP_LAT, 0);
        rkt = rd_kafka_topic_new(rk, "ke2e", NULL);
    }
    uint64_t step = 1000000000ull / (uint64_t)p->rate, t0 = sl_mono_ns();
    uint64_t end = t0 + (uint64_t)(sl_bench_secs * 1e9);
    for (uint64_t next = t0; next < end; next += step) {
        while (sl_mono_ns() < next) {
            if (rk != NULL)
                rd_kafka_poll(rk, 0);
            else
                while (sl_client_inflight(cl) > 0 &&
                       sl_client_ack_ready(cl, 0) > 0) {
                    sl_client_ack_t ack;
                    if (sl_client_put_ack(cl, &ack) != 0)
                        die("put ack", sl_client_error(cl));
                }
        }
        memcpy(payload, &next, 8);
        if (rk != NULL) {
            kproduce(rk, rkt, payload, len, next);
        } else {
            sl_client_msg_t m = {payload, len};
            if (sl_client_put_send(cl, "bench", "e2e", &m, 1, -1, 0, NULL))
                die("put", sl_client_error(cl));
        }
        p->sent++;
    }
    if (rk != NULL) {
        kflush(rk);
        rd_kafka_topic_destroy(rkt);
        rd_kafka_destroy(rk);
        free(st.lat.lat);
    } else {
        while (sl_client_inflight(cl) > 0) {
            sl_client_ack_t ack;
            if (sl_client_put_ack(cl, &ack) != 0)
                die("put ack", sl_client_error(cl));
        }
        sl_client_close(cl);
    }
    free(payload);
    __atomic_store_n(&p->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void lat_of(sl_bench_lat_t *lat, const void *data, size_t len) {
    uint64_t t;
    if (len < 8)
        die("e2e", "a message without its send time");
    memcpy(&t, data, 8);
    if (t != 0)
        sl_bench_lat_add(lat, sl_mono_ns() - t);
}

/* Native (addr set) or Kafka: a consumer waits at the end of an empty
 * partition, then the producer starts; every message's latency from its
 * scheduled send to its arrival. */
static void e2e(const char *addr, int rate, double pct[2]) {
    sl_bench_lat_t lat = {0};
    e2e_prod_t p = {addr, rate, 0, 0};
    pthread_t th;
    sl_client_t *cl = NULL;
    rd_kafka_t *rk = NULL;
    rd_kafka_topic_t *rkt = NULL;
    if (addr != NULL) {
        /* The partition exists before the clock starts (message 0, sent
         * at time 0, is skipped). */
        cl = sl_bench_connect(addr);
        char z[8] = {0};
        sl_client_msg_t m = {z, 8};
        sl_client_ack_t ack;
        if (sl_client_put_send(cl, "bench", "e2e", &m, 1, -1, 0, NULL) ||
            sl_client_put_ack(cl, &ack))
            die("put", sl_client_error(cl));
    } else {
        /* The topic exists (and the consumer is at its end) before the
         * clock starts. */
        kstat_t st = {0};
        rd_kafka_t *w = kproducer(&st, 1, KP_LAT, 0);
        rd_kafka_topic_t *wt = rd_kafka_topic_new(w, "ke2e", NULL);
        char z[8] = {0};
        kproduce(w, wt, z, 8, 0);
        kflush(w);
        rd_kafka_topic_destroy(wt);
        rd_kafka_destroy(w);
        free(st.lat.lat);
        rk = kconsumer("100");
        rkt = rd_kafka_topic_new(rk, "ke2e", NULL);
        if (rd_kafka_consume_start(rkt, 0, RD_KAFKA_OFFSET_END) != 0)
            die("consume_start", rd_kafka_err2str(rd_kafka_last_error()));
        /* Let the consumer reach the end before the producer starts. */
        rd_kafka_message_t *m = rd_kafka_consume(rkt, 0, 2000);
        if (m != NULL)
            rd_kafka_message_destroy(m);
    }
    pthread_create(&th, NULL, e2e_producer, &p);
    uint64_t got = 0, off = 0;
    uint64_t give_up = sl_mono_ns() + (uint64_t)((sl_bench_secs + 60) * 1e9);
    for (;;) {
        if (sl_mono_ns() > give_up)
            die("e2e", "messages missing after 60 s");
        if (cl != NULL) {
            sl_client_fetch_t f;
            if (sl_client_get(cl, "bench", "e2e", off, 1 << 20, 100, &f) != 0)
                die("get", sl_client_error(cl));
            for (size_t i = 0; i < f.count; i++)
                lat_of(&lat, f.recs[i].data, f.recs[i].len);
            got += f.count - (off == 0 && f.count > 0);
            off = f.next;
        } else {
            consumed_t c = {0, 0, &lat, 0};
            if (rd_kafka_consume_callback(rkt, 0, 100, consumed_cb, &c) < 0)
                die("consume", rd_kafka_err2str(rd_kafka_last_error()));
            got += c.n;
        }
        if (__atomic_load_n(&p.done, __ATOMIC_ACQUIRE) && got >= p.sent)
            break;
    }
    pthread_join(th, NULL);
    printf("  %llu msgs at %d msgs/s\n produce-to-consume",
           (unsigned long long)got, rate);
    sl_bench_lat_print(&lat, pct);
    free(lat.lat);
    if (cl != NULL) {
        sl_client_close(cl);
    } else {
        rd_kafka_consume_stop(rkt, 0);
        rd_kafka_topic_destroy(rkt);
        rd_kafka_destroy(rk);
    }
}

/* The system calls (read and write calls, /proc/PID/io syscr + syscw)
 * and context switches (voluntary and not, summed over the threads in
 * /proc/PID/task) of process pid so far. */
static void proc_counts(int pid, double *syscalls, double *switches) {
    char path[64], line[256];
    *syscalls = *switches = 0;
    snprintf(path, sizeof path, "/proc/%d/io", pid);
    FILE *f = fopen(path, "r");
    if (f != NULL) {
        while (fgets(line, sizeof line, f) != NULL) {
            unsigned long long v;
            if (sscanf(line, "syscr: %llu", &v) == 1 ||
                sscanf(line, "syscw: %llu", &v) == 1)
                *syscalls += (double)v;
        }
        fclose(f);
    }
    snprintf(path, sizeof path, "/proc/%d/task", pid);
    DIR *d = opendir(path);
    if (d == NULL)
        return;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "/proc/%d/task/%.16s/status", pid,
                 e->d_name);
        if ((f = fopen(path, "r")) == NULL)
            continue;
        while (fgets(line, sizeof line, f) != NULL) {
            unsigned long long v;
            if (sscanf(line, "voluntary_ctxt_switches: %llu", &v) == 1 ||
                sscanf(line, "nonvoluntary_ctxt_switches: %llu", &v) == 1)
                *switches += (double)v;
        }
        fclose(f);
    }
    closedir(d);
}

/* The broker's counters over one case: out[0] system calls per message,
 * out[1] context switches per message. */
typedef struct {
    int pid;
    double sc, cs, t;
} kcost_t;

static void cost_start(kcost_t *c, int pid) {
    c->pid = pid;
    c->t = sl_bench_now_s();
    proc_counts(pid, &c->sc, &c->cs);
}

static void cost_end(const kcost_t *c, double rate, double *sc, double *cs) {
    double s2, c2, msgs = rate * (sl_bench_now_s() - c->t);
    proc_counts(c->pid, &s2, &c2);
    *sc = msgs > 0 ? (s2 - c->sc) / msgs : 0;
    *cs = msgs > 0 ? (c2 - c->cs) / msgs : 0;
    printf("  broker: %.2f read/write system calls and %.2f context "
           "switches per message\n",
           *sc, *cs);
}

/* ---- one round, and the table ------------------------------------------ */

static void round_run(int r, const char *const *ktopics) {
    sl_bench_server_t b;
    char name[32], kflag[64];
    snprintf(name, sizeof name, "round%d", r + 1);
    snprintf(kflag, sizeof kflag, "127.0.0.1:%u", sl_bench_free_port());
    snprintf(kaddr, sizeof kaddr, "%s", kflag);
    const char *const extra[] = {"--kafka-listen", kflag, NULL};
    sl_bench_broker_start(&b, "always", name, extra);
    uint16_t kport = (uint16_t)atoi(strchr(kflag, ':') + 1);
    if (sl_bench_wait_port(kport) != 0)
        die("broker", "the Kafka listener did not come up");
    double *f = fig[r], pct[2];
    uint64_t n1 = 0, n10k = 0;
    const char *one[] = {"kbench"};
    printf("\n=== round %d\n[1] native mput of 1000, 1 partition, 2 "
           "producers\n",
           r + 1);
    cpu_t u;
    if (want(1)) {
        cpu_start(&u, b.pid);
        f[F_NPUT] = sl_bench_producers(b.addr, 2, 1000, 1, 4, pct);
        cpu_end(&u, f[F_NPUT], &f[F_NPUT_B]);
    }
    if (want(2) || want(4)) {
        printf("[2] librdkafka, 1 topic, acks=all, idempotent, linger.ms=500, "
               "produce_batch of 1000, 2 producers\n");
        f[F_KPUT] = kafka_produce(one, 1, 1, 1000, 2, 1, &u, &b, pct, &n1);
        cpu_end(&u, f[F_KPUT], &f[F_KPUT_B]);
    }
    if (want(1) && want(3)) {
        printf("[3] native get of [1]\n");
        cpu_start(&u, b.pid);
        f[F_NGET] = sl_bench_consumer(b.addr, "bench", "p0");
        cpu_end(&u, f[F_NGET], &f[F_NGET_B]);
    }
    if (want(4)) {
        printf("[4] librdkafka consumer of [2] (rate from its first "
               "message)\n");
        cpu_start(&u, b.pid);
        f[F_KGET] = kafka_consume("kbench", n1);
        cpu_end(&u, kget_overall, &f[F_KGET_B]);
    }
    if (want(1) && want(2)) {
        /* [2p]: as [1] and [2] over 4 partitions, each producer writing
         * its own 2. An idempotent librdkafka producer keeps one Produce
         * request in flight per partition (docs/kafka.md "Settings for
         * throughput"), so on one partition it waits for every fsync
         * while a native producer overlaps four mputs; over several
         * partitions it overlaps requests too. Both sides change alike:
         * after the consumers, so that [3] and [4] read what [1] and [2]
         * wrote. */
        printf("[1p] native mput of 1000, 4 partitions, 2 producers each "
               "writing its own 2\n");
        sl_bench_warm_partitions(b.addr, 4);
        sl_bench_share = 1;
        cpu_start(&u, b.pid);
        f[F_NPUT4] = sl_bench_producers(b.addr, 2, 1000, 4, 4, NULL);
        sl_bench_share = 0;
        printf("[2p] librdkafka as [2], 1 topic of 4 partitions, 2 producers "
               "each writing its own 2\n");
        const char *four[] = {"kbench4"};
        kafka_create(b.addr, four, 1, 4);
        kparts = 4;
        uint64_t n4;
        f[F_KPUT4] =
            kafka_produce(four, 1, 1000, 1000, 2, 1, &u, &b, NULL, &n4);
        kparts = 1;
    }
    if (want(5)) {
        printf("[5] ack latency, paced 50,000 msgs/s: native put\n");
        sl_bench_paced(b.addr, 50000, &f[F_NACK50]);
        printf("    librdkafka\n");
        kafka_paced("kpaced", 50000, &f[F_KACK50]);
    }
    if (want(6)) {
        printf("[6] produce-to-consume latency, paced 20,000 msgs/s: "
               "native\n");
        e2e(b.addr, 20000, &f[F_NE2E50]);
        printf("    librdkafka\n");
        e2e(NULL, 20000, &f[F_KE2E50]);
    }
    /* [7]'s "of one": with as many producers as [7] has. */
    f[F_NPUT_P] = f[F_NPUT];
    f[F_KPUT_P] = f[F_KPUT];
    if (want(7) && p10k != 2) {
        printf("[7] 1 partition, mput of 1000, %d producers (as [1]): "
               "[7]'s \"of one\"\n",
               p10k);
        f[F_NPUT_P] = sl_bench_producers(b.addr, p10k, 1000, 1, 4, NULL);
        printf("    1 Kafka topic, %d producers (as [2])\n", p10k);
        uint64_t n1p;
        f[F_KPUT_P] =
            kafka_produce(one, 1, 1, 1000, p10k, 1, &u, &b, pct, &n1p);
    }
    if (want(7)) {
        printf("[7] 10,000 native partitions, mput of 100, %d producers each "
               "writing its own share\n",
               p10k);
        sl_bench_warm_partitions(b.addr, KTOPICS);
        sl_bench_share = 1;
        cpu_start(&u, b.pid);
        f[F_N10K] = sl_bench_producers(b.addr, p10k, 100, KTOPICS, 40, pct);
        cpu_end(&u, f[F_N10K], &f[F_N10K_B]);
        sl_bench_share = 0;
    }
    if (want(7) || (cases != NULL && strchr(cases, 'k') != NULL)) {
        printf("    10,000 Kafka topics, produce_batch of 100 a topic, %d "
               "producers each writing its own share\n",
               p10k);
        kafka_create(b.addr, ktopics, KTOPICS, 1);
        f[F_K10K] = kafka_produce(ktopics, KTOPICS, 100, 100, p10k, 1, &u, &b,
                                  pct, &n10k);
        if (f[F_K10K] < 0) {
            printf("    the same with enable.idempotence=false\n");
            f[F_K10K] = kafka_produce(ktopics, KTOPICS, 100, 100, p10k, 0, &u,
                                      &b, pct, &n10k);
            k10k_plain++;
        }
        cpu_end(&u, f[F_K10K], &f[F_K10K_B]);
    }
    if (want(9)) {
        kcost_t c;
        double cpu2[2];
        printf("[9] small batches, 1 producer, window 1000, acks after "
               "fsync: native single pipelined puts\n");
        cpu_start(&u, b.pid);
        cost_start(&c, b.pid);
        f[F_NSMALL] = sl_bench_producers(b.addr, 1, 1, 1, 1000, pct);
        cost_end(&c, f[F_NSMALL], &f[F_NSMALL_SC], &f[F_NSMALL_CS]);
        cpu_end(&u, f[F_NSMALL], cpu2);
        f[F_NSMALL_B] = cpu2[0];
        printf("    librdkafka, linger.ms=0, batch.num.messages=1 (one "
               "message a Produce request), 1000 in flight\n");
        cpu_start(&u, b.pid);
        cost_start(&c, b.pid);
        f[F_KSMALL] = kafka_small("ksmall", 1000, pct);
        cost_end(&c, f[F_KSMALL], &f[F_KSMALL_SC], &f[F_KSMALL_CS]);
        cpu_end(&u, f[F_KSMALL], cpu2);
        f[F_KSMALL_B] = cpu2[0];
    }
    {
        sl_client_t *cl = sl_bench_connect(b.addr);
        printf("  broker fsyncs %llu, average %llu us, max %llu us; RSS %ld "
               "MiB\n",
               (unsigned long long)sl_bench_stat(cl, "fsyncs"),
               (unsigned long long)sl_bench_stat(cl, "fsync_avg_us"),
               (unsigned long long)sl_bench_stat(cl, "fsync_max_us"),
               sl_bench_rss_kb(b.pid) / 1024);
        sl_client_close(cl);
    }
    sl_bench_stop(b.pid);
    if (cases == NULL || strchr(cases, 'm') != NULL)
        kafka_mock(f, ktopics,
                   cases == NULL || want(7) || strchr(cases, 'k') != NULL);
    if (want(8)) {
        printf("[8] Redis Streams XADD, appendfsync always\n");
        f[F_REDIS] = sl_bench_redis("always", &f[F_REDIS50]);
    }
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median and range of figure i over the rounds. */
static void stat3(int rounds, int i, double *med, double *lo, double *hi) {
    double v[MAX_ROUNDS];
    for (int r = 0; r < rounds; r++)
        v[r] = fig[r][i];
    qsort(v, (size_t)rounds, sizeof *v, cmp_d);
    *med = rounds % 2 ? v[rounds / 2] : (v[rounds / 2 - 1] + v[rounds / 2]) / 2;
    *lo = v[0];
    *hi = v[rounds - 1];
}

static void row(int rounds, const char *what, int ours, int peer,
                const char *unit, const char *target) {
    double m = 0, lo = 0, hi = 0, pm = 0, plo = 0, phi = 0;
    if (ours >= 0)
        stat3(rounds, ours, &m, &lo, &hi);
    if (peer >= 0)
        stat3(rounds, peer, &pm, &plo, &phi);
    int ms = strcmp(unit, "ms") == 0;
    const char *fmt = ms ? "%.2f [%.2f-%.2f]" : "%.0f [%.0f-%.0f]";
    char a[64] = "", p[64] = "";
    if (ours >= 0)
        snprintf(a, sizeof a, fmt, m, lo, hi);
    if (peer >= 0)
        snprintf(p, sizeof p, fmt, pm, plo, phi);
    printf("  %-34s %-30s %-30s %s\n", what, a, p, target);
}

int main(void) {
    const char *s = getenv("BENCH_SECONDS");
    if (s && atof(s) > 0)
        sl_bench_secs = atof(s);
    s = getenv("BENCH_MSG_SIZE");
    if (s && atoi(s) > 0)
        sl_bench_msg_size = (size_t)atoi(s);
    cases = getenv("BENCH_CASES");
    int rounds = getenv("BENCH_ROUNDS") ? atoi(getenv("BENCH_ROUNDS")) : 3;
    s = getenv("BENCH_KAFKA_10K_PRODUCERS");
    if (s && atoi(s) > 0 && atoi(s) <= 64)
        p10k = atoi(s);
    if (rounds < 1 || rounds > MAX_ROUNDS)
        rounds = 3;
    snprintf(sl_bench_tmproot, sizeof sl_bench_tmproot,
             "%s/sluice-bench-kafka.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (mkdtemp(sl_bench_tmproot) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    char **ktopics = calloc(KTOPICS, sizeof *ktopics);
    for (int i = 0; i < KTOPICS; i++) {
        ktopics[i] = malloc(16);
        snprintf(ktopics[i], 16, "kt%d", i);
    }
    double load[3] = {0};
    if (getloadavg(load, 3) < 0)
        load[0] = -1;
    printf("bench/kafka: %zu-byte messages, %.1f s per case, %d rounds, "
           "fsync=always, loopback, %ld cores, load average %.2f at start, "
           "librdkafka %s\n",
           sl_bench_msg_size, sl_bench_secs, rounds,
           sysconf(_SC_NPROCESSORS_ONLN), load[0], rd_kafka_version_str());
    for (int r = 0; r < rounds; r++)
        round_run(r, (const char *const *)ktopics);
    if (getloadavg(load, 3) < 0)
        load[0] = -1;

    printf("\nsummary: median [range] of %d rounds; load average %.2f at "
           "the end\n",
           rounds, load[0]);
    printf("  %-34s %-30s %-30s %s\n", "", "Kafka (librdkafka)",
           "native / Redis", "target");
    row(rounds, "produce, 1 topic (msgs/s)", F_KPUT, F_NPUT, "",
        ">= 1,000,000 and >= 0.8x native");
    row(rounds, "produce, 1 topic of 4 part. (msgs/s)", F_KPUT4, F_NPUT4, "",
        ">= 1,000,000 and >= 0.8x native");
    row(rounds, "consume (msgs/s)", F_KGET, F_NGET, "", ">= 2,000,000");
    row(rounds, "ack p50 at 50k/s (ms)", F_KACK50, F_NACK50, "ms", "");
    row(rounds, "ack p99 at 50k/s (ms)", F_KACK99, F_NACK99, "ms", "");
    row(rounds, "produce-to-consume p50 (ms)", F_KE2E50, F_NE2E50, "ms", "");
    row(rounds, "produce-to-consume p99 (ms)", F_KE2E99, F_NE2E99, "ms", "");
    char what[64];
    snprintf(what, sizeof what, "10,000 topics/partitions, %d prod.", p10k);
    row(rounds, what, F_K10K, F_N10K, "", ">= 80% of 1 topic");
    if (p10k != 2) {
        snprintf(what, sizeof what, "  1 topic/partition, %d prod.", p10k);
        row(rounds, what, F_KPUT_P, F_NPUT_P, "", "[7]'s one");
    }
    row(rounds, "produce: broker CPU us/msg", F_KPUT_B, F_NPUT_B, "ms", "");
    row(rounds, "produce: client CPU us/msg", F_KPUT_C, F_NPUT_C, "ms", "");
    row(rounds, "consume: broker CPU us/msg", F_KGET_B, F_NGET_B, "ms", "");
    row(rounds, "consume: client CPU us/msg", F_KGET_C, F_NGET_C, "ms", "");
    row(rounds, "10,000: broker CPU us/msg", F_K10K_B, F_N10K_B, "ms", "");
    row(rounds, "10,000: client CPU us/msg", F_K10K_C, F_N10K_C, "ms", "");
    row(rounds, "mock cluster, 1 topic (msgs/s)", F_MPUT, -1, "",
        "the client's ceiling");
    row(rounds, "  mock CPU us/msg", F_MPUT_B, -1, "ms", "");
    row(rounds, "  client CPU us/msg", F_MPUT_C, -1, "ms", "");
    if (p10k != 2) {
        snprintf(what, sizeof what, "mock cluster, 1 topic, %d prod.", p10k);
        row(rounds, what, F_MPUT_P, -1, "", "");
    }
    snprintf(what, sizeof what, "mock cluster, 10,000 part., %d prod.", p10k);
    row(rounds, what, F_M10K, -1, "", "");
    row(rounds, "  mock CPU us/msg", F_M10K_B, -1, "ms", "");
    row(rounds, "  client CPU us/msg", F_M10K_C, -1, "ms", "");
    row(rounds, "1 msg a request (msgs/s)", F_KSMALL, F_NSMALL, "", "");
    row(rounds, "  broker syscalls/msg", F_KSMALL_SC, F_NSMALL_SC, "ms", "");
    row(rounds, "  broker ctx switches/msg", F_KSMALL_CS, F_NSMALL_CS, "ms",
        "");
    row(rounds, "  broker CPU us/msg", F_KSMALL_B, F_NSMALL_B, "ms", "");
    row(rounds, "Redis XADD always (msgs/s)", -1, F_REDIS, "", "");
    row(rounds, "Redis XADD p50 (ms), window 1000", -1, F_REDIS50, "ms", "");
    row(rounds, "Redis XADD p99 (ms), window 1000", -1, F_REDIS99, "ms", "");
    if (k10k_plain > 0)
        printf("  10,000 topics: in %d of %d rounds librdkafka's idempotent "
               "producer stalled and the figure is with "
               "enable.idempotence=false\n",
               k10k_plain, rounds);
    /* The 10,000-topic target: each side against its own one topic (one
     * partition) with the same number of producers, and Kafka's 10,000
     * against native's 10,000 (the same P on both sides); with P other
     * than 2 also against [2]'s one topic of 2 producers (several
     * idempotent producers on one partition reach less than 2 do); and
     * the client's ceiling, the mock cluster's 10,000 partitions against
     * its one topic. */
    printf("  [7] with %d producers on both sides, each writing its own share "
           "of the 10,000 (its \"of one\": one topic, %d producers):\n",
           p10k, p10k);
    for (int r = 0; r < rounds; r++) {
        printf("  round %d: Kafka/native produce %.2fx, over 4 partitions "
               "%.2fx; Kafka 10,000 topics "
               "%.0f%% of 1, native 10,000 partitions %.0f%% of 1, Kafka/"
               "native 10,000 %.0f%%; mock 10,000 %.0f%% of its 1",
               r + 1, fig[r][F_KPUT] / fig[r][F_NPUT],
               fig[r][F_KPUT4] / fig[r][F_NPUT4],
               100 * fig[r][F_K10K] / fig[r][F_KPUT_P],
               100 * fig[r][F_N10K] / fig[r][F_NPUT_P],
               100 * fig[r][F_K10K] / fig[r][F_N10K],
               100 * fig[r][F_M10K] / fig[r][F_MPUT_P]);
        if (p10k != 2)
            printf("; Kafka 10,000 %.0f%% of [2]'s 1 topic (2 producers)",
                   100 * fig[r][F_K10K] / fig[r][F_KPUT]);
        printf("\n");
    }
    for (int i = 0; i < KTOPICS; i++)
        free(ktopics[i]);
    free(ktopics);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", sl_bench_tmproot);
    if (system(cmd) != 0)
        fprintf(stderr, "bench: could not remove %s\n", sl_bench_tmproot);
    return 0;
}
