/*
 * bench/apply: sluice-apply against its peers, measured in the same run on
 * the harness's real servers.
 *
 * Workload: ROWS row changes (default 1,000,000) on the source MariaDB in
 * transactions of 10 rows: half inserts, then updates, then deletes (5:3:2),
 * over one table, then the same over 8 tables (transaction i on table
 * i mod 8). sluice-capture publishes it to a broker first (not timed);
 * then, each starting from the same empty tables:
 *
 *   - sluice-apply into the target MariaDB (timed from start until every
 *     partition's sluice_offsets row reaches the end), one worker per
 *     table;
 *   - native MariaDB replication of the same binlog range into the same
 *     target server, the relay log fetched first (IO thread), then the SQL
 *     thread timed, with slave_parallel_threads=0 and =4 (optimistic);
 *   - cache invalidation: sluice-apply with only --redis, then only
 *     --memcached (key template {_table}:{id}, one key per row change),
 *     timed until the broker group offsets reach the end, beside a raw
 *     pipelined single-key DEL / `delete` loop over as many keys on the same
 *     servers.
 *
 * Then the same MySQL runs twice more on BENCH_DURABLE_ROWS rows (default
 * ROWS/5; 0 skips both): with the target as MariaDB ships it
 * (innodb_flush_log_at_trx_commit=1, sync_binlog=0: the redo log flushed
 * at every commit), and durable (innodb_flush_log_at_trx_commit=1,
 * sync_binlog=1: redo log and binlog flushed, as a crash-safe replica
 * runs).
 *
 * Prints rows/s and keys/s with the ratios, and the CPU seconds the target
 * server, sluice-apply and the broker used in each timed run; asserts
 * nothing. Needs
 * the harness environment (bench/apply.sh). BENCH_ROWS overrides ROWS;
 * BENCH_LAYOUTS=1 or 8 runs one layout; BENCH_APPLY_ARGS adds sluice-apply
 * flags; BENCH_APPLY_BIN runs another sluice-apply build;
 * BENCH_CACHE_WORKERS sets the cache runs' workers; BENCH_REPEAT=R times
 * every applier R times in turn and adds the median ratios; BENCH_PERF=DIR
 * records the target with `perf record` during each timed run
 * (BENCH_PERF_WIDE=1: every process).
 */
#include "benchkit.h"
#include "client.h"
#include "clock.h"
#include "error.h"
#include "harness.h"
#include "sl_test.h"

#include <arpa/inet.h>
#include <hiredis.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TRX_ROWS 10

static char dir[512];
static char broker[64];
static double now_s(void) { return (double)sl_mono_ns() / 1e9; }

/* CPU seconds of the last timed run: the target server's, sluice-apply's
 * (0 for native replication, which runs inside the target) and the
 * broker's (sluice-apply runs only). */
static double cpu_target, cpu_apply, cpu_broker;
static int broker_pid;

static int target_pid(void) {
    const char *s = getenv("SL_TARGET_PID");
    return s ? atoi(s) : 0;
}

static int spawn(char **argv, const char *logname);

/* With BENCH_PERF=DIR, the target server is sampled by `perf record`
 * (cpu-clock) during each timed run, into DIR/<name>.data, so that where
 * the server spends its time can be compared between sluice-apply and
 * native replication. Returns the perf pid, or 0. */
static int perf_start(const char *name) {
    const char *d = getenv("BENCH_PERF");
    if (d == NULL || *d == '\0')
        return 0;
    char out[700], pid[32];
    snprintf(out, sizeof out, "%s/%s.data", d, name);
    snprintf(pid, sizeof pid, "%d", target_pid());
    char *argv[] = {"/usr/bin/perf",
                    "record",
                    "-q",
                    "-e",
                    "cpu-clock",
                    "-g",
                    "-p",
                    pid,
                    "-o",
                    out,
                    NULL};
    /* BENCH_PERF_WIDE=1 samples every process (perf -a), to see the
     * target, sluice-apply and the broker side by side. */
    if (getenv("BENCH_PERF_WIDE") && atoi(getenv("BENCH_PERF_WIDE")) > 0) {
        argv[6] = "-a";
        argv[7] = "-o";
        argv[8] = out;
        argv[9] = NULL;
    }
    int p = spawn(argv, "perf.log");
    sl_harness_sleep_ms(300);
    return p;
}

