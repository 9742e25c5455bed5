/*
 * bench/decode: binlog decoding speed of `sluice-capture --from-file`
 * against `mariadb-binlog --base64-output=decode-rows --verbose` on the
 * same file, and the peak RSS of sluice-capture decoding one 1 GiB
 * transaction. Run by bench/decode.sh, which starts the harness MariaDB.
 *
 * 1. A binlog of BENCH_ROWS (default 1,000,000) row inserts over a
 *    mixed-type table is generated with INSERT ... SELECT from MariaDB's
 *    sequence engine, in transactions of 10,000 rows, alone in its file.
 * 2. Each decoder runs on one core (taskset when available) with its
 *    output piped to this process, which counts the rows (JSON lines /
 *    "### INSERT" lines) so both do the full work of printing them.
 * 3. A single transaction of BENCH_BIG_MB (default 1024) MiB is written
 *    and decoded by sluice-capture; its peak RSS comes from wait4().
 *
 * Figures are printed, never asserted (no timed assertions in tests); the
 * run fails only when a decoder fails or the row counts disagree.
 */
#include "harness.h"
#include "sl_test.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void query(MYSQL *my, const char *sql) {
    if (mysql_query(my, sql) != 0)
        sl_test_fail(__FILE__, __LINE__, "%s: %s", sql, mysql_error(my));
    do {
        MYSQL_RES *res = mysql_store_result(my);
        if (res != NULL)
            mysql_free_result(res);
    } while (mysql_next_result(my) == 0);
}

static void current_file(MYSQL *my, char *file, size_t n) {
    if (mysql_query(my, "SHOW MASTER STATUS") != 0)
        sl_test_fail(__FILE__, __LINE__, "%s", mysql_error(my));
    MYSQL_RES *res = mysql_store_result(my);
    MYSQL_ROW row = res ? mysql_fetch_row(res) : NULL;
    if (row == NULL)
        sl_test_fail(__FILE__, __LINE__, "SHOW MASTER STATUS: no row");
    snprintf(file, n, "%s", row[0]);
    mysql_free_result(res);
}

/* Writes rows in transactions of chunk rows into a file of their own;
 * returns its path. */
static void generate(MYSQL *my, const char *table, uint64_t rows,
                     uint64_t chunk, const char *select_fmt, char *path,
                     size_t pathlen) {
    const char *datadir = getenv("SL_SOURCE_DATADIR");
    if (datadir == NULL)
        SL_SKIP("SL_SOURCE_DATADIR not set");
    query(my, "FLUSH BINARY LOGS");
    char file[256];
    current_file(my, file, sizeof(file));
    char sql[2048];
    for (uint64_t first = 1; first <= rows; first += chunk) {
        uint64_t last = first + chunk - 1 > rows ? rows : first + chunk - 1;
        char sel[1024];
        snprintf(sel, sizeof(sel), select_fmt, (unsigned long long)first,
                 (unsigned long long)last);
        snprintf(sql, sizeof(sql), "INSERT INTO %s %s", table, sel);
        query(my, sql);
    }
    query(my, "FLUSH BINARY LOGS");
    snprintf(path, pathlen, "%s/%s", datadir, file);
}

typedef struct {
    double wall;
    double cpu;
    long maxrss_kb;
    uint64_t count;
    int status;
} run_t;

/* Runs argv with stdout into a pipe; counts occurrences of needle at line
 * starts in the output. */
