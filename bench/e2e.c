/*
 * bench/e2e: the whole pipeline on this machine — a real MariaDB source,
 * sluice-capture, sluice-broker (fsync=always), sluice-apply, a real
 * MariaDB target.
 *
 *  1. Maximum sustained rate: ROWS rows (default 500,000, in 1000-row
 *     transactions) are written as fast as the source takes them while the
 *     pipeline runs; the rate is ROWS over the time until the last row is
 *     in the target.
 *  2. Commit-to-apply latency at RATE rows/s (default 10,000, as 100-row
 *     transactions) for SECONDS (default 10): each row carries the source's
 *     NOW(6) and the target table adds applied_at DEFAULT
 *     CURRENT_TIMESTAMP(6), so the latency of every row is measured in SQL
 *     on the target (same machine, same clock).
 *  3. Peak resident memory (VmHWM) of each program.
 *
 * Needs the harness (bench/e2e.sh provides it). Prints figures only.
 */
#include "client.h"
#include "clock.h"
#include "error.h"
#include "harness.h"
#include "sl_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static long count_rows(MYSQL *mysql, const char *sql) {
    char *v = sl_harness_query_value(mysql, sql);
    long n = v ? atol(v) : -1;
    free(v);
    return n;
}

static int cmp_long(const void *a, const void *b) {
    long x = *(const long *)a, y = *(const long *)b;
    return x < y ? -1 : x > y;
}

