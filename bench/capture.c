/*
 * bench/capture: sluice-capture end to end, from a real MariaDB source on
 * this machine into a real sluice-broker (fsync=always).
 *
 *  1. Throughput: ROWS row changes (default 1,000,000; transactions of 1000
 *     rows over a mixed-type table) are written while capture is stopped;
 *     then capture starts at their first position and the time until its
 *     checkpoint reaches the end gives rows/s from the source's binlog into
 *     the broker, acknowledged and checkpointed.
 *  2. Latency: with capture caught up, a paced writer commits RATE rows/s
 *     (default 10,000, as 100-row transactions) for SECONDS (default 10).
 *     Each transaction's commit time is taken when COMMIT returns; its
 *     publish time is the broker's append time of its commit event. The
 *     difference is the commit-to-publish latency (ms; the broker stamps
 *     milliseconds).
 *
 * Needs the harness environment (bench/capture.sh provides it). Prints
 * figures; asserts nothing.
 */
#include "client.h"
#include "clock.h"
#include "error.h"
#include "harness.h"
#include "jsonread.h"
#include "sl_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static MYSQL *connect_source(void) { return sl_harness_mysql("SOURCE", NULL); }

static void coords(MYSQL *mysql, char *file, size_t flen, uint64_t *pos) {
    if (mysql_query(mysql, "SHOW MASTER STATUS") != 0)
        sl_test_fail(__FILE__, __LINE__, "%s", mysql_error(mysql));
    MYSQL_RES *res = mysql_store_result(mysql);
    MYSQL_ROW row = mysql_fetch_row(res);
    snprintf(file, flen, "%s", row[0]);
    *pos = strtoull(row[1], NULL, 10);
    mysql_free_result(res);
}

static int checkpoint_at(sl_client_t *cl, const char *file, uint64_t pos) {
    uint64_t earliest, latest;
    if (sl_client_offsets(cl, "__sluice_capture", "bench", &earliest,
                          &latest) != 0 ||
        latest == 0)
        return 0;
    sl_client_fetch_t fetch;
    if (sl_client_get(cl, "__sluice_capture", "bench", latest - 1, 4096, 0,
                      &fetch) != 0 ||
        fetch.count != 1)
        return 0;
    char want[256];
    snprintf(want, sizeof want, "\"file\":\"%s\",\"pos\":%llu", file,
             (unsigned long long)pos);
    return memmem(fetch.recs[0].data, fetch.recs[0].len, want, strlen(want)) !=
           NULL;
}