static void perf_stop(int p) {
    if (p > 0)
        sl_harness_stop(p, SIGINT, 30000);
}

static void die(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bench/apply: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static void execf(MYSQL *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void execf(MYSQL *m, const char *fmt, ...) {
    char sql[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    sl_harness_exec(m, sql);
}

static void coords(MYSQL *m, char *file, size_t flen, unsigned long long *pos) {
    if (mysql_query(m, "SHOW MASTER STATUS") != 0)
        die("SHOW MASTER STATUS: %s", mysql_error(m));
    MYSQL_RES *res = mysql_store_result(m);
    MYSQL_ROW row = mysql_fetch_row(res);
    snprintf(file, flen, "%s", row[0]);
    *pos = strtoull(row[1], NULL, 10);
    mysql_free_result(res);
}

static void create_tables(MYSQL *m, const char *db, int ntables) {
    execf(m, "DROP DATABASE IF EXISTS %s", db);
    execf(m, "CREATE DATABASE %s", db);
    for (int t = 0; t < ntables; t++)
        execf(m,
              "CREATE TABLE %s.t%d (id INT PRIMARY KEY, a INT, "
              "b VARCHAR(32), c DECIMAL(12,2), d DATETIME) ENGINE=InnoDB",
              db, t);
}

/* The workload on the source; returns the transaction count. */
static long workload(MYSQL *m, const char *db, int ntables, long rows) {
    long ntrx = rows / TRX_ROWS;
    long ins = ntrx / 2, upd = ntrx * 3 / 10;
    sl_buf_t sql = SL_BUF_INIT;
    for (long i = 0; i < ntrx; i++) {
        int t = (int)(i % ntables);
        long k = i / ntables; /* Per-table transaction index. */
        sl_buf_append_str(&sql, "BEGIN;");
        if (i < ins) {
            sl_buf_printf(&sql, "INSERT INTO %s.t%d VALUES ", db, t);
            for (int r = 0; r < TRX_ROWS; r++) {
                long id = k * TRX_ROWS + r;
                sl_buf_printf(&sql,
                              "%s(%ld,%ld,'value-%ld',%ld.25,"
                              "'2024-01-01 00:00:00')",
                              r ? "," : "", id, id, id, id % 100000);
            }
        } else if (i < ins + upd) {
            long first = (k - ins / ntables) * TRX_ROWS;
            sl_buf_printf(&sql,
                          "UPDATE %s.t%d SET a=a+1, b='updated' WHERE "
                          "id BETWEEN %ld AND %ld",
                          db, t, first, first + TRX_ROWS - 1);
        } else {
            long first = (k - (ins + upd) / ntables) * TRX_ROWS;
            sl_buf_printf(&sql,
                          "DELETE FROM %s.t%d WHERE id BETWEEN %ld "
                          "AND %ld",
                          db, t, first, first + TRX_ROWS - 1);
        }
        sl_buf_append_str(&sql, ";COMMIT;");
        if ((i + 1) % 200 == 0 || i + 1 == ntrx) {
            sql.len--; /* The last ';'. */
            sl_buf_append_u8(&sql, 0);
            if (mysql_query(m, (const char *)sql.data) != 0)
                die("workload: %s", mysql_error(m));
            do {
                MYSQL_RES *res = mysql_store_result(m);
                if (res)
                    mysql_free_result(res);
            } while (mysql_next_result(m) == 0);
            if (mysql_errno(m))
                die("workload: %s", mysql_error(m));
            sl_buf_reset(&sql);
        }
    }
    sl_buf_free(&sql);
    return ntrx;
}

static char *value(MYSQL *m, const char *sql) {
    return sl_harness_query_value(m, sql);
}

/* Sum of the latest offsets of the topic's partitions. */
static unsigned long long topic_end(sl_client_t *cl, const char *topic) {
    sl_buf_t out = SL_BUF_INIT;
    unsigned long long sum = 0;
    if (sl_client_partitions(cl, topic, &out) == 0) {
        const char *s;
        sl_buf_cstr(&out, &s);
        char t[256], p[256];
        unsigned long long e, l;
        const char *line = s;
        while (line && *line) {
            if (sscanf(line, "%255s %255s %llu %llu", t, p, &e, &l) == 4 &&
                strcmp(t, topic) == 0)
                sum += l;
            line = strchr(line, '\n');
            if (line)
                line++;
        }
    }
    sl_buf_free(&out);
    return sum;
}

static unsigned long long committed_sum(sl_client_t *cl, const char *group,
                                        const char *topic, int ntables,
                                        const char *db) {
    unsigned long long sum = 0;
    for (int t = 0; t < ntables; t++) {
        char part[128];
        uint64_t off = 0;
        snprintf(part, sizeof part, "%s.t%d", db, t);
        if (sl_client_committed(cl, group, topic, part, &off) == 0)
            sum += off;
    }
    return sum;
}

static int spawn(char **argv, const char *logname) {
    char log[700];
    snprintf(log, sizeof log, "%s/%s", dir, logname);
    return (sl_harness_spawn(argv, log));
}

static void capture_all(const char *db, const char *topic, const char *file,
                        unsigned long long pos, unsigned long long expect,
                        sl_client_t *cl) {
    char source[128], start[300], include[128];
    snprintf(source, sizeof source, "mysql://%s@127.0.0.1:%u",
             getenv("SL_SOURCE_REPL_USER"), sl_harness_port("SOURCE"));
    snprintf(start, sizeof start, "%s:%llu", file, pos);
    snprintf(include, sizeof include, "%s\\..*", db);
    char *argv[] = {(char *)sl_harness_bin("sluice-capture"),
                    "--source",
                    source,
                    "--password-file",
                    getenv("SL_SOURCE_PASSWORD_FILE"),
                    "--broker",
                    broker,
                    "--topic",
                    (char *)topic,
                    "--name",
                    (char *)topic,
                    "--snapshot",
                    "never",
                    "--server-id",
                    "4201",
                    "--start",
                    start,
                    "--include",
                    include,
                    "--report-interval",
                    "600s",
                    NULL};
    int pid = spawn(argv, "capture.log");
    double t0 = now_s();
    while (topic_end(cl, topic) < expect) {
        if (now_s() - t0 > 1200)
            die("capture did not publish %llu messages in 20 min", expect);
        sl_harness_sleep_ms(200);
    }
    sl_harness_stop(pid, SIGTERM, 30000);
    if (topic_end(cl, topic) != expect)
        die("topic %s holds %llu messages, expected %llu", topic,
            topic_end(cl, topic), expect);
}

static double native(MYSQL *dst, const char *db, int ntables, int threads,
                     const char *file, unsigned long long pos,
                     const char *efile, unsigned long long epos) {
    sl_harness_exec(dst, "STOP SLAVE");
    sl_harness_exec(dst, "RESET SLAVE ALL");
    sl_harness_exec(dst, "SET sql_log_bin=0");
    create_tables(dst, db, ntables);
    sl_harness_exec(dst, "SET sql_log_bin=1");
    execf(dst, "SET GLOBAL slave_parallel_threads=%d", threads);
    sl_harness_exec(dst, "SET GLOBAL slave_parallel_mode='optimistic'");
    execf(dst,
          "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=%u, "
          "MASTER_USER='%s', MASTER_PASSWORD='%s', "
          "MASTER_LOG_FILE='%s', MASTER_LOG_POS=%llu, "
          "MASTER_USE_GTID=no",
          sl_harness_port("SOURCE"), getenv("SL_SOURCE_REPL_USER"),
          sl_harness_password("SOURCE"), file, pos);
    sl_harness_exec(dst, "START SLAVE IO_THREAD");
    /* Relay log complete before the SQL thread starts: only applying is
     * timed, as for sluice-apply, which reads a preloaded broker. */
    for (double t0 = now_s();;) {
        if (mysql_query(dst, "SHOW SLAVE STATUS") != 0)
            die("SHOW SLAVE STATUS: %s", mysql_error(dst));
        MYSQL_RES *res = mysql_store_result(dst);
        MYSQL_ROW row = mysql_fetch_row(res);
        unsigned nf = mysql_num_fields(res);
        MYSQL_FIELD *f = mysql_fetch_fields(res);
        const char *mf = NULL, *rp = NULL;
        for (unsigned i = 0; row && i < nf; i++) {
            if (strcmp(f[i].name, "Master_Log_File") == 0)
                mf = row[i];
            if (strcmp(f[i].name, "Read_Master_Log_Pos") == 0)
                rp = row[i];
        }
        int done = mf && rp && strcmp(mf, efile) == 0 &&
                   strtoull(rp, NULL, 10) >= epos;
        mysql_free_result(res);
        if (done)
            break;
        if (now_s() - t0 > 600)
            die("replica IO thread did not catch up");
        sl_harness_sleep_ms(50);
    }
    char pname[32];
    snprintf(pname, sizeof pname, "native%d-%dt", threads, ntables);
    int perf = perf_start(pname);
    double t0 = now_s(), c0 = sl_bench_cpu_s(target_pid());
    sl_harness_exec(dst, "START SLAVE SQL_THREAD");
    for (;;) {
        if (mysql_query(dst, "SHOW SLAVE STATUS") != 0)
            die("SHOW SLAVE STATUS: %s", mysql_error(dst));
        MYSQL_RES *res = mysql_store_result(dst);
        MYSQL_ROW row = mysql_fetch_row(res);
        unsigned nf = mysql_num_fields(res);
        MYSQL_FIELD *f = mysql_fetch_fields(res);
        const char *rf = NULL, *ep = NULL, *err = NULL;
        for (unsigned i = 0; row && i < nf; i++) {
            if (strcmp(f[i].name, "Relay_Master_Log_File") == 0)
                rf = row[i];
            if (strcmp(f[i].name, "Exec_Master_Log_Pos") == 0)
                ep = row[i];
            if (strcmp(f[i].name, "Last_SQL_Error") == 0)
                err = row[i];
        }
        int done = rf && ep && strcmp(rf, efile) == 0 &&
                   strtoull(ep, NULL, 10) >= epos;
        char errcopy[512] = "";
        if (err && *err)
            snprintf(errcopy, sizeof errcopy, "%s", err);
        mysql_free_result(res);
        if (done)
            break;
        if (errcopy[0])
            die("native replication failed: %s", errcopy);
        if (now_s() - t0 > 1800)
            die("native replication did not finish");
        sl_harness_sleep_ms(20);
    }
    double dt = now_s() - t0;
    cpu_target = sl_bench_cpu_s(target_pid()) - c0;
    cpu_apply = 0;
    perf_stop(perf);
    sl_harness_exec(dst, "STOP SLAVE");
    sl_harness_exec(dst, "RESET SLAVE ALL");
    return dt;
}

static double sluice_mysql(MYSQL *dst, const char *srcdb, const char *dstdb,
                           const char *topic, int ntables,
                           unsigned long long expect) {
    create_tables(dst, dstdb, ntables);
    sl_harness_exec(dst, "DROP DATABASE IF EXISTS bench_meta");
    sl_harness_exec(dst, "CREATE DATABASE bench_meta");
    char target[200], map[200], workers[16];
    snprintf(target, sizeof target, "mysql://%s@127.0.0.1:%u/bench_meta",
             getenv("SL_TARGET_USER"), sl_harness_port("TARGET"));
    snprintf(map, sizeof map, "%s=%s", srcdb, dstdb);
    snprintf(workers, sizeof workers, "%d", ntables);
    /* BENCH_APPLY_BIN: another build of sluice-apply, to compare two. */
    const char *bin = getenv("BENCH_APPLY_BIN")
                          ? getenv("BENCH_APPLY_BIN")
                          : sl_harness_bin("sluice-apply");
    char *argv[] = {(char *)bin,
                    "--broker",
                    broker,
                    "--topic",
                    (char *)topic,
                    "--group",
                    "bench-mysql",
                    "--workers",
                    workers,
                    "--target",
                    target,
                    "--target-password-file",
                    getenv("SL_TARGET_PASSWORD_FILE"),
                    "--map",
                    map,
                    "--drift",
                    "stop",
                    "--poll",
                    "100ms",
                    "--stats-interval",
                    "600s",
                    NULL,
                    NULL,
                    NULL,
                    NULL,
                    NULL,
                    NULL,
                    NULL,
                    NULL,
                    NULL};
    /* BENCH_APPLY_ARGS: up to 8 more flags, space-separated (tuning). */
    char extra[512];
    snprintf(extra, sizeof extra, "%s",
             getenv("BENCH_APPLY_ARGS") ? getenv("BENCH_APPLY_ARGS") : "");
    size_t na = 0;
    while (argv[na] != NULL)
        na++;
    for (char *tok = strtok(extra, " ");
         tok && na + 1 < sizeof argv / sizeof argv[0]; tok = strtok(NULL, " "))
        argv[na++] = tok;
    char pname[32];
    snprintf(pname, sizeof pname, "sluice-%dt", ntables);
    int perf = perf_start(pname);
    double t0 = now_s(), c0 = sl_bench_cpu_s(target_pid()),
           b0 = sl_bench_cpu_s(broker_pid);
    int pid = spawn(argv, "apply-mysql.log");
    for (;;) {
        /* The table appears when sluice-apply starts: an error is 0. */
        unsigned long long got = 0;
        if (mysql_query(dst, "SELECT IFNULL(SUM(next_offset),0) FROM "
                             "bench_meta.sluice_offsets") == 0) {
            MYSQL_RES *res = mysql_store_result(dst);
            MYSQL_ROW row = res ? mysql_fetch_row(res) : NULL;
            if (row && row[0])
                got = strtoull(row[0], NULL, 10);
            if (res)
                mysql_free_result(res);
        }
        if (got >= expect)
            break;
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid)
            die("sluice-apply exited; see %s/apply-mysql.log", dir);
        if (now_s() - t0 > 1800)
            die("sluice-apply did not finish");
        sl_harness_sleep_ms(20);
    }
    double dt = now_s() - t0;
    cpu_target = sl_bench_cpu_s(target_pid()) - c0;
    cpu_apply = sl_bench_cpu_s(pid);
    cpu_broker = sl_bench_cpu_s(broker_pid) - b0;
    perf_stop(perf);
    sl_harness_stop(pid, SIGTERM, 30000);
    return dt;
}

/* CHECKSUM TABLE of every table, source and target, must agree. */
static int same_tables(MYSQL *src, MYSQL *dst, const char *srcdb,
                       const char *dstdb, int ntables) {
    for (int t = 0; t < ntables; t++) {
        char sql[300];
        snprintf(sql, sizeof sql,
                 "SELECT CONCAT(COUNT(*),':',IFNULL(SUM("
                 "CRC32(CONCAT_WS('|',id,a,b,c,d))),0)) FROM %s.t%d",
                 srcdb, t);
        char *a = value(src, sql);
        snprintf(sql, sizeof sql,
                 "SELECT CONCAT(COUNT(*),':',IFNULL(SUM("
                 "CRC32(CONCAT_WS('|',id,a,b,c,d))),0)) FROM %s.t%d",
                 dstdb, t);
        char *b = value(dst, sql);
        int same = a && b && strcmp(a, b) == 0;
        free(a);
        free(b);
        if (!same)
            return 0;
    }
    return 1;
}

static double sluice_cache(const char *which, const char *addr,
                           const char *topic, const char *db, int ntables,
                           unsigned long long expect, int rep,
                           sl_client_t *cl) {
    char keys[700], group[64], workers[16];
    snprintf(keys, sizeof keys, "%s/keys", dir);
    FILE *f = fopen(keys, "w");
    fprintf(f, "%s.* {_table}:{id}\n", db);
    fclose(f);
    /* A group of its own per repetition: it starts from the beginning. */
    snprintf(group, sizeof group, "bench-%s-%d", which, rep);
    /* BENCH_CACHE_WORKERS: the worker count (default one per table). */
    snprintf(workers, sizeof workers, "%d",
             getenv("BENCH_CACHE_WORKERS") ? atoi(getenv("BENCH_CACHE_WORKERS"))
                                           : ntables);
    char flag[32];
    snprintf(flag, sizeof flag, "--%s", which);
    const char *bin = getenv("BENCH_APPLY_BIN")
                          ? getenv("BENCH_APPLY_BIN")
                          : sl_harness_bin("sluice-apply");
    char *argv[] = {(char *)bin,   "--broker", broker,       "--topic",
                    (char *)topic, "--group",  group,        "--workers",
                    workers,       flag,       (char *)addr, "--keys",
                    keys,          "--poll",   "100ms",      "--stats-interval",
                    "600s",        NULL};
    char log[64];
    snprintf(log, sizeof log, "apply-%s.log", which);
    double t0 = now_s();
    int pid = spawn(argv, log);
    while (committed_sum(cl, group, topic, ntables, db) < expect) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid)
            die("sluice-apply exited; see %s/%s", dir, log);
        if (now_s() - t0 > 1800)
            die("sluice-apply (%s) did not finish", which);
        sl_harness_sleep_ms(20);
    }
    double dt = now_s() - t0;
    sl_harness_stop(pid, SIGTERM, 30000);
    return dt;
}