/* Waits until the target holds want rows with id >= from (bounded). */
static int wait_rows(MYSQL *target, long from, long want, int seconds) {
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT COUNT(*) FROM e2e_bench_dst.t WHERE id >= %ld", from);
    for (int i = 0; i < seconds * 20; i++) {
        if (count_rows(target, sql) >= want)
            return 0;
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return -1;
}

int main(int argc, char **argv) {
    long rows = argc > 1 ? atol(argv[1]) : 500000;
    long rate = argc > 2 ? atol(argv[2]) : 10000;
    long seconds = argc > 3 ? atol(argv[3]) : 10;
    const char *root = getenv("SL_HARNESS_ROOT");
    if (root == NULL) {
        fprintf(stderr, "bench/e2e: run through bench/e2e.sh\n");
        return 2;
    }
    MYSQL *src = sl_harness_mysql("SOURCE", NULL);
    MYSQL *dst = sl_harness_mysql("TARGET", NULL);
    sl_harness_exec(src, "DROP DATABASE IF EXISTS e2e_bench");
    sl_harness_exec(src, "CREATE DATABASE e2e_bench");
    sl_harness_exec(src, "CREATE TABLE e2e_bench.t (id BIGINT PRIMARY KEY, "
                         "a INT, b VARCHAR(32), c DECIMAL(12,2), "
                         "d DATETIME(6))");
    sl_harness_exec(dst, "DROP DATABASE IF EXISTS e2e_bench_dst");
    sl_harness_exec(dst, "CREATE DATABASE e2e_bench_dst");
    sl_harness_exec(dst, "CREATE DATABASE IF NOT EXISTS sluice");
    sl_harness_exec(dst, "CREATE TABLE e2e_bench_dst.t (id BIGINT PRIMARY "
                         "KEY, a INT, b VARCHAR(32), c DECIMAL(12,2), "
                         "d DATETIME(6), applied_at DATETIME(6) NOT NULL "
                         "DEFAULT CURRENT_TIMESTAMP(6))");
    char *file = sl_harness_query_value(src, "SELECT @@log_bin_basename");
    free(file);
    if (mysql_query(src, "SHOW MASTER STATUS") != 0)
        return 1;
    MYSQL_RES *res = mysql_store_result(src);
    MYSQL_ROW row = mysql_fetch_row(res);
    char start[300];
    snprintf(start, sizeof start, "%s:%s", row[0], row[1]);
    mysql_free_result(res);

    char dir[600], clog[700], alog[700], broker[64];
    snprintf(dir, sizeof dir, "%s/bench-e2e", root);
    snprintf(clog, sizeof clog, "%s/capture.log", dir);
    snprintf(alog, sizeof alog, "%s/apply.log", dir);
    mkdir(dir, 0700);
    int bpid = sl_harness_start_broker(dir, broker, sizeof broker);
    char source[128], target[160];
    snprintf(source, sizeof source, "mysql://%s@127.0.0.1:%u",
             getenv("SL_SOURCE_REPL_USER"), sl_harness_port("SOURCE"));
    snprintf(target, sizeof target, "mysql://%s@127.0.0.1:%u/sluice",
             getenv("SL_TARGET_USER"), sl_harness_port("TARGET"));
    char *cargv[] = {(char *)sl_harness_bin("sluice-capture"),
                     "--source",
                     source,
                     "--password-file",
                     getenv("SL_SOURCE_PASSWORD_FILE"),
                     "--broker",
                     (char *)sl_harness_log_addr(broker),
                     "--topic",
                     "e2e",
                     "--snapshot",
                     "never",
                     "--server-id",
                     "4101",
                     "--start",
                     start,
                     "--include",
                     "e2e_bench\\..*",
                     "--heartbeat",
                     "100ms",
                     "--report-interval",
                     "600s",
                     NULL};
    int cpid = sl_harness_spawn(cargv, clog);
    char *aargv[] = {(char *)sl_harness_bin("sluice-apply"),
                     "--broker",
                     (char *)sl_harness_log_addr(broker),
                     "--topic",
                     "e2e",
                     "--workers",
                     "2",
                     "--target",
                     target,
                     "--target-password-file",
                     getenv("SL_TARGET_PASSWORD_FILE"),
                     "--map",
                     "e2e_bench=e2e_bench_dst",
                     "--poll",
                     "100ms",
                     "--stats-interval",
                     "600s",
                     NULL};
    int apid = sl_harness_spawn(aargv, alog);

    printf("bench/e2e: source MariaDB -> sluice-capture -> sluice-broker "
           "(fsync=always) -> sluice-apply -> target MariaDB, one machine\n");
    fflush(stdout);

    /* 1. Maximum sustained rate. */
    char sql[256];
    uint64_t t0 = sl_mono_ns();
    for (long done = 0; done < rows; done += 1000) {
        long n = rows - done < 1000 ? rows - done : 1000;
        snprintf(sql, sizeof sql,
                 "INSERT INTO e2e_bench.t SELECT seq, seq %% 1000, "
                 "CONCAT('row-', seq), seq / 7, NOW(6) "
                 "FROM e2e_bench.seq_%ld_to_%ld",
                 done + 1, done + n);
        sl_harness_exec(src, sql);
    }
    double write_s = (sl_mono_ns() - t0) / 1e9;
    if (wait_rows(dst, 1, rows, 600) != 0) {
        fprintf(stderr, "bench/e2e: the target did not catch up; see %s\n",
                alog);
        return 1;
    }
    double total_s = (sl_mono_ns() - t0) / 1e9;
    printf("  sustained: %ld rows written in %.2f s (source alone: %.0f "
           "rows/s); all applied after %.2f s = %.0f rows/s end to end\n",
           rows, write_s, rows / write_s, total_s, rows / total_s);
    fflush(stdout);

    /* 2. Latency at a steady rate. */
    long per_trx = 100;
    long ntrx = rate * seconds / per_trx;
    uint64_t interval = 1000000000ull * per_trx / (uint64_t)rate;
    long first = rows + 1, id = first;
    uint64_t next = sl_mono_ns();
    for (long i = 0; i < ntrx; i++) {
        sl_harness_sleep_until_ns(next);
        next += interval;
        snprintf(sql, sizeof sql,
                 "INSERT INTO e2e_bench.t SELECT seq, 1, 'lat', 1.5, NOW(6) "
                 "FROM e2e_bench.seq_%ld_to_%ld",
                 id, id + per_trx - 1);
        sl_harness_exec(src, sql);
        id += per_trx;
    }
    double behind = (double)(sl_mono_ns() - next + interval) / 1e9;
    if (wait_rows(dst, first, id - first, 120) != 0) {
        fprintf(stderr, "bench/e2e: latency rows did not arrive\n");
        return 1;
    }
    snprintf(sql, sizeof sql,
             "SELECT TIMESTAMPDIFF(MICROSECOND, d, applied_at) FROM "
             "e2e_bench_dst.t WHERE id >= %ld",
             first);
    if (mysql_query(dst, sql) != 0)
        return 1;
    res = mysql_store_result(dst);
    long n = (long)mysql_num_rows(res);
    long *lat = calloc((size_t)n + 1, sizeof *lat);
    long k = 0;
    while ((row = mysql_fetch_row(res)) != NULL && k < n)
        lat[k++] = atol(row[0]);
    mysql_free_result(res);
    qsort(lat, (size_t)k, sizeof *lat, cmp_long);
    if (k > 0)
        printf("  latency at %ld rows/s (%ld rows in %ld-row transactions; "
               "writer %.2f s behind schedule): commit-to-apply p50 %.1f ms, "
               "p99 %.1f ms, p99.9 %.1f ms, max %.1f ms\n",
               rate, k, per_trx, behind > 0 ? behind : 0.0, lat[k / 2] / 1e3,
               lat[k * 99 / 100] / 1e3, lat[k * 999 / 1000] / 1e3,
               lat[k - 1] / 1e3);
    free(lat);

    /* 3. Memory. */
    printf("  peak RSS: sluice-capture %ld KiB, sluice-broker %ld KiB, "
           "sluice-apply %ld KiB\n",
           sl_harness_peak_rss_kb(cpid), sl_harness_peak_rss_kb(bpid),
           sl_harness_peak_rss_kb(apid));
    sl_harness_stop(cpid, SIGTERM, 20000);
    sl_harness_stop(apid, SIGTERM, 20000);
    sl_harness_stop(bpid, SIGTERM, 20000);
    sl_harness_exec(src, "DROP DATABASE e2e_bench");
    sl_harness_exec(dst, "DROP DATABASE e2e_bench_dst");
    mysql_close(src);
    mysql_close(dst);
    return 0;
}