static int start_capture(const char *broker, const char *file, uint64_t pos,
                         const char *log) {
    char port[16], start[300], source[128];
    snprintf(port, sizeof port, "%u", sl_harness_port("SOURCE"));
    snprintf(start, sizeof start, "%s:%llu", file, (unsigned long long)pos);
    snprintf(source, sizeof source, "mysql://%s@127.0.0.1:%s",
             getenv("SL_SOURCE_REPL_USER"), port);
    char *argv[] = {(char *)sl_harness_bin("sluice-capture"),
                    "--source",
                    source,
                    "--password-file",
                    getenv("SL_SOURCE_PASSWORD_FILE"),
                    "--broker",
                    (char *)sl_harness_log_addr(broker),
                    "--topic",
                    "bench",
                    "--snapshot",
                    "never",
                    "--server-id",
                    "4001",
                    "--start",
                    start,
                    "--heartbeat",
                    "100ms",
                    "--report-interval",
                    "600s",
                    NULL};
    return sl_harness_spawn(argv, log);
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    long rows = argc > 1 ? atol(argv[1]) : 1000000;
    long rate = argc > 2 ? atol(argv[2]) : 10000;
    long seconds = argc > 3 ? atol(argv[3]) : 10;
    const char *root = getenv("SL_HARNESS_ROOT");
    if (root == NULL) {
        fprintf(stderr, "bench/capture: run through bench/capture.sh\n");
        return 2;
    }
    char dir[600], log[700], broker[64];
    snprintf(dir, sizeof dir, "%s/bench-capture", root);
    snprintf(log, sizeof log, "%s/capture.log", dir);
    mkdir(dir, 0700);
    int bpid = sl_harness_start_broker(dir, broker, sizeof broker);
    MYSQL *mysql = connect_source();
    sl_harness_exec(mysql, "DROP DATABASE IF EXISTS bench");
    sl_harness_exec(mysql, "CREATE DATABASE bench");
    sl_harness_exec(mysql, "CREATE TABLE bench.t (id BIGINT PRIMARY KEY, "
                           "a INT, b VARCHAR(32), c DECIMAL(12,2), "
                           "d DATETIME(6), e DOUBLE)");
    char file[256];
    uint64_t pos;
    coords(mysql, file, sizeof file, &pos);

    /* 1. Throughput from a binlog written while capture was stopped. */
    printf("bench/capture: %ld rows in 1000-row transactions, then %ld "
           "rows/s for %ld s; source and broker on this machine\n",
           rows, rate, seconds);
    fflush(stdout);
    char sql[256];
    for (long done = 0; done < rows; done += 1000) {
        long n = rows - done < 1000 ? rows - done : 1000;
        snprintf(sql, sizeof sql,
                 "INSERT INTO bench.t SELECT seq, seq %% 1000, "
                 "CONCAT('row-', seq), seq / 7, NOW(6), seq * 0.5 "
                 "FROM bench.seq_%ld_to_%ld",
                 done + 1, done + n);
        sl_harness_exec(mysql, sql);
    }
    char end_file[256];
    uint64_t end_pos;
    coords(mysql, end_file, sizeof end_file, &end_pos);
    sl_client_t *cl;
    if (sl_client_connect(broker, NULL, &cl) != 0) {
        fprintf(stderr, "bench/capture: cannot connect to the broker\n");
        return 1;
    }
    uint64_t t0 = sl_mono_ns();
    int cap = start_capture(broker, file, pos, log);
    while (!checkpoint_at(cl, end_file, end_pos)) {
        if (sl_mono_ns() - t0 > 600ull * 1000000000u) {
            fprintf(stderr, "bench/capture: capture did not catch up\n");
            return 1;
        }
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
    double secs = (sl_mono_ns() - t0) / 1e9;
    printf("  throughput: %ld rows in %.2f s = %.0f rows/s (binlog %.1f MB, "
           "capture peak RSS %ld KiB)\n",
           rows, secs, rows / secs, (double)(end_pos - pos) / 1e6,
           sl_harness_peak_rss_kb(cap));
    fflush(stdout);

    /* 2. Latency at a steady rate. */
    long per_trx = 100;
    long ntrx = rate * seconds / per_trx;
    int64_t *commit_ms = calloc((size_t)ntrx, sizeof *commit_ms);
    uint64_t interval = 1000000000ull * per_trx / (uint64_t)rate;
    uint64_t start_offset;
    uint64_t earliest;
    sl_client_offsets(cl, "bench", "bench.t", &earliest, &start_offset);
    uint64_t next = sl_mono_ns();
    long id = rows + 1;
    for (long i = 0; i < ntrx; i++) {
        sl_harness_sleep_until_ns(next);
        next += interval;
        snprintf(sql, sizeof sql,
                 "INSERT INTO bench.t SELECT seq, 1, 'lat', 1.5, NOW(6), 2 "
                 "FROM bench.seq_%ld_to_%ld",
                 id, id + per_trx - 1);
        sl_harness_exec(mysql, sql);
        commit_ms[i] = sl_wall_ms();
        id += per_trx;
    }
    double late_s = (sl_mono_ns() - next + interval) / 1e9;
    coords(mysql, end_file, sizeof end_file, &end_pos);
    for (int i = 0; i < 6000 && !checkpoint_at(cl, end_file, end_pos); i++) {
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    /* Every 101st message of the partition is a commit event. */
    int64_t *lat = calloc((size_t)ntrx, sizeof *lat);
    long nlat = 0;
    uint64_t offset = start_offset;
    for (int guard = 0; guard < 100000 && nlat < ntrx; guard++) {
        sl_client_fetch_t fetch;
        if (sl_client_get(cl, "bench", "bench.t", offset, 1 << 20, 0, &fetch) !=
                0 ||
            fetch.count == 0)
            break;
        for (size_t r = 0; r < fetch.count && nlat < ntrx; r++)
            if (memmem(fetch.recs[r].data, fetch.recs[r].len,
                       "\"kind\":\"commit\"", 15) != NULL) {
                lat[nlat] = fetch.recs[r].ts - commit_ms[nlat];
                nlat++;
            }
        offset = fetch.next;
    }
    qsort(lat, (size_t)nlat, sizeof *lat, cmp_i64);
    if (nlat > 0)
        printf("  latency at %ld rows/s (%ld transactions of %ld rows, "
               "writer %.2f s behind schedule at the end): commit-to-publish "
               "p50 %lld ms, p99 %lld ms, max %lld ms\n",
               rate, nlat, per_trx, late_s > 0 ? late_s : 0.0,
               (long long)lat[nlat / 2], (long long)lat[nlat * 99 / 100],
               (long long)lat[nlat - 1]);
    else
        printf("  latency: no commit events found\n");
    free(lat);
    free(commit_ms);
    sl_client_close(cl);
    sl_harness_stop(cap, SIGTERM, 20000);
    sl_harness_stop(bpid, SIGTERM, 20000);
    sl_harness_exec(mysql, "DROP DATABASE bench");
    mysql_close(mysql);
    return 0;
}