static double raw_redis(uint16_t port, long nkeys) {
    redisContext *c = redisConnect("127.0.0.1", port);
    if (c == NULL || c->err)
        die("redis connect");
    double t0 = now_s();
    for (long i = 0; i < nkeys; i += 512) {
        long n = nkeys - i < 512 ? nkeys - i : 512;
        for (long k = 0; k < n; k++)
            redisAppendCommand(c, "DEL t0:%ld", i + k);
        for (long k = 0; k < n; k++) {
            redisReply *r;
            if (redisGetReply(c, (void **)&r) != REDIS_OK)
                die("redis reply");
            freeReplyObject(r);
        }
    }
    double dt = now_s() - t0;
    redisFree(c);
    return dt;
}

static double raw_memcached(uint16_t port, long nkeys) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        die("memcached connect");
    char buf[512 * 32], in[16384];
    double t0 = now_s();
    for (long i = 0; i < nkeys; i += 512) {
        long n = nkeys - i < 512 ? nkeys - i : 512;
        size_t len = 0;
        for (long k = 0; k < n; k++)
            len += (size_t)snprintf(buf + len, sizeof buf - len,
                                    "delete t0:%ld\r\n", i + k);
        if (write(fd, buf, len) != (ssize_t)len)
            die("memcached write");
        long lines = 0;
        while (lines < n) {
            ssize_t r = read(fd, in, sizeof in);
            if (r <= 0)
                die("memcached read");
            for (ssize_t k = 0; k < r; k++)
                lines += in[k] == '\n';
        }
    }
    double dt = now_s() - t0;
    close(fd);
    return dt;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The median of v[0..n) (v is reordered). */
