/*
 * Helpers shared by the broker benchmarks (bench/broker.c, bench/kafka.c),
 * in benchkit.c. Figures are printed, never asserted; a setup error (a
 * server that does not start, a failed connection) exits the benchmark
 * with status 1. Latency percentiles are returned, where asked for, in
 * pct[0] (p50) and pct[1] (p99), in milliseconds.
 */
#ifndef SL_TEST_BENCHKIT_H
#define SL_TEST_BENCHKIT_H

#include "client.h"

#include <stddef.h>
#include <stdint.h>

/* Seconds per case (BENCH_SECONDS), message size (BENCH_MSG_SIZE) and the
 * temporary directory the servers keep their data in, set by the
 * benchmark's main() before anything else runs. */
extern double sl_bench_secs;
extern size_t sl_bench_msg_size;
/* When set, sl_bench_producers' producer i of n writes only its own share
 * of the partitions, i*nparts/n..(i+1)*nparts/n-1, as an application gives
 * each of its producers its own tables (bench/kafka's [7]); when 0 (the
 * default) every producer writes all of them round robin. */
extern int sl_bench_share;
extern char sl_bench_tmproot[256];

double sl_bench_now_s(void);
void sl_bench_sleep_ms(int ms);
/* A TCP port on 127.0.0.1 that was free a moment ago. */
uint16_t sl_bench_free_port(void);
/* Waits up to 10 s until 127.0.0.1:port accepts; 0, or -1. */
int sl_bench_wait_port(uint16_t port);
/* Starts argv with stdout and stderr appended to log; returns the pid. */
int sl_bench_spawn(char *const argv[], const char *log);
/* SIGTERM, up to 10 s, then SIGKILL; reaps the process. */
void sl_bench_stop(int pid);
/* Resident memory of pid in KiB (-1 when unknown). */
long sl_bench_rss_kb(int pid);
/* CPU seconds (user + system, all threads) pid has used so far; 0 when
 * unknown. */
double sl_bench_cpu_s(int pid);

/* A server the benchmark started. */
typedef struct {
    int pid;
    uint16_t port;
    char addr[64];
} sl_bench_server_t;

/* Starts SL_BIN/sluice-broker (./bin by default) on a free port with
 * --fsync fsync, data in TMPROOT/name and its log in TMPROOT/name.log,
 * followed by the NULL-terminated flags extra (NULL for none, at most
 * 38), and waits until the text listener accepts. */
void sl_bench_broker_start(sl_bench_server_t *s, const char *fsync,
                           const char *name, const char *const *extra);
/* A lib/client connection (the caller closes it). */
sl_client_t *sl_bench_connect(const char *addr);
/* The broker's counter name from `stats` (0 when absent). */
uint64_t sl_bench_stat(sl_client_t *cl, const char *name);

/* Latency samples in ns; the caller frees lat. */
typedef struct {
    uint64_t *lat;
    size_t n, cap;
} sl_bench_lat_t;

void sl_bench_lat_add(sl_bench_lat_t *l, uint64_t ns);
/* Sorts the samples and prints p50, p99, p99.9 and max; fills pct when it
 * is not NULL. */
void sl_bench_lat_print(sl_bench_lat_t *l, double pct[2]);

/* nprod threads, each with its own connection, put batch messages a
 * request (mput when > 1) into topic "bench", partitions "p<k % nparts>"
 * round robin, window requests in flight, for sl_bench_secs. Prints the
 * rate, and the ack latency when pct is not NULL. Returns msgs/s. */
double sl_bench_producers(const char *addr, int nprod, int batch, int nparts,
                          int window, double pct[2]);
/* Single puts into bench/paced at rate msgs/s, open loop; prints the
 * achieved rate and the latency from each put's scheduled time to its
 * ack. */
void sl_bench_paced(const char *addr, int rate, double pct[2]);
/* Puts one message into each of bench/p0..p<n-1> and waits for the next
 * checkpoint (their index files), printing how long both took. */
void sl_bench_warm_partitions(const char *addr, int n);
/* Reads topic/part from offset 0 to its end with gets of 8 MiB; prints
 * and returns msgs/s. */
double sl_bench_consumer(const char *addr, const char *topic, const char *part);
/* Starts redis-server (appendonly yes, appendfsync fsync) on a free port
 * and runs XADDs pipelined 1000 deep for sl_bench_secs; prints the rate
 * and latency. Returns msgs/s, 0 when redis-server does not start. */
double sl_bench_redis(const char *fsync, double pct[2]);

#endif