static void run_counted(char *const argv[], const char *const needles[],
                        run_t *r) {
    int fds[2];
    if (pipe(fds) != 0)
        sl_test_fail(__FILE__, __LINE__, "pipe: %s", strerror(errno));
    /* A 1 MiB pipe, so the writer is not paced by 64 KiB round trips. */
    (void)fcntl(fds[0], F_SETPIPE_SZ, 1 << 20);
    double t0 = now_s();
    pid_t pid = fork();
    if (pid < 0)
        sl_test_fail(__FILE__, __LINE__, "fork: %s", strerror(errno));
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0)
            dup2(devnull, 2);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(fds[1]);
    /* Counts "\n" + needle across reads: the last bytes of each read are
     * kept in front of the next. The stream starts with a virtual '\n'. */
    static char buf[(1 << 20) + 128];
    char pats[3][128];
    size_t pls[3], np = 0, keep = 1;
    for (; np < 3 && needles[np] != NULL; np++)
        pls[np] =
            (size_t)snprintf(pats[np], sizeof(pats[np]), "\n%s", needles[np]);
    size_t maxpl = 0;
    for (size_t i = 0; i < np; i++)
        if (pls[i] > maxpl)
            maxpl = pls[i];
    buf[0] = '\n';
    uint64_t count = 0;
    for (;;) {
        ssize_t n = read(fds[0], buf + keep, (size_t)1 << 20);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        size_t len = keep + (size_t)n;
        const char *end = buf + len;
        for (size_t i = 0; i < np; i++) {
            const char *p = buf;
            while ((p = memmem(p, (size_t)(end - p), pats[i], pls[i])) !=
                   NULL) {
                /* A match wholly inside the kept bytes was counted
                 * already. */
                if (p + pls[i] > buf + keep)
                    count++;
                p += pls[i];
            }
        }
        keep = len < maxpl - 1 ? len : maxpl - 1;
        memmove(buf, buf + len - keep, keep);
    }
    close(fds[0]);
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) < 0)
        sl_test_fail(__FILE__, __LINE__, "wait4: %s", strerror(errno));
    r->wall = now_s() - t0;
    r->cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
             (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    r->maxrss_kb = ru.ru_maxrss;
    r->count = count;
    r->status = status;
}

/* Runs argv with stdout to /dev/null: the timed run. */
static void run_timed(char *const argv[], run_t *r) {
    double t0 = now_s();
    pid_t pid = fork();
    if (pid < 0)
        sl_test_fail(__FILE__, __LINE__, "fork: %s", strerror(errno));
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) {
            dup2(devnull, 1);
            dup2(devnull, 2);
        }
        execvp(argv[0], argv);
        _exit(127);
    }
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) < 0)
        sl_test_fail(__FILE__, __LINE__, "wait4: %s", strerror(errno));
    r->wall = now_s() - t0;
    r->cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
             (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    r->maxrss_kb = ru.ru_maxrss;
    r->status = status;
}

static int have_taskset(void) {
    return system("taskset -c 0 true >/dev/null 2>&1") == 0;
}