static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The smallest and the largest of v[0..n). */
static double lowest(const double *v, int n) {
    double m = v[0];
    for (int i = 1; i < n; i++)
        m = v[i] < m ? v[i] : m;
    return m;
}

static double highest(const double *v, int n) {
    double m = v[0];
    for (int i = 1; i < n; i++)
        m = v[i] > m ? v[i] : m;
    return m;
}

/* One layout: the workload over ntables on the source, captured, then
 * applied by sluice-apply and by native replication (threads=0 and 4),
 * each from empty tables. tag names the databases and the topic; with
 * caches, the invalidation runs follow. */
static void run_layout(MYSQL *src, MYSQL *dst, sl_client_t *cl, int nt,
                       long rows, const char *tag, const char *label,
                       int caches) {
    char srcdb[32], dstdb[32], topic[32];
    snprintf(srcdb, sizeof srcdb, "bsrc%d%s", nt, tag);
    snprintf(dstdb, sizeof dstdb, "bdst%d%s", nt, tag);
    snprintf(topic, sizeof topic, "bench%d%s", nt, tag);
    create_tables(src, srcdb, nt);
    sl_harness_exec(src, "FLUSH BINARY LOGS");
    char file[128], efile[128];
    unsigned long long pos, epos;
    coords(src, file, sizeof file, &pos);
    double g0 = now_s();
    long ntrx = workload(src, srcdb, nt, rows);
    coords(src, efile, sizeof efile, &epos);
    fprintf(stderr, "layout %d%s: workload written in %.1f s\n", nt, tag,
            now_s() - g0);
    /* One commit marker per transaction in its table's partition. */
    unsigned long long expect = (unsigned long long)(rows + ntrx);
    g0 = now_s();
    capture_all(srcdb, topic, file, pos, expect, cl);
    fprintf(stderr, "layout %d%s: captured in %.1f s\n", nt, tag, now_s() - g0);
    /* BENCH_REPEAT=R times the three appliers (and the cache runs) R
     * times in turn on the same captured topic: the machine's speed moves
     * between runs, and the median ratio says more than one sample. */
    int repeat = getenv("BENCH_REPEAT") ? atoi(getenv("BENCH_REPEAT")) : 1;
    if (repeat < 1)
        repeat = 1;
    if (repeat > 15)
        repeat = 15;
    double r0[15], r4[15], rr[15], rm[15];
    for (int r = 0; r < repeat; r++) {
        double t_sl = sluice_mysql(dst, srcdb, dstdb, topic, nt, expect);
        double ct_sl = cpu_target, ca_sl = cpu_apply, cb_sl = cpu_broker;
        int ok = same_tables(src, dst, srcdb, dstdb, nt);
        double t_n0 = native(dst, srcdb, nt, 0, file, pos, efile, epos);
        double ct_n0 = cpu_target;
        double t_n4 = native(dst, srcdb, nt, 4, file, pos, efile, epos);
        double ct_n4 = cpu_target;
        int ok_native = same_tables(src, dst, srcdb, srcdb, nt);
        double sl_rate = (double)rows / t_sl, n0_rate = (double)rows / t_n0,
               n4_rate = (double)rows / t_n4;
        printf("%d table%s%s: sluice-apply %.0f rows/s (%s) | native "
               "threads=0 %.0f rows/s | native threads=4 %.0f rows/s (%s) | "
               "ratio vs threads=0 %.2fx, vs threads=4 %.2fx\n",
               nt, nt > 1 ? "s" : "", label, sl_rate,
               ok ? "target verified" : "TARGET DIFFERS", n0_rate, n4_rate,
               ok_native ? "verified" : "NATIVE DIFFERS", sl_rate / n0_rate,
               sl_rate / n4_rate);
        printf("%d table%s%s: wall / CPU seconds: sluice-apply %.2f s wall, "
               "target %.2f s + sluice-apply %.2f s + broker %.2f s CPU | "
               "native threads=0 %.2f s wall, target %.2f s CPU | threads=4 "
               "%.2f s wall, target %.2f s CPU\n",
               nt, nt > 1 ? "s" : "", label, t_sl, ct_sl, ca_sl, cb_sl, t_n0,
               ct_n0, t_n4, ct_n4);
        fflush(stdout);
        r0[r] = sl_rate / n0_rate;
        r4[r] = sl_rate / n4_rate;
        if (!caches)
            continue;
        /* Cache invalidation over the same topic (one worker per table). */
        uint16_t rp = sl_harness_port("REDIS");
        uint16_t mp = sl_harness_port("MEMCACHED");
        char raddr[64], maddr[64];
        snprintf(raddr, sizeof raddr, "127.0.0.1:%u", rp);
        snprintf(maddr, sizeof maddr, "127.0.0.1:%u", mp);
        double t_r =
            sluice_cache("redis", raddr, topic, srcdb, nt, expect, r, cl);
        double t_m =
            sluice_cache("memcached", maddr, topic, srcdb, nt, expect, r, cl);
        double t_rr = raw_redis(rp, rows);
        double t_rm = raw_memcached(mp, rows);
        printf("invalidation (%ld keys, %d partitions): redis sluice-apply "
               "%.0f keys/s vs raw pipelined DEL %.0f keys/s (%.2fx) | "
               "memcached sluice-apply %.0f keys/s vs raw pipelined "
               "delete %.0f keys/s (%.2fx)\n",
               rows, nt, (double)rows / t_r, (double)rows / t_rr, t_rr / t_r,
               (double)rows / t_m, (double)rows / t_rm, t_rm / t_m);
        fflush(stdout);
        rr[r] = t_rr / t_r;
        rm[r] = t_rm / t_m;
    }
    if (repeat == 1)
        return;
    printf("%d table%s%s: median of %d runs: ratio vs threads=0 %.2fx "
           "(%.2f-%.2f), vs threads=4 %.2fx (%.2f-%.2f)\n",
           nt, nt > 1 ? "s" : "", label, repeat, median(r0, repeat),
           lowest(r0, repeat), highest(r0, repeat), median(r4, repeat),
           lowest(r4, repeat), highest(r4, repeat));
    if (caches)
        printf("invalidation: median of %d runs: redis %.2fx (%.2f-%.2f), "
               "memcached %.2fx (%.2f-%.2f)\n",
               repeat, median(rr, repeat), lowest(rr, repeat),
               highest(rr, repeat), median(rm, repeat), lowest(rm, repeat),
               highest(rm, repeat));
    fflush(stdout);
}