static void bench_decode(void) {
    MYSQL *my = sl_harness_mysql("SOURCE", NULL);
    uint64_t rows = 1000000, big_mb = 1024;
    if (getenv("BENCH_ROWS"))
        rows = strtoull(getenv("BENCH_ROWS"), NULL, 10);
    if (getenv("BENCH_BIG_MB"))
        big_mb = strtoull(getenv("BENCH_BIG_MB"), NULL, 10);
    query(my, "SET SESSION sql_mode = '', time_zone = '+00:00'");
    query(my, "DROP DATABASE IF EXISTS bench_decode");
    query(my, "CREATE DATABASE bench_decode");
    query(my, "USE bench_decode");
    query(my, "CREATE TABLE mixed (id BIGINT PRIMARY KEY, i INT, "
              "u INT UNSIGNED, bi BIGINT, d DECIMAL(12,2), f DOUBLE, "
              "dt DATETIME(6), ts TIMESTAMP NULL, "
              "e ENUM('red','green','blue'), b VARBINARY(16), n INT NULL, "
              "s VARCHAR(255)) ENGINE=InnoDB");
    query(my, "CREATE TABLE big (id BIGINT PRIMARY KEY, pad VARCHAR(1100))");
    /* An OLTP-like mix: each transaction inserts three rows, updates one
     * and deletes one (5 row changes, 8 images). */
    query(my,
          "CREATE PROCEDURE gen(n INT) BEGIN DECLARE k INT DEFAULT 0; "
          "DECLARE x BIGINT; WHILE k < n DO SET x = k * 3; "
          "START TRANSACTION; "
          "INSERT INTO mixed VALUES (x+1, k*7-500000, k*3, k*1000003, "
          "k/100, k/7, TIMESTAMP'2024-01-01 00:00:00' + INTERVAL k SECOND "
          "+ INTERVAL k MICROSECOND, FROM_UNIXTIME(1700000000+k), 1+k%3, "
          "UNHEX(MD5(k)), IF(k%10=0,NULL,k), CONCAT('customer-', k, ' ', "
          "REPEAT('abcdefghij', 5), ' straße')), "
          "(x+2, k*7-500001, k*3+1, k*1000004, k/101, k/9, "
          "TIMESTAMP'2024-01-01 00:00:00' + INTERVAL k SECOND, "
          "FROM_UNIXTIME(1700000001+k), 1+(k+1)%3, UNHEX(MD5(k+1)), k, "
          "CONCAT('order-', k)), "
          "(x+3, k, k, k, k, k, TIMESTAMP'2024-01-01 00:00:00', NULL, "
          "'red', NULL, NULL, 'x'); "
          "UPDATE mixed SET i = i + 1, s = CONCAT(s, '!') WHERE id = x + 1; "
          "DELETE FROM mixed WHERE id = x + 2; COMMIT; SET k = k + 1; "
          "END WHILE; END");

    double g0 = now_s();
    char path[1024];
    const char *datadir = getenv("SL_SOURCE_DATADIR");
    if (datadir == NULL)
        SL_SKIP("SL_SOURCE_DATADIR not set");
    query(my, "FLUSH BINARY LOGS");
    char file[256];
    current_file(my, file, sizeof(file));
    char call[128];
    snprintf(call, sizeof(call), "CALL gen(%llu)",
             (unsigned long long)(rows / 5));
    query(my, call);
    query(my, "FLUSH BINARY LOGS");
    snprintf(path, sizeof(path), "%s/%s", datadir, file);
    rows = rows / 5 * 5;
    struct stat st;
    SL_CHECK_INT(stat(path, &st), 0);
    double mb = (double)st.st_size / (1024.0 * 1024.0);
    printf("bench/decode: generated %llu row changes (%llu transactions of "
           "3 inserts, 1 update, 1 delete), binlog %.1f MiB in %.1f s\n",
           (unsigned long long)rows, (unsigned long long)rows / 5, mb,
           now_s() - g0);

    int ts = have_taskset() && sysconf(_SC_NPROCESSORS_ONLN) >= 2;
    if (ts) {
        /* The decoders run on CPU 0; this process, which reads and counts
         * their output, stays off it. */
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(1, &set);
        (void)sched_setaffinity(0, sizeof(set), &set);
    }
    const char *capture = sl_harness_bin("sluice-capture");
    char *cap_argv_nots[] = {(char *)capture, "--from-file", path, NULL};
    char *mb_argv[] = {
        "taskset",   "-c", "0", "mariadb-binlog", "--base64-output=decode-rows",
        "--verbose", path, NULL};
    char *mb_argv_nots[] = {"mariadb-binlog", "--base64-output=decode-rows",
                            "--verbose", path, NULL};
    char *cap_ts[] = {"taskset",     "-c", "0", (char *)capture,
                      "--from-file", path, NULL};
    run_t rc, rm;
    /* Warm the page cache once so both read from memory. */
    static const char *const json_rows[] = {"{\"kind\":\"row\"", NULL};
    static const char *const text_rows[] = {"### INSERT INTO ", "### UPDATE ",
                                            "### DELETE FROM ", NULL};
    /* First both outputs are checked (every row printed, piped to a
     * counter), which also warms the page cache; then each decoder is
     * timed writing its output to /dev/null, so the figures do not
     * depend on how fast this process reads a pipe. */
    run_counted(ts ? cap_ts : cap_argv_nots, json_rows, &rc);
    if (!WIFEXITED(rc.status) || WEXITSTATUS(rc.status) != 0)
        sl_test_fail(__FILE__, __LINE__,
                     "sluice-capture failed (status "
                     "%d)",
                     rc.status);
    run_counted(ts ? mb_argv : mb_argv_nots, text_rows, &rm);
    if (!WIFEXITED(rm.status) || WEXITSTATUS(rm.status) != 0)
        sl_test_fail(__FILE__, __LINE__,
                     "mariadb-binlog failed (status "
                     "%d)",
                     rm.status);
    SL_CHECK_UINT(rc.count, rows);
    SL_CHECK_UINT(rm.count, rows);
    printf("bench/decode: both decoders printed all %llu row changes\n",
           (unsigned long long)rows);
    run_timed(ts ? cap_ts : cap_argv_nots, &rc);
    run_timed(ts ? mb_argv : mb_argv_nots, &rm);
    if (!WIFEXITED(rc.status) || WEXITSTATUS(rc.status) != 0 ||
        !WIFEXITED(rm.status) || WEXITSTATUS(rm.status) != 0)
        sl_test_fail(__FILE__, __LINE__, "a timed run failed");
    printf("bench/decode: %-15s %9.0f rows/s %7.1f MB/s  (%.2f s wall, "
           "%.2f s cpu, peak RSS %ld MiB)\n",
           "sluice-capture", rows / rc.wall, mb / rc.wall, rc.wall, rc.cpu,
           rc.maxrss_kb / 1024);
    printf("bench/decode: %-15s %9.0f rows/s %7.1f MB/s  (%.2f s wall, "
           "%.2f s cpu, peak RSS %ld MiB)\n",
           "mariadb-binlog", rows / rm.wall, mb / rm.wall, rm.wall, rm.cpu,
           rm.maxrss_kb / 1024);
    printf("bench/decode: sluice-capture is %.1fx mariadb-binlog in wall "
           "time, %.1fx in CPU time (targets: >= 10x, >= 500000 rows/s)%s\n",
           rm.wall / rc.wall, rm.cpu / rc.cpu,
           ts ? "; both pinned to CPU 0" : "");

    if (big_mb > 0) {
        /* One transaction of about big_mb MiB: ~1 KiB rows. */
        uint64_t big_rows = big_mb * 1024;
        double b0 = now_s();
        char sel[512];
        snprintf(sel, sizeof(sel),
                 "SELECT seq, REPEAT(CHAR(65 + seq %% 26), 1000) "
                 "FROM seq_%%llu_to_%%llu");
        generate(my, "big", big_rows, big_rows, sel, path, sizeof(path));
        SL_CHECK_INT(stat(path, &st), 0);
        printf("bench/decode: generated one transaction of %llu rows, "
               "binlog %.0f MiB in %.1f s\n",
               (unsigned long long)big_rows,
               (double)st.st_size / (1024.0 * 1024.0), now_s() - b0);
        run_t rb;
        run_counted(ts ? cap_ts : cap_argv_nots, json_rows, &rb);
        if (!WIFEXITED(rb.status) || WEXITSTATUS(rb.status) != 0)
            sl_test_fail(__FILE__, __LINE__,
                         "sluice-capture failed on the "
                         "big transaction (status %d)",
                         rb.status);
        SL_CHECK_UINT(rb.count, big_rows);
        printf("bench/decode: 1 transaction of %.0f MiB: peak RSS %ld MiB "
               "(target < 64 MiB); %.0f rows/s, %.1f MB/s with the output "
               "piped to this process's row counter\n",
               (double)st.st_size / (1024.0 * 1024.0), rb.maxrss_kb / 1024,
               big_rows / rb.wall,
               (double)st.st_size / (1024.0 * 1024.0) / rb.wall);
    }
    query(my, "DROP DATABASE bench_decode");
    mysql_close(my);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    bench_decode();
    return 0;
}