int main(int argc, char **argv) {
    long rows = argc > 1 ? atol(argv[1]) : 1000000;
    if (getenv("BENCH_ROWS"))
        rows = atol(getenv("BENCH_ROWS"));
    if (rows < 1000)
        rows = 1000;
    rows = rows / (TRX_ROWS * 8) * TRX_ROWS * 8;
    /* The durable pass commits every native transaction with two fsyncs:
     * a fifth of the rows by default keeps it to minutes. */
    long drows = getenv("BENCH_DURABLE_ROWS")
                     ? atol(getenv("BENCH_DURABLE_ROWS"))
                     : rows / 5;
    drows = drows / (TRX_ROWS * 8) * TRX_ROWS * 8;
    /* A fresh directory: a broker left by an earlier run would hold
     * capture checkpoints that change where capture starts. */
    snprintf(dir, sizeof dir, "%s/bench-apply-%d",
             getenv("SL_HARNESS_ROOT") ? getenv("SL_HARNESS_ROOT") : "/tmp",
             (int)getpid());
    mkdir(dir, 0700);
    MYSQL *src = sl_harness_mysql("SOURCE", NULL);
    MYSQL *dst = sl_harness_mysql("TARGET", NULL);
    /* The target replicates GTIDs of the source's domain into its own
     * binlog; strict mode would refuse them after the target's own
     * transactions. */
    sl_harness_exec(dst, "SET GLOBAL gtid_strict_mode=0");
    uint16_t bport = sl_harness_free_port();
    snprintf(broker, sizeof broker, "127.0.0.1:%u", bport);
    char data[700];
    snprintf(data, sizeof data, "%s/broker", dir);
    char *bargv[] = {(char *)sl_harness_bin("sluice-broker"),
                     "--listen",
                     broker,
                     "--data",
                     data,
                     "--fsync",
                     "never",
                     NULL};
    broker_pid = spawn(bargv, "broker.log");
    if (sl_harness_wait_port(bport, 10000) != 0)
        die("broker did not start");
    sl_client_t *cl;
    if (sl_client_connect(broker, NULL, &cl) != 0)
        die("broker connect");

    printf("bench/apply: %ld row changes per layout, %d rows per "
           "transaction (inserts, updates, deletes 5:3:2); target "
           "innodb_flush_log_at_trx_commit=2, sync_binlog=0\n",
           rows, TRX_ROWS);
    fflush(stdout);
    /* BENCH_LAYOUTS=1 or =8 runs one layout only (for quick comparisons). */
    int layouts[2] = {1, 8}, nlayouts = 2;
    if (getenv("BENCH_LAYOUTS") && atoi(getenv("BENCH_LAYOUTS")) > 0) {
        layouts[0] = atoi(getenv("BENCH_LAYOUTS"));
        nlayouts = 1;
    }
    for (int L = 0; L < nlayouts; L++)
        run_layout(src, dst, cl, layouts[L], rows, "", "", layouts[L] == 8);
    if (drows > 0) {
        /* MariaDB's own defaults: the redo log is flushed at every commit,
         * the binlog left to the operating system. */
        printf("bench/apply: target as shipped (innodb_flush_log_at_trx_"
               "commit=1, sync_binlog=0), %ld row changes per layout\n",
               drows);
        fflush(stdout);
        sl_harness_exec(dst, "SET GLOBAL innodb_flush_log_at_trx_commit=1");
        for (int L = 0; L < nlayouts; L++)
            run_layout(src, dst, cl, layouts[L], drows, "m",
                       ", target as shipped", 0);
        /* A replica that survives a crash of its host without losing what
         * it acknowledged: every commit is flushed to disk. */
        printf("bench/apply: durable target (innodb_flush_log_at_trx_commit"
               "=1, sync_binlog=1), %ld row changes per layout\n",
               drows);
        fflush(stdout);
        sl_harness_exec(dst, "SET GLOBAL innodb_flush_log_at_trx_commit=1");
        sl_harness_exec(dst, "SET GLOBAL sync_binlog=1");
        for (int L = 0; L < nlayouts; L++)
            run_layout(src, dst, cl, layouts[L], drows, "d", ", durable", 0);
        sl_harness_exec(dst, "SET GLOBAL innodb_flush_log_at_trx_commit=2");
        sl_harness_exec(dst, "SET GLOBAL sync_binlog=0");
    }
    sl_harness_exec(dst, "SET GLOBAL slave_parallel_threads=0");
    sl_harness_exec(dst, "SET GLOBAL gtid_strict_mode=1");
    sl_client_close(cl);
    mysql_close(src);
    mysql_close(dst);
    return 0; /* The harness kills the programs it started at exit. */
}
